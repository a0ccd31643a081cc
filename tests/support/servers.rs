//! Real servers on loopback, started by the tests themselves: `sshd` (Debian's openssh-server),
//! `git http-backend` behind lighttpd (plain HTTP or TLS with a generated CA), and a TCP server
//! that accepts connections and never answers. sshd and lighttpd are started by
//! [`super::loopback`], which the latency benchmark shares; this is the tests' side of them.
//!
//! Each fixture takes its own free port on 127.0.0.1, keeps its files in the test's temp dir, and
//! is a guard: dropping it (at the end of the test, or while a failing test unwinds) kills the
//! server and waits for it. Nothing here uses the machine's own sshd, web server or `~/.ssh`.
//!
//! A fixture whose program is missing returns `None` after printing `skipped: <reason>`, except
//! under CI (`CI=true`), where a missing server is a failure: see [`require_programs`] and
//! [`super::tools::require`].

use std::fs;
use std::io::Read;
use std::net::{Shutdown, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::loopback::{
    ClientConfig, HttpOptions, INSTALL_HINT, Lighttpd, Sshd, SshdOptions, key_without_comment,
};
use super::{TestEnv, s, sh_quote};

pub(crate) use super::loopback::find_program;

/// The `~/.ssh/config`-style host alias the ssh fixture's client config defines.
pub const SSH_ALIAS: &str = "mirror-host";

/// Every server program in `names`, as [`super::tools::require`] decides: found, their paths;
/// else under CI (`CI=true`) a panic, and elsewhere `None` after printing `skipped: <reason>`.
pub fn require_programs(test_needs: &str, names: &[&str]) -> Option<Vec<PathBuf>> {
    let lookups = names
        .iter()
        .map(|name| find_program(name).ok_or_else(|| (*name).to_owned()))
        .collect();
    super::tools::require(
        test_needs,
        lookups,
        &format!("not found on PATH, /usr/sbin or /sbin; {INSTALL_HINT} gitolite3"),
    )
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    super::loopback::free_port().expect("a free port")
}

/// A directory `<root>/<prefix>-<n>` that did not exist yet.
fn fresh_dir(env: &TestEnv, prefix: &str) -> PathBuf {
    for n in 0.. {
        let dir = env.root().join(format!("{prefix}-{n}"));
        if fs::create_dir(&dir).is_ok() {
            return dir;
        }
    }
    unreachable!()
}

/// A program in the test git's exec path (`git-shell`, `git-http-backend`).
fn git_program(env: &TestEnv, name: &str) -> PathBuf {
    PathBuf::from(env.git(env.root(), ["--exec-path"]).trim()).join(name)
}

/// What [`SshServer::start`] sets up.
#[derive(Debug, Clone, Copy, Default)]
pub struct SshOptions {
    /// The client key may only run `git-shell -c "$SSH_ORIGINAL_COMMAND"` (forced command).
    pub git_shell: bool,
    /// Offer password authentication too, so that a client that may prompt would prompt.
    pub password_auth: bool,
    /// sshd's `MaxSessions`: the sessions one connection may have open at once (sshd's default
    /// is 10).
    pub max_sessions: Option<u32>,
}

/// [`Sshd`] in the test's temp dir, its git configured by the test's global gitconfig, logging
/// every authentication attempt (LogLevel VERBOSE).
///
/// The client side is a temporary ssh config (see [`SshServer::git_ssh_command`]): a host alias
/// [`SSH_ALIAS`] for 127.0.0.1 and the port with the client key as `IdentityFile`, and for every
/// host a temporary known_hosts that holds the server's host key (see `trust_host_key`,
/// `forget_host_key`, `use_wrong_host_key`), no global known_hosts, no agent.
#[derive(Debug)]
pub struct SshServer {
    server: Sshd,
    known_hosts: PathBuf,
    ssh_config: PathBuf,
}

impl SshServer {
    /// `None` (after printing why) when sshd, ssh or ssh-keygen is missing outside CI.
    pub fn start(env: &TestEnv, options: SshOptions) -> Option<Self> {
        require_programs("the ssh server fixture", &["sshd", "ssh", "ssh-keygen"])?;
        let dir = fresh_dir(env, "sshd");
        let sshd_options = SshdOptions {
            forced_git_shell: options.git_shell.then(|| git_program(env, "git-shell")),
            password_auth: options.password_auth,
            max_sessions: options.max_sessions,
            verbose_log: true,
            home: None,
        };
        let server = Sshd::start(&dir, &env.home().join(".gitconfig"), &sshd_options)
            .unwrap_or_else(|e| panic!("the sshd fixture could not start: {e}"));
        let known_hosts = dir.join("known_hosts");
        let ssh_config = dir.join("ssh_config");
        let client = ClientConfig {
            hosts: SSH_ALIAS,
            port: server.port(),
            known_hosts: &known_hosts,
            unattended: false,
        };
        server
            .write_client_config(&ssh_config, &client)
            .expect("writing the ssh client config");
        let server = Self {
            server,
            known_hosts,
            ssh_config,
        };
        server.trust_host_key();
        Some(server)
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The user the server lets in: the user running the tests.
    pub fn user(&self) -> &str {
        self.server.user()
    }

    /// The private key that `authorized_keys` lets in.
    pub fn client_key(&self) -> &Path {
        self.server.client_key()
    }

    /// The public half of [`Self::client_key`].
    pub fn client_public_key(&self) -> PathBuf {
        self.client_key().with_extension("pub")
    }

    /// Replaces `authorized_keys` (sshd reads it at every login), for a fixture that decides
    /// itself what the client key may run, as gitolite does with its forced command.
    pub fn set_authorized_keys(&self, content: &str) {
        self.server
            .set_authorized_keys(content)
            .expect("writing authorized_keys");
    }

    /// A new key pair that the server does not know; returns the private key's path.
    pub fn unauthorized_key(&self, name: &str) -> PathBuf {
        self.server
            .new_key(name, "git-repo-sync-test-unauthorized")
            .expect("generating a key");
        self.server.dir().join(name)
    }

    /// `ssh://user@127.0.0.1:PORT/<absolute path>`.
    pub fn url(&self, repo: &Path) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user(),
            self.port(),
            repo.display()
        )
    }

    /// scp-style through the host alias: `mirror-host:/<absolute path>`.
    pub fn alias_url(&self, repo: &Path) -> String {
        format!("{SSH_ALIAS}:{}", repo.display())
    }

    /// The temporary client config (OpenSSH takes `~` from passwd, not `$HOME`, so it must be
    /// named with `-F`).
    pub fn ssh_config(&self) -> &Path {
        &self.ssh_config
    }

    /// The value for `GIT_SSH_COMMAND`: `ssh -F <temp config>`.
    pub fn git_ssh_command(&self) -> String {
        format!("ssh -F {}", sh_quote(&self.ssh_config))
    }

    pub fn known_hosts(&self) -> &Path {
        &self.known_hosts
    }

    /// The server's host public key, `ssh-ed25519 AAAA...`.
    pub fn host_public_key(&self) -> String {
        self.server.host_public_key().to_owned()
    }

    /// known_hosts holds the server's real host key.
    pub fn trust_host_key(&self) {
        self.server
            .write_known_hosts(&self.known_hosts, self.port())
            .expect("writing known_hosts");
    }

    /// known_hosts is empty: the server is an unknown host.
    pub fn forget_host_key(&self) {
        fs::write(&self.known_hosts, "").expect("emptying known_hosts");
    }

    /// known_hosts holds another key for the server's address: a changed host key.
    pub fn use_wrong_host_key(&self) {
        let key = self
            .server
            .new_key("other_host_key", "some-other-host")
            .expect("generating a key");
        fs::write(
            &self.known_hosts,
            format!("[127.0.0.1]:{} {}\n", self.port(), key_without_comment(&key)),
        )
        .expect("writing known_hosts");
    }

    /// Everything sshd logged (`-e`, LogLevel VERBOSE).
    pub fn log(&self) -> String {
        self.server.log()
    }

    /// How many connections tried to authenticate (told apart by client port). The fixture's own
    /// readiness probe connects too, but closes before the key exchange, so it is not counted.
    pub fn auth_connections(&self) -> usize {
        let log = self.log();
        let ports: std::collections::BTreeSet<&str> = log
            .lines()
            .filter(|line| {
                line.starts_with("Failed publickey for")
                    || line.starts_with("Accepted publickey for")
                    || line.starts_with("Failed password for")
            })
            .filter_map(|line| line.split(" port ").nth(1))
            .filter_map(|rest| rest.split_whitespace().next())
            .collect();
        ports.len()
    }

    /// How many sessions authenticated.
    pub fn logins(&self) -> usize {
        self.log().matches("Accepted publickey for ").count()
    }
}

/// [`Lighttpd`] in the test's temp dir, with an access log; the backend's git has no global
/// config. The served repositories have `http.receivepack` enabled (see
/// [`HttpServer::create_repo`]).
#[derive(Debug)]
pub struct HttpServer {
    server: Lighttpd,
}

impl HttpServer {
    /// Plain HTTP. `users` are `(user, password)` pairs. `None` (after printing why) when
    /// lighttpd is missing outside CI.
    pub fn start(env: &TestEnv, users: &[(&str, &str)]) -> Option<Self> {
        Self::start_with(env, users, false, None)
    }

    /// HTTPS, with a server certificate for 127.0.0.1 signed by a generated CA ([`Self::trust_ca`]).
    pub fn start_tls(env: &TestEnv, users: &[(&str, &str)]) -> Option<Self> {
        Self::start_with(env, users, true, None)
    }

    /// [`Self::start_tls`], with the LFS requests of every repository passed to the Git LFS
    /// server on loopback port `lfs_port` (see `support::lfs::LfsServer`).
    pub fn start_tls_with_lfs(env: &TestEnv, users: &[(&str, &str)], lfs_port: u16) -> Option<Self> {
        Self::start_with(env, users, true, Some(lfs_port))
    }

    fn start_with(env: &TestEnv, users: &[(&str, &str)], tls: bool, lfs_port: Option<u16>) -> Option<Self> {
        let needs: &[&str] = if tls {
            &["lighttpd", "openssl"]
        } else {
            &["lighttpd"]
        };
        let programs = require_programs("the HTTP server fixture", needs)?;
        if tls {
            let module = super::loopback::mod_openssl(&programs[0]);
            require_programs("the HTTPS server fixture", &[s(&module)])?;
        }
        let options = HttpOptions {
            users,
            tls,
            gitconfig: None,
            access_log: true,
            lfs_port,
        };
        let dir = fresh_dir(env, "lighttpd");
        let server = Lighttpd::start(&dir, &git_program(env, "git-http-backend"), &options)
            .unwrap_or_else(|e| panic!("the lighttpd fixture could not start: {e}"));
        Some(Self { server })
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// A new served bare repository `repos/<name>.git` that accepts pushes.
    pub fn create_repo(&self, env: &TestEnv, name: &str) -> PathBuf {
        let repo = self.server.repo_path(name);
        fs::create_dir_all(&repo).expect("creating a served repository");
        env.git(&repo, ["init", "-q", "--bare"]);
        env.git(&repo, ["config", "http.receivepack", "true"]);
        repo
    }

    fn scheme(&self) -> &'static str {
        if self.server.ca().is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// `http(s)://<user>@127.0.0.1:PORT/git/<name>.git`.
    pub fn url_with_user(&self, user: &str, name: &str) -> String {
        format!(
            "{}://{user}@127.0.0.1:{}/git/{name}.git",
            self.scheme(),
            self.port()
        )
    }

    /// `http(s)://<user>:<password>@127.0.0.1:PORT/git/<name>.git`.
    pub fn url_with_password(&self, user: &str, password: &str, name: &str) -> String {
        format!(
            "{}://{user}:{password}@127.0.0.1:{}/git/{name}.git",
            self.scheme(),
            self.port()
        )
    }

    /// Trusts the generated CA through the client's config: `http.sslCAInfo` in the test's
    /// isolated global gitconfig.
    pub fn trust_ca(&self, env: &TestEnv) {
        let ca = self.server.ca().expect("trust_ca needs a TLS server");
        env.git(env.root(), ["config", "--global", "http.sslCAInfo", s(ca)]);
    }

    pub fn error_log(&self) -> String {
        self.server.error_log()
    }

    pub fn access_log(&self) -> String {
        self.server.access_log()
    }

    /// How many requests carried credentials that lighttpd rejected.
    pub fn rejected_logins(&self) -> usize {
        self.error_log().matches("password doesn't match").count()
    }

    /// Both logs, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "--- lighttpd error.log ---\n{}--- lighttpd access.log ---\n{}",
            self.error_log(),
            self.access_log()
        )
    }
}

/// A TCP server on a free loopback port that either never sends a byte (a server that hangs:
/// [`LoopbackServer::hanging`]) or relays each connection to another port on loopback (what a
/// server behind it sees of its clients' connections: [`LoopbackServer::relaying_to`]), and
/// counts the connections it accepts. Dropping it closes the connections it keeps and stops.
#[derive(Debug)]
pub struct LoopbackServer {
    port: u16,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl LoopbackServer {
    pub fn hanging() -> Self {
        Self::start(None)
    }

    pub fn relaying_to(backend: u16) -> Self {
        Self::start(Some(backend))
    }

    fn start(backend: Option<u16>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let port = listener.local_addr().expect("local address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (stop, accepted) = (Arc::clone(&stop), Arc::clone(&accepted));
            std::thread::spawn(move || {
                let mut open = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            accepted.fetch_add(1, Ordering::SeqCst);
                            match backend {
                                Some(backend) => relay(stream, backend),
                                None => {
                                    // Read what the client sends (so its writes never block),
                                    // answer nothing.
                                    let _ = stream.set_nonblocking(true);
                                    open.push(stream);
                                }
                            }
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                    let mut buf = [0u8; 4096];
                    for stream in &mut open {
                        let _ = stream.read(&mut buf);
                    }
                }
                for stream in &open {
                    let _ = stream.shutdown(Shutdown::Both);
                }
            })
        };
        Self {
            port,
            stop,
            accepted,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many connections it has accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Copies `client` to a new connection to `127.0.0.1:<backend>` and back, each way in a thread.
fn relay(client: std::net::TcpStream, backend: u16) {
    let _ = client.set_nonblocking(false);
    let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", backend)) else {
        return;
    };
    for (mut from, mut to) in [
        (
            client.try_clone().expect("clone"),
            server.try_clone().expect("clone"),
        ),
        (server, client),
    ] {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Write);
        });
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
