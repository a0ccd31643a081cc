//! Real transports: ssh and http(s) mirrors pushed to real servers that the tests start
//! on loopback (sshd, `git http-backend` behind lighttpd, a server that never answers); see
//! `support::servers`. Without those programs the tests print `skipped: ...` and pass, except
//! under `CI=true`, where that is a failure.
//!
//! Remote mirrors are added with `--no-check`: the ssh command and the tokens they need are
//! given to the sync alone, which is what these tests are about.

use std::fs;
use std::os::unix::fs::FileTypeExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support;
use crate::support::servers::{HttpServer, LoopbackServer, SshOptions, SshServer, require_programs};
use crate::support::{TestEnv, mirror_status, run_within, s, write_executable};
use serde_json::Value;

/// Longest any single git-repo-sync command may take here; every failure mode under test is
/// expected to end far sooner.
const LIMIT: Duration = Duration::from_secs(60);

/// One finished git-repo-sync command.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    /// Both streams, for greps and failure messages.
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// The line of `sync`'s report for `name` (`NAME: ...`).
    fn line_for(&self, name: &str) -> &str {
        let prefix = format!("{name}:");
        self.stdout
            .lines()
            .find(|line| line.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no line for mirror {name} in sync's stdout:\n{self}"))
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} after {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// git-repo-sync `args` in `repo` with the isolated environment plus `vars`, stdin closed,
/// output through pipes, bounded by [`LIMIT`].
fn run(env: &TestEnv, repo: &Path, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let mut cmd = env.std_cmd_in(repo);
    cmd.args(args).envs(vars.iter().copied());
    run_cmd(cmd)
}

fn run_cmd(cmd: Command) -> Run {
    let started = Instant::now();
    let out = run_within(cmd, LIMIT).unwrap_or_else(|e| panic!("{e}"));
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// Like [`run`], asserting exit 0.
fn run_ok(env: &TestEnv, repo: &Path, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let run = run(env, repo, args, vars);
    assert_eq!(run.code, Some(0), "git-repo-sync {args:?} failed:\n{run}");
    run
}

/// Adds mirror `name` at `url` to `src` with `extra` flags to `mirror add`, unchecked
/// (`--no-check`), and returns what the command printed.
fn add_mirror(env: &TestEnv, src: &Path, name: &str, url: &str, extra: &[&str]) -> Run {
    let mut args = vec!["mirror", "add", "--no-check", name, url];
    args.extend_from_slice(extra);
    run_ok(env, src, &args, &[])
}

/// Adds mirror `name` at `sshd`'s URL of the bare repository `mirror`, with the fixture's client
/// key (`--identity-file`) and `extra` flags.
fn add_ssh_mirror(env: &TestEnv, src: &Path, sshd: &SshServer, name: &str, mirror: &Path, extra: &[&str]) {
    let mut flags = vec!["--identity-file", s(sshd.client_key())];
    flags.extend_from_slice(extra);
    add_mirror(env, src, name, &sshd.url(mirror), &flags);
}

/// Adds mirror `name` at the http fixture's repository `repo`, as user alice, with the password
/// in the variable `token_var` (`--token-env`).
fn add_http_mirror(env: &TestEnv, src: &Path, http: &HttpServer, name: &str, repo: &str, token_var: &str) {
    let url = http.url_with_user("alice", repo);
    add_mirror(env, src, name, &url, &["--token-env", token_var]);
}

/// The usual set-up: a source repository mirrored to the local bare `local.git`, plus a bare
/// repository `<name>.git` added as mirror `name` at the URL `url_of` gives for it, with `extra`
/// flags to `mirror add` (and `--no-check`: the mirror is meant to fail, at sync). Returns the
/// source, the local mirror and that repository.
fn source_with_local_mirror_and(
    env: &TestEnv,
    name: &str,
    url_of: impl Fn(&Path) -> String,
    extra: &[&str],
) -> (PathBuf, PathBuf, PathBuf) {
    let src = env.init_repo("src");
    let local = env.init_bare("local.git");
    let target = env.init_bare(&format!("{name}.git"));
    env.install(&src, &[("local", s(&local))]);
    add_mirror(env, &src, name, &url_of(&target), extra);
    (src, local, target)
}

/// A source repository mirrored to the local bare `local.git`, plus mirror `guarded` at the http
/// fixture's repository of that name, as user alice, with the password in `GUARDED_TOKEN`.
/// Returns the source, the local mirror and that repository.
fn source_with_local_and_guarded_http_mirror(
    env: &TestEnv,
    http: &HttpServer,
) -> (PathBuf, PathBuf, PathBuf) {
    let src = env.init_repo("src");
    let local = env.init_bare("local.git");
    let guarded = http.create_repo(env, "guarded");
    env.install(&src, &[("local", s(&local))]);
    add_http_mirror(env, &src, http, "guarded", "guarded", "GUARDED_TOKEN");
    (src, local, guarded)
}

/// A commit made by `git commit` with `vars` added to its environment, so that the hook's
/// background worker sees them as a user's would.
fn commit_with(env: &TestEnv, repo: &Path, message: &str, vars: &[(&str, &str)]) {
    env.change_file(repo, message);
    let mut cmd = env.git_cmd(repo);
    cmd.args(["commit", "-q", "-m", message])
        .envs(vars.iter().copied());
    support::run_ok(&mut cmd);
}

/// The kind `status --json` gives a mirror's last failure, for scripts.
fn failure_kind(status: &Value, name: &str) -> String {
    mirror_status(status, name)["last_failure"]["kind"]
        .as_str()
        .unwrap_or_else(|| panic!("mirror {name} has no last_failure kind:\n{status:#}"))
        .to_owned()
}

fn last_error(status: &Value, name: &str) -> String {
    mirror_status(status, name)["last_error"]
        .as_str()
        .unwrap_or_else(|| panic!("mirror {name} has no last_error:\n{status:#}"))
        .to_owned()
}

/// A bare repository that must still be empty: nothing was pushed to it.
fn assert_empty(env: &TestEnv, mirror: &Path, why: &str) {
    let refs = env.refs(mirror);
    assert!(refs.is_empty(), "{why}, yet it has refs:\n{refs}");
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

/// A script that, when run as an askpass program, records that it was asked and answers nothing.
fn askpass_recorder(env: &TestEnv) -> (String, std::path::PathBuf) {
    let marker = env.root().join("askpass-was-called");
    let script = env.root().join("bin").join("askpass-recorder");
    write_executable(
        &script,
        &format!(
            "#!/bin/sh\necho \"$*\" >> {}\nexit 1\n",
            support::sh_quote(&marker)
        ),
    );
    (s(&script).to_owned(), marker)
}

/// One commit reaches an ssh mirror (key auth through the fixture, deploy key given
/// with `--identity-file`), an https mirror (basic auth, password from `--token-env`, server
/// certificate trusted through `http.sslCAInfo`) and a local mirror, from the hook's background
/// worker and again with `sync`.
#[test]
fn one_commit_reaches_ssh_https_and_local_mirrors() {
    let env = TestEnv::new();
    let Some(sshd) = SshServer::start(&env, SshOptions::default()) else {
        return;
    };
    let Some(https) = HttpServer::start_tls(&env, &[("alice", "https-password-1")]) else {
        return;
    };
    https.trust_ca(&env);

    let src = env.init_repo("src");
    let local = env.init_bare("local.git");
    let ssh_mirror = env.init_bare("ssh-mirror.git");
    let https_mirror = https.create_repo(&env, "https-mirror");
    env.install(&src, &[("local", s(&local))]);
    add_ssh_mirror(&env, &src, &sshd, "viassh", &ssh_mirror, &[]);
    add_http_mirror(&env, &src, &https, "viahttps", "https-mirror", "MIRROR_TOKEN");

    let ssh_command = sshd.git_ssh_command();
    let vars = [
        ("GIT_SSH_COMMAND", ssh_command.as_str()),
        ("MIRROR_TOKEN", "https-password-1"),
    ];
    commit_with(&env, &src, "through the hook", &vars);
    let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        env.wait_for_mirrors(&src, &[&local, &ssh_mirror, &https_mirror]);
    }));
    if let Err(e) = waited {
        eprintln!("--- sshd ---\n{}\n{}", sshd.log(), https.logs());
        std::panic::resume_unwind(e);
    }

    env.commit(&src, "through sync");
    let sync = run(&env, &src, &["sync"], &vars);
    assert_eq!(sync.code, Some(0), "sync failed:\n{sync}\n{}", https.logs());
    for mirror in [&local, &ssh_mirror, &https_mirror] {
        assert_eq!(
            env.refs(&src),
            env.refs(mirror),
            "{} after sync",
            mirror.display()
        );
    }
    let status = env.status_json(&src);
    for name in ["local", "viassh", "viahttps"] {
        assert_eq!(mirror_status(&status, name)["last_result"], "ok", "{status:#}");
    }
    assert!(sshd.logins() >= 1, "sshd saw no login:\n{}", sshd.log());
}

/// scp-style URLs work through a `~/.ssh/config`-style host alias whose entry holds the
/// non-standard port and the key (the ssh config is the user's, handed over with
/// `GIT_SSH_COMMAND=ssh -F ...`), also `user@alias:path` and `ssh://alias/path`; the server only
/// allows git-shell, so nothing but git's own commands may run there.
#[test]
fn ssh_mirrors_through_a_host_alias_with_a_non_standard_port() {
    let env = TestEnv::new();
    let options = SshOptions {
        git_shell: true,
        ..SshOptions::default()
    };
    let Some(sshd) = SshServer::start(&env, options) else {
        return;
    };
    assert_ne!(sshd.port(), 22);
    let ssh_command = sshd.git_ssh_command();
    let vars = [("GIT_SSH_COMMAND", ssh_command.as_str())];

    // The fixture really is git-shell only.
    let mut shell = Command::new("ssh");
    shell
        .args(["-F", s(sshd.ssh_config()), "-o", "BatchMode=yes"])
        .arg(support::servers::SSH_ALIAS)
        .arg("echo not-git-shell");
    let out = shell.output().expect("running ssh");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("not-git-shell"),
        "the git-shell fixture ran a shell command"
    );

    let src = env.init_repo("src");
    let scp = env.init_bare("scp.git");
    let scp_user = env.init_bare("scp-user.git");
    let ssh_alias = env.init_bare("ssh-alias.git");
    env.install(&src, &[]);
    for (name, url) in [
        ("scp", sshd.alias_url(&scp)),
        (
            "scpuser",
            format!("{}@{}", sshd.user(), sshd.alias_url(&scp_user)),
        ),
        (
            "sshalias",
            format!("ssh://{}{}", support::servers::SSH_ALIAS, ssh_alias.display()),
        ),
    ] {
        add_mirror(&env, &src, name, &url, &[]);
    }
    env.commit(&src, "second");
    let sync = run(&env, &src, &["sync"], &vars);
    assert_eq!(
        sync.code,
        Some(0),
        "sync failed:\n{sync}\n--- sshd ---\n{}",
        sshd.log()
    );
    for mirror in [&scp, &scp_user, &ssh_alias] {
        assert_eq!(env.refs(&src), env.refs(mirror), "{}", mirror.display());
    }
}

/// An unknown host key stops that mirror with a message saying how to trust the
/// host; the other mirror succeeds; nothing reaches the untrusted host, and nothing is trusted
/// behind the user's back.
#[test]
fn unknown_ssh_host_key_fails_that_mirror_and_says_how_to_trust_it() {
    let env = TestEnv::new();
    let Some(sshd) = SshServer::start(&env, SshOptions::default()) else {
        return;
    };
    sshd.forget_host_key();
    let ssh_command = sshd.git_ssh_command();
    let vars = [("GIT_SSH_COMMAND", ssh_command.as_str())];

    let (src, local, untrusted) = source_with_local_mirror_and(
        &env,
        "untrusted",
        |path| sshd.url(path),
        &["--identity-file", s(sshd.client_key())],
    );
    let sync = run(&env, &src, &["sync"], &vars);
    assert_eq!(
        sync.code,
        Some(3),
        "sync should report the failed mirror:\n{sync}"
    );
    let line = sync.line_for("untrusted");
    assert!(line.contains("failed"), "{sync}");
    for hint in ["host key", "ssh-keyscan", "trust_new_host_key"] {
        assert!(
            contains_ci(line, hint),
            "the error should mention {hint:?}:\n{sync}"
        );
    }
    let status = env.status_json(&src);
    let error = last_error(&status, "untrusted");
    assert_eq!(
        failure_kind(&status, "untrusted"),
        "host_key_unknown",
        "{status:#}"
    );
    for hint in ["host key", "ssh-keyscan", "trust_new_host_key"] {
        assert!(
            contains_ci(&error, hint),
            "last_error should mention {hint:?}: {error}"
        );
    }
    assert_eq!(mirror_status(&status, "local")["last_result"], "ok", "{status:#}");
    assert_eq!(env.refs(&src), env.refs(&local));
    assert_empty(&env, &untrusted, "the untrusted host got nothing");
    assert_eq!(
        sshd.logins(),
        0,
        "the client logged in to an untrusted host:\n{}",
        sshd.log()
    );
    assert_eq!(
        fs::read_to_string(sshd.known_hosts()).expect("known_hosts"),
        "",
        "the unknown host key was trusted without being asked to"
    );
}

/// A changed host key is refused even when new hosts are trusted on first use.
#[test]
fn changed_ssh_host_key_fails_even_with_trust_new_host_key() {
    let env = TestEnv::new();
    let Some(sshd) = SshServer::start(&env, SshOptions::default()) else {
        return;
    };
    sshd.use_wrong_host_key();
    let before = fs::read_to_string(sshd.known_hosts()).expect("known_hosts");
    let ssh_command = sshd.git_ssh_command();
    let vars = [("GIT_SSH_COMMAND", ssh_command.as_str())];

    let (src, local, spoofed) = source_with_local_mirror_and(
        &env,
        "spoofed",
        |path| sshd.url(path),
        &["--identity-file", s(sshd.client_key()), "--trust-new-host-key"],
    );
    let sync = run(&env, &src, &["sync"], &vars);
    assert_eq!(sync.code, Some(3), "{sync}");
    let line = sync.line_for("spoofed");
    assert!(
        line.contains("failed") && contains_ci(line, "host key"),
        "the failure should be about the host key:\n{sync}"
    );
    assert_eq!(env.refs(&src), env.refs(&local));
    assert_empty(&env, &spoofed, "a host whose key changed got nothing");
    assert_eq!(sshd.logins(), 0, "{}", sshd.log());
    assert_eq!(
        fs::read_to_string(sshd.known_hosts()).expect("known_hosts"),
        before,
        "known_hosts was changed"
    );
}

/// `trust_new_host_key = true` accepts a host seen for the first time and
/// remembers its key in the user's known_hosts.
#[test]
fn trust_new_host_key_accepts_and_remembers_a_new_host() {
    let env = TestEnv::new();
    let Some(sshd) = SshServer::start(&env, SshOptions::default()) else {
        return;
    };
    sshd.forget_host_key();
    let ssh_command = sshd.git_ssh_command();
    let vars = [("GIT_SSH_COMMAND", ssh_command.as_str())];

    let src = env.init_repo("src");
    let mirror = env.init_bare("new-host.git");
    env.install(&src, &[]);
    fs::write(
        env.config_path(&src),
        format!(
            "[mirrors.newhost]\nurl = \"{}\"\nidentity_file = \"{}\"\ntrust_new_host_key = true\n",
            sshd.url(&mirror),
            sshd.client_key().display()
        ),
    )
    .expect("writing repo-sync.toml");
    let sync = run(&env, &src, &["sync"], &vars);
    assert_eq!(sync.code, Some(0), "{sync}\n--- sshd ---\n{}", sshd.log());
    assert_eq!(env.refs(&src), env.refs(&mirror));
    let known = fs::read_to_string(sshd.known_hosts()).expect("known_hosts");
    let key_data = sshd.host_public_key();
    let key_data = key_data.split_whitespace().nth(1).expect("key data");
    assert!(
        known.contains(key_data),
        "the new host key was not remembered in known_hosts:\n{known}"
    );
}

/// A wrong password from `token_env` is one clear authentication failure
/// naming the mirror: no hang with stdin closed and no `GIT_TERMINAL_PROMPT` set by the caller,
/// no askpass prompt, one rejected login at the server, and the other mirror still syncs.
#[test]
fn wrong_http_password_is_one_clear_authentication_failure() {
    let env = TestEnv::new();
    let Some(http) = HttpServer::start(&env, &[("alice", "right-password")]) else {
        return;
    };
    let (src, local, remote) = source_with_local_and_guarded_http_mirror(&env, &http);
    let (askpass, asked) = askpass_recorder(&env);
    let mut cmd = env.std_cmd_in(&src);
    cmd.arg("sync")
        .env_remove("GIT_TERMINAL_PROMPT")
        .env("GUARDED_TOKEN", "wrong-password")
        .env("GIT_ASKPASS", &askpass)
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force");
    let sync = run_cmd(cmd);
    assert_one_clear_auth_failure(&env, &src, &sync, "guarded", &asked, &http.logs());
    assert_eq!(
        http.rejected_logins(),
        1,
        "expected exactly one rejected login (one attempt, no retries):\n{}",
        http.logs()
    );
    assert_eq!(env.refs(&src), env.refs(&local));
    assert_empty(&env, &remote, "the server refused the login");
}

/// `sync` failed (exit 3) quickly for mirror `name` alone, saying authentication failed on its
/// line and in `status`, and nothing asked for a password.
fn assert_one_clear_auth_failure(
    env: &TestEnv,
    src: &Path,
    sync: &Run,
    name: &str,
    asked: &Path,
    server_log: &str,
) {
    assert!(
        sync.elapsed < Duration::from_secs(20),
        "sync took too long:\n{sync}"
    );
    assert_eq!(sync.code, Some(3), "{sync}\n{server_log}");
    let line = sync.line_for(name);
    assert!(
        line.contains("failed") && contains_ci(line, "authentication failed"),
        "the mirror's line should say authentication failed:\n{sync}"
    );
    let status = env.status_json(src);
    let error = last_error(&status, name);
    assert!(
        contains_ci(&error, "authentication failed"),
        "last_error: {error}"
    );
    assert_eq!(failure_kind(&status, name), "auth_refused", "{status:#}");
    assert_eq!(mirror_status(&status, "local")["last_result"], "ok", "{status:#}");
    assert!(
        !asked.exists(),
        "a password prompt was shown: {:?}",
        fs::read_to_string(asked)
    );
}

/// A key the server does not accept is one clear authentication failure: one
/// connection, no password or passphrase prompt even though the server offers passwords and an
/// askpass program is forced, no hang, the other mirror still syncs.
#[test]
fn wrong_ssh_key_is_one_clear_authentication_failure_without_prompting() {
    let env = TestEnv::new();
    let options = SshOptions {
        password_auth: true,
        ..SshOptions::default()
    };
    let Some(sshd) = SshServer::start(&env, options) else {
        return;
    };
    let wrong_key = sshd.unauthorized_key("wrong_key");
    let (src, local, remote) = source_with_local_mirror_and(
        &env,
        "locked",
        |path| sshd.url(path),
        &["--identity-file", s(&wrong_key)],
    );
    let (askpass, asked) = askpass_recorder(&env);
    let mut cmd = env.std_cmd_in(&src);
    cmd.arg("sync")
        .env_remove("GIT_TERMINAL_PROMPT")
        .env("GIT_SSH_COMMAND", sshd.git_ssh_command())
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0")
        .env("GIT_ASKPASS", &askpass);
    let sync = run_cmd(cmd);
    assert_one_clear_auth_failure(&env, &src, &sync, "locked", &asked, &sshd.log());
    assert_eq!(sshd.logins(), 0, "{}", sshd.log());
    assert_eq!(
        sshd.auth_connections(),
        1,
        "expected exactly one connection that tried to log in (one attempt, no retries):\n{}",
        sshd.log()
    );
    assert_eq!(env.refs(&src), env.refs(&local));
    assert_empty(&env, &remote, "the server refused the key");
}

/// Servers that accept the TCP connection and never answer (one spoken to over
/// http, one over ssh) are given up after the mirror's `timeout` (2 s: once in the config file,
/// once with `mirror add --timeout`) and reported as timed out; the local mirror still syncs and
/// `sync` returns long before git's own (absent or minutes-long) timeouts.
#[test]
fn hanging_servers_time_out_within_the_configured_limit() {
    let env = TestEnv::new();
    let Some(programs) = require_programs("the hanging ssh server test", &["ssh"]) else {
        return;
    };
    let hang_http = LoopbackServer::hanging();
    let hang_ssh = LoopbackServer::hanging();

    // An ssh config of our own, so that nothing reads or writes the real ~/.ssh.
    let ssh_config = env.root().join("ssh_config");
    fs::write(
        &ssh_config,
        format!(
            "Host *\n\tUserKnownHostsFile {}\n\tGlobalKnownHostsFile /dev/null\n\tIdentityAgent none\n",
            env.root().join("known_hosts").display()
        ),
    )
    .expect("writing ssh_config");
    let ssh_command = format!("{} -F {}", programs[0].display(), support::sh_quote(&ssh_config));

    let src = env.init_repo("src");
    let local = env.init_bare("local.git");
    env.install(&src, &[("local", s(&local))]);
    let mut config = fs::read_to_string(env.config_path(&src)).expect("reading repo-sync.toml");
    config.push_str(&format!(
        "\n[mirrors.hanghttp]\nurl = \"http://127.0.0.1:{}/repo.git\"\ntimeout = 2\n",
        hang_http.port()
    ));
    fs::write(env.config_path(&src), config).expect("writing repo-sync.toml");
    let hang_ssh_url = format!("ssh://git@127.0.0.1:{}/repo.git", hang_ssh.port());
    add_mirror(&env, &src, "hangssh", &hang_ssh_url, &["--timeout", "2"]);

    let sync = run(
        &env,
        &src,
        &["sync"],
        &[("GIT_SSH_COMMAND", ssh_command.as_str())],
    );
    assert!(
        sync.elapsed < Duration::from_secs(10),
        "two mirrors with timeout = 2 held sync up:\n{sync}"
    );
    assert_eq!(sync.code, Some(3), "{sync}");
    assert!(
        hang_http.accepted() >= 1,
        "the hanging http server was never contacted"
    );
    assert!(
        hang_ssh.accepted() >= 1,
        "the hanging ssh server was never contacted"
    );
    let status = env.status_json(&src);
    for name in ["hanghttp", "hangssh"] {
        let line = sync.line_for(name);
        assert!(
            line.contains("failed") && contains_ci(line, "timed out"),
            "{name} should be reported as timed out:\n{sync}"
        );
        let error = last_error(&status, name);
        assert!(contains_ci(&error, "timed out"), "{name} last_error: {error}");
        assert_eq!(failure_kind(&status, name), "timeout", "{status:#}");
    }
    assert_eq!(mirror_status(&status, "local")["last_result"], "ok", "{status:#}");
    assert_eq!(env.refs(&src), env.refs(&local));
}

/// A password in a mirror URL and a token in `token_env` (and, for the error chains,
/// a failing mirror whose URL holds another password) appear in none of: the output of
/// `install`, `mirror add`, `sync`, `sync -v`, `status`, `status --json`, `mirror list`, the
/// worker's log and the state file.
#[test]
fn secrets_in_urls_and_token_env_are_never_printed_or_stored() {
    const URL_SECRET: &str = "urlsecret7f3a9c";
    const ENV_SECRET: &str = "envsecret2b8d4e";
    const BAD_SECRET: &str = "badsecret5e1c0a";
    let secrets = [URL_SECRET, ENV_SECRET, BAD_SECRET];
    let env = TestEnv::new();
    let Some(http) = HttpServer::start(&env, &[("alice", URL_SECRET), ("bob", ENV_SECRET)]) else {
        return;
    };
    let src = env.init_repo("src");
    let in_url = http.create_repo(&env, "in-url");
    let in_env = http.create_repo(&env, "in-env");
    http.create_repo(&env, "refused");

    let mut printed = Vec::new();
    let mut install = env.std_cmd_in(&src);
    install.args([
        "install",
        "--yes",
        "--mirror",
        &format!("inurl={}", http.url_with_password("alice", URL_SECRET, "in-url")),
    ]);
    let install = run_cmd(install);
    assert_eq!(install.code, Some(0), "install failed:\n{install}");
    printed.push(("install".to_owned(), install.all()));
    for (name, url, extra) in [
        (
            "inenv",
            http.url_with_user("bob", "in-env"),
            &["--token-env", "SYNC_TOKEN"][..],
        ),
        (
            "refused",
            http.url_with_password("carol", BAD_SECRET, "refused"),
            &[],
        ),
        (
            "missing",
            http.url_with_password("alice", URL_SECRET, "does-not-exist"),
            &[],
        ),
    ] {
        let added = add_mirror(&env, &src, name, &url, extra);
        printed.push((format!("mirror add {name}"), added.all()));
    }

    let vars = [("SYNC_TOKEN", ENV_SECRET)];
    commit_with(&env, &src, "through the hook", &vars);
    env.wait_for_mirrors(&src, &[&in_url, &in_env]);

    env.commit(&src, "through sync");
    for args in [&["sync"][..], &["sync", "-v"]] {
        let sync = run(&env, &src, args, &vars);
        assert_eq!(sync.code, Some(3), "refused and missing should fail:\n{sync}");
        assert!(sync.line_for("refused").contains("failed"), "{sync}");
        assert!(sync.line_for("missing").contains("failed"), "{sync}");
        printed.push((args.join(" "), sync.all()));
    }
    assert_eq!(env.refs(&src), env.refs(&in_url));
    assert_eq!(env.refs(&src), env.refs(&in_env));
    for args in [&["status"][..], &["status", "--json"], &["mirror", "list"]] {
        let out = run(&env, &src, args, &vars);
        printed.push((args.join(" "), out.all()));
    }
    let status = env.status_json(&src);
    assert!(
        !last_error(&status, "refused").is_empty() && !last_error(&status, "missing").is_empty(),
        "{status:#}"
    );
    assert_eq!(failure_kind(&status, "refused"), "auth_refused", "{status:#}");
    assert_eq!(failure_kind(&status, "missing"), "not_a_repository", "{status:#}");

    let git_dir = env.common_dir(&src);
    let log = git_dir.join("repo-sync.log");
    let state = git_dir.join("repo-sync-state.json");
    for file in [&log, &state] {
        let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        assert!(!text.trim().is_empty(), "{} is empty", file.display());
        printed.push((file.display().to_string(), text));
    }
    let mut leaks = Vec::new();
    for (what, text) in &printed {
        for secret in secrets {
            if text.contains(secret) {
                leaks.push(format!("{secret} in {what}:\n{text}"));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n\n"));
    // The redacted URLs are still there, so the grep looked at the right text.
    let json = printed
        .iter()
        .find(|(what, _)| what == "status --json")
        .map(|(_, text)| text.clone())
        .unwrap_or_default();
    assert!(
        json.contains(&format!("127.0.0.1:{}/git/in-url.git", http.port())),
        "{json}"
    );
}

/// `mirror add` checks an ssh mirror as a sync would reach it: a key the server refuses is
/// named as refused credentials with the setting that fixes it, and nothing is added; the key it
/// accepts is added, saying what the mirror holds.
#[test]
fn mirror_add_over_ssh_tells_a_refused_key_from_a_reachable_mirror() {
    let env = TestEnv::new();
    let Some(sshd) = SshServer::start(&env, SshOptions::default()) else {
        return;
    };
    let src = env.init_repo("src");
    let remote = env.init_bare("remote.git");
    let url = sshd.url(&remote);
    let ssh_command = sshd.git_ssh_command();
    let vars = [("GIT_SSH_COMMAND", ssh_command.as_str())];
    let wrong_key = sshd.unauthorized_key("wrong_key");
    let refused = run(
        &env,
        &src,
        &["mirror", "add", "remote", &url, "--identity-file", s(&wrong_key)],
        &vars,
    );
    assert_eq!(refused.code, Some(1), "{refused}");
    assert!(refused.stderr.contains("authentication refused"), "{refused}");
    assert!(
        refused.stderr.contains("--identity-file PATH"),
        "the fix is named:\n{refused}"
    );
    assert!(!env.config_path(&src).exists(), "nothing was added:\n{refused}");

    let added = run_ok(
        &env,
        &src,
        &[
            "mirror",
            "add",
            "remote",
            &url,
            "--identity-file",
            s(sshd.client_key()),
        ],
        &vars,
    );
    assert!(
        added.stdout.contains("mirror 'remote' reachable, empty"),
        "{added}"
    );
}

/// With `token_env` over http(s), the credential goes with each request from the first (git's
/// `http.proactiveAuth`, 2.46 and later): the server answers no request with 401 first.
#[test]
fn with_token_env_the_credential_goes_with_the_first_request() {
    let env = TestEnv::new();
    let Some(http) = HttpServer::start(&env, &[("alice", "token-1")]) else {
        return;
    };
    let (src, _local, remote) = source_with_local_and_guarded_http_mirror(&env, &http);
    run_ok(&env, &src, &["sync"], &[("GUARDED_TOKEN", "token-1")]);
    env.commit(&src, "second");
    run_ok(&env, &src, &["sync"], &[("GUARDED_TOKEN", "token-1")]);
    assert_eq!(env.refs(&remote), env.refs(&src));
    // lighttpd writes its access log about once a second.
    support::wait_for(
        std::time::Duration::from_secs(5),
        || http.access_log().lines().count() >= 3,
        || http.logs(),
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let log = http.access_log();
    let requests = log.lines().count();
    let challenged = log.lines().filter(|line| line.contains("\" 401 ")).count();
    assert!(requests >= 3, "{log}");
    assert_eq!(challenged, 0, "requests answered 401 first:\n{log}");
}

/// A server that refuses atomic pushes is asked once: the next pass pushes without `--atomic`
/// straight away (one connection fewer), and the mirror still takes everything.
#[test]
fn a_server_without_atomic_push_is_asked_once() {
    let env = TestEnv::new();
    let Some(sshd) = SshServer::start(&env, SshOptions::default()) else {
        return;
    };
    let src = env.init_repo("src");
    let target = env.init_bare("plain-server.git");
    env.git(&target, ["config", "receive.advertiseAtomic", "false"]);
    env.install(&src, &[]);
    add_ssh_mirror(&env, &src, &sshd, "viassh", &target, &[]);
    let ssh = sshd.git_ssh_command();
    let vars = [("GIT_SSH_COMMAND", ssh.as_str())];
    let before = sshd.auth_connections();
    run_ok(&env, &src, &["sync"], &vars);
    let first = sshd.auth_connections() - before;
    assert_eq!(env.refs(&target), env.refs(&src));
    let status = env.status_json(&src);
    assert!(
        support::mirror_status(&status, "viassh")["last_error"].is_null(),
        "{status}"
    );

    commit_with(&env, &src, "second", &vars);
    env.wait_for_mirrors(&src, &[&target]);
    let before = sshd.auth_connections();
    // With the variables again: the worker of "second" may have exited already, and then this
    // commit's hook starts a new one, which has only this commit's environment.
    commit_with(&env, &src, "third", &vars);
    env.wait_for_mirrors(&src, &[&target]);
    let later = sshd.auth_connections() - before;
    assert_eq!(
        later + 1,
        first,
        "the refusal was not remembered: {first} connections the first time, {later} later\n{}",
        sshd.log()
    );
}

/// A remote mirror costs one connection per pass, what `git push` itself needs: git reads the
/// mirror's refs and sends what they lack in the same conversation. Counted by sshd's log and by
/// lighttpd's: over http a pass is one conversation of git's (`info/refs`, then the push), or,
/// once the mirror was pushed to, the push alone (one request).
#[test]
fn one_connection_per_mirror_per_pass_over_ssh_and_http() {
    let env = TestEnv::new();
    let Some(sshd) = SshServer::start(&env, SshOptions::default()) else {
        return;
    };
    let Some(http) = HttpServer::start(&env, &[("alice", "token-1")]) else {
        return;
    };
    let src = env.init_repo("src");
    let over_ssh = env.init_bare("over-ssh.git");
    let over_http = http.create_repo(&env, "over-http");
    env.install(&src, &[]);
    // Closed with each pass: a pass of its own connects once.
    add_ssh_mirror(&env, &src, &sshd, "viassh", &over_ssh, &["--ssh-keep-open", "0"]);
    add_http_mirror(&env, &src, &http, "viahttp", "over-http", "MIRROR_HTTP_TOKEN");
    let ssh = sshd.git_ssh_command();
    let vars = [
        ("GIT_SSH_COMMAND", ssh.as_str()),
        ("MIRROR_HTTP_TOKEN", "token-1"),
    ];
    let steps = [
        ("first push", vec!["GET", "POST"]),
        ("one new commit", vec!["POST"]),
        ("nothing new", vec!["GET"]),
    ];
    let mut requests = RequestLog::new(&http);
    for (i, (step, expected)) in steps.iter().enumerate() {
        if i == 1 {
            commit_without_hooks(&env, &src, "new");
        }
        let ssh_before = sshd.auth_connections();
        run_ok(&env, &src, &["sync"], &vars);
        assert_eq!(env.refs(&over_ssh), env.refs(&src), "{step}");
        assert_eq!(env.refs(&over_http), env.refs(&src), "{step}");
        assert_eq!(
            sshd.auth_connections() - ssh_before,
            1,
            "{step} over ssh\n{}",
            sshd.log()
        );
        assert_eq!(
            &requests.next(expected.len()),
            expected,
            "{step} over http\n{}",
            http.logs()
        );
    }
}

/// An https mirror pushed to before takes the next commits in one request: the refs it was last
/// left with stand in for the advertisement `git push` first asks for (a round trip less). An
/// amend on the source goes the same way and is told as the source's own forced update.
#[test]
fn an_https_mirror_pushed_to_before_takes_the_next_commits_in_one_request() {
    let env = TestEnv::new();
    let Some(http) = HttpServer::start_tls(&env, &[("alice", HTTPS_TOKEN.1)]) else {
        return;
    };
    let (src, mirror, mut requests) = https_mirror_synced_once(&env, &http, "one");
    let vars = [HTTPS_TOKEN];

    commit_without_hooks(&env, &src, "second");
    let said = run_ok(&env, &src, &["sync", "-v"], &vars).stdout;
    assert_eq!(env.refs(&mirror), env.refs(&src));
    assert!(said.contains("refs/heads/main"), "{said}");
    assert_eq!(requests.next(1), ["POST"], "{}", http.logs());

    git_without_hooks(&env, &src, &["commit", "-q", "--amend", "-m", "amended"]);
    let said = run_ok(&env, &src, &["sync", "-v"], &vars).stdout;
    assert_eq!(env.refs(&mirror), env.refs(&src));
    assert!(said.contains("forced update refs/heads/main"), "{said}");
    assert!(!said.contains("overwrote"), "{said}");
    assert_eq!(requests.next(1), ["POST"], "{}", http.logs());
    let status = env.status_json(&src);
    assert_eq!(
        mirror_status(&status, "viahttp")["last_pushed"][0]["action"],
        "forced",
        "{status}"
    );
}

/// A push in one request counts on the mirror being as it was last left. Where someone pushed
/// to it meanwhile, receive-pack refuses that push whole (it checks every old value) and the
/// mirror keeps what it had; the usual push follows in the same pass, reads the mirror, and
/// tells the overwrite as one.
#[test]
fn a_mirror_changed_meanwhile_refuses_the_push_in_one_request_and_the_usual_push_follows() {
    let env = TestEnv::new();
    let Some(http) = HttpServer::start_tls(&env, &[("alice", HTTPS_TOKEN.1)]) else {
        return;
    };
    let (src, mirror, mut requests) = https_mirror_synced_once(&env, &http, "shared");
    let vars = [HTTPS_TOKEN];

    let elsewhere = env.root().join("elsewhere");
    env.git(env.root(), ["clone", "-q", s(&mirror), s(&elsewhere)]);
    env.commit(&elsewhere, "made on the mirror");
    env.git(&elsewhere, ["push", "-q", "origin", "main"]);
    commit_without_hooks(&env, &src, "second");
    let said = run_ok(&env, &src, &["sync", "-v"], &vars).stdout;
    assert_eq!(env.refs(&mirror), env.refs(&src));
    assert!(said.contains("overwrote diverged refs/heads/main"), "{said}");
    assert_eq!(requests.next(3), ["POST", "GET", "POST"], "{}", http.logs());
}

/// A token refused after the mirror took pushes (revoked, expired) is one failed login per pass,
/// as with `git push` alone: the refusal of the push in one request is the pass's answer, said
/// as git would say it, and not tried again by `git push` or by the worker.
#[test]
fn a_token_refused_after_earlier_pushes_is_one_failed_login_per_pass() {
    let env = TestEnv::new();
    let Some(http) = HttpServer::start_tls(&env, &[("alice", HTTPS_TOKEN.1)]) else {
        return;
    };
    let (src, mirror, mut requests) = https_mirror_synced_once(&env, &http, "revoked");
    let before = env.refs(&mirror);
    commit_without_hooks(&env, &src, "second");
    let sync = run(&env, &src, &["sync"], &[(HTTPS_TOKEN.0, "revoked-token")]);
    assert_eq!(sync.code, Some(3), "{sync}");
    assert!(
        sync.line_for("viahttp").contains("authentication failed"),
        "{sync}"
    );
    assert!(!sync.all().contains("revoked-token"), "{sync}");
    assert_eq!(requests.next(1), ["POST"], "{}", http.logs());
    assert_eq!(http.rejected_logins(), 1, "{}", http.logs());
    assert_eq!(env.refs(&mirror), before);
}

/// Where git's settings ask for something the push in one request does not do (here an extra
/// header on every request), the push is git's own, every pass. Why is said once, in the
/// background worker's log: a note written during a pass reaches the log (the worker does not
/// hold it for the whole pass).
#[test]
fn git_http_settings_it_does_not_follow_leave_the_push_to_git() {
    let env = TestEnv::new();
    let Some(http) = HttpServer::start_tls(&env, &[("alice", HTTPS_TOKEN.1)]) else {
        return;
    };
    env.git(
        env.root(),
        ["config", "--global", "http.extraHeader", "X-Mirror: yes"],
    );
    let (src, mirror, mut requests) = https_mirror_synced_once(&env, &http, "plain");
    let vars = [HTTPS_TOKEN];

    commit_with(&env, &src, "second", &vars);
    env.wait_for_mirrors(&src, &[&mirror]);
    assert_eq!(requests.next(2), ["GET", "POST"], "{}", http.logs());
    let log = env.common_dir(&src).join("repo-sync.log");
    let log = fs::read_to_string(&log).unwrap_or_else(|e| panic!("reading {}: {e}", log.display()));
    assert!(log.contains("http.extraheader is set"), "{log}");

    commit_without_hooks(&env, &src, "third");
    let run = run_ok(&env, &src, &["sync"], &vars);
    assert_eq!(env.refs(&mirror), env.refs(&src));
    assert_eq!(requests.next(2), ["GET", "POST"], "{}", http.logs());
    assert!(!run.stderr.contains("in one request"), "said again:\n{run}");
}

/// After a push in one request over https, the pass leaves a connection to the server open,
/// TLS set up and no request sent: the next push goes through it, with the same one request,
/// and connects no more (a proxy in front of the server counts the connections).
#[test]
fn an_https_push_goes_through_a_connection_opened_ahead() {
    let env = TestEnv::new();
    let Some(http) = HttpServer::start_tls(&env, &[("alice", HTTPS_TOKEN.1)]) else {
        return;
    };
    http.trust_ca(&env);
    let src = env.init_repo("src");
    let mirror = http.create_repo(&env, "ahead");
    let proxy = LoopbackServer::relaying_to(http.port());
    let url = format!("https://alice@127.0.0.1:{}/git/ahead.git", proxy.port());
    add_mirror(&env, &src, "viahttp", &url, &["--token-env", HTTPS_TOKEN.0]);
    let mut requests = RequestLog::new(&http);
    let vars = [HTTPS_TOKEN];
    let sockets = env.ssh_socket_dir();
    let holders = || holders_of("hold-connection", &sockets);
    let waiting = || connections_waiting(&sockets) > 0;

    run_ok(&env, &src, &["sync"], &vars);
    assert_eq!(
        requests.next(2),
        ["GET", "POST"],
        "git push first\n{}",
        http.logs()
    );
    commit_without_hooks(&env, &src, "second");
    run_ok(&env, &src, &["sync"], &vars);
    assert_eq!(env.refs(&mirror), env.refs(&src));
    assert_eq!(requests.next(1), ["POST"], "{}", http.logs());
    support::wait_for(support::WAIT, waiting, || "no connection was left open".into());
    let first = holders();
    assert_eq!(first.len(), 1, "{first:?}");
    let connections = proxy.accepted();

    commit_without_hooks(&env, &src, "third");
    let said = run_ok(&env, &src, &["sync", "-v"], &vars).stdout;
    assert_eq!(env.refs(&mirror), env.refs(&src));
    assert!(said.contains("refs/heads/main"), "{said}");
    assert_eq!(requests.next(1), ["POST"], "one request still\n{}", http.logs());
    support::wait_for(
        support::WAIT,
        || waiting() && holders().len() == 1 && holders() != first,
        || format!("no new connection left open: {first:?}, then {:?}", holders()),
    );
    assert_eq!(
        proxy.accepted(),
        connections + 1,
        "the push connected by itself; only the next connection opened ahead may"
    );
    let status = run_ok(&env, &src, &["status"], &[]).stdout;
    assert!(!status.contains("failed"), "{status}");
}

/// A pass to several mirrors leaves a session or a connection opened ahead for each, ssh and
/// https alike (one process of ours starts them all), and the next pass pushes through every
/// one of them: it opens no ssh session and no https connection of its own.
#[test]
fn a_pass_to_several_mirrors_leaves_one_opened_ahead_for_each_and_the_next_pass_uses_them_all() {
    let mut env = TestEnv::new();
    let Some(sshd) = SshServer::start(&env, SshOptions::default()) else {
        return;
    };
    let Some(http) = HttpServer::start_tls(&env, &[("alice", HTTPS_TOKEN.1)]) else {
        return;
    };
    http.trust_ca(&env);
    let runs = env.root().join("ssh-runs.log");
    env.spy_on_path("ssh", &runs);
    let (src, mut mirrors) = source_with_ssh_mirrors(&env, &sshd, 3, &[]);
    mirrors.push(http.create_repo(&env, "several"));
    let proxy = LoopbackServer::relaying_to(http.port());
    let url = format!("https://alice@127.0.0.1:{}/git/several.git", proxy.port());
    add_mirror(&env, &src, "viahttp", &url, &["--token-env", HTTPS_TOKEN.0]);
    let ssh_command = sshd.git_ssh_command();
    let vars = [("GIT_SSH_COMMAND", ssh_command.as_str()), HTTPS_TOKEN];
    let sockets = env.ssh_socket_dir();
    let sessions = || receive_pack_sessions(&runs);
    let holders = || {
        let mut pids = holders_of("hold-session", &sockets);
        pids.extend(holders_of("hold-connection", &sockets));
        pids
    };
    let sync = |step: &str| {
        commit_without_hooks(&env, &src, step);
        run_ok(&env, &src, &["sync"], &vars);
        for mirror in &mirrors {
            assert_eq!(env.refs(mirror), env.refs(&src), "{step}: {}", mirror.display());
        }
    };
    let all_held = |step: &str, before: &[String]| {
        support::wait_for(
            support::WAIT,
            || {
                let now = holders();
                sessions_waiting(&sockets) == 3
                    && connections_waiting(&sockets) == 1
                    && now.len() == 4
                    && now.iter().all(|pid| !before.contains(pid))
            },
            || {
                format!(
                    "{step}: not one new holder for each mirror: {} sessions and {} connections \
                     waiting, holders {:?} (before {before:?})",
                    sessions_waiting(&sockets),
                    connections_waiting(&sockets),
                    holders()
                )
            },
        );
        holders()
    };

    // git push to each the first time; over https only a push in one request leaves a
    // connection, which the second pass makes.
    sync("first");
    sync("second");
    let held = all_held("after the second pass", &[]);
    let (opened, connected) = (sessions(), proxy.accepted());

    sync("third");
    all_held("after the third pass", &held);
    assert_eq!(
        sessions(),
        opened + 3,
        "the pass opened sessions of its own: only the next ones opened ahead may"
    );
    assert_eq!(
        proxy.accepted(),
        connected + 1,
        "the pass connected by itself: only the next connection opened ahead may"
    );
    let status = run_ok(&env, &src, &["status"], &[]).stdout;
    assert!(!status.contains("failed"), "{status}");
}

/// The variable holding the https mirrors' password, and its value.
const HTTPS_TOKEN: (&str, &str) = ("HTTPS_TOKEN", "token-1");

/// A source repository with mirror `viahttp` at the TLS server's repository `repo` (user alice,
/// password in [`HTTPS_TOKEN`], the server's CA trusted), after one sync: git's own push, a `GET`
/// and a `POST`. Returns the source, the served repository and the request log after that sync.
fn https_mirror_synced_once<'a>(
    env: &TestEnv,
    http: &'a HttpServer,
    repo: &str,
) -> (PathBuf, PathBuf, RequestLog<'a>) {
    http.trust_ca(env);
    let src = env.init_repo("src");
    let mirror = http.create_repo(env, repo);
    env.install(&src, &[]);
    add_http_mirror(env, &src, http, "viahttp", repo, HTTPS_TOKEN.0);
    let mut requests = RequestLog::new(http);
    run_ok(env, &src, &["sync"], &[HTTPS_TOKEN]);
    assert_eq!(requests.next(2), ["GET", "POST"], "{}", http.logs());
    (src, mirror, requests)
}

/// A commit made without our hooks: only an explicit `sync` moves it.
fn commit_without_hooks(env: &TestEnv, repo: &Path, message: &str) {
    env.change_file(repo, message);
    git_without_hooks(env, repo, &["commit", "-q", "-m", message]);
}

/// `git args` in `repo` with an empty hooks directory: no hook of ours fires.
fn git_without_hooks(env: &TestEnv, repo: &Path, args: &[&str]) {
    let no_hooks = env.root().join("no-hooks");
    std::fs::create_dir_all(&no_hooks).expect("an empty hooks dir");
    let hooks_path = format!("core.hooksPath={}", s(&no_hooks));
    let mut all = vec!["-c", hooks_path.as_str()];
    all.extend_from_slice(args);
    env.git(repo, all);
}

/// The methods of the requests lighttpd logged for git (`GET` of `info/refs`, `POST` of a push).
fn git_requests(http: &HttpServer) -> Vec<String> {
    http.access_log()
        .lines()
        .filter(|line| line.contains(" /git/"))
        .filter_map(|line| line.split('"').nth(1)?.split(' ').next().map(str::to_owned))
        .collect()
}

/// The requests lighttpd logs for git, read a pass at a time.
struct RequestLog<'a> {
    http: &'a HttpServer,
    seen: usize,
}

impl<'a> RequestLog<'a> {
    fn new(http: &'a HttpServer) -> Self {
        Self { http, seen: 0 }
    }

    /// The requests logged since the last call, once at least `want` of them are there and
    /// lighttpd has had time to write any more (it writes its access log about once a second).
    fn next(&mut self, want: usize) -> Vec<String> {
        support::wait_for(
            std::time::Duration::from_secs(10),
            || git_requests(self.http).len() >= self.seen + want,
            || format!("fewer than {want} requests logged\n{}", self.http.logs()),
        );
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let new = git_requests(self.http).split_off(self.seen);
        self.seen += new.len();
        new
    }
}

/// Several mirrors on one ssh host share one connection per pass: each gets its own push, as a
/// session of one ssh master that the pass opens and, with `ssh_keep_open = 0`, closes.
#[test]
fn mirrors_on_one_ssh_host_share_one_connection_per_pass() {
    let env = TestEnv::new();
    let Some(sshd) = SshServer::start(&env, SshOptions::default()) else {
        return;
    };
    // Closed with the pass, which this test checks.
    let (src, mirrors) = source_with_ssh_mirrors(&env, &sshd, 4, &["--ssh-keep-open", "0"]);
    let ssh = sshd.git_ssh_command();
    let vars = [("GIT_SSH_COMMAND", ssh.as_str())];
    for step in ["first push", "one new commit"] {
        if step == "one new commit" {
            env.change_file(&src, "new");
            env.git(
                &src,
                ["-c", "core.hooksPath=/nonexistent", "commit", "-q", "-m", "new"],
            );
        }
        let before = sshd.auth_connections();
        run_ok(&env, &src, &["sync"], &vars);
        for mirror in &mirrors {
            assert_eq!(env.refs(mirror), env.refs(&src), "{step}");
        }
        assert_eq!(
            sshd.auth_connections() - before,
            1,
            "{step}: four mirrors on one host\n{}",
            sshd.log()
        );
    }
    // The master is gone with the pass, and so is its socket.
    let sockets = env.ssh_socket_dir();
    support::wait_for(
        Duration::from_secs(5),
        || !master_running(&sockets),
        || "an ssh master of the pass is still running".to_owned(),
    );
    let left: Vec<_> = fs::read_dir(&sockets)
        .expect("the socket dir")
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_socket()))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A server that allows fewer sessions on a connection than a pass has mirrors on it (sshd's
/// `MaxSessions`) still gets every push: ssh connects those it refuses on the shared connection
/// by themselves.
#[test]
fn mirrors_beyond_the_servers_sessions_per_connection_connect_by_themselves() {
    let env = TestEnv::new();
    let options = SshOptions {
        max_sessions: Some(1),
        ..SshOptions::default()
    };
    let Some(sshd) = SshServer::start(&env, options) else {
        return;
    };
    let (src, mirrors) = source_with_ssh_mirrors(&env, &sshd, 4, &[]);
    let ssh = sshd.git_ssh_command();
    let sync = run_ok(&env, &src, &["sync"], &[("GIT_SSH_COMMAND", ssh.as_str())]);
    for mirror in &mirrors {
        assert_eq!(env.refs(mirror), env.refs(&src), "{sync}\n{}", sshd.log());
    }
    let status = run_ok(&env, &src, &["status"], &[]).stdout;
    assert!(!status.contains("failed"), "{status}");
}

/// A connection that could not be opened on one try (the network down for a moment) is opened
/// again on the background's next try, and the commit reaches the mirror.
#[test]
fn a_connection_that_failed_to_open_is_opened_again_on_the_next_try() {
    let env = TestEnv::new();
    let Some(sshd) = SshServer::start(&env, SshOptions::default()) else {
        return;
    };
    let (src, mirrors) = source_with_ssh_mirrors(&env, &sshd, 1, &["--retry-max-delay", "1"]);
    let mirror = &mirrors[0];
    // Refuses the first connection (not ssh's `-G`, which only reads the config), then is ssh.
    let refused = env.root().join("refused-once");
    let flaky = env.root().join("flaky-ssh");
    let ssh = sshd.git_ssh_command();
    env.write_executable(
        &flaky,
        &format!(
            "#!/bin/sh\n\
             case \" $* \" in *\" -G \"*) exec {ssh} \"$@\";; esac\n\
             if [ ! -e {mark} ]; then\n\
             \t: > {mark}\n\
             \techo 'ssh: connect to host 127.0.0.1 port 22: Connection refused' >&2\n\
             \texit 255\n\
             fi\n\
             exec {ssh} \"$@\"\n",
            mark = support::sh_quote(&refused),
        ),
    );
    env.change_file(&src, "while the network is down");
    let mut commit = env.git_cmd(&src);
    commit
        .env("GIT_SSH_COMMAND", &flaky)
        .args(["commit", "-q", "-m", "while the network is down"]);
    support::run_ok(&mut commit);
    env.wait_until_refs_equal(&src, mirror, support::WAIT);
    // The first try's connection was refused, so the push came on a later try.
    assert!(refused.exists(), "the first connection was refused");
}

/// A host slow to let a pass's ssh master in holds up no other repository's pass that would
/// share it: after a moment that pass connects by itself, and both end in sync.
#[test]
fn a_pass_does_not_wait_in_line_behind_a_connection_another_is_slow_to_open() {
    let env = TestEnv::new();
    let Some(sshd) = SshServer::start(&env, SshOptions::default()) else {
        return;
    };
    let (opening, opened) = (
        env.root().join("master-opening"),
        env.root().join("master-opened"),
    );
    let slow = env.root().join("slow-ssh");
    // Only the master (`-N`, no command) is slow: a push that connects by itself is not.
    env.write_executable(
        &slow,
        &format!(
            "#!/bin/sh\n\
             case \" $* \" in *\" -N \"*) : > {opening}; sleep 8; : > {opened};; esac\n\
             exec {ssh} \"$@\"\n",
            opening = support::sh_quote(&opening),
            opened = support::sh_quote(&opened),
            ssh = sshd.git_ssh_command(),
        ),
    );
    let vars = [("GIT_SSH_COMMAND", s(&slow))];
    let repos: Vec<(PathBuf, PathBuf)> = ["a", "b"]
        .iter()
        .map(|name| {
            let src = env.init_repo(name);
            env.install(&src, &[]);
            let mirror = env.init_bare(&format!("{name}.git"));
            let url = sshd.url(&mirror);
            let args = ["mirror", "add", "--no-check", "m", &url, "--identity-file"];
            let mut args = args.to_vec();
            args.push(s(sshd.client_key()));
            run_ok(&env, &src, &args, &[]);
            (src, mirror)
        })
        .collect();
    let (a, b) = (&repos[0], &repos[1]);
    let mut first = env.std_cmd_in(&a.0);
    first.arg("sync").envs(vars.iter().copied());
    let mut first = first.spawn().expect("starting the first sync");
    support::wait_for(
        Duration::from_secs(10),
        || opening.exists(),
        || "the first pass never began to open its connection".to_owned(),
    );
    run_ok(&env, &b.0, &["sync"], &vars);
    assert_eq!(env.refs(&b.1), env.refs(&b.0));
    assert!(
        !opened.exists(),
        "the second pass was held until the first one's connection opened"
    );
    let status = first.wait().expect("waiting for the first sync");
    assert!(status.success(), "the first sync failed");
    assert_eq!(env.refs(&a.1), env.refs(&a.0));
}

/// A source repository (installed, no mirror of its own) and `count` bare repositories served
/// by `sshd`, added to it as mirrors `m0`, `m1`, ... with the client key and `extra` flags.
fn source_with_ssh_mirrors(
    env: &TestEnv,
    sshd: &SshServer,
    count: usize,
    extra: &[&str],
) -> (PathBuf, Vec<PathBuf>) {
    let src = env.init_repo("src");
    env.install(&src, &[]);
    let mirrors: Vec<_> = (0..count).map(|i| env.init_bare(&format!("m{i}.git"))).collect();
    for (i, mirror) in mirrors.iter().enumerate() {
        add_ssh_mirror(env, &src, sshd, &format!("m{i}"), mirror, extra);
    }
    (src, mirrors)
}

/// Whether an ssh master with its socket in `dir` runs.
fn master_running(dir: &Path) -> bool {
    let running = Command::new("pgrep")
        .args(["-f", s(dir)])
        .output()
        .expect("running pgrep");
    !running.stdout.is_empty()
}

/// A pass keeps its ssh connection open for `ssh_keep_open` seconds: the next passes of a burst
/// log in no more, the connection closes by itself at the end of its window, and one that died
/// is replaced by the next pass without a failed push.
#[test]
fn an_ssh_connection_kept_open_serves_the_next_passes_and_closes_after_its_window() {
    let env = TestEnv::new();
    let Some(sshd) = SshServer::start(&env, SshOptions::default()) else {
        return;
    };
    let (src, mirrors) = source_with_ssh_mirrors(&env, &sshd, 1, &["--ssh-keep-open", "2"]);
    let mirror = &mirrors[0];
    let ssh = sshd.git_ssh_command();
    let vars = [("GIT_SSH_COMMAND", ssh.as_str())];
    let commit_and_sync = |step: &str| {
        env.change_file(&src, step);
        env.git(
            &src,
            ["-c", "core.hooksPath=/nonexistent", "commit", "-q", "-m", step],
        );
        let before = sshd.auth_connections();
        run_ok(&env, &src, &["sync"], &vars);
        assert_eq!(env.refs(mirror), env.refs(&src), "{step}");
        sshd.auth_connections() - before
    };
    let sockets = env.ssh_socket_dir();
    assert_eq!(
        commit_and_sync("first"),
        1,
        "the first pass connects\n{}",
        sshd.log()
    );
    assert!(
        master_running(&sockets),
        "the connection is kept open after the pass"
    );
    for step in ["second", "third"] {
        assert_eq!(
            commit_and_sync(step),
            0,
            "{step}: a pass within the window logs in no more\n{}",
            sshd.log()
        );
    }
    // Idle for its window (2 s), the connection closes by itself.
    support::wait_for(
        Duration::from_secs(15),
        || !master_running(&sockets),
        || "the kept connection outlived its window".to_owned(),
    );
    assert_eq!(commit_and_sync("after the window"), 1, "{}", sshd.log());
    // A connection killed (its socket left behind) is replaced, and nothing fails.
    let killed = Command::new("pkill")
        .args(["-KILL", "-f", s(&sockets)])
        .status()
        .expect("running pkill");
    assert!(killed.success(), "a kept connection to kill");
    support::wait_for(
        Duration::from_secs(5),
        || !master_running(&sockets),
        || "the killed master still runs".to_owned(),
    );
    assert_eq!(commit_and_sync("after a kill"), 1, "{}", sshd.log());
    assert!(master_running(&sockets), "a new connection is kept open");
    let status = run_ok(&env, &src, &["status"], &[]).stdout;
    assert!(!status.contains("failed"), "{status}");
}

/// After a push over ssh through a connection kept open, the pass leaves `git-receive-pack`
/// running for the mirror's next push, its advertisement read: the next pass opens no session
/// of its own. One that finds the mirror changed meanwhile is refused whole and `git push`
/// follows; one left unused ends by itself once `ssh_keep_open` has passed, leaving no process
/// on either side.
#[test]
fn an_ssh_push_goes_through_a_session_opened_ahead_and_one_left_unused_ends_by_itself() {
    let mut env = TestEnv::new();
    let Some(sshd) = SshServer::start(&env, SshOptions::default()) else {
        return;
    };
    let runs = env.root().join("ssh-runs.log");
    env.spy_on_path("ssh", &runs);
    let src = env.init_repo("src");
    let mirror = env.init_bare("ssh-mirror.git");
    add_ssh_mirror(&env, &src, &sshd, "viassh", &mirror, &[]);
    let ssh_command = sshd.git_ssh_command();
    let vars = [("GIT_SSH_COMMAND", ssh_command.as_str())];
    let sockets = env.ssh_socket_dir();
    let sessions = || receive_pack_sessions(&runs);
    let spare_waits = || sessions_waiting(&sockets) > 0;
    let wait_for_spare = |step: &str| {
        support::wait_for(support::WAIT, spare_waits, || {
            format!("{step}: no session was left open")
        });
    };
    let commit_and_sync = |step: &str| {
        env.commit(&src, step);
        let run = run_ok(&env, &src, &["sync"], &vars);
        assert_eq!(env.refs(&mirror), env.refs(&src), "{step}");
        run.stdout
    };

    let holders = || holders_of("hold-session", &sockets);

    commit_and_sync("first");
    wait_for_spare("after the first push");
    assert_eq!(sessions(), 2, "git push's, then the one left open");
    let first_holder = holders();
    assert_eq!(first_holder.len(), 1, "{first_holder:?}");
    commit_and_sync("second");
    wait_for_spare("after the second push");
    assert_eq!(
        sessions(),
        3,
        "only the next one left open: the push took the waiting one"
    );
    support::wait_for(
        support::WAIT,
        || holders().len() == 1 && holders() != first_holder,
        || {
            format!(
                "the waiting session was not the one used: {first_holder:?}, then {:?}",
                holders()
            )
        },
    );

    // Changed meanwhile: the waiting session's push is refused whole, git push follows.
    let elsewhere = env.root().join("elsewhere");
    env.git(env.root(), ["clone", "-q", s(&mirror), s(&elsewhere)]);
    env.commit(&elsewhere, "made on the mirror");
    env.git(&elsewhere, ["push", "-q", "origin", "main"]);
    let said = commit_and_sync("third");
    assert!(said.contains("that had diverged on the mirror"), "{said}");
    wait_for_spare("after the third push");
    assert_eq!(sessions(), 5, "git push's, then the next one left open");

    // Unused, it ends once `ssh_keep_open` has passed: its socket, our holder and the server's
    // receive-pack are all gone, and the mirror is as it was.
    let config = env.config_path(&src);
    let text = fs::read_to_string(&config).expect("the repository's config");
    fs::write(
        &config,
        text.replace("[mirrors.viassh]", "[mirrors.viassh]\nssh_keep_open = 1"),
    )
    .expect("writing the config");
    commit_and_sync("fourth");
    let refs = env.refs(&mirror);
    let leftovers = || {
        let found = Command::new("pgrep")
            .args(["-f", &format!("hold-session|git-receive-pack {}", s(&mirror))])
            .output()
            .expect("running pgrep");
        String::from_utf8_lossy(&found.stdout).into_owned()
    };
    support::wait_for(
        support::WAIT,
        || !spare_waits() && leftovers().is_empty(),
        || format!("a session left open outlived its window: {}", leftovers()),
    );
    assert_eq!(env.refs(&mirror), refs);
    let status = run_ok(&env, &src, &["status"], &[]).stdout;
    assert!(!status.contains("failed"), "{status}");
}

/// A push through a session opened ahead is done at receive-pack's report, once the mirror's
/// refs are updated: it does not wait for what the server runs after it (the mirror's
/// post-receive hook, `gc --auto`), and that still runs to its end.
#[test]
fn a_push_through_a_session_opened_ahead_ends_at_the_report_and_the_mirrors_hook_still_ends() {
    let env = TestEnv::new();
    let Some(sshd) = SshServer::start(&env, SshOptions::default()) else {
        return;
    };
    let (src, mirrors) = source_with_ssh_mirrors(&env, &sshd, 1, &[]);
    let ssh_command = sshd.git_ssh_command();
    let vars = [("GIT_SSH_COMMAND", ssh_command.as_str())];
    let sockets = env.ssh_socket_dir();
    commit_without_hooks(&env, &src, "first");
    run_ok(&env, &src, &["sync"], &vars);
    support::wait_for(
        support::WAIT,
        || sessions_waiting(&sockets) > 0,
        || "no session was left open".to_owned(),
    );
    ends_at_the_report(&env, &src, &mirrors[0], || {
        run_ok(&env, &src, &["sync"], &vars);
    });
}

/// The same over https, through a connection opened ahead.
#[test]
fn a_push_through_a_connection_opened_ahead_ends_at_the_report_and_the_mirrors_hook_still_ends() {
    let env = TestEnv::new();
    let Some(http) = HttpServer::start_tls(&env, &[("alice", HTTPS_TOKEN.1)]) else {
        return;
    };
    let (src, mirror, _) = https_mirror_synced_once(&env, &http, "report");
    commit_without_hooks(&env, &src, "second");
    run_ok(&env, &src, &["sync"], &[HTTPS_TOKEN]);
    let sockets = env.ssh_socket_dir();
    support::wait_for(
        support::WAIT,
        || connections_waiting(&sockets) > 0,
        || "no connection was left open".to_owned(),
    );
    ends_at_the_report(&env, &src, &mirror, || {
        run_ok(&env, &src, &["sync"], &[HTTPS_TOKEN]);
    });
}

/// Gives `mirror` a post-receive hook that waits for a file `go` (a minute at most), then
/// speaks, a second later again (when a server whose client left would have cut it off), and
/// notes what it was given; makes a commit in `src` and runs `sync`, which must return with the
/// mirror's refs updated while the hook still waits, and whose hook then ends once let go.
fn ends_at_the_report(env: &TestEnv, src: &Path, mirror: &Path, sync: impl FnOnce()) {
    let (go, done) = (env.root().join("go"), env.root().join("hook-done"));
    write_executable(
        &mirror.join("hooks/post-receive"),
        &format!(
            "#!/bin/sh\ni=0\nwhile [ ! -e {go} ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done\n\
             echo 'the hook speaks after the report'\nsleep 1\necho 'and again'\nupdates=$(cat)\n\
             printf '%s\\n' \"$updates\" >{done}.tmp && mv {done}.tmp {done}\n",
            go = support::sh_quote(&go),
            done = support::sh_quote(&done),
        ),
    );
    commit_without_hooks(env, src, "waited on");
    let head = env.head(src);
    sync();
    assert_eq!(env.refs(mirror), env.refs(src), "the refs are in at the report");
    assert!(
        !done.exists(),
        "the push waited for the mirror's hook, which only ends after `go`"
    );
    fs::write(&go, "").expect("writing go");
    support::wait_for(
        support::WAIT,
        || done.exists(),
        || "the mirror's hook was cut short once the push had left".to_owned(),
    );
    let given = fs::read_to_string(&done).expect("the hook's notes");
    assert!(given.contains(&format!("{head} refs/heads/main")), "{given}");
}

/// How many ssh sessions ran `git-receive-pack` on the server, whoever opened them, as the spy
/// on `ssh` logged them in `runs`.
fn receive_pack_sessions(runs: &Path) -> usize {
    fs::read_to_string(runs)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains("git-receive-pack"))
        .count()
}

/// The pids of our processes `git-repo-sync <command>` holding a connection opened ahead, with
/// their sockets in `sockets`.
fn holders_of(command: &str, sockets: &Path) -> Vec<String> {
    let found = Command::new("pgrep")
        .args(["-f", &format!("{command} --socket {}", s(sockets))])
        .output()
        .expect("running pgrep");
    String::from_utf8_lossy(&found.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// How many ssh sessions opened ahead wait in `sockets`: beside their master's socket
/// `<id>-<n>`, at `<id>-<n>s<remote>`.
fn sessions_waiting(sockets: &Path) -> usize {
    holders_waiting(sockets, |name| {
        name.rsplit_once('-').is_some_and(|(_, part)| part.contains('s'))
    })
}

/// How many https connections opened ahead wait in `sockets`, at `h<endpoint>`.
fn connections_waiting(sockets: &Path) -> usize {
    holders_waiting(sockets, |name| name.starts_with('h'))
}

/// How many holders wait at sockets in `sockets` whose names `named` takes.
fn holders_waiting(sockets: &Path, named: impl Fn(&str) -> bool) -> usize {
    fs::read_dir(sockets)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| {
            std::os::unix::fs::FileTypeExt::is_socket(&entry.file_type().expect("a file type"))
                && named(&entry.file_name().to_string_lossy())
        })
        .count()
}

/// Puts a `git` on PATH that notes each of its command lines in `log`, then runs the real one.
fn spy_on_git(env: &mut TestEnv, log: &Path) {
    env.spy_on_path("git", log);
}

/// An ssh mirror pushed to before takes the next commits without waiting for its refs: the
/// commands and the pack go into `git-receive-pack` at once, over the connection kept open, on
/// the refs it was last left with (`git send-pack --stateless-rpc`, no `git push`), built once
/// for two mirrors left alike. An amend is told as the source's forced update; a mirror changed
/// meanwhile refuses that push whole, and `git push` follows in the same pass. None of it is
/// news to the user.
#[test]
fn an_ssh_mirror_pushed_to_before_takes_the_next_commits_without_waiting_for_its_refs() {
    let mut env = TestEnv::new();
    let Some(sshd) = SshServer::start(&env, SshOptions::default()) else {
        return;
    };
    let runs = env.root().join("git-runs.log");
    spy_on_git(&mut env, &runs);
    let src = env.init_repo("src");
    let mirror = env.init_bare("ssh-mirror.git");
    let other = env.init_bare("ssh-other.git");
    let ssh_command = sshd.git_ssh_command();
    let vars = [("GIT_SSH_COMMAND", ssh_command.as_str())];
    add_ssh_mirror(&env, &src, &sshd, "viassh", &mirror, &[]);
    add_ssh_mirror(&env, &src, &sshd, "other", &other, &[]);
    let both_equal = |env: &TestEnv| {
        assert_eq!(env.refs(&mirror), env.refs(&src));
        assert_eq!(env.refs(&other), env.refs(&src));
    };
    // Which way each sync pushed: the git commands it ran that reach the mirror.
    let sync = |env: &TestEnv| {
        let _ = fs::remove_file(&runs);
        let run = run_ok(env, &src, &["sync", "-v"], &vars);
        assert!(!run.all().contains("one request"), "{run}");
        let ran = fs::read_to_string(&runs).unwrap_or_default();
        let pushes: Vec<&str> = ran
            .lines()
            .filter_map(|line| {
                if line.contains(" send-pack --stateless-rpc") {
                    Some("send-pack")
                } else if line.contains(" push ") {
                    Some("push")
                } else {
                    None
                }
            })
            .collect();
        (run.stdout, pushes)
    };

    env.commit(&src, "first");
    let (_, pushes) = sync(&env);
    assert_eq!(pushes, ["push", "push"], "the first push reads the mirror's refs");
    env.commit(&src, "second");
    let (_, pushes) = sync(&env);
    both_equal(&env);
    assert_eq!(pushes, ["send-pack"], "{}", sshd.log());

    git_without_hooks(&env, &src, &["commit", "-q", "--amend", "-m", "amended"]);
    let (said, pushes) = sync(&env);
    both_equal(&env);
    assert!(said.contains("forced update refs/heads/main"), "{said}");
    assert_eq!(pushes, ["send-pack"]);

    let elsewhere = env.root().join("elsewhere");
    env.git(env.root(), ["clone", "-q", s(&mirror), s(&elsewhere)]);
    env.commit(&elsewhere, "made on the mirror");
    env.git(&elsewhere, ["push", "-q", "origin", "main"]);
    env.commit(&src, "third");
    let (said, pushes) = sync(&env);
    both_equal(&env);
    assert!(said.contains("overwrote diverged refs/heads/main"), "{said}");
    assert_eq!(pushes, ["send-pack", "push"]);
    assert!(!env.log(&src).contains("one request"), "{}", env.log(&src));
}
