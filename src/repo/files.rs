//! The one list of what git-repo-sync keeps in a repository's common git dir. Everything we
//! write there is named here, so that `uninstall --purge` removes exactly what we wrote, and a
//! new file cannot be forgotten by it.

use std::path::{Path, PathBuf};

/// A file or directory of ours in the common git dir.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// The mirrors and their settings.
    Config,
    /// Taken while a command edits the config.
    ConfigLock,
    /// What `status` shows: each mirror's last attempt.
    State,
    /// What the background worker printed.
    Log,
    /// The log before the last rotation.
    OldLog,
    /// Held by the one pass (worker or foreground) that may run.
    SyncLock,
    /// Marks that refs changed since the worker's pass began.
    Pending,
    /// The running worker's pid, so that a hook in a burst of commits, finding a sync marked
    /// and that worker alive, starts nothing.
    Worker,
    /// The failure notice a background pass leaves for the next command.
    Notice,
    /// When and by which hook we were last triggered.
    TriggerRecord,
    /// The refs each mirror last took in full, one file per mirror.
    KnownRefs,
    /// The markers of passes writing into a mirror on this machine, for crash repair.
    Inflight,
    /// `up` and `down`: a private git dir per target, with the snapshot both sides share.
    WorkTreeCopies,
    /// Which git last ran our config-based hook, so that our hook file of the same event, which
    /// that git runs next, asks for nothing more.
    HookRan,
    /// The LFS objects each mirror elsewhere was given through git-lfs, one file per mirror.
    LfsGiven,
}

impl Kept {
    /// Everything we keep, for `uninstall --purge`.
    pub const ALL: [Self; 15] = [
        Self::Config,
        Self::ConfigLock,
        Self::State,
        Self::Log,
        Self::OldLog,
        Self::SyncLock,
        Self::Pending,
        Self::Worker,
        Self::Notice,
        Self::TriggerRecord,
        Self::KnownRefs,
        Self::Inflight,
        Self::WorkTreeCopies,
        Self::HookRan,
        Self::LfsGiven,
    ];

    /// Its name in the common git dir.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Config => "repo-sync.toml",
            Self::ConfigLock => "repo-sync.toml.lock",
            Self::State => "repo-sync-state.json",
            Self::Log => "repo-sync.log",
            Self::OldLog => "repo-sync.log.old",
            Self::SyncLock => "repo-sync.lock",
            Self::Pending => "repo-sync.pending",
            Self::Worker => "repo-sync.worker",
            Self::Notice => "repo-sync.notice",
            Self::TriggerRecord => "repo-sync.trigger",
            Self::KnownRefs => "repo-sync-refs",
            Self::Inflight => "repo-sync-inflight",
            Self::WorkTreeCopies => "repo-sync-worktree",
            Self::HookRan => "repo-sync.hook-ran",
            Self::LfsGiven => "repo-sync-lfs",
        }
    }

    /// Its path in the common git dir `common_dir`.
    pub fn in_dir(self, common_dir: &Path) -> PathBuf {
        common_dir.join(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_ours_and_listed_once() {
        let mut names: Vec<&str> = Kept::ALL.iter().map(|kept| kept.name()).collect();
        assert!(
            names.iter().all(|name| name.starts_with("repo-sync")),
            "{names:?}"
        );
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Kept::ALL.len(), "a name given twice");
    }
}
