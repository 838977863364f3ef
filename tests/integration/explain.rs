//! `enrolgen explain`: every enrolment planned for one person, or why not.

use super::util::*;

#[test]
fn explain_lists_enrolments_and_reasons() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let r = cmd(t.path(), "explain", cfg.to_str().unwrap())
        .args(&["21000004"])
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let apogee = t.path().join("demo/apogee.sql");
    let (head, rest) = r.stdout.split_once('\n').unwrap();
    assert_eq!(
        head,
        format!(
            "21000004 (year 2026, as of 2026-11-24; cohorts read from Apogée (SQLite {})):",
            apogee.display()
        )
    );
    assert_eq!(
        format!("{rest}"),
        "\
         Account uid=e21000004,ou=people,dc=unicaen,dc=fr (unicaen, username 21000004):\n  \
         supannRessourceEtat: {COMPTE}A — active\n  on 2026-11-24: active\nPlanned:\n  ecampus: PSY-L1-METHODO as student (username 21000004) — rule #3 (cohort psy-l1)\n  \
         ecampus: PSY-L1-STATS as student (username 21000004), group TD2, 300 days, status 0 — rule #1, #2 (cohort psy-l1, psy-l1-td)\n"
    );
    let r = cmd(t.path(), "explain", cfg.to_str().unwrap())
        .args(&["21000043"])
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("Planned: nothing\nNot enrolled:\n"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("ecampus: PSY-L1-STATS as student — rule #1 (cohort psy-l1): account_inactive: account uid=e21000043,ou=people,dc=unicaen,dc=fr is inactive"), "{}", r.stdout);
    let r = enrolgen(
        t.path(),
        &["explain", "-c", cfg.to_str().unwrap(), "nobody"],
    );
    assert_eq!(r.code, 1);
}
