//! Whole-process benchmark: `git-repo-sync` against its anchors (`git push`, an empty hook).
//!
//! Run with `cargo bench --bench compare` (cargo builds the binary with the bench profile, which
//! inherits `release`). Extra arguments select figures by prefix (`cargo bench --bench compare --
//! P2 P3`). Environment: `GRS_BENCH_REPS` (default 9; P3 and P4, which are
//! short, run three times as many), `GRS_BENCH_KEEP=1` keeps the work directory.
//!
//! Everything runs in a fresh directory under the system temp dir, with git isolated from the
//! user's configuration (own `HOME`, `GIT_CONFIG_NOSYSTEM=1`, `GIT_CONFIG_GLOBAL`). The source
//! repository is generated deterministically with `git fast-import`; nothing is downloaded.
//! Each figure runs ours and its anchor in the same repetition, alternating which goes first,
//! and the table reports medians. See BENCHMARKS.md.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_git-repo-sync");

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
/// How long P1 waits for the background worker to bring the mirror up to date.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);

/// Variables git sets for hooks (`git rev-parse --local-env-vars`) plus a few that would let the
/// caller's environment leak into the measurement.
const SCRUB: [&str; 16] = [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_GRAFT_FILE",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_SHALLOW_FILE",
    "GIT_REPLACE_REF_BASE",
    "GIT_NO_REPLACE_OBJECTS",
];

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

    let t = Instant::now();
    let src = env.root.join("src");
    let shape = generate(env, &src)?;
    println!(
        "Generated source repository in {:.1} s: {} objects, pack {:.1} MB, {} branches, {} tags.",
        t.elapsed().as_secs_f64(),
        shape.objects,
        shape.pack_bytes as f64 / 1e6,
        shape.branches,
        shape.tags
    );
    println!(
        "{reps} repetitions (P3, P4: {}) per figure, ours and anchor alternating which runs first; medians in ms.\n",
        3 * reps
    );

    let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| name.starts_with(f.as_str()));
    let mut rows: Vec<Row> = Vec::new();
    let mut bench = Bench {
        env,
        src: &src,
        reps,
        new_commits: 0,
    };
    // P2 first: it leaves both mirrors up to date for P3 and P4.
    type Figure<'a> = (
        &'static str,
        &'static str,
        f64,
        fn(&mut Bench<'a>) -> Res<Samples>,
    );
    let figures: [Figure<'_>; 4] = [
        (
            "P2",
            "first push of everything to an empty mirror",
            1.0,
            Bench::p2_first_push,
        ),
        ("P3", "one new commit on one branch", 1.0, Bench::p3_one_commit),
        ("P4", "nothing new", 1.0, Bench::p4_nothing_new),
        (
            "P1",
            "20 commits, our hooks vs an empty post-commit hook",
            1.3,
            Bench::p1_commits,
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
    rows.sort_by_key(|r| r.name);

    println!("| figure | ours (median ms) | anchor (median ms) | ratio | goal |");
    println!("|---|---:|---:|---:|---:|");
    for r in &rows {
        match &r.result {
            Ok(s) => {
                let (a, b) = (median(&s.ours), median(&s.anchor));
                let ratio = a / b;
                let verdict = if ratio <= r.goal { "met" } else { "missed" };
                println!(
                    "| {} {} | {:.1} | {:.1} | {:.2} | ≤ {:.1} ({verdict}) |",
                    r.name, r.what, a, b, ratio, r.goal
                );
            }
            Err(e) => {
                let mut e = e.lines().next().unwrap_or("").replace('|', "/");
                if e.len() > 120 {
                    let cut = (0..=120).rev().find(|&i| e.is_char_boundary(i)).unwrap_or(0);
                    e.truncate(cut);
                    e.push('…');
                }
                println!("| {} {} | error: {e} | | | ≤ {:.1} |", r.name, r.what, r.goal);
            }
        }
    }
    println!();
    for r in &rows {
        if let Ok(s) = &r.result {
            println!(
                "{}: ours {} | anchor {}{}",
                r.name,
                list(&s.ours),
                list(&s.anchor),
                s.note.as_deref().map(|n| format!(" | {n}")).unwrap_or_default()
            );
        }
    }
    if rows.iter().any(|r| r.result.is_err()) {
        return Err("some figures failed (see above)".into());
    }
    Ok(())
}

struct Row {
    name: &'static str,
    what: &'static str,
    goal: f64,
    result: Res<Samples>,
}

/// Wall-clock samples in milliseconds.
#[derive(Default)]
struct Samples {
    ours: Vec<f64>,
    anchor: Vec<f64>,
    note: Option<String>,
}

fn median(v: &[f64]) -> f64 {
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

fn list(v: &[f64]) -> String {
    v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(" ")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

// ---------------------------------------------------------------------------------------------
// Environment: an isolated work directory and command builders.

struct Env {
    root: PathBuf,
    home: PathBuf,
    gitconfig: PathBuf,
    keep: bool,
}

impl Env {
    fn new(keep: bool) -> Res<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let root = std::env::temp_dir().join(format!("grs-bench-{}-{nanos}", std::process::id()));
        let home = root.join("home");
        fs::create_dir_all(&home).map_err(|e| format!("{}: {e}", home.display()))?;
        // Canonical, so that paths compare equal to what git and the tool print.
        let root = root.canonicalize().map_err(|e| e.to_string())?;
        let home = root.join("home");
        let gitconfig = root.join("gitconfig");
        // gc.auto=0 / maintenance.auto=false: no background gc in the source or the mirrors
        // (receive.autogc) lands inside a timed run.
        fs::write(
            &gitconfig,
            "[user]\n\tname = Bench\n\temail = bench@example.com\n\
             [init]\n\tdefaultBranch = main\n\
             [gc]\n\tauto = 0\n[maintenance]\n\tauto = false\n\
             [advice]\n\tdetachedHead = false\n",
        )
        .map_err(|e| e.to_string())?;
        Ok(Env {
            root,
            home,
            gitconfig,
            keep,
        })
    }

    fn cmd(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(program);
        for v in SCRUB {
            c.env_remove(v);
        }
        c.env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", &self.gitconfig)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        c
    }

    fn git(&self, dir: &Path) -> Command {
        let mut c = self.cmd("git");
        c.arg("-C").arg(dir);
        c
    }

    fn ours(&self, dir: &Path) -> Command {
        let mut c = self.cmd(BIN);
        c.arg("-C").arg(dir);
        c
    }

    /// Runs a command to completion, outside any timing; its stdout on success.
    fn out(&self, c: &mut Command) -> Res<String> {
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

    /// Runs a command with stdout discarded and stderr to a file (so that nothing waits on a
    /// pipe a detached child might hold), and returns its wall-clock time.
    fn timed(&self, c: &mut Command) -> Res<Duration> {
        let log = self.root.join("timed-stderr.log");
        let f = fs::File::create(&log).map_err(|e| e.to_string())?;
        c.stdout(Stdio::null()).stderr(f);
        let t = Instant::now();
        let status = c.status().map_err(|e| format!("{}: {e}", show(c)))?;
        let d = t.elapsed();
        if !status.success() {
            let err = fs::read_to_string(&log).unwrap_or_default();
            return Err(format!("{} failed ({status}): {}", show(c), err.trim()));
        }
        Ok(d)
    }

    /// `refs/heads/*` and `refs/tags/*` of a repository, as `<oid> <name>` lines.
    fn refs(&self, repo: &Path) -> Res<String> {
        self.out(self.git(repo).args([
            "for-each-ref",
            "--format=%(objectname) %(refname)",
            "refs/heads/",
            "refs/tags/",
        ]))
    }

    fn same_refs(&self, a: &Path, b: &Path) -> Res<()> {
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

    fn fresh_bare(&self, path: &Path) -> Res<()> {
        if path.exists() {
            fs::remove_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        self.out(self.cmd("git").args(["init", "-q", "--bare"]).arg(path))
            .map(drop)
    }
}

/// A command line without its environment, for error messages.
fn show(c: &Command) -> String {
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

impl Drop for Env {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("compare: kept {}", self.root.display());
        } else {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

fn machine(env: &Env) -> String {
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
    let git = env.out(env.cmd("git").arg("--version")).unwrap_or_else(|e| e);
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Machine: {cores} cores ({cpu}), {:.1} GiB RAM, Linux {}",
        mem_kb as f64 / 1048576.0,
        kernel.trim()
    );
    let _ = writeln!(s, "{}; load average at start {}", git.trim(), load.join(" "));
    let _ = write!(s, "Binary: {BIN}");
    s
}

// ---------------------------------------------------------------------------------------------
// Deterministic data: a seeded PRNG and a fast-import stream.

/// splitmix64: small, fast, deterministic on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

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
    let mut child = env
        .git(src)
        .args(["fast-import", "--quiet", "--done"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("git fast-import: {e}"))?;
    let stdin = child.stdin.take().ok_or("no stdin for fast-import")?;
    let written = write_history(BufWriter::with_capacity(1 << 20, stdin));
    let status = child.wait().map_err(|e| e.to_string())?;
    let (branches, tags) = written.map_err(|e| format!("writing the fast-import stream: {e}"))?;
    if !status.success() {
        return Err(format!("git fast-import failed: {status}"));
    }
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

    /// The source's config names one mirror, `m`, at `mirror-ours.git` (created by `mirror add`).
    fn ensure_configured(&self) -> Res<()> {
        let list = self
            .env
            .out(self.env.ours(self.src).args(["mirror", "list"]))
            .unwrap_or_default();
        if list.split_whitespace().any(|w| w == "m") {
            return Ok(());
        }
        let m = self.ours_mirror();
        if m.exists() {
            fs::remove_dir_all(&m).map_err(|e| e.to_string())?;
        }
        self.env
            .out(self.env.ours(self.src).args(["mirror", "add", "m"]).arg(&m))?;
        Ok(())
    }

    fn sync(&self) -> Command {
        let mut c = self.env.ours(self.src);
        c.args(["sync", "-q"]);
        c
    }

    fn push(&self, mirror: &Path) -> Command {
        let mut c = self.env.git(self.src);
        c.args(["push", "-q"]).arg(mirror).args(REFSPECS);
        c
    }

    /// Runs `a` and `b` in an order that alternates with the repetition.
    fn pair(
        &self,
        rep: usize,
        s: &mut Samples,
        mut ours: impl FnMut() -> Res<Duration>,
        mut anchor: impl FnMut() -> Res<Duration>,
    ) -> Res<()> {
        if rep.is_multiple_of(2) {
            s.ours.push(ms(ours()?));
            s.anchor.push(ms(anchor()?));
        } else {
            s.anchor.push(ms(anchor()?));
            s.ours.push(ms(ours()?));
        }
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

    /// One new commit on a topic branch, through a small fast-import stream (untimed).
    fn add_commit(&mut self) -> Res<()> {
        self.new_commits += 1;
        let n = self.new_commits;
        let branch = format!("feature/topic-{:03}", 4 * (1 + n % 40));
        let mut rng = Rng(0xC0FF_EE00 + n as u64);
        let mut body = Vec::new();
        for _ in 0..40 {
            line(&mut rng, &mut body);
        }
        let mut stream = Vec::new();
        let _ = writeln!(stream, "commit refs/heads/{branch}");
        let _ = writeln!(
            stream,
            "committer Bench <bench@example.com> {} +0000",
            1_700_000_000 + n
        );
        let msg = format!("New commit {n}");
        let _ = write!(stream, "data {}\n{msg}\n", msg.len());
        let _ = writeln!(stream, "from refs/heads/{branch}^0");
        let _ = writeln!(stream, "M 100644 inline src/new/n{n:03}.rs");
        let _ = writeln!(stream, "data {}", body.len());
        stream.extend_from_slice(&body);
        stream.extend_from_slice(b"\ndone\n");
        let mut child = self
            .env
            .git(self.src)
            .args(["fast-import", "--quiet", "--done"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        child
            .stdin
            .take()
            .ok_or("no stdin")?
            .write_all(&stream)
            .map_err(|e| e.to_string())?;
        let st = child.wait().map_err(|e| e.to_string())?;
        if !st.success() {
            return Err(format!("fast-import of a new commit failed: {st}"));
        }
        Ok(())
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
}

fn chmod_x(path: &Path) -> Res<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())
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

/// Whether a `git-repo-sync worker` process for this repository is alive (read from /proc).
fn worker_running(git_dir: &Path) -> bool {
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
