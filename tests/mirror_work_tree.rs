//! A repository with a work tree keeps its mirrors equal to itself: commits, branches, tags,
//! deletions, amends, merges and rebases all arrive.

use std::fs;
use std::time::Duration;

use crate::support;
use crate::support::{MARKER, Snapshot, TestEnv, WAIT, WORK_TREE_HOOKS, file_url, run_within, s, wait_for};

/// A mirror that install creates names the source's branch in its HEAD (as `git clone --bare`
/// would), so `git log` in it shows what arrived, whatever git's default branch name is.
#[test]
fn a_created_mirror_follows_the_source_branch() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    env.git(&repo, ["branch", "-q", "-m", "trunk"]);
    let mirror = env.root().join("new.git");
    env.install(&repo, &[("backup", s(&mirror))]);
    env.commit(&repo, "on trunk");
    env.wait_for_mirrors(&repo, &[mirror.as_path()]);
    assert_eq!(
        env.git(&mirror, ["log", "-1", "--format=%H"]).trim(),
        env.head(&repo)
    );
}

/// Item 1.
#[test]
fn commits_branches_tags_deletions_and_amends_reach_both_mirrors() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    // A path that does not exist yet (install creates it) and a file:// URL.
    let path_mirror = env.root().join("mirrors/backup.git");
    let url_mirror = env.init_bare("mirrors/served.git");
    env.install(
        &repo,
        &[("backup", s(&path_mirror)), ("served", &file_url(&url_mirror))],
    );
    assert!(
        path_mirror.join("HEAD").is_file(),
        "install creates a local path mirror that does not exist as a bare repository"
    );
    let mirrors = [path_mirror.as_path(), url_mirror.as_path()];

    env.commit(&repo, "first");
    env.wait_for_mirrors(&repo, &mirrors);
    env.commit(&repo, "second");
    env.wait_for_mirrors(&repo, &mirrors);

    // A new branch, with a commit on it.
    env.git(&repo, ["switch", "-q", "-c", "feature"]);
    env.commit(&repo, "on feature");
    env.wait_for_mirrors(&repo, &mirrors);

    // Tags fire no hook of their own: they travel with the next commit.
    env.git(&repo, ["tag", "v1.0"]);
    env.git(&repo, ["tag", "-a", "-m", "annotated", "v1.1"]);
    env.commit(&repo, "after the tags");
    env.wait_for_mirrors(&repo, &mirrors);
    assert!(env.refs(&path_mirror).contains("refs/tags/v1.1"));

    // A branch deletion, then a commit.
    env.git(&repo, ["switch", "-q", "main"]);
    env.git(&repo, ["branch", "-q", "-D", "feature"]);
    env.commit(&repo, "after deleting feature");
    env.wait_for_mirrors(&repo, &mirrors);
    for mirror in mirrors {
        assert!(!env.refs(mirror).contains("refs/heads/feature"));
    }

    // An amend (post-rewrite).
    env.change_file(&repo, "amended");
    env.git(&repo, ["commit", "-q", "-a", "--amend", "-m", "second, amended"]);
    env.wait_for_mirrors(&repo, &mirrors);
}

#[test]
fn a_merge_and_a_rebase_reach_the_mirror() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.init_bare("mirror.git");
    env.install(&repo, &[("backup", s(&mirror))]);

    env.git(&repo, ["switch", "-q", "-c", "topic"]);
    env.commit(&repo, "topic work");
    env.git(&repo, ["switch", "-q", "main"]);
    env.commit(&repo, "main work");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);

    // A merge commit fires post-merge, not post-commit.
    env.git(&repo, ["merge", "-q", "--no-ff", "--no-edit", "topic"]);
    env.wait_until_refs_equal(&repo, &mirror, WAIT);

    // A rebase fires post-rewrite.
    env.git(&repo, ["switch", "-q", "topic"]);
    env.commit(&repo, "more topic work");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    env.git(&repo, ["rebase", "-q", "main"]);
    env.wait_until_refs_equal(&repo, &mirror, WAIT);

    // A fast-forward merge fires post-merge too.
    env.git(&repo, ["switch", "-q", "main"]);
    env.git(&repo, ["merge", "-q", "--ff-only", "topic"]);
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
}

#[test]
fn sync_brings_a_lone_tag_across_immediately() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.root().join("backup.git");
    env.install(&repo, &[("backup", s(&mirror))]);
    env.cmd_in(&repo).arg("sync").assert().success();
    assert_eq!(env.refs(&mirror), env.refs(&repo));

    env.git(&repo, ["tag", "v2.0"]);
    let out = env.cmd_in(&repo).arg("sync").assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        stdout.lines().any(|l| l.starts_with("backup")),
        "sync prints one line per mirror, starting with its name; got:\n{stdout}"
    );
    // No waiting: sync is the foreground push.
    let mirror_refs = env.refs(&mirror);
    assert!(mirror_refs.contains("refs/tags/v2.0"), "{mirror_refs}");
    assert_eq!(mirror_refs, env.refs(&repo));
}

#[test]
fn sync_ignores_an_inherited_git_dir() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    env.git(&repo, ["tag", "v1"]);
    let mirror = env.root().join("backup.git");
    env.install(&repo, &[("backup", s(&mirror))]);
    let before = env.all_refs(&repo);

    // As inside a hook: git exports GIT_DIR, and a local-path push must still go to the mirror.
    env.cmd_in(&repo)
        .env("GIT_DIR", repo.join(".git"))
        .env("GIT_WORK_TREE", &repo)
        .arg("sync")
        .assert()
        .success();

    assert_eq!(env.refs(&mirror), env.refs(&repo), "the mirror got the refs");
    assert_eq!(
        env.all_refs(&repo),
        before,
        "sync wrote refs into the source repository"
    );
}

#[test]
fn a_commit_made_with_git_dir_exported_reaches_the_mirror() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.root().join("backup.git");
    env.install(&repo, &[("backup", s(&mirror))]);

    env.change_file(&repo, "with GIT_DIR");
    let mut git = env.git_cmd(&repo);
    git.env("GIT_DIR", repo.join(".git"))
        .env("GIT_WORK_TREE", &repo)
        .args(["commit", "-q", "-a", "-m", "with GIT_DIR exported"]);
    support::run_ok(&mut git);

    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    assert_eq!(
        env.all_refs(&repo),
        env.refs(&repo),
        "the source repository has only its own branches and tags"
    );
}

#[test]
fn a_commit_returns_before_the_mirror_push_ends() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.init_bare("mirror.git");
    env.install(&repo, &[("backup", s(&mirror))]);
    let gate = env.block_pushes(&mirror);

    env.change_file(&repo, "while the mirror is slow");
    let mut commit = env.git_cmd(&repo);
    commit.args(["commit", "-q", "-a", "-m", "while the mirror is slow"]);
    // Waits for the commit's stdout and stderr to close too: a worker that kept them open would
    // hold every script that captures git's output.
    let out = run_within(commit, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("git commit waited for the mirror: {e}\nlog:\n{}", env.log(&repo)));
    assert!(out.status.success(), "{out:?}");

    wait_for(
        WAIT,
        || gate.entered(),
        || format!("the worker never pushed; log:\n{}", env.log(&repo)),
    );
    assert_ne!(env.try_refs(&mirror).unwrap_or_default(), env.refs(&repo));
    gate.release();
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
}

#[test]
fn a_burst_of_commits_ends_with_the_last_state_on_the_mirror() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.init_bare("mirror.git");
    env.install(&repo, &[("backup", s(&mirror))]);
    let gate = env.block_pushes(&mirror);

    env.commit(&repo, "burst 1");
    wait_for(
        WAIT,
        || gate.entered(),
        || format!("the worker never pushed; log:\n{}", env.log(&repo)),
    );
    // These arrive while a worker is busy: it must make one more pass for them.
    for i in 2..=6 {
        env.commit(&repo, &format!("burst {i}"));
    }
    env.git(&repo, ["tag", "after-burst"]);
    env.commit(&repo, "burst 7");
    gate.release();
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
}

/// Item 4: hooks go where `core.hooksPath` points (as husky sets it).
#[test]
fn hooks_go_to_core_hooks_path_inside_the_work_tree() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    fs::create_dir_all(repo.join(".husky/_")).expect("creating .husky/_");
    env.git(&repo, ["config", "core.hooksPath", ".husky/_"]);
    let mirror = env.root().join("backup.git");
    env.install(&repo, &[("backup", s(&mirror))]);

    for hook in WORK_TREE_HOOKS {
        let ours = repo.join(".husky/_").join(hook);
        let text = fs::read_to_string(&ours).unwrap_or_else(|e| panic!("no hook at {}: {e}", ours.display()));
        assert!(text.contains(MARKER), "{}:\n{text}", ours.display());
        assert!(
            !repo.join(".git/hooks").join(hook).exists(),
            "{hook} written to .git/hooks, where git does not look"
        );
    }

    env.commit(&repo, "through core.hooksPath");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
}

#[test]
fn an_empty_core_hooks_path_is_refused() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    env.git(&repo, ["config", "core.hooksPath", ""]);
    let before = Snapshot::of(&repo);

    let out = env
        .cmd_in(&repo)
        .args(["install", "--yes", "--mirror"])
        .arg(format!("backup={}", s(&env.root().join("backup.git"))))
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("core.hooksPath"), "stderr:\n{stderr}");
    before.assert_unchanged(&Snapshot::of(&repo), "a refused install");
    assert!(!env.root().join("backup.git").exists());
}

/// Item 4: linked worktrees share the common dir's hooks, and their commits sync.
#[test]
fn a_linked_worktree_shares_the_hooks_and_its_commits_sync() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let worktree = env.root().join("project-wt");
    env.git(&repo, ["worktree", "add", "-q", "-b", "side", s(&worktree)]);
    let mirror = env.root().join("backup.git");

    // Installed from inside the linked worktree: the hooks and config still go to the common dir.
    env.cmd_in(&worktree)
        .args(["install", "--yes", "--mirror"])
        .arg(format!("backup={}", s(&mirror)))
        .assert()
        .success();
    let common = repo.join(".git");
    for hook in WORK_TREE_HOOKS {
        let text = fs::read_to_string(common.join("hooks").join(hook)).unwrap_or_default();
        assert!(text.contains(MARKER), "{hook} missing from the common hooks dir");
    }
    assert!(common.join("repo-sync.toml").is_file());
    let private = common.join("worktrees/project-wt");
    assert!(
        !private.join("hooks").exists(),
        "hooks written into {}",
        private.display()
    );
    assert!(!private.join("repo-sync.toml").exists());

    env.commit(&worktree, "in the linked worktree");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    env.commit(&repo, "in the main worktree");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    assert!(env.refs(&mirror).contains("refs/heads/side"));
}

/// Item 4, both at once: a relative `core.hooksPath` (husky's `.husky/_`) resolves in each
/// worktree's own checkout, and commits in the linked worktree still sync.
#[test]
fn a_linked_worktree_with_a_relative_core_hooks_path_also_syncs() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    env.git(&repo, ["config", "core.hooksPath", ".husky/_"]);
    let worktree = env.root().join("project-wt");
    env.git(&repo, ["worktree", "add", "-q", "-b", "side", s(&worktree)]);
    // husky creates its `_` dir in every checkout.
    for checkout in [&repo, &worktree] {
        fs::create_dir_all(checkout.join(".husky/_")).expect("creating .husky/_");
    }
    let mirror = env.root().join("backup.git");
    env.install(&repo, &[("backup", s(&mirror))]);

    for checkout in [&repo, &worktree] {
        let dir = env.hooks_dir(checkout);
        let text = fs::read_to_string(dir.join("post-commit")).unwrap_or_default();
        assert!(
            text.contains(MARKER),
            "no post-commit where git looks: {}",
            dir.display()
        );
    }
    env.commit(&worktree, "in the linked worktree");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    env.commit(&repo, "in the main worktree");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);

    env.cmd_in(&repo).arg("uninstall").assert().success();
    for checkout in [&repo, &worktree] {
        let hook = env.hooks_dir(checkout).join("post-commit");
        assert!(!hook.exists(), "uninstall left {}", hook.display());
    }
}
