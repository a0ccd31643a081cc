//! The hook-manager fixtures of `support::managers`, proven on their own: in a fresh repository
//! without git-repo-sync, each manager's post-commit hook runs once per commit, and still does
//! after the manager re-installs itself. Without the managers (`.ci/install-hook-tools`) these
//! tests print `skipped: ...` and pass, except under `CI=true`.

mod support;

use support::TestEnv;
use support::managers::{Kind, Manager};

/// Sets the manager up in a fresh repository, commits, re-installs it, commits again.
fn post_commit_hook_runs(kind: Kind) {
    let mut env = TestEnv::new();
    let Some(manager) = Manager::new(kind, &mut env) else {
        return;
    };
    let repo = env.init_repo("work");
    let said = manager.setup(&env, &repo);
    assert_eq!(
        manager.runs(&repo),
        0,
        "{} ran before any commit: {said}",
        kind.name()
    );
    env.commit(&repo, "first");
    assert_eq!(
        manager.runs(&repo),
        1,
        "{}'s post-commit hook after one commit (setup said: {said})",
        kind.name()
    );
    let said = manager.reinstall(&env, &repo);
    env.commit(&repo, "second");
    assert_eq!(
        manager.runs(&repo),
        2,
        "{}'s post-commit hook after a re-install (it said: {said})",
        kind.name()
    );
}

#[test]
fn husky_post_commit_hook_runs_in_the_fixture() {
    post_commit_hook_runs(Kind::Husky);
}

#[test]
fn lefthook_post_commit_hook_runs_in_the_fixture() {
    post_commit_hook_runs(Kind::Lefthook);
}

#[test]
fn lefthook_post_commit_hook_runs_after_it_resyncs_on_a_config_change() {
    let mut env = TestEnv::new();
    let Some(manager) = Manager::new(Kind::Lefthook, &mut env) else {
        return;
    };
    let repo = env.init_repo("work");
    manager.setup(&env, &repo);
    let said = manager.change_config_and_commit(&env, &repo);
    assert_eq!(manager.runs(&repo), 1, "lefthook on the config commit: {said}");
    assert!(
        env.hooks_dir(&repo).join("post-merge").is_file(),
        "lefthook did not install its new post-merge hook by itself: {said}"
    );
    env.commit(&repo, "after");
    assert_eq!(manager.runs(&repo), 2, "lefthook after its re-sync");
}

#[test]
fn pre_commit_post_commit_hook_runs_in_the_fixture() {
    post_commit_hook_runs(Kind::PreCommit);
}

#[test]
fn prek_post_commit_hook_runs_in_the_fixture() {
    post_commit_hook_runs(Kind::Prek);
}
