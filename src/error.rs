//! The errors a command can end with, and the exit code each maps to.

use std::path::PathBuf;

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

/// A command line that cannot be carried out as written: what was asked, and the
/// way to ask it right.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("--as-of {day}: a day from {first} to {last} (two years from today) is expected")]
    AsOfOutOfRange {
        day: chrono::NaiveDate,
        first: chrono::NaiveDate,
        last: chrono::NaiveDate,
    },
    #[error("--platform {name}: no such platform in {} ({known})", file.display())]
    NoSuchPlatform {
        name: String,
        file: PathBuf,
        known: String,
    },
    #[error("--cohort {name}: no such cohort in {} ({known})", file.display())]
    NoSuchCohort {
        name: String,
        file: PathBuf,
        known: String,
    },
    #[error("no platform of {} has a moodle: connection (url and token) to verify", file.display())]
    NoConnections { file: PathBuf },
    #[error("--platform {platform}: it has no moodle: connection (url and token) in {}", file.display())]
    NoConnection { platform: String, file: PathBuf },
    #[error("--cohort: platform {platform} is delivered through web services, which apply the whole plan (a part would suspend the rest); use --platform, or adhoc for a file")]
    WholePlanOnly { platform: String },
    #[error("--file checks one platform's file: give exactly one --platform")]
    OneFileOnePlatform,
    #[error("{}: not a clean upload file (run `enrolgen lint {}` first)", path.display(), path.display())]
    NotCleanUpload { path: PathBuf },
    #[error("{} already exists; not overwriting it", path.display())]
    Exists { path: PathBuf },
    #[error("{flag} {}: not a file name", path.display())]
    NotAFileName { flag: &'static str, path: PathBuf },
    #[error("cannot read {}: {message}", path.display())]
    Unreadable { path: PathBuf, message: String },
    #[error("{}: {message}", path.display())]
    Sheet { path: PathBuf, message: String },
    #[error("man: no subcommand '{name}' (one of {known})")]
    NoSuchPage { name: String, known: String },
    /// An option's value that cannot be used: the option and why.
    #[error("{flag}: {message}")]
    Value { flag: String, message: String },
    /// Options that must be given and were not.
    #[error("give {0}")]
    Missing(&'static str),
}

impl UsageError {
    pub fn value(flag: impl Into<String>, message: impl std::fmt::Display) -> UsageError {
        UsageError::Value {
            flag: flag.into(),
            message: message.to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Usage(#[from] UsageError),
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
