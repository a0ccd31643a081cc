//! Telling the user that a mirror started failing: one line at the next git operation run in a
//! terminal, and the mirror's own `on_failure` command. Both happen once per run of failures,
//! when it begins.

use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::config::Mirror;
use crate::repo::{Kept, Repo};

/// How long an `on_failure` command may run before it is stopped.
const ON_FAILURE_LIMIT: Duration = Duration::from_secs(60);

fn notice_path(repo: &Repo) -> PathBuf {
    repo.kept(Kept::Notice)
}

/// Records that `name` began failing; runs its `on_failure` command. `background` passes leave
/// a notice for the next hook run in a terminal (a foreground `sync` has printed it already).
pub(crate) fn failure_began(
    repo: &Repo,
    name: &str,
    mirror: &Mirror,
    since: &str,
    error: &str,
    background: bool,
) {
    let error = error.replace(['\n', '\r', '\t'], " ");
    if background {
        let line = format!("{name}\t{since}\t{error}\n");
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(notice_path(repo))
            .and_then(|mut file| file.write_all(line.as_bytes()));
        if let Err(err) = written {
            eprintln!("git-repo-sync: could not leave a failure notice: {err}");
        }
    }
    if let Some(command) = &mirror.on_failure {
        run_on_failure(repo, name, command, &error);
    }
}

/// The user's command, as they wrote it, with the details in its environment: nothing of ours
/// is ever spliced into the shell text.
fn run_on_failure(repo: &Repo, name: &str, command: &str, error: &str) {
    let spawned = Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("GIT_REPO_SYNC_MIRROR", name)
        .env("GIT_REPO_SYNC_ERROR", error)
        .env("GIT_REPO_SYNC_REPOSITORY", repo.display_path())
        .current_dir(repo.display_path())
        .stdin(Stdio::null())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => {
            eprintln!("git-repo-sync: on_failure of mirror '{name}' could not start: {err}");
            return;
        }
    };
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if !status.success() => {
                eprintln!("git-repo-sync: on_failure of mirror '{name}' exited with {status}");
                return;
            }
            Ok(Some(_)) | Err(_) => return,
            Ok(None) if started.elapsed() > ON_FAILURE_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                eprintln!("git-repo-sync: on_failure of mirror '{name}' ran over a minute and was stopped");
                return;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// The notice lines left by background passes, removed as they are taken. Cheap when there are
/// none: one failed open.
pub(crate) fn take_notices(repo: &Repo) -> Vec<String> {
    let path = notice_path(repo);
    let Ok(file) = std::fs::File::open(&path) else {
        return Vec::new();
    };
    let _ = std::fs::remove_file(&path);
    std::io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| {
            let mut fields = line.splitn(3, '\t');
            let (name, since, error) = (fields.next()?, fields.next()?, fields.next()?);
            Some(format!(
                "git-repo-sync: mirror '{name}' failing since {}: {error}; see git-repo-sync status",
                age(since).unwrap_or_else(|| since.to_owned())
            ))
        })
        .collect()
}

/// `2h`, `5m`, `12s` since an RFC 3339 timestamp (a notice keeps it as text); `None` for one
/// that does not parse or lies in the future.
fn age(timestamp: &str) -> Option<String> {
    let elapsed = humantime::parse_rfc3339(timestamp)
        .ok()
        .and_then(|at| SystemTime::now().duration_since(at).ok())?;
    Some(short(elapsed))
}

/// `2h`, `5m`, `12s`: a duration as a person reads it at a glance.
pub(crate) fn short(elapsed: std::time::Duration) -> String {
    let secs = elapsed.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}
