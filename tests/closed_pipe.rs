//! Every command that prints ends quietly when its reader has gone (`git-repo-sync status |
//! head -1`, `mirror list | true`): no panic, no backtrace, nothing on stderr.

use std::process::Stdio;

use crate::support::{TestEnv, s};

/// Runs `args` in `dir` with stdout a pipe whose reading end is already closed, so the first
/// write fails, and returns what it left on stderr and how it ended.
fn with_reader_gone(env: &TestEnv, dir: &std::path::Path, args: &[&str]) -> (String, Option<i32>) {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = env
        .std_cmd_in(dir)
        .args(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .expect("running git-repo-sync");
    (
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

#[test]
fn every_command_that_prints_ends_quietly_on_a_closed_pipe() {
    let env = TestEnv::new();
    let repo = env.init_repo("work");
    let mirror = env.root().join("mirror.git");
    env.install(&repo, &[("m", s(&mirror))]);
    env.cmd_in(&repo).arg("sync").assert().success();
    let commands: &[&[&str]] = &[
        &["status"],
        &["status", "--json"],
        &["status", "--all"],
        &["doctor"],
        &["doctor", "--json"],
        &["sync"],
        &["sync", "--all"],
        &["mirror", "list"],
        &["install", "--dry-run"],
        &["uninstall", "--dry-run"],
        &["schedule", "status"],
        &["completions", "bash"],
        &["man"],
        &["--help"],
        &["status", "--help"],
        &["--version"],
    ];
    for args in commands {
        let (stderr, code) = with_reader_gone(&env, &repo, args);
        assert!(stderr.is_empty(), "{args:?} said on stderr:\n{stderr}");
        assert_ne!(code, Some(101), "{args:?} panicked");
    }
}
