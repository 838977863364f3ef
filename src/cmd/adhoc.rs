//! `enrolgen adhoc`: one upload file on demand, without editing the mapping: from a
//! requester's sheet (several courses and roles, a row per person or per enrolment),
//! or for courses and one role from a cohort of the configuration or a list of
//! student numbers. Same sources, rules, validation and report as `run`.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::cli::AdhocArgs;
use crate::config::Settings;
use crate::error::{exit, Error, UsageError};
use crate::model::{AccountSource, Cohort, CohortSource, EnrolRule, Platform};
use crate::moodle::{self, Field};
use crate::output::{atomic, html, report, upload};
use crate::pipeline::{Context, Gathered};
use crate::plan::{sheet, Plan, PlatformPlan};
use crate::source::sheet as sheet_source;
use crate::template::Template;

const ADHOC_COHORT: &str = "adhoc-students";

/// The one rule a command-line request stands for, its values checked as the
/// configuration's are (the same functions, so the same rules). A student list
/// becomes a cohort.
fn rule_of(args: &AdhocArgs, settings: &mut Settings, d: u8) -> Result<EnrolRule, Error> {
    let mut courses = Vec::new();
    for c in &args.course {
        let course = c.trim().to_string();
        moodle::check_value(Field::Course, &course, d)
            .map_err(|m| UsageError::value("--course", m))?;
        if !courses.contains(&course) {
            courses.push(course);
        }
    }
    if courses.is_empty() {
        return Err(UsageError::Missing("--course (or --sheet)").into());
    }
    let role = args.role.as_deref().unwrap_or_default().trim().to_string();
    moodle::check_value(Field::Role, &role, d).map_err(|m| UsageError::value("--role", m))?;
    if let Some(p) = args.enrolperiod {
        moodle::check_enrolperiod(p).map_err(|m| UsageError::value("--enrolperiod", m))?;
    }
    if let Some(s) = args.enrolstatus {
        moodle::check_enrolstatus(s).map_err(|m| UsageError::value("--enrolstatus", m))?;
    }
    let group = match &args.group {
        None => None,
        Some(g) => {
            let t = Template::parse(g.trim()).map_err(|e| UsageError::value("--group", e))?;
            if t.is_literal() {
                moodle::check_value(Field::Group, &t.to_string(), d)
                    .map_err(|m| UsageError::value("--group", m))?;
            }
            Some(t)
        }
    };
    let cohort = match (&args.cohort, &args.students) {
        (Some(c), _) => {
            if !settings.cohorts.contains_key(c) {
                return Err(UsageError::NoSuchCohort {
                    name: c.clone(),
                    file: settings.file.clone(),
                    known: settings
                        .cohorts
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                }
                .into());
            }
            c.clone()
        }
        (None, Some(file)) => {
            settings.cohorts.insert(
                ADHOC_COHORT.into(),
                Cohort {
                    name: ADHOC_COHORT.into(),
                    source: CohortSource::StudentFile(file.clone()),
                    tags: args.tags.iter().cloned().collect(),
                },
            );
            ADHOC_COHORT.to_string()
        }
        (None, None) => return Err(UsageError::Missing("--cohort, --students or --sheet").into()),
    };
    Ok(EnrolRule {
        number: 1,
        cohort,
        platform: args.platform.clone(),
        courses,
        role,
        group,
        enrolperiod: args.enrolperiod,
        enrolstatus: args.enrolstatus,
        enroltimestart: None,
    })
}

/// The line of an on-demand IMPORT.txt that names the sheet it was made from.
const REQUEST: &str = "Request: ";

/// A sheet as its request is named: its full path.
fn request_of(sheet: &Path) -> String {
    std::fs::canonicalize(sheet)
        .unwrap_or_else(|_| sheet.to_path_buf())
        .display()
        .to_string()
}

/// The sheet an earlier request's files in `out` were made from, if any.
fn made_from(out: &Path, stem: &str) -> Option<String> {
    let text = std::fs::read_to_string(out.join(format!("{stem}-IMPORT.txt"))).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(REQUEST))
        .map(str::to_string)
}

/// The request's own stem: two offices both sending `demande.xlsx` never write over
/// each other's files. When `out` holds the files of another sheet under `stem`,
/// the sheet's folder name is added, then a number.
fn own_stem(out: &Path, stem: String, sheet: &Path) -> String {
    let me = request_of(sheet);
    let free = |s: &str| made_from(out, s).is_none_or(|other| other == me);
    if free(&stem) {
        return stem;
    }
    let folder = std::fs::canonicalize(sheet)
        .ok()
        .and_then(|p| {
            p.parent()
                .and_then(|d| d.file_name())
                .map(|n| n.to_string_lossy().into_owned())
        })
        .map(|n| file_name_part(&n))
        .unwrap_or_default();
    let with_folder = format!("{stem}-{folder}");
    if !folder.is_empty() && free(&with_folder) {
        return with_folder;
    }
    (2..)
        .map(|n| format!("{stem}-{n}"))
        .find(|s| free(s))
        .unwrap_or(stem)
}

/// The file's name: the platform, then the sheet's name (without the platform if it
/// already starts with it) or the first course.
fn stem_of(platform: &str, name: &str) -> String {
    // A course shortname may hold '/' or '..': the file name keeps only safe
    // characters.
    let part = file_name_part(name);
    match part
        .strip_prefix(platform)
        .and_then(|r| r.strip_prefix(['-', '_']))
    {
        Some(rest) if !rest.is_empty() => format!("{platform}-{rest}"),
        _ => format!("{platform}-{part}"),
    }
}

/// The rules to plan, the sheet they came from, the files' stem and the title.
fn request(
    args: &AdhocArgs,
    settings: &mut Settings,
    platform: &Platform,
) -> Result<(Vec<EnrolRule>, Option<sheet::Asked>, String, String), Error> {
    match &args.sheet {
        Some(path) => {
            let (rules, asked, worksheet) = sheet_rules(args, path, settings, platform)?;
            let mut stem = stem_of(&args.platform, &file_stem(path));
            if let Some(w) = worksheet {
                stem = format!("{stem}-{}", file_name_part(&w));
            }
            let stem = own_stem(&args.out, stem, path);
            let title = format!("On-demand file: {} on {}", path.display(), args.platform);
            Ok((rules, Some(asked), stem, title))
        }
        None => {
            let rule = rule_of(args, settings, platform.csv.delimiter)?;
            let first = rule.courses.first().cloned().unwrap_or_default();
            let mut stem = stem_of(&args.platform, &first);
            if rule.courses.len() > 1 {
                stem.push_str(&format!("-and-{}-more", rule.courses.len() - 1));
            }
            let title = format!(
                "On-demand file: {} on {}",
                rule.courses.join(", "),
                args.platform
            );
            Ok((vec![rule], None, stem, title))
        }
    }
}

/// Names of what an on-demand run writes.
struct Written<'a> {
    stem: &'a str,
    title: &'a str,
    names: &'a [String],
}

/// The upload files with their left-out list, IMPORT.txt and report, written at
/// once under the output folder's lock; an earlier run's parts of the same request
/// that this one did not write are removed.
fn write_files(
    args: &AdhocArgs,
    ctx: &Context,
    out: &Written<'_>,
    mut files: Vec<crate::output::RenderedFile>,
    (summary, plan, pp): (&report::Summary, &crate::plan::Plan, &PlatformPlan),
) -> Result<(), Error> {
    let Written { stem, title, names } = *out;
    let d = crate::pipeline::platform(&ctx.settings, &args.platform)?
        .csv
        .delimiter;
    let page = html::report_files(
        &html::Page {
            title,
            summary,
            plan,
            previous: None,
            personal_data: ctx.settings.report_personal_data,
            sheet: args.sheet.is_some(),
        },
        html::ReportName::Stem(stem),
    )?;
    let mut left = report::left_out_csv(&pp.left_out, d)?;
    left.name = PathBuf::from(format!("{stem}-left-out.csv"));
    files.push(left);
    let mut import = report::import_txt(
        &args.platform,
        d,
        report::ImportFiles::OnDemand { stem, names },
    );
    if let Some(sheet) = &args.sheet {
        import
            .bytes
            .extend_from_slice(format!("\n{REQUEST}{}\n", request_of(sheet)).as_bytes());
    }
    files.push(import);
    files.extend(page);
    let _lock = atomic::DirLock::acquire(&args.out)?;
    let uploads: Vec<_> = files
        .iter()
        .filter(|f| names.iter().any(|n| f.name == Path::new(n)))
        .cloned()
        .collect();
    atomic::write_all(&args.out, &args.out, &files, ctx.settings.file_mode)?;
    // The parts an earlier run of the same request wrote and this one did not
    // (300 rows then, one now): never left to look like part of this one.
    atomic::remove_stale_parts(&args.out, stem, &uploads)?;
    Ok(())
}

pub fn run(args: &AdhocArgs, today: NaiveDate) -> Result<u8, Error> {
    let mut ctx = Context::open(&args.config.config, args.as_of.day(today)?)?;
    let platform = crate::pipeline::platform(&ctx.settings, &args.platform)?.clone();
    let (rules, asked, stem, title) = request(args, &mut ctx.settings, &platform)?;
    let refs: Vec<&EnrolRule> = rules.iter().collect();
    let g = ctx.gather(&refs)?;
    // An on-demand file has no state: every account is asked.
    let (mut plan, moodle_read) = ctx.road(refs, &g)?;
    let mut sources = g.timings.clone();
    sources.extend(moodle_read);
    let checked = check_courses(&ctx, &args.platform, &mut plan, &mut sources)?;
    if !checked {
        plan.warnings
            .extend(unchecked(&ctx.settings, &args.platform, &rules));
    }
    if let Some(asked) = &asked {
        let pp = plan.platforms.entry(args.platform.clone()).or_default();
        let people = Found {
            platform: &platform,
            g: &g,
        };
        sheet::locate(asked, pp, &people);
        plan.warnings.extend(asked.warnings.iter().cloned());
    }
    let empty = PlatformPlan::default();
    let pp = plan.platforms.get(&args.platform).unwrap_or(&empty);
    let files = upload::render(&stem, &platform.csv, pp.enrolments.values())?;
    let names: Vec<String> = files.iter().map(|f| f.name.display().to_string()).collect();
    let summary = report::Summary {
        as_of: ctx.as_of.to_string(),
        year: ctx.year.clone(),
        dry_run: args.show.dry_run,
        platforms: [(
            args.platform.clone(),
            report::PlatformSummary {
                import_file: Some(format!("{stem}-IMPORT.txt")),
                ..report::platform_summary(pp, &files)
            },
        )]
        .into(),
        sources,
        warnings: plan.all_warnings(),
        left_out_ratio: crate::plan::left_out_ratio([pp]),
        moodle: Default::default(),
    };
    if args.show.json {
        println!("{}", summary.to_json()?.trim_end());
    }
    // With --json, stdout is the summary alone (valid JSON); the files a dry run
    // would write are printed without it.
    if args.show.dry_run {
        let mut stdout = std::io::stdout().lock();
        for f in files.iter().filter(|_| !args.show.json) {
            let _ = writeln!(stdout, "==> {} <==", f.name.display());
            let _ = stdout.write_all(&f.bytes);
        }
    } else {
        let out = Written {
            stem: &stem,
            title: &title,
            names: &names,
        };
        write_files(args, &ctx, &out, files, (&summary, &plan, pp))?;
    }
    tell(args, &stem, &names, pp, &plan);
    Ok(exit_code(
        pp,
        summary.left_out_ratio,
        ctx.settings.max_left_out_ratio,
    ))
}

/// Courses asked for that no rule of the configuration names on the platform: not
/// checked to exist, when the platform has no Moodle connection to ask.
fn unchecked(settings: &Settings, platform: &str, rules: &[EnrolRule]) -> Option<String> {
    let known: BTreeSet<&str> = settings
        .rules
        .iter()
        .filter(|r| r.platform == platform)
        .flat_map(|r| r.courses.iter().map(String::as_str))
        .collect();
    let list: BTreeSet<&str> = rules
        .iter()
        .flat_map(|r| r.courses.iter().map(String::as_str))
        .filter(|c| !known.contains(c))
        .collect();
    (!list.is_empty()).then(|| {
        format!(
            "course(s) {} named by no rule of the configuration on {platform}: not checked to exist (a course Moodle does not have fails its rows at import; a moodle: connection lets adhoc check)",
            list.into_iter().collect::<Vec<_>>().join(", ")
        )
    })
}

/// With the platform's Moodle connection: each course of the plan is looked up, and
/// the enrolments of a course Moodle does not have are left out
/// (`course_not_found`). Returns whether the courses were checked. Moodle that
/// cannot be asked stops the command before anything is written.
fn check_courses(
    ctx: &Context,
    platform: &str,
    plan: &mut Plan,
    sources: &mut Vec<crate::model::SourceTiming>,
) -> Result<bool, Error> {
    let settings = &ctx.settings;
    let Some(ms) = settings.moodle(platform) else {
        return Ok(false);
    };
    let Some(pp) = plan.platforms.get_mut(platform) else {
        return Ok(true);
    };
    let courses: Vec<String> = pp
        .enrolments
        .values()
        .map(|e| e.course.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if courses.is_empty() {
        return Ok(true);
    }
    let client = ctx.moodle(platform, ms)?;
    let (started, before) = (std::time::Instant::now(), client.requests());
    let found = client.ids_of(&courses)?;
    sources.push(crate::model::SourceTiming::of_moodle(
        format!("moodle:{platform}:courses"),
        client.describe(),
        started,
        found.len(),
        client.requests() - before,
    ));
    let missing: Vec<_> = pp
        .enrolments
        .keys()
        .filter(|k| !found.contains_key(&k.course))
        .map(|k| {
            let detail = format!("the platform's Moodle has no course '{}'", k.course);
            (k.clone(), crate::model::Reason::CourseNotFound, detail)
        })
        .collect();
    pp.leave_out(missing);
    Ok(true)
}

/// As `run`: 1 when the share left out for a reason a person must look at is above
/// `max_left_out_ratio`; and 1 whenever nothing at all could be enrolled while
/// something was asked for (everyone left out: the wrong platform, a sheet of
/// mistakes), which no file can answer.
fn exit_code(pp: &PlatformPlan, ratio: f64, max: Option<f64>) -> u8 {
    let nothing = pp.enrolments.is_empty() && pp.left_out.iter().any(|l| !l.reason.is_benign());
    if nothing || max.is_some_and(|m| ratio > m) {
        exit::LEFT_OUT
    } else {
        exit::OK
    }
}

/// The rules of a requester's sheet, its rows' mistakes kept for the report. The
/// courses the configuration knows on the platform serve the case suggestions.
fn sheet_rules(
    args: &AdhocArgs,
    path: &Path,
    settings: &mut Settings,
    platform: &Platform,
) -> Result<(Vec<EnrolRule>, sheet::Asked, Option<String>), Error> {
    let book = sheet_source::read(path)?;
    let sheet_error = |e: sheet::SheetError| UsageError::Sheet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let (worksheet, chosen) =
        sheet::choose(&book.worksheets, args.worksheet.as_deref()).map_err(sheet_error)?;
    // A workbook of several worksheets: the request is named by its worksheet too,
    // so that two worksheets of one workbook never write over each other.
    let worksheet_name = (args.worksheet.is_some() || sheet::several_requests(&book.worksheets))
        .then(|| worksheet.name.clone());
    let known_courses = sheet::KnownCourses::new(
        settings
            .rules
            .iter()
            .filter(|r| r.platform == args.platform)
            .flat_map(|r| r.courses.iter().cloned()),
    );
    let ctx = sheet::Context {
        platform,
        known_courses: &known_courses,
    };
    let mut parsed =
        sheet::parse(&worksheet.rows, &worksheet.hidden_columns, &ctx).map_err(sheet_error)?;
    parsed
        .warnings
        .splice(0..0, book.notes.iter().cloned().chain(chosen));
    // The cells are read: the rules need only what they asked.
    drop(book);
    let tags: BTreeSet<String> = args.tags.iter().cloned().collect();
    let (cohorts, rules, asked) = sheet::rules(parsed, &args.platform, &tags);
    for c in cohorts {
        settings.cohorts.insert(c.name.clone(), c);
    }
    Ok((rules, asked, worksheet_name))
}

/// The accounts the run found, as the sheet's checks ask them.
struct Found<'a> {
    platform: &'a Platform,
    g: &'a Gathered,
}

impl sheet::People for Found<'_> {
    fn usernames_of(&self, id: &str) -> Option<Vec<String>> {
        match &self.platform.accounts.source {
            AccountSource::Directories { names: dirs, .. } => {
                match crate::plan::with_student_id(&self.g.directories, dirs, id).as_slice() {
                    [one] => Some(one.all_usernames().map(str::to_string).collect()),
                    _ => None,
                }
            }
            AccountSource::List { .. } | AccountSource::Moodle(_) => Some(vec![id.to_string()]),
        }
    }

    fn student_ids_of(&self, username: &str) -> Vec<String> {
        self.platform
            .accounts
            .directories()
            .iter()
            .filter_map(|d| self.g.directories.get(d))
            .flat_map(|d| d.with_username(username))
            .flat_map(|a| a.student_ids.iter().cloned())
            .collect()
    }
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sheet".into())
}

/// What was written, on stderr.
fn tell(args: &AdhocArgs, stem: &str, names: &[String], pp: &PlatformPlan, plan: &Plan) {
    let written = if args.show.dry_run {
        "nothing written (--dry-run)".to_string()
    } else if names.is_empty() {
        "no upload file (nothing to enrol)".to_string()
    } else {
        names
            .iter()
            .map(|n| args.out.join(n).display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let see = if args.show.dry_run {
        String::new()
    } else {
        format!(
            " (see {}, or open {})",
            args.out.join(format!("{stem}-left-out.csv")).display(),
            args.out.join(format!("{stem}-report.html")).display()
        )
    };
    eprintln!(
        "{stem}: {} enrolment(s), {written}; {} left out{see}",
        pp.enrolments.len(),
        pp.left_out.len(),
    );
    for w in &plan.all_warnings() {
        crate::output::say::warning(w);
    }
}

/// `s` with every character but letters, digits, `-`, `_` and `.` replaced by `_`, and
/// no leading dot: a piece of a file name that cannot leave its folder.
fn file_name_part(s: &str) -> String {
    let safe: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match safe.strip_prefix('.') {
        Some(rest) => format!("_{rest}"),
        None => safe,
    }
}

#[cfg(test)]
mod tests {
    use super::file_name_part;

    #[test]
    fn a_file_name_says_the_platform_once() {
        assert_eq!(
            super::stem_of("ecampus", "ecampus-demande"),
            "ecampus-demande"
        );
        assert_eq!(super::stem_of("ecampus", "demande"), "ecampus-demande");
        assert_eq!(super::stem_of("ecampus", "ecampus"), "ecampus-ecampus");
        assert_eq!(super::stem_of("ecampus", "PSY/L1"), "ecampus-PSY_L1");
    }

    #[test]
    fn course_names_cannot_leave_the_folder() {
        assert_eq!(file_name_part("PSY-L1.STATS_2"), "PSY-L1.STATS_2");
        assert_eq!(file_name_part("../../etc/passwd"), "_._.._etc_passwd");
        assert_eq!(file_name_part("a/b\0c"), "a_b_c");
        assert_eq!(file_name_part("a\u{0}b"), "a_b");
    }
}
