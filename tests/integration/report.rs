//! report.html: written by the demo run, personal data only when configured, and
//! rendered by a real headless Chromium without fetching anything.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::util::*;

fn demo_report(dir: &Path, personal_data: bool) -> PathBuf {
    let cfg = copy_demo(dir);
    if personal_data {
        let text = std::fs::read_to_string(&cfg).unwrap() + "report: { personal_data: true }\n";
        std::fs::write(&cfg, text).unwrap();
    }
    let r = run_config(dir, &cfg, "out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    dir.join("out/report.html")
}

#[test]
fn demo_run_writes_a_report_without_names_by_default() {
    let t = tempfile::tempdir().unwrap();
    let html = std::fs::read_to_string(demo_report(t.path(), false)).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<li>cohort his-l1 returned nobody for year 2026"));
    assert!(html.contains("<h2>Platform ecampus</h2>"));
    assert!(html.contains("<tr><td>PSY-L1-STATS</td><td class=\"n\">"));
    assert!(html.contains("<code>account_inactive</code>: "));
    // Léonie Châtelain (21000043) is left out: neither her name nor her number shows.
    assert!(!html.contains("Léonie") && !html.contains("21000043"));
    // The same run again compares with the first.
    let cfg = t.path().join("demo/enrolgen.yaml");
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let again = std::fs::read_to_string(t.path().join("out/report.html")).unwrap();
    assert!(again.contains("<th class=\"n\">previous run</th><th class=\"n\">change</th>"));
}

#[test]
fn personal_data_shows_names_when_configured() {
    let t = tempfile::tempdir().unwrap();
    let html = std::fs::read_to_string(demo_report(t.path(), true)).unwrap();
    assert!(
        html.contains("<td>CHÂTELAIN Léonie</td><td>21000043</td>"),
        "{html}"
    );
}

#[test]
fn adhoc_writes_a_report_for_its_course() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let r = adhoc_psy(t.path(), &cfg, "PSY-SOUTIEN", "adhoc", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html =
        std::fs::read_to_string(t.path().join("adhoc/ecampus-PSY-SOUTIEN-report.html")).unwrap();
    assert!(
        html.contains("<h1>On-demand file: PSY-SOUTIEN on ecampus</h1>"),
        "{html}"
    );
    assert!(html.contains("<tr><td>PSY-SOUTIEN</td>"));
}

fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("ENROLGEN_REQUIRE_CHROMIUM").is_none(),
            "chromium is not installed: run scripts/install-test-deps.sh"
        );
        eprintln!("SKIPPED: chromium is not installed (scripts/install-test-deps.sh installs it)");
    }
    found
}

/// Runs headless Chromium on `page` with `extra` flags; returns the URLs the page
/// itself asked the network for (Chromium's own background requests are told apart
/// by their isolation key: the page's are keyed by its file:// origin), read from
/// Chromium's NetLog. Nothing leaves the machine: the proxy is a closed port.
fn chromium_run(bin: &Path, dir: &Path, page: &Path, extra: &[String]) -> (String, Vec<String>) {
    let netlog = dir.join("netlog.json");
    let out = Command::new("timeout")
        .arg("60")
        .arg(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--proxy-server=http://127.0.0.1:9",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--log-net-log={}", netlog.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log: serde_json::Value = serde_json::from_slice(&std::fs::read(&netlog).unwrap()).unwrap();
    let start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
        .as_u64()
        .unwrap();
    let fetched = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"].as_u64() == Some(start))
        .filter(|e| {
            e["params"]["network_isolation_key"]
                .as_str()
                .is_some_and(|k| k.starts_with("file://"))
        })
        .map(|e| e["params"]["url"].as_str().unwrap_or_default().to_string())
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), fetched)
}

#[test]
fn report_renders_in_headless_chromium_and_fetches_nothing() {
    let Some(bin) = chromium() else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let report = demo_report(t.path(), false);

    // The detector sees what a page fetches (so that the check below can fail).
    let fetchy = t.path().join("fetchy.html");
    std::fs::write(
        &fetchy,
        "<!DOCTYPE html><link rel=stylesheet href=\"https://cdn.example.org/a.css\"><p>x</p>",
    )
    .unwrap();
    let (_, fetched) = chromium_run(&bin, &t.path().join("c0"), &fetchy, &["--dump-dom".into()]);
    assert_eq!(fetched, ["https://cdn.example.org/a.css"]);

    let shot = t.path().join("shot.png");
    let (_, fetched) = chromium_run(
        &bin,
        &t.path().join("c1"),
        &report,
        &[
            "--window-size=1100,1500".into(),
            format!("--screenshot={}", shot.display()),
        ],
    );
    assert_eq!(
        fetched,
        Vec::<String>::new(),
        "the report fetched something"
    );
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a screenshot"
    );
    let (dom, fetched) = chromium_run(&bin, &t.path().join("c2"), &report, &["--dump-dom".into()]);
    assert_eq!(
        fetched,
        Vec::<String>::new(),
        "the report fetched something"
    );
    // The browser parsed the page as written: the title, every platform, the chart.
    assert!(
        dom.contains("<title>Enrolment files — enrolgen, year 2026, as of 2026-11-24</title>"),
        "{dom}"
    );
    for p in ["collegium", "ecampus", "prelude"] {
        assert!(dom.contains(&format!("<h2>Platform {p}</h2>")), "{p}");
    }
    assert!(dom.contains("aria-label=\"Left-out enrolments by reason\""));
    assert!(dom.contains("cohort his-l1 returned nobody"));
}

#[test]
fn a_delta_report_shows_new_and_suspended_per_course() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let r = run_with(t.path(), &cfg, "out", &["--delta"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = std::fs::read_to_string(t.path().join("out/report.html")).unwrap();
    assert!(
        html.contains("<h1>Nightly run: changes since the last run</h1>"),
        "{html}"
    );
    assert!(html.contains("<th class=\"n\">new</th><th class=\"n\">suspended</th>"));
    assert!(html.contains("new (outbox file 0001)</div>"));
    // PSY-L1-METHODO: every planned enrolment is new, none suspended.
    let row = html
        .lines()
        .find(|l| l.starts_with("<tr><td>PSY-L1-METHODO</td>"))
        .unwrap();
    let cells: Vec<&str> = row
        .split("<td class=\"n\">")
        .skip(1)
        .map(|c| c.split('<').next().unwrap())
        .collect();
    // enrolments, new, suspended, left out
    assert_eq!(cells[0], cells[1], "{row}");
    assert_eq!(cells[2], "0", "{row}");
}
