//! `enrolgen man`: the man pages, made from the command line's definitions, so they
//! never drift from `--help`. enrolgen(1) names a page per subcommand, enrolgen-SUB(1).

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};
use crate::error::{exit, Error, UsageError};
use crate::output::OutputError;

pub fn run(args: &ManArgs) -> Result<u8, Error> {
    let mut top = Cli::command().disable_help_subcommand(true);
    top.build();
    if let Some(dir) = &args.dir {
        // Rendered in memory, then written as every other file: to a temporary
        // name and renamed, never through a link planted in the folder.
        let mut pages = vec![("enrolgen.1".to_string(), top.clone())];
        pages.extend(
            top.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(|s| (format!("enrolgen-{}.1", s.get_name()), s.clone())),
        );
        let mut files = Vec::new();
        for (name, page) in pages {
            let bytes = render(page).map_err(|source| OutputError::Io {
                path: dir.join(&name),
                source,
            })?;
            files.push(crate::output::RenderedFile {
                name: name.into(),
                bytes,
            });
        }
        crate::output::atomic::write_all(dir, dir, &files, 0o644)?;
        return Ok(exit::OK);
    }
    let page = match &args.command {
        None => top,
        Some(name) => {
            let names: Vec<String> = top
                .get_subcommands()
                .map(|s| s.get_name().to_string())
                .collect();
            match top.find_subcommand(name) {
                Some(sub) => sub.clone(),
                None => {
                    return Err(UsageError::NoSuchPage {
                        name: name.clone(),
                        known: names.join(", "),
                    }
                    .into())
                }
            }
        }
    };
    let written = render(page).and_then(|out| std::io::stdout().write_all(&out));
    written.map_err(|source| OutputError::Io {
        path: "standard output (the man page)".into(),
        source,
    })?;
    Ok(exit::OK)
}

/// One page: clap's sections, the version in its footer, then the sections a
/// Debian administrator looks for (EXIT STATUS, ENVIRONMENT, FILES, SEE ALSO).
fn render(page: clap::Command) -> std::io::Result<Vec<u8>> {
    let name = page.get_name().to_string();
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .source(format!("enrolgen {}", env!("CARGO_PKG_VERSION")))
        .manual("enrolgen manual")
        .render(&mut out)?;
    out.extend_from_slice(TAIL.as_bytes());
    let others: Vec<String> = PAGES
        .iter()
        .filter(|p| **p != name)
        .map(|p| format!("\\fB{p}\\fR(1)"))
        .collect();
    out.extend_from_slice(format!(".SH \"SEE ALSO\"\n{}\n", others.join(", ")).as_bytes());
    Ok(out)
}

/// The pages, as `SEE ALSO` names them.
const PAGES: [&str; 10] = [
    "enrolgen",
    "enrolgen-run",
    "enrolgen-check",
    "enrolgen-lint",
    "enrolgen-explain",
    "enrolgen-adhoc",
    "enrolgen-verify",
    "enrolgen-status",
    "enrolgen-init",
    "enrolgen-man",
];

const TAIL: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
success (\fBverify\fR: Moodle holds the plan; \fBstatus\fR: OK)
.TP
\fB1\fR
files written, but more than max_left_out_ratio left out, or nobody could be enrolled (\fBadhoc\fR); \fBstatus\fR: WARNING
.TP
\fB2\fR
a configuration or usage error (the message names the file, the line and the key); \fBstatus\fR: CRITICAL
.TP
\fB3\fR
a source or a platform's Moodle failed (nothing of it written); \fBstatus\fR: UNKNOWN
.TP
\fB4\fR
the output could not be written, or another run holds the output folder
.TP
\fB5\fR
suspensions held back, until \fB--accept-suspensions\fR
.TP
\fB6\fR
\fBverify\fR: Moodle differs from the plan
.TP
\fB7\fR
web services: Moodle refused some operations (the rest applied)
.SH ENVIRONMENT
.TP
\fBENROLGEN_CONFIG\fR
the configuration file, when \fB-c\fR is not given
.TP
\fBCREDENTIALS_DIRECTORY\fR
where systemd gives the unit its credentials (\fB*_credential\fR keys)
.TP
\fBJOURNAL_STREAM\fR
set by systemd: when it names stderr, each line carries its journal priority
.TP
\fBRUST_LOG\fR
the detail of the logs (for example \fBenrolgen=debug\fR)
.SH FILES
.TP
\fI/etc/enrolgen/enrolgen.yaml\fR
the configuration of the Debian package; the reference is \fI/usr/share/doc/enrolgen/examples/enrolgen.yaml\fR
.TP
\fI/etc/enrolgen/credentials/\fR
the secrets the unit gives as credentials
.TP
\fI/var/lib/enrolgen/out/\fR
the nightly run's output: upload files and outbox, states, journals, summary.json, report.html, last-run.json, enrolgen.prom
"#;
