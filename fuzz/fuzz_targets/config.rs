//! `Config::parse` on any UTF-8 text. A panic is a bug, and so is:
//! - an accepted config holding something the validators refuse (a bad mirror name, URL, ref
//!   pattern or option), or one that does not read back the same from the text `save` writes;
//! - a refusal that does not say where: every error names a line and a column inside the text.
#![no_main]

use git_repo_sync::{Config, validate_name, validate_ref_pattern};
use git_repo_sync::MirrorUrl;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    match Config::parse(text) {
        Ok(config) => {
            for (name, mirror) in &config.mirrors {
                assert_eq!(validate_name(name), Ok(()), "accepted the mirror name {name:?}");
                assert_eq!(
                    MirrorUrl::parse(mirror.url.as_str()).as_ref(),
                    Ok(&mirror.url),
                    "accepted the url {:?}",
                    mirror.url.as_str()
                );
                for pattern in &mirror.refs {
                    assert_eq!(validate_ref_pattern(pattern), Ok(()), "accepted {pattern:?}");
                }
                assert_eq!(
                    mirror.check_options(),
                    Ok(()),
                    "accepted bad options in {mirror:?}"
                );
            }
            let saved = config.to_text().expect("a parsed config serialises");
            let again = Config::parse(&saved).unwrap_or_else(|err| {
                panic!("a parsed config does not parse after saving: {err:#}\n{saved}")
            });
            assert_eq!(
                again, config,
                "saving and parsing again changed the config:\n{saved}"
            );
        }
        Err(err) => {
            let message = format!("{err:#}");
            let (line, column) =
                location(&message).unwrap_or_else(|| panic!("an error without a line and column: {message}"));
            let lines = text.split('\n').count();
            assert!(
                (1..=lines).contains(&line) && column >= 1,
                "an error at line {line}, column {column} of a {lines}-line text: {message}"
            );
        }
    }
});

/// The first `line L, column C` in a message (toml's errors and ours both say it so).
fn location(message: &str) -> Option<(usize, usize)> {
    let rest = &message[message.find("line ")? + "line ".len()..];
    let (line, rest) = rest.split_once(", column ")?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    Some((line.parse().ok()?, rest[..digits].parse().ok()?))
}
