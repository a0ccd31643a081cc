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

/// Every setting of the config file is an option of `mirror add`, is written to the file as the
/// file spells it, and `mirror list` shows it when it is not at its default.
#[test]
fn every_setting_can_be_given_to_mirror_add_and_is_listed() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let key = env.root().join("deploy key");
    env.cmd_in(&repo)
        .args([
            "mirror",
            "add",
            "forge",
            "ssh://git@forge.example/me/project.git",
            "--no-check",
            "--ref",
            "refs/heads/main",
            "--ref",
            "refs/tags/*",
            "--no-prune",
            "--no-force",
            "--identity-file",
            s(&key),
            "--timeout",
            "12",
            "--trust-new-host-key",
            "--retries",
            "5",
            "--retry-max-delay",
            "90",
            "--ssh-keep-open",
            "5",
            "--on-failure",
            "notify-send 'mirror failing'",
        ])
        .assert()
        .success();
    let written = std::fs::read_to_string(env.config_path(&repo)).expect("the config");
    for line in [
        "refs = [\"refs/heads/main\", \"refs/tags/*\"]",
        "prune = false",
        "force = false",
        &format!("identity_file = \"{}\"", s(&key)),
        "timeout = 12",
        "trust_new_host_key = true",
        "retries = 5",
        "retry_max_delay = 90",
        "ssh_keep_open = 5",
        "on_failure = \"notify-send 'mirror failing'\"",
    ] {
        assert!(written.lines().any(|l| l == line), "no {line:?} in:\n{written}");
    }
    let out = env
        .cmd_in(&repo)
        .args(["mirror", "list"])
        .output()
        .expect("mirror list");
    let listed = String::from_utf8_lossy(&out.stdout);
    for shown in [
        "prune = false",
        "retries = 5",
        "retry_max_delay = 90",
        "ssh_keep_open = 5",
        "on_failure = ",
    ] {
        assert!(
            listed.contains(shown),
            "mirror list does not show {shown:?}:\n{listed}"
        );
    }

    // A value out of range is refused with the option's name, and nothing is written.
    let before = std::fs::read(env.config_path(&repo)).expect("the config");
    env.cmd_in(&repo)
        .args([
            "mirror",
            "add",
            "nas",
            "/srv/nas.git",
            "--no-check",
            "--retries",
            "50",
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("--retries must be between 0 and 20"));
    assert_eq!(std::fs::read(env.config_path(&repo)).expect("the config"), before);
}
