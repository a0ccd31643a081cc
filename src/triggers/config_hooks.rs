//! Config-based hooks (git 2.54 and later): `hook.git-repo-sync-<kind>.command` and `.event` in
//! the repository's own config. No hook file is touched, so no hook manager can replace, rename
//! or delete ours, and git runs them before the hook directory's file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::Serialize;

use super::HookKind;
use crate::git;
use crate::repo::quoted;

/// Every entry of ours is named `hook.<NAME_PREFIX><kind>`.
pub(crate) const NAME_PREFIX: &str = "git-repo-sync-";

/// The friendly name git knows our `kind` hook by.
pub(crate) fn name(kind: HookKind) -> String {
    format!("{NAME_PREFIX}{}", kind.name())
}

#[derive(Serialize)]
struct CommandData<'a> {
    binary: &'a str,
    kind: &'a str,
    /// Which mid-sequence check goes first, as in the hook file of the same kind.
    mid_sequence_commit: bool,
    mid_sequence_patch: bool,
    /// Leaves its git's pid for our hook file of the same kind, which that git runs next and
    /// which then asks for nothing more (a work tree's hooks; post-receive reads its stdin).
    marks: bool,
}

/// The shell command git runs for our `kind` hook (git appends the hook's arguments). Like the
/// hook files, it falls back to `git-repo-sync` on PATH, never fails the git operation, and in
/// the middle of a sequence returns without starting a process.
pub(crate) fn render(kind: HookKind, binary: &Path) -> Result<String> {
    let data = CommandData {
        binary: super::binary_str(binary)?,
        kind: kind.name(),
        mid_sequence_commit: kind == HookKind::PostCommit,
        mid_sequence_patch: kind == HookKind::PostApplypatch,
        marks: kind != HookKind::PostReceive,
    };
    let text = super::engine()?
        .render_template(include_str!("../../templates/config-hook.hbs"), &data)
        .with_context(|| format!("rendering the {} config hook", kind.name()))?;
    Ok(text.trim_end().to_owned())
}

/// One of our entries as the repository's config has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Entry {
    pub command: Option<String>,
    pub events: Vec<String>,
    /// `hook.<name>.enabled`, when set (`false` stops git running it).
    pub enabled: Option<String>,
}

/// Our entries in the config file `config` (the repository's `config`), by hook kind.
pub(crate) fn read(config: &Path) -> Result<BTreeMap<HookKind, Entry>> {
    let mut found: BTreeMap<HookKind, Entry> = BTreeMap::new();
    // A file that never names our hooks has none of them (`--file` follows no include): no git
    // to start, which `sync --all` over thousands of repositories would pay each time.
    let text = match std::fs::read(config) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(err) => return Err(err).with_context(|| format!("reading {}", quoted(config))),
    };
    if !text
        .windows(NAME_PREFIX.len())
        .any(|window| window.eq_ignore_ascii_case(NAME_PREFIX.as_bytes()))
    {
        return Ok(found);
    }
    let pattern = format!("^hook\\.{}", NAME_PREFIX.replace('.', "\\."));
    let output = git::command()
        .arg("config")
        .arg("--file")
        .arg(config)
        .args(["-z", "--get-regexp", &pattern])
        .output()
        .context("running git config --get-regexp (is git installed?)")?;
    match output.status.code() {
        Some(0) => {}
        Some(1) => return Ok(found),
        _ => bail!(
            "reading the hook entries of {}: {}",
            quoted(config),
            String::from_utf8_lossy(&output.stderr).trim()
        ),
    }
    for record in output.stdout.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let record = String::from_utf8_lossy(record);
        let (key, value) = record.split_once('\n').unwrap_or((&record, ""));
        // Keys come lower-cased from git: hook.<name>.<variable>.
        let Some(rest) = key.strip_prefix("hook.") else {
            continue;
        };
        let Some((hook_name, variable)) = rest.rsplit_once('.') else {
            continue;
        };
        let Some(kind) = hook_name.strip_prefix(NAME_PREFIX).and_then(HookKind::from_name) else {
            continue;
        };
        let entry = found.entry(kind).or_default();
        match variable {
            "command" => entry.command = Some(value.to_owned()),
            "event" => entry.events.push(value.to_owned()),
            "enabled" => entry.enabled = Some(value.to_owned()),
            _ => {}
        }
    }
    Ok(found)
}

/// Whether git will run our `kind` hook in `repo`: `git hook list` names it (scopes, and any
/// `enabled = false`, as git itself weighs them).
pub(crate) fn listed_by_git(repo: &crate::repo::Repo, kind: HookKind) -> Result<bool> {
    let listed = repo
        .git_stdout(&["hook", "list", "-z", kind.name()])?
        .unwrap_or_default();
    let ours = name(kind);
    Ok(listed
        .split(|&b| b == 0 || b == b'\n')
        .any(|item| item == ours.as_bytes()))
}

/// One change to the repository's config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Our entry for `kind` written (new, or upgraded to `command`).
    Set {
        config: PathBuf,
        kind: HookKind,
        command: String,
    },
    /// Ours already, as it should be.
    Unchanged { kind: HookKind },
    /// Our entry for `kind` removed.
    Remove { config: PathBuf, kind: HookKind },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Set { config, kind, .. } => write!(
                f,
                "set config-based hook hook.{}.command (event {}) in {}",
                name(*kind),
                kind.name(),
                quoted(config)
            ),
            Self::Unchanged { kind } => write!(f, "keep config-based hook hook.{} (up to date)", name(*kind)),
            Self::Remove { config, kind } => {
                write!(
                    f,
                    "remove config-based hook hook.{} from {}",
                    name(*kind),
                    quoted(config)
                )
            }
        }
    }
}

impl Step {
    pub(crate) fn changes_something(&self) -> bool {
        !matches!(self, Self::Unchanged { .. })
    }
}

/// The steps that give `config` our entries for `kinds`, each running `binary`.
pub(crate) fn plan_install(config: &Path, kinds: &[HookKind], binary: &Path) -> Result<Vec<Step>> {
    let existing = read(config)?;
    let mut steps = Vec::new();
    for &kind in kinds {
        let command = render(kind, binary)?;
        let wanted = Entry {
            command: Some(command.clone()),
            events: vec![kind.name().to_owned()],
            enabled: None,
        };
        steps.push(if existing.get(&kind) == Some(&wanted) {
            Step::Unchanged { kind }
        } else {
            Step::Set {
                config: config.to_path_buf(),
                kind,
                command,
            }
        });
    }
    Ok(steps)
}

/// The steps that remove every entry of ours from `config`.
pub(crate) fn plan_uninstall(config: &Path) -> Result<Vec<Step>> {
    Ok(read(config)?
        .into_keys()
        .map(|kind| Step::Remove {
            config: config.to_path_buf(),
            kind,
        })
        .collect())
}

pub(crate) fn apply(steps: &[Step]) -> Result<()> {
    for step in steps {
        match step {
            Step::Set {
                config,
                kind,
                command,
            } => {
                let key = |variable: &str| format!("hook.{}.{variable}", name(*kind));
                git_config(config, &[&key("command"), command])?;
                git_config(config, &["--replace-all", &key("event"), kind.name()])?;
                // Someone's `enabled = false` is what made this step necessary: ours runs again.
                git_config_allow_unset(config, &["--unset-all", &key("enabled")])?;
            }
            Step::Remove { config, kind } => {
                git_config(config, &["--remove-section", &format!("hook.{}", name(*kind))])?;
            }
            Step::Unchanged { .. } => {}
        }
    }
    Ok(())
}

fn git_config(config: &Path, args: &[&str]) -> Result<()> {
    run_git_config(config, args, false)
}

/// [`git_config`] for `--unset-all`, where nothing to unset (exit 5) is fine.
fn git_config_allow_unset(config: &Path, args: &[&str]) -> Result<()> {
    run_git_config(config, args, true)
}

fn run_git_config(config: &Path, args: &[&str], nothing_to_unset_is_fine: bool) -> Result<()> {
    let output = git::command()
        .arg("config")
        .arg("--file")
        .arg(config)
        .args(args)
        .output()
        .context("running git config (is git installed?)")?;
    if nothing_to_unset_is_fine && output.status.code() == Some(5) {
        return Ok(());
    }
    if !output.status.success() {
        bail!(
            "git config {} in {} failed: {}",
            args.first().copied().unwrap_or_default(),
            quoted(config),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
