//! What can go wrong with a mirror, read once from git's and ssh's own words (git runs with
//! `LC_ALL=C`), so that callers branch on a kind and never look at the text.

/// The kinds of failure callers treat differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Credentials missing or refused.
    AuthRefused,
    /// ssh does not know the host's key (and may not learn it).
    HostKeyUnknown,
    /// The host's key is not the one trusted before.
    HostKeyChanged,
    /// The mirror names its objects in the other format (SHA-1 against SHA-256).
    FormatMismatch,
    /// This repository is a shallow clone, which the mirror is not set to take.
    ShallowSource,
    /// A lock file in the mirror is in the way (another git there, or one that was killed).
    LockHeld,
    /// The mirror's server does not take atomic pushes (asked again without `--atomic`).
    AtomicUnsupported,
    /// The mirror sent nothing for its `timeout`.
    Timeout,
    /// Anything else, which may pass (the network, a busy server).
    Other,
}

/// What git says when the mirror names its objects in the other format.
const HASH_MISMATCH: &str = "does not support this repository's hash algorithm";

/// What git and ssh print when credentials are missing or refused.
const AUTH_MARKERS: &[&str] = &[
    "Permission denied (",
    "Authentication failed",
    "could not read Username",
    "could not read Password",
    "returned error: 401",
    "returned error: 403",
    "Invalid username or password",
];

impl Failure {
    /// The kind of a failed git's (or ssh's) stderr.
    pub(crate) fn read(stderr: &str) -> Self {
        if stderr.contains("does not support --atomic") || stderr.contains("atomic push") {
            Self::AtomicUnsupported
        } else if stderr.contains(HASH_MISMATCH) {
            Self::FormatMismatch
        } else if stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") {
            Self::HostKeyChanged
        } else if stderr.contains("Host key verification failed") {
            Self::HostKeyUnknown
        } else if AUTH_MARKERS.iter().any(|marker| stderr.contains(marker)) {
            Self::AuthRefused
        } else if stderr.contains(".lock': File exists") {
            Self::LockHeld
        } else {
            Self::Other
        }
    }

    /// Whether trying again (a retry after a backoff) cannot mend it.
    pub(crate) fn is_permanent(self) -> bool {
        !matches!(
            self,
            Self::LockHeld | Self::AtomicUnsupported | Self::Timeout | Self::Other
        )
    }
}

/// A mirror's failure: its kind for the caller, its message for people.
#[derive(Debug)]
pub(crate) struct MirrorError {
    kind: Failure,
    message: String,
}

impl MirrorError {
    pub(crate) fn new(kind: Failure, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn kind(&self) -> Failure {
        self.kind
    }

    /// The kind of `err`, when a mirror's failure is in its chain.
    pub(crate) fn kind_of(err: &anyhow::Error) -> Option<Failure> {
        err.chain()
            .find_map(|cause| cause.downcast_ref::<Self>())
            .map(Self::kind)
    }
}

impl std::fmt::Display for MirrorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MirrorError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gits_and_sshs_words_are_read_once_into_a_kind() {
        let cases = [
            (
                "fatal: the receiving end does not support this repository's hash algorithm\n",
                Failure::FormatMismatch,
            ),
            (
                "@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\n",
                Failure::HostKeyChanged,
            ),
            (
                "Host key verification failed.\nfatal: Could not read from remote repository.\n",
                Failure::HostKeyUnknown,
            ),
            ("git@host: Permission denied (publickey).\n", Failure::AuthRefused),
            (
                "fatal: Authentication failed for 'https://h/r.git/'\n",
                Failure::AuthRefused,
            ),
            (
                "fatal: could not read Username for 'https://h': terminal prompts disabled\n",
                Failure::AuthRefused,
            ),
            (
                "error: cannot lock ref 'refs/heads/main': Unable to create '/m.git/refs/heads/main.lock': File exists.\n",
                Failure::LockHeld,
            ),
            (
                "ssh: connect to host h port 22: Connection refused\n",
                Failure::Other,
            ),
        ];
        for (stderr, kind) in cases {
            assert_eq!(Failure::read(stderr), kind, "{stderr}");
        }
        assert!(Failure::AuthRefused.is_permanent() && !Failure::Other.is_permanent());
        assert!(
            !Failure::LockHeld.is_permanent(),
            "a killed git's lock is removed by the next pass"
        );
    }
}
