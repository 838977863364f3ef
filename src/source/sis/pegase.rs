//! Pégase read through its DRE replica, set-based as Apogée is: a run asks one
//! question per query kind (per chunk of `LIST_CHUNK` codes), whatever its number
//! of cohorts, and splits the rows back into cohorts here. The rows become the same
//! `Student`s Apogée's do: everything after the cohorts is unchanged.

use std::collections::{BTreeMap, BTreeSet};

use super::rows::{cell, full_name, group, texts};
use super::{
    Assigned, Bind, SqlBackend, Statement, LIST_CHUNK, PEGASE_ELEMENT_STUDENTS, PEGASE_GROUPS,
    PEGASE_STUDENTS,
};
use crate::model::{PegaseCohort, PegaseStudentId, Sis, Student};
use crate::source::SourceError;

/// What a Pégase run reads with: the period of its year, the statuses that count
/// and the value directories carry as the student number.
#[derive(Debug, Clone)]
pub struct Reading {
    pub period: String,
    pub statuses: BTreeSet<String>,
    pub student_id: PegaseStudentId,
}

pub struct Pegase {
    backend: Box<dyn SqlBackend>,
    requests: usize,
}

/// Learners of one cohort key, by their Pégase id.
type ById = BTreeMap<String, Student>;

impl Pegase {
    pub fn new(backend: Box<dyn SqlBackend>) -> Pegase {
        Pegase {
            backend,
            requests: 0,
        }
    }

    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    /// Statements sent so far.
    pub fn requests(&self) -> usize {
        self.requests
    }

    /// Students of each of `cohorts`, in the same order: one per learner, sorted by
    /// their Pégase id.
    pub fn students(
        &mut self,
        how: &Reading,
        cohorts: &[&PegaseCohort],
    ) -> Result<Vec<Vec<Student>>, SourceError> {
        let periode = [("periode", Bind::Text(how.period.clone()))];
        let statuts = texts(how.statuses.iter().map(String::as_str));
        let formations = self.formation_students(&periode, &statuts, how, cohorts)?;
        let elements = self.element_students(&periode, &statuts, how, cohorts)?;
        let groups = self.groups(&periode, cohorts, &formations, &elements)?;
        Ok(into_cohorts(cohorts, &formations, &elements, &groups))
    }

    fn each(
        &mut self,
        stmt: &Statement,
        row: &mut dyn FnMut(&[Option<&str>]),
    ) -> Result<(), SourceError> {
        self.requests += 1;
        self.backend.for_each_row(stmt, row)
    }

    /// Learners of formation objects: formation → learners.
    fn formation_students(
        &mut self,
        periode: &[(&str, Bind); 1],
        statuts: &[Bind],
        how: &Reading,
        cohorts: &[&PegaseCohort],
    ) -> Result<BTreeMap<String, ById>, SourceError> {
        let mut out: BTreeMap<String, ById> = cohorts
            .iter()
            .filter(|c| c.element.is_none())
            .map(|c| (c.formation.clone(), ById::new()))
            .collect();
        let codes = texts(out.keys().map(String::as_str));
        for chunk in codes.chunks(LIST_CHUNK) {
            let stmt =
                PEGASE_STUDENTS.statement(periode, &[("formations", chunk), ("statuts", statuts)]);
            self.each(&stmt, &mut |row| {
                let Some(by_id) = cell(row, 0).and_then(|f| out.get_mut(f)) else {
                    return;
                };
                if let Some(s) = learner(row, 1, how.student_id) {
                    by_id.entry(s.cod_ind.clone()).or_insert(s);
                }
            })?;
        }
        Ok(out)
    }

    /// Learners of elements: (formation, element) → learners.
    fn element_students(
        &mut self,
        periode: &[(&str, Bind); 1],
        statuts: &[Bind],
        how: &Reading,
        cohorts: &[&PegaseCohort],
    ) -> Result<BTreeMap<(String, String), ById>, SourceError> {
        let mut out: BTreeMap<(String, String), ById> = cohorts
            .iter()
            .filter_map(|c| Some(((c.formation.clone(), c.element.clone()?), ById::new())))
            .collect();
        let codes = texts(out.keys().map(|(_, e)| e.as_str()));
        for chunk in codes.chunks(LIST_CHUNK) {
            let stmt = PEGASE_ELEMENT_STUDENTS
                .statement(periode, &[("elements", chunk), ("statuts", statuts)]);
            self.each(&stmt, &mut |row| {
                let (Some(f), Some(e)) = (cell(row, 0), cell(row, 1)) else {
                    return;
                };
                let Some(by_id) = out.get_mut(&(f.to_string(), e.to_string())) else {
                    return;
                };
                if let Some(s) = learner(row, 2, how.student_id) {
                    by_id.entry(s.cod_ind.clone()).or_insert(s);
                }
            })?;
        }
        Ok(out)
    }

    /// Groups of the formations and elements of cohorts that want them and have
    /// students: object code → memberships.
    fn groups(
        &mut self,
        periode: &[(&str, Bind); 1],
        cohorts: &[&PegaseCohort],
        formations: &BTreeMap<String, ById>,
        elements: &BTreeMap<(String, String), ById>,
    ) -> Result<BTreeMap<String, Assigned>, SourceError> {
        let mut out: BTreeMap<String, Assigned> = cohorts
            .iter()
            .filter(|c| c.groups && has_learners(c, formations, elements))
            .map(|c| (object_of(c).to_string(), Assigned::new()))
            .collect();
        let codes = texts(out.keys().map(String::as_str));
        for chunk in codes.chunks(LIST_CHUNK) {
            let stmt = PEGASE_GROUPS.statement(periode, &[("objets", chunk)]);
            self.each(&stmt, &mut |row| {
                let (Some(objet), Some(id)) = (cell(row, 0), cell(row, 1)) else {
                    return;
                };
                let Some(assigned) = out.get_mut(objet) else {
                    return;
                };
                if let Some(g) = group(row, 2) {
                    assigned.entry(id.to_string()).or_default().insert(g);
                }
            })?;
        }
        Ok(out)
    }
}

/// The object a cohort's groups hang on: its element, or its formation.
fn object_of(c: &PegaseCohort) -> &str {
    c.element.as_deref().unwrap_or(&c.formation)
}

/// Whether a cohort found anybody (groups are asked only for those that did).
fn has_learners(
    c: &PegaseCohort,
    formations: &BTreeMap<String, ById>,
    elements: &BTreeMap<(String, String), ById>,
) -> bool {
    let found = match &c.element {
        None => formations.get(&c.formation),
        Some(e) => elements.get(&(c.formation.clone(), e.clone())),
    };
    found.is_some_and(|l| !l.is_empty())
}

/// The learner of a row whose columns from `at` are id, code_apprenant, ine_maitre,
/// name, first name. The student number is the value the directories carry; a
/// learner without one is kept (the plan leaves them out, by name).
fn learner(row: &[Option<&str>], at: usize, id: PegaseStudentId) -> Option<Student> {
    let pegase_id = cell(row, at)?;
    let number = match id {
        PegaseStudentId::CodeApprenant => cell(row, at + 1),
        PegaseStudentId::Ine => cell(row, at + 2),
    };
    let name = full_name(row, at + 3);
    Some(Student {
        cod_ind: pegase_id.to_string(),
        cod_etu: number.map(str::to_string),
        name,
        groups: Vec::new(),
        sis: Sis::Pegase,
    })
}

/// The rows split back into cohorts, in the order asked, each learner with the
/// groups of its cohort's object (of the asked type).
fn into_cohorts(
    cohorts: &[&PegaseCohort],
    formations: &BTreeMap<String, ById>,
    elements: &BTreeMap<(String, String), ById>,
    groups: &BTreeMap<String, Assigned>,
) -> Vec<Vec<Student>> {
    cohorts
        .iter()
        .map(|c| {
            let learners = match &c.element {
                None => formations.get(&c.formation),
                Some(e) => elements.get(&(c.formation.clone(), e.clone())),
            };
            let assigned = groups.get(object_of(c));
            super::cohort_students(learners, assigned, c.groups, c.group_type.as_deref())
        })
        .collect()
}
