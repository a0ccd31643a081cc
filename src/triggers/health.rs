//! Whether git will run our trigger: for each hook a repository needs, the hook git runs is ours
//! (or our config-based hook is set for a git that runs it), current, executable, and its binary
//! is there. Where it is not, what took its place and the command that puts it back.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use super::files::{self, Existing};
use super::{HookKind, Mechanism, config_hooks};
use crate::repo::Repo;
use crate::repo::quoted;

/// What triggers a repository's syncs, as `status --json` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Triggered {
    /// Config-based hooks.
    Config,
    /// Hook files.
    Files,
    /// Found below a configured root and never installed into: the schedule's `sync --all`.
    Schedule,
    /// Nothing of ours.
    None,
}

/// What `status` and `doctor` show of a repository's triggers.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Health {
    pub ok: bool,
    pub mechanism: Triggered,
    pub problems: Vec<Problem>,
    /// When git-repo-sync was last triggered, and by which hook.
    pub last_fired: Option<String>,
    pub last_fired_by: Option<String>,
    /// With config-based hooks: whether our hook files are beside them too, for a git older than
    /// 2.54 (always so with hook files alone).
    #[serde(skip)]
    pub older_git_fires: bool,
}

impl Health {
    /// A repository found below a configured root and never installed into: no trigger is
    /// expected, the schedule's `sync --all` syncs it.
    pub(crate) fn schedule_only() -> Self {
        Self {
            ok: true,
            mechanism: Triggered::Schedule,
            problems: Vec::new(),
            last_fired: None,
            last_fired_by: None,
            older_git_fires: false,
        }
    }
}

/// One hook that will not trigger us, why, and what puts it right.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Problem {
    pub hook: &'static str,
    pub problem: String,
    pub fix: String,
    /// The tool whose hook git runs instead of ours, where that can be told.
    pub replaced_by: Option<&'static str>,
}

const REINSTALL: &str = "git-repo-sync install";

/// Checks `repo`'s triggers; `git_runs_config_hooks` says whether the git on PATH runs
/// config-based hooks.
pub(crate) fn health(repo: &Repo, git_runs_config_hooks: bool) -> Result<Health> {
    let kinds = HookKind::for_repo(repo.is_bare());
    let entries = config_hooks::read(&repo.git_config_path())?;
    let hooks_dirs = repo.hooks_dirs()?;
    let fix = fix_command(repo);
    let mut problems = Vec::new();
    let mut mechanism = None;
    let mut older_git_fires = true;
    for &kind in kinds {
        let entry = entries
            .get(&kind)
            .filter(|entry| entry.command.is_some() && entry.events.iter().any(|e| e == kind.name()));
        if let Some(entry) = entry
            && git_runs_config_hooks
        {
            if !config_hooks::listed_by_git(repo, kind)? {
                problems.push(Problem {
                    hook: kind.name(),
                    problem: format!(
                        "our config-based hook hook.{name} is set, but `git hook list {}` does not \
                         show it, so git will not run it (hook.{name}.enabled = false?)",
                        kind.name(),
                        name = config_hooks::name(kind)
                    ),
                    fix: fix.clone(),
                    replaced_by: None,
                });
                continue;
            }
            mechanism.get_or_insert(Mechanism::ConfigHooks);
            for dir in &hooks_dirs {
                older_git_fires &= matches!(files::inspect(&dir.join(kind.name()))?, Existing::Ours(_));
            }
            let command = entry.command.as_deref().unwrap_or_default();
            if let Some(problem) = missing_binary(kind, command, &fix) {
                problems.push(problem);
            }
            continue;
        }
        let mut file_problems = Vec::new();
        for dir in &hooks_dirs {
            file_problems.extend(check_file(repo, dir, kind, &fix)?);
        }
        if file_problems.is_empty() {
            mechanism.get_or_insert(Mechanism::HookFiles);
            continue;
        }
        if entry.is_some() {
            let version = crate::git::version()
                .map(|(major, minor)| format!("{major}.{minor}"))
                .unwrap_or_else(|_| "?".to_owned());
            problems.push(Problem {
                hook: kind.name(),
                problem: format!(
                    "our config-based {} hook is set, but the git on PATH ({version}) does not run \
                     config-based hooks (2.54 and later do)",
                    kind.name()
                ),
                fix: format!("{fix} (writes hook files, which this git runs)"),
                replaced_by: None,
            });
        } else {
            problems.extend(file_problems);
        }
    }
    let (last_fired_by, last_fired) = last_fired(repo);
    Ok(Health {
        ok: problems.is_empty(),
        mechanism: match mechanism {
            Some(Mechanism::ConfigHooks) => Triggered::Config,
            Some(Mechanism::HookFiles) => Triggered::Files,
            None => Triggered::None,
        },
        problems,
        last_fired,
        last_fired_by,
        older_git_fires,
    })
}

/// `git-repo-sync install <path>`, runnable from anywhere.
fn fix_command(repo: &Repo) -> String {
    let path = repo.display_path().to_string_lossy();
    format!("{REINSTALL} {}", crate::shell::quote(&path))
}

fn missing_binary(kind: HookKind, script: &str, fix: &str) -> Option<Problem> {
    let binary = super::binary_of(script)?;
    if binary.is_file() || on_path("git-repo-sync") {
        return None;
    }
    Some(Problem {
        hook: kind.name(),
        problem: format!(
            "our {} hook runs {}, which is gone, and git-repo-sync is not on PATH",
            kind.name(),
            quoted(binary)
        ),
        fix: format!("install git-repo-sync again, then run {fix}"),
        replaced_by: None,
    })
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// What is wrong with the `kind` hook file in `dir`, the directory git runs hooks from.
fn check_file(repo: &Repo, dir: &Path, kind: HookKind, fix: &str) -> Result<Vec<Problem>> {
    let path = dir.join(kind.name());
    let problem = |problem: String, fix: String, replaced_by: Option<&'static str>| Problem {
        hook: kind.name(),
        problem,
        fix,
        replaced_by,
    };
    let strays = files::stray_copies(dir, kind);
    Ok(match files::inspect(&path)? {
        Existing::Ours(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let mut found = Vec::new();
            let executable = fs::metadata(&path).is_ok_and(|meta| meta.permissions().mode() & 0o111 != 0);
            if !executable {
                found.push(problem(
                    format!("{} is ours but not executable, so git skips it", quoted(&path)),
                    format!("chmod +x {} (or {fix})", quoted(&path)),
                    None,
                ));
            }
            let current = format!("# git-repo-sync-template-version: {}", files::TEMPLATE_VERSION);
            if !text.lines().any(|line| line == current) {
                found.push(problem(
                    format!("{} was written by an older git-repo-sync", quoted(path)),
                    fix.to_owned(),
                    None,
                ));
            }
            found.extend(missing_binary(kind, &text, fix));
            found
        }
        Existing::Absent => {
            let stranded = stranded_copy(repo, dir, kind);
            let mut what = format!(
                "there is no {} hook in {}, where git runs hooks: nothing triggers a sync",
                kind.name(),
                quoted(dir)
            );
            if let Some(stranded) = &stranded {
                what.push_str(&format!(
                    " (ours is at {}, where git no longer looks since core.hooksPath moved)",
                    quoted(stranded)
                ));
            }
            vec![problem(what, fix.to_owned(), husky_dir(dir).then_some("husky"))]
        }
        Existing::Foreign => {
            let tool = identify(&path, dir);
            let by = tool.map_or_else(String::new, |tool| format!(" ({tool})"));
            let mut what = format!(
                "{} is not ours{by}: git runs it instead of our trigger",
                quoted(path)
            );
            if let Some(stray) = strays.first() {
                what.push_str(&format!("; ours was moved to {}", quoted(stray)));
            }
            vec![problem(
                what,
                format!("{fix} (chains it: it keeps running first)"),
                tool,
            )]
        }
        Existing::Unusable => vec![problem(
            format!("{} is not a file git can run", quoted(&path)),
            format!("move {} away, then run {fix}", quoted(path)),
            None,
        )],
    })
}

/// Our `kind` hook in the default hooks directory while git looks in `dir` instead.
fn stranded_copy(repo: &Repo, dir: &Path, kind: HookKind) -> Option<PathBuf> {
    let default = repo.common_dir.join("hooks");
    if default == dir {
        return None;
    }
    let path = default.join(kind.name());
    matches!(files::inspect(&path), Ok(Existing::Ours(_))).then_some(path)
}

fn husky_dir(dir: &Path) -> bool {
    dir.ends_with(".husky/_")
}

/// The hook manager a foreign hook belongs to, where its text or place tells.
fn identify(path: &Path, dir: &Path) -> Option<&'static str> {
    if husky_dir(dir) {
        return Some("husky");
    }
    if let Ok(target) = fs::read_link(path) {
        return target
            .to_string_lossy()
            .contains("gitolite")
            .then_some("gitolite");
    }
    let text = fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&text[..text.len().min(8192)]).to_lowercase();
    // prek's scripts mention pre-commit too: look for it first.
    ["lefthook", "prek", "pre-commit", "husky", "gitolite"]
        .into_iter()
        .find(|tool| text.contains(tool))
}

/// `(hook, timestamp)` of the last trigger, from the record the hook writes.
fn last_fired(repo: &Repo) -> (Option<String>, Option<String>) {
    super::record::read(repo).map_or((None, None), |record| (Some(record.hook), Some(record.at)))
}
