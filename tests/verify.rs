//! `verify` is a restore drill: it exits 0 only when every mirror holds what we last pushed
//! there, whole, and otherwise names what is wrong, per mirror.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::servers::{HttpServer, SshOptions, SshServer};
use crate::support::{TestEnv, file_url, s};

/// What one `verify` run printed.
struct Verify {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Verify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit status {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn verify(env: &TestEnv, repo: &Path, args: &[&str]) -> Verify {
    let out = env
        .cmd_in(repo)
        .arg("verify")
        .args(args)
        .output()
        .expect("running verify");
    Verify {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A repository with two commits and a tag, a bare mirror `backup` synced from it (no hooks:
/// nothing but the test's own `sync` pushes).
fn synced(env: &TestEnv) -> (PathBuf, PathBuf) {
    let repo = env.init_repo("project");
    env.commit(&repo, "second");
    env.git(&repo, ["tag", "v1"]);
    let mirror = env.root().join("backup.git");
    env.cmd_in(&repo)
        .args(["mirror", "add", "backup", s(&mirror)])
        .assert()
        .success();
    env.cmd_in(&repo).arg("sync").assert().success();
    (repo, mirror)
}

/// Makes every object of the bare repository `mirror` a loose one, so that one can be deleted.
fn unpack_all(env: &TestEnv, mirror: &Path) {
    let packs = mirror.join("objects/pack");
    for entry in fs::read_dir(&packs)
        .expect("reading the mirror's packs")
        .flatten()
    {
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "pack") {
            let moved = env.root().join(entry.file_name());
            fs::rename(&path, &moved).expect("moving the pack away");
            let mut unpack = env.git_cmd(mirror);
            unpack
                .arg("unpack-objects")
                .arg("-q")
                .stdin(fs::File::open(&moved).expect("opening the pack"));
            crate::support::run_ok(&mut unpack);
            fs::remove_file(path.with_extension("idx")).expect("removing the pack's index");
        }
    }
}

fn loose_object(mirror: &Path, oid: &str) -> PathBuf {
    mirror.join("objects").join(&oid[..2]).join(&oid[2..])
}

#[test]
fn healthy_mirrors_exit_0_with_a_line_each() {
    let env = TestEnv::new();
    let (repo, _) = synced(&env);
    let other = env.root().join("other.git");
    env.cmd_in(&repo)
        .args(["mirror", "add", "other", &file_url(&other)])
        .assert()
        .success();
    env.cmd_in(&repo).arg("sync").assert().success();

    let run = verify(&env, &repo, &[]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stdout.contains("ok backup: 2 refs as pushed, objects whole"),
        "{run}"
    );
    assert!(
        run.stdout.contains("ok other: 2 refs as pushed, objects whole"),
        "{run}"
    );
    assert!(run.stderr.is_empty(), "{run}");
}

#[test]
fn a_mirror_never_pushed_to_fails_saying_to_sync() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.root().join("backup.git");
    env.cmd_in(&repo)
        .args(["mirror", "add", "backup", s(&mirror)])
        .assert()
        .success();

    let run = verify(&env, &repo, &[]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stdout
            .contains("FAILED backup: nothing pushed yet; run git-repo-sync sync"),
        "{run}"
    );
}

#[test]
fn a_local_mirror_missing_an_object_fails_naming_it() {
    let env = TestEnv::new();
    let (repo, mirror) = synced(&env);
    let blob = env
        .git(&repo, ["rev-parse", "HEAD:change-1.txt"])
        .trim()
        .to_owned();
    unpack_all(&env, &mirror);
    fs::remove_file(loose_object(&mirror, &blob)).expect("deleting an object of the mirror");

    let run = verify(&env, &repo, &[]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stdout
            .contains(&format!("FAILED backup: missing object {blob} (blob)")),
        "{run}"
    );
}

#[test]
fn a_ref_moved_behind_our_back_fails_naming_the_ref() {
    let env = TestEnv::new();
    let (repo, mirror) = synced(&env);
    let ours = env.head(&repo);
    let older = env.git(&repo, ["rev-parse", "HEAD~1"]).trim().to_owned();
    env.git(&mirror, ["update-ref", "refs/heads/main", &older]);

    let run = verify(&env, &repo, &[]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stdout.contains(&format!(
            "FAILED backup: refs/heads/main is {} on the mirror, we pushed {}",
            &older[..7],
            &ours[..7]
        )),
        "{run}"
    );
}

/// sha256 of a file's content, as git-lfs names its objects.
fn sha256(file: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(file)
        .output()
        .expect("running sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("sha256sum printed a hash")
        .to_owned()
}

fn lfs_object(git_dir: &Path, oid: &str) -> PathBuf {
    git_dir
        .join("lfs/objects")
        .join(&oid[..2])
        .join(&oid[2..4])
        .join(oid)
}

#[test]
fn a_local_mirror_missing_an_lfs_object_fails_naming_it() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    // The layout git-lfs leaves, made by hand: the pointer committed, the object in the git dir.
    let content = b"a large file, in spirit\n";
    let original = env.root().join("big.bin");
    fs::write(&original, content).expect("writing the large file");
    let oid = sha256(&original);
    let pointer = format!(
        "version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {}\n",
        content.len()
    );
    fs::write(repo.join("big.bin"), &pointer).expect("writing the pointer");
    env.git(&repo, ["add", "big.bin"]);
    env.git(&repo, ["commit", "-q", "-m", "an LFS file"]);
    let ours = lfs_object(&env.common_dir(&repo), &oid);
    fs::create_dir_all(ours.parent().expect("a parent")).expect("making the LFS dirs");
    fs::write(&ours, content).expect("writing the LFS object");
    let mirror = env.root().join("backup.git");
    env.cmd_in(&repo)
        .args(["mirror", "add", "backup", s(&mirror)])
        .assert()
        .success();
    env.cmd_in(&repo).arg("sync").assert().success();
    // Where git-lfs puts it in a mirror on this machine.
    let theirs = lfs_object(&mirror, &oid);
    fs::create_dir_all(theirs.parent().expect("a parent")).expect("making the mirror's LFS dirs");
    fs::write(&theirs, content).expect("copying the LFS object");

    let run = verify(&env, &repo, &["--full"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stdout
            .contains("ok backup: 1 ref as pushed, objects whole, 1 LFS object present"),
        "{run}"
    );

    // Same size, other content: only the hash of `--full` tells.
    fs::write(&theirs, b"A LARGE FILE, IN SPIRIT\n").expect("corrupting the LFS object");
    assert_eq!(verify(&env, &repo, &[]).code, Some(0));
    let run = verify(&env, &repo, &["--full"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stdout
            .contains(&format!("LFS object {oid} does not hash to its id")),
        "{run}"
    );

    fs::remove_file(&theirs).expect("deleting the mirror's LFS object");
    let run = verify(&env, &repo, &[]);
    assert_eq!(run.code, Some(1), "{run}");
    let missing = format!("FAILED backup: LFS object {oid} missing");
    assert!(run.stdout.lines().any(|line| line == missing), "{run}");

    // Nowhere to be had: git-lfs leaves the objects of old commits unfetched.
    fs::remove_file(&ours).expect("deleting our LFS object");
    let run = verify(&env, &repo, &[]);
    assert!(
        run.stdout
            .contains(&format!("{missing} (and from this repository too)")),
        "{run}"
    );
}

#[test]
fn full_clones_a_healthy_local_mirror_and_exits_0() {
    let env = TestEnv::new();
    let (repo, _) = synced(&env);

    let run = verify(&env, &repo, &["--full"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stdout
            .contains("ok backup: 2 refs as pushed, objects whole, a fresh clone passes git fsck"),
        "{run}"
    );
    // The clone was temporary.
    let left: Vec<_> = fs::read_dir(env.root().join("tmp"))
        .expect("reading TMPDIR")
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with("git-repo-sync-verify")
        })
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn json_is_an_array_with_an_object_per_mirror() {
    let env = TestEnv::new();
    let (repo, mirror) = synced(&env);
    let hosted = "https://someone:hunter2secret@git.example.com/me/project.git";
    env.cmd_in(&repo)
        .args(["mirror", "add", "hosted", hosted, "--no-check"])
        .assert()
        .success();
    let older = env.git(&repo, ["rev-parse", "HEAD~1"]).trim().to_owned();
    env.git(&mirror, ["update-ref", "refs/tags/v1", &older]);

    let run = verify(&env, &repo, &["--json"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(!run.stdout.contains("hunter2secret"), "{run}");
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{run}"));
    let mirrors = report.as_array().unwrap_or_else(|| panic!("not an array\n{run}"));
    assert_eq!(mirrors.len(), 2, "{run}");
    let backup = &mirrors[0];
    assert_eq!(backup["name"], "backup", "{run}");
    assert_eq!(backup["url"], s(&mirror), "{run}");
    assert_eq!(backup["ok"], false, "{run}");
    assert_eq!(backup["refs"], 2, "{run}");
    assert_eq!(backup["objects_checked"], true, "{run}");
    assert_eq!(backup["lfs_objects"], Value::Null, "{run}");
    assert_eq!(backup["cloned"], false, "{run}");
    assert_eq!(backup["failure"], Value::Null, "its refs were read: {run}");
    let problems = backup["problems"].as_array().expect("a problems array");
    assert_eq!(problems.len(), 1, "{run}");
    assert!(
        problems[0]
            .as_str()
            .is_some_and(|p| p.starts_with("refs/tags/v1 is ")),
        "{run}"
    );
    let hosted = &mirrors[1];
    assert_eq!(hosted["name"], "hosted", "{run}");
    assert_eq!(hosted["ok"], false, "{run}");
    assert!(
        hosted["url"]
            .as_str()
            .is_some_and(|url| url.contains("git.example.com")),
        "{run}"
    );

    // One mirror named: only it is checked.
    let run = verify(&env, &repo, &["--json", "--mirror", "hosted"]);
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{run}"));
    assert_eq!(report.as_array().map(Vec::len), Some(1), "{run}");
    assert_eq!(
        report[0]["problems"][0], "nothing pushed yet; run git-repo-sync sync",
        "{run}"
    );
}

/// A mirror whose refs cannot be read names the kind of failure in `--json`, for scripts.
#[test]
fn json_names_the_kind_of_failure_when_a_mirror_cannot_be_read() {
    let env = TestEnv::new();
    let (repo, mirror) = synced(&env);
    std::fs::remove_dir_all(&mirror).expect("removing the mirror");
    std::fs::create_dir(&mirror).expect("an empty directory in its place");

    let run = verify(&env, &repo, &["--json"]);
    assert_eq!(run.code, Some(1), "{run}");
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{run}"));
    assert_eq!(report[0]["ok"], false, "{run}");
    assert_eq!(report[0]["failure"]["kind"], "not_a_repository", "{run}");
}

/// Over ssh and https the refs are read with the credentials a sync uses (an identity file, a
/// token in an environment variable), through the ssh connection the sync kept open; `--full`
/// clones with them too. The token is never printed.
#[test]
fn remote_mirrors_are_checked_with_the_credentials_and_connection_sync_uses() {
    let env = TestEnv::new();
    let Some(sshd) = SshServer::start(&env, SshOptions::default()) else {
        return;
    };
    let Some(http) = HttpServer::start(&env, &[("alice", "verify-token-1")]) else {
        return;
    };
    let repo = env.init_repo("project");
    env.commit(&repo, "second");
    let over_ssh = env.init_bare("over-ssh.git");
    let over_http = http.create_repo(&env, "over-http");
    env.cmd_in(&repo)
        .args(["mirror", "add", "--no-check", "viassh", &sshd.url(&over_ssh)])
        .args(["--identity-file", s(sshd.client_key()), "--ssh-keep-open", "600"])
        .assert()
        .success();
    env.cmd_in(&repo)
        .args(["mirror", "add", "--no-check", "viahttp"])
        .arg(http.url_with_user("alice", "over-http"))
        .args(["--token-env", "VERIFY_TOKEN"])
        .assert()
        .success();
    let ssh = sshd.git_ssh_command();
    let vars = [
        ("GIT_SSH_COMMAND", ssh.as_str()),
        ("VERIFY_TOKEN", "verify-token-1"),
    ];
    let with_vars = |args: &[&str]| {
        let out = env
            .cmd_in(&repo)
            .args(args)
            .envs(vars)
            .output()
            .expect("running git-repo-sync");
        Verify {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    let sync = with_vars(&["sync"]);
    assert_eq!(sync.code, Some(0), "{sync}\n{}", http.logs());
    let connections = sshd.auth_connections();

    let run = with_vars(&["verify"]);
    assert_eq!(run.code, Some(0), "{run}\n{}", http.logs());
    for name in ["viassh", "viahttp"] {
        assert!(
            run.stdout.contains(&format!(
                "ok {name}: 1 ref as pushed (objects not checked on a mirror elsewhere: --full \
                 clones it)"
            )),
            "{run}"
        );
    }
    let run = with_vars(&["verify", "--full"]);
    assert_eq!(run.code, Some(0), "{run}\n{}", http.logs());
    for name in ["viassh", "viahttp"] {
        assert!(
            run.stdout.contains(&format!(
                "ok {name}: 1 ref as pushed, a fresh clone passes git fsck"
            )),
            "{run}"
        );
    }
    assert_eq!(
        sshd.auth_connections(),
        connections,
        "verify logged in again instead of using the kept connection\n{}",
        sshd.log()
    );

    let older = env.git(&repo, ["rev-parse", "HEAD~1"]).trim().to_owned();
    env.git(&over_http, ["update-ref", "refs/heads/main", &older]);
    let run = with_vars(&["verify"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stdout.contains(&format!(
            "FAILED viahttp: refs/heads/main is {} on the mirror",
            &older[..7]
        )),
        "{run}"
    );
    assert!(run.stdout.contains("ok viassh: "), "{run}");
    assert!(!format!("{run}").contains("verify-token-1"), "{run}");
}
