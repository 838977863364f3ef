//! The shared SQL: every query runs on the SQLite fixture, stays in the subset Oracle
//! also runs, and the Oracle back end explains a missing Instant Client.

use enrolgen::model::{ApogeeCohort, Student};
use enrolgen::source::sis::{
    sqlite::Sqlite, Apogee, Bind, Index, Query, SqlBackend, Statement, StudentSource, ALL_QUERIES,
    INDEXES, PEGASE_QUERIES,
};

use super::util::*;

/// Constructs that run on one engine only (docs/apogee-supann.md, "Portable SQL").
fn portability_problems(sql: &str) -> Vec<String> {
    let code: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let upper = code.to_uppercase();
    let words: Vec<&str> = upper
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::new();
    for bad in [
        "LIMIT", "NVL", "NVL2", "ILIKE", "TRUE", "FALSE", "TOP", "ROWNUM", "OFFSET", "IFNULL",
        "DECODE", "SYSDATE", "DUAL",
    ] {
        if words.contains(&bad) {
            out.push(format!("uses {bad}"));
        }
    }
    if code.contains('?') {
        out.push("uses positional ? binds".into());
    }
    if code.contains('"') {
        out.push("uses double-quoted identifiers".into());
    }
    if words.contains(&"SELECT") && !words.contains(&"FROM") {
        out.push("has a SELECT without FROM".into());
    }
    if code.contains("''") {
        out.push("uses '' (NULL on Oracle)".into());
    }
    out
}

#[test]
fn portability_lint_catches_engine_specific_sql() {
    assert_eq!(
        portability_problems("SELECT 1"),
        ["has a SELECT without FROM"]
    );
    assert_eq!(
        portability_problems("SELECT a FROM t LIMIT 5"),
        ["uses LIMIT"]
    );
    assert_eq!(
        portability_problems("SELECT NVL(a, 1) FROM t WHERE b = ?"),
        ["uses NVL", "uses positional ? binds"]
    );
    assert_eq!(
        portability_problems("SELECT a FROM t WHERE x = TRUE -- LIMIT in a comment is fine"),
        ["uses TRUE"]
    );
    assert!(portability_problems("SELECT COALESCE(a, b) FROM t WHERE c = :annee").is_empty());
}

/// The `.sql` files of a folder of `queries/`, by the name their `Query` gives.
fn query_files(under: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(repo().join("queries").join(under))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            if under.is_empty() {
                name
            } else {
                format!("{under}/{name}")
            }
        })
        .collect();
    files.sort();
    files
}

/// Apogée's queries run on Oracle and SQLite; Pégase's on PostgreSQL and SQLite,
/// where truth values are written TRUE and FALSE (the DRE's booleans).
#[test]
fn every_query_file_is_portable_and_declared() {
    for (under, queries, engines_allow) in [
        ("", &ALL_QUERIES[..], &[][..]),
        (
            "pegase",
            &PEGASE_QUERIES[..],
            &["uses TRUE", "uses FALSE"][..],
        ),
    ] {
        let mut declared: Vec<&str> = queries.iter().map(|q| q.name).collect();
        declared.sort();
        assert_eq!(
            query_files(under),
            declared,
            "every file in queries/{under} is shipped and checked"
        );
        for q in queries {
            let problems: Vec<String> = portability_problems(q.sql)
                .into_iter()
                .filter(|p| !engines_allow.contains(&p.as_str()))
                .collect();
            assert!(problems.is_empty(), "{}: {problems:?}", q.name);
            declared_binds_are_used(q);
        }
    }
}

/// The binds a query declares (scalars and lists) are exactly those it uses, and a
/// list stands only where a list may: `IN (:list)`.
fn declared_binds_are_used(q: &Query) {
    {
        let mut used: Vec<String> = q
            .sql
            .lines()
            .map(|l| l.split("--").next().unwrap_or(""))
            .flat_map(|l| {
                l.split(':')
                    .skip(1)
                    .map(|s| {
                        s.chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect::<String>()
                    })
                    .collect::<Vec<_>>()
            })
            .filter(|s| !s.is_empty())
            .collect();
        used.sort();
        used.dedup();
        let mut binds: Vec<String> = q
            .binds
            .iter()
            .chain(q.lists)
            .map(|s| s.to_string())
            .collect();
        binds.sort();
        assert_eq!(used, binds, "{}", q.name);
        // Lists stand only where a list may: `IN (:list)`.
        for l in q.lists {
            assert!(
                q.sql.contains(&format!("IN (:{l})")),
                "{}: :{l} is a list and must be written IN (:{l})",
                q.name
            );
        }
    }
}

fn statement(q: &Query, etapes: &[&str], versions: &[i64], elements: &[&str]) -> Statement {
    let text = |v: &[&str]| {
        v.iter()
            .map(|s| Bind::Text(s.to_string()))
            .collect::<Vec<_>>()
    };
    let versions: Vec<Bind> = versions.iter().map(|v| Bind::Int(*v)).collect();
    q.statement(
        &[("annee", Bind::Text("2026".into()))],
        &[
            ("etapes", &text(etapes)),
            ("versions", &versions),
            ("elements", &text(elements)),
        ],
    )
}

#[test]
fn every_query_runs_on_the_sqlite_fixture() {
    let mut db = Sqlite::open(&repo().join("examples/demo/apogee.sql")).unwrap();
    let mut counts = Vec::new();
    for q in ALL_QUERIES {
        let stmt = statement(&q, &["PSY1L1", "PASS01"], &[101, 1], &["UE1SANT"]);
        counts.push((q.name, db.fetch(&stmt).unwrap().len()));
    }
    // students.sql: 60 PSY1L1 + 60 PASS01 students less A, R and C (unpaid ones are
    // filtered later), plus repeated occurrences.
    assert_eq!(
        counts,
        [
            ("students.sql", 116),
            ("element_students.sql", 52),
            ("groups_vet.sql", 110),
            ("groups_elp.sql", 56),
            ("open_year.sql", 1)
        ]
    );
}

fn cohort(
    etape: &str,
    version: u32,
    element: Option<&str>,
    groups: bool,
    group_type: Option<&str>,
) -> ApogeeCohort {
    ApogeeCohort {
        etape: etape.into(),
        version,
        element: element.map(str::to_string),
        groups,
        group_type: group_type.map(str::to_string),
    }
}

/// "COD_IND:COD_ETU:groups" per student, to compare at a glance.
fn brief(students: &[Student]) -> Vec<String> {
    students
        .iter()
        .map(|s| {
            let groups: Vec<&str> = s.groups.iter().map(|g| g.code.as_str()).collect();
            format!(
                "{}:{}:{}",
                s.cod_ind,
                s.cod_etu.as_deref().unwrap_or("-"),
                groups.join("+")
            )
        })
        .collect()
}

#[test]
fn set_based_rows_are_split_back_into_cohorts() {
    let db = Sqlite::open(&repo().join("tests/fixtures/apogee/split.sql")).unwrap();
    let mut a = Apogee::new(db, ["P".to_string()].into());
    let cohorts = [
        cohort("PSY1L1", 101, None, true, None),
        cohort("PSY1L1", 102, None, true, None),
        cohort("DRT1L1", 101, None, true, None),
        cohort("PSY1L1", 101, None, false, None),
        cohort("PSY1L1", 101, Some("UE1PSY"), true, None),
        cohort("PSY1L1", 102, Some("UE1PSY"), false, None),
        cohort("PSY1L1", 101, None, true, Some("TP")),
        cohort("PSY1L1", 103, None, true, None),
    ];
    let refs: Vec<&ApogeeCohort> = cohorts.iter().collect();
    let all = a.students("2026", &refs).unwrap();
    assert_eq!(a.requests(), 4, "one query per kind for eight cohorts");
    let got: Vec<Vec<String>> = all.iter().map(|s| brief(s)).collect();
    assert_eq!(
        got,
        [
            // 1 is also in DRT1L1; TD2 hangs on both versions and is listed once; 4 paid
            // on its second occurrence; 5's only paid occurrence is cancelled; 2025 left out.
            vec!["1:21000001:TD1", "2:21000002:TD2", "4:21000004:TD1"],
            vec!["3:21000003:TD2"],
            vec!["1:21000001:CM1", "6:-:"],
            vec!["1:21000001:", "2:21000002:", "4:21000004:"],
            // 2's line is acquired (TEM_PRC_ICE = 'O'); 3 is in the other version.
            vec!["1:21000001:TP1"],
            vec!["3:21000003:"],
            vec!["1:21000001:", "2:21000002:", "4:21000004:"],
            vec![],
        ]
    );
    // The same answers as one cohort at a time.
    for (c, expected) in cohorts.iter().zip(&all) {
        let one = a.students("2026", &[c]).unwrap().remove(0);
        assert_eq!(&one, expected, "{c:?}");
    }
    // Waiting for payment accepted: 5 is still out (its paid occurrence is cancelled),
    // 4 is in once.
    let mut a = Apogee::new(
        Sqlite::open(&repo().join("tests/fixtures/apogee/split.sql")).unwrap(),
        ["P".to_string(), "A".to_string()].into(),
    );
    assert_eq!(
        brief(&a.students("2026", &refs[..1]).unwrap()[0]),
        [
            "1:21000001:TD1",
            "2:21000002:TD2",
            "4:21000004:TD1",
            "5:21000005:"
        ]
    );
}

#[test]
fn requests_do_not_grow_with_cohorts() {
    // 1,200 étapes, one student each: three chunks of at most 500 étapes.
    let t = tempfile::tempdir().unwrap();
    let mut sql = String::from(
        "CREATE TABLE INDIVIDU (COD_IND NUMBER(8) PRIMARY KEY, COD_ETU NUMBER, LIB_NOM_PAT_IND VARCHAR2(30), LIB_NOM_USU_IND VARCHAR2(30), LIB_PR1_IND VARCHAR2(20));\n\
         CREATE TABLE INS_ADM_ETP (COD_ANU VARCHAR2(4), COD_IND NUMBER(8), COD_ETP VARCHAR2(6), COD_VRS_VET NUMBER(3), NUM_OCC_IAE NUMBER(2), ETA_IAE VARCHAR2(1), ETA_PMT_IAE VARCHAR2(1));\n",
    );
    for i in 0..1200 {
        sql.push_str(&format!(
            "INSERT INTO INDIVIDU VALUES ({i}, {}, 'N{i}', NULL, 'P');\nINSERT INTO INS_ADM_ETP VALUES ('2026', {i}, 'E{i:04}', 1, 1, 'E', 'P');\n",
            30_000_000 + i
        ));
    }
    let p = t.path().join("many.sql");
    std::fs::write(&p, sql).unwrap();
    let mut a = Apogee::new(Sqlite::open(&p).unwrap(), ["P".to_string()].into());
    let cohorts: Vec<ApogeeCohort> = (0..1200)
        .map(|i| cohort(&format!("E{i:04}"), 1, None, false, None))
        .collect();
    let refs: Vec<&ApogeeCohort> = cohorts.iter().collect();
    let all = a.students("2026", &refs).unwrap();
    assert_eq!(a.requests(), 3);
    for (i, s) in all.iter().enumerate() {
        assert_eq!(brief(s), [format!("{i}:{}:", 30_000_000 + i)]);
    }
}

#[test]
fn a_loaded_dump_gets_the_indexes_the_queries_need() {
    // The demo script has primary keys and no secondary index.
    let db = Sqlite::open(&repo().join("examples/demo/apogee.sql")).unwrap();
    assert_eq!(db.missing_indexes().unwrap(), Vec::<Index>::new());
}

#[test]
fn readme_lists_the_indexes_for_oracle() {
    let readme = std::fs::read_to_string(repo().join("docs/configuration.md")).unwrap();
    for i in INDEXES {
        let line = format!("{} ({})", i.table, i.columns.join(", "));
        assert!(readme.contains(&line), "README lacks the index {line}");
    }
}

#[cfg(feature = "oracle")]
#[test]
fn missing_oracle_client_is_explained() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    edit(&cfg, "sqlite: apogee.sql", "oracle: { connect: \"//127.0.0.1:1/APOTEST\", user: enrolgen, password_env: ENROLGEN_TEST_PW }");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_enrolgen"))
        .args([
            "run",
            "-c",
            cfg.to_str().unwrap(),
            "--out",
            "out",
            "--as-of",
            "2026-11-24",
        ])
        .current_dir(t.path())
        .env("ENROLGEN_TEST_PW", "pw-not-shown")
        .env("LD_LIBRARY_PATH", "")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("Apogée (Oracle //127.0.0.1:1/APOTEST): cannot log in as enrolgen: the Oracle Instant Client (libclntsh.so) cannot be loaded"), "{stderr}");
    assert!(stderr.contains("LD_LIBRARY_PATH"), "{stderr}");
    assert!(!stderr.contains("pw-not-shown"));
    assert!(!t.path().join("out/ecampus").exists());
}

#[test]
fn demo_students_are_collapsed_and_filtered_by_status_and_payment() {
    let db = Sqlite::open(&repo().join("examples/demo/apogee.sql")).unwrap();
    let mut a = Apogee::new(db, ["P".to_string()].into());
    let td = cohort("PSY1L1", 101, None, true, Some("TD"));
    let s = a.students("2026", &[&td]).unwrap().remove(0);
    assert_eq!(s.len(), 56);
    assert_eq!(s.iter().filter(|s| s.cod_etu.is_none()).count(), 1);
    // Groups: TD only, last year's TD9 excluded, TD2 on two objects listed once.
    assert!(s
        .iter()
        .all(|s| s.groups.iter().all(|g| g.kind == "TD" && g.code != "TD9")));
    assert!(s.iter().all(|s| s.groups.len() <= 1));
    let mut a = Apogee::new(
        Sqlite::open(&repo().join("examples/demo/apogee.sql")).unwrap(),
        ["P".to_string(), "A".to_string()].into(),
    );
    let ue1 = cohort("PASS01", 1, Some("UE1SANT"), false, None);
    let both = a.students("2026", &[&td, &ue1]).unwrap();
    assert_eq!(
        both[0].len(),
        57,
        "waiting-for-payment accepted when configured"
    );
    assert_eq!(
        both[1].len(),
        51,
        "acquired elements (TEM_PRC_ICE = 'O') excluded"
    );
    assert!(a.students("2025", &[&ue1]).unwrap()[0].is_empty());
}

#[test]
fn check_warns_when_a_db_file_lacks_indexes() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    // The demo script as a .db file, as it is: primary keys, no secondary index.
    let script = std::fs::read_to_string(t.path().join("demo/apogee.sql")).unwrap();
    let conn = rusqlite::Connection::open(t.path().join("demo/apogee.db")).unwrap();
    conn.execute_batch(&script).unwrap();
    drop(conn);
    edit(&cfg, "sqlite: apogee.sql", "sqlite: apogee.db");
    let r = enrolgen(t.path(), &["check", "-c", cfg.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("  warn  table INS_ADM_ETP has no index on (COD_ANU, COD_ETP, COD_VRS_VET): the queries will scan it; create one: CREATE INDEX IF NOT EXISTS enrolgen_iae_etape ON INS_ADM_ETP (COD_ANU, COD_ETP, COD_VRS_VET);"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("table INDIVIDU"),
        "its primary key serves: {}",
        r.stdout
    );
    assert!(r.stdout.contains("  ok    students.sql"), "{}", r.stdout);
}

/// Before: `check` probed Apogée with the étape `-` and always printed `0 row(s)`,
/// which said nothing of the configuration's cohorts.
#[test]
fn check_asks_apogee_for_the_configuration_s_cohorts_and_says_so() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let r = enrolgen(
        t.path(),
        &["check", "-c", cfg.to_str().unwrap(), "--as-of", AS_OF],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(
            "ok    students.sql: 326 row(s) for year 2026, the configuration's 9 étape(s), 5 version(s), 1 element(s)"
        ),
        "{}",
        r.stdout
    );
}
