//! Every CSV file enrolgen reads or writes is set up here, once: the readers of
//! people's files (a platform's account list, a student list), and the writers of the
//! report files. The upload files Moodle imports are written by `output::upload`
//! with the writer from here and Moodle's own rules (`moodle`).

use std::path::{Path, PathBuf};

/// A CSV file that cannot be read: the file, the line and why (the sources turn it
/// into their own error).
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}: {message}", path.display())]
pub struct CsvError {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

/// A file people open that cannot be encoded: which, and why (`output` turns it
/// into its own error).
#[derive(Debug, thiserror::Error)]
#[error("cannot encode {what}: {message}")]
pub struct EncodeError {
    pub what: String,
    pub message: String,
}

/// A CSV file read whole: lower-cased header names, then the rows with their line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<(usize, Vec<String>)>,
}

impl Table {
    /// The position of a column, by its lower-cased name.
    pub fn col(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }
}

/// Reads a CSV file as spreadsheets save it (`records`), its first record the
/// lower-cased column names. Errors name the file and the line.
pub fn read_table(path: &Path, bytes: &[u8]) -> Result<Table, CsvError> {
    let text = utf8(path, bytes, "save the file as \"CSV UTF-8\"")?;
    let mut records = records(path, text)?.into_iter();
    let headers = records
        .next()
        .map(|r| r.cells.iter().map(|c| c.trim().to_lowercase()).collect())
        .unwrap_or_default();
    let rows = records
        .map(|r| {
            (
                r.row,
                r.cells.iter().map(|c| c.trim().to_string()).collect(),
            )
        })
        .collect();
    Ok(Table { headers, rows })
}

/// A record of a CSV file, with the row number a spreadsheet shows for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub row: usize,
    pub cells: Vec<String>,
}

/// The one CSV reader of people's files (account lists, student lists, requesters'
/// sheets): the delimiter sniffed (`sniff`), quoted cells understood, any line end,
/// rows of uneven length, cells as written. The row number is the one the
/// spreadsheet showed: one per record, blank lines (which are skipped) counted, a
/// cell over several lines not. `lint` alone splits lines itself, because it reads
/// an upload file the way Moodle does, which is not as CSV.
pub fn records(path: &Path, text: &str) -> Result<Vec<Record>, CsvError> {
    let bytes = text.as_bytes();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sniff(bytes))
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut out = Vec::new();
    let mut row = 0;
    let mut rec = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(CsvError {
                    path: path.to_path_buf(),
                    line: e.position().map_or(0, |p| p.line() as usize),
                    message: e.to_string(),
                })
            }
        }
        // A record's position is where the reader stood: before the blank lines.
        let start = rec.position().map_or(0, |p| p.byte() as usize);
        let mut rest = bytes.get(start..).unwrap_or_default();
        // …or between the CR and the LF that end the record before.
        if start > 0 && bytes.get(start - 1) == Some(&b'\r') {
            rest = rest.strip_prefix(b"\n").unwrap_or(rest);
        }
        let blank = rest
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        row += 1 + line_ends(&rest[..blank]);
        out.push(Record {
            row,
            cells: rec.iter().map(str::to_string).collect(),
        });
    }
    Ok(out)
}

/// How many lines end in `bytes` (`\n`, `\r\n` or a lone `\r`).
fn line_ends(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .enumerate()
        .filter(|(i, b)| **b == b'\n' || (**b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count()
}

/// The delimiter the first line uses most, outside quotes, of `;`, `,` and tab;
/// `;` on a tie (the French spreadsheets' default).
pub fn sniff(bytes: &[u8]) -> u8 {
    let mut counts = [(b';', 0usize), (b',', 0), (b'\t', 0)];
    let mut quoted = false;
    for &b in bytes.iter().take_while(|b| **b != b'\n' && **b != b'\r') {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for c in &mut counts {
                if c.0 == b {
                    c.1 += 1;
                }
            }
        }
    }
    counts
        .iter()
        .fold((b';', 0), |best, c| if c.1 > best.1 { *c } else { best })
        .0
}

/// The text of a CSV file without its UTF-8 byte-order mark (the one place it is
/// dropped), once checked to be UTF-8; otherwise an error naming the line, and `fix`.
pub fn utf8<'a>(path: &Path, bytes: &'a [u8], fix: &str) -> Result<&'a str, CsvError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        CsvError {
            path: path.to_path_buf(),
            line,
            message: format!("not valid UTF-8: {fix}"),
        }
    })
}

/// Windows-1252 text as Unicode: what a French Excel writes for "CSV (séparateur:
/// point-virgule)". `None` when a byte has no character there (0x81, 0x8D, 0x8F,
/// 0x90, 0x9D): the file is in some other encoding, which is not guessed.
pub fn windows_1252(bytes: &[u8]) -> Option<String> {
    const HIGH: [u16; 32] = [
        0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
        0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC,
        0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
    ];
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9F => {
                char::from_u32(u32::from(HIGH[usize::from(b - 0x80)])).filter(|c| *c != '\0')
            }
            _ => Some(char::from(b)),
        })
        .collect()
}

/// A CSV writer for files people open (reports): `delimiter`, lines ended by `\n`,
/// quotes only where a value needs them.
fn writer(delimiter: u8) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new())
}

/// The writer of Moodle upload files: never a quote (the procedure forbids them;
/// every value was checked to need none), lines ended by `\n`.
pub fn upload_writer(delimiter: u8) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .delimiter(delimiter)
        .quote_style(csv::QuoteStyle::Never)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new())
}

/// A cell of a file people open, made inert for spreadsheets: one that starts with
/// `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel and Calc
/// (`=HYPERLINK(…)` from a group label, say), so it gets a leading `'`, which they
/// show as text. A plain number (`-5`) stays as it is. Never used for upload files:
/// Moodle reads those, and every value in them was checked.
fn inert(cell: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let formula = matches!(
        cell.first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    );
    // Bytes, not characters: a cell may start with a letter of several bytes.
    let number = cell.len() > 1
        && cell[1..].iter().all(|b| b.is_ascii_digit() || *b == b'.')
        && std::str::from_utf8(cell).is_ok_and(|t| t.parse::<f64>().is_ok());
    if formula && !number {
        let mut v = Vec::with_capacity(cell.len() + 1);
        v.push(b'\'');
        v.extend_from_slice(cell);
        std::borrow::Cow::Owned(v)
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// Writes the records of a file people open and returns the bytes; every cell is
/// made inert for spreadsheets (`inert`); errors name the file being made.
pub fn write_records<I, R>(what: &str, delimiter: u8, records: I) -> Result<Vec<u8>, EncodeError>
where
    I: IntoIterator<Item = R>,
    R: IntoIterator,
    R::Item: AsRef<[u8]>,
{
    let fail = |e: &dyn std::fmt::Display| EncodeError {
        what: what.to_string(),
        message: e.to_string(),
    };
    let mut w = writer(delimiter);
    for r in records {
        let cells = r.into_iter();
        w.write_record(cells.map(|c| inert(c.as_ref()).into_owned()))
            .map_err(|e| fail(&e))?;
    }
    w.into_inner().map_err(|e| fail(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_spreadsheets_save() {
        let t = read_table(
            Path::new("x.csv"),
            "\u{feff}Username ; Suspended\n\"ab\" ; 1\nc;0\n".as_bytes(),
        )
        .unwrap();
        assert_eq!(t.headers, ["username", "suspended"]);
        assert_eq!(
            t.rows,
            [
                (2, vec!["ab".to_string(), "1".to_string()]),
                (3, vec!["c".to_string(), "0".to_string()])
            ]
        );
        let e = read_table(Path::new("x.csv"), b"a,b\n\xff,1\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.csv:2: not valid UTF-8"), "{e}");
    }

    #[test]
    fn windows_1252_is_read_and_its_holes_refused() {
        assert_eq!(
            windows_1252(b"N\xb0 \xe9tudiant;R\xf4le 1;\x80\x92").as_deref(),
            Some("N° étudiant;Rôle 1;€’")
        );
        assert_eq!(windows_1252(b"a\x81b"), None);
    }

    #[test]
    fn writes_with_the_delimiter_and_quotes_only_where_needed() {
        let b = write_records("t", b';', [["a", "b;c"], ["d", "e"]]).unwrap();
        assert_eq!(String::from_utf8(b).unwrap(), "a;\"b;c\"\nd;e\n");
    }

    #[test]
    fn formulas_are_made_text_and_numbers_kept() {
        let b = write_records(
            "t",
            b';',
            [[
                "=HYPERLINK(\"http://x\")",
                "+33 6",
                "-5",
                "@SUM(A1)",
                "-1.5",
                "a=b",
                "-",
                "Étudiant",
            ]],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "\"'=HYPERLINK(\"\"http://x\"\")\";'+33 6;-5;'@SUM(A1);-1.5;a=b;'-;Étudiant\n"
        );
    }
}
