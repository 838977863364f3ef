//! The edges that read the world: Apogée (SQLite, Oracle, CSV extract), directories
//! (LDAP, LDIF), platform account lists, Moodle and requesters' sheets. Each adapter turns rows and entries into
//! domain types; nothing past this module sees a row or an entry.

pub mod accounts;
pub mod directory;
pub mod moodle;
pub mod moodle_api;
pub mod moodle_created;
pub mod sheet;
mod sheet_xml;
pub mod sis;

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
}
