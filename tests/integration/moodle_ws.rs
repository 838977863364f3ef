//! `verify` and `check` against answers recorded from a real Moodle 4.5.6
//! (tests/fixtures/moodle/README.md says how), served by a small HTTP server in the
//! test process.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use crate::util::*;

/// The token the replayed Moodle accepts; any other gets the recorded
/// `invalidtoken` answer.
const TOKEN: &str = "5e1f0c2a9b8d7e6f5e1f0c2a9b8d7e6f";

fn fixtures(name: &str) -> PathBuf {
    repo().join("tests/fixtures/moodle").join(name)
}

/// A recorded answer's key: the function and its parameters, sorted.
fn key(function: &str, params: &BTreeMap<String, String>) -> String {
    let p: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{function}?{}", p.join("&"))
}

fn load(name: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(fixtures(name).join("answers.jsonl")).unwrap();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let params: BTreeMap<String, String> = v["params"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            (
                key(v["function"].as_str().unwrap(), &params),
                v["body"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// Serves `name`'s recorded answers on a free loopback port; returns the site URL.
/// The server lives as long as the test process (one connection at a time).
fn replay(name: &str) -> String {
    let answers = load(name);
    let invalid = load("errors").into_values().next().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let mut params: BTreeMap<String, String> = String::from_utf8_lossy(&body)
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (decode(k), decode(v)))
                .collect();
            let token = params.remove("wstoken").unwrap_or_default();
            let function = params.remove("wsfunction").unwrap_or_default();
            params.remove("moodlewsrestformat");
            let (status, answer) = if token != TOKEN {
                (200, invalid.clone())
            } else {
                match answers.get(&key(&function, &params)) {
                    Some(a) => (200, a.clone()),
                    None => (
                        500,
                        format!("no recorded answer for {}", key(&function, &params)),
                    ),
                }
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    url
}

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
    enrolgen(dir, &args)
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
    // Three requests per course (its id, active users, the others), never per student.
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
    assert_eq!(moodle["requests"], 15);
    let html = read(t.path(), "v/report.html");
    assert!(
        html.contains("<h2>Moodle now: ecampus</h2>") && html.contains("<p>0 difference(s).</p>")
    );
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
         not_planned;PSY-L1-STATS;21000250;student;;\n"
    );
    assert!(
        r.stderr.contains("verify ecampus: 5 difference(s)"),
        "{}",
        r.stderr
    );
    let s: serde_json::Value = serde_json::from_str(&read(t.path(), "v/summary.json")).unwrap();
    assert_eq!(s["moodle"]["ecampus"]["problems"]["missing"], 1);
    assert_eq!(
        s["moodle"]["ecampus"]["courses"]["PSY-L1-STATS"]["differences"],
        4
    );
    let html = read(t.path(), "v/report.html");
    assert!(html.contains("5 difference(s), listed in <code>ecampus/verify.csv</code>"));
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
            &["nopermissions", "lacks a capability"][..],
        ),
        (
            "accessexception",
            TOKEN,
            &["accessexception", "enrolgen check"][..],
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
