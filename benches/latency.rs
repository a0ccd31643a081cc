//! Whole-process benchmark over a slow link: `git-repo-sync` against `git push` to real servers on
//! loopback, OpenSSH's `sshd` and lighttpd running `git http-backend` over TLS, each reached
//! through a TCP proxy that delays every chunk by a fixed time each way (`support/proxy.rs`) and
//! counts the connections.
//!
//! Run with `cargo bench --bench latency`. Extra arguments select rows by prefix (`cargo bench
//! --bench latency -- L1 L5`). Environment: `GRS_BENCH_DELAY_MS` (one-way delay, default 20),
//! `GRS_BENCH_REPS` (default 7), `GRS_BENCH_KEEP=1` keeps the work directory.
//!
//! Everything runs in a fresh directory under the system temp dir, with git isolated from the
//! user's configuration as in `compare/` (own `HOME`, `GIT_CONFIG_NOSYSTEM=1`,
//! `GIT_CONFIG_GLOBAL`) and from the caller's environment (only `PATH` is kept), with the
//! benchmark's own ssh command and credentials. The servers' git gets the same configuration.
//! The source repository is generated with `git fast-import`. Each row runs ours and its anchor
//! in the same repetition, taking turns at going first, and reports medians, with the
//! connections the proxy accepted and the CPU time of both ends. See BENCHMARKS.md.

mod common;
mod support;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    BIN, Caller, Isolated, Repos as _, Rng, WorkDir, chmod_x, list, median, ms, output, show, spread,
    worker_running,
};
use support::proxy::Proxy;
use support::servers::{Https, Sshd};

/// What ours pushes to a mirror of all branches and tags that forces (the default).
const REFSPECS: [&str; 2] = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];
/// The options of our `git push` (src/push.rs) that change what crosses the link, for a mirror
/// that prunes (the default) on a server that takes atomic pushes. Its other options
/// (`--no-verify`, `--no-signed`, `--no-recurse-submodules`, `--progress`) add no round trip.
const PUSH_OPTIONS: [&str; 3] = ["--porcelain", "--atomic", "--prune"];

/// The ssh client config's name for the ssh server behind its proxy.
const SSH_ALIAS: &str = "bench-mirror";
const HTTP_USER: &str = "alice";
/// The variable that holds the password of the https mirror (its `token_env`).
const TOKEN_VAR: &str = "GRS_BENCH_TOKEN";
const TOKEN: &str = "bench-token-1";
/// The anchor's credential helper: the same answer ours gives git, from the same variable.
const CREDENTIAL_HELPER: &str = "!f() { test \"$1\" = get || exit 0; echo username=alice; \
                                 echo \"password=$GRS_BENCH_TOKEN\"; }; f";

/// Mirrors on one host in L4.
const FAN_OUT: usize = 8;

/// Shape of the generated repository.
const FILES: usize = 60;
const MAIN_COMMITS: usize = 300;
const BRANCHES: usize = 12;
const BRANCH_COMMITS: usize = 3;
const TAGS: usize = 10;

/// Longest a mirror may take to catch up, or a worker to end, in L6.
const LIMIT: Duration = Duration::from_secs(60);

type Res<T> = Result<T, String>;

fn main() {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let number = |var: &str| std::env::var(var).ok().and_then(|v| v.parse::<u64>().ok());
    let reps = number("GRS_BENCH_REPS").filter(|&n| n > 0).unwrap_or(7) as usize;
    let delay = Duration::from_millis(number("GRS_BENCH_DELAY_MS").unwrap_or(20));
    let keep = std::env::var_os("GRS_BENCH_KEEP").is_some_and(|v| v == "1");
    let code = match WorkDir::new("latency", "grs-latency", keep)
        .and_then(|work| run(&work, &filters, reps, delay))
    {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("latency: {e}");
            1
        }
    };
    std::process::exit(code);
}

fn run(work: &WorkDir, filters: &[String], reps: usize, delay: Duration) -> Res<()> {
    let root = &work.root;
    let mut isolated = Isolated::new(root, Caller::OnlyPath)?;
    fs::create_dir_all(isolated.home.join(".config")).map_err(|e| e.to_string())?;
    let (home, gitconfig) = (&isolated.home, &isolated.gitconfig);

    let exec_path = output(Command::new("git").arg("--exec-path"))?;
    let backend = Path::new(exec_path.trim()).join("git-http-backend");
    let sshd = Sshd::start(&root.join("sshd"), gitconfig, home).map_err(|e| format!("sshd: {e}"))?;
    let https = Https::start(&root.join("https"), gitconfig, HTTP_USER, TOKEN, &backend)
        .map_err(|e| format!("lighttpd: {e}"))?;
    let ssh_proxy = Proxy::start(sshd.port(), delay).map_err(|e| format!("the ssh proxy: {e}"))?;
    let web_proxy = Proxy::start(https.port(), delay).map_err(|e| format!("the https proxy: {e}"))?;
    let ssh = Link {
        proxy: &ssh_proxy,
        server_pid: sshd.pid(),
    };
    let web = Link {
        proxy: &web_proxy,
        server_pid: https.pid(),
    };
    let ssh_config = sshd.client_config(SSH_ALIAS, ssh_proxy.port())?;
    let ssh_command = format!("ssh -F {}", sh_quote(&ssh_config));
    isolated.extra_env = vec![("GIT_SSH_COMMAND", ssh_command.into()), (TOKEN_VAR, TOKEN.into())];
    let env = Env { isolated, ssh_config };
    env.out(
        env.cmd("git")
            .args(["config", "--global", "http.sslCAInfo"])
            .arg(https.ca()),
    )?;

    let git_version = env.out(env.cmd("git").arg("--version"))?;
    println!("{}", common::machine(&git_version, BIN));
    let t = Instant::now();
    let src = root.join("src.git");
    generate(&env, &src)?;
    println!(
        "Generated the source repository in {:.1} s: {} commits, {} branches, {} tags.",
        t.elapsed().as_secs_f64(),
        env.out(env.git(&src).args(["rev-list", "--all", "--count"]))?
            .trim(),
        env.out(env.git(&src).args(["for-each-ref", "refs/heads/"]))?
            .lines()
            .count(),
        env.out(env.git(&src).args(["for-each-ref", "refs/tags/"]))?
            .lines()
            .count(),
    );
    println!(
        "One-way delay {} ms through the proxies (a round trip {} ms, and one more for each new \
         connection); {reps} repetitions per row, ours and anchor taking turns at going first; medians.\n",
        delay.as_millis(),
        2 * delay.as_millis()
    );

    let ssh_repos = root.join("ssh-repos");
    fs::create_dir_all(&ssh_repos).map_err(|e| e.to_string())?;
    let mut bench = Bench {
        env: &env,
        src,
        ssh_repos,
        https: &https,
        ssh: &ssh,
        web: &web,
        reps,
        commits: std::cell::Cell::new(0),
    };
    type RowFn<'a> = fn(&mut Bench<'a>) -> Res<Vec<Row>>;
    let rows: [(&str, &str, RowFn<'_>); 6] = [
        ("L1", "ssh, one new commit", Bench::l1_one_commit),
        ("L2", "ssh, nothing new", Bench::l2_nothing_new),
        ("L3", "ssh, first push into an empty mirror", Bench::l3_first_push),
        ("L4", "ssh, 8 mirrors on one host / 1 mirror", Bench::l4_fan_out),
        ("L5", "https, one new commit", Bench::l5_https),
        ("L6", "git commit until the ssh mirror has it", Bench::l6_hooks),
    ];
    let mut done: Vec<Row> = Vec::new();
    let mut failed = false;
    for (name, what, f) in rows {
        if !filters.is_empty() && !filters.iter().any(|p| name.starts_with(p.as_str())) {
            continue;
        }
        eprintln!("running {name} ({what}) ...");
        match f(&mut bench) {
            Ok(rows) => done.extend(rows),
            Err(e) => {
                eprintln!("{name} failed: {e}");
                failed = true;
            }
        }
    }

    println!(
        "| row | ours (median, min–max) | anchor (median, min–max) | ratio | goal | connections per pass, ours / anchor | round trips per pass, ours / anchor |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for row in &done {
        row.print();
    }
    println!();
    println!(
        "CPU per pass, medians: the command's process tree (user + system, as `wait` reports it) \
         and the server's (sshd or lighttpd, with every process they reaped)."
    );
    for row in &done {
        println!(
            "{} (ms): ours {} | anchor {} | CPU ours {}, anchor {}",
            row.label,
            list(&row.ours.ms),
            list(&row.anchor.ms),
            row.ours.cpu(),
            row.anchor.cpu()
        );
    }
    if failed {
        return Err("some rows failed (see above)".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Rows.

/// What one timed run cost.
#[derive(Clone, Copy)]
struct Run {
    ms: f64,
    /// Connections the proxy accepted.
    connections: usize,
    /// Round trips the proxy saw the client wait for.
    round_trips: usize,
    /// CPU milliseconds of the command's process tree (`None` where part of it is not ours to
    /// wait for: a detached worker).
    client_cpu: Option<f64>,
    /// CPU milliseconds of the server and what it reaped meanwhile.
    server_cpu: f64,
}

/// One side's samples, per run.
#[derive(Default)]
struct Side {
    ms: Vec<f64>,
    connections: Vec<usize>,
    round_trips: Vec<usize>,
    client_cpu: Vec<f64>,
    server_cpu: Vec<f64>,
}

impl Side {
    fn add(&mut self, run: Run) {
        self.ms.push(run.ms);
        self.connections.push(run.connections);
        self.round_trips.push(run.round_trips);
        self.client_cpu.extend(run.client_cpu);
        self.server_cpu.push(run.server_cpu);
    }

    /// `client 40 ms, server 30 ms`.
    fn cpu(&self) -> String {
        let client = if self.client_cpu.is_empty() {
            "not measured".to_owned()
        } else {
            format!("{:.0} ms", median(&self.client_cpu))
        };
        format!("client {client}, server {:.0} ms", median(&self.server_cpu))
    }
}

/// A server behind its proxy.
struct Link<'a> {
    proxy: &'a Proxy,
    server_pid: u32,
}

impl Link<'_> {
    /// CPU time of the server process and of all its descendants, with every process they
    /// reaped (sshd's per-connection processes, which outlive a pass on a connection kept open,
    /// their sessions, lighttpd's CGIs), from /proc, in milliseconds (clock ticks).
    fn server_cpu(&self) -> f64 {
        // Per process: its parent, and utime + stime + cutime + cstime.
        let mut processes: Vec<(u32, u32, u64)> = Vec::new();
        for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let stat = fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // Fields after the command name's closing parenthesis start at field 3 (state): the
            // parent is field 4; utime, stime, cutime and cstime are fields 14 to 17.
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map_or("", |(_, rest)| rest)
                .split_whitespace()
                .collect();
            let (Some(parent), Some(times)) = (fields.get(1), fields.get(11..15)) else {
                continue;
            };
            let ticks = times.iter().filter_map(|f| f.parse::<u64>().ok()).sum();
            processes.push((pid, parent.parse().unwrap_or(0), ticks));
        }
        let mut tree = vec![self.server_pid];
        let mut ticks = 0;
        while let Some(pid) = tree.pop() {
            for &(child, parent, own) in &processes {
                if child == pid {
                    ticks += own;
                }
                if parent == pid {
                    tree.push(child);
                }
            }
        }
        1e3 * ticks as f64 / clock_ticks_per_second()
    }
}

#[allow(unsafe_code)]
fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf reads a constant of the system; no memory is involved.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// User plus system CPU time, in milliseconds, of every child this process has waited for
/// (with their own waited-for descendants).
#[allow(unsafe_code)]
fn children_cpu() -> f64 {
    // SAFETY: `rusage` is plain old data, for which all zeroes is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer is to a live local of the right type.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &raw mut ru) };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    ms(ru.ru_utime) + ms(ru.ru_stime)
}

/// How long the server may take after the client is done to end and reap the connection's
/// processes, before its CPU time is read.
const SERVER_SETTLE: Duration = Duration::from_millis(150);

struct Row {
    label: String,
    /// `None`: informative.
    goal: Option<f64>,
    ours: Side,
    anchor: Side,
}

impl Row {
    fn new(label: &str, goal: Option<f64>) -> Self {
        Self {
            label: label.to_owned(),
            goal,
            ours: Side::default(),
            anchor: Side::default(),
        }
    }

    fn print(&self) {
        let (a, b) = (median(&self.ours.ms), median(&self.anchor.ms));
        let ratio = a / b;
        let goal = match self.goal {
            Some(g) => format!("≤ {g:.1} ({})", if ratio <= g { "met" } else { "missed" }),
            None => "informative".to_owned(),
        };
        println!(
            "| {} | {a:.1} ms ({}) | {b:.1} ms ({}) | {ratio:.2} | {goal} | {} / {} | {} / {} |",
            self.label,
            spread(&self.ours.ms),
            spread(&self.anchor.ms),
            counted(&self.ours.connections),
            counted(&self.anchor.connections),
            counted(&self.ours.round_trips),
            counted(&self.anchor.round_trips)
        );
    }
}

/// `1`, or `1-2 (median 1)` when the runs differed.
fn counted(v: &[usize]) -> String {
    let (min, max) = (v.iter().min(), v.iter().max());
    match (min, max) {
        (Some(min), Some(max)) if min == max => min.to_string(),
        (Some(min), Some(max)) => {
            let as_f64: Vec<f64> = v.iter().map(|&n| n as f64).collect();
            format!("{min}–{max} (median {})", median(&as_f64))
        }
        _ => "-".to_owned(),
    }
}

/// Runs each of `runs` once, the `rep % n`-th first and the others in turn after it; returns the
/// results in the order given.
fn in_turn<T>(rep: usize, runs: &mut [&mut dyn FnMut() -> Res<T>]) -> Res<Vec<T>> {
    let n = runs.len();
    let mut results: Vec<Option<T>> = (0..n).map(|_| None).collect();
    for k in 0..n {
        let i = (rep + k) % n;
        results[i] = Some(runs[i]()?);
    }
    Ok(results.into_iter().flatten().collect())
}

struct Bench<'a> {
    env: &'a Env,
    src: PathBuf,
    /// Where the ssh server's repositories are.
    ssh_repos: PathBuf,
    https: &'a Https,
    ssh: &'a Link<'a>,
    web: &'a Link<'a>,
    reps: usize,
    /// New commits made so far.
    commits: std::cell::Cell<usize>,
}

impl Bench<'_> {
    fn ssh_url(&self, repo: &Path) -> String {
        format!("{SSH_ALIAS}:{}", repo.display())
    }

    /// The same through another name of the host (`bench-mirror-NAME`): a connection of its
    /// own, never one kept open for the mirrors reached by the first name.
    fn ssh_url_as(&self, name: &str, repo: &Path) -> String {
        format!("{SSH_ALIAS}-{name}:{}", repo.display())
    }

    /// `mirror add --no-check NAME URL <extra>` in the source, with a fresh bare repository at
    /// `repo` (where the server keeps it).
    fn add_mirror(&self, name: &str, url: &str, repo: &Path, extra: &[&str]) -> Res<()> {
        self.env.fresh_bare(repo)?;
        self.env
            .out(
                self.env
                    .ours(&self.src)
                    .args(["mirror", "add", "--no-check", name, url])
                    .args(extra),
            )
            .map(drop)
    }

    /// Ours: `git-repo-sync sync -q` to the named mirrors.
    fn sync(&self, names: &[String]) -> Command {
        let mut c = self.env.ours(&self.src);
        c.args(["sync", "-q"]);
        for name in names {
            c.args(["--mirror", name]);
        }
        c
    }

    /// The anchor: `git [config] push` of what ours pushes, from `dir` to `url`.
    fn push(&self, dir: &Path, url: &str, config: &[String]) -> Command {
        let mut c = self.env.git(dir);
        for entry in config {
            c.args(["-c", entry]);
        }
        c.arg("push").args(PUSH_OPTIONS).arg(url).args(REFSPECS);
        c
    }

    /// Runs `c` (timed) and counts the connections `link`'s proxy accepted meanwhile and the
    /// CPU time spent.
    fn through(&self, link: &Link<'_>, c: &mut Command) -> Res<Run> {
        self.measure(link, true, || self.env.timed(c))
    }

    /// What `timed` took (it returns its own time), with the connections `link`'s proxy accepted
    /// meanwhile and the CPU time spent; the client's only when `waited`, when every process
    /// of the run was a child waited for.
    fn measure(&self, link: &Link<'_>, waited: bool, timed: impl FnOnce() -> Res<Duration>) -> Res<Run> {
        link.proxy.take_accepted();
        link.proxy.take_round_trips();
        let (client, server) = (children_cpu(), link.server_cpu());
        let took = timed()?;
        let client_cpu = children_cpu() - client;
        // Those the run waited for: not what it left to do in the background after it (the
        // next push's connection opened ahead), which the next measure's start discards.
        let round_trips = link.proxy.take_round_trips();
        std::thread::sleep(SERVER_SETTLE);
        Ok(Run {
            ms: ms(took),
            connections: link.proxy.take_accepted(),
            round_trips,
            client_cpu: waited.then_some(client_cpu),
            server_cpu: link.server_cpu() - server,
        })
    }

    /// One new commit on `main` of the source, untimed (made with fast-import: no hook runs).
    fn new_commit(&self) -> Res<()> {
        let n = self.commits.get() + 1;
        self.commits.set(n);
        commit_on(self.env, &self.src, "main", n)
    }

    /// Mirrors `s` and `s0` (ours; `s0` with `ssh_keep_open = 0`) and the anchor's repository
    /// on the ssh server, all up to date.
    fn ssh_pair(&self) -> Res<[PathBuf; 3]> {
        let (om, am, zm) = (
            self.ssh_repos.join("ours.git"),
            self.ssh_repos.join("anchor.git"),
            self.ssh_repos.join("ours-closed.git"),
        );
        if !om.exists() {
            self.add_mirror("s", &self.ssh_url(&om), &om, &[])?;
            self.add_mirror("s0", &self.ssh_url(&zm), &zm, &["--ssh-keep-open", "0"])?;
            self.env.fresh_bare(&am)?;
        }
        self.env.out(&mut self.sync(&names(["s"])))?;
        self.env.out(&mut self.sync(&names(["s0"])))?;
        self.env.out(&mut self.push(&self.src, &self.ssh_url(&am), &[]))?;
        Ok([om, am, zm])
    }

    /// Ours (its connection kept open from the pass before) against `git push`; extra: ours
    /// with `ssh_keep_open = 0`, which connects as `git push` does.
    fn ssh_rows(&mut self, label: &str, new_commits: bool) -> Res<Vec<Row>> {
        let [om, am, zm] = self.ssh_pair()?;
        let anchor_url = self.ssh_url(&am);
        let mut row = Row::new(label, Some(1.0));
        let mut extra = Row::new(
            &format!(
                "{} (extra) ours with `ssh_keep_open = 0`, a connection per pass",
                &label[..2]
            ),
            None,
        );
        for rep in 0..self.reps {
            if new_commits {
                self.new_commit()?;
            }
            let r = in_turn(
                rep,
                &mut [
                    &mut || self.through(self.ssh, &mut self.sync(&names(["s"]))),
                    &mut || self.through(self.ssh, &mut self.push(&self.src, &anchor_url, &[])),
                    &mut || self.through(self.ssh, &mut self.sync(&names(["s0"]))),
                ],
            )?;
            row.ours.add(r[0]);
            row.anchor.add(r[1]);
            extra.ours.add(r[2]);
            extra.anchor.add(r[1]);
            for mirror in [&om, &am, &zm] {
                self.env.same_refs(&self.src, mirror)?;
            }
        }
        Ok(vec![row, extra])
    }

    fn l1_one_commit(&mut self) -> Res<Vec<Row>> {
        self.ssh_rows("L1 ssh, one new commit", true)
    }

    fn l2_nothing_new(&mut self) -> Res<Vec<Row>> {
        self.ssh_rows("L2 ssh, nothing new", false)
    }

    fn l3_first_push(&mut self) -> Res<Vec<Row>> {
        let (om, am) = (
            self.ssh_repos.join("first-ours.git"),
            self.ssh_repos.join("first-anchor.git"),
        );
        self.add_mirror("first", &self.ssh_url(&om), &om, &[])?;
        let anchor_url = self.ssh_url(&am);
        let mut row = Row::new("L3 ssh, first push into an empty mirror", Some(1.0));
        for rep in 0..self.reps {
            self.env.fresh_bare(&om)?;
            self.env.fresh_bare(&am)?;
            let r = in_turn(
                rep,
                &mut [
                    &mut || self.through(self.ssh, &mut self.sync(&names(["first"]))),
                    &mut || self.through(self.ssh, &mut self.push(&self.src, &anchor_url, &[])),
                ],
            )?;
            row.ours.add(r[0]);
            row.anchor.add(r[1]);
            self.env.same_refs(&self.src, &om)?;
            self.env.same_refs(&self.src, &am)?;
        }
        Ok(vec![row])
    }

    /// Ours both: one sync to [`FAN_OUT`] mirrors on the ssh server against one sync to one
    /// mirror there, each after the same new commit, every pass connecting (`ssh_keep_open =
    /// 0`). Extras: the same with the connection kept open from the pass before (the default),
    /// and as many `git push` at once, to mirrors of their own, over one ssh connection they
    /// share (OpenSSH's ControlMaster) and open for the purpose, against the connecting
    /// single-mirror sync.
    fn l4_fan_out(&mut self) -> Res<Vec<Row>> {
        let names = |prefix: &str| -> Vec<String> { (0..=FAN_OUT).map(|i| format!("{prefix}{i}")).collect() };
        let (cold, warm) = (names("cold"), names("fan"));
        let mut repos = Vec::new();
        for (names, extra) in [(&cold, &["--ssh-keep-open", "0"][..]), (&warm, &[][..])] {
            for name in names {
                let repo = self.ssh_repos.join(format!("{name}.git"));
                // The single mirror and the eight kept open each by another name of the host:
                // connections (and sessions opened ahead) of their own, as a host with one
                // mirror, or eight, has; not places taken by the other rows' mirrors.
                let url = if !extra.is_empty() {
                    self.ssh_url_as("cold", &repo)
                } else if *name == names[0] {
                    self.ssh_url_as("one", &repo)
                } else {
                    self.ssh_url_as("fan", &repo)
                };
                self.add_mirror(name, &url, &repo, extra)?;
                repos.push(repo);
            }
            self.env.out(&mut self.sync(names))?;
        }
        let shared: Vec<PathBuf> = (1..=FAN_OUT)
            .map(|i| self.ssh_repos.join(format!("shared{i}.git")))
            .collect();
        let floor: Vec<PathBuf> = (0..=FAN_OUT)
            .map(|i| self.ssh_repos.join(format!("floor{i}.git")))
            .collect();
        // Mirrors of the source from the start, pushed to by `git push` or the bench alone.
        for repo in shared.iter().chain(&floor) {
            self.env.fresh_bare(repo)?;
            self.env
                .out(&mut self.push(&self.src, &self.ssh_url(repo), &[]))?;
        }
        let floor_master = Master::open(self.env, "fm")?;
        let (floor_one, floor_many) = floor.split_at(1);
        let (cold_one, cold_many) = cold.split_at(1);
        let (warm_one, warm_many) = warm.split_at(1);
        let mut row = Row::new(
            "L4 ssh, 8 mirrors on one host / 1 mirror, each pass connecting (both ours, `ssh_keep_open = 0`)",
            Some(1.3),
        );
        let mut kept = Row::new(
            "L4 (extra) the same with the connection kept open from the pass before (the default)",
            None,
        );
        let mut by_hand = Row::new(
            "L4 (extra) 8 `git push` at once over one ssh connection (ControlMaster) opened for them / ours to 1 mirror, connecting",
            None,
        );
        let mut bound = Row::new(
            "L4 (extra) the server's floor: 8 receive-packs running in sessions of a kept connection, their refs read, sent a push made beforehand at once, until the 8 reports / the same to 1",
            None,
        );
        for rep in 0..self.reps {
            self.new_commit()?;
            let r = in_turn(
                rep,
                &mut [
                    &mut || self.through(self.ssh, &mut self.sync(cold_many)),
                    &mut || self.through(self.ssh, &mut self.sync(cold_one)),
                    &mut || self.through(self.ssh, &mut self.sync(warm_many)),
                    &mut || self.through(self.ssh, &mut self.sync(warm_one)),
                    &mut || self.measure(self.ssh, false, || self.pushes_sharing_a_connection(&shared)),
                    &mut || self.prepared_pushes(&floor_master, floor_many),
                    &mut || self.prepared_pushes(&floor_master, floor_one),
                ],
            )?;
            row.ours.add(r[0]);
            row.anchor.add(r[1]);
            kept.ours.add(r[2]);
            kept.anchor.add(r[3]);
            by_hand.ours.add(r[4]);
            by_hand.anchor.add(r[1]);
            bound.ours.add(r[5]);
            bound.anchor.add(r[6]);
            for repo in repos.iter().chain(&shared).chain(&floor) {
                self.env.same_refs(&self.src, repo)?;
            }
        }
        floor_master.close(self.env);
        Ok(vec![row, kept, by_hand, bound])
    }

    /// What no client can go below: a push of the new commit on `main` to each of `repos` at
    /// once, each into a `git-receive-pack` already running in a session of `master` with its
    /// refs read (as ours opens them ahead), the request and pack made beforehand, timed from
    /// the first byte written until every report is in. Untimed: opening the sessions, making
    /// the pack, and the sessions' ends.
    fn prepared_pushes(&self, master: &Master, repos: &[PathBuf]) -> Res<Run> {
        let mut sessions = repos
            .iter()
            .map(|repo| master.receive_pack(self.env, repo))
            .collect::<Res<Vec<_>>>()?;
        let new = self
            .env
            .out(self.env.git(&self.src).args(["rev-parse", "main"]))?;
        let new = new.trim();
        let old = sessions[0].main.clone();
        if sessions.iter().any(|s| s.main != old) {
            return Err("the floor's mirrors differ on main".to_owned());
        }
        let pack = self.thin_pack(new, &old)?;
        let mut request = pkt_line(&format!(
            "{old} {new} refs/heads/main\0report-status atomic quiet agent=bench\n"
        ));
        request.extend_from_slice(b"0000");
        request.extend_from_slice(&pack);
        let run = self.measure(self.ssh, false, || {
            let t = Instant::now();
            for session in &mut sessions {
                session
                    .stdin
                    .write_all(&request)
                    .map_err(|e| format!("sending a push: {e}"))?;
                session.stdin.flush().map_err(|e| e.to_string())?;
            }
            for session in &mut sessions {
                let mut report = Vec::new();
                while let Some(line) = read_pkt_line(&mut session.stdout)? {
                    report.extend_from_slice(&line);
                }
                if !report.starts_with(b"unpack ok\n") || !report.ends_with(b"ok refs/heads/main\n") {
                    return Err(format!(
                        "a push was refused: {}",
                        String::from_utf8_lossy(&report)
                    ));
                }
            }
            Ok(t.elapsed())
        })?;
        for mut session in sessions {
            drop(session.stdin);
            let _ = session.child.wait();
        }
        Ok(run)
    }

    /// `git pack-objects --thin` of what `new` has that `old` has not, as `git push` sends it.
    fn thin_pack(&self, new: &str, old: &str) -> Res<Vec<u8>> {
        let mut child = self
            .env
            .git(&self.src)
            .args([
                "pack-objects",
                "--stdout",
                "--thin",
                "--revs",
                "--quiet",
                "--delta-base-offset",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("git pack-objects: {e}"))?;
        let mut stdin = child.stdin.take().ok_or("no stdin for pack-objects")?;
        stdin
            .write_all(format!("{new}\n^{old}\n").as_bytes())
            .map_err(|e| e.to_string())?;
        drop(stdin);
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("git pack-objects failed: {}", out.status));
        }
        Ok(out.stdout)
    }

    /// Opens an ssh master connection to the server, runs one `git push` to each of `repos` at
    /// once through it, and closes it; returns how long the master and the pushes took.
    fn pushes_sharing_a_connection(&self, repos: &[PathBuf]) -> Res<Duration> {
        let env = self.env;
        let t = Instant::now();
        let master = Master::open(env, "cm")?;
        let control = &master.control;
        let command = format!(
            "ssh -F {} -o {} -o ControlMaster=no",
            sh_quote(&env.ssh_config),
            sh_quote(Path::new(&control))
        );
        let children: Vec<_> = repos
            .iter()
            .map(|repo| {
                let mut push = self.push(&self.src, &self.ssh_url(repo), &[]);
                push.env("GIT_SSH_COMMAND", &command)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .map_err(|e| format!("git push: {e}"))
            })
            .collect::<Res<_>>()?;
        let mut failed = 0;
        for mut child in children {
            failed += usize::from(!child.wait().is_ok_and(|s| s.success()));
        }
        let took = t.elapsed();
        master.close(env);
        if failed > 0 {
            return Err(format!(
                "{failed} of the pushes over the shared connection failed"
            ));
        }
        Ok(took)
    }

    /// Ours: mirror `h` with `token_env`. Anchor: `git push` with a credential helper giving the
    /// same token and `http.proactiveAuth=basic`, as ours sets it; extra: without it, so that
    /// git sends the credentials only after a 401.
    fn l5_https(&mut self) -> Res<Vec<Row>> {
        let port = self.web.proxy.port();
        let (om, am, pm) = (
            self.https.repo_path("h-ours"),
            self.https.repo_path("h-anchor"),
            self.https.repo_path("h-plain"),
        );
        let url = self.https.url(port, Some(HTTP_USER), "h-ours");
        self.add_mirror("h", &url, &om, &["--token-env", TOKEN_VAR])?;
        self.env.fresh_bare(&am)?;
        self.env.fresh_bare(&pm)?;
        for repo in [&om, &am, &pm] {
            self.env
                .out(self.env.git(repo).args(["config", "http.receivepack", "true"]))?;
        }
        let helper = vec![
            "credential.helper=".to_owned(),
            format!("credential.helper={CREDENTIAL_HELPER}"),
        ];
        let mut proactive = helper.clone();
        proactive.push("http.proactiveAuth=basic".to_owned());
        let (anchor_url, plain_url) = (
            self.https.url(port, None, "h-anchor"),
            self.https.url(port, None, "h-plain"),
        );
        let anchor = || self.push(&self.src, &anchor_url, &proactive);
        let plain = || self.push(&self.src, &plain_url, &helper);
        self.env.out(&mut self.sync(&names(["h"])))?;
        self.env.out(&mut anchor())?;
        self.env.out(&mut plain())?;

        let mut row = Row::new("L5 https, one new commit", Some(1.0));
        let mut extra = Row::new(
            "L5 (extra) the same against `git push` without `http.proactiveAuth`",
            None,
        );
        for rep in 0..self.reps {
            self.new_commit()?;
            let r = in_turn(
                rep,
                &mut [
                    &mut || self.through(self.web, &mut self.sync(&names(["h"]))),
                    &mut || self.through(self.web, &mut anchor()),
                    &mut || self.through(self.web, &mut plain()),
                ],
            )?;
            row.ours.add(r[0]);
            row.anchor.add(r[1]);
            extra.ours.add(r[0]);
            extra.anchor.add(r[2]);
            for mirror in [&om, &am, &pm] {
                self.env.same_refs(&self.src, mirror)?;
            }
        }
        Ok(vec![row, extra])
    }

    /// Two small work trees, one with our hooks (`install --mirror m=<ssh url>`), one whose
    /// hand-written post-commit hook runs `git push` of the same refspecs. Timed: from the start
    /// of `git commit` until the mirror's `main` is the new commit.
    fn l6_hooks(&mut self) -> Res<Vec<Row>> {
        let env = self.env;
        let dir = env.root.join("hooks");
        let (ours, anchor) = (dir.join("ours"), dir.join("anchor"));
        let (om, am) = (
            self.ssh_repos.join("hook-ours.git"),
            self.ssh_repos.join("hook-anchor.git"),
        );
        for (wt, mirror) in [(&ours, &om), (&anchor, &am)] {
            env.fresh_bare(mirror)?;
            env.out(env.cmd("git").args(["init", "-q"]).arg(wt))?;
            for i in 0..8 {
                fs::write(wt.join(format!("f{i}.txt")), text(&mut Rng(i), 30)).map_err(|e| e.to_string())?;
            }
            env.out(env.git(wt).args(["add", "."]))?;
            env.out(env.git(wt).args(["commit", "-q", "-m", "initial"]))?;
        }
        let anchor_url = self.ssh_url(&am);
        let hook = anchor.join(".git/hooks/post-commit");
        let quoted: Vec<String> = REFSPECS.iter().map(|r| format!("'{r}'")).collect();
        fs::write(
            &hook,
            format!(
                "#!/bin/sh\nexec git push {} '{anchor_url}' {} >/dev/null 2>&1\n",
                PUSH_OPTIONS.join(" "),
                quoted.join(" ")
            ),
        )
        .map_err(|e| e.to_string())?;
        chmod_x(&hook)?;
        let mut spec = std::ffi::OsString::from("m=");
        spec.push(self.ssh_url(&om));
        env.out(
            env.ours(&ours)
                .args(["install", "--yes", "-q", "--mirror"])
                .arg(&spec),
        )?;
        wait_for_worker(&ours.join(".git"))?;
        env.out(env.ours(&ours).args(["sync", "-q"]))?;
        env.out(&mut self.push(&anchor, &anchor_url, &[]))?;
        env.same_refs(&ours, &om)?;
        env.same_refs(&anchor, &am)?;

        let mut row = Row::new(
            "L6 `git commit` with our hooks until the ssh mirror has it / with a `git push` post-commit hook",
            Some(1.1),
        );
        for rep in 0..self.reps {
            for wt in [&ours, &anchor] {
                let name = format!("change-{rep}.txt");
                fs::write(wt.join(&name), text(&mut Rng(1000 + rep as u64), 5)).map_err(|e| e.to_string())?;
                env.out(env.git(wt).args(["add", &name]))?;
            }
            let r = in_turn(
                rep,
                &mut [&mut || self.commit_until_mirrored(&ours, &om), &mut || {
                    self.commit_until_mirrored(&anchor, &am)
                }],
            )?;
            row.ours.add(r[0]);
            row.anchor.add(r[1]);
            env.same_refs(&ours, &om)?;
            env.same_refs(&anchor, &am)?;
        }
        Ok(vec![row])
    }

    /// `git commit` in `wt`, timed until `mirror`'s `main` moves (read from the server's disk
    /// every millisecond). Then, untimed, the commit and any worker of ours end, and the
    /// connections and the server's CPU time are counted.
    fn commit_until_mirrored(&self, wt: &Path, mirror: &Path) -> Res<Run> {
        let before = branch_tip(mirror, "main");
        self.ssh.proxy.take_accepted();
        self.ssh.proxy.take_round_trips();
        let server = self.ssh.server_cpu();
        let log = self.env.root.join("commit-stderr.log");
        let stderr = fs::File::create(&log).map_err(|e| e.to_string())?;
        let mut c = self.env.git(wt);
        c.args(["commit", "-q", "-m", "change"])
            .stdout(Stdio::null())
            .stderr(stderr);
        let t = Instant::now();
        let mut child = c.spawn().map_err(|e| format!("git commit: {e}"))?;
        let took = loop {
            if branch_tip(mirror, "main") != before {
                break t.elapsed();
            }
            if let Ok(Some(status)) = child.try_wait()
                && !status.success()
            {
                let said = fs::read_to_string(&log).unwrap_or_default();
                return Err(format!(
                    "git commit in {} failed ({status}): {}",
                    wt.display(),
                    said.trim()
                ));
            }
            if t.elapsed() > LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} did not get the commit from {} within {LIMIT:?}",
                    mirror.display(),
                    wt.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let status = child.wait().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("git commit in {} failed ({status})", wt.display()));
        }
        wait_for_worker(&wt.join(".git"))?;
        std::thread::sleep(SERVER_SETTLE);
        Ok(Run {
            ms: ms(took),
            connections: self.ssh.proxy.take_accepted(),
            round_trips: self.ssh.proxy.take_round_trips(),
            // Our worker is detached: not a child to wait for.
            client_cpu: None,
            server_cpu: self.ssh.server_cpu() - server,
        })
    }
}

fn names<const N: usize>(list: [&str; N]) -> Vec<String> {
    list.iter().map(|&n| n.to_owned()).collect()
}

/// The object id `branch` has in the bare repository `repo`, read from its files.
fn branch_tip(repo: &Path, branch: &str) -> Option<String> {
    let refname = format!("refs/heads/{branch}");
    if let Ok(oid) = fs::read_to_string(repo.join(&refname)) {
        return Some(oid.trim().to_owned());
    }
    let packed = fs::read_to_string(repo.join("packed-refs")).ok()?;
    packed.lines().find_map(|line| {
        let (oid, name) = line.split_once(' ')?;
        (name == refname).then(|| oid.to_owned())
    })
}

/// Waits until no worker of ours runs for `git_dir`.
fn wait_for_worker(git_dir: &Path) -> Res<()> {
    let t = Instant::now();
    while worker_running(git_dir) {
        if t.elapsed() > LIMIT {
            return Err(format!(
                "a worker for {} still runs after {LIMIT:?}",
                git_dir.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// An ssh master connection to the server, opened for a row and kept for its repetitions, as
/// ours keeps one.
struct Master {
    control: String,
}

/// A `git-receive-pack` running in a session of a [`Master`], its refs read.
struct Session {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::process::ChildStdout,
    /// What it said `refs/heads/main` is.
    main: String,
}

impl Master {
    fn ssh(env: &Env, control: &str) -> Command {
        let mut c = env.cmd("ssh");
        c.env_remove("GIT_SSH_COMMAND")
            .arg("-F")
            .arg(&env.ssh_config)
            .args(["-o", control]);
        c
    }

    /// Opens one whose socket's name starts with `prefix`.
    fn open(env: &Env, prefix: &str) -> Res<Self> {
        // %C: a hash of the connection's parameters, short enough for a socket's path.
        let control = format!("ControlPath={}", env.root.join(format!("{prefix}-%C")).display());
        // -f: into the background once the connection is up (so no pipe may be waited on).
        let status = Self::ssh(env, &control)
            .args(["-o", "ControlMaster=yes", "-f", "-N", SSH_ALIAS])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("ssh: {e}"))?;
        if !status.success() {
            return Err(format!("the ssh master connection failed ({status})"));
        }
        Ok(Self { control })
    }

    fn receive_pack(&self, env: &Env, repo: &Path) -> Res<Session> {
        let mut child = Self::ssh(env, &self.control)
            .args(["-o", "ControlMaster=no", SSH_ALIAS])
            .arg(format!("git-receive-pack {}", sh_quote(repo)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("ssh: {e}"))?;
        let (Some(stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("no pipes to ssh".to_owned());
        };
        let mut main = None;
        while let Some(line) = read_pkt_line(&mut stdout)? {
            let line = String::from_utf8_lossy(&line);
            let line = line.split('\0').next().unwrap_or_default().trim_end();
            if let Some((oid, "refs/heads/main")) = line.split_once(' ') {
                main = Some(oid.to_owned());
            }
        }
        let main = main.ok_or_else(|| format!("{} advertised no main", repo.display()))?;
        Ok(Session {
            child,
            stdin,
            stdout,
            main,
        })
    }

    fn close(self, env: &Env) {
        let _ = Self::ssh(env, &self.control)
            .args(["-O", "exit", SSH_ALIAS])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn pkt_line(text: &str) -> Vec<u8> {
    let mut line = format!("{:04x}", text.len() + 4).into_bytes();
    line.extend_from_slice(text.as_bytes());
    line
}

/// The next pkt-line's payload; `None` at a flush.
fn read_pkt_line(from: &mut impl std::io::Read) -> Res<Option<Vec<u8>>> {
    let mut size = [0u8; 4];
    from.read_exact(&mut size)
        .map_err(|e| format!("reading a pkt-line: {e}"))?;
    let size = std::str::from_utf8(&size)
        .ok()
        .and_then(|s| usize::from_str_radix(s, 16).ok())
        .ok_or("a bad pkt-line length")?;
    if size < 4 {
        return Ok(None);
    }
    let mut payload = vec![0u8; size - 4];
    from.read_exact(&mut payload)
        .map_err(|e| format!("reading a pkt-line: {e}"))?;
    Ok(Some(payload))
}

fn sh_quote(path: &Path) -> String {
    format!("'{}'", path.to_string_lossy().replace('\'', r"'\''"))
}

// ---------------------------------------------------------------------------------------------
// Environment.

/// Commands isolated from the user (`common::Isolated`), with nothing of the caller's
/// environment but `PATH`, the benchmark's ssh command and the https mirror's token, and their
/// timing.
struct Env {
    isolated: Isolated,
    /// The ssh client config of `GIT_SSH_COMMAND` (the proxy's port, the key).
    ssh_config: PathBuf,
}

impl Env {
    /// Runs a command with its output to a file (`sync -q` reports a failing mirror on stdout),
    /// and returns how long it took.
    fn timed(&self, c: &mut Command) -> Res<Duration> {
        let log = self.root.join("timed-output.log");
        let f = fs::File::create(&log).map_err(|e| e.to_string())?;
        let f2 = f.try_clone().map_err(|e| e.to_string())?;
        c.stdout(f).stderr(f2);
        let t = Instant::now();
        let status = c.status().map_err(|e| format!("{}: {e}", show(c)))?;
        let took = t.elapsed();
        if !status.success() {
            let said = fs::read_to_string(&log).unwrap_or_default();
            return Err(format!("{} failed ({status}): {}", show(c), said.trim()));
        }
        Ok(took)
    }
}

// So that the commands and checks of `Isolated` read as `env.git(..)`, `env.refs(..)`.
impl std::ops::Deref for Env {
    type Target = Isolated;

    fn deref(&self) -> &Isolated {
        &self.isolated
    }
}

// ---------------------------------------------------------------------------------------------
// Deterministic data.

/// `lines` lines of code-like text.
fn text(rng: &mut Rng, lines: usize) -> String {
    const WORDS: [&str; 16] = [
        "let", "fn", "mut", "self", "match", "if", "else", "for", "value", "count", "mirror", "push", "refs",
        "commit", "Ok(())", "=>",
    ];
    let mut s = String::new();
    for _ in 0..lines {
        s.push_str(&"    ".repeat(rng.below(3)));
        for w in 0..3 + rng.below(6) {
            if w > 0 {
                s.push(' ');
            }
            if rng.below(5) == 0 {
                s.push_str(&format!("v{:x}", rng.next() & 0xFFFF));
            } else {
                s.push_str(WORDS[rng.below(WORDS.len())]);
            }
        }
        s.push_str(";\n");
    }
    s
}

/// One fast-import commit on `branch` (from `from`, else continuing it) writing `files`.
fn import_commit(
    w: &mut impl Write,
    branch: &str,
    mark: usize,
    from: Option<&str>,
    message: &str,
    files: &[(String, &str)],
) -> std::io::Result<()> {
    let time = 1_600_000_000 + 600 * mark;
    writeln!(w, "commit refs/heads/{branch}\nmark :{mark}")?;
    writeln!(w, "committer Bench <bench@example.com> {time} +0000")?;
    writeln!(w, "data {}\n{message}", message.len())?;
    if let Some(from) = from {
        writeln!(w, "from {from}")?;
    }
    for (path, content) in files {
        writeln!(w, "M 100644 inline {path}\ndata {}\n{content}", content.len())?;
    }
    writeln!(w)
}

/// A bare repository: [`MAIN_COMMITS`] commits on `main` over [`FILES`] files, [`BRANCHES`]
/// topic branches and [`TAGS`] tags (every other one annotated), in one pack.
fn generate(env: &Env, src: &Path) -> Res<()> {
    env.out(env.cmd("git").args(["init", "-q", "--bare"]).arg(src))?;
    env.fast_import(src, |w| {
        let mut rng = Rng(0x1a7e_2026);
        let mut files: Vec<String> = (0..FILES)
            .map(|_| {
                let lines = 20 + rng.below(40);
                text(&mut rng, lines)
            })
            .collect();
        let path = |i: usize| format!("src/m{:02}/f{i:03}.rs", i % 6);
        let all: Vec<(String, &str)> = files
            .iter()
            .enumerate()
            .map(|(i, f)| (path(i), f.as_str()))
            .collect();
        import_commit(w, "main", 1, None, "Initial import", &all)?;
        for c in 2..=MAIN_COMMITS {
            let i = rng.below(FILES);
            let lines = 1 + rng.below(4);
            let extra = text(&mut rng, lines);
            files[i].push_str(&extra);
            import_commit(
                w,
                "main",
                c,
                None,
                &format!("Change {c}"),
                &[(path(i), &files[i])],
            )?;
        }
        let mut mark = MAIN_COMMITS;
        for b in 0..BRANCHES {
            let base = format!(":{}", (b + 1) * MAIN_COMMITS / (BRANCHES + 1));
            for k in 0..BRANCH_COMMITS {
                mark += 1;
                let from = (k == 0).then_some(base.as_str());
                let content = text(&mut rng, 10);
                let file = [(format!("topic/b{b:02}-{k}.rs"), content.as_str())];
                import_commit(
                    w,
                    &format!("topic/{b:02}"),
                    mark,
                    from,
                    &format!("Topic {b} step {k}"),
                    &file,
                )?;
            }
        }
        for t in 0..TAGS {
            let at = (t + 1) * MAIN_COMMITS / (TAGS + 1);
            if t % 2 == 0 {
                writeln!(w, "reset refs/tags/v0.{t}\nfrom :{at}\n")?;
            } else {
                let message = format!("Release 0.{t}");
                writeln!(
                    w,
                    "tag v0.{t}\nfrom :{at}\ntagger Bench <bench@example.com> {} +0000\ndata {}\n{message}",
                    1_700_000_000 + t,
                    message.len()
                )?;
            }
        }
        writeln!(w, "done")
    })?;
    env.out(env.git(src).args(["repack", "-adq"]))?;
    Ok(())
}

/// A new commit on `branch` of `repo` that adds one small file; `n` makes it unique.
fn commit_on(env: &Env, repo: &Path, branch: &str, n: usize) -> Res<()> {
    let content = text(&mut Rng(0xC0FF_EE00 + n as u64), 40);
    env.fast_import(repo, |w| {
        let from = format!("refs/heads/{branch}^0");
        writeln!(w, "commit refs/heads/{branch}")?;
        writeln!(
            w,
            "committer Bench <bench@example.com> {} +0000",
            1_800_000_000 + n
        )?;
        let message = format!("New commit {n}");
        writeln!(w, "data {}\n{message}", message.len())?;
        writeln!(w, "from {from}")?;
        writeln!(
            w,
            "M 100644 inline src/new/n{n:04}.rs\ndata {}\n{content}",
            content.len()
        )?;
        writeln!(w, "done")
    })
    .map_err(|e| format!("a new commit on {branch}: {e}"))
}
