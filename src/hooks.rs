//! Rendering the hooks, recognising our own, chaining and restoring the user's.
//!
//! Install and uninstall are computed as a list of [`Step`]s from what is in the hooks
//! directory, shown as is by `--dry-run`, and only then carried out. A hook that is not ours is
//! renamed to `<hook>.before-repo-sync` and run by ours first; uninstall renames it back, so it
//! comes back byte for byte.

use std::borrow::Cow;
use std::fmt;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use handlebars::Handlebars;
use serde::Serialize;

/// The line that marks a hook as ours.
pub const MARKER: &str = "# git-repo-sync managed hook";
/// Bumped when the templates change, so `install` upgrades hooks it wrote earlier.
pub const TEMPLATE_VERSION: u32 = 2;
/// Where a hook that was there before install is kept, next to ours.
pub const SAVED_SUFFIX: &str = ".before-repo-sync";

/// The hooks git-repo-sync writes.
///
/// A work tree gets `post-commit` (commit, amend, cherry-pick, revert), `post-merge` (merge,
/// pull) and `post-rewrite` (rebase). Not `reference-transaction`: git runs it about six times
/// per commit, which alone costs more than the whole hook budget; tag creation and branch
/// deletion reach the mirrors with the next trigger or `git-repo-sync sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    PostCommit,
    PostMerge,
    PostRewrite,
    PostReceive,
}

impl HookKind {
    pub const ALL: [Self; 4] = [
        Self::PostCommit,
        Self::PostMerge,
        Self::PostRewrite,
        Self::PostReceive,
    ];
    const WORK_TREE: [Self; 3] = [Self::PostCommit, Self::PostMerge, Self::PostRewrite];
    const BARE: [Self; 1] = [Self::PostReceive];

    /// The hooks a repository needs.
    pub fn for_repo(bare: bool) -> &'static [Self] {
        if bare { &Self::BARE } else { &Self::WORK_TREE }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::PostCommit => "post-commit",
            Self::PostMerge => "post-merge",
            Self::PostRewrite => "post-rewrite",
            Self::PostReceive => "post-receive",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    fn template(self) -> &'static str {
        match self {
            Self::PostCommit => include_str!("../templates/post-commit.hbs"),
            Self::PostMerge => include_str!("../templates/post-merge.hbs"),
            Self::PostRewrite => include_str!("../templates/post-rewrite.hbs"),
            Self::PostReceive => include_str!("../templates/post-receive.hbs"),
        }
    }
}

#[derive(Serialize)]
struct TemplateData<'a> {
    binary: &'a str,
    version: String,
}

/// Quotes a value for a POSIX shell. Handlebars calls this for every `{{value}}`, so nothing
/// reaches a generated script unquoted.
fn shell_quote(value: &str) -> String {
    // `render` refuses NUL before rendering, the one thing shlex cannot quote.
    shlex::try_quote(value).map_or_else(|_| "''".to_owned(), Cow::into_owned)
}

/// The text of our `kind` hook, which runs `binary`.
pub fn render(kind: HookKind, binary: &Path) -> Result<String> {
    let Some(binary) = binary.to_str() else {
        bail!(
            "the path of git-repo-sync ({}) is not UTF-8 and cannot go into a hook; pass --hook-binary",
            binary.display()
        );
    };
    if binary.contains('\0') {
        bail!("the path of git-repo-sync contains NUL");
    }
    let mut engine = Handlebars::new();
    engine.set_strict_mode(true);
    engine.register_escape_fn(shell_quote);
    engine
        .register_partial(
            "find-binary",
            include_str!("../templates/partials/find-binary.hbs"),
        )
        .context("loading hook template find-binary")?;
    engine
        .register_partial("trigger", include_str!("../templates/partials/trigger.hbs"))
        .context("loading hook template trigger")?;
    let data = TemplateData {
        binary,
        version: TEMPLATE_VERSION.to_string(),
    };
    engine
        .render_template(kind.template(), &data)
        .with_context(|| format!("rendering the {} hook", kind.name()))
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

/// What a hook file holds, as far as we care.
#[derive(Debug, PartialEq, Eq)]
enum Existing {
    Absent,
    Ours(Vec<u8>),
    /// A file or a symlink (even a dangling one) that is not ours: chainable by renaming it.
    Foreign,
    /// A directory or something else git could not run and we cannot chain.
    Unusable,
}

fn inspect(path: &Path) -> Result<Existing> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Absent),
        Err(err) => return Err(err).with_context(|| format!("inspecting {}", path.display())),
    };
    if meta.file_type().is_symlink() {
        return Ok(Existing::Foreign);
    }
    if !meta.is_file() {
        return Ok(Existing::Unusable);
    }
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if is_ours(&bytes) {
        Ok(Existing::Ours(bytes))
    } else {
        Ok(Existing::Foreign)
    }
}

/// Whether a hook's text carries our marker line.
pub fn is_ours(bytes: &[u8]) -> bool {
    bytes
        .split(|&b| b == b'\n')
        .take(5)
        .any(|line| line == MARKER.as_bytes())
}

fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

fn saved_path(hook: &Path) -> PathBuf {
    let mut name = hook.file_name().unwrap_or_default().to_os_string();
    name.push(SAVED_SUFFIX);
    hook.with_file_name(name)
}

/// One change to a hooks directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
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
    /// Our hook removed; nothing was there before.
    Remove { path: PathBuf },
    /// Our hook (if still there) removed and the user's earlier hook put back.
    Restore { path: PathBuf, saved: PathBuf },
    /// Something we leave alone, and why.
    Leave { path: PathBuf, why: String },
}

impl Step {
    pub fn changes_something(&self) -> bool {
        !matches!(self, Self::Unchanged { .. } | Self::Leave { .. })
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Create { path, .. } => write!(f, "write {}", path.display()),
            Self::Upgrade { path, .. } => write!(f, "update {}", path.display()),
            Self::Unchanged { path } => write!(f, "keep {} (up to date)", path.display()),
            Self::Chain {
                path,
                saved,
                discard_saved,
                ..
            } => {
                if *discard_saved {
                    write!(f, "delete {} (--force), ", saved.display())?;
                }
                write!(
                    f,
                    "keep existing {} as {} (it still runs first), write {}",
                    path.display(),
                    saved.display(),
                    path.display()
                )
            }
            Self::Remove { path } => write!(f, "remove {}", path.display()),
            Self::Restore { path, saved } => write!(f, "restore {} from {}", path.display(), saved.display()),
            Self::Leave { path, why } => write!(f, "leave {}: {why}", path.display()),
        }
    }
}

/// The steps that put our hooks for `kinds` into `hooks_dir`.
///
/// Fails, before anything is written, when `hooks_dir` is not a directory or hooks cannot be
/// written into it (or, when it does not exist yet, into the directory it would be created in).
pub fn plan_install(hooks_dir: &Path, kinds: &[HookKind], binary: &Path, force: bool) -> Result<Vec<Step>> {
    let base = existing_base(hooks_dir)?;
    let mut steps = Vec::new();
    for &kind in kinds {
        let path = hooks_dir.join(kind.name());
        let saved = saved_path(&path);
        let text = render(kind, binary)?;
        steps.push(match inspect(&path)? {
            Existing::Absent => Step::Create { path, text },
            Existing::Ours(bytes) if bytes == text.as_bytes() => Step::Unchanged { path },
            Existing::Ours(_) => Step::Upgrade { path, text },
            Existing::Foreign if exists(&saved) && !force => bail!(
                "{} is not a git-repo-sync hook, and an earlier hook is already kept at {}; one of \
                 them would be lost. Move one away, or pass --force to chain {} and delete the older {}",
                path.display(),
                saved.display(),
                path.display(),
                saved.display()
            ),
            Existing::Foreign => Step::Chain {
                discard_saved: exists(&saved),
                path,
                saved,
                text,
            },
            Existing::Unusable => bail!(
                "{} is not a file git can run (a directory?); move it away and run install again",
                path.display()
            ),
        });
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
                    hooks_dir.display(),
                    base.display()
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
                hooks_dir.display(),
                candidate.display()
            ),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                return Err(err)
                    .with_context(|| format!("inspecting hooks directory {}", candidate.display()));
            }
        }
    }
    bail!("hooks directory {} has no existing parent", hooks_dir.display())
}

/// The steps that take our hooks out of `hooks_dir` and put back what was there.
pub fn plan_uninstall(hooks_dir: &Path) -> Result<Vec<Step>> {
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
            Existing::Foreign | Existing::Unusable if has_saved => steps.push(Step::Leave {
                why: format!(
                    "it was replaced after install by a hook that is not ours; the earlier hook \
                     stays at {} for you to merge by hand",
                    saved.display()
                ),
                path,
            }),
            Existing::Absent | Existing::Foreign | Existing::Unusable => {}
        }
    }
    Ok(steps)
}

/// Carries out `steps`, creating the hooks directory if needed.
pub fn apply(hooks_dir: &Path, steps: &[Step]) -> Result<()> {
    if steps
        .iter()
        .any(|step| matches!(step, Step::Create { .. } | Step::Chain { .. }))
    {
        fs::create_dir_all(hooks_dir)
            .with_context(|| format!("creating hooks directory {}", hooks_dir.display()))?;
    }
    for step in steps {
        match step {
            Step::Create { path, text } | Step::Upgrade { path, text } => write_hook(path, text)?,
            Step::Chain {
                path,
                saved,
                text,
                discard_saved,
            } => {
                if *discard_saved {
                    fs::remove_file(saved).with_context(|| format!("deleting {}", saved.display()))?;
                }
                fs::rename(path, saved)
                    .with_context(|| format!("keeping {} as {}", path.display(), saved.display()))?;
                write_hook(path, text)?;
            }
            Step::Remove { path } => {
                fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
            }
            Step::Restore { path, saved } => {
                // rename replaces our hook atomically: at no moment is there no hook.
                fs::rename(saved, path)
                    .with_context(|| format!("restoring {} from {}", path.display(), saved.display()))?;
            }
            Step::Unchanged { .. } | Step::Leave { .. } => {}
        }
    }
    Ok(())
}

/// Writes an executable hook atomically: a reader never sees half a script.
fn write_hook(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let write = || -> std::io::Result<()> {
        let mut temp = tempfile::NamedTempFile::new_in(dir)?;
        temp.write_all(text.as_bytes())?;
        temp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o755))?;
        temp.persist(path)?;
        Ok(())
    };
    write().with_context(|| format!("writing hook {}", path.display()))
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
    fn quoted_values_reach_sh_unchanged_and_run_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        for hostile in [
            "/tmp/a b/$(touch pwned)",
            "`touch pwned`",
            "it's \"q\"; touch pwned",
            "~/*\n!",
        ] {
            let script = format!("v={}; printf %s \"$v\"", shell_quote(hostile));
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
    fn the_binary_path_is_quoted_in_the_hook() {
        let text = render(HookKind::PostCommit, Path::new("/tmp/$(touch pwned)/x")).expect("renders");
        assert!(
            text.contains(&format!("bin={}\n", shell_quote("/tmp/$(touch pwned)/x"))),
            "{text}"
        );
        assert!(!text.contains("bin=/tmp/$("), "{text}");
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
