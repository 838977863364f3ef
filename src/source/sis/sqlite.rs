//! Apogée (and Pégase's DRE tables) on SQLite: the demo and the tests run the
//! production SQL on an embedded database built from a `.sql` script (or an
//! existing `.db` file).

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use std::sync::{Arc, Mutex};

use rusqlite::config::DbConfig;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::limits::Limit;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::script::Statements;
use super::{Bind, Index, SqlBackend, Statement, INDEXES};
use crate::source::SourceError;

pub struct Sqlite {
    path: PathBuf,
    conn: Connection,
    dialect: &'static Dialect,
}

/// Whose tables a database holds: the name messages give it, the schemas its SQL
/// names (Pégase's DRE spreads its tables over `schema_ins`, `schema_odf` …; on
/// SQLite each is an attached in-memory database of that name, so that the same
/// SQL runs on both engines) and the indexes its queries rely on.
pub struct Dialect {
    pub name: &'static str,
    pub schemas: &'static [&'static str],
    pub indexes: &'static [Index],
}

/// Apogée's tables, in the main database.
pub const APOGEE: Dialect = Dialect {
    name: "Apogée",
    schemas: &[],
    indexes: &INDEXES,
};

/// The DRE schemas Pégase's queries read (`queries/pegase/`). A dump loaded into
/// memory brings its own indexes.
pub const DRE: Dialect = Dialect {
    name: "Pégase DRE",
    schemas: &["schema_idt", "schema_ins", "schema_odf", "schema_chc"],
    indexes: &[],
};

impl Sqlite {
    /// Opens Apogée: a `.db` file read-only, or any other file as an SQL script
    /// loaded into memory.
    pub fn open(path: &Path) -> Result<Sqlite, SourceError> {
        Sqlite::open_as(path, &APOGEE)
    }

    /// Opens a database of `dialect`'s tables, as `open` does.
    pub fn open_as(path: &Path, dialect: &'static Dialect) -> Result<Sqlite, SourceError> {
        let what = format!("{} (SQLite {})", dialect.name, path.display());
        let is_db = path.extension().is_some_and(|e| e == "db" || e == "sqlite");
        let conn = if is_db {
            open_file(path, dialect, &what)?
        } else {
            load_script(path, dialect, &what)?
        };
        Ok(Sqlite {
            path: path.to_path_buf(),
            conn,
            dialect,
        })
    }
}

/// A `.db` file, read-only (one schema: the DRE's tables come as a script).
fn open_file(path: &Path, dialect: &Dialect, what: &str) -> Result<Connection, SourceError> {
    if !path.is_file() {
        return Err(SourceError::read(
            path,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| SourceError::failed(what, "cannot open the database", e))?;
    if !dialect.schemas.is_empty() {
        return Err(SourceError::Failed {
            what: what.to_string(),
            action: "a database file holds one schema; give the DRE tables as an SQL script (.sql), loaded into memory".into(),
            cause: None,
        });
    }
    confine(&conn).map_err(|e| SourceError::failed(what, "cannot restrict SQLite", e))?;
    Ok(conn)
}

/// An SQL script loaded into memory, each of the dialect's schemas an attached
/// in-memory database, under SQLite's authorizer (`dump_may`); then the indexes
/// the queries need and `ANALYZE`.
fn load_script(
    path: &Path,
    dialect: &'static Dialect,
    what: &str,
) -> Result<Connection, SourceError> {
    let file = crate::source::open_input(path)?;
    let conn = Connection::open_in_memory()
        .map_err(|e| SourceError::failed(what, "cannot create the in-memory database", e))?;
    for schema in dialect.schemas {
        conn.execute_batch(&format!("ATTACH DATABASE ':memory:' AS {schema}"))
            .map_err(|e| SourceError::failed(what, format!("cannot make schema {schema}"), e))?;
    }
    confine(&conn).map_err(|e| SourceError::failed(what, "cannot restrict SQLite", e))?;
    // A dump is data, not a program: while it loads, SQLite's authorizer lets
    // through only what a dump holds (see `dump_may`).
    let refused = Arc::new(Mutex::new(None::<String>));
    let seen = Arc::clone(&refused);
    // DROP TABLE empties the table first: SQLite asks for that delete right
    // after the drop, and only that one is let through.
    let mut dropping: Option<String> = None;
    conn.authorizer(Some(move |ctx: AuthContext<'_>| {
        match dump_may(&ctx, &mut dropping, dialect.schemas) {
            Ok(()) => Authorization::Allow,
            Err(what) => {
                if let Ok(mut r) = seen.lock() {
                    r.get_or_insert(what);
                }
                Authorization::Deny
            }
        }
    }));
    // One statement at a time, streamed: execute_batch on a whole script copies
    // the rest of it for every statement (quadratic), and holding a dump of tens
    // of megabytes is not needed.
    for stmt in Statements::new(std::io::BufReader::with_capacity(1 << 16, file)) {
        let (line, stmt) = stmt.map_err(|e| SourceError::read(path, e))?;
        conn.execute_batch(&stmt).map_err(|e| {
            match refused.lock().ok().and_then(|mut r| r.take()) {
                Some(action) => SourceError::failed(
                    what,
                    format!("the SQL script is refused at line {line}: {action}; a dump may only create tables and indexes, insert rows and open or close transactions"),
                    e,
                ),
                None => SourceError::failed(what, format!("the SQL script failed at line {line}"), e),
            }
        })?;
    }
    conn.authorizer(None::<fn(AuthContext<'_>) -> Authorization>);
    // A dump has its primary keys but rarely its secondary indexes: without
    // them every query scans whole tables.
    for index in missing_indexes(&conn, dialect.indexes)
        .map_err(|e| SourceError::failed(what, "cannot read the database's indexes", e))?
    {
        conn.execute_batch(&index.create_sql()).map_err(|e| {
            SourceError::failed(what, format!("cannot create index {}", index.name), e)
        })?;
    }
    conn.execute_batch("ANALYZE")
        .map_err(|e| SourceError::failed(what, "ANALYZE failed", e))?;
    Ok(conn)
}

/// What no use of the database needs, off for good: attaching another database file
/// (the one way SQL can write outside the connection), triggers, views, and schema
/// objects that run SQL on read; defensive mode keeps the schema tables read-only.
fn confine(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 0)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_VIEW, false)?;
    Ok(())
}

/// What an SQL dump may ask of SQLite: create (or drop and re-create) tables and
/// indexes in the main database (a dropped table's rows go with it), insert rows (with the built-in functions dumps use
/// to spell values, such as `char()` or `replace()`), open and close transactions,
/// and `PRAGMA foreign_keys`, which `sqlite3 .dump` writes. Everything else (ATTACH,
/// VACUUM INTO, other PRAGMAs, temporary objects, triggers, views, virtual tables,
/// extensions, updates, deletes) is refused, named in the error.
fn dump_may(
    ctx: &AuthContext<'_>,
    dropping: &mut Option<String>,
    schemas: &[&str],
) -> Result<(), String> {
    let in_main = ctx
        .database_name
        .is_none_or(|d| d == "main" || schemas.contains(&d));
    let dropped = dropping.take();
    match ctx.action {
        AuthAction::DropTable { table_name } if in_main => {
            *dropping = Some(table_name.to_string());
            Ok(())
        }
        AuthAction::Delete { table_name } if in_main && dropped.as_deref() == Some(table_name) => {
            Ok(())
        }
        AuthAction::CreateTable { .. }
        | AuthAction::CreateIndex { .. }
        | AuthAction::DropTable { .. }
        | AuthAction::DropIndex { .. }
        | AuthAction::Insert { .. }
        | AuthAction::Reindex { .. }
        | AuthAction::Read { .. }
        | AuthAction::Select
        | AuthAction::Transaction { .. }
            if in_main =>
        {
            Ok(())
        }
        AuthAction::Transaction { .. } | AuthAction::Select => Ok(()),
        // SQLite's own bookkeeping of CREATE and DROP (defensive mode refuses the
        // same writes when a statement asks for them directly).
        AuthAction::Update { table_name, .. } | AuthAction::Delete { table_name }
            if in_main && (table_name == "sqlite_master" || table_name == "sqlite_schema") =>
        {
            Ok(())
        }
        AuthAction::Function { function_name } if !function_name.contains("load_extension") => {
            Ok(())
        }
        AuthAction::Pragma { pragma_name, .. }
            if pragma_name.eq_ignore_ascii_case("foreign_keys") =>
        {
            Ok(())
        }
        other => Err(format!("{other:?} is not allowed in a dump")),
    }
}

impl Sqlite {
    /// The indexes the queries rely on that the database lacks (tables it does not
    /// have are left to the queries to report).
    pub fn missing_indexes(&self) -> Result<Vec<Index>, SourceError> {
        missing_indexes(&self.conn, self.dialect.indexes).map_err(|e| {
            SourceError::failed(self.describe(), "cannot read the database's indexes", e)
        })
    }
}

/// The indexes of `INDEXES` that no index of the database serves: one serves when its
/// leading columns are the wanted ones, in order (a primary key counts).
fn missing_indexes(conn: &Connection, indexes: &[Index]) -> rusqlite::Result<Vec<Index>> {
    let mut missing = Vec::new();
    for &wanted in indexes {
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
        format!("{} (SQLite {})", self.dialect.name, self.path.display())
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
    fn a_dump_can_only_hold_data() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("x.db");
        let ok = "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nDROP TABLE IF EXISTS t;\nCREATE TABLE t (a TEXT);\nINSERT INTO t VALUES (replace('a\\nb','\\n',char(10)));\nCREATE INDEX i ON t (a);\nCOMMIT;\n";
        let p = dir.path().join("ok.sql");
        std::fs::write(&p, ok).unwrap();
        Sqlite::open(&p).unwrap();
        for (bad, named) in [
            (
                format!(
                    "ATTACH DATABASE '{}' AS x;\nCREATE TABLE x.t(a);",
                    outside.display()
                ),
                "Attach",
            ),
            (format!("VACUUM INTO '{}';", outside.display()), ""),
            ("PRAGMA journal_mode=WAL;".to_string(), "Pragma"),
            (
                "CREATE TABLE t(a);\nCREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END;"
                    .to_string(),
                "Trigger",
            ),
            (
                "CREATE TABLE t(a);\nCREATE VIEW v AS SELECT a FROM t;".to_string(),
                "View",
            ),
            ("CREATE TEMP TABLE t(a);".to_string(), "temp"),
            (
                "SELECT load_extension('/nope');".to_string(),
                "load_extension",
            ),
            ("CREATE TABLE t(a);\nDELETE FROM t;".to_string(), "Delete"),
            (
                "CREATE TABLE t(a); DROP TABLE ok;\nDELETE FROM t;".to_string(),
                "Delete",
            ),
        ] {
            let p = dir.path().join("bad.sql");
            std::fs::write(&p, format!("CREATE TABLE ok(a);\n{bad}\n")).unwrap();
            let e = crate::error_chain(&Sqlite::open(&p).err().unwrap());
            assert!(
                e.contains("at line 2") || e.contains("at line 3"),
                "{bad}: {e}"
            );
            assert!(e.contains(named), "{bad}: {e}");
            assert!(!outside.exists(), "{bad} wrote {}", outside.display());
        }
    }

    #[test]
    fn a_dump_may_drop_a_table_that_holds_rows() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.sql");
        std::fs::write(
            &p,
            "CREATE TABLE t (a TEXT);\nINSERT INTO t VALUES ('x');\nDROP TABLE t;\nCREATE TABLE t (a TEXT);\n",
        )
        .unwrap();
        let db = Sqlite::open(&p)
            .map_err(|e| crate::error_chain(&e))
            .unwrap();
        let n: i64 = db
            .conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
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
