//! `sync`: push to the mirrors now, in the foreground, one line per mirror.

use std::path::Path;

use anyhow::Result;

use crate::cli::SyncArgs;
use crate::commands::fleet::{self, Line};
use crate::commands::{ExitStatus, Verbosity};
use crate::config::{Config, Layers};
use crate::repo::Repo;
use crate::repo::quoted;
use crate::state::State;
use crate::{engine, git, notify, triggers, ui, worker};

pub(crate) fn run(args: &SyncArgs, verbosity: Verbosity) -> Result<ExitStatus> {
    if args.all {
        // Read before the pass: a bad setting stops it before any mirror is contacted.
        let textfile_dir = match &args.textfile_dir {
            Some(dir) => Some(dir.clone()),
            None => Layers::read()?.settings()?.textfile_dir.map(|set| set.value),
        };
        return run_all(textfile_dir.as_deref(), verbosity);
    }
    let repo = Repo::discover()?;
    super::register_deferred(&repo);
    let config = Config::for_repo(&repo)?;
    if config.mirrors.is_empty() {
        anyhow::bail!(
            "no mirrors configured in {} (nor in the user or system config); add one with \
             `git-repo-sync mirror add NAME URL`",
            quoted(repo.config_path())
        );
    }
    config.select(&args.mirrors)?;
    // Waits for a background worker rather than push beside it.
    let reports = worker::foreground(&repo, args.mirrors.is_empty(), || {
        let progress = ui::Progress::on_terminal(verbosity == Verbosity::Quiet);
        engine::run_pass(
            &repo,
            &config,
            &args.mirrors,
            engine::PassKind::Foreground,
            progress.as_ref(),
        )
    })?;
    let mut failed = false;
    for report in &reports {
        failed |= report.failed();
        // Failures too go to stdout: one report, one line per mirror, in order.
        if report.failed() || verbosity != Verbosity::Quiet {
            let line = report.summary();
            anstream::println!(
                "{}",
                if report.failed() {
                    ui::failure(&line)
                } else {
                    ui::success(&line)
                }
            );
        }
        if verbosity == Verbosity::Verbose {
            for pushed in &report.attempt.pushed {
                anstream::println!("  {pushed}");
            }
        }
    }
    Ok(if failed {
        ExitStatus::MirrorFailed
    } else {
        ExitStatus::Success
    })
}

/// What one registered repository's pass came to.
struct Outcome {
    lines: Vec<Line>,
    status: ExitStatus,
}

impl Outcome {
    fn error(text: String) -> Self {
        Self {
            lines: vec![Line::failed(text)],
            status: ExitStatus::Error,
        }
    }
}

/// `sync --all`: every registered repository, a few at a time, one line per repository and
/// mirror, failures first. A repository whose mirrored refs did not change since its mirrors
/// last took them contacts no mirror. With `textfile_dir` (`--textfile-dir`, else the setting
/// `metrics.textfile_dir`), the metrics of the fleet after the pass are written there.
fn run_all(textfile_dir: Option<&Path>, verbosity: Verbosity) -> Result<ExitStatus> {
    let git_runs_config_hooks = git::runs_config_hooks()?;
    let outcomes =
        fleet::for_each_member(|layers, member| sync_member(layers, member, git_runs_config_hooks))?;
    let mut lines: Vec<Line> = outcomes.iter().flat_map(|o| o.lines.iter().cloned()).collect();
    let mut status = fleet::worst(outcomes.iter().map(|o| o.status));
    if let Some(dir) = textfile_dir
        && let Err(err) = super::metrics::write_textfile(dir, git_runs_config_hooks)
    {
        // The mirrors were synced; only what tells of them is missing.
        lines.push(Line::warning(format!("{err:#}")));
        status = fleet::worst([status, ExitStatus::Error].into_iter());
    }
    fleet::print(&lines, verbosity == Verbosity::Quiet)?;
    Ok(status)
}

fn sync_member(layers: &Layers, member: &fleet::Member, git_runs_config_hooks: bool) -> Outcome {
    let path = &member.path;
    let at = quoted(path);
    let repo = match Repo::open(path) {
        Ok(repo) => repo,
        Err(err) => {
            let gone = if member.registered { "gone" } else { "unreadable" };
            return Outcome::error(format!(
                "{at}: {gone}: {err:#}; {}",
                fleet::unreadable_hint(member)
            ));
        }
    };
    let config = match Config::for_repo_in(layers, &repo) {
        Ok(config) => config,
        Err(err) => return Outcome::error(format!("{at}: {err:#}")),
    };
    if config.mirrors.is_empty() {
        return Outcome {
            lines: vec![Line::ok(format!("{at}: no mirrors configured"))],
            status: ExitStatus::Success,
        };
    }
    let mut outcome = Outcome {
        lines: Vec::new(),
        status: ExitStatus::Success,
    };
    let trigger_problem = match triggers::health(&repo, git_runs_config_hooks) {
        // Found below a root and never installed into: the schedule is its trigger.
        _ if !member.registered => None,
        Ok(health) if health.ok => None,
        Ok(health) => Some(
            health
                .problems
                .iter()
                .map(|p| format!("{} (fix: {})", p.problem, p.fix))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Err(err) => Some(format!("cannot inspect the hooks: {err:#}")),
    };
    if let Some(problem) = &trigger_problem {
        outcome
            .lines
            .push(Line::failed(format!("{at}: triggers: {problem}")));
        outcome.status = ExitStatus::Error;
    }
    let passed = worker::scheduled(&repo, || {
        let reports = engine::run_pass(&repo, &config, &[], engine::PassKind::Scheduled, None)?;
        report_trigger_problem_once(&repo, &config, trigger_problem.as_deref())?;
        Ok(reports)
    });
    match passed {
        Ok(None) => outcome.lines.push(Line::ok(format!(
            "{at}: a sync is running there; it carries this pass"
        ))),
        Ok(Some(reports)) => {
            for report in &reports {
                if report.skipped {
                    outcome.lines.push(Line::ok(format!(
                        "{at}: {}: unchanged since its last sync, not contacted",
                        report.name
                    )));
                } else if report.failed() {
                    outcome
                        .lines
                        .push(Line::failed(format!("{at}: {}", report.summary())));
                    outcome.status = fleet::worst([outcome.status, ExitStatus::MirrorFailed].into_iter());
                } else {
                    outcome
                        .lines
                        .push(Line::ok(format!("{at}: {}", report.summary())));
                }
            }
        }
        Err(err) => {
            outcome.lines.push(Line::failed(format!("{at}: {err:#}")));
            outcome.status = ExitStatus::Error;
        }
    }
    outcome
}

/// A trigger problem the schedule found is told the way a failing mirror is, once, when it
/// begins: a notice for the next git command in a terminal, and each mirror's `on_failure`.
/// The caller holds the sync lock, as every writer of the state does.
fn report_trigger_problem_once(repo: &Repo, config: &Config, problem: Option<&str>) -> Result<()> {
    let state_path = repo.state_path();
    let mut state = State::load(&state_path);
    if state.trigger_problem.as_deref() == problem {
        return Ok(());
    }
    state.trigger_problem = problem.map(str::to_owned);
    state.save(&state_path)?;
    if let Some(problem) = problem {
        let now = crate::state::timestamp(std::time::SystemTime::now());
        let error = format!("git no longer runs our trigger: {problem}");
        for (name, mirror) in &config.mirrors {
            notify::failure_began(repo, name, mirror, &now, &error, true);
        }
    }
    Ok(())
}
