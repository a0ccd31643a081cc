//! Git LFS: a repository's large files reach every mirror before the refs that point at them, so
//! a restore from a mirror checks out the files, not pointers. Mirrors on this machine get copies
//! of the object files; others get them through git-lfs, from the LFS endpoint it finds for the
//! mirror. A mirror that cannot take them fails loudly and keeps its refs; a repository without
//! LFS never starts git-lfs.

use std::fs;
use std::path::Path;

use crate::support::lfs::{
    LfsServer, assert_clone_checks_out, assert_has, assert_holds, commit_lfs_file, init_lfs_repo,
    install_filters, require_git_lfs,
};
use crate::support::servers::{HttpServer, SshOptions, SshServer, free_port};
use crate::support::{TestEnv, WAIT, file_url, mirror_status, s, sh_quote};

#[test]
fn lfs_objects_reach_path_and_file_url_mirrors_after_a_commit() {
    let Some(_) = require_git_lfs("lfs_objects_reach_path_and_file_url_mirrors_after_a_commit") else {
        return;
    };
    let env = TestEnv::new();
    let repo = init_lfs_repo(&env, "project");
    let by_path = env.init_bare("mirrors/by-path.git");
    let by_url = env.init_bare("mirrors/by-url.git");
    env.install(&repo, &[("path", s(&by_path)), ("url", &file_url(&by_url))]);

    let first = commit_lfs_file(&env, &repo, "first.bin");
    env.wait_for_mirrors(&repo, &[&by_path, &by_url]);
    // The objects went first: once a mirror has the refs, it has what they point at.
    for mirror in [&by_path, &by_url] {
        assert_holds(mirror, &[("first.bin", &first)]);
    }

    let second = commit_lfs_file(&env, &repo, "second.bin");
    env.wait_for_mirrors(&repo, &[&by_path, &by_url]);
    for mirror in [&by_path, &by_url] {
        assert_holds(mirror, &[("first.bin", &first), ("second.bin", &second)]);
    }
    assert_clone_checks_out(
        &env,
        &file_url(&by_path),
        "restore-path",
        &["first.bin", "second.bin"],
    );
    assert_clone_checks_out(
        &env,
        &file_url(&by_url),
        "restore-url",
        &["first.bin", "second.bin"],
    );

    let status = env.status_json(&repo);
    for name in ["path", "url"] {
        let mirror = mirror_status(&status, name);
        assert_eq!(mirror["last_result"], "ok", "{mirror}");
        assert_eq!(mirror["lfs_objects"], 2, "{mirror}");
    }
    let text = env.cmd_in(&repo).arg("status").output().expect("running status");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("LFS: holds 2 of this repository's objects"),
        "{text}"
    );
}

#[test]
fn lfs_objects_pushed_into_a_bare_server_repository_reach_its_mirrors() {
    let Some(_) = require_git_lfs("lfs_objects_pushed_into_a_bare_server_repository_reach_its_mirrors")
    else {
        return;
    };
    let env = TestEnv::new();
    let server = env.init_bare("srv/project.git");
    let by_path = env.root().join("mirrors/by-path.git");
    let by_url = env.init_bare("mirrors/by-url.git");
    fs::create_dir_all(by_path.parent().expect("a parent")).expect("creating the mirrors dir");
    env.git(env.root(), ["init", "-q", "--bare", s(&by_path)]);
    env.install(&server, &[("path", s(&by_path)), ("url", &file_url(&by_url))]);

    // A user's push: git-lfs's pre-push hook puts the objects into the server first (hard links
    // where it can: that is git-lfs's doing, not ours).
    let work = init_lfs_repo(&env, "work");
    let oid = commit_lfs_file(&env, &work, "data.bin");
    env.git(&work, ["push", "-q", &file_url(&server), "main"]);
    assert_has(&server, &[("data.bin", &oid)]);

    env.wait_for_mirrors(&server, &[&by_path, &by_url]);
    for mirror in [&by_path, &by_url] {
        assert_holds(mirror, &[("data.bin", &oid)]);
    }
    assert_clone_checks_out(&env, &file_url(&by_url), "restore", &["data.bin"]);
}

const USER: &str = "mirror-bot";
const TOKEN: &str = "lfs-s3cret-token";

/// `mirror add NAME URL --token-env FORGE_TOKEN` in `repo`, the token in the command's environment.
fn add_https_mirror(env: &TestEnv, repo: &Path, name: &str, url: &str) {
    env.cmd_in(repo)
        .args(["mirror", "add", name, url, "--token-env", "FORGE_TOKEN"])
        .env("FORGE_TOKEN", TOKEN)
        .assert()
        .success();
}

/// An https mirror whose forge serves LFS (giftless behind the same lighttpd, which lets no
/// request through without the mirror's login):
/// the objects reach its LFS server with the mirror's credentials, after a commit here and after
/// a push into a bare server repository, and a clone of it checks out the real content.
#[test]
fn lfs_objects_reach_an_https_mirror_with_an_lfs_server() {
    let Some(_) = require_git_lfs("lfs_objects_reach_an_https_mirror_with_an_lfs_server") else {
        return;
    };
    let env = TestEnv::new();
    let Some(lfs_server) = LfsServer::start(&env) else {
        return;
    };
    let Some(http) = HttpServer::start_tls_with_lfs(&env, &[(USER, TOKEN)], lfs_server.port()) else {
        return;
    };
    http.trust_ca(&env);
    let logs = || format!("{}\n--- giftless ---\n{}", http.logs(), lfs_server.log());

    // A commit here, synced in the foreground.
    let served = http.create_repo(&env, "project");
    let repo = init_lfs_repo(&env, "project");
    add_https_mirror(&env, &repo, "forge", &http.url_with_user(USER, "project"));
    let oid = commit_lfs_file(&env, &repo, "data.bin");
    let out = env
        .cmd_in(&repo)
        .arg("sync")
        .env("FORGE_TOKEN", TOKEN)
        .output()
        .expect("running sync");
    assert!(out.status.success(), "{out:?}\n{}", logs());
    assert!(lfs_server.holds("project", "data.bin", &oid), "{}", logs());
    assert_eq!(env.refs(&served), env.refs(&repo));
    assert!(
        !format!("{out:?}").contains(TOKEN),
        "the token was printed: {out:?}"
    );
    let status = env.status_json(&repo);
    assert_eq!(
        mirror_status(&status, "forge")["lfs_through_git_lfs"],
        true,
        "{status}"
    );
    assert_eq!(mirror_status(&status, "forge")["lfs_objects"], 1, "{status}");

    // The count follows what the mirror was given: one more object, then a commit without one.
    let sync = |repo: &std::path::Path| {
        let out = env
            .cmd_in(repo)
            .arg("sync")
            .env("FORGE_TOKEN", TOKEN)
            .output()
            .expect("running sync");
        assert!(out.status.success(), "{out:?}\n{}", logs());
    };
    let second = commit_lfs_file(&env, &repo, "second.bin");
    sync(&repo);
    env.commit(&repo, "no LFS content");
    sync(&repo);
    assert!(lfs_server.holds("project", "second.bin", &second), "{}", logs());
    let status = env.status_json(&repo);
    assert_eq!(mirror_status(&status, "forge")["lfs_objects"], 2, "{status}");
    let shown = env.cmd_in(&repo).arg("status").output().expect("running status");
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("LFS: holds 2 of this repository's objects (on its LFS server, put there by git-lfs)"),
        "{shown}"
    );

    // Without our record of what it was given (a mirror pushed before it carried LFS), git-lfs
    // checks every object with the server once, and the count is whole again.
    fs::remove_dir_all(repo.join(".git/repo-sync-lfs")).expect("removing the record");
    let third = commit_lfs_file(&env, &repo, "third.bin");
    sync(&repo);
    assert!(lfs_server.holds("project", "third.bin", &third), "{}", logs());
    let status = env.status_json(&repo);
    assert_eq!(mirror_status(&status, "forge")["lfs_objects"], 3, "{status}");

    // A push into a bare server repository, carried by its post-receive hook's worker.
    let server = env.init_bare("srv/shared.git");
    let served_shared = http.create_repo(&env, "shared");
    add_https_mirror(&env, &server, "forge", &http.url_with_user(USER, "shared"));
    env.install(&server, &[]);
    let work = init_lfs_repo(&env, "work");
    let pushed = commit_lfs_file(&env, &work, "pushed.bin");
    let mut push = env.git_cmd(&work);
    push.args(["push", "-q", &file_url(&server), "main"])
        .env("FORGE_TOKEN", TOKEN);
    crate::support::run_ok(&mut push);
    env.wait_until_refs_equal(&server, &served_shared, WAIT);
    assert!(lfs_server.holds("shared", "pushed.bin", &pushed), "{}", logs());

    // A restore: a clone of each served repository, logged in as a user would be.
    let credentials = env.root().join("credentials");
    fs::write(
        &credentials,
        format!("https://{USER}:{TOKEN}@127.0.0.1:{}\n", http.port()),
    )
    .expect("writing the credentials");
    env.git(
        env.root(),
        [
            "config",
            "--global",
            "credential.helper",
            &format!("store --file={}", s(&credentials)),
        ],
    );
    let url = |name: &str| format!("https://127.0.0.1:{}/git/{name}.git", http.port());
    assert_clone_checks_out(&env, &url("project"), "restore-project", &["data.bin"]);
    assert_clone_checks_out(&env, &url("shared"), "restore-shared", &["pushed.bin"]);
}

/// An https mirror whose server has no LFS: the mirror fails (exit 3) with the fix, `status`
/// shows it, and its refs stay where they were.
#[test]
fn an_https_mirror_without_an_lfs_server_fails_and_keeps_its_refs() {
    let Some(_) = require_git_lfs("an_https_mirror_without_an_lfs_server_fails_and_keeps_its_refs") else {
        return;
    };
    let env = TestEnv::new();
    let Some(http) = HttpServer::start_tls(&env, &[(USER, TOKEN)]) else {
        return;
    };
    http.trust_ca(&env);
    let served = http.create_repo(&env, "project");
    let repo = init_lfs_repo(&env, "project");
    add_https_mirror(&env, &repo, "forge", &http.url_with_user(USER, "project"));
    commit_lfs_file(&env, &repo, "data.bin");

    let out = env
        .cmd_in(&repo)
        .arg("sync")
        .env("FORGE_TOKEN", TOKEN)
        .output()
        .expect("running sync");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(3), "{said}\n{}", http.logs());
    assert!(said.contains("takes no Git LFS objects"), "{said}");
    assert_eq!(
        env.refs(&served),
        "",
        "the mirror's refs moved without their LFS objects"
    );

    let status = env.status_json(&repo);
    let forge = mirror_status(&status, "forge");
    assert_eq!(forge["last_result"], "failed", "{forge}");
    assert!(
        forge["last_error"]
            .as_str()
            .is_some_and(|error| error.contains("enable Git LFS on its server")),
        "{forge}"
    );
}

/// A server repository whose users pushed LFS objects into it, on a machine without git-lfs, and
/// a mirror elsewhere: the objects cannot reach it, so it fails with the fix, exit 3, and `status`
/// says so; the mirror on this machine still gets its copies.
#[test]
fn without_git_lfs_a_remote_mirror_of_an_lfs_repository_fails_with_the_fix() {
    let Some(git_lfs) =
        require_git_lfs("without_git_lfs_a_remote_mirror_of_an_lfs_repository_fails_with_the_fix")
    else {
        return;
    };
    let mut env = TestEnv::new();
    let repo = init_lfs_repo(&env, "project");
    let oid = commit_lfs_file(&env, &repo, "data.bin");
    let local = env.init_bare("mirrors/local.git");
    // Nothing listens there: the failure must come before any contact.
    let remote = format!("https://127.0.0.1:{}/git/project.git", free_port());
    env.cmd_in(&repo)
        .args(["mirror", "add", "local"])
        .arg(s(&local))
        .assert()
        .success();
    env.cmd_in(&repo)
        .args(["mirror", "add", "--no-check", "remote", &remote])
        .assert()
        .success();

    // A PATH with git but no git-lfs (git also looks in its exec path, which has none).
    let bin = env.root().join("bin-without-lfs");
    fs::create_dir_all(&bin).expect("creating a bin dir");
    for tool in ["git", "sh", "env", "cat"] {
        let found = std::env::split_paths(env.path_var())
            .map(|dir| dir.join(tool))
            .find(|path| path.is_file())
            .unwrap_or_else(|| panic!("no {tool} on PATH"));
        std::os::unix::fs::symlink(&found, bin.join(tool)).expect("linking a tool");
    }
    assert!(!bin.join("git-lfs").exists() && git_lfs.is_file());
    env.set_path_var(bin.into_os_string());

    let out = env.cmd_in(&repo).arg("sync").output().expect("running sync");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        format!("{stdout}{stderr}").contains("install git-lfs"),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert_holds(&local, &[("data.bin", &oid)]);
    assert_eq!(env.refs(&local), env.refs(&repo));

    let status = env.status_json(&repo);
    let failed = mirror_status(&status, "remote");
    assert_eq!(failed["last_result"], "failed", "{failed}");
    let error = failed["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("git-lfs is not installed here") && error.contains("refs were not moved"),
        "{error}"
    );
    let text = env.cmd_in(&repo).arg("status").output().expect("running status");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("install git-lfs"), "{text}");
}

/// git-lfs on PATH that notes every run (its arguments, one line) in `log`, then does its job.
fn spy_on_git_lfs(env: &mut TestEnv, git_lfs: &Path, log: &Path) {
    env.spy_on("git-lfs", git_lfs, log);
}

#[test]
fn a_repository_without_lfs_starts_no_git_lfs() {
    let Some(git_lfs) = require_git_lfs("a_repository_without_lfs_starts_no_git_lfs") else {
        return;
    };
    let mut env = TestEnv::new();
    let log = env.root().join("git-lfs-runs.log");
    spy_on_git_lfs(&mut env, &git_lfs, &log);
    let repo = env.init_repo("plain");
    let local = env.init_bare("mirrors/local.git");
    let remote = format!("https://127.0.0.1:{}/git/plain.git", free_port());
    env.install(&repo, &[("local", s(&local))]);

    // The hook's worker, then a foreground sync that also tries a mirror elsewhere.
    env.commit(&repo, "no large files");
    env.wait_until_refs_equal(&repo, &local, WAIT);
    env.cmd_in(&repo)
        .args(["mirror", "add", "--no-check", "remote", &remote])
        .assert()
        .success();
    env.commit(&repo, "still none");
    let out = env.cmd_in(&repo).arg("sync").output().expect("running sync");
    assert_eq!(
        out.status.code(),
        Some(3),
        "the remote mirror has no server: {out:?}"
    );
    assert!(
        !log.exists(),
        "git-lfs ran for a repository without LFS:\n{}",
        fs::read_to_string(&log).unwrap_or_default()
    );

    // The spy sees what runs: the same repository once it has LFS objects starts git-lfs for
    // the remote mirror.
    install_filters(&env);
    env.git(&repo, ["lfs", "track", "*.bin"]);
    commit_lfs_file(&env, &repo, "data.bin");
    let _ = env.cmd_in(&repo).arg("sync").output().expect("running sync");
    let runs = fs::read_to_string(&log).unwrap_or_default();
    assert!(runs.lines().any(|line| line.starts_with("pre-push")), "{runs}");
}

/// An ssh mirror on a forge that serves LFS as forges do over ssh: `git-lfs-authenticate` on the
/// server (here a small script, as gitolite or GitLab install one) hands git-lfs the https
/// endpoint of the forge's LFS server (giftless behind lighttpd) and a login for it. The objects
/// reach it through that endpoint, and a clone over ssh checks out the real content. Before the
/// server offers LFS, the mirror fails with the fix, and a mirror whose `lfs_url` names an LFS
/// server gets them there.
#[test]
fn lfs_objects_reach_an_ssh_mirror_through_the_endpoint_git_lfs_authenticate_gives() {
    let Some(_) =
        require_git_lfs("lfs_objects_reach_an_ssh_mirror_through_the_endpoint_git_lfs_authenticate_gives")
    else {
        return;
    };
    let env = TestEnv::new();
    let Some(lfs_server) = LfsServer::start(&env) else {
        return;
    };
    let Some(http) = HttpServer::start_tls_with_lfs(&env, &[(USER, TOKEN)], lfs_server.port()) else {
        return;
    };
    http.trust_ca(&env);
    let Some(sshd) = SshServer::start(&env, SshOptions::default()) else {
        return;
    };
    let logs = || {
        format!(
            "{}\n--- giftless ---\n{}\n--- sshd ---\n{}",
            http.logs(),
            lfs_server.log(),
            sshd.log()
        )
    };

    let mirror = env.init_bare("forge/project.git");
    let repo = init_lfs_repo(&env, "project");
    let ssh_command = sshd.git_ssh_command();
    env.cmd_in(&repo)
        .args(["mirror", "add", "--no-check", "forge", &sshd.url(&mirror)])
        .args(["--identity-file", s(sshd.client_key())])
        // Each sync logs in afresh, so that the server's new authorized_keys applies.
        .args(["--ssh-keep-open", "0"])
        .assert()
        .success();
    let oid = commit_lfs_file(&env, &repo, "data.bin");
    let sync = || {
        env.cmd_in(&repo)
            .arg("sync")
            .env("GIT_SSH_COMMAND", &ssh_command)
            .output()
            .expect("running sync")
    };

    // Another mirror on the same server, with `lfs_url` naming the forge's https LFS server,
    // logged in to by the user's own credential helper.
    let elsewhere = env.init_bare("forge/elsewhere.git");
    let lfs_url = format!("https://127.0.0.1:{}/git/elsewhere.git/info/lfs", http.port());
    env.cmd_in(&repo)
        .args(["mirror", "add", "--no-check", "elsewhere", &sshd.url(&elsewhere)])
        .args(["--identity-file", s(sshd.client_key()), "--ssh-keep-open", "0"])
        .args(["--lfs-url", &lfs_url])
        .assert()
        .success();
    let credentials = env.root().join("credentials");
    fs::write(
        &credentials,
        format!("https://{USER}:{TOKEN}@127.0.0.1:{}\n", http.port()),
    )
    .expect("writing the credentials");
    env.git(
        env.root(),
        [
            "config",
            "--global",
            "credential.helper",
            &format!("store --file={}", s(&credentials)),
        ],
    );

    // A server with no LFS (no git-lfs-transfer, no git-lfs-authenticate): a failure with the
    // fix, and the refs stay; the mirror with `lfs_url` gets the objects there, then its refs.
    let out = sync();
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        said.contains("forge: failed: the mirror takes no Git LFS objects"),
        "{said}"
    );
    assert_eq!(env.refs(&mirror), "", "the refs moved without their LFS objects");
    assert!(
        lfs_server.holds("elsewhere", "data.bin", &oid),
        "{said}\n{}",
        logs()
    );
    assert_eq!(env.refs(&elsewhere), env.refs(&repo), "{said}");

    // The forge's side of ssh: its commands on PATH, git-lfs-authenticate among them.
    let forge_bin = env.root().join("forge-bin");
    fs::create_dir_all(&forge_bin).expect("creating the forge's bin dir");
    env.write_executable(
        &forge_bin.join("git-lfs-authenticate"),
        &format!(
            "#!/bin/sh\n\
             # git-lfs-authenticate <path> <upload|download>: where the repository's LFS server is.\n\
             name=$(basename \"$1\")\n\
             login=$(printf '%s' '{USER}:{TOKEN}' | base64)\n\
             printf '{{\"href\": \"https://127.0.0.1:{port}/git/%s/info/lfs\", \"header\": {{\"Authorization\": \"Basic %s\"}}, \"expires_in\": 3600}}\\n' \"$name\" \"$login\"\n",
            port = http.port()
        ),
    );
    let session = forge_bin.join("session");
    env.write_executable(
        &session,
        &format!(
            "#!/bin/sh\nPATH={}:$PATH\nexport PATH\nexec sh -c \"$SSH_ORIGINAL_COMMAND\"\n",
            sh_quote(&forge_bin)
        ),
    );
    let key = fs::read_to_string(sshd.client_public_key()).expect("reading the client key");
    sshd.set_authorized_keys(&format!("command={:?} {}", s(&session), key.trim()));

    let out = sync();
    assert!(out.status.success(), "{out:?}\n{}", logs());
    assert!(lfs_server.holds("project", "data.bin", &oid), "{}", logs());
    assert_eq!(env.refs(&mirror), env.refs(&repo));
    let status = env.status_json(&repo);
    assert_eq!(mirror_status(&status, "forge")["lfs_objects"], 1, "{status}");

    let clone = env.root().join("restore");
    let mut cmd = env.git_cmd(env.root());
    cmd.args(["clone", "-q", &sshd.url(&mirror), s(&clone)]).env(
        "GIT_SSH_COMMAND",
        format!("{ssh_command} -i {}", sh_quote(sshd.client_key())),
    );
    crate::support::run_ok(&mut cmd);
    let mut pull = env.git_cmd(&clone);
    pull.args(["lfs", "pull"]).env(
        "GIT_SSH_COMMAND",
        format!("{ssh_command} -i {}", sh_quote(sshd.client_key())),
    );
    crate::support::run_ok(&mut pull);
    assert!(
        fs::read(clone.join("data.bin"))
            .is_ok_and(|content| content == crate::support::lfs::content_of("data.bin")),
        "the clone over ssh checked out a pointer"
    );
}

/// The objects go before the refs: a mirror whose pre-receive hook refuses any pushed commit
/// whose LFS pointers it has no object for still takes every push (its hook also makes it a
/// mirror that `git push` fills, not the direct transfer).
#[test]
fn a_mirror_has_the_lfs_objects_before_it_is_asked_to_take_the_refs() {
    let Some(_) = require_git_lfs("a_mirror_has_the_lfs_objects_before_it_is_asked_to_take_the_refs") else {
        return;
    };
    let env = TestEnv::new();
    let repo = init_lfs_repo(&env, "project");
    let mirror = env.init_bare("mirrors/strict.git");
    env.write_executable(
        &mirror.join("hooks/pre-receive"),
        "#!/bin/sh\n\
         # Refuse a commit whose LFS pointers name an object this repository lacks.\n\
         while read old new ref; do\n\
         \tfor oid in $(git grep -h '^oid sha256:' \"$new\" -- '*.bin' | sed 's/^oid sha256://'); do\n\
         \t\tobject=lfs/objects/$(echo $oid | cut -c1-2)/$(echo $oid | cut -c3-4)/$oid\n\
         \t\ttest -f \"$object\" || { echo \"no LFS object $oid for $ref\" >&2; exit 1; }\n\
         \tdone\n\
         done\n",
    );
    env.install(&repo, &[("strict", s(&mirror))]);
    let first = commit_lfs_file(&env, &repo, "first.bin");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    let second = commit_lfs_file(&env, &repo, "second.bin");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    assert_holds(&mirror, &[("first.bin", &first), ("second.bin", &second)]);

    // The hook does refuse what lacks its object: a plain `git push --no-verify` (no git-lfs
    // pre-push) of a new LFS commit into a fresh copy of the mirror is turned away.
    let bare = env.init_bare("mirrors/without-objects.git");
    fs::copy(mirror.join("hooks/pre-receive"), bare.join("hooks/pre-receive")).expect("copying the hook");
    let out = env
        .git_cmd(&repo)
        .args(["push", "--no-verify", s(&bare), "main"])
        .output()
        .expect("running git push");
    assert!(
        !out.status.success(),
        "the hook let a commit without its LFS objects in: {out:?}"
    );
}

/// A mirror on this machine is found where git finds it for the push (`x` for `x.git`), and one
/// that is not there fails as any missing mirror does, not over its LFS objects.
#[test]
fn a_local_mirror_gets_its_lfs_objects_where_git_finds_it() {
    let Some(_) = require_git_lfs("a_local_mirror_gets_its_lfs_objects_where_git_finds_it") else {
        return;
    };
    let env = TestEnv::new();
    let repo = init_lfs_repo(&env, "project");
    let mirror = env.init_bare("mirrors/suffixed.git");
    let missing = env.root().join("unmounted/disk.git");
    env.cmd_in(&repo)
        .args(["mirror", "add", "--no-check", "missing"])
        .arg(&missing)
        .assert()
        .success();
    // `mirror add` made it; then its disk went away.
    fs::remove_dir_all(env.root().join("unmounted")).expect("removing the missing mirror's disk");
    // Written by hand (`mirror add` would make a repository at exactly that path).
    let config = env.config_path(&repo);
    let mut text = fs::read_to_string(&config).expect("reading the config");
    text.push_str(&format!(
        "\n[mirrors.suffixed]\nurl = {:?}\n",
        s(&env.root().join("mirrors/suffixed"))
    ));
    fs::write(&config, text).expect("writing the config");
    let oid = commit_lfs_file(&env, &repo, "data.bin");
    let out = env.cmd_in(&repo).arg("sync").output().expect("running sync");
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_holds(&mirror, &[("data.bin", &oid)]);
    assert_eq!(env.refs(&mirror), env.refs(&repo));
    let missing_line = said
        .lines()
        .find(|line| line.starts_with("missing:"))
        .unwrap_or_else(|| panic!("no line for the missing mirror:\n{said}"));
    assert!(!missing_line.contains("LFS"), "{missing_line}");
    assert!(!missing.exists());
}
