//! Apogée read through the shared SQL, set-based: a run asks one question per query
//! kind (per chunk of `LIST_CHUNK` étapes or elements), whatever its number of
//! cohorts, and splits the rows back into cohorts here.

use std::collections::{BTreeMap, BTreeSet};

use super::rows::{cell, full_name, group, texts};
use super::{
    Assigned, Bind, SqlBackend, Statement, StudentSource, ELEMENT_STUDENTS, GROUPS_ELP, GROUPS_VET,
    LIST_CHUNK, STUDENTS,
};
use crate::model::{ApogeeCohort, Student};
use crate::source::SourceError;

pub struct Apogee<B> {
    backend: B,
    payment: BTreeSet<String>,
    requests: usize,
}

impl<B: SqlBackend> Apogee<B> {
    pub fn new(backend: B, payment: BTreeSet<String>) -> Apogee<B> {
        Apogee {
            backend,
            payment,
            requests: 0,
        }
    }

    /// Runs `stmt`, counting it.
    fn each(
        &mut self,
        stmt: &Statement,
        row: &mut dyn FnMut(&[Option<&str>]),
    ) -> Result<(), SourceError> {
        self.requests += 1;
        self.backend.for_each_row(stmt, row)
    }
}

fn version(row: &[Option<&str>], i: usize) -> Option<u32> {
    cell(row, i).and_then(|v| v.parse().ok())
}

/// Students of one cohort key, by COD_IND.
type ByInd = BTreeMap<String, Student>;

/// The student of a row whose columns from `at` are COD_IND, COD_ETU, NOM, PRENOM,
/// ETA_PMT_IAE, if an accepted payment state.
fn paid_student(row: &[Option<&str>], at: usize, payment: &BTreeSet<String>) -> Option<Student> {
    let cod_ind = cell(row, at)?;
    if !cell(row, at + 4).is_some_and(|p| payment.contains(p)) {
        return None;
    }
    let name = full_name(row, at + 2);
    Some(Student {
        cod_ind: cod_ind.to_string(),
        cod_etu: cell(row, at + 1).map(str::to_string),
        name,
        groups: Vec::new(),
        sis: crate::model::Sis::Apogee,
    })
}

impl<B: SqlBackend> StudentSource for Apogee<B> {
    fn describe(&self) -> String {
        self.backend.describe()
    }

    fn requests(&self) -> usize {
        self.requests
    }

    fn students(
        &mut self,
        year: &str,
        cohorts: &[&ApogeeCohort],
    ) -> Result<Vec<Vec<Student>>, SourceError> {
        let annee = [("annee", Bind::Text(year.to_string()))];
        let vets = self.vet_students(&annee, cohorts)?;
        let elps = self.element_students(&annee, cohorts)?;
        let vet_groups = self.vet_groups(&annee, cohorts, &vets)?;
        let elp_groups = self.element_groups(&annee, cohorts, &elps)?;
        Ok(into_cohorts(
            cohorts,
            &vets,
            &elps,
            &vet_groups,
            &elp_groups,
        ))
    }
}

type Annee = [(&'static str, Bind); 1];

impl<B: SqlBackend> Apogee<B> {
    /// Students of étape versions: (étape, version) → students.
    fn vet_students(
        &mut self,
        annee: &Annee,
        cohorts: &[&ApogeeCohort],
    ) -> Result<BTreeMap<(String, u32), ByInd>, SourceError> {
        let payment = self.payment.clone();
        let mut vets: BTreeMap<(String, u32), ByInd> = cohorts
            .iter()
            .filter(|c| c.element.is_none())
            .map(|c| ((c.etape.clone(), c.version), ByInd::new()))
            .collect();
        let versions: Vec<Bind> = vets
            .keys()
            .map(|(_, v)| *v)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|v| Bind::Int(i64::from(v)))
            .collect();
        let etapes = texts(vets.keys().map(|(e, _)| e.as_str()));
        for chunk in etapes.chunks(LIST_CHUNK) {
            let stmt = STUDENTS.statement(annee, &[("etapes", chunk), ("versions", &versions)]);
            self.each(&stmt, &mut |row| {
                let (Some(etape), Some(v)) = (cell(row, 0), version(row, 1)) else {
                    return;
                };
                let Some(by_ind) = vets.get_mut(&(etape.to_string(), v)) else {
                    return;
                };
                if let Some(s) = paid_student(row, 2, &payment) {
                    by_ind.entry(s.cod_ind.clone()).or_insert(s);
                }
            })?;
        }
        Ok(vets)
    }

    /// Students of elements: (étape, version, element) → students.
    fn element_students(
        &mut self,
        annee: &Annee,
        cohorts: &[&ApogeeCohort],
    ) -> Result<BTreeMap<(String, u32, String), ByInd>, SourceError> {
        let payment = self.payment.clone();
        let mut elps: BTreeMap<(String, u32, String), ByInd> = cohorts
            .iter()
            .filter_map(|c| {
                let e = c.element.as_ref()?;
                Some(((c.etape.clone(), c.version, e.clone()), ByInd::new()))
            })
            .collect();
        let elements = texts(elps.keys().map(|(_, _, e)| e.as_str()));
        for chunk in elements.chunks(LIST_CHUNK) {
            let stmt = ELEMENT_STUDENTS.statement(annee, &[("elements", chunk)]);
            self.each(&stmt, &mut |row| {
                let (Some(etape), Some(v), Some(elp)) =
                    (cell(row, 0), version(row, 1), cell(row, 2))
                else {
                    return;
                };
                let Some(by_ind) = elps.get_mut(&(etape.to_string(), v, elp.to_string())) else {
                    return;
                };
                if let Some(s) = paid_student(row, 3, &payment) {
                    by_ind.entry(s.cod_ind.clone()).or_insert(s);
                }
            })?;
        }
        Ok(elps)
    }

    /// Groups of étape versions, asked only for cohorts that want them and have
    /// students.
    fn vet_groups(
        &mut self,
        annee: &Annee,
        cohorts: &[&ApogeeCohort],
        vets: &BTreeMap<(String, u32), ByInd>,
    ) -> Result<BTreeMap<(String, u32), Assigned>, SourceError> {
        let mut vet_groups: BTreeMap<(String, u32), Assigned> = cohorts
            .iter()
            .filter(|c| c.groups && c.element.is_none())
            .map(|c| (c.etape.clone(), c.version))
            .filter(|k| vets.get(k).is_some_and(|s| !s.is_empty()))
            .map(|k| (k, Assigned::new()))
            .collect();
        let group_etapes = texts(vet_groups.keys().map(|(e, _)| e.as_str()));
        for chunk in group_etapes.chunks(LIST_CHUNK) {
            let stmt = GROUPS_VET.statement(annee, &[("etapes", chunk)]);
            self.each(&stmt, &mut |row| {
                let (Some(etape), Some(v), Some(ind)) =
                    (cell(row, 0), version(row, 1), cell(row, 2))
                else {
                    return;
                };
                let Some(assigned) = vet_groups.get_mut(&(etape.to_string(), v)) else {
                    return;
                };
                if let Some(g) = group(row, 3) {
                    assigned.entry(ind.to_string()).or_default().insert(g);
                }
            })?;
        }
        Ok(vet_groups)
    }

    /// Groups of elements, likewise.
    fn element_groups(
        &mut self,
        annee: &Annee,
        cohorts: &[&ApogeeCohort],
        elps: &BTreeMap<(String, u32, String), ByInd>,
    ) -> Result<BTreeMap<String, Assigned>, SourceError> {
        let mut elp_groups: BTreeMap<String, Assigned> = cohorts
            .iter()
            .filter(|c| c.groups)
            .filter_map(|c| {
                let e = c.element.as_ref()?;
                let key = (c.etape.clone(), c.version, e.clone());
                elps.get(&key)
                    .is_some_and(|s| !s.is_empty())
                    .then(|| (e.clone(), Assigned::new()))
            })
            .collect();
        let group_elements = texts(elp_groups.keys().map(String::as_str));
        for chunk in group_elements.chunks(LIST_CHUNK) {
            let stmt = GROUPS_ELP.statement(annee, &[("elements", chunk)]);
            self.each(&stmt, &mut |row| {
                let (Some(elp), Some(ind)) = (cell(row, 0), cell(row, 1)) else {
                    return;
                };
                let Some(assigned) = elp_groups.get_mut(elp) else {
                    return;
                };
                if let Some(g) = group(row, 2) {
                    assigned.entry(ind.to_string()).or_default().insert(g);
                }
            })?;
        }
        Ok(elp_groups)
    }
}

/// The rows split back into cohorts, in the order asked, each student with the groups
/// of its cohort (of the asked type).
fn into_cohorts(
    cohorts: &[&ApogeeCohort],
    vets: &BTreeMap<(String, u32), ByInd>,
    elps: &BTreeMap<(String, u32, String), ByInd>,
    vet_groups: &BTreeMap<(String, u32), Assigned>,
    elp_groups: &BTreeMap<String, Assigned>,
) -> Vec<Vec<Student>> {
    cohorts
        .iter()
        .map(|c| {
            let (students, groups) = match &c.element {
                None => {
                    let key = (c.etape.clone(), c.version);
                    (vets.get(&key), vet_groups.get(&key))
                }
                Some(e) => (
                    elps.get(&(c.etape.clone(), c.version, e.clone())),
                    elp_groups.get(e),
                ),
            };
            super::cohort_students(students, groups, c.groups, c.group_type.as_deref())
        })
        .collect()
}
