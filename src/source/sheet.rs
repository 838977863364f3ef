//! A requester's spreadsheet, read as they made it: `.xlsx`, `.xls`, `.ods` (calamine)
//! or CSV in the shapes spreadsheets export. The first worksheet becomes rows of cells
//! as text, each with its row number as the spreadsheet shows it; what the cells mean
//! is the pure core's business (`plan::sheet`).

use std::path::{Path, PathBuf};

use calamine::{Data, Reader};

use crate::model::{CellKind as Kind, SheetCell as Cell, SheetRow as Row};
use crate::source::SourceError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sheet {
    pub path: PathBuf,
    pub rows: Vec<Row>,
}

/// Reads the first worksheet of a workbook, or a CSV file (any other extension).
pub fn read(path: &Path) -> Result<Sheet, SourceError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let rows = match ext.as_str() {
        "xlsx" | "xlsm" | "xls" | "ods" => workbook(path)?,
        _ => {
            let bytes = std::fs::read(path).map_err(|e| SourceError::read(path, e))?;
            csv_rows(path, &bytes)?
        }
    };
    Ok(Sheet {
        path: path.to_path_buf(),
        rows,
    })
}

fn workbook(path: &Path) -> Result<Vec<Row>, SourceError> {
    let what = path.display().to_string();
    let mut book = calamine::open_workbook_auto(path)
        .map_err(|e| SourceError::failed(&what, "cannot open the workbook", e))?;
    let range = match book.worksheet_range_at(0) {
        Some(r) => r.map_err(|e| SourceError::failed(&what, "cannot read its first sheet", e))?,
        None => return Ok(Vec::new()),
    };
    let Some((top, left)) = range.start() else {
        return Ok(Vec::new());
    };
    let (top, left) = (top as usize, left as usize);
    Ok(range
        .rows()
        .enumerate()
        .map(|(i, cells)| Row {
            number: top + i + 1,
            cells: std::iter::repeat_n(Cell::text(""), left)
                .chain(cells.iter().map(cell))
                .collect(),
        })
        .collect())
}

fn cell(d: &Data) -> Cell {
    let (text, kind) = match d {
        Data::Empty => (String::new(), Kind::Text),
        Data::String(s) => (s.clone(), Kind::Text),
        Data::Int(i) => (i.to_string(), Kind::Number),
        Data::Float(f) => (number(*f), Kind::Number),
        Data::Bool(b) => (if *b { "TRUE" } else { "FALSE" }.to_string(), Kind::Text),
        Data::DateTime(dt) if dt.is_datetime() => {
            let (y, m, d, hh, mm, ss, _) = dt.to_ymd_hms_milli();
            let text = if (hh, mm, ss) == (0, 0, 0) {
                format!("{y:04}-{m:02}-{d:02}")
            } else {
                format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}")
            };
            (text, Kind::Date)
        }
        Data::DateTime(dt) => (number(dt.as_f64()), Kind::Number),
        // ODS keeps dates as ISO text: its date part is the date.
        Data::DateTimeIso(s) => (
            s.strip_suffix("T00:00:00").unwrap_or(s).to_string(),
            Kind::Date,
        ),
        Data::DurationIso(s) => (s.clone(), Kind::Text),
        Data::Error(e) => (e.to_string(), Kind::Error),
    };
    Cell { text, kind }
}

/// A number as a person reads it: `21000004`, not `21000004.0`.
pub fn number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// A CSV as spreadsheets export it, read by `csvio::records`.
fn csv_rows(path: &Path, bytes: &[u8]) -> Result<Vec<Row>, SourceError> {
    let fix = "save the sheet as \"CSV UTF-8\" (or send the .xlsx/.ods itself)";
    let text = crate::csvio::utf8(path, bytes, fix)?;
    Ok(crate::csvio::records(path, text)?
        .into_iter()
        .map(|r| Row {
            number: r.row,
            cells: r.cells.iter().map(Cell::text).collect(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(rows: &[Row]) -> Vec<Vec<&str>> {
        rows.iter()
            .map(|r| r.cells.iter().map(|c| c.text.as_str()).collect())
            .collect()
    }

    #[test]
    fn csv_shapes_of_spreadsheet_exports() {
        let p = Path::new("s.csv");
        let bom_crlf_semicolon = b"\xEF\xBB\xBFusername;course1\r\njdupont;\"A;B\"\r\n\r\nx;y\r\n";
        let mut rows = csv_rows(p, bom_crlf_semicolon).unwrap();
        assert_eq!(rows.iter().map(|r| r.number).collect::<Vec<_>>(), [1, 2, 4]);
        rows.truncate(2);
        assert_eq!(
            texts(&rows),
            vec![vec!["username", "course1"], vec!["jdupont", "A;B"]]
        );
        let blank_and_multiline = b"\nusername;course1\n\"a\nb\";X\n\nc;Y\n";
        let rows = csv_rows(p, blank_and_multiline).unwrap();
        let numbers: Vec<usize> = rows.iter().map(|r| r.number).collect();
        assert_eq!(numbers, [2, 3, 5]);
        let tab = b"username\tcourse1\njdupont\tX\t\t\n";
        assert_eq!(
            texts(&csv_rows(p, tab).unwrap())[1],
            vec!["jdupont", "X", "", ""]
        );
        let comma = b"\"username\",\"course1\"\nj,\"a \"\"b\"\"\"\n";
        assert_eq!(texts(&csv_rows(p, comma).unwrap())[1], vec!["j", "a \"b\""]);
    }

    #[test]
    fn csv_not_utf8_names_the_line() {
        let err = csv_rows(Path::new("s.csv"), b"username\nr\xe9mi\n").unwrap_err();
        assert!(
            err.to_string().starts_with("s.csv:2: not valid UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn numbers_read_as_shown() {
        assert_eq!(number(21000004.0), "21000004");
        assert_eq!(number(60.0), "60");
        assert_eq!(number(1.5), "1.5");
    }
}
