//! The turnover of a course reused every year through the web services (issue 38),
//! recorded from the harness (tests/fixtures/moodle/README.md): the demo's PSY1L1
//! students of 2025 enrolled on 31 August; on 1 September ten have re-registered and
//! the others are kept; on 31 October, the window's day, those still not
//! re-registered are suspended as planned, none held back by the caps.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::delta::psy_years;
use crate::moodle_server::{live_site, psql, replay, same_site, with_recording, TOKEN};
use crate::util::*;

/// `psy_years`' configuration, through the web services of the site at `url`.
fn ws_config(dir: &Path, reregistered: usize, url: &str, token: &str) -> PathBuf {
    ws_config_for(dir, reregistered, (url, token), "PSY-STATS")
}

/// `ws_config` enrolling in `course`.
fn ws_config_for(
    dir: &Path,
    reregistered: usize,
    (url, token): (&str, &str),
    course: &str,
) -> PathBuf {
    let cfg = psy_years(dir, reregistered, true);
    let d = cfg.parent().unwrap();
    std::fs::write(d.join("token"), format!("{token}\n")).unwrap();
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("course: PSY-STATS,", &format!("course: \"{course}\","));
    let text = text.replace(
        "ecampus: { accounts: [unicaen], csv: { delimiter: \";\" } }",
        &format!(
            "ecampus: {{ accounts: [unicaen], csv: {{ delimiter: \";\" }}, deliver: webservice, moodle: {{ url: \"{url}\", token_file: {} }} }}",
            d.join("token").display()
        ),
    );
    let path = d.join("years-ws.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The usernames a snapshot plans on `day` with `reregistered` students of 2026.
fn planned(dir: &Path, reregistered: usize, day: &str) -> BTreeSet<String> {
    let cfg = psy_years(dir, reregistered, true);
    let out = format!("plan-{day}");
    let r = enrolgen(
        dir,
        &[
            "run",
            "-c",
            cfg.to_str().unwrap(),
            "--out",
            &out,
            "--as-of",
            day,
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::read_to_string(dir.join(out).join("ecampus/ecampus.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(';').next().unwrap().to_string())
        .collect()
}

/// The newest journal's usernames of `operation` that Moodle confirmed.
fn journal_lines(dir: &Path, operation: &str) -> BTreeSet<String> {
    newest_journal(dir)
        .lines()
        .filter(|l| l.starts_with(&format!("{operation};")) && l.ends_with(";ok"))
        .map(|l| l.split(';').nth(2).unwrap().to_string())
        .collect()
}

/// The newest journal (a night that sends nothing writes none).
fn newest_journal(dir: &Path) -> String {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir.join("out/ecampus"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("applied-")
        })
        .collect();
    names.sort();
    names
        .last()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .unwrap_or_default()
}

/// One night through the web services: the site of `fixture` (or the harness,
/// recording it), `cfg` made for its URL and token.
fn ws_night(
    dir: &Path,
    live: &Option<(String, String)>,
    (day, fixture, first): (&str, &str, bool),
    cfg: impl Fn(&str, &str) -> PathBuf,
) -> Out {
    let (url, token) = match live {
        Some((url, token)) => (url.clone(), token.clone()),
        None => (replay(fixture), TOKEN.to_string()),
    };
    let cfg = cfg(&url, &token);
    if !first {
        same_site(&dir.join("out/ecampus/webservice-state.json"), &url);
    }
    let args = [
        "run",
        "-c",
        cfg.to_str().unwrap(),
        "--out",
        "out",
        "--as-of",
        day,
    ];
    with_recording(dir, &args, Some(fixture))
}

#[test]
fn a_reused_course_turns_over_through_the_web_services_without_a_manual_step() {
    let t = tempfile::tempdir().unwrap();
    let last_year = planned(t.path(), 10, "2026-08-31");
    let on_day = planned(t.path(), 40, "2026-10-31");
    let world = serde_json::json!({
        "users": last_year.iter().map(|u| serde_json::json!({"username": u})).collect::<Vec<_>>(),
        "courses": [{"shortname": "PSY-STATS"}],
        "enrolments": [],
    });
    let live = live_site(t.path(), &world, &[]);
    let night = |reregistered: usize, day: &str, fixture: &str, first: bool| {
        let cfg = |url: &str, token: &str| ws_config(t.path(), reregistered, url, token);
        ws_night(t.path(), &live, (day, fixture, first), cfg)
    };

    let r = night(10, "2026-08-31", "turnover-ws-1", true);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(journal_lines(t.path(), "enrol"), last_year);
    let first = newest_journal(t.path());

    let r = night(10, "2026-09-01", "turnover-ws-2", false);
    assert_eq!(r.code, 0, "nothing held back: {}", r.stderr);
    assert!(
        r.stderr.contains("kept for the turnover until 2026-10-31"),
        "{}",
        r.stderr
    );
    assert!(
        journal_lines(t.path(), "suspend").is_empty(),
        "nobody suspended"
    );
    assert_eq!(newest_journal(t.path()), first, "nothing sent");
    let state =
        std::fs::read_to_string(t.path().join("out/ecampus/webservice-state.json")).unwrap();
    assert!(state.contains("\"kept\""), "{state}");

    let r = night(40, "2026-10-31", "turnover-ws-3", false);
    assert_eq!(r.code, 0, "planned, not held back: {}", r.stderr);
    let expected: BTreeSet<String> = last_year.difference(&on_day).cloned().collect();
    assert!(expected.len() > 3, "more than the caps let through");
    assert_eq!(journal_lines(t.path(), "suspend"), expected, "{}", r.stderr);
    if live.is_some() {
        let active = psql(
            "select count(*) from mdl_user_enrolments ue join mdl_enrol e on e.id = ue.enrolid \
             join mdl_course c on c.id = e.courseid where c.shortname = 'PSY-STATS' and ue.status = 0",
        );
        assert_eq!(
            active,
            on_day.len().to_string(),
            "none of last year's active"
        );
    }
}

/// One course per year through the web services: on 1 September the night enrols in
/// the new year's course and leaves last year's as it is (not read, not suspended),
/// saying so once.
#[test]
fn a_course_per_year_turns_over_through_the_web_services() {
    let t = tempfile::tempdir().unwrap();
    let last_year = planned(t.path(), 10, "2026-08-31");
    let this_year = planned(t.path(), 10, "2026-09-01");
    let world = serde_json::json!({
        "users": last_year.iter().map(|u| serde_json::json!({"username": u})).collect::<Vec<_>>(),
        "courses": [{"shortname": "PSY-2025"}, {"shortname": "PSY-2026"}],
        "enrolments": [],
    });
    let live = live_site(t.path(), &world, &[]);
    let night = |day: &str, fixture: &str, first: bool| {
        let cfg = |url: &str, token: &str| ws_config_for(t.path(), 10, (url, token), "PSY-{year}");
        ws_night(t.path(), &live, (day, fixture, first), cfg)
    };
    let r = night("2026-08-31", "year-course-ws-1", true);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(newest_journal(t.path()).contains("enrol;PSY-2025;"));

    let r = night("2026-09-01", "year-course-ws-2", false);
    assert_eq!(r.code, 0, "nothing held back: {}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "course PSY-2025 is an earlier academic year's: no longer managed; its {} enrolment(s) are left in Moodle as they are",
            last_year.len()
        )),
        "{}",
        r.stderr
    );
    let journal = newest_journal(t.path());
    assert!(
        !journal.contains("PSY-2025"),
        "last year's course untouched: {journal}"
    );
    assert_eq!(journal_lines(t.path(), "enrol"), this_year);
    let state =
        std::fs::read_to_string(t.path().join("out/ecampus/webservice-state.json")).unwrap();
    assert!(!state.contains("PSY-2025"), "forgotten: {state}");
    if live.is_some() {
        let active = psql(
            "select count(*) from mdl_user_enrolments ue join mdl_enrol e on e.id = ue.enrolid \
             join mdl_course c on c.id = e.courseid where c.shortname = 'PSY-2025' and ue.status = 0",
        );
        assert_eq!(
            active,
            last_year.len().to_string(),
            "left active as they were"
        );
    }
}
