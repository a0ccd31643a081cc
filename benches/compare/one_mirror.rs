//! P2, P3, P4, P7: the generated repository and one mirror (a first push, one commit, nothing
//! new, and the first push's peak memory).

use crate::Res;
use crate::bench::Bench;
use crate::common::Repos as _;
use crate::data::commit_on;
use crate::env::Usage;
use crate::report::{Samples, alternate};

impl Bench<'_> {
    pub(crate) fn p2_first_push(&mut self) -> Res<Samples> {
        let (om, am) = (self.ours_mirror(), self.anchor_mirror());
        self.ensure_configured()?;
        let env = self.env;
        let mut s = Samples::default();
        for rep in 0..self.reps {
            env.fresh_bare(&om)?;
            env.fresh_bare(&am)?;
            self.pair(
                rep,
                &mut s,
                || env.timed(&mut self.sync()),
                || env.timed(&mut self.push(&am)),
            )?;
            env.same_refs(self.src, &om)?;
            env.same_refs(self.src, &am)?;
        }
        Ok(s)
    }

    /// One new commit on a topic branch (untimed).
    fn add_commit(&mut self) -> Res<()> {
        self.new_commits += 1;
        let n = self.new_commits;
        let branch = format!("feature/topic-{:03}", 4 * (1 + n % 40));
        commit_on(self.env, self.src, &branch, n)
    }

    pub(crate) fn p3_one_commit(&mut self) -> Res<Samples> {
        self.sync_against_push(true)
    }

    pub(crate) fn p4_nothing_new(&mut self) -> Res<Samples> {
        self.sync_against_push(false)
    }

    /// Ours (`sync`) against the anchor (`git push`) to mirrors up to date, three times the
    /// usual repetitions (they are short), with a new commit before each where `new_commit`;
    /// both mirrors equal the source after each.
    fn sync_against_push(&mut self, new_commit: bool) -> Res<Samples> {
        self.ensure_up_to_date()?;
        let (om, am) = (self.ours_mirror(), self.anchor_mirror());
        let mut s = Samples::default();
        for rep in 0..3 * self.reps {
            if new_commit {
                self.add_commit()?;
            }
            let env = self.env;
            self.pair(
                rep,
                &mut s,
                || env.timed(&mut self.sync()),
                || env.timed(&mut self.push(&am)),
            )?;
            env.same_refs(self.src, &om)?;
            env.same_refs(self.src, &am)?;
        }
        Ok(s)
    }

    /// P2's first push, measured for the largest resident set of any process in the tree.
    pub(crate) fn p7_peak_memory(&mut self) -> Res<Samples> {
        let (om, am) = (self.ours_mirror(), self.anchor_mirror());
        self.ensure_configured()?;
        let env = self.env;
        let mib = |u: Usage| u.max_rss_kib as f64 / 1024.0;
        let mut s = Samples::memory();
        for rep in 0..self.reps {
            env.fresh_bare(&om)?;
            env.fresh_bare(&am)?;
            let (a, b) = alternate(
                rep,
                || env.measure(&mut self.sync()),
                || env.measure(&mut self.push(&am)),
            )?;
            s.ours.push(mib(a));
            s.anchor.push(mib(b));
            env.same_refs(self.src, &om)?;
            env.same_refs(self.src, &am)?;
        }
        s.note = Some(
            "ru_maxrss from wait4: the largest single process among the command and all it waited for \
             (not a sum of processes alive at once)"
                .to_owned(),
        );
        Ok(s)
    }
}
