//! A real gitolite3 server (Debian's `gitolite3` package) for the user the tests run as, behind
//! the real sshd of [`SshServer`] on loopback.
//!
//! gitolite keeps everything under its user's HOME: `~/.gitolite.rc`, `~/.gitolite/` (conf,
//! keydir, logs, hooks) and `~/repositories/`. Here that HOME is a directory of its own in the
//! test's temp dir. sshd sets HOME from passwd, so the forced command gitolite writes into
//! `authorized_keys` (`command="<bindir>/gitolite-shell admin",no-port-forwarding,...`) is served
//! with `env HOME=<that dir>` in front of `gitolite-shell`; the key itself is the sshd fixture's
//! client key, set up as gitolite's `admin` with `gitolite setup -pk admin.pub`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::servers::{SSH_ALIAS, SshOptions, SshServer, require_programs};
use super::{BIN, TestEnv, run_ok, s, sh_quote, write_executable};

/// gitolite's own repository, whose `conf/gitolite.conf` declares the others.
const ADMIN_REPO: &str = "gitolite-admin";

/// gitolite set up in `<root>/gitolite-home`, served by its own sshd.
#[derive(Debug)]
pub struct Gitolite {
    ssh: SshServer,
    gitolite: PathBuf,
    home: PathBuf,
    admin_clone: PathBuf,
}

impl Gitolite {
    /// `None` (after printing why) when gitolite or sshd is missing outside CI; under `CI=true`
    /// a missing program is a failure.
    pub fn start(env: &TestEnv) -> Option<Self> {
        let gitolite = require_programs("the gitolite fixture", &["gitolite"])?
            .pop()
            .expect("one program");
        let ssh = SshServer::start(env, SshOptions::default())?;
        let home = env.root().join("gitolite-home");
        fs::create_dir_all(&home).expect("creating gitolite's HOME");
        let admin_pub = home.join("admin.pub");
        fs::copy(ssh.client_public_key(), &admin_pub).expect("copying the admin key");
        let server = Self {
            ssh,
            gitolite,
            home,
            admin_clone: env.root().join("gitolite-admin-clone"),
        };
        // gitolite 3.6 compiles the conf only when `master` of the admin repository is pushed,
        // but commits it on git's default branch, which the tests' gitconfig sets to `main`.
        let mut setup = server.as_gitolite_user(env, &server.gitolite);
        setup
            .args(["setup", "-pk", s(&admin_pub)])
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "init.defaultBranch")
            .env("GIT_CONFIG_VALUE_0", "master");
        run_ok(&mut setup);

        // What gitolite's ssh-authkeys trigger wrote, made to run gitolite-shell with our HOME.
        let written = fs::read_to_string(server.home.join(".ssh/authorized_keys"))
            .expect("gitolite setup wrote ~/.ssh/authorized_keys");
        assert!(
            written.contains("command=\"") && written.contains("gitolite-shell admin\""),
            "not the authorized_keys gitolite writes:\n{written}"
        );
        let with_home = format!("command=\"env HOME={} ", sh_quote(&server.home));
        server
            .ssh
            .set_authorized_keys(&written.replace("command=\"", &with_home));

        env.git(
            env.root(),
            server.over_ssh(["clone", "-q", &server.url(ADMIN_REPO), s(&server.admin_clone)]),
        );
        Some(server)
    }

    /// gitolite's HOME (`~/.gitolite.rc`, `~/.gitolite/`, `~/repositories/`).
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// `ssh://mirror-host/<name>`: the sshd fixture's host alias (loopback, its port, the admin
    /// key), with the repository named as gitolite names it.
    pub fn url(&self, name: &str) -> String {
        format!("ssh://{SSH_ALIAS}/{name}")
    }

    /// The bare repository behind `name`: `~/repositories/<name>.git`.
    pub fn repo_path(&self, name: &str) -> PathBuf {
        self.home.join("repositories").join(format!("{name}.git"))
    }

    /// The client-side arguments for a git command that talks to the server:
    /// `-c core.sshCommand=ssh -F <fixture config>` before `args`.
    pub fn over_ssh<'a>(&self, args: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut all = vec![
            "-c".to_owned(),
            format!("core.sshCommand={}", self.ssh.git_ssh_command()),
        ];
        all.extend(args.into_iter().map(str::to_owned));
        all
    }

    /// Declares repositories `names` in `conf/gitolite.conf` with `RW+ = admin`, and pushes the
    /// admin repository: gitolite creates them (each with its `update` hook linked in).
    pub fn create_repos(&self, env: &TestEnv, names: &[&str]) {
        let conf = self.admin_clone.join("conf/gitolite.conf");
        let mut text = fs::read_to_string(&conf).expect("reading gitolite.conf");
        text.push_str(&format!("\nrepo {}\n    RW+     =   admin\n", names.join(" ")));
        fs::write(&conf, text).expect("writing gitolite.conf");
        env.git(
            &self.admin_clone,
            ["commit", "-q", "-a", "-m", "add repositories"],
        );
        env.git(&self.admin_clone, self.over_ssh(["push", "-q", "origin", "HEAD"]));
        for name in names {
            assert!(
                self.repo_path(name).join("HEAD").is_file(),
                "gitolite did not create {}",
                self.repo_path(name).display()
            );
        }
    }

    /// A command with the test's isolated environment, run as gitolite's user: HOME is
    /// gitolite's.
    pub fn as_gitolite_user(&self, env: &TestEnv, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        env.apply_env(&mut cmd);
        cmd.env("HOME", &self.home).current_dir(&self.home);
        cmd
    }

    /// `git-repo-sync` run as gitolite's user.
    pub fn git_repo_sync(&self, env: &TestEnv) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.as_gitolite_user(env, Path::new(BIN)))
    }

    /// Runs `gitolite <args>` as gitolite's user, asserted to succeed; returns its stdout.
    pub fn run(&self, env: &TestEnv, args: &[&str]) -> String {
        run_ok(self.as_gitolite_user(env, &self.gitolite).args(args))
    }

    /// Where site-wide hooks go: `$LOCAL_CODE/hooks/common` when the rc sets `LOCAL_CODE`, else
    /// `~/.gitolite/hooks/common` (gitolite links both into every repository's `hooks/`).
    pub fn common_hooks_dir(&self, env: &TestEnv) -> PathBuf {
        // `query-rc` prints nothing and exits 1 for a variable the rc does not set.
        let out = self
            .as_gitolite_user(env, &self.gitolite)
            .args(["query-rc", "LOCAL_CODE"])
            .output()
            .expect("running gitolite query-rc");
        match String::from_utf8_lossy(&out.stdout).trim() {
            "" => self.home.join(".gitolite/hooks/common"),
            dir => Path::new(dir).join("hooks/common"),
        }
    }

    /// Writes a site-wide `post-receive` into the common hooks directory. gitolite links it into
    /// the repositories at the next `gitolite setup` ([`Self::setup_hooks_only`]).
    pub fn install_common_post_receive(&self, env: &TestEnv, text: &str) -> PathBuf {
        let hook = self.common_hooks_dir(env).join("post-receive");
        write_executable(&hook, text);
        hook
    }

    /// `gitolite setup --hooks-only`: propagates the common hooks into every repository.
    pub fn setup_hooks_only(&self, env: &TestEnv) {
        self.run(env, &["setup", "--hooks-only"]);
    }
}
