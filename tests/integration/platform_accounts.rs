//! `accounts_in: moodle`: the platform's own Moodle says whether each account of the
//! plan exists and may be enrolled, on both channels. Recorded from the harness
//! (tests/fixtures/moodle/README.md): a site holding the demo's Ecampus courses and
//! accounts, but for one account never made, one deleted, one suspended and one
//! under another authentication method.

use std::path::{Path, PathBuf};

use crate::moodle_server::{in_harness, live_site, psql, replay, same_site, with_recording, TOKEN};
use crate::util::*;

const AS_OF: &str = "2026-11-24";

/// The harness, when recording is asked: reset to a site with these users and
/// courses (then `scripts`), the token set up.
fn live(
    dir: &Path,
    users: &[serde_json::Value],
    courses: &[String],
    scripts: &[String],
) -> Option<(String, String)> {
    let world = serde_json::json!({
        "users": users,
        "courses": courses.iter().map(|c| serde_json::json!({"shortname": c})).collect::<Vec<_>>(),
    });
    live_site(dir, &world, scripts)
}

fn named(users: &[String]) -> Vec<serde_json::Value> {
    users
        .iter()
        .map(|u| serde_json::json!({"username": u}))
        .collect()
}

/// The usernames and courses of Ecampus's upload files, sorted.
fn planned(dir: &Path, out: &str) -> (Vec<String>, Vec<String>) {
    let (mut users, mut courses) = (
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
    );
    for f in ["ecampus.csv", "ecampus-002.csv"] {
        let text = std::fs::read_to_string(dir.join(out).join("ecampus").join(f)).unwrap();
        for l in text.lines().skip(1) {
            let c: Vec<&str> = l.split(';').collect();
            users.insert(c[0].to_string());
            courses.insert(c[1].to_string());
        }
    }
    (users.into_iter().collect(), courses.into_iter().collect())
}

fn with_accounts_in_moodle(cfg: &Path, url: &str, token_file: &Path, deliver: &str) -> PathBuf {
    let text = std::fs::read_to_string(cfg).unwrap();
    let from = "    csv: { delimiter: \";\", layout: long, max_rows: 150 }\n";
    assert!(text.contains(from));
    let to = format!(
        "{from}    moodle: {{ url: \"{url}\", token_file: {} }}\n    accounts_in: moodle\n    moodle_auth: [manual, cas]\n    deliver: {deliver}\n",
        token_file.display()
    );
    let path = cfg.with_file_name(format!("moodle-{deliver}.yaml"));
    std::fs::write(&path, text.replacen(from, &to, 1)).unwrap();
    path
}

/// A dry run of the web-service channel (what it would do), recorded as `fixture`:
/// its summary.
fn ws_dry_run(dir: &Path, cfg: &Path, fixture: &str) -> serde_json::Value {
    let args = run_argv(cfg.to_str().unwrap(), "ws", &["--dry-run", "--json"]);
    let r = with_recording(dir, &args, Some(fixture));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The operations and files it would apply and write, then the summary.
    let json = &r.stdout[r.stdout.rfind("\n{").map_or(0, |i| i + 1)..];
    serde_json::from_str(json).expect(&r.stdout)
}

/// A `--delta` night into `nightly/` (`extra`: more arguments), recorded as
/// `fixture`: its summary.
fn night(dir: &Path, cfg: &Path, extra: &[&str], fixture: &str) -> serde_json::Value {
    let mut args = vec![
        "run",
        "-c",
        cfg.to_str().unwrap(),
        "--out",
        "nightly",
        "--as-of",
        AS_OF,
        "--delta",
    ];
    args.extend(extra);
    let r = with_recording(dir, &args, Some(fixture));
    assert_eq!(r.code, 0, "{fixture}: {}", r.stderr);
    serde_json::from_str(&std::fs::read_to_string(dir.join("nightly/summary.json")).unwrap())
        .unwrap()
}

/// The summary's line for the accounts read from the platform's Moodle.
fn accounts_source(dir: &Path, out: &str) -> serde_json::Value {
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(out).join("summary.json")).unwrap())
            .unwrap();
    s["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["source"].as_str().unwrap().ends_with("(accounts)"))
        .unwrap()
        .clone()
}

/// Before: the directory alone decided, and a row for an account the platform did
/// not have was an import error ("user not found") the report never mentioned.
#[test]
fn the_platform_s_moodle_decides_which_accounts_are_enrolled_on_both_channels() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let r = run_config(t.path(), &cfg, "plain");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (users, courses) = planned(t.path(), "plain");
    // Four accounts of the plan, each refused for its own reason.
    let (missing, deleted, suspended, ldap) = (&users[0], &users[1], &users[2], &users[3]);
    let made: Vec<String> = users.iter().filter(|u| *u != missing).cloned().collect();
    let recording = live(t.path(), &named(&made), &courses, &[]);
    let is_live = recording.is_some();
    let (url, token) = match recording {
        Some(l) => {
            // Deleted as Moodle deletes (delete_user renames the account too).
            let harness = std::env::var("ENROLGEN_TEST_MOODLE_HARNESS").unwrap();
            let php = format!(
                ". lib/env.sh && $PHP -r 'define(\"CLI_SCRIPT\", true); require(\"'$MOODLE_DIR'/config.php\"); delete_user($DB->get_record(\"user\", [\"username\" => \"{deleted}\"]));'"
            );
            in_harness(Path::new(&harness), &php);
            psql(&format!(
                "update mdl_user set suspended = 1 where username = '{suspended}'"
            ));
            psql(&format!(
                "update mdl_user set auth = 'ldap' where username = '{ldap}'"
            ));
            l
        }
        None => (replay("platform-accounts"), TOKEN.to_string()),
    };
    let token_file = t.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();

    // Files.
    let files = with_accounts_in_moodle(&cfg, &url, &token_file, "files");
    let args = run_args(&files, "out");
    let r = with_recording(t.path(), &args, Some("platform-accounts"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (written, _) = planned(t.path(), "out");
    let refused = [missing, deleted, suspended, ldap];
    assert_eq!(
        written,
        users
            .iter()
            .filter(|u| !refused.contains(u))
            .cloned()
            .collect::<Vec<_>>(),
        "every other account of the plan is written"
    );
    let left = std::fs::read_to_string(t.path().join("out/ecampus/left-out.csv")).unwrap();
    for (reason, who, detail) in [
        (
            "no_platform_account",
            missing,
            format!("no account '{missing}' on "),
        ),
        (
            "no_platform_account",
            deleted,
            format!("no account '{deleted}' on "),
        ),
        (
            "platform_account_suspended",
            suspended,
            format!("account '{suspended}' is suspended on "),
        ),
        (
            "platform_auth_refused",
            ldap,
            format!("account '{ldap}' authenticates by 'ldap' on "),
        ),
    ] {
        assert!(
            left.lines().any(|l| l.starts_with(&format!("{reason};"))
                && l.contains(&format!(";{who};"))
                && l.contains(&detail)),
            "{reason} {who}\n{left}"
        );
    }
    let source = accounts_source(t.path(), "out");
    // The site's functions, then the accounts a hundred a call.
    assert_eq!(source["requests"], 1 + users.len().div_ceil(100));

    // Nightly: every night asks about every account of the plan, so that one
    // suspended in Moodle after the first night is left out the night after (it
    // was never asked again before: enrolled and active, exit 0, every night).
    // (Each night recorded apart: a recording replaces its folder.)
    let ecampus_night = |fixture: &str| {
        let night_url = if is_live {
            url.clone()
        } else {
            replay(fixture)
        };
        let cfg_night = with_accounts_in_moodle(&cfg, &night_url, &token_file, "files");
        let summary = night(t.path(), &cfg_night, &[], fixture);
        let source = accounts_source(t.path(), "nightly");
        (
            source["records"].as_u64().unwrap(),
            source["requests"].as_u64().unwrap(),
            summary,
        )
    };
    let (found, requests, _) = ecampus_night("platform-accounts-night-1");
    assert_eq!(
        found,
        (users.len() - 2) as u64,
        "every account but the two Moodle lacks"
    );
    assert_eq!(requests, 1 + users.len().div_ceil(100) as u64);
    let night_1 = std::fs::read_to_string(t.path().join("nightly/ecampus/left-out.csv")).unwrap();
    let later = &users[5];
    assert!(!night_1.contains(&format!(";{later};")), "{night_1}");
    if is_live {
        psql(&format!(
            "update mdl_user set suspended = 1 where username = '{later}'"
        ));
    }
    let (found, requests, summary) = ecampus_night("platform-accounts-night-2");
    assert_eq!(
        (found, requests),
        (
            (users.len() - 2) as u64,
            1 + users.len().div_ceil(100) as u64
        ),
        "every account asked again"
    );
    let left = std::fs::read_to_string(t.path().join("nightly/ecampus/left-out.csv")).unwrap();
    assert!(
        left.lines()
            .any(|l| l.starts_with("platform_account_suspended;")
                && l.contains(&format!(";{later};"))),
        "{left}"
    );
    let warnings = summary["warnings"].to_string();
    assert!(
        warnings.contains(
            "platform ecampus: its Moodle refuses accounts of the plan (no_platform_account 2, platform_account_suspended 2, platform_auth_refused 1)"
        ),
        "{warnings}"
    );
    // Its enrolments written on night 1 are suspended by night 2's file.
    let outbox = std::fs::read_dir(t.path().join("nightly/ecampus/outbox"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<String>();
    assert!(
        outbox
            .lines()
            .any(|l| l.starts_with(&format!("{later};")) && l.ends_with(";1")),
        "{outbox}"
    );

    // Web services: the same accounts are not enrolled (a dry run: what would be done).
    // (Recorded apart: each recording replaces its folder.)
    let ws_url = if is_live {
        url.clone()
    } else {
        replay("platform-accounts-ws")
    };
    let ws = with_accounts_in_moodle(&cfg, &ws_url, &token_file, "webservice");
    let s = ws_dry_run(t.path(), &ws, "platform-accounts-ws");
    let reasons = &s["platforms"]["ecampus"]["left_out"];
    for reason in [
        "no_platform_account",
        "platform_account_suspended",
        "platform_auth_refused",
    ] {
        let in_files = left
            .lines()
            .filter(|l| l.starts_with(&format!("{reason};")))
            .count();
        assert!(in_files > 0, "{reason}");
        assert_eq!(
            reasons[reason], in_files,
            "{reason}, as for files: {reasons}"
        );
    }

    // A Moodle that cannot be asked stops the run before anything is written.
    let down = with_accounts_in_moodle(&cfg, "http://127.0.0.1:9", &token_file, "files");
    let r = enrolgen(
        t.path(),
        &[
            "run",
            "-c",
            down.to_str().unwrap(),
            "--out",
            "down",
            "--as-of",
            AS_OF,
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(!t.path().join("down/ecampus").exists());
}

/// `min_account_age_days` by Moodle's own creation time: an account the platform
/// made on the as-of day waits (account_too_recent, on both channels), one made the
/// evening before is enrolled; a report without the filter would call every account
/// new, and stops the run instead.
#[test]
fn accounts_the_platform_made_today_wait_for_a_later_run() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let r = run_config(t.path(), &cfg, "plain");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (users, courses) = planned(t.path(), "plain");
    let (today, evening_before) = (&users[0], &users[1]);
    let recording = live(t.path(), &named(&users), &courses, &[]);
    let is_live = recording.is_some();
    let (url, token) = match recording {
        Some(l) => {
            let harness = std::env::var("ENROLGEN_TEST_MOODLE_HARNESS").unwrap();
            // The report with the filter, then one without.
            let php = repo().join("scripts/moodle/created_report.php");
            for flag in ["", "--no-filter"] {
                in_harness(
                    Path::new(&harness),
                    &format!(
                        ". lib/env.sh && MOODLE_DIR=$MOODLE_DIR $PHP {} {flag} >/dev/null",
                        php.display()
                    ),
                );
            }
            assert_eq!(psql("select max(id) from mdl_reportbuilder_report"), "2");
            // 2026-09-01, then the as-of day at 08:00 and the evening before, UTC.
            psql("update mdl_user set timecreated = 1788220800 where id > 2");
            psql(&format!(
                "update mdl_user set timecreated = 1795507200 where username = '{today}'"
            ));
            psql(&format!(
                "update mdl_user set timecreated = 1795473000 where username = '{evening_before}'"
            ));
            crate::moodle_server::reports_readable(
                Path::new(&harness),
                &[
                    "core_reportbuilder_set_filters",
                    "core_reportbuilder_retrieve_report",
                ],
            );
            l
        }
        None => (String::new(), TOKEN.to_string()),
    };
    let token_file = t.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let at = |fixture: &str| {
        if is_live {
            url.clone()
        } else {
            replay(fixture)
        }
    };
    let configured = |fixture: &str, deliver: &str, report: u32| {
        let c = with_accounts_in_moodle(&cfg, &at(fixture), &token_file, deliver);
        let text = std::fs::read_to_string(&c).unwrap().replacen(
            "    accounts_in: moodle\n",
            &format!("    accounts_in: moodle\n    moodle_created_report: {report}\n"),
            1,
        );
        std::fs::write(&c, text).unwrap();
        c
    };

    let run_into = |out: &str, fixture: &str, report: u32| {
        let c = configured(fixture, "files", report);
        let args = run_args(&c, out);
        with_recording(t.path(), &args, Some(fixture))
    };

    // Files.
    let r = run_into("out", "created-report", 1);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (written, _) = planned(t.path(), "out");
    assert!(!written.contains(today), "{today} waits");
    assert!(
        written.contains(evening_before),
        "{evening_before} is a day old"
    );
    assert_eq!(written.len(), users.len() - 1);
    let left = std::fs::read_to_string(t.path().join("out/ecampus/left-out.csv")).unwrap();
    // (The directory's createTimestamp still defers its own new accounts.)
    let too_recent = left
        .lines()
        .filter(|l| l.starts_with("account_too_recent;"));
    let waiting: Vec<&str> = too_recent
        .clone()
        .filter(|l| l.contains("was created on "))
        .collect();
    assert!(!waiting.is_empty(), "{left}");
    for l in &waiting {
        assert!(l.contains(&format!(";{today};")), "{l}");
        assert!(
            l.contains("was created on ")
                && l.contains(" on 2026-11-24 or later: too recent, retried next run"),
            "{l}"
        );
    }
    let source = accounts_source(t.path(), "out");
    // The site's functions, the accounts a hundred a call, then the report: the
    // filter set three times (a probe, the day, the day again after reading, so
    // that a value changed meanwhile is seen), read three times.
    assert_eq!(source["requests"], 1 + users.len().div_ceil(100) + 6);

    // explain asks the platform about the person alone, and says why they wait.
    let c = configured("explain-created-report", "files", 1);
    let args = [
        "explain",
        today,
        "-c",
        c.to_str().unwrap(),
        "--as-of",
        AS_OF,
    ];
    let r = with_recording(t.path(), &args, Some("explain-created-report"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("account_too_recent: account '")
            && r.stdout
                .contains(" on 2026-11-24 or later: too recent, retried next run"),
        "{}",
        r.stdout
    );

    // Web services: the same account waits.
    let ws = configured("created-report-ws", "webservice", 1);
    let s = ws_dry_run(t.path(), &ws, "created-report-ws");
    assert_eq!(
        s["platforms"]["ecampus"]["left_out"]["account_too_recent"],
        too_recent.count(),
        "{s}"
    );

    // A report without the filter lists every account: the run stops, naming it.
    let r = run_into("wrong", "created-report-unfiltered", 2);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("custom report 2 (moodle_created_report) does not filter its accounts by creation time: add the filter \"Time created\" of its Users source"),
        "{}",
        r.stderr
    );
    assert!(!t.path().join("wrong/ecampus").exists());

    // `check` looks for the report's functions and reads it.
    for (report, fixture, code) in [
        (1, "check-created-report", 0),
        (2, "check-created-report-unfiltered", 3),
    ] {
        let c = configured(fixture, "files", report);
        let r = with_recording(
            t.path(),
            &["check", "-c", c.to_str().unwrap()],
            Some(fixture),
        );
        assert_eq!(r.code, code, "{}{}", r.stdout, r.stderr);
        if code != 0 {
            assert!(
                r.stdout.contains(&format!(
                    "custom report {report} (moodle_created_report) does not filter"
                )),
                "{}",
                r.stdout
            );
        }
    }
}

/// `check` looks for the function in the token's service and tries it.
#[test]
fn check_tries_the_accounts_function() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let live = std::env::var("ENROLGEN_TEST_MOODLE_RECORD").ok().as_deref() == Some("1");
    let (url, token) = match (
        live,
        std::env::var("ENROLGEN_TEST_MOODLE_URL"),
        std::env::var_os("ENROLGEN_TEST_MOODLE_TOKEN_FILE"),
    ) {
        (true, Ok(url), Some(f)) => (url, std::fs::read_to_string(f).unwrap().trim().to_string()),
        _ => (replay("check-accounts"), TOKEN.to_string()),
    };
    let token_file = t.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let files = with_accounts_in_moodle(&cfg, &url, &token_file, "files");
    let args = ["check", "-c", files.to_str().unwrap()];
    let r = with_recording(t.path(), &args, Some("check-accounts"));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("Moodle of ecampus") && r.stdout.contains(": ok, \"Moodle harness\""),
        "{}",
        r.stdout
    );
}

/// The demo's Prélude as its exported list gives it: the configuration, the plain
/// run's upload file, its courses, and the list's accounts (number, suspended).
struct Prelude {
    cfg: PathBuf,
    plain: String,
    courses: Vec<String>,
    accounts: Vec<(String, bool)>,
}

fn prelude(dir: &Path) -> Prelude {
    let cfg = copy_demo(dir);
    let r = run_config(dir, &cfg, "plain");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let plain = std::fs::read_to_string(dir.join("plain/prelude/prelude.csv")).unwrap();
    let courses: std::collections::BTreeSet<String> = plain
        .lines()
        .skip(1)
        .map(|l| l.split(';').nth(1).unwrap().to_string())
        .collect();
    let list = std::fs::read_to_string(cfg.with_file_name("prelude-accounts.csv")).unwrap();
    let accounts = list
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(';').collect();
            (c[0].to_string(), c[3] == "1")
        })
        .collect();
    Prelude {
        cfg,
        plain,
        courses: courses.into_iter().collect(),
        accounts,
    }
}

impl Prelude {
    /// The list's accounts as imported ones: usernames of their own (`u` and the
    /// number), the student number in idnumber.
    fn imported(&self) -> Vec<serde_json::Value> {
        self.accounts
            .iter()
            .map(|(n, _)| serde_json::json!({"username": format!("u{n}"), "idnumber": n}))
            .collect()
    }

    /// Runs Prélude with its accounts in Moodle instead of the list (`keys`: more of
    /// the platform's), recorded into `fixture`.
    fn run(&self, dir: &Path, site: (String, String), keys: &str, fixture: &str) -> Out {
        let moodle = self.configured(dir, site, keys, fixture);
        let args = run_argv(moodle.to_str().unwrap(), "out", &["--platform", "prelude"]);
        with_recording(dir, &args, Some(fixture))
    }

    /// The configuration with Prélude's accounts in Moodle instead of the list.
    fn configured(
        &self,
        dir: &Path,
        (url, token): (String, String),
        keys: &str,
        fixture: &str,
    ) -> PathBuf {
        let token_file = dir.join("token");
        std::fs::write(&token_file, format!("{token}\n")).unwrap();
        let text = std::fs::read_to_string(&self.cfg).unwrap();
        let from = "    account_list: prelude-accounts.csv\n";
        assert!(text.contains(from));
        let to = format!(
            "    accounts_in: moodle\n{keys}    moodle: {{ url: \"{url}\", token_file: {} }}\n",
            token_file.display()
        );
        let moodle = self.cfg.with_file_name(format!("{fixture}.yaml"));
        std::fs::write(&moodle, text.replacen(from, &to, 1)).unwrap();
        moodle
    }
}

/// Prélude's accounts read from its Moodle instead of an exported list: the same
/// file as the list gives, and the same people left out, for the platform's reasons.
#[test]
fn prelude_reads_its_accounts_from_moodle_instead_of_an_exported_list() {
    let t = tempfile::tempdir().unwrap();
    let p = prelude(t.path());
    let users: Vec<String> = p.accounts.iter().map(|(u, _)| u.clone()).collect();
    let suspend: Vec<String> = p
        .accounts
        .iter()
        .filter(|(_, s)| *s)
        .map(|(u, _)| format!("PGPASSWORD=moodle psql -h 127.0.0.1 -p 5433 -U moodle moodle -qAtc \"update mdl_user set suspended = 1 where username = '{u}'\""))
        .collect();
    let site = live(t.path(), &named(&users), &p.courses, &suspend)
        .unwrap_or_else(|| (replay("prelude-accounts"), TOKEN.to_string()));
    let r = p.run(t.path(), site, "", "prelude-accounts");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let upload = std::fs::read_to_string(t.path().join("out/prelude/prelude.csv")).unwrap();
    assert_eq!(upload, p.plain);
    let reasons = |out: &str| {
        let text =
            std::fs::read_to_string(t.path().join(out).join("prelude/left-out.csv")).unwrap();
        let mut n = std::collections::BTreeMap::new();
        for l in text.lines().skip(1) {
            *n.entry(l.split(';').next().unwrap().to_string())
                .or_insert(0) += 1;
        }
        n
    };
    let (by_list, by_moodle) = (reasons("plain"), reasons("out"));
    assert!(
        by_list["no_account"] > 0 && by_list["account_inactive"] > 0,
        "{by_list:?}"
    );
    assert_eq!(
        by_moodle.get("no_platform_account"),
        by_list.get("no_account"),
        "{by_moodle:?}"
    );
    assert_eq!(
        by_moodle.get("platform_account_suspended"),
        by_list.get("account_inactive"),
        "{by_moodle:?}"
    );
}

/// Prélude's imported accounts, known to its Moodle by their idnumber (the student
/// number), under usernames of their own: the file has Moodle's usernames.
#[test]
fn prelude_by_idnumber_writes_the_usernames_moodle_knows() {
    let t = tempfile::tempdir().unwrap();
    let p = prelude(t.path());
    let users = p.imported();
    // The site shows idnumbers (or the token's role could see them all).
    let show = [". lib/env.sh && cd \"$MOODLE_DIR\" && $PHP admin/cli/cfg.php --name=showuseridentity --set=email,idnumber".to_string()];
    let recording = live(t.path(), &users, &p.courses, &show);
    let site = |fixture: &str| {
        recording
            .clone()
            .unwrap_or_else(|| (replay(fixture), TOKEN.to_string()))
    };
    let keys = "    moodle_match: idnumber\n";
    let r = p.run(t.path(), site("prelude-idnumber"), keys, "prelude-idnumber");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file = std::fs::read_to_string(t.path().join("out/prelude/prelude.csv")).unwrap();
    // Every row the list gave, with the account's username in Moodle (the account
    // the list had suspended is active on this site: its rows are written too).
    let written: Vec<&str> = file.lines().skip(1).collect();
    for l in p.plain.lines().skip(1) {
        assert!(
            written.contains(&format!("u{l}").as_str()),
            "u{l} in\n{file}"
        );
    }
    assert!(written.iter().all(|l| l.starts_with('u')), "{file}");

    // Nightly: every night asks about every account (one changed in Moodle since
    // is seen the night after); a night with nothing new writes nothing.
    let prelude_night = |fixture: &str| {
        let c = p.configured(t.path(), site(fixture), keys, fixture);
        let s = night(t.path(), &c, &["--platform", "prelude"], fixture);
        let source = accounts_source(t.path(), "nightly");
        (
            source["records"].as_u64().unwrap(),
            source["requests"].as_u64().unwrap(),
            s["platforms"]["prelude"]["delta"]["new"].as_u64().unwrap(),
        )
    };
    let (found, _, new) = prelude_night("prelude-idnumber-night-1");
    assert_eq!(found, p.accounts.len() as u64);
    assert_eq!(new, written.len() as u64, "the rows of the run above");
    let (found, _, new) = prelude_night("prelude-idnumber-night-2");
    assert_eq!(
        (found, new),
        (p.accounts.len() as u64, 0),
        "every number asked again, nothing new written"
    );

    // explain by the student number shows the enrolments under Moodle's username.
    let (id, _) = &p.accounts[0];
    let fixture = "explain-prelude-idnumber";
    let c = p.configured(t.path(), site(fixture), keys, fixture);
    let args = ["explain", id, "-c", c.to_str().unwrap(), "--as-of", AS_OF];
    let r = with_recording(t.path(), &args, Some(fixture));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("prelude: ") && r.stdout.contains(&format!("(username u{id})")),
        "{}",
        r.stdout
    );
}

/// A token that may not see idnumbers gets an empty answer (Moodle drops the
/// accounts whose searched field it hides), not an error: the run stops before
/// writing rather than leave every account out, naming the setting and the
/// capability. Before: every account was `no_platform_account`, exit 0.
#[test]
fn by_idnumber_a_site_hiding_idnumbers_stops_the_run_with_the_way_out() {
    let t = tempfile::tempdir().unwrap();
    let p = prelude(t.path());
    let users = p.imported();
    let site = match live(t.path(), &users, &p.courses, &[]) {
        Some(l) => {
            // The harness's token may see every detail: take that back.
            psql(
                "delete from mdl_role_capabilities where capability = 'moodle/user:viewalldetails' \
                 and roleid = (select id from mdl_role where shortname = 'enrolgenws')",
            );
            let harness = std::env::var("ENROLGEN_TEST_MOODLE_HARNESS").unwrap();
            let purge = ". lib/env.sh && cd \"$MOODLE_DIR\" && $PHP admin/cli/purge_caches.php";
            in_harness(Path::new(&harness), purge);
            l
        }
        None => (replay("prelude-idnumber-hidden"), TOKEN.to_string()),
    };
    let r = p.run(
        t.path(),
        site,
        "    moodle_match: idnumber\n",
        "prelude-idnumber-hidden",
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("no account found by idnumber among 42: Moodle hides accounts whose idnumber the token may not see; add idnumber to the site's showuseridentity, or give the token's role moodle/user:viewalldetails"),
        "{}",
        r.stderr
    );
    assert!(!t.path().join("out/prelude").exists());
}

/// Enrols `selfie` in `course` by self enrolment and `cohortie` by cohort sync, as a
/// site does beside enrolgen (harness only).
fn others_enrolled(dir: &Path, course: &str) {
    let harness = std::env::var("ENROLGEN_TEST_MOODLE_HARNESS").unwrap();
    let php = dir.join("others.php");
    std::fs::write(
        &php,
        format!(
            r#"<?php
define('CLI_SCRIPT', true);
require($argv[1] . '/config.php');
require_once($CFG->dirroot . '/cohort/lib.php');
require_once($CFG->dirroot . '/enrol/cohort/locallib.php');
$course = $DB->get_record('course', ['shortname' => '{course}'], '*', MUST_EXIST);
$student = $DB->get_field('role', 'id', ['shortname' => 'student']);
$self = $DB->get_record('enrol', ['courseid' => $course->id, 'enrol' => 'self'], '*', MUST_EXIST);
$DB->set_field('enrol', 'status', ENROL_INSTANCE_ENABLED, ['id' => $self->id]);
$u = $DB->get_record('user', ['username' => 'selfie'], '*', MUST_EXIST);
enrol_get_plugin('self')->enrol_user($self, $u->id, $student);
$cohort = cohort_add_cohort((object) ['name' => 'Others', 'idnumber' => 'others',
    'contextid' => context_system::instance()->id]);
cohort_add_member($cohort, $DB->get_field('user', 'id', ['username' => 'cohortie']));
enrol_get_plugin('cohort')->add_instance($course, ['customint1' => $cohort, 'roleid' => $student,
    'customint2' => 0]);
enrol_cohort_sync(new null_progress_trace(), $course->id);
"#
        ),
    )
    .unwrap();
    in_harness(
        Path::new(&harness),
        &format!(". lib/env.sh && $PHP {} \"$MOODLE_DIR\"", php.display()),
    );
}

/// Before: `verify` built its plan without asking the platform's Moodle about
/// accounts, so the people `run` left out on purpose (no account, suspended) were
/// `missing … expected enrolled`, and enrolments made by self enrolment or cohort
/// sync were `not_planned`: exit 6 every night on a site exactly as planned.
#[test]
fn verify_expects_what_run_did_and_lists_other_enrolments_apart() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let r = run_config(t.path(), &cfg, "plain");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (users, courses) = planned(t.path(), "plain");
    let (missing, suspended) = (&users[0], &users[2]);
    let mut made: Vec<String> = users.iter().filter(|u| *u != missing).cloned().collect();
    made.extend(["selfie".to_string(), "cohortie".to_string()]);
    let live_site = live(t.path(), &named(&made), &courses, &[]);
    let is_live = live_site.is_some();
    if is_live {
        psql(&format!(
            "update mdl_user set suspended = 1 where username = '{suspended}'"
        ));
    }
    let site = |fixture: &str| match &live_site {
        Some((url, _)) => url.clone(),
        None => replay(fixture),
    };
    let token = live_site
        .as_ref()
        .map_or(TOKEN.to_string(), |l| l.1.clone());
    let token_file = t.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();

    let ws = with_accounts_in_moodle(&cfg, &site("verify-road-run"), &token_file, "webservice");
    let args = run_args(&ws, "out");
    let r = with_recording(t.path(), &args, Some("verify-road-run"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let left = std::fs::read_to_string(t.path().join("out/ecampus/left-out.csv")).unwrap();
    for (reason, who) in [
        ("no_platform_account", missing),
        ("platform_account_suspended", suspended),
    ] {
        assert!(
            left.lines()
                .any(|l| l.starts_with(&format!("{reason};")) && l.contains(&format!(";{who};"))),
            "{reason} {who}\n{left}"
        );
    }

    if is_live {
        others_enrolled(t.path(), &courses[0]);
    }
    let cfg_verify = with_accounts_in_moodle(&cfg, &site("verify-road"), &token_file, "webservice");
    let args = [
        "verify",
        "-c",
        cfg_verify.to_str().unwrap(),
        "--out",
        "out",
        "--as-of",
        AS_OF,
    ];
    let r = with_recording(t.path(), &args, Some("verify-road"));
    let found = std::fs::read_to_string(t.path().join("out/ecampus/verify.csv")).unwrap();
    assert_eq!(r.code, 0, "{}\n{found}", r.stderr);
    let course = &courses[0];
    assert_eq!(
        found,
        format!(
            "problem;course;username;role;expected;actual\n\
             other_enrolment;{course};cohortie;student;;\n\
             other_enrolment;{course};selfie;student;;\n"
        )
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("out/summary.json")).unwrap())
            .unwrap();
    assert_eq!(s["moodle"]["ecampus"]["differences"], 0);
    assert_eq!(s["moodle"]["ecampus"]["others"], 2);
    assert!(
        r.stderr.is_empty() || r.stderr.contains("0 difference(s)"),
        "{}",
        r.stderr
    );

    // After night 1, one account is suspended in Moodle and another deleted: the
    // next night leaves both out with their reason and says so, and suspends what
    // enrolgen had enrolled them in. Before: never asked again, enrolled and active
    // (or "reactivate … not sent: no such user"), exit 0 and no warning.
    let (later_suspended, later_deleted) = (&users[5], &users[6]);
    if is_live {
        psql(&format!(
            "update mdl_user set suspended = 1 where username = '{later_suspended}'"
        ));
        let harness = std::env::var("ENROLGEN_TEST_MOODLE_HARNESS").unwrap();
        let php = format!(
            ". lib/env.sh && $PHP -r 'define(\"CLI_SCRIPT\", true); require(\"'$MOODLE_DIR'/config.php\"); delete_user($DB->get_record(\"user\", [\"username\" => \"{later_deleted}\"]));'"
        );
        in_harness(Path::new(&harness), &php);
    }
    let night_2 = site("verify-road-night-2");
    let ws2 = with_accounts_in_moodle(&cfg, &night_2, &token_file, "webservice");
    same_site(
        &t.path().join("out/ecampus/webservice-state.json"),
        &night_2,
    );
    let args = run_argv(
        ws2.to_str().unwrap(),
        "out",
        &["--accept-suspensions", "all"],
    );
    let r = with_recording(t.path(), &args, Some("verify-road-night-2"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let left = std::fs::read_to_string(t.path().join("out/ecampus/left-out.csv")).unwrap();
    for (reason, who) in [
        ("platform_account_suspended", later_suspended),
        ("no_platform_account", later_deleted),
    ] {
        assert!(
            left.lines()
                .any(|l| l.starts_with(&format!("{reason};")) && l.contains(&format!(";{who};"))),
            "{reason} {who}\n{left}"
        );
    }
    assert!(
        r.stderr.contains(
            "platform ecampus: its Moodle refuses accounts of the plan (no_platform_account 2, platform_account_suspended 2)"
        ),
        "{}",
        r.stderr
    );
    let journal = std::fs::read_to_string(t.path().join("out/ecampus/applied-0002.csv")).unwrap();
    assert!(
        journal.contains(&format!(";{later_suspended};student;;ok")),
        "its enrolments suspended: {journal}"
    );
    let cfg_verify =
        with_accounts_in_moodle(&cfg, &site("verify-road-2"), &token_file, "webservice");
    let args = [
        "verify",
        "-c",
        cfg_verify.to_str().unwrap(),
        "--out",
        "out",
        "--as-of",
        AS_OF,
    ];
    let r = with_recording(t.path(), &args, Some("verify-road-2"));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Answers of the platform's Moodle a run cannot take as they come. Before: one
/// idnumber on two accounts wrote the last one listed (student 21000101 as
/// `impostor.account`); a username Moodle allows but no upload file can carry
/// stopped every platform (exit 4); a `suspended` field the site hides was read as
/// "active", and a suspended account was enrolled with exit 0.
#[test]
fn what_the_platform_s_moodle_cannot_vouch_for_is_never_enrolled() {
    let t = tempfile::tempdir().unwrap();
    let p = prelude(t.path());
    let mut users = p.imported();
    let (first, second) = (&p.accounts[0].0, &p.accounts[1].0);
    users.push(serde_json::json!({"username": "impostor.account", "idnumber": first}));
    users[1] = serde_json::json!({"username": "o'brien", "idnumber": second});
    // The site shows idnumbers, and allows usernames of any character.
    let show = [
        ". lib/env.sh && cd \"$MOODLE_DIR\" && $PHP admin/cli/cfg.php --name=showuseridentity --set=email,idnumber".to_string(),
        ". lib/env.sh && cd \"$MOODLE_DIR\" && $PHP admin/cli/cfg.php --name=extendedusernamechars --set=1".to_string(),
    ];
    let recording = live(t.path(), &users, &p.courses, &show);
    let is_live = recording.is_some();
    let site = |fixture: &str| {
        recording
            .clone()
            .unwrap_or_else(|| (replay(fixture), TOKEN.to_string()))
    };
    let keys = "    moodle_match: idnumber\n";
    let r = p.run(
        t.path(),
        site("prelude-odd-accounts"),
        keys,
        "prelude-odd-accounts",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file = std::fs::read_to_string(t.path().join("out/prelude/prelude.csv")).unwrap();
    assert!(
        !file.contains("impostor.account") && !file.contains(&format!("u{first};")),
        "{file}"
    );
    assert!(!file.contains("o'brien"), "{file}");
    assert!(
        file.contains(&format!("u{};", p.accounts[2].0)),
        "the others are written: {file}"
    );
    let left = std::fs::read_to_string(t.path().join("out/prelude/left-out.csv")).unwrap();
    assert!(
        left.lines().any(|l| l.starts_with("ambiguous_account;")
            && l.contains(&format!(
                "'{first}' is the idnumber of several accounts on "
            ))
            && l.contains("impostor.account")),
        "{left}"
    );
    assert!(
        left.lines()
            .any(|l| l.starts_with("invalid_value;") && l.contains("o\\'brien")),
        "{left}"
    );

    // The site hides `suspended` from a token without moodle/user:viewhiddendetails:
    // the run stops, naming it, and check says so.
    if is_live {
        psql(
            "insert into mdl_config (name, value) values ('hiddenuserfields', 'suspended') \
             on conflict (name) do update set value = 'suspended'",
        );
        psql(
            "delete from mdl_role_capabilities where capability = 'moodle/user:viewhiddendetails' \
             and roleid = (select id from mdl_role where shortname = 'enrolgenws')",
        );
        let harness = std::env::var("ENROLGEN_TEST_MOODLE_HARNESS").unwrap();
        let purge = ". lib/env.sh && cd \"$MOODLE_DIR\" && $PHP admin/cli/purge_caches.php";
        in_harness(Path::new(&harness), purge);
    }
    let r = p.run(
        t.path(),
        site("prelude-suspended-hidden"),
        keys,
        "prelude-suspended-hidden",
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("core_user_get_users_by_field answers without the accounts' suspended field (the site's hiddenuserfields hides it): give the token's role moodle/user:viewhiddendetails"),
        "{}",
        r.stderr
    );
    let c = p.configured(
        t.path(),
        site("check-suspended-hidden"),
        keys,
        "check-suspended-hidden",
    );
    let r = with_recording(
        t.path(),
        &["check", "-c", c.to_str().unwrap()],
        Some("check-suspended-hidden"),
    );
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains("moodle/user:viewhiddendetails"),
        "{}",
        r.stdout
    );
}

/// Before: matching by username, a token without moodle/user:viewdetails saw no
/// account at all; every enrolment went to `no_platform_account`, no file, exit 0,
/// nothing on stderr.
#[test]
fn by_username_a_moodle_that_sees_nobody_stops_the_run() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let r = run_config(t.path(), &cfg, "plain");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (users, courses) = planned(t.path(), "plain");
    let (url, token) = match live(t.path(), &named(&users), &courses, &[]) {
        Some(l) => {
            psql(
                "delete from mdl_role_capabilities where capability = 'moodle/user:viewdetails' \
                 and roleid = (select id from mdl_role where shortname = 'enrolgenws')",
            );
            let harness = std::env::var("ENROLGEN_TEST_MOODLE_HARNESS").unwrap();
            let purge = ". lib/env.sh && cd \"$MOODLE_DIR\" && $PHP admin/cli/purge_caches.php";
            in_harness(Path::new(&harness), purge);
            l
        }
        None => (replay("platform-accounts-unseen"), TOKEN.to_string()),
    };
    let token_file = t.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let files = with_accounts_in_moodle(&cfg, &url, &token_file, "files");
    let args = run_args(&files, "out");
    let r = with_recording(t.path(), &args, Some("platform-accounts-unseen"));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "no account found by username among {}: Moodle leaves out the accounts the token may not see; give the token's role moodle/user:viewdetails",
            users.len()
        )),
        "{}",
        r.stderr
    );
    assert!(!t.path().join("out/ecampus").exists());
}

/// The recorded run of `created-report`, its answers changed by `change` (key of
/// the call, its rank among the same calls, body): exit code and stderr.
fn created_report_answering(change: impl Fn(&str, usize, &str) -> String) -> Out {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let token_file = t.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let url = crate::moodle_server::replay_changed("created-report", change);
    let c = with_accounts_in_moodle(&cfg, &url, &token_file, "files");
    let text = std::fs::read_to_string(&c).unwrap().replacen(
        "    accounts_in: moodle\n",
        "    accounts_in: moodle\n    moodle_created_report: 1\n",
        1,
    );
    std::fs::write(&c, text).unwrap();
    let r = enrolgen(
        t.path(),
        &[
            "run",
            "-c",
            c.to_str().unwrap(),
            "--out",
            "out",
            "--as-of",
            AS_OF,
        ],
    );
    assert!(!t.path().join("out/ecampus").exists() || r.code == 0);
    r
}

/// `created_report_answering` with each page of the report changed by `f`.
fn reshaped(f: &dyn Fn(&mut serde_json::Value)) -> Out {
    created_report_answering(|k, _, b| {
        if !k.starts_with("core_reportbuilder_retrieve_report?") {
            return b.to_string();
        }
        let mut v: serde_json::Value = serde_json::from_str(b).unwrap();
        f(&mut v);
        v.to_string()
    })
}

/// The report's full pages (a thousand rows), where the accounts made are listed.
fn is_full_page(key: &str) -> bool {
    key.starts_with("core_reportbuilder_retrieve_report?") && key.contains("perpage=1000")
}

/// Before: a report whose first column was not the username, whose cells were HTML
/// or numbers, or whose rows had no column, switched the age rule off (too-recent
/// accounts enrolled, exit 0); a server repeating its page with a count of 10⁹ was
/// read until the timeout.
#[test]
fn a_report_of_the_wrong_shape_stops_the_run() {
    let plain = created_report_answering(|_, _, b| b.to_string());
    assert_eq!(plain.code, 0, "the recorded run: {}", plain.stderr);
    for (what, change, needle) in [
        (
            "another first column",
            Box::new(|v: &mut serde_json::Value| v["data"]["headers"][0] = "Full name".into())
                as Box<dyn Fn(&mut serde_json::Value)>,
            "its first column is 'Full name', not the accounts' username",
        ),
        (
            "HTML cells",
            Box::new(|v: &mut serde_json::Value| {
                for r in v["data"]["rows"].as_array_mut().unwrap() {
                    r["columns"][0] = "<a href=\"x\">someone</a>".into();
                }
            }),
            "is not a plain value",
        ),
        (
            "number cells",
            Box::new(|v: &mut serde_json::Value| {
                for r in v["data"]["rows"].as_array_mut().unwrap() {
                    r["columns"][0] = 21000001.into();
                }
            }),
            "not text",
        ),
        (
            "rows without columns",
            Box::new(|v: &mut serde_json::Value| {
                for r in v["data"]["rows"].as_array_mut().unwrap() {
                    r["columns"] = serde_json::json!([]);
                }
            }),
            "has no column",
        ),
        (
            "another source",
            Box::new(|v: &mut serde_json::Value| {
                v["details"]["source"] = "core_course\\reportbuilder\\datasource\\courses".into()
            }),
            "not Users",
        ),
        (
            "a count of 10⁹",
            Box::new(|v: &mut serde_json::Value| {
                if v["data"]["totalrowcount"].as_u64() != Some(0) {
                    v["data"]["totalrowcount"] = 1_000_000_000u64.into();
                }
            }),
            "more than 1000000",
        ),
    ] {
        let r = reshaped(&*change);
        assert_eq!(r.code, 3, "{what}: {}", r.stderr);
        assert!(
            r.stderr.contains(
                "custom report 1 (moodle_created_report) cannot be read as a list of accounts"
            ) && r.stderr.contains(needle),
            "{what}: {}",
            r.stderr
        );
    }
}

/// Before: `enrolgen check` run during a nightly set the report's filter (shared by
/// everything using the token) to a day no account has; the nightly read an empty
/// report and enrolled the accounts made that day, exit 0.
#[test]
fn a_report_filter_changed_while_the_run_reads_it_is_never_taken() {
    // Every full page read as if the filter were check's (no row, a count of 0),
    // while the count read again under the run's own value says otherwise.
    let r = created_report_answering(|k, _, b| {
        if !is_full_page(k) {
            return b.to_string();
        }
        let mut v: serde_json::Value = serde_json::from_str(b).unwrap();
        v["data"]["rows"] = serde_json::json!([]);
        v["data"]["totalrowcount"] = 0.into();
        v.to_string()
    });
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("its filter kept changing while it was read"),
        "{}",
        r.stderr
    );
}
