//! `mirror add | remove | list`.

use anyhow::{Result, anyhow, bail};

use super::reach::Reach;
use crate::cli::{MirrorAddArgs, MirrorCommand, SettingValue};
use crate::commands::{ExitStatus, Verbosity};
use crate::config::{self, Config, FIELDS, Field, Kind, Layers, Level, Mirror};
use crate::repo::Repo;

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
            if !config.mirrors.contains_key(name) {
                // Before the config's lock file is made: a refusal writes nothing.
                let layered = Layers::read()?.for_repo(&repo.canonical_path(), &path)?;
                if let Some(origin) = layered.origins.get(name) {
                    bail!(
                        "mirror '{name}' comes from the {} config {}, not from this repository's \
                         {}; change it there (see `git-repo-sync config show`)",
                        origin.level,
                        crate::repo::quoted(&origin.file),
                        crate::repo::quoted(&path)
                    );
                }
            }
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
            let layered = Layers::read()?.for_repo(&repo.canonical_path(), &path)?;
            for (name, mirror) in &layered.config.mirrors {
                let level = layered.origins[name].level;
                let inherited = if level == Level::Repository {
                    String::new()
                } else {
                    format!("  [{level} config]")
                };
                println!("{name}\t{}{}{inherited}", mirror.url, settings(mirror));
            }
        }
    }
    Ok(ExitStatus::Success)
}

fn name_free(config: &Config, name: &str) -> Result<()> {
    if let Some(existing) = config.mirrors.get(name) {
        bail!(
            "a mirror named '{name}' already exists ({}); remove it first or pick another name",
            existing.url.redacted()
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
        mirror.url.redacted(),
        reach.describe()
    )
}

/// The settings of `mirror` that are not at their defaults, as the config file writes them:
/// `  (prune = false, retries = 5)`, or nothing.
fn settings(mirror: &Mirror) -> String {
    let set: Vec<String> = FIELDS
        .iter()
        .filter_map(|field| Some(format!("{} = {}", field.key, (field.get)(mirror)?)))
        .collect();
    if set.is_empty() {
        String::new()
    } else {
        format!("  ({})", set.join(", "))
    }
}

fn checked_mirror(args: &MirrorAddArgs) -> Result<Mirror> {
    config::validate_name(&args.name).map_err(|why| anyhow!("mirror name {:?} {why}", args.name))?;
    let mut mirror = Mirror::new(super::normalize_url(&args.url)?);
    for (field, typed) in &args.settings.0 {
        let option = format!("--{}", field.long());
        let value = match (typed, field.kind) {
            (SettingValue::Switch(on), _) => toml::Value::Boolean(*on),
            (SettingValue::Texts(texts), Kind::Patterns) => {
                toml::Value::Array(texts.iter().cloned().map(toml::Value::String).collect())
            }
            (SettingValue::Texts(texts), kind) => {
                let text = texts.last().cloned().unwrap_or_default();
                match kind {
                    Kind::Integer { .. } => toml::Value::Integer(
                        text.parse()
                            .map_err(|_| anyhow!("{option} {text:?} is not a whole number"))?,
                    ),
                    // Hooks run from other directories.
                    Kind::Path if std::path::Path::new(&text).is_relative() => toml::Value::String(
                        std::env::current_dir()?
                            .join(&text)
                            .to_string_lossy()
                            .into_owned(),
                    ),
                    _ => toml::Value::String(text),
                }
            }
        };
        field
            .apply(&mut mirror, value)
            .map_err(|why| anyhow!("{option} {why}"))?;
    }
    mirror.check_options().map_err(|(key, why)| {
        let long = Field::named(key).map_or_else(|| key.replace('_', "-"), Field::long);
        anyhow!("--{long} {why}")
    })?;
    Ok(mirror)
}
