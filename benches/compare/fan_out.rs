//! P5: one sync to many empty mirrors against one to a single mirror, and where its time goes.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::Res;
use crate::bench::{Bench, configure, sync_cmd};
use crate::common::{Repos as _, median, ms};
use crate::env::Usage;
use crate::report::{Samples, alternate};

/// Mirrors P5 fills in one sync.
const P5_MIRRORS: usize = 8;

impl Bench<'_> {
    /// Ours: one sync to [`P5_MIRRORS`] empty mirrors. Anchor: one sync to one empty mirror.
    /// Extra row: a loop of as many `git push` to empty mirrors against one `git push`.
    pub(crate) fn p5_fan_out(&mut self) -> Res<Samples> {
        let env = self.env;
        let dir = env.root.join("p5");
        // p5-0 is the anchor's single mirror; p5-1 ... are ours.
        let names: Vec<String> = (0..=P5_MIRRORS).map(|i| format!("p5-{i}")).collect();
        let synced: Vec<PathBuf> = names.iter().map(|n| dir.join(format!("{n}.git"))).collect();
        let pushed: Vec<PathBuf> = (0..=P5_MIRRORS)
            .map(|i| dir.join(format!("push-{i}.git")))
            .collect();
        for (name, path) in names.iter().zip(&synced) {
            configure(env, self.src, name, path)?;
        }
        let fan_out = || sync_cmd(env, self.src, &names[1..]);
        let fresh = |paths: &[PathBuf]| paths.iter().try_for_each(|p| env.fresh_bare(p));

        let mut s = Samples::default();
        let mut looped = Samples::default();
        let (mut cpu_ours, mut cpu_anchor, mut cpu_loop) = (Vec::new(), Vec::new(), Vec::new());
        for rep in 0..self.reps {
            fresh(&synced)?;
            fresh(&pushed)?;
            let (a, b) = alternate(
                rep,
                || env.measure(&mut fan_out()),
                || env.measure(&mut sync_cmd(env, self.src, &names[..1])),
            )?;
            s.ours.push(ms(a.wall));
            s.anchor.push(ms(b.wall));
            cpu_ours.push(ms(a.cpu));
            cpu_anchor.push(ms(b.cpu));
            let (a, b) = alternate(
                rep,
                || {
                    pushed[1..].iter().try_fold(Usage::default(), |sum, m| {
                        Ok(sum + env.measure(&mut self.push(m))?)
                    })
                },
                || env.measure(&mut self.push(&pushed[0])),
            )?;
            looped.ours.push(ms(a.wall));
            looped.anchor.push(ms(b.wall));
            cpu_loop.push(ms(a.cpu));
            for m in synced.iter().chain(&pushed) {
                env.same_refs(self.src, m)?;
            }
        }

        // Where the time goes: one more (untimed) fan-out with git's trace2 events.
        fresh(&synced[1..])?;
        let trace = dir.join("trace2.json");
        let t = Instant::now();
        env.out(fan_out().env("GIT_TRACE2_EVENT", &trace))?;
        let traced_wall = ms(t.elapsed());
        let breakdown = trace_breakdown(&trace)?;
        s.note = Some(format!(
            "CPU time (user+sys of the whole tree, medians): {P5_MIRRORS} mirrors {:.0} ms, 1 mirror {:.0} ms, \
             loop of {P5_MIRRORS} git push {:.0} ms | one traced {P5_MIRRORS}-mirror sync, {traced_wall:.0} ms: {breakdown}",
            median(&cpu_ours),
            median(&cpu_anchor),
            median(&cpu_loop)
        ));
        s.extra
            .push(("a loop of 8 `git push` to empty mirrors / one `git push`", looped));
        Ok(s)
    }
}

/// Summarises a `GIT_TRACE2_EVENT` file: per kind of git process (by its place in the process
/// tree, `push/pack-objects`), how many ran and their median wall time, the kinds that took
/// longest first; and how many `push` processes ran at once at most.
fn trace_breakdown(path: &Path) -> Res<String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // Per process (sid): its place in the tree, start (seconds into the UTC day) and end.
    let mut procs: std::collections::HashMap<String, (String, f64, f64)> = Default::default();
    for line in text.lines() {
        let Ok(ev) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let (Some(kind), Some(sid)) = (ev["event"].as_str(), ev["sid"].as_str()) else {
            continue;
        };
        let p = procs.entry(sid.to_owned()).or_default();
        match kind {
            "start" => {
                let t = ev["time"].as_str().and_then(seconds_of_day).unwrap_or(0.0);
                p.1 = t - ev["t_abs"].as_f64().unwrap_or(0.0);
            }
            "cmd_name" => p.0 = ev["hierarchy"].as_str().unwrap_or_default().to_owned(),
            "exit" => p.2 = p.1 + ev["t_abs"].as_f64().unwrap_or(0.0),
            _ => {}
        }
    }
    let mut kinds: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
    for (name, start, end) in procs.values() {
        kinds.entry(name).or_default().push(1e3 * (end - start));
    }
    let mut kinds: Vec<(&str, Vec<f64>)> = kinds.into_iter().collect();
    kinds.sort_by(|a, b| b.1.iter().sum::<f64>().total_cmp(&a.1.iter().sum::<f64>()));
    let mut out: Vec<String> = kinds
        .iter()
        .take(8)
        .map(|(name, d)| format!("{name} {} × {:.0} ms", d.len(), median(d)))
        .collect();
    let pushes: Vec<(f64, f64)> = procs
        .values()
        .filter(|p| p.0 == "push")
        .map(|p| (p.1, p.2))
        .collect();
    let at_once = pushes
        .iter()
        .map(|&(start, _)| pushes.iter().filter(|&&(s, e)| s <= start && start < e).count())
        .max()
        .unwrap_or(0);
    out.push(format!("at most {at_once} `git push` running at once"));
    Ok(out.join(", "))
}

/// `2026-01-02T10:47:12.552592Z` as seconds since that day's midnight.
fn seconds_of_day(time: &str) -> Option<f64> {
    let clock = time.split_once('T')?.1.trim_end_matches('Z');
    let mut parts = clock.split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    Some(h.parse::<f64>().ok()? * 3600.0 + m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?)
}
