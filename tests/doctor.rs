//! `doctor` on each broken state a repository can be in: it exits 1, prints a PROBLEM line for
//! the check that is wrong with the command that fixes it, and once that command has run, it
//! finds the repository healthy again (exit 0).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use crate::support;
use crate::support::tools::{Tool, path_with, require_tool};
use crate::support::{MARKER, TestEnv, WAIT, running_as_root, s, sh_quote, wait_for};

/// What one `doctor` run printed.
struct Doctor {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Doctor {
    /// Every `(detail, fix)` of the PROBLEM lines for `check`; a detail that runs over several
    /// lines is joined with newlines.
    fn problems(&self, check: &str) -> Vec<(String, String)> {
        let prefix = format!("  PROBLEM {check}: ");
        let lines: Vec<&str> = self.stdout.lines().collect();
        let mut found = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let Some(first) = line.strip_prefix(&prefix) else {
                continue;
            };
            let mut detail = first.to_owned();
            let mut fix = None;
            for next in &lines[i + 1..] {
                if let Some(text) = next.strip_prefix("          fix: ") {
                    fix = Some(text.to_owned());
                    break;
                }
                assert!(
                    !next.starts_with("  ok      ") && !next.starts_with("  PROBLEM "),
                    "no fix line after {line:?}\n{self}"
                );
                detail.push('\n');
                detail.push_str(next);
            }
            let fix = fix.unwrap_or_else(|| panic!("no fix line after {line:?}\n{self}"));
            found.push((detail, fix));
        }
        found
    }

    /// The one PROBLEM line for `check` whose detail contains `needle`, as `(detail, fix)`.
    fn problem(&self, check: &str, needle: &str) -> (String, String) {
        let mut matching: Vec<_> = self
            .problems(check)
            .into_iter()
            .filter(|(detail, _)| detail.contains(needle))
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "expected one PROBLEM {check} line containing {needle:?}\n{self}"
        );
        matching.remove(0)
    }

    /// Asserts exit status 1 and the promised layout.
    fn assert_failed(&self) {
        assert_eq!(self.code, Some(1), "doctor should exit 1\n{self}");
        self.assert_one_line_per_check();
    }

    /// Every line is a repository's header, one check (ok, a warning or a problem), or the fix
    /// of the problem or warning above it.
    fn assert_one_line_per_check(&self) {
        let mut after_problem = false;
        for line in self.stdout.lines() {
            let fix = line.starts_with("          fix: ");
            let fits = if fix {
                after_problem
            } else {
                line.starts_with("  ok      ")
                    || line.starts_with("  PROBLEM ")
                    || line.starts_with("  warning ")
                    || (!line.starts_with(' ') && line.ends_with(':'))
            };
            assert!(fits, "line {line:?} breaks the one-line-per-check layout\n{self}");
            after_problem = line.starts_with("  PROBLEM ") || line.starts_with("  warning ");
        }
    }

    /// Asserts exit status 0 and no PROBLEM line.
    fn assert_healthy(&self, after: &str) {
        assert!(
            self.code == Some(0) && !self.stdout.contains("PROBLEM"),
            "doctor is not clean after {after}\n{self}"
        );
    }

    /// Asserts an `ok` line for `check`.
    fn assert_ok(&self, check: &str) {
        assert!(
            self.stdout.contains(&format!("  ok      {check}: ")),
            "no ok line for {check}\n{self}"
        );
    }
}

impl std::fmt::Display for Doctor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit status {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn doctor(env: &TestEnv, repo: &Path) -> Doctor {
    let out = env.cmd_in(repo).arg("doctor").output().expect("running doctor");
    Doctor {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `git-repo-sync install <repo>`, as the fixes print it.
fn reinstall_fix(repo: &Path) -> String {
    format!("git-repo-sync install {}", s(repo))
}

/// Runs a fix printed as `git-repo-sync ARGS...` (plain words, no quoting) in `repo`.
fn run_fix(env: &TestEnv, repo: &Path, fix: &str) {
    let args: Vec<&str> = fix
        .strip_prefix("git-repo-sync ")
        .unwrap_or_else(|| panic!("not a git-repo-sync command: {fix}"))
        .split(' ')
        .collect();
    let out = env.cmd_in(repo).args(&args).output().expect("running the fix");
    assert!(
        out.status.success(),
        "the fix `{fix}` failed: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A repository with our hooks and a local bare mirror `backup` that has its first commit.
fn installed(env: &TestEnv) -> (PathBuf, PathBuf) {
    let repo = env.init_repo("project");
    let mirror = env.init_bare("backup.git");
    env.install(&repo, &[("backup", s(&mirror))]);
    env.cmd_in(&repo).arg("sync").assert().success();
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    (repo, mirror)
}

/// Waits until no worker holds the repository's sync lock (a commit's sync has finished).
fn wait_for_worker(env: &TestEnv, repo: &Path) {
    let lock = env.common_dir(repo).join("repo-sync.lock");
    wait_for(
        WAIT,
        || {
            fs::File::open(&lock).map_or(true, |file| match file.try_lock() {
                Ok(()) => true,
                Err(std::fs::TryLockError::WouldBlock) => false,
                Err(err) => panic!("probing {}: {err}", lock.display()),
            })
        },
        || format!("the worker did not finish\n{}", env.log(repo)),
    );
}

#[test]
fn doctor_reports_a_healthy_repository_healthy_with_exit_0() {
    let env = TestEnv::new();
    let (repo, mirror) = installed(&env);
    env.commit(&repo, "synced by the hook");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    wait_for_worker(&env, &repo);
    let out = doctor(&env, &repo);
    out.assert_healthy("install, one commit and its sync");
    for check in [
        "owner",
        "config",
        "triggers",
        "state",
        "worker",
        "mirror",
        "last sync",
    ] {
        out.assert_ok(check);
    }
    assert!(
        out.stdout.contains("last fired by post-commit"),
        "the commit's trigger is not shown\n{out}"
    );
}

#[test]
fn doctor_flags_a_repository_without_mirrors_and_mirror_add_fixes_it() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    env.install(&repo, &[]);
    let out = doctor(&env, &repo);
    out.assert_failed();
    let (detail, fix) = out.problem("mirrors", "no mirrors configured");
    assert_eq!(detail, "no mirrors configured: nothing is mirrored");
    assert_eq!(fix, "git-repo-sync mirror add NAME URL");

    let mirror = env.init_bare("backup.git");
    run_fix(
        &env,
        &repo,
        &format!("git-repo-sync mirror add backup {}", s(&mirror)),
    );
    doctor(&env, &repo).assert_healthy("mirror add");
}

/// A syntax error at line 4, column 9.
const MALFORMED: &str = "# mirrors of this repository\n\
                         [mirrors.backup]\n\
                         url = \"/srv/backup.git\"\n\
                         prune = = true\n";

/// An installed repository whose config is then broken: `(repo, config path, the good config)`.
fn with_malformed_config(env: &TestEnv) -> (PathBuf, PathBuf, String) {
    let (repo, _mirror) = installed(env);
    let config = env.config_path(&repo);
    let good = fs::read_to_string(&config).expect("reading the config");
    fs::write(&config, MALFORMED).expect("breaking the config");
    (repo, config, good)
}

#[test]
fn doctor_flags_a_malformed_config_naming_file_line_and_column() {
    let env = TestEnv::new();
    let (repo, config, good) = with_malformed_config(&env);
    let out = doctor(&env, &repo);
    // Not assert_failed: the layout has a test of its own below.
    assert_eq!(out.code, Some(1), "doctor should exit 1\n{out}");
    let (detail, fix) = out.problem("config", "line 4");
    assert!(
        detail.contains(s(&config)) && detail.contains("column 9"),
        "the detail does not name the file, line and column: {detail}"
    );
    assert_eq!(fix, format!("correct {} as the error says", s(&config)));

    fs::write(&config, good).expect("correcting the config");
    doctor(&env, &repo).assert_healthy("correcting the config");
}

#[test]
fn doctor_keeps_a_malformed_config_to_one_line() {
    let env = TestEnv::new();
    let (repo, config, _good) = with_malformed_config(&env);
    let out = doctor(&env, &repo);
    out.assert_failed();
    let (detail, _fix) = out.problem("config", "line 4");
    assert!(
        detail.contains(s(&config)) && detail.contains("column 9") && !detail.contains('\n'),
        "{out}"
    );
}

#[test]
fn doctor_flags_a_hook_replaced_by_another_tool_and_its_fix_works() {
    let env = TestEnv::new();
    let (repo, mirror) = installed(&env);
    let hook = env.hooks_dir(&repo).join("post-commit");
    let record = env.common_dir(&repo).join("repo-sync.trigger");
    let ran = env.root().join("foreign-ran.txt");
    // The foreign hook deletes our trigger record: if the record exists after a commit, ours ran
    // after it.
    env.write_executable(
        &hook,
        &format!(
            "#!/bin/sh\n# another tool's post-commit hook\nrm -f {}\necho ran >> {}\n",
            sh_quote(&record),
            sh_quote(&ran)
        ),
    );
    let out = doctor(&env, &repo);
    out.assert_failed();
    let (detail, fix) = out.problem("triggers", "is not ours");
    assert_eq!(
        detail,
        format!("{} is not ours: git runs it instead of our trigger", s(&hook))
    );
    assert_eq!(
        fix,
        format!("{} (chains it: it keeps running first)", reinstall_fix(&repo))
    );

    run_fix(&env, &repo, &reinstall_fix(&repo));
    env.commit(&repo, "after the fix");
    assert_eq!(
        fs::read_to_string(&ran).expect("the foreign hook did not run"),
        "ran\n"
    );
    assert!(record.exists(), "our trigger did not run after the foreign hook");
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    wait_for_worker(&env, &repo);
    doctor(&env, &repo).assert_healthy("the re-install");
}

#[test]
fn doctor_flags_our_hook_not_executable_and_chmod_fixes_it() {
    let env = TestEnv::new();
    let (repo, _mirror) = installed(&env);
    let hook = env.hooks_dir(&repo).join("post-commit");
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o644)).expect("chmod -x");
    let out = doctor(&env, &repo);
    out.assert_failed();
    let (detail, fix) = out.problem("triggers", "not executable");
    assert_eq!(
        detail,
        format!("{} is ours but not executable, so git skips it", s(&hook))
    );
    let chmod = format!("chmod +x {}", s(&hook));
    assert_eq!(fix, format!("{chmod} (or {})", reinstall_fix(&repo)));

    let status = Command::new("sh")
        .args(["-c", &chmod])
        .status()
        .expect("running chmod");
    assert!(status.success(), "{chmod} failed");
    doctor(&env, &repo).assert_healthy("chmod +x");
}

#[test]
fn doctor_flags_a_hook_from_an_older_template_and_reinstall_fixes_it() {
    let env = TestEnv::new();
    let (repo, _mirror) = installed(&env);
    let hook = env.hooks_dir(&repo).join("post-commit");
    let text = fs::read_to_string(&hook).expect("reading our hook");
    let line = text
        .lines()
        .find(|l| l.starts_with("# git-repo-sync-template-version: "))
        .expect("our hook names its template version")
        .to_owned();
    let version: u32 = line
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a version number");
    assert!(version > 1, "no older version than {version}");
    let older = text.replace(
        &line,
        &format!("# git-repo-sync-template-version: {}", version - 1),
    );
    env.write_executable(&hook, &older);
    let out = doctor(&env, &repo);
    out.assert_failed();
    let (detail, fix) = out.problem("triggers", "older");
    assert_eq!(
        detail,
        format!("{} was written by an older git-repo-sync", s(&hook))
    );
    assert_eq!(fix, reinstall_fix(&repo));

    run_fix(&env, &repo, &fix);
    doctor(&env, &repo).assert_healthy("the re-install");
}

#[test]
fn doctor_flags_a_hook_whose_binary_is_gone_and_reinstalling_fixes_it() {
    let mut env = TestEnv::new();
    let repo = env.init_repo("project");
    let mirror = env.init_bare("backup.git");
    let binary = env.copy_binary(&env.root().join("store/bin"));
    env.cmd()
        .arg("install")
        .arg("--yes")
        .arg(&repo)
        .arg("--mirror")
        .arg(format!("backup={}", s(&mirror)))
        .arg("--hook-binary")
        .arg(&binary)
        .assert()
        .success();
    fs::remove_file(&binary).expect("deleting the hook's binary");
    let out = doctor(&env, &repo);
    out.assert_failed();
    let (detail, fix) = out.problem("triggers", "our post-commit hook runs");
    assert_eq!(
        detail,
        format!(
            "our post-commit hook runs {}, which is gone, and git-repo-sync is not on PATH",
            s(&binary)
        )
    );
    assert_eq!(
        fix,
        format!("install git-repo-sync again, then run {}", reinstall_fix(&repo))
    );

    // Install it again, on PATH this time, and run the fix with that binary.
    let bin_dir = env.root().join("bin");
    env.copy_binary(&bin_dir);
    let path = path_with(&[&bin_dir], env.path_var());
    env.set_path_var(path);
    let mut cmd = Command::new("git-repo-sync");
    env.apply_env(&mut cmd);
    cmd.current_dir(&repo).args(["install", s(&repo)]);
    support::run_ok(&mut cmd);
    doctor(&env, &repo).assert_healthy("installing again and the re-install");
}

#[test]
fn doctor_flags_hooks_left_behind_when_core_hooks_path_moved_and_reinstall_fixes_it() {
    let env = TestEnv::new();
    let (repo, _mirror) = installed(&env);
    let ours = env.hooks_dir(&repo).join("post-commit");
    env.git(&repo, ["config", "core.hooksPath", ".githooks"]);
    fs::create_dir_all(repo.join(".githooks")).expect("creating the new hooks dir");
    let moved = env.hooks_dir(&repo);
    assert_ne!(moved, ours.parent().expect("hooks dir"));
    let out = doctor(&env, &repo);
    out.assert_failed();
    let (detail, fix) = out.problem("triggers", "no post-commit hook");
    assert_eq!(
        detail,
        format!(
            "there is no post-commit hook in {}, where git runs hooks: nothing triggers a sync \
             (ours is at {}, where git no longer looks since core.hooksPath moved)",
            s(&moved),
            s(&ours)
        )
    );
    assert_eq!(fix, reinstall_fix(&repo));

    run_fix(&env, &repo, &fix);
    doctor(&env, &repo).assert_healthy("the re-install");
}

/// `core.hooksPath` set where only git follows it (a file the global config includes when the
/// repository's path matches): `doctor` and `sync --all` still see the hooks moved away.
#[test]
fn hooks_moved_by_a_file_the_global_config_includes_are_seen_by_doctor_and_sync_all() {
    let env = TestEnv::new();
    let (repo, _mirror) = installed(&env);
    let included = env.root().join("moved-hooks.gitconfig");
    fs::write(&included, "[core]\n\thooksPath = .githooks\n").expect("writing the included file");
    fs::create_dir_all(repo.join(".githooks")).expect("creating the new hooks dir");
    env.git(
        env.root(),
        [
            "config",
            "--global",
            &format!("includeIf.gitdir:{}/.path", s(&repo)),
            s(&included),
        ],
    );
    let out = doctor(&env, &repo);
    out.assert_failed();
    out.problem("triggers", "no post-commit hook");
    let out = env
        .cmd_in(&repo)
        .args(["sync", "--all"])
        .output()
        .expect("running sync --all");
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(said.contains("triggers: there is no post-commit hook"), "{said}");
}

/// Breaks the state file with `break_it`, checks doctor's problem and its fix, then mends it
/// as the fix says (moving a directory away first, where it says so) and syncs.
fn unreadable_state(break_it: impl Fn(&Path), a_directory: bool) {
    let env = TestEnv::new();
    let (repo, _mirror) = installed(&env);
    let state = env.common_dir(&repo).join("repo-sync-state.json");
    assert!(state.is_file(), "no state after a sync at {}", state.display());
    fs::remove_file(&state).expect("removing the state");
    break_it(&state);
    let out = doctor(&env, &repo);
    out.assert_failed();
    let problems = out.problems("state");
    assert_eq!(problems.len(), 1, "{out}");
    let (detail, fix) = &problems[0];
    assert!(
        detail.contains(s(&state)),
        "the detail does not name the file\n{out}"
    );
    if a_directory {
        assert_eq!(
            *fix,
            format!(
                "move the directory {} away (it is never deleted for you), then git-repo-sync sync",
                s(&state)
            )
        );
        fs::rename(&state, state.with_extension("json.broken")).expect("moving the state away");
    } else {
        assert_eq!(fix, "git-repo-sync sync (it rewrites the state file)");
    }
    run_fix(&env, &repo, "git-repo-sync sync");
    let out = doctor(&env, &repo);
    out.assert_healthy("the fix and a sync");
    out.assert_ok("last sync");
}

#[test]
fn doctor_flags_a_state_file_with_invalid_json_and_its_fix_works() {
    unreadable_state(
        |state| fs::write(state, "{ not json").expect("writing the state"),
        false,
    );
}

#[test]
fn doctor_flags_a_directory_in_place_of_the_state_file_and_its_fix_works() {
    unreadable_state(
        |state| fs::create_dir(state).expect("making the state a directory"),
        true,
    );
}

#[test]
fn doctor_flags_a_directory_in_place_of_the_pending_mark() {
    let env = TestEnv::new();
    let (repo, _mirror) = installed(&env);
    let pending = env.common_dir(&repo).join("repo-sync.pending");
    fs::create_dir(&pending).expect("making the mark a directory");
    let out = doctor(&env, &repo);
    out.assert_failed();
    let (detail, fix) = out.problem("worker", "is not a file");
    assert!(detail.contains(s(&pending)), "{out}");
    assert_eq!(fix, "move it away; it is never deleted for you");
    assert!(pending.is_dir(), "doctor deleted it");
    fs::remove_dir(&pending).expect("moving it away");
    doctor(&env, &repo).assert_healthy("moving it away");
}

#[test]
fn doctor_flags_a_sync_no_worker_runs_and_sync_fixes_it() {
    let env = TestEnv::new();
    let (repo, mirror) = installed(&env);
    // A commit whose trigger left its mark a minute ago, and whose worker never ran: the commit
    // runs no hook, and the mark is written by hand.
    let no_hooks = env.root().join("no-hooks");
    fs::create_dir_all(&no_hooks).expect("creating an empty hooks dir");
    env.change_file(&repo, "not yet mirrored");
    env.git(
        &repo,
        [
            "-c",
            &format!("core.hooksPath={}", s(&no_hooks)),
            "commit",
            "-q",
            "-m",
            "not yet mirrored",
        ],
    );
    assert_ne!(
        env.try_refs(&mirror),
        Some(env.refs(&repo)),
        "the commit was mirrored"
    );
    let pending = env.common_dir(&repo).join("repo-sync.pending");
    let file = fs::File::create(&pending).expect("writing the pending mark");
    file.set_modified(SystemTime::now() - Duration::from_secs(60))
        .expect("dating the pending mark");
    drop(file);
    let out = doctor(&env, &repo);
    out.assert_failed();
    let (detail, fix) = out.problem("worker", "no worker");
    assert!(
        detail.starts_with("a sync was asked for 1m") && detail.ends_with(" ago and no worker is running it"),
        "{out}"
    );
    assert_eq!(fix, "git-repo-sync sync");

    run_fix(&env, &repo, &fix);
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    let out = doctor(&env, &repo);
    out.assert_healthy("git-repo-sync sync");
    assert!(!pending.exists(), "the sync left the pending mark");
}

#[test]
fn doctor_flags_an_unreachable_mirror_and_its_failed_sync() {
    let env = TestEnv::new();
    let (repo, mirror) = installed(&env);
    fs::remove_dir_all(&mirror).expect("removing the mirror");
    let sync = env.cmd_in(&repo).arg("sync").output().expect("running sync");
    assert!(!sync.status.success(), "a sync to a removed mirror succeeded");
    let out = doctor(&env, &repo);
    out.assert_failed();
    let (detail, fix) = out.problem("mirror", "backup");
    assert!(detail.starts_with(&format!("backup ({}): ", s(&mirror))), "{out}");
    assert_eq!(
        fix,
        "mend what the error names; `git-repo-sync sync` then shows whether it works"
    );
    let (detail, fix) = out.problem("last sync", "backup");
    assert!(detail.starts_with("backup: failing since "), "{out}");
    assert_eq!(fix, "mend what the error names, then git-repo-sync sync");

    env.init_bare("backup.git");
    run_fix(&env, &repo, "git-repo-sync sync");
    doctor(&env, &repo).assert_healthy("restoring the mirror and a sync");
}

/// Puts the git with config-based hooks first on PATH; `None` (skipped) when it is missing.
fn use_new_git(env: &mut TestEnv, test: &str) -> Option<()> {
    let git = require_tool(test, Tool::NewGit)?;
    let dir = git.parent().expect("git's directory").to_path_buf();
    let path = path_with(&[&dir], env.path_var());
    env.set_path_var(path);
    Some(())
}

#[test]
fn doctor_flags_our_config_based_hook_disabled_and_reinstall_reenables_it() {
    let mut env = TestEnv::new();
    if use_new_git(&mut env, "doctor on a disabled config-based hook").is_none() {
        return;
    }
    let (repo, _mirror) = installed(&env);
    doctor(&env, &repo).assert_healthy("install under the newer git");
    env.git(
        &repo,
        ["config", "hook.git-repo-sync-post-commit.enabled", "false"],
    );
    let out = doctor(&env, &repo);
    out.assert_failed();
    let (detail, fix) = out.problem("triggers", "hook.git-repo-sync-post-commit");
    assert_eq!(
        detail,
        "our config-based hook hook.git-repo-sync-post-commit is set, but `git hook list \
         post-commit` does not show it, so git will not run it (hook.git-repo-sync-post-commit.enabled = false?)"
    );
    assert_eq!(fix, reinstall_fix(&repo));

    run_fix(&env, &repo, &fix);
    let out = doctor(&env, &repo);
    out.assert_healthy("the re-install");
    assert!(out.stdout.contains("(config-based hooks)"), "{out}");
}

#[test]
fn doctor_flags_config_based_hooks_under_a_git_that_does_not_run_them_and_reinstall_fixes_it() {
    let mut env = TestEnv::new();
    let machine_path = env.path_var().to_owned();
    if use_new_git(&mut env, "doctor on config-based hooks under an older git").is_none() {
        return;
    }
    // Another tool's post-commit hook holds the slot, so the install under the newer git leaves
    // it alone and writes no post-commit file of ours for an older git.
    let repo = env.init_repo("project");
    let theirs = env.hooks_dir(&repo).join("post-commit");
    env.write_executable(&theirs, "#!/bin/sh\nexit 0\n");
    let mirror = env.init_bare("mirror.git");
    env.install(&repo, &[("m", s(&mirror))]);
    doctor(&env, &repo).assert_healthy("install under the newer git");
    env.set_path_var(machine_path);
    let version = env.git(&repo, ["--version"]);
    let out = doctor(&env, &repo);
    out.assert_failed();
    let (detail, fix) = out.problem("triggers", "post-commit");
    assert!(
        detail.starts_with("our config-based post-commit hook is set, but the git on PATH (")
            && detail.ends_with(") does not run config-based hooks (2.54 and later do)"),
        "{out}"
    );
    let major_minor: Vec<&str> = version
        .trim()
        .trim_start_matches("git version ")
        .split('.')
        .take(2)
        .collect();
    assert!(
        detail.contains(&format!("({})", major_minor.join("."))),
        "{version}\n{out}"
    );
    let command = reinstall_fix(&repo);
    assert_eq!(fix, format!("{command} (writes hook files, which this git runs)"));

    run_fix(&env, &repo, &command);
    let hook = fs::read_to_string(&theirs).expect("the post-commit hook");
    assert!(hook.contains(MARKER), "the re-install wrote no hook file: {hook}");
    let out = doctor(&env, &repo);
    out.assert_healthy("the re-install");
    assert!(out.stdout.contains("(hook files)"), "{out}");
}

/// An installed repository handed to nobody, with git told to trust it.
fn owned_by_nobody(env: &TestEnv) -> PathBuf {
    let (repo, _mirror) = installed(env);
    let gitconfig = env.home().join(".gitconfig");
    let mut text = fs::read_to_string(&gitconfig).expect("reading .gitconfig");
    text.push_str("[safe]\n\tdirectory = *\n");
    fs::write(&gitconfig, text).expect("writing .gitconfig");
    let status = Command::new("chown")
        .args(["-R", "nobody"])
        .arg(&repo)
        .status()
        .expect("running chown");
    assert!(status.success(), "chown -R nobody failed");
    repo
}

#[test]
fn doctor_flags_a_repository_owned_by_someone_else() {
    if !running_as_root("doctor on a repository owned by nobody") {
        return;
    }
    let env = TestEnv::new();
    let repo = owned_by_nobody(&env);
    let out = doctor(&env, &repo);
    out.assert_failed();
    let (detail, fix) = out.problem("owner", "nobody");
    assert!(detail.starts_with("the repository belongs to nobody: "), "{out}");
    assert_eq!(
        fix,
        format!(
            "run git-repo-sync as the owner: sudo -u nobody git-repo-sync doctor {}",
            s(&repo)
        )
    );
}

#[test]
fn doctor_writes_nothing_into_a_repository_owned_by_someone_else() {
    if !running_as_root("doctor on a repository owned by nobody") {
        return;
    }
    let env = TestEnv::new();
    let repo = owned_by_nobody(&env);
    let common = env.common_dir(&repo);
    fs::remove_file(common.join("repo-sync.lock")).expect("removing the lock file");
    let pending = fs::File::create(common.join("repo-sync.pending")).expect("writing the mark");
    pending
        .set_modified(SystemTime::now() - Duration::from_secs(60))
        .expect("dating the pending mark");
    drop(pending);
    let status = Command::new("chown")
        .arg("nobody")
        .arg(common.join("repo-sync.pending"))
        .status()
        .expect("running chown");
    assert!(status.success(), "chown nobody failed");
    let before = support::Snapshot::of(&common);
    let out = doctor(&env, &repo);
    out.assert_failed();
    out.problem("owner", "nobody");
    before.assert_unchanged(&support::Snapshot::of(&common), "doctor");
}

#[test]
fn doctor_json_carries_the_same_checks_and_fixes() {
    let env = TestEnv::new();
    let (repo, _mirror) = installed(&env);
    let hook = env.hooks_dir(&repo).join("post-commit");
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o644)).expect("chmod -x");
    let out = env
        .cmd_in(&repo)
        .args(["doctor", "--json"])
        .output()
        .expect("running doctor --json");
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("doctor --json prints JSON");
    let report = &json[0];
    assert_eq!(report["repository"], s(&repo), "{json:#}");
    assert_eq!(report["ok"], false, "{json:#}");
    let checks = report["checks"].as_array().expect("a checks array");
    let problem = checks
        .iter()
        .find(|c| c["check"] == "triggers" && c["ok"] == false)
        .unwrap_or_else(|| panic!("no failing triggers check: {json:#}"));
    assert_eq!(
        problem["fix"],
        format!("chmod +x {} (or {})", s(&hook), reinstall_fix(&repo))
    );
    for check in checks.iter().filter(|c| c["ok"] == true) {
        // A warning is ok (the exit status says so) and still says what to do.
        let warning = check["warning"] == true;
        assert_eq!(
            check.get("fix").is_some(),
            warning,
            "an ok check with a fix: {check}"
        );
    }
}
