//! `install --template-dir [DIR]` and `uninstall --template-dir [DIR]`: our hooks in a git
//! template directory, which `git init` and `git clone` copy into every new repository once
//! `init.templateDir` names it. Such a repository takes its mirrors from the user's and the
//! system's rules and registers itself on its first trigger.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::commands::{ExitStatus, Verbosity};
use crate::git;
use crate::repo::quoted;
use crate::triggers::{HookKind, files};

/// The directory meant: `dir` when given (not empty), else the one `init.templateDir` names,
/// else ours under the user's config directory.
fn resolve(dir: &Path) -> Result<PathBuf> {
    if !dir.as_os_str().is_empty() {
        return std::path::absolute(dir).with_context(|| format!("resolving {}", quoted(dir)));
    }
    if let Some(configured) = configured()? {
        return Ok(configured);
    }
    let config = crate::config::layers::user_path()
        .context("no home directory to keep a template directory in; give one: --template-dir DIR")?;
    Ok(config.with_file_name("git-template"))
}

/// What `init.templateDir` names, as git reads it (`~` expanded).
fn configured() -> Result<Option<PathBuf>> {
    let output = git::command()
        .args(["config", "--global", "--type=path", "--get", "init.templateDir"])
        .output()
        .context("running git config")?;
    let value = String::from_utf8_lossy(&output.stdout)
        .trim_end_matches('\n')
        .to_owned();
    Ok((output.status.success() && !value.is_empty()).then(|| PathBuf::from(value)))
}

pub(crate) fn install(
    dir: &Path,
    binary: &Path,
    force: bool,
    dry_run: bool,
    verbosity: Verbosity,
) -> Result<ExitStatus> {
    let dir = resolve(dir)?;
    let hooks = dir.join("hooks");
    // Every kind: a template makes work trees and bare repositories alike.
    let steps = files::plan_install(&hooks, &HookKind::ALL, binary, force)
        .with_context(|| format!("installing into template directory {}", quoted(&dir)))?;
    if !dry_run {
        files::apply(&steps)
            .with_context(|| format!("installing into template directory {}", quoted(&dir)))?;
    }
    if verbosity != Verbosity::Quiet {
        print_steps(&dir, &steps, dry_run);
        if configured()?.as_deref() == Some(dir.as_path()) {
            println!("  init.templateDir names it: every later `git init` and `git clone` gets the hooks");
        } else {
            println!(
                "  for every later `git init` and `git clone` to get the hooks, point git at it:\n    \
                 git config --global init.templateDir {}",
                crate::shell::quote_path(&dir)
            );
        }
        println!(
            "  their mirrors come from your rules: see `git-repo-sync config show` in a repository, \
             and [mirrors.NAME] or [roots.\"DIR\".mirrors.NAME] in {}",
            crate::config::layers::user_path().map_or_else(
                || "~/.config/git-repo-sync/config.toml".into(),
                |p| quoted(p).to_string()
            )
        );
    }
    Ok(ExitStatus::Success)
}

pub(crate) fn uninstall(dir: &Path, dry_run: bool, verbosity: Verbosity) -> Result<ExitStatus> {
    let dir = resolve(dir)?;
    let steps = files::plan_uninstall(&dir.join("hooks"))
        .with_context(|| format!("uninstalling from template directory {}", quoted(&dir)))?;
    if !dry_run {
        files::apply(&steps)
            .with_context(|| format!("uninstalling from template directory {}", quoted(&dir)))?;
    }
    if verbosity != Verbosity::Quiet {
        print_steps(&dir, &steps, dry_run);
        println!("  repositories made from it keep their hooks: `git-repo-sync uninstall REPO` removes them");
    }
    Ok(ExitStatus::Success)
}

fn print_steps(dir: &Path, steps: &[files::Step], dry_run: bool) {
    let changes: Vec<&files::Step> = steps.iter().filter(|step| step.changes_something()).collect();
    if changes.is_empty() {
        println!("template directory {}: nothing to change", quoted(dir));
        return;
    }
    println!("template directory {}:", quoted(dir));
    let prefix = if dry_run { "would " } else { "" };
    for step in changes {
        println!("  {prefix}{step}");
    }
}
