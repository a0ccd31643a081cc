//! Words for a POSIX shell. Every value of ours that reaches `sh` (a hook, an ssh command, a
//! crontab line, a command printed for the user to run) is quoted here, one way.

use std::borrow::Cow;
use std::path::Path;

/// `value` as one word for `sh`: as it is where that is safe, else single-quoted. A NUL, which
/// no shell word, path or argument can hold, gives `''`.
pub(crate) fn quote(value: &str) -> String {
    shlex::try_quote(value).map_or_else(|_| "''".to_owned(), Cow::into_owned)
}

/// `value` in single quotes as git quotes the path of its remote command over ssh (`'`, `!`
/// escaped), which servers such as gitolite match exactly.
pub(crate) fn quote_as_git(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        match c {
            '\'' => quoted.push_str("'\\''"),
            '!' => quoted.push_str("'\\!'"),
            c => quoted.push(c),
        }
    }
    quoted.push('\'');
    quoted
}

/// A path as one word for `sh` (not UTF-8: lossily).
pub(crate) fn quote_path(path: &Path) -> String {
    quote(&path.to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_stay_and_others_are_quoted_once() {
        assert_eq!(quote("/usr/bin/git"), "/usr/bin/git");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r#""it's""#);
        assert_eq!(quote(""), "''");
        assert_eq!(quote("nul\0"), "''");
        assert_eq!(quote_path(Path::new("/tmp/$(x)")), "'/tmp/$(x)'");
    }

    #[test]
    fn a_remote_path_is_quoted_as_git_quotes_it() {
        assert_eq!(quote_as_git("srv/x.git"), "'srv/x.git'");
        assert_eq!(quote_as_git("it's!"), "'it'\\''s'\\!''");
    }
}
