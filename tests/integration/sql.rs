//! The shared SQL: every query runs on the SQLite fixture, stays in the subset Oracle
//! also runs, and the Oracle back end explains a missing Instant Client.

use enrolgen::source::sis::{sqlite::Sqlite, Bind, SqlBackend, ALL_QUERIES};

use super::util::*;

/// Constructs that run on one engine only (shared/domain.md, pitfall 8).
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

#[test]
fn every_query_file_is_portable_and_declared() {
    let mut files: Vec<String> = std::fs::read_dir(repo().join("queries"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    let mut declared: Vec<&str> = ALL_QUERIES.iter().map(|q| q.name).collect();
    declared.sort();
    assert_eq!(
        files, declared,
        "every file in queries/ is shipped and checked"
    );
    for q in ALL_QUERIES {
        assert!(
            portability_problems(q.sql).is_empty(),
            "{}: {:?}",
            q.name,
            portability_problems(q.sql)
        );
        // The binds a query declares are exactly those it uses.
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
        let mut binds: Vec<String> = q.binds.iter().map(|s| s.to_string()).collect();
        binds.sort();
        assert_eq!(used, binds, "{}", q.name);
    }
}

#[test]
fn every_query_runs_on_the_sqlite_fixture() {
    let mut db = Sqlite::open(&repo().join("examples/demo/apogee.sql")).unwrap();
    let binds = [
        ("annee", Bind::Text("2026".into())),
        ("etape", Bind::Text("PSY1L1".into())),
        ("version", Bind::Int(101)),
        ("element", Bind::Text("UE1SANT".into())),
    ];
    let mut counts = Vec::new();
    for q in ALL_QUERIES {
        let b: Vec<_> = binds
            .iter()
            .filter(|(n, _)| q.binds.contains(n))
            .cloned()
            .collect();
        counts.push((q.name, db.fetch(&q, &b).unwrap().len()));
    }
    // students.sql: 60 PSY1L1 students less A, R and C (unpaid ones are filtered later), plus one repeated occurrence.
    assert_eq!(
        counts,
        [
            ("students.sql", 58),
            ("element_students.sql", 0),
            ("groups_vet.sql", 110),
            ("groups_elp.sql", 56),
            ("open_year.sql", 1)
        ]
    );
}

#[test]
fn students_are_collapsed_and_filtered_by_status_and_payment() {
    use enrolgen::model::ApogeeCohort;
    use enrolgen::source::sis::{Apogee, StudentSource};
    let db = Sqlite::open(&repo().join("examples/demo/apogee.sql")).unwrap();
    let mut a = Apogee::new(db, ["P".to_string()].into());
    let c = ApogeeCohort {
        etape: "PSY1L1".into(),
        version: 101,
        element: None,
        groups: true,
        group_type: Some("TD".into()),
    };
    let s = a.students("2026", &c).unwrap();
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
    assert_eq!(
        a.students("2026", &c).unwrap().len(),
        57,
        "waiting-for-payment accepted when configured"
    );
    let e = ApogeeCohort {
        etape: "PASS01".into(),
        version: 1,
        element: Some("UE1SANT".into()),
        groups: false,
        group_type: None,
    };
    assert_eq!(
        a.students("2026", &e).unwrap().len(),
        51,
        "acquired elements (TEM_PRC_ICE = 'O') excluded"
    );
    assert!(a.students("2025", &e).unwrap().is_empty());
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
