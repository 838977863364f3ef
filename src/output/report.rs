//! What a person checks after a run: the left-out report per platform, the summary
//! (JSON for monitoring, a few lines on stderr for people), and IMPORT.txt.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

pub use crate::model::{PreviousSource, SourceTiming};

use crate::model::{LeftOut, Reason};
use crate::output::{OutputError, RenderedFile};
use crate::plan::PlatformPlan;

/// `left-out.csv`: every person × enrolment not written, with its reason.
/// It is read by people, not by Moodle, so values are quoted when needed.
pub fn left_out_csv(rows: &[LeftOut], delimiter: u8) -> Result<RenderedFile, OutputError> {
    let header = [
        "reason",
        "course",
        "role",
        "username",
        "student_id",
        "name",
        "cohort",
        "rule",
        "detail",
    ]
    .map(String::from);
    let lines = rows.iter().map(|r| {
        [
            r.reason.code().to_string(),
            r.course.clone(),
            r.role.clone(),
            r.username.clone(),
            r.student_id.clone(),
            r.name.clone(),
            r.cohort.clone(),
            format!("#{}", r.rule),
            r.detail.clone(),
        ]
    });
    let bytes = crate::csvio::write_records(
        "left-out.csv",
        delimiter,
        std::iter::once(header).chain(lines),
    )?;
    Ok(RenderedFile {
        name: PathBuf::from("left-out.csv"),
        bytes,
    })
}

/// Which files an IMPORT.txt speaks of.
#[derive(Debug, Clone, Copy)]
pub enum ImportFiles<'a> {
    /// A complete set, replaced by each run.
    These(&'a [String]),
    /// The numbered files of an outbox, imported in order then moved to imported/.
    Outbox,
    /// An on-demand file (`adhoc`), beside its `{stem}-IMPORT.txt`,
    /// `{stem}-left-out.csv` and `{stem}-report.html`.
    OnDemand { stem: &'a str, names: &'a [String] },
}

/// The same import with Moodle's command-line tool, a command per file.
fn cli_import(files: &[String], delimiter_name: &str) -> String {
    let mut text = String::new();
    text.push_str(
        "\nThe same import from the command line, on the Moodle server (as the web\n\
         server's user, from Moodle's folder), one file at a time, in order:\n\n",
    );
    for f in files {
        text.push_str(&format!(
            "  php admin/tool/uploaduser/cli/uploaduser.php --file=.../{f} \\\n\
             \x20     --delimiter_name={delimiter_name} --encoding=UTF-8 --uutype=3 --uuupdatetype=0 \\\n\
             \x20     --uupasswordold=0 --uuallowrenames=0 --uuallowdeletes=0 --uuallowsuspends=0 \\\n\
             \x20     --uustandardusernames=0 --uumatchemail=0\n"
        ));
    }
    text.push_str(
        "\n(--uutype=3: update existing users only; --uuupdatetype=0: no changes to user\n\
         details; the option names are those of Moodle 4.5's tool.)\n",
    );
    text
}

/// The settings an administrator must use to import the files (the procedure's).
pub fn import_txt(platform: &str, delimiter: u8, files: ImportFiles<'_>) -> RenderedFile {
    let delimiter_name = crate::moodle::moodle_delimiter_name(delimiter);
    let delim = match delimiter {
        b'\t' => "tab".to_string(),
        d => format!("{delimiter_name} ({})", d as char),
    };
    let cli_files: Vec<String> = match files {
        ImportFiles::These(names) => names.iter().map(|n| format!("{platform}/{n}")).collect(),
        ImportFiles::Outbox => vec![format!("{platform}/outbox/{platform}-NNNN.csv")],
        ImportFiles::OnDemand { names, .. } => names.to_vec(),
    };
    let nothing = matches!(
        files,
        ImportFiles::These([]) | ImportFiles::OnDemand { names: [], .. }
    );
    let which = match files {
        _ if nothing => "Nothing to import: no enrolment was planned.\n".to_string(),
        ImportFiles::These(names) | ImportFiles::OnDemand { names, .. } => {
            format!("Files, in this order: {}\n", names.join(", "))
        }
        ImportFiles::Outbox => "Files: every .csv of this folder, in number order (0001, 0002 …; a part\n\
                                -002 right after its file). After importing a file, move it to ../imported/:\n\
                                enrolgen never overwrites a numbered file, and numbers go on from there.\n"
            .to_string(),
    };
    let (left_out, counts, manual) = match files {
        ImportFiles::OnDemand { stem, .. } => (
            format!("{stem}-left-out.csv"),
            format!(", and {stem}-report.html for why"),
            "",
        ),
        _ => (
            "left-out.csv".to_string(),
            ", and summary.json for the counts per course".to_string(),
            " Changes to existing enrolments are listed in\n\
             manual-changes-NNNN.csv for a person to make in Moodle.",
        ),
    };
    let text = format!(
        "How to import the {platform} files (Site administration > Users > Upload users)\n\
         \n\
         {which}\
         \n\
         CSV separator:            {delim}\n\
         Encoding:                 UTF-8\n\
         Upload type:              Update existing users only\n\
         Existing user details:    No changes\n\
         Allow renames:            No\n\
         Allow deletes:            No\n\
         Allow suspending and activating of accounts: No\n\
         Standardise usernames:    No\n\
         \n\
         Rows whose username is unknown are skipped by Moodle: see {left_out} for the\n\
         people enrolgen itself left out{counts}.\n\
         \n\
         What a file cannot do: it adds enrolments, roles and group memberships but never\n\
         removes one, and every row Moodle imports resets that enrolment's start to the\n\
         import day and its end from enrolperiod (no enrolperiod: no end date), a\n\
         suspension row included.{manual}\n"
    );
    let mut text = text;
    if !nothing {
        text.push_str(&cli_import(&cli_files, delimiter_name));
    }
    let name = match files {
        ImportFiles::OnDemand { stem, .. } => format!("{stem}-IMPORT.txt"),
        _ => "IMPORT.txt".to_string(),
    };
    RenderedFile {
        name: PathBuf::from(name),
        bytes: text.into_bytes(),
    }
}

#[cfg(test)]
mod import_tests {
    use super::*;

    #[test]
    fn import_txt_gives_the_cli_command_with_the_platform_delimiter() {
        let f = import_txt("collegium", b',', ImportFiles::Outbox);
        let t = String::from_utf8(f.bytes).unwrap();
        assert!(
            t.contains("uploaduser.php --file=.../collegium/outbox/collegium-NNNN.csv \\\n      --delimiter_name=comma --encoding=UTF-8 --uutype=3 --uuupdatetype=0 \\\n      --uupasswordold=0 --uuallowrenames=0 --uuallowdeletes=0 --uuallowsuspends=0 \\\n      --uustandardusernames=0 --uumatchemail=0\n"),
            "{t}"
        );
        assert!(t.contains("never\nremoves one"), "{t}");
        let none = import_txt("p", b';', ImportFiles::These(&[]));
        assert!(!String::from_utf8(none.bytes)
            .unwrap()
            .contains("uploaduser.php"));
    }
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct PlatformSummary {
    pub enrolments: usize,
    pub rows: usize,
    pub files: Vec<String>,
    pub left_out: BTreeMap<Reason, usize>,
    pub courses: BTreeMap<String, usize>,
    pub cohorts: BTreeMap<String, usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<DeltaSummary>,
    /// What the web-service channel did (`deliver: webservice`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webservice: Option<WsSummary>,
    /// Why the platform was not done (its Moodle out of reach, or refusing what
    /// the run needs); the run then fails (exit 3), the other platforms done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// Where the import settings of `files` are, relative to the output folder,
    /// when not `<platform>/IMPORT.txt` (the outbox's, an on-demand file's).
    #[serde(skip)]
    pub import_file: Option<String>,
}

/// What the web-service channel did on a platform (`deliver: webservice`).
#[derive(Debug, Default, Clone, Serialize)]
pub struct WsSummary {
    /// Operations Moodle confirmed, by kind (enrol, reactivate, suspend, dates,
    /// add_role, remove_role, create_group, add_member, remove_member).
    pub applied: BTreeMap<String, usize>,
    /// Operations Moodle refused (each journaled with its error code).
    pub refused: usize,
    /// Those refusals per web-service function.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub refused_by_function: BTreeMap<String, usize>,
    /// Those operations, as the report shows them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused_rows: Vec<String>,
    /// Operations not sent: unknown user or role in Moodle, or the run stopped.
    pub not_sent: usize,
    /// Enrolments a killed run had sent, found in Moodle and recorded by this run.
    #[serde(skip_serializing_if = "is_zero")]
    pub adopted: usize,
    /// Web-service calls: all, and those that write.
    pub calls: usize,
    pub write_calls: usize,
    pub seconds: f64,
    /// The journal of this run, relative to the output folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<crate::plan::delta::Held>,
    /// Planned courses Moodle does not have.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_courses: Vec<String>,
    /// The courses this run suspends enrolments in (sent, or to send), held back
    /// ones apart: what `--accept-suspensions` may name.
    #[serde(skip)]
    pub suspending: std::collections::BTreeSet<String>,
    /// Platform roles that planned users hold and the plan does not give (raised by
    /// hand): `course: username has role (planned: role)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_roles: Vec<String>,
    /// Courses of an earlier academic year dropped tonight, with the enrolments
    /// enrolgen had made there (left in Moodle as they are).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub no_longer_managed: BTreeMap<String, usize>,
    /// Per course, the previous year's enrolments kept for the turnover tonight.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub kept_for_turnover: BTreeMap<String, usize>,
}

/// What the report says, once, of each course of an earlier year dropped tonight.
pub fn no_longer_managed<'a>(
    platform: &'a str,
    retired: &'a BTreeMap<String, usize>,
) -> impl Iterator<Item = String> + 'a {
    retired.iter().map(move |(course, n)| {
        format!(
            "platform {platform}: course {course} is an earlier academic year's: no longer managed; its {n} enrolment(s) are left in Moodle as they are (not suspended)"
        )
    })
}

/// What the report says each night of the enrolments kept for the turnover.
pub fn kept_for_turnover<'a>(
    platform: &'a str,
    kept: &'a BTreeMap<String, usize>,
    ends: chrono::NaiveDate,
) -> impl Iterator<Item = String> + 'a {
    kept.iter().map(move |(course, n)| {
        format!(
            "platform {platform}: course {course}: {n} enrolment(s) of the previous academic year kept for the turnover until {ends} (not re-registered yet; suspended that day if still not)"
        )
    })
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What a `--delta` or `--full` run wrote for a platform.
#[derive(Debug, Default, Clone, Serialize)]
pub struct DeltaSummary {
    /// The outbox file number, when something was written.
    pub file: Option<u32>,
    pub new: usize,
    pub suspended: usize,
    pub reactivated: usize,
    /// Changes to existing enrolments still pending (made by hand in Moodle).
    pub manual_changes: usize,
    /// The file that lists them, relative to the output folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manual_file: Option<String>,
    /// Courses whose suspensions were held back (not written, retried next run).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<crate::plan::delta::Held>,
    /// New and suspended enrolments per course.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub courses: BTreeMap<String, CourseChange>,
    /// Courses of an earlier academic year dropped tonight, with their enrolments
    /// (left in Moodle as they are).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub no_longer_managed: BTreeMap<String, usize>,
    /// Per course, the previous year's enrolments kept for the turnover tonight.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub kept_for_turnover: BTreeMap<String, usize>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CourseChange {
    pub new: usize,
    pub suspended: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub as_of: String,
    pub year: String,
    pub dry_run: bool,
    pub platforms: BTreeMap<String, PlatformSummary>,
    pub sources: Vec<SourceTiming>,
    pub warnings: Vec<String>,
    /// Left-out enrolments that need a person (not duplicates, not deferred),
    /// over all enrolments considered.
    pub left_out_ratio: f64,
    /// `verify`: what Moodle holds against the plan, per platform.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub moodle: BTreeMap<String, MoodleCheck>,
}

/// `verify` on one platform: differences per problem and per course.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MoodleCheck {
    /// Lines of verify.csv where Moodle differs from the plan.
    pub differences: usize,
    /// Lines that are enrolments somebody else made (`other_enrolment`): listed,
    /// not differences.
    pub others: usize,
    pub problems: BTreeMap<String, usize>,
    pub courses: BTreeMap<String, crate::plan::verify::CourseCheck>,
    /// The file that lists them, relative to the output folder.
    pub file: String,
}

pub fn platform_summary(pp: &PlatformPlan, files: &[RenderedFile]) -> PlatformSummary {
    let mut s = PlatformSummary {
        enrolments: pp.enrolments.len(),
        rows: files
            .iter()
            .map(|f| {
                f.bytes
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count()
                    .saturating_sub(1)
            })
            .sum(),
        files: files.iter().map(|f| f.name.display().to_string()).collect(),
        ..PlatformSummary::default()
    };
    for e in pp.enrolments.values() {
        *s.courses.entry(e.course.clone()).or_default() += 1;
        for c in &e.cohorts {
            *s.cohorts.entry(c.clone()).or_default() += 1;
        }
    }
    for l in &pp.left_out {
        *s.left_out.entry(l.reason).or_default() += 1;
    }
    s
}

/// What the previous (non-dry) run left in `out/summary.json`: its as-of date, its
/// sources' counts (the shrink guard compares with them) and its enrolments per
/// course and platform (the report compares with them). `None` when there is none
/// or it cannot be read: both comparisons are then left out.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviousRun {
    pub as_of: String,
    pub sources: Vec<PreviousSource>,
    pub courses: BTreeMap<String, BTreeMap<String, usize>>,
}

pub fn previous_run(out: &std::path::Path) -> Option<PreviousRun> {
    #[derive(serde::Deserialize)]
    struct Previous {
        as_of: String,
        dry_run: bool,
        #[serde(default)]
        sources: Vec<PreviousSource>,
        platforms: BTreeMap<String, PreviousPlatform>,
    }
    #[derive(serde::Deserialize)]
    struct PreviousPlatform {
        courses: BTreeMap<String, usize>,
    }
    let bytes = std::fs::read(out.join("summary.json")).ok()?;
    let p: Previous = serde_json::from_slice(&bytes).ok()?;
    (!p.dry_run).then(|| PreviousRun {
        as_of: p.as_of,
        sources: p.sources,
        courses: p
            .platforms
            .into_iter()
            .map(|(k, v)| (k, v.courses))
            .collect(),
    })
}

impl Summary {
    pub fn to_json(&self) -> Result<String, OutputError> {
        serde_json::to_string_pretty(self)
            .map(|mut s| {
                s.push('\n');
                s
            })
            .map_err(|e| OutputError::Encode {
                what: "summary.json".into(),
                message: e.to_string(),
            })
    }

    /// A few lines for a person reading the terminal or a cron mail.
    pub fn human(&self) -> String {
        let mut out = format!(
            "enrolgen: year {} as of {}{}\n",
            self.year,
            self.as_of,
            if self.dry_run { " (dry run)" } else { "" }
        );
        for (name, p) in &self.platforms {
            let left: usize = p.left_out.values().sum();
            match (&p.delta, &p.webservice) {
                (_, Some(w)) => {
                    let done: Vec<String> =
                        w.applied.iter().map(|(k, n)| format!("{k} {n}")).collect();
                    out.push_str(&format!(
                        "  {name}: {} enrolments; web services: {} ({} calls, {} writing, {:.1} s){}{}; {left} left out",
                        p.enrolments,
                        if done.is_empty() { "nothing to change".to_string() } else { done.join(", ") },
                        w.calls,
                        w.write_calls,
                        w.seconds,
                        if w.refused > 0 { format!(", {} refused", w.refused) } else { String::new() },
                        w.journal.as_ref().map_or(String::new(), |j| format!(", journal {j}")),
                    ))
                }
                (Some(d), None) => out.push_str(&format!(
                    "  {name}: {} enrolments; outbox {}: {} new, {} suspended, {} reactivated, {} manual change(s); {left} left out",
                    p.enrolments,
                    d.file.map_or("unchanged".to_string(), |n| format!("file {n:04}")),
                    d.new,
                    d.suspended,
                    d.reactivated,
                    d.manual_changes
                )),
                (None, None) => out.push_str(&format!(
                    "  {name}: {} enrolments in {} file(s), {left} left out",
                    p.enrolments,
                    p.files.len()
                )),
            }
            if left > 0 {
                let parts: Vec<String> =
                    p.left_out.iter().map(|(r, n)| format!("{r} {n}")).collect();
                out.push_str(&format!(" ({})", parts.join(", ")));
            }
            out.push('\n');
        }
        for w in &self.warnings {
            out.push_str(&format!("  warning: {w}\n"));
        }
        out
    }
}
