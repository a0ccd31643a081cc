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
pub fn set_color(when: ColorWhen) {
    let choice = match when {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    };
    choice.write_global();
}

const FAILURE: Style = AnsiColor::Red.on_default().bold();
const SUCCESS: Style = AnsiColor::Green.on_default();

/// `text` shown as a failure: red.
pub fn failure(text: &str) -> String {
    format!("{FAILURE}{text}{FAILURE:#}")
}

/// `text` shown as a success: green.
pub fn success(text: &str) -> String {
    format!("{SUCCESS}{text}{SUCCESS:#}")
}
