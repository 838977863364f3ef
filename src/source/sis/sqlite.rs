//! Apogée on SQLite: the demo and the tests run the production SQL on an embedded
//! database built from a `.sql` script (or an existing `.db` file).

use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::{Bind, Query, SqlBackend};
use crate::source::SourceError;

pub struct Sqlite {
    path: PathBuf,
    conn: Connection,
}

impl Sqlite {
    /// Opens a `.db` file read-only, or loads any other file as an SQL script into memory.
    pub fn open(path: &Path) -> Result<Sqlite, SourceError> {
        let what = format!("Apogée (SQLite {})", path.display());
        let is_db = path.extension().is_some_and(|e| e == "db" || e == "sqlite");
        let conn = if is_db {
            if !path.is_file() {
                return Err(SourceError::read(
                    path,
                    std::io::Error::from(std::io::ErrorKind::NotFound),
                ));
            }
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(|e| SourceError::failed(&what, "cannot open the database", e))?
        } else {
            let script = std::fs::read_to_string(path).map_err(|e| SourceError::read(path, e))?;
            let conn = Connection::open_in_memory().map_err(|e| {
                SourceError::failed(&what, "cannot create the in-memory database", e)
            })?;
            // One statement at a time: execute_batch on a large script copies the rest
            // of the script for every statement, which is quadratic.
            for (line, stmt) in statements(&script) {
                conn.execute_batch(stmt).map_err(|e| {
                    SourceError::failed(&what, format!("the SQL script failed at line {line}"), e)
                })?;
            }
            conn
        };
        Ok(Sqlite {
            path: path.to_path_buf(),
            conn,
        })
    }
}

/// Splits an SQL script on the `;` that end statements (not those in quotes or
/// comments), with the line each statement starts on.
fn statements(script: &str) -> Vec<(usize, &str)> {
    let bytes = script.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut line, mut start_line) = (0, 1, 1);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => line += 1,
            b'\'' | b'"' => {
                let q = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    if bytes[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b';' => {
                let stmt = &script[start..=i];
                if !stmt.trim().trim_end_matches(';').trim().is_empty() {
                    out.push((start_line + leading_lines(stmt), stmt));
                }
                start = i + 1;
                start_line = line;
            }
            _ => {}
        }
        i += 1;
    }
    let rest = &script[start..];
    if !rest
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with("--"))
    {
        out.push((start_line, rest));
    }
    out
}

/// Lines of blank space and comments before a statement's first word.
fn leading_lines(stmt: &str) -> usize {
    let mut n = 0;
    for l in stmt.split_inclusive('\n') {
        let t = l.trim();
        if t.is_empty() || t.starts_with("--") {
            n += usize::from(l.ends_with('\n'));
        } else {
            break;
        }
    }
    n
}

impl SqlBackend for Sqlite {
    fn describe(&self) -> String {
        format!("Apogée (SQLite {})", self.path.display())
    }

    fn fetch(
        &mut self,
        query: &Query,
        binds: &[(&str, Bind)],
    ) -> Result<Vec<Vec<Option<String>>>, SourceError> {
        let what = self.describe();
        let fail = |e: rusqlite::Error| {
            SourceError::failed(&what, format!("query {} failed", query.name), e)
        };
        let mut stmt = self.conn.prepare_cached(query.sql).map_err(fail)?;
        for (name, value) in binds {
            let Some(idx) = stmt.parameter_index(&format!(":{name}")).map_err(fail)? else {
                continue;
            };
            match value {
                Bind::Text(t) => stmt.raw_bind_parameter(idx, t.as_str()),
                Bind::Int(i) => stmt.raw_bind_parameter(idx, *i),
            }
            .map_err(fail)?;
        }
        let ncols = stmt.column_count();
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(fail)? {
            let mut cells = Vec::with_capacity(ncols);
            for i in 0..ncols {
                cells.push(match row.get_ref(i).map_err(fail)? {
                    ValueRef::Null => None,
                    ValueRef::Integer(n) => Some(n.to_string()),
                    ValueRef::Real(f) => Some(f.to_string()),
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        Some(String::from_utf8_lossy(t).into_owned())
                    }
                });
            }
            out.push(cells);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_statement_ends_only() {
        let s = "CREATE TABLE t (a TEXT); -- a; comment\nINSERT INTO t VALUES ('x;y');\nINSERT INTO t VALUES ('it''s');\n";
        let parts: Vec<_> = statements(s)
            .into_iter()
            .map(|(l, t)| (l, t.trim()))
            .collect();
        assert_eq!(
            parts,
            [
                (1, "CREATE TABLE t (a TEXT);"),
                (2, "-- a; comment\nINSERT INTO t VALUES ('x;y');"),
                (3, "INSERT INTO t VALUES ('it''s');")
            ]
        );
    }

    #[test]
    fn a_db_file_is_opened_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("apogee.db");
        let conn = Connection::open(&p).unwrap();
        conn.execute_batch("CREATE TABLE ANNEE_UNI (COD_ANU VARCHAR2(4), ETA_ANU_IAE VARCHAR2(1)); INSERT INTO ANNEE_UNI VALUES ('2026', 'O');").unwrap();
        drop(conn);
        let mut db = Sqlite::open(&p).unwrap();
        assert_eq!(
            db.fetch(&super::super::OPEN_YEAR, &[]).unwrap(),
            vec![vec![Some("2026".to_string())]]
        );
        assert!(
            db.conn.execute("DELETE FROM ANNEE_UNI", []).is_err(),
            "read-only"
        );
        let missing = Sqlite::open(&dir.path().join("nope.db"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            missing.starts_with("cannot read") && missing.contains("nope.db"),
            "{missing}"
        );
    }

    #[test]
    fn script_error_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.sql");
        std::fs::write(
            &p,
            "CREATE TABLE t (a TEXT);\nINSERT INTO nope VALUES (1);\n",
        )
        .unwrap();
        let e = crate::error_chain(&Sqlite::open(&p).err().unwrap());
        assert!(
            e.contains("the SQL script failed at line 2") && e.contains("no such table: nope"),
            "{e}"
        );
    }
}
