//! Paths and names with spaces, quotes, `$(touch pwned)` and backticks never run anything: paths
//! work, and mirror names that could are refused with a clear error that changes nothing.

use std::path::Path;

use crate::support;
use crate::support::{MARKER, Snapshot, TestEnv, WAIT, WORK_TREE_HOOKS, s};

/// Everything a careless shell script would trip over.
const HOSTILE: &str = "we ird 'sq' \"dq\" $(touch pwned) `touch pwned` ;touch pwned; \\";

fn assert_nothing_ran(env: &TestEnv) {
    let found = support::files_named(env.root(), "pwned");
    assert!(
        found.is_empty(),
        "something ran a command from a name or path: {found:?}"
    );
    assert!(
        !Path::new("pwned").exists(),
        "`pwned` appeared in the test's own directory"
    );
}

#[test]
fn a_repository_and_mirror_path_with_shell_metacharacters_work_and_run_nothing() {
    let env = TestEnv::new();
    let repo = env.init_repo(&format!("{HOSTILE}/project"));
    let mirror = env.root().join(format!("mirrors {HOSTILE}/backup.git"));
    env.install(&repo, &[("backup", s(&mirror))]);
    for hook in WORK_TREE_HOOKS {
        let text = std::fs::read_to_string(repo.join(".git/hooks").join(hook)).unwrap_or_default();
        assert!(text.contains(MARKER), "{hook} not installed");
    }

    env.commit(&repo, "first");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    env.git(&repo, ["tag", "v1"]);
    env.change_file(&repo, "amended");
    env.git(&repo, ["commit", "-q", "-a", "--amend", "-m", "first, amended"]);
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    env.cmd_in(&repo).arg("sync").assert().success();
    env.cmd_in(&repo).arg("status").assert().success();
    assert_nothing_ran(&env);

    env.cmd_in(&repo).arg("uninstall").assert().success();
    assert_nothing_ran(&env);
}

#[test]
fn a_bare_repository_with_shell_metacharacters_in_its_path_works() {
    let env = TestEnv::new();
    let server = env.init_bare(&format!("srv {HOSTILE}/project.git"));
    let mirror = env.root().join(format!("mirrors {HOSTILE}/github.git"));
    env.install(&server, &[("github", s(&mirror))]);

    let work = env.init_repo("work");
    env.git(&work, ["push", "-q", s(&server), "main"]);
    env.wait_until_refs_equal(&server, &mirror, WAIT);
    assert_nothing_ran(&env);
}

#[test]
fn a_hook_binary_path_with_shell_metacharacters_is_quoted() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let binary = env.copy_binary(&env.root().join(format!("bin {HOSTILE}")));
    let mirror = env.root().join("backup.git");
    env.cmd_in(&repo)
        .args(["install", "--yes", "--mirror"])
        .arg(format!("backup={}", s(&mirror)))
        .arg("--hook-binary")
        .arg(&binary)
        .assert()
        .success();

    // git-repo-sync is not on PATH: only the baked, quoted path can reach the mirror.
    assert!(support::dirs_with_binary(env.path_var()).is_empty());
    env.commit(&repo, "through the odd path");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    assert_nothing_ran(&env);
}

const HOSTILE_NAMES: [&str; 8] = [
    "has space",
    "it's",
    "say\"hi\"",
    "$(touch pwned)",
    "`touch pwned`",
    "a/b",
    ";touch pwned",
    "x\ny",
];

#[test]
fn mirror_names_with_shell_metacharacters_are_refused_and_change_nothing() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let good = env.root().join("good.git");
    let bad = env.root().join("bad.git");
    let before = Snapshot::of(&repo);

    for name in HOSTILE_NAMES {
        // Refused as a whole, even with a valid mirror beside it.
        let out = env
            .cmd_in(&repo)
            .args(["install", "--yes", "--mirror"])
            .arg(format!("good={}", s(&good)))
            .arg("--mirror")
            .arg(format!("{name}={}", s(&bad)))
            .assert()
            .code(1);
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_lowercase();
        assert!(
            stderr.contains("name"),
            "install with mirror name {name:?}: unclear error:\n{stderr}"
        );
        before.assert_unchanged(
            &Snapshot::of(&repo),
            &format!("install with mirror name {name:?}"),
        );

        let out = env
            .cmd_in(&repo)
            .args(["mirror", "add", name, s(&bad)])
            .assert()
            .code(1);
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_lowercase();
        assert!(
            stderr.contains("name"),
            "mirror add {name:?}: unclear error:\n{stderr}"
        );
        before.assert_unchanged(&Snapshot::of(&repo), &format!("mirror add {name:?}"));

        assert!(
            !good.exists() && !bad.exists(),
            "a refused command created a mirror ({name:?})"
        );
    }
    assert_nothing_ran(&env);
}

#[test]
fn a_mirror_url_that_looks_like_an_option_runs_nothing() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    // Refusing it is fine; passing it to git as an option is not.
    let added = env
        .cmd_in(&repo)
        .args(["mirror", "add", "evil", "--", "--receive-pack=touch pwned"])
        .output()
        .expect("running mirror add");
    if added.status.success() {
        let _ = env.cmd_in(&repo).arg("sync").output().expect("running sync");
    }
    assert_nothing_ran(&env);
}
