//! Hook files: rendering ours, recognising ours wherever a hook manager moved it, chaining the
//! user's hook and putting it back.
//!
//! A hook that is not ours is renamed to `<hook>.before-repo-sync` and run by ours first, as if
//! it still sat at its own path; uninstall renames it back, so it comes back byte for byte.

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::Serialize;

use super::HookKind;
use crate::repo::{Kept, quoted};

/// The line that marks a hook as ours.
pub(crate) const MARKER: &str = "# git-repo-sync managed hook";
/// Bumped when the templates change, so `install` upgrades hooks it wrote earlier.
pub(crate) const TEMPLATE_VERSION: u32 = 6;
/// Where a hook that was there before install is kept, next to ours.
pub(crate) const SAVED_SUFFIX: &str = ".before-repo-sync";

fn template(kind: HookKind) -> &'static str {
    match kind {
        HookKind::PostCommit => include_str!("../../templates/post-commit.hbs"),
        HookKind::PostMerge => include_str!("../../templates/post-merge.hbs"),
        HookKind::PostRewrite => include_str!("../../templates/post-rewrite.hbs"),
        HookKind::PostApplypatch => include_str!("../../templates/post-applypatch.hbs"),
        HookKind::PostReceive => include_str!("../../templates/post-receive.hbs"),
    }
}

#[derive(Serialize)]
struct TemplateData<'a> {
    binary: &'a str,
    version: String,
    /// The names of the pending mark and of the worker's pid file in the git dir.
    pending: &'static str,
    worker: &'static str,
}

/// The text of our `kind` hook, which runs `binary`.
pub(crate) fn render(kind: HookKind, binary: &Path) -> Result<String> {
    let data = TemplateData {
        binary: super::binary_str(binary)?,
        version: TEMPLATE_VERSION.to_string(),
        pending: Kept::Pending.name(),
        worker: Kept::Worker.name(),
    };
    super::engine()?
        .render_template(template(kind), &data)
        .with_context(|| format!("rendering the {} hook", kind.name()))
}

/// What a hook file holds, as far as we care.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Existing {
    Absent,
    Ours(Vec<u8>),
    /// A file or a symlink (even a dangling one) that is not ours: chainable by renaming it.
    Foreign,
    /// A directory or something else git could not run and we cannot chain.
    Unusable,
}

pub(super) fn inspect(path: &Path) -> Result<Existing> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Absent),
        Err(err) => return Err(err).with_context(|| format!("inspecting {}", quoted(path))),
    };
    if meta.file_type().is_symlink() {
        return Ok(Existing::Foreign);
    }
    if !meta.is_file() {
        return Ok(Existing::Unusable);
    }
    let bytes = fs::read(path).with_context(|| format!("reading {}", quoted(path)))?;
    if is_ours(&bytes) {
        Ok(Existing::Ours(bytes))
    } else {
        Ok(Existing::Foreign)
    }
}

/// Whether a hook's text carries our marker line.
pub(crate) fn is_ours(bytes: &[u8]) -> bool {
    bytes
        .split(|&b| b == b'\n')
        .take(5)
        .any(|line| line == MARKER.as_bytes())
}

fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// Whether two hooks are the same hook: symlinks to the same target, or files with the same bytes.
/// A manager that re-installs itself writes the hook it wrote before; that one is already kept.
fn same_hook(a: &Path, b: &Path) -> bool {
    let (Ok(meta_a), Ok(meta_b)) = (fs::symlink_metadata(a), fs::symlink_metadata(b)) else {
        return false;
    };
    match (meta_a.file_type().is_symlink(), meta_b.file_type().is_symlink()) {
        (true, true) => fs::read_link(a)
            .ok()
            .is_some_and(|t| fs::read_link(b).ok() == Some(t)),
        (false, false) if meta_a.is_file() && meta_b.is_file() && meta_a.len() == meta_b.len() => {
            matches!((fs::read(a), fs::read(b)), (Ok(x), Ok(y)) if x == y)
        }
        _ => false,
    }
}

pub(super) fn saved_path(hook: &Path) -> PathBuf {
    let mut name = hook.file_name().unwrap_or_default().to_os_string();
    name.push(SAVED_SUFFIX);
    hook.with_file_name(name)
}

/// Copies of our `kind` hook that a hook manager moved aside (lefthook's `<hook>.old`,
/// pre-commit's and prek's `<hook>.legacy`, ...): files named `<kind>.<something>` carrying our
/// marker.
pub(super) fn stray_copies(hooks_dir: &Path, kind: HookKind) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(hooks_dir) else {
        return Vec::new();
    };
    let prefix = format!("{}.", kind.name());
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|name| name.starts_with(&prefix) && !name.ends_with(SAVED_SUFFIX))
        })
        .map(|entry| entry.path())
        .filter(|path| matches!(inspect(path), Ok(Existing::Ours(_))))
        .collect();
    found.sort();
    found
}

/// One change to a hooks directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Our hook where there was none.
    Create { path: PathBuf, text: String },
    /// Our hook, rewritten (upgraded, or pointing at another binary).
    Upgrade { path: PathBuf, text: String },
    /// Ours already, byte for byte.
    Unchanged { path: PathBuf },
    /// The user's hook kept as `saved` and run by ours. With `discard_saved`, an older file at
    /// `saved` is deleted first (`--force`).
    Chain {
        path: PathBuf,
        saved: PathBuf,
        text: String,
        discard_saved: bool,
    },
    /// A hook identical to the one already kept as `saved` (a manager wrote it again): ours goes
    /// in its place, and the kept one still runs first.
    Rechain {
        path: PathBuf,
        saved: PathBuf,
        text: String,
    },
    /// A copy of our hook that a hook manager moved aside, removed.
    RemoveStray { path: PathBuf },
    /// Our hook removed; nothing was there before.
    Remove { path: PathBuf },
    /// Our hook (if still there) removed and the user's earlier hook put back.
    Restore { path: PathBuf, saved: PathBuf },
    /// The kept hook deleted: the hook in its place is the same one.
    DropDuplicate { path: PathBuf, saved: PathBuf },
    /// Something we leave alone, and why.
    Leave { path: PathBuf, why: String },
}

impl Step {
    pub(crate) fn changes_something(&self) -> bool {
        !matches!(self, Self::Unchanged { .. } | Self::Leave { .. })
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Create { path, .. } => write!(f, "write {}", quoted(path)),
            Self::Upgrade { path, .. } => write!(f, "update {}", quoted(path)),
            Self::Unchanged { path } => write!(f, "keep {} (up to date)", quoted(path)),
            Self::Chain {
                path,
                saved,
                discard_saved,
                ..
            } => {
                if *discard_saved {
                    write!(f, "delete {} (--force), ", quoted(saved))?;
                }
                write!(
                    f,
                    "keep existing {} as {} (it still runs first, as if at its own path), write {}",
                    quoted(path),
                    quoted(saved),
                    quoted(path)
                )
            }
            Self::Rechain { path, saved, .. } => write!(
                f,
                "write {} over a copy of {} (the same hook, already kept; it still runs first)",
                quoted(path),
                quoted(saved)
            ),
            Self::RemoveStray { path } => {
                write!(
                    f,
                    "remove {} (a copy of our hook that another tool moved aside)",
                    quoted(path)
                )
            }
            Self::Remove { path } => write!(f, "remove {}", quoted(path)),
            Self::Restore { path, saved } => write!(f, "restore {} from {}", quoted(path), quoted(saved)),
            Self::DropDuplicate { path, saved } => write!(
                f,
                "delete {} (the same hook stands at {})",
                quoted(saved),
                quoted(path)
            ),
            Self::Leave { path, why } => write!(f, "leave {}: {why}", quoted(path)),
        }
    }
}

/// The steps that put our hooks for `kinds` into `hooks_dir`.
///
/// Fails, before anything is written, when `hooks_dir` is not a directory or hooks cannot be
/// written into it (or, when it does not exist yet, into the directory it would be created in).
pub(crate) fn plan_install(
    hooks_dir: &Path,
    kinds: &[HookKind],
    binary: &Path,
    force: bool,
) -> Result<Vec<Step>> {
    plan(hooks_dir, kinds, binary, Mode::Chain { force })
}

/// The steps that keep our hooks for `kinds` in `hooks_dir` beside config-based hooks, for a git
/// too old to run those. Ours already there are kept up to date; with `write_new`, ours also goes
/// where no hook is. A hook that is not ours stays exactly as it is (a newer git runs our
/// config-based hook before it).
pub(crate) fn plan_beside_config_hooks(
    hooks_dir: &Path,
    kinds: &[HookKind],
    binary: &Path,
    write_new: bool,
) -> Result<Vec<Step>> {
    plan(hooks_dir, kinds, binary, Mode::Beside { write_new })
}

/// What `plan` does with a hook file that is not ours.
#[derive(Clone, Copy)]
enum Mode {
    /// Ours takes its place and runs it (`force`: even over a different hook kept before).
    Chain { force: bool },
    /// Left alone (said so where ours would have gone, `write_new`).
    Beside { write_new: bool },
}

fn plan(hooks_dir: &Path, kinds: &[HookKind], binary: &Path, mode: Mode) -> Result<Vec<Step>> {
    let base = existing_base(hooks_dir)?;
    let mut steps = Vec::new();
    for &kind in kinds {
        let path = hooks_dir.join(kind.name());
        let saved = saved_path(&path);
        let text = render(kind, binary)?;
        let existing = inspect(&path)?;
        let force = match mode {
            Mode::Chain { force } => force,
            Mode::Beside { write_new } => {
                steps.extend(match existing {
                    Existing::Absent if write_new => Some(Step::Create { path, text }),
                    Existing::Ours(bytes) if bytes == text.as_bytes() => Some(Step::Unchanged { path }),
                    Existing::Ours(_) => Some(Step::Upgrade { path, text }),
                    Existing::Foreign | Existing::Unusable if write_new => Some(Step::Leave {
                        path,
                        why: "not ours, left as it is: git 2.54 and later run our config-based hook \
                              before it; an older git runs only it"
                            .to_owned(),
                    }),
                    Existing::Absent | Existing::Foreign | Existing::Unusable => None,
                });
                steps.extend(
                    stray_copies(hooks_dir, kind)
                        .into_iter()
                        .map(|path| Step::RemoveStray { path }),
                );
                continue;
            }
        };
        steps.push(match existing {
            Existing::Absent => Step::Create { path, text },
            Existing::Ours(bytes) if bytes == text.as_bytes() => Step::Unchanged { path },
            Existing::Ours(_) => Step::Upgrade { path, text },
            Existing::Foreign if same_hook(&path, &saved) => Step::Rechain { path, saved, text },
            Existing::Foreign if exists(&saved) && !force => bail!(
                "{} is not a git-repo-sync hook, and a different earlier hook is already kept at {}; \
                 one of them would be lost. Move one away, or pass --force to chain {} and delete \
                 the older {}",
                quoted(&path),
                quoted(&saved),
                quoted(path),
                quoted(saved)
            ),
            Existing::Foreign => Step::Chain {
                discard_saved: exists(&saved),
                path,
                saved,
                text,
            },
            Existing::Unusable => bail!(
                "{} is not a file git can run (a directory?); move it away and run install again",
                quoted(path)
            ),
        });
        steps.extend(
            stray_copies(hooks_dir, kind)
                .into_iter()
                .map(|path| Step::RemoveStray { path }),
        );
    }
    if steps.iter().any(Step::changes_something) {
        // Found out now, not after the config was written and the mirror created. (Root is
        // not stopped by permission bits, so try rather than look at the mode.)
        tempfile::Builder::new()
            .prefix(".git-repo-sync-probe")
            .tempfile_in(&base)
            .with_context(|| {
                format!(
                    "hooks directory {} is not writable (creating a file in {} failed); make it \
                     writable or point core.hooksPath at a directory you can write",
                    quoted(hooks_dir),
                    quoted(base)
                )
            })?;
    }
    Ok(steps)
}

/// `hooks_dir` if it is there, else the nearest parent that is, where it would be created;
/// either must be a directory.
fn existing_base(hooks_dir: &Path) -> Result<PathBuf> {
    for candidate in hooks_dir.ancestors() {
        match fs::metadata(candidate) {
            Ok(meta) if meta.is_dir() => return Ok(candidate.to_path_buf()),
            Ok(_) => bail!(
                "hooks directory {} cannot be used: {} is not a directory (a file?); move it away \
                 or point core.hooksPath at a directory",
                quoted(hooks_dir),
                quoted(candidate)
            ),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                return Err(err).with_context(|| format!("inspecting hooks directory {}", quoted(candidate)));
            }
        }
    }
    bail!("hooks directory {} has no existing parent", quoted(hooks_dir))
}

/// The steps that take every hook file of ours out of `hooks_dir`, wherever a manager moved it,
/// and put back what was there.
pub(crate) fn plan_uninstall(hooks_dir: &Path) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    for kind in HookKind::ALL {
        let path = hooks_dir.join(kind.name());
        let saved = saved_path(&path);
        let has_saved = exists(&saved);
        match inspect(&path)? {
            Existing::Ours(_) if has_saved => steps.push(Step::Restore { path, saved }),
            Existing::Ours(_) => steps.push(Step::Remove { path }),
            // Our hook was deleted by someone; the user's earlier hook still belongs back.
            Existing::Absent if has_saved => steps.push(Step::Restore { path, saved }),
            Existing::Foreign if has_saved && same_hook(&path, &saved) => {
                steps.push(Step::DropDuplicate { path, saved });
            }
            Existing::Foreign | Existing::Unusable if has_saved => steps.push(Step::Leave {
                why: format!(
                    "it was replaced after install by a hook that is not ours; the earlier hook \
                     stays at {} for you to merge by hand",
                    quoted(saved)
                ),
                path,
            }),
            Existing::Absent | Existing::Foreign | Existing::Unusable => {}
        }
        steps.extend(
            stray_copies(hooks_dir, kind)
                .into_iter()
                .map(|path| Step::RemoveStray { path }),
        );
    }
    Ok(steps)
}

/// Carries out `steps`, creating a hooks directory where one is needed.
pub(crate) fn apply(steps: &[Step]) -> Result<()> {
    for step in steps {
        match step {
            Step::Create { path, text } | Step::Upgrade { path, text } | Step::Rechain { path, text, .. } => {
                write_hook(path, text)?;
            }
            Step::Chain {
                path,
                saved,
                text,
                discard_saved,
            } => {
                if *discard_saved {
                    fs::remove_file(saved).with_context(|| format!("deleting {}", quoted(saved)))?;
                }
                fs::rename(path, saved)
                    .with_context(|| format!("keeping {} as {}", quoted(path), quoted(saved)))?;
                write_hook(path, text)?;
            }
            Step::Remove { path } | Step::RemoveStray { path } => {
                fs::remove_file(path).with_context(|| format!("removing {}", quoted(path)))?;
            }
            Step::DropDuplicate { saved, .. } => {
                fs::remove_file(saved).with_context(|| format!("deleting {}", quoted(saved)))?;
            }
            Step::Restore { path, saved } => {
                // rename replaces our hook atomically: at no moment is there no hook.
                fs::rename(saved, path)
                    .with_context(|| format!("restoring {} from {}", quoted(path), quoted(saved)))?;
            }
            Step::Unchanged { .. } | Step::Leave { .. } => {}
        }
    }
    Ok(())
}

/// Writes an executable hook atomically: a reader never sees half a script.
fn write_hook(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("creating hooks directory {}", quoted(dir)))?;
    let write = || -> std::io::Result<()> {
        let mut temp = tempfile::NamedTempFile::new_in(dir)?;
        temp.write_all(text.as_bytes())?;
        temp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o755))?;
        temp.persist(path)?;
        Ok(())
    };
    write().with_context(|| format!("writing hook {}", quoted(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_carries_marker_and_version() {
        for kind in HookKind::ALL {
            let text = render(kind, Path::new("/usr/bin/git-repo-sync")).expect("renders");
            assert!(text.starts_with("#!/bin/sh\n"), "{text}");
            assert!(is_ours(text.as_bytes()), "{text}");
            assert!(
                text.contains(&format!("# git-repo-sync-template-version: {TEMPLATE_VERSION}\n")),
                "{text}"
            );
        }
    }

    #[test]
    fn the_binary_path_is_quoted_in_the_hook() {
        let text = render(HookKind::PostCommit, Path::new("/tmp/$(touch pwned)/x")).expect("renders");
        assert!(
            text.contains(&format!("bin={}\n", crate::shell::quote("/tmp/$(touch pwned)/x"))),
            "{text}"
        );
        assert!(!text.contains("bin=/tmp/$("), "{text}");
    }
}
