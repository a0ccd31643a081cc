//! git-repo-sync on a real gitolite3 server behind a real sshd: pushes that come through
//! gitolite reach the mirrors, gitolite's own hook management (`gitolite setup --hooks-only`)
//! and ours live side by side, and a mirror never sees the pusher's gitolite session.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::gitolite::Gitolite;
use crate::support::{MARKER, TestEnv, WAIT, s, sh_quote, wait_for};

/// `git-repo-sync install <repo> --mirror NAME=PATH` as gitolite's user, asserted to succeed;
/// returns what it printed.
fn install(env: &TestEnv, gl: &Gitolite, repo: &Path, mirrors: &[(&str, &Path)]) -> String {
    let mut cmd = gl.git_repo_sync(env);
    cmd.arg("install").arg(repo);
    for (name, path) in mirrors {
        cmd.arg("--mirror").arg(format!("{name}={}", s(path)));
    }
    let out = cmd.output().expect("running git-repo-sync install");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "install failed with {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A clone of gitolite's repository `name` over ssh, with the admin key.
fn clone(env: &TestEnv, gl: &Gitolite, name: &str) -> PathBuf {
    let work = env.root().join(format!("work-{name}"));
    env.git(env.root(), gl.over_ssh(["clone", "-q", &gl.url(name), s(&work)]));
    work
}

/// A new commit in `work`, pushed to `main` through gitolite.
fn commit_and_push(env: &TestEnv, gl: &Gitolite, work: &Path, message: &str) {
    env.commit(work, message);
    env.git(work, gl.over_ssh(["push", "-q", "origin", "HEAD:main"]));
}

/// A post-receive hook that appends its stdin to `log`.
fn stdin_recorder(log: &Path) -> String {
    format!("#!/bin/sh\ncat >> {}\n", sh_quote(log))
}

fn lines(path: &Path) -> usize {
    fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

/// Whether `path` is a symbolic link (not followed).
fn is_symlink(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

#[test]
fn a_push_through_gitolite_reaches_the_mirror() {
    let env = TestEnv::new();
    let Some(gl) = Gitolite::start(&env) else {
        return;
    };
    gl.create_repos(&env, &["a"]);
    let repo = gl.repo_path("a");
    let mirror = env.root().join("mirrors/a.git");
    install(&env, &gl, &repo, &[("m", &mirror)]);
    let hook = fs::read_to_string(repo.join("hooks/post-receive")).expect("post-receive written");
    assert!(hook.contains(MARKER), "{hook}");

    let work = clone(&env, &gl, "a");
    commit_and_push(&env, &gl, &work, "first");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);

    // A branch and a tag in one push.
    env.git(&work, ["switch", "-q", "-c", "feature"]);
    env.commit(&work, "on feature");
    env.git(&work, ["tag", "-a", "-m", "release", "v1"]);
    env.git(&work, gl.over_ssh(["push", "-q", "origin", "feature", "v1"]));
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    assert!(env.refs(&mirror).contains("refs/tags/v1"));
}

/// `gitolite setup --hooks-only` with a common post-receive deletes our post-receive (no copy
/// kept) and puts a symlink to the common hook in its place; the configuration stays. `status`
/// and `doctor` say so, naming gitolite and the fix, and that fix (`git-repo-sync install`) keeps
/// the symlink as the earlier hook: both run again.
#[test]
fn after_gitolite_hooks_only_status_and_doctor_name_gitolite_and_install_repairs_it() {
    let env = TestEnv::new();
    let Some(gl) = Gitolite::start(&env) else {
        return;
    };
    gl.create_repos(&env, &["a"]);
    let repo = gl.repo_path("a");
    let hooks = repo.join("hooks");
    let mirror = env.root().join("mirrors/a.git");
    install(&env, &gl, &repo, &[("m", &mirror)]);
    let work = clone(&env, &gl, "a");
    commit_and_push(&env, &gl, &work, "first");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);

    let common_log = env.root().join("common-post-receive.log");
    let common = gl.install_common_post_receive(&env, &stdin_recorder(&common_log));
    assert_eq!(common, gl.home().join(".gitolite/hooks/common/post-receive"));
    gl.setup_hooks_only(&env);

    let ours = hooks.join("post-receive");
    assert!(is_symlink(&ours), "post-receive is no longer a file");
    assert_eq!(fs::read_link(&ours).expect("a link"), common);
    assert!(
        fs::symlink_metadata(hooks.join("post-receive.before-repo-sync")).is_err(),
        "gitolite kept no copy of our hook"
    );
    let anywhere: Vec<_> = fs::read_dir(&hooks)
        .expect("hooks/")
        .flatten()
        .filter(|e| fs::read_to_string(e.path()).is_ok_and(|t| t.contains(MARKER)))
        .map(|e| e.path())
        .collect();
    assert!(anywhere.is_empty(), "our hook survived as {anywhere:?}");
    assert!(repo.join("repo-sync.toml").is_file(), "the configuration stays");

    // Meanwhile a push runs the common hook alone: no worker starts, the mirror stays behind.
    commit_and_push(&env, &gl, &work, "while unhooked");
    assert_eq!(lines(&common_log), 1, "the common hook ran once");
    assert_ne!(env.try_refs(&mirror), Some(env.refs(&repo)));

    let status = gl
        .git_repo_sync(&env)
        .args(["-C", s(&repo), "status", "--json"])
        .output()
        .expect("running status");
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status --json");
    let triggers = &status["triggers"];
    assert_eq!(triggers["ok"], false, "{triggers}");
    assert_eq!(triggers["problems"][0]["replaced_by"], "gitolite", "{triggers}");
    let fix = triggers["problems"][0]["fix"].as_str().expect("a fix");
    assert!(fix.starts_with("git-repo-sync install "), "{fix}");
    let doctor = gl
        .git_repo_sync(&env)
        .args(["doctor", s(&repo)])
        .output()
        .expect("running doctor");
    let said = String::from_utf8_lossy(&doctor.stdout);
    assert_eq!(doctor.status.code(), Some(1), "{said}");
    assert!(
        said.contains("(gitolite)") && said.contains("fix: git-repo-sync install"),
        "{said}"
    );

    let said = install(&env, &gl, &repo, &[]);
    assert!(
        said.contains("post-receive.before-repo-sync (it still runs first"),
        "{said}"
    );
    assert_eq!(
        fs::read_link(hooks.join("post-receive.before-repo-sync")).expect("the link, kept"),
        common
    );
    commit_and_push(&env, &gl, &work, "hooked again");
    assert_eq!(lines(&common_log), 2, "the common hook ran once more");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
}

/// What we want: every `gitolite setup --hooks-only` (an admin runs it whenever a common hook
/// changes) may be followed by `git-repo-sync install`, which succeeds each time; then the next
/// push runs the common post-receive exactly once, and ours. The link gitolite puts in our place
/// again is the same as the one already kept, so it counts as kept.
#[test]
fn reinstalling_after_each_gitolite_hooks_only_keeps_the_common_hook_and_ours_running() {
    let env = TestEnv::new();
    let Some(gl) = Gitolite::start(&env) else {
        return;
    };
    gl.create_repos(&env, &["a"]);
    let repo = gl.repo_path("a");
    let mirror = env.root().join("mirrors/a.git");
    install(&env, &gl, &repo, &[("m", &mirror)]);
    let common_log = env.root().join("common-post-receive.log");
    gl.install_common_post_receive(&env, &stdin_recorder(&common_log));
    let work = clone(&env, &gl, "a");

    for round in 1..=3 {
        gl.setup_hooks_only(&env);
        install(&env, &gl, &repo, &[]);
        commit_and_push(&env, &gl, &work, &format!("round {round}"));
        assert_eq!(
            lines(&common_log),
            round,
            "the common post-receive runs once per push"
        );
        env.wait_until_refs_equal(&repo, &mirror, WAIT);
    }
}

/// A mirror that is another gitolite repository, given as its local path, is pushed by our
/// worker with plain `git push`; its hooks must not see the session of whoever pushed to the
/// source (GL_USER, GL_REPO, SSH_ORIGINAL_COMMAND).
///
/// Gitolite's own `update` hook in the mirror still runs and accepts the push: it keeps where
/// gitolite is installed (`GL_LIBDIR`, ...) and, like `gitolite push`, bypasses the access check
/// that would otherwise judge the push as the pusher's, against the source repository.
#[test]
fn a_gitolite_repository_as_a_local_mirror_sees_no_pusher_session() {
    let env = TestEnv::new();
    let Some(gl) = Gitolite::start(&env) else {
        return;
    };
    gl.create_repos(&env, &["a", "b"]);
    let (repo, mirror) = (gl.repo_path("a"), gl.repo_path("b"));
    let seen = env.root().join("mirror-hook-env.txt");
    env.write_executable(
        &mirror.join("hooks/post-receive"),
        &format!(
            "#!/bin/sh\nenv > {draft} && mv {draft} {seen}\n",
            draft = sh_quote(&seen.with_extension("draft")),
            seen = sh_quote(&seen),
        ),
    );
    install(&env, &gl, &repo, &[("b", &mirror)]);

    let work = clone(&env, &gl, "a");
    commit_and_push(&env, &gl, &work, "first");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    wait_for(WAIT, || seen.is_file(), || "the mirror's hook never ran".into());

    let vars = fs::read_to_string(&seen).expect("the mirror hook's env");
    let leaked: Vec<&str> = vars
        .lines()
        .filter(|line| {
            ["GL_USER=", "GL_REPO=", "SSH_ORIGINAL_COMMAND="]
                .iter()
                .any(|name| line.starts_with(name))
        })
        .collect();
    assert!(
        leaked.is_empty(),
        "the mirror's hook saw the pusher's session: {leaked:?}\nfull env:\n{vars}"
    );
}
