//! `worker`: the detached background sync a hook starts.

use anyhow::Result;

use crate::ExitStatus;
use crate::cli::WorkerArgs;
use crate::repo::Repo;

pub(crate) fn run(args: &WorkerArgs) -> Result<ExitStatus> {
    let repo = Repo::open(&args.git_dir)?;
    crate::worker::run(&repo)?;
    Ok(ExitStatus::Success)
}
