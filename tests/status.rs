//! `status` tells, per mirror, how it is doing, and never prints a URL's secrets.

use crate::support;
use crate::support::{TestEnv, s};
use serde_json::Value;

#[test]
fn a_mirror_never_synced_shows_never() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.root().join("backup.git");
    env.cmd_in(&repo)
        .args(["mirror", "add", "backup", s(&mirror)])
        .assert()
        .success();

    let status = env.status_json(&repo);
    let mirrors = status["mirrors"].as_array().expect("mirrors array");
    assert_eq!(mirrors.len(), 1, "{status:#}");
    let backup = &mirrors[0];
    assert_eq!(backup["name"], "backup", "{status:#}");
    assert_eq!(backup["last_result"], "never", "{status:#}");
    assert_eq!(backup["last_attempt"], Value::Null, "{status:#}");
    assert_eq!(backup["last_success"], Value::Null, "{status:#}");
    assert_eq!(backup["last_error"], Value::Null, "{status:#}");

    env.cmd_in(&repo).arg("sync").assert().success();
    let status = env.status_json(&repo);
    let backup = &status["mirrors"][0];
    assert_eq!(backup["last_result"], "ok", "{status:#}");
    assert!(backup["last_attempt"].is_string(), "{status:#}");
    assert!(backup["last_success"].is_string(), "{status:#}");
}

#[test]
fn credentials_in_a_mirror_url_are_never_printed() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    env.cmd_in(&repo)
        .args([
            "mirror",
            "add",
            "hosted",
            "https://someone:hunter2secret@git.example.com/me/project.git",
            // A host that does not exist: only what is printed about it matters here.
            "--no-check",
        ])
        .assert()
        .success();

    for args in [&["status"][..], &["status", "--json"], &["mirror", "list"]] {
        let out = env.cmd_in(&repo).args(args).assert().success();
        let output = out.get_output();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(all.contains("git.example.com"), "{args:?} shows the host:\n{all}");
        assert!(
            !all.contains("hunter2secret"),
            "{args:?} printed the password:\n{all}"
        );
    }
}

/// Words that are true: an amend on the source is a forced update of ours; only a change made on
/// the mirror itself, overwritten, is called that.
#[test]
fn an_amend_is_a_forced_update_and_only_a_change_made_on_the_mirror_is_overwritten() {
    let env = TestEnv::new();
    let repo = env.init_repo("work");
    let mirror = env.root().join("mirror.git");
    env.install(&repo, &[("m", support::s(&mirror))]);
    env.cmd_in(&repo).arg("sync").assert().success();

    let no_hooks = env.root().join("no-hooks");
    std::fs::create_dir_all(&no_hooks).expect("an empty hooks dir");
    let quiet = format!("core.hooksPath={}", support::s(&no_hooks));
    env.git(&repo, ["-c", &quiet, "commit", "-q", "--amend", "-m", "amended"]);
    let out = env.cmd_in(&repo).args(["sync", "-v"]).output().expect("sync");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("forced update refs/heads/main"), "{said}");
    assert!(!said.contains("overwrote"), "{said}");
    let status = env.status_json(&repo);
    assert_eq!(
        support::mirror_status(&status, "m")["last_pushed"][0]["action"],
        "forced",
        "{status}"
    );

    // Someone pushes to the mirror directly; the next sync puts it back and says it overwrote.
    let elsewhere = env.root().join("elsewhere");
    env.git(
        env.root(),
        ["clone", "-q", support::s(&mirror), support::s(&elsewhere)],
    );
    env.commit(&elsewhere, "made on the mirror");
    env.git(&elsewhere, ["push", "-q", "origin", "main"]);
    let out = env.cmd_in(&repo).args(["sync", "-v"]).output().expect("sync");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("overwrote diverged refs/heads/main"), "{said}");
    assert_eq!(env.refs(&mirror), env.refs(&repo));
}
