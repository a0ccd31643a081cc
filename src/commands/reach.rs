//! Whether a mirror answers: one ref listing with the credentials and the timeout a sync would
//! use. `doctor`, `mirror add` and the install wizard all ask it here, so they agree.

use std::io::IsTerminal as _;
use std::time::Duration;

use crate::config::Mirror;
use crate::engine;
use crate::engine::MirrorGit;
use crate::failure::{Failure, MirrorError};
use crate::repo::Repo;
use crate::url::{MirrorUrl, Transport};

/// What a ref listing of a mirror found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reach {
    /// It answered with this many refs (none: an empty mirror).
    Refs(usize),
    /// It answered and refused our credentials; git's reason, redacted.
    AuthRefused(String),
    /// It did not answer; git's reason, redacted.
    Unreachable(String),
}

impl Reach {
    pub(crate) fn is_ok(&self) -> bool {
        matches!(self, Self::Refs(_))
    }

    /// One phrase: `reachable, empty`, `reachable, 3 ref(s)`, or the failure and its reason.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Refs(0) => "reachable, empty".to_owned(),
            Self::Refs(n) => format!("reachable, {n} ref(s)"),
            Self::AuthRefused(reason) => format!("authentication refused: {reason}"),
            Self::Unreachable(reason) => format!("unreachable: {reason}"),
        }
    }

    /// What to do about a refusal: the setting that gives the mirror credentials of its own.
    pub(crate) fn auth_fix(url: &MirrorUrl) -> &'static str {
        match url.transport() {
            Transport::Ssh => {
                "give it a key the server accepts: load one into ssh-agent, or name a deploy key with \
                 --identity-file PATH (`identity_file` in the config)"
            }
            Transport::Http => {
                "put a token in an environment variable and name it with --token-env VAR (`token_env` \
                 in the config), or set up a git credential helper"
            }
            Transport::Local | Transport::Git => "check the mirror's permissions",
        }
    }
}

/// Lists the mirror's refs once, as a sync would read them.
pub(crate) fn check(repo: &Repo, mirror: &Mirror) -> Reach {
    let listed = MirrorGit::new(&repo.common_dir, mirror).and_then(|git| engine::remote_refs(&git, mirror));
    match listed {
        Ok(refs) => Reach::Refs(refs.len()),
        Err(err) => {
            let reason = mirror.url.redact(&format!("{err:#}"));
            let refused = MirrorError::kind_of(&err) == Some(&Failure::AuthRefused);
            if refused {
                Reach::AuthRefused(reason)
            } else {
                Reach::Unreachable(reason)
            }
        }
    }
}

/// [`check`] with a spinner on stderr while it waits (a slow host can take the whole timeout);
/// nothing is drawn where stderr is not a terminal.
pub(crate) fn check_showing(repo: &Repo, name: &str, mirror: &Mirror) -> Reach {
    if !std::io::stderr().is_terminal() {
        return check(repo, mirror);
    }
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message(format!("checking {name} ({})", mirror.url.redacted()));
    spinner.enable_steady_tick(Duration::from_millis(100));
    let reach = check(repo, mirror);
    spinner.finish_and_clear();
    reach
}
