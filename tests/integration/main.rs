#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Integration tests: the real binary against SQLite built from the SQL fixtures and a
//! real slapd started by the test support. One test binary, a fresh directory per test.

mod config_errors;
mod faults;
mod fuzz;
mod ldap;
mod lint;
mod moodle_ws;
mod never_silent;
mod nightly;
mod ops;
#[cfg(feature = "oracle")]
mod oracle_live;
mod report;
mod run;
mod slapd;
mod sql;
mod state;
mod util;
