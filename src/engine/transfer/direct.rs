//! The transfer into a plain bare mirror on this machine, without `git push`.
//!
//! `git push` to a local path starts a shell, `receive-pack`, `pack-objects`, then `index-pack`
//! or `unpack-objects`, a connectivity check and automatic maintenance, and reads the mirror's
//! refs once more although we just read them. For a bare mirror that runs no hooks and has no
//! `receive.*` policy, the same result is had directly, the way `git clone --local` fills a
//! repository: the objects the mirror lacks go in as one pack (written under a temporary name
//! and renamed by git), then every ref moves in one `git update-ref --stdin` transaction that
//! checks each ref's old value, so the mirror takes all updates or none and a concurrent change
//! to it is refused, never overwritten. Any other mirror goes through `git push`.
//!
//! Mirrors of one pass that need the same objects share the work: the pack is built once, and a
//! large one is indexed once and then linked (or copied) into each mirror, where `git push` would
//! build and index it again for every mirror.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context as _, Result, bail};

use crate::config::Mirror;
use crate::engine::leftovers::TEMP_PACK_PREFIX;
use crate::engine::plan::{Change, RefResult, Refs};
use crate::git;

/// Hooks `receive-pack` would run in the mirror; a mirror with any of them goes through it.
const RECEIVE_HOOKS: &[&str] = &[
    "pre-receive",
    "update",
    "proc-receive",
    "post-receive",
    "post-update",
    "reference-transaction",
    "push-to-checkout",
];

/// Below this many objects `receive-pack` unpacks a push into loose objects (git's
/// `transfer.unpackLimit` default); above it keeps the pack. Done alike here.
const UNPACK_LIMIT: u32 = 100;

/// The git dir of `mirror` when it can take a direct transfer: on this machine, bare, forcing
/// (so no per-ref fast-forward policy to apply), not shallow, no hooks and no `receive.*`,
/// `transfer.*` or `core.hooksPath` settings of its own. Read from its files, not by opening it,
/// so that reftable and SHA-256 mirrors qualify as well.
pub(crate) fn eligible(mirror: &Mirror) -> Option<PathBuf> {
    if !mirror.force {
        return None;
    }
    let path = mirror.url.local_path()?;
    if !path.join("HEAD").is_file() || !path.join("objects").is_dir() || path.join("shallow").exists() {
        return None;
    }
    let config = crate::repo::config_of(path).ok()?;
    if !config.get_bool("core.bare").ok()? {
        return None;
    }
    let mut entries = config.entries(None).ok()?;
    while let Some(entry) = entries.next() {
        let name = entry.ok()?.name().ok()?.to_ascii_lowercase();
        if name.starts_with("receive.") || name.starts_with("transfer.") || name == "core.hookspath" {
            return None;
        }
    }
    let hooks = path.join("hooks");
    if RECEIVE_HOOKS.iter().any(|hook| hooks.join(hook).exists()) {
        return None;
    }
    Some(path.components().collect())
}

/// One pack's place among the [`SharedPacks`]: empty until its first mirror has built it.
type Slot = Arc<OnceLock<Result<Staged, String>>>;

/// Packs built during one pass, by the objects they carry, for the mirrors that need them.
#[derive(Debug, Default)]
pub(crate) struct SharedPacks {
    built: Mutex<HashMap<String, Slot>>,
}

/// A pack built once: the file, and for a large one its index, in a temporary directory.
#[derive(Debug)]
struct Staged {
    dir: tempfile::TempDir,
    objects: u32,
    /// `pack-<hash>`, the name git gave the indexed pack (large packs only).
    indexed: Option<String>,
}

impl SharedPacks {
    /// The pack of `wants` without `haves` (and, with `unpacked`, without what the source's
    /// packs hold), built (and indexed if large) by the first mirror that asks; the others wait
    /// for it.
    fn get(&self, source: Source<'_>, mirror_dir: &Path, wants: &[&str], haves: &[&str]) -> Result<Slot> {
        let mut key: Vec<String> = wants.iter().map(|w| format!("+{w}")).collect();
        if source.unpacked {
            key.push("unpacked".to_owned());
        }
        key.extend(haves.iter().map(|h| format!("-{h}")));
        key.sort_unstable();
        let slot = {
            let mut built = self
                .built
                .lock()
                .map_err(|_| anyhow::anyhow!("another mirror's pack build panicked"))?;
            Arc::clone(built.entry(key.join(" ")).or_default())
        };
        slot.get_or_init(|| stage(source, mirror_dir, wants, haves).map_err(|err| format!("{err:#}")));
        Ok(slot)
    }
}

/// Moves `changes` into the mirror at `mirror_dir`, whose refs were `remote`.
pub(crate) fn push(
    common_dir: &Path,
    mirror_dir: &Path,
    changes: &[Change],
    remote: &Refs,
    packs: &SharedPacks,
) -> Result<BTreeMap<String, RefResult>> {
    let source = super::SourceObjects::open(common_dir);
    let mut wants: Vec<&str> = changes
        .iter()
        .filter_map(|change| match change {
            Change::Create { new, .. } | Change::Update { new, .. } => Some(new.as_str()),
            Change::Delete { .. } => None,
        })
        .collect();
    wants.sort_unstable();
    wants.dedup();
    if !wants.is_empty() {
        // What the mirror has and we have too is left out of the pack.
        let theirs: Vec<&str> = remote.values().map(String::as_str).collect();
        let mut haves = source.present(&theirs)?;
        haves.sort_unstable();
        haves.dedup();
        // Into an empty mirror, the source's packs go over as they are, as `git clone --local`
        // copies them, and only what no pack holds is packed anew.
        let unpacked = remote.is_empty()
            && packs_carry_over(common_dir)
            && match carry_packs(common_dir, mirror_dir) {
                Ok(()) => true,
                Err(err) => {
                    // A pack the source's gc removed meanwhile, a full disk: the usual way then.
                    crate::ui::progress_note(&format!("carrying the packs over failed ({err:#})"));
                    false
                }
            };
        let copied = !remote.is_empty() && copy_loose(&source, mirror_dir, &wants, &haves).is_some();
        if !copied {
            let slot = packs.get(Source { common_dir, unpacked }, mirror_dir, &wants, &haves)?;
            match slot.get() {
                Some(Ok(staged)) => receive(mirror_dir, staged)?,
                Some(Err(err)) => bail!("{err}"),
                None => bail!("the pack for this mirror was not built"),
            }
        }
    }
    crate::ui::progress_note(&format!("moving {} ref(s)", changes.len()));
    if !(remote.is_empty() && create_packed_refs(mirror_dir, changes)?) {
        update_refs(mirror_dir, changes)?;
    }
    // What receive-pack does after a push, so that a mirror's loose objects and packs are
    // consolidated in time (git detaches the work when there is any). Its failure is not ours.
    if gc_would_run(mirror_dir) {
        let _ = git::in_git_dir(mirror_dir)
            .args(["gc", "--auto", "--quiet"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    Ok(changes
        .iter()
        .map(|change| {
            let result = match change {
                Change::Update { old, new, .. } if !source.descends(new, old) => RefResult::Forced {
                    old: Some(old.clone()),
                },
                _ => RefResult::Done,
            };
            (change.refname().to_owned(), result)
        })
        .collect())
}

/// A push copies object by object below this many objects (and bytes): what `receive-pack` unpacks
/// into loose objects too (git's `transfer.unpackLimit`), and small enough to hold in memory.
const LOOSE_OBJECTS: usize = UNPACK_LIMIT as usize;
const LOOSE_BYTES: usize = 1 << 20;

/// Copies what `wants` reach beyond `haves` (the mirror's refs) into the mirror at
/// `mirror_dir` as loose objects, in process, as `receive-pack` would unpack them: the push of a
/// commit or a few starts no `pack-objects` and no `unpack-objects`. What is new is decided from
/// the refs, as `pack-objects --revs` decides it, and not from which objects the mirror holds (a
/// killed copy may have left some without what they point to): the commits down to the mirror's
/// ref tips, and of their trees what differs from their parents'. A walk that passes by the
/// tips (a branch started from an older commit) soon reaches the limit, and is packed. Each
/// object is written after everything it points to. `None`, having written nothing a ref points
/// to, where libgit2 opens either repository not (reftable refs, SHA-256 objects), an object is
/// missing here (a shallow or partial clone), the mirror's files are shared by a group, or the
/// push is larger: the caller then packs it.
fn copy_loose(
    source: &super::SourceObjects<'_>,
    mirror_dir: &Path,
    wants: &[&str],
    haves: &[&str],
) -> Option<usize> {
    let from = source.in_process.as_ref()?;
    let mirror = git2::Repository::open_bare(mirror_dir).ok()?;
    if mirror.config().ok()?.get_entry("core.sharedRepository").is_ok() {
        return None;
    }
    let oid = |hex: &&str| git2::Oid::from_str(hex).ok();
    let mut copy = LooseCopy {
        from,
        odb: from.odb().ok()?,
        tips: haves.iter().map(oid).collect::<Option<_>>()?,
        objects: Vec::new(),
        listed: std::collections::HashSet::new(),
        reached: 0,
        bytes: 0,
    };
    for want in wants {
        copy.reach(oid(want)?)?;
    }
    let to = mirror.odb().ok()?;
    for (oid, kind, data) in &copy.objects {
        if to.write(*kind, data).ok()? != *oid {
            return None;
        }
    }
    crate::ui::progress_note(&format!("copied {} object(s)", copy.objects.len()));
    Some(copy.objects.len())
}

/// The objects of a [`copy_loose`], listed in the order they are written.
struct LooseCopy<'r> {
    from: &'r git2::Repository,
    odb: git2::Odb<'r>,
    /// The mirror's ref tips: what they reach is there.
    tips: std::collections::HashSet<git2::Oid>,
    objects: Vec<(git2::Oid, git2::ObjectType, Vec<u8>)>,
    listed: std::collections::HashSet<git2::Oid>,
    reached: usize,
    bytes: usize,
}

impl LooseCopy<'_> {
    /// Lists what `oid` reaches beyond the mirror's tips, then `oid`; `None` past the limits
    /// (checked on the way down, so that a long history is not walked) or where an object
    /// cannot be read.
    fn reach(&mut self, oid: git2::Oid) -> Option<()> {
        if self.tips.contains(&oid) || self.listed.contains(&oid) {
            return Some(());
        }
        // Every object reached is listed once its own are: counting them bounds the walk (and
        // its depth) before anything is listed.
        self.reached += 1;
        if self.reached >= LOOSE_OBJECTS {
            return None;
        }
        let object = self.from.find_object(oid, None).ok()?;
        match object.kind()? {
            git2::ObjectType::Commit => {
                let commit = object.into_commit().ok()?;
                for parent in commit.parent_ids() {
                    self.reach(parent)?;
                }
                let parents: Vec<git2::Tree<'_>> = commit
                    .parents()
                    .map(|parent| parent.tree())
                    .collect::<Result<_, _>>()
                    .ok()?;
                self.tree(&commit.tree().ok()?, &parents)?;
            }
            git2::ObjectType::Tag => self.reach(object.as_tag()?.target_id())?,
            git2::ObjectType::Tree => self.tree(&object.into_tree().ok()?, &[])?,
            _ => {}
        }
        self.add(oid)
    }

    /// Lists `oid` once; `None` past the limits or where it cannot be read.
    fn add(&mut self, oid: git2::Oid) -> Option<()> {
        if !self.listed.insert(oid) {
            return Some(());
        }
        let object = self.odb.read(oid).ok()?;
        self.bytes += object.len();
        if self.listed.len() >= LOOSE_OBJECTS || self.bytes > LOOSE_BYTES {
            return None;
        }
        self.objects.push((oid, object.kind(), object.data().to_vec()));
        Some(())
    }

    /// `tree` and what in it differs from the same place in each of `bases` (the parents'
    /// trees, which the mirror has or which are listed before), its contents first.
    fn tree(&mut self, tree: &git2::Tree<'_>, bases: &[git2::Tree<'_>]) -> Option<()> {
        if self.listed.contains(&tree.id()) || bases.iter().any(|base| base.id() == tree.id()) {
            return Some(());
        }
        for entry in tree {
            let same = |base: &git2::Tree<'_>| {
                base.get_name_bytes(entry.name_bytes())
                    .is_some_and(|at| at.id() == entry.id())
            };
            if bases.iter().any(same) {
                continue;
            }
            match entry.kind() {
                Some(git2::ObjectType::Blob) => self.add(entry.id())?,
                Some(git2::ObjectType::Tree) => {
                    let subtree = self.from.find_tree(entry.id()).ok()?;
                    let under: Vec<git2::Tree<'_>> = bases
                        .iter()
                        .filter_map(|base| base.get_name_bytes(entry.name_bytes()))
                        .filter_map(|at| at.to_object(self.from).ok()?.into_tree().ok())
                        .collect();
                    self.tree(&subtree, &under)?;
                }
                // A submodule's commit (a gitlink) is not in this repository.
                _ => {}
            }
        }
        self.add(tree.id())
    }
}

/// Whether `git gc --auto` may find work in the mirror at `mirror_dir`. A burst of commits
/// makes a pass each few milliseconds, and a git started after each only to find nothing to do
/// would cost more than the pass: so git's own test is made here where the settings it reads
/// are all in the mirror's config file, and git decides where they may come from elsewhere.
fn gc_would_run(mirror_dir: &Path) -> bool {
    git::outer_config_may_set(|key| key.starts_with("gc.")) || gc_due(mirror_dir).unwrap_or(true)
}

/// git's `gc --auto` test on the mirror's own files (`builtin/gc.c`, `need_to_gc`): more packs
/// (without a `.keep`) than `gc.autoPackLimit` (50), or more loose objects in `objects/17` than
/// `gc.auto` (6,700) spread over 256 directories; neither when `gc.auto` is 0 or less. `None`
/// when the config file includes another or holds a value git would read otherwise.
fn gc_due(mirror_dir: &Path) -> Option<bool> {
    let config = git2::Config::open(&mirror_dir.join("config")).ok()?;
    let mut entries = config.entries(None).ok()?;
    while let Some(entry) = entries.next() {
        if entry
            .ok()?
            .name()
            .ok()?
            .to_ascii_lowercase()
            .starts_with("include")
        {
            return None;
        }
    }
    let int = |key: &str, default: i64| match config.get_entry(key) {
        Ok(_) => config.get_i64(key).ok(),
        Err(err) if err.code() == git2::ErrorCode::NotFound => Some(default),
        Err(_) => None,
    };
    let (auto, pack_limit) = (int("gc.auto", 6700)?, int("gc.autoPackLimit", 50)?);
    if auto <= 0 {
        return Some(false);
    }
    let objects = mirror_dir.join("objects");
    if pack_limit > 0 {
        let packs = std::fs::read_dir(objects.join("pack"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".idx").map(str::to_owned)
            })
            .filter(|stem| !objects.join("pack").join(format!("{stem}.keep")).exists())
            .count();
        if packs as i64 > pack_limit {
            return Some(true);
        }
    }
    let threshold = (auto + 255) / 256;
    let loose = std::fs::read_dir(objects.join("17"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            matches!(name.len(), 38 | 62)
                && name
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
        .count();
    Some(loose as i64 > threshold)
}

/// The source of a staged pack: the repository, and whether only what none of its packs holds
/// is wanted (its packs were carried over whole).
#[derive(Debug, Clone, Copy)]
struct Source<'a> {
    common_dir: &'a Path,
    unpacked: bool,
}

/// Whether the source's packs hold, with its loose objects, everything its refs reach: not
/// where objects are borrowed (alternates), missing on purpose (a partial clone's promisor
/// packs) or cut off (a shallow clone).
fn packs_carry_over(common_dir: &Path) -> bool {
    let pack_dir = common_dir.join("objects/pack");
    !common_dir.join("objects/info/alternates").exists()
        && !common_dir.join("shallow").exists()
        && std::fs::read_dir(&pack_dir).is_ok_and(|entries| {
            let names: Vec<std::ffi::OsString> = entries.flatten().map(|entry| entry.file_name()).collect();
            names.iter().any(|name| name.to_string_lossy().ends_with(".pack"))
                && !names
                    .iter()
                    .any(|name| name.to_string_lossy().ends_with(".promisor"))
        })
}

/// Copies every pack of the source into the mirror, each file under a temporary name renamed
/// into place, the index last (git takes a pack as present once its index is there). Copies,
/// never links: a backup must not share its blocks with the source (`std::fs::copy` clones
/// them where the file system can, and the clone is a copy on write).
fn carry_packs(common_dir: &Path, mirror_dir: &Path) -> Result<()> {
    let from_dir = common_dir.join("objects/pack");
    let to_dir = mirror_dir.join("objects/pack");
    std::fs::create_dir_all(&to_dir).with_context(|| format!("creating {}", crate::repo::quoted(&to_dir)))?;
    let mut packs: Vec<String> = std::fs::read_dir(&from_dir)
        .with_context(|| format!("reading {}", crate::repo::quoted(&from_dir)))?
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            Some(name.strip_prefix("pack-")?.strip_suffix(".pack")?.to_owned())
        })
        .collect();
    packs.sort_unstable();
    let mut copied: u64 = 0;
    for hash in packs {
        for ext in ["pack", "rev", "bitmap", "mtimes", "idx"] {
            let name = format!("pack-{hash}.{ext}");
            let (from, to) = (from_dir.join(&name), to_dir.join(&name));
            if to.exists() || (ext != "pack" && ext != "idx" && !from.exists()) {
                continue;
            }
            let temp = to_dir.join(format!("{TEMP_PACK_PREFIX}{name}"));
            let placed = std::fs::copy(&from, &temp)
                .with_context(|| format!("copying {}", crate::repo::quoted(&from)))
                .and_then(|bytes| {
                    copied += bytes;
                    std::fs::rename(&temp, &to)
                        .with_context(|| format!("moving {} into place", crate::repo::quoted(&to)))
                });
            if placed.is_err() {
                let _ = std::fs::remove_file(&temp);
            }
            placed?;
        }
        crate::ui::progress_note(&format!(
            "carrying the packs over: {:.1} MiB",
            copied as f64 / f64::from(1 << 20)
        ));
    }
    Ok(())
}

/// Where a pass stages its packs: `<git common dir>/repo-sync-pack*`.
const STAGING_PREFIX: &str = "repo-sync-pack";

/// Removes what a killed pass left staged. Called under the sync lock, so no pass is using any.
pub(crate) fn remove_stale_staging(common_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(common_dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(STAGING_PREFIX) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Builds the pack of the objects reachable from `wants` and not from `haves` (self-contained,
/// no deltas against objects outside it) into a temporary directory, and indexes it there when
/// it is large enough to be kept as a pack. It is indexed in the context of the first mirror that
/// needs it: git checks every object it indexes against the repository's own copy, which in the
/// source would mean reading every object twice, and in a mirror touches only what it has.
fn stage(source: Source<'_>, mirror_dir: &Path, wants: &[&str], haves: &[&str]) -> Result<Staged> {
    let common_dir = source.common_dir;
    // Beside the repository, so that linking it into a mirror on the same file system works.
    let dir = tempfile::Builder::new()
        .prefix(STAGING_PREFIX)
        .tempdir_in(common_dir)
        .or_else(|_| tempfile::tempdir())
        .context("creating a temporary directory for the pack")?;
    let pack_path = dir.path().join("tmp.pack");
    let mut revs = String::new();
    for want in wants {
        revs.push_str(want);
        revs.push('\n');
    }
    for have in haves {
        revs.push('^');
        revs.push_str(have);
        revs.push('\n');
    }
    // Where someone watches, git's own progress (objects counted, compressed, written) is shown
    // on the mirror's line.
    let progress = crate::ui::current_progress();
    let mut packer = git::in_git_dir(common_dir)
        .args(["pack-objects", "--revs", "--stdout", "--delta-base-offset"])
        .args(source.unpacked.then_some("--unpacked"))
        .arg(if progress.is_some() { "--progress" } else { "-q" })
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting git pack-objects")?;
    let mut packer_in = packer.stdin.take().context("pack-objects without stdin")?;
    let feeder = std::thread::spawn(move || packer_in.write_all(revs.as_bytes()));
    let mut packer_err = packer.stderr.take().context("pack-objects without stderr")?;
    let said = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut chunk = [0_u8; 4096];
        while let Ok(n @ 1..) = packer_err.read(&mut chunk) {
            all.extend_from_slice(&chunk[..n]);
            if let Some(line) = progress.as_ref().zip(crate::ui::git_progress(&chunk[..n])) {
                line.0.set_message(line.1);
            }
        }
        all
    });
    let mut pack = Counted {
        inner: packer.stdout.take().context("pack-objects without stdout")?,
        bytes: 0,
        shown: 0,
    };
    // The header says how many objects follow, which decides how the mirrors store them; the
    // rest streams on, so that indexing runs beside packing as it does under `git push`.
    // Beside packs carried over whole, what is left goes in as one more pack, indexed once and
    // linked into every mirror, however small: unpacking it in each would cost every mirror.
    let unpack_limit = if source.unpacked { 1 } else { UNPACK_LIMIT };
    let stored = store_staged(mirror_dir, &pack_path, &mut pack, unpack_limit);
    drop(pack);
    let status = packer.wait().context("running git pack-objects")?;
    let stderr = said
        .join()
        .map_err(|_| anyhow::anyhow!("reading pack-objects' messages panicked"))?;
    let fed = feeder
        .join()
        .map_err(|_| anyhow::anyhow!("feeding pack-objects panicked"))?;
    if !status.success() {
        bail!(
            "git pack-objects failed: {}",
            String::from_utf8_lossy(&stderr).trim()
        );
    }
    fed.context("feeding git pack-objects")?;
    let (objects, indexed) = stored?;
    Ok(Staged {
        dir,
        objects,
        indexed,
    })
}

/// The pack as it streams from `pack-objects`, its size shown on the mirror's progress line.
struct Counted<R> {
    inner: R,
    bytes: u64,
    shown: u64,
}

impl<R: std::io::Read> std::io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        const STEP: u64 = 1 << 20;
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        if self.bytes - self.shown >= STEP {
            self.shown = self.bytes;
            crate::ui::progress_note(&format!(
                "storing the pack: {:.1} MiB",
                self.bytes as f64 / f64::from(1 << 20)
            ));
        }
        Ok(n)
    }
}

/// Reads a pack from `pack` into `pack_path`: one of fewer than `unpack_limit` objects as it is,
/// a larger one through `git index-pack --stdin`, which indexes it beside. Returns its object count and, when indexed,
/// `pack-<hash>`, git's name for it.
fn store_staged(
    mirror_dir: &Path,
    pack_path: &Path,
    pack: &mut impl std::io::Read,
    unpack_limit: u32,
) -> Result<(u32, Option<String>)> {
    let mut header = [0_u8; 12];
    pack.read_exact(&mut header).context("reading the pack header")?;
    if &header[..4] != b"PACK" {
        bail!("git pack-objects wrote no pack");
    }
    let objects = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);
    if objects < unpack_limit {
        let mut file = std::fs::File::create(pack_path)
            .with_context(|| format!("creating {}", crate::repo::quoted(pack_path)))?;
        file.write_all(&header).context("writing the pack")?;
        std::io::copy(pack, &mut file).context("writing the pack")?;
        return Ok((objects, None));
    }
    let mut indexer = git::in_git_dir(mirror_dir)
        .args(["index-pack", "--stdin"])
        .arg(pack_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting git index-pack")?;
    let mut input = indexer.stdin.take().context("index-pack without stdin")?;
    let copied = input
        .write_all(&header)
        .and_then(|()| std::io::copy(pack, &mut input).map(drop));
    drop(input);
    let output = indexer.wait_with_output().context("running git index-pack")?;
    if !output.status.success() {
        bail!(
            "git index-pack failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    copied.context("passing the pack to git index-pack")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let hash = stdout.trim().rsplit('\t').next().unwrap_or_default();
    if hash.is_empty() || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("git index-pack named no pack ({stdout:?})");
    }
    Ok((objects, Some(format!("pack-{hash}"))))
}

/// Stores a staged pack in the mirror as `receive-pack` would: a small one unpacked into loose
/// objects, a large one kept (its files linked or copied in, the index last, since git takes a
/// pack as present once its index is there).
fn receive(mirror_dir: &Path, staged: &Staged) -> Result<()> {
    let pack_path = staged.dir.path().join("tmp.pack");
    let Some(name) = &staged.indexed else {
        let input = std::fs::File::open(&pack_path).context("opening the pack")?;
        let output = git::in_git_dir(mirror_dir)
            .args(["unpack-objects", "-q"])
            .stdin(input)
            .output()
            .context("running git unpack-objects in the mirror")?;
        if !output.status.success() {
            bail!(
                "storing {} objects in the mirror failed: {}",
                staged.objects,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        return Ok(());
    };
    let pack_dir = mirror_dir.join("objects").join("pack");
    std::fs::create_dir_all(&pack_dir)
        .with_context(|| format!("creating {}", crate::repo::quoted(&pack_dir)))?;
    for ext in ["pack", "rev", "idx"] {
        let from = staged.dir.path().join(format!("tmp.{ext}"));
        if ext == "rev" && !from.exists() {
            continue;
        }
        let to = pack_dir.join(format!("{name}.{ext}"));
        if to.exists() {
            continue;
        }
        let temp = pack_dir.join(format!("{TEMP_PACK_PREFIX}{name}.{ext}"));
        let _ = std::fs::remove_file(&temp);
        let placed = (|| {
            if std::fs::hard_link(&from, &temp).is_err() {
                std::fs::copy(&from, &temp)
                    .with_context(|| format!("copying the pack into {}", crate::repo::quoted(&pack_dir)))?;
            }
            std::fs::rename(&temp, &to)
                .with_context(|| format!("moving {} into place", crate::repo::quoted(&to)))
        })();
        if placed.is_err() {
            // A partial copy would keep a full disk full, under a name no later pass reuses.
            let _ = std::fs::remove_file(&temp);
        }
        placed?;
    }
    Ok(())
}

/// Gives a mirror that has no ref at all its refs as one `packed-refs` file, the way `git clone`
/// does, instead of one loose file per ref: a first sync of hundreds of refs into several new
/// mirrors spent most of its time there. Done under git's own `packed-refs.lock`, and only while
/// the mirror still has no ref; `false` (nothing written) when that does not hold or `changes`
/// are not all creations, and the caller takes the transaction instead.
fn create_packed_refs(mirror_dir: &Path, changes: &[Change]) -> Result<bool> {
    let mut refs: Vec<(&str, &str)> = Vec::with_capacity(changes.len());
    for change in changes {
        let Change::Create { refname, new } = change else {
            return Ok(false);
        };
        refs.push((refname, new));
    }
    if mirror_dir.join("reftable").is_dir() {
        // Refs in a reftable, which only git writes.
        return Ok(false);
    }
    let lock_path = mirror_dir.join("packed-refs.lock");
    let Ok(mut lock) = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&lock_path)
    else {
        // Someone else is packing or writing refs there now.
        return Ok(false);
    };
    let written = (|| -> std::io::Result<bool> {
        if mirror_dir.join("packed-refs").exists() || has_loose_refs(&mirror_dir.join("refs")) {
            return Ok(false);
        }
        refs.sort_unstable();
        let mut text = String::from("# pack-refs with: sorted \n");
        for (refname, oid) in &refs {
            text.push_str(&format!("{oid} {refname}\n"));
        }
        lock.write_all(text.as_bytes())?;
        lock.sync_all()?;
        std::fs::rename(&lock_path, mirror_dir.join("packed-refs"))?;
        Ok(true)
    })();
    if !matches!(written, Ok(true)) {
        let _ = std::fs::remove_file(&lock_path);
    }
    written.with_context(|| format!("writing the refs of {}", crate::repo::quoted(mirror_dir)))
}

/// Whether there is any file (a loose ref) below `dir`.
fn has_loose_refs(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|entry| {
            let path = entry.path();
            if path.is_dir() {
                has_loose_refs(&path)
            } else {
                true
            }
        })
    })
}

/// Moves every ref of `changes` in one transaction that checks each old value.
fn update_refs(mirror_dir: &Path, changes: &[Change]) -> Result<()> {
    let mut commands = String::from("start\n");
    for change in changes {
        match change {
            Change::Create { refname, new } => {
                commands.push_str(&format!("create {refname} {new}\n"));
            }
            Change::Update { refname, old, new } => {
                commands.push_str(&format!("update {refname} {new} {old}\n"));
            }
            Change::Delete { refname, old } => {
                commands.push_str(&format!("delete {refname} {old}\n"));
            }
        }
    }
    commands.push_str("prepare\ncommit\n");
    let mut cmd = git::in_git_dir(mirror_dir);
    cmd.args(["update-ref", "--stdin"]);
    super::run_fed(cmd, commands.into_bytes(), "git update-ref").map(drop).context(
        "moving the mirror's refs; nothing was changed (did the mirror change while it was being updated?)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bare() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a temp dir");
        let status = std::process::Command::new("git")
            .args(["init", "-q", "--bare"])
            .arg(dir.path())
            .status()
            .expect("git init");
        assert!(status.success());
        dir
    }

    fn set(dir: &Path, key: &str, value: &str) {
        let mut config = git2::Config::open(&dir.join("config")).expect("the config");
        config.set_str(key, value).expect("setting it");
    }

    #[test]
    fn gc_is_due_past_gits_own_limits_on_loose_objects_and_packs_and_never_with_gc_auto_0() {
        let mirror = bare();
        let dir = mirror.path();
        assert_eq!(gc_due(dir), Some(false), "a tidy mirror");

        // 6,700 / 256 rounds up to 27: the 28th loose object in objects/17 makes it due.
        let bucket = dir.join("objects/17");
        std::fs::create_dir_all(&bucket).expect("objects/17");
        for i in 0..27 {
            std::fs::write(bucket.join(format!("{i:038x}")), "").expect("a loose object");
        }
        std::fs::write(bucket.join("tmp_obj_x"), "").expect("not an object");
        assert_eq!(gc_due(dir), Some(false), "27 loose objects");
        std::fs::write(bucket.join(format!("{:038x}", 99)), "").expect("a loose object");
        assert_eq!(gc_due(dir), Some(true), "28 loose objects");
        set(dir, "gc.auto", "0");
        assert_eq!(gc_due(dir), Some(false), "gc.auto = 0 turns it off");
        set(dir, "gc.auto", "1k");
        assert_eq!(gc_due(dir), Some(true), "4 allowed");

        let other = bare();
        let packs = other.path().join("objects/pack");
        set(other.path(), "gc.autoPackLimit", "1");
        for name in ["pack-a", "pack-b"] {
            std::fs::write(packs.join(format!("{name}.idx")), "").expect("an index");
        }
        assert_eq!(gc_due(other.path()), Some(true), "two packs, one allowed");
        std::fs::write(packs.join("pack-b.keep"), "").expect("a keep file");
        assert_eq!(gc_due(other.path()), Some(false), "a kept pack does not count");

        set(other.path(), "include.path", "elsewhere");
        assert_eq!(gc_due(other.path()), None, "an include: git decides");
        set(dir, "gc.auto", "many");
        assert_eq!(gc_due(dir), None, "a value git would refuse: git decides");
    }
}
