//! What kind of repository a git dir holds, read without opening it: libgit2 opens neither
//! reftable refs nor SHA-256 objects (git 3's defaults), git does, and so must we.

use std::path::Path;
use std::process::Stdio;

use anyhow::{Context as _, Result, bail};

use crate::git;

/// How a repository names its objects: git's `extensions.objectFormat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectFormat {
    Sha1,
    Sha256,
}

impl ObjectFormat {
    /// The format of the repository whose (common) git dir is `git_dir`, from its config file:
    /// SHA-1 unless `extensions.objectFormat` says otherwise, as git reads it.
    pub fn of(git_dir: &Path) -> Result<Self> {
        let path = git_dir.join("config");
        let config = match git2::Config::open(&path) {
            Ok(config) => config,
            Err(err) if err.code() == git2::ErrorCode::NotFound => return Ok(Self::Sha1),
            Err(err) => bail!("reading {}: {}", super::quoted(&path), err.message()),
        };
        match config.get_string("extensions.objectformat") {
            Ok(name) => Self::from_name(&name).with_context(|| {
                format!(
                    "{} names the object format {name:?}, which git-repo-sync does not know",
                    super::quoted(&path)
                )
            }),
            Err(_) => Ok(Self::Sha1),
        }
    }

    /// `sha1` or `sha256`, as git names it in its config and options.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            _ => None,
        }
    }

    /// As git's options take it (`--object-format=sha256`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
        }
    }

    /// The one other format, for a mirror git refused as "not this repository's hash
    /// algorithm": there are two.
    pub fn other(self) -> Self {
        match self {
            Self::Sha1 => Self::Sha256,
            Self::Sha256 => Self::Sha1,
        }
    }
}

impl std::fmt::Display for ObjectFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Sha1 => "SHA-1",
            Self::Sha256 => "SHA-256",
        })
    }
}

/// The error for a mirror whose objects are named in another format than ours: git cannot move
/// a single object between them, and says only that the receiving end "does not support this
/// repository's hash algorithm".
pub(crate) fn mismatch(
    ours: ObjectFormat,
    mirror: ObjectFormat,
    mirror_path: Option<&Path>,
) -> anyhow::Error {
    let fix = match mirror_path {
        Some(path) => format!(
            "move it aside and let `git-repo-sync install` create it again, or run `git init --bare \
             --object-format={} {}`",
            ours.name(),
            crate::shell::quote_path(path)
        ),
        None => format!(
            "create the mirror anew as a {ours} repository (`git init --bare --object-format={}` on \
             the server, or a new {ours} repository at the forge)",
            ours.name()
        ),
    };
    anyhow::anyhow!(
        "the mirror holds {mirror} objects and this repository {ours} objects; git cannot push \
         between them: {fix}"
    )
}

/// Creates an empty bare repository at `path` (and its missing parents) with the user's git, so
/// that its defaults (the ref format among them) apply, with `format` objects and HEAD naming
/// `branch`, and without any template: a template directory with our hooks in it (`install
/// --template-dir`) must not make the mirror a source of its own.
pub(super) fn init_bare(path: &Path, format: ObjectFormat, branch: Option<&str>) -> Result<()> {
    let mut cmd = git::command();
    cmd.args(["init", "--quiet", "--bare", "--template="])
        .arg(format!("--object-format={}", format.name()));
    if let Some(branch) = branch {
        cmd.arg(format!("--initial-branch={branch}"));
    }
    let output = cmd
        .arg("--")
        .arg(path)
        .stdout(Stdio::null())
        .output()
        .context("running git init (is git installed?)")?;
    if !output.status.success() {
        bail!(
            "creating the bare mirror {}: {}",
            super::quoted(path),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repository_without_the_extension_is_sha1_and_one_with_it_is_what_it_says() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sha1 = dir.path().join("sha1.git");
        let sha256 = dir.path().join("sha256.git");
        init_bare(&sha1, ObjectFormat::Sha1, Some("trunk")).expect("git init");
        init_bare(&sha256, ObjectFormat::Sha256, None).expect("git init");
        assert_eq!(ObjectFormat::of(&sha1).expect("reads"), ObjectFormat::Sha1);
        assert_eq!(ObjectFormat::of(&sha256).expect("reads"), ObjectFormat::Sha256);
        let head = std::fs::read_to_string(sha1.join("HEAD")).expect("HEAD");
        assert_eq!(head.trim(), "ref: refs/heads/trunk");
        assert!(!sha1.join("hooks").exists(), "no template was copied");
    }

    #[test]
    fn a_mismatch_names_both_formats_and_the_fix() {
        let text = mismatch(
            ObjectFormat::Sha256,
            ObjectFormat::Sha1,
            Some(Path::new("/b/m.git")),
        )
        .to_string();
        assert!(
            text.contains("SHA-1 objects") && text.contains("SHA-256 objects"),
            "{text}"
        );
        assert!(text.contains("--object-format=sha256 /b/m.git"), "{text}");
    }
}
