//! The command line as cron and a person see it: quiet output, help, completions, man page.

use super::util::*;

#[test]
fn cron_run_is_silent_on_stdout_and_has_no_progress_bar() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, "");
    assert_eq!(r.stderr, "enrolgen: warning: cohort his-l1 returned nobody for year 2026 (a typo in an étape code or version is the usual cause)\n\
        enrolgen: warning: platform collegium: 1 ambiguous identity (a student number or username that several accounts claim, or an account with several): nobody is enrolled for it; see ambiguous_account in left-out.csv\n\
        enrolgen: warning: platform collegium: student number 21000159 matches 2 accounts: uid=e21000159,ou=people,dc=unicaen,dc=fr (unicaen); uid=jdouble,ou=people,dc=universitice,dc=fr (universitice)\n");
    let v = enrolgen(
        t.path(),
        &[
            "run",
            "-v",
            "-c",
            cfg.to_str().unwrap(),
            "--out",
            "out",
            "--as-of",
            AS_OF,
        ],
    );
    assert_eq!(v.stdout, "");
    assert!(
        v.stderr.contains("  ecampus: 199 enrolments in 2 file(s)"),
        "{}",
        v.stderr
    );
    assert!(
        !v.stderr.contains('\r') && !v.stderr.contains('\x1b'),
        "no spinner, no colour codes"
    );
}

#[test]
fn help_completions_and_man_page() {
    let t = tempfile::tempdir().unwrap();
    for cmd in [
        "run",
        "check",
        "lint",
        "explain",
        "adhoc",
        "init",
        "completions",
        "man",
    ] {
        let r = enrolgen(t.path(), &[cmd, "--help"]);
        assert_eq!(r.code, 0);
        assert!(r.stdout.contains("Example"), "{cmd} --help has an example");
    }
    let r = enrolgen(t.path(), &["completions", "bash"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("complete -F _enrolgen"),
        "{}",
        &r.stdout[..200.min(r.stdout.len())]
    );
    let r = enrolgen(t.path(), &["man"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.starts_with(".ie \\n(.g .ds Aq") || r.stdout.contains(".TH enrolgen"),
        "{}",
        &r.stdout[..200.min(r.stdout.len())]
    );
}

// Before: any year was taken: year 1 sent enrolments that started and ended in
// year 1, and a state written for 9999 refused every real day after it.
#[test]
fn an_as_of_day_out_of_range_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    for day in ["0001-09-01", "1999-12-31", "9999-01-01"] {
        let r = enrolgen(
            t.path(),
            &[
                "run",
                "-c",
                cfg.to_str().unwrap(),
                "--out",
                "out",
                "--as-of",
                day,
            ],
        );
        assert_eq!(r.code, 2, "{day}: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!(
                "--as-of {}: a day from 2000-01-01 to ",
                day.trim_start_matches('0')
            )) || r
                .stderr
                .contains(&format!("--as-of {day}: a day from 2000-01-01 to ")),
            "{}",
            r.stderr
        );
        assert!(!t.path().join("out").exists());
    }
}

// Before: under systemd every line reached the journal at one priority, so
// `journalctl -p warning` showed none of the warnings.
#[test]
fn warnings_reach_the_journal_at_their_priority() {
    use std::os::unix::fs::MetadataExt;
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let err = t.path().join("stderr");
    let file = std::fs::File::create(&err).unwrap();
    let meta = file.metadata().unwrap();
    let run = |journal: Option<String>| {
        let file = std::fs::File::create(&err).unwrap();
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_enrolgen"));
        c.args([
            "run",
            "-c",
            cfg.to_str().unwrap(),
            "--out",
            "out",
            "--as-of",
            AS_OF,
        ])
        .current_dir(t.path())
        .stderr(file)
        .env_remove("JOURNAL_STREAM");
        if let Some(j) = journal {
            c.env("JOURNAL_STREAM", j);
        }
        assert_eq!(c.status().unwrap().code(), Some(0));
        std::fs::read_to_string(&err).unwrap()
    };
    // The journal's stream is stderr's device and inode (the file is created again
    // in place: the same inode).
    let text = run(Some(format!("{}:{}", meta.dev(), meta.ino())));
    assert!(
        text.lines()
            .all(|l| l.starts_with("<4>enrolgen: warning: ")),
        "{text}"
    );
    // Another stream named (stderr redirected from a unit's shell): plain lines.
    let text = run(Some("1:1".into()));
    assert!(text.starts_with("enrolgen: warning: "), "{text}");
}
