//! Git LFS content carried to a mirror before the refs that point at it. git-lfs moves it only
//! from its own pre-push hook, which neither the direct transfer nor our `git push --no-verify`
//! runs, so without this step a mirror would take the commits and restore as pointer files.
//!
//! A repository uses LFS when its common git dir has `lfs/objects`; one stat in the pass, so a
//! repository without LFS starts no git-lfs and reads nothing more.
//!
//! - A mirror on this machine gets our object files copied into `<its git dir>/lfs/objects`, the
//!   layout git-lfs's own local transfer uses. Copied byte by byte, never linked or cloned:
//!   git-lfs's standalone file agent hard-links where it can, and a backup must not share blocks
//!   with what it backs up. No git-lfs is needed for it.
//! - Any other mirror gets `git lfs pre-push <url> <url>`, fed the refs that changed since the
//!   mirror last took them, as git feeds the hook: git-lfs finds the objects of the new commits
//!   and uploads what the LFS endpoint it resolves for the URL lacks, with the mirror's
//!   credentials and ssh settings (it runs under the mirror's [`MirrorGit`]). git-lfs tells no
//!   count and cannot list what a server holds, so we keep one: the objects handed over for
//!   each mirror (`repo-sync-lfs/<mirror>`, one oid a line), from the pointers the new commits
//!   reach.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{Read as _, Seek as _, Write as _};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::plan::Refs;
use super::transfer::connection::MirrorGit;
use crate::failure::LfsFailure;
use crate::repo::{Kept, quoted};

mod pointers;

pub(crate) use pointers::{Pointer, pointers};

/// A repository's LFS objects, when it has any.
#[derive(Debug, Clone)]
pub(crate) struct Lfs {
    /// `<common git dir>/lfs/objects`.
    objects: PathBuf,
}

impl Lfs {
    /// `None` for a repository that does not use LFS: no `lfs/objects` in its common git dir.
    pub(crate) fn of(common_dir: &Path) -> Option<Self> {
        let objects = common_dir.join("lfs").join("objects");
        objects.is_dir().then_some(Self { objects })
    }

    /// Copies into the git dir of a mirror on this machine every object of ours it lacks; returns
    /// how many of ours it then holds.
    pub(crate) fn copy_to(&self, mirror_git_dir: &Path) -> Result<usize> {
        let theirs = mirror_git_dir.join("lfs").join("objects");
        let tmp = mirror_git_dir.join("lfs").join("tmp");
        remove_stale_copies(&tmp);
        let mut held = 0;
        for (oid, source) in objects_in(&self.objects)? {
            let target = object_path(&theirs, &oid);
            let size = fs::metadata(&source)
                .with_context(|| format!("reading LFS object {}", quoted(&source)))?
                .len();
            // Named by the hash of its content: one of the right size is the same object (an
            // interrupted copy never lands under that name).
            if !fs::metadata(&target).is_ok_and(|meta| meta.is_file() && meta.len() == size) {
                copy_object(&source, &target, &tmp).with_context(|| {
                    format!(
                        "copying LFS object {oid} into {} (is the mirror writable and its disk not full?)",
                        quoted(mirror_git_dir)
                    )
                })?;
            }
            held += 1;
        }
        Ok(held)
    }

    /// Hands the LFS objects of the commits that `local` adds over `known` (what mirror `name`
    /// last took from us) to git-lfs for the mirror behind `git`; returns how many of ours it
    /// has then been given. Until one pass has handed over every object, all refs count as new:
    /// git-lfs asks the server about each object once and uploads what it lacks (a mirror pushed
    /// to before it carried LFS). No ref changed, no git-lfs started.
    pub(crate) fn push(
        &self,
        git: &MirrorGit<'_>,
        common_dir: &Path,
        name: &str,
        local: &Refs,
        known: Option<&Refs>,
    ) -> Result<usize> {
        let record = given_path(common_dir, name);
        let given = read_given(&record)?;
        let known = known.filter(|_| given.is_some());
        let lines = pre_push_lines(local, known);
        let mut given = given.unwrap_or_default();
        if lines.is_empty() {
            return Ok(given.len());
        }
        self.pre_push(git, &lines)?;
        // The pointers the new commits reach (not what the mirror had): what git-lfs was given.
        let mut tips: Vec<String> = local
            .iter()
            .filter(|(name, oid)| known.and_then(|known| known.get(*name)) != Some(*oid))
            .map(|(_, oid)| oid.clone())
            .collect();
        tips.extend(
            known
                .into_iter()
                .flat_map(|known| known.values().map(|oid| format!("^{oid}"))),
        );
        let tips: Vec<&str> = tips.iter().map(String::as_str).collect();
        let before = given.len();
        given.extend(
            pointers(common_dir, &tips)?
                .into_iter()
                .map(|pointer| pointer.oid),
        );
        if given.len() != before || !record.exists() {
            write_given(&record, &given)?;
        }
        Ok(given.len())
    }

    /// Runs `git lfs pre-push` for the mirror behind `git`, fed git's pre-push `lines`.
    fn pre_push(&self, git: &MirrorGit<'_>, lines: &str) -> Result<()> {
        // git-lfs reads git's pre-push lines on stdin; a file, since the runner owns the pipes.
        let mut input = tempfile::tempfile().context("creating a temporary file for git-lfs's input")?;
        input
            .write_all(lines.as_bytes())
            .and_then(|()| input.rewind())
            .context("writing git-lfs's input")?;
        let mut cmd = git.command();
        // Locks guard people's edits, not a replica of what was already pushed; unset, git-lfs
        // asks the server about them on every push and warns when it has no locking API.
        cmd.args(["-c", "lfs.locksverify=false"]);
        if let Some(url) = &git.mirror().lfs_url {
            cmd.arg("-c").arg(format!("lfs.url={url}"));
        }
        // Its progress meter (off without a terminal; forced, it goes to stdout) is the sign of
        // life the mirror's inactivity timeout watches while a large file uploads.
        cmd.env("GIT_LFS_FORCE_PROGRESS", "1");
        cmd.args(["lfs", "pre-push", "--"])
            .arg(git.url())
            .arg(git.url())
            .stdin(input);
        let output = git.run(cmd).context("running git-lfs")?;
        if !output.status.success() {
            let failure = LfsFailure::read(&String::from_utf8_lossy(&output.stderr), output.status.code());
            return Err(anyhow::Error::new(failure));
        }
        Ok(())
    }
}

/// Where the objects given to mirror `name` through git-lfs are listed.
fn given_path(common_dir: &Path, name: &str) -> PathBuf {
    Kept::LfsGiven.in_dir(common_dir).join(name)
}

/// The objects listed at `path`; `None` when no pass has listed any yet.
fn read_given(path: &Path) -> Result<Option<BTreeSet<String>>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text.lines().map(str::to_owned).collect())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("reading {}", quoted(path))),
    }
}

fn write_given(path: &Path, given: &BTreeSet<String>) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", quoted(dir)))?;
    }
    let mut text = String::with_capacity(given.len() * 65);
    for oid in given {
        text.push_str(oid);
        text.push('\n');
    }
    crate::config::write_atomically(path, text.as_bytes())
        .with_context(|| format!("writing {}", quoted(path)))
}

/// Forgets what mirror `name` was given (a mirror of that name added later starts afresh).
pub(crate) fn forget(common_dir: &Path, name: &str) -> std::io::Result<()> {
    match fs::remove_file(given_path(common_dir, name)) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

/// The git dir of the repository at `path` on this machine, as git finds it for a push there
/// (for one libgit2 cannot open: a newer ref format, the `.git` suffix git adds). `None` when
/// nothing is there: the transfer reports that in its own words, as for any mirror.
pub(crate) fn git_dir_at(path: &Path) -> Result<Option<PathBuf>> {
    let mut with_suffix = path.as_os_str().to_owned();
    with_suffix.push(".git");
    let Some(path) = [path, Path::new(&with_suffix)].into_iter().find(|p| p.is_dir()) else {
        return Ok(None);
    };
    let mut cmd = crate::git::command();
    // Not a repository around the mirror's path: a plain directory inside one is no mirror.
    if let Some(parent) = path.parent() {
        cmd.env("GIT_CEILING_DIRECTORIES", parent);
    }
    let output = cmd
        .arg("-C")
        .arg(path)
        .args(["rev-parse", "--absolute-git-dir"])
        .output()
        .context("starting git (is git installed?)")?;
    if !output.status.success() {
        anyhow::bail!(
            "finding the git dir of the mirror {} for its LFS objects: {}",
            quoted(path),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let dir = output.stdout.strip_suffix(b"\n").unwrap_or(&output.stdout);
    Ok(Some(PathBuf::from(std::ffi::OsStr::from_bytes(dir))))
}

/// git's pre-push lines (`<local ref> <local oid> <remote ref> <remote oid>`) for every ref
/// whose value here differs from what the mirror last took.
fn pre_push_lines(local: &Refs, known: Option<&Refs>) -> String {
    let mut lines = String::new();
    for (name, oid) in local {
        let old = known.and_then(|known| known.get(name));
        if old == Some(oid) {
            continue;
        }
        // All zeros, as git gives for a ref the other side lacks (as long as the repository's ids).
        let old = old.cloned().unwrap_or_else(|| "0".repeat(oid.len()));
        lines.push_str(&format!("{name} {oid} {name} {old}\n"));
    }
    lines
}

/// `<objects>/OID[0:2]/OID[2:4]/OID`, as git-lfs lays them out.
pub(crate) fn object_path(objects: &Path, oid: &str) -> PathBuf {
    objects.join(&oid[0..2]).join(&oid[2..4]).join(oid)
}

/// Every object file under an `lfs/objects` dir, with its oid: names of 64 hex digits two levels
/// down (git-lfs keeps nothing else there, and whatever else is left alone).
fn objects_in(objects: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    let read =
        |dir: &Path| fs::read_dir(dir).with_context(|| format!("listing LFS objects in {}", quoted(dir)));
    for first in read(objects)?.flatten() {
        if !is_hex_pair(&first.file_name()) || !first.path().is_dir() {
            continue;
        }
        for second in read(&first.path())?.flatten() {
            if !is_hex_pair(&second.file_name()) || !second.path().is_dir() {
                continue;
            }
            for object in read(&second.path())?.flatten() {
                let Some(oid) = object.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                if oid.len() == 64 && oid.bytes().all(|b| b.is_ascii_hexdigit()) && object.path().is_file() {
                    found.push((oid, object.path()));
                }
            }
        }
    }
    Ok(found)
}

fn is_hex_pair(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|name| name.len() == 2 && name.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// How our copies in progress are named in a mirror's `lfs/tmp`.
const COPY_PREFIX: &str = "repo-sync-lfs-";

/// Removes the copies in progress that a killed pass of ours left in a mirror's `lfs/tmp` (an
/// hour old: another repository's pass may be copying into the same mirror now).
fn remove_stale_copies(tmp: &Path) {
    let Ok(entries) = fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry.file_name().to_string_lossy().starts_with(COPY_PREFIX)
            && entry
                .metadata()
                .and_then(|meta| meta.modified())
                .is_ok_and(|at| at.elapsed().is_ok_and(|age| age.as_secs() > 3600));
        if stale {
            // At worst a file stays for the next pass: it takes space, never a name git-lfs reads.
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Copies `source` to `target` through a temporary file in `tmp`, renamed into place once whole
/// and on disk. A plain read/write loop: `fs::copy` and `io::copy` may use `copy_file_range`,
/// which shares blocks with the source on filesystems that can (btrfs, XFS).
fn copy_object(source: &Path, target: &Path, tmp: &Path) -> Result<()> {
    let dir = target.parent().context("an LFS object path has a parent")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", quoted(dir)))?;
    fs::create_dir_all(tmp).with_context(|| format!("creating {}", quoted(tmp)))?;
    let mut from = File::open(source).with_context(|| format!("opening {}", quoted(source)))?;
    let mut to = tempfile::Builder::new()
        .prefix(COPY_PREFIX)
        .tempfile_in(tmp)
        .with_context(|| format!("creating a file in {}", quoted(tmp)))?;
    let mut buffer = vec![0_u8; 256 * 1024];
    loop {
        let n = from
            .read(&mut buffer)
            .with_context(|| format!("reading {}", quoted(source)))?;
        if n == 0 {
            break;
        }
        to.write_all(&buffer[..n]).context("writing the copy")?;
    }
    to.as_file().sync_all().context("flushing the copy to disk")?;
    to.persist(target)
        .map_err(|err| err.error)
        .with_context(|| format!("moving the copy to {}", quoted(target)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_push_lines_name_only_changed_refs_with_what_the_mirror_had() {
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        let local: Refs = [
            ("refs/heads/main".to_owned(), a.clone()),
            ("refs/heads/new".to_owned(), b.clone()),
            ("refs/tags/same".to_owned(), b.clone()),
        ]
        .into_iter()
        .collect();
        let known: Refs = [
            ("refs/heads/main".to_owned(), b.clone()),
            ("refs/tags/same".to_owned(), b.clone()),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            pre_push_lines(&local, Some(&known)),
            format!(
                "refs/heads/main {a} refs/heads/main {b}\nrefs/heads/new {b} refs/heads/new {}\n",
                "0".repeat(40)
            )
        );
        assert_eq!(pre_push_lines(&known, Some(&known)), "");
    }

    #[test]
    fn objects_are_copied_not_linked_and_counted() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().expect("a temp dir");
        let oid = "8c7662d82b191cca7df33cf8efec9b7aa0ce5edbbc8d3a5ed6324e9c7a6478b6";
        let ours = dir.path().join("src/lfs/objects");
        let source = object_path(&ours, oid);
        fs::create_dir_all(source.parent().expect("a parent")).expect("creating dirs");
        fs::write(&source, b"content").expect("writing an object");
        fs::write(ours.join("stray"), b"not an object").expect("writing a stray file");
        let lfs = Lfs::of(&dir.path().join("src")).expect("an LFS repository");
        let mirror = dir.path().join("mirror.git");
        assert_eq!(lfs.copy_to(&mirror).expect("copying"), 1);
        let copied = object_path(&mirror.join("lfs/objects"), oid);
        assert_eq!(fs::read(&copied).expect("the copy"), b"content");
        let (a, b) = (
            fs::metadata(&source).expect("source"),
            fs::metadata(&copied).expect("copy"),
        );
        assert!(a.ino() != b.ino() && b.nlink() == 1, "a copy, not a link");
        // What a killed pass left: an old copy in progress goes, a fresh one (another pass's) stays.
        let tmp = mirror.join("lfs/tmp");
        let (old, fresh) = (
            tmp.join(format!("{COPY_PREFIX}old")),
            tmp.join(format!("{COPY_PREFIX}new")),
        );
        for path in [&old, &fresh] {
            fs::write(path, b"part").expect("writing a partial copy");
        }
        let hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 3600);
        File::options()
            .write(true)
            .open(&old)
            .and_then(|file| file.set_modified(hours_ago))
            .expect("ageing a partial copy");
        assert_eq!(lfs.copy_to(&mirror).expect("copying again"), 1);
        assert!(!old.exists() && fresh.exists());
        assert!(Lfs::of(&mirror.join("nowhere")).is_none());
    }
}
