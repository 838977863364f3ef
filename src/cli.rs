//! The command line: clap definitions only. Each subcommand's behaviour lives in `cmd/`.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "enrolgen",
    version,
    about = "Builds Moodle \"Upload users\" enrolment files from Apogée or Pégase and the LDAP directories",
    after_help = "Exit codes: 0 success · 1 too many left out (run, adhoc) or problems found (lint) · \
                  2 configuration or usage error · 3 a source failed, nothing written · 4 output not written · \
                  5 suspensions held back (run --delta) · 6 Moodle differs from the plan (verify) · \
                  7 Moodle refused operations (run, deliver: webservice)"
)]
pub struct Cli {
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Query the sources, join, and write one set of upload files per platform.
    #[command(
        after_help = "Example:\n  enrolgen run -c examples/demo/enrolgen.yaml --out out --as-of 2026-11-24"
    )]
    Run(RunArgs),
    /// Validate the configuration; unless --offline, open every source and run each query once.
    #[command(after_help = "Example:\n  enrolgen check -c /etc/enrolgen/enrolgen.yaml")]
    Check(CheckArgs),
    /// Check an upload file (hand-made or generated) against Moodle's rules.
    #[command(
        after_help = "Example:\n  enrolgen lint inscriptions.csv --delimiter ';'\n  enrolgen lint out/ecampus/ecampus.csv -c enrolgen.yaml --platform ecampus"
    )]
    Lint(LintArgs),
    /// Show every enrolment planned for a person (username or student number), or why not.
    #[command(
        after_help = "Examples:\n  enrolgen explain -c enrolgen.yaml 21000004\n  enrolgen explain -c enrolgen.yaml martinp --as-of 2026-11-24"
    )]
    Explain(ExplainArgs),
    /// One upload file on demand: from a requester's sheet (several courses and roles),
    /// or for courses and one role from a cohort of the config or a CSV of student numbers.
    #[command(
        after_help = "Examples:\n  enrolgen adhoc -c enrolgen.yaml --platform ecampus --sheet demande.xlsx\n  enrolgen adhoc -c enrolgen.yaml --platform ecampus --course PSY-L1-SOUTIEN --course PSY-L1-TUTORAT --role student --cohort psy-l1\n  enrolgen adhoc -c enrolgen.yaml --platform ecampus --course PSY-L1-SOUTIEN --role student --students liste.csv --group \"Soutien {group}\""
    )]
    Adhoc(AdhocArgs),
    /// Compare what Moodle holds (read through its REST web services) with the plan, or
    /// with one upload file's rows; writes OUT/<platform>/verify.csv.
    #[command(
        after_help = "Examples:\n  enrolgen verify -c enrolgen.yaml --out verify\n  enrolgen verify -c enrolgen.yaml --platform ecampus --file out/ecampus-PSY-SOUTIEN.csv --out verify\n\nExit codes: 0 Moodle holds what was planned · 6 differences (see verify.csv) · 2 configuration · 3 Moodle or a source could not be read"
    )]
    Verify(VerifyArgs),
    /// Write a commented starter configuration, or a requester's sheet template.
    #[command(
        after_help = "Examples:\n  enrolgen init /etc/enrolgen\n  enrolgen init -c enrolgen.yaml --sheet demande.xlsx"
    )]
    Init(InitArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  enrolgen completions bash > /etc/bash_completion.d/enrolgen"
    )]
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Say how the last run went, as a Nagios/Icinga/Centreon plugin: one line, perfdata,
    /// exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    #[command(
        after_help = "Examples:\n  enrolgen status --out /var/lib/enrolgen/out\n  enrolgen status --out /var/lib/enrolgen/out --warning-age 26 --critical-age 50 --critical-left-out 0.2"
    )]
    Status(StatusArgs),
    /// Print a man page (roff): enrolgen(1), or a subcommand's; --dir writes them all.
    #[command(
        after_help = "Examples:\n  enrolgen man > /usr/local/share/man/man1/enrolgen.1\n  enrolgen man adhoc | man -l -\n  enrolgen man --dir /usr/local/share/man/man1"
    )]
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The run's output directory (where summary.json and last-run.json are).
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// WARNING when the last run that wrote its files is older than this (hours).
    #[arg(long, value_name = "HOURS", default_value_t = 26.0, value_parser = hours)]
    pub warning_age: f64,
    /// CRITICAL when it is older than this (hours).
    #[arg(long, value_name = "HOURS", default_value_t = 50.0, value_parser = hours)]
    pub critical_age: f64,
    /// WARNING when more than this share of enrolments is left out (0 to 1; the
    /// share that needs a person, as in summary.json). Default: only the run's own
    /// max_left_out_ratio (its exit 1 is a WARNING).
    #[arg(long, value_name = "RATIO", value_parser = ratio)]
    pub warning_left_out: Option<f64>,
    /// CRITICAL when more than this share is left out.
    #[arg(long, value_name = "RATIO", value_parser = ratio)]
    pub critical_left_out: Option<f64>,
}

/// A number of hours: finite and above zero (NaN would compare false with every
/// age, and read OK whatever the age).
fn hours(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(h) if h.is_finite() && h > 0.0 => Ok(h),
        _ => Err(format!("'{s}' is not a number of hours above 0")),
    }
}

/// A share: from 0 to 1.
fn ratio(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("'{s}' is not a share from 0 to 1")),
    }
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// A subcommand (run, check, adhoc …): its page, enrolgen-SUB(1).
    pub command: Option<String>,
    /// Write every page (enrolgen.1 and enrolgen-SUB.1) into this folder.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub dir: Option<PathBuf>,
}

/// `--as-of`, the same for every command that plans.
#[derive(Debug, Clone, Copy, Args)]
pub struct AsOfArg {
    /// The day the run is for (YYYY-MM-DD): the academic year, account ages and
    /// states, enrolment dates. Default: today.
    #[arg(long = "as-of", value_name = "DATE")]
    pub as_of: Option<NaiveDate>,
}

impl AsOfArg {
    /// The day given, or today. A day before 2000 or more than two years ahead is
    /// refused: enrolments dated in year 1 would be sent, and a state written for
    /// year 9999 would refuse every real day after it.
    pub fn day(&self, today: NaiveDate) -> Result<NaiveDate, crate::error::UsageError> {
        let Some(day) = self.as_of else {
            return Ok(today);
        };
        let first = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(NaiveDate::MIN);
        let last = today
            .checked_add_months(chrono::Months::new(24))
            .unwrap_or(NaiveDate::MAX);
        if day < first || day > last {
            return Err(crate::error::UsageError::AsOfOutOfRange { day, first, last });
        }
        Ok(day)
    }
}

#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The configuration file.
    #[arg(short, long, env = "ENROLGEN_CONFIG", default_value = "enrolgen.yaml")]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Only this platform (repeatable).
    #[arg(long = "platform", value_name = "P")]
    pub platforms: Vec<String>,
    /// Only the rules of this cohort (repeatable).
    #[arg(long = "cohort", value_name = "C")]
    pub cohorts: Vec<String>,
    /// Output directory.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    #[command(flatten)]
    pub as_of: AsOfArg,
    #[command(flatten)]
    pub show: ShowArgs,
    /// Nightly mode: write only what changed since the last run into a new numbered
    /// file in OUT/<platform>/outbox/ (new enrolments, suspensions of vanished ones).
    #[arg(long, conflicts_with_all = ["full", "cohorts"])]
    pub delta: bool,
    /// Like --delta, but write every enrolment again and reset the state (first load).
    #[arg(long, conflicts_with = "cohorts")]
    pub full: bool,
    /// With --delta, or on a platform delivered through web services: make the
    /// suspensions held back in these courses (after review), or in every course with
    /// `all` or no value. Repeat it, or separate names with commas.
    #[arg(long, value_name = "COURSE", num_args = 0..=1,
          default_missing_value = "all", value_delimiter = ',', action = clap::ArgAction::Append)]
    pub accept_suspensions: Vec<String>,
    /// Write even though a source returned nothing, or far fewer records than in the
    /// previous run (more than max_shrink): after checking that the drop is real.
    #[arg(long)]
    pub accept_shrink: bool,
    /// With --delta, or on a platform delivered through web services: accept an
    /// --as-of earlier than the last run's (replaying a past day on purpose);
    /// otherwise refused, as it would suspend what came since.
    #[arg(long)]
    pub allow_earlier_as_of: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Only check the file; do not connect to anything.
    #[arg(long)]
    pub offline: bool,
    #[command(flatten)]
    pub as_of: AsOfArg,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// The upload file to check.
    pub file: PathBuf,
    /// The delimiter the import will use: ';' ',' ':' or tab. Default: guessed from the header.
    #[arg(long, short)]
    pub delimiter: Option<String>,
    /// A configuration, to check roles against a platform's roles (with --platform).
    #[arg(short, long, requires = "platform")]
    pub config: Option<PathBuf>,
    #[arg(long, requires = "config")]
    pub platform: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// A username or a student number.
    pub who: String,
    #[command(flatten)]
    pub as_of: AsOfArg,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Only this platform (repeatable). Default: every platform with a moodle: connection.
    #[arg(long = "platform", value_name = "P")]
    pub platforms: Vec<String>,
    /// Check that every row of this upload file is in Moodle as written, instead of the
    /// whole plan (needs exactly one --platform).
    #[arg(long, value_name = "UPLOAD.csv")]
    pub file: Option<PathBuf>,
    /// Where verify.csv, summary.json and report.html go.
    #[arg(long, value_name = "DIR", default_value = "verify")]
    pub out: PathBuf,
    #[command(flatten)]
    pub as_of: AsOfArg,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AdhocArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    #[arg(long, value_name = "P")]
    pub platform: String,
    /// A requester's sheet (.xlsx, .xls, .ods or .csv): username or student number,
    /// then course1, role1, group1, enrolperiod1, enrolstatus1, enroltimestart1,
    /// course2 … (wide), or a row per enrolment (long).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["course", "role", "group", "enrolperiod", "enrolstatus", "cohort", "students"])]
    pub sheet: Option<PathBuf>,
    /// The worksheet of --sheet that holds the request (by default the one visible
    /// worksheet with an enrolment header).
    #[arg(long, requires = "sheet")]
    pub worksheet: Option<String>,
    /// A course shortname (case-sensitive); repeat for several courses.
    #[arg(long, required_unless_present = "sheet")]
    pub course: Vec<String>,
    /// The role shortname (case-sensitive).
    #[arg(long, required_unless_present = "sheet")]
    pub role: Option<String>,
    /// A group name; may use {group} with --students FILE having a group column.
    #[arg(long)]
    pub group: Option<String>,
    /// Days of enrolment (> 0).
    #[arg(long)]
    pub enrolperiod: Option<u32>,
    /// 0 active, 1 suspended.
    #[arg(long)]
    pub enrolstatus: Option<u8>,
    /// A cohort of the configuration.
    #[arg(
        long,
        value_name = "C",
        conflicts_with = "students",
        required_unless_present_any = ["students", "sheet"]
    )]
    pub cohort: Option<String>,
    /// A CSV of student numbers (column student_id; optional name, group).
    #[arg(long, value_name = "FILE")]
    pub students: Option<PathBuf>,
    /// A cohort tag the people of --students or --sheet have (repeatable), for the
    /// platform rules that ask for one (e.g. sante on Collégium).
    #[arg(long = "tag", value_name = "T", conflicts_with = "cohort")]
    pub tags: Vec<String>,
    /// Output directory.
    #[arg(long, default_value = "adhoc")]
    pub out: PathBuf,
    #[command(flatten)]
    pub as_of: AsOfArg,
    #[command(flatten)]
    pub show: ShowArgs,
}

/// What `run` and `adhoc` show instead of, or besides, writing (declared once).
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Print what would be written (and, for web services, done); write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write enrolgen.yaml.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Write a requester's sheet template (.xlsx) instead, with the roles of each
    /// platform of the configuration (-c) when it exists.
    #[arg(long, value_name = "FILE.xlsx")]
    pub sheet: Option<PathBuf>,
    /// The configuration whose platforms and roles the template lists.
    #[arg(short, long, env = "ENROLGEN_CONFIG", default_value = "enrolgen.yaml")]
    pub config: PathBuf,
}
