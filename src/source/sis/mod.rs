//! Apogée, the student information system: which students make up a cohort.
//!
//! The SQL lives in `queries/*.sql` and is the same for every engine; a `SqlBackend`
//! only runs a named query with named binds and returns text cells. `Apogee` knows
//! which query answers which cohort and turns rows into `Student`s.

pub mod csv_extract;
#[cfg(feature = "oracle")]
pub mod oracle;
pub mod sqlite;

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{ApogeeCohort, ApogeeGroup, Student};
use crate::source::SourceError;

/// A query shipped with the binary, with the binds it uses.
#[derive(Debug, Clone, Copy)]
pub struct Query {
    pub name: &'static str,
    pub sql: &'static str,
    pub binds: &'static [&'static str],
}

pub const STUDENTS: Query = Query {
    name: "students.sql",
    sql: include_str!("../../../queries/students.sql"),
    binds: &["annee", "etape", "version"],
};
pub const ELEMENT_STUDENTS: Query = Query {
    name: "element_students.sql",
    sql: include_str!("../../../queries/element_students.sql"),
    binds: &["annee", "etape", "version", "element"],
};
pub const GROUPS_VET: Query = Query {
    name: "groups_vet.sql",
    sql: include_str!("../../../queries/groups_vet.sql"),
    binds: &["annee", "etape", "version"],
};
pub const GROUPS_ELP: Query = Query {
    name: "groups_elp.sql",
    sql: include_str!("../../../queries/groups_elp.sql"),
    binds: &["annee", "element"],
};
pub const OPEN_YEAR: Query = Query {
    name: "open_year.sql",
    sql: include_str!("../../../queries/open_year.sql"),
    binds: &[],
};

/// Every query, for `check` and the portability tests.
pub const ALL_QUERIES: [Query; 5] = [
    STUDENTS,
    ELEMENT_STUDENTS,
    GROUPS_VET,
    GROUPS_ELP,
    OPEN_YEAR,
];

/// A bind value. COD_ANU is a VARCHAR2(4): always bound as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    Text(String),
    Int(i64),
}

/// One engine able to run the shared SQL.
pub trait SqlBackend {
    /// Names the database in messages (never with a password).
    fn describe(&self) -> String;
    /// Runs `query` with `binds` (name → value) and returns every row as text cells.
    fn fetch(
        &mut self,
        query: &Query,
        binds: &[(&str, Bind)],
    ) -> Result<Vec<Vec<Option<String>>>, SourceError>;
}

/// Gives the students of Apogée cohorts.
pub trait StudentSource {
    fn describe(&self) -> String;
    /// Students of `cohort` in academic year `year`, one per person, sorted by COD_IND.
    fn students(&mut self, year: &str, cohort: &ApogeeCohort) -> Result<Vec<Student>, SourceError>;
}

/// Apogée read through the shared SQL.
pub struct Apogee<B> {
    backend: B,
    payment: BTreeSet<String>,
}

impl<B: SqlBackend> Apogee<B> {
    pub fn new(backend: B, payment: BTreeSet<String>) -> Apogee<B> {
        Apogee { backend, payment }
    }
}

fn cell(row: &[Option<String>], i: usize) -> Option<&str> {
    row.get(i)
        .and_then(|c| c.as_deref())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

impl<B: SqlBackend> StudentSource for Apogee<B> {
    fn describe(&self) -> String {
        self.backend.describe()
    }

    fn students(&mut self, year: &str, cohort: &ApogeeCohort) -> Result<Vec<Student>, SourceError> {
        let mut binds = vec![
            ("annee", Bind::Text(year.to_string())),
            ("etape", Bind::Text(cohort.etape.clone())),
            ("version", Bind::Int(i64::from(cohort.version))),
        ];
        let query = match &cohort.element {
            Some(e) => {
                binds.push(("element", Bind::Text(e.clone())));
                ELEMENT_STUDENTS
            }
            None => STUDENTS,
        };
        let rows = self.backend.fetch(&query, &binds)?;
        // COD_IND → student; several occurrences (NUM_OCC_IAE) collapse into one,
        // kept if any occurrence has an accepted payment state.
        let mut by_ind: BTreeMap<String, Student> = BTreeMap::new();
        for row in &rows {
            let Some(cod_ind) = cell(row, 0) else {
                continue;
            };
            let paid = cell(row, 4).is_some_and(|p| self.payment.contains(p));
            if !paid {
                continue;
            }
            let name = [cell(row, 2), cell(row, 3)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            by_ind
                .entry(cod_ind.to_string())
                .or_insert_with(|| Student {
                    cod_ind: cod_ind.to_string(),
                    cod_etu: cell(row, 1).map(str::to_string),
                    name,
                    groups: Vec::new(),
                });
        }
        if cohort.groups && !by_ind.is_empty() {
            let (gq, gbinds) = match &cohort.element {
                Some(e) => (
                    GROUPS_ELP,
                    vec![
                        ("annee", Bind::Text(year.to_string())),
                        ("element", Bind::Text(e.clone())),
                    ],
                ),
                None => (GROUPS_VET, binds[..3].to_vec()),
            };
            let mut groups: BTreeMap<String, BTreeSet<ApogeeGroup>> = BTreeMap::new();
            for row in self.backend.fetch(&gq, &gbinds)? {
                let (Some(ind), Some(code)) = (cell(&row, 0), cell(&row, 1)) else {
                    continue;
                };
                let g = ApogeeGroup {
                    code: code.to_string(),
                    label: cell(&row, 2).unwrap_or(code).to_string(),
                    kind: cell(&row, 3).unwrap_or_default().to_string(),
                };
                if cohort.group_type.as_ref().is_some_and(|t| *t != g.kind) {
                    continue;
                }
                groups.entry(ind.to_string()).or_default().insert(g);
            }
            for (ind, gs) in groups {
                if let Some(s) = by_ind.get_mut(&ind) {
                    s.groups = gs.into_iter().collect();
                }
            }
        }
        Ok(by_ind.into_values().collect())
    }
}

/// Opens the configured Apogée source.
pub fn open(
    settings: &crate::config::SisSettings,
    payment: &BTreeSet<String>,
) -> Result<Box<dyn StudentSource>, SourceError> {
    use crate::config::SisSettings;
    Ok(match settings {
        SisSettings::Sqlite(p) => Box::new(Apogee::new(sqlite::Sqlite::open(p)?, payment.clone())),
        SisSettings::Csv(p) => Box::new(csv_extract::CsvExtract::open(p)?),
        #[cfg(feature = "oracle")]
        SisSettings::Oracle(o) => Box::new(Apogee::new(oracle::Oracle::connect(o)?, payment.clone())),
        #[cfg(not(feature = "oracle"))]
        SisSettings::Oracle(o) => {
            return Err(SourceError::Failed {
                what: format!("Apogée (Oracle {})", o.connect),
                action: "this enrolgen was built without the 'oracle' feature; rebuild with default features".into(),
                cause: None,
            })
        }
    })
}
