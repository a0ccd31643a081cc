//! Colour as git and cargo have it: failures red and successes green on a terminal, none when
//! piped, none with `NO_COLOR`, forced with `--color=always`, never with `--color=never`.

use crate::support::{TestEnv, s};

const ESC: &str = "\u{1b}[";

/// A repository whose one mirror is failing, so that status shows both colours.
fn with_a_failing_and_a_healthy_mirror(env: &TestEnv) -> std::path::PathBuf {
    let repo = env.init_repo("work");
    let good = env.root().join("good.git");
    let gone = env.root().join("gone.git");
    env.install(&repo, &[("good", s(&good)), ("gone", s(&gone))]);
    std::fs::remove_dir_all(&gone).expect("removing a mirror");
    env.cmd_in(&repo).arg("sync").assert().code(3);
    repo
}

/// `git-repo-sync status` (with `extra` arguments) on a terminal; `no_color` sets NO_COLOR.
fn status_on_terminal(env: &TestEnv, repo: &std::path::Path, extra: &str, no_color: bool) -> Option<String> {
    let vars: &[(&str, &str)] = if no_color { &[("NO_COLOR", "1")] } else { &[] };
    env.on_terminal(repo, &format!("status {extra}"), vars)
}

#[test]
fn failures_are_red_and_successes_green_on_a_terminal_and_never_without_one() {
    let env = TestEnv::new();
    let repo = with_a_failing_and_a_healthy_mirror(&env);
    let Some(terminal) = status_on_terminal(&env, &repo, "", false) else {
        return;
    };
    assert!(
        terminal.contains(&format!("{ESC}1m{ESC}31mFAILING")),
        "{terminal:?}"
    );
    assert!(
        terminal.contains(&format!("{ESC}32mok, last checked")),
        "{terminal:?}"
    );

    let never = status_on_terminal(&env, &repo, "--color=never", false).unwrap_or_default();
    assert!(!never.contains(ESC), "--color=never: {never:?}");
    let no_color = status_on_terminal(&env, &repo, "", true).unwrap_or_default();
    assert!(!no_color.contains(ESC), "NO_COLOR: {no_color:?}");

    let mut piped = env.std_cmd_in(&repo);
    piped.env_remove("NO_COLOR").arg("status");
    let piped = piped.output().expect("status");
    let text = String::from_utf8_lossy(&piped.stdout);
    assert!(text.contains("FAILING") && !text.contains(ESC), "piped: {text:?}");

    let mut forced = env.std_cmd_in(&repo);
    forced.args(["--color=always", "status"]);
    let forced = forced.output().expect("status");
    let text = String::from_utf8_lossy(&forced.stdout);
    assert!(
        text.contains(&format!("{ESC}32mok")),
        "--color=always, piped: {text:?}"
    );
}

#[test]
fn sync_and_doctor_colour_only_when_asked_or_on_a_terminal() {
    let env = TestEnv::new();
    let repo = with_a_failing_and_a_healthy_mirror(&env);
    for args in [&["sync"][..], &["doctor"][..], &["sync", "--all"][..]] {
        let plain = env.std_cmd_in(&repo).args(args).output().expect("running");
        assert!(
            !String::from_utf8_lossy(&plain.stdout).contains(ESC),
            "{args:?} piped"
        );
        let forced = env
            .std_cmd_in(&repo)
            .arg("--color=always")
            .args(args)
            .output()
            .expect("running");
        assert!(
            String::from_utf8_lossy(&forced.stdout).contains(&format!("{ESC}1m{ESC}31m")),
            "{args:?} --color=always: {}",
            String::from_utf8_lossy(&forced.stdout)
        );
    }
    let log = env.log(&repo);
    assert!(!log.contains(ESC), "a control code in the log: {log:?}");
}
