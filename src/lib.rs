//! git-repo-sync: keeps mirrors of git repositories up to date from git hooks.
//!
//! The binary is a thin layer over [`run`]. What integration tests, benchmarks and fuzz targets
//! reach is re-exported here, deliberately small; everything else is the crate's own.

mod child;
mod cli;
mod commands;
mod config;
mod engine;
mod failure;
mod git;
mod notify;
mod process;
mod registry;
mod repo;
mod schedule;
mod shell;
mod state;
mod triggers;
mod ui;
mod url;
mod worker;
mod worktree;

pub use cli::{Cli, earlier_tools_order};
pub use commands::{ExitStatus, run};
pub use config::{Config, Mirror, validate_name, validate_ref_pattern};
pub use engine::{Refs, earlier_fingerprint, fingerprint, local_refs, parse_porcelain, plan};
pub use git::LOCAL_ENV_VARS;
pub use repo::Repo;
pub use triggers::parse_post_receive_line;
pub use ui::stderr_is_journal;
pub use url::MirrorUrl;
