//! Opt-in: the same run against a real Oracle. Set ENROLGEN_TEST_ORACLE_CONNECT,
//! ENROLGEN_TEST_ORACLE_USER and ENROLGEN_TEST_ORACLE_PASSWORD (a scratch schema: the
//! test creates the demo tables there, and drops them at the end), with the Instant
//! Client on LD_LIBRARY_PATH. Without them the test says it is skipped.

use super::util::*;

struct Live {
    connect: String,
    user: String,
    password: String,
}

fn live() -> Option<Live> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (
        get("ENROLGEN_TEST_ORACLE_CONNECT"),
        get("ENROLGEN_TEST_ORACLE_USER"),
        get("ENROLGEN_TEST_ORACLE_PASSWORD"),
    ) {
        (Some(connect), Some(user), Some(password)) => Some(Live {
            connect,
            user,
            password,
        }),
        _ => {
            eprintln!("SKIPPED oracle_live: set ENROLGEN_TEST_ORACLE_CONNECT, _USER and _PASSWORD to run it against a real Oracle");
            None
        }
    }
}

const TABLES: [&str; 10] = [
    "IND_AFFECTE_GPE",
    "GPE_OBJ",
    "GROUPE",
    "IND_CONTRAT_ELP",
    "ELEMENT_PEDAGOGI",
    "INS_ADM_ETP",
    "VERSION_ETAPE",
    "ETAPE",
    "INDIVIDU",
    "ANNEE_UNI",
];

#[test]
fn oracle_run_matches_the_sqlite_run() {
    let Some(l) = live() else { return };
    let conn = oracle::Connection::connect(&l.user, &l.password, &l.connect)
        .expect("connect to the test Oracle");
    conn.execute("ALTER SESSION SET NLS_DATE_FORMAT = 'YYYY-MM-DD'", &[])
        .unwrap();
    for t in TABLES {
        let _ = conn.execute(&format!("DROP TABLE {t}"), &[]);
    }
    let script = std::fs::read_to_string(repo().join("examples/demo/apogee.sql")).unwrap();
    let body: String = script
        .lines()
        .filter(|l| !l.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    for stmt in body.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        conn.execute(stmt.trim_end_matches(';'), &[])
            .unwrap_or_else(|e| panic!("{stmt}: {e}"));
    }
    conn.commit().unwrap();

    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let r = enrolgen(
        t.path(),
        &[
            "run",
            "-c",
            cfg.to_str().unwrap(),
            "--out",
            "sqlite",
            "--as-of",
            "2026-11-24",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    edit(&cfg, "sqlite: apogee.sql", &format!("oracle: {{ connect: \"{}\", user: \"{}\", password_env: ENROLGEN_TEST_ORACLE_PASSWORD }}", l.connect, l.user));
    let r = enrolgen(
        t.path(),
        &[
            "run",
            "-c",
            cfg.to_str().unwrap(),
            "--out",
            "oracle",
            "--as-of",
            "2026-11-24",
        ],
    );
    for t in TABLES {
        let _ = conn.execute(&format!("DROP TABLE {t}"), &[]);
    }
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_same_files(
        &outputs(&t.path().join("oracle")),
        &outputs(&t.path().join("sqlite")),
    );
}
