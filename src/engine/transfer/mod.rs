//! Moving refs and objects into a mirror. A plain bare mirror on this machine is filled directly
//! ([`direct`]); every other mirror gets one `git push` ([`git_push`]), or, over http(s) once the
//! mirror took a push, one request ([`one_request`]) with `git push` behind it. They take the
//! plan's types and return a result per ref; none knows the state or the pass.

pub(crate) mod ahead;
pub(crate) mod connection;
pub(crate) mod direct;
pub(crate) mod git_push;
pub(crate) mod one_request;
pub(crate) mod shared_ssh;

use std::path::Path;

use anyhow::{Context as _, Result};

use self::connection::MirrorGit;
use crate::config::Mirror;
use crate::engine::plan::Refs;

/// What a transfer asks of a mirror's server this pass, decided from the state.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Asks {
    /// An atomic push: not while the server refused one lately.
    pub(crate) atomic: bool,
    /// A push in one request: while what was last left there is trusted.
    pub(crate) one_request: bool,
    /// After a push, a connection (or ssh session) opened ahead for the next one, which goes
    /// in one request: while the server has not refused one lately.
    pub(crate) spare_session: bool,
}

/// What a transfer learned of a mirror's server on the way, whatever came of the push, for the
/// state.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Learned {
    /// Whether the server took an atomic push, where one was asked.
    pub(crate) atomic: Option<bool>,
    /// What came of a push in one request, where one was asked.
    pub(crate) one_request: Option<Answer>,
}

/// What came of a push in one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    Pushed,
    /// The server refused the credential; nothing else was tried.
    Failed,
    NotTaken,
    /// It does not work for this mirror, for a reason that stays.
    Refused,
}

/// A transfer's outcome: the result of each ref (or why there is none), and what it learned.
#[derive(Debug)]
pub(crate) struct Transferred {
    pub(crate) results: Result<std::collections::BTreeMap<String, crate::engine::plan::RefResult>>,
    pub(crate) learned: Learned,
}

/// The source repository's objects, asked in process where libgit2 opens the repository, and of
/// git itself where it cannot (reftable refs, SHA-256 objects).
pub(crate) struct SourceObjects<'a> {
    common_dir: &'a Path,
    in_process: Option<git2::Repository>,
}

impl<'a> SourceObjects<'a> {
    pub(crate) fn open(common_dir: &'a Path) -> Self {
        Self {
            common_dir,
            in_process: git2::Repository::open_bare(common_dir).ok(),
        }
    }

    /// Those of `oids` the repository has, in their order.
    pub(crate) fn present<'o>(&self, oids: &[&'o str]) -> Result<Vec<&'o str>> {
        if let Some(repo) = &self.in_process {
            let odb = repo.odb().context("opening the object database")?;
            return Ok(oids
                .iter()
                .copied()
                .filter(|oid| git2::Oid::from_str(oid).is_ok_and(|oid| odb.exists(oid)))
                .collect());
        }
        if oids.is_empty() {
            return Ok(Vec::new());
        }
        let mut input = oids.join("\n");
        input.push('\n');
        let mut cmd = crate::git::in_git_dir(self.common_dir);
        cmd.args(["cat-file", "--batch-check=%(objectname)"]);
        let listed = run_fed(cmd, input.into_bytes(), "git cat-file")?;
        let found: std::collections::HashSet<&str> = std::str::from_utf8(&listed)
            .unwrap_or_default()
            .lines()
            .filter(|line| !line.ends_with(" missing"))
            .collect();
        Ok(oids.iter().copied().filter(|oid| found.contains(oid)).collect())
    }

    /// Whether `new` descends from `old` (a fast-forward); an `old` we do not have, or one that
    /// is not a commit, does not.
    pub(crate) fn descends(&self, new: &str, old: &str) -> bool {
        if new == old {
            return true;
        }
        match &self.in_process {
            Some(repo) => match (git2::Oid::from_str(new), git2::Oid::from_str(old)) {
                (Ok(new), Ok(old)) => repo.graph_descendant_of(new, old).unwrap_or(false),
                _ => false,
            },
            None => crate::git::in_git_dir(self.common_dir)
                .args(["merge-base", "--is-ancestor", "--", old, new])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|status| status.success()),
        }
    }
}

/// Runs `cmd` with `input` on its stdin (written from a thread, as the command may fill its
/// output pipes before it has read everything) and returns its stdout, failing with its stderr
/// (read for its kind: a lock in the way, say).
pub(crate) fn run_fed(mut cmd: std::process::Command, input: Vec<u8>, what: &str) -> Result<Vec<u8>> {
    use std::io::Write as _;
    use std::process::Stdio;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().with_context(|| format!("starting {what}"))?;
    let mut stdin = child
        .stdin
        .take()
        .with_context(|| format!("{what} without stdin"))?;
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child
        .wait_with_output()
        .with_context(|| format!("running {what}"))?;
    let written = writer
        .join()
        .map_err(|_| anyhow::anyhow!("feeding {what} panicked"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let kind = crate::failure::Failure::read(&stderr);
        return Err(anyhow::Error::new(crate::failure::MirrorError::new(
            kind,
            format!("{what} failed: {}", stderr.trim()),
        )));
    }
    written.with_context(|| format!("feeding {what}"))?;
    Ok(output.stdout)
}

/// The mirror's refs, as `git ls-remote --refs` lists them (peeled tags and HEAD left out).
pub(crate) fn remote_refs(git: &MirrorGit<'_>, mirror: &Mirror) -> Result<Refs> {
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
    let Some(repo) = open_local_mirror(mirror) else {
        return local_mirror_refs_by_git(mirror);
    };
    let config = repo.config().ok()?;
    if hides_refs(&config) {
        return None;
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

/// Whether the mirror's config hides refs from a push, which only git applies faithfully.
fn hides_refs(config: &git2::Config) -> bool {
    ["transfer.hiderefs", "uploadpack.hiderefs", "receive.hiderefs"]
        .iter()
        .any(|key| {
            config
                .entries(Some(key))
                .is_ok_and(|mut entries| entries.next().is_some())
        })
}

/// [`local_mirror_refs`] for a plain bare mirror libgit2 cannot open (reftable refs, SHA-256
/// objects): its files read in process where it keeps refs as files, else one `git
/// for-each-ref`, which still costs less than `ls-remote` and its upload-pack.
fn local_mirror_refs_by_git(mirror: &Mirror) -> Option<Refs> {
    let dir = mirror.url.local_path()?;
    if !dir.join("HEAD").is_file() || !dir.join("objects").is_dir() {
        return None;
    }
    let config = crate::repo::config_of(dir).ok()?;
    if !config.get_bool("core.bare").ok()? || hides_refs(&config) {
        return None;
    }
    if let Some(refs) = crate::engine::plan::files_backend_refs(dir) {
        return Some(refs);
    }
    let output = crate::git::in_git_dir(dir)
        .args(["for-each-ref", crate::engine::plan::REF_LISTING])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| crate::engine::plan::read_ref_listing(&output.stdout))
}

/// The git dir of a mirror on this machine that git-repo-sync writes into, directly or through
/// `git push` (its path without a trailing `/`, as processes working there name it). A
/// repository libgit2 cannot open is recognised by its layout, as git recognises one.
pub(crate) fn local_git_dir(mirror: &Mirror) -> Option<std::path::PathBuf> {
    if let Some(repo) = open_local_mirror(mirror) {
        return Some(repo.path().components().collect());
    }
    let path = mirror.url.local_path()?;
    [path.to_path_buf(), path.join(".git")]
        .into_iter()
        .find(|dir| dir.join("HEAD").is_file() && dir.join("objects").is_dir())
        .map(|dir| dir.components().collect())
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
