//! A hook run without HOME (from a GUI, a service) prints nothing and still syncs; registering
//! the repository for `sync --all`, which needs the global git config, waits for a command run
//! by a user who has one.

use std::fs;
use std::path::Path;

use crate::support::{TestEnv, WAIT, run_ok, s};

/// `git commit` in `repo` as a GUI without HOME would run it: no HOME, no global git config,
/// no XDG dirs. What git printed on stderr (the hooks' included).
fn commit_without_home(env: &TestEnv, repo: &Path, message: &str) -> String {
    env.change_file(repo, message);
    let mut cmd = env.git_cmd(repo);
    cmd.env_remove("HOME")
        .env_remove("GIT_CONFIG_GLOBAL")
        .env_remove("XDG_CONFIG_HOME")
        .args(["commit", "-q", "-m", message]);
    let out = cmd.output().expect("running git commit");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The repositories `repo-sync.repo` in the (test's) global git config lists.
fn registered(env: &TestEnv) -> String {
    let out = env
        .git_cmd(env.root())
        .args(["config", "--global", "--get-all", "repo-sync.repo"])
        .output()
        .expect("running git config");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_commit_without_home_prints_nothing_and_reaches_the_mirror() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.root().join("backup.git");
    env.install(&repo, &[("backup", s(&mirror))]);

    let said = commit_without_home(&env, &repo, "from a GUI");
    assert_eq!(said, "", "the commit printed on stderr");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
}

#[test]
fn a_repository_a_trigger_without_home_left_unregistered_is_registered_by_status() {
    let env = TestEnv::new();
    // Mirrors for every repository from the system's config, our hooks in a template directory:
    // a repository made from it is never installed into and registers on its first trigger.
    let nas = env.root().join("nas");
    let system = env.system_config_path();
    fs::create_dir_all(system.parent().expect("a parent")).expect("creating /etc's stand-in");
    fs::write(
        &system,
        format!("[mirrors.nas]\nurl = \"{}/{{{{name}}}}.git\"\n", s(&nas)),
    )
    .expect("writing the system config");
    let mirror = env.init_bare("nas/fresh.git");
    let template = env.root().join("git-template");
    env.cmd()
        .args(["install", "--template-dir", s(&template)])
        .assert()
        .success();
    let fresh = env.root().join("fresh");
    run_ok(
        env.git_cmd(env.root())
            .arg("init")
            .arg("-q")
            .arg(format!("--template={}", s(&template)))
            .arg(&fresh),
    );

    let said = commit_without_home(&env, &fresh, "from a GUI");
    assert_eq!(said, "", "the commit printed on stderr");
    env.wait_until_refs_equal(&fresh, &mirror, WAIT);
    assert!(!registered(&env).contains(s(&fresh)), "{}", registered(&env));

    let out = env.cmd_in(&fresh).arg("status").output().expect("running status");
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = registered(&env);
    assert!(
        listed.lines().any(|line| line == s(&fresh)),
        "status did not register it:\n{listed}"
    );
    let status = env.status_json(&fresh);
    assert_eq!(status["triggers"]["last_fired_by"], "post-commit", "{status:#}");
}
