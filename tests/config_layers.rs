//! One rule for many repositories: mirrors defined in the user's and the system's config, with
//! URL templates over the repository, merged with each repository's own file (the most specific
//! winning), and `config show` telling where each value came from.

use std::fs;
use std::path::Path;

use predicates::prelude::*;

use crate::support::{Snapshot, TestEnv, WAIT, running_as_root, s, sh_quote};

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().expect("a parent")).expect("creating the config's directory");
    fs::write(path, text).expect("writing a config");
}

#[test]
fn a_fleet_is_installed_with_one_command_from_one_rule_in_the_user_config() {
    let env = TestEnv::new();
    let root = env.root().join("srv");
    let mirrors = env.root().join("nas");
    write(
        &env.user_config_path(),
        &format!(
            "# every repository under srv goes to the NAS, at the same path\n\
             [roots.{root:?}.mirrors.nas]\n\
             url = \"{}/{{{{path}}}}.git\"\n",
            s(&mirrors),
            root = s(&root)
        ),
    );
    // 29 repositories that can be installed into: bare and not, at several depths.
    let mut repos = Vec::new();
    for i in 0..10 {
        repos.push((
            env.init_bare(&format!("srv/team{}/bare{i}.git", i % 3)),
            format!("team{}/bare{i}", i % 3),
        ));
    }
    for i in 0..10 {
        repos.push((env.init_repo(&format!("srv/work{i}")), format!("work{i}")));
    }
    for i in 0..9 {
        repos.push((
            env.init_repo(&format!("srv/deep/er/tree{i}")),
            format!("deep/er/tree{i}"),
        ));
    }
    // One broken repository, and one with a hook of another tool.
    let broken = root.join("broken");
    fs::create_dir_all(&broken).expect("a broken repository");
    fs::write(broken.join(".git"), "gitdir: /nowhere/at/all\n").expect("its .git file");
    let (hooked, _) = &repos[10];
    let ran = env.root().join("foreign-hook-ran");
    env.write_executable(
        &hooked.join(".git/hooks/post-commit"),
        &format!("#!/bin/sh\necho ran >> {}\n", sh_quote(&ran)),
    );

    let out = env
        .cmd()
        .args(["install", "--recursive", s(&root)])
        .output()
        .expect("install --recursive");
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "the broken one is skipped: {said}");
    assert!(
        said.contains("installed into 29 repositories, 0 already current, 1 skipped"),
        "{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains(&format!("skipped {}: ", s(&broken))), "{said}");
    for (repo, path) in &repos {
        assert!(
            mirrors.join(format!("{path}.git")).join("HEAD").is_file(),
            "{} has no mirror at nas/{path}.git",
            s(repo)
        );
        assert!(
            !env.config_path(repo).exists(),
            "the rule was copied into {}",
            s(repo)
        );
    }

    // A commit in two work trees and a push into a bare repository reach their own mirrors.
    for (repo, path) in [&repos[10], &repos[25]] {
        env.commit(repo, "a change");
        env.wait_until_refs_equal(repo, &mirrors.join(format!("{path}.git")), WAIT);
    }
    assert_eq!(fs::read_to_string(&ran).expect("the foreign hook ran"), "ran\n");
    let (bare, path) = &repos[4];
    env.git(env.root(), ["clone", "-q", s(bare), "bare-work"]);
    let work = env.root().join("bare-work");
    env.commit(&work, "to a bare repository");
    env.git(&work, ["push", "-q", "origin", "HEAD:main"]);
    env.wait_until_refs_equal(bare, &mirrors.join(format!("{path}.git")), WAIT);

    let status = env
        .cmd()
        .args(["status", "--all"])
        .output()
        .expect("status --all");
    let listed = String::from_utf8_lossy(&status.stdout);
    for (repo, _) in &repos {
        assert!(
            listed.contains(s(repo)),
            "status --all leaves out {}:\n{listed}",
            s(repo)
        );
    }
}

#[test]
fn config_show_names_the_source_of_a_value_set_at_each_of_the_three_levels() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let system = env.system_config_path();
    let user = env.user_config_path();
    write(
        &system,
        &format!(
            "[mirrors.archive]\nurl = \"{}/archive/{{{{name}}}}.git\"\nretries = 7\n\n\
             [mirrors.shared]\nurl = \"/from/the/system.git\"\n",
            s(env.root())
        ),
    );
    write(
        &user,
        &format!(
            "[mirrors.forge]\nurl = \"https://forge.example/me/{{{{name}}}}.git\"\n\ntimeout = 9\n\n\
             [mirrors.shared]\nurl = \"{}/shared.git\"\n",
            s(env.root())
        ),
    );
    write(
        &env.config_path(&repo),
        &format!(
            "[mirrors.own]\nurl = \"{}/own.git\"\nprune = false\n",
            s(env.root())
        ),
    );

    let out = env
        .cmd_in(&repo)
        .args(["config", "show"])
        .output()
        .expect("config show");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{shown}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `config show` lines up the keys: `retries            = 7  # ...`.
    let line_of = |key: &str, value: &str| {
        let start = format!("{key:18} = {value}");
        shown
            .lines()
            .find(|line| line.starts_with(&start))
            .unwrap_or_else(|| panic!("no line {start:?} in:\n{shown}"))
            .to_owned()
    };
    let system_at = |line: u32| format!("system config {}, line {line}", s(&system));
    let user_at = |line: u32| format!("user config {}, line {line}", s(&user));
    assert!(line_of("retries", "7").contains(&system_at(3)), "{shown}");
    assert!(line_of("timeout", "9").contains(&user_at(4)), "{shown}");
    assert!(
        line_of("prune", "false").contains(&format!(
            "repository config {}, line 3",
            s(&env.config_path(&repo))
        )),
        "{shown}"
    );
    let archive = format!("\"{}/archive/project.git\"", s(env.root()));
    assert!(line_of("url", &archive).contains("(template"), "{shown}");
    // The user's `shared` replaces the system's as a whole.
    assert!(
        line_of("url", &format!("\"{}/shared.git\"", s(env.root()))).contains(&user_at(7)),
        "{shown}"
    );
    assert!(
        shown.contains("# replaces mirror 'shared' of the system config"),
        "{shown}"
    );
    assert!(!shown.contains("/from/the/system.git"), "{shown}");

    // `mirror list` shows where an inherited mirror comes from; it is changed where it is set.
    let list = env
        .cmd_in(&repo)
        .args(["mirror", "list"])
        .output()
        .expect("mirror list");
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.lines()
            .any(|l| l.starts_with("archive") && l.ends_with("[system config]")),
        "{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.starts_with("own") && !l.contains("config]")),
        "{list}"
    );
    let before = Snapshot::of(env.root());
    env.cmd_in(&repo)
        .args(["mirror", "remove", "forge"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(format!(
            "comes from the user config {}",
            s(&user)
        )));
    before.assert_unchanged(
        &Snapshot::of(env.root()),
        "refusing to remove an inherited mirror",
    );
}

#[test]
fn a_bad_template_in_the_user_config_is_refused_where_it_stands_and_nothing_is_written() {
    let env = TestEnv::new();
    let root = env.root().join("src");
    let repo = env.init_repo("src/app");
    let user = env.user_config_path();
    write(
        &user,
        &format!(
            "[roots.{:?}.mirrors.nas]\nurl = \"/nas/{{{{nmae}}}}.git\"\n",
            s(&root)
        ),
    );
    let before = Snapshot::of(env.root());
    for args in [
        &["install", "--recursive", s(&root)][..],
        &["sync"],
        &["status"],
        &["config", "show"],
    ] {
        let out = env
            .cmd_in(&repo)
            .args(args)
            .output()
            .expect("running git-repo-sync");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("user config {}: line 2, column 7", s(&user)))
                && stderr.contains("nmae"),
            "{args:?} does not say where: {stderr}"
        );
    }
    before.assert_unchanged(&Snapshot::of(env.root()), "commands refusing a bad template");

    // A rendered URL is checked like any other: a `{{name}}` that leaves a relative path.
    write(
        &user,
        &format!("[roots.{:?}.mirrors.nas]\nurl = \"{{{{name}}}}.git\"\n", s(&root)),
    );
    env.cmd_in(&repo).args(["sync"]).assert().code(1).stderr(
        predicates::str::contains("line 2, column 7").and(predicates::str::contains("relative path")),
    );
}

#[test]
fn a_repository_made_from_the_template_directory_syncs_its_first_commit_and_joins_status_all() {
    let env = TestEnv::new();
    let nas = env.root().join("nas");
    write(
        &env.user_config_path(),
        &format!("[mirrors.nas]\nurl = \"{}/{{{{name}}}}.git\"\n", s(&nas)),
    );
    let mirror = env.init_bare("nas/fresh.git");
    let template = env.root().join("git-template");

    let out = env
        .cmd()
        .args(["install", "--template-dir", s(&template)])
        .output()
        .expect("install --template-dir");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains(&format!("git config --global init.templateDir {}", s(&template))),
        "{said}"
    );
    for kind in ["post-commit", "post-merge", "post-rewrite", "post-receive"] {
        assert!(
            template.join("hooks").join(kind).is_file(),
            "no {kind} in the template:\n{said}"
        );
    }

    env.git(
        env.root(),
        ["config", "--global", "init.templateDir", s(&template)],
    );
    env.git(env.root(), ["init", "-q", "fresh"]);
    let fresh = env.root().join("fresh");
    env.commit(&fresh, "the first commit");
    env.wait_until_refs_equal(&fresh, &mirror, WAIT);

    let status = env
        .cmd()
        .args(["status", "--all"])
        .output()
        .expect("status --all");
    let listed = String::from_utf8_lossy(&status.stdout);
    assert!(
        listed.contains(s(&fresh)),
        "status --all leaves out the new repository:\n{listed}"
    );

    // A mirror made now does not come from the template: it gets none of our hooks, or it
    // would start syncing itself.
    let second = env.root().join("second.git");
    env.cmd_in(&fresh)
        .args(["mirror", "add", "second", s(&second)])
        .assert()
        .success();
    assert!(second.join("HEAD").is_file());
    assert!(
        !second.join("hooks/post-receive").exists(),
        "the mirror was made from the template directory"
    );

    // Taken out again; the repository made from it keeps its hooks.
    env.cmd()
        .args(["uninstall", "--template-dir", s(&template)])
        .assert()
        .success();
    assert!(!template.join("hooks/post-commit").exists());
    assert!(fresh.join(".git/hooks/post-commit").is_file());
}

#[test]
fn every_repository_below_a_root_of_the_system_config_is_synced_by_sync_all_new_ones_included() {
    let env = TestEnv::new();
    let root = env.root().join("srv/git");
    let nas = env.root().join("nas");
    // What the NixOS module writes for `services.git-repo-sync.roots."/srv/git".mirrors.nas`.
    write(
        &env.system_config_path(),
        &format!(
            "[roots.{:?}.mirrors.nas]\nurl = \"{}/{{{{path}}}}.git\"\ncreate = true\n",
            s(&root),
            s(&nas)
        ),
    );
    // The NAS is there; each repository's mirror is made by the pass that first needs it.
    fs::create_dir_all(&nas).expect("the NAS");
    let seed = env.init_repo("seed");
    env.commit(&seed, "content");
    let push_into = |path: &str| {
        let bare = env.init_bare(&format!("srv/git/{path}.git"));
        env.git(&seed, ["push", "-q", s(&bare), "HEAD:refs/heads/main"]);
        (bare, nas.join(format!("{path}.git")))
    };
    let first = push_into("team/one");

    let out = env.cmd().args(["sync", "--all"]).output().expect("sync --all");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(env.refs(&first.0), env.refs(&first.1));

    // A repository made later is covered by the next pass, without any install.
    let second = push_into("two");
    let out = env.cmd().args(["sync", "--all"]).output().expect("sync --all");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(env.refs(&second.0), env.refs(&second.1));

    // Another user's repository below the same root is that user's pass to sync, not a failure
    // of this one.
    let theirs = running_as_root("another user's repository below a shared root").then(|| {
        let (theirs, _) = push_into("theirs");
        let chown = std::process::Command::new("chown")
            .args(["-R", "nobody", s(&theirs)])
            .status()
            .expect("running chown");
        assert!(chown.success());
        theirs
    });
    let out = env.cmd().args(["sync", "--all"]).output().expect("sync --all");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    if let Some(theirs) = &theirs {
        assert!(!said.contains(s(theirs)), "{said}");
    }

    let status = env
        .cmd()
        .args(["status", "--all"])
        .output()
        .expect("status --all");
    let listed = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{listed}");
    for (repo, _) in [&first, &second] {
        assert!(
            listed.contains(&format!(
                "{}: below a configured root, synced by the schedule",
                s(repo)
            )),
            "{listed}"
        );
    }
}

#[test]
fn a_mirror_with_create_is_never_made_where_its_fixed_directory_is_missing() {
    let env = TestEnv::new();
    let repo = env.init_repo("app");
    // The disk is not mounted: /…/usb does not exist.
    let usb = env.root().join("usb");
    write(
        &env.user_config_path(),
        &format!(
            "[mirrors.usb]\nurl = \"{}/git/{{{{name}}}}.git\"\ncreate = true\n",
            s(&usb)
        ),
    );
    env.cmd_in(&repo).args(["sync"]).assert().code(3);
    assert!(!usb.exists(), "a mirror was made where the disk should be");

    // Mounted, with the directory the URL names before its template, the mirror is made.
    fs::create_dir_all(&usb).expect("mounting");
    env.cmd_in(&repo).args(["sync"]).assert().code(3);
    fs::create_dir_all(usb.join("git")).expect("the directory the URL names");
    env.cmd_in(&repo).args(["sync"]).assert().success();
    assert_eq!(env.refs(&repo), env.refs(&usb.join("git/app.git")));
}

/// `status --all` reads the system and the user config once for the whole fleet, not once per
/// repository: every open of either file is counted under strace, over 200 registered
/// repositories that each take a mirror from both.
#[test]
fn status_all_over_200_repositories_reads_each_config_layer_once() {
    let Some(strace) = crate::support::tools::require(
        "counting the config files' opens",
        vec![crate::support::servers::find_program("strace").ok_or_else(|| "strace".to_owned())],
        "apt-get install strace; .ci/run installs it",
    ) else {
        return;
    };
    let env = TestEnv::new();
    let user = env.user_config_path();
    let system = env.system_config_path();
    let mirrors = env.root().join("mirrors");
    write(
        &user,
        &format!(
            "[mirrors.backup]\nurl = \"{}/user/{{{{name}}}}.git\"\n",
            s(&mirrors)
        ),
    );
    write(
        &system,
        &format!(
            "[mirrors.archive]\nurl = \"{}/system/{{{{name}}}}.git\"\n",
            s(&mirrors)
        ),
    );
    let fleet = env.root().join("fleet");
    let mut registry = String::from("[repo-sync]\n");
    for i in 0..200 {
        let repo = fleet.join(format!("r{i:03}"));
        env.git(env.root(), ["init", "-q", s(&repo)]);
        registry.push_str(&format!("\trepo = {}\n", s(&repo)));
    }
    let global = env.home().join(".gitconfig");
    let mut kept = fs::read_to_string(&global).unwrap_or_default();
    kept.push_str(&registry);
    write(&global, &kept);

    let trace = env.root().join("opens.strace");
    let mut status = std::process::Command::new(&strace[0]);
    env.apply_env(&mut status);
    status
        .current_dir(env.root())
        .args(["-f", "-qq", "-e", "trace=open,openat,openat2", "-o"])
        .arg(&trace)
        .args([crate::support::BIN, "status", "--all"]);
    let out = status.output().expect("running status --all under strace");
    let said = String::from_utf8_lossy(&out.stdout);
    for name in ["backup", "archive"] {
        assert_eq!(
            said.lines()
                .filter(|line| line.contains(&format!(": {name} ")))
                .count(),
            200,
            "every repository shows its {name} mirror:\n{said}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let opens = fs::read_to_string(&trace).expect("strace's record");
    for (layer, file) in [("user", &user), ("system", &system)] {
        let quoted = format!("\"{}\"", s(file));
        let count = opens.lines().filter(|line| line.contains(&quoted)).count();
        assert_eq!(count, 1, "the {layer} config was opened {count} times:\n{opens}");
    }
}
