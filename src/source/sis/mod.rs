//! The student information systems: which students make up a cohort, from Apogée
//! or from Pégase (its DRE replica).
//!
//! The SQL lives in `queries/*.sql` (Apogée) and `queries/pegase/*.sql`, each the
//! same for every engine; a `SqlBackend` only runs a bound statement and hands its
//! rows over as text cells. `Apogee` and `Pegase` ask the questions of a whole run
//! at once and split the answers per cohort.

mod apogee;
pub mod csv_extract;
#[cfg(feature = "oracle")]
pub mod oracle;
pub mod pegase;
pub mod postgres;
pub mod query;
mod rows;
mod script;
pub mod sqlite;

pub use apogee::Apogee;
pub use query::{
    Bind, Index, Query, Statement, ALL_QUERIES, ELEMENT_STUDENTS, GROUPS_ELP, GROUPS_VET, INDEXES,
    LIST_CHUNK, OPEN_YEAR, PEGASE_ELEMENT_STUDENTS, PEGASE_GROUPS, PEGASE_PERIODS, PEGASE_QUERIES,
    PEGASE_STUDENTS, STUDENTS,
};

use std::collections::BTreeSet;

use crate::model::{ApogeeCohort, Student};
use crate::source::SourceError;

/// Group memberships of one group object (an étape version, an element, a formation
/// object), by the student's id in the system.
pub(crate) type Assigned = std::collections::BTreeMap<String, BTreeSet<crate::model::ApogeeGroup>>;

/// A cohort's students, in their id order, each with their groups when the cohort
/// asks for them (`want`), of one type when it says which: the one way Apogée's and
/// Pégase's rows become a cohort.
pub(crate) fn cohort_students(
    students: Option<&std::collections::BTreeMap<String, Student>>,
    groups: Option<&Assigned>,
    want: bool,
    group_type: Option<&str>,
) -> Vec<Student> {
    students
        .into_iter()
        .flat_map(|by_id| by_id.values())
        .map(|s| {
            let mut s = s.clone();
            if want {
                s.groups = groups
                    .and_then(|g| g.get(&s.cod_ind))
                    .into_iter()
                    .flatten()
                    .filter(|g| group_type.is_none_or(|t| t == g.kind))
                    .cloned()
                    .collect();
            }
            s
        })
        .collect()
}

/// One engine able to run the shared SQL.
pub trait SqlBackend {
    /// Names the database in messages (never with a password).
    fn describe(&self) -> String;
    /// Runs `stmt` and gives each row to `row`, as text cells (None for NULL), without
    /// keeping the rows.
    fn for_each_row(
        &mut self,
        stmt: &Statement,
        row: &mut dyn FnMut(&[Option<&str>]),
    ) -> Result<(), SourceError>;

    /// Runs `stmt` and returns every row (for `check` and the tests).
    fn fetch(&mut self, stmt: &Statement) -> Result<Vec<Vec<Option<String>>>, SourceError> {
        let mut out = Vec::new();
        self.for_each_row(stmt, &mut |r| {
            out.push(r.iter().map(|c| c.map(str::to_string)).collect());
        })?;
        Ok(out)
    }
}

/// Gives the students of Apogée cohorts.
pub trait StudentSource {
    fn describe(&self) -> String;
    /// Students of each of `cohorts` in academic year `year`, in the same order: one per
    /// person, sorted by COD_IND.
    fn students(
        &mut self,
        year: &str,
        cohorts: &[&ApogeeCohort],
    ) -> Result<Vec<Vec<Student>>, SourceError>;
    /// Statements sent so far.
    fn requests(&self) -> usize;
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

/// Opens the configured Pégase DRE.
pub fn open_pegase(
    settings: &crate::config::PegaseSettings,
) -> Result<pegase::Pegase, SourceError> {
    use crate::config::PegaseDb;
    let backend: Box<dyn SqlBackend> = match &settings.db {
        PegaseDb::Postgres(pg) => Box::new(postgres::Postgres::connect(pg)?),
        PegaseDb::Sqlite(p) => Box::new(sqlite::Sqlite::open_as(p, &sqlite::DRE)?),
    };
    Ok(pegase::Pegase::new(backend))
}
