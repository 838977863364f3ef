//! `deliver: webservice` over several nights, against a Moodle 4.5.6: in CI its
//! answers as recorded (tests/fixtures/moodle-ws/), served by a small server in the
//! test process; with ENROLGEN_TEST_MOODLE_RECORD=1 (and the harness variables of
//! moodle_server.rs) the same server forwards every call to the real harness and records
//! the answers again. Either way the test asserts the journal, the state (dates), the
//! number of write calls and `verify` after each run.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::moodle_server::{forward, key, psql, read_request, record, recorded, service_functions};
use crate::util::*;

/// The real Moodle to record from: url, token, harness scripts.
struct Live {
    url: String,
    token: String,
    harness: PathBuf,
}

fn live() -> Option<Live> {
    if std::env::var("ENROLGEN_TEST_MOODLE_RECORD").ok().as_deref() != Some("1") {
        return None;
    }
    let harness = PathBuf::from(std::env::var_os("ENROLGEN_TEST_MOODLE_HARNESS")?);
    let url = std::env::var("ENROLGEN_TEST_MOODLE_URL").ok()?;
    let token_file = std::env::var_os("ENROLGEN_TEST_MOODLE_TOKEN_FILE")?;
    let token = std::fs::read_to_string(token_file).ok()?.trim().to_string();
    Some(Live {
        url,
        token,
        harness,
    })
}

fn is_write(function: &str) -> bool {
    // enrolgen sends only reads through the batch function.
    !function.contains("_get_")
        && function != "tool_mobile_call_external_functions"
        && function != "core_reportbuilder_retrieve_report"
}

/// A Moodle for one test: recorded answers (or the real one, recording).
struct Moodle {
    url: String,
    /// Write calls answered so far.
    writes: Arc<AtomicUsize>,
    /// The write call (1-based) whose answer is lost: Moodle applies it, the client
    /// sees the connection close (a run killed while waiting). 0: none.
    lose: Arc<AtomicUsize>,
    /// After this many write calls, the server stops answering anything (it went
    /// away); 0: never.
    stop_after: Arc<AtomicUsize>,
    /// After this many write calls, a write call is neither forwarded nor answered
    /// (the server went away as it came: Moodle never applied it), reads still
    /// are; 0: never.
    unapplied_after: Arc<AtomicUsize>,
    live: Option<Live>,
}

impl Moodle {
    fn start(name: &str) -> Moodle {
        Moodle::start_changed(name, |_, body| body.to_string())
    }

    /// The recorded answers of `name`, each changed by `change` (key of the call,
    /// body).
    fn start_changed(name: &str, change: impl Fn(&str, &str) -> String) -> Moodle {
        let file = repo()
            .join("tests/fixtures/moodle-ws")
            .join(format!("{name}.jsonl"));
        let live = live();
        let answers: Mutex<BTreeMap<String, VecDeque<String>>> = Mutex::new(BTreeMap::new());
        let recorder = match &live {
            Some(_) => {
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                Some(Mutex::new(std::fs::File::create(&file).unwrap()))
            }
            None => {
                let mut a = answers.lock().unwrap();
                for (k, body) in recorded(&file) {
                    let body = change(&k, &body);
                    a.entry(k).or_default().push_back(body);
                }
                None
            }
        };
        let upstream = live.as_ref().map(|l| (l.url.clone(), l.token.clone()));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let writes = Arc::new(AtomicUsize::new(0));
        let lose = Arc::new(AtomicUsize::new(0));
        let stop_after = Arc::new(AtomicUsize::new(0));
        let unapplied_after = Arc::new(AtomicUsize::new(0));
        let (w, l, st) = (writes.clone(), lose.clone(), stop_after.clone());
        let un = unapplied_after.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (_, function, params) = read_request(&mut stream);
                let stop = st.load(Ordering::SeqCst);
                if stop > 0 && w.load(Ordering::SeqCst) >= stop {
                    // Gone: the connection closes without an answer, nothing is
                    // forwarded or recorded.
                    continue;
                }
                let unapplied = un.load(Ordering::SeqCst);
                if unapplied > 0 && is_write(&function) && w.load(Ordering::SeqCst) >= unapplied {
                    continue;
                }
                let body = match &upstream {
                    Some((url, token)) => {
                        let body = forward(url, token, &function, &params);
                        record(recorder.as_ref().unwrap(), &function, &params, &body);
                        body
                    }
                    None => {
                        let k = key(&function, &params);
                        match answers
                            .lock()
                            .unwrap()
                            .get_mut(&k)
                            .and_then(|q| q.pop_front())
                        {
                            Some(b) => b,
                            None => {
                                eprintln!("no recorded answer for {k}");
                                continue;
                            }
                        }
                    }
                };
                if is_write(&function) {
                    let n = w.fetch_add(1, Ordering::SeqCst) + 1;
                    if n == l.load(Ordering::SeqCst) {
                        // The answer is lost: close without a word, a moment later,
                        // so that the requests already on their way are sent (as
                        // when a run is killed while its batches are out).
                        std::thread::sleep(std::time::Duration::from_millis(300));
                        continue;
                    }
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Moodle {
            url,
            writes,
            lose,
            stop_after,
            unapplied_after,
            live,
        }
    }

    /// Calls a function as a person would by hand (through the recorder).
    fn call(&self, function: &str, params: &[(&str, String)]) -> serde_json::Value {
        crate::moodle_server::ws(&self.url, "any", function, params)
    }
}

/// Two courses (OPTION with groups `TD {group}`, SOUTIEN) and a tutor, from student
/// lists: each night's sources are written by the test.
struct World {
    dir: PathBuf,
    cfg: PathBuf,
    reads: Reads,
}

/// How the courses' users are read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reads {
    /// One request per course, the groups with the users: a service without the
    /// batch and group functions.
    PerCourse,
    /// The service offers tool_mobile_call_external_functions (the reads go in a few
    /// requests) and core_group_get_group_members (the groups are read apart from
    /// the users).
    Batched,
    /// The site's participants report (`moodle.participants_report`), made by
    /// scripts/moodle/participants_report.php; the ids batched.
    Report,
}

const WORLD_USERS: [&str; 19] = [
    "21000001", "21000002", "21000003", "21000004", "21000007", "21000009", "21000010", "21000011",
    "21000012", "21000013", "21000014", "21000015", "21000016", "21000017", "21000018", "21000019",
    "21000020", "martinp", "dupontm",
];

impl World {
    fn new(dir: &Path, moodle: &Moodle, tutor_role: &str, reads: Reads) -> World {
        let cfg = copy_demo(dir);
        let d = cfg.parent().unwrap().to_path_buf();
        std::fs::write(d.join("token"), "0123456789abcdef0123456789abcdef\n").unwrap();
        let w = World {
            dir: dir.to_path_buf(),
            cfg: d.join("ws.yaml"),
            reads,
        };
        w.config(&moodle.url, tutor_role);
        if let Some(l) = &moodle.live {
            // A fresh site holding the users and the two courses, and the token.
            let world = serde_json::json!({
                "users": WORLD_USERS.iter().map(|u| serde_json::json!({"username": u})).collect::<Vec<_>>(),
                "courses": [{"shortname": "OPTION"}, {"shortname": "SOUTIEN"}],
            });
            std::fs::write(dir.join("world.json"), world.to_string()).unwrap();
            let sh = |script: &str| crate::moodle_server::in_harness(&l.harness, script);
            sh("./reset.sh >/dev/null");
            sh(&format!(
                ". lib/env.sh && $PHP lib/setup_fixtures.php {} >/dev/null",
                dir.join("world.json").display()
            ));
            sh("./ws-setup.sh --quiet >/dev/null");
            match reads {
                Reads::PerCourse => {}
                Reads::Batched => service_functions(
                    true,
                    &[
                        "tool_mobile_call_external_functions",
                        "core_group_get_group_members",
                    ],
                ),
                Reads::Report => {
                    let php = repo().join("scripts/moodle/participants_report.php");
                    sh(&format!(
                        ". lib/env.sh && MOODLE_DIR=$MOODLE_DIR $PHP {} >/dev/null",
                        php.display()
                    ));
                    assert_eq!(psql("select max(id) from mdl_reportbuilder_report"), "1");
                    crate::moodle_server::reports_readable(
                        &l.harness,
                        &[
                            "tool_mobile_call_external_functions",
                            "core_reportbuilder_retrieve_report",
                        ],
                    );
                }
            }
        }
        w
    }

    fn config(&self, url: &str, tutor_role: &str) {
        self.config_with(url, tutor_role, "enrolperiod: 60");
    }

    /// The configuration, `soutien` being the last keys of SOUTIEN's rule.
    fn config_with(&self, url: &str, tutor_role: &str, soutien: &str) {
        let d = self.cfg.parent().unwrap();
        let report = if self.reads == Reads::Report {
            ", participants_report: 1"
        } else {
            ""
        };
        std::fs::write(
            &self.cfg,
            format!(
                "version: 1\nyear: 2026\n\
                 directories:\n  unicaen: {{ ldif: unicaen.ldif, match: supannEtuId, username: supannAliasLogin }}\n\
                 platforms:\n  ecampus:\n    accounts: [unicaen]\n    roles: [student, editingteacher, teacher, manager]\n\
                 \x20   deliver: webservice\n    moodle: {{ url: \"{url}\", token_file: {}, parallel: 2{report} }}\n\
                 cohorts:\n  option: {{ students: option.csv }}\n  soutien: {{ students: soutien.csv }}\n\
                 \x20 tutors: {{ usernames: [MartinP] }}\n\
                 enrol:\n  - {{ cohort: option, platform: ecampus, course: OPTION, role: student, group: \"TD {{group}}\", enrolperiod: 60 }}\n\
                 \x20 - {{ cohort: soutien, platform: ecampus, course: SOUTIEN, role: student, {soutien} }}\n\
                 \x20 - {{ cohort: tutors, platform: ecampus, course: OPTION, role: {tutor_role} }}\n",
                d.join("token").display()
            ),
        )
        .unwrap();
    }

    /// OPTION's students (number, group) and SOUTIEN's.
    fn sources(&self, option: &[(u32, &str)], soutien: &[u32]) {
        option_and_soutien(self.cfg.parent().unwrap(), option, soutien);
    }

    fn run(&self, day: u32, extra: &[&str]) -> Out {
        on_day(&self.dir, &self.cfg, "run", "out", day, extra)
    }

    fn verify(&self, day: u32) -> Out {
        on_day(&self.dir, &self.cfg, "verify", "v", day, &[])
    }

    fn journal(&self, n: u32) -> String {
        std::fs::read_to_string(self.dir.join(format!("out/ecampus/applied-{n:04}.csv")))
            .unwrap_or_default()
    }

    /// The journal's answers: its header and every line but the `sent` ones, sorted
    /// (the journal itself is in the order things happened).
    fn done(&self, n: u32) -> String {
        let j = self.journal(n);
        let mut lines: Vec<&str> = j
            .lines()
            .skip(1)
            .filter(|l| !l.ends_with(";sent"))
            .collect();
        lines.sort();
        if j.is_empty() {
            return j;
        }
        let mut out = String::from("operation;course;username;role;group;result\n");
        for l in lines {
            out.push_str(l);
            out.push('\n');
        }
        out
    }

    fn state(&self) -> serde_json::Value {
        let s =
            std::fs::read_to_string(self.dir.join("out/ecampus/webservice-state.json")).unwrap();
        serde_json::from_str(&s).unwrap()
    }

    /// (timestart, timeend, suspended) enrolgen recorded for a user in a course.
    fn dates(&self, username: &str, course: &str) -> (i64, i64, bool) {
        let s = self.state();
        let m = s["enrolments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["username"] == username && m["course"] == course)
            .unwrap_or_else(|| panic!("{username} {course} not in the state"))
            .clone();
        (
            m["timestart"].as_i64().unwrap(),
            m["timeend"].as_i64().unwrap(),
            m["suspended"].as_bool().unwrap(),
        )
    }

    /// On the real Moodle only: (timestart, timeend, status) of the user's enrolment,
    /// read from its database, checked against what the state says.
    fn moodle_dates(&self, moodle: &Moodle, username: &str, course: &str) {
        if moodle.live.is_none() {
            return;
        }
        let sql = format!(
            "select ue.timestart, ue.timeend, ue.status from mdl_user_enrolments ue \
             join mdl_user u on u.id = ue.userid join mdl_enrol e on e.id = ue.enrolid \
             join mdl_course c on c.id = e.courseid \
             where u.username = '{username}' and c.shortname = '{course}' and e.enrol = 'manual'"
        );
        let (start, end, suspended) = self.dates(username, course);
        assert_eq!(
            psql(&sql),
            format!("{start}|{end}|{}", u8::from(suspended)),
            "Moodle's dates for {username} in {course}"
        );
    }

    fn summary(&self) -> serde_json::Value {
        let s = std::fs::read_to_string(self.dir.join("out/summary.json")).unwrap();
        serde_json::from_str(&s).unwrap()
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

/// 2026-11-24 00:00 in Paris, and 60 days later.
const START: i64 = 1_795_474_800;
const END: i64 = 1_800_658_800;

#[test]
fn nights_of_changes_keep_moodle_equal_to_the_plan() {
    nights("nights", Reads::Batched);
}

/// The same nights, the courses read from the participants report: the same
/// writes, the same hand edits seen, in as few requests.
#[test]
fn nights_read_from_the_participants_report_keep_moodle_equal_to_the_plan() {
    nights("nights-report", Reads::Report);
}

fn nights(fixture: &str, reads: Reads) {
    let t = tempfile::tempdir().unwrap();
    let moodle = Moodle::start(fixture);
    let w = World::new(t.path(), &moodle, "editingteacher", reads);
    let soutien: Vec<u32> = (13..=20).collect();

    // Before the first night, a teacher makes an empty `TD G1` in OPTION. A
    // production site (debugging off) refuses a group of the same name with only
    // "Invalid parameter value detected": the channel must find it by reading.
    let course = moodle.call(
        "core_course_get_courses_by_field",
        &[("field", "shortname".into()), ("value", "OPTION".into())],
    )["courses"][0]["id"]
        .to_string();
    let td1 = moodle.call(
        "core_group_create_groups",
        &[
            ("groups[0][courseid]", course.clone()),
            ("groups[0][name]", "TD G1".into()),
            ("groups[0][description]", String::new()),
        ],
    )[0]["id"]
        .to_string();

    // Night 1: enrolments, the missing group, the members of both.
    w.sources(&OPTION, &soutien);
    let by_hand = moodle.writes.load(Ordering::SeqCst);
    let r = w.run(24, &["--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("ecampus\tenrol_manual_enrol_users\tOPTION\t8\n"),
        "{}",
        r.stdout
    );
    // The groups read through the group functions include the empty `TD G1`: the
    // dry run plans only `TD G2` (read with the users, an empty group is unseen).
    assert!(
        r.stdout
            .contains("ecampus\tcore_group_create_groups\tOPTION\t1\n"),
        "{}",
        r.stdout
    );
    assert_eq!(
        moodle.writes.load(Ordering::SeqCst),
        by_hand,
        "a dry run writes nothing"
    );
    assert!(!t.path().join("out/ecampus/webservice-state.json").exists());
    let r = w.run(24, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = w.journal(1);
    assert!(j.contains("enrol;OPTION;21000001;student;;ok\n"), "{j}");
    assert!(
        j.contains("enrol;OPTION;martinp;editingteacher;;ok\n"),
        "{j}"
    );
    assert!(
        !j.contains("create_group;OPTION;;;TD G1;"),
        "it exists: {j}"
    );
    assert!(j.contains("create_group;OPTION;;;TD G2;ok\n"), "{j}");
    assert!(j.contains("add_member;OPTION;21000001;;TD G1;ok\n"), "{j}");
    assert!(j.contains("add_member;OPTION;21000009;;TD G2;ok\n"), "{j}");
    assert_eq!(w.done(1).lines().count(), 1 + 16 + 1 + 7, "{j}");
    // Each line was written when sent, then again when answered.
    assert!(
        j.starts_with("operation;course;username;role;group;result\nenrol;"),
        "{j}"
    );
    assert_eq!(j.matches(";sent\n").count(), 16 + 1 + 7, "{j}");
    assert!(
        std::fs::read_to_string(t.path().join("out/ecampus/left-out.csv"))
            .unwrap()
            .starts_with("reason;course;role;"),
        "left-out.csv for a web-service platform too"
    );
    assert_eq!(w.dates("21000001", "OPTION"), (START, END, false));
    w.moodle_dates(&moodle, "21000001", "OPTION");
    let ws = &w.summary()["platforms"]["ecampus"]["webservice"];
    assert_eq!(ws["applied"]["enrol"], 16);
    // Two requests at a time (parallel: 2): each phase in two batches, the one new
    // group in one.
    assert_eq!(ws["write_calls"], 5, "{ws}");
    assert_eq!(w.verify(24).code, 0);

    // The same day again: nothing to change, no write call.
    let before = moodle.writes.load(Ordering::SeqCst);
    let r = w.run(24, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(moodle.writes.load(Ordering::SeqCst), before);
    let ws = &w.summary()["platforms"]["ecampus"]["webservice"];
    assert_eq!(ws["write_calls"], 0);
    // Only the reads, batched: the service's functions, the courses' ids, their users
    // and groups, the groups' members.
    assert_eq!(ws["calls"], 4, "{ws}");
    assert_eq!(w.journal(2), "", "no journal when nothing changed");

    // By hand in Moodle: the tutor put in TD G1 (an Apogée group), a project group.
    let user = |u: &str| {
        moodle.call(
            "core_user_get_users_by_field",
            &[("field", "username".into()), ("values[0]", u.into())],
        )[0]["id"]
            .to_string()
    };
    let projet = moodle.call(
        "core_group_create_groups",
        &[
            ("groups[0][courseid]", course.clone()),
            ("groups[0][name]", "Projet".into()),
            ("groups[0][description]", String::new()),
        ],
    )[0]["id"]
        .to_string();
    let tutor = user("martinp");
    let s4 = user("21000004");
    for (g, u) in [(&td1, &tutor), (&projet, &s4)] {
        moodle.call(
            "core_group_add_group_members",
            &[
                ("members[0][groupid]", g.clone()),
                ("members[0][userid]", u.clone()),
            ],
        );
    }

    // Night 2: 21000001 cancels, 21000009 moves to G1, the tutor becomes teacher.
    let option2: Vec<(u32, &str)> = vec![
        (4, "G1"),
        (7, "G1"),
        (9, "G1"),
        (10, "G2"),
        (11, "G2"),
        (12, "G2"),
    ];
    w.sources(&option2, &soutien);
    w.config(&moodle.url, "teacher");
    let r = w.run(25, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        w.done(2),
        "operation;course;username;role;group;result\n\
         add_member;OPTION;21000009;;TD G1;ok\n\
         add_role;OPTION;martinp;teacher;;ok\n\
         remove_member;OPTION;21000001;;TD G1;ok\n\
         remove_member;OPTION;21000009;;TD G2;ok\n\
         remove_member;OPTION;martinp;;TD G1;ok\n\
         remove_role;OPTION;martinp;editingteacher;;ok\n\
         suspend;OPTION;21000001;student;;ok\n"
    );
    // Suspended with the dates it had: not reset to the day of the change.
    assert_eq!(w.dates("21000001", "OPTION"), (START, END, true));
    w.moodle_dates(&moodle, "21000001", "OPTION");
    assert_eq!(w.verify(25).code, 0);

    // Night 3: 21000001 is back, in G2: reactivated with its dates, in its new group.
    let mut option3 = option2.clone();
    option3.push((1, "G2"));
    w.sources(&option3, &soutien);
    let r = w.run(26, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        w.done(3),
        "operation;course;username;role;group;result\n\
         add_member;OPTION;21000001;;TD G2;ok\n\
         reactivate;OPTION;21000001;student;;ok\n"
    );
    assert_eq!(w.dates("21000001", "OPTION"), (START, END, false));
    w.moodle_dates(&moodle, "21000001", "OPTION");
    assert_eq!(w.verify(26).code, 0);
    // The project group was never touched.
    let members = moodle.call(
        "core_enrol_get_enrolled_users",
        &[
            ("courseid", course.clone()),
            ("options[0][name]", "userfields".into()),
            ("options[0][value]", "id,username,groups".into()),
        ],
    );
    let s4_groups: Vec<String> = members
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "21000004")
        .unwrap()["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(s4_groups, ["Projet", "TD G1"]);

    // By hand, a student of OPTION is made editingteacher too: a privilege raise in
    // a course enrolgen manages. verify reports it (extra_role, exit 6); the run
    // warns and, by default, takes nothing back.
    let s7 = user("21000007");
    let role_call = |function: &str, array: &str| {
        moodle.call(
            function,
            &[
                (&format!("{array}[0][roleid]"), "3".into()),
                (&format!("{array}[0][userid]"), s7.clone()),
                (&format!("{array}[0][contextlevel]"), "course".into()),
                (&format!("{array}[0][instanceid]"), course.clone()),
            ],
        )
    };
    role_call("core_role_assign_roles", "assignments");
    let v = w.verify(26);
    assert_eq!(v.code, 6, "{}", v.stderr);
    let diffs = std::fs::read_to_string(t.path().join("v/ecampus/verify.csv")).unwrap();
    assert!(
        diffs.contains("extra_role;")
            && diffs.contains(";21000007;")
            && diffs.contains(";editingteacher"),
        "{diffs}"
    );
    let before = moodle.writes.load(Ordering::SeqCst);
    let r = w.run(26, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("1 planned user(s) hold a platform role the plan does not give")
            && r.stderr
                .contains("OPTION: 21000007 has editingteacher (planned: student)"),
        "{}",
        r.stderr
    );
    assert_eq!(
        moodle.writes.load(Ordering::SeqCst),
        before,
        "reported, not changed"
    );
    role_call("core_role_unassign_roles", "unassignments");
    assert_eq!(w.verify(26).code, 0);

    // Night 4: four of OPTION's students vanish at once, the source's drop accepted:
    // over the suspension caps, nothing is changed for them, not even their groups;
    // exit 5.
    let option4: Vec<(u32, &str)> = vec![(11, "G2"), (12, "G2"), (1, "G2")];
    w.sources(&option4, &soutien);
    let before = moodle.writes.load(Ordering::SeqCst);
    let r = w.run(27, &["--accept-shrink"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr.contains("4 suspension(s) in OPTION held back"),
        "{}",
        r.stderr
    );
    assert_eq!(
        moodle.writes.load(Ordering::SeqCst),
        before,
        "nothing written"
    );
    assert_eq!(w.dates("21000004", "OPTION"), (START, END, false));
    // Accepted after review: suspended, with their dates, and out of their groups.
    let r = w.run(27, &["--accept-shrink", "--accept-suspensions", "OPTION"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = w.done(4);
    assert_eq!(j.matches("suspend;OPTION;").count(), 4, "{j}");
    assert_eq!(j.matches("remove_member;OPTION;").count(), 4, "{j}");
    assert_eq!(w.dates("21000004", "OPTION"), (START, END, true));
    w.moodle_dates(&moodle, "21000004", "OPTION");
    assert_eq!(w.verify(27).code, 0);

    // By hand, a suspended student is put back in TD G1: the next night takes the
    // membership away (an Apogée group is kept exact, suspended members included),
    // and changes nothing else.
    moodle.call(
        "core_group_add_group_members",
        &[
            ("members[0][groupid]", td1.clone()),
            ("members[0][userid]", s4.clone()),
        ],
    );
    let r = w.run(28, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        w.done(5),
        "operation;course;username;role;group;result\n\
         remove_member;OPTION;21000004;;TD G1;ok\n"
    );
    assert_eq!(w.dates("21000004", "OPTION"), (START, END, true));
    w.moodle_dates(&moodle, "21000004", "OPTION");
    assert_eq!(w.verify(28).code, 0);

    // Night 6: SOUTIEN's rule now says `enrolstatus: 1`: its eight enrolments are
    // suspended with their dates (a rule's suspension has no cap), and verify
    // expects them so.
    w.config_with(&moodle.url, "teacher", "enrolperiod: 60, enrolstatus: 1");
    let r = w.run(29, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = w.done(6);
    assert_eq!(j.matches("suspend;SOUTIEN;").count(), 8, "{j}");
    assert_eq!(j.lines().count(), 1 + 8, "{j}");
    assert_eq!(w.dates("21000013", "SOUTIEN"), (START, END, true));
    w.moodle_dates(&moodle, "21000013", "SOUTIEN");
    assert_eq!(w.verify(29).code, 0);

    // Night 7: the rule without it: reactivated, with the same dates.
    w.config(&moodle.url, "teacher");
    let r = w.run(30, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = w.done(7);
    assert_eq!(j.matches("reactivate;SOUTIEN;").count(), 8, "{j}");
    assert_eq!(j.lines().count(), 1 + 8, "{j}");
    assert_eq!(w.dates("21000013", "SOUTIEN"), (START, END, false));
    w.moodle_dates(&moodle, "21000013", "SOUTIEN");
    assert_eq!(w.verify(30).code, 0);

    // Night 8 (the same day, later): SOUTIEN's period becomes 90 days: the same
    // start, the new end.
    w.config_with(&moodle.url, "teacher", "enrolperiod: 90");
    let r = w.run(30, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = w.done(8);
    assert_eq!(j.matches("dates;SOUTIEN;").count(), 8, "{j}");
    assert_eq!(j.lines().count(), 1 + 8, "{j}");
    // 2027-02-22 00:00 in Paris, 90 days after the start.
    assert_eq!(
        w.dates("21000013", "SOUTIEN"),
        (START, START + 90 * 86_400, false)
    );
    w.moodle_dates(&moodle, "21000013", "SOUTIEN");
    assert_eq!(w.verify(30).code, 0);
    let before = moodle.writes.load(Ordering::SeqCst);
    assert_eq!(w.run(30, &[]).code, 0);
    assert_eq!(moodle.writes.load(Ordering::SeqCst), before, "settled");
    let recorded = std::fs::read_to_string(
        repo()
            .join("tests/fixtures/moodle-ws")
            .join(format!("{fixture}.jsonl")),
    )
    .unwrap();
    if reads == Reads::Report {
        // Every night read the courses' users from the report, never user by user
        // (each night's hand edits and moves were seen that way).
        assert!(recorded.contains("core_reportbuilder_retrieve_report"));
        assert!(!recorded.contains("onlyactive"));
        assert!(!recorded.contains("core_group_get_group_members"));
    } else {
        // The service offers the group functions: every night read the users without
        // their groups, and the groups and their members through those functions.
        assert!(recorded.contains("core_group_get_group_members"));
        assert!(recorded.contains(r#"id,username,roles"#));
        assert!(!recorded.contains(r#"id,username,groups,roles"#));
    }
}

/// A participants report that is not what the run reads it as (another column, a
/// word in another language, rows missing from its count, another source) stops
/// the run before anything is planned or written: no guess about who is enrolled.
#[test]
fn a_participants_report_of_another_shape_stops_the_run() {
    type Change = fn(&mut serde_json::Value);
    let cases: [(Change, &str); 5] = [
        (
            |v| v["data"]["headers"][3] = "Group".into(),
            "its columns are [\"Course short name\", \"Username\", \"Short name\", \"Group\", \"Status\"]",
        ),
        (
            |v| {
                // The site in French, its report read without asking for English.
                for r in v["data"]["rows"].as_array_mut().unwrap() {
                    if r["columns"][4] == "Active" {
                        r["columns"][4] = "Actif".into();
                    }
                }
            },
            ": status 'Actif' is not Active, Suspended or Not current",
        ),
        (
            |v| {
                let rows = v["data"]["rows"].as_array_mut().unwrap();
                rows.pop();
            },
            "rows of the",
        ),
        (
            |v| v["details"]["source"] = "core_user\\reportbuilder\\datasource\\users".into(),
            "its source is core_user\\reportbuilder\\datasource\\users, not Course participants",
        ),
        (
            // A condition on the courses' category that leaves SOUTIEN out: its
            // users are unknown, not gone.
            |v| {
                let rows = v["data"]["rows"].as_array_mut().unwrap();
                rows.retain(|r| r["columns"][0] != "SOUTIEN");
                v["data"]["totalrowcount"] = v["data"]["rows"].as_array().unwrap().len().into();
            },
            "course SOUTIEN is not in it (a condition of the report hides it?)",
        ),
    ];
    // The report as it stood after the first night: everyone listed.
    let file = repo().join("tests/fixtures/moodle-ws/nights-report.jsonl");
    let listed = recorded(&file)
        .into_iter()
        .find(|(k, b)| k.starts_with("core_reportbuilder_retrieve_report?") && b.contains("Active"))
        .unwrap()
        .1;
    for (change, needle) in cases {
        let t = tempfile::tempdir().unwrap();
        let listed = listed.clone();
        let moodle = Moodle::start_changed("nights-report", move |k, body| {
            if !k.starts_with("core_reportbuilder_retrieve_report?") {
                return body.to_string();
            }
            let mut v: serde_json::Value = serde_json::from_str(&listed).unwrap();
            change(&mut v);
            v.to_string()
        });
        let w = World::new(t.path(), &moodle, "editingteacher", Reads::Report);
        w.sources(&OPTION, &(13..=20).collect::<Vec<u32>>());
        let r = w.run(24, &[]);
        assert_eq!(r.code, 3, "{}", r.stderr);
        assert!(
            r.stderr.contains("custom report 1 (moodle.participants_report) cannot be read as the courses' participants: ")
                && r.stderr.contains(needle),
            "{needle}: {}",
            r.stderr
        );
        assert_eq!(moodle.writes.load(Ordering::SeqCst), 0, "nothing written");
        assert!(!t.path().join("out/ecampus/webservice-state.json").exists());
    }
}

#[test]
fn a_refused_row_is_found_and_reported_the_rest_goes_through() {
    let t = tempfile::tempdir().unwrap();
    let moodle = Moodle::start("refused");
    // The token's role may not assign manager: Moodle refuses the whole batch.
    let w = World::new(t.path(), &moodle, "manager", Reads::PerCourse);
    w.sources(&OPTION, &(13..=20).collect::<Vec<_>>());
    let r = w.run(24, &[]);
    // Moodle does not hold the plan: exit 7, whatever else went through.
    assert_eq!(r.code, 7, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("Moodle refused 1 operation(s); see ecampus/applied-0001.csv"),
        "{}",
        r.stderr
    );
    let j = w.journal(1);
    assert!(
        j.contains("enrol;OPTION;martinp;manager;;refused: wsusercannotassign: You don't have the permission to assign this role"),
        "{j}"
    );
    assert!(j.contains("enrol;OPTION;21000001;student;;ok\n"), "{j}");
    assert_eq!(j.matches(";ok\n").count(), 15 + 2 + 7, "{j}");
    let ws = &w.summary()["platforms"]["ecampus"]["webservice"];
    assert_eq!(ws["refused"], 1);
    assert_eq!(
        ws["refused_by_function"]["enrol_manual_enrol_users"], 1,
        "{ws}"
    );
    let page = std::fs::read_to_string(t.path().join("out/report.html")).unwrap();
    assert!(
        page.contains(
            "Refused by Moodle: enrol martinp in OPTION (manager): refused: wsusercannotassign"
        ),
        "the report shows it"
    );
    assert!(page.contains("<code>ecampus/applied-0001.csv</code>"));
    // The refused row is not in the state: the next run tries it again.
    assert!(!w.state()["enrolments"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["username"] == "martinp"));

    // A state that does not fit the run is refused before Moodle is asked, with a
    // way out that works for this channel.
    let path = t.path().join("out/ecampus/webservice-state.json");
    let good = std::fs::read_to_string(&path).unwrap();
    assert!(
        good.contains("\"as_of\": \"2026-11-24\"")
            && good.contains("\"journal\": \"applied-0001.csv\""),
        "{good}"
    );
    let refused = |day: u32, code: i32, needle: &str| {
        let before = snapshot(t.path());
        let r = w.run(day, &[]);
        assert_eq!(r.code, code, "{}", r.stderr);
        assert!(r.stderr.contains(needle), "{needle}: {}", r.stderr);
        assert_eq!(snapshot(t.path()), before, "nothing written");
    };
    refused(
        23,
        2,
        "--as-of 2026-11-23 is before the last web-service run of ecampus (2026-11-24)",
    );
    std::fs::write(
        &path,
        good.replace("\"platform\": \"ecampus\"", "\"platform\": \"prelude\""),
    )
    .unwrap();
    refused(24, 4, "it belongs to platform prelude, not ecampus");
    std::fs::write(&path, good.replace(&moodle.url, "https://other.example.fr")).unwrap();
    refused(
        24,
        4,
        &format!(
            "was written for the Moodle at https://other.example.fr, not {}",
            moodle.url
        ),
    );
    std::fs::write(&path, "{").unwrap();
    refused(24, 4, "is unreadable");
    refused(
        24,
        4,
        "move it away: the next run starts again from what Moodle holds",
    );
    std::fs::write(&path, &good).unwrap();
    let journal = t.path().join("out/ecampus/applied-0001.csv");
    std::fs::copy(&journal, t.path().join("out/ecampus/applied-0002.csv")).unwrap();
    refused(
        24,
        4,
        "is older than applied-0002.csv (the state was saved with applied-0001.csv)",
    );
}

#[test]
fn a_run_killed_while_waiting_is_finished_by_the_next_one() {
    let t = tempfile::tempdir().unwrap();
    let moodle = Moodle::start("killed");
    let w = World::new(t.path(), &moodle, "editingteacher", Reads::PerCourse);
    w.sources(&OPTION, &(13..=20).collect::<Vec<_>>());
    // The first write (the enrolments) reaches Moodle, but its answer never comes.
    moodle.lose.store(1, Ordering::SeqCst);
    let r = w.run(24, &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("enrol_manual_enrol_users"),
        "{}",
        r.stderr
    );
    // Two batches of enrolments were sent at once: one confirmed, one pending.
    let state = w.state();
    assert_eq!(state["enrolments"].as_array().unwrap().len(), 8);
    assert_eq!(
        state["pending"].as_array().unwrap().len(),
        8,
        "sent, not confirmed"
    );
    let j = w.journal(1);
    assert!(
        j.contains("create_group;OPTION;;;TD G1;not sent: the run stopped\n"),
        "{j}"
    );
    // The batch whose answer was lost is in the journal as sent: the record of
    // what Moodle may hold.
    assert_eq!(j.matches(";sent\n").count(), 16, "{j}");
    assert_eq!(
        j.matches("enrol;OPTION;").count() + j.matches("enrol;SOUTIEN;").count(),
        16 + 16,
        "{j}"
    );
    // The next run finds the enrolments in Moodle, adopts them (one line each,
    // naming the journal that sent them), and does the rest.
    let r = w.run(24, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = w.journal(2);
    assert_eq!(
        j.matches(";adopted: sent by applied-0001.csv, found in Moodle\n")
            .count(),
        8,
        "{j}"
    );
    assert!(
        !j.contains(";ok\nenrol;") && !j.contains("enrol;OPTION;21000001;student;;ok"),
        "{j}"
    );
    assert!(j.contains("create_group;OPTION;;;TD G1;ok\n"), "{j}");
    assert_eq!(j.matches(";ok\n").count(), 2 + 7, "{j}");
    assert_eq!(
        w.summary()["platforms"]["ecampus"]["webservice"]["adopted"],
        8
    );
    let state = w.state();
    assert_eq!(state["enrolments"].as_array().unwrap().len(), 16);
    assert!(state.get("pending").is_none());
    assert_eq!(w.verify(24).code, 0);
    // And a third run has nothing to do.
    let before = moodle.writes.load(Ordering::SeqCst);
    assert_eq!(w.run(24, &[]).code, 0);
    assert_eq!(moodle.writes.load(Ordering::SeqCst), before);
}

#[test]
fn a_server_that_goes_away_stops_the_run_with_what_was_left_journaled() {
    let t = tempfile::tempdir().unwrap();
    let moodle = Moodle::start("stopped");
    let w = World::new(t.path(), &moodle, "editingteacher", Reads::PerCourse);
    w.sources(&OPTION, &(13..=20).collect::<Vec<_>>());
    // The server answers the first two write calls (the enrolments), then is gone.
    moodle.stop_after.store(2, Ordering::SeqCst);
    let r = w.run(24, &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("the connection was lost after 2 answered write call(s)"),
        "{}",
        r.stderr
    );
    let j = w.journal(1);
    assert_eq!(j.matches(";ok\n").count(), 16, "{j}");
    assert!(j.contains(";not sent: the run stopped"), "{j}");
    assert!(!j.contains("refused"), "{j}");
    // Back: the next run does the rest, and Moodle holds the plan.
    moodle.stop_after.store(0, Ordering::SeqCst);
    let r = w.run(24, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = w.done(2);
    assert!(j.contains("create_group;OPTION;;;TD G1;ok\n"), "{j}");
    assert!(!j.contains("enrol;"), "{j}");
    assert_eq!(w.verify(24).code, 0);
}

/// Moodle's status of a user's manual enrolment, from its database (real Moodle
/// only): what no web service tells.
fn moodle_status(moodle: &Moodle, username: &str, course: &str) -> Option<String> {
    moodle.live.as_ref()?;
    Some(psql(&format!(
        "select ue.status || '|' || ue.timeend from mdl_user_enrolments ue \
         join mdl_user u on u.id = ue.userid join mdl_enrol e on e.id = ue.enrolid \
         join mdl_course c on c.id = e.courseid \
         where u.username = '{username}' and c.shortname = '{course}' and e.enrol = 'manual'"
    )))
}

/// Before: a write sent without an answer was "adopted" whenever Moodle held the
/// enrolment at all. New dates and a suspension the server never applied (it went
/// away before) were taken as done and never sent again: Moodle kept the old end
/// and the cancelled students kept their access, every later run exiting 0.
#[test]
fn writes_moodle_never_applied_are_sent_again_not_adopted() {
    let t = tempfile::tempdir().unwrap();
    let moodle = Moodle::start("rolled-back");
    let w = World::new(t.path(), &moodle, "editingteacher", Reads::PerCourse);
    let soutien: Vec<u32> = (13..=20).collect();
    w.sources(&OPTION, &soutien);
    assert_eq!(w.run(24, &[]).code, 0);
    let soutien_end = START + 60 * 86_400;
    assert_eq!(w.dates("21000013", "SOUTIEN"), (START, soutien_end, false));
    let state_path = t.path().join("out/ecampus/webservice-state.json");
    let night_1_state = std::fs::read(&state_path).unwrap();

    // Night 2: SOUTIEN's period goes from 60 to 30 days; the server goes away
    // before the new dates reach it.
    w.config_with(&moodle.url, "editingteacher", "enrolperiod: 30");
    moodle
        .unapplied_after
        .store(moodle.writes.load(Ordering::SeqCst), Ordering::SeqCst);
    let r = w.run(25, &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        w.journal(2)
            .contains("dates;SOUTIEN;21000013;student;;\"no answer: the run stopped"),
        "{}",
        w.journal(2)
    );
    // Two calls of four were out at once: one, or both, went without an answer
    // (the other, if the run had stopped before it left, was not sent).
    let pending = w.state()["pending"].as_array().map_or(0, Vec::len);
    assert!(pending == 4 || pending == 8, "{}", w.journal(2));
    // Night 3, the server back: Moodle cannot show dates, so they are sent again.
    moodle.unapplied_after.store(0, Ordering::SeqCst);
    let r = w.run(25, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = w.done(3);
    assert_eq!(
        j.matches(
            ";not seen: sent by applied-0002.csv, Moodle does not show it done, so planned again\n"
        )
        .count(),
        pending,
        "{j}"
    );
    assert_eq!(j.matches(";ok\n").count(), 8, "every new end sent: {j}");
    assert!(
        j.contains("dates;SOUTIEN;21000020;student;;not seen: sent by applied-0002.csv")
            || j.contains("dates;SOUTIEN;21000013;student;;not seen: sent by applied-0002.csv"),
        "named by the operation sent: {j}"
    );
    assert!(j.contains("dates;SOUTIEN;21000013;student;;ok\n"), "{j}");
    assert!(!j.contains("adopted"), "{j}");
    let new_end = START + 30 * 86_400;
    assert_eq!(w.dates("21000013", "SOUTIEN"), (START, new_end, false));
    w.moodle_dates(&moodle, "21000013", "SOUTIEN");

    // Night 4: two students leave OPTION; they leave their group (two calls, two
    // at a time), then the server
    // goes away before the suspensions reach it.
    let stay: Vec<(u32, &str)> = OPTION[..5].to_vec();
    w.sources(&stay, &soutien);
    moodle
        .unapplied_after
        .store(moodle.writes.load(Ordering::SeqCst) + 2, Ordering::SeqCst);
    let r = w.run(26, &["--accept-suspensions", "all"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        w.journal(4)
            .contains("suspend;OPTION;21000011;student;;\"no answer: the run stopped"),
        "{}",
        w.journal(4)
    );
    // Night 5: Moodle shows them active, so the suspensions are not adopted: they
    // are planned again (held back by the caps unless accepted again).
    let pending = w.state()["pending"].as_array().map_or(0, Vec::len);
    assert!(pending == 1 || pending == 2, "{}", w.journal(4));
    moodle.unapplied_after.store(0, Ordering::SeqCst);
    let r = w.run(26, &["--accept-suspensions", "all"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = w.done(5);
    assert_eq!(
        j.matches("not seen: sent by applied-0004.csv").count(),
        pending,
        "{j}"
    );
    for u in ["21000011", "21000012"] {
        assert!(
            j.contains(&format!("suspend;OPTION;{u};student;;ok\n")),
            "{j}"
        );
        assert!(w.dates(u, "OPTION").2, "suspended in the state");
        if let Some(status) = moodle_status(&moodle, u, "OPTION") {
            assert!(status.starts_with("1|"), "suspended in Moodle: {status}");
        }
    }
    assert!(!j.contains("adopted"), "{j}");
    assert_eq!(w.verify(26).code, 0, "Moodle equals the plan");
    let before = moodle.writes.load(Ordering::SeqCst);
    assert_eq!(w.run(26, &[]).code, 0);
    assert_eq!(moodle.writes.load(Ordering::SeqCst), before, "nothing left");

    // Night 1's state put back from a backup, the later journals cleaned up: a
    // run built on it would never suspend what was enrolled since. Refused.
    std::fs::write(&state_path, &night_1_state).unwrap();
    for n in 2..=5 {
        let _ = std::fs::remove_file(t.path().join(format!("out/ecampus/applied-{n:04}.csv")));
    }
    let r = w.run(26, &[]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("is older than applied-0005.csv (the state was saved with applied-0001.csv)"),
        "{}",
        r.stderr
    );
}

/// Before: a token whose role lacks moodle/course:managegroups stopped the run with
/// "the connection was lost … during core_group_get_course_groups", the platforms
/// after it were never done and summary.json kept the previous run's content.
#[test]
fn a_missing_capability_is_named_and_the_other_platforms_are_done() {
    let t = tempfile::tempdir().unwrap();
    let moodle = Moodle::start("nopermissions-groups");
    let w = World::new(t.path(), &moodle, "editingteacher", Reads::PerCourse);
    w.sources(&OPTION, &(13..=20).collect::<Vec<_>>());
    if let Some(l) = &moodle.live {
        psql(
            "delete from mdl_role_capabilities where capability = 'moodle/course:managegroups' \
             and roleid = (select id from mdl_role where shortname = 'enrolgenws')",
        );
        let purge = ". lib/env.sh && cd \"$MOODLE_DIR\" && $PHP admin/cli/purge_caches.php";
        crate::moodle_server::in_harness(&l.harness, purge);
    }
    // A second platform, delivered as files, after it.
    let text = std::fs::read_to_string(&w.cfg).unwrap();
    let text = text
        .replace(
            "cohorts:\n",
            "  zfiles: { accounts: [unicaen], csv: { delimiter: \";\" } }\ncohorts:\n",
        )
        .replace(
            "enrol:\n",
            "enrol:\n  - { cohort: soutien, platform: zfiles, course: SOUTIEN-F, role: student }\n",
        );
    std::fs::write(&w.cfg, text).unwrap();
    std::fs::create_dir_all(t.path().join("out")).unwrap();
    std::fs::write(t.path().join("out/summary.json"), "{\"previous\": true}").unwrap();

    let r = w.run(24, &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("core_group_get_course_groups: refused: nopermissions")
            && r.stderr.contains(
                "the token's role lacks moodle/course:managegroups, which core_group_get_course_groups needs"
            ),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("connection was lost"), "{}", r.stderr);
    // The platform after it is done, and the summary says what happened.
    let file = std::fs::read_to_string(t.path().join("out/zfiles/zfiles.csv")).unwrap();
    assert_eq!(file.lines().count(), 1 + 8, "{file}");
    let s = w.summary();
    assert!(s.get("previous").is_none(), "the run's own summary: {s}");
    assert!(
        s["platforms"]["ecampus"]["failed"]
            .as_str()
            .unwrap()
            .contains("moodle/course:managegroups"),
        "{s}"
    );
    assert_eq!(s["platforms"]["zfiles"]["enrolments"], 8);
    // The enrolments went through before the groups were needed: journaled.
    assert!(
        w.journal(1).contains("enrol;OPTION;21000001;student;;ok"),
        "{}",
        w.journal(1)
    );
}
