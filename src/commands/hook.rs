//! `hook <kind>`: what the generated hooks run. It must return at once and never fail the git
//! operation: it asks for a background sync and reports any problem as one line on stderr.

use std::io::{BufRead as _, IsTerminal as _};

use crate::cli::HookArgs;
use crate::commands::ExitStatus;
use crate::notify;
use crate::repo::Repo;
use crate::triggers::{self, HookKind};
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
    // An amend has already fired post-commit (config-based hooks get here for it too).
    if kind == HookKind::PostRewrite && args.args.first().is_some_and(|arg| arg == "amend") {
        return Ok(());
    }
    if kind == HookKind::PostReceive && !received_any_ref()? {
        return Ok(());
    }
    let repo = Repo::discover()?;
    if !repo.config_path().exists() && !crate::config::layers::any_file_exists() {
        // Installed hooks without mirrors (or after `uninstall --purge` left hooks behind).
        return Ok(());
    }
    // A repository made from a template directory with our hooks in it was never installed
    // into: it joins the registry on its first trigger, so that `sync --all` and
    // `status --all` cover it. Without a global git config (no HOME: a GUI, a service) that
    // waits, quietly, for a trigger, `status` or `sync` that has one; the record says so.
    let record = triggers::record::read(&repo);
    let mut deferred = false;
    if record.is_none_or(|record| record.unregistered) {
        if !crate::registry::global_config_known() {
            deferred = true;
        } else if let Err(err) = crate::registry::register(repo.display_path()) {
            eprintln!(
                "git-repo-sync: could not register {}: {err:#}",
                crate::repo::quoted(repo.display_path())
            );
        }
    }
    worker::trigger(&repo)?;
    // For `status`: that a trigger still fires, and which. A record that cannot be written
    // costs only that line of `status`, never the sync.
    let _ = triggers::record::write(&repo, kind, deferred);
    // A mirror that began failing is told once, where someone is watching.
    if std::io::stderr().is_terminal() {
        for line in notify::take_notices(&repo) {
            eprintln!("{line}");
        }
    }
    Ok(())
}

/// Reads post-receive's `<old> <new> <ref>` lines; malformed ones are reported and skipped.
fn received_any_ref() -> anyhow::Result<bool> {
    let mut any = false;
    for line in std::io::stdin().lock().split(b'\n') {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        if triggers::parse_post_receive_line(&line).is_some() {
            any = true;
        } else {
            eprintln!(
                "git-repo-sync: ignoring a malformed post-receive line: {}",
                shown(&line)
            );
        }
    }
    Ok(any)
}

/// How much of a malformed line is shown, escaped: the pusher sees it as `remote: ...`, and a
/// line of a megabyte would flood their terminal.
const SHOWN_MAX: usize = 100;

/// `line` quoted with its escapes, cut to about [`SHOWN_MAX`] characters, with its length when
/// cut: always one line of bounded length.
fn shown(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let mut quoted = String::new();
    let mut taken = 0;
    for c in text.chars() {
        let escaped: String = match c {
            '\'' => "'".to_owned(),
            c => c.escape_debug().collect(),
        };
        if quoted.len() + escaped.len() > SHOWN_MAX {
            break;
        }
        quoted.push_str(&escaped);
        taken += c.len_utf8();
    }
    if taken == text.len() {
        format!("\"{quoted}\"")
    } else {
        format!("\"{quoted}\"… ({} bytes)", line.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_line_is_shown_whole_when_short_and_cut_with_its_length_when_long() {
        assert_eq!(shown(b"garbage"), "\"garbage\"");
        assert_eq!(shown(b"a\tb \xff it's"), "\"a\\tb \u{fffd} it's\"");
        let long = [b"\x01".repeat(1000), b"x".repeat(1 << 20)].concat();
        let text = shown(&long);
        assert!(text.len() < 150 && !text.contains('\n'), "{text}");
        assert!(text.ends_with(&format!("… ({} bytes)", long.len())), "{text}");
    }
}
