//! `enrolgen run`: the batch.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::NaiveDate;

use crate::cli::RunArgs;
use crate::config::{self, Settings};
use crate::error::{exit, Error};
use crate::gather::gather;
use crate::model::{EnrolRule, Reason};
use crate::output::report::{self, Summary};
use crate::output::{atomic, upload, OutputError, RenderedFile};
use crate::plan::{self, Inputs, Plan};

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
            report::import_txt(name, p.csv.delimiter, &names),
        ];
        out.push(PlatformFiles {
            name: name.clone(),
            uploads,
            others,
        });
    }
    Ok(out)
}

pub fn run(args: &RunArgs, today: NaiveDate, quiet: bool) -> Result<u8, Error> {
    let settings = config::load(&args.config.config)?;
    let as_of = args.as_of.unwrap_or(today);
    let year = settings.year.resolve(as_of);
    let rules = select_rules(&settings, &args.platforms, &args.cohorts)?;
    // Lock before reading the sources: two runs never interleave their writes.
    let _lock = if args.dry_run {
        None
    } else {
        Some(atomic::DirLock::acquire(&args.out)?)
    };
    let g = gather(&settings, &rules, &year)?;
    let plan = plan::plan(&Inputs {
        as_of,
        year: &year,
        platforms: &settings.platforms,
        cohorts: &settings.cohorts,
        rules,
        members: &g.members,
        directories: &g.directories,
        account_lists: &g.account_lists,
    });
    let files = render(&settings, &plan)?;
    let mut summary = Summary {
        as_of: as_of.to_string(),
        year,
        dry_run: args.dry_run,
        platforms: BTreeMap::new(),
        sources: g.timings,
        warnings: plan.warnings.clone(),
        left_out_ratio: 0.0,
    };
    let (mut bad, mut total) = (0usize, 0usize);
    for pf in &files {
        if let Some(pp) = plan.platforms.get(&pf.name) {
            summary
                .platforms
                .insert(pf.name.clone(), report::platform_summary(pp, &pf.uploads));
            bad += pp.left_out.iter().filter(|l| !l.reason.is_benign()).count();
            total += pp
                .left_out
                .iter()
                .filter(|l| l.reason != Reason::Duplicate)
                .count()
                + pp.enrolments.len();
        }
    }
    summary.left_out_ratio = if total == 0 {
        0.0
    } else {
        bad as f64 / total as f64
    };

    if args.dry_run {
        let mut stdout = std::io::stdout().lock();
        for pf in &files {
            for f in &pf.uploads {
                let _ = writeln!(stdout, "==> {}/{} <==", pf.name, f.name.display());
                let _ = stdout.write_all(&f.bytes);
            }
        }
    } else {
        for pf in &files {
            let dir = args.out.join(&pf.name);
            let mut all = pf.uploads.clone();
            all.extend(pf.others.iter().cloned());
            atomic::write_all(&dir, &all)?;
            atomic::remove_stale_parts(&dir, &pf.name, &pf.uploads)?;
        }
        let json = summary.to_json()?;
        atomic::write_all(
            &args.out,
            &[RenderedFile {
                name: "summary.json".into(),
                bytes: json.into_bytes(),
            }],
        )?;
    }
    if args.json {
        println!("{}", summary.to_json()?.trim_end());
    }
    if !quiet {
        eprint!("{}", summary.human());
    }
    match settings.max_left_out_ratio {
        Some(max) if summary.left_out_ratio > max => {
            eprintln!(
                "enrolgen: {:.1}% of enrolments left out (excluding duplicates and deferred accounts), above max_left_out_ratio {:.1}%",
                summary.left_out_ratio * 100.0,
                max * 100.0
            );
            Ok(exit::LEFT_OUT)
        }
        _ => Ok(exit::OK),
    }
}
