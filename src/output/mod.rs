//! The other edge: renders plans into files (upload CSVs, left-out reports, the
//! summary) and writes them so that a failed run never leaves a half-written file.

pub mod atomic;
pub mod html;
pub mod monitor;
pub mod outbox;
pub mod report;
pub mod say;
pub mod sheet_template;
pub mod state;
pub mod upload;

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A value reached the writer that the planner should have refused: a bug.
    #[error("internal error: refusing to write row {row} of {file}: {message}")]
    Unsafe {
        file: String,
        row: usize,
        message: String,
    },
    #[error("another enrolgen run holds the lock on {} (started by pid {pid}); try again when it has finished", path.display())]
    Locked { path: PathBuf, pid: String },
    #[error(transparent)]
    State(#[from] state::StateError),
    #[error("the delta state {} does not match the outbox: {message}", path.display())]
    Outbox { path: PathBuf, message: String },
    #[error("cannot encode {what}: {message}")]
    Encode { what: String, message: String },
}

impl From<crate::csvio::EncodeError> for OutputError {
    fn from(e: crate::csvio::EncodeError) -> OutputError {
        OutputError::Encode {
            what: e.what,
            message: e.message,
        }
    }
}

/// A rendered file: a name relative to the output directory, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    pub name: PathBuf,
    pub bytes: Vec<u8>,
}
