//! The settings of the system and user config besides their mirrors and roots: the one list of
//! them ([`SETTINGS`]), which the reading, the messages and the README's table all follow. The
//! user's file wins over the system's, as for mirrors.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::{Level, Location};

/// One setting: `key` in the file's `[table]`.
#[derive(Debug)]
pub(crate) struct Setting {
    pub(crate) table: &'static str,
    pub(crate) key: &'static str,
    /// A value as the README shows it.
    pub(crate) example: &'static str,
    /// Checks a value; the error completes a sentence naming the setting ("must be a string").
    check: fn(&toml::Value) -> Result<(), String>,
}

impl Setting {
    /// `metrics.textfile_dir`, as messages name it.
    pub(crate) fn name(&self) -> String {
        format!("{}.{}", self.table, self.key)
    }
}

/// Every setting of the system and user config besides mirrors and roots.
pub(crate) static SETTINGS: &[Setting] = &[Setting {
    table: "metrics",
    key: "textfile_dir",
    example: "\"/var/lib/prometheus/node-exporter\"",
    check: |value| match value.as_str() {
        None => Err("must be a string: the absolute path of node_exporter's \
                     --collector.textfile.directory"
            .into()),
        Some(dir) if !dir.starts_with('/') || dir.contains('\0') => Err(format!(
            "is {dir:?}, which is not an absolute path: give node_exporter's \
             --collector.textfile.directory"
        )),
        Some(_) => Ok(()),
    },
}];

/// A setting's value and where it was written: `user config '/home/me/...', line 4`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Set<T> {
    pub(crate) value: T,
    pub(crate) origin: String,
}

/// The settings of the system and user files together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Settings {
    /// Where `sync --all` (so each scheduled pass) writes the metrics; `--textfile-dir` wins.
    pub(crate) textfile_dir: Option<Set<PathBuf>>,
}

// The tables of settings as written; the rest of the file is the mirrors' and roots' to check.
#[derive(Deserialize)]
struct RawSettings {
    #[serde(default)]
    metrics: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
}

impl Settings {
    /// Takes the settings of one file's `text`, over those of less specific files. `what` names
    /// the file in errors ("reading user config '...'"); errors give the line and column.
    pub(crate) fn read(&mut self, text: &str, level: Level, file: &str, what: &str) -> Result<(), String> {
        let raw: RawSettings =
            toml::from_str(text).map_err(|err| format!("{what}: {}", err.to_string().trim_end()))?;
        for (key, value) in raw.metrics {
            let at = Location::of(text, key.span().start);
            let Some(setting) = SETTINGS
                .iter()
                .find(|setting| setting.table == "metrics" && setting.key == key.get_ref())
            else {
                let known = SETTINGS
                    .iter()
                    .filter(|setting| setting.table == "metrics")
                    .map(|setting| setting.key);
                let hint = super::nearest(key.get_ref(), known)
                    .map(|near| format!("\ndid you mean `{near}`?"))
                    .unwrap_or_default();
                return Err(format!(
                    "{what}: {at}: unknown setting `{}` in [metrics]{hint}",
                    key.get_ref()
                ));
            };
            let value_at = Location::of(text, value.span().start);
            (setting.check)(value.get_ref()).map_err(|why| {
                format!(
                    "{what}: {value_at}: {} {why}, for example {} = {}",
                    setting.name(),
                    setting.key,
                    setting.example
                )
            })?;
            let origin = format!("{level} config {file}, line {}", at.line);
            if let Some(dir) = value.get_ref().as_str() {
                self.textfile_dir = Some(Set {
                    value: PathBuf::from(dir),
                    origin,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Settings, String> {
        let mut settings = Settings::default();
        settings.read(text, Level::User, "'/c.toml'", "reading user config '/c.toml'")?;
        Ok(settings)
    }

    #[test]
    fn a_textfile_dir_is_read_with_where_it_was_written() {
        let settings = read("[mirrors.a]\nurl = \"/x\"\n\n[metrics]\ntextfile_dir = \"/var/lib/n\"\n")
            .expect("a valid setting");
        assert_eq!(
            settings.textfile_dir,
            Some(Set {
                value: PathBuf::from("/var/lib/n"),
                origin: "user config '/c.toml', line 5".into()
            })
        );
        assert_eq!(read("").expect("no settings"), Settings::default());
    }

    /// The README's table of settings is written by hand; a setting added here must be added there.
    #[test]
    fn every_setting_is_in_the_readme_with_its_example() {
        let readme =
            std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
                .expect("reading README.md");
        for setting in SETTINGS {
            let row = format!("\n| `{}` | `{}` |", setting.name(), setting.example);
            assert!(readme.contains(&row), "README.md has no row starting {row:?}");
            let written = format!("[{}]\n{} = {}\n", setting.table, setting.key, setting.example);
            assert!(read(&written).is_ok(), "{written}");
        }
    }

    #[test]
    fn a_bad_textfile_dir_is_refused_naming_the_file_line_and_column() {
        for (text, expected) in [
            (
                "[metrics]\ntextfile_dir = \"prom\"\n",
                "line 2, column 16: metrics.textfile_dir is \"prom\", which is not an absolute path",
            ),
            (
                "[metrics]\ntextfile_dir = 3\n",
                "line 2, column 16: metrics.textfile_dir must be a string",
            ),
            (
                "[metrics]\ntextfile_dri = \"/x\"\n",
                "line 2, column 1: unknown setting `textfile_dri` in [metrics]\ndid you mean `textfile_dir`?",
            ),
        ] {
            let err = read(text).expect_err(text);
            assert!(
                err.starts_with(&format!("reading user config '/c.toml': {expected}")),
                "{err}"
            );
        }
    }
}
