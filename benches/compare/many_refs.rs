//! P6: a repository with 10,000 refs, one new commit on one branch.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use crate::Res;
use crate::bench::{Bench, configure, push_cmd, sync_cmd};
use crate::common::{Repos as _, Rng};
use crate::data::{Stream, commit_on, new_file, path_of};
use crate::env::Env;
use crate::report::Samples;

/// Refs of P6's repository (half branches, half tags), spread over a few commits.
const P6_REFS: usize = 10_000;
const P6_COMMITS: usize = 8;

impl Bench<'_> {
    /// A repository with [`P6_REFS`] refs, mirrored; then one new commit on one branch. Ours:
    /// `sync`. Anchor: `git push --force --prune` of the same refspecs (our mirrors force and
    /// prune by default).
    pub(crate) fn p6_many_refs(&mut self) -> Res<Samples> {
        let env = self.env;
        let dir = env.root.join("p6");
        let src = dir.join("src");
        let (om, am) = (dir.join("mirror-ours.git"), dir.join("mirror-anchor.git"));
        let t = Instant::now();
        generate_many_refs(env, &src)?;
        configure(env, &src, "m", &om)?;
        env.fresh_bare(&am)?;
        let sync = || sync_cmd(env, &src, &["m"]);
        let push_to = |m: &Path| push_cmd(env, &src, &["--force", "--prune"], m);
        let push = || push_to(&am);
        // Both mirrors are primed with `git push`, then one sync finds ours up to date and
        // records what it holds: our own first sync of 10,000 refs takes minutes (explicit
        // refspecs, which git matches against every local ref) and is not what P6 measures.
        env.out(&mut push_to(&om))?;
        env.out(&mut push())?;
        env.out(&mut sync())?;
        env.same_refs(&src, &om)?;
        env.same_refs(&src, &am)?;
        let setup = t.elapsed();

        let mut s = Samples::default();
        for rep in 0..3 * self.reps {
            let branch = format!("b/{:05}", (2 * 7919 * (rep + 1)) % P6_REFS);
            commit_on(env, &src, &branch, rep + 1)?;
            self.pair(rep, &mut s, || env.timed(&mut sync()), || env.timed(&mut push()))?;
            env.same_refs(&src, &om)?;
            env.same_refs(&src, &am)?;
        }
        s.note = Some(format!(
            "{} refs; generating the repository and priming the mirrors took {:.1} s",
            env.refs(&src)?.lines().count(),
            setup.as_secs_f64()
        ));
        Ok(s)
    }
}

/// P6's repository: a few small commits on `main` and [`P6_REFS`] branches and tags spread over
/// them, in `packed-refs` as in any repository that was ever gc'ed.
fn generate_many_refs(env: &Env, repo: &Path) -> Res<()> {
    env.out(env.cmd("git").args(["init", "-q"]).arg(repo))?;
    env.fast_import(repo, |w| {
        let mut rng = Rng(0x10_000);
        let mut s = Stream {
            w,
            mark: 0,
            time: 1_650_000_000,
        };
        let mut marks = Vec::with_capacity(P6_COMMITS);
        for c in 0..P6_COMMITS {
            let file = (path_of(c), new_file(&mut rng).concat());
            marks.push(s.commit("main", None, &format!("Commit {c}"), &[file])?);
        }
        for i in 0..P6_REFS {
            let m = marks[i % P6_COMMITS];
            if i % 2 == 0 {
                writeln!(s.w, "reset refs/heads/b/{i:05}\nfrom :{m}\n")?;
            } else {
                writeln!(s.w, "reset refs/tags/t{i:05}\nfrom :{m}\n")?;
            }
        }
        writeln!(s.w, "done")?;
        s.w.flush()
    })?;
    env.out(env.git(repo).args(["pack-refs", "--all"]))?;
    Ok(())
}
