//! The errors a command can end with, and the exit code each maps to.

use crate::config::ConfigError;
use crate::output::OutputError;
use crate::source::SourceError;

/// Exit codes, documented in the README.
pub mod exit {
    pub const OK: u8 = 0;
    /// The run completed, but left out more than `max_left_out_ratio`
    /// (or `lint` found problems).
    pub const LEFT_OUT: u8 = 1;
    pub const CONFIG: u8 = 2;
    /// A source failed: nothing was written.
    pub const SOURCE: u8 = 3;
    /// The output could not be written (disk, permissions, another run's lock).
    pub const OUTPUT: u8 = 4;
    /// A `--delta` run wrote its files but held back the suspensions of some
    /// courses (too many at once): they wait for review.
    pub const HELD_BACK: u8 = 5;
    /// `verify`: Moodle differs from the plan (verify.csv lists how).
    pub const DIFFERS: u8 = 6;
    /// A platform delivered through web services: Moodle refused some operations,
    /// so it does not hold the plan (the journal names them). Takes precedence
    /// over 5 and 1.
    pub const REFUSED: u8 = 7;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Output(#[from] OutputError),
    /// A delta run would suspend too much: the sources look incomplete.
    #[error("refusing to write: {0}")]
    Refused(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::Usage(_) => exit::CONFIG,
            // Asked for on the command line: a usage error, nothing to repair.
            Error::Output(OutputError::State(crate::output::state::StateError::EarlierAsOf {
                ..
            })) => exit::CONFIG,
            Error::Source(_) | Error::Refused(_) => exit::SOURCE,
            Error::Output(_) => exit::OUTPUT,
        }
    }
}
