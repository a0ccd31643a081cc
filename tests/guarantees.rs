//! What git-repo-sync guarantees: bursts, outages, crashes, failures that are seen,
//! state files that are never half-written, and diverged mirrors. Hostile and broken input is in
//! `guarantee_hostile_input.rs`.
//!
//! Real repositories, real processes. Background workers are found in `/proc` by their command
//! line, `git-repo-sync worker --git-dir <common dir>`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support;
use crate::support::{TestEnv, WAIT, mirror_status, run_within, s, sh_quote, wait_for};
use serde_json::Value;

/// Longest a commit may take while its mirror hangs: the hook must never wait on the network.
const COMMIT_LIMIT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// Helpers

/// One running process, from `/proc`.
struct Proc {
    pid: u32,
    ppid: u32,
    args: Vec<String>,
}

fn processes() -> Vec<Proc> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let (Ok(cmdline), Ok(stat)) = (
            fs::read(entry.path().join("cmdline")),
            fs::read_to_string(entry.path().join("stat")),
        ) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
        else {
            continue;
        };
        let args = cmdline
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        found.push(Proc { pid, ppid, args });
    }
    found
}

/// Whether a command line is the background worker of the repository whose common dir is `common`.
fn is_worker_of(args: &[String], common: &Path) -> bool {
    let runs_worker = args.iter().skip(1).any(|a| a == "worker");
    let for_repo = args
        .windows(2)
        .any(|w| w[0] == "--git-dir" && Path::new(&w[1]) == common)
        || args
            .iter()
            .filter_map(|a| a.strip_prefix("--git-dir="))
            .any(|dir| Path::new(dir) == common);
    runs_worker && for_repo
}

/// Whether process `pid` has `file` open.
fn has_open(pid: u32, file: &Path) -> bool {
    fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
        fds.flatten()
            .any(|fd| fs::read_link(fd.path()).is_ok_and(|target| target == file))
    })
}

/// The pids of the background workers of one repository.
fn workers_of(common: &Path) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|p| is_worker_of(&p.args, common))
        .map(|p| p.pid)
        .collect()
}

/// Every descendant of `pid` (children, their children, ...).
fn descendants(pid: u32) -> Vec<u32> {
    let procs = processes();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(procs.iter().filter(|p| p.ppid == parent).map(|p| p.pid));
        i += 1;
    }
    found.remove(0);
    found
}

fn kill9(pid: u32) {
    let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
}

/// Waits until no worker of the repository runs and no pass is pending.
fn wait_until_idle(env: &TestEnv, repo: &Path) {
    let common = env.common_dir(repo);
    let pending = common.join("repo-sync.pending");
    // Twice in a row, 50 ms apart, so that a worker handing over to the next is not missed.
    let mut idle_once = false;
    wait_for(
        WAIT,
        || {
            let idle = workers_of(&common).is_empty() && !pending.exists();
            let done = idle && idle_once;
            idle_once = idle;
            done
        },
        || {
            format!(
                "workers still running: {:?}; log:\n{}",
                workers_of(&common),
                env.log(repo)
            )
        },
    );
}

/// Sets options of one mirror in the repository's `repo-sync.toml`.
fn set_mirror_options(env: &TestEnv, repo: &Path, name: &str, options: &[(&str, toml::Value)]) {
    let path = env.config_path(repo);
    let mut config: toml::Table = fs::read_to_string(&path)
        .expect("reading the mirror config")
        .parse()
        .expect("the config is TOML");
    let mirror = config["mirrors"][name]
        .as_table_mut()
        .unwrap_or_else(|| panic!("no mirror {name} in {path:?}"));
    for (key, value) in options {
        mirror.insert((*key).to_owned(), value.clone());
    }
    fs::write(&path, toml::to_string(&config).expect("serialising")).expect("writing the config");
}

/// Quick retries, so that a failing mirror's worker ends within a couple of seconds.
fn fast_retries(env: &TestEnv, repo: &Path, name: &str) {
    set_mirror_options(
        env,
        repo,
        name,
        &[
            ("retries", toml::Value::Integer(1)),
            ("retry_max_delay", toml::Value::Integer(1)),
        ],
    );
}

/// Waits until `status --json` shows `result` as the mirror's last result.
fn wait_for_result(env: &TestEnv, repo: &Path, name: &str, result: &str) -> Value {
    let mut last = Value::Null;
    wait_for(
        WAIT,
        || {
            last = mirror_status(&env.status_json(repo), name).clone();
            last["last_result"] == result
        },
        || format!("mirror {name} never showed {result}; log:\n{}", env.log(repo)),
    );
    last
}

/// Commits a new file and returns how long `git commit` (hooks included) took.
fn timed_commit(env: &TestEnv, repo: &Path, message: &str) -> Duration {
    env.change_file(repo, message);
    let start = Instant::now();
    env.git(repo, ["commit", "-q", "-m", message]);
    start.elapsed()
}

/// `git commit` with stderr captured through a pipe (not a terminal); returns its output.
fn commit_without_terminal(env: &TestEnv, repo: &Path, message: &str) -> Output {
    env.change_file(repo, message);
    let out = env
        .git_cmd(repo)
        .args(["commit", "-q", "-m", message])
        .output()
        .expect("running git commit");
    assert!(out.status.success(), "{out:?}");
    out
}

/// `git commit` on a pseudo-terminal (util-linux `script`, else python3's pty module); returns
/// what appeared on the terminal and how long it took.
fn commit_on_terminal(env: &TestEnv, repo: &Path, message: &str) -> (String, Duration) {
    env.change_file(repo, message);
    let commit = format!("git commit -q -m '{message}'");
    // util-linux's `script` (BSD's takes other flags), else python3's pty module.
    let util_linux_script = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("util-linux"));
    let mut cmd = if util_linux_script {
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &commit, "/dev/null"]);
        cmd
    } else {
        let mut cmd = Command::new("python3");
        cmd.args([
            "-c",
            "import pty, sys; sys.exit(pty.spawn(['sh', '-c', sys.argv[1]]) >> 8)",
            &commit,
        ]);
        cmd
    };
    env.apply_env(&mut cmd);
    cmd.env("SHELL", "/bin/sh").current_dir(repo);
    let start = Instant::now();
    let out = run_within(cmd, Duration::from_secs(20)).expect("the commit on a terminal finished");
    let took = start.elapsed();
    assert!(out.status.success(), "commit on a terminal failed: {out:?}");
    (String::from_utf8_lossy(&out.stdout).replace('\r', ""), took)
}

/// The failure notices in a hook's output.
fn notices(output: &str) -> Vec<String> {
    output
        .lines()
        .filter(|l| l.contains("failing since"))
        .map(str::to_owned)
        .collect()
}

/// Moves a mirror out of the way (an outage) or back.
fn mv(from: &Path, to: &Path) {
    fs::rename(from, to).unwrap_or_else(|e| panic!("moving {from:?} to {to:?}: {e}"));
}

/// Samples, as often as it can, how many workers of one repository run, and checks that the
/// state file always parses.
struct Sampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<(usize, usize, Vec<String>)>,
}

impl Sampler {
    fn start(common: PathBuf) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let state = common.join("repo-sync-state.json");
            let (mut samples, mut max) = (0, 0);
            let mut problems = Vec::new();
            let lock = common.join("repo-sync.lock");
            while !flag.load(Ordering::Relaxed) {
                // A worker that has given up the lock and has only to exit can do nothing more;
                // under load the kernel may take a while to schedule its exit (workers run at
                // nice 10), so it is not counted: a worker counts while it has the lock open.
                let candidates: Vec<Proc> = processes()
                    .into_iter()
                    .filter(|p| is_worker_of(&p.args, &common) && has_open(p.pid, &lock))
                    .collect();
                // A git a worker starts is, until it execs, a copy of the worker: the same
                // command line and the same open files. It is the worker's child, not a worker.
                let workers: Vec<&Proc> = candidates
                    .iter()
                    .filter(|p| !candidates.iter().any(|parent| parent.pid == p.ppid))
                    .collect();
                if workers.len() > max {
                    max = workers.len();
                }
                if workers.len() > 2 {
                    problems.push(format!(
                        "{} workers at once: {:?}",
                        workers.len(),
                        workers
                            .iter()
                            .map(|w| (w.pid, w.args.join(" ")))
                            .collect::<Vec<_>>()
                    ));
                }
                if let Ok(bytes) = fs::read(&state)
                    && let Err(err) = serde_json::from_slice::<Value>(&bytes)
                {
                    problems.push(format!(
                        "state file half-written ({err}): {:?}",
                        String::from_utf8_lossy(&bytes)
                    ));
                }
                samples += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            (samples, max, problems)
        });
        Self { stop, handle }
    }

    /// (samples taken, most workers seen at once, problems seen)
    fn finish(self) -> (usize, usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("the sampler thread")
    }
}

/// `<oid> <ref>` lines as a map.
fn ref_map(refs: &str) -> std::collections::BTreeMap<String, String> {
    refs.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(oid, name)| (name.to_owned(), oid.to_owned()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Bursts

/// 200 commits as fast as a script makes them, each firing the hook. The slow mirror holds its
/// first push for the first 100 commits, so they all happen while a worker is busy; then it lets
/// go and the last 100 land while workers finish and hand over.
#[test]
fn a_burst_of_200_commits_runs_at_most_two_workers_waits_on_no_mirror_and_ends_in_sync() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let slow = env.init_bare("slow.git");
    let fast = env.init_bare("fast.git");
    env.install(&repo, &[("slow", s(&slow)), ("fast", s(&fast))]);
    let common = env.common_dir(&repo);
    let gate = env.block_pushes(&slow);
    let sampler = Sampler::start(common.clone());

    let mut slowest = (Duration::ZERO, 0);
    for i in 1..=200 {
        if i == 100 {
            assert!(
                gate.entered(),
                "no push reached the slow mirror during 99 commits; log:\n{}",
                env.log(&repo)
            );
            assert_ne!(env.try_refs(&slow).unwrap_or_default(), env.refs(&repo));
            gate.release();
        }
        if i == 150 {
            env.git(&repo, ["tag", "mid-burst"]);
            env.git(&repo, ["branch", "side"]);
        }
        let took = timed_commit(&env, &repo, &format!("burst {i}"));
        if took > slowest.0 {
            slowest = (took, i);
        }
    }
    env.wait_for_mirrors(&repo, &[&slow, &fast]);
    wait_until_idle(&env, &repo);
    let (samples, max, problems) = sampler.finish();

    eprintln!(
        "burst: slowest commit {:?} (#{}), {samples} samples, at most {max} worker(s) at once",
        slowest.0, slowest.1
    );
    assert!(problems.is_empty(), "during the burst:\n{}", problems.join("\n"));
    assert!(max <= 2, "{max} workers ran at once for one repository");
    assert!(
        max >= 1 && samples >= 100,
        "the sampler saw no worker ({samples} samples)"
    );
    assert!(
        slowest.0 < COMMIT_LIMIT,
        "commit #{} took {:?}: a commit waited on a mirror",
        slowest.1,
        slowest.0
    );
    // The final state, with nothing left to push.
    for name in ["slow", "fast"] {
        let mirror = mirror_status(&env.status_json(&repo), name).clone();
        assert_eq!(mirror["last_result"], "ok", "{mirror:#}");
        assert_eq!(mirror["pending"], serde_json::json!([]), "{mirror:#}");
    }
}

/// In a burst, a hook that finds a sync marked as wanted while the worker of an earlier commit
/// runs starts nothing (that worker takes the mark up after its pass): the commit still reaches
/// the mirror. A mark and a pid file that name no worker of ours (left by a killed process, or
/// a pid since taken by another program) never stop a commit's trigger.
#[test]
fn a_hook_in_a_burst_starts_nothing_while_the_worker_runs_and_a_stale_worker_file_stops_no_trigger() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.init_bare("mirror.git");
    env.install(&repo, &[("m", s(&mirror))]);
    let common = env.common_dir(&repo);
    let (pending, worker, record) = (
        common.join("repo-sync.pending"),
        common.join("repo-sync.worker"),
        common.join("repo-sync.trigger"),
    );
    let written = || fs::metadata(&record).and_then(|meta| meta.modified()).ok();

    let gate = env.block_pushes(&mirror);
    commit_without_terminal(&env, &repo, "first");
    wait_for(
        WAIT,
        || gate.entered(),
        || format!("no push began; log:\n{}", env.log(&repo)),
    );
    let before = written();
    commit_without_terminal(&env, &repo, "second: marks a sync as wanted");
    wait_for(
        WAIT,
        || pending.is_file() && written() != before,
        || "the second commit's trigger left no mark".to_owned(),
    );
    let pid = fs::read_to_string(&worker).expect("the running worker's pid file");
    assert_eq!(workers_of(&common), [pid.trim().parse::<u32>().expect("a pid")]);
    let marked = written();
    // A trigger started in the background holds the commit's captured stderr until it ends, so
    // one that ran has written its record by the time the commit returns.
    commit_without_terminal(&env, &repo, "third: finds the mark and the worker");
    assert_eq!(written(), marked, "the third commit started git-repo-sync");
    gate.release();
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    wait_until_idle(&env, &repo);
    wait_for(
        WAIT,
        || !worker.exists(),
        || "the worker left its pid file".to_owned(),
    );

    // A mark left standing and a pid file naming another program: the trigger runs.
    let mut other = Command::new("sleep").arg("30").spawn().expect("starting sleep");
    fs::write(&worker, format!("{}\n", other.id())).expect("a stale pid file");
    fs::write(&pending, "").expect("a stale mark");
    commit_without_terminal(&env, &repo, "fourth");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    let _ = other.kill();
    let _ = other.wait();
}

// ---------------------------------------------------------------------------------------------
// Outage

/// A repository with the mirror `backup` in sync and quick to give up; returns the repository,
/// the mirror's path, and where to move the mirror for an outage.
fn mirrored_with_fast_retries(env: &TestEnv) -> (PathBuf, PathBuf, PathBuf) {
    let repo = env.init_repo("project");
    let mirror = env.root().join("backup.git");
    let away = env.root().join("away.git");
    env.install(&repo, &[("backup", s(&mirror))]);
    fast_retries(env, &repo, "backup");
    env.cmd_in(&repo).arg("sync").assert().success();
    (repo, mirror, away)
}

#[test]
fn commits_succeed_while_a_mirror_is_gone_status_says_what_is_pending_and_it_catches_up() {
    let env = TestEnv::new();
    let (repo, mirror, away) = mirrored_with_fast_retries(&env);
    let before = mirror_status(&env.status_json(&repo), "backup").clone();
    assert_eq!(before["last_result"], "ok", "{before:#}");
    assert_eq!(before["pending"], serde_json::json!([]), "{before:#}");

    mv(&mirror, &away);
    for i in 1..=20 {
        if i == 10 {
            env.git(&repo, ["branch", "during-outage"]);
        }
        if i == 15 {
            env.git(&repo, ["tag", "v-outage"]);
        }
        let took = timed_commit(&env, &repo, &format!("outage {i}"));
        assert!(
            took < COMMIT_LIMIT,
            "commit {i} took {took:?} while the mirror was gone"
        );
    }
    wait_until_idle(&env, &repo);
    let failing = wait_for_result(&env, &repo, "backup", "failed");
    assert!(
        failing["failing_since"].is_string(),
        "no failing_since: {failing:#}"
    );
    assert_eq!(
        failing["last_success"], before["last_success"],
        "the last success is still the one before the outage: {failing:#}"
    );
    let error = failing["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("backup"),
        "the last error does not name the mirror: {failing:#}"
    );
    let pending: Vec<&str> = failing["pending"]
        .as_array()
        .unwrap_or_else(|| panic!("pending is not a list: {failing:#}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for name in [
        "refs/heads/main",
        "refs/heads/during-outage",
        "refs/tags/v-outage",
    ] {
        assert!(pending.contains(&name), "{name} not pending: {failing:#}");
    }
    let table = env.cmd_in(&repo).arg("status").output().expect("status");
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("FAILING") || table.to_lowercase().contains("failing"),
        "{table}"
    );

    mv(&away, &mirror);
    env.commit(&repo, "after the outage");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    wait_until_idle(&env, &repo);
    let back = wait_for_result(&env, &repo, "backup", "ok");
    assert!(back["failing_since"].is_null(), "{back:#}");
    assert!(back["last_error"].is_null(), "{back:#}");
    assert_eq!(back["pending"], serde_json::json!([]), "{back:#}");
}

#[test]
fn the_next_sync_after_an_outage_brings_the_mirror_fully_up_to_date() {
    let env = TestEnv::new();
    let (repo, mirror, away) = mirrored_with_fast_retries(&env);
    env.git(&repo, ["branch", "doomed"]);
    env.cmd_in(&repo).arg("sync").assert().success();

    mv(&mirror, &away);
    env.commit(&repo, "during the outage");
    env.git(&repo, ["branch", "-D", "doomed"]);
    env.git(&repo, ["tag", "v1"]);
    wait_until_idle(&env, &repo);
    let failing = wait_for_result(&env, &repo, "backup", "failed");
    let pending = failing["pending"].to_string();
    assert!(
        pending.contains("refs/heads/doomed") && pending.contains("refs/tags/v1"),
        "a deletion and a new tag are pending too: {failing:#}"
    );

    mv(&away, &mirror);
    env.cmd_in(&repo).arg("sync").assert().success();
    assert_eq!(env.refs(&mirror), env.refs(&repo));
    let back = mirror_status(&env.status_json(&repo), "backup").clone();
    assert_eq!(back["last_result"], "ok", "{back:#}");
    assert_eq!(back["pending"], serde_json::json!([]), "{back:#}");
}

/// Retries inside one background run back off (1 s, 2 s, ... capped by `retry_max_delay`) and
/// stop after `retries`; the foreground `sync` does not retry.
#[test]
fn background_retries_are_bounded_and_back_off_and_sync_does_not_retry() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.root().join("backup.git");
    env.install(&repo, &[("backup", s(&mirror))]);
    set_mirror_options(
        &env,
        &repo,
        "backup",
        &[
            ("retries", toml::Value::Integer(3)),
            ("retry_max_delay", toml::Value::Integer(1)),
        ],
    );
    env.cmd_in(&repo).arg("sync").assert().success();
    let common = env.common_dir(&repo);
    fs::remove_dir_all(&mirror).expect("removing the mirror");

    // Every git the worker runs reports itself here.
    let trace = env.root().join("git-trace.txt");
    env.change_file(&repo, "while the mirror is gone");
    let start = Instant::now();
    let mut commit = env.git_cmd(&repo);
    commit
        .args(["commit", "-q", "-m", "while the mirror is gone"])
        .env("GIT_TRACE", &trace);
    support::run_ok(&mut commit);
    wait_for(
        WAIT,
        || workers_of(&common).is_empty() && start.elapsed() > Duration::from_millis(300),
        || format!("the worker never gave up; log:\n{}", env.log(&repo)),
    );
    let lasted = start.elapsed();
    let trace = fs::read_to_string(&trace).unwrap_or_default();
    let contacts = trace
        .lines()
        .filter(|l| l.contains("trace: built-in: git") && l.contains(s(&mirror)))
        .count();
    eprintln!(
        "a worker with 3 retries, waits capped at 1 s, gave up after {lasted:?} and {contacts} git runs for the mirror"
    );
    // Three waits of 1 s (capped: uncapped they would be 1 + 2 + 4 s).
    assert!(
        lasted >= Duration::from_secs(3),
        "the worker gave up after {lasted:?}: it did not wait between its 4 tries; log:\n{}",
        env.log(&repo)
    );
    assert!(
        lasted < Duration::from_millis(6500),
        "the worker took {lasted:?}: waits not capped at retry_max_delay = 1 s, or more than 3 retries; log:\n{}",
        env.log(&repo)
    );
    assert!(
        contacts <= 8,
        "{contacts} git runs for the mirror in one worker run (4 tries at most 2 each):\n{trace}"
    );
    assert!(!mirror.exists(), "a sync re-created the missing mirror");
    wait_for_result(&env, &repo, "backup", "failed");

    let start = Instant::now();
    env.cmd_in(&repo).arg("sync").assert().code(3);
    let took = start.elapsed();
    assert!(
        took < Duration::from_millis(2500),
        "the foreground sync took {took:?}: it retried"
    );
}

// ---------------------------------------------------------------------------------------------
// Crash

/// A worker killed with SIGKILL while its push waits in the mirror's pre-receive hook: the lock
/// is free at once, the mirror holds only old or new values and is not corrupt, and the next
/// `sync` (and the next commit) complete.
#[test]
fn a_worker_killed_mid_push_blocks_nothing_and_leaves_the_mirror_old_or_new() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    env.commit(&repo, "second");
    env.git(&repo, ["branch", "feature"]);
    env.git(&repo, ["branch", "old"]);
    env.git(&repo, ["tag", "v1"]);
    let mirror = env.root().join("backup.git");
    env.install(&repo, &[("backup", s(&mirror))]);
    env.cmd_in(&repo).arg("sync").assert().success();
    let old = ref_map(&env.refs(&mirror));
    let common = env.common_dir(&repo);

    let gate = env.block_pushes(&mirror);
    // One push changes several refs: an update, a forced update, a creation and a deletion.
    env.git(&repo, ["branch", "-D", "old"]);
    env.git(&repo, ["tag", "v2"]);
    env.git(&repo, ["branch", "-f", "feature", "HEAD~1"]);
    env.commit(&repo, "the trigger");
    let new = ref_map(&env.refs(&repo));
    wait_for(
        WAIT,
        || gate.entered(),
        || format!("the worker never pushed; log:\n{}", env.log(&repo)),
    );
    let workers = workers_of(&common);
    assert_eq!(workers.len(), 1, "one worker pushes: {workers:?}");
    let worker = workers[0];
    let children = descendants(worker);

    kill9(worker);
    wait_for(
        Duration::from_secs(5),
        || !workers_of(&common).contains(&worker),
        || format!("worker {worker} survived SIGKILL"),
    );
    // The kernel dropped the worker's lock, even though its git push still runs.
    assert_lock_free(&common, &children);

    // Now the push dies too, in the middle of the mirror's pre-receive.
    for pid in &children {
        kill9(*pid);
    }
    let alive = |pid: &u32| Path::new(&format!("/proc/{pid}/cmdline")).exists();
    wait_for(
        Duration::from_secs(5),
        || !children.iter().any(alive),
        || "the push survived SIGKILL".to_owned(),
    );

    assert_old_or_new(&env, &mirror, &old, &new);

    gate.release();
    assert_next_sync_completes(&env, &repo, &mirror);

    // And the background is not wedged by whatever the dead worker left behind.
    env.commit(&repo, "after the crash");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    wait_until_idle(&env, &repo);
    assert_eq!(
        mirror_status(&env.status_json(&repo), "backup").clone()["last_result"],
        "ok"
    );
}

// ---------------------------------------------------------------------------------------------
// Failures are seen

/// Matches `git-repo-sync: mirror 'NAME' failing since <age>: <error>; see git-repo-sync status`.
fn assert_notice(line: &str, name: &str) {
    let prefix = format!("git-repo-sync: mirror '{name}' failing since ");
    let rest = line
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("the notice does not start with {prefix:?}: {line:?}"));
    let (age, error) = rest
        .split_once(": ")
        .unwrap_or_else(|| panic!("no age and error in the notice: {line:?}"));
    assert!(
        !age.is_empty() && age.len() < 20 && age.chars().next().is_some_and(|c| c.is_ascii_digit()),
        "the age in the notice is not short like `2s`: {line:?}"
    );
    assert!(
        error.ends_with("; see git-repo-sync status") && error.len() > "; see git-repo-sync status".len(),
        "the notice does not end with the error and `; see git-repo-sync status`: {line:?}"
    );
}

#[test]
fn a_failing_mirror_is_announced_once_per_failure_on_a_terminal_and_never_without_one() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.root().join("backup.git");
    let away = env.root().join("away.git");
    env.install(&repo, &[("backup", s(&mirror))]);
    fast_retries(&env, &repo, "backup");
    env.commit(&repo, "in sync");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    wait_until_idle(&env, &repo);

    let (healthy, _) = commit_on_terminal(&env, &repo, "healthy on a terminal");
    assert!(
        notices(&healthy).is_empty(),
        "a notice while all is well:\n{healthy}"
    );
    wait_until_idle(&env, &repo);

    // The mirror starts failing in the background.
    mv(&mirror, &away);
    commit_without_terminal(&env, &repo, "first failure");
    wait_until_idle(&env, &repo);
    wait_for_result(&env, &repo, "backup", "failed");

    // Without a terminal: nothing, and the notice is still owed to the next terminal.
    let out = commit_without_terminal(&env, &repo, "no terminal");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        notices(&stderr).is_empty(),
        "a notice without a terminal:\n{stderr}"
    );
    wait_until_idle(&env, &repo);

    let (shown, took) = commit_on_terminal(&env, &repo, "on a terminal");
    let lines = notices(&shown);
    assert_eq!(lines.len(), 1, "expected one notice on the terminal:\n{shown}");
    assert_notice(&lines[0], "backup");
    assert!(took < COMMIT_LIMIT, "the hook with a notice took {took:?}");
    wait_until_idle(&env, &repo);

    let (again, _) = commit_on_terminal(&env, &repo, "still failing");
    assert!(
        notices(&again).is_empty(),
        "the same failure was announced twice:\n{again}"
    );
    wait_until_idle(&env, &repo);

    // Recovery, then a new failure: announced again.
    mv(&away, &mirror);
    commit_without_terminal(&env, &repo, "recovered");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    wait_until_idle(&env, &repo);
    wait_for_result(&env, &repo, "backup", "ok");
    let (recovered, _) = commit_on_terminal(&env, &repo, "recovered, on a terminal");
    assert!(
        notices(&recovered).is_empty(),
        "a notice after recovery:\n{recovered}"
    );
    wait_until_idle(&env, &repo);

    mv(&mirror, &away);
    commit_without_terminal(&env, &repo, "second failure");
    wait_until_idle(&env, &repo);
    wait_for_result(&env, &repo, "backup", "failed");
    let (second, _) = commit_on_terminal(&env, &repo, "second failure, on a terminal");
    let lines = notices(&second);
    assert_eq!(
        lines.len(),
        1,
        "a new failure after recovery is announced once:\n{second}"
    );
    assert_notice(&lines[0], "backup");
}

/// `on_failure` runs once per failure episode, with the name, the error and the repository in
/// its environment; an error holding shell syntax (from the mirror's path) runs nothing.
#[test]
fn on_failure_runs_once_per_failure_with_the_error_in_its_environment_and_runs_nothing_else() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let hostile = env
        .root()
        .join("m $(touch pwned) `touch pwned` ;touch pwned; 'q'");
    let mirror = hostile.join("backup.git");
    let away = hostile.join("away.git");
    env.install(&repo, &[("backup", s(&mirror))]);
    fast_retries(&env, &repo, "backup");
    let runs = env.root().join("on-failure-runs");
    fs::create_dir_all(&runs).expect("creating the runs dir");
    let command = format!(
        "n=0; while [ -e {dir}/run-$n ]; do n=$((n+1)); done; \
         printf '%s\\n%s\\n%s\\n' \"$GIT_REPO_SYNC_MIRROR\" \"$GIT_REPO_SYNC_REPOSITORY\" \"$GIT_REPO_SYNC_ERROR\" > {dir}/run-$n",
        dir = sh_quote(&runs)
    );
    set_mirror_options(
        &env,
        &repo,
        "backup",
        &[("on_failure", toml::Value::String(command))],
    );
    env.cmd_in(&repo).arg("sync").assert().success();
    let count = || fs::read_dir(&runs).map_or(0, Iterator::count);
    assert_eq!(count(), 0, "on_failure ran while all was well");

    // Starts failing in the background.
    mv(&mirror, &away);
    env.commit(&repo, "failing");
    wait_until_idle(&env, &repo);
    wait_for_result(&env, &repo, "backup", "failed");
    wait_for(
        Duration::from_secs(5),
        || count() >= 1,
        || format!("on_failure never ran; log:\n{}", env.log(&repo)),
    );
    let run = fs::read_to_string(runs.join("run-0")).expect("reading the run");
    let mut lines = run.lines();
    assert_eq!(lines.next(), Some("backup"), "GIT_REPO_SYNC_MIRROR:\n{run}");
    let repository = lines.next().unwrap_or_default();
    assert!(
        Path::new(repository) == repo || Path::new(repository) == env.common_dir(&repo),
        "GIT_REPO_SYNC_REPOSITORY is {repository:?}, not {repo:?}"
    );
    let error: Vec<&str> = lines.collect();
    assert!(
        !error.join("\n").trim().is_empty(),
        "GIT_REPO_SYNC_ERROR is empty:\n{run}"
    );

    // Still failing: not again, in the background or the foreground.
    env.commit(&repo, "still failing");
    wait_until_idle(&env, &repo);
    env.cmd_in(&repo).arg("sync").assert().code(3);
    assert_eq!(count(), 1, "on_failure ran again for the same failure");

    // Recovered, then failing again in a foreground sync: once more.
    mv(&away, &mirror);
    env.cmd_in(&repo).arg("sync").assert().success();
    assert_eq!(count(), 1, "on_failure ran on recovery");
    mv(&mirror, &away);
    env.cmd_in(&repo).arg("sync").assert().code(3);
    wait_for(
        Duration::from_secs(5),
        || count() >= 2,
        || "on_failure did not run for a new failure in a foreground sync".to_owned(),
    );
    assert_eq!(count(), 2);

    let pwned = support::files_named(env.root(), "pwned");
    assert!(pwned.is_empty(), "shell syntax from the error ran: {pwned:?}");
    assert!(
        !Path::new("pwned").exists(),
        "shell syntax from the error ran here"
    );
}

// ---------------------------------------------------------------------------------------------
// State files

/// Twenty pairs of `mirror add` racing on one repository: each pair both takes effect or one
/// fails clearly, a reader never sees half a file, and no temp file is left behind.
#[test]
fn racing_mirror_adds_both_take_effect_or_one_fails_clearly_and_the_config_always_parses() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let common = env.common_dir(&repo);
    let config = env.config_path(&repo);

    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (stop, config) = (Arc::clone(&stop), config.clone());
        std::thread::spawn(move || {
            let (mut reads, mut torn) = (0, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                if let Ok(text) = fs::read_to_string(&config) {
                    reads += 1;
                    if let Err(err) = git_repo_sync::Config::parse(&text) {
                        torn.push(format!("{err:#}\n{text}"));
                    }
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            (reads, torn)
        })
    };

    let (mut both, mut one) = (0, 0);
    let mut expected: Vec<String> = Vec::new();
    for i in 0..20 {
        let names = [format!("a{i}"), format!("b{i}")];
        let children: Vec<_> = names
            .iter()
            .map(|name| {
                let mut cmd = env.std_cmd_in(&repo);
                cmd.args(["mirror", "add", name])
                    .arg(env.root().join("mirrors").join(format!("{name}.git")))
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped());
                cmd.spawn().expect("starting mirror add")
            })
            .collect();
        let outs: Vec<Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().expect("waiting for mirror add"))
            .collect();
        let text = fs::read_to_string(&config).expect("the config exists");
        let parsed = git_repo_sync::Config::parse(&text)
            .unwrap_or_else(|e| panic!("the config does not parse after pair {i}: {e:#}\n{text}"));
        let mut succeeded = 0;
        for (name, out) in names.iter().zip(&outs) {
            if out.status.success() {
                succeeded += 1;
                expected.push(name.clone());
            } else {
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert_eq!(out.status.code(), Some(1), "mirror add {name}: {out:?}");
                assert!(
                    !stderr.contains("panicked")
                        && (stderr.contains("repo-sync.toml") || stderr.contains("lock")),
                    "mirror add {name} failed without a clear error:\n{stderr}"
                );
            }
        }
        assert!(succeeded >= 1, "both of pair {i} failed: {outs:?}");
        if succeeded == 2 {
            both += 1;
        } else {
            one += 1;
        }
        for name in &expected {
            assert!(
                parsed.mirrors.contains_key(name),
                "mirror {name} said it was added but is not in the config after pair {i}:\n{text}"
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    let (reads, torn) = reader.join().expect("the reader thread");
    eprintln!("racing mirror adds: {both} pairs both added, {one} pairs one refused; {reads} reads");
    assert!(
        torn.is_empty(),
        "a reader saw a half-written config:\n{}",
        torn.join("\n---\n")
    );

    let leftovers: Vec<String> = fs::read_dir(&common)
        .expect("listing the git dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp") || n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left behind: {leftovers:?}");
    let list = env.cmd_in(&repo).args(["mirror", "list"]).assert().success();
    let list = String::from_utf8_lossy(&list.get_output().stdout).into_owned();
    assert_eq!(list.lines().count(), expected.len(), "{list}");
}

// ---------------------------------------------------------------------------------------------
// Diverged mirror

/// Someone pushes a commit straight to the mirror; returns its id.
fn push_behind_our_back(env: &TestEnv, mirror: &Path, clone: &str) -> String {
    let intruder = env.root().join(clone);
    env.git(env.root(), ["clone", "-q", s(mirror), s(&intruder)]);
    env.commit(&intruder, "pushed straight to the mirror");
    env.git(&intruder, ["push", "-q", "origin", "main"]);
    env.head(&intruder)
}

fn assert_overwritten(env: &TestEnv, repo: &Path, main: &str) {
    let status = mirror_status(&env.status_json(repo), "backup").clone();
    let pushed = status["last_pushed"]
        .as_array()
        .unwrap_or_else(|| panic!("no last_pushed: {status:#}"));
    let entry = pushed
        .iter()
        .find(|p| p["ref"] == "refs/heads/main")
        .unwrap_or_else(|| panic!("main is not in last_pushed: {status:#}"));
    assert_eq!(entry["action"], "overwritten", "{status:#}");
    assert_eq!(entry["oid"], main, "{status:#}");
    assert_eq!(status["last_result"], "ok", "{status:#}");
    assert_eq!(status["rejected"], serde_json::json!([]), "{status:#}");
}

#[test]
fn a_diverged_mirror_is_put_back_to_the_source_and_status_says_it_overwrote() {
    diverged_mirror_is_put_back(false);
}

/// The same through `git push` (a mirror with a hook of its own gets that, as a remote one does).
#[test]
fn a_diverged_mirror_that_gets_git_push_is_put_back_too() {
    diverged_mirror_is_put_back(true);
}

fn diverged_mirror_is_put_back(through_git_push: bool) {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.init_bare("backup.git");
    if through_git_push {
        env.write_executable(&mirror.join("hooks/post-update"), "#!/bin/sh\nexit 0\n");
    }
    env.install(&repo, &[("backup", s(&mirror))]);
    env.cmd_in(&repo).arg("sync").assert().success();

    // Foreground.
    let intruder = push_behind_our_back(&env, &mirror, "intruder-1");
    let main = env.commit(&repo, "ours");
    env.cmd_in(&repo).arg("sync").assert().success();
    assert_eq!(env.refs(&mirror), env.refs(&repo));
    assert_ne!(env.git(&mirror, ["rev-parse", "main"]).trim(), intruder);
    assert_overwritten(&env, &repo, &main);
    wait_until_idle(&env, &repo);

    // Background: the next commit does the same.
    push_behind_our_back(&env, &mirror, "intruder-2");
    let main = env.commit(&repo, "ours again");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    wait_until_idle(&env, &repo);
    assert_overwritten(&env, &repo, &main);
    env.git(&mirror, ["fsck", "--no-dangling"]);
}

/// A trigger after which no mirrored ref changed (a checkout, a fetch into remote-tracking refs,
/// the hook run again) contacts no mirror: the worker sees that each mirror took these refs
/// already, so it neither pushes nor logs a pass.
#[test]
fn a_trigger_that_changes_no_mirrored_ref_contacts_no_mirror() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.init_bare("mirror.git");
    env.install(&repo, &[("backup", s(&mirror))]);
    commit_without_terminal(&env, &repo, "first");
    env.wait_for_mirrors(&repo, &[mirror.as_path()]);
    wait_until_idle(&env, &repo);
    let pushes = env.root().join("pushes");
    env.write_executable(
        &mirror.join("hooks/pre-receive"),
        &format!("#!/bin/sh\necho push >> {}\n", sh_quote(&pushes)),
    );
    let log_before = env.log(&repo);

    env.git(&repo, ["checkout", "-q", "--detach"]);
    env.git(&repo, ["checkout", "-q", "main"]);
    env.git(&repo, ["update-ref", "refs/remotes/origin/main", "HEAD"]);
    // What git runs after a commit, run once more with nothing new.
    let run_hook = || {
        let mut hook = Command::new(env.hooks_dir(&repo).join("post-commit"));
        hook.current_dir(&repo);
        env.apply_env(&mut hook);
        let out = hook.output().expect("running the post-commit hook");
        assert!(out.status.success(), "{out:?}");
        wait_until_idle(&env, &repo);
    };
    run_hook();
    assert!(!pushes.exists(), "the mirror was pushed to");
    assert_eq!(env.log(&repo), log_before, "a pass contacted the mirror");

    // The same hook run after a mirrored ref changed does push: the quiet above was a skip.
    env.git(&repo, ["branch", "moved"]);
    run_hook();
    assert!(
        pushes.exists(),
        "a new branch was not pushed:\n{}",
        env.log(&repo)
    );
}

/// A commit made while a foreground `sync` holds the sync lock finds the lock taken and starts no
/// worker of its own; the sync, once done, sees that commit's mark and hands it to a worker, so
/// the mirror catches up with no further commit, push or `sync`.
#[test]
fn a_commit_during_a_foreground_sync_reaches_the_mirror_without_another_trigger() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.init_bare("mirror.git");
    env.install(&repo, &[("backup", s(&mirror))]);
    env.cmd_in(&repo).arg("sync").assert().success();
    let pending = env.common_dir(&repo).join("repo-sync.pending");

    let gate = env.block_pushes(&mirror);
    // Something for the sync to push that fires no hook.
    env.git(&repo, ["branch", "feature"]);
    let sync = env
        .std_cmd_in(&repo)
        .arg("sync")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting sync");
    wait_for(
        WAIT,
        || gate.entered(),
        || "the foreground sync never reached the mirror".to_owned(),
    );

    commit_without_terminal(&env, &repo, "during the sync");
    // Without a terminal the hook runs behind git's back: wait for its mark, then give it the
    // moment it needs to find the lock taken and exit, so the sync still holds the lock then.
    wait_for(
        WAIT,
        || pending.exists(),
        || "the commit's hook left no pending mark".to_owned(),
    );
    std::thread::sleep(Duration::from_millis(500));
    gate.release();
    let out = sync.wait_with_output().expect("waiting for sync");
    assert!(out.status.success(), "sync failed: {out:?}");

    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    wait_until_idle(&env, &repo);
}

/// Nobody holds the repository's sync lock (the kernel released a killed holder's) while the
/// holder's `children` still run. Waited for a moment: under load, the trigger that handed the
/// lock to the worker may not have exited yet.
fn assert_lock_free(common: &Path, children: &[u32]) {
    let lock = fs::OpenOptions::new()
        .write(true)
        .open(common.join("repo-sync.lock"))
        .expect("opening the lock file");
    let last = std::cell::RefCell::new(String::new());
    wait_for(
        Duration::from_secs(5),
        || match lock.try_lock() {
            Ok(()) => {
                lock.unlock().expect("unlocking");
                true
            }
            Err(err) => {
                *last.borrow_mut() = err.to_string();
                false
            }
        },
        || {
            format!(
                "the dead worker's lock is still held ({}); its children: {children:?}",
                last.borrow()
            )
        },
    );
}

/// After a crash the mirror's refs are all `old` or all `new`, and its objects are sound.
fn assert_old_or_new(
    env: &TestEnv,
    mirror: &Path,
    old: &std::collections::BTreeMap<String, String>,
    new: &std::collections::BTreeMap<String, String>,
) {
    let after_crash = ref_map(&env.refs(mirror));
    for name in old.keys().chain(new.keys()) {
        let value = after_crash.get(name);
        assert!(
            value == old.get(name) || value == new.get(name),
            "{name} on the mirror is {value:?}: neither old {:?} nor new {:?}",
            old.get(name),
            new.get(name)
        );
    }
    assert!(
        after_crash == *old || after_crash == *new,
        "a push cut off half-way left some refs old and some new (not atomic):\n\
         old {old:?}\nnew {new:?}\nmirror {after_crash:?}"
    );
    env.git(mirror, ["fsck", "--no-dangling"]);
}

/// The next `sync` neither hangs on what a crash left behind nor fails, and brings the mirror up
/// to date.
fn assert_next_sync_completes(env: &TestEnv, repo: &Path, mirror: &Path) {
    let mut sync = env.std_cmd_in(repo);
    sync.arg("sync");
    let out = run_within(sync, Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("sync after the crash hung (a stale lock?): {e}"));
    assert!(out.status.success(), "sync after the crash: {out:?}");
    assert_eq!(env.refs(mirror), env.refs(repo));
    env.git(mirror, ["fsck", "--no-dangling"]);
}

/// The same for a plain bare mirror, which takes the direct transfer (objects, then one ref
/// transaction) rather than `git push`: killed after the objects went in and while the refs are
/// about to move, the mirror keeps its old refs and sound objects, and the next sync completes.
#[test]
fn a_sync_killed_mid_direct_transfer_leaves_the_mirror_old_or_new() {
    let mut env = TestEnv::new();
    let repo = env.init_repo("project");
    env.commit(&repo, "second");
    env.git(&repo, ["branch", "feature"]);
    env.git(&repo, ["branch", "old"]);
    env.git(&repo, ["tag", "v1"]);
    let mirror = env.init_bare("backup.git");
    env.cmd_in(&repo)
        .args(["mirror", "add", "backup", s(&mirror)])
        .assert()
        .success();
    env.cmd_in(&repo).arg("sync").assert().success();
    let old = ref_map(&env.refs(&mirror));

    // A `git` first on PATH that holds every `update-ref` until released.
    let real_git = std::env::split_paths(env.path_var())
        .map(|dir| dir.join("git"))
        .find(|git| git.is_file())
        .expect("git on PATH");
    let (entered, release) = (env.root().join("entered"), env.root().join("release"));
    let bin = env.root().join("gate-bin");
    env.write_executable(
        &bin.join("git"),
        &format!(
            "#!/bin/sh\ncase \" $* \" in *\" update-ref \"*) : > {}; while [ ! -e {} ]; do sleep 0.05; done;; esac\nexec {} \"$@\"\n",
            sh_quote(&entered),
            sh_quote(&release),
            sh_quote(&real_git)
        ),
    );
    let mut path = vec![bin];
    path.extend(std::env::split_paths(env.path_var()));
    env.set_path_var(std::env::join_paths(path).expect("joining PATH"));

    env.git(&repo, ["branch", "-D", "old"]);
    env.git(&repo, ["tag", "v2"]);
    env.git(&repo, ["branch", "-f", "feature", "HEAD~1"]);
    env.commit(&repo, "the change");
    let new = ref_map(&env.refs(&repo));
    let mut sync = env.std_cmd_in(&repo);
    sync.arg("sync");
    let mut child = sync.spawn().expect("starting sync");
    let pid = child.id();
    wait_for(
        WAIT,
        || entered.exists(),
        || "the sync never reached update-ref".to_owned(),
    );
    let children = descendants(pid);
    kill9(pid);
    for child in &children {
        kill9(*child);
    }
    child.wait().expect("reaping the killed sync");
    let alive = |pid: &u32| Path::new(&format!("/proc/{pid}/cmdline")).exists();
    wait_for(
        Duration::from_secs(5),
        || !children.iter().any(alive),
        || "the sync's git survived SIGKILL".to_owned(),
    );
    assert_lock_free(&env.common_dir(&repo), &children);
    assert_eq!(
        ref_map(&env.refs(&mirror)),
        old,
        "the refs moved before the transaction"
    );
    assert_old_or_new(&env, &mirror, &old, &new);

    fs::write(&release, "").expect("releasing the gate");
    assert_next_sync_completes(&env, &repo, &mirror);
    // What the killed sync had staged is gone too.
    let staged: Vec<_> = fs::read_dir(env.common_dir(&repo))
        .expect("reading the git dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("repo-sync-pack"))
        .collect();
    assert!(staged.is_empty(), "{staged:?}");
}
