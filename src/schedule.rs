//! The schedule: `git-repo-sync sync --all --quiet` every few minutes, the way `git maintenance
//! start` runs its tasks: a systemd user timer where the machine runs systemd, else a crontab
//! entry. Start writes exactly two unit files (and the link `systemctl enable` would make) or one
//! marked crontab block; stop removes exactly those. Both are rendered from `templates/schedule/`
//! with every value quoted for where it goes.

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, bail};
use handlebars::Handlebars;
use serde::Serialize;

/// Minutes between two passes unless told otherwise.
pub(crate) const DEFAULT_INTERVAL: u32 = 5;
/// The longest interval: a day.
const MAX_INTERVAL: u32 = 24 * 60;

const SERVICE: &str = "git-repo-sync.service";
const TIMER: &str = "git-repo-sync.timer";
/// The first line of every file and block we write, by which stop knows them for ours.
const MARKER: &str = "by `git-repo-sync schedule start`";
const CRON_BEGIN: &str = "# BEGIN git-repo-sync";
const CRON_END: &str = "# END git-repo-sync";
/// The crontab program, replaceable (as git's own tests replace it) so that a test never touches
/// the machine's real crontab.
const CRONTAB_ENV: &str = "GIT_REPO_SYNC_CRONTAB";

/// What runs the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scheduler {
    /// systemd user units in `~/.config/systemd/user`.
    Systemd,
    /// A block in the user's crontab.
    Cron,
}

impl fmt::Display for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Systemd => "systemd",
            Self::Cron => "cron",
        })
    }
}

impl Scheduler {
    /// systemd where the machine was booted with it (as `sd_booted()` tells), else cron.
    pub fn detect() -> Self {
        if Path::new("/run/systemd/system").is_dir() && program_on_path("systemctl") {
            Self::Systemd
        } else {
            Self::Cron
        }
    }
}

fn program_on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Checks an interval in minutes for `scheduler`: cron can only count in steps that divide an
/// hour, or whole hours.
pub(crate) fn validate_interval(minutes: u32, scheduler: Scheduler) -> Result<()> {
    if minutes == 0 || minutes > MAX_INTERVAL {
        bail!("--interval {minutes}: give minutes from 1 to {MAX_INTERVAL}");
    }
    if scheduler == Scheduler::Cron && minutes >= 60 && !minutes.is_multiple_of(60) {
        bail!(
            "--interval {minutes}: cron runs a job every N minutes (1 to 59) or every N whole hours; \
             pick {} or {}",
            minutes / 60 * 60,
            (minutes / 60 + 1) * 60
        );
    }
    Ok(())
}

/// systemd's quoting for one word of a unit file: left bare where it can be, else in double
/// quotes with C escapes; `%` and `$` always doubled, so no specifier or variable expands.
fn systemd_quote(value: &str) -> String {
    let escaped = value.replace('%', "%%").replace('$', "$$");
    let plain = !escaped.is_empty()
        && escaped
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@,=%$".contains(c));
    if plain {
        return escaped;
    }
    let mut quoted = String::from("\"");
    for c in escaped.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// A shell word for a crontab line: quoted for `sh`, with `%` escaped (cron turns a bare `%`
/// into a newline).
fn cron_quote(value: &str) -> String {
    crate::shell::quote(value).replace('%', "\\%")
}

fn render(template: &str, escape: fn(&str) -> String, data: &impl Serialize) -> Result<String> {
    let mut engine = Handlebars::new();
    engine.set_strict_mode(true);
    engine.register_escape_fn(escape);
    engine
        .render_template(template, data)
        .context("rendering the schedule")
}

#[derive(Serialize)]
struct UnitData<'a> {
    binary: &'a str,
    interval: u32,
    textfile_dir: Option<&'a str>,
}

fn binary_str(binary: &Path) -> Result<&str> {
    schedulable(binary, "the path of git-repo-sync")
}

/// `path` as text a unit file or a crontab line can hold.
fn schedulable<'a>(path: &'a Path, what: &str) -> Result<&'a str> {
    path.to_str()
        .filter(|text| !text.contains('\0') && !text.contains('\n'))
        .with_context(|| {
            format!(
                "{what} ({}) cannot go into a schedule (not UTF-8, or a newline)",
                crate::repo::quoted(path)
            )
        })
}

fn textfile_str(dir: Option<&Path>) -> Result<Option<&str>> {
    dir.map(|dir| schedulable(dir, "the textfile directory"))
        .transpose()
}

/// The two unit files: (file name, text).
pub(crate) fn units(
    binary: &Path,
    interval: u32,
    textfile_dir: Option<&Path>,
) -> Result<[(&'static str, String); 2]> {
    let data = UnitData {
        binary: binary_str(binary)?,
        interval,
        textfile_dir: textfile_str(textfile_dir)?,
    };
    Ok([
        (
            SERVICE,
            render(
                include_str!("../templates/schedule/git-repo-sync.service.hbs"),
                systemd_quote,
                &data,
            )?,
        ),
        (
            TIMER,
            render(
                include_str!("../templates/schedule/git-repo-sync.timer.hbs"),
                systemd_quote,
                &data,
            )?,
        ),
    ])
}

#[derive(Serialize)]
struct CronData<'a> {
    binary: &'a str,
    when: String,
    textfile_dir: Option<&'a str>,
}

/// The crontab block.
pub(crate) fn cron_block(binary: &Path, interval: u32, textfile_dir: Option<&Path>) -> Result<String> {
    let when = if interval < 60 {
        format!("*/{interval} * * * *")
    } else if interval == MAX_INTERVAL {
        "0 0 * * *".to_owned()
    } else {
        format!("0 */{} * * *", interval / 60)
    };
    let data = CronData {
        binary: binary_str(binary)?,
        when,
        textfile_dir: textfile_str(textfile_dir)?,
    };
    render(
        include_str!("../templates/schedule/crontab.hbs"),
        cron_quote,
        &data,
    )
}

/// Where systemd looks for a user's own units.
pub(crate) fn unit_dir() -> Result<PathBuf> {
    let config = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?).join(".config"),
    };
    Ok(config.join("systemd/user"))
}

/// The link `systemctl --user enable` makes, made by hand: the timer starts with the user's next
/// systemd session even when no user manager can be reached now.
fn wants_link(dir: &Path) -> PathBuf {
    dir.join("timers.target.wants").join(TIMER)
}

fn is_ours(path: &Path) -> bool {
    fs::read_to_string(path).is_ok_and(|text| text.lines().next().is_some_and(|l| l.contains(MARKER)))
}

/// Writes the units (and the enable link), then asks a running user manager to load and start
/// the timer. Returns what was done, in words.
/// With `textfile_dir`, each pass also writes the fleet's metrics there.
pub(crate) fn start(
    scheduler: Scheduler,
    binary: &Path,
    interval: u32,
    textfile_dir: Option<&Path>,
) -> Result<Vec<String>> {
    validate_interval(interval, scheduler)?;
    match scheduler {
        Scheduler::Systemd => start_systemd(binary, interval, textfile_dir),
        Scheduler::Cron => start_cron(binary, interval, textfile_dir),
    }
}

fn start_systemd(binary: &Path, interval: u32, textfile_dir: Option<&Path>) -> Result<Vec<String>> {
    let dir = unit_dir()?;
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", crate::repo::quoted(&dir)))?;
    let mut done = Vec::new();
    for (name, text) in units(binary, interval, textfile_dir)? {
        let path = dir.join(name);
        if fs::read_to_string(&path).is_ok_and(|old| old == text) {
            continue;
        }
        if path.exists() && !is_ours(&path) {
            bail!(
                "{} exists and was not written by git-repo-sync; move it away first",
                crate::repo::quoted(&path)
            );
        }
        crate::config::write_atomically(&path, text.as_bytes())
            .with_context(|| format!("writing {}", crate::repo::quoted(&path)))?;
        done.push(format!("write {}", crate::repo::quoted(&path)));
    }
    let link = wants_link(&dir);
    if fs::symlink_metadata(&link).is_err() {
        fs::create_dir_all(link.parent().unwrap_or(&dir))
            .with_context(|| format!("creating {}", crate::repo::quoted(&dir)))?;
        std::os::unix::fs::symlink(Path::new("..").join(TIMER), &link)
            .with_context(|| format!("enabling the timer: linking {}", crate::repo::quoted(&link)))?;
        done.push(format!(
            "enable {TIMER} ({} -> ../{TIMER})",
            crate::repo::quoted(&link)
        ));
    }
    if done.is_empty() {
        return Ok(done);
    }
    match systemctl(&["daemon-reload"]).and_then(|()| systemctl(&["start", TIMER])) {
        Ok(()) => done.push(format!("start {TIMER} (systemctl --user start {TIMER})")),
        Err(err) => done.push(format!(
            "the timer starts with your next systemd user session; none is reachable now ({err:#}); \
             in one, `systemctl --user daemon-reload && systemctl --user start {TIMER}` starts it at once"
        )),
    }
    Ok(done)
}

fn systemctl(args: &[&str]) -> Result<()> {
    let output = Command::new("systemctl")
        .arg("--user")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running systemctl --user")?;
    if !output.status.success() {
        bail!(
            "systemctl --user {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

fn crontab_program() -> String {
    std::env::var(CRONTAB_ENV).unwrap_or_else(|_| "crontab".to_owned())
}

/// The user's crontab as it is (empty when there is none).
fn read_crontab() -> Result<String> {
    let program = crontab_program();
    let output = Command::new(&program)
        .arg("-l")
        .stdin(Stdio::null())
        .output()
        .with_context(|| {
            format!("running {program} -l (is cron installed? on Debian: apt-get install cron)")
        })?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("no crontab for") {
        return Ok(String::new());
    }
    bail!("{program} -l failed: {}", stderr.trim())
}

fn write_crontab(table: &str) -> Result<()> {
    let program = crontab_program();
    let mut child = Command::new(&program)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {program} -"))?;
    child
        .stdin
        .take()
        .context("crontab's stdin")?
        .write_all(table.as_bytes())
        .with_context(|| format!("writing to {program} -"))?;
    let output = child
        .wait_with_output()
        .with_context(|| format!("running {program} -"))?;
    if !output.status.success() {
        bail!(
            "{program} - failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// `table` without our block, and whether it had one.
fn without_block(table: &str) -> (String, bool) {
    let mut kept = String::new();
    let mut inside = false;
    let mut found = false;
    for line in table.split_inclusive('\n') {
        let bare = line.trim_end();
        if bare.starts_with(CRON_BEGIN) {
            inside = true;
            found = true;
        } else if inside && bare == CRON_END {
            inside = false;
        } else if !inside {
            kept.push_str(line);
        }
    }
    (kept, found)
}

fn start_cron(binary: &Path, interval: u32, textfile_dir: Option<&Path>) -> Result<Vec<String>> {
    let table = read_crontab()?;
    let block = cron_block(binary, interval, textfile_dir)?;
    if table.contains(&block) {
        return Ok(Vec::new());
    }
    let (mut kept, _) = without_block(&table);
    if !kept.is_empty() && !kept.ends_with('\n') {
        kept.push('\n');
    }
    kept.push_str(&block);
    write_crontab(&kept)?;
    Ok(vec![format!(
        "add to the crontab: {}",
        block.lines().nth(1).unwrap_or_default()
    )])
}

/// Removes what `start` wrote, with either scheduler. Returns what was done.
pub(crate) fn stop() -> Result<Vec<String>> {
    let mut done = Vec::new();
    let dir = unit_dir()?;
    let link = wants_link(&dir);
    let units: Vec<PathBuf> = [TIMER, SERVICE]
        .into_iter()
        .map(|name| dir.join(name))
        .filter(|path| is_ours(path))
        .collect();
    if !units.is_empty() {
        // Stopped first, while systemd still knows the unit; no user manager is fine.
        let _ = systemctl(&["stop", TIMER]);
    }
    if fs::read_link(&link).is_ok_and(|target| target == Path::new("..").join(TIMER)) {
        fs::remove_file(&link).with_context(|| format!("removing {}", crate::repo::quoted(&link)))?;
        done.push(format!("disable {TIMER} (remove {})", crate::repo::quoted(&link)));
        // The directory only if it was there for our link alone.
        let _ = fs::remove_dir(link.parent().unwrap_or(&dir));
    }
    for path in &units {
        fs::remove_file(path).with_context(|| format!("removing {}", crate::repo::quoted(path)))?;
        done.push(format!("remove {}", crate::repo::quoted(path)));
    }
    if !units.is_empty() {
        let _ = systemctl(&["daemon-reload"]);
        // Directories start may have made, where they are left empty (a non-empty one stays).
        let _ = fs::remove_dir(&dir);
        let _ = dir.parent().map(fs::remove_dir);
    }
    // Cron is looked at only where it is installed (or replaced for a test).
    if std::env::var_os(CRONTAB_ENV).is_some() || program_on_path("crontab") {
        let table = read_crontab()?;
        let (kept, found) = without_block(&table);
        if found {
            write_crontab(&kept)?;
            done.push("remove the git-repo-sync block from the crontab".to_owned());
        }
    }
    Ok(done)
}

/// What is scheduled now, in lines; empty when nothing is.
pub(crate) fn status() -> Result<Vec<String>> {
    let mut found = Vec::new();
    let dir = unit_dir()?;
    let timer = dir.join(TIMER);
    if is_ours(&timer) {
        let every = fs::read_to_string(&timer)
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("OnUnitActiveSec=").map(str::to_owned))
            })
            .unwrap_or_default();
        let enabled = if fs::symlink_metadata(wants_link(&dir)).is_ok() {
            "enabled"
        } else {
            "not enabled"
        };
        found.push(format!(
            "systemd timer {} (every {every}), {enabled}",
            crate::repo::quoted(&timer)
        ));
    }
    if std::env::var_os(CRONTAB_ENV).is_some() || program_on_path("crontab") {
        let table = read_crontab()?;
        let mut inside = false;
        for line in table.lines() {
            if line.starts_with(CRON_BEGIN) {
                inside = true;
            } else if line == CRON_END {
                inside = false;
            } else if inside {
                found.push(format!("crontab: {line}"));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_values_are_quoted_for_systemd() {
        assert_eq!(systemd_quote("/usr/bin/git-repo-sync"), "/usr/bin/git-repo-sync");
        assert_eq!(systemd_quote("/opt/a b/x"), "\"/opt/a b/x\"");
        assert_eq!(systemd_quote("/opt/100%/$HOME"), "/opt/100%%/$$HOME");
        assert_eq!(systemd_quote("/x/\"q\"\\"), "\"/x/\\\"q\\\"\\\\\"");
    }

    #[test]
    fn cron_lines_quote_the_binary_and_escape_percent() {
        let block = cron_block(Path::new("/opt/a b/50%/git-repo-sync"), 5, None).expect("renders");
        assert!(
            block.contains("*/5 * * * * '/opt/a b/50\\%/git-repo-sync' sync --all --quiet\n"),
            "{block}"
        );
        assert!(
            cron_block(Path::new("/x"), 120, None)
                .expect("renders")
                .contains("0 */2 * * * /x ")
        );
        assert!(validate_interval(90, Scheduler::Cron).is_err());
        assert!(validate_interval(90, Scheduler::Systemd).is_ok());
        assert!(validate_interval(0, Scheduler::Systemd).is_err());
    }

    #[test]
    fn a_textfile_dir_goes_into_the_schedules_line_quoted() {
        let dir = Path::new("/var/lib/node exporter/50%");
        let block = cron_block(Path::new("/x"), 5, Some(dir)).expect("renders");
        assert!(
            block.contains("/x sync --all --quiet --textfile-dir '/var/lib/node exporter/50\\%'\n"),
            "{block}"
        );
        let [(_, service), _] = units(Path::new("/x"), 5, Some(dir)).expect("renders");
        assert!(
            service
                .contains("ExecStart=/x sync --all --quiet --textfile-dir \"/var/lib/node exporter/50%%\"\n"),
            "{service}"
        );
        let [(_, service), _] = units(Path::new("/x"), 5, None).expect("renders");
        assert!(service.contains("ExecStart=/x sync --all --quiet\n"), "{service}");
    }

    #[test]
    fn only_our_block_leaves_the_crontab() {
        let table = format!(
            "MAILTO=me\n0 * * * * backup\n{}@reboot other\n",
            cron_block(Path::new("/x"), 5, None).expect("renders")
        );
        let (kept, found) = without_block(&table);
        assert!(found);
        assert_eq!(kept, "MAILTO=me\n0 * * * * backup\n@reboot other\n");
    }
}
