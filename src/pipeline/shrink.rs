//! Sources that shrink are suspicious: a half-exported dump, an LDIF cut short or a
//! directory branch emptied by mistake look like a mass departure. Before any file
//! changes, each source's count is compared with what it returned for the same
//! question in the previous run. Pure: both counts are parameters.

use crate::model::{PreviousSource, SourceTiming};

/// Compares the sources with the previous run's. A source that shrank stops the
/// run, unless `accept`: then the warnings to give instead.
pub fn guard(
    previous: Option<&crate::output::report::PreviousRun>,
    current: &[SourceTiming],
    accept: bool,
) -> Result<Vec<String>, crate::error::Error> {
    let shrunk = check(current, previous.map_or(&[][..], |p| p.sources.as_slice()));
    if shrunk.is_empty() {
        return Ok(Vec::new());
    }
    if accept {
        return Ok(shrunk
            .iter()
            .map(|s| format!("accepted with --accept-shrink: {s}"))
            .collect());
    }
    let when = previous
        .map(|p| format!(" (previous run: as of {})", p.as_of))
        .unwrap_or_default();
    Err(crate::error::Error::Refused(format!(
        "{}{when}. A source cut short looks like this. Nothing was written: check the source, \
         and run again with --accept-shrink if the drop is real",
        shrunk.join("; ")
    )))
}

/// Why the run must stop, one line per source; empty when every source looks whole.
pub fn check(current: &[SourceTiming], previous: &[PreviousSource]) -> Vec<String> {
    let mut out = Vec::new();
    for s in current {
        if s.records == 0 && s.asked {
            out.push(format!("{} returned nothing", s.source));
            continue;
        }
        let Some(p) = previous
            .iter()
            .find(|p| p.source == s.source && p.scope == s.scope)
        else {
            continue;
        };
        let floor = p.records as f64 * (1.0 - s.max_shrink);
        if (s.records as f64) < floor {
            let fall = 100.0 * (1.0 - s.records as f64 / p.records as f64);
            out.push(format!(
                "{} returned {} records against {} in the previous run (-{fall:.0}%, more than max_shrink {:.0}%)",
                s.source,
                s.records,
                p.records,
                s.max_shrink * 100.0
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now(records: usize, scope: &str) -> SourceTiming {
        SourceTiming {
            id: "apogee".into(),
            source: "directory u (LDIF u.ldif)".into(),
            seconds: 0.0,
            records,
            requests: 1,
            scope: scope.into(),
            max_shrink: 0.3,
            asked: true,
        }
    }

    fn before(records: usize, scope: &str) -> PreviousSource {
        PreviousSource {
            source: "directory u (LDIF u.ldif)".into(),
            records,
            scope: scope.into(),
        }
    }

    #[test]
    fn a_fall_beyond_the_limit_stops_the_run_and_names_both_counts() {
        let why = check(&[now(60, "a")], &[before(100, "a")]);
        assert_eq!(why.len(), 1);
        assert!(
            why[0].contains("returned 60 records against 100") && why[0].contains("-40%"),
            "{}",
            why[0]
        );
    }

    #[test]
    fn daily_variation_passes() {
        assert!(check(&[now(71, "a")], &[before(100, "a")]).is_empty());
        assert!(check(&[now(140, "a")], &[before(100, "a")]).is_empty());
    }

    #[test]
    fn another_question_is_not_compared() {
        assert!(check(&[now(10, "b")], &[before(100, "a")]).is_empty());
    }

    #[test]
    fn a_source_asked_for_nothing_may_return_nothing() {
        let s = SourceTiming {
            asked: false,
            ..now(0, "a")
        };
        assert!(check(&[s], &[]).is_empty());
    }

    #[test]
    fn nothing_at_all_stops_the_run_even_the_first_time() {
        assert_eq!(
            check(&[now(0, "a")], &[]),
            ["directory u (LDIF u.ldif) returned nothing"]
        );
    }
}
