//! The journal of a run, `applied-NNNN.csv`: the audit trail of what enrolgen asked
//! of Moodle and what Moodle answered. Written as it happens, appended and flushed
//! per batch (its lines `sent`, then their answer), so that a run killed at any
//! moment leaves a journal that says what was sent; the next run says what became
//! of it (`adopted` or `not made`, naming the journal that sent it).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::output::OutputError;

/// One line: an operation and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Line {
    pub operation: &'static str,
    pub course: String,
    pub username: String,
    pub role: String,
    pub group: String,
    pub result: Outcome,
}

/// What happened to an operation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Sent; its answer follows on another line (or never, if the run was killed).
    Sent,
    Ok,
    /// Refused by Moodle: its error code and message.
    Refused(String),
    /// Not sent, and why.
    NotSent(String),
    /// Sent, but the answer never came (the server went away): Moodle may hold it;
    /// the next run looks.
    NoAnswer,
    /// Sent by a killed run (the journal named), found in Moodle by this one.
    Adopted(String),
    /// Sent by a killed run (the journal named), not found in Moodle.
    NotMade(String),
    /// Sent by a killed run (the journal named), its effect not shown by Moodle
    /// (a status outside the enrolment's dates, new dates): sent again.
    Unseen(String),
}

impl Outcome {
    pub fn text(&self) -> String {
        match self {
            Outcome::Sent => "sent".into(),
            Outcome::Ok => "ok".into(),
            Outcome::Refused(why) => format!("refused: {why}"),
            Outcome::NotSent(why) => format!("not sent: {why}"),
            Outcome::NoAnswer => NO_ANSWER.into(),
            Outcome::Adopted(by) => format!("adopted: sent by {by}, found in Moodle"),
            Outcome::NotMade(by) => format!("not made: sent by {by}, not in Moodle"),
            Outcome::Unseen(by) => {
                format!("not seen: sent by {by}, Moodle does not show it done, so planned again")
            }
        }
    }
}

const NO_ANSWER: &str = "no answer: the run stopped; the next run looks in Moodle";

/// The hidden file that keeps the number of the last journal written, so that a
/// state put back from a backup is refused, and no number used again, even once
/// the journals were cleaned up.
const LAST_JOURNAL: &str = ".last-journal";

/// The number in `LAST_JOURNAL` (0 when there is none).
pub fn last_journal(dir: &Path) -> u32 {
    std::fs::read_to_string(dir.join(LAST_JOURNAL))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

const HEADER: [&str; 6] = ["operation", "course", "username", "role", "group", "result"];

/// A run's journal: created at its first line, appended to after.
pub struct Journal {
    /// The output folder (`--out`) and the platform's folder in it.
    root: PathBuf,
    dir: PathBuf,
    number: u32,
    name: String,
    mode: u32,
    file: Mutex<Option<std::fs::File>>,
    /// Every line written, for the summary.
    lines: Mutex<Vec<Line>>,
}

impl Journal {
    /// The next journal of the platform's folder (numbered after the last one, or
    /// the last a state was saved with if that one was cleaned up since).
    pub fn next(root: &Path, dir: &Path, mode: u32) -> Journal {
        let last = crate::output::outbox::highest_number(dir, "applied").max(last_journal(dir));
        Journal {
            root: root.to_path_buf(),
            dir: dir.to_path_buf(),
            number: last + 1,
            name: format!("applied-{:04}.csv", last + 1),
            mode,
            file: Mutex::new(None),
            lines: Mutex::new(Vec::new()),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Records this journal's number where no clean-up of old journals removes it.
    fn mark(&self) -> Result<(), OutputError> {
        if self.number <= last_journal(&self.dir) {
            return Ok(());
        }
        let file = crate::output::RenderedFile {
            name: LAST_JOURNAL.into(),
            bytes: format!("{}\n", self.number).into_bytes(),
        };
        crate::output::atomic::write_all(&self.root, &self.dir, &[file], self.mode)
    }

    /// Appends these lines and flushes them to the file.
    pub fn write(&self, lines: &[Line]) -> Result<(), OutputError> {
        if lines.is_empty() {
            return Ok(());
        }
        let path = self.dir.join(&self.name);
        let io = |source| OutputError::Io {
            path: path.clone(),
            source,
        };
        let mut file = self.file.lock().map_err(|_| poisoned(&path))?;
        let mut records: Vec<[String; 6]> = Vec::with_capacity(lines.len() + 1);
        if file.is_none() {
            *file = Some(crate::output::atomic::create_new(
                &self.root, &path, self.mode,
            )?);
            self.mark()?;
            records.push(HEADER.map(String::from));
        }
        records.extend(lines.iter().map(|l| {
            [
                l.operation.to_string(),
                l.course.clone(),
                l.username.clone(),
                l.role.clone(),
                l.group.clone(),
                l.result.text(),
            ]
        }));
        let bytes = crate::csvio::write_records(&self.name, b';', records)?;
        if let Some(f) = file.as_mut() {
            f.write_all(&bytes).map_err(io)?;
            f.flush().map_err(io)?;
        }
        if let Ok(mut all) = self.lines.lock() {
            all.extend_from_slice(lines);
        }
        Ok(())
    }

    /// Whether anything was written.
    pub fn is_written(&self) -> bool {
        self.file.lock().is_ok_and(|f| f.is_some())
    }

    /// Every line written, in order.
    pub fn lines(&self) -> Vec<Line> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

fn poisoned(path: &Path) -> OutputError {
    OutputError::Encode {
        what: path.display().to_string(),
        message: "a worker thread panicked".into(),
    }
}

/// The operations the last journal of `dir` sent without an answer (a killed run):
/// (journal name, lines), each line's result `Sent`.
pub fn unanswered(dir: &Path) -> (String, Vec<Line>) {
    let last = crate::output::outbox::highest_number(dir, "applied");
    let name = format!("applied-{last:04}.csv");
    if last == 0 {
        return (name, Vec::new());
    }
    let Ok(bytes) = std::fs::read(dir.join(&name)) else {
        return (name, Vec::new());
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(bytes.as_slice());
    // The last word on each operation wins: `sent` then `ok` is answered.
    let mut last_word: std::collections::BTreeMap<[String; 5], (usize, String)> =
        std::collections::BTreeMap::new();
    for (n, rec) in reader.records().flatten().enumerate() {
        let cell = |i: usize| rec.get(i).unwrap_or_default().to_string();
        let key = [cell(0), cell(1), cell(2), cell(3), cell(4)];
        last_word.insert(key, (n, cell(5)));
    }
    let mut sent: Vec<(usize, Line)> = last_word
        .into_iter()
        .filter(|(_, (_, result))| result == "sent" || result == NO_ANSWER)
        .filter_map(|([op, course, username, role, group], (n, _))| {
            Some((
                n,
                Line {
                    operation: operation_name(&op)?,
                    course,
                    username,
                    role,
                    group,
                    result: Outcome::Sent,
                },
            ))
        })
        .collect();
    sent.sort_by_key(|(n, _)| *n);
    (name, sent.into_iter().map(|(_, l)| l).collect())
}

/// The journal's operation names, as the static strings the lines carry.
fn operation_name(op: &str) -> Option<&'static str> {
    [
        "enrol",
        "reactivate",
        "suspend",
        "dates",
        "add_role",
        "remove_role",
        "create_group",
        "add_member",
        "remove_member",
    ]
    .into_iter()
    .find(|o| *o == op)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(op: &'static str, user: &str, result: Outcome) -> Line {
        Line {
            operation: op,
            course: "C".into(),
            username: user.into(),
            role: String::new(),
            group: "G".into(),
            result,
        }
    }

    #[test]
    fn lines_are_appended_as_they_come_and_the_unanswered_found_again() {
        let d = tempfile::tempdir().unwrap();
        let j = Journal::next(d.path(), d.path(), 0o640);
        assert_eq!(j.name(), "applied-0001.csv");
        assert!(!j.is_written());
        j.write(&[
            line("add_member", "a", Outcome::Sent),
            line("add_member", "b", Outcome::Sent),
        ])
        .unwrap();
        j.write(&[line("add_member", "a", Outcome::Ok)]).unwrap();
        let text = std::fs::read_to_string(d.path().join("applied-0001.csv")).unwrap();
        assert_eq!(
            text,
            "operation;course;username;role;group;result\nadd_member;C;a;;G;sent\nadd_member;C;b;;G;sent\nadd_member;C;a;;G;ok\n"
        );
        let (name, sent) = unanswered(d.path());
        assert_eq!(name, "applied-0001.csv");
        assert_eq!(sent, [line("add_member", "b", Outcome::Sent)]);
        assert_eq!(
            Journal::next(d.path(), d.path(), 0o640).name(),
            "applied-0002.csv"
        );
    }
}
