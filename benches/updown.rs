//! Whole-process benchmark of `up` and `down` against rsync over a slow link: a generated work
//! tree copied to directories on a real `sshd` on loopback, reached through the delaying proxy of
//! the latency bench (`support/`), by ours and by `rsync -a --delete-after --filter=':- .gitignore'
//! --exclude=.git` over the same ssh host alias and client config.
//!
//! Run with `cargo bench --bench updown`. Extra arguments select rows by prefix (`cargo bench
//! --bench updown -- U1 U5`). Environment: `GRS_BENCH_DELAY_MS` (one-way delay, default 20),
//! `GRS_BENCH_REPS` (default 7), `GRS_BENCH_KEEP=1` keeps the work directory,
//! `GRS_BENCH_TRACE2=<file>` appends git's trace2 events of both sides to the file and prints
//! each timed run's span (seconds since the epoch) on stderr.
//!
//! Everything runs in a fresh directory under the system temp dir, with git isolated as in
//! `latency.rs` (only `PATH` kept, own `HOME` and global config). Each row runs ours and rsync
//! in the same repetition, taking turns at going first, into directories of their own on the
//! same host, prepared the same way; each repetition checks, untimed, that every target ends
//! equal to its source. See BENCHMARKS.md, "up and down against rsync".

// Parts of both that serve the other benches only (the https server, fast-import, ...).
#[allow(dead_code)]
mod common;
#[allow(dead_code)]
mod support;

use std::fs;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{BIN, Caller, Isolated, Rng, WorkDir, list, median, ms, show};
use support::proxy::Proxy;
use support::servers::Sshd;

/// The ssh client config's name for the server behind its proxy.
const ALIAS: &str = "bench-host";

/// Shape of the generated work tree: [`FILES`] tracked files of 400 to 4,096 bytes in
/// `TOP_DIRS` × `SUB_DIRS` directories, and [`TARGET_FILES`] ignored ones under `target/`.
const FILES: usize = 10_000;
const TOP_DIRS: usize = 20;
const SUB_DIRS: usize = 10;
const TARGET_FILES: usize = 20_000;
/// Files changed in U3 and U5.
const CHANGED: usize = 100;

/// What U1 (nothing changed) may cost ours on the wire, both ways.
const U1_BYTES_GOAL: f64 = 10.0 * 1024.0;

/// How long the proxy may still be forwarding a run's last chunks (the delay, and the end of a
/// connection) before its byte counts are read.
const SETTLE: Duration = Duration::from_millis(150);

type Res<T> = Result<T, String>;

fn main() {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let number = |var: &str| std::env::var(var).ok().and_then(|v| v.parse::<u64>().ok());
    let reps = number("GRS_BENCH_REPS").filter(|&n| n > 0).unwrap_or(7) as usize;
    let delay = Duration::from_millis(number("GRS_BENCH_DELAY_MS").unwrap_or(20));
    let keep = std::env::var_os("GRS_BENCH_KEEP").is_some_and(|v| v == "1");
    let code =
        match WorkDir::new("updown", "grs-updown", keep).and_then(|work| run(&work, &filters, reps, delay)) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("updown: {e}");
                1
            }
        };
    std::process::exit(code);
}

fn run(work: &WorkDir, filters: &[String], reps: usize, delay: Duration) -> Res<()> {
    let root = &work.root;
    let mut isolated = Isolated::new(root, Caller::OnlyPath)?;
    // Ours keeps its ssh connection's socket in `$XDG_RUNTIME_DIR/git-repo-sync`: here, so that
    // the bench finds it to close it at the end.
    let runtime = root.join("run");
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&runtime)
        .map_err(|e| format!("{}: {e}", runtime.display()))?;
    let sshd = Sshd::start(&root.join("sshd"), &isolated.gitconfig, &isolated.home)
        .map_err(|e| format!("sshd: {e}"))?;
    let proxy = Proxy::start(sshd.port(), delay).map_err(|e| format!("the proxy: {e}"))?;
    let ssh_config = sshd.client_config(ALIAS, proxy.port())?;
    let ssh = format!("ssh -F {}", sh_quote(&ssh_config));
    isolated.extra_env.push(("GIT_SSH_COMMAND", ssh.clone().into()));
    isolated
        .extra_env
        .push(("XDG_RUNTIME_DIR", runtime.clone().into()));
    // rsync over a connection kept open as ours' is (its own master, opened by its first run).
    let kept_ssh = format!(
        "{ssh} -o ControlMaster=auto -o ControlPath={} -o ControlPersist=60",
        root.join("cm-%C").display()
    );
    let env = Env {
        isolated,
        proxy,
        ssh,
        kept_ssh,
        trace: std::env::var_os("GRS_BENCH_TRACE2").map(PathBuf::from),
    };

    if let Some(target) = &env.trace {
        // Both sides' git read this file (the server's through sshd's SetEnv).
        let mut config = fs::read_to_string(&env.gitconfig).map_err(|e| e.to_string())?;
        config.push_str(&format!("[trace2]\n\teventTarget = {}\n", target.display()));
        fs::write(&env.gitconfig, config).map_err(|e| e.to_string())?;
    }
    let git_version = env.out(env.cmd("git").arg("--version"))?;
    let rsync_version = env.out(env.cmd("rsync").arg("--version"))?;
    println!("{}", common::machine(&git_version, BIN));
    println!("{}", rsync_version.lines().next().unwrap_or("rsync").trim());
    let t = Instant::now();
    let bench = Bench::generate(&env, root, reps)?;
    println!(
        "Generated the work tree and the targets in {:.1} s: {FILES} files in {} directories, \
         {TARGET_FILES} ignored ones under target/ on each side.",
        t.elapsed().as_secs_f64(),
        TOP_DIRS * SUB_DIRS
    );
    println!(
        "One-way delay {} ms through the proxy (a round trip {} ms, and one more for each new \
         connection); {reps} repetitions per row, ours and rsync taking turns at going first; \
         medians (min–max).\n",
        delay.as_millis(),
        2 * delay.as_millis()
    );

    type RowFn<'a> = fn(&Bench<'a>) -> Res<Vec<Row>>;
    let rows: [(&str, &str, RowFn<'_>); 5] = [
        ("U1", "up, nothing changed", Bench::u1_nothing_changed),
        ("U2", "up, one file changed", Bench::u2_one_changed),
        ("U3", "up, 100 files changed", Bench::u3_many_changed),
        ("U4", "first up into an empty directory", Bench::u4_first_up),
        ("U5", "down, 100 files changed there", Bench::u5_down),
    ];
    let mut done: Vec<Row> = Vec::new();
    let mut failed = false;
    for (name, what, f) in rows {
        if !filters.is_empty() && !filters.iter().any(|p| name.starts_with(p.as_str())) {
            continue;
        }
        eprintln!("running {name} ({what}) ...");
        match f(&bench) {
            Ok(rows) => done.extend(rows),
            Err(e) => {
                eprintln!("{name} failed: {e}");
                failed = true;
            }
        }
    }
    env.close_kept_connections(root);

    println!(
        "| row | ours | anchor | ratio | goal | bytes to / from the host, ours (its pack) | \
         bytes to / from the host, anchor | connections, ours / anchor |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in &done {
        row.print();
    }
    println!();
    for row in done.iter().filter(|row| row.label.starts_with("U1 up")) {
        let both: Vec<f64> = row
            .ours
            .iter()
            .map(|r| (r.to_host + r.from_host) as f64)
            .collect();
        let packs: Vec<f64> = row.ours.iter().filter_map(|r| r.pack).map(|b| b as f64).collect();
        let bytes = median(&both);
        println!(
            "U1 bytes, ours: {} on the wire both ways, its pack {}: goal ≤ {} ({})\n",
            size(bytes),
            size(median(&packs)),
            size(U1_BYTES_GOAL),
            if bytes <= U1_BYTES_GOAL { "met" } else { "missed" }
        );
    }
    for row in &done {
        println!(
            "{} (ms): ours {} | anchor {}",
            row.label,
            list(&row.ours.iter().map(|r| r.ms).collect::<Vec<_>>()),
            list(&row.anchor.iter().map(|r| r.ms).collect::<Vec<_>>()),
        );
    }
    if failed {
        return Err("some rows failed (see above)".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Runs and rows.

/// What one timed run cost.
#[derive(Clone, Copy)]
struct Run {
    ms: f64,
    /// Connections the proxy accepted.
    connections: usize,
    /// Bytes the proxy forwarded to the host and back.
    to_host: u64,
    from_host: u64,
    /// Ours: the pack that crossed, as `--json` gives it.
    pack: Option<u64>,
}

struct Row {
    label: String,
    /// `None`: informative.
    goal: Option<f64>,
    ours: Vec<Run>,
    anchor: Vec<Run>,
}

impl Row {
    fn new(label: &str, goal: Option<f64>) -> Self {
        Self {
            label: label.to_owned(),
            goal,
            ours: Vec::new(),
            anchor: Vec::new(),
        }
    }

    fn add(&mut self, ours: Run, anchor: Run) {
        self.ours.push(ours);
        self.anchor.push(anchor);
    }

    fn print(&self) {
        let times = |runs: &[Run]| runs.iter().map(|r| r.ms).collect::<Vec<_>>();
        let (ours, anchor) = (times(&self.ours), times(&self.anchor));
        let ratio = median(&ours) / median(&anchor);
        let goal = match self.goal {
            Some(g) => format!("≤ {g} ({})", if ratio <= g { "met" } else { "missed" }),
            None => "informative".to_owned(),
        };
        let packs: Vec<f64> = self
            .ours
            .iter()
            .filter_map(|r| r.pack)
            .map(|b| b as f64)
            .collect();
        let pack = if packs.is_empty() {
            String::new()
        } else {
            format!(" ({})", size(median(&packs)))
        };
        println!(
            "| {} | {} | {} | {ratio:.2} | {goal} | {}{pack} | {} | {} / {} |",
            self.label,
            spread(&ours),
            spread(&anchor),
            wire(&self.ours),
            wire(&self.anchor),
            connections(&self.ours),
            connections(&self.anchor),
        );
    }
}

/// `412.3 ms (398–455)`: the median, then the fastest and the slowest run.
fn spread(v: &[f64]) -> String {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{:.1} ms ({min:.0}–{max:.0})", median(v))
}

/// Medians of the bytes to and from the host.
fn wire(runs: &[Run]) -> String {
    let to: Vec<f64> = runs.iter().map(|r| r.to_host as f64).collect();
    let from: Vec<f64> = runs.iter().map(|r| r.from_host as f64).collect();
    format!("{} / {}", size(median(&to)), size(median(&from)))
}

/// `1`, or `0–1 (median 0)` when the runs differed.
fn connections(runs: &[Run]) -> String {
    let v: Vec<f64> = runs.iter().map(|r| r.connections as f64).collect();
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if min == max {
        format!("{min}")
    } else {
        format!("{min}–{max} (median {})", median(&v))
    }
}

fn size(bytes: f64) -> String {
    if bytes < 1024.0 {
        format!("{bytes:.0} B")
    } else if bytes < 1024.0 * 1024.0 {
        format!("{:.1} KiB", bytes / 1024.0)
    } else {
        format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
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

/// Who copies.
#[derive(Clone, Copy)]
enum Tool {
    Ours,
    /// rsync, connecting each time (it has no option to keep a connection).
    Rsync,
    /// rsync over an ssh master it opened on its first run and that stays a minute, as ours'.
    RsyncKept,
}

/// A source work tree and where a tool copies it on the host.
struct Pair<'a> {
    tool: Tool,
    local: &'a Path,
    remote: PathBuf,
}

struct Bench<'a> {
    env: &'a Env,
    reps: usize,
    /// The work tree: a git repository with every file committed, and an ignored `target/`.
    src: PathBuf,
    /// A clone of it: the same files, without `target/`.
    plain: PathBuf,
    /// Where the host's directories are.
    remote: PathBuf,
}

impl<'a> Bench<'a> {
    /// Ours, rsync and rsync over a kept connection, each from `src` into a directory of its own
    /// on the host (each with its own `target/`).
    fn pairs(&self) -> [Pair<'_>; 3] {
        [
            Pair {
                tool: Tool::Ours,
                local: &self.src,
                remote: self.remote.join("ours"),
            },
            Pair {
                tool: Tool::Rsync,
                local: &self.src,
                remote: self.remote.join("rsync"),
            },
            Pair {
                tool: Tool::RsyncKept,
                local: &self.src,
                remote: self.remote.join("rsync-kept"),
            },
        ]
    }

    /// Ours from the tree without `target/`, into a directory without one.
    fn plain_pair(&self) -> Pair<'_> {
        Pair {
            tool: Tool::Ours,
            local: &self.plain,
            remote: self.remote.join("plain"),
        }
    }

    /// The work tree, its clone without `target/`, and each pair's target, copied once.
    fn generate(env: &'a Env, root: &Path, reps: usize) -> Res<Self> {
        let bench = Bench {
            env,
            reps,
            src: root.join("src"),
            plain: root.join("plain"),
            remote: root.join("remote"),
        };
        let src = &bench.src;
        env.out(env.cmd("git").args(["init", "-q"]).arg(src))?;
        let mut rng = Rng(0x5eed_0002);
        for i in 0..FILES {
            let lines = 8 + rng.below(64);
            let mut content = text(&mut rng, lines);
            // 400 to 4,096 bytes, cut at a line's end where one is near.
            let want = 400 + rng.below(4096 - 400 + 1);
            while content.len() < want {
                content.push_str(&text(&mut rng, 4));
            }
            let cut = content[..want]
                .rfind('\n')
                .filter(|&at| at >= 400)
                .map_or(want, |at| at + 1);
            content.truncate(cut);
            write(&src.join(tracked_path(i)), content.as_bytes())?;
        }
        write(&src.join(".gitignore"), b"target/\n")?;
        env.out(env.git(src).args(["add", "-A"]))?;
        env.out(env.git(src).args(["commit", "-q", "-m", "the work tree"]))?;
        // Packed, as a repository that has lived a while is.
        env.out(env.git(src).args(["repack", "-adq"]))?;
        env.out(env.cmd("git").args(["clone", "-q"]).arg(src).arg(&bench.plain))?;
        write_target(src)?;
        for pair in bench.pairs() {
            write_target(&pair.remote)?;
        }
        fs::create_dir_all(bench.plain_pair().remote).map_err(|e| e.to_string())?;
        Ok(bench)
    }

    /// Every pair up to date, untimed, and checked.
    fn in_sync(&self) -> Res<()> {
        for pair in self.pairs() {
            self.up(&pair)?;
            self.check(pair.local, &pair.remote, true)?;
        }
        let plain = self.plain_pair();
        self.up(&plain)?;
        self.check(plain.local, &plain.remote, false)
    }

    /// `up` of `pair`, timed.
    fn up(&self, pair: &Pair<'_>) -> Res<Run> {
        let remote = format!("{ALIAS}:{}", pair.remote.display());
        match pair.tool {
            Tool::Ours => self.ours(pair.local, "up", &remote),
            Tool::Rsync | Tool::RsyncKept => {
                self.rsync(pair.tool, &dir_arg(pair.local), &format!("{remote}/"))
            }
        }
    }

    /// `up` of `pair`, timed, after the disk has written out what runs before it left in
    /// memory (untimed): a run that writes 10,000 files pays for its own writes, not also for
    /// the flush of the run before.
    fn flushed_up(&self, pair: &Pair<'_>) -> Res<Run> {
        self.env.out(&mut self.env.cmd("sync"))?;
        self.up(pair)
    }

    /// `down` of `pair` into `local`, timed.
    fn down(&self, pair: &Pair<'_>, local: &Path) -> Res<Run> {
        let remote = format!("{ALIAS}:{}", pair.remote.display());
        match pair.tool {
            Tool::Ours => self.ours(local, "down", &remote),
            Tool::Rsync | Tool::RsyncKept => self.rsync(pair.tool, &format!("{remote}/"), &dir_arg(local)),
        }
    }

    fn ours(&self, local: &Path, verb: &str, remote: &str) -> Res<Run> {
        let mut c = self.env.ours(local);
        c.args([verb, "--json", remote]);
        let (mut run, stdout) = self.env.through(&mut c)?;
        let outcome: serde_json::Value =
            serde_json::from_str(&stdout).map_err(|e| format!("{}: its --json: {e}", show(&c)))?;
        run.pack = Some(
            outcome["bytes"]
                .as_u64()
                .ok_or_else(|| format!("{}: no bytes in {stdout}", show(&c)))?,
        );
        Ok(run)
    }

    fn rsync(&self, tool: Tool, from: &str, to: &str) -> Res<Run> {
        let ssh = match tool {
            Tool::RsyncKept => &self.env.kept_ssh,
            _ => &self.env.ssh,
        };
        let mut c = self.env.cmd("rsync");
        c.args([
            "-a",
            "--delete-after",
            "--filter=:- .gitignore",
            "--exclude=.git",
            "-e",
            ssh,
            from,
            to,
        ]);
        self.env.through(&mut c).map(|(run, _)| run)
    }

    /// That `remote` holds what `local` does, but for our git dir, `.git` and `target/`; and,
    /// when `target` says so, that its ignored `target/` is still whole.
    fn check(&self, local: &Path, remote: &Path, target: bool) -> Res<()> {
        let mut c = self.env.cmd("diff");
        c.args(["-rq", "-x", ".git", "-x", ".git-repo-sync", "-x", "target"])
            .arg(local)
            .arg(remote);
        let o = c.output().map_err(|e| format!("{}: {e}", show(&c)))?;
        if !o.status.success() {
            let said = String::from_utf8_lossy(&o.stdout);
            let head: Vec<&str> = said.lines().take(5).collect();
            return Err(format!(
                "{} differs from {} ({} lines of diff): {}",
                remote.display(),
                local.display(),
                said.lines().count(),
                head.join("; ")
            ));
        }
        if target && !remote.join(target_path(TARGET_FILES - 1)).is_file() {
            return Err(format!("{}'s ignored target/ lost files", remote.display()));
        }
        Ok(())
    }

    fn u1_nothing_changed(&self) -> Res<Vec<Row>> {
        self.in_sync()?;
        let [ours, rsync, kept] = self.pairs();
        let plain = self.plain_pair();
        let mut row = Row::new("U1 up, nothing changed", Some(0.5));
        let mut against_kept = Row::new(
            "U1 (extra) against rsync over a kept ssh connection (ControlPersist)",
            None,
        );
        let mut target = Row::new(
            "U1 with the ignored target/ (20,000 files) / without (both ours)",
            Some(1.1),
        );
        for rep in 0..self.reps {
            let r = in_turn(
                rep,
                &mut [
                    &mut || self.up(&ours),
                    &mut || self.up(&rsync),
                    &mut || self.up(&kept),
                    &mut || self.up(&plain),
                ],
            )?;
            row.add(r[0], r[1]);
            against_kept.add(r[0], r[2]);
            target.add(r[0], r[3]);
            for pair in [&ours, &rsync, &kept] {
                self.check(pair.local, &pair.remote, true)?;
            }
            self.check(plain.local, &plain.remote, false)?;
        }
        Ok(vec![row, against_kept, target])
    }

    fn u2_one_changed(&self) -> Res<Vec<Row>> {
        self.changed_rows("U2 up, one file changed", 1, Some(0.5))
    }

    fn u3_many_changed(&self) -> Res<Vec<Row>> {
        self.changed_rows("U3 up, 100 files changed", CHANGED, Some(0.75))
    }

    /// `count` files of the source edited before each repetition, then every pair's `up`.
    fn changed_rows(&self, label: &str, count: usize, goal: Option<f64>) -> Res<Vec<Row>> {
        self.in_sync()?;
        let [ours, rsync, kept] = self.pairs();
        let mut row = Row::new(label, goal);
        let mut against_kept = Row::new(
            &format!("{} (extra) against rsync over a kept ssh connection", &label[..2]),
            None,
        );
        for rep in 0..self.reps {
            edit(&[&self.src], count, rep, label)?;
            let r = in_turn(
                rep,
                &mut [&mut || self.up(&ours), &mut || self.up(&rsync), &mut || {
                    self.up(&kept)
                }],
            )?;
            row.add(r[0], r[1]);
            against_kept.add(r[0], r[2]);
            for pair in [&ours, &rsync, &kept] {
                self.check(pair.local, &pair.remote, true)?;
            }
        }
        Ok(vec![row, against_kept])
    }

    /// Each repetition into new empty directories: for ours, one it never copied to (a first up
    /// of this work tree there: no state of an earlier one).
    fn u4_first_up(&self) -> Res<Vec<Row>> {
        let mut row = Row::new("U4 first up into an empty directory", Some(1.5));
        let mut against_kept = Row::new("U4 (extra) against rsync over a kept ssh connection", None);
        // Ours' connection and rsync's kept one open, as in the other rows.
        self.in_sync()?;
        for rep in 0..self.reps {
            let [ours, rsync, kept] = self.pairs().map(|pair| Pair {
                remote: self.remote.join(format!(
                    "first-{rep}-{}",
                    pair.remote
                        .file_name()
                        .map(|n| n.to_string_lossy())
                        .unwrap_or_default()
                )),
                ..pair
            });
            for pair in [&ours, &rsync, &kept] {
                fs::create_dir_all(&pair.remote).map_err(|e| e.to_string())?;
            }
            let r = in_turn(
                rep,
                &mut [
                    &mut || self.flushed_up(&ours),
                    &mut || self.flushed_up(&rsync),
                    &mut || self.flushed_up(&kept),
                ],
            )?;
            row.add(r[0], r[1]);
            against_kept.add(r[0], r[2]);
            for pair in [&ours, &rsync, &kept] {
                self.check(pair.local, &pair.remote, false)?;
                fs::remove_dir_all(&pair.remote).map_err(|e| e.to_string())?;
            }
        }
        Ok(vec![row, against_kept])
    }

    /// The same 100 files edited in each pair's directory on the host, then ours' `down` into the
    /// work tree and rsync's into copies of it (`cp -a`: the state after an rsync up).
    fn u5_down(&self) -> Res<Vec<Row>> {
        self.in_sync()?;
        let [ours, rsync, kept] = self.pairs();
        let root = &self.env.root;
        let (rsync_local, kept_local) = (root.join("down-rsync"), root.join("down-rsync-kept"));
        for local in [&rsync_local, &kept_local] {
            if local.exists() {
                fs::remove_dir_all(local).map_err(|e| e.to_string())?;
            }
            self.env
                .out(self.env.cmd("cp").arg("-a").arg(&self.src).arg(local))?;
        }
        let mut row = Row::new("U5 down, 100 files changed there", Some(0.75));
        let mut against_kept = Row::new("U5 (extra) against rsync over a kept ssh connection", None);
        for rep in 0..self.reps {
            edit(&[&ours.remote, &rsync.remote, &kept.remote], CHANGED, rep, "U5")?;
            let r = in_turn(
                rep,
                &mut [
                    &mut || self.down(&ours, &self.src),
                    &mut || self.down(&rsync, &rsync_local),
                    &mut || self.down(&kept, &kept_local),
                ],
            )?;
            row.add(r[0], r[1]);
            against_kept.add(r[0], r[2]);
            for (local, pair) in [(&self.src, &ours), (&rsync_local, &rsync), (&kept_local, &kept)] {
                self.check(local, &pair.remote, true)?;
            }
        }
        Ok(vec![row, against_kept])
    }
}

// ---------------------------------------------------------------------------------------------
// Environment.

/// Commands isolated from the user (`common::Isolated`) with the benchmark's ssh command, and
/// the proxy that counts what they send.
struct Env {
    isolated: Isolated,
    proxy: Proxy,
    /// `ssh -F <config>`: ours' `GIT_SSH_COMMAND` and rsync's `-e`.
    ssh: String,
    /// The same with a master connection that stays a minute.
    kept_ssh: String,
    /// `GRS_BENCH_TRACE2`: where git's trace2 events of both sides go, to see where a run's
    /// time goes.
    trace: Option<PathBuf>,
}

impl Env {
    /// Runs `c` with its output to files, timed, with what the proxy saw meanwhile; its stdout.
    fn through(&self, c: &mut Command) -> Res<(Run, String)> {
        let (out, err) = (self.root.join("run-stdout.log"), self.root.join("run-stderr.log"));
        let create = |path: &Path| fs::File::create(path).map_err(|e| e.to_string());
        c.stdout(create(&out)?).stderr(create(&err)?);
        self.proxy.take_accepted();
        self.proxy.take_bytes();
        let t = Instant::now();
        let status = c.status().map_err(|e| format!("{}: {e}", show(c)))?;
        let took = t.elapsed();
        if self.trace.is_some() {
            // The run's span, to lay the traced git processes of both sides against.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            eprintln!("run {:.6} {now:.6} {}", now - took.as_secs_f64(), show(c));
        }
        std::thread::sleep(SETTLE);
        let (to_host, from_host) = self.proxy.take_bytes();
        let connections = self.proxy.take_accepted();
        let stdout = fs::read_to_string(&out).unwrap_or_default();
        if !status.success() {
            let stderr = fs::read_to_string(&err).unwrap_or_default();
            return Err(format!(
                "{} failed ({status}): {} {}",
                show(c),
                stdout.trim(),
                stderr.trim()
            ));
        }
        let run = Run {
            ms: ms(took),
            connections,
            to_host,
            from_host,
            pack: None,
        };
        Ok((run, stdout))
    }

    /// Ends the ssh masters left open (ours' and rsync's kept one), which would otherwise stay a
    /// minute after the server is gone.
    fn close_kept_connections(&self, root: &Path) {
        let ours = fs::read_dir(root.join("run/git-repo-sync")).into_iter().flatten();
        let rsyncs = fs::read_dir(root).into_iter().flatten();
        for entry in ours.chain(rsyncs).flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !(name.starts_with("up-") || name.starts_with("cm-")) {
                continue;
            }
            let mut c = self.cmd("sh");
            c.arg("-c")
                .arg(format!("{} -O exit -o ControlPath=\"$1\" {ALIAS}", self.ssh))
                .arg("sh")
                .arg(&path);
            let _ = c.output();
        }
    }
}

// So that the commands of `Isolated` read as `env.git(..)`, `env.ours(..)`.
impl std::ops::Deref for Env {
    type Target = Isolated;

    fn deref(&self) -> &Isolated {
        &self.isolated
    }
}

// ---------------------------------------------------------------------------------------------
// Deterministic data.

/// `m07/s3/f01234.rs`: the files spread evenly over the directories.
fn tracked_path(i: usize) -> String {
    let dir = i % (TOP_DIRS * SUB_DIRS);
    format!("m{:02}/s{}/f{i:05}.rs", dir / SUB_DIRS, dir % SUB_DIRS)
}

fn target_path(i: usize) -> String {
    format!("target/debug/deps/d{:03}/o{i:05}.d", i % 100)
}

/// [`TARGET_FILES`] build outputs of 100 to 1,000 bytes under `dir/target`.
fn write_target(dir: &Path) -> Res<()> {
    let mut rng = Rng(0x7a26_e700);
    for i in 0..TARGET_FILES {
        let len = 100 + rng.below(901);
        let content: Vec<u8> = (0..len).map(|_| b'a' + rng.below(26) as u8).collect();
        write(&dir.join(target_path(i)), &content)?;
    }
    Ok(())
}

/// Appends a line to `count` files, the same in each of `dirs` (whose files are equal), chosen
/// by `rep` and spread over the directories; `what` makes the line differ between rows.
fn edit(dirs: &[&Path], count: usize, rep: usize, what: &str) -> Res<()> {
    let mut rng = Rng(0xed17 + rep as u64);
    for k in 0..count {
        // 97 × k for k < 100 never wraps past FILES: distinct files.
        let path = tracked_path((rep * 37 + k * 97) % FILES);
        let first = dirs.first().ok_or("no directory to edit")?.join(&path);
        let mut content = fs::read(&first).map_err(|e| format!("{}: {e}", first.display()))?;
        content.extend_from_slice(format!("// {what}, pass {rep}: ").as_bytes());
        content.extend_from_slice(text(&mut rng, 1).as_bytes());
        for dir in dirs {
            write(&dir.join(&path), &content)?;
        }
    }
    Ok(())
}

/// `lines` lines of code-like text.
fn text(rng: &mut Rng, lines: usize) -> String {
    const WORDS: [&str; 16] = [
        "let", "fn", "mut", "self", "match", "if", "else", "for", "value", "count", "file", "copy", "tree",
        "host", "Ok(())", "=>",
    ];
    let mut s = String::new();
    for _ in 0..lines {
        s.push_str(&"    ".repeat(rng.below(3)));
        for w in 0..3 + rng.below(8) {
            if w > 0 {
                s.push(' ');
            }
            if rng.below(4) == 0 {
                s.push_str(&format!("v{:x}", rng.next() & 0xFFFF_FFFF));
            } else {
                s.push_str(WORDS[rng.below(WORDS.len())]);
            }
        }
        s.push_str(";\n");
    }
    s
}

fn write(path: &Path, content: &[u8]) -> Res<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    fs::write(path, content).map_err(|e| format!("{}: {e}", path.display()))
}

/// `dir/`: rsync copies what is in it, not the directory itself.
fn dir_arg(dir: &Path) -> String {
    format!("{}/", dir.display())
}

fn sh_quote(path: &Path) -> String {
    format!("'{}'", path.to_string_lossy().replace('\'', r"'\''"))
}
