//! The trigger record (`repo-sync.trigger` in the git dir): which hook fired last and when, for
//! `status`, and whether that trigger had to leave registering the repository for later.

use std::path::Path;

use anyhow::Result;

use super::HookKind;
use crate::repo::Repo;

/// Ends the record of a trigger that could not register the repository: there was no global git
/// config to write to (no HOME: a GUI, a service). The next trigger, `status` or `sync` that has
/// one registers it.
const UNREGISTERED: &str = "unregistered";

/// What the last trigger left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub hook: String,
    pub at: String,
    /// The repository's registration was left for later.
    pub unregistered: bool,
}

/// The record, if a trigger left a readable one.
pub(crate) fn read(repo: &Repo) -> Option<Record> {
    parse(&std::fs::read_to_string(repo.trigger_record_path()).ok()?)
}

fn parse(text: &str) -> Option<Record> {
    let mut fields = text.split_whitespace();
    let (hook, at) = (fields.next()?, fields.next()?);
    Some(Record {
        hook: hook.to_owned(),
        at: at.to_owned(),
        unregistered: fields.next() == Some(UNREGISTERED),
    })
}

/// Records that `kind` fired now.
pub(crate) fn write(repo: &Repo, kind: HookKind, unregistered: bool) -> std::io::Result<()> {
    let now = crate::state::timestamp(std::time::SystemTime::now());
    write_record(
        &repo.trigger_record_path(),
        &Record {
            hook: kind.name().to_owned(),
            at: now,
            unregistered,
        },
    )
}

fn write_record(path: &Path, record: &Record) -> std::io::Result<()> {
    let mark = if record.unregistered {
        format!(" {UNREGISTERED}")
    } else {
        String::new()
    };
    std::fs::write(path, format!("{} {}{mark}\n", record.hook, record.at))
}

/// Registers the repository when its last trigger had to leave that for later and a global git
/// config can be written now; true when it was registered here.
pub(crate) fn register_deferred(repo: &Repo) -> Result<bool> {
    let Some(record) = read(repo).filter(|record| record.unregistered) else {
        return Ok(false);
    };
    if !crate::registry::global_config_known() {
        return Ok(false);
    }
    crate::registry::register(repo.display_path())?;
    // Done: the next trigger need not try again.
    let _ = write_record(
        &repo.trigger_record_path(),
        &Record {
            unregistered: false,
            ..record
        },
    );
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_read_with_and_without_its_mark() {
        assert_eq!(
            parse("post-commit 2026-12-07T05:00:00Z\n"),
            Some(Record {
                hook: "post-commit".to_owned(),
                at: "2026-12-07T05:00:00Z".to_owned(),
                unregistered: false,
            })
        );
        assert!(parse("post-merge 2026-12-07T05:00:00Z unregistered\n").is_some_and(|r| r.unregistered));
        assert_eq!(parse("garbage"), None);
    }
}
