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
    let mut seen = std::collections::HashSet::new();
    Ok(output
        .stdout
        .split(|&b| b == 0)
        .filter(|value| !value.is_empty() && seen.insert(*value))
        .map(|value| PathBuf::from(OsStr::from_bytes(value)))
        .collect())
}

/// Adds each of `paths` (absolute) that is not listed already, reading the list once: for an
/// install into many repositories. The paths added, or the first error.
pub fn register_all(paths: &[&Path]) -> Result<Vec<PathBuf>> {
    let listed: std::collections::HashSet<PathBuf> = list()?.into_iter().collect();
    let mut added = Vec::new();
    for path in paths {
        if !listed.contains(*path) && !added.iter().any(|done: &PathBuf| done == path) {
            edit(&["--add", KEY], path).context("registering the repository for `sync --all`")?;
            added.push(path.to_path_buf());
        }
    }
    Ok(added)
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
