//! `config show [REPO]`: a repository's mirrors as merged from every layer, each value with the
//! file and line it came from.

use anyhow::Result;

use crate::cli::ConfigCommand;
use crate::commands::ExitStatus;
use crate::config::{FIELDS, Layers, layers};
use crate::repo::{Repo, quoted};

pub(crate) fn run(command: &ConfigCommand) -> Result<ExitStatus> {
    let ConfigCommand::Show { repo } = command;
    let repo = match repo {
        Some(path) => Repo::open(path)?,
        None => Repo::discover()?,
    };
    let layers = Layers::read()?;
    let layered = layers.for_repo(&repo.canonical_path(), &repo.config_path())?;
    let settings = layers.settings()?;
    println!("# {}", quoted(repo.display_path()));
    println!("# layers, least specific first:");
    println!("#   system      {}", described(&layers::system_path()));
    match layers::user_path() {
        Some(user) => println!("#   user        {}", described(&user)),
        None => println!("#   user        (no home directory)"),
    }
    println!("#   repository  {}", described(&repo.config_path()));
    if let Some(set) = &settings.textfile_dir {
        println!(
            "# metrics.textfile_dir = {:?}  # {}",
            set.value.to_string_lossy(),
            set.origin
        );
    }
    if layered.config.mirrors.is_empty() {
        println!("# no mirrors; add one with `git-repo-sync mirror add NAME URL`");
    }
    let width = FIELDS.iter().map(|field| field.key.len()).max().unwrap_or(0);
    for (name, mirror) in &layered.config.mirrors {
        let origin = &layered.origins[name];
        println!();
        let rule = match &origin.root {
            Some(root) => format!("[roots.{:?}.mirrors.{name}]", root.to_string_lossy()),
            None => format!("[mirrors.{name}]"),
        };
        println!("{rule}  # {} config {}", origin.level, quoted(&origin.file));
        let template = origin
            .template
            .as_deref()
            .map(|template| format!(" (template {:?})", crate::url::redacted(template)))
            .unwrap_or_default();
        println!(
            "{:width$} = {:?}  # {}{template}",
            "url",
            mirror.url.to_string(),
            origin.of("url")
        );
        for field in FIELDS {
            let value =
                (field.get)(mirror).map_or_else(|| field.default.to_owned(), |value| value.to_string());
            println!("{:width$} = {value}  # {}", field.key, origin.of(field.key));
        }
        for (replaced, old) in &layered.replaced {
            if replaced == name {
                println!(
                    "# replaces mirror '{name}' of the {} config {}",
                    old.level,
                    quoted(&old.file)
                );
            }
        }
    }
    Ok(ExitStatus::Success)
}

fn described(path: &std::path::Path) -> String {
    if path.exists() {
        quoted(path).to_string()
    } else {
        format!("{} (none)", quoted(path))
    }
}
