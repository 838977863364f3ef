//! `enrolgen init`: writes the commented reference configuration as a starting point.

use std::path::Path;

use crate::cli::InitArgs;
use crate::config;
use crate::error::{exit, Error, UsageError};
use crate::output::{atomic, sheet_template, RenderedFile};
use crate::plan::sheet::{self, STANDARD_ROLES};

pub const REFERENCE: &str = include_str!("../../config/enrolgen.yaml");

pub fn run(args: &InitArgs) -> Result<u8, Error> {
    if let Some(path) = &args.sheet {
        return sheet(args, path);
    }
    let target = args.dir.join("enrolgen.yaml");
    if target.exists() {
        return Err(UsageError::Exists { path: target }.into());
    }
    atomic::write_all(
        &args.dir,
        &args.dir,
        &[RenderedFile {
            name: Path::new("enrolgen.yaml").into(),
            bytes: REFERENCE.as_bytes().to_vec(),
        }],
        atomic::DEFAULT_FILE_MODE,
    )?;
    eprintln!(
        "wrote {}: edit it, then run 'enrolgen check -c {}'",
        target.display(),
        target.display()
    );
    Ok(exit::OK)
}

/// `init --sheet FILE.xlsx`: the requester's template, listing the roles of each
/// platform of the configuration, or Moodle's standard roles without one.
fn sheet(args: &InitArgs, path: &Path) -> Result<u8, Error> {
    let xlsx = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    if !xlsx {
        let meant = path.with_extension("xlsx");
        return Err(UsageError::value(
            format!("--sheet {}", path.display()),
            format!(
                "the template is an .xlsx workbook: name it {}",
                meant.file_name().map_or_else(
                    || meant.display().to_string(),
                    |n| n.to_string_lossy().into_owned()
                )
            ),
        )
        .into());
    }
    if path.exists() {
        return Err(UsageError::Exists {
            path: path.to_path_buf(),
        }
        .into());
    }
    let platforms: Vec<(String, Vec<(String, String)>)> = if args.config.exists() {
        let settings = config::load(&args.config)?;
        settings
            .platforms
            .values()
            .map(|p| (p.name.clone(), sheet::labels(p)))
            .collect()
    } else {
        let standard = STANDARD_ROLES.iter().map(|r| {
            let label = sheet::role_label(r).unwrap_or(r);
            (r.to_string(), label.to_string())
        });
        vec![("(any)".to_string(), standard.collect())]
    };
    let bytes = sheet_template::render(&platforms)?;
    let (dir, name) = match (path.parent(), path.file_name()) {
        (Some(d), Some(n)) => (
            if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            },
            n,
        ),
        _ => {
            return Err(UsageError::NotAFileName {
                flag: "--sheet",
                path: path.to_path_buf(),
            }
            .into())
        }
    };
    atomic::write_all(
        dir,
        dir,
        &[RenderedFile {
            name: name.into(),
            bytes,
        }],
        atomic::DEFAULT_FILE_MODE,
    )?;
    eprintln!(
        "wrote {}: requesters fill it in (one row per person, or per enrolment); then 'enrolgen adhoc --platform P --sheet {}'",
        path.display(),
        path.display()
    );
    Ok(exit::OK)
}
