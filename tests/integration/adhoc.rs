//! `enrolgen adhoc`: one file for one complementary course.

use super::util::*;

#[test]
fn adhoc_from_a_cohort_and_from_a_csv() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let c = cfg.to_str().unwrap();
    let r = cmd(t.path(), "adhoc", c)
        .args(&[
            "--platform",
            "ecampus",
            "--course",
            "PSY-L1-SOUTIEN",
            "--role",
            "student",
            "--cohort",
            "psy-l1-td",
            "--group",
            "Soutien {group}",
        ])
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let f = std::fs::read_to_string(t.path().join("adhoc/ecampus-PSY-L1-SOUTIEN.csv")).unwrap();
    assert!(f.starts_with("username;course1;role1;group1\n21000001;PSY-L1-SOUTIEN;student;\n21000004;PSY-L1-SOUTIEN;student;Soutien TD2\n"), "{f}");
    let left = std::fs::read_to_string(t.path().join("adhoc/ecampus-PSY-L1-SOUTIEN-left-out.csv"))
        .unwrap();
    assert!(
        left.contains("account_too_recent;PSY-L1-SOUTIEN;student;21000042"),
        "{left}"
    );

    std::fs::write(t.path().join("liste.csv"), "student_id;name;group\n21000151;Ana;Atelier A\n21000154;Bob;Atelier B\n21000162;Sans compte;Atelier A\n").unwrap();
    let r = cmd(t.path(), "adhoc", c)
        .args(&[
            "--platform",
            "collegium",
            "--course",
            "PASS-ATELIER",
            "--role",
            "student",
            "--students",
            "liste.csv",
            "--group",
            "{group}",
            "--enrolperiod",
            "30",
            "--out",
            "x",
        ])
        .run();
    assert_eq!(r.code, 1, "everyone left out: {}", r.stderr);
    // Collégium's rules: students need a 'sante' cohort tag, which an ad hoc list has not.
    let left =
        std::fs::read_to_string(t.path().join("x/collegium-PASS-ATELIER-left-out.csv")).unwrap();
    assert!(
        left.contains("rule_not_met,PASS-ATELIER,student,21000151"),
        "{left}"
    );
    let r = cmd(t.path(), "adhoc", c)
        .args(&[
            "--platform",
            "ecampus",
            "--course",
            "PASS-ATELIER",
            "--role",
            "student",
            "--students",
            "liste.csv",
            "--group",
            "{group}",
            "--enrolperiod",
            "30",
            "--out",
            "y",
        ])
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let f = std::fs::read_to_string(t.path().join("y/ecampus-PASS-ATELIER.csv")).unwrap();
    assert_eq!(f, "username;course1;role1;group1;enrolperiod1\n21000151;PASS-ATELIER;student;Atelier A;30\n21000154;PASS-ATELIER;student;Atelier B;30\n");
    let r = enrolgen(
        t.path(),
        &[
            "adhoc",
            "-c",
            c,
            "--platform",
            "ecampus",
            "--course",
            "A;B",
            "--role",
            "student",
            "--cohort",
            "psy-l1",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("--course: course 'A;B' contains the delimiter ';'"),
        "{}",
        r.stderr
    );
}
