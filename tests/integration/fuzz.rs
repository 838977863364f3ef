//! Property-based tests of everything that reads outside input: the LDIF reader, the
//! configuration loader, LDAP filters, group-name templates, account-state values and
//! `lint`. Any input gives a result or an error, never a panic, and quickly; where a
//! round trip exists, it holds.
//!
//! Checked to fail: the writer-to-lint property with the delimiter check removed from
//! `moodle::check_value` (a row with one column too many), and the filter round trip
//! with `escape` leaving `*` alone (a value read back as a substring filter).

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use enrolgen::filter::{escape, Filter};
use enrolgen::model::{CsvFormat, Enrolment, Layout};
use enrolgen::moodle::{self, Field, LintOptions};
use enrolgen::output::upload;
use enrolgen::source::directory::ldif;
use enrolgen::supann as account_status;
use enrolgen::template::Template;
use proptest::prelude::*;

/// A case that takes longer than this (in a debug build) is a bug: the inputs are
/// at most a few kilobytes.
const BOUND: Duration = Duration::from_secs(2);

fn quick<T>(f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let v = f();
    assert!(t.elapsed() < BOUND, "took {:?}", t.elapsed());
    v
}

/// Text made of the characters a parser cares about, or anything at all.
fn text(alphabet: &'static str, max: usize) -> BoxedStrategy<String> {
    prop_oneof![
        3 => proptest::string::string_regex(&format!("[{alphabet}]{{0,{max}}}")).unwrap(),
        1 => any::<String>(),
    ]
    .boxed()
}

/// `base` with a few random edits: bytes inserted, removed or replaced.
fn mutated(base: &'static str) -> impl Strategy<Value = String> {
    proptest::collection::vec((any::<usize>(), 0u8..3, any::<char>()), 1..6).prop_map(
        move |edits| {
            let mut s: Vec<char> = base.chars().collect();
            for (at, op, c) in edits {
                let i = at % (s.len() + 1);
                match op {
                    0 => s.insert(i, c),
                    1 if i < s.len() => {
                        s.remove(i);
                    }
                    _ if i < s.len() => s[i] = c,
                    _ => s.push(c),
                }
            }
            s.into_iter().collect()
        },
    )
}

const CONFIG: &str = "version: 1\nyear: 2026\napogee:\n  sqlite: apogee.sql\n  payment: [P]\ndirectories:\n  unicaen: { ldif: unicaen.ldif, match: supannEtuId, state: [supannRessourceEtat, supannRessourceEtatDate] }\n\
platforms:\n  ecampus:\n    accounts: [unicaen]\n    roles: [student, editingteacher]\n    csv: { delimiter: \";\", layout: long, max_rows: 150 }\n\
cohorts:\n  psy: { apogee: { etape: PSY1L1, version: 101, groups: true } }\n  staff: { ldap: { directory: unicaen, filter: \"(&(a=b)(c=*d*))\" } }\n\
enrol:\n  - { cohort: psy, platform: ecampus, course: [C1, C2], role: student, group: \"TD {group}\", enrolperiod: 60 }\n\
report: { personal_data: false }\nfile_mode: \"0640\"\n";

const LDIF: &str = "version: 1\n# c\ndn: uid=e1,ou=people,dc=unicaen,dc=fr\nobjectClass: inetOrgPerson\nsn:: w4lsb8Ovc2U=\ncn: a very long\n  name\nsupannEtuId: 1\nsupannRessourceEtatDate: {COMPTE}A:SupannActif::20271231\n\ndn: uid=e2,dc=x\ndescription;lang-fr: x\n";

const UPLOAD: &str = "username;course1;role1;group1;enrolperiod1;enrolstatus1\n55000901;cours_test;student;groupe_1;60;0\n55000902;cours_test;student;;;\n";

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn config_loader_never_panics(text in prop_oneof![mutated(CONFIG), text("a-z0-9:{}\\[\\],\"' \\n&*!|-", 400)]) {
        quick(|| {
            if let Err(e) = enrolgen::config::parse(&text, Path::new("fuzz.yaml")) {
                // Every error names the file.
                prop_assert!(e.to_string().starts_with("fuzz.yaml"), "{e}");
            }
            Ok(())
        })?;
    }

    #[test]
    fn ldif_reader_never_panics(text in prop_oneof![mutated(LDIF), text("a-zA-Z0-9:=,;+/ \\n#-", 600)]) {
        quick(|| {
            if let Err(e) = ldif::parse(Path::new("fuzz.ldif"), &text) {
                prop_assert!(e.to_string().starts_with("fuzz.ldif:"), "{e}");
            }
            Ok(())
        })?;
    }

    #[test]
    fn a_parsed_filter_prints_back_to_an_equal_filter(text in text("()&|!=*~<>a-z0-9\\\\ ", 80)) {
        quick(|| {
            if let Ok(f) = Filter::parse(&text) {
                let again = Filter::parse(&f.to_string());
                prop_assert_eq!(again, Ok(f));
            }
            Ok(())
        })?;
    }

    #[test]
    fn any_value_escapes_into_an_equality_filter_on_that_value(value in any::<String>()) {
        let f = Filter::parse(&format!("(uid={})", escape(&value)));
        // A value that is empty or all spaces is trimmed away by the parser's caller;
        // any other comes back exactly.
        if !value.trim().is_empty() {
            prop_assert_eq!(f, Ok(Filter::Equal("uid".into(), value)));
        }
    }

    #[test]
    fn a_parsed_template_prints_back_to_an_equal_template(text in text("{}a-z_ ", 40)) {
        quick(|| {
            if let Ok(t) = Template::parse(&text) {
                prop_assert_eq!(Template::parse(&t.to_string()), Ok(t));
            }
            Ok(())
        })?;
    }

    #[test]
    fn account_state_values_never_panic(text in text("{}COMPTEAIS:0-9a-z", 40)) {
        quick(|| {
            let _ = account_status::parse("supannRessourceEtatDate", &text);
        });
    }

    #[test]
    fn well_formed_state_values_read_back(
        st in prop_oneof![Just("A"), Just("I"), Just("S")],
        sub in "[A-Za-z]{0,12}",
        start in proptest::option::of(0u32..20_000),
        len in proptest::option::of(0u32..5_000),
    ) {
        let day = |n: u32| NaiveDate::from_ymd_opt(2000, 1, 1).unwrap() + chrono::Days::new(u64::from(n));
        let start = start.map(day);
        let end = len.map(|l| start.unwrap_or(day(0)) + chrono::Days::new(u64::from(l)));
        let f = |d: Option<NaiveDate>| d.map(|d| d.format("%Y%m%d").to_string()).unwrap_or_default();
        let raw = format!("{{COMPTE}}{st}:{sub}:{}:{}", f(start), f(end));
        let r = account_status::parse("supannRessourceEtatDate", &raw).unwrap().reading.unwrap();
        prop_assert_eq!(r.start, start);
        prop_assert_eq!(r.end, end);
        prop_assert_eq!(r.sub_state.unwrap_or_default(), sub);
    }

    #[test]
    fn lint_never_panics(bytes in prop_oneof![
        mutated(UPLOAD).prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..2000),
    ]) {
        quick(|| {
            let _ = moodle::lint(&bytes, &LintOptions::default());
            let _ = moodle::lint(&bytes, &LintOptions { delimiter: Some(b','), roles: Some(["student".to_string()].into()) });
        });
    }

    #[test]
    fn any_file_the_writer_accepts_passes_lint(
        rows in proptest::collection::vec(
            (
                prop_oneof!["[a-z0-9_.@-]{1,10}", any::<String>()],
                prop_oneof!["[A-Z0-9-]{1,10}", any::<String>()],
                prop_oneof![Just("student".to_string()), any::<String>()],
                proptest::option::of(prop_oneof!["TD [0-9]", any::<String>()]),
                proptest::option::of(1u32..400),
                proptest::option::of(0u8..2),
            ),
            1..30,
        ),
        delimiter in prop_oneof![Just(b';'), Just(b',')],
        wide in any::<bool>(),
        max_rows in proptest::option::of(1usize..10),
    ) {
        // What the planner would let through: every value checked as it is before writing.
        let ok = |f: Field, v: &str| moodle::check_value(f, v.trim(), delimiter).is_ok() && v.trim() == v;
        let enrolments: Vec<Enrolment> = rows
            .into_iter()
            .filter(|(u, c, r, g, _, _)| {
                ok(Field::Username, u) && ok(Field::Course, c) && ok(Field::Role, r)
                    && g.as_ref().is_none_or(|g| ok(Field::Group, g))
            })
            .map(|(username, course, role, group, enrolperiod, enrolstatus)| Enrolment {
                username,
                course,
                role,
                groups: group.into_iter().collect(),
                enrolperiod,
                enrolstatus,
                enroltimestart: None,
                rules: vec![1],
                cohorts: vec!["c".into()],
            })
            .collect();
        let format = CsvFormat { delimiter, layout: if wide { Layout::Wide } else { Layout::Long }, max_rows };
        let files = upload::render("p", &format, &enrolments).unwrap();
        for f in files {
            let report = moodle::lint(&f.bytes, &LintOptions { delimiter: Some(delimiter), roles: None });
            prop_assert!(report.is_clean(), "{:?}\n{}", report.problems, String::from_utf8_lossy(&f.bytes));
        }
    }
}
