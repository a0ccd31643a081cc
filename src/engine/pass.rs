//! One pass: every selected mirror in parallel, each brought up to date by its transfer and
//! tried again after a failure it may recover from; then the outcome is recorded (the state,
//! the refs each mirror took, a notice when a mirror begins failing). The caller holds the
//! repository's sync lock.

use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context as _, Result};

use super::known::{known_refs, known_refs_in, save_known_refs};
use super::leftovers;
use super::lfs::Lfs;
use super::outcome::{self, Report};
use super::plan::{Refs, earlier_fingerprint, fingerprint, local_refs, plan, selected};
use super::transfer;
use super::transfer::connection::MirrorGit;
use super::transfer::direct::{self, SharedPacks};
use super::transfer::git_push;
use super::transfer::one_request::SharedRequests;
use super::transfer::shared_ssh::SharedSsh;
use super::transfer::{Answer, Asks, Learned, Transferred};
use crate::config::{Config, Mirror};
use crate::failure::{Failure, LfsFailure, MirrorError};
use crate::repo::{ObjectFormat, Repo};
use crate::state::{LfsCarried, State};

/// How a pass runs: in the foreground for `sync`, in the background worker, or in the
/// schedule's `sync --all`. The last two skip mirrors whose refs here did not change since they
/// last took them all, and leave a notice when a mirror begins failing; only the worker retries
/// recoverable failures with backoff (the schedule comes back by itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PassKind {
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
/// file, in four steps: prepare (what changed, for which mirror), transfer (each mirror in its
/// thread), record (the state, the refs each mirror took), tell (a mirror that began failing).
/// The caller holds the repository's sync lock.
pub(crate) fn run_pass(
    repo: &Repo,
    config: &Config,
    names: &[String],
    kind: PassKind,
    progress: Option<&crate::ui::Progress>,
) -> Result<Vec<Report>> {
    let mirrors = config.select(names)?;
    let mut prepared = prepare(repo, &mirrors, kind)?;
    let (reports, ahead) = transfer_all(repo, &mirrors, &mut prepared, kind, progress)?;
    let Prepared { local, mut state, .. } = prepared;
    if kind == PassKind::Scheduled {
        state.last_scheduled_pass = Some(crate::state::Timestamp::at(SystemTime::now()));
    }
    let recorded = record(repo, config, &local, &mut state, &reports);
    // Only now: setting up the next pushes' connections takes no CPU from this pass's end.
    transfer::ahead::start(&ahead);
    let began_failing = recorded?;
    tell(repo, config, &state, &began_failing, kind);
    Ok(reports)
}

/// What a pass knows before it contacts any mirror.
struct Prepared<'a> {
    local: Refs,
    state: State,
    /// Per selected mirror: the fingerprint of what it would take now, and how it is reached
    /// (`None`: unchanged since it last took everything, not contacted).
    targets: Vec<(String, Option<Result<MirrorGit<'a>>>)>,
}

/// Reads the refs and the state, and works out which mirrors this pass contacts: those whose
/// refs here changed since they last took them all, and all of them in the foreground.
fn prepare<'a>(repo: &'a Repo, mirrors: &[(&str, &'a Mirror)], kind: PassKind) -> Result<Prepared<'a>> {
    direct::remove_stale_staging(&repo.common_dir);
    let local = local_refs(repo)?;
    let state = State::read(&repo.state_path()).unwrap_or_else(|err| {
        // Ours to rebuild (a directory in its place is reported when it is written, never
        // deleted).
        eprintln!("git-repo-sync: {err:#}; starting the state afresh");
        State::default()
    });
    let targets = mirrors
        .iter()
        .map(|&(name, mirror)| {
            let print = fingerprint(mirror, &local);
            let unchanged = kind.unattended()
                && state
                    .mirrors
                    .get(name)
                    .and_then(|m| m.synced_refs.as_deref())
                    .is_some_and(|kept| kept == print || kept == earlier_fingerprint(mirror, &local));
            // How a mirror contacted is reached, built once for the pass and its retries.
            let git = (!unchanged).then(|| MirrorGit::new(&repo.common_dir, mirror));
            (print, git)
        })
        .collect();
    Ok(Prepared {
        local,
        state,
        targets,
    })
}

/// Each mirror brought up to date in a thread of its own, with what the state says to ask of it;
/// the reports, and the holders to leave for the mirrors' next pushes.
fn transfer_all(
    repo: &Repo,
    mirrors: &[(&str, &Mirror)],
    prepared: &mut Prepared<'_>,
    kind: PassKind,
    progress: Option<&crate::ui::Progress>,
) -> Result<(Vec<Report>, Vec<transfer::ahead::Holder>)> {
    let packs = SharedPacks::default();
    let requests = SharedRequests::default();
    // One stat: a repository without LFS objects starts no git-lfs.
    let lfs = Lfs::of(&repo.common_dir);
    let ssh = SharedSsh::open(
        mirrors
            .iter()
            .zip(&prepared.targets)
            .filter_map(|(&(name, _), (_, git))| Some((name, git.as_ref()?.as_ref().ok()?))),
    );
    let source = Source {
        repo,
        format: repo.object_format()?,
        shallow: repo.is_shallow(),
        ssh: &ssh,
        common_dir: &repo.common_dir,
        local: &prepared.local,
        packs: &packs,
        requests: &requests,
        lfs: lfs.as_ref(),
    };
    let state = &prepared.state;
    let targets = std::mem::take(&mut prepared.targets);
    let reports = std::thread::scope(|scope| {
        let handles: Vec<_> = mirrors
            .iter()
            .zip(targets)
            .map(|(&(name, mirror), (print, git))| {
                let source = &source;
                let seen = state.mirrors.get(name);
                let asks = Asks {
                    atomic: seen.is_none_or(|seen| seen.ask_atomic(SystemTime::now())),
                    // An https mirror with its credential in our hands, or an ssh one (through
                    // a master of ours, which the transfer checks).
                    one_request: match mirror.url.transport() {
                        crate::url::Transport::Http => mirror.token_env.is_some(),
                        crate::url::Transport::Ssh => true,
                        _ => false,
                    } && seen.is_some_and(|seen| seen.try_one_request(SystemTime::now())),
                    // Not in a fleet's scheduled pass, whose next one comes long after.
                    spare_session: matches!(
                        mirror.url.transport(),
                        crate::url::Transport::Ssh | crate::url::Transport::Http
                    ) && kind != PassKind::Scheduled
                        && seen.is_none_or(|seen| !seen.one_request_refused_lately(SystemTime::now())),
                };
                scope.spawn(move || {
                    let Some(git) = git else {
                        let mut report = Report::new(name);
                        report.skipped = true;
                        report.attempt.synced_refs = Some(print);
                        return report;
                    };
                    let retries = if kind == PassKind::Background {
                        mirror.retries()
                    } else {
                        0
                    };
                    let line = progress.map(|progress| progress.mirror(name));
                    let job = Job {
                        name,
                        mirror,
                        print: &print,
                        asks,
                    };
                    let report = crate::ui::with_progress(line.clone(), || {
                        sync_with_retries(source, &job, git, retries)
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
    Ok((reports, requests.take_ahead()))
}

/// The outcome of each mirror contacted into the state file, and the refs each one that took
/// everything now has of ours; returns the names of the mirrors that began failing.
fn record(
    repo: &Repo,
    config: &Config,
    local: &Refs,
    state: &mut State,
    reports: &[Report],
) -> Result<Vec<String>> {
    let mut began_failing = Vec::new();
    let mut took_all = Vec::new();
    for report in reports.iter().filter(|report| !report.skipped) {
        let mirror = &config.mirrors[&report.name];
        let was_failing = state
            .mirrors
            .get(&report.name)
            .is_some_and(|m| m.last_result == Some(crate::state::SyncResult::Failed));
        state.record(&report.name, &mirror.url.redacted(), &report.attempt);
        if report.failed() && !was_failing {
            began_failing.push(report.name.clone());
        }
        if !report.failed() && (!report.attempt.pushed.is_empty() || known_refs(repo, &report.name).is_none())
        {
            took_all.push((report.name.as_str(), mirror));
        }
    }
    // Each file is synced to disk: at once, so that a pass to many mirrors waits for about one.
    std::thread::scope(|scope| {
        let saving: Vec<_> = took_all
            .iter()
            .map(|&(name, mirror)| scope.spawn(move || save_known_refs(repo, name, selected(mirror, local))))
            .collect();
        saving
            .into_iter()
            .try_for_each(|saving| saving.join().expect("saving a mirror's known refs panicked"))
    })?;
    state.save(&repo.state_path())?;
    Ok(began_failing)
}

/// Tells of each mirror that began failing, once: a notice, and the mirror's `on_failure`.
fn tell(repo: &Repo, config: &Config, state: &State, began_failing: &[String], kind: PassKind) {
    for name in began_failing {
        let entry = &state.mirrors[name];
        crate::notify::failure_began(
            repo,
            name,
            &config.mirrors[name],
            &entry.failing_since.map(|at| at.to_string()).unwrap_or_default(),
            entry.last_error.as_deref().unwrap_or_default(),
            kind.unattended(),
        );
    }
}

/// One mirror's part of a pass: which, the fingerprint of what it takes now, and what to ask of
/// its server.
#[derive(Clone, Copy)]
struct Job<'a> {
    name: &'a str,
    mirror: &'a Mirror,
    print: &'a str,
    asks: Asks,
}

/// Why a shallow clone is pushed to no mirror that does not ask for one.
pub(crate) const SHALLOW_REFUSED: &str = "this repository is a shallow clone: a mirror of it would lack \
     the history before the cut and could not be cloned, so nothing was pushed; run `git fetch \
     --unshallow` here, or set `shallow = true` on a mirror meant to hold only this clone's history";

/// What every mirror's thread of a pass reads from: the repository and its refs, and the packs
/// built once for the mirrors that take the same objects.
#[derive(Clone, Copy)]
struct Source<'a> {
    repo: &'a Repo,
    format: ObjectFormat,
    /// A shallow clone: pushed only to mirrors set to take one, and never directly (a mirror
    /// needs git's record of where the history was cut).
    shallow: bool,
    ssh: &'a SharedSsh,
    common_dir: &'a Path,
    local: &'a Refs,
    packs: &'a SharedPacks,
    requests: &'a SharedRequests,
    lfs: Option<&'a Lfs>,
}

/// A local mirror with `create` that is not there yet is made, empty, where its parent directory
/// is: a rule's mirror for a repository made later. A missing parent (an unmounted disk) is left
/// for the transfer to report.
fn create_if_asked(repo: &Repo, mirror: &Mirror) -> Result<()> {
    let Some(path) = mirror.url.local_path().filter(|_| mirror.create) else {
        return Ok(());
    };
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    let must_exist = mirror
        .create_below
        .as_deref()
        .filter(|dir| parent.starts_with(dir))
        .unwrap_or(parent);
    if path.exists() || !must_exist.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", crate::repo::quoted(parent)))?;
    repo.init_bare_mirror(path)
}

/// The git dir whose `lfs/objects` a mirror on this machine keeps its LFS objects in: the one
/// libgit2 opened, else the one git finds there (`Ok(None)`: nothing there, which the transfer
/// reports). `None` for a mirror elsewhere.
fn local_lfs_dir(mirror: &Mirror, opened: Option<&Path>) -> Option<Result<Option<std::path::PathBuf>>> {
    let path = mirror.url.local_path()?;
    Some(match opened {
        Some(dir) => Ok(Some(dir.to_path_buf())),
        None => super::lfs::git_dir_at(path),
    })
}

/// Tries a mirror, and again after a recoverable failure, waiting 1 s, 2 s, 4 s ... up to the
/// mirror's `retry_max_delay`, at most `retries` more times.
fn sync_with_retries(source: &Source<'_>, job: &Job<'_>, git: Result<MirrorGit<'_>>, retries: u32) -> Report {
    let Job { name, mirror, .. } = *job;
    let mut git = match git {
        Ok(git) => git,
        // Set up from the config and the environment, which trying again does not change.
        Err(err) => {
            let mut report = Report::new(name);
            report.attempt.error = Some(mirror.url.redact(&format!("{err:#}")));
            report.attempt.failure = MirrorError::kind_of(&err).cloned();
            return report;
        }
    };
    let mut delay = std::time::Duration::from_secs(1);
    let mut attempt = 0;
    loop {
        let (report, recoverable) = sync_mirror(source, job, &mut git, attempt);
        if !recoverable || attempt == retries {
            return report;
        }
        attempt += 1;
        std::thread::sleep(delay.min(mirror.retry_max_delay()));
        delay = delay.saturating_mul(2);
    }
}

/// Brings one mirror up to date; never fails as a whole, the failure is in the report, with
/// whether trying again may help.
fn sync_mirror(source: &Source<'_>, job: &Job<'_>, git: &mut MirrorGit<'_>, attempt: u32) -> (Report, bool) {
    let Job {
        name,
        mirror,
        print,
        asks,
    } = *job;
    let Source {
        repo,
        format,
        shallow,
        ssh,
        common_dir,
        local,
        packs,
        requests,
        lfs,
    } = *source;
    let mut report = Report::new(name);
    let fail = |mut report: Report, err: &anyhow::Error| {
        report.attempt.error = Some(mirror.url.redact(&format!("{err:#}")));
        report.attempt.failure = Some(MirrorError::kind_of(err).cloned().unwrap_or(Failure::Other));
        let recoverable = !MirrorError::kind_of(err).is_some_and(Failure::is_permanent)
            && !err
                .downcast_ref::<LfsFailure>()
                .is_some_and(LfsFailure::permanent);
        (report, recoverable)
    };
    if shallow && !mirror.shallow {
        return fail(
            report,
            &anyhow::Error::new(MirrorError::new(Failure::ShallowSource, SHALLOW_REFUSED)),
        );
    }
    match ssh.socket_for(name, attempt) {
        Ok(socket) => git.share(socket),
        Err(said) => return fail(report, &git.failure(&said, "connecting")),
    }
    let git = &*git;
    if let Err(err) = create_if_asked(repo, mirror) {
        return fail(report, &err);
    }
    // A mirror on this machine may hold what a killed pass of ours left there; it goes first,
    // even when there is nothing to move, so that nothing of ours stays behind.
    let local_dir = transfer::local_git_dir(mirror);
    if let Some(dir) = &local_dir {
        match ObjectFormat::of(dir) {
            Ok(theirs) if theirs != format => {
                let err = crate::repo::format_mismatch(format, theirs, mirror.url.local_path());
                let err = MirrorError::new(Failure::FormatMismatch, format!("{err:#}"));
                return fail(report, &anyhow::Error::new(err));
            }
            Ok(_) => {}
            Err(err) => return fail(report, &err),
        }
    }
    if local_dir.is_some() {
        for note in leftovers::repair(common_dir, name) {
            eprintln!("git-repo-sync: mirror '{name}': {note}");
        }
    }
    // What this mirror last took from us, to tell our own rewrites from a diverged mirror.
    let known = known_refs_in(common_dir, name);
    // LFS content before the refs that point at it: a failure here leaves the refs unmoved.
    if let Some(lfs) = lfs {
        let carried = match local_lfs_dir(mirror, local_dir.as_deref()) {
            Some(Ok(Some(dir))) => lfs.copy_to(&dir).map(|held| Some(LfsCarried::Held(held))),
            Some(Ok(None)) => Ok(None),
            Some(Err(err)) => Err(err),
            None => {
                let selected: Refs = selected(mirror, local)
                    .map(|(name, oid)| (name.clone(), oid.clone()))
                    .collect();
                lfs.push(git, common_dir, name, &selected, known.as_ref())
                    .map(|given| Some(LfsCarried::ThroughGitLfs(given)))
            }
        };
        match carried {
            Ok(carried) => report.attempt.lfs_objects = carried,
            Err(err) => return fail(report, &err),
        }
    }
    // A plain mirror on this machine is filled directly, from a plan made against its refs
    // (read in process); any other gets one `git push`, which reads the refs itself.
    let direct_dir = if shallow { None } else { direct::eligible(mirror) };
    let (remote, changes) = if direct_dir.is_some() {
        let remote = match transfer::remote_refs(git, mirror) {
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
        Some(dir) => match leftovers::enter(common_dir, name, dir) {
            Ok(inside) => Some(inside),
            Err(err) => return fail(report, &err),
        },
        None => None,
    };
    let asks = Asks {
        atomic: asks.atomic && mirror.force,
        ..asks
    };
    let Transferred { results, learned } = match &direct_dir {
        Some(mirror_dir) => Transferred {
            results: direct::push(common_dir, mirror_dir, &changes, &remote, packs),
            learned: Learned::default(),
        },
        None => git_push::push_patterns(git, mirror, local, known.as_ref(), asks, requests),
    };
    report.attempt.atomic = learned.atomic;
    report.attempt.read_refs =
        direct_dir.is_none() && !matches!(learned.one_request, Some(Answer::Pushed | Answer::Failed));
    report.attempt.one_request_refused = learned.one_request == Some(Answer::Refused);
    // Every git of the transfer has ended: nothing of it is left for the next pass to judge.
    drop(inside);
    let results = match results {
        Ok(results) => results,
        Err(err) => {
            let hint = local_dir
                .as_deref()
                .filter(|_| MirrorError::kind_of(&err) == Some(&Failure::LockHeld))
                .map(leftovers::lock_hint)
                .unwrap_or_default();
            let err = if hint.is_empty() {
                err
            } else {
                anyhow::Error::new(MirrorError::new(Failure::LockHeld, format!("{err:#}{hint}")))
            };
            return fail(report, &err);
        }
    };
    outcome::read_results(
        &mut report.attempt,
        mirror,
        &changes,
        results,
        local,
        known.as_ref(),
    );
    if report.attempt.rejected.is_empty() {
        report.attempt.synced_refs = Some(print.to_owned());
    }
    // A rejection (diverged ref, stale lease) is not mended by pushing the same again now.
    (report, false)
}
