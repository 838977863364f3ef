//! `enrolgen explain WHO`: every enrolment planned for one person and the rule that
//! produced it, and every rule whose cohort holds them but did not enrol them, and why.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use chrono::NaiveDate;

use crate::cli::ExplainArgs;
use crate::config;
use crate::error::{exit, Error};
use crate::gather::{gather, plan_rules};
use crate::plan::Plan;

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

pub fn run(args: &ExplainArgs, today: NaiveDate) -> Result<u8, Error> {
    let settings = config::load(&args.config.config)?;
    let as_of = args.as_of.unwrap_or(today);
    let year = settings.year.resolve(as_of);
    let rules: Vec<_> = settings.rules.iter().collect();
    let g = gather(&settings, &rules, &year)?;
    let plan = plan_rules(&settings, rules, &g, &year, as_of);
    // Who: the name given, and the other identifier the directories know for it.
    let who = args.who.trim();
    let mut usernames: BTreeSet<String> = [who.to_lowercase()].into();
    let mut ids: BTreeSet<String> = [who.to_string()].into();
    for idx in g.directories.values() {
        if let Some(a) = idx.by_student_id(who) {
            usernames.insert(a.username.clone());
        }
        if let Some(a) = idx.by_username(who) {
            ids.extend(a.student_ids.iter().cloned());
        }
    }
    match explain(&plan, &usernames, &ids) {
        Some(text) => {
            println!("{who} (year {year}, as of {as_of}):");
            print!("{text}");
            Ok(exit::OK)
        }
        None => {
            println!("{who}: in no cohort of the mapping for year {year} (check the student number or username)");
            Ok(exit::LEFT_OUT)
        }
    }
}
