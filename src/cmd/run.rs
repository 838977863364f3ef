//! `enrolgen run`: the batch. The pipeline gathers and plans; the file channel stages
//! and writes; this module chooses, reports and maps the outcome to an exit code.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;

use chrono::{DateTime, NaiveDate, Utc};

use crate::cli::RunArgs;
use crate::config::{self, Delivery, Settings};
use crate::deliver::files::{self, DeltaRun, Mode, Staged};
use crate::deliver::webservice::{self, WsRun};
use crate::error::{exit, Error, UsageError};
use crate::output::report::{self, Summary};
use crate::output::{atomic, html, monitor};
use crate::pipeline::{self, Gathered};
use crate::plan::{delta, Plan};

/// How much the command says on stderr.
#[derive(Debug, Clone, Copy, Default)]
pub struct Verbosity {
    pub quiet: bool,
    pub verbose: bool,
}

fn mode(args: &RunArgs) -> Mode {
    match (args.delta, args.full) {
        (true, _) => Mode::Delta {
            allow_earlier_as_of: args.allow_earlier_as_of,
        },
        (false, true) => Mode::Full,
        _ => Mode::Snapshot,
    }
}

fn accepted(args: &RunArgs) -> delta::Accept {
    match args.accept_suspensions.as_slice() {
        [] => delta::Accept::None,
        names if names.iter().any(|n| n == "all") => delta::Accept::All,
        names => delta::Accept::Courses(names.iter().map(|n| n.trim().to_string()).collect()),
    }
}

/// `--cohort` is refused for a platform delivered through web services: they apply
/// the whole plan, and a part would suspend the rest.
fn whole_plans_only(
    args: &RunArgs,
    settings: &Settings,
    rules: &[&crate::model::EnrolRule],
) -> Result<(), Error> {
    if args.cohorts.is_empty() {
        return Ok(());
    }
    let by_webservice = rules
        .iter()
        .map(|r| r.platform.as_str())
        .find(|p| settings.by_webservice(p));
    match by_webservice {
        Some(p) => Err(UsageError::WholePlanOnly {
            platform: p.to_string(),
        }
        .into()),
        None => Ok(()),
    }
}

/// One platform through its web services: applied, its warnings said, who was left
/// out written (as for files).
fn by_webservice(
    args: &RunArgs,
    ctx: &pipeline::Context,
    ws_run: &WsRun<'_>,
    p: &crate::model::Platform,
    m: &crate::config::MoodleSettings,
    pp: &crate::plan::PlatformPlan,
    warnings: &mut Vec<String>,
) -> Result<report::PlatformSummary, Error> {
    let (name, settings) = (&p.name, &ctx.settings);
    let client = ctx.moodle(name, m)?;
    let ws = webservice::deliver(&client, ws_run, settings, (p, m), pp)?;
    warnings.extend(report::no_longer_managed(name, &ws.no_longer_managed));
    if let Some((t, _)) = ws_run.turnover {
        warnings.extend(report::kept_for_turnover(
            name,
            &ws.kept_for_turnover,
            t.ends,
        ));
    }
    for h in &ws.held {
        warnings.push(format!(
            "platform {name}: {} suspension(s) in {} held back ({}); check the sources, then run with --accept-suspensions {}",
            h.suspensions, h.course, h.why, h.course
        ));
    }
    if ws.refused > 0 {
        warnings.push(format!(
            "platform {name}: Moodle refused {} operation(s); see {}",
            ws.refused,
            ws.journal.as_deref().unwrap_or("the journal")
        ));
    }
    if !ws.extra_roles.is_empty() {
        warnings.push(format!(
            "platform {name}: {} planned user(s) hold a platform role the plan does not give (given by hand; \
             moodle.remove_extra_roles: true takes them back): {}",
            ws.extra_roles.len(),
            ws.extra_roles.join("; ")
        ));
    }
    if !args.show.dry_run {
        let left = report::left_out_csv(&pp.left_out, p.csv.delimiter)?;
        atomic::write_all(&args.out, &args.out.join(name), &[left], settings.file_mode)?;
    }
    let mut ps = report::platform_summary(pp, &[]);
    ps.webservice = Some(ws);
    Ok(ps)
}

/// Courses named by --accept-suspensions that neither the mapping nor this run's
/// suspensions (held back or sent) know: the operator thinks they accepted, but a
/// course name is case-sensitive, so nothing was. One warning each, with the name
/// meant.
fn unknown_accepted(
    accept: &delta::Accept,
    settings: &Settings,
    platforms: &BTreeMap<String, report::PlatformSummary>,
) -> Vec<String> {
    let delta::Accept::Courses(names) = accept else {
        return Vec::new();
    };
    let mut known: std::collections::BTreeSet<&str> = settings
        .rules
        .iter()
        .flat_map(|r| r.courses.iter().map(String::as_str))
        .collect();
    // A course that has suspensions this run (held back, or sent because the
    // name accepted them) is a name that matches, whether or not the mapping still
    // names it (a course renamed in the mapping leaves its old enrolments).
    for p in platforms.values() {
        let held = p.delta.iter().flat_map(|d| &d.held);
        let held = held.chain(p.webservice.iter().flat_map(|w| &w.held));
        known.extend(held.map(|h| h.course.as_str()));
        let suspending = p.delta.iter().flat_map(|d| {
            d.courses
                .iter()
                .filter(|(_, c)| c.suspended > 0)
                .map(|(name, _)| name.as_str())
        });
        known.extend(suspending);
        known.extend(
            p.webservice
                .iter()
                .flat_map(|w| w.suspending.iter().map(String::as_str)),
        );
    }
    names
        .iter()
        .filter(|n| !known.contains(n.as_str()))
        .map(|n| {
            let meant = crate::suggest::closest(n, known.iter().copied())
                .map(|k| format!(" (did you mean {k}? course names are case-sensitive)"))
                .unwrap_or_default();
            format!("--accept-suspensions {n}: no course of that name in the mapping or among this run's suspensions, so nothing was accepted for it{meant}")
        })
        .collect()
}

/// Locks the output folder before the sources are read (two runs never interleave
/// their writes) and removes what a killed run left.
fn lock(args: &RunArgs) -> Result<Option<atomic::DirLock>, Error> {
    if args.show.dry_run {
        return Ok(None);
    }
    let lock = atomic::DirLock::acquire(&args.out)?;
    let removed = atomic::remove_stale_temporaries(&args.out)?;
    if removed > 0 {
        tracing::info!(removed, "removed temporary files of an interrupted run");
    }
    Ok(Some(lock))
}

/// Reads the sources, with a spinner on stderr only when a person watches.
fn read_sources(
    ctx: &pipeline::Context,
    rules: &[&crate::model::EnrolRule],
    show: bool,
) -> Result<Gathered, Error> {
    let pb = (show && std::io::stderr().is_terminal()).then(|| {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.set_message("reading Apogée and the directories…");
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        pb
    });
    let gathered = ctx.gather(rules);
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let g = gathered?;
    for t in &g.timings {
        tracing::info!(source = %t.source, seconds = t.seconds, records = t.records, requests = t.requests, "source read");
    }
    Ok(g)
}

/// summary.json and report.html, beside the platforms' folders.
fn write_report(
    args: &RunArgs,
    settings: &Settings,
    summary: &Summary,
    plan: &Plan,
    previous: Option<&report::PreviousRun>,
) -> Result<(), Error> {
    let files = html::report_files(
        &html::Page {
            title: mode(args).title(),
            summary,
            plan,
            previous: previous.map(|p| &p.courses),
            personal_data: settings.report_personal_data,
            sheet: false,
        },
        html::ReportName::Top,
    )?;
    atomic::write_all(&args.out, &args.out, &files, settings.file_mode)?;
    Ok(())
}

/// Quiet on success for cron; the summary for a person at a terminal, or with -v.
fn tell(args: &RunArgs, summary: &Summary, verbosity: Verbosity) -> Result<(), Error> {
    if args.show.json {
        println!("{}", summary.to_json()?.trim_end());
    }
    if verbosity.quiet {
        return Ok(());
    }
    if verbosity.verbose || std::io::stderr().is_terminal() {
        eprint!("{}", summary.human());
        if !args.show.dry_run {
            eprintln!("  report: {}", args.out.join("report.html").display());
        }
    } else {
        for w in &summary.warnings {
            crate::output::say::warning(w);
        }
    }
    Ok(())
}

/// Held-back suspensions first: they wait for a decision.
fn exit_code(settings: &Settings, summary: &Summary) -> u8 {
    let held = summary.platforms.values().any(|p| {
        p.delta.as_ref().is_some_and(|d| !d.held.is_empty())
            || p.webservice.as_ref().is_some_and(|w| !w.held.is_empty())
    });
    let too_many_left_out = match settings.max_left_out_ratio {
        Some(max) if summary.left_out_ratio > max => {
            eprintln!(
                "enrolgen: {:.1}% of enrolments left out (excluding duplicates and deferred accounts), above max_left_out_ratio {:.1}%",
                summary.left_out_ratio * 100.0,
                max * 100.0
            );
            true
        }
        _ => false,
    };
    let refused = summary
        .platforms
        .values()
        .any(|p| p.webservice.as_ref().is_some_and(|w| w.refused > 0));
    if refused {
        exit::REFUSED
    } else if held {
        exit::HELD_BACK
    } else if too_many_left_out {
        exit::LEFT_OUT
    } else {
        exit::OK
    }
}

/// The run, then its end recorded for monitoring (`output::monitor`): last-run.json
/// and the Prometheus file, written whatever the outcome (not for `--dry-run`).
pub fn run(
    args: &RunArgs,
    today: NaiveDate,
    now: DateTime<Utc>,
    verbosity: Verbosity,
) -> Result<u8, Error> {
    let started = std::time::Instant::now();
    let loaded = config::load(&args.config.config);
    let (prometheus_file, file_mode) = loaded
        .as_ref()
        .map_or((None, config::DEFAULT_FILE_MODE), |s| {
            (s.prometheus_file.clone(), s.file_mode)
        });
    let result = loaded.map_err(Error::from).and_then(|settings| {
        let ctx = pipeline::Context::new(settings, args.as_of.day(today)?);
        run_loaded(args, &ctx, verbosity)
    });
    // A failed run records its end only in an output folder that exists: it never
    // makes one (a mistyped --out, a configuration error before the first run). A
    // run the lock refused did nothing: the run holding the lock records its own.
    let locked_out = matches!(
        &result,
        Err(Error::Output(crate::output::OutputError::Locked { .. }))
    );
    if !args.show.dry_run && !locked_out && (result.is_ok() || args.out.is_dir()) {
        let (exit_code, error) = match &result {
            Ok(code) => (*code, None),
            Err(e) => (e.exit_code(), Some(crate::error_chain(e))),
        };
        let ended = monitor::Ended {
            finished: now + started.elapsed(),
            seconds: started.elapsed().as_secs_f64(),
            exit_code,
            outcome: outcome(exit_code),
            error,
        };
        if let Err(e) = monitor::record(&args.out, prometheus_file.as_deref(), ended, file_mode) {
            tracing::warn!(
                "cannot record the run for monitoring: {}",
                crate::error_chain(&e)
            );
        }
    }
    result
}

/// How monitoring reads an exit code: files written (0), written but a person is
/// needed (1: too many left out, 5: suspensions held back, 7: applied, with
/// operations Moodle refused), or not done.
pub fn outcome(exit_code: u8) -> monitor::Outcome {
    match exit_code {
        exit::OK => monitor::Outcome::Ok,
        exit::LEFT_OUT | exit::HELD_BACK | exit::REFUSED => monitor::Outcome::Attention,
        _ => monitor::Outcome::Failed,
    }
}

/// What the academic year changes tonight: the courses of earlier years no longer
/// managed, by platform; the re-registration window and, while it is open, the
/// previous year's enrolments it keeps.
struct YearTurn {
    earlier_courses: BTreeMap<String, BTreeSet<String>>,
    turnover: Option<crate::config::years::Turnover>,
    last_year: BTreeMap<String, BTreeSet<crate::model::UserCourse>>,
}

fn year_turn(
    ctx: &pipeline::Context,
    plan: &crate::plan::Plan,
    rules: Vec<&crate::model::EnrolRule>,
    mode: &Mode,
) -> Result<YearTurn, Error> {
    let settings = &ctx.settings;
    let earlier_courses = plan
        .platforms
        .keys()
        .map(|n| (n.clone(), settings.earlier_courses(n, &ctx.year)))
        .collect();
    let turnover = settings.turnover(ctx.as_of);
    let keeps = settings
        .platforms
        .values()
        .any(|p| p.delivery.is_webservice())
        || matches!(mode, Mode::Delta { .. });
    let last_year = match turnover {
        Some(t) if t.open && keeps => ctx.previous_year(rules)?,
        _ => BTreeMap::new(),
    };
    Ok(YearTurn {
        earlier_courses,
        turnover,
        last_year,
    })
}

/// A files platform's night, staged: a first night reads what Moodle holds first,
/// to write only what differs.
fn stage_files(
    args: &RunArgs,
    ctx: &pipeline::Context,
    (p, pp): (&crate::model::Platform, &crate::plan::PlatformPlan),
    (delta_run, moodle): (&DeltaRun<'_>, Option<&crate::config::MoodleSettings>),
    sources: &mut Vec<crate::model::SourceTiming>,
    warnings: &mut Vec<String>,
) -> Result<(Staged, report::PlatformSummary), Error> {
    let pf = files::render_one(p, pp)?;
    let client = |ms: &crate::config::MoodleSettings| ctx.moodle(&p.name, ms);
    let client: &files::Client<'_> = &client;
    let first = files::first_night(
        &args.out,
        &p.name,
        pp,
        delta_run,
        moodle.map(|m| (m, client)),
    )?;
    let now = first.map(|(now, timing)| {
        sources.push(timing);
        now
    });
    let (s, d) = files::stage(&args.out, &pf, pp, (delta_run, now.as_ref()), warnings)?;
    let summary = files::summarize(pp, &pf, &s, d);
    Ok((s, summary))
}

/// A web-service platform's summary; one whose Moodle failed (out of reach, or
/// refusing what it needs) says so and is kept in `failed`, so that the others are
/// still done and the run then fails. Any other error stops the run.
fn platform_failed(
    done: Result<report::PlatformSummary, Error>,
    (name, pp): (&str, &crate::plan::PlatformPlan),
    warnings: &mut Vec<String>,
    failed: &mut Vec<Error>,
) -> Result<report::PlatformSummary, Error> {
    match done {
        Ok(summary) => Ok(summary),
        Err(e @ Error::Source(_)) => {
            let why = crate::error_chain(&e);
            warnings.push(format!("platform {name}: not done: {why}"));
            failed.push(e);
            Ok(report::PlatformSummary {
                failed: Some(why),
                ..report::platform_summary(pp, &[])
            })
        }
        Err(e) => Err(e),
    }
}

/// What tonight asks of each channel.
fn channel_runs<'a>(
    args: &'a RunArgs,
    ctx: &'a pipeline::Context,
    (accept, turn): (&'a crate::plan::delta::Accept, &'a YearTurn),
    mode: Mode,
) -> (DeltaRun<'a>, WsRun<'a>) {
    let settings = &ctx.settings;
    let turnover = turn.turnover.map(|t| (t, &turn.last_year));
    let delta_run = DeltaRun {
        earlier_courses: &turn.earlier_courses,
        turnover,
        limits: &settings.suspend_limits,
        mode,
        as_of: ctx.as_of,
        accept,
        dry_run: args.show.dry_run,
    };
    let ws_run = WsRun {
        out: &args.out,
        as_of: ctx.as_of,
        dry_run: args.show.dry_run,
        limits: &settings.suspend_limits,
        accept,
        file_mode: settings.file_mode,
        allow_earlier_as_of: args.allow_earlier_as_of,
        earlier_courses: &turn.earlier_courses,
        turnover,
    };
    (delta_run, ws_run)
}

fn run_loaded(args: &RunArgs, ctx: &pipeline::Context, verbosity: Verbosity) -> Result<u8, Error> {
    let (settings, as_of, year) = (&ctx.settings, ctx.as_of, &ctx.year);
    let rules = pipeline::select_rules(settings, &args.platforms, &args.cohorts)?;
    whole_plans_only(args, settings, &rules)?;
    let mode = mode(args);
    let _lock = lock(args)?;
    let g = read_sources(ctx, &rules, !verbosity.quiet)?;
    // Before anything is written: a source that shrank stops the run.
    // The previous run, read once: its sources for the guard, its courses for the report.
    let previous = report::previous_run(&args.out);
    let mut warnings = pipeline::shrink::guard(previous.as_ref(), &g.timings, args.accept_shrink)?;
    let rules_again = rules.clone();
    let (mut plan, asked) = ctx.road(rules, &g)?;
    let mut sources = g.timings.clone();
    sources.extend(asked);
    let accept = accepted(args);
    let turn = year_turn(ctx, &plan, rules_again, &mode)?;
    let (delta_run, ws_run) = channel_runs(args, ctx, (&accept, &turn), mode);
    let mut staged: Vec<Staged> = Vec::new();
    let mut platforms = BTreeMap::new();
    // A platform whose Moodle failed (out of reach, or refusing what it needs):
    // the others are still done, the summary still written, the run then fails.
    let mut failed: Vec<Error> = Vec::new();
    // One way to Moodle per platform: files are prepared here and written below,
    // all at once; web services apply the plan now.
    for (name, pp) in &plan.platforms {
        let p = pipeline::platform(settings, name)?;
        let summary = match &p.delivery {
            Delivery::Files { moodle } => {
                let moodle = moodle.as_ref();
                let (s, summary) = stage_files(
                    args,
                    ctx,
                    (p, pp),
                    (&delta_run, moodle),
                    &mut sources,
                    &mut warnings,
                )?;
                staged.push(s);
                summary
            }
            Delivery::Webservice(m) => {
                let done = by_webservice(args, ctx, &ws_run, p, m, pp, &mut warnings);
                platform_failed(done, (name, pp), &mut warnings, &mut failed)?
            }
        };
        platforms.insert(name.clone(), summary);
    }
    warnings.extend(unknown_accepted(&accept, settings, &platforms));
    // Pending manual changes and held-back suspensions are warnings, so that cron
    // mails them every night until they are dealt with.
    plan.warnings.extend(warnings);
    let summary = Summary {
        as_of: as_of.to_string(),
        year: year.clone(),
        dry_run: args.show.dry_run,
        platforms,
        sources,
        warnings: plan.all_warnings(),
        left_out_ratio: crate::plan::left_out_ratio(plan.platforms.values()),
        moodle: BTreeMap::new(),
    };
    if args.show.dry_run {
        files::print(&staged);
    } else {
        files::write(&args.out, &staged, settings.file_mode)?;
        write_report(args, settings, &summary, &plan, previous.as_ref())?;
    }
    tell(args, &summary, verbosity)?;
    match failed.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(exit_code(settings, &summary)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Before: exit 7 (applied, with refusals) was "failed", so `last_success`
    /// stopped advancing although the run had applied its plan.
    #[test]
    fn a_run_that_wrote_or_applied_is_never_failed_for_monitoring() {
        for code in [exit::LEFT_OUT, exit::HELD_BACK, exit::REFUSED] {
            assert_eq!(outcome(code), monitor::Outcome::Attention, "exit {code}");
        }
        assert_eq!(outcome(exit::OK), monitor::Outcome::Ok);
        for code in [exit::CONFIG, exit::SOURCE, exit::OUTPUT] {
            assert_eq!(outcome(code), monitor::Outcome::Failed, "exit {code}");
        }
    }
}
