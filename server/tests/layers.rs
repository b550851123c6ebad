//! Issue 33: one direction of dependency through the server's crates.
//!
//! Between crates the compiler holds the layers apart: `entente-time` and the domain,
//! `entente-domain` (`server/domain`), cannot name the server. Inside each crate, each
//! top-level module has a rank in [`LAYERS`], bottom first (the domain crate's modules
//! are the lowest ones, which the test below checks); a `crate::m` path in a file of a
//! lower-ranked module is an upward import. The
//! ones still in the tree are listed in `server/layers-debt.txt`, one `file -> module` a
//! line: this test fails on any upward import not listed there (a new one), and on any
//! line there that no longer holds (paid off: delete it), so the list only shrinks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The server's modules, bottom first: a module may name modules of its own rank or below.
/// The target of `../shared/ARCHITECTURE.md`: the domain (records and rules), then the
/// store, then the service (the `Scheduler` and its use cases), then the wire.
const LAYERS: &[&[&str]] = &[
    // Process set-up that knows nothing of entente.
    &["pages"],
    // Domain: the records and the rules over them: the crate entente-domain, then the
    // principal (still in the server).
    &["error"],
    &["stop"],
    &["validate"],
    &["record"],
    &["directory"],
    &["events"],
    &["proposals"],
    &["calendar"],
    &["subscription"],
    &["state"],
    &["conflicts"],
    &["history"],
    &["slots"],
    // The server crate from here on (the domain crate is everything above).
    &["auth"],
    // Store: records to bytes, the commit point, sled and PostgreSQL.
    &["storage"],
    &["audit"],
    &["commit"],
    &["replica"],
    &["solo"],
    &["cluster"],
    // Service: authorisation, redaction, the write path and the use cases.
    &["work"],
    &["policy"],
    &["redact"],
    &["ics"],
    &["feed"],
    &["scheduler"],
    &["service"],
    // Wire: configuration, gRPC and HTTP.
    &["config"],
    &["grpc"],
];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules each `crate::` path in `text` names (comments skipped; a
/// grouped `use crate::{a, b::c}` names each of its items, over several lines too).
fn named_modules(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            out.insert(ident(rest));
            continue;
        };
        // The group's top-level items: split at commas outside nested braces.
        let (mut depth, mut item_start) = (0usize, 0usize);
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    out.insert(ident(&group[item_start..i]));
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.insert(ident(&group[item_start..i]));
                    item_start = i + 1;
                }
                _ => {}
            }
        }
    }
    out.remove("");
    out
}

/// Every upward import in the tree: `file -> module`.
fn upward_imports(src: &Path) -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut out = BTreeSet::new();
    for file in files {
        let rel = file.strip_prefix(src).expect("under src");
        let rel_name = rel.to_string_lossy().replace('\\', "/");
        let top = rel_name
            .split('/')
            .next()
            .unwrap_or_default()
            .trim_end_matches(".rs");
        // lib.rs and main.rs sit above every module.
        let Some(from) = rank(top) else {
            assert!(
                matches!(top, "lib" | "main"),
                "{rel_name}: module {top:?} has no place in LAYERS (tests/layers.rs)"
            );
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("read file");
        for module in named_modules(&text) {
            if let Some(to) = rank(&module)
                && to > from
            {
                out.insert(format!("{rel_name} -> {module}"));
            }
        }
    }
    out
}

#[test]
fn no_module_imports_upward_beyond_the_recorded_debt() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = upward_imports(&root.join("src"));
    found.extend(upward_imports(&root.join("domain/src")));
    let debt_file = root.join("layers-debt.txt");
    let debt: BTreeSet<String> = std::fs::read_to_string(&debt_file)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let new: Vec<&String> = found.difference(&debt).collect();
    let paid: Vec<&String> = debt.difference(&found).collect();
    let mut by_target: BTreeMap<&str, usize> = BTreeMap::new();
    for line in &found {
        let target = line.rsplit(' ').next().unwrap_or_default();
        *by_target.entry(target).or_default() += 1;
    }
    println!(
        "{} upward imports recorded, by the module they reach up to: {by_target:?}",
        found.len()
    );
    assert!(
        new.is_empty(),
        "upward imports (a lower layer naming a higher one; see LAYERS in \
         server/tests/layers.rs): {new:#?}"
    );
    assert!(
        paid.is_empty(),
        "these upward imports are gone: delete them from server/layers-debt.txt: {paid:#?}"
    );
}

#[test]
fn the_reader_sees_grouped_and_nested_paths() {
    let text = "use crate::{error::Error, time};\nfn f() { crate::scheduler::x(); }\n\
                // crate::grpc is only mentioned\n\
                use crate::{\n    events::{Event, index::Axis},\n    redact::View,\n};\n";
    let names: Vec<String> = named_modules(text).into_iter().collect();
    assert_eq!(names, ["error", "events", "redact", "scheduler", "time"]);
}

/// The top-level modules of the crate at `src` (its `lib.rs` and `main.rs` aside).
fn modules(src: &Path) -> BTreeSet<String> {
    std::fs::read_dir(src)
        .expect("read src")
        .map(|e| e.expect("entry").path())
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            let name = name.trim_end_matches(".rs").to_string();
            (p.is_dir() || p.extension().is_some_and(|e| e == "rs")).then_some(name)
        })
        .filter(|m| !matches!(m.as_str(), "lib" | "main"))
        .collect()
}

#[test]
fn the_domain_crate_is_the_bottom_of_the_server_and_knows_no_runtime() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let domain = modules(&root.join("domain/src"));
    let server = modules(&root.join("src"));
    assert!(
        domain.contains("events") && domain.contains("state"),
        "{domain:?}"
    );
    // No module in both crates, and every domain module ranks below every server module:
    // the crate boundary is a cut through LAYERS, so no domain module could want one of
    // the server's.
    assert!(
        domain.is_disjoint(&server),
        "{:?}",
        domain.intersection(&server)
    );
    let top_of_domain = domain.iter().filter_map(|m| rank(m)).max().expect("ranked");
    // `pages` (process set-up) names nothing of entente's, so it may sit anywhere.
    for m in server.iter().filter(|m| *m != "pages") {
        let r = rank(m).unwrap_or_else(|| panic!("{m} has no place in LAYERS"));
        assert!(
            r > top_of_domain,
            "server module {m} ranks among the domain's"
        );
    }
    // Its dependencies: plain-value crates only. A runtime, a transport or a storage
    // engine here would let the domain grow a lock, a socket or a key.
    let manifest = std::fs::read_to_string(root.join("domain/Cargo.toml")).expect("manifest");
    for banned in [
        "tokio",
        "tonic",
        "prost",
        "sled",
        "postgres",
        "entente-server",
        "entente-proto",
        "tracing",
    ] {
        assert!(
            !manifest.lines().any(|l| l.trim_start().starts_with(banned)),
            "server/domain/Cargo.toml depends on {banned}"
        );
    }
}
