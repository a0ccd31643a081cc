//! Real servers on loopback, started from a directory and plain options, with nothing of the test
//! harness behind them: OpenSSH's `sshd` with generated host and client keys, and
//! `git http-backend` as a CGI behind lighttpd with HTTP basic auth, plain or over TLS with a
//! certificate from a generated CA. The integration tests' fixtures (`servers.rs`) and the latency
//! benchmark (`benches/support`, which includes this file by path) are thin layers over it.
//!
//! Each server runs in the foreground as the current user, on a free port of 127.0.0.1, with its
//! files in a directory of its own and an environment of its own (only [`SERVER_PATH`]), and is
//! stopped (killed and waited for) when dropped. Nothing here uses the machine's own sshd, web
//! server or `~/.ssh`.

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) type Res<T> = Result<T, String>;

/// How long a server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(5);
/// How many ports are tried when a server could not start (another process may take the port
/// between [`free_port`] and the server's bind).
const START_ATTEMPTS: usize = 3;
/// The servers' `PATH`, their only variable. lighttpd passes none of its environment to its CGI
/// (git http-backend), so there it only matters to lighttpd itself.
const SERVER_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Where the programs started here come from.
pub(crate) const INSTALL_HINT: &str =
    "on Debian: apt-get install openssh-server openssh-client lighttpd lighttpd-mod-openssl openssl";

/// Where a program is: an absolute path as given, else the first match on this process's PATH,
/// then in /usr/sbin and /sbin (where sshd lives, often off a user's PATH).
pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
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

/// [`find_program`], or what is missing and how to install it.
fn require_program(name: &str) -> Res<PathBuf> {
    find_program(name).ok_or_else(|| format!("{name} not found on PATH, /usr/sbin or /sbin; {INSTALL_HINT}"))
}

/// A port on 127.0.0.1 that was free a moment ago.
pub(crate) fn free_port() -> Res<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("binding 127.0.0.1:0: {e}"))
}

pub(crate) fn read_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()))
}

fn write(path: &Path, content: impl AsRef<[u8]>) -> Res<()> {
    fs::write(path, content).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Runs a set-up tool (ssh-keygen, openssl, id) in `dir`; its stdout, or its output when it
/// failed.
fn tool(program: &Path, args: &[&str], dir: &Path) -> Res<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("starting {}: {e}", program.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {args:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
            program.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A new unencrypted ed25519 key pair at `path` / `path.pub`; returns the public key line.
fn keygen(ssh_keygen: &Path, path: &Path, comment: &str) -> Res<String> {
    let dir = path.parent().ok_or("a key path has a directory")?;
    tool(
        ssh_keygen,
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            comment,
            "-f",
            &path.to_string_lossy(),
        ],
        dir,
    )?;
    let public = path.with_extension("pub");
    let line = fs::read_to_string(&public).map_err(|e| format!("reading {}: {e}", public.display()))?;
    Ok(line.trim().to_owned())
}

/// `ssh-ed25519 AAAA...` of a public key line, without its comment.
pub(crate) fn key_without_comment(line: &str) -> String {
    line.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// Starts the server whose command `make(port)` returns (after writing its config for that
/// port), output to `log`, and waits until it accepts connections, on a fresh port for each of a
/// few tries. `Err` with what the server said when no try worked.
pub(crate) fn start_listening(mut make: impl FnMut(u16) -> Res<Command>, log: &Path) -> Res<(Child, u16)> {
    let mut errors = Vec::new();
    for _ in 0..START_ATTEMPTS {
        let port = free_port()?;
        let mut cmd = make(port)?;
        let out = fs::File::create(log).map_err(|e| format!("creating {}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("cloning the log handle: {e}"))?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        cmd.env_clear().env("PATH", SERVER_PATH);
        let mut child = cmd.spawn().map_err(|e| format!("starting {cmd:?}: {e}"))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + START_TIMEOUT;
        let failure = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break format!("{cmd:?} exited with {status} before listening on port {port}");
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok((child, port));
            }
            if Instant::now() >= deadline {
                stop(&mut child);
                break format!("{cmd:?} did not listen on port {port} within {START_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        errors.push(format!("{failure}:\n{}", read_lossy(log)));
    }
    Err(errors.join("\n---\n"))
}

pub(crate) fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// What [`Sshd::start`] sets up besides the keys.
#[derive(Debug, Clone, Default)]
pub(crate) struct SshdOptions {
    /// git's `git-shell`: the client key may only run `git-shell -c "$SSH_ORIGINAL_COMMAND"`
    /// (a forced command). `None`: any command.
    pub(crate) forced_git_shell: Option<PathBuf>,
    /// Offer password authentication too, so that a client that may prompt would prompt.
    pub(crate) password_auth: bool,
    /// sshd's `MaxSessions`: the sessions one connection may have open at once (sshd's default
    /// is 10).
    pub(crate) max_sessions: Option<u32>,
    /// `LogLevel VERBOSE`, which logs every authentication attempt, each with the client's port.
    pub(crate) verbose_log: bool,
    /// Each session's `HOME`. sshd runs the command through the user's login shell, and bash run
    /// by sshd sources `~/.bashrc`, whatever the machine's user put there (150 ms of `pyenv init`
    /// per session on one machine), which a git server's account does not have.
    pub(crate) home: Option<PathBuf>,
}

/// `sshd -D -e -f <config>` on a free loopback port, running as the current user, with a
/// generated host key and an `authorized_keys` holding a generated client key. The client side
/// is a config for `ssh -F` that [`Sshd::write_client_config`] writes.
#[derive(Debug)]
pub(crate) struct Sshd {
    child: Child,
    dir: PathBuf,
    port: u16,
    user: String,
    ssh_keygen: PathBuf,
    client_key: PathBuf,
    host_public_key: String,
}

impl Sshd {
    /// Starts it in `dir` (created if missing). The server's git gets `GIT_CONFIG_NOSYSTEM=1` and
    /// `gitconfig` as its global config. `Err` when sshd, ssh or ssh-keygen is missing or the
    /// server does not start.
    pub(crate) fn start(dir: &Path, gitconfig: &Path, options: &SshdOptions) -> Res<Self> {
        let sshd = require_program("sshd")?;
        let ssh_keygen = require_program("ssh-keygen")?;
        require_program("ssh")?;
        fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let user = tool(Path::new("id"), &["-un"], dir)?.trim().to_owned();

        let host_key = dir.join("host_key");
        let host_public_key = keygen(&ssh_keygen, &host_key, "git-repo-sync-loopback-host")?;
        let client_key = dir.join("client_key");
        let client_public_key = keygen(&ssh_keygen, &client_key, "git-repo-sync-loopback-client")?;
        let authorized_keys = dir.join("authorized_keys");
        let entry = match &options.forced_git_shell {
            Some(git_shell) => {
                if !git_shell.is_file() {
                    return Err(format!("no git-shell at {}", git_shell.display()));
                }
                format!(
                    "command=\"{} -c \\\"$SSH_ORIGINAL_COMMAND\\\"\",no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-pty {client_public_key}\n",
                    git_shell.display()
                )
            }
            None => format!("{client_public_key}\n"),
        };
        write(&authorized_keys, entry)?;

        // sshd started as root needs its privilege separation directory.
        let _ = fs::create_dir_all("/run/sshd");

        let config = dir.join("sshd_config");
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        let log_level = if options.verbose_log { "VERBOSE" } else { "INFO" };
        let home = options
            .home
            .as_ref()
            .map(|home| format!(" HOME={}", home.display()))
            .unwrap_or_default();
        let (child, port) = start_listening(
            |port| {
                write(
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
                         UseDNS no\n\
                         LogLevel {log_level}\n\
                         MaxSessions {max_sessions}\n\
                         SetEnv GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL={gitconfig}{home}\n",
                        host_key = host_key.display(),
                        authorized_keys = authorized_keys.display(),
                        password = yes_no(options.password_auth),
                        max_sessions = options.max_sessions.unwrap_or(10),
                        gitconfig = gitconfig.display(),
                    ),
                )?;
                let mut cmd = Command::new(&sshd);
                cmd.args(["-D", "-e", "-f"]).arg(&config);
                Ok(cmd)
            },
            &dir.join("sshd.log"),
        )
        .map_err(|e| format!("sshd did not start:\n{e}"))?;
        Ok(Self {
            child,
            dir: dir.to_path_buf(),
            port,
            user,
            ssh_keygen,
            client_key,
            host_public_key: key_without_comment(&host_public_key),
        })
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The listening sshd, which reaps every connection's processes.
    // Only the benchmark asks, to measure the server's CPU time; the tests do not.
    #[allow(dead_code)]
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where its files are.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The user it lets in: the current user.
    pub(crate) fn user(&self) -> &str {
        &self.user
    }

    /// The private key that `authorized_keys` lets in.
    pub(crate) fn client_key(&self) -> &Path {
        &self.client_key
    }

    /// The server's host public key, `ssh-ed25519 AAAA...`.
    pub(crate) fn host_public_key(&self) -> &str {
        &self.host_public_key
    }

    /// Replaces `authorized_keys` (sshd reads it at every login).
    pub(crate) fn set_authorized_keys(&self, content: &str) -> Res<()> {
        write(&self.dir.join("authorized_keys"), content)
    }

    /// A new key pair `<dir>/<name>` that the server does not know; returns the public key line.
    pub(crate) fn new_key(&self, name: &str, comment: &str) -> Res<String> {
        keygen(&self.ssh_keygen, &self.dir.join(name), comment)
    }

    /// Everything sshd logged (`-e`).
    pub(crate) fn log(&self) -> String {
        read_lossy(&self.dir.join("sshd.log"))
    }

    /// Writes a known_hosts at `path` in which the server's host key is the key of
    /// `127.0.0.1:port` (its own port, or a proxy's).
    pub(crate) fn write_known_hosts(&self, path: &Path, port: u16) -> Res<()> {
        write(path, format!("[127.0.0.1]:{port} {}\n", self.host_public_key))
    }

    /// Writes an ssh client config (for `ssh -F`; OpenSSH takes `~` from passwd, not `$HOME`) at
    /// `path`, in which the hosts `client.hosts` are this server reached at `127.0.0.1:port`
    /// with the client key, and every host's only known hosts are `client.known_hosts`, with no
    /// global known_hosts and no agent.
    pub(crate) fn write_client_config(&self, path: &Path, client: &ClientConfig<'_>) -> Res<()> {
        let (user, identities_only, batch) = if client.unattended {
            (
                format!("\tUser {}\n", self.user),
                "\tIdentitiesOnly yes\n",
                "\tBatchMode yes\n",
            )
        } else {
            (String::new(), "", "")
        };
        write(
            path,
            format!(
                "Host {hosts}\n\
                 \tHostName 127.0.0.1\n\
                 \tPort {port}\n\
                 {user}\
                 \tIdentityFile {key}\n\
                 {identities_only}\
                 Host *\n\
                 \tUserKnownHostsFile {known_hosts}\n\
                 \tGlobalKnownHostsFile /dev/null\n\
                 \tIdentityAgent none\n\
                 \tStrictHostKeyChecking yes\n\
                 \tUpdateHostKeys no\n\
                 {batch}",
                hosts = client.hosts,
                port = client.port,
                key = self.client_key.display(),
                known_hosts = client.known_hosts.display(),
            ),
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// What [`Sshd::write_client_config`] writes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientConfig<'a> {
    /// The `Host` patterns that mean this server.
    pub(crate) hosts: &'a str,
    /// The port they are reached at: the server's own, or a proxy's.
    pub(crate) port: u16,
    pub(crate) known_hosts: &'a Path,
    /// The server's user, only the client key (`IdentitiesOnly`) and never a prompt
    /// (`BatchMode`): for a client that must not depend on the user's own keys or a terminal.
    pub(crate) unattended: bool,
}

/// What [`Lighttpd::start`] sets up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HttpOptions<'a> {
    /// The `(user, password)` pairs basic auth lets in.
    pub(crate) users: &'a [(&'a str, &'a str)],
    /// HTTPS, with a server certificate for 127.0.0.1 signed by a generated CA.
    pub(crate) tls: bool,
    /// The global config of the server's git; `None`: none (it has no `HOME` either).
    pub(crate) gitconfig: Option<&'a Path>,
    /// Log every request to `access.log`.
    pub(crate) access_log: bool,
    /// The loopback port of a Git LFS server that takes each repository's LFS requests
    /// (`/git/<name>.git/info/lfs/...`, behind the same basic auth but for the object URLs it
    /// hands out with a token of their own), as a forge serves them.
    pub(crate) lfs_port: Option<u16>,
}

/// `git http-backend` as a CGI behind `lighttpd -D -f <config>` on a free loopback port, under
/// `/git/`, with HTTP basic auth (`mod_auth` + `mod_authn_file`, a plain user file), optionally
/// over TLS. The served repositories are `repos/<name>.git` (see [`Lighttpd::repo_path`]).
/// The backend's answer is streamed as it comes (`server.stream-response-body`), as forges do:
/// a push's report reaches the client while the mirror's hooks and `gc --auto` still run.
#[derive(Debug)]
pub(crate) struct Lighttpd {
    child: Child,
    dir: PathBuf,
    port: u16,
    ca: Option<PathBuf>,
}

impl Lighttpd {
    /// Starts it in `dir` (created if missing), running `backend` (`git-http-backend` in git's
    /// exec path) with `GIT_CONFIG_NOSYSTEM=1`. `Err` when lighttpd (or, for TLS, openssl or
    /// lighttpd's mod_openssl) is missing or the server does not start.
    pub(crate) fn start(dir: &Path, backend: &Path, options: &HttpOptions<'_>) -> Res<Self> {
        let lighttpd = require_program("lighttpd")?;
        if !backend.is_file() {
            return Err(format!("no git http-backend at {}", backend.display()));
        }
        let repos = dir.join("repos");
        let docroot = dir.join("htdocs");
        for d in [&repos, &docroot] {
            fs::create_dir_all(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
        }
        let users = dir.join("users");
        let lines: String = options.users.iter().map(|(u, p)| format!("{u}:{p}\n")).collect();
        write(&users, lines)?;

        let (ca, tls_lines) = if options.tls {
            let openssl = require_program("openssl")?;
            let module = mod_openssl(&lighttpd);
            if !module.is_file() {
                return Err(format!("no {}; {INSTALL_HINT}", module.display()));
            }
            let ca = make_certificates(&openssl, dir)?;
            let lines = format!(
                "server.modules += (\"mod_openssl\")\n\
                 ssl.engine = \"enable\"\n\
                 ssl.pemfile = \"{}\"\n\
                 ssl.privkey = \"{}\"\n",
                dir.join("server.crt").display(),
                dir.join("server.key").display(),
            );
            (Some(ca), lines)
        } else {
            (None, String::new())
        };
        let access_log = if options.access_log {
            format!(
                "server.modules += (\"mod_accesslog\")\n\
                 accesslog.filename = \"{}\"\n",
                dir.join("access.log").display()
            )
        } else {
            String::new()
        };
        let gitconfig = options
            .gitconfig
            .map(|path| format!(", \"GIT_CONFIG_GLOBAL\" => \"{}\"", path.display()))
            .unwrap_or_default();
        // The LFS server sees plain HTTP; X-Forwarded-Proto (which mod_proxy sends) tells it the
        // scheme of the URLs it hands out.
        let (proxy_module, lfs_lines) = match options.lfs_port {
            Some(port) => (
                ", \"mod_proxy\"",
                format!(
                    "$HTTP[\"url\"] =~ \"^/git/[^/]+\\.git/info/lfs/\" {{\n\
                     \tproxy.server = ( \"\" => ( ( \"host\" => \"127.0.0.1\", \"port\" => {port} ) ) )\n\
                     }}\nelse "
                ),
            ),
            None => ("", String::new()),
        };
        // The LFS server's object URLs carry their own token (a forge's pre-signed URLs), which
        // the LFS server checks: basic auth would refuse their `Bearer` header.
        let (storage_open, storage_close) = if options.lfs_port.is_some() {
            (
                "$HTTP[\"url\"] !~ \"^/git/[^/]+\\.git/info/lfs/objects/storage/\" {\n",
                "}\n",
            )
        } else {
            ("", "")
        };
        let error_log = dir.join("error.log");
        let config = dir.join("lighttpd.conf");
        let (child, port) = start_listening(
            |port| {
                write(
                    &config,
                    format!(
                        "server.modules = (\"mod_access\", \"mod_alias\", \"mod_auth\", \"mod_authn_file\"{proxy_module}, \
                         \"mod_cgi\", \"mod_setenv\")\n\
                         server.document-root = \"{docroot}\"\n\
                         server.bind = \"127.0.0.1\"\n\
                         server.port = {port}\n\
                         server.errorlog = \"{error_log}\"\n\
                         server.stream-response-body = 1\n\
                         {access_log}\
                         {tls_lines}\
                         {lfs_lines}$HTTP[\"url\"] =~ \"^/git/\" {{\n\
                         \talias.url = ( \"/git/\" => \"{backend}/\" )\n\
                         \tcgi.assign = ( \"\" => \"\" )\n\
                         \tsetenv.set-environment = ( \"GIT_PROJECT_ROOT\" => \"{repos}\", \
                         \"GIT_HTTP_EXPORT_ALL\" => \"1\", \"GIT_CONFIG_NOSYSTEM\" => \"1\"{gitconfig} )\n\
                         }}\n\
                         auth.backend = \"plain\"\n\
                         auth.backend.plain.userfile = \"{users}\"\n\
                         {storage_open}auth.require = ( \"/git/\" => ( \"method\" => \"basic\", \"realm\" => \"git\", \
                         \"require\" => \"valid-user\" ) )\n{storage_close}",
                        docroot = docroot.display(),
                        error_log = error_log.display(),
                        backend = backend.display(),
                        repos = repos.display(),
                        users = users.display(),
                    ),
                )?;
                let mut cmd = Command::new(&lighttpd);
                cmd.args(["-D", "-f"]).arg(&config);
                Ok(cmd)
            },
            &dir.join("lighttpd.out"),
        )
        .map_err(|e| {
            format!(
                "lighttpd did not start:\n{e}\nerror.log:\n{}",
                read_lossy(&error_log)
            )
        })?;
        Ok(Self {
            child,
            dir: dir.to_path_buf(),
            port,
            ca,
        })
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// lighttpd's process, which reaps every CGI it runs.
    // Only the benchmark asks, to measure the server's CPU time; the tests do not.
    #[allow(dead_code)]
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where the served repository `name` lives (`git init --bare` it there, with
    /// `http.receivepack` on).
    pub(crate) fn repo_path(&self, name: &str) -> PathBuf {
        self.dir.join("repos").join(format!("{name}.git"))
    }

    /// The generated CA's certificate (for `http.sslCAInfo`) when it serves HTTPS.
    pub(crate) fn ca(&self) -> Option<&Path> {
        self.ca.as_deref()
    }

    pub(crate) fn error_log(&self) -> String {
        read_lossy(&self.dir.join("error.log"))
    }

    pub(crate) fn access_log(&self) -> String {
        read_lossy(&self.dir.join("access.log"))
    }
}

impl Drop for Lighttpd {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// lighttpd's TLS module, in the directory lighttpd loads its modules from (Debian:
/// /usr/lib/lighttpd; Nix: next to the binary).
pub(crate) fn mod_openssl(lighttpd: &Path) -> PathBuf {
    let prefix = lighttpd
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("/usr"));
    [prefix.join("lib/lighttpd"), prefix.join("lib")]
        .into_iter()
        .find(|dir| dir.join("mod_cgi.so").exists())
        .unwrap_or_else(|| PathBuf::from("/usr/lib/lighttpd"))
        .join("mod_openssl.so")
}

/// A self-signed CA (`ca.crt`) and a server key and certificate for 127.0.0.1 signed by it
/// (`server.key`, `server.crt`), made with the openssl CLI in `dir`. Returns the CA's path.
fn make_certificates(openssl: &Path, dir: &Path) -> Res<PathBuf> {
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
        "/CN=git-repo-sync loopback CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    tool(openssl, &ca_args, dir)?;
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
    tool(openssl, &csr_args, dir)?;
    write(
        &dir.join("server.ext"),
        "basicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\n\
         subjectAltName=IP:127.0.0.1\n",
    )?;
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
    )?;
    Ok(dir.join("ca.crt"))
}
