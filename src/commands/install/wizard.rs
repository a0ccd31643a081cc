//! The questions `install` asks a person at a terminal with no mirror yet. Prompts only: what an
//! answer means is decided by the plain functions of `install` ([`super::check_name`],
//! [`super::check_url`], [`super::after_check`]).

use anyhow::{Context as _, Result};
use dialoguer::{Confirm, Input};

use super::{AfterCheck, check_name, check_url};
use crate::commands::reach;
use crate::config::Mirror;
use crate::repo::{Repo, quoted};
use crate::url::MirrorUrl;

/// Asks for mirrors, one at a time, until the user wants no more: a name, a URL (asked again
/// until it is valid), then either the offer to create a local path that does not exist yet or
/// a reachability check of the mirror, and what it found.
pub(super) fn ask_mirrors(repo: &Repo) -> Result<Vec<(String, MirrorUrl)>> {
    eprintln!(
        "{}: no mirror configured yet. Nothing is written before you confirm.",
        quoted(repo.display_path())
    );
    let mut mirrors: Vec<(String, MirrorUrl)> = Vec::new();
    loop {
        let taken: Vec<String> = mirrors.iter().map(|(name, _)| name.clone()).collect();
        let mut name_prompt = Input::<String>::new().with_prompt("Mirror name");
        if !taken.iter().any(|name| name == "backup") {
            name_prompt = name_prompt.default("backup".to_owned());
        }
        let name = name_prompt
            .validate_with(|name: &String| check_name(name, &taken).map(|_| ()))
            .interact_text()
            .context("reading the mirror's name from the terminal")?;
        let name = name.trim().to_owned();
        let url = ask_url(repo, &name)?;
        mirrors.push((name, url));
        let another = Confirm::new()
            .with_prompt("Add another mirror?")
            .default(false)
            .interact()
            .context("reading the answer from the terminal")?;
        if !another {
            return Ok(mirrors);
        }
    }
}

/// The URL of mirror `name`, asked until it is valid and either reachable, to be created, or
/// accepted as it is.
fn ask_url(repo: &Repo, name: &str) -> Result<MirrorUrl> {
    loop {
        let typed = Input::<String>::new()
            .with_prompt(format!(
                "URL of '{name}' (a path, user@host:path, ssh:// or https://)"
            ))
            .validate_with(|url: &String| check_url(url).map(|_| ()))
            .interact_text()
            .context("reading the mirror's URL from the terminal")?;
        let url = check_url(&typed).map_err(anyhow::Error::msg)?;
        let mirror = Mirror::new(url.clone());
        let reach = if crate::commands::will_be_created(&url) {
            None
        } else {
            Some(reach::check_showing(repo, name, &mirror))
        };
        match super::after_check(&url, reach.as_ref()) {
            AfterCheck::OfferCreation(path) => {
                let create = Confirm::new()
                    .with_prompt(format!(
                        "{} does not exist. Create an empty bare repository there?",
                        quoted(&path)
                    ))
                    .default(true)
                    .interact()
                    .context("reading the answer from the terminal")?;
                if create {
                    return Ok(url);
                }
            }
            AfterCheck::Accept(found) => {
                eprintln!("  {name}: {found}");
                return Ok(url);
            }
            AfterCheck::OfferAnyway { found, fix } => {
                eprintln!("  {name}: {found}");
                if let Some(fix) = fix {
                    eprintln!("  fix: {fix}");
                }
                let anyway = Confirm::new()
                    .with_prompt(format!("Add '{name}' anyway? (every sync tries it again)"))
                    .default(false)
                    .interact()
                    .context("reading the answer from the terminal")?;
                if anyway {
                    return Ok(url);
                }
            }
        }
        eprintln!("Then another URL for '{name}':");
    }
}

/// The one confirmation, once the plan is on the screen.
pub(super) fn confirm_plan() -> Result<bool> {
    Confirm::new()
        .with_prompt("Write this?")
        .default(true)
        .interact()
        .context("reading the answer from the terminal")
}

/// Offered once the hooks are written, where nothing is scheduled: what no hook sees (a tag made
/// alone, a reset) otherwise waits for the next commit.
pub(super) fn offer_schedule() -> Result<bool> {
    Confirm::new()
        .with_prompt(
            "Start the schedule too (every registered repository synced every 5 minutes, so that a \
             tag, a new branch or a reset reaches the mirrors without a commit)?",
        )
        .default(true)
        .interact()
        .context("reading the answer from the terminal")
}
