//! Asks every source what a set of rules needs, with as few round trips as the
//! sources allow: one Apogée query per query kind for all cohorts, one lookup per
//! directory (the directory batches or pages), one search per LDAP cohort.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crate::config::Settings;
use crate::model::{AccountSource, CohortSource, EnrolRule, Member, SourceTiming};
use crate::plan::AccountIndex;
use crate::source::accounts::{AccountList, ReadAccountList};
use crate::source::directory::{self, Wanted};
use crate::source::sis::csv_extract::CsvExtract;
use crate::source::{sis, SourceError};

/// What the sources returned for a run.
#[derive(Debug, Default)]
pub struct Gathered {
    pub members: BTreeMap<String, Vec<Member>>,
    pub directories: BTreeMap<String, AccountIndex>,
    pub account_lists: BTreeMap<String, AccountList>,
    pub timings: Vec<SourceTiming>,
}

pub fn gather(
    settings: &Settings,
    rules: &[&EnrolRule],
    year: &str,
) -> Result<Gathered, SourceError> {
    let mut g = Gathered::default();
    let cohorts: BTreeSet<&str> = rules.iter().map(|r| r.cohort.as_str()).collect();
    let scope = scope(year, rules);
    let limit = settings.max_shrink.default;

    // Apogée.
    let apogee: Vec<(&str, &crate::model::ApogeeCohort)> = cohorts
        .iter()
        .filter_map(|c| match &settings.cohorts.get(*c)?.source {
            CohortSource::Apogee(a) => Some((*c, a)),
            _ => None,
        })
        .collect();
    if let (Some(sis_settings), false) = (&settings.sis, apogee.is_empty()) {
        let t = Instant::now();
        let mut sis = sis::open(sis_settings, &settings.payment)?;
        let keys: Vec<&crate::model::ApogeeCohort> = apogee.iter().map(|(_, a)| *a).collect();
        let mut records = 0;
        for ((name, _), students) in apogee.iter().zip(sis.students(year, &keys)?) {
            records += students.len();
            g.members.insert(
                name.to_string(),
                students.into_iter().map(Member::Student).collect(),
            );
        }
        g.timings.push(SourceTiming {
            source: sis.describe(),
            seconds: t.elapsed().as_secs_f64(),
            records,
            requests: sis.requests(),
            scope: scope.clone(),
            max_shrink: settings.max_shrink.apogee.unwrap_or(limit),
            // A cohort may be empty (a warning says so); only a fall is suspicious.
            asked: false,
        });
    }
    for c in &cohorts {
        match settings.cohorts.get(*c).map(|c| &c.source) {
            Some(CohortSource::Usernames(us)) => {
                g.members.insert(
                    c.to_string(),
                    us.iter().cloned().map(Member::Username).collect(),
                );
            }
            Some(CohortSource::StudentFile(path)) => {
                let t = Instant::now();
                let students = CsvExtract::open(path)?.all_students();
                g.timings.push(SourceTiming {
                    source: format!("student list {}", path.display()),
                    seconds: t.elapsed().as_secs_f64(),
                    records: students.len(),
                    requests: 1,
                    scope: scope.clone(),
                    max_shrink: limit,
                    asked: true,
                });
                g.members.insert(
                    c.to_string(),
                    students.into_iter().map(Member::Student).collect(),
                );
            }
            _ => {}
        }
    }

    // Directories: what each must be asked for.
    let mut wanted: BTreeMap<&str, Wanted> = BTreeMap::new();
    let mut ldap_cohorts: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in rules {
        let Some(p) = settings.platforms.get(&r.platform) else {
            continue;
        };
        let AccountSource::Directories(dirs) = &p.accounts else {
            continue;
        };
        if let Some(CohortSource::Ldap { directory, .. }) =
            settings.cohorts.get(&r.cohort).map(|c| &c.source)
        {
            let list = ldap_cohorts.entry(directory.as_str()).or_default();
            if !list.contains(&r.cohort.as_str()) {
                list.push(r.cohort.as_str());
            }
            continue;
        }
        for d in dirs {
            let w = wanted.entry(d.as_str()).or_default();
            for m in g.members.get(&r.cohort).into_iter().flatten() {
                match m {
                    Member::Student(s) => {
                        if let Some(id) = &s.cod_etu {
                            w.student_ids.insert(id.clone());
                        }
                    }
                    Member::Username(u) => {
                        w.usernames.insert(u.clone());
                    }
                    Member::Account(_) => {}
                }
            }
        }
    }
    let dir_names: BTreeSet<&str> = wanted.keys().chain(ldap_cohorts.keys()).copied().collect();
    for name in dir_names {
        let Some(ds) = settings.directories.get(name) else {
            continue;
        };
        let t = Instant::now();
        let filters: Vec<&crate::filter::Filter> = ldap_cohorts
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|c| match settings.cohorts.get(*c).map(|c| &c.source) {
                Some(CohortSource::Ldap { filter, .. }) => Some(filter),
                _ => None,
            })
            .collect();
        let mut dir = directory::open(ds, &filters)?;
        let found = match wanted.get(name) {
            Some(w) => dir.lookup(w)?,
            None => Vec::new(),
        };
        let mut records = found.len();
        for c in ldap_cohorts.get(name).into_iter().flatten() {
            if let Some(CohortSource::Ldap { filter, .. }) =
                settings.cohorts.get(*c).map(|c| &c.source)
            {
                let mut accounts = dir.search(filter)?;
                accounts.sort_by(|a, b| a.dn.cmp(&b.dn));
                records += accounts.len();
                g.members.insert(
                    c.to_string(),
                    accounts.into_iter().map(Member::Account).collect(),
                );
            }
        }
        g.timings.push(SourceTiming {
            source: dir.describe(),
            seconds: t.elapsed().as_secs_f64(),
            records,
            requests: dir.requests(),
            scope: scope.clone(),
            max_shrink: ds.max_shrink.unwrap_or(limit),
            asked: wanted
                .get(name)
                .is_some_and(|w| !w.student_ids.is_empty() || !w.usernames.is_empty())
                || ldap_cohorts.contains_key(name),
        });
        g.directories
            .insert(name.to_string(), AccountIndex::new(found));
    }

    // Platforms' own account lists.
    let platforms: BTreeSet<&str> = rules.iter().map(|r| r.platform.as_str()).collect();
    for p in platforms {
        if let Some(AccountSource::List(path)) = settings.platforms.get(p).map(|p| &p.accounts) {
            let t = Instant::now();
            let list = AccountList::open(path)?;
            g.timings.push(SourceTiming {
                source: format!("account list {}", path.display()),
                seconds: t.elapsed().as_secs_f64(),
                records: list.accounts.len(),
                requests: 1,
                scope: scope.clone(),
                max_shrink: limit,
                asked: true,
            });
            g.account_lists.insert(p.to_string(), list);
        }
    }
    Ok(g)
}

/// What a run asks its sources, as a short stable hash (FNV-1a of the year and the
/// rules' cohort and platform names): counts of two runs are comparable only when
/// they asked the same, not after `--cohort`, a new year or an edited mapping.
fn scope(year: &str, rules: &[&EnrolRule]) -> String {
    let asked: BTreeSet<(&str, &str)> = rules
        .iter()
        .map(|r| (r.cohort.as_str(), r.platform.as_str()))
        .collect();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |s: &str| {
        for b in s.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(year);
    for (c, p) in asked {
        eat(c);
        eat(p);
    }
    format!("{h:016x}")
}
