//! A mirror that rejects a ref (diverged, `force = false`) is left alone and reported; the other
//! refs and the other mirrors still sync.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::{TestEnv, WAIT, mirror_status, s, wait_for};
use serde_json::Value;

struct Setup {
    env: TestEnv,
    repo: PathBuf,
    loose: PathBuf,
    strict: PathBuf,
}

/// A repository with `main`, `other` and a tag, mirrored to `loose` (the defaults) and to
/// `strict` (`force = false`), both in sync.
fn two_mirrors_in_sync() -> Setup {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    env.git(&repo, ["branch", "other"]);
    env.git(&repo, ["tag", "v0"]);
    let loose = env.root().join("loose.git");
    let strict = env.root().join("strict.git");
    env.cmd_in(&repo)
        .args(["mirror", "add", "loose", s(&loose)])
        .assert()
        .success();
    env.cmd_in(&repo)
        .args(["mirror", "add", "strict", s(&strict), "--no-force"])
        .assert()
        .success();
    let config: toml::Table = fs::read_to_string(env.config_path(&repo))
        .expect("mirror add writes the config")
        .parse()
        .expect("the config is TOML");
    assert_eq!(
        config["mirrors"]["strict"]["force"].as_bool(),
        Some(false),
        "{config}"
    );

    env.cmd_in(&repo).arg("sync").assert().success();
    assert_eq!(env.refs(&loose), env.refs(&repo));
    assert_eq!(env.refs(&strict), env.refs(&repo));
    Setup {
        env,
        repo,
        loose,
        strict,
    }
}

/// Someone pushes a commit straight to the mirror's `main`; returns its id.
fn push_behind_our_back(env: &TestEnv, mirror: &Path) -> String {
    let intruder = env.root().join("intruder");
    env.git(env.root(), ["clone", "-q", s(mirror), s(&intruder)]);
    env.commit(&intruder, "pushed straight to the mirror");
    env.git(&intruder, ["push", "-q", "origin", "main"]);
    env.head(&intruder)
}

/// The source's refs as the strict mirror should hold them: everything but its own `main`.
fn expected_strict_refs(source_refs: &str, mirror_main: &str) -> String {
    source_refs
        .lines()
        .map(|line| {
            if line.ends_with(" refs/heads/main") {
                format!("{mirror_main} refs/heads/main\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect()
}

#[test]
fn a_diverged_ref_is_left_alone_while_everything_else_syncs() {
    let Setup {
        env,
        repo,
        loose,
        strict,
    } = two_mirrors_in_sync();
    let theirs = push_behind_our_back(&env, &strict);
    // New work here on every kind of ref, without hooks (none are installed).
    env.commit(&repo, "ours on main");
    env.git(&repo, ["switch", "-q", "other"]);
    env.commit(&repo, "ours on other");
    env.git(&repo, ["switch", "-q", "main"]);
    env.git(&repo, ["tag", "v1"]);
    env.git(&repo, ["branch", "new-branch"]);

    let out = env.cmd_in(&repo).arg("sync").assert().code(3);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    for name in ["loose", "strict"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(name)),
            "no line for {name} in sync's output:\n{stdout}"
        );
    }

    assert_eq!(env.refs(&loose), env.refs(&repo), "the other mirror syncs fully");
    assert_eq!(
        env.refs(&strict),
        expected_strict_refs(&env.refs(&repo), &theirs),
        "the diverged main is left alone, the other refs sync"
    );
}

#[test]
fn status_shows_the_rejected_ref() {
    let Setup {
        env,
        repo,
        loose: _,
        strict,
    } = two_mirrors_in_sync();
    push_behind_our_back(&env, &strict);
    env.commit(&repo, "ours on main");
    env.cmd_in(&repo).arg("sync").assert().code(3);

    let status = env.status_json(&repo);
    assert!(
        status["repository"].as_str().is_some_and(|p| !p.is_empty()),
        "{status:#}"
    );

    let strict_status = mirror_status(&status, "strict");
    assert_eq!(strict_status["last_result"], "failed", "{status:#}");
    assert!(
        strict_status["url"]
            .as_str()
            .is_some_and(|u| u.contains("strict.git")),
        "{status:#}"
    );
    assert!(
        strict_status["last_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{status:#}"
    );
    assert!(strict_status["last_attempt"].is_string(), "{status:#}");
    assert!(strict_status["failing_since"].is_string(), "{status:#}");
    assert!(
        strict_status["last_success"].is_string(),
        "the first sync succeeded: {status:#}"
    );
    let rejected = strict_status["rejected"]
        .as_array()
        .expect("rejected is an array");
    assert!(
        rejected.iter().any(|r| r["ref"] == "refs/heads/main"
            && r["reason"].as_str().is_some_and(|why| !why.is_empty())),
        "refs/heads/main is listed as rejected, with a reason: {status:#}"
    );
    assert_eq!(strict_status["last_failure"]["kind"], "rejected", "{status:#}");
    assert_eq!(
        strict_status["last_failure"]["reason"], rejected[0]["reason"],
        "the ref's reason: {status:#}"
    );

    let loose_status = mirror_status(&status, "loose");
    assert_eq!(loose_status["last_result"], "ok", "{status:#}");
    assert_eq!(loose_status["last_error"], Value::Null, "{status:#}");
    assert_eq!(loose_status["failing_since"], Value::Null, "{status:#}");
    assert_eq!(loose_status["rejected"], Value::Array(vec![]), "{status:#}");
    assert_eq!(loose_status["last_failure"], Value::Null, "{status:#}");

    // The human form names the failing mirror too.
    let out = env.cmd_in(&repo).arg("status").assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(text.contains("strict") && text.contains("loose"), "{text}");
}

#[test]
fn a_rejection_in_the_background_shows_in_status() {
    let Setup {
        env,
        repo,
        loose,
        strict,
    } = two_mirrors_in_sync();
    env.cmd_in(&repo).args(["install", "--yes"]).assert().success();
    let theirs = push_behind_our_back(&env, &strict);

    env.commit(&repo, "ours on main, through the hook");
    env.wait_until_refs_equal(&repo, &loose, WAIT);
    wait_for(
        WAIT,
        || mirror_status(&env.status_json(&repo), "strict")["last_result"] == "failed",
        || format!("status never showed the rejection; log:\n{}", env.log(&repo)),
    );
    let status = env.status_json(&repo);
    let rejected = &mirror_status(&status, "strict")["rejected"];
    assert!(
        rejected
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["ref"] == "refs/heads/main")),
        "{status:#}"
    );
    assert_eq!(env.refs(&strict), expected_strict_refs(&env.refs(&repo), &theirs));
}

#[test]
fn an_unreachable_mirror_does_not_stop_the_others() {
    let Setup {
        env,
        repo,
        loose,
        strict,
    } = two_mirrors_in_sync();
    fs::remove_dir_all(&strict).expect("removing the mirror");
    fs::write(&strict, "not a repository").expect("putting a file in its place");
    env.commit(&repo, "while strict is gone");

    let out = env.cmd_in(&repo).arg("sync").assert().code(3);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(stdout.lines().any(|l| l.starts_with("strict")), "{stdout}");
    assert_eq!(env.refs(&loose), env.refs(&repo));

    let status = env.status_json(&repo);
    assert_eq!(
        mirror_status(&status, "strict")["last_result"],
        "failed",
        "{status:#}"
    );
    assert_eq!(
        mirror_status(&status, "strict")["last_failure"]["kind"],
        "not_a_repository",
        "{status:#}"
    );
    assert_eq!(mirror_status(&status, "loose")["last_result"], "ok", "{status:#}");

    // Only the named mirror: succeeds.
    env.cmd_in(&repo)
        .args(["sync", "--mirror", "loose"])
        .assert()
        .success();
}

/// What the mirror's own hook says when it declines a push (git shows it as `remote: ...`) is
/// kept: in `sync`'s failure line and in `status`'s last error, as plain `git push` shows it.
#[test]
fn the_mirrors_own_reason_for_declining_shows_in_sync_and_status() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.init_bare("frozen.git");
    crate::support::write_executable(
        &mirror.join("hooks/pre-receive"),
        "#!/bin/sh\necho 'policy: this mirror is frozen until Monday' >&2\nexit 1\n",
    );
    env.install(&repo, &[("frozen", s(&mirror))]);
    env.commit(&repo, "a change");
    let out = env.cmd_in(&repo).arg("sync").output().expect("sync");
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(
        said.contains("frozen until Monday"),
        "sync does not say why:\n{said}"
    );
    let status = env.status_json(&repo);
    let mirror_status = mirror_status(&status, "frozen");
    let error = serde_json::to_string(mirror_status).expect("json");
    assert!(
        error.contains("frozen until Monday"),
        "status does not say why:\n{status:#}"
    );
    let failure = &mirror_status["last_failure"];
    assert_eq!(failure["kind"], "rejected", "{status:#}");
    assert!(
        failure["reason"].as_str().is_some_and(
            |why| why.contains("pre-receive hook declined") && why.contains("frozen until Monday")
        ),
        "{status:#}"
    );
}

#[test]
fn a_credential_in_the_mirrors_own_words_is_hidden_everywhere_we_show_or_keep_them() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.init_bare("frozen.git");
    crate::support::write_executable(
        &mirror.join("hooks/pre-receive"),
        "#!/bin/sh\necho 'frozen: see https://bot:TOKEN-4242@tracker.example/issue/7' >&2\nexit 1\n",
    );
    env.install(&repo, &[("frozen", s(&mirror))]);
    env.commit(&repo, "a change");
    let out = env.cmd_in(&repo).arg("sync").output().expect("sync");
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(
        said.contains("https://***@tracker.example/issue/7"),
        "the reason stays: {said}"
    );
    let status = env.cmd_in(&repo).arg("status").output().expect("status");
    let json = env.status_json(&repo).to_string();
    let common = env.common_dir(&repo);
    let state = std::fs::read_to_string(common.join("repo-sync-state.json")).expect("the state file");
    let log = env.log(&repo);
    for (place, text) in [
        ("sync", said.as_str()),
        ("status", &String::from_utf8_lossy(&status.stdout)),
        ("status --json", &json),
        ("the state file", &state),
        ("the log", &log),
    ] {
        assert!(
            !text.contains("TOKEN-4242"),
            "{place} shows the credential:\n{text}"
        );
    }
}
