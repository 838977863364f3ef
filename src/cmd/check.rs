//! `enrolgen check`: validates the configuration and, unless offline, opens every
//! source and runs each query once, reporting per source.

use chrono::NaiveDate;

use crate::cli::CheckArgs;
use crate::config::{self, Settings, SisSettings};
use crate::error::{exit, Error};
use crate::model::{AccountSource, CohortSource};
use crate::source::accounts::{AccountList, ReadAccountList};
use crate::source::directory::{self, Wanted};
use crate::source::sis::csv_extract::CsvExtract;
use crate::source::sis::{self, Bind, SqlBackend, ALL_QUERIES};

/// Runs every query once with the configuration's own étapes, versions and
/// elements (the first hundred of each), and says what it asked and what came back:
/// the SQL parses, the tables and grants are there, and the cohorts find students.
/// A configuration without Apogée cohorts is probed with an étape no university has
/// (0 rows then says only that the query runs).
fn run_queries(b: &mut dyn SqlBackend, s: &Settings, year: &str, failed: &mut bool) {
    let cohorts: Vec<&crate::model::ApogeeCohort> = s
        .cohorts
        .values()
        .filter_map(|c| match &c.source {
            crate::model::CohortSource::Apogee(a) => Some(a),
            _ => None,
        })
        .collect();
    let etapes = probe_list(cohorts.iter().map(|c| c.etape.as_str()));
    let elements = probe_list(cohorts.iter().filter_map(|c| c.element.as_deref()));
    let mut versions: Vec<i64> = cohorts.iter().map(|c| i64::from(c.version)).collect();
    versions.sort_unstable();
    versions.dedup();
    versions.truncate(100);
    if versions.is_empty() {
        versions.push(0);
    }
    let versions: Vec<Bind> = versions.into_iter().map(Bind::Int).collect();
    let scalars = [("annee", Bind::Text(year.to_string()))];
    let lists: [(&str, &[Bind]); 3] = [
        ("etapes", &etapes),
        ("elements", &elements),
        ("versions", &versions),
    ];
    let asked = if cohorts.is_empty() {
        format!("year {year}, no Apogée cohort in the configuration: only that the query runs")
    } else {
        format!(
            "year {year}, the configuration's {} étape(s), {} version(s), {} element(s)",
            etapes.len(),
            versions.len(),
            cohorts.iter().filter(|c| c.element.is_some()).count()
        )
    };
    for q in ALL_QUERIES {
        match b.fetch(&q.statement(&scalars, &lists)) {
            Ok(rows) => println!("  ok    {}: {} row(s) for {asked}", q.name, rows.len()),
            Err(e) => {
                *failed = true;
                println!("  FAIL  {}: {}", q.name, crate::error_chain(&e));
            }
        }
    }
}

/// The configuration's codes `check` asks a query with: each once, the first
/// hundred; a code no university has when there is none (then 0 rows says only
/// that the query runs).
fn probe_list<'a>(codes: impl Iterator<Item = &'a str>) -> Vec<Bind> {
    let mut v: Vec<&str> = codes.collect();
    v.sort_unstable();
    v.dedup();
    v.truncate(100);
    if v.is_empty() {
        v.push("-");
    }
    v.into_iter().map(|c| Bind::Text(c.to_string())).collect()
}

/// A `.db` file is used as it is: say which indexes it lacks (a script loaded into
/// memory got them when it was opened).
fn warn_missing_indexes(b: &sis::sqlite::Sqlite) {
    match b.missing_indexes() {
        Ok(missing) => {
            for i in missing {
                println!(
                    "  warn  table {} has no index on ({}): the queries will scan it; create one: {};",
                    i.table,
                    i.columns.join(", "),
                    i.create_sql()
                );
            }
        }
        Err(e) => println!("  warn  {}", crate::error_chain(&e)),
    }
}

pub fn run(args: &CheckArgs, today: NaiveDate) -> Result<u8, Error> {
    let s = config::load(&args.config.config)?;
    let year = s.year.resolve(args.as_of.day(today)?);
    println!(
        "{}: ok — {} platform(s), {} cohort(s), {} rule(s); year {year}",
        s.file.display(),
        s.platforms.len(),
        s.cohorts.len(),
        s.rules.len()
    );
    if args.offline {
        return Ok(exit::OK);
    }
    let mut failed = false;
    if let Some(sis_settings) = &s.sis {
        apogee(&s, sis_settings, &year, &mut failed);
    }
    if let Some(p) = &s.pegase {
        pegase(&s, p, &year, &mut failed);
    }
    directories(&s, &mut failed);
    account_lists(&s, &mut failed);
    student_files(&s, &mut failed);
    for (name, m) in s.connections() {
        let accounts = s.platforms.get(name).and_then(|p| p.accounts.in_moodle());
        if !check_moodle(name, m, s.by_webservice(name), accounts) {
            failed = true;
        }
    }
    Ok(if failed { exit::SOURCE } else { exit::OK })
}

/// Apogée: every query once (SQLite, Oracle), or the extract opened.
fn apogee(s: &Settings, sis_settings: &SisSettings, year: &str, failed: &mut bool) {
    match sis_settings {
        SisSettings::Sqlite(p) => {
            println!("Apogée (SQLite {}):", p.display());
            match sis::sqlite::Sqlite::open(p) {
                Ok(mut b) => {
                    run_queries(&mut b, s, year, failed);
                    warn_missing_indexes(&b);
                }
                Err(e) => {
                    *failed = true;
                    println!("  FAIL  {}", crate::error_chain(&e));
                }
            }
        }
        #[cfg(feature = "oracle")]
        SisSettings::Oracle(o) => {
            println!("Apogée (Oracle {}):", o.connect);
            match sis::oracle::Oracle::connect(o) {
                Ok(mut b) => run_queries(&mut b, s, year, failed),
                Err(e) => {
                    *failed = true;
                    println!("  FAIL  {}", crate::error_chain(&e));
                }
            }
        }
        other => match sis::open(other, &s.payment) {
            Ok(src) => println!("{}: ok", src.describe()),
            Err(e) => {
                *failed = true;
                println!("  FAIL  {}", crate::error_chain(&e));
            }
        },
    }
}

/// Pégase's DRE: connected as the configured user, the year's period among
/// Pégase's, and every query run once with the configuration's formations and
/// elements (the first hundred of each): the grants are there and the cohorts find
/// students.
fn pegase(s: &Settings, p: &config::PegaseSettings, year: &str, failed: &mut bool) {
    let Some(mut b) = open_dre(p, failed) else {
        return;
    };
    println!("{}:", b.describe());
    let period = p.period_of(year);
    pegase_period(b.as_mut(), &period, year, failed);
    pegase_queries(b.as_mut(), s, p, &period, failed);
}

/// The DRE, connected (or loaded); a failure is printed.
fn open_dre(p: &config::PegaseSettings, failed: &mut bool) -> Option<Box<dyn SqlBackend>> {
    let opened: Result<Box<dyn SqlBackend>, _> = match &p.db {
        config::PegaseDb::Postgres(pg) => {
            sis::postgres::Postgres::connect(pg).map(|b| Box::new(b) as Box<dyn SqlBackend>)
        }
        config::PegaseDb::Sqlite(path) => sis::sqlite::Sqlite::open_as(path, &sis::sqlite::DRE)
            .map(|b| Box::new(b) as Box<dyn SqlBackend>),
    };
    match opened {
        Ok(b) => Some(b),
        Err(e) => {
            let what = match &p.db {
                config::PegaseDb::Postgres(pg) => {
                    format!("Pégase DRE (PostgreSQL {})", pg.describe())
                }
                config::PegaseDb::Sqlite(path) => format!("Pégase DRE (SQLite {})", path.display()),
            };
            fail_source(&what, &e, failed);
            None
        }
    }
}

/// The year's period is one of the DRE's, or `check` says which it has.
fn pegase_period(b: &mut dyn SqlBackend, period: &str, year: &str, failed: &mut bool) {
    let q = sis::PEGASE_PERIODS;
    match b.fetch(&q.statement(&[], &[])) {
        Ok(rows) => {
            let periods: Vec<String> = rows
                .into_iter()
                .filter_map(|r| r.into_iter().next().flatten())
                .collect();
            if periods.iter().any(|p| p == period) {
                println!(
                    "  ok    {}: period {period} of year {year} is one of Pégase's",
                    q.name
                );
            } else {
                *failed = true;
                println!(
                    "  FAIL  {}: period {period} (pegase.period for year {year}) is not one of Pégase's ({}); set pegase.period",
                    q.name,
                    periods.join(", ")
                );
            }
        }
        Err(e) => {
            *failed = true;
            println!("  FAIL  {}: {}", q.name, crate::error_chain(&e));
        }
    }
}

/// Every cohort query once, with the configuration's formations and elements (the
/// first hundred of each).
fn pegase_queries(
    b: &mut dyn SqlBackend,
    s: &Settings,
    p: &config::PegaseSettings,
    period: &str,
    failed: &mut bool,
) {
    let cohorts: Vec<&crate::model::PegaseCohort> = s
        .cohorts
        .values()
        .filter_map(|c| match &c.source {
            CohortSource::Pegase(p) => Some(p),
            _ => None,
        })
        .collect();
    let formations = probe_list(cohorts.iter().map(|c| c.formation.as_str()));
    let elements = probe_list(cohorts.iter().filter_map(|c| c.element.as_deref()));
    let objets = probe_list(
        cohorts
            .iter()
            .map(|c| c.element.as_deref().unwrap_or(&c.formation)),
    );
    let statuts: Vec<Bind> = p.statuses.iter().cloned().map(Bind::Text).collect();
    let scalars = [("periode", Bind::Text(period.to_string()))];
    let lists: [(&str, &[Bind]); 4] = [
        ("formations", &formations),
        ("elements", &elements),
        ("objets", &objets),
        ("statuts", &statuts),
    ];
    let distinct = |v: &[Bind]| if cohorts.is_empty() { 0 } else { v.len() };
    let asked = format!(
        "period {period}, the configuration's {} formation(s) and {} element(s)",
        distinct(&formations),
        distinct(&elements)
    );
    for q in [
        sis::PEGASE_STUDENTS,
        sis::PEGASE_ELEMENT_STUDENTS,
        sis::PEGASE_GROUPS,
    ] {
        match b.fetch(&q.statement(&scalars, &lists)) {
            Ok(rows) => println!("  ok    {}: {} row(s) for {asked}", q.name, rows.len()),
            Err(e) => {
                *failed = true;
                println!("  FAIL  {}: {}", q.name, crate::error_chain(&e));
            }
        }
    }
}

fn fail_source(what: &str, e: &crate::source::SourceError, failed: &mut bool) {
    *failed = true;
    println!("{what}:\n  FAIL  {}", crate::error_chain(e));
}

/// Each directory: bound, and one search.
fn directories(s: &Settings, failed: &mut bool) {
    for d in s.directories.values() {
        let probe = Wanted {
            student_ids: Default::default(),
            usernames: ["enrolgen-check".to_string()].into(),
        };
        let res =
            directory::open(d, &[]).and_then(|mut dir| dir.lookup(&probe).map(|_| dir.describe()));
        match res {
            Ok(what) => println!("{what}: ok (bound and searched)"),
            Err(e) => {
                *failed = true;
                println!("directory {}: FAIL  {}", d.name, crate::error_chain(&e));
            }
        }
    }
}

/// Each platform's own account list, read.
fn account_lists(s: &Settings, failed: &mut bool) {
    for p in s.platforms.values() {
        if let AccountSource::List { path, .. } = &p.accounts.source {
            match AccountList::open(path) {
                Ok(l) => println!(
                    "account list of {} ({}): ok, {} account(s)",
                    p.name,
                    path.display(),
                    l.accounts.len()
                ),
                Err(e) => {
                    *failed = true;
                    println!(
                        "account list of {}: FAIL  {}",
                        p.name,
                        crate::error_chain(&e)
                    );
                }
            }
        }
    }
}

/// Each student file of a cohort, read.
fn student_files(s: &Settings, failed: &mut bool) {
    for c in s.cohorts.values() {
        if let CohortSource::StudentFile(path) = &c.source {
            match CsvExtract::open(path) {
                Ok(x) => println!(
                    "students of {} ({}): ok, {} student(s)",
                    c.name,
                    path.display(),
                    x.all_students().len()
                ),
                Err(e) => {
                    *failed = true;
                    println!("students of {}: FAIL  {}", c.name, crate::error_chain(&e));
                }
            }
        }
    }
}

/// Reads the token's own account as a run reads the plan's, and the report of new
/// accounts when the platform names one: what fails, in a sentence.
fn try_accounts(
    c: &crate::source::moodle::Moodle,
    own: &str,
    a: &crate::model::MoodleAccounts,
) -> Result<(), String> {
    if let Some(report) = a.created_report {
        c.created_report_filters(report, a.field)
            .map_err(|e| crate::error_chain(&e))?;
    }
    let found = c
        .users(crate::model::MatchField::Username, &[own.to_string()])
        .map_err(|e| crate::error_chain(&e))?;
    if found.contains_key(own) {
        Ok(())
    } else {
        Err(format!("core_user_get_users_by_field does not find the token's own account {own}: check the external service and the token's role"))
    }
}

/// The functions a platform's service must offer: `verify`'s reads, the channel's
/// writes, the accounts' reads and the reports'.
fn required(
    m: &crate::config::MoodleSettings,
    writes: bool,
    accounts: Option<&crate::model::MoodleAccounts>,
) -> Vec<&'static str> {
    use crate::source::moodle_created::{RETRIEVE, SET_FILTERS};
    let mut out = crate::source::moodle::VERIFY_FUNCTIONS.to_vec();
    if writes {
        out.extend(crate::deliver::webservice::APPLY_FUNCTIONS);
    }
    if let Some(a) = accounts {
        out.push(crate::source::moodle::USERS_FUNCTION);
        if a.created_report.is_some() {
            out.extend([SET_FILTERS, RETRIEVE]);
        }
    }
    if m.participants_report.is_some() && !out.contains(&RETRIEVE) {
        out.push(RETRIEVE);
    }
    out
}

/// Reads the participants report, when the platform names one, as a run reads it.
fn try_participants(
    c: &crate::source::moodle::Moodle,
    m: &crate::config::MoodleSettings,
) -> Result<(), String> {
    let Some(report) = m.participants_report else {
        return Ok(());
    };
    let rows = c
        .participants_rows(report)
        .map_err(|e| crate::error_chain(&e))?;
    println!("participants report {report}: ok, {rows} row(s)");
    Ok(())
}

/// What would make a web-service platform's nights cheaper for its Moodle: the
/// functions and the report its configuration lacks.
fn cheaper_reads(
    what: &str,
    functions: &std::collections::BTreeSet<String>,
    m: &crate::config::MoodleSettings,
) {
    let batch = crate::source::moodle::BATCH_FUNCTION;
    if !functions.contains(batch) {
        println!(
            "{what}: note  without {batch} in the service, `run` and `verify` read each course in requests of its own (add it: fifty reads per request, no new capability)"
        );
    }
    if m.participants_report.is_none() {
        println!(
            "{what}: note  each course's users are read through core_enrol_get_enrolled_users, most of what a night costs Moodle: a participants report reads them all in one request (moodle.participants_report, docs/webservices.md)"
        );
    }
    let groups = crate::source::moodle::GROUP_READS;
    if m.participants_report.is_none() && groups.iter().any(|f| !functions.contains(*f)) {
        println!(
            "{what}: note  without {} in the service, each participant's groups are read with them, a third of a quiet night's work for Moodle (add them: moodle/course:managegroups, which the channel has)",
            groups.join(" and ")
        );
    }
}

/// Tries a platform's token and lists the functions its service lacks.
/// `accounts`: the platform reads its accounts from Moodle (`accounts_in: moodle`):
/// the function is looked for, then tried on the token's own account; and the
/// report of new accounts, when one is named, read.
fn check_moodle(
    name: &str,
    m: &crate::config::MoodleSettings,
    writes: bool,
    accounts: Option<&crate::model::MoodleAccounts>,
) -> bool {
    let client = crate::source::moodle::Moodle::new(name, m);
    let info = client
        .as_ref()
        .map_err(|e| crate::error_chain(e))
        .and_then(|c| {
            let what = c.describe();
            c.site_info()
                .map(|i| (what, i))
                .map_err(|e| crate::error_chain(&e))
        });
    match info {
        Ok((what, i)) => {
            let missing: Vec<&str> = required(m, writes, accounts)
                .into_iter()
                .filter(|f| !i.functions.contains(*f))
                .collect();
            if missing.is_empty() {
                if let Ok(c) = &client {
                    let tried = accounts.map_or(Ok(()), |a| try_accounts(c, &i.username, a));
                    if let Err(why) = tried.and_then(|()| try_participants(c, m)) {
                        println!("{what}: FAIL  {why}");
                        return false;
                    }
                }
                println!(
                    "{what}: ok, \"{}\", Moodle {}, token of {}",
                    i.sitename, i.release, i.username
                );
                if writes {
                    cheaper_reads(&what, &i.functions, m);
                }
                true
            } else {
                println!(
                    "{what}: FAIL  the token's service lacks {} (add them to the external service)",
                    missing.join(", ")
                );
                false
            }
        }
        Err(e) => {
            println!("Moodle of {name}: FAIL  {e}");
            false
        }
    }
}
