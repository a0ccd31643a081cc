//! The layers of configuration a repository's mirrors come from, most specific last:
//!
//! 1. system: `/etc/git-repo-sync/config.toml` (`GIT_REPO_SYNC_SYSTEM_CONFIG` names another);
//! 2. user: `$XDG_CONFIG_HOME/git-repo-sync/config.toml`, else `~/.config/git-repo-sync/config.toml`;
//! 3. repository: `repo-sync.toml` in its git dir.
//!
//! The system and user files hold rules for many repositories: mirrors for every repository
//! (`[mirrors.NAME]`) and mirrors for the repositories under a directory
//! (`[roots."/srv/git".mirrors.NAME]`), whose URL is a template over the repository: `{{name}}`
//! (its directory's name without `.git`), `{{path}}` (its path below the root, without `.git`)
//! and `{{owner}}` (the first directory of `{{path}}`, where there is one). A mirror of a more
//! specific layer replaces one of the same name from a less specific layer as a whole, and a
//! root's mirror replaces one of its own file's for every repository.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow};
use serde::Deserialize;
use toml::Spanned;

use super::settings::Settings;
use super::template::{Values, fixed_part, is_template, render};
use super::{Config, KeyLocations, Level, Location, Mirror, RawMirror, mirror_from, suggestion};

/// Names another file for the system layer (for tests, and systems without `/etc`).
pub(crate) const SYSTEM_CONFIG_ENV: &str = "GIT_REPO_SYNC_SYSTEM_CONFIG";

/// Where a mirror was defined.
#[derive(Debug, Clone)]
pub struct Origin {
    pub level: Level,
    pub file: PathBuf,
    /// The root whose rule it is (`[roots."DIR"]`), if it is one.
    pub root: Option<PathBuf>,
    /// The URL as written, when it was a template.
    pub template: Option<String>,
    /// Where each of its keys stands in the file.
    pub(crate) keys: KeyLocations,
}

impl Origin {
    /// `user config /home/me/.config/git-repo-sync/config.toml, line 4` for `key`, or `default`
    /// when the mirror's file does not set it.
    pub fn of(&self, key: &str) -> String {
        match self.keys.get(key) {
            Some(location) => format!(
                "{} config {}, line {}",
                self.level,
                crate::repo::quoted(&self.file),
                location.line
            ),
            None => "default".to_owned(),
        }
    }
}

/// A repository's mirrors from every layer, with where each came from.
#[derive(Debug, Clone, Default)]
pub struct Layered {
    pub config: Config,
    pub origins: BTreeMap<String, Origin>,
    /// Mirrors a more specific layer replaced: (name, the replaced one's origin).
    pub replaced: Vec<(String, Origin)>,
}

/// The system layer's file.
pub(crate) fn system_path() -> PathBuf {
    std::env::var_os(SYSTEM_CONFIG_ENV)
        .filter(|value| !value.is_empty())
        .map_or_else(|| PathBuf::from("/etc/git-repo-sync/config.toml"), PathBuf::from)
}

/// Whether a system or user file exists: the hook's fast path asks before it starts a worker.
pub(crate) fn any_file_exists() -> bool {
    system_path().exists() || user_path().is_some_and(|user| user.exists())
}

/// The user layer's file, if there is a home to have one in.
pub(crate) fn user_path() -> Option<PathBuf> {
    let dir = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(dir.join("git-repo-sync").join("config.toml"))
}

// A system or user file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    #[serde(default)]
    mirrors: BTreeMap<Spanned<String>, RawMirror>,
    #[serde(default)]
    roots: BTreeMap<Spanned<String>, RawRoot>,
    // Checked by `Settings::read`, by the commands that use it; a hook has no use for it.
    #[serde(default, rename = "metrics")]
    _metrics: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoot {
    #[serde(default)]
    mirrors: BTreeMap<Spanned<String>, RawMirror>,
}

/// One system or user file, read once.
#[derive(Debug)]
struct LayerFile {
    level: Level,
    path: PathBuf,
    text: String,
}

impl LayerFile {
    fn read(level: Level, path: PathBuf) -> Result<Option<Self>> {
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(Self { level, path, text })),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => {
                Err(err).with_context(|| format!("reading {level} config {}", crate::repo::quoted(&path)))
            }
        }
    }

    /// The mirrors this file gives the repository at `repo`, in the order they override each
    /// other: those for every repository, then those of the roots it is under.
    fn mirrors_for(&self, repo: &Path) -> Result<Vec<(String, Mirror, Origin)>> {
        let what = || {
            format!(
                "reading {} config {}",
                self.level,
                crate::repo::quoted(&self.path)
            )
        };
        let raw: RawLayer = toml::from_str(&self.text).map_err(|err| {
            let message = err.to_string();
            let message = match suggestion(&message) {
                Some(hint) => format!("{}\n{hint}", message.trim_end()),
                None => message.trim_end().to_owned(),
            };
            anyhow!("{}: {message}", what())
        })?;
        let mut found = Vec::new();
        let mut add = |table: BTreeMap<Spanned<String>, RawMirror>, root: Option<PathBuf>| -> Result<()> {
            let applies = root.as_deref().is_none_or(|root| repo.starts_with(root));
            for (name, mirror) in table {
                let values = if applies {
                    Values::of(repo, root.as_deref()).map_err(|why| anyhow!("{}: {why}", what()))?
                } else {
                    Values::example(root.is_some())
                };
                let mut written = None;
                let (built, keys) = mirror_from(&self.text, &name, mirror, |url| {
                    if is_template(url) {
                        written = Some(url.to_owned());
                        // Checked against example values too, so that a template that would
                        // fail for another repository fails for every one, when it is read.
                        render(url, &Values::example(root.is_some()))?;
                    }
                    render(url, &values)
                })
                .map_err(|err| anyhow!("{}: {err:#}", what()))?;
                if applies {
                    let mut built = built;
                    if let Some(template) = &written {
                        let fixed = fixed_part(template);
                        let fixed = fixed.strip_prefix("file://").unwrap_or(fixed);
                        built.create_below = if fixed.ends_with('/') {
                            Some(PathBuf::from(fixed))
                        } else {
                            Path::new(fixed).parent().map(Path::to_path_buf)
                        };
                    }
                    let origin = Origin {
                        level: self.level,
                        file: self.path.clone(),
                        root: root.clone(),
                        template: written,
                        keys,
                    };
                    found.push((name.into_inner(), built, origin));
                }
            }
            Ok(())
        };
        add(raw.mirrors, None)?;
        for (root, table) in raw.roots {
            let dir = expand_home(root.get_ref());
            if !dir.is_absolute() {
                let at = Location::of(&self.text, root.span().start);
                return Err(anyhow!(
                    "{}: {at}: root {:?} is not an absolute path",
                    what(),
                    root.get_ref()
                ));
            }
            add(table.mirrors, Some(std::fs::canonicalize(&dir).unwrap_or(dir)))?;
        }
        Ok(found)
    }
}

/// `~/x` as the home directory's `x`.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// The system and user files, read once for any number of repositories.
#[derive(Debug, Default)]
pub struct Layers {
    files: Vec<LayerFile>,
}

impl Layers {
    /// Reads the system and user files that exist.
    pub fn read() -> Result<Self> {
        let mut files = Vec::new();
        files.extend(LayerFile::read(Level::System, system_path())?);
        if let Some(user) = user_path() {
            files.extend(LayerFile::read(Level::User, user)?);
        }
        Ok(Self { files })
    }

    /// Checks every rule and setting of the system and user files, whichever repositories they
    /// apply to.
    pub fn check(&self) -> Result<()> {
        for file in &self.files {
            file.mirrors_for(Path::new("/nonexistent/example"))?;
        }
        self.settings()?;
        Ok(())
    }

    /// The settings of the system and user files ([`SETTINGS`](super::settings::SETTINGS)), the
    /// user's winning.
    pub(crate) fn settings(&self) -> Result<Settings> {
        let mut settings = Settings::default();
        for file in &self.files {
            let quoted = crate::repo::quoted(&file.path);
            let what = format!("reading {} config {quoted}", file.level);
            settings
                .read(&file.text, file.level, &quoted.to_string(), &what)
                .map_err(|why| anyhow!(why))?;
        }
        Ok(settings)
    }

    /// The roots the system and user files name, for `sync --all` and `status --all` to search.
    pub fn roots(&self) -> Vec<PathBuf> {
        #[derive(Deserialize)]
        struct Roots {
            #[serde(default)]
            roots: BTreeMap<String, toml::Value>,
        }
        let mut roots: Vec<PathBuf> = self
            .files
            .iter()
            .filter_map(|file| toml::from_str::<Roots>(&file.text).ok())
            .flat_map(|parsed| parsed.roots.into_keys())
            .map(|root| expand_home(&root))
            .filter(|root| root.is_absolute())
            .collect();
        roots.sort();
        roots.dedup();
        roots
    }

    /// The mirrors of the repository at `repo` (its work tree or bare directory, whose own
    /// config is `repo_config`), from every layer.
    pub fn for_repo(&self, repo: &Path, repo_config: &Path) -> Result<Layered> {
        let mut layered = Layered::default();
        let mut place = |name: String, mirror: Mirror, origin: Origin| {
            if let Some(old) = layered.origins.insert(name.clone(), origin) {
                layered.replaced.push((name.clone(), old));
            }
            layered.config.mirrors.insert(name, mirror);
        };
        for file in &self.files {
            for (name, mirror, origin) in file.mirrors_for(repo)? {
                place(name, mirror, origin);
            }
        }
        let own = Config::load_located(repo_config)?;
        for (name, (mirror, keys)) in own {
            let origin = Origin {
                level: Level::Repository,
                file: repo_config.to_path_buf(),
                root: None,
                template: None,
                keys,
            };
            place(name, mirror, origin);
        }
        Ok(layered)
    }
}
