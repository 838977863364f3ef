//! Pégase's DRE on PostgreSQL: the shared SQL run as a read-only session, rows
//! streamed as text cells. TLS by rustls when the server offers it (`sslmode:
//! prefer`), the server's certificate checked against the system's CA store or the
//! configured `ca_file`.

use std::time::Duration;

use postgres::types::{ToSql, Type};
use postgres::{Client, Config};

use super::{Bind, SqlBackend, Statement};
use crate::config::PostgresSettings;
use crate::model::SslMode;
use crate::source::SourceError;

pub struct Postgres {
    what: String,
    client: Client,
}

impl Postgres {
    /// Connects as the configured user; every transaction of the session is
    /// read-only, whatever the user's grants.
    pub fn connect(s: &PostgresSettings) -> Result<Postgres, SourceError> {
        let what = format!("Pégase DRE (PostgreSQL {} as {})", s.describe(), s.user);
        let password = s.password.read().map_err(|e| {
            SourceError::failed(&what, format!("cannot read the password of {}", s.user), e)
        })?;
        let mut config = Config::new();
        config
            .host(&s.host)
            .port(s.port)
            .dbname(&s.dbname)
            .user(&s.user)
            .password(password.expose())
            .application_name("enrolgen")
            .connect_timeout(Duration::from_secs(s.timeout_s))
            .options("-c default_transaction_read_only=on")
            .ssl_mode(match s.sslmode {
                SslMode::Disable => postgres::config::SslMode::Disable,
                SslMode::Prefer => postgres::config::SslMode::Prefer,
                SslMode::Require => postgres::config::SslMode::Require,
            });
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(&what, s)?);
        let client = config.connect(tls).map_err(|e| match e.as_db_error() {
            // The server's own words say it all.
            Some(_) => SourceError::Failed {
                what: what.clone(),
                action: connect_failure(&e, s),
                cause: None,
            },
            None => SourceError::failed(&what, connect_failure(&e, s), e),
        })?;
        Ok(Postgres { what, client })
    }
}

/// Why a connection failed, in the words an administrator acts on.
fn connect_failure(e: &postgres::Error, s: &PostgresSettings) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("the server refused the connection: {}", db.message());
    }
    let chain = crate::error_chain(e);
    if untrusted_certificate(e) {
        return format!(
            "the server's TLS certificate is not trusted ({chain}): give pegase.postgres.ca_file, the CA that signed it"
        );
    }
    format!("cannot connect to {} ({e})", s.describe())
}

/// Whether the TLS handshake refused the server's certificate: rustls's own error,
/// found in the cause chain (tokio-rustls hands it over inside an I/O error).
fn untrusted_certificate(e: &postgres::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        let tls = c.downcast_ref::<rustls::Error>().or_else(|| {
            c.downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref)
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(t) = tls {
            return matches!(t, rustls::Error::InvalidCertificate(_));
        }
        cause = c.source();
    }
    false
}

/// The TLS set-up: the configured CA file, else the system's CA store.
fn tls_config(what: &str, s: &PostgresSettings) -> Result<rustls::ClientConfig, SourceError> {
    let bad = |m: String| SourceError::Failed {
        what: what.to_string(),
        action: m,
        cause: None,
    };
    let roots = match &s.ca_file {
        Some(ca) => crate::source::tls::roots_from(ca).map_err(bad)?,
        None => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            roots
        }
    };
    crate::source::tls::client(roots).map_err(bad)
}

/// `:name` binds as PostgreSQL's `$n`, numbered in order of first use, and the
/// values in that order. Comments and quoted text are left as they are.
fn positional<'a>(sql: &str, binds: &'a [(String, Bind)]) -> (String, Vec<&'a Bind>) {
    let mut out = String::with_capacity(sql.len());
    let mut order: Vec<&str> = Vec::new();
    let mut values = Vec::new();
    let bytes = sql.as_bytes();
    let mut i = 0;
    while i < sql.len() {
        let rest = &sql[i..];
        if rest.starts_with("--") {
            let end = rest.find('\n').map_or(sql.len(), |n| i + n);
            out.push_str(&sql[i..end]);
            i = end;
        } else if let Some(quoted) = rest.strip_prefix('\'') {
            let end = quoted.find('\'').map_or(sql.len(), |n| i + n + 2);
            out.push_str(&sql[i..end]);
            i = end;
        } else if rest.starts_with("::") {
            out.push_str("::");
            i += 2;
        } else if rest.starts_with(':')
            && bytes
                .get(i + 1)
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        {
            let len = rest[1..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len() - 1);
            let name = &rest[1..=len];
            let n = match order.iter().position(|o| *o == name) {
                Some(p) => p + 1,
                None => {
                    order.push(name);
                    if let Some((_, v)) = binds.iter().find(|(b, _)| b == name) {
                        values.push(v);
                    }
                    order.len()
                }
            };
            out.push_str(&format!("${n}"));
            i += len + 1;
        } else {
            let c = rest.chars().next().map_or(1, char::len_utf8);
            out.push_str(&sql[i..i + c]);
            i += c;
        }
    }
    (out, values)
}

/// A cell as text: the shared SQL reads text, numbers and truth values (ids are
/// cast to text in the query).
fn text(row: &postgres::Row, i: usize) -> Result<Option<String>, String> {
    let ty = row.columns()[i].type_();
    let got = |e: postgres::Error| format!("column {i} ({ty}): {e}");
    Ok(match *ty {
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)
            .map_err(got)?
            .map(|v| v.to_string()),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)
            .map_err(got)?
            .map(|v| v.to_string()),
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)
            .map_err(got)?
            .map(|v| v.to_string()),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)
            .map_err(got)?
            .map(|v| v.to_string()),
        _ => row.try_get::<_, Option<String>>(i).map_err(|e| {
            format!("column {i} is of type {ty}, which the query must cast AS TEXT ({e})")
        })?,
    })
}

impl SqlBackend for Postgres {
    fn describe(&self) -> String {
        self.what.clone()
    }

    fn for_each_row(
        &mut self,
        stmt: &Statement,
        each: &mut dyn FnMut(&[Option<&str>]),
    ) -> Result<(), SourceError> {
        use postgres::fallible_iterator::FallibleIterator;
        let what = self.what.clone();
        let fail = |e: postgres::Error| match e.as_db_error() {
            Some(db) => SourceError::Failed {
                what: what.clone(),
                action: format!("query {} failed: {}", stmt.name, db.message()),
                cause: None,
            },
            None => SourceError::failed(&what, format!("query {} failed", stmt.name), e),
        };
        let (sql, values) = positional(&stmt.sql, &stmt.binds);
        let params: Vec<Box<dyn ToSql + Sync>> = values
            .into_iter()
            .map(|v| -> Box<dyn ToSql + Sync> {
                match v {
                    Bind::Text(t) => Box::new(t.clone()),
                    Bind::Int(n) => Box::new(*n),
                }
            })
            .collect();
        let mut rows = self
            .client
            .query_raw(sql.as_str(), params.iter().map(|p| &**p as &dyn ToSql))
            .map_err(fail)?;
        let mut cells: Vec<Option<String>> = Vec::new();
        while let Some(row) = rows.next().map_err(fail)? {
            cells.clear();
            for i in 0..row.len() {
                let value = text(&row, i).map_err(|m| SourceError::Failed {
                    what: what.clone(),
                    action: format!("query {}: {m}", stmt.name),
                    cause: None,
                })?;
                cells.push(value);
            }
            let refs: Vec<Option<&str>> = cells.iter().map(|c| c.as_deref()).collect();
            each(&refs);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_binds_become_numbered_in_order_of_use() {
        let binds = vec![
            ("periode".to_string(), Bind::Text("PER-2026".into())),
            ("f_1".to_string(), Bind::Text("A".into())),
            ("f_2".to_string(), Bind::Text("B".into())),
        ];
        let (sql, values) = positional(
            "-- binds: :periode\nSELECT ':x', a::text FROM t WHERE p = :periode AND f IN (:f_1, :f_2) AND q = :periode",
            &binds,
        );
        assert_eq!(
            sql,
            "-- binds: :periode\nSELECT ':x', a::text FROM t WHERE p = $1 AND f IN ($2, $3) AND q = $1"
        );
        assert_eq!(
            values,
            vec![
                &Bind::Text("PER-2026".into()),
                &Bind::Text("A".into()),
                &Bind::Text("B".into())
            ]
        );
    }
}
