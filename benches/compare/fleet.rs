//! P8 and P9: `sync --all` over 200 registered repositories, nothing or one changed; P13: the
//! same quiet pass over 10,000.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Res;
use crate::bench::{Bench, REFSPECS};
use crate::common::Repos as _;
use crate::report::{Samples, alternate};

/// Registered repositories P8 and P9 pass over.
const FLEET: usize = 200;

/// Registered repositories P13 passes over.
const BIG_FLEET: usize = 10_000;

impl Bench<'_> {
    /// [`FLEET`] small repositories, each installed (so registered) with its mirror for ours
    /// and a remote `m` at another mirror for the anchor, both up to date. Made once.
    fn ensure_fleet(&self) -> Res<Vec<PathBuf>> {
        let dir = self.env.root.join("fleet");
        let repos: Vec<PathBuf> = (0..FLEET).map(|i| dir.join(format!("r{i:03}"))).collect();
        if dir.exists() {
            return Ok(repos);
        }
        // The fleet's own registry: other figures install into repositories of their own.
        self.env.empty_registry(&self.fleet_gitconfig())?;
        for repo in &repos {
            let env = self.env;
            env.out(env.cmd("git").args(["init", "-q"]).arg(repo))?;
            env.out(
                env.git(repo)
                    .args(["commit", "-q", "--allow-empty", "-m", "first"]),
            )?;
            env.out(env.git(repo).args(["tag", "v1"]))?;
            let anchor = repo.with_extension("anchor.git");
            env.fresh_bare(&anchor)?;
            env.out(env.git(repo).args(["remote", "add", "m"]).arg(&anchor))?;
            env.out(&mut self.fleet_anchor_push(repo))?;
            let ours = repo.with_extension("ours.git");
            env.out(
                env.ours(repo)
                    .env("GIT_CONFIG_GLOBAL", self.fleet_gitconfig())
                    .args(["-q", "install", "--yes", "--mirror"])
                    .arg(format!("m={}", ours.display())),
            )?;
        }
        self.env.out(&mut self.fleet_sync())?;
        for repo in &repos {
            self.env.same_refs(repo, &repo.with_extension("ours.git"))?;
        }
        Ok(repos)
    }

    fn fleet_gitconfig(&self) -> PathBuf {
        self.env.root.join("fleet-gitconfig")
    }

    fn fleet_sync(&self) -> Command {
        let mut c = self.env.ours(&self.env.root);
        c.env("GIT_CONFIG_GLOBAL", self.fleet_gitconfig())
            .args(["sync", "--all", "--quiet"]);
        c
    }

    /// The anchor for one repository alone (untimed set-up).
    fn fleet_anchor_push(&self, repo: &Path) -> Command {
        let mut c = self.env.git(repo);
        c.args(["push", "-q", "m"]).args(REFSPECS);
        c
    }

    /// What a cron job of plain git would run: `git push` of every registered repository.
    fn fleet_anchor(&self) -> Command {
        let mut c = self.env.git(&self.env.root);
        c.env("GIT_CONFIG_GLOBAL", self.fleet_gitconfig())
            .args(["for-each-repo", "--config=repo-sync.repo", "push", "-q", "m"])
            .args(REFSPECS);
        c
    }

    /// Ours: `sync --all` where no repository changed (no mirror is contacted). Anchor: `git
    /// for-each-repo` running `git push` in each. Extra: ours in absolute terms and its memory.
    pub(crate) fn p8_fleet_quiet(&mut self) -> Res<Samples> {
        self.ensure_fleet()?;
        let env = self.env;
        let mut s = Samples::default();
        let mut memory = Samples::memory();
        for rep in 0..self.reps {
            let pair = alternate(
                rep,
                || env.measure(&mut self.fleet_sync()),
                || env.measure(&mut self.fleet_anchor()),
            )?;
            s.add_with_memory(&mut memory, pair);
        }
        s.note = Some(format!(
            "goal: ours under 1 s over {FLEET} quiet repositories; CPU-bound on this machine's 2 cores"
        ));
        s.extra.push(("peak memory of P8", memory));
        Ok(s)
    }

    /// One repository gets a new commit (untimed), then ours and the anchor each bring it (and
    /// the 199 quiet ones) to their own mirror.
    pub(crate) fn p9_fleet_one_changed(&mut self) -> Res<Samples> {
        let repos = self.ensure_fleet()?;
        let env = self.env;
        let mut s = Samples::default();
        for rep in 0..self.reps {
            let repo = &repos[(rep * 37) % FLEET];
            // With no hook, so that no background sync runs before the timed pass.
            let no_hooks = env.root.join("no-hooks");
            fs::create_dir_all(&no_hooks).map_err(|e| e.to_string())?;
            env.out(
                env.git(repo)
                    .arg("-c")
                    .arg(format!("core.hooksPath={}", no_hooks.display()))
                    .args(["commit", "-q", "--allow-empty", "-m", "changed"]),
            )?;
            self.pair(
                rep,
                &mut s,
                || env.timed(&mut self.fleet_sync()),
                || env.timed(&mut self.fleet_anchor()),
            )?;
            env.same_refs(repo, &repo.with_extension("ours.git"))?;
            env.same_refs(repo, &repo.with_extension("anchor.git"))?;
        }
        Ok(s)
    }

    /// [`BIG_FLEET`] registered repositories, each a copy of one installed and synced work tree
    /// (its hooks, its config naming mirror `m`, its state saying the mirror has its refs), in a
    /// registry of their own. Copied, not made one by one: the copies are what a pass reads,
    /// and making 10,000 with git would take minutes. Made once.
    fn ensure_big_fleet(&self) -> Res<()> {
        let dir = self.env.root.join("big-fleet");
        if dir.exists() {
            return Ok(());
        }
        let env = self.env;
        let gitconfig = self.big_fleet_gitconfig();
        env.empty_registry(&gitconfig)?;
        let first = dir.join("r00000");
        env.out(env.cmd("git").args(["init", "-q"]).arg(&first))?;
        env.out(
            env.git(&first)
                .args(["commit", "-q", "--allow-empty", "-m", "first"]),
        )?;
        env.out(
            env.ours(&first)
                .env("GIT_CONFIG_GLOBAL", &gitconfig)
                .args(["-q", "install", "--yes", "--mirror"])
                .arg(format!("m={}", dir.join("mirror.git").display())),
        )?;
        env.out(
            env.ours(&first)
                .env("GIT_CONFIG_GLOBAL", &gitconfig)
                .args(["-q", "sync"]),
        )?;
        let mut registry = fs::read_to_string(&gitconfig).map_err(|e| e.to_string())?;
        for i in 1..BIG_FLEET {
            let copy = dir.join(format!("r{i:05}"));
            copy_tree(&first, &copy).map_err(|e| format!("copying into {}: {e}", copy.display()))?;
            registry.push_str(&format!("\trepo = {}\n", copy.display()));
        }
        fs::write(&gitconfig, registry).map_err(|e| e.to_string())
    }

    fn big_fleet_gitconfig(&self) -> PathBuf {
        self.env.root.join("big-fleet-gitconfig")
    }

    /// Ours: `sync --all` over [`BIG_FLEET`] quiet repositories (goal: under 10 s, under
    /// 64 MiB). Anchor: `git for-each-repo` listing each one's branches and tags, the least a
    /// pass that compares refs must read. Extra: peak memory.
    pub(crate) fn p13_big_fleet_quiet(&mut self) -> Res<Samples> {
        self.ensure_big_fleet()?;
        let env = self.env;
        let gitconfig = self.big_fleet_gitconfig();
        let mut s = Samples::default();
        let mut memory = Samples::memory();
        for rep in 0..(self.reps / 3).max(3) {
            let mut ours = env.ours(&env.root);
            ours.env("GIT_CONFIG_GLOBAL", &gitconfig)
                .args(["sync", "--all", "--quiet"]);
            let mut anchor = env.git(&env.root);
            anchor.env("GIT_CONFIG_GLOBAL", &gitconfig).args([
                "for-each-repo",
                "--config=repo-sync.repo",
                "for-each-ref",
                "refs/heads/",
                "refs/tags/",
            ]);
            let pair = alternate(rep, || env.measure(&mut ours), || env.measure(&mut anchor))?;
            s.add_with_memory(&mut memory, pair);
        }
        s.note = Some(format!(
            "{BIG_FLEET} repositories; goal: ours under 10 s and 64 MiB"
        ));
        s.extra.push(("peak memory of P13 (goal ≤ 64 MiB)", memory));
        Ok(s)
    }
}

/// Copies the directory `from` to `to` (files with their permissions; no links in a fresh
/// repository).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
