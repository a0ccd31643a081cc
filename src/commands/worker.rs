//! `worker`: the detached background sync a hook starts.

use anyhow::Result;

use crate::cli::WorkerArgs;
use crate::commands::ExitStatus;
use crate::repo::Repo;

pub(crate) fn run(args: &WorkerArgs) -> Result<ExitStatus> {
    let repo = Repo::open(&args.git_dir)?;
    let handed_over = args
        .lock_fd
        .map(|fd| crate::worker::SyncLock::handed_over(&repo, fd))
        .transpose()?;
    crate::worker::run(&repo, handed_over)?;
    Ok(ExitStatus::Success)
}
