//! `metrics` tells what `status` tells, in the Prometheus text format: promtool accepts it,
//! node_exporter's textfile collector serves what a scheduled pass wrote, the file is replaced
//! whole, no credential is ever in a series, and in the journal every line `sync --all` prints
//! carries its priority. The README's alert rules pass promtool and fire when they should.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::schedule::fake_crontab;
use crate::support::servers::{find_program, free_port};
use crate::support::{TestEnv, running_as_root, s, tools};

/// A token that must never appear in any output.
const TOKEN: &str = "ghp_metricsSecretToken0123456789";

/// The fleet: each repository installed with a local mirror `m` and synced once, then put into
/// the state named.
struct Fleet {
    healthy: PathBuf,
    /// Its mirror was taken away (an unmounted disk): its sync fails.
    failing: PathBuf,
    /// A commit no hook saw: one ref the mirror does not have yet.
    pending: PathBuf,
    /// Its post-commit hook deleted: git no longer triggers a sync; it also has a mirror on https
    /// whose URL holds a user and a token.
    broken: PathBuf,
}

fn fleet(env: &TestEnv) -> Fleet {
    let installed = |name: &str| {
        let repo = env.init_repo(name);
        env.install(&repo, &[("m", s(&env.root().join(format!("{name}-mirror.git"))))]);
        env.cmd_in(&repo).arg("sync").assert().success();
        repo
    };
    let fleet = Fleet {
        healthy: installed("healthy"),
        failing: installed("failing"),
        pending: installed("pending"),
        broken: installed("broken"),
    };
    fs::remove_dir_all(env.root().join("failing-mirror.git")).expect("taking the mirror away");
    env.cmd_in(&fleet.failing).arg("sync").assert().code(3);
    env.change_file(&fleet.pending, "unseen");
    env.git(
        &fleet.pending,
        ["-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "unseen"],
    );
    fs::remove_file(env.hooks_dir(&fleet.broken).join("post-commit")).expect("deleting the hook");
    env.cmd_in(&fleet.broken)
        .args(["mirror", "add", "hosted"])
        .arg(format!("https://someone:{TOKEN}@git.example.com/me/broken.git"))
        // A host that does not exist: only what is said about it matters here.
        .arg("--no-check")
        .assert()
        .success();
    fleet
}

/// The samples of an exposition text: `name{labels}` to value, the labels sorted by name (as
/// node_exporter serves them), so that what was written and what was scraped compare.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("no value: {line}"));
            (
                normalized(series),
                value.parse().unwrap_or_else(|_| panic!("not a number: {line}")),
            )
        })
        .collect()
}

/// `name{b="1",a="2"}` as `name{a="2",b="1"}`; label values stay escaped as they were.
fn normalized(series: &str) -> String {
    let Some((name, rest)) = series.split_once('{') else {
        return series.to_owned();
    };
    let mut labels = Vec::new();
    let mut chars = rest.chars();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() || key == "}" {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "a quoted label value in {series}");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    value.push(c);
                    value.extend(chars.next());
                }
                '"' => break,
                c => value.push(c),
            }
        }
        labels.push(format!("{}=\"{value}\"", key.trim_start_matches(',')));
    }
    labels.sort();
    format!("{name}{{{}}}", labels.join(","))
}

/// The user the tests run as, whose name every series carries as its label `user`.
fn me() -> String {
    let out = Command::new("id").arg("-un").output().expect("running id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The file a pass run as `me()` writes into a textfile directory: root's is the system's.
fn my_textfile() -> String {
    if me() == "root" {
        "git-repo-sync.prom".to_owned()
    } else {
        format!("git-repo-sync-{}.prom", me())
    }
}

fn of_repo(name: &str, repo: &Path) -> String {
    of_repo_by(name, repo, &me())
}

fn of_repo_by(name: &str, repo: &Path, user: &str) -> String {
    format!(
        "git_repo_sync_{name}{{repository=\"{}\",user=\"{user}\"}}",
        s(repo)
    )
}

fn of_mirror(name: &str, repo: &Path, mirror: &str) -> String {
    normalized(&format!(
        "git_repo_sync_{name}{{repository=\"{}\",mirror=\"{mirror}\",user=\"{}\"}}",
        s(repo),
        me()
    ))
}

/// `promtool check metrics` on `text`: exit status 0, or a panic with what it said.
fn promtool_accepts(promtool: &Path, text: &str) {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting promtool");
    child
        .stdin
        .take()
        .expect("promtool's stdin")
        .write_all(text.as_bytes())
        .expect("writing to promtool");
    let out = child.wait_with_output().expect("running promtool");
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}\non:\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn require_promtool() -> Option<PathBuf> {
    tools::require(
        "the metrics format check",
        vec![find_program("promtool").ok_or_else(|| "promtool".to_owned())],
        "on Debian: apt-get install prometheus",
    )
    .map(|mut found| found.remove(0))
}

#[test]
fn metrics_all_passes_promtool_and_tells_each_repository_and_mirror() {
    let Some(promtool) = require_promtool() else {
        return;
    };
    let env = TestEnv::new();
    let fleet = fleet(&env);
    let out = env.cmd().args(["metrics", "--all"]).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    promtool_accepts(&promtool, &text);
    assert!(!text.contains(TOKEN), "{text}");
    let got = samples(&text);
    let value = |series: String| {
        *got.get(&series)
            .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
    };

    for repo in [&fleet.healthy, &fleet.failing, &fleet.pending] {
        assert_eq!(value(of_repo("triggers_healthy", repo)), 1.0, "{text}");
    }
    assert_eq!(value(of_repo("triggers_healthy", &fleet.broken)), 0.0, "{text}");
    for repo in [&fleet.healthy, &fleet.failing, &fleet.pending, &fleet.broken] {
        assert_eq!(value(of_repo("repository_readable", repo)), 1.0, "{text}");
        assert!(
            !got.contains_key(&of_repo("last_scheduled_pass_timestamp_seconds", repo)),
            "no scheduled pass yet:\n{text}"
        );
    }

    assert_eq!(value(of_mirror("mirror_failing", &fleet.healthy, "m")), 0.0);
    assert_eq!(value(of_mirror("mirror_pending_refs", &fleet.healthy, "m")), 0.0);
    assert_eq!(value(of_mirror("mirror_failing", &fleet.failing, "m")), 1.0);
    let since = value(of_mirror(
        "mirror_failing_since_timestamp_seconds",
        &fleet.failing,
        "m",
    ));
    let attempt = value(of_mirror(
        "mirror_last_attempt_timestamp_seconds",
        &fleet.failing,
        "m",
    ));
    let success = value(of_mirror(
        "mirror_last_success_timestamp_seconds",
        &fleet.failing,
        "m",
    ));
    assert!(success <= since && since <= attempt, "{text}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    assert!((now - attempt).abs() < 600.0, "a Unix time of now: {attempt}");
    assert!(
        !got.contains_key(&of_mirror(
            "mirror_failing_since_timestamp_seconds",
            &fleet.healthy,
            "m"
        )),
        "only while failing:\n{text}"
    );
    assert_eq!(value(of_mirror("mirror_pending_refs", &fleet.pending, "m")), 1.0);
    assert_eq!(value(of_mirror("mirror_failing", &fleet.pending, "m")), 0.0);

    // Never synced: known, not failing, no times, nothing known of what it lacks.
    assert_eq!(value(of_mirror("mirror_failing", &fleet.broken, "hosted")), 0.0);
    assert!(!got.contains_key(&of_mirror(
        "mirror_last_attempt_timestamp_seconds",
        &fleet.broken,
        "hosted"
    )));
    assert!(!got.contains_key(&of_mirror("mirror_pending_refs", &fleet.broken, "hosted")));
    assert!(
        text.contains(&format!(
            "mirror=\"hosted\",url=\"https://***@git.example.com/me/broken.git\",user=\"{}\"}} 1",
            me()
        )),
        "the redacted URL:\n{text}"
    );

    // One repository alone, from inside it: the same series.
    let out = env.cmd_in(&fleet.failing).arg("metrics").assert().success();
    let alone = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    promtool_accepts(&promtool, &alone);
    let alone = samples(&alone);
    assert!(
        alone.keys().all(|series| series.contains(s(&fleet.failing))),
        "{alone:?}"
    );
    assert_eq!(
        alone.get(&of_mirror("mirror_failing", &fleet.failing, "m")),
        Some(&1.0)
    );
}

/// node_exporter on a free loopback port with only its textfile collector, reading `dir`; killed
/// on drop.
struct NodeExporter {
    child: Child,
    port: u16,
}

impl NodeExporter {
    fn start(program: &Path, dir: &Path) -> Self {
        let port = free_port();
        let child = Command::new(program)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(["--collector.disable-defaults", "--collector.textfile"])
            .arg(format!("--collector.textfile.directory={}", s(dir)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting prometheus-node-exporter");
        let exporter = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "node_exporter never listened on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        exporter
    }

    /// `GET /metrics`: the body.
    fn scrape(&self) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connecting to node_exporter");
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .expect("asking for /metrics");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("reading /metrics");
        let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
        assert!(
            head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
            "{head}"
        );
        body.to_owned()
    }
}

impl Drop for NodeExporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The line the crontab block runs, without its time fields, as `sh -c` takes it.
fn scheduled_command(table: &Path) -> String {
    let written = fs::read_to_string(table).expect("the crontab");
    let line = written
        .lines()
        .find(|line| line.contains(" sync --all "))
        .unwrap_or_else(|| panic!("no sync --all line in:\n{written}"));
    line.splitn(6, ' ')
        .nth(5)
        .expect("a command after the five time fields")
        .to_owned()
}

#[test]
fn a_scheduled_pass_writes_the_textfile_node_exporter_serves_whole_and_without_secrets() {
    let Some(programs) = tools::require(
        "the node_exporter scrape",
        vec![find_program("prometheus-node-exporter").ok_or_else(|| "prometheus-node-exporter".to_owned())],
        "on Debian: apt-get install prometheus-node-exporter",
    ) else {
        return;
    };
    let env = TestEnv::new();
    let fleet = fleet(&env);
    let textfiles = env.root().join("textfile");
    fs::create_dir(&textfiles).expect("creating the textfile dir");
    let (crontab, table) = fake_crontab(&env);
    env.cmd()
        .args(["schedule", "start", "--scheduler", "cron", "--textfile-dir"])
        .arg(&textfiles)
        .env("GIT_REPO_SYNC_CRONTAB", &crontab)
        .assert()
        .success();
    let scheduled = scheduled_command(&table);
    assert!(
        scheduled.ends_with(&format!("--textfile-dir {}", s(&textfiles))),
        "{scheduled}"
    );
    // What cron would run: the line, by sh, from the home directory.
    let pass_command = || {
        let mut sh = Command::new("sh");
        env.apply_env(&mut sh);
        sh.arg("-c").arg(&scheduled).current_dir(env.home());
        sh
    };
    let pass = |mut sh: Command| {
        let out = sh.output().expect("running the scheduled line");
        // A failing mirror and a broken trigger: exit status 1, the failures told.
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!said.contains(TOKEN), "{said}");
    };
    pass(pass_command());

    let exporter = NodeExporter::start(&programs[0], &textfiles);
    let body = exporter.scrape();
    assert!(!body.contains(TOKEN), "{body}");
    let got = samples(&body);
    let value = |series: String| {
        *got.get(&series)
            .unwrap_or_else(|| panic!("no {series} in:\n{body}"))
    };
    assert_eq!(value("node_textfile_scrape_error".to_owned()), 0.0, "{body}");
    assert_eq!(value(of_mirror("mirror_failing", &fleet.failing, "m")), 1.0);
    assert_eq!(value(of_mirror("mirror_failing", &fleet.healthy, "m")), 0.0);
    assert_eq!(value(of_repo("triggers_healthy", &fleet.broken)), 0.0);
    assert_eq!(value(of_repo("triggers_healthy", &fleet.healthy)), 1.0);
    // The pass carried the commit no hook saw.
    assert_eq!(value(of_mirror("mirror_pending_refs", &fleet.pending, "m")), 0.0);
    // The https mirror's host does not exist: contacted by the pass, failing.
    assert_eq!(value(of_mirror("mirror_failing", &fleet.broken, "hosted")), 1.0);
    for repo in [&fleet.healthy, &fleet.failing, &fleet.pending, &fleet.broken] {
        value(of_repo("last_scheduled_pass_timestamp_seconds", repo));
    }
    let series = got.keys().filter(|k| k.starts_with("git_repo_sync_")).count();

    // Passes rewrite the file while node_exporter is scraped: every scrape sees a whole file.
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let passes: Vec<Command> = (0..4).map(|_| pass_command()).collect();
        scope.spawn(|| {
            for sh in passes {
                pass(sh);
            }
            done.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        let mut scrapes = 0;
        while !done.load(std::sync::atomic::Ordering::Relaxed) || scrapes == 0 {
            let body = exporter.scrape();
            let got = samples(&body);
            assert_eq!(got.get("node_textfile_scrape_error"), Some(&0.0), "{body}");
            assert_eq!(
                got.keys().filter(|k| k.starts_with("git_repo_sync_")).count(),
                series,
                "a scrape saw part of the file:\n{body}"
            );
            scrapes += 1;
        }
    });
    let leftovers: Vec<_> = fs::read_dir(&textfiles)
        .expect("reading the textfile dir")
        .flatten()
        .map(|entry| entry.file_name())
        .collect();
    assert_eq!(leftovers, [my_textfile().as_str()], "no temporary file left");
}

/// One repository installed with a local mirror `m` and synced: (the repository, its mirror).
fn synced(env: &TestEnv, name: &str) -> (PathBuf, PathBuf) {
    let repo = env.init_repo(name);
    let mirror = env.root().join(format!("{name}-mirror.git"));
    env.install(&repo, &[("m", s(&mirror))]);
    env.cmd_in(&repo).arg("sync").assert().success();
    (repo, mirror)
}

fn write_user_config(env: &TestEnv, text: &str) {
    let path = env.user_config_path();
    fs::create_dir_all(path.parent().expect("a parent")).expect("creating the user config dir");
    fs::write(&path, text).expect("writing the user config");
}

#[test]
fn a_textfile_dir_in_the_user_config_has_every_sync_all_write_the_metrics_and_the_flag_wins() {
    let env = TestEnv::new();
    let (repo, _) = synced(&env, "project");
    let configured = env.root().join("configured");
    let flagged = env.root().join("flagged");
    for dir in [&configured, &flagged] {
        fs::create_dir(dir).expect("creating a textfile dir");
    }
    write_user_config(
        &env,
        &format!(
            "# metrics for node_exporter\n[metrics]\ntextfile_dir = {:?}\n",
            s(&configured)
        ),
    );

    env.cmd().args(["sync", "--all", "--quiet"]).assert().success();
    let written = fs::read_to_string(configured.join(my_textfile())).expect("the metrics file");
    assert_eq!(
        samples(&written).get(&of_mirror("mirror_failing", &repo, "m")),
        Some(&0.0),
        "{written}"
    );

    fs::remove_file(configured.join(my_textfile())).expect("removing the metrics file");
    env.cmd()
        .args(["sync", "--all", "--quiet", "--textfile-dir"])
        .arg(&flagged)
        .assert()
        .success();
    assert!(flagged.join(my_textfile()).is_file(), "the flag's directory");
    assert!(
        !configured.join(my_textfile()).exists(),
        "the setting's directory too"
    );

    // Where it comes from is shown: by `config show`, and by `schedule start`, whose line then
    // needs no flag.
    let shown = env.cmd_in(&repo).args(["config", "show"]).assert().success();
    let shown = String::from_utf8_lossy(&shown.get_output().stdout).into_owned();
    let origin = format!("user config {}, line 3", s(&env.user_config_path()));
    assert!(
        shown.contains(&format!(
            "# metrics.textfile_dir = {:?}  # {origin}",
            s(&configured)
        )),
        "{shown}"
    );
    let (crontab, table) = fake_crontab(&env);
    let started = env
        .cmd()
        .args(["schedule", "start", "--scheduler", "cron"])
        .env("GIT_REPO_SYNC_CRONTAB", &crontab)
        .assert()
        .success();
    let said = String::from_utf8_lossy(&started.get_output().stdout).into_owned();
    assert!(
        said.contains(&format!(
            "each pass writes their metrics to {} (metrics.textfile_dir, {origin})",
            configured.join(my_textfile()).display()
        )),
        "{said}"
    );
    assert!(!scheduled_command(&table).contains("--textfile-dir"));
}

#[test]
fn a_bad_textfile_dir_in_the_user_config_is_refused_naming_file_and_line_and_nothing_is_synced() {
    let env = TestEnv::new();
    let (repo, mirror) = synced(&env, "project");
    // A commit no hook saw: a pass would push it.
    env.change_file(&repo, "unseen");
    env.git(
        &repo,
        ["-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "unseen"],
    );
    let before = env.refs(&mirror);
    let (crontab, table) = fake_crontab(&env);
    for (value, why) in [
        (
            "\"prometheus\"",
            "metrics.textfile_dir is \"prometheus\", which is not an absolute path",
        ),
        ("3", "metrics.textfile_dir must be a string"),
    ] {
        write_user_config(&env, &format!("# metrics\n[metrics]\ntextfile_dir = {value}\n"));
        let expected = format!(
            "git-repo-sync: error: reading user config {}: line 3, column 16: {why}",
            s(&env.user_config_path())
        );
        let fix = "for example textfile_dir = \"/var/lib/prometheus/node-exporter\"";
        for args in [
            vec!["sync", "--all"],
            vec!["schedule", "start", "--scheduler", "cron"],
        ] {
            let out = env
                .cmd()
                .args(&args)
                .env("GIT_REPO_SYNC_CRONTAB", &crontab)
                .output()
                .expect("running git-repo-sync");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
            assert!(stderr.starts_with(&expected), "{args:?}: {stderr}");
            assert!(stderr.contains(fix), "{args:?}: {stderr}");
        }
        assert_eq!(env.refs(&mirror), before, "a pass ran");
        assert!(!table.exists(), "a schedule was written");
    }
}

/// `id -u NAME` and `id -g NAME`.
fn ids_of(name: &str) -> (String, String) {
    let id = |flag: &str| {
        let out = Command::new("id")
            .args([flag, name])
            .output()
            .expect("running id");
        assert!(out.status.success(), "no user {name}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    (id("-u"), id("-g"))
}

#[test]
fn two_users_passes_share_a_textfile_dir_and_node_exporter_serves_the_series_of_both() {
    let Some(programs) = tools::require(
        "two users' metrics in one textfile directory",
        vec![
            find_program("prometheus-node-exporter").ok_or_else(|| "prometheus-node-exporter".to_owned()),
            find_program("setpriv").ok_or_else(|| "setpriv".to_owned()),
        ],
        "on Debian: apt-get install prometheus-node-exporter util-linux",
    ) else {
        return;
    };
    if !running_as_root("two users' passes (root's and nobody's)") {
        return;
    }
    use std::os::unix::fs::PermissionsExt as _;
    let env = TestEnv::new();
    let (repo, _) = synced(&env, "project");
    // Root's and nobody's passes both tell of this repository: nobody registered it too (it was
    // theirs once, say), and cannot read it.
    let theirs = env.root().join("nobody-home");
    fs::create_dir_all(theirs.join(".config")).expect("creating nobody's home");
    fs::create_dir(theirs.join("tmp")).expect("creating nobody's TMPDIR");
    fs::write(
        theirs.join(".gitconfig"),
        format!("[repo-sync]\n\trepo = {}\n", s(&repo)),
    )
    .expect("writing nobody's git config");
    let textfiles = env.root().join("textfile");
    fs::create_dir(&textfiles).expect("creating the textfile dir");
    // What `setfacl -m u:USER:rwx` gives each user in the README.
    fs::set_permissions(&textfiles, fs::Permissions::from_mode(0o777)).expect("chmod");
    fs::set_permissions(env.root(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let chown = Command::new("chown")
        .args(["-R", "nobody"])
        .arg(&theirs)
        .status()
        .expect("running chown");
    assert!(chown.success());

    env.cmd()
        .args(["sync", "--all", "--quiet", "--textfile-dir"])
        .arg(&textfiles)
        .assert()
        .success();
    let (uid, gid) = ids_of("nobody");
    let mut as_nobody = Command::new(&programs[1]);
    env.apply_env(&mut as_nobody);
    as_nobody
        .args([
            format!("--reuid={uid}"),
            format!("--regid={gid}"),
            "--clear-groups".to_owned(),
        ])
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_git-repo-sync"))
        .args(["sync", "--all", "--quiet", "--textfile-dir"])
        .arg(&textfiles)
        .env("HOME", &theirs)
        .env("XDG_CONFIG_HOME", theirs.join(".config"))
        .env("GIT_CONFIG_GLOBAL", theirs.join(".gitconfig"))
        .env("TMPDIR", theirs.join("tmp"))
        .current_dir(&theirs);
    let out = as_nobody.output().expect("running sync --all as nobody");
    let mut files: Vec<String> = fs::read_dir(&textfiles)
        .expect("reading the textfile dir")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["git-repo-sync-nobody.prom", "git-repo-sync.prom"],
        "nobody's pass: {out:?}"
    );

    let readable = |body: &str| {
        body.lines()
            .filter(|line| line.starts_with("git_repo_sync_repository_readable{"))
            .count()
    };
    let exporter = NodeExporter::start(&programs[0], &textfiles);
    let body = exporter.scrape();
    let got = samples(&body);
    assert_eq!(got.get("node_textfile_scrape_error"), Some(&0.0), "{body}");
    assert!(
        got.contains_key(&of_repo_by("repository_readable", &repo, "root")),
        "{body}"
    );
    assert!(
        got.contains_key(&of_repo_by("repository_readable", &repo, "nobody")),
        "{body}"
    );
    assert_eq!(readable(&body), 2, "{body}");
    drop(exporter);

    // Without the label the two files hold the same series, and node_exporter serves one of
    // them only, and still says nothing went wrong: the label is what keeps both.
    let unlabelled = env.root().join("unlabelled");
    fs::create_dir(&unlabelled).expect("creating a second textfile dir");
    for file in &files {
        let text = fs::read_to_string(textfiles.join(file)).expect("reading a metrics file");
        let text = text.replace(",user=\"root\"", "").replace(",user=\"nobody\"", "");
        fs::write(unlabelled.join(file), text).expect("writing a metrics file");
    }
    let exporter = NodeExporter::start(&programs[0], &unlabelled);
    let body = exporter.scrape();
    assert_eq!(
        samples(&body).get("node_textfile_scrape_error"),
        Some(&0.0),
        "{body}"
    );
    assert_eq!(readable(&body), 1, "{body}");
}

/// `sync --all` with its stdout to a file, with `JOURNAL_STREAM` naming that file's device and
/// inode when `journal`, else naming another; its stdout.
fn sync_all_into(env: &TestEnv, journal: bool) -> String {
    let out_path = env.root().join(format!("sync-all-{journal}.out"));
    let out = fs::File::create(&out_path).expect("creating the output file");
    let meta = out.metadata().expect("the output file's metadata");
    let stream = if journal {
        use std::os::unix::fs::MetadataExt as _;
        format!("{}:{}", meta.dev(), meta.ino())
    } else {
        // Inherited from a service, with stdout redirected elsewhere: not the journal.
        "1:1".to_owned()
    };
    let status = env
        .std_cmd_in(env.root())
        .args(["sync", "--all"])
        .env("JOURNAL_STREAM", stream)
        .stdout(out)
        .status()
        .expect("running sync --all");
    assert_eq!(status.code(), Some(1), "a failing mirror, a broken trigger");
    fs::read_to_string(&out_path).expect("reading sync --all's output")
}

#[test]
fn into_the_journal_each_line_carries_its_priority_and_elsewhere_none() {
    let env = TestEnv::new();
    let fleet = fleet(&env);
    let journal = sync_all_into(&env, true);
    assert!(!journal.contains(TOKEN), "{journal}");
    let lines: Vec<&str> = journal.lines().collect();
    assert!(lines.len() >= 5, "{journal}");
    for line in &lines {
        let failure = line.contains(s(&fleet.failing)) && line.contains(": m:")
            || line.contains("triggers:")
            || line.contains(": hosted:");
        let prefix = if failure { "<3>" } else { "<6>" };
        assert!(
            line.starts_with(prefix),
            "{prefix} expected: {line}\nin:\n{journal}"
        );
    }

    let elsewhere = sync_all_into(&env, false);
    assert!(
        elsewhere.lines().all(|line| !line.starts_with('<')),
        "{elsewhere}"
    );
    assert_eq!(
        elsewhere.lines().count(),
        lines.len(),
        "{elsewhere}\nagainst:\n{journal}"
    );
}

/// The alert rules of the README's "Monitoring", between its marker comments, without the fence.
fn readme_alert_rules() -> String {
    let readme = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("reading README.md");
    let (_, rest) = readme
        .split_once("<!-- alert-rules:begin -->")
        .expect("the README's alert rules begin marker");
    let (rules, _) = rest
        .split_once("<!-- alert-rules:end -->")
        .expect("the README's alert rules end marker");
    let mut yaml: String = rules
        .lines()
        .filter(|line| !line.starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n");
    yaml.push('\n');
    yaml
}

/// A mirror failing since the start and a repository whose triggers are broken from the start:
/// each alert fires when it should and not before, with its summary and description filled in.
const ALERT_RULE_TESTS: &str = r#"rule_files:
  - rules.yml
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'git_repo_sync_mirror_failing_since_timestamp_seconds{repository="/srv/a",mirror="nas"}'
        values: '0x60'
      - series: 'git_repo_sync_triggers_healthy{repository="/srv/a"}'
        values: '0x60'
      - series: 'git_repo_sync_triggers_healthy{repository="/srv/b"}'
        values: '1x60'
    alert_rule_test:
      - eval_time: 29m
        alertname: GitRepoSyncMirrorFailing
        exp_alerts: []
      - eval_time: 31m
        alertname: GitRepoSyncMirrorFailing
        exp_alerts:
          - exp_labels: {severity: warning, repository: /srv/a, mirror: nas}
            exp_annotations:
              summary: "Mirror nas of /srv/a has failed for more than 30 minutes"
              description: "`git-repo-sync status` in /srv/a shows the error."
      - eval_time: 10m
        alertname: GitRepoSyncTriggersNotHealthy
        exp_alerts: []
      - eval_time: 16m
        alertname: GitRepoSyncTriggersNotHealthy
        exp_alerts:
          - exp_labels: {severity: warning, repository: /srv/a}
            exp_annotations:
              summary: "git no longer runs git-repo-sync's triggers in /srv/a"
              description: "Only the schedule brings its mirrors up to date; `git-repo-sync doctor /srv/a` has the fix."
"#;

#[test]
fn the_readmes_alert_rules_pass_promtool_and_fire_when_they_should() {
    let Some(promtool) = require_promtool() else {
        return;
    };
    let env = TestEnv::new();
    let rules = env.root().join("rules.yml");
    fs::write(&rules, readme_alert_rules()).expect("writing the rules");
    let tests = env.root().join("rule-tests.yml");
    fs::write(&tests, ALERT_RULE_TESTS).expect("writing the rule tests");
    for args in [
        ["check", "rules", "rules.yml"],
        ["test", "rules", "rule-tests.yml"],
    ] {
        let out = Command::new(&promtool)
            .args(args)
            .current_dir(env.root())
            .stdin(Stdio::null())
            .output()
            .expect("running promtool");
        assert!(
            out.status.success(),
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn into_the_journal_an_error_is_told_as_one_and_elsewhere_as_before() {
    use std::os::unix::fs::MetadataExt as _;
    let env = TestEnv::new();
    let err_path = env.root().join("stderr");
    let err = fs::File::create(&err_path).expect("creating the stderr file");
    let meta = err.metadata().expect("its metadata");
    // Not a repository: `metrics` fails.
    let status = env
        .std_cmd_in(env.home())
        .arg("metrics")
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .stderr(err)
        .status()
        .expect("running metrics");
    assert_eq!(status.code(), Some(1));
    let said = fs::read_to_string(&err_path).expect("reading stderr");
    assert!(said.starts_with("<3>git-repo-sync: error: "), "{said}");

    let out = env
        .std_cmd_in(env.home())
        .arg("metrics")
        .output()
        .expect("running metrics");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.starts_with("git-repo-sync: error: "), "{said}");
}
