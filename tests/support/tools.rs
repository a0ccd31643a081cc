//! The programs some tests need beyond git and sh: the git hook managers people use (husky and
//! lefthook from npm, pre-commit and prek from PyPI, and node to run the npm ones), a git with
//! config-based hooks (>= 2.54), and giftless, a Git LFS server (PyPI). `.ci/install-hook-tools` and `.ci/install-git` put them in
//! prefixes of their own, off PATH; each can be pointed elsewhere with an environment variable
//! (see [`Tool::env_var`]). gitolite, like the servers, is found by `servers::require_programs`.
//!
//! The decision about a missing program is taken in one place, [`require`], for these tools and
//! for the servers of `support::servers` alike: found, the paths; missing under CI (`CI=true`), a
//! panic; missing elsewhere, `None` after printing `skipped: <reason>` (with the install command).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Where `.ci/install-hook-tools` installs the hook managers (`GIT_REPO_SYNC_CI_PREFIX`, as there).
pub fn ci_prefix() -> PathBuf {
    std::env::var_os("GIT_REPO_SYNC_CI_PREFIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/git-repo-sync-ci"))
}

/// The venv's bin dir: `pre-commit` and `prek`.
pub fn venv_bin() -> PathBuf {
    ci_prefix().join("venv/bin")
}

/// The LFS server's venv bin dir: `waitress-serve`, which serves giftless (a Git LFS server) from
/// that venv.
pub fn lfs_venv_bin() -> PathBuf {
    ci_prefix().join("lfs-venv/bin")
}

/// The npm prefix's bin dir: `husky` and `lefthook`.
pub fn npm_bin() -> PathBuf {
    ci_prefix().join("npm/node_modules/.bin")
}

/// Where `.ci/install-git` builds the git with config-based hooks (`GIT_NEW_PREFIX`, as there).
pub fn new_git_prefix() -> PathBuf {
    std::env::var_os("GIT_NEW_PREFIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/git-2.55"))
}

const INSTALL_HOOK_TOOLS: &str = "bash .ci/install-hook-tools (as root)";

/// One program a test may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    PreCommit,
    Prek,
    Lefthook,
    Husky,
    /// Runs `husky` and the `lefthook` wrapper (both `#!/usr/bin/env node`).
    Node,
    /// git >= 2.54, with config-based hooks.
    NewGit,
    /// `waitress-serve` in a venv that also holds giftless, the Git LFS server the LFS tests
    /// put behind the TLS fixture.
    Giftless,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Self::PreCommit => "pre-commit",
            Self::Prek => "prek",
            Self::Lefthook => "lefthook",
            Self::Husky => "husky",
            Self::Node => "node",
            Self::NewGit => "git >= 2.54",
            Self::Giftless => "giftless (waitress-serve in its venv)",
        }
    }

    /// The environment variable that, when set, is the program's path (and the only place looked).
    pub fn env_var(self) -> &'static str {
        match self {
            Self::PreCommit => "GIT_REPO_SYNC_TEST_PRE_COMMIT",
            Self::Prek => "GIT_REPO_SYNC_TEST_PREK",
            Self::Lefthook => "GIT_REPO_SYNC_TEST_LEFTHOOK",
            Self::Husky => "GIT_REPO_SYNC_TEST_HUSKY",
            Self::Node => "GIT_REPO_SYNC_TEST_NODE",
            Self::NewGit => "GIT_REPO_SYNC_TEST_NEW_GIT",
            Self::Giftless => "GIT_REPO_SYNC_TEST_GIFTLESS",
        }
    }

    /// Where it is looked for, in order, when its variable is unset.
    pub fn candidates(self) -> Vec<PathBuf> {
        match self {
            Self::PreCommit => vec![venv_bin().join("pre-commit")],
            Self::Prek => vec![venv_bin().join("prek")],
            Self::Lefthook => vec![npm_bin().join("lefthook")],
            Self::Husky => vec![npm_bin().join("husky")],
            Self::Node => on_path("node")
                .into_iter()
                .chain([PathBuf::from("/usr/bin/node")])
                .collect(),
            Self::NewGit => vec![new_git_prefix().join("bin/git")],
            Self::Giftless => vec![lfs_venv_bin().join("waitress-serve")],
        }
    }

    /// The command that installs it.
    pub fn install_hint(self) -> &'static str {
        match self {
            Self::PreCommit | Self::Prek | Self::Lefthook | Self::Husky | Self::Giftless => {
                INSTALL_HOOK_TOOLS
            }
            Self::Node => "apt-get install nodejs npm",
            Self::NewGit => "bash .ci/install-git (as root; builds git into /opt/git-2.55)",
        }
    }

    /// Its path, or where it was looked for.
    pub fn locate(self) -> Result<PathBuf, String> {
        if let Some(path) = std::env::var_os(self.env_var()) {
            let path = PathBuf::from(path);
            return if is_executable(&path) {
                Ok(path)
            } else {
                Err(format!(
                    "${} = {} is no executable",
                    self.env_var(),
                    path.display()
                ))
            };
        }
        let candidates = self.candidates();
        candidates
            .iter()
            .find(|path| is_executable(path))
            .cloned()
            .ok_or_else(|| {
                let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
                format!("not at {}, ${} unset", looked.join(" or "), self.env_var())
            })
    }
}

/// The first `name` on the test process's PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    let inherited = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&inherited)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The one decision about missing programs, for every fixture. `lookups` holds, per program, its
/// path or a description of what is missing; `hint` says how to install what is missing. All
/// found: their paths, in order. Else under CI (`CI=true`) a panic, and elsewhere `None` after
/// printing `skipped: <test_needs> needs <missing> (<hint>)`.
pub fn require(test_needs: &str, lookups: Vec<Result<PathBuf, String>>, hint: &str) -> Option<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for lookup in lookups {
        match lookup {
            Ok(path) => found.push(path),
            Err(what) => missing.push(what),
        }
    }
    if missing.is_empty() {
        return Some(found);
    }
    let reason = format!("{test_needs} needs {} ({hint})", missing.join(", "));
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true, so a missing program is a failure, not a skip: {reason}");
    }
    println!("skipped: {reason}");
    eprintln!("skipped: {reason}");
    None
}

/// Every tool in `tools`, as [`require`] decides.
pub fn require_tools(test_needs: &str, tools: &[Tool]) -> Option<Vec<PathBuf>> {
    let lookups = tools
        .iter()
        .map(|tool| tool.locate().map_err(|why| format!("{} ({why})", tool.name())))
        .collect();
    let mut hints: Vec<&str> = Vec::new();
    for tool in tools {
        if tool.locate().is_err() && !hints.contains(&tool.install_hint()) {
            hints.push(tool.install_hint());
        }
    }
    require(
        test_needs,
        lookups,
        &format!("install with: {}", hints.join("; ")),
    )
}

/// One tool, as [`require`] decides.
pub fn require_tool(test_needs: &str, tool: Tool) -> Option<PathBuf> {
    require_tools(test_needs, &[tool]).map(|mut paths| paths.remove(0))
}

/// `path` with `dirs` put in front (each once), for [`super::TestEnv::set_path_var`].
pub fn path_with(dirs: &[&Path], path: &std::ffi::OsStr) -> OsString {
    let mut all: Vec<PathBuf> = Vec::new();
    for dir in dirs
        .iter()
        .map(|d| d.to_path_buf())
        .chain(std::env::split_paths(path))
    {
        if !all.contains(&dir) {
            all.push(dir);
        }
    }
    std::env::join_paths(all).expect("joining PATH")
}
