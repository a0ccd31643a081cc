//! The environment: an isolated work directory, command builders, and what a command cost.

use std::fs;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::common::{BIN, Caller, Isolated, WorkDir, show};
use crate::{Res, common};

/// Variables that would let the caller's environment leak into the measurement besides the
/// repository-local ones git exports to hooks (`git rev-parse --local-env-vars`), which the
/// library keeps as [`git_repo_sync::LOCAL_ENV_VARS`] (a unit test checks it against the
/// installed git): a namespace would move every ref pushed.
const ALSO_SCRUBBED: [&str; 1] = ["GIT_NAMESPACE"];

/// What one command cost, with every process it started and waited for.
#[derive(Clone, Copy, Default)]
pub(crate) struct Usage {
    pub(crate) wall: Duration,
    /// User plus system time.
    pub(crate) cpu: Duration,
    /// The largest resident set of any one process of the tree (`ru_maxrss` from `wait4`, which
    /// covers the child and the descendants it reaped), in KiB.
    pub(crate) max_rss_kib: u64,
}

impl std::ops::Add for Usage {
    type Output = Usage;
    fn add(self, o: Usage) -> Usage {
        Usage {
            wall: self.wall + o.wall,
            cpu: self.cpu + o.cpu,
            max_rss_kib: self.max_rss_kib.max(o.max_rss_kib),
        }
    }
}

/// Waits for `child` with `wait4`, which std does not expose, to get its resource usage. The
/// `Child` is consumed so that nothing waits for it again.
#[allow(unsafe_code)]
fn wait_with_usage(child: std::process::Child) -> std::io::Result<(ExitStatus, Usage)> {
    use std::os::unix::process::ExitStatusExt as _;
    let pid = libc::pid_t::try_from(child.id()).map_err(std::io::Error::other)?;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data, for which all zeroes is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live locals of the right types; `pid` is our child,
        // not yet reaped.
        let r = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut ru) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    let usage = Usage {
        wall: Duration::ZERO,
        cpu: time(ru.ru_utime) + time(ru.ru_stime),
        max_rss_kib: u64::try_from(ru.ru_maxrss).unwrap_or(0),
    };
    Ok((ExitStatus::from_raw(status), usage))
}

/// Commands isolated from the user (`common::Isolated`), with the caller's environment less
/// what could leak into the measurement, and their measuring.
pub(crate) struct Env {
    isolated: Isolated,
    /// Held for its removal at the end.
    _work: WorkDir,
}

impl Env {
    pub(crate) fn new(keep: bool) -> Res<Self> {
        let work = WorkDir::new("compare", "grs-bench", keep)?;
        Ok(Env {
            isolated: Isolated::new(&work.root, Caller::AllBut(&ALSO_SCRUBBED))?,
            _work: work,
        })
    }

    /// A copy of the bench's global git config at `to`, without the repositories the figures
    /// before registered in it: a registry of its own for a fleet.
    pub(crate) fn empty_registry(&self, to: &std::path::Path) -> Res<()> {
        fs::copy(&self.gitconfig, to).map_err(|e| format!("{}: {e}", to.display()))?;
        // Exit 5 where nothing is registered: fine.
        let _ = self
            .cmd("git")
            .arg("config")
            .arg("--file")
            .arg(to)
            .args(["--unset-all", "repo-sync.repo"])
            .status();
        Ok(())
    }

    /// Runs a command with stdout discarded and stderr to a file (so that nothing waits on a
    /// pipe a detached child might hold), and returns what it cost.
    pub(crate) fn measure(&self, c: &mut Command) -> Res<Usage> {
        let log = self.root.join("timed-stderr.log");
        let f = fs::File::create(&log).map_err(|e| e.to_string())?;
        c.stdout(Stdio::null()).stderr(f);
        let t = Instant::now();
        let child = c.spawn().map_err(|e| format!("{}: {e}", show(c)))?;
        let (status, usage) = wait_with_usage(child).map_err(|e| format!("{}: {e}", show(c)))?;
        let wall = t.elapsed();
        if !status.success() {
            let err = fs::read_to_string(&log).unwrap_or_default();
            return Err(format!("{} failed ({status}): {}", show(c), err.trim()));
        }
        Ok(Usage { wall, ..usage })
    }

    /// [`Env::measure`], wall-clock time only.
    pub(crate) fn timed(&self, c: &mut Command) -> Res<Duration> {
        self.measure(c).map(|u| u.wall)
    }
}

// So that the commands and checks of `Isolated` read as `env.git(..)`, `env.refs(..)`.
impl std::ops::Deref for Env {
    type Target = Isolated;

    fn deref(&self) -> &Isolated {
        &self.isolated
    }
}

pub(crate) fn machine(env: &Env) -> String {
    let git = env.out(env.cmd("git").arg("--version")).unwrap_or_else(|e| e);
    common::machine(&git, BIN)
}
