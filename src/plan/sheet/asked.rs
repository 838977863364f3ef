//! A sheet's requests as rules, and the plan told back in the sheet's terms.
//!
//! Rows that ask for the same enrolment (course, role, group, period, status, start)
//! share one rule and one cohort, as a mapping's cohort does: a sheet of a hundred
//! thousand rows asking for a few hundred enrolments plans a few hundred rules, not a
//! rule and a cohort per row. Where each planned enrolment was asked (row, column) is
//! kept beside, keyed by rule and person, so that every left-out line names its row
//! and column as before.
//!
//! A person asked twice for the same course (a second row, or course2 on the same
//! row) goes to a later rule than the first ask, so that the plan meets the asks in
//! the sheet's order: the first is kept, the next is a duplicate or a conflict, as
//! between two rules of a mapping.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;

use super::{row_cohort, Identity, Parsed, Request};
use crate::model::{Cohort, CohortSource, EnrolRule, LeftOut, Reason, UserCourse};
use crate::plan::PlatformPlan;
use crate::template::Template;

/// The prefix of the cohorts a sheet's rules enrol (`sheet-3`), rewritten to the
/// row in what the report shows.
const COHORT_PREFIX: &str = "sheet-";

/// Where a person's enrolment of one rule was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Origin {
    row: usize,
    /// The enrolment's course column, an index in `Asked::columns`.
    column: u16,
    /// The column that names the person.
    identity_column: u16,
}

/// A row that gives a username beside its student number: the account the number
/// finds must answer to it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Also {
    row: usize,
    student_id: String,
    given: String,
    identity_column: u16,
    /// The rule and course of each enrolment the row asks for.
    asked: Vec<(usize, String)>,
}

/// What the sheet asked, beside the rules: where each enrolment came from, and the
/// sheet's own mistakes and warnings.
#[derive(Debug, Default)]
pub struct Asked {
    /// Column headers as the sheet writes them.
    columns: Vec<String>,
    /// (rule, person) → where; the person as a left-out line names them: the student
    /// number, or the username in lower case.
    at: HashMap<(usize, String), Origin>,
    /// Rule → whether its cohort is of student numbers.
    by_number: Vec<bool>,
    also: Vec<Also>,
    pub left_out: Vec<LeftOut>,
    pub warnings: Vec<String>,
}

/// An enrolment as rows ask for it: the rows that ask the same share a rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Signature {
    /// How many times before the person asked for this course.
    again: u32,
    by_number: bool,
    course: String,
    role: String,
    group: Option<String>,
    enrolperiod: Option<u32>,
    enrolstatus: Option<u8>,
    enroltimestart: Option<NaiveDate>,
}

struct Share {
    first_row: usize,
    people: Vec<String>,
}

/// The cohorts and rules a run applies for the requests, and where each came from:
/// a rule (and its cohort) per distinct enrolment, with `tags` on every cohort (the
/// platform rules that ask for cohort tags).
pub fn rules(
    parsed: Parsed,
    platform: &str,
    tags: &BTreeSet<String>,
) -> (Vec<Cohort>, Vec<EnrolRule>, Asked) {
    let mut sharing = Sharing {
        asked: Asked {
            left_out: parsed.left_out,
            warnings: parsed.warnings,
            ..Asked::default()
        },
        ..Sharing::default()
    };
    for r in parsed.requests {
        sharing.add(r);
    }
    sharing.into_rules(platform, tags)
}

/// The requests gathered by enrolment, before the rules are numbered.
#[derive(Default)]
struct Sharing {
    asked: Asked,
    column_ids: HashMap<String, u16>,
    index: HashMap<Signature, usize>,
    shares: Vec<(Signature, Share)>,
    /// How many times each person asked for each course so far.
    times: HashMap<(String, String), u32>,
    /// (share, person, origin): the share numbered once the shares are ordered.
    origins: Vec<(usize, String, Origin)>,
}

impl Sharing {
    fn column(&mut self, name: &str) -> u16 {
        let columns = &mut self.asked.columns;
        *self.column_ids.entry(name.to_string()).or_insert_with(|| {
            columns.push(name.to_string());
            u16::try_from(columns.len() - 1).unwrap_or(u16::MAX)
        })
    }

    /// The share of this enrolment, made on its first row.
    fn share_of(&mut self, sig: Signature, row: usize) -> usize {
        if let Some(&i) = self.index.get(&sig) {
            return i;
        }
        self.index.insert(sig.clone(), self.shares.len());
        let share = Share {
            first_row: row,
            people: Vec::new(),
        };
        self.shares.push((sig, share));
        self.shares.len() - 1
    }

    fn add(&mut self, r: Request) {
        let (person, by_number) = match &r.identity {
            Identity::StudentId(id) => (id.clone(), true),
            Identity::Username(u) => (u.to_lowercase(), false),
        };
        let identity_column = self.column(&r.identity_column);
        let mut also_asked = Vec::new();
        for w in r.wanted {
            let seen = self
                .times
                .entry((person.clone(), w.course.clone()))
                .or_default();
            let again = *seen;
            *seen += 1;
            let column = self.column(&w.column);
            let course = w.course.clone();
            let sig = Signature {
                again,
                by_number,
                course: w.course,
                role: w.role,
                group: w.group,
                enrolperiod: w.enrolperiod,
                enrolstatus: w.enrolstatus,
                enroltimestart: w.enroltimestart,
            };
            let i = self.share_of(sig, r.row);
            self.shares[i].1.people.push(match &r.identity {
                Identity::StudentId(id) => id.clone(),
                Identity::Username(u) => u.clone(),
            });
            let origin = Origin {
                row: r.row,
                column,
                identity_column,
            };
            self.origins.push((i, person.clone(), origin));
            also_asked.push((i, course));
        }
        if let (Identity::StudentId(id), Some(given)) = (&r.identity, r.username_also) {
            self.asked.also.push(Also {
                row: r.row,
                student_id: id.clone(),
                given,
                identity_column,
                asked: also_asked,
            });
        }
    }

    /// The rules in the order the plan must meet them: first asks before asks
    /// again, then in the order of the rows.
    fn into_rules(
        self,
        platform: &str,
        tags: &BTreeSet<String>,
    ) -> (Vec<Cohort>, Vec<EnrolRule>, Asked) {
        let Sharing {
            mut asked,
            shares,
            origins,
            ..
        } = self;
        let mut order: Vec<usize> = (0..shares.len()).collect();
        order.sort_by_key(|&i| (shares[i].0.again, shares[i].1.first_row));
        let mut number = vec![0; shares.len()];
        for (k, &i) in order.iter().enumerate() {
            number[i] = k + 1;
        }
        for (i, person, origin) in origins {
            asked.at.insert((number[i], person), origin);
        }
        for a in &mut asked.also {
            for (rule, _) in &mut a.asked {
                *rule = number[*rule];
            }
        }
        let mut shares: Vec<(usize, Signature, Share)> = shares
            .into_iter()
            .enumerate()
            .map(|(i, (sig, share))| (number[i], sig, share))
            .collect();
        shares.sort_by_key(|s| s.0);
        let mut cohorts = Vec::with_capacity(shares.len());
        let mut rules = Vec::with_capacity(shares.len());
        for (k, sig, share) in shares {
            let name = format!("{COHORT_PREFIX}{k}");
            asked.by_number.push(sig.by_number);
            cohorts.push(Cohort {
                name: name.clone(),
                source: if sig.by_number {
                    CohortSource::StudentNumbers(share.people)
                } else {
                    CohortSource::Usernames(share.people)
                },
                tags: tags.clone(),
            });
            rules.push(EnrolRule {
                number: k,
                cohort: name,
                platform: platform.to_string(),
                courses: vec![sig.course],
                role: sig.role,
                group: sig.group.as_deref().map(Template::literal),
                enrolperiod: sig.enrolperiod,
                enrolstatus: sig.enrolstatus,
                enroltimestart: sig.enroltimestart,
            });
        }
        (cohorts, rules, asked)
    }
}

/// What the accounts say of a person, once the run has found them.
pub trait People {
    /// The usernames of the one account a student number finds on the platform
    /// (`None` when none or several).
    fn usernames_of(&self, student_id: &str) -> Option<Vec<String>>;
    /// The student numbers of the accounts with this username.
    fn student_ids_of(&self, username: &str) -> Vec<String>;
}

impl Asked {
    fn origin(&self, rule: usize, l: &LeftOut, people: &dyn People) -> Option<Origin> {
        let by_number = *self.by_number.get(rule.checked_sub(1)?)?;
        let find = |p: &str| self.at.get(&(rule, p.to_string())).copied();
        if !by_number {
            return find(&l.username.to_lowercase());
        }
        if !l.student_id.is_empty() {
            return find(&l.student_id);
        }
        // A line made from a planned enrolment names its account, not the number
        // (the number is the login where the platform's logins are numbers).
        find(&l.username).or_else(|| {
            people
                .student_ids_of(&l.username)
                .iter()
                .find_map(|id| find(id))
        })
    }

    /// The line's words with each `rule #N` and cohort `sheet-N` as the row that
    /// asked the person in rule N.
    fn rewrite(&self, detail: &str, l: &LeftOut, people: &dyn People) -> String {
        let rows = |n: usize| self.origin(n, l, people).map(|o| format!("row {}", o.row));
        let d = renumber(detail, "rule #", &rows);
        renumber(&d, COHORT_PREFIX, &rows)
    }

    fn column(&self, i: u16) -> &str {
        self.columns.get(usize::from(i)).map_or("?", String::as_str)
    }
}

/// `text` with every `prefix` followed by a number N replaced by `f(N)` (kept when
/// `f` has nothing for it).
fn renumber(text: &str, prefix: &str, f: &dyn Fn(usize) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let after = &rest[at + prefix.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let new = after[..digits].parse().ok().and_then(f);
        out.push_str(&rest[..at]);
        match new {
            Some(n) => out.push_str(&n),
            None => out.push_str(&rest[at..at + prefix.len() + digits]),
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// The run's plan for the sheet, told in the sheet's terms: each left-out line names
/// its row and column, and the sheet's own mistakes join the list. A row that gives
/// both a student number and a username is enrolled only if the account found by the
/// number answers to that username.
pub fn locate(asked: &Asked, pp: &mut PlatformPlan, people: &dyn People) {
    for l in &mut pp.left_out {
        let Some(o) = asked.origin(l.rule, l, people) else {
            continue;
        };
        let column = match l.reason.info().blames {
            crate::model::Blames::Identity => o.identity_column,
            crate::model::Blames::Enrolment => o.column,
        };
        let mut detail = asked.rewrite(&l.detail, l, people);
        if l.reason == Reason::RuleNotMet && detail.contains("has none of the tags") {
            detail.push_str(" (a sheet's people have the tags given to adhoc: --tag T)");
        }
        l.detail = format!("row {}, {}: {detail}", o.row, asked.column(column));
        l.rule = o.row;
        l.cohort = row_cohort(o.row);
    }
    let mut wrong = Vec::new();
    for a in &asked.also {
        let Some(names) = people.usernames_of(&a.student_id) else {
            continue;
        };
        let given = a.given.to_lowercase();
        if given == a.student_id || names.iter().any(|n| n.to_lowercase() == given) {
            continue;
        }
        for (rule, course) in &a.asked {
            let taken = names.iter().find_map(|n| {
                let key = UserCourse {
                    username: n.clone(),
                    course: course.clone(),
                };
                let e = pp.enrolments.get(&key)?;
                e.rules.contains(rule).then(|| pp.enrolments.remove(&key))?
            });
            let Some(e) = taken else { continue };
            wrong.push(LeftOut {
                course: e.course,
                reason: Reason::AmbiguousAccount,
                username: e.username,
                student_id: a.student_id.clone(),
                name: String::new(),
                cohort: row_cohort(a.row),
                rule: a.row,
                role: e.role,
                detail: format!(
                    "row {}, {}: student number {} is the account '{}', but the row says '{}'",
                    a.row,
                    asked.column(a.identity_column),
                    a.student_id,
                    names.join("', '"),
                    a.given
                ),
            });
        }
    }
    pp.left_out.extend(wrong);
    pp.left_out.extend(asked.left_out.iter().cloned());
    pp.left_out.sort();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Enrolment;

    fn asked(lines: &[&[&str]]) -> (Vec<Cohort>, Vec<EnrolRule>, Asked) {
        let platform = crate::plan::tests::platform(0);
        let parsed = crate::plan::sheet::tests::parse_with(lines, &platform).unwrap();
        rules(parsed, "p", &BTreeSet::new())
    }

    struct Nobody;

    impl People for Nobody {
        fn usernames_of(&self, id: &str) -> Option<Vec<String>> {
            (id == "21000001").then(|| vec!["jdupont".to_string()])
        }
        fn student_ids_of(&self, username: &str) -> Vec<String> {
            match username {
                "jdupont" => vec!["21000001".to_string()],
                _ => Vec::new(),
            }
        }
    }

    fn line(
        rule: usize,
        username: &str,
        student_id: &str,
        reason: Reason,
        detail: &str,
    ) -> LeftOut {
        LeftOut {
            course: "PSY-L1".into(),
            reason,
            username: username.into(),
            student_id: student_id.into(),
            name: String::new(),
            cohort: format!("sheet-{rule}"),
            rule,
            role: "teacher".into(),
            detail: detail.into(),
        }
    }

    #[test]
    fn rows_asking_the_same_enrolment_share_a_rule_and_asks_again_come_later() {
        let (cohorts, rules, _) = asked(&[
            &["username", "course1", "role1", "course2", "role2"],
            &["a", "PSY-L1", "editingteacher", "PSY-L1", "student"],
            &["b", "PSY-L1", "student", "", ""],
            &["c", "PSY-L1", "student", "PSY-L2", "student"],
            &["a", "PSY-L1", "student", "", ""],
        ]);
        let shown: Vec<(usize, &str, &str, &CohortSource)> = rules
            .iter()
            .zip(&cohorts)
            .map(|(r, c)| (r.number, r.courses[0].as_str(), r.role.as_str(), &c.source))
            .collect();
        let names = |n: &[&str]| CohortSource::Usernames(n.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            shown,
            [
                (1, "PSY-L1", "editingteacher", &names(&["a"])),
                (2, "PSY-L1", "student", &names(&["b", "c"])),
                (3, "PSY-L2", "student", &names(&["c"])),
                (4, "PSY-L1", "student", &names(&["a"])),
                (5, "PSY-L1", "student", &names(&["a"])),
            ]
        );
        assert_eq!(rules[4].cohort, cohorts[4].name);
    }

    #[test]
    fn a_conflict_names_its_rows_and_its_own_column() {
        let (_, _, asked) = asked(&[
            &["username", "course1", "role1", "course2", "role2"],
            &["a", "PSY-L1", "student", "PSY-L1", "editingteacher"],
        ]);
        let mut pp = PlatformPlan::default();
        let detail = "role: student (rule #1) or editingteacher (rule #2)";
        pp.left_out.push(line(2, "a", "", Reason::Conflict, detail));
        locate(&asked, &mut pp, &Nobody);
        let l = &pp.left_out[0];
        assert_eq!(
            l.detail,
            "row 2, course2: role: student (row 2) or editingteacher (row 2)"
        );
        assert_eq!((l.rule, l.cohort.as_str()), (2, "row 2"));
    }

    #[test]
    fn a_line_that_names_only_the_account_finds_the_row_of_its_number() {
        let (_, _, asked) = asked(&[
            &["n° étudiant", "course1", "role1"],
            &["21000009", "PSY-L1", "student"],
            &["21000001", "PSY-L1", "student"],
        ]);
        let mut pp = PlatformPlan::default();
        let detail = "the platform's Moodle has no course 'PSY-L1'";
        pp.left_out
            .push(line(1, "jdupont", "", Reason::CourseNotFound, detail));
        pp.left_out.push(line(
            1,
            "x",
            "21000009",
            Reason::NoAccount,
            "cohort sheet-1: none",
        ));
        locate(&asked, &mut pp, &Nobody);
        let details: Vec<&str> = pp.left_out.iter().map(|l| l.detail.as_str()).collect();
        assert_eq!(
            details,
            [
                "row 2, n° étudiant: cohort row 2: none",
                "row 3, course1: the platform's Moodle has no course 'PSY-L1'",
            ]
        );
    }

    #[test]
    fn a_username_beside_the_number_must_be_the_account_s() {
        let (_, _, asked) = asked(&[
            &["n° étudiant", "username", "course1", "role1"],
            &["21000001", "pmartin", "PSY-L1", "student"],
        ]);
        let mut pp = PlatformPlan::default();
        let e = Enrolment {
            username: "jdupont".into(),
            course: "PSY-L1".into(),
            role: "student".into(),
            groups: Default::default(),
            enrolperiod: None,
            enrolstatus: None,
            enroltimestart: None,
            rules: vec![1],
            cohorts: vec!["sheet-1".into()],
        };
        pp.enrolments.insert(e.key(), e);
        locate(&asked, &mut pp, &Nobody);
        assert!(pp.enrolments.is_empty());
        assert_eq!(
            pp.left_out[0].detail,
            "row 2, n° étudiant: student number 21000001 is the account 'jdupont', but the row says 'pmartin'"
        );
    }

    #[test]
    fn renumber_replaces_each_number_after_the_prefix() {
        let f = |n: usize| (n < 10).then(|| format!("row {}", n * 10));
        assert_eq!(
            renumber("role: a (rule #1) or b (rule #12); rule #x", "rule #", &f),
            "role: a (row 10) or b (rule #12); rule #x"
        );
        assert_eq!(
            renumber("cohort sheet-3 has", "sheet-", &f),
            "cohort row 30 has"
        );
    }
}
