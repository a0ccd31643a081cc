//! `status`: per mirror, the last attempt, its result, the last success and the last error.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use crate::cli::StatusArgs;
use crate::commands::ExitStatus;
use crate::commands::fleet::Line;
use crate::config::Config;
use crate::failure::Failure;
use crate::repo::Repo;
use crate::repo::quoted;
use crate::state::{PushedRef, Rejection, State, SyncResult, Timestamp};
use crate::triggers::Triggered;
use crate::{engine, git, triggers};

/// What `status` knows of one repository; `metrics` shows the same, in other words.
#[derive(Serialize)]
pub(crate) struct StatusReport {
    pub repository: String,
    /// The repository's path as it is, unquoted (`repository` is quoted for a terminal).
    #[serde(skip)]
    pub path: PathBuf,
    /// Whether git will run our trigger, and if not, what to do.
    pub triggers: triggers::Health,
    /// Why the state file could not be read, if it could not (mirrors then show as never synced).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_error: Option<String>,
    /// What stands where the pending mark belongs, if it is not a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_problem: Option<String>,
    /// When the schedule's `sync --all` last passed over this repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_scheduled_pass: Option<Timestamp>,
    pub mirrors: Vec<MirrorStatus>,
}

/// A mirror's last result, as `status --json` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LastResult {
    Ok,
    Failed,
    Never,
}

#[derive(Serialize)]
pub(crate) struct MirrorStatus {
    pub name: String,
    pub url: String,
    pub last_attempt: Option<Timestamp>,
    pub last_result: LastResult,
    pub last_success: Option<Timestamp>,
    pub last_error: Option<String>,
    /// The kind of the last error, for scripts: `{"kind": "auth_refused"}`.
    pub last_failure: Option<Failure>,
    pub failing_since: Option<Timestamp>,
    pub rejected: Vec<Rejection>,
    /// When the mirror last received refs, and which.
    pub last_push: Option<Timestamp>,
    pub last_pushed: Vec<PushedRef>,
    pub last_pushed_count: usize,
    /// Refs whose value here differs from what the mirror last took in full (`None`: never did).
    pub pending: Option<Vec<String>>,
    /// This repository is a shallow clone and the mirror is set to take it as it is: it holds
    /// only the history this clone has.
    pub shallow: bool,
    /// How many of this repository's LFS objects the mirror holds, as the last successful pass
    /// counted (for a mirror elsewhere: those handed to git-lfs for it). Absent without LFS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lfs_objects: Option<usize>,
    /// Whether the last successful pass had git-lfs carry the LFS objects to a mirror elsewhere
    /// (its LFS server then has those of every ref it took).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lfs_through_git_lfs: bool,
}

pub(crate) fn run(args: &StatusArgs) -> Result<ExitStatus> {
    let git_runs_config_hooks = git::runs_config_hooks()?;
    if args.all {
        return run_all(args, git_runs_config_hooks);
    }
    let repo = Repo::discover()?;
    super::register_deferred(&repo);
    let report = build(&repo, &Config::for_repo(&repo)?, git_runs_config_hooks)?;
    if args.json {
        anstream::println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report, &repo);
    }
    Ok(ExitStatus::Success)
}

/// One repository's report, from its state file, its refs and its triggers.
pub(crate) fn build(repo: &Repo, config: &Config, git_runs_config_hooks: bool) -> Result<StatusReport> {
    let (state, state_error) = match State::read(&repo.state_path()) {
        Ok(state) => (state, None),
        Err(err) => (
            State::default(),
            Some(format!(
                "{err:#}; shown as never synced: the next sync rewrites it (a directory there is \
                 yours to move away)"
            )),
        ),
    };
    let shallow_source = repo.is_shallow();
    let mirrors = config
        .mirrors
        .iter()
        .map(|(name, mirror)| {
            let seen = state.mirrors.get(name).cloned().unwrap_or_default();
            Ok(MirrorStatus {
                shallow: shallow_source && mirror.shallow,
                pending: engine::pending(repo, name, mirror)?,
                name: name.clone(),
                url: mirror.url.redacted(),
                last_attempt: seen.last_attempt,
                last_result: match seen.last_result {
                    Some(SyncResult::Ok) => LastResult::Ok,
                    Some(SyncResult::Failed) => LastResult::Failed,
                    None => LastResult::Never,
                },
                last_success: seen.last_success,
                last_error: seen.last_error,
                last_failure: seen.last_failure,
                failing_since: seen.failing_since,
                rejected: seen.rejected,
                last_push: seen.last_push,
                last_pushed: seen.last_pushed,
                last_pushed_count: seen.last_pushed_count,
                lfs_objects: seen.lfs_objects,
                lfs_through_git_lfs: seen.lfs_through_git_lfs,
            })
        })
        .collect::<Result<_>>()?;
    Ok(StatusReport {
        repository: quoted(repo.display_path()).to_string(),
        path: repo.display_path().to_path_buf(),
        last_scheduled_pass: state.last_scheduled_pass,
        triggers: triggers::health(repo, git_runs_config_hooks)?,
        state_error,
        pending_problem: crate::worker::pending_problem(repo),
        mirrors,
    })
}

/// One registered repository in `status --all --json`: its report, or why there is none.
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum Registered {
    Report(StatusReport),
    Unreadable {
        repository: String,
        #[serde(skip)]
        path: PathBuf,
        error: String,
    },
}

/// The report of each repository of the fleet, in the fleet's order.
pub(crate) fn build_all(git_runs_config_hooks: bool) -> Result<Vec<Registered>> {
    crate::commands::fleet::for_each_member(|layers, member| {
        let path = &member.path;
        let built = Repo::open(path).and_then(|repo| {
            let mut report = build(&repo, &Config::for_repo_in(layers, &repo)?, git_runs_config_hooks)?;
            if !member.registered && !report.triggers.ok {
                // Found below a root and never installed into: the schedule is its trigger.
                report.triggers = triggers::Health::schedule_only();
            }
            Ok(report)
        });
        match built {
            Ok(report) => Registered::Report(report),
            Err(err) => Registered::Unreadable {
                repository: quoted(path).to_string(),
                path: path.clone(),
                error: format!("{err:#}; {}", crate::commands::fleet::unreadable_hint(member)),
            },
        }
    })
}

/// `status --all`: one line per repository and mirror, failures first.
fn run_all(args: &StatusArgs, git_runs_config_hooks: bool) -> Result<ExitStatus> {
    let entries = build_all(git_runs_config_hooks)?;
    let mut lines = Vec::new();
    let mut statuses = Vec::new();
    for entry in &entries {
        match entry {
            Registered::Unreadable {
                repository, error, ..
            } => {
                lines.push(Line::failed(format!("{repository}: gone or unreadable: {error}")));
                statuses.push(ExitStatus::Error);
            }
            Registered::Report(report) => {
                let at = &report.repository;
                if report.triggers.mechanism == Triggered::Schedule {
                    lines.push(Line::ok(format!(
                        "{at}: below a configured root, synced by the schedule (no triggers)"
                    )));
                } else if report.triggers.ok {
                    lines.push(Line::ok(format!("{at}: triggers ok")));
                } else {
                    statuses.push(ExitStatus::Error);
                    for problem in &report.triggers.problems {
                        lines.push(Line::failed(format!(
                            "{at}: triggers: {} (fix: {})",
                            problem.problem, problem.fix
                        )));
                    }
                }
                for problem in report.state_error.iter().chain(&report.pending_problem) {
                    statuses.push(ExitStatus::Error);
                    lines.push(Line::failed(format!("{at}: {problem}")));
                }
                if report.mirrors.is_empty() {
                    lines.push(Line::ok(format!("{at}: no mirrors configured")));
                }
                for mirror in &report.mirrors {
                    let text = format!("{at}: {}  {}  {}", mirror.name, mirror.url, describe(mirror));
                    if mirror.last_result == LastResult::Failed {
                        statuses.push(ExitStatus::MirrorFailed);
                        lines.push(Line::failed(text));
                    } else {
                        lines.push(Line::ok(text));
                    }
                }
            }
        }
    }
    if args.json {
        anstream::println!("{}", serde_json::to_string_pretty(&entries)?);
    } else {
        crate::commands::fleet::print(&lines, false)?;
    }
    Ok(crate::commands::fleet::worst(statuses.into_iter()))
}

/// A mirror's state in a few words: `ok, last checked ...`, `FAILING since ...: why`, or
/// `never synced yet`.
fn describe(mirror: &MirrorStatus) -> String {
    match mirror.last_result {
        LastResult::Ok => format!("ok, last checked {}", when(mirror.last_success)),
        LastResult::Failed => format!(
            "FAILING since {}, last success {}: {}",
            when(mirror.failing_since),
            when(mirror.last_success),
            mirror.last_error.as_deref().unwrap_or("unknown error")
        ),
        LastResult::Never => "never synced yet".to_owned(),
    }
}

fn print_table(report: &StatusReport, repo: &Repo) {
    print_triggers(&report.triggers);
    for problem in report.state_error.iter().chain(&report.pending_problem) {
        anstream::println!("{}", crate::ui::failure(&format!("PROBLEM: {problem}")));
    }
    if report.mirrors.is_empty() {
        anstream::println!(
            "{}: no mirrors configured (`git-repo-sync mirror add NAME URL`)",
            report.repository
        );
        return;
    }
    let width = report.mirrors.iter().map(|m| m.name.len()).max().unwrap_or(0);
    for mirror in &report.mirrors {
        let detail = describe(mirror);
        let detail = match mirror.last_result {
            LastResult::Failed => crate::ui::failure(&detail),
            LastResult::Ok => crate::ui::success(&detail),
            LastResult::Never => detail,
        };
        anstream::println!("{:width$}  {}  {detail}", mirror.name, mirror.url);
        if mirror.shallow {
            anstream::println!(
                "{:width$}  shallow: holds only the history of this shallow clone (its `shallow` setting)",
                ""
            );
        }
        if let Some(pending) = mirror.pending.as_ref().filter(|p| !p.is_empty()) {
            let shown: Vec<&str> = pending.iter().take(5).map(String::as_str).collect();
            let more = if pending.len() > shown.len() { ", ..." } else { "" };
            anstream::println!(
                "{:width$}  pending: {} ref(s) not yet on the mirror: {}{more}",
                "",
                pending.len(),
                shown.join(", ")
            );
        }
        if let (Some(count), true) = (mirror.lfs_objects, mirror.lfs_through_git_lfs) {
            anstream::println!(
                "{:width$}  LFS: holds {count} of this repository's objects (on its LFS server, put there by git-lfs)",
                ""
            );
        } else if let Some(count) = mirror.lfs_objects {
            anstream::println!("{:width$}  LFS: holds {count} of this repository's objects", "");
        } else if mirror.lfs_through_git_lfs {
            anstream::println!(
                "{:width$}  LFS: git-lfs put the objects of every ref it took on its LFS server",
                ""
            );
        }
        if let Some(last_push) = &mirror.last_push {
            anstream::println!(
                "{:width$}  last pushed {} ref(s) {}:",
                "",
                mirror.last_pushed_count,
                when(Some(*last_push))
            );
            for pushed in &mirror.last_pushed {
                anstream::println!("{:width$}    {pushed}", "");
            }
            if mirror.last_pushed_count > mirror.last_pushed.len() {
                anstream::println!("{:width$}    ...", "");
            }
        }
    }
    anstream::println!("log: {}", quoted(repo.log_path()));
}

fn print_triggers(health: &triggers::Health) {
    let fired = match (&health.last_fired_by, &health.last_fired) {
        (Some(hook), Some(at)) => match Timestamp::parse(at) {
            Some(at) => format!("last fired by {hook} {}", when(Some(at))),
            None => format!("last fired by {hook} {at}"),
        },
        _ => "not fired yet".to_owned(),
    };
    if health.ok {
        let how = if health.mechanism == Triggered::Config {
            "config-based hooks"
        } else {
            "hook files"
        };
        anstream::println!("triggers: {} ({how}), {fired}", crate::ui::success("ok"));
        return;
    }
    anstream::println!(
        "triggers: {} ({fired}):",
        crate::ui::failure("NOT RUN BY GIT, mirrors are not updated by themselves")
    );
    for problem in &health.problems {
        anstream::println!("  {}: {}", problem.hook, problem.problem);
        anstream::println!("    fix: {}", problem.fix);
    }
}

/// `2026-11-25T18:00:00Z (5m ago)`, or `never`.
fn when(timestamp: Option<Timestamp>) -> String {
    let Some(timestamp) = timestamp else {
        return "never".to_owned();
    };
    match timestamp.elapsed() {
        Some(age) => format!("{timestamp} ({} ago)", crate::notify::short(age)),
        None => timestamp.to_string(),
    }
}
