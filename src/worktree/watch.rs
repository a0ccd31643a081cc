//! `up --watch`: `up` again whenever a file git would copy changes, for the edit-here,
//! build-there loop. Directories git ignores (a `target/`, `node_modules/`) are never watched, so
//! a build there neither costs a watch per directory nor starts a run.

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use notify::{EventKind, RecursiveMode, Watcher as _};

use crate::repo::quoted;

/// Changes closer together than this make one run: an editor's save is several events, a
/// `git checkout` thousands.
const SETTLE: Duration = Duration::from_millis(300);

/// Runs `up` (`run_once`) now and after every change below `dir`, until the watch fails.
/// A failed run is reported by `run_once` and watching goes on: the next change may mend it.
pub(crate) fn watch(dir: &Path, mut run_once: impl FnMut()) -> Result<()> {
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let _ = tx.send(event);
    })
    .context("starting to watch files")?;
    let mut ignored = ignored_dirs(dir)?;
    let mut watched = HashSet::new();
    add_dirs(&mut watcher, dir, dir, &ignored, &mut watched)?;
    run_once();
    loop {
        let first = rx.recv().context("watching files: the watcher stopped")?;
        let mut events = vec![first];
        // Until things settle.
        while let Ok(event) = rx.recv_timeout(SETTLE) {
            events.push(event);
        }
        let mut relevant = false;
        let events: Vec<notify::Event> = events
            .into_iter()
            .collect::<notify::Result<_>>()
            .context("watching files")?;
        // A changed .gitignore may ignore, or stop ignoring, whole directories.
        if events
            .iter()
            .flat_map(|event| &event.paths)
            .any(|path| path.file_name().is_some_and(|name| name == ".gitignore"))
        {
            ignored = ignored_dirs(dir)?;
        }
        for event in events {
            // Opening and reading files (our own snapshot does) changes nothing.
            if matches!(event.kind, EventKind::Access(_) | EventKind::Other) {
                continue;
            }
            for path in &event.paths {
                if !counts(dir, path, &ignored) {
                    continue;
                }
                relevant = true;
                if matches!(event.kind, EventKind::Create(_)) && path.is_dir() {
                    add_dirs(&mut watcher, dir, path, &ignored, &mut watched)?;
                }
            }
        }
        if relevant {
            run_once();
        }
    }
}

/// Whether a change at `path` may change what `up` copies: not in `.git`, nor in a directory git
/// ignores. A file that is ignored itself only costs a run that finds nothing to send.
fn counts(top: &Path, path: &Path, ignored: &HashSet<PathBuf>) -> bool {
    let Ok(relative) = path.strip_prefix(top) else {
        return false;
    };
    if relative
        .components()
        .next()
        .is_some_and(|first| first.as_os_str() == ".git")
    {
        return false;
    }
    !relative.ancestors().any(|dir| ignored.contains(dir))
}

/// Watches `from` and every directory below it that git does not ignore.
fn add_dirs(
    watcher: &mut notify::RecommendedWatcher,
    top: &Path,
    from: &Path,
    ignored: &HashSet<PathBuf>,
    watched: &mut HashSet<PathBuf>,
) -> Result<()> {
    let relative = from.strip_prefix(top).unwrap_or(Path::new(""));
    if relative.as_os_str() == ".git" || ignored.contains(relative) || !watched.insert(from.to_path_buf()) {
        return Ok(());
    }
    watcher
        .watch(from, RecursiveMode::NonRecursive)
        .with_context(|| format!("watching {}", quoted(from)))?;
    let Ok(entries) = std::fs::read_dir(from) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            add_dirs(watcher, top, &entry.path(), ignored, watched)?;
        }
    }
    Ok(())
}

/// The directories below `dir` that git ignores as a whole, relative to it.
fn ignored_dirs(dir: &Path) -> Result<HashSet<PathBuf>> {
    let output = crate::git::command()
        .current_dir(dir)
        .args([
            "ls-files",
            "-z",
            "--others",
            "--ignored",
            "--exclude-standard",
            "--directory",
        ])
        .output()
        .context("running git ls-files (is git installed?)")?;
    Ok(output
        .stdout
        .split(|&b| b == 0)
        .filter_map(|path| path.strip_suffix(b"/"))
        .map(|path| PathBuf::from(std::ffi::OsStr::from_bytes(path)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_in_git_dir_and_ignored_directories_do_not_count() {
        let top = Path::new("/w");
        let ignored: HashSet<PathBuf> = [PathBuf::from("target"), PathBuf::from("a/node_modules")].into();
        assert!(counts(top, Path::new("/w/src/main.rs"), &ignored));
        assert!(counts(top, Path::new("/w/targets.txt"), &ignored));
        assert!(!counts(top, Path::new("/w/.git/index"), &ignored));
        assert!(!counts(top, Path::new("/w/target/debug/x"), &ignored));
        assert!(!counts(top, Path::new("/w/a/node_modules/p/i.js"), &ignored));
        assert!(!counts(top, Path::new("/elsewhere/x"), &ignored));
    }
}
