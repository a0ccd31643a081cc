//! Moving refs and objects into a mirror. A plain bare mirror on this machine is filled directly
//! ([`direct`]); every other mirror gets one `git push` ([`git_push`]), or, over http(s) once the
//! mirror took a push, one request ([`one_request`]) with `git push` behind it. They take the
//! plan's types and return a result per ref; none knows the state or the pass.

pub(crate) mod connection;
pub(crate) mod direct;
pub(crate) mod git_push;
pub(crate) mod one_request;
pub(crate) mod shared_ssh;

use anyhow::{Context as _, Result};

use self::connection::MirrorGit;
use crate::config::Mirror;
use crate::engine::plan::Refs;

/// Something a transfer may ask of a mirror's server this pass (an atomic push, a push in one
/// request), decided from the state, and what came of it, for the state.
pub(crate) struct Asked<T: Copy> {
    ask: bool,
    answer: std::cell::Cell<Option<T>>,
}

impl<T: Copy> Asked<T> {
    pub(crate) fn ask(ask: bool) -> Self {
        Self {
            ask,
            answer: std::cell::Cell::new(None),
        }
    }

    pub(crate) fn asked(&self) -> bool {
        self.ask
    }

    /// What came of it, if it was asked this pass.
    pub(crate) fn answer(&self) -> Option<T> {
        self.answer.get()
    }

    pub(crate) fn set(&self, answer: T) {
        self.answer.set(Some(answer));
    }
}

/// Whether `new` descends from `old` in `repo` (a fast-forward); an `old` it does not have, or
/// one that is not a commit, is not.
pub(crate) fn descends(repo: &git2::Repository, new: &str, old: &str) -> bool {
    let (Ok(new), Ok(old)) = (git2::Oid::from_str(new), git2::Oid::from_str(old)) else {
        return false;
    };
    new == old || repo.graph_descendant_of(new, old).unwrap_or(false)
}

/// The mirror's refs, as `git ls-remote --refs` lists them (peeled tags and HEAD left out).
pub fn remote_refs(git: &MirrorGit<'_>, mirror: &Mirror) -> Result<Refs> {
    if let Some(refs) = local_mirror_refs(mirror) {
        return Ok(refs);
    }
    let mut cmd = git.command();
    cmd.args(["ls-remote", "--refs", "--"]).arg(git.url());
    let output = git.run(cmd).context("reading the mirror's refs")?;
    if !output.status.success() {
        return Err(git.failure(&output, "reading the mirror's refs failed"));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut refs = Refs::new();
    for line in stdout.lines() {
        if let Some((oid, name)) = line.split_once('\t') {
            refs.insert(name.to_owned(), oid.to_owned());
        }
    }
    Ok(refs)
}

/// The refs of a mirror on this machine, read in process: starting `git ls-remote` and its
/// upload-pack costs more than a whole `git push` that has nothing to do. `None` where git must
/// read them to be faithful: not a repository at exactly that path (git also tries `.git`
/// suffixes), refs hidden by the mirror's config, a repository libgit2 cannot open (a newer ref
/// format, another owner); git then reads them, and reports any error in its own words.
fn local_mirror_refs(mirror: &Mirror) -> Option<Refs> {
    let repo = open_local_mirror(mirror)?;
    let config = repo.config().ok()?;
    for key in ["transfer.hiderefs", "uploadpack.hiderefs", "receive.hiderefs"] {
        let mut entries = config.entries(Some(key)).ok()?;
        if entries.next().is_some() {
            return None;
        }
    }
    let mut refs = Refs::new();
    for reference in repo.references().ok()? {
        let reference = reference.ok()?;
        if let (Ok(name), Some(target)) = (reference.name(), reference.target()) {
            refs.insert(name.to_owned(), target.to_string());
        }
    }
    Some(refs)
}

/// The git dir of a mirror on this machine that git-repo-sync writes into, directly or through
/// `git push` (its path without a trailing `/`, as processes working there name it).
pub(crate) fn local_git_dir(mirror: &Mirror) -> Option<std::path::PathBuf> {
    Some(open_local_mirror(mirror)?.path().components().collect())
}

/// A mirror on this machine, opened at exactly its path, if libgit2 can.
fn open_local_mirror(mirror: &Mirror) -> Option<git2::Repository> {
    git2::Repository::open_ext(
        mirror.url.local_path()?,
        git2::RepositoryOpenFlags::NO_SEARCH,
        std::iter::empty::<&std::ffi::OsStr>(),
    )
    .ok()
}
