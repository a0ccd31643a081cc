//! What can go wrong with a mirror, read once from git's and ssh's own words (git runs with
//! `LC_ALL=C`), from git-lfs's, or told by our own HTTP client, so that callers branch on a kind
//! and never look at the text. The kind is kept in the state file and named in `status --json` and `verify --json`.

use serde::{Deserialize, Serialize};

/// The kinds of failure callers treat differently; as JSON, `{"kind": "auth_refused"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
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
    /// The mirror sent nothing for its `timeout`, or the connection to it timed out.
    Timeout,
    /// No repository where the mirror's URL points (a wrong path, one not created yet, a forge's
    /// "not found").
    NotARepository,
    /// The push reached the mirror and was turned down (a hook declined it, a ref diverged there),
    /// with the reason given (credentials redacted).
    Rejected { reason: String },
    /// The mirror's settings ask for what is not here (a `token_env` variable not set).
    SetUp,
    /// Anything else, which may pass (the network, a busy server); also a kind this version does
    /// not know, read from a state file a later one wrote.
    #[serde(other)]
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

/// What git (and a forge through it) prints where the URL holds no repository.
const NOT_A_REPOSITORY_MARKERS: &[&str] = &[
    "does not appear to be a git repository",
    "not a git repository",
    "Repository not found",
    // A file where the repository should be.
    "invalid gitfile format",
];

/// What ssh and git's http client print when the connection timed out.
const TIMEOUT_MARKERS: &[&str] = &["Operation too slow", "timed out", "Timeout, server"];

impl Failure {
    /// The kind of a failed git's (or ssh's) stderr.
    pub(crate) fn read(stderr: &str) -> Self {
        let any = |markers: &[&str]| markers.iter().any(|marker| stderr.contains(marker));
        if stderr.contains(HASH_MISMATCH) {
            Self::FormatMismatch
        } else if stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") {
            Self::HostKeyChanged
        } else if stderr.contains("Host key verification failed") {
            Self::HostKeyUnknown
        } else if any(AUTH_MARKERS) {
            Self::AuthRefused
        // Before a rejection: a ref the mirror could not lock is also reported rejected, and
        // the lock is gone by a later pass.
        } else if stderr.contains(".lock': File exists") {
            Self::LockHeld
        } else if let Some(reason) = rejection(stderr) {
            Self::Rejected { reason }
        } else if stderr.contains("does not support --atomic") || stderr.contains("atomic push") {
            Self::AtomicUnsupported
        } else if any(NOT_A_REPOSITORY_MARKERS) || https_not_found(stderr) {
            Self::NotARepository
        } else if any(TIMEOUT_MARKERS) {
            Self::Timeout
        } else {
            Self::Other
        }
    }

    /// Whether trying again (a retry after a backoff) cannot mend it. A missing repository
    /// may come back: a disk mounted again, a share reconnected.
    pub(crate) fn is_permanent(&self) -> bool {
        !matches!(
            self,
            Self::LockHeld | Self::AtomicUnsupported | Self::Timeout | Self::NotARepository | Self::Other
        )
    }

    /// A kind kept in the state file; one that cannot be read (a hand-edited file) is none, not
    /// a state that cannot be read.
    pub(crate) fn lenient<'de, D: serde::Deserializer<'de>>(from: D) -> Result<Option<Self>, D::Error> {
        let kept: Option<serde_json::Value> = Option::deserialize(from)?;
        Ok(kept.and_then(|kept| serde_json::from_value(kept).ok()))
    }
}

/// The reason of a push the mirror turned down, from git's ` ! [remote rejected] main -> main
/// (pre-receive hook declined)` lines (those of `git push` without `--porcelain`, which prints
/// them on stdout) and the `remote:` lines a hook printed: `pre-receive hook declined: remote: ...`.
fn rejection(stderr: &str) -> Option<String> {
    let mut why: Vec<&str> = Vec::new();
    for line in stderr.lines().map(str::trim) {
        if !line.starts_with("! [") {
            continue;
        }
        let said = line
            .rsplit_once(" (")
            .and_then(|(_, said)| said.strip_suffix(')'))
            .unwrap_or("rejected");
        if !why.contains(&said) {
            why.push(said);
        }
    }
    if why.is_empty() {
        return None;
    }
    let mut reason = why.join(", ");
    let told = reason_lines(stderr.as_bytes());
    if !told.is_empty() {
        reason.push_str(": ");
        reason.push_str(&told.join(" "));
    }
    Some(reason)
}

/// git's words for an https URL that holds no repository: `fatal: repository 'URL' not found`.
fn https_not_found(stderr: &str) -> bool {
    stderr.lines().any(|line| {
        line.trim_end()
            .strip_prefix("fatal: repository '")
            .is_some_and(|rest| rest.ends_with("' not found"))
    })
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

    pub(crate) fn kind(&self) -> &Failure {
        &self.kind
    }

    /// The kind of `err`, when a mirror's failure is in its chain.
    pub(crate) fn kind_of(err: &anyhow::Error) -> Option<&Failure> {
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

/// At most this many of git's reason lines are kept, each cut to [`REASON_LINE_MAX`] bytes: a
/// remote's hook may print without end, and the reason ends up in the state file and the log.
const REASON_LINES_MAX: usize = 10;
const REASON_LINE_MAX: usize = 300;

/// git's own words for a failure, from its stderr: the `fatal:` and `error:` lines, ssh's and a
/// forge's (`ssh:`, `ERROR:`), and the `remote:` lines through which a remote's receive-pack and
/// hooks speak (their progress left out). "failed to push some refs" is left out too: it says only that something failed.
pub(crate) fn reason_lines(stderr: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(stderr);
    let mut kept: Vec<String> = Vec::new();
    // Progress rewrites its line with `\r`; each piece is a line of its own.
    for line in text.split(['\n', '\r']).map(str::trim) {
        let keep = if let Some(said) = line.strip_prefix("remote:") {
            let said = said.trim();
            !said.is_empty() && !is_progress(said)
        } else {
            // ssh's own failures (`ssh: Could not resolve hostname`) and what a forge says over
            // ssh (`ERROR: Repository not found.`) come before git's generic fatal line.
            (line.starts_with("fatal:")
                || line.starts_with("error:")
                || line.starts_with("ssh:")
                || line.starts_with("ERROR:"))
                && !line.starts_with("error: failed to push some refs")
        };
        if !keep {
            continue;
        }
        let mut line = crate::url::redact_credentials(line);
        if line.len() > REASON_LINE_MAX {
            let mut end = REASON_LINE_MAX;
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            line.truncate(end);
            line.push('…');
        }
        if !kept.contains(&line) {
            kept.push(line);
        }
        if kept.len() == REASON_LINES_MAX {
            break;
        }
    }
    kept
}

/// Whether a remote's line is git's progress (`Resolving deltas: 100% (3/3), done.`,
/// `Total 3 (delta 0), reused 0 ...`) rather than something said about the push.
fn is_progress(said: &str) -> bool {
    if said.starts_with("Total ") {
        return true;
    }
    let Some((_, count)) = said.split_once(": ") else {
        return false;
    };
    let count = count.trim_start();
    let digits = count.len() - count.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    digits > 0 && (count[digits..].starts_with("% (") || count[digits..].starts_with(", done."))
}

/// Why git-lfs could not carry the objects, read once from what it printed; each says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LfsFailure {
    /// `git lfs` is not a git command here: git-lfs is not installed.
    NoGitLfs,
    /// The mirror's server has no LFS endpoint where git-lfs looked for one.
    NoServer { said: String },
    /// Objects the new commits point at are missing (or corrupt) in this repository too.
    MissingHere { said: String },
    /// The LFS server wants a login git-lfs was not given, or refused it.
    Login { said: String },
    /// Anything else git-lfs said (a server down, a full disk there).
    Other { said: String },
}

impl LfsFailure {
    /// Reads git-lfs's (or git's) stderr and exit code.
    pub(crate) fn read(stderr: &str, code: Option<i32>) -> Self {
        let said = said_lines(stderr);
        let any = |markers: &[&str]| markers.iter().any(|marker| stderr.contains(marker));
        if any(&["'lfs' is not a git command"]) {
            Self::NoGitLfs
        } else if any(&[
            "Unable to find source for object",
            "missing objects",
            "(missing)",
            "(corrupt)",
        ]) {
            Self::MissingHere { said }
        } else if any(&[
            "could not read Username",
            "could not read Password",
            "Authentication required",
            "Authorization error",
            "401 Unauthorized",
            "403 Forbidden",
            "Permission denied (",
        ]) {
            Self::Login { said }
        } else if any(&[
            "Repository or object not found",
            "404 Not Found",
            "405 Method Not Allowed",
            "501 Not Implemented",
            "git-lfs-authenticate",
        ]) {
            Self::NoServer { said }
        } else {
            let said = if said.is_empty() {
                format!(
                    "git-lfs exited with {}",
                    code.map_or("a signal".to_owned(), |c| c.to_string())
                )
            } else {
                said
            };
            Self::Other { said }
        }
    }

    /// Whether trying again cannot help until someone acts.
    pub(crate) fn permanent(&self) -> bool {
        !matches!(self, Self::Other { .. })
    }
}

impl std::fmt::Display for LfsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoGitLfs => f.write_str(
                "this repository has Git LFS objects, but git-lfs is not installed here, so they \
                 cannot reach the mirror and its refs were not moved; install git-lfs (Debian: \
                 apt-get install git-lfs), then sync again",
            ),
            Self::NoServer { said } => write!(
                f,
                "the mirror takes no Git LFS objects ({said}), so its refs were not moved; enable \
                 Git LFS on its server, then sync again"
            ),
            Self::MissingHere { said } => write!(
                f,
                "LFS objects the new commits point at are missing or corrupt here ({said}), so \
                 the mirror's refs were not moved; fetch them with `git lfs fetch --all`, then sync \
                 again"
            ),
            Self::Login { said } => write!(
                f,
                "the mirror's LFS server refused the login ({said}), so its refs were not moved; \
                 check the mirror's credentials (its `token_env` for https, its key for ssh), then \
                 sync again"
            ),
            Self::Other { said } => write!(f, "carrying LFS objects failed, refs not moved: {said}"),
        }
    }
}

impl std::error::Error for LfsFailure {}

/// git-lfs's lines worth showing: not its progress, at most a few.
fn said_lines(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("Uploading LFS objects:"))
        .take(4)
        .collect();
    lines.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What git 2.47.3 (`LC_ALL=C`) printed on stderr, captured against repositories on this
    /// machine, a loopback sshd (`ssh://root@127.0.0.1:22992`) and a loopback http server.
    const NO_ACCESS: &str = "fatal: Could not read from remote repository.\n\n\
        Please make sure you have the correct access rights\nand the repository exists.\n";

    fn captured(first: &str) -> String {
        format!("{first}{NO_ACCESS}")
    }

    #[test]
    fn gits_and_sshs_captured_words_are_read_once_into_a_kind() {
        let host_key_changed = "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
            @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n\
            @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
            IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n\
            Offending ED25519 key in /tmp/cap/ssh/kh_bad:1\n\
            \x20 remove with:\n\
            \x20 ssh-keygen -f \"/tmp/cap/ssh/kh_bad\" -R \"[127.0.0.1]:22992\"\n\
            Host key for [127.0.0.1]:22992 has changed and you have requested strict checking.\n\
            Host key verification failed.\n";
        let lock_held = "remote: error: cannot lock ref 'refs/heads/main': Unable to create \
            '/tmp/cap/nonff.git/./refs/heads/main.lock': File exists.        \n\
            remote: \n\
            remote: Another git process seems to be running in this repository, e.g.        \n\
            remote: may have crashed in this repository earlier:        \n\
            remote: remove the file manually to continue.        \n\
            To /tmp/cap/nonff.git\n \
            ! [remote rejected] HEAD -> main (failed to update ref)\n\
            error: failed to push some refs to '/tmp/cap/nonff.git'\n";
        let cases = [
            (
                captured("Host key verification failed.\n"),
                Failure::HostKeyUnknown,
            ),
            (captured(host_key_changed), Failure::HostKeyChanged),
            (
                captured("root@127.0.0.1: Permission denied (publickey,keyboard-interactive).\n"),
                Failure::AuthRefused,
            ),
            (
                "fatal: could not read Username for 'http://127.0.0.1:22993': terminal prompts disabled\n"
                    .to_owned(),
                Failure::AuthRefused,
            ),
            (
                "fatal: Authentication failed for 'http://127.0.0.1:22993/auth/r.git/'\n".to_owned(),
                Failure::AuthRefused,
            ),
            (
                "fatal: unable to access 'http://127.0.0.1:22993/forbidden/r.git/': The requested URL \
                 returned error: 403\n"
                    .to_owned(),
                Failure::AuthRefused,
            ),
            (lock_held.to_owned(), Failure::LockHeld),
            (
                "fatal: unable to access 'http://127.0.0.1:22993/slow/r.git/': Operation too slow. \
                 Less than 1 bytes/sec transferred the last 2 seconds\n"
                    .to_owned(),
                Failure::Timeout,
            ),
            (
                captured(
                    "Connection timed out during banner exchange\n\
                     Connection to 127.0.0.1 port 22994 timed out\n",
                ),
                Failure::Timeout,
            ),
            // A local path, `file://` and the same over ssh all print this.
            (
                captured("fatal: '/tmp/cap/notrepo' does not appear to be a git repository\n"),
                Failure::NotARepository,
            ),
            (
                captured("fatal: invalid gitfile format: /tmp/cap/afile\n"),
                Failure::NotARepository,
            ),
            (
                "fatal: repository 'http://127.0.0.1:22993/missing/r.git/' not found\n".to_owned(),
                Failure::NotARepository,
            ),
            (
                captured("ERROR: Repository not found.\n"),
                Failure::NotARepository,
            ),
            (
                "fatal: the receiving end does not support this repository's hash algorithm\n".to_owned(),
                Failure::FormatMismatch,
            ),
            (
                "fatal: the receiving end does not support --atomic push\n".to_owned(),
                Failure::AtomicUnsupported,
            ),
            (
                "ssh: connect to host h port 22: Connection refused\n".to_owned(),
                Failure::Other,
            ),
        ];
        for (stderr, kind) in cases {
            assert_eq!(Failure::read(&stderr), kind, "{stderr}");
        }
        assert!(Failure::AuthRefused.is_permanent() && !Failure::Other.is_permanent());
        assert!(
            !Failure::LockHeld.is_permanent(),
            "a killed git's lock is removed by the next pass"
        );
        assert!(
            !Failure::NotARepository.is_permanent() && !Failure::Timeout.is_permanent(),
            "a mirror on a disk not mounted yet is tried again"
        );
        assert!(
            Failure::Rejected {
                reason: String::new()
            }
            .is_permanent()
        );
    }

    #[test]
    fn a_push_turned_down_is_read_with_the_servers_reason_and_credentials_redacted() {
        // A pre-receive hook that prints two lines and exits 1, over ssh (without --porcelain,
        // which prints the ref lines on stdout).
        let declined = "remote: policy: pushes to main need a signed-off commit        \n\
            remote: see https://bot:SECRET@tracker.example/policy        \n\
            To ssh://127.0.0.1:22992/tmp/cap/hooked.git\n \
            ! [remote rejected] HEAD -> x (pre-receive hook declined)\n\
            error: failed to push some refs to 'ssh://127.0.0.1:22992/tmp/cap/hooked.git'\n";
        let Failure::Rejected { reason } = Failure::read(declined) else {
            panic!("not read as a rejection: {declined}");
        };
        assert!(
            reason.starts_with(
                "pre-receive hook declined: remote: policy: pushes to main need a signed-off commit"
            ),
            "{reason}"
        );
        assert!(
            !reason.contains("SECRET") && reason.contains("tracker.example/policy"),
            "{reason}"
        );
        let behind = "To /tmp/cap/nonff.git\n \
            ! [rejected]        HEAD -> main (non-fast-forward)\n\
            error: failed to push some refs to '/tmp/cap/nonff.git'\n\
            hint: Updates were rejected because a pushed branch tip is behind its remote\n";
        assert_eq!(
            Failure::read(behind),
            Failure::Rejected {
                reason: "non-fast-forward".into()
            }
        );
    }

    #[test]
    fn a_kind_is_json_in_snake_case_and_one_not_known_reads_as_other() {
        let json = |failure: &Failure| serde_json::to_value(failure).expect("serialises");
        assert_eq!(
            json(&Failure::AuthRefused),
            serde_json::json!({"kind": "auth_refused"})
        );
        assert_eq!(
            json(&Failure::NotARepository),
            serde_json::json!({"kind": "not_a_repository"})
        );
        assert_eq!(
            json(&Failure::Rejected {
                reason: "pre-receive hook declined".into()
            }),
            serde_json::json!({"kind": "rejected", "reason": "pre-receive hook declined"})
        );
        #[derive(Deserialize)]
        struct Kept {
            #[serde(default, deserialize_with = "Failure::lenient")]
            failure: Option<Failure>,
        }
        let read = |text: &str| serde_json::from_str::<Kept>(text).expect("reads").failure;
        assert_eq!(
            read(r#"{"failure": {"kind": "host_key_changed"}}"#),
            Some(Failure::HostKeyChanged)
        );
        assert_eq!(
            read(r#"{"failure": {"kind": "from_a_later_version"}}"#),
            Some(Failure::Other)
        );
        assert_eq!(read(r#"{"failure": "garbled"}"#), None);
        assert_eq!(read("{}"), None);
    }

    #[test]
    fn git_reason_lines_are_kept_and_progress_and_noise_left_out() {
        let stderr = b"Enumerating objects: 2, done.\r\nWriting objects: 100% (2/2), done.\n\
            remote: Resolving deltas: 100% (3/3), done.        \n\
            remote: Total 2 (delta 0), reused 0\n\
            remote: policy: 3 commits lack a sign-off        \n\
            error: remote unpack failed: unable to create temporary object directory\n\
            hint: Updates were rejected\n\
            error: failed to push some refs to '/m.git'\n";
        assert_eq!(
            reason_lines(stderr),
            vec![
                "remote: policy: 3 commits lack a sign-off",
                "error: remote unpack failed: unable to create temporary object directory",
            ]
        );
        let ssh = b"ssh: Could not resolve hostname github.con: Name or service not known\n\
            fatal: Could not read from remote repository.\n\n\
            Please make sure you have the correct access rights\n";
        assert_eq!(
            reason_lines(ssh),
            vec![
                "ssh: Could not resolve hostname github.con: Name or service not known",
                "fatal: Could not read from remote repository.",
            ]
        );
        let forge = b"ERROR: Repository not found.\nfatal: Could not read from remote repository.\n";
        assert_eq!(reason_lines(forge)[0], "ERROR: Repository not found.");
        let mut flood: String = (0..50).map(|i| format!("remote: line {i}\n")).collect();
        flood.insert_str(0, &format!("remote: {}\n", "y".repeat(5000)));
        let lines = reason_lines(flood.as_bytes());
        assert!(lines.len() <= REASON_LINES_MAX && lines.iter().all(|l| l.len() <= REASON_LINE_MAX + 3));
    }

    #[test]
    fn git_lfs_failures_are_told_apart_from_what_it_printed() {
        let read = |stderr: &str| LfsFailure::read(stderr, Some(2));
        assert_eq!(
            read("git: 'lfs' is not a git command. See 'git --help'.\n"),
            LfsFailure::NoGitLfs
        );
        assert!(matches!(
            read(
                "Uploading LFS objects:   0% (0/1), 0 B | 0 B/s, done.\nbatch response: Repository or object not found: https://h/git/m.git/info/lfs/objects/batch\nCheck that it exists and that you have proper access to it\n"
            ),
            LfsFailure::NoServer { .. }
        ));
        // git-lfs 3.3 over ssh to a server without git-lfs-transfer or git-lfs-authenticate.
        assert!(matches!(
            read("batch request: bash: line 1: git-lfs-authenticate: command not found: exit status 127\n"),
            LfsFailure::NoServer { .. }
        ));
        // git-lfs 3.3, an object deleted from this repository's lfs/objects.
        let missing = read(
            "Git LFS upload failed:\n  (missing) x.bin (8d4581ced0786e5872608134ae1079798bb9d14b19d5d9eb8c09d4b63e6080d8)\n\
             hint: Your push was rejected due to missing or corrupt local objects.\n\
             hint: You can disable this check with: `git config lfs.allowincompletepush true`\n",
        );
        assert!(matches!(missing, LfsFailure::MissingHere { .. }));
        assert!(missing.to_string().contains("git lfs fetch --all"), "{missing}");
        // git-lfs 3.3 against the ssh test's forge before its object URLs carried a token.
        assert!(matches!(
            read("fatal: could not read Username for 'https://127.0.0.1:40783': terminal prompts disabled\n"),
            LfsFailure::Login { .. }
        ));
        let other = read("");
        assert_eq!(
            other.to_string(),
            "carrying LFS objects failed, refs not moved: git-lfs exited with 2"
        );
        assert!(!other.permanent() && LfsFailure::NoGitLfs.permanent());
    }
}
