//! Reads an SQL script one statement at a time, without holding the whole file: a
//! dump of Apogée is tens of megabytes, and only one statement is needed at once.

use std::io::BufRead;

/// Statements of a script, split on the `;` that end them (not those in quotes or
/// comments), each with the line its first word stands on.
pub struct Statements<R> {
    input: R,
    line: String,
    /// Lines read so far.
    line_no: usize,
    /// The statement being gathered, and the line it started on.
    current: String,
    start_line: usize,
    quote: Option<u8>,
}

impl<R: BufRead> Statements<R> {
    pub fn new(input: R) -> Statements<R> {
        Statements {
            input,
            line: String::new(),
            line_no: 0,
            current: String::new(),
            start_line: 1,
            quote: None,
        }
    }

    /// Moves the finished statement out, if it holds more than blanks and comments.
    fn take(&mut self, next_start: usize) -> Option<(usize, String)> {
        let stmt = std::mem::take(&mut self.current);
        let line = self.start_line + leading_lines(&stmt);
        self.start_line = next_start;
        has_code(&stmt).then_some((line, stmt))
    }
}

impl<R: BufRead> Iterator for Statements<R> {
    type Item = std::io::Result<(usize, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            // Finish the statements already in `line` first.
            if !self.line.is_empty() {
                let bytes = self.line.as_bytes();
                let mut end = None;
                let mut i = 0;
                while i < bytes.len() {
                    let b = bytes[i];
                    match self.quote {
                        Some(q) if b == q => self.quote = None,
                        Some(_) => {}
                        None => match b {
                            b'\'' | b'"' => self.quote = Some(b),
                            b'-' if bytes.get(i + 1) == Some(&b'-') => break,
                            b';' => {
                                end = Some(i);
                                break;
                            }
                            _ => {}
                        },
                    }
                    i += 1;
                }
                match end {
                    Some(i) => {
                        self.current.push_str(&self.line[..=i]);
                        self.line.drain(..=i);
                        // The rest of this line belongs to the next statement.
                        if let Some(s) = self.take(self.line_no) {
                            return Some(Ok(s));
                        }
                        continue;
                    }
                    None => {
                        self.current.push_str(&self.line);
                        self.line.clear();
                    }
                }
            }
            match self.input.read_line(&mut self.line) {
                Ok(0) => {
                    return self.take(self.line_no).map(Ok);
                }
                Ok(_) => {
                    self.line_no += 1;
                    if self.current.is_empty() && self.start_line < self.line_no {
                        self.start_line = self.line_no;
                    }
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

fn has_code(stmt: &str) -> bool {
    stmt.lines().any(|l| {
        let t = l.trim();
        !(t.is_empty() || t.starts_with("--") || t == ";")
    })
}

/// Lines of blank space and comments before a statement's first word.
fn leading_lines(stmt: &str) -> usize {
    let mut n = 0;
    for l in stmt.split_inclusive('\n') {
        let t = l.trim();
        if t.is_empty() || t.starts_with("--") {
            n += usize::from(l.ends_with('\n'));
        } else {
            break;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<(usize, String)> {
        Statements::new(s.as_bytes())
            .map(|r| r.map(|(l, t)| (l, t.trim().to_string())))
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn splits_on_statement_ends_only() {
        let s = "CREATE TABLE t (a TEXT); -- a; comment\nINSERT INTO t VALUES ('x;y');\nINSERT INTO t VALUES ('it''s');\n";
        assert_eq!(
            split(s),
            [
                (1, "CREATE TABLE t (a TEXT);".to_string()),
                (
                    2,
                    "-- a; comment\nINSERT INTO t VALUES ('x;y');".to_string()
                ),
                (3, "INSERT INTO t VALUES ('it''s');".to_string())
            ]
        );
    }

    #[test]
    fn statements_over_lines_and_on_one_line() {
        let s = "-- head\n\nCREATE TABLE t (\n  a TEXT -- the; value\n);INSERT INTO t VALUES ('multi\nline;');\nSELECT 1";
        assert_eq!(
            split(s),
            [
                (
                    3,
                    "-- head\n\nCREATE TABLE t (\n  a TEXT -- the; value\n);".to_string()
                ),
                (5, "INSERT INTO t VALUES ('multi\nline;');".to_string()),
                (7, "SELECT 1".to_string())
            ]
        );
    }

    #[test]
    fn blanks_comments_and_empty_statements_are_skipped() {
        assert_eq!(
            split("\n-- only a comment\n;\n;;\n  \n"),
            Vec::<(usize, String)>::new()
        );
    }
}
