//! The install wizard, driven in a real terminal: tmux runs the binary, `send-keys` types and
//! `capture-pane` reads the screen. Without tmux the terminal tests print `skipped: ...` and
//! pass, except under `CI=true`, where that is a failure.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support;
use crate::support::{BIN, MARKER, TestEnv, WORK_TREE_HOOKS, s, sh_quote};

/// How long a prompt may take to appear (the reachability check runs before some).
const PROMPT_WAIT: Duration = Duration::from_secs(20);

/// A tmux server of this test's own, killed when dropped. Its socket is in the test's temp dir,
/// so no two tests share a server and nothing is left behind.
struct Tmux {
    program: PathBuf,
    socket: PathBuf,
}

impl Tmux {
    /// Runs `script` in a new 200x50 session, or `None` (after `skipped: ...`) without tmux.
    fn start(env: &TestEnv, test: &str, script: &Path) -> Option<Self> {
        let found = support::tools::require(
            test,
            vec![which("tmux").ok_or_else(|| "tmux".to_owned())],
            "apt-get install tmux",
        )?;
        let tmux = Self {
            program: found[0].clone(),
            socket: env.root().join(format!("tmux-{test}")),
        };
        let status = tmux
            .tmux()
            .args(["-f", "/dev/null"])
            .args(["new-session", "-d", "-x", "200", "-y", "50"])
            .arg(s(script))
            .status()
            .expect("starting tmux");
        assert!(status.success(), "tmux new-session failed");
        Some(tmux)
    }

    fn tmux(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.arg("-S").arg(&self.socket);
        cmd
    }

    /// Types `keys` (tmux key names: `Enter`, `C-u`, or literal text).
    fn send(&self, keys: &[&str]) {
        let status = self
            .tmux()
            .arg("send-keys")
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(status.success(), "tmux send-keys {keys:?} failed");
    }

    fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-S", "-200"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `text` `times` times (a prompt asked again shows twice).
    fn wait_for_n(&self, text: &str, times: usize) -> String {
        let deadline = Instant::now() + PROMPT_WAIT;
        loop {
            let screen = self.screen();
            if screen.matches(text).count() >= times {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "{text:?} (x{times}) did not appear within {PROMPT_WAIT:?}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_for(&self, text: &str) -> String {
        self.wait_for_n(text, 1)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
    }
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// A script that runs `git-repo-sync <args>` in `dir` with the test's isolated environment (and
/// the terminal's TERM), prints its exit status and stays open to be read.
fn script(env: &TestEnv, dir: &Path, args: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map_or("run", |name| name.to_str().unwrap_or("run"));
    let mut cmd = Command::new(BIN);
    env.apply_env(&mut cmd);
    let vars: Vec<String> = cmd
        .get_envs()
        .filter_map(|(key, value)| {
            let value = value?;
            Some(format!(
                "{}={}",
                key.to_string_lossy(),
                sh_quote(Path::new(value))
            ))
        })
        .collect();
    let path = env.root().join(format!("run-{name}.sh"));
    env.write_executable(
        &path,
        &format!(
            "#!/bin/sh\ncd {} || exit 1\nenv -i TERM=\"$TERM\" {} {} {args}\necho \"exit status $?\"\nexec sleep 600\n",
            sh_quote(dir),
            vars.join(" "),
            sh_quote(Path::new(BIN)),
        ),
    );
    path
}

#[test]
fn the_wizard_adds_a_new_local_mirror_and_a_mistyped_one_after_asking_again() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    let created = env.root().join("backup.git");
    let nas = env.init_bare("nas.git");
    let Some(tmux) = Tmux::start(&env, "wizard", &script(&env, &repo, "install")) else {
        return;
    };

    tmux.wait_for("Mirror name [backup]");
    tmux.send(&["Enter"]);
    tmux.wait_for("URL of 'backup'");
    tmux.send(&[s(&created), "Enter"]);
    tmux.wait_for("Create an empty bare repository there?");
    tmux.send(&["y"]);
    tmux.wait_for("Add another mirror?");
    tmux.send(&["y"]);
    tmux.wait_for_n("Mirror name", 2);
    tmux.send(&["nas", "Enter"]);
    tmux.wait_for("URL of 'nas'");
    // A relative path to nothing: a typo, refused as `--mirror` refuses it, and asked again.
    tmux.send(&["nas-typo.git", "Enter"]);
    let screen = tmux.wait_for("error: mirror URL \"nas-typo.git\" is a relative path");
    assert!(!created.join("nas-typo.git").exists(), "{screen}");
    tmux.send(&["C-u", s(&nas), "Enter"]);
    tmux.wait_for("nas: reachable, empty");
    tmux.wait_for_n("Add another mirror?", 2);
    tmux.send(&["n"]);
    let plan = tmux.wait_for("Write this?");
    assert!(
        plan.contains(&format!("would create empty bare mirror {}", created.display())),
        "the plan names the mirror it creates:\n{plan}"
    );
    assert!(plan.contains("would write mirror config"), "{plan}");
    assert!(
        !created.exists(),
        "nothing is written before the confirmation:\n{plan}"
    );
    tmux.send(&["y"]);
    // Nothing is scheduled in this world: the wizard offers it, and says what waits without it.
    tmux.wait_for("Start the schedule too");
    tmux.send(&["n"]);
    let done = tmux.wait_for("exit status");
    assert!(done.contains("exit status 0"), "{done}");
    assert!(done.contains("no schedule runs"), "{done}");

    let config = fs::read_to_string(env.config_path(&repo)).expect("reading repo-sync.toml");
    assert!(config.contains("[mirrors.backup]"), "{config}");
    assert!(
        config.contains(&format!("url = \"{}\"", created.display())),
        "{config}"
    );
    assert!(config.contains("[mirrors.nas]"), "{config}");
    assert!(
        config.contains(&format!("url = \"{}\"", nas.display())),
        "{config}"
    );
    assert!(!config.contains("nas-typo"), "{config}");
    let status = env.status_json(&repo);
    assert_eq!(status["triggers"]["ok"], true, "{status:#}");
    let hooks = env.hooks_dir(&repo);
    for hook in WORK_TREE_HOOKS {
        let text = fs::read_to_string(hooks.join(hook)).unwrap_or_default();
        assert!(text.contains(MARKER), "{hook} is not ours:\n{text}");
    }
    let bare = env.git(&created, ["rev-parse", "--is-bare-repository"]);
    assert_eq!(bare.trim(), "true", "the created mirror is a bare repository");
    env.commit(&repo, "after the wizard");
    env.wait_for_mirrors(&repo, &[&created, &nas]);
}

#[test]
fn install_on_a_terminal_never_prompts_with_yes_or_with_mirror_flags() {
    let env = TestEnv::new();
    let yes = env.init_repo("with-yes");
    let flags = env.init_repo("with-flags");
    let mirror = env.init_bare("mirror.git");
    let runs = [
        (&yes, "install --yes".to_owned()),
        (&flags, format!("install --mirror backup={}", sh_quote(&mirror))),
    ];
    for (repo, args) in runs {
        let Some(tmux) = Tmux::start(&env, "no-prompt", &script(&env, repo, &args)) else {
            return;
        };
        let screen = tmux.wait_for("exit status");
        assert!(screen.contains("exit status 0"), "{args}:\n{screen}");
        assert!(!screen.contains("Mirror name"), "{args} asked:\n{screen}");
        assert_eq!(env.status_json(repo)["triggers"]["ok"], true, "{args}");
    }
    let config = fs::read_to_string(env.config_path(&flags)).expect("reading repo-sync.toml");
    assert!(config.contains("[mirrors.backup]"), "{config}");
}

#[test]
fn install_without_a_terminal_never_prompts() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    // Answers a wizard would take, ready on stdin: none may be read.
    let out = env
        .cmd_in(&repo)
        .arg("install")
        .write_stdin("backup\n/tmp/never.git\ny\nn\ny\n")
        .timeout(Duration::from_secs(60))
        .output()
        .expect("running install");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        !stderr.contains("Mirror name") && !stdout.contains("Mirror name"),
        "{stderr}"
    );
    assert!(stdout.contains("no mirrors configured yet"), "{stdout}");
    let config = fs::read_to_string(env.config_path(&repo)).unwrap_or_default();
    assert!(!config.contains("[mirrors."), "{config}");
    assert!(!Path::new("/tmp/never.git").exists());
}
