//! A malformed configuration names the file, the line and the key, and exits 2.

use super::util::*;

const BASE: &str = "version: 1
apogee:
  sqlite: apogee.sql
directories:
  unicaen:
    ldif: unicaen.ldif
platforms:
  ecampus:
    accounts: [unicaen]
    csv: { delimiter: \";\" }
cohorts:
  psy: { apogee: { etape: PSY1L1, version: 101 } }
enrol:
  - { cohort: psy, platform: ecampus, course: C1, role: student }
";

fn check(text: &str) -> (i32, String) {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("enrolgen.yaml");
    std::fs::write(&p, text).unwrap();
    let r = enrolgen(t.path(), &["check", "--offline", "-c", "enrolgen.yaml"]);
    (r.code, r.stderr.trim().to_string())
}

fn assert_error(text: &str, expected: &str) {
    let (code, err) = check(text);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.starts_with(&format!("enrolgen: error: {expected}")),
        "got: {err}\nwanted: {expected}"
    );
}

#[test]
fn base_config_is_valid() {
    assert_eq!(check(BASE).0, 0);
}

#[test]
fn unknown_key_names_line_and_key() {
    let text = BASE.replace("csv: { delimiter", "csv: { delimter");
    assert_error(
        &text,
        "enrolgen.yaml:10:12: platforms.ecampus.csv: unknown field `delimter`",
    );
    // Exit code 2.
    let (code, _) = check(&text);
    assert_eq!(code, 2);
}

#[test]
fn wrong_type_names_line_and_key() {
    assert_error(&BASE.replace("version: 101", "version: cent-un"), "enrolgen.yaml:12:44: cohorts.psy.apogee.version: invalid type: string \"cent-un\", expected u32");
}

#[test]
fn undefined_cohort_platform_and_directory() {
    assert_error(
        &BASE.replace("cohort: psy,", "cohort: psy2,"),
        "enrolgen.yaml:14: enrol[0].cohort: cohort 'psy2' is not defined under cohorts (psy)",
    );
    assert_error(&BASE.replace("platform: ecampus,", "platform: ecampu,"), "enrolgen.yaml:14: enrol[0].platform: platform 'ecampu' is not defined under platforms (ecampus)");
    assert_error(&BASE.replace("accounts: [unicaen]", "accounts: [unicean]"), "enrolgen.yaml:9: platforms.ecampus.accounts[0]: directory 'unicean' is not defined under directories (unicaen)");
}

#[test]
fn empty_course_or_role() {
    assert_error(
        &BASE.replace("course: C1", "course: \"\""),
        "enrolgen.yaml:14: enrol[0].course: course is empty",
    );
    assert_error(
        &BASE.replace("role: student", "role: \" \""),
        "enrolgen.yaml:14: enrol[0].role: role is empty",
    );
}

// Before: `roles: []` passed check and left the whole platform out, exit 0.
#[test]
fn a_platform_with_no_role_is_refused() {
    assert_error(
        &BASE.replace(
            "    accounts: [unicaen]\n",
            "    accounts: [unicaen]\n    roles: []\n",
        ),
        "enrolgen.yaml:10: platforms.ecampus.roles: is empty: no enrolment could be written",
    );
}

#[test]
fn group_template_errors() {
    assert_error(
        &BASE.replace("role: student }", "role: student, group: \"TD {grp}\" }"),
        "enrolgen.yaml:14: enrol[0].group: unknown placeholder {grp}",
    );
    assert_error(
        &BASE.replace("role: student }", "role: student, group: \"{group}\" }"),
        "enrolgen.yaml:14: enrol[0].group: {group} needs an apogee or pegase cohort with groups: true",
    );
    assert_error(
        &BASE.replace("role: student }", "role: student, group: \"12\" }"),
        "enrolgen.yaml:14: enrol[0].group: group '12' is purely numeric",
    );
}

#[test]
fn yaml_syntax_error_names_line() {
    assert_error(
        &BASE.replace("    csv: { delimiter: \";\" }\n", "    csv: { delimiter: \";\"\n"),
        "enrolgen.yaml:11:1: did not find expected ',' or '}', while parsing a flow mapping at line 10 column 10",
    );
}

#[test]
fn missing_config_file_is_named() {
    let t = tempfile::tempdir().unwrap();
    let r = enrolgen(t.path(), &["run", "-c", "nope.yaml"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("cannot read the configuration nope.yaml"),
        "{}",
        r.stderr
    );
}

#[test]
fn reference_config_and_init_pass_offline_check() {
    let t = tempfile::tempdir().unwrap();
    let r = enrolgen(
        t.path(),
        &[
            "check",
            "--offline",
            "-c",
            repo().join("config/enrolgen.yaml").to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = enrolgen(t.path(), &["init", "etc"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = enrolgen(t.path(), &["check", "--offline", "-c", "etc/enrolgen.yaml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = enrolgen(t.path(), &["init", "etc"]);
    assert_eq!(r.code, 2, "init never overwrites");
}

/// `pegase:` and Pégase cohorts: each mistake named by file, line and key.
#[test]
fn pegase_mistakes_name_their_key() {
    let pegase = BASE.replace(
        "apogee:\n  sqlite: apogee.sql\n",
        "pegase:\n  sqlite: pegase.sql\n",
    );
    let pegase = pegase.replace(
        "psy: { apogee: { etape: PSY1L1, version: 101 } }",
        "psy: { pegase: { formation: PSY1L1-101 } }",
    );
    assert_eq!(check(&pegase).0, 0, "{}", check(&pegase).1);
    assert_error(
        &pegase.replace("  sqlite: pegase.sql\n", "  sqlite: pegase.sql\n  period: \"PER-2026\"\n"),
        "enrolgen.yaml:4: pegase.period: 'PER-2026' names no year: use {year} or {year_label} (PER-{year} …), so that each year reads its own period",
    );
    assert_error(
        &pegase.replace("  sqlite: pegase.sql\n", "  sqlite: pegase.sql\n  statuses: []\n"),
        "enrolgen.yaml:4: pegase.statuses: list at least one statut_inscription value (default [VALIDEE])",
    );
    assert_error(
        &pegase.replace(
            "  sqlite: pegase.sql\n",
            "  postgres: { host: dre.example.fr, dbname: dre, user: ro }\n",
        ),
        "enrolgen.yaml:3: pegase.postgres: give password_env, password_file or password_credential",
    );
    assert_error(
        &pegase.replace("  sqlite: pegase.sql\n", "  sqlite: pegase.sql\n  student_id: nni\n"),
        "enrolgen.yaml:4:15: pegase.student_id: unknown variant `nni`, expected `code_apprenant` or `ine`",
    );
    assert_error(
        &pegase.replace(
            "{ formation: PSY1L1-101 }",
            "{ formation: PSY1L1-101, group_type: TD }",
        ),
        "enrolgen.yaml:12: cohorts.psy.pegase.group_type: needs groups: true",
    );
    assert_error(
        &BASE.replace(
            "psy: { apogee: { etape: PSY1L1, version: 101 } }",
            "psy: { pegase: { formation: PSY1L1-101 } }",
        ),
        "enrolgen.yaml:12: cohorts.psy.pegase: a pegase cohort needs a pegase: source at the top of the file",
    );
    assert_error(
        &pegase.replace("course: C1, role: student }", "course: C1, role: student, group: \"{etape}\" }"),
        "enrolgen.yaml:14: enrol[0].group: {etape} and {version} need an apogee cohort, and 'psy' is not one",
    );
}
