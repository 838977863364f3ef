//! `enrolgen init`: writes the commented reference configuration as a starting point.

use std::path::Path;

use crate::cli::InitArgs;
use crate::error::{exit, Error};
use crate::output::{atomic, RenderedFile};

pub const REFERENCE: &str = include_str!("../../config/enrolgen.yaml");

pub fn run(args: &InitArgs) -> Result<u8, Error> {
    let target = args.dir.join("enrolgen.yaml");
    if target.exists() {
        return Err(Error::Usage(format!(
            "{} already exists; not overwriting it",
            target.display()
        )));
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
