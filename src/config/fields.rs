//! The one list of a mirror's settings besides its URL. The config file, `mirror add`'s options
//! and `mirror list` are all built from [`FIELDS`], so a new setting is added here once.

use std::path::PathBuf;

use super::{Mirror, validate_ref_pattern};

/// How a setting is written in the config file and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    /// A whole number in `min..=max`, in `unit` (for messages).
    Integer {
        min: i64,
        max: i64,
        unit: &'static str,
    },
    Text,
    /// A path; `mirror add` makes a relative one absolute against the current directory.
    Path,
    /// A list of ref patterns (`refs/heads/*`).
    Patterns,
}

/// How `mirror add` sets it on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// `--<key> VALUE` (`--ref PATTERN` for the patterns, repeatable).
    Value(&'static str),
    /// `--<key>`, a switch that sets it true.
    Enable,
    /// `--no-<key>`, a switch that sets it false (the default is true).
    Disable,
}

/// One setting of a mirror.
#[derive(Debug)]
pub struct Field {
    /// Its key in the config file (`retry_max_delay`); `mirror add` takes it with dashes.
    pub key: &'static str,
    pub kind: Kind,
    pub flag: Flag,
    /// One line for `mirror add --help` and the docs.
    pub help: &'static str,
    /// Its value when the config does not set it, as the config file would write it.
    pub default: &'static str,
    /// Its value in `mirror`, when that is not the default.
    pub get: fn(&Mirror) -> Option<toml::Value>,
    /// Stores a value that passed [`Field::check`].
    set: fn(&mut Mirror, toml::Value),
}

impl Field {
    /// The option that sets it on `mirror add`'s command line.
    pub fn long(&self) -> String {
        match self.flag {
            Flag::Disable => format!("no-{}", self.key.replace('_', "-")),
            _ if self.kind == Kind::Patterns => "ref".to_owned(),
            _ => self.key.replace('_', "-"),
        }
    }

    /// Checks `value`'s type and range, then sets it on `mirror`. The error completes a
    /// sentence naming the field ("must be between 0 and 20").
    pub fn apply(&self, mirror: &mut Mirror, value: toml::Value) -> Result<(), String> {
        self.check(&value)?;
        (self.set)(mirror, value);
        Ok(())
    }

    fn check(&self, value: &toml::Value) -> Result<(), String> {
        match (self.kind, value) {
            (Kind::Bool, toml::Value::Boolean(_)) => Ok(()),
            (Kind::Bool, _) => Err("must be true or false".into()),
            (Kind::Integer { min, max, .. }, toml::Value::Integer(n)) if (min..=max).contains(n) => Ok(()),
            (Kind::Integer { min, max, unit }, _) => Err(format!("must be between {min} and {max}{unit}")),
            (Kind::Text | Kind::Path, toml::Value::String(text))
                if text.trim().is_empty() || text.contains('\0') =>
            {
                Err("must not be empty".into())
            }
            (Kind::Text | Kind::Path, toml::Value::String(_)) => Ok(()),
            (Kind::Text | Kind::Path, _) => Err("must be a string".into()),
            (Kind::Patterns, toml::Value::Array(items)) => {
                for item in items {
                    let toml::Value::String(pattern) = item else {
                        return Err("must be a list of strings".into());
                    };
                    validate_ref_pattern(pattern).map_err(|why| format!("has {pattern:?}, which {why}"))?;
                }
                Ok(())
            }
            (Kind::Patterns, _) => Err("must be a list of ref patterns, like [\"refs/heads/*\"]".into()),
        }
    }

    /// The field of that key.
    pub fn named(key: &str) -> Option<&'static Self> {
        FIELDS.iter().find(|field| field.key == key)
    }
}

fn text(value: toml::Value) -> String {
    match value {
        toml::Value::String(text) => text,
        other => other.to_string(),
    }
}

fn integer(value: &toml::Value) -> u64 {
    value
        .as_integer()
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0)
}

fn string(text: &str) -> Option<toml::Value> {
    Some(toml::Value::String(text.to_owned()))
}

/// Every setting of a mirror besides its URL, in the order the config file lists them.
pub(crate) static FIELDS: &[Field] = &[
    Field {
        key: "refs",
        default: r#"["refs/heads/*", "refs/tags/*"]"#,
        kind: Kind::Patterns,
        flag: Flag::Value("PATTERN"),
        help: "Refs to mirror, as patterns like `refs/heads/release/*` (repeatable; default: all \
               branches and tags).",
        get: |m| {
            (m.refs != super::default_refs())
                .then(|| toml::Value::Array(m.refs.iter().map(|r| toml::Value::String(r.clone())).collect()))
        },
        set: |m, v| {
            m.refs = v
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|i| i.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
        },
    },
    Field {
        key: "prune",
        default: "true",
        kind: Kind::Bool,
        flag: Flag::Disable,
        help: "Delete on the mirror what was deleted here (default true; `--no-prune` keeps it).",
        get: |m| (!m.prune).then_some(toml::Value::Boolean(false)),
        set: |m, v| m.prune = v.as_bool().unwrap_or(true),
    },
    Field {
        key: "force",
        default: "true",
        kind: Kind::Bool,
        flag: Flag::Disable,
        help: "Overwrite a ref that diverged on the mirror (default true; `--no-force` leaves it \
               alone and reports it).",
        get: |m| (!m.force).then_some(toml::Value::Boolean(false)),
        set: |m, v| m.force = v.as_bool().unwrap_or(true),
    },
    Field {
        key: "identity_file",
        default: "(none)",
        kind: Kind::Path,
        flag: Flag::Value("PATH"),
        help: "ssh: the private key to use for this mirror (a deploy key), alone.",
        get: |m| {
            m.identity_file
                .as_ref()
                .and_then(|f| string(&f.to_string_lossy()))
        },
        set: |m, v| m.identity_file = Some(PathBuf::from(text(v))),
    },
    Field {
        key: "token_env",
        default: "(none)",
        kind: Kind::Text,
        flag: Flag::Value("VAR"),
        help: "http(s): the environment variable that holds the password or token.",
        get: |m| m.token_env.as_deref().and_then(string),
        set: |m, v| m.token_env = Some(text(v)),
    },
    Field {
        key: "timeout",
        default: "30",
        kind: Kind::Integer {
            min: 1,
            max: 86_400,
            unit: " seconds",
        },
        flag: Flag::Value("SECS"),
        help: "Seconds without any sign of life from the mirror before giving up on it (default 30).",
        get: |m| {
            m.timeout
                .map(|n| toml::Value::Integer(n.try_into().unwrap_or(i64::MAX)))
        },
        set: |m, v| m.timeout = Some(integer(&v)),
    },
    Field {
        key: "trust_new_host_key",
        default: "false",
        kind: Kind::Bool,
        flag: Flag::Enable,
        help: "ssh: accept and remember the host key of a host not seen before (trust on first use).",
        get: |m| m.trust_new_host_key.then_some(toml::Value::Boolean(true)),
        set: |m, v| m.trust_new_host_key = v.as_bool().unwrap_or(false),
    },
    Field {
        key: "retries",
        default: "3",
        kind: Kind::Integer {
            min: 0,
            max: 20,
            unit: "",
        },
        flag: Flag::Value("N"),
        help: "How often a background sync tries again after a failure it may recover from (default 3).",
        get: |m| m.retries.map(|n| toml::Value::Integer(n.into())),
        set: |m, v| m.retries = Some(u32::try_from(integer(&v)).unwrap_or(u32::MAX)),
    },
    Field {
        key: "retry_max_delay",
        default: "60",
        kind: Kind::Integer {
            min: 1,
            max: 3600,
            unit: " seconds",
        },
        flag: Flag::Value("SECS"),
        help: "The longest wait between two tries, in seconds; waits double from 1 s up to it \
               (default 60).",
        get: |m| {
            m.retry_max_delay
                .map(|n| toml::Value::Integer(n.try_into().unwrap_or(i64::MAX)))
        },
        set: |m, v| m.retry_max_delay = Some(integer(&v)),
    },
    Field {
        key: "ssh_keep_open",
        default: "60",
        kind: Kind::Integer {
            min: 0,
            max: 3600,
            unit: " seconds",
        },
        flag: Flag::Value("SECS"),
        help: "ssh: seconds the connection stays open after a sync, so that the next sync to the \
               same host skips connecting and logging in again (0: closed with the sync; default 60).",
        get: |m| {
            m.ssh_keep_open
                .map(|n| toml::Value::Integer(n.try_into().unwrap_or(i64::MAX)))
        },
        set: |m, v| m.ssh_keep_open = Some(integer(&v)),
    },
    Field {
        key: "shallow",
        default: "false",
        kind: Kind::Bool,
        flag: Flag::Enable,
        help: "Push a shallow clone as it is: the mirror gets only the history this clone has, and \
               must accept shallow pushes (`receive.shallowUpdate`). Without it a shallow clone is \
               refused, since its mirror could not be cloned.",
        get: |m| m.shallow.then_some(toml::Value::Boolean(true)),
        set: |m, v| m.shallow = v.as_bool().unwrap_or(false),
    },
    Field {
        key: "lfs_url",
        default: "(none)",
        kind: Kind::Text,
        flag: Flag::Value("URL"),
        help: "Git LFS, ssh and http(s): the LFS server that takes this mirror's large files, where \
               it is not the one git-lfs finds for the mirror's URL (`<url>/info/lfs`, or what the \
               server's `git-lfs-authenticate` says). No credentials in it: `token_env` or your \
               credential helper logs in.",
        get: |m| m.lfs_url.as_deref().and_then(string),
        set: |m, v| m.lfs_url = Some(text(v)),
    },
    Field {
        key: "create",
        default: "false",
        kind: Kind::Bool,
        flag: Flag::Enable,
        help: "Local mirrors only: when the mirror does not exist yet but its parent directory does, \
               create it as an empty bare repository (a mirror from a rule, for repositories made \
               later; a missing mount point still fails).",
        get: |m| m.create.then_some(toml::Value::Boolean(true)),
        set: |m, v| m.create = v.as_bool().unwrap_or(false),
    },
    Field {
        key: "on_failure",
        default: "(none)",
        kind: Kind::Text,
        flag: Flag::Value("COMMAND"),
        help: "A command (run by `sh -c`) when the mirror starts failing; it gets the mirror's \
               name, the redacted error and the repository in its environment.",
        get: |m| m.on_failure.as_deref().and_then(string),
        set: |m, v| m.on_failure = Some(text(v)),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_field_is_read_back_as_written() {
        let url = crate::url::MirrorUrl::parse("/srv/m.git").expect("url");
        let defaults = Mirror::new(url.clone());
        for field in FIELDS {
            assert_eq!(
                (field.get)(&defaults),
                None,
                "{} is not at its default",
                field.key
            );
        }
        let mut changed = Mirror::new(url);
        let values = [
            (
                "refs",
                toml::Value::Array(vec![toml::Value::String("refs/heads/main".into())]),
            ),
            ("prune", toml::Value::Boolean(false)),
            ("force", toml::Value::Boolean(false)),
            ("identity_file", toml::Value::String("/k".into())),
            ("token_env", toml::Value::String("TOKEN".into())),
            ("timeout", toml::Value::Integer(9)),
            ("trust_new_host_key", toml::Value::Boolean(true)),
            ("retries", toml::Value::Integer(0)),
            ("retry_max_delay", toml::Value::Integer(5)),
            ("ssh_keep_open", toml::Value::Integer(0)),
            ("shallow", toml::Value::Boolean(true)),
            ("lfs_url", toml::Value::String("https://lfs.example.org/x".into())),
            ("create", toml::Value::Boolean(true)),
            ("on_failure", toml::Value::String("notify-send x".into())),
        ];
        assert_eq!(values.len(), FIELDS.len(), "a field without a value here");
        for (key, value) in values {
            let field = Field::named(key).expect("a field of that key");
            field.apply(&mut changed, value.clone()).expect("a valid value");
            assert_eq!((field.get)(&changed), Some(value), "{key}");
        }
    }

    /// The README's table of settings and the Nix modules' mirror type are written by hand;
    /// a setting added here must be added there too.
    #[test]
    fn every_setting_is_in_the_readme_and_the_nix_mirror_type() {
        let read =
            |path: &str| std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path));
        let readme = read("README.md").expect("reading README.md");
        for field in FIELDS {
            assert!(
                readme.contains(&format!("\n| `{}` |", field.key)),
                "README.md's table of settings has no row for {}",
                field.key
            );
        }
        // The Nix package builds from a source without `nix/`, and runs this test there.
        let Ok(nix) = read("nix/repository-options.nix") else {
            println!(
                "skipped: no nix/repository-options.nix beside Cargo.toml (a source without the Nix files)"
            );
            return;
        };
        for field in FIELDS {
            assert!(
                nix.lines()
                    .any(|line| line.trim_start().starts_with(&format!("{} = ", field.key))),
                "nix/repository-options.nix's mirror type has no option {}",
                field.key
            );
        }
    }

    #[test]
    fn the_documented_defaults_are_the_ones_used() {
        let default = |key| Field::named(key).expect("a field").default;
        assert_eq!(default("timeout"), super::super::DEFAULT_TIMEOUT_SECS.to_string());
        assert_eq!(default("retries"), super::super::DEFAULT_RETRIES.to_string());
        assert_eq!(
            default("retry_max_delay"),
            super::super::DEFAULT_RETRY_MAX_DELAY_SECS.to_string()
        );
        assert_eq!(
            default("ssh_keep_open"),
            super::super::DEFAULT_SSH_KEEP_OPEN_SECS.to_string()
        );
        let refs = toml::Value::Array(
            super::super::default_refs()
                .into_iter()
                .map(toml::Value::String)
                .collect(),
        );
        assert_eq!(default("refs"), refs.to_string());
    }

    #[test]
    fn out_of_range_and_mistyped_values_are_refused() {
        let mut mirror = Mirror::new(crate::url::MirrorUrl::parse("/srv/m.git").expect("url"));
        let retries = Field::named("retries").expect("retries");
        assert!(retries.apply(&mut mirror, toml::Value::Integer(21)).is_err());
        assert!(
            retries
                .apply(&mut mirror, toml::Value::String("3".into()))
                .is_err()
        );
        let refs = Field::named("refs").expect("refs");
        let bad = toml::Value::Array(vec![toml::Value::String("heads/main".into())]);
        assert!(refs.apply(&mut mirror, bad).is_err());
        assert_eq!(
            mirror,
            Mirror::new(crate::url::MirrorUrl::parse("/srv/m.git").expect("url"))
        );
    }
}
