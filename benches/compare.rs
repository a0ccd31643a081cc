//! Whole-process benchmark: `git-repo-sync` against its anchors (`git push`, an empty hook).
//!
//! Run with `cargo bench --bench compare` (cargo builds the binary with the bench profile, which
//! inherits `release`). Extra arguments select figures by prefix (`cargo bench --bench compare --
//! P2 P3`). Environment: `GRS_BENCH_REPS` (default 9; P3, P4 and P6, which are
//! short, run three times as many; P10 and P11, over 1,000 repositories, a third as many),
//! `GRS_BENCH_KEEP=1` keeps the work directory, `GRS_BENCH_OBJECT_FORMAT=sha256` makes every
//! repository of the run (the same generated history) a SHA-256 one, `GRS_BENCH_NEW_GIT` names
//! the git with config-based hooks P12 also runs with (default `/opt/git-2.55/bin/git`).
//!
//! Everything runs in a fresh directory under the system temp dir, with git isolated from the
//! user's configuration (own `HOME`, `GIT_CONFIG_NOSYSTEM=1`, `GIT_CONFIG_GLOBAL`). The source
//! repositories are generated deterministically with `git fast-import`; nothing is downloaded.
//! Each figure runs ours and its anchor in the same repetition, alternating which goes first,
//! and the table reports medians. See BENCHMARKS.md.

mod common;

use common::{
    BIN, Caller, Isolated, Repos as _, Rng, WorkDir, chmod_x, list, median, ms, show, worker_running,
};
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The refspecs the anchor pushes: what a mirror mirrors by default.
const REFSPECS: [&str; 2] = ["refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*"];

/// Shape of the generated repository.
const FILES: usize = 1200;
const DIRS: usize = 40;
const MAIN_COMMITS: usize = 3000;
const BRANCHES: usize = 200;
const BRANCH_COMMITS: usize = 5;
const LIGHT_TAGS: usize = 30;
const ANNOTATED_TAGS: usize = 30;
const FILES_PER_COMMIT: usize = 3;
/// Commits per repetition of P1.
const P1_COMMITS: usize = 20;
/// Commits (or patches) of each P12 sequence.
const P12_LENGTH: usize = 100;
/// The git with config-based hooks P12 also runs its sequences with, unless `GRS_BENCH_NEW_GIT`
/// names another (none there: those rows are left out, and said so).
const P12_NEW_GIT: &str = "/opt/git-2.55/bin/git";
/// How long P1 waits for the background worker to bring the mirror up to date.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);
/// Mirrors P5 fills in one sync.
const P5_MIRRORS: usize = 8;
/// Registered repositories P8 and P9 pass over.
const FLEET: usize = 200;
/// P10's and P11's repositories: folders of repositories, every other one bare.
const MANY_FOLDERS: usize = 20;
const MANY_PER_FOLDER: usize = 50;
/// P10's and P11's goal, "a few seconds" over those 1,000 repositories, in milliseconds.
const MANY_GOAL_MS: f64 = 5000.0;
/// Refs of P6's repository (half branches, half tags), spread over a few commits.
const P6_REFS: usize = 10_000;
const P6_COMMITS: usize = 8;

/// Variables that would let the caller's environment leak into the measurement besides the
/// repository-local ones git exports to hooks (`git rev-parse --local-env-vars`), which the
/// library keeps as [`git_repo_sync::LOCAL_ENV_VARS`] (a unit test checks it against the
/// installed git): a namespace would move every ref pushed.
const ALSO_SCRUBBED: [&str; 1] = ["GIT_NAMESPACE"];

type Res<T> = Result<T, String>;

fn main() {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let reps: usize = std::env::var("GRS_BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(9);
    let keep = std::env::var_os("GRS_BENCH_KEEP").is_some_and(|v| v == "1");

    let env = match Env::new(keep) {
        Ok(env) => env,
        Err(e) => {
            eprintln!("compare: cannot set up the work directory: {e}");
            std::process::exit(1);
        }
    };
    let code = match run(&env, &filters, reps) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("compare: {e}");
            1
        }
    };
    drop(env);
    std::process::exit(code);
}

fn run(env: &Env, filters: &[String], reps: usize) -> Res<()> {
    println!("{}", machine(env));

    let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| selects(f, name));
    let src = env.root.join("src");
    // P1 to P7 work on the generated source repository; the fleets (P8 to P11) have their own.
    if ["P1", "P2", "P3", "P4", "P5", "P6", "P7"]
        .iter()
        .any(|f| wanted(f))
    {
        let t = Instant::now();
        let shape = generate(env, &src)?;
        println!(
            "Generated source repository in {:.1} s: {} objects, pack {:.1} MB, {} branches, {} tags.",
            t.elapsed().as_secs_f64(),
            shape.objects,
            shape.pack_bytes as f64 / 1e6,
            shape.branches,
            shape.tags
        );
    }
    println!(
        "{reps} repetitions (P3, P4, P6: {}; P10, P11: {}) per figure, ours and anchor alternating which runs first; medians.\n",
        3 * reps,
        many_reps(reps)
    );

    let mut rows: Vec<Row> = Vec::new();
    let mut bench = Bench {
        env,
        src: &src,
        reps,
        new_commits: 0,
    };
    // P2 and P7 first: they leave both mirrors up to date for P3 and P4.
    type Figure<'a> = (
        &'static str,
        &'static str,
        Goal,
        fn(&mut Bench<'a>) -> Res<Samples>,
    );
    let figures: [Figure<'_>; 12] = [
        (
            "P2",
            "first push of everything to an empty mirror",
            Goal::Ratio(1.0),
            Bench::p2_first_push,
        ),
        (
            "P7",
            "peak memory (largest process of the tree) of P2's first push",
            Goal::Ratio(1.5),
            Bench::p7_peak_memory,
        ),
        (
            "P3",
            "one new commit on one branch",
            Goal::Ratio(1.0),
            Bench::p3_one_commit,
        ),
        ("P4", "nothing new", Goal::Ratio(1.0), Bench::p4_nothing_new),
        (
            "P1",
            "20 commits, our hooks vs an empty post-commit hook",
            Goal::Ratio(1.3),
            Bench::p1_commits,
        ),
        (
            "P12",
            "git rebase -f HEAD~100, our hooks vs empty hook files",
            Goal::Ratio(1.1),
            Bench::p12_sequences,
        ),
        (
            "P5",
            "first sync to 8 empty mirrors / to 1 empty mirror",
            Goal::Ratio(1.5),
            Bench::p5_fan_out,
        ),
        (
            "P6",
            "10,000 refs, one new commit on one branch",
            Goal::Ratio(1.0),
            Bench::p6_many_refs,
        ),
        (
            "P8",
            "sync --all over 200 registered repositories, nothing changed / git for-each-repo push",
            Goal::Ratio(1.0),
            Bench::p8_fleet_quiet,
        ),
        (
            "P9",
            "sync --all over 200 registered repositories, one changed / git for-each-repo push",
            Goal::Ratio(1.0),
            Bench::p9_fleet_one_changed,
        ),
        (
            "P10",
            "install --recursive into 1,000 repositories, mirrors from a user-config rule / a shell loop of \
             git init --bare, git remote add, cp of the hooks, git config --global --add",
            Goal::Within(MANY_GOAL_MS),
            Bench::p10_install_many,
        ),
        (
            "P11",
            "status --all over those 1,000 repositories / git for-each-repo for-each-ref",
            Goal::Within(MANY_GOAL_MS),
            Bench::p11_status_many,
        ),
    ];
    for (name, what, goal, f) in figures {
        if !wanted(name) {
            continue;
        }
        eprintln!("running {name} ({what}) ...");
        let result = f(&mut bench);
        if let Err(e) = &result {
            eprintln!("{name} failed: {e}");
        }
        rows.push(Row {
            name,
            what,
            goal,
            result,
        });
    }
    // By number: P10 after P9.
    rows.sort_by_key(|r| r.name[1..].parse::<u32>().unwrap_or(0));

    println!("| figure | ours (median) | anchor (median) | ratio | goal |");
    println!("|---|---:|---:|---:|---:|");
    for r in &rows {
        match &r.result {
            Ok(s) => {
                table_row(&format!("{} {}", r.name, r.what), s, Some(r.goal));
                for (what, extra) in &s.extra {
                    table_row(&format!("{} (extra) {what}", r.name), extra, None);
                }
            }
            Err(e) => {
                let mut e = e.lines().next().unwrap_or("").replace('|', "/");
                if e.len() > 120 {
                    let cut = (0..=120).rev().find(|&i| e.is_char_boundary(i)).unwrap_or(0);
                    e.truncate(cut);
                    e.push('…');
                }
                println!("| {} {} | error: {e} | | | {} |", r.name, r.what, r.goal);
            }
        }
    }
    println!();
    for r in &rows {
        if let Ok(s) = &r.result {
            print_samples(r.name, s);
            for (what, extra) in &s.extra {
                print_samples(&format!("{} (extra) {what}", r.name), extra);
            }
        }
    }
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "\nload average at the end {}",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    if rows.iter().any(|r| r.result.is_err()) {
        return Err("some figures failed (see above)".into());
    }
    Ok(())
}

/// Whether a filter selects figure `name`: by prefix, but a number is not the start of a longer
/// one (`P1` selects P1, not P10 and P11; `P` selects every figure).
fn selects(filter: &str, name: &str) -> bool {
    name.strip_prefix(filter).is_some_and(|rest| {
        !(filter.ends_with(|c: char| c.is_ascii_digit()) && rest.starts_with(|c: char| c.is_ascii_digit()))
    })
}

/// P10 and P11, a few minutes each, run a third as many times as the other figures.
fn many_reps(reps: usize) -> usize {
    reps.div_ceil(3)
}

struct Row {
    name: &'static str,
    what: &'static str,
    goal: Goal,
    result: Res<Samples>,
}

/// What a figure must stay within.
#[derive(Clone, Copy)]
enum Goal {
    /// Ours over the anchor, at most.
    Ratio(f64),
    /// Ours in absolute terms, at most this many milliseconds (the ratio is informative).
    Within(f64),
}

impl Goal {
    fn met(self, ours: f64, ratio: f64) -> bool {
        match self {
            Goal::Ratio(g) => ratio <= g,
            Goal::Within(ms) => ours <= ms,
        }
    }
}

impl std::fmt::Display for Goal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Goal::Ratio(g) => write!(f, "≤ {g:.1}"),
            Goal::Within(ms) => write!(f, "ours ≤ {:.0} s", ms / 1e3),
        }
    }
}

/// One figure's samples (wall-clock milliseconds unless `unit` says otherwise).
#[derive(Default)]
struct Samples {
    ours: Vec<f64>,
    anchor: Vec<f64>,
    unit: Unit,
    note: Option<String>,
    /// Informative rows printed under the figure's own, without a goal.
    extra: Vec<(&'static str, Samples)>,
}

#[derive(Default, Clone, Copy)]
enum Unit {
    #[default]
    Ms,
    MiB,
}

impl Unit {
    fn label(self) -> &'static str {
        match self {
            Unit::Ms => "ms",
            Unit::MiB => "MiB",
        }
    }
}

fn table_row(label: &str, s: &Samples, goal: Option<Goal>) {
    let (a, b) = (median(&s.ours), median(&s.anchor));
    let ratio = a / b;
    let goal = match goal {
        Some(g) => format!("{g} ({})", if g.met(a, ratio) { "met" } else { "missed" }),
        None => "informative".to_owned(),
    };
    let unit = s.unit.label();
    println!("| {label} | {a:.1} {unit} | {b:.1} {unit} | {ratio:.2} | {goal} |");
}

fn print_samples(label: &str, s: &Samples) {
    println!(
        "{label} ({}): ours {} | anchor {}{}",
        s.unit.label(),
        list(&s.ours),
        list(&s.anchor),
        s.note.as_deref().map(|n| format!(" | {n}")).unwrap_or_default()
    );
}

/// Runs `ours` and `anchor` in an order that alternates with the repetition; returns their
/// results as (ours, anchor).
fn alternate<T>(rep: usize, ours: impl FnOnce() -> Res<T>, anchor: impl FnOnce() -> Res<T>) -> Res<(T, T)> {
    if rep.is_multiple_of(2) {
        let a = ours()?;
        Ok((a, anchor()?))
    } else {
        let b = anchor()?;
        Ok((ours()?, b))
    }
}

/// What one command cost, with every process it started and waited for.
#[derive(Clone, Copy, Default)]
struct Usage {
    wall: Duration,
    /// User plus system time.
    cpu: Duration,
    /// The largest resident set of any one process of the tree (`ru_maxrss` from `wait4`, which
    /// covers the child and the descendants it reaped), in KiB.
    max_rss_kib: u64,
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

// ---------------------------------------------------------------------------------------------
// Environment: an isolated work directory and command builders.

/// Commands isolated from the user (`common::Isolated`), with the caller's environment less
/// what could leak into the measurement, and their measuring.
struct Env {
    isolated: Isolated,
    /// Held for its removal at the end.
    _work: WorkDir,
}

impl Env {
    fn new(keep: bool) -> Res<Self> {
        let work = WorkDir::new("compare", "grs-bench", keep)?;
        Ok(Env {
            isolated: Isolated::new(&work.root, Caller::AllBut(&ALSO_SCRUBBED))?,
            _work: work,
        })
    }

    /// Runs a command with stdout discarded and stderr to a file (so that nothing waits on a
    /// pipe a detached child might hold), and returns what it cost.
    fn measure(&self, c: &mut Command) -> Res<Usage> {
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
    fn timed(&self, c: &mut Command) -> Res<Duration> {
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

fn machine(env: &Env) -> String {
    let git = env.out(env.cmd("git").arg("--version")).unwrap_or_else(|e| e);
    common::machine(&git, BIN)
}

// ---------------------------------------------------------------------------------------------
// Deterministic data: a fast-import stream from a seeded PRNG (common::Rng).

/// A source-code-like line: indentation and words from a fixed vocabulary, so blobs compress
/// and delta like text while every line is effectively unique.
fn line(rng: &mut Rng, out: &mut Vec<u8>) {
    const WORDS: [&str; 32] = [
        "let", "fn", "mut", "self", "return", "match", "if", "else", "for", "in", "while", "struct", "impl",
        "value", "count", "buffer", "index", "result", "error", "config", "mirror", "push", "refs", "commit",
        "tree", "blob", "Some(x)", "None", "Ok(())", "=>", "+=", "&&",
    ];
    out.extend(std::iter::repeat_n(b' ', 4 * rng.below(4)));
    let n = 3 + rng.below(8);
    for i in 0..n {
        if i > 0 {
            out.push(b' ');
        }
        if rng.below(5) == 0 {
            let _ = write!(out, "v{:x}", rng.next() & 0xFFFF_FFFF);
        } else {
            out.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
        }
    }
    out.extend_from_slice(b";\n");
}

fn new_file(rng: &mut Rng) -> Vec<Vec<u8>> {
    (0..20 + rng.below(60))
        .map(|_| {
            let mut l = Vec::new();
            line(rng, &mut l);
            l
        })
        .collect()
}

/// Edits a file the way commits do: a few lines replaced, inserted or removed.
fn edit(rng: &mut Rng, f: &mut Vec<Vec<u8>>) {
    for _ in 0..1 + rng.below(4) {
        let mut l = Vec::new();
        line(rng, &mut l);
        let at = rng.below(f.len() + 1);
        match rng.below(4) {
            0 | 1 if at < f.len() => f[at] = l,
            2 if f.len() > 10 && at < f.len() => {
                f.remove(at);
            }
            _ => f.insert(at, l),
        }
    }
}

fn path_of(i: usize) -> String {
    format!("src/m{:02}/f{:04}.rs", i % DIRS, i)
}

struct Shape {
    objects: u64,
    pack_bytes: u64,
    branches: usize,
    tags: usize,
}

struct Stream<W: Write> {
    w: W,
    mark: usize,
    time: u64,
}

impl<W: Write> Stream<W> {
    fn data(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        writeln!(self.w, "data {}", bytes.len())?;
        self.w.write_all(bytes)?;
        self.w.write_all(b"\n")
    }

    /// One commit on `branch` (continuing it, or starting at `from`) that writes `files`.
    fn commit(
        &mut self,
        branch: &str,
        from: Option<usize>,
        msg: &str,
        files: &[(String, Vec<u8>)],
    ) -> std::io::Result<usize> {
        self.mark += 1;
        self.time += 37 + (self.mark as u64 * 7919) % 600;
        writeln!(self.w, "commit refs/heads/{branch}\nmark :{}", self.mark)?;
        writeln!(
            self.w,
            "author Dev {n} <dev{n}@example.com> {} +0000",
            self.time,
            n = self.mark % 17
        )?;
        writeln!(self.w, "committer Bench <bench@example.com> {} +0000", self.time)?;
        self.data(msg.as_bytes())?;
        if let Some(m) = from {
            writeln!(self.w, "from :{m}")?;
        }
        for (path, content) in files {
            writeln!(self.w, "M 100644 inline {path}")?;
            self.data(content)?;
        }
        Ok(self.mark)
    }
}

fn generate(env: &Env, src: &Path) -> Res<Shape> {
    env.out(env.cmd("git").args(["init", "-q"]).arg(src))?;
    let (branches, tags) = env.fast_import(src, |w| write_history(w))?;
    // A realistic pack: fast-import deltas only against the previous blob, so let git find
    // real deltas once (as any repository that was ever gc'ed has them).
    env.out(env.git(src).args(["repack", "-adfq", "--window=10"]))?;
    env.out(env.git(src).args(["reset", "-q", "--hard", "main"]))?;

    let counts = env.out(env.git(src).args(["count-objects", "-v"]))?;
    let field = |k: &str| -> u64 {
        counts
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let objects = field("count:") + field("in-pack:");
    let pack_bytes = field("size-pack:") * 1024;
    if objects < 20_000 || pack_bytes < 2_000_000 || branches + tags < 250 {
        return Err(format!(
            "generated repository too small: {objects} objects, {pack_bytes} bytes, {} refs",
            branches + tags
        ));
    }
    Ok(Shape {
        objects,
        pack_bytes,
        branches,
        tags,
    })
}

/// Writes the whole history; returns (branches, tags).
fn write_history<W: Write>(w: W) -> std::io::Result<(usize, usize)> {
    let mut rng = Rng(0x5EED_2026);
    let mut s = Stream {
        w,
        mark: 0,
        time: 1_600_000_000,
    };
    let mut files: Vec<Vec<Vec<u8>>> = (0..FILES).map(|_| new_file(&mut rng)).collect();
    let join = |f: &Vec<Vec<u8>>| f.concat();

    let all: Vec<(String, Vec<u8>)> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (path_of(i), join(f)))
        .collect();
    let mut main_marks = vec![s.commit("main", None, "Initial import", &all)?];
    let mut branches = 1;
    let branch_every = MAIN_COMMITS / BRANCHES;
    for c in 1..MAIN_COMMITS {
        let mut changed = Vec::with_capacity(FILES_PER_COMMIT);
        for _ in 0..FILES_PER_COMMIT {
            let i = rng.below(FILES);
            edit(&mut rng, &mut files[i]);
            changed.push((path_of(i), join(&files[i])));
        }
        let m = s.commit(
            "main",
            None,
            &format!("Change {c}\n\nTouches {} files.", changed.len()),
            &changed,
        )?;
        main_marks.push(m);

        // A topic branch forks off every `branch_every` commits and gets its own commits.
        if c % branch_every == branch_every / 2 && branches <= BRANCHES {
            let b = branches;
            let name = match b % 4 {
                0 => format!("feature/topic-{b:03}"),
                1 => format!("fix/issue-{}", 1000 + b * 7),
                2 => format!("user/dev{}/work-{b}", b % 9),
                _ => format!("release/{}.{}", b / 10, b % 10),
            };
            let mut overlay: Vec<(usize, Vec<Vec<u8>>)> = Vec::new();
            for k in 0..BRANCH_COMMITS {
                let mut changed = Vec::new();
                for _ in 0..FILES_PER_COMMIT {
                    let i = rng.below(FILES);
                    let pos = match overlay.iter().position(|(j, _)| *j == i) {
                        Some(p) => p,
                        None => {
                            overlay.push((i, files[i].clone()));
                            overlay.len() - 1
                        }
                    };
                    edit(&mut rng, &mut overlay[pos].1);
                    changed.push((path_of(i), join(&overlay[pos].1)));
                }
                let from = (k == 0).then_some(m);
                s.commit(&name, from, &format!("{name}: step {k}"), &changed)?;
            }
            branches += 1;
        }
    }

    let mut tags = 0;
    for t in 0..LIGHT_TAGS {
        let m = main_marks[(t + 1) * (MAIN_COMMITS - 1) / (LIGHT_TAGS + ANNOTATED_TAGS)];
        writeln!(s.w, "reset refs/tags/v0.{}.{}\nfrom :{m}\n", t / 10, t % 10)?;
        tags += 1;
    }
    for t in 0..ANNOTATED_TAGS {
        let m = main_marks[(LIGHT_TAGS + t + 1) * (MAIN_COMMITS - 1) / (LIGHT_TAGS + ANNOTATED_TAGS)];
        s.time += 60;
        writeln!(
            s.w,
            "tag v1.{t}.0\nfrom :{m}\ntagger Bench <bench@example.com> {} +0000",
            s.time
        )?;
        s.data(format!("Release 1.{t}.0\n").as_bytes())?;
        tags += 1;
    }
    writeln!(s.w, "done")?;
    s.w.flush()?;
    Ok((branches, tags))
}

/// P6's repository: a few small commits on `main` and [`P6_REFS`] branches and tags spread over
/// them, in `packed-refs` as in any repository that was ever gc'ed.
fn generate_many_refs(env: &Env, repo: &Path) -> Res<()> {
    env.out(env.cmd("git").args(["init", "-q"]).arg(repo))?;
    env.fast_import(repo, |w| {
        let mut rng = Rng(0x10_000);
        let mut s = Stream {
            w,
            mark: 0,
            time: 1_650_000_000,
        };
        let mut marks = Vec::with_capacity(P6_COMMITS);
        for c in 0..P6_COMMITS {
            let file = (path_of(c), new_file(&mut rng).concat());
            marks.push(s.commit("main", None, &format!("Commit {c}"), &[file])?);
        }
        for i in 0..P6_REFS {
            let m = marks[i % P6_COMMITS];
            if i % 2 == 0 {
                writeln!(s.w, "reset refs/heads/b/{i:05}\nfrom :{m}\n")?;
            } else {
                writeln!(s.w, "reset refs/tags/t{i:05}\nfrom :{m}\n")?;
            }
        }
        writeln!(s.w, "done")?;
        s.w.flush()
    })?;
    env.out(env.git(repo).args(["pack-refs", "--all"]))?;
    Ok(())
}

/// A new commit on `branch` of `repo` that adds one small file; `n` makes it unique.
fn commit_on(env: &Env, repo: &Path, branch: &str, n: usize) -> Res<()> {
    let mut rng = Rng(0xC0FF_EE00 + n as u64);
    let mut body = Vec::new();
    for _ in 0..40 {
        line(&mut rng, &mut body);
    }
    env.fast_import(repo, |w| {
        writeln!(w, "commit refs/heads/{branch}")?;
        writeln!(
            w,
            "committer Bench <bench@example.com> {} +0000",
            1_700_000_000 + n
        )?;
        let msg = format!("New commit {n}");
        write!(w, "data {}\n{msg}\n", msg.len())?;
        writeln!(w, "from refs/heads/{branch}^0")?;
        writeln!(w, "M 100644 inline src/new/n{n:03}.rs")?;
        writeln!(w, "data {}", body.len())?;
        w.write_all(&body)?;
        w.write_all(b"\ndone\n")?;
        w.flush()
    })
    .map_err(|e| format!("a new commit on {branch}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Figures.

struct Bench<'a> {
    env: &'a Env,
    src: &'a Path,
    reps: usize,
    new_commits: usize,
}

impl Bench<'_> {
    fn ours_mirror(&self) -> PathBuf {
        self.env.root.join("mirror-ours.git")
    }
    fn anchor_mirror(&self) -> PathBuf {
        self.env.root.join("mirror-anchor.git")
    }

    /// The source's config names mirror `m` at `mirror-ours.git` (created by `mirror add`).
    fn ensure_configured(&self) -> Res<()> {
        configure(self.env, self.src, "m", &self.ours_mirror())
    }

    /// `sync` to `m` only (P5 adds more mirrors to the same source).
    fn sync(&self) -> Command {
        sync_cmd(self.env, self.src, &["m"])
    }

    fn push(&self, mirror: &Path) -> Command {
        push_cmd(self.env, self.src, &[], mirror)
    }

    /// Runs `ours` and `anchor` in an order that alternates with the repetition and records
    /// their wall-clock times.
    fn pair(
        &self,
        rep: usize,
        s: &mut Samples,
        ours: impl FnOnce() -> Res<Duration>,
        anchor: impl FnOnce() -> Res<Duration>,
    ) -> Res<()> {
        let (a, b) = alternate(rep, ours, anchor)?;
        s.ours.push(ms(a));
        s.anchor.push(ms(b));
        Ok(())
    }

    /// Brings both mirrors up to date, untimed (for P3 and P4 when P2 did not run or failed).
    fn ensure_up_to_date(&self) -> Res<()> {
        let a = self.anchor_mirror();
        if !a.exists() {
            self.env.fresh_bare(&a)?;
        }
        self.env.out(&mut self.push(&a))?;
        self.ensure_configured()?;
        if self.env.same_refs(self.src, &self.ours_mirror()).is_err() {
            self.env.out(&mut self.sync())?;
        }
        Ok(())
    }

    fn p2_first_push(&mut self) -> Res<Samples> {
        let (om, am) = (self.ours_mirror(), self.anchor_mirror());
        self.ensure_configured()?;
        let env = self.env;
        let mut s = Samples::default();
        for rep in 0..self.reps {
            env.fresh_bare(&om)?;
            env.fresh_bare(&am)?;
            self.pair(
                rep,
                &mut s,
                || env.timed(&mut self.sync()),
                || env.timed(&mut self.push(&am)),
            )?;
            env.same_refs(self.src, &om)?;
            env.same_refs(self.src, &am)?;
        }
        Ok(s)
    }

    /// One new commit on a topic branch (untimed).
    fn add_commit(&mut self) -> Res<()> {
        self.new_commits += 1;
        let n = self.new_commits;
        let branch = format!("feature/topic-{:03}", 4 * (1 + n % 40));
        commit_on(self.env, self.src, &branch, n)
    }

    fn p3_one_commit(&mut self) -> Res<Samples> {
        self.ensure_up_to_date()?;
        let (om, am) = (self.ours_mirror(), self.anchor_mirror());
        let mut s = Samples::default();
        for rep in 0..3 * self.reps {
            self.add_commit()?;
            let env = self.env;
            self.pair(
                rep,
                &mut s,
                || env.timed(&mut self.sync()),
                || env.timed(&mut self.push(&am)),
            )?;
            env.same_refs(self.src, &om)?;
            env.same_refs(self.src, &am)?;
        }
        Ok(s)
    }

    fn p4_nothing_new(&mut self) -> Res<Samples> {
        self.ensure_up_to_date()?;
        let (om, am) = (self.ours_mirror(), self.anchor_mirror());
        let env = self.env;
        let mut s = Samples::default();
        for rep in 0..3 * self.reps {
            self.pair(
                rep,
                &mut s,
                || env.timed(&mut self.sync()),
                || env.timed(&mut self.push(&am)),
            )?;
        }
        env.same_refs(self.src, &om)?;
        env.same_refs(self.src, &am)?;
        Ok(s)
    }

    fn commits(&self, repo: &Path) -> Res<Duration> {
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

    fn p1_commits(&mut self) -> Res<Samples> {
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
    /// (where ours are a config-based hook and a hook file, both of which that git runs). After
    /// each of ours, untimed, the worker brings the mirror up to date.
    fn p12_sequences(&mut self) -> Res<Samples> {
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

    /// Ours: one sync to [`P5_MIRRORS`] empty mirrors. Anchor: one sync to one empty mirror.
    /// Extra row: a loop of as many `git push` to empty mirrors against one `git push`.
    fn p5_fan_out(&mut self) -> Res<Samples> {
        let env = self.env;
        let dir = env.root.join("p5");
        // p5-0 is the anchor's single mirror; p5-1 ... are ours.
        let names: Vec<String> = (0..=P5_MIRRORS).map(|i| format!("p5-{i}")).collect();
        let synced: Vec<PathBuf> = names.iter().map(|n| dir.join(format!("{n}.git"))).collect();
        let pushed: Vec<PathBuf> = (0..=P5_MIRRORS)
            .map(|i| dir.join(format!("push-{i}.git")))
            .collect();
        for (name, path) in names.iter().zip(&synced) {
            configure(env, self.src, name, path)?;
        }
        let fan_out = || sync_cmd(env, self.src, &names[1..]);
        let fresh = |paths: &[PathBuf]| paths.iter().try_for_each(|p| env.fresh_bare(p));

        let mut s = Samples::default();
        let mut looped = Samples::default();
        let (mut cpu_ours, mut cpu_anchor, mut cpu_loop) = (Vec::new(), Vec::new(), Vec::new());
        for rep in 0..self.reps {
            fresh(&synced)?;
            fresh(&pushed)?;
            let (a, b) = alternate(
                rep,
                || env.measure(&mut fan_out()),
                || env.measure(&mut sync_cmd(env, self.src, &names[..1])),
            )?;
            s.ours.push(ms(a.wall));
            s.anchor.push(ms(b.wall));
            cpu_ours.push(ms(a.cpu));
            cpu_anchor.push(ms(b.cpu));
            let (a, b) = alternate(
                rep,
                || {
                    pushed[1..].iter().try_fold(Usage::default(), |sum, m| {
                        Ok(sum + env.measure(&mut self.push(m))?)
                    })
                },
                || env.measure(&mut self.push(&pushed[0])),
            )?;
            looped.ours.push(ms(a.wall));
            looped.anchor.push(ms(b.wall));
            cpu_loop.push(ms(a.cpu));
            for m in synced.iter().chain(&pushed) {
                env.same_refs(self.src, m)?;
            }
        }

        // Where the time goes: one more (untimed) fan-out with git's trace2 events.
        fresh(&synced[1..])?;
        let trace = dir.join("trace2.json");
        let t = Instant::now();
        env.out(fan_out().env("GIT_TRACE2_EVENT", &trace))?;
        let traced_wall = ms(t.elapsed());
        let breakdown = trace_breakdown(&trace)?;
        s.note = Some(format!(
            "CPU time (user+sys of the whole tree, medians): {P5_MIRRORS} mirrors {:.0} ms, 1 mirror {:.0} ms, \
             loop of {P5_MIRRORS} git push {:.0} ms | one traced {P5_MIRRORS}-mirror sync, {traced_wall:.0} ms: {breakdown}",
            median(&cpu_ours),
            median(&cpu_anchor),
            median(&cpu_loop)
        ));
        s.extra
            .push(("a loop of 8 `git push` to empty mirrors / one `git push`", looped));
        Ok(s)
    }

    /// A repository with [`P6_REFS`] refs, mirrored; then one new commit on one branch. Ours:
    /// `sync`. Anchor: `git push --force --prune` of the same refspecs (our mirrors force and
    /// prune by default).
    fn p6_many_refs(&mut self) -> Res<Samples> {
        let env = self.env;
        let dir = env.root.join("p6");
        let src = dir.join("src");
        let (om, am) = (dir.join("mirror-ours.git"), dir.join("mirror-anchor.git"));
        let t = Instant::now();
        generate_many_refs(env, &src)?;
        configure(env, &src, "m", &om)?;
        env.fresh_bare(&am)?;
        let sync = || sync_cmd(env, &src, &["m"]);
        let push_to = |m: &Path| push_cmd(env, &src, &["--force", "--prune"], m);
        let push = || push_to(&am);
        // Both mirrors are primed with `git push`, then one sync finds ours up to date and
        // records what it holds: our own first sync of 10,000 refs takes minutes (explicit
        // refspecs, which git matches against every local ref) and is not what P6 measures.
        env.out(&mut push_to(&om))?;
        env.out(&mut push())?;
        env.out(&mut sync())?;
        env.same_refs(&src, &om)?;
        env.same_refs(&src, &am)?;
        let setup = t.elapsed();

        let mut s = Samples::default();
        for rep in 0..3 * self.reps {
            let branch = format!("b/{:05}", (2 * 7919 * (rep + 1)) % P6_REFS);
            commit_on(env, &src, &branch, rep + 1)?;
            self.pair(rep, &mut s, || env.timed(&mut sync()), || env.timed(&mut push()))?;
            env.same_refs(&src, &om)?;
            env.same_refs(&src, &am)?;
        }
        s.note = Some(format!(
            "{} refs; generating the repository and priming the mirrors took {:.1} s",
            env.refs(&src)?.lines().count(),
            setup.as_secs_f64()
        ));
        Ok(s)
    }

    /// [`FLEET`] small repositories, each installed (so registered) with its mirror for ours
    /// and a remote `m` at another mirror for the anchor, both up to date. Made once.
    fn ensure_fleet(&self) -> Res<Vec<PathBuf>> {
        let dir = self.env.root.join("fleet");
        let repos: Vec<PathBuf> = (0..FLEET).map(|i| dir.join(format!("r{i:03}"))).collect();
        if dir.exists() {
            return Ok(repos);
        }
        // The fleet's own registry: other figures install into repositories of their own.
        fs::copy(&self.env.gitconfig, self.fleet_gitconfig()).map_err(|e| e.to_string())?;
        // Without what the other figures registered before.
        let _ = self
            .env
            .cmd("git")
            .arg("config")
            .arg("--file")
            .arg(self.fleet_gitconfig())
            .args(["--unset-all", "repo-sync.repo"])
            .status();
        for repo in &repos {
            let env = self.env;
            env.out(env.cmd("git").args(["init", "-q"]).arg(repo))?;
            env.out(
                env.git(repo)
                    .args(["commit", "-q", "--allow-empty", "-m", "first"]),
            )?;
            env.out(env.git(repo).args(["tag", "v1"]))?;
            let anchor = repo.with_extension("anchor.git");
            env.fresh_bare(&anchor)?;
            env.out(env.git(repo).args(["remote", "add", "m"]).arg(&anchor))?;
            env.out(&mut self.fleet_anchor_push(repo))?;
            let ours = repo.with_extension("ours.git");
            env.out(
                env.ours(repo)
                    .env("GIT_CONFIG_GLOBAL", self.fleet_gitconfig())
                    .args(["-q", "install", "--yes", "--mirror"])
                    .arg(format!("m={}", ours.display())),
            )?;
        }
        self.env.out(&mut self.fleet_sync())?;
        for repo in &repos {
            self.env.same_refs(repo, &repo.with_extension("ours.git"))?;
        }
        Ok(repos)
    }

    fn fleet_gitconfig(&self) -> PathBuf {
        self.env.root.join("fleet-gitconfig")
    }

    fn fleet_sync(&self) -> Command {
        let mut c = self.env.ours(&self.env.root);
        c.env("GIT_CONFIG_GLOBAL", self.fleet_gitconfig())
            .args(["sync", "--all", "--quiet"]);
        c
    }

    /// The anchor for one repository alone (untimed set-up).
    fn fleet_anchor_push(&self, repo: &Path) -> Command {
        let mut c = self.env.git(repo);
        c.args(["push", "-q", "m"]).args(REFSPECS);
        c
    }

    /// What a cron job of plain git would run: `git push` of every registered repository.
    fn fleet_anchor(&self) -> Command {
        let mut c = self.env.git(&self.env.root);
        c.env("GIT_CONFIG_GLOBAL", self.fleet_gitconfig())
            .args(["for-each-repo", "--config=repo-sync.repo", "push", "-q", "m"])
            .args(REFSPECS);
        c
    }

    /// Ours: `sync --all` where no repository changed (no mirror is contacted). Anchor: `git
    /// for-each-repo` running `git push` in each. Extra: ours in absolute terms and its memory.
    fn p8_fleet_quiet(&mut self) -> Res<Samples> {
        self.ensure_fleet()?;
        let env = self.env;
        let mut s = Samples::default();
        let mut memory = Samples {
            unit: Unit::MiB,
            ..Samples::default()
        };
        for rep in 0..self.reps {
            let (a, b) = alternate(
                rep,
                || env.measure(&mut self.fleet_sync()),
                || env.measure(&mut self.fleet_anchor()),
            )?;
            s.ours.push(ms(a.wall));
            s.anchor.push(ms(b.wall));
            memory.ours.push(a.max_rss_kib as f64 / 1024.0);
            memory.anchor.push(b.max_rss_kib as f64 / 1024.0);
        }
        s.note = Some(format!(
            "goal: ours under 1 s over {FLEET} quiet repositories; CPU-bound on this machine's 2 cores"
        ));
        s.extra.push(("peak memory of P8", memory));
        Ok(s)
    }

    /// One repository gets a new commit (untimed), then ours and the anchor each bring it (and
    /// the 199 quiet ones) to their own mirror.
    fn p9_fleet_one_changed(&mut self) -> Res<Samples> {
        let repos = self.ensure_fleet()?;
        let env = self.env;
        let mut s = Samples::default();
        for rep in 0..self.reps {
            let repo = &repos[(rep * 37) % FLEET];
            // With no hook, so that no background sync runs before the timed pass.
            let no_hooks = env.root.join("no-hooks");
            fs::create_dir_all(&no_hooks).map_err(|e| e.to_string())?;
            env.out(
                env.git(repo)
                    .arg("-c")
                    .arg(format!("core.hooksPath={}", no_hooks.display()))
                    .args(["commit", "-q", "--allow-empty", "-m", "changed"]),
            )?;
            self.pair(
                rep,
                &mut s,
                || env.timed(&mut self.fleet_sync()),
                || env.timed(&mut self.fleet_anchor()),
            )?;
            env.same_refs(repo, &repo.with_extension("ours.git"))?;
            env.same_refs(repo, &repo.with_extension("anchor.git"))?;
        }
        Ok(s)
    }

    /// Ours: `install --recursive` into [`Many`]'s 1,000 repositories, with no `--mirror`: each
    /// takes its mirror from the rule in the user config, which install creates as an empty bare
    /// repository. Anchor: the least a shell loop does for the same result, per repository
    /// (`many/anchor.sh`): `git init --bare` of its mirror, `git remote add` naming it, one `cp`
    /// of the hooks it needs (three in a work tree, `post-receive` in a bare repository), and
    /// `git config --global --add repo-sync.repo` registering it. Both start from fresh copies of
    /// repositories without any install (untimed). Extra: the peak memory of both trees.
    fn p10_install_many(&mut self) -> Res<Samples> {
        let env = self.env;
        let many = Many::new(env);
        let generated = many.ensure(env)?;
        let mut s = Samples::default();
        let mut memory = Samples {
            unit: Unit::MiB,
            ..Samples::default()
        };
        let (mut cpu_ours, mut cpu_anchor) = (Vec::new(), Vec::new());
        for rep in 0..many_reps(self.reps) {
            many.reset(env, Side::Ours)?;
            many.reset(env, Side::Anchor)?;
            let (a, b) = alternate(
                rep,
                || env.measure(&mut many.install(env)),
                || env.measure(&mut many.anchor_install(env)),
            )?;
            s.ours.push(ms(a.wall));
            s.anchor.push(ms(b.wall));
            cpu_ours.push(ms(a.cpu));
            cpu_anchor.push(ms(b.cpu));
            memory.ours.push(a.max_rss_kib as f64 / 1024.0);
            memory.anchor.push(b.max_rss_kib as f64 / 1024.0);
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
    fn p11_status_many(&mut self) -> Res<Samples> {
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
        let mut memory = Samples {
            unit: Unit::MiB,
            ..Samples::default()
        };
        let (mut cpu_ours, mut cpu_anchor) = (Vec::new(), Vec::new());
        for rep in 0..many_reps(self.reps) {
            let (a, b) = alternate(rep, || env.measure(&mut status()), || env.measure(&mut anchor()))?;
            s.ours.push(ms(a.wall));
            s.anchor.push(ms(b.wall));
            cpu_ours.push(ms(a.cpu));
            cpu_anchor.push(ms(b.cpu));
            memory.ours.push(a.max_rss_kib as f64 / 1024.0);
            memory.anchor.push(b.max_rss_kib as f64 / 1024.0);
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

    /// P2's first push, measured for the largest resident set of any process in the tree.
    fn p7_peak_memory(&mut self) -> Res<Samples> {
        let (om, am) = (self.ours_mirror(), self.anchor_mirror());
        self.ensure_configured()?;
        let env = self.env;
        let mib = |u: Usage| u.max_rss_kib as f64 / 1024.0;
        let mut s = Samples {
            unit: Unit::MiB,
            ..Samples::default()
        };
        for rep in 0..self.reps {
            env.fresh_bare(&om)?;
            env.fresh_bare(&am)?;
            let (a, b) = alternate(
                rep,
                || env.measure(&mut self.sync()),
                || env.measure(&mut self.push(&am)),
            )?;
            s.ours.push(mib(a));
            s.anchor.push(mib(b));
            env.same_refs(self.src, &om)?;
            env.same_refs(self.src, &am)?;
        }
        s.note = Some(
            "ru_maxrss from wait4: the largest single process among the command and all it waited for \
             (not a sum of processes alive at once)"
                .to_owned(),
        );
        Ok(s)
    }
}

// ---------------------------------------------------------------------------------------------
// P10, P11: 1,000 repositories below one directory.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Ours,
    Anchor,
}

impl Side {
    fn name(self) -> &'static str {
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
    dir: PathBuf,
    /// Paths below a side's directory: `g00/r0000.git` bare, `g00/r0001` a work tree, ...
    repos: Vec<PathBuf>,
}

impl Many {
    fn new(env: &Env) -> Self {
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

    fn tree(&self, side: Side) -> PathBuf {
        self.dir.join(side.name())
    }

    fn nas(&self, side: Side) -> PathBuf {
        self.dir.join(format!("nas-{}", side.name()))
    }

    fn registry(&self, side: Side) -> PathBuf {
        self.dir.join(format!("gitconfig-{}", side.name()))
    }

    /// Where the rule puts `rel`'s mirror: `{{path}}.git` below the side's NAS.
    fn mirror(&self, side: Side, rel: &Path) -> PathBuf {
        self.nas(side).join(rel.with_extension("")).with_extension("git")
    }

    /// The directory `rel`'s hooks are in, on `side`.
    fn hooks(&self, side: Side, rel: &Path) -> PathBuf {
        let repo = self.tree(side).join(rel);
        if Self::is_bare(rel) {
            repo.join("hooks")
        } else {
            repo.join(".git/hooks")
        }
    }

    /// A command with `side`'s registry and the user config that has the rule.
    fn cmd(&self, env: &Env, side: Side, program: impl AsRef<OsStr>) -> Command {
        let mut c = env.cmd(program);
        c.current_dir(&self.dir)
            .env("GIT_CONFIG_GLOBAL", self.registry(side))
            .env("XDG_CONFIG_HOME", self.dir.join("xdg"));
        c
    }

    fn install(&self, env: &Env) -> Command {
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
    fn reset(&self, env: &Env, side: Side) -> Res<()> {
        for dir in [self.tree(side), self.nas(side)] {
            if dir.exists() {
                fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
        }
        fs::copy(&env.gitconfig, self.registry(side)).map_err(|e| e.to_string())?;
        env.out(env.cmd("cp").arg("-a").arg(self.pristine()).arg(self.tree(side)))?;
        // Written out, so that no writeback of the copy lands in the timed run.
        env.out(&mut env.cmd("sync"))?;
        let registered = self.registered(env, side)?;
        let hooked = self
            .repos
            .iter()
            .filter(|rel| {
                let hook = if Self::is_bare(rel) {
                    "post-receive"
                } else {
                    "post-commit"
                };
                self.hooks(side, rel).join(hook).exists()
            })
            .count();
        if registered != 0 || hooked != 0 || self.nas(side).exists() {
            return Err(format!(
                "{}: not afresh: {registered} registered, {hooked} with a hook",
                side.name()
            ));
        }
        Ok(())
    }

    /// How many repositories `side`'s global git config registers.
    fn registered(&self, env: &Env, side: Side) -> Res<usize> {
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

    /// Every repository of `side` registered, with its mirror and its hook.
    fn check_installed(&self, env: &Env, side: Side) -> Res<()> {
        let registered = self.registered(env, side)?;
        let mirrors = self
            .repos
            .iter()
            .filter(|rel| self.mirror(side, rel).join("HEAD").is_file())
            .count();
        let hooked = self
            .repos
            .iter()
            .filter(|rel| {
                let hook = if Self::is_bare(rel) {
                    "post-receive"
                } else {
                    "post-commit"
                };
                self.hooks(side, rel).join(hook).is_file()
            })
            .count();
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

/// A git P12 runs its sequences (and our `install`) with: the one on PATH, or, with `path` (a
/// `PATH` with its directory first), a git that runs config-based hooks.
struct SeqGit {
    path: Option<std::ffi::OsString>,
}

impl SeqGit {
    fn put<'c>(&self, c: &'c mut Command) -> &'c mut Command {
        if let Some(path) = &self.path {
            c.env("PATH", path);
        }
        c
    }

    fn git(&self, env: &Env, dir: &Path) -> Command {
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
    fn label(self, config_hooks: bool) -> &'static str {
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
    fn branch(self) -> &'static str {
        match self {
            Self::Rebase => "rebased",
            Self::Am => "applied",
            Self::CherryPick => "picked",
        }
    }

    fn start(self) -> &'static str {
        match self {
            Self::Rebase => "series",
            Self::Am | Self::CherryPick => "base",
        }
    }

    fn args(self, c: &mut Command, patches: &[PathBuf]) {
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

/// `git-repo-sync sync -q` in `src`, to the named mirrors only.
fn sync_cmd(env: &Env, src: &Path, mirrors: &[impl AsRef<str>]) -> Command {
    let mut c = env.ours(src);
    c.args(["sync", "-q"]);
    for m in mirrors {
        c.args(["--mirror", m.as_ref()]);
    }
    c
}

/// `git push -q <options> <mirror>` of [`REFSPECS`] from `src`.
fn push_cmd(env: &Env, src: &Path, options: &[&str], mirror: &Path) -> Command {
    let mut c = env.git(src);
    c.args(["push", "-q"]).args(options).arg(mirror).args(REFSPECS);
    c
}

/// Adds mirror `name` at `path` to `src`'s configuration unless it is there already (`mirror
/// add` creates the bare repository).
fn configure(env: &Env, src: &Path, name: &str, path: &Path) -> Res<()> {
    let list = env
        .out(env.ours(src).args(["mirror", "list"]))
        .unwrap_or_default();
    if list.lines().any(|l| l.split('\t').next() == Some(name)) {
        return Ok(());
    }
    if path.exists() {
        fs::remove_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    env.out(env.ours(src).args(["mirror", "add", name]).arg(path))
        .map(drop)
}

/// Summarises a `GIT_TRACE2_EVENT` file: per kind of git process (by its place in the process
/// tree, `push/pack-objects`), how many ran and their median wall time, the kinds that took
/// longest first; and how many `push` processes ran at once at most.
fn trace_breakdown(path: &Path) -> Res<String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // Per process (sid): its place in the tree, start (seconds into the UTC day) and end.
    let mut procs: std::collections::HashMap<String, (String, f64, f64)> = Default::default();
    for line in text.lines() {
        let Ok(ev) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let (Some(kind), Some(sid)) = (ev["event"].as_str(), ev["sid"].as_str()) else {
            continue;
        };
        let p = procs.entry(sid.to_owned()).or_default();
        match kind {
            "start" => {
                let t = ev["time"].as_str().and_then(seconds_of_day).unwrap_or(0.0);
                p.1 = t - ev["t_abs"].as_f64().unwrap_or(0.0);
            }
            "cmd_name" => p.0 = ev["hierarchy"].as_str().unwrap_or_default().to_owned(),
            "exit" => p.2 = p.1 + ev["t_abs"].as_f64().unwrap_or(0.0),
            _ => {}
        }
    }
    let mut kinds: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
    for (name, start, end) in procs.values() {
        kinds.entry(name).or_default().push(1e3 * (end - start));
    }
    let mut kinds: Vec<(&str, Vec<f64>)> = kinds.into_iter().collect();
    kinds.sort_by(|a, b| b.1.iter().sum::<f64>().total_cmp(&a.1.iter().sum::<f64>()));
    let mut out: Vec<String> = kinds
        .iter()
        .take(8)
        .map(|(name, d)| format!("{name} {} × {:.0} ms", d.len(), median(d)))
        .collect();
    let pushes: Vec<(f64, f64)> = procs
        .values()
        .filter(|p| p.0 == "push")
        .map(|p| (p.1, p.2))
        .collect();
    let at_once = pushes
        .iter()
        .map(|&(start, _)| pushes.iter().filter(|&&(s, e)| s <= start && start < e).count())
        .max()
        .unwrap_or(0);
    out.push(format!("at most {at_once} `git push` running at once"));
    Ok(out.join(", "))
}

/// `2026-01-02T10:47:12.552592Z` as seconds since that day's midnight.
fn seconds_of_day(time: &str) -> Option<f64> {
    let clock = time.split_once('T')?.1.trim_end_matches('Z');
    let mut parts = clock.split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    Some(h.parse::<f64>().ok()? * 3600.0 + m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?)
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
