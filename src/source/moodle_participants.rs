//! What a platform's courses hold, read from one custom report instead of two reads
//! per course. `core_enrol_get_enrolled_users` costs Moodle a fraction of a
//! millisecond of CPU per participant whatever fields it is asked for (most of a
//! quiet night's cost on the harness); the report builder's *Course participants*
//! source lists every participant's course, username, role and group in one query.
//! The platform's administrator makes the report once (five columns, in this
//! order: course short name, username, role short name, group name, enrolment
//! status; `scripts/moodle/participants_report.php` makes it) and names it in
//! `moodle.participants_report`.
//!
//! The report is read in English (`moodlewssettinglang=en`): its titles and the
//! status words are the language pack's, whatever the site's language. It is read
//! in one page: the report builder pages with `OFFSET` and no order of its own, so
//! that pages of a changing list could skip rows. A row of an unknown shape, a
//! status that is not one of the three, a list shorter than its count: an error,
//! never a guess. The rows name users, not their ids: the writes look the ids up.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::model::{CourseNow, EnrolledUser, MoodleNow};
use crate::source::moodle::{unescape, Moodle, GROUP_READS};
use crate::source::moodle_created::{Page, Row, RETRIEVE};
use crate::source::SourceError;

/// The report builder's Course participants source.
const SOURCE: &str = "core_course\\reportbuilder\\datasource\\participants";

/// The report's columns, titled as the English language pack titles them: course
/// short name, username, role short name, group name, enrolment status.
pub const COLUMNS: [&str; 5] = [
    "Course short name",
    "Username",
    "Short name",
    "Name",
    "Status",
];

/// `core_course\reportbuilder\local\formatters\enrolment::enrolment_values`, in
/// English: an enrolment active now, and the two ways not to be.
const ACTIVE: &str = "Active";
const NOT_ACTIVE: [&str; 2] = ["Suspended", "Not current"];

/// The most rows read: a site's participants (two million is ten times the largest
/// French university's enrolments).
const MAX_ROWS: usize = 2_000_000;

/// A course's users as the report lists them: username → (active now, roles,
/// groups).
type Listed = BTreeMap<String, (bool, BTreeSet<String>, BTreeSet<String>)>;

impl Moodle {
    /// These courses (by shortname) from the report, with their ids and every group
    /// (empty ones included) from the web services; a course Moodle lacks is `None`.
    /// The report and the ids are read at the same time.
    pub(crate) fn read_by_report(
        &self,
        report: u64,
        shortnames: &[String],
    ) -> Result<MoodleNow, SourceError> {
        let wanted: BTreeSet<&str> = shortnames.iter().map(String::as_str).collect();
        let (listed, ids) = std::thread::scope(|s| {
            let listed = s.spawn(|| self.participants(report, &wanted));
            let ids = self.ids_and_groups(shortnames);
            let listed = listed
                .join()
                .unwrap_or_else(|_| Err(self.participants_error(report, "its reader stopped")));
            (listed, ids)
        });
        let ((mut listed, _), (ids, mut groups)) = (listed?, ids?);
        let mut now: MoodleNow = shortnames.iter().map(|n| (n.clone(), None)).collect();
        for (name, id) in ids {
            // Every course the report can see has a row, participants or not: a
            // course without one is hidden from it, and its users unknown.
            let Some(users) = listed.remove(&name) else {
                let what =
                    format!("course {name} is not in it (a condition of the report hides it?)");
                return Err(self.participants_error(report, &what));
            };
            let mut course = CourseNow {
                id,
                groups: groups.remove(&id).unwrap_or_default(),
                ..CourseNow::default()
            };
            for (username, (active, roles, groups)) in users {
                let user = EnrolledUser {
                    id: None,
                    roles,
                    groups,
                };
                let side = if active {
                    &mut course.active
                } else {
                    &mut course.inactive
                };
                side.insert(username, user);
            }
            now.insert(name, Some(course));
        }
        Ok(now)
    }

    /// The courses' ids, and their groups when the service offers the function.
    #[allow(clippy::type_complexity)]
    fn ids_and_groups(
        &self,
        shortnames: &[String],
    ) -> Result<(BTreeMap<String, u64>, BTreeMap<u64, BTreeMap<String, u64>>), SourceError> {
        let ids = self.ids_of(shortnames)?;
        if !self.offers(GROUP_READS[0])? {
            // A read-only token (verify): the groups are known by name only.
            return Ok((ids, BTreeMap::new()));
        }
        let course_ids: Vec<u64> = ids.values().copied().collect();
        let groups = self.groups_of(&course_ids)?;
        Ok((ids, groups))
    }

    /// The rows the report lists, once it is seen to be the report described above
    /// (what `check` tries).
    pub fn participants_rows(&self, report: u64) -> Result<usize, SourceError> {
        Ok(self.participants(report, &BTreeSet::new())?.1)
    }

    /// The report's users of the wanted courses, by course, and the rows it listed:
    /// one page, read in English, checked to be the report described above.
    fn participants(
        &self,
        report: u64,
        wanted: &BTreeSet<&str>,
    ) -> Result<(BTreeMap<String, Listed>, usize), SourceError> {
        let v = self.call(
            RETRIEVE,
            &[
                ("reportid".to_string(), report.to_string()),
                ("page".to_string(), "0".to_string()),
                ("perpage".to_string(), MAX_ROWS.to_string()),
                ("moodlewssettinglang".to_string(), "en".to_string()),
            ],
        )?;
        let page: Page = serde_json::from_value(v).map_err(|e| self.unexpected(RETRIEVE, &e))?;
        if page.details.source != SOURCE {
            let what = format!(
                "its source is {}, not Course participants",
                page.details.source
            );
            return Err(self.participants_error(report, &what));
        }
        if page.data.headers != COLUMNS {
            let what = format!(
                "its columns are {:?}, not {COLUMNS:?} (course short name, username, role short name, group name, enrolment status, in that order)",
                page.data.headers
            );
            return Err(self.participants_error(report, &what));
        }
        let (total, got) = (page.data.totalrowcount, page.data.rows.len());
        if total > MAX_ROWS {
            let what = format!("it counts {total} rows, more than {MAX_ROWS}: give it a condition (the courses' category)");
            return Err(self.participants_error(report, &what));
        }
        if got != total {
            let what = format!("it gave {got} rows of the {total} it counts");
            return Err(self.participants_error(report, &what));
        }
        let mut out: BTreeMap<String, Listed> = BTreeMap::new();
        for (n, row) in page.data.rows.iter().enumerate() {
            let row = parsed(row).map_err(|what| {
                self.participants_error(report, &format!("row {}: {what}", n + 1))
            })?;
            let (course, participant) = row;
            if !wanted.contains(course.as_str()) {
                continue;
            }
            let users = out.entry(course).or_default();
            let Some((username, active, role, group)) = participant else {
                continue;
            };
            let entry = users.entry(username).or_default();
            // Active when any of the user's enrolments is, as Moodle's own lists.
            entry.0 |= active;
            entry.1.extend(role);
            entry.2.extend(group);
        }
        Ok((out, total))
    }

    fn participants_error(&self, report: u64, what: &str) -> SourceError {
        SourceError::Failed {
            what: self.describe(),
            action: format!(
                "custom report {report} (moodle.participants_report) cannot be read as the courses' participants: {what}; nothing was changed"
            ),
            cause: None,
        }
    }
}

/// A participant: username, whether this enrolment is active now, the role and the
/// group the row shows.
type Participant = (String, bool, Option<String>, Option<String>);

/// A row: its course, and its participant; `None` for a course's row without one
/// (no participant, or an account deleted).
fn parsed(row: &Row) -> Result<(String, Option<Participant>), String> {
    let [course, username, role, group, status] = row.columns.as_slice() else {
        return Err(format!("{} cells, not 5", row.columns.len()));
    };
    let Some(course) = cell(course, "course short name")? else {
        return Err("no course short name".into());
    };
    let Some(username) = cell(username, "username")? else {
        return Ok((course, None));
    };
    let active = match cell(status, "status")?.as_deref() {
        Some(ACTIVE) => true,
        Some(s) if NOT_ACTIVE.contains(&s) => false,
        Some(s) => {
            return Err(format!(
                "status '{}' is not {ACTIVE}, {} or {}",
                s.escape_debug(),
                NOT_ACTIVE[0],
                NOT_ACTIVE[1]
            ))
        }
        None => return Err(format!("{username} has no enrolment status")),
    };
    let role = cell(role, "role short name")?;
    let group = cell(group, "group name")?;
    Ok((course, Some((username, active, role, group))))
}

/// A cell's plain text; `None` when empty. A cell holding markup is a linked or
/// formatted column, not a value.
fn cell(v: &Value, what: &str) -> Result<Option<String>, String> {
    let text = match v {
        Value::Null => return Ok(None),
        Value::String(s) => unescape(s.trim()),
        other => return Err(format!("its {what} is {other}, not text")),
    };
    if text.contains('<') {
        return Err(format!(
            "its {what} '{}' is not a plain value (a linked or formatted column?)",
            text.escape_debug()
        ));
    }
    Ok((!text.is_empty()).then_some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: serde_json::Value) -> Row {
        Row {
            columns: serde_json::from_value(cells).unwrap(),
        }
    }

    #[test]
    fn a_row_gives_its_course_user_status_role_and_group() {
        let r = row(serde_json::json!([
            "L1 S&amp;H",
            "21000001",
            "student",
            "TD &amp; TP",
            "Not current"
        ]));
        assert_eq!(
            parsed(&r).unwrap(),
            (
                "L1 S&H".to_string(),
                Some((
                    "21000001".to_string(),
                    false,
                    Some("student".to_string()),
                    Some("TD & TP".to_string())
                ))
            )
        );
        let r = row(serde_json::json!(["C", "u", null, null, "Active"]));
        assert_eq!(
            parsed(&r).unwrap().1.unwrap(),
            ("u".to_string(), true, None, None)
        );
    }

    #[test]
    fn a_course_without_participants_gives_no_user() {
        let r = row(serde_json::json!(["C", null, null, null, null]));
        assert_eq!(parsed(&r).unwrap(), ("C".to_string(), None));
    }

    #[test]
    fn a_row_of_another_shape_is_an_error_not_a_guess() {
        for (cells, needle) in [
            (
                serde_json::json!(["C", "u", "student", null, "Actif"]),
                "status 'Actif' is not Active",
            ),
            (
                serde_json::json!(["C", "u", "student", null, null]),
                "u has no enrolment status",
            ),
            (
                serde_json::json!(["C", "u", "student", null]),
                "4 cells, not 5",
            ),
            (
                serde_json::json!([null, "u", "student", null, "Active"]),
                "no course short name",
            ),
            (
                serde_json::json!(["C", "<a href=\"x\">u</a>", null, null, "Active"]),
                "not a plain value",
            ),
            (
                serde_json::json!(["C", 7, null, null, "Active"]),
                "its username is 7, not text",
            ),
        ] {
            let e = parsed(&row(cells)).unwrap_err();
            assert!(e.contains(needle), "{e}");
        }
    }
}
