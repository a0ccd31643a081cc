//! Every repository git opens is served: reftable refs and SHA-256 objects (git 3's defaults),
//! alone and together, in work trees and bare server repositories, under the machine's git
//! (hook files) and a git with config-based hooks; and a mirror we write can be cloned: a shallow
//! clone is refused loudly, a partial clone's mirror is whole.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::tools::{Tool, path_with, require_tool};
use crate::support::{Snapshot, TestEnv, WAIT, s};

/// (ref format, object format), each as git's options name it.
const KINDS: [(&str, &str); 4] = [
    ("files", "sha1"),
    ("files", "sha256"),
    ("reftable", "sha1"),
    ("reftable", "sha256"),
];

fn init_args<'a>(refs: &'a str, objects: &'a str) -> [String; 3] {
    [
        "-q".to_owned(),
        format!("--ref-format={refs}"),
        format!("--object-format={objects}"),
    ]
}

/// The mirror passes a full `git fsck` and has `objects` as its object format.
fn assert_whole(env: &TestEnv, mirror: &Path, objects: &str) {
    assert_eq!(
        env.git(mirror, ["rev-parse", "--show-object-format"]).trim(),
        objects,
        "the mirror {} was made with the source's object format",
        mirror.display()
    );
    env.git(mirror, ["fsck", "--no-progress", "--strict"]);
}

/// `status` says the mirror is ok, `doctor` finds nothing wrong, and `uninstall` leaves the
/// hooks and git config as they were before `install`.
fn assert_healthy_then_uninstall(env: &TestEnv, repo: &Path, hooks_before: &Snapshot, config_before: &str) {
    env.cmd_in(repo).arg("sync").assert().success();
    let status = env.status_json(repo);
    assert_eq!(status["mirrors"][0]["last_result"], "ok", "{status:#}");
    let doctor = env.cmd_in(repo).arg("doctor").output().expect("running doctor");
    assert!(
        doctor.status.success(),
        "doctor in {}:\n{}{}",
        repo.display(),
        String::from_utf8_lossy(&doctor.stdout),
        String::from_utf8_lossy(&doctor.stderr)
    );
    env.cmd_in(repo).arg("uninstall").assert().success();
    hooks_before.assert_unchanged(&Snapshot::of(&env.hooks_dir(repo)), "uninstall: the hooks");
    let config_after = env.git(repo, ["config", "--list", "--local"]);
    assert_eq!(config_after, config_before, "uninstall: the git config");
}

fn serves_every_kind(env: &TestEnv) {
    for (refs, objects) in KINDS {
        // A work tree: a commit reaches the mirror install created.
        let repo = env.root().join(format!("work-{refs}-{objects}"));
        fs::create_dir_all(&repo).expect("creating the repository dir");
        env.git(
            &repo,
            ["init"]
                .into_iter()
                .map(String::from)
                .chain(init_args(refs, objects)),
        );
        env.commit(&repo, "first");
        let hooks_before = Snapshot::of(&env.hooks_dir(&repo));
        let config_before = env.git(&repo, ["config", "--list", "--local"]);
        let mirror = env.root().join(format!("mirrors/work-{refs}-{objects}.git"));
        if refs == "reftable" {
            // A reftable mirror of its own; install makes the others, with git's default refs.
            fs::create_dir_all(&mirror).expect("creating the mirror dir");
            env.git(
                &mirror,
                ["init", "--bare"]
                    .into_iter()
                    .map(String::from)
                    .chain(init_args(refs, objects)),
            );
        }
        env.install(&repo, &[("backup", s(&mirror))]);
        env.commit(&repo, "second");
        env.wait_until_refs_equal(&repo, &mirror, WAIT);
        assert_whole(env, &mirror, objects);
        assert_healthy_then_uninstall(env, &repo, &hooks_before, &config_before);

        // A bare server repository: a push into it reaches its mirror.
        let server = env.root().join(format!("srv/{refs}-{objects}.git"));
        fs::create_dir_all(&server).expect("creating the server dir");
        env.git(
            &server,
            ["init", "--bare"]
                .into_iter()
                .map(String::from)
                .chain(init_args(refs, objects)),
        );
        let hooks_before = Snapshot::of(&env.hooks_dir(&server));
        let config_before = env.git(&server, ["config", "--list", "--local"]);
        let server_mirror = env.root().join(format!("mirrors/srv-{refs}-{objects}.git"));
        env.install(&server, &[("backup", s(&server_mirror))]);
        env.git(&repo, ["push", "-q", s(&server), "main"]);
        env.wait_until_refs_equal(&server, &server_mirror, WAIT);
        assert_whole(env, &server_mirror, objects);
        assert_healthy_then_uninstall(env, &server, &hooks_before, &config_before);
    }
}

#[test]
fn reftable_and_sha256_repositories_are_mirrored_whole_with_hook_files() {
    serves_every_kind(&TestEnv::new());
}

#[test]
fn reftable_and_sha256_repositories_are_mirrored_whole_with_config_based_hooks() {
    let Some(git) = require_tool("the config-based hook matrix", Tool::NewGit) else {
        return;
    };
    let mut env = TestEnv::new();
    let path = path_with(&[git.parent().expect("git's directory")], env.path_var());
    env.set_path_var(path);
    serves_every_kind(&env);
}

/// A source of `objects` format with one commit, and a mirror of the other format beside it.
fn source_and_mismatched_mirror(env: &TestEnv, objects: &str, other: &str) -> (PathBuf, PathBuf) {
    let repo = env.root().join(format!("{objects}-source"));
    fs::create_dir_all(&repo).expect("creating the repository dir");
    env.git(&repo, ["init", "-q", &format!("--object-format={objects}")]);
    env.commit(&repo, "first");
    let mirror = env.root().join(format!("{other}-mirror.git"));
    fs::create_dir_all(&mirror).expect("creating the mirror dir");
    env.git(
        &mirror,
        ["init", "-q", "--bare", &format!("--object-format={other}")],
    );
    (repo, mirror)
}

#[test]
fn a_mirror_of_the_other_object_format_fails_loudly_naming_both() {
    let env = TestEnv::new();
    for (ours, theirs, ours_shown, theirs_shown) in [
        ("sha256", "sha1", "SHA-256", "SHA-1"),
        ("sha1", "sha256", "SHA-1", "SHA-256"),
    ] {
        let (repo, mirror) = source_and_mismatched_mirror(&env, ours, theirs);
        let before = Snapshot::of(&mirror);
        // As a path and as a `file://` URL: checked before anything moves.
        for url in [s(&mirror).to_owned(), crate::support::file_url(&mirror)] {
            env.cmd_in(&repo)
                .args(["mirror", "add", "m", &url])
                .assert()
                .success();
            let out = env.cmd_in(&repo).arg("sync").output().expect("running sync");
            let said =
                String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(3), "{said}");
            assert!(
                said.contains(&format!("{theirs_shown} objects"))
                    && said.contains(&format!("{ours_shown} objects")),
                "names both formats: {said}"
            );
            let status = env.cmd_in(&repo).arg("status").output().expect("status");
            let shown = String::from_utf8_lossy(&status.stdout);
            assert!(
                shown.contains("FAILING") && shown.contains(&format!("{theirs_shown} objects")),
                "{shown}"
            );
            let doctor = env.cmd_in(&repo).arg("doctor").output().expect("doctor");
            let diagnosed = String::from_utf8_lossy(&doctor.stdout);
            assert_eq!(doctor.status.code(), Some(1), "{diagnosed}");
            assert!(
                diagnosed.contains(&format!("{theirs_shown} objects")),
                "{diagnosed}"
            );
            env.cmd_in(&repo)
                .args(["mirror", "remove", "m"])
                .assert()
                .success();
        }
        before.assert_unchanged(&Snapshot::of(&mirror), "the mismatched mirror");
    }
}

/// `git clone --depth 1` of a repository of three commits.
fn shallow_clone(env: &TestEnv) -> PathBuf {
    let origin = env.init_repo("origin");
    env.commit(&origin, "second");
    env.commit(&origin, "third");
    let url = crate::support::file_url(&origin);
    env.git(env.root(), ["clone", "-q", "--depth", "1", &url, "shallow"]);
    env.root().join("shallow")
}

#[test]
fn a_shallow_clone_is_refused_per_mirror_with_its_fix_and_nothing_is_written() {
    let env = TestEnv::new();
    let repo = shallow_clone(&env);
    let mirror = env.root().join("mirror.git");
    env.install(&repo, &[("backup", s(&mirror))]);
    let before = Snapshot::of(&mirror);

    let out = env.cmd_in(&repo).arg("sync").output().expect("running sync");
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(
        said.contains("shallow clone") && said.contains("git fetch --unshallow"),
        "{said}"
    );
    before.assert_unchanged(&Snapshot::of(&mirror), "the mirror of a shallow clone");

    let status = env.cmd_in(&repo).arg("status").output().expect("status");
    let shown = String::from_utf8_lossy(&status.stdout);
    assert!(
        shown.contains("FAILING") && shown.contains("--unshallow"),
        "{shown}"
    );
    let doctor = env.cmd_in(&repo).arg("doctor").output().expect("doctor");
    let diagnosed = String::from_utf8_lossy(&doctor.stdout);
    assert_eq!(doctor.status.code(), Some(1), "{diagnosed}");
    assert!(
        diagnosed.contains("shallow") && diagnosed.contains("--unshallow"),
        "{diagnosed}"
    );

    // Once whole, the same mirror takes it all and can be cloned.
    env.git(&repo, ["fetch", "-q", "--unshallow"]);
    env.cmd_in(&repo).arg("sync").assert().success();
    env.git(&mirror, ["fsck", "--no-progress"]);
    assert_eq!(env.refs(&mirror), env.refs(&repo));
}

#[test]
fn a_mirror_set_to_take_a_shallow_clone_gets_it_and_status_says_so() {
    let env = TestEnv::new();
    let repo = shallow_clone(&env);
    let mirror = env.init_bare("mirror.git");
    // The mirror's side of the bargain: git refuses shallow pushes unless told otherwise.
    env.git(&mirror, ["config", "receive.shallowUpdate", "true"]);
    env.cmd_in(&repo)
        .args(["mirror", "add", "partial-history", s(&mirror), "--shallow"])
        .assert()
        .success();
    env.cmd().args(["install", "--yes"]).arg(&repo).assert().success();
    env.cmd_in(&repo).arg("sync").assert().success();
    assert_eq!(env.refs(&mirror), env.refs(&repo));
    env.git(&mirror, ["fsck", "--no-progress"]);
    let status = env.cmd_in(&repo).arg("status").output().expect("status");
    let shown = String::from_utf8_lossy(&status.stdout);
    assert!(
        shown.contains("shallow"),
        "status says the mirror is shallow: {shown}"
    );
}

#[test]
fn a_partial_clone_is_mirrored_whole() {
    let env = TestEnv::new();
    let origin = env.init_repo("origin");
    env.commit(&origin, "second");
    env.git(&origin, ["config", "uploadpack.allowFilter", "true"]);
    env.git(&origin, ["config", "uploadpack.allowAnySHA1InWant", "true"]);
    env.git(
        env.root(),
        [
            "clone",
            "-q",
            "--filter=blob:none",
            "--no-checkout",
            &crate::support::file_url(&origin),
            "partial",
        ],
    );
    let repo = env.root().join("partial");
    let mirror = env.root().join("mirror.git");
    env.install(&repo, &[("backup", s(&mirror))]);
    env.cmd_in(&repo).arg("sync").assert().success();
    env.git(&mirror, ["fsck", "--no-progress", "--strict"]);
    assert_eq!(env.refs(&mirror), env.refs(&repo));
}

#[test]
fn an_ssh_mirror_of_the_other_object_format_fails_loudly_naming_both() {
    use crate::support::servers::{SshOptions, SshServer};
    let env = TestEnv::new();
    let Some(sshd) = SshServer::start(&env, SshOptions::default()) else {
        return;
    };
    let (repo, mirror) = source_and_mismatched_mirror(&env, "sha256", "sha1");
    env.cmd_in(&repo)
        .env("GIT_SSH_COMMAND", sshd.git_ssh_command())
        .args([
            "mirror",
            "add",
            "far",
            &sshd.url(&mirror),
            "--identity-file",
            s(sshd.client_key()),
        ])
        .assert()
        .success();
    let out = env
        .std_cmd_in(&repo)
        .env("GIT_SSH_COMMAND", sshd.git_ssh_command())
        .arg("sync")
        .output()
        .expect("running sync");
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(
        said.contains("SHA-1 objects") && said.contains("SHA-256 objects"),
        "git's own words name neither format; ours name both: {said}"
    );
    assert!(
        env.try_refs(&mirror).is_some_and(|refs| refs.is_empty()),
        "nothing arrived"
    );
}
