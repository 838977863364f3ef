//! Finds the line of a key in the YAML text, so that errors found after
//! deserialisation (a cohort that is not defined, an empty course) still name a line.
//!
//! serde_norway reports positions only for the errors it finds itself; this walks the
//! parser's marked events once and records where every key path starts.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// Path → 1-based line, with paths written as serde_norway writes them: `enrol[2].cohort`.
#[derive(Debug, Default)]
pub struct Lines {
    lines: HashMap<String, usize>,
    /// Keys given twice in one mapping: (path, first line, repeated line), in file
    /// order. serde would silently keep the last one.
    pub duplicates: Vec<(String, usize, usize)>,
}

/// Why the text could not be indexed: (line, column, message).
pub type Unindexed = (usize, usize, String);

impl Lines {
    /// Indexes the text. It fails where this parser and serde_norway's (libyaml) may
    /// read the file differently: a text this reader cannot follow, or a character
    /// that one YAML version takes for a line break and the other does not. The
    /// caller refuses such a file when serde_norway accepts it, since its keys given
    /// twice could not all be seen.
    pub fn index(text: &str) -> Result<Lines, Unindexed> {
        for (n, line) in text.lines().enumerate() {
            if let Some((col, c)) = line
                .chars()
                .enumerate()
                .find(|(_, c)| matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}'))
            {
                return Err((
                    n + 1,
                    col + 1,
                    format!(
                        "character U+{:04X} is a line break to some YAML readers and not to others; remove it",
                        u32::from(c)
                    ),
                ));
            }
        }
        let mut rec = Recorder::default();
        Parser::new_from_str(text)
            .load(&mut rec, false)
            .map_err(|e| {
                (
                    e.marker().line(),
                    e.marker().col() + 1,
                    e.info().to_string(),
                )
            })?;
        Ok(Lines {
            lines: rec.lines,
            duplicates: rec.duplicates,
        })
    }

    /// The line of `path`, or of its closest recorded parent.
    pub fn line_of(&self, path: &str) -> Option<usize> {
        let mut p = path;
        loop {
            if let Some(l) = self.lines.get(p) {
                return Some(*l);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }
}

enum Frame {
    /// `keys`: the keys of this mapping so far, with their line.
    Map {
        path: String,
        key: Option<String>,
        keys: HashMap<String, usize>,
    },
    Seq {
        path: String,
        next: usize,
    },
}

#[derive(Default)]
struct Recorder {
    stack: Vec<Frame>,
    lines: HashMap<String, usize>,
    duplicates: Vec<(String, usize, usize)>,
}

impl Recorder {
    /// The path of the node that starts now, advancing the parent's state.
    fn enter_node(&mut self, scalar: Option<&str>, line: usize) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                self.lines.entry(p.clone()).or_insert(line);
                Some(p)
            }
            Some(Frame::Map { path, key, keys }) => match key.take() {
                None => {
                    // This node is a key.
                    let k = scalar.unwrap_or_default().to_string();
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    // Compared within the mapping, not by path: a key may hold a
                    // dot (`psy-l1.apogee`) and so write another key's path.
                    match keys.get(&k) {
                        Some(first) => self.duplicates.push((p, *first, line)),
                        None => {
                            keys.insert(k.clone(), line);
                            self.lines.entry(p).or_insert(line);
                        }
                    }
                    *key = Some(k);
                    None
                }
                Some(k) => Some(if path.is_empty() {
                    k
                } else {
                    format!("{path}.{k}")
                }),
            },
        }
    }
}

impl MarkedEventReceiver for Recorder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let line = mark.line();
        match ev {
            Event::Scalar(s, ..) => {
                self.enter_node(Some(&s), line);
            }
            Event::Alias(_) => {
                self.enter_node(None, line);
            }
            Event::MappingStart(..) => {
                let path = self.enter_node(None, line).unwrap_or_default();
                self.stack.push(Frame::Map {
                    path,
                    key: None,
                    keys: HashMap::new(),
                });
            }
            Event::SequenceStart(..) => {
                let path = self.enter_node(None, line).unwrap_or_default();
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_keys_and_sequence_items() {
        let text = "version: 1\nplatforms:\n  ecampus:\n    csv: { delimiter: \";\" }\nenrol:\n  - { cohort: a, platform: b }\n  - cohort: c\n    platform: d\n";
        let l = Lines::index(text).unwrap();
        assert_eq!(l.line_of("version"), Some(1));
        assert_eq!(l.line_of("platforms.ecampus.csv.delimiter"), Some(4));
        assert_eq!(l.line_of("enrol[0].platform"), Some(6));
        assert_eq!(l.line_of("enrol[1]"), Some(7));
        assert_eq!(l.line_of("enrol[1].platform"), Some(8));
        // Unknown leaf: falls back to the parent.
        assert_eq!(l.line_of("enrol[1].course"), Some(7));
        assert!(l.duplicates.is_empty());
    }

    #[test]
    fn keys_repeated_at_any_depth_are_found_with_both_lines() {
        let text = "cohorts:\n  a: { apogee: { etape: X, version: 1 } }\n  b: 1\n  a: 2\nplatforms:\n  p: { csv: { delimiter: \";\", delimiter: \",\" } }\nenrol:\n  - { cohort: a, cohort: b }\n";
        let l = Lines::index(text).unwrap();
        assert_eq!(
            l.duplicates,
            [
                ("cohorts.a".to_string(), 2, 4),
                ("platforms.p.csv.delimiter".to_string(), 6, 6),
                ("enrol[0].cohort".to_string(), 8, 8),
            ]
        );
    }

    #[test]
    fn a_key_with_a_dot_is_not_taken_for_a_path_given_twice() {
        let text =
            "cohorts:\n  psy-l1: { apogee: { etape: X } }\n  psy-l1.apogee: { usernames: [a] }\n";
        assert!(Lines::index(text).unwrap().duplicates.is_empty());
    }

    #[test]
    fn a_text_this_reader_cannot_follow_is_an_error_with_its_line() {
        let (line, _, m) = Lines::index("version: 1\nyear:\t2026\n").unwrap_err();
        assert_eq!(line, 2, "{m}");
        let (line, col, m) = Lines::index("version: 1\n# a\u{2028}b\n").unwrap_err();
        assert_eq!((line, col), (2, 4), "{m}");
        assert!(m.contains("U+2028"), "{m}");
    }
}
