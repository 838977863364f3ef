//! `enrolgen man`: the man pages, made from the command line's definitions, so they
//! never drift from `--help`. enrolgen(1) names a page per subcommand, enrolgen-SUB(1).

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};
use crate::error::{exit, Error, UsageError};
use crate::output::OutputError;

pub fn run(args: &ManArgs) -> Result<u8, Error> {
    let mut top = Cli::command().disable_help_subcommand(true);
    top.build();
    if let Some(dir) = &args.dir {
        // Rendered in memory, then written as every other file: to a temporary
        // name and renamed, never through a link planted in the folder.
        let mut pages = vec![("enrolgen.1".to_string(), top.clone())];
        pages.extend(
            top.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(|s| (format!("enrolgen-{}.1", s.get_name()), s.clone())),
        );
        let mut files = Vec::new();
        for (name, page) in pages {
            let mut bytes = Vec::new();
            clap_mangen::Man::new(page)
                .render(&mut bytes)
                .map_err(|source| OutputError::Io {
                    path: dir.join(&name),
                    source,
                })?;
            files.push(crate::output::RenderedFile {
                name: name.into(),
                bytes,
            });
        }
        crate::output::atomic::write_all(dir, dir, &files, 0o644)?;
        return Ok(exit::OK);
    }
    let page = match &args.command {
        None => top,
        Some(name) => {
            let names: Vec<String> = top
                .get_subcommands()
                .map(|s| s.get_name().to_string())
                .collect();
            match top.find_subcommand(name) {
                Some(sub) => sub.clone(),
                None => {
                    return Err(UsageError::NoSuchPage {
                        name: name.clone(),
                        known: names.join(", "),
                    }
                    .into())
                }
            }
        }
    };
    let mut out = Vec::new();
    let written = clap_mangen::Man::new(page)
        .render(&mut out)
        .and_then(|()| std::io::stdout().write_all(&out));
    written.map_err(|source| OutputError::Io {
        path: "standard output (the man page)".into(),
        source,
    })?;
    Ok(exit::OK)
}
