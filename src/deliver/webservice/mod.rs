//! The web-service channel (`deliver: webservice`): reads what Moodle holds, computes
//! the operations that bring it to the plan (`plan::sync`), applies them in batches
//! (`apply`, against any `MoodleApi`), and journals what was sent and answered as it
//! happens (`journal`).
//!
//! Safe to interrupt: an enrolment is pending in the state (saved) while its batch is
//! out, and the journal has its `sent` line; the next run adopts what Moodle holds
//! and journals what became of every unanswered operation.

mod apply;
pub mod journal;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use chrono::NaiveDate;

use crate::config::{MoodleSettings, Settings};
use crate::error::Error;
use crate::model::{MoodleNow, Platform, SuspendLimits};
use crate::output::report::WsSummary;
use crate::output::{atomic, state, OutputError};
use crate::plan::delta::Accept;
use crate::plan::sync::{self, Ops, SyncState};
use crate::plan::PlatformPlan;
use crate::source::moodle::Moodle;
use crate::source::moodle_api::MoodleApi;
use crate::template::Template;

use journal::{Journal, Line, Outcome};

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

/// What a run asks of the channel.
pub struct WsRun<'a> {
    pub out: &'a Path,
    pub as_of: NaiveDate,
    pub dry_run: bool,
    pub limits: &'a SuspendLimits,
    pub accept: &'a Accept,
    pub file_mode: u32,
    /// Accept an --as-of earlier than the last run's (replaying a past day).
    pub allow_earlier_as_of: bool,
    /// By platform, the courses of earlier academic years no longer managed.
    pub earlier_courses: &'a BTreeMap<String, BTreeSet<String>>,
    /// The re-registration window, and while it is open the previous year's
    /// enrolments by platform (`Context::previous_year`).
    pub turnover: Option<(
        crate::config::years::Turnover,
        &'a BTreeMap<String, BTreeSet<crate::model::UserCourse>>,
    )>,
}

impl WsRun<'_> {
    /// The window as `platform`'s night sees it.
    fn turnover(&self, platform: &str) -> crate::plan::delta::Turnover<'_> {
        crate::plan::delta::Turnover::of(self.turnover, platform)
    }

    /// Forgets `platform`'s courses of earlier years (`SyncState::retire`).
    fn retire(&self, platform: &str, state: &mut SyncState) -> BTreeMap<String, usize> {
        self.earlier_courses
            .get(platform)
            .map(|e| state.retire(e))
            .unwrap_or_default()
    }
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

/// The platform's state, if it fits this run (`output::state`'s guards): the same
/// platform and site, not an earlier day, not older than the last journal.
fn load_state(
    run: &WsRun<'_>,
    platform: &str,
    moodle: &MoodleSettings,
) -> Result<SyncState, Error> {
    let dir = run.out.join(platform);
    let Some(s) = state::load::<SyncState>(&dir, state::WEBSERVICE).map_err(OutputError::from)?
    else {
        return Ok(SyncState::default());
    };
    let path = dir.join(state::WEBSERVICE.file);
    let site = crate::config::shown_url(&moodle.url);
    let expect = state::Expect {
        kind: state::WEBSERVICE,
        platform,
        site: Some(&site),
        as_of: run.as_of,
        allow_earlier_as_of: run.allow_earlier_as_of,
    };
    state::check(&path, &s.header, &expect).map_err(OutputError::from)?;
    let recorded = s
        .header
        .journal
        .as_deref()
        .and_then(|j| j.strip_prefix("applied-"))
        .and_then(|j| j.strip_suffix(".csv"))
        .and_then(|n| n.parse::<u32>().ok());
    // The journals an operator may clean up, and the number no clean-up removes.
    let last =
        crate::output::outbox::highest_number(&dir, "applied").max(journal::last_journal(&dir));
    if let Some(n) = recorded.filter(|n| last > *n) {
        let newer = format!("applied-{last:04}.csv (the state was saved with applied-{n:04}.csv)");
        return Err(OutputError::from(state::older(&path, state::WEBSERVICE, newer)).into());
    }
    Ok(s.sorted())
}

/// Applies the platform's plan through its web services.
pub fn deliver(
    client: &Moodle,
    run: &WsRun<'_>,
    settings: &Settings,
    (platform, moodle): (&Platform, &MoodleSettings),
    pp: &PlatformPlan,
) -> Result<WsSummary, Error> {
    let templates = templates(settings, &platform.name);
    deliver_to(client, run, platform, moodle, &templates, pp)
}

/// `deliver` against any Moodle.
pub fn deliver_to(
    client: &dyn MoodleApi,
    run: &WsRun<'_>,
    platform: &Platform,
    moodle: &MoodleSettings,
    templates: &BTreeMap<String, Vec<Template>>,
    pp: &PlatformPlan,
) -> Result<WsSummary, Error> {
    // The client may have asked about accounts already: this night's calls only.
    let (started, before) = (Instant::now(), client.requests());
    let dir = run.out.join(&platform.name);
    let mut state = load_state(run, &platform.name, moodle)?;
    let retired = run.retire(&platform.name, &mut state);
    let now = client.read_courses(&courses_to_read(pp, &state))?;
    // When Moodle answered: what "active now" meant in its answer.
    let moment = chrono::Utc::now().timestamp();
    let ctx = sync::Context {
        roles: platform.roles.as_ref(),
        templates,
        limits: run.limits,
        accept: run.accept,
        as_of: run.as_of,
        zone: moodle.timezone,
        remove_extra_roles: moodle.remove_extra_roles,
        turnover: run.turnover(&platform.name),
    };
    if run.dry_run {
        state.settle(&now, moment);
        let ops = sync::operations(&pp.enrolments, &now, &state, &ctx);
        print(&platform.name, &ops);
        let summary = WsSummary {
            calls: client.requests() - before,
            seconds: started.elapsed().as_secs_f64(),
            ..Default::default()
        };
        return Ok(with_ops(summary, &ops, retired));
    }
    let journal = Journal::next(run.out, &dir, run.file_mode);
    let adoption = settle(&dir, &mut state, (&now, moment), &journal)?;
    let ops = sync::operations(&pp.enrolments, &now, &state, &ctx);
    state.kept = ops.kept.clone();
    let role_ids = role_ids(moodle, &now);
    let users = user_ids(client, &now, &ops)?;
    state.header = crate::model::StateHeader {
        version: state::FORMAT,
        platform: Some(platform.name.clone()),
        site: Some(crate::config::shown_url(&moodle.url)),
        as_of: Some(run.as_of),
        journal: Some(journal.name().to_string()),
        by_idnumber: pp.by_idnumber.clone(),
    };
    let save = |s: &SyncState| save_state(run, &platform.name, s);
    save(&state)?;
    let ids = apply::Ids {
        now: &now,
        users: &users,
        roles: &role_ids,
    };
    let applied = apply::apply(client, &ops, &ids, state, &journal, &save);
    save(&applied.state)?;
    if let Some(e) = applied.stopped {
        return Err(e);
    }
    let mut summary = summarize(&journal.lines());
    if !moodle.remove_extra_roles {
        summary.extra_roles =
            crate::plan::verify::extra_role_lines(pp, &now, platform.roles.as_ref());
    }
    let mut summary = with_ops(summary, &ops, retired);
    summary.adopted = adoption;
    summary.write_calls = applied.write_calls;
    summary.calls = client.requests() - before;
    if journal.is_written() {
        summary.journal = Some(format!("{}/{}", platform.name, journal.name()));
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Every course the night must read: planned, or where enrolgen made something.
fn courses_to_read(pp: &PlatformPlan, state: &SyncState) -> Vec<String> {
    let courses: BTreeSet<String> = pp
        .enrolments
        .keys()
        .map(|k| k.course.clone())
        .chain(state.enrolments.iter().map(|m| m.course.clone()))
        .chain(state.pending.iter().map(|m| m.course.clone()))
        .chain(state.groups.keys().cloned())
        .collect();
    courses.into_iter().collect()
}

/// The summary with what the night's operations leave for a person to know: held
/// back, suspending, missing courses, courses no longer managed, enrolments kept.
fn with_ops(summary: WsSummary, ops: &sync::Ops, retired: BTreeMap<String, usize>) -> WsSummary {
    WsSummary {
        held: ops.held.clone(),
        suspending: ops.suspend.iter().map(|x| x.course.clone()).collect(),
        missing_courses: ops.missing_courses.iter().cloned().collect(),
        no_longer_managed: retired,
        kept_for_turnover: kept_by_course(&ops.kept),
        ..summary
    }
}

/// How many enrolments each course keeps for the turnover.
fn kept_by_course(kept: &BTreeSet<crate::model::UserCourse>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for k in kept {
        *out.entry(k.course.clone()).or_default() += 1;
    }
    out
}

/// What a stopped run left, settled: its pending enrolments (adopted into the state
/// only where Moodle, read at `moment`, shows their effect; sent again otherwise),
/// and the operations its journal sent without an answer, each given its line in
/// this run's journal. Returns the adoptions.
fn settle(
    dir: &Path,
    state: &mut SyncState,
    (now, moment): (&MoodleNow, i64),
    journal: &Journal,
) -> Result<usize, Error> {
    let (adopted, lost) = state.settle(now, moment);
    journal.write(&resolved(dir, &adopted, &lost, now))?;
    Ok(adopted.len())
}

/// The journal's lines for what a killed run left: its pending enrolments (adopted
/// when Moodle holds them, else not made), and the other operations its journal
/// sent without an answer, looked up in what Moodle holds now.
fn resolved(dir: &Path, adopted: &[sync::Made], lost: &[sync::Made], now: &MoodleNow) -> Vec<Line> {
    let (by, unanswered) = journal::unanswered(dir);
    let pending_line = |m: &sync::Made, adopted: bool| {
        let by = m.journal.clone().unwrap_or_else(|| by.clone());
        let sent = m.sent.unwrap_or(sync::Why::New);
        Line {
            operation: sent.name(),
            course: m.course.clone(),
            username: m.username.clone(),
            role: m.roles.iter().next().cloned().unwrap_or_default(),
            group: String::new(),
            result: match (adopted, sent) {
                (true, _) => Outcome::Adopted(by),
                (false, sync::Why::New) => Outcome::NotMade(by),
                (false, _) => Outcome::Unseen(by),
            },
        }
    };
    let mut lines: Vec<Line> = adopted
        .iter()
        .map(|m| pending_line(m, true))
        .chain(lost.iter().map(|m| pending_line(m, false)))
        .collect();
    for l in unanswered {
        let course = now.get(&l.course).and_then(Option::as_ref);
        let user = course.and_then(|c| c.user(&l.username)).map(|(u, _)| u);
        let holds = match l.operation {
            "add_role" => user.is_some_and(|u| u.roles.contains(&l.role)),
            "remove_role" => user.is_none_or(|u| !u.roles.contains(&l.role)),
            "add_member" => user.is_some_and(|u| u.groups.contains(&l.group)),
            "remove_member" => user.is_none_or(|u| !u.groups.contains(&l.group)),
            "create_group" => course.is_some_and(|c| c.groups.contains_key(&l.group)),
            // Enrolments are the state's pending ones, above.
            _ => continue,
        };
        lines.push(Line {
            result: if holds {
                Outcome::Adopted(by.clone())
            } else {
                Outcome::NotMade(by.clone())
            },
            ..l
        });
    }
    lines
}

/// The summary's counts, from the journal: the last word on each operation.
fn summarize(lines: &[Line]) -> WsSummary {
    let mut s = WsSummary::default();
    for l in lines {
        match &l.result {
            Outcome::Sent | Outcome::Adopted(_) | Outcome::NotMade(_) | Outcome::Unseen(_) => {}
            Outcome::NoAnswer => s.not_sent += 1,
            Outcome::Ok => *s.applied.entry(l.operation.to_string()).or_default() += 1,
            Outcome::Refused(why) => {
                s.refused += 1;
                *s.refused_by_function
                    .entry(function_of(l.operation).to_string())
                    .or_default() += 1;
                s.refused_rows.push(format!(
                    "{} {} in {} ({}{}): refused: {why}",
                    l.operation, l.username, l.course, l.role, l.group
                ));
            }
            Outcome::NotSent(_) => s.not_sent += 1,
        }
    }
    s
}

/// The web-service function behind a journal operation.
fn function_of(operation: &str) -> &'static str {
    match operation {
        "add_role" => "core_role_assign_roles",
        "remove_role" => "core_role_unassign_roles",
        "create_group" => "core_group_create_groups",
        "add_member" => "core_group_add_group_members",
        "remove_member" => "core_group_delete_group_members",
        _ => "enrol_manual_enrol_users",
    }
}

fn save_state(run: &WsRun<'_>, platform: &str, s: &SyncState) -> Result<(), Error> {
    let file = state::render(state::WEBSERVICE, s)?;
    let dir = run.out.join(platform);
    atomic::write_all(run.out, &dir, &[file], run.file_mode)?;
    Ok(())
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

/// The user ids the operations need: those the read of the courses gave, and the
/// others (new enrolments; every user when the courses were read through the
/// participants report, which names users only) asked of Moodle in batches.
fn user_ids(
    client: &dyn MoodleApi,
    now: &MoodleNow,
    ops: &Ops,
) -> Result<BTreeMap<String, u64>, Error> {
    let mut ids: BTreeMap<String, u64> = BTreeMap::new();
    for c in now.values().flatten() {
        for (u, e) in c.active.iter().chain(&c.inactive) {
            if let Some(id) = e.id {
                ids.insert(u.clone(), id);
            }
        }
    }
    let enrolments = ops.enrol.iter().chain(&ops.suspend).map(|e| &e.username);
    let roles = ops.assign.iter().chain(&ops.unassign).map(|r| &r.username);
    let members = ops.add.iter().chain(&ops.remove).map(|m| &m.username);
    let unknown: BTreeSet<&str> = enrolments
        .chain(roles)
        .chain(members)
        .map(String::as_str)
        .filter(|u| !ids.contains_key(*u))
        .collect();
    if !unknown.is_empty() {
        let unknown: Vec<&str> = unknown.into_iter().collect();
        ids.extend(client.user_ids(&unknown)?);
    }
    Ok(ids)
}
