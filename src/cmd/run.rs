//! `enrolgen run`: the batch.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::cli::RunArgs;
use crate::config::{self, Settings};
use crate::error::{exit, Error};
use crate::gather::{gather, plan_rules};
use crate::model::{EnrolRule, Reason};
use crate::output::report::{self, DeltaSummary, Summary};
use crate::output::{atomic, html, outbox, upload, OutputError, RenderedFile};
use crate::plan::{self, delta, Plan};

/// The rules selected by `--platform` and `--cohort`.
pub fn select_rules<'a>(
    s: &'a Settings,
    platforms: &[String],
    cohorts: &[String],
) -> Result<Vec<&'a EnrolRule>, Error> {
    for p in platforms {
        if !s.platforms.contains_key(p) {
            return Err(Error::Usage(format!(
                "--platform {p}: no such platform in {} ({})",
                s.file.display(),
                keys(&s.platforms)
            )));
        }
    }
    for c in cohorts {
        if !s.cohorts.contains_key(c) {
            return Err(Error::Usage(format!(
                "--cohort {c}: no such cohort in {} ({})",
                s.file.display(),
                keys(&s.cohorts)
            )));
        }
    }
    Ok(s.rules
        .iter()
        .filter(|r| platforms.is_empty() || platforms.contains(&r.platform))
        .filter(|r| cohorts.is_empty() || cohorts.contains(&r.cohort))
        .collect())
}

fn keys<V>(m: &BTreeMap<String, V>) -> String {
    m.keys().cloned().collect::<Vec<_>>().join(", ")
}

/// Files of one platform, rendered.
pub struct PlatformFiles {
    pub name: String,
    pub uploads: Vec<RenderedFile>,
    pub others: Vec<RenderedFile>,
}

pub fn render(settings: &Settings, plan: &Plan) -> Result<Vec<PlatformFiles>, OutputError> {
    let mut out = Vec::new();
    for (name, pp) in &plan.platforms {
        let Some(p) = settings.platforms.get(name) else {
            continue;
        };
        let uploads = upload::render(name, &p.csv, pp.enrolments.values())?;
        let names: Vec<String> = uploads
            .iter()
            .map(|f| f.name.display().to_string())
            .collect();
        let others = vec![
            report::left_out_csv(&pp.left_out, p.csv.delimiter)?,
            report::import_txt(name, p.csv.delimiter, report::ImportFiles::These(&names)),
        ];
        out.push(PlatformFiles {
            name: name.clone(),
            uploads,
            others,
        });
    }
    Ok(out)
}

/// How the files of a run are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The whole set in OUT/<platform>/<platform>.csv, replaced each run.
    Snapshot,
    /// What changed since the state, in a new numbered outbox file.
    Delta { allow_earlier_as_of: bool },
    /// Everything, in a new numbered outbox file; the state starts again.
    Full,
}

/// What one platform's run will write, prepared before anything is written.
struct Staged {
    dir: PathBuf,
    files: Vec<RenderedFile>,
    outbox: Vec<RenderedFile>,
    /// Written last, once the files are in place.
    state: Option<RenderedFile>,
    stale_parts_of: Option<Vec<RenderedFile>>,
}

fn stage_snapshot(out: &Path, pf: &PlatformFiles) -> Staged {
    let mut files = pf.uploads.clone();
    files.extend(pf.others.iter().cloned());
    Staged {
        dir: out.join(&pf.name),
        files,
        outbox: Vec::new(),
        state: None,
        stale_parts_of: Some(pf.uploads.clone()),
    }
}

/// How a run builds on its delta state.
struct DeltaRun<'a> {
    mode: Mode,
    as_of: NaiveDate,
    accept: &'a delta::Accept,
}

fn stage_outbox(
    settings: &Settings,
    out: &Path,
    pf: &PlatformFiles,
    pp: &plan::PlatformPlan,
    run: &DeltaRun<'_>,
    warnings: &mut Vec<String>,
) -> Result<(Staged, DeltaSummary), Error> {
    let (mode, as_of, accept) = (run.mode, run.as_of, run.accept);
    let dir = out.join(&pf.name);
    let previous = outbox::load_state(&dir)?;
    // A delta builds on the state only if the outbox still holds what it says was
    // written, and nothing more; --full starts again and is the way out when it does not.
    let (prev_rows, mut pending, mut manual_files) = match mode {
        Mode::Delta {
            allow_earlier_as_of,
        } => {
            let waiting = outbox::verify(&dir, &pf.name, previous.as_ref())?;
            if let Some(last) = previous.as_ref().and_then(|s| s.as_of) {
                if as_of < last && !allow_earlier_as_of {
                    return Err(Error::Usage(format!(
                        "--as-of {as_of} is before the last delta run of {} ({last}): a run for an earlier day \
                         would suspend every enrolment that came since. Add --allow-earlier-as-of if that is meant",
                        pf.name
                    )));
                }
            }
            let rows = previous
                .as_ref()
                .map_or(Vec::new(), |s| s.enrolments.clone());
            // Manual-changes files moved into imported/ are done: Moodle now holds
            // what they asked for.
            let files = previous.as_ref().map_or(&[][..], |s| s.manual.as_slice());
            let (done, still) = outbox::manual_done(&dir, files);
            let changes: Vec<delta::ManualChange> =
                done.into_iter().flat_map(|f| f.changes).collect();
            (delta::adopt(&rows, &changes), waiting, still)
        }
        _ => (Vec::new(), Vec::new(), Vec::new()),
    };
    let d = delta::delta(&prev_rows, &pp.enrolments, &settings.suspend_limits, accept);
    let number = outbox::next_number(&dir, &pf.name, previous.as_ref());
    let format = settings
        .platforms
        .get(&pf.name)
        .map(|p| p.csv)
        .ok_or_else(|| Error::Usage(format!("no platform {}", pf.name)))?;
    let mut summary = DeltaSummary {
        file: None,
        new: d.new,
        suspended: d.suspended,
        reactivated: d.reactivated,
        manual_changes: d.manual.len(),
        manual_file: None,
        held: d.held.clone(),
        courses: d
            .by_course
            .iter()
            .map(|(c, (new, suspended))| {
                (
                    c.clone(),
                    report::CourseChange {
                        new: *new,
                        suspended: *suspended,
                    },
                )
            })
            .collect(),
    };
    let mut outbox_files = Vec::new();
    let mut files = pf.others.clone();
    if !d.rows.is_empty() {
        let uploads = upload::render(&format!("{}-{number:04}", pf.name), &format, &d.rows)?;
        pending.extend(uploads.iter().map(outbox::Written::of));
        outbox_files.extend(uploads);
        outbox_files.push(report::import_txt(
            &pf.name,
            format.delimiter,
            report::ImportFiles::Outbox,
        ));
        summary.file = Some(number);
    }
    // The pending changes are listed again every run; a new file only when they
    // differ from those of the last file written.
    let mut wrote_manual = false;
    if !d.manual.is_empty() {
        let name = match manual_files.last() {
            Some(f) if f.changes == d.manual => f.name.clone(),
            _ => {
                let f = outbox::manual_changes(number, &d.manual, format.delimiter)?;
                let name = f.name.display().to_string();
                files.push(f);
                manual_files.push(outbox::ManualFile {
                    name: name.clone(),
                    changes: d.manual.clone(),
                });
                wrote_manual = true;
                name
            }
        };
        warnings.push(format!(
            "platform {p}: {} change(s) to existing enrolments are pending, which a file cannot make: \
             open {p}/{name}, make them in Moodle, then move the file into {p}/{}/",
            d.manual.len(),
            outbox::IMPORTED,
            p = pf.name
        ));
        summary.manual_file = Some(format!("{}/{name}", pf.name));
    }
    for h in &d.held {
        warnings.push(format!(
            "platform {}: course {}: {} suspension(s) held back: {}. Not written, retried next run; \
             check the sources, then --accept-suspensions {} if they are right",
            pf.name, h.course, h.suspensions, h.why, h.course
        ));
    }
    let next_file = if d.rows.is_empty() && !wrote_manual {
        number
    } else {
        number + 1
    };
    let state = outbox::state_file(&outbox::DeltaState {
        version: 1,
        platform: Some(pf.name.clone()),
        as_of: Some(as_of),
        next_file,
        enrolments: d.state,
        pending,
        manual: manual_files,
    })?;
    Ok((
        Staged {
            dir,
            files,
            outbox: outbox_files,
            state: Some(state),
            stale_parts_of: None,
        },
        summary,
    ))
}

/// Writes every platform's files: all of them to temporary names first (so a full
/// disk changes nothing), then the renames, each platform's state last, once the
/// files it describes are in place.
fn write_staged(out: &Path, staged: &[(String, Staged)], mode: u32) -> Result<(), OutputError> {
    let mut prepared = atomic::Prepared::new(out, mode);
    for (_, s) in staged {
        if !s.outbox.is_empty() {
            prepared.add(&s.dir.join(outbox::OUTBOX), &s.outbox)?;
        }
        prepared.add(&s.dir, &s.files)?;
    }
    for (_, s) in staged {
        if let Some(state) = &s.state {
            prepared.add(&s.dir, std::slice::from_ref(state))?;
        }
    }
    prepared.commit()?;
    for (name, s) in staged {
        if let Some(keep) = &s.stale_parts_of {
            atomic::remove_stale_parts(&s.dir, name, keep)?;
        }
    }
    Ok(())
}

/// A spinner on stderr while the sources are read, only when a person watches.
fn spinner(show: bool) -> Option<indicatif::ProgressBar> {
    if !show || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message("reading Apogée and the directories…");
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(pb)
}

/// How much the command says on stderr.
#[derive(Debug, Clone, Copy, Default)]
pub struct Verbosity {
    pub quiet: bool,
    pub verbose: bool,
}

pub fn run(args: &RunArgs, today: NaiveDate, verbosity: Verbosity) -> Result<u8, Error> {
    let settings = config::load(&args.config.config)?;
    let as_of = args.as_of.unwrap_or(today);
    let year = settings.year.resolve(as_of);
    let rules = select_rules(&settings, &args.platforms, &args.cohorts)?;
    let mode = match (args.delta, args.full) {
        (true, _) => Mode::Delta {
            allow_earlier_as_of: args.allow_earlier_as_of,
        },
        (false, true) => Mode::Full,
        _ => Mode::Snapshot,
    };
    // Lock before reading the sources: two runs never interleave their writes.
    let _lock = if args.dry_run {
        None
    } else {
        Some(atomic::DirLock::acquire(&args.out)?)
    };
    if !args.dry_run {
        // A run killed before its renames left temporary files: nobody writes them now.
        let removed = atomic::remove_stale_temporaries(&args.out)?;
        if removed > 0 {
            tracing::info!(removed, "removed temporary files of an interrupted run");
        }
    }
    let pb = spinner(!verbosity.quiet);
    let gathered = gather(&settings, &rules, &year);
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let g = gathered?;
    for t in &g.timings {
        tracing::info!(source = %t.source, seconds = t.seconds, records = t.records, requests = t.requests, "source read");
    }
    // Before anything is written: a source that shrank stops the run.
    let mut accepted_shrink = Vec::new();
    let previous_sources = report::previous_sources(&args.out);
    let shrunk = crate::shrink::check(
        &g.timings,
        previous_sources
            .as_ref()
            .map_or(&[][..], |(_, s)| s.as_slice()),
    );
    if !shrunk.is_empty() {
        if args.accept_shrink {
            accepted_shrink = shrunk
                .iter()
                .map(|s| format!("accepted with --accept-shrink: {s}"))
                .collect();
        } else {
            let when = previous_sources.map(|(d, _)| d).unwrap_or_default();
            return Err(Error::Refused(format!(
                "{}{}. A source cut short looks like this. Nothing was written: check the source, \
                 and run again with --accept-shrink if the drop is real",
                shrunk.join("; "),
                if when.is_empty() {
                    String::new()
                } else {
                    format!(" (previous run: as of {when})")
                }
            )));
        }
    }
    let mut plan = plan_rules(&settings, rules, &g, &year, as_of);
    let files = render(&settings, &plan)?;
    let accept = match args.accept_suspensions.as_slice() {
        [] => delta::Accept::None,
        names if names.iter().any(|n| n == "all") => delta::Accept::All,
        names => delta::Accept::Courses(names.iter().map(|n| n.trim().to_string()).collect()),
    };
    let mut summary = Summary {
        as_of: as_of.to_string(),
        year,
        dry_run: args.dry_run,
        platforms: BTreeMap::new(),
        sources: g.timings,
        warnings: plan.all_warnings(),
        left_out_ratio: 0.0,
        moodle: BTreeMap::new(),
    };
    let (mut bad, mut total) = (0usize, 0usize);
    let mut staged = Vec::new();
    let mut delta_warnings = accepted_shrink;
    for pf in &files {
        let Some(pp) = plan.platforms.get(&pf.name) else {
            continue;
        };
        let mut ps = report::platform_summary(pp, &pf.uploads);
        bad += pp.left_out.iter().filter(|l| !l.reason.is_benign()).count();
        total += pp
            .left_out
            .iter()
            .filter(|l| l.reason != Reason::Duplicate)
            .count()
            + pp.enrolments.len();
        match mode {
            Mode::Snapshot => staged.push((pf.name.clone(), stage_snapshot(&args.out, pf))),
            Mode::Delta { .. } | Mode::Full => {
                let run = DeltaRun {
                    mode,
                    as_of,
                    accept: &accept,
                };
                let (s, d) = stage_outbox(&settings, &args.out, pf, pp, &run, &mut delta_warnings)?;
                ps.files = s
                    .outbox
                    .iter()
                    .filter(|f| f.name.extension().is_some_and(|e| e == "csv"))
                    .map(|f| format!("{}/{}", outbox::OUTBOX, f.name.display()))
                    .collect();
                ps.delta = Some(d);
                staged.push((pf.name.clone(), s));
            }
        }
        summary.platforms.insert(pf.name.clone(), ps);
    }
    summary.left_out_ratio = if total == 0 {
        0.0
    } else {
        bad as f64 / total as f64
    };
    let held = summary
        .platforms
        .values()
        .any(|p| p.delta.as_ref().is_some_and(|d| !d.held.is_empty()));
    // Pending manual changes and held-back suspensions are warnings, so that cron
    // mails them every night until they are dealt with.
    summary.warnings.extend(delta_warnings.iter().cloned());
    plan.warnings.extend(delta_warnings);

    if args.dry_run {
        // Errors writing to stdout (a closed pipe, `| head`) are not the run's failure.
        let mut stdout = std::io::stdout().lock();
        for (name, s) in &staged {
            let uploads = s.outbox.iter().chain(s.files.iter());
            for f in uploads.filter(|f| {
                f.name.extension().is_some_and(|e| e == "csv") && !f.name.ends_with("left-out.csv")
            }) {
                let _ = writeln!(stdout, "==> {name}/{} <==", f.name.display());
                let _ = stdout.write_all(&f.bytes);
            }
        }
    } else {
        write_staged(&args.out, &staged, settings.file_mode)?;
        let previous = report::previous_courses(&args.out);
        let title = match mode {
            Mode::Snapshot => "Enrolment files",
            Mode::Delta { .. } => "Nightly run: changes since the last run",
            Mode::Full => "Full run: every enrolment, state started again",
        };
        let page = html::render(&html::Page {
            title,
            summary: &summary,
            plan: &plan,
            previous: previous.as_ref(),
            personal_data: settings.report_personal_data,
        });
        let json = summary.to_json()?;
        atomic::write_all(
            &args.out,
            &args.out,
            &[
                RenderedFile {
                    name: "summary.json".into(),
                    bytes: json.into_bytes(),
                },
                page,
            ],
            settings.file_mode,
        )?;
    }
    if args.json {
        println!("{}", summary.to_json()?.trim_end());
    }
    // Quiet on success for cron; the summary for a person at a terminal, or with -v.
    if !verbosity.quiet {
        if verbosity.verbose || std::io::stderr().is_terminal() {
            eprint!("{}", summary.human());
            if !args.dry_run {
                eprintln!("  report: {}", args.out.join("report.html").display());
            }
        } else {
            for w in &summary.warnings {
                eprintln!("enrolgen: warning: {w}");
            }
        }
    }
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
    // Held-back suspensions first: they wait for a decision.
    Ok(if held {
        exit::HELD_BACK
    } else if too_many_left_out {
        exit::LEFT_OUT
    } else {
        exit::OK
    })
}
