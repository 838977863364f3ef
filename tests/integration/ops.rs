//! Operating enrolgen: nightly delta runs and the outbox, the lock, cron-quiet output,
//! `explain`, `adhoc`, completions and the man page.

use std::process::Command;

use super::util::*;

/// A one-course config fed by a student list, with the demo's Caen directory.
fn soutien(dir: &std::path::Path, ids: &[u32], role: &str) -> std::path::PathBuf {
    let cfg = copy_demo(dir);
    let d = cfg.parent().unwrap();
    std::fs::write(
        d.join("soutien.yaml"),
        format!(
            "version: 1\nyear: 2026\ndirectories:\n  unicaen: {{ ldif: unicaen.ldif }}\nplatforms:\n  ecampus: {{ accounts: [unicaen], csv: {{ delimiter: \";\" }} }}\n\
             cohorts:\n  soutien: {{ students: soutien.csv }}\nenrol:\n  - {{ cohort: soutien, platform: ecampus, course: SOUTIEN, role: {role}, enrolperiod: 60 }}\n"
        ),
    )
    .unwrap();
    let mut list = String::from("student_id\n");
    for i in ids {
        list.push_str(&format!("{}\n", 21000000 + i));
    }
    std::fs::write(d.join("soutien.csv"), list).unwrap();
    d.join("soutien.yaml")
}

fn twenty() -> Vec<u32> {
    (1..=21).filter(|i| *i != 8).collect()
}

fn delta(dir: &std::path::Path, cfg: &std::path::Path, extra: &[&str]) -> Out {
    let mut args = vec!["--delta"];
    args.extend_from_slice(extra);
    run_with(dir, cfg, "out", &args)
}

#[test]
fn delta_writes_only_new_enrolments_and_suspensions_in_a_new_file() {
    let t = tempfile::tempdir().unwrap();
    let cfg = soutien(t.path(), &twenty(), "student");
    let r = delta(t.path(), &cfg, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first = t.path().join("out/ecampus/outbox/ecampus-0001.csv");
    let first_bytes = std::fs::read(&first).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&first_bytes).lines().count(),
        21,
        "header + 20 enrolments"
    );
    let import = std::fs::read_to_string(t.path().join("out/ecampus/outbox/IMPORT.txt")).unwrap();
    assert!(
        import.contains("every .csv of this folder, in number order")
            && import.contains("Update existing users only"),
        "{import}"
    );
    // A delta limited to some cohorts would suspend everybody else: refused.
    let r = delta(t.path(), &cfg, &["--cohort", "soutien"]);
    assert_eq!(r.code, 2, "{}", r.stderr);

    // One student leaves, one arrives.
    let mut ids = twenty();
    ids.retain(|i| *i != 5);
    ids.push(22);
    let cfg = soutien(t.path(), &ids, "student");
    let r = delta(t.path(), &cfg, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let second =
        std::fs::read_to_string(t.path().join("out/ecampus/outbox/ecampus-0002.csv")).unwrap();
    assert_eq!(second, "username;course1;role1;enrolperiod1;enrolstatus1\n21000005;SOUTIEN;student;60;1\n21000022;SOUTIEN;student;60;\n");
    assert_eq!(
        std::fs::read(&first).unwrap(),
        first_bytes,
        "the first file is never touched"
    );

    // Nothing changed: no new file. The admin moved the imported files: numbering goes on.
    let r = delta(t.path(), &cfg, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!t
        .path()
        .join("out/ecampus/outbox/ecampus-0003.csv")
        .exists());
    let imported = t.path().join("out/ecampus/imported");
    std::fs::create_dir_all(&imported).unwrap();
    for n in ["ecampus-0001.csv", "ecampus-0002.csv"] {
        std::fs::rename(
            t.path().join("out/ecampus/outbox").join(n),
            imported.join(n),
        )
        .unwrap();
    }
    let cfg = soutien(t.path(), &twenty(), "student");
    let r = delta(t.path(), &cfg, &["--json", "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let third =
        std::fs::read_to_string(t.path().join("out/ecampus/outbox/ecampus-0003.csv")).unwrap();
    assert_eq!(third, "username;course1;role1;enrolperiod1;enrolstatus1\n21000005;SOUTIEN;student;60;0\n21000022;SOUTIEN;student;60;1\n");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["platforms"]["ecampus"]["delta"]["reactivated"], 1);
    assert_eq!(v["platforms"]["ecampus"]["delta"]["suspended"], 1);
}

#[test]
fn delta_holds_back_the_suspensions_of_an_emptied_course() {
    let t = tempfile::tempdir().unwrap();
    let cfg = soutien(t.path(), &twenty(), "student");
    assert_eq!(delta(t.path(), &cfg, &[]).code, 0);
    let state = std::fs::read(t.path().join("out/ecampus/state.json")).unwrap();
    let cfg = soutien(t.path(), &[], "student");
    // The student list shrank to nothing: past the shrink guard (tested on its own),
    // the suspension cap still holds.
    let r = delta(t.path(), &cfg, &["--accept-shrink"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr.contains("warning: platform ecampus: course SOUTIEN: 20 suspension(s) held back: 20 of 20 enrolments (100%), above max_suspend_ratio 10% and max_suspend_count 3. Not written, retried next run"),
        "{}",
        r.stderr
    );
    assert!(!t
        .path()
        .join("out/ecampus/outbox/ecampus-0002.csv")
        .exists());
    // Still pending: the state records them as they were (only the date moves).
    let after = std::fs::read_to_string(t.path().join("out/ecampus/state.json")).unwrap();
    let before = String::from_utf8(state).unwrap();
    assert_eq!(
        after.replace("\"as_of\": \"2026-11-24\"", ""),
        before.replace("\"as_of\": \"2026-11-24\"", "")
    );
    let summary = std::fs::read_to_string(t.path().join("out/summary.json")).unwrap();
    assert!(
        summary.contains("\"held\": [") && summary.contains("\"suspensions\": 20"),
        "{summary}"
    );
    // Another course's name accepts nothing; the course's name (or no value) does.
    assert_eq!(
        delta(
            t.path(),
            &cfg,
            &["--accept-shrink", "--accept-suspensions", "OTHER"]
        )
        .code,
        5
    );
    let r = delta(
        t.path(),
        &cfg,
        &["--accept-suspensions", "SOUTIEN", "--accept-shrink"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let f = std::fs::read_to_string(t.path().join("out/ecampus/outbox/ecampus-0002.csv")).unwrap();
    assert_eq!(f.lines().filter(|l| l.ends_with(";1")).count(), 20);
}

#[test]
fn role_change_is_reported_for_a_person_not_written() {
    let t = tempfile::tempdir().unwrap();
    let cfg = soutien(t.path(), &twenty(), "student");
    assert_eq!(delta(t.path(), &cfg, &[]).code, 0);
    let cfg = soutien(t.path(), &twenty(), "teacher");
    let r = delta(t.path(), &cfg, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!t
        .path()
        .join("out/ecampus/outbox/ecampus-0002.csv")
        .exists());
    let m = std::fs::read_to_string(t.path().join("out/ecampus/manual-changes-0002.csv")).unwrap();
    assert_eq!(m.lines().count(), 21);
    assert!(
        m.contains("21000001;SOUTIEN;role student, period 60;role teacher, period 60\n"),
        "{m}"
    );
}

#[test]
fn full_run_rewrites_everything_and_resets_the_state() {
    let t = tempfile::tempdir().unwrap();
    let cfg = soutien(t.path(), &twenty(), "student");
    assert_eq!(delta(t.path(), &cfg, &[]).code, 0);
    let r = run_with(t.path(), &cfg, "out", &["--full"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let f = std::fs::read_to_string(t.path().join("out/ecampus/outbox/ecampus-0002.csv")).unwrap();
    assert_eq!(f.lines().count(), 21);
}

#[test]
fn a_held_lock_refuses_a_second_run_and_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let args = run_args(&cfg, "out");
    assert_eq!(enrolgen(t.path(), &args).code, 0);
    let before = read_tree(&t.path().join("out"));
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(t.path().join("out/.enrolgen.lock"))
        .unwrap();
    lock.lock().unwrap();
    let r = enrolgen(t.path(), &args);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("another enrolgen run holds the lock"),
        "{}",
        r.stderr
    );
    assert_same_files(&read_tree(&t.path().join("out")), &before);
    drop(lock);
    assert_eq!(enrolgen(t.path(), &args).code, 0);
}

#[test]
fn concurrent_runs_never_corrupt_the_output() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    assert_eq!(run_config(t.path(), &cfg, "ref").code, 0);
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_enrolgen"))
            .args([
                "run",
                "-c",
                cfg.to_str().unwrap(),
                "--out",
                "out",
                "--as-of",
                AS_OF,
            ])
            .current_dir(t.path())
            .output()
            .unwrap()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = s.spawn(spawn);
        (a.join().unwrap(), b.join().unwrap())
    });
    let codes = [a.status.code().unwrap(), b.status.code().unwrap()];
    assert!(
        codes.contains(&0) && codes.iter().all(|c| *c == 0 || *c == 4),
        "{codes:?}"
    );
    assert_same_files(
        &outputs(&t.path().join("out")),
        &outputs(&t.path().join("ref")),
    );
}

#[test]
fn cron_run_is_silent_on_stdout_and_has_no_progress_bar() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, "");
    assert_eq!(r.stderr, "enrolgen: warning: cohort his-l1 returned nobody for year 2026 (a typo in an étape code or version is the usual cause)\n\
        enrolgen: warning: platform collegium: 1 ambiguous identity (a student number or username that several accounts claim, or an account with several): nobody is enrolled for it; see ambiguous_account in left-out.csv\n\
        enrolgen: warning: platform collegium: student number 21000159 matches 2 accounts: uid=e21000159,ou=people,dc=unicaen,dc=fr (unicaen); uid=jdouble,ou=people,dc=universitice,dc=fr (universitice)\n");
    let v = enrolgen(
        t.path(),
        &[
            "run",
            "-v",
            "-c",
            cfg.to_str().unwrap(),
            "--out",
            "out",
            "--as-of",
            AS_OF,
        ],
    );
    assert_eq!(v.stdout, "");
    assert!(
        v.stderr.contains("  ecampus: 199 enrolments in 2 file(s)"),
        "{}",
        v.stderr
    );
    assert!(
        !v.stderr.contains('\r') && !v.stderr.contains('\x1b'),
        "no spinner, no colour codes"
    );
}

#[test]
fn explain_lists_enrolments_and_reasons() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let r = enrolgen(
        t.path(),
        &[
            "explain",
            "-c",
            cfg.to_str().unwrap(),
            "--as-of",
            AS_OF,
            "21000004",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "21000004 (year 2026, as of 2026-11-24):\n\
         Account uid=e21000004,ou=people,dc=unicaen,dc=fr (unicaen, username 21000004):\n  \
         supannRessourceEtat: {COMPTE}A — active\n  on 2026-11-24: active\nPlanned:\n  ecampus: PSY-L1-METHODO as student (username 21000004) — rule #3 (cohort psy-l1)\n  \
         ecampus: PSY-L1-STATS as student (username 21000004), group TD2, 300 days, status 0 — rule #1, #2 (cohort psy-l1, psy-l1-td)\n"
    );
    let r = enrolgen(
        t.path(),
        &[
            "explain",
            "-c",
            cfg.to_str().unwrap(),
            "--as-of",
            AS_OF,
            "21000043",
        ],
    );
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

#[test]
fn adhoc_from_a_cohort_and_from_a_csv() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let c = cfg.to_str().unwrap();
    let r = enrolgen(
        t.path(),
        &[
            "adhoc",
            "-c",
            c,
            "--as-of",
            AS_OF,
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
        ],
    );
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
    let r = enrolgen(
        t.path(),
        &[
            "adhoc",
            "-c",
            c,
            "--as-of",
            AS_OF,
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
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Collégium's rules: students need a 'sante' cohort tag, which an ad hoc list has not.
    let left =
        std::fs::read_to_string(t.path().join("x/collegium-PASS-ATELIER-left-out.csv")).unwrap();
    assert!(
        left.contains("rule_not_met,PASS-ATELIER,student,21000151"),
        "{left}"
    );
    let r = enrolgen(
        t.path(),
        &[
            "adhoc",
            "-c",
            c,
            "--as-of",
            AS_OF,
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
        ],
    );
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

#[test]
fn help_completions_and_man_page() {
    let t = tempfile::tempdir().unwrap();
    for cmd in [
        "run",
        "check",
        "lint",
        "explain",
        "adhoc",
        "init",
        "completions",
        "man",
    ] {
        let r = enrolgen(t.path(), &[cmd, "--help"]);
        assert_eq!(r.code, 0);
        assert!(r.stdout.contains("Example"), "{cmd} --help has an example");
    }
    let r = enrolgen(t.path(), &["completions", "bash"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("complete -F _enrolgen"),
        "{}",
        &r.stdout[..200.min(r.stdout.len())]
    );
    let r = enrolgen(t.path(), &["man"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.starts_with(".ie \\n(.g .ds Aq") || r.stdout.contains(".TH enrolgen"),
        "{}",
        &r.stdout[..200.min(r.stdout.len())]
    );
}

/// Everything under `out` (files and their bytes) but the lock.
fn snapshot(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    read_tree(&dir.join("out"))
}

// The delta-state tests below were checked to fail with `outbox::verify` reduced to
// `Ok(state.pending.clone())` (the foreign state and the lost or edited file were
// then taken silently), and the corrupt-state test with `load_state` returning
// `None` on a parse error (a silent full re-import).

/// A first delta (file 0001 with 20 enrolments), then the list grows by two.
fn delta_with_pending_file(dir: &std::path::Path) -> std::path::PathBuf {
    let cfg = soutien(dir, &twenty(), "student");
    let r = delta(dir, &cfg, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut more = twenty();
    more.extend([30, 31]);
    soutien(dir, &more, "student")
}

#[test]
fn a_corrupt_or_truncated_state_is_refused_and_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let cfg = delta_with_pending_file(t.path());
    let state = t.path().join("out/ecampus/state.json");
    let good = std::fs::read(&state).unwrap();
    for bad in [
        b"{ not json".to_vec(),
        good[..good.len() / 2].to_vec(),
        Vec::new(),
    ] {
        std::fs::write(&state, &bad).unwrap();
        let before = snapshot(t.path());
        let r = delta(t.path(), &cfg, &[]);
        assert_eq!(r.code, 4, "{}", r.stderr);
        assert!(
            r.stderr.contains("the delta state")
                && r.stderr.contains("is unreadable")
                && r.stderr.contains("move it away and run with --full"),
            "{}",
            r.stderr
        );
        assert_eq!(snapshot(t.path()), before, "nothing written, no suspension");
    }
}

#[test]
fn a_state_from_another_platform_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let cfg = delta_with_pending_file(t.path());
    let state = t.path().join("out/ecampus/state.json");
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(text.contains("\"platform\": \"ecampus\""), "{text}");
    std::fs::write(
        &state,
        text.replace("\"platform\": \"ecampus\"", "\"platform\": \"prelude\""),
    )
    .unwrap();
    let before = snapshot(t.path());
    let r = delta(t.path(), &cfg, &[]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("it belongs to platform prelude, not ecampus"),
        "{}",
        r.stderr
    );
    assert_eq!(snapshot(t.path()), before);
}

#[test]
fn an_outbox_file_deleted_or_edited_by_hand_is_refused_until_recovered() {
    let t = tempfile::tempdir().unwrap();
    let cfg = delta_with_pending_file(t.path());
    let outbox = t.path().join("out/ecampus/outbox");
    let file = outbox.join("ecampus-0001.csv");
    let written = std::fs::read(&file).unwrap();
    // Edited: a row removed by hand.
    let edited: Vec<&str> = std::str::from_utf8(&written)
        .unwrap()
        .lines()
        .take(5)
        .collect();
    std::fs::write(&file, edited.join("\n") + "\n").unwrap();
    let before = snapshot(t.path());
    let r = delta(t.path(), &cfg, &[]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("outbox/ecampus-0001.csv was changed after enrolgen wrote it"),
        "{}",
        r.stderr
    );
    assert_eq!(snapshot(t.path()), before);
    // Deleted: neither in outbox/ nor imported/.
    std::fs::remove_file(&file).unwrap();
    let before = snapshot(t.path());
    let r = delta(t.path(), &cfg, &[]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("ecampus-0001.csv is in neither outbox/ nor imported/"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("start again with --full"), "{}", r.stderr);
    assert_eq!(snapshot(t.path()), before);
    // Recovered: the original put back in imported/ (it was imported).
    let imported = t.path().join("out/ecampus/imported");
    std::fs::create_dir_all(&imported).unwrap();
    std::fs::write(imported.join("ecampus-0001.csv"), &written).unwrap();
    let r = delta(t.path(), &cfg, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let second = std::fs::read_to_string(outbox.join("ecampus-0002.csv")).unwrap();
    assert_eq!(
        second.lines().count(),
        3,
        "only the two new enrolments: {second}"
    );
    // The imported file is no longer watched; the new one is.
    let state = std::fs::read_to_string(t.path().join("out/ecampus/state.json")).unwrap();
    assert!(
        state.contains("ecampus-0002.csv") && !state.contains("ecampus-0001.csv"),
        "{state}"
    );
}

#[test]
fn full_is_the_way_out_of_a_lost_outbox_file() {
    let t = tempfile::tempdir().unwrap();
    let cfg = delta_with_pending_file(t.path());
    std::fs::remove_file(t.path().join("out/ecampus/outbox/ecampus-0001.csv")).unwrap();
    let r = run_with(t.path(), &cfg, "out", &["--full"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let full =
        std::fs::read_to_string(t.path().join("out/ecampus/outbox/ecampus-0002.csv")).unwrap();
    assert_eq!(full.lines().count(), 23, "header + every enrolment: {full}");
    let r = delta(t.path(), &cfg, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}
