//! Inputs that once gave a silently wrong result (exit 0, no warning): each is now
//! refused or reported. Checked to fail: this file's tests were run against the
//! binary built from the commit before this work (a59f00e), copied over
//! target/debug/enrolgen, and all 16 failed; the comment of each says what 0.1 did.

use std::path::Path;

use crate::slapd::{Options, Slapd};
use crate::util::*;

/// An active account of the demo directory, with the given extra lines.
fn impostor(uid: &str, lines: &str) -> String {
    format!(
        "\ndn: uid={uid},ou=people,dc=unicaen,dc=fr\nobjectClass: inetOrgPerson\nobjectClass: supannPerson\nuid: {uid}\ncn: X\nsn: X\n{lines}supannRessourceEtat: {{COMPTE}}A\ncreateTimestamp: 20250101000000Z\n"
    )
}

fn append(path: &Path, text: &str) {
    let mut s = std::fs::read_to_string(path).unwrap();
    s.push_str(text);
    std::fs::write(path, s).unwrap();
}

fn read(dir: &Path, p: &str) -> String {
    std::fs::read_to_string(dir.join(p)).unwrap()
}

/// Runs the demo, changed by `change`, on slapd (whole-branch and batched lookups)
/// and asserts the files equal those of the LDIF run in `dir/ref-out`.
fn assert_slapd_gives_the_ldif_files(dir: &Path, s: &Slapd, change: &dyn Fn(&Path)) {
    for (n, keys) in [
        (0, ", batch_threshold: 0"),
        (1, ", batch_threshold: 100000"),
    ] {
        let cfg = copy_demo(&dir.join(format!("l{n}")));
        change(&cfg);
        use_ldap(&cfg, &s.url(), keys);
        let out = format!("out{n}");
        let r = run_config(dir, &cfg, &out);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_same_files(&outputs(&dir.join(&out)), &outputs(&dir.join("ref-out")));
    }
}

// 0.1 wrote `aimpostor;PSY-L1-STATS;student;TD2;300;0` with exit 0 and no warning: the
// account with the smallest DN took the student number.
#[test]
fn two_accounts_claiming_one_student_number_enrol_nobody() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    append(
        &t.path().join("demo/unicaen.ldif"),
        &impostor(
            "aa-impostor",
            "supannAliasLogin: aimpostor\nsupannEtuId: 21000004\n",
        ),
    );
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let up = read(t.path(), "out/ecampus/ecampus.csv");
    assert!(
        !up.contains("aimpostor") && !up.contains("\n21000004;"),
        "{up}"
    );
    let left = read(t.path(), "out/ecampus/left-out.csv");
    let line = left
        .lines()
        .find(|l| l.starts_with("ambiguous_account;PSY-L1-STATS;student;;21000004;"))
        .unwrap_or_else(|| panic!("{left}"));
    assert!(
        line.contains("uid=aa-impostor,ou=people,dc=unicaen,dc=fr (unicaen)")
            && line.contains("uid=e21000004,ou=people,dc=unicaen,dc=fr (unicaen)"),
        "{line}"
    );
    assert!(
        r.stderr.contains("platform ecampus: 1 ambiguous identity")
            && r.stderr
                .contains("student number 21000004 matches 2 accounts"),
        "{}",
        r.stderr
    );
    let summary = read(t.path(), "out/summary.json");
    assert!(
        summary.contains("student number 21000004 matches 2 accounts"),
        "{summary}"
    );
    let html = read(t.path(), "out/report.html");
    assert!(html.contains("platform ecampus: 1 ambiguous identity"));
    // explain names both accounts and the reason.
    let e = cmd(t.path(), "explain", cfg.to_str().unwrap())
        .args(&["21000004"])
        .run();
    assert!(
        e.stdout
            .contains("Account uid=aa-impostor,ou=people,dc=unicaen,dc=fr")
            && e.stdout
                .contains("Account uid=e21000004,ou=people,dc=unicaen,dc=fr")
            && e.stdout
                .contains("ambiguous_account: student number 21000004 matches 2 accounts"),
        "{}",
        e.stdout
    );
}

// 0.1 enrolled 21000005 under 21000004's username, and took the first of two logins.
#[test]
fn an_account_with_two_student_numbers_or_two_logins_is_ambiguous() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let ldif = t.path().join("demo/unicaen.ldif");
    edit(
        &ldif,
        "supannEtuId: 21000004\n",
        "supannEtuId: 21000004\nsupannEtuId: 21000007\n",
    );
    edit(
        &ldif,
        "supannAliasLogin: 21000009\n",
        "supannAliasLogin: 21000009\nsupannAliasLogin: mdouble\n",
    );
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let up = read(t.path(), "out/ecampus/ecampus.csv");
    for who in ["\n21000004;", "\n21000007;", "\n21000009;", "\nmdouble;"] {
        assert!(!up.contains(who), "{who} in {up}");
    }
    let left = read(t.path(), "out/ecampus/left-out.csv");
    assert!(
        left.contains("carries several student numbers: 21000004, 21000007"),
        "{left}"
    );
    assert!(
        left.contains(";21000007;") && left.contains("has several usernames: 21000009, mdouble"),
        "{left}"
    );
}

// 0.1 took the first directory of the platform (the demo's Collégium reads two).
#[test]
fn a_student_in_two_directories_of_a_platform_is_ambiguous() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let up = read(t.path(), "out/collegium/collegium.csv");
    assert!(
        !up.contains("\n21000159,") && !up.contains("\njdouble,"),
        "{up}"
    );
    let left = read(t.path(), "out/collegium/left-out.csv");
    assert!(
        left.contains("ambiguous_account,PASS-UE1,student,,21000159,"),
        "{left}"
    );
    assert!(
        left.contains("uid=jdouble,ou=people,dc=universitice,dc=fr (universitice)"),
        "{left}"
    );
}

// The same identity rule on slapd as on the LDIF file: same files.
#[test]
fn ambiguous_identities_are_the_same_on_slapd_and_ldif() {
    let extra = impostor(
        "aa-impostor",
        "supannAliasLogin: aimpostor\nsupannEtuId: 21000004\n",
    );
    slapd_and_ldif_agree_with(&extra, "uid=aa-impostor");
}

/// The demo with `extra` entries in the Caen directory, from LDIF (Ecampus's
/// left-out names `dn`) and from slapd, batched and reading the branch: same files.
fn slapd_and_ldif_agree_with(extra: &str, dn: &str) {
    let Some(s) = Slapd::start(Options {
        extra_unicaen: Some(extra.to_string()),
        ..Options::default()
    }) else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let reference = copy_demo(&t.path().join("ref"));
    append(&t.path().join("ref/demo/unicaen.ldif"), extra);
    assert_eq!(run_config(t.path(), &reference, "ref-out").code, 0);
    assert!(read(t.path(), "ref-out/ecampus/left-out.csv").contains(dn));
    assert_slapd_gives_the_ldif_files(t.path(), &s, &|_| {});
}

// 0.1: a second `psy-l2:` replaced the first (PSY-L2-COGNI got another étape's
// students), a second `ecampus:` block replaced the first; exit 0 both times.
#[test]
fn a_key_given_twice_in_a_mapping_is_refused_with_both_lines() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    edit(
        &cfg,
        "  drt-l1:      { apogee",
        "  psy-l2:      { apogee: { etape: DRT1L1, version: 101 } }\n  drt-l1:      { apogee",
    );
    let text = std::fs::read_to_string(&cfg).unwrap();
    let line = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let first = line("psy-l2:      { apogee: { etape: PSY2L2");
    let again = line("psy-l2:      { apogee: { etape: DRT1L1");
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "enrolgen.yaml:{again}: cohorts.psy-l2: given twice, at line {first} and at line {again}"
        )),
        "{}",
        r.stderr
    );
    assert!(!t.path().join("out").exists());

    let cfg = copy_demo(&t.path().join("b"));
    edit(
        &cfg,
        "cohorts:\n",
        "  ecampus:\n    accounts: [unicaen]\ncohorts:\n",
    );
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(": platforms.ecampus: given twice, at line "),
        "{}",
        r.stderr
    );
}

// 0.1: with state.json deleted (or emptied), the next --delta wrote every enrolment
// again (ecampus-0002.csv byte-identical to ecampus-0001.csv), exit 0.
#[test]
fn a_delta_run_refuses_a_missing_or_empty_state_beside_written_files() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    assert_eq!(run_with(t.path(), &cfg, "out", &["--full"]).code, 0);
    let state = t.path().join("out/ecampus/state.json");
    let saved = std::fs::read_to_string(&state).unwrap();
    std::fs::remove_file(&state).unwrap();
    let before = read_tree(&t.path().join("out"));
    let r = run_with(t.path(), &cfg, "out", &["--delta"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("there is no state but")
            && r.stderr.contains("outbox/ecampus-0001")
            && r.stderr.contains("--full"),
        "{}",
        r.stderr
    );
    assert_same_files(&read_tree(&t.path().join("out")), &before);

    let mut v: serde_json::Value = serde_json::from_str(&saved).unwrap();
    v["enrolments"] = serde_json::json!([]);
    std::fs::write(&state, serde_json::to_string(&v).unwrap()).unwrap();
    let r = run_with(t.path(), &cfg, "out", &["--delta"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("the state is empty but"), "{}", r.stderr);

    // Put back, it works again.
    std::fs::write(&state, &saved).unwrap();
    assert_eq!(run_with(t.path(), &cfg, "out", &["--delta"]).code, 0);
}

// 0.1 skipped a hand-made outbox file silently and numbered the next file after it.
#[test]
fn a_stray_file_in_the_outbox_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    assert_eq!(run_with(t.path(), &cfg, "out", &["--full"]).code, 0);
    std::fs::write(
        t.path().join("out/ecampus/outbox/ecampus-0002.csv"),
        "username;course1\nx;C\n",
    )
    .unwrap();
    let before = read_tree(&t.path().join("out"));
    let r = run_with(t.path(), &cfg, "out", &["--delta"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("outbox/ecampus-0002.csv was not written by enrolgen"),
        "{}",
        r.stderr
    );
    assert_same_files(&read_tree(&t.path().join("out")), &before);
}

// 0.1 accepted an --as-of before the last delta run and wrote 55 suspensions.
#[test]
fn an_as_of_before_the_last_delta_run_is_refused_unless_meant() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    assert_eq!(run_with(t.path(), &cfg, "out", &["--delta"]).code, 0);
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "run",
            "-c",
            cfg.to_str().unwrap(),
            "--out",
            "out",
            "--as-of",
            "2026-11-01",
            "--delta",
            "--accept-suspensions",
        ];
        a.extend_from_slice(extra);
        enrolgen(t.path(), &a)
    };
    let before = read_tree(&t.path().join("out"));
    let r = args(&[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("--as-of 2026-11-01 is before the last delta run of ")
            && r.stderr.contains(" (2026-11-24)"),
        "{}",
        r.stderr
    );
    assert_same_files(&read_tree(&t.path().join("out")), &before);
    assert_eq!(args(&["--allow-earlier-as-of"]).code, 0);
}

// 0.1 wrote `+7`, `-5`, `1e3`, `1.5`, `.5` as group names (here made by templates
// from the cohort's version, 101); Moodle creates another group of that name on
// every import.
#[test]
fn group_names_php_reads_as_numbers_are_left_out() {
    for (template, g) in [
        ("+{version}", "+101"),
        ("-{version}", "-101"),
        ("1e{version}", "1e101"),
        ("1.{version}", "1.101"),
        (".{version}", ".101"),
    ] {
        let t = tempfile::tempdir().unwrap();
        let cfg = copy_demo(t.path());
        edit(
            &cfg,
            "course: PSY-L1-METHODO, role: student }",
            &format!("course: PSY-L1-METHODO, role: student, group: \"{template}\" }}"),
        );
        let r = run_config(t.path(), &cfg, "out");
        assert_eq!(r.code, 0, "{}", r.stderr);
        let up = read(t.path(), "out/ecampus/ecampus.csv");
        assert!(!up.contains(&format!(";{g};")), "{g}: {up}");
        let left = read(t.path(), "out/ecampus/left-out.csv");
        assert!(
            left.contains("invalid_value;PSY-L1-METHODO;student;21000004;")
                && left.contains(&format!("group '{g}' is purely numeric as PHP reads it")),
            "{g}: {left}"
        );
    }
    // Written as it is, such a name is a configuration error.
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    edit(
        &cfg,
        "course: PSY-L1-METHODO, role: student }",
        "course: PSY-L1-METHODO, role: student, group: \"+7\" }",
    );
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("enrol[2].group: group '+7' is purely numeric"),
        "{}",
        r.stderr
    );
}

// 0.1's lint accepted these.
#[test]
fn lint_refuses_group_names_php_reads_as_numbers_and_invisible_characters() {
    let t = tempfile::tempdir().unwrap();
    for (g, needle) in [
        ("+7", "numeric"),
        ("1e3", "numeric"),
        (" 12", "numeric"),
        ("TD\u{200B}1", "U+200B"),
        ("TD\u{1}1", "U+0001"),
    ] {
        std::fs::write(
            t.path().join("f.csv"),
            format!("username;course1;group1\nabc;C;{g}\n"),
        )
        .unwrap();
        let r = enrolgen(t.path(), &["lint", "f.csv"]);
        assert_eq!(r.code, 1, "{g:?}: {}", r.stdout);
        assert!(r.stdout.contains(needle), "{g:?}: {}", r.stdout);
    }
}

// 0.1 ran the dump as a script: ATTACH created a database file anywhere.
#[test]
fn a_dump_that_attaches_a_file_is_refused_and_writes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let outside = t.path().join("elsewhere.db");
    append(
        &t.path().join("demo/apogee.sql"),
        &format!(
            "ATTACH DATABASE '{}' AS x;\nCREATE TABLE x.t(a);\n",
            outside.display()
        ),
    );
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("the SQL script is refused at line")
            && r.stderr.contains("Attach")
            && r.stderr
                .contains("a dump may only create tables and indexes"),
        "{}",
        r.stderr
    );
    assert!(!outside.exists());
    assert!(!t.path().join("out/ecampus").exists());
}

// 0.1: an empty LDIF gave exit 0, everyone no_account, and removed the previous file.
#[test]
fn an_empty_directory_stops_the_run_and_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    prime(t.path(), &cfg);
    std::fs::write(t.path().join("demo/unicaen.ldif"), "").unwrap();
    assert_fails_unchanged(
        t.path(),
        &cfg,
        3,
        &[
            "directory unicaen (LDIF ",
            "returned nothing",
            "--accept-shrink",
        ],
    );
}

// 0.1 read an LDIF cut in the middle of an entry as if it were whole.
#[test]
fn an_ldif_cut_short_stops_the_run_and_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    prime(t.path(), &cfg);
    let p = t.path().join("demo/unicaen.ldif");
    let text = std::fs::read_to_string(&p).unwrap();
    let cut = text.find("supannAliasLogin: 21000100").unwrap() + "supannAli".len();
    std::fs::write(&p, &text[..cut]).unwrap();
    assert_fails_unchanged(
        t.path(),
        &cfg,
        3,
        &[
            "unicaen.ldif:",
            "the file ends in the middle of a line: it looks cut short",
        ],
    );
}

/// The demo's unicaen.ldif with only its first `keep` person entries.
fn keep_first_people(path: &Path, keep: usize) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut kept = 0;
    let entries: Vec<&str> = text
        .split("\n\n")
        .filter(|e| {
            if !e.contains("ou=people,dc=unicaen,dc=fr\n") || !e.contains("supannEtuId") {
                return true;
            }
            kept += 1;
            kept <= keep
        })
        .collect();
    std::fs::write(path, entries.join("\n\n")).unwrap();
}

// 0.1 wrote the run of a half directory: every missing account became no_account, and
// the previous upload file lost those enrolments.
#[test]
fn a_source_that_falls_far_below_the_previous_run_stops_it() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    prime(t.path(), &cfg);
    keep_first_people(&t.path().join("demo/unicaen.ldif"), 100);
    let stderr = assert_fails_unchanged(t.path(), &cfg, 3, &["directory unicaen (LDIF "]);
    assert!(
        stderr.contains(" records against ")
            && stderr.contains("more than max_shrink 30%)")
            && stderr.contains("(previous run: as of 2026-11-24)"),
        "{stderr}"
    );
    // Another question (one cohort) is not compared with the whole run.
    let r = run_with(t.path(), &cfg, "out", &["--cohort", "psy-l1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // After review, the drop is accepted.
    let r = run_with(t.path(), &cfg, "out", &["--accept-shrink"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

// 0.1's LDIF reader compared supannAliasLogin without case (ENS-style `TOTO211`
// matched `toto211`) while slapd, whose schema says caseExact, did not.
#[test]
fn ldif_and_slapd_compare_values_alike_and_a_bom_is_accepted() {
    let Some(s) = Slapd::start(Options::default()) else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let change = |cfg: &Path| {
        edit(
            cfg,
            "usernames: [toto211, MartinP, dupontm]",
            "usernames: [TOTO211, MartinP, dupontm]",
        );
        edit(
            cfg,
            "filter: \"(supannEntiteAffectation=SANTE)\"",
            "filter: \"(supannEntiteAffectation=sante)\"",
        );
    };
    let reference = copy_demo(&t.path().join("ref"));
    change(&reference);
    let ldif = t.path().join("ref/demo/unicaen.ldif");
    let text = std::fs::read_to_string(&ldif).unwrap();
    std::fs::write(&ldif, format!("\u{feff}{text}")).unwrap();
    let r = run_config(t.path(), &reference, "ref-out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let left = read(t.path(), "ref-out/ecampus/left-out.csv");
    assert!(
        left.contains("no_account;PSY-L1-STATS;editingteacher;TOTO211;"),
        "{left}"
    );
    let collegium = read(t.path(), "ref-out/collegium/collegium.csv");
    assert!(
        collegium.contains("\nleroyc,"),
        "caseIgnore filter: {collegium}"
    );
    assert_slapd_gives_the_ldif_files(t.path(), &s, &change);
}

// 0.1 accepted "0666": world-readable personal data.
#[test]
fn a_file_mode_open_to_others_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    append(&cfg, "file_mode: \"0666\"\n");
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("file_mode: '0666' is not an octal file mode"),
        "{}",
        r.stderr
    );
}

// Before: 21000007's account carrying 21000004's login gave `21000004` the STATS
// enrolment with TD2, exit 0, no warning; 21000007 was only a `conflict`.
#[test]
fn one_login_for_two_people_enrols_neither() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let ldif = t.path().join("demo/unicaen.ldif");
    edit(
        &ldif,
        "supannAliasLogin: 21000007\n",
        "supannAliasLogin: 21000004\n",
    );
    // An account in no cohort, with no student number, claiming 21000009's login:
    // found only because every login the run writes is looked up.
    append(
        &ldif,
        &impostor("zz-squatter", "supannAliasLogin: 21000009\n"),
    );
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let up = read(t.path(), "out/ecampus/ecampus.csv");
    for who in ["\n21000004;", "\n21000007;", "\n21000009;"] {
        assert!(!up.contains(who), "{who} in {up}");
    }
    let left = read(t.path(), "out/ecampus/left-out.csv");
    for id in ["21000004", "21000007"] {
        let line = left
            .lines()
            .find(|l| l.starts_with(&format!("ambiguous_account;PSY-L1-STATS;student;;{id};")))
            .unwrap_or_else(|| panic!("{id}: {left}"));
        assert!(
            line.contains("username '21000004' matches 2 accounts: uid=e21000004,ou=people,dc=unicaen,dc=fr (unicaen); uid=e21000007,ou=people,dc=unicaen,dc=fr (unicaen)"),
            "{line}"
        );
    }
    assert!(
        left.contains("username '21000009' matches 2 accounts: uid=e21000009,ou=people,dc=unicaen,dc=fr (unicaen); uid=zz-squatter,"),
        "{left}"
    );
    assert!(!left.contains("conflict;"), "{left}");
    assert!(
        r.stderr
            .contains("platform ecampus: 2 ambiguous identities"),
        "{}",
        r.stderr
    );
}

// Before: Collégium enrolled `21000151` as a PASS student and reported the partner's
// teacher, whose uid had become 21000151, as a `conflict`.
#[test]
fn one_login_in_both_directories_of_a_platform_enrols_neither() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    edit(
        &t.path().join("demo/universitice.ldif"),
        "uid: rdurand\n",
        "uid: 21000151\n",
    );
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let up = read(t.path(), "out/collegium/collegium.csv");
    assert!(!up.contains("\n21000151,"), "{up}");
    let left = read(t.path(), "out/collegium/left-out.csv");
    let both = "username '21000151' matches 2 accounts: uid=e21000151,ou=people,dc=unicaen,dc=fr (unicaen); uid=rdurand,ou=people,dc=universitice,dc=fr (universitice)";
    assert!(
        left.contains(&format!(
            "ambiguous_account,PASS-UE1,student,,21000151,ROBERT Théo,pass-ue1,#9,\"{both}\""
        )),
        "{left}"
    );
    assert!(
        left.contains(&format!(
            "ambiguous_account,PASS-UE1,teacher,,,,teachers-universitice,#14,\"{both}\""
        )),
        "{left}"
    );
}

// The login rule on slapd, batched and reading the branch, gives the LDIF's files.
#[test]
fn one_login_for_two_people_is_the_same_on_slapd_and_ldif() {
    let extra = impostor("zz-squatter", "supannAliasLogin: 21000009\n");
    slapd_and_ldif_agree_with(&extra, "uid=zz-squatter");
}

// Before: yaml-rust2 failed on `year:<TAB>2026` and then knew no key, serde_norway
// accepted the file, and the second `psy-l1:` silently replaced the first
// (PSY-L1-METHODO got 36 PSY2L2 students), exit 0.
#[test]
fn a_config_whose_keys_cannot_all_be_checked_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    edit(&cfg, "year: 2026 ", "year:\t2026 ");
    edit(
        &cfg,
        "  drt-l1:      { apogee",
        "  psy-l1:      { apogee: { etape: PSY2L2, version: 101 } }\n  drt-l1:      { apogee",
    );
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("enrolgen.yaml:5:")
            && r.stderr
                .contains("cannot check this file for keys given twice"),
        "{}",
        r.stderr
    );
    assert!(!t.path().join("out").exists());
}

// Before: a cohort named `psy-l1.apogee` beside `psy-l1` was "cohorts.psy-l1.apogee
// given twice".
#[test]
fn a_key_with_a_dot_is_not_a_key_given_twice() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    edit(
        &cfg,
        "  drt-l1:      { apogee",
        "  psy-l1.apogee: { apogee: { etape: PSY2L2, version: 101 } }\n  drt-l1:      { apogee",
    );
    let r = cmd(t.path(), "check", cfg.to_str().unwrap())
        .args(&["--offline"])
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
}

// Before: night 3 on the night-1 state (put back from a backup, as the message for a
// missing state suggests) wrote nothing, exit 0: 21000004, active again, stayed
// suspended in Moodle.
#[test]
fn a_state_older_than_its_files_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let out = t.path().join("out/ecampus");
    let night = |day: u32| on_day(t.path(), &cfg, "run", "out", day, &["--delta"]);
    let import = |n: &str| {
        std::fs::create_dir_all(out.join("imported")).unwrap();
        std::fs::rename(out.join("outbox").join(n), out.join("imported").join(n)).unwrap();
    };
    assert_eq!(night(23).code, 0);
    import("ecampus-0001.csv");
    let backup = std::fs::read(out.join("state.json")).unwrap();
    let ldif = t.path().join("demo/unicaen.ldif");
    let active = "supannAliasLogin: 21000004\nmail: mathis.robert@example.fr\nsupannEtuId: 21000004\neduPersonAffiliation: student\nsupannEtuInscription: [etab={UAI}0141408E][anneeinsc=2026][etape={UAI:014140\n 8E}PSY1L1]\nsupannRessourceEtat: {COMPTE}A\n";
    edit(&ldif, active, &active.replace("{COMPTE}A", "{COMPTE}I"));
    let r = night(24);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let second = std::fs::read_to_string(out.join("outbox/ecampus-0002.csv")).unwrap();
    assert!(
        second.contains("\n21000004;PSY-L1-STATS;student;;300;1"),
        "{second}"
    );
    import("ecampus-0002.csv");
    std::fs::write(out.join("state.json"), &backup).unwrap();
    edit(&ldif, &active.replace("{COMPTE}A", "{COMPTE}I"), active);
    let before = read_tree(&t.path().join("out"));
    let r = night(25);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("is older than imported/ecampus-0002.csv")
            && r.stderr.contains("put back from a backup")
            && r.stderr.contains("--full"),
        "{}",
        r.stderr
    );
    assert_same_files(&read_tree(&t.path().join("out")), &before);
    // The way out works: --full writes every enrolment, 21000004 active again.
    let r = on_day(t.path(), &cfg, "run", "out", 25, &["--full"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let full = std::fs::read_to_string(out.join("outbox/ecampus-0003.csv")).unwrap();
    assert!(
        full.contains("\n21000004;PSY-L1-STATS;student;TD2;300;0"),
        "{full}"
    );
}

// Before: the second entry of a DN given twice was dropped (the first kept), so its
// claim on 21000007 was never seen and 21000007 was enrolled.
#[test]
fn one_dn_twice_in_an_ldif_with_other_values_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let ldif = t.path().join("demo/unicaen.ldif");
    prime(t.path(), &cfg);
    let text = std::fs::read_to_string(&ldif).unwrap();
    let first = text
        .lines()
        .position(|l| l == "dn: uid=e21000004,ou=people,dc=unicaen,dc=fr")
        .unwrap()
        + 1;
    let again = text.lines().count() + 2;
    append(
        &ldif,
        "\ndn: uid=e21000004,ou=people,dc=unicaen,dc=fr\nuid: e21000004\nsupannAliasLogin: 21000004\nsupannEtuId: 21000007\nsupannRessourceEtat: {COMPTE}A\n",
    );
    assert_fails_unchanged(
        t.path(),
        &cfg,
        3,
        &[&format!(
            "unicaen.ldif:{again}: entry uid=e21000004,ou=people,dc=unicaen,dc=fr is given twice, at line {first} and at line {again}, with different values"
        )],
    );
}

// The same entry twice (an export concatenated with itself) is the same directory.
#[test]
fn one_dn_twice_in_an_ldif_with_the_same_values_is_read_once() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let ldif = t.path().join("demo/unicaen.ldif");
    let text = std::fs::read_to_string(&ldif).unwrap();
    std::fs::write(&ldif, format!("{text}\n{text}")).unwrap();
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_matches_expected(
        &outputs(&t.path().join("out")),
        &repo().join("tests/expected/demo"),
    );
}

// Before: `x;1` then `x;0` in the account list: the last row won, x was enrolled.
#[test]
fn one_username_twice_in_an_account_list_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let list = t.path().join("demo/prelude-accounts.csv");
    let text = std::fs::read_to_string(&list).unwrap();
    let header = text.lines().next().unwrap().to_string();
    let row = text.lines().nth(1).unwrap().to_string();
    prime(t.path(), &cfg);
    let cols: Vec<&str> = header.split([';', ',']).collect();
    let at = cols.iter().position(|c| c.trim() == "suspended").unwrap();
    let d = if header.contains(';') { ';' } else { ',' };
    let mut cells: Vec<String> = row.split(d).map(str::to_string).collect();
    cells[at] = "1".into();
    let suspended = cells.join(&d.to_string());
    cells[at] = "0".into();
    let active = cells.join(&d.to_string());
    let n = text.lines().count();
    std::fs::write(
        &list,
        format!(
            "{header}\n{suspended}\n{}\n{active}\n",
            text.lines().skip(2).collect::<Vec<_>>().join("\n")
        ),
    )
    .unwrap();
    let user = cells[0].to_lowercase();
    assert_fails_unchanged(
        t.path(),
        &cfg,
        3,
        &[&format!(
            "prelude-accounts.csv:{}: username {user} is given twice, at line 2 and at line {}",
            n + 1,
            n + 1
        )],
    );
}

// Before: `--accept-suspensions psy-l1-stats` accepted nothing, without a word.
#[test]
fn accepting_a_course_no_run_knows_says_so_with_the_name_meant() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let r = run_with(
        t.path(),
        &cfg,
        "out",
        &["--delta", "--accept-suspensions", "psy-l1-stats,NOPE"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("--accept-suspensions psy-l1-stats: no course of that name")
            && r.stderr
                .contains("(did you mean PSY-L1-STATS? course names are case-sensitive)")
            && r.stderr
                .contains("--accept-suspensions NOPE: no course of that name"),
        "{}",
        r.stderr
    );
}

// Before: left-out.csv copied `=HYPERLINK(…)` as it came; a spreadsheet runs it.
#[test]
fn formulas_in_files_for_people_are_made_text() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    edit(
        &cfg,
        "[toto211, MartinP, dupontm]",
        "[toto211, MartinP, dupontm, \"=HYPERLINK(x)\"]",
    );
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let left = read(t.path(), "out/ecampus/left-out.csv");
    assert!(left.contains(";'=HYPERLINK(x);"), "{left}");
    assert!(!left.contains(";=HYPERLINK"), "{left}");
}

// Before: the README said a dump may drop tables, but dropping one that held rows
// was refused ("Delete is not allowed in a dump").
#[test]
fn a_dump_may_drop_a_table_that_holds_rows() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    append(
        &t.path().join("demo/apogee.sql"),
        "\nCREATE TABLE scratch (a TEXT);\nINSERT INTO scratch VALUES ('x');\nDROP TABLE scratch;\n",
    );
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_matches_expected(
        &outputs(&t.path().join("out")),
        &repo().join("tests/expected/demo"),
    );
}

// Before: a row whose `suspended` cell was empty, or cut off before it, read as an
// active account, and its enrolments were written.
#[test]
fn an_account_list_row_without_its_suspended_value_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let list = t.path().join("demo/prelude-accounts.csv");
    let text = std::fs::read_to_string(&list).unwrap();
    prime(t.path(), &cfg);
    let header = text.lines().next().unwrap().to_string();
    let d = if header.contains(';') { ';' } else { ',' };
    let cols: Vec<&str> = header.split(d).collect();
    let at = cols.iter().position(|c| c.trim() == "suspended").unwrap();
    let row = text.lines().nth(1).unwrap().to_string();
    let user = row.split(d).next().unwrap().to_lowercase();
    let rest: Vec<&str> = text.lines().skip(2).collect();
    for (broken, said) in [
        (
            {
                let mut cells: Vec<&str> = row.split(d).collect();
                cells[at] = "";
                cells.join(&d.to_string())
            },
            format!("prelude-accounts.csv:2: suspended is '' for {user}"),
        ),
        (
            row.split(d)
                .take(at)
                .collect::<Vec<_>>()
                .join(&d.to_string()),
            format!("prelude-accounts.csv:2: the row of {user} stops before its suspended column"),
        ),
    ] {
        std::fs::write(&list, format!("{header}\n{broken}\n{}\n", rest.join("\n"))).unwrap();
        assert_fails_unchanged(t.path(), &cfg, 3, &[&said]);
    }
}

// Before: a secret pasted where its name belongs came back in the error ("environment
// variable <SECRET> is not set"), on stderr, in last-run.json and in `enrolgen
// status`; a password in a Moodle URL reached the report, summary.json, the metrics
// and left-out.csv.
#[test]
fn a_secret_given_for_a_name_or_in_a_url_is_never_shown() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let pasted = "5e1f0c2a9b8d7e6f5e1f0c2a9b8d7e6f";
    for key in ["token_env", "token_file", "token_credential"] {
        let text = std::fs::read_to_string(&cfg).unwrap();
        let with = text.replacen(
            "    csv: { delimiter: \";\", layout: long, max_rows: 150 }\n",
            &format!(
                "    csv: {{ delimiter: \";\", layout: long, max_rows: 150 }}\n    moodle: {{ url: \"http://user:hunter2@127.0.0.1:9\", {key}: {pasted} }}\n    accounts_in: moodle\n"
            ),
            1,
        );
        assert_ne!(with, text);
        let c = cfg.with_file_name(format!("{key}.yaml"));
        std::fs::write(&c, with).unwrap();
        let r = run_with(t.path(), &c, "out", &[]);
        assert_ne!(r.code, 0, "{key}: {}", r.stderr);
        let mut shown = r.stderr.clone();
        for f in [
            "last-run.json",
            "summary.json",
            "enrolgen.prom",
            "report.html",
        ] {
            shown.push_str(
                &std::fs::read_to_string(t.path().join("out").join(f)).unwrap_or_default(),
            );
        }
        shown.push_str(&enrolgen(t.path(), &["status", "--out", "out"]).stdout);
        assert!(!shown.contains(pasted), "{key}: {shown}");
        assert!(!shown.contains("hunter2"), "{key}: {shown}");
    }
}

// Before: `sqlite: /dev/zero` was read without end until the kernel killed the
// process (it took the machine's memory).
#[test]
fn a_device_or_a_folder_named_as_an_input_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    prime(t.path(), &cfg);
    let text = std::fs::read_to_string(&cfg).unwrap();
    let sql = text
        .lines()
        .find(|l| l.trim_start().starts_with("sqlite:"))
        .unwrap()
        .to_string();
    let ldif = text
        .lines()
        .find(|l| l.trim_start().starts_with("ldif:"))
        .unwrap()
        .to_string();
    for (from, to) in [
        (
            sql.clone(),
            sql.replace(sql.trim_start(), "sqlite: /dev/zero"),
        ),
        (
            ldif.clone(),
            ldif.replace(ldif.trim_start(), "ldif: /dev/zero"),
        ),
        (
            sql.clone(),
            sql.replace(sql.trim_start(), "sqlite: /dev/null"),
        ),
    ] {
        std::fs::write(&cfg, text.replacen(&from, &to, 1)).unwrap();
        assert_fails_unchanged(t.path(), &cfg, 3, &["not a regular file"]);
    }
    std::fs::write(&cfg, &text).unwrap();
}

// Before: the tutor's login `MartinP` and another person's `martinp` (one Moodle
// account: usernames are lower-cased when written) were compared with case, as the
// directory's schema compares supannAliasLogin: rows were written for martinp, and
// no ambiguous_account. The same on slapd, in both ways it reads a directory.
#[test]
fn logins_that_differ_only_in_case_are_one_moodle_account() {
    let other = impostor("zz-martin", "supannAliasLogin: MARTINP\n");
    let Some(s) = Slapd::start(Options {
        extra_unicaen: Some(other.clone()),
        ..Options::default()
    }) else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let change = |cfg: &Path| append(&cfg.with_file_name("unicaen.ldif"), &other);
    let reference = copy_demo(&t.path().join("ref"));
    change(&reference);
    let r = run_config(t.path(), &reference, "ref-out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let up = read(t.path(), "ref-out/ecampus/ecampus.csv");
    assert!(!up.contains("\nmartinp;"), "{up}");
    let left = read(t.path(), "ref-out/ecampus/left-out.csv");
    assert!(
        left.lines().any(|l| l.starts_with("ambiguous_account;")
            && l.contains("matches 2 accounts: uid=martinp,ou=people,dc=unicaen,dc=fr (unicaen); uid=zz-martin,")),
        "{left}"
    );
    assert_slapd_gives_the_ldif_files(t.path(), &s, &change);
}
