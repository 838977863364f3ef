//! An Apogée extract as a spreadsheet: for on-demand files when the person asking has
//! a list of student numbers but no database access.
//!
//! Columns (header names, any order, `;` or `,`): `student_id` (required), and
//! optionally `name`, `etape`, `version`, `element`, `group`. A row belongs to an
//! Apogée cohort when every cohort column the file has matches the cohort's value;
//! a file without them is one cohort for whatever the mapping asks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::StudentSource;
use crate::model::{ApogeeCohort, ApogeeGroup, Student};
use crate::source::SourceError;

#[derive(Debug, Clone)]
struct Row {
    student_id: String,
    name: String,
    etape: Option<String>,
    version: Option<u32>,
    element: Option<String>,
    group: Option<String>,
}

#[derive(Debug)]
pub struct CsvExtract {
    path: PathBuf,
    rows: Vec<Row>,
}

const KNOWN: [&str; 6] = ["student_id", "name", "etape", "version", "element", "group"];

impl CsvExtract {
    pub fn open(path: &Path) -> Result<CsvExtract, SourceError> {
        let bytes = crate::source::read_input(path)?;
        Self::parse(path, &bytes)
    }

    pub fn parse(path: &Path, bytes: &[u8]) -> Result<CsvExtract, SourceError> {
        let bad = |line: usize, message: String| SourceError::BadData {
            path: path.to_path_buf(),
            line,
            message,
        };
        let table = crate::csvio::read_table(path, bytes)?;
        if let Some(h) = table.headers.iter().find(|h| !KNOWN.contains(&h.as_str())) {
            return Err(bad(
                1,
                format!("unknown column '{h}'; known columns: {}", KNOWN.join(", ")),
            ));
        }
        if table.col("student_id").is_none() {
            return Err(bad(
                1,
                format!(
                    "no student_id column (found: {}); the delimiter must be ';' or ','",
                    table.headers.join(", ")
                ),
            ));
        }
        let mut rows = Vec::new();
        // (student, etape, version, element, group) → first line.
        let mut seen: BTreeMap<RowKey, usize> = BTreeMap::new();
        for (line, cells) in &table.rows {
            let row = row(&table, cells).map_err(|m| bad(*line, m))?;
            let key = (
                row.student_id.clone(),
                row.etape.clone(),
                row.version,
                row.element.clone(),
                row.group.clone(),
            );
            if let Some(first) = seen.insert(key, *line) {
                let m = format!(
                    "student {} is listed twice (lines {first} and {line})",
                    row.student_id
                );
                return Err(bad(*line, m));
            }
            rows.push(row);
        }
        Ok(CsvExtract {
            path: path.to_path_buf(),
            rows,
        })
    }
}

/// (student, etape, version, element, group): a line listed twice is an error.
type RowKey = (
    String,
    Option<String>,
    Option<u32>,
    Option<String>,
    Option<String>,
);

/// One line of the extract, checked.
fn row(table: &crate::csvio::Table, cells: &[String]) -> Result<Row, String> {
    let get = |name: &str| {
        table
            .col(name)
            .and_then(|i| cells.get(i))
            .filter(|s| !s.is_empty())
            .cloned()
    };
    let Some(student_id) = get("student_id") else {
        return Err("empty student_id".into());
    };
    if !student_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "student_id '{student_id}' is not a student number (digits only)"
        ));
    }
    let version = match get("version") {
        None => None,
        Some(v) => Some(
            v.parse()
                .map_err(|_| format!("version '{v}' is not a number"))?,
        ),
    };
    Ok(Row {
        student_id,
        name: get("name").unwrap_or_default(),
        etape: get("etape"),
        version,
        element: get("element"),
        group: get("group"),
    })
}

/// One student per number, from the rows kept; groups from the `group` column.
fn collect<'a>(rows: impl Iterator<Item = &'a Row>, with_groups: bool) -> Vec<Student> {
    let mut out: BTreeMap<String, Student> = BTreeMap::new();
    for r in rows {
        let s = out.entry(r.student_id.clone()).or_insert_with(|| Student {
            // An extract has no COD_IND: the student number stands in for it.
            cod_ind: r.student_id.clone(),
            cod_etu: Some(r.student_id.clone()),
            name: r.name.clone(),
            groups: Vec::new(),
            sis: crate::model::Sis::Apogee,
        });
        if let (true, Some(g)) = (with_groups, &r.group) {
            let g = ApogeeGroup {
                code: g.clone(),
                label: g.clone(),
                kind: String::new(),
            };
            if !s.groups.contains(&g) {
                s.groups.push(g);
                s.groups.sort();
            }
        }
    }
    out.into_values().collect()
}

impl CsvExtract {
    /// Everybody in the file, with the `group` column as their groups: a `students:`
    /// cohort or `adhoc --students`.
    pub fn all_students(&self) -> Vec<Student> {
        collect(self.rows.iter(), true)
    }
}

impl StudentSource for CsvExtract {
    fn describe(&self) -> String {
        format!("Apogée extract {}", self.path.display())
    }

    fn students(
        &mut self,
        _year: &str,
        cohorts: &[&ApogeeCohort],
    ) -> Result<Vec<Vec<Student>>, SourceError> {
        Ok(cohorts
            .iter()
            .map(|cohort| {
                let rows = self.rows.iter().filter(|r| {
                    r.etape.as_ref().is_none_or(|e| *e == cohort.etape)
                        && r.version.is_none_or(|v| v == cohort.version)
                        && r.element
                            .as_ref()
                            .is_none_or(|e| Some(e) == cohort.element.as_ref())
                });
                collect(rows, cohort.groups)
            })
            .collect())
    }

    fn requests(&self) -> usize {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &[u8]) -> Result<CsvExtract, String> {
        CsvExtract::parse(Path::new("x.csv"), text).map_err(|e| e.to_string())
    }

    fn cohort(etape: &str, groups: bool) -> ApogeeCohort {
        ApogeeCohort {
            etape: etape.into(),
            version: 1,
            element: None,
            groups,
            group_type: None,
        }
    }

    #[test]
    fn reads_student_numbers_with_cohort_and_group_columns() {
        let mut x = parse(b"student_id;etape;version;group\n21000001;PSY1L1;1;TD1\n21000001;PSY1L1;1;TD2\n21000002;LEA1;1;\n").unwrap();
        let s = x
            .students("2026", &[&cohort("PSY1L1", true)])
            .unwrap()
            .remove(0);
        assert_eq!(s.len(), 1);
        assert_eq!(
            s[0].groups
                .iter()
                .map(|g| g.code.as_str())
                .collect::<Vec<_>>(),
            ["TD1", "TD2"]
        );
        assert_eq!(
            x.students("2026", &[&cohort("LEA1", false)]).unwrap()[0].len(),
            1
        );
    }

    #[test]
    fn bad_extracts_name_the_line() {
        assert_eq!(
            parse(b"student_id,name\n123,A\n123,A\n").unwrap_err(),
            "x.csv:3: student 123 is listed twice (lines 2 and 3)"
        );
        assert!(parse(b"numero;nom\n1;a\n")
            .unwrap_err()
            .contains("unknown column 'numero'"));
        assert!(parse(b"student_id|name\n1|a\n")
            .unwrap_err()
            .contains("unknown column 'student_id|name'"));
        assert!(parse(b"name\nA\n")
            .unwrap_err()
            .contains("no student_id column"));
        assert_eq!(
            parse(b"student_id\n1\n\xff\n").unwrap_err(),
            "x.csv:3: not valid UTF-8: save the file as \"CSV UTF-8\""
        );
        assert!(parse(b"student_id\nabc\n")
            .unwrap_err()
            .contains("not a student number"));
    }
}
