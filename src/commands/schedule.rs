//! `schedule start|stop|status`: every registered repository synced every few minutes, by a
//! systemd user timer or a crontab entry, like `git maintenance start`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::cli::ScheduleCommand;
use crate::commands::{ExitStatus, Verbosity};
use crate::schedule::{self, Scheduler};

/// What a new user is told where nothing is scheduled: what waits, and the command.
pub(crate) const NOT_SCHEDULED: &str = "no schedule runs: a tag made alone, a new branch, a reset \
     or `git am` reach the mirrors only with the next commit; `git-repo-sync schedule start` syncs \
     every registered repository every 5 minutes";

/// Whether no schedule of ours is set up (`schedule status` finds nothing).
pub(crate) fn missing() -> bool {
    schedule::status().is_ok_and(|found| found.is_empty())
}

fn say(lines: &[String], none: &str, verbosity: Verbosity) {
    if verbosity == Verbosity::Quiet {
        return;
    }
    if lines.is_empty() {
        println!("{none}");
    }
    for line in lines {
        println!("{line}");
    }
}

/// `schedule start`: the systemd user timer or crontab entry, every `interval` minutes.
/// With `textfile_dir`, each pass writes the fleet's metrics there.
pub(crate) fn start(
    interval: u32,
    scheduler: Option<Scheduler>,
    textfile_dir: Option<&Path>,
    verbosity: Verbosity,
) -> Result<ExitStatus> {
    if cfg!(target_os = "macos") {
        anyhow::bail!(
            "schedule start does not write launchd agents yet; the README's section \
             \"Nothing escapes: the schedule\" has the agent to load by hand"
        );
    }
    let scheduler = scheduler.unwrap_or_else(Scheduler::detect);
    let binary = std::env::current_exe().context("finding the path of this git-repo-sync binary")?;
    let textfile_dir = textfile_dir.map(absolute_dir).transpose()?;
    // Each pass reads the setting; one it would refuse is refused now, before anything is written.
    let configured = crate::config::Layers::read()?.settings()?.textfile_dir;
    let done = schedule::start(scheduler, &binary, interval, textfile_dir.as_deref())?;
    say(
        &done,
        &format!("already scheduled with {scheduler} every {interval} minutes, nothing to change"),
        verbosity,
    );
    if verbosity != Verbosity::Quiet {
        let count = crate::registry::list().map(|repos| repos.len()).unwrap_or(0);
        println!(
            "every {interval} minutes: git-repo-sync sync --all --quiet over the {count} registered \
             repositories (`git-repo-sync status --all` shows them)"
        );
        let file = super::metrics::Owner::current().textfile();
        if let Some(dir) = &textfile_dir {
            println!(
                "each pass writes their metrics to {}",
                crate::repo::quoted(dir.join(file))
            );
        } else if let Some(set) = configured {
            println!(
                "each pass writes their metrics to {} (metrics.textfile_dir, {})",
                crate::repo::quoted(set.value.join(file)),
                set.origin
            );
        }
    }
    Ok(ExitStatus::Success)
}

/// The textfile directory as the schedule runs it: absolute (a timer starts elsewhere), and there.
fn absolute_dir(dir: &Path) -> Result<PathBuf> {
    let absolute = std::path::absolute(dir)
        .with_context(|| format!("finding the absolute path of {}", crate::repo::quoted(dir)))?;
    if !absolute.is_dir() {
        anyhow::bail!(
            "--textfile-dir {}: not a directory; create it, or give node_exporter's \
             --collector.textfile.directory (on Debian /var/lib/prometheus/node-exporter)",
            crate::repo::quoted(&absolute)
        );
    }
    Ok(absolute)
}

pub(crate) fn run(command: &ScheduleCommand, verbosity: Verbosity) -> Result<ExitStatus> {
    let say = |lines: &[String], none: &str| say(lines, none, verbosity);
    match command {
        ScheduleCommand::Start {
            interval,
            scheduler,
            textfile_dir,
        } => start(*interval, *scheduler, textfile_dir.as_deref(), verbosity),
        ScheduleCommand::Stop => {
            let done = schedule::stop()?;
            say(&done, "nothing was scheduled");
            Ok(ExitStatus::Success)
        }
        ScheduleCommand::Status => {
            let found = schedule::status()?;
            say(
                &found,
                "not scheduled: `git-repo-sync schedule start` syncs every registered repository every 5 minutes",
            );
            Ok(if found.is_empty() {
                ExitStatus::Error
            } else {
                ExitStatus::Success
            })
        }
    }
}
