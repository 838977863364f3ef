//! Parses the command line, sets up logging, runs the command and maps its result to
//! an exit code. Nothing else happens here.

use std::process::ExitCode;

use clap::Parser;
use enrolgen::cli::{Cli, Command};
use enrolgen::{cmd, error_chain};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    // A file-size limit (RLIMIT_FSIZE) kills a process that writes past it, unless
    // SIGXFSZ is ignored: then the write fails, the run reports it (exit 4), and the
    // temporary files it wrote are removed.
    // SAFETY: setting a signal's disposition to SIG_IGN before any thread starts.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let cli = Cli::parse();
    // Libraries (ldap3, rustls …) speak one level below enrolgen: their warnings about
    // a dropped connection repeat, less clearly, the error enrolgen reports itself.
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "error,enrolgen=warn",
        (false, 1) => "warn,enrolgen=info",
        (false, _) => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .init();
    // The only place the clock is read: commands take today's date (and the instant,
    // for monitoring) as parameters.
    let now = chrono::Utc::now();
    let today = now.with_timezone(&chrono::Local).date_naive();
    let result = match &cli.command {
        Command::Run(a) => {
            let v = cmd::run::Verbosity {
                quiet: cli.quiet,
                verbose: cli.verbose > 0,
            };
            cmd::run::run(a, today, now, v)
        }
        Command::Check(a) => cmd::check::run(a, today),
        Command::Lint(a) => cmd::lint::run(a),
        Command::Init(a) => cmd::init::run(a),
        Command::Explain(a) => cmd::explain::run(a, today),
        Command::Adhoc(a) => cmd::adhoc::run(a, today),
        Command::Verify(a) => cmd::verify::run(a, today, cli.quiet),
        Command::Status(a) => cmd::status::run(a, now),
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "enrolgen",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
        Command::Man(a) => cmd::man::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            enrolgen::output::say::error(&error_chain(&e));
            ExitCode::from(e.exit_code())
        }
    }
}
