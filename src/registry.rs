//! The repositories this user installed into, kept where git keeps its own list of repositories
//! for `git maintenance`: a multi-valued key in the user's global git config, one absolute path
//! per value. `git config --global --get-all repo-sync.repo` lists them, and
//! `git for-each-repo --config=repo-sync.repo repo-sync sync` runs over them.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::git;

/// The global git config key that lists the registered repositories.
pub const KEY: &str = "repo-sync.repo";

/// The registered repositories, in the order they were registered, each once.
pub fn list() -> Result<Vec<PathBuf>> {
    let output = git::command()
        .args(["config", "--global", "-z", "--get-all", KEY])
        .output()
        .context("running git config --global --get-all repo-sync.repo (is git installed?)")?;
    match output.status.code() {
        Some(0) => {}
        // No value at all, or no global config file yet.
        Some(1) => return Ok(Vec::new()),
        _ => bail!(
            "reading the registered repositories ({KEY} in the global git config): {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
    }
    let mut paths: Vec<PathBuf> = Vec::new();
    for value in output.stdout.split(|&b| b == 0).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(OsStr::from_bytes(value));
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    Ok(paths)
}

/// Adds `path` (absolute) unless it is listed already; true when it was added.
pub fn register(path: &Path) -> Result<bool> {
    if list()?.iter().any(|listed| listed == path) {
        return Ok(false);
    }
    edit(&["--add", KEY], path).context("registering the repository for `sync --all`")?;
    Ok(true)
}

/// Removes every value equal to `path`; true when there was one.
pub fn unregister(path: &Path) -> Result<bool> {
    if !list()?.iter().any(|listed| listed == path) {
        return Ok(false);
    }
    edit(&["--fixed-value", "--unset-all", KEY], path)
        .context("unregistering the repository from `sync --all`")?;
    Ok(true)
}

fn edit(args: &[&str], path: &Path) -> Result<()> {
    let output = git::command()
        .args(["config", "--global"])
        .args(args)
        .arg(path)
        .output()
        .context("running git config --global (is git installed?)")?;
    if !output.status.success() {
        bail!(
            "git config --global {} {} failed: {}; check that your global git config ({}) is \
             writable",
            args.join(" "),
            crate::repo::quoted(path),
            String::from_utf8_lossy(&output.stderr).trim(),
            std::env::var("GIT_CONFIG_GLOBAL").unwrap_or_else(|_| "~/.gitconfig".to_owned())
        );
    }
    Ok(())
}
