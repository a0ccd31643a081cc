//! `mirror add | remove | list`.

use anyhow::{Result, anyhow, bail};

use super::reach::Reach;
use crate::cli::{MirrorAddArgs, MirrorCommand};
use crate::config::{self, Config, Mirror};
use crate::repo::Repo;
use crate::{ExitStatus, Verbosity, redact};

pub(crate) fn run(command: &MirrorCommand, verbosity: Verbosity) -> Result<ExitStatus> {
    let repo = Repo::discover()?;
    let path = repo.config_path();
    // Read first: a broken config is reported before anything, even a lock file, is written.
    let config = Config::load(&path)?;
    match command {
        MirrorCommand::Add(args) => {
            let mirror = checked_mirror(args)?;
            // Before the check, which may take the mirror's whole timeout.
            name_free(&config, &args.name)?;
            if !args.no_check && !super::will_be_created(&mirror.url) {
                let reach = super::reach::check_showing(&repo, &args.name, &mirror);
                refuse_unless_reached(&args.name, &mirror, &reach)?;
                if verbosity != Verbosity::Quiet {
                    println!("mirror '{}' {}", args.name, reach.describe());
                }
            }
            let created = Config::edit(&path, |config| {
                // Again under the lock: another `mirror add` may have taken the name meanwhile.
                name_free(config, &args.name)?;
                let created = super::prepare_local_mirror(&repo, &mirror.url, false)?;
                config.mirrors.insert(args.name.clone(), mirror);
                Ok(created)
            })?;
            if verbosity != Verbosity::Quiet {
                if let Some(created) = created {
                    println!("{created}");
                }
                println!("added mirror '{}' to {}", args.name, crate::repo::quoted(&path));
            }
        }
        MirrorCommand::Remove { name } => {
            Config::edit(&path, |config| {
                if config.mirrors.remove(name).is_none() {
                    bail!("no mirror named '{name}' in {}", crate::repo::quoted(&path));
                }
                Ok(())
            })?;
            // What was kept about it goes too, under the lock every writer of the state takes:
            // a mirror added later under the same name is a new mirror.
            let _lock = crate::worker::SyncLock::acquire(&repo)?;
            crate::engine::forget(&repo, name)?;
            if verbosity != Verbosity::Quiet {
                println!(
                    "removed mirror '{name}' and what was kept about it (nothing on the mirror itself was deleted)"
                );
            }
        }
        MirrorCommand::List => {
            for (name, mirror) in &config.mirrors {
                let mut options = Vec::new();
                if mirror.refs != Mirror::new(String::new()).refs {
                    options.push(format!("refs: {}", mirror.refs.join(" ")));
                }
                if !mirror.prune {
                    options.push("no prune".to_owned());
                }
                if !mirror.force {
                    options.push("no force".to_owned());
                }
                if let Some(file) = &mirror.identity_file {
                    options.push(format!("identity file {}", crate::repo::quoted(file)));
                }
                if let Some(var) = &mirror.token_env {
                    options.push(format!("token from ${var}"));
                }
                if let Some(secs) = mirror.timeout {
                    options.push(format!("timeout {secs} s"));
                }
                if mirror.trust_new_host_key {
                    options.push("trusts new host keys".to_owned());
                }
                let options = if options.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", options.join(", "))
                };
                println!("{name}\t{}{options}", redact::url(&mirror.url));
            }
        }
    }
    Ok(ExitStatus::Success)
}

fn name_free(config: &Config, name: &str) -> Result<()> {
    if let Some(existing) = config.mirrors.get(name) {
        bail!(
            "a mirror named '{name}' already exists ({}); remove it first or pick another name",
            redact::url(&existing.url)
        );
    }
    Ok(())
}

/// A mirror that does not answer is refused with git's reason: a typo in the URL shows now, not
/// at the first push.
fn refuse_unless_reached(name: &str, mirror: &Mirror, reach: &Reach) -> Result<()> {
    if reach.is_ok() {
        return Ok(());
    }
    let fix = match reach {
        Reach::AuthRefused(_) => Reach::auth_fix(&mirror.url),
        _ => "check the URL",
    };
    bail!(
        "mirror '{name}' ({}): {}\n  fix: {fix}; or add it without checking with `--no-check` \
         (offline, or a mirror not set up yet). Nothing was added.",
        redact::url(&mirror.url),
        reach.describe()
    )
}

fn checked_mirror(args: &MirrorAddArgs) -> Result<Mirror> {
    config::validate_name(&args.name).map_err(|why| anyhow!("mirror name {:?} {why}", args.name))?;
    let mut mirror = Mirror::new(super::normalize_url(&args.url)?);
    if !args.refs.is_empty() {
        for pattern in &args.refs {
            config::validate_ref_pattern(pattern).map_err(|why| anyhow!("--ref {pattern:?} {why}"))?;
        }
        mirror.refs.clone_from(&args.refs);
    }
    mirror.prune = !args.no_prune;
    mirror.force = !args.no_force;
    mirror.identity_file = match &args.identity_file {
        Some(file) if file.is_relative() => Some(std::env::current_dir()?.join(file)),
        other => other.clone(),
    };
    mirror.token_env.clone_from(&args.token_env);
    mirror.timeout = args.timeout;
    mirror.trust_new_host_key = args.trust_new_host_key;
    mirror
        .check_options()
        .map_err(|(field, why)| anyhow!("--{} {why}", field.replace('_', "-")))?;
    Ok(mirror)
}
