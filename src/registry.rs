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
pub(crate) const KEY: &str = "repo-sync.repo";

/// Whether git has a global config to read and write: without HOME (a GUI, a service) and
/// without `GIT_CONFIG_GLOBAL`, every `git config --global` fails with "$HOME not set".
pub(crate) fn global_config_known() -> bool {
    ["GIT_CONFIG_GLOBAL", "HOME"]
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|value| !value.is_empty()))
}

/// The registered repositories, in the order they were registered, each once.
pub(crate) fn list() -> Result<Vec<PathBuf>> {
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
/// install into many repositories. A few go through `git config --add` each; many are appended
/// to the global config file in one write, under git's own lock (`<file>.lock`), as one
/// `[repo-sync]` section git reads like any other. The paths added, or the first error.
pub(crate) fn register_all(paths: &[&Path]) -> Result<Vec<PathBuf>> {
    let listed: std::collections::HashSet<PathBuf> = list()?.into_iter().collect();
    let mut new: Vec<PathBuf> = Vec::new();
    for path in paths {
        if !listed.contains(*path) && !new.iter().any(|done| done == path) {
            new.push(path.to_path_buf());
        }
    }
    if new.len() <= BATCH_FROM {
        for path in &new {
            edit(&["--add", KEY], path).context("registering the repository for `sync --all`")?;
        }
    } else {
        append(&new).context("registering the repositories for `sync --all`")?;
    }
    Ok(new)
}

/// From how many new repositories one write is cheaper than a `git config` each.
const BATCH_FROM: usize = 8;

/// The file `git config --global --add` writes to.
fn global_file() -> Result<PathBuf> {
    if let Some(file) = std::env::var_os("GIT_CONFIG_GLOBAL").filter(|value| !value.is_empty()) {
        return Ok(PathBuf::from(file));
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .context("HOME is not set")?;
    let dotfile = home.join(".gitconfig");
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .unwrap_or_else(|| home.join(".config"))
        .join("git/config");
    Ok(if !dotfile.exists() && xdg.exists() {
        xdg
    } else {
        dotfile
    })
}

/// `path` as a git config value: quoted, with what git's reader unescapes escaped.
fn config_value(path: &Path) -> Vec<u8> {
    let mut value = vec![b'"'];
    for &byte in path.as_os_str().as_bytes() {
        match byte {
            b'\\' => value.extend_from_slice(b"\\\\"),
            b'"' => value.extend_from_slice(b"\\\""),
            b'\n' => value.extend_from_slice(b"\\n"),
            b'\t' => value.extend_from_slice(b"\\t"),
            other => value.push(other),
        }
    }
    value.push(b'"');
    value
}

/// Appends `paths` to the global config file in one write, taking `<file>.lock` as git does.
fn append(paths: &[PathBuf]) -> Result<()> {
    use std::io::Write as _;
    let file = global_file()?;
    let lock = PathBuf::from(format!("{}.lock", file.display()));
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&lock)
        .with_context(|| {
            format!(
                "taking {} (another git is writing your global git config; try again)",
                crate::repo::quoted(&lock)
            )
        })?;
    let written = (|| -> Result<()> {
        let mut text = match std::fs::read(&file) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(err) => return Err(err).with_context(|| format!("reading {}", crate::repo::quoted(&file))),
        };
        if !text.is_empty() && !text.ends_with(b"\n") {
            text.push(b'\n');
        }
        text.extend_from_slice(b"[repo-sync]\n");
        for path in paths {
            text.extend_from_slice(b"\trepo = ");
            text.extend_from_slice(&config_value(path));
            text.push(b'\n');
        }
        out.write_all(&text)?;
        out.sync_all()?;
        if let Ok(meta) = std::fs::metadata(&file) {
            std::fs::set_permissions(&lock, meta.permissions())?;
        }
        std::fs::rename(&lock, &file).with_context(|| format!("writing {}", crate::repo::quoted(&file)))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&lock);
    }
    written
}

/// Adds `path` (absolute) unless it is listed already; true when it was added.
pub(crate) fn register(path: &Path) -> Result<bool> {
    if list()?.iter().any(|listed| listed == path) {
        return Ok(false);
    }
    edit(&["--add", KEY], path).context("registering the repository for `sync --all`")?;
    Ok(true)
}

/// Removes every value equal to `path`; true when there was one.
pub(crate) fn unregister(path: &Path) -> Result<bool> {
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
