//! A mirror that cannot be written says why in git's own words: a read-only mirror reached
//! through `git push` answers only `[remote rejected] (unpacker error)` on the ref, and the
//! reason (`remote unpack failed: unable to create temporary object directory`) is on git's
//! stderr. `sync`, `status` and the worker's log all keep it, and the next pass after the mirror
//! is writable again completes.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support;
use crate::support::{TestEnv, WAIT, s, wait_for};

/// What receive-pack says when it cannot write the objects directory.
const REASON: &str = "unable to create temporary object directory";

/// A directory made read-only for the test's lifetime: by its mode for an ordinary user, by a
/// read-only bind mount for root (whom modes do not stop). Put back when dropped.
struct ReadOnly {
    dir: PathBuf,
    mounted: bool,
}

impl ReadOnly {
    /// `Err` with the reason when the directory cannot be made read-only here.
    fn make(dir: &Path) -> Result<Self, String> {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o555)).map_err(|e| e.to_string())?;
        if !can_write_into(dir) {
            return Ok(Self {
                dir: dir.to_owned(),
                mounted: false,
            });
        }
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
        let mount = |args: &[&str]| {
            Command::new("mount")
                .args(args)
                .arg(dir)
                .arg(dir)
                .output()
                .map_err(|e| format!("running mount: {e}"))
                .and_then(|out| {
                    if out.status.success() {
                        Ok(())
                    } else {
                        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
                    }
                })
        };
        mount(&["--bind"]).map_err(|e| format!("mount --bind: {e}"))?;
        let read_only = Self {
            dir: dir.to_owned(),
            mounted: true,
        };
        mount(&["-o", "remount,ro,bind"]).map_err(|e| format!("mount -o remount,ro: {e}"))?;
        if can_write_into(dir) {
            return Err("a read-only bind mount is still writable".into());
        }
        Ok(read_only)
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(&self.dir).status();
        } else {
            let _ = fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o755));
        }
    }
}

fn can_write_into(dir: &Path) -> bool {
    let probe = dir.join(".probe-from-the-test");
    let ok = fs::File::create_new(&probe).is_ok();
    if ok {
        let _ = fs::remove_file(&probe);
    }
    ok
}

#[test]
fn a_read_only_mirror_shows_gits_reason_in_sync_status_and_the_log() {
    let env = TestEnv::new();
    let repo = env.init_repo("project");
    // A hook of its own: the mirror gets a real `git push`, not the direct transfer.
    let mirror = env.init_bare("mirror.git");
    env.write_executable(&mirror.join("hooks/pre-receive"), "#!/bin/sh\nexit 0\n");
    env.install(&repo, &[("backup", s(&mirror))]);
    // One try per pass, so that the worker's failure reaches the log at once.
    let config = env.config_path(&repo);
    let mut text = fs::read_to_string(&config).expect("reading the config");
    text.push_str("retries = 0\n");
    fs::write(&config, text).expect("writing the config");
    env.cmd_in(&repo).arg("sync").assert().success();

    let read_only = match ReadOnly::make(&mirror.join("objects")) {
        Ok(read_only) => read_only,
        Err(why) => {
            eprintln!("skipped: cannot make the mirror read-only here ({why})");
            return;
        }
    };
    // A new commit that fires no hook, for the foreground sync to carry.
    let tree = format!("{}^{{tree}}", env.head(&repo));
    let head = env.head(&repo);
    let next = env.git(&repo, ["commit-tree", &tree, "-p", &head, "-m", "quiet"]);
    env.git(&repo, ["update-ref", "refs/heads/main", next.trim()]);

    let out = env.cmd_in(&repo).arg("sync").output().expect("running sync");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.contains(REASON) && stdout.contains("unpacker error"),
        "sync does not give git's reason:\n{stdout}"
    );
    let status = env.cmd_in(&repo).arg("status").output().expect("running status");
    let shown = String::from_utf8_lossy(&status.stdout);
    assert!(
        shown.contains(REASON),
        "status does not give git's reason:\n{shown}"
    );
    let json = env.status_json(&repo);
    let last_error = support::mirror_status(&json, "backup")["last_error"].to_string();
    assert!(last_error.contains(REASON), "{json:#}");

    // The background worker's log says it too.
    env.commit(&repo, "in the background");
    wait_for(
        WAIT,
        || env.log(&repo).contains(REASON),
        || format!("the log does not give git's reason:\n{}", env.log(&repo)),
    );

    drop(read_only);
    env.cmd_in(&repo).arg("sync").assert().success();
    env.wait_until_refs_equal(&repo, &mirror, WAIT);
    let json = env.status_json(&repo);
    assert_eq!(
        support::mirror_status(&json, "backup")["last_result"],
        "ok",
        "{json:#}"
    );
}
