//! The web-service channel (`deliver: webservice`): reads what Moodle holds, computes
//! the operations that bring it to the plan (`plan::sync`), applies them in batches
//! through the REST web services, and records what Moodle confirmed.
//!
//! Safe to interrupt: an enrolment is written to the state as pending before its
//! batch is sent and as made once Moodle answers, and the state is saved after each
//! batch, so a killed run leaves a state the next run completes from. A batch that
//! Moodle refuses as a whole (each call is one transaction) is split in halves until
//! the refused row is found; it is journaled with Moodle's message, the rest goes
//! through. Each run that changes something writes `applied-NNNN.csv`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value;

use crate::config::{MoodleSettings, Settings};
use crate::error::Error;
use crate::model::{MoodleNow, Platform, SuspendLimits};
use crate::output::{atomic, OutputError, RenderedFile};
use crate::plan::delta::{Accept, Held};
use crate::plan::sync::{self, EnrolOp, Made, MemberOp, Ops, RoleOp, SyncState, Why};
use crate::plan::PlatformPlan;
use crate::source::moodle::{Moodle, Refused};
use crate::source::SourceError;
use crate::template::Template;

/// The functions the channel calls, besides `verify`'s (the token's service needs
/// them all; `check` says which are missing).
pub const APPLY_FUNCTIONS: [&str; 8] = [
    "core_user_get_users_by_field",
    "core_group_get_course_groups",
    "enrol_manual_enrol_users",
    "core_role_assign_roles",
    "core_role_unassign_roles",
    "core_group_create_groups",
    "core_group_add_group_members",
    "core_group_delete_group_members",
];

const STATE_FILE: &str = "webservice-state.json";

/// What a run asks of the channel.
pub struct WsRun<'a> {
    pub out: &'a Path,
    pub as_of: NaiveDate,
    pub dry_run: bool,
    pub limits: &'a SuspendLimits,
    pub accept: &'a Accept,
    pub file_mode: u32,
}

/// What the channel did on a platform, for summary.json and the report.
#[derive(Debug, Default, Clone, Serialize)]
pub struct WsSummary {
    /// Operations Moodle confirmed, by kind (enrol, reactivate, suspend, add_role,
    /// remove_role, create_group, add_member, remove_member).
    pub applied: BTreeMap<String, usize>,
    /// Operations Moodle refused (each journaled with its message).
    pub refused: usize,
    /// Those operations, as the report shows them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused_rows: Vec<String>,
    /// Operations not sent: unknown user or role in Moodle, or the run stopped.
    pub not_sent: usize,
    /// Web-service calls: all, and those that write.
    pub calls: usize,
    pub write_calls: usize,
    pub seconds: f64,
    /// The journal of this run, relative to the output folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<Held>,
    /// Planned courses Moodle does not have.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_courses: Vec<String>,
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Line {
    operation: &'static str,
    course: String,
    username: String,
    role: String,
    group: String,
    result: String,
}

/// The group templates of each course the platform's rules enrol in.
pub fn templates(settings: &Settings, platform: &str) -> BTreeMap<String, Vec<Template>> {
    let mut out: BTreeMap<String, Vec<Template>> = BTreeMap::new();
    for r in settings.rules.iter().filter(|r| r.platform == platform) {
        if let Some(t) = &r.group {
            for c in &r.courses {
                out.entry(c.clone()).or_default().push(t.clone());
            }
        }
    }
    out
}

fn state_path(out: &Path, platform: &str) -> PathBuf {
    out.join(platform).join(STATE_FILE)
}

fn load_state(out: &Path, platform: &str) -> Result<SyncState, Error> {
    let path = state_path(out, platform);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<SyncState>(&bytes)
            .map(SyncState::sorted)
            .map_err(|e| {
                Error::Output(OutputError::DeltaState {
                    path,
                    message: e.to_string(),
                })
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SyncState::default()),
        Err(e) => Err(Error::Source(SourceError::read(&path, e))),
    }
}

/// Applies the platform's plan through its web services.
pub fn deliver(
    run: &WsRun<'_>,
    settings: &Settings,
    platform: &Platform,
    moodle: &MoodleSettings,
    pp: &PlatformPlan,
) -> Result<WsSummary, Error> {
    let started = Instant::now();
    let client = Moodle::new(&platform.name, moodle)?;
    let mut state = load_state(run.out, &platform.name)?;
    let courses: BTreeSet<String> = pp
        .enrolments
        .keys()
        .map(|(_, c)| c.clone())
        .chain(state.enrolments.iter().map(|m| m.course.clone()))
        .chain(state.groups.keys().cloned())
        .collect();
    let courses: Vec<String> = courses.into_iter().collect();
    let now = client.read_courses(&courses)?;
    state.settle(&now);
    let templates = templates(settings, &platform.name);
    let ctx = sync::Context {
        roles: platform.roles.as_ref(),
        templates: &templates,
        limits: run.limits,
        accept: run.accept,
        as_of: run.as_of,
        zone: moodle.timezone,
    };
    let ops = sync::operations(&pp.enrolments, &now, &state, &ctx);

    let mut summary = WsSummary {
        held: ops.held.clone(),
        missing_courses: ops.missing_courses.iter().cloned().collect(),
        ..Default::default()
    };
    if run.dry_run {
        print(&platform.name, &ops);
        summary.calls = client.requests();
        summary.seconds = started.elapsed().as_secs_f64();
        return Ok(summary);
    }
    let role_ids = role_ids(moodle, &now);
    let users = user_ids(&client, &now, &ops, moodle.max_fields)?;
    state.as_of = Some(run.as_of);
    let exec = Exec {
        client: &client,
        run,
        platform: &platform.name,
        max_fields: moodle.max_fields,
        parallel: moodle.parallel.max(1),
        state: Mutex::new(state),
        journal: Mutex::new(Vec::new()),
        stopped: Mutex::new(None),
        write_calls: AtomicUsize::new(0),
        groups: Mutex::new(BTreeMap::new()),
        failed: Mutex::new(BTreeSet::new()),
    };
    exec.save()?;
    let ids = Ids {
        now: &now,
        users: &users,
        roles: &role_ids,
    };
    exec.apply(&ops, &ids);
    let lines = exec.journal.into_inner().unwrap_or_default();
    let state = exec.state.into_inner().unwrap_or_default();
    let stopped = exec.stopped.into_inner().ok().flatten();
    summary.write_calls = exec.write_calls.load(Ordering::Relaxed);
    summary.calls = client.requests();
    for l in &lines {
        match l.result.as_str() {
            r if r.starts_with("ok") => {
                *summary.applied.entry(l.operation.to_string()).or_default() += 1
            }
            r if r.starts_with("refused") => {
                summary.refused += 1;
                summary.refused_rows.push(format!(
                    "{} {} in {} ({}{}): {r}",
                    l.operation, l.username, l.course, l.role, l.group
                ));
            }
            _ => summary.not_sent += 1,
        }
    }
    let dir = run.out.join(&platform.name);
    let mut files = vec![state_file(&state)?];
    if !lines.is_empty() {
        let (name, journal) = journal(&dir, &lines)?;
        summary.journal = Some(format!("{}/{}", platform.name, name));
        files.push(journal);
    }
    atomic::write_all(run.out, &dir, &files, run.file_mode)?;
    summary.seconds = started.elapsed().as_secs_f64();
    if let Some(e) = stopped {
        return Err(e);
    }
    Ok(summary)
}

fn state_file(state: &SyncState) -> Result<RenderedFile, Error> {
    let bytes = serde_json::to_vec_pretty(state).map_err(|e| OutputError::Encode {
        what: STATE_FILE.into(),
        message: e.to_string(),
    })?;
    Ok(RenderedFile {
        name: STATE_FILE.into(),
        bytes,
    })
}

/// The journal file, numbered after the last one in the platform's folder.
fn journal(dir: &Path, lines: &[Line]) -> Result<(String, RenderedFile), Error> {
    let last = crate::output::outbox::highest_number(dir, "applied");
    let name = format!("applied-{:04}.csv", last + 1);
    let mut sorted = lines.to_vec();
    sorted.sort();
    let records = std::iter::once(
        ["operation", "course", "username", "role", "group", "result"].map(String::from),
    )
    .chain(sorted.into_iter().map(|l| {
        [
            l.operation.to_string(),
            l.course,
            l.username,
            l.role,
            l.group,
            l.result,
        ]
    }));
    let bytes = crate::csvio::write_records(&name, b';', records)?;
    Ok((
        name.clone(),
        RenderedFile {
            name: name.into(),
            bytes,
        },
    ))
}

/// `--dry-run`: the operations per function and course, nothing sent.
fn print(platform: &str, ops: &Ops) {
    for ((function, course), n) in ops.counts() {
        println!("{platform}\t{function}\t{course}\t{n}");
    }
    for h in &ops.held {
        println!(
            "{platform}\theld back\t{}\t{} suspension(s): {}",
            h.course, h.suspensions, h.why
        );
    }
    for c in &ops.missing_courses {
        println!("{platform}\tcourse not found\t{c}\t0");
    }
}

/// Role ids: the configuration's (Moodle's standard ones by default), corrected by
/// what Moodle shows on its users.
fn role_ids(moodle: &MoodleSettings, now: &MoodleNow) -> BTreeMap<String, u64> {
    let mut ids = moodle.role_ids.clone();
    for c in now.values().flatten() {
        for (r, id) in &c.role_ids {
            if ids.insert(r.clone(), *id).is_some_and(|old| old != *id) {
                tracing::warn!(role = %r, id, "Moodle's role id differs from the configuration's; using Moodle's");
            }
        }
    }
    ids
}

/// The user ids the operations need: those of enrolled users, and the others asked
/// of Moodle in batches.
fn user_ids(
    client: &Moodle,
    now: &MoodleNow,
    ops: &Ops,
    max_fields: usize,
) -> Result<BTreeMap<String, u64>, Error> {
    let mut ids: BTreeMap<String, u64> = BTreeMap::new();
    for c in now.values().flatten() {
        for (u, e) in c.active.iter().chain(&c.inactive) {
            ids.insert(u.clone(), e.id);
        }
    }
    let unknown: BTreeSet<&str> = ops
        .enrol
        .iter()
        .map(|e| e.username.as_str())
        .filter(|u| !ids.contains_key(*u))
        .collect();
    if !unknown.is_empty() {
        let unknown: Vec<&str> = unknown.into_iter().collect();
        ids.extend(client.user_ids(&unknown, max_fields.saturating_sub(4))?);
    }
    Ok(ids)
}

struct Ids<'a> {
    now: &'a MoodleNow,
    users: &'a BTreeMap<String, u64>,
    roles: &'a BTreeMap<String, u64>,
}

impl Ids<'_> {
    fn course(&self, c: &str) -> Option<u64> {
        self.now.get(c).and_then(Option::as_ref).map(|c| c.id)
    }
}

/// A write to send: its journal line and its form fields (without the index).
struct Item {
    line: Line,
    fields: Vec<(&'static str, String)>,
    /// What the state learns when Moodle confirms it.
    effect: Effect,
}

enum Effect {
    Enrolled(Made),
    RoleAdded,
    RoleRemoved,
    GroupFilled,
    None,
}

struct Exec<'a> {
    client: &'a Moodle,
    run: &'a WsRun<'a>,
    platform: &'a str,
    max_fields: usize,
    parallel: usize,
    state: Mutex<SyncState>,
    journal: Mutex<Vec<Line>>,
    stopped: Mutex<Option<Error>>,
    write_calls: AtomicUsize,
    /// Groups created by this run, (course, name) → id.
    groups: Mutex<BTreeMap<(String, String), u64>>,
    /// (username, course) whose enrolment was not made: their other operations wait.
    failed: Mutex<BTreeSet<(String, String)>>,
}

impl Exec<'_> {
    fn save(&self) -> Result<(), Error> {
        let state = self.state.lock().map_err(|_| poisoned())?;
        let file = state_file(&state)?;
        let dir = self.run.out.join(self.platform);
        atomic::write_all(self.run.out, &dir, &[file], self.run.file_mode)?;
        Ok(())
    }

    fn stopped(&self) -> bool {
        self.stopped.lock().map_or(true, |s| s.is_some())
    }

    fn note(&self, mut line: Line, result: String) {
        line.result = result;
        if let Ok(mut j) = self.journal.lock() {
            j.push(line);
        }
    }

    fn apply(&self, ops: &Ops, ids: &Ids<'_>) {
        let enrol = |list: &[EnrolOp]| -> Vec<Item> {
            list.iter()
                .filter_map(|e| self.enrol_item(e, ids))
                .collect()
        };
        self.phase("enrol_manual_enrol_users", "enrolments", enrol(&ops.enrol));
        let assign: Vec<Item> = ops
            .assign
            .iter()
            .filter_map(|r| self.role_item(r, ids, true))
            .collect();
        self.phase("core_role_assign_roles", "assignments", assign);
        self.create_groups(&ops.create_groups, ids);
        let add: Vec<Item> = ops
            .add
            .iter()
            .filter_map(|m| self.member_item(m, ids, true))
            .collect();
        self.phase("core_group_add_group_members", "members", add);
        let remove: Vec<Item> = ops
            .remove
            .iter()
            .filter_map(|m| self.member_item(m, ids, false))
            .collect();
        self.phase("core_group_delete_group_members", "members", remove);
        let unassign: Vec<Item> = ops
            .unassign
            .iter()
            .filter_map(|r| self.role_item(r, ids, false))
            .collect();
        self.phase("core_role_unassign_roles", "unassignments", unassign);
        self.phase(
            "enrol_manual_enrol_users",
            "enrolments",
            enrol(&ops.suspend),
        );
    }

    /// An item, or `None` (journaled) when Moodle lacks the user or the role.
    fn enrol_item(&self, e: &EnrolOp, ids: &Ids<'_>) -> Option<Item> {
        let line = Line {
            operation: e.why.name(),
            course: e.course.clone(),
            username: e.username.clone(),
            role: e.role.clone(),
            group: String::new(),
            result: String::new(),
        };
        let (Some(course), Some(user)) = (ids.course(&e.course), ids.users.get(&e.username)) else {
            self.not_made(&e.username, &e.course);
            self.note(line, "not sent: no such user in Moodle".into());
            return None;
        };
        let Some(role) = ids.roles.get(&e.role) else {
            self.not_made(&e.username, &e.course);
            self.note(
                line,
                format!(
                    "not sent: no role id for '{}' (set moodle.role_ids)",
                    e.role
                ),
            );
            return None;
        };
        let made = {
            let state = self.state.lock().ok()?;
            let before = state
                .get(&e.username, &e.course)
                .map(|m| m.roles.clone())
                .unwrap_or_default();
            let mut roles = before;
            if e.why != Why::Suspend {
                roles.insert(e.role.clone());
            }
            Made {
                username: e.username.clone(),
                course: e.course.clone(),
                roles,
                timestart: e.timestart,
                timeend: e.timeend,
                suspended: e.suspend,
                enrolled: true,
            }
        };
        Some(Item {
            line,
            fields: vec![
                ("roleid", role.to_string()),
                ("userid", user.to_string()),
                ("courseid", course.to_string()),
                ("timestart", e.timestart.to_string()),
                ("timeend", e.timeend.to_string()),
                ("suspend", u8::from(e.suspend).to_string()),
            ],
            effect: Effect::Enrolled(made),
        })
    }

    fn role_item(&self, r: &RoleOp, ids: &Ids<'_>, add: bool) -> Option<Item> {
        let line = Line {
            operation: if add { "add_role" } else { "remove_role" },
            course: r.course.clone(),
            username: r.username.clone(),
            role: r.role.clone(),
            group: String::new(),
            result: String::new(),
        };
        if self.waits(&r.username, &r.course) {
            self.note(line, "not sent: the enrolment was not made".into());
            return None;
        }
        let (Some(course), Some(user), Some(role)) = (
            ids.course(&r.course),
            ids.users.get(&r.username),
            ids.roles.get(&r.role),
        ) else {
            self.note(line, "not sent: unknown user or role in Moodle".into());
            return None;
        };
        Some(Item {
            line,
            fields: vec![
                ("roleid", role.to_string()),
                ("userid", user.to_string()),
                ("contextlevel", "course".into()),
                ("instanceid", course.to_string()),
            ],
            effect: if add {
                Effect::RoleAdded
            } else {
                Effect::RoleRemoved
            },
        })
    }

    fn member_item(&self, m: &MemberOp, ids: &Ids<'_>, add: bool) -> Option<Item> {
        let line = Line {
            operation: if add { "add_member" } else { "remove_member" },
            course: m.course.clone(),
            username: m.username.clone(),
            role: String::new(),
            group: m.group.clone(),
            result: String::new(),
        };
        if add && self.waits(&m.username, &m.course) {
            self.note(line, "not sent: the enrolment was not made".into());
            return None;
        }
        let group = ids
            .now
            .get(&m.course)
            .and_then(Option::as_ref)
            .and_then(|c| c.groups.get(&m.group).copied())
            .or_else(|| {
                self.groups
                    .lock()
                    .ok()?
                    .get(&(m.course.clone(), m.group.clone()))
                    .copied()
            });
        let (Some(group), Some(user)) = (group, ids.users.get(&m.username)) else {
            self.note(
                line,
                "not sent: the group or the user is not in Moodle".into(),
            );
            return None;
        };
        Some(Item {
            line,
            fields: vec![("groupid", group.to_string()), ("userid", user.to_string())],
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

    /// Groups are created one call per batch; their ids come back in the answer.
    fn create_groups(&self, list: &[(String, String)], ids: &Ids<'_>) {
        let items: Vec<Item> = list
            .iter()
            .filter_map(|(course, name)| {
                let line = Line {
                    operation: "create_group",
                    course: course.clone(),
                    username: String::new(),
                    role: String::new(),
                    group: name.clone(),
                    result: String::new(),
                };
                let Some(id) = ids.course(course) else {
                    self.note(line, "not sent: course not in Moodle".into());
                    return None;
                };
                Some(Item {
                    line,
                    fields: vec![
                        ("courseid", id.to_string()),
                        ("name", name.clone()),
                        ("description", String::new()),
                    ],
                    effect: Effect::GroupFilled,
                })
            })
            .collect();
        self.phase("core_group_create_groups", "groups", items);
    }

    /// Sends the items in batches that fit `max_fields`, `parallel` at a time.
    fn phase(&self, function: &'static str, array: &'static str, items: Vec<Item>) {
        let Some(width) = items.first().map(|i| i.fields.len()) else {
            return;
        };
        // As many items as max_fields allows, but spread over the parallel requests
        // when there are fewer than that: Moodle works on several at once.
        let fit = (self.max_fields.saturating_sub(3) / width).max(1);
        let per_call = fit.min(items.len().div_ceil(self.parallel)).max(1);
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
            for _ in 0..self.parallel {
                scope.spawn(|| loop {
                    let Some(batch) = queue.lock().ok().and_then(|mut q| q.next()) else {
                        return;
                    };
                    if self.stopped() {
                        for i in batch {
                            self.note(i.line, "not sent: the run stopped".into());
                        }
                        continue;
                    }
                    self.send(function, array, batch);
                });
            }
        });
        tracing::info!(
            function,
            items = count,
            batches = calls,
            seconds = started.elapsed().as_secs_f64(),
            "applied"
        );
    }

    /// One batch; refused as a whole, it is split until the refused item is alone.
    fn send(&self, function: &'static str, array: &'static str, batch: Vec<Item>) {
        if self.stopped() {
            for i in batch {
                self.note(i.line, "not sent: the run stopped".into());
            }
            return;
        }
        self.pending(&batch, true);
        let params: Vec<(String, String)> = batch
            .iter()
            .enumerate()
            .flat_map(|(n, item)| {
                item.fields
                    .iter()
                    .map(move |(k, v)| (format!("{array}[{n}][{k}]"), v.clone()))
            })
            .collect();
        self.write_calls.fetch_add(1, Ordering::Relaxed);
        match self.client.send(function, &params) {
            Err(e) => {
                self.stop(Error::Source(e));
                for i in batch {
                    self.note(i.line, "not sent: the run stopped".into());
                }
            }
            Ok(Ok(answer)) => {
                self.confirmed(function, &batch, &answer);
                for i in batch {
                    self.note(i.line, "ok".into());
                }
            }
            Ok(Err(_)) if batch.len() > 1 => {
                self.pending(&batch, false);
                let mut batch = batch;
                let second = batch.split_off(batch.len() / 2);
                self.send(function, array, batch);
                self.send(function, array, second);
            }
            Ok(Err(refused))
                if function == "core_group_create_groups"
                    && refused.message.contains("same name") =>
            {
                // The group exists (empty, or its members are not active): its id
                // is read, and the members go in it.
                for i in batch {
                    self.existing_group(i);
                }
            }
            Ok(Err(refused)) => {
                self.pending(&batch, false);
                for i in batch {
                    if let Effect::Enrolled(m) = &i.effect {
                        self.not_made(&m.username, &m.course);
                    }
                    self.note(i.line, format!("refused: {}", refused_text(&refused)));
                }
            }
        }
    }

    /// A group that exists already: its id, from the course's groups.
    fn existing_group(&self, i: Item) {
        let course = i
            .fields
            .iter()
            .find(|(k, _)| *k == "courseid")
            .and_then(|(_, v)| v.parse::<u64>().ok());
        let found = course.map(|c| self.client.course_groups(c));
        match found {
            Some(Ok(groups)) => match groups.get(&i.line.group) {
                Some(id) => {
                    if let Ok(mut g) = self.groups.lock() {
                        g.insert((i.line.course.clone(), i.line.group.clone()), *id);
                    }
                    self.note(i.line, "ok (it existed)".into());
                }
                None => self.note(
                    i.line,
                    "refused: the group exists but cannot be read".into(),
                ),
            },
            Some(Err(e)) => {
                self.note(i.line, "not sent: the run stopped".into());
                self.stop(Error::Source(e));
            }
            None => self.note(i.line, "not sent: course not in Moodle".into()),
        }
    }

    /// Enrolments about to be sent are pending in the state (saved) until Moodle
    /// answers; `false` takes them back out.
    fn pending(&self, batch: &[Item], add: bool) {
        let made: Vec<&Made> = batch
            .iter()
            .filter_map(|i| match &i.effect {
                Effect::Enrolled(m) => Some(m),
                _ => None,
            })
            .collect();
        if made.is_empty() {
            return;
        }
        if let Ok(mut s) = self.state.lock() {
            if add {
                s.pending.extend(made.into_iter().cloned());
            } else {
                s.drop_pending(made);
            }
        }
        if add {
            self.save_or_stop();
        }
    }

    fn save_or_stop(&self) {
        if let Err(e) = self.save() {
            self.stop(e);
        }
    }

    fn stop(&self, e: Error) {
        if let Ok(mut s) = self.stopped.lock() {
            s.get_or_insert(e);
        }
    }

    /// Moodle confirmed the batch: the state learns it, and is saved.
    fn confirmed(&self, function: &str, batch: &[Item], answer: &Value) {
        // A group name repeats from course to course: its id is the one Moodle gave
        // in that course.
        let created: BTreeMap<(u64, String), u64> = if function == "core_group_create_groups" {
            answer
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|g| {
                    let course = g.get("courseid")?.as_u64()?;
                    let name = g.get("name")?.as_str()?.to_string();
                    Some(((course, name), g.get("id")?.as_u64()?))
                })
                .collect()
        } else {
            BTreeMap::new()
        };
        if let Ok(mut s) = self.state.lock() {
            s.drop_pending(batch.iter().filter_map(|i| match &i.effect {
                Effect::Enrolled(m) => Some(m),
                _ => None,
            }));
            for i in batch {
                let l = &i.line;
                match &i.effect {
                    Effect::Enrolled(m) => s.record(m.clone()),
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
        if !created.is_empty() {
            if let Ok(mut g) = self.groups.lock() {
                for i in batch {
                    let course = i
                        .fields
                        .iter()
                        .find(|(k, _)| *k == "courseid")
                        .and_then(|(_, v)| v.parse::<u64>().ok());
                    let found = course.and_then(|c| created.get(&(c, i.line.group.clone())));
                    if let Some(id) = found {
                        g.insert((i.line.course.clone(), i.line.group.clone()), *id);
                    }
                }
            }
        }
        self.save_or_stop();
    }
}

fn refused_text(r: &Refused) -> String {
    r.to_string().replace(['\n', '\r'], " ")
}

fn poisoned() -> Error {
    Error::Output(OutputError::Encode {
        what: "the web-service state".into(),
        message: "a worker thread panicked".into(),
    })
}
