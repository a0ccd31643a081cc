//! The command line, as clap derive types. Doc comments are the help text.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{FIELDS, Field, Flag, Kind};

/// Keep mirrors of git repositories up to date by themselves.
///
/// `install` writes git hooks that push every branch and tag to the configured mirrors in the
/// background after each commit, merge, rebase or push; `status` tells how each mirror is doing.
#[derive(Debug, Parser)]
#[command(name = "git-repo-sync", version, propagate_version = true)]
#[command(after_help = "Exit status: 0 success, 1 error, 2 usage error, 3 a mirror failed to sync.")]
pub struct Cli {
    /// Run as if started in <PATH> (like `git -C`).
    #[arg(short = 'C', global = true, value_name = "PATH")]
    pub directory: Option<PathBuf>,

    /// Print more detail (per-ref results).
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub verbose: bool,

    /// Print only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Colour failures red and successes green: on a terminal (`auto`, unless NO_COLOR is set),
    /// `always` or `never`.
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub color: crate::ui::ColorWhen,

    #[command(subcommand)]
    pub command: Command,
}

/// The command line with the earlier git-repo-sync's flags moved after its verb: it took
/// `--local-dir DIR`, `--dry` and `--verbose` before `up`/`down` (`git repo-sync -d up host:dir`),
/// where ours are the verb's own. Any other command line is left as it is.
pub fn earlier_tools_order(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let args: Vec<OsString> = args.into_iter().collect();
    let (mut front, mut moved) = (Vec::new(), Vec::new());
    let mut i = 1;
    while i < args.len() {
        let arg = args[i].to_string_lossy();
        let takes_value = matches!(arg.as_ref(), "-C" | "--color" | "-l" | "--local-dir");
        let legacy = matches!(
            arg.as_ref(),
            "-l" | "--local-dir" | "-d" | "--dry" | "--dry-run" | "-n"
        ) || arg.starts_with("--local-dir=");
        let span = if takes_value { 2 } else { 1 };
        let words = &args[i..(i + span).min(args.len())];
        if !arg.starts_with('-') {
            if arg != "up" && arg != "down" {
                return args;
            }
            let mut reordered = vec![args[0].clone()];
            reordered.extend(front);
            reordered.push(args[i].clone());
            reordered.extend(moved);
            reordered.extend_from_slice(&args[i + 1..]);
            return reordered;
        }
        if legacy {
            moved.extend_from_slice(words);
        } else {
            front.extend_from_slice(words);
        }
        i += span;
    }
    args
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add mirrors and write the hooks that keep them up to date.
    #[command(
        after_help = "Examples:\n  git-repo-sync install --mirror backup=/mnt/nas/project.git\n  \
                            git-repo-sync install /srv/git/*.git --mirror github=git@github.com:me/x.git\n  \
                            git-repo-sync install --recursive /srv/git --mirror 'nas=/mnt/nas/{{path}}.git'"
    )]
    Install(InstallArgs),
    /// Remove the hooks and put back the hooks that were there before.
    #[command(after_help = "Examples:\n  git-repo-sync uninstall\n  \
                            git-repo-sync uninstall /srv/git/*.git --purge --dry-run")]
    Uninstall(UninstallArgs),
    /// Push to the mirrors now, in the foreground, one line per mirror.
    #[command(
        after_help = "Exit status: 0 every mirror is up to date, 3 a mirror failed, 1 \
                            anything else needs you.\n\nExamples:\n  git-repo-sync sync\n  \
                            git-repo-sync sync --mirror backup -v\n  git-repo-sync sync --all --quiet\n  \
                            git-repo-sync sync --all --quiet --textfile-dir /var/lib/prometheus/node-exporter"
    )]
    Sync(SyncArgs),
    /// Show whether git runs our triggers, and per mirror the last push, its result and error.
    #[command(
        after_help = "Examples:\n  git-repo-sync status\n  git-repo-sync status --json\n  \
                            git-repo-sync status --all"
    )]
    Status(StatusArgs),
    /// Print what `status` shows as Prometheus metrics (node_exporter's textfile format).
    #[command(
        after_help = "One series per repository and mirror: last attempt and last success (Unix \
                            times), failing (0/1) and since when, refs pending, LFS objects held, \
                            triggers healthy (0/1), the last scheduled pass. URLs appear only \
                            with their credentials redacted; each series is labelled with the \
                            `user` whose passes it tells of. `schedule start --textfile-dir DIR` \
                            (or `textfile_dir` in the [metrics] table of the user or system \
                            config) has each scheduled pass write them to DIR/git-repo-sync.prom \
                            as root, DIR/git-repo-sync-USER.prom as any other user.\n\n\
                            Examples:\n  git-repo-sync metrics\n  git-repo-sync metrics --all\n  \
                            git-repo-sync schedule start --textfile-dir /var/lib/prometheus/node-exporter"
    )]
    Metrics(MetricsArgs),
    /// Check everything that keeps the mirrors current, one line each, with its fix.
    #[command(
        after_help = "Checks: who owns the repository, the config, the mirrors configured, \
                            that git will run our triggers (and not another tool's hook in their \
                            place), the binary they run, each mirror reachable and accepting our \
                            credentials, the state files, a sync asked for that no worker runs, \
                            and each mirror's last result.\n\nExit status: 0 all is well, 1 \
                            something needs you.\n\nExamples:\n  git-repo-sync doctor\n  \
                            git-repo-sync doctor /srv/git/*.git --json"
    )]
    Doctor(DoctorArgs),
    /// A restore drill: check that each mirror holds what we last pushed there, whole.
    #[command(
        after_help = "Checks, per mirror: its branches and tags are the ones last pushed there \
                            (one ref listing, with the credentials a sync uses); on a mirror on \
                            this machine, `git fsck --connectivity-only` over those refs' objects \
                            and every LFS object they point at present, of the size its pointer \
                            says. --full also clones each mirror into a temporary directory \
                            (TMPDIR) and runs `git fsck` there, and hashes each LFS object. The \
                            schedule never runs it: a drill reads every object.\n\nExit status: \
                            0 every mirror can be restored, 1 one cannot (or anything else \
                            needs you).\n\nExamples:\n  git-repo-sync verify\n  \
                            git-repo-sync verify --mirror backup --full\n  \
                            git-repo-sync verify --json"
    )]
    Verify(VerifyArgs),
    /// Add, remove or list mirrors.
    #[command(
        subcommand,
        after_help = "Examples:\n  git-repo-sync mirror add github git@github.com:me/project.git\n  \
                      git-repo-sync mirror list"
    )]
    Mirror(MirrorCommand),
    /// Show the configuration a repository's mirrors come from (system, user, repository).
    #[command(
        subcommand,
        after_help = "Examples:\n  git-repo-sync config show\n  git-repo-sync config show /srv/git/app.git"
    )]
    Config(ConfigCommand),
    /// Sync every registered repository every few minutes (a systemd user timer, or cron).
    #[command(
        subcommand,
        after_help = "Examples:\n  git-repo-sync schedule start\n  git-repo-sync schedule status"
    )]
    Schedule(ScheduleCommand),
    /// Copy this work tree to a directory on a host over ssh (or on this machine), by content.
    #[command(
        after_help = "Copies the files git sees (tracked, and untracked ones no .gitignore, \
                      info/exclude or global excludes ignore), byte for byte, with the exec bit, \
                      symlinks and deletions; the target's own ignored files are never touched. \
                      A file changed on the target since the last up or down stops the run \
                      before anything is written (--force overwrites it). The target needs only \
                      sshd, sh and git; its state is kept in DIR/.git-repo-sync.\n\n\
                      Exit status: 0 copied, 1 anything else (the reason is printed).\n\n\
                      Examples:\n  git-repo-sync up gpu-box:src/project\n  \
                      git-repo-sync up --save ssh://me@build.example:2222/home/me/project\n  \
                      git-repo-sync up          # the saved target\n  \
                      git-repo-sync up --watch  # and again on every change\n  \
                      git-repo-sync up /mnt/scratch/project --dry-run"
    )]
    Up(CopyArgs),
    /// Copy a directory on a host (or on this machine) back into this work tree, by content.
    #[command(
        after_help = "The mirror image of `up`: what changed there since the last up or down \
                      comes here; a file changed here since then stops the run before anything \
                      is written (--force overwrites it). A first down into a work tree that \
                      has files only creates the missing ones. Files ignored here are never \
                      deleted or overwritten.\n\nExamples:\n  git-repo-sync down gpu-box:src/project\n  \
                      git-repo-sync down          # the saved target"
    )]
    Down(CopyArgs),
    /// Print a shell completion script to stdout.
    #[command(after_help = "Examples:\n  git-repo-sync completions bash > \
                            ~/.local/share/bash-completion/completions/git-repo-sync\n  \
                            git-repo-sync completions zsh > ~/.zfunc/_git-repo-sync")]
    Completions(CompletionsArgs),
    /// Print the man page (roff) to stdout.
    #[command(after_help = "Examples:\n  git-repo-sync man | man -l -\n  \
                            git-repo-sync man > ~/.local/share/man/man1/git-repo-sync.1")]
    Man,
    /// Entry point of the generated hooks (not for direct use).
    #[command(hide = true)]
    Hook(HookArgs),
    /// The background worker started by the hooks (not for direct use).
    #[command(hide = true)]
    Worker(WorkerArgs),
    /// An ssh session opened ahead for a mirror's next push, started by a pass (not for direct use).
    #[command(hide = true)]
    HoldSession(HoldSessionArgs),
    /// An http(s) connection opened ahead for a mirror's next push, started by a pass (not for
    /// direct use).
    #[command(hide = true)]
    HoldConnection(HoldConnectionArgs),
    /// Several of those, started by one process of ours that a pass starts (not for direct use).
    #[command(hide = true)]
    HoldAhead(HoldAheadArgs),
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Where: `HOST:DIR` (HOST as ssh takes it: an alias, `user@host`), `ssh://user@host:port/DIR`,
    /// or a local path. DIR relative to the remote home. Default: the saved target.
    #[arg(value_name = "[HOST:]DIR")]
    pub target: Option<String>,

    /// The local directory (default: the top of the work tree around the current directory).
    #[arg(short = 'l', long, value_name = "DIR")]
    pub local_dir: Option<PathBuf>,

    /// Show what would be copied and change nothing on either side.
    #[arg(short = 'n', long, visible_alias = "dry", short_alias = 'd')]
    pub dry_run: bool,

    /// Overwrite what changed on the other side since the last up or down, and say what.
    #[arg(long)]
    pub force: bool,

    /// Seconds without any sign of life from the host before giving up.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,

    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,

    /// Remember TARGET as this work tree's default (`git config repo-sync.target`).
    #[arg(long)]
    pub save: bool,

    /// `up` only: copy now, then again whenever a file changes (ignored directories are not
    /// watched), until interrupted.
    #[arg(long)]
    pub watch: bool,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Repositories to install into (default: the repository around the current directory).
    #[arg(value_name = "REPO")]
    pub repos: Vec<PathBuf>,

    /// A mirror to add, as NAME=URL (repeatable). URL: a path, file://, ssh://, user@host:path, https://.
    #[arg(long = "mirror", value_name = "NAME=URL")]
    pub mirrors: Vec<String>,

    /// Never prompt.
    #[arg(short, long)]
    pub yes: bool,

    /// Replace an earlier saved hook that would otherwise block chaining.
    #[arg(long)]
    pub force: bool,

    /// Show what would be done and change nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// Where git runs config-based hooks (2.54 and later), also write hook files, for a git
    /// older than 2.54 that commits in the same repository (an IDE's, say). Each commit of a
    /// rebase then starts two shells. Hook files written once are kept by later installs.
    #[arg(long)]
    pub hook_files: bool,

    /// The git-repo-sync path baked into the hooks (default: this binary). The hooks fall back to
    /// `git-repo-sync` on PATH when it is gone.
    #[arg(long, value_name = "PATH")]
    pub hook_binary: Option<PathBuf>,

    /// Install into every repository below each REPO (bare or not; git directories are not
    /// searched). Each --mirror URL must name the repository with {{name}} (its directory's name
    /// without .git) or {{path}} (its path below REPO). One that cannot be installed into is
    /// reported and skipped; exit status 1 then.
    #[arg(short = 'r', long)]
    pub recursive: bool,

    /// With --recursive, look inside work trees too (submodules, clones inside clones).
    #[arg(long, requires = "recursive")]
    pub nested: bool,

    /// Put the hooks into a git template directory instead (default: the one
    /// `init.templateDir` names, else ~/.config/git-repo-sync/git-template), so that every later
    /// `git init` and `git clone` comes with them; such a repository takes its mirrors from the
    /// user's and the system's config and registers itself on its first trigger.
    #[arg(
        long,
        value_name = "DIR",
        num_args = 0..=1,
        default_missing_value = "",
        conflicts_with_all = ["repos", "mirrors", "recursive"]
    )]
    pub template_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Repositories to uninstall from (default: the repository around the current directory).
    #[arg(value_name = "REPO")]
    pub repos: Vec<PathBuf>,

    /// Also delete the mirror configuration, state and log.
    #[arg(long)]
    pub purge: bool,

    /// Take the hooks out of a git template directory (default: the one `init.templateDir`
    /// names, else ~/.config/git-repo-sync/git-template); repositories made from it keep theirs.
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "", conflicts_with_all = ["repos", "purge"])]
    pub template_dir: Option<PathBuf>,

    /// Show what would be done and change nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Only these mirrors (repeatable; default: all).
    #[arg(long = "mirror", value_name = "NAME", conflicts_with = "all")]
    pub mirrors: Vec<String>,

    /// Every registered repository (`repo-sync.repo` in the global git config), a few at a time;
    /// one line per repository and mirror, failures first.
    #[arg(long)]
    pub all: bool,

    /// With --all, then write every repository's metrics (as `metrics --all` prints them) to
    /// DIR/git-repo-sync.prom (as root; else DIR/git-repo-sync-USER.prom), replaced whole, for
    /// node_exporter's textfile collector. Default: `metrics.textfile_dir` of the user or
    /// system config, if set.
    #[arg(long, value_name = "DIR", requires = "all")]
    pub textfile_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Every registered repository (and those below the configured roots), as `status --all`.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Every registered repository, one line per repository and mirror, failures first; exit
    /// status 1 when one is gone or its triggers do not run, else 3 when a mirror is failing.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Repositories to check (default: the repository around the current directory).
    #[arg(value_name = "REPO")]
    pub repos: Vec<PathBuf>,

    /// Print JSON instead of lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Only these mirrors (repeatable; default: all).
    #[arg(long = "mirror", value_name = "NAME")]
    pub mirrors: Vec<String>,

    /// Print JSON instead of lines: an array with an object per mirror.
    #[arg(long)]
    pub json: bool,

    /// Also clone each mirror afresh and run `git fsck` on the clone, and hash every LFS object:
    /// what a restore would do, at what it costs.
    #[arg(long)]
    pub full: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a repository's mirrors as merged from the system config
    /// (/etc/git-repo-sync/config.toml), the user config (~/.config/git-repo-sync/config.toml)
    /// and its own repo-sync.toml, the most specific winning, with where each value came from.
    #[command(after_help = "Examples:\n  git-repo-sync config show\n  git-repo-sync config show ~/src/app")]
    Show {
        /// The repository (default: the one around the current directory).
        repo: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Run `git-repo-sync sync --all --quiet` every INTERVAL minutes: what no hook saw (a tag made
    /// alone, `git reset`, a fetch into a bare repository, a trigger another tool removed) still
    /// arrives. Running it twice changes nothing.
    #[command(after_help = "Examples:\n  git-repo-sync schedule start\n  \
                            git-repo-sync schedule start --interval 15 --scheduler cron\n  \
                            git-repo-sync schedule start --textfile-dir /var/lib/prometheus/node-exporter")]
    Start {
        /// Minutes between two passes.
        #[arg(long, value_name = "MINUTES", default_value_t = crate::schedule::DEFAULT_INTERVAL)]
        interval: u32,
        /// What runs it (default: systemd where the machine runs it, else cron).
        #[arg(long)]
        scheduler: Option<crate::schedule::Scheduler>,
        /// Have each pass write every repository's metrics to DIR/git-repo-sync.prom as root, else
        /// DIR/git-repo-sync-USER.prom (replaced whole), for node_exporter's textfile collector
        /// (`--collector.textfile.directory`). Without it, each pass reads `metrics.textfile_dir`
        /// from the user or system config.
        #[arg(long, value_name = "DIR")]
        textfile_dir: Option<PathBuf>,
    },
    /// Remove exactly what `schedule start` wrote.
    #[command(after_help = "Examples:\n  git-repo-sync schedule stop")]
    Stop,
    /// Show what is scheduled; exit status 1 when nothing is.
    #[command(after_help = "Examples:\n  git-repo-sync schedule status || git-repo-sync schedule start")]
    Status,
}

#[derive(Debug, Subcommand)]
pub enum MirrorCommand {
    /// Add a mirror to the repository's configuration.
    #[command(
        after_help = "Examples:\n  git-repo-sync mirror add nas /mnt/nas/project.git\n  \
                            git-repo-sync mirror add github git@github.com:me/project.git --ref \
                            'refs/heads/main' --ref 'refs/tags/*'\n  \
                            git-repo-sync mirror add forge https://git.example.org/me/project.git \
                            --token-env FORGE_TOKEN\n  \
                            git-repo-sync mirror add later git@github.com:me/not-yet.git --no-check"
    )]
    Add(MirrorAddArgs),
    /// Remove a mirror from the repository's configuration.
    #[command(after_help = "Examples:\n  git-repo-sync mirror remove nas")]
    Remove {
        /// The mirror's name.
        name: String,
    },
    /// List the configured mirrors.
    #[command(after_help = "Examples:\n  git-repo-sync mirror list")]
    List,
}

#[derive(Debug, Args)]
pub struct MirrorAddArgs {
    /// A unique name: letters, digits, '.', '_' and '-'.
    pub name: String,
    /// Where to push: a path, file://, ssh://, user@host:path or https:// URL.
    pub url: String,
    /// The mirror's settings, one option per setting of the config file.
    #[command(flatten)]
    pub settings: MirrorSettings,
    /// Add it without first checking that it answers with our credentials (offline, or a mirror
    /// not set up yet).
    #[arg(long)]
    pub no_check: bool,
}

/// The settings given to `mirror add`: an option for each of [`FIELDS`], in its order, and the
/// value given, in the config file's types.
#[derive(Debug, Clone, Default)]
pub struct MirrorSettings(pub Vec<(&'static Field, SettingValue)>);

/// A setting as typed on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingValue {
    Switch(bool),
    Texts(Vec<String>),
}

impl clap::Args for MirrorSettings {
    fn augment_args(mut cmd: clap::Command) -> clap::Command {
        for field in FIELDS {
            let arg = clap::Arg::new(field.key).long(field.long()).help(field.help);
            cmd = cmd.arg(match field.flag {
                Flag::Value(name) if field.kind == Kind::Patterns => {
                    arg.value_name(name).action(clap::ArgAction::Append)
                }
                Flag::Value(name) => arg.value_name(name).action(clap::ArgAction::Set),
                Flag::Enable | Flag::Disable => arg.action(clap::ArgAction::SetTrue),
            });
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl clap::FromArgMatches for MirrorSettings {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut settings = Self::default();
        settings.update_from_arg_matches(matches)?;
        Ok(settings)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        for field in FIELDS {
            let value = match field.flag {
                Flag::Enable => matches.get_flag(field.key).then_some(SettingValue::Switch(true)),
                Flag::Disable => matches.get_flag(field.key).then_some(SettingValue::Switch(false)),
                Flag::Value(_) => matches
                    .get_many::<String>(field.key)
                    .map(|values| SettingValue::Texts(values.cloned().collect())),
            };
            if let Some(value) = value {
                self.0.retain(|(known, _)| known.key != field.key);
                self.0.push((field, value));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate completions for.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct HookArgs {
    /// The hook that fired (post-commit, post-merge, post-rewrite, post-applypatch, post-receive).
    pub kind: String,
    /// The hook's own arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The repository's common git directory.
    #[arg(long, value_name = "DIR")]
    pub git_dir: PathBuf,
    /// The descriptor of the sync lock the trigger took and handed over.
    #[arg(long, value_name = "FD")]
    pub lock_fd: Option<i32>,
}

/// Where a holder of a connection opened ahead waits, and for how long.
#[derive(Debug, Args)]
pub struct HolderArgs {
    /// Where the next push finds the connection.
    #[arg(long, value_name = "PATH")]
    pub socket: PathBuf,
    /// The lock that keeps this the only holder for its mirror or server.
    #[arg(long, value_name = "PATH")]
    pub lock: PathBuf,
    /// Seconds to wait for a push before closing the connection.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle: u64,
}

#[derive(Debug, Args)]
pub struct HoldSessionArgs {
    #[command(flatten)]
    pub holder: HolderArgs,
    /// The `sh -c` line that runs `git-receive-pack` over the master.
    #[arg(last = true, value_name = "SCRIPT")]
    pub script: String,
}

#[derive(Debug, Args)]
pub struct HoldConnectionArgs {
    #[command(flatten)]
    pub holder: HolderArgs,
    /// Seconds to wait for the server, connecting and answering.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
    /// The certificate authorities to trust, for https.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// `http[s]://host:port`.
    #[arg(value_name = "ADDRESS")]
    pub address: String,
}

#[derive(Debug, Args)]
pub struct HoldAheadArgs {
    /// Each holder's command line: the number of its arguments, then those arguments.
    #[arg(last = true, value_name = "HOLDER")]
    pub holders: Vec<OsString>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(line: &str) -> Vec<String> {
        earlier_tools_order(line.split(' ').map(OsString::from))
            .into_iter()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn the_earlier_tools_flags_before_its_verb_are_taken_after_it() {
        assert_eq!(
            order("grs -v --dry --local-dir /w up host:dir"),
            ["grs", "-v", "up", "--dry", "--local-dir", "/w", "host:dir"]
        );
        assert_eq!(
            order("grs -C /x -d down h:d"),
            ["grs", "-C", "/x", "down", "-d", "h:d"]
        );
        assert_eq!(
            order("grs -C up up h:d"),
            ["grs", "-C", "up", "up", "h:d"],
            "-C's value is no verb"
        );
        let other = "grs --dry-run install --mirror a=/b";
        assert_eq!(
            order(other),
            other.split(' ').collect::<Vec<_>>(),
            "other verbs as they are"
        );
    }
}
