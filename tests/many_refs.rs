//! Repositories with more refs than one explicit push should carry: through `git push` the plan is
//! pushed in bulk (wildcard refspecs, `--prune`), into a plain local mirror directly, with the same
//! results as ref by ref either way: every mirrored ref equal,
//! deletions pruned, a diverged ref overwritten and reported (or, with `force = false`, kept and
//! reported) and nothing outside the mirrored patterns touched.

use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;

use crate::support;
use crate::support::{TestEnv, s};

/// More refs than one push of explicit refspecs would carry on a command line: a push of the
/// mirror's patterns carries them all in one connection.
const MANY: usize = 1200;

/// Applies `git update-ref --stdin` instructions in `repo`.
fn update_refs(env: &TestEnv, repo: &Path, instructions: &str) {
    let mut cmd = env.git_cmd(repo);
    cmd.args(["update-ref", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("starting git update-ref");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(instructions.as_bytes())
        .expect("feeding git update-ref");
    let out = child.wait_with_output().expect("git update-ref");
    assert!(
        out.status.success(),
        "git update-ref failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `create` lines for `branch-<i>` and `tag-<i>` at `oid`, for `i` in `range`.
fn creations(range: std::ops::Range<usize>, oid: &str) -> String {
    range
        .map(|i| format!("create refs/heads/branch-{i:04} {oid}\ncreate refs/tags/tag-{i:04} {oid}\n"))
        .collect()
}

fn sync(env: &TestEnv, repo: &Path) -> (Option<i32>, String) {
    let out = env
        .cmd_in(repo)
        .args(["sync", "-v"])
        .output()
        .expect("running sync");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// A bare mirror that runs a hook of its own, so that it gets `git push` (a plain one is filled
/// directly; see src/engine/transfer/direct.rs), as a remote mirror does.
fn pushed_mirror(env: &TestEnv) -> std::path::PathBuf {
    let mirror = env.init_bare("mirror.git");
    env.write_executable(&mirror.join("hooks/post-update"), "#!/bin/sh\nexit 0\n");
    mirror
}

#[test]
fn thousands_of_refs_sync_in_bulk_with_the_same_results_as_ref_by_ref() {
    thousands_of_refs(true);
}

#[test]
fn thousands_of_refs_sync_directly_into_a_plain_mirror() {
    thousands_of_refs(false);
}

fn thousands_of_refs(through_git_push: bool) {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let first = env.head(&repo);
    update_refs(&env, &repo, &creations(0..MANY, &first));
    // Not mirrored: must never reach the mirror, nor be pruned from it.
    env.git(&repo, ["update-ref", "refs/remotes/origin/x", &first]);

    let mirror = if through_git_push {
        pushed_mirror(&env)
    } else {
        env.init_bare("mirror.git")
    };
    env.cmd_in(&repo)
        .args(["mirror", "add", "backup", s(&mirror)])
        .assert()
        .success();
    let (code, out) = sync(&env, &repo);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("{} created", 2 * MANY + 1)), "{out}");
    assert_eq!(env.refs(&mirror), env.refs(&repo));
    // The mirror keeps a ref of its own outside the mirrored patterns.
    env.git(&mirror, ["update-ref", "refs/notes/theirs", &first]);

    // Move most refs, delete some, create some; and someone pushes to the mirror directly.
    let second = env.commit(&repo, "second");
    let mut moves: String = (0..MANY - 100)
        .map(|i| format!("update refs/heads/branch-{i:04} {second}\n"))
        .collect();
    moves.extend((MANY - 100..MANY).map(|i| format!("delete refs/tags/tag-{i:04}\n")));
    moves.push_str(&creations(MANY..MANY + 50, &second));
    update_refs(&env, &repo, &moves);
    let intruder = env.root().join("intruder");
    env.git(env.root(), ["clone", "-q", s(&mirror), s(&intruder)]);
    env.git(&intruder, ["switch", "-q", "-c", "mine", "origin/branch-1199"]);
    let theirs = env.commit(&intruder, "pushed straight to the mirror");
    env.git(&intruder, ["push", "-q", "origin", "mine:branch-1199"]);

    let (code, out) = sync(&env, &repo);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("overwrote 1 ref(s) that had diverged"), "{out}");
    assert!(out.contains("100 deleted"), "{out}");
    assert_eq!(env.refs(&mirror), env.refs(&repo));
    assert!(
        !env.refs(&mirror).contains(&theirs),
        "the diverged ref was put back"
    );
    let all = env.git(&mirror, ["for-each-ref", "--format=%(refname)"]);
    assert!(all.contains("refs/notes/theirs"), "{all}");
    assert!(!all.contains("refs/remotes/"), "{all}");
}

#[test]
fn a_strict_mirror_keeps_a_diverged_ref_in_bulk_too_and_the_rest_syncs() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let first = env.head(&repo);
    update_refs(&env, &repo, &creations(0..MANY, &first));
    let mirror = env.init_bare("strict.git");
    env.cmd_in(&repo)
        .args(["mirror", "add", "strict", s(&mirror), "--no-force"])
        .assert()
        .success();
    let (code, out) = sync(&env, &repo);
    assert_eq!(code, Some(0), "{out}");

    let intruder = env.root().join("intruder");
    env.git(env.root(), ["clone", "-q", s(&mirror), s(&intruder)]);
    env.git(&intruder, ["switch", "-q", "-c", "mine", "origin/branch-0007"]);
    let theirs = env.commit(&intruder, "pushed straight to the mirror");
    env.git(&intruder, ["push", "-q", "origin", "mine:branch-0007"]);
    let second = env.commit(&repo, "second");
    let moves: String = (0..MANY)
        .map(|i| format!("update refs/heads/branch-{i:04} {second}\n"))
        .collect();
    update_refs(&env, &repo, &moves);

    let (code, out) = sync(&env, &repo);
    assert_eq!(code, Some(3), "a rejected ref fails the sync:\n{out}");
    assert!(out.contains("refs/heads/branch-0007"), "{out}");
    let on_mirror = |refname: &str| env.git(&mirror, ["rev-parse", refname]).trim().to_owned();
    assert_eq!(on_mirror("refs/heads/branch-0007"), theirs, "kept");
    assert_eq!(on_mirror("refs/heads/branch-0008"), second, "the rest synced");
    assert_eq!(on_mirror("refs/heads/main"), second);
    let status = env.status_json(&repo);
    let rejected = &support::mirror_status(&status, "strict")["rejected"];
    assert!(
        rejected.to_string().contains("refs/heads/branch-0007"),
        "{status:#}"
    );
}
