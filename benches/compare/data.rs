//! Deterministic data: a fast-import stream from a seeded PRNG (common::Rng), the source
//! repository P1 to P7 work on, and single commits added to it.

use std::io::Write;
use std::path::Path;

use crate::Res;
use crate::common::Rng;
use crate::env::Env;

/// Shape of the generated repository.
const FILES: usize = 1200;
const DIRS: usize = 40;
const MAIN_COMMITS: usize = 3000;
const BRANCHES: usize = 200;
const BRANCH_COMMITS: usize = 5;
const LIGHT_TAGS: usize = 30;
const ANNOTATED_TAGS: usize = 30;
const FILES_PER_COMMIT: usize = 3;

/// A source-code-like line: indentation and words from a fixed vocabulary, so blobs compress
/// and delta like text while every line is effectively unique.
pub(crate) fn line(rng: &mut Rng, out: &mut Vec<u8>) {
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

pub(crate) fn new_file(rng: &mut Rng) -> Vec<Vec<u8>> {
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

pub(crate) fn path_of(i: usize) -> String {
    format!("src/m{:02}/f{:04}.rs", i % DIRS, i)
}

pub(crate) struct Shape {
    pub(crate) objects: u64,
    pub(crate) pack_bytes: u64,
    pub(crate) branches: usize,
    pub(crate) tags: usize,
}

pub(crate) struct Stream<W: Write> {
    pub(crate) w: W,
    pub(crate) mark: usize,
    pub(crate) time: u64,
}

impl<W: Write> Stream<W> {
    pub(crate) fn data(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        writeln!(self.w, "data {}", bytes.len())?;
        self.w.write_all(bytes)?;
        self.w.write_all(b"\n")
    }

    /// One commit on `branch` (continuing it, or starting at `from`) that writes `files`.
    pub(crate) fn commit(
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

pub(crate) fn generate(env: &Env, src: &Path) -> Res<Shape> {
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

/// A new commit on `branch` of `repo` that adds one small file; `n` makes it unique.
pub(crate) fn commit_on(env: &Env, repo: &Path, branch: &str, n: usize) -> Res<()> {
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
