//! The latency benchmark's servers: `tests/support/loopback.rs` (the integration tests' sshd and
//! lighttpd, shared) set up for the benchmark. sshd gives each session a HOME of the benchmark's
//! own; lighttpd serves over TLS only, without an access log; both servers' git gets the
//! benchmark's gitconfig. Clients reach them through the delaying proxy, so the client config
//! and the URLs name the proxy's port.

use std::path::{Path, PathBuf};

use super::loopback::{self, ClientConfig, HttpOptions, Lighttpd, Res, SshdOptions};

/// `sshd` letting in a generated client key.
pub(crate) struct Sshd(loopback::Sshd);

impl Sshd {
    /// The server's git gets `GIT_CONFIG_NOSYSTEM=1` and `gitconfig` as its global config, and
    /// each session `home` as its HOME (see [`SshdOptions::home`]).
    pub(crate) fn start(dir: &Path, gitconfig: &Path, home: &Path) -> Res<Self> {
        let options = SshdOptions {
            home: Some(home.to_path_buf()),
            ..SshdOptions::default()
        };
        loopback::Sshd::start(dir, gitconfig, &options).map(Self)
    }

    pub(crate) fn port(&self) -> u16 {
        self.0.port()
    }

    /// The listening sshd, which reaps every connection's processes.
    pub(crate) fn pid(&self) -> u32 {
        self.0.pid()
    }

    /// Writes an ssh client config (for `ssh -F`) in which the hosts `alias` and `alias-*` are
    /// this server reached at `127.0.0.1:port` (the proxy's port), with the client key, the
    /// server's host key as the only known one, no agent, no prompts; returns its path.
    pub(crate) fn client_config(&self, alias: &str, port: u16) -> Res<PathBuf> {
        let known_hosts = self.0.dir().join(format!("known_hosts-{port}"));
        self.0.write_known_hosts(&known_hosts, port)?;
        let config = self.0.dir().join(format!("ssh_config-{port}"));
        let client = ClientConfig {
            hosts: &format!("{alias} {alias}-*"),
            port,
            known_hosts: &known_hosts,
            unattended: true,
        };
        self.0.write_client_config(&config, &client)?;
        Ok(config)
    }
}

/// `git http-backend` behind lighttpd over TLS, with basic auth for one user.
pub(crate) struct Https {
    server: Lighttpd,
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
        let options = HttpOptions {
            users: &[(user, password)],
            tls: true,
            gitconfig: Some(gitconfig),
            access_log: false,
            lfs_port: None,
        };
        let server = Lighttpd::start(dir, backend, &options)?;
        let ca = server.ca().ok_or("lighttpd started without TLS")?.to_path_buf();
        Ok(Self { server, ca })
    }

    pub(crate) fn port(&self) -> u16 {
        self.server.port()
    }

    /// Where the served repository `name` lives (`git init --bare` it there, with
    /// `http.receivepack` on).
    pub(crate) fn repo_path(&self, name: &str) -> PathBuf {
        self.server.repo_path(name)
    }

    /// `https://[user@]127.0.0.1:<port>/git/<name>.git`, `port` being the proxy's.
    pub(crate) fn url(&self, port: u16, user: Option<&str>, name: &str) -> String {
        let user = user.map(|u| format!("{u}@")).unwrap_or_default();
        format!("https://{user}127.0.0.1:{port}/git/{name}.git")
    }

    /// lighttpd's process, which reaps every CGI it runs.
    pub(crate) fn pid(&self) -> u32 {
        self.server.pid()
    }

    /// The generated CA's certificate, for `http.sslCAInfo`.
    pub(crate) fn ca(&self) -> &Path {
        &self.ca
    }
}
