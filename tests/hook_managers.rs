//! git-repo-sync beside the hook managers people use (husky, lefthook, pre-commit, prek), in
//! both orders of installation and after the manager re-installs itself, under the machine's
//! git (hook files) and a git with config-based hooks: the manager's hook always runs, and every
//! commit reaches the mirror or, with hook files only, `status` and `doctor` flag our trigger
//! with a fix that makes both run again. First, the fixtures proven on their own.
//! Without the managers (`.ci/install-hook-tools`) these tests print `skipped: ...` and pass,
//! except under `CI=true`.

use std::path::PathBuf;

use crate::support::managers::{Kind, Manager};
use crate::support::tools::{Tool, path_with, require_tool};
use crate::support::{MARKER, TestEnv, WAIT, s};

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

// ---------------------------------------------------------------------------------------------
// Living beside git-repo-sync

/// Which git runs the hooks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Git {
    /// The machine's git (2.47): hook files only.
    Machine,
    /// git >= 2.54: config-based hooks.
    ConfigHooks,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Order {
    ManagerFirst,
    OursFirst,
}

/// What a user sees after each step: one commit runs the manager's post-commit hook once and
/// reaches the mirror; or, with hook files only, `status` flags our trigger with a fix, and that
/// fix, once run, makes the next commit do both.
struct Scenario {
    env: TestEnv,
    manager: Manager,
    git: Git,
    repo: PathBuf,
    mirror: PathBuf,
    commits: usize,
}

impl Scenario {
    fn start(kind: Kind, git: Git) -> Option<Self> {
        let mut env = TestEnv::new();
        let manager = Manager::new(kind, &mut env)?;
        if git == Git::ConfigHooks {
            let new_git = require_tool("the config-based hook tests", Tool::NewGit)?;
            let dir = new_git.parent().expect("git's directory").to_path_buf();
            let path = path_with(&[&dir], env.path_var());
            env.set_path_var(path);
        }
        let repo = env.init_repo("work");
        let mirror = env.init_bare("mirror.git");
        Some(Self {
            env,
            manager,
            git,
            repo,
            mirror,
            commits: 0,
        })
    }

    fn install_ours(&self) {
        self.env.install(&self.repo, &[("m", s(&self.mirror))]);
    }

    /// A commit, after which the manager's hook has run once more.
    fn commit(&mut self, step: &str) {
        self.commits += 1;
        self.env.commit(&self.repo, &format!("after {step}"));
        assert_eq!(
            self.manager.runs(&self.repo),
            self.commits,
            "{}'s post-commit hook did not run after {step} (git: {:?})",
            self.manager.kind().name(),
            self.git
        );
    }

    /// A commit that runs the manager's hook and reaches the mirror; with hook files, a commit
    /// that does not reach it must leave the trigger flagged, and the flagged fix mends it.
    fn commit_reaches_mirror_or_is_flagged(&mut self, step: &str) {
        self.commit(step);
        let status = self.env.status_json(&self.repo);
        let triggers = &status["triggers"];
        if triggers["ok"] == true {
            self.env.wait_until_refs_equal(&self.repo, &self.mirror, WAIT);
            return;
        }
        assert_eq!(
            self.git,
            Git::Machine,
            "with config-based hooks nothing may be flagged after {step}: {triggers}"
        );
        let problem = &triggers["problems"][0];
        let fix = problem["fix"].as_str().expect("a fix");
        assert!(fix.starts_with("git-repo-sync install "), "{triggers}");
        let doctor = self
            .env
            .cmd_in(&self.repo)
            .arg("doctor")
            .output()
            .expect("running doctor");
        assert_eq!(doctor.status.code(), Some(1), "doctor after {step}");
        assert!(
            String::from_utf8_lossy(&doctor.stdout).contains("fix: git-repo-sync install"),
            "{}",
            String::from_utf8_lossy(&doctor.stdout)
        );
        self.install_ours();
        assert_eq!(
            self.env.status_json(&self.repo)["triggers"]["ok"],
            true,
            "the fix did not mend the trigger after {step}"
        );
        self.commit(&format!("{step} and the fix"));
        self.env.wait_until_refs_equal(&self.repo, &self.mirror, WAIT);
    }

    /// Uninstall leaves no trigger of ours anywhere, and the manager's hook still runs.
    fn uninstall_leaves_the_manager_alone(&mut self) {
        self.env.cmd_in(&self.repo).arg("uninstall").assert().success();
        let config = self.env.git(&self.repo, ["config", "--list"]);
        assert!(!config.contains("git-repo-sync"), "{config}");
        for dir in [self.repo.join(".git/hooks"), self.repo.join(".husky/_")] {
            let ours: Vec<PathBuf> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| entry.path())
                .filter(|path| std::fs::read_to_string(path).is_ok_and(|text| text.contains(MARKER)))
                .collect();
            assert!(ours.is_empty(), "uninstall left {ours:?}");
        }
        self.commit("uninstall");
    }
}

fn lives_beside(kind: Kind, git: Git, order: Order) {
    let Some(mut scenario) = Scenario::start(kind, git) else {
        return;
    };
    let repo = scenario.repo.clone();
    match order {
        Order::ManagerFirst => {
            scenario.manager.setup(&scenario.env, &repo);
            scenario.install_ours();
        }
        Order::OursFirst => {
            scenario.install_ours();
            scenario.manager.setup(&scenario.env, &repo);
        }
    }
    scenario.commit_reaches_mirror_or_is_flagged("both installs");
    scenario.manager.reinstall(&scenario.env, &repo);
    scenario.commit_reaches_mirror_or_is_flagged("the manager re-installed itself");
    if kind == Kind::Lefthook {
        // lefthook re-syncs its hooks in the hook of this very commit.
        scenario.commits += 1;
        scenario.manager.change_config_and_commit(&scenario.env, &repo);
        assert_eq!(scenario.manager.runs(&repo), scenario.commits);
        scenario.commit_reaches_mirror_or_is_flagged("lefthook re-synced on a config change");
    }
    scenario.uninstall_leaves_the_manager_alone();
}

macro_rules! beside {
    ($($name:ident: $kind:expr, $git:expr, $order:expr;)*) => {
        $(
            #[test]
            fn $name() {
                lives_beside($kind, $git, $order);
            }
        )*
    };
}

beside! {
    husky_first_then_ours_both_run_with_hook_files: Kind::Husky, Git::Machine, Order::ManagerFirst;
    ours_first_then_husky_both_run_with_hook_files: Kind::Husky, Git::Machine, Order::OursFirst;
    husky_first_then_ours_both_run_with_config_hooks: Kind::Husky, Git::ConfigHooks, Order::ManagerFirst;
    ours_first_then_husky_both_run_with_config_hooks: Kind::Husky, Git::ConfigHooks, Order::OursFirst;
    lefthook_first_then_ours_both_run_with_hook_files: Kind::Lefthook, Git::Machine, Order::ManagerFirst;
    ours_first_then_lefthook_both_run_with_hook_files: Kind::Lefthook, Git::Machine, Order::OursFirst;
    lefthook_first_then_ours_both_run_with_config_hooks: Kind::Lefthook, Git::ConfigHooks, Order::ManagerFirst;
    ours_first_then_lefthook_both_run_with_config_hooks: Kind::Lefthook, Git::ConfigHooks, Order::OursFirst;
    pre_commit_first_then_ours_both_run_with_hook_files: Kind::PreCommit, Git::Machine, Order::ManagerFirst;
    ours_first_then_pre_commit_both_run_with_hook_files: Kind::PreCommit, Git::Machine, Order::OursFirst;
    pre_commit_first_then_ours_both_run_with_config_hooks: Kind::PreCommit, Git::ConfigHooks, Order::ManagerFirst;
    ours_first_then_pre_commit_both_run_with_config_hooks: Kind::PreCommit, Git::ConfigHooks, Order::OursFirst;
    prek_first_then_ours_both_run_with_hook_files: Kind::Prek, Git::Machine, Order::ManagerFirst;
    ours_first_then_prek_both_run_with_hook_files: Kind::Prek, Git::Machine, Order::OursFirst;
    prek_first_then_ours_both_run_with_config_hooks: Kind::Prek, Git::ConfigHooks, Order::ManagerFirst;
    ours_first_then_prek_both_run_with_config_hooks: Kind::Prek, Git::ConfigHooks, Order::OursFirst;
}
