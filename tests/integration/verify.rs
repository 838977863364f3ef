//! `verify` and `check` against answers recorded from a real Moodle 4.5.6
//! (tests/fixtures/moodle/README.md says how), served by a small HTTP server in the
//! test process.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use crate::moodle_server::{replay, service_functions, with_recording, ws, TOKEN};
use crate::util::*;

/// The demo with a Moodle connection on Ecampus, the token in a file.
fn demo_with_moodle(dir: &Path, url: &str, token: &str) -> PathBuf {
    let cfg = copy_demo(dir);
    std::fs::write(dir.join("token"), format!("{token}\n")).unwrap();
    edit(
        &cfg,
        "    csv: { delimiter: \";\", layout: long, max_rows: 150 }\n",
        &format!(
            "    csv: {{ delimiter: \";\", layout: long, max_rows: 150 }}\n    moodle: {{ url: \"{url}\", token_file: {} }}\n",
            dir.join("token").display()
        ),
    );
    cfg
}

fn verify(dir: &Path, cfg: &Path, extra: &[&str]) -> Out {
    verify_recorded(dir, cfg, extra, None)
}

/// `verify`, its answers recorded into the fixture `record` when the live test
/// records (ENROLGEN_TEST_MOODLE_RECORD=1).
fn verify_recorded(dir: &Path, cfg: &Path, extra: &[&str], record: Option<&str>) -> Out {
    let mut args = vec![
        "verify",
        "-c",
        cfg.to_str().unwrap(),
        "--out",
        "v",
        "--as-of",
        AS_OF,
    ];
    args.extend_from_slice(extra);
    with_recording(dir, &args, record)
}

fn read(dir: &Path, p: &str) -> String {
    std::fs::read_to_string(dir.join(p)).unwrap()
}

#[test]
fn verify_exits_0_with_an_empty_file_when_moodle_holds_the_plan() {
    let t = tempfile::tempdir().unwrap();
    let cfg = demo_with_moodle(t.path(), &replay("as-planned"), TOKEN);
    let r = verify(t.path(), &cfg, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        read(t.path(), "v/ecampus/verify.csv"),
        "problem;course;username;role;expected;actual\n"
    );
    let s: serde_json::Value = serde_json::from_str(&read(t.path(), "v/summary.json")).unwrap();
    assert_eq!(s["moodle"]["ecampus"]["differences"], 0);
    assert_eq!(
        s["moodle"]["ecampus"]["courses"]["PSY-L1-STATS"]["planned"],
        53
    );
    assert_eq!(
        s["moodle"]["ecampus"]["courses"]["PSY-L1-STATS"]["active_in_moodle"],
        53
    );
    // The service's functions (no batch function there), the site's courses, then
    // two requests per course (active users, the others), never per student.
    let moodle = s["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| {
            x["source"]
                .as_str()
                .unwrap()
                .starts_with("Moodle of ecampus")
        })
        .unwrap();
    assert_eq!(moodle["requests"], 1 + 1 + 2 * 5);
    let html = read(t.path(), "v/report.html");
    assert!(
        html.contains("<h2>Moodle now: ecampus</h2>") && html.contains("<p>0 difference(s).</p>")
    );
}

// Before: `verify -q` still printed its summary line on stderr.
#[test]
fn verify_quiet_says_nothing_but_its_exit_code() {
    let t = tempfile::tempdir().unwrap();
    let cfg = demo_with_moodle(t.path(), &replay("changed"), TOKEN);
    let r = verify(t.path(), &cfg, &["-q"]);
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert_eq!(r.stderr, "");
    assert!(read(t.path(), "v/ecampus/verify.csv").contains("missing;PSY-L1-METHODO;21000001;"));
}

#[test]
fn verify_reports_exactly_each_change_made_in_moodle() {
    let t = tempfile::tempdir().unwrap();
    let cfg = demo_with_moodle(t.path(), &replay("changed"), TOKEN);
    let r = verify(t.path(), &cfg, &[]);
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert_eq!(
        read(t.path(), "v/ecampus/verify.csv"),
        "problem;course;username;role;expected;actual\n\
         missing;PSY-L1-METHODO;21000001;student;enrolled;\n\
         suspended;PSY-L1-STATS;21000004;student;active;not active\n\
         missing_group;PSY-L1-STATS;21000007;student;TD3;TD1\n\
         extra_group;PSY-L1-STATS;21000007;student;TD3;TD1\n\
         other_enrolment;PSY-L1-STATS;21000250;student;;\n"
    );
    // 21000250 was enrolled by hand, never by enrolgen (no state says so): listed,
    // not a difference.
    assert!(
        r.stderr.contains(
            "verify ecampus: 4 difference(s) in 5 course(s); 1 enrolment(s) made by others, listed"
        ),
        "{}",
        r.stderr
    );
    let s: serde_json::Value = serde_json::from_str(&read(t.path(), "v/summary.json")).unwrap();
    assert_eq!(s["moodle"]["ecampus"]["problems"]["missing"], 1);
    assert_eq!(s["moodle"]["ecampus"]["problems"]["other_enrolment"], 1);
    assert_eq!(s["moodle"]["ecampus"]["others"], 1);
    assert_eq!(
        s["moodle"]["ecampus"]["courses"]["PSY-L1-STATS"]["differences"],
        3
    );
    let html = read(t.path(), "v/report.html");
    assert!(html.contains("4 difference(s), listed in <code>ecampus/verify.csv</code>"));
}

#[test]
fn verify_file_checks_only_the_rows_of_an_upload_file() {
    let t = tempfile::tempdir().unwrap();
    let cfg = demo_with_moodle(t.path(), &replay("changed"), TOKEN);
    std::fs::write(
        t.path().join("soutien.csv"),
        "username;course1;role1;group1\n21000004;PSY-L1-STATS;student;TD2\n21000007;PSY-L1-STATS;student;TD1\n21000009;PSY-L1-STATS;student;\n",
    )
    .unwrap();
    let r = verify(
        t.path(),
        &cfg,
        &["--platform", "ecampus", "--file", "soutien.csv"],
    );
    assert_eq!(r.code, 6, "{}", r.stderr);
    // 21000007 is in TD1 as the file says; 21000250 is not the file's business.
    assert_eq!(
        read(t.path(), "v/ecampus/verify.csv"),
        "problem;course;username;role;expected;actual\nsuspended;PSY-L1-STATS;21000004;student;active;not active\n"
    );
}

#[test]
fn moodle_errors_name_the_url_the_error_code_and_what_to_do() {
    let t = tempfile::tempdir().unwrap();
    for (fixture, token, needles) in [
        (
            "as-planned",
            "0123456789abcdef0123456789abcdef",
            &["invalidtoken", "check token_env or token_file"][..],
        ),
        (
            "nopermissions",
            TOKEN,
            &[
                "refused: nopermissions",
                "the token's role lacks moodle/course:viewparticipants and moodle/course:enrolreview",
            ][..],
        ),
        (
            "accessexception",
            TOKEN,
            &["accessexception", "enrolgen check"][..],
        ),
        (
            "accessexception-batched",
            TOKEN,
            &[
                "core_enrol_get_enrolled_users (in tool_mobile_call_external_functions): refused: accessexception",
                "enrolgen check",
            ][..],
        ),
    ] {
        let dir = t.path().join(fixture);
        let url = replay(fixture);
        let cfg = demo_with_moodle(&dir, &url, token);
        let r = verify(&dir, &cfg, &[]);
        assert_eq!(r.code, 3, "{fixture}: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!("Moodle of ecampus ({url})")),
            "{}",
            r.stderr
        );
        for n in needles {
            assert!(r.stderr.contains(n), "{fixture}: {n} in {}", r.stderr);
        }
        assert!(!r.stderr.contains(token), "the token leaked: {}", r.stderr);
        assert!(
            !dir.join("v").exists(),
            "nothing written when Moodle cannot be read"
        );
    }
    // Nobody listening.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = t.path().join("closed");
    let cfg = demo_with_moodle(&dir, &format!("http://127.0.0.1:{port}"), TOKEN);
    let r = verify(&dir, &cfg, &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("Moodle of ecampus (http://127.0.0.1:{port})")),
        "{}",
        r.stderr
    );
}

#[test]
fn check_tries_the_token_and_lists_the_functions_it_lacks() {
    let t = tempfile::tempdir().unwrap();
    let cfg = demo_with_moodle(&t.path().join("ok"), &replay("site-info"), TOKEN);
    let r = enrolgen(t.path(), &["check", "-c", cfg.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("ok, \"Moodle harness\", Moodle 4.5.6 (Build: 20250811), token of wsenrol"),
        "{}",
        r.stdout
    );
    // Delivered through the web services: the service has every function the
    // channel calls, and check says what the batch function would save.
    let ws = demo_with_moodle(&t.path().join("ws"), &replay("site-info"), TOKEN);
    edit(
        &ws,
        "    moodle: {",
        "    deliver: webservice\n    moodle: {",
    );
    let r = enrolgen(t.path(), &["check", "-c", ws.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains(
            "note  without tool_mobile_call_external_functions in the service, `run` and `verify` read each course in requests of its own (add it: fifty reads per request"
        ),
        "{}",
        r.stdout
    );
    let cfg = demo_with_moodle(
        &t.path().join("missing"),
        &replay("site-info-missing"),
        TOKEN,
    );
    let r = enrolgen(t.path(), &["check", "-c", cfg.to_str().unwrap()]);
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(
        r.stdout.contains("FAIL  the token's service lacks core_course_get_courses_by_field, core_enrol_get_enrolled_users"),
        "{}",
        r.stdout
    );
}

#[test]
fn the_token_appears_in_no_output_and_no_file_at_any_log_level() {
    let t = tempfile::tempdir().unwrap();
    let cfg = demo_with_moodle(t.path(), &replay("changed"), TOKEN);
    let r = verify(t.path(), &cfg, &["-vv", "--json"]);
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert!(!r.stderr.contains(TOKEN) && !r.stdout.contains(TOKEN));
    for (name, bytes) in read_tree(&t.path().join("v")) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(TOKEN),
            "token in {name}"
        );
    }
}

#[test]
fn a_moodle_connection_needs_a_token_source_and_a_site_address() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    edit(
        &cfg,
        "    csv: { delimiter: \";\", layout: long, max_rows: 150 }\n",
        "    csv: { delimiter: \";\", layout: long, max_rows: 150 }\n    moodle: { url: \"https://ecampus.example.fr\", token: abc }\n",
    );
    let r = verify(t.path(), &cfg, &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("platforms.ecampus.moodle") && r.stderr.contains("unknown field `token`"),
        "{}",
        r.stderr
    );
    edit(&cfg, "token: abc", "token_env: T");
    edit(
        &cfg,
        "https://ecampus.example.fr",
        "ecampus.example.fr/webservice/rest/server.php",
    );
    let r = verify(t.path(), &cfg, &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("platforms.ecampus.moodle.url: 'ecampus.example.fr/webservice/rest/server.php' is not a site address"), "{}", r.stderr);
}

/// Opt-in: a real Moodle built with the maintainers' harness. Set
/// ENROLGEN_TEST_MOODLE_HARNESS (the harness's scripts: check.sh, ws-setup.sh),
/// ENROLGEN_TEST_MOODLE_URL (http://localhost:8088) and ENROLGEN_TEST_MOODLE_TOKEN_FILE.
/// Imports the demo's Ecampus files with Moodle's CLI upload tool (this resets the
/// harness's database), checks that verify finds nothing, changes Moodle through
/// its web services, and asserts the exact verify.csv.
#[test]
fn live_verify_against_a_real_moodle() {
    let (Some(harness), Some(url), Some(token_file)) = (
        std::env::var_os("ENROLGEN_TEST_MOODLE_HARNESS"),
        std::env::var("ENROLGEN_TEST_MOODLE_URL").ok(),
        std::env::var_os("ENROLGEN_TEST_MOODLE_TOKEN_FILE"),
    ) else {
        eprintln!(
            "note: live Moodle test skipped (set ENROLGEN_TEST_MOODLE_HARNESS, _URL, _TOKEN_FILE)"
        );
        return;
    };
    let harness = PathBuf::from(harness);
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_string();
    let t = tempfile::tempdir().unwrap();
    let cfg = demo_with_moodle(t.path(), &url, &token);
    assert_eq!(run_config(t.path(), &cfg, "out").code, 0);
    // The users and courses the files name must exist first.
    let files = ["out/ecampus/ecampus.csv", "out/ecampus/ecampus-002.csv"];
    let (mut users, mut courses) = (
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
    );
    for f in files {
        for l in read(t.path(), f).lines().skip(1) {
            let c: Vec<&str> = l.split(';').collect();
            users.insert(c[0].to_string());
            courses.insert(c[1].to_string());
        }
    }
    let world = serde_json::json!({
        "users": users.iter().map(|u| serde_json::json!({"username": u})).collect::<Vec<_>>(),
        "courses": courses.iter().map(|c| serde_json::json!({"shortname": c, "groups": []})).collect::<Vec<_>>(),
    });
    std::fs::write(t.path().join("world.json"), world.to_string()).unwrap();
    for (i, f) in files.iter().enumerate() {
        let mut c = std::process::Command::new(harness.join("check.sh"));
        c.arg(t.path().join(f))
            .arg("semicolon")
            .arg(t.path().join("world.json"));
        if i > 0 {
            c.arg("--no-reset");
        }
        assert!(c.status().unwrap().success(), "import of {f}");
    }
    let ws_setup = || {
        assert!(std::process::Command::new(harness.join("ws-setup.sh"))
            .arg("--quiet")
            // It prints the token.
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap()
            .success());
    };
    ws_setup();
    let r = verify_recorded(t.path(), &cfg, &[], Some("as-planned"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        read(t.path(), "v/ecampus/verify.csv"),
        "problem;course;username;role;expected;actual\n"
    );

    let user = |name: &str| {
        ws(
            &url,
            &token,
            "core_user_get_users_by_field",
            &[("field", "username".into()), ("values[0]", name.into())],
        )[0]["id"]
            .clone()
    };
    let course = |name: &str| {
        ws(
            &url,
            &token,
            "core_course_get_courses_by_field",
            &[("field", "shortname".into()), ("value", name.into())],
        )["courses"][0]["id"]
            .clone()
    };
    let (stats, methodo) = (course("PSY-L1-STATS"), course("PSY-L1-METHODO"));
    let groups = ws(
        &url,
        &token,
        "core_group_get_course_groups",
        &[("courseid", stats.to_string())],
    );
    let group = |n: &str| {
        groups
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == n)
            .unwrap()["id"]
            .clone()
    };
    ws(
        &url,
        &token,
        "enrol_manual_unenrol_users",
        &[
            ("enrolments[0][userid]", user("21000001").to_string()),
            ("enrolments[0][courseid]", methodo.to_string()),
        ],
    );
    ws(
        &url,
        &token,
        "enrol_manual_enrol_users",
        &[
            ("enrolments[0][userid]", user("21000004").to_string()),
            ("enrolments[0][courseid]", stats.to_string()),
            ("enrolments[0][roleid]", "5".into()),
            ("enrolments[0][suspend]", "1".into()),
        ],
    );
    let u7 = user("21000007").to_string();
    ws(
        &url,
        &token,
        "core_group_delete_group_members",
        &[
            ("members[0][groupid]", group("TD3").to_string()),
            ("members[0][userid]", u7.clone()),
        ],
    );
    ws(
        &url,
        &token,
        "core_group_add_group_members",
        &[
            ("members[0][groupid]", group("TD1").to_string()),
            ("members[0][userid]", u7),
        ],
    );
    ws(
        &url,
        &token,
        "enrol_manual_enrol_users",
        &[
            ("enrolments[0][userid]", user("21000250").to_string()),
            ("enrolments[0][courseid]", stats.to_string()),
            ("enrolments[0][roleid]", "5".into()),
        ],
    );
    let r = verify_recorded(t.path(), &cfg, &[], Some("changed"));
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert_eq!(
        read(t.path(), "v/ecampus/verify.csv"),
        "problem;course;username;role;expected;actual\n\
         missing;PSY-L1-METHODO;21000001;student;enrolled;\n\
         suspended;PSY-L1-STATS;21000004;student;active;not active\n\
         missing_group;PSY-L1-STATS;21000007;student;TD3;TD1\n\
         extra_group;PSY-L1-STATS;21000007;student;TD3;TD1\n\
         other_enrolment;PSY-L1-STATS;21000250;student;;\n"
    );

    // The errors and the service's contents the other tests replay.
    let check = |name: &str| {
        with_recording(
            t.path(),
            &["check", "-c", cfg.to_str().unwrap()],
            Some(name),
        )
    };
    let harness_sh = |script: &str| crate::moodle_server::in_harness(&harness, script);
    assert_eq!(check("site-info").code, 0);
    let bad = demo_with_moodle(
        &t.path().join("bad"),
        &url,
        "0123456789abcdef0123456789abcdef",
    );
    assert_eq!(verify_recorded(t.path(), &bad, &[], Some("errors")).code, 3);
    std::fs::write(
        t.path().join("unassign.php"),
        "<?php define('CLI_SCRIPT', true); require getenv('MOODLE_DIR') . '/config.php';\n\
         $r = $DB->get_record('role', ['shortname' => 'enrolgenws'], '*', MUST_EXIST);\n\
         unassign_capability('moodle/course:enrolreview', $r->id, context_system::instance()->id);\n",
    )
    .unwrap();
    harness_sh(&format!(
        ". lib/env.sh && MOODLE_DIR=$MOODLE_DIR $PHP {}",
        t.path().join("unassign.php").display()
    ));
    assert_eq!(
        verify_recorded(t.path(), &cfg, &[], Some("nopermissions")).code,
        3
    );
    ws_setup();
    service_functions(false, &["core_enrol_get_enrolled_users"]);
    assert_eq!(
        verify_recorded(t.path(), &cfg, &[], Some("accessexception")).code,
        3
    );
    // The same through the batch function: Moodle answers inside the batch.
    service_functions(true, &["tool_mobile_call_external_functions"]);
    assert_eq!(
        verify_recorded(t.path(), &cfg, &[], Some("accessexception-batched")).code,
        3
    );
    ws_setup();
    service_functions(
        false,
        &[
            "core_course_get_courses_by_field",
            "core_enrol_get_enrolled_users",
        ],
    );
    assert_eq!(check("site-info-missing").code, 3);
    ws_setup();
}
