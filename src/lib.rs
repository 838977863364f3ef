//! enrolgen: builds Moodle "Upload users" enrolment files from Apogée and SUPANN
//! directories. The binary is a thin layer over this library.

pub mod cli;
pub mod cmd;
pub mod config;
pub mod csvio;
pub mod deliver;
pub mod error;
pub mod filter;
pub mod model;
pub mod moodle;
pub mod output;
pub mod pipeline;
pub mod plan;
pub mod source;
pub mod suggest;
pub mod supann;
pub mod template;

/// An error and its causes, joined with ": ", for one-line messages. A cause that
/// only repeats what is already said (maybe behind a label such as "I/O error: ")
/// is left out.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        let unlabelled = t.split_once(": ").map_or(t.as_str(), |(_, rest)| rest);
        if !s.contains(&t) && !s.contains(unlabelled) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("directory u: cannot connect: network error: refused")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("I/O error: refused")]
    struct Inner;

    #[test]
    fn chain_leaves_out_causes_that_repeat_the_message() {
        assert_eq!(
            error_chain(&Outer(Inner)),
            "directory u: cannot connect: network error: refused"
        );
    }
}
