//! Asks every source what a set of rules needs, with as few round trips as the
//! sources allow: one Apogée query per query kind for all cohorts, one lookup per
//! directory (the directory batches or pages), one search per LDAP cohort.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crate::config::Settings;
use crate::filter::Filter;
use crate::model::{
    Account, AccountSource, ApogeeCohort, CohortSource, EnrolRule, Member, PegaseCohort,
    SourceTiming, Student,
};
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
    let ctx = Ctx {
        settings,
        scope: scope(year, rules),
    };
    apogee(&ctx, &cohorts, year, &mut g)?;
    pegase(&ctx, &cohorts, year, &mut g)?;
    lists_of_people(&ctx, &cohorts, &mut g)?;
    let (wanted, ldap_cohorts) = asked_of_directories(settings, rules, &g);
    let names: BTreeSet<&str> = wanted.keys().chain(ldap_cohorts.keys()).copied().collect();
    let mut open = BTreeMap::new();
    for name in names {
        let empty = Vec::new();
        let filters = ldap_cohorts.get(name).unwrap_or(&empty);
        if let Some(d) = directory(&ctx, name, wanted.get(name), filters, &mut g)? {
            open.insert(name, d);
        }
    }
    claimants(settings, &wanted, &mut open, &mut g)?;
    account_lists(&ctx, rules, &mut g)?;
    Ok(g)
}

/// What every source's timing shares.
struct Ctx<'a> {
    settings: &'a Settings,
    scope: String,
}

impl Ctx<'_> {
    /// A source's timing, from when it started.
    /// `(id, source)`: its stable identifier and its description.
    fn timing(
        &self,
        (id, source): (String, String),
        started: Instant,
        records: usize,
        requests: usize,
        max_shrink: f64,
        asked: bool,
    ) -> SourceTiming {
        SourceTiming {
            id,
            source,
            seconds: started.elapsed().as_secs_f64(),
            records,
            requests,
            scope: self.scope.clone(),
            max_shrink,
            asked,
        }
    }

    fn limit(&self) -> f64 {
        self.settings.max_shrink.default
    }
}

/// Apogée: one query per query kind for all the run's cohorts.
fn apogee(
    ctx: &Ctx<'_>,
    cohorts: &BTreeSet<&str>,
    year: &str,
    g: &mut Gathered,
) -> Result<(), SourceError> {
    let settings = ctx.settings;
    let apogee = sis_cohorts(settings, cohorts, |s| match s {
        CohortSource::Apogee(a) => Some(a),
        _ => None,
    });
    let (Some(sis_settings), false) = (&settings.sis, apogee.is_empty()) else {
        return Ok(());
    };
    let t = Instant::now();
    let mut sis = sis::open(sis_settings, &settings.payment)?;
    let keys: Vec<&ApogeeCohort> = apogee.iter().map(|(_, a)| *a).collect();
    let records = add_students(g, &apogee, sis.students(year, &keys)?);
    let limit = settings.max_shrink.apogee.unwrap_or(ctx.limit());
    // A cohort may be empty (a warning says so); only a fall is suspicious.
    let timing = ctx.timing(
        ("apogee".into(), sis.describe()),
        t,
        records,
        sis.requests(),
        limit,
        false,
    );
    g.timings.push(timing);
    Ok(())
}

/// Pégase: one query per query kind for all the run's Pégase cohorts, in the
/// period of the run's year.
fn pegase(
    ctx: &Ctx<'_>,
    cohorts: &BTreeSet<&str>,
    year: &str,
    g: &mut Gathered,
) -> Result<(), SourceError> {
    let settings = ctx.settings;
    let asked = sis_cohorts(settings, cohorts, |s| match s {
        CohortSource::Pegase(p) => Some(p),
        _ => None,
    });
    let (Some(pegase), false) = (&settings.pegase, asked.is_empty()) else {
        return Ok(());
    };
    let t = Instant::now();
    let mut dre = sis::open_pegase(pegase)?;
    let how = sis::pegase::Reading {
        period: pegase.period_of(year),
        statuses: pegase.statuses.clone(),
        student_id: pegase.student_id,
    };
    let keys: Vec<&PegaseCohort> = asked.iter().map(|(_, p)| *p).collect();
    let records = add_students(g, &asked, dre.students(&how, &keys)?);
    let limit = settings.max_shrink.pegase.unwrap_or(ctx.limit());
    let source = format!("{}, period {}", dre.describe(), how.period);
    let timing = ctx.timing(
        ("pegase".into(), source),
        t,
        records,
        dre.requests(),
        limit,
        false,
    );
    g.timings.push(timing);
    Ok(())
}

/// The run's cohorts an information system answers for (`key` picks its kind), by
/// name.
fn sis_cohorts<'a, K>(
    settings: &'a Settings,
    cohorts: &BTreeSet<&'a str>,
    key: impl Fn(&'a CohortSource) -> Option<&'a K>,
) -> Vec<(&'a str, &'a K)> {
    cohorts
        .iter()
        .filter_map(|c| Some((*c, key(&settings.cohorts.get(*c)?.source)?)))
        .collect()
}

/// Each asked cohort's students, in the order asked, as members; how many in all.
fn add_students<K>(g: &mut Gathered, asked: &[(&str, &K)], students: Vec<Vec<Student>>) -> usize {
    let mut records = 0;
    for ((name, _), students) in asked.iter().zip(students) {
        records += students.len();
        g.members.insert(
            name.to_string(),
            students.into_iter().map(Member::Student).collect(),
        );
    }
    records
}

/// Static username lists and student files.
fn lists_of_people(
    ctx: &Ctx<'_>,
    cohorts: &BTreeSet<&str>,
    g: &mut Gathered,
) -> Result<(), SourceError> {
    for c in cohorts {
        match ctx.settings.cohorts.get(*c).map(|c| &c.source) {
            Some(CohortSource::Usernames(us)) => {
                g.members.insert(
                    c.to_string(),
                    us.iter().cloned().map(Member::Username).collect(),
                );
            }
            Some(CohortSource::StudentNumbers(ids)) => {
                let students = ids.iter().map(|id| Member::Student(Student::numbered(id)));
                g.members.insert(c.to_string(), students.collect());
            }
            Some(CohortSource::StudentFile(path)) => {
                let t = Instant::now();
                let students = CsvExtract::open(path)?.all_students();
                let source = format!("student list {}", path.display());
                g.timings.push(ctx.timing(
                    (format!("students:{c}"), source),
                    t,
                    students.len(),
                    1,
                    ctx.limit(),
                    true,
                ));
                g.members.insert(
                    c.to_string(),
                    students.into_iter().map(Member::Student).collect(),
                );
            }
            _ => {}
        }
    }
    Ok(())
}

/// What each directory must be asked: the student numbers and usernames of the
/// members of every cohort enrolled on a platform that reads it, and its LDAP cohorts.
fn asked_of_directories<'a>(
    settings: &'a Settings,
    rules: &[&'a EnrolRule],
    g: &Gathered,
) -> (BTreeMap<&'a str, Wanted>, BTreeMap<&'a str, Vec<&'a str>>) {
    let mut wanted: BTreeMap<&str, Wanted> = BTreeMap::new();
    let mut ldap_cohorts: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in rules {
        let Some(p) = settings.platforms.get(&r.platform) else {
            continue;
        };
        let dirs = p.accounts.directories();
        if dirs.is_empty() {
            continue;
        }
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
    (wanted, ldap_cohorts)
}

/// An open directory and its timing's index in `Gathered::timings`, kept for the
/// second round.
struct OpenDirectory {
    dir: Box<dyn directory::Directory>,
    timing: usize,
    started: Instant,
}

/// One directory: the accounts wanted, and the members of its LDAP cohorts.
fn directory(
    ctx: &Ctx<'_>,
    name: &str,
    wanted: Option<&Wanted>,
    ldap_cohorts: &[&str],
    g: &mut Gathered,
) -> Result<Option<OpenDirectory>, SourceError> {
    let settings = ctx.settings;
    let Some(ds) = settings.directories.get(name) else {
        return Ok(None);
    };
    let t = Instant::now();
    let filter_of = |c: &str| match settings.cohorts.get(c).map(|c| &c.source) {
        Some(CohortSource::Ldap { filter, .. }) => Some(filter),
        _ => None,
    };
    let filters: Vec<&Filter> = ldap_cohorts.iter().filter_map(|c| filter_of(c)).collect();
    let mut dir = directory::open(ds, &filters)?;
    let found = match wanted {
        Some(w) => dir.lookup(w)?,
        None => Vec::new(),
    };
    let mut records = found.len();
    // The index holds the cohorts' accounts too: every account the directory gave,
    // so that the logins' other claimants are asked once, about the others.
    let mut indexed = found;
    for c in ldap_cohorts {
        if let Some(filter) = filter_of(c) {
            let mut accounts = dir.search(filter)?;
            accounts.sort_by(|a, b| a.dn.cmp(&b.dn));
            records += accounts.len();
            indexed.extend(accounts.iter().cloned());
            g.members.insert(
                c.to_string(),
                accounts
                    .into_iter()
                    .map(|a| Member::Account(Box::new(a)))
                    .collect(),
            );
        }
    }
    let asked = wanted.is_some_and(|w| !w.student_ids.is_empty() || !w.usernames.is_empty())
        || !ldap_cohorts.is_empty();
    let limit = ds.max_shrink.unwrap_or(ctx.limit());
    g.timings.push(ctx.timing(
        (format!("directory:{name}"), dir.describe()),
        t,
        records,
        dir.requests(),
        limit,
        asked,
    ));
    g.directories
        .insert(name.to_string(), AccountIndex::new(indexed));
    Ok(Some(OpenDirectory {
        dir,
        timing: g.timings.len() - 1,
        started: t,
    }))
}

/// The second round: every other account that carries the login of an account the
/// first round found, in every directory of the platforms that read it. One login
/// is one Moodle account: when two people claim it, which of them logs in is what
/// enrolgen cannot know, so the planner must see both. The logins already asked
/// are not asked again; the directory batches (or reads its branch) as in the first
/// round, so the round trips do not grow with the number of students.
fn claimants(
    settings: &Settings,
    asked: &BTreeMap<&str, Wanted>,
    open: &mut BTreeMap<&str, OpenDirectory>,
    g: &mut Gathered,
) -> Result<(), SourceError> {
    // The accounts each directory gave, by lookup or by a cohort filter.
    let given: BTreeMap<&str, &[Account]> = g
        .directories
        .iter()
        .map(|(name, idx)| (name.as_str(), idx.accounts()))
        .collect();
    // Each directory is asked for the logins of every directory it shares a
    // platform with, less those it was asked already.
    let mut ask: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for p in settings.platforms.values() {
        let dirs = p.accounts.directories();
        for d in dirs {
            let set = ask.entry(d.as_str()).or_default();
            for other in dirs {
                let accounts = given.get(other.as_str()).into_iter().copied().flatten();
                set.extend(accounts.flat_map(|a| a.all_usernames().map(str::to_string)));
            }
        }
    }
    let mut more: BTreeMap<&str, Vec<Account>> = BTreeMap::new();
    for (name, od) in open.iter_mut() {
        let Some(mut logins) = ask.remove(name) else {
            continue;
        };
        // A login asked already found every entry carrying it, unless the
        // directory compares logins with case (supannAliasLogin): `MartinP` asked
        // did not find another person's `martinp`, one Moodle account all the same.
        let folded = settings
            .directories
            .get(*name)
            .is_some_and(|d| !crate::filter::case_exact(&d.attrs.username));
        if folded {
            for u in asked.get(name).into_iter().flat_map(|w| &w.usernames) {
                logins.remove(&u.to_lowercase());
            }
        }
        if logins.is_empty() {
            continue;
        }
        let known: BTreeSet<&str> = given
            .get(name)
            .into_iter()
            .copied()
            .flatten()
            .map(|a| a.dn.as_str())
            .collect();
        more.insert(name, od.dir.claimants(&logins, &known)?);
        if let Some(t) = g.timings.get_mut(od.timing) {
            t.seconds = od.started.elapsed().as_secs_f64();
            t.requests = od.dir.requests();
        }
    }
    for (name, accounts) in more {
        if let Some(idx) = g.directories.get_mut(name) {
            idx.add(accounts);
        }
    }
    Ok(())
}

/// Platforms' own account lists.
fn account_lists(ctx: &Ctx<'_>, rules: &[&EnrolRule], g: &mut Gathered) -> Result<(), SourceError> {
    let platforms: BTreeSet<&str> = rules.iter().map(|r| r.platform.as_str()).collect();
    for p in platforms {
        let platform = ctx.settings.platforms.get(p);
        if let Some(AccountSource::List { path, .. }) = platform.map(|p| &p.accounts.source) {
            let t = Instant::now();
            let list = AccountList::open(path)?;
            let source = format!("account list {}", path.display());
            g.timings.push(ctx.timing(
                (format!("accounts:{p}"), source),
                t,
                list.accounts.len(),
                1,
                ctx.limit(),
                true,
            ));
            g.account_lists.insert(p.to_string(), list);
        }
    }
    Ok(())
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
