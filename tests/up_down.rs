//! `up` and `down`: a work tree copied to a directory on a host over a real sshd and back, by
//! content, exactly the files git sees, never touching either side's ignored files, and never
//! overwriting what changed on the other side without `--force`.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use crate::support::servers::{SSH_ALIAS, SshOptions, SshServer};
use crate::support::{TestEnv, s};

/// A test world with a real sshd and a work tree to copy.
struct World {
    env: TestEnv,
    sshd: SshServer,
    work: PathBuf,
    remote: PathBuf,
}

impl World {
    fn new() -> Option<Self> {
        let env = TestEnv::new();
        let sshd = SshServer::start(&env, SshOptions::default())?;
        let work = env.init_repo("work");
        let remote = env.root().join("remote/project");
        Some(Self {
            env,
            sshd,
            work,
            remote,
        })
    }

    fn target(&self) -> String {
        format!("{SSH_ALIAS}:{}", s(&self.remote))
    }

    /// `git-repo-sync <verb> <target> <args>` in the work tree, over the test's ssh.
    fn run(&self, verb: &str, args: &[&str]) -> Output {
        let mut cmd = self.env.std_cmd_in(&self.work);
        cmd.env("GIT_SSH_COMMAND", self.sshd.git_ssh_command())
            .arg(verb)
            .arg(self.target())
            .args(args);
        cmd.output().expect("running git-repo-sync")
    }

    fn ok(&self, verb: &str, args: &[&str]) -> String {
        let out = self.run(verb, args);
        let said = output_of(&out);
        assert!(out.status.success(), "{verb} {args:?} failed:\n{said}");
        said
    }
}

fn output_of(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every file and symlink below `dir` (not descending into `skip`), with its bytes or link
/// target and whether it is executable.
fn tree(dir: &Path, skip: &[&str]) -> BTreeMap<PathBuf, (Vec<u8>, bool)> {
    fn walk(root: &Path, dir: &Path, skip: &[&str], out: &mut BTreeMap<PathBuf, (Vec<u8>, bool)>) {
        for entry in fs::read_dir(dir).expect("reading a dir").flatten() {
            let path = entry.path();
            let relative = path.strip_prefix(root).expect("below the root").to_path_buf();
            if skip.iter().any(|skipped| relative == Path::new(skipped)) {
                continue;
            }
            let meta = fs::symlink_metadata(&path).expect("lstat");
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&path).expect("readlink");
                out.insert(relative, (target.as_os_str().as_bytes().to_vec(), false));
            } else if meta.is_dir() {
                walk(root, &path, skip, out);
            } else {
                let exec = meta.permissions().mode() & 0o111 != 0;
                out.insert(relative, (fs::read(&path).expect("reading a file"), exec));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, skip, &mut out);
    out
}

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().expect("a parent")).expect("creating dirs");
    fs::write(path, bytes).expect("writing a file");
}

/// Names that break tools that pass paths through a shell or a line-based protocol.
fn hostile_names() -> Vec<PathBuf> {
    [
        &b"my notes.txt"[..],
        b"-rf",
        b"a*",
        b"[ab]?.txt",
        b"new\nline",
        b"tab\there",
        b"quote's \"double\"",
        b"$(touch pwned)",
        b"latin1-\xe9t\xe9",
        b"dir with space/inner -x.txt",
    ]
    .iter()
    .map(|name| PathBuf::from(OsStr::from_bytes(name)))
    .collect()
}

#[test]
fn up_copies_exactly_the_files_git_sees_byte_for_byte_with_modes_symlinks_and_hostile_names() {
    let Some(w) = World::new() else {
        return;
    };
    let work = &w.work;
    // Ignore rules of every kind git reads.
    write(&work.join(".gitignore"), b"*.log\n!keep.log\nbuild/\n");
    write(&work.join("sub/.gitignore"), b"local-only\n");
    write(&work.join(".git/info/exclude"), b"excluded-by-info\n");
    let global = w.env.root().join("global-excludes");
    write(&global, b"*.swp\n");
    w.env
        .git(work, ["config", "--global", "core.excludesFile", s(&global)]);
    for ignored in [
        "debug.log",
        "build/out.o",
        "sub/local-only",
        "excluded-by-info",
        "x.swp",
    ] {
        write(&work.join(ignored), b"ignored\n");
    }
    write(&work.join("keep.log"), b"negated, so copied\n");
    // Bytes as they are, whatever the attributes would convert.
    write(
        &work.join(".gitattributes"),
        b"*.txt text eol=crlf\n*.bin filter=nonexistent\n",
    );
    write(&work.join("crlf.txt"), b"one\r\ntwo\n");
    write(&work.join("data.bin"), &[0, 159, 146, 150, 13, 10]);
    write(&work.join("tool.sh"), b"#!/bin/sh\necho tool\n");
    fs::set_permissions(work.join("tool.sh"), fs::Permissions::from_mode(0o755)).expect("chmod");
    std::os::unix::fs::symlink("tool.sh", work.join("link-to-tool")).expect("symlink");
    std::os::unix::fs::symlink("../nowhere", work.join("dangling")).expect("symlink");
    for name in hostile_names() {
        write(&work.join(&name), name.as_os_str().as_bytes());
    }
    w.env.git(work, ["add", "crlf.txt", ".gitattributes"]);
    w.env.git(work, ["commit", "-q", "-m", "tracked"]);

    let said = w.ok("up", &[]);
    assert!(said.contains("up: copied"), "{said}");

    let mut expected = tree(work, &[".git"]);
    for ignored in [
        "debug.log",
        "build/out.o",
        "sub/local-only",
        "excluded-by-info",
        "x.swp",
    ] {
        assert!(expected.remove(Path::new(ignored)).is_some(), "{ignored}");
    }
    let copied = tree(&w.remote, &[".git-repo-sync"]);
    assert_eq!(
        copied.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        copied, expected,
        "bytes, exec bits and link targets as they are here"
    );
    assert!(!w.remote.join(".git").exists(), "never the .git dir");
    assert!(!w.env.root().join("work/pwned").exists() && !w.remote.join("pwned").exists());
}

#[test]
fn a_same_size_edit_and_deleted_files_and_directories_arrive() {
    let Some(w) = World::new() else {
        return;
    };
    write(&w.work.join("same.txt"), b"aaaa\n");
    write(&w.work.join("gone/deep/file.txt"), b"bye\n");
    write(&w.work.join("tool.sh"), b"#!/bin/sh\n");
    w.ok("up", &[]);
    assert!(w.remote.join("gone/deep/file.txt").is_file());

    write(&w.work.join("same.txt"), b"bbbb\n");
    fs::remove_dir_all(w.work.join("gone")).expect("removing a directory");
    fs::set_permissions(w.work.join("tool.sh"), fs::Permissions::from_mode(0o755)).expect("chmod");
    let said = w.ok("up", &[]);
    assert!(said.contains("2 changed, 1 deleted"), "{said}");
    assert_eq!(fs::read(w.remote.join("same.txt")).expect("same.txt"), b"bbbb\n");
    assert!(!w.remote.join("gone").exists(), "the emptied directory went too");
    let mode = fs::metadata(w.remote.join("tool.sh"))
        .expect("tool.sh")
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "the exec bit travels on a later run too");

    // And back: an exec bit dropped there comes here.
    fs::set_permissions(w.remote.join("tool.sh"), fs::Permissions::from_mode(0o644)).expect("chmod");
    w.ok("down", &[]);
    let mode = fs::metadata(w.work.join("tool.sh"))
        .expect("tool.sh")
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0);
}

#[test]
fn the_remotes_ignored_files_survive_every_up_even_one_that_adds_them_to_gitignore() {
    let Some(w) = World::new() else {
        return;
    };
    write(&w.work.join("data/input.csv"), b"1,2\n");
    write(&w.work.join(".gitignore"), b"target/\n");
    w.ok("up", &[]);
    // Made there by a build, and data/ grown there.
    write(&w.remote.join("target/release/app"), b"binary\n");
    write(&w.remote.join("data/input.csv"), b"1,2\n");
    write(&w.remote.join("data/results.csv"), b"3,4\n");

    write(&w.work.join(".gitignore"), b"target/\ndata/\n");
    w.ok("up", &[]);
    assert_eq!(
        fs::read(w.remote.join("target/release/app")).expect("kept"),
        b"binary\n"
    );
    assert_eq!(fs::read(w.remote.join("data/input.csv")).expect("kept"), b"1,2\n");
    assert_eq!(
        fs::read(w.remote.join("data/results.csv")).expect("kept"),
        b"3,4\n"
    );
    assert_eq!(
        fs::read(w.remote.join(".gitignore")).expect("copied"),
        b"target/\ndata/\n"
    );

    // Ignored here: a down neither deletes nor overwrites it.
    write(&w.work.join("data/input.csv"), b"mine\n");
    w.ok("down", &[]);
    assert_eq!(fs::read(w.work.join("data/input.csv")).expect("kept"), b"mine\n");
    assert!(
        !w.work.join("target").exists(),
        "the remote's ignored files do not come down"
    );
}

#[test]
fn a_file_changed_on_the_other_side_stops_the_run_before_anything_is_written() {
    let Some(w) = World::new() else {
        return;
    };
    write(&w.work.join("a.txt"), b"first\n");
    write(&w.work.join("b.txt"), b"first\n");
    w.ok("up", &[]);

    write(&w.remote.join("a.txt"), b"edited there\n");
    write(&w.work.join("a.txt"), b"edited here\n");
    write(&w.work.join("b.txt"), b"second\n");
    let out = w.run("up", &[]);
    let said = output_of(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("a.txt") && said.contains("--force"),
        "names the path and the way out: {said}"
    );
    assert_eq!(fs::read(w.remote.join("a.txt")).expect("a"), b"edited there\n");
    assert_eq!(
        fs::read(w.remote.join("b.txt")).expect("b"),
        b"first\n",
        "nothing written"
    );

    // The other way round refuses too: here changed since.
    let out = w.run("down", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", output_of(&out));
    assert_eq!(fs::read(w.work.join("a.txt")).expect("a"), b"edited here\n");

    let said = w.ok("up", &["--force"]);
    assert!(said.contains("replaced a.txt"), "says what it replaced: {said}");
    assert_eq!(fs::read(w.remote.join("a.txt")).expect("a"), b"edited here\n");
    assert_eq!(fs::read(w.remote.join("b.txt")).expect("b"), b"second\n");
}

#[test]
fn a_first_down_into_a_tree_with_files_only_creates_the_missing_ones() {
    let Some(w) = World::new() else {
        return;
    };
    write(&w.remote.join("results/run1.txt"), b"from there\n");
    write(&w.remote.join("README"), b"theirs\n");
    write(&w.work.join("README"), b"mine\n");
    let said = w.ok("down", &[]);
    assert!(said.contains("down: copied"), "{said}");
    assert_eq!(
        fs::read(w.work.join("results/run1.txt")).expect("created"),
        b"from there\n"
    );
    assert_eq!(fs::read(w.work.join("README")).expect("kept"), b"mine\n");
}

#[test]
fn a_dry_run_changes_nothing_on_either_side() {
    let Some(w) = World::new() else {
        return;
    };
    write(&w.work.join("a.txt"), b"a\n");
    let out = w.run("up", &["--dry-run"]);
    let said = output_of(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("would copy") && said.contains("a.txt"), "{said}");
    assert!(!w.remote.exists(), "nothing made there");
    w.ok("up", &[]);
    let before = crate::support::Snapshot::of(&w.remote);
    write(&w.work.join("a.txt"), b"b\n");
    w.ok("up", &["--dry"]);
    crate::support::Snapshot::of(&w.remote).assert_unchanged(&before, "the remote after a dry run");

    // And down: what would come is named, and nothing here or there changes.
    w.ok("up", &[]);
    write(
        &w.remote.join("result.txt"),
        b"made there
",
    );
    let here = tree(&w.work, &[".git"]);
    let there = tree(&w.remote, &[".git-repo-sync"]);
    let said = w.ok("down", &["--dry-run"]);
    assert!(
        said.contains("would copy") && said.contains("result.txt"),
        "{said}"
    );
    assert_eq!(tree(&w.work, &[".git"]), here, "here after a dry down");
    assert_eq!(
        tree(&w.remote, &[".git-repo-sync"]),
        there,
        "there after a dry down"
    );
}

#[test]
fn a_saved_target_makes_a_bare_up_work_and_json_reports_the_run() {
    let Some(w) = World::new() else {
        return;
    };
    write(&w.work.join("a.txt"), b"a\n");
    w.ok("up", &["--save"]);
    write(&w.work.join("b.txt"), b"b\n");
    let out = w
        .env
        .std_cmd_in(&w.work)
        .env("GIT_SSH_COMMAND", w.sshd.git_ssh_command())
        .args(["up", "--json"])
        .output()
        .expect("running up");
    assert!(out.status.success(), "{}", output_of(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["direction"], "up");
    assert_eq!(json["added"], serde_json::json!(["b.txt"]));
    assert!(json["bytes"].as_u64().is_some_and(|bytes| bytes > 0), "{json}");
    assert!(w.remote.join("b.txt").is_file());
}

#[test]
fn a_down_of_5000_changed_files_finishes_also_with_git_flush_0() {
    let Some(w) = World::new() else {
        return;
    };
    w.ok("up", &[]);
    for i in 0..5000 {
        write(
            &w.remote.join(format!("out/{}/{i}.txt", i % 50)),
            format!("{i}\n").as_bytes(),
        );
    }
    let started = Instant::now();
    let mut cmd = w.env.std_cmd_in(&w.work);
    cmd.env("GIT_SSH_COMMAND", w.sshd.git_ssh_command())
        .env("GIT_FLUSH", "0")
        .args(["down", &w.target()]);
    let out = crate::support::run_within(cmd, Duration::from_secs(50)).expect("down finished in time");
    assert!(out.status.success(), "{}", output_of(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("5000 new"),
        "{}",
        output_of(&out)
    );
    assert_eq!(
        fs::read(w.work.join("out/7/4957.txt")).expect("arrived"),
        b"4957\n"
    );
    println!("down of 5000 files: {:?}", started.elapsed());
}

#[test]
fn a_frozen_remote_ends_non_zero_within_the_timeout() {
    let env = TestEnv::new();
    let work = env.init_repo("work");
    // A host that accepts the connection and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding");
    let port = listener.local_addr().expect("address").port();
    let held = std::thread::spawn(move || {
        let accepted: Vec<_> = listener.incoming().take(1).collect();
        std::thread::sleep(Duration::from_secs(8));
        drop(accepted);
    });
    let started = Instant::now();
    let mut cmd = env.std_cmd_in(&work);
    cmd.env(
        "GIT_SSH_COMMAND",
        "ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
    )
    .args(["up", &format!("ssh://127.0.0.1:{port}/tmp/x"), "--timeout", "2"]);
    let out = crate::support::run_within(cmd, Duration::from_secs(20)).expect("up ended by itself");
    let elapsed = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", output_of(&out));
    assert!(elapsed < Duration::from_secs(7), "took {elapsed:?}");
    let _ = held.join();
}

/// A work tree of `n` files of a few hundred bytes in 20 directories.
fn many_files(dir: &Path, n: usize, tag: &str) {
    for i in 0..n {
        write(
            &dir.join(format!("d{}/f{i}.txt", i % 20)),
            format!("{tag} {i} {}\n", "x".repeat(300)).as_bytes(),
        );
    }
}

/// `up` until it is not refused for another run in progress (a killed run's ssh may still be
/// finishing), for at most 20 s.
fn up_when_free(w: &World) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = w.run("up", &[]);
        if out.status.success() {
            return;
        }
        let said = output_of(&out);
        assert!(
            said.contains("another up or down is running") && Instant::now() < deadline,
            "{said}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn two_ups_at_once_never_interleave_and_the_trees_end_equal() {
    let Some(w) = World::new() else {
        return;
    };
    many_files(&w.work, 2000, "one");
    let start = |w: &World| {
        let mut cmd = w.env.std_cmd_in(&w.work);
        cmd.env("GIT_SSH_COMMAND", w.sshd.git_ssh_command())
            .args(["up", &w.target()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd.spawn().expect("starting up")
    };
    let (first, second) = (start(&w), start(&w));
    for child in [first, second] {
        let out = child.wait_with_output().expect("waiting for up");
        let said = output_of(&out);
        assert!(
            out.status.success() || said.contains("another up or down is running"),
            "either done or refused cleanly: {said}"
        );
    }
    up_when_free(&w);
    assert_eq!(tree(&w.remote, &[".git-repo-sync"]), tree(&w.work, &[".git"]));
}

#[test]
fn an_up_killed_at_any_point_is_completed_by_the_next() {
    let Some(w) = World::new() else {
        return;
    };
    for (round, delay_ms) in [30_u64, 80, 150, 300, 600].into_iter().enumerate() {
        many_files(&w.work, 1500, &format!("round {round}"));
        let mut cmd = w.env.std_cmd_in(&w.work);
        cmd.env("GIT_SSH_COMMAND", w.sshd.git_ssh_command())
            .args(["up", &w.target()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = cmd.spawn().expect("starting up");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        up_when_free(&w);
        assert_eq!(
            tree(&w.remote, &[".git-repo-sync"]),
            tree(&w.work, &[".git"]),
            "after a kill at {delay_ms} ms"
        );
    }
}

#[test]
fn up_watch_copies_each_change_and_a_build_in_an_ignored_directory_starts_no_run() {
    let env = TestEnv::new();
    let work = env.init_repo("work");
    write(&work.join(".gitignore"), b"target/\n");
    write(&work.join("target/old.o"), b"old\n");
    let remote = env.root().join("there");
    let log = env.root().join("watch.out");
    let mut cmd = env.std_cmd_in(&work);
    cmd.args(["up", "--watch", s(&remote)])
        .stdout(fs::File::create(&log).expect("the log"))
        .stderr(std::process::Stdio::null());
    let mut watcher = cmd.spawn().expect("starting up --watch");
    let runs = || {
        fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("up: copied")
            .count()
    };
    let wait = |what: &str, done: &dyn Fn() -> bool| {
        crate::support::wait_for(crate::support::WAIT, done, || {
            format!(
                "{what}; output:\n{}",
                fs::read_to_string(&log).unwrap_or_default()
            )
        });
    };
    wait("the first run", &|| runs() == 1);

    write(&work.join("src/new.rs"), b"fn main() {}\n");
    wait("the new file there", &|| remote.join("src/new.rs").is_file());
    wait("its run reported", &|| runs() == 2);
    for i in 0..50 {
        write(&work.join(format!("target/obj{i}.o")), b"built\n");
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(runs(), 2, "no run for the ignored directory");
    assert!(!remote.join("target").exists());

    let _ = watcher.kill();
    let _ = watcher.wait();
}

#[test]
fn a_down_never_deletes_a_file_ignored_here_that_was_deleted_there() {
    let Some(w) = World::new() else {
        return;
    };
    write(&w.work.join("notes/todo.txt"), b"todo\n");
    w.ok("up", &[]);
    // Ignored here from now on; the host deletes its copy.
    write(&w.work.join(".git/info/exclude"), b"notes/\n");
    write(&w.work.join("notes/todo.txt"), b"my own now\n");
    fs::remove_dir_all(w.remote.join("notes")).expect("deleting there");
    w.ok("down", &[]);
    assert_eq!(
        fs::read(w.work.join("notes/todo.txt")).expect("kept"),
        b"my own now\n"
    );
}

#[test]
fn nothing_is_written_outside_the_directory_even_through_a_symlink_made_there() {
    let env = TestEnv::new();
    let work = env.init_repo("work");
    write(&work.join("link/x.txt"), b"inside\n");
    write(&work.join("a.txt"), b"a\n");
    let there = env.root().join("there");
    let outside = env.root().join("outside");
    fs::create_dir_all(&there).expect("the target");
    fs::create_dir_all(&outside).expect("a directory beside it");
    // Someone on the host made `link` a symlink out of the directory.
    std::os::unix::fs::symlink("../outside", there.join("link")).expect("symlink");
    let out = env.cmd_in(&work).args(["up", s(&there)]).output().expect("up");
    let said = output_of(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("nothing written"), "{said}");
    assert_eq!(
        fs::read_dir(&outside).expect("outside").count(),
        0,
        "written outside: {said}"
    );
    assert!(!there.join("a.txt").exists(), "all or nothing: {said}");
}
