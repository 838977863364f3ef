//! The nightly outbox: numbered upload files that are never overwritten, the state of
//! what was written, and the manual-changes list. Files an administrator has imported
//! are moved to `imported/`; numbers keep growing across both folders.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::output::{OutputError, RenderedFile};
use crate::plan::delta::{ManualChange, Recorded};

pub const STATE_FILE: &str = "state.json";
pub const OUTBOX: &str = "outbox";
pub const IMPORTED: &str = "imported";

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    /// The number the next outbox file gets.
    pub next_file: u32,
    pub enrolments: Vec<Recorded>,
}

/// Reads `dir/state.json`; `None` before the first delta run.
pub fn load_state(dir: &Path) -> Result<Option<State>, OutputError> {
    let path = dir.join(STATE_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| OutputError::State {
                path,
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(OutputError::Io { path, source }),
    }
}

pub fn state_file(state: &State) -> Result<RenderedFile, OutputError> {
    let mut bytes = serde_json::to_vec_pretty(state).map_err(|e| OutputError::Encode {
        what: STATE_FILE.into(),
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok(RenderedFile {
        name: PathBuf::from(STATE_FILE),
        bytes,
    })
}

/// The number of `<platform>-NNNN….csv` in outbox/ or imported/, if any.
fn number_of(platform: &str, name: &str) -> Option<u32> {
    let rest = name.strip_prefix(platform)?.strip_prefix('-')?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if digits.len() != 4 || !name.ends_with(".csv") {
        return None;
    }
    digits.parse().ok()
}

/// The next free file number: above every file in outbox/ and imported/, and never
/// below what the state remembers (files may have been deleted).
pub fn next_number(dir: &Path, platform: &str, state: Option<&State>) -> u32 {
    let mut next = state.map_or(1, |s| s.next_file).max(1);
    for sub in [OUTBOX, IMPORTED] {
        let Ok(rd) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in rd.flatten() {
            if let Some(n) = number_of(platform, &e.file_name().to_string_lossy()) {
                next = next.max(n + 1);
            }
        }
    }
    next
}

/// `manual-changes-NNNN.csv`: changes to existing enrolments the file cannot make.
pub fn manual_changes(
    number: u32,
    changes: &[ManualChange],
    delimiter: u8,
) -> Result<RenderedFile, OutputError> {
    let name = format!("manual-changes-{number:04}.csv");
    let fail = |e: &dyn std::fmt::Display| OutputError::Encode {
        what: name.clone(),
        message: e.to_string(),
    };
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(["username", "course", "in_moodle", "wanted_now"])
        .map_err(|e| fail(&e))?;
    for c in changes {
        w.write_record([&c.username, &c.course, &c.was, &c.now])
            .map_err(|e| fail(&e))?;
    }
    let bytes = w.into_inner().map_err(|e| fail(&e))?;
    Ok(RenderedFile {
        name: PathBuf::from(name),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_continue_after_imported_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("imported")).unwrap();
        std::fs::write(d.path().join("imported/ecampus-0007.csv"), "").unwrap();
        std::fs::write(d.path().join("imported/ecampus-0007-002.csv"), "").unwrap();
        std::fs::write(d.path().join("imported/notes.txt"), "").unwrap();
        assert_eq!(next_number(d.path(), "ecampus", None), 8);
        let s = State {
            version: 1,
            next_file: 12,
            enrolments: vec![],
        };
        assert_eq!(next_number(d.path(), "ecampus", Some(&s)), 12);
        assert_eq!(next_number(d.path(), "prelude", None), 1);
    }

    #[test]
    fn corrupt_state_is_an_error_that_says_what_to_do() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(STATE_FILE), "{").unwrap();
        let e = load_state(d.path()).unwrap_err().to_string();
        assert!(e.contains("run with --full"), "{e}");
    }
}
