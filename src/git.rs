//! Running the `git` binary for another repository, without the environment of the one whose
//! hook we were started from.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result};

/// What `git rev-parse --local-env-vars` lists (git 2.47). Git exports these to hooks; a git
/// process started for a mirror must not see them, or a push to a local-path mirror writes into
/// the repository the hook belongs to. A unit test keeps this in step with the installed git.
pub const LOCAL_ENV_VARS: &[&str] = &[
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_OBJECT_DIRECTORY",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_GRAFT_FILE",
    "GIT_INDEX_FILE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE",
    "GIT_PREFIX",
    "GIT_INTERNAL_SUPER_PREFIX",
    "GIT_SHALLOW_FILE",
    "GIT_COMMON_DIR",
];

/// What server software hands a hook about the push it is serving: sshd's session, gitolite's
/// user and repository, receive-pack's push options and quarantine, http-backend's CGI request.
/// They describe the pusher, not the user the mirrors belong to, and some change what a git
/// started for a mirror does: push options and `GIT_QUARANTINE_PATH` would reach a local mirror's
/// own hooks and object store, `GL_BYPASS_ACCESS_CHECKS` a gitolite mirror's access checks. The
/// user's own session (`SSH_AUTH_SOCK`, `HOME`, `PATH`, proxies) is not among them.
const SESSION_ENV_VARS: &[&str] = &[
    "SSH_ORIGINAL_COMMAND",
    "SSH_CLIENT",
    "SSH_CONNECTION",
    "SSH_TTY",
    "SSH_USER_AUTH",
    "GIT_PUSH_OPTION_COUNT",
    "GIT_QUARANTINE_PATH",
    "GIT_PROTOCOL",
    "GIT_HTTP_EXPORT_ALL",
    "GIT_HTTP_MAX_REQUEST_BUFFER",
    "GIT_PROJECT_ROOT",
    // CGI (RFC 3875) and what web servers commonly add to it.
    "AUTH_TYPE",
    "CONTENT_LENGTH",
    "CONTENT_TYPE",
    "DOCUMENT_ROOT",
    "GATEWAY_INTERFACE",
    "HTTPS",
    "PATH_INFO",
    "PATH_TRANSLATED",
    "QUERY_STRING",
    "REDIRECT_STATUS",
    "REMOTE_ADDR",
    "REMOTE_HOST",
    "REMOTE_IDENT",
    "REMOTE_PORT",
    "REMOTE_USER",
    "REQUEST_METHOD",
    "REQUEST_URI",
    "SCRIPT_FILENAME",
    "SCRIPT_NAME",
    "SERVER_ADDR",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "SERVER_SOFTWARE",
];

/// Whole families of [`SESSION_ENV_VARS`]: all of gitolite's, each push option and push
/// certificate field, and CGI's copies of the request headers (`HTTP_PROXY` among them, which
/// no one should take from a request).
const SESSION_ENV_PREFIXES: &[&str] = &["GL_", "GIT_PUSH_OPTION_", "GIT_PUSH_CERT", "HTTP_"];

/// Where gitolite is installed, not who pushed: its own hooks in a mirror that is another
/// gitolite repository cannot run without them.
const GITOLITE_INSTALLATION_VARS: &[&str] = &["GL_BINDIR", "GL_LIBDIR", "GL_ADMIN_BASE", "GL_REPO_BASE"];

/// Whether `name` belongs to the session of a push a server is serving, not to the user.
pub(crate) fn is_session_var(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    if GITOLITE_INSTALLATION_VARS.contains(&name) {
        return false;
    }
    SESSION_ENV_VARS.contains(&name) || SESSION_ENV_PREFIXES.iter().any(|prefix| name.starts_with(prefix))
}

/// Removes from `cmd`'s environment what the repository the hook ran in and the pusher's session
/// put there; everything else (HOME, PATH, `SSH_AUTH_SOCK`, ...) is inherited as usual.
pub(crate) fn scrub_env(cmd: &mut Command) {
    for var in LOCAL_ENV_VARS {
        cmd.env_remove(var);
    }
    let mut under_gitolite = false;
    for (name, _) in std::env::vars_os() {
        under_gitolite |= name == "GL_LIBDIR";
        if is_session_var(&name) {
            cmd.env_remove(name);
        }
    }
    if under_gitolite {
        // A push into another gitolite repository on this server is the server's own, as
        // `gitolite push` makes it: judged by no pusher's rights, since there is no pusher.
        cmd.env("GL_BYPASS_ACCESS_CHECKS", "1");
    }
}

/// A `git` command with the repository-local environment and a server's session removed,
/// messages in English (we parse some of them), no terminal prompts and stdin closed.
pub(crate) fn command() -> Command {
    let mut cmd = Command::new("git");
    scrub_env(&mut cmd);
    cmd.env("LC_ALL", "C")
        .env("GIT_TERMINAL_PROMPT", "0")
        // So that the next pass can tell whether a lock in a mirror is held by a git of ours.
        .env(crate::process::PASS_ENV, crate::process::pass_name())
        .stdin(Stdio::null());
    cmd
}

/// A scrubbed `git --git-dir=<dir>` command.
pub(crate) fn in_git_dir(git_dir: &Path) -> Command {
    let mut cmd = command();
    cmd.arg(concat_os("--git-dir=", git_dir.as_os_str()));
    cmd
}

/// The version of the git on PATH, as (major, minor).
pub(crate) fn version() -> Result<(u32, u32)> {
    let output = command()
        .arg("version")
        .output()
        .context("running git version (is git installed?)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    parse_version(&text).with_context(|| format!("reading the version of git from {:?}", text.trim()))
}

/// `git version 2.55.0` (or `2.39.5.windows.1`) as (2, 55).
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let number = text.trim().strip_prefix("git version ")?;
    let mut parts = number.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The first git that runs `hook.<name>.command` entries from the config.
pub(crate) const CONFIG_HOOKS_SINCE: (u32, u32) = (2, 54);

/// Whether the git on PATH runs config-based hooks.
pub(crate) fn runs_config_hooks() -> Result<bool> {
    Ok(version()? >= CONFIG_HOOKS_SINCE)
}

/// The gits on PATH that run no config-based hooks, with their versions: what
/// commits made by an older git in the same repository would pass by. Asked once per process.
pub(crate) fn older_gits_on_path() -> &'static [(std::path::PathBuf, (u32, u32))] {
    static FOUND: std::sync::OnceLock<Vec<(std::path::PathBuf, (u32, u32))>> = std::sync::OnceLock::new();
    FOUND.get_or_init(|| {
        let Some(path) = std::env::var_os("PATH") else {
            return Vec::new();
        };
        let mut seen = Vec::new();
        let mut older = Vec::new();
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("git");
            // The same binary under two names (/bin and /usr/bin) is one git.
            let Ok(real) = std::fs::canonicalize(&candidate) else {
                continue;
            };
            if seen.contains(&real) || !real.is_file() {
                continue;
            }
            seen.push(real);
            let Ok(output) = Command::new(&candidate)
                .arg("version")
                .stdin(Stdio::null())
                .output()
            else {
                continue;
            };
            if let Some(version) = parse_version(&String::from_utf8_lossy(&output.stdout))
                && version < CONFIG_HOOKS_SINCE
            {
                older.push((candidate, version));
            }
        }
        older
    })
}

/// The keys git's config outside any repository sets (the system and global files, and `-c`),
/// lowercased; `None` when git could not say. Asked of git once per process, so that a fleet's
/// pass, or a worker's passes, answer for each repository from its own config file without
/// starting a git for each.
fn outer_config_keys() -> Option<&'static [String]> {
    static KEYS: std::sync::OnceLock<Option<Vec<String>>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let output = command()
            .args(["config", "--list", "--name-only", "-z"])
            // Outside any repository: only the layers every repository shares.
            .current_dir("/")
            .env("GIT_CEILING_DIRECTORIES", "/")
            .output()
            .ok()
            .filter(|output| output.status.success())?;
        Some(
            output
                .stdout
                .split(|&b| b == 0)
                .filter(|key| !key.is_empty())
                .map(|key| String::from_utf8_lossy(key).to_ascii_lowercase())
                .collect(),
        )
    })
    .as_deref()
}

/// Whether git's config outside any repository may set one of the keys `wanted` says is one
/// for some repository: it sets one, or includes other files (which may, under conditions only
/// git evaluates), or git could not say.
pub(crate) fn outer_config_may_set(wanted: impl Fn(&str) -> bool) -> bool {
    outer_config_keys().is_none_or(|keys| keys.iter().any(|key| key.starts_with("include") || wanted(key)))
}

/// Whether git's config outside any repository may set `core.hooksPath` for some repository.
pub(crate) fn outer_config_may_set_hooks_path() -> bool {
    outer_config_may_set(|key| key == "core.hookspath")
}

fn concat_os(prefix: &str, value: &OsStr) -> std::ffi::OsString {
    let mut joined = std::ffi::OsString::from(prefix);
    joined.push(value);
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_git_version() {
        assert_eq!(parse_version("git version 2.55.0\n"), Some((2, 55)));
        assert_eq!(parse_version("git version 2.39.5.windows.1"), Some((2, 39)));
        assert_eq!(parse_version("hub version 2"), None);
        assert!((2, 54) >= CONFIG_HOOKS_SINCE && (2, 47) < CONFIG_HOOKS_SINCE);
    }

    #[test]
    fn local_env_vars_match_the_installed_git() {
        let out = Command::new("git")
            .args(["rev-parse", "--local-env-vars"])
            .output()
            .expect("git runs");
        let listed = String::from_utf8(out.stdout).expect("utf-8");
        for var in listed.lines() {
            assert!(
                LOCAL_ENV_VARS.contains(&var),
                "git lists {var} as repository-local; add it to LOCAL_ENV_VARS"
            );
        }
    }

    #[test]
    fn a_servers_session_is_scrubbed_and_the_users_is_kept() {
        for var in [
            "GL_USER",
            "GL_REPO",
            "GL_BYPASS_ACCESS_CHECKS",
            "SSH_ORIGINAL_COMMAND",
            "SSH_CONNECTION",
            "GIT_PUSH_OPTION_COUNT",
            "GIT_PUSH_OPTION_0",
            "GIT_PUSH_CERT_SIGNER",
            "GIT_QUARANTINE_PATH",
            "REMOTE_USER",
            "PATH_INFO",
            "HTTP_AUTHORIZATION",
        ] {
            assert!(is_session_var(OsStr::new(var)), "{var} kept");
        }
        for var in [
            "SSH_AUTH_SOCK",
            "HOME",
            "PATH",
            "USER",
            "GIT_SSH_COMMAND",
            "HTTPS_PROXY",
            "https_proxy",
            "LIBGL_DEBUG",
            // Where gitolite is installed, which its hooks in a local mirror need.
            "GL_LIBDIR",
            "GL_REPO_BASE",
        ] {
            assert!(!is_session_var(OsStr::new(var)), "{var} removed");
        }
    }
}
