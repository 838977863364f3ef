//! One module per subcommand; each takes its parsed arguments and returns an exit
//! code or a typed error for `main` to report.

pub mod adhoc;
pub mod check;
pub mod explain;
pub mod init;
pub mod lint;
pub mod man;
pub mod run;
pub mod status;
pub mod verify;
