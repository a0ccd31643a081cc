//! Mirror URL templates over a repository, one engine for the user's and system's rules and for
//! `install --recursive`: `{{name}}` (its directory's name without `.git`), `{{path}}` (its path
//! below the root searched or configured, without `.git`) and `{{owner}}` (the first directory
//! of `{{path}}`, where there is one).

use std::path::Path;

use handlebars::Handlebars;
use serde::Serialize;

/// Whether `url` is a template rather than a URL to take as written.
pub(crate) fn is_template(url: &str) -> bool {
    url.contains("{{")
}

/// What a URL template may name, for one repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Values {
    pub(crate) name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) owner: Option<String>,
}

impl Values {
    /// For the repository at `repo` (its work tree, or the bare repository), below `root`. A
    /// name that is not UTF-8 is refused: converted, it would name another mirror. The root
    /// itself (a repository searched from its own directory) has its name as its path.
    pub(crate) fn of(repo: &Path, root: Option<&Path>) -> Result<Self, String> {
        let text = |path: &Path| {
            path.to_str().map(str::to_owned).ok_or_else(|| {
                format!(
                    "{} is not UTF-8 and cannot go into a mirror URL",
                    crate::repo::quoted(repo)
                )
            })
        };
        let strip = |text: String| {
            text.strip_suffix(".git")
                .map_or_else(|| text.clone(), str::to_owned)
        };
        let name = strip(
            repo.file_name()
                .map(Path::new)
                .map(text)
                .transpose()?
                .unwrap_or_default(),
        );
        let path = match root.map(|root| repo.strip_prefix(root).unwrap_or(repo)) {
            Some(relative) if relative.as_os_str().is_empty() => Some(name.clone()),
            Some(relative) => Some(strip(text(relative)?)),
            None => None,
        };
        let owner = path
            .as_deref()
            .and_then(|path| path.split_once('/'))
            .map(|(owner, _)| owner.to_owned());
        Ok(Self { name, path, owner })
    }

    /// Values any repository has, to check a template before any repository is seen.
    pub(crate) fn example(under_root: bool) -> Self {
        Self {
            name: "example".to_owned(),
            path: under_root.then(|| "group/example".to_owned()),
            owner: under_root.then(|| "group".to_owned()),
        }
    }
}

/// Renders a mirror URL template; a URL that is no template is taken as written. The error
/// completes a sentence about the URL ("is not a valid template ...").
pub(crate) fn render(template: &str, values: &Values) -> Result<String, String> {
    if !is_template(template) {
        return Ok(template.to_owned());
    }
    let mut engine = Handlebars::new();
    engine.set_strict_mode(true);
    // A URL, not HTML: values go in as they are, and the result is validated as a URL.
    engine.register_escape_fn(handlebars::no_escape);
    engine.render_template(template, values).map_err(|err| {
        let reason = err.reason().to_string();
        let names = if values.path.is_some() {
            "{{name}}, {{path}} and {{owner}}"
        } else {
            "{{name}} (and {{path}} and {{owner}} under a root)"
        };
        format!("is not a valid template ({reason}); it may use {names}")
    })
}

/// The part of a template before its first value: the directory a local mirror's template
/// names for certain (`/mnt/nas/git/` of `/mnt/nas/git/{{path}}.git`).
pub(crate) fn fixed_part(template: &str) -> &str {
    &template[..template.find("{{").unwrap_or(template.len())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt as _;

    #[test]
    fn values_are_told_from_the_path_below_the_root() {
        let values =
            Values::of(Path::new("/srv/git/alice/app.git"), Some(Path::new("/srv/git"))).expect("utf-8");
        assert_eq!(values.name, "app");
        assert_eq!(values.path.as_deref(), Some("alice/app"));
        assert_eq!(values.owner.as_deref(), Some("alice"));
        let values = Values::of(Path::new("/home/me/src/tool"), None).expect("utf-8");
        assert_eq!(
            (values.name.as_str(), values.path, values.owner),
            ("tool", None, None)
        );
        let root = Values::of(
            Path::new("/srv/git/solo.git"),
            Some(Path::new("/srv/git/solo.git")),
        )
        .expect("utf-8");
        assert_eq!(root.path.as_deref(), Some("solo"), "the root itself");
        let odd = Path::new(OsStr::from_bytes(b"/srv/git/caf\xe9.git"));
        assert!(Values::of(odd, Some(Path::new("/srv/git"))).is_err(), "not UTF-8");
    }

    #[test]
    fn a_template_naming_an_unknown_value_is_refused() {
        assert_eq!(
            render("git@host:{{owner}}/{{name}}.git", &Values::example(true)).as_deref(),
            Ok("git@host:group/example.git")
        );
        assert_eq!(
            render("/plain/url.git", &Values::example(false)).as_deref(),
            Ok("/plain/url.git")
        );
        assert!(render("/m/{{path}}.git", &Values::example(false)).is_err());
        assert!(render("/m/{{nmae}}.git", &Values::example(true)).is_err());
        assert!(render("/m/{{name.git", &Values::example(true)).is_err());
        assert_eq!(fixed_part("/mnt/nas/{{path}}.git"), "/mnt/nas/");
    }
}
