//! The nightly `--delta` workflow over several nights: a student cancelled then back
//! in another group, the manual change that stays listed until it is marked done,
//! and the suspension cap of a small course beside a normal change elsewhere.

use std::path::{Path, PathBuf};

use crate::util::*;

/// A world of two courses: OPTION (7 students in groups, `{group}`) and SOUTIEN.
struct World {
    dir: PathBuf,
    cfg: PathBuf,
}

impl World {
    fn new(dir: &Path) -> World {
        let cfg = copy_demo(dir);
        let d = cfg.parent().unwrap().to_path_buf();
        std::fs::write(
            d.join("nightly.yaml"),
            "version: 1\nyear: 2026\ndirectories:\n  unicaen: { ldif: unicaen.ldif }\n\
             platforms:\n  ecampus: { accounts: [unicaen], csv: { delimiter: \";\" } }\n\
             cohorts:\n  option: { students: option.csv }\n  soutien: { students: soutien.csv }\n\
             enrol:\n  - { cohort: option, platform: ecampus, course: OPTION, role: student, group: \"{group}\", enrolperiod: 60 }\n\
             \x20 - { cohort: soutien, platform: ecampus, course: SOUTIEN, role: student, enrolperiod: 60 }\n",
        )
        .unwrap();
        World {
            dir: dir.to_path_buf(),
            cfg: d.join("nightly.yaml"),
        }
    }

    /// OPTION's students (number, group) and SOUTIEN's.
    fn sources(&self, option: &[(u32, &str)], soutien: &[u32]) {
        option_and_soutien(self.cfg.parent().unwrap(), option, soutien);
    }

    fn night(&self, day: u32, extra: &[&str]) -> Out {
        let mut args = vec!["--delta"];
        args.extend_from_slice(extra);
        on_day(&self.dir, &self.cfg, "run", "out", day, &args)
    }

    fn read(&self, p: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.join("out/ecampus").join(p)).ok()
    }

    /// What an administrator does after importing: every file of outbox/ into
    /// imported/.
    fn import_all(&self) {
        let outbox = self.dir.join("out/ecampus/outbox");
        let imported = self.dir.join("out/ecampus/imported");
        std::fs::create_dir_all(&imported).unwrap();
        for e in std::fs::read_dir(&outbox).unwrap() {
            let e = e.unwrap();
            if e.file_name().to_string_lossy().ends_with(".csv") {
                std::fs::rename(e.path(), imported.join(e.file_name())).unwrap();
            }
        }
    }
}

const OPTION: [(u32, &str); 7] = [
    (1, "G1"),
    (4, "G1"),
    (7, "G1"),
    (9, "G2"),
    (10, "G2"),
    (11, "G2"),
    (12, "G2"),
];

#[test]
fn a_student_back_in_another_group_and_a_small_course_over_several_nights() {
    let t = tempfile::tempdir().unwrap();
    let w = World::new(t.path());
    let soutien: Vec<u32> = (13..=20).collect();

    // Night 1: everyone.
    w.sources(&OPTION, &soutien);
    let r = w.night(24, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(w
        .read("outbox/ecampus-0001.csv")
        .unwrap()
        .contains("21000001;OPTION;student;G1;60\n"));
    w.import_all();

    // Night 2: 21000001 cancels (1 of 7: within the cap); a newcomer in SOUTIEN.
    let mut more = soutien.clone();
    more.push(21);
    w.sources(&OPTION[1..], &more);
    let r = w.night(25, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        w.read("outbox/ecampus-0002.csv").unwrap(),
        "username;course1;role1;enrolperiod1;enrolstatus1\n21000001;OPTION;student;60;1\n21000021;SOUTIEN;student;60;\n"
    );
    w.import_all();

    // Night 3: 21000001 comes back, in G2. The row reactivates with G2; Moodle keeps
    // G1 too, which only a person can remove: a manual change, named in the warning.
    let mut back = OPTION.to_vec();
    back[0] = (1, "G2");
    w.sources(&back, &more);
    let r = w.night(26, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        w.read("outbox/ecampus-0003.csv").unwrap(),
        "username;course1;role1;group1;enrolperiod1;enrolstatus1\n21000001;OPTION;student;G2;60;0\n"
    );
    let manual = w.read("manual-changes-0003.csv").unwrap();
    assert_eq!(
        manual,
        "username;course;in_moodle;wanted_now\n21000001;OPTION;role student, group G1 + G2, period 60;role student, group G2, period 60\n"
    );
    let warning = "warning: platform ecampus: 1 change(s) to existing enrolments are pending, which a file cannot make: open ecampus/manual-changes-0003.csv";
    assert!(r.stderr.contains(warning), "{}", r.stderr);
    w.import_all();

    // Night 4: nothing new. No file, and the change is still listed (same file).
    let r = w.night(27, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(w.read("outbox/ecampus-0004.csv").is_none());
    assert!(w.read("manual-changes-0004.csv").is_none());
    assert!(r.stderr.contains(warning), "{}", r.stderr);
    let summary = std::fs::read_to_string(t.path().join("out/summary.json")).unwrap();
    assert!(
        summary.contains("\"manual_changes\": 1")
            && summary.contains("\"manual_file\": \"ecampus/manual-changes-0003.csv\""),
        "{summary}"
    );
    let html = std::fs::read_to_string(t.path().join("out/report.html")).unwrap();
    assert!(
        html.contains("<code>ecampus/manual-changes-0003.csv</code>"),
        "report names the file"
    );

    // The administrator removes G1 in Moodle and moves the file into imported/.
    std::fs::rename(
        t.path().join("out/ecampus/manual-changes-0003.csv"),
        t.path()
            .join("out/ecampus/imported/manual-changes-0003.csv"),
    )
    .unwrap();
    let r = w.night(28, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("pending"), "{}", r.stderr);
    let state: serde_json::Value = serde_json::from_str(&w.read("state.json").unwrap()).unwrap();
    let a = state["enrolments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["username"] == "21000001")
        .unwrap();
    assert_eq!(a["groups"], serde_json::json!(["G2"]));

    // Night 6: five of OPTION's seven cancel (a broken extract?) while a newcomer
    // joins SOUTIEN: the newcomer is written, OPTION's suspensions are held back.
    let mut more2 = more.clone();
    more2.push(22);
    w.sources(&back[..2], &more2);
    let r = w.night(29, &["--accept-shrink"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("course OPTION: 5 suspension(s) held back: 5 of 7 enrolments (71%)"),
        "{}",
        r.stderr
    );
    assert_eq!(
        w.read("outbox/ecampus-0004.csv").unwrap(),
        "username;course1;role1;enrolperiod1\n21000022;SOUTIEN;student;60\n"
    );
    // Still held the next night; accepted by name after review.
    w.import_all();
    assert_eq!(w.night(30, &[]).code, 5);
    let r = w.night(30, &["--accept-suspensions", "OPTION"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let f = w.read("outbox/ecampus-0005.csv").unwrap();
    assert_eq!(f.lines().filter(|l| l.ends_with(";1")).count(), 5, "{f}");
}

/// Before: a course renamed in the mapping left its old enrolments to suspend, held
/// back by the caps; `--accept-suspensions OLD` warned "no course of that name …
/// so nothing was accepted for it" and then suspended them. The word and the deed
/// now agree, and a name that matches nothing accepts nothing.
#[test]
fn accepting_the_suspensions_of_a_course_renamed_in_the_mapping_says_what_it_does() {
    let t = tempfile::tempdir().unwrap();
    let w = World::new(t.path());
    let soutien: Vec<u32> = (13..=20).collect();
    w.sources(&OPTION, &soutien);
    assert_eq!(w.night(24, &[]).code, 0);
    w.import_all();
    // OPTION becomes OPTION-B in the mapping: its seven enrolments are suspended
    // (held back: all of a course), the new course's written.
    let text = std::fs::read_to_string(&w.cfg).unwrap();
    std::fs::write(&w.cfg, text.replace("course: OPTION,", "course: OPTION-B,")).unwrap();
    let r = w.night(25, &[]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("course OPTION: 7 suspension(s) held back"),
        "{}",
        r.stderr
    );
    w.import_all();
    // A name that matches nothing accepts nothing, and says so.
    let r = w.night(26, &["--accept-suspensions", "OPTIONX"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("--accept-suspensions OPTIONX: no course of that name"),
        "{}",
        r.stderr
    );
    w.import_all();
    // The old name matches the held-back suspensions: they are written, without a
    // word that nothing was accepted.
    let r = w.night(26, &["--accept-suspensions", "OPTION"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("no course of that name"), "{}", r.stderr);
    let suspended = std::fs::read_dir(t.path().join("out/ecampus/outbox"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .flat_map(|f| f.lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|l| l.contains(";OPTION;") && l.ends_with(";1"))
        .count();
    assert_eq!(suspended, 7);
}
