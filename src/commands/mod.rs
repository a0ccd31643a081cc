//! One module per subcommand. Each parses nothing and decides nothing about git: it calls
//! `repo`, `config`, `hooks`, `push`, `worker` and prints.

pub(crate) mod config;
pub(crate) mod copy;
pub(crate) mod docs;
pub(crate) mod doctor;
pub(crate) mod fleet;
pub(crate) mod hook;
pub(crate) mod install;
pub(crate) mod metrics;
pub(crate) mod mirror;
pub(crate) mod reach;
pub(crate) mod schedule;
pub(crate) mod status;
pub(crate) mod sync;
pub(crate) mod uninstall;
pub(crate) mod verify;
pub(crate) mod worker;

use anyhow::{Context as _, Result, bail};

use crate::cli::{Cli, Command};
use crate::{ui, worktree};

use crate::repo::Repo;
use crate::repo::quoted;
use crate::url::MirrorUrl;

/// Registers a repository whose trigger could not (it ran without HOME), now that a user with a
/// global git config is here. A failure is told and left for the next time; it never stops the
/// command.
pub(crate) fn register_deferred(repo: &Repo) {
    if let Err(err) = crate::triggers::record::register_deferred(repo) {
        eprintln!(
            "git-repo-sync: could not register {} for `sync --all`: {err:#}",
            quoted(repo.display_path())
        );
    }
}

/// Turns a URL typed on the command line into the one stored: a relative local path becomes
/// absolute against the current directory (hooks run elsewhere) and must exist, and the result
/// is parsed.
pub(crate) fn normalize_url(url: &str) -> Result<MirrorUrl> {
    if crate::url::is_relative_path(url) {
        let cwd = std::env::current_dir().context("finding the current directory")?;
        let absolute = cwd.join(url);
        // A new mirror is created only where the user spelled out where: a relative path to
        // nothing is more likely a typo than a wish for a bare repository right here.
        if !absolute.exists() {
            bail!(
                "mirror URL {url:?} is a relative path and {} does not exist; give an absolute \
                 path (a missing one is created as an empty bare mirror) or an existing mirror",
                quoted(absolute)
            );
        }
        return MirrorUrl::try_from(absolute).map_err(|why| anyhow::anyhow!("mirror path {url:?} {why}"));
    }
    MirrorUrl::parse(url).map_err(|why| anyhow::anyhow!("mirror URL {:?} {why}", crate::url::redacted(url)))
}

/// Whether `url` is a local path with nothing there yet, which [`prepare_local_mirror`] creates:
/// there is nothing to reach before that.
pub(crate) fn will_be_created(url: &MirrorUrl) -> bool {
    url.local_path().is_some_and(|path| !path.exists())
}

/// Makes sure a local mirror exists: an empty bare repository is created where nothing is, so
/// the first sync has somewhere to go. Sync itself never creates one (a missing mount point
/// must show as a failure, not fill the directory under it).
pub(crate) fn prepare_local_mirror(repo: &Repo, url: &MirrorUrl, dry_run: bool) -> Result<Option<String>> {
    let Some(path) = url.local_path() else {
        return Ok(None);
    };
    if path.exists() {
        if Repo::open(path).is_err() {
            bail!(
                "mirror path {} exists and is not a git repository; point the mirror at a bare repository \
                 or at a path that does not exist yet",
                quoted(path)
            );
        }
        return Ok(None);
    }
    if !dry_run {
        repo.init_bare_mirror(path)?;
    }
    Ok(Some(format!("create empty bare mirror {}", quoted(path))))
}

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
pub(crate) enum Verbosity {
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
    if !matches!(
        cli.command,
        Command::Hook(_)
            | Command::Worker(_)
            | Command::HoldSession(_)
            | Command::HoldConnection(_)
            | Command::HoldAhead(_)
    ) {
        quiet_on_closed_pipe();
    }
    ui::set_color(cli.color);
    match cli.command {
        Command::Install(args) => install::run(&args, verbosity),
        Command::Uninstall(args) => uninstall::run(&args, verbosity),
        Command::Sync(args) => sync::run(&args, verbosity),
        Command::Status(args) => status::run(&args),
        Command::Metrics(args) => metrics::run(&args),
        Command::Doctor(args) => doctor::run(&args),
        Command::Verify(args) => verify::run(&args, verbosity),
        Command::Mirror(command) => mirror::run(&command, verbosity),
        Command::Config(command) => config::run(&command),
        Command::Schedule(command) => schedule::run(&command, verbosity),
        Command::Up(args) => copy::run(&args, worktree::Direction::Up, verbosity),
        Command::Down(args) => copy::run(&args, worktree::Direction::Down, verbosity),
        Command::Completions(args) => docs::completions(args.shell),
        Command::Man => docs::man(),
        Command::Hook(args) => Ok(hook::run(&args)),
        Command::Worker(args) => worker::run(&args),
        Command::HoldSession(args) => worker::hold_session(&args),
        Command::HoldConnection(args) => worker::hold_connection(&args),
        Command::HoldAhead(args) => worker::hold_ahead(&args),
    }
}
