//! A foreground `sync` of a large push shows each mirror's progress (git's own, objects and
//! bytes) on a terminal; plain lines when piped; nothing but errors with `-q`; and never a
//! control code or a progress line in the log of a hook-triggered sync.

use std::fs;
use std::io::Write as _;

use crate::support::{TestEnv, WAIT, s};

/// Random bytes git cannot compress or delta, so that packing them takes a while.
fn write_noise(path: &std::path::Path, bytes: usize) {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut data = Vec::with_capacity(bytes);
    while data.len() < bytes {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.extend_from_slice(&state.to_le_bytes());
    }
    fs::File::create(path)
        .and_then(|mut file| file.write_all(&data))
        .expect("writing noise");
}

/// A repository with tens of megabytes to push, installed with a local mirror.
fn large(env: &TestEnv) -> (std::path::PathBuf, std::path::PathBuf) {
    let repo = env.init_empty_repo("large");
    for i in 0..3 {
        write_noise(&repo.join(format!("noise-{i}.bin")), 16 << 20);
    }
    env.git(&repo, ["add", "."]);
    // With no hook yet: the first transfer is the foreground sync's.
    env.git(&repo, ["commit", "-q", "-m", "noise"]);
    let mirror = env.root().join("mirror.git");
    env.install(&repo, &[("m", s(&mirror))]);
    (repo, mirror)
}

fn sync_on_terminal(env: &TestEnv, repo: &std::path::Path, args: &str) -> Option<String> {
    env.on_terminal(repo, &format!("sync {args}"), &[])
}

#[test]
fn a_large_foreground_sync_shows_progress_on_a_terminal_only() {
    let env = TestEnv::new();
    let (repo, mirror) = large(&env);
    let started = std::time::Instant::now();
    let Some(terminal) = sync_on_terminal(&env, &repo, "") else {
        return;
    };
    eprintln!("the sync took {:?}", started.elapsed());
    assert_eq!(env.refs(&mirror), env.refs(&repo));
    assert!(
        terminal.contains("m: Counting objects") || terminal.contains("m: Compressing objects"),
        "no objects progress: {terminal:?}"
    );
    assert!(
        terminal.contains("m: storing the pack: "),
        "no bytes progress: {terminal:?}"
    );
    assert!(terminal.contains("m: ok (1 created"), "{terminal:?}");

    // Piped: the summary alone.
    env.git(&repo, ["commit", "-q", "--allow-empty", "-m", "more"]);
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    fs::remove_dir_all(&mirror).expect("removing the mirror");
    env.git(env.root(), ["init", "-q", "--bare", s(&mirror)]);
    let piped = env.std_cmd_in(&repo).arg("sync").output().expect("sync");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&piped.stdout),
        String::from_utf8_lossy(&piped.stderr)
    );
    assert!(piped.status.success(), "{all}");
    assert!(
        !all.contains("objects") && !all.contains('\u{1b}'),
        "piped: {all:?}"
    );

    // Quiet on a terminal: nothing at all when all is well.
    fs::remove_dir_all(&mirror).expect("removing the mirror");
    env.git(env.root(), ["init", "-q", "--bare", s(&mirror)]);
    let quiet = sync_on_terminal(&env, &repo, "-q").unwrap_or_default();
    assert!(quiet.trim().is_empty(), "-q: {quiet:?}");

    let log = env.log(&repo);
    assert!(
        !log.contains("objects") && !log.contains('\u{1b}'),
        "the hook's log: {log:?}"
    );
}
