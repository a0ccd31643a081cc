//! `metrics`: what `status` knows, in the Prometheus text exposition format (version 0.0.4), the
//! format node_exporter's textfile collector reads. Built from the very reports `status` builds,
//! so the two never tell different stories.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};

use crate::cli::MetricsArgs;
use crate::commands::ExitStatus;
use crate::commands::status::{self, LastResult, Registered, StatusReport};
use crate::config::Config;
use crate::repo::Repo;
use crate::state::Timestamp;

/// Whose passes wrote the series: the label `user` on each, and the name of the file the schedule
/// writes into a textfile directory. Several users' schedules (and the system's, as root) may
/// write into one directory, and node_exporter quietly drops a series that a second file repeats:
/// each owner writes a file of its own, with series of its own.
pub(crate) struct Owner {
    /// The user's name, or the uid where the password database has none.
    pub(crate) name: String,
    root: bool,
}

impl Owner {
    /// The user this process runs as.
    pub(crate) fn current() -> Self {
        let uid = crate::repo::effective_uid();
        Self {
            name: crate::repo::user_name(uid).unwrap_or_else(|| uid.to_string()),
            root: uid == 0,
        }
    }

    /// `git-repo-sync.prom` for root (the system's schedule), `git-repo-sync-NAME.prom` for any
    /// other user.
    pub(crate) fn textfile(&self) -> String {
        if self.root {
            return "git-repo-sync.prom".to_owned();
        }
        // A name from LDAP may hold anything; the file name keeps to what is safe in a path.
        let name: String = self
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("git-repo-sync-{name}.prom")
    }
}

pub(crate) fn run(args: &MetricsArgs) -> Result<ExitStatus> {
    let git_runs_config_hooks = crate::git::runs_config_hooks()?;
    let entries = if args.all {
        status::build_all(git_runs_config_hooks)?
    } else {
        let repo = Repo::discover()?;
        super::register_deferred(&repo);
        vec![Registered::Report(status::build(
            &repo,
            &Config::for_repo(&repo)?,
            git_runs_config_hooks,
        )?)]
    };
    anstream::print!("{}", render(&entries, &Owner::current()));
    Ok(ExitStatus::Success)
}

/// Writes the fleet's metrics to the owner's file in `dir` ([`Owner::textfile`]) through a
/// temporary file in `dir` renamed into place, so a scrape reads the last whole file, never a part
/// of one (the collector reads only `*.prom`, so the temporary file is never read).
pub(crate) fn write_textfile(dir: &Path, git_runs_config_hooks: bool) -> Result<()> {
    if !dir.is_dir() {
        anyhow::bail!(
            "writing metrics: {} is not a directory (create it, or give the textfile directory \
             of node_exporter's --collector.textfile.directory)",
            crate::repo::quoted(dir)
        );
    }
    let entries = status::build_all(git_runs_config_hooks)?;
    let owner = Owner::current();
    let path = dir.join(owner.textfile());
    crate::config::write_atomically(&path, render(&entries, &owner).as_bytes())
        .with_context(|| format!("writing metrics {}", crate::repo::quoted(&path)))
}

/// One metric family: its samples, each with its labels.
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, u64)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            help,
            samples: Vec::new(),
        }
    }

    fn add(&mut self, labels: Vec<(&'static str, String)>, value: u64) {
        self.samples.push((labels, value));
    }

    fn add_time(&mut self, labels: Vec<(&'static str, String)>, at: Option<Timestamp>) {
        if let Some(at) = at {
            self.add(labels, at.unix_seconds());
        }
    }
}

/// The exposition text of `entries`: every family once, with its HELP and TYPE, then its
/// samples; a family without any sample is left out. All are gauges: each is a state, not a count.
/// Every series has the label `user`, the `owner` whose passes it tells of.
pub(crate) fn render(entries: &[Registered], owner: &Owner) -> String {
    let mut readable = Family::new(
        "git_repo_sync_repository_readable",
        "Whether the repository, its config and its state file could be read (0: see `git-repo-sync status --all`).",
    );
    let mut triggers = Family::new(
        "git_repo_sync_triggers_healthy",
        "Whether git runs git-repo-sync's triggers in the repository (1 as well for one synced by the schedule alone).",
    );
    let mut scheduled = Family::new(
        "git_repo_sync_last_scheduled_pass_timestamp_seconds",
        "When the schedule's sync --all last passed over the repository.",
    );
    let mut info = Family::new(
        "git_repo_sync_mirror_info",
        "A configured mirror, with its URL (credentials redacted).",
    );
    let mut attempt = Family::new(
        "git_repo_sync_mirror_last_attempt_timestamp_seconds",
        "When the mirror was last contacted.",
    );
    let mut success = Family::new(
        "git_repo_sync_mirror_last_success_timestamp_seconds",
        "When the mirror last took everything it was sent.",
    );
    let mut failing = Family::new(
        "git_repo_sync_mirror_failing",
        "Whether the mirror's last attempt failed or had a ref rejected.",
    );
    let mut failing_since = Family::new(
        "git_repo_sync_mirror_failing_since_timestamp_seconds",
        "When the mirror's current run of failures began (only while it fails).",
    );
    let mut pending = Family::new(
        "git_repo_sync_mirror_pending_refs",
        "Refs whose value here the mirror has not taken yet (absent before its first success).",
    );
    let mut lfs = Family::new(
        "git_repo_sync_mirror_lfs_objects",
        "LFS objects of the repository a mirror holds, as the last successful pass counted (for a mirror elsewhere: those git-lfs put on its LFS server).",
    );
    for entry in entries {
        let report: &StatusReport = match entry {
            Registered::Report(report) => report,
            Registered::Unreadable { path, .. } => {
                readable.add(vec![("repository", path_label(path))], 0);
                continue;
            }
        };
        let repository = path_label(&report.path);
        let of_repository = || vec![("repository", repository.clone())];
        readable.add(of_repository(), u64::from(report.state_error.is_none()));
        triggers.add(of_repository(), u64::from(report.triggers.ok));
        scheduled.add_time(of_repository(), report.last_scheduled_pass);
        for mirror in &report.mirrors {
            let of_mirror = || {
                vec![
                    ("repository", repository.clone()),
                    ("mirror", mirror.name.clone()),
                ]
            };
            let mut with_url = of_mirror();
            // `status` shows this redacted form; the URL as configured may hold a token.
            with_url.push(("url", mirror.url.clone()));
            info.add(with_url, 1);
            attempt.add_time(of_mirror(), mirror.last_attempt);
            success.add_time(of_mirror(), mirror.last_success);
            let is_failing = mirror.last_result == LastResult::Failed;
            failing.add(of_mirror(), u64::from(is_failing));
            if is_failing {
                failing_since.add_time(of_mirror(), mirror.failing_since);
            }
            if let Some(refs) = &mirror.pending {
                pending.add(of_mirror(), refs.len() as u64);
            }
            if let Some(count) = mirror.lfs_objects {
                lfs.add(of_mirror(), count as u64);
            }
        }
    }
    let mut text = String::new();
    for family in [
        readable,
        triggers,
        scheduled,
        info,
        attempt,
        success,
        failing,
        failing_since,
        pending,
        lfs,
    ] {
        if family.samples.is_empty() {
            continue;
        }
        // Writing into a String cannot fail.
        let _ = writeln!(text, "# HELP {} {}", family.name, escape_help(family.help));
        let _ = writeln!(text, "# TYPE {} gauge", family.name);
        for (labels, value) in &family.samples {
            let labels: Vec<String> = labels
                .iter()
                .chain([&("user", owner.name.clone())])
                .map(|(name, value)| format!("{name}=\"{}\"", escape_label(value)))
                .collect();
            let _ = writeln!(text, "{}{{{}}} {value}", family.name, labels.join(","));
        }
    }
    text
}

/// A path as a label value: its text as it is (a name that is not UTF-8 made readable).
fn path_label(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// A label value as the exposition format quotes it: backslash, double quote and newline escaped.
fn escape_label(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// HELP text as the exposition format takes it: backslash and newline escaped.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::{Owner, escape_help, escape_label};

    #[test]
    fn root_writes_the_systems_file_and_any_other_user_one_of_their_own() {
        let owner = |name: &str, root| Owner {
            name: name.to_owned(),
            root,
        };
        assert_eq!(owner("root", true).textfile(), "git-repo-sync.prom");
        assert_eq!(owner("alice", false).textfile(), "git-repo-sync-alice.prom");
        assert_eq!(owner("1001", false).textfile(), "git-repo-sync-1001.prom");
        assert_eq!(
            owner("DOMAIN\\bob/x", false).textfile(),
            "git-repo-sync-DOMAIN_bob_x.prom"
        );
    }

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        assert_eq!(escape_label(r#"/srv/a "b"\c"#), r#"/srv/a \"b\"\\c"#);
        assert_eq!(escape_label("line\nbreak"), "line\\nbreak");
        assert_eq!(escape_help("a\\b\nc \"q\""), "a\\\\b\\nc \"q\"");
    }
}
