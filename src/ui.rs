//! What a person sees: colour on terminals only. `--color=auto|always|never` as git and cargo
//! have it; `NO_COLOR` and a pipe mean none (anstream strips the codes where they do not
//! belong), so no control code ever reaches a log or a script.

use anstyle::{AnsiColor, Style};

/// When to colour, from `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless `NO_COLOR` is set.
    #[default]
    Auto,
    Always,
    Never,
}

/// Applies `--color` to everything printed through [`anstream`] from now on.
pub(crate) fn set_color(when: ColorWhen) {
    let choice = match when {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    };
    choice.write_global();
}

/// Whether stdout is the journal (the schedule's systemd service).
pub(crate) fn stdout_is_journal() -> bool {
    use std::os::fd::AsFd as _;
    is_journal(std::io::stdout().as_fd())
}

/// Whether stderr is the journal, where an error line starts with its priority (`<3>`).
pub fn stderr_is_journal() -> bool {
    use std::os::fd::AsFd as _;
    is_journal(std::io::stderr().as_fd())
}

/// systemd sets `JOURNAL_STREAM` to the device and inode of the stream it connects a service's
/// stdout and stderr to; a child whose output was redirected (to a pipe, a file) inherits the
/// variable, not the stream, so the stream itself is compared.
fn is_journal(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = stream.to_str().and_then(|text| text.split_once(':')) else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    let Ok(owned) = fd.try_clone_to_owned() else {
        return false;
    };
    std::fs::File::from(owned)
        .metadata()
        .is_ok_and(|meta| meta.dev() == dev && meta.ino() == ino)
}

const FAILURE: Style = AnsiColor::Red.on_default().bold();
const SUCCESS: Style = AnsiColor::Green.on_default();

/// `text` shown as a failure: red.
pub(crate) fn failure(text: &str) -> String {
    format!("{FAILURE}{text}{FAILURE:#}")
}

/// `text` shown as a success: green.
pub(crate) fn success(text: &str) -> String {
    format!("{SUCCESS}{text}{SUCCESS:#}")
}

/// Per-mirror progress of a foreground sync, on a terminal only: one line for each mirror,
/// showing git's own progress (objects and bytes) as it comes. The worker and piped output never
/// get one, so no control code reaches a log or a script.
#[derive(Debug)]
pub(crate) struct Progress {
    lines: indicatif::MultiProgress,
}

impl Progress {
    /// Progress where someone watches: stderr is a terminal and nothing asked for quiet.
    pub(crate) fn on_terminal(quiet: bool) -> Option<Self> {
        use std::io::IsTerminal as _;
        (!quiet && std::io::stderr().is_terminal()).then(|| Self {
            lines: indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr()),
        })
    }

    /// The line for mirror `name`.
    pub(crate) fn mirror(&self, name: &str) -> indicatif::ProgressBar {
        let line = self.lines.add(indicatif::ProgressBar::new_spinner());
        line.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {prefix}: {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        line.set_prefix(name.to_owned());
        line.set_message("reading its refs");
        line.enable_steady_tick(std::time::Duration::from_millis(120));
        line
    }
}

thread_local! {
    /// The progress line of the mirror this thread works for, if anyone watches.
    static CURRENT: std::cell::RefCell<Option<indicatif::ProgressBar>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `work` with `line` as this thread's progress line, so that the transfers deep below
/// report to it without every signature carrying it.
pub(crate) fn with_progress<T>(line: Option<indicatif::ProgressBar>, work: impl FnOnce() -> T) -> T {
    let before = CURRENT.with(|current| current.replace(line));
    let result = work();
    CURRENT.with(|current| *current.borrow_mut() = before);
    result
}

/// This thread's progress line, to hand to a thread that reads a git's output.
pub(crate) fn current_progress() -> Option<indicatif::ProgressBar> {
    CURRENT.with(|current| current.borrow().clone())
}

/// Says on this thread's progress line what is being done, if there is one.
pub(crate) fn progress_note(message: &str) {
    if let Some(line) = current_progress() {
        line.set_message(message.to_owned());
    }
}

/// The newest progress line in a chunk of git's stderr (`Writing objects:  45% (9/20), 1.20
/// MiB | 2.00 MiB/s`), which git rewrites in place with carriage returns.
pub(crate) fn git_progress(chunk: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(chunk);
    text.split(['\r', '\n'])
        .map(str::trim)
        .rfind(|line| line.contains(": ") && (line.contains("objects") || line.contains("deltas")))
        .map(|line| line.trim_start_matches("remote: ").to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_of_gits_progress_lines_is_taken() {
        let chunk = b"Counting objects:  50% (1/2)\rCounting objects: 100% (2/2), done.\n\
                      Writing objects:  45% (9/20), 1.20 MiB | 2.00 MiB/s\r";
        assert_eq!(
            git_progress(chunk).as_deref(),
            Some("Writing objects:  45% (9/20), 1.20 MiB | 2.00 MiB/s")
        );
        assert_eq!(git_progress(b"To /srv/mirror.git\n"), None);
    }
}
