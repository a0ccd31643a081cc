//! Triggers: what makes git run `git-repo-sync hook <kind>` after a commit, merge, rebase or push,
//! and whether it still will.
//!
//! Two mechanisms. Where the git on PATH runs config-based hooks (2.54 and later), an entry
//! `hook.git-repo-sync-<kind>` in the repository's config ([`config_hooks`]): no one else's hook
//! file is touched, which ends the fight over hook files with every hook manager at once. Elsewhere, a
//! hook file rendered from `templates/` ([`files`]) that runs the hook that was there before as if
//! it still sat at its own path.
//!
//! A git that runs config-based hooks also runs the hook directory's file, so a hook file of ours
//! beside our config-based hook costs a second shell for every commit of a rebase. A work tree
//! therefore gets config-based hooks alone, and hook files beside them only when asked (`install
//! --hook-files`, for an older git that commits in the same repository; kept from then on). A
//! bare repository gets both: the `git-receive-pack` that sshd or gitolite runs is often an older
//! git than the admin's, and post-receive fires once per push. Both fire the same idempotent
//! trigger, so a git that runs both still costs one pass.
//!
//! Install and uninstall are computed as a list of [`Step`]s, shown as is by `--dry-run`, and only
//! then carried out. [`health`] tells whether git will run ours, and if not, what took its place.

pub(crate) mod config_hooks;
pub(crate) mod files;
mod health;
pub(crate) mod record;

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use handlebars::Handlebars;

use crate::repo::Repo;
use crate::repo::quoted;

pub(crate) use health::{Health, Triggered, health};

/// The hooks git-repo-sync is triggered by.
///
/// A work tree gets `post-commit` (commit, amend, cherry-pick, revert), `post-merge` (merge,
/// pull), `post-rewrite` (rebase) and `post-applypatch` (`git am`, which fires no post-commit).
/// In a sequence (a rebase, a cherry-pick or revert of several commits, an am of several
/// patches) the hooks fire only once, at its end (see `templates/partials/mid-sequence-*.hbs`).
/// Not `reference-transaction`: git runs it about six times per commit, which alone costs more
/// than the whole hook budget; tag creation and branch deletion reach the mirrors with the next
/// trigger or `git-repo-sync sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
// The names are git's own hooks', all of which happen to begin with `post-`.
#[allow(clippy::enum_variant_names)]
pub(crate) enum HookKind {
    PostCommit,
    PostMerge,
    PostRewrite,
    PostApplypatch,
    PostReceive,
}

impl HookKind {
    pub(crate) const ALL: [Self; 5] = [
        Self::PostCommit,
        Self::PostMerge,
        Self::PostRewrite,
        Self::PostApplypatch,
        Self::PostReceive,
    ];
    const WORK_TREE: [Self; 4] = [
        Self::PostCommit,
        Self::PostMerge,
        Self::PostRewrite,
        Self::PostApplypatch,
    ];
    const BARE: [Self; 1] = [Self::PostReceive];

    /// The hooks a repository needs.
    pub(crate) fn for_repo(bare: bool) -> &'static [Self] {
        if bare { &Self::BARE } else { &Self::WORK_TREE }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::PostCommit => "post-commit",
            Self::PostMerge => "post-merge",
            Self::PostRewrite => "post-rewrite",
            Self::PostApplypatch => "post-applypatch",
            Self::PostReceive => "post-receive",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// How a repository's triggers are installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mechanism {
    /// `hook.<name>.command` entries in the repository's config (git 2.54 and later).
    ConfigHooks,
    /// Hook files in the directory git runs hooks from.
    HookFiles,
}

impl Mechanism {
    /// What the git on PATH runs: config-based hooks where it has them.
    pub(crate) fn for_installed_git() -> Result<Self> {
        Ok(if crate::git::runs_config_hooks()? {
            Self::ConfigHooks
        } else {
            Self::HookFiles
        })
    }
}

/// The template engine for hooks: strict, every value shell-quoted, the partials loaded.
fn engine() -> Result<Handlebars<'static>> {
    let mut engine = Handlebars::new();
    engine.set_strict_mode(true);
    // Every `{{value}}` is shell-quoted, so nothing reaches a generated script unquoted (NUL,
    // the one thing that cannot be, is refused before rendering).
    engine.register_escape_fn(crate::shell::quote);
    for (name, text) in [
        (
            "find-binary",
            include_str!("../../templates/partials/find-binary.hbs"),
        ),
        ("trigger", include_str!("../../templates/partials/trigger.hbs")),
        (
            "run-saved",
            include_str!("../../templates/partials/run-saved.hbs"),
        ),
        ("git-dir", include_str!("../../templates/partials/git-dir.hbs")),
        (
            "mid-sequence-commit",
            include_str!("../../templates/partials/mid-sequence-commit.hbs"),
        ),
        (
            "mid-sequence-patch",
            include_str!("../../templates/partials/mid-sequence-patch.hbs"),
        ),
        (
            "config-hook-ran",
            include_str!("../../templates/partials/config-hook-ran.hbs"),
        ),
    ] {
        engine
            .register_partial(name, text)
            .with_context(|| format!("loading hook template {name}"))?;
    }
    Ok(engine)
}

/// The binary's path as it can go into a script: UTF-8, no NUL.
fn binary_str(binary: &Path) -> Result<&str> {
    let Some(text) = binary.to_str() else {
        bail!(
            "the path of git-repo-sync ({}) is not UTF-8 and cannot go into a hook; pass --hook-binary",
            quoted(binary)
        );
    };
    if text.contains('\0') {
        bail!("the path of git-repo-sync contains NUL");
    }
    Ok(text)
}

/// The binary a hook of ours runs: the value of its `bin=` assignment (a hook file's line, or
/// the start of a config-based hook's command).
pub(crate) fn binary_of(script: &str) -> Option<PathBuf> {
    script.lines().find_map(|line| {
        let word = shlex::Shlex::new(line.strip_prefix("bin=")?).next()?;
        Some(PathBuf::from(word))
    })
}

/// One line of post-receive's stdin, `<old-oid> <new-oid> <ref>`, or `None` when malformed.
pub fn parse_post_receive_line(line: &[u8]) -> Option<(&str, &str, &str)> {
    let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
    let mut parts = line.splitn(3, ' ');
    let (old, new, refname) = (parts.next()?, parts.next()?, parts.next()?);
    let is_oid = |s: &str| matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit());
    // One repository has one hash: git never writes a SHA-1 next to a SHA-256 id.
    (is_oid(old)
        && is_oid(new)
        && old.len() == new.len()
        && refname.starts_with("refs/")
        && !refname.contains(char::is_whitespace))
    .then_some((old, new, refname))
}

/// One change to a repository's triggers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    File(files::Step),
    Config(config_hooks::Step),
}

impl Step {
    /// Whether, once carried out, a hook file of ours is at the step's path.
    pub(crate) fn leaves_our_hook_file(&self) -> bool {
        matches!(
            self,
            Self::File(
                files::Step::Create { .. }
                    | files::Step::Upgrade { .. }
                    | files::Step::Unchanged { .. }
                    | files::Step::Chain { .. }
                    | files::Step::Rechain { .. }
            )
        )
    }

    pub(crate) fn changes_something(&self) -> bool {
        match self {
            Self::File(step) => step.changes_something(),
            Self::Config(step) => step.changes_something(),
        }
    }

    /// Whether it is worth telling the user even when it changes nothing.
    pub(crate) fn is_notable(&self) -> bool {
        self.changes_something() || matches!(self, Self::File(files::Step::Leave { .. }))
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(step) => step.fmt(f),
            Self::Config(step) => step.fmt(f),
        }
    }
}

/// Every directory a hook file of ours may sit in: where git runs hooks from, and the default
/// `hooks` directory, where ours stay behind when `core.hooksPath` moves elsewhere (husky).
fn every_hooks_dir(repo: &Repo) -> Result<Vec<PathBuf>> {
    let mut dirs = repo.hooks_dirs()?;
    let default = repo.common_dir.join("hooks");
    if !dirs.contains(&default) {
        dirs.push(default);
    }
    Ok(dirs)
}

/// The steps that make git run our trigger in `repo` through `mechanism`, running `binary`.
/// With config-based hooks, `hook_files` puts hook files beside them for an older git.
pub(crate) fn plan_install(
    repo: &Repo,
    binary: &Path,
    force: bool,
    mechanism: Mechanism,
    hook_files: bool,
) -> Result<Vec<Step>> {
    let kinds = HookKind::for_repo(repo.is_bare());
    let mut steps = Vec::new();
    match mechanism {
        Mechanism::ConfigHooks => {
            steps.extend(
                config_hooks::plan_install(&repo.git_config_path(), kinds, binary)?
                    .into_iter()
                    .map(Step::Config),
            );
            // An older git in the same repository (an IDE's, say) runs no config-based hook: it
            // gets our hook file, where asked for, wherever that moves no one else's hook.
            let write_new = hook_files || repo.is_bare();
            let live = repo.hooks_dirs_to_write()?;
            for dir in &live {
                steps.extend(
                    files::plan_beside_config_hooks(dir, kinds, binary, write_new)?
                        .into_iter()
                        .map(Step::File),
                );
            }
            steps.extend(plan_stranded(repo, &live)?);
        }
        Mechanism::HookFiles => {
            let live = repo.hooks_dirs_to_write()?;
            for dir in &live {
                steps.extend(
                    files::plan_install(dir, kinds, binary, force)?
                        .into_iter()
                        .map(Step::File),
                );
            }
            steps.extend(plan_stranded(repo, &live)?);
        }
    }
    Ok(steps)
}

/// Ours left where git no longer looks (`core.hooksPath` moved away from them) are taken out,
/// and what they chained is put back.
fn plan_stranded(repo: &Repo, live: &[PathBuf]) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    // What `every_hooks_dir` would ask git again: the live ones and the default.
    let default = repo.common_dir.join("hooks");
    for dir in std::iter::once(&default).filter(|dir| !live.contains(dir)) {
        steps.extend(
            files::plan_uninstall(dir)?
                .into_iter()
                .filter(|step| !matches!(step, files::Step::Leave { .. }))
                .map(Step::File),
        );
    }
    Ok(steps)
}

/// The steps that remove every trigger of ours from `repo`, wherever it ended up, and put back
/// every hook we chained.
pub(crate) fn plan_uninstall(repo: &Repo) -> Result<Vec<Step>> {
    let mut steps: Vec<Step> = config_hooks::plan_uninstall(&repo.git_config_path())?
        .into_iter()
        .map(Step::Config)
        .collect();
    for dir in every_hooks_dir(repo)? {
        steps.extend(files::plan_uninstall(&dir)?.into_iter().map(Step::File));
    }
    Ok(steps)
}

/// Carries out `steps`.
pub(crate) fn apply(steps: &[Step]) -> Result<()> {
    let mut file_steps = Vec::new();
    let mut config_steps = Vec::new();
    for step in steps {
        match step {
            Step::File(step) => file_steps.push(step.clone()),
            Step::Config(step) => config_steps.push(step.clone()),
        }
    }
    // The config entries first: on the way from hook files to config hooks, no commit in between
    // goes untriggered.
    config_hooks::apply(&config_steps)?;
    files::apply(&file_steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_reach_sh_unchanged_and_run_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        for hostile in [
            "/tmp/a b/$(touch pwned)",
            "`touch pwned`",
            "it's \"q\"; touch pwned",
            "~/*\n!",
        ] {
            let script = format!("v={}; printf %s \"$v\"", crate::shell::quote(hostile));
            let out = std::process::Command::new("sh")
                .args(["-c", &script])
                .current_dir(dir.path())
                .output()
                .expect("sh runs");
            assert_eq!(String::from_utf8_lossy(&out.stdout), hostile);
        }
        assert!(!dir.path().join("pwned").exists());
    }

    #[test]
    fn every_hook_file_and_config_command_is_valid_sh() {
        // The mid-sequence checks are one line shared by both: a slip there would only show as
        // a hook that fails in the middle of someone's rebase.
        let binary = Path::new("/opt/a b/git-repo-sync");
        for kind in HookKind::ALL {
            for script in [
                files::render(kind, binary).expect("renders"),
                config_hooks::render(kind, binary).expect("renders"),
            ] {
                let out = std::process::Command::new("sh")
                    .args(["-n", "-c", &script])
                    .output()
                    .expect("sh runs");
                assert!(
                    out.status.success(),
                    "{}: {}\n{script}",
                    kind.name(),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }

    #[test]
    fn post_receive_lines_are_parsed_strictly() {
        let zero = "0".repeat(40);
        let one = "1".repeat(40);
        let good = format!("{zero} {one} refs/heads/main");
        assert_eq!(
            parse_post_receive_line(good.as_bytes()),
            Some((zero.as_str(), one.as_str(), "refs/heads/main"))
        );
        for bad in [
            "",
            "garbage",
            &format!("{zero} {one}"),
            &format!("{zero} xyz refs/heads/a"),
            &format!("{zero} {one} HEAD"),
        ] {
            assert_eq!(parse_post_receive_line(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn post_receive_ids_of_two_hash_lengths_are_malformed() {
        // Found by `cargo fuzz run post_receive` (2026-11-26): a 40-digit and a 64-digit id on one
        // line were accepted, though git writes ids of the repository's one hash length.
        let found: &[u8] = b"000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa \
            00600000000000020AAAAAAAAAAAAAAAAAAAAAAAA00000000000000000000000 refs/s/v1.0\x04";
        assert_eq!(
            (found[40], found[105]),
            (b' ', b' '),
            "a 40-digit id, then a 64-digit one"
        );
        assert_eq!(parse_post_receive_line(found), None);
        let sha1 = "1".repeat(40);
        let sha256 = "2".repeat(64);
        for bad in [
            format!("{sha1} {sha256} refs/heads/main"),
            format!("{sha256} {sha1} refs/heads/main"),
        ] {
            assert_eq!(parse_post_receive_line(bad.as_bytes()), None, "{bad:?}");
        }
    }
}
