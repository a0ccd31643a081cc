//! Finding a repository and the places git-repo-sync keeps things in it.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::git;

mod files;
mod format;
mod tree;
pub(crate) use files::Kept;
pub(crate) use format::{ObjectFormat, mismatch as format_mismatch};
pub(crate) use tree::find_below;

/// A repository as git-repo-sync sees it.
#[derive(Debug, Clone)]
pub struct Repo {
    /// The common git directory: shared by all worktrees, the repository itself when bare.
    /// Config, state, log and lock live here.
    pub common_dir: PathBuf,
    /// The top of the work tree, for a repository that has one.
    pub work_tree: Option<PathBuf>,
}

impl Repo {
    /// The repository around the current directory, honouring `GIT_DIR` like git itself (hooks
    /// run with it set). Found in process where libgit2 opens it, else by git itself.
    pub fn discover() -> Result<Self> {
        match git2::Repository::open_from_env() {
            Ok(repo) => Self::from_git2(&repo),
            Err(err) if err.code() == git2::ErrorCode::Owner => Err(anyhow::anyhow!(
                "{}; run git-repo-sync as the repository's owner (sudo -u OWNER git-repo-sync ...)",
                err.message()
            )),
            Err(_) => Self::by_layout_here()
                .map_or_else(|| Self::ask_git(None), Ok)
                .map_err(|said| {
                    let here = std::env::current_dir().unwrap_or_default();
                    anyhow::anyhow!(
                        "{} is not inside a git repository ({said}); run this in a \
                     repository or pass its path",
                        quoted(here)
                    )
                }),
        }
    }

    /// The repository at exactly `path` (a work tree's top, a `.git` dir or a bare repository).
    pub fn open(path: &Path) -> Result<Self> {
        let repo = git2::Repository::open_ext(
            path,
            git2::RepositoryOpenFlags::NO_SEARCH,
            std::iter::empty::<&std::ffi::OsStr>(),
        );
        let err = match repo {
            Ok(repo) => return Self::from_git2(&repo),
            Err(err) => err,
        };
        // git (and libgit2) refuse a repository of another user unless it is a safe.directory;
        // what to do then is to run as that user, as for install.
        if err.code() == git2::ErrorCode::Owner
            && let Ok(Some(owner)) = ForeignOwner::of(path)
        {
            return Err(owner.refusal(path, &shell_command(std::env::args_os().skip(1))));
        }
        Self::by_layout(path)
            .map_or_else(|| Self::ask_git(Some(path)), Ok)
            .map_err(|said| {
                anyhow::anyhow!(
                    "{} is not a git repository ({said}); pass the top of a work tree \
                     or a bare repository",
                    quoted(path)
                )
            })
    }

    /// A repository libgit2 refused only for what it cannot read (reftable refs, SHA-256
    /// objects), found from its files in process as git would find it, for the plain layouts a
    /// hook or the worker meets: a work tree's top holding `.git`, or a bare repository (the
    /// `GIT_DIR` of a server's hook). Anything less plain (a linked work tree, `core.worktree`,
    /// `GIT_WORK_TREE`, another owner) is left to git: `None`.
    fn by_layout_here() -> Option<Self> {
        if ["GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY"]
            .iter()
            .any(|var| std::env::var_os(var).is_some())
        {
            return None;
        }
        match std::env::var_os("GIT_DIR") {
            Some(dir) => Self::layout_bare(Path::new(&dir)),
            None => Self::layout_work_tree(&std::env::current_dir().ok()?),
        }
    }

    /// [`Self::by_layout_here`] for the repository at exactly `path`.
    fn by_layout(path: &Path) -> Option<Self> {
        Self::layout_work_tree(path).or_else(|| Self::layout_bare(path))
    }

    fn layout_work_tree(top: &Path) -> Option<Self> {
        let git_dir = top.join(".git");
        let config = plain_git_dir(&git_dir)?;
        if config.get_bool("core.bare").unwrap_or(false) || config.get_path("core.worktree").is_ok() {
            return None;
        }
        Some(Self {
            common_dir: absolute(&git_dir).ok()?,
            work_tree: Some(absolute(top).ok()?),
        })
    }

    fn layout_bare(dir: &Path) -> Option<Self> {
        let config = plain_git_dir(dir)?;
        config.get_bool("core.bare").ok()?.then_some(())?;
        Some(Self {
            common_dir: absolute(dir).ok()?,
            work_tree: None,
        })
    }

    /// The repository as git itself finds it: around the current directory as git would (`None`),
    /// or at exactly `path`. For what libgit2 cannot open (reftable refs, SHA-256 objects, an
    /// extension newer than it); the error is what git said.
    fn ask_git(path: Option<&Path>) -> std::result::Result<Self, String> {
        let mut cmd = std::process::Command::new("git");
        cmd.env("LC_ALL", "C").stdin(std::process::Stdio::null());
        if let Some(path) = path {
            if !path.is_dir() {
                return Err(match path.exists() {
                    true => "it is not a directory".to_owned(),
                    false => "there is nothing there".to_owned(),
                });
            }
            // Exactly there: not a repository above it, nor the one a hook's GIT_DIR names.
            for var in git::LOCAL_ENV_VARS {
                cmd.env_remove(var);
            }
            if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
                cmd.env("GIT_CEILING_DIRECTORIES", parent);
            }
            cmd.current_dir(path);
        }
        // The last answer fails outside a work tree; the ones before it are printed all the same.
        cmd.args([
            "rev-parse",
            "--path-format=absolute",
            "--git-common-dir",
            "--is-bare-repository",
            "--is-inside-work-tree",
            "--show-toplevel",
        ]);
        let output = cmd
            .output()
            .map_err(|err| format!("running git failed: {err} (is git installed?)"))?;
        let lines: Vec<&[u8]> = output.stdout.split(|&b| b == b'\n').collect();
        let (Some(common), Some(bare), Some(inside)) = (lines.first(), lines.get(1), lines.get(2)) else {
            let said = String::from_utf8_lossy(&output.stderr);
            let said = said.lines().next().unwrap_or("nothing").trim();
            return Err(format!(
                "git says: {}",
                said.strip_prefix("fatal: ").unwrap_or(said)
            ));
        };
        let common_dir = absolute(&path_of(common)).map_err(|err| format!("{err:#}"))?;
        let work_tree = match (*bare == b"true", *inside == b"true", lines.get(3)) {
            (true, _, _) => None,
            (false, true, Some(top)) if !top.is_empty() => Some(path_of(top)),
            // Inside the git dir of a work tree, which git does not name from there: where
            // libgit2 would take it, beside a `.git`.
            _ => common_dir
                .file_name()
                .filter(|name| *name == ".git")
                .and_then(|_| common_dir.parent())
                .map(Path::to_path_buf),
        };
        let work_tree = work_tree
            .map(|top| absolute(&top))
            .transpose()
            .map_err(|err| format!("{err:#}"))?;
        Ok(Self {
            common_dir,
            work_tree,
        })
    }

    /// Fails with git's own words where git does not open the repository although libgit2 did
    /// (a HEAD that is not a ref or an object id, say): hooks there would never run, and git
    /// would refuse every command of ours there anyway.
    pub fn confirm_git_opens(&self) -> Result<()> {
        let output = git::in_git_dir(&self.common_dir)
            .args(["rev-parse", "--git-dir"])
            .output()
            .context("running git rev-parse (is git installed?)")?;
        if output.status.success() {
            return Ok(());
        }
        let said = String::from_utf8_lossy(&output.stderr);
        let said = said.lines().next().unwrap_or("nothing").trim();
        bail!(
            "git does not open it as a repository (git says: {}); mend it or move it out of the way",
            said.strip_prefix("fatal: ").unwrap_or(said)
        )
    }

    /// `paths` opened one by one, or the repository around the current directory when empty.
    pub fn open_all(paths: &[PathBuf]) -> Result<Vec<Self>> {
        if paths.is_empty() {
            return Ok(vec![Self::discover()?]);
        }
        paths.iter().map(|path| Self::open(path)).collect()
    }

    fn from_git2(repo: &git2::Repository) -> Result<Self> {
        let common_dir = absolute(repo.commondir())?;
        let work_tree = repo.workdir().map(absolute).transpose()?;
        Ok(Self {
            common_dir,
            work_tree,
        })
    }

    pub fn is_bare(&self) -> bool {
        self.work_tree.is_none()
    }

    /// [`Self::display_path`] with symlinks resolved, as configured roots are compared with it.
    pub fn canonical_path(&self) -> PathBuf {
        std::fs::canonicalize(self.display_path()).unwrap_or_else(|_| self.display_path().to_path_buf())
    }

    /// Where the user sees this repository: the work tree, or the bare directory.
    pub fn display_path(&self) -> &Path {
        self.work_tree.as_deref().unwrap_or(&self.common_dir)
    }

    /// The owner of the common git dir when that is not the effective user: the owner's user
    /// name, or the uid when it has none. Files written as another user (root, typically) would
    /// belong to that user, and the owner's own hooks could not update them.
    pub fn owner_mismatch(&self) -> Result<Option<String>> {
        Ok(ForeignOwner::of(&self.common_dir)?
            .map(|owner| owner.name.unwrap_or_else(|| owner.uid.to_string())))
    }

    /// Fails, naming the owner and the command to run instead, when the repository belongs to
    /// someone other than the effective user.
    pub fn ensure_owned_by_current_user(&self) -> Result<()> {
        match ForeignOwner::of(&self.common_dir)? {
            None => Ok(()),
            Some(owner) => {
                let path = self.display_path();
                Err(owner.refusal(path, &shell_command([OsStr::new("install"), path.as_os_str()])))
            }
        }
    }

    /// The branch the repository's HEAD names (`main` for `refs/heads/main`), unborn or not;
    /// `None` when HEAD is detached or unreadable.
    pub fn head_branch(&self) -> Option<String> {
        let target = match git2::Repository::open_bare(&self.common_dir) {
            Ok(repo) => repo
                .find_reference("HEAD")
                .ok()?
                .symbolic_target()
                .ok()
                .flatten()?
                .to_owned(),
            Err(_) => {
                let said = self.git_output(None, &["symbolic-ref", "-q", "HEAD"]).ok()??;
                String::from_utf8(said).ok()?.trim_end().to_owned()
            }
        };
        target.strip_prefix("refs/heads/").map(str::to_owned)
    }

    /// Whether this is a shallow clone (`git clone --depth N`): git records where the history
    /// was cut in `shallow`.
    pub fn is_shallow(&self) -> bool {
        self.common_dir.join("shallow").is_file()
    }

    /// How this repository names its objects.
    pub fn object_format(&self) -> Result<ObjectFormat> {
        ObjectFormat::of(&self.common_dir)
    }

    /// Creates an empty bare repository at `path` (and its missing parents) for this
    /// repository's mirror: with this repository's object format, made by the user's git so that
    /// its defaults apply, its HEAD naming this repository's branch as `git clone --bare` would
    /// (so that `git log` in the mirror shows what arrived rather than an unborn default branch).
    pub fn init_bare_mirror(&self, path: &Path) -> Result<()> {
        format::init_bare(path, self.object_format()?, self.head_branch().as_deref())
    }

    /// The path of a file of ours in the common git dir.
    pub fn kept(&self, kept: Kept) -> PathBuf {
        kept.in_dir(&self.common_dir)
    }

    pub fn config_path(&self) -> PathBuf {
        self.kept(Kept::Config)
    }

    pub fn state_path(&self) -> PathBuf {
        self.kept(Kept::State)
    }

    /// The repository's own git config file, where config-based hooks of ours are set.
    pub fn git_config_path(&self) -> PathBuf {
        self.common_dir.join("config")
    }

    /// When and by which hook git-repo-sync was last triggered, as `<hook> <timestamp>`.
    pub fn trigger_record_path(&self) -> PathBuf {
        self.kept(Kept::TriggerRecord)
    }

    pub fn log_path(&self) -> PathBuf {
        self.kept(Kept::Log)
    }

    /// The directories git runs this repository's hooks from: what `git rev-parse --git-path
    /// hooks` answers in each worktree, so `core.hooksPath` and linked worktrees are honoured
    /// exactly as git does. Usually one; a relative `core.hooksPath` gives each worktree its own.
    pub fn hooks_dirs(&self) -> Result<Vec<PathBuf>> {
        self.find_hooks_dirs(false)
    }

    /// [`Self::hooks_dirs`], for install: a hooks directory that is a symlink to nothing is an
    /// error, since git's absolute answer resolves the link and install would create its target.
    pub fn hooks_dirs_to_write(&self) -> Result<Vec<PathBuf>> {
        self.find_hooks_dirs(true)
    }

    /// Whether `core.hooksPath` may be set for this repository. `false` only when neither the
    /// layers outside it nor its own config file (as text) name the key, include another file or
    /// give each worktree a config of its own: then no git need be asked.
    fn hooks_path_may_be_set(&self) -> bool {
        if git::outer_config_may_set_hooks_path() {
            return true;
        }
        let text = match std::fs::read(self.common_dir.join("config")) {
            Ok(text) => text,
            Err(err) => return err.kind() != std::io::ErrorKind::NotFound,
        };
        let mentions = |word: &[u8]| {
            text.windows(word.len())
                .any(|window| window.eq_ignore_ascii_case(word))
        };
        mentions(b"hookspath") || mentions(b"include") || mentions(b"worktreeconfig")
    }

    fn find_hooks_dirs(&self, refuse_dangling: bool) -> Result<Vec<PathBuf>> {
        let hooks_path = if self.hooks_path_may_be_set() {
            self.git_output(None, &["config", "--get", "core.hooksPath"])?
        } else {
            None
        };
        if let Some(value) = &hooks_path
            && value.iter().all(u8::is_ascii_whitespace)
        {
            bail!(
                "core.hooksPath is set to an empty value in {}; git then finds no hooks at all. \
                 Unset it (`git config --unset core.hooksPath`) or point it at a directory",
                quoted(self.display_path())
            );
        }
        if hooks_path.is_none() {
            // Without core.hooksPath every work tree's hooks are the common dir's `hooks`
            // (a path git shares between work trees): no need to ask git for each.
            let dir = self.common_dir.join("hooks");
            if refuse_dangling {
                refuse_dangling_symlink(&dir)?;
            }
            return Ok(vec![dir]);
        }
        let mut dirs: Vec<PathBuf> = Vec::new();
        for top in self.worktree_tops()? {
            if refuse_dangling {
                // As configured: relative to where git ran, symlinks not resolved.
                let configured = self
                    .git_output(top.as_deref(), &["rev-parse", "--git-path", "hooks"])?
                    .context("git rev-parse --git-path hooks printed nothing")?;
                refuse_dangling_symlink(&self.run_dir(top.as_deref()).join(path_of(&configured)))?;
            }
            let answer = self
                .git_output(
                    top.as_deref(),
                    &["rev-parse", "--path-format=absolute", "--git-path", "hooks"],
                )?
                .context("git rev-parse --git-path hooks printed nothing")?;
            let dir = path_of(&answer);
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        Ok(dirs)
    }

    /// The top of each work tree (main and linked), or `[None]` for a bare repository.
    fn worktree_tops(&self) -> Result<Vec<Option<PathBuf>>> {
        if self.is_bare() {
            return Ok(vec![None]);
        }
        // NUL-separated: a path may hold a newline, and read by lines it would name another
        // directory (the part before the newline may well be a repository of its own).
        let listing = self
            .git_output(None, &["worktree", "list", "--porcelain", "-z"])?
            .unwrap_or_default();
        let tops: Vec<Option<PathBuf>> = listing
            .split(|&b| b == 0)
            .filter_map(|field| field.strip_prefix(b"worktree "))
            .map(|path| PathBuf::from(OsStr::from_bytes(path)))
            .filter(|top| top.is_dir())
            .map(Some)
            .collect();
        Ok(if tops.is_empty() {
            vec![self.work_tree.clone()]
        } else {
            tops
        })
    }

    /// Runs git where it runs this repository's hooks and returns its stdout, or `None` when git
    /// exits 1.
    pub fn git_stdout(&self, args: &[&str]) -> Result<Option<Vec<u8>>> {
        self.git_output(None, args)
    }

    /// Where [`Self::git_output`] runs git for `dir`.
    fn run_dir<'a>(&'a self, dir: Option<&'a Path>) -> &'a Path {
        dir.or(self.work_tree.as_deref()).unwrap_or(&self.common_dir)
    }

    /// Runs git in `dir` (default: the top of this work tree, where git runs hooks, or the bare
    /// repository) and returns its stdout as bytes (paths need not be UTF-8), or `None` when it
    /// exits 1 (`git config --get` of an unset key).
    fn git_output(&self, dir: Option<&Path>, args: &[&str]) -> Result<Option<Vec<u8>>> {
        let mut cmd = match dir.or(self.work_tree.as_deref()) {
            Some(top) => {
                let mut cmd = git::command();
                cmd.current_dir(top);
                cmd
            }
            None => {
                let mut cmd = git::in_git_dir(&self.common_dir);
                cmd.current_dir(&self.common_dir);
                cmd
            }
        };
        let output = cmd
            .args(args)
            .output()
            .with_context(|| format!("running git {} (is git installed?)", args.join(" ")))?;
        match output.status.code() {
            Some(0) => Ok(Some(output.stdout)),
            Some(1) => Ok(None),
            _ => bail!(
                "git {} failed in {}: {}",
                args.join(" "),
                quoted(self.display_path()),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        }
    }
}

/// The config of `git_dir` when it is a git dir of ours to read in process: a directory (not a
/// `.git` file), owned by us, holding `HEAD`, `objects/` and a config that names an extension
/// libgit2 lacks; not a linked work tree's (no `commondir`).
fn plain_git_dir(git_dir: &Path) -> Option<git2::Config> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::symlink_metadata(git_dir).ok()?;
    if !meta.is_dir() || meta.uid() != effective_uid() {
        return None;
    }
    if !git_dir.join("HEAD").is_file()
        || !git_dir.join("objects").is_dir()
        || git_dir.join("commondir").exists()
    {
        return None;
    }
    let config = git2::Config::open(&git_dir.join("config")).ok()?;
    let extended = ["extensions.objectformat", "extensions.refstorage"]
        .iter()
        .any(|key| config.get_string(key).is_ok());
    extended.then_some(config)
}

/// The git config as git would read it for the repository whose common git dir is `git_dir`
/// (system, global, then the repository's own file), without opening the repository: libgit2
/// reads a config file of any repository, where it opens only some repositories.
pub(crate) fn config_of(git_dir: &Path) -> Result<git2::Config> {
    if let Ok(config) = git2::Repository::open_bare(git_dir).and_then(|repo| repo.config()) {
        return Ok(config);
    }
    let mut config = git2::Config::open_default().context("reading the git config")?;
    let path = git_dir.join("config");
    if path.is_file() {
        config
            .add_file(&path, git2::ConfigLevel::Local, false)
            .with_context(|| format!("reading {}", quoted(&path)))?;
    }
    Ok(config)
}

/// `path` for a message: as it is when that is plain text, else quoted with its escapes
/// (`"nl\nrepo\xFF"`), so that a newline, a tab or a byte that is not UTF-8 cannot make it read
/// as another path.
pub(crate) fn quoted(path: impl AsRef<Path>) -> Quoted {
    Quoted(path.as_ref().to_owned())
}

/// See [`quoted`].
#[derive(Debug)]
pub(crate) struct Quoted(PathBuf);

impl std::fmt::Display for Quoted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.to_str() {
            Some(plain) if !plain.chars().any(char::is_control) => f.write_str(plain),
            _ => write!(f, "{:?}", self.0),
        }
    }
}

/// The one path `git rev-parse` printed, byte for byte: a lossy UTF-8 conversion would name
/// another directory, and only the newline git added is taken off (the path may end in a
/// newline or a carriage return of its own).
fn path_of(answer: &[u8]) -> PathBuf {
    let path = answer.strip_suffix(b"\n").unwrap_or(answer);
    PathBuf::from(OsStr::from_bytes(path))
}

/// Fails when `path`, or the nearest of its parents that is there at all, is a symlink to
/// nothing: install would otherwise create the directory it points at, wherever that is.
fn refuse_dangling_symlink(path: &Path) -> Result<()> {
    for candidate in path.ancestors() {
        let Ok(meta) = std::fs::symlink_metadata(candidate) else {
            continue;
        };
        if meta.file_type().is_symlink() && std::fs::metadata(candidate).is_err() {
            let target = std::fs::read_link(candidate).unwrap_or_default();
            bail!(
                "the hooks directory {} is a symlink to {}, which does not exist; create that \
                 directory or remove the symlink, then run this again",
                quoted(candidate),
                quoted(target)
            );
        }
        return Ok(());
    }
    Ok(())
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(path).with_context(|| format!("resolving {}", quoted(path)))
}

/// The owner of a path that is not the effective user.
struct ForeignOwner {
    uid: u32,
    name: Option<String>,
}

impl ForeignOwner {
    fn of(path: &Path) -> Result<Option<Self>> {
        use std::os::unix::fs::MetadataExt as _;
        let uid = std::fs::metadata(path)
            .with_context(|| format!("reading the owner of {}", quoted(path)))?
            .uid();
        Ok((uid != effective_uid()).then(|| Self {
            uid,
            name: user_name(uid),
        }))
    }

    /// The error for `path`, with `git-repo-sync ARGS` (`args` quoted) run as the owner for the fix.
    fn refusal(&self, path: &Path, args: &str) -> anyhow::Error {
        let (owner, sudo_user) = match &self.name {
            Some(name) => (name.clone(), name.clone()),
            // sudo takes a uid without a name as `#UID`.
            None => (format!("uid {}", self.uid), format!("'#{}'", self.uid)),
        };
        let euid = effective_uid();
        let me = user_name(euid).unwrap_or_else(|| format!("uid {euid}"));
        anyhow::anyhow!(
            "{} belongs to {owner}, not to {me}: what git-repo-sync wrote there would belong to \
             {me}; run it as the owner: sudo -u {sudo_user} git-repo-sync {args}",
            quoted(path)
        )
    }
}

/// Arguments quoted for a shell, to be pasted into the command a message suggests.
fn shell_command<I, A>(args: I) -> String
where
    I: IntoIterator<Item = A>,
    A: AsRef<OsStr>,
{
    args.into_iter()
        .map(|arg| crate::shell::quote(&arg.as_ref().to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[allow(unsafe_code)]
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid takes nothing, cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}

/// The user name of `uid` from the password database (files, LDAP, ...), if it has one.
#[allow(unsafe_code)]
pub(crate) fn user_name(uid: u32) -> Option<String> {
    let mut buf: Vec<libc::c_char> = vec![0; 1024];
    loop {
        // SAFETY: passwd is plain data (integers and raw pointers), for which all zeroes is valid.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is to live memory of ours, and buf.len() is its true size;
        // getpwuid_r writes the strings into buf and points entry's fields at them.
        let rc =
            unsafe { libc::getpwuid_r(uid, &raw mut entry, buf.as_mut_ptr(), buf.len(), &raw mut found) };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || found.is_null() || entry.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success pw_name points at a NUL-terminated string inside buf, still alive.
        let name = unsafe { std::ffi::CStr::from_ptr(entry.pw_name) };
        return Some(name.to_string_lossy().into_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repository_of_ones_own_has_no_owner_mismatch() {
        let dir = tempfile::tempdir().expect("temp dir");
        git2::Repository::init_bare(dir.path()).expect("git init --bare");
        let repo = Repo::open(dir.path()).expect("opens");
        assert_eq!(repo.owner_mismatch().expect("stat"), None);
        repo.ensure_owned_by_current_user().expect("owned");
    }

    #[test]
    fn plain_paths_are_shown_as_they_are_and_odd_ones_with_their_escapes() {
        assert_eq!(quoted("/srv/my repo's $(x)").to_string(), "/srv/my repo's $(x)");
        let odd = Path::new(OsStr::from_bytes(b"/x/nl\nrepo\twith\xff"));
        assert_eq!(quoted(odd).to_string(), r#""/x/nl\nrepo\twith\xFF""#);
    }

    #[test]
    fn uid_0_is_named_root() {
        assert_eq!(user_name(0).as_deref(), Some("root"));
    }
}
