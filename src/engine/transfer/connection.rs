//! Running git for one mirror: the transport settings (ssh options, credentials, timeouts), the
//! inactivity timeout around each git process, and errors a user can act on.
//!
//! The user's own setup is kept: `~/.ssh/config`, ssh-agent, `GIT_SSH_COMMAND` or
//! `core.sshCommand`, git's credential helpers. On top of it nothing may prompt (a hook has no
//! one to answer), an unknown host key stops the mirror unless the user allowed trust on first
//! use, and a silent server is abandoned after the mirror's timeout.

use std::path::Path;
use std::process::{Command, Output};

use anyhow::{Context as _, Result};

use crate::config::Mirror;
use crate::failure::{Failure, MirrorError, reason_lines};
use crate::git;
use crate::url::Transport;

/// Answers git's credential requests from two variables of its environment, so that a token
/// never appears on a command line. Only `get` is answered; `store` and `erase` are ignored.
const TOKEN_HELPER: &str = "!f() { test \"$1\" = get || exit 0; \
                            echo \"username=$GIT_REPO_SYNC_USERNAME\"; \
                            echo \"password=$GIT_REPO_SYNC_TOKEN\"; }; f";

/// Builds and runs the git processes that talk to one mirror.
#[derive(Debug)]
pub(crate) struct MirrorGit<'a> {
    common_dir: &'a Path,
    mirror: &'a Mirror,
    transport: Transport,
    /// The value of the mirror's `token_env` variable, read once.
    token: Option<String>,
    /// `GIT_SSH_COMMAND` with our options appended, for ssh mirrors.
    ssh_command: Option<String>,
    /// The URL git is given; see [`MirrorGit::url`].
    url: String,
    /// The socket of the ssh master this mirror's pushes share with others of the pass.
    shared_ssh: Option<std::path::PathBuf>,
}

impl<'a> MirrorGit<'a> {
    pub(crate) fn new(common_dir: &'a Path, mirror: &'a Mirror) -> Result<Self> {
        let transport = mirror.url.transport();
        let token = match &mirror.token_env {
            Some(var) => Some(std::env::var(var).map_err(|_| {
                anyhow::Error::new(MirrorError::new(
                    Failure::SetUp,
                    format!(
                        "token_env names {var}, which is not set in git-repo-sync's environment (or not UTF-8)"
                    ),
                ))
            })?),
            None => None,
        };
        let ssh_command = (transport == Transport::Ssh).then(|| ssh_command(common_dir, mirror));
        // With a token, the user name goes through the credential helper too: left in the URL,
        // curl first tries it with an empty password, a second failed login at the server.
        let url = match (&token, transport) {
            (Some(_), Transport::Http) => mirror.url.without_user(),
            _ => mirror.url.as_str().to_owned(),
        };
        Ok(Self {
            common_dir,
            mirror,
            transport,
            token,
            ssh_command,
            url,
            shared_ssh: None,
        })
    }

    /// Makes this mirror's ssh go through the master listening at `socket`, if any.
    pub(crate) fn share(&mut self, socket: Option<&Path>) {
        self.shared_ssh = socket.map(Path::to_path_buf);
    }

    /// The value of the mirror's `token_env` variable.
    pub(crate) fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The git dir of the repository pushed from.
    pub(crate) fn common_dir(&self) -> &Path {
        self.common_dir
    }

    /// The mirror this reaches.
    pub(crate) fn mirror(&self) -> &Mirror {
        self.mirror
    }

    /// For an ssh mirror, the ssh command (ours, with the user's) and the destination
    /// (`[-p PORT] [USER@]HOST`) its pushes connect to: mirrors with the same two can share one
    /// connection.
    pub(crate) fn ssh_endpoint(&self) -> Option<(String, String)> {
        let command = self.ssh_command.clone()?;
        let host = self.mirror.url.host().filter(|host| !host.starts_with('-'))?;
        let mut destination = String::new();
        if let Some(port) = self.mirror.url.port() {
            destination.push_str(&format!("-p {port} "));
        }
        let target = match self.mirror.url.user() {
            Some(user) => format!("{user}@{host}"),
            None => host.to_owned(),
        };
        destination.push_str(&crate::shell::quote(&target));
        Some((command, destination))
    }

    /// For an ssh mirror whose pushes go through a master of ours: `sh -c` running `remote`
    /// (a command line for the server's shell) as a session of that master, as git would run
    /// its own command there.
    pub(crate) fn ssh_session(&self, remote: &str) -> Option<Command> {
        Some(session_command(&self.ssh_session_script(remote)?))
    }

    /// The `sh -c` line of [`Self::ssh_session`].
    pub(crate) fn ssh_session_script(&self, remote: &str) -> Option<String> {
        let socket = self.shared_ssh.as_ref()?;
        let (ssh, destination) = self.ssh_endpoint()?;
        Some(format!(
            "{ssh} -o ControlMaster=no -o ControlPath={} {destination} {}",
            crate::shell::quote(&socket.to_string_lossy()),
            crate::shell::quote(remote)
        ))
    }

    /// The socket of the master this mirror's ssh goes through, if any.
    pub(crate) fn ssh_master(&self) -> Option<&Path> {
        self.shared_ssh.as_deref()
    }

    /// The mirror's URL as git is to be given it.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// A `git` for the repository, set up to reach this mirror.
    pub(crate) fn command(&self) -> Command {
        let mut cmd = git::in_git_dir(self.common_dir);
        // An askpass program would put a prompt on a desktop that may have nobody at it.
        cmd.env_remove("GIT_ASKPASS").env_remove("SSH_ASKPASS");
        cmd.args(["-c", "core.askPass="]);
        match self.transport {
            Transport::Ssh => match (&self.ssh_command, &self.shared_ssh) {
                (Some(ssh), Some(socket)) => {
                    cmd.env(
                        "GIT_SSH_COMMAND",
                        format!(
                            "{ssh} -o ControlMaster=no -o ControlPath={}",
                            crate::shell::quote(&socket.to_string_lossy())
                        ),
                    );
                }
                (Some(ssh), None) => {
                    cmd.env("GIT_SSH_COMMAND", ssh);
                }
                _ => {}
            },
            Transport::Http => {
                let secs = self.mirror.timeout().as_secs();
                cmd.args(["-c", "http.lowSpeedLimit=1", "-c"])
                    .arg(format!("http.lowSpeedTime={secs}"));
                if let Some(token) = &self.token {
                    // With the first request (git 2.46 and later), not after a 401: one round
                    // trip less for every request of every sync. An older git ignores the key,
                    // so its version need not be asked (a process more before every push).
                    cmd.args(["-c", "http.proactiveAuth=basic"]);
                    cmd.args(["-c", "credential.helper=", "-c"])
                        .arg(format!("credential.helper={TOKEN_HELPER}"))
                        .env("GIT_REPO_SYNC_TOKEN", token)
                        .env("GIT_REPO_SYNC_USERNAME", self.mirror.url.user().unwrap_or("git"));
                }
            }
            Transport::Local | Transport::Git => {}
        }
        cmd
    }

    /// Runs `cmd`, stopping it (and the ssh it started) once it has been silent for the mirror's
    /// timeout. A failed exit is returned as is; a timeout is an error.
    pub(crate) fn run(&self, mut cmd: Command) -> Result<Output> {
        let timeout = self.mirror.timeout();
        crate::child::run_watched(&mut cmd, None, timeout)
            .context("running git (is git installed?)")?
            .ok_or_else(|| {
                anyhow::Error::new(MirrorError::new(
                    Failure::Timeout,
                    format!(
                        "timed out: the mirror sent nothing for {} s (the mirror's `timeout` setting)",
                        timeout.as_secs()
                    ),
                ))
            })
    }

    /// The error for a failed git: a [`MirrorError`] of the kind its stderr shows (which says
    /// whether trying again can help), in words a user can act on.
    pub(crate) fn failure(&self, output: &Output, doing: &str) -> anyhow::Error {
        let kind = Failure::read(&String::from_utf8_lossy(&output.stderr));
        let message = format!("{doing}: {}", self.describe(&kind, output));
        anyhow::Error::new(MirrorError::new(kind, message))
    }

    /// A failure of `kind`, with git's own reason for it.
    fn describe(&self, kind: &Failure, output: &Output) -> String {
        let detail = git_error(&String::from_utf8_lossy(&output.stderr), output);
        let host = self.mirror.url.host().unwrap_or("the mirror's host");
        match kind {
            Failure::FormatMismatch => match crate::repo::ObjectFormat::of(self.common_dir()) {
                Ok(ours) => format!(
                    "{} ({detail})",
                    crate::repo::format_mismatch(ours, ours.other(), None)
                ),
                Err(_) => detail,
            },
            Failure::HostKeyChanged => format!(
                "the host key of {host} has CHANGED since it was trusted; this may be an attack. If the \
                 change is expected, remove the old key with `ssh-keygen -R {host}` and trust the new one \
                 ({detail})"
            ),
            Failure::HostKeyUnknown => {
                let port_arg = self
                    .mirror
                    .url
                    .port()
                    .map(|p| format!("-p {p} "))
                    .unwrap_or_default();
                format!(
                    "the host key of {host} is not trusted (unknown host). Check its fingerprint, then add it with \
                     `ssh-keyscan {port_arg}{host} >> ~/.ssh/known_hosts`, or set `trust_new_host_key = true` \
                     for this mirror to accept it on first use ({detail})"
                )
            }
            Failure::AuthRefused => format!("authentication failed: {detail}"),
            Failure::NotARepository if self.mirror.url.local_path().is_some() => format!(
                "no repository there: correct the URL, or create it (`git init --bare`), or set \
                 `create = true` for this mirror to have it made where its parent directory is ({detail})"
            ),
            Failure::NotARepository => {
                format!("no repository there: correct the URL, or create the repository on {host} ({detail})")
            }
            Failure::Rejected { .. }
            | Failure::SetUp
            | Failure::ShallowSource
            | Failure::LockHeld
            | Failure::AtomicUnsupported
            | Failure::Timeout
            | Failure::Other => detail,
        }
    }
}

/// The user's ssh command (`GIT_SSH_COMMAND`, `core.sshCommand`, `GIT_SSH`, else `ssh`) with our
/// options appended: never prompt, give up on a dead connection, and the mirror's own key and
/// host-key policy. Without `trust_new_host_key`, BatchMode makes an unknown host key an error.
fn ssh_command(common_dir: &Path, mirror: &Mirror) -> String {
    let base = std::env::var("GIT_SSH_COMMAND")
        .ok()
        .filter(|value| !value.trim().is_empty())
        .or_else(|| {
            crate::repo::config_of(common_dir)
                .ok()?
                .get_string("core.sshCommand")
                .ok()
                .filter(|value| !value.trim().is_empty())
        })
        .or_else(|| {
            std::env::var("GIT_SSH")
                .ok()
                .filter(|value| !value.is_empty())
                .map(|program| crate::shell::quote(&program))
        })
        .unwrap_or_else(|| "ssh".to_owned());
    let secs = mirror.timeout().as_secs();
    let mut command = format!(
        "{base} -o BatchMode=yes -o ConnectTimeout={secs} -o ServerAliveInterval={} -o ServerAliveCountMax=3",
        secs.div_ceil(3).max(1)
    );
    if mirror.trust_new_host_key {
        command.push_str(" -o StrictHostKeyChecking=accept-new");
    }
    if let Some(file) = &mirror.identity_file {
        command.push_str(" -o IdentitiesOnly=yes -i ");
        command.push_str(&crate::shell::quote(&file.to_string_lossy()));
    }
    command
}

/// The useful part of a failed git's stderr: git's reason lines, else its last line.
fn git_error(stderr: &str, output: &Output) -> String {
    let reasons = reason_lines(stderr.as_bytes());
    if reasons.is_empty() {
        let last = stderr.lines().map(str::trim).rfind(|line| !line.is_empty());
        last.map_or_else(|| format!("git exited with {}", output.status), str::to_owned)
    } else {
        reasons.join(" ")
    }
}

/// `sh -c script` for an ssh session (a line of [`MirrorGit::ssh_session_script`]), in git's
/// environment less what would make ssh ask a desktop for anything.
pub(crate) fn session_command(script: &str) -> Command {
    let mut cmd = Command::new("sh");
    git::scrub_env(&mut cmd);
    cmd.env_remove("SSH_ASKPASS").arg("-c").arg(script);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_options_are_appended_and_the_key_quoted() {
        let mut mirror =
            Mirror::new(crate::url::MirrorUrl::parse("ssh://git@host:2222/x.git").expect("a valid URL"));
        mirror.identity_file = Some("/keys/deploy key".into());
        mirror.trust_new_host_key = true;
        let dir = tempfile::tempdir().expect("temp dir");
        let command = ssh_command(dir.path(), &mirror);
        assert!(command.contains("-o BatchMode=yes"), "{command}");
        assert!(command.contains("StrictHostKeyChecking=accept-new"), "{command}");
        assert!(command.ends_with("-i '/keys/deploy key'"), "{command}");
    }

    #[test]
    fn the_user_is_taken_out_of_a_url_only_before_its_path() {
        let without_user = |url: &str| {
            crate::url::MirrorUrl::parse(url)
                .expect("a valid URL")
                .without_user()
        };
        assert_eq!(without_user("https://me:tok@host/x.git"), "https://host/x.git");
        assert_eq!(
            without_user("https://host:8443/a@b.git"),
            "https://host:8443/a@b.git"
        );
        assert_eq!(without_user("https://host/x.git"), "https://host/x.git");
    }

    #[test]
    fn host_key_failures_say_how_to_trust_the_host() {
        let mirror = Mirror::new(
            crate::url::MirrorUrl::parse("ssh://git@example.org:2222/x.git").expect("a valid URL"),
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let git = MirrorGit::new(dir.path(), &mirror).expect("no token needed");
        let output = Command::new("sh")
            .args(["-c", "echo 'Host key verification failed.' >&2; echo 'fatal: Could not read from remote repository.' >&2; exit 128"])
            .output()
            .expect("sh runs");
        let err = git.failure(&output, "reading the mirror's refs");
        assert_eq!(MirrorError::kind_of(&err), Some(&Failure::HostKeyUnknown));
        let message = err.to_string();
        assert!(message.contains("ssh-keyscan -p 2222 example.org"), "{message}");
        assert!(message.contains("trust_new_host_key"), "{message}");
    }
}
