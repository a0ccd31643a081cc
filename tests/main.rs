//! The integration tests, one test binary: each `tests/<promise>.rs` is a module of it, not a
//! binary of its own, so the shared fixtures in `tests/support` are compiled once, not once per
//! file, and `cargo test` links and starts one test process instead of thirty.
//!
//! All tests share that process on parallel threads, so none changes process-wide state
//! (environment variables, current directory, umask, signal dispositions): what a child needs is
//! set on its `Command` (see `support::TestEnv::apply_env`).
//!
//! One file's tests: `cargo test --test main doctor::`.

mod support;

mod bad_config;
mod cli;
mod closed_pipe;
mod colour;
mod config_hooks;
mod config_layers;
mod crash_repair;
mod direct_transfer;
mod doctor;
mod faults;
mod faults_read_only;
mod foreign_hooks;
mod gitolite;
mod guarantee_hostile_input;
mod guarantees;
mod hook_managers;
mod hostile_input;
mod install_recursive;
mod install_wizard;
mod lfs;
mod many_refs;
mod metrics;
mod mirror_check;
mod mirror_options;
mod mirror_work_tree;
mod missing_binary;
mod no_home;
mod progress;
mod rejections;
mod repository_kinds;
mod schedule;
mod sequences;
mod server_post_receive;
mod status;
mod sync_all;
mod transports;
mod up_down;
mod verify;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Each `tests/<name>.rs` (and `tests/<name>/mod.rs`) is a `mod <name>;` above, and each `mod`
/// above has its file. With `autotests = false` a file left out is not even compiled, and its
/// tests would silently never run.
#[test]
fn every_test_file_is_wired_into_this_binary() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let main = fs::read_to_string(tests.join("main.rs")).expect("reading tests/main.rs");
    let wired: BTreeSet<&str> = main
        .lines()
        .filter_map(|line| line.trim().strip_prefix("mod ")?.strip_suffix(';'))
        .collect();
    // Module name -> its file, as cargo would find it.
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(&tests).expect("reading tests/").flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(module) = name.strip_suffix(".rs")
            && module != "main"
            && path.is_file()
        {
            files.insert(module.to_owned(), format!("tests/{name}"));
        } else if path.join("mod.rs").is_file() {
            files.insert(name.clone(), format!("tests/{name}/mod.rs"));
        }
    }
    let mut problems = Vec::new();
    for (module, file) in &files {
        if !wired.contains(module.as_str()) {
            problems.push(format!(
                "{file} has no `mod {module};` in tests/main.rs, so its tests never run"
            ));
        }
    }
    for module in wired.iter().filter(|m| !files.contains_key(**m)) {
        problems.push(format!(
            "`mod {module};` in tests/main.rs has no tests/{module}.rs"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Each `file.rs::test_name` that docs/GUARANTEES.md cites as the proof of a promise is a
/// function in that file (in `tests/`, or in `src/` for unit tests): a renamed or removed test
/// must not leave a promise resting on nothing. Elided names (`*`, `...`) are not checked.
#[test]
fn every_test_cited_in_the_guarantees_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = fs::read_to_string(root.join("docs/GUARANTEES.md")).expect("reading docs/GUARANTEES.md");
    let mut sources: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut dirs = vec![root.join("tests"), root.join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).expect("reading a source dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .filter(|n| n.ends_with(".rs"))
            {
                let body = fs::read_to_string(&path).expect("reading a source file");
                sources.entry(name.to_owned()).or_default().push(body);
            }
        }
    }
    let mut cited = 0;
    let mut missing = Vec::new();
    for quoted in text.split('`').skip(1).step_by(2) {
        let Some((file, name)) = quoted.split_once(".rs::") else {
            continue;
        };
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            || !file.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            continue;
        }
        cited += 1;
        let defined = sources.get(&format!("{file}.rs")).is_some_and(|bodies| {
            bodies.iter().any(|body| {
                body.match_indices(&format!("fn {name}"))
                    .any(|(at, _)| body[at + 3 + name.len()..].starts_with('('))
            })
        });
        if !defined {
            missing.push(format!("{file}.rs::{name}"));
        }
    }
    assert!(
        cited > 100,
        "only {cited} citations found: has the format changed?"
    );
    assert!(
        missing.is_empty(),
        "docs/GUARANTEES.md cites tests that do not exist: {missing:#?}"
    );
}
