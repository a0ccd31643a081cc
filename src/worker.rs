//! The background worker: started detached by a hook, it syncs under a per-repository lock.
//!
//! Coalescing ("one running, at most one queued", as gitolite does it): a trigger first marks a
//! pass as pending, then probes the lock. If the lock is free it starts a worker; if not, whoever
//! holds the lock answers for the mark. Whoever holds the lock (a worker, or a foreground `sync`
//! through [`foreground`]) clears the mark before a pass that covers it and, after releasing the
//! lock, looks once more, so a trigger that arrived meanwhile is never lost. The lock is an OS
//! file lock: the kernel drops it when a worker dies, so a killed worker never blocks later syncs.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::fd::{AsRawFd as _, FromRawFd as _, RawFd};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result};

use crate::config::Config;
use crate::engine;
use crate::git;
use crate::repo::{Kept, Repo};
use crate::state::timestamp;

/// Above this size the log is moved to `repo-sync.log.old` before a worker starts.
const LOG_LIMIT: u64 = 1 << 20;

/// The repository's sync lock, held for as long as this value lives.
#[derive(Debug)]
pub(crate) struct SyncLock {
    file: File,
}

fn lock_path(repo: &Repo) -> PathBuf {
    repo.kept(Kept::SyncLock)
}

fn pending_path(repo: &Repo) -> PathBuf {
    repo.kept(Kept::Pending)
}

fn open_lock_file(repo: &Repo) -> Result<File> {
    let path = lock_path(repo);
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening lock file {}", crate::repo::quoted(&path)))
}

impl SyncLock {
    /// Takes the lock, waiting for a running worker to finish.
    pub(crate) fn acquire(repo: &Repo) -> Result<Self> {
        let file = open_lock_file(repo)?;
        file.lock().context("locking the repository for sync")?;
        Ok(Self { file })
    }

    /// The lock a trigger took and handed to this worker as descriptor `fd`. It must be the
    /// repository's lock file, which this process then owns.
    #[allow(unsafe_code)]
    pub(crate) fn handed_over(repo: &Repo, fd: RawFd) -> Result<Self> {
        use std::os::unix::fs::MetadataExt as _;
        let path = lock_path(repo);
        let expected =
            std::fs::metadata(&path).with_context(|| format!("reading {}", crate::repo::quoted(&path)))?;
        // SAFETY: fstat only reads the descriptor's metadata; an fd that is not open fails with
        // EBADF and is not touched further.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(fd, &raw mut stat) } != 0 {
            anyhow::bail!("descriptor {fd} handed over as the sync lock is not open");
        }
        if stat.st_dev != expected.dev() || stat.st_ino != expected.ino() {
            anyhow::bail!(
                "descriptor {fd} handed over as the sync lock is not {}",
                crate::repo::quoted(&path)
            );
        }
        // Close-on-exec again, as every descriptor of ours is: a git this worker starts must not
        // hold the lock past a killed worker.
        // SAFETY: fcntl on an open descriptor of this process only sets its flags.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } == -1 {
            return Err(io::Error::last_os_error()).context("keeping the sync lock from git's processes");
        }
        // SAFETY: the descriptor is open, is the lock file, and nothing else in this process
        // owns it: the spawning trigger passed it to this worker alone.
        let file = unsafe { File::from_raw_fd(fd) };
        // Held already through the shared open file description; this only confirms it.
        file.try_lock()
            .map_err(|_| anyhow::anyhow!("the sync lock handed over is not held"))?;
        Ok(Self { file })
    }

    /// Takes the lock if nobody holds it.
    pub(crate) fn try_acquire(repo: &Repo) -> Result<Option<Self>> {
        let file = open_lock_file(repo)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Self { file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(err)) => Err(err).context("locking the repository for sync"),
        }
    }
}

/// Since when a sync has been asked for and not yet started, if one has.
pub(crate) fn pending_since(repo: &Repo) -> Option<std::time::SystemTime> {
    std::fs::symlink_metadata(pending_path(repo))
        .ok()
        .filter(std::fs::Metadata::is_file)
        .and_then(|meta| meta.modified().ok())
}

/// Whether a sync is marked as wanted. Only a file is a mark: something else in its place (a
/// directory) is reported by `status` and `doctor`, never taken for a mark or deleted.
fn pending_marked(repo: &Repo) -> bool {
    std::fs::symlink_metadata(pending_path(repo)).is_ok_and(|meta| meta.is_file())
}

/// What stands where the pending mark belongs, when it is not a file git-repo-sync can use.
pub(crate) fn pending_problem(repo: &Repo) -> Option<String> {
    let path = pending_path(repo);
    let meta = std::fs::symlink_metadata(&path).ok()?;
    (!meta.is_file()).then(|| {
        format!(
            "{} is not a file (a directory?): hooks cannot mark a sync as wanted there, so each \
             commit starts a pass of its own; move it away",
            crate::repo::quoted(&path)
        )
    })
}

/// Whether a worker (or a foreground `sync`) holds the repository's sync lock now.
pub(crate) fn is_running(repo: &Repo) -> Result<bool> {
    // Read-only, and never created: `doctor` may be run by someone other than the owner, and a
    // lock file of theirs would be one the owner's worker cannot open.
    let path = lock_path(repo);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(err) => {
            return Err(err).with_context(|| format!("opening lock file {}", crate::repo::quoted(&path)));
        }
    };
    match file.try_lock() {
        Ok(()) => Ok(false),
        Err(std::fs::TryLockError::WouldBlock) => Ok(true),
        Err(std::fs::TryLockError::Error(err)) => Err(err).context("probing the repository's sync lock"),
    }
}

/// Asks for a sync of `repo` in the background and returns at once.
pub(crate) fn trigger(repo: &Repo) -> Result<()> {
    let pending = pending_path(repo);
    let marked = File::create(&pending).with_context(|| {
        format!(
            "marking a sync as wanted in {} (move away whatever stands there)",
            crate::repo::quoted(&pending)
        )
    });
    // Without a mark the trigger still starts a worker, which makes one pass for the lock it is
    // handed: the mirrors stay current while the problem is reported.
    start_worker_if_idle(repo)?;
    if let Err(err) = marked {
        eprintln!("git-repo-sync: warning: {err:#}; mirrors are still updated");
    }
    Ok(())
}

/// Starts a worker unless someone holds the lock (who then answers for the pending mark). The
/// lock taken here is handed to the worker itself, so there is no moment between the probe and
/// the worker's start in which another trigger finds it free and starts a second worker.
fn start_worker_if_idle(repo: &Repo) -> Result<()> {
    if let Some(lock) = SyncLock::try_acquire(repo)? {
        spawn_worker(repo, lock)?;
    }
    Ok(())
}

/// Runs a foreground pass under the sync lock, waiting for a running worker first. A pass over
/// every mirror (`all_mirrors`) covers what triggers marked, so it clears the mark; a pass over
/// some leaves it to a worker. A trigger that found the lock taken started no worker, so once
/// the lock is released a mark left standing gets one: the hook that made it will not come back.
pub(crate) fn foreground<T>(repo: &Repo, all_mirrors: bool, pass: impl FnOnce() -> Result<T>) -> Result<T> {
    let lock = SyncLock::acquire(repo)?;
    if all_mirrors {
        take_pending(repo)?;
    }
    let result = pass();
    drop(lock);
    hand_over_pending(repo);
    result
}

/// A pass of the schedule's `sync --all`: like [`foreground`], but a repository whose worker is
/// running is left to it (`None`): that pass carries what this one would.
pub(crate) fn scheduled<T>(repo: &Repo, pass: impl FnOnce() -> Result<T>) -> Result<Option<T>> {
    let Some(lock) = SyncLock::try_acquire(repo)? else {
        return Ok(None);
    };
    take_pending(repo)?;
    let result = pass();
    drop(lock);
    hand_over_pending(repo);
    result.map(Some)
}

/// After a pass that held the lock: a trigger that came meanwhile found the lock taken and
/// started no worker, so one is started now.
fn hand_over_pending(repo: &Repo) {
    if pending_marked(repo)
        && let Err(err) = start_worker_if_idle(repo)
    {
        // The pass's own outcome matters more; the next trigger will start a worker.
        eprintln!("git-repo-sync: warning: {err:#}; changes made during this sync wait for the next commit");
    }
}

/// Starts `git-repo-sync worker` detached: its own session, stdin from /dev/null, stdout and
/// stderr to the log, and no other descriptor of ours. `git receive-pack` waits until every copy
/// of a post-receive hook's output pipe is closed, so a worker holding one would hold the
/// pushing client until the mirror push ended.
fn spawn_worker(repo: &Repo, lock: SyncLock) -> Result<()> {
    let log_path = repo.log_path();
    if std::fs::metadata(&log_path).is_ok_and(|meta| meta.len() > LOG_LIMIT) {
        let _ = std::fs::rename(&log_path, repo.kept(Kept::OldLog));
    }
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening log {}", crate::repo::quoted(&log_path)))?;
    let exe = std::env::current_exe().context("finding the git-repo-sync binary")?;
    let mut cmd = Command::new(exe);
    cmd.arg("worker")
        .arg("--git-dir")
        .arg(&repo.common_dir)
        .current_dir(&repo.common_dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().context("duplicating the log descriptor")?)
        .stderr(log);
    // A hook on a server runs in the pusher's session; the worker outlives that push.
    git::scrub_env(&mut cmd);
    // A worker started from a mirror's hook during our push is a pass of its own, not ours.
    cmd.env_remove(crate::process::PASS_ENV);
    let lock_fd = lock.file.as_raw_fd();
    cmd.arg("--lock-fd").arg(lock_fd.to_string());
    // Mirroring is background work: the user's own git commands come first. The one
    // descriptor the worker keeps: the sync lock, handed over held.
    crate::child::detach(&mut cmd, Some(lock_fd), Some(WORKER_NICENESS));
    cmd.spawn().context("starting the background sync worker")?;
    // Only this process's copy is closed: the worker's keeps the lock.
    drop(lock);
    Ok(())
}

/// How long the worker waits for more triggers before a pass.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(50);

/// The worker's scheduling priority (`nice`), as low as a background job's usually is.
const WORKER_NICENESS: libc::c_int = 10;

/// Removes the pending mark; true if there was one.
fn take_pending(repo: &Repo) -> Result<bool> {
    if !pending_marked(repo) {
        return Ok(false);
    }
    match std::fs::remove_file(pending_path(repo)) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err).context("clearing the pending sync mark"),
    }
}

/// The worker's loop, starting with the lock its trigger handed over (if any): passes until no
/// trigger is pending, then exits.
pub(crate) fn run(repo: &Repo, handed_over: Option<SyncLock>) -> Result<()> {
    let result = run_locked(repo, handed_over);
    forget_worker(repo);
    result
}

/// The file naming the running worker by its pid, which the hooks read (see the trigger
/// template): written by each worker as it takes the lock.
fn tell_worker(repo: &Repo) {
    // Without it a hook only starts a process that finds the lock taken: harmless.
    let _ = std::fs::write(repo.kept(Kept::Worker), format!("{}\n", std::process::id()));
}

/// Removes the worker's pid file, unless a later worker has written its own there.
fn forget_worker(repo: &Repo) {
    let path = repo.kept(Kept::Worker);
    if std::fs::read_to_string(&path).is_ok_and(|pid| pid.trim() == std::process::id().to_string()) {
        let _ = std::fs::remove_file(&path);
    }
}

fn run_locked(repo: &Repo, handed_over: Option<SyncLock>) -> Result<()> {
    // A worker its trigger handed the lock to was asked for a pass, mark or no mark.
    let mut asked = handed_over.is_some();
    let mut handed_over = handed_over;
    loop {
        let lock = match handed_over.take() {
            Some(lock) => lock,
            None => match SyncLock::try_acquire(repo)? {
                Some(lock) => lock,
                // Another worker holds the lock and will see the pending mark.
                None => return Ok(()),
            },
        };
        tell_worker(repo);
        // The refs as the last pass began, kept only while the mark cannot be written.
        let mut refs_at_last_pass = None;
        let mut passes = 0_u32;
        loop {
            // A trigger after a quiet spell gets its pass at once: a lone commit reaches the
            // mirror as soon as a hook's own `git push` would. What comes while that pass runs
            // is a burst (a script, a rebase): let it settle, so that one pass carries it all
            // instead of one push per commit competing with the commits for the CPU.
            if passes > 0 {
                std::thread::sleep(SETTLE);
            }
            passes += 1;
            let asked_now = std::mem::take(&mut asked);
            let marked = take_pending(repo)?;
            // Without a usable mark, a commit made during the pass cannot say so: the refs do.
            let moved = || {
                refs_at_last_pass
                    .as_ref()
                    .is_some_and(|before| engine::local_refs(repo).ok().as_ref() != Some(before))
            };
            if !marked && !asked_now && !moved() {
                break;
            }
            refs_at_last_pass = pending_problem(repo).and_then(|_| engine::local_refs(repo).ok());
            pass(repo);
        }
        drop(lock);
        if !pending_marked(repo) {
            return Ok(());
        }
    }
}

/// One pass, logged; a failure is logged, never fatal, so the loop goes on.
fn pass(repo: &Repo) {
    let now = timestamp(std::time::SystemTime::now());
    let result = Config::for_repo(repo)
        .and_then(|config| engine::run_pass(repo, &config, &[], engine::PassKind::Background, None));
    // Locked only now: a mirror's thread that has something to say during the pass writes to
    // the same log, and would wait for this lock forever.
    let mut log = io::stderr().lock();
    match result {
        Ok(reports) => {
            for report in reports.iter().filter(|r| !r.skipped) {
                let _ = writeln!(log, "{now} {}", report.summary());
            }
        }
        Err(err) => {
            let _ = writeln!(log, "{now} error: {err:#}");
        }
    }
}
