//! `hook <kind>`: what the generated hooks run. It must return at once and never fail the git
//! operation: it asks for a background sync and reports any problem as one line on stderr.

use std::io::BufRead as _;

use crate::ExitStatus;
use crate::cli::HookArgs;
use crate::hooks::HookKind;
use crate::repo::Repo;
use crate::worker;

pub(crate) fn run(args: &HookArgs) -> ExitStatus {
    if let Err(err) = trigger(args) {
        eprintln!("git-repo-sync: {err:#}; mirrors not updated");
    }
    ExitStatus::Success
}

fn trigger(args: &HookArgs) -> anyhow::Result<()> {
    let Some(kind) = HookKind::from_name(&args.kind) else {
        anyhow::bail!("unknown hook kind '{}'", args.kind);
    };
    if kind == HookKind::PostReceive && !received_any_ref()? {
        return Ok(());
    }
    let repo = Repo::discover()?;
    if !repo.config_path().exists() {
        // Installed hooks without mirrors (or after `uninstall --purge` left hooks behind).
        return Ok(());
    }
    worker::trigger(&repo)
}

/// Reads post-receive's `<old> <new> <ref>` lines; malformed ones are reported and skipped.
fn received_any_ref() -> anyhow::Result<bool> {
    let mut any = false;
    for line in std::io::stdin().lock().split(b'\n') {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        if parse_update(&line).is_some() {
            any = true;
        } else {
            eprintln!(
                "git-repo-sync: ignoring a malformed post-receive line: {:?}",
                String::from_utf8_lossy(&line)
            );
        }
    }
    Ok(any)
}

/// One post-receive line: two object ids and a ref name.
pub(crate) fn parse_update(line: &[u8]) -> Option<(&str, &str, &str)> {
    let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
    let mut parts = line.splitn(3, ' ');
    let (old, new, refname) = (parts.next()?, parts.next()?, parts.next()?);
    let is_oid = |s: &str| matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit());
    (is_oid(old) && is_oid(new) && refname.starts_with("refs/") && !refname.contains(char::is_whitespace))
        .then_some((old, new, refname))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_receive_lines_are_parsed_strictly() {
        let zero = "0".repeat(40);
        let one = "1".repeat(40);
        let good = format!("{zero} {one} refs/heads/main");
        assert_eq!(
            parse_update(good.as_bytes()),
            Some((zero.as_str(), one.as_str(), "refs/heads/main"))
        );
        for bad in [
            "",
            "garbage",
            &format!("{zero} {one}"),
            &format!("{zero} xyz refs/heads/a"),
            &format!("{zero} {one} HEAD"),
        ] {
            assert_eq!(parse_update(bad.as_bytes()), None, "{bad:?}");
        }
    }
}
