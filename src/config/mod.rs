//! The configuration: each repository's own `<git common dir>/repo-sync.toml` (this module),
//! the system's and the user's rules for many repositories merged with it ([`layers`]), and the
//! one list of a mirror's settings ([`FIELDS`]).
//!
//! ```toml
//! [mirrors.backup]
//! url = "/mnt/nas/project.git"
//! refs = ["refs/heads/*", "refs/tags/*"]
//! prune = true
//! force = true
//! ```

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use serde::Deserialize;
use toml::Spanned;

use crate::url::{MirrorUrl, Transport};

mod fields;
pub(crate) mod layers;
pub(crate) mod settings;
pub(crate) mod template;
pub(crate) use fields::{FIELDS, Field, Flag, Kind};
pub(crate) use layers::{Layered, Layers};

/// What one repository mirrors, and where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pub mirrors: BTreeMap<String, Mirror>,
}

/// One mirror of the repository: its URL and the settings of [`FIELDS`], which documents each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// Where to push: an absolute path or a `file://`, `ssh://`, scp-style or `https://` URL.
    pub url: MirrorUrl,
    pub refs: Vec<String>,
    pub prune: bool,
    pub force: bool,
    pub identity_file: Option<PathBuf>,
    pub token_env: Option<String>,
    pub timeout: Option<u64>,
    pub trust_new_host_key: bool,
    pub retries: Option<u32>,
    pub retry_max_delay: Option<u64>,
    pub ssh_keep_open: Option<u64>,
    pub shallow: bool,
    pub lfs_url: Option<String>,
    pub create: bool,
    pub on_failure: Option<String>,
    /// With `create`, the directory that must already be there: the fixed part of a templated
    /// local URL (`/mnt/nas/git` of `/mnt/nas/git/{{path}}.git`), below which missing
    /// directories are made; else the mirror's parent directory.
    pub create_below: Option<PathBuf>,
}

/// The inactivity limit when a mirror sets none.
pub(crate) const DEFAULT_TIMEOUT_SECS: u64 = 30;
/// Tries after the first when a mirror sets none.
pub(crate) const DEFAULT_RETRIES: u32 = 3;
/// The longest wait between tries when a mirror sets none.
pub(crate) const DEFAULT_RETRY_MAX_DELAY_SECS: u64 = 60;
/// How long an ssh connection outlives its pass when a mirror sets nothing: the next pass of a
/// burst (the next commit, a `sync` right after) skips the connection and key exchange.
pub(crate) const DEFAULT_SSH_KEEP_OPEN_SECS: u64 = 60;

impl Mirror {
    /// Checks the settings that depend on each other or on the URL (each value alone was checked
    /// by its field); the error names the offending key.
    pub fn check_options(&self) -> Result<(), (&'static str, String)> {
        let transport = self.url.transport();
        if let Some(file) = &self.identity_file {
            if transport != Transport::Ssh {
                return Err(("identity_file", "applies to ssh URLs only".into()));
            }
            if !file.is_absolute() {
                return Err(("identity_file", "must be an absolute path".into()));
            }
        }
        if let Some(var) = &self.token_env {
            if transport != Transport::Http {
                return Err(("token_env", "applies to http(s) URLs only".into()));
            }
            let valid = var
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err((
                    "token_env",
                    format!("{var:?} is not an environment variable name"),
                ));
            }
            // The worker is started without them, so the token would never arrive.
            if crate::git::is_session_var(std::ffi::OsStr::new(var)) {
                return Err((
                    "token_env",
                    format!(
                        "{var:?} is a name git servers use for the pusher's session (GL_*, HTTP_*, \
                         REMOTE_*, ...), which background syncs do not inherit; use another name"
                    ),
                ));
            }
        }
        if let Some(lfs_url) = &self.lfs_url {
            if transport == Transport::Local {
                return Err((
                    "lfs_url",
                    "applies to mirrors elsewhere (a mirror on this machine gets copies of the \
                     object files)"
                        .into(),
                ));
            }
            if !["https://", "http://", "ssh://"]
                .iter()
                .any(|scheme| lfs_url.starts_with(scheme))
            {
                return Err(("lfs_url", "must be an https://, http:// or ssh:// URL".into()));
            }
            // It is given to git-lfs on its command line, which any user of the machine can read.
            let authority = lfs_url
                .split_once("://")
                .map_or("", |(_, rest)| rest.split('/').next().unwrap_or_default());
            let password = authority
                .rsplit_once('@')
                .is_some_and(|(userinfo, _)| userinfo.contains(':'));
            if password {
                return Err((
                    "lfs_url",
                    "must not hold credentials: `token_env` (https) or your credential helper logs \
                     in"
                    .into(),
                ));
            }
        }
        if self.create && transport != Transport::Local {
            return Err(("create", "applies to mirrors on this machine only".into()));
        }
        if self.trust_new_host_key && transport != Transport::Ssh {
            return Err(("trust_new_host_key", "applies to ssh URLs only".into()));
        }
        if self.ssh_keep_open.is_some() && transport != Transport::Ssh {
            return Err(("ssh_keep_open", "applies to ssh URLs only".into()));
        }
        Ok(())
    }

    /// How many times a background sync tries again after a recoverable failure.
    pub fn retries(&self) -> u32 {
        self.retries.unwrap_or(DEFAULT_RETRIES)
    }

    /// The longest wait between two tries.
    pub fn retry_max_delay(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.retry_max_delay.unwrap_or(DEFAULT_RETRY_MAX_DELAY_SECS))
    }

    /// How long the ssh connection of a pass stays open after it, for the next pass to use.
    pub fn ssh_keep_open(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.ssh_keep_open.unwrap_or(DEFAULT_SSH_KEEP_OPEN_SECS))
    }

    /// The inactivity limit for this mirror's git processes.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout.unwrap_or(DEFAULT_TIMEOUT_SECS))
    }

    /// A mirror of all branches and tags that prunes and forces: the defaults.
    pub fn new(url: MirrorUrl) -> Self {
        Self {
            url,
            refs: default_refs(),
            prune: true,
            force: true,
            identity_file: None,
            token_env: None,
            timeout: None,
            trust_new_host_key: false,
            retries: None,
            retry_max_delay: None,
            ssh_keep_open: None,
            shallow: false,
            lfs_url: None,
            create: false,
            on_failure: None,
            create_below: None,
        }
    }
}

fn default_refs() -> Vec<String> {
    vec!["refs/heads/*".to_owned(), "refs/tags/*".to_owned()]
}

// The file as written, with positions, so that a bad value is reported where it stands. A
// mirror's keys are read through `FIELDS`, not a struct of their own.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    mirrors: BTreeMap<Spanned<String>, RawMirror>,
}

type RawMirror = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

/// The mirrors of a repository's own config file, with where each key stands.
fn parse_located(text: &str) -> Result<BTreeMap<String, (Mirror, KeyLocations)>> {
    let raw: RawConfig = toml::from_str(text).map_err(|err| {
        let message = err.to_string();
        match suggestion(&message) {
            Some(hint) => anyhow!("{}\n{hint}", message.trim_end()),
            None => anyhow!("{}", message.trim_end()),
        }
    })?;
    let mut mirrors = BTreeMap::new();
    for (name, table) in raw.mirrors {
        let built = mirror_from(text, &name, table, |url| Ok(url.to_owned()))?;
        mirrors.insert(name.into_inner(), built);
    }
    Ok(mirrors)
}

/// Where each key of a mirror's table stands in its file.
pub(crate) type KeyLocations = BTreeMap<&'static str, Location>;

/// Builds the mirror `name` of a config file's `text` from its table: its URL is what `url_of`
/// makes of the written one (a template is rendered there), each other key goes through its
/// field. Errors name the line and column of the offending key or value.
fn mirror_from(
    text: &str,
    name: &Spanned<String>,
    mut table: RawMirror,
    url_of: impl FnOnce(&str) -> Result<String, String>,
) -> Result<(Mirror, KeyLocations)> {
    let at = |span: std::ops::Range<usize>| Location::of(text, span.start);
    validate_name(name.get_ref())
        .map_err(|why| anyhow!("{}: mirror name {:?} {why}", at(name.span()), name.get_ref()))?;
    let url = table
        .remove("url")
        .ok_or_else(|| anyhow!("{}: mirror '{}' has no `url`", at(name.span()), name.get_ref()))?;
    let written = url.get_ref().as_str().ok_or_else(|| {
        anyhow!(
            "{}: url of mirror '{}' must be a string",
            at(url.span()),
            name.get_ref()
        )
    })?;
    let mirror_url = url_of(written)
        .and_then(|text| {
            MirrorUrl::parse(&text).map_err(|why| {
                if text == written {
                    why
                } else {
                    format!("renders as {:?}, which {why}", crate::url::redacted(&text))
                }
            })
        })
        .map_err(|why| anyhow!("{}: url of mirror '{}' {why}", at(url.span()), name.get_ref()))?;
    let mut mirror = Mirror::new(mirror_url);
    let mut spans = BTreeMap::new();
    let mut locations = KeyLocations::new();
    locations.insert("url", at(url.span()));
    for (key, value) in table {
        let Some(field) = Field::named(key.get_ref()) else {
            let known = std::iter::once("url").chain(FIELDS.iter().map(|f| f.key));
            let hint = nearest(key.get_ref(), known)
                .map(|near| format!("\ndid you mean `{near}`?"))
                .unwrap_or_default();
            bail!(
                "{}: unknown field `{}` in mirror '{}'{hint}",
                at(key.span()),
                key.get_ref(),
                name.get_ref()
            );
        };
        spans.insert(field.key, value.span());
        locations.insert(field.key, at(key.span()));
        field.apply(&mut mirror, value.into_inner()).map_err(|why| {
            anyhow!(
                "{}: {} of mirror '{}' {why}",
                at(spans[field.key].clone()),
                field.key,
                name.get_ref()
            )
        })?;
    }
    if let Err((key, why)) = mirror.check_options() {
        let span = spans.get(key).cloned().unwrap_or_else(|| url.span());
        bail!("{}: {key} of mirror '{}' {why}", at(span), name.get_ref());
    }
    Ok((mirror, locations))
}

impl Config {
    /// Reads one file, `path`, alone (a repository's own, to edit it); a missing file is an
    /// empty configuration. See [`Config::for_repo`] for what a repository mirrors.
    pub fn load(path: &Path) -> Result<Self> {
        Ok(Self {
            mirrors: Self::load_located(path)?
                .into_iter()
                .map(|(name, (mirror, _))| (name, mirror))
                .collect(),
        })
    }

    /// Parses and validates the text of a config file.
    pub fn parse(text: &str) -> Result<Self> {
        Ok(Self {
            mirrors: parse_located(text)?
                .into_iter()
                .map(|(name, (mirror, _))| (name, mirror))
                .collect(),
        })
    }

    /// The mirrors of a repository's own file at `path`, with where each key stands.
    pub(crate) fn load_located(path: &Path) -> Result<BTreeMap<String, (Mirror, KeyLocations)>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(err) => {
                return Err(err)
                    .with_context(|| format!("reading mirror config {}", crate::repo::quoted(path)));
            }
        };
        parse_located(&text)
            .map_err(|err| anyhow!("reading mirror config {}: {err}", crate::repo::quoted(path)))
    }

    /// The mirrors of `repo` from every layer: the system and user files, then its own.
    pub fn for_repo(repo: &crate::repo::Repo) -> Result<Self> {
        Self::for_repo_in(&Layers::read()?, repo)
    }

    /// The mirrors of `repo` from `layers` (read once for many repositories) and its own file.
    pub fn for_repo_in(layers: &Layers, repo: &crate::repo::Repo) -> Result<Self> {
        Ok(layers
            .for_repo(&repo.canonical_path(), &repo.config_path())?
            .config)
    }

    /// Writes the configuration to `path` atomically (a temp file in the same directory, renamed
    /// over the old one), so that a crash never leaves half a file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = self.to_text()?;
        write_atomically(path, text.as_bytes())
            .with_context(|| format!("writing mirror config {}", crate::repo::quoted(path)))
    }

    /// The text [`Config::save`] writes, which [`Config::parse`] reads back as the same config.
    pub fn to_text(&self) -> Result<String> {
        Ok(format!(
            "# git-repo-sync mirrors of this repository. See `git-repo-sync --help`.\n{}",
            toml::to_string(&self.to_table()).context("serialising the mirror config")?
        ))
    }

    /// The config as the file holds it: each mirror's URL, then its settings that are not at
    /// their defaults.
    fn to_table(&self) -> toml::Table {
        let mut mirrors = toml::Table::new();
        for (name, mirror) in &self.mirrors {
            let mut table = toml::Table::new();
            table.insert("url".into(), toml::Value::String(mirror.url.as_str().to_owned()));
            for field in FIELDS {
                if let Some(value) = (field.get)(mirror) {
                    table.insert(field.key.into(), value);
                }
            }
            mirrors.insert(name.clone(), toml::Value::Table(table));
        }
        let mut root = toml::Table::new();
        root.insert("mirrors".into(), toml::Value::Table(mirrors));
        root
    }

    /// Loads, changes and saves the config at `path` under a lock, so two commands editing one
    /// repository's config at once both take effect.
    pub fn edit<T>(path: &Path, change: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        // Beside the file, wherever it is: `Kept::ConfigLock` in a repository.
        let lock_path = path.with_extension("toml.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("opening {}", crate::repo::quoted(&lock_path)))?;
        lock.lock()
            .with_context(|| format!("locking {}", crate::repo::quoted(&lock_path)))?;
        let mut config = Self::load(path)?;
        let before = config.clone();
        let result = change(&mut config)?;
        if config != before {
            config.save(path)?;
        }
        Ok(result)
    }

    /// The named mirrors, or all of them when `names` is empty; an unknown name is an error.
    pub fn select<'a>(&'a self, names: &[String]) -> Result<Vec<(&'a str, &'a Mirror)>> {
        if names.is_empty() {
            return Ok(self.mirrors.iter().map(|(name, m)| (name.as_str(), m)).collect());
        }
        names
            .iter()
            .map(|name| {
                self.mirrors
                    .get_key_value(name)
                    .map(|(name, m)| (name.as_str(), m))
                    .ok_or_else(|| anyhow!("no mirror named '{name}'; see `git-repo-sync mirror list`"))
            })
            .collect()
    }
}

/// For toml's "unknown field `x`, expected one of `a`, `b`" the nearest known key; for
/// "duplicate key", what to do about it.
fn suggestion(message: &str) -> Option<String> {
    if message.contains("duplicate key") {
        return Some(
            "each key may appear once per table, and each mirror needs its own name: rename or \
             remove the second one"
                .to_owned(),
        );
    }
    let rest = message.split("unknown field `").nth(1)?;
    let (unknown, rest) = rest.split_once('`')?;
    let known = rest
        .split("expected one of ")
        .nth(1)
        .or_else(|| rest.split("expected ").nth(1))?;
    let near = nearest(unknown, known.split('`').skip(1).step_by(2))?;
    Some(format!("did you mean `{near}`?"))
}

/// The candidate closest to a mistyped key, if one is close.
fn nearest<'a>(unknown: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|candidate| (strsim::jaro_winkler(unknown, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// Replaces `path` with `contents` through a temp file and a rename in the same directory. The
/// file keeps the mode of the one it replaces, else gets a new file's (0666 less the umask, like
/// git's own files) rather than a temp file's 0600: written by root, it must stay readable by
/// the repository owner's hooks.
pub(crate) fn write_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    // The mode goes to open(2), so the kernel applies the umask.
    let mut temp = tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)?;
    if let Ok(replaced) = std::fs::metadata(path) {
        temp.as_file().set_permissions(replaced.permissions())?;
    }
    temp.write_all(contents)?;
    temp.as_file().sync_all()?;
    temp.persist(path)?;
    Ok(())
}

/// Which layer a value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    System,
    User,
    Repository,
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::System => "system",
            Self::User => "user",
            Self::Repository => "repository",
        })
    }
}

/// A line and column in a config file, 1-based like toml's own messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Location {
    line: usize,
    column: usize,
}

impl Location {
    fn of(text: &str, offset: usize) -> Self {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |nl| nl + 1) + 1;
        Self { line, column }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Mirror names end up in file names, log lines and hook environments: keep them plain.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty".into());
    }
    if name.len() > 64 {
        return Err("is longer than 64 characters".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "contains {bad:?}; use only letters, digits, '.', '_' and '-'"
        ));
    }
    if name.starts_with(['.', '-']) || name.contains("..") {
        return Err("must not start with '.' or '-' nor contain '..'".into());
    }
    Ok(())
}

/// `refs/heads/*`, `refs/heads/release/*`, `refs/tags/v1.0`: under `refs/`, at most one `*`.
pub fn validate_ref_pattern(pattern: &str) -> Result<(), String> {
    if !pattern.starts_with("refs/") {
        return Err("must start with 'refs/'".into());
    }
    if pattern.matches('*').count() > 1 {
        return Err("may contain at most one '*'".into());
    }
    if pattern
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '~' | '^' | ':' | '?' | '[' | '\\'))
        || pattern.contains("..")
    {
        return Err("is not a valid ref name pattern".into());
    }
    Ok(())
}

/// Whether `name` matches `pattern` (an exact ref name, or a glob with one `*`).
pub(crate) fn ref_matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((prefix, suffix)) => {
            name.len() >= prefix.len() + suffix.len() && name.starts_with(prefix) && name.ends_with(suffix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_only_url_is_given() {
        let config = Config::parse("[mirrors.backup]\nurl = \"/srv/b.git\"\n").expect("parses");
        assert_eq!(
            config.mirrors["backup"],
            Mirror::new(crate::url::MirrorUrl::parse("/srv/b.git").expect("a valid URL"))
        );
    }

    #[test]
    fn unknown_key_names_the_key_and_line() {
        let err = Config::parse("[mirrors.b]\nurl = \"/x\"\nprunne = true\n").expect_err("unknown key");
        let text = format!("{err:#}");
        assert!(text.contains("prunne") && text.contains("line 3"), "{text}");
        assert!(text.contains("did you mean `prune`?"), "{text}");
    }

    #[test]
    fn bad_values_name_line_and_column() {
        let err = Config::parse("[mirrors.b]\nurl = \"relative/path\"\n").expect_err("relative");
        assert!(format!("{err:#}").contains("line 2, column 7"), "{err:#}");
        let err = Config::parse("[mirrors.\"a b\"]\nurl = \"/x\"\n").expect_err("bad name");
        assert!(format!("{err:#}").contains("line 1"), "{err:#}");
    }

    #[test]
    fn hostile_names_are_refused() {
        for name in ["a/b", "..", "a b", "$(touch pwned)", "`x`", "-rf", "a'b", ""] {
            assert!(validate_name(name).is_err(), "{name:?} accepted");
        }
        for name in ["github", "nas-1", "code_berg.2"] {
            assert!(validate_name(name).is_ok(), "{name:?} refused");
        }
    }

    #[test]
    fn a_token_in_a_server_session_variable_is_refused() {
        let mut mirror = Mirror::new(
            crate::url::MirrorUrl::parse("https://gitlab.example/me/x.git").expect("a valid URL"),
        );
        mirror.token_env = Some("GL_TOKEN".into());
        let (field, why) = mirror.check_options().expect_err("GL_TOKEN accepted");
        assert_eq!(field, "token_env");
        assert!(why.contains("session"), "{why}");
        mirror.token_env = Some("GITLAB_TOKEN".into());
        assert_eq!(mirror.check_options(), Ok(()));
    }

    #[test]
    fn an_lfs_url_is_for_mirrors_elsewhere_and_holds_no_credentials() {
        let mirror = |url: &str, lfs_url: &str| {
            let mut mirror = Mirror::new(crate::url::MirrorUrl::parse(url).expect("a valid URL"));
            mirror.lfs_url = Some(lfs_url.into());
            mirror.check_options()
        };
        assert_eq!(mirror("git@host:x.git", "https://lfs.example/x"), Ok(()));
        assert_eq!(mirror("git@host:x.git", "ssh://git@host:2222/x.git"), Ok(()));
        for (url, lfs_url) in [
            ("/srv/x.git", "https://lfs.example/x"),
            ("git@host:x.git", "file:///srv/lfs"),
            ("git@host:x.git", "https://me:secret@lfs.example/x"),
        ] {
            let (field, _) = mirror(url, lfs_url).expect_err(lfs_url);
            assert_eq!(field, "lfs_url");
        }
    }

    #[test]
    fn patterns_match_like_refspecs() {
        assert!(ref_matches("refs/heads/*", "refs/heads/a/b"));
        assert!(ref_matches("refs/heads/release/*", "refs/heads/release/1"));
        assert!(!ref_matches("refs/heads/release/*", "refs/heads/main"));
        assert!(ref_matches("refs/tags/v1", "refs/tags/v1"));
        assert!(!ref_matches("refs/tags/v1", "refs/tags/v10"));
    }
}
