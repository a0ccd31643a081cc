//! Real servers on loopback for the latency benchmark, set up as the integration tests' fixtures
//! (`tests/support/servers.rs`) set them up, in compact form: OpenSSH's `sshd` with generated
//! host and client keys, and `git http-backend` behind lighttpd over TLS (a generated CA) with
//! HTTP basic auth. Each runs in the foreground as the current user, with its files in a
//! directory of its own, and is stopped when dropped.

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type Res<T> = Result<T, String>;

const START_TIMEOUT: Duration = Duration::from_secs(5);
const SERVER_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `name` on PATH, or in /usr/sbin or /sbin (where sshd lives).
fn find_program(name: &str) -> Res<PathBuf> {
    let inherited = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&inherited)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            format!(
                "{name} not found on PATH, /usr/sbin or /sbin; on Debian: apt-get install \
                 openssh-server openssh-client lighttpd lighttpd-mod-openssl openssl"
            )
        })
}

fn free_port() -> Res<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("binding 127.0.0.1:0: {e}"))
}

/// Runs a set-up tool (ssh-keygen, openssl) in `dir`; its stdout.
fn tool(program: &Path, args: &[&str], dir: &Path) -> Res<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {args:?} failed: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Starts the server `make(port)` writes the config for and returns, on a fresh port, and waits
/// until it accepts connections; a few ports are tried (another process may take one first).
fn start_listening(mut make: impl FnMut(u16) -> Res<Command>, log: &Path) -> Res<(Child, u16)> {
    let mut errors = Vec::new();
    for _ in 0..3 {
        let port = free_port()?;
        let mut cmd = make(port)?;
        let out = fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let mut child = cmd.spawn().map_err(|e| format!("starting {cmd:?}: {e}"))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + START_TIMEOUT;
        let failure = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break format!("{cmd:?} exited with {status}");
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok((child, port));
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break format!("{cmd:?} did not listen on port {port}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let said = fs::read_to_string(log).unwrap_or_default();
        errors.push(format!("{failure}:\n{said}"));
    }
    Err(errors.join("\n---\n"))
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// `sshd -D -e -f <config>` on a free loopback port, letting in a generated client key.
pub(crate) struct Sshd {
    child: Child,
    dir: PathBuf,
    port: u16,
    user: String,
    host_public_key: String,
    client_key: PathBuf,
}

impl Sshd {
    /// The server's git gets `GIT_CONFIG_NOSYSTEM=1` and `gitconfig` as its global config, and
    /// each session `home` as its HOME: sshd runs the command through the user's login shell,
    /// and bash run by sshd sources `~/.bashrc`, whatever the machine's user put there (150 ms of
    /// `pyenv init` per session where this was written), which a git server's account does not
    /// have.
    pub(crate) fn start(dir: &Path, gitconfig: &Path, home: &Path) -> Res<Self> {
        let sshd = find_program("sshd")?;
        let keygen = find_program("ssh-keygen")?;
        find_program("ssh")?;
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let user = tool(Path::new("id"), &["-un"], dir)?.trim().to_owned();
        let key = |name: &str| -> Res<(PathBuf, String)> {
            let path = dir.join(name);
            tool(
                &keygen,
                &[
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    name,
                    "-f",
                    &path.to_string_lossy(),
                ],
                dir,
            )?;
            let public = fs::read_to_string(path.with_extension("pub")).map_err(|e| e.to_string())?;
            Ok((path, public.trim().to_owned()))
        };
        let (host_key, host_public) = key("host_key")?;
        let (client_key, client_public) = key("client_key")?;
        let authorized_keys = dir.join("authorized_keys");
        fs::write(&authorized_keys, format!("{client_public}\n")).map_err(|e| e.to_string())?;
        // sshd started as root needs its privilege separation directory.
        let _ = fs::create_dir_all("/run/sshd");
        let config = dir.join("sshd_config");
        let (child, port) = start_listening(
            |port| {
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
                         PasswordAuthentication no\n\
                         KbdInteractiveAuthentication no\n\
                         PermitRootLogin prohibit-password\n\
                         AllowAgentForwarding no\n\
                         AllowTcpForwarding no\n\
                         X11Forwarding no\n\
                         PrintMotd no\n\
                         UseDNS no\n\
                         SetEnv GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL={gitconfig} HOME={home}\n",
                        host_key = host_key.display(),
                        authorized_keys = authorized_keys.display(),
                        gitconfig = gitconfig.display(),
                        home = home.display(),
                    ),
                )
                .map_err(|e| e.to_string())?;
                let mut cmd = Command::new(&sshd);
                cmd.args(["-D", "-e", "-f"]).arg(&config);
                cmd.env_clear().env("PATH", SERVER_PATH);
                Ok(cmd)
            },
            &dir.join("sshd.log"),
        )?;
        let mut parts = host_public.split_whitespace();
        let host_public_key = format!("{} {}", parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        Ok(Self {
            child,
            dir: dir.to_path_buf(),
            port,
            user,
            host_public_key,
            client_key,
        })
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The listening sshd, which reaps every connection's processes.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes an ssh client config (for `ssh -F`) in which host `alias` is this server reached
    /// at `127.0.0.1:port` (the proxy's port), with the client key, the server's host key as the
    /// only known one, no agent, no prompts; returns its path.
    pub(crate) fn client_config(&self, alias: &str, port: u16) -> Res<PathBuf> {
        let known_hosts = self.dir.join(format!("known_hosts-{port}"));
        fs::write(
            &known_hosts,
            format!("[127.0.0.1]:{port} {}\n", self.host_public_key),
        )
        .map_err(|e| e.to_string())?;
        let config = self.dir.join(format!("ssh_config-{port}"));
        fs::write(
            &config,
            format!(
                "Host {alias} {alias}-*\n\
                 \tHostName 127.0.0.1\n\
                 \tPort {port}\n\
                 \tUser {user}\n\
                 \tIdentityFile {key}\n\
                 \tIdentitiesOnly yes\n\
                 Host *\n\
                 \tUserKnownHostsFile {known_hosts}\n\
                 \tGlobalKnownHostsFile /dev/null\n\
                 \tIdentityAgent none\n\
                 \tStrictHostKeyChecking yes\n\
                 \tUpdateHostKeys no\n\
                 \tBatchMode yes\n",
                user = self.user,
                key = self.client_key.display(),
                known_hosts = known_hosts.display(),
            ),
        )
        .map_err(|e| e.to_string())?;
        Ok(config)
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// `git http-backend` as a CGI behind `lighttpd -D -f <config>` on a free loopback port, over
/// TLS with a certificate for 127.0.0.1 from a generated CA, under `/git/`, with basic auth for
/// one user. The served repositories are `repos/<name>.git`.
pub(crate) struct Https {
    child: Child,
    port: u16,
    repos: PathBuf,
    ca: PathBuf,
}

impl Https {
    /// The server's git gets `GIT_CONFIG_NOSYSTEM=1` and `gitconfig` as its global config.
    pub(crate) fn start(
        dir: &Path,
        gitconfig: &Path,
        user: &str,
        password: &str,
        backend: &Path,
    ) -> Res<Self> {
        let lighttpd = find_program("lighttpd")?;
        let openssl = find_program("openssl")?;
        let modules = lighttpd_module_dir(&lighttpd);
        if !modules.join("mod_openssl.so").is_file() {
            return Err(format!(
                "no mod_openssl.so in {}; on Debian: apt-get install lighttpd-mod-openssl",
                modules.display()
            ));
        }
        let repos = dir.join("repos");
        let docroot = dir.join("htdocs");
        for d in [&repos, &docroot] {
            fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let users = dir.join("users");
        fs::write(&users, format!("{user}:{password}\n")).map_err(|e| e.to_string())?;
        let ca = make_certificates(&openssl, dir)?;
        let config = dir.join("lighttpd.conf");
        let (child, port) = start_listening(
            |port| {
                fs::write(
                    &config,
                    format!(
                        "server.modules = (\"mod_access\", \"mod_alias\", \"mod_auth\", \"mod_authn_file\", \
                         \"mod_cgi\", \"mod_setenv\", \"mod_openssl\")\n\
                         server.document-root = \"{docroot}\"\n\
                         server.bind = \"127.0.0.1\"\n\
                         server.port = {port}\n\
                         server.errorlog = \"{dir}/error.log\"\n\
                         ssl.engine = \"enable\"\n\
                         ssl.pemfile = \"{dir}/server.crt\"\n\
                         ssl.privkey = \"{dir}/server.key\"\n\
                         alias.url = ( \"/git/\" => \"{backend}/\" )\n\
                         $HTTP[\"url\"] =~ \"^/git/\" {{\n\
                         \tcgi.assign = ( \"\" => \"\" )\n\
                         \tsetenv.set-environment = ( \"GIT_PROJECT_ROOT\" => \"{repos}\", \
                         \"GIT_HTTP_EXPORT_ALL\" => \"1\", \"GIT_CONFIG_NOSYSTEM\" => \"1\", \
                         \"GIT_CONFIG_GLOBAL\" => \"{gitconfig}\" )\n\
                         }}\n\
                         auth.backend = \"plain\"\n\
                         auth.backend.plain.userfile = \"{users}\"\n\
                         auth.require = ( \"/git/\" => ( \"method\" => \"basic\", \"realm\" => \"git\", \
                         \"require\" => \"valid-user\" ) )\n",
                        docroot = docroot.display(),
                        dir = dir.display(),
                        backend = backend.display(),
                        repos = repos.display(),
                        gitconfig = gitconfig.display(),
                        users = users.display(),
                    ),
                )
                .map_err(|e| e.to_string())?;
                let mut cmd = Command::new(&lighttpd);
                cmd.args(["-D", "-f"]).arg(&config);
                cmd.env_clear().env("PATH", SERVER_PATH);
                Ok(cmd)
            },
            &dir.join("lighttpd.out"),
        )?;
        Ok(Self {
            child,
            port,
            repos,
            ca,
        })
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Where the served repository `name` lives (`git init --bare` it there, with
    /// `http.receivepack` on).
    pub(crate) fn repo_path(&self, name: &str) -> PathBuf {
        self.repos.join(format!("{name}.git"))
    }

    /// `https://[user@]127.0.0.1:<port>/git/<name>.git`, `port` being the proxy's.
    pub(crate) fn url(&self, port: u16, user: Option<&str>, name: &str) -> String {
        let user = user.map(|u| format!("{u}@")).unwrap_or_default();
        format!("https://{user}127.0.0.1:{port}/git/{name}.git")
    }

    /// lighttpd's process, which reaps every CGI it runs.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The generated CA's certificate, for `http.sslCAInfo`.
    pub(crate) fn ca(&self) -> &Path {
        &self.ca
    }
}

impl Drop for Https {
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
    [prefix.join("lib/lighttpd"), prefix.join("lib")]
        .into_iter()
        .find(|dir| dir.join("mod_cgi.so").exists())
        .unwrap_or_else(|| PathBuf::from("/usr/lib/lighttpd"))
}

/// A CA (`ca.crt`) and a server key and certificate for 127.0.0.1 signed by it, in `dir`;
/// returns the CA's path.
fn make_certificates(openssl: &Path, dir: &Path) -> Res<PathBuf> {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=git-repo-sync bench CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    tool(openssl, &ca, dir)?;
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    tool(openssl, &csr, dir)?;
    fs::write(
        dir.join("server.ext"),
        "basicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\n\
         subjectAltName=IP:127.0.0.1\n",
    )
    .map_err(|e| e.to_string())?;
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
