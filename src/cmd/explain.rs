//! `enrolgen explain WHO`: every enrolment planned for one person and the rule that
//! produced it, and every rule whose cohort holds them but did not enrol them, and why.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use chrono::NaiveDate;

use crate::cli::ExplainArgs;

use crate::error::{exit, Error};
use crate::model::Account;
use crate::pipeline::Context;
use crate::plan::{account_status, Plan};

/// The plain-text explanation; `None` when the person appears nowhere.
pub fn explain(
    plan: &Plan,
    usernames: &BTreeSet<String>,
    ids: &BTreeSet<String>,
) -> Option<String> {
    let mut planned = String::new();
    let mut left = String::new();
    for (platform, pp) in &plan.platforms {
        for e in pp
            .enrolments
            .values()
            .filter(|e| usernames.contains(&e.username))
        {
            let rules: Vec<String> = e.rules.iter().map(|r| format!("#{r}")).collect();
            let cohorts: Vec<&str> = e.cohorts.iter().map(String::as_str).collect();
            let _ = write!(
                planned,
                "  {platform}: {} as {} (username {})",
                e.course, e.role, e.username
            );
            if !e.groups.is_empty() {
                let _ = write!(
                    planned,
                    ", group {}",
                    e.groups.iter().cloned().collect::<Vec<_>>().join(" + ")
                );
            }
            if let Some(p) = e.enrolperiod {
                let _ = write!(planned, ", {p} days");
            }
            if let Some(s) = e.enrolstatus {
                let _ = write!(planned, ", status {s}");
            }
            let _ = writeln!(
                planned,
                " — rule {} (cohort {})",
                rules.join(", "),
                cohorts.join(", ")
            );
        }
        let mine = pp.left_out.iter().filter(|l| {
            usernames.contains(&l.username.to_lowercase())
                || (!l.student_id.is_empty() && ids.contains(&l.student_id))
        });
        for l in mine {
            let _ = writeln!(
                left,
                "  {platform}: {} as {} — rule #{} (cohort {}): {}: {}",
                l.course, l.role, l.rule, l.cohort, l.reason, l.detail
            );
        }
    }
    if planned.is_empty() && left.is_empty() {
        return None;
    }
    let mut out = String::new();
    out.push_str(if planned.is_empty() {
        "Planned: nothing\n"
    } else {
        "Planned:\n"
    });
    out.push_str(&planned);
    if !left.is_empty() {
        out.push_str("Not enrolled:\n");
        out.push_str(&left);
    }
    Some(out)
}

/// An account's state: each value, the attribute it came from and its dates, and
/// what it means on the as-of date.
fn describe_account(a: &Account, as_of: NaiveDate) -> String {
    let mut out = format!(
        "Account {} ({}, username {}):\n",
        a.dn, a.directory, a.username
    );
    if a.states.is_empty() {
        out.push_str("  state: no {COMPTE} value (active)\n");
    }
    for v in &a.states {
        let _ = write!(out, "  {}: {}", v.attribute, v.raw);
        match &v.reading {
            Ok(r) => {
                let _ = write!(out, " — {}", r.state);
                if let Some(s) = &r.sub_state {
                    let _ = write!(out, " ({s})");
                }
                match (r.start, r.end) {
                    (None, None) => {}
                    (Some(s), None) => {
                        let _ = write!(out, ", from {s}");
                    }
                    (None, Some(e)) => {
                        let _ = write!(out, ", until {e}");
                    }
                    (Some(s), Some(e)) => {
                        let _ = write!(out, ", from {s} until {e}");
                    }
                }
                out.push('\n');
            }
            Err(why) => {
                let _ = writeln!(out, " — cannot be read: {why}");
            }
        }
    }
    let verdict = match account_status::status(a, as_of) {
        account_status::Status::Active => "active".to_string(),
        account_status::Status::NotYet(d) => format!("not active yet: {d}"),
        account_status::Status::Inactive(d) => format!("not usable: {d}"),
        account_status::Status::Unreadable(d) => format!("refused: {d}"),
    };
    let _ = writeln!(out, "  on {as_of}: {verdict}");
    out
}

pub fn run(args: &ExplainArgs, today: NaiveDate) -> Result<u8, Error> {
    let ctx = Context::open(&args.config.config, args.as_of.day(today)?)?;
    let (as_of, year) = (ctx.as_of, &ctx.year);
    let rules: Vec<_> = ctx.settings.rules.iter().collect();
    let g = ctx.gather(&rules)?;
    let plan = ctx.plan(rules, &g);
    // Who: the name given, and the other identifier the directories know for it.
    let who = args.who.trim();
    let mut usernames: BTreeSet<String> = [who.to_lowercase()].into();
    let mut ids: BTreeSet<String> = [who.to_string()].into();
    // Every account the name matches, each once: several mean an ambiguous identity,
    // which the left-out lines below explain.
    let mut accounts = String::new();
    for idx in g.directories.values() {
        let mut seen = BTreeSet::new();
        let by_id = idx.with_student_id(who);
        let by_name = idx.with_username(who);
        for a in &by_id {
            usernames.extend(a.all_usernames().map(str::to_string));
        }
        for a in &by_name {
            ids.extend(a.student_ids.iter().cloned());
        }
        for a in by_id.into_iter().chain(by_name) {
            if seen.insert(&a.dn) {
                accounts.push_str(&describe_account(a, as_of));
            }
        }
    }
    // The platforms whose Moodle decides their accounts are asked about this
    // person's alone.
    let mut plan = plan;
    for pp in plan.platforms.values_mut() {
        pp.enrolments.retain(|k, _| usernames.contains(&k.username));
    }
    ctx.ask_platforms(&mut plan)?;
    // By idnumber, the platform's Moodle gave the account's username of its own.
    for pp in plan.platforms.values() {
        usernames.extend(pp.enrolments.keys().map(|k| k.username.clone()));
    }
    // The information systems the cohorts were read from, as the report names them.
    let systems: Vec<&str> = g
        .timings
        .iter()
        .filter(|t| t.id == "apogee" || t.id == "pegase")
        .map(|t| t.source.as_str())
        .collect();
    let read_from = if systems.is_empty() {
        String::new()
    } else {
        format!(" read from {}", systems.join(" and "))
    };
    match explain(&plan, &usernames, &ids) {
        Some(text) => {
            println!("{who} (year {year}, as of {as_of}; cohorts{read_from}):");
            print!("{accounts}{text}");
            Ok(exit::OK)
        }
        None => {
            println!("{who}: in no cohort of the mapping for year {year}{read_from} (check the student number or username)");
            Ok(exit::LEFT_OUT)
        }
    }
}
