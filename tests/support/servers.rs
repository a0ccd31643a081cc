//! Real servers on loopback, started by the tests themselves: `sshd` (Debian's openssh-server),
//! `git http-backend` behind lighttpd (plain HTTP or TLS with a generated CA), and a TCP server
//! that accepts connections and never answers.
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
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{TestEnv, run_ok, s, sh_quote};

/// How long a fixture waits for its server to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a fixture tries a new port when its server could not start (say, a port race).
const START_ATTEMPTS: usize = 3;
/// The `~/.ssh/config`-style host alias the ssh fixture's client config defines.
pub const SSH_ALIAS: &str = "mirror-host";

/// Where a program is: an absolute path as given, else the first match on the test process's
/// PATH, then in /usr/sbin and /sbin (where sshd lives, often off a user's PATH).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = Path::new(name);
    if path.is_absolute() {
        return path.is_file().then(|| path.to_path_buf());
    }
    let inherited = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&inherited)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

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
        "not found on PATH, /usr/sbin or /sbin; on Debian: apt-get install openssh-server \
         openssh-client lighttpd lighttpd-mod-openssl openssl gitolite3",
    )
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
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

fn read_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()))
}

/// Starts `cmd` (output to `log`) and waits until `port` accepts connections. `Err` with the
/// server's output when it exited or did not listen within [`START_TIMEOUT`].
fn spawn_listening(mut cmd: Command, port: u16, log: &Path) -> Result<Child, String> {
    let out = fs::File::create(log).expect("creating the server log");
    let err = out.try_clone().expect("cloning the log handle");
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    let mut child = cmd.spawn().map_err(|e| format!("starting {cmd:?}: {e}"))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "{cmd:?} exited with {status} before listening on port {port}:\n{}",
                read_lossy(log)
            ));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(child);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "{cmd:?} did not listen on port {port} within {START_TIMEOUT:?}:\n{}",
                read_lossy(log)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `make(port)` with a fresh port until its server listens, a few times (another process may
/// take the port between [`free_port`] and the server's bind).
fn start_on_free_port(what: &str, mut make: impl FnMut(u16) -> Result<Child, String>) -> (Child, u16) {
    let mut errors = Vec::new();
    for _ in 0..START_ATTEMPTS {
        let port = free_port();
        match make(port) {
            Ok(child) => return (child, port),
            Err(e) => errors.push(e),
        }
    }
    panic!("the {what} fixture could not start:\n{}", errors.join("\n---\n"));
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs a setup tool (ssh-keygen, openssl) quietly, panicking with its output on failure.
fn tool(program: &Path, args: &[&str], dir: &Path) -> String {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(dir).stdin(Stdio::null());
    run_ok(&mut cmd)
}

/// A new unencrypted ed25519 key pair at `path` / `path.pub`; returns the public key line.
fn keygen(ssh_keygen: &Path, path: &Path, comment: &str) -> String {
    let dir = path.parent().expect("key dir");
    tool(
        ssh_keygen,
        &["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", s(path)],
        dir,
    );
    fs::read_to_string(path.with_extension("pub"))
        .expect("reading the public key")
        .trim()
        .to_owned()
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

/// `sshd -D -e -f <temp config>` on a free loopback port, running as the current user, with a
/// generated host key and an `authorized_keys` holding a generated client key.
///
/// The client side is a temporary ssh config (see [`SshServer::git_ssh_command`]): a host alias
/// [`SSH_ALIAS`] for 127.0.0.1 and the port with the client key as `IdentityFile`, and for every
/// host a temporary known_hosts that holds the server's host key (see `trust_host_key`,
/// `forget_host_key`, `use_wrong_host_key`), no global known_hosts, no agent.
#[derive(Debug)]
pub struct SshServer {
    child: Child,
    dir: PathBuf,
    port: u16,
    user: String,
    ssh_keygen: PathBuf,
    client_key: PathBuf,
    host_public_key: String,
    known_hosts: PathBuf,
    ssh_config: PathBuf,
    log: PathBuf,
}

impl SshServer {
    /// `None` (after printing why) when sshd, ssh or ssh-keygen is missing outside CI.
    pub fn start(env: &TestEnv, options: SshOptions) -> Option<Self> {
        let programs = require_programs("the ssh server fixture", &["sshd", "ssh", "ssh-keygen"])?;
        let (sshd, ssh_keygen) = (programs[0].clone(), programs[2].clone());
        let dir = fresh_dir(env, "sshd");
        let user = run_ok(Command::new("id").arg("-un")).trim().to_owned();

        let host_key = dir.join("host_key");
        let host_public_key = keygen(&ssh_keygen, &host_key, "git-repo-sync-test-host");
        let client_key = dir.join("client_key");
        let client_public_key = keygen(&ssh_keygen, &client_key, "git-repo-sync-test-client");
        let authorized_keys = dir.join("authorized_keys");
        let entry = if options.git_shell {
            let git_shell = PathBuf::from(env.git(env.root(), ["--exec-path"]).trim()).join("git-shell");
            assert!(git_shell.is_file(), "no git-shell at {}", git_shell.display());
            format!(
                "command=\"{} -c \\\"$SSH_ORIGINAL_COMMAND\\\"\",no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-pty {client_public_key}\n",
                git_shell.display()
            )
        } else {
            format!("{client_public_key}\n")
        };
        fs::write(&authorized_keys, entry).expect("writing authorized_keys");

        // sshd started as root needs its privilege separation directory.
        let _ = fs::create_dir_all("/run/sshd");

        let config = dir.join("sshd_config");
        let log = dir.join("sshd.log");
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        let (child, port) = start_on_free_port("sshd", |port| {
            fs::write(
                &config,
                format!(
                    "ListenAddress 127.0.0.1:{port}\n\
                     HostKey {host_key}\n\
                     PidFile none\n\
                     AuthorizedKeysFile {authorized_keys}\n\
                     UsePAM no\n\
                     StrictModes no\n\
                     PubkeyAuthentication yes\n\
                     PasswordAuthentication {password}\n\
                     KbdInteractiveAuthentication no\n\
                     PermitRootLogin prohibit-password\n\
                     AllowAgentForwarding no\n\
                     AllowTcpForwarding no\n\
                     X11Forwarding no\n\
                     PrintMotd no\n\
                     LogLevel VERBOSE\n\
                     MaxSessions {max_sessions}\n\
                     SetEnv GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL={gitconfig}\n",
                    host_key = host_key.display(),
                    authorized_keys = authorized_keys.display(),
                    password = yes_no(options.password_auth),
                    max_sessions = options.max_sessions.unwrap_or(10),
                    gitconfig = env.home().join(".gitconfig").display(),
                ),
            )
            .expect("writing sshd_config");
            let mut cmd = Command::new(&sshd);
            cmd.args(["-D", "-e", "-f"]).arg(&config);
            cmd.env_clear().env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            );
            spawn_listening(cmd, port, &log)
        });

        let known_hosts = dir.join("known_hosts");
        let ssh_config = dir.join("ssh_config");
        fs::write(
            &ssh_config,
            format!(
                "Host {SSH_ALIAS}\n\
                 \tHostName 127.0.0.1\n\
                 \tPort {port}\n\
                 \tIdentityFile {client_key}\n\
                 Host *\n\
                 \tUserKnownHostsFile {known_hosts}\n\
                 \tGlobalKnownHostsFile /dev/null\n\
                 \tIdentityAgent none\n\
                 \tStrictHostKeyChecking yes\n\
                 \tUpdateHostKeys no\n",
                client_key = client_key.display(),
                known_hosts = known_hosts.display(),
            ),
        )
        .expect("writing the ssh client config");

        let server = Self {
            child,
            dir,
            port,
            user,
            ssh_keygen,
            client_key,
            host_public_key,
            known_hosts,
            ssh_config,
            log,
        };
        server.trust_host_key();
        Some(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user the server lets in: the user running the tests.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The private key that `authorized_keys` lets in.
    pub fn client_key(&self) -> &Path {
        &self.client_key
    }

    /// The public half of [`Self::client_key`].
    pub fn client_public_key(&self) -> PathBuf {
        self.client_key.with_extension("pub")
    }

    /// Replaces `authorized_keys` (sshd reads it at every login), for a fixture that decides
    /// itself what the client key may run, as gitolite does with its forced command.
    pub fn set_authorized_keys(&self, content: &str) {
        fs::write(self.dir.join("authorized_keys"), content).expect("writing authorized_keys");
    }

    /// A new key pair that the server does not know; returns the private key's path.
    pub fn unauthorized_key(&self, name: &str) -> PathBuf {
        let path = self.dir.join(name);
        keygen(&self.ssh_keygen, &path, "git-repo-sync-test-unauthorized");
        path
    }

    /// `ssh://user@127.0.0.1:PORT/<absolute path>`.
    pub fn url(&self, repo: &Path) -> String {
        format!("ssh://{}@127.0.0.1:{}{}", self.user, self.port, repo.display())
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
        let mut parts = self.host_public_key.split_whitespace();
        format!(
            "{} {}",
            parts.next().expect("key type"),
            parts.next().expect("key data")
        )
    }

    /// known_hosts holds the server's real host key.
    pub fn trust_host_key(&self) {
        fs::write(
            &self.known_hosts,
            format!("[127.0.0.1]:{} {}\n", self.port, self.host_public_key()),
        )
        .expect("writing known_hosts");
    }

    /// known_hosts is empty: the server is an unknown host.
    pub fn forget_host_key(&self) {
        fs::write(&self.known_hosts, "").expect("emptying known_hosts");
    }

    /// known_hosts holds another key for the server's address: a changed host key.
    pub fn use_wrong_host_key(&self) {
        let other = self.dir.join("other_host_key");
        let key = keygen(&self.ssh_keygen, &other, "some-other-host");
        let mut parts = key.split_whitespace();
        let (kind, data) = (parts.next().expect("type"), parts.next().expect("data"));
        fs::write(
            &self.known_hosts,
            format!("[127.0.0.1]:{} {kind} {data}\n", self.port),
        )
        .expect("writing known_hosts");
    }

    /// Everything sshd logged (`-e`, LogLevel VERBOSE).
    pub fn log(&self) -> String {
        read_lossy(&self.log)
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

impl Drop for SshServer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// `git http-backend` as a CGI behind lighttpd (`lighttpd -D -f <temp conf>`) on a free loopback
/// port, under `/git/`, with HTTP basic auth (`mod_auth` + `mod_authn_file`, a plain user file),
/// optionally over TLS with a certificate from a generated CA. The served repositories live in the
/// fixture's `repos/` and have `http.receivepack` enabled.
#[derive(Debug)]
pub struct HttpServer {
    child: Child,
    dir: PathBuf,
    port: u16,
    ca: Option<PathBuf>,
    error_log: PathBuf,
    access_log: PathBuf,
}

impl HttpServer {
    /// Plain HTTP. `users` are `(user, password)` pairs. `None` (after printing why) when
    /// lighttpd is missing outside CI.
    pub fn start(env: &TestEnv, users: &[(&str, &str)]) -> Option<Self> {
        Self::start_with(env, users, false)
    }

    /// HTTPS, with a server certificate for 127.0.0.1 signed by a generated CA ([`Self::ca_file`]).
    pub fn start_tls(env: &TestEnv, users: &[(&str, &str)]) -> Option<Self> {
        Self::start_with(env, users, true)
    }

    fn start_with(env: &TestEnv, users: &[(&str, &str)], tls: bool) -> Option<Self> {
        let needs: &[&str] = if tls {
            &["lighttpd", "openssl"]
        } else {
            &["lighttpd"]
        };
        let programs = require_programs("the HTTP server fixture", needs)?;
        let lighttpd = programs[0].clone();
        if tls {
            let module = lighttpd_module_dir(&lighttpd).join("mod_openssl.so");
            require_programs("the HTTPS server fixture", &[s(&module)])?;
        }
        let backend = PathBuf::from(env.git(env.root(), ["--exec-path"]).trim()).join("git-http-backend");
        assert!(backend.is_file(), "no git http-backend at {}", backend.display());

        let dir = fresh_dir(env, "lighttpd");
        let repos = dir.join("repos");
        let docroot = dir.join("htdocs");
        fs::create_dir_all(&repos).expect("creating repos/");
        fs::create_dir_all(&docroot).expect("creating htdocs/");
        let users_file = dir.join("users");
        let lines: String = users.iter().map(|(u, p)| format!("{u}:{p}\n")).collect();
        fs::write(&users_file, lines).expect("writing the user file");

        let ca = tls.then(|| make_certificates(&programs[1], &dir));
        let error_log = dir.join("error.log");
        let access_log = dir.join("access.log");
        let config = dir.join("lighttpd.conf");
        let log = dir.join("lighttpd.out");
        let (child, port) = start_on_free_port("lighttpd", |port| {
            let tls_lines = if tls {
                format!(
                    "server.modules += (\"mod_openssl\")\n\
                     ssl.engine = \"enable\"\n\
                     ssl.pemfile = \"{}\"\n\
                     ssl.privkey = \"{}\"\n",
                    dir.join("server.crt").display(),
                    dir.join("server.key").display(),
                )
            } else {
                String::new()
            };
            fs::write(
                &config,
                format!(
                    "server.modules = (\"mod_access\", \"mod_alias\", \"mod_auth\", \"mod_authn_file\", \
                     \"mod_cgi\", \"mod_setenv\", \"mod_accesslog\")\n\
                     server.document-root = \"{docroot}\"\n\
                     server.bind = \"127.0.0.1\"\n\
                     server.port = {port}\n\
                     server.errorlog = \"{error_log}\"\n\
                     accesslog.filename = \"{access_log}\"\n\
                     {tls_lines}\
                     alias.url = ( \"/git/\" => \"{backend}/\" )\n\
                     $HTTP[\"url\"] =~ \"^/git/\" {{\n\
                     \tcgi.assign = ( \"\" => \"\" )\n\
                     \tsetenv.set-environment = ( \"GIT_PROJECT_ROOT\" => \"{repos}\", \
                     \"GIT_HTTP_EXPORT_ALL\" => \"1\", \"GIT_CONFIG_NOSYSTEM\" => \"1\" )\n\
                     }}\n\
                     auth.backend = \"plain\"\n\
                     auth.backend.plain.userfile = \"{users_file}\"\n\
                     auth.require = ( \"/git/\" => ( \"method\" => \"basic\", \"realm\" => \"git\", \
                     \"require\" => \"valid-user\" ) )\n",
                    docroot = docroot.display(),
                    error_log = error_log.display(),
                    access_log = access_log.display(),
                    backend = backend.display(),
                    repos = repos.display(),
                    users_file = users_file.display(),
                ),
            )
            .expect("writing lighttpd.conf");
            let mut cmd = Command::new(&lighttpd);
            cmd.args(["-D", "-f"]).arg(&config);
            cmd.env_clear().env("PATH", "/usr/local/bin:/usr/bin:/bin");
            spawn_listening(cmd, port, &log)
                .map_err(|e| format!("{e}\nerror.log:\n{}", read_lossy(&error_log)))
        });
        Some(Self {
            child,
            dir,
            port,
            ca,
            error_log,
            access_log,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A new served bare repository `repos/<name>.git` that accepts pushes.
    pub fn create_repo(&self, env: &TestEnv, name: &str) -> PathBuf {
        let repo = self.dir.join("repos").join(format!("{name}.git"));
        fs::create_dir_all(&repo).expect("creating a served repository");
        env.git(&repo, ["init", "-q", "--bare"]);
        env.git(&repo, ["config", "http.receivepack", "true"]);
        repo
    }

    fn scheme(&self) -> &'static str {
        if self.ca.is_some() { "https" } else { "http" }
    }

    /// `http(s)://<user>@127.0.0.1:PORT/git/<name>.git`.
    pub fn url_with_user(&self, user: &str, name: &str) -> String {
        format!(
            "{}://{user}@127.0.0.1:{}/git/{name}.git",
            self.scheme(),
            self.port
        )
    }

    /// `http(s)://<user>:<password>@127.0.0.1:PORT/git/<name>.git`.
    pub fn url_with_password(&self, user: &str, password: &str, name: &str) -> String {
        format!(
            "{}://{user}:{password}@127.0.0.1:{}/git/{name}.git",
            self.scheme(),
            self.port
        )
    }

    /// Trusts the generated CA through the client's config: `http.sslCAInfo` in the test's
    /// isolated global gitconfig.
    pub fn trust_ca(&self, env: &TestEnv) {
        let ca = self.ca.as_ref().expect("trust_ca needs a TLS server");
        env.git(env.root(), ["config", "--global", "http.sslCAInfo", s(ca)]);
    }

    pub fn error_log(&self) -> String {
        read_lossy(&self.error_log)
    }

    pub fn access_log(&self) -> String {
        read_lossy(&self.access_log)
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

impl Drop for HttpServer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Where lighttpd loads its modules from (Debian: /usr/lib/lighttpd; Nix: next to the binary).
fn lighttpd_module_dir(lighttpd: &Path) -> PathBuf {
    let prefix = lighttpd
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("/usr"));
    [
        prefix.join("lib/lighttpd"),
        prefix.join("lib"),
        PathBuf::from("/usr/lib/lighttpd"),
    ]
    .into_iter()
    .find(|dir| dir.join("mod_cgi.so").exists())
    .unwrap_or_else(|| PathBuf::from("/usr/lib/lighttpd"))
}

/// A self-signed CA (`ca.crt`) and a server key and certificate for 127.0.0.1 signed by it
/// (`server.key`, `server.crt`), made with the openssl CLI in `dir`. Returns the CA's path.
fn make_certificates(openssl: &Path, dir: &Path) -> PathBuf {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca_args = vec!["req", "-x509"];
    ca_args.extend(ec);
    ca_args.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=git-repo-sync test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    tool(openssl, &ca_args, dir);
    let mut csr_args = vec!["req"];
    csr_args.extend(ec);
    csr_args.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    tool(openssl, &csr_args, dir);
    fs::write(
        dir.join("server.ext"),
        "basicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\n\
         subjectAltName=IP:127.0.0.1\n",
    )
    .expect("writing the certificate extensions");
    tool(
        openssl,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
        dir,
    );
    dir.join("ca.crt")
}

/// Accepts TCP connections on a free loopback port and never sends a byte: a server that hangs.
/// Dropping it closes every connection and stops the thread.
#[derive(Debug)]
pub struct HangingServer {
    port: u16,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl HangingServer {
    pub fn start() -> Self {
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
                            // Read what the client sends (so its writes never block), answer nothing.
                            let _ = stream.set_nonblocking(true);
                            open.push(stream);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
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

impl Drop for HangingServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
