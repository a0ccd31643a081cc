//! Plain bare mirrors on this machine take a direct transfer (one pack for all of them, refs in
//! one checked transaction) instead of `git push`: the same refs arrive, the objects are sound,
//! and a mirror that runs hooks still gets a real `git push`.

use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use crate::support::{TestEnv, s, sh_quote};

/// A source with enough objects that the pack is kept and indexed rather than unpacked.
fn source_with_many_objects(env: &TestEnv) -> std::path::PathBuf {
    let repo = env.init_repo("project");
    for n in 0..60 {
        env.commit(&repo, &format!("commit {n}"));
    }
    env.git(&repo, ["tag", "-a", "-m", "release", "v1"]);
    repo
}

fn packs_in(mirror: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(mirror.join("objects/pack"))
        .map(|dir| {
            dir.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".idx"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn fsck(env: &TestEnv, mirror: &Path) {
    let out = env
        .git_cmd(mirror)
        .args(["fsck", "--strict", "--no-dangling"])
        .output()
        .expect("running git fsck");
    assert!(
        out.status.success(),
        "git fsck in {}: {}{}",
        mirror.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn three_plain_mirrors_share_one_pack_and_are_sound() {
    let env = TestEnv::new();
    let repo = source_with_many_objects(&env);
    let mirrors: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|name| env.init_bare(&format!("{name}.git")))
        .collect();
    for (name, mirror) in ["a", "b", "c"].iter().zip(&mirrors) {
        env.cmd_in(&repo)
            .args(["mirror", "add", name, s(mirror)])
            .assert()
            .success();
    }
    env.cmd_in(&repo).arg("sync").assert().success();

    let first = packs_in(&mirrors[0]);
    assert_eq!(first.len(), 1, "one kept pack: {first:?}");
    // Built and indexed once: every mirror holds a link to the same file.
    let inode = |mirror: &Path| {
        let pack = mirror
            .join("objects/pack")
            .join(first[0].replace(".idx", ".pack"));
        fs::metadata(&pack).map(|m| m.ino()).expect("the pack is there")
    };
    assert!(mirrors.iter().all(|m| inode(m) == inode(&mirrors[0])));
    for mirror in &mirrors {
        assert_eq!(env.refs(mirror), env.refs(&repo));
        assert_eq!(packs_in(mirror), first, "the same pack in every mirror");
        // A new mirror's refs came as one packed-refs file, as `git clone` writes them.
        assert!(mirror.join("packed-refs").is_file());
        assert!(!mirror.join("refs/heads/main").exists());
        fsck(&env, mirror);
    }
    // No temporary pack left behind in the source.
    let leftovers: Vec<_> = fs::read_dir(env.common_dir(&repo))
        .expect("reading the git dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("repo-sync-pack"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Then small changes (unpacked), a deletion and a forced update.
    env.commit(&repo, "one more");
    env.git(&repo, ["tag", "-d", "v1"]);
    env.git(&repo, ["reset", "-q", "--hard", "HEAD~2"]);
    env.commit(&repo, "rewritten");
    let out = env
        .cmd_in(&repo)
        .args(["sync", "-v"])
        .output()
        .expect("running sync");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    // The source's own rewrite, whether this sync or the hook's worker carried it: a forced
    // update, not a mirror that diverged.
    assert!(!text.contains("overwrote"), "{text}");
    let status = env.status_json(&repo);
    for entry in status["mirrors"].as_array().expect("mirrors") {
        let main = entry["last_pushed"]
            .as_array()
            .and_then(|pushed| pushed.iter().find(|p| p["ref"] == "refs/heads/main"));
        assert_eq!(
            main.map(|p| p["action"].clone()),
            Some("forced".into()),
            "{status}"
        );
    }
    for mirror in &mirrors {
        assert_eq!(env.refs(mirror), env.refs(&repo));
        fsck(&env, mirror);
    }
}

#[test]
fn a_mirror_with_a_receive_hook_still_gets_a_real_push() {
    let env = TestEnv::new();
    let repo = source_with_many_objects(&env);
    let plain = env.init_bare("plain.git");
    let hooked = env.init_bare("hooked.git");
    let ran = env.root().join("post-receive-ran");
    env.write_executable(
        &hooked.join("hooks/post-receive"),
        &format!("#!/bin/sh\ncat >> {}\n", sh_quote(&ran)),
    );
    for (name, mirror) in [("plain", &plain), ("hooked", &hooked)] {
        env.cmd_in(&repo)
            .args(["mirror", "add", name, s(mirror)])
            .assert()
            .success();
    }
    env.cmd_in(&repo).arg("sync").assert().success();

    assert_eq!(env.refs(&plain), env.refs(&repo));
    assert_eq!(env.refs(&hooked), env.refs(&repo));
    let received = fs::read_to_string(&ran).expect("the mirror's post-receive hook ran");
    assert!(received.contains("refs/heads/main"), "{received}");
    assert!(received.contains("refs/tags/v1"), "{received}");
    fsck(&env, &plain);
    fsck(&env, &hooked);
}

/// A source whose history is mostly in a pack, with a few loose commits on top.
fn packed_source(env: &TestEnv) -> std::path::PathBuf {
    let repo = source_with_many_objects(env);
    env.git(&repo, ["repack", "-adq"]);
    for n in 0..3 {
        env.commit(&repo, &format!("loose {n}"));
    }
    repo
}

#[test]
fn a_first_sync_carries_the_sources_packs_over_as_copies_and_packs_only_what_no_pack_holds() {
    let env = TestEnv::new();
    let repo = packed_source(&env);
    let source_packs = packs_in(&env.common_dir(&repo));
    assert_eq!(source_packs.len(), 1, "{source_packs:?}");
    let mirrors = [env.init_bare("a.git"), env.init_bare("b.git")];
    for (name, mirror) in ["a", "b"].iter().zip(&mirrors) {
        env.cmd_in(&repo)
            .args(["mirror", "add", name, s(mirror)])
            .assert()
            .success();
    }
    env.cmd_in(&repo).arg("sync").assert().success();
    let ino = |dir: &Path| {
        let pack = dir
            .join("objects/pack")
            .join(source_packs[0].replace(".idx", ".pack"));
        fs::metadata(&pack)
            .map(|m| m.ino())
            .expect("the source's pack is there")
    };
    for mirror in &mirrors {
        assert!(
            packs_in(mirror).contains(&source_packs[0]),
            "{:?}",
            packs_in(mirror)
        );
        assert_ne!(
            ino(mirror),
            ino(&env.common_dir(&repo)),
            "a copy, never a link to the source's"
        );
        assert_eq!(env.refs(mirror), env.refs(&repo));
        fsck(&env, mirror);
    }
}

#[test]
fn a_first_sync_killed_at_any_point_leaves_the_mirror_empty_or_whole_and_the_next_completes_it() {
    let env = TestEnv::new();
    let repo = packed_source(&env);
    for (round, delay_ms) in [0_u64, 2, 5, 10, 20, 40].into_iter().enumerate() {
        let mirror = env.init_bare(&format!("m{round}.git"));
        let name = format!("m{round}");
        env.cmd_in(&repo)
            .args(["mirror", "add", &name, s(&mirror)])
            .assert()
            .success();
        let mut sync = env.std_cmd_in(&repo);
        sync.args(["sync", "--mirror", &name])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = sync.spawn().expect("starting sync");
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // Whatever the kill interrupted, every ref there is whole.
        let out = env
            .git_cmd(&mirror)
            .args(["fsck", "--connectivity-only", "--no-dangling"])
            .output()
            .expect("running git fsck");
        assert!(
            out.status.success(),
            "after a kill at {delay_ms} ms: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        env.cmd_in(&repo)
            .args(["sync", "--mirror", &name])
            .assert()
            .success();
        assert_eq!(
            env.refs(&mirror),
            env.refs(&repo),
            "after a kill at {delay_ms} ms"
        );
        fsck(&env, &mirror);
    }
}

/// After a direct transfer a mirror's housekeeping is git's `gc --auto`, started only where
/// git's own limits say it has work: a mirror past `gc.autoPackLimit` is repacked by the pass,
/// a tidy one starts no `gc` at all.
#[test]
fn a_mirror_past_gcs_limits_is_repacked_by_the_pass_and_a_tidy_one_starts_no_gc() {
    let mut env = TestEnv::new();
    let repo = env.init_repo("project");
    env.commit(&repo, "two");
    let (tidy, crowded) = (env.init_bare("tidy.git"), env.init_bare("crowded.git"));
    for (name, mirror) in [("tidy", &tidy), ("crowded", &crowded)] {
        env.cmd_in(&repo)
            .args(["mirror", "add", name, s(mirror)])
            .assert()
            .success();
    }
    env.cmd_in(&repo).args(["sync", "-q"]).assert().success();
    // Two packs where one is allowed, gc in the foreground so that the pass waits for it.
    for rev in ["HEAD~1", "HEAD"] {
        let mut packer = env
            .git_cmd(&crowded)
            .args(["pack-objects", "--revs", "-q", "objects/pack/pack"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("git pack-objects");
        let mut input = packer.stdin.take().expect("its stdin");
        std::io::Write::write_all(&mut input, env.git(&repo, ["rev-parse", rev]).as_bytes())
            .expect("feeding it");
        drop(input);
        assert!(packer.wait().expect("git pack-objects").success());
    }
    for (key, value) in [("gc.autoPackLimit", "1"), ("gc.autoDetach", "false")] {
        env.git(&crowded, ["config", key, value]);
    }
    assert_eq!(packs_in(&crowded).len(), 2);

    let log = spy_on_git(&mut env);
    env.commit(&repo, "three");
    env.cmd_in(&repo).args(["sync", "-q"]).assert().success();
    let runs = fs::read_to_string(&log).unwrap_or_default();
    let gc_in = |mirror: &Path| {
        runs.lines()
            .any(|line| line.contains(" gc ") && line.contains(&format!("--git-dir={}", s(mirror))))
    };
    assert!(gc_in(&crowded), "{runs}");
    assert!(!gc_in(&tidy), "a tidy mirror started a gc: {runs}");
    assert_eq!(packs_in(&crowded).len(), 1, "repacked into one");
    for mirror in [&tidy, &crowded] {
        assert_eq!(env.refs(mirror), env.refs(&repo));
        fsck(&env, mirror);
    }
}

/// Puts a `git` on PATH that notes each of its command lines in the returned log.
fn spy_on_git(env: &mut TestEnv) -> std::path::PathBuf {
    let log = env.root().join("git-runs.log");
    env.spy_on_path("git", &log);
    log
}

/// A push of a few objects into a plain local mirror copies them one by one, as loose objects,
/// and starts no `pack-objects` or `unpack-objects`: a new directory and file, an annotated tag
/// and a submodule's entry arrive sound, and so does a commit whose copy was killed halfway
/// (what is new is read from the refs, not from the objects lying there). A push of more
/// objects than `receive-pack` would unpack is packed as before.
#[test]
fn a_small_push_is_copied_object_by_object_and_a_large_one_is_packed() {
    let mut env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.init_bare("mirror.git");
    env.cmd_in(&repo)
        .args(["mirror", "add", "m", s(&mirror)])
        .assert()
        .success();
    env.cmd_in(&repo).args(["sync", "-q"]).assert().success();
    let log = spy_on_git(&mut env);
    let runs = || fs::read_to_string(&log).unwrap_or_default();

    fs::create_dir_all(repo.join("docs/deep")).expect("a new directory");
    fs::write(repo.join("docs/deep/notes.md"), "notes\n").expect("a new file");
    env.git(&repo, ["add", "docs"]);
    let gitlink = format!("160000,{},vendor/lib", "5".repeat(40));
    env.git(&repo, ["update-index", "--add", "--cacheinfo", &gitlink]);
    env.git(&repo, ["commit", "-q", "-m", "docs and a submodule"]);
    env.git(&repo, ["tag", "-a", "-m", "release", "v2"]);
    env.cmd_in(&repo).args(["sync", "-q"]).assert().success();
    assert_eq!(env.all_refs(&mirror), env.all_refs(&repo));
    assert!(
        !runs().contains("pack-objects") && !runs().contains("unpack-objects"),
        "{}",
        runs()
    );
    fsck(&env, &mirror);

    // A copy killed after it wrote a commit and before its tree and file: the next push copies
    // what the refs say is new, whatever objects already lie in the mirror.
    fs::write(repo.join("late.txt"), "late\n").expect("a file");
    env.git(&repo, ["add", "late.txt"]);
    env.git(&repo, ["commit", "-q", "-m", "late"]);
    let raw = env
        .git_cmd(&repo)
        .args(["cat-file", "commit", "HEAD"])
        .output()
        .expect("git cat-file");
    let mut writer = env
        .git_cmd(&mirror)
        .args(["hash-object", "-w", "-t", "commit", "--stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("git hash-object");
    std::io::Write::write_all(&mut writer.stdin.take().expect("its stdin"), &raw.stdout).expect("feeding it");
    let written = writer.wait_with_output().expect("git hash-object");
    assert_eq!(String::from_utf8_lossy(&written.stdout).trim(), env.head(&repo));
    env.cmd_in(&repo).args(["sync", "-q"]).assert().success();
    assert_eq!(env.all_refs(&mirror), env.all_refs(&repo));
    fsck(&env, &mirror);

    for n in 0..60 {
        env.commit(&repo, &format!("burst {n}"));
    }
    env.cmd_in(&repo).args(["sync", "-q"]).assert().success();
    assert_eq!(env.all_refs(&mirror), env.all_refs(&repo));
    assert!(runs().contains("pack-objects"), "{}", runs());
    fsck(&env, &mirror);
}
