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
        let bytes = std::fs::read(path).map_err(|e| SourceError::read(path, e))?;
        Self::parse(path, &bytes)
    }

    pub fn parse(path: &Path, bytes: &[u8]) -> Result<CsvExtract, SourceError> {
        let bad = |line: usize, message: String| SourceError::BadData {
            path: path.to_path_buf(),
            line,
            message,
        };
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        if let Err(e) = std::str::from_utf8(bytes) {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            return Err(bad(
                line,
                "not valid UTF-8: save the file as \"CSV UTF-8\"".into(),
            ));
        }
        let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
        let delimiter = if first.contains(&b';') { b';' } else { b',' };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .trim(csv::Trim::All)
            .from_reader(bytes);
        let headers: Vec<String> = reader
            .headers()
            .map_err(|e| bad(1, e.to_string()))?
            .iter()
            .map(|h| h.to_lowercase())
            .collect();
        for h in &headers {
            if !KNOWN.contains(&h.as_str()) {
                return Err(bad(
                    1,
                    format!("unknown column '{h}'; known columns: {}", KNOWN.join(", ")),
                ));
            }
        }
        let col = |name: &str| headers.iter().position(|h| h == name);
        let Some(id_col) = col("student_id") else {
            return Err(bad(
                1,
                format!(
                    "no student_id column (found: {}); the delimiter must be ';' or ','",
                    headers.join(", ")
                ),
            ));
        };
        let mut rows = Vec::new();
        // (student, etape, version, element, group) → first line.
        type RowKey = (
            String,
            Option<String>,
            Option<u32>,
            Option<String>,
            Option<String>,
        );
        let mut seen: BTreeMap<RowKey, usize> = BTreeMap::new();
        for rec in reader.records() {
            let rec = rec.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line() as usize);
                bad(line, format!("{e}"))
            })?;
            let line = rec.position().map_or(0, |p| p.line() as usize);
            let get = |c: Option<usize>| {
                c.and_then(|i| rec.get(i))
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            };
            let Some(student_id) = get(Some(id_col)) else {
                return Err(bad(line, "empty student_id".into()));
            };
            if !student_id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(
                    line,
                    format!("student_id '{student_id}' is not a student number (digits only)"),
                ));
            }
            let version = match get(col("version")) {
                None => None,
                Some(v) => Some(
                    v.parse()
                        .map_err(|_| bad(line, format!("version '{v}' is not a number")))?,
                ),
            };
            let row = Row {
                student_id,
                name: get(col("name")).unwrap_or_default(),
                etape: get(col("etape")),
                version,
                element: get(col("element")),
                group: get(col("group")),
            };
            let key = (
                row.student_id.clone(),
                row.etape.clone(),
                row.version,
                row.element.clone(),
                row.group.clone(),
            );
            if let Some(first) = seen.insert(key, line) {
                return Err(bad(
                    line,
                    format!(
                        "student {} is listed twice (lines {first} and {line})",
                        row.student_id
                    ),
                ));
            }
            rows.push(row);
        }
        Ok(CsvExtract {
            path: path.to_path_buf(),
            rows,
        })
    }
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
