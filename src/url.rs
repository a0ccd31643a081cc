//! A mirror's URL, parsed once: how git reaches it, its parts, and how it is shown.
//!
//! A URL may carry a token or password (`https://user:token@host/x.git`). Every URL shown to a
//! user goes through [`MirrorUrl::redacted`] (also its `Display`), and every text that may quote
//! one (git's stderr) through [`MirrorUrl::redact`]. scp-style addresses (`user@host:path`) are
//! not URLs to the `url` crate; gix-url reads them as git does.

use std::path::{Path, PathBuf};

use serde::{Serialize, Serializer};

/// How git reaches a mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// A path on this machine (plain or `file://`).
    Local,
    Ssh,
    Http,
    Git,
}

/// A validated mirror URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MirrorUrl {
    /// As written, and as git is given it.
    text: String,
    transport: Transport,
    user: Option<String>,
    host: Option<String>,
    port: Option<u16>,
}

const SCHEMES: &[&str] = &["file", "ssh", "git+ssh", "ssh+git", "git", "http", "https"];

impl MirrorUrl {
    /// Checks and classifies a mirror URL. git is handed the URL as an argument, so anything it
    /// could read as an option or a command-running transport (`ext::`) is refused, and a local
    /// path must be absolute, since hooks run from other directories. The error completes a
    /// sentence starting with the URL ("is empty").
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Err("is empty".into());
        }
        if text.chars().any(char::is_control) {
            return Err("contains a control character (newline, NUL, ...)".into());
        }
        if text.starts_with('-') {
            return Err("starts with '-', which git would read as an option".into());
        }
        if text.contains("::") && !text.contains("://") {
            return Err(
                "uses a git remote helper (`<transport>::`), which git-repo-sync does not run".into(),
            );
        }
        let local = |text: &str| Self {
            text: text.to_owned(),
            transport: Transport::Local,
            user: None,
            host: None,
            port: None,
        };
        let transport = match text.split_once("://") {
            Some((scheme, rest)) => {
                if !SCHEMES.iter().any(|known| scheme.eq_ignore_ascii_case(known)) {
                    return Err(format!(
                        "has the unsupported scheme '{scheme}'; use a path, file://, ssh://, user@host:path, \
                         http:// or https://"
                    ));
                }
                match scheme.to_ascii_lowercase().as_str() {
                    "file" if rest.starts_with('/') => return Ok(local(text)),
                    "file" => {
                        return Err(
                            "is a file:// URL without an absolute path (write file:///abs/path)".into(),
                        );
                    }
                    "http" | "https" => Transport::Http,
                    "git" => Transport::Git,
                    _ => Transport::Ssh,
                }
            }
            None if is_scp_like(text) => Transport::Ssh,
            None if Path::new(text).is_absolute() => return Ok(local(text)),
            None => {
                return Err(
                    "is a relative path; use an absolute path, since hooks run from other directories".into(),
                );
            }
        };
        let parsed = gix_url::parse(text.as_bytes()).map_err(|err| format!("is not a valid URL: {err}"))?;
        let host = parsed
            .host()
            .filter(|host| !host.is_empty())
            .ok_or("names no host")?;
        Ok(Self {
            text: text.to_owned(),
            transport,
            user: parsed.user().map(str::to_owned),
            host: Some(host.to_owned()),
            port: parsed.port,
        })
    }

    /// The URL as written: what git is given. Never print it; see [`Self::redacted`].
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The path of a mirror on this machine.
    pub fn local_path(&self) -> Option<&Path> {
        (self.transport == Transport::Local).then(|| {
            Path::new(
                self.text
                    .split_once("://")
                    .map_or(self.text.as_str(), |(_, path)| path),
            )
        })
    }

    /// The user part (`git` of `git@host:x.git`).
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The host of a remote mirror, for messages; a local one has none.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The path an ssh mirror's server is asked for, as git sends it (`git-receive-pack
    /// '<path>'`): `ssh://host/~user/x` gives `~user/x`, `host:x` gives `x`.
    pub(crate) fn ssh_path(&self) -> Option<&str> {
        if self.transport != Transport::Ssh {
            return None;
        }
        match self.text.split_once("://") {
            Some((_, rest)) => {
                let path = &rest[rest.find('/')?..];
                Some(
                    path.strip_prefix('/')
                        .filter(|p| p.starts_with('~'))
                        .unwrap_or(path),
                )
            }
            None => {
                // `[user@]host:path`, the host possibly in brackets (`[::1]:path`).
                let colon = match self.text.find("]:") {
                    Some(close) => close + 1,
                    None => self.text.find(':')?,
                };
                Some(&self.text[colon + 1..])
            }
        }
    }

    /// The URL without its `user[:password]@` part, when it has one.
    pub fn without_user(&self) -> String {
        match self.text.split_once("://") {
            Some((scheme, rest)) => match userinfo_end(rest) {
                Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
                None => self.text.clone(),
            },
            None => self.text.clone(),
        }
    }

    /// The URL with its credentials replaced by `***`.
    pub fn redacted(&self) -> String {
        redacted(&self.text)
    }

    /// `text` with this URL and each of its secrets replaced, for messages that may quote it.
    pub fn redact(&self, text: &str) -> String {
        let mut clean = redact_credentials(&text.replace(&self.text, &self.redacted()));
        for secret in secrets(&self.text) {
            if secret.len() < TOKEN_LIKE && !is_password(&self.text, secret) {
                // A short user name (`u`, `git`) is no token: replaced where it stands as a
                // URL's user, not in every word that holds its letters.
                clean = clean
                    .replace(&format!("{secret}@"), "***@")
                    .replace(&format!("{secret}:"), "***:");
            } else {
                clean = clean.replace(secret, "***");
            }
        }
        clean
    }
}

/// Shows the redacted URL.
impl std::fmt::Display for MirrorUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Written to the config file as given (the file is the user's, and so is the token in it).
impl Serialize for MirrorUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// A local mirror URL, for tests and callers that build one from a path they hold.
impl TryFrom<&Path> for MirrorUrl {
    type Error = String;

    fn try_from(path: &Path) -> Result<Self, String> {
        Self::parse(path.to_str().ok_or("is not UTF-8")?)
    }
}

impl TryFrom<PathBuf> for MirrorUrl {
    type Error = String;

    fn try_from(path: PathBuf) -> Result<Self, String> {
        Self::try_from(path.as_path())
    }
}

/// Whether `text` is a relative local path (`../backup.git`), which a command line may make
/// absolute before it is parsed.
pub(crate) fn is_relative_path(text: &str) -> bool {
    !text.trim().is_empty()
        && !text.starts_with('-')
        && !text.contains("://")
        && !text.contains("::")
        && !is_scp_like(text)
        && Path::new(text).is_relative()
}

/// `user@host:path` or `host:path`, as git reads it: a colon before any slash.
fn is_scp_like(url: &str) -> bool {
    match (url.find(':'), url.find('/')) {
        (Some(colon), Some(slash)) => colon < slash && colon > 0,
        (Some(colon), None) => colon > 0,
        _ => false,
    }
}

/// Where the `user[:password]` part of a URL's authority ends (its `@`), in the text after `://`.
fn userinfo_end(rest: &str) -> Option<usize> {
    let authority_end = rest.find('/').unwrap_or(rest.len());
    rest[..authority_end].rfind('@')
}

/// `text` with the credentials of every URL in it replaced by `***`, whoever wrote it (a
/// remote's `remote:` line may quote a URL with a token in it): what we print or keep must not
/// carry a secret.
pub(crate) fn redact_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        // The scheme: the letters just before `://`.
        let scheme_start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-')))
            .map_or(0, |i| i + 1);
        let after = &rest[at + 3..];
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, '\'' | '"' | '<' | '>' | '`'))
            .unwrap_or(after.len());
        let url = &rest[scheme_start..at + 3 + end];
        out.push_str(&rest[..scheme_start]);
        out.push_str(&redacted(url));
        rest = &rest[at + 3 + end..];
    }
    out.push_str(rest);
    out
}

/// A URL, valid or not, with its credentials replaced by `***`: for http(s) the whole user part
/// goes (tokens are often passed as the user name), for other schemes only a password. For
/// messages about a URL that did not parse.
pub(crate) fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some(at) = userinfo_end(rest) else {
        return url.to_owned();
    };
    let host_and_path = &rest[at + 1..];
    match rest[..at].split_once(':') {
        _ if is_http(scheme) => format!("{scheme}://***@{host_and_path}"),
        Some((user, _password)) => format!("{scheme}://{user}:***@{host_and_path}"),
        None => url.to_owned(),
    }
}

fn is_http(scheme: &str) -> bool {
    scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")
}

/// The secret parts of a URL: the user part of an http(s) URL, the password of any other.
/// A user name at least this long may be a token passed as the user (GitHub's are 40), and is
/// replaced wherever it appears; a shorter one only where it stands as a URL's user.
const TOKEN_LIKE: usize = 8;

/// Whether `secret` is the password part of `url`'s credentials, which is replaced wherever it
/// appears, however short.
fn is_password(url: &str, secret: &str) -> bool {
    url.split_once("://")
        .and_then(|(_, rest)| Some(&rest[..userinfo_end(rest)?]))
        .and_then(|userinfo| userinfo.split_once(':'))
        .is_some_and(|(_, password)| password == secret)
}

fn secrets(url: &str) -> Vec<&str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Vec::new();
    };
    let Some(at) = userinfo_end(rest) else {
        return Vec::new();
    };
    let userinfo = &rest[..at];
    let mut found = Vec::new();
    if let Some((user, password)) = userinfo.split_once(':') {
        found.push(password);
        if is_http(scheme) {
            found.push(user);
        }
    } else if is_http(scheme) {
        found.push(userinfo);
    }
    found.retain(|secret| !secret.is_empty());
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ssh_mirrors_path_is_what_git_asks_its_server_for() {
        let path = |text: &str| url(text).ssh_path().map(str::to_owned);
        assert_eq!(path("git@host:srv/x.git").as_deref(), Some("srv/x.git"));
        assert_eq!(path("host:/abs/x.git").as_deref(), Some("/abs/x.git"));
        assert_eq!(path("host:~/x.git").as_deref(), Some("~/x.git"));
        assert_eq!(
            path("ssh://git@host:2222/srv/x.git").as_deref(),
            Some("/srv/x.git")
        );
        assert_eq!(path("ssh://host/~user/x.git").as_deref(), Some("~user/x.git"));
        assert_eq!(path("ssh://[::1]:22/srv/x.git").as_deref(), Some("/srv/x.git"));
        assert_eq!(path("https://host/x.git"), None);
    }

    fn url(text: &str) -> MirrorUrl {
        MirrorUrl::parse(text).unwrap_or_else(|why| panic!("{text:?} {why}"))
    }

    #[test]
    fn each_form_is_classified_once() {
        assert_eq!(url("/srv/x.git").transport(), Transport::Local);
        assert_eq!(
            url("file:///srv/x.git").local_path(),
            Some(Path::new("/srv/x.git"))
        );
        assert_eq!(url("git@github.com:me/x.git").transport(), Transport::Ssh);
        assert_eq!(url("git@github.com:me/x.git").host(), Some("github.com"));
        assert_eq!(url("git@github.com:me/x.git").user(), Some("git"));
        assert_eq!(url("ssh://git@host:2222/x.git").port(), Some(2222));
        assert_eq!(url("HTTPS://host/x.git").transport(), Transport::Http);
        assert_eq!(url("git://host/x.git").transport(), Transport::Git);
        assert_eq!(url("https://host/x.git").local_path(), None);
    }

    #[test]
    fn what_git_could_misread_is_refused() {
        for good in [
            "/srv/x.git",
            "file:///srv/x.git",
            "ssh://git@host:2222/x.git",
            "git@github.com:me/x.git",
            "https://codeberg.org/me/x.git",
            "https://user:tok@host/x.git",
        ] {
            assert!(MirrorUrl::parse(good).is_ok(), "{good:?} refused");
        }
        for bad in [
            "",
            "  ",
            "/x\0",
            "--upload-pack=evil",
            "-oProxyCommand=x",
            "ext::sh -c x",
            "relative/path",
            "file://relative",
            "ftp://host/x",
            "https:///x.git",
            "/srv/x\n.git",
        ] {
            assert!(MirrorUrl::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn https_credentials_are_hidden() {
        assert_eq!(
            url("https://me:s3cret@example.com/x.git").to_string(),
            "https://***@example.com/x.git"
        );
        assert_eq!(
            url("https://ghp_token@example.com/x.git").redacted(),
            "https://***@example.com/x.git"
        );
        assert_eq!(
            url("https://me:s3cret@example.com/x.git").without_user(),
            "https://example.com/x.git"
        );
    }

    #[test]
    fn ssh_user_is_kept_but_password_hidden() {
        assert_eq!(
            url("ssh://git@host:2222/x.git").redacted(),
            "ssh://git@host:2222/x.git"
        );
        assert_eq!(
            url("ssh://git:pw@host/x.git").redacted(),
            "ssh://git:***@host/x.git"
        );
        assert_eq!(
            url("git@github.com:me/x.git").redacted(),
            "git@github.com:me/x.git"
        );
    }

    #[test]
    fn urls_without_credentials_are_unchanged() {
        for plain in ["/srv/x.git", "file:///srv/x.git", "https://host/a@b/x.git"] {
            assert_eq!(url(plain).redacted(), plain);
        }
    }

    #[test]
    fn text_hides_the_secret_wherever_it_appears() {
        let raw = url("https://me:s3cret@example.com/x.git");
        let message = format!("fatal: unable to access '{}': token s3cret refused", raw.as_str());
        let clean = raw.redact(&message);
        assert!(!clean.contains("s3cret"), "{clean}");
        assert!(clean.contains("https://***@example.com/x.git"), "{clean}");
    }

    #[test]
    fn a_short_user_name_is_hidden_as_the_urls_user_only_and_a_token_everywhere() {
        let short = url("https://u@forge.example/r.git");
        assert_eq!(
            short.redact("pushing to https://u@forge.example/r.git: user u@forge refused, run sync"),
            "pushing to https://***@forge.example/r.git: user ***@forge refused, run sync"
        );
        let token = url("https://ghp_0123456789abcdef@forge.example/r.git");
        assert_eq!(token.redact("bad token ghp_0123456789abcdef"), "bad token ***");
        let password = url("https://me:pw@forge.example/r.git");
        assert!(
            !password.redact("the pw was pwned").contains("pw"),
            "a password, however short"
        );
    }

    #[test]
    fn a_credential_in_any_url_of_a_line_is_hidden() {
        assert_eq!(
            redact_credentials("remote: see https://bot:s3cret@tracker.example/issue/1 and ssh://git@h/x"),
            "remote: see https://***@tracker.example/issue/1 and ssh://git@h/x"
        );
        assert_eq!(
            redact_credentials("'https://tok3n@h/r.git' and plain text"),
            "'https://***@h/r.git' and plain text"
        );
        assert_eq!(redact_credentials("no url here"), "no url here");
    }
}
