//! A hook that is not ours is never lost: it still runs after install, with its arguments and
//! stdin, and uninstall puts it back byte for byte. Install is idempotent, and `--dry-run`
//! changes nothing.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use crate::support::{MARKER, Snapshot, TestEnv, WAIT, WORK_TREE_HOOKS, s, sh_quote};

/// A user's own post-commit hook that leaves a trace in `ran`.
fn foreign_post_commit(ran: &std::path::Path) -> String {
    format!(
        "#!/bin/sh\n# my own post-commit hook\necho \"post-commit ran with $# args\" >> {}\n",
        sh_quote(ran)
    )
}

#[test]
fn a_foreign_post_commit_hook_still_runs_after_install() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let ran = env.root().join("ran.txt");
    let hook = repo.join(".git/hooks/post-commit");
    env.write_executable(&hook, &foreign_post_commit(&ran));
    let mirror = env.root().join("backup.git");

    env.install(&repo, &[("backup", s(&mirror))]);
    let ours = fs::read_to_string(&hook).expect("our hook");
    assert!(ours.contains(MARKER), "{ours}");
    assert_eq!(
        fs::read_to_string(repo.join(".git/hooks/post-commit.before-repo-sync")).ok(),
        Some(foreign_post_commit(&ran))
    );

    env.commit(&repo, "one");
    env.commit(&repo, "two");
    // The foreign hook runs synchronously, before ours returns.
    assert_eq!(
        fs::read_to_string(&ran).expect("the foreign hook ran"),
        "post-commit ran with 0 args\npost-commit ran with 0 args\n"
    );
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
}

#[test]
fn uninstall_restores_the_foreign_hook_byte_identical() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let hooks = repo.join(".git/hooks");
    // Odd bytes on purpose: no trailing newline, CRLF, a non-UTF-8 byte, an unusual mode.
    let foreign: &[u8] = b"#!/bin/sh\r\n# \xff mine\r\nexit 0";
    fs::write(hooks.join("post-commit"), foreign).expect("writing the foreign hook");
    fs::set_permissions(hooks.join("post-commit"), fs::Permissions::from_mode(0o750)).expect("chmod");
    let before = Snapshot::of(&hooks);

    env.install(&repo, &[("backup", s(&env.root().join("backup.git")))]);
    env.commit(&repo, "with both hooks");
    env.cmd_in(&repo).arg("uninstall").assert().success();

    assert_eq!(fs::read(hooks.join("post-commit")).expect("restored"), foreign);
    let mode = fs::metadata(hooks.join("post-commit"))
        .expect("restored")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o750, "the restored hook keeps its mode");
    assert!(
        !hooks.join("post-commit.before-repo-sync").exists(),
        "nothing left over"
    );
    for hook in WORK_TREE_HOOKS {
        if hook != "post-commit" {
            assert!(!hooks.join(hook).exists(), "{hook} left behind");
        }
    }
    let after = Snapshot::of(&hooks);
    assert_eq!(
        after.0.keys().collect::<Vec<_>>(),
        before.0.keys().collect::<Vec<_>>(),
        "the hooks dir holds the same files as before install"
    );
}

#[test]
fn uninstall_purge_leaves_the_repository_as_it_was() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let before = Snapshot::of(&repo);

    env.install(&repo, &[("backup", s(&env.root().join("backup.git")))]);
    // A sync leaves state, lock and the refs the mirror took: --purge takes them all away.
    env.cmd_in(&repo).arg("sync").assert().success();
    assert!(repo.join(".git/repo-sync-refs").is_dir());
    env.cmd_in(&repo)
        .args(["uninstall", "--purge"])
        .assert()
        .success();

    before.assert_unchanged(&Snapshot::of(&repo), "install then uninstall --purge");
}

#[test]
fn the_foreign_hook_gets_the_same_arguments_and_stdin_and_its_status_is_passed_on() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let seen = env.root().join("seen.txt");
    let foreign = format!(
        "#!/bin/sh\n{{ echo \"args: $*\"; cat; }} > {}\nexit 7\n",
        sh_quote(&seen)
    );
    env.write_executable(&repo.join(".git/hooks/post-rewrite"), &foreign);
    env.install(&repo, &[("backup", s(&env.root().join("backup.git")))]);

    // Run the hook as git would: from the top of the work tree, with its argument and stdin.
    let mut hook = std::process::Command::new(repo.join(".git/hooks/post-rewrite"));
    env.apply_env(&mut hook);
    hook.current_dir(&repo)
        .arg("amend")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = hook.spawn().expect("running our post-rewrite hook");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"1111111111111111111111111111111111111111 2222222222222222222222222222222222222222\n")
        .expect("writing the hook's stdin");
    let status = child.wait().expect("waiting for the hook");

    assert_eq!(
        fs::read_to_string(&seen).expect("the foreign hook ran"),
        "args: amend\n1111111111111111111111111111111111111111 2222222222222222222222222222222222222222\n"
    );
    assert_eq!(
        status.code(),
        Some(7),
        "the foreign hook's exit status is passed on"
    );
}

#[test]
fn installing_twice_changes_nothing_the_second_time() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    env.write_executable(
        &repo.join(".git/hooks/post-commit"),
        &foreign_post_commit(&env.root().join("ran.txt")),
    );
    let mirror = env.root().join("backup.git");
    env.install(&repo, &[("backup", s(&mirror))]);
    let git_dir = repo.join(".git");
    let first = Snapshot::of(&git_dir);
    let first_mirror = Snapshot::of(&mirror);
    // Let the clock move, so that a rewrite with the same bytes still shows in the mtimes.
    std::thread::sleep(std::time::Duration::from_millis(20));

    env.install(&repo, &[("backup", s(&mirror))]);
    first.assert_unchanged(&Snapshot::of(&git_dir), "a second install");
    first_mirror.assert_unchanged(&Snapshot::of(&mirror), "a second install (mirror)");
    assert!(
        !git_dir
            .join("hooks/post-commit.before-repo-sync.before-repo-sync")
            .exists()
            && fs::read_to_string(git_dir.join("hooks/post-commit.before-repo-sync"))
                .is_ok_and(|t| !t.contains(MARKER)),
        "a second install must not save our own hook as the foreign one"
    );

    // And without naming the mirror again, too.
    env.cmd_in(&repo).args(["install", "--yes"]).assert().success();
    first.assert_unchanged(&Snapshot::of(&git_dir), "install without --mirror");
}

#[test]
fn install_dry_run_changes_nothing() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    env.write_executable(
        &repo.join(".git/hooks/post-commit"),
        &foreign_post_commit(&env.root().join("ran.txt")),
    );
    let mirror = env.root().join("backup.git");
    let before = Snapshot::of(&repo);

    env.cmd_in(&repo)
        .args(["install", "--yes", "--dry-run", "--mirror"])
        .arg(format!("backup={}", s(&mirror)))
        .assert()
        .success();

    before.assert_unchanged(&Snapshot::of(&repo), "install --dry-run");
    assert!(!mirror.exists(), "install --dry-run created the mirror");
}

#[test]
fn uninstall_dry_run_changes_nothing() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    env.write_executable(
        &repo.join(".git/hooks/post-commit"),
        &foreign_post_commit(&env.root().join("ran.txt")),
    );
    env.install(&repo, &[("backup", s(&env.root().join("backup.git")))]);
    let before = Snapshot::of(&repo);

    env.cmd_in(&repo)
        .args(["uninstall", "--dry-run", "--purge"])
        .assert()
        .success();

    before.assert_unchanged(&Snapshot::of(&repo), "uninstall --dry-run");
}

#[test]
fn uninstall_never_removes_a_hook_that_is_not_ours() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    env.install(&repo, &[("backup", s(&env.root().join("backup.git")))]);
    // The user (or another tool) replaced our post-commit hook with theirs after install.
    let theirs = "#!/bin/sh\n# written over git-repo-sync's hook\nexit 0\n";
    let hook = repo.join(".git/hooks/post-commit");
    env.write_executable(&hook, theirs);

    env.cmd_in(&repo).arg("uninstall").assert().success();
    assert_eq!(fs::read_to_string(&hook).ok().as_deref(), Some(theirs));
    for other in ["post-merge", "post-rewrite"] {
        assert!(
            !repo.join(".git/hooks").join(other).exists(),
            "{other} left behind"
        );
    }
}

#[test]
fn reinstall_upgrades_an_older_hook_of_ours_in_place() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.root().join("backup.git");
    env.install(&repo, &[("backup", s(&mirror))]);
    let hook = repo.join(".git/hooks/post-commit");
    let current = fs::read_to_string(&hook).expect("our hook");
    let old = "#!/bin/sh\n# git-repo-sync managed hook\n# git-repo-sync-template-version: 0\nexit 0\n";
    env.write_executable(&hook, old);

    env.install(&repo, &[("backup", s(&mirror))]);
    assert_eq!(
        fs::read_to_string(&hook).ok(),
        Some(current),
        "re-install brings an older hook of ours up to date"
    );
    assert!(
        !repo.join(".git/hooks/post-commit.before-repo-sync").exists(),
        "an older hook of ours is not mistaken for a foreign one"
    );
    env.commit(&repo, "after the upgrade");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
}

#[test]
fn uninstall_keeps_the_config_unless_purged() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    env.install(&repo, &[("backup", s(&env.root().join("backup.git")))]);
    let config = env.config_path(&repo);
    let text = fs::read(&config).expect("config written");

    env.cmd_in(&repo).arg("uninstall").assert().success();
    assert_eq!(fs::read(&config).ok(), Some(text), "uninstall keeps the config");
    for hook in WORK_TREE_HOOKS {
        assert!(!repo.join(".git/hooks").join(hook).exists(), "{hook} left behind");
    }

    env.cmd_in(&repo)
        .args(["uninstall", "--purge"])
        .assert()
        .success();
    assert!(!config.exists(), "uninstall --purge deletes the config");
}
