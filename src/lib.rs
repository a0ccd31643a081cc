//! git-repo-sync: keeps mirrors of git repositories up to date from git hooks.
//!
//! The binary is a thin layer over [`run`]; integration tests and benchmarks reach the engine
//! through the modules below.

pub mod cli;
mod commands;
pub mod config;
pub mod engine;
pub mod fleet;
pub mod git;
pub mod notify;
pub mod process;
pub mod registry;
pub mod repo;
pub mod schedule;
pub mod shell;
pub mod state;
pub mod triggers;
pub mod ui;
pub mod url;
pub mod worker;
mod worktree;

use anyhow::Result;

use crate::cli::{Cli, Command};

/// The process exit codes, as documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything asked for was done.
    Success = 0,
    /// The command failed (bad input, unreadable config, not a repository, ...).
    Error = 1,
    /// `sync` ran, and at least one mirror failed or rejected a ref.
    MirrorFailed = 3,
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status as u8)
    }
}

/// How much the commands print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// A command whose reader went away (`git-repo-sync status | head -1`) ends there, quietly, as
/// `cat` and git do: the default action of SIGPIPE, which Rust's runtime ignores so that every
/// `println!` would panic instead. Not for the hook and the worker, which git or a server may
/// leave with a closed pipe and which must still do their job.
#[allow(unsafe_code)]
fn quiet_on_closed_pipe() {
    // SAFETY: restoring a signal's default disposition touches no memory of ours and is done
    // before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> Result<ExitStatus> {
    if let Some(dir) = &cli.directory {
        std::env::set_current_dir(dir).map_err(|err| {
            anyhow::anyhow!("cannot change to directory {}: {err}", crate::repo::quoted(dir))
        })?;
    }
    let verbosity = if cli.quiet {
        Verbosity::Quiet
    } else if cli.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    if !matches!(cli.command, Command::Hook(_) | Command::Worker(_)) {
        quiet_on_closed_pipe();
    }
    ui::set_color(cli.color);
    match cli.command {
        Command::Install(args) => commands::install::run(&args, verbosity),
        Command::Uninstall(args) => commands::uninstall::run(&args, verbosity),
        Command::Sync(args) => commands::sync::run(&args, verbosity),
        Command::Status(args) => commands::status::run(&args),
        Command::Doctor(args) => commands::doctor::run(&args),
        Command::Verify(args) => commands::verify::run(&args, verbosity),
        Command::Mirror(command) => commands::mirror::run(&command, verbosity),
        Command::Config(command) => commands::config::run(&command),
        Command::Schedule(command) => commands::schedule::run(&command, verbosity),
        Command::Up(args) => commands::copy::run(&args, worktree::Direction::Up, verbosity),
        Command::Down(args) => commands::copy::run(&args, worktree::Direction::Down, verbosity),
        Command::Completions(args) => commands::docs::completions(args.shell),
        Command::Man => commands::docs::man(),
        Command::Hook(args) => Ok(commands::hook::run(&args)),
        Command::Worker(args) => commands::worker::run(&args),
    }
}
