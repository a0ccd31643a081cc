//! What a transfer's per-ref results mean for the user: the words `sync` prints and the attempt
//! the state keeps.

use std::time::SystemTime;

use super::plan::{Change, RefResult, Refs};
use crate::config::Mirror;
use crate::failure::Failure;
use crate::state::{Attempt, PushAction, PushedRef, Rejection};

/// What happened to one mirror in one pass.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    pub name: String,
    /// Nothing mirrored changed here since the last full sync, so the mirror was not contacted.
    pub skipped: bool,
    pub attempt: Attempt,
}

impl Report {
    pub(super) fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            skipped: false,
            attempt: Attempt {
                at: SystemTime::now(),
                error: None,
                failure: None,
                rejected: Vec::new(),
                pushed: Vec::new(),
                synced_refs: None,
                atomic: None,
                read_refs: false,
                one_request_refused: false,
                lfs_objects: None,
            },
        }
    }

    pub(crate) fn failed(&self) -> bool {
        self.attempt.error.is_some() || !self.attempt.rejected.is_empty()
    }

    /// One line for the user or the log: `name: result`.
    pub(crate) fn summary(&self) -> String {
        let name = &self.name;
        if let Some(error) = &self.attempt.error {
            return format!("{name}: failed: {error}");
        }
        let count = |action| self.attempt.pushed.iter().filter(|p| p.action == action).count();
        let mut counts = format!(
            "{} created, {} updated, {} deleted",
            count(PushAction::Created),
            count(PushAction::Updated) + count(PushAction::Forced) + count(PushAction::Overwritten),
            count(PushAction::Deleted)
        );
        if count(PushAction::Overwritten) > 0 {
            counts.push_str(&format!(
                "; overwrote {} ref(s) that had diverged on the mirror",
                count(PushAction::Overwritten)
            ));
        }
        if !self.attempt.rejected.is_empty() {
            let rejected: Vec<String> = self
                .attempt
                .rejected
                .iter()
                .map(|r| format!("{} {}", r.refname, r.reason))
                .collect();
            return format!("{name}: failed: rejected {}; {counts}", rejected.join(", "));
        }
        if self.attempt.pushed.is_empty() {
            format!("{name}: up to date")
        } else {
            format!("{name}: ok ({counts})")
        }
    }
}

/// What a forced update of `refname` from `old` was: the source's own rewrite when the mirror
/// still had what we last pushed there, else an overwrite of what diverged on the mirror.
fn forced_action(known: Option<&Refs>, refname: &str, old: Option<&String>) -> PushAction {
    match (known.and_then(|known| known.get(refname)), old) {
        (Some(last_pushed), Some(old)) if !old.is_empty() && last_pushed.starts_with(old.as_str()) => {
            PushAction::Forced
        }
        _ => PushAction::Overwritten,
    }
}

/// The pushed-ref entry for a change the transfer made, `forced` when it was not a fast-forward.
fn pushed(change: &Change, forced: bool, known: Option<&Refs>) -> PushedRef {
    let (action, oid) = match change {
        Change::Create { new, .. } => (PushAction::Created, Some(new.clone())),
        Change::Update {
            refname, old, new, ..
        } if forced => (forced_action(known, refname, Some(old)), Some(new.clone())),
        Change::Update { new, .. } => (PushAction::Updated, Some(new.clone())),
        Change::Delete { .. } => (PushAction::Deleted, None),
    };
    PushedRef {
        refname: change.refname().to_owned(),
        action,
        oid,
    }
}

/// Reads a transfer's per-ref `results` into `attempt`: each planned change (the direct
/// transfer plans), then every ref a push of the mirror's patterns reports (git planned those).
/// `known` is what the mirror last took from us, to tell our own rewrites from a diverged mirror.
pub(super) fn read_results(
    attempt: &mut Attempt,
    mirror: &Mirror,
    changes: &[Change],
    mut results: std::collections::BTreeMap<String, RefResult>,
    local: &Refs,
    known: Option<&Refs>,
) {
    for change in changes {
        let refname = change.refname();
        match results.remove(refname) {
            Some(RefResult::Done | RefResult::Created | RefResult::UpToDate) => {
                attempt.pushed.push(pushed(change, false, known));
            }
            Some(RefResult::Forced { .. }) => attempt.pushed.push(pushed(change, true, known)),
            Some(RefResult::Rejected(reason)) => attempt.rejected.push(Rejection {
                refname: refname.to_owned(),
                reason: mirror.url.redact(&reason),
            }),
            None => attempt.rejected.push(Rejection {
                refname: refname.to_owned(),
                reason: "git push reported nothing for this ref".to_owned(),
            }),
        }
    }
    for (refname, result) in results {
        let (action, oid) = match result {
            RefResult::UpToDate => continue,
            RefResult::Rejected(reason) => {
                attempt.rejected.push(Rejection {
                    reason: mirror.url.redact(&reason),
                    refname,
                });
                continue;
            }
            RefResult::Created => (PushAction::Created, local.get(&refname).cloned()),
            RefResult::Done if !local.contains_key(&refname) => (PushAction::Deleted, None),
            RefResult::Done => (PushAction::Updated, local.get(&refname).cloned()),
            RefResult::Forced { old } => (
                forced_action(known, &refname, old.as_ref()),
                local.get(&refname).cloned(),
            ),
        };
        attempt.pushed.push(PushedRef { refname, action, oid });
    }
    if !attempt.rejected.is_empty() {
        let mut reasons: Vec<&str> = Vec::new();
        for rejection in &attempt.rejected {
            if !reasons.contains(&rejection.reason.as_str()) {
                reasons.push(&rejection.reason);
            }
        }
        attempt.failure = Some(Failure::Rejected {
            reason: reasons.join("; "),
        });
    }
}
