#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
//! Scale benchmark: a large university generated in memory (100,000 students in 200
//! cohorts, 95,000 accounts), through every stage a run goes through. Prints the time
//! of each stage and the peak memory. Run with `cargo bench --bench scale`.
//! Timings are measured here, not asserted in tests.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use chrono::NaiveDate;
use enrolgen::config::{self, SisSettings};
use enrolgen::model::{ApogeeCohort, CohortSource, Member};
use enrolgen::moodle::{self, LintOptions};
use enrolgen::output::upload;
use enrolgen::plan::{self, AccountIndex, Inputs};
use enrolgen::source::directory::{self, Wanted};
use enrolgen::source::sis::{self, StudentSource};

const STUDENTS: usize = 100_000;
const COHORTS: usize = 200;

fn timed<T>(label: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let v = f();
    println!(
        "{label:<48} {:>9.3} s   peak {:>5.0} MiB",
        t.elapsed().as_secs_f64(),
        peak_rss_mib()
    );
    v
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.to_string())
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // Apogée as SQL, a directory as LDIF, a config tying 200 cohorts to courses.
    let mut sql = String::from(
        "CREATE TABLE INDIVIDU (COD_IND NUMBER(8) PRIMARY KEY, COD_ETU NUMBER, LIB_NOM_PAT_IND VARCHAR2(30), LIB_NOM_USU_IND VARCHAR2(30), LIB_PR1_IND VARCHAR2(20));\n\
         CREATE TABLE INS_ADM_ETP (COD_ANU VARCHAR2(4), COD_IND NUMBER(8), COD_ETP VARCHAR2(6), COD_VRS_VET NUMBER(3), NUM_OCC_IAE NUMBER(2), ETA_IAE VARCHAR2(1), ETA_PMT_IAE VARCHAR2(1));\n\
         CREATE INDEX iae_cohort ON INS_ADM_ETP (COD_ANU, COD_ETP, COD_VRS_VET);\nBEGIN;\n",
    );
    let mut ldif = String::new();
    for i in 0..STUDENTS {
        let ind = 1_000_000 + i;
        let etu = 30_000_000 + i;
        let _ = writeln!(
            sql,
            "INSERT INTO INDIVIDU VALUES ({ind}, {etu}, 'NOM{i}', NULL, 'Prénom');"
        );
        let _ = writeln!(
            sql,
            "INSERT INTO INS_ADM_ETP VALUES ('2026', {ind}, 'E{:05}', 1, 1, 'E', 'P');",
            i % COHORTS
        );
        if i % 20 != 0 {
            let _ = write!(
                ldif,
                "dn: uid=e{etu},ou=people,dc=example,dc=fr\nobjectClass: inetOrgPerson\nuid: e{etu}\nsupannAliasLogin: e{etu}\nsupannEtuId: {etu}\n\
                 eduPersonAffiliation: student\nsupannRessourceEtat: {{COMPTE}}A\ncreateTimestamp: 20250901080000Z\n\n"
            );
        }
    }
    sql.push_str("COMMIT;\n");
    std::fs::write(d.join("apogee.sql"), &sql).expect("write sql");
    std::fs::write(d.join("people.ldif"), &ldif).expect("write ldif");
    let mut cfg = String::from(
        "version: 1\nyear: 2026\napogee: { sqlite: apogee.sql }\ndirectories:\n  u: { ldif: people.ldif }\n\
         platforms:\n  p: { accounts: [u], min_account_age_days: 1, csv: { delimiter: \";\", max_rows: 5000 } }\ncohorts:\n",
    );
    for c in 0..COHORTS {
        let _ = writeln!(
            cfg,
            "  c{c}: {{ apogee: {{ etape: E{c:05}, version: 1 }} }}"
        );
    }
    cfg.push_str("enrol:\n");
    for c in 0..COHORTS {
        let _ = writeln!(cfg, "  - {{ cohort: c{c}, platform: p, course: [COURSE-{c}-A, COURSE-{c}-B], role: student, enrolperiod: 300 }}");
    }
    std::fs::write(d.join("enrolgen.yaml"), &cfg).expect("write config");
    println!(
        "{STUDENTS} students in {COHORTS} cohorts, {} accounts, 2 courses per cohort",
        STUDENTS - STUDENTS / 20
    );

    let settings = timed("load and check the config", || {
        config::load(&d.join("enrolgen.yaml")).expect("config")
    });
    let Some(SisSettings::Sqlite(path)) = &settings.sis else {
        return;
    };
    let mut apogee = timed("load the SQL script into SQLite", || {
        sis::Apogee::new(
            sis::sqlite::Sqlite::open(path).expect("sqlite"),
            settings.payment.clone(),
        )
    });
    let members: BTreeMap<String, Vec<Member>> =
        timed("query 200 cohorts (one query each)", || {
            settings
                .cohorts
                .iter()
                .filter_map(|(name, c)| match &c.source {
                    CohortSource::Apogee(a) => Some((name.clone(), a.clone())),
                    _ => None,
                })
                .map(|(name, a): (String, ApogeeCohort)| {
                    let s = apogee.students("2026", &a).expect("students");
                    (name, s.into_iter().map(Member::Student).collect())
                })
                .collect()
        });
    let mut wanted = Wanted::default();
    for m in members.values().flatten() {
        if let Member::Student(s) = m {
            wanted.student_ids.extend(s.cod_etu.clone());
        }
    }
    let dir_settings = &settings.directories["u"];
    let accounts = timed("read the LDIF directory and look up 100k numbers", || {
        directory::open(dir_settings)
            .expect("ldif")
            .lookup(&wanted)
            .expect("lookup")
    });
    let index = timed("index the accounts", || AccountIndex::new(accounts));
    let directories = BTreeMap::from([("u".to_string(), index)]);
    let lists = BTreeMap::new();
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
    let p = timed("plan (join, rules, validation, merge)", || {
        plan::plan(&Inputs {
            as_of,
            year: "2026",
            platforms: &settings.platforms,
            cohorts: &settings.cohorts,
            rules: settings.rules.iter().collect(),
            members: &members,
            directories: &directories,
            account_lists: &lists,
        })
    });
    let pp = &p.platforms["p"];
    let files = timed("render the upload files", || {
        upload::render("p", &settings.platforms["p"].csv, pp.enrolments.values()).expect("render")
    });
    let bytes: usize = files.iter().map(|f| f.bytes.len()).sum();
    timed("lint every file written", || {
        for f in &files {
            assert!(moodle::lint(
                &f.bytes,
                &LintOptions {
                    delimiter: Some(b';'),
                    roles: None
                }
            )
            .is_clean());
        }
    });
    println!(
        "{} enrolments, {} left out, {} files, {:.1} MiB written; peak memory {:.0} MiB",
        pp.enrolments.len(),
        pp.left_out.len(),
        files.len(),
        bytes as f64 / 1048576.0,
        peak_rss_mib()
    );
}
