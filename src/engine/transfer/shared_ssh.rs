//! ssh connections shared by the pushes of a pass, and kept open for the next pass. Each mirror
//! still gets its own `git push`, but pushes to one host reached the same way run as sessions of
//! one ssh master: a pass costs at most one TCP connection and key exchange per host instead of
//! one per mirror, and a pass that comes within `ssh_keep_open` of the last one (the next commit
//! of a burst, a `sync` right after a commit) costs none. Over a link with any latency the
//! handshake is most of what a small push waits for, and most of its CPU.
//!
//! A master is opened the first time a mirror of its group pushes, in a directory only this
//! user can enter, and exits by itself `ssh_keep_open` seconds after its last session (ssh's
//! `ControlPersist`); with `ssh_keep_open = 0` it serves only a pass with several mirrors on the
//! host and is asked to exit when the pass ends. A host the user's ssh config already
//! multiplexes is left to that config. When a master cannot be opened, or is gone by the time a
//! push starts, each push connects by itself, as it would without it.

use std::collections::BTreeMap;
use std::fs::{File, TryLockError};
use std::io::{Read as _, Seek as _, SeekFrom};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::connection::MirrorGit;

/// A master's socket path must fit a Unix socket address (108 bytes on Linux).
const MAX_SOCKET_PATH: usize = 100;

/// Pushes that share one master. sshd allows 10 sessions on a connection by default
/// (`MaxSessions`) and a pass runs its mirrors at once, so a larger group gets more masters.
const SESSIONS_PER_MASTER: usize = 8;

/// Pushes that share a master kept open, where each push also leaves a session open for the
/// next one ([`super::ahead::ssh`]): as many of those, and room for them to be replaced.
pub(crate) const PUSHES_PER_KEPT_MASTER: usize = 4;

/// How long a master of one pass alone lives should the pass be killed before it closes it.
const PASS_MASTER_PERSIST: Duration = Duration::from_secs(60);

/// How long a pass waits for another one that is opening the master it would use. A login
/// takes a second or less; a host slower than that (or not answering) is no reason for every
/// repository of a `sync --all` to wait its turn behind it: they connect by themselves.
const WAIT_FOR_ANOTHER_PASS: Duration = Duration::from_secs(2);

/// The ssh masters of one pass, by group of mirrors.
#[derive(Debug, Default)]
pub(crate) struct SharedSsh {
    groups: Vec<Group>,
    /// Mirror name -> index of its group.
    members: BTreeMap<String, usize>,
}

/// Mirrors reached with the same ssh command and destination, and the master they share.
#[derive(Debug)]
struct Group {
    command: String,
    destination: String,
    socket: PathBuf,
    /// The longest `ssh_keep_open` of its mirrors.
    keep_open: Duration,
    /// Set by the group's first push, and again by a later try after a failure: (the try,
    /// what became of the master).
    master: Mutex<Option<(u32, Master)>>,
}

/// What became of a group's master.
#[derive(Debug, Clone)]
enum Master {
    /// Listening; opened by this pass (`true`) or by an earlier one.
    Up { opened_now: bool },
    /// None to use (the user's ssh config multiplexes the host itself, or ssh could not listen):
    /// each push connects by itself.
    Unused,
    /// ssh could not connect or log in; what it said. Pushing would only try again what just
    /// failed (a second failed login, which a server may count against us).
    Failed(Output),
}

impl SharedSsh {
    /// Sorts the ssh mirrors among `mirrors` into groups that share a master. Nothing connects
    /// yet: a group's master opens with its first push ([`SharedSsh::socket_for`]), so masters
    /// for several hosts open at once, each beside the other mirrors' work.
    pub(crate) fn open<'a>(mirrors: impl IntoIterator<Item = (&'a str, &'a MirrorGit<'a>)>) -> Self {
        let mut endpoints: BTreeMap<(String, String), (Vec<&str>, Duration)> = BTreeMap::new();
        for (name, git) in mirrors {
            if let Some(endpoint) = git.ssh_endpoint() {
                let (names, keep_open) = endpoints.entry(endpoint).or_default();
                names.push(name);
                *keep_open = (*keep_open).max(git.mirror().ssh_keep_open());
            }
        }
        // Kept open, a master serves even one mirror (its next pass); else only several.
        endpoints.retain(|_, (names, keep_open)| !keep_open.is_zero() || names.len() > 1);
        let mut shared = Self::default();
        if endpoints.is_empty() {
            return shared;
        }
        let Some(dir) = socket_dir() else {
            return shared;
        };
        for ((command, destination), (names, keep_open)) in endpoints {
            let id = endpoint_id(&command, &destination);
            let per_master = if keep_open.is_zero() {
                SESSIONS_PER_MASTER
            } else {
                PUSHES_PER_KEPT_MASTER
            };
            for (part, names) in names.chunks(per_master).enumerate() {
                let socket = dir.join(format!("{id}-{part}"));
                if socket.as_os_str().len() > MAX_SOCKET_PATH {
                    continue;
                }
                for name in names {
                    shared.members.insert((*name).to_owned(), shared.groups.len());
                }
                shared.groups.push(Group {
                    command: command.clone(),
                    destination: destination.clone(),
                    socket,
                    keep_open,
                    master: Mutex::new(None),
                });
            }
        }
        shared
    }

    /// The socket of the master mirror `name`'s pushes go through on its try `attempt`, if it
    /// has one: opened now when its group has none yet (the group's other pushes wait for it),
    /// or when it failed on an earlier try. An error is ssh's output when it could not connect.
    pub(crate) fn socket_for(&self, name: &str, attempt: u32) -> Result<Option<&Path>, Output> {
        let Some(&index) = self.members.get(name) else {
            return Ok(None);
        };
        let group = &self.groups[index];
        let mut master = group.master.lock().unwrap_or_else(PoisonError::into_inner);
        let (_, current) = match &mut *master {
            Some((tried, Master::Failed(_))) if *tried < attempt => {
                master.insert((attempt, ensure_master(group)))
            }
            Some(known) => known,
            None => master.insert((attempt, ensure_master(group))),
        };
        match current {
            Master::Up { .. } => Ok(Some(group.socket.as_path())),
            Master::Unused => Ok(None),
            Master::Failed(output) => Err(output.clone()),
        }
    }
}

impl Drop for SharedSsh {
    fn drop(&mut self) {
        for group in &mut self.groups {
            let master = group.master.get_mut().unwrap_or_else(PoisonError::into_inner);
            if group.keep_open.is_zero() && matches!(master, Some((_, Master::Up { opened_now: true }))) {
                let _ = sh(&format!(
                    "{} -o ControlPath={} -O exit {}",
                    group.command,
                    crate::shell::quote(&group.socket.to_string_lossy()),
                    group.destination
                ))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            }
        }
    }
}

/// Makes sure a master listens at the group's socket, opening one if need be.
fn ensure_master(group: &Group) -> Master {
    if listening(&group.socket) {
        return Master::Up { opened_now: false };
    }
    // One pass at a time opens a master on a socket: of two, the second could not listen and
    // would stay connected, serving nobody.
    let Ok(lock) = File::create(group.socket.with_extension("lock")) else {
        return Master::Unused;
    };
    let deadline = Instant::now() + WAIT_FOR_ANOTHER_PASS;
    loop {
        match lock.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                if listening(&group.socket) {
                    return Master::Up { opened_now: false };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => return Master::Unused,
        }
    }
    if listening(&group.socket) {
        return Master::Up { opened_now: false };
    }
    if multiplexed_by_user(&group.command, &group.destination) {
        return Master::Unused;
    }
    // A master that was killed leaves its socket behind, and no new one could listen there.
    let _ = std::fs::remove_file(&group.socket);
    let persist = if group.keep_open.is_zero() {
        PASS_MASTER_PERSIST
    } else {
        group.keep_open
    };
    match open_master(group, persist) {
        Ok(()) if listening(&group.socket) => Master::Up { opened_now: true },
        Ok(()) => Master::Unused,
        Err(output) => Master::Failed(output),
    }
}

/// Whether a master accepts connections at `socket` (a plain connect: no process to start).
fn listening(socket: &Path) -> bool {
    std::os::unix::net::UnixStream::connect(socket).is_ok()
}

/// A directory only this user can enter, for sockets that outlive a pass:
/// `$XDG_RUNTIME_DIR/git-repo-sync` (private, and emptied at logout), else `grs-ssh-<uid>` in
/// the temporary directory. None when neither can be made, or is ours alone.
pub(crate) fn socket_dir() -> Option<PathBuf> {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
    first_private_dir(runtime, &std::env::temp_dir(), crate::repo::effective_uid())
}

/// The first of `runtime/git-repo-sync` and `temp/grs-ssh-<uid>` that is, or can be made, a
/// directory private to `uid`. A runtime directory of another user (kept by `sudo`) or one
/// that is gone (the session ended) falls back to the temporary one.
fn first_private_dir(runtime: Option<PathBuf>, temp: &Path, uid: u32) -> Option<PathBuf> {
    let runtime = runtime
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join("git-repo-sync"));
    runtime
        .into_iter()
        .chain([temp.join(format!("grs-ssh-{uid}"))])
        .find(|dir| private_dir(dir, uid))
}

/// Makes `dir` (mode 0700) unless it exists; true when it is a directory (not a link to one)
/// owned by `uid` that nobody else may enter.
fn private_dir(dir: &Path, uid: u32) -> bool {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(_) => return false,
    }
    std::fs::symlink_metadata(dir)
        .is_ok_and(|meta| meta.is_dir() && meta.uid() == uid && meta.mode() & 0o077 == 0)
}

/// A short, stable name for an ssh command and destination.
pub(crate) fn endpoint_id(command: &str, destination: &str) -> String {
    let key = format!("{command}\0{destination}");
    git2::Oid::hash_object(git2::ObjectType::Blob, key.as_bytes())
        .map(|oid| oid.to_string()[..16].to_owned())
        .unwrap_or_else(|_| "ssh".to_owned())
}

/// Whether the user's ssh config already gives `destination` a master of its own.
fn multiplexed_by_user(command: &str, destination: &str) -> bool {
    let Ok(output) = sh(&format!("{command} -G {destination}"))
        .stderr(Stdio::null())
        .output()
    else {
        return true;
    };
    String::from_utf8_lossy(&output.stdout).lines().any(|line| {
        line.strip_prefix("controlmaster ")
            .is_some_and(|value| value != "false")
    })
}

/// Starts the group's master, to exit `persist` after its last session; returns once it is
/// authenticated and in the background, or with ssh's output when it could not get there.
fn open_master(group: &Group, persist: Duration) -> Result<(), Output> {
    // Into a file, not a pipe: the master keeps it open in the background, and a pipe would
    // not end until the master does.
    let Ok(mut log) = tempfile::tempfile() else {
        return Ok(());
    };
    let Ok(stderr) = log.try_clone() else {
        return Ok(());
    };
    // -f: into the background once authenticated, so the status says whether it is up.
    let status = sh(&format!(
        "{} -o ControlMaster=yes -o ControlPath={} -o ControlPersist={} -f -N {}",
        group.command,
        crate::shell::quote(&group.socket.to_string_lossy()),
        persist.as_secs().max(1),
        group.destination
    ))
    .stdout(Stdio::null())
    .stderr(stderr)
    .status();
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => {
            let mut said = Vec::new();
            let _ = log
                .seek(SeekFrom::Start(0))
                .and_then(|_| log.read_to_end(&mut said));
            Err(Output {
                status,
                stdout: Vec::new(),
                stderr: said,
            })
        }
        Err(err) => Err(Output {
            status: std::process::ExitStatus::from_raw(255 << 8),
            stdout: Vec::new(),
            stderr: format!("ssh: could not be started: {err}").into_bytes(),
        }),
    }
}

fn sh(script: &str) -> Command {
    let mut cmd = Command::new("sh");
    // No prompt on a desktop that may have nobody at it (BatchMode says so too).
    cmd.arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .env_remove("SSH_ASKPASS");
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn a_socket_directory_others_could_enter_is_not_used() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let uid = crate::repo::effective_uid();
        let fresh = tmp.path().join("fresh");
        assert!(private_dir(&fresh, uid));
        let mode = std::fs::metadata(&fresh).expect("made").permissions().mode();
        assert_eq!(mode & 0o777, 0o700);

        let open = tmp.path().join("open");
        std::fs::create_dir(&open).expect("mkdir");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert!(!private_dir(&open, uid), "a directory others can enter");

        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&fresh, &link).expect("symlink");
        assert!(!private_dir(&link, uid), "a link, even to a private directory");

        assert!(!private_dir(&fresh, uid + 1), "another user's directory");
    }

    #[test]
    fn a_runtime_directory_that_is_gone_or_relative_falls_back_to_the_temporary_one() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let uid = crate::repo::effective_uid();
        let (runtime, temp) = (tmp.path().join("run"), tmp.path().join("tmp"));
        std::fs::create_dir(&temp).expect("mkdir");
        std::fs::create_dir(&runtime).expect("mkdir");
        let chosen = first_private_dir(Some(runtime.clone()), &temp, uid);
        assert_eq!(chosen, Some(runtime.join("git-repo-sync")));
        // Gone (the session ended), relative, or unset: the temporary directory.
        let fallback = Some(temp.join(format!("grs-ssh-{uid}")));
        let gone = tmp.path().join("gone");
        assert_eq!(first_private_dir(Some(gone), &temp, uid), fallback);
        assert_eq!(first_private_dir(Some("run".into()), &temp, uid), fallback);
        assert_eq!(first_private_dir(None, &temp, uid), fallback);
        // Another user's: neither is ours.
        assert_eq!(first_private_dir(Some(runtime), &temp, uid + 1), None);
    }

    #[test]
    fn endpoints_get_distinct_stable_names() {
        let a = endpoint_id("ssh -o BatchMode=yes", "git@example.com");
        assert_eq!(a, endpoint_id("ssh -o BatchMode=yes", "git@example.com"));
        assert_eq!(a.len(), 16);
        assert_ne!(a, endpoint_id("ssh -o BatchMode=yes", "-p 2222 git@example.com"));
        assert_ne!(a, endpoint_id("ssh -i key -o BatchMode=yes", "git@example.com"));
    }
}
