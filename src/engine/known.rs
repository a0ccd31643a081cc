//! The refs each mirror last took in full (`repo-sync-refs/<mirror>` in the git dir): what
//! `status` compares with to tell what is pending, and what tells the source's own rewrite
//! from a ref that diverged on the mirror.

use std::path::Path;

use anyhow::{Context as _, Result};

use super::plan::{Refs, local_refs, selected};
use crate::config::Mirror;
use crate::repo::{Kept, Repo};
use crate::state::State;

/// Forgets everything kept about mirror `name` (its state, the refs it last took): a mirror of
/// that name added later starts afresh. The caller holds the sync lock.
pub(crate) fn forget(repo: &Repo, name: &str) -> Result<()> {
    let state_path = repo.state_path();
    let mut state = State::read(&state_path).unwrap_or_default();
    if state.mirrors.remove(name).is_some() {
        state.save(&state_path)?;
    }
    super::lfs::forget(&repo.common_dir, name)
        .with_context(|| format!("forgetting the LFS objects given to mirror '{name}'"))?;
    let known = known_refs_path(repo, name);
    match std::fs::remove_file(&known) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            Err(err).with_context(|| format!("removing {}", crate::repo::quoted(&known)))
        }
        _ => Ok(()),
    }
}

fn known_refs_path(repo: &Repo, name: &str) -> std::path::PathBuf {
    known_refs_dir(&repo.common_dir).join(name)
}

fn known_refs_dir(common_dir: &Path) -> std::path::PathBuf {
    Kept::KnownRefs.in_dir(common_dir)
}

/// The refs `name` last took in full (`None` if it never did).
pub(crate) fn known_refs(repo: &Repo, name: &str) -> Option<Refs> {
    known_refs_in(&repo.common_dir, name)
}

pub(super) fn known_refs_in(common_dir: &Path, name: &str) -> Option<Refs> {
    let text = std::fs::read_to_string(known_refs_dir(common_dir).join(name)).ok()?;
    Some(
        text.lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(oid, name)| (name.to_owned(), oid.to_owned()))
            .collect(),
    )
}

pub(super) fn save_known_refs<'a>(
    repo: &Repo,
    name: &str,
    refs: impl Iterator<Item = (&'a String, &'a String)>,
) -> Result<()> {
    let path = known_refs_path(repo, name);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", crate::repo::quoted(dir)))?;
    }
    let mut text = String::new();
    for (refname, oid) in refs {
        text.push_str(oid);
        text.push(' ');
        text.push_str(refname);
        text.push('\n');
    }
    crate::config::write_atomically(&path, text.as_bytes())
        .with_context(|| format!("writing {}", crate::repo::quoted(&path)))
}

/// The refs whose value here differs from what `mirror` last took in full, or `None` when it
/// never did.
pub(crate) fn pending(repo: &Repo, name: &str, mirror: &Mirror) -> Result<Option<Vec<String>>> {
    let Some(known) = known_refs(repo, name) else {
        return Ok(None);
    };
    let local = local_refs(repo)?;
    let here: Refs = selected(mirror, &local)
        .map(|(n, o)| (n.clone(), o.clone()))
        .collect();
    let mut differing: Vec<String> = here
        .iter()
        .filter(|(refname, oid)| known.get(*refname) != Some(oid))
        .map(|(refname, _)| refname.clone())
        .collect();
    if mirror.prune {
        differing.extend(
            known
                .keys()
                .filter(|refname| !here.contains_key(*refname))
                .cloned(),
        );
    }
    differing.sort();
    Ok(Some(differing))
}
