//! What differs between the plan and what Moodle holds, course by course. Pure: the
//! plan and Moodle's answers (already converted) are parameters.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Serialize;

use crate::model::{CourseNow, EnrolledUser, Enrolment, MoodleNow};
use crate::plan::managed::ManagedGroups;
use crate::plan::PlatformPlan;

/// The kinds of difference, in the order a person reads them for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    CourseNotFound,
    Missing,
    Suspended,
    Active,
    MissingRole,
    /// A platform role the plan does not give, held by a planned user (given by
    /// hand: a privilege raise in a course enrolgen manages).
    ExtraRole,
    MissingGroup,
    ExtraGroup,
    NotPlanned,
    /// Active, not planned, and not made by enrolgen (self enrolment, cohort sync, a
    /// teacher's own): listed for information, not a difference.
    OtherEnrolment,
    /// Active, not planned, of the previous academic year: kept by the runs until
    /// the re-registration window closes (`keep_previous_year_until`). Listed for
    /// information, not a difference.
    KeptForTurnover,
}

impl Problem {
    pub fn code(self) -> &'static str {
        match self {
            Problem::CourseNotFound => "course_not_found",
            Problem::Missing => "missing",
            Problem::Suspended => "suspended",
            Problem::Active => "active",
            Problem::MissingRole => "missing_role",
            Problem::ExtraRole => "extra_role",
            Problem::MissingGroup => "missing_group",
            Problem::ExtraGroup => "extra_group",
            Problem::NotPlanned => "not_planned",
            Problem::OtherEnrolment => "other_enrolment",
            Problem::KeptForTurnover => "kept_for_turnover",
        }
    }

    /// Whether Moodle differs from the plan (the others are listed for information).
    pub fn differs(self) -> bool {
        !matches!(self, Problem::OtherEnrolment | Problem::KeptForTurnover)
    }
}

/// One line of verify.csv.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Difference {
    pub course: String,
    pub username: String,
    pub problem: Problem,
    pub role: String,
    pub expected: String,
    pub actual: String,
}

/// What to compare: the whole plan of a platform (a run's), or only that some
/// enrolments are there as written (an upload file's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Also report what Moodle has and the plan does not (`extra_group`,
    /// `not_planned`).
    Plan,
    /// Only the planned enrolments: others in the course are not our business.
    Rows,
}

/// Per course: planned enrolments, active ones in Moodle, differences.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CourseCheck {
    pub planned: usize,
    pub active_in_moodle: usize,
    pub differences: usize,
}

/// The enrolments enrolgen made on a platform, as its channel's state records them
/// (`None`: no state, so none is known to be enrolgen's).
pub type Made = Option<BTreeSet<crate::model::UserCourse>>;

/// The enrolments the runs keep for the turnover, as the channel's state records.
pub type Kept = BTreeSet<crate::model::UserCourse>;

/// Compares a platform's planned enrolments with Moodle on the day `as_of`.
/// `roles`: the platform's roles (`not_planned` concerns only users holding one of
/// them; `None` = any). An active enrolment the plan does not give is `not_planned`
/// where enrolgen made it (`made`) or it sits in a group enrolgen manages, else
/// `other_enrolment` (somebody else's, which no run touches).
pub fn compare(
    pp: &PlatformPlan,
    now: &MoodleNow,
    roles: Option<&BTreeSet<String>>,
    (scope, made, kept): (Scope, &Made, &Kept),
    as_of: NaiveDate,
) -> Vec<Difference> {
    let mut by_course: BTreeMap<&str, Vec<&Enrolment>> = BTreeMap::new();
    for e in pp.enrolments.values() {
        by_course.entry(e.course.as_str()).or_default().push(e);
    }
    // Deferred people (account too recent) will be planned by a later run: not an
    // enrolment Moodle should not have.
    let deferred: BTreeSet<(&str, &str)> = pp
        .left_out
        .iter()
        .filter(|l| l.reason.is_deferred() && !l.username.is_empty())
        .map(|l| (l.course.as_str(), l.username.as_str()))
        .collect();
    let mut out = Vec::new();
    for (course, planned) in by_course {
        let Some(Some(c)) = now.get(course) else {
            out.push(diff(course, "", Problem::CourseNotFound, "", course, ""));
            continue;
        };
        // Without the web-service state: the groups the plan gives.
        let managed = ManagedGroups::planned(
            planned
                .iter()
                .flat_map(|e| e.groups.iter().map(String::as_str)),
        );
        for e in &planned {
            compare_one(e, c, &managed, scope, as_of, &mut out);
            if scope == Scope::Plan {
                extra_roles(e, c, roles, &mut out);
            }
        }
        if scope == Scope::Plan {
            let planned_users: BTreeSet<&str> =
                planned.iter().map(|e| e.username.as_str()).collect();
            for (u, m) in &c.active {
                let counted = roles.is_none_or(|r| m.roles.iter().any(|x| r.contains(x)));
                if !planned_users.contains(u.as_str())
                    && counted
                    && !deferred.contains(&(course, u.as_str()))
                {
                    let key = crate::model::UserCourse::new(u, course);
                    let ours = made.as_ref().is_some_and(|m| m.contains(&key))
                        || m.groups.iter().any(|g| managed.contains(g));
                    out.push(diff(
                        course,
                        u,
                        if kept.contains(&key) {
                            Problem::KeptForTurnover
                        } else if ours {
                            Problem::NotPlanned
                        } else {
                            Problem::OtherEnrolment
                        },
                        &join(&m.roles),
                        "",
                        &join(&m.groups),
                    ));
                }
            }
        }
    }
    out.sort();
    out
}

fn compare_one(
    e: &Enrolment,
    c: &CourseNow,
    managed: &ManagedGroups<'_>,
    scope: Scope,
    as_of: NaiveDate,
    out: &mut Vec<Difference>,
) {
    let (course, user, role) = (e.course.as_str(), e.username.as_str(), e.role.as_str());
    let inactive = !e.active_on(as_of);
    let m: &EnrolledUser = match (c.active.get(user), c.inactive.get(user)) {
        (Some(m), _) => {
            if inactive {
                out.push(diff(
                    course,
                    user,
                    Problem::Active,
                    role,
                    "not active",
                    "active",
                ));
            }
            m
        }
        (None, Some(m)) => {
            if !inactive {
                out.push(diff(
                    course,
                    user,
                    Problem::Suspended,
                    role,
                    "active",
                    "not active",
                ));
            }
            m
        }
        (None, None) => {
            out.push(diff(course, user, Problem::Missing, role, "enrolled", ""));
            return;
        }
    };
    if !m.roles.contains(role) {
        out.push(diff(
            course,
            user,
            Problem::MissingRole,
            role,
            role,
            &join(&m.roles),
        ));
    }
    for g in &e.groups {
        if !m.groups.contains(g) {
            out.push(diff(
                course,
                user,
                Problem::MissingGroup,
                role,
                g,
                &join(&m.groups),
            ));
        }
    }
    if scope == Scope::Plan {
        for g in &m.groups {
            if managed.contains(g) && !e.groups.contains(g) {
                out.push(diff(
                    course,
                    user,
                    Problem::ExtraGroup,
                    role,
                    &join(&e.groups),
                    g,
                ));
            }
        }
    }
}

/// The platform roles a planned user holds that the plan does not give (with no
/// platform roles configured, none can be told apart: nothing is reported).
fn extra_roles(
    e: &Enrolment,
    c: &CourseNow,
    roles: Option<&BTreeSet<String>>,
    out: &mut Vec<Difference>,
) {
    let (Some(roles), Some((m, _))) = (roles, c.user(&e.username)) else {
        return;
    };
    for r in m
        .roles
        .iter()
        .filter(|r| **r != e.role && roles.contains(*r))
    {
        out.push(diff(
            &e.course,
            &e.username,
            Problem::ExtraRole,
            &e.role,
            &e.role,
            r,
        ));
    }
}

/// The extra roles of a platform's plan in Moodle, one line each, for the run's
/// warnings: `course: username has role (planned: role)`.
pub fn extra_role_lines(
    pp: &PlatformPlan,
    now: &MoodleNow,
    roles: Option<&BTreeSet<String>>,
) -> Vec<String> {
    let mut out = Vec::new();
    for e in pp.enrolments.values() {
        if let Some(Some(c)) = now.get(&e.course) {
            extra_roles(e, c, roles, &mut out);
        }
    }
    out.iter()
        .map(|d| {
            format!(
                "{}: {} has {} (planned: {})",
                d.course, d.username, d.actual, d.expected
            )
        })
        .collect()
}

fn diff(
    course: &str,
    user: &str,
    problem: Problem,
    role: &str,
    expected: &str,
    actual: &str,
) -> Difference {
    Difference {
        course: course.to_string(),
        username: user.to_string(),
        problem,
        role: role.to_string(),
        expected: expected.to_string(),
        actual: actual.to_string(),
    }
}

fn join<'a>(s: impl IntoIterator<Item = &'a String>) -> String {
    s.into_iter().cloned().collect::<Vec<_>>().join("|")
}

/// Counts per course, for summary.json and the report.
pub fn per_course(
    pp: &PlatformPlan,
    now: &MoodleNow,
    diffs: &[Difference],
) -> BTreeMap<String, CourseCheck> {
    let mut out: BTreeMap<String, CourseCheck> = BTreeMap::new();
    for e in pp.enrolments.values() {
        out.entry(e.course.clone()).or_default().planned += 1;
    }
    for (course, c) in now {
        if let (Some(c), Some(check)) = (c, out.get_mut(course)) {
            check.active_in_moodle = c.active.len();
        }
    }
    for d in diffs.iter().filter(|d| d.problem.differs()) {
        out.entry(d.course.clone()).or_default().differences += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(user: &str, course: &str, role: &str, groups: &[&str]) -> Enrolment {
        Enrolment {
            username: user.into(),
            course: course.into(),
            role: role.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            enrolperiod: None,
            enrolstatus: None,
            enroltimestart: None,
            rules: vec![1],
            cohorts: vec!["c".into()],
        }
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
    }

    fn user(roles: &[&str], groups: &[&str]) -> EnrolledUser {
        EnrolledUser {
            id: None,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn plan(es: &[Enrolment]) -> PlatformPlan {
        PlatformPlan {
            enrolments: es.iter().map(|e| (e.key(), e.clone())).collect(),
            left_out: Vec::new(),
            by_idnumber: Default::default(),
        }
    }

    fn lines(d: &[Difference]) -> Vec<String> {
        d.iter()
            .map(|d| {
                format!(
                    "{};{};{};{};{};{}",
                    d.problem.code(),
                    d.course,
                    d.username,
                    d.role,
                    d.expected,
                    d.actual
                )
            })
            .collect()
    }

    #[test]
    fn moodle_as_planned_has_no_difference() {
        let pp = plan(&[e("a", "C", "student", &["G1"])]);
        let now: MoodleNow = [(
            "C".to_string(),
            Some(CourseNow {
                id: 2,
                active: [("a".to_string(), user(&["student"], &["G1", "Other"]))].into(),
                inactive: Default::default(),
                ..Default::default()
            }),
        )]
        .into();
        assert!(compare(&pp, &now, None, (Scope::Plan, &None, &Kept::new()), day()).is_empty());
    }

    #[test]
    fn each_kind_of_difference_is_one_line() {
        let pp = plan(&[
            e("a", "C", "student", &["G1"]),
            e("b", "C", "student", &["G1"]),
            e("c", "C", "student", &["G2"]),
            e("d", "C", "editingteacher", &[]),
            e("x", "NOPE", "student", &[]),
        ]);
        let now: MoodleNow = [
            (
                "C".to_string(),
                Some(CourseNow {
                    id: 2,
                    active: [
                        ("c".to_string(), user(&["student"], &["G1"])),
                        ("d".to_string(), user(&["student"], &[])),
                        ("z".to_string(), user(&["student"], &[])),
                        ("guest1".to_string(), user(&["guest"], &[])),
                    ]
                    .into(),
                    inactive: [("b".to_string(), user(&["student"], &["G1"]))].into(),
                    ..Default::default()
                }),
            ),
            ("NOPE".to_string(), None),
        ]
        .into();
        let roles: BTreeSet<String> = ["student".into(), "editingteacher".into()].into();
        let made: Made = Some([crate::model::UserCourse::new("z", "C")].into());
        assert_eq!(
            lines(&compare(
                &pp,
                &now,
                Some(&roles),
                (Scope::Plan, &made, &Kept::new()),
                day()
            )),
            [
                "missing;C;a;student;enrolled;",
                "suspended;C;b;student;active;not active",
                "missing_group;C;c;student;G2;G1",
                "extra_group;C;c;student;G2;G1",
                "missing_role;C;d;editingteacher;editingteacher;student",
                "extra_role;C;d;editingteacher;editingteacher;student",
                "not_planned;C;z;student;;",
                "course_not_found;NOPE;;;NOPE;",
            ]
        );
        // An upload file's rows: only what the rows ask (no extra_group, no
        // not_planned).
        let rows = lines(&compare(
            &pp,
            &now,
            Some(&roles),
            (Scope::Rows, &None, &Kept::new()),
            day(),
        ));
        assert_eq!(rows.len(), 5);
        assert!(!rows
            .iter()
            .any(|l| l.starts_with("extra_group") || l.starts_with("not_planned")));
    }

    #[test]
    fn an_enrolment_planned_suspended_or_starting_later_is_expected_not_active() {
        let later = Enrolment {
            enroltimestart: NaiveDate::from_ymd_opt(2027, 1, 25),
            ..e("a", "C", "student", &[])
        };
        let suspended = Enrolment {
            enrolstatus: Some(1),
            ..e("b", "C", "student", &[])
        };
        let pp = plan(&[
            later.clone(),
            suspended.clone(),
            Enrolment {
                username: "c".into(),
                ..later
            },
            Enrolment {
                username: "d".into(),
                ..suspended
            },
        ]);
        let now: MoodleNow = [(
            "C".to_string(),
            Some(CourseNow {
                id: 2,
                active: [
                    ("c".to_string(), user(&["student"], &[])),
                    ("d".to_string(), user(&["student"], &[])),
                ]
                .into(),
                inactive: [
                    ("a".to_string(), user(&["student"], &[])),
                    ("b".to_string(), user(&["student"], &[])),
                ]
                .into(),
                ..Default::default()
            }),
        )]
        .into();
        assert_eq!(
            lines(&compare(
                &pp,
                &now,
                None,
                (Scope::Plan, &None, &Kept::new()),
                day()
            )),
            [
                "active;C;c;student;not active;active",
                "active;C;d;student;not active;active",
            ]
        );
        // On its first day, the later one is expected active.
        let start = NaiveDate::from_ymd_opt(2027, 1, 25).unwrap();
        assert_eq!(
            lines(&compare(
                &pp,
                &now,
                None,
                (Scope::Plan, &None, &Kept::new()),
                start
            )),
            [
                "suspended;C;a;student;active;not active",
                "active;C;d;student;not active;active",
            ]
        );
    }

    /// Before: any active enrolment the plan did not give was `not_planned`, so a
    /// site with self enrolment or cohort sync beside never reached exit 0.
    #[test]
    fn an_enrolment_somebody_else_made_is_listed_apart_unless_in_a_managed_group() {
        let pp = plan(&[e("a", "C", "student", &["TD1"])]);
        let now: MoodleNow = [(
            "C".to_string(),
            Some(CourseNow {
                id: 2,
                active: [
                    ("a".to_string(), user(&["student"], &["TD1"])),
                    ("self".to_string(), user(&["student"], &[])),
                    ("cohort".to_string(), user(&["student"], &["Other"])),
                    ("in-td1".to_string(), user(&["student"], &["TD1"])),
                    ("ours".to_string(), user(&["student"], &[])),
                ]
                .into(),
                ..Default::default()
            }),
        )]
        .into();
        let made: Made = Some(
            [
                crate::model::UserCourse::new("a", "C"),
                crate::model::UserCourse::new("ours", "C"),
            ]
            .into(),
        );
        let diffs = compare(&pp, &now, None, (Scope::Plan, &made, &Kept::new()), day());
        assert_eq!(
            lines(&diffs),
            [
                "other_enrolment;C;cohort;student;;Other",
                "not_planned;C;in-td1;student;;TD1",
                "not_planned;C;ours;student;;",
                "other_enrolment;C;self;student;;",
            ]
        );
        let counted = per_course(&pp, &now, &diffs);
        assert_eq!(
            counted["C"].differences, 2,
            "the others are not differences"
        );
    }

    #[test]
    fn an_enrolment_kept_for_the_turnover_is_listed_not_a_difference() {
        let pp = plan(&[e("a", "C", "student", &[])]);
        let now: MoodleNow = [(
            "C".to_string(),
            Some(CourseNow {
                id: 2,
                active: [
                    ("a".to_string(), user(&["student"], &[])),
                    ("last".to_string(), user(&["student"], &[])),
                ]
                .into(),
                ..Default::default()
            }),
        )]
        .into();
        let key = crate::model::UserCourse::new("last", "C");
        let made: Made = Some([key.clone()].into());
        let diffs = compare(&pp, &now, None, (Scope::Plan, &made, &[key].into()), day());
        assert_eq!(lines(&diffs), ["kept_for_turnover;C;last;student;;"]);
        assert_eq!(per_course(&pp, &now, &diffs)["C"].differences, 0);
    }
}
