//! A sequence (a rebase, a cherry-pick of a range, an am of a series of patches) fires a hook per
//! commit, yet reaches the mirrors with one trigger at its end: the hooks return without starting
//! git-repo-sync while git says the sequence is under way, and the mirror never gets a branch
//! half-way through one. `git am` (which fires post-applypatch, never post-commit) reaches them too.
//!
//! Each sequence is run by the machine's git (hook files) and by a git that runs config-based
//! hooks (which runs our config-based hook and our hook file both); without that git those tests
//! print `skipped: ...` (a failure under CI).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::support::tools::{Tool, path_with, require_tool};
use crate::support::{MARKER, TestEnv, WAIT, s, sh_quote, wait_for};

/// Commits (or patches) in each long sequence.
const LENGTH: usize = 100;
/// "Within a few seconds of the sequence's end", with room for a loaded machine.
const SOON: Duration = Duration::from_secs(10);
/// A committer date of its own for the sequence, so that even `rebase -f` makes new commits.
const SEQUENCE_DATE: &str = "2024-06-01 00:00:00 +0000";

/// Which git runs the sequence.
#[derive(Clone, Copy)]
enum Git {
    /// The machine's git: hook files.
    Machine,
    /// git >= 2.54: config-based hooks (and our hook file beside them).
    ConfigHooks,
}

fn env_for(git: Git) -> Option<TestEnv> {
    match git {
        Git::Machine => Some(TestEnv::new()),
        Git::ConfigHooks => {
            let git = require_tool("the sequence tests with config-based hooks", Tool::NewGit)?;
            let mut env = TestEnv::new();
            let path = path_with(&[git.parent().expect("git's directory")], env.path_var());
            env.set_path_var(path);
            Some(env)
        }
    }
}

/// A repository with `main` and a branch `topic` of `n` more commits (each adding a file),
/// installed with one local mirror through a hook binary that notes each start, synced, idle;
/// the mirror then notes every ref update it receives.
struct Setup {
    env: TestEnv,
    repo: PathBuf,
    mirror: PathBuf,
    /// One line per start of the binary by a hook: `hook <kind> [args]`.
    starts: PathBuf,
    /// The mirror's post-receive lines: `<old> <new> <ref>`.
    received: PathBuf,
    /// Lines of the worker's log before the sequence.
    log_lines_before: usize,
}

impl Setup {
    fn new(env: TestEnv, n: usize) -> Self {
        let repo = env.init_repo("project");
        add_topic(&env, &repo, n);
        let starts = env.root().join("starts.txt");
        let real = env.copy_binary(&env.root().join("real"));
        let wrapper = env.root().join("bin/git-repo-sync");
        env.write_executable(
            &wrapper,
            &format!(
                "#!/bin/sh\necho \"$*\" >> {}\nexec {} \"$@\"\n",
                sh_quote(&starts),
                sh_quote(&real)
            ),
        );
        let mirror = env.root().join("mirror.git");
        env.cmd()
            .arg("install")
            .arg("--yes")
            .arg(&repo)
            .arg("--hook-binary")
            .arg(&wrapper)
            .arg("--mirror")
            .arg(format!("m={}", s(&mirror)))
            .assert()
            .success();
        env.cmd_in(&repo).args(["sync", "-q"]).assert().success();
        env.wait_until_refs_equal(&repo, &mirror, WAIT);
        wait_until_idle(&env, &repo);
        // From here on each pass reaches the mirror through `git push`, which runs this.
        let received = env.root().join("received.txt");
        env.write_executable(
            &mirror.join("hooks/post-receive"),
            &format!("#!/bin/sh\ncat >> {}\n", sh_quote(&received)),
        );
        let _ = fs::remove_file(&starts);
        // No log yet (the first sync ran in the foreground) is no line.
        let log_lines_before = fs::read_to_string(env.common_dir(&repo).join("repo-sync.log"))
            .map_or(0, |log| log.lines().count());
        Self {
            env,
            repo,
            mirror,
            starts,
            received,
            log_lines_before,
        }
    }

    /// `git <args>` in the repository as the sequence's own committer date.
    fn git_sequence(&self, dir: &Path, args: &[&str]) {
        let mut cmd = self.env.git_cmd(dir);
        cmd.args(args).env("GIT_COMMITTER_DATE", SEQUENCE_DATE);
        let out = cmd.output().expect("running git");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// After the sequence: the mirror equal within a few seconds with no other trigger, at most
    /// two passes logged, the hooks' binary started only at the end, and every update of
    /// `branch` the mirror received was to its final commit.
    fn check_one_trigger_at_the_end(&self, branch: &str, last_hook: &str) {
        let env = &self.env;
        env.wait_until_refs_equal(&self.repo, &self.mirror, SOON);
        wait_until_idle(env, &self.repo);
        let log = env.log(&self.repo);
        let passes: Vec<&str> = log
            .lines()
            .skip(self.log_lines_before)
            .filter(|line| line.contains(" m: "))
            .collect();
        assert!(
            (1..=2).contains(&passes.len()),
            "one or two passes, not {}:\n{log}",
            passes.len()
        );
        let starts = fs::read_to_string(&self.starts).unwrap_or_default();
        let starts: Vec<&str> = starts.lines().collect();
        assert!(
            starts.len() == 1 && starts.iter().all(|line| line.starts_with(last_hook)),
            "the binary started once, by {last_hook} (a git that runs config-based hooks runs our \
             hook file too, which then asks for nothing more), not: {starts:#?}"
        );
        let refname = format!("refs/heads/{branch}");
        let tip = env.git(&self.repo, ["rev-parse", &refname]).trim().to_owned();
        let received = fs::read_to_string(&self.received).expect("the mirror received the sequence");
        let updates: Vec<&str> = received
            .lines()
            .filter(|line| line.ends_with(&format!(" {refname}")))
            .collect();
        assert!(
            !updates.is_empty(),
            "{refname} never reached the mirror:\n{received}"
        );
        for update in &updates {
            assert_eq!(
                update.split(' ').nth(1),
                Some(tip.as_str()),
                "the mirror got {refname} half-way through the sequence:\n{received}\nlog:\n{log}"
            );
        }
    }
}

/// `n` commits on a new branch `topic` from `main`, one new file each, made by fast-import (no
/// hook runs).
fn add_topic(env: &TestEnv, repo: &Path, n: usize) {
    let mut stream = String::new();
    for i in 1..=n {
        let from = if i == 1 { "from refs/heads/main^0\n" } else { "" };
        let message = format!("topic {i}");
        let content = format!("line {i}\n");
        stream.push_str(&format!(
            "commit refs/heads/topic\ncommitter Test Committer <committer@example.com> 1704067200 +0000\n\
             data {}\n{message}\n{from}M 644 inline topic-{i}.txt\ndata {}\n{content}\n",
            message.len(),
            content.len()
        ));
    }
    let mut cmd = env.git_cmd(repo);
    cmd.args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null());
    let mut child = cmd.spawn().expect("starting git fast-import");
    child
        .stdin
        .take()
        .expect("fast-import's stdin")
        .write_all(stream.as_bytes())
        .expect("feeding git fast-import");
    assert!(
        child.wait().expect("git fast-import").success(),
        "git fast-import failed"
    );
}

/// Whether a worker holds the repository's sync lock.
fn worker_running(env: &TestEnv, repo: &Path) -> bool {
    let lock = env.common_dir(repo).join("repo-sync.lock");
    fs::File::open(lock).is_ok_and(|file| file.try_lock().is_err())
}

/// Waits until no worker holds the lock and no pass is pending, twice in a row 50 ms apart (a
/// worker handing over to the next is not missed).
fn wait_until_idle(env: &TestEnv, repo: &Path) {
    let pending = env.common_dir(repo).join("repo-sync.pending");
    let mut idle_once = false;
    wait_for(
        WAIT,
        || {
            let idle = !worker_running(env, repo) && !pending.exists();
            let done = idle && idle_once;
            idle_once = idle;
            done
        },
        || format!("the worker never finished; log:\n{}", env.log(repo)),
    );
}

fn a_rebase_reaches_the_mirror_with_one_trigger_at_its_end(git: Git) {
    let Some(env) = env_for(git) else {
        return;
    };
    let setup = Setup::new(env, LENGTH);
    setup.env.git(&setup.repo, ["switch", "-q", "topic"]);
    wait_until_idle(&setup.env, &setup.repo);
    setup.git_sequence(&setup.repo, &["rebase", "-q", "-f", &format!("HEAD~{LENGTH}")]);
    setup.check_one_trigger_at_the_end("topic", "hook post-rewrite rebase");
}

#[test]
fn a_rebase_of_100_commits_reaches_the_mirror_with_one_trigger_at_its_end() {
    a_rebase_reaches_the_mirror_with_one_trigger_at_its_end(Git::Machine);
}

#[test]
fn a_rebase_of_100_commits_with_config_based_hooks_reaches_the_mirror_with_one_trigger_at_its_end() {
    a_rebase_reaches_the_mirror_with_one_trigger_at_its_end(Git::ConfigHooks);
}

fn a_cherry_pick_reaches_the_mirror_with_one_trigger_at_its_end(git: Git) {
    let Some(env) = env_for(git) else {
        return;
    };
    let setup = Setup::new(env, LENGTH);
    setup.git_sequence(&setup.repo, &["cherry-pick", "main..topic"]);
    setup.check_one_trigger_at_the_end("main", "hook post-commit");
}

#[test]
fn a_cherry_pick_of_100_commits_reaches_the_mirror_with_one_trigger_at_its_end() {
    a_cherry_pick_reaches_the_mirror_with_one_trigger_at_its_end(Git::Machine);
}

#[test]
fn a_cherry_pick_of_100_commits_with_config_based_hooks_reaches_the_mirror_with_one_trigger_at_its_end() {
    a_cherry_pick_reaches_the_mirror_with_one_trigger_at_its_end(Git::ConfigHooks);
}

/// `git format-patch` of `topic`'s `n` commits into `<root>/patches`, then `git am` of them on a
/// new branch `applied` from `main`.
fn am_of_topic(setup: &Setup, n: usize) {
    let patches = setup.env.root().join("patches");
    setup.env.git(
        &setup.repo,
        ["format-patch", "-q", &format!("-{n}"), "topic", "-o", s(&patches)],
    );
    let mut files: Vec<String> = fs::read_dir(&patches)
        .expect("the patches")
        .map(|entry| s(&entry.expect("a patch").path()).to_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), n, "{files:?}");
    setup
        .env
        .git(&setup.repo, ["switch", "-q", "-c", "applied", "main"]);
    let mut args = vec!["am", "-q"];
    args.extend(files.iter().map(String::as_str));
    setup.git_sequence(&setup.repo, &args);
}

fn an_am_reaches_the_mirror_with_one_trigger_at_its_end(git: Git) {
    let Some(env) = env_for(git) else {
        return;
    };
    let setup = Setup::new(env, LENGTH);
    am_of_topic(&setup, LENGTH);
    setup.check_one_trigger_at_the_end("applied", "hook post-applypatch");
}

#[test]
fn an_am_of_100_patches_reaches_the_mirror_with_one_trigger_at_its_end() {
    an_am_reaches_the_mirror_with_one_trigger_at_its_end(Git::Machine);
}

#[test]
fn an_am_of_100_patches_with_config_based_hooks_reaches_the_mirror_with_one_trigger_at_its_end() {
    an_am_reaches_the_mirror_with_one_trigger_at_its_end(Git::ConfigHooks);
}

#[test]
fn git_am_of_three_patches_reaches_the_mirror() {
    let Some(env) = env_for(Git::Machine) else {
        return;
    };
    let setup = Setup::new(env, 3);
    am_of_topic(&setup, 3);
    setup.check_one_trigger_at_the_end("applied", "hook post-applypatch");
    let record = fs::read_to_string(setup.env.common_dir(&setup.repo).join("repo-sync.trigger"))
        .expect("the trigger record");
    assert!(record.starts_with("post-applypatch "), "{record}");
}

#[test]
fn a_rebase_through_am_triggers_once_at_its_end() {
    let Some(env) = env_for(Git::Machine) else {
        return;
    };
    let setup = Setup::new(env, 30);
    setup.env.git(&setup.repo, ["switch", "-q", "topic"]);
    wait_until_idle(&setup.env, &setup.repo);
    // `rebase --apply` fires post-applypatch per commit (rebase-apply/rebasing marks it a
    // rebase), then post-rewrite.
    setup.git_sequence(&setup.repo, &["rebase", "-q", "--apply", "-f", "HEAD~30"]);
    setup.check_one_trigger_at_the_end("topic", "hook post-rewrite rebase");
}

fn a_rebase_in_a_linked_work_tree_triggers_once_at_its_end(git: Git) {
    let Some(env) = env_for(git) else {
        return;
    };
    let setup = Setup::new(env, 30);
    let work_tree = setup.env.root().join("linked");
    setup
        .env
        .git(&setup.repo, ["worktree", "add", "-q", s(&work_tree), "topic"]);
    wait_until_idle(&setup.env, &setup.repo);
    // Its rebase-merge/ is in its own git dir (.git/worktrees/linked), not the common one.
    setup.git_sequence(&work_tree, &["rebase", "-q", "-f", "HEAD~30"]);
    setup.check_one_trigger_at_the_end("topic", "hook post-rewrite rebase");
}

#[test]
fn a_rebase_in_a_linked_work_tree_triggers_once_at_its_end_with_hook_files() {
    a_rebase_in_a_linked_work_tree_triggers_once_at_its_end(Git::Machine);
}

#[test]
fn a_rebase_in_a_linked_work_tree_triggers_once_at_its_end_with_config_based_hooks() {
    a_rebase_in_a_linked_work_tree_triggers_once_at_its_end(Git::ConfigHooks);
}

#[test]
fn a_revert_of_a_range_triggers_once_at_its_end() {
    let Some(env) = env_for(Git::Machine) else {
        return;
    };
    let setup = Setup::new(env, 30);
    setup.env.git(&setup.repo, ["switch", "-q", "topic"]);
    wait_until_idle(&setup.env, &setup.repo);
    // Its sequencer/todo holds `revert` steps.
    setup.git_sequence(&setup.repo, &["revert", "--no-edit", "HEAD~30..HEAD"]);
    setup.check_one_trigger_at_the_end("topic", "hook post-commit");
}

#[test]
fn a_cherry_pick_stopped_by_a_conflict_on_its_last_commit_triggers_when_continued() {
    let Some(env) = env_for(Git::Machine) else {
        return;
    };
    let setup = Setup::new(env, 5);
    let env = &setup.env;
    // main gets its own topic-5.txt, so the last pick conflicts.
    fs::write(setup.repo.join("topic-5.txt"), "main's own\n").expect("writing a file");
    env.git(&setup.repo, ["add", "topic-5.txt"]);
    env.git(&setup.repo, ["commit", "-q", "-m", "main's topic-5"]);
    env.wait_until_refs_equal(&setup.repo, &setup.mirror, WAIT);
    wait_until_idle(env, &setup.repo);
    let _ = fs::remove_file(&setup.starts);
    let _ = fs::remove_file(&setup.received);
    let stopped = env
        .git_cmd(&setup.repo)
        .args(["cherry-pick", "main..topic"])
        .output()
        .expect("running git cherry-pick");
    assert!(!stopped.status.success(), "the last pick should conflict");
    assert!(
        !setup.starts.exists(),
        "a hook started the binary in the middle of the sequence"
    );
    fs::write(setup.repo.join("topic-5.txt"), "resolved\n").expect("resolving");
    env.git(&setup.repo, ["add", "topic-5.txt"]);
    let mut cont = env.git_cmd(&setup.repo);
    cont.args(["cherry-pick", "--continue"]).env("GIT_EDITOR", "true");
    crate::support::run_ok(&mut cont);
    env.wait_until_refs_equal(&setup.repo, &setup.mirror, SOON);
    wait_until_idle(env, &setup.repo);
    let starts = fs::read_to_string(&setup.starts).unwrap_or_default();
    assert_eq!(
        starts.lines().collect::<Vec<_>>(),
        ["hook post-commit"],
        "{starts}"
    );
}

#[test]
fn uninstall_leaves_no_post_applypatch_of_ours_and_restores_a_foreign_one() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let hooks = env.hooks_dir(&repo);
    let theirs = "#!/bin/sh\n# someone else's post-applypatch\nexit 0\n";
    env.write_executable(&hooks.join("post-applypatch"), theirs);
    let other = env.init_repo("other");
    env.install(&repo, &[("m", s(&env.root().join("mirror.git")))]);
    env.install(&other, &[("m", s(&env.root().join("other-mirror.git")))]);
    for (hooks, kept) in [(&hooks, true), (&env.hooks_dir(&other), false)] {
        let ours = fs::read_to_string(hooks.join("post-applypatch")).expect("our post-applypatch");
        assert!(ours.contains(MARKER), "{ours}");
        assert_eq!(hooks.join("post-applypatch.before-repo-sync").exists(), kept);
    }
    env.cmd_in(&repo).arg("uninstall").assert().success();
    env.cmd_in(&other).arg("uninstall").assert().success();
    assert_eq!(
        fs::read_to_string(hooks.join("post-applypatch")).ok().as_deref(),
        Some(theirs),
        "theirs is back, byte for byte"
    );
    assert!(!hooks.join("post-applypatch.before-repo-sync").exists());
    let other_hooks = env.hooks_dir(&other);
    assert!(
        !other_hooks.join("post-applypatch").exists(),
        "ours left behind in {}",
        other_hooks.display()
    );
}
