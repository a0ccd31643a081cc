//! The plan and the transfer: the only place that runs `git push`.
//!
//! A plain bare mirror on this machine is filled directly (see `direct.rs`), from a plan made
//! against its refs, read in process. Every other mirror gets one `git push --porcelain` of its
//! own patterns as refspecs (`+` where it forces, `--prune` where it prunes, `--atomic` where
//! the server has it): git reads the mirror's refs, works out what to send and sends it over one
//! connection, the least any push needs, and receive-pack checks each ref's old value as it
//! updates it, so a change made to the mirror meanwhile is refused, never silently overwritten.
//! Every ref's result, a forced update's old value included, is read back from the porcelain
//! output; git matches the patterns through an index, so 10,000 refs cost what a few do.

use std::collections::BTreeMap;
use std::hash::{Hash as _, Hasher as _};
use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context as _, Result};

use crate::config::{Config, Mirror, ref_matches};
use crate::direct::SharedPacks;
use crate::redact;
use crate::repo::Repo;
use crate::state::{Attempt, PushAction, PushedRef, Rejection, State};
use crate::transport::{MirrorGit, Permanent};

/// Ref name to object id (hex), sorted by name.
pub type Refs = BTreeMap<String, String>;

/// What happened to one mirror in one pass.
#[derive(Debug, Clone)]
pub struct Report {
    pub name: String,
    /// Nothing mirrored changed here since the last full sync, so the mirror was not contacted.
    pub skipped: bool,
    pub attempt: Attempt,
}

impl Report {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            skipped: false,
            attempt: Attempt {
                at: SystemTime::now(),
                error: None,
                rejected: Vec::new(),
                pushed: Vec::new(),
                synced_refs: None,
                atomic: None,
            },
        }
    }

    pub fn failed(&self) -> bool {
        self.attempt.error.is_some() || !self.attempt.rejected.is_empty()
    }

    /// One line for the user or the log: `name: result`.
    pub fn summary(&self) -> String {
        let name = &self.name;
        if let Some(error) = &self.attempt.error {
            return format!("{name}: failed: {error}");
        }
        let count = |action| self.attempt.pushed.iter().filter(|p| p.action == action).count();
        let mut counts = format!(
            "{} created, {} updated, {} deleted",
            count(PushAction::Created),
            count(PushAction::Updated) + count(PushAction::Forced) + count(PushAction::Overwritten),
            count(PushAction::Deleted)
        );
        if count(PushAction::Overwritten) > 0 {
            counts.push_str(&format!(
                "; overwrote {} ref(s) that had diverged on the mirror",
                count(PushAction::Overwritten)
            ));
        }
        if !self.attempt.rejected.is_empty() {
            let rejected: Vec<String> = self
                .attempt
                .rejected
                .iter()
                .map(|r| format!("{} {}", r.refname, r.reason))
                .collect();
            return format!("{name}: failed: rejected {}; {counts}", rejected.join(", "));
        }
        if self.attempt.pushed.is_empty() {
            format!("{name}: up to date")
        } else {
            format!("{name}: ok ({counts})")
        }
    }
}

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

/// What a forced update of `refname` from `old` was: the source's own rewrite when the mirror
/// still had what we last pushed there, else an overwrite of what diverged on the mirror.
fn forced_action(known: Option<&Refs>, refname: &str, old: Option<&String>) -> PushAction {
    match (known.and_then(|known| known.get(refname)), old) {
        (Some(last_pushed), Some(old)) if !old.is_empty() && last_pushed.starts_with(old.as_str()) => {
            PushAction::Forced
        }
        _ => PushAction::Overwritten,
    }
}

impl Change {
    fn pushed(&self, forced: bool, known: Option<&Refs>) -> PushedRef {
        let (action, oid) = match self {
            Self::Create { new, .. } => (PushAction::Created, Some(new.clone())),
            Self::Update {
                refname, old, new, ..
            } if forced => (forced_action(known, refname, Some(old)), Some(new.clone())),
            Self::Update { new, .. } => (PushAction::Updated, Some(new.clone())),
            Self::Delete { .. } => (PushAction::Deleted, None),
        };
        PushedRef {
            refname: self.refname().to_owned(),
            action,
            oid,
        }
    }

    pub fn refname(&self) -> &str {
        match self {
            Self::Create { refname, .. } | Self::Update { refname, .. } | Self::Delete { refname, .. } => {
                refname
            }
        }
    }
}

/// The local refs of the repository (symbolic refs left out: a mirror gets what they point at).
pub fn local_refs(repo: &Repo) -> Result<Refs> {
    let git = git2::Repository::open_bare(&repo.common_dir)
        .with_context(|| format!("opening {}", crate::repo::quoted(&repo.common_dir)))?;
    let mut refs = Refs::new();
    for reference in git.references().context("listing refs")? {
        let reference = reference.context("reading a ref")?;
        if let (Ok(name), Some(target)) = (reference.name(), reference.target()) {
            refs.insert(name.to_owned(), target.to_string());
        }
    }
    Ok(refs)
}

/// The refs among `refs` that `mirror` mirrors.
pub fn selected<'a>(
    mirror: &'a Mirror,
    refs: &'a Refs,
) -> impl Iterator<Item = (&'a String, &'a String)> + 'a {
    refs.iter()
        .filter(move |(name, _)| mirror.refs.iter().any(|pattern| ref_matches(pattern, name)))
}

/// A fingerprint of what `mirror` would take from `refs`.
pub fn fingerprint(mirror: &Mirror, refs: &Refs) -> String {
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

/// How a pass runs: in the foreground for `sync`, in the background worker, or in the
/// schedule's `sync --all`. The last two skip mirrors whose refs here did not change since they
/// last took them all, and leave a notice when a mirror begins failing; only the worker retries
/// recoverable failures with backoff (the schedule comes back by itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassKind {
    Foreground,
    Background,
    Scheduled,
}

impl PassKind {
    fn unattended(self) -> bool {
        matches!(self, Self::Background | Self::Scheduled)
    }
}

/// Runs one pass over the selected mirrors in parallel and records the outcome in the state
/// file. The caller holds the repository's sync lock.
pub fn run_pass(
    repo: &Repo,
    config: &Config,
    names: &[String],
    kind: PassKind,
    progress: Option<&crate::ui::Progress>,
) -> Result<Vec<Report>> {
    let mirrors = config.select(names)?;
    crate::direct::remove_stale_staging(&repo.common_dir);
    let local = local_refs(repo)?;
    let state_path = repo.state_path();
    let mut state = State::read(&state_path).unwrap_or_else(|err| {
        // Ours to rebuild (a directory in its place is reported when it is written, never
        // deleted).
        eprintln!("git-repo-sync: {err:#}; starting the state afresh");
        State::default()
    });
    let packs = SharedPacks::default();
    let source = Source {
        common_dir: &repo.common_dir,
        local: &local,
        packs: &packs,
    };
    let reports: Vec<Report> = std::thread::scope(|scope| {
        let handles: Vec<_> = mirrors
            .iter()
            .map(|&(name, mirror)| {
                let print = fingerprint(mirror, &local);
                let unchanged = kind.unattended()
                    && state.mirrors.get(name).and_then(|m| m.synced_refs.as_deref()) == Some(print.as_str());
                let source = &source;
                let ask_atomic = state
                    .mirrors
                    .get(name)
                    .is_none_or(|seen| seen.ask_atomic(SystemTime::now()));
                scope.spawn(move || {
                    if unchanged {
                        let mut report = Report::new(name);
                        report.skipped = true;
                        report.attempt.synced_refs = Some(print);
                        return report;
                    }
                    let retries = if kind == PassKind::Background {
                        mirror.retries()
                    } else {
                        0
                    };
                    let line = progress.map(|progress| progress.mirror(name));
                    let report = crate::ui::with_progress(line.clone(), || {
                        sync_with_retries(source, name, mirror, &print, retries, ask_atomic)
                    });
                    if let Some(line) = line {
                        line.finish_and_clear();
                    }
                    report
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("a mirror's sync thread panicked"))
            .collect()
    });
    let mut began_failing = Vec::new();
    for report in reports.iter().filter(|report| !report.skipped) {
        let mirror = &config.mirrors[&report.name];
        let was_failing = state
            .mirrors
            .get(&report.name)
            .is_some_and(|m| m.last_result == Some(crate::state::SyncResult::Failed));
        state.record(&report.name, &redact::url(&mirror.url), &report.attempt);
        if report.failed() && !was_failing {
            began_failing.push(report);
        }
        if !report.failed() && (!report.attempt.pushed.is_empty() || known_refs(repo, &report.name).is_none())
        {
            save_known_refs(repo, &report.name, selected(mirror, &local))?;
        }
    }
    state.save(&state_path)?;
    for report in began_failing {
        let mirror = &config.mirrors[&report.name];
        let entry = &state.mirrors[&report.name];
        crate::notify::failure_began(
            repo,
            &report.name,
            mirror,
            entry.failing_since.as_deref().unwrap_or_default(),
            entry.last_error.as_deref().unwrap_or_default(),
            kind.unattended(),
        );
    }
    Ok(reports)
}

/// What every mirror's thread of a pass reads from: the repository and its refs, and the packs
/// built once for the mirrors that take the same objects.
#[derive(Clone, Copy)]
struct Source<'a> {
    common_dir: &'a Path,
    local: &'a Refs,
    packs: &'a SharedPacks,
}

/// Tries a mirror, and again after a recoverable failure, waiting 1 s, 2 s, 4 s ... up to the
/// mirror's `retry_max_delay`, at most `retries` more times.
fn sync_with_retries(
    source: &Source<'_>,
    name: &str,
    mirror: &Mirror,
    print: &str,
    retries: u32,
    ask_atomic: bool,
) -> Report {
    let mut delay = std::time::Duration::from_secs(1);
    let mut tries_left = retries;
    loop {
        let (report, recoverable) = sync_mirror(source, name, mirror, print, ask_atomic);
        if !recoverable || tries_left == 0 {
            return report;
        }
        tries_left -= 1;
        std::thread::sleep(delay.min(mirror.retry_max_delay()));
        delay = delay.saturating_mul(2);
    }
}

/// Brings one mirror up to date; never fails as a whole, the failure is in the report, with
/// whether trying again may help.
fn sync_mirror(
    source: &Source<'_>,
    name: &str,
    mirror: &Mirror,
    print: &str,
    ask_atomic: bool,
) -> (Report, bool) {
    let Source {
        common_dir,
        local,
        packs,
    } = *source;
    let mut report = Report::new(name);
    let fail = |mut report: Report, err: &anyhow::Error| {
        report.attempt.error = Some(redact::text(&format!("{err:#}"), &mirror.url));
        let recoverable = err.downcast_ref::<Permanent>().is_none();
        (report, recoverable)
    };
    let git = match MirrorGit::new(common_dir, mirror) {
        Ok(git) => git,
        Err(err) => return fail(report, &err),
    };
    // A mirror on this machine may hold what a killed pass of ours left there; it goes first,
    // even when there is nothing to move, so that nothing of ours stays behind.
    let local_dir = local_git_dir(mirror);
    if local_dir.is_some() {
        for note in crate::leftovers::repair(common_dir, name) {
            eprintln!("git-repo-sync: mirror '{name}': {note}");
        }
    }
    // What this mirror last took from us, to tell our own rewrites from a diverged mirror.
    let known = known_refs_in(common_dir, name);
    // A plain mirror on this machine is filled directly, from a plan made against its refs
    // (read in process); any other gets one `git push`, which reads the refs itself.
    let direct_dir = crate::direct::eligible(mirror);
    let (remote, changes) = if direct_dir.is_some() {
        let remote = match remote_refs(&git, mirror) {
            Ok(remote) => remote,
            Err(err) => return fail(report, &err),
        };
        let changes = plan(mirror, local, &remote);
        if changes.is_empty() {
            report.attempt.synced_refs = Some(print.to_owned());
            return (report, false);
        }
        (remote, changes)
    } else {
        (Refs::new(), Vec::new())
    };
    let inside = match &local_dir {
        Some(dir) => match crate::leftovers::enter(common_dir, name, dir) {
            Ok(inside) => Some(inside),
            Err(err) => return fail(report, &err),
        },
        None => None,
    };
    let atomic = Atomic {
        ask: ask_atomic && mirror.force,
        answer: std::cell::Cell::new(None),
    };
    let results = match &direct_dir {
        Some(mirror_dir) => crate::direct::push(common_dir, mirror_dir, &changes, &remote, packs),
        None => push_patterns(&git, mirror, local, known.as_ref(), &atomic),
    };
    report.attempt.atomic = atomic.answer.get();
    // Every git of the transfer has ended: nothing of it is left for the next pass to judge.
    drop(inside);
    let mut results = match results {
        Ok(results) => results,
        Err(err) => {
            let hint = local_dir
                .as_deref()
                .filter(|_| format!("{err:#}").contains(".lock"))
                .map(crate::leftovers::lock_hint)
                .unwrap_or_default();
            let err = if hint.is_empty() {
                err
            } else {
                anyhow::anyhow!("{err:#}{hint}")
            };
            return fail(report, &err);
        }
    };
    for change in &changes {
        let refname = change.refname();
        match results.remove(refname) {
            Some(RefResult::Done | RefResult::Created | RefResult::UpToDate) => {
                report.attempt.pushed.push(change.pushed(false, known.as_ref()));
            }
            Some(RefResult::Forced { .. }) => {
                report.attempt.pushed.push(change.pushed(true, known.as_ref()));
            }
            Some(RefResult::Rejected(reason)) => report.attempt.rejected.push(Rejection {
                refname: refname.to_owned(),
                reason: redact::text(&reason, &mirror.url),
            }),
            None => report.attempt.rejected.push(Rejection {
                refname: refname.to_owned(),
                reason: "git push reported nothing for this ref".to_owned(),
            }),
        }
    }
    // A push of the mirror's patterns reports every ref it moved (the plan was git's).
    for (refname, result) in results {
        let (action, oid) = match result {
            RefResult::UpToDate => continue,
            RefResult::Rejected(reason) => {
                report.attempt.rejected.push(Rejection {
                    reason: redact::text(&reason, &mirror.url),
                    refname,
                });
                continue;
            }
            RefResult::Created => (PushAction::Created, local.get(&refname).cloned()),
            RefResult::Done if !local.contains_key(&refname) => (PushAction::Deleted, None),
            RefResult::Done => (PushAction::Updated, local.get(&refname).cloned()),
            RefResult::Forced { old } => (
                forced_action(known.as_ref(), &refname, old.as_ref()),
                local.get(&refname).cloned(),
            ),
        };
        report.attempt.pushed.push(PushedRef { refname, action, oid });
    }
    if report.attempt.rejected.is_empty() {
        report.attempt.synced_refs = Some(print.to_owned());
    }
    // A rejection (diverged ref, stale lease) is not mended by pushing the same again now.
    (report, false)
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
fn local_git_dir(mirror: &Mirror) -> Option<std::path::PathBuf> {
    Some(open_local_mirror(mirror)?.path().components().collect())
}

/// A mirror on this machine, opened at exactly its path, if libgit2 can.
fn open_local_mirror(mirror: &Mirror) -> Option<git2::Repository> {
    if crate::config::transport(&mirror.url) != crate::config::Transport::Local {
        return None;
    }
    git2::Repository::open_ext(
        crate::config::local_path(&mirror.url),
        git2::RepositoryOpenFlags::NO_SEARCH,
        std::iter::empty::<&std::ffi::OsStr>(),
    )
    .ok()
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

/// Whether to push atomically, and what the server answered when asked.
struct Atomic {
    /// A forcing mirror whose server did not refuse an atomic push lately.
    ask: bool,
    answer: std::cell::Cell<Option<bool>>,
}

/// One `git push` of the mirror's own patterns as refspecs (forced where the mirror forces),
/// `--prune` where it prunes: git reads the mirror's refs, works out what to send and sends it in
/// one connection, and receive-pack checks each ref's old value as it updates it, so a change
/// made to the mirror meanwhile is refused, not overwritten. An exact ref name that is gone here
/// is deleted there if the mirror last took it from us.
fn push_patterns(
    git: &MirrorGit<'_>,
    mirror: &Mirror,
    local: &Refs,
    known: Option<&Refs>,
    atomic: &Atomic,
) -> Result<BTreeMap<String, RefResult>> {
    let plus = if mirror.force { "+" } else { "" };
    let mut options = Vec::new();
    if mirror.prune {
        options.push("--prune".to_owned());
    }
    let mut refspecs = Vec::with_capacity(mirror.refs.len());
    for pattern in &mirror.refs {
        if pattern.contains('*') || local.contains_key(pattern) {
            refspecs.push(format!("{plus}{pattern}:{pattern}"));
        } else if mirror.prune && known.is_some_and(|known| known.contains_key(pattern)) {
            refspecs.push(format!(":{pattern}"));
        }
    }
    if refspecs.is_empty() {
        // Without a refspec `git push` would push what `push.default` says: nothing of ours.
        return Ok(BTreeMap::new());
    }
    push_atomic_if_asked(git, &options, &refspecs, atomic)
}

/// Runs `git push options -- url refspecs`: `--atomic` where asked, and again without it where
/// the mirror's server does not support atomic pushes (which is remembered, so that it is not
/// asked again every pass).
fn push_atomic_if_asked(
    git: &MirrorGit<'_>,
    options: &[String],
    refspecs: &[String],
    atomic: &Atomic,
) -> Result<BTreeMap<String, RefResult>> {
    if atomic.ask {
        let output = push_once(git, options, refspecs, true)?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        let refused = !output.status.success()
            && (stderr.contains("does not support --atomic") || stderr.contains("atomic push"));
        atomic.answer.set(Some(!refused));
        if !refused {
            return results_of(git, &output);
        }
    }
    let output = push_once(git, options, refspecs, false)?;
    results_of(git, &output)
}

fn results_of(git: &MirrorGit<'_>, output: &std::process::Output) -> Result<BTreeMap<String, RefResult>> {
    let mut results = parse_porcelain(&String::from_utf8_lossy(&output.stdout));
    if results.is_empty() && !output.status.success() {
        return Err(git.failure(output, "git push failed"));
    }
    // A remote's refusal gives its reason only on stderr (`remote unpack failed: ...`, what a
    // hook printed); the porcelain line alone says just "unpacker error".
    let said = crate::transport::reason_lines(&output.stderr).join(" ");
    if !said.is_empty() {
        for result in results.values_mut() {
            if let RefResult::Rejected(reason) = result
                && reason.starts_with("[remote ")
            {
                reason.push_str(": ");
                reason.push_str(&said);
            }
        }
    }
    Ok(results)
}

fn push_once(
    git: &MirrorGit<'_>,
    options: &[String],
    refspecs: &[String],
    atomic: bool,
) -> Result<std::process::Output> {
    let mut cmd = git.command();
    // --no-verify: the user's pre-push hook guards their own pushes, not replication.
    cmd.args([
        "push",
        "--porcelain",
        "--no-verify",
        "--no-recurse-submodules",
        "--no-signed",
        // Progress on stderr is the sign of life the inactivity timeout watches.
        "--progress",
    ]);
    if atomic {
        cmd.arg("--atomic");
    }
    cmd.args(options).arg("--").arg(git.url()).args(refspecs);
    git.run(cmd).context("pushing")
}

/// Where the refs a mirror last took in full are kept, for `status` to tell what is pending.
/// Forgets everything kept about mirror `name` (its state, the refs it last took): a mirror of
/// that name added later starts afresh. The caller holds the sync lock.
pub fn forget(repo: &Repo, name: &str) -> Result<()> {
    let state_path = repo.state_path();
    let mut state = State::read(&state_path).unwrap_or_default();
    if state.mirrors.remove(name).is_some() {
        state.save(&state_path)?;
    }
    let known = known_refs_path(repo, name);
    match std::fs::remove_file(&known) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            Err(err).with_context(|| format!("removing {}", crate::repo::quoted(&known)))
        }
        _ => Ok(()),
    }
}

fn known_refs_path(repo: &Repo, name: &str) -> std::path::PathBuf {
    known_refs_dir(&repo.common_dir).join(name)
}

fn known_refs_dir(common_dir: &Path) -> std::path::PathBuf {
    common_dir.join("repo-sync-refs")
}

/// The refs `name` last took in full (`None` if it never did).
pub fn known_refs(repo: &Repo, name: &str) -> Option<Refs> {
    known_refs_in(&repo.common_dir, name)
}

fn known_refs_in(common_dir: &Path, name: &str) -> Option<Refs> {
    let text = std::fs::read_to_string(known_refs_dir(common_dir).join(name)).ok()?;
    Some(
        text.lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(oid, name)| (name.to_owned(), oid.to_owned()))
            .collect(),
    )
}

fn save_known_refs<'a>(
    repo: &Repo,
    name: &str,
    refs: impl Iterator<Item = (&'a String, &'a String)>,
) -> Result<()> {
    let path = known_refs_path(repo, name);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", crate::repo::quoted(dir)))?;
    }
    let mut text = String::new();
    for (refname, oid) in refs {
        text.push_str(oid);
        text.push(' ');
        text.push_str(refname);
        text.push('\n');
    }
    crate::config::write_atomically(&path, text.as_bytes())
        .with_context(|| format!("writing {}", crate::repo::quoted(&path)))
}

/// The refs whose value here differs from what `mirror` last took in full, or `None` when it
/// never did.
pub fn pending(repo: &Repo, name: &str, mirror: &Mirror) -> Result<Option<Vec<String>>> {
    let Some(known) = known_refs(repo, name) else {
        return Ok(None);
    };
    let local = local_refs(repo)?;
    let here: Refs = selected(mirror, &local)
        .map(|(n, o)| (n.clone(), o.clone()))
        .collect();
    let mut differing: Vec<String> = here
        .iter()
        .filter(|(refname, oid)| known.get(*refname) != Some(oid))
        .map(|(refname, _)| refname.clone())
        .collect();
    if mirror.prune {
        differing.extend(
            known
                .keys()
                .filter(|refname| !here.contains_key(*refname))
                .cloned(),
        );
    }
    differing.sort();
    Ok(Some(differing))
}

/// Reads `git push --porcelain` output: `<flag>\t<from>:<to>\t<summary>` per ref.
pub fn parse_porcelain(stdout: &str) -> BTreeMap<String, RefResult> {
    let mut results = BTreeMap::new();
    for line in stdout.lines() {
        let mut fields = line.splitn(3, '\t');
        let (Some(flag), Some(spec), summary) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let Some((_, to)) = spec.rsplit_once(':') else {
            continue;
        };
        let result = match flag {
            " " | "-" => RefResult::Done,
            "*" => RefResult::Created,
            "=" => RefResult::UpToDate,
            "+" => RefResult::Forced {
                old: summary
                    .and_then(|summary| summary.split("...").next())
                    .map(|old| old.trim().to_owned())
                    .filter(|old| !old.is_empty() && old.bytes().all(|b| b.is_ascii_hexdigit())),
            },
            "!" => RefResult::Rejected(summary.unwrap_or("rejected").trim().to_owned()),
            _ => continue,
        };
        results.insert(to.to_owned(), result);
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(pairs: &[(&str, &str)]) -> Refs {
        pairs
            .iter()
            .map(|(n, o)| ((*n).to_owned(), (*o).to_owned()))
            .collect()
    }

    #[test]
    fn plan_creates_updates_and_prunes_only_mirrored_refs() {
        let mirror = Mirror::new("/m".into());
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
        let mut mirror = Mirror::new("/m".into());
        mirror.prune = false;
        let changes = plan(&mirror, &Refs::new(), &refs(&[("refs/tags/v1", "a")]));
        assert!(changes.is_empty());
    }

    #[test]
    fn porcelain_output_is_read_per_ref() {
        let out = "To /tmp/m.git\n\
                   *\tabc:refs/heads/new\t[new branch]\n\
                   +\tabc:refs/heads/main\tabc...def (forced update)\n\
                   -\t:refs/heads/gone\t[deleted]\n\
                   !\tabc:refs/heads/div\t[rejected] (non-fast-forward)\n\
                   Done\n";
        let results = parse_porcelain(out);
        assert_eq!(results["refs/heads/new"], RefResult::Created);
        assert_eq!(
            results["refs/heads/main"],
            RefResult::Forced {
                old: Some("abc".into())
            }
        );
        assert_eq!(results["refs/heads/gone"], RefResult::Done);
        assert_eq!(
            results["refs/heads/div"],
            RefResult::Rejected("[rejected] (non-fast-forward)".into())
        );
        assert_eq!(results.len(), 4);
    }
}
