//! Running a child that may go silent (a host that stops answering, a frozen mirror): every
//! output drained as it comes, and the child killed with its whole process group (ssh, the http
//! helper) once nothing moved either way for a while.

use std::io::{Read, Write as _};
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
