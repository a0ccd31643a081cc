//! `verify`: a restore drill. Per mirror: its branches and tags are the ones we last pushed
//! there; on a mirror on this machine, the objects they need are all there and every LFS object
//! they point at is present; with `--full`, a fresh clone of it passes `git fsck`.

mod lfs;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::Serialize;

use crate::cli::VerifyArgs;
use crate::commands::{ExitStatus, Verbosity};
use crate::config::{Config, Mirror};
use crate::engine::plan::{Refs, selected};
use crate::engine::transfer::{self, shared_ssh::SharedSsh};
use crate::engine::{self, MirrorGit};
use crate::failure::{Failure, MirrorError};
use crate::repo::{Repo, quoted};
use crate::{git, ui, worker};

/// How many problems a mirror's line names; `-v` and `--json` give them all.
const SHOWN_PROBLEMS: usize = 3;

/// Above this many distinct tips, `git fsck` checks every ref of the mirror (a superset of
/// ours) instead of being given ours: a command line that long may not start at all.
const MAX_FSCK_TIPS: usize = 10_000;

/// At most this many of git fsck's findings are kept per check.
const MAX_FSCK_PROBLEMS: usize = 50;

/// What the drill found for one mirror.
#[derive(Debug, Serialize)]
struct MirrorReport {
    name: String,
    /// Credentials redacted.
    url: String,
    /// Whether a restore from it gives back what we pushed there.
    ok: bool,
    /// How many refs we last pushed there, each of which is there as pushed unless a problem
    /// says otherwise.
    refs: usize,
    /// Whether `git fsck` checked its objects in place (a mirror on this machine).
    objects_checked: bool,
    /// How many LFS objects were checked, when the repository has any.
    lfs_objects: Option<usize>,
    /// Whether it was cloned afresh and the clone checked (`--full`).
    cloned: bool,
    problems: Vec<String>,
    /// The kind of failure when the mirror's refs could not be read: `{"kind": "auth_refused"}`.
    failure: Option<Failure>,
}

/// One mirror on its way through the drill.
struct Drill<'a> {
    name: &'a str,
    mirror: &'a Mirror,
    git: Result<MirrorGit<'a>>,
    /// The objects its refs must reach, once they were listed; none to check before that.
    tips: Option<Vec<String>>,
    /// Its progress line, where someone watches.
    line: Option<indicatif::ProgressBar>,
    report: MirrorReport,
}

pub(crate) fn run(args: &VerifyArgs, verbosity: Verbosity) -> Result<ExitStatus> {
    let repo = Repo::discover()?;
    let config = Config::for_repo(&repo)?;
    if config.mirrors.is_empty() {
        bail!(
            "no mirrors configured in {} (nor in the user or system config); add one with \
             `git-repo-sync mirror add NAME URL`",
            quoted(repo.config_path())
        );
    }
    let mirrors = config.select(&args.mirrors)?;
    let progress = ui::Progress::on_terminal(verbosity == Verbosity::Quiet);
    let reports = drill(&repo, &mirrors, args.full, progress.as_ref())?;
    if args.json {
        anstream::println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        for report in &reports {
            if report.ok && verbosity == Verbosity::Quiet {
                continue;
            }
            let line = describe(report, verbosity == Verbosity::Verbose);
            anstream::println!(
                "{}",
                if report.ok {
                    ui::success(&line)
                } else {
                    ui::failure(&line)
                }
            );
        }
    }
    Ok(if reports.iter().all(|report| report.ok) {
        ExitStatus::Success
    } else {
        ExitStatus::Error
    })
}

/// `ok backup: 12 refs as pushed, objects whole`, or `FAILED backup: ` and its problems.
fn describe(report: &MirrorReport, all_problems: bool) -> String {
    let name = &report.name;
    if !report.ok {
        let shown = if all_problems {
            report.problems.len()
        } else {
            SHOWN_PROBLEMS
        };
        let mut line = format!(
            "FAILED {name}: {}",
            report
                .problems
                .iter()
                .take(shown)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        );
        if report.problems.len() > shown {
            line.push_str(&format!(
                "; and {} more (-v names them all)",
                report.problems.len() - shown
            ));
        }
        return line;
    }
    let mut line = format!("ok {name}: {} as pushed", counted(report.refs, "ref"));
    if report.objects_checked {
        line.push_str(", objects whole");
    }
    if let Some(count) = report.lfs_objects {
        line.push_str(&format!(", {} present", counted(count, "LFS object")));
    }
    if report.cloned {
        line.push_str(", a fresh clone passes git fsck");
    }
    if !report.objects_checked && !report.cloned {
        line.push_str(" (objects not checked on a mirror elsewhere: --full clones it)");
    }
    line
}

/// `1 ref`, `12 refs`.
fn counted(count: usize, what: &str) -> String {
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} {what}{plural}")
}

/// Runs the drill over `mirrors`, each in its own thread: the refs first, under the sync lock
/// (no pass moves them between what we read here and there), then the objects, without it (a
/// pass only adds objects, and a long `--full` must not hold back the hooks' syncs).
fn drill(
    repo: &Repo,
    mirrors: &[(&str, &Mirror)],
    full: bool,
    progress: Option<&ui::Progress>,
) -> Result<Vec<MirrorReport>> {
    let drills: Vec<Drill<'_>> = mirrors
        .iter()
        .map(|&(name, mirror)| Drill {
            name,
            mirror,
            git: MirrorGit::new(&repo.common_dir, mirror),
            tips: None,
            line: progress.map(|progress| progress.mirror(name)),
            report: MirrorReport {
                name: name.to_owned(),
                url: mirror.url.redacted(),
                ok: false,
                refs: 0,
                objects_checked: false,
                lfs_objects: None,
                cloned: false,
                problems: Vec::new(),
                failure: None,
            },
        })
        .collect();
    // The ssh connections a sync would share and keep, so that a drill right after a sync (or
    // before the next) costs no new login.
    let ssh = SharedSsh::open(
        drills
            .iter()
            .filter_map(|drill| Some((drill.name, drill.git.as_ref().ok()?))),
    );
    let drills = worker::foreground(repo, false, || {
        // Unreadable here (a repository libgit2 cannot open): only what was pushed counts.
        let ours_now = engine::local_refs(repo).unwrap_or_default();
        Ok(in_parallel(drills, |drill| {
            ui::with_progress(drill.line.clone(), || check_refs(repo, &ssh, &ours_now, drill))
        }))
    })?;
    let drills = in_parallel(drills, |drill| {
        ui::with_progress(drill.line.clone(), || check_objects(repo, drill, full))
    });
    drop(ssh);
    Ok(drills
        .into_iter()
        .map(|mut drill| {
            if let Some(line) = &drill.line {
                line.finish_and_clear();
            }
            drill.report.ok = drill.report.problems.is_empty();
            drill.report
        })
        .collect())
}

fn in_parallel<T: Send, R: Send>(items: Vec<T>, work: impl Fn(T) -> R + Sync) -> Vec<R> {
    std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = items
            .into_iter()
            .map(|item| scope.spawn(move || work(item)))
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("a mirror's verify thread panicked"))
            .collect()
    })
}

/// Compares the mirror's refs, listed once as a sync lists them, with what we last pushed there.
fn check_refs<'a>(repo: &Repo, ssh: &SharedSsh, ours_now: &Refs, mut drill: Drill<'a>) -> Drill<'a> {
    let mirror = drill.mirror;
    let report = &mut drill.report;
    let Some(pushed) = engine::known_refs(repo, drill.name) else {
        report
            .problems
            .push("nothing pushed yet; run git-repo-sync sync".to_owned());
        return drill;
    };
    report.refs = pushed.len();
    // The mirror's words for people, its kind for `--json`.
    let failed = |report: &mut MirrorReport, err: &anyhow::Error| {
        report.problems.push(mirror.url.redact(&format!("{err:#}")));
        report.failure = Some(MirrorError::kind_of(err).cloned().unwrap_or(Failure::Other));
    };
    let git = match &mut drill.git {
        Ok(git) => git,
        Err(err) => {
            failed(report, err);
            return drill;
        }
    };
    match ssh.socket_for(drill.name, 0) {
        Ok(socket) => git.share(socket),
        Err(said) => {
            failed(report, &git.failure(&said, "connecting"));
            return drill;
        }
    }
    let theirs = match engine::remote_refs(git, mirror) {
        Ok(refs) => refs,
        Err(err) => {
            failed(report, &err);
            return drill;
        }
    };
    let (found, tips) = compare(mirror, &pushed, &theirs, ours_now);
    report.problems.extend(found);
    drill.tips = Some(tips);
    drill
}

/// Where the mirror's refs (`theirs`) differ from what we last pushed there in full: a ref moved
/// or gone, and, for a mirror that takes our deletions (`prune`), one of its refs we never
/// pushed. A ref at our value now is ours (pushed by a pass that failed on another ref, which
/// records nothing as taken in full). Also the objects the refs must reach: the values found
/// where they are ours, else what we pushed.
fn compare(mirror: &Mirror, pushed: &Refs, theirs: &Refs, ours_now: &Refs) -> (Vec<String>, Vec<String>) {
    let ours_now_is = |refname: &String, found: &String| ours_now.get(refname) == Some(found);
    let mut problems = Vec::new();
    let mut tips = Vec::new();
    for (refname, ours) in pushed {
        match theirs.get(refname) {
            Some(found) if found == ours || ours_now_is(refname, found) => tips.push(found.clone()),
            Some(found) => {
                problems.push(format!(
                    "{refname} is {} on the mirror, we pushed {}",
                    short(found),
                    short(ours)
                ));
                tips.push(ours.clone());
            }
            None => {
                problems.push(format!(
                    "{refname} is missing on the mirror, we pushed {}",
                    short(ours)
                ));
                tips.push(ours.clone());
            }
        }
    }
    if mirror.prune {
        for (refname, found) in selected(mirror, theirs) {
            if !pushed.contains_key(refname) && !ours_now_is(refname, found) {
                problems.push(format!(
                    "{refname} is {} on the mirror, we never pushed it",
                    short(found)
                ));
            }
        }
    }
    tips.sort_unstable();
    tips.dedup();
    (problems, tips)
}

fn short(oid: &str) -> &str {
    oid.get(..7).unwrap_or(oid)
}

/// Checks the objects: in place for a mirror on this machine (git fsck from our refs, the LFS
/// objects they point at), and in a fresh clone with `full`.
fn check_objects<'a>(repo: &Repo, mut drill: Drill<'a>, full: bool) -> Drill<'a> {
    let Some(tips) = &drill.tips else {
        return drill;
    };
    let tips: Vec<&str> = tips.iter().map(String::as_str).collect();
    let report = &mut drill.report;
    if let Some(dir) = local_git_dir(drill.mirror) {
        report.objects_checked = true;
        ui::progress_note("git fsck from our refs");
        let fsck_tips = if tips.len() > MAX_FSCK_TIPS {
            &[][..]
        } else {
            &tips
        };
        let whole = match fsck(&dir, fsck_tips, true) {
            Ok(problems) => {
                let whole = problems.is_empty();
                report.problems.extend(problems);
                whole
            }
            Err(err) => {
                report.problems.push(format!("{err:#}"));
                false
            }
        };
        if lfs::in_use(&repo.common_dir, &dir) {
            ui::progress_note("looking for the LFS objects our refs point at");
            match lfs::pointers(&dir, &tips) {
                Ok(pointers) => {
                    report.lfs_objects = Some(pointers.len());
                    report
                        .problems
                        .extend(lfs::check(&dir, &repo.common_dir, &pointers, full));
                }
                // Objects fsck found missing make the listing fail too; fsck said it better.
                Err(_) if !whole => {}
                Err(err) => report.problems.push(format!("{err:#}")),
            }
        }
    }
    if full && let Ok(git) = &drill.git {
        report.cloned = true;
        match clone_and_fsck(git) {
            Ok(problems) => report
                .problems
                .extend(problems.into_iter().map(|p| format!("in a fresh clone: {p}"))),
            Err(err) => report.problems.push(drill.mirror.url.redact(&format!("{err:#}"))),
        }
    }
    drill
}

/// The git dir of a mirror on this machine: as the engine opens it, else (a repository libgit2
/// cannot open) its `.git` or the path itself, for git to open or to say why it cannot.
fn local_git_dir(mirror: &Mirror) -> Option<PathBuf> {
    transfer::local_git_dir(mirror).or_else(|| {
        let path = mirror.url.local_path()?;
        let dot_git = path.join(".git");
        Some(if dot_git.exists() {
            dot_git
        } else {
            path.to_path_buf()
        })
    })
}

/// What `git fsck` finds wrong in `git_dir` from `tips` (every ref when empty), one problem a
/// line; only the reachable objects' presence with `connectivity_only`.
fn fsck(git_dir: &Path, tips: &[&str], connectivity_only: bool) -> Result<Vec<String>> {
    let mut cmd = git::in_git_dir(git_dir);
    cmd.args(["fsck", "--no-dangling", "--no-progress"]);
    if connectivity_only {
        cmd.arg("--connectivity-only");
    }
    cmd.args(tips);
    let output = cmd
        .output()
        .with_context(|| format!("running git fsck in {}", quoted(git_dir)))?;
    if output.status.success() {
        return Ok(Vec::new());
    }
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let mut problems = fsck_problems(&text);
    if problems.is_empty() {
        problems.push(format!(
            "git fsck in {} failed ({})",
            quoted(git_dir),
            output.status
        ));
    }
    Ok(problems)
}

/// git fsck's findings as problems: `missing blob <oid>` and `error: <oid>: object missing`
/// become `missing object <oid>`; a broken link is left out (the missing object it leads to is
/// named on a line of its own); anything else is kept as git said it.
fn fsck_problems(output: &str) -> Vec<String> {
    let mut problems: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for line in output.lines() {
        let problem = if line.trim().is_empty()
            || line.starts_with(char::is_whitespace)
            || line.starts_with("broken link")
            || line.starts_with("warning")
            || line.starts_with("Checking")
        {
            continue;
        } else if let Some((kind, oid)) = line
            .strip_prefix("missing ")
            .and_then(|rest| rest.split_once(' '))
        {
            format!("missing object {oid} ({kind})")
        } else if let Some(oid) = line
            .strip_prefix("error: ")
            .and_then(|rest| rest.strip_suffix(": object missing"))
        {
            format!("missing object {oid}")
        } else {
            let said = line.strip_prefix("error: ").unwrap_or(line);
            format!("git fsck: {said}")
        };
        if seen.insert(problem.clone()) {
            problems.push(problem);
        }
    }
    // A lost pack is thousands of missing objects: the first ones tell what happened.
    if problems.len() > MAX_FSCK_PROBLEMS {
        let more = problems.len() - MAX_FSCK_PROBLEMS;
        problems.truncate(MAX_FSCK_PROBLEMS);
        problems.push(format!("and {more} more problems git fsck found"));
    }
    problems
}

/// Clones the mirror afresh, as a restore would (every object sent and checked by git, not
/// linked from a local mirror), into a temporary directory, and runs a full `git fsck` there.
fn clone_and_fsck(git: &MirrorGit<'_>) -> Result<Vec<String>> {
    let dir = tempfile::Builder::new()
        .prefix("git-repo-sync-verify-")
        .tempdir()
        .context("making a temporary directory to clone into (TMPDIR)")?;
    let target = dir.path().join("mirror.git");
    ui::progress_note("cloning it afresh");
    let mut cmd = git.command();
    // No template: hooks (ours among them) have no business in a throw-away clone. Progress
    // for the mirror's line, as a push gives it.
    cmd.args([
        "clone",
        "--mirror",
        "--no-local",
        "--progress",
        "--template=",
        "--",
    ])
    .arg(git.url())
    .arg(&target);
    let output = git.run(cmd).context("cloning the mirror afresh")?;
    if !output.status.success() {
        return Err(git.failure(&output, "cloning the mirror afresh failed"));
    }
    ui::progress_note("git fsck of the clone");
    fsck(&target, &[], false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_mirrors_line_names_three_problems_and_how_many_more_there_are() {
        let report = MirrorReport {
            name: "backup".to_owned(),
            url: "/m".to_owned(),
            ok: false,
            refs: 5,
            objects_checked: true,
            lfs_objects: None,
            cloned: false,
            problems: (1..=5).map(|n| format!("problem {n}")).collect(),
            failure: None,
        };
        assert_eq!(
            describe(&report, false),
            "FAILED backup: problem 1; problem 2; problem 3; and 2 more (-v names them all)"
        );
        assert_eq!(
            describe(&report, true),
            "FAILED backup: problem 1; problem 2; problem 3; problem 4; problem 5"
        );
        let healthy = MirrorReport {
            ok: true,
            refs: 1,
            lfs_objects: Some(2),
            problems: Vec::new(),
            ..report
        };
        assert_eq!(
            describe(&healthy, false),
            "ok backup: 1 ref as pushed, objects whole, 2 LFS objects present"
        );
    }

    #[test]
    fn fscks_findings_become_one_problem_each() {
        let output = "broken link from    tree 31a9501f4ca1420775e91a3b08ad6745dff699ff\n              \
                      to    blob ab4a98190cf776b43cb0fe57cef231fb93fd07e6\n\
                      missing blob ab4a98190cf776b43cb0fe57cef231fb93fd07e6\n\n\
                      error: b976d0817512b764ff0fcc6abd2d96a552c09dad: object missing\n\
                      error: sha1 mismatch for ./objects/12/34 (expected 1234)\n\
                      missing blob ab4a98190cf776b43cb0fe57cef231fb93fd07e6\n";
        assert_eq!(
            fsck_problems(output),
            [
                "missing object ab4a98190cf776b43cb0fe57cef231fb93fd07e6 (blob)",
                "missing object b976d0817512b764ff0fcc6abd2d96a552c09dad",
                "git fsck: sha1 mismatch for ./objects/12/34 (expected 1234)",
            ]
        );
        let lost: String = (0..60).map(|n| format!("missing blob {n:040}\n")).collect();
        let problems = fsck_problems(&lost);
        assert_eq!(problems.len(), MAX_FSCK_PROBLEMS + 1);
        assert_eq!(problems[MAX_FSCK_PROBLEMS], "and 10 more problems git fsck found");
    }

    #[test]
    fn a_moved_ref_a_missing_one_and_with_prune_a_stranger_are_named_and_our_own_newer_ones_are_not() {
        let mirror = Mirror::new(crate::url::MirrorUrl::parse("/m").expect("a valid URL"));
        let refs = |pairs: &[(&str, &str)]| -> Refs {
            pairs
                .iter()
                .map(|(name, oid)| ((*name).to_owned(), (*oid).to_owned()))
                .collect()
        };
        let pushed = refs(&[
            ("refs/heads/main", "def5678aaaa"),
            ("refs/heads/gone", "1111111aaaa"),
            ("refs/tags/v1", "2222222aaaa"),
            ("refs/heads/later", "4444444aaaa"),
        ]);
        let theirs = refs(&[
            ("refs/heads/main", "abc1234bbbb"),
            ("refs/heads/extra", "3333333aaaa"),
            ("refs/tags/v1", "2222222aaaa"),
            ("refs/heads/later", "5555555aaaa"),
            ("refs/heads/new", "6666666aaaa"),
        ]);
        // A pass that failed on another ref still moved these two.
        let ours_now = refs(&[
            ("refs/heads/later", "5555555aaaa"),
            ("refs/heads/new", "6666666aaaa"),
        ]);
        let (problems, tips) = compare(&mirror, &pushed, &theirs, &ours_now);
        assert_eq!(tips, ["1111111aaaa", "2222222aaaa", "5555555aaaa", "def5678aaaa"]);
        assert_eq!(
            problems,
            [
                "refs/heads/gone is missing on the mirror, we pushed 1111111",
                "refs/heads/main is abc1234 on the mirror, we pushed def5678",
                "refs/heads/extra is 3333333 on the mirror, we never pushed it",
            ]
        );
        // Without prune, a ref of the mirror's own is none of our business.
        let mut keeps = mirror;
        keeps.prune = false;
        let (problems, _) = compare(&keeps, &pushed, &theirs, &ours_now);
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
