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

/// A `git` command with the repository-local environment removed, messages in English (we parse
/// some of them), no terminal prompts and stdin closed.
pub fn command() -> Command {
    let mut cmd = Command::new("git");
    for var in LOCAL_ENV_VARS {
        cmd.env_remove(var);
    }
    cmd.env("LC_ALL", "C")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null());
    cmd
}

/// A scrubbed `git --git-dir=<dir>` command.
pub fn in_git_dir(git_dir: &Path) -> Command {
    let mut cmd = command();
    cmd.arg(concat_os("--git-dir=", git_dir.as_os_str()));
    cmd
}

/// The version of the git on PATH, as (major, minor).
pub fn version() -> Result<(u32, u32)> {
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
pub const CONFIG_HOOKS_SINCE: (u32, u32) = (2, 54);

/// Whether the git on PATH runs config-based hooks.
pub fn runs_config_hooks() -> Result<bool> {
    Ok(version()? >= CONFIG_HOOKS_SINCE)
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
}
