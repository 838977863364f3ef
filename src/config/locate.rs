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

impl Lines {
    pub fn index(text: &str) -> Lines {
        let mut rec = Recorder::default();
        // A syntax error is reported by serde_norway with its own position; the
        // index then simply knows fewer paths.
        let _ = Parser::new_from_str(text).load(&mut rec, false);
        Lines {
            lines: rec.lines,
            duplicates: rec.duplicates,
        }
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
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
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
            Some(Frame::Map { path, key }) => match key.take() {
                None => {
                    // This node is a key.
                    let k = scalar.unwrap_or_default().to_string();
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    // Paths are unique per node, so a path seen before is the
                    // same key repeated in the same mapping.
                    match self.lines.get(&p) {
                        Some(first) => self.duplicates.push((p, *first, line)),
                        None => {
                            self.lines.insert(p, line);
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
                self.stack.push(Frame::Map { path, key: None });
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
        let l = Lines::index(text);
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
        let l = Lines::index(text);
        assert_eq!(
            l.duplicates,
            [
                ("cohorts.a".to_string(), 2, 4),
                ("platforms.p.csv.delimiter".to_string(), 6, 6),
                ("enrol[0].cohort".to_string(), 8, 8),
            ]
        );
    }
}
