//! One job over every registered repository, a few at a time: most of a quiet repository's cost
//! is waiting on small git processes, so even two cores do several at once.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;

use crate::commands::ExitStatus;
use crate::config::Layers;

/// At most this many repositories are worked on at once.
const MAX_PARALLEL: usize = 8;

/// How much a line of a report matters, and its priority in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Severity {
    /// A failure the user must act on: a failing mirror, a repository gone, triggers not run.
    Failure,
    /// Done, but not all of it: shown with the failures.
    Warning,
    Info,
}

impl Severity {
    /// The syslog priority prefix journald reads off a service's line (`SyslogLevelPrefix=`).
    fn journal_prefix(self) -> &'static str {
        match self {
            Self::Failure => "<3>",
            Self::Warning => "<4>",
            Self::Info => "<6>",
        }
    }
}

/// One line of a report over many repositories.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub severity: Severity,
    pub text: String,
}

impl Line {
    pub(crate) fn ok(text: impl Into<String>) -> Self {
        Self {
            severity: Severity::Info,
            text: text.into(),
        }
    }

    pub(crate) fn warning(text: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            text: text.into(),
        }
    }

    pub(crate) fn failed(text: impl Into<String>) -> Self {
        Self {
            severity: Severity::Failure,
            text: text.into(),
        }
    }
}

/// A repository of the fleet.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub path: PathBuf,
    /// Installed into (in the registry), so its triggers are expected; else found below a root
    /// of the user's or the system's config, which the schedule covers without triggers.
    pub registered: bool,
}

/// The registered repositories, then those below the roots of the user's and the system's
/// config that are not registered (new ones included: they are looked for every time).
pub(crate) fn members(layers: &Layers) -> Result<Vec<Member>> {
    let registered = crate::registry::list()?;
    let known: std::collections::HashSet<PathBuf> = registered.iter().map(|path| canonical(path)).collect();
    let mut members: Vec<Member> = registered
        .into_iter()
        .map(|path| Member {
            path,
            registered: true,
        })
        .collect();
    for root in layers.roots() {
        // A root that is not there (an unmounted disk) has nothing to sync; not an error.
        let Ok(found) = crate::repo::find_below(&root, false) else {
            continue;
        };
        // Another user's repositories below a shared root are that user's pass to sync (git
        // would refuse them here anyway), not failures of this one.
        let me = crate::repo::effective_uid();
        members.extend(
            found
                .into_iter()
                .filter(|path| !known.contains(&canonical(path)))
                .filter(|path| std::fs::metadata(path).is_ok_and(|meta| meta.uid() == me))
                .map(|path| Member {
                    path,
                    registered: false,
                }),
        );
    }
    Ok(members)
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Runs `job` for each repository of the fleet ([`members`]), in parallel, and returns the
/// results in that order. The system and user config files are read once, for all of them.
pub(crate) fn for_each_member<T: Send>(job: impl Fn(&Layers, &Member) -> T + Sync) -> Result<Vec<T>> {
    let layers = Layers::read()?;
    Ok(parallel_map(&members(&layers)?, |member| job(&layers, member)))
}

/// `job` over each of `items`, a few at a time, the results in the items' order: most of a
/// repository's cost is waiting on small git processes, so even two cores do several at once.
pub(crate) fn parallel_map<I: Sync, T: Send>(items: &[I], job: impl Fn(&I) -> T + Sync) -> Vec<T> {
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get() * 2)
        .clamp(1, MAX_PARALLEL)
        .min(items.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(index) else {
                        return;
                    };
                    let result = job(item);
                    results.lock().unwrap_or_else(std::sync::PoisonError::into_inner)[index] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect()
}

/// Prints `lines`, failures and warnings first, each group in the order given; with
/// `only_failures`, those alone. Into the journal (the schedule's systemd service), each line
/// starts with its priority, so that `journalctl -p err` shows exactly the failures.
pub(crate) fn print(lines: &[Line], only_failures: bool) -> std::io::Result<()> {
    use std::io::Write as _;
    let journal = crate::ui::stdout_is_journal();
    let mut out = anstream::stdout().lock();
    let (failures, rest): (Vec<&Line>, Vec<&Line>) =
        lines.iter().partition(|line| line.severity != Severity::Info);
    for line in failures {
        if journal {
            writeln!(out, "{}{}", line.severity.journal_prefix(), line.text)?;
        } else {
            writeln!(out, "{}", crate::ui::failure(&line.text))?;
        }
    }
    if !only_failures {
        for line in rest {
            let prefix = if journal {
                line.severity.journal_prefix()
            } else {
                ""
            };
            writeln!(out, "{prefix}{}", line.text)?;
        }
    }
    Ok(())
}

/// Error (the user must act) over a mirror failure over success.
pub(crate) fn worst(statuses: impl Iterator<Item = ExitStatus>) -> ExitStatus {
    statuses.fold(ExitStatus::Success, |worst, status| match (worst, status) {
        (ExitStatus::Error, _) | (_, ExitStatus::Error) => ExitStatus::Error,
        (ExitStatus::MirrorFailed, _) | (_, ExitStatus::MirrorFailed) => ExitStatus::MirrorFailed,
        _ => ExitStatus::Success,
    })
}

/// What to do about a repository of the fleet that cannot be opened: a registered one is
/// forgotten; one found below a root is mended, moved or removed there.
pub(crate) fn unreadable_hint(member: &Member) -> String {
    if member.registered {
        forget_hint(&member.path)
    } else {
        "it was found below a root of the user's or the system's config; repair it, or move it out \
         of that directory"
            .to_owned()
    }
}

/// How to stop `sync --all` from looking for a repository that is gone.
pub(crate) fn forget_hint(path: &Path) -> String {
    format!(
        "if it moved, run `git-repo-sync install` where it is now; to forget it: git config \
         --global --fixed-value --unset-all {} {}",
        crate::registry::KEY,
        crate::shell::quote_path(path)
    )
}
