//! Drivers for the git hook managers people use beside git-repo-sync: husky v9 and lefthook (npm),
//! pre-commit and prek (PyPI). Each configures, in a work-tree repository made by [`TestEnv`], a
//! `post-commit` hook of its own that appends one line to `<git common dir>/<manager>-post-commit.ran`,
//! so a test counts how often the manager's hook ran ([`Manager::runs`]). Everything is offline:
//! pre-commit and prek use a `repo: local`, `language: system` hook.
//!
//! [`Manager::new`] finds the programs (see `support::tools`: a missing one skips the test, or
//! fails it under CI) and puts their directories, and node's, on the test's PATH.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use super::TestEnv;
use super::tools::{self, Tool};

/// Which manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Husky,
    Lefthook,
    PreCommit,
    Prek,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Husky => "husky",
            Self::Lefthook => "lefthook",
            Self::PreCommit => "pre-commit",
            Self::Prek => "prek",
        }
    }

    /// The programs it needs: the manager itself, and node for the npm ones.
    fn tools(self) -> &'static [Tool] {
        match self {
            Self::Husky => &[Tool::Husky, Tool::Node],
            Self::Lefthook => &[Tool::Lefthook, Tool::Node],
            Self::PreCommit => &[Tool::PreCommit],
            Self::Prek => &[Tool::Prek],
        }
    }
}

/// One manager, ready to drive repositories of one [`TestEnv`].
#[derive(Debug)]
pub struct Manager {
    kind: Kind,
    bin: PathBuf,
}

impl Manager {
    /// Finds the manager's programs and puts their directories on `env`'s PATH; `None` (after
    /// printing why) when one is missing outside CI.
    pub fn new(kind: Kind, env: &mut TestEnv) -> Option<Self> {
        let what = format!("the {} fixture", kind.name());
        let paths = tools::require_tools(&what, kind.tools())?;
        let dirs: Vec<&Path> = paths.iter().filter_map(|p| p.parent()).collect();
        let path = tools::path_with(&dirs, env.path_var());
        env.set_path_var(path);
        Some(Self {
            kind,
            bin: paths[0].clone(),
        })
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The file its post-commit hook appends a line to.
    pub fn ran_file(&self, repo: &Path) -> PathBuf {
        common_dir(repo).join(format!("{}-post-commit.ran", self.kind.name()))
    }

    /// How often its post-commit hook has run in `repo`.
    pub fn runs(&self, repo: &Path) -> usize {
        fs::read_to_string(self.ran_file(repo)).map_or(0, |s| s.lines().count())
    }

    /// The shell command of its post-commit hook.
    fn record_command(&self) -> String {
        format!(
            "echo ran >> \"$(git rev-parse --git-common-dir)/{}-post-commit.ran\"",
            self.kind.name()
        )
    }

    /// Runs the manager's program in `repo`, with `env`'s environment; returns its stdout and
    /// stderr together.
    pub fn run(&self, env: &TestEnv, repo: &Path, args: &[&str]) -> String {
        let mut cmd = Command::new(&self.bin);
        env.apply_env(&mut cmd);
        cmd.current_dir(repo).args(args);
        run_both(&mut cmd)
    }

    /// Configures the manager in `repo` with its post-commit hook and installs it, as a user
    /// would: husky: `.husky/post-commit` and `husky` (which sets `core.hooksPath=.husky/_`);
    /// lefthook: `lefthook.yml` and `lefthook install`; pre-commit and prek:
    /// `.pre-commit-config.yaml` and `install -t post-commit`. Returns what the install printed.
    pub fn setup(&self, env: &TestEnv, repo: &Path) -> String {
        match self.kind {
            Kind::Husky => {
                fs::write(
                    repo.join("package.json"),
                    "{ \"name\": \"fixture\", \"private\": true, \
                     \"scripts\": { \"prepare\": \"husky\" } }\n",
                )
                .expect("writing package.json");
                fs::create_dir_all(repo.join(".husky")).expect("creating .husky");
                fs::write(
                    repo.join(".husky/post-commit"),
                    format!("{}\n", self.record_command()),
                )
                .expect("writing .husky/post-commit");
                self.run(env, repo, &[])
            }
            Kind::Lefthook => {
                fs::write(repo.join("lefthook.yml"), self.lefthook_yml(false)).expect("writing lefthook.yml");
                self.run(env, repo, &["install"])
            }
            Kind::PreCommit | Kind::Prek => {
                fs::write(
                    repo.join(".pre-commit-config.yaml"),
                    format!(
                        "repos:\n\
                         \x20 - repo: local\n\
                         \x20   hooks:\n\
                         \x20     - id: record\n\
                         \x20       name: record\n\
                         \x20       entry: sh -c '{}'\n\
                         \x20       language: system\n\
                         \x20       stages: [post-commit]\n\
                         \x20       always_run: true\n\
                         \x20       pass_filenames: false\n",
                        self.record_command()
                    ),
                )
                .expect("writing .pre-commit-config.yaml");
                self.run(env, repo, &["install", "-t", "post-commit"])
            }
        }
    }

    /// What re-installs the manager in real life: husky: `husky` again (what `npm install` runs
    /// as `prepare`); lefthook: `lefthook install`; pre-commit and prek:
    /// `install -f -t post-commit`. Returns what it printed.
    pub fn reinstall(&self, env: &TestEnv, repo: &Path) -> String {
        match self.kind {
            Kind::Husky => self.run(env, repo, &[]),
            Kind::Lefthook => self.run(env, repo, &["install"]),
            Kind::PreCommit | Kind::Prek => self.run(env, repo, &["install", "-f", "-t", "post-commit"]),
        }
    }

    /// lefthook only: changes `lefthook.yml` so that it also has `post-merge` and `post-rewrite`
    /// hooks, and commits the change. lefthook notices at its next run (in that commit's
    /// post-commit hook) that its hooks no longer match the config and re-installs them by itself:
    /// it does so when the hash it stored in `info/lefthook.checksum` differs and the config's
    /// mtime is newer than the time stored there.
    /// Returns what the commit printed.
    pub fn change_config_and_commit(&self, env: &TestEnv, repo: &Path) -> String {
        assert_eq!(
            self.kind,
            Kind::Lefthook,
            "only lefthook re-syncs on a config change"
        );
        let config = repo.join("lefthook.yml");
        fs::write(&config, self.lefthook_yml(true)).expect("writing lefthook.yml");
        // lefthook re-syncs only when the config's mtime, in whole seconds, is newer than the one
        // it stored in info/lefthook.checksum at install, which may be this very second.
        fs::File::options()
            .write(true)
            .open(&config)
            .and_then(|f| f.set_modified(SystemTime::now() + Duration::from_secs(2)))
            .expect("dating lefthook.yml two seconds ahead");
        env.git(repo, ["add", "lefthook.yml"]);
        let mut cmd = env.git_cmd(repo);
        cmd.args(["commit", "-q", "-m", "lefthook: post-merge and post-rewrite too"]);
        run_both(&mut cmd)
    }

    fn lefthook_yml(&self, more_hooks: bool) -> String {
        let mut yml = format!(
            "post-commit:\n  commands:\n    record:\n      run: {}\n",
            yaml_single_quoted(&self.record_command())
        );
        if more_hooks {
            yml.push_str(
                "post-merge:\n  commands:\n    nothing:\n      run: \"true\"\n\
                 post-rewrite:\n  commands:\n    nothing:\n      run: \"true\"\n",
            );
        }
        yml
    }
}

/// A YAML single-quoted scalar.
fn yaml_single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Runs `cmd`, asserts it succeeded, and returns stdout then stderr.
fn run_both(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed: {}\n{text}", out.status);
    text
}

/// The common git dir of a work-tree repository (`<repo>/.git`, or for a linked worktree the
/// main repository's), read from the files alone.
fn common_dir(repo: &Path) -> PathBuf {
    let dot_git = repo.join(".git");
    if dot_git.is_dir() {
        return dot_git;
    }
    let text = fs::read_to_string(&dot_git).expect("reading the .git file");
    let git_dir = repo.join(text.trim().trim_start_matches("gitdir:").trim());
    match fs::read_to_string(git_dir.join("commondir")) {
        Ok(common) => git_dir.join(common.trim()),
        Err(_) => git_dir,
    }
}
