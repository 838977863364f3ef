//! Apogée on Oracle, in production. ODPI-C loads the Instant Client at run time, so
//! building needs no Oracle software; a missing client is explained in plain words.

use oracle::sql_type::ToSql;
use oracle::{Connection, Statement};

use super::{Bind, Query, SqlBackend};
use crate::config::OracleSettings;
use crate::source::SourceError;

pub struct Oracle {
    connect: String,
    fetch_array_size: u32,
    conn: Connection,
}

/// Turns the codes operators meet most into a sentence that says what to do.
pub fn explain(e: &oracle::Error) -> String {
    let text = e.to_string();
    if text.contains("DPI-1047") || text.contains("DPI-1072") {
        return "the Oracle Instant Client (libclntsh.so) cannot be loaded: install Oracle Instant Client \
                (Basic or Basic Light, 19c or later) and set LD_LIBRARY_PATH to its directory \
                (or run ldconfig on it)"
            .to_string();
    }
    let code = e.db_error().map(|d| d.code()).unwrap_or_default();
    match code {
        1017 => "login refused: invalid username or password (ORA-01017)".into(),
        12541 => "no listener at that host and port (ORA-12541)".into(),
        12514 | 12505 => "the listener does not know that service (ORA-12514)".into(),
        12154 => "cannot resolve the connect identifier (ORA-12154): check the connect string or TNS_ADMIN".into(),
        12170 | 12543 => "cannot reach the database server (network timeout or refused)".into(),
        942 => "table or view does not exist, or the account lacks SELECT on it (ORA-00942)".into(),
        _ => text,
    }
}

impl Oracle {
    pub fn connect(s: &OracleSettings) -> Result<Oracle, SourceError> {
        let what = format!("Apogée (Oracle {})", s.connect);
        let password = s
            .password
            .read()
            .map_err(|e| SourceError::failed(&what, format!("cannot log in as {}", s.user), e))?;
        let conn = Connection::connect(&s.user, password.expose(), &s.connect).map_err(|e| {
            SourceError::failed(
                &what,
                format!("cannot log in as {}: {}", s.user, explain(&e)),
                e,
            )
        })?;
        Ok(Oracle {
            connect: s.connect.clone(),
            fetch_array_size: s.fetch_array_size,
            conn,
        })
    }
}

impl SqlBackend for Oracle {
    fn describe(&self) -> String {
        format!("Apogée (Oracle {})", self.connect)
    }

    fn fetch(
        &mut self,
        query: &Query,
        binds: &[(&str, Bind)],
    ) -> Result<Vec<Vec<Option<String>>>, SourceError> {
        let what = self.describe();
        let fail = |e: oracle::Error| {
            SourceError::failed(
                &what,
                format!("query {} failed: {}", query.name, explain(&e)),
                e,
            )
        };
        let mut stmt: Statement = self
            .conn
            .statement(query.sql)
            .fetch_array_size(self.fetch_array_size)
            .prefetch_rows(self.fetch_array_size)
            .build()
            .map_err(fail)?;
        let values: Vec<(String, Box<dyn ToSql>)> = binds
            .iter()
            .filter(|(n, _)| query.binds.contains(n))
            .map(|(n, v)| {
                let b: Box<dyn ToSql> = match v {
                    Bind::Text(t) => Box::new(t.clone()),
                    Bind::Int(i) => Box::new(*i),
                };
                (n.to_string(), b)
            })
            .collect();
        let params: Vec<(&str, &dyn ToSql)> = values
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_ref()))
            .collect();
        let rows = stmt.query_named(&params).map_err(fail)?;
        let mut out = Vec::new();
        for row in rows {
            let row = row.map_err(fail)?;
            let n = row.sql_values().len();
            let mut cells = Vec::with_capacity(n);
            for i in 0..n {
                cells.push(row.get::<usize, Option<String>>(i).map_err(fail)?);
            }
            out.push(cells);
        }
        Ok(out)
    }
}
