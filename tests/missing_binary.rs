//! The binary moved away after install (uninstalled, or a garbage-collected Nix store path):
//! commits still succeed, with one warning line; a `git-repo-sync` on PATH takes over.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::{MARKER, TestEnv, WAIT, dirs_with_binary, run_ok, s, sh_quote};

/// Installs into `repo` with a copy of the binary in `<root>/store/bin`, then deletes the copy's
/// whole directory, as a garbage collection of its Nix store path would.
fn install_with_a_binary_that_then_disappears(env: &TestEnv, repo: &Path, mirror: &Path) -> PathBuf {
    let store = env.root().join("store");
    let binary = env.copy_binary(&store.join("bin"));
    let mut install = env.std_cmd_of(&binary, repo);
    install
        .args(["install", "--yes", "--mirror"])
        .arg(format!("backup={}", s(mirror)));
    run_ok(&mut install);
    let hook = fs::read_to_string(repo.join(".git/hooks/post-commit")).expect("post-commit written");
    assert!(hook.contains(MARKER), "{hook}");
    assert!(
        hook.contains(s(&binary)),
        "the hook bakes in the absolute path of the binary that installed it:\n{hook}"
    );
    fs::remove_dir_all(&store).expect("deleting the binary");
    binary
}

fn stderr_lines(out: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_commit_still_succeeds_with_one_warning_when_the_binary_is_gone() {
    let env = TestEnv::new();
    assert!(
        dirs_with_binary(env.path_var()).is_empty(),
        "this test needs a PATH without git-repo-sync, got {:?}",
        env.path_var()
    );
    let repo = env.init_repo("project");
    let ran = env.root().join("ran.txt");
    env.write_executable(
        &repo.join(".git/hooks/post-commit"),
        &format!("#!/bin/sh\necho ran >> {}\n", sh_quote(&ran)),
    );
    install_with_a_binary_that_then_disappears(&env, &repo, &env.root().join("backup.git"));

    env.change_file(&repo, "without the binary");
    let out = env
        .git_cmd(&repo)
        .args(["commit", "-q", "-a", "-m", "without the binary"])
        .output()
        .expect("running git commit");
    assert!(out.status.success(), "git commit failed: {out:?}");
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "exactly one warning line, got: {lines:#?}");
    assert!(
        lines[0].contains("git-repo-sync"),
        "the warning names the tool: {lines:?}"
    );
    assert_eq!(
        env.git(&repo, ["log", "-1", "--format=%s"]).trim(),
        "without the binary",
        "the commit was made"
    );
    assert_eq!(
        fs::read_to_string(&ran).ok().as_deref(),
        Some("ran\n"),
        "the user's own hook still ran"
    );

    // The other triggers behave the same way.
    env.change_file(&repo, "amended");
    let out = env
        .git_cmd(&repo)
        .args([
            "commit",
            "-q",
            "-a",
            "--amend",
            "-m",
            "amended without the binary",
        ])
        .output()
        .expect("running git commit --amend");
    assert!(out.status.success(), "git commit --amend failed: {out:?}");
    // post-commit and post-rewrite both fire on an amend: one warning from each at most.
    let lines = stderr_lines(&out);
    assert!(
        (1..=2).contains(&lines.len()) && lines.iter().all(|l| l.contains("git-repo-sync")),
        "{lines:#?}"
    );
}

#[test]
fn the_hook_falls_back_to_git_repo_sync_on_path() {
    let mut env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.root().join("backup.git");
    install_with_a_binary_that_then_disappears(&env, &repo, &mirror);

    // Installed again elsewhere, say by a package manager.
    let elsewhere = env.root().join("profile/bin");
    env.copy_binary(&elsewhere);
    let mut path = std::env::split_paths(env.path_var()).collect::<Vec<_>>();
    path.insert(0, elsewhere);
    env.set_path_var(std::env::join_paths(path).expect("joining PATH"));

    env.change_file(&repo, "found on PATH");
    let out = env
        .git_cmd(&repo)
        .args(["commit", "-q", "-a", "-m", "found on PATH"])
        .output()
        .expect("running git commit");
    assert!(out.status.success(), "git commit failed: {out:?}");
    assert_eq!(
        stderr_lines(&out),
        Vec::<String>::new(),
        "no warning when PATH has the tool"
    );
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
}
