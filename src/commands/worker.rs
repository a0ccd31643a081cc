//! `worker`: the detached background sync a hook starts; `hold-session` and `hold-connection`:
//! the ssh session or http(s) connection a pass leaves open for a mirror's next push, and
//! `hold-ahead`, which starts several of them for a pass.

use anyhow::Result;

use crate::cli::{HoldAheadArgs, HoldConnectionArgs, HoldSessionArgs, WorkerArgs};
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

/// `hold-session`: an ssh session opened ahead for a mirror's next push, in the background.
pub(crate) fn hold_session(args: &HoldSessionArgs) -> Result<ExitStatus> {
    let holder = &args.holder;
    crate::engine::transfer::ahead::ssh::hold(
        &holder.socket,
        &holder.lock,
        std::time::Duration::from_secs(holder.idle),
        &args.script,
    )?;
    Ok(ExitStatus::Success)
}

/// `hold-connection`: an http(s) connection opened ahead for a mirror's next push, in the
/// background.
pub(crate) fn hold_connection(args: &HoldConnectionArgs) -> Result<ExitStatus> {
    let holder = &args.holder;
    crate::engine::transfer::ahead::https::hold(
        &holder.socket,
        &holder.lock,
        std::time::Duration::from_secs(holder.idle),
        std::time::Duration::from_secs(args.timeout),
        &args.address,
        args.ca_file.as_deref(),
    )?;
    Ok(ExitStatus::Success)
}

/// `hold-ahead`: starts the holders a pass leaves, each in the background.
pub(crate) fn hold_ahead(args: &HoldAheadArgs) -> Result<ExitStatus> {
    crate::engine::transfer::ahead::start_each(&args.holders)?;
    Ok(ExitStatus::Success)
}
