//! On a server, a bare repository's post-receive hook carries every push to the mirror, and a
//! post-receive hook that was there before still gets the pushed refs on its stdin.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::support;
use crate::support::{MARKER, TestEnv, WAIT, run_within, s, sh_quote, wait_for};

const ZERO: &str = "0000000000000000000000000000000000000000";

#[test]
fn a_push_to_a_bare_server_reaches_its_mirror() {
    let env = TestEnv::new();
    let server = env.init_bare("srv/project.git");
    let mirror = env.root().join("mirrors/github.git");
    env.install(&server, &[("github", s(&mirror))]);
    let hook = fs::read_to_string(server.join("hooks/post-receive")).expect("post-receive written");
    assert!(hook.contains(MARKER), "{hook}");
    assert!(
        server.join("repo-sync.toml").is_file(),
        "a bare repository's config is <repo>/repo-sync.toml"
    );

    env.git(env.root(), ["clone", "-q", s(&server), "work"]);
    let work = env.root().join("work");
    env.commit(&work, "first");
    env.git(&work, ["push", "-q", "origin", "main"]);
    env.wait_until_refs_equal(&server, &mirror, WAIT);

    // A branch and a tag in one push.
    env.git(&work, ["switch", "-q", "-c", "feature"]);
    env.commit(&work, "on feature");
    env.git(&work, ["tag", "-a", "-m", "release", "v1"]);
    env.git(&work, ["push", "-q", "origin", "feature", "v1"]);
    env.wait_until_refs_equal(&server, &mirror, WAIT);
    assert!(env.refs(&mirror).contains("refs/tags/v1"));

    // A deletion.
    env.git(&work, ["push", "-q", "origin", ":feature"]);
    env.wait_until_refs_equal(&server, &mirror, WAIT);
    assert!(!env.refs(&mirror).contains("refs/heads/feature"));

    // A forced update.
    env.git(&work, ["switch", "-q", "main"]);
    env.change_file(&work, "rewritten");
    env.git(&work, ["commit", "-q", "-a", "--amend", "-m", "first, rewritten"]);
    env.git(&work, ["push", "-q", "--force", "origin", "main"]);
    env.wait_until_refs_equal(&server, &mirror, WAIT);
}

#[test]
fn a_foreign_post_receive_hook_still_gets_stdin() {
    let env = TestEnv::new();
    let server = env.init_bare("srv/project.git");
    let received = env.root().join("received.txt");
    let hook_path = server.join("hooks/post-receive");
    let foreign = format!(
        "#!/bin/sh\n# the server's own deploy hook\ncat >> {}\n",
        sh_quote(&received)
    );
    env.write_executable(&hook_path, &foreign);
    let mirror = env.root().join("mirrors/github.git");
    env.install(&server, &[("github", s(&mirror))]);
    assert_eq!(
        fs::read_to_string(server.join("hooks/post-receive.before-repo-sync"))
            .ok()
            .as_deref(),
        Some(foreign.as_str()),
        "the foreign hook is kept beside ours"
    );

    let work = env.init_repo("work");
    env.git(&work, ["remote", "add", "origin", s(&server)]);
    let main = env.head(&work);
    env.git(&work, ["push", "-q", "origin", "main"]);
    env.git(&work, ["tag", "v1"]);
    env.git(&work, ["branch", "other"]);
    env.git(&work, ["push", "-q", "origin", "v1", "other"]);

    let mut got: Vec<String> = fs::read_to_string(&received)
        .expect("the foreign hook ran")
        .lines()
        .map(str::to_owned)
        .collect();
    got.sort();
    let mut expected = vec![
        format!("{ZERO} {main} refs/heads/main"),
        format!("{ZERO} {main} refs/tags/v1"),
        format!("{ZERO} {main} refs/heads/other"),
    ];
    expected.sort();
    assert_eq!(
        got, expected,
        "the foreign post-receive hook got git's stdin unchanged"
    );

    // And our hook got it too: the mirror follows.
    env.wait_until_refs_equal(&server, &mirror, WAIT);

    env.cmd().arg("uninstall").arg(&server).assert().success();
    assert_eq!(
        fs::read_to_string(&hook_path).ok().as_deref(),
        Some(foreign.as_str())
    );
    let mode = fs::metadata(&hook_path)
        .expect("hook restored")
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "the restored hook is still executable");
    assert!(!server.join("hooks/post-receive.before-repo-sync").exists());
}

#[test]
fn a_push_returns_before_the_mirror_push_ends() {
    let env = TestEnv::new();
    let server = env.init_bare("srv/project.git");
    let mirror = env.init_bare("mirrors/github.git");
    env.install(&server, &[("github", s(&mirror))]);
    let gate = env.block_pushes(&mirror);

    let work = env.init_repo("work");
    env.git(&work, ["remote", "add", "origin", s(&server)]);
    let mut push = env.git_cmd(&work);
    push.args(["push", "-q", "origin", "main"]);
    // receive-pack forwards the hook's output to the client and waits until every copy of that
    // pipe is closed: a worker that kept one would hold this push until the mirror push ends.
    let out = run_within(push, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("git push waited for the mirror: {e}\nlog:\n{}", env.log(&server)));
    assert!(out.status.success(), "{out:?}");

    wait_for(
        WAIT,
        || gate.entered(),
        || format!("the worker never pushed; log:\n{}", env.log(&server)),
    );
    gate.release();
    env.wait_until_refs_equal(&server, &mirror, WAIT);
}

#[test]
fn one_install_covers_several_server_repositories() {
    let env = TestEnv::new();
    let servers = [env.init_bare("srv/a.git"), env.init_bare("srv/b.git")];
    let mirrors = [env.root().join("mirrors/a.git"), env.root().join("mirrors/b.git")];
    for (server, mirror) in servers.iter().zip(&mirrors) {
        env.cmd()
            .args(["-C", s(server), "mirror", "add", "github", s(mirror)])
            .assert()
            .success();
    }
    env.cmd()
        .args(["install", "--yes", s(&servers[0]), s(&servers[1])])
        .assert()
        .success();

    let work = env.init_repo("work");
    for (server, mirror) in servers.iter().zip(&mirrors) {
        let hook = fs::read_to_string(server.join("hooks/post-receive")).unwrap_or_default();
        assert!(hook.contains(MARKER), "no post-receive in {}", server.display());
        env.git(&work, ["push", "-q", s(server), "main"]);
        env.wait_until_refs_equal(server, mirror, WAIT);
    }
}

/// A hook on a server runs in the pusher's session (gitolite over sshd sets `GL_*` and
/// `SSH_ORIGINAL_COMMAND`; receive-pack adds the push options). The worker and the git it starts
/// for a mirror carry none of it, so a mirror's own hooks see the server's owner, not the pusher,
/// while the owner's `SSH_AUTH_SOCK` still reaches them.
#[test]
fn a_mirror_sees_none_of_the_pushers_session_and_keeps_the_owners_ssh_agent() {
    let env = TestEnv::new();
    let server = env.init_bare("srv/project.git");
    env.git(&server, ["config", "receive.advertisePushOptions", "true"]);
    let mirror = env.init_bare("mirrors/github.git");
    let seen = env.root().join("mirror-hook-env.txt");
    // A hook makes the mirror get a real `git push`, which is what carries an environment over.
    env.write_executable(
        &mirror.join("hooks/pre-receive"),
        &format!(
            "#!/bin/sh\ncat >/dev/null\nenv > {seen}.tmp && mv {seen}.tmp {seen}\n",
            seen = sh_quote(&seen)
        ),
    );
    env.install(&server, &[("github", s(&mirror))]);

    let work = env.init_repo("work");
    env.git(&work, ["remote", "add", "origin", s(&server)]);
    let mut push = env.git_cmd(&work);
    push.env("GL_USER", "alice")
        .env("GL_REPO", "project")
        .env("GL_BYPASS_ACCESS_CHECKS", "1")
        .env("SSH_ORIGINAL_COMMAND", "git-receive-pack 'project'")
        .env("SSH_AUTH_SOCK", "/run/owner-agent.sock")
        .args(["push", "-q", "-o", "x", "origin", "main"]);
    support::run_ok(&mut push);

    env.wait_until_refs_equal(&server, &mirror, WAIT);
    wait_for(
        WAIT,
        || seen.exists(),
        || format!("the mirror's hook never ran; log:\n{}", env.log(&server)),
    );
    let seen = fs::read_to_string(&seen).expect("reading the mirror hook's environment");
    let leaked: Vec<&str> = seen
        .lines()
        .filter(|line| {
            ["GL_", "SSH_ORIGINAL_COMMAND=", "GIT_PUSH_OPTION_"]
                .iter()
                .any(|prefix| line.starts_with(prefix))
        })
        // The mirror's own receive-pack counts the options of the push it serves: none.
        .filter(|line| *line != "GIT_PUSH_OPTION_COUNT=0")
        .collect();
    assert!(
        leaked.is_empty(),
        "the mirror's hook saw the pusher's session: {leaked:?}\n{seen}"
    );
    assert!(
        seen.lines()
            .any(|line| line == "SSH_AUTH_SOCK=/run/owner-agent.sock"),
        "the owner's SSH_AUTH_SOCK did not reach the mirror:\n{seen}"
    );
}
