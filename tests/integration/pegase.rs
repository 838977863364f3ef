//! Pégase as the student information system: the demo read from its DRE tables
//! (SQLite, no server) and from a real PostgreSQL as production has it (read-only
//! role, TLS), against the Apogée demo's files for the same people.

use std::path::Path;

use super::postgres::{Postgres, RO_PASSWORD};
use super::util::*;

/// The upload files and what each platform's IMPORT.txt says: what an
/// administrator imports (the left-out reports name each system's own ids).
fn upload_files(out: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    outputs(out)
        .into_iter()
        .filter(|(k, _)| !k.ends_with("left-out.csv"))
        .collect()
}

fn run_ok(dir: &Path, cfg: &Path, out: &str) -> Out {
    let r = run_config(dir, cfg, out);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r
}

fn summary(dir: &Path, out: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join(out).join("summary.json")).unwrap()).unwrap()
}

/// The `pegase` source of a run's summary.json.
fn pegase_source(dir: &Path, out: &str) -> serde_json::Value {
    summary(dir, out)["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "pegase")
        .cloned()
        .expect("a pegase source in summary.json")
}

/// The demo university from Pégase, and half from each system, gives the Apogée
/// demo's upload files byte for byte: the same people, the same mapping.
#[test]
fn the_pegase_and_mixed_demos_give_the_apogee_demos_files() {
    let t = tempfile::tempdir().unwrap();
    let apogee = copy_demo(t.path());
    let demo = apogee.parent().unwrap();
    run_ok(t.path(), &apogee, "apogee");
    run_ok(t.path(), &demo.join("enrolgen-pegase.yaml"), "pegase");
    run_ok(t.path(), &demo.join("enrolgen-mixed.yaml"), "mixed");
    let expected = upload_files(&t.path().join("apogee"));
    assert!(
        expected.keys().any(|k| k.ends_with("collegium.csv")),
        "{:?}",
        expected.keys()
    );
    assert_same_files(&expected, &upload_files(&t.path().join("pegase")));
    assert_same_files(&expected, &upload_files(&t.path().join("mixed")));
    let source = pegase_source(t.path(), "pegase");
    assert!(
        source["source"]
            .as_str()
            .unwrap()
            .contains("period PER-2026"),
        "{source}"
    );
    // Three queries whatever the number of cohorts: formations, elements, groups.
    assert_eq!(source["requests"], 3, "{source}");
    // `year: auto`: the as-of day's academic year, as Pégase's period code.
    let auto = demo.join("enrolgen-pegase.yaml");
    edit(&auto, "year: 2026 ", "year: auto ");
    run_ok(t.path(), &auto, "auto");
    assert_same_files(&expected, &upload_files(&t.path().join("auto")));
    let r = enrolgen(
        t.path(),
        &[
            "run",
            "-c",
            auto.to_str().unwrap(),
            "--out",
            "next-year",
            "--dry-run",
            "--as-of",
            "2027-09-02",
        ],
    );
    assert!(
        r.stderr
            .contains("cohort psy-l1 returned nobody for year 2027"),
        "{}",
        r.stderr
    );
    let mixed = summary(t.path(), "mixed");
    let ids: Vec<&str> = mixed["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"apogee") && ids.contains(&"pegase"),
        "{ids:?}"
    );
}

/// `explain`, `check` and the report name the Pégase source as they name Apogée.
#[test]
fn explain_check_and_the_report_name_the_pegase_source() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path()).with_file_name("enrolgen-mixed.yaml");
    let demo = cfg.parent().unwrap();
    let r = cmd(t.path(), "explain", cfg.to_str().unwrap())
        .args(&["21000010"])
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let head = r.stdout.lines().next().unwrap();
    assert_eq!(
        head,
        format!(
            "21000010 (year 2026, as of 2026-11-24; cohorts read from Apogée (SQLite {}) and Pégase DRE (SQLite {}), period PER-2026):",
            demo.join("apogee.sql").display(),
            demo.join("pegase.sql").display()
        )
    );
    let r = cmd(t.path(), "check", cfg.to_str().unwrap()).run();
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!("Pégase DRE (SQLite {}):\n  ok    pegase/periods.sql: period PER-2026 of year 2026 is one of Pégase's\n  ok    pegase/students.sql: 197 row(s)", demo.join("pegase.sql").display())),
        "{}",
        r.stdout
    );
    // A period Pégase does not have: check says so, and which it has.
    edit(&cfg, "period: \"PER-{year}\"", "period: \"{year}\"");
    let r = cmd(t.path(), "check", cfg.to_str().unwrap()).run();
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(
        r.stdout.contains("FAIL  pegase/periods.sql: period 2026 (pegase.period for year 2026) is not one of Pégase's (PER-2025, PER-2026); set pegase.period"),
        "{}",
        r.stdout
    );
    edit(&cfg, "period: \"{year}\"", "period: \"PER-{year}\"");
    run_ok(t.path(), &cfg, "out");
    let html = std::fs::read_to_string(t.path().join("out/report.html")).unwrap();
    assert!(
        html.contains("Pégase DRE (SQLite ") && html.contains("Apogée (SQLite "),
        "report names both"
    );
}

/// A learner without a student number is left out naming Pégase's id, not
/// Apogée's COD_IND; an empty formation is reported with Pégase's words.
#[test]
fn pegase_left_outs_and_warnings_speak_of_pegase() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path()).with_file_name("enrolgen-pegase.yaml");
    let r = run_ok(t.path(), &cfg, "out");
    assert!(
        r.stderr.contains("cohort his-l1 returned nobody for year 2026 (a typo in a formation or element code, or a period code that is not Pégase's (pegase.period) is the usual cause)"),
        "{}",
        r.stderr
    );
    let left = std::fs::read_to_string(t.path().join("out/ecampus/left-out.csv")).unwrap();
    let line = left
        .lines()
        .find(|l| l.starts_with("no_student_number;DRT-L1-CIVIL"))
        .expect(&left);
    assert!(
        line.contains("(Pégase learner ") && !line.contains("COD_IND"),
        "{line}"
    );
    // `student_id: ine`: the INE is the number looked up in the directories, which
    // carry the learner's code here: nobody is found by it.
    edit(
        &cfg,
        "  statuses: [VALIDEE]",
        "  statuses: [VALIDEE]\n  student_id: ine",
    );
    let r = run_config(t.path(), &cfg, "ine");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let left = std::fs::read_to_string(t.path().join("ine/ecampus/left-out.csv")).unwrap();
    assert!(
        left.lines()
            .any(|l| l.starts_with("no_account;PSY-L1-STATS;student;;000100001X1;")),
        "{left}"
    );
}

fn with_pegase_block(cfg: &Path, block: &str) {
    let text = std::fs::read_to_string(cfg).unwrap();
    let start = text.find("pegase:\n").unwrap();
    let end = text[start..].find("\n\n").unwrap() + start + 1;
    std::fs::write(cfg, format!("{}{block}{}", &text[..start], &text[end..])).unwrap();
}

fn password_file(dir: &Path, secret: &str) -> std::path::PathBuf {
    let p = dir.join("dre-password");
    std::fs::write(&p, format!("{secret}\n")).unwrap();
    p
}

/// On PostgreSQL as production has it (the read-only role of
/// config/pegase-readonly.sql, TLS checked against the CA): the same files as the
/// SQLite demo, the same three queries; only VALIDEE registrations count unless
/// the configuration lists more statuses; groups come from the DRE.
#[test]
fn a_real_postgresql_dre_gives_the_demos_files_with_its_statuses_and_groups() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path()).with_file_name("enrolgen-pegase.yaml");
    run_ok(t.path(), &cfg, "sqlite");
    let pw = password_file(t.path(), RO_PASSWORD);
    let tls = format!("    sslmode: require\n    ca_file: {}\n", pg.ca().display());
    with_pegase_block(&cfg, &pg.pegase_block(&pw, &tls));
    run_ok(t.path(), &cfg, "pg");
    assert_same_files(
        &outputs(&t.path().join("sqlite")),
        &outputs(&t.path().join("pg")),
    );
    let source = pegase_source(t.path(), "pg");
    assert_eq!(source["requests"], 3, "{source}");
    assert!(
        source["source"].as_str().unwrap().contains(&format!(
            "PostgreSQL 127.0.0.1:{}/dre as enrolgen_ro",
            pg.port
        )),
        "{source}"
    );
    // Groups: every PSY L1 student of TD1 has the TD1 group in the Ecampus file.
    let ecampus = std::fs::read_to_string(t.path().join("pg/ecampus/ecampus.csv")).unwrap()
        + &std::fs::read_to_string(t.path().join("pg/ecampus/ecampus-002.csv")).unwrap();
    let td1 = pg.psql(
        "dre",
        &["-A", "-t", "-c", "SELECT a.code_apprenant FROM schema_chc.affectation_groupe ag JOIN schema_chc.groupe g ON g.uuid = ag.uuid_groupe JOIN schema_chc.cursus cu ON cu.uuid = ag.uuid_cursus JOIN schema_idt.apprenant a ON a.id = cu.uuid_apprenant WHERE g.code = 'TD1' AND a.code_apprenant IS NOT NULL"],
    );
    let td1: Vec<&str> = td1.lines().collect();
    assert!(td1.len() > 10, "{td1:?}");
    let with_td1 = ecampus
        .lines()
        .filter(|l| l.contains(";PSY-L1-STATS;student;TD1"))
        .count();
    assert!(with_td1 > 10, "{ecampus}");
    // Statuses: an AUTORISEE registration (not paid yet) is left out by default,
    // counted once the configuration lists AUTORISEE.
    let authorised = pg.psql(
        "dre",
        &["-A", "-t", "-c", "SELECT a.code_apprenant FROM schema_ins.inscription i JOIN schema_idt.apprenant a ON a.id = i.id_apprenant JOIN schema_odf.contexte c ON c.id = i.id_odf_chemin JOIN schema_odf.objet_maquette om ON om.id = c.id_objet_maquette WHERE i.statut_inscription = 'AUTORISEE' AND om.code = 'PSY2L2-101'"],
    );
    let authorised = authorised.trim();
    assert!(!authorised.is_empty());
    let psy2 = |out: &str| {
        let f = std::fs::read_to_string(t.path().join(out).join("ecampus/ecampus.csv")).unwrap()
            + &std::fs::read_to_string(t.path().join(out).join("ecampus/ecampus-002.csv")).unwrap();
        f.lines()
            .any(|l| l.contains(";PSY-L2-COGNI;") && l.starts_with(&format!("{authorised};")))
    };
    let cancelled = pg.psql("dre", &["-A", "-t", "-c", "SELECT count(*) FROM schema_ins.inscription WHERE statut_inscription IN ('ANNULEE', 'DEBUTEE')"]);
    assert!(
        cancelled.trim().parse::<u32>().unwrap() >= 20,
        "{cancelled}"
    );
    assert!(!psy2("pg"), "an AUTORISEE registration counted by default");
    edit(
        &cfg,
        "  period: \"PER-{year}\"\n",
        "  period: \"PER-{year}\"\n  statuses: [VALIDEE, AUTORISEE]\n",
    );
    run_ok(t.path(), &cfg, "authorised");
    assert!(psy2("authorised"), "AUTORISEE listed, yet left out");
}

/// What goes wrong on a real server is said with the server, the database and,
/// for a query, its SQL file; nothing is written.
#[test]
fn a_postgresql_dre_that_refuses_is_named_with_host_database_and_file() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path()).with_file_name("enrolgen-pegase.yaml");
    let fails = |block: &str, needles: &[&str]| {
        with_pegase_block(&cfg, block);
        let r = run_config(t.path(), &cfg, "out");
        assert_eq!(r.code, 3, "{}", r.stderr);
        for n in needles {
            assert!(r.stderr.contains(n), "'{n}' not in: {}", r.stderr);
        }
        assert!(
            !t.path().join("out/ecampus").exists(),
            "a failed run wrote files"
        );
        r.stderr
    };
    let ca = format!("    ca_file: {}\n", pg.ca().display());
    let host = format!("PostgreSQL 127.0.0.1:{}/dre as enrolgen_ro", pg.port);
    let wrong = password_file(t.path(), "not-the-password");
    let e = fails(
        &pg.pegase_block(&wrong, &ca),
        &[
            &host,
            "password authentication failed for user \"enrolgen_ro\"",
        ],
    );
    assert!(!e.contains("not-the-password"), "{e}");
    let right = password_file(t.path(), RO_PASSWORD);
    // TLS the server offers, with a certificate the system does not trust.
    fails(
        &pg.pegase_block(&right, ""),
        &[&host, "certificate is not trusted", "ca_file"],
    );
    // A table the DRE lacks: named with its schema, and the query's file.
    pg.psql(
        "dre",
        &[
            "-c",
            "ALTER TABLE schema_chc.affectation_groupe RENAME TO affectation",
        ],
    );
    fails(
        &pg.pegase_block(&right, &ca),
        &[
            &host,
            "query pegase/groups.sql failed",
            "relation \"schema_chc.affectation_groupe\" does not exist",
        ],
    );
    // Nobody listening: the server named.
    let closed = pg
        .pegase_block(&right, &ca)
        .replace(&format!("port: {}", pg.port), "port: 1");
    fails(&closed, &["PostgreSQL 127.0.0.1:1/dre", "cannot connect"]);
}
