//! Applies a run's operations through a Moodle, in the order `plan::sync` gives:
//! enrolments, roles, groups, memberships, unassignments, suspensions. Each phase is
//! sent in batches that fit the site's `max_fields`, `parallel` at a time; a batch
//! Moodle refuses as a whole (each call is one transaction) is split in halves until
//! the refused row is alone, and the rest goes through.
//!
//! The state learns what Moodle confirmed and is saved after each batch (an
//! enrolment is pending in it while its batch is out); the journal gets each batch's
//! lines when they are sent and again when they are answered. When Moodle stops
//! answering, the run stops: what was not sent is journaled so, and the error says
//! after how many answered write calls.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::error::Error;
use crate::model::MoodleNow;
use crate::plan::sync::{EnrolOp, Made, MemberOp, Ops, RoleOp, SyncState, Why};
use crate::source::moodle_api::{
    EnrolRow, MemberRow, MoodleApi, NewGroup, Refused, RoleRow, Write, Written,
};
use crate::source::SourceError;

use super::journal::{Journal, Line, Outcome};

/// Rows per write call at most. Measured on the harness with 50,000 students: calls
/// of 2,000 memberships (what max_fields allows) ran past the 30 s timeout while
/// four were served at once on two cores; 500 keep a call to a few seconds.
pub const MAX_ROWS_PER_CALL: usize = 500;

/// The ids the operations need: Moodle's view of the courses, the users' and the
/// roles' ids.
pub struct Ids<'a> {
    pub now: &'a MoodleNow,
    pub users: &'a BTreeMap<String, u64>,
    pub roles: &'a BTreeMap<String, u64>,
}

impl Ids<'_> {
    fn course(&self, c: &str) -> Option<u64> {
        self.now.get(c).and_then(Option::as_ref).map(|c| c.id)
    }
}

/// What applying left: the state as Moodle confirmed it, the error that stopped the
/// run (if any), and the write calls made.
pub struct Applied {
    pub state: SyncState,
    pub stopped: Option<Error>,
    pub write_calls: usize,
}

/// Saves the state (after each batch): the run's own file in production, a
/// recorder in tests.
pub type Save<'a> = &'a (dyn Fn(&SyncState) -> Result<(), Error> + Sync);

/// Applies `ops`; never fails as a whole: what went wrong is in the journal and in
/// `Applied::stopped`.
pub fn apply(
    moodle: &dyn MoodleApi,
    ops: &Ops,
    ids: &Ids<'_>,
    state: SyncState,
    journal: &Journal,
    save: Save<'_>,
) -> Applied {
    let exec = Exec {
        moodle,
        journal,
        save,
        state: Mutex::new(state),
        stopped: Mutex::new(None),
        write_calls: AtomicUsize::new(0),
        answered: AtomicUsize::new(0),
        groups: Mutex::new(BTreeMap::new()),
        failed: Mutex::new(BTreeSet::new()),
    };
    exec.run(ops, ids);
    Applied {
        state: exec.state.into_inner().unwrap_or_default(),
        stopped: exec.stopped.into_inner().ok().flatten(),
        write_calls: exec.write_calls.load(Ordering::Relaxed),
    }
}

/// The kinds of write, one per phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Enrol,
    Assign,
    Unassign,
    CreateGroups,
    AddMembers,
    RemoveMembers,
}

impl Kind {
    /// Form fields per row (as `source::moodle` writes them).
    fn fields(self) -> usize {
        match self {
            Kind::Enrol => 6,
            Kind::Assign | Kind::Unassign => 4,
            Kind::CreateGroups => 3,
            Kind::AddMembers | Kind::RemoveMembers => 2,
        }
    }

    fn function(self) -> &'static str {
        self.call(Vec::new()).function()
    }

    /// The write call carrying these rows (each of this kind's row type).
    fn call(self, rows: Vec<Row>) -> Write {
        match self {
            Kind::Enrol => Write::Enrol(rows.into_iter().filter_map(Row::enrol).collect()),
            Kind::Assign => Write::AssignRoles(rows.into_iter().filter_map(Row::role).collect()),
            Kind::Unassign => {
                Write::UnassignRoles(rows.into_iter().filter_map(Row::role).collect())
            }
            Kind::CreateGroups => {
                Write::CreateGroups(rows.into_iter().filter_map(Row::group).collect())
            }
            Kind::AddMembers => {
                Write::AddMembers(rows.into_iter().filter_map(Row::member).collect())
            }
            Kind::RemoveMembers => {
                Write::RemoveMembers(rows.into_iter().filter_map(Row::member).collect())
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Row {
    Enrol(EnrolRow),
    Role(RoleRow),
    Group(NewGroup),
    Member(MemberRow),
}

impl Row {
    fn enrol(self) -> Option<EnrolRow> {
        match self {
            Row::Enrol(r) => Some(r),
            _ => None,
        }
    }
    fn role(self) -> Option<RoleRow> {
        match self {
            Row::Role(r) => Some(r),
            _ => None,
        }
    }
    fn group(self) -> Option<NewGroup> {
        match self {
            Row::Group(r) => Some(r),
            _ => None,
        }
    }
    fn member(self) -> Option<MemberRow> {
        match self {
            Row::Member(r) => Some(r),
            _ => None,
        }
    }
}

/// A write to send: its journal line, its row, and what the state learns once
/// Moodle confirms it.
#[derive(Debug, Clone)]
struct Item {
    line: Line,
    row: Row,
    effect: Effect,
}

#[derive(Debug, Clone)]
enum Effect {
    Enrolled(Made),
    RoleAdded,
    RoleRemoved,
    /// A group enrolgen created or put members in: managed from then on.
    GroupFilled,
    None,
}

struct Exec<'a> {
    moodle: &'a dyn MoodleApi,
    journal: &'a Journal,
    save: Save<'a>,
    state: Mutex<SyncState>,
    stopped: Mutex<Option<Error>>,
    write_calls: AtomicUsize,
    /// Write calls Moodle answered (accepted or refused).
    answered: AtomicUsize,
    /// Groups created by this run or found in Moodle, (course, name) → id.
    groups: Mutex<BTreeMap<(String, String), u64>>,
    /// (username, course) whose enrolment was not made: their other operations wait.
    failed: Mutex<BTreeSet<(String, String)>>,
}

fn line(operation: &'static str, course: &str, username: &str, role: &str, group: &str) -> Line {
    Line {
        operation,
        course: course.to_string(),
        username: username.to_string(),
        role: role.to_string(),
        group: group.to_string(),
        result: Outcome::Sent,
    }
}

impl Exec<'_> {
    fn run(&self, ops: &Ops, ids: &Ids<'_>) {
        let enrol = |list: &[EnrolOp]| -> Vec<Item> {
            list.iter()
                .filter_map(|e| self.enrol_item(e, ids))
                .collect()
        };
        self.phase(Kind::Enrol, enrol(&ops.enrol));
        let assign = ops
            .assign
            .iter()
            .filter_map(|r| self.role_item(r, ids, true));
        self.phase(Kind::Assign, assign.collect());
        self.create_groups(&ops.create_groups, ids);
        let add = ops
            .add
            .iter()
            .filter_map(|m| self.member_item(m, ids, true));
        self.phase(Kind::AddMembers, add.collect());
        let remove = ops
            .remove
            .iter()
            .filter_map(|m| self.member_item(m, ids, false));
        self.phase(Kind::RemoveMembers, remove.collect());
        let unassign = ops
            .unassign
            .iter()
            .filter_map(|r| self.role_item(r, ids, false));
        self.phase(Kind::Unassign, unassign.collect());
        self.phase(Kind::Enrol, enrol(&ops.suspend));
    }

    fn stopped(&self) -> bool {
        self.stopped.lock().map_or(true, |s| s.is_some())
    }

    fn stop(&self, e: Error) {
        if let Ok(mut s) = self.stopped.lock() {
            s.get_or_insert(e);
        }
    }

    /// Journals these lines with this outcome; a journal that cannot be written
    /// stops the run (the audit trail comes first).
    fn note(&self, lines: impl IntoIterator<Item = Line>, result: Outcome) {
        let lines: Vec<Line> = lines
            .into_iter()
            .map(|mut l| {
                l.result = result.clone();
                l
            })
            .collect();
        if let Err(e) = self.journal.write(&lines) {
            self.stop(Error::Output(e));
        }
    }

    fn not_sent(&self, l: Line, why: &str) {
        self.note([l], Outcome::NotSent(why.to_string()));
    }

    /// An enrolment item, or `None` (journaled) when Moodle lacks the user or role.
    fn enrol_item(&self, e: &EnrolOp, ids: &Ids<'_>) -> Option<Item> {
        let l = line(e.why.name(), &e.course, &e.username, &e.role, "");
        if self.stopped() {
            self.not_sent(l, "the run stopped");
            return None;
        }
        let (Some(course), Some(user)) = (ids.course(&e.course), ids.users.get(&e.username)) else {
            self.not_made(&e.username, &e.course);
            // An account enrolgen enrolled before and Moodle no longer has (deleted):
            // Moodle cannot do what the plan asks, a refusal the exit code counts.
            let gone = ids.course(&e.course).is_some()
                && self
                    .state
                    .lock()
                    .is_ok_and(|s| s.get(&e.username, &e.course).is_some());
            if gone {
                let why = "the account is no longer in Moodle (deleted since enrolgen enrolled it)";
                self.note([l], Outcome::Refused(why.into()));
            } else {
                self.not_sent(l, "no such user in Moodle");
            }
            return None;
        };
        let Some(role) = ids.roles.get(&e.role) else {
            self.not_made(&e.username, &e.course);
            let why = format!("no role id for '{}' (set moodle.role_ids)", e.role);
            self.not_sent(l, &why);
            return None;
        };
        let before = self
            .state
            .lock()
            .ok()
            .and_then(|s| s.get(&e.username, &e.course).map(|m| m.roles.clone()));
        let mut roles = before.unwrap_or_default();
        if e.why != Why::Suspend {
            roles.insert(e.role.clone());
        }
        let made = Made {
            username: e.username.clone(),
            course: e.course.clone(),
            roles,
            timestart: e.timestart,
            timeend: e.timeend,
            suspended: e.suspend,
            enrolled: true,
            journal: None,
            sent: Some(e.why),
        };
        Some(Item {
            line: l,
            row: Row::Enrol(EnrolRow {
                roleid: *role,
                userid: *user,
                courseid: course,
                timestart: e.timestart,
                timeend: e.timeend,
                suspend: e.suspend,
            }),
            effect: Effect::Enrolled(made),
        })
    }

    fn role_item(&self, r: &RoleOp, ids: &Ids<'_>, add: bool) -> Option<Item> {
        let op = if add { "add_role" } else { "remove_role" };
        let l = line(op, &r.course, &r.username, &r.role, "");
        if self.stopped() {
            self.not_sent(l, "the run stopped");
            return None;
        }
        if self.waits(&r.username, &r.course) {
            self.not_sent(l, "the enrolment was not made");
            return None;
        }
        let (Some(course), Some(user), Some(role)) = (
            ids.course(&r.course),
            ids.users.get(&r.username),
            ids.roles.get(&r.role),
        ) else {
            self.not_sent(l, "unknown user or role in Moodle");
            return None;
        };
        Some(Item {
            line: l,
            row: Row::Role(RoleRow {
                roleid: *role,
                userid: *user,
                courseid: course,
            }),
            effect: if add {
                Effect::RoleAdded
            } else {
                Effect::RoleRemoved
            },
        })
    }

    fn member_item(&self, m: &MemberOp, ids: &Ids<'_>, add: bool) -> Option<Item> {
        let op = if add { "add_member" } else { "remove_member" };
        let l = line(op, &m.course, &m.username, "", &m.group);
        if self.stopped() {
            self.not_sent(l, "the run stopped");
            return None;
        }
        if add && self.waits(&m.username, &m.course) {
            self.not_sent(l, "the enrolment was not made");
            return None;
        }
        let known = ids
            .now
            .get(&m.course)
            .and_then(Option::as_ref)
            .and_then(|c| c.groups.get(&m.group).copied());
        let made = || {
            let g = self.groups.lock().ok()?;
            g.get(&(m.course.clone(), m.group.clone())).copied()
        };
        let Some(group) = known.or_else(made) else {
            self.not_sent(l, "the group is not in Moodle (not created)");
            return None;
        };
        let Some(user) = ids.users.get(&m.username) else {
            self.not_sent(l, "no such user in Moodle");
            return None;
        };
        Some(Item {
            line: l,
            row: Row::Member(MemberRow {
                groupid: group,
                userid: *user,
            }),
            effect: if add {
                Effect::GroupFilled
            } else {
                Effect::None
            },
        })
    }

    fn not_made(&self, username: &str, course: &str) {
        if let Ok(mut f) = self.failed.lock() {
            f.insert((username.to_string(), course.to_string()));
        }
    }

    fn waits(&self, username: &str, course: &str) -> bool {
        self.failed.lock().map_or(true, |f| {
            f.contains(&(username.to_string(), course.to_string()))
        })
    }

    /// The groups the plan needs that the read of the courses' users did not see:
    /// those Moodle has already (made in advance, or left empty) are found by
    /// reading the courses' groups, never guessed from a refusal; the others are
    /// created, their ids taken from Moodle's answer.
    fn create_groups(&self, list: &[(String, String)], ids: &Ids<'_>) {
        if list.is_empty() || self.stopped() {
            let lines = list.iter().map(|(c, g)| line("create_group", c, "", "", g));
            if !list.is_empty() {
                self.note(lines, Outcome::NotSent("the run stopped".into()));
            }
            return;
        }
        let courses: BTreeSet<u64> = list.iter().filter_map(|(c, _)| ids.course(c)).collect();
        let courses: Vec<u64> = courses.into_iter().collect();
        let existing = match self.moodle.course_groups(&courses) {
            Ok(g) => g,
            Err(e) => {
                let lines = list.iter().map(|(c, g)| line("create_group", c, "", "", g));
                self.note(lines, Outcome::NotSent("the run stopped".into()));
                self.stop(self.lost("core_group_get_course_groups", e));
                return;
            }
        };
        let mut items = Vec::new();
        for (course, name) in list {
            let l = line("create_group", course, "", "", name);
            let Some(id) = ids.course(course) else {
                self.not_sent(l, "course not in Moodle");
                continue;
            };
            match existing.get(&id).and_then(|g| g.get(name)) {
                Some(gid) => {
                    if let Ok(mut g) = self.groups.lock() {
                        g.insert((course.clone(), name.clone()), *gid);
                    }
                }
                None => items.push(Item {
                    line: l,
                    row: Row::Group(NewGroup {
                        courseid: id,
                        name: name.clone(),
                    }),
                    effect: Effect::GroupFilled,
                }),
            }
        }
        self.phase(Kind::CreateGroups, items);
    }

    /// Sends the items in batches that fit `max_fields`, `parallel` at a time.
    fn phase(&self, kind: Kind, items: Vec<Item>) {
        if items.is_empty() {
            return;
        }
        let parallel = self.moodle.parallel().max(1);
        // As many items as max_fields allows, at most MAX_ROWS_PER_CALL (a call
        // must answer within the client's timeout: Moodle spends 5 to 8 ms a row,
        // more while it serves the other requests), but spread over the parallel
        // requests when there are fewer than that: Moodle works on several at once.
        let fit = (self.moodle.max_fields().saturating_sub(3) / kind.fields())
            .clamp(1, MAX_ROWS_PER_CALL);
        let per_call = fit.min(items.len().div_ceil(parallel)).max(1);
        let mut batches: Vec<Vec<Item>> = Vec::new();
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            batches.push(items.by_ref().take(per_call).collect());
        }
        let (started, count, calls) = (
            Instant::now(),
            batches.iter().map(Vec::len).sum::<usize>(),
            batches.len(),
        );
        let queue = Mutex::new(batches.into_iter());
        std::thread::scope(|scope| {
            for _ in 0..parallel.min(calls) {
                scope.spawn(|| loop {
                    let Some(batch) = queue.lock().ok().and_then(|mut q| q.next()) else {
                        return;
                    };
                    self.send(kind, batch);
                });
            }
        });
        tracing::info!(
            function = kind.function(),
            items = count,
            batches = calls,
            seconds = started.elapsed().as_secs_f64(),
            "applied"
        );
    }

    /// One batch; refused as a whole, it is split until the refused item is alone.
    fn send(&self, kind: Kind, batch: Vec<Item>) {
        if self.stopped() {
            let lines = batch.into_iter().map(|i| i.line);
            self.note(lines, Outcome::NotSent("the run stopped".into()));
            return;
        }
        self.pending(&batch, true);
        self.note(batch.iter().map(|i| i.line.clone()), Outcome::Sent);
        if self.stopped() {
            // The state or the journal could not be written: nothing is sent
            // that the next run could not account for.
            self.pending(&batch, false);
            let lines = batch.into_iter().map(|i| i.line);
            self.note(lines, Outcome::NotSent("the run stopped".into()));
            return;
        }
        let call = kind.call(batch.iter().map(|i| i.row.clone()).collect());
        self.write_calls.fetch_add(1, Ordering::Relaxed);
        match self.moodle.write(&call) {
            Err(e) => {
                // Moodle may or may not have applied it: the enrolments stay
                // pending, and the next run finds out.
                self.stop(self.lost(kind.function(), e));
                self.note(batch.into_iter().map(|i| i.line), Outcome::NoAnswer);
            }
            Ok(Ok(written)) => {
                self.answered.fetch_add(1, Ordering::Relaxed);
                self.confirmed(&batch, &written);
                self.note(batch.into_iter().map(|i| i.line), Outcome::Ok);
            }
            Ok(Err(_)) if batch.len() > 1 => {
                self.answered.fetch_add(1, Ordering::Relaxed);
                self.pending(&batch, false);
                let mut first = batch;
                let second = first.split_off(first.len() / 2);
                self.send(kind, first);
                self.send(kind, second);
            }
            Ok(Err(refused)) => {
                self.answered.fetch_add(1, Ordering::Relaxed);
                self.pending(&batch, false);
                for i in &batch {
                    if let Effect::Enrolled(m) = &i.effect {
                        self.not_made(&m.username, &m.course);
                    }
                }
                let lines = batch.into_iter().map(|i| i.line);
                self.note(lines, Outcome::Refused(refused_text(&refused)));
            }
        }
    }

    /// The error of a run whose Moodle stopped answering, or refused a read it
    /// needed (a missing capability is not a lost connection).
    fn lost(&self, function: &str, e: SourceError) -> Error {
        if let SourceError::Refused { what, action } = e {
            return Error::Source(SourceError::Refused {
                what,
                action: format!(
                    "{action}; nothing more was sent to this platform, and the next run completes it"
                ),
            });
        }
        let answered = self.answered.load(Ordering::Relaxed);
        Error::Source(SourceError::Failed {
            what: self.moodle.describe(),
            action: format!(
                "the connection was lost after {answered} answered write call(s), during {function}; \
                 what was not sent is journaled as not sent, and the next run completes it"
            ),
            cause: Some(Box::new(e)),
        })
    }

    /// Enrolments about to be sent are pending in the state (saved) until Moodle
    /// answers; `false` takes them back out.
    fn pending(&self, batch: &[Item], add: bool) {
        let journal = self.journal.name().to_string();
        let made: Vec<Made> = batch
            .iter()
            .filter_map(|i| match &i.effect {
                Effect::Enrolled(m) => Some(Made {
                    journal: Some(journal.clone()),
                    ..m.clone()
                }),
                _ => None,
            })
            .collect();
        if made.is_empty() {
            return;
        }
        if let Ok(mut s) = self.state.lock() {
            if add {
                s.pending.extend(made);
            } else {
                s.drop_pending(&made);
            }
        }
        if add {
            self.save_or_stop();
        }
    }

    fn save_or_stop(&self) {
        let saved = match self.state.lock() {
            Ok(s) => (self.save)(&s),
            Err(_) => Ok(()),
        };
        if let Err(e) = saved {
            self.stop(e);
        }
    }

    /// Moodle confirmed the batch: the state learns it, and is saved.
    fn confirmed(&self, batch: &[Item], written: &Written) {
        if let Written::Groups(ids) = written {
            if let Ok(mut g) = self.groups.lock() {
                for (i, id) in batch.iter().zip(ids) {
                    g.insert((i.line.course.clone(), i.line.group.clone()), *id);
                }
            }
        }
        if let Ok(mut s) = self.state.lock() {
            let answered: Vec<&Made> = batch
                .iter()
                .filter_map(|i| match &i.effect {
                    Effect::Enrolled(m) => Some(m),
                    _ => None,
                })
                .collect();
            s.drop_pending(answered);
            for i in batch {
                let l = &i.line;
                match &i.effect {
                    Effect::Enrolled(m) => s.record(Made {
                        sent: None,
                        ..m.clone()
                    }),
                    Effect::RoleAdded => s.role(&l.username, &l.course, &l.role, true),
                    Effect::RoleRemoved => s.role(&l.username, &l.course, &l.role, false),
                    Effect::GroupFilled => {
                        s.groups
                            .entry(l.course.clone())
                            .or_default()
                            .insert(l.group.clone());
                    }
                    Effect::None => {}
                }
            }
        }
        self.save_or_stop();
    }
}

fn refused_text(r: &Refused) -> String {
    r.to_string().replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    //! The apply logic against a Moodle in memory: refusals, splits, groups made in
    //! advance, a connection lost, operations that wait for their enrolment.

    use super::*;
    use crate::model::CourseNow;

    /// A Moodle in memory: course C (id 10) and users u1…u9 (ids 1…9); refuses
    /// any call with a row for `refused_user`; stops answering at write call
    /// `lose_at` (1-based).
    #[derive(Default)]
    struct Fake {
        groups: BTreeMap<String, u64>,
        refused_user: Option<u64>,
        lose_at: Option<usize>,
        writes: Mutex<Vec<Write>>,
        group_reads: AtomicUsize,
    }

    impl MoodleApi for Fake {
        fn describe(&self) -> String {
            "Moodle of test (memory)".into()
        }
        fn requests(&self) -> usize {
            self.writes.lock().unwrap().len()
        }
        fn max_fields(&self) -> usize {
            // Three enrolments (6 fields) per call at most.
            21
        }
        fn parallel(&self) -> usize {
            1
        }
        fn read_courses(&self, _: &[String]) -> Result<MoodleNow, SourceError> {
            Ok(MoodleNow::new())
        }
        fn user_ids(&self, _: &[&str]) -> Result<BTreeMap<String, u64>, SourceError> {
            Ok(BTreeMap::new())
        }
        fn course_groups(
            &self,
            ids: &[u64],
        ) -> Result<BTreeMap<u64, BTreeMap<String, u64>>, SourceError> {
            self.group_reads.fetch_add(1, Ordering::SeqCst);
            Ok(ids.iter().map(|i| (*i, self.groups.clone())).collect())
        }
        fn write(&self, call: &Write) -> Result<Result<Written, Refused>, SourceError> {
            let n = {
                let mut w = self.writes.lock().unwrap();
                w.push(call.clone());
                w.len()
            };
            if self.lose_at == Some(n) {
                return Err(SourceError::Failed {
                    what: self.describe(),
                    action: "connection refused".into(),
                    cause: None,
                });
            }
            let users: Vec<u64> = match call {
                Write::Enrol(r) => r.iter().map(|e| e.userid).collect(),
                Write::AssignRoles(r) | Write::UnassignRoles(r) => {
                    r.iter().map(|e| e.userid).collect()
                }
                Write::AddMembers(r) | Write::RemoveMembers(r) => {
                    r.iter().map(|e| e.userid).collect()
                }
                Write::CreateGroups(r) => {
                    let ids = (0..r.len() as u64).map(|i| 100 + i).collect();
                    return Ok(Ok(Written::Groups(ids)));
                }
            };
            if self.refused_user.is_some_and(|u| users.contains(&u)) {
                return Ok(Err(Refused {
                    code: "wsusercannotassign".into(),
                    message: "You don't have the permission to assign this role".into(),
                }));
            }
            Ok(Ok(Written::Done))
        }
    }

    struct World {
        now: MoodleNow,
        users: BTreeMap<String, u64>,
        roles: BTreeMap<String, u64>,
    }

    fn world() -> World {
        let course = CourseNow {
            id: 10,
            ..Default::default()
        };
        World {
            now: [("C".to_string(), Some(course))].into(),
            users: (1..10).map(|i| (format!("u{i}"), i)).collect(),
            roles: [("student".to_string(), 5)].into(),
        }
    }

    fn enrol(i: u64) -> EnrolOp {
        EnrolOp {
            course: "C".into(),
            username: format!("u{i}"),
            role: "student".into(),
            timestart: 100,
            timeend: 0,
            suspend: false,
            why: Why::New,
        }
    }

    fn member(i: u64, group: &str) -> MemberOp {
        MemberOp {
            course: "C".into(),
            group: group.into(),
            username: format!("u{i}"),
        }
    }

    /// Applies `ops` to `fake`; returns what was applied, the journal's lines and
    /// the states saved.
    fn run(fake: &Fake, ops: &Ops) -> (Applied, Vec<Line>, usize) {
        run_on(fake, ops, SyncState::default())
    }

    /// `run` on a state of earlier runs.
    fn run_on(fake: &Fake, ops: &Ops, state: SyncState) -> (Applied, Vec<Line>, usize) {
        let w = world();
        let ids = Ids {
            now: &w.now,
            users: &w.users,
            roles: &w.roles,
        };
        let d = tempfile::tempdir().unwrap();
        let journal = Journal::next(d.path(), d.path(), 0o640);
        let saves = AtomicUsize::new(0);
        let save = |_: &SyncState| -> Result<(), Error> {
            saves.fetch_add(1, Ordering::SeqCst);
            Ok(())
        };
        let applied = apply(fake, ops, &ids, state, &journal, &save);
        (applied, journal.lines(), saves.load(Ordering::SeqCst))
    }

    fn results(lines: &[Line], user: &str) -> Vec<Outcome> {
        lines
            .iter()
            .filter(|l| l.username == user)
            .map(|l| l.result.clone())
            .collect()
    }

    #[test]
    fn a_refused_row_is_found_by_splitting_and_the_rest_goes_through() {
        let fake = Fake {
            refused_user: Some(2),
            ..Default::default()
        };
        let ops = Ops {
            enrol: (1..=3).map(enrol).collect(),
            ..Default::default()
        };
        let (applied, lines, _) = run(&fake, &ops);
        assert!(applied.stopped.is_none());
        // [1,2,3] refused; [1] ok; [2,3] refused; [2] refused; [3] ok.
        assert_eq!(applied.write_calls, 5);
        assert_eq!(results(&lines, "u1").last(), Some(&Outcome::Ok));
        assert_eq!(results(&lines, "u3").last(), Some(&Outcome::Ok));
        assert_eq!(
            results(&lines, "u2").last(),
            Some(&Outcome::Refused(
                "wsusercannotassign: You don't have the permission to assign this role".into()
            ))
        );
        let made: Vec<&str> = applied
            .state
            .enrolments
            .iter()
            .map(|m| m.username.as_str())
            .collect();
        assert_eq!(made, ["u1", "u3"]);
        assert!(applied.state.pending.is_empty());
    }

    /// Before: "not sent: no such user", counted as not sent, exit 0 every night.
    #[test]
    fn an_account_deleted_since_enrolgen_enrolled_it_is_a_refusal() {
        let state = SyncState {
            enrolments: vec![Made {
                username: "gone".into(),
                course: "C".into(),
                roles: ["student".to_string()].into(),
                timestart: 100,
                timeend: 0,
                suspended: true,
                enrolled: true,
                journal: None,
                sent: None,
            }],
            ..Default::default()
        };
        let reactivate = |u: &str| EnrolOp {
            username: u.into(),
            why: Why::Reactivate,
            ..enrol(1)
        };
        let ops = Ops {
            enrol: vec![reactivate("gone"), reactivate("never-made")],
            ..Default::default()
        };
        let (applied, lines, _) = run_on(&Fake::default(), &ops, state);
        assert_eq!(applied.write_calls, 0);
        assert!(matches!(
            results(&lines, "gone").as_slice(),
            [Outcome::Refused(why)] if why.contains("no longer in Moodle")
        ));
        assert_eq!(
            results(&lines, "never-made"),
            [Outcome::NotSent("no such user in Moodle".into())]
        );
    }

    #[test]
    fn a_group_made_in_advance_is_found_and_filled_not_created() {
        let fake = Fake {
            groups: [("Groupe TD 1".to_string(), 77)].into(),
            ..Default::default()
        };
        let ops = Ops {
            create_groups: vec![
                ("C".into(), "Groupe TD 1".into()),
                ("C".into(), "Groupe TD 2".into()),
            ],
            add: vec![member(1, "Groupe TD 1"), member(2, "Groupe TD 2")],
            ..Default::default()
        };
        let (applied, lines, _) = run(&fake, &ops);
        assert!(applied.stopped.is_none());
        assert_eq!(fake.group_reads.load(Ordering::SeqCst), 1);
        let writes = fake.writes.lock().unwrap();
        assert_eq!(
            writes[0],
            Write::CreateGroups(vec![NewGroup {
                courseid: 10,
                name: "Groupe TD 2".into()
            }])
        );
        assert_eq!(
            writes[1],
            Write::AddMembers(vec![
                MemberRow {
                    groupid: 77,
                    userid: 1
                },
                MemberRow {
                    groupid: 100,
                    userid: 2
                }
            ])
        );
        assert!(lines
            .iter()
            .all(|l| l.group != "Groupe TD 1" || l.operation != "create_group"));
        assert_eq!(results(&lines, "u1").last(), Some(&Outcome::Ok));
        assert_eq!(
            applied.state.groups["C"],
            ["Groupe TD 1".to_string(), "Groupe TD 2".to_string()].into()
        );
    }

    #[test]
    fn a_lost_connection_stops_the_run_says_so_and_journals_the_rest() {
        let fake = Fake {
            lose_at: Some(2),
            ..Default::default()
        };
        let ops = Ops {
            enrol: (1..=9).map(enrol).collect(),
            ..Default::default()
        };
        let (applied, lines, saves) = run(&fake, &ops);
        let e = crate::error_chain(&applied.stopped.expect("stopped"));
        assert!(
            e.contains("the connection was lost after 1 answered write call(s), during enrol_manual_enrol_users")
                && e.contains("connection refused"),
            "{e}"
        );
        // Batches of three: the first made, the second sent without an answer
        // (pending: Moodle may hold it), the third never sent.
        let made: Vec<&str> = applied
            .state
            .enrolments
            .iter()
            .map(|m| m.username.as_str())
            .collect();
        assert_eq!(made, ["u1", "u2", "u3"]);
        let pending: Vec<&str> = applied
            .state
            .pending
            .iter()
            .map(|m| m.username.as_str())
            .collect();
        assert_eq!(pending, ["u4", "u5", "u6"]);
        assert!(
            applied
                .state
                .pending
                .iter()
                .all(|m| m.sent == Some(Why::New)),
            "each pending enrolment names the operation sent"
        );
        assert!(
            applied.state.enrolments.iter().all(|m| m.sent.is_none()),
            "what Moodle confirmed is recorded as made"
        );
        assert!(applied
            .state
            .pending
            .iter()
            .all(|m| m.journal.as_deref() == Some("applied-0001.csv")));
        assert_eq!(results(&lines, "u4"), [Outcome::Sent, Outcome::NoAnswer]);
        assert_eq!(
            results(&lines, "u9"),
            [Outcome::NotSent("the run stopped".into())]
        );
        assert!(saves >= 3, "the state is saved per batch ({saves})");
    }

    #[test]
    fn a_membership_waits_for_its_enrolment() {
        let fake = Fake {
            refused_user: Some(1),
            groups: [("G".to_string(), 7)].into(),
            ..Default::default()
        };
        let ops = Ops {
            enrol: vec![enrol(1)],
            add: vec![member(1, "G")],
            ..Default::default()
        };
        let (_, lines, _) = run(&fake, &ops);
        let last = lines.iter().rfind(|l| l.operation == "add_member").unwrap();
        assert_eq!(
            last.result,
            Outcome::NotSent("the enrolment was not made".into())
        );
        assert_eq!(fake.writes.lock().unwrap().len(), 1);
    }
}
