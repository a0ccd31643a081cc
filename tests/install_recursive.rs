//! `install --recursive DIR`: one command for every repository below DIR, each with its own
//! mirror from a URL template; one that cannot be installed into is reported and skipped, the
//! others are installed, registered and mirrored.

use std::fs;

use crate::support;
use crate::support::{TestEnv, WAIT, s, sh_quote};

#[test]
fn every_repository_below_a_directory_is_installed_with_its_own_templated_mirror() {
    let env = TestEnv::new();
    let root = env.root().join("src");
    let a = env.init_repo("src/a");
    let b = env.init_bare("src/team/b.git");
    let c = env.init_repo("src/team/deep/c");
    let d = env.init_repo("src/d");
    let nested = env.init_repo("src/a/vendor/sub");
    let broken = root.join("broken");
    fs::create_dir_all(&broken).expect("a broken repository");
    fs::write(broken.join(".git"), "gitdir: /nowhere/at/all\n").expect("its .git file");
    let ran = env.root().join("d-hook-ran");
    env.write_executable(
        &d.join(".git/hooks/post-commit"),
        &format!("#!/bin/sh\necho ran >> {}\n", sh_quote(&ran)),
    );
    let mirrors = env.root().join("mirrors");
    let template = format!("nas={}/{{{{path}}}}.git", s(&mirrors));

    let out = env
        .cmd()
        .args(["install", "--recursive", s(&root), "--mirror", &template])
        .output()
        .expect("install --recursive");
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "one was skipped: {said}");
    assert!(
        said.contains("installed into 4 repositories, 0 already current, 1 skipped"),
        "{said}"
    );
    assert!(said.contains(&format!("skipped {}: ", s(&broken))), "{said}");
    for (repo, mirror) in [
        (&a, "a.git"),
        (&b, "team/b.git"),
        (&c, "team/deep/c.git"),
        (&d, "d.git"),
    ] {
        let mirror = mirrors.join(mirror);
        assert!(
            mirror.join("HEAD").is_file(),
            "{} has no mirror at {}",
            s(repo),
            s(&mirror)
        );
    }
    assert!(
        !mirrors.join("a/vendor/sub.git").exists(),
        "searched inside a work tree"
    );
    assert!(!nested.join(".git/repo-sync.toml").exists());

    // Each reaches its own mirror: a commit, a push to the bare one, a commit beside a hook.
    env.commit(&a, "in a");
    env.wait_until_refs_equal(&a, &mirrors.join("a.git"), WAIT);
    env.git(env.root(), ["clone", "-q", s(&b), "b-work"]);
    let b_work = env.root().join("b-work");
    env.commit(&b_work, "to b");
    env.git(&b_work, ["push", "-q", "origin", "HEAD:main"]);
    env.wait_until_refs_equal(&b, &mirrors.join("team/b.git"), WAIT);
    env.commit(&d, "in d");
    env.wait_until_refs_equal(&d, &mirrors.join("d.git"), WAIT);
    assert_eq!(fs::read_to_string(&ran).expect("d's hook ran"), "ran\n");

    let registered = env.git(env.root(), ["config", "--global", "--get-all", "repo-sync.repo"]);
    assert_eq!(registered.lines().count(), 4, "{registered}");

    // Again: nothing to change, the broken one still reported.
    let again = env
        .cmd()
        .args(["install", "--recursive", s(&root), "--mirror", &template])
        .output()
        .expect("install --recursive");
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(
        said.contains("installed into 0 repositories, 4 already current, 1 skipped"),
        "{said}"
    );
}

#[test]
fn a_mirror_url_that_names_no_repository_is_refused_before_anything_is_written() {
    let env = TestEnv::new();
    let root = env.root().join("src");
    env.init_repo("src/a");
    env.init_repo("src/b");
    let before = support::Snapshot::of(env.root());
    let one_mirror = format!("nas={}", s(&env.root().join("one.git")));
    env.cmd()
        .args(["install", "--recursive", s(&root), "--mirror", &one_mirror])
        .assert()
        .failure()
        .stderr(predicates::str::contains("names no repository"));
    env.cmd()
        .args([
            "install",
            "--recursive",
            s(&root),
            "--mirror",
            "nas=/m/{{nmae}}.git",
        ])
        .assert()
        .failure()
        .stderr(predicates::str::contains("is not a valid template"));
    env.cmd_in(&root.join("a"))
        .args(["install", "--mirror", "nas=/m/{{name}}.git"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("install --recursive"));
    before.assert_unchanged(&support::Snapshot::of(env.root()), "refused installs");
}

/// Many repositories are registered in one write of the global git config, which git reads back
/// path for path, quotes and backslashes included. (A name with a control character cannot
/// name a mirror URL, so such a repository is skipped before it gets there.)
#[test]
fn many_repositories_are_registered_at_once_and_git_reads_every_path_back() {
    let env = TestEnv::new();
    let root = env.root().join("src");
    let names = [
        "plain",
        "with space",
        "with\"quote",
        "back\\slash",
        "semi;colon #hash",
        "ünïcödé",
        "a",
        "b",
    ];
    let mut repos: Vec<std::path::PathBuf> = names
        .iter()
        .map(|name| env.init_bare(&format!("src/{name}.git")))
        .collect();
    // The global config has something of its own already, which must stay.
    env.git(env.root(), ["config", "--global", "user.name", "Someone Else"]);
    let template = format!("nas={}/{{{{path}}}}.git", s(&env.root().join("nas")));
    let out = env
        .cmd()
        .args(["install", "--recursive", s(&root), "--mirror", &template])
        .output()
        .expect("install --recursive");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = env.git(
        env.root(),
        ["config", "--global", "-z", "--get-all", "repo-sync.repo"],
    );
    let mut listed: Vec<&str> = listed.split('\0').filter(|p| !p.is_empty()).collect();
    listed.sort_unstable();
    let mut expected: Vec<&str> = repos.iter().map(|repo| s(repo)).collect();
    expected.sort_unstable();
    assert_eq!(listed, expected);
    assert_eq!(
        env.git(env.root(), ["config", "--global", "user.name"]).trim(),
        "Someone Else"
    );
    // And each one is where `status --all` looks.
    repos.sort();
    let status = env
        .cmd()
        .args(["status", "--all", "--json"])
        .output()
        .expect("status --all");
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    assert_eq!(json.as_array().map(Vec::len), Some(names.len()), "{json:#}");
}

#[test]
fn a_directory_git_does_not_open_is_skipped_with_gits_reason_and_nothing_is_written_in_it() {
    let env = TestEnv::new();
    let root = env.root().join("src");
    let good = env.init_repo("src/good");
    let garbled = env.init_repo("src/garbled");
    fs::write(garbled.join(".git/HEAD"), "garbage\n").expect("garbling HEAD");
    let before = support::Snapshot::of(&garbled);
    let template = format!("nas={}/{{{{name}}}}.git", s(&env.root().join("mirrors")));

    let out = env
        .cmd()
        .args(["install", "--recursive", s(&root), "--mirror", &template])
        .output()
        .expect("install --recursive");
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("installed into 1 repositories, 0 already current, 1 skipped"),
        "{said}"
    );
    assert!(
        said.contains(&format!("skipped {}: ", s(&garbled)))
            && said.contains("git says: not a git repository"),
        "skipped with git's own reason: {said}"
    );
    before.assert_unchanged(
        &support::Snapshot::of(&garbled),
        "the repository git does not open",
    );
    assert!(
        !env.root().join("mirrors/garbled.git").exists(),
        "no mirror made for it"
    );
    assert!(
        good.join(".git/repo-sync.toml").is_file(),
        "the good one is installed"
    );
}
