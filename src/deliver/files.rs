//! The file channel: upload files an administrator imports with Moodle's "Upload
//! users". A snapshot rewrites the whole set each run; the nightly delta writes only
//! what changed into a numbered outbox, against the state of what Moodle holds.
//! Everything is prepared first (`stage`), then written at once (`write`), so that a
//! refused or failed run changes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::error::Error;
use crate::model::{CsvFormat, Platform};
use crate::output::report::{self, DeltaSummary, PlatformSummary};
use crate::output::{atomic, outbox, state, upload, OutputError, RenderedFile};
use crate::plan::{delta, PlatformPlan};

/// How the files of a run are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The whole set in OUT/<platform>/<platform>.csv, replaced each run.
    Snapshot,
    /// What changed since the state, in a new numbered outbox file.
    Delta { allow_earlier_as_of: bool },
    /// Everything, in a new numbered outbox file; the state starts again.
    Full,
}

impl Mode {
    /// The report page's title.
    pub fn title(self) -> &'static str {
        match self {
            Mode::Snapshot => "Enrolment files",
            Mode::Delta { .. } => "Nightly run: changes since the last run",
            Mode::Full => "Full run: every enrolment, state started again",
        }
    }
}

/// What the run asks of the delta: its day, the suspension caps and the suspensions
/// accepted.
pub struct DeltaRun<'a> {
    pub mode: Mode,
    pub as_of: NaiveDate,
    pub limits: &'a crate::model::SuspendLimits,
    pub accept: &'a delta::Accept,
    /// A dry run changes nothing, not even what a killed run left.
    pub dry_run: bool,
    /// By platform, the courses of earlier academic years no longer managed.
    pub earlier_courses: &'a BTreeMap<String, BTreeSet<String>>,
    /// The re-registration window, and while it is open the previous year's
    /// enrolments by platform (`Context::previous_year`).
    pub turnover: Option<(
        crate::config::years::Turnover,
        &'a BTreeMap<String, BTreeSet<crate::model::UserCourse>>,
    )>,
}

impl DeltaRun<'_> {
    /// The window as `platform`'s night sees it.
    fn turnover(&self, platform: &str) -> delta::Turnover<'_> {
        delta::Turnover::of(self.turnover, platform)
    }
}

/// Files of one platform, rendered.
pub struct PlatformFiles {
    pub name: String,
    pub csv: CsvFormat,
    pub uploads: Vec<RenderedFile>,
    pub others: Vec<RenderedFile>,
}

/// One platform's snapshot files.
pub fn render_one(p: &Platform, pp: &PlatformPlan) -> Result<PlatformFiles, OutputError> {
    let name = &p.name;
    let uploads = upload::render(name, &p.csv, pp.enrolments.values())?;
    let names: Vec<String> = uploads
        .iter()
        .map(|f| f.name.display().to_string())
        .collect();
    let others = vec![
        report::left_out_csv(&pp.left_out, p.csv.delimiter)?,
        report::import_txt(name, p.csv.delimiter, report::ImportFiles::These(&names)),
    ];
    Ok(PlatformFiles {
        name: name.clone(),
        csv: p.csv,
        uploads,
        others,
    })
}

/// What one platform's run will write, prepared before anything is written.
pub struct Staged {
    pub platform: String,
    dir: PathBuf,
    files: Vec<RenderedFile>,
    outbox: Vec<RenderedFile>,
    /// Written last, once the files are in place.
    state: Option<RenderedFile>,
    stale_parts_of: Option<Vec<RenderedFile>>,
}

impl Staged {
    /// The upload files, as the summary names them.
    pub fn upload_names(&self) -> Vec<String> {
        self.outbox
            .iter()
            .filter(|f| f.name.extension().is_some_and(|e| e == "csv"))
            .map(|f| format!("{}/{}", outbox::OUTBOX, f.name.display()))
            .collect()
    }
}

/// A first `--delta` night on a platform with a `moodle:` connection: what Moodle
/// holds of the plan's courses, read before anything is written, so that the night
/// writes only what differs (`delta::held_in_moodle`). `None` when the platform has a
/// state already, or no connection, or the run is no delta.
pub fn first_night(
    out: &Path,
    platform: &str,
    pp: &PlatformPlan,
    run: &DeltaRun<'_>,
    moodle: Option<(&crate::config::MoodleSettings, &Client<'_>)>,
) -> Result<Option<(crate::model::MoodleNow, crate::model::SourceTiming)>, Error> {
    let Some((ms, client)) = moodle else {
        return Ok(None);
    };
    let dir = out.join(platform);
    if !matches!(run.mode, Mode::Delta { .. }) || outbox::load_state(&dir)?.is_some() {
        return Ok(None);
    }
    let courses: Vec<String> = pp
        .enrolments
        .values()
        .map(|e| e.course.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let client = client(ms)?;
    let (now, timing) =
        client.read_courses_timed(format!("moodle:{platform}:first-night"), &courses)?;
    Ok(Some((now, timing)))
}

/// The run's client of a platform's Moodle, made on first use.
pub type Client<'a> = dyn Fn(
        &crate::config::MoodleSettings,
    ) -> Result<std::sync::Arc<crate::source::moodle::Moodle>, Error>
    + 'a;

/// Prepares one platform's files in `mode`; for a delta, also its summary, and the
/// warnings the run must repeat every night (pending manual changes, held-back
/// suspensions).
pub fn stage(
    out: &Path,
    pf: &PlatformFiles,
    pp: &PlatformPlan,
    (run, first_night): (&DeltaRun<'_>, Option<&crate::model::MoodleNow>),
    warnings: &mut Vec<String>,
) -> Result<(Staged, Option<DeltaSummary>), Error> {
    if run.mode == Mode::Snapshot {
        let mut files = pf.uploads.clone();
        files.extend(pf.others.iter().cloned());
        let staged = Staged {
            platform: pf.name.clone(),
            dir: out.join(&pf.name),
            files,
            outbox: Vec::new(),
            state: None,
            stale_parts_of: Some(pf.uploads.clone()),
        };
        return Ok((staged, None));
    }
    let (s, d) = stage_outbox(out, pf, pp, (run, first_night), warnings)?;
    Ok((s, Some(d)))
}

/// What the delta builds on: the recorded enrolments (with the manual changes marked
/// done applied), the outbox files still waiting, the manual-changes files pending.
struct Base {
    previous: Option<outbox::DeltaState>,
    rows: Vec<delta::Recorded>,
    waiting: Vec<outbox::Written>,
    manual_files: Vec<outbox::ManualFile>,
}

/// A delta builds on the state only if the outbox still holds what it says was
/// written, and nothing more; --full starts again and is the way out when it does not.
fn base(dir: &Path, platform: &str, run: &DeltaRun<'_>) -> Result<Base, Error> {
    let Mode::Delta {
        allow_earlier_as_of,
    } = run.mode
    else {
        // --full starts again: a state it cannot read is the reason to run it, and
        // only its file number is kept when it can.
        return Ok(Base {
            previous: outbox::load_state(dir).ok().flatten(),
            rows: Vec::new(),
            waiting: Vec::new(),
            manual_files: Vec::new(),
        });
    };
    let previous = outbox::load_state(dir)?;
    if let Some(s) = &previous {
        let expect = state::Expect {
            kind: state::DELTA,
            platform,
            site: None,
            as_of: run.as_of,
            allow_earlier_as_of,
        };
        state::check(&dir.join(outbox::STATE_FILE), &s.header, &expect)
            .map_err(OutputError::from)?;
    }
    let waiting = outbox::audit(dir, platform, previous.as_ref())?;
    let rows = previous
        .as_ref()
        .map_or(Vec::new(), |s| s.enrolments.clone());
    // Manual-changes files moved into imported/ are done: Moodle now holds what they
    // asked for.
    let files = previous.as_ref().map_or(&[][..], |s| s.manual.as_slice());
    let (done, manual_files) = outbox::manual_done(dir, files);
    let changes: Vec<delta::ManualChange> = done.into_iter().flat_map(|f| f.changes).collect();
    Ok(Base {
        rows: delta::adopt(&rows, &changes),
        previous,
        waiting,
        manual_files,
    })
}

fn delta_summary(d: &delta::Delta) -> DeltaSummary {
    DeltaSummary {
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
                let change = report::CourseChange {
                    new: *new,
                    suspended: *suspended,
                };
                (c.clone(), change)
            })
            .collect(),
        no_longer_managed: BTreeMap::new(),
        kept_for_turnover: BTreeMap::new(),
    }
}

fn stage_outbox(
    out: &Path,
    pf: &PlatformFiles,
    pp: &PlatformPlan,
    (run, first_night): (&DeltaRun<'_>, Option<&crate::model::MoodleNow>),
    warnings: &mut Vec<String>,
) -> Result<(Staged, DeltaSummary), Error> {
    let dir = out.join(&pf.name);
    if !run.dry_run {
        warnings.extend(finish_interrupted(&dir, &pf.name)?);
    }
    let mut base = base(&dir, &pf.name, run)?;
    let first_note = if base.previous.is_none() && matches!(run.mode, Mode::Delta { .. }) {
        first_night_base(&pf.name, pp, first_night, &mut base, warnings)
    } else {
        None
    };
    let retired = run
        .earlier_courses
        .get(&pf.name)
        .map_or_else(BTreeMap::new, |e| delta::retire(&mut base.rows, e));
    warnings.extend(report::no_longer_managed(&pf.name, &retired));
    let d = delta::delta_turning(
        &base.rows,
        &pp.enrolments,
        (run.limits, run.accept),
        run.turnover(&pf.name),
    );
    if let Some((t, _)) = run.turnover {
        warnings.extend(report::kept_for_turnover(&pf.name, &d.kept, t.ends));
    }
    let number = next_number(&dir, &pf.name, &base)?;
    let mut summary = delta_summary(&d);
    summary.no_longer_managed = retired;
    summary.kept_for_turnover = d.kept.clone();
    // The snapshot's IMPORT.txt names files a delta does not write: the delta's
    // own is in outbox/.
    let mut files: Vec<RenderedFile> = pf
        .others
        .iter()
        .filter(|f| f.name.as_os_str() != "IMPORT.txt")
        .cloned()
        .collect();
    let outbox_files = outbox_files(pf, &d, number, first_note.as_deref(), &mut base)?;
    if !outbox_files.is_empty() {
        summary.file = Some(number);
    }
    let wrote_manual = stage_manual(pf, &d, number, &mut base.manual_files, &mut files)?;
    warnings.extend(pending_warnings(pf, &d, &base, &mut summary));
    let next_file = if d.rows.is_empty() && !wrote_manual {
        number
    } else {
        number + 1
    };
    let state = outbox::state_file(&outbox::DeltaState {
        header: crate::model::StateHeader {
            version: state::FORMAT,
            platform: Some(pf.name.clone()),
            as_of: Some(run.as_of),
            by_idnumber: pp.by_idnumber.clone(),
            ..Default::default()
        },
        next_file,
        enrolments: d.state,
        waiting: base.waiting,
        manual: base.manual_files,
    })?;
    let staged = Staged {
        platform: pf.name.clone(),
        dir,
        files,
        outbox: outbox_files,
        state: Some(state),
        stale_parts_of: None,
    };
    Ok((staged, summary))
}

/// The number of tonight's files, while numbers last.
fn next_number(dir: &Path, platform: &str, base: &Base) -> Result<u32, OutputError> {
    let number = outbox::next_number(dir, platform, base.previous.as_ref());
    if number > outbox::MAX_FILE_NUMBER {
        return Err(OutputError::Outbox {
            path: dir.join(outbox::STATE_FILE),
            message: format!(
                "the outbox's numbers are used up ({:04} files): once every file is imported, start again with --full",
                outbox::MAX_FILE_NUMBER
            ),
        });
    }
    Ok(number)
}

/// What a run killed between its files and its state left: completed or undone,
/// and said.
fn finish_interrupted(dir: &Path, platform: &str) -> Result<Option<String>, Error> {
    Ok(match outbox::finish_interrupted(dir)? {
        Some(outbox::Interrupted::Completed) => Some(format!(
            "platform {platform}: the last run was killed once its files were in place, before its state: its night was completed"
        )),
        Some(outbox::Interrupted::Undone) => Some(format!(
            "platform {platform}: the last run was killed while putting its files in place: its files were removed, and this run makes that night again"
        )),
        None => None,
    })
}

/// A first night: with what Moodle holds, the planned enrolments already there
/// become the base (not written again); without, the note `IMPORT.txt` must carry.
fn first_night_base(
    platform: &str,
    pp: &PlatformPlan,
    first_night: Option<&crate::model::MoodleNow>,
    base: &mut Base,
    warnings: &mut Vec<String>,
) -> Option<String> {
    match first_night {
        Some(now) => {
            base.rows = delta::held_in_moodle(&pp.enrolments, now);
            warnings.push(format!(
                "platform {platform}: first night: {} planned enrolment(s) Moodle already holds are recorded as they are and not written again (their dates kept); what they lack is listed as manual changes",
                base.rows.len()
            ));
            None
        }
        None => {
            let note = format!(
                "platform {platform}: first night without a moodle: connection: every planned enrolment is written, and importing re-imports those Moodle already holds (their start becomes the import day, their end is counted again from enrolperiod); give the platform a moodle: connection (a read-only token, as verify uses) so that the first night writes only what differs"
            );
            warnings.push(note.clone());
            Some(note)
        }
    }
}

/// The night's upload files and their `IMPORT.txt` (with the first night's note),
/// none when nothing is to be written; each is then awaited in `imported/`.
fn outbox_files(
    pf: &PlatformFiles,
    d: &delta::Delta,
    number: u32,
    first_note: Option<&str>,
    base: &mut Base,
) -> Result<Vec<RenderedFile>, Error> {
    if d.rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut files = upload::render(&format!("{}-{number:04}", pf.name), &pf.csv, &d.rows)?;
    base.waiting.extend(files.iter().map(outbox::Written::of));
    let mut import = report::import_txt(&pf.name, pf.csv.delimiter, report::ImportFiles::Outbox);
    if let Some(note) = first_note {
        import
            .bytes
            .extend_from_slice(format!("\nBEFORE IMPORTING: {note}.\n").as_bytes());
    }
    files.push(import);
    Ok(files)
}

/// The warnings of what waits for a person: manual changes, held-back suspensions.
fn pending_warnings(
    pf: &PlatformFiles,
    d: &delta::Delta,
    base: &Base,
    summary: &mut DeltaSummary,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(name) = base.manual_files.last().map(|f| f.name.clone()) {
        if !d.manual.is_empty() {
            warnings.push(format!(
                "platform {p}: {} change(s) to existing enrolments are pending, which a file cannot make: \
                 open {p}/{name}, make them in Moodle, then move the file into {p}/{}/",
                d.manual.len(),
                outbox::IMPORTED,
                p = pf.name
            ));
            summary.manual_file = Some(format!("{}/{name}", pf.name));
        }
    }
    for h in &d.held {
        warnings.push(format!(
            "platform {}: course {}: {} suspension(s) held back: {}. Not written, retried next run; \
             check the sources, then --accept-suspensions {} if they are right",
            pf.name, h.course, h.suspensions, h.why, h.course
        ));
    }
    warnings
}

/// The pending changes are listed again every run; a new manual-changes file only
/// when they differ from those of the last file written. Returns whether one was.
fn stage_manual(
    pf: &PlatformFiles,
    d: &delta::Delta,
    number: u32,
    manual_files: &mut Vec<outbox::ManualFile>,
    files: &mut Vec<RenderedFile>,
) -> Result<bool, OutputError> {
    if d.manual.is_empty() || manual_files.last().is_some_and(|f| f.changes == d.manual) {
        return Ok(false);
    }
    let f = outbox::manual_changes(number, &d.manual, pf.csv.delimiter)?;
    manual_files.push(outbox::ManualFile {
        name: f.name.display().to_string(),
        changes: d.manual.clone(),
    });
    files.push(f);
    Ok(true)
}

/// Writes every platform's files: all of them to temporary names first (so a full
/// disk changes nothing), then the renames, each platform's state last, once the
/// files it describes are in place.
pub fn write(out: &Path, staged: &[Staged], mode: u32) -> Result<(), OutputError> {
    let mut prepared = atomic::Prepared::new(out, mode);
    for s in staged {
        if !s.outbox.is_empty() {
            prepared.add(&s.dir.join(outbox::OUTBOX), &s.outbox)?;
        }
        prepared.add(&s.dir, &s.files)?;
    }
    // Each state first, under a name of its own, naming every file of the night:
    // a kill during the renames below leaves it for the next run to complete or
    // undo that night (`outbox::finish_interrupted`), never a file no state knows.
    let mut next = atomic::Prepared::new(out, mode);
    for s in staged {
        if let Some(state) = &s.state {
            let file = RenderedFile {
                name: outbox::NEXT_STATE_FILE.into(),
                bytes: state.bytes.clone(),
            };
            next.add(&s.dir, &[file])?;
        }
    }
    next.commit()?;
    prepared.commit()?;
    for s in staged.iter().filter(|s| s.state.is_some()) {
        let from = s.dir.join(outbox::NEXT_STATE_FILE);
        let to = s.dir.join(outbox::STATE_FILE);
        std::fs::rename(&from, &to).map_err(|source| OutputError::Io { path: to, source })?;
    }
    for s in staged {
        if let Some(keep) = &s.stale_parts_of {
            atomic::remove_stale_parts(&s.dir, &s.platform, keep)?;
        }
    }
    Ok(())
}

/// `--dry-run`: the upload files on stdout instead. Errors writing to stdout (a closed
/// pipe, `| head`) are not the run's failure.
pub fn print(staged: &[Staged]) {
    let mut stdout = std::io::stdout().lock();
    for s in staged {
        let uploads = s.outbox.iter().chain(s.files.iter());
        for f in uploads.filter(|f| {
            f.name.extension().is_some_and(|e| e == "csv") && !f.name.ends_with("left-out.csv")
        }) {
            let _ = writeln!(stdout, "==> {}/{} <==", s.platform, f.name.display());
            let _ = stdout.write_all(&f.bytes);
        }
    }
}

/// The platform summary of what was staged.
pub fn summarize(
    pp: &PlatformPlan,
    pf: &PlatformFiles,
    staged: &Staged,
    delta: Option<DeltaSummary>,
) -> PlatformSummary {
    let mut ps = report::platform_summary(pp, &pf.uploads);
    if delta.is_some() {
        ps.files = staged.upload_names();
        ps.import_file = Some(format!("{}/{}/IMPORT.txt", pf.name, outbox::OUTBOX));
    }
    ps.delta = delta;
    ps
}
