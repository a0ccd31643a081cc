//! Git LFS for the tests: the real git-lfs (Debian's package) set up in the test's isolated HOME
//! as `git lfs install` sets it up for a user, repositories whose files go through it, and checks
//! that a mirror holds the objects and that a clone of it checks out the real content.
//!
//! A missing git-lfs is a skip with its reason, except under CI (`CI=true`), where it is a
//! failure: see [`super::tools::require`].

use std::fs;
use std::path::{Path, PathBuf};

use super::servers::find_program;
use super::{TestEnv, s};

/// git-lfs's path, as [`super::tools::require`] decides.
pub fn require_git_lfs(test_needs: &str) -> Option<PathBuf> {
    let lookup = find_program("git-lfs").ok_or_else(|| "git-lfs".to_owned());
    super::tools::require(
        test_needs,
        vec![lookup],
        "on Debian: apt-get install git-lfs (or bash .ci/run as root)",
    )
    .map(|mut found| found.remove(0))
}

/// `git lfs install` in the isolated global config (its filters), as a user of LFS has it.
pub fn install_filters(env: &TestEnv) {
    env.git(env.root(), ["lfs", "install", "--skip-repo"]);
}

/// A repository with a work tree at `<root>/<name>` whose `*.bin` files go through LFS, with
/// git-lfs's own hooks installed in it (as `git lfs install` there does), and one commit holding
/// `.gitattributes`.
pub fn init_lfs_repo(env: &TestEnv, name: &str) -> PathBuf {
    install_filters(env);
    let repo = env.init_empty_repo(name);
    env.git(&repo, ["lfs", "install", "--local"]);
    env.git(&repo, ["lfs", "track", "*.bin"]);
    env.git(&repo, ["add", ".gitattributes"]);
    env.git(&repo, ["commit", "-q", "-m", "track *.bin with LFS"]);
    repo
}

/// The content the tests store as `<name>`: distinct per name, larger than a pointer file.
pub fn content_of(name: &str) -> Vec<u8> {
    let mut content = Vec::new();
    for i in 0..2000_u32 {
        content.extend_from_slice(format!("{name} line {i}\n").as_bytes());
    }
    content
}

/// Writes `<name>` (see [`content_of`]) in `repo`, commits it, and returns its LFS oid (read
/// from the pointer git stored).
pub fn commit_lfs_file(env: &TestEnv, repo: &Path, name: &str) -> String {
    fs::write(repo.join(name), content_of(name)).expect("writing an LFS file");
    env.git(repo, ["add", name]);
    env.git(repo, ["commit", "-q", "-m", &format!("add {name}")]);
    oid_of(env, repo, name)
}

/// The LFS oid of `<name>` at HEAD.
pub fn oid_of(env: &TestEnv, repo: &Path, name: &str) -> String {
    let pointer = env.git(repo, ["cat-file", "-p", &format!("HEAD:{name}")]);
    pointer
        .lines()
        .find_map(|line| line.strip_prefix("oid sha256:"))
        .unwrap_or_else(|| panic!("{name} is no LFS pointer in git:\n{pointer}"))
        .to_owned()
}

/// `<git dir>/lfs/objects/OID[0:2]/OID[2:4]/OID`.
pub fn object_path(git_dir: &Path, oid: &str) -> PathBuf {
    git_dir
        .join("lfs/objects")
        .join(&oid[0..2])
        .join(&oid[2..4])
        .join(oid)
}

/// Asserts that the repository at `git_dir` holds each named file's LFS object, with its content.
pub fn assert_has(git_dir: &Path, files: &[(&str, &str)]) {
    for (name, oid) in files {
        let path = object_path(git_dir, oid);
        let content = fs::read(&path)
            .unwrap_or_else(|e| panic!("{} lacks {name}'s LFS object ({e})", git_dir.display()));
        assert!(
            content == content_of(name),
            "{} holds a wrong {name}",
            path.display()
        );
    }
}

/// [`assert_has`], each object a file of its own: a copy, not a hard link to ours.
pub fn assert_holds(git_dir: &Path, files: &[(&str, &str)]) {
    use std::os::unix::fs::MetadataExt as _;
    assert_has(git_dir, files);
    for (_, oid) in files {
        let path = object_path(git_dir, oid);
        let links = fs::metadata(&path).expect("the object's metadata").nlink();
        assert_eq!(links, 1, "{} is a hard link, not a copy", path.display());
    }
}

/// Clones `url` into `<root>/<dir>` with the user's LFS filters, which fetch every file's content
/// from the LFS endpoint git-lfs finds for that URL, and asserts each file has its real content.
pub fn assert_clone_checks_out(env: &TestEnv, url: &str, dir: &str, files: &[&str]) {
    let clone = env.root().join(dir);
    env.git(env.root(), ["clone", "-q", url, s(&clone)]);
    // A clone smudges as it checks out; `git lfs pull` says loudly what it could not get.
    env.git(&clone, ["lfs", "pull"]);
    for name in files {
        let content = fs::read(clone.join(name)).unwrap_or_else(|e| panic!("the clone lacks {name}: {e}"));
        assert!(
            content == content_of(name),
            "the clone of the mirror checked out {name} as:\n{}",
            String::from_utf8_lossy(&content[..content.len().min(300)])
        );
    }
}

/// The identity giftless gives every request that reaches its batch API: allowed everything, since
/// the web server in front of it has checked the user's password already. giftless's own
/// `allow_anon:read_write` does not do for uploads in 0.6.2 (tried: it checks one object where it
/// stored "any object", and has no id for the object URLs' tokens).
const BEHIND_PROXY: &str = "\
from giftless.auth.identity import DefaultIdentity


class ProxyChecked(DefaultIdentity):
    def is_authorized(self, organization, repo, permission, oid=None):
        return True


def identity(_request):
    return ProxyChecked(id=\"mirror\", name=\"checked-by-the-proxy\")
";

/// giftless, a Git LFS server (PyPI), served by waitress on a loopback port and storing objects
/// in its own dir, for lighttpd to pass the LFS requests to (see
/// `HttpServer::start_tls_with_lfs`). The object URLs it hands out carry a JWT it signs and then
/// checks, as a forge's do. A guard: dropping it stops the server.
#[derive(Debug)]
pub struct LfsServer {
    child: std::process::Child,
    port: u16,
    dir: PathBuf,
}

impl LfsServer {
    /// `None` (after printing why) when giftless is missing outside CI.
    pub fn start(env: &TestEnv) -> Option<Self> {
        let waitress = super::tools::require_tool("the LFS server fixture", super::tools::Tool::Giftless)?;
        let dir = env.root().join("giftless");
        fs::create_dir_all(dir.join("store")).expect("creating the LFS server's dir");
        fs::write(dir.join("behind_proxy.py"), BEHIND_PROXY).expect("writing the identity module");
        let config = dir.join("giftless.yaml");
        fs::write(
            &config,
            format!(
                "AUTH_PROVIDERS:\n  - behind_proxy:identity\n\
                 PRE_AUTHORIZED_ACTION_PROVIDER:\n  factory: giftless.auth.jwt:factory\n\
                 \x20 options:\n    algorithm: HS256\n    private_key: {key}\n\
                 LEGACY_ENDPOINTS: false\n\
                 TRANSFER_ADAPTERS:\n  basic:\n    factory: giftless.transfer.basic_streaming:factory\n\
                 \x20   options:\n      storage_class: giftless.storage.local_storage:LocalStorage\n\
                 \x20     storage_options:\n        path: {}\n",
                s(&dir.join("store")),
                key = "test-only-key-that-signs-object-urls-0123456789",
            ),
        )
        .expect("writing the LFS server's config");
        let (child, port) = super::loopback::start_listening(
            |port| {
                let mut cmd = std::process::Command::new("env");
                cmd.arg(format!("GIFTLESS_CONFIG_FILE={}", s(&config)))
                    .arg(format!("PYTHONPATH={}", s(&dir)))
                    .arg(&waitress)
                    .arg(format!("--listen=127.0.0.1:{port}"))
                    // The URLs it hands out are https, as the proxy in front of it says.
                    .args([
                        "--trusted-proxy=127.0.0.1",
                        "--trusted-proxy-headers=x-forwarded-proto",
                        "giftless.wsgi_entrypoint:app",
                    ]);
                Ok(cmd)
            },
            &dir.join("giftless.log"),
        )
        .unwrap_or_else(|e| panic!("the LFS server fixture could not start: {e}"));
        Some(Self { child, port, dir })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the server stored, for the repository served as `/git/<repo>.git`, the object of
    /// that oid with `<name>`'s content.
    pub fn holds(&self, repo: &str, name: &str, oid: &str) -> bool {
        let path = self.dir.join("store/git").join(repo).join(oid);
        fs::read(path).is_ok_and(|content| content == content_of(name))
    }

    /// What the server printed, for failure messages.
    pub fn log(&self) -> String {
        super::loopback::read_lossy(&self.dir.join("giftless.log"))
    }
}

impl Drop for LfsServer {
    fn drop(&mut self) {
        super::loopback::stop(&mut self.child);
    }
}
