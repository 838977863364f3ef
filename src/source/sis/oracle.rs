//! Apogée on Oracle, in production. ODPI-C loads the Instant Client at run time, so
//! building needs no Oracle software; a missing client is explained in plain words.

use oracle::sql_type::ToSql;
use oracle::{Connection, Statement as OracleStatement};

use super::{Bind, SqlBackend, Statement};
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

    fn for_each_row(
        &mut self,
        stmt: &Statement,
        each: &mut dyn FnMut(&[Option<&str>]),
    ) -> Result<(), SourceError> {
        let what = self.describe();
        let fail = |e: oracle::Error| {
            SourceError::failed(
                &what,
                format!("query {} failed: {}", stmt.name, explain(&e)),
                e,
            )
        };
        let mut prepared: OracleStatement = self
            .conn
            .statement(&stmt.sql)
            .fetch_array_size(self.fetch_array_size)
            .prefetch_rows(self.fetch_array_size)
            .build()
            .map_err(fail)?;
        let values: Vec<(&str, Box<dyn ToSql>)> = stmt
            .binds
            .iter()
            .map(|(n, v)| {
                let b: Box<dyn ToSql> = match v {
                    Bind::Text(t) => Box::new(t.clone()),
                    Bind::Int(i) => Box::new(*i),
                };
                (n.as_str(), b)
            })
            .collect();
        let params: Vec<(&str, &dyn ToSql)> =
            values.iter().map(|(n, v)| (*n, v.as_ref())).collect();
        let rows = prepared.query_named(&params).map_err(fail)?;
        for row in rows {
            let row = row.map_err(fail)?;
            let n = row.sql_values().len();
            let mut cells: Vec<Option<String>> = Vec::with_capacity(n);
            for i in 0..n {
                cells.push(row.get::<usize, Option<String>>(i).map_err(fail)?);
            }
            let refs: Vec<Option<&str>> = cells.iter().map(|c| c.as_deref()).collect();
            each(&refs);
        }
        Ok(())
    }
}
