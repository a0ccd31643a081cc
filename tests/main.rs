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
