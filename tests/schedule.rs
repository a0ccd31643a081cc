//! `schedule start` runs `git-repo-sync sync --all --quiet` every few minutes, through a systemd
//! user timer or a crontab block, like `git maintenance start`; starting twice changes nothing,
//! and `schedule stop` removes exactly what start wrote.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support;
use crate::support::servers::require_programs;
use crate::support::{Snapshot, TestEnv, s, sh_quote};

/// A `crontab` that keeps the table in a file, with the real one's `-l` and `-`, so that no test
/// touches the machine's own crontab (git's tests replace it the same way).
pub(crate) fn fake_crontab(env: &TestEnv) -> (PathBuf, PathBuf) {
    let table = env.root().join("crontab.txt");
    let program = env.root().join("bin/crontab");
    env.write_executable(
        &program,
        &format!(
            "#!/bin/sh\ntable={}\ncase \"$1\" in\n\
             -l) [ -f \"$table\" ] || {{ echo \"no crontab for $(id -un)\" >&2; exit 1; }}; cat \"$table\" ;;\n\
             -) cat > \"$table\" ;;\n\
             *) exit 2 ;;\nesac\n",
            sh_quote(&table)
        ),
    );
    (program, table)
}

fn schedule(env: &TestEnv, args: &[&str], vars: &[(&str, &Path)]) -> (i32, String) {
    let mut cmd = env.cmd_in(env.root());
    cmd.arg("schedule").args(args);
    for (key, value) in vars {
        cmd.env(key, value);
    }
    let out = cmd.output().expect("running schedule");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn with_cron_start_adds_one_block_keeps_the_rest_and_stop_removes_exactly_it() {
    let env = TestEnv::new();
    let (crontab, table) = fake_crontab(&env);
    let theirs = "MAILTO=me@example.com\n0 3 * * * /usr/local/bin/backup --all\n";
    fs::write(&table, theirs).expect("writing the user's crontab");
    let vars = [("GIT_REPO_SYNC_CRONTAB", crontab.as_path())];

    let (code, out) = schedule(&env, &["status"], &vars);
    assert_eq!(code, 1, "nothing scheduled yet: {out}");
    let (code, out) = schedule(&env, &["start", "--scheduler", "cron", "--interval", "7"], &vars);
    assert_eq!(code, 0, "{out}");
    let written = fs::read_to_string(&table).expect("the crontab");
    assert!(
        written.starts_with(theirs),
        "the user's lines come first, unchanged:\n{written}"
    );
    let ours: Vec<&str> = written
        .lines()
        .filter(|l| l.contains("sync --all --quiet"))
        .collect();
    assert_eq!(ours.len(), 1, "{written}");
    assert!(ours[0].starts_with("*/7 * * * * "), "{written}");

    let (code, out) = schedule(&env, &["start", "--scheduler", "cron", "--interval", "7"], &vars);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing to change"), "{out}");
    assert_eq!(
        fs::read_to_string(&table).expect("the crontab"),
        written,
        "start twice"
    );
    let (code, out) = schedule(&env, &["status"], &vars);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("*/7 * * * *"), "{out}");

    let (code, out) = schedule(&env, &["stop"], &vars);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        fs::read_to_string(&table).expect("the crontab"),
        theirs,
        "exactly removed"
    );
}

#[test]
fn with_systemd_start_writes_units_systemd_verifies_and_stop_removes_exactly_them() {
    let env = TestEnv::new();
    let Some(programs) = require_programs("the systemd unit check", &["systemd-analyze"]) else {
        return;
    };
    let config = env.home().join(".config");
    let before = Snapshot::of(&config);
    let (code, out) = schedule(&env, &["start", "--scheduler", "systemd"], &[]);
    assert_eq!(code, 0, "{out}");
    let units = config.join("systemd/user");
    let (service, timer) = (
        units.join("git-repo-sync.service"),
        units.join("git-repo-sync.timer"),
    );
    let timer_text = fs::read_to_string(&timer).expect("the timer");
    assert!(timer_text.contains("OnUnitActiveSec=5min"), "{timer_text}");
    let service_text = fs::read_to_string(&service).expect("the service");
    assert!(
        service_text.contains(&format!("ExecStart={} sync --all --quiet\n", support::BIN)),
        "{service_text}"
    );
    assert_eq!(
        fs::read_link(units.join("timers.target.wants/git-repo-sync.timer")).expect("enabled"),
        Path::new("../git-repo-sync.timer")
    );
    let verify = Command::new(&programs[0])
        .arg("verify")
        .arg(&service)
        .arg(&timer)
        .output()
        .expect("running systemd-analyze verify");
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );

    let after_start = Snapshot::of(&config);
    let (code, out) = schedule(&env, &["start", "--scheduler", "systemd"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing to change"), "{out}");
    after_start.assert_unchanged(&Snapshot::of(&config), "a second start");

    let (code, out) = schedule(&env, &["stop"], &[]);
    assert_eq!(code, 0, "{out}");
    before.assert_unchanged(&Snapshot::of(&config), "start then stop");
}

#[test]
fn the_scheduled_command_carries_what_no_hook_saw() {
    let env = TestEnv::new();
    let (crontab, table) = fake_crontab(&env);
    let repo = env.init_repo("work");
    let mirror = env.root().join("mirror.git");
    env.install(&repo, &[("m", s(&mirror))]);
    env.cmd_in(&repo).arg("sync").assert().success();
    let (code, out) = schedule(
        &env,
        &["start", "--scheduler", "cron"],
        &[("GIT_REPO_SYNC_CRONTAB", crontab.as_path())],
    );
    assert_eq!(code, 0, "{out}");
    env.git(&repo, ["tag", "made-alone"]);
    let line = fs::read_to_string(&table).expect("the crontab");
    let command = line
        .lines()
        .find(|l| l.contains("sync --all"))
        .and_then(|l| l.splitn(6, ' ').nth(5))
        .expect("the scheduled command")
        .to_owned();
    // As cron runs it: through sh, with cron's `\%` escapes undone.
    let mut sh = Command::new("sh");
    env.apply_env(&mut sh);
    sh.arg("-c")
        .arg(command.replace("\\%", "%"))
        .current_dir(env.root());
    let out = sh.output().expect("running the scheduled command");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(env.refs(&mirror), env.refs(&repo));
}

#[test]
fn install_and_doctor_say_when_no_schedule_runs_and_stop_saying_it_once_one_does() {
    let env = TestEnv::new();
    let (crontab, _table) = fake_crontab(&env);
    let repo = env.init_repo("project");
    let mirror = env.root().join("mirror.git");
    let install = |repo: &Path| {
        let out = env
            .cmd()
            .env("GIT_REPO_SYNC_CRONTAB", &crontab)
            .args(["install", "--yes", "--mirror", &format!("m={}", s(&mirror))])
            .arg(repo)
            .output()
            .expect("install");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let doctor = || {
        let out = env
            .cmd_in(&repo)
            .env("GIT_REPO_SYNC_CRONTAB", &crontab)
            .arg("doctor")
            .output()
            .expect("doctor");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let said = install(&repo);
    assert!(
        said.contains("no schedule runs") && said.contains("git-repo-sync schedule start"),
        "{said}"
    );
    let (code, diagnosed) = doctor();
    assert_eq!(code, Some(0), "a warning, not a failure:\n{diagnosed}");
    assert!(
        diagnosed.contains("warning schedule: no schedule runs"),
        "{diagnosed}"
    );
    assert!(
        diagnosed.contains("fix: git-repo-sync schedule start"),
        "{diagnosed}"
    );

    let (code, out) = schedule(
        &env,
        &["start", "--scheduler", "cron"],
        &[("GIT_REPO_SYNC_CRONTAB", &crontab)],
    );
    assert_eq!(code, 0, "{out}");
    let other = env.init_repo("other");
    let said = install(&other);
    assert!(!said.contains("no schedule runs"), "{said}");
    let (code, diagnosed) = doctor();
    assert_eq!(code, Some(0), "{diagnosed}");
    assert!(!diagnosed.contains("schedule"), "{diagnosed}");
}
