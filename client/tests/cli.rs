//! The `entente` binary against a real server: JSON output, `--tz` rendering, errors and
//! their exit codes.

use std::process::Output;

use entente_tests::TestServer;
use entente_tests::fixtures::article_directory;

async fn entente(server: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_entente"))
        .args(args)
        .env("ENTENTE_SERVER", server)
        .env("NO_COLOR", "1")
        .output()
        .await
        .expect("run entente")
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// `entente event create` of the Kazan summit (22–24 October 2024, confirmed) with these
/// leaders.
async fn kazan_summit(url: &str, leaders: &[&str]) {
    let mut args = vec![
        "event",
        "create",
        "--id",
        "brics-kazan-2024",
        "--kind",
        "summit",
        "--title",
        "XVI BRICS summit",
        "--venue",
        "kazan-expo",
        "--dates",
        "2024-10-22..2024-10-24",
        "--status",
        "confirmed",
    ];
    for l in leaders {
        args.extend(["--participant", l]);
    }
    let out = entente(url, &args).await;
    assert!(out.status.success(), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_and_viewer_zones() {
    let server = TestServer::start().await;
    article_directory(&mut server.directory()).await;
    let url = format!("http://{}", server.addr);

    let created = json(
        &entente(
            &url,
            &[
                "--output",
                "json",
                "event",
                "create",
                "--id",
                "brics-kazan-2024",
                "--kind",
                "summit",
                "--title",
                "XVI BRICS summit",
                "--venue",
                "kazan-expo",
                "--forum",
                "brics",
                "--dates",
                "2024-10-22..2024-10-24",
                "--participant",
                "putin",
                "--status",
                "confirmed",
            ],
        )
        .await,
    );
    let e = &created["event"];
    assert_eq!(e["id"], "brics-kazan-2024");
    assert_eq!(e["kind"], "EVENT_KIND_SUMMIT");
    assert_eq!(
        e["start"]["rfc9557"],
        "2024-10-22T00:00:00+03:00[Europe/Moscow]"
    );
    assert_eq!(e["timing"]["allDay"]["endDate"], "2024-10-24");

    let got = json(
        &entente(
            &url,
            &[
                "--output",
                "json",
                "--tz",
                "Asia/Tehran",
                "event",
                "get",
                "brics-kazan-2024",
            ],
        )
        .await,
    );
    assert_eq!(got["viewStart"]["localTime"], "2024-10-22T00:30:00");
    assert_eq!(got["viewStart"]["utcOffset"], "+03:30");

    let list = json(
        &entente(
            &url,
            &[
                "--output",
                "json",
                "event",
                "list",
                "--from",
                "2024-10-01..2024-10-31",
                "--zone",
                "Europe/Moscow",
            ],
        )
        .await,
    );
    assert_eq!(list.as_array().map(Vec::len), Some(1), "a list is an array");

    // Tables carry the viewer zone beside the venue's time.
    let out = entente(
        &url,
        &[
            "--tz",
            "Asia/Tehran",
            "event",
            "list",
            "--participant",
            "putin",
        ],
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("IN Asia/Tehran"), "{text}");
    assert!(
        text.contains("2024-10-22 00:00 → 2024-10-25 00:00 MSK"),
        "{text}"
    );
    assert!(
        text.contains("2024-10-22 00:30 → 2024-10-25 00:30 +03:30"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_distinct_exit_codes_and_plain_messages() {
    let server = TestServer::start().await;
    article_directory(&mut server.directory()).await;
    let url = format!("http://{}", server.addr);

    // 1: the server refused, with its message and the field on stderr, no debug dump.
    let out = entente(
        &url,
        &[
            "venue",
            "create",
            "--id",
            "x",
            "--name",
            "Hall",
            "--city",
            "Kazan",
            "--country",
            "RU",
            "--zone",
            "Europe/Kazan",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("venue.time_zone") && err.contains("Europe/Kazan"),
        "{err}"
    );
    assert!(err.contains("INVALID_ARGUMENT"), "{err}");
    assert!(!err.contains("Status {"), "no Rust debug output: {err}");

    let out = entente(&url, &["event", "get", "nowhere"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("NOT_FOUND"));

    // 2: usage errors, caught before any call.
    let out = entente(
        &url,
        &[
            "event",
            "create",
            "--kind",
            "summit",
            "--title",
            "x",
            "--venue",
            "kazan-expo",
            "--start",
            "tomorrow",
            "--end",
            "2024-10-11T12:00",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("tomorrow"));
    let out = entente(&url, &["event", "frobnicate"]).await;
    assert_eq!(out.status.code(), Some(2));
    // A viewer zone that does not exist is the caller's mistake, caught before any call.
    let out = entente(&url, &["--tz", "Mars/Base", "event", "list"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("\"Mars/Base\" is not an IANA time zone"));

    // 3: nothing listening.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let out = entente(&format!("http://{closed}"), &["country", "list"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));

    // 4: a conflict, named plainly.
    let book = |title: &'static str| {
        vec![
            "event",
            "create",
            "--kind",
            "bilateral-meeting",
            "--title",
            title,
            "--venue",
            "kremlin",
            "--start",
            "2024-10-15T10:00",
            "--end",
            "2024-10-15T12:00",
            "--participant",
            "putin",
            "--status",
            "confirmed",
        ]
    };
    assert!(entente(&url, &book("First")).await.status.success());
    let out = entente(&url, &book("Second")).await;
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("PARTICIPANT_CONFLICT") && err.contains("Vladimir Putin"),
        "{err}"
    );

    // ...and with the explicit override it goes through, and says what it overrode.
    let mut args = book("Third");
    args.push("--allow-conflicts");
    let out = entente(&url, &args).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("HARD"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_are_printed() {
    for shell in ["bash", "zsh", "fish"] {
        let out = entente("http://127.0.0.1:1", &["completions", shell]).await;
        assert!(out.status.success(), "{shell}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("entente"),
            "{shell}"
        );
    }
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    // `entente completions bash | head -1`: the reader goes away before the script is
    // written. That is no error, and certainly no panic.
    for shell in ["bash", "zsh", "fish"] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_entente"))
            .args(["completions", shell])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run entente");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{shell}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_ca_file() {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("ca");
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .expect("params")
        .signed_by(&key, &ca)
        .expect("sign");
    let temp = tempfile::tempdir().expect("temp");
    let ca_file = temp.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).expect("write ca");
    let config = entente_server::Config {
        data_dir: temp.path().join("store"),
        tls: Some(entente_server::Tls {
            cert: cert.pem().into_bytes(),
            key: key.serialize_pem().into_bytes(),
            client_ca: None,
        }),
        ..Default::default()
    };
    let server = TestServer::start_config_lazy(config).await;
    let url = format!("https://localhost:{}", server.addr.port());
    let ca_arg = ca_file.to_string_lossy().to_string();
    let out = entente(&url, &["--ca-file", &ca_arg, "country", "list"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = entente(&url, &["country", "list"]).await;
    assert_eq!(
        out.status.code(),
        Some(3),
        "without the CA the server is not trusted: {}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_for_an_admin_token() {
    use entente_server::auth::{Access, digest};
    let access = Access::parse(&format!(
        "[[tokens]]\nname = \"ru-protocol\"\nsha256 = \"{}\"\noffice = \"RU\"\nrole = \"EDITOR\"\n\n\
         [[tokens]]\nname = \"root\"\nsha256 = \"{}\"\noffice = \"RU\"\nrole = \"ADMIN\"\n",
        digest("secret-ru"),
        digest("secret-root"),
    ))
    .expect("access file");
    let server = TestServer::start_with_access(access).await;
    let url = format!("http://{}", server.addr);
    let created = entente(
        &url,
        &[
            "--token",
            "secret-ru",
            "participant",
            "create",
            "--id",
            "putin",
            "--name",
            "Vladimir Putin",
            "--country",
            "RU",
            "--zone",
            "Europe/Moscow",
        ],
    )
    .await;
    assert!(created.status.success(), "{}", stderr(&created));

    let records = json(
        &entente(
            &url,
            &[
                "--token",
                "secret-root",
                "--output",
                "json",
                "audit",
                "list",
            ],
        )
        .await,
    );
    let records = records.as_array().expect("an array");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["office"], "RU");
    assert_eq!(records[0]["tokenName"], "ru-protocol");
    assert_eq!(records[0]["resource"], "participants/putin");
    assert!(
        records[0]["method"]
            .as_str()
            .is_some_and(|m| m.ends_with("DirectoryService/CreateParticipant")),
        "{records:?}"
    );

    let table = entente(&url, &["--token", "secret-root", "audit", "list"]).await;
    assert!(table.status.success(), "{}", stderr(&table));
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("ru-protocol") && text.contains("participants/putin"),
        "{text}"
    );

    // An editor may not read it: the server's refusal, exit code 1.
    let denied = entente(&url, &["--token", "secret-ru", "audit", "list"]).await;
    assert_eq!(denied.status.code(), Some(1), "{}", stderr(&denied));
    assert!(
        stderr(&denied).contains("PERMISSION_DENIED"),
        "{}",
        stderr(&denied)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_office_answers_for_its_own_leader() {
    use entente_tests::offices::{self, as_, participant, venue};
    let server = TestServer::start_with_access(offices::access(
        &[("ru", "RU", "EDITOR"), ("ir", "IR", "EDITOR")],
        "",
    ))
    .await;
    participant(&mut as_(&server, "ru"), "putin", "RU", "Europe/Moscow").await;
    participant(&mut as_(&server, "ir"), "pezeshkian", "IR", "Asia/Tehran").await;
    venue(
        &mut as_(&server, "ru"),
        "kremlin",
        "Moscow",
        "RU",
        "Europe/Moscow",
        None,
    )
    .await;
    let url = format!("http://{}", server.addr);
    let created = json(
        &entente(
            &url,
            &[
                "--token",
                "secret-ru",
                "--output",
                "json",
                "event",
                "create",
                "--id",
                "talks",
                "--kind",
                "bilateral-meeting",
                "--title",
                "Talks",
                "--venue",
                "kremlin",
                "--start",
                "2025-03-10T10:00",
                "--end",
                "2025-03-10T12:00",
                "--participant",
                "putin",
                "--participant",
                "pezeshkian",
            ],
        )
        .await,
    );
    assert_eq!(
        created["event"]["attendance"][1]["attendance"],
        "ATTENDANCE_REQUESTED"
    );

    // Russia cannot answer for Iran's president: the server's refusal, exit 1.
    let refused = entente(
        &url,
        &[
            "--token",
            "secret-ru",
            "event",
            "respond",
            "talks",
            "--participant",
            "pezeshkian",
            "--confirm",
        ],
    )
    .await;
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("PERMISSION_DENIED"),
        "{}",
        stderr(&refused)
    );

    // Neither --confirm nor --decline is a usage error.
    let usage = entente(&url, &["event", "respond", "talks", "--participant", "x"]).await;
    assert_eq!(usage.status.code(), Some(2), "{}", stderr(&usage));

    let confirmed = entente(
        &url,
        &[
            "--token",
            "secret-ir",
            "event",
            "respond",
            "talks",
            "--participant",
            "pezeshkian",
            "--confirm",
            "--note",
            "agreed by phone",
        ],
    )
    .await;
    assert!(confirmed.status.success(), "{}", stderr(&confirmed));
    let text = String::from_utf8_lossy(&confirmed.stdout);
    assert!(text.contains("pezeshkian: confirmed at talks"), "{text}");

    let agenda = entente(
        &url,
        &[
            "--token",
            "secret-ir",
            "event",
            "agenda",
            "pezeshkian",
            "--from",
            "2025-03-01..2025-03-31",
        ],
    )
    .await;
    assert!(agenda.status.success(), "{}", stderr(&agenda));
    let text = String::from_utf8_lossy(&agenda.stdout);
    assert!(
        text.contains("ATTENDANCE") && text.contains("confirmed"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_into_a_pipe_closed_early_is_success() {
    // `entente --output json event list | head -1` with more output than a pipe holds:
    // it exited 1 with "Broken pipe" (serde_json hid the error's kind). A closed pipe is
    // success, as it already was for tables.
    let server = TestServer::start().await;
    article_directory(&mut server.directory()).await;
    let mut events = server.events();
    for i in 0..120 {
        entente_tests::fixtures::create(
            &mut events,
            &format!("e{i}"),
            entente_tests::fixtures::event(
                entente_proto::v1::EventKind::Other,
                &format!("Meeting number {i} with a title long enough to fill the pipe"),
                "kremlin",
                &["putin"],
                entente_tests::fixtures::timed(
                    &format!("2025-01-{:02}T{:02}:00", 1 + i / 10, 8 + i % 10),
                    &format!("2025-01-{:02}T{:02}:30", 1 + i / 10, 8 + i % 10),
                ),
            ),
        )
        .await;
    }
    let url = format!("http://{}", server.addr);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_entente"))
        .args(["--output", "json", "event", "list"])
        .env("ENTENTE_SERVER", &url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run entente");
    // Read one line, as `head -1` does, then hang up.
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let first = lines.next_line().await.expect("read").expect("a line");
    assert_eq!(first, "[");
    drop(lines);
    let out = child.wait_with_output().await.expect("wait");
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        stderr(&out)
    );
    assert_eq!(stderr(&out), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_one_line_per_change_as_it_happens() {
    let server = TestServer::start().await;
    article_directory(&mut server.directory()).await;
    let url = format!("http://{}", server.addr);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_entente"))
        .args([
            "--output",
            "json",
            "watch",
            "--from-start",
            "--kind",
            "event",
            "--kind",
            "venue",
        ])
        .env("ENTENTE_SERVER", &url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run entente");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let mut next = async || -> serde_json::Value {
        let line = tokio::time::timeout(std::time::Duration::from_secs(10), lines.next_line())
            .await
            .expect("a line in time")
            .expect("read")
            .expect("a line");
        serde_json::from_str(&line).expect("each line is JSON")
    };
    // The history first: the four venues of the article's directory (not its people).
    for venue in [
        "ashgabat-congress",
        "ashgabat-palace",
        "kazan-expo",
        "kremlin",
    ] {
        let v = next().await;
        assert_eq!(v["change"]["type"], "CHANGE_TYPE_CREATED");
        assert_eq!(v["change"]["kind"], "RESOURCE_KIND_VENUE");
        assert_eq!(v["change"]["id"], venue);
    }
    // Then what happens, as it happens.
    entente_tests::fixtures::create(
        &mut server.events(),
        "talks",
        entente_tests::fixtures::event(
            entente_proto::v1::EventKind::BilateralMeeting,
            "Putin–Pezeshkian talks",
            "kremlin",
            &["putin", "pezeshkian"],
            entente_tests::fixtures::timed("2025-01-10T10:00", "2025-01-10T11:00"),
        ),
    )
    .await;
    let v = next().await;
    assert_eq!(v["change"]["id"], "talks");
    assert_eq!(
        v["change"]["resource"]["event"]["title"],
        "Putin–Pezeshkian talks"
    );
    assert!(
        v["revision"]
            .as_str()
            .is_some_and(|r| r.parse::<i64>().is_ok()),
        "{v}"
    );
    child.start_kill().expect("kill");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_time_shows_each_leaders_local_time_and_books_at_its_revision() {
    let server = TestServer::start().await;
    article_directory(&mut server.directory()).await;
    let url = format!("http://{}", server.addr);
    let run = |args: &'static [&'static str]| entente(&url, args);
    kazan_summit(&url, &["putin", "pezeshkian", "xi"]).await;
    for args in [
        // Putin and Xi meet at 10:00 on the 22nd, on the sidelines.
        &[
            "event",
            "create",
            "--id",
            "putin-xi",
            "--kind",
            "bilateral-meeting",
            "--title",
            "Talks",
            "--venue",
            "kazan-expo",
            "--start",
            "2024-10-22T10:00",
            "--end",
            "2024-10-22T11:30",
            "--participant",
            "putin",
            "--participant",
            "xi",
            "--sidelines",
            "brics-kazan-2024",
            "--status",
            "confirmed",
        ][..],
    ] {
        let out = run(args).await;
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let search: &[&str] = &[
        "--tz",
        "Asia/Tehran",
        "find-time",
        "--participant",
        "putin",
        "--participant",
        "pezeshkian",
        "--duration",
        "45m",
        "--within",
        "brics-kazan-2024",
        "--max",
        "3",
    ];
    let table = run(search).await;
    assert!(table.status.success(), "{}", stderr(&table));
    let text = String::from_utf8_lossy(&table.stdout).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].contains("putin") && lines[0].contains("pezeshkian"),
        "{text}"
    );
    // The first slot: 09:00 in Kazan (09:30 in Tehran, the viewer's zone), both leaders
    // in Kazan's working hours; then 09:15, then 11:30 once Putin has finished with Xi
    // (the venue hosts that meeting until 11:30).
    assert!(
        lines[1].contains("2024-10-22 09:30 +03:30 Asia/Tehran"),
        "{text}"
    );
    assert!(lines[1].contains("09:00 MSK"), "{text}");
    assert!(lines[2].contains("2024-10-22 09:45 +03:30"), "{text}");
    assert!(lines[3].contains("2024-10-22 12:00 +03:30"), "{text}");
    assert!(text.contains("revision"), "{text}");

    let mut json_args = vec!["--output", "json"];
    json_args.extend_from_slice(search);
    let out = entente(&url, &json_args).await;
    let r = json(&out);
    let slot = &r["slots"][0];
    assert_eq!(slot["start"]["localTime"], "2024-10-22T09:30:00");
    assert_eq!(slot["venueId"], "kazan-expo");
    assert_eq!(slot["attendees"][1]["participantId"], "pezeshkian");
    assert_eq!(slot["attendees"][1]["status"], "SLOT_STATUS_FREE");
    assert_eq!(
        slot["attendees"][1]["localStart"]["timeZone"],
        "Europe/Moscow"
    );
    let revision = r["revision"]
        .as_str()
        .expect("int64 as a string")
        .to_string();

    // Booked at that revision; a second booking at the same revision is refused.
    let book = |id: &'static str, rev: String| {
        let url = url.clone();
        async move {
            entente(
                &url,
                &[
                    "event",
                    "create",
                    "--id",
                    id,
                    "--kind",
                    "bilateral-meeting",
                    "--title",
                    "Putin–Pezeshkian",
                    "--venue",
                    "kazan-expo",
                    "--start",
                    "2024-10-22T09:00",
                    "--end",
                    "2024-10-22T09:45",
                    "--participant",
                    "putin",
                    "--participant",
                    "pezeshkian",
                    "--sidelines",
                    "brics-kazan-2024",
                    "--expected-revision",
                    &rev,
                ],
            )
            .await
        }
    };
    let first = book("putin-pezeshkian", revision.clone()).await;
    assert!(first.status.success(), "{}", stderr(&first));
    let second = book("again", revision).await;
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    assert!(stderr(&second).contains("ABORTED"), "{}", stderr(&second));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_commands_edit_a_countrys_work_week_and_holidays() {
    let server = TestServer::start().await;
    let url = format!("http://{}", server.addr);
    let dir = tempfile::tempdir().unwrap();
    let ics = dir.path().join("ir.ics");
    std::fs::write(
        &ics,
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:1\r\n\
         DTSTAMP:20240101T000000Z\r\nDTSTART;VALUE=DATE:20240826\r\nSUMMARY:Arbaeen\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    .unwrap();
    let ics = ics.to_str().unwrap().to_string();
    let get = entente(&url, &["calendar", "get", "IR"]).await;
    let text = String::from_utf8_lossy(&get.stdout).to_string();
    assert!(
        text.contains("Mon Tue Wed Thu Sat Sun (cldr)"),
        "{text}{}",
        stderr(&get)
    );
    for args in [
        vec![
            "calendar",
            "set-week",
            "SA",
            "--days",
            "sun,mon,tue,wed,thu",
        ],
        vec!["calendar", "import", "IR", &ics, "--estimated"],
        vec!["calendar", "add-holiday", "IR", "2024-10-24", "Test day"],
    ] {
        let out = entente(&url, &args).await;
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let ir = json(&entente(&url, &["--output", "json", "calendar", "get", "IR"]).await);
    assert_eq!(ir["holidays"][0]["status"], "HOLIDAY_STATUS_ESTIMATED");
    assert_eq!(ir["holidays"][1]["name"], "Test day");
    let list = entente(&url, &["calendar", "list"]).await;
    let text = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(
        text.contains("SA") && text.contains("Mon Tue Wed Thu Sun"),
        "{text}"
    );
    let bad = entente(&url, &["calendar", "set-week", "SA", "--days", "funday"]).await;
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_import_and_feeds_from_the_command_line() {
    let server = TestServer::start().await;
    article_directory(&mut server.directory()).await;
    let url = format!("http://{}", server.addr);
    kazan_summit(&url, &["putin", "pezeshkian"]).await;
    let out = entente(
        &url,
        &[
            "event",
            "create",
            "--id",
            "talks",
            "--kind",
            "bilateral-meeting",
            "--title",
            "Putin–Pezeshkian talks",
            "--venue",
            "kazan-expo",
            "--start",
            "2024-10-23T16:00",
            "--end",
            "2024-10-23T17:00",
            "--participant",
            "putin",
            "--participant",
            "pezeshkian",
            "--sidelines",
            "brics-kazan-2024",
            "--status",
            "confirmed",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));

    // export: the .ics on stdout, in Moscow time with its VTIMEZONE.
    let out = entente(
        &url,
        &[
            "export",
            "--participant",
            "pezeshkian",
            "--from",
            "2024-10-01..2024-10-31",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let ics = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"), "{ics}");
    assert!(
        ics.contains("DTSTART;TZID=Europe/Moscow:20241023T160000"),
        "{ics}"
    );
    assert!(ics.contains("TZID:Europe/Moscow\r\n"), "{ics}");
    assert!(ics.contains("RELATED-TO:brics-kazan-2024@entente"), "{ics}");

    // import --dry-run of the same file: both events are already there, unchanged.
    let dir = tempfile::tempdir().expect("temp");
    let file = dir.path().join("tehran.ics");
    std::fs::write(&file, &ics).expect("write");
    let path = file.to_string_lossy().to_string();
    let out = entente(&url, &["import", &path, "--dry-run", "--confirmed"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("unchanged").count(), 2, "{text}");
    assert!(text.contains("nothing written (dry run)"), "{text}");
    // A host's invitation with an attendee the file names by e-mail: mapped, imported.
    let invitation = dir.path().join("host-invitation.ics");
    std::fs::write(
        &invitation,
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//host//EN\r\nBEGIN:VEVENT\r\nUID:dinner@host.example\r\nSUMMARY:State dinner\r\nDTSTART;TZID=Russian Standard Time:20241023T200000\r\nDTEND;TZID=Russian Standard Time:20241023T220000\r\nLOCATION:Kazan Kremlin\r\nATTENDEE;CN=President:mailto:office@president.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    .expect("write");
    let inv = invitation.to_string_lossy().to_string();
    let out = entente(&url, &["import", &inv]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("refused") && text.contains("Kazan Kremlin"),
        "{text}"
    );
    let out = entente(
        &url,
        &[
            "--output",
            "json",
            "import",
            &inv,
            "--map-venue",
            "Kazan Kremlin=kazan-expo",
            "--map-participant",
            "office@president.example=pezeshkian",
        ],
    )
    .await;
    let v = json(&out);
    assert_eq!(v["results"][0]["outcome"], "IMPORT_OUTCOME_CREATED", "{v}");
    let created = v["results"][0]["eventId"].as_str().expect("id").to_string();
    let out = entente(&url, &["--output", "json", "event", "get", &created]).await;
    let v = json(&out);
    assert_eq!(v["start"]["timeZone"], "Europe/Moscow", "{v}");
    assert_eq!(v["status"], "EVENT_STATUS_TENTATIVE", "{v}");

    // feed create prints the URL once; the URL serves the calendar; delete revokes it.
    let out = entente(
        &url,
        &[
            "feed",
            "create",
            "--participant",
            "putin",
            "--name",
            "Putin",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let feed_url = text.lines().next().expect("url").to_string();
    let path = feed_url
        .strip_prefix(&url)
        .expect("the URL on --server")
        .to_string();
    let (status, _, body) = server.http_get(&path, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("SUMMARY:Putin–Pezeshkian talks"), "{body}");
    let out = entente(&url, &["--output", "json", "feed", "list"]).await;
    let v = json(&out);
    let id = v["feeds"][0]["id"].as_str().expect("id").to_string();
    assert_eq!(v["feeds"][0]["path"], "", "never listed: {v}");
    assert!(id.starts_with("feed-"), "{v}");
    let out = entente(&url, &["feed", "delete", &id]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let (status, _, _) = server.http_get(&path, &[]).await;
    assert_eq!(status, 404);
}
