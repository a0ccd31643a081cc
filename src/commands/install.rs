//! `install`: add mirrors to each repository's config and write the hooks.
//!
//! Everything is checked for every repository first (config readable, mirrors valid, hooks
//! directory known, no hook that cannot be chained); only then is anything written.

use std::io::IsTerminal as _;

use anyhow::{Context as _, Result, anyhow, bail};

use crate::cli::InstallArgs;
use crate::config::{self, Config, Mirror};
use crate::registry;
use crate::repo::Repo;
use crate::repo::quoted;
use crate::triggers::{self, Mechanism, Step};
use crate::{ExitStatus, Verbosity};

struct Plan {
    repo: Repo,
    config: Config,
    config_changed: bool,
    /// What puts the triggers in place.
    triggers: Vec<Step>,
}

pub(crate) fn run(args: &InstallArgs, verbosity: Verbosity) -> Result<ExitStatus> {
    let mut requested = parse_mirror_args(&args.mirrors)?;
    let binary = match &args.hook_binary {
        Some(path) if path.is_absolute() => path.clone(),
        Some(path) => bail!("--hook-binary {} must be an absolute path", quoted(path)),
        None => std::env::current_exe().context("finding the path of this git-repo-sync binary")?,
    };
    let repos = Repo::open_all(&args.repos)?;
    let mechanism = Mechanism::for_installed_git()?;

    let mut plans = Vec::with_capacity(repos.len());
    for repo in repos {
        repo.ensure_owned_by_current_user()?;
        let config_path = repo.config_path();
        let mut config = Config::load(&config_path)?;
        if config.mirrors.is_empty() && requested.is_empty() && !args.yes && std::io::stdin().is_terminal() {
            requested = prompt_for_mirror()?;
        }
        let before = config.clone();
        for (name, url) in &requested {
            match config.mirrors.get(name) {
                Some(existing) if existing.url == *url => {}
                Some(existing) => bail!(
                    "mirror '{name}' already exists in {} with URL {}; remove it first \
                     (`git-repo-sync mirror remove {name}`) or pick another name",
                    quoted(config_path),
                    crate::redact::url(&existing.url)
                ),
                None => {
                    config.mirrors.insert(name.clone(), Mirror::new(url.clone()));
                }
            }
        }
        let triggers = triggers::plan_install(&repo, &binary, args.force, mechanism)
            .with_context(|| format!("installing into {}", quoted(repo.display_path())))?;
        plans.push(Plan {
            config_changed: config != before,
            repo,
            config,
            triggers,
        });
    }

    for plan in &plans {
        let mut actions: Vec<String> = Vec::new();
        for mirror in plan.config.mirrors.values() {
            if let Some(action) = super::prepare_local_mirror(&plan.repo, &mirror.url, args.dry_run)? {
                actions.push(action);
            }
        }
        if plan.config_changed {
            if !args.dry_run {
                // Re-applied under the config lock: a concurrent `mirror add` is kept.
                Config::edit(&plan.repo.config_path(), |config| {
                    for (name, mirror) in &plan.config.mirrors {
                        config
                            .mirrors
                            .entry(name.clone())
                            .or_insert_with(|| mirror.clone());
                    }
                    Ok(())
                })?;
            }
            actions.push(format!("write mirror config {}", quoted(plan.repo.config_path())));
        }
        if !args.dry_run {
            triggers::apply(&plan.triggers)
                .with_context(|| format!("installing into {}", quoted(plan.repo.display_path())))?;
        }
        actions.extend(
            plan.triggers
                .iter()
                .filter(|step| step.is_notable() || verbosity == Verbosity::Verbose)
                .map(ToString::to_string),
        );
        actions.extend(register(&plan.repo, args.dry_run));
        report(plan, &actions, args.dry_run, verbosity, mechanism);
    }
    Ok(ExitStatus::Success)
}

/// Registers the repository for `sync --all` and the schedule. A global config that cannot be
/// written costs only that: the hooks are in place, so it is a warning with its fix.
fn register(repo: &Repo, dry_run: bool) -> Option<String> {
    let path = repo.display_path();
    let action = format!(
        "register {} for `sync --all` ({} in the global git config)",
        quoted(path),
        registry::KEY
    );
    if dry_run {
        return match registry::list() {
            Ok(listed) if listed.iter().any(|p| p == path) => None,
            _ => Some(action),
        };
    }
    match registry::register(path) {
        Ok(true) => Some(action),
        Ok(false) => None,
        Err(err) => {
            eprintln!(
                "git-repo-sync: warning: {err:#}; the hooks work, but `sync --all` and the schedule \
                 will not cover {} until `git-repo-sync install` registers it",
                quoted(path)
            );
            None
        }
    }
}

fn report(plan: &Plan, actions: &[String], dry_run: bool, verbosity: Verbosity, mechanism: Mechanism) {
    if verbosity == Verbosity::Quiet {
        return;
    }
    let where_ = quoted(plan.repo.display_path());
    if actions.is_empty() {
        println!("{where_}: already installed, nothing to change");
    } else {
        let prefix = if dry_run { "would " } else { "" };
        println!("{where_}:");
        for action in actions {
            println!("  {prefix}{action}");
        }
    }
    match mechanism {
        Mechanism::ConfigHooks => println!(
            "  triggers: config-based hooks (`git hook list {}` shows them); no one else's hook is moved",
            triggers::HookKind::for_repo(plan.repo.is_bare())[0].name()
        ),
        Mechanism::HookFiles => {
            println!("  triggers: hook files (this git has no config-based hooks; 2.54 and later do)")
        }
    }
    if plan.config.mirrors.is_empty() {
        println!("  no mirrors configured yet: add one with `git-repo-sync mirror add NAME URL`");
    } else if !dry_run {
        let names: Vec<&str> = plan.config.mirrors.keys().map(String::as_str).collect();
        println!(
            "  mirrors: {}; each commit now syncs them in the background (`git-repo-sync sync` pushes now)",
            names.join(", ")
        );
    }
}

/// `NAME=URL` pairs, each checked before anything is written.
fn parse_mirror_args(args: &[String]) -> Result<Vec<(String, String)>> {
    let mut mirrors: Vec<(String, String)> = Vec::new();
    for arg in args {
        let (name, url) = arg.split_once('=').ok_or_else(|| {
            anyhow!("--mirror {arg:?} is not NAME=URL (for example backup=/mnt/nas/project.git)")
        })?;
        config::validate_name(name).map_err(|why| anyhow!("mirror name {name:?} {why}"))?;
        let url = super::normalize_url(url)?;
        if mirrors.iter().any(|(seen, _)| seen == name) {
            bail!("--mirror {name} is given twice; each mirror needs its own name");
        }
        mirrors.push((name.to_owned(), url));
    }
    Ok(mirrors)
}

fn prompt_for_mirror() -> Result<Vec<(String, String)>> {
    let answer: String = dialoguer::Input::new()
        .with_prompt("No mirrors yet. Add one as NAME=URL (empty to skip)")
        .allow_empty(true)
        .interact_text()
        .context("reading the mirror from the terminal")?;
    if answer.trim().is_empty() {
        return Ok(Vec::new());
    }
    parse_mirror_args(&[answer.trim().to_owned()])
}
