//! `completions` and `man`: generated from the clap definitions, for packagers.

use anyhow::Result;
use clap::CommandFactory as _;

use crate::cli::Cli;
use crate::commands::ExitStatus;

pub(crate) fn completions(shell: clap_complete::Shell) -> Result<ExitStatus> {
    let mut command = Cli::command();
    clap_complete::generate(
        shell,
        &mut command,
        "git-repo-sync",
        &mut std::io::stdout().lock(),
    );
    Ok(ExitStatus::Success)
}

pub(crate) fn man() -> Result<ExitStatus> {
    clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout().lock())?;
    Ok(ExitStatus::Success)
}
