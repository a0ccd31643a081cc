//! Connections opened ahead, for the next push to the same mirror. A small push in one request
//! waits mostly for the round trips of setting up where to send it: over ssh the channel and the
//! command, over https the TCP and TLS handshakes. After a push, the pass leaves a holder in the
//! background (our own binary, a hidden subcommand) that sets that up at once and waits, at a
//! socket in the private directory of the ssh masters, for the next push to the same mirror,
//! which then waits for its answer alone: one round trip. The holder relays the request and the
//! answer, and exits; one no push comes to exits by itself ([`ssh`], [`https`]).
//!
//! What a holder's server said before the request is never trusted: the request carries the
//! refs this repository last left on the mirror, and receive-pack checks each old value as it
//! updates the refs, atomically. A push that finds no holder, or whose exchange breaks, sets up
//! its own connection as before, which that check makes safe whatever the first one did. Not
//! in a fleet's scheduled pass, whose next one comes long after.

pub(crate) mod https;
pub(crate) mod ssh;

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, Result};

/// A holder to start once the pass is done and recorded, so that setting up the next pushes'
/// connections takes no CPU from this pass's.
#[derive(Debug)]
pub(crate) enum Holder {
    Ssh(ssh::Spare),
    Https {
        endpoint: https::Endpoint,
        timeout: Duration,
    },
}

impl Holder {
    /// The arguments of our binary that run it; `None` when it has no place to listen.
    fn command_line(&self) -> Option<Vec<OsString>> {
        match self {
            Self::Ssh(spare) => spare.command_line(),
            Self::Https { endpoint, timeout } => endpoint.command_line(*timeout),
        }
    }
}

/// Starts `holders` in the background. Each start waits for its process to be running, which on
/// a machine busy with the pass's end (and, on a small server, with the mirrors' own work)
/// takes milliseconds: a pass with several starts one process of ours that starts them all
/// ([`start_each`]), so that it waits for one start, not one per mirror.
pub(crate) fn start(holders: &[Holder]) {
    let lines: Vec<Vec<OsString>> = holders.iter().filter_map(Holder::command_line).collect();
    match lines.as_slice() {
        [] => {}
        [one] => start_detached(one),
        several => {
            let mut args: Vec<OsString> = vec!["hold-ahead".into(), "--".into()];
            args.extend(joined(several));
            start_detached(&args);
        }
    }
}

/// `hold-ahead`: starts each holder whose command line `joined` holds, as [`start`] joined them.
pub(crate) fn start_each(joined: &[OsString]) -> Result<()> {
    for line in split(joined)? {
        start_detached(line);
    }
    Ok(())
}

/// Command lines one after the other, each as the number of its arguments, then those.
fn joined(lines: &[Vec<OsString>]) -> impl Iterator<Item = OsString> {
    lines
        .iter()
        .flat_map(|line| std::iter::once(OsString::from(line.len().to_string())).chain(line.iter().cloned()))
}

/// The command lines [`joined`] joined.
fn split(mut joined: &[OsString]) -> Result<Vec<&[OsString]>> {
    let mut lines = Vec::new();
    while let Some((count, after)) = joined.split_first() {
        let count: usize = count
            .to_str()
            .and_then(|count| count.parse().ok())
            .with_context(|| format!("{count:?} is not a number of arguments"))?;
        anyhow::ensure!(count <= after.len(), "a holder's arguments end early");
        let (line, after) = after.split_at(count);
        lines.push(line);
        joined = after;
    }
    Ok(lines)
}

/// A socket's path must fit a Unix socket address (108 bytes on Linux, its NUL included).
const MAX_SOCKET_PATH: usize = 107;

/// Sends `request` through the holder listening at `socket`, if one does: what it relayed back,
/// read until `whole` says the answer is (the server may go on a while after its report: git's
/// `gc --auto`, the session's closing) or the holder ends it; or why the exchange broke. `None`
/// when no holder listens.
fn exchange(
    socket: &Path,
    request: &[u8],
    timeout: Duration,
    whole: impl Fn(&[u8]) -> bool,
) -> Option<io::Result<Vec<u8>>> {
    let mut stream = UnixStream::connect(socket).ok()?;
    Some((|| {
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.write_all(request)?;
        stream.shutdown(Shutdown::Write)?;
        let mut answer = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        while !whole(&answer) {
            match stream.read(&mut buffer)? {
                0 => break,
                read => answer.extend_from_slice(&buffer[..read]),
            }
        }
        Ok(answer)
    })())
}

/// `<command> --socket <socket> --lock <lock> --idle <secs>`: the start of a holder's command
/// line, to which its kind adds its own arguments.
fn holder_args(command: &str, socket: &Path, lock: &Path, idle: Duration) -> Vec<OsString> {
    vec![
        command.into(),
        "--socket".into(),
        socket.into(),
        "--lock".into(),
        lock.into(),
        "--idle".into(),
        idle.as_secs().max(1).to_string().into(),
    ]
}

/// Starts our binary with `args` in the background: a session of its own, no descriptor of
/// this process, not waited for (it outlives the pass, and init reaps it). Nothing is said when
/// it cannot start: the next push sets up its own connection.
fn start_detached(args: &[OsString]) {
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    crate::child::detach(&mut cmd, None, None);
    let _ = cmd.spawn();
}

/// The lock file at `path`, held; `None` when another process holds it.
fn try_lock(path: &Path) -> Result<Option<fs::File>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    Ok(file.try_lock().is_ok().then_some(file))
}

/// After `idle`, unless a push came (`client` set), takes the socket away, runs `end` (which
/// closes the connection cleanly) and exits the holder.
fn expire_after(
    idle: Duration,
    socket: &Path,
    client: Arc<Mutex<Option<UnixStream>>>,
    end: impl FnOnce() + Send + 'static,
) {
    let socket = socket.to_owned();
    std::thread::spawn(move || {
        std::thread::sleep(idle);
        let slot = client.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_some() {
            return;
        }
        let _ = fs::remove_file(&socket);
        end();
        std::process::exit(0);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_command_lines_joined_for_one_process_split_back_whole_and_a_cut_one_is_refused() {
        let line = |args: &[&str]| args.iter().map(OsString::from).collect::<Vec<_>>();
        let lines = vec![
            line(&[
                "hold-session",
                "--socket",
                "/s 1",
                "--",
                "git-receive-pack '/m.git'",
            ]),
            line(&["hold-connection", "--timeout", "30", "https://example.org:443"]),
            line(&["hold-session", "--", ""]),
        ];
        let joined: Vec<OsString> = joined(&lines).collect();
        let split_back = split(&joined).expect("split");
        assert_eq!(split_back, lines.iter().map(Vec::as_slice).collect::<Vec<_>>());

        let cut = &joined[..joined.len() - 1];
        let err = split(cut).expect_err("a cut line").to_string();
        assert!(err.contains("end early"), "{err}");
        let err = split(&line(&["hold-session"])).expect_err("no count").to_string();
        assert!(err.contains("not a number"), "{err}");
    }
}
