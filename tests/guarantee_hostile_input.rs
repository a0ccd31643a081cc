//! What git-repo-sync guarantees about hostile and broken input: each case is refused
//! with an error that says what is wrong and where, and nothing on disk changes: not the
//! repository, not its hooks, not its config, and no mirror is created. The cases that must work
//! (a hooks directory that does not exist yet, a repository path that is not UTF-8) work.
//!
//! Covered elsewhere and not repeated here: a malformed TOML file (`bad_config.rs`), mirror names
//! with spaces, `/`, quotes, `$(...)`, backticks, `;` or a newline on the command line
//! (`hostile_input.rs`), and a URL that looks like an option (`hostile_input.rs`).
//!
//! Every check compares a [`Snapshot`] of the test's whole temp dir (repositories, hooks,
//! configs, would-be mirrors) before and after the refused command.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Write as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use crate::support;
use crate::support::{MARKER, Snapshot, TestEnv, WAIT, WORK_TREE_HOOKS, s, sh_quote, wait_for};

/// Runs `git-repo-sync ARGS` in `dir` and asserts that it was refused with exit status 1, that
/// its stderr contains every one of `needles`, and that nothing under the test's temp dir
/// changed. Returns stderr.
fn assert_refused<I, A>(env: &TestEnv, dir: &Path, args: I, needles: &[&str]) -> String
where
    I: IntoIterator<Item = A>,
    A: AsRef<OsStr>,
{
    let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let shown = args
        .iter()
        .map(|a| format!("{:?}", a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ");
    let before = Snapshot::of(env.root());
    let out = env
        .std_cmd_in(dir)
        .args(&args)
        .output()
        .expect("running git-repo-sync");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "`git-repo-sync {shown}` was not refused with status 1\nstdout:\n{}\nstderr:\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "`git-repo-sync {shown}`: the error does not say {needle:?}:\n{stderr}"
        );
    }
    let errors = stderr
        .lines()
        .filter(|l| l.starts_with("git-repo-sync: error:"))
        .count();
    assert_eq!(
        errors, 1,
        "`git-repo-sync {shown}`: expected one error:\n{stderr}"
    );
    before.assert_unchanged(&Snapshot::of(env.root()), &format!("`git-repo-sync {shown}`"));
    stderr
}

/// Writes a repository's `repo-sync.toml`.
fn write_config(env: &TestEnv, repo: &Path, text: &str) -> PathBuf {
    let path = env.config_path(repo);
    fs::write(&path, text).expect("writing repo-sync.toml");
    path
}

// ---------------------------------------------------------------------------------------------
// The configuration file

#[test]
fn an_unknown_key_is_named_with_the_nearest_known_one_and_nothing_is_written() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let backup = env.root().join("backup.git");
    let other = env.root().join("other.git");
    let other_mirror = format!("other={}", s(&other));

    // A typo inside a mirror, and one at the top level.
    for (text, unknown, hint, line) in [
        (
            format!("[mirrors.backup]\nurl = \"{}\"\nretrys = 3\n", s(&backup)),
            "retrys",
            "did you mean `retries`?",
            "line 3",
        ),
        (
            format!("[mirror.backup]\nurl = \"{}\"\n", s(&backup)),
            "mirror",
            "did you mean `mirrors`?",
            "line 1",
        ),
    ] {
        let config = write_config(&env, &repo, &text);
        let needles = [
            &*config.to_string_lossy(),
            &format!("unknown field `{unknown}`"),
            hint,
            line,
        ];
        for args in [
            &["status"][..],
            &["sync"],
            &["install", "--yes"],
            &["install", "--yes", "--mirror", &other_mirror],
            &["mirror", "add", "other", s(&other)],
            &["mirror", "list"],
        ] {
            assert_refused(&env, &repo, args, &needles);
        }
        assert!(!backup.exists() && !other.exists(), "a mirror was created");
    }
}

#[test]
fn two_mirrors_with_one_name_are_refused_and_nothing_is_written() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let first = env.root().join("first.git");
    let second = env.root().join("second.git");

    // In the file: the same table twice, also when quoted differently.
    for second_header in ["[mirrors.backup]", "[mirrors.\"backup\"]"] {
        let config = write_config(
            &env,
            &repo,
            &format!(
                "[mirrors.backup]\nurl = \"{}\"\n{second_header}\nurl = \"{}\"\n",
                s(&first),
                s(&second)
            ),
        );
        for args in [&["status"][..], &["sync"], &["install", "--yes"]] {
            assert_refused(
                &env,
                &repo,
                args,
                &[
                    &*config.to_string_lossy(),
                    "line 3",
                    "duplicate key",
                    "each mirror needs its own name",
                ],
            );
        }
    }
    fs::remove_file(env.config_path(&repo)).expect("removing the config");

    // On the command line: one name twice in one install.
    assert_refused(
        &env,
        &repo,
        [
            "install",
            "--yes",
            "--mirror",
            &format!("backup={}", s(&first)),
            "--mirror",
            &format!("backup={}", s(&second)),
        ],
        &["--mirror backup is given twice"],
    );
    assert!(
        !first.exists() && !second.exists(),
        "a refused install created a mirror"
    );

    // A name that is already configured, with another URL.
    env.install(&repo, &[("backup", s(&first))]);
    let backup_second = format!("backup={}", s(&second));
    assert_refused(
        &env,
        &repo,
        ["install", "--yes", "--mirror", &backup_second],
        &["mirror 'backup' already exists", s(&first)],
    );
    assert_refused(
        &env,
        &repo,
        ["mirror", "add", "backup", s(&second)],
        &["a mirror named 'backup' already exists", s(&first)],
    );
    assert!(!second.exists(), "a refused command created the second mirror");
}

// ---------------------------------------------------------------------------------------------
// Mirror URLs

#[test]
fn an_empty_url_is_refused_and_nothing_is_written() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");

    for url in ["", "   "] {
        assert_refused(&env, &repo, ["mirror", "add", "backup", url], &["is empty"]);
        assert_refused(
            &env,
            &repo,
            ["install", "--yes", "--mirror", &format!("backup={url}")],
            &["is empty"],
        );
    }
    let config = write_config(&env, &repo, "[mirrors.backup]\nurl = \"\"\n");
    assert_refused(
        &env,
        &repo,
        ["status"],
        &[
            &*config.to_string_lossy(),
            "line 2, column 7",
            "url of mirror 'backup' is empty",
        ],
    );
}

#[test]
fn a_relative_url_to_nothing_is_refused_and_nothing_is_created() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let typo = repo.join("bakcup.git");

    // On the command line a relative path is taken from the current directory; one that leads
    // nowhere is refused rather than a bare repository created there (here: in the work tree).
    let stderr = assert_refused(
        &env,
        &repo,
        ["mirror", "add", "backup", "bakcup.git"],
        &["relative path", s(&typo), "does not exist"],
    );
    assert!(stderr.contains("absolute path"), "no way out given:\n{stderr}");
    assert_refused(
        &env,
        &repo,
        ["install", "--yes", "--mirror", "backup=../nowhere/backup.git"],
        &["relative path", "does not exist"],
    );
    assert!(!typo.exists());

    // In the file every relative path is refused: hooks run from other directories.
    let config = write_config(&env, &repo, "[mirrors.backup]\nurl = \"bakcup.git\"\n");
    assert_refused(
        &env,
        &repo,
        ["sync"],
        &[
            &*config.to_string_lossy(),
            "line 2, column 7",
            "is a relative path",
        ],
    );
    fs::remove_file(&config).expect("removing the config");

    // A relative path to a mirror that exists is fine, and stored absolute.
    let existing = env.init_bare("existing.git");
    env.cmd_in(&repo)
        .args(["mirror", "add", "backup", "../existing.git"])
        .assert()
        .success();
    let text = fs::read_to_string(env.config_path(&repo)).expect("config written");
    let config: toml::Table = text.parse().expect("the config parses");
    let url = config["mirrors"]["backup"]["url"].as_str().expect("a url");
    assert!(
        Path::new(url).is_absolute() && fs::canonicalize(url).ok() == Some(existing),
        "{text}"
    );
}

#[test]
fn a_url_with_a_newline_or_nul_is_refused_and_nothing_is_written() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let dir = env.root().join("mirrors");
    let with_newline = format!("{}/a\n/b.git", s(&dir));
    let control = "contains a control character";

    assert_refused(
        &env,
        &repo,
        ["mirror", "add", "backup", &with_newline],
        &[control],
    );
    assert_refused(
        &env,
        &repo,
        ["install", "--yes", "--mirror", &format!("backup={with_newline}")],
        &[control],
    );
    // No argument can hold a NUL (the kernel ends it there), but the config file can.
    for escaped in ["\\u0000", "\\n", "\\r"] {
        let config = write_config(
            &env,
            &repo,
            &format!("[mirrors.backup]\nurl = \"{}/a{escaped}b.git\"\n", s(&dir)),
        );
        for args in [&["status"][..], &["sync"], &["install", "--yes"]] {
            assert_refused(
                &env,
                &repo,
                args,
                &[&*config.to_string_lossy(), "line 2, column 7", control],
            );
        }
    }
    assert!(!dir.exists(), "a refused command created the mirror");
}

// ---------------------------------------------------------------------------------------------
// Mirror names

#[test]
fn mirror_names_with_dot_dot_or_a_leading_dot_are_refused_and_nothing_is_written() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.root().join("backup.git");

    for name in ["..", "a..b", "../up", ".hidden", "-rf"] {
        let stderr = assert_refused(
            &env,
            &repo,
            ["mirror", "add", "--", name, s(&mirror)],
            &["mirror name"],
        );
        assert!(
            stderr.contains(&format!("{name:?}")),
            "does not name {name:?}:\n{stderr}"
        );
        assert_refused(
            &env,
            &repo,
            ["install", "--yes", &format!("--mirror={name}={}", s(&mirror))],
            &["mirror name"],
        );
    }
    assert!(!mirror.exists());
}

#[test]
fn hostile_mirror_names_in_the_config_file_are_refused_with_their_place() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.root().join("backup.git");

    for name in ["a/b", "..", "has space", "$(touch pwned)", "`id`", "x;y", "it's"] {
        let key = toml::Value::String(name.to_owned()).to_string();
        let config = write_config(
            &env,
            &repo,
            &format!("# mine\n[mirrors.{key}]\nurl = \"{}\"\n", s(&mirror)),
        );
        for args in [&["status"][..], &["sync"], &["install", "--yes"]] {
            assert_refused(
                &env,
                &repo,
                args,
                &[
                    &*config.to_string_lossy(),
                    "line 2, column 10",
                    &format!("mirror name {name:?}"),
                ],
            );
        }
    }
    assert!(!mirror.exists());
    assert!(support::files_named(env.root(), "pwned").is_empty());
}

// ---------------------------------------------------------------------------------------------
// The REPO argument

#[test]
fn a_repo_argument_that_is_not_a_repository_is_refused_and_nothing_is_written() {
    let env = TestEnv::new();
    let good = env.init_repo("project");
    let mirror = env.root().join("backup.git");
    let mirror_arg = format!("backup={}", s(&mirror));
    let plain = env.root().join("plain");
    fs::create_dir_all(&plain).expect("creating a plain dir");
    let file = env.root().join("notes.txt");
    fs::write(&file, "not a repository\n").expect("writing a file");
    let subdir = good.join("src");
    fs::create_dir_all(&subdir).expect("creating a subdir");
    let missing = env.root().join("missing");

    for bad in [&plain, &file, &subdir, &missing] {
        let needles = [s(bad), "is not a git repository"];
        assert_refused(
            &env,
            env.root(),
            ["install", "--yes", "--mirror", &mirror_arg, s(bad)],
            &needles,
        );
        // Several repositories: all are checked before any is touched.
        assert_refused(
            &env,
            env.root(),
            ["install", "--yes", "--mirror", &mirror_arg, s(&good), s(bad)],
            &needles,
        );
        assert_refused(&env, env.root(), ["uninstall", s(bad)], &needles);
    }
    assert!(!missing.exists() && !mirror.exists());

    // The current directory (or -C) outside any repository.
    for (dir, args) in [
        (&plain, &["status"][..]),
        (&plain, &["mirror", "add", "backup", s(&mirror)]),
        (&plain, &["sync"]),
        (&env.root().to_path_buf(), &["-C", s(&plain), "status"]),
    ] {
        assert_refused(&env, dir, args, &[s(&plain), "is not inside a git repository"]);
    }
    assert_refused(
        &env,
        env.root(),
        ["-C", s(&missing), "status"],
        &["cannot change to directory", s(&missing)],
    );
}

// ---------------------------------------------------------------------------------------------
// The hooks directory

#[test]
fn a_hooks_directory_that_is_a_file_is_refused_and_nothing_is_written() {
    let env = TestEnv::new();
    let mirror = env.root().join("backup.git");
    let mirror_arg = format!("backup={}", s(&mirror));

    // `.git/hooks` itself is a file.
    let repo = env.init_repo("project");
    let hooks = repo.join(".git/hooks");
    fs::remove_dir_all(&hooks).expect("removing .git/hooks");
    fs::write(&hooks, "I am not a directory\n").expect("writing a file there");
    assert_refused(
        &env,
        env.root(),
        ["install", "--yes", "--mirror", &mirror_arg, s(&repo)],
        &[&format!("{} is not a directory", s(&hooks))],
    );

    // core.hooksPath names a file, or a directory under a file.
    let other = env.init_repo("other");
    let file = env.root().join("hooks-file");
    fs::write(&file, "").expect("writing a file");
    env.git(&other, ["config", "core.hooksPath", s(&file)]);
    assert_refused(
        &env,
        env.root(),
        ["install", "--yes", "--mirror", &mirror_arg, s(&other)],
        &[&format!("{} is not a directory", s(&file))],
    );
    // Below a file git itself gives up, and says so.
    let below = file.join("sub");
    env.git(&other, ["config", "core.hooksPath", s(&below)]);
    assert_refused(
        &env,
        env.root(),
        ["install", "--yes", "--mirror", &mirror_arg, s(&other)],
        &[&format!("Invalid path '{}': Not a directory", s(&below))],
    );
    assert!(!mirror.exists());
}

#[test]
fn a_hooks_directory_that_is_a_dangling_symlink_is_refused_and_its_target_not_created() {
    let env = TestEnv::new();
    let mirror = env.root().join("backup.git");
    let mirror_arg = format!("backup={}", s(&mirror));
    let gone = env.root().join("unmounted/hooks");

    // `.git/hooks` is a symlink to nowhere (say, a share that is not mounted).
    let repo = env.init_repo("project");
    let hooks = repo.join(".git/hooks");
    fs::remove_dir_all(&hooks).expect("removing .git/hooks");
    std::os::unix::fs::symlink(&gone, &hooks).expect("symlinking .git/hooks");
    assert_refused(
        &env,
        env.root(),
        ["install", "--yes", "--mirror", &mirror_arg, s(&repo)],
        &[s(&hooks), "is a symlink to", s(&gone), "does not exist"],
    );

    // core.hooksPath names such a symlink.
    let other = env.init_repo("other");
    let link = env.root().join("hooks-link");
    std::os::unix::fs::symlink(&gone, &link).expect("symlinking");
    env.git(&other, ["config", "core.hooksPath", s(&link)]);
    assert_refused(
        &env,
        env.root(),
        ["install", "--yes", "--mirror", &mirror_arg, s(&other)],
        &[s(&link), "is a symlink to", s(&gone)],
    );
    assert!(!env.root().join("unmounted").exists() && !mirror.exists());
}

/// Whether this process can create a file in `dir` (root can, whatever the mode says).
fn can_write_into(dir: &Path) -> bool {
    let probe = dir.join(".probe-from-the-test");
    let ok = fs::File::create_new(&probe).is_ok();
    if ok {
        let _ = fs::remove_file(&probe);
    }
    ok
}

/// A directory no one may write into, root included: `/sys/kernel` (sysfs refuses new files).
/// The tests run as root, where `chmod` stops nothing, so this is the honest unwritable case.
#[test]
fn an_unwritable_hooks_directory_is_refused_before_the_config_or_the_mirror_is_written() {
    let env = TestEnv::new();
    let unwritable = Path::new("/sys/kernel");
    if !unwritable.is_dir() || can_write_into(unwritable) {
        eprintln!("skipped: no unwritable /sys/kernel on this machine");
        return;
    }
    let repo = env.init_repo("project");
    env.git(&repo, ["config", "core.hooksPath", s(unwritable)]);
    let mirror = env.root().join("backup.git");
    assert_refused(
        &env,
        env.root(),
        [
            "install",
            "--yes",
            "--mirror",
            &format!("backup={}", s(&mirror)),
            s(&repo),
        ],
        &["hooks directory /sys/kernel is not writable", "core.hooksPath"],
    );
    assert!(!mirror.exists(), "the mirror was created before the hooks failed");
    assert!(!unwritable.join("post-commit").exists());
}

/// A hooks directory with mode 0555. Refused for an ordinary user; root may write there, and
/// then install simply works, which this test checks instead.
#[test]
fn a_read_only_hooks_directory_is_refused_unless_root_can_write_it_anyway() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let hooks = repo.join(".git/hooks");
    fs::set_permissions(&hooks, fs::Permissions::from_mode(0o555)).expect("chmod 555");
    let mirror = env.root().join("backup.git");
    let mirror_arg = format!("backup={}", s(&mirror));

    if can_write_into(&hooks) {
        // Root: permission bits do not apply, the directory is writable, install works.
        env.install(&repo, &[("backup", s(&mirror))]);
        for hook in WORK_TREE_HOOKS {
            assert!(hooks.join(hook).is_file(), "{hook} not written");
        }
    } else {
        assert_refused(
            &env,
            env.root(),
            ["install", "--yes", "--mirror", &mirror_arg, s(&repo)],
            &[&format!("hooks directory {} is not writable", s(&hooks))],
        );
        assert!(!mirror.exists());
    }
    fs::set_permissions(&hooks, fs::Permissions::from_mode(0o755)).expect("chmod back");
}

/// Run as another user (root, say), install would leave hooks and files the owner does not own;
/// it is refused, naming the owner and how to run it as them. Needs root to hand a repository
/// to `nobody`.
#[test]
fn install_into_a_repository_of_another_user_is_refused_naming_the_owner_and_nothing_is_written() {
    let env = TestEnv::new();
    let uid = support::run_ok(std::process::Command::new("id").arg("-u"));
    if uid.trim() != "0" {
        eprintln!(
            "skipped: only root can give a repository to another user (running as uid {})",
            uid.trim()
        );
        return;
    }
    let has_nobody = std::process::Command::new("id")
        .args(["-u", "nobody"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !has_nobody {
        eprintln!("skipped: no user nobody on this machine");
        return;
    }
    let repo = env.init_repo("project");
    support::run_ok(
        std::process::Command::new("chown")
            .args(["-R", "nobody"])
            .arg(&repo),
    );
    let mirror = env.root().join("backup.git");
    let mirror_arg = format!("backup={}", s(&mirror));
    let install = ["install", "--yes", "--mirror", &mirror_arg, s(&repo)];
    // Like git itself, install does not even open the repository of another user...
    assert_refused(
        &env,
        env.root(),
        install,
        &["belongs to nobody", "sudo -u nobody git-repo-sync install"],
    );
    // ...and when git is told to trust it (safe.directory), install still writes nothing there.
    env.git(env.root(), ["config", "--global", "--add", "safe.directory", "*"]);
    assert_refused(
        &env,
        env.root(),
        install,
        &[
            "belongs to nobody",
            &format!("sudo -u nobody git-repo-sync install {}", s(&repo)),
        ],
    );
    assert!(!mirror.exists(), "the mirror was created");
}

#[test]
fn a_hooks_directory_that_does_not_exist_yet_is_created_and_commits_sync() {
    let env = TestEnv::new();

    // `.git/hooks` deleted.
    let repo = env.init_repo("project");
    fs::remove_dir_all(repo.join(".git/hooks")).expect("removing .git/hooks");
    let mirror = env.root().join("backup.git");
    env.install(&repo, &[("backup", s(&mirror))]);
    // core.hooksPath naming directories that do not exist yet, two levels deep.
    let other = env.init_repo("other");
    env.git(&other, ["config", "core.hooksPath", ".config/git/hooks"]);
    let other_mirror = env.root().join("other.git");
    env.install(&other, &[("backup", s(&other_mirror))]);

    for (repo, hooks, mirror) in [
        (&repo, repo.join(".git/hooks"), &mirror),
        (&other, other.join(".config/git/hooks"), &other_mirror),
    ] {
        assert_eq!(env.hooks_dir(repo), hooks);
        for hook in WORK_TREE_HOOKS {
            let text = fs::read_to_string(hooks.join(hook)).unwrap_or_default();
            assert!(
                text.contains(MARKER),
                "{} not written",
                hooks.join(hook).display()
            );
        }
        env.commit(repo, "through a new hooks directory");
        env.wait_until_refs_equal(repo, mirror, WAIT);
    }
}

// ---------------------------------------------------------------------------------------------
// A repository path that is not UTF-8

#[test]
fn a_repository_whose_path_is_not_utf8_works() {
    let env = TestEnv::new();
    // Latin-1 "café" and a stray 0xff: valid on Linux, not UTF-8.
    let name = OsStr::from_bytes(b"caf\xe9 \xff project");
    let repo = env.root().join(name);
    fs::create_dir_all(&repo).expect("creating the repository dir");
    env.git(&repo, ["init", "-q"]);
    env.commit(&repo, "initial");
    let mirror = env.root().join("backup.git");
    let git_dir = repo.join(".git");

    env.cmd()
        .args(["install", "--yes", "--mirror"])
        .arg(format!("backup={}", s(&mirror)))
        .arg(&repo)
        .assert()
        .success();
    for hook in WORK_TREE_HOOKS {
        let text = fs::read_to_string(git_dir.join("hooks").join(hook)).unwrap_or_default();
        assert!(text.contains(MARKER), "{hook} not written into the repository");
    }
    assert!(git_dir.join("repo-sync.toml").is_file());
    // Nothing went to a look-alike path (a lossy conversion would have made "caf\u{fffd} ...").
    let mut entries: Vec<OsString> = fs::read_dir(env.root())
        .expect("listing the temp dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    entries.sort();
    let mut expected: Vec<OsString> = ["backup.git", "home", "tmp"].map(OsString::from).into();
    expected.push(name.to_owned());
    expected.sort();
    assert_eq!(
        entries, expected,
        "install wrote outside the repository and the mirror"
    );

    env.commit(&repo, "second");
    let log = git_dir.join("repo-sync.log");
    wait_for(
        WAIT,
        || env.try_refs(&mirror).as_deref() == Some(env.refs(&repo).as_str()),
        || {
            format!(
                "the mirror did not catch up; log:\n{}",
                fs::read_to_string(&log).unwrap_or_default()
            )
        },
    );
    env.cmd_in(&repo).arg("sync").assert().success();
    let status = env.status_json(&repo);
    assert_eq!(status["mirrors"][0]["name"], "backup", "{status}");
    env.cmd_in(&repo).arg("uninstall").assert().success();
    for hook in WORK_TREE_HOOKS {
        assert!(!git_dir.join("hooks").join(hook).exists(), "{hook} left behind");
    }
}

/// A repository path with a newline, a tab and a byte that is not UTF-8, beside a directory
/// named for the part before the newline that holds a repository of its own: git lists such a
/// path unambiguously only in its NUL-separated form, and install, the background sync, `sync`,
/// `status` and `uninstall` all touch that repository alone.
#[test]
fn a_repository_path_with_a_newline_a_tab_and_non_utf8_bytes_is_the_only_one_touched() {
    let env = TestEnv::new();
    let sibling = env.init_repo("nl");
    let sibling_mirror = env.root().join("sibling.git");
    env.install(&sibling, &[("backup", s(&sibling_mirror))]);
    env.cmd_in(&sibling).arg("sync").assert().success();
    let repo = env.root().join(OsStr::from_bytes(b"nl\nrepo\twith\xff"));
    fs::create_dir_all(&repo).expect("creating the repository dir");
    env.git(&repo, ["init", "-q"]);
    env.commit(&repo, "initial");
    let mirror = env.root().join("backup.git");
    let git_dir = repo.join(".git");
    let untouched = || Snapshot::of(&sibling);
    let sibling_before = untouched();

    let out = env
        .cmd()
        .args(["install", "--yes", "--mirror"])
        .arg(format!("backup={}", s(&mirror)))
        .arg(&repo)
        .output()
        .expect("running install");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The path is shown with its escapes, never split over two lines.
    assert!(stdout.contains(r#"nl\nrepo\twith\xFF""#), "{stdout}");
    assert!(!stdout.lines().any(|line| line.starts_with("repo")), "{stdout}");
    for hook in WORK_TREE_HOOKS {
        let text = fs::read_to_string(git_dir.join("hooks").join(hook)).unwrap_or_default();
        assert!(text.contains(MARKER), "{hook} not written into the repository");
    }
    sibling_before.assert_unchanged(&untouched(), "install into the path with a newline");

    env.commit(&repo, "second");
    let log = git_dir.join("repo-sync.log");
    wait_for(
        WAIT,
        || env.try_refs(&mirror).as_deref() == Some(env.refs(&repo).as_str()),
        || {
            format!(
                "the mirror did not catch up; log:\n{}",
                fs::read_to_string(&log).unwrap_or_default()
            )
        },
    );
    env.commit(&repo, "third");
    env.cmd_in(&repo).arg("sync").assert().success();
    assert_eq!(env.try_refs(&mirror), Some(env.refs(&repo)));
    let status = env.status_json(&repo);
    assert_eq!(status["mirrors"][0]["last_result"], "ok", "{status}");
    assert_eq!(status["triggers"]["ok"], true, "{status}");
    sibling_before.assert_unchanged(&untouched(), "syncing the path with a newline");
    assert_eq!(
        env.try_refs(&sibling_mirror).as_deref(),
        Some(env.refs(&sibling).as_str()),
        "the sibling's mirror moved"
    );

    env.cmd_in(&repo).arg("uninstall").assert().success();
    for hook in WORK_TREE_HOOKS {
        assert!(!git_dir.join("hooks").join(hook).exists(), "{hook} left behind");
    }
    sibling_before.assert_unchanged(&untouched(), "uninstall from the path with a newline");
}

#[test]
fn a_mirror_path_that_is_not_utf8_is_refused_clearly() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let mut url = OsString::from("backup=");
    url.push(env.root().join(OsStr::from_bytes(b"caf\xe9.git")));
    let before = Snapshot::of(env.root());
    for args in [
        vec![
            OsString::from("install"),
            "--yes".into(),
            "--mirror".into(),
            url.clone(),
        ],
        vec![
            "mirror".into(),
            "add".into(),
            "backup".into(),
            env.root().join(OsStr::from_bytes(b"caf\xe9.git")).into(),
        ],
    ] {
        let out = env
            .cmd_in(&repo)
            .args(&args)
            .output()
            .expect("running git-repo-sync");
        let stderr = String::from_utf8_lossy(&out.stderr);
        // A usage error: the argument parser refuses it before any code runs.
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("invalid UTF-8"), "{args:?}: {stderr}");
    }
    before.assert_unchanged(&Snapshot::of(env.root()), "a non-UTF-8 mirror path");
}

// ---------------------------------------------------------------------------------------------
// post-receive input

const ZERO: &str = "0000000000000000000000000000000000000000";

/// Lines that are not `<old-oid> <new-oid> <refname>`.
fn malformed_lines() -> Vec<Vec<u8>> {
    let one = "1".repeat(40);
    vec![
        b"garbage".to_vec(),
        format!("{ZERO} {one}").into_bytes(),
        format!("{ZERO} abc123 refs/heads/x").into_bytes(),
        format!("{ZERO} {one} HEAD").into_bytes(),
        format!("{ZERO} {one} refs/heads/a b").into_bytes(),
        format!("{ZERO} {one} refs/heads/a\tb").into_bytes(),
        b"\xff\xfe not UTF-8".to_vec(),
    ]
}

/// The malformed lines, each ending in `\n`, and one empty line (skipped without a word).
fn malformed_input() -> Vec<u8> {
    let mut input = Vec::new();
    for line in malformed_lines() {
        input.extend_from_slice(&line);
        input.push(b'\n');
    }
    input.push(b'\n');
    input
}

/// The lines of `stderr` that report a malformed post-receive line.
fn reports(stderr: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.contains("git-repo-sync: ignoring a malformed post-receive line: "))
        .count()
}

/// A real `git push` into a server whose post-receive hook gets malformed lines before the real
/// ones (a wrapper in front of ours adds them): the push succeeds, each malformed line is
/// reported to the pusher, and the valid line still brings the mirror up to date.
#[test]
fn malformed_post_receive_lines_are_reported_and_skipped_and_the_valid_ones_still_sync() {
    let env = TestEnv::new();
    let server = env.init_bare("srv/project.git");
    let mirror = env.root().join("mirrors/github.git");
    env.install(&server, &[("github", s(&mirror))]);
    let hooks = server.join("hooks");
    fs::rename(hooks.join("post-receive"), hooks.join("post-receive.ours")).expect("moving ours");
    let garbage = env.root().join("garbage.txt");
    fs::write(&garbage, malformed_input()).expect("writing the malformed lines");
    env.write_executable(
        &hooks.join("post-receive"),
        &format!(
            "#!/bin/sh\n{{ cat {}; cat; }} | \"${{0%/*}}/post-receive.ours\" \"$@\"\n",
            sh_quote(&garbage)
        ),
    );

    env.git(env.root(), ["clone", "-q", s(&server), "work"]);
    let work = env.root().join("work");
    env.commit(&work, "first");
    let push = env
        .git_cmd(&work)
        .args(["push", "origin", "main"])
        .output()
        .expect("running git push");
    let stderr = String::from_utf8_lossy(&push.stderr);
    assert!(push.status.success(), "git push failed:\n{stderr}");
    assert_eq!(
        reports(&stderr),
        malformed_lines().len(),
        "each malformed line (and not the empty one) is reported once:\n{stderr}"
    );
    assert!(stderr.contains("\"garbage\""), "the line is quoted:\n{stderr}");
    env.wait_until_refs_equal(&server, &mirror, WAIT);
}

/// Only malformed lines: the hook says so, exits 0 (git ignores post-receive's status anyway)
/// and starts nothing: no worker, no state, no log, the mirror untouched.
#[test]
fn a_post_receive_stdin_of_only_malformed_lines_changes_nothing() {
    let env = TestEnv::new();
    let server = env.init_bare("srv/project.git");
    let mirror = env.root().join("mirrors/github.git");
    env.install(&server, &[("github", s(&mirror))]);
    let input = malformed_input();
    let before = Snapshot::of(env.root());

    // As git runs it: in the repository, GIT_DIR=., the lines on stdin.
    let mut hook = std::process::Command::new(server.join("hooks/post-receive"));
    env.apply_env(&mut hook);
    hook.current_dir(&server)
        .env("GIT_DIR", ".")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = hook.spawn().expect("running our post-receive hook");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&input)
        .expect("writing the hook's stdin");
    let out: Output = child.wait_with_output().expect("waiting for the hook");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(reports(&stderr), malformed_lines().len(), "{stderr}");
    before.assert_unchanged(&Snapshot::of(env.root()), "a post-receive of malformed lines");
}

/// A malformed post-receive line of a megabyte is reported in one line of bounded length (its
/// start, escaped, and its size), not echoed whole to the pusher; the valid line after it still
/// brings the mirror up to date. Run as git runs our installed hook, since no real push can make
/// git write such a line.
#[test]
fn a_megabyte_malformed_post_receive_line_is_reported_in_one_short_line_and_the_valid_ones_still_sync() {
    let env = TestEnv::new();
    let server = env.init_bare("srv/project.git");
    env.git(env.root(), ["clone", "-q", s(&server), "work"]);
    let work = env.root().join("work");
    let head = env.commit(&work, "first");
    env.git(&work, ["push", "-q", "origin", "main"]);
    let mirror = env.root().join("mirrors/github.git");
    env.install(&server, &[("github", s(&mirror))]);

    let huge = "x\t\u{1}".repeat(1 << 19);
    let input = format!("{huge}\n{ZERO} {head} refs/heads/main\n");
    let mut hook = std::process::Command::new(server.join("hooks/post-receive"));
    env.apply_env(&mut hook);
    hook.current_dir(&server)
        .env("GIT_DIR", ".")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = hook.spawn().expect("running our post-receive hook");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out: Output = child.wait_with_output().expect("waiting for the hook");
    writer.join().expect("writer").expect("writing the hook's stdin");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr:.2000}");
    assert_eq!(reports(&stderr), 1, "{stderr:.2000}");
    for line in stderr.lines() {
        assert!(line.len() < 300, "a line of {} bytes: {line:.400}", line.len());
    }
    assert!(
        stderr.contains(&format!("({} bytes)", huge.len())),
        "the size is not given: {stderr:.2000}"
    );
    env.wait_until_refs_equal(&server, &mirror, WAIT);
}
