//! `uninstall`: remove our hooks and put back the ones that were there before.

use anyhow::{Context as _, Result};

use crate::cli::UninstallArgs;
use crate::commands::{ExitStatus, Verbosity};
use crate::registry;
use crate::repo::{Kept, Repo, quoted};
use crate::triggers::{self, Step};

pub(crate) fn run(args: &UninstallArgs, verbosity: Verbosity) -> Result<ExitStatus> {
    if let Some(dir) = &args.template_dir {
        return super::install::template_dir::uninstall(dir, args.dry_run, verbosity);
    }
    let repos = Repo::open_all(&args.repos)?;
    let mut plans = Vec::with_capacity(repos.len());
    for repo in repos {
        let steps = triggers::plan_uninstall(&repo)
            .with_context(|| format!("uninstalling from {}", quoted(repo.display_path())))?;
        plans.push((repo, steps));
    }
    for (repo, steps) in &plans {
        if !args.dry_run {
            triggers::apply(steps)
                .with_context(|| format!("uninstalling from {}", quoted(repo.display_path())))?;
        }
        let mut actions: Vec<String> = steps.iter().map(Step::to_string).collect();
        let path = repo.display_path();
        let registered = registry::list()?.iter().any(|listed| listed == path);
        if registered {
            if !args.dry_run {
                registry::unregister(path)?;
            }
            actions.push(format!(
                "unregister {} from `sync --all` ({} in the global git config)",
                quoted(path),
                registry::KEY
            ));
        }
        if args.purge {
            for kept in Kept::ALL {
                let path = repo.kept(kept);
                let Ok(meta) = std::fs::symlink_metadata(&path) else {
                    continue;
                };
                if !args.dry_run {
                    let removed = if meta.is_dir() {
                        std::fs::remove_dir_all(&path)
                    } else {
                        std::fs::remove_file(&path)
                    };
                    removed.with_context(|| format!("deleting {}", quoted(&path)))?;
                }
                actions.push(format!("delete {}", quoted(&path)));
            }
            if !args.dry_run {
                crate::engine::transfer::direct::remove_stale_staging(&repo.common_dir);
            }
        }
        if verbosity != Verbosity::Quiet {
            let where_ = quoted(repo.display_path());
            if actions.is_empty() {
                println!("{where_}: no git-repo-sync hooks installed");
            } else {
                let prefix = if args.dry_run { "would " } else { "" };
                println!("{where_}:");
                for action in &actions {
                    println!("  {prefix}{action}");
                }
                if !args.purge && repo.config_path().exists() {
                    println!(
                        "  kept the mirror config {} (`uninstall --purge` deletes it)",
                        quoted(repo.config_path())
                    );
                }
            }
        }
    }
    Ok(ExitStatus::Success)
}
