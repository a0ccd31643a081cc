//! Every fault heals by itself, or is shown with its fix: the files git-repo-sync keeps in the
//! git directory, broken (garbage, half a file, a directory in their place), are reported by
//! `status` and `doctor`, rebuilt by the next pass where they are ours to rebuild, and never
//! deleted when something else stands there; the mirrors keep being updated meanwhile.

use std::fs;
use std::path::PathBuf;

use crate::support::{TestEnv, WAIT, s};

/// A repository installed with a local mirror and synced once.
fn synced(env: &TestEnv) -> (PathBuf, PathBuf) {
    let repo = env.init_repo("work");
    let mirror = env.root().join("mirror.git");
    env.install(&repo, &[("m", s(&mirror))]);
    env.cmd_in(&repo).arg("sync").assert().success();
    (repo, mirror)
}

#[test]
fn a_garbled_or_half_written_state_file_is_shown_as_such_and_the_next_sync_rewrites_it() {
    for (what, broken) in [
        ("garbage", b"\x00\xff not json at all".to_vec()),
        (
            "half a file",
            b"{\n  \"mirrors\": {\n    \"m\": {\n      \"url\": \"/x".to_vec(),
        ),
    ] {
        let env = TestEnv::new();
        let (repo, mirror) = synced(&env);
        let state = env.common_dir(&repo).join("repo-sync-state.json");
        fs::write(&state, &broken).expect("breaking the state");
        let status = env.status_json(&repo);
        let error = status["state_error"].as_str().unwrap_or_default();
        assert!(error.contains(s(&state)), "{what}: {status}");
        let text = env.cmd_in(&repo).arg("status").output().expect("status");
        let shown = String::from_utf8_lossy(&text.stdout);
        assert!(
            shown.contains("PROBLEM: ") && shown.contains(s(&state)),
            "{what}: plain status names the file and why: {shown}"
        );

        env.git(&repo, ["tag", "after-the-damage"]);
        let out = env.cmd_in(&repo).arg("sync").output().expect("sync");
        assert!(out.status.success(), "{what}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("starting the state afresh"),
            "{what}: the repair is said: {out:?}"
        );
        assert_eq!(env.refs(&mirror), env.refs(&repo), "{what}");
        assert!(
            env.status_json(&repo).get("state_error").is_none(),
            "{what}: rewritten"
        );
    }
}

#[test]
fn a_directory_where_the_state_file_belongs_is_reported_and_never_deleted() {
    let env = TestEnv::new();
    let (repo, mirror) = synced(&env);
    let state = env.common_dir(&repo).join("repo-sync-state.json");
    fs::remove_file(&state).expect("removing the state");
    fs::create_dir(&state).expect("a directory in its place");
    fs::write(state.join("keep-me"), "yours").expect("a file in it");

    env.git(&repo, ["tag", "still-pushed"]);
    let out = env.cmd_in(&repo).arg("sync").output().expect("sync");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is a directory") && stderr.contains("move it away"),
        "{stderr}"
    );
    assert_eq!(env.refs(&mirror), env.refs(&repo), "the mirror was still updated");
    assert!(state.join("keep-me").is_file(), "the directory was touched");
    let status = env.status_json(&repo);
    assert!(
        status["state_error"]
            .as_str()
            .is_some_and(|e| e.contains(s(&state))),
        "{status}"
    );
}

#[test]
fn a_directory_where_the_pending_mark_belongs_is_reported_and_commits_still_reach_the_mirror() {
    let env = TestEnv::new();
    let (repo, mirror) = synced(&env);
    let pending = env.common_dir(&repo).join("repo-sync.pending");
    fs::create_dir(&pending).expect("a directory in its place");

    for i in 1..=2 {
        env.commit(&repo, &format!("commit {i} beside a broken mark"));
        env.wait_until_refs_equal(&repo, &mirror, WAIT);
    }
    assert!(pending.is_dir(), "the directory was deleted");
    let status = env.status_json(&repo);
    let problem = status["pending_problem"].as_str().unwrap_or_default();
    assert!(
        problem.contains(s(&pending)) && problem.contains("move it away"),
        "{status}"
    );
}
