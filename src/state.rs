//! What `status` shows: per mirror, the last attempt, its result and the last error. Written
//! atomically by whoever holds the repository's sync lock.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::config::write_atomically;
use crate::failure::Failure;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct State {
    #[serde(default)]
    pub mirrors: BTreeMap<String, MirrorState>,
    /// What the schedule last found wrong with the repository's triggers, so that it is
    /// reported once, when it begins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_problem: Option<String>,
    /// When the schedule's `sync --all` last passed over the repository (written with the pass's
    /// outcome, so it costs no write of its own).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "Timestamp::lenient"
    )]
    pub last_scheduled_pass: Option<Timestamp>,
}

/// The outcome of the last attempt to sync one mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SyncResult {
    Ok,
    Failed,
}

/// A ref the mirror refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Rejection {
    #[serde(rename = "ref")]
    pub refname: String,
    pub reason: String,
}

/// What a push did to one ref.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PushAction {
    Created,
    Updated,
    /// Updated over a value that had diverged on the mirror (someone pushed there directly).
    Overwritten,
    /// Not a fast-forward, but over what we last pushed there: the source rewrote it (an amend,
    /// a rebase).
    Forced,
    Deleted,
}

/// One ref a push changed on the mirror.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PushedRef {
    #[serde(rename = "ref")]
    pub refname: String,
    pub action: PushAction,
    /// The object id the ref now has on the mirror (none after a deletion).
    pub oid: Option<String>,
}

/// `created refs/heads/x 1a2b3c4d`, as `sync` and `status` show it.
impl std::fmt::Display for PushedRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let action = match self.action {
            PushAction::Created => "created",
            PushAction::Updated => "updated",
            PushAction::Overwritten => "overwrote diverged",
            PushAction::Forced => "forced update",
            PushAction::Deleted => "deleted",
        };
        match &self.oid {
            Some(oid) => write!(f, "{action} {} {}", self.refname, &oid[..oid.len().min(10)]),
            None => write!(f, "{action} {}", self.refname),
        }
    }
}

/// How many pushed refs the state file keeps for `status`.
const PUSHED_KEPT: usize = 50;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct MirrorState {
    /// The URL with credentials redacted.
    pub url: String,
    #[serde(default, deserialize_with = "Timestamp::lenient")]
    pub last_attempt: Option<Timestamp>,
    pub last_result: Option<SyncResult>,
    #[serde(default, deserialize_with = "Timestamp::lenient")]
    pub last_success: Option<Timestamp>,
    pub last_error: Option<String>,
    /// The kind of the last error, for scripts (none in a file written before it was kept).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "Failure::lenient"
    )]
    pub last_failure: Option<Failure>,
    /// When the current run of failures began.
    #[serde(default, deserialize_with = "Timestamp::lenient")]
    pub failing_since: Option<Timestamp>,
    #[serde(default)]
    pub rejected: Vec<Rejection>,
    /// When the mirror last received anything, and what (at most 50 refs).
    #[serde(default, deserialize_with = "Timestamp::lenient")]
    pub last_push: Option<Timestamp>,
    #[serde(default)]
    pub last_pushed: Vec<PushedRef>,
    /// How many refs that last push changed in all.
    #[serde(default)]
    pub last_pushed_count: usize,
    /// A fingerprint of the local refs this mirror last took in full, so a trigger that changed
    /// none of them starts no push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_refs: Option<String>,
    /// Since when the mirror's server has refused atomic pushes: it is not asked each pass.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "Timestamp::lenient"
    )]
    pub no_atomic_since: Option<Timestamp>,
    /// When a pass last read the mirror's refs (a `git push` that went through): what was last
    /// left there is trusted for a push in one request until an hour after.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "Timestamp::lenient"
    )]
    pub refs_read_at: Option<Timestamp>,
    /// Since when a push in one request has not worked for this mirror (its server wants the
    /// advertisement first, or git's settings here are not followed by it).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "Timestamp::lenient"
    )]
    pub no_one_request_since: Option<Timestamp>,
    /// How many of this repository's LFS objects the mirror holds, as the last successful pass
    /// counted: those on a mirror on this machine, or those git-lfs was given for a mirror
    /// elsewhere. `None` without LFS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lfs_objects: Option<usize>,
    /// Whether the last successful pass had git-lfs carry the LFS objects (a mirror elsewhere).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lfs_through_git_lfs: bool,
}

impl MirrorState {
    /// Whether to ask the server for an atomic push: not while it refused one in the last day.
    pub(crate) fn ask_atomic(&self, now: SystemTime) -> bool {
        age(self.no_atomic_since, now).is_none_or(|age| age >= REFUSAL_BELIEVED_FOR)
    }

    /// Whether to push in one request, on what was last left on the mirror: while the mirror's
    /// refs were read in the last hour (so that what others changed there, refs this repository
    /// never had included, is seen within the hour), and not while it did not work in the last
    /// day.
    pub(crate) fn try_one_request(&self, now: SystemTime) -> bool {
        age(self.refs_read_at, now).is_some_and(|age| age < REFS_TRUSTED_FOR)
            && !self.one_request_refused_lately(now)
    }

    /// Whether the push in one request was refused (by the server or this machine's set-up)
    /// recently enough to be believed still.
    pub(crate) fn one_request_refused_lately(&self, now: SystemTime) -> bool {
        age(self.no_one_request_since, now).is_some_and(|age| age < REFUSAL_BELIEVED_FOR)
    }
}

/// How long before `now` the state's timestamp `at` was (`None`: none, or later).
fn age(at: Option<Timestamp>, now: SystemTime) -> Option<std::time::Duration> {
    now.duration_since(at?.0).ok()
}

/// A moment, as the state file keeps it: RFC 3339 text in UTC to the second
/// (`2026-12-07T05:33:53Z`), read into a time once, when the file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Timestamp(SystemTime);

impl Timestamp {
    pub(crate) fn at(time: SystemTime) -> Self {
        Self(time)
    }

    /// RFC 3339 text, as the state file and the trigger record keep it.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        humantime::parse_rfc3339(text.trim()).ok().map(Self)
    }

    /// Seconds since the Unix epoch (0 for a time before it), as Prometheus takes a time.
    pub(crate) fn unix_seconds(self) -> u64 {
        self.0
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs())
    }

    /// How long ago it was, if it is not in the future.
    pub(crate) fn elapsed(self) -> Option<std::time::Duration> {
        SystemTime::now().duration_since(self.0).ok()
    }

    /// An unreadable time (a hand-edited file) is none, not a state that cannot be read.
    fn lenient<'de, D: serde::Deserializer<'de>>(from: D) -> Result<Option<Self>, D::Error> {
        let text: Option<String> = Option::deserialize(from)?;
        Ok(text.as_deref().and_then(Self::parse))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", humantime::format_rfc3339_seconds(self.0))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, to: S) -> Result<S::Ok, S::Error> {
        to.collect_str(self)
    }
}

/// How long what a pass read of a mirror's refs is trusted for pushes in one request.
const REFS_TRUSTED_FOR: std::time::Duration = std::time::Duration::from_secs(60 * 60);

/// How long a server's refusal (of atomic pushes, of a push in one request) is taken at its word.
const REFUSAL_BELIEVED_FOR: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

impl State {
    /// Reads the state file; a missing or unreadable one is an empty state (it is ours, and a
    /// fresh sync rebuilds it).
    pub(crate) fn load(path: &Path) -> Self {
        std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Reads the state file, failing when it is there but cannot be read or parsed (for
    /// `doctor`, which must tell that apart from "never synced").
    pub(crate) fn read(path: &Path) -> Result<Self> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("parsing sync state {}", crate::repo::quoted(path))),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(err) => Err(err).with_context(|| format!("reading sync state {}", crate::repo::quoted(path))),
        }
    }

    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        let mut json = serde_json::to_vec_pretty(self).context("serialising sync state")?;
        json.push(b'\n');
        if std::fs::symlink_metadata(path).is_ok_and(|meta| meta.is_dir()) {
            anyhow::bail!(
                "{} is a directory where git-repo-sync keeps its state file; move it away (it is \
                 never deleted for you), then sync again",
                crate::repo::quoted(path)
            );
        }
        write_atomically(path, &json)
            .with_context(|| format!("writing sync state {}", crate::repo::quoted(path)))
    }

    /// Records one attempt's outcome for `name`.
    pub(crate) fn record(&mut self, name: &str, redacted_url: &str, attempt: &Attempt) {
        let now = Timestamp::at(attempt.at);
        let entry = self.mirrors.entry(name.to_owned()).or_default();
        entry.url = redacted_url.to_owned();
        entry.last_attempt = Some(now);
        entry.rejected.clone_from(&attempt.rejected);
        entry.last_failure.clone_from(&attempt.failure);
        match attempt.atomic {
            Some(false) if entry.no_atomic_since.is_none() => entry.no_atomic_since = Some(now),
            Some(false) | None => {}
            Some(true) => entry.no_atomic_since = None,
        }
        if attempt.one_request_refused {
            entry.no_one_request_since = Some(now);
        }
        if attempt.read_refs && attempt.error.is_none() {
            entry.refs_read_at = Some(now);
        }
        if !attempt.pushed.is_empty() {
            entry.last_push = Some(now);
            entry.last_pushed = attempt.pushed.iter().take(PUSHED_KEPT).cloned().collect();
            entry.last_pushed_count = attempt.pushed.len();
        }
        if attempt.error.is_none() && attempt.rejected.is_empty() {
            entry.last_result = Some(SyncResult::Ok);
            entry.last_success = Some(now);
            entry.last_error = None;
            entry.failing_since = None;
            entry.synced_refs.clone_from(&attempt.synced_refs);
            entry.lfs_objects = match attempt.lfs_objects {
                Some(LfsCarried::Held(n) | LfsCarried::ThroughGitLfs(n)) => Some(n),
                None => None,
            };
            entry.lfs_through_git_lfs = matches!(attempt.lfs_objects, Some(LfsCarried::ThroughGitLfs(_)));
        } else {
            if entry.last_result != Some(SyncResult::Failed) || entry.failing_since.is_none() {
                entry.failing_since = Some(now);
            }
            entry.last_result = Some(SyncResult::Failed);
            entry.last_error = attempt.error.clone().or_else(|| {
                Some(
                    attempt
                        .rejected
                        .iter()
                        .map(|r| format!("{} rejected: {}", r.refname, r.reason))
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            });
            entry.synced_refs = None;
        }
    }
}

/// What one sync attempt of one mirror came to.
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    pub at: SystemTime,
    /// Set when the mirror could not be reached or git failed as a whole (redacted).
    pub error: Option<String>,
    /// The kind of the error, or of the rejections.
    pub failure: Option<Failure>,
    pub rejected: Vec<Rejection>,
    /// The refs the mirror took.
    pub pushed: Vec<PushedRef>,
    /// The fingerprint of the local refs, when every one of them reached the mirror.
    pub synced_refs: Option<String>,
    /// Whether the server answered an atomic push (`Some(false)`: it refused one), when asked.
    pub atomic: Option<bool>,
    /// Whether the transfer read the mirror's refs (`git push` does, a push in one request not).
    pub read_refs: bool,
    /// Whether a push in one request did not work for a reason that will not go away by itself.
    pub one_request_refused: bool,
    /// How the LFS objects were carried; `None` without LFS.
    pub lfs_objects: Option<LfsCarried>,
}

/// How a pass carried a repository's LFS objects to a mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LfsCarried {
    /// Copied into a mirror on this machine, which then holds this many of ours.
    Held(usize),
    /// Handed to git-lfs for a mirror elsewhere, which has then been given this many of ours:
    /// those of every ref it took (git-lfs tells no count, so ours is of what we handed over).
    ThroughGitLfs(usize),
}

/// `at` as the text files of ours keep a time (the log, the trigger record, a notice).
pub(crate) fn timestamp(at: SystemTime) -> String {
    Timestamp::at(at).to_string()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::{MirrorState, Timestamp};

    #[test]
    fn a_push_in_one_request_trusts_refs_read_within_the_hour_and_waits_a_day_after_a_refusal() {
        let now = SystemTime::now();
        let ago = |secs| Some(Timestamp::at(now - Duration::from_secs(secs)));
        let state = |read, refused| MirrorState {
            refs_read_at: read,
            no_one_request_since: refused,
            ..MirrorState::default()
        };
        assert!(!state(None, None).try_one_request(now), "never read");
        assert!(state(ago(600), None).try_one_request(now));
        assert!(
            !state(ago(2 * 3600), None).try_one_request(now),
            "read too long ago"
        );
        assert!(
            !state(ago(600), ago(3600)).try_one_request(now),
            "refused an hour ago"
        );
        assert!(
            state(ago(600), ago(25 * 3600)).try_one_request(now),
            "refused a day ago"
        );
    }

    #[test]
    fn times_are_kept_as_rfc3339_and_an_unreadable_one_is_none() {
        let at = Timestamp::parse("2026-12-07T05:33:53Z").expect("RFC 3339");
        assert_eq!(at.to_string(), "2026-12-07T05:33:53Z");
        let kept: MirrorState = serde_json::from_str(
            r#"{"url": "/m.git", "last_attempt": "2026-12-07T05:33:53Z", "last_success": "yesterday-ish",
                "last_result": "ok", "last_error": null, "failing_since": null, "last_push": null}"#,
        )
        .expect("a state entry with one unreadable time still reads");
        assert_eq!(kept.last_attempt, Some(at));
        assert_eq!(kept.last_success, None);
        let written = serde_json::to_value(&kept).expect("writes");
        assert_eq!(written["last_attempt"], "2026-12-07T05:33:53Z");
    }
}
