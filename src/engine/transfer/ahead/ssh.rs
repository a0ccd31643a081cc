//! An ssh session opened ahead. Even through a master kept open, OpenSSH opens a channel (one
//! round trip) and asks the server to run the command (a second), and only then sends the
//! request, whose answer is the third. A push that finds `git-receive-pack` already running for
//! its mirror, its advertisement read, waits for the answer alone.
//!
//! After a push to an ssh mirror whose master is kept open, the pass leaves a holder
//! (`git-repo-sync hold-session`) that runs `git-receive-pack` as a session of that master, reads
//! the advertisement, and waits at a socket beside the master's. A holder no push comes to
//! within `ssh_keep_open` ends its session cleanly (a flush: receive-pack ends with no command
//! and runs no hook), as does one whose server closes the session first. There is one holder per
//! mirror and a few per master, so the sessions sshd allows on a connection (`MaxSessions`) stay
//! for the pushes.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Write as _};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, Result};

use super::super::connection::MirrorGit;

/// The largest advertisement a holder keeps (a mirror of many refs): beyond it, no spare.
const LARGEST_ADVERTISEMENT: usize = 16 * 1024 * 1024;

/// Sessions held open (or used by a push) on one master at most: with the sessions a pass's
/// pushes open beside them (at most four), nine of the ten sshd allows on a connection by
/// default (`MaxSessions`).
const SPARES_PER_MASTER: usize = 9 - super::super::shared_ssh::PUSHES_PER_KEPT_MASTER;

/// Where the holder for `remote` through the master at `master` listens (`None` when the path
/// would be too long for a socket), and the lock that keeps it the remote's only one.
fn paths(master: &Path, remote: &str) -> Option<(PathBuf, PathBuf)> {
    let id = super::super::shared_ssh::endpoint_id(remote, "spare");
    let mut socket = master.as_os_str().to_owned();
    socket.push(format!("s{}", &id[..8]));
    let mut lock = socket.clone();
    lock.push(".lock");
    (socket.len() <= super::MAX_SOCKET_PATH).then(|| (PathBuf::from(socket), PathBuf::from(lock)))
}

/// The locks of the master's places for holders (`<master>.spare<N>`), for the socket `socket`
/// of one of its holders.
fn slot_locks(socket: &Path) -> Vec<PathBuf> {
    let text = socket.as_os_str().to_string_lossy();
    let master = text.rsplit_once('s').map_or(&*text, |(master, _)| master);
    (0..SPARES_PER_MASTER)
        .map(|slot| PathBuf::from(format!("{master}.spare{slot}")))
        .collect()
}

/// Sends `request` through the session a holder keeps for `remote`, if one waits: what came back
/// (the advertisement, then the answer, up to where `whole` says it is), or why the exchange
/// broke. `None` when no holder waits.
pub(crate) fn exchange(
    master: &Path,
    remote: &str,
    request: &[u8],
    timeout: Duration,
    whole: impl Fn(&[u8]) -> bool,
) -> Option<io::Result<Vec<u8>>> {
    super::exchange(&paths(master, remote)?.0, request, timeout, whole)
}

/// An ssh session to open ahead: `remote` run through the master at `master` by `script` (its
/// `sh -c` line), waiting `idle` for the next push.
#[derive(Debug)]
pub(crate) struct Spare {
    master: PathBuf,
    remote: String,
    script: String,
    idle: Duration,
}

/// The session to open ahead for `remote` on the master `git`'s pushes go through, where that
/// master is kept open.
pub(crate) fn spare_for(git: &MirrorGit<'_>, remote: &str) -> Option<super::Holder> {
    let idle = git.mirror().ssh_keep_open();
    if idle.is_zero() {
        return None;
    }
    Some(super::Holder::Ssh(Spare {
        master: git.ssh_master()?.to_owned(),
        remote: remote.to_owned(),
        script: git.ssh_session_script(remote)?,
        idle,
    }))
}

impl Spare {
    /// Its holder's command line: `hold-session ... -- <script>`.
    pub(super) fn command_line(&self) -> Option<Vec<OsString>> {
        let (socket, lock) = paths(&self.master, &self.remote)?;
        let mut args = super::holder_args("hold-session", &socket, &lock, self.idle);
        args.extend(["--".into(), self.script.clone().into()]);
        Some(args)
    }
}

/// The holder: `git-repo-sync hold-session`. Returns when its session is used or has ended.
pub(crate) fn hold(socket: &Path, lock: &Path, idle: Duration, script: &str) -> Result<()> {
    // One holder per remote, and a few per master, each holding its place until its session
    // has ended; a holder that finds no place soon leaves it to the next push to open its own.
    let Some(remote_lock) = super::try_lock(lock)? else {
        return Ok(());
    };
    let Some(_slot) = take_slot(socket)? else {
        return Ok(());
    };
    let mut cmd = super::super::connection::session_command(script);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().context("starting ssh")?;
    let (Some(to_server), Some(mut from_server)) = (child.stdin.take(), child.stdout.take()) else {
        anyhow::bail!("ssh started without its pipes");
    };
    let to_server = Arc::new(Mutex::new(Some(to_server)));
    // Who the server's bytes go to once a push has come; until then, the holder only waits (a
    // server that never answers ends it as an idle one ends).
    let client: Arc<Mutex<Option<UnixStream>>> = Arc::default();
    {
        let to_server = Arc::clone(&to_server);
        // Ends the session cleanly: a flush, no command.
        super::expire_after(idle, socket, Arc::clone(&client), move || {
            if let Some(mut server_in) = to_server.lock().unwrap_or_else(PoisonError::into_inner).take() {
                let _ = server_in.write_all(b"0000");
            }
        });
    }
    let advertisement = read_advertisement(&mut from_server)?;

    let _ = fs::remove_file(socket);
    let listener =
        UnixListener::bind(socket).with_context(|| format!("listening at {}", socket.display()))?;
    let relay = {
        let client = Arc::clone(&client);
        let socket = socket.to_owned();
        std::thread::spawn(move || relay_answer(&mut from_server, &client, &socket))
    };
    let (mut stream, _) = listener.accept().context("waiting for a push")?;
    // Taken: the pass that took it may leave the next holder for this remote at once.
    drop(remote_lock);
    {
        let mut slot = client.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = fs::remove_file(socket);
        stream.write_all(&advertisement)?;
        *slot = Some(stream.try_clone()?);
    }
    stream.set_read_timeout(Some(idle))?;
    // A server that stops answering mid-push would hold the session, and with it the master,
    // for ever: the push gives up after its own timeout, the holder after this.
    std::thread::spawn(|| {
        std::thread::sleep(PUSH_LIMIT);
        std::process::exit(0);
    });
    let server_in = to_server.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(mut server_in) = server_in {
        // The request, up to the push's shutdown of its side; then receive-pack's stdin ends.
        let _ = io::copy(&mut stream, &mut server_in);
    }
    let _ = relay.join();
    let _ = child.wait();
    Ok(())
}

/// The longest a holder relays a push: far beyond any mirror's `timeout` for a request of at
/// most 1 MiB (the push in one request's largest).
const PUSH_LIMIT: Duration = Duration::from_secs(600);

/// How long a holder waits for one of its master's places: the sessions just used end within
/// moments of their push.
const SLOT_WAIT: Duration = Duration::from_secs(2);

/// One of the master's places for a holder, held, waiting [`SLOT_WAIT`] for one to be free.
fn take_slot(socket: &Path) -> Result<Option<fs::File>> {
    let started = std::time::Instant::now();
    loop {
        for path in slot_locks(socket) {
            if let Some(slot) = super::try_lock(&path)? {
                return Ok(Some(slot));
            }
        }
        if started.elapsed() >= SLOT_WAIT {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// receive-pack's advertisement: pkt-lines up to the first flush.
fn read_advertisement(from_server: &mut impl io::Read) -> Result<Vec<u8>> {
    let mut advertisement = Vec::new();
    loop {
        let mut header = [0u8; 4];
        from_server
            .read_exact(&mut header)
            .context("the session ended before receive-pack's advertisement")?;
        advertisement.extend_from_slice(&header);
        let length = std::str::from_utf8(&header)
            .ok()
            .and_then(|hex| usize::from_str_radix(hex, 16).ok())
            .context("not a pkt-line")?;
        if length == 0 {
            return Ok(advertisement);
        }
        anyhow::ensure!(
            length > 4 && advertisement.len() < LARGEST_ADVERTISEMENT,
            "not an advertisement"
        );
        let start = advertisement.len();
        advertisement.resize(start + length - 4, 0);
        from_server.read_exact(&mut advertisement[start..])?;
    }
}

/// Copies the server's answer to the push once one has come, up to the session's end: a push
/// that leaves at its report does not cut the server's hooks and `gc --auto` after it short (a
/// closed channel would). A session that ends while the holder still waits ends the holder, its
/// socket gone first.
fn relay_answer(from_server: &mut impl io::Read, client: &Mutex<Option<UnixStream>>, socket: &Path) {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut push_left = false;
    loop {
        let read = match from_server.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        // Before a request nothing is due from the server: what comes is dropped.
        let mut slot = client.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(stream) = slot.as_mut()
            && !push_left
        {
            push_left = stream.write_all(&buffer[..read]).is_err();
        }
    }
    let slot = client.lock().unwrap_or_else(PoisonError::into_inner);
    match slot.as_ref() {
        Some(stream) => {
            let _ = stream.shutdown(Shutdown::Both);
        }
        None => {
            let _ = fs::remove_file(socket);
            std::process::exit(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_remote_gets_its_own_socket_and_lock_and_a_master_a_few_places() {
        let master = Path::new("/run/user/1000/git-repo-sync/0123456789abcdef-0");
        let (a, lock_a) = paths(master, "git-receive-pack 'a.git'").expect("short enough");
        let (b, lock_b) = paths(master, "git-receive-pack 'b.git'").expect("short enough");
        assert_ne!(a, b);
        assert_ne!(lock_a, lock_b);
        assert!(a.to_string_lossy().starts_with(&*master.to_string_lossy()));
        let slots = slot_locks(&a);
        assert_eq!(slots, slot_locks(&b));
        assert_eq!(slots.len(), SPARES_PER_MASTER);
        assert_eq!(slots[0], PathBuf::from(format!("{}.spare0", master.display())));
        let long = PathBuf::from(format!("/{}", "d".repeat(100)));
        assert_eq!(paths(&long, "git-receive-pack 'a.git'"), None);
    }

    #[test]
    fn the_advertisement_is_read_up_to_its_flush_and_no_further() {
        let data = b"003d0123456789012345678901234567890123456789 refs/heads/main\n0000PACK";
        let mut reader = &data[..];
        let read = read_advertisement(&mut reader).expect("an advertisement");
        assert_eq!(read, &data[..data.len() - 4]);
        assert_eq!(reader, b"PACK");
        let mut cut = &data[..20];
        assert!(read_advertisement(&mut cut).is_err());
    }
}
