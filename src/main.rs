use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use git_repo_sync::{Cli, ExitStatus};

fn main() -> ExitCode {
    let cli = Cli::parse_from(git_repo_sync::earlier_tools_order(std::env::args_os()));
    match git_repo_sync::run(cli) {
        Ok(status) => status.into(),
        Err(err) => {
            // A closed pipe (`git-repo-sync status | head`) is not an error worth a message.
            if err.chain().any(|cause| {
                cause
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitStatus::Success.into();
            }
            // Into the journal (the schedule's service) an error is told as one: `<3>`.
            let priority = if git_repo_sync::stderr_is_journal() {
                "<3>"
            } else {
                ""
            };
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "{priority}git-repo-sync: error: {err:#}");
            ExitStatus::Error.into()
        }
    }
}
