//! P10 and P11: `install --recursive` into, and `status --all` over, 1,000 repositories below one
//! directory.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::Res;
use crate::bench::Bench;
use crate::common::{BIN, chmod_x, median, ms, show};
use crate::env::Env;
use crate::report::{Samples, alternate};

/// P10's and P11's repositories: folders of repositories, every other one bare.
const MANY_FOLDERS: usize = 20;
const MANY_PER_FOLDER: usize = 50;

/// P10's and P11's goal, "a few seconds" over those 1,000 repositories, in milliseconds.
pub(crate) const MANY_GOAL_MS: f64 = 5000.0;

/// P10 and P11, a few minutes each, run a third as many times as the other figures.
pub(crate) fn many_reps(reps: usize) -> usize {
    reps.div_ceil(3)
}

impl Bench<'_> {
    /// Ours: `install --recursive` into [`Many`]'s 1,000 repositories, with no `--mirror`: each
    /// takes its mirror from the rule in the user config, which install creates as an empty bare
    /// repository. Anchor: the least a shell loop does for the same result, per repository
    /// (`many/anchor.sh`): `git init --bare` of its mirror, `git remote add` naming it, one `cp`
    /// of the hooks it needs (three in a work tree, `post-receive` in a bare repository), and
    /// `git config --global --add repo-sync.repo` registering it. Both start from fresh copies of
    /// repositories without any install (untimed). Extra: the peak memory of both trees.
    pub(crate) fn p10_install_many(&mut self) -> Res<Samples> {
        let env = self.env;
        let many = Many::new(env);
        let generated = many.ensure(env)?;
        let mut s = Samples::default();
        let mut memory = Samples::memory();
        let (mut cpu_ours, mut cpu_anchor) = (Vec::new(), Vec::new());
        for rep in 0..many_reps(self.reps) {
            many.reset(env, Side::Ours)?;
            many.reset(env, Side::Anchor)?;
            let (a, b) = alternate(
                rep,
                || env.measure(&mut many.install(env)),
                || env.measure(&mut many.anchor_install(env)),
            )?;
            cpu_ours.push(ms(a.cpu));
            cpu_anchor.push(ms(b.cpu));
            s.add_with_memory(&mut memory, (a, b));
            many.check_installed(env, Side::Ours)?;
            many.check_installed(env, Side::Anchor)?;
        }
        s.note = Some(format!(
            "{} repositories ({} bare, the others work trees with one commit) in {MANY_FOLDERS} folders, \
             generated in {:.1} s; CPU time (user+sys of the whole tree, medians): ours {:.0} ms, anchor {:.0} ms",
            many.repos.len(),
            many.repos.iter().filter(|r| Many::is_bare(r)).count(),
            generated.as_secs_f64(),
            median(&cpu_ours),
            median(&cpu_anchor)
        ));
        s.extra.push(("peak memory of P10", memory));
        Ok(s)
    }

    /// Ours: `status --all` over [`Many`]'s 1,000 repositories, installed (by P10, else here)
    /// and synced once, so that each has its state and its mirror (untimed). They are both
    /// registered and below the rule's root; each is reported once. Anchor: `git for-each-repo
    /// --config=repo-sync.repo for-each-ref refs/heads/ refs/tags/`, one git process per
    /// repository listing the refs a status compares with its mirror's. Extra: peak memory.
    pub(crate) fn p11_status_many(&mut self) -> Res<Samples> {
        let env = self.env;
        let many = Many::new(env);
        many.ensure(env)?;
        let t = Instant::now();
        if many.check_installed(env, Side::Ours).is_err() {
            many.reset(env, Side::Ours)?;
            env.out(&mut many.install(env))?;
            many.check_installed(env, Side::Ours)?;
        }
        env.out(many.cmd(env, Side::Ours, BIN).args(["sync", "--all", "--quiet"]))?;
        let setup = t.elapsed();
        many.check_status(env)?;

        let status = || {
            let mut c = many.cmd(env, Side::Ours, BIN);
            c.args(["status", "--all"]);
            c
        };
        let anchor = || {
            let mut c = many.cmd(env, Side::Ours, "git");
            c.args([
                "for-each-repo",
                "--config=repo-sync.repo",
                "for-each-ref",
                "refs/heads/",
                "refs/tags/",
            ]);
            c
        };
        let mut s = Samples::default();
        let mut memory = Samples::memory();
        let (mut cpu_ours, mut cpu_anchor) = (Vec::new(), Vec::new());
        for rep in 0..many_reps(self.reps) {
            let (a, b) = alternate(rep, || env.measure(&mut status()), || env.measure(&mut anchor()))?;
            cpu_ours.push(ms(a.cpu));
            cpu_anchor.push(ms(b.cpu));
            s.add_with_memory(&mut memory, (a, b));
        }
        s.note = Some(format!(
            "installing (if P10 did not) and the first sync --all took {:.1} s; CPU time (user+sys of the \
             whole tree, medians): ours {:.0} ms, anchor {:.0} ms",
            setup.as_secs_f64(),
            median(&cpu_ours),
            median(&cpu_anchor)
        ));
        s.extra.push(("peak memory of P11", memory));
        Ok(s)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Ours,
    Anchor,
}

impl Side {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Side::Ours => "ours",
            Side::Anchor => "anchor",
        }
    }
}

/// P10's and P11's repositories, [`MANY_FOLDERS`] folders of [`MANY_PER_FOLDER`], in `many/`:
/// generated once into `pristine/` and copied from there (untimed) to `ours/` and `anchor/`.
/// Each side has its mirrors in `nas-<side>/` and its own global git config, so its own
/// registry; the user config (`XDG_CONFIG_HOME=many/xdg`) has the rule for `ours/`:
/// `[roots."…/many/ours".mirrors.nas] url = "…/many/nas-ours/{{path}}.git"`.
struct Many {
    pub(crate) dir: PathBuf,
    /// Paths below a side's directory: `g00/r0000.git` bare, `g00/r0001` a work tree, ...
    pub(crate) repos: Vec<PathBuf>,
}

impl Many {
    pub(crate) fn new(env: &Env) -> Self {
        let repos = (0..MANY_FOLDERS)
            .flat_map(|g| {
                (0..MANY_PER_FOLDER).map(move |i| {
                    let n = g * MANY_PER_FOLDER + i;
                    let name = if n.is_multiple_of(2) {
                        format!("r{n:04}.git")
                    } else {
                        format!("r{n:04}")
                    };
                    Path::new(&format!("g{g:02}")).join(name)
                })
            })
            .collect();
        Many {
            dir: env.root.join("many"),
            repos,
        }
    }

    fn is_bare(rel: &Path) -> bool {
        rel.extension().is_some_and(|e| e == "git")
    }

    fn pristine(&self) -> PathBuf {
        self.dir.join("pristine")
    }

    pub(crate) fn tree(&self, side: Side) -> PathBuf {
        self.dir.join(side.name())
    }

    fn nas(&self, side: Side) -> PathBuf {
        self.dir.join(format!("nas-{}", side.name()))
    }

    fn registry(&self, side: Side) -> PathBuf {
        self.dir.join(format!("gitconfig-{}", side.name()))
    }

    /// Where the rule puts `rel`'s mirror: `{{path}}.git` below the side's NAS.
    pub(crate) fn mirror(&self, side: Side, rel: &Path) -> PathBuf {
        self.nas(side).join(rel.with_extension("")).with_extension("git")
    }

    /// The directory `rel`'s hooks are in, on `side`.
    pub(crate) fn hooks(&self, side: Side, rel: &Path) -> PathBuf {
        let repo = self.tree(side).join(rel);
        if Self::is_bare(rel) {
            repo.join("hooks")
        } else {
            repo.join(".git/hooks")
        }
    }

    /// A command with `side`'s registry and the user config that has the rule.
    pub(crate) fn cmd(&self, env: &Env, side: Side, program: impl AsRef<OsStr>) -> Command {
        let mut c = env.cmd(program);
        c.current_dir(&self.dir)
            .env("GIT_CONFIG_GLOBAL", self.registry(side))
            .env("XDG_CONFIG_HOME", self.dir.join("xdg"));
        c
    }

    pub(crate) fn install(&self, env: &Env) -> Command {
        let mut c = self.cmd(env, Side::Ours, BIN);
        c.args(["install", "--recursive"]).arg(self.tree(Side::Ours));
        c
    }

    fn anchor_install(&self, env: &Env) -> Command {
        let mut c = self.cmd(env, Side::Anchor, "sh");
        c.arg(self.dir.join("anchor.sh"));
        c
    }

    /// Generates the repositories, the rule, the anchor's script and hooks, unless there
    /// already; how long that took.
    fn ensure(&self, env: &Env) -> Res<Duration> {
        let t = Instant::now();
        if self.pristine().exists() {
            return Ok(t.elapsed());
        }
        let err = |e: std::io::Error| e.to_string();
        let tmp = self.dir.join("pristine.tmp");
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(err)?;
        }
        for (n, rel) in self.repos.iter().enumerate() {
            let repo = tmp.join(rel);
            let readme = format!("repository {n}\n");
            if Self::is_bare(rel) {
                env.out(env.cmd("git").args(["init", "-q", "--bare"]).arg(&repo))?;
                env.fast_import(&repo, |w| {
                    writeln!(w, "commit refs/heads/main")?;
                    writeln!(
                        w,
                        "committer Bench <bench@example.com> {} +0000",
                        1_700_000_000 + n
                    )?;
                    write!(w, "data 5\nfirst\n")?;
                    writeln!(w, "M 100644 inline README")?;
                    write!(w, "data {}\n{readme}\ndone\n", readme.len())?;
                    w.flush()
                })?;
            } else {
                env.out(env.cmd("git").args(["init", "-q"]).arg(&repo))?;
                fs::write(repo.join("README"), readme).map_err(err)?;
                env.out(env.git(&repo).args(["add", "README"]))?;
                env.out(env.git(&repo).args(["commit", "-q", "-m", "first"]))?;
            }
        }

        let config = self.dir.join("xdg/git-repo-sync/config.toml");
        fs::create_dir_all(config.parent().unwrap_or(&self.dir)).map_err(err)?;
        fs::write(
            &config,
            format!(
                "[roots.\"{}\".mirrors.nas]\nurl = \"{}/{{{{path}}}}.git\"\n",
                self.tree(Side::Ours).display(),
                self.nas(Side::Ours).display()
            ),
        )
        .map_err(err)?;

        // The anchor: its hooks (a background push to the mirror), the list of repositories
        // (given, where ours looks for them) and the loop.
        let hooks = self.dir.join("hooks");
        fs::create_dir_all(&hooks).map_err(err)?;
        for name in [
            "post-commit",
            "post-merge",
            "post-rewrite",
            "post-applypatch",
            "post-receive",
        ] {
            let hook = hooks.join(name);
            fs::write(
                &hook,
                "#!/bin/sh\ngit push -q --mirror nas >/dev/null 2>&1 </dev/null &\n",
            )
            .map_err(err)?;
            chmod_x(&hook)?;
        }
        let mut list = String::new();
        for rel in &self.repos {
            let repo = self.tree(Side::Anchor).join(rel);
            let fields = [
                repo.display().to_string(),
                self.hooks(Side::Anchor, rel).display().to_string(),
                self.mirror(Side::Anchor, rel).display().to_string(),
            ];
            if fields.iter().any(|f| f.contains(char::is_whitespace)) {
                return Err(format!("{}: a path with white space", repo.display()));
            }
            let kind = if Self::is_bare(rel) { "bare" } else { "work" };
            let _ = writeln!(list, "{kind} {}", fields.join(" "));
        }
        let list_path = self.dir.join("anchor-list");
        fs::write(&list_path, list).map_err(err)?;
        fs::write(
            self.dir.join("anchor.sh"),
            format!(
                "# Per repository: its mirror, a remote naming it, its hooks, its registration.\n\
                 set -e\n\
                 h={hooks}\n\
                 while read -r kind repo hooks mirror; do\n\
                 \x20   git init -q --bare \"$mirror\"\n\
                 \x20   git -C \"$repo\" remote add nas \"$mirror\"\n\
                 \x20   if [ \"$kind\" = bare ]; then\n\
                 \x20       cp \"$h/post-receive\" \"$hooks/\"\n\
                 \x20   else\n\
                 \x20       cp \"$h/post-commit\" \"$h/post-merge\" \"$h/post-rewrite\" \"$h/post-applypatch\" \"$hooks/\"\n\
                 \x20   fi\n\
                 \x20   git config --global --add repo-sync.repo \"$repo\"\n\
                 done < {list}\n",
                hooks = hooks.display(),
                list = list_path.display()
            ),
        )
        .map_err(err)?;

        fs::rename(&tmp, self.pristine()).map_err(err)?;
        Ok(t.elapsed())
    }

    /// `side`'s repositories afresh from the pristine copy, its mirrors gone, its registry
    /// empty (untimed); checks that nothing of an install is left.
    pub(crate) fn reset(&self, env: &Env, side: Side) -> Res<()> {
        for dir in [self.tree(side), self.nas(side)] {
            if dir.exists() {
                fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
        }
        env.empty_registry(&self.registry(side))?;
        env.out(env.cmd("cp").arg("-a").arg(self.pristine()).arg(self.tree(side)))?;
        // Written out, so that no writeback of the copy lands in the timed run.
        env.out(&mut env.cmd("sync"))?;
        let registered = self.registered(env, side)?;
        let hooked = self.hooked(side);
        if registered != 0 || hooked != 0 || self.nas(side).exists() {
            return Err(format!(
                "{}: not afresh: {registered} registered, {hooked} with a hook",
                side.name()
            ));
        }
        Ok(())
    }

    /// How many repositories `side`'s global git config registers.
    pub(crate) fn registered(&self, env: &Env, side: Side) -> Res<usize> {
        let mut c = env.cmd("git");
        c.arg("config")
            .arg("--file")
            .arg(self.registry(side))
            .args(["--get-all", "repo-sync.repo"]);
        let o = c.output().map_err(|e| format!("{}: {e}", show(&c)))?;
        match o.status.code() {
            Some(0) => Ok(o.stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count()),
            Some(1) => Ok(0),
            _ => Err(format!("{} failed ({})", show(&c), o.status)),
        }
    }

    /// How many repositories of `side` have our hook (`post-receive` in a bare one,
    /// `post-commit` in a work tree).
    fn hooked(&self, side: Side) -> usize {
        self.repos
            .iter()
            .filter(|rel| {
                let hook = if Self::is_bare(rel) {
                    "post-receive"
                } else {
                    "post-commit"
                };
                self.hooks(side, rel).join(hook).is_file()
            })
            .count()
    }

    /// Every repository of `side` registered, with its mirror and its hook.
    fn check_installed(&self, env: &Env, side: Side) -> Res<()> {
        let registered = self.registered(env, side)?;
        let mirrors = self
            .repos
            .iter()
            .filter(|rel| self.mirror(side, rel).join("HEAD").is_file())
            .count();
        let hooked = self.hooked(side);
        let n = self.repos.len();
        if (registered, mirrors, hooked) != (n, n, n) {
            return Err(format!(
                "{}: of {n} repositories {registered} registered, {mirrors} with a mirror, {hooked} with a hook",
                side.name()
            ));
        }
        Ok(())
    }

    /// `status --all --json` reports each repository once, its triggers ok and its one mirror
    /// synced.
    fn check_status(&self, env: &Env) -> Res<()> {
        let out = env.out(self.cmd(env, Side::Ours, BIN).args(["status", "--all", "--json"]))?;
        let reports: serde_json::Value = serde_json::from_str(&out).map_err(|e| e.to_string())?;
        let reports = reports.as_array().ok_or("status --all --json: not an array")?;
        let good = reports
            .iter()
            .filter(|r| {
                r["triggers"]["ok"] == true
                    && r["triggers"]["mechanism"] != "schedule"
                    && r["mirrors"].as_array().is_some_and(|m| {
                        m.len() == 1
                            && m[0]["last_result"] == "ok"
                            && m[0]["pending"] == serde_json::json!([])
                    })
            })
            .count();
        if (reports.len(), good) != (self.repos.len(), self.repos.len()) {
            return Err(format!(
                "status --all: {} repositories reported, {good} installed and synced, of {}",
                reports.len(),
                self.repos.len()
            ));
        }
        Ok(())
    }
}
