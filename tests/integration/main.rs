//! Integration tests: the real binary against SQLite built from the SQL fixtures and a
//! real slapd started by the test support. One test binary, a fresh directory per test.

mod config_errors;
mod ldap;
mod lint;
mod run;
mod slapd;
mod sql;
mod util;
