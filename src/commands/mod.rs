//! One module per subcommand. Each parses nothing and decides nothing about git: it calls
//! `repo`, `config`, `hooks`, `push`, `worker` and prints.

pub(crate) mod config;
pub(crate) mod copy;
pub(crate) mod docs;
pub(crate) mod doctor;
pub(crate) mod hook;
pub(crate) mod install;
pub(crate) mod mirror;
pub(crate) mod reach;
pub(crate) mod schedule;
pub(crate) mod status;
pub(crate) mod sync;
pub(crate) mod uninstall;
pub(crate) mod verify;
pub(crate) mod worker;

use anyhow::{Context as _, Result, bail};

use crate::repo::Repo;
use crate::repo::quoted;
use crate::url::MirrorUrl;

/// Registers a repository whose trigger could not (it ran without HOME), now that a user with a
/// global git config is here. A failure is told and left for the next time; it never stops the
/// command.
pub(crate) fn register_deferred(repo: &Repo) {
    if let Err(err) = crate::triggers::record::register_deferred(repo) {
        eprintln!(
            "git-repo-sync: could not register {} for `sync --all`: {err:#}",
            quoted(repo.display_path())
        );
    }
}

/// Turns a URL typed on the command line into the one stored: a relative local path becomes
/// absolute against the current directory (hooks run elsewhere) and must exist, and the result
/// is parsed.
pub(crate) fn normalize_url(url: &str) -> Result<MirrorUrl> {
    if crate::url::is_relative_path(url) {
        let cwd = std::env::current_dir().context("finding the current directory")?;
        let absolute = cwd.join(url);
        // A new mirror is created only where the user spelled out where: a relative path to
        // nothing is more likely a typo than a wish for a bare repository right here.
        if !absolute.exists() {
            bail!(
                "mirror URL {url:?} is a relative path and {} does not exist; give an absolute \
                 path (a missing one is created as an empty bare mirror) or an existing mirror",
                quoted(absolute)
            );
        }
        return MirrorUrl::try_from(absolute).map_err(|why| anyhow::anyhow!("mirror path {url:?} {why}"));
    }
    MirrorUrl::parse(url).map_err(|why| anyhow::anyhow!("mirror URL {:?} {why}", crate::url::redacted(url)))
}

/// Whether `url` is a local path with nothing there yet, which [`prepare_local_mirror`] creates:
/// there is nothing to reach before that.
pub(crate) fn will_be_created(url: &MirrorUrl) -> bool {
    url.local_path().is_some_and(|path| !path.exists())
}

/// Makes sure a local mirror exists: an empty bare repository is created where nothing is, so
/// the first sync has somewhere to go. Sync itself never creates one (a missing mount point
/// must show as a failure, not fill the directory under it).
pub(crate) fn prepare_local_mirror(repo: &Repo, url: &MirrorUrl, dry_run: bool) -> Result<Option<String>> {
    let Some(path) = url.local_path() else {
        return Ok(None);
    };
    if path.exists() {
        if Repo::open(path).is_err() {
            bail!(
                "mirror path {} exists and is not a git repository; point the mirror at a bare repository \
                 or at a path that does not exist yet",
                quoted(path)
            );
        }
        return Ok(None);
    }
    if !dry_run {
        repo.init_bare_mirror(path)?;
    }
    Ok(Some(format!("create empty bare mirror {}", quoted(path))))
}
