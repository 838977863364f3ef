//! `enrolgen lint`: checks an upload file with the rules the writers follow.

use crate::cli::LintArgs;
use crate::config;
use crate::error::{exit, Error, UsageError};
use crate::moodle::{self, LintOptions};

pub fn parse_delimiter(s: &str) -> Result<u8, Error> {
    moodle::parse_delimiter(s).ok_or_else(|| {
        UsageError::value(format!("--delimiter '{s}'"), "use ';', ',', ':' or tab").into()
    })
}

pub fn run(args: &LintArgs) -> Result<u8, Error> {
    let mut opts = LintOptions {
        delimiter: args.delimiter.as_deref().map(parse_delimiter).transpose()?,
        roles: None,
    };
    if let (Some(c), Some(p)) = (&args.config, &args.platform) {
        let s = config::load(c)?;
        let platform = crate::pipeline::platform(&s, p)?;
        opts.roles = platform.roles.clone();
        opts.delimiter = opts.delimiter.or(Some(platform.csv.delimiter));
    }
    let bytes = std::fs::read(&args.file).map_err(|e| UsageError::Unreadable {
        path: args.file.clone(),
        message: e.to_string(),
    })?;
    let report = moodle::lint(&bytes, &opts);
    for p in &report.problems {
        println!("{}: {p}", args.file.display());
    }
    let delim = report
        .delimiter
        .map(moodle::delimiter_name)
        .unwrap_or_else(|| "unknown".into());
    if report.is_clean() {
        println!(
            "{}: ok — {} rows, {} enrolments, delimiter {delim}",
            args.file.display(),
            report.rows,
            report.enrolments
        );
        Ok(exit::OK)
    } else {
        let n = report
            .problems
            .iter()
            .filter(|p| p.severity == moodle::Severity::Error)
            .count();
        println!(
            "{}: {n} error(s): Moodle would refuse or misread this file",
            args.file.display()
        );
        Ok(exit::LEFT_OUT)
    }
}
