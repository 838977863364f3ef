//! Apogée on SQLite: the demo and the tests run the production SQL on an embedded
//! database built from a `.sql` script (or an existing `.db` file).

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::script::Statements;
use super::{Bind, Index, SqlBackend, Statement, INDEXES};
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
            let file = std::fs::File::open(path).map_err(|e| SourceError::read(path, e))?;
            let conn = Connection::open_in_memory().map_err(|e| {
                SourceError::failed(&what, "cannot create the in-memory database", e)
            })?;
            // One statement at a time, streamed: execute_batch on a whole script copies
            // the rest of it for every statement (quadratic), and holding a dump of tens
            // of megabytes is not needed.
            for stmt in Statements::new(std::io::BufReader::with_capacity(1 << 16, file)) {
                let (line, stmt) = stmt.map_err(|e| SourceError::read(path, e))?;
                conn.execute_batch(&stmt).map_err(|e| {
                    SourceError::failed(&what, format!("the SQL script failed at line {line}"), e)
                })?;
            }
            // A dump has its primary keys but rarely its secondary indexes: without
            // them every query scans whole tables.
            for index in missing_indexes(&conn)
                .map_err(|e| SourceError::failed(&what, "cannot read the database's indexes", e))?
            {
                conn.execute_batch(&index.create_sql()).map_err(|e| {
                    SourceError::failed(&what, format!("cannot create index {}", index.name), e)
                })?;
            }
            conn.execute_batch("ANALYZE")
                .map_err(|e| SourceError::failed(&what, "ANALYZE failed", e))?;
            conn
        };
        Ok(Sqlite {
            path: path.to_path_buf(),
            conn,
        })
    }
}

impl Sqlite {
    /// The indexes the queries rely on that the database lacks (tables it does not
    /// have are left to the queries to report).
    pub fn missing_indexes(&self) -> Result<Vec<Index>, SourceError> {
        missing_indexes(&self.conn).map_err(|e| {
            SourceError::failed(self.describe(), "cannot read the database's indexes", e)
        })
    }
}

/// The indexes of `INDEXES` that no index of the database serves: one serves when its
/// leading columns are the wanted ones, in order (a primary key counts).
fn missing_indexes(conn: &Connection) -> rusqlite::Result<Vec<Index>> {
    let mut missing = Vec::new();
    for wanted in INDEXES {
        let exists: bool = conn.query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
            [wanted.table],
            |r| r.get(0),
        )?;
        if !exists {
            continue;
        }
        let mut served = false;
        let names: Vec<String> = conn
            .prepare("SELECT name FROM pragma_index_list(?1)")?
            .query_map([wanted.table], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for name in names {
            let columns: Vec<String> = conn
                .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")?
                .query_map([&name], |r| r.get::<_, Option<String>>(0))?
                .filter_map(|c| c.transpose())
                .collect::<Result<_, _>>()?;
            if columns.len() >= wanted.columns.len()
                && wanted
                    .columns
                    .iter()
                    .zip(&columns)
                    .all(|(w, c)| w.eq_ignore_ascii_case(c))
            {
                served = true;
                break;
            }
        }
        if !served {
            missing.push(wanted);
        }
    }
    Ok(missing)
}

impl SqlBackend for Sqlite {
    fn describe(&self) -> String {
        format!("Apogée (SQLite {})", self.path.display())
    }

    fn for_each_row(
        &mut self,
        stmt: &Statement,
        each: &mut dyn FnMut(&[Option<&str>]),
    ) -> Result<(), SourceError> {
        let what = self.describe();
        let fail = |e: rusqlite::Error| {
            SourceError::failed(&what, format!("query {} failed", stmt.name), e)
        };
        let mut prepared = self.conn.prepare_cached(&stmt.sql).map_err(fail)?;
        for (name, value) in &stmt.binds {
            let Some(idx) = prepared
                .parameter_index(&format!(":{name}"))
                .map_err(fail)?
            else {
                continue;
            };
            match value {
                Bind::Text(t) => prepared.raw_bind_parameter(idx, t.as_str()),
                Bind::Int(i) => prepared.raw_bind_parameter(idx, *i),
            }
            .map_err(fail)?;
        }
        let ncols = prepared.column_count();
        let mut rows = prepared.raw_query();
        while let Some(row) = rows.next().map_err(fail)? {
            let mut values: Vec<Option<Cow<str>>> = Vec::with_capacity(ncols);
            for i in 0..ncols {
                values.push(match row.get_ref(i).map_err(fail)? {
                    ValueRef::Null => None,
                    ValueRef::Integer(n) => Some(Cow::Owned(n.to_string())),
                    ValueRef::Real(f) => Some(Cow::Owned(f.to_string())),
                    // Text is borrowed; bytes that are not UTF-8 are replaced, visibly.
                    ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t)),
                });
            }
            let cells: Vec<Option<&str>> = values.iter().map(|c| c.as_deref()).collect();
            each(&cells);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_db_file_is_opened_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("apogee.db");
        let conn = Connection::open(&p).unwrap();
        conn.execute_batch("CREATE TABLE ANNEE_UNI (COD_ANU VARCHAR2(4), ETA_ANU_IAE VARCHAR2(1)); INSERT INTO ANNEE_UNI VALUES ('2026', 'O');").unwrap();
        drop(conn);
        let mut db = Sqlite::open(&p).unwrap();
        assert_eq!(
            db.fetch(&super::super::OPEN_YEAR.statement(&[], &[]))
                .unwrap(),
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
