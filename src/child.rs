//! Running a child that may go silent (a host that stops answering, a frozen mirror): every
//! output drained as it comes, and the child killed with its whole process group (ssh, the http
//! helper) once nothing moved either way for a while. And starting one detached, to outlive us.

use std::io::{self, Read, Write as _};
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow};

/// Runs `cmd` in a process group of its own, with `input` on its stdin (`None`: the stdin the
/// caller set), and returns what it left; `None` when it was silent for `timeout` and was
/// killed. git's progress on its stderr goes to this thread's progress line, if any.
pub(crate) fn run_watched(
    cmd: &mut Command,
    input: Option<&[u8]>,
    timeout: Duration,
) -> Result<Option<Output>> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    if input.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().context("starting it")?;
    let pid = child.id();
    let stdin = child.stdin.take();
    let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        anyhow::bail!("started without its output pipes");
    };
    let activity = Mutex::new(Instant::now());
    let progress = crate::ui::current_progress();
    std::thread::scope(|scope| {
        let activity = &activity;
        if let (Some(mut stdin), Some(input)) = (stdin, input) {
            scope.spawn(move || {
                // The child may stop reading (a refusal before the pack): not an error here.
                for chunk in input.chunks(1 << 16) {
                    if stdin.write_all(chunk).is_err() {
                        break;
                    }
                    touch(activity);
                }
            });
        }
        let out = scope.spawn(move || drain(&mut stdout, activity, None));
        let err = scope.spawn(move || drain(&mut stderr, activity, progress.as_ref()));
        let (exited_tx, exited_rx) = std::sync::mpsc::channel();
        let waiter = scope.spawn(move || {
            let status = child.wait();
            let _ = exited_tx.send(());
            status
        });
        let mut timed_out = false;
        loop {
            let idle = activity.lock().map_or(Duration::ZERO, |at| at.elapsed());
            if idle >= timeout {
                kill_process_group(pid);
                timed_out = true;
                break;
            }
            match exited_rx.recv_timeout(timeout - idle) {
                Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
        let status = waiter.join().map_err(|_| anyhow!("waiting for it panicked"))??;
        let stdout = out.join().map_err(|_| anyhow!("reading its output panicked"))?;
        let stderr = err.join().map_err(|_| anyhow!("reading its output panicked"))?;
        Ok((!timed_out).then_some(Output {
            status,
            stdout,
            stderr,
        }))
    })
}

fn touch(activity: &Mutex<Instant>) {
    if let Ok(mut at) = activity.lock() {
        *at = Instant::now();
    }
}

/// Reads a pipe to its end, noting the time of every chunk as a sign of life.
fn drain(
    pipe: &mut impl Read,
    activity: &Mutex<Instant>,
    progress: Option<&indicatif::ProgressBar>,
) -> Vec<u8> {
    let mut all = Vec::new();
    let mut chunk = [0_u8; 8192];
    loop {
        match pipe.read(&mut chunk) {
            Ok(0) | Err(_) => return all,
            Ok(n) => {
                all.extend_from_slice(&chunk[..n]);
                if let Some((line, said)) = progress.zip(crate::ui::git_progress(&chunk[..n])) {
                    line.set_message(said);
                }
                touch(activity);
            }
        }
    }
}

#[allow(unsafe_code)]
fn kill_process_group(pgid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    // SAFETY: killpg has no memory effects; a group that is already gone gives ESRCH.
    unsafe {
        libc::killpg(pgid, libc::SIGKILL);
    }
}

/// Makes `cmd` start in a session of its own (no terminal's signal reaches it), with no
/// descriptor beyond stdin, stdout and stderr but `keep`, at `niceness` where given.
#[allow(unsafe_code)]
pub(crate) fn detach(cmd: &mut Command, keep: Option<RawFd>, niceness: Option<libc::c_int>) {
    // SAFETY: between fork and exec the closure calls only async-signal-safe functions
    // (setsid, setpriority, close_range/fcntl) and allocates nothing; `keep` is open in the
    // child, a copy of the parent's, which outlives the spawn.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            // Failing to lower the priority is harmless, so its result is not checked.
            if let Some(niceness) = niceness {
                libc::setpriority(libc::PRIO_PROCESS, 0, niceness);
            }
            mark_inherited_descriptors_cloexec();
            if let Some(fd) = keep
                && libc::fcntl(fd, libc::F_SETFD, 0) == -1
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Makes every descriptor above stderr close on exec. Those are whatever the hook inherited
/// from git (std's own are close-on-exec already, including the one that reports exec errors).
#[allow(unsafe_code)]
fn mark_inherited_descriptors_cloexec() {
    #[cfg(target_os = "linux")]
    {
        const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
        // SAFETY: close_range with CLOEXEC only sets flags; it closes nothing.
        if unsafe { libc::syscall(libc::SYS_close_range, 3, libc::c_uint::MAX, CLOSE_RANGE_CLOEXEC) } == 0 {
            return;
        }
    }
    for fd in 3..1024 {
        // SAFETY: fcntl on a descriptor that may not exist fails with EBADF, which is fine.
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
}
