//! Monitoring: `enrolgen status` as a Nagios plugin, the Prometheus text file every
//! run writes, the man pages, and secrets read from systemd credentials.

use std::collections::BTreeMap;
use std::path::Path;

use crate::slapd::{Options, Slapd, ADMIN_DN, ADMIN_PW};
use crate::util::*;

/// A Nagios plugin line, taken apart: the state word, the text, and the perfdata as
/// label → (value, unit, warn, crit, min, max), each checked against the guidelines'
/// grammar `'label'=value[UOM];[warn];[crit];[min];[max]`.
struct Plugin {
    state: String,
    text: String,
    perf: BTreeMap<String, (f64, String, String, String, String, String)>,
}

fn parse_plugin(out: &str) -> Plugin {
    let lines: Vec<&str> = out.lines().collect();
    // The first line, then the long output (details), none of which starts perfdata.
    assert!(!lines.is_empty(), "{out}");
    assert!(lines[1..].iter().all(|l| !l.contains('|')), "{out}");
    let line = lines[0];
    assert!(line.chars().count() < 500, "a short first line: {line}");
    let rest = line
        .strip_prefix("ENROLGEN ")
        .unwrap_or_else(|| panic!("{line}"));
    let (state, rest) = rest.split_once(" - ").unwrap_or_else(|| panic!("{line}"));
    let (text, perf) = rest.split_once(" | ").unwrap_or_else(|| panic!("{line}"));
    assert!(!text.contains('|'), "{line}");
    let mut map = BTreeMap::new();
    for item in perf.split(' ') {
        let (label, data) = item.split_once('=').unwrap_or_else(|| panic!("{item}"));
        assert!(
            label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{item}"
        );
        let fields: Vec<&str> = data.split(';').collect();
        assert!(fields.len() <= 5, "{item}");
        let value = fields[0];
        let unit_at = value
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .unwrap_or(value.len());
        let (number, unit) = value.split_at(unit_at);
        assert!(
            ["", "s", "%", "B", "KB", "MB", "c"].contains(&unit),
            "{item}"
        );
        for f in fields.iter().skip(1) {
            assert!(f.is_empty() || f.parse::<f64>().is_ok(), "{item}");
        }
        let f = |i: usize| fields.get(i).copied().unwrap_or_default().to_string();
        map.insert(
            label.to_string(),
            (
                number.parse::<f64>().unwrap_or_else(|_| panic!("{item}")),
                unit.to_string(),
                f(1),
                f(2),
                f(3),
                f(4),
            ),
        );
    }
    Plugin {
        state: state.to_string(),
        text: text.to_string(),
        perf: map,
    }
}

/// The Prometheus text format, taken apart: every sample's name, labels and value,
/// with each metric's HELP and TYPE given once, before its samples.
fn parse_prometheus(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut helped = std::collections::BTreeSet::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _) = rest.split_once(' ').unwrap();
            assert!(helped.insert(name.to_string()), "HELP twice: {line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!(kind, "gauge", "{line}");
            assert!(
                typed.insert(name.to_string(), kind.to_string()).is_none(),
                "TYPE twice: {line}"
            );
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
        let (head, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        let (name, labels) = match head.split_once('{') {
            None => (head.to_string(), BTreeMap::new()),
            Some((n, l)) => {
                let l = l.strip_suffix('}').unwrap_or_else(|| panic!("{line}"));
                let mut m = BTreeMap::new();
                // Values are quoted; a quote inside is escaped.
                let mut rest = l;
                while !rest.is_empty() {
                    let (k, v) = rest.split_once("=\"").unwrap_or_else(|| panic!("{line}"));
                    let mut end = 0;
                    let bytes = v.as_bytes();
                    while bytes[end] != b'"' {
                        end += if bytes[end] == b'\\' { 2 } else { 1 };
                    }
                    m.insert(
                        k.to_string(),
                        v[..end].replace("\\\"", "\"").replace("\\\\", "\\"),
                    );
                    rest = v[end + 1..].strip_prefix(',').unwrap_or(&v[end + 1..]);
                }
                (n.to_string(), m)
            }
        };
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        assert!(
            typed.contains_key(&name) && helped.contains(&name),
            "no HELP/TYPE before {line}"
        );
        samples.push((name, labels, value));
    }
    samples
}

fn status(dir: &Path, extra: &[&str]) -> Out {
    let mut args = vec!["status", "--out", "out"];
    args.extend_from_slice(extra);
    enrolgen(dir, &args)
}

fn set_last_success(dir: &Path, hours_ago: i64) {
    let p = dir.join("out/last-run.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    let when = chrono::Utc::now() - chrono::Duration::hours(hours_ago);
    v["last_success"] = serde_json::json!(when.to_rfc3339());
    std::fs::write(&p, v.to_string()).unwrap();
}

#[test]
fn status_is_ok_after_a_good_run_and_warns_or_goes_critical_as_it_ages() {
    let t = tempfile::tempdir().unwrap();
    let r = status(t.path(), &[]);
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(
        r.stdout
            .starts_with("ENROLGEN UNKNOWN - no run recorded here"),
        "{}",
        r.stdout
    );
    let cfg = copy_demo(t.path());
    assert_eq!(run_config(t.path(), &cfg, "out").code, 0);
    let r = status(t.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let p = parse_plugin(&r.stdout);
    assert_eq!(p.state, "OK");
    assert!(
        p.text.contains("374 enrolments planned, 44 left out"),
        "{}",
        p.text
    );
    assert_eq!(p.perf["planned"].0, 374.0);
    assert_eq!(p.perf["rows"].0, 325.0);
    assert_eq!(p.perf["left_out"].0, 44.0);
    assert_eq!(p.perf["age"].1, "s");
    assert_eq!(
        (p.perf["age"].2.as_str(), p.perf["age"].3.as_str()),
        ("93600", "180000")
    );
    // The demo leaves 9.8% out: over a threshold given, a WARNING or CRITICAL.
    let r = status(t.path(), &["--warning-left-out", "0.05"]);
    assert_eq!(
        (r.code, parse_plugin(&r.stdout).state.as_str()),
        (1, "WARNING"),
        "{}",
        r.stdout
    );
    let r = status(
        t.path(),
        &["--warning-left-out", "0.05", "--critical-left-out", "0.09"],
    );
    assert_eq!(r.code, 2, "{}", r.stdout);
    set_last_success(t.path(), 30);
    let r = status(t.path(), &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        parse_plugin(&r.stdout)
            .text
            .starts_with("files last written 30.0 h ago (warning above 26 h)"),
        "{}",
        r.stdout
    );
    set_last_success(t.path(), 72);
    let r = status(t.path(), &["--critical-age", "48"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert_eq!(parse_plugin(&r.stdout).state, "CRITICAL");
}

#[test]
fn a_failed_run_is_critical_and_keeps_the_last_success_and_its_counts() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    assert_eq!(run_config(t.path(), &cfg, "out").code, 0);
    let first: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("out/last-run.json")).unwrap())
            .unwrap();
    std::fs::remove_file(t.path().join("demo/universitice.ldif")).unwrap();
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 3, "{}", r.stderr);
    let last: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("out/last-run.json")).unwrap())
            .unwrap();
    assert_eq!(last["exit_code"], 3);
    assert_eq!(last["outcome"], "failed");
    assert_eq!(last["last_success"], first["last_success"]);
    assert!(
        last["error"]
            .as_str()
            .unwrap()
            .contains("universitice.ldif"),
        "{last}"
    );
    let r = status(t.path(), &[]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    let p = parse_plugin(&r.stdout);
    assert!(
        p.text.starts_with("last run failed (exit 3, "),
        "{}",
        p.text
    );
    assert!(p.text.contains("universitice.ldif"), "{}", p.text);
    assert_eq!(p.perf["planned"].0, 374.0, "the last good run's counts");
    let prom = std::fs::read_to_string(t.path().join("out/enrolgen.prom")).unwrap();
    let samples = parse_prometheus(&prom);
    let get = |n: &str| samples.iter().find(|(name, _, _)| name == n).map(|s| s.2);
    assert_eq!(get("enrolgen_last_run_exit_code"), Some(3.0));
    assert_eq!(get("enrolgen_last_run_success"), Some(0.0));
    assert_eq!(
        get("enrolgen_last_success_timestamp_seconds").map(|v| v as i64),
        Some(
            chrono::DateTime::parse_from_rfc3339(first["last_success"].as_str().unwrap())
                .unwrap()
                .timestamp()
        )
    );
}

#[test]
fn every_run_writes_a_prometheus_file_with_counts_per_platform_reason_and_source() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    edit(
        &cfg,
        "version: 1\n",
        "version: 1\nprometheus_file: collector/enrolgen.prom\n",
    );
    std::fs::create_dir_all(t.path().join("demo/collector")).unwrap();
    assert_eq!(run_config(t.path(), &cfg, "out").code, 0);
    assert!(!t.path().join("out/enrolgen.prom").exists());
    let path = t.path().join("demo/collector/enrolgen.prom");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o644
    );
    let samples = parse_prometheus(&std::fs::read_to_string(&path).unwrap());
    let find = |n: &str, labels: &[(&str, &str)]| {
        samples
            .iter()
            .find(|(name, l, _)| {
                name == n
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.2)
    };
    assert_eq!(
        find("enrolgen_enrolments", &[("platform", "ecampus")]),
        Some(199.0)
    );
    assert_eq!(
        find(
            "enrolgen_left_out",
            &[("platform", "ecampus"), ("reason", "no_account")]
        ),
        Some(13.0)
    );
    assert_eq!(find("enrolgen_last_run_exit_code", &[]), Some(0.0));
    let source = |n: &str, start: &str| {
        samples.iter().any(|(name, l, v)| {
            name == n && *v >= 0.0 && l.get("source").is_some_and(|s| s.starts_with(start))
        })
    };
    // Stable identifiers, no path nor free text (before: "directory unicaen (LDIF
    // /path/…)").
    assert!(source("enrolgen_source_records", "apogee"));
    assert!(source(
        "enrolgen_source_duration_seconds",
        "directory:unicaen"
    ));
    assert!(!samples.iter().any(|(_, l, _)| l
        .get("source")
        .is_some_and(|s| s.contains('/') || s.contains(' '))));
    // A dry run records nothing.
    let before = std::fs::read(&path).unwrap();
    assert_eq!(run_with(t.path(), &cfg, "out", &["--dry-run"]).code, 0);
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_prometheus_file_must_end_in_prom() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    edit(
        &cfg,
        "version: 1\n",
        "version: 1\nprometheus_file: /var/lib/node/enrolgen.txt\n",
    );
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "enrolgen.yaml:5: prometheus_file: '/var/lib/node/enrolgen.txt' does not end in .prom"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn man_gives_a_page_per_subcommand() {
    let t = tempfile::tempdir().unwrap();
    let r = enrolgen(t.path(), &["man", "adhoc"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with(".ie") || r.stdout.contains(".TH enrolgen-adhoc 1"),
        "{}",
        &r.stdout[..200.min(r.stdout.len())]
    );
    assert!(
        r.stdout.contains(".TH enrolgen-adhoc 1"),
        "{}",
        &r.stdout[..300.min(r.stdout.len())]
    );
    let r = enrolgen(t.path(), &["man", "nope"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("man: no subcommand 'nope' (one of run, check"),
        "{}",
        r.stderr
    );
    let r = enrolgen(t.path(), &["man", "--dir", "."]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for page in [
        "enrolgen.1",
        "enrolgen-run.1",
        "enrolgen-adhoc.1",
        "enrolgen-status.1",
        "enrolgen-verify.1",
    ] {
        let text =
            std::fs::read_to_string(t.path().join(page)).unwrap_or_else(|_| panic!("{page}"));
        assert!(text.contains(".TH "), "{page}");
    }
    // Before: no EXIT STATUS, FILES, ENVIRONMENT nor SEE ALSO, no version.
    let run = std::fs::read_to_string(t.path().join("enrolgen-run.1")).unwrap();
    for section in [
        ".SH \"EXIT STATUS\"",
        ".SH ENVIRONMENT",
        ".SH FILES",
        ".SH \"SEE ALSO\"",
    ] {
        assert!(run.contains(section), "{section}");
    }
    assert!(
        run.contains(&format!("\"enrolgen {}\"", env!("CARGO_PKG_VERSION"))),
        "the version in the footer"
    );
    let top = std::fs::read_to_string(t.path().join("enrolgen.1")).unwrap();
    assert!(
        top.contains("enrolgen\\-adhoc(1)"),
        "the top page names the others"
    );
}

#[test]
fn an_ldap_password_is_read_from_a_systemd_credential() {
    let Some(s) = Slapd::start(Options::default()) else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let cfg = ldap_demo(
        t.path(),
        &s,
        &format!(", bind_dn: \"{ADMIN_DN}\", password_credential: ldap-password"),
    );
    let creds = t.path().join("credentials");
    std::fs::create_dir_all(&creds).unwrap();
    std::fs::write(creds.join("ldap-password"), format!("{ADMIN_PW}\n")).unwrap();
    let args = run_argv(cfg.to_str().unwrap(), "out", &[]);
    let r = enrolgen(t.path(), &args);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "cannot bind as cn=admin,dc=unicaen,dc=fr: the credential named by its *_credential key needs systemd's LoadCredential=NAME:PATH"
        ),
        "{}",
        r.stderr
    );
    let r = enrolgen_env(t.path(), &args, &[("CREDENTIALS_DIRECTORY", &creds)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Before: with `prometheus_file` in a folder the run could not write, a failed run
/// wrote neither file and `status` said OK for a day; a run the lock refused
/// recorded itself as the last run (CRITICAL while the real run was healthy).
#[test]
fn monitoring_records_what_happened_even_when_its_own_files_fail() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    assert_eq!(run_config(t.path(), &cfg, "out").code, 0);
    let good = std::fs::read_to_string(t.path().join("out/last-run.json")).unwrap();

    // The lock held by another run: the refused run records nothing.
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(t.path().join("out/.enrolgen.lock"))
        .unwrap();
    lock.lock().unwrap();
    assert_eq!(run_config(t.path(), &cfg, "out").code, 4);
    drop(lock);
    assert_eq!(
        std::fs::read_to_string(t.path().join("out/last-run.json")).unwrap(),
        good
    );
    assert!(parse_plugin(&status(t.path(), &[]).stdout).state == "OK");

    // A mistyped collector folder: no folder is made, last-run.json is still
    // written, and status warns.
    edit(
        &cfg,
        "version: 1\n",
        "version: 1\nprometheus_file: no-such-collector/enrolgen.prom\n",
    );
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!t.path().join("demo/no-such-collector").exists());
    let last = std::fs::read_to_string(t.path().join("out/last-run.json")).unwrap();
    assert_ne!(last, good, "this run recorded");
    assert!(last.contains("prometheus_error"), "{last}");
    let s = status(t.path(), &[]);
    assert_eq!(s.code, 1, "{}", s.stdout);
    let p = parse_plugin(&s.stdout);
    assert_eq!(p.state, "WARNING");
    assert!(
        p.text.contains("the Prometheus file could not be written"),
        "{}",
        p.text
    );
}

/// Before: `--warning-age NaN` was taken, and compared false with every age: a run
/// sixty hours old read OK.
#[test]
fn thresholds_that_are_not_numbers_are_refused() {
    let t = tempfile::tempdir().unwrap();
    for args in [
        ["--warning-age", "NaN"],
        ["--critical-age", "inf"],
        ["--warning-left-out", "NaN"],
        ["--critical-left-out", "1.5"],
    ] {
        let r = status(t.path(), &args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stdout);
        assert!(
            r.stderr.contains(&format!("invalid value '{}'", args[1])),
            "{}",
            r.stderr
        );
    }
}

/// Before: `man --dir` wrote through a symbolic link planted in the folder (the
/// other commands do not).
#[test]
fn man_pages_are_never_written_through_a_link() {
    let t = tempfile::tempdir().unwrap();
    let target = t.path().join("elsewhere");
    std::fs::write(&target, "not a man page\n").unwrap();
    std::os::unix::fs::symlink(&target, t.path().join("enrolgen-run.1")).unwrap();
    let r = enrolgen(t.path(), &["man", "--dir", "."]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "not a man page\n"
    );
    let page = t.path().join("enrolgen-run.1");
    assert!(!page.symlink_metadata().unwrap().file_type().is_symlink());
    assert!(std::fs::read_to_string(page)
        .unwrap()
        .contains(".TH enrolgen-run 1"));
}
