//! `install --recursive DIR...`: every repository below each DIR, each with its own mirrors from
//! URL templates (`{{name}}`, `{{path}}`), installed on its own: one that cannot be is reported
//! and skipped, and the rest still are.

use std::path::Path;

use anyhow::{Context as _, Result};
use handlebars::Handlebars;
use serde::Serialize;

use crate::url::MirrorUrl;

#[derive(Serialize)]
struct Names<'a> {
    name: &'a str,
    path: &'a str,
}

/// A mirror URL that may name the repository: `{{name}}` (its directory's name without `.git`)
/// and `{{path}}` (its path below the searched directory, without `.git`).
#[derive(Debug, Clone)]
pub(super) struct UrlTemplate {
    name: String,
    text: String,
}

impl UrlTemplate {
    /// Checked once, before any repository is touched: it must render, with no other value.
    pub(super) fn parse(name: &str, text: &str) -> Result<Self> {
        let template = Self {
            name: name.to_owned(),
            text: text.to_owned(),
        };
        template
            .render_raw("example", "group/example")
            .with_context(|| format!("--mirror {name}={text}: the URL template is not valid (it may use {{{{name}}}} and {{{{path}}}})"))?;
        Ok(template)
    }

    fn render_raw(&self, name: &str, path: &str) -> Result<String> {
        let mut engine = Handlebars::new();
        engine.set_strict_mode(true);
        // A URL, not HTML: values go in as they are, and are validated as a URL afterwards.
        engine.register_escape_fn(handlebars::no_escape);
        Ok(engine.render_template(&self.text, &Names { name, path })?)
    }

    /// The mirror (name, URL) for the repository at `repo` found below `root`, validated as a
    /// `--mirror` URL is.
    pub(super) fn render_for(&self, root: &Path, repo: &Path) -> Result<(String, MirrorUrl)> {
        let relative = repo.strip_prefix(root).unwrap_or(repo);
        let path = relative.to_str().with_context(|| {
            format!(
                "{} is not UTF-8 and cannot go into a mirror URL",
                crate::repo::quoted(repo)
            )
        })?;
        let path = path.strip_suffix(".git").unwrap_or(path);
        let path = if path.is_empty() {
            repo.file_name().and_then(|n| n.to_str()).unwrap_or_default()
        } else {
            path
        };
        let name = Path::new(path)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(path);
        let url = self.render_raw(name, path)?;
        let url = crate::commands::normalize_url(&url)?;
        Ok((self.name.clone(), url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_templates_name_each_repository() {
        let template = UrlTemplate::parse("nas", "/mnt/nas/{{path}}.git").expect("valid");
        let root = Path::new("/srv/git");
        assert_eq!(
            template
                .render_for(root, Path::new("/srv/git/team/app.git"))
                .expect("renders")
                .1
                .as_str(),
            "/mnt/nas/team/app.git"
        );
        let forge = UrlTemplate::parse("forge", "git@codeberg.org:me/{{name}}.git").expect("valid");
        assert_eq!(
            forge
                .render_for(root, Path::new("/srv/git/team/app.git"))
                .expect("renders")
                .1
                .as_str(),
            "git@codeberg.org:me/app.git"
        );
        assert!(
            UrlTemplate::parse("x", "/m/{{owner}}.git").is_err(),
            "unknown value"
        );
        assert!(UrlTemplate::parse("x", "/m/{{name").is_err(), "unclosed");
    }
}
