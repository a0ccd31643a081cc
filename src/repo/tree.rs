//! Finding the repositories below a directory.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

/// Every repository below `root`: a work tree (a directory with `.git`) or a bare repository
/// (`HEAD`, `objects/` and `refs/`). Git directories are not searched, nor work trees unless
/// `nested` (submodules, clones inside clones); symlinked directories are not followed.
pub(crate) fn find_below(root: &Path, nested: bool) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(root).with_context(|| format!("reading {}", super::quoted(root)))?;
    if !meta.is_dir() {
        bail!(
            "{} is not a directory to search for repositories",
            super::quoted(root)
        );
    }
    let mut found = Vec::new();
    walk(root, nested, &mut found);
    found.sort();
    Ok(found)
}

fn walk(dir: &Path, nested: bool, found: &mut Vec<PathBuf>) {
    if is_bare(dir) {
        found.push(dir.to_path_buf());
        return;
    }
    let work_tree = std::fs::symlink_metadata(dir.join(".git")).is_ok();
    if work_tree {
        found.push(dir.to_path_buf());
        if !nested {
            return;
        }
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut children: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
        .filter(|entry| entry.file_name() != ".git")
        .map(|entry| entry.path())
        .collect();
    children.sort();
    for child in children {
        walk(&child, nested, found);
    }
}

fn is_bare(dir: &Path) -> bool {
    dir.join("HEAD").is_file() && dir.join("objects").is_dir() && dir.join("refs").is_dir()
}
