//! A killed pass or a full disk leaves nothing that only a person can clear: the next pass
//! removes the git locks and temporary files a killed pass of ours left in a mirror on this
//! machine, says so, and succeeds; a lock that may be someone else's is left alone and named
//! with the command that clears it; a transfer that fails on a full disk takes its files back.
//!
//! Real repositories, real processes: workers are found in `/proc` by their command line and
//! killed with their whole session (the worker starts one, and every git it runs stays in it).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Snapshot, TestEnv, WAIT, run_within, s, wait_for};

/// `(pid, session, args)` of every process in `/proc`.
fn processes() -> Vec<(u32, u32, Vec<String>)> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let (Ok(cmdline), Ok(stat)) = (
            fs::read(entry.path().join("cmdline")),
            fs::read_to_string(entry.path().join("stat")),
        ) else {
            continue;
        };
        // `pid (comm) state ppid pgrp session ...`; comm may hold spaces and parentheses.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        // A zombie has ended already; only its parent's wait is missing.
        let (Some(state), Some(Ok(session))) = (fields.first(), fields.get(3).map(|f| f.parse())) else {
            continue;
        };
        if *state == "Z" {
            continue;
        }
        let args = cmdline
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        found.push((pid, session, args));
    }
    found
}

/// The background workers of the repository whose common dir is `common`.
fn workers_of(common: &Path) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|(_, _, args)| {
            args.iter().skip(1).any(|a| a == "worker")
                && args
                    .windows(2)
                    .any(|w| w[0] == "--git-dir" && Path::new(&w[1]) == common)
        })
        .map(|(pid, _, _)| pid)
        .collect()
}

/// SIGKILLs a worker and every process of its session (its git, git's receive-pack and hooks),
/// and waits until they are all gone.
fn kill_worker_and_its_git(worker: u32) {
    let session = || -> Vec<u32> {
        processes()
            .into_iter()
            .filter(|(pid, sid, _)| *sid == worker || *pid == worker)
            .map(|(pid, _, _)| pid)
            .collect()
    };
    wait_for(
        Duration::from_secs(10),
        || {
            let left = session();
            for pid in &left {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stderr(std::process::Stdio::null())
                    .status();
            }
            left.is_empty()
        },
        || format!("worker {worker}'s session survived SIGKILL: {:?}", session()),
    );
}

/// The locks and temporary files in a mirror: git's and ours.
fn leftovers_in(mirror: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![mirror.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".lock") || name.starts_with("tmp_") {
                found.push(entry.path());
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            }
        }
    }
    found
}

/// What a pass keeps beside the source while it runs: staged packs and transfer markers.
fn our_files_in_source(common: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(common)
        .expect("reading the git dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("repo-sync-pack"))
        .map(|e| e.path())
        .collect();
    found.extend(
        fs::read_dir(common.join("repo-sync-inflight"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path()),
    );
    found
}

/// `sync`, which must finish within 30 s.
fn sync(env: &TestEnv, repo: &Path) -> std::process::Output {
    let mut cmd = env.std_cmd_in(repo);
    cmd.arg("sync");
    run_within(cmd, Duration::from_secs(30)).unwrap_or_else(|e| panic!("sync hung: {e}"))
}

/// The mirror equals the source, git finds it sound under `--strict`, and nothing of a pass is
/// left in it or beside the source.
fn assert_whole(env: &TestEnv, repo: &Path, mirror: &Path) {
    assert_eq!(env.refs(mirror), env.refs(repo), "{}", mirror.display());
    env.git(mirror, ["fsck", "--strict", "--no-dangling"]);
    let left = leftovers_in(mirror);
    assert!(left.is_empty(), "left in {}: {left:?}", mirror.display());
    let ours = our_files_in_source(&env.common_dir(repo));
    assert!(ours.is_empty(), "left beside the source: {ours:?}");
}

fn mkfifo(path: &Path) {
    fs::create_dir_all(path.parent().expect("a parent")).expect("creating the log dir");
    let status = Command::new("mkfifo").arg(path).status().expect("running mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// A repository installed with one mirror `m`, synced once; with `hooked`, the mirror has a
/// pre-receive hook of its own, so it gets a real `git push` rather than the direct transfer.
fn installed(env: &TestEnv, hooked: bool) -> (PathBuf, PathBuf) {
    let repo = env.init_repo("work");
    let mirror = env.init_bare("m.git");
    if hooked {
        env.write_executable(&mirror.join("hooks/pre-receive"), "#!/bin/sh\nexit 0\n");
    }
    env.install(&repo, &[("m", s(&mirror))]);
    env.cmd_in(&repo).arg("sync").assert().success();
    assert_eq!(env.refs(&mirror), env.refs(&repo));
    (repo, mirror)
}

/// Kills the worker while git holds the mirror's ref locks (its reflog is a FIFO nobody reads,
/// so git blocks on opening it), then checks that the next sync clears them and says so.
fn killed_inside_the_ref_transaction_then_repaired(hooked: bool) {
    let env = TestEnv::new();
    let (repo, mirror) = installed(&env, hooked);
    let fifo = mirror.join("logs/refs/heads/main");
    mkfifo(&fifo);
    let lock = mirror.join("refs/heads/main.lock");

    env.commit(&repo, "moves main");
    wait_for(
        WAIT,
        || lock.exists(),
        || format!("git never took {}; log:\n{}", lock.display(), env.log(&repo)),
    );
    let common = env.common_dir(&repo);
    let workers = workers_of(&common);
    assert_eq!(workers.len(), 1, "one worker: {workers:?}");
    kill_worker_and_its_git(workers[0]);
    fs::remove_file(&fifo).expect("removing the FIFO");
    assert!(lock.exists(), "the killed git left its lock");

    let out = sync(&env, &repo);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "sync after the kill: {out:?}");
    assert!(
        stderr.contains(&format!("removed stale lock {}", lock.display())),
        "the repair is said: {stderr}"
    );
    assert_whole(&env, &repo, &mirror);

    // And the background is not wedged either.
    env.commit(&repo, "after the repair");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
}

#[test]
fn a_sync_killed_inside_the_direct_ref_transaction_leaves_locks_the_next_sync_removes_and_reports() {
    killed_inside_the_ref_transaction_then_repaired(false);
}

#[test]
fn a_sync_killed_inside_a_git_push_ref_transaction_leaves_locks_the_next_sync_removes_and_reports() {
    killed_inside_the_ref_transaction_then_repaired(true);
}

#[test]
fn a_lock_held_by_a_live_foreign_git_is_left_alone_and_reported_with_its_fix() {
    let env = TestEnv::new();
    let (repo, mirror) = installed(&env, false);
    // Someone else's git, blocked inside its own transaction in the mirror.
    let fifo = mirror.join("logs/refs/heads/other");
    mkfifo(&fifo);
    let lock = mirror.join("refs/heads/other.lock");
    let head = env.head(&repo);
    let mut foreign = env.git_cmd(&mirror);
    foreign
        .args(["update-ref", "refs/heads/other", &head])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let foreign = Reaped(foreign.spawn().expect("starting the foreign git"));
    wait_for(
        WAIT,
        || lock.exists(),
        || "the foreign git took no lock".to_owned(),
    );

    // A branch made alone fires no hook, so no worker competes with the sync for the lock.
    env.git(&repo, ["branch", "other"]);
    let out = sync(&env, &repo);
    let stderr = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(lock.exists(), "a live git's lock was removed");
    let fix = stderr
        .lines()
        .find_map(|line| Some(format!("rm -- {}", line.split_once("rm -- ")?.1)))
        .unwrap_or_default();
    assert!(
        stderr.contains(&foreign.0.id().to_string()) && fix.contains(&lock.display().to_string()),
        "the lock is named with who works there and its fix: {stderr}"
    );
    assert!(!stderr.contains("removed stale"), "{stderr}");

    // The fix as given, once the foreign git is gone, works.
    drop(foreign);
    fs::remove_file(&fifo).expect("removing the FIFO");
    let ran = std::process::Command::new("sh")
        .args(["-c", &fix])
        .status()
        .expect("running the fix");
    assert!(
        ran.success() && !lock.exists(),
        "the fix as given did not remove the lock: {fix}"
    );
    let out = sync(&env, &repo);
    assert!(out.status.success(), "{out:?}");
    assert_whole(&env, &repo, &mirror);
}

/// A child killed and reaped however the test ends.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A small linear congruential generator (Knuth's MMIX constants): a fixed seed gives the same
/// kill instants on every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

#[test]
fn random_kills_of_the_worker_and_its_git_leave_mirrors_that_one_sync_makes_whole() {
    let kills_wanted: u32 = std::env::var("GIT_REPO_SYNC_SOAK_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::var("GIT_REPO_SYNC_SOAK_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(11);
    let env = TestEnv::new();
    let repo = env.init_repo("work");
    let direct = env.init_bare("direct.git");
    let hooked = env.init_bare("hooked.git");
    env.write_executable(&hooked.join("hooks/pre-receive"), "#!/bin/sh\nexit 0\n");
    env.install(&repo, &[("direct", s(&direct)), ("hooked", s(&hooked))]);
    env.cmd_in(&repo).arg("sync").assert().success();
    let common = env.common_dir(&repo);

    let mut rng = Lcg(seed);
    let (mut kills, mut rounds, mut inside) = (0, 0, 0);
    let started = Instant::now();
    while kills < kills_wanted {
        rounds += 1;
        assert!(
            rounds < kills_wanted * 10,
            "only {kills} kills in {rounds} rounds; log:\n{}",
            env.log(&repo)
        );
        // Changes of every kind: new commits, branches made and deleted, tags, a forced move,
        // and now and then enough objects that the pack is kept rather than unpacked.
        match rng.below(8) {
            0 => {
                for i in 0..120 {
                    fs::write(
                        repo.join(format!("bulk-{rounds}-{i}.txt")),
                        format!("{rounds} {i}\n"),
                    )
                    .expect("writing a file");
                }
                env.git(&repo, ["add", "."]);
                env.git(&repo, ["commit", "-q", "-m", "bulk"]);
            }
            1 => {
                env.git(&repo, ["branch", "-f", &format!("b{}", rng.below(4)), "HEAD"]);
            }
            2 => {
                let _ = env
                    .git_cmd(&repo)
                    .args(["branch", "-D", &format!("b{}", rng.below(4))])
                    .output();
                env.commit(&repo, "after a deletion");
            }
            3 => {
                env.git(&repo, ["tag", "-f", &format!("t{}", rng.below(3))]);
            }
            4 => {
                env.commit(&repo, "to be dropped");
                env.git(&repo, ["reset", "-q", "--hard", "HEAD~1"]);
                env.commit(&repo, "forced");
            }
            _ => {
                env.commit(&repo, "a commit");
            }
        }
        std::thread::sleep(Duration::from_millis(rng.below(250)));
        let killed = workers_of(&common);
        for worker in &killed {
            kill_worker_and_its_git(*worker);
            kills += 1;
            // A marker left means the kill landed inside a transfer into a mirror.
            inside +=
                fs::read_dir(common.join("repo-sync-inflight")).map_or(0, |dir| u32::from(dir.count() > 0));
        }
        if !killed.is_empty() {
            // Objects go in before the refs that name them: whatever a kill interrupted, every
            // ref a mirror has can be cloned, before any repair.
            for mirror in [&direct, &hooked] {
                env.git(
                    mirror,
                    ["fsck", "--connectivity-only", "--no-dangling", "--no-progress"],
                );
            }
        }
    }
    println!(
        "{kills} kills in {rounds} rounds ({inside} inside a transfer), {:?} (seed {seed})",
        started.elapsed()
    );
    let log = env.log(&repo);
    println!(
        "repairs in the background: {}",
        log.matches("removed stale").count()
    );
    // A commit's worker may still be at work; the one sync comes after it.
    wait_for(
        WAIT,
        || workers_of(&common).is_empty(),
        || format!("workers still run; log:\n{}", env.log(&repo)),
    );
    let out = sync(&env, &repo);
    assert!(
        out.status.success(),
        "the one sync: {out:?}\nlog:\n{}",
        env.log(&repo)
    );
    println!("the sync said: {}", String::from_utf8_lossy(&out.stderr));
    assert_whole(&env, &repo, &direct);
    assert_whole(&env, &repo, &hooked);
}

/// Unmounts a test's tmpfs however the test ends.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn mount(args: &[&str], at: &Path) -> bool {
    Command::new("mount")
        .args(args)
        .arg(at)
        .status()
        .is_ok_and(|status| status.success())
}

#[test]
fn a_mirror_on_a_full_disk_fails_cleanly_keeps_nothing_of_ours_and_syncs_once_there_is_room() {
    // Only root may mount.
    let uid = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|st| {
            st.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(str::to_owned))
        })
        .unwrap_or_default();
    if uid != "0" {
        println!("skipped: mounting a small tmpfs for the mirror needs root (uid {uid})");
        return;
    }
    let env = TestEnv::new();
    let disk = env.root().join("small-disk");
    fs::create_dir_all(&disk).expect("creating the mount point");
    if !mount(&["-t", "tmpfs", "-o", "size=1m", "tmpfs"], &disk) {
        println!("skipped: mount -t tmpfs failed here (no CAP_SYS_ADMIN in this container?)");
        return;
    }
    let _mounted = Mounted(disk.clone());
    let mirror = env.init_bare("small-disk/m.git");

    // Three megabytes that do not compress, in enough objects that the pack is kept whole.
    let repo = env.init_repo("work");
    let mut rng = Lcg(7);
    for i in 0..150 {
        let bytes: Vec<u8> = (0..20_000).map(|_| rng.below(256) as u8).collect();
        fs::write(repo.join(format!("blob-{i}.bin")), bytes).expect("writing a blob");
    }
    env.git(&repo, ["add", "."]);
    env.git(&repo, ["commit", "-q", "-m", "three megabytes"]);
    env.cmd_in(&repo)
        .args(["mirror", "add", "m", s(&mirror)])
        .assert()
        .success();
    let before = Snapshot::of(&mirror);

    let out = sync(&env, &repo);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(said.contains("No space left"), "git's or the OS's reason: {said}");
    Snapshot::of(&mirror).assert_unchanged(&before, "a sync that found the disk full");
    let ours = our_files_in_source(&env.common_dir(&repo));
    assert!(ours.is_empty(), "left beside the source: {ours:?}");

    assert!(mount(&["-o", "remount,size=64m"], &disk), "growing the tmpfs");
    let out = sync(&env, &repo);
    assert!(out.status.success(), "once there is room: {out:?}");
    assert_whole(&env, &repo, &mirror);
}
