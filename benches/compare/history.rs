//! S1 and S2: git's own history (about 850,000 objects in one pack, 1,016 branches and tags),
//! fetched once with the search tool's `fetch github:git/git` into `.mirror/git+git/repo` beside
//! the checkout, or named by `GRS_BENCH_GIT_HISTORY`. Not generated: a real history's deltas and
//! size are what a first backup of a big repository costs. Where it is absent, both figures are
//! skipped with a message.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Res;
use crate::bench::{Bench, REFSPECS};
use crate::common::{Repos as _, ms};
use crate::report::{Samples, alternate};

/// Where git's history is read from, if it is there.
pub(crate) fn source() -> Option<PathBuf> {
    let path = std::env::var_os("GRS_BENCH_GIT_HISTORY").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.mirror/git+git/repo"),
        PathBuf::from,
    );
    path.join("objects").is_dir().then_some(path)
}

impl Bench<'_> {
    fn history_dir(&self) -> PathBuf {
        self.env.root.join("history")
    }

    /// The source: a bare clone of git's history with its branches and tags only (the fetched
    /// copy also holds GitHub's pull request refs), one pack, configured with mirror `m`.
    /// Made once.
    fn ensure_history(&self) -> Res<PathBuf> {
        let src = self.history_dir().join("git.git");
        if src.exists() {
            return Ok(src);
        }
        let from = source().ok_or("git's history is not there")?;
        self.env.out(
            self.env
                .cmd("git")
                .args(["clone", "-q", "--bare", "--no-local"])
                .arg(&from)
                .arg(&src),
        )?;
        self.env.out(
            self.env
                .ours(&src)
                .args(["-q", "mirror", "add", "--no-check", "m"])
                .arg(self.history_mirror("ours")),
        )?;
        Ok(src)
    }

    fn history_mirror(&self, side: &str) -> PathBuf {
        self.history_dir().join(format!("mirror-{side}.git"))
    }

    /// An empty bare mirror for `side`, of the history's object format.
    fn empty_history_mirror(&self, side: &str) -> Res<PathBuf> {
        let path = self.history_mirror(side);
        if path.exists() {
            fs::remove_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        self.env.out(
            self.env
                .cmd("git")
                .args(["init", "-q", "--bare", "--object-format=sha1"])
                .arg(&path),
        )?;
        Ok(path)
    }

    fn history_sync(&self, src: &Path) -> Command {
        let mut c = self.env.ours(src);
        c.args(["sync", "-q"]);
        c
    }

    fn history_push(&self, src: &Path) -> Command {
        let mut c = self.env.git(src);
        c.args(["push", "-q"])
            .arg(self.history_mirror("anchor"))
            .args(REFSPECS);
        c
    }

    /// First sync of git's history into an empty local mirror / `git push` of the same
    /// refspecs into another. Before each repetition, untimed: both mirrors made afresh and
    /// what ours knew of its mirror forgotten. After the first, `git fsck` on ours. Extra: the
    /// peak memory of each (goal: ours at most half of git's).
    pub(crate) fn s1_first_sync_of_history(&mut self) -> Res<Samples> {
        let src = self.ensure_history()?;
        let env = self.env;
        let mut s = Samples::default();
        let mut memory = Samples::memory();
        // Twenty seconds a repetition for the anchor: a third of the usual count, at least 3.
        for rep in 0..(self.reps / 3).max(3) {
            let ours = self.empty_history_mirror("ours")?;
            self.empty_history_mirror("anchor")?;
            for kept in ["repo-sync-state.json", "repo-sync-refs"] {
                let path = src.join(kept);
                let _ = fs::remove_file(&path).or_else(|_| fs::remove_dir_all(&path));
            }
            let pair = alternate(
                rep,
                || env.measure(&mut self.history_sync(&src)),
                || env.measure(&mut self.history_push(&src)),
            )?;
            env.same_refs(&src, &ours)?;
            if rep == 0 {
                env.out(
                    env.git(&ours)
                        .args(["fsck", "--no-progress", "--connectivity-only"]),
                )
                .map_err(|e| format!("the mirror S1 wrote fails git fsck: {e}"))?;
            }
            s.add_with_memory(&mut memory, pair);
        }
        s.note = Some(format!(
            "git's history from {}; the mirror passed git fsck --connectivity-only",
            source().map(|p| p.display().to_string()).unwrap_or_default()
        ));
        s.extra.push(("peak memory of S1 (goal ≤ 0.5)", memory));
        Ok(s)
    }

    /// One new commit on `master` of git's history (untimed: `commit-tree` and `update-ref`,
    /// no hook), then ours and the anchor each bring their mirror up to date.
    pub(crate) fn s2_one_commit_on_history(&mut self) -> Res<Samples> {
        let src = self.ensure_history()?;
        let env = self.env;
        for side in ["ours", "anchor"] {
            if !self.history_mirror(side).join("objects").is_dir() {
                self.empty_history_mirror(side)?;
            }
        }
        env.out(&mut self.history_sync(&src))?;
        env.out(&mut self.history_push(&src))?;
        let mut s = Samples::default();
        for rep in 0..3 * self.reps {
            let tree = env.out(env.git(&src).args(["rev-parse", "master^{tree}"]))?;
            let commit = env.out(
                env.git(&src)
                    .args(["commit-tree", tree.trim(), "-p", "master", "-m"])
                    .arg(format!("S2 {rep}")),
            )?;
            env.out(
                env.git(&src)
                    .args(["update-ref", "refs/heads/master", commit.trim()]),
            )?;
            let (a, b) = alternate(
                rep,
                || env.measure(&mut self.history_sync(&src)),
                || env.measure(&mut self.history_push(&src)),
            )?;
            s.ours.push(ms(a.wall));
            s.anchor.push(ms(b.wall));
        }
        env.same_refs(&src, &self.history_mirror("ours"))?;
        env.same_refs(&src, &self.history_mirror("anchor"))?;
        Ok(s)
    }
}
