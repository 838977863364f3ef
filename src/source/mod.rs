//! The edges that read the world: Apogée (SQLite, Oracle, CSV extract), directories
//! (LDAP, LDIF), platform account lists, Moodle and requesters' sheets. Each adapter turns rows and entries into
//! domain types; nothing past this module sees a row or an entry.

pub mod accounts;
pub mod directory;
pub mod moodle;
pub mod moodle_api;
pub mod moodle_created;
pub mod moodle_participants;
pub mod sheet;
mod sheet_xml;
pub mod sis;
mod tls;

use std::path::PathBuf;

/// A source that could not be read. Every variant names the source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A server or database failed: `what` names it (server URL, database), `action`
    /// says what was being done.
    #[error("{what}: {action}")]
    Failed {
        what: String,
        action: String,
        #[source]
        cause: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A server answered, and refused what was asked (Moodle's error code): not a
    /// lost connection. `action` says what was asked, the code and what to fix.
    #[error("{what}: {action}")]
    Refused { what: String, action: String },
    /// A file whose content is wrong at a given line.
    #[error("{}:{line}: {message}", path.display())]
    BadData {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<crate::csvio::CsvError> for SourceError {
    fn from(e: crate::csvio::CsvError) -> SourceError {
        SourceError::BadData {
            path: e.path,
            line: e.line,
            message: e.message,
        }
    }
}

impl SourceError {
    pub fn failed(
        what: impl Into<String>,
        action: impl Into<String>,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> SourceError {
        SourceError::Failed {
            what: what.into(),
            action: action.into(),
            cause: Some(cause.into()),
        }
    }

    pub fn read(path: &std::path::Path, source: std::io::Error) -> SourceError {
        SourceError::Read {
            path: path.to_path_buf(),
            source,
        }
    }

    /// An input file that cannot be one: a device, a pipe, or far larger than any
    /// export.
    fn not_an_input(path: &std::path::Path, why: String) -> SourceError {
        SourceError::read(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, why),
        )
    }
}

/// The largest input file read (an export, a dump, a directory's LDIF): far above a
/// 100,000-student university's, far below what would take the machine's memory.
pub const MAX_INPUT: u64 = 2 << 30;

/// Opens an input file: a regular file of at most `MAX_INPUT` bytes. A device
/// (`/dev/zero`), a pipe or a folder named by mistake would otherwise be read
/// without end.
pub fn open_input(path: &std::path::Path) -> Result<std::fs::File, SourceError> {
    let file = std::fs::File::open(path).map_err(|e| SourceError::read(path, e))?;
    let meta = file.metadata().map_err(|e| SourceError::read(path, e))?;
    if !meta.is_file() {
        return Err(SourceError::not_an_input(
            path,
            "not a regular file (a device, a pipe or a folder cannot be an export)".into(),
        ));
    }
    if meta.len() > MAX_INPUT {
        return Err(SourceError::not_an_input(
            path,
            format!(
                "{} bytes, more than the {} an input may hold",
                meta.len(),
                MAX_INPUT
            ),
        ));
    }
    Ok(file)
}

/// Reads an input file whole (see `open_input`).
pub fn read_input(path: &std::path::Path) -> Result<Vec<u8>, SourceError> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    open_input(path)?
        .take(MAX_INPUT)
        .read_to_end(&mut bytes)
        .map_err(|e| SourceError::read(path, e))?;
    Ok(bytes)
}
