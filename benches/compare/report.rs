//! Samples, goals, and the table and lists the run prints.

use crate::Res;
use crate::common::{list, median, ms, spread};
use crate::env::Usage;

pub(crate) struct Row {
    pub(crate) name: &'static str,
    pub(crate) what: &'static str,
    pub(crate) goal: Goal,
    pub(crate) result: Res<Samples>,
}

/// What a figure must stay within.
#[derive(Clone, Copy)]
pub(crate) enum Goal {
    /// Ours over the anchor, at most.
    Ratio(f64),
    /// Ours in absolute terms, at most this many milliseconds (the ratio is informative).
    Within(f64),
}

impl Goal {
    fn met(self, ours: f64, ratio: f64) -> bool {
        match self {
            Goal::Ratio(g) => ratio <= g,
            Goal::Within(ms) => ours <= ms,
        }
    }
}

impl std::fmt::Display for Goal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // 0.25 as such, 1.0 as before.
            Goal::Ratio(g) if (g * 10.0).fract() == 0.0 => write!(f, "≤ {g:.1}"),
            Goal::Ratio(g) => write!(f, "≤ {g:.2}"),
            Goal::Within(ms) => write!(f, "ours ≤ {:.0} s", ms / 1e3),
        }
    }
}

/// One figure's samples (wall-clock milliseconds unless `unit` says otherwise).
#[derive(Default)]
pub(crate) struct Samples {
    pub(crate) ours: Vec<f64>,
    pub(crate) anchor: Vec<f64>,
    pub(crate) unit: Unit,
    pub(crate) note: Option<String>,
    /// Informative rows printed under the figure's own, without a goal.
    pub(crate) extra: Vec<(&'static str, Samples)>,
}

impl Samples {
    /// Empty samples of peak memory, in MiB.
    pub(crate) fn memory() -> Self {
        Self {
            unit: Unit::MiB,
            ..Self::default()
        }
    }

    /// One repetition's (ours, anchor): wall times into `self`, peak memory into `memory`.
    pub(crate) fn add_with_memory(&mut self, memory: &mut Samples, (a, b): (Usage, Usage)) {
        self.ours.push(ms(a.wall));
        self.anchor.push(ms(b.wall));
        memory.ours.push(a.max_rss_kib as f64 / 1024.0);
        memory.anchor.push(b.max_rss_kib as f64 / 1024.0);
    }
}

#[derive(Default, Clone, Copy)]
pub(crate) enum Unit {
    #[default]
    Ms,
    MiB,
}

impl Unit {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Unit::Ms => "ms",
            Unit::MiB => "MiB",
        }
    }
}

pub(crate) fn table_row(label: &str, s: &Samples, goal: Option<Goal>) {
    let (a, b) = (median(&s.ours), median(&s.anchor));
    let ratio = a / b;
    let goal = match goal {
        Some(g) => format!("{g} ({})", if g.met(a, ratio) { "met" } else { "missed" }),
        None => "informative".to_owned(),
    };
    let unit = s.unit.label();
    let (sa, sb) = (spread(&s.ours), spread(&s.anchor));
    println!("| {label} | {a:.1} {unit} ({sa}) | {b:.1} {unit} ({sb}) | {ratio:.2} | {goal} |");
}

pub(crate) fn print_samples(label: &str, s: &Samples) {
    println!(
        "{label} ({}): ours {} | anchor {}{}",
        s.unit.label(),
        list(&s.ours),
        list(&s.anchor),
        s.note.as_deref().map(|n| format!(" | {n}")).unwrap_or_default()
    );
}

/// Runs `ours` and `anchor` in an order that alternates with the repetition; returns their
/// results as (ours, anchor).
pub(crate) fn alternate<T>(
    rep: usize,
    ours: impl FnOnce() -> Res<T>,
    anchor: impl FnOnce() -> Res<T>,
) -> Res<(T, T)> {
    if rep.is_multiple_of(2) {
        let a = ours()?;
        Ok((a, anchor()?))
    } else {
        let b = anchor()?;
        Ok((ours()?, b))
    }
}
