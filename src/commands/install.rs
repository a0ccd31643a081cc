//! `install`: add mirrors to each repository's config and write the hooks.
//!
//! Everything is checked for every repository first (config readable, mirrors valid, hooks
//! directory known, no hook that cannot be chained); only then is anything written.

use std::io::IsTerminal as _;
use std::path::Path;

use anyhow::{Context as _, Result, anyhow, bail};

use super::reach::Reach;
use crate::cli::InstallArgs;
use crate::commands::{ExitStatus, Verbosity};
use crate::config::{self, Config, Layered, Layers, Level, Mirror};
use crate::registry;
use crate::repo::Repo;
use crate::repo::quoted;
use crate::triggers::{self, Mechanism, Step};
use crate::url::MirrorUrl;

mod recursive;
pub(crate) mod template_dir;
mod wizard;

struct Plan {
    repo: Repo,
    config: Config,
    /// Mirrors the repository takes from the user's or the system's rules.
    inherited: Config,
    config_changed: bool,
    /// What puts the triggers in place.
    triggers: Vec<Step>,
}

pub(crate) fn run(args: &InstallArgs, verbosity: Verbosity) -> Result<ExitStatus> {
    if args.recursive {
        return run_recursive(args, verbosity);
    }
    if let Some(dir) = &args.template_dir {
        return template_dir::install(dir, &hook_binary(args)?, args.force, args.dry_run, verbosity);
    }
    let mut requested = parse_mirror_args(&args.mirrors)?;
    let binary = hook_binary(args)?;
    let repos = Repo::open_all(&args.repos)?;
    let mechanism = Mechanism::for_installed_git()?;

    let layers = Layers::read()?;
    let mut plans = Vec::with_capacity(repos.len());
    let mut asked = false;
    for repo in repos {
        repo.confirm_git_opens()
            .with_context(|| format!("installing into {}", quoted(repo.display_path())))?;
        repo.ensure_owned_by_current_user()?;
        let config_path = repo.config_path();
        let config = Config::load(&config_path)?;
        let inherited = from_rules(layers.for_repo(&repo.canonical_path(), &config_path)?);
        let at_terminal = std::io::stdin().is_terminal();
        if should_ask(
            args,
            !requested.is_empty(),
            !config.mirrors.is_empty() || !inherited.mirrors.is_empty(),
            at_terminal,
        ) {
            requested = wizard::ask_mirrors(&repo)?;
            asked = true;
        }
        let mut plan = plan_repo(repo, config, &requested, &binary, args, mechanism)?;
        plan.inherited = inherited;
        plans.push(plan);
    }

    if asked {
        // What would be written, exactly as `--dry-run` prints it, then the one question.
        for plan in &plans {
            let actions = carry_out(plan, true, verbosity, true)?;
            report(plan, &actions, true, Verbosity::Normal, mechanism);
        }
        if !wizard::confirm_plan()? {
            eprintln!("nothing written");
            return Ok(ExitStatus::Success);
        }
    }
    for plan in &plans {
        let actions = carry_out(plan, args.dry_run, verbosity, true)?;
        report(plan, &actions, args.dry_run, verbosity, mechanism);
    }
    if !args.dry_run && verbosity != Verbosity::Quiet && super::schedule::missing() {
        if asked && wizard::offer_schedule()? {
            super::schedule::start(SCHEDULE_INTERVAL, None, None, verbosity)?;
        } else {
            println!("{}", super::schedule::NOT_SCHEDULED);
        }
    }
    Ok(ExitStatus::Success)
}

/// How often the schedule the wizard starts syncs, in minutes (`schedule start`'s default).
const SCHEDULE_INTERVAL: u32 = 5;

/// What installing into `repo` (whose config is `config`) with the `requested` mirrors does.
fn plan_repo(
    repo: Repo,
    mut config: Config,
    requested: &[(String, MirrorUrl)],
    binary: &std::path::Path,
    args: &InstallArgs,
    mechanism: Mechanism,
) -> Result<Plan> {
    let config_path = repo.config_path();
    let before = config.clone();
    for (name, url) in requested {
        match config.mirrors.get(name) {
            Some(existing) if existing.url == *url => {}
            Some(existing) => bail!(
                "mirror '{name}' already exists in {} with URL {}; remove it first \
                 (`git-repo-sync mirror remove {name}`) or pick another name",
                quoted(config_path),
                existing.url.redacted()
            ),
            None => {
                config.mirrors.insert(name.clone(), Mirror::new(url.clone()));
            }
        }
    }
    let triggers = triggers::plan_install(&repo, binary, args.force, mechanism, args.hook_files)
        .with_context(|| format!("installing into {}", quoted(repo.display_path())))?;
    Ok(Plan {
        inherited: Config::default(),
        config_changed: config != before,
        repo,
        config,
        triggers,
    })
}

fn hook_binary(args: &InstallArgs) -> Result<std::path::PathBuf> {
    match &args.hook_binary {
        Some(path) if path.is_absolute() => Ok(path.clone()),
        Some(path) => bail!("--hook-binary {} must be an absolute path", quoted(path)),
        None => std::env::current_exe().context("finding the path of this git-repo-sync binary"),
    }
}

/// `install --recursive DIR...`: each repository found on its own, so that one that cannot be
/// installed into is reported and skipped while the others are installed; a summary at the end.
fn run_recursive(args: &InstallArgs, verbosity: Verbosity) -> Result<ExitStatus> {
    if args.repos.is_empty() {
        bail!("--recursive needs the directories to search: git-repo-sync install --recursive DIR...");
    }
    let mut templates: Vec<recursive::UrlTemplate> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for arg in &args.mirrors {
        let (name, url) = mirror_arg(arg, &names, "nas=/mnt/nas/{{path}}.git")?;
        if !crate::config::template::is_template(url) {
            bail!(
                "--mirror {name}={url} names no repository: every repository found would push to \
                 that one mirror. Use {{{{name}}}} or {{{{path}}}} in it (for example \
                 {name}=/mnt/nas/{{{{path}}}}.git)"
            );
        }
        names.push(name);
        templates.push(recursive::UrlTemplate::parse(name, url)?);
    }
    // The user's and the system's rules are checked once, before any repository is touched.
    let layers = Layers::read()?;
    layers.check()?;
    let binary = hook_binary(args)?;
    let mechanism = Mechanism::for_installed_git()?;
    let mut found: Vec<(std::path::PathBuf, std::path::PathBuf)> = Vec::new();
    for root in &args.repos {
        let root = std::fs::canonicalize(root).with_context(|| format!("reading {}", quoted(root)))?;
        for path in crate::repo::find_below(&root, args.nested)? {
            found.push((root.clone(), path));
        }
    }
    // Read once; the new ones are registered together at the end.
    let registered: std::collections::HashSet<std::path::PathBuf> = registry::list()?.into_iter().collect();
    // Each repository on its own, a few at a time: most of the cost is small git processes.
    let outcomes = crate::commands::fleet::parallel_map(&found, |(root, path)| {
        (|| -> Result<(Plan, Vec<String>)> {
            let repo = Repo::open(path)?;
            repo.confirm_git_opens()?;
            repo.ensure_owned_by_current_user()?;
            let config = Config::load(&repo.config_path())?;
            let requested = templates
                .iter()
                .map(|template| template.render_for(root, path))
                .collect::<Result<Vec<_>>>()?;
            let inherited = layers.for_repo(&repo.canonical_path(), &repo.config_path())?;
            if requested.is_empty() && inherited.config.mirrors.is_empty() {
                bail!(
                    "no mirror for it: give --mirror NAME=URL, or a rule in the user config {}",
                    crate::config::layers::user_path()
                        .map_or_else(|| "(no home)".to_owned(), |path| quoted(path).to_string())
                );
            }
            let mut plan = plan_repo(repo, config, &requested, &binary, args, mechanism)?;
            plan.inherited = from_rules(inherited);
            let mut actions = carry_out(&plan, args.dry_run, verbosity, false)?;
            if !registered.contains(plan.repo.display_path()) {
                actions.push(registration(plan.repo.display_path()));
            }
            Ok((plan, actions))
        })()
    });
    let (mut installed, mut current) = (0_usize, 0_usize);
    let mut skipped: Vec<(std::path::PathBuf, String)> = Vec::new();
    let mut to_register = Vec::new();
    for ((_, path), outcome) in found.iter().zip(&outcomes) {
        match outcome {
            Ok((_, actions)) if actions.is_empty() => current += 1,
            Ok((plan, actions)) => {
                report(plan, actions, args.dry_run, verbosity, mechanism);
                if !registered.contains(plan.repo.display_path()) {
                    to_register.push(plan.repo.display_path());
                }
                installed += 1;
            }
            Err(err) => skipped.push((path.clone(), format!("{err:#}"))),
        }
    }
    if !args.dry_run
        && let Err(err) = registry::register_all(&to_register)
    {
        eprintln!(
            "git-repo-sync: warning: {err:#}; the hooks work, but `sync --all` and the schedule \
             will not cover every repository until `git-repo-sync install` registers it"
        );
    }
    let verb = if args.dry_run {
        "would install"
    } else {
        "installed"
    };
    println!(
        "{verb} into {installed} repositories, {current} already current, {} skipped",
        skipped.len()
    );
    for (path, why) in &skipped {
        println!("  skipped {}: {why}", quoted(path));
    }
    if !args.dry_run && verbosity != Verbosity::Quiet && installed > 0 && super::schedule::missing() {
        println!("{}", super::schedule::NOT_SCHEDULED);
    }
    Ok(if skipped.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Error
    })
}

/// The mirrors a repository takes from the user's or the system's rules, not its own file.
fn from_rules(layered: Layered) -> Config {
    let mut mirrors = layered.config.mirrors;
    mirrors.retain(|name, _| {
        layered
            .origins
            .get(name)
            .is_some_and(|origin| origin.level != Level::Repository)
    });
    Config { mirrors }
}

/// Whether `install` asks: only a person at a terminal, who gave no mirror and has none, and
/// did not ask for no questions (`--yes`) or for a plan alone (`--dry-run`).
fn should_ask(args: &InstallArgs, mirrors_given: bool, mirrors_configured: bool, at_terminal: bool) -> bool {
    at_terminal && !args.yes && !args.dry_run && !mirrors_given && !mirrors_configured
}

/// A mirror name as typed: valid and not one already chosen.
fn check_name(name: &str, taken: &[String]) -> Result<String, String> {
    let name = name.trim();
    config::validate_name(name).map_err(|why| format!("mirror name {name:?} {why}"))?;
    if taken.iter().any(|seen| seen == name) {
        return Err(format!(
            "'{name}' is already one of the mirrors to add; pick another name"
        ));
    }
    Ok(name.to_owned())
}

/// A URL as typed, validated as `--mirror` validates it; the URL to store.
fn check_url(url: &str) -> Result<MirrorUrl, String> {
    super::normalize_url(url.trim()).map_err(|err| format!("{err:#}"))
}

/// What the wizard does with a URL once it is valid.
#[derive(Debug, PartialEq, Eq)]
enum AfterCheck {
    /// A local path with nothing there: offer to create a bare repository at it.
    OfferCreation(std::path::PathBuf),
    /// It answered: say what was found and take it.
    Accept(String),
    /// It did not answer, or refused our credentials: say why and what would fix it, and take
    /// it only if the user insists (it may not be set up yet).
    OfferAnyway { found: String, fix: Option<String> },
}

/// `reach` is `None` where nothing was checked: a local path that does not exist yet.
fn after_check(url: &MirrorUrl, reach: Option<&Reach>) -> AfterCheck {
    match reach {
        None => AfterCheck::OfferCreation(url.local_path().map(Path::to_path_buf).unwrap_or_default()),
        Some(reach) if reach.is_ok() => AfterCheck::Accept(reach.describe()),
        Some(reach) => AfterCheck::OfferAnyway {
            found: reach.describe(),
            fix: matches!(reach, Reach::AuthRefused(_)).then(|| Reach::auth_fix(url).to_owned()),
        },
    }
}

/// Creates what a plan needs, writes its config and triggers and registers the repository (with
/// `dry_run`, none of it); what was (or would be) done, one line each.
/// With `register_now`, the repository is registered here too; else the caller registers it.
fn carry_out(plan: &Plan, dry_run: bool, verbosity: Verbosity, register_now: bool) -> Result<Vec<String>> {
    let mut actions: Vec<String> = Vec::new();
    // A local mirror from a rule is prepared as one given here is: it is this repository's.
    for mirror in plan
        .config
        .mirrors
        .values()
        .chain(plan.inherited.mirrors.values())
    {
        if let Some(action) = super::prepare_local_mirror(&plan.repo, &mirror.url, dry_run)? {
            actions.push(action);
        }
    }
    if plan.config_changed {
        if !dry_run {
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
    if !dry_run {
        triggers::apply(&plan.triggers)
            .with_context(|| format!("installing into {}", quoted(plan.repo.display_path())))?;
    }
    actions.extend(
        plan.triggers
            .iter()
            .filter(|step| step.is_notable() || verbosity == Verbosity::Verbose)
            .map(ToString::to_string),
    );
    if register_now {
        actions.extend(register(&plan.repo, dry_run));
    }
    Ok(actions)
}

/// The action of registering `path`, as reported.
fn registration(path: &std::path::Path) -> String {
    format!(
        "register {} for `sync --all` ({} in the global git config)",
        quoted(path),
        registry::KEY
    )
}

/// Registers the repository for `sync --all` and the schedule. A global config that cannot be
/// written costs only that: the hooks are in place, so it is a warning with its fix.
fn register(repo: &Repo, dry_run: bool) -> Option<String> {
    let path = repo.display_path();
    let action = registration(path);
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
        Mechanism::ConfigHooks => {
            println!(
                "  triggers: config-based hooks (`git hook list {}` shows them); no one else's hook is moved",
                triggers::HookKind::for_repo(plan.repo.is_bare())[0].name()
            );
            if plan.triggers.iter().any(Step::leaves_our_hook_file) {
                println!("  and hook files beside them, for a git older than 2.54");
            } else {
                println!(
                    "  a git older than 2.54 runs none of them: `git-repo-sync install --hook-files` \
                     adds hook files for one that commits here"
                );
            }
        }
        Mechanism::HookFiles => {
            println!("  triggers: hook files (this git has no config-based hooks; 2.54 and later do)")
        }
    }
    if plan.config.mirrors.is_empty() && plan.inherited.mirrors.is_empty() {
        println!("  no mirrors configured yet: add one with `git-repo-sync mirror add NAME URL`");
    } else if !dry_run {
        let names: Vec<&str> = plan
            .config
            .mirrors
            .keys()
            .chain(plan.inherited.mirrors.keys())
            .map(String::as_str)
            .collect();
        println!(
            "  mirrors: {}; each commit now syncs them in the background (`git-repo-sync sync` pushes now)",
            names.join(", ")
        );
    }
}

/// `NAME=URL` pairs, each checked before anything is written.
fn parse_mirror_args(args: &[String]) -> Result<Vec<(String, MirrorUrl)>> {
    let mut mirrors: Vec<(String, MirrorUrl)> = Vec::new();
    for arg in args {
        let seen: Vec<&str> = mirrors.iter().map(|(name, _)| name.as_str()).collect();
        let (name, url) = mirror_arg(arg, &seen, "backup=/mnt/nas/project.git")?;
        if crate::config::template::is_template(url) {
            bail!(
                "--mirror {name}={url}: URL templates ({{{{name}}}}, {{{{path}}}}) are for `install --recursive`"
            );
        }
        let url = super::normalize_url(url)?;
        mirrors.push((name.to_owned(), url));
    }
    Ok(mirrors)
}

/// One `--mirror NAME=URL`, split, its name checked and not one of `seen`.
fn mirror_arg<'a>(arg: &'a str, seen: &[&str], example: &str) -> Result<(&'a str, &'a str)> {
    let (name, url) = arg
        .split_once('=')
        .ok_or_else(|| anyhow!("--mirror {arg:?} is not NAME=URL (for example {example})"))?;
    config::validate_name(name).map_err(|why| anyhow!("mirror name {name:?} {why}"))?;
    if seen.contains(&name) {
        bail!("--mirror {name} is given twice; each mirror needs its own name");
    }
    Ok((name, url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(yes: bool, dry_run: bool) -> InstallArgs {
        InstallArgs {
            repos: Vec::new(),
            mirrors: Vec::new(),
            yes,
            force: false,
            dry_run,
            hook_files: false,
            hook_binary: None,
            recursive: false,
            nested: false,
            template_dir: None,
        }
    }

    #[test]
    fn only_a_person_at_a_terminal_with_no_mirror_anywhere_is_asked() {
        assert!(should_ask(&args(false, false), false, false, true));
        assert!(
            !should_ask(&args(false, false), false, false, false),
            "no terminal"
        );
        assert!(!should_ask(&args(true, false), false, false, true), "--yes");
        assert!(!should_ask(&args(false, true), false, false, true), "--dry-run");
        assert!(
            !should_ask(&args(false, false), true, false, true),
            "--mirror given"
        );
        assert!(
            !should_ask(&args(false, false), false, true, true),
            "already configured"
        );
    }

    #[test]
    fn a_name_must_be_valid_and_not_chosen_twice() {
        assert_eq!(check_name(" nas ", &[]), Ok("nas".to_owned()));
        assert!(check_name("no spaces", &[]).is_err());
        assert!(check_name("nas", &["nas".to_owned()]).is_err());
    }

    #[test]
    fn a_mirror_that_does_not_answer_is_taken_only_when_insisted_on() {
        let url = &MirrorUrl::parse("git@example.org:me/x.git").expect("a valid URL");
        assert_eq!(
            after_check(url, Some(&Reach::Refs(0))),
            AfterCheck::Accept("reachable, empty".to_owned())
        );
        let AfterCheck::OfferAnyway { found, fix } = after_check(url, Some(&Reach::AuthRefused("no".into())))
        else {
            panic!("a refusal is not accepted as is");
        };
        assert!(found.starts_with("authentication refused"), "{found}");
        assert!(fix.is_some_and(|fix| fix.contains("--identity-file")));
        assert!(matches!(
            after_check(url, Some(&Reach::Unreachable("down".into()))),
            AfterCheck::OfferAnyway { fix: None, .. }
        ));
        assert_eq!(
            after_check(&MirrorUrl::parse("/srv/new.git").expect("a valid URL"), None),
            AfterCheck::OfferCreation("/srv/new.git".into())
        );
    }
}
