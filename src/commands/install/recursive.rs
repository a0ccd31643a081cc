//! `install --recursive DIR...`: every repository below each DIR, each with its own mirrors from
//! URL templates (`{{name}}`, `{{path}}`, `{{owner}}`), installed on its own: one that cannot be is reported
//! and skipped, and the rest still are.

use std::path::Path;

use anyhow::Result;

use crate::config::template::{self, Values};
use crate::url::MirrorUrl;

/// A mirror URL that may name the repository (see [`crate::config::template`]).
#[derive(Debug, Clone)]
pub(super) struct UrlTemplate {
    name: String,
    text: String,
}

impl UrlTemplate {
    /// Checked once, before any repository is touched: it must render, with no other value.
    pub(super) fn parse(name: &str, text: &str) -> Result<Self> {
        template::render(text, &Values::example(true))
            .map_err(|why| anyhow::anyhow!("--mirror {name}: {text} {why}"))?;
        Ok(Self {
            name: name.to_owned(),
            text: text.to_owned(),
        })
    }

    /// The mirror (name, URL) for the repository at `repo` found below `root`, validated as a
    /// `--mirror` URL is.
    pub(super) fn render_for(&self, root: &Path, repo: &Path) -> Result<(String, MirrorUrl)> {
        let values = Values::of(repo, Some(root)).map_err(|why| anyhow::anyhow!("{why}"))?;
        let url =
            template::render(&self.text, &values).map_err(|why| anyhow::anyhow!("{} {why}", self.text))?;
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
        let by_owner = UrlTemplate::parse("x", "git@forge:{{owner}}/{{name}}.git").expect("valid");
        assert_eq!(
            by_owner
                .render_for(root, Path::new("/srv/git/team/app.git"))
                .expect("renders")
                .1
                .as_str(),
            "git@forge:team/app.git",
            "the same values as the user's rules"
        );
        assert!(
            UrlTemplate::parse("x", "/m/{{nmae}}.git").is_err(),
            "unknown value"
        );
        assert!(UrlTemplate::parse("x", "/m/{{name").is_err(), "unclosed");
    }
}
