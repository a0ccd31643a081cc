//! With a git that runs config-based hooks (2.54 and later), our trigger is a
//! `hook.git-repo-sync-<hook>` entry in the repository's config: no hook file is written, the
//! hooks already there keep running as they were, and everything reaches the mirrors as it does
//! with hook files. Without that git these tests print `skipped: ...` (a failure under CI).

use std::fs;

use crate::support;
use crate::support::tools::{Tool, path_with, require_tool};
use crate::support::{MARKER, Snapshot, TestEnv, WAIT, s, sh_quote};

/// A test world whose `git` is the one with config-based hooks.
fn env_with_config_hooks() -> Option<TestEnv> {
    let git = require_tool("the config-based hook tests", Tool::NewGit)?;
    let mut env = TestEnv::new();
    let path = path_with(&[git.parent().expect("git's directory")], env.path_var());
    env.set_path_var(path);
    Some(env)
}

#[test]
fn install_moves_no_hook_of_anyone_else_and_commits_merges_and_rebases_reach_the_mirror() {
    let Some(env) = env_with_config_hooks() else {
        return;
    };
    let repo = env.init_repo("project");
    let ran = env.root().join("ran.txt");
    let theirs = repo.join(".git/hooks/post-commit");
    env.write_executable(
        &theirs,
        &format!("#!/bin/sh\necho \"$0\" >> {}\n", sh_quote(&ran)),
    );
    let their_bytes = fs::read(&theirs).expect("their hook");
    let hooks_before = Snapshot::of(&repo.join(".git/hooks"));
    let mirror = env.root().join("mirror.git");
    let said = env
        .cmd()
        .args([
            "install",
            "--yes",
            s(&repo),
            "--mirror",
            &format!("m={}", s(&mirror)),
        ])
        .assert()
        .success();
    let said = String::from_utf8_lossy(&said.get_output().stdout).into_owned();
    assert!(
        said.contains("install --hook-files"),
        "tells how an older git gets hooks: {said}"
    );
    assert_eq!(
        fs::read(&theirs).expect("their hook"),
        their_bytes,
        "left where it was, as it was"
    );
    for free in ["post-merge", "post-rewrite", "post-applypatch"] {
        // A git that runs config-based hooks also runs the hook directory's: a file of ours
        // there would be a second shell for every commit of a rebase.
        assert!(
            !repo.join(".git/hooks").join(free).exists(),
            "no hook file of ours: {free}"
        );
    }
    let listed = env.git(&repo, ["hook", "list", "post-commit"]);
    assert!(listed.contains("git-repo-sync-post-commit"), "{listed}");

    env.commit(&repo, "first");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    let ran_as = fs::read_to_string(&ran).expect("the user's hook ran");
    assert_eq!(
        ran_as.trim(),
        ".git/hooks/post-commit",
        "it ran where it sits, once"
    );

    env.git(&repo, ["switch", "-q", "-c", "side"]);
    env.commit(&repo, "on side");
    env.git(&repo, ["switch", "-q", "main"]);
    env.commit(&repo, "on main");
    env.git(&repo, ["merge", "-q", "--no-edit", "side"]);
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    env.git(&repo, ["switch", "-q", "side"]);
    env.commit(&repo, "on side, to rebase");
    env.git(&repo, ["switch", "-q", "main"]);
    env.commit(&repo, "on main, to rebase onto");
    env.git(&repo, ["switch", "-q", "side"]);
    env.git(&repo, ["rebase", "-q", "main"]);
    env.wait_until_refs_equal(&repo, &mirror, WAIT);

    assert_eq!(env.status_json(&repo)["triggers"]["mechanism"], "config");
    env.cmd_in(&repo).arg("uninstall").assert().success();
    let config = env.git(&repo, ["config", "--list"]);
    assert!(!config.contains("git-repo-sync"), "{config}");
    hooks_before.assert_unchanged(&Snapshot::of(&repo.join(".git/hooks")), "the hooks directory");
}

#[test]
fn a_push_to_a_bare_server_reaches_the_mirror_and_its_own_post_receive_still_gets_stdin() {
    let Some(env) = env_with_config_hooks() else {
        return;
    };
    let server = env.init_bare("srv/project.git");
    let received = env.root().join("received.txt");
    env.write_executable(
        &server.join("hooks/post-receive"),
        &format!("#!/bin/sh\ncat >> {}\n", sh_quote(&received)),
    );
    let mirror = env.root().join("mirrors/github.git");
    env.install(&server, &[("github", s(&mirror))]);
    let hook = fs::read_to_string(server.join("hooks/post-receive")).expect("the server's hook");
    assert!(
        !hook.contains(MARKER),
        "the server's own hook is untouched: {hook}"
    );

    env.git(env.root(), ["clone", "-q", s(&server), "work"]);
    let work = env.root().join("work");
    env.commit(&work, "first");
    env.git(&work, ["push", "-q", "origin", "main"]);
    env.wait_until_refs_equal(&server, &mirror, WAIT);
    let lines = fs::read_to_string(&received).expect("the server's hook got stdin");
    assert!(lines.trim_end().ends_with(" refs/heads/main"), "{lines}");
}

#[test]
fn an_earlier_install_with_hook_files_stays_and_the_chained_hook_still_runs_once() {
    let Some(new_git_env) = env_with_config_hooks() else {
        return;
    };
    // First installed by a git without config-based hooks, over a hook of the user's.
    let old_git_env = TestEnv::new();
    let repo = old_git_env.init_repo("project");
    let theirs = repo.join(".git/hooks/post-commit");
    let ran = old_git_env.root().join("ran.txt");
    old_git_env.write_executable(&theirs, &format!("#!/bin/sh\necho ran >> {}\n", sh_quote(&ran)));
    let before = fs::read(&theirs).expect("their hook");
    let mirror = old_git_env.root().join("mirror.git");
    old_git_env.install(&repo, &[("m", s(&mirror))]);
    let ours = fs::read(&theirs).expect("ours");

    new_git_env.install(&repo, &[]);
    assert_eq!(
        fs::read(&theirs).expect("ours"),
        ours,
        "ours stays, still chaining theirs"
    );
    new_git_env.commit(&repo, "after the switch");
    new_git_env.wait_until_refs_equal(&repo, &mirror, WAIT);
    assert_eq!(
        fs::read_to_string(&ran).expect("their hook ran"),
        "ran\n",
        "exactly once"
    );

    new_git_env.cmd_in(&repo).arg("uninstall").assert().success();
    assert_eq!(
        fs::read(&theirs).expect("their hook"),
        before,
        "put back byte for byte"
    );
}

#[test]
fn doctor_names_an_older_git_on_path_and_its_fix_has_that_git_reach_the_mirror() {
    let Some(new_git_env) = env_with_config_hooks() else {
        return;
    };
    let old_git_env = TestEnv::new();
    let repo = old_git_env.init_repo("project");
    let mirror = old_git_env.root().join("mirror.git");
    new_git_env.install(&repo, &[("m", s(&mirror))]);
    assert!(!repo.join(".git/hooks/post-commit").exists());

    // The test world's PATH keeps the machine's gits after the newer one: doctor finds them.
    let out = new_git_env
        .cmd_in(&repo)
        .args(["doctor", "--json"])
        .output()
        .expect("doctor runs");
    assert!(out.status.success(), "a warning, not a problem: {out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let warning = report[0]["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|check| check["check"] == "older git")
        .unwrap_or_else(|| panic!("no warning about the older git: {report:#}"));
    let (detail, fix) = (
        warning["detail"].as_str().expect("detail"),
        warning["fix"].as_str().expect("fix"),
    );
    assert!(detail.contains("runs no config-based hook"), "{detail}");
    assert!(fix.starts_with("git-repo-sync install --hook-files "), "{fix}");

    // The fix, as doctor gives it: the older git's commits trigger too.
    let fix_args = shlex::split(fix).expect("a shell command");
    new_git_env.cmd().args(&fix_args[1..]).assert().success();
    old_git_env.commit(&repo, "by the older git");
    old_git_env.wait_until_refs_equal(&repo, &mirror, WAIT);
    let out = new_git_env
        .cmd_in(&repo)
        .args(["doctor", "--json"])
        .output()
        .expect("doctor runs");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("older git"),
        "nothing to warn of once the hook files are there"
    );

    // A later install without the flag keeps them.
    new_git_env.install(&repo, &[]);
    let ours = fs::read_to_string(repo.join(".git/hooks/post-commit")).expect("our hook file, kept");
    assert!(ours.contains(MARKER));
}

#[test]
fn a_commit_that_fires_both_triggers_pushes_to_the_mirror_once() {
    let Some(env) = env_with_config_hooks() else {
        return;
    };
    let repo = env.init_repo("project");
    let mirror = env.init_bare("mirror.git");
    // A hook of the mirror's own makes it get a real push, each of which the hook counts.
    let pushes = env.root().join("pushes.txt");
    env.write_executable(
        &mirror.join("hooks/post-receive"),
        &format!("#!/bin/sh\necho push >> {}\n", sh_quote(&pushes)),
    );
    env.cmd()
        .args([
            "install",
            "--yes",
            "--hook-files",
            s(&repo),
            "--mirror",
            &format!("m={}", s(&mirror)),
        ])
        .assert()
        .success();
    let hook_file = fs::read_to_string(repo.join(".git/hooks/post-commit")).expect("our hook file");
    assert!(hook_file.contains(MARKER));
    for i in 1..=3 {
        env.commit(&repo, &format!("commit {i}"));
        env.wait_until_refs_equal(&repo, &mirror, WAIT);
        // Whatever a second trigger starts has finished once the lock is free.
        support::wait_for(
            WAIT,
            || !worker_running(&env, &repo),
            || "the worker never finished".into(),
        );
        let count = fs::read_to_string(&pushes).map_or(0, |t| t.lines().count());
        assert_eq!(count, i, "pushes to the mirror after {i} commit(s)");
    }
}

/// Whether a worker holds the repository's sync lock.
fn worker_running(env: &TestEnv, repo: &std::path::Path) -> bool {
    let lock = env.common_dir(repo).join("repo-sync.lock");
    fs::File::open(lock).is_ok_and(|file| file.try_lock().is_err())
}

#[test]
fn a_commit_still_succeeds_with_one_warning_when_the_binary_is_gone() {
    let Some(env) = env_with_config_hooks() else {
        return;
    };
    let repo = env.init_repo("project");
    let binary = env.copy_binary(&env.root().join("bin"));
    env.cmd()
        .arg("install")
        .arg("--yes")
        .arg(&repo)
        .arg("--hook-binary")
        .arg(&binary)
        .arg("--mirror")
        .arg(format!("m={}", s(&env.root().join("mirror.git"))))
        .assert()
        .success();
    fs::remove_file(&binary).expect("removing the binary");
    env.change_file(&repo, "without the binary");
    let out = env
        .git_cmd(&repo)
        .args(["commit", "-q", "-a", "-m", "without the binary"])
        .output()
        .expect("running git commit");
    assert!(out.status.success(), "git commit failed: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one warning line, got: {lines:#?}");
    assert!(
        lines[0].contains("git-repo-sync") && lines[0].contains("is gone"),
        "{lines:?}"
    );
}
