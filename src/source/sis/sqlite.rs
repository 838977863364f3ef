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
            conn.execute_batch(&script)
                .map_err(|e| SourceError::failed(&what, "the SQL script failed", e))?;
            conn
        };
        Ok(Sqlite {
            path: path.to_path_buf(),
            conn,
        })
    }
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
