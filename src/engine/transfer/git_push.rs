//! The transfer for every mirror but a plain local one: one `git push --porcelain` of the
//! mirror's own patterns as refspecs (`+` where it forces, `--prune` where it prunes, `--atomic`
//! where the server has it). git reads the mirror's refs, works out what to send and sends it
//! over one connection, the least any push needs, and receive-pack checks each ref's old value
//! as it updates it, so a change made to the mirror meanwhile is refused, never silently
//! overwritten. Every ref's result, a forced update's old value included, is read back from the
//! porcelain output; git matches the patterns through an index, so 10,000 refs cost what a few do.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};

use super::connection::MirrorGit;
use super::one_request::{self, SharedRequests, Tried};
use super::{Answer, Asks, Learned, Transferred};
use crate::config::Mirror;
use crate::engine::plan::{RefResult, Refs, plan};
use crate::failure::reason_lines;

/// One `git push` of the mirror's own patterns as refspecs (forced where the mirror forces),
/// `--prune` where it prunes: git reads the mirror's refs, works out what to send and sends it in
/// one connection, and receive-pack checks each ref's old value as it updates it, so a change
/// made to the mirror meanwhile is refused, not overwritten. An exact ref name that is gone here
/// is deleted there if the mirror last took it from us.
pub(crate) fn push_patterns(
    git: &MirrorGit<'_>,
    mirror: &Mirror,
    local: &Refs,
    known: Option<&Refs>,
    asks: Asks,
    requests: &SharedRequests,
) -> Transferred {
    let mut learned = Learned::default();
    let results = push_learning(git, mirror, local, known, asks, requests, &mut learned);
    // After `git push` (a push in one request leaves its own): a session opened ahead over ssh.
    if asks.spare_session
        && matches!(learned.one_request, None | Some(super::Answer::NotTaken))
        && results.as_ref().is_ok_and(|results| !results.is_empty())
        && let Some(path) = mirror.url.ssh_path()
    {
        requests.leave_ahead(super::ahead::ssh::spare_for(git, &one_request::ssh_remote(path)));
    }
    Transferred { results, learned }
}

fn push_learning(
    git: &MirrorGit<'_>,
    mirror: &Mirror,
    local: &Refs,
    known: Option<&Refs>,
    asks: Asks,
    requests: &SharedRequests,
    learned: &mut Learned,
) -> Result<BTreeMap<String, RefResult>> {
    // Forced and atomic, as the push in one request is.
    if asks.one_request
        && asks.atomic
        && let Some(known) = known
    {
        let changes = plan(mirror, local, known);
        if !changes.is_empty() {
            let tried = match one_request::Setup::new(git, requests) {
                Ok(setup) => {
                    let tried = one_request::push(git, &setup, &changes, known, requests);
                    if asks.spare_session && matches!(tried, Tried::Pushed(_)) {
                        requests.leave_ahead(setup.ahead(git));
                    }
                    tried
                }
                Err(tried) => tried,
            };
            match tried {
                Tried::Pushed(results) => {
                    learned.one_request = Some(Answer::Pushed);
                    return Ok(results);
                }
                Tried::Failed(err) => {
                    learned.one_request = Some(Answer::Failed);
                    return Err(err);
                }
                Tried::Declined { refused: true, why } => {
                    // For the worker's log: at a terminal it is no news to act on.
                    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                        eprintln!(
                            "git-repo-sync: {}: pushing with git push for the next day, as the \
                             shortcut of one request is not possible: {why}",
                            mirror.url.redacted()
                        );
                    }
                    learned.one_request = Some(Answer::Refused);
                }
                Tried::Declined { refused: false, .. } => learned.one_request = Some(Answer::NotTaken),
            }
        }
    }
    let plus = if mirror.force { "+" } else { "" };
    let mut options = Vec::new();
    if mirror.prune {
        options.push("--prune".to_owned());
    }
    let mut refspecs = Vec::with_capacity(mirror.refs.len());
    for pattern in &mirror.refs {
        if pattern.contains('*') || local.contains_key(pattern) {
            refspecs.push(format!("{plus}{pattern}:{pattern}"));
        } else if mirror.prune && known.is_some_and(|known| known.contains_key(pattern)) {
            refspecs.push(format!(":{pattern}"));
        }
    }
    if refspecs.is_empty() {
        // Without a refspec `git push` would push what `push.default` says: nothing of ours.
        return Ok(BTreeMap::new());
    }
    push_atomic_if_asked(git, &options, &refspecs, asks.atomic, learned)
}

/// Runs `git push options -- url refspecs`: `--atomic` where asked, and again without it where
/// the mirror's server does not support atomic pushes (which is remembered, so that it is not
/// asked again every pass).
fn push_atomic_if_asked(
    git: &MirrorGit<'_>,
    options: &[String],
    refspecs: &[String],
    atomic: bool,
    learned: &mut Learned,
) -> Result<BTreeMap<String, RefResult>> {
    if atomic {
        let output = push_once(git, options, refspecs, true)?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        let refused = !output.status.success()
            && crate::failure::Failure::read(&stderr) == crate::failure::Failure::AtomicUnsupported;
        learned.atomic = Some(!refused);
        if !refused {
            return results_of(git, &output);
        }
    }
    let output = push_once(git, options, refspecs, false)?;
    results_of(git, &output)
}

fn results_of(git: &MirrorGit<'_>, output: &std::process::Output) -> Result<BTreeMap<String, RefResult>> {
    let mut results = parse_porcelain(&String::from_utf8_lossy(&output.stdout));
    if results.is_empty() && !output.status.success() {
        return Err(git.failure(output, "git push failed"));
    }
    // A remote's refusal gives its reason only on stderr (`remote unpack failed: ...`, what a
    // hook printed); the porcelain line alone says just "unpacker error".
    let said = reason_lines(&output.stderr).join(" ");
    if !said.is_empty() {
        for result in results.values_mut() {
            if let RefResult::Rejected(reason) = result
                && reason.starts_with("[remote ")
            {
                reason.push_str(": ");
                reason.push_str(&said);
            }
        }
    }
    Ok(results)
}

fn push_once(
    git: &MirrorGit<'_>,
    options: &[String],
    refspecs: &[String],
    atomic: bool,
) -> Result<std::process::Output> {
    let mut cmd = git.command();
    // --no-verify: the user's pre-push hook guards their own pushes, not replication.
    cmd.args([
        "push",
        "--porcelain",
        "--no-verify",
        "--no-recurse-submodules",
        "--no-signed",
        // Progress on stderr is the sign of life the inactivity timeout watches.
        "--progress",
    ]);
    if atomic {
        cmd.arg("--atomic");
    }
    cmd.args(options).arg("--").arg(git.url()).args(refspecs);
    git.run(cmd).context("pushing")
}

/// Reads `git push --porcelain` output: `<flag>\t<from>:<to>\t<summary>` per ref.
pub fn parse_porcelain(stdout: &str) -> BTreeMap<String, RefResult> {
    let mut results = BTreeMap::new();
    for line in stdout.lines() {
        let mut fields = line.splitn(3, '\t');
        let (Some(flag), Some(spec), summary) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let Some((_, to)) = spec.rsplit_once(':') else {
            continue;
        };
        let result = match flag {
            " " | "-" => RefResult::Done,
            "*" => RefResult::Created,
            "=" => RefResult::UpToDate,
            "+" => RefResult::Forced {
                old: summary
                    .and_then(|summary| summary.split("...").next())
                    .map(|old| old.trim().to_owned())
                    .filter(|old| !old.is_empty() && old.bytes().all(|b| b.is_ascii_hexdigit())),
            },
            "!" => RefResult::Rejected(summary.unwrap_or("rejected").trim().to_owned()),
            _ => continue,
        };
        results.insert(to.to_owned(), result);
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_output_is_read_per_ref() {
        let out = "To /tmp/m.git\n\
                   *\tabc:refs/heads/new\t[new branch]\n\
                   +\tabc:refs/heads/main\tabc...def (forced update)\n\
                   -\t:refs/heads/gone\t[deleted]\n\
                   !\tabc:refs/heads/div\t[rejected] (non-fast-forward)\n\
                   Done\n";
        let results = parse_porcelain(out);
        assert_eq!(results["refs/heads/new"], RefResult::Created);
        assert_eq!(
            results["refs/heads/main"],
            RefResult::Forced {
                old: Some("abc".into())
            }
        );
        assert_eq!(results["refs/heads/gone"], RefResult::Done);
        assert_eq!(
            results["refs/heads/div"],
            RefResult::Rejected("[rejected] (non-fast-forward)".into())
        );
        assert_eq!(results.len(), 4);
    }
}
