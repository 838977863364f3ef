//! `enrolgen run` on the demo: expected files, determinism, the report, atomicity.

use std::collections::BTreeSet;

use enrolgen::moodle::{self, LintOptions};

use super::util::*;

#[test]
fn demo_run_matches_expected_files() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let out = t.path().join("out");
    let r = cmd(t.path(), "run", cfg.to_str().unwrap())
        .args(&["--out", out.to_str().unwrap()])
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.is_empty(),
        "nothing on stdout without --json: {}",
        r.stdout
    );
    assert!(
        r.stderr.contains("warning: cohort his-l1 returned nobody"),
        "{}",
        r.stderr
    );
    assert_matches_expected(&outputs(&out), &repo().join("tests/expected/demo"));
    // ecampus has more rows than max_rows (150): split in two parts.
    assert!(out.join("ecampus/ecampus-002.csv").exists());
}

#[test]
fn same_as_of_gives_byte_identical_files() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    for o in ["a", "b"] {
        let r = cmd(t.path(), "run", cfg.to_str().unwrap())
            .args(&["--out", o])
            .run();
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let (a, b) = (outputs(&t.path().join("a")), outputs(&t.path().join("b")));
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[test]
fn every_upload_file_passes_moodle_rules() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut checked = 0;
    for (name, bytes) in outputs(&t.path().join("out")) {
        let platform = name.split('/').next().unwrap();
        if !name.ends_with(".csv") || name.ends_with("left-out.csv") {
            continue;
        }
        let delimiter = if platform == "collegium" { b',' } else { b';' };
        let report = moodle::lint(
            &bytes,
            &LintOptions {
                delimiter: Some(delimiter),
                roles: None,
            },
        );
        assert!(report.problems.is_empty(), "{name}: {:?}", report.problems);
        assert!(
            !bytes.starts_with(b"\xEF\xBB\xBF")
                && !bytes.contains(&b'"')
                && !bytes.contains(&b'\r')
        );
        checked += 1;
        // And through the command, with the platform's roles.
        let l = enrolgen(
            t.path(),
            &[
                "lint",
                &format!("out/{name}"),
                "-c",
                cfg.to_str().unwrap(),
                "--platform",
                platform,
            ],
        );
        assert_eq!(l.code, 0, "{}", l.stdout);
    }
    assert_eq!(checked, 4);
}

#[test]
fn every_reason_code_is_reported() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    // A role the platform does not have, and a second role for the same course.
    text.push_str(
        "  - { cohort: inf-l1, platform: ecampus, course: INF-L1-PROJET, role: tutor }\n",
    );
    text.push_str(
        "  - { cohort: psy-l1, platform: ecampus, course: PSY-L1-METHODO, role: teacher }\n",
    );
    std::fs::write(&cfg, text).unwrap();
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut seen = BTreeSet::new();
    for p in ["ecampus", "collegium", "prelude"] {
        let text = std::fs::read_to_string(t.path().join(format!("out/{p}/left-out.csv"))).unwrap();
        for line in text.lines().skip(1) {
            seen.insert(line.split([';', ',']).next().unwrap().to_string());
        }
    }
    // course_not_found is adhoc's (sheet_traps tests it), the platform accounts'
    // reasons need a Moodle (platform_accounts tests them).
    use enrolgen::model::Reason;
    let elsewhere = [
        Reason::CourseNotFound,
        Reason::NoPlatformAccount,
        Reason::PlatformAccountSuspended,
        Reason::PlatformAuthRefused,
    ];
    let all: BTreeSet<String> = Reason::ALL
        .iter()
        .filter(|r| !elsewhere.contains(r))
        .map(|r| r.code().to_string())
        .collect();
    assert_eq!(seen, all);
    assert!(
        r.stderr
            .contains("role 'tutor' is not in the platform's roles"),
        "{}",
        r.stderr
    );
}

#[test]
fn failed_run_leaves_previous_output_intact() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let out = t.path().join("out");
    let args = [
        "run",
        "-c",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--as-of",
        AS_OF,
    ];
    assert_eq!(enrolgen(t.path(), &args).code, 0);
    let before = read_tree(&out);
    std::fs::remove_file(t.path().join("demo/unicaen.ldif")).unwrap();
    let r = enrolgen(t.path(), &args);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot read") && r.stderr.contains("unicaen.ldif"),
        "{}",
        r.stderr
    );
    let after = read_tree(&out);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (k, v) in &before {
        if !k.ends_with(".lock") {
            assert_eq!(v, &after[k], "{k} changed");
        }
    }
}

#[test]
fn dry_run_prints_and_writes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let r = run_with(t.path(), &cfg, "out", &["--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("==> prelude/prelude.csv <==\nusername;course1;role1\n"),
        "{}",
        r.stdout
    );
    assert!(!t.path().join("out").exists());
}

#[test]
fn json_summary_on_stdout_and_platform_filter() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let r = run_with(
        t.path(),
        &cfg,
        "out",
        &["--platform", "prelude", "--json", "-q"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        v["platforms"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["prelude"]
    );
    assert_eq!(v["platforms"]["prelude"]["enrolments"], 35);
    assert!(!t.path().join("out/ecampus").exists());
}

#[test]
fn unknown_platform_is_a_usage_error() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let r = enrolgen(
        t.path(),
        &["run", "-c", cfg.to_str().unwrap(), "--platform", "moodle2"],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--platform moodle2: no such platform"),
        "{}",
        r.stderr
    );
}

#[test]
fn too_many_left_out_exits_1_but_writes_files() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    edit(
        &cfg,
        "version: 1\n",
        "version: 1\nmax_left_out_ratio: 0.01\n",
    );
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("above max_left_out_ratio 1.0%"),
        "{}",
        r.stderr
    );
    assert!(t.path().join("out/ecampus/ecampus.csv").exists());
}

#[test]
fn smaller_run_removes_stale_parts() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let args = run_args(&cfg, "out");
    assert_eq!(enrolgen(t.path(), &args).code, 0);
    assert!(t.path().join("out/ecampus/ecampus-002.csv").exists());
    edit(&cfg, "max_rows: 150", "max_rows: 5000");
    assert_eq!(enrolgen(t.path(), &args).code, 0);
    assert!(!t.path().join("out/ecampus/ecampus-002.csv").exists());
}

#[test]
fn csv_extract_builds_a_file_without_database() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    std::fs::write(
        t.path().join("demo/extract.csv"),
        "student_id;name\n21000001;Lucas Morel\n21000004;X\n99999999;Inconnu\n",
    )
    .unwrap();
    edit(&cfg, "sqlite: apogee.sql", "csv: extract.csv");
    let r = run_with(
        t.path(),
        &cfg,
        "out",
        &["--cohort", "psy-l1", "--platform", "ecampus"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let f = std::fs::read_to_string(t.path().join("out/ecampus/ecampus.csv")).unwrap();
    assert_eq!(f, "username;course1;role1;enrolperiod1;enrolstatus1\n21000001;PSY-L1-METHODO;student;;\n21000001;PSY-L1-STATS;student;300;0\n21000004;PSY-L1-METHODO;student;;\n21000004;PSY-L1-STATS;student;300;0\n");
    let left = std::fs::read_to_string(t.path().join("out/ecampus/left-out.csv")).unwrap();
    assert!(
        left.contains("no_account;PSY-L1-STATS;student;;99999999;Inconnu"),
        "{left}"
    );
}

#[test]
fn output_error_changes_no_platform() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    assert_eq!(run_config(t.path(), &cfg, "out").code, 0);
    // prelude's directory replaced by a file: its files cannot be written.
    std::fs::remove_dir_all(t.path().join("out/prelude")).unwrap();
    std::fs::write(t.path().join("out/prelude"), "in the way").unwrap();
    let before = read_tree(&t.path().join("out"));
    // Something for ecampus to change, so that a partial write would show.
    edit(&cfg, "max_rows: 150", "max_rows: 100");
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("out/prelude"), "{}", r.stderr);
    assert_same_files(&read_tree(&t.path().join("out")), &before);
}

#[test]
fn an_empty_platform_gets_no_upload_file_and_loses_the_old_one() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    assert_eq!(run_config(t.path(), &cfg, "out").code, 0);
    assert!(t.path().join("out/ecampus/ecampus.csv").exists());
    // Only the cohort whose version does not exist: nothing to enrol on ecampus.
    let r = run_with(t.path(), &cfg, "out", &["--cohort", "his-l1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!t.path().join("out/ecampus/ecampus.csv").exists());
    assert!(!t.path().join("out/ecampus/ecampus-002.csv").exists());
    let import = std::fs::read_to_string(t.path().join("out/ecampus/IMPORT.txt")).unwrap();
    assert!(import.contains("Nothing to import"), "{import}");
}

#[test]
fn check_opens_account_lists_and_student_files() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let r = enrolgen(t.path(), &["check", "-c", cfg.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains("account list of prelude") && r.stdout.contains("ok, 36 account(s)"),
        "{}",
        r.stdout
    );
    std::fs::remove_file(t.path().join("demo/prelude-accounts.csv")).unwrap();
    let r = enrolgen(t.path(), &["check", "-c", cfg.to_str().unwrap()]);
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("account list of prelude: FAIL  cannot read"),
        "{}",
        r.stdout
    );
}

/// The README's table of left-out reasons names every reason the code has (it
/// listed 11 of 14).
#[test]
fn the_readme_explains_every_left_out_reason() {
    let readme = std::fs::read_to_string(repo().join("docs/troubleshooting.md")).unwrap();
    let table = &readme[readme.find("## Left-out reasons").unwrap()..];
    for r in enrolgen::model::Reason::ALL {
        assert!(
            table.contains(&format!("| `{}` |", r.code())),
            "{} is not in the README's table",
            r.code()
        );
    }
}

/// The anchor GitHub gives a heading: lower case, spaces as dashes, punctuation
/// but `-` and `_` dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Every name of code a CONTRIBUTING recipe sends a newcomer to is in the code:
/// the files exist, and each type, function, test or macro named (its last
/// segment) is defined in `src/` or `tests/`. A recipe that names what was renamed
/// or removed fails here.
#[test]
fn contributing_recipes_name_code_that_exists() {
    let root = repo();
    let text = std::fs::read_to_string(root.join("CONTRIBUTING.md")).unwrap();
    let recipes = &text[text.find("## Recipes").expect("a Recipes section")..];
    let mut code = String::new();
    for dir in ["src", "tests"] {
        rust_files(&root.join(dir), &mut code);
    }
    let mut missing = Vec::new();
    let mut named = 0;
    for token in recipes.split('`').skip(1).step_by(2) {
        if token.contains(' ') {
            continue;
        }
        if token.ends_with(".rs") || token.ends_with(".md") {
            named += 1;
            let found = [root.join(token), root.join("src").join(token)]
                .iter()
                .any(|p| p.exists());
            if !found {
                missing.push(token.to_string());
            }
            continue;
        }
        let name = token.trim_end_matches('!');
        let last = name.rsplit("::").next().unwrap_or(name);
        let is_code = token.contains("::")
            || token.ends_with('!')
            || last.starts_with(|c: char| c.is_ascii_uppercase());
        if !is_code || !last.chars().all(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        named += 1;
        let defined = [
            "fn ",
            "struct ",
            "enum ",
            "trait ",
            "const ",
            "type ",
            "mod ",
            "macro_rules! ",
        ]
        .iter()
        .any(|kw| {
            code.match_indices(&format!("{kw}{last}")).any(|(i, m)| {
                !code[i + m.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
            })
        });
        // An enum's variant or a table's row: `Name(`, `Name {` or `Name,` as a line starts.
        let variant = code.lines().any(|l| {
            let l = l.trim_start();
            l.strip_prefix(last)
                .is_some_and(|rest| rest.starts_with(['(', ' ', ',']))
        });
        if !defined && !variant {
            missing.push(token.to_string());
        }
    }
    assert!(named > 20, "only {named} names of code read in the recipes");
    assert!(
        missing.is_empty(),
        "named in CONTRIBUTING.md, not in the code: {missing:?}"
    );
}

fn rust_files(dir: &std::path::Path, into: &mut String) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, into);
        } else if p.extension().is_some_and(|x| x == "rs") {
            into.push_str(&std::fs::read_to_string(&p).unwrap());
            into.push('\n');
        }
    }
}

/// Every relative link of the user and contributor docs leads to a file that
/// exists, and to a heading it has.
#[test]
fn every_relative_link_of_the_docs_resolves() {
    let root = repo();
    let mut docs = vec![root.join("README.md"), root.join("CONTRIBUTING.md")];
    for e in std::fs::read_dir(root.join("docs")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "md") {
            docs.push(p);
        }
    }
    let mut broken = Vec::new();
    for doc in &docs {
        let text = std::fs::read_to_string(doc).unwrap();
        for (_, [target]) in regex_lite_links(&text) {
            if target.starts_with("http") || target.starts_with("mailto:") {
                continue;
            }
            let (path, hash) = target.split_once('#').unwrap_or((&target, ""));
            let file = if path.is_empty() {
                doc.clone()
            } else {
                doc.parent().unwrap().join(path)
            };
            if !file.exists() {
                broken.push(format!("{}: {target}", doc.display()));
                continue;
            }
            if !hash.is_empty() && file.extension().is_some_and(|x| x == "md") {
                let headings: Vec<String> = std::fs::read_to_string(&file)
                    .unwrap()
                    .lines()
                    .filter_map(|l| {
                        l.trim_start_matches('#')
                            .strip_prefix(' ')
                            .filter(|_| l.starts_with('#'))
                    })
                    .map(anchor)
                    .collect();
                if !headings.iter().any(|h| h == hash) {
                    broken.push(format!("{}: {target} (no such heading)", doc.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "{broken:#?}");
}

/// `[text](target)` links of a Markdown text: their targets.
fn regex_lite_links(text: &str) -> Vec<((), [String; 1])> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        if let Some(j) = after.find(')') {
            let target = &after[..j];
            if !target.contains(' ') && !target.is_empty() {
                out.push(((), [target.to_string()]));
            }
            rest = &after[j..];
        } else {
            break;
        }
    }
    out
}
