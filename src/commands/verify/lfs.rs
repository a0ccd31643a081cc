//! The LFS objects our refs point at, checked in a mirror on this machine: the object a pointer
//! names lives in the git dir at `lfs/objects/OID[0:2]/OID[2:4]/OID`.

use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

pub(super) use crate::engine::lfs::{Pointer, pointers};
use crate::repo::quoted;

/// Whether LFS is in play: the repository or the mirror has an LFS object store. A repository
/// without one pays nothing for the check.
pub(super) fn in_use(common_dir: &Path, mirror_dir: &Path) -> bool {
    [common_dir, mirror_dir]
        .iter()
        .any(|dir| dir.join("lfs/objects").is_dir())
}

/// Where git-lfs keeps the object `oid` in the git dir `git_dir`.
fn object_path(git_dir: &Path, oid: &str) -> PathBuf {
    crate::engine::lfs::object_path(&git_dir.join("lfs/objects"), oid)
}

/// What is wrong with the LFS objects `pointers` name in the mirror's git dir `git_dir`:
/// missing (and whether the repository at `common_dir` lacks it too, as git-lfs leaves objects
/// of old commits unfetched), of another size, or (with `hash`, which reads them all) of other
/// content.
pub(super) fn check(git_dir: &Path, common_dir: &Path, pointers: &[Pointer], hash: bool) -> Vec<String> {
    pointers
        .iter()
        .filter_map(|pointer| problem(git_dir, common_dir, pointer, hash))
        .collect()
}

fn problem(git_dir: &Path, common_dir: &Path, pointer: &Pointer, hash: bool) -> Option<String> {
    let oid = &pointer.oid;
    let path = object_path(git_dir, oid);
    let found = match std::fs::metadata(&path) {
        Ok(meta) => meta.len(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let here_too = if object_path(common_dir, oid).exists() {
                ""
            } else {
                " (and from this repository too)"
            };
            return Some(format!("LFS object {oid} missing{here_too}"));
        }
        Err(err) => return Some(format!("LFS object {oid}: reading {}: {err}", quoted(&path))),
    };
    if found != pointer.size {
        return Some(format!(
            "LFS object {oid} is {found} bytes, its pointer says {}",
            pointer.size
        ));
    }
    if !hash {
        return None;
    }
    match sha256(&path) {
        Ok(digest) if digest == *oid => None,
        Ok(_) => Some(format!(
            "LFS object {oid} does not hash to its id: its content is corrupt"
        )),
        Err(err) => Some(format!("LFS object {oid}: reading {}: {err}", quoted(&path))),
    }
}

fn sha256(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(format!("{:x}", hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OID: &str = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393";

    #[test]
    fn an_lfs_object_lives_two_directories_down() {
        assert_eq!(
            object_path(Path::new("/m.git"), OID),
            Path::new("/m.git/lfs/objects/4d/7a").join(OID)
        );
    }
}
