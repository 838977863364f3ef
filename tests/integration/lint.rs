//! `enrolgen lint` on hand-made files.

use super::util::*;

fn lint(content: &[u8], extra: &[&str]) -> Out {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("f.csv"), content).unwrap();
    let mut args = vec!["lint", "f.csv"];
    args.extend_from_slice(extra);
    enrolgen(t.path(), &args)
}

#[test]
fn clean_file_exits_0() {
    let r = lint(b"username;course1;role1;group1;enrolperiod1;enrolstatus1\n55000901;cours_test;student;groupe_1;60;0\n", &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("ok — 1 rows, 1 enrolments, delimiter ';' (semicolon)"),
        "{}",
        r.stdout
    );
}

#[test]
fn broken_file_lists_problems_with_lines_and_exits_1() {
    let r = lint(
        b"username;course1;role1\nAbc;C1;student\nabc;C1;student;\n",
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("f.csv: line 2: error: username 'Abc' has upper-case letters"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "f.csv: line 3: error: 4 columns but the header has 3 (a trailing delimiter?)"
        ),
        "{}",
        r.stdout
    );
}

#[test]
fn roles_are_checked_against_the_platform() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    std::fs::write(
        t.path().join("f.csv"),
        "username;course1;role1\nabc;C1;Student\n",
    )
    .unwrap();
    let r = enrolgen(
        t.path(),
        &[
            "lint",
            "f.csv",
            "-c",
            cfg.to_str().unwrap(),
            "--platform",
            "ecampus",
        ],
    );
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("role1 'Student' does not exist on the platform (role names are case-sensitive: did you mean 'student'?)"), "{}", r.stdout);
}

/// tests/fixtures/lint/: one file per rule of moodle-csv.md, with the exact output
/// expected in `NAME.expected` (`ENROLGEN_BLESS=1` rewrites them). Files named ok-*
/// must pass; every other one must fail or warn.
#[test]
fn lint_corpus_gives_the_expected_messages() {
    let dir = repo().join("tests/fixtures/lint");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".csv"))
        .collect();
    names.sort();
    assert!(names.len() >= 20);
    let bless = std::env::var_os("ENROLGEN_BLESS").is_some();
    for name in names {
        let r = enrolgen(&dir, &["lint", &name]);
        let got = format!("exit {}\n{}", r.code, r.stdout);
        let expected_path = dir.join(name.replace(".csv", ".expected"));
        if bless {
            std::fs::write(&expected_path, &got).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        pretty_assertions::assert_eq!(got, expected, "{name}");
        if name.starts_with("ok-") {
            assert!(
                r.code == 0 && !r.stdout.contains("warning"),
                "{name}: {}",
                r.stdout
            );
        } else {
            assert!(
                r.code == 1 || r.stdout.contains("warning"),
                "{name} should be flagged: {}",
                r.stdout
            );
        }
    }
}
