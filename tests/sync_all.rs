//! Nothing escapes: every repository `install` registered (`repo-sync.repo` in the global git
//! config) is covered by `sync --all` and `status --all`, so ref changes that fire no hook (a tag
//! made alone, `git branch -f`, `git reset --hard`, `git update-ref` from a script, a fetch into
//! a bare repository) still reach the mirrors, and a repository whose mirrored refs did not
//! change contacts no mirror.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support;
use crate::support::servers::{SshOptions, SshServer};
use crate::support::{TestEnv, s, sh_quote};

/// `git-repo-sync sync --all` (with `extra` arguments) from the temp dir, not from inside any
/// repository; returns exit code and stdout.
fn sync_all(env: &TestEnv, extra: &[&str], vars: &[(&str, &str)]) -> (i32, String) {
    let out = env
        .cmd_in(env.root())
        .args(["sync", "--all"])
        .args(extra)
        .envs(vars.iter().copied())
        .output()
        .expect("running sync --all");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("sync --all:\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), stdout)
}

fn registered(env: &TestEnv) -> Vec<PathBuf> {
    let out = env
        .git_cmd(env.root())
        .args(["config", "--global", "--get-all", "repo-sync.repo"])
        .output()
        .expect("running git config");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(PathBuf::from)
        .collect()
}

/// A repository with a few commits on `main` and a branch `side`, installed with a local bare
/// mirror and synced once in the foreground.
fn installed_and_synced(env: &TestEnv, name: &str) -> (PathBuf, PathBuf) {
    let repo = env.init_repo(name);
    env.commit(&repo, "second");
    env.commit(&repo, "third");
    env.git(&repo, ["branch", "side", "HEAD~1"]);
    let mirror = env.root().join(format!("{name}-mirror.git"));
    env.install(&repo, &[("m", s(&mirror))]);
    env.cmd_in(&repo).arg("sync").assert().success();
    assert_eq!(env.refs(&mirror), env.refs(&repo));
    (repo, mirror)
}

#[test]
fn install_registers_the_repository_and_uninstall_unregisters_it() {
    let env = TestEnv::new();
    let work = env.init_repo("work");
    let bare = env.init_bare("srv/bare.git");
    env.install(&work, &[("m", s(&env.root().join("m1.git")))]);
    env.install(&bare, &[("m", s(&env.root().join("m2.git")))]);
    env.install(&work, &[]);
    assert_eq!(
        registered(&env),
        vec![work.clone(), bare.clone()],
        "each once, absolute"
    );
    env.cmd_in(&work).arg("uninstall").assert().success();
    assert_eq!(registered(&env), vec![bare]);
}

#[test]
fn ref_changes_that_fire_no_hook_reach_the_mirror_through_sync_all() {
    let env = TestEnv::new();
    let (repo, mirror) = installed_and_synced(&env, "work");
    let changes: [(&str, &[&str]); 4] = [
        ("a tag created alone", &["tag", "v1.0"]),
        ("git branch -f", &["branch", "-f", "side", "HEAD"]),
        ("git reset --hard HEAD~1", &["reset", "-q", "--hard", "HEAD~1"]),
        (
            "git update-ref from a script",
            &["update-ref", "refs/heads/scripted", "HEAD~1"],
        ),
    ];
    for (what, args) in changes {
        env.git(&repo, args);
        assert_ne!(
            env.refs(&mirror),
            env.refs(&repo),
            "{what}: a hook fired after all"
        );
        let (code, out) = sync_all(&env, &[], &[]);
        assert_eq!(code, 0, "{what}: {out}");
        assert_eq!(
            env.refs(&mirror),
            env.refs(&repo),
            "{what} did not reach the mirror"
        );
    }
}

#[test]
fn a_fetch_into_a_bare_repository_reaches_its_mirror_through_sync_all() {
    let env = TestEnv::new();
    let upstream = env.init_repo("upstream");
    let bare = env.root().join("mirror-of-upstream.git");
    env.git(env.root(), ["clone", "-q", "--mirror", s(&upstream), s(&bare)]);
    let onward = env.root().join("onward.git");
    env.install(&bare, &[("onward", s(&onward))]);
    env.commit(&upstream, "upstream moved");
    env.git(&bare, ["fetch", "-q", "origin"]);
    assert_ne!(env.try_refs(&onward), Some(env.refs(&bare)));
    let (code, out) = sync_all(&env, &[], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(env.refs(&onward), env.refs(&bare));
}

#[test]
fn a_second_sync_all_with_nothing_changed_contacts_no_mirror() {
    let env = TestEnv::new();
    let Some(sshd) = SshServer::start(&env, SshOptions::default()) else {
        return;
    };
    let (first, local_mirror) = installed_and_synced(&env, "first");
    let (second, _) = installed_and_synced(&env, "second");
    let remote_mirror = env.init_bare("remote.git");
    env.cmd_in(&second)
        .args(["mirror", "add", "viassh", &sshd.url(&remote_mirror)])
        .args(["--identity-file", s(sshd.client_key())])
        // Reachable only with the ssh command the sync is given below.
        .arg("--no-check")
        .assert()
        .success();
    let ssh = [("GIT_SSH_COMMAND", sshd.git_ssh_command())];
    let vars: Vec<(&str, &str)> = ssh.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, out) = sync_all(&env, &[], &vars);
    assert_eq!(code, 0, "{out}");
    assert_eq!(env.refs(&remote_mirror), env.refs(&second));

    // From now on, any push into the local mirror is counted, and so is any ssh connection.
    let pushes = env.root().join("pushes");
    env.write_executable(
        &local_mirror.join("hooks/pre-receive"),
        &format!("#!/bin/sh\necho push >> {}\n", sh_quote(&pushes)),
    );
    let connections = sshd.auth_connections();
    let logs = [env.log(&first), env.log(&second)];
    let (code, out) = sync_all(&env, &[], &vars);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("not contacted").count(), 3, "{out}");
    assert!(!pushes.exists(), "the local mirror was pushed to");
    assert_eq!(
        sshd.auth_connections(),
        connections,
        "the ssh mirror was contacted"
    );
    assert_eq!([env.log(&first), env.log(&second)], logs);

    // The same pass after one repository changed contacts only that repository's mirror.
    env.git(&first, ["tag", "moved"]);
    let (code, out) = sync_all(&env, &[], &vars);
    assert_eq!(code, 0, "{out}");
    assert!(pushes.exists(), "the changed repository's mirror was not pushed");
    assert_eq!(
        sshd.auth_connections(),
        connections,
        "the quiet repository's ssh mirror was contacted"
    );
}

#[test]
fn status_all_puts_failures_first_and_exits_non_zero() {
    let env = TestEnv::new();
    let (healthy, _) = installed_and_synced(&env, "healthy");
    let (failing, failing_mirror) = installed_and_synced(&env, "failing");
    let (vanished, _) = installed_and_synced(&env, "vanished");
    fs::remove_dir_all(&vanished).expect("removing a repository");
    fs::remove_dir_all(&failing_mirror).expect("removing a mirror");
    env.git(&failing, ["tag", "unsent"]);
    let (code, out) = sync_all(&env, &["--quiet"], &[]);
    assert_eq!(code, 1, "a vanished repository needs the user: {out}");
    let reported: Vec<&str> = out.lines().collect();
    assert_eq!(reported.len(), 2, "--quiet prints the failures only: {out}");

    let status = env
        .cmd_in(env.root())
        .args(["status", "--all"])
        .output()
        .expect("running status --all");
    let text = String::from_utf8_lossy(&status.stdout);
    assert_ne!(status.status.code(), Some(0), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let position = |repo: &Path, what: &str| {
        lines
            .iter()
            .position(|line| line.starts_with(&format!("{}:", repo.display())) && line.contains(what))
            .unwrap_or_else(|| panic!("no line for {} with {what:?}:\n{text}", repo.display()))
    };
    let gone = position(&vanished, "gone");
    let failed = position(&failing, "FAILING");
    let ok = position(&healthy, "ok, last checked");
    assert!(gone < ok && failed < ok, "failures first:\n{text}");

    let json = env
        .cmd_in(env.root())
        .args(["status", "--all", "--json"])
        .output()
        .expect("running status --all --json");
    let entries: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(entries.as_array().map(Vec::len), Some(3), "{entries}");
}

#[test]
fn git_for_each_repo_runs_sync_in_every_registered_repository() {
    let env = TestEnv::new();
    let (repo, mirror) = installed_and_synced(&env, "work");
    let bin_dir = env.root().join("bin");
    env.copy_binary(&bin_dir);
    env.git(&repo, ["tag", "via-for-each-repo"]);
    let mut cmd = env.git_cmd(env.root());
    let path = support::tools::path_with(&[&bin_dir], env.path_var());
    cmd.env("PATH", path)
        .args(["for-each-repo", "--config=repo-sync.repo", "repo-sync", "sync"]);
    support::run_ok(&mut cmd);
    assert_eq!(env.refs(&mirror), env.refs(&repo));
}

#[test]
fn a_trigger_the_schedule_finds_replaced_is_told_once() {
    let env = TestEnv::new();
    let (repo, _) = installed_and_synced(&env, "work");
    let told = env.root().join("told.txt");
    let config = env.config_path(&repo);
    let mut text = fs::read_to_string(&config).expect("the config");
    text.push_str(&format!(
        "on_failure = \"echo \\\"$GIT_REPO_SYNC_ERROR\\\" >> {}\"\n",
        s(&told)
    ));
    fs::write(&config, text).expect("writing the config");
    env.write_executable(&env.hooks_dir(&repo).join("post-commit"), "#!/bin/sh\nexit 0\n");
    for _ in 0..2 {
        let (code, out) = sync_all(&env, &["--quiet"], &[]);
        assert_eq!(code, 1, "{out}");
        assert!(
            out.contains("triggers:") && out.contains("git-repo-sync install"),
            "{out}"
        );
    }
    let said = fs::read_to_string(&told).expect("on_failure ran");
    assert_eq!(said.lines().count(), 1, "once, not at every pass: {said}");
    assert!(said.contains("post-commit"), "{said}");
    let notice = fs::read_to_string(env.common_dir(&repo).join("repo-sync.notice")).expect("a notice");
    assert!(notice.contains("no longer runs our trigger"), "{notice}");
    assert_eq!(env.status_json(&repo)["triggers"]["ok"], false);
}

#[test]
fn a_state_file_of_an_earlier_release_takes_no_pass_when_nothing_changed() {
    let env = TestEnv::new();
    let (repo, mirror) = installed_and_synced(&env, "project");
    // What the release before the stable fingerprint kept for this mirror.
    let common = env.common_dir(&repo);
    let opened = git_repo_sync::Repo::open(&repo).expect("opening the repository");
    let config = git_repo_sync::Config::for_repo(&opened).expect("the config");
    let local = git_repo_sync::local_refs(&opened).expect("the refs");
    let earlier = git_repo_sync::earlier_fingerprint(&config.mirrors["m"], &local);
    let state_path = common.join("repo-sync-state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&state_path).expect("the state")).expect("json");
    state["mirrors"]["m"]["synced_refs"] = serde_json::Value::String(earlier);
    fs::write(&state_path, state.to_string()).expect("writing the state");
    // Any contact with the mirror would now fail.
    fs::rename(&mirror, env.root().join("away.git")).expect("moving the mirror away");
    let (code, out) = sync_all(&env, &[], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("not contacted"), "{out}");
}
