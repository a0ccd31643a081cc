//! `up` and `down`: copy the work tree to a host and back (see `crate::worktree`).

use std::time::Duration;

use anyhow::{Context as _, Result};

use crate::cli::CopyArgs;
use crate::commands::{ExitStatus, Verbosity};
use crate::repo::{Repo, quoted};
use crate::worktree::{self, Conflicts, Direction, Outcome, Request, SAVED_TARGET_KEY, Target};

pub(crate) fn run(args: &CopyArgs, direction: Direction, verbosity: Verbosity) -> Result<ExitStatus> {
    let repo = Repo::discover()?;
    let top = repo.work_tree.clone().with_context(|| {
        format!(
            "{} is a bare repository; up and down copy a work tree",
            quoted(repo.display_path())
        )
    })?;
    let text = match &args.target {
        Some(text) => text.clone(),
        None => saved_target(&repo)?.context(
            "no target given and none saved; give [HOST:]DIR (for example gpu-box:src/project), \
             or save one with `git-repo-sync up --save HOST:DIR`",
        )?,
    };
    let target = Target::parse(&text).with_context(|| format!("reading the target {text:?}"))?;
    if args.save {
        repo.git_stdout(&["config", "--local", SAVED_TARGET_KEY, &target.display()])
            .context("saving the target in the repository's git config")?;
    }
    let local_dir = args.local_dir.clone().unwrap_or(top);
    let request = Request {
        direction,
        target: &target,
        local_dir: &local_dir,
        repo: &repo,
        force: args.force,
        dry_run: args.dry_run,
        timeout: Duration::from_secs(args.timeout),
    };
    if args.watch {
        if direction != Direction::Up {
            anyhow::bail!("--watch is for `up`: it copies this work tree again whenever it changes");
        }
        worktree::watch(&local_dir, || match worktree::run(&request) {
            Ok(outcome) => {
                let _ = report(&outcome, args.json, verbosity);
            }
            Err(err) => eprintln!("git-repo-sync: up {}: {err:#}", target.display()),
        })?;
        return Ok(ExitStatus::Success);
    }
    let progress = crate::ui::Progress::on_terminal(verbosity == Verbosity::Quiet || args.json);
    let line = progress.as_ref().map(|progress| {
        let line = progress.mirror(direction_name(direction));
        line.set_message("starting");
        line
    });
    let result = crate::ui::with_progress(line.clone(), || worktree::run(&request));
    if let Some(line) = line {
        line.finish_and_clear();
    }
    match result {
        Ok(outcome) => {
            report(&outcome, args.json, verbosity)?;
            Ok(ExitStatus::Success)
        }
        Err(err) if args.json => {
            let conflicts = err.downcast_ref::<Conflicts>().map(|c| c.paths.clone());
            let failed = serde_json::json!({
                "direction": direction_name(direction),
                "target": target.display(),
                "error": format!("{err:#}"),
                "conflicts": conflicts,
            });
            anstream::println!("{}", serde_json::to_string_pretty(&failed)?);
            Ok(ExitStatus::Error)
        }
        Err(err) => Err(err.context(format!("{} {}", direction_name(direction), target.display()))),
    }
}

fn direction_name(direction: Direction) -> &'static str {
    match direction {
        Direction::Up => "up",
        Direction::Down => "down",
    }
}

/// The target saved for this work tree, if any.
fn saved_target(repo: &Repo) -> Result<Option<String>> {
    Ok(repo
        .git_stdout(&["config", "--get", SAVED_TARGET_KEY])?
        .map(|value| String::from_utf8_lossy(&value).trim().to_owned())
        .filter(|value| !value.is_empty()))
}

fn report(outcome: &Outcome, json: bool, verbosity: Verbosity) -> Result<()> {
    if json {
        anstream::println!("{}", serde_json::to_string_pretty(outcome)?);
        return Ok(());
    }
    if verbosity == Verbosity::Quiet {
        return Ok(());
    }
    let verb = if outcome.dry_run { "would copy" } else { "copied" };
    if verbosity == Verbosity::Verbose || outcome.dry_run {
        for (mark, paths) in [
            ("new", &outcome.added),
            ("changed", &outcome.changed),
            ("deleted", &outcome.deleted),
        ] {
            for path in paths {
                anstream::println!("  {mark:8} {path}");
            }
        }
    }
    for path in &outcome.replaced {
        anstream::println!(
            "  replaced {path} (it had changed {})",
            match outcome.direction {
                "up" => "there",
                _ => "here",
            }
        );
    }
    let sent = if outcome.dry_run {
        String::new()
    } else {
        format!(
            ", {} {}",
            size(outcome.bytes),
            if outcome.direction == "up" {
                "sent"
            } else {
                "received"
            }
        )
    };
    anstream::println!(
        "{}: {verb} {} new, {} changed, {} deleted{sent} ({})",
        outcome.direction,
        outcome.added.len(),
        outcome.changed.len(),
        outcome.deleted.len(),
        outcome.target
    );
    Ok(())
}

fn size(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}
