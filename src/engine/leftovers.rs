//! What a killed pass leaves in a mirror on this machine, judged and cleared by the next pass.
//!
//! git takes a ref transaction's locks (`refs/heads/main.lock`, `HEAD.lock`, `packed-refs.lock`)
//! by creating them, and removes them when it is done; a git killed in between leaves them, and
//! every later write to those refs fails with "File exists" until they are gone. Such a lock is
//! ours to remove only when we know who made it. So before a pass touches a mirror on this
//! machine it writes a marker naming itself (`repo-sync-inflight/<mirror>`, under the sync lock),
//! every git it starts carries that name in its environment, and the marker goes when the
//! transfer has ended. A marker the next pass finds means its pass died inside the mirror: once
//! no process carries that name and no other process works in the mirror, the locks and git
//! temporaries made there since the marker are that pass's and are removed, each one reported.
//! Any other lock is left alone, and a failure it causes names it with the command that clears it.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};

use crate::process::{PASS_ENV, pass_name, pids, start_ticks};
use crate::repo::Kept;

/// Whether the pass named `name`, or any process it started, still runs; `None` when that
/// cannot be told.
fn pass_alive(name: &str) -> Option<bool> {
    let (pid, ticks) = name.split_once('.')?;
    let (pid, ticks): (u32, u64) = (pid.parse().ok()?, ticks.parse().ok()?);
    if ticks != 0 && start_ticks(pid) == Some(ticks) {
        return Some(true);
    }
    let needle = format!("{PASS_ENV}={name}");
    let carries = |pid: u32| {
        std::fs::read(format!("/proc/{pid}/environ"))
            .is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == needle.as_bytes()))
    };
    Some(pids()?.into_iter().any(carries))
}

/// Processes other than this one that work in `dir`: their working directory is in it, or an
/// argument names it (`git --git-dir=<dir>`).
fn working_in(dir: &Path) -> Vec<u32> {
    let me = std::process::id();
    let dir_bytes = dir.as_os_str().as_bytes();
    pids()
        .unwrap_or_default()
        .into_iter()
        .filter(|&pid| pid != me)
        .filter(|pid| {
            let in_cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(dir));
            in_cwd
                || std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|args| {
                    args.split(|&b| b == 0)
                        .any(|arg| arg.windows(dir_bytes.len()).any(|w| w == dir_bytes))
                })
        })
        .collect()
}

/// Where the markers of the passes writing into `mirror` are, one file per pass: a pass never
/// overwrites the marker of an earlier one that is still to be judged.
fn marker_dir(common_dir: &Path, mirror: &str) -> PathBuf {
    Kept::Inflight.in_dir(common_dir).join(mirror)
}

/// Removes the marker directories where they are left empty.
fn tidy(marker_dir: &Path) {
    if std::fs::remove_dir(marker_dir).is_ok()
        && let Some(parent) = marker_dir.parent()
    {
        let _ = std::fs::remove_dir(parent);
    }
}

/// The marker of a transfer into a mirror, removed when this value is dropped: the transfer's
/// git processes have ended by then, whether it succeeded or not.
#[derive(Debug)]
pub(crate) struct Inside {
    path: PathBuf,
}

impl Drop for Inside {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        if let Some(dir) = self.path.parent() {
            tidy(dir);
        }
    }
}

/// Marks that this pass is about to write into the mirror `mirror` at `mirror_dir`.
pub(crate) fn enter(common_dir: &Path, mirror: &str, mirror_dir: &Path) -> Result<Inside> {
    let dir = marker_dir(common_dir, mirror);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", crate::repo::quoted(&dir)))?;
    let path = dir.join(pass_name());
    let mut text = format!("{}\n", pass_name()).into_bytes();
    text.extend_from_slice(mirror_dir.as_os_str().as_bytes());
    std::fs::write(&path, text).with_context(|| format!("writing {}", crate::repo::quoted(&path)))?;
    Ok(Inside { path })
}

/// Clears what earlier passes, killed while they wrote into `mirror`, left there. Returns one
/// line per thing removed or left alone, for the user. The caller holds the sync lock.
pub(crate) fn repair(common_dir: &Path, mirror: &str) -> Vec<String> {
    let dir = marker_dir(common_dir, mirror);
    let mut markers: Vec<PathBuf> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .collect();
    markers.sort();
    let notes = markers.iter().flat_map(|marker| repair_one(marker)).collect();
    tidy(&dir);
    notes
}

/// [`repair`] for the pass whose marker is at `path`.
fn repair_one(path: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read(path) else {
        return Vec::new();
    };
    let since = std::fs::metadata(path).and_then(|meta| meta.modified()).ok();
    let parsed = text.iter().position(|&b| b == b'\n').and_then(|newline| {
        let name = std::str::from_utf8(&text[..newline]).ok()?;
        let dir = Path::new(OsStr::from_bytes(&text[newline + 1..]));
        (!dir.as_os_str().is_empty()).then(|| (name.to_owned(), dir.to_path_buf()))
    });
    // Cut short while being written: that pass had not begun its transfer.
    let Some((name, dir)) = parsed else {
        let _ = std::fs::remove_file(path);
        return Vec::new();
    };
    match pass_alive(&name) {
        Some(false) => {}
        Some(true) => {
            return vec![format!(
                "a git of an earlier pass still works in {}; its locks there are left to it",
                crate::repo::quoted(&dir)
            )];
        }
        // No way to tell who holds what: the locks are reported when they get in the way.
        None => return Vec::new(),
    }
    let others = working_in(&dir);
    let mut notes = Vec::new();
    for found in leftovers(&dir) {
        let modified = std::fs::symlink_metadata(&found)
            .and_then(|meta| meta.modified())
            .ok();
        // Made since that pass entered the mirror (a little slack for coarse file times).
        let made_then = match (since, modified) {
            (Some(since), Some(modified)) => modified + Duration::from_secs(2) >= since,
            _ => false,
        };
        if !made_then || !others.is_empty() {
            continue;
        }
        let removed = if found.is_dir() {
            std::fs::remove_dir_all(&found)
        } else {
            std::fs::remove_file(&found)
        };
        if removed.is_ok() {
            let what = if is_lock(&found) { "lock" } else { "temporary file" };
            notes.push(format!(
                "removed stale {what} {} (left by a killed sync)",
                crate::repo::quoted(&found)
            ));
        }
    }
    if others.is_empty() {
        let _ = std::fs::remove_file(path);
    } else {
        notes.push(format!(
            "an earlier sync was killed inside {}, where process {} works now; what it left there \
             is judged again by the next pass",
            crate::repo::quoted(&dir),
            join(&others)
        ));
    }
    notes
}

fn join(pids: &[u32]) -> String {
    pids.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

fn is_lock(path: &Path) -> bool {
    path.extension() == Some(OsStr::new("lock"))
}

/// git's locks and temporary files in the repository at `dir`, and ours: the locks of ref
/// transactions (`HEAD.lock`, `packed-refs.lock`, `refs/**/*.lock`), a quarantine
/// receive-pack had not yet moved in, and half-written packs.
pub(crate) fn leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = ["HEAD.lock", "packed-refs.lock", "config.lock", "shallow.lock"]
        .iter()
        .map(|name| dir.join(name))
        .filter(|path| path.symlink_metadata().is_ok())
        .collect();
    locks_below(&dir.join("refs"), &mut found);
    let named = |sub: &Path, prefixes: &[&str], found: &mut Vec<PathBuf>| {
        for entry in std::fs::read_dir(sub).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let name = name.as_bytes();
            if prefixes.iter().any(|prefix| name.starts_with(prefix.as_bytes())) {
                found.push(entry.path());
            }
        }
    };
    let objects = dir.join("objects");
    // receive-pack's quarantine, and a loose object libgit2 was writing (our copy of a small
    // push into a local mirror).
    named(
        &objects,
        &["tmp_objdir-incoming-", "tmp_object_git2_"],
        &mut found,
    );
    // A loose object being written (`unpack-objects`, `receive-pack`) is `objects/xx/tmp_obj_*`.
    for entry in std::fs::read_dir(&objects).into_iter().flatten().flatten() {
        let name = entry.file_name();
        if name.len() == 2 && name.as_bytes().iter().all(u8::is_ascii_hexdigit) {
            named(&entry.path(), &["tmp_obj_"], &mut found);
        }
    }
    named(
        &objects.join("pack"),
        &[TEMP_PACK_PREFIX, "tmp_pack_", "tmp_idx_", "tmp_rev_"],
        &mut found,
    );
    found
}

/// How our own pack files are named in a mirror until they are renamed into place.
pub(crate) const TEMP_PACK_PREFIX: &str = "tmp_repo_sync_";

fn locks_below(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            locks_below(&path, found);
        } else if is_lock(&path) {
            found.push(path);
        }
    }
}

/// For a failure that a lock may have caused: each lock in the mirror at `dir`, with who works
/// there now and the command that clears it once nobody does. Empty when there is none.
pub(crate) fn lock_hint(dir: &Path) -> String {
    let locks: Vec<PathBuf> = leftovers(dir).into_iter().filter(|path| is_lock(path)).collect();
    if locks.is_empty() {
        return String::new();
    }
    let others = working_in(dir);
    let who = if others.is_empty() {
        "no process seems to work there now".to_owned()
    } else {
        format!("process {} works there now", join(&others))
    };
    let quoted: Vec<String> = locks.iter().map(|lock| crate::shell::quote_path(lock)).collect();
    format!(
        "; {} in the way, which git-repo-sync cannot tell is its own ({who}); once no git runs \
         in {}, remove {}: rm -- {}",
        if locks.len() == 1 {
            "a lock is"
        } else {
            "locks are"
        },
        crate::repo::quoted(dir),
        if locks.len() == 1 { "it" } else { "them" },
        quoted.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_pass_is_alive_and_a_made_up_one_is_not() {
        assert_eq!(pass_alive(pass_name()), Some(true));
        assert_eq!(pass_alive("1.1"), Some(false));
    }

    #[test]
    fn locks_and_temporaries_are_found_and_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        for sub in [
            "refs/heads/topic",
            "objects/pack",
            "objects/tmp_objdir-incoming-x1",
            "objects/c1",
            "objects/info",
        ] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        for file in [
            "HEAD",
            "HEAD.lock",
            "packed-refs.lock",
            "refs/heads/main",
            "refs/heads/topic/a.lock",
            "objects/pack/pack-1.pack",
            "objects/pack/tmp_repo_sync_pack-1.pack",
            "objects/c1/0123456789",
            "objects/c1/tmp_obj_UlJHLp",
            "objects/tmp_object_git2_a1b2c3",
            "objects/info/tmp_obj_not_an_object_dir",
        ] {
            std::fs::write(d.join(file), "").expect("write");
        }
        let mut found: Vec<String> = leftovers(d)
            .iter()
            .map(|p| p.strip_prefix(d).expect("inside").display().to_string())
            .collect();
        found.sort();
        assert_eq!(
            found,
            [
                "HEAD.lock",
                "objects/c1/tmp_obj_UlJHLp",
                "objects/pack/tmp_repo_sync_pack-1.pack",
                "objects/tmp_objdir-incoming-x1",
                "objects/tmp_object_git2_a1b2c3",
                "packed-refs.lock",
                "refs/heads/topic/a.lock",
            ]
        );
    }
}
