//! `up` and `down`: a work tree copied to a directory on a host and back, by content.
//!
//! Each side snapshots its files into a private git dir of ours (here in the repository's common
//! git dir, there in `DIR/.git-repo-sync`), as git sees them: every `.gitignore`, `info/exclude`
//! and the global excludes, bytes as they are on disk. Both record the last snapshot they share.
//! One side sends the other a pack of what is new, thin against that shared snapshot, over one
//! ssh command; the receiving side, under a lock, refuses before writing anything when a file it
//! holds changed since (unless forced), then lets git's `read-tree -m -u` write only what
//! differs. The other side needs nothing but sh and git ([`SIDE_SCRIPT`]).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde::Serialize;

use crate::repo::{ObjectFormat, Repo, quoted};

mod watch;
pub(crate) use watch::watch;

/// One side's half of the protocol, run by `sh -c` here or on the host.
const SIDE_SCRIPT: &str = include_str!("side.sh");

/// The git config key of a work tree's saved target.
pub(crate) const SAVED_TARGET_KEY: &str = "repo-sync.target";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Up,
    Down,
}

impl Direction {
    fn verb(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
        }
    }
}

/// Where the other side is: a directory on an ssh host, or on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// As ssh takes it (`alias`, `user@host`, `ssh://user@host:port`); `None` for a local path.
    host: Option<String>,
    /// As given: relative to the remote home, or to the current directory for a local one.
    dir: String,
}

impl Target {
    /// `HOST:DIR`, `ssh://[user@]host[:port]/DIR`, or a local path (one with a `/` before any
    /// `:`, as git reads scp-like URLs).
    pub(crate) fn parse(text: &str) -> Result<Self> {
        if text.is_empty() {
            bail!("the target is empty; give HOST:DIR, ssh://user@host/DIR or a local path");
        }
        if let Some(rest) = text.strip_prefix("ssh://") {
            let (authority, dir) = rest.split_once('/').unwrap_or((rest, ""));
            if authority.is_empty() {
                bail!("{text:?} names no host");
            }
            // `ssh://host/~/x` is `x` in the remote home, as git takes it.
            let dir = dir
                .strip_prefix("~/")
                .map_or_else(|| format!("/{dir}"), str::to_owned);
            return Self::remote(format!("ssh://{authority}"), dir, text);
        }
        match text.split_once(':') {
            Some((host, dir)) if !host.contains('/') && !host.is_empty() => {
                Self::remote(host.to_owned(), dir.to_owned(), text)
            }
            _ => Ok(Self {
                host: None,
                dir: text.to_owned(),
            }),
        }
    }

    fn remote(host: String, dir: String, text: &str) -> Result<Self> {
        if host.starts_with('-') {
            bail!("{text:?}: a host may not begin with '-'");
        }
        if dir.is_empty() || dir == "/" {
            bail!("{text:?} names no directory; give HOST:DIR");
        }
        Ok(Self {
            host: Some(host),
            dir,
        })
    }

    /// As the user wrote it, for messages and the saved default.
    pub(crate) fn display(&self) -> String {
        match &self.host {
            Some(host) if host.starts_with("ssh://") => format!("{host}{}", self.dir),
            Some(host) => format!("{host}:{}", self.dir),
            None => self.dir.clone(),
        }
    }
}

/// What one `up` or `down` did.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Outcome {
    pub(crate) direction: &'static str,
    pub(crate) target: String,
    /// The snapshot both sides now share (`None` on a dry run).
    pub(crate) snapshot: Option<String>,
    pub(crate) added: Vec<String>,
    pub(crate) changed: Vec<String>,
    pub(crate) deleted: Vec<String>,
    /// Files changed on the receiving side since the last sync that `--force` overwrote.
    pub(crate) replaced: Vec<String>,
    /// Bytes of the pack that crossed.
    pub(crate) bytes: u64,
    pub(crate) dry_run: bool,
}

/// A run that stopped because the receiving side changed since the last sync.
#[derive(Debug)]
pub(crate) struct Conflicts {
    pub(crate) side: &'static str,
    pub(crate) paths: Vec<String>,
}

impl std::fmt::Display for Conflicts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "nothing was written: {} file(s) changed {} since the last up or down: {}; bring \
             them over first (the other direction), or run again with --force to overwrite them",
            self.paths.len(),
            self.side,
            self.paths.join(", ")
        )
    }
}

impl std::error::Error for Conflicts {}

/// The request: which way, where, and how.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    pub(crate) direction: Direction,
    pub(crate) target: &'a Target,
    pub(crate) local_dir: &'a Path,
    pub(crate) repo: &'a Repo,
    pub(crate) force: bool,
    pub(crate) dry_run: bool,
    pub(crate) timeout: Duration,
}

/// Runs one `up` or `down`.
pub(crate) fn run(request: &Request<'_>) -> Result<Outcome> {
    let local = Local::prepare(request)?;
    let mut outcome = Outcome {
        direction: request.direction.verb(),
        target: request.target.display(),
        dry_run: request.dry_run,
        ..Outcome::default()
    };
    let last = local.last()?;
    match request.direction {
        Direction::Up => {
            let new = local
                .side(request)
                .run("snapshot", &[], &[])?
                .line(request.target)?;
            local.describe(last.as_deref(), &new, &mut outcome)?;
            if request.dry_run {
                return Ok(outcome);
            }
            let mode = if request.force { "force" } else { "safe" };
            let kept = match &last {
                Some(last) if !outcome.deleted.is_empty() => {
                    local.without_now_ignored(last, &new, &mut outcome, false)?
                }
                Some(_) => None,
                None => None,
            };
            let mut base = last.clone();
            let reply = loop {
                let extra = kept.as_deref().filter(|_| base == last);
                let pack = local.pack(&new, base.as_deref(), extra)?;
                outcome.bytes = pack.len() as u64;
                crate::ui::progress_note(&format!(
                    "sending {} new and {} changed file(s), {} bytes",
                    outcome.added.len(),
                    outcome.changed.len(),
                    pack.len()
                ));
                let mut args = vec![new.as_str(), mode];
                args.extend(extra);
                let reply = request.remote().run("apply", &args, &pack)?;
                match (reply.code, reply.first_word("need")) {
                    // The other side lacks the base of a thin pack: its own last state, which
                    // we may have, or nothing to build on.
                    (Some(5), Some(theirs)) if base.is_some() => {
                        base = (theirs != "none" && local.has(theirs)).then(|| theirs.to_owned());
                    }
                    _ => break reply,
                }
            };
            reply.outcome_on(request.target, "there")?;
            outcome.replaced = reply.listed("replaced");
            local
                .side(request)
                .run("confirm", &[&new], &[])?
                .outcome_on(request.target, "here")?;
            outcome.snapshot = Some(new);
        }
        Direction::Down => {
            crate::ui::progress_note("taking a snapshot of the files there, and receiving what is new");
            let offered = request
                .remote()
                .run("offer", &[last.as_deref().unwrap_or("none")], &[])?;
            if offered.code != Some(0) {
                offered.outcome_on(request.target, "there")?;
                bail!("the host offered nothing");
            }
            let (new, pack) = offered.offer()?;
            outcome.bytes = pack.len() as u64;
            let mode = match (request.force, last.is_none() && local.has_files()?) {
                (true, _) => "force",
                // A first down into a tree that has files: only what is missing is created.
                (false, true) => "create-only",
                (false, false) => "safe",
            };
            local.store(pack)?;
            local.describe(last.as_deref(), &new, &mut outcome)?;
            if request.dry_run {
                return Ok(outcome);
            }
            // Files deleted there that this side ignores stay here, no longer ours.
            let kept = match &last {
                Some(last) if !outcome.deleted.is_empty() => {
                    local.without_now_ignored(last, &new, &mut outcome, true)?
                }
                _ => None,
            };
            let mut args = vec![new.as_str(), mode];
            args.extend(kept.as_deref());
            crate::ui::progress_note(&format!(
                "writing {} new and {} changed file(s), deleting {}",
                outcome.added.len(),
                outcome.changed.len(),
                outcome.deleted.len()
            ));
            // The pack is stored already.
            let reply = local.side(request).run("apply", &args, &[])?;
            reply.outcome_on(request.target, "here")?;
            outcome.replaced = reply.listed("replaced");
            request
                .remote()
                .run("confirm", &[&new], &[])?
                .outcome_on(request.target, "there")?;
            outcome.snapshot = Some(new);
        }
    }
    Ok(outcome)
}

impl Request<'_> {
    fn remote(&self) -> Side<'_> {
        let dir = match &self.target.host {
            Some(_) => self.target.dir.clone(),
            // The script takes a relative directory as the remote home's.
            None => std::path::absolute(&self.target.dir).map_or_else(
                |_| self.target.dir.clone(),
                |dir| dir.to_string_lossy().into_owned(),
            ),
        };
        Side {
            host: self.target.host.as_deref(),
            dir,
            private: None,
            exclude_kept: false,
            format: self.format(),
            timeout: self.timeout,
        }
    }

    fn format(&self) -> ObjectFormat {
        self.repo.object_format().unwrap_or(ObjectFormat::Sha1)
    }
}

/// This side: the local directory and our private git dir for this target.
struct Local {
    dir: PathBuf,
    private: PathBuf,
}

impl Local {
    fn prepare(request: &Request<'_>) -> Result<Self> {
        let dir = std::fs::canonicalize(request.local_dir)
            .with_context(|| format!("reading {}", quoted(request.local_dir)))?;
        // One private git dir per (local directory, target): each pair has its own last state.
        let key = format!("{}\n{}", dir.display(), request.target.display());
        let key = git2::Oid::hash_object(git2::ObjectType::Blob, key.as_bytes())
            .map(|oid| oid.to_string()[..16].to_owned())
            .unwrap_or_else(|_| "default".to_owned());
        let private = request
            .repo
            .kept(crate::repo::Kept::WorkTreeCopies)
            .join(format!("{key}.git"));
        for dir in ["info", "objects/info"] {
            std::fs::create_dir_all(private.join(dir))
                .with_context(|| format!("creating {}", quoted(&private)))?;
        }
        // Blobs the repository has already are not written again.
        let alternates = private.join("objects/info/alternates");
        std::fs::write(
            &alternates,
            format!("{}\n", request.repo.common_dir.join("objects").display()),
        )
        .with_context(|| format!("writing {}", quoted(&alternates)))?;
        // The repository's own excludes count here as they count for git.
        let exclude = request.repo.common_dir.join("info/exclude");
        let mut text = std::fs::read(&exclude).unwrap_or_default();
        text.extend_from_slice(b"\n");
        std::fs::write(private.join("info/exclude"), text)
            .with_context(|| format!("writing {}", quoted(private.join("info/exclude"))))?;
        Ok(Self { dir, private })
    }

    fn side<'a>(&'a self, request: &Request<'_>) -> Side<'a> {
        Side {
            host: None,
            dir: self.dir.to_string_lossy().into_owned(),
            private: Some(&self.private),
            exclude_kept: true,
            format: request.format(),
            timeout: request.timeout,
        }
    }

    fn git(&self) -> Command {
        let mut cmd = crate::git::in_git_dir(&self.private);
        cmd.env("GIT_WORK_TREE", &self.dir);
        cmd
    }

    /// The snapshot both sides last shared, if any.
    fn last(&self) -> Result<Option<String>> {
        if !self.private.join("HEAD").is_file() {
            return Ok(None);
        }
        let output = self
            .git()
            .args(["rev-parse", "-q", "--verify", "refs/repo-sync/last^{commit}"])
            .output()
            .context("running git rev-parse")?;
        Ok(output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned()))
    }

    fn has(&self, oid: &str) -> bool {
        self.git()
            .args(["cat-file", "-e", &format!("{oid}^{{commit}}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// Whether the local directory holds any file git would copy (a first `down` into it then
    /// only creates what is missing).
    fn has_files(&self) -> Result<bool> {
        let mut entries =
            std::fs::read_dir(&self.dir).with_context(|| format!("reading {}", quoted(&self.dir)))?;
        Ok(entries.any(|entry| entry.is_ok_and(|entry| entry.file_name() != ".git")))
    }

    /// A pack of `new` (and the tree `extra`) for the other side, thin against `base`.
    fn pack(&self, new: &str, base: Option<&str>, extra: Option<&str>) -> Result<Vec<u8>> {
        let mut cmd = self.git();
        cmd.args(["pack-objects", "--revs", "--stdout", "-q"]);
        let mut revs = format!("{new}\n");
        if let Some(extra) = extra {
            revs.push_str(&format!("{extra}\n"));
        }
        if let Some(base) = base {
            cmd.arg("--thin");
            revs.push_str(&format!("^{base}\n"));
        }
        crate::engine::transfer::run_fed(cmd, revs.into_bytes(), "git pack-objects")
    }

    /// Stores a pack the other side sent, so that the snapshot can be described before it is
    /// applied.
    fn store(&self, pack: &[u8]) -> Result<()> {
        if !self.private.join("HEAD").is_file() {
            self.side_init()?;
        }
        let mut cmd = self.git();
        cmd.args(["index-pack", "--stdin", "--fix-thin"]);
        crate::engine::transfer::run_fed(cmd, pack.to_vec(), "git index-pack").map(drop)
    }

    fn side_init(&self) -> Result<()> {
        let mut cmd = crate::git::in_git_dir(&self.private);
        cmd.args(["init", "-q"]);
        crate::engine::transfer::run_fed(cmd, Vec::new(), "git init").map(drop)
    }

    /// The files of the `last` snapshot that the new one lacks although they are still here:
    /// ignored now (a `.gitignore` of this run names them). The other side must keep them as
    /// they are, so it gets `last`'s tree without them, written here; `None` when there is none.
    fn without_now_ignored(
        &self,
        last: &str,
        new: &str,
        outcome: &mut Outcome,
        only_ignored_here: bool,
    ) -> Result<Option<String>> {
        let mut listing = self.git();
        listing.args([
            "diff-tree",
            "-r",
            "-z",
            "--no-renames",
            "--name-only",
            "--diff-filter=D",
            last,
            new,
        ]);
        let output = listing.output().context("running git diff-tree")?;
        let kept: Vec<&[u8]> = output
            .stdout
            .split(|&b| b == 0)
            .filter(|path| !path.is_empty())
            .filter(|path| {
                use std::os::unix::ffi::OsStrExt as _;
                std::fs::symlink_metadata(self.dir.join(std::ffi::OsStr::from_bytes(path))).is_ok()
            })
            .collect();
        let kept = if only_ignored_here && !kept.is_empty() {
            self.ignored_here(&kept)?
        } else {
            kept
        };
        if kept.is_empty() {
            return Ok(None);
        }
        let index = self.private.join("kept-index");
        let run = |args: &[&str], input: Vec<u8>| -> Result<Vec<u8>> {
            let mut cmd = self.git();
            cmd.env("GIT_INDEX_FILE", &index).args(args);
            crate::engine::transfer::run_fed(cmd, input, "git")
        };
        run(&["read-tree", &format!("{last}^{{tree}}")], Vec::new())?;
        run(
            &["update-index", "-z", "--force-remove", "--stdin"],
            kept.join(&0_u8),
        )?;
        let tree = String::from_utf8_lossy(&run(&["write-tree"], Vec::new())?)
            .trim()
            .to_owned();
        let _ = std::fs::remove_file(&index);
        // Not deleted there: kept, no longer copied.
        let kept: std::collections::HashSet<String> = {
            let mut quoted = self.git();
            quoted.args([
                "-c",
                "core.quotePath=true",
                "diff-tree",
                "-r",
                "--name-only",
                "--diff-filter=D",
                &format!("{last}^{{tree}}"),
                &tree,
            ]);
            let output = quoted.output().context("running git diff-tree")?;
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .map(str::to_owned)
                .collect()
        };
        outcome.deleted.retain(|path| !kept.contains(path));
        Ok(Some(tree))
    }

    /// Those of `paths` that git ignores here (by the rules alone, tracked or not).
    fn ignored_here<'p>(&self, paths: &[&'p [u8]]) -> Result<Vec<&'p [u8]>> {
        let mut cmd = crate::git::command();
        cmd.current_dir(&self.dir)
            .args(["check-ignore", "-z", "--stdin", "--no-index"]);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().context("running git check-ignore")?;
        let mut stdin = child.stdin.take().context("git check-ignore without stdin")?;
        let input: Vec<u8> = paths
            .iter()
            .flat_map(|path| path.iter().copied().chain([0]))
            .collect();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        // Exit 1: none of them is ignored.
        let output = child.wait_with_output().context("running git check-ignore")?;
        let _ = writer.join();
        let ignored: std::collections::HashSet<&[u8]> = output.stdout.split(|&b| b == 0).collect();
        Ok(paths
            .iter()
            .copied()
            .filter(|path| ignored.contains(path))
            .collect())
    }

    /// What `new` changes against `last`, into `outcome`.
    fn describe(&self, last: Option<&str>, new: &str, outcome: &mut Outcome) -> Result<()> {
        let mut cmd = self.git();
        cmd.args([
            "-c",
            "core.quotePath=true",
            "diff-tree",
            "-r",
            "--no-renames",
            "--name-status",
        ]);
        match last {
            Some(last) => cmd.args([last, new]),
            None => cmd.args(["--root", new]),
        };
        let output = cmd.output().context("running git diff-tree")?;
        if !output.status.success() {
            bail!(
                "comparing the snapshots failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let Some((status, path)) = line.split_once('\t') else {
                continue;
            };
            match status {
                "A" => outcome.added.push(path.to_owned()),
                "D" => outcome.deleted.push(path.to_owned()),
                _ => outcome.changed.push(path.to_owned()),
            }
        }
        Ok(())
    }
}

/// One side's script, run here or on the host.
struct Side<'a> {
    host: Option<&'a str>,
    dir: String,
    /// Our private git dir where it is not `DIR/.git-repo-sync` (this side's, in `.git`).
    private: Option<&'a Path>,
    /// The caller wrote `info/exclude` (the repository's own).
    exclude_kept: bool,
    format: ObjectFormat,
    timeout: Duration,
}

/// What a side's script answered.
struct Reply {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Side<'_> {
    fn run(&self, verb: &str, args: &[&str], input: &[u8]) -> Result<Reply> {
        let mut words: Vec<String> = vec![
            "git-repo-sync".to_owned(),
            verb.to_owned(),
            self.dir.clone(),
            self.format.name().to_owned(),
        ];
        words.extend(args.iter().map(|&arg| arg.to_owned()));
        let mut cmd = match self.host {
            None => {
                let mut cmd = Command::new("sh");
                crate::git::scrub_env(&mut cmd);
                cmd.arg("-c").arg(SIDE_SCRIPT).args(&words);
                if let Some(private) = self.private {
                    cmd.env("GIT_REPO_SYNC_GIT_DIR", private);
                }
                if self.exclude_kept {
                    cmd.env("GIT_REPO_SYNC_EXCLUDE", "kept");
                }
                cmd
            }
            Some(host) => ssh(host, &words, self.timeout),
        };
        let what = match self.host {
            Some(host) => format!("the {verb} step on {host}"),
            None => format!("the {verb} step here"),
        };
        run_watched(&mut cmd, input, self.timeout).with_context(|| what)
    }
}

impl Reply {
    fn line(&self, target: &Target) -> Result<String> {
        self.outcome_on(target, "here")?;
        Ok(String::from_utf8_lossy(&self.stdout).trim().to_owned())
    }

    fn first_word(&self, word: &str) -> Option<&str> {
        let text = std::str::from_utf8(&self.stdout).ok()?;
        text.lines()
            .find_map(|line| line.strip_prefix(word)?.strip_prefix(' '))
    }

    fn listed(&self, word: &str) -> Vec<String> {
        String::from_utf8_lossy(&self.stdout)
            .lines()
            .filter_map(|line| Some(line.strip_prefix(word)?.strip_prefix(' ')?.to_owned()))
            .collect()
    }

    fn ok_or_error(&self) -> Result<()> {
        if self.code == Some(0) {
            return Ok(());
        }
        let said = String::from_utf8_lossy(&self.stdout);
        let error = said
            .lines()
            .find_map(|line| line.strip_prefix("error "))
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(&self.stderr).trim().to_owned());
        match self.code {
            // ssh's own failures (connecting, authenticating) are 255.
            Some(255) => bail!("ssh failed: {}", String::from_utf8_lossy(&self.stderr).trim()),
            Some(code) => bail!("it failed (exit {code}): {error}"),
            None => bail!("it was killed: {error}"),
        }
    }

    /// The result of `apply` or `confirm` on `side` (`here` or `there`).
    fn outcome_on(&self, target: &Target, side: &'static str) -> Result<()> {
        match self.code {
            Some(3) => Err(anyhow::Error::new(Conflicts {
                side: if side == "here" {
                    "here"
                } else {
                    "on the other side"
                },
                paths: self.listed("conflict"),
            })),
            Some(4) => bail!(
                "another up or down is running on {} ({side}); wait for it and run again",
                target.display()
            ),
            _ => self.ok_or_error(),
        }
    }

    /// `offer`'s answer: the snapshot's id, then its pack.
    fn offer(&self) -> Result<(String, &[u8])> {
        let newline = self
            .stdout
            .iter()
            .position(|&b| b == b'\n')
            .context("the host's answer has no snapshot id")?;
        let head = String::from_utf8_lossy(&self.stdout[..newline]);
        let new = head
            .strip_prefix("new ")
            .filter(|oid| oid.bytes().all(|b| b.is_ascii_hexdigit()) && !oid.is_empty())
            .with_context(|| format!("the host answered {head:?}, not a snapshot id"))?;
        Ok((new.to_owned(), &self.stdout[newline + 1..]))
    }
}

/// ssh to `host` running the side script with `words`, never prompting, giving up on a host
/// that stops answering. The user's ssh (`GIT_SSH_COMMAND`, as for git, else `ssh`) is used,
/// so aliases and keys of `~/.ssh/config` apply.
fn ssh(host: &str, words: &[String], timeout: Duration) -> Command {
    let base = std::env::var("GIT_SSH_COMMAND")
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| "ssh".to_owned());
    let secs = timeout.as_secs().max(1);
    let mut remote = format!("sh -c {}", crate::shell::quote(SIDE_SCRIPT));
    for word in words {
        remote.push(' ');
        remote.push_str(&crate::shell::quote(word));
    }
    let mut cmd = Command::new("sh");
    crate::git::scrub_env(&mut cmd);
    cmd.arg("-c").arg(format!("{base} \"$@\"")).arg("ssh");
    // The connection stays open a minute for the next run (the next `up` of an edit loop, the
    // second step of a `down`), as the mirrors' ssh connections do.
    if let Some(dir) = crate::engine::transfer::shared_ssh::socket_dir() {
        let socket = dir.join(format!(
            "up-{}",
            crate::engine::transfer::shared_ssh::endpoint_id(&base, host)
        ));
        cmd.args(["-o", "ControlMaster=auto"])
            .arg("-o")
            .arg(format!("ControlPath={}", socket.display()))
            .args(["-o", "ControlPersist=60"]);
    }
    cmd.args(["-o", "BatchMode=yes"])
        .args(["-o", &format!("ConnectTimeout={secs}")])
        .args(["-o", &format!("ServerAliveInterval={}", secs.div_ceil(3))])
        .args(["-o", "ServerAliveCountMax=3"])
        .arg("--")
        .arg(host)
        .arg(remote);
    cmd
}

/// Runs `cmd` with `input` on its stdin, and kills it (its whole process group: ssh too) when
/// nothing moved either way for `timeout`.
fn run_watched(cmd: &mut Command, input: &[u8], timeout: Duration) -> Result<Reply> {
    let Some(output) = crate::child::run_watched(cmd, Some(input), timeout)? else {
        bail!(
            "timed out: nothing moved for {} s (--timeout); the host may be frozen or unreachable",
            timeout.as_secs()
        );
    };
    Ok(Reply {
        code: output.status.code(),
        stdout: output.stdout,
        stderr: output.stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_read_as_ssh_and_git_read_them() {
        let t = Target::parse("gpu:src/project").expect("parses");
        assert_eq!((t.host.as_deref(), t.dir.as_str()), (Some("gpu"), "src/project"));
        let t = Target::parse("me@build.example:/srv/x").expect("parses");
        assert_eq!(
            (t.host.as_deref(), t.dir.as_str()),
            (Some("me@build.example"), "/srv/x")
        );
        let t = Target::parse("ssh://me@host:2222/home/me/p").expect("parses");
        assert_eq!(
            (t.host.as_deref(), t.dir.as_str()),
            (Some("ssh://me@host:2222"), "/home/me/p")
        );
        let t = Target::parse("ssh://host/~/p").expect("parses");
        assert_eq!(t.dir, "p");
        let t = Target::parse("./dir:with:colons").expect("parses");
        assert_eq!((t.host, t.dir.as_str()), (None, "./dir:with:colons"));
        assert_eq!(Target::parse("/mnt/x").expect("parses").host, None);
        assert!(
            Target::parse("-oProxyCommand=x:dir").is_err(),
            "an option as host"
        );
        assert!(Target::parse("host:").is_err(), "no directory");
        assert!(Target::parse("").is_err());
    }
}
