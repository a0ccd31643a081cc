//! `mirror add` checks that the mirror answers before it writes anything: a typo in a URL shows
//! when it is added, with git's reason, not at the first push; `--no-check` adds it unchecked.

use std::fs;

use crate::support::servers::{free_port, require_programs};
use crate::support::{Snapshot, TestEnv, s};

#[test]
fn mirror_add_refuses_an_unreachable_mirror_naming_why_and_writes_nothing() {
    let Some(_) = require_programs("an ssh mirror", &["ssh"]) else {
        return;
    };
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let before = Snapshot::of(env.root());
    // Nothing listens there: what a mistyped host or port looks like.
    let url = format!("ssh://git@127.0.0.1:{}/me/projct.git", free_port());
    let out = env
        .cmd_in(&repo)
        .args(["mirror", "add", "github", &url, "--timeout", "10"])
        .output()
        .expect("running mirror add");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("'github'") && stderr.contains("unreachable"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Connection refused"),
        "git's reason is shown:\n{stderr}"
    );
    assert!(stderr.contains("--no-check"), "the way out is named:\n{stderr}");
    before.assert_unchanged(&Snapshot::of(env.root()), "a refused mirror add");
}

#[test]
fn mirror_add_with_no_check_adds_an_unreachable_mirror() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let url = format!("ssh://git@127.0.0.1:{}/me/later.git", free_port());
    env.cmd_in(&repo)
        .args(["mirror", "add", "later", &url, "--no-check"])
        .assert()
        .success();
    let config = fs::read_to_string(env.config_path(&repo)).expect("reading repo-sync.toml");
    assert!(config.contains(&format!("url = \"{url}\"")), "{config}");
}

#[test]
fn mirror_add_says_what_it_found_on_a_reachable_mirror() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let empty = env.init_bare("empty.git");
    let out = env
        .cmd_in(&repo)
        .args(["mirror", "add", "backup", s(&empty)])
        .output()
        .expect("running mirror add");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("mirror 'backup' reachable, empty"), "{stdout}");
    let out = env
        .cmd_in(&empty)
        .args(["mirror", "add", "source", s(&repo)])
        .output()
        .expect("running mirror add");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("mirror 'source' reachable, 1 ref(s)"), "{stdout}");
}
