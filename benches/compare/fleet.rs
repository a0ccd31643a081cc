//! P8 and P9: `sync --all` over 200 registered repositories, nothing or one changed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Res;
use crate::bench::{Bench, REFSPECS};
use crate::common::{Repos as _, ms};
use crate::report::{Samples, Unit, alternate};

/// Registered repositories P8 and P9 pass over.
const FLEET: usize = 200;

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
        fs::copy(&self.env.gitconfig, self.fleet_gitconfig()).map_err(|e| e.to_string())?;
        // Without what the other figures registered before.
        let _ = self
            .env
            .cmd("git")
            .arg("config")
            .arg("--file")
            .arg(self.fleet_gitconfig())
            .args(["--unset-all", "repo-sync.repo"])
            .status();
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
        let mut memory = Samples {
            unit: Unit::MiB,
            ..Samples::default()
        };
        for rep in 0..self.reps {
            let (a, b) = alternate(
                rep,
                || env.measure(&mut self.fleet_sync()),
                || env.measure(&mut self.fleet_anchor()),
            )?;
            s.ours.push(ms(a.wall));
            s.anchor.push(ms(b.wall));
            memory.ours.push(a.max_rss_kib as f64 / 1024.0);
            memory.anchor.push(b.max_rss_kib as f64 / 1024.0);
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
}
