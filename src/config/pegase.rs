//! `pegase:` and Pégase cohorts: the DRE database (PostgreSQL in production, SQLite
//! for the demo), the period of the run's year, the registration statuses that
//! count and the value directories carry as the student number.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::file::{RawPegase, RawPegaseCohort, RawPostgres};
use super::years::CourseName;
use super::{Checker, ConfigError, SecretSource};
use crate::model::{PegaseCohort, PegaseStudentId, SslMode};

/// The registration status that makes a student part of a cohort unless the
/// configuration says otherwise: a registration Pégase has validated. The others
/// the published DRE material names (ANNULEE, AUTORISEE, DEBUTEE; VALIDE and
/// EN_COURS before version 28) are left out.
pub const DEFAULT_STATUSES: [&str; 1] = ["VALIDEE"];

/// The period code of an academic year, as the published DRE material shows them
/// (`PER-2023` for 2023-2024).
pub const DEFAULT_PERIOD: &str = "PER-{year}";

/// Seconds to connect to the DRE server.
pub const DEFAULT_POSTGRES_TIMEOUT_S: u64 = 10;

/// Pégase as the configuration sets it.
#[derive(Debug, Clone, PartialEq)]
pub struct PegaseSettings {
    pub db: PegaseDb,
    /// The period code of an academic year (`{year}`, `PER-{year}` …).
    pub period: CourseName,
    /// `statut_inscription` values that count.
    pub statuses: BTreeSet<String>,
    pub student_id: PegaseStudentId,
}

impl PegaseSettings {
    /// Pégase's period code of academic year `year` (COD_ANU style, `2026`).
    pub fn period_of(&self, year: &str) -> String {
        self.period.of_year(year)
    }
}

/// Where the DRE tables are.
#[derive(Debug, Clone, PartialEq)]
pub enum PegaseDb {
    Postgres(PostgresSettings),
    /// The same tables in SQLite (the demo), loaded from a script.
    Sqlite(PathBuf),
}

/// A PostgreSQL server, reached as a read-only user.
#[derive(Debug, Clone, PartialEq)]
pub struct PostgresSettings {
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub user: String,
    pub password: SecretSource,
    pub sslmode: SslMode,
    pub ca_file: Option<PathBuf>,
    pub timeout_s: u64,
}

impl PostgresSettings {
    /// How messages name the server: host, port and database, never the password.
    pub fn describe(&self) -> String {
        format!("{}:{}/{}", self.host, self.port, self.dbname)
    }
}

impl Checker<'_> {
    /// `pegase:`, with its shrink limit.
    pub(super) fn pegase(
        &self,
        raw: Option<RawPegase>,
    ) -> Result<(Option<PegaseSettings>, Option<f64>), ConfigError> {
        let Some(p) = raw else {
            return Ok((None, None));
        };
        let db = match (p.postgres, p.sqlite) {
            (Some(pg), None) => PegaseDb::Postgres(self.postgres(pg)?),
            (None, Some(path)) => PegaseDb::Sqlite(self.rel(&path)),
            _ => return Err(self.err("pegase", "give exactly one of postgres: or sqlite:")),
        };
        let written = p.period.unwrap_or_else(|| DEFAULT_PERIOD.to_string());
        let period = CourseName::parse(&written).map_err(|m| self.err("pegase.period", m))?;
        if period.is_literal() {
            return Err(self.err(
                "pegase.period",
                format!("'{written}' names no year: use {{year}} or {{year_label}} (PER-{{year}} …), so that each year reads its own period"),
            ));
        }
        let statuses = match p.statuses {
            None => DEFAULT_STATUSES.iter().map(|s| (*s).to_string()).collect(),
            Some(v) if v.is_empty() => {
                return Err(self.err(
                    "pegase.statuses",
                    "list at least one statut_inscription value (default [VALIDEE])",
                ))
            }
            Some(v) => {
                let mut set = BTreeSet::new();
                for (i, s) in v.into_iter().enumerate() {
                    let s = s.trim().to_string();
                    if s.is_empty() {
                        return Err(self.err(&format!("pegase.statuses[{i}]"), "is empty"));
                    }
                    set.insert(s);
                }
                set
            }
        };
        let shrink = self.ratio("pegase.max_shrink", p.max_shrink)?;
        let settings = PegaseSettings {
            db,
            period,
            statuses,
            student_id: p.student_id.unwrap_or_default(),
        };
        Ok((Some(settings), shrink))
    }

    fn postgres(&self, pg: RawPostgres) -> Result<PostgresSettings, ConfigError> {
        let key = "pegase.postgres";
        for (k, v) in [
            ("host", &pg.host),
            ("dbname", &pg.dbname),
            ("user", &pg.user),
        ] {
            if v.trim().is_empty() {
                return Err(self.err(&format!("{key}.{k}"), "is empty"));
            }
        }
        let password = self
            .secret(
                key,
                "password",
                pg.password_env,
                pg.password_file,
                pg.password_credential,
            )?
            .ok_or_else(|| {
                self.err(
                    key,
                    "give password_env, password_file or password_credential",
                )
            })?;
        let sslmode = pg.sslmode.unwrap_or_default();
        if sslmode == SslMode::Disable && pg.ca_file.is_some() {
            return Err(self.err(
                &format!("{key}.ca_file"),
                "goes with TLS: sslmode disable never uses it",
            ));
        }
        Ok(PostgresSettings {
            host: pg.host.trim().to_string(),
            port: pg.port.unwrap_or(5432),
            dbname: pg.dbname.trim().to_string(),
            user: pg.user.trim().to_string(),
            password,
            sslmode,
            ca_file: pg.ca_file.map(|f| self.rel(&f)),
            timeout_s: pg.timeout_s.unwrap_or(DEFAULT_POSTGRES_TIMEOUT_S).max(1),
        })
    }

    /// A cohort's `pegase:` key.
    pub(super) fn pegase_cohort(
        &self,
        key: &str,
        p: RawPegaseCohort,
        has_pegase: bool,
    ) -> Result<PegaseCohort, ConfigError> {
        if !has_pegase {
            return Err(self.err(
                &format!("{key}.pegase"),
                "a pegase cohort needs a pegase: source at the top of the file",
            ));
        }
        if p.formation.trim().is_empty() {
            return Err(self.err(&format!("{key}.pegase.formation"), "is empty"));
        }
        if p.element.as_deref().is_some_and(|e| e.trim().is_empty()) {
            return Err(self.err(&format!("{key}.pegase.element"), "is empty"));
        }
        if p.group_type.is_some() && !p.groups {
            return Err(self.err(&format!("{key}.pegase.group_type"), "needs groups: true"));
        }
        Ok(PegaseCohort {
            formation: p.formation.trim().to_string(),
            element: p.element.map(|e| e.trim().to_string()),
            groups: p.groups,
            group_type: p.group_type,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    const CONFIG: &str = "version: 1\ndirectories:\n  u: { ldif: u.ldif }\nplatforms:\n  p: { accounts: [u] }\ncohorts:\n  c: { pegase: { formation: F-1 } }\nenrol:\n  - { cohort: c, platform: p, course: C1, role: student }\n";

    fn settings(pegase: &str) -> super::PegaseSettings {
        let text = format!("{pegase}{CONFIG}");
        crate::config::parse(&text, Path::new("enrolgen.yaml"))
            .unwrap()
            .pegase
            .unwrap()
    }

    /// `year: auto` gives COD_ANU's year; `period` turns it into Pégase's code.
    #[test]
    fn the_period_of_a_year_is_pegases_code() {
        let default = settings("pegase: { sqlite: dre.sql }\n");
        assert_eq!(default.period_of("2026"), "PER-2026");
        assert_eq!(default.statuses, ["VALIDEE".to_string()].into());
        let label = settings("pegase: { sqlite: dre.sql, period: \"{year_label}\" }\n");
        assert_eq!(label.period_of("2026"), "2026-2027");
        let pg = settings(
            "pegase:\n  postgres: { host: dre, dbname: dre, user: ro, password_env: X }\n",
        );
        let super::PegaseDb::Postgres(p) = &pg.db else {
            panic!("{:?}", pg.db)
        };
        assert_eq!(
            (p.port, p.sslmode, p.timeout_s, p.describe()),
            (
                5432,
                crate::model::SslMode::Prefer,
                10,
                "dre:5432/dre".to_string()
            )
        );
    }
}
