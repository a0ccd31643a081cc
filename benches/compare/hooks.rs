//! P1 and P12: what our hooks add to commits and to git's own sequences (a rebase, a cherry-pick,
//! `git am`), each against empty hooks.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::Res;
use crate::bench::Bench;
use crate::common::{Repos as _, Rng, chmod_x, list, median, ms, worker_running};
use crate::data::line;
use crate::env::{Env, Usage};
use crate::report::{Samples, alternate};

/// Commits per repetition of P1.
const P1_COMMITS: usize = 20;

/// Commits (or patches) of each P12 sequence.
const P12_LENGTH: usize = 100;

/// The git with config-based hooks P12 also runs its sequences with, unless `GRS_BENCH_NEW_GIT`
/// names another (none there: those rows are left out, and said so).
const P12_NEW_GIT: &str = "/opt/git-2.55/bin/git";

/// How long P1 waits for the background worker to bring the mirror up to date.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);

impl Bench<'_> {
    pub(crate) fn commits(&self, repo: &Path) -> Res<Duration> {
        let t = Instant::now();
        for i in 0..P1_COMMITS {
            let mut c = self.env.git(repo);
            c.args(["commit", "--allow-empty", "-q", "-m"]).arg(i.to_string());
            self.env.timed(&mut c)?;
        }
        Ok(t.elapsed())
    }

    /// A small repository with a work tree: one commit of a few files. P1 measures what a hook
    /// adds to `git commit`, so the commit itself is kept as cheap as in a small project (a large
    /// work tree's index refresh would dilute the ratio).
    fn small_repo(&self, path: &Path) -> Res<()> {
        let env = self.env;
        env.out(env.cmd("git").args(["init", "-q"]).arg(path))?;
        let mut rng = Rng(0x1D1E);
        for i in 0..8 {
            let mut body = Vec::new();
            for _ in 0..30 {
                line(&mut rng, &mut body);
            }
            fs::write(path.join(format!("f{i}.rs")), body).map_err(|e| e.to_string())?;
        }
        env.out(env.git(path).args(["add", "."]))?;
        env.out(env.git(path).args(["commit", "-q", "-m", "initial"]))?;
        env.out(env.git(path).args(["tag", "v0"]))?;
        Ok(())
    }

    pub(crate) fn p1_commits(&mut self) -> Res<Samples> {
        let env = self.env;
        let dir = env.root.join("p1");
        let (ours, anchor, bare) = (dir.join("ours"), dir.join("anchor"), dir.join("nohook"));
        let mirror = dir.join("mirror.git");
        for repo in [&ours, &anchor, &bare] {
            self.small_repo(repo)?;
        }
        let hook = anchor.join(".git/hooks/post-commit");
        fs::write(&hook, "#!/bin/sh\n").map_err(|e| e.to_string())?;
        chmod_x(&hook)?;
        let mut spec = std::ffi::OsString::from("m=");
        spec.push(&mirror);
        env.out(env.ours(&ours).args(["install", "--yes", "--mirror"]).arg(&spec))?;
        // Prime the mirror so that each repetition's worker pushes only its own commits.
        env.out(env.ours(&ours).args(["sync", "-q"]))?;
        let git_dir = ours.join(".git");
        settle(env, &ours, &mirror, &git_dir)?;

        let mut s = Samples::default();
        let mut settles = Vec::new();
        let mut nohook = Vec::new();
        for rep in 0..self.reps {
            let mut run_ours = || -> Res<Duration> {
                let d = self.commits(&ours)?;
                settles.push(ms(settle(env, &ours, &mirror, &git_dir)?));
                Ok(d)
            };
            self.pair(rep, &mut s, &mut run_ours, || self.commits(&anchor))?;
            nohook.push(ms(self.commits(&bare)?));
        }
        s.note = Some(format!(
            "no hook at all {:.0} ms; the worker had the mirror up to date {:.0} ms after the 20th commit returned (medians)",
            median(&nohook),
            median(&settles)
        ));
        Ok(s)
    }

    /// Ours: a sequence of [`P12_LENGTH`] commits in a repository with our hooks; anchor: the
    /// same in one whose hooks of the same kinds are empty (`#!/bin/sh`, `exit 0`). The figure is
    /// `git rebase -f HEAD~100` with the git on PATH; extra rows: `git am` of 100 patches and
    /// `git cherry-pick` of 100 commits, then all three with a git that runs config-based hooks
    /// (where ours are config-based hooks alone, as `install` writes them there). After
    /// each of ours, untimed, the worker brings the mirror up to date.
    pub(crate) fn p12_sequences(&mut self) -> Res<Samples> {
        let env = self.env;
        // PATH for each git: unchanged for the one on PATH, else with the newer git's directory first.
        let mut gits = vec![None];
        let new_git =
            std::env::var_os("GRS_BENCH_NEW_GIT").map_or_else(|| PathBuf::from(P12_NEW_GIT), PathBuf::from);
        let mut note = String::new();
        match new_git.parent().filter(|_| new_git.is_file()) {
            Some(dir) => {
                let mut path = std::ffi::OsString::from(dir);
                path.push(":");
                path.push(std::env::var_os("PATH").unwrap_or_default());
                let version = env.out(env.cmd(&new_git).arg("--version"))?;
                note = format!("config-based hooks: {}", version.trim());
                gits.push(Some(path));
            }
            None => note.push_str("no git with config-based hooks (GRS_BENCH_NEW_GIT): those rows left out"),
        }
        let mut figure = None;
        let mut extra = Vec::new();
        for (i, path) in gits.into_iter().enumerate() {
            let seq = SeqGit { path };
            let dir = env.root.join(format!("p12-{i}"));
            let rows = self.p12_with(&seq, &dir)?;
            for (sequence, samples) in rows {
                if i == 0 && matches!(sequence, Sequence::Rebase) {
                    figure = Some(samples);
                } else {
                    extra.push((sequence.label(seq.path.is_some()), samples));
                }
            }
        }
        let mut s = figure.ok_or("no rebase measured")?;
        s.extra = extra;
        s.note = Some(format!("{}; {note}", s.note.unwrap_or_default()));
        Ok(s)
    }

    /// P12's three sequences with one git, in a pair of repositories of their own under `dir`.
    fn p12_with(&self, git: &SeqGit, dir: &Path) -> Res<Vec<(Sequence, Samples)>> {
        let env = self.env;
        let (ours, anchor) = (dir.join("ours"), dir.join("anchor"));
        let mirror = dir.join("mirror.git");
        for repo in [&ours, &anchor] {
            self.small_repo(repo)?;
            add_series(env, repo)?;
        }
        let hooks = anchor.join(".git/hooks");
        for kind in ["post-commit", "post-merge", "post-rewrite", "post-applypatch"] {
            fs::write(hooks.join(kind), "#!/bin/sh\nexit 0\n").map_err(|e| e.to_string())?;
            chmod_x(&hooks.join(kind))?;
        }
        let mut spec = std::ffi::OsString::from("m=");
        spec.push(&mirror);
        let mut install = env.ours(&ours);
        install.args(["install", "--yes", "--mirror"]).arg(&spec);
        env.out(git.put(&mut install))?;
        if git.path.is_some() {
            env.out(
                git.git(env, &ours)
                    .args(["config", "hook.git-repo-sync-post-commit.command"]),
            )
            .map_err(|e| format!("install did not set config-based hooks: {e}"))?;
        }
        env.out(env.ours(&ours).args(["sync", "-q"]))?;
        let git_dir = ours.join(".git");
        settle(env, &ours, &mirror, &git_dir)?;
        let patches = dir.join("patches");
        env.out(
            env.git(&ours)
                .args(["format-patch", "-q", "base..series", "-o"])
                .arg(&patches),
        )?;
        let mut files: Vec<PathBuf> = fs::read_dir(&patches)
            .map_err(|e| e.to_string())?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .collect();
        files.sort();

        let mut rows = Vec::new();
        for sequence in [Sequence::Rebase, Sequence::Am, Sequence::CherryPick] {
            let mut s = Samples::default();
            // CPU time (user+sys of git and every hook it waited for): on a loaded machine the
            // hooks' cost shows there more steadily than in wall time.
            let (mut ours_cpu, mut anchor_cpu) = (Vec::new(), Vec::new());
            for rep in 0..self.reps {
                // A committer date of each repetition's own: even `rebase -f` makes new commits.
                let date = format!("@{} +0000", 1_800_000_000 + rep);
                let run = |repo: &Path| -> Res<Usage> {
                    env.out(git.git(env, repo).args([
                        "switch",
                        "-q",
                        "-C",
                        sequence.branch(),
                        sequence.start(),
                    ]))?;
                    // Both repositories start each run alike, every object in one pack: the
                    // loose objects earlier runs left (which ours and the anchor's need not have
                    // left alike) cost git time of their own.
                    env.out(
                        git.git(env, repo)
                            .args(["reflog", "expire", "--expire=now", "--all"]),
                    )?;
                    env.out(git.git(env, repo).args(["gc", "--quiet", "--prune=now"]))?;
                    let mut c = git.git(env, repo);
                    sequence.args(&mut c, &files);
                    c.env("GIT_COMMITTER_DATE", &date);
                    env.measure(&mut c)
                };
                let run_ours = || -> Res<Usage> {
                    let u = run(&ours)?;
                    settle(env, &ours, &mirror, &git_dir)?;
                    Ok(u)
                };
                let (a, b) = alternate(rep, run_ours, || run(&anchor))?;
                s.ours.push(ms(a.wall));
                s.anchor.push(ms(b.wall));
                ours_cpu.push(ms(a.cpu));
                anchor_cpu.push(ms(b.cpu));
            }
            s.note = Some(format!(
                "CPU time of git and the hooks it waited for: ours {} | anchor {} (medians {:.0} / {:.0} ms)",
                list(&ours_cpu),
                list(&anchor_cpu),
                median(&ours_cpu),
                median(&anchor_cpu)
            ));
            rows.push((sequence, s));
        }
        Ok(rows)
    }
}

/// A git P12 runs its sequences (and our `install`) with: the one on PATH, or, with `path` (a
/// `PATH` with its directory first), a git that runs config-based hooks.
struct SeqGit {
    pub(crate) path: Option<std::ffi::OsString>,
}

impl SeqGit {
    fn put<'c>(&self, c: &'c mut Command) -> &'c mut Command {
        if let Some(path) = &self.path {
            c.env("PATH", path);
        }
        c
    }

    pub(crate) fn git(&self, env: &Env, dir: &Path) -> Command {
        let mut c = env.git(dir);
        self.put(&mut c);
        c
    }
}

/// One of P12's sequences.
#[derive(Clone, Copy)]
enum Sequence {
    Rebase,
    Am,
    CherryPick,
}

impl Sequence {
    pub(crate) fn label(self, config_hooks: bool) -> &'static str {
        match (self, config_hooks) {
            (Self::Rebase, false) => "git rebase -f HEAD~100",
            (Self::Am, false) => "git am of 100 patches",
            (Self::CherryPick, false) => "git cherry-pick of 100 commits",
            (Self::Rebase, true) => "git rebase -f HEAD~100, config-based hooks",
            (Self::Am, true) => "git am of 100 patches, config-based hooks",
            (Self::CherryPick, true) => "git cherry-pick of 100 commits, config-based hooks",
        }
    }

    /// The branch the sequence works on, and where it is reset to first (untimed).
    pub(crate) fn branch(self) -> &'static str {
        match self {
            Self::Rebase => "rebased",
            Self::Am => "applied",
            Self::CherryPick => "picked",
        }
    }

    pub(crate) fn start(self) -> &'static str {
        match self {
            Self::Rebase => "series",
            Self::Am | Self::CherryPick => "base",
        }
    }

    pub(crate) fn args(self, c: &mut Command, patches: &[PathBuf]) {
        match self {
            Self::Rebase => c.args(["rebase", "-q", "-f"]).arg(format!("HEAD~{P12_LENGTH}")),
            Self::Am => c.args(["am", "-q"]).args(patches),
            Self::CherryPick => c.args(["cherry-pick", "base..series"]),
        };
    }
}

/// Tags `base` at the repository's `main` and adds a branch `series` of [`P12_LENGTH`] commits
/// on it, each adding a small file (made by fast-import: no hook runs).
fn add_series(env: &Env, repo: &Path) -> Res<()> {
    env.out(env.git(repo).args(["tag", "base", "main"]))?;
    env.fast_import(repo, |w| {
        for i in 1..=P12_LENGTH {
            let message = format!("series {i}");
            let content = format!("step {i}\n");
            write!(
                w,
                "commit refs/heads/series\ncommitter Bench <bench@example.com> {} +0000\ndata {}\n{message}\n",
                1_700_000_000 + i,
                message.len()
            )?;
            if i == 1 {
                writeln!(w, "from refs/tags/base^0")?;
            }
            write!(w, "M 644 inline s{i}.txt\ndata {}\n{content}\n", content.len())?;
        }
        writeln!(w, "done")
    })
}

/// Waits until `mirror` has the source's branches and tags and no worker for `git_dir` runs;
/// returns how long that took.
fn settle(env: &Env, src: &Path, mirror: &Path, git_dir: &Path) -> Res<Duration> {
    let t = Instant::now();
    let want = env.refs(src)?;
    loop {
        let have = if mirror.exists() {
            env.refs(mirror)?
        } else {
            String::new()
        };
        if have == want && !worker_running(git_dir) {
            return Ok(t.elapsed());
        }
        if t.elapsed() > SETTLE_LIMIT {
            return Err(format!(
                "the mirror {} did not catch up within {SETTLE_LIMIT:?} ({} of {} refs equal)",
                mirror.display(),
                have.lines().filter(|l| want.lines().any(|w| w == *l)).count(),
                want.lines().count()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
