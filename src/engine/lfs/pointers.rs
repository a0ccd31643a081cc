//! The LFS pointers a range of history reaches, found with git alone (no git-lfs needed): a
//! pointer is a small blob in git-lfs's format (its `docs/spec.md`).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, Result, anyhow, bail};

use crate::git;

/// The first line of every pointer.
const SPEC_LINE: &[u8] = b"version https://git-lfs.github.com/spec/v1\n";
/// Pointers are smaller than this (the spec's limit): larger blobs are not read.
const MAX_POINTER: u64 = 1024;
/// A version line and a sha256 oid line alone take more: smaller blobs are not read either.
const MIN_POINTER: u64 = 120;

/// An LFS object a pointer names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pointer {
    /// sha256, lowercase hex.
    pub(crate) oid: String,
    pub(crate) size: u64,
}

/// The LFS pointers reachable from `tips` in the repository at `git_dir`, each object once.
/// A tip may be `^OID`, as for `git rev-list --stdin`: what it reaches is left out.
pub(crate) fn pointers(git_dir: &Path, tips: &[&str]) -> Result<Vec<Pointer>> {
    let candidates = small_blobs(git_dir, tips).context("listing the LFS pointers our refs reach")?;
    let mut pointers = Vec::new();
    if candidates.is_empty() {
        return Ok(pointers);
    }
    let mut cmd = git::in_git_dir(git_dir);
    cmd.args(["cat-file", "--batch"]);
    let mut child = spawn_piped(cmd, "git cat-file")?;
    let (stdin, stdout, stderr) = pipes(&mut child)?;
    let read = std::thread::scope(|scope| {
        let feeding = scope.spawn(move || feed(stdin, candidates.iter().map(String::as_str)));
        let said = scope.spawn(move || read_all(stderr));
        let mut out = BufReader::new(stdout);
        let mut header = String::new();
        loop {
            header.clear();
            if out.read_line(&mut header)? == 0 {
                break;
            }
            // `<oid> <type> <size>`, or `<oid> missing` for an object fsck reports.
            let Some(size) = header.split_whitespace().nth(2) else {
                continue;
            };
            let size: usize = size
                .parse()
                .map_err(|_| anyhow!("git cat-file printed {header:?}"))?;
            let mut content = vec![0; size + 1];
            out.read_exact(&mut content)?;
            if let Some(pointer) = parse_pointer(&content[..size]) {
                pointers.push(pointer);
            }
        }
        let _ = feeding.join();
        Ok::<_, anyhow::Error>(said.join().unwrap_or_default())
    });
    let status = child.wait().context("waiting for git cat-file")?;
    let said = read?;
    if !status.success() {
        bail!("git cat-file --batch failed: {}", said.trim());
    }
    pointers.sort();
    pointers.dedup();
    Ok(pointers)
}

/// The blobs reachable from `tips` of a pointer's size: `git rev-list --objects` piped into
/// `git cat-file --batch-check`, so that no list of every object is held here.
fn small_blobs(git_dir: &Path, tips: &[&str]) -> Result<Vec<String>> {
    let mut cmd = git::in_git_dir(git_dir);
    // Objects missing from a broken mirror are fsck's to report; a tip to leave out that is gone
    // here (an old commit of a rewritten branch, collected) leaves out nothing.
    cmd.args([
        "rev-list",
        "--objects",
        "--no-object-names",
        "--missing=allow-any",
        "--ignore-missing",
        "--stdin",
    ]);
    let mut walk = spawn_piped(cmd, "git rev-list")?;
    let (walk_in, walk_out, walk_err) = pipes(&mut walk)?;
    let mut cmd = git::in_git_dir(git_dir);
    cmd.args([
        "cat-file",
        "--batch-check=%(objecttype) %(objectsize) %(objectname)",
    ])
    .stdin(Stdio::from(walk_out))
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut sizes = cmd.spawn().context("starting git cat-file (is git installed?)")?;
    let (Some(sizes_out), Some(sizes_err)) = (sizes.stdout.take(), sizes.stderr.take()) else {
        bail!("git cat-file started without its pipes");
    };
    let read = std::thread::scope(|scope| {
        let feeding = scope.spawn(move || feed(walk_in, tips.iter().copied()));
        let walk_said = scope.spawn(move || read_all(walk_err));
        let sizes_said = scope.spawn(move || read_all(sizes_err));
        let mut found = Vec::new();
        for line in BufReader::new(sizes_out).lines() {
            let line = line?;
            let mut fields = line.splitn(3, ' ');
            if let (Some("blob"), Some(size), Some(oid)) = (fields.next(), fields.next(), fields.next())
                && size
                    .parse::<u64>()
                    .is_ok_and(|size| (MIN_POINTER..MAX_POINTER).contains(&size))
            {
                found.push(oid.to_owned());
            }
        }
        let _ = feeding.join();
        let said = [walk_said, sizes_said].map(|said| said.join().unwrap_or_default());
        Ok::<_, anyhow::Error>((found, said))
    });
    let walked = walk.wait().context("waiting for git rev-list")?;
    let sized = sizes.wait().context("waiting for git cat-file")?;
    let (found, [walk_said, sizes_said]) = read?;
    if !walked.success() {
        bail!("git rev-list failed: {}", walk_said.trim());
    }
    if !sized.success() {
        bail!("git cat-file failed: {}", sizes_said.trim());
    }
    Ok(found)
}

fn spawn_piped(mut cmd: Command, what: &str) -> Result<Child> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {what} (is git installed?)"))
}

fn pipes(
    child: &mut Child,
) -> Result<(
    std::process::ChildStdin,
    std::process::ChildStdout,
    std::process::ChildStderr,
)> {
    match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
        (Some(stdin), Some(stdout), Some(stderr)) => Ok((stdin, stdout, stderr)),
        _ => bail!("git started without its pipes"),
    }
}

/// Writes one line per item, then closes the pipe; a git that stopped reading has said why.
fn feed<'a>(mut stdin: std::process::ChildStdin, lines: impl Iterator<Item = &'a str>) {
    let mut buffered = std::io::BufWriter::new(&mut stdin);
    for line in lines {
        if writeln!(buffered, "{line}").is_err() {
            return;
        }
    }
    let _ = buffered.flush();
}

fn read_all(mut pipe: impl std::io::Read) -> String {
    let mut text = String::new();
    let _ = pipe.read_to_string(&mut text);
    text
}

/// The object a pointer names, if `content` is one.
fn parse_pointer(content: &[u8]) -> Option<Pointer> {
    let rest = std::str::from_utf8(content.strip_prefix(SPEC_LINE)?).ok()?;
    let mut oid = None;
    let mut size = None;
    for line in rest.lines() {
        match line.split_once(' ') {
            Some(("oid", value)) => oid = value.strip_prefix("sha256:"),
            Some(("size", value)) => size = value.parse().ok(),
            _ => {}
        }
    }
    // Checked, as it becomes a path.
    let oid = oid.filter(|oid| {
        oid.len() == 64
            && oid
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })?;
    Some(Pointer {
        oid: oid.to_owned(),
        size: size?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OID: &str = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393";

    #[test]
    fn a_pointer_is_read_and_anything_else_is_not() {
        let pointer = format!("version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize 12345\n");
        assert_eq!(
            parse_pointer(pointer.as_bytes()),
            Some(Pointer {
                oid: OID.to_owned(),
                size: 12345
            })
        );
        assert_eq!(parse_pointer(b"hello\n"), None);
        let traversal =
            "version https://git-lfs.github.com/spec/v1\noid sha256:../../../etc/passwd\nsize 1\n";
        assert_eq!(parse_pointer(traversal.as_bytes()), None);
        let no_size = format!("version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\n");
        assert_eq!(parse_pointer(no_size.as_bytes()), None);
    }
}
