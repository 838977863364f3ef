//! Nightly runs write only what changed. Re-importing an existing enrolment is not
//! neutral in Moodle (its start is reset, an empty period erases its end date, a
//! different role or group is added to the old ones), so against the state of what
//! Moodle holds after the files written so far, this computes: new enrolments,
//! suspensions of vanished ones (held back where too many at once), reactivations,
//! and the changes a person must make by hand. Pure: no I/O.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::model::Enrolment;
pub use crate::model::SuspendLimits;

/// One enrolment as Moodle holds it after the files enrolgen wrote (and the manual
/// changes an administrator marked done).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub username: String,
    pub course: String,
    pub role: String,
    /// Roles Moodle holds besides `role` (a file adds roles, never replaces one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_roles: Vec<String>,
    /// Every group Moodle holds for the user in the course, sorted.
    #[serde(default)]
    pub groups: Vec<String>,
    pub enrolperiod: Option<u32>,
    pub enrolstatus: Option<u8>,
    pub enroltimestart: Option<NaiveDate>,
    /// Suspended by a delta run because it vanished from the sources.
    #[serde(default)]
    pub suspended: bool,
    /// Kept for the turnover: of the previous academic year, its person not yet
    /// re-registered (`config::years::Turnover`); suspended once the window closes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kept: bool,
}

impl Recorded {
    fn of(e: &Enrolment) -> Recorded {
        Recorded {
            username: e.username.clone(),
            course: e.course.clone(),
            role: e.role.clone(),
            other_roles: Vec::new(),
            groups: e.groups.iter().cloned().collect(),
            enrolperiod: e.enrolperiod,
            enrolstatus: e.enrolstatus,
            enroltimestart: e.enroltimestart,
            suspended: false,
            kept: false,
        }
    }

    fn key(&self) -> Key {
        Key::new(&self.username, &self.course)
    }

    fn roles(&self) -> BTreeSet<&str> {
        std::iter::once(self.role.as_str())
            .chain(self.other_roles.iter().map(String::as_str))
            .collect()
    }

    fn describe(&self) -> String {
        let roles: Vec<&str> = self.roles().into_iter().collect();
        let mut s = format!("role {}", roles.join(" + "));
        if !self.groups.is_empty() {
            s.push_str(&format!(", group {}", self.groups.join(" + ")));
        }
        if let Some(p) = self.enrolperiod {
            s.push_str(&format!(", period {p}"));
        }
        if let Some(st) = self.enrolstatus {
            s.push_str(&format!(", status {st}"));
        }
        if let Some(d) = self.enroltimestart {
            s.push_str(&format!(", start {d}"));
        }
        s
    }

    /// The same enrolment as Moodle holds it, once the manual change that brings it
    /// to `wanted` is done (its status stays).
    fn changed_to(&self, wanted: &Recorded) -> Recorded {
        Recorded {
            suspended: self.suspended,
            kept: self.kept,
            ..wanted.clone()
        }
    }
}

/// A change to an existing enrolment that the upload file cannot make safely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualChange {
    pub username: String,
    pub course: String,
    /// What Moodle holds.
    pub was: String,
    /// What the sources want.
    pub now: String,
    /// The enrolment as the sources want it: what Moodle holds once it is done.
    pub wanted: Recorded,
}

/// Which held-back suspensions the operator accepts (`--accept-suspensions`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Accept {
    #[default]
    None,
    All,
    Courses(BTreeSet<String>),
}

impl Accept {
    pub(crate) fn covers(&self, course: &str) -> bool {
        match self {
            Accept::None => false,
            Accept::All => true,
            Accept::Courses(c) => c.contains(course),
        }
    }
}

/// A course whose suspensions were held back: not written, still pending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Held {
    pub course: String,
    /// Enrolments that would be suspended.
    pub suspensions: usize,
    /// Active enrolments of the course before the run.
    pub enrolments: usize,
    /// Which limit: the course's, or the platform's.
    pub why: String,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delta {
    /// Rows to write: new enrolments, reactivations and suspensions.
    pub rows: Vec<Enrolment>,
    pub new: usize,
    pub reactivated: usize,
    pub suspended: usize,
    /// Every change Moodle still needs by hand (recomputed each run, so one stays
    /// listed until it is marked done or the sources return to what Moodle has).
    pub manual: Vec<ManualChange>,
    /// Per course: (new, suspended).
    pub by_course: BTreeMap<String, (usize, usize)>,
    /// Courses whose suspensions were held back.
    pub held: Vec<Held>,
    /// Per course, the previous year's enrolments kept for the turnover tonight.
    pub kept: BTreeMap<String, usize>,
    /// The state to record once the rows are written, sorted.
    pub state: Vec<Recorded>,
}

type Key = crate::model::UserCourse;

/// A first night on a site that already holds enrolments: the planned enrolments
/// Moodle holds, as the state a night builds on, so that only what differs is
/// written (a row re-imports an enrolment: its start becomes the import day, its end
/// is counted again). Moodle's web services show roles, groups and whether an
/// enrolment is active now, not its dates: its period, status and start are taken
/// as planned, and one not active now is taken as suspended (the night writes its
/// reactivation). Enrolments the plan does not give are somebody else's: never
/// recorded, so never suspended.
pub fn held_in_moodle(
    current: &BTreeMap<Key, Enrolment>,
    now: &crate::model::MoodleNow,
) -> Vec<Recorded> {
    let mut out = Vec::new();
    for e in current.values() {
        let Some((user, active)) = now
            .get(&e.course)
            .and_then(Option::as_ref)
            .and_then(|c| c.user(&e.username))
        else {
            continue;
        };
        let role = if user.roles.contains(&e.role) {
            e.role.clone()
        } else {
            user.roles.iter().next().cloned().unwrap_or_default()
        };
        out.push(Recorded {
            other_roles: user.roles.iter().filter(|r| **r != role).cloned().collect(),
            role,
            groups: user.groups.iter().cloned().collect(),
            suspended: !active,
            ..Recorded::of(e)
        });
    }
    out
}

/// The state once the manual changes an administrator marked done are made: each
/// such enrolment is what was wanted then.
pub fn adopt(state: &[Recorded], done: &[ManualChange]) -> Vec<Recorded> {
    let done: BTreeMap<Key, &Recorded> = done
        .iter()
        .map(|c| (Key::new(&c.username, &c.course), &c.wanted))
        .collect();
    state
        .iter()
        .map(|r| match done.get(&r.key()) {
            Some(w) => r.changed_to(w),
            None => r.clone(),
        })
        .collect()
}

/// Forgets the enrolments of courses no longer managed (an earlier academic year's,
/// `config::years`): they stay in Moodle as they are, never suspended. Returns how
/// many each such course had, for the report: said once, the night they are dropped.
pub fn retire(state: &mut Vec<Recorded>, earlier: &BTreeSet<String>) -> BTreeMap<String, usize> {
    let mut gone: BTreeMap<String, usize> = BTreeMap::new();
    state.retain(|r| {
        let keep = !earlier.contains(&r.course);
        if !keep {
            *gone.entry(r.course.clone()).or_default() += 1;
        }
        keep
    });
    gone
}

/// The re-registration window, as a night sees it (`config::years::Turnover`).
#[derive(Debug, Clone, Copy, Default)]
pub enum Turnover<'a> {
    /// No window: every vanished enrolment is a suspension under the caps.
    #[default]
    None,
    /// The window is open: a vanished enrolment the previous year's plan gives is
    /// kept as it is.
    Open(&'a BTreeSet<Key>),
    /// The window has closed: those kept are suspended, outside the caps.
    Closed,
}

impl<'a> Turnover<'a> {
    /// The window as `platform`'s night sees it, from the run's window and, while
    /// it is open, the previous year's enrolments by platform.
    pub fn of(
        run: Option<(
            crate::config::years::Turnover,
            &'a BTreeMap<String, BTreeSet<Key>>,
        )>,
        platform: &str,
    ) -> Turnover<'a> {
        static NONE: BTreeSet<Key> = BTreeSet::new();
        match run {
            None => Turnover::None,
            Some((t, last_year)) if t.open => {
                Turnover::Open(last_year.get(platform).unwrap_or(&NONE))
            }
            Some(_) => Turnover::Closed,
        }
    }
}

/// Compares the current plan with what Moodle holds after earlier runs.
pub fn delta(
    previous: &[Recorded],
    current: &BTreeMap<Key, Enrolment>,
    limits: &SuspendLimits,
    accept: &Accept,
) -> Delta {
    delta_turning(previous, current, (limits, accept), Turnover::None)
}

/// `delta`, in a year that turns over.
pub fn delta_turning(
    previous: &[Recorded],
    current: &BTreeMap<Key, Enrolment>,
    (limits, accept): (&SuspendLimits, &Accept),
    turnover: Turnover<'_>,
) -> Delta {
    let prev: BTreeMap<Key, &Recorded> = previous.iter().map(|r| (r.key(), r)).collect();
    let mut d = Delta::default();
    let mut state: BTreeMap<Key, Recorded> = BTreeMap::new();
    for (key, e) in current {
        let now = Recorded::of(e);
        let in_moodle = match prev.get(key) {
            None => {
                d.rows.push(e.clone());
                d.new += 1;
                d.by_course.entry(e.course.clone()).or_default().0 += 1;
                now.clone()
            }
            Some(p) if p.suspended => {
                // The row reactivates it with tonight's role, groups and period;
                // Moodle keeps the roles and groups it had: those not wanted any
                // more become manual changes.
                d.rows.push(Enrolment {
                    enrolstatus: Some(0),
                    ..e.clone()
                });
                d.reactivated += 1;
                let mut groups: BTreeSet<String> = p.groups.iter().cloned().collect();
                groups.extend(e.groups.iter().cloned());
                Recorded {
                    other_roles: p
                        .roles()
                        .into_iter()
                        .filter(|r| *r != e.role)
                        .map(str::to_string)
                        .collect(),
                    groups: groups.into_iter().collect(),
                    ..now.clone()
                }
            }
            Some(p) => Recorded {
                suspended: false,
                kept: false,
                ..(*p).clone()
            },
        };
        if in_moodle != now {
            d.manual.push(ManualChange {
                username: e.username.clone(),
                course: e.course.clone(),
                was: in_moodle.describe(),
                now: now.describe(),
                wanted: now,
            });
        }
        state.insert(key.clone(), in_moodle);
    }
    let prev = turn_over(prev, current, turnover, &mut d, &mut state);
    suspend_vanished(&prev, current, limits, accept, &mut d, &mut state);
    d.rows
        .sort_by(|a, b| (&a.username, &a.course).cmp(&(&b.username, &b.course)));
    d.state = state.into_values().collect();
    d
}

/// The turnover's part of the vanished enrolments: while the window is open, those
/// the previous year's plan gives are kept (recorded as they are, marked); once it
/// has closed, those still kept are suspended, as planned (the caps guard the rest).
/// Returns the enrolments left for `suspend_vanished`.
fn turn_over<'a>(
    prev: BTreeMap<Key, &'a Recorded>,
    current: &BTreeMap<Key, Enrolment>,
    turnover: Turnover<'_>,
    d: &mut Delta,
    state: &mut BTreeMap<Key, Recorded>,
) -> BTreeMap<Key, &'a Recorded> {
    let mut rest = BTreeMap::new();
    for (key, p) in prev {
        let vanished = !current.contains_key(&key) && !p.suspended;
        match turnover {
            Turnover::Open(last_year) if vanished && (p.kept || last_year.contains(&key)) => {
                *d.kept.entry(p.course.clone()).or_default() += 1;
                state.insert(
                    key,
                    Recorded {
                        kept: true,
                        ..p.clone()
                    },
                );
            }
            Turnover::Closed | Turnover::None if vanished && p.kept => {
                d.rows.push(suspension(p));
                d.suspended += 1;
                d.by_course.entry(p.course.clone()).or_default().1 += 1;
                state.insert(
                    key,
                    Recorded {
                        suspended: true,
                        kept: false,
                        ..p.clone()
                    },
                );
            }
            _ => {
                rest.insert(key, p);
            }
        }
    }
    rest
}

/// The row that suspends `p`: the same role and period as before, so that it only
/// changes the status (Moodle still sets the start to the import day).
fn suspension(p: &Recorded) -> Enrolment {
    Enrolment {
        username: p.username.clone(),
        course: p.course.clone(),
        role: p.role.clone(),
        groups: Default::default(),
        enrolperiod: p.enrolperiod,
        enrolstatus: Some(1),
        enroltimestart: p.enroltimestart,
        rules: Default::default(),
        cohorts: Default::default(),
    }
}

/// Suspension rows for the enrolments that vanished, except in courses over the
/// limits, whose suspensions are held back (recorded as they were, so the next run
/// finds them again).
fn suspend_vanished(
    prev: &BTreeMap<Key, &Recorded>,
    current: &BTreeMap<Key, Enrolment>,
    limits: &SuspendLimits,
    accept: &Accept,
    d: &mut Delta,
    state: &mut BTreeMap<Key, Recorded>,
) {
    let mut before: BTreeMap<&str, usize> = BTreeMap::new();
    let mut gone: BTreeMap<&str, Vec<&Recorded>> = BTreeMap::new();
    for (key, p) in prev {
        if !p.suspended {
            *before.entry(p.course.as_str()).or_default() += 1;
        }
        if current.contains_key(key) {
            continue;
        }
        if p.suspended {
            state.insert(key.clone(), (*p).clone());
        } else {
            gone.entry(p.course.as_str()).or_default().push(p);
        }
    }
    let over =
        |n: usize, total: usize, ratio: f64| n > limits.count && n as f64 > ratio * total as f64;
    let platform_total: usize = before.values().sum();
    let platform_gone: usize = gone.values().map(Vec::len).sum();
    let platform_over = over(platform_gone, platform_total, limits.platform_ratio);
    for (course, list) in gone {
        let (n, total) = (
            list.len(),
            before.get(course).copied().unwrap_or(list.len()),
        );
        let why = hold_reason(
            n,
            total,
            limits,
            platform_over.then_some((platform_gone, platform_total)),
        );
        if let Some(why) = why.filter(|_| !accept.covers(course)) {
            d.held.push(Held {
                course: course.to_string(),
                suspensions: n,
                enrolments: total,
                why,
            });
            for p in list {
                state.insert(p.key(), p.clone());
            }
            continue;
        }
        for p in list {
            d.rows.push(suspension(p));
            d.suspended += 1;
            d.by_course.entry(p.course.clone()).or_default().1 += 1;
            state.insert(
                p.key(),
                Recorded {
                    suspended: true,
                    ..p.clone()
                },
            );
        }
    }
}

/// More than `limits.count` and more than `ratio` of `total`.
fn over(limits: &SuspendLimits, n: usize, total: usize, ratio: f64) -> bool {
    n > limits.count && n as f64 > ratio * total as f64
}

/// Why a course's `n` suspensions (of `total`) are held back, if they are: its own
/// limit, or the platform's (`platform`: all suspensions and enrolments, when over).
pub(crate) fn hold_reason(
    n: usize,
    total: usize,
    limits: &SuspendLimits,
    platform: Option<(usize, usize)>,
) -> Option<String> {
    if over(limits, n, total, limits.ratio) {
        Some(format!(
            "{n} of {total} enrolments ({:.0}%), above max_suspend_ratio {:.0}% and max_suspend_count {}",
            100.0 * n as f64 / total as f64,
            limits.ratio * 100.0,
            limits.count
        ))
    } else if let Some((platform_gone, platform_total)) = platform {
        Some(format!(
            "{n} here, {platform_gone} of the platform's {platform_total} enrolments in all ({:.0}%), above max_suspend_platform_ratio {:.0}%",
            100.0 * platform_gone as f64 / platform_total.max(1) as f64,
            limits.platform_ratio * 100.0
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(user: &str, course: &str, role: &str) -> Enrolment {
        Enrolment {
            username: user.into(),
            course: course.into(),
            role: role.into(),
            groups: Default::default(),
            enrolperiod: Some(60),
            enrolstatus: None,
            enroltimestart: None,
            rules: Default::default(),
            cohorts: Default::default(),
        }
    }

    const L: SuspendLimits = SuspendLimits {
        ratio: 0.1,
        count: 3,
        platform_ratio: 0.05,
    };

    fn plan(es: &[Enrolment]) -> BTreeMap<Key, Enrolment> {
        es.iter().map(|e| (e.key(), e.clone())).collect()
    }

    #[test]
    fn an_earlier_years_course_is_dropped_not_suspended() {
        let first = [
            e("amy", "ANAT-2025", "student"),
            e("bob", "ANAT-2025", "student"),
            e("amy", "PHYS", "student"),
        ];
        let mut state = delta(&[], &plan(&first), &L, &Accept::None).state;
        let earlier: BTreeSet<String> = ["ANAT-2025".to_string()].into();
        let gone = retire(&mut state, &earlier);
        assert_eq!(gone, BTreeMap::from([("ANAT-2025".to_string(), 2)]));
        let second = [
            e("amy", "ANAT-2026", "student"),
            e("amy", "PHYS", "student"),
        ];
        let d = delta(&state, &plan(&second), &L, &Accept::None);
        assert_eq!(d.suspended, 0);
        assert!(d.held.is_empty());
        assert!(d.state.iter().all(|r| r.course != "ANAT-2025"));
        assert_eq!(d.new, 1);
    }

    #[test]
    fn first_run_writes_everything() {
        let cur = plan(&[e("a", "C", "student"), e("b", "C", "student")]);
        let d = delta(&[], &cur, &L, &Accept::None);
        assert_eq!((d.new, d.suspended, d.rows.len()), (2, 0, 2));
        assert_eq!(d.state.len(), 2);
    }

    #[test]
    fn second_run_writes_only_the_new_and_suspends_the_vanished() {
        let first: Vec<_> = (0..20)
            .map(|i| e(&format!("u{i:02}"), "C", "student"))
            .collect();
        let state = delta(&[], &plan(&first), &L, &Accept::None).state;
        let mut second = first.clone();
        second.remove(3);
        second.push(e("new", "C", "student"));
        let d = delta(&state, &plan(&second), &L, &Accept::None);
        assert_eq!((d.new, d.suspended), (1, 1));
        let rows: Vec<_> = d
            .rows
            .iter()
            .map(|r| (r.username.as_str(), r.enrolstatus, r.enrolperiod))
            .collect();
        assert_eq!(rows, [("new", None, Some(60)), ("u03", Some(1), Some(60))]);
        assert!(d.state.iter().any(|r| r.username == "u03" && r.suspended));
        // Third run, nothing changed: nothing to write, u03 not suspended again.
        let d3 = delta(&d.state, &plan(&second), &L, &Accept::None);
        assert!(d3.rows.is_empty() && d3.manual.is_empty());
        // u03 comes back: reactivated.
        let d4 = delta(&d3.state, &plan(&first), &L, &Accept::None);
        assert_eq!(d4.reactivated, 1);
        assert_eq!(
            d4.rows
                .iter()
                .find(|r| r.username == "u03")
                .unwrap()
                .enrolstatus,
            Some(0)
        );
    }

    #[test]
    fn an_emptied_course_is_held_back_and_stays_pending() {
        let first: Vec<_> = (0..20)
            .map(|i| e(&format!("u{i:02}"), "C", "student"))
            .collect();
        let state = delta(&[], &plan(&first), &L, &Accept::None).state;
        let d = delta(&state, &plan(&[]), &L, &Accept::None);
        assert!(d.rows.is_empty(), "nothing written for C");
        assert_eq!(
            d.held,
            [Held {
                course: "C".into(),
                suspensions: 20,
                enrolments: 20,
                why: "20 of 20 enrolments (100%), above max_suspend_ratio 10% and max_suspend_count 3".into()
            }]
        );
        // Still pending: recorded active, so the next run holds them again.
        assert_eq!(d.state, state);
        // Accepted by name, they are written.
        let accept = Accept::Courses(["C".to_string()].into());
        let d = delta(&state, &plan(&[]), &L, &accept);
        assert_eq!((d.suspended, d.held.len()), (20, 0));
        // Two of twenty (10%) is not above 10%.
        let d = delta(&state, &plan(&first[2..]), &L, &Accept::None);
        assert!(d.held.is_empty());
    }

    #[test]
    fn a_small_course_may_lose_a_few_but_not_most() {
        let seven: Vec<_> = (0..7)
            .map(|i| e(&format!("s{i}"), "OPT", "student"))
            .collect();
        let state = delta(&[], &plan(&seven), &L, &Accept::None).state;
        // 1 of 7 (14%): within max_suspend_count.
        let d = delta(&state, &plan(&seven[1..]), &L, &Accept::None);
        assert_eq!((d.suspended, d.held.len()), (1, 0));
        // 5 of 7: held back, while a new enrolment elsewhere is written.
        let mut cur = seven[5..].to_vec();
        cur.push(e("n", "OTHER", "student"));
        let d = delta(&state, &plan(&cur), &L, &Accept::None);
        assert_eq!((d.suspended, d.new), (0, 1));
        assert_eq!(d.held[0].course, "OPT");
        assert_eq!(d.rows.len(), 1);
    }

    #[test]
    fn the_platform_cap_holds_back_many_small_losses() {
        // 10 courses of 10; 3 leave each (30 of 100): every course within its own
        // limit (3 <= count), the platform over 5%.
        let all: Vec<_> = (0..100)
            .map(|i| e(&format!("u{i:03}"), &format!("C{}", i / 10), "student"))
            .collect();
        let state = delta(&[], &plan(&all), &L, &Accept::None).state;
        let cur: Vec<_> = all
            .iter()
            .filter(|x| !x.username.ends_with(['0', '1', '2']))
            .cloned()
            .collect();
        let d = delta(&state, &plan(&cur), &L, &Accept::None);
        assert_eq!(d.suspended, 0);
        assert_eq!(d.held.len(), 10);
        assert!(
            d.held[0]
                .why
                .contains("30 of the platform's 100 enrolments"),
            "{}",
            d.held[0].why
        );
        assert_eq!(delta(&state, &plan(&cur), &L, &Accept::All).suspended, 30);
    }

    #[test]
    fn role_change_is_manual_not_written_and_stays_pending_until_done() {
        let state = delta(&[], &plan(&[e("a", "C", "student")]), &L, &Accept::None).state;
        let cur = plan(&[e("a", "C", "editingteacher")]);
        let d = delta(&state, &cur, &L, &Accept::None);
        assert!(d.rows.is_empty());
        assert_eq!(d.manual.len(), 1);
        let m = &d.manual[0];
        assert_eq!(
            (
                m.username.as_str(),
                m.course.as_str(),
                m.was.as_str(),
                m.now.as_str()
            ),
            (
                "a",
                "C",
                "role student, period 60",
                "role editingteacher, period 60"
            )
        );
        // The state keeps what Moodle has: the next run lists it again.
        assert_eq!(d.state, state);
        assert_eq!(delta(&d.state, &cur, &L, &Accept::None).manual, d.manual);
        // Marked done: Moodle has what was wanted, nothing left.
        let done = adopt(&d.state, &d.manual);
        assert!(delta(&done, &cur, &L, &Accept::None).manual.is_empty());
        // The sources come back to what Moodle has: nothing left either.
        assert!(delta(
            &d.state,
            &plan(&[e("a", "C", "student")]),
            &L,
            &Accept::None
        )
        .manual
        .is_empty());
    }

    fn in_group(user: &str, role: &str, group: &str) -> Enrolment {
        Enrolment {
            groups: [group.to_string()].into_iter().collect(),
            ..e(user, "C", role)
        }
    }

    #[test]
    fn coming_back_in_another_group_writes_the_new_group_and_lists_the_old_one() {
        let s1 = delta(
            &[],
            &plan(&[in_group("a", "student", "G1")]),
            &L,
            &Accept::None,
        )
        .state;
        let s2 = delta(&s1, &plan(&[]), &L, &Accept::None).state;
        assert!(s2[0].suspended);
        let d = delta(
            &s2,
            &plan(&[in_group("a", "student", "G2")]),
            &L,
            &Accept::None,
        );
        assert_eq!(d.reactivated, 1);
        let row = &d.rows[0];
        assert_eq!(
            (
                row.enrolstatus,
                row.groups.iter().map(String::as_str).collect::<Vec<_>>()
            ),
            (Some(0), vec!["G2"])
        );
        assert_eq!(d.manual.len(), 1);
        assert_eq!(
            (d.manual[0].was.as_str(), d.manual[0].now.as_str()),
            (
                "role student, group G1 + G2, period 60",
                "role student, group G2, period 60"
            )
        );
        // Moodle holds both groups: so does the state.
        assert_eq!(d.state[0].groups, ["G1", "G2"]);
        assert!(!d.state[0].suspended);
    }

    #[test]
    fn coming_back_with_another_role_lists_the_old_role() {
        let s1 = delta(&[], &plan(&[e("a", "C", "student")]), &L, &Accept::None).state;
        let s2 = delta(&s1, &plan(&[]), &L, &Accept::None).state;
        let d = delta(&s2, &plan(&[e("a", "C", "teacher")]), &L, &Accept::None);
        assert_eq!(d.rows[0].role, "teacher");
        assert_eq!(d.state[0].other_roles, ["student"]);
        assert_eq!(d.manual[0].was, "role student + teacher, period 60");
        // Coming back as before: nothing by hand.
        let d = delta(&s2, &plan(&[e("a", "C", "student")]), &L, &Accept::None);
        assert!(d.manual.is_empty());
    }

    /// Before: a first night wrote every enrolment, and importing it reset the
    /// start of every one Moodle already held.
    #[test]
    fn a_first_night_on_a_populated_site_writes_only_what_differs() {
        use crate::model::{CourseNow, EnrolledUser};
        let grouped = |u: &str| Enrolment {
            groups: ["G1".to_string()].into_iter().collect(),
            ..e(u, "C", "student")
        };
        let cur = plan(&[
            grouped("held"),
            grouped("missing-group"),
            e("new", "C", "student"),
            e("suspended", "C", "student"),
        ]);
        let user = |groups: &[&str]| EnrolledUser {
            id: Some(1),
            roles: ["student".to_string()].into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        };
        let now: crate::model::MoodleNow = [(
            "C".to_string(),
            Some(CourseNow {
                id: 2,
                active: [
                    ("held".to_string(), user(&["G1"])),
                    ("missing-group".to_string(), user(&[])),
                    ("others".to_string(), user(&[])),
                ]
                .into(),
                inactive: [("suspended".to_string(), user(&[]))].into(),
                ..Default::default()
            }),
        )]
        .into();
        let seed = held_in_moodle(&cur, &now);
        assert_eq!(seed.len(), 3, "the planned ones Moodle holds, not others'");
        let d = delta(&seed, &cur, &L, &Accept::None);
        let rows: Vec<(&str, Option<u8>)> = d
            .rows
            .iter()
            .map(|r| (r.username.as_str(), r.enrolstatus))
            .collect();
        assert_eq!(rows, [("new", None), ("suspended", Some(0))]);
        assert_eq!(
            d.manual.len(),
            1,
            "the missing membership, by hand: {:?}",
            d.manual
        );
        assert_eq!(d.manual[0].username, "missing-group");
        assert_eq!(d.suspended, 0, "nobody's enrolment suspended");
    }
}
