//! In-process benchmarks of the engine's pure parts, at the sizes P6 uses (10,000 refs): the
//! plan, the fingerprint that lets a background pass skip a mirror, reading `git push
//! --porcelain` output, and parsing a config. Run with `cargo bench --bench engine`; the
//! whole-process figures against `git push` are in `benches/compare/` (see BENCHMARKS.md).

use git_repo_sync::{self as engine, Refs};
use git_repo_sync::{Config, Mirror};

fn main() {
    divan::main();
}

/// `n` branches and tags with made-up object ids, deterministic.
fn refs(n: usize, salt: usize) -> Refs {
    (0..n)
        .map(|i| {
            let kind = if i % 2 == 0 { "heads" } else { "tags" };
            (
                format!("refs/{kind}/ref-{i:05}"),
                format!("{:040x}", i * 7919 + salt),
            )
        })
        .collect()
}

#[divan::bench(args = [250, 10_000])]
fn plan_one_changed(bencher: divan::Bencher<'_, '_>, n: usize) {
    let mirror = Mirror::new(git_repo_sync::MirrorUrl::parse("/srv/mirror.git").expect("a valid URL"));
    let remote = refs(n, 0);
    let mut local = remote.clone();
    local.insert("refs/heads/ref-00000".into(), "f".repeat(40));
    bencher.bench(|| engine::plan(divan::black_box(&mirror), &local, &remote));
}

#[divan::bench(args = [250, 10_000])]
fn fingerprint(bencher: divan::Bencher<'_, '_>, n: usize) {
    let mirror = Mirror::new(git_repo_sync::MirrorUrl::parse("/srv/mirror.git").expect("a valid URL"));
    let local = refs(n, 0);
    bencher.bench(|| engine::fingerprint(divan::black_box(&mirror), &local));
}

#[divan::bench(args = [250, 10_000])]
fn parse_porcelain(bencher: divan::Bencher<'_, '_>, n: usize) {
    let mut out = String::from("To /srv/mirror.git\n");
    for (name, oid) in refs(n, 1) {
        out.push_str(&format!("=\t{oid}:{name}\t[up to date]\n"));
    }
    out.push_str("Done\n");
    bencher.bench(|| engine::parse_porcelain(divan::black_box(&out)));
}

#[divan::bench]
fn parse_config_of_eight_mirrors(bencher: divan::Bencher<'_, '_>) {
    let text: String = (0..8)
        .map(|i| {
            format!(
                "[mirrors.m{i}]\nurl = \"ssh://git@host{i}.example:2222/me/project.git\"\n\
                 refs = [\"refs/heads/*\", \"refs/tags/*\"]\nprune = true\nforce = true\ntimeout = 30\n"
            )
        })
        .collect();
    bencher.bench(|| Config::parse(divan::black_box(&text)).expect("the config parses"));
}
