//! `enrolgen verify`: reads what Moodle holds for the plan's courses, through its REST
//! web services, and writes the differences (`OUT/<platform>/verify.csv`) with their
//! counts in summary.json and report.html.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use chrono::NaiveDate;

use crate::cli::VerifyArgs;
use crate::config::Settings;
use crate::error::{exit, Error, UsageError};
use crate::model::Enrolment;
use crate::moodle::{self, LintOptions};
use crate::output::report::{self, MoodleCheck, SourceTiming, Summary};
use crate::output::{atomic, html, OutputError, RenderedFile};
use crate::pipeline::Context;
use crate::plan::verify::{self as compare, Difference, Scope};
use crate::plan::{Plan, PlatformPlan};

/// The platforms to verify: those named, else every one with a Moodle connection.
fn platforms<'a>(s: &'a Settings, asked: &'a [String]) -> Result<Vec<&'a str>, Error> {
    if asked.is_empty() {
        let connected: Vec<&str> = s.connections().map(|(n, _)| n).collect();
        if connected.is_empty() {
            return Err(UsageError::NoConnections {
                file: s.file.clone(),
            }
            .into());
        }
        return Ok(connected);
    }
    for p in asked {
        crate::pipeline::platform(s, p)?;
        if s.moodle(p).is_none() {
            return Err(UsageError::NoConnection {
                platform: p.clone(),
                file: s.file.clone(),
            }
            .into());
        }
    }
    Ok(asked.iter().map(String::as_str).collect())
}

/// A plan made of one upload file's rows (for `verify --file`).
fn plan_of_file(path: &std::path::Path, platform: &str) -> Result<Plan, Error> {
    let bytes = crate::source::read_input(path)?;
    let report = moodle::lint(&bytes, &LintOptions::default());
    let Some(delimiter) = report.delimiter.filter(|_| report.is_clean()) else {
        return Err(UsageError::NotCleanUpload {
            path: path.to_path_buf(),
        }
        .into());
    };
    let mut pp = PlatformPlan::default();
    for (username, course, role, group) in moodle::upload_enrolments(&bytes, delimiter) {
        let e = pp
            .enrolments
            .entry(crate::model::UserCourse::new(&username, &course))
            .or_insert_with(|| Enrolment {
                username,
                course,
                role: role.clone(),
                groups: Default::default(),
                enrolperiod: None,
                enrolstatus: None,
                enroltimestart: None,
                rules: Vec::new(),
                cohorts: Vec::new(),
            });
        if !group.is_empty() {
            e.groups.insert(group);
        }
    }
    let mut plan = Plan::default();
    plan.platforms.insert(platform.to_string(), pp);
    Ok(plan)
}

/// verify.csv: `problem;course;username;role;expected;actual`, sorted.
fn verify_csv(diffs: &[Difference]) -> Result<RenderedFile, OutputError> {
    let header = [
        "problem", "course", "username", "role", "expected", "actual",
    ];
    let rows = diffs.iter().map(|d| {
        [
            d.problem.code(),
            &d.course,
            &d.username,
            &d.role,
            &d.expected,
            &d.actual,
        ]
    });
    let bytes =
        crate::csvio::write_records("verify.csv", b';', std::iter::once(header).chain(rows))?;
    Ok(RenderedFile {
        name: "verify.csv".into(),
        bytes,
    })
}

/// The plan to compare: one upload file's rows, or the whole plan as `run` makes it.
fn the_plan(
    args: &VerifyArgs,
    ctx: &Context,
    names: &[&str],
) -> Result<(Plan, Vec<SourceTiming>, Scope), Error> {
    if let Some(file) = &args.file {
        let [one] = names else {
            return Err(UsageError::OneFileOnePlatform.into());
        };
        return Ok((plan_of_file(file, one)?, Vec::new(), Scope::Rows));
    }
    let owned: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let rules = crate::pipeline::select_rules(&ctx.settings, &owned, &[])?;
    let g = ctx.gather(&rules)?;
    // The road `run` takes.
    let (plan, asked) = ctx.road(rules, &g)?;
    let mut timings = g.timings;
    timings.extend(asked);
    Ok((plan, timings, Scope::Plan))
}

/// Reads one platform's planned courses in Moodle and compares them on the day
/// `as_of`: the differences, their counts, and the source's timing.
fn check_platform(
    ctx: &Context,
    name: &str,
    pp: &PlatformPlan,
    (scope, made, kept): (Scope, &compare::Made, &compare::Kept),
    as_of: NaiveDate,
) -> Result<(Vec<Difference>, MoodleCheck, SourceTiming), Error> {
    let settings = &ctx.settings;
    let ms = settings
        .moodle(name)
        .ok_or_else(|| UsageError::NoConnection {
            platform: name.to_string(),
            file: settings.file.clone(),
        })?;
    let roles = settings.platforms.get(name).and_then(|p| p.roles.as_ref());
    let mut courses: Vec<String> = pp.enrolments.values().map(|e| e.course.clone()).collect();
    courses.sort();
    courses.dedup();
    let client = ctx.moodle(name, ms)?;
    let (now, timing) = client.read_courses_timed(format!("moodle:{name}"), &courses)?;
    let diffs = compare::compare(pp, &now, roles, (scope, made, kept), as_of);
    let mut check = MoodleCheck {
        differences: diffs.iter().filter(|d| d.problem.differs()).count(),
        others: diffs.len() - diffs.iter().filter(|d| d.problem.differs()).count(),
        courses: compare::per_course(pp, &now, &diffs),
        file: format!("{name}/verify.csv"),
        ..MoodleCheck::default()
    };
    for d in &diffs {
        *check
            .problems
            .entry(d.problem.code().to_string())
            .or_default() += 1;
    }
    Ok((diffs, check, timing))
}

/// The enrolments enrolgen made on a platform, as the state its channel keeps in
/// the platform's folder says (web services, else nightly `--delta` files); `None`
/// where there is none (snapshot files: nothing tells enrolgen's enrolments from
/// others'). A state that cannot be read is none: `run` refuses it with the way out.
/// Also returns those the runs keep for the turnover (`keep_previous_year_until`).
fn made_by_enrolgen(settings: &Settings, dir: &std::path::Path) -> (compare::Made, compare::Kept) {
    use crate::model::UserCourse;
    use crate::output::state;
    let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
        return (None, compare::Kept::new());
    };
    if settings.by_webservice(name) {
        let Some(s) = state::load::<crate::plan::sync::SyncState>(dir, state::WEBSERVICE)
            .ok()
            .flatten()
        else {
            return (None, compare::Kept::new());
        };
        let made = s
            .enrolments
            .iter()
            .filter(|m| m.enrolled)
            .map(|m| UserCourse::new(&m.username, &m.course))
            .collect();
        return (Some(made), s.kept);
    }
    let Some(s) = state::load::<crate::output::outbox::DeltaState>(dir, state::DELTA)
        .ok()
        .flatten()
    else {
        return (None, compare::Kept::new());
    };
    let key = |r: &crate::plan::delta::Recorded| UserCourse::new(&r.username, &r.course);
    let kept = s.enrolments.iter().filter(|r| r.kept).map(key).collect();
    (Some(s.enrolments.iter().map(key).collect()), kept)
}

/// verify.csv of each platform, then summary.json and report.html, under the lock.
fn write(
    args: &VerifyArgs,
    settings: &Settings,
    files: &[(PathBuf, RenderedFile)],
    summary: &Summary,
    plan: &Plan,
) -> Result<String, Error> {
    let top = html::report_files(
        &html::Page {
            title: "Moodle now: what differs from the plan",
            summary,
            plan,
            previous: None,
            personal_data: settings.report_personal_data,
            sheet: false,
        },
        html::ReportName::Top,
    )?;
    let _lock = atomic::DirLock::acquire(&args.out)?;
    for (dir, f) in files {
        atomic::write_all(&args.out, dir, std::slice::from_ref(f), settings.file_mode)?;
    }
    atomic::write_all(&args.out, &args.out, &top, settings.file_mode)?;
    Ok(summary.to_json()?)
}

/// `quiet` (-q): nothing on stderr but errors; the exit code and verify.csv say it.
pub fn run(args: &VerifyArgs, today: NaiveDate, quiet: bool) -> Result<u8, Error> {
    let ctx = Context::open(&args.config.config, args.as_of.day(today)?)?;
    let (settings, as_of) = (&ctx.settings, ctx.as_of);
    let names = platforms(settings, &args.platforms)?;
    let (plan, mut sources, scope) = the_plan(args, &ctx, &names)?;
    let mut checks = BTreeMap::new();
    let mut files: Vec<(PathBuf, RenderedFile)> = Vec::new();
    let empty = PlatformPlan::default();
    for name in &names {
        let pp = plan.platforms.get(*name).unwrap_or(&empty);
        let (made, kept) = made_by_enrolgen(settings, &args.out.join(name));
        let (diffs, check, timing) = check_platform(&ctx, name, pp, (scope, &made, &kept), as_of)?;
        sources.push(timing);
        files.push((args.out.join(name), verify_csv(&diffs)?));
        checks.insert(name.to_string(), check);
    }
    let mut summary = Summary {
        as_of: as_of.to_string(),
        year: ctx.year.clone(),
        // Not a run: nothing was written for Moodle, and the next run must not
        // compare its sources with these.
        dry_run: true,
        platforms: plan
            .platforms
            .iter()
            .map(|(n, pp)| (n.clone(), report::platform_summary(pp, &[])))
            .collect(),
        sources,
        warnings: plan.all_warnings(),
        left_out_ratio: 0.0,
        moodle: checks,
    };
    summary.warnings.sort();
    let json = write(args, settings, &files, &summary, &plan)?;
    if args.json {
        println!("{}", json.trim_end());
    }
    let differs = summary.moodle.values().any(|c| c.differences > 0);
    if !quiet && (std::io::stderr().is_terminal() || differs) {
        for (n, c) in &summary.moodle {
            eprintln!(
                "enrolgen: verify {n}: {} difference(s) in {} course(s){}",
                c.differences,
                c.courses.len(),
                if c.others > 0 {
                    format!("; {} enrolment(s) made by others, listed", c.others)
                } else {
                    String::new()
                }
            );
        }
    }
    Ok(if differs { exit::DIFFERS } else { exit::OK })
}
