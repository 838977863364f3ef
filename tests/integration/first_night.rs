//! The first night on a Moodle that already holds enrolments (issue 38): a
//! university adopting enrolgen has these students enrolled already, by hand or by
//! earlier imports. Recorded from the harness (tests/fixtures/moodle/README.md): a site
//! where 21000001 is enrolled in OPTION since 2026-09-01 in its group, 21000004 without
//! its group, 21000013 in SOUTIEN, and 21000099 (no cohort) by somebody else.

use std::path::{Path, PathBuf};

use crate::moodle_server::{live_site, psql, replay, with_recording, TOKEN};
use crate::util::*;

const STUDENTS: [u32; 8] = [1, 4, 7, 9, 10, 13, 14, 99];
/// 2026-09-01 00:00 UTC: the old start of the enrolments already there.
const OLD_START: i64 = 1_788_220_800;

fn world() -> serde_json::Value {
    let enrol = |u: u32, course: &str, groups: &[&str]| {
        serde_json::json!({"username": format!("{}", 21000000 + u), "course": course,
            "role": "student", "timestart": OLD_START, "groups": groups})
    };
    serde_json::json!({
        "users": STUDENTS.iter().map(|u| serde_json::json!({"username": format!("{}", 21000000 + u)})).collect::<Vec<_>>(),
        "courses": [{"shortname": "OPTION"}, {"shortname": "SOUTIEN"}],
        "enrolments": [
            enrol(1, "OPTION", &["TD G1"]),
            enrol(4, "OPTION", &[]),
            enrol(13, "SOUTIEN", &[]),
            enrol(99, "OPTION", &[]),
        ],
    })
}

/// The configuration: OPTION (groups `TD {group}`) and SOUTIEN from student lists,
/// delivered as `deliver`, with the site's connection when `url` is given.
fn config(dir: &Path, url: Option<&str>, deliver: &str) -> PathBuf {
    let cfg = copy_demo(dir);
    let d = cfg.parent().unwrap().to_path_buf();
    std::fs::write(d.join("token"), format!("{TOKEN}\n")).unwrap();
    let moodle = url.map_or(String::new(), |u| {
        format!(
            "    moodle: {{ url: \"{u}\", token_file: {} }}\n",
            d.join("token").display()
        )
    });
    let text = format!(
        "version: 1\nyear: 2026\n\
         directories:\n  unicaen: {{ ldif: unicaen.ldif, match: supannEtuId, username: supannAliasLogin }}\n\
         platforms:\n  ecampus:\n    accounts: [unicaen]\n    roles: [student, editingteacher, teacher, manager]\n\
         \x20   deliver: {deliver}\n{moodle}\
         cohorts:\n  option: {{ students: option.csv }}\n  soutien: {{ students: soutien.csv }}\n\
         enrol:\n  - {{ cohort: option, platform: ecampus, course: OPTION, role: student, group: \"TD {{group}}\", enrolperiod: 60 }}\n\
         \x20 - {{ cohort: soutien, platform: ecampus, course: SOUTIEN, role: student, enrolperiod: 60 }}\n"
    );
    let path = d.join(format!("first-{deliver}.yaml"));
    std::fs::write(&path, text).unwrap();
    option_and_soutien(
        &d,
        &[(1, "G1"), (4, "G1"), (7, "G1"), (9, "G2"), (10, "G2")],
        &[13, 14],
    );
    path
}

fn night(dir: &Path, cfg: &Path, fixture: Option<&str>) -> Out {
    let args = [
        "run",
        "-c",
        cfg.to_str().unwrap(),
        "--out",
        "out",
        "--as-of",
        "2026-11-24",
        "--delta",
    ];
    with_recording(dir, &args, fixture)
}

/// Before: night 1 wrote every enrolment; importing it reset the start of those
/// Moodle held (to the import day) and their end from enrolperiod.
#[test]
fn a_first_night_with_a_connection_writes_only_what_moodle_lacks() {
    let t = tempfile::tempdir().unwrap();
    let url = match live_site(t.path(), &world(), &[]) {
        Some((url, _)) => url,
        None => replay("first-night-files"),
    };
    let cfg = config(t.path(), Some(&url), "files");
    if std::env::var("ENROLGEN_TEST_MOODLE_RECORD").ok().as_deref() == Some("1") {
        let token =
            std::fs::read_to_string(std::env::var("ENROLGEN_TEST_MOODLE_TOKEN_FILE").unwrap())
                .unwrap();
        std::fs::write(cfg.with_file_name("token"), token).unwrap();
    }
    let r = night(t.path(), &cfg, Some("first-night-files"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file =
        std::fs::read_to_string(t.path().join("out/ecampus/outbox/ecampus-0001.csv")).unwrap();
    assert_eq!(
        file,
        "username;course1;role1;group1;enrolperiod1\n\
         21000007;OPTION;student;TD G1;60\n\
         21000009;OPTION;student;TD G2;60\n\
         21000010;OPTION;student;TD G2;60\n\
         21000014;SOUTIEN;student;;60\n",
        "only the enrolments Moodle lacks"
    );
    let manual =
        std::fs::read_to_string(t.path().join("out/ecampus/manual-changes-0001.csv")).unwrap();
    assert!(
        manual
            .lines()
            .any(|l| l.starts_with("21000004;OPTION;") && l.contains("TD G1")),
        "the missing membership, by hand: {manual}"
    );
    assert!(
        r.stderr.contains("platform ecampus: first night: 3 planned enrolment(s) Moodle already holds are recorded as they are"),
        "{}",
        r.stderr
    );
    // Nobody's enrolment is suspended: 21000099's is somebody else's.
    assert!(!file.contains("21000099"));
}

#[test]
fn a_first_night_without_a_connection_says_what_importing_it_does() {
    let t = tempfile::tempdir().unwrap();
    let cfg = config(t.path(), None, "files");
    let r = night(t.path(), &cfg, None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file =
        std::fs::read_to_string(t.path().join("out/ecampus/outbox/ecampus-0001.csv")).unwrap();
    assert_eq!(file.lines().count(), 1 + 7, "every planned enrolment");
    let said = "first night without a moodle: connection: every planned enrolment is written, and importing re-imports those Moodle already holds";
    assert!(r.stderr.contains(said), "{}", r.stderr);
    let import = std::fs::read_to_string(t.path().join("out/ecampus/outbox/IMPORT.txt")).unwrap();
    assert!(
        import.contains(&format!("BEFORE IMPORTING: platform ecampus: {said}")),
        "{import}"
    );
}

/// The web-service channel reads Moodle first: its first night on the populated
/// site changes no date of an enrolment that is already there.
#[test]
fn a_first_night_through_the_web_services_changes_no_date_already_there() {
    let t = tempfile::tempdir().unwrap();
    let live = live_site(t.path(), &world(), &[]);
    let url = match &live {
        Some((url, _)) => url.clone(),
        None => replay("first-night-ws"),
    };
    let cfg = config(t.path(), Some(&url), "webservice");
    if let Some((_, token)) = &live {
        std::fs::write(cfg.with_file_name("token"), format!("{token}\n")).unwrap();
    }
    let r = night(t.path(), &cfg, Some("first-night-ws"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let journal = std::fs::read_to_string(t.path().join("out/ecampus/applied-0001.csv")).unwrap();
    for held in ["21000001", "21000004", "21000013"] {
        assert!(
            !journal
                .lines()
                .any(|l| (l.starts_with("enrol;") || l.starts_with("dates;"))
                    && l.contains(&format!(";{held};"))),
            "{held} is enrolled already: {journal}"
        );
    }
    assert!(
        journal.contains("add_member;OPTION;21000004;;TD G1;ok"),
        "{journal}"
    );
    assert!(
        journal.contains("enrol;OPTION;21000007;student;;ok"),
        "{journal}"
    );
    if live.is_some() {
        let start = psql(
            "select ue.timestart from mdl_user_enrolments ue join mdl_user u on u.id = ue.userid \
             join mdl_enrol e on e.id = ue.enrolid join mdl_course c on c.id = e.courseid \
             where u.username = '21000001' and c.shortname = 'OPTION'",
        );
        assert_eq!(start, OLD_START.to_string(), "its start is the old one");
    }
}
