//! Telling the processes of this machine apart, through `/proc`: which pass of ours started a
//! git, and whether a process still runs.

use std::sync::OnceLock;

/// The variable naming the pass that started a git, in that git's environment and its children's.
pub(crate) const PASS_ENV: &str = "GIT_REPO_SYNC_PASS";

/// The name of this process's passes: its pid and start time, which together are never reused.
pub(crate) fn pass_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let pid = std::process::id();
        format!("{pid}.{}", start_ticks(pid).unwrap_or(0))
    })
}

/// When process `pid` started, in clock ticks since boot (`/proc/<pid>/stat`, field 22); `None`
/// once it has ended, also while it waits as a zombie for its parent to reap it.
pub(crate) fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ...`: comm may hold spaces and parentheses.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    if matches!(fields.next(), Some("Z" | "X")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// The pids of every process listed in `/proc`, or `None` where there is no `/proc` to judge by.
pub(crate) fn pids() -> Option<Vec<u32>> {
    let entries = std::fs::read_dir("/proc").ok()?;
    let pids: Vec<u32> = entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect();
    (!pids.is_empty()).then_some(pids)
}
