//! Nightly `--delta` runs: the outbox, the delta state and its checks, `--full`.

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
    // Before: a snapshot's IMPORT.txt beside, naming files a delta never writes.
    assert!(!t.path().join("out/ecampus/IMPORT.txt").exists());
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

/// The outbox's upload files and the state of a tree read by `read_tree` (IMPORT.txt,
/// which the state does not track, is written again by every night with files).
fn night_files(tree: &std::collections::BTreeMap<String, Vec<u8>>) -> Vec<(String, Vec<u8>)> {
    tree.iter()
        .filter(|(k, _)| {
            (k.starts_with("ecampus/outbox/") && k.ends_with(".csv"))
                || k.starts_with("ecampus/state.json")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Before: a night renamed its outbox files before it wrote any state.json; a kill
/// between the two left a file the state did not know, every later night refused
/// it ("was not written by enrolgen"), and one way out offered, --full, reset every
/// enrolment's dates. Each step of the writes is played here (the state written
/// under its own name first, then each file, then the state renamed): the next
/// night leaves exactly what the night would have.
#[test]
fn a_night_killed_at_any_step_of_its_writes_is_completed_or_undone() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let cfg = soutien(t.path(), &twenty(), "student");
    assert_eq!(delta(t.path(), &cfg, &[]).code, 0);
    let after_1 = read_tree(&out);
    let mut ids = twenty();
    ids.retain(|i| *i != 5);
    ids.push(22);
    let cfg = soutien(t.path(), &ids, "student");
    assert_eq!(delta(t.path(), &cfg, &[]).code, 0);
    let after_2 = read_tree(&out);
    let wanted = night_files(&after_2);
    // What night 2 put in outbox/, in the order it renames them.
    let added: Vec<&String> = after_2
        .keys()
        .filter(|k| {
            k.starts_with("ecampus/outbox/")
                && k.ends_with(".csv")
                && after_1.get(*k) != after_2.get(*k)
        })
        .collect();
    assert_eq!(added, ["ecampus/outbox/ecampus-0002.csv"]);
    let state_2 = &after_2["ecampus/state.json"];
    for step in 0..=added.len() + 1 {
        std::fs::remove_dir_all(&out).unwrap();
        for (k, v) in &after_1 {
            let p = out.join(k);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, v).unwrap();
        }
        std::fs::write(out.join("ecampus/state.json.next"), state_2).unwrap();
        for f in added.iter().take(step) {
            std::fs::write(out.join(f), &after_2[*f]).unwrap();
        }
        if step == added.len() + 1 {
            // Killed after the last rename: the state is the new one already.
            std::fs::rename(
                out.join("ecampus/state.json.next"),
                out.join("ecampus/state.json"),
            )
            .unwrap();
        }
        let r = delta(t.path(), &cfg, &[]);
        assert_eq!(r.code, 0, "step {step}: {}", r.stderr);
        if step <= added.len() {
            assert!(
                r.stderr.contains("the last run was killed"),
                "step {step}: {}",
                r.stderr
            );
        }
        assert_eq!(night_files(&read_tree(&out)), wanted, "step {step}");
        assert!(!out.join("ecampus/state.json.next").exists());
    }
}

/// Before: a state.json edited by hand without `platform` or `as_of` skipped the
/// guards that read them, its next file number wrapped to 0 silently, and stray
/// outbox files named `ECAMPUS-0009.csv`, `ecampus-0009.CSV` or `ecampus-00012.csv`
/// went unnoticed.
#[test]
fn a_state_edited_by_hand_or_a_stray_file_of_any_name_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let cfg = soutien(t.path(), &twenty(), "student");
    assert_eq!(delta(t.path(), &cfg, &[]).code, 0);
    let state = t.path().join("out/ecampus/state.json");
    let good = std::fs::read_to_string(&state).unwrap();
    let v: serde_json::Value = serde_json::from_str(&good).unwrap();
    let refused = |needle: &str| {
        let r = delta(t.path(), &cfg, &[]);
        assert_eq!(r.code, 4, "{needle}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{needle}: {}", r.stderr);
    };
    for (key, missing) in [("platform", "platform"), ("as_of", "as-of day")] {
        let mut edited = v.clone();
        edited.as_object_mut().unwrap().remove(key);
        std::fs::write(&state, edited.to_string()).unwrap();
        refused(&format!("names no {missing} (edited by hand?)"));
    }
    let mut edited = v.clone();
    edited["next_file"] = serde_json::json!(u32::MAX);
    std::fs::write(&state, edited.to_string()).unwrap();
    refused("its next file number is 4294967295, not one enrolgen writes");
    std::fs::write(&state, &good).unwrap();
    let outbox = t.path().join("out/ecampus/outbox");
    for stray in ["ECAMPUS-0009.csv", "ecampus-0009.CSV", "ecampus-00012.csv"] {
        std::fs::write(outbox.join(stray), "username;course1\n").unwrap();
        refused(&format!("outbox/{stray} was not written by enrolgen"));
        std::fs::remove_file(outbox.join(stray)).unwrap();
    }
    assert_eq!(delta(t.path(), &cfg, &[]).code, 0);
}

/// One course per academic year (`SOUTIEN-{year}`): on 1 September the night enrols
/// in the new year's course and leaves last year's as it is — no suspension, no cap
/// held, no manual step — and says so once.
#[test]
fn a_course_per_year_turns_over_on_year_start_without_suspensions() {
    let t = tempfile::tempdir().unwrap();
    let cfg = soutien(t.path(), &twenty(), "student");
    let yaml = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("year: 2026", "year: auto")
        .replace(
            "course: SOUTIEN,",
            "course: [\"SOUTIEN-{year}\", \"TUTORAT {year_label}\", SOUTIEN],",
        );
    std::fs::write(&cfg, yaml).unwrap();
    let night = |day: &str, extra: &[&str]| night_with(t.path(), &cfg, day, extra);
    let r = night("2026-08-31", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first =
        std::fs::read_to_string(t.path().join("out/ecampus/outbox/ecampus-0001.csv")).unwrap();
    assert!(
        first.contains(
            "\n21000001;SOUTIEN-2025;student;60\n21000001;TUTORAT 2025-2026;student;60\n"
        ),
        "{first}"
    );

    // What the turnover will do, shown before the day.
    let r = night("2026-09-01", &["--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("course SOUTIEN-2025 is an earlier academic year's: no longer managed; its 20 enrolment(s) are left in Moodle as they are"), "{}", r.stderr);

    let r = night("2026-09-01", &[]);
    assert_eq!(r.code, 0, "no suspension held back: {}", r.stderr);
    assert!(
        r.stderr
            .contains("course TUTORAT 2025-2026 is an earlier academic year's"),
        "{}",
        r.stderr
    );
    let second =
        std::fs::read_to_string(t.path().join("out/ecampus/outbox/ecampus-0002.csv")).unwrap();
    assert!(
        second.contains(
            "\n21000001;SOUTIEN-2026;student;60\n21000001;TUTORAT 2026-2027;student;60\n"
        ),
        "{second}"
    );
    assert_eq!(
        second.lines().count(),
        1 + 40,
        "the new year's two courses only: {second}"
    );
    assert!(
        !second.contains("2025;"),
        "last year's courses are left alone: {second}"
    );
    let summary = std::fs::read_to_string(t.path().join("out/summary.json")).unwrap();
    assert!(summary.contains("\"no_longer_managed\""), "{summary}");

    // Said once: the next night neither suspends nor repeats it.
    let r = night("2026-09-02", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("no longer managed"), "{}", r.stderr);
    assert!(!t
        .path()
        .join("out/ecampus/outbox/ecampus-0003.csv")
        .exists());
}

/// The demo's Apogée with the 56 PSY1L1 students registered in 2025, of whom only
/// the first `reregistered` are registered again in 2026.
pub(crate) fn psy_years(
    dir: &std::path::Path,
    reregistered: usize,
    window: bool,
) -> std::path::PathBuf {
    let cfg = copy_demo(dir);
    let d = cfg.parent().unwrap();
    let sql = std::fs::read_to_string(d.join("apogee.sql")).unwrap();
    let psy = "INSERT INTO INS_ADM_ETP VALUES ('2026', ";
    let mut out = String::new();
    let mut kept = 0;
    for line in sql.lines() {
        let is_psy = line.starts_with(psy) && line.contains("'PSY1L1', 101, 1, 'E', 'P'");
        if is_psy {
            out.push_str(
                &line
                    .replace("('2026', ", "('2025', ")
                    .replace("'2026-07", "'2025-07"),
            );
            out.push('\n');
            kept += 1;
            if kept > reregistered {
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    std::fs::write(d.join("years.sql"), out).unwrap();
    let until = if window {
        "keep_previous_year_until: \"10-31\"\n"
    } else {
        ""
    };
    std::fs::write(
        d.join("years.yaml"),
        format!(
            "version: 1\nyear: auto\n{until}apogee: {{ sqlite: years.sql }}\ndirectories:\n  unicaen: {{ ldif: unicaen.ldif, match: supannEtuId, username: supannAliasLogin }}\n\
             platforms:\n  ecampus: {{ accounts: [unicaen], csv: {{ delimiter: \";\" }} }}\n\
             cohorts:\n  psy: {{ apogee: {{ etape: PSY1L1, version: 101 }} }}\nenrol:\n  - {{ cohort: psy, platform: ecampus, course: PSY-STATS, role: student }}\n"
        ),
    )
    .unwrap();
    d.join("years.yaml")
}

/// A `--delta` night of `cfg` into `dir/out` on `day`, with more arguments.
fn night_of(dir: &std::path::Path, cfg: &std::path::Path, day: &str) -> Out {
    night_with(dir, cfg, day, &[])
}

fn night_with(dir: &std::path::Path, cfg: &std::path::Path, day: &str, extra: &[&str]) -> Out {
    let mut args = vec![
        "run",
        "-c",
        cfg.to_str().unwrap(),
        "--out",
        "out",
        "--delta",
        "--as-of",
        day,
    ];
    args.extend_from_slice(extra);
    enrolgen(dir, &args)
}

fn suspensions(dir: &std::path::Path, n: u32) -> usize {
    let f = dir.join(format!("out/ecampus/outbox/ecampus-{n:04}.csv"));
    std::fs::read_to_string(&f)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.ends_with(";1"))
        .count()
}

/// A course reused every year, with a re-registration window: on 1 September the
/// students of the previous year who have not re-registered keep their enrolment
/// (no suspension, no cap held, no manual step) until the window's day; that day
/// those still not re-registered are suspended, as planned, outside the caps.
#[test]
fn a_reused_course_keeps_last_years_students_until_the_window_closes() {
    let t = tempfile::tempdir().unwrap();
    let r = night_of(t.path(), &psy_years(t.path(), 10, true), "2026-08-31");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first =
        std::fs::read_to_string(t.path().join("out/ecampus/outbox/ecampus-0001.csv")).unwrap();
    assert!(
        first.lines().count() > 40,
        "last year's students enrolled: {first}"
    );

    // 1 September: ten have re-registered, the others are kept.
    let r = night_of(t.path(), &psy_years(t.path(), 10, true), "2026-09-01");
    assert_eq!(r.code, 0, "nothing held back: {}", r.stderr);
    assert!(
        r.stderr.contains("course PSY-STATS: ")
            && r.stderr.contains(
                "enrolment(s) of the previous academic year kept for the turnover until 2026-10-31"
            ),
        "{}",
        r.stderr
    );
    assert!(
        !t.path()
            .join("out/ecampus/outbox/ecampus-0002.csv")
            .exists(),
        "nothing written"
    );

    // Re-registrations arrive over September and October.
    let r = night_of(t.path(), &psy_years(t.path(), 40, true), "2026-10-15");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!t
        .path()
        .join("out/ecampus/outbox/ecampus-0002.csv")
        .exists());
    let r = night_of(t.path(), &psy_years(t.path(), 40, true), "2026-10-30");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        suspensions(t.path(), 2),
        0,
        "the window's last day: nobody suspended"
    );

    // The window's day: those still not re-registered are suspended, none held back.
    let r = night_of(t.path(), &psy_years(t.path(), 40, true), "2026-10-31");
    assert_eq!(r.code, 0, "planned, not held back: {}", r.stderr);
    // Exactly those of last year the new year's plan does not give.
    let users = |text: &str, suspended: bool| -> std::collections::BTreeSet<String> {
        text.lines()
            .skip(1)
            .filter(|l| l.ends_with(";1") == suspended)
            .map(|l| l.split(';').next().unwrap().to_string())
            .collect()
    };
    let snapshot = enrolgen(
        t.path(),
        &[
            "run",
            "-c",
            psy_years(t.path(), 40, true).to_str().unwrap(),
            "--out",
            "now",
            "--as-of",
            "2026-10-31",
        ],
    );
    assert_eq!(snapshot.code, 0, "{}", snapshot.stderr);
    let planned = users(
        &std::fs::read_to_string(t.path().join("now/ecampus/ecampus.csv")).unwrap(),
        false,
    );
    let second =
        std::fs::read_to_string(t.path().join("out/ecampus/outbox/ecampus-0002.csv")).unwrap();
    let expected: std::collections::BTreeSet<String> =
        users(&first, false).difference(&planned).cloned().collect();
    assert!(
        expected.len() > 3,
        "more than the caps let through: {}",
        expected.len()
    );
    assert_eq!(
        users(&second, true),
        expected,
        "every one still not re-registered"
    );
    assert!(!r.stderr.contains("kept for the turnover"), "{}", r.stderr);

    // The night after: nothing more to do.
    let r = night_of(t.path(), &psy_years(t.path(), 40, true), "2026-11-01");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!t
        .path()
        .join("out/ecampus/outbox/ecampus-0003.csv")
        .exists());
}

/// Without a window, 1 September is a mass suspension the caps hold back (exit 5):
/// what the window is for.
#[test]
fn without_a_window_last_years_students_are_held_back_on_year_start() {
    let t = tempfile::tempdir().unwrap();
    let r = night_of(t.path(), &psy_years(t.path(), 10, false), "2026-08-31");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = night_of(t.path(), &psy_years(t.path(), 10, false), "2026-09-01");
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("held back"), "{}", r.stderr);
}
