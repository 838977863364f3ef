//! The command line: clap definitions only. Each subcommand's behaviour lives in `cmd/`.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "enrolgen",
    version,
    about = "Builds Moodle \"Upload users\" enrolment files from Apogée and the LDAP directories",
    after_help = "Exit codes: 0 success · 1 too many left out (run) or problems found (lint) · \
                  2 configuration or usage error · 3 a source failed, nothing written · 4 output not written"
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
    /// Write a commented starter configuration.
    #[command(after_help = "Example:\n  enrolgen init /etc/enrolgen")]
    Init(InitArgs),
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
    /// The date the run is for (YYYY-MM-DD): academic year, account ages. Default: today.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<NaiveDate>,
    /// Print what would be written; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Only check the file; do not connect to anything.
    #[arg(long)]
    pub offline: bool,
    /// The date used to compute the academic year. Default: today.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<NaiveDate>,
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
pub struct InitArgs {
    /// Where to write enrolgen.yaml.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}
