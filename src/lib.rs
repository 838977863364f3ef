//! enrolgen: builds Moodle "Upload users" enrolment files from Apogée and SUPANN
//! directories. The binary is a thin layer over this library.

pub mod cli;
pub mod cmd;
pub mod config;
pub mod error;
pub mod filter;
pub mod gather;
pub mod model;
pub mod moodle;
pub mod output;
pub mod plan;
pub mod source;
pub mod template;

/// An error and its causes, joined with ": ", for one-line messages.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}
