//! `sync`: push to the mirrors now, in the foreground, one line per mirror.

use anyhow::Result;

use crate::cli::SyncArgs;
use crate::config::Config;
use crate::push;
use crate::repo::Repo;
use crate::worker::SyncLock;
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
    // Wait for a background worker rather than push beside it.
    let _lock = SyncLock::acquire(&repo)?;
    let reports = push::run_pass(&repo, &config, &args.mirrors, false)?;
    let mut failed = false;
    for report in &reports {
        failed |= report.failed();
        // Failures too go to stdout: one report, one line per mirror, in order.
        if report.failed() || verbosity != Verbosity::Quiet {
            println!("{}", report.summary());
        }
        if verbosity == Verbosity::Verbose {
            for (what, refs) in [
                ("created", &report.created),
                ("updated", &report.updated),
                ("deleted", &report.deleted),
            ] {
                for name in refs {
                    println!("  {what} {name}");
                }
            }
        }
    }
    Ok(if failed {
        ExitStatus::MirrorFailed
    } else {
        ExitStatus::Success
    })
}
