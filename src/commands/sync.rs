//! `sync`: push to the mirrors now, in the foreground, one line per mirror.

use anyhow::Result;

use crate::cli::SyncArgs;
use crate::config::Config;
use crate::push;
use crate::repo::Repo;
use crate::state::{PushAction, PushedRef};
use crate::worker;
use crate::{ExitStatus, Verbosity};

pub(crate) fn run(args: &SyncArgs, verbosity: Verbosity) -> Result<ExitStatus> {
    let repo = Repo::discover()?;
    let config = Config::load(&repo.config_path())?;
    if config.mirrors.is_empty() {
        anyhow::bail!(
            "no mirrors configured in {}; add one with `git-repo-sync mirror add NAME URL`",
            repo.config_path().display()
        );
    }
    config.select(&args.mirrors)?;
    // Waits for a background worker rather than push beside it.
    let reports = worker::foreground(&repo, args.mirrors.is_empty(), || {
        push::run_pass(&repo, &config, &args.mirrors, push::PassKind::Foreground)
    })?;
    let mut failed = false;
    for report in &reports {
        failed |= report.failed();
        // Failures too go to stdout: one report, one line per mirror, in order.
        if report.failed() || verbosity != Verbosity::Quiet {
            println!("{}", report.summary());
        }
        if verbosity == Verbosity::Verbose {
            for pushed in &report.attempt.pushed {
                println!("  {}", describe_pushed(pushed));
            }
        }
    }
    Ok(if failed {
        ExitStatus::MirrorFailed
    } else {
        ExitStatus::Success
    })
}

/// `created refs/heads/x 1a2b3c4d`.
pub(crate) fn describe_pushed(pushed: &PushedRef) -> String {
    let action = match pushed.action {
        PushAction::Created => "created",
        PushAction::Updated => "updated",
        PushAction::Overwritten => "overwrote diverged",
        PushAction::Deleted => "deleted",
    };
    match &pushed.oid {
        Some(oid) => format!("{action} {} {}", pushed.refname, &oid[..oid.len().min(10)]),
        None => format!("{action} {}", pushed.refname),
    }
}
