//! The engine: one pass over a repository's mirrors, shared by its three callers (the hook's
//! worker, the foreground `sync`, the schedule's `sync --all`).
//!
//! - [`plan`]: the plan's types and pure parts (which refs a mirror takes, what must move).
//! - [`pass`](run_pass): the mirrors in parallel, retries, recording the outcome.
//! - `transfer/`: `git_push` (one `git push --porcelain` per mirror) and `direct` (a plain local
//!   mirror filled without `git push`), which know only the plan's types.
//! - `lfs`: LFS objects carried to a mirror before the refs that point at them.
//! - `known`: the refs each mirror last took; `outcome`: what the per-ref results mean;
//!   `leftovers`: what a killed pass left in a mirror on this machine, judged and cleared.

mod known;
pub(crate) mod leftovers;
pub(crate) mod lfs;
mod outcome;
mod pass;
pub mod plan;
pub(crate) mod transfer;

pub(crate) use known::{forget, known_refs, pending};
pub(crate) use pass::SHALLOW_REFUSED;
pub(crate) use pass::{PassKind, run_pass};
pub use plan::{Refs, earlier_fingerprint, fingerprint, local_refs, plan};
pub(crate) use transfer::connection::MirrorGit;
pub use transfer::git_push::parse_porcelain;
pub(crate) use transfer::local_git_dir;
pub(crate) use transfer::remote_refs;
