//! The upload file Moodle imports, exactly as docs/moodle-upload.md says: UTF-8 without
//! BOM, `\n` line ends, no quote characters, every row as wide as the header,
//! enrolment columns numbered from 1 without gaps, rows sorted. This is the only
//! place that builds a `csv::Writer` for upload files.

use std::borrow::Cow;
use std::ops::Range;
use std::path::PathBuf;

use crate::model::{CsvFormat, Enrolment, Layout};
use crate::moodle;
use crate::output::{OutputError, RenderedFile};

/// One enrolment cell group of a row: an enrolment, in one of its groups (`""`
/// when it has none). Two words: a plan of a million enrolments renders in a flat
/// list of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot<'a> {
    e: &'a Enrolment,
    group: &'a str,
}

impl Slot<'_> {
    /// Rows are sorted by username, then by course and group.
    fn key(&self) -> (&str, &str, &str) {
        (&self.e.username, &self.e.course, self.group)
    }
}

/// Which optional columns the file has (any enrolment uses them).
#[derive(Debug, Default, Clone, Copy)]
struct Columns {
    group: bool,
    enrolperiod: bool,
    enrolstatus: bool,
    enroltimestart: bool,
}

/// Adds an enrolment's slots: one per group. A user in several groups of a
/// course has a slot in each: Moodle enrols on the first and only adds the group on
/// the next ones (same role, same day).
fn push_slots<'a>(e: &'a Enrolment, out: &mut Vec<Slot<'a>>) {
    if e.groups.is_empty() {
        out.push(Slot { e, group: "" });
    }
    out.extend(e.groups.iter().map(|g| Slot { e, group: g }));
}

/// File name of part `n` (1-based) of a platform's upload file.
pub fn part_name(platform: &str, n: usize) -> PathBuf {
    if n == 1 {
        PathBuf::from(format!("{platform}.csv"))
    } else {
        PathBuf::from(format!("{platform}-{n:03}.csv"))
    }
}

/// Renders a platform's enrolments into one or more upload files.
/// `enrolments` must be sorted by (username, course), as the plan keeps them.
pub fn render<'a>(
    platform: &str,
    format: &CsvFormat,
    enrolments: impl IntoIterator<Item = &'a Enrolment>,
) -> Result<Vec<RenderedFile>, OutputError> {
    // One flat list of (user, slot), sorted: a row is a run of it (one slot in the
    // long layout, all of a user's in the wide one), not a list of its own.
    let enrolments = enrolments.into_iter();
    let mut slots: Vec<Slot> = Vec::with_capacity(enrolments.size_hint().0);
    for e in enrolments {
        push_slots(e, &mut slots);
    }
    slots.sort_by(|a, b| a.key().cmp(&b.key()));
    let mut cols = Columns::default();
    for s in &slots {
        cols.group |= !s.group.is_empty();
        cols.enrolperiod |= s.e.enrolperiod.is_some();
        cols.enrolstatus |= s.e.enrolstatus.is_some();
        cols.enroltimestart |= s.e.enroltimestart.is_some();
    }
    let rows: Vec<Range<usize>> = match format.layout {
        Layout::Long => (0..slots.len()).map(|i| i..i + 1).collect(),
        Layout::Wide => {
            let mut rows = Vec::new();
            let mut start = 0;
            for i in 1..=slots.len() {
                if i == slots.len() || slots[i].e.username != slots[start].e.username {
                    rows.push(start..i);
                    start = i;
                }
            }
            rows
        }
    };
    let width = rows.iter().map(Range::len).max().unwrap_or(1);
    let header = header(width, cols);
    let per_file = format.max_rows.unwrap_or(usize::MAX).max(1);
    let mut files = Vec::new();
    // Nothing to enrol: no file at all, rather than a header an administrator
    // would import for nothing.
    for (i, chunk) in rows.chunks(per_file).enumerate() {
        let name = part_name(platform, i + 1);
        let mut w = crate::csvio::upload_writer(format.delimiter);
        let fail = |e: csv::Error| OutputError::Encode {
            what: name.display().to_string(),
            message: e.to_string(),
        };
        w.write_record(&header).map_err(fail)?;
        for (row_no, range) in chunk.iter().enumerate() {
            let ss = &slots[range.clone()];
            let user = ss.first().map_or("", |s| s.e.username.as_str());
            let record = record(user, ss, width, cols);
            // The planner checked every value; this guards the file itself.
            let unsafe_cell = record
                .iter()
                .find_map(|v| moodle::check_cell("value", v, format.delimiter).err())
                .or_else(|| moodle::check_username(user).err());
            if let Some(message) = unsafe_cell {
                return Err(OutputError::Unsafe {
                    file: name.display().to_string(),
                    row: row_no + 2,
                    message,
                });
            }
            w.write_record(record.iter().map(|c| c.as_bytes()))
                .map_err(fail)?;
        }
        let bytes = w.into_inner().map_err(|e| OutputError::Encode {
            what: name.display().to_string(),
            message: e.to_string(),
        })?;
        files.push(RenderedFile { name, bytes });
    }
    Ok(files)
}

/// One row's cells: the username, then each enrolment's columns (empty when the row
/// has fewer enrolments than the widest).
fn record<'a>(user: &'a str, ss: &[Slot<'a>], width: usize, cols: Columns) -> Vec<Cow<'a, str>> {
    let mut record: Vec<Cow<'_, str>> = vec![Cow::Borrowed(user)];
    for n in 0..width {
        let s = ss.get(n).copied();
        let e = s.map(|s| s.e);
        let text = |t: Option<&'a str>| Cow::Borrowed(t.unwrap_or_default());
        let num = |v: Option<String>| v.map_or(Cow::Borrowed(""), Cow::Owned);
        record.push(text(e.map(|e| e.course.as_str())));
        record.push(text(e.map(|e| e.role.as_str())));
        if cols.group {
            record.push(text(s.map(|s| s.group)));
        }
        if cols.enrolperiod {
            record.push(num(e.and_then(|e| e.enrolperiod).map(|p| p.to_string())));
        }
        if cols.enrolstatus {
            record.push(num(e.and_then(|e| e.enrolstatus).map(|p| p.to_string())));
        }
        if cols.enroltimestart {
            record.push(num(e
                .and_then(|e| e.enroltimestart)
                .map(|d| d.format("%Y-%m-%d").to_string())));
        }
    }
    record
}

fn header(width: usize, cols: Columns) -> Vec<String> {
    let mut h = vec!["username".to_string()];
    for n in 1..=width {
        h.push(format!("course{n}"));
        h.push(format!("role{n}"));
        if cols.group {
            h.push(format!("group{n}"));
        }
        if cols.enrolperiod {
            h.push(format!("enrolperiod{n}"));
        }
        if cols.enrolstatus {
            h.push(format!("enrolstatus{n}"));
        }
        if cols.enroltimestart {
            h.push(format!("enroltimestart{n}"));
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(user: &str, course: &str, groups: &[&str], period: Option<u32>) -> Enrolment {
        Enrolment {
            username: user.into(),
            course: course.into(),
            role: "student".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            enrolperiod: period,
            enrolstatus: None,
            enroltimestart: None,
            rules: Vec::new(),
            cohorts: Vec::new(),
        }
    }

    fn text(f: &RenderedFile) -> &str {
        std::str::from_utf8(&f.bytes).unwrap()
    }

    #[test]
    fn long_layout_one_row_per_enrolment_and_group() {
        let es = [
            e("a", "C1", &["TD 1", "TD 2"], Some(60)),
            e("b", "C1", &[], None),
        ];
        let fmt = CsvFormat {
            delimiter: b';',
            layout: Layout::Long,
            max_rows: None,
        };
        let files = render("ecampus", &fmt, &es).unwrap();
        assert_eq!(
            text(&files[0]),
            "username;course1;role1;group1;enrolperiod1\na;C1;student;TD 1;60\na;C1;student;TD 2;60\nb;C1;student;;\n"
        );
    }

    #[test]
    fn wide_layout_pads_short_rows() {
        let es = [
            e("a", "C1", &[], None),
            e("a", "C2", &[], None),
            e("b", "C1", &[], None),
        ];
        let fmt = CsvFormat {
            delimiter: b',',
            layout: Layout::Wide,
            max_rows: None,
        };
        let files = render("collegium", &fmt, &es).unwrap();
        assert_eq!(
            text(&files[0]),
            "username,course1,role1,course2,role2\na,C1,student,C2,student\nb,C1,student,,\n"
        );
    }

    #[test]
    fn max_rows_splits_into_numbered_parts_with_the_same_header() {
        let es: Vec<_> = (0..5)
            .map(|i| e(&format!("u{i}"), "C", &[], None))
            .collect();
        let fmt = CsvFormat {
            delimiter: b';',
            layout: Layout::Long,
            max_rows: Some(2),
        };
        let files = render("p", &fmt, &es).unwrap();
        let names: Vec<_> = files.iter().map(|f| f.name.display().to_string()).collect();
        assert_eq!(names, ["p.csv", "p-002.csv", "p-003.csv"]);
        assert_eq!(text(&files[2]), "username;course1;role1\nu4;C;student\n");
    }

    #[test]
    fn nothing_to_enrol_writes_no_file() {
        let fmt = CsvFormat {
            delimiter: b';',
            layout: Layout::Long,
            max_rows: None,
        };
        assert!(render("p", &fmt, &[]).unwrap().is_empty());
    }

    #[test]
    fn writer_refuses_a_value_with_the_delimiter() {
        let es = [e("a", "C;1", &[], None)];
        let fmt = CsvFormat {
            delimiter: b';',
            layout: Layout::Long,
            max_rows: None,
        };
        assert!(matches!(
            render("p", &fmt, &es),
            Err(OutputError::Unsafe { row: 2, .. })
        ));
    }
}
