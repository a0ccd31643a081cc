//! One ssh connection for the mirrors of a pass that live on the same host, reached the same
//! way. Each mirror still gets its own `git push`, but where several go to one host (a forge
//! with many repositories, a NAS over ssh) their pushes run as sessions of one ssh master, so a
//! pass costs one TCP and key exchange per host instead of one per mirror: the key exchange is
//! most of an ssh push's CPU, and with many mirrors it is what the pass waits for.
//!
//! The master is ours alone: its socket is in a private directory of this pass, it is asked to
//! exit when the pass ends (and exits by itself a minute after its last session should we be
//! killed), and a host the user's ssh config already multiplexes is left to that config. When
//! the master cannot be opened, each push connects by itself, as it would without it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::connection::MirrorGit;
use crate::config::Mirror;

/// A master's socket path must fit a Unix socket address (108 bytes on Linux).
const MAX_SOCKET_PATH: usize = 100;

/// The ssh masters of one pass, by group of mirrors.
#[derive(Debug, Default)]
pub(crate) struct SharedSsh {
    /// Private to this pass; removed with it.
    dir: Option<tempfile::TempDir>,
    /// Mirror name -> the socket of its group's master.
    sockets: BTreeMap<String, PathBuf>,
    /// (ssh command, destination, socket) of each master opened.
    masters: Vec<(String, String, PathBuf)>,
}

impl SharedSsh {
    /// Opens a master for each group of two or more of `mirrors` reached over ssh with the same
    /// command and destination. Never fails: a group whose master does not open goes without.
    pub(crate) fn open(common_dir: &Path, mirrors: &[(&str, &Mirror)]) -> Self {
        let mut groups: BTreeMap<(String, String), Vec<&str>> = BTreeMap::new();
        for &(name, mirror) in mirrors {
            let Ok(git) = MirrorGit::new(common_dir, mirror) else {
                continue;
            };
            if let Some((command, destination)) = git.ssh_endpoint() {
                groups.entry((command, destination)).or_default().push(name);
            }
        }
        let mut shared = Self::default();
        groups.retain(|_, names| names.len() > 1);
        if groups.is_empty() {
            return shared;
        }
        let Ok(dir) = tempfile::Builder::new().prefix("grs-ssh-").tempdir() else {
            return shared;
        };
        for (index, ((command, destination), names)) in groups.into_iter().enumerate() {
            let socket = dir.path().join(index.to_string());
            if socket.as_os_str().len() > MAX_SOCKET_PATH
                || multiplexed_by_user(&command, &destination)
                || !open_master(&command, &destination, &socket)
            {
                continue;
            }
            for name in names {
                shared.sockets.insert(name.to_owned(), socket.clone());
            }
            shared.masters.push((command, destination, socket));
        }
        shared.dir = Some(dir);
        shared
    }

    /// The socket of the master mirror `name`'s pushes go through, if it has one.
    pub(crate) fn socket_for(&self, name: &str) -> Option<&Path> {
        self.sockets.get(name).map(PathBuf::as_path)
    }
}

impl Drop for SharedSsh {
    fn drop(&mut self) {
        for (command, destination, socket) in &self.masters {
            let _ = sh(&format!(
                "{command} -o ControlPath={} -O exit {destination}",
                quote(&socket.to_string_lossy())
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        }
    }
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

/// Starts a master for `destination` at `socket`; true once it is authenticated and listening.
fn open_master(command: &str, destination: &str, socket: &Path) -> bool {
    // -f: into the background once authenticated, so the status says whether it is up.
    let status = sh(&format!(
        "{command} -o ControlMaster=yes -o ControlPath={} -o ControlPersist=60 -f -N {destination}",
        quote(&socket.to_string_lossy())
    ))
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .status();
    status.is_ok_and(|status| status.success()) && socket.exists()
}

fn sh(script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).stdin(Stdio::null());
    cmd
}

fn quote(value: &str) -> String {
    shlex::try_quote(value).map_or_else(|_| "''".to_owned(), std::borrow::Cow::into_owned)
}
