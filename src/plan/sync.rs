//! The web-service channel's core: from the plan, what Moodle holds and what
//! enrolgen did before (its state), the operations that bring Moodle to the plan.
//! Pure: no I/O, no clock; times are computed from the as-of day in the site's zone.
//!
//! What it changes, and what it never touches:
//! - people planned and not enrolled are enrolled (manual method) with the planned
//!   role and dates; suspended ones are reactivated with the dates enrolgen set
//!   (one inactive by those dates, not started yet or ended, is left as it is);
//!   when a rule's dates change, enrolgen's enrolments get the new ones;
//! - in managed groups (a name a course's group template produces, that the plan
//!   gives or enrolgen filled before), memberships are kept exact; other groups are
//!   never touched;
//! - a role among the platform's roles that enrolgen gave and the plan no longer
//!   gives is removed; the planned role is added;
//! - what enrolgen enrolled and the plan no longer gives is suspended (never
//!   unenrolled), with its dates, under the suspension caps, and so is what a rule
//!   plans suspended (`enrolstatus: 1`); what others enrolled is never changed.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, TimeZone};
use serde::{Deserialize, Serialize};

use crate::model::{CourseNow, Enrolment, MoodleNow, SuspendLimits};
use crate::plan::delta::{hold_reason, Accept, Held, Turnover};
use crate::plan::managed::ManagedGroups;
use crate::template::Template;

/// One enrolment enrolgen made, as Moodle confirmed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Made {
    pub username: String,
    pub course: String,
    /// The roles enrolgen gave (and so may take back).
    pub roles: BTreeSet<String>,
    /// Unix seconds, as sent; 0 for none.
    pub timestart: i64,
    pub timeend: i64,
    pub suspended: bool,
    /// Whether enrolgen made the enrolment itself (and so may suspend it), or only
    /// gave a role in somebody else's.
    #[serde(default = "yes")]
    pub enrolled: bool,
    /// While pending: the journal of the run that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<String>,
    /// While pending: the operation that was sent (a state written before this
    /// field was kept took every pending enrolment for a new one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<Why>,
}

fn yes() -> bool {
    true
}

/// What enrolgen did on a platform through its web services.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// Format, platform, site, as-of day of the last run, its journal.
    #[serde(flatten)]
    pub header: crate::model::StateHeader,
    /// Sorted by (username, course).
    pub enrolments: Vec<Made>,
    /// Per course, the groups enrolgen created or filled: managed from then on.
    pub groups: BTreeMap<String, BTreeSet<String>>,
    /// Enrolments sent whose answer never came (a killed run): adopted when
    /// Moodle holds them, forgotten otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Made>,
    /// Enrolments kept for the turnover (`delta::Turnover`): of the previous
    /// academic year, their person not re-registered yet.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub kept: BTreeSet<crate::model::UserCourse>,
}

impl SyncState {
    pub fn made(&self) -> BTreeMap<crate::model::UserCourse, &Made> {
        self.enrolments
            .iter()
            .map(|m| (crate::model::UserCourse::new(&m.username, &m.course), m))
            .collect()
    }

    /// Forgets what enrolgen made in courses no longer managed (an earlier academic
    /// year's, `config::years`): left in Moodle as they are, never suspended, their
    /// groups no longer taken back. Returns the enrolments each such course had.
    pub fn retire(&mut self, earlier: &BTreeSet<String>) -> BTreeMap<String, usize> {
        let mut gone: BTreeMap<String, usize> = BTreeMap::new();
        self.enrolments.retain(|m| {
            let keep = !earlier.contains(&m.course);
            if !keep {
                *gone.entry(m.course.clone()).or_default() += 1;
            }
            keep
        });
        self.pending.retain(|m| !earlier.contains(&m.course));
        self.kept.retain(|k| !earlier.contains(&k.course));
        self.groups.retain(|c, _| !earlier.contains(c));
        gone
    }

    /// Settles the enrolments a stopped run sent without an answer. One is taken in
    /// (adopted) only where what Moodle shows at `moment` (Unix seconds, when it
    /// was read) proves its effect; the others are forgotten, so that the state
    /// keeps what Moodle was known to hold and the run sends them again. Returns
    /// both, for the journal: (adopted, not seen).
    pub fn settle(&mut self, now: &MoodleNow, moment: i64) -> (Vec<Made>, Vec<Made>) {
        let (mut adopted, mut lost) = (Vec::new(), Vec::new());
        for p in std::mem::take(&mut self.pending) {
            let held = now
                .get(&p.course)
                .and_then(Option::as_ref)
                .and_then(|c| c.user(&p.username))
                .map(|(_, active)| active);
            if shows_effect(&p, held, moment) {
                adopted.push(p.clone());
                self.record(Made {
                    journal: None,
                    sent: None,
                    ..p
                });
            } else {
                lost.push(p);
            }
        }
        (adopted, lost)
    }

    /// The state with its enrolments in order (a file edited by hand may not be).
    pub fn sorted(mut self) -> SyncState {
        self.enrolments
            .sort_by(|a, b| (&a.username, &a.course).cmp(&(&b.username, &b.course)));
        self
    }

    /// Forgets these pending enrolments (Moodle answered for them).
    pub fn drop_pending<'a>(&mut self, answered: impl IntoIterator<Item = &'a Made>) {
        let keys: BTreeSet<(&str, &str)> = answered
            .into_iter()
            .map(|m| (m.username.as_str(), m.course.as_str()))
            .collect();
        if !keys.is_empty() {
            self.pending
                .retain(|p| !keys.contains(&(p.username.as_str(), p.course.as_str())));
        }
    }

    /// Where an enrolment is (`Ok`) or would go (`Err`): they are kept sorted.
    fn position(&self, username: &str, course: &str) -> Result<usize, usize> {
        self.enrolments
            .binary_search_by(|x| (x.username.as_str(), x.course.as_str()).cmp(&(username, course)))
    }

    /// What enrolgen made for this person in this course.
    pub fn get(&self, username: &str, course: &str) -> Option<&Made> {
        self.position(username, course)
            .ok()
            .map(|i| &self.enrolments[i])
    }

    /// Records (or replaces) an enrolment enrolgen made.
    pub fn record(&mut self, m: Made) {
        match self.position(&m.username, &m.course) {
            Ok(i) => self.enrolments[i] = m,
            Err(i) => self.enrolments.insert(i, m),
        }
    }

    /// A role enrolgen gave (`add`) or took back.
    pub fn role(&mut self, username: &str, course: &str, role: &str, add: bool) {
        let found = self
            .position(username, course)
            .ok()
            .map(|i| &mut self.enrolments[i]);
        match (found, add) {
            (Some(m), true) => {
                m.roles.insert(role.to_string());
            }
            (Some(m), false) => {
                m.roles.remove(role);
            }
            (None, true) => self.record(Made {
                username: username.to_string(),
                course: course.to_string(),
                roles: [role.to_string()].into(),
                timestart: 0,
                timeend: 0,
                suspended: false,
                enrolled: false,
                journal: None,
                sent: None,
            }),
            (None, false) => {}
        }
    }
}

/// Whether Moodle shows the effect of a pending enrolment: `held` is `None` where
/// the person is not enrolled in the course, else whether the enrolment is active.
/// Moodle's answer gives no status and no dates, only "active now or not", so:
/// - a new enrolment is seen once the person is enrolled (the call that made it
///   set its status and dates in the same transaction);
/// - a reactivation or a suspension is seen only where its dates are in force at
///   `moment`: then active means reactivated, inactive means suspended; outside
///   them both look alike, and it is sent again (the same values change nothing);
/// - new dates can never be seen: they are always sent again.
fn shows_effect(p: &Made, held: Option<bool>, moment: i64) -> bool {
    let in_force = p.timestart <= moment && (p.timeend == 0 || p.timeend > moment);
    match (p.sent.unwrap_or(Why::New), held) {
        (_, None) | (Why::Dates, _) => false,
        (Why::New, Some(active)) => !in_force || active != p.suspended,
        (Why::Reactivate, Some(active)) => in_force && active,
        (Why::Suspend, Some(active)) => in_force && !active,
    }
}

/// An enrolment to send (new, reactivated, suspended, or with new dates).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EnrolOp {
    pub course: String,
    pub username: String,
    pub role: String,
    pub timestart: i64,
    pub timeend: i64,
    pub suspend: bool,
    pub why: Why,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Why {
    #[serde(rename = "enrol")]
    New,
    Reactivate,
    Suspend,
    /// The rule's dates changed (`enroltimestart`, `enrolperiod`): the same status,
    /// the new dates.
    Dates,
}

impl Why {
    pub fn name(self) -> &'static str {
        match self {
            Why::New => "enrol",
            Why::Reactivate => "reactivate",
            Why::Suspend => "suspend",
            Why::Dates => "dates",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RoleOp {
    pub course: String,
    pub username: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MemberOp {
    pub course: String,
    pub group: String,
    pub username: String,
}

/// The operations of a run, in the order they are applied.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ops {
    pub enrol: Vec<EnrolOp>,
    pub assign: Vec<RoleOp>,
    /// (course, group name).
    pub create_groups: Vec<(String, String)>,
    pub add: Vec<MemberOp>,
    pub remove: Vec<MemberOp>,
    pub unassign: Vec<RoleOp>,
    pub suspend: Vec<EnrolOp>,
    /// Planned enrolments in courses Moodle does not have.
    pub missing_courses: BTreeSet<String>,
    /// Courses whose suspensions were held back.
    pub held: Vec<Held>,
    /// Enrolments of the previous year kept for the turnover: left as they are.
    pub kept: BTreeSet<Key>,
}

impl Ops {
    pub fn is_empty(&self) -> bool {
        self.enrol.is_empty()
            && self.assign.is_empty()
            && self.create_groups.is_empty()
            && self.add.is_empty()
            && self.remove.is_empty()
            && self.unassign.is_empty()
            && self.suspend.is_empty()
    }

    /// Operations per web-service function and course, for `--dry-run` and the report.
    pub fn counts(&self) -> BTreeMap<(&'static str, String), usize> {
        let mut out: BTreeMap<(&'static str, String), usize> = BTreeMap::new();
        let mut add = |f: &'static str, c: &str| *out.entry((f, c.to_string())).or_default() += 1;
        for e in self.enrol.iter().chain(&self.suspend) {
            add("enrol_manual_enrol_users", &e.course);
        }
        for r in &self.assign {
            add("core_role_assign_roles", &r.course);
        }
        for (c, _) in &self.create_groups {
            add("core_group_create_groups", c);
        }
        for m in &self.add {
            add("core_group_add_group_members", &m.course);
        }
        for m in &self.remove {
            add("core_group_delete_group_members", &m.course);
        }
        for r in &self.unassign {
            add("core_role_unassign_roles", &r.course);
        }
        out
    }
}

/// What the operations depend on besides the plan, Moodle and the state.
pub struct Context<'a> {
    /// The platform's roles: only those may be taken back.
    pub roles: Option<&'a BTreeSet<String>>,
    /// Per course, the group templates of its rules.
    pub templates: &'a BTreeMap<String, Vec<Template>>,
    pub limits: &'a SuspendLimits,
    pub accept: &'a Accept,
    /// The as-of day and the site's time zone: a new enrolment starts at the day's
    /// start there.
    pub as_of: NaiveDate,
    pub zone: chrono_tz::Tz,
    /// Take back a platform role that the plan does not give and somebody gave by
    /// hand to a planned user (`moodle.remove_extra_roles`); otherwise only reported.
    pub remove_extra_roles: bool,
    /// The re-registration window, as tonight sees it.
    pub turnover: crate::plan::delta::Turnover<'a>,
}

impl Context<'_> {
    /// Unix seconds at the start of `day` in the site's zone.
    pub fn day_start(&self, day: NaiveDate) -> i64 {
        let midnight = day.and_time(chrono::NaiveTime::MIN);
        match self.zone.from_local_datetime(&midnight) {
            chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.timestamp(),
            // A day that starts in a gap (no zone of ours has one at midnight): UTC.
            chrono::LocalResult::None => midnight.and_utc().timestamp(),
        }
    }

    /// Whether an enrolment's dates make it active on the as-of day.
    pub fn current(&self, m: &Made) -> bool {
        let end = (m.timeend != 0).then_some(m.timeend);
        crate::model::within_dates(m.timestart, end, self.day_start(self.as_of))
    }

    /// The dates an enrolment gets: the rule's start day, or else the day enrolgen
    /// enrolled the person (`made`), or else the as-of day; and an end `enrolperiod`
    /// days of 86,400 seconds after that start (0: none), as Moodle computes it
    /// (the upload tool and manual enrolment: `timestart + enrolperiod`), so both
    /// channels give the same end across a change of summer time.
    pub fn times(&self, e: &Enrolment, made: Option<&Made>) -> (i64, i64) {
        let day = e
            .enroltimestart
            .or_else(|| made.and_then(|m| self.day_of(m.timestart)))
            .unwrap_or(self.as_of);
        let start = self.day_start(day);
        let end = e.enrolperiod.map_or(0, |p| start + i64::from(p) * 86_400);
        (start, end)
    }

    /// The day a start enrolgen set falls on, in the site's zone.
    fn day_of(&self, timestamp: i64) -> Option<NaiveDate> {
        self.zone
            .timestamp_opt(timestamp, 0)
            .single()
            .map(|t| t.date_naive())
    }
}

type Key = crate::model::UserCourse;

pub fn operations(
    planned: &BTreeMap<Key, Enrolment>,
    now: &MoodleNow,
    state: &SyncState,
    ctx: &Context<'_>,
) -> Ops {
    let made = state.made();
    let mut ops = Ops::default();
    let mut creating: BTreeSet<(String, String)> = BTreeSet::new();
    // The groups the plan gives, per course.
    let mut planned_groups: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in planned.values() {
        planned_groups
            .entry(e.course.as_str())
            .or_default()
            .extend(e.groups.iter().map(String::as_str));
    }
    for (Key { username, course }, e) in planned {
        let Some(Some(c)) = now.get(course) else {
            ops.missing_courses.insert(course.clone());
            continue;
        };
        let given = made.get(&Key::new(username, course)).copied();
        enrolment_ops(e, c, given, ctx, &mut ops);
        group_ops(e, c, &mut creating, &mut ops);
    }
    remove_unplanned_members(planned, now, state, ctx, &planned_groups, &mut ops);
    let held = suspend_unplanned(planned, now, state, ctx, &mut ops);
    // Held back, they keep their groups too until the suspensions are accepted.
    ops.remove
        .retain(|m| !held.contains(&Key::new(&m.username, &m.course)));
    ops.enrol.sort();
    ops.assign.sort();
    ops.create_groups.sort();
    ops.add.sort();
    ops.remove.sort();
    ops.unassign.sort();
    ops.suspend.sort();
    ops
}

/// One planned enrolment's status, dates and roles: what to send.
fn enrolment_ops(
    e: &Enrolment,
    c: &CourseNow,
    given: Option<&Made>,
    ctx: &Context<'_>,
    ops: &mut Ops,
) {
    let (username, course) = (&e.username, &e.course);
    // Enrolments enrolgen made itself (not only a role in somebody else's).
    let mine = given.filter(|m| m.enrolled);
    let suspend = e.enrolstatus == Some(1);
    // An enrolment to send: with the dates enrolgen set, or new ones.
    // The dates the plan gives: those enrolgen set, unless the rule's changed.
    let (timestart, timeend) = ctx.times(e, mine);
    let enrol = |why: Why, suspend: bool| EnrolOp {
        course: course.clone(),
        username: username.clone(),
        role: e.role.clone(),
        timestart,
        timeend,
        suspend,
        why,
    };
    match c.user(username) {
        None => {
            // Not enrolled (any more): enrolgen's own, unenrolled since, is sent
            // again with the dates enrolgen set; otherwise a new enrolment.
            let why = if mine.is_some() {
                Why::Reactivate
            } else {
                Why::New
            };
            ops.enrol.push(enrol(why, suspend));
        }
        Some((u, active)) => {
            // Inactive in Moodle: reactivate what enrolgen suspended, what
            // somebody suspended since, or somebody else's suspended enrolment.
            // An enrolment of enrolgen's inactive by its dates (not started
            // yet, or ended) stays as it is: sending it again changes nothing.
            let reactivate =
                !active && !suspend && mine.is_none_or(|m| m.suspended || ctx.current(m));
            if reactivate {
                ops.enrol.push(enrol(Why::Reactivate, false));
            }
            // Planned suspended (enrolstatus 1) and active: enrolgen's own is
            // suspended with its dates; somebody else's is left as it is.
            let suspending = active && suspend && mine.is_some_and(|m| !m.suspended);
            if suspending {
                ops.suspend.push(enrol(Why::Suspend, true));
            }
            // The rule's dates changed: enrolgen's own gets them, status kept.
            let moved = mine.is_some_and(|m| (m.timestart, m.timeend) != (timestart, timeend));
            if moved && !reactivate && !suspending {
                ops.enrol.push(enrol(Why::Dates, suspend));
            }
            if !u.roles.contains(&e.role) && !reactivate {
                ops.assign.push(RoleOp {
                    course: course.clone(),
                    username: username.clone(),
                    role: e.role.clone(),
                });
            }
            for r in &u.roles {
                let ours = given.is_some_and(|m| m.roles.contains(r));
                let platforms = ctx.roles.is_none_or(|rs| rs.contains(r));
                // A platform role the plan does not give, raised by hand: taken
                // back only when the platform says so (remove_extra_roles).
                let raised = ctx.remove_extra_roles && ctx.roles.is_some() && !ours;
                if *r != e.role && (ours || raised) && platforms {
                    ops.unassign.push(RoleOp {
                        course: course.clone(),
                        username: username.clone(),
                        role: r.clone(),
                    });
                }
            }
        }
    }
}

/// One planned enrolment's groups: the memberships to add, and the groups to create
/// first (once per course and name).
fn group_ops(
    e: &Enrolment,
    c: &CourseNow,
    creating: &mut BTreeSet<(String, String)>,
    ops: &mut Ops,
) {
    let (username, course) = (&e.username, &e.course);
    let has: BTreeSet<&str> = c
        .user(username)
        .map(|(u, _)| u.groups.iter().map(String::as_str).collect())
        .unwrap_or_default();
    for g in &e.groups {
        if has.contains(g.as_str()) {
            continue;
        }
        if !c.groups.contains_key(g) && creating.insert((course.clone(), g.clone())) {
            ops.create_groups.push((course.clone(), g.clone()));
        }
        ops.add.push(MemberOp {
            course: course.clone(),
            group: g.clone(),
            username: username.clone(),
        });
    }
}

/// Memberships in managed groups that the plan does not give.
fn remove_unplanned_members(
    planned: &BTreeMap<Key, Enrolment>,
    now: &MoodleNow,
    state: &SyncState,
    ctx: &Context<'_>,
    planned_groups: &BTreeMap<&str, BTreeSet<&str>>,
    ops: &mut Ops,
) {
    for (course, c) in now {
        let (Some(c), Some(templates)) = (c, ctx.templates.get(course)) else {
            continue;
        };
        let planned_here = planned_groups.get(course.as_str()).into_iter().flatten();
        let managed = ManagedGroups::planned(planned_here.copied())
            .and_filled(state.groups.get(course), templates);
        for (username, u) in c.active.iter().chain(&c.inactive) {
            let wanted = planned.get(&Key::new(username, course));
            for g in &u.groups {
                if managed.contains(g) && wanted.is_none_or(|e| !e.groups.contains(g)) {
                    ops.remove.push(MemberOp {
                        course: course.clone(),
                        group: g.clone(),
                        username: username.clone(),
                    });
                }
            }
        }
    }
}

/// What enrolgen enrolled, still active in Moodle (or yet to start), that the plan
/// no longer gives:
/// suspended with the dates enrolgen set, unless a course (or the platform) would
/// lose too many at once. Returns the enrolments held back.
fn suspend_unplanned(
    planned: &BTreeMap<Key, Enrolment>,
    now: &MoodleNow,
    state: &SyncState,
    ctx: &Context<'_>,
    ops: &mut Ops,
) -> BTreeSet<Key> {
    let mut held_users = BTreeSet::new();
    let mut before: BTreeMap<&str, usize> = BTreeMap::new();
    let mut gone: BTreeMap<&str, Vec<EnrolOp>> = BTreeMap::new();
    for m in &state.enrolments {
        let Some(Some(c)) = now.get(&m.course) else {
            continue;
        };
        // Active, or not started yet (it would start): what suspending changes.
        let waiting =
            m.timestart > ctx.day_start(ctx.as_of) && c.inactive.contains_key(&m.username);
        if !m.enrolled || m.suspended || !(c.active.contains_key(&m.username) || waiting) {
            continue;
        }
        *before.entry(m.course.as_str()).or_default() += 1;
        let key = Key::new(&m.username, &m.course);
        if planned.contains_key(&key) {
            continue;
        }
        let op = EnrolOp {
            course: m.course.clone(),
            username: m.username.clone(),
            role: m.roles.iter().next().cloned().unwrap_or_default(),
            timestart: m.timestart,
            timeend: m.timeend,
            suspend: true,
            why: Why::Suspend,
        };
        // The turnover's part: kept while the window is open, then suspended as
        // planned, outside the caps (which still guard the rest).
        match ctx.turnover {
            Turnover::Open(last_year) if state.kept.contains(&key) || last_year.contains(&key) => {
                held_users.insert(key.clone());
                ops.kept.insert(key);
            }
            Turnover::Closed | Turnover::None if state.kept.contains(&key) => ops.suspend.push(op),
            _ => gone.entry(m.course.as_str()).or_default().push(op),
        }
    }
    let total: usize = before.values().sum();
    let all_gone: usize = gone.values().map(Vec::len).sum();
    let l = ctx.limits;
    let platform_over = all_gone > l.count && all_gone as f64 > l.platform_ratio * total as f64;
    for (course, list) in gone {
        let n = list.len();
        let of = before.get(course).copied().unwrap_or(n);
        let why = hold_reason(n, of, l, platform_over.then_some((all_gone, total)));
        match why.filter(|_| !ctx.accept.covers(course)) {
            Some(why) => {
                ops.held.push(Held {
                    course: course.to_string(),
                    suspensions: n,
                    enrolments: of,
                    why,
                });
                held_users.extend(list.iter().map(|e| Key::new(&e.username, &e.course)));
            }
            None => ops.suspend.extend(list),
        }
    }
    held_users
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CourseNow, EnrolledUser};

    const LIMITS: SuspendLimits = SuspendLimits {
        ratio: 0.5,
        count: 2,
        platform_ratio: 0.5,
    };

    fn e(u: &str, c: &str, role: &str, groups: &[&str]) -> (crate::model::UserCourse, Enrolment) {
        (
            crate::model::UserCourse::new(u, c),
            Enrolment {
                username: u.into(),
                course: c.into(),
                role: role.into(),
                groups: groups.iter().map(|g| g.to_string()).collect(),
                enrolperiod: Some(10),
                enrolstatus: None,
                enroltimestart: None,
                rules: vec![1],
                cohorts: vec![],
            },
        )
    }

    fn user(id: u64, roles: &[&str], groups: &[&str]) -> EnrolledUser {
        EnrolledUser {
            id: Some(id),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    /// Made five days before the as-of day, for `e`'s ten days.
    fn made(u: &str, c: &str, role: &str, suspended: bool) -> Made {
        Made {
            username: u.into(),
            course: c.into(),
            roles: [role.to_string()].into(),
            timestart: TODAY - 5 * DAY,
            timeend: TODAY + 5 * DAY,
            suspended,
            enrolled: true,
            journal: None,
            sent: None,
        }
    }

    fn run(
        planned: &[(crate::model::UserCourse, Enrolment)],
        now: &MoodleNow,
        state: &SyncState,
    ) -> Ops {
        run_with(planned, now, state, false)
    }

    /// `run`, taking back roles raised by hand when `remove_extra_roles`.
    fn run_with(
        planned: &[(crate::model::UserCourse, Enrolment)],
        now: &MoodleNow,
        state: &SyncState,
        remove_extra_roles: bool,
    ) -> Ops {
        run_accepting(planned, now, state, remove_extra_roles, &Accept::None)
    }

    /// `run` with every suspension accepted (`--accept-suspensions all`).
    fn run_with_accept(
        planned: &[(crate::model::UserCourse, Enrolment)],
        now: &MoodleNow,
        state: &SyncState,
    ) -> Ops {
        run_accepting(planned, now, state, false, &Accept::All)
    }

    fn run_accepting(
        planned: &[(crate::model::UserCourse, Enrolment)],
        now: &MoodleNow,
        state: &SyncState,
        remove_extra_roles: bool,
        accept: &Accept,
    ) -> Ops {
        run_turning(
            planned,
            now,
            state,
            (remove_extra_roles, accept),
            Turnover::None,
        )
    }

    fn run_turning(
        planned: &[(crate::model::UserCourse, Enrolment)],
        now: &MoodleNow,
        state: &SyncState,
        (remove_extra_roles, accept): (bool, &Accept),
        turnover: Turnover<'_>,
    ) -> Ops {
        let roles: BTreeSet<String> = ["student".into(), "teacher".into()].into();
        let templates: BTreeMap<String, Vec<Template>> = [(
            "C".to_string(),
            vec![Template::parse("TD {group}").unwrap()],
        )]
        .into();
        let ctx = Context {
            roles: Some(&roles),
            templates: &templates,
            limits: &LIMITS,
            accept,
            as_of: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
            zone: chrono_tz::Europe::Paris,
            remove_extra_roles,
            turnover,
        };
        operations(&planned.iter().cloned().collect(), now, state, &ctx)
    }

    fn course(
        active: &[(&str, EnrolledUser)],
        inactive: &[(&str, EnrolledUser)],
        groups: &[&str],
    ) -> MoodleNow {
        let c = CourseNow {
            id: 2,
            active: active
                .iter()
                .map(|(u, x)| (u.to_string(), x.clone()))
                .collect(),
            inactive: inactive
                .iter()
                .map(|(u, x)| (u.to_string(), x.clone()))
                .collect(),
            groups: (10u64..)
                .zip(groups)
                .map(|(i, g)| (g.to_string(), i))
                .collect(),
            role_ids: BTreeMap::new(),
        };
        [("C".to_string(), Some(c))].into()
    }

    #[test]
    fn last_years_enrolments_are_kept_in_the_window_then_suspended_outside_the_caps() {
        let names = ["a", "b", "c", "d", "e"];
        let mut state = SyncState {
            enrolments: names
                .iter()
                .map(|u| made(u, "C", "student", false))
                .collect(),
            ..SyncState::default()
        };
        let active: Vec<(&str, EnrolledUser)> = (1..)
            .zip(names)
            .map(|(i, u)| (u, user(i, &["student"], &["TD 1"])))
            .collect();
        let now = course(&active, &[], &["TD 1"]);
        let planned = [e("a", "C", "student", &["TD 1"])];
        // Four of five vanish: over the caps, held back.
        let ops = run(&planned, &now, &state);
        assert_eq!(ops.held.len(), 1);
        // In the window, the three of last year's plan are kept, groups and all; the
        // fourth (e) is no turnover: the caps still guard it (1 of 5: within them).
        let last_year: BTreeSet<crate::model::UserCourse> = ["b", "c", "d"]
            .iter()
            .map(|u| crate::model::UserCourse::new(u, "C"))
            .collect();
        let ops = run_turning(
            &planned,
            &now,
            &state,
            (false, &Accept::None),
            Turnover::Open(&last_year),
        );
        assert_eq!(ops.kept, last_year);
        assert!(ops.held.is_empty());
        assert_eq!(
            ops.suspend
                .iter()
                .map(|x| x.username.as_str())
                .collect::<Vec<_>>(),
            ["e"]
        );
        assert!(
            ops.remove.iter().all(|m| m.username == "e"),
            "{:?}",
            ops.remove
        );
        // Once it has closed, those kept are suspended as planned: no cap holds them.
        state.kept = ops.kept.clone();
        state.enrolments.retain(|m| m.username != "e");
        let ops = run_turning(
            &planned,
            &now,
            &state,
            (false, &Accept::None),
            Turnover::Closed,
        );
        assert!(ops.held.is_empty());
        assert_eq!(ops.suspend.len(), 3);
        assert!(ops.kept.is_empty());
    }

    #[test]
    fn a_retired_course_is_forgotten_and_never_suspended() {
        let mut state = SyncState {
            enrolments: vec![
                made("a", "C", "student", false),
                made("b", "C", "student", false),
            ],
            ..SyncState::default()
        };
        state.groups.insert("C".into(), ["TD 1".to_string()].into());
        let now = course(
            &[
                ("a", user(1, &["student"], &["TD 1"])),
                ("b", user(2, &["student"], &[])),
            ],
            &[],
            &["TD 1"],
        );
        // Without retiring, the course's two enrolments vanish from the plan: suspended.
        let ops = run_with_accept(&[], &now, &state);
        assert_eq!(ops.suspend.len(), 2);
        let gone = state.retire(&["C".to_string()].into());
        assert_eq!(gone, BTreeMap::from([("C".to_string(), 2)]));
        let ops = run_with_accept(&[], &now, &state);
        assert!(ops.suspend.is_empty() && ops.remove.is_empty() && ops.held.is_empty());
        assert!(state.groups.is_empty());
    }

    #[test]
    fn a_new_enrolment_starts_at_the_as_of_day_in_paris() {
        let ops = run(
            &[e("a", "C", "student", &["TD 1"])],
            &course(&[], &[], &[]),
            &SyncState::default(),
        );
        // 2026-11-24 00:00 in Paris (UTC+1) is 23:00 UTC the day before.
        assert_eq!(ops.enrol[0].timestart, 1_795_474_800);
        assert_eq!(ops.enrol[0].timeend, 1_795_474_800 + 10 * 86_400);
        assert_eq!(ops.create_groups, [("C".to_string(), "TD 1".to_string())]);
        assert_eq!(ops.add.len(), 1);
    }

    #[test]
    fn an_end_is_its_start_plus_whole_days_as_moodle_counts_across_summer_time() {
        // 2027-03-20 00:00 in Paris (UTC+1); 30 days later Paris is at UTC+2, so the
        // local midnight would be an hour earlier than Moodle's timestart + 30 × 86400.
        let templates = BTreeMap::new();
        let ctx = Context {
            roles: None,
            templates: &templates,
            limits: &LIMITS,
            accept: &Accept::None,
            as_of: NaiveDate::from_ymd_opt(2027, 3, 20).unwrap(),
            zone: chrono_tz::Europe::Paris,
            remove_extra_roles: false,
            turnover: Turnover::None,
        };
        let (_, mut x) = e("a", "C", "student", &[]);
        x.enrolperiod = Some(30);
        let (start, end) = ctx.times(&x, None);
        assert_eq!(start, 1_805_497_200);
        assert_eq!(end, start + 30 * 86_400);
        x.enrolperiod = None;
        assert_eq!(ctx.times(&x, None).1, 0);
    }

    #[test]
    fn a_role_raised_by_hand_is_taken_back_only_when_the_platform_says_so() {
        let planned = [e("a", "C", "student", &[])];
        let now = course(&[("a", user(3, &["student", "teacher"], &[]))], &[], &[]);
        let state = SyncState {
            enrolments: vec![made("a", "C", "student", false)],
            ..SyncState::default()
        };
        assert!(
            run(&planned, &now, &state).unassign.is_empty(),
            "reported only"
        );
        let ops = run_with(&planned, &now, &state, true);
        assert_eq!(
            ops.unassign,
            [RoleOp {
                course: "C".into(),
                username: "a".into(),
                role: "teacher".into()
            }]
        );
    }

    /// 2026-11-24 00:00 in Paris, the tests' as-of day.
    const TODAY: i64 = 1_795_474_800;
    const DAY: i64 = 86_400;

    /// Made on the day `timestart` begins, for `e`'s ten days.
    fn dated(u: &str, c: &str, timestart: i64) -> Made {
        Made {
            timestart,
            timeend: timestart + 10 * DAY,
            ..made(u, c, "student", false)
        }
    }

    #[test]
    fn inactive_enrolments_are_read_by_their_dates() {
        let planned = [
            e("future", "C", "student", &["TD 2"]),
            e("ended", "C", "student", &[]),
            e("byhand", "C", "student", &[]),
        ];
        // Moodle lists all three as not active: one starts in ten days (its group
        // changed since), one ended yesterday, one somebody suspended. And "gone",
        // no longer planned, would start in ten days; "old", suspended by enrolgen,
        // was put back in TD 1 by hand.
        let now = course(
            &[],
            &[
                ("future", user(3, &["student"], &["TD 1"])),
                ("ended", user(4, &["student"], &[])),
                ("byhand", user(5, &["student"], &[])),
                ("gone", user(6, &["student"], &["TD 1"])),
                ("old", user(7, &["student"], &["TD 1"])),
            ],
            &["TD 1", "TD 2"],
        );
        let state = SyncState {
            enrolments: vec![
                dated("future", "C", TODAY + 10 * DAY),
                dated("ended", "C", TODAY - 11 * DAY),
                dated("byhand", "C", TODAY - 5 * DAY),
                dated("gone", "C", TODAY + 10 * DAY),
                Made {
                    suspended: true,
                    ..dated("old", "C", TODAY - 60 * DAY)
                },
            ],
            // enrolgen filled TD 1 before: it is managed.
            groups: [("C".to_string(), ["TD 1".to_string()].into())].into(),
            ..Default::default()
        };
        let ops = run(&planned, &now, &state);
        // The one suspended by hand comes back with its dates; the others are not
        // sent again.
        let enrol: Vec<(&str, i64, i64)> = ops
            .enrol
            .iter()
            .map(|x| (x.username.as_str(), x.timestart, x.timeend))
            .collect();
        assert_eq!(enrol, [("byhand", TODAY - 5 * DAY, TODAY + 5 * DAY)]);
        // The group change of the one yet to start is made now.
        let add: Vec<(&str, &str)> = ops
            .add
            .iter()
            .map(|m| (m.username.as_str(), m.group.as_str()))
            .collect();
        assert_eq!(add, [("future", "TD 2")]);
        let mut remove: Vec<(&str, &str)> = ops
            .remove
            .iter()
            .map(|m| (m.username.as_str(), m.group.as_str()))
            .collect();
        remove.sort();
        assert_eq!(
            remove,
            [("future", "TD 1"), ("gone", "TD 1"), ("old", "TD 1")]
        );
        // The one no longer planned is suspended before it starts.
        let suspend: Vec<&str> = ops.suspend.iter().map(|x| x.username.as_str()).collect();
        assert_eq!(suspend, ["gone"]);
    }

    #[test]
    fn a_rule_that_suspends_suspends_enrolgens_own_only() {
        let planned: Vec<_> = ["a", "b", "c"]
            .iter()
            .map(|u| {
                let (k, mut x) = e(u, "C", "student", &[]);
                x.enrolstatus = Some(1);
                (k, x)
            })
            .collect();
        // a: enrolgen's, active; b: somebody else's, active; c: not enrolled.
        let now = course(
            &[
                ("a", user(3, &["student"], &[])),
                ("b", user(4, &["student"], &[])),
            ],
            &[],
            &[],
        );
        let state = SyncState {
            enrolments: vec![dated("a", "C", TODAY - DAY)],
            ..Default::default()
        };
        let ops = run(&planned, &now, &state);
        let sent: Vec<(&str, bool, i64, Why)> = ops
            .enrol
            .iter()
            .chain(&ops.suspend)
            .map(|x| (x.username.as_str(), x.suspend, x.timestart, x.why))
            .collect();
        assert_eq!(
            sent,
            [
                ("c", true, TODAY, Why::New),
                ("a", true, TODAY - DAY, Why::Suspend)
            ]
        );
        // Suspended, it stays so: nothing more the next night.
        let now = course(
            &[("b", user(4, &["student"], &[]))],
            &[
                ("a", user(3, &["student"], &[])),
                ("c", user(5, &["student"], &[])),
            ],
            &[],
        );
        let state = SyncState {
            enrolments: vec![
                Made {
                    suspended: true,
                    ..dated("a", "C", TODAY - DAY)
                },
                Made {
                    suspended: true,
                    ..dated("c", "C", TODAY)
                },
            ],
            ..Default::default()
        };
        assert!(run(&planned, &now, &state).is_empty());
    }

    #[test]
    fn a_rule_whose_dates_change_moves_enrolgens_own_status_kept() {
        let longer = |u: &str| {
            let (k, mut x) = e(u, "C", "student", &[]);
            x.enrolperiod = Some(30);
            (k, x)
        };
        let (kl, mut later) = e("c", "C", "student", &[]);
        later.enroltimestart = NaiveDate::from_ymd_opt(2026, 12, 1);
        let (ks, mut kept) = longer("s");
        kept.enrolstatus = Some(1);
        let planned = [longer("a"), longer("b"), (kl, later), (ks, kept)];
        // a: enrolgen's, active; b: somebody else's; c: enrolgen's, starting later
        // now; s: enrolgen's, suspended by its rule.
        let now = course(
            &[
                ("a", user(3, &["student"], &[])),
                ("b", user(4, &["student"], &[])),
                ("c", user(5, &["student"], &[])),
            ],
            &[("s", user(6, &["student"], &[]))],
            &[],
        );
        let state = SyncState {
            enrolments: vec![
                made("a", "C", "student", false),
                made("c", "C", "student", false),
                made("s", "C", "student", true),
            ],
            ..Default::default()
        };
        let ops = run(&planned, &now, &state);
        let sent: Vec<(&str, Why, i64, i64, bool)> = ops
            .enrol
            .iter()
            .map(|x| {
                (
                    x.username.as_str(),
                    x.why,
                    x.timestart,
                    x.timeend,
                    x.suspend,
                )
            })
            .collect();
        let dec1 = TODAY + 7 * DAY;
        assert_eq!(
            sent,
            [
                ("a", Why::Dates, TODAY - 5 * DAY, TODAY + 25 * DAY, false),
                ("c", Why::Dates, dec1, dec1 + 10 * DAY, false),
                ("s", Why::Dates, TODAY - 5 * DAY, TODAY + 25 * DAY, true),
            ]
        );
        assert!(ops.suspend.is_empty());
    }

    #[test]
    fn the_state_is_searched_in_order_even_from_a_file_out_of_order() {
        let state = SyncState {
            enrolments: vec![
                made("b", "C", "student", false),
                made("a", "D", "student", false),
                made("a", "C", "student", true),
            ],
            ..Default::default()
        }
        .sorted();
        assert!(state.get("a", "C").is_some_and(|m| m.suspended));
        assert!(state.get("b", "C").is_some());
        assert!(state.get("b", "D").is_none());
        let mut state = state;
        state.role("b", "D", "teacher", true);
        state.role("a", "D", "teacher", true);
        let keys: Vec<(&str, &str)> = state
            .enrolments
            .iter()
            .map(|m| (m.username.as_str(), m.course.as_str()))
            .collect();
        assert_eq!(keys, [("a", "C"), ("a", "D"), ("b", "C"), ("b", "D")]);
        assert!(state
            .get("a", "D")
            .is_some_and(|m| m.roles.contains("teacher") && m.enrolled));
        assert!(state.get("b", "D").is_some_and(|m| !m.enrolled));
    }

    #[test]
    fn nothing_to_do_when_moodle_holds_the_plan() {
        let now = course(&[("a", user(3, &["student"], &["TD 1"]))], &[], &["TD 1"]);
        let state = SyncState {
            enrolments: vec![made("a", "C", "student", false)],
            ..Default::default()
        };
        assert!(run(&[e("a", "C", "student", &["TD 1"])], &now, &state).is_empty());
    }

    #[test]
    fn a_group_move_removes_the_old_managed_membership_only() {
        let now = course(
            &[
                ("a", user(3, &["student"], &["TD 1", "Projet"])),
                ("b", user(4, &["student"], &["TD 1"])),
            ],
            &[],
            &["TD 1", "TD 2", "Projet"],
        );
        let ops = run(
            &[
                e("a", "C", "student", &["TD 2"]),
                e("b", "C", "student", &["TD 1"]),
            ],
            &now,
            &SyncState::default(),
        );
        assert!(ops.create_groups.is_empty());
        assert_eq!(
            ops.add,
            [MemberOp {
                course: "C".into(),
                group: "TD 2".into(),
                username: "a".into()
            }]
        );
        assert_eq!(
            ops.remove,
            [MemberOp {
                course: "C".into(),
                group: "TD 1".into(),
                username: "a".into()
            }]
        );
    }

    #[test]
    fn roles_enrolgen_gave_are_replaced_others_kept() {
        let now = course(
            &[
                ("a", user(3, &["student", "manager"], &[])),
                ("b", user(4, &["student"], &[])),
            ],
            &[],
            &[],
        );
        let state = SyncState {
            enrolments: vec![made("a", "C", "student", false)],
            ..Default::default()
        };
        let ops = run(
            &[e("a", "C", "teacher", &[]), e("b", "C", "teacher", &[])],
            &now,
            &state,
        );
        let assigned: Vec<&str> = ops.assign.iter().map(|r| r.username.as_str()).collect();
        assert_eq!(assigned, ["a", "b"]);
        // a's student role was enrolgen's; b's was not; manager is not the platform's.
        assert_eq!(
            ops.unassign,
            [RoleOp {
                course: "C".into(),
                username: "a".into(),
                role: "student".into()
            }]
        );
    }

    #[test]
    fn only_enrolgens_enrolments_are_suspended_with_their_dates_and_reactivated() {
        let now = course(
            &[
                ("a", user(3, &["student"], &[])),
                ("x", user(5, &["student"], &[])),
            ],
            &[("b", user(4, &["student"], &[]))],
            &[],
        );
        let state = SyncState {
            enrolments: vec![
                made("a", "C", "student", false),
                made("b", "C", "student", true),
            ],
            ..Default::default()
        };
        let ops = run(&[e("b", "C", "student", &[])], &now, &state);
        assert_eq!(ops.suspend.len(), 1);
        assert_eq!(
            (
                ops.suspend[0].username.as_str(),
                ops.suspend[0].timestart,
                ops.suspend[0].timeend
            ),
            ("a", TODAY - 5 * DAY, TODAY + 5 * DAY)
        );
        assert_eq!(ops.enrol.len(), 1);
        let r = &ops.enrol[0];
        assert_eq!(
            (
                r.username.as_str(),
                r.why,
                r.timestart,
                r.timeend,
                r.suspend
            ),
            (
                "b",
                Why::Reactivate,
                TODAY - 5 * DAY,
                TODAY + 5 * DAY,
                false
            )
        );
    }

    #[test]
    fn too_many_suspensions_are_held_back() {
        let names = ["a", "b", "c", "d"];
        let users: Vec<(&str, EnrolledUser)> = names
            .iter()
            .map(|n| (*n, user(1, &["student"], &[])))
            .collect();
        let now = course(&users, &[], &[]);
        let state = SyncState {
            enrolments: names
                .iter()
                .map(|n| made(n, "C", "student", false))
                .collect(),
            ..Default::default()
        };
        let ops = run(&[], &now, &state);
        assert!(ops.suspend.is_empty());
        assert_eq!(ops.held[0].suspensions, 4);
        assert!(ops.remove.is_empty(), "held back, they keep their groups");
    }

    /// A pending enrolment of `u` that sent `why`, with `made`'s dates.
    fn pending(u: &str, why: Why, suspended: bool) -> Made {
        Made {
            journal: Some("applied-0001.csv".into()),
            sent: Some(why),
            ..made(u, "C", "student", suspended)
        }
    }

    /// What `settle` adopted and left, by username, on this Moodle at the as-of day.
    fn settled(pending: Vec<Made>, now: &MoodleNow) -> (Vec<String>, Vec<String>, SyncState) {
        let mut state = SyncState {
            pending,
            ..Default::default()
        };
        let (adopted, lost) = state.settle(now, TODAY);
        let names = |v: Vec<Made>| v.into_iter().map(|m| m.username).collect();
        (names(adopted), names(lost), state)
    }

    #[test]
    fn a_new_enrolment_sent_without_an_answer_is_adopted_when_moodle_holds_it() {
        let now = course(&[("a", user(3, &["student"], &[]))], &[], &[]);
        let (adopted, lost, state) = settled(
            vec![pending("a", Why::New, false), pending("z", Why::New, false)],
            &now,
        );
        assert_eq!((adopted, lost), (vec!["a".into()], vec!["z".into()]));
        assert!(state.pending.is_empty());
        let kept: Vec<(&str, Option<Why>)> = state
            .enrolments
            .iter()
            .map(|m| (m.username.as_str(), m.sent))
            .collect();
        assert_eq!(kept, [("a", None)], "recorded as made, not as sent");
    }

    #[test]
    fn a_suspension_moodle_rolled_back_is_not_adopted_and_is_planned_again() {
        // Before: any enrolment Moodle held adopted a suspension, and a rolled-back
        // batch left 260 cancelled students active with every later run at exit 0.
        let now = course(
            &[("rolled-back", user(3, &["student"], &[]))],
            &[("done", user(4, &["student"], &[]))],
            &[],
        );
        let before = SyncState {
            enrolments: vec![
                made("done", "C", "student", false),
                made("rolled-back", "C", "student", false),
            ],
            pending: vec![
                pending("done", Why::Suspend, true),
                pending("rolled-back", Why::Suspend, true),
            ],
            ..Default::default()
        };
        let mut state = before;
        let (adopted, lost) = state.settle(&now, TODAY);
        assert_eq!(adopted[0].username, "done");
        assert_eq!(lost[0].username, "rolled-back");
        assert!(state.get("done", "C").is_some_and(|m| m.suspended));
        assert!(state.get("rolled-back", "C").is_some_and(|m| !m.suspended));
        // Nobody plans them any more: the one still active is suspended again.
        let ops = run_with_accept(&[], &now, &state);
        let again: Vec<&str> = ops.suspend.iter().map(|x| x.username.as_str()).collect();
        assert_eq!(again, ["rolled-back"]);
    }

    #[test]
    fn a_reactivation_is_adopted_only_when_moodle_shows_it_active() {
        let now = course(
            &[("done", user(3, &["student"], &[]))],
            &[("rolled-back", user(4, &["student"], &[]))],
            &[],
        );
        let (adopted, lost, _) = settled(
            vec![
                pending("done", Why::Reactivate, false),
                pending("rolled-back", Why::Reactivate, false),
            ],
            &now,
        );
        assert_eq!(
            (adopted, lost),
            (vec!["done".into()], vec!["rolled-back".into()])
        );
    }

    #[test]
    fn outside_its_dates_a_status_cannot_be_seen_so_it_is_not_adopted() {
        // Ended yesterday: Moodle lists it inactive whether suspended or not.
        let now = course(&[], &[("a", user(3, &["student"], &[]))], &[]);
        let mut p = pending("a", Why::Suspend, true);
        p.timeend = TODAY - DAY;
        let (adopted, lost, _) = settled(vec![p], &now);
        assert!(adopted.is_empty());
        assert_eq!(lost, ["a"]);
    }

    #[test]
    fn new_dates_are_never_adopted_they_are_sent_again() {
        // Before: found in Moodle, so adopted, and the state held the 200-day end
        // Moodle never got; no read could show it.
        let now = course(&[("a", user(3, &["student"], &[]))], &[], &[]);
        let old = made("a", "C", "student", false);
        let mut sent = pending("a", Why::Dates, false);
        sent.timeend = TODAY + 25 * DAY;
        let mut state = SyncState {
            enrolments: vec![old.clone()],
            pending: vec![sent],
            ..Default::default()
        };
        let (adopted, lost) = state.settle(&now, TODAY);
        assert!(adopted.is_empty());
        assert_eq!(lost.len(), 1);
        assert_eq!(
            state.get("a", "C"),
            Some(&old),
            "the dates Moodle was known to hold"
        );
        let (k, mut x) = e("a", "C", "student", &[]);
        x.enrolperiod = Some(30);
        let ops = run(&[(k, x)], &now, &state);
        assert_eq!(ops.enrol.len(), 1);
        assert_eq!(ops.enrol[0].why, Why::Dates);
    }

    #[test]
    fn a_pending_enrolment_of_an_older_state_names_no_operation_and_reads_as_new() {
        let json = r#"{"username":"a","course":"C","roles":["student"],"timestart":0,"timeend":0,"suspended":false,"journal":"applied-0001.csv"}"#;
        let m: Made = serde_json::from_str(json).unwrap();
        assert_eq!(m.sent, None);
        let with = serde_json::to_string(&Made {
            sent: Some(Why::Suspend),
            ..m
        })
        .unwrap();
        assert!(with.contains(r#""sent":"suspend""#), "{with}");
    }
}
