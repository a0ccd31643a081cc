//! Shared fixtures for the integration tests: real repositories in a temp dir, driven by the real
//! `git` and the real `git-repo-sync` binary, each in an environment that cannot see the
//! developer's own git configuration or an inherited `GIT_DIR`.
//!
//! The one test binary (`tests/main.rs`) declares this module; every test file uses a part of it.
#![allow(unreachable_pub)]

pub mod gitolite;
pub mod lfs;
pub mod loopback;
pub mod managers;
pub mod servers;
pub mod tools;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use assert_fs::TempDir;

/// The binary under test, as cargo built it.
pub const BIN: &str = env!("CARGO_BIN_EXE_git-repo-sync");
/// The line that marks a hook as ours.
pub const MARKER: &str = "# git-repo-sync managed hook";
/// The hooks a repository with a work tree gets.
pub const WORK_TREE_HOOKS: [&str; 4] = ["post-commit", "post-merge", "post-rewrite", "post-applypatch"];
/// How long a test waits for the background worker before giving up.
pub const WAIT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(50);

/// One test's world: a temp dir holding a fake HOME with its own `.gitconfig`, and every
/// repository the test makes. Dropping it deletes everything.
pub struct TestEnv {
    /// Held for its `Drop`, which deletes the temp dir.
    _tmp: TempDir,
    root: PathBuf,
    home: PathBuf,
    path: OsString,
    commits: Cell<u32>,
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // The ssh connections a pass keeps open for the next one would outlive the test (and its
        // server) by up to a minute; their sockets are in this test's temp dir.
        let _ = Command::new("pkill")
            .args(["-KILL", "-f"])
            .arg(self.ssh_socket_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl TestEnv {
    pub fn new() -> Self {
        let tmp = TempDir::new().expect("creating a temp dir");
        // Canonical, so that paths we compare with what git prints agree.
        let root = tmp.path().canonicalize().expect("canonicalizing the temp dir");
        let home = root.join("home");
        fs::create_dir_all(home.join(".config")).expect("creating HOME");
        fs::create_dir_all(root.join("tmp")).expect("creating TMPDIR");
        fs::write(
            home.join(".gitconfig"),
            "[user]\n\tname = Test User\n\temail = test@example.com\n\
             [init]\n\tdefaultBranch = main\n\
             [protocol \"file\"]\n\tallow = always\n\
             [advice]\n\tdetachedHead = false\n\
             [commit]\n\tgpgSign = false\n\
             [tag]\n\tgpgSign = false\n",
        )
        .expect("writing .gitconfig");
        Self {
            _tmp: tmp,
            root,
            home,
            path: minimal_path(),
            commits: Cell::new(0),
        }
    }

    /// The temp dir everything lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    /// PATH for every process: the directories of `git`, `sh` and a few basic tools, never
    /// cargo's target dir.
    pub fn path_var(&self) -> &OsStr {
        &self.path
    }

    /// Replaces PATH for every later process of this test.
    pub fn set_path_var(&mut self, path: OsString) {
        self.path = path;
    }

    /// Where a pass keeps the sockets of its ssh connections (TMPDIR's, as the isolated
    /// environment has no `XDG_RUNTIME_DIR`).
    pub fn ssh_socket_dir(&self) -> PathBuf {
        let uid = Command::new("id").arg("-u").output().expect("running id");
        let uid = String::from_utf8_lossy(&uid.stdout).trim().to_owned();
        self.root.join("tmp").join(format!("grs-ssh-{uid}"))
    }

    /// The user-level config file the isolated environment reads.
    pub fn user_config_path(&self) -> PathBuf {
        self.home.join(".config/git-repo-sync/config.toml")
    }

    /// The system-level config file the isolated environment reads in place of /etc's.
    pub fn system_config_path(&self) -> PathBuf {
        self.root.join("etc/git-repo-sync/config.toml")
    }

    /// Puts the isolated environment on a command: nothing is inherited but what is listed here.
    pub fn apply_env(&self, cmd: &mut Command) {
        cmd.env_clear();
        // Only what coverage tools need to follow the binary.
        for (key, value) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if k == "LLVM_PROFILE_FILE" || k.starts_with("CARGO_LLVM_COV") {
                cmd.env(&key, &value);
            }
        }
        cmd.env("PATH", &self.path)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            // Never the machine's /etc/git-repo-sync/config.toml.
            .env("GIT_REPO_SYNC_SYSTEM_CONFIG", self.system_config_path())
            .env("TMPDIR", self.root.join("tmp"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", self.home.join(".gitconfig"))
            .env("GIT_AUTHOR_NAME", "Test Author")
            .env("GIT_AUTHOR_EMAIL", "author@example.com")
            .env("GIT_AUTHOR_DATE", "2024-01-01 00:00:00 +0000")
            .env("GIT_COMMITTER_NAME", "Test Committer")
            .env("GIT_COMMITTER_EMAIL", "committer@example.com")
            .env("GIT_COMMITTER_DATE", "2024-01-01 00:00:00 +0000")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .env("LANG", "C")
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null());
    }

    /// A `git` command in `dir`, with the isolated environment.
    pub fn git_cmd(&self, dir: &Path) -> Command {
        let mut cmd = Command::new("git");
        self.apply_env(&mut cmd);
        cmd.current_dir(dir);
        cmd
    }

    /// Runs `git` in `dir`, asserts it succeeded and returns its stdout.
    pub fn git<I, S>(&self, dir: &Path, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.git_cmd(dir);
        cmd.args(args);
        run_ok(&mut cmd)
    }

    /// `git-repo-sync`, with the isolated environment, started in the temp root.
    pub fn cmd(&self) -> assert_cmd::Command {
        self.cmd_in(&self.root)
    }

    /// `git-repo-sync`, with the isolated environment, started in `dir`.
    pub fn cmd_in(&self, dir: &Path) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.std_cmd_in(dir))
    }

    /// The same as a plain `std::process::Command`.
    pub fn std_cmd_in(&self, dir: &Path) -> Command {
        self.std_cmd_of(Path::new(BIN), dir)
    }

    /// Some copy of the binary at `bin`, with the isolated environment, started in `dir`.
    pub fn std_cmd_of(&self, bin: &Path, dir: &Path) -> Command {
        let mut cmd = Command::new(bin);
        self.apply_env(&mut cmd);
        cmd.current_dir(dir);
        cmd
    }

    /// A new repository with a work tree at `<root>/<name>` and one commit on `main`.
    pub fn init_repo(&self, name: &str) -> PathBuf {
        let dir = self.init_empty_repo(name);
        self.commit(&dir, "initial");
        dir
    }

    /// A new repository with a work tree and no commit.
    pub fn init_empty_repo(&self, name: &str) -> PathBuf {
        let dir = self.root.join(name);
        fs::create_dir_all(&dir).expect("creating the repository dir");
        self.git(&dir, ["init", "-q"]);
        dir
    }

    /// A new, empty bare repository at `<root>/<name>`.
    pub fn init_bare(&self, name: &str) -> PathBuf {
        let dir = self.root.join(name);
        fs::create_dir_all(&dir).expect("creating the bare repository dir");
        self.git(&dir, ["init", "-q", "--bare"]);
        dir
    }

    /// Adds a new file in the work tree at `dir` and commits it; returns the new commit's id.
    /// Each call writes a different file, so even with fixed dates every commit is new, and
    /// branches merge and rebase without conflicts.
    pub fn commit(&self, dir: &Path, message: &str) -> String {
        self.change_file(dir, message);
        self.git(dir, ["commit", "-q", "-m", message]);
        self.head(dir)
    }

    /// Writes a new file `change-<n>.txt` in `dir` and stages it, without committing.
    pub fn change_file(&self, dir: &Path, message: &str) {
        let n = self.commits.get() + 1;
        self.commits.set(n);
        let name = format!("change-{n}.txt");
        fs::write(dir.join(&name), format!("{message}\n")).expect("writing a change");
        self.git(dir, ["add", &name]);
    }

    /// The commit id HEAD points at.
    pub fn head(&self, dir: &Path) -> String {
        self.git(dir, ["rev-parse", "HEAD"]).trim().to_owned()
    }

    /// `git for-each-ref` over branches and tags: `<oid> <refname>` lines, sorted by git.
    pub fn refs(&self, dir: &Path) -> String {
        self.git(dir, REFS_ARGS)
    }

    /// Every ref of a repository, remote-tracking and others included.
    pub fn all_refs(&self, dir: &Path) -> String {
        self.git(dir, ["for-each-ref", "--format=%(objectname) %(refname)"])
    }

    /// Like `refs`, but `None` when git fails (say, the mirror does not exist yet).
    pub fn try_refs(&self, dir: &Path) -> Option<String> {
        let out = self.git_cmd(dir).args(REFS_ARGS).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The common git dir of a repository (its `.git`, or the repository itself when bare).
    pub fn common_dir(&self, repo: &Path) -> PathBuf {
        let out = self.git(repo, ["rev-parse", "--path-format=absolute", "--git-common-dir"]);
        PathBuf::from(out.trim())
    }

    /// Where git looks for hooks in this repository.
    pub fn hooks_dir(&self, repo: &Path) -> PathBuf {
        let out = self.git(
            repo,
            ["rev-parse", "--path-format=absolute", "--git-path", "hooks"],
        );
        PathBuf::from(out.trim())
    }

    /// The background worker's log, or a note that there is none.
    pub fn log(&self, repo: &Path) -> String {
        let path = self.common_dir(repo).join("repo-sync.log");
        fs::read_to_string(&path).unwrap_or_else(|e| format!("(no log at {}: {e})", path.display()))
    }

    /// The mirror config file of a repository.
    pub fn config_path(&self, repo: &Path) -> PathBuf {
        self.common_dir(repo).join("repo-sync.toml")
    }

    /// Polls every 50 ms until the mirror's branches and tags equal the source's, or panics after
    /// `timeout` showing both ref lists and the worker's log.
    pub fn wait_until_refs_equal(&self, src: &Path, mirror: &Path, timeout: Duration) {
        let expected = self.refs(src);
        let deadline = Instant::now() + timeout;
        loop {
            let actual = self.try_refs(mirror);
            if actual.as_deref() == Some(expected.as_str()) {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "mirror {} did not catch up with {} within {timeout:?}\n\
                     --- source refs ---\n{expected}\
                     --- mirror refs ---\n{}\n\
                     --- worker log ---\n{}",
                    mirror.display(),
                    src.display(),
                    actual.unwrap_or_else(|| "(cannot read the mirror)".into()),
                    self.log(src),
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits with the default timeout for every mirror in turn.
    pub fn wait_for_mirrors(&self, src: &Path, mirrors: &[&Path]) {
        for mirror in mirrors {
            self.wait_until_refs_equal(src, mirror, WAIT);
        }
    }

    /// `git-repo-sync install --yes <repo> --mirror NAME=URL...`, asserted to succeed.
    pub fn install(&self, repo: &Path, mirrors: &[(&str, &str)]) {
        let mut cmd = self.cmd();
        cmd.arg("install").arg("--yes").arg(repo);
        for (name, url) in mirrors {
            cmd.arg("--mirror").arg(format!("{name}={url}"));
        }
        cmd.assert().success();
    }

    /// `git-repo-sync <args>` in `dir` on a pseudo-terminal (util-linux `script`), with the
    /// isolated environment, TERM set as a terminal sets it and NO_COLOR unset unless `vars`
    /// set it; what appeared on the terminal. `None` (after saying why) without `script`.
    pub fn on_terminal(&self, dir: &Path, args: &str, vars: &[(&str, &str)]) -> Option<String> {
        let found = servers::require_programs("a terminal test", &["script"])?;
        let mut cmd = Command::new(&found[0]);
        self.apply_env(&mut cmd);
        cmd.env_remove("NO_COLOR")
            .env("TERM", "xterm-256color")
            .envs(vars.iter().copied())
            .arg("-qec")
            .arg(format!("{BIN} {args}"))
            .arg("/dev/null")
            .current_dir(dir);
        let out = cmd.output().expect("running script");
        assert!(out.status.success(), "{out:?}");
        Some(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `git-repo-sync status --json` in `repo`, parsed.
    pub fn status_json(&self, repo: &Path) -> serde_json::Value {
        let out = self
            .cmd_in(repo)
            .args(["status", "--json"])
            .output()
            .expect("running status");
        assert!(
            out.status.success(),
            "status --json failed: {}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "status --json printed no valid JSON ({e}):\n{}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Writes an executable file.
    /// Puts a `program` on PATH for every later process of this test that notes each of its
    /// command lines in `log`, then runs `real`.
    pub fn spy_on(&mut self, program: &str, real: &Path, log: &Path) {
        let bin = self.root().join("spy-bin");
        fs::create_dir_all(&bin).expect("creating the spy's dir");
        self.write_executable(
            &bin.join(program),
            &format!(
                "#!/bin/sh\necho \"$*\" >> {}\nexec {} \"$@\"\n",
                sh_quote(log),
                sh_quote(real)
            ),
        );
        let path = tools::path_with(&[&bin], self.path_var());
        self.set_path_var(path);
    }

    /// [`Self::spy_on`] the `program` this test's PATH finds.
    pub fn spy_on_path(&mut self, program: &str, log: &Path) {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .env("PATH", self.path_var())
            .output()
            .expect("looking up a program on PATH");
        let real = String::from_utf8_lossy(&found.stdout).trim().to_owned();
        assert!(!real.is_empty(), "{program} is not on the test's PATH");
        self.spy_on(program, Path::new(&real), log);
    }

    pub fn write_executable(&self, path: &Path, content: &str) {
        write_executable(path, content);
    }

    /// A copy of the built binary at `<dir>/git-repo-sync`.
    pub fn copy_binary(&self, dir: &Path) -> PathBuf {
        fs::create_dir_all(dir).expect("creating the binary's dir");
        let dest = dir.join("git-repo-sync");
        install_executable(Path::new(BIN), &dest);
        dest
    }

    /// Makes every push into the bare repository `mirror` wait in its pre-receive hook until the
    /// returned gate is released (or dropped, or 30 s passed).
    pub fn block_pushes(&self, mirror: &Path) -> Gate {
        let entered = self.root.join(format!("gate-entered-{}", self.commits.get()));
        let release = self.root.join(format!("gate-release-{}", self.commits.get()));
        let script = format!(
            "#!/bin/sh\n: > {entered}\ni=0\nwhile [ ! -e {release} ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done\nexit 0\n",
            entered = sh_quote(&entered),
            release = sh_quote(&release),
        );
        let hook = mirror.join("hooks").join("pre-receive");
        write_executable(&hook, &script);
        Gate {
            entered,
            release,
            hook,
        }
    }
}

const REFS_ARGS: [&str; 4] = [
    "for-each-ref",
    "--format=%(objectname) %(refname)",
    "refs/heads",
    "refs/tags",
];

/// Holds pushes into a mirror until released; see [`TestEnv::block_pushes`].
pub struct Gate {
    entered: PathBuf,
    release: PathBuf,
    hook: PathBuf,
}

impl Gate {
    /// Whether a push has reached the mirror's pre-receive hook.
    pub fn entered(&self) -> bool {
        self.entered.exists()
    }

    /// Lets waiting and later pushes through.
    pub fn release(&self) {
        let _ = fs::remove_file(&self.hook);
        fs::write(&self.release, "").expect("releasing the gate");
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        let _ = fs::write(&self.release, "");
    }
}

/// Runs a command, panics with its output unless it succeeded, returns its stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("git printed UTF-8")
}

/// Runs a command with its stdout and stderr captured through pipes and waits until it has exited
/// *and* both pipes are closed, as a script capturing its output would. `Err` when that takes
/// longer than `limit` (for instance because a background process still holds a pipe).
pub fn run_within(mut cmd: Command, limit: Duration) -> Result<Output, String> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("starting {cmd:?}: {e}"))?;
    let (tx, rx) = mpsc::channel();
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let tx_err = tx.clone();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        let _ = tx.send((1, buf));
    });
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        let _ = tx_err.send((2, buf));
    });
    let deadline = Instant::now() + limit;
    let (mut out, mut err) = (None, None);
    while out.is_none() || err.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((1, buf)) => out = Some(buf),
            Ok((_, buf)) => err = Some(buf),
            Err(_) => {
                let exited = child.try_wait().ok().flatten();
                let _ = child.kill();
                return Err(format!(
                    "{cmd:?} did not finish within {limit:?} (process exited: {exited:?}; \
                     its output pipes are still open)"
                ));
            }
        }
    }
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(Output {
                status,
                stdout: out.unwrap_or_default(),
                stderr: err.unwrap_or_default(),
            });
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            return Err(format!("{cmd:?} did not exit within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Polls `done` every 50 ms until it is true; panics with `what()` after `timeout`.
pub fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool, what: impl Fn() -> String) {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?}: {}", what());
        }
        std::thread::sleep(POLL);
    }
}

/// The entry for mirror `name` in a parsed `status --json`.
pub fn mirror_status<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["mirrors"]
        .as_array()
        .unwrap_or_else(|| panic!("no mirrors array in status:\n{status:#}"))
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no mirror {name} in status:\n{status:#}"))
}

/// Writes a file with mode 0755, creating its directory.
pub fn write_executable(path: &Path, content: &str) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).expect("creating the file's dir");
    }
    let draft = path.with_extension("draft");
    fs::write(&draft, content).expect("writing an executable");
    install_executable(&draft, path);
    fs::remove_file(&draft).expect("removing the draft");
}

/// Copies `src` to `dest` with mode 0755 through `install`, a child process. Written from this
/// process, the file could be open for writing in a child that another test thread is forking at
/// that moment, and executing it would then fail with "Text file busy" (ETXTBSY).
fn install_executable(src: &Path, dest: &Path) {
    let status = Command::new("install")
        .args(["-m", "0755"])
        .arg(src)
        .arg(dest)
        .status()
        .expect("running install");
    assert!(
        status.success(),
        "install {} {} failed",
        src.display(),
        dest.display()
    );
}

/// POSIX shell single-quoting, for the scripts the tests write themselves.
pub fn sh_quote(path: &Path) -> String {
    format!("'{}'", path.to_string_lossy().replace('\'', r"'\''"))
}

/// `file://` URL of an absolute path (no percent-encoding: test paths are plain).
pub fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// A path as UTF-8, for command-line arguments built with `format!`.
pub fn s(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// One entry of a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir {
        mode: u32,
    },
    File {
        bytes: Vec<u8>,
        mode: u32,
        mtime: SystemTime,
    },
    Symlink {
        target: PathBuf,
    },
}

/// Every file under a directory with its bytes, mode and mtime, to prove that nothing changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot(pub BTreeMap<PathBuf, Entry>);

impl Snapshot {
    pub fn of(dir: &Path) -> Self {
        let mut map = BTreeMap::new();
        walk(dir, dir, &mut map);
        Self(map)
    }

    /// Each path that was added, removed or changed between `self` and `after`, if any.
    pub fn diff(&self, after: &Snapshot) -> Option<String> {
        if self == after {
            return None;
        }
        let mut diffs = Vec::new();
        for (path, entry) in &self.0 {
            match after.0.get(path) {
                None => diffs.push(format!("removed: {}", path.display())),
                Some(other) if other != entry => diffs.push(format!(
                    "changed: {} ({})",
                    path.display(),
                    describe(entry, other)
                )),
                Some(_) => {}
            }
        }
        for path in after.0.keys().filter(|p| !self.0.contains_key(*p)) {
            diffs.push(format!("added: {}", path.display()));
        }
        Some(format!("  {}", diffs.join("\n  ")))
    }

    /// Panics, naming each path that was added, removed or changed, unless `after` equals `self`.
    pub fn assert_unchanged(&self, after: &Snapshot, what: &str) {
        if let Some(diff) = self.diff(after) {
            panic!("{what} changed files:\n{diff}");
        }
    }
}

fn describe(before: &Entry, after: &Entry) -> String {
    match (before, after) {
        (
            Entry::File {
                bytes: b1,
                mode: m1,
                mtime: t1,
            },
            Entry::File {
                bytes: b2,
                mode: m2,
                mtime: t2,
            },
        ) => {
            let mut parts = Vec::new();
            if b1 != b2 {
                parts.push(format!(
                    "content\n--- before ---\n{}\n--- after ---\n{}",
                    String::from_utf8_lossy(b1),
                    String::from_utf8_lossy(b2)
                ));
            }
            if m1 != m2 {
                parts.push(format!("mode {m1:o} -> {m2:o}"));
            }
            if t1 != t2 {
                parts.push("mtime".into());
            }
            parts.join(", ")
        }
        _ => format!("{before:?} -> {after:?}"),
    }
}

fn walk(base: &Path, dir: &Path, map: &mut BTreeMap<PathBuf, Entry>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let rel = path.strip_prefix(base).expect("under base").to_path_buf();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&path).unwrap_or_default();
            map.insert(rel, Entry::Symlink { target });
        } else if meta.is_dir() {
            map.insert(
                rel,
                Entry::Dir {
                    mode: meta.permissions().mode(),
                },
            );
            walk(base, &path, map);
        } else {
            let bytes = fs::read(&path).unwrap_or_default();
            let mtime = meta.modified().expect("mtime");
            map.insert(
                rel,
                Entry::File {
                    bytes,
                    mode: meta.permissions().mode(),
                    mtime,
                },
            );
        }
    }
}

/// Every path under `root` whose file name is `name`.
pub fn files_named(root: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_name() == name {
                found.push(path.clone());
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            }
        }
    }
    found
}

/// Every directory on `path` that holds an executable named `git-repo-sync`.
pub fn dirs_with_binary(path: &OsStr) -> Vec<PathBuf> {
    std::env::split_paths(path)
        .filter(|dir| dir.join("git-repo-sync").exists())
        .collect()
}

/// PATH made of only the directories holding git, sh and the few tools a hook may use, so that
/// neither cargo's target dir nor an installed git-repo-sync is on it.
fn minimal_path() -> OsString {
    let inherited = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = Vec::new();
    for tool in ["git", "sh", "env", "cat", "sleep", "setsid"] {
        let found = std::env::split_paths(&inherited)
            .find(|dir| dir.join(tool).is_file())
            .filter(|dir| !dir.join("git-repo-sync").exists() && !dirs.contains(dir));
        dirs.extend(found);
    }
    for fallback in ["/usr/bin", "/bin"] {
        let dir = PathBuf::from(fallback);
        if dir.is_dir() && !dirs.contains(&dir) && !dir.join("git-repo-sync").exists() {
            dirs.push(dir);
        }
    }
    std::env::join_paths(dirs).expect("joining PATH")
}

/// Whether this process runs as root; else prints why `test` is skipped.
pub fn running_as_root(test: &str) -> bool {
    let uid = Command::new("id").arg("-u").output().expect("running id");
    let root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
    if !root {
        println!("skipped: {test} needs root, to hand a repository to another user");
    }
    root
}
