//! The command line behaves as documented: `git repo-sync` works, `-C` and `-q` work, usage
//! errors exit 2, and `mirror add/list/remove` manage the configuration.

use std::fs;

use crate::support;
use crate::support::{TestEnv, s};

#[test]
fn a_usage_error_exits_2() {
    let env = TestEnv::new();
    env.cmd().arg("no-such-command").assert().code(2);
    env.cmd().args(["sync", "--no-such-flag"]).assert().code(2);
}

#[test]
fn git_repo_sync_works_as_a_git_subcommand() {
    let mut env = TestEnv::new();
    let repo = env.init_repo("project");
    let bin_dir = env.root().join("bin");
    env.copy_binary(&bin_dir);
    let mut path = vec![bin_dir];
    path.extend(std::env::split_paths(env.path_var()));
    env.set_path_var(std::env::join_paths(path).expect("joining PATH"));

    env.git(
        &repo,
        [
            "repo-sync",
            "mirror",
            "add",
            "backup",
            s(&env.root().join("backup.git")),
        ],
    );
    let list = env.git(&repo, ["repo-sync", "mirror", "list"]);
    assert!(list.contains("backup"), "{list}");
}

#[test]
fn dash_c_runs_as_if_started_there() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.root().join("backup.git");
    env.cmd()
        .args(["-C", s(&repo), "mirror", "add", "backup", s(&mirror)])
        .assert()
        .success();
    assert!(env.config_path(&repo).is_file());
    env.cmd().args(["-C", s(&repo), "sync"]).assert().success();
    assert_eq!(env.refs(&mirror), env.refs(&repo));
}

#[test]
fn quiet_sync_prints_nothing_when_all_is_well() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    env.cmd_in(&repo)
        .args(["mirror", "add", "backup", s(&env.root().join("backup.git"))])
        .assert()
        .success();
    env.cmd_in(&repo)
        .args(["-q", "sync"])
        .assert()
        .success()
        .stdout("")
        .stderr("");
}

#[test]
fn mirror_add_list_and_remove_manage_the_config() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let backup = env.root().join("backup.git");
    let other = env.root().join("other.git");

    env.cmd_in(&repo)
        .args(["mirror", "add", "backup", s(&backup)])
        .assert()
        .success();
    assert!(
        backup.join("HEAD").is_file(),
        "mirror add creates a missing local path mirror as a bare repository"
    );
    assert_eq!(
        env.git(&backup, ["rev-parse", "--is-bare-repository"]).trim(),
        "true"
    );
    env.cmd_in(&repo)
        .args([
            "mirror",
            "add",
            "other",
            s(&other),
            "--ref",
            "refs/heads/release/*",
        ])
        .assert()
        .success();

    // The same name twice is an error that changes nothing.
    let config = fs::read(env.config_path(&repo)).expect("config written");
    env.cmd_in(&repo)
        .args(["mirror", "add", "backup", s(&other)])
        .assert()
        .code(1);
    assert_eq!(fs::read(env.config_path(&repo)).expect("config"), config);

    let out = env.cmd_in(&repo).args(["mirror", "list"]).assert().success();
    let list = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(list.contains("backup") && list.contains(s(&backup)), "{list}");
    assert!(list.contains("other") && list.contains(s(&other)), "{list}");

    env.cmd_in(&repo)
        .args(["mirror", "remove", "backup"])
        .assert()
        .success();
    let out = env.cmd_in(&repo).args(["mirror", "list"]).assert().success();
    let list = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(!list.contains("backup"), "{list}");
    assert!(list.contains("other"), "{list}");
    assert!(
        backup.exists(),
        "removing a mirror from the config leaves the mirror itself alone"
    );

    // Removing a mirror that is not there is an error.
    env.cmd_in(&repo)
        .args(["mirror", "remove", "backup"])
        .assert()
        .code(1);
}

#[test]
fn a_non_repository_is_an_error() {
    let env = TestEnv::new();
    let plain = env.root().join("plain");
    fs::create_dir_all(&plain).expect("creating a plain dir");
    env.cmd_in(&plain).arg("status").assert().code(1);
    let mut install = env.std_cmd_in(env.root());
    install.args(["install", "--yes", s(&plain)]);
    let out = install.output().expect("running install");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        fs::read_dir(&plain).expect("read_dir").next().is_none(),
        "install wrote into a directory that is not a repository"
    );
}

/// `git-repo-sync ARGS` in `dir` under umask 022, asserted to succeed.
fn run_with_umask_022(env: &TestEnv, dir: &std::path::Path, args: &[&str]) {
    let mut cmd = std::process::Command::new("sh");
    env.apply_env(&mut cmd);
    cmd.current_dir(dir)
        .args(["-c", "umask 022; exec \"$0\" \"$@\"", support::BIN])
        .args(args);
    support::run_ok(&mut cmd);
}

/// The permission bits of a file, in octal.
fn mode_of(path: &std::path::Path) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode();
    format!("{:o}", mode & 0o7777)
}

/// The config and the state file get the mode any new file gets (0666 less the umask, as git's
/// own files), not a temp file's 0600: run as root, `install` must leave files the owner's hooks
/// can read. A file that is replaced keeps the mode it had.
#[test]
fn config_and_state_get_a_normal_files_mode_or_keep_the_one_they_had() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let common = env.common_dir(&repo);
    let config = common.join("repo-sync.toml");
    let state = common.join("repo-sync-state.json");
    let backup = env.root().join("backup.git");
    let nas = env.root().join("nas.git");

    run_with_umask_022(
        &env,
        &repo,
        &["install", "--yes", "--mirror", &format!("backup={}", s(&backup))],
    );
    assert_eq!(mode_of(&config), "644", "repo-sync.toml after install");
    run_with_umask_022(&env, &repo, &["sync"]);
    assert_eq!(mode_of(&state), "644", "the state file after sync");

    run_with_umask_022(&env, &repo, &["mirror", "add", "nas", s(&nas)]);
    assert_eq!(mode_of(&config), "644", "repo-sync.toml after mirror add");
    run_with_umask_022(&env, &repo, &["sync"]);
    assert_eq!(mode_of(&state), "644", "the state file after a second sync");

    // `mirror add` writing the first config of a repository.
    let other = env.init_repo("other");
    run_with_umask_022(&env, &other, &["mirror", "add", "backup", s(&backup)]);
    assert_eq!(
        mode_of(&env.config_path(&other)),
        "644",
        "repo-sync.toml written first by mirror add"
    );

    // A mode the owner chose survives the next rewrite.
    fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o640)).expect("chmod");
    run_with_umask_022(&env, &repo, &["mirror", "remove", "nas"]);
    assert_eq!(mode_of(&config), "640", "repo-sync.toml after mirror remove");
}

/// Every command a user can run, with its help: a one-line summary and at least one example.
#[test]
fn every_subcommand_has_a_summary_and_an_example_in_its_help() {
    let env = TestEnv::new();
    let commands: &[&[&str]] = &[
        &["install"],
        &["uninstall"],
        &["sync"],
        &["status"],
        &["doctor"],
        &["verify"],
        &["mirror"],
        &["mirror", "add"],
        &["mirror", "remove"],
        &["mirror", "list"],
        &["schedule"],
        &["schedule", "start"],
        &["schedule", "stop"],
        &["schedule", "status"],
        &["completions"],
        &["man"],
    ];
    let top = env.cmd().arg("--help").output().expect("running --help");
    let listed = String::from_utf8_lossy(&top.stdout).into_owned();
    for args in commands {
        let out = env
            .cmd()
            .args(*args)
            .arg("--help")
            .output()
            .expect("running --help");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?} --help: {out:?}");
        let summary = help.lines().next().unwrap_or_default();
        assert!(
            summary.split_whitespace().count() >= 3 && !summary.starts_with("Usage"),
            "{args:?}: no one-line summary first:\n{help}"
        );
        let examples = help.split("Examples:").nth(1).unwrap_or_default();
        assert!(
            examples
                .lines()
                .any(|l| l.trim_start().starts_with("git-repo-sync ")),
            "{args:?}: no example:\n{help}"
        );
        if args.len() == 1 {
            assert!(listed.contains(args[0]), "{args:?} is not listed in --help");
        }
    }
}

#[test]
fn bash_completions_load_in_bash() {
    let Some(found) = support::servers::require_programs("the completion check", &["bash"]) else {
        return;
    };
    let env = TestEnv::new();
    let script = env
        .cmd()
        .args(["completions", "bash"])
        .output()
        .expect("completions");
    assert!(script.status.success());
    let path = env.root().join("git-repo-sync.bash");
    std::fs::write(&path, &script.stdout).expect("writing the script");
    let out = std::process::Command::new(&found[0])
        .args(["--norc", "--noprofile", "-c"])
        .arg(format!(
            ". {} && complete -p git-repo-sync",
            support::sh_quote(&path)
        ))
        .output()
        .expect("running bash");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.contains("git-repo-sync"), "{out:?}");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_man_page_renders_with_man_l() {
    let Some(found) = support::servers::require_programs("the man page check", &["man"]) else {
        return;
    };
    let env = TestEnv::new();
    let page = env.cmd().arg("man").output().expect("man");
    assert!(page.status.success());
    let path = env.root().join("git-repo-sync.1");
    std::fs::write(&path, &page.stdout).expect("writing the page");
    let out = std::process::Command::new(&found[0])
        .arg("-l")
        .arg(&path)
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .expect("running man -l");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    for section in ["NAME", "SYNOPSIS", "SUBCOMMANDS"] {
        assert!(text.contains(section), "no {section}:\n{text}");
    }
    for command in ["install", "doctor", "verify", "schedule"] {
        assert!(text.contains(command), "{command} missing:\n{text}");
    }
}

#[test]
fn a_mirror_removed_and_added_again_at_another_url_shows_none_of_the_old_ones_state() {
    let env = TestEnv::new();
    let repo = env.init_repo("work");
    let first = env.root().join("first.git");
    env.install(&repo, &[("m", support::s(&first))]);
    env.cmd_in(&repo).arg("sync").assert().success();
    let before = env.status_json(&repo);
    assert!(
        support::mirror_status(&before, "m")["last_push"].is_string(),
        "{before}"
    );

    env.cmd_in(&repo)
        .args(["mirror", "remove", "m"])
        .assert()
        .success();
    let other = env.init_bare("other.git");
    env.cmd_in(&repo)
        .args(["mirror", "add", "m", support::s(&other)])
        .assert()
        .success();
    let after = env.status_json(&repo);
    let m = support::mirror_status(&after, "m");
    assert_eq!(m["last_result"], "never", "{after}");
    assert!(
        m["last_push"].is_null() && m["last_pushed"] == serde_json::json!([]),
        "{after}"
    );
    assert!(
        m["pending"].is_null(),
        "the old mirror's refs are forgotten: {after}"
    );
}
