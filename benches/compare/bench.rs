//! The state every figure shares (the generated source repository, its two mirrors) and the
//! commands that sync or push it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::Res;
use crate::common::{Repos as _, ms};
use crate::env::Env;
use crate::report::{Samples, alternate};

/// The refspecs the anchor pushes: what a mirror mirrors by default.
pub(crate) const REFSPECS: [&str; 2] = ["refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*"];

pub(crate) struct Bench<'a> {
    pub(crate) env: &'a Env,
    pub(crate) src: &'a Path,
    pub(crate) reps: usize,
    pub(crate) new_commits: usize,
}

impl Bench<'_> {
    pub(crate) fn ours_mirror(&self) -> PathBuf {
        self.env.root.join("mirror-ours.git")
    }
    pub(crate) fn anchor_mirror(&self) -> PathBuf {
        self.env.root.join("mirror-anchor.git")
    }

    /// The source's config names mirror `m` at `mirror-ours.git` (created by `mirror add`).
    pub(crate) fn ensure_configured(&self) -> Res<()> {
        configure(self.env, self.src, "m", &self.ours_mirror())
    }

    /// `sync` to `m` only (P5 adds more mirrors to the same source).
    pub(crate) fn sync(&self) -> Command {
        sync_cmd(self.env, self.src, &["m"])
    }

    pub(crate) fn push(&self, mirror: &Path) -> Command {
        push_cmd(self.env, self.src, &[], mirror)
    }

    /// Runs `ours` and `anchor` in an order that alternates with the repetition and records
    /// their wall-clock times.
    pub(crate) fn pair(
        &self,
        rep: usize,
        s: &mut Samples,
        ours: impl FnOnce() -> Res<Duration>,
        anchor: impl FnOnce() -> Res<Duration>,
    ) -> Res<()> {
        let (a, b) = alternate(rep, ours, anchor)?;
        s.ours.push(ms(a));
        s.anchor.push(ms(b));
        Ok(())
    }

    /// Brings both mirrors up to date, untimed (for P3 and P4 when P2 did not run or failed).
    pub(crate) fn ensure_up_to_date(&self) -> Res<()> {
        let a = self.anchor_mirror();
        if !a.exists() {
            self.env.fresh_bare(&a)?;
        }
        self.env.out(&mut self.push(&a))?;
        self.ensure_configured()?;
        if self.env.same_refs(self.src, &self.ours_mirror()).is_err() {
            self.env.out(&mut self.sync())?;
        }
        Ok(())
    }
}

/// `git-repo-sync sync -q` in `src`, to the named mirrors only.
pub(crate) fn sync_cmd(env: &Env, src: &Path, mirrors: &[impl AsRef<str>]) -> Command {
    let mut c = env.ours(src);
    c.args(["sync", "-q"]);
    for m in mirrors {
        c.args(["--mirror", m.as_ref()]);
    }
    c
}

/// `git push -q <options> <mirror>` of [`REFSPECS`] from `src`.
pub(crate) fn push_cmd(env: &Env, src: &Path, options: &[&str], mirror: &Path) -> Command {
    let mut c = env.git(src);
    c.args(["push", "-q"]).args(options).arg(mirror).args(REFSPECS);
    c
}

/// Adds mirror `name` at `path` to `src`'s configuration unless it is there already (`mirror
/// add` creates the bare repository).
pub(crate) fn configure(env: &Env, src: &Path, name: &str, path: &Path) -> Res<()> {
    let list = env
        .out(env.ours(src).args(["mirror", "list"]))
        .unwrap_or_default();
    if list.lines().any(|l| l.split('\t').next() == Some(name)) {
        return Ok(());
    }
    if path.exists() {
        fs::remove_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    env.out(env.ours(src).args(["mirror", "add", name]).arg(path))
        .map(drop)
}
