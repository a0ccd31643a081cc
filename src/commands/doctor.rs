//! `doctor`: every check there is on what keeps a repository's mirrors current, one line each,
//! with the command that fixes what is wrong.

use std::time::{Duration, SystemTime};

use anyhow::Result;
use serde::Serialize;

use super::reach::Reach;
use crate::cli::DoctorArgs;
use crate::commands::ExitStatus;
use crate::config::Config;
use crate::repo::quoted;
use crate::repo::{ObjectFormat, Repo};
use crate::state::{State, SyncResult};
use crate::triggers::Triggered;
use crate::{git, triggers, worker};

/// A pending mark younger than this may just be a trigger whose worker is starting.
const PENDING_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Serialize)]
struct Check {
    check: &'static str,
    ok: bool,
    /// Worth knowing, but nothing is broken: shown, and the exit status stays 0.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    warning: bool,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

impl Check {
    fn ok(check: &'static str, detail: impl Into<String>) -> Self {
        Self {
            check,
            ok: true,
            warning: false,
            detail: detail.into(),
            fix: None,
        }
    }

    fn warning(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            check,
            ok: true,
            warning: true,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    fn problem(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            check,
            ok: false,
            warning: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

#[derive(Debug, Serialize)]
struct RepoReport {
    repository: String,
    ok: bool,
    checks: Vec<Check>,
}

pub(crate) fn run(args: &DoctorArgs) -> Result<ExitStatus> {
    let repos = Repo::open_all(&args.repos)?;
    let git_runs_config_hooks = git::runs_config_hooks()?;
    let reports: Vec<RepoReport> = repos
        .iter()
        .map(|repo| {
            let checks = check(repo, git_runs_config_hooks);
            RepoReport {
                repository: quoted(repo.display_path()).to_string(),
                ok: checks.iter().all(|c| c.ok),
                checks,
            }
        })
        .collect();
    if args.json {
        anstream::println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        for report in &reports {
            anstream::println!("{}:", report.repository);
            for check in &report.checks {
                let mark = if check.warning {
                    "warning".to_owned()
                } else if check.ok {
                    crate::ui::success("ok     ")
                } else {
                    crate::ui::failure("PROBLEM")
                };
                anstream::println!("  {mark} {}: {}", check.check, check.detail);
                if let Some(fix) = &check.fix {
                    anstream::println!("          fix: {fix}");
                }
            }
        }
    }
    Ok(if reports.iter().all(|r| r.ok) {
        ExitStatus::Success
    } else {
        ExitStatus::Error
    })
}

fn check(repo: &Repo, git_runs_config_hooks: bool) -> Vec<Check> {
    let mut checks = Vec::new();
    match repo.owner_mismatch() {
        Ok(None) => checks.push(Check::ok("owner", "the repository is yours")),
        Ok(Some(owner)) => checks.push(Check::problem(
            "owner",
            format!(
                "the repository belongs to {owner}: its hooks run as {owner}, and what you write \
                 here they may not be able to read"
            ),
            format!(
                "run git-repo-sync as the owner: sudo -u {owner} git-repo-sync doctor {}",
                crate::shell::quote_path(repo.display_path())
            ),
        )),
        Err(err) => checks.push(Check::problem(
            "owner",
            format!("{err:#}"),
            "check the permissions of the git directory",
        )),
    }
    let config_path = repo.config_path();
    let config = match Config::for_repo(repo) {
        Ok(config) => {
            checks.push(Check::ok("config", format!("{} parses", quoted(config_path))));
            Some(config)
        }
        Err(err) => {
            checks.push(Check::problem(
                "config",
                one_line(&format!("{err:#}")),
                format!("correct {} as the error says", quoted(config_path)),
            ));
            None
        }
    };
    if let Some(config) = &config
        && config.mirrors.is_empty()
    {
        checks.push(Check::problem(
            "mirrors",
            "no mirrors configured: nothing is mirrored",
            "git-repo-sync mirror add NAME URL",
        ));
    }
    match triggers::health(repo, git_runs_config_hooks) {
        Ok(health) if health.ok => {
            let how = match health.mechanism {
                Triggered::Config => "config-based hooks",
                _ => "hook files",
            };
            let fired = match (&health.last_fired_by, &health.last_fired) {
                (Some(hook), Some(at)) => format!("; last fired by {hook} at {at}"),
                _ => "; not fired yet".to_owned(),
            };
            checks.push(Check::ok("triggers", format!("git runs ours ({how}){fired}")));
            if !health.older_git_fires
                && let Some((older, (major, minor))) = git::older_gits_on_path().first()
            {
                checks.push(Check::warning(
                    "older git",
                    format!(
                        "{} ({major}.{minor}) is on PATH too and runs no config-based hook: a commit \
                         made with it here reaches the mirrors only with the next trigger or the \
                         schedule's pass (hook files for it cost a second shell per commit of a \
                         rebase with a newer git)",
                        quoted(older)
                    ),
                    format!(
                        "git-repo-sync install --hook-files {}",
                        crate::shell::quote_path(repo.display_path())
                    ),
                ));
            }
        }
        Ok(health) => {
            for problem in health.problems {
                checks.push(Check::problem("triggers", problem.problem, problem.fix));
            }
        }
        Err(err) => checks.push(Check::problem(
            "triggers",
            format!("cannot inspect the hooks: {err:#}"),
            "check that git works in this repository",
        )),
    }
    let state_path = repo.state_path();
    let state = match State::read(&state_path) {
        Ok(state) => {
            checks.push(Check::ok("state", format!("{} readable", quoted(state_path))));
            Some(state)
        }
        Err(err) => {
            let fix = if state_path.is_dir() {
                format!(
                    "move the directory {} away (it is never deleted for you), then git-repo-sync sync",
                    quoted(state_path)
                )
            } else {
                "git-repo-sync sync (it rewrites the state file)".to_owned()
            };
            checks.push(Check::problem("state", one_line(&format!("{err:#}")), fix));
            None
        }
    };
    checks.push(pending_check(repo));
    if super::schedule::missing() {
        checks.push(Check::warning(
            "schedule",
            "no schedule runs: a tag made alone, a new branch, a reset or `git am` reach the \
             mirrors only with the next commit",
            "git-repo-sync schedule start",
        ));
    }
    if let Some(config) = &config {
        if repo.is_shallow() && config.mirrors.values().any(|mirror| !mirror.shallow) {
            checks.push(Check::problem(
                "history",
                crate::engine::SHALLOW_REFUSED,
                "git fetch --unshallow",
            ));
        }
        for (name, mirror) in &config.mirrors {
            checks.push(reach_check(repo, name, mirror));
            if let Some(problem) = format_problem(repo, name, mirror) {
                checks.push(problem);
            }
            let last = state.as_ref().and_then(|state| state.mirrors.get(name));
            if let Some(seen) = last.filter(|seen| seen.last_result == Some(SyncResult::Failed)) {
                checks.push(Check::problem(
                    "last sync",
                    format!(
                        "{name}: failing since {}: {}",
                        seen.failing_since
                            .map_or_else(|| "?".to_owned(), |at| at.to_string()),
                        seen.last_error.as_deref().unwrap_or("unknown error")
                    ),
                    "mend what the error names, then git-repo-sync sync",
                ));
            } else if let Some(seen) = last {
                checks.push(Check::ok(
                    "last sync",
                    format!(
                        "{name}: ok at {}",
                        seen.last_success
                            .map_or_else(|| "?".to_owned(), |at| at.to_string())
                    ),
                ));
            }
        }
        if !config.mirrors.is_empty() {
            // Reading every object is a drill of its own, not a health check.
            checks.push(Check::ok(
                "restore",
                "not drilled here: run `git-repo-sync verify` to check that each mirror can be \
                 restored",
            ));
        }
    }
    checks
}

/// A mirror on this machine whose objects are named in another format than ours, which git
/// cannot push to (a remote one shows through its last sync, as only a push tells).
fn format_problem(repo: &Repo, name: &str, mirror: &crate::config::Mirror) -> Option<Check> {
    let dir = crate::engine::local_git_dir(mirror)?;
    let (ours, theirs) = (repo.object_format().ok()?, ObjectFormat::of(&dir).ok()?);
    (ours != theirs).then(|| {
        let err = crate::repo::format_mismatch(ours, theirs, mirror.url.local_path());
        let text = format!("{err:#}");
        let (problem, fix) = text.split_once(": ").unwrap_or((&text, "create the mirror anew"));
        Check::problem("object format", format!("{name}: {problem}"), fix)
    })
}

fn pending_check(repo: &Repo) -> Check {
    if let Some(problem) = worker::pending_problem(repo) {
        return Check::problem("worker", problem, "move it away; it is never deleted for you");
    }
    let Some(since) = worker::pending_since(repo) else {
        return Check::ok("worker", "no sync waiting");
    };
    let age = SystemTime::now().duration_since(since).unwrap_or_default();
    match worker::is_running(repo) {
        Ok(true) => Check::ok("worker", "a sync is running"),
        Ok(false) if age < PENDING_GRACE => Check::ok("worker", "a sync is starting"),
        Ok(false) => Check::problem(
            "worker",
            format!(
                "a sync was asked for {} ago and no worker is running it",
                humantime::format_duration(Duration::from_secs(age.as_secs()))
            ),
            "git-repo-sync sync",
        ),
        Err(err) => Check::problem(
            "worker",
            format!("{err:#}"),
            "make the git directory writable for the user the hooks run as",
        ),
    }
}

fn reach_check(repo: &Repo, name: &str, mirror: &crate::config::Mirror) -> Check {
    let url = mirror.url.redacted();
    match super::reach::check(repo, mirror) {
        reach @ Reach::Refs(_) => Check::ok("mirror", format!("{name} ({url}) {}", reach.describe())),
        Reach::AuthRefused(reason) => Check::problem(
            "mirror",
            format!("{name} ({url}): {reason}"),
            Reach::auth_fix(&mirror.url),
        ),
        Reach::Unreachable(reason) => Check::problem(
            "mirror",
            format!("{name} ({url}): {reason}"),
            "mend what the error names; `git-repo-sync sync` then shows whether it works",
        ),
    }
}

/// A multi-line message (TOML's, with the offending line drawn under it) as one line: its first
/// line, which names the file, line and column, and its last, which says what is wrong.
fn one_line(message: &str) -> String {
    let lines: Vec<&str> = message.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    match lines.as_slice() {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [first, .., last] => format!("{first}: {last}"),
    }
}
