//! Keeping credentials out of everything we print, log or store.
//!
//! A mirror URL may carry a token or password (`https://user:token@host/x.git`). Every URL shown
//! to a user goes through [`url`], and every text that may quote one (git's stderr) through
//! [`text`].

/// The URL with its credentials replaced by `***`. For http(s) the whole user part goes (tokens
/// are often passed as the user name); for other schemes only a password.
pub fn url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &rest[..at];
    let host_and_path = &rest[at + 1..];
    let is_http = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    match userinfo.split_once(':') {
        _ if is_http => format!("{scheme}://***@{host_and_path}"),
        Some((user, _password)) => format!("{scheme}://{user}:***@{host_and_path}"),
        None => url.to_owned(),
    }
}

/// The secret parts of a URL: the user part of an http(s) URL, the password of any other.
fn secrets(url: &str) -> Vec<&str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Vec::new();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return Vec::new();
    };
    let userinfo = &rest[..at];
    let is_http = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    let mut found = Vec::new();
    if let Some((user, password)) = userinfo.split_once(':') {
        found.push(password);
        if is_http {
            found.push(user);
        }
    } else if is_http {
        found.push(userinfo);
    }
    found.retain(|secret| !secret.is_empty());
    found
}

/// `text` with `url` and each of its secrets replaced, for messages that may quote the URL.
pub fn text(text: &str, url: &str) -> String {
    let mut clean = text.replace(url, &self::url(url));
    for secret in secrets(url) {
        clean = clean.replace(secret, "***");
    }
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_credentials_are_hidden() {
        assert_eq!(
            url("https://me:s3cret@example.com/x.git"),
            "https://***@example.com/x.git"
        );
        assert_eq!(
            url("https://ghp_token@example.com/x.git"),
            "https://***@example.com/x.git"
        );
    }

    #[test]
    fn ssh_user_is_kept_but_password_hidden() {
        assert_eq!(url("ssh://git@host:2222/x.git"), "ssh://git@host:2222/x.git");
        assert_eq!(url("ssh://git:pw@host/x.git"), "ssh://git:***@host/x.git");
        assert_eq!(url("git@github.com:me/x.git"), "git@github.com:me/x.git");
    }

    #[test]
    fn urls_without_credentials_are_unchanged() {
        for plain in ["/srv/x.git", "file:///srv/x.git", "https://host/a@b/x.git"] {
            assert_eq!(url(plain), plain);
        }
    }

    #[test]
    fn text_hides_the_secret_wherever_it_appears() {
        let raw = "https://me:s3cret@example.com/x.git";
        let message = format!("fatal: unable to access '{raw}': token s3cret refused");
        let clean = text(&message, raw);
        assert!(!clean.contains("s3cret"), "{clean}");
        assert!(clean.contains("https://***@example.com/x.git"), "{clean}");
    }
}
