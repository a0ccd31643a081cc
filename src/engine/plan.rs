//! The plan's types and the pure parts of a pass: which refs a mirror takes, what must move so
//! that the mirror's refs equal ours, and the fingerprint that lets a pass skip a mirror. The
//! transfers (`transfer/`) know these types and nothing else of the engine.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result};

use crate::config::{Mirror, ref_matches};
use crate::repo::Repo;

/// Ref name to object id (hex), sorted by name.
pub type Refs = BTreeMap<String, String>;

/// One ref change for a mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Create {
        refname: String,
        new: String,
    },
    Update {
        refname: String,
        old: String,
        new: String,
    },
    Delete {
        refname: String,
        old: String,
    },
}

impl Change {
    pub fn refname(&self) -> &str {
        match self {
            Self::Create { refname, .. } | Self::Update { refname, .. } | Self::Delete { refname, .. } => {
                refname
            }
        }
    }
}

/// The local refs of the repository (symbolic refs left out: a mirror gets what they point at),
/// read in process where libgit2 opens the repository, else by git.
pub fn local_refs(repo: &Repo) -> Result<Refs> {
    let Ok(git) = git2::Repository::open_bare(&repo.common_dir) else {
        return local_refs_by_git(repo);
    };
    let mut refs = Refs::new();
    for reference in git.references().context("listing refs")? {
        let reference = reference.context("reading a ref")?;
        if let (Ok(name), Some(target)) = (reference.name(), reference.target()) {
            refs.insert(name.to_owned(), target.to_string());
        }
    }
    Ok(refs)
}

/// [`local_refs`] as `git for-each-ref` lists them: for reftable refs and SHA-256 objects.
fn local_refs_by_git(repo: &Repo) -> Result<Refs> {
    if let Some(refs) = files_backend_refs(&repo.common_dir) {
        return Ok(refs);
    }
    let listing = repo
        .git_stdout(&["for-each-ref", REF_LISTING])?
        .unwrap_or_default();
    Ok(read_ref_listing(&listing))
}

/// The refs of a git dir that keeps them as files (not a reftable), read in process as git
/// reads them: loose refs under `refs/` first, then `packed-refs` for the names no loose ref
/// has (in that order, so that a `pack-refs` running meanwhile, which writes `packed-refs` before
/// it deletes the loose files, cannot hide a ref), symbolic refs left out. `None`, for git to
/// answer, at anything unexpected: a reftable, a name that is not UTF-8, a value that is not
/// an object id.
pub(crate) fn files_backend_refs(git_dir: &Path) -> Option<Refs> {
    if git_dir.join("reftable").exists() {
        return None;
    }
    let mut refs = Refs::new();
    let mut symbolic = std::collections::HashSet::new();
    let mut dirs = vec![git_dir.join("refs")];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(_) => return None,
        };
        for entry in entries {
            let path = entry.ok()?.path();
            let kind = std::fs::symlink_metadata(&path).ok()?.file_type();
            if kind.is_dir() {
                dirs.push(path);
                continue;
            }
            let name = path.strip_prefix(git_dir).ok()?.to_str()?.to_owned();
            if name.ends_with(".lock") || !kind.is_file() {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                // Gone meanwhile (deleted, or packed and then deleted): packed-refs tells.
                continue;
            };
            let value = text.trim_end();
            if value.starts_with("ref:") {
                symbolic.insert(name);
            } else if is_object_id(value) {
                refs.insert(name, value.to_owned());
            } else {
                return None;
            }
        }
    }
    match std::fs::read_to_string(git_dir.join("packed-refs")) {
        Ok(packed) => {
            for line in packed
                .lines()
                .filter(|l| !l.starts_with('#') && !l.starts_with('^'))
            {
                let (oid, name) = line.split_once(' ')?;
                if !is_object_id(oid) {
                    return None;
                }
                if !symbolic.contains(name) {
                    refs.entry(name.to_owned()).or_insert_with(|| oid.to_owned());
                }
            }
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(_) => return None,
    }
    Some(refs)
}

/// A full object id in either of git's formats: 40 (SHA-1) or 64 (SHA-256) lower-case hex digits.
fn is_object_id(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The `git for-each-ref` format [`read_ref_listing`] reads: the object, the name and, for a
/// symbolic ref, what it points at, NUL-separated (a ref name holds neither NUL nor newline).
pub(crate) const REF_LISTING: &str = "--format=%(objectname)%00%(refname)%00%(symref)";

/// The refs of a [`REF_LISTING`], symbolic refs left out as [`local_refs`] leaves them out.
pub(crate) fn read_ref_listing(listing: &[u8]) -> Refs {
    let mut refs = Refs::new();
    for line in String::from_utf8_lossy(listing).lines() {
        let mut fields = line.split('\0');
        if let (Some(oid), Some(name), Some("")) = (fields.next(), fields.next(), fields.next()) {
            refs.insert(name.to_owned(), oid.to_owned());
        }
    }
    refs
}

/// The refs among `refs` that `mirror` mirrors.
pub fn selected<'a>(
    mirror: &'a Mirror,
    refs: &'a Refs,
) -> impl Iterator<Item = (&'a String, &'a String)> + 'a {
    refs.iter()
        .filter(move |(name, _)| mirror.refs.iter().any(|pattern| ref_matches(pattern, name)))
}

/// A fingerprint of what `mirror` would take from `refs`. It is kept in the state file, so it is
/// a hash whose algorithm no compiler release changes (SHA-256), over fields each ended by a NUL
/// (no ref name, pattern or URL holds one), so that no two inputs run together.
pub fn fingerprint(mirror: &Mirror, refs: &Refs) -> String {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    let mut field = |bytes: &[u8]| {
        hasher.update(bytes);
        hasher.update([0]);
    };
    field(mirror.url.as_str().as_bytes());
    for pattern in &mirror.refs {
        field(pattern.as_bytes());
    }
    field(b"");
    for (name, oid) in selected(mirror, refs) {
        field(name.as_bytes());
        field(oid.as_bytes());
    }
    let digest = hasher.finalize();
    digest[..8].iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The fingerprint releases before the stable one kept (std's `DefaultHasher`), computed the
/// way they did, only to read their state file: a mirror they left up to date takes no pass
/// after the upgrade. Never written: the next pass keeps [`fingerprint`]'s.
pub fn earlier_fingerprint(mirror: &Mirror, refs: &Refs) -> String {
    use std::hash::{Hash as _, Hasher as _};
    let mut hasher = std::hash::DefaultHasher::new();
    mirror.url.hash(&mut hasher);
    mirror.refs.hash(&mut hasher);
    for (name, oid) in selected(mirror, refs) {
        name.hash(&mut hasher);
        oid.hash(&mut hasher);
    }
    format!("{:016x}", hasher.finish())
}

/// What to push so that the mirror's selected refs equal the local ones.
pub fn plan(mirror: &Mirror, local: &Refs, remote: &Refs) -> Vec<Change> {
    let mut changes = Vec::new();
    for (name, new) in selected(mirror, local) {
        match remote.get(name) {
            None => changes.push(Change::Create {
                refname: name.clone(),
                new: new.clone(),
            }),
            Some(old) if old != new => changes.push(Change::Update {
                refname: name.clone(),
                old: old.clone(),
                new: new.clone(),
            }),
            Some(_) => {}
        }
    }
    if mirror.prune {
        for (name, old) in selected(mirror, remote) {
            if !local.contains_key(name) {
                changes.push(Change::Delete {
                    refname: name.clone(),
                    old: old.clone(),
                });
            }
        }
    }
    changes
}

/// The per-ref outcome of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefResult {
    /// Updated or deleted (or, from the direct transfer, created).
    Done,
    /// Created (git push's `*`).
    Created,
    /// Already had the value (listed by a bulk push for every matching ref).
    UpToDate,
    /// Done, but not a fast-forward: over `old` (as git printed it, perhaps abbreviated).
    Forced {
        old: Option<String>,
    },
    Rejected(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_kept_as_files_are_read_as_git_lists_them() {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = dir.path().join("r");
        let git = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .arg("-C")
                .arg(&repo)
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(args)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .output()
                .expect("git runs");
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        };
        std::fs::create_dir_all(&repo).expect("dir");
        git(&["init", "-q", "--object-format=sha256", "-b", "main"]);
        git(&["commit", "-q", "--allow-empty", "-m", "one"]);
        git(&["tag", "-a", "-m", "annotated", "v1"]);
        git(&["branch", "packed-then-moved"]);
        git(&["pack-refs", "--all"]);
        git(&["commit", "-q", "--allow-empty", "-m", "two"]);
        git(&["branch", "-f", "packed-then-moved", "HEAD"]);
        git(&["branch", "loose"]);
        git(&["symbolic-ref", "refs/remotes/origin/HEAD", "refs/heads/main"]);
        let listed = read_ref_listing(&git(&["for-each-ref", REF_LISTING]));
        let read = files_backend_refs(&repo.join(".git")).expect("files read in process");
        assert_eq!(read, listed);
        assert_eq!(read.len(), 4, "{read:?}");
        std::fs::write(repo.join(".git/refs/heads/garbled"), "not an id\n").expect("write");
        assert_eq!(files_backend_refs(&repo.join(".git")), None, "left to git");
    }

    #[test]
    fn the_persisted_fingerprint_is_the_same_in_every_build() {
        let mirror = Mirror::new(crate::url::MirrorUrl::parse("/srv/m.git").expect("a URL"));
        let mut refs = Refs::new();
        refs.insert("refs/heads/main".into(), "a".repeat(40));
        let print = fingerprint(&mirror, &refs);
        assert_eq!(
            print, PINNED,
            "changing it re-pushes every mirror once after an upgrade"
        );
        refs.insert("refs/heads/main".into(), "b".repeat(40));
        assert_ne!(fingerprint(&mirror, &refs), print);
        refs.insert("refs/remotes/x".into(), "c".repeat(40));
        assert_eq!(
            fingerprint(&mirror, &refs),
            fingerprint(&mirror, &{
                let mut only = Refs::new();
                only.insert("refs/heads/main".into(), "b".repeat(40));
                only
            }),
            "refs the mirror does not take do not count"
        );
    }

    /// The first 8 bytes of SHA-256 over `/srv/m.git`, the two default patterns, an empty field,
    /// `refs/heads/main` and 40 `a`s, each ended by a NUL (`hashlib.sha256` gives the same).
    const PINNED: &str = "40b1307b3d516ba4";

    #[test]
    fn a_ref_listing_gives_each_direct_ref_and_leaves_symbolic_ones_out() {
        let oid = "a".repeat(64);
        let listing = format!(
            "{oid}\0refs/heads/main\0\n{oid}\0refs/remotes/origin/HEAD\0refs/remotes/origin/main\n\
             {oid}\0refs/tags/v1\0\n"
        );
        let refs = read_ref_listing(listing.as_bytes());
        assert_eq!(
            refs.keys().collect::<Vec<_>>(),
            ["refs/heads/main", "refs/tags/v1"]
        );
        assert_eq!(refs["refs/tags/v1"], oid);
    }

    fn refs(pairs: &[(&str, &str)]) -> Refs {
        pairs
            .iter()
            .map(|(n, o)| ((*n).to_owned(), (*o).to_owned()))
            .collect()
    }

    #[test]
    fn plan_creates_updates_and_prunes_only_mirrored_refs() {
        let mirror = Mirror::new(crate::url::MirrorUrl::parse("/m").expect("a valid URL"));
        let local = refs(&[
            ("refs/heads/main", "b"),
            ("refs/heads/new", "c"),
            ("refs/remotes/o/x", "d"),
        ]);
        let remote = refs(&[
            ("refs/heads/main", "a"),
            ("refs/heads/gone", "e"),
            ("refs/pull/1", "f"),
        ]);
        let changes = plan(&mirror, &local, &remote);
        assert_eq!(
            changes,
            vec![
                Change::Update {
                    refname: "refs/heads/main".into(),
                    old: "a".into(),
                    new: "b".into()
                },
                Change::Create {
                    refname: "refs/heads/new".into(),
                    new: "c".into()
                },
                Change::Delete {
                    refname: "refs/heads/gone".into(),
                    old: "e".into()
                },
            ]
        );
    }

    #[test]
    fn plan_without_prune_keeps_extra_refs() {
        let mut mirror = Mirror::new(crate::url::MirrorUrl::parse("/m").expect("a valid URL"));
        mirror.prune = false;
        let changes = plan(&mirror, &Refs::new(), &refs(&[("refs/tags/v1", "a")]));
        assert!(changes.is_empty());
    }
}
