//! What the whole-process benchmarks (`compare`, `latency`) share: the work directory and the
//! isolated environment their commands run in, medians, the machine line, telling whether a
//! background worker is still running, a seeded random number generator and command lines for
//! error messages.

mod isolation;

pub(crate) use isolation::{BIN, Caller, Isolated, WorkDir};

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub(crate) fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if !n.is_multiple_of(2) {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// `min–max` of `v`, to the unit.
pub(crate) fn spread(v: &[f64]) -> String {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{min:.0}–{max:.0}")
}

/// Milliseconds, as the tables give them.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Every sample, in whole milliseconds.
pub(crate) fn list(v: &[f64]) -> String {
    v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(" ")
}

/// Cores, CPU, memory, kernel, git's version (as `git --version` printed it), the load average
/// and the binary measured, for the head of a benchmark's output.
pub(crate) fn machine(git_version: &str, binary: &str) -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Machine: {cores} cores ({cpu}), {:.1} GiB RAM, Linux {}",
        mem_kb as f64 / 1048576.0,
        kernel.trim()
    );
    let _ = writeln!(
        s,
        "{}; load average at start {}",
        git_version.trim(),
        load.join(" ")
    );
    let _ = write!(s, "Binary: {binary}");
    s
}

/// Whether a `git-repo-sync worker` process for this repository is alive (read from /proc).
pub(crate) fn worker_running(git_dir: &Path) -> bool {
    let Ok(procs) = fs::read_dir("/proc") else {
        return false;
    };
    let dir = git_dir.to_string_lossy();
    procs.flatten().any(|p| {
        let Ok(cmdline) = fs::read(p.path().join("cmdline")) else {
            return false;
        };
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        let is_ours = args.first().is_some_and(|a| a.ends_with(b"git-repo-sync"));
        is_ours
            && args.iter().any(|a| *a == b"worker")
            && args
                .iter()
                .any(|a| String::from_utf8_lossy(a).contains(dir.as_ref()))
    })
}

/// Makes `path` executable (mode 755): the hooks and scripts the benches write.
pub(crate) fn chmod_x(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())
}

/// splitmix64: small, fast, deterministic on every platform.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A command line without its environment, for error messages.
pub(crate) fn show(c: &Command) -> String {
    let mut s = Path::new(c.get_program())
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    for a in c.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs a command to completion; its stdout on success.
pub(crate) fn output(c: &mut Command) -> Result<String, String> {
    let o = c.output().map_err(|e| format!("{}: {e}", show(c)))?;
    if !o.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            show(c),
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// What both benches check about repositories, through their own isolated environment.
pub(crate) trait Repos {
    /// `git` with the bench's environment, in no repository.
    fn git_cmd(&self) -> Command;

    /// Runs a command to completion; its stdout on success.
    fn run_out(&self, c: &mut Command) -> Result<String, String>;

    /// `refs/heads/*` and `refs/tags/*` of a repository, as `<oid> <name>` lines.
    fn refs(&self, repo: &Path) -> Result<String, String> {
        let mut c = self.git_cmd();
        c.arg("-C").arg(repo).args([
            "for-each-ref",
            "--format=%(objectname) %(refname)",
            "refs/heads/",
            "refs/tags/",
        ]);
        self.run_out(&mut c)
    }

    fn same_refs(&self, a: &Path, b: &Path) -> Result<(), String> {
        let (ra, rb) = (self.refs(a)?, self.refs(b)?);
        if ra == rb {
            Ok(())
        } else {
            Err(format!(
                "refs of {} ({} refs) differ from {} ({} refs)",
                b.display(),
                rb.lines().count(),
                a.display(),
                ra.lines().count()
            ))
        }
    }

    /// An empty bare repository at `path`, whatever was there.
    fn fresh_bare(&self, path: &Path) -> Result<(), String> {
        if path.exists() {
            fs::remove_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let mut c = self.git_cmd();
        c.args(["init", "-q", "--bare"]).arg(path);
        self.run_out(&mut c).map(drop)
    }
}
