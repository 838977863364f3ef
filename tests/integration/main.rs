#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Integration tests: the real binary against SQLite built from the SQL fixtures and a
//! real slapd started by the test support. One test binary, a fresh directory per test.

mod account_status;
mod adhoc;
mod cli;
mod config_errors;
mod delta;
mod explain;
mod faults;
mod first_night;
mod fuzz;
mod ldap;
mod lint;
mod lock;
mod moodle_server;
mod never_silent;
mod nightly;
#[cfg(feature = "oracle")]
mod oracle_live;
mod pegase;
mod platform_accounts;
mod postgres;
mod report;
mod run;
mod sheet;
mod sheet_traps;
mod slapd;
mod sql;
mod status;
mod turnover;
mod util;
mod verify;
mod webservice;
