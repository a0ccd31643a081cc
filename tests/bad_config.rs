//! A malformed `repo-sync.toml`: every command that reads it fails, naming the file, the line and
//! the column, and writes nothing.

use std::fs;
use std::path::Path;
use std::process::Output;

use crate::support::{Snapshot, TestEnv, WAIT, s, wait_for};

/// A syntax error at line 4, column 9 (toml: "TOML parse error at line 4, column 9").
const MALFORMED: &str = "# mirrors of this repository\n\
                         [mirrors.backup]\n\
                         url = \"/srv/backup.git\"\n\
                         prune = = true\n";

/// What is wrong with the output of a command that should have refused the config, if anything.
fn complaint(out: &Output, config: &Path) -> Option<String> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut wrong = Vec::new();
    if out.status.code() != Some(1) {
        wrong.push(format!("exit status {:?}, expected 1", out.status.code()));
    }
    if !stderr.contains(&*config.to_string_lossy()) {
        wrong.push(format!("stderr does not name {}", config.display()));
    }
    if !stderr.contains("line 4") || !stderr.contains("column 9") {
        wrong.push("stderr does not say \"line 4\" and \"column 9\"".into());
    }
    (!wrong.is_empty()).then(|| {
        format!(
            "{}\nstdout:\n{}\nstderr:\n{stderr}",
            wrong.join("; "),
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn every_command_that_reads_a_malformed_config_fails_with_file_line_and_column_and_writes_nothing() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    env.install(&repo, &[("backup", s(&env.root().join("backup.git")))]);
    let config = env.config_path(&repo);
    fs::write(&config, MALFORMED).expect("breaking the config");
    let other = env.root().join("other.git");
    let other_mirror = format!("other={}", s(&other));

    let commands: Vec<Vec<&str>> = vec![
        vec!["install", "--yes"],
        vec!["install", "--yes", "--mirror", &other_mirror],
        vec!["sync"],
        vec!["sync", "--mirror", "backup"],
        vec!["status"],
        vec!["status", "--json"],
        vec!["mirror", "add", "other", s(&other)],
        vec!["mirror", "list"],
        vec!["mirror", "remove", "backup"],
    ];
    let mut failures = Vec::new();
    for args in &commands {
        let before = Snapshot::of(&repo);
        let out = env
            .cmd_in(&repo)
            .args(args)
            .output()
            .expect("running git-repo-sync");
        if let Some(why) = complaint(&out, &config) {
            failures.push(format!("`git-repo-sync {}`: {why}", args.join(" ")));
        }
        if let Some(diff) = before.diff(&Snapshot::of(&repo)) {
            failures.push(format!("`git-repo-sync {}` wrote files:\n{diff}", args.join(" ")));
        }
        if other.exists() {
            failures.push(format!(
                "`git-repo-sync {}` created the mirror {}",
                args.join(" "),
                other.display()
            ));
            let _ = fs::remove_dir_all(&other);
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn a_malformed_config_in_a_bare_repository_names_its_path() {
    let env = TestEnv::new();
    let server = env.init_bare("srv/project.git");
    let config = server.join("repo-sync.toml");
    fs::write(&config, MALFORMED).expect("writing the config");
    let before = Snapshot::of(&server);

    for args in [
        &["-C", s(&server), "status"][..],
        &["install", "--yes", s(&server)],
    ] {
        let out = env.cmd().args(args).output().expect("running git-repo-sync");
        if let Some(why) = complaint(&out, &config) {
            panic!("`git-repo-sync {}`: {why}", args.join(" "));
        }
        before.assert_unchanged(&Snapshot::of(&server), &format!("`{}`", args.join(" ")));
    }
}

#[test]
fn an_unknown_key_is_named_with_its_file() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let config = env.config_path(&repo);
    fs::write(
        &config,
        format!(
            "[mirrors.backup]\nurl = \"{}\"\nprunne = true\n",
            s(&env.root().join("backup.git"))
        ),
    )
    .expect("writing the config");
    let before = Snapshot::of(&repo);

    for args in [&["status"][..], &["sync"], &["mirror", "list"]] {
        let out = env.cmd_in(&repo).args(args).assert().code(1);
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(
            stderr.contains("prunne") && stderr.contains(&*config.to_string_lossy()),
            "`{}` names neither the key nor the file:\n{stderr}",
            args.join(" ")
        );
    }
    before.assert_unchanged(&Snapshot::of(&repo), "commands refusing an unknown key");
    assert!(!env.root().join("backup.git").exists());
}

#[test]
fn a_commit_with_a_malformed_config_still_succeeds_and_the_log_says_where() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    env.install(&repo, &[("backup", s(&env.root().join("backup.git")))]);
    fs::write(env.config_path(&repo), MALFORMED).expect("breaking the config");

    env.commit(&repo, "despite the broken config");
    wait_for(
        WAIT,
        || {
            let log = env.log(&repo);
            log.contains("line 4") && log.contains("column 9")
        },
        || {
            format!(
                "the worker's log does not report the config error:\n{}",
                env.log(&repo)
            )
        },
    );
}
