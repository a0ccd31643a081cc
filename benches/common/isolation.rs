//! The benches' work directory and the environment their commands run in: git isolated from the
//! user's configuration, the caller's environment kept out as far as each bench needs.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};

use super::{Repos, output};

/// The binary measured, as cargo built it for the benches.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_git-repo-sync");

/// A fresh directory under the system temp dir, removed when dropped unless kept
/// (`GRS_BENCH_KEEP=1`).
pub(crate) struct WorkDir {
    pub(crate) root: PathBuf,
    keep: bool,
    /// The bench's name, for the line that says where a kept directory is.
    bench: &'static str,
}

impl WorkDir {
    /// `<temp>/<prefix>-<pid>-<nanoseconds>`.
    pub(crate) fn new(bench: &'static str, prefix: &str, keep: bool) -> Result<Self, String> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let root = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
        // Canonical, so that paths compare equal to what git and the tool print.
        let root = root.canonicalize().map_err(|e| e.to_string())?;
        Ok(Self { root, keep, bench })
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("{}: kept {}", self.bench, self.root.display());
        } else {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

/// How much of the caller's environment a command keeps: the two benches differ here.
// Each bench builds one of them.
#[allow(dead_code)]
pub(crate) enum Caller {
    /// All of it but git's repository-local variables
    /// ([`git_repo_sync::LOCAL_ENV_VARS`]) and these: enough for `compare`, whose mirrors
    /// are local paths.
    AllBut(&'static [&'static str]),
    /// Only `PATH`, as in the integration tests, for `latency`, which talks to servers: besides
    /// git's own variables, a machine may set `GIT_SSL_CAINFO` or `CURL_CA_BUNDLE` (which win
    /// over `http.sslCAInfo`), proxies, an ssh agent, askpass programs or traces.
    OnlyPath,
}

/// Commands with git isolated from the user: `root/home` as `HOME` (and `XDG_CONFIG_HOME` below
/// it), `root/gitconfig` as the only configuration besides the repository's, no terminal prompt,
/// the C locale, stdin from /dev/null.
pub(crate) struct Isolated {
    pub(crate) root: PathBuf,
    pub(crate) home: PathBuf,
    pub(crate) gitconfig: PathBuf,
    caller: Caller,
    /// Variables every command gets besides those above.
    pub(crate) extra_env: Vec<(&'static str, OsString)>,
}

impl Isolated {
    /// Creates `root/home` and writes `root/gitconfig`.
    pub(crate) fn new(root: &Path, caller: Caller) -> Result<Self, String> {
        let home = root.join("home");
        fs::create_dir_all(&home).map_err(|e| format!("{}: {e}", home.display()))?;
        let gitconfig = root.join("gitconfig");
        // gc.auto=0 / maintenance.auto=false: no gc lands inside a timed run, in the source or
        // in a mirror (receive.autogc), here or on a server given this file. gpgSign=false: no
        // commit made here asks for a key.
        fs::write(
            &gitconfig,
            "[user]\n\tname = Bench\n\temail = bench@example.com\n\
             [init]\n\tdefaultBranch = main\n\
             [gc]\n\tauto = 0\n[maintenance]\n\tauto = false\n\
             [commit]\n\tgpgSign = false\n\
             [advice]\n\tdetachedHead = false\n",
        )
        .map_err(|e| e.to_string())?;
        // `GRS_BENCH_OBJECT_FORMAT=sha256`: every repository of the run, sources and mirrors, the
        // same generated history named with SHA-256.
        let extra_env = match std::env::var("GRS_BENCH_OBJECT_FORMAT") {
            Ok(format) if !format.is_empty() => vec![("GIT_DEFAULT_HASH", OsString::from(format))],
            _ => Vec::new(),
        };
        Ok(Self {
            root: root.to_path_buf(),
            home,
            gitconfig,
            caller,
            extra_env,
        })
    }

    pub(crate) fn cmd(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(program);
        match self.caller {
            Caller::AllBut(also) => {
                for var in git_repo_sync::LOCAL_ENV_VARS.iter().chain(also) {
                    c.env_remove(var);
                }
            }
            Caller::OnlyPath => {
                c.env_clear();
                if let Some(path) = std::env::var_os("PATH") {
                    c.env("PATH", path);
                }
            }
        }
        c.env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", &self.gitconfig)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .envs(self.extra_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        c
    }

    pub(crate) fn git(&self, dir: &Path) -> Command {
        let mut c = self.cmd("git");
        c.arg("-C").arg(dir);
        c
    }

    pub(crate) fn ours(&self, dir: &Path) -> Command {
        let mut c = self.cmd(BIN);
        c.arg("-C").arg(dir);
        c
    }

    /// Runs a command to completion, untimed; its stdout on success.
    pub(crate) fn out(&self, c: &mut Command) -> Result<String, String> {
        output(c)
    }

    /// Feeds `git fast-import` in `repo` what `write` writes (which must end in `done`); what
    /// `write` returned.
    pub(crate) fn fast_import<T>(
        &self,
        repo: &Path,
        write: impl FnOnce(&mut BufWriter<ChildStdin>) -> std::io::Result<T>,
    ) -> Result<T, String> {
        let mut child = self
            .git(repo)
            .args(["fast-import", "--quiet", "--done"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("git fast-import: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin for fast-import")?;
        let mut w = BufWriter::with_capacity(1 << 20, stdin);
        let written = write(&mut w).and_then(|t| w.flush().map(|()| t));
        // Closes fast-import's input, which it reads to the end before it exits.
        drop(w);
        let status = child.wait().map_err(|e| e.to_string())?;
        let written = written.map_err(|e| format!("writing the fast-import stream: {e}"))?;
        if !status.success() {
            return Err(format!("git fast-import failed: {status}"));
        }
        Ok(written)
    }
}

impl Repos for Isolated {
    fn git_cmd(&self) -> Command {
        self.cmd("git")
    }

    fn run_out(&self, c: &mut Command) -> Result<String, String> {
        output(c)
    }
}
