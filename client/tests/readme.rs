//! Runs the README's Quick start, line by line, with the real `entente` binary against a
//! real server: if the README and the code disagree, this fails.

use entente_tests::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_quick_start_runs_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README");
    let block = readme
        .split("<!-- quickstart:begin -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- quickstart:end -->").next())
        .expect("the README has a quick start block");
    let lines: Vec<&str> = block
        .lines()
        .filter(|l| l.starts_with("entente "))
        .collect();
    assert!(
        lines.len() >= 10,
        "the quick start walks the whole scenario"
    );

    let server = TestServer::start().await;
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_entente"));
    let path = format!(
        "{}:{}",
        bin.parent().expect("bin dir").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut outputs = Vec::new();
    for line in lines {
        let out = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(line)
            .env("PATH", &path)
            .env("ENTENTE_SERVER", format!("http://{}", server.addr))
            .env("NO_COLOR", "1")
            .output()
            .await
            .expect("run a shell");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{line}\nexit {:?}\nstdout: {stdout}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push(stdout);
    }
    let slots = &outputs[outputs.len() - 4];
    assert!(
        slots.contains("2024-10-22 09:30 +03:30 Asia/Tehran  kazan-expo  09:00 MSK  09:00 MSK"),
        "the first slot of the summit, in Tehran time and each leader's: {slots}"
    );
    assert!(slots.contains("(revision "), "{slots}");
    let agenda = &outputs[outputs.len() - 3];
    assert!(agenda.contains("IN Asia/Tehran"), "{agenda}");
    assert!(
        agenda.contains("2024-10-11 09:30 → 11:00"),
        "the talks in Tehran time: {agenda}"
    );
    assert!(
        agenda.contains("2024-10-11 11:00 → 12:30"),
        "and at the venue: {agenda}"
    );
    let check = &outputs[outputs.len() - 2];
    assert!(
        check.contains("travel") && check.contains("participant"),
        "{check}"
    );
    let history = &outputs[outputs.len() - 1];
    assert!(
        history.contains("RIA Novosti") && history.contains("invited → accepted"),
        "{history}"
    );
}
