//! `enrolgen adhoc`: one upload file for one complementary course, from a cohort of
//! the configuration or a spreadsheet of student numbers, without editing the
//! mapping. Same sources, rules, validation and report as `run`.

use std::path::PathBuf;

use chrono::NaiveDate;

use crate::cli::AdhocArgs;
use crate::config::{self, Settings};
use crate::error::{exit, Error};
use crate::model::{Cohort, CohortSource, EnrolRule};
use crate::moodle::{self, Field};
use crate::output::{atomic, html, report, upload};
use crate::pipeline::{gather, plan_rules};
use crate::plan::{Plan, PlatformPlan};
use crate::template::Template;

const ADHOC_COHORT: &str = "adhoc-students";

/// The one rule an ad hoc file stands for, its values checked as the configuration's
/// are (the same functions, so the same rules). A student list becomes a cohort.
fn rule_of(args: &AdhocArgs, settings: &mut Settings, d: u8) -> Result<EnrolRule, Error> {
    let usage = |m: String| Error::Usage(m);
    let course = args.course.trim().to_string();
    moodle::check_value(Field::Course, &course, d).map_err(|m| usage(format!("--course: {m}")))?;
    let role = args.role.trim().to_string();
    moodle::check_value(Field::Role, &role, d).map_err(|m| usage(format!("--role: {m}")))?;
    if let Some(p) = args.enrolperiod {
        moodle::check_enrolperiod(p).map_err(|m| usage(format!("--enrolperiod: {m}")))?;
    }
    if let Some(s) = args.enrolstatus {
        moodle::check_enrolstatus(s).map_err(|m| usage(format!("--enrolstatus: {m}")))?;
    }
    let group = match &args.group {
        None => None,
        Some(g) => {
            let t = Template::parse(g.trim()).map_err(|e| usage(format!("--group: {e}")))?;
            if t.is_literal() {
                moodle::check_value(Field::Group, &t.to_string(), d)
                    .map_err(|m| usage(format!("--group: {m}")))?;
            }
            Some(t)
        }
    };
    let cohort = match (&args.cohort, &args.students) {
        (Some(c), _) => {
            if !settings.cohorts.contains_key(c) {
                return Err(usage(format!(
                    "--cohort {c}: no such cohort in {}",
                    settings.file.display()
                )));
            }
            c.clone()
        }
        (None, Some(file)) => {
            settings.cohorts.insert(
                ADHOC_COHORT.into(),
                Cohort {
                    name: ADHOC_COHORT.into(),
                    source: CohortSource::StudentFile(file.clone()),
                    tags: Default::default(),
                },
            );
            ADHOC_COHORT.to_string()
        }
        (None, None) => return Err(usage("give --cohort or --students".into())),
    };
    Ok(EnrolRule {
        number: 1,
        cohort,
        platform: args.platform.clone(),
        courses: vec![course],
        role,
        group,
        enrolperiod: args.enrolperiod,
        enrolstatus: args.enrolstatus,
        enroltimestart: None,
    })
}

pub fn run(args: &AdhocArgs, today: NaiveDate) -> Result<u8, Error> {
    let mut settings = config::load(&args.config.config)?;
    let as_of = args.as_of.unwrap_or(today);
    let year = settings.year.resolve(as_of);
    let platform = crate::pipeline::platform(&settings, &args.platform)?.clone();
    let d = platform.csv.delimiter;
    let rule = rule_of(args, &mut settings, d)?;
    let course = rule.courses.first().cloned().unwrap_or_default();
    let rules = vec![&rule];
    let g = gather(&settings, &rules, &year)?;
    let plan = plan_rules(&settings, rules, &g, &year, as_of);
    let pp = plan
        .platforms
        .get(&args.platform)
        .cloned()
        .unwrap_or_default();
    // A course shortname may hold '/' or '..': the file name keeps only safe characters.
    let stem = format!("{}-{}", args.platform, file_name_part(&course));
    let mut files = upload::render(&stem, &platform.csv, pp.enrolments.values())?;
    let names: Vec<String> = files.iter().map(|f| f.name.display().to_string()).collect();
    let summary = report::Summary {
        as_of: as_of.to_string(),
        year: year.clone(),
        dry_run: false,
        platforms: [(args.platform.clone(), report::platform_summary(&pp, &files))].into(),
        sources: g.timings.clone(),
        warnings: plan.all_warnings(),
        left_out_ratio: 0.0,
        moodle: Default::default(),
    };
    let mut page = html::render(&html::Page {
        title: &format!("On-demand file: {course} on {}", args.platform),
        summary: &summary,
        plan: &plan,
        previous: None,
        personal_data: settings.report_personal_data,
    });
    page.name = PathBuf::from(format!("{stem}-report.html"));
    let mut left = report::left_out_csv(&pp.left_out, d)?;
    left.name = PathBuf::from(format!("{stem}-left-out.csv"));
    files.push(left);
    files.push(report::import_txt(
        &args.platform,
        d,
        report::ImportFiles::These(&names),
    ));
    files.push(page);
    atomic::write_all(&args.out, &args.out, &files, settings.file_mode)?;
    tell(args, &course, &stem, &names, &pp, &plan);
    Ok(exit::OK)
}

/// What was written, on stderr.
fn tell(
    args: &AdhocArgs,
    course: &str,
    stem: &str,
    names: &[String],
    pp: &PlatformPlan,
    plan: &Plan,
) {
    let written = if names.is_empty() {
        "no upload file (nothing to enrol)".to_string()
    } else {
        names
            .iter()
            .map(|n| args.out.join(n).display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    eprintln!(
        "{course}: {} enrolment(s), {written}; {} left out (see {}, or open {})",
        pp.enrolments.len(),
        pp.left_out.len(),
        args.out.join(format!("{stem}-left-out.csv")).display(),
        args.out.join(format!("{stem}-report.html")).display()
    );
    for w in &plan.all_warnings() {
        eprintln!("enrolgen: warning: {w}");
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
    fn course_names_cannot_leave_the_folder() {
        assert_eq!(file_name_part("PSY-L1.STATS_2"), "PSY-L1.STATS_2");
        assert_eq!(file_name_part("../../etc/passwd"), "_._.._etc_passwd");
        assert_eq!(file_name_part("a/b\0c"), "a_b_c");
        assert_eq!(file_name_part("a\u{0}b"), "a_b");
    }
}
