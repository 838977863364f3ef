//! The nightly outbox: numbered upload files that are never overwritten, the state of
//! what was written, and the manual-changes list. Files an administrator has imported
//! are moved to `imported/`; numbers keep growing across both folders.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::output::{OutputError, RenderedFile};
use crate::plan::delta::{ManualChange, Recorded};

pub const STATE_FILE: &str = crate::output::state::DELTA.file;
/// The state a run writes before renaming its files into place, renamed over
/// `STATE_FILE` once they are: a run killed in between leaves it, and the next run
/// completes or undoes that night (`finish_interrupted`).
pub const NEXT_STATE_FILE: &str = "state.json.next";
pub const OUTBOX: &str = "outbox";
/// Outbox files are numbered on four digits.
pub const MAX_FILE_NUMBER: u32 = 9999;
pub const IMPORTED: &str = "imported";

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaState {
    /// Format, platform (absent in states of enrolgen 0.1), as-of day (absent
    /// before 0.2).
    #[serde(flatten)]
    pub header: crate::model::StateHeader,
    /// The number the next outbox file gets.
    pub next_file: u32,
    pub enrolments: Vec<Recorded>,
    /// Upload files written to the outbox and not yet seen in imported/: the state
    /// holds their enrolments as written, so they must reach Moodle as they were.
    /// (Named `pending` in the file since its first format.)
    #[serde(rename = "pending", default, skip_serializing_if = "Vec::is_empty")]
    pub waiting: Vec<Written>,
    /// manual-changes files written and not yet moved into imported/, with the
    /// changes each lists: moving one there marks them done.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manual: Vec<ManualFile>,
}

/// A manual-changes file and what it asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualFile {
    pub name: String,
    pub changes: Vec<ManualChange>,
}

/// Splits the state's manual-changes files into those an administrator moved into
/// imported/ (done) and those still pending.
pub fn manual_done(dir: &Path, files: &[ManualFile]) -> (Vec<ManualFile>, Vec<ManualFile>) {
    files
        .iter()
        .cloned()
        .partition(|f| dir.join(IMPORTED).join(&f.name).is_file())
}

/// An outbox file as enrolgen wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    pub name: String,
    pub bytes: u64,
    pub crc32: u32,
}

impl Written {
    pub fn of(f: &RenderedFile) -> Written {
        Written {
            name: f.name.display().to_string(),
            bytes: f.bytes.len() as u64,
            crc32: crc32(&f.bytes),
        }
    }
}

/// CRC-32 (IEEE), enough to tell a file edited by hand from the one written.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The upload files of `platform` in `dir/sub`, sorted.
fn upload_files(dir: &Path, sub: &str, platform: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join(sub))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| number_of(platform, n).is_some())
        .collect();
    names.sort();
    names
}

/// What became of a night killed while its files were renamed into place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupted {
    /// Every file it wrote was in place: its state is taken, as if it had ended.
    Completed,
    /// Some were not: the ones in place are removed, the night before stands.
    Undone,
}

/// Settles a night killed between writing its files and its state (`NEXT_STATE_FILE`
/// left in `dir`): either every file that night added is in place (in outbox/, or
/// already moved into imported/, as written) and its state is taken, or its files
/// still in outbox/ are removed and the previous state stands. A kill at any instant
/// so leaves the old night or the new one, never a file the state does not know.
/// Call with the output folder locked. `None` when no night was interrupted.
pub fn finish_interrupted(dir: &Path) -> Result<Option<Interrupted>, OutputError> {
    let next_path = dir.join(NEXT_STATE_FILE);
    if !next_path.is_file() {
        return Ok(None);
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| OutputError::Io {
            path: path.clone(),
            source,
        }
    };
    let next: DeltaState = serde_json::from_slice(&std::fs::read(&next_path).map_err(io(&next_path))?)
        .map_err(|e| OutputError::Outbox {
            path: next_path.clone(),
            message: format!(
                "unreadable ({e}): a run was killed while writing it; move it away, and check {OUTBOX}/ against {STATE_FILE}"
            ),
        })?;
    let old = load_state(dir).ok().flatten();
    let known: std::collections::BTreeSet<&str> = old
        .iter()
        .flat_map(|s| s.waiting.iter().map(|w| w.name.as_str()))
        .collect();
    let added: Vec<&Written> = next
        .waiting
        .iter()
        .filter(|w| !known.contains(w.name.as_str()))
        .collect();
    let in_place = |w: &Written| {
        [OUTBOX, IMPORTED].iter().any(|sub| {
            std::fs::read(dir.join(sub).join(&w.name))
                .is_ok_and(|b| b.len() as u64 == w.bytes && crc32(&b) == w.crc32)
        })
    };
    let old_manual: std::collections::BTreeSet<&str> = old
        .iter()
        .flat_map(|s| s.manual.iter().map(|m| m.name.as_str()))
        .collect();
    let manual_added: Vec<&str> = next
        .manual
        .iter()
        .map(|m| m.name.as_str())
        .filter(|n| !old_manual.contains(n))
        .collect();
    let manual_in_place = |n: &str| dir.join(n).is_file() || dir.join(IMPORTED).join(n).is_file();
    if added.iter().all(|w| in_place(w)) && manual_added.iter().all(|n| manual_in_place(n)) {
        std::fs::rename(&next_path, dir.join(STATE_FILE)).map_err(io(&next_path))?;
        return Ok(Some(Interrupted::Completed));
    }
    for w in added {
        let path = dir.join(OUTBOX).join(&w.name);
        if path.is_file() {
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    for n in manual_added {
        let path = dir.join(n);
        if path.is_file() {
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    std::fs::remove_file(&next_path).map_err(io(&next_path))?;
    Ok(Some(Interrupted::Undone))
}

/// Checks a delta state against the outbox before a run builds on it: the state must
/// be this platform's, every file it says was written must still be as written, in
/// outbox/ or in imported/, and outbox/ must hold no upload file it does not know. A
/// missing or empty state beside files already written is refused: a delta built on
/// it would write every enrolment again. Returns the files still waiting in outbox/.
pub fn audit(
    dir: &Path,
    platform: &str,
    state: Option<&DeltaState>,
) -> Result<Vec<Written>, OutputError> {
    let fail = |message: String| OutputError::Outbox {
        path: dir.join(STATE_FILE),
        message,
    };
    let written: Vec<String> = [OUTBOX, IMPORTED]
        .iter()
        .flat_map(|sub| {
            upload_files(dir, sub, platform)
                .into_iter()
                .map(move |n| format!("{sub}/{n}"))
        })
        .collect();
    let empty = state.is_none_or(|s| s.enrolments.is_empty());
    if empty && !written.is_empty() {
        return Err(fail(format!(
            "{} but {} already holds {} upload file(s) ({}): a delta built on it would write every enrolment \
             again, and re-importing existing enrolments resets their dates in Moodle. Put the state back \
             (from a backup), or start again on purpose with --full",
            if state.is_none() { "there is no state" } else { "the state is empty" },
            dir.display(),
            written.len(),
            written.first().map(String::as_str).unwrap_or_default(),
        )));
    }
    let Some(state) = state else {
        return Ok(Vec::new());
    };
    if !(1..=MAX_FILE_NUMBER).contains(&state.next_file) {
        return Err(fail(format!(
            "its next file number is {}, not one enrolgen writes (0001 to {MAX_FILE_NUMBER:04}): put back the state as \
             enrolgen wrote it, or start again with --full",
            state.next_file
        )));
    }
    stray_file(dir, state).map_err(fail)?;
    if let Some(newer) = newer_file(platform, state, &written) {
        let path = dir.join(STATE_FILE);
        return Err(crate::output::state::older(&path, crate::output::state::DELTA, newer).into());
    }
    let mut waiting = Vec::new();
    for w in &state.waiting {
        let found = [OUTBOX, IMPORTED]
            .iter()
            .map(|sub| (*sub, dir.join(sub).join(&w.name)))
            .find(|(_, p)| p.is_file());
        let Some((sub, path)) = found else {
            return Err(fail(format!(
                "{} is in neither {OUTBOX}/ nor {IMPORTED}/, so enrolgen cannot tell whether Moodle received its \
                 enrolments: put the file back (from a backup) where it was, or start again with --full \
                 (its file holds every enrolment; re-importing existing ones resets their dates)",
                w.name
            )));
        };
        let bytes = std::fs::read(&path).map_err(|source| OutputError::Io {
            path: path.clone(),
            source,
        })?;
        if bytes.len() as u64 != w.bytes || crc32(&bytes) != w.crc32 {
            return Err(fail(format!(
                "{sub}/{} was changed after enrolgen wrote it ({} bytes written, {} now): put the original \
                 back, or start again with --full",
                w.name,
                w.bytes,
                bytes.len()
            )));
        }
        if sub == OUTBOX {
            waiting.push(w.clone());
        }
    }
    Ok(waiting)
}

/// A state put back from a backup: a file numbered at or above its `next_file` was
/// written after it, so the state does not know what that file (and any later one)
/// changed in Moodle, and a delta built on it would miss those changes for good.
fn newer_file(platform: &str, state: &DeltaState, written: &[String]) -> Option<String> {
    written
        .iter()
        .find(|w| {
            w.rsplit('/')
                .next()
                .and_then(|n| number_of(platform, n))
                .is_some_and(|n| n >= state.next_file)
        })
        .map(|f| {
            format!(
                "{f} (it expects the next file to be number {:04})",
                state.next_file
            )
        })
}

/// A file in outbox/ that the state does not know (made or copied by hand): any
/// `.csv`, whatever its case or numbering, since IMPORT.txt says to import every
/// one of the folder.
fn stray_file(dir: &Path, state: &DeltaState) -> Result<(), String> {
    let known: std::collections::BTreeSet<&str> =
        state.waiting.iter().map(|w| w.name.as_str()).collect();
    let mut names: Vec<String> = std::fs::read_dir(dir.join(OUTBOX))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.to_lowercase().ends_with(".csv"))
        .collect();
    names.sort();
    match names.into_iter().find(|n| !known.contains(n.as_str())) {
        Some(stray) => Err(format!(
            "{OUTBOX}/{stray} was not written by enrolgen (or not by the run this state records): \
             an administrator could import it without enrolgen knowing. Move it out of {OUTBOX}/, \
             or start again with --full"
        )),
        None => Ok(()),
    }
}

/// Reads `dir/state.json`; `None` before the first delta run.
pub fn load_state(dir: &Path) -> Result<Option<DeltaState>, OutputError> {
    Ok(crate::output::state::load(
        dir,
        crate::output::state::DELTA,
    )?)
}

pub fn state_file(state: &DeltaState) -> Result<RenderedFile, OutputError> {
    crate::output::state::render(crate::output::state::DELTA, state)
}

/// The number of a `<prefix>-NNNN….csv` file, if its name is one.
fn number_of(prefix: &str, name: &str) -> Option<u32> {
    let rest = name.strip_prefix(prefix)?.strip_prefix('-')?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if digits.len() != 4 || !name.ends_with(".csv") {
        return None;
    }
    digits.parse().ok()
}

/// The highest number of the `<prefix>-NNNN….csv` files in `dir` (0 when none).
pub fn highest_number(dir: &Path, prefix: &str) -> u32 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .filter_map(|e| number_of(prefix, &e.file_name().to_string_lossy()))
        .max()
        .unwrap_or(0)
}

/// The next free file number: above every file in outbox/ and imported/, and never
/// below what the state remembers (files may have been deleted).
pub fn next_number(dir: &Path, platform: &str, state: Option<&DeltaState>) -> u32 {
    let highest = [OUTBOX, IMPORTED]
        .iter()
        .map(|sub| highest_number(&dir.join(sub), platform))
        .max()
        .unwrap_or(0);
    state.map_or(1, |s| s.next_file).max(1).max(highest + 1)
}

/// `manual-changes-NNNN.csv`: changes to existing enrolments the file cannot make.
pub fn manual_changes(
    number: u32,
    changes: &[ManualChange],
    delimiter: u8,
) -> Result<RenderedFile, OutputError> {
    let name = format!("manual-changes-{number:04}.csv");
    let header = [["username", "course", "in_moodle", "wanted_now"].map(String::from)];
    let rows = changes.iter().map(|c| {
        [
            c.username.clone(),
            c.course.clone(),
            c.was.clone(),
            c.now.clone(),
        ]
    });
    let bytes = crate::csvio::write_records(&name, delimiter, header.into_iter().chain(rows))?;
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
        let s = DeltaState {
            next_file: 12,
            ..DeltaState::default()
        };
        assert_eq!(next_number(d.path(), "ecampus", Some(&s)), 12);
        assert_eq!(next_number(d.path(), "prelude", None), 1);
    }

    #[test]
    fn crc32_is_the_ieee_one() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn corrupt_state_is_an_error_that_says_what_to_do() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(STATE_FILE), "{").unwrap();
        let e = load_state(d.path()).unwrap_err().to_string();
        assert!(e.contains("run with --full"), "{e}");
    }
}
