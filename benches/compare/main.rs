//! Whole-process benchmark: `git-repo-sync` against its anchors (`git push`, an empty hook).
//!
//! Run with `cargo bench --bench compare` (cargo builds the binary with the bench profile, which
//! inherits `release`). Extra arguments select figures by prefix (`cargo bench --bench compare --
//! P2 P3`). Environment: `GRS_BENCH_REPS` (default 9; P3, P4 and P6, which are
//! short, run three times as many; P10 and P11, over 1,000 repositories, a third as many),
//! `GRS_BENCH_KEEP=1` keeps the work directory, `GRS_BENCH_OBJECT_FORMAT=sha256` makes every
//! repository of the run (the same generated history) a SHA-256 one, `GRS_BENCH_NEW_GIT` names
//! the git with config-based hooks P12 also runs with (default `/opt/git-2.55/bin/git`).
//!
//! Everything runs in a fresh directory under the system temp dir, with git isolated from the
//! user's configuration (own `HOME`, `GIT_CONFIG_NOSYSTEM=1`, `GIT_CONFIG_GLOBAL`). The source
//! repositories are generated deterministically with `git fast-import`; nothing is downloaded.
//! Each figure runs ours and its anchor in the same repetition, alternating which goes first,
//! and the table reports medians. See BENCHMARKS.md.
//!
//! Each family of figures has its own file: `one_mirror` (P2, P3, P4, P7), `hooks` (P1, P12),
//! `fan_out` (P5), `many_refs` (P6), `fleet` (P8, P9, P13), `many` (P10, P11) and `history`
//! (S1, S2, on git's own history, read where the search tool's fetch put it or from
//! `GRS_BENCH_GIT_HISTORY`); `bench` holds what
//! they share, `data` the generated repositories, `env` the isolated commands, `report` the table.

#[path = "../common/mod.rs"]
mod common;

mod bench;
mod data;
mod env;
mod fan_out;
mod fleet;
mod history;
mod hooks;
mod many;
mod many_refs;
mod one_mirror;
mod report;

use std::fs;
use std::time::Instant;

use bench::Bench;
use data::generate;
use env::{Env, machine};
use many::{MANY_GOAL_MS, many_reps};
use report::{Goal, Row, Samples, print_samples, table_row};

type Res<T> = Result<T, String>;

fn main() {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let reps: usize = std::env::var("GRS_BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(9);
    let keep = std::env::var_os("GRS_BENCH_KEEP").is_some_and(|v| v == "1");

    let env = match Env::new(keep) {
        Ok(env) => env,
        Err(e) => {
            eprintln!("compare: cannot set up the work directory: {e}");
            std::process::exit(1);
        }
    };
    let code = match run(&env, &filters, reps) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("compare: {e}");
            1
        }
    };
    drop(env);
    std::process::exit(code);
}

fn run(env: &Env, filters: &[String], reps: usize) -> Res<()> {
    println!("{}", machine(env));

    let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| selects(f, name));
    let src = env.root.join("src");
    // P1 to P7 work on the generated source repository; the fleets (P8 to P11) have their own.
    if ["P1", "P2", "P3", "P4", "P5", "P6", "P7"]
        .iter()
        .any(|f| wanted(f))
    {
        let t = Instant::now();
        let shape = generate(env, &src)?;
        println!(
            "Generated source repository in {:.1} s: {} objects, pack {:.1} MB, {} branches, {} tags.",
            t.elapsed().as_secs_f64(),
            shape.objects,
            shape.pack_bytes as f64 / 1e6,
            shape.branches,
            shape.tags
        );
    }
    println!(
        "{reps} repetitions (P3, P4, P6: {}; P10, P11: {}) per figure, ours and anchor alternating which runs first; medians.\n",
        3 * reps,
        many_reps(reps)
    );

    let mut rows: Vec<Row> = Vec::new();
    let mut bench = Bench {
        env,
        src: &src,
        reps,
        new_commits: 0,
    };
    // P2 and P7 first: they leave both mirrors up to date for P3 and P4.
    type Figure<'a> = (
        &'static str,
        &'static str,
        Goal,
        fn(&mut Bench<'a>) -> Res<Samples>,
    );
    let figures: [Figure<'_>; 15] = [
        (
            "P2",
            "first push of everything to an empty mirror",
            Goal::Ratio(1.0),
            Bench::p2_first_push,
        ),
        (
            "P7",
            "peak memory (largest process of the tree) of P2's first push",
            Goal::Ratio(1.5),
            Bench::p7_peak_memory,
        ),
        (
            "P3",
            "one new commit on one branch",
            Goal::Ratio(1.0),
            Bench::p3_one_commit,
        ),
        ("P4", "nothing new", Goal::Ratio(1.0), Bench::p4_nothing_new),
        (
            "P1",
            "20 commits, our hooks vs an empty post-commit hook",
            Goal::Ratio(1.3),
            Bench::p1_commits,
        ),
        (
            "P12",
            "git rebase -f HEAD~100, our hooks vs empty hook files",
            Goal::Ratio(1.1),
            Bench::p12_sequences,
        ),
        (
            "P5",
            "first sync to 8 empty mirrors / to 1 empty mirror",
            Goal::Ratio(1.5),
            Bench::p5_fan_out,
        ),
        (
            "P6",
            "10,000 refs, one new commit on one branch",
            Goal::Ratio(1.0),
            Bench::p6_many_refs,
        ),
        (
            "P8",
            "sync --all over 200 registered repositories, nothing changed / git for-each-repo push",
            Goal::Ratio(1.0),
            Bench::p8_fleet_quiet,
        ),
        (
            "P9",
            "sync --all over 200 registered repositories, one changed / git for-each-repo push",
            Goal::Ratio(1.0),
            Bench::p9_fleet_one_changed,
        ),
        (
            "P10",
            "install --recursive into 1,000 repositories, mirrors from a user-config rule / a shell loop of \
             git init --bare, git remote add, cp of the hooks, git config --global --add",
            Goal::Within(MANY_GOAL_MS),
            Bench::p10_install_many,
        ),
        (
            "P11",
            "status --all over those 1,000 repositories / git for-each-repo for-each-ref",
            Goal::Within(MANY_GOAL_MS),
            Bench::p11_status_many,
        ),
        (
            "P13",
            "sync --all over 10,000 registered repositories, nothing changed / git for-each-repo for-each-ref",
            Goal::Within(10_000.0),
            Bench::p13_big_fleet_quiet,
        ),
        (
            "S1",
            "first sync of git's history into an empty local mirror / git push",
            Goal::Ratio(0.25),
            Bench::s1_first_sync_of_history,
        ),
        (
            "S2",
            "one new commit on top of git's history / git push",
            Goal::Ratio(0.5),
            Bench::s2_one_commit_on_history,
        ),
    ];
    let history = history::source();
    for (name, what, goal, f) in figures {
        if !wanted(name) {
            continue;
        }
        if name.starts_with('S') && history.is_none() {
            eprintln!(
                "{name} skipped: git's history is not at .mirror/git+git/repo beside the checkout \
                 (fetch github:git/git with the search tool, or name a clone of it in \
                 GRS_BENCH_GIT_HISTORY)"
            );
            continue;
        }
        eprintln!("running {name} ({what}) ...");
        let result = f(&mut bench);
        if let Err(e) = &result {
            eprintln!("{name} failed: {e}");
        }
        rows.push(Row {
            name,
            what,
            goal,
            result,
        });
    }
    // By family, then number: P10 after P9, S1 after them.
    rows.sort_by_key(|r| (r.name.as_bytes()[0], r.name[1..].parse::<u32>().unwrap_or(0)));

    println!("| figure | ours (median, min–max) | anchor (median, min–max) | ratio | goal |");
    println!("|---|---:|---:|---:|---:|");
    for r in &rows {
        match &r.result {
            Ok(s) => {
                table_row(&format!("{} {}", r.name, r.what), s, Some(r.goal));
                for (what, extra) in &s.extra {
                    table_row(&format!("{} (extra) {what}", r.name), extra, None);
                }
            }
            Err(e) => {
                let mut e = e.lines().next().unwrap_or("").replace('|', "/");
                if e.len() > 120 {
                    let cut = (0..=120).rev().find(|&i| e.is_char_boundary(i)).unwrap_or(0);
                    e.truncate(cut);
                    e.push('…');
                }
                println!("| {} {} | error: {e} | | | {} |", r.name, r.what, r.goal);
            }
        }
    }
    println!();
    for r in &rows {
        if let Ok(s) = &r.result {
            print_samples(r.name, s);
            for (what, extra) in &s.extra {
                print_samples(&format!("{} (extra) {what}", r.name), extra);
            }
        }
    }
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "\nload average at the end {}",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    if rows.iter().any(|r| r.result.is_err()) {
        return Err("some figures failed (see above)".into());
    }
    Ok(())
}

/// Whether a filter selects figure `name`: by prefix, but a number is not the start of a longer
/// one (`P1` selects P1, not P10 and P11; `P` selects every figure).
fn selects(filter: &str, name: &str) -> bool {
    name.strip_prefix(filter).is_some_and(|rest| {
        !(filter.ends_with(|c: char| c.is_ascii_digit()) && rest.starts_with(|c: char| c.is_ascii_digit()))
    })
}
