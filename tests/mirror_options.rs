//! Per-mirror options: which refs a mirror mirrors, `prune`, and that nothing outside branches
//! and tags travels (never `git push --mirror`).

use crate::support::{TestEnv, s};

#[test]
fn only_branches_and_tags_travel_and_the_mirrors_other_refs_are_kept() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let head = env.head(&repo);
    // Refs a `git push --mirror` would send or delete.
    env.git(&repo, ["update-ref", "refs/remotes/origin/main", &head]);
    env.git(&repo, ["update-ref", "refs/notes/commits", &head]);
    let mirror = env.init_bare("backup.git");
    env.git(
        &repo,
        ["push", "-q", s(&mirror), &format!("{head}:refs/keep/theirs")],
    );

    env.cmd_in(&repo)
        .args(["mirror", "add", "backup", s(&mirror)])
        .assert()
        .success();
    env.cmd_in(&repo).arg("sync").assert().success();

    assert_eq!(env.refs(&mirror), env.refs(&repo));
    let all = env.all_refs(&mirror);
    assert!(
        !all.contains("refs/remotes/"),
        "remote-tracking refs were pushed:\n{all}"
    );
    assert!(
        !all.contains("refs/notes/"),
        "refs outside the patterns were pushed:\n{all}"
    );
    assert!(
        all.contains("refs/keep/theirs"),
        "the mirror's own ref was deleted:\n{all}"
    );
}

#[test]
fn a_mirror_with_no_prune_keeps_deleted_branches_and_tags() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    env.git(&repo, ["branch", "old"]);
    env.git(&repo, ["tag", "old-tag"]);
    let keep = env.root().join("keep.git");
    let prune = env.root().join("prune.git");
    env.cmd_in(&repo)
        .args(["mirror", "add", "keep", s(&keep), "--no-prune"])
        .assert()
        .success();
    env.cmd_in(&repo)
        .args(["mirror", "add", "prune", s(&prune)])
        .assert()
        .success();
    env.cmd_in(&repo).arg("sync").assert().success();
    let before = env.refs(&repo);

    env.git(&repo, ["branch", "-q", "-D", "old"]);
    env.git(&repo, ["tag", "-d", "old-tag"]);
    env.commit(&repo, "after the deletions");
    env.cmd_in(&repo).arg("sync").assert().success();

    assert_eq!(
        env.refs(&prune),
        env.refs(&repo),
        "prune (the default) deletes them"
    );
    let kept = env.refs(&keep);
    assert!(
        kept.contains("refs/heads/old") && kept.contains("refs/tags/old-tag"),
        "--no-prune keeps them:\n{kept}"
    );
    assert!(
        kept.contains(&env.head(&repo)),
        "--no-prune still updates main:\n{kept}"
    );
    assert_ne!(kept, before);
}

#[test]
fn a_mirror_with_ref_patterns_gets_only_those_refs() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    env.git(&repo, ["branch", "release/1.0"]);
    env.git(&repo, ["branch", "release/2.0"]);
    env.git(&repo, ["branch", "wip"]);
    env.git(&repo, ["tag", "v1.0"]);
    let mirror = env.root().join("releases.git");
    // A ref the mirror has outside its patterns is not ours to prune.
    env.init_bare("releases.git");
    let head = env.head(&repo);
    env.git(
        &repo,
        ["push", "-q", s(&mirror), &format!("{head}:refs/heads/theirs")],
    );

    env.cmd_in(&repo)
        .args([
            "mirror",
            "add",
            "releases",
            s(&mirror),
            "--ref",
            "refs/heads/release/*",
        ])
        .assert()
        .success();
    env.cmd_in(&repo).arg("sync").assert().success();

    let expected =
        format!("{head} refs/heads/release/1.0\n{head} refs/heads/release/2.0\n{head} refs/heads/theirs\n");
    assert_eq!(env.refs(&mirror), expected);
}

/// A local mirror's refs are read the way git serves them: a ref the mirror hides
/// (`transfer.hideRefs`) is not seen, so it is neither pruned nor reported as a refusal.
#[test]
fn refs_a_local_mirror_hides_are_left_alone() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let head = env.head(&repo);
    let mirror = env.init_bare("backup.git");
    env.git(
        &repo,
        ["push", "-q", s(&mirror), &format!("{head}:refs/heads/hidden")],
    );
    env.git(&mirror, ["config", "transfer.hideRefs", "refs/heads/hidden"]);
    env.cmd_in(&repo)
        .args(["mirror", "add", "backup", s(&mirror)])
        .assert()
        .success();

    let out = env.cmd_in(&repo).arg("sync").output().expect("running sync");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let on_mirror = env.git(&mirror, ["for-each-ref", "--format=%(refname)"]);
    assert!(on_mirror.contains("refs/heads/hidden"), "{on_mirror}");
    assert!(on_mirror.contains("refs/heads/main"), "{on_mirror}");
}
