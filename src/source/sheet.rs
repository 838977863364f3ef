//! A requester's spreadsheet, read as they made it: `.xlsx`, `.xls`, `.ods` (calamine)
//! or CSV in the shapes spreadsheets export (UTF-8, or Windows-1252 as a French
//! Excel saves "CSV (séparateur: point-virgule)"). Every worksheet becomes rows of
//! cells as text, each with its row number as the spreadsheet shows it; merged
//! cells give their value to every cell they cover; a formula error, or a formula
//! a program wrote without its value, is a cell of kind `Error`. Which worksheet
//! holds the request, and what the cells mean, is the pure core's business
//! (`plan::sheet`).
//!
//! A sheet is bounded: an archive that unpacks to more than `MAX_UNPACKED` bytes or
//! a worksheet of more than `MAX_CELLS` filled cells is refused, and an `.xlsx` is
//! read cell by cell, so memory follows the filled cells, not the sheet's extent (a
//! stray cell at XFD1048576 costs one cell).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, SheetVisible, Sheets};

use crate::model::{CellKind as Kind, SheetCell as Cell, SheetRow as Row, Worksheet};
use crate::source::{sheet_xml, SourceError};

/// What an `.xlsx` or `.ods` may unpack to (its worksheets are XML inside a zip).
pub const MAX_UNPACKED: u64 = 256 * 1024 * 1024;
/// The same for an `.ods`, read as a stream rather than whole.
pub const MAX_UNPACKED_ODS: u64 = 1024 * 1024 * 1024;
/// Filled cells in one worksheet (merged cells counted as they are spread).
pub const MAX_CELLS: usize = 4_000_000;

/// A workbook read whole: its worksheets in order, and what the reading noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workbook {
    pub path: PathBuf,
    pub worksheets: Vec<Worksheet>,
    /// Said in the report (a CSV read as Windows-1252).
    pub notes: Vec<String>,
}

/// Reads every worksheet of a workbook, or a CSV file (any other extension).
pub fn read(path: &Path) -> Result<Workbook, SourceError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let mut notes = Vec::new();
    let worksheets = match ext.as_str() {
        "xlsx" | "xlsm" | "xls" | "ods" => {
            if ext == "xls" {
                notes.push(format!(
                    "{}: an .xls (Excel 97-2003) does not tell enrolgen which rows are hidden or filtered out: check that none is, or save the sheet as .xlsx or .ods",
                    path.display()
                ));
            }
            workbook(path)?
        }
        _ => {
            let bytes = crate::source::read_input(path)?;
            let (rows, note) = csv_rows(path, &bytes)?;
            notes.extend(note);
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            vec![Worksheet {
                name,
                hidden: false,
                rows,
                hidden_columns: Default::default(),
            }]
        }
    };
    Ok(Workbook {
        path: path.to_path_buf(),
        worksheets,
        notes,
    })
}

/// A zip archive (`.xlsx`, `.ods`) whose entries unpack beyond `MAX_UNPACKED` is
/// refused before it is opened: a few megabytes can unpack to gigabytes.
fn check_archive(path: &Path, what: &str, limit: u64) -> Result<(), SourceError> {
    let file = std::fs::File::open(path).map_err(|e| SourceError::read(path, e))?;
    let Ok(mut zip) = zip::ZipArchive::new(file) else {
        // Not a zip: calamine says what it is not.
        return Ok(());
    };
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let entry = zip
            .by_index_raw(i)
            .map_err(|e| SourceError::failed(what, "cannot read the archive", e))?;
        total = total.saturating_add(entry.size());
    }
    if total > limit {
        return Err(SourceError::failed(
            what,
            "refused",
            format!(
                "it unpacks to {} MB, more than a request sheet needs ({} MB at most): send the sheet itself, without images or other content",
                total / 1_000_000,
                limit / 1_000_000
            ),
        ));
    }
    Ok(())
}

/// What the archive's XML says of each worksheet (hidden rows; for `.ods`, merged
/// cells and repeated rows), read before calamine: an `.ods` whose repeats would
/// spread beyond `MAX_CELLS` filled cells is refused here.
fn layouts(
    path: &Path,
    what: &str,
    ext: &str,
) -> Result<BTreeMap<String, sheet_xml::Layout>, SourceError> {
    let layouts = match ext {
        "xlsx" | "xlsm" | "ods" => {
            // An .ods is read as a stream (memory follows the cells filled): its
            // XML may be large, a formula filled down a million rows.
            let limit = if ext == "ods" {
                MAX_UNPACKED_ODS
            } else {
                MAX_UNPACKED
            };
            check_archive(path, what, limit)?;
            let file = std::fs::File::open(path).map_err(|e| SourceError::read(path, e))?;
            let read = if ext == "ods" {
                sheet_xml::ods(file)
            } else {
                sheet_xml::xlsx(file)
            };
            // Not an archive of ours: calamine says what is wrong with it.
            read.unwrap_or_default()
        }
        _ => BTreeMap::new(),
    };
    if let Some((name, l)) = layouts.iter().find(|(_, l)| l.filled > MAX_CELLS as u64) {
        return Err(SourceError::failed(
            what,
            "refused",
            format!(
                "worksheet '{name}' repeats its rows to {} filled cells, more than a request sheet holds ({MAX_CELLS} at most): delete the repeated rows",
                l.filled
            ),
        ));
    }
    Ok(layouts)
}

fn workbook(path: &Path) -> Result<Vec<Worksheet>, SourceError> {
    let what = path.display().to_string();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let layouts = layouts(path, &what, &ext)?;
    if ext == "ods" {
        return ods_workbook(path, &what, &layouts);
    }
    let mut book = calamine::open_workbook_auto(path)
        .map_err(|e| SourceError::failed(&what, "cannot open the workbook", e))?;
    let sheets: Vec<(String, bool)> = book
        .sheets_metadata()
        .iter()
        .filter(|s| s.typ == calamine::SheetType::WorkSheet)
        .map(|s| (s.name.clone(), s.visible != SheetVisible::Visible))
        .collect();
    let mut out = Vec::new();
    for (name, hidden) in sheets {
        let fail = |e: &String| {
            SourceError::failed(&what, format!("cannot read worksheet '{name}'"), e.clone())
        };
        let mut grid = match &mut book {
            Sheets::Xlsx(x) => xlsx_grid(x, &name).map_err(|e| fail(&e))?,
            other => dense_grid(other, &name).map_err(|e| fail(&e))?,
        };
        let layout = layouts.get(&name).cloned().unwrap_or_default();
        grid.spread(&layout.merged).map_err(|e| fail(&e))?;
        let mut rows = grid.rows();
        for r in &mut rows {
            r.hidden = layout.hidden_rows.contains(&((r.number - 1) as u32));
        }
        out.push(Worksheet {
            name: name.clone(),
            hidden,
            rows,
            hidden_columns: layout.hidden_columns.iter().map(|c| *c as usize).collect(),
        });
    }
    Ok(out)
}

/// An `.ods`, read as a stream (`sheet_xml::ods_tables`): calamine reads it whole
/// into a grid as large as its extent.
fn ods_workbook(
    path: &Path,
    what: &str,
    layouts: &BTreeMap<String, sheet_xml::Layout>,
) -> Result<Vec<Worksheet>, SourceError> {
    let file = std::fs::File::open(path).map_err(|e| SourceError::read(path, e))?;
    let tables = sheet_xml::ods_tables(std::io::BufReader::new(file), MAX_CELLS)
        .map_err(|e| SourceError::failed(what, "cannot read the workbook", e))?;
    let mut out = Vec::new();
    for t in tables {
        let fail = |e: &String| {
            SourceError::failed(
                what,
                format!("cannot read worksheet '{}'", t.name),
                e.clone(),
            )
        };
        let mut grid = Grid::default();
        for (pos, v) in t.cells {
            grid.put(pos, ods_cell(v)).map_err(|e| fail(&e))?;
        }
        let layout = layouts.get(&t.name).cloned().unwrap_or_default();
        grid.spread(&layout.merged).map_err(|e| fail(&e))?;
        let mut rows = grid.rows();
        for r in &mut rows {
            r.hidden = layout.hidden_rows.contains(&((r.number - 1) as u32));
        }
        out.push(Worksheet {
            name: t.name,
            hidden: t.hidden,
            rows,
            hidden_columns: layout.hidden_columns.iter().map(|c| *c as usize).collect(),
        });
    }
    Ok(out)
}

/// An `.ods` cell as the other formats' cells read: an error by its type (French
/// LibreOffice's `#DIV/0 !` is one whatever its text), a date by its date part.
fn ods_cell(v: sheet_xml::OdsValue) -> Cell {
    use sheet_xml::OdsValue;
    match v {
        OdsValue::Number(f) => Cell {
            text: number(f),
            kind: Kind::Number,
        },
        OdsValue::Date(d) => Cell {
            text: d
                .split_once('T')
                .map_or(d.as_str(), |(day, _)| day)
                .to_string(),
            kind: Kind::Date,
        },
        OdsValue::Bool(b) => Cell {
            text: if b { "TRUE" } else { "FALSE" }.to_string(),
            kind: Kind::Text,
        },
        OdsValue::Text(t) => text_cell(&t),
        OdsValue::Error(t) => Cell {
            text: t,
            kind: Kind::Error,
        },
        OdsValue::Uncomputed(f) => {
            let f = f.strip_prefix("of:").unwrap_or(&f);
            uncomputed(f.strip_prefix('=').unwrap_or(f))
        }
    }
}

/// The filled cells of a worksheet, by row and column (0-based).
#[derive(Default)]
struct Grid {
    cells: BTreeMap<u32, BTreeMap<u32, Cell>>,
    count: usize,
}

impl Grid {
    fn put(&mut self, (r, c): (u32, u32), cell: Cell) -> Result<(), String> {
        if cell.text.is_empty() {
            return Ok(());
        }
        self.count += 1;
        if self.count > MAX_CELLS {
            return Err(format!(
                "more than {MAX_CELLS} filled cells: a request sheet is smaller (a stray value far down or right? delete the rows and columns after the request)"
            ));
        }
        self.cells.entry(r).or_default().insert(c, cell);
        Ok(())
    }

    /// Merged cells: the value of the first spread over the region, as the
    /// spreadsheet shows it (a group written once for three rows is theirs).
    fn spread(&mut self, regions: &[calamine::Dimensions]) -> Result<(), String> {
        for d in regions {
            let Some(first) = self
                .cells
                .get(&d.start.0)
                .and_then(|r| r.get(&d.start.1))
                .cloned()
            else {
                continue;
            };
            let area = (u64::from(d.end.0 - d.start.0) + 1) * (u64::from(d.end.1 - d.start.1) + 1);
            if area > MAX_CELLS as u64 {
                return Err(format!("a merged region of {area} cells"));
            }
            for r in d.start.0..=d.end.0 {
                for c in d.start.1..=d.end.1 {
                    if (r, c) != d.start {
                        self.put((r, c), first.clone())?;
                    }
                }
            }
        }
        Ok(())
    }

    fn rows(self) -> Vec<Row> {
        self.cells
            .into_iter()
            .map(|(r, cells)| {
                let dense = Row::DENSE as u32;
                let width = cells
                    .range(..dense)
                    .next_back()
                    .map_or(0, |(c, _)| *c as usize + 1);
                let mut row = vec![Cell::text(""); width];
                let mut far = Vec::new();
                for (c, cell) in cells {
                    match row.get_mut(c as usize) {
                        Some(slot) => *slot = cell,
                        None => far.push((c as usize, cell)),
                    }
                }
                Row {
                    number: r as usize + 1,
                    cells: row,
                    far,
                    hidden: false,
                }
            })
            .collect()
    }
}

/// The text a formula without a value reads as: a program wrote the file (a
/// spreadsheet computes and saves every value).
fn uncomputed(formula: &str) -> Cell {
    Cell {
        text: format!(
            "a formula without a computed value (={formula}): open the file in a spreadsheet and save it"
        ),
        kind: Kind::Error,
    }
}

/// An `.xlsx` worksheet cell by cell: memory follows the filled cells.
fn xlsx_grid<RS: std::io::Read + std::io::Seek>(
    x: &mut calamine::Xlsx<RS>,
    name: &str,
) -> Result<Grid, String> {
    let mut grid = Grid::default();
    {
        let mut reader = x.worksheet_cells_reader(name).map_err(|e| e.to_string())?;
        while let Some(rec) = reader.next_cell_with_formula().map_err(|e| e.to_string())? {
            let value = Data::from(rec.value);
            let c = match (&value, rec.formula.as_deref()) {
                (Data::Empty, Some(f)) if !f.is_empty() => uncomputed(f),
                _ => cell(&value),
            };
            grid.put(rec.pos, c)?;
        }
    }
    let merged = x
        .merge_cells_by_sheet_name(name)
        .map_err(|e| e.to_string())?;
    grid.spread(&merged)?;
    Ok(grid)
}

/// An `.xls` or `.ods` worksheet (calamine reads them whole).
fn dense_grid<RS: std::io::Read + std::io::Seek>(
    book: &mut Sheets<RS>,
    name: &str,
) -> Result<Grid, String> {
    let range = book.worksheet_range(name).map_err(|e| e.to_string())?;
    let formulas = book.worksheet_formula(name).unwrap_or_default();
    let mut grid = Grid::default();
    let start = range.start().unwrap_or_default();
    for (r, c, v) in range.used_cells() {
        grid.put((start.0 + r as u32, start.1 + c as u32), cell(v))?;
    }
    // A formula whose cell holds no value.
    if let Some(fstart) = formulas.start() {
        for (r, c, f) in formulas.used_cells() {
            let pos = (fstart.0 + r as u32, fstart.1 + c as u32);
            let empty = range.get_value(pos).is_none_or(|v| *v == Data::Empty);
            if !f.is_empty() && empty {
                grid.put(pos, uncomputed(f))?;
            }
        }
    }
    if let Sheets::Xls(x) = book {
        if let Ok(merged) = x.merge_cells_by_sheet_name(name) {
            grid.spread(&merged)?;
        }
    }
    Ok(grid)
}

fn cell(d: &Data) -> Cell {
    let (text, kind) = match d {
        Data::Empty => (String::new(), Kind::Text),
        Data::String(s) => return text_cell(s),
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
            s.split_once('T')
                .map_or(s.as_str(), |(day, _)| day)
                .to_string(),
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

/// The texts spreadsheets write for a formula error, in the languages Excel and
/// LibreOffice ship for French offices and their neighbours (English, French,
/// German, Spanish, Italian, Dutch, Portuguese), compared without spaces (French
/// LibreOffice writes `#DIV/0 !`, `#VALEUR !`, `#NOM ?`, `Err :502`) and without
/// case.
const ERROR_TEXTS: [&str; 45] = [
    // English
    "#N/A",
    "#REF!",
    "#DIV/0!",
    "#VALUE!",
    "#NAME?",
    "#NUM!",
    "#NULL!",
    "#SPILL!",
    "#CALC!",
    "#FIELD!",
    "#BLOCKED!",
    "#CONNECT!",
    "#BUSY!",
    "#UNKNOWN!",
    "#GETTING_DATA",
    // French
    "#VALEUR!",
    "#NOM?",
    "#NOMBRE!",
    "#NUL!",
    "#N/D",
    "#RÉF!",
    "#PROPAGATION!",
    // German
    "#NV",
    "#BEZUG!",
    "#WERT!",
    "#ZAHL!",
    "#ÜBERLAUF!",
    "#BERECHNUNG!",
    // Spanish
    "#¡REF!",
    "#¡VALOR!",
    "#¿NOMBRE?",
    "#¡NUM!",
    "#¡NULO!",
    "#¡DIV/0!",
    // Italian
    "#RIF!",
    "#VALORE!",
    "#NOME?",
    "#NULLO!",
    // Dutch
    "#N/B",
    "#VERW!",
    "#WAARDE!",
    "#NAAM?",
    "#GETAL!",
    "#LEEG!",
    // Portuguese
    "#NÚM!",
];

/// Whether a cell's text is a formula error's (see `ERROR_TEXTS`; LibreOffice's
/// `Err:NNN` in any spacing).
pub fn is_error_text(text: &str) -> bool {
    let t: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect();
    if t.len() < 2 {
        return false;
    }
    if let Some(n) = t.strip_prefix("ERR:") {
        return !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    }
    ERROR_TEXTS
        .iter()
        .any(|e| e.chars().flat_map(char::to_uppercase).eq(t.chars()))
}

/// A cell written as text: an error when it is the text of a formula error (a CSV
/// export, or an `.ods`, where LibreOffice keeps an error as its text).
fn text_cell(text: &str) -> Cell {
    Cell {
        text: text.to_string(),
        kind: if is_error_text(text) {
            Kind::Error
        } else {
            Kind::Text
        },
    }
}

/// A CSV as spreadsheets export it, read by `csvio::records`: UTF-8, or else
/// Windows-1252 (said in the note).
fn csv_rows(path: &Path, bytes: &[u8]) -> Result<(Vec<Row>, Option<String>), SourceError> {
    let fix = "save the sheet as \"CSV UTF-8\" (or send the .xlsx/.ods itself)";
    // Excel's "Texte Unicode" and LibreOffice's Unicode CSV: UTF-16, known by its
    // byte-order mark.
    if let Some(text) = utf16(bytes) {
        let text = text.map_err(|at| SourceError::BadData {
            path: path.to_path_buf(),
            line: 1,
            message: format!(
                "UTF-16 (by its byte-order mark), but not valid UTF-16 at byte {at}: {fix}"
            ),
        })?;
        let rows = rows_of(path, &text)?;
        let note = format!(
            "{}: read as UTF-16 (Excel's \"Texte Unicode\")",
            path.display()
        );
        return Ok((rows, Some(note)));
    }
    let (text, note) = match crate::csvio::utf8(path, bytes, fix) {
        Ok(t) => (std::borrow::Cow::Borrowed(t), None),
        Err(e) => match crate::csvio::windows_1252(bytes) {
            Some(t) => (
                std::borrow::Cow::Owned(t),
                Some(format!(
                    "{}: not UTF-8, read as Windows-1252 (what a French Excel saves as \"CSV (séparateur: point-virgule)\")",
                    path.display()
                )),
            ),
            None => return Err(e.into()),
        },
    };
    Ok((rows_of(path, &text)?, note))
}

fn rows_of(path: &Path, text: &str) -> Result<Vec<Row>, SourceError> {
    Ok(crate::csvio::records(path, text)?
        .into_iter()
        .map(|r| {
            let mut cells: Vec<Cell> = r.cells.iter().map(|c| text_cell(c)).collect();
            let far: Vec<(usize, Cell)> = if cells.len() > Row::DENSE {
                cells
                    .split_off(Row::DENSE)
                    .into_iter()
                    .enumerate()
                    .filter(|(_, c)| !c.text.trim().is_empty())
                    .map(|(i, c)| (Row::DENSE + i, c))
                    .collect()
            } else {
                Vec::new()
            };
            Row {
                number: r.row,
                cells,
                far,
                hidden: false,
            }
        })
        .collect())
}

/// The text of UTF-16 bytes with a byte-order mark (little or big endian): `None`
/// without one; `Err(offset)` where the bytes are not UTF-16.
fn utf16(bytes: &[u8]) -> Option<Result<String, usize>> {
    let little = match bytes {
        [0xFF, 0xFE, ..] => true,
        [0xFE, 0xFF, ..] => false,
        _ => return None,
    };
    let body = &bytes[2..];
    if !body.len().is_multiple_of(2) {
        return Some(Err(bytes.len() - 1));
    }
    let units = body.chunks_exact(2).map(|p| {
        if little {
            u16::from_le_bytes([p[0], p[1]])
        } else {
            u16::from_be_bytes([p[0], p[1]])
        }
    });
    let mut out = String::with_capacity(body.len() / 2);
    for (i, c) in char::decode_utf16(units).enumerate() {
        match c {
            Ok(c) => out.push(c),
            Err(_) => return Some(Err(2 + 2 * i)),
        }
    }
    Some(Ok(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Before: exit 2 "no username or student number column (headers: ÿþN° étudiant
    /// …)" with NUL bytes on the terminal.
    #[test]
    fn a_utf16_csv_is_read_by_its_byte_order_mark() {
        let text = "N° étudiant\tCours\tRôle\r\n21000004\tPSY-L1\tÉtudiant\r\n";
        for little in [true, false] {
            let mut bytes = if little {
                vec![0xFF, 0xFE]
            } else {
                vec![0xFE, 0xFF]
            };
            for u in text.encode_utf16() {
                bytes.extend(if little {
                    u.to_le_bytes()
                } else {
                    u.to_be_bytes()
                });
            }
            let (rows, note) = csv_rows(Path::new("s.csv"), &bytes).unwrap();
            assert_eq!(rows[0].cells[0].text, "N° étudiant");
            assert_eq!(rows[1].cells[2].text, "Étudiant");
            assert!(note.unwrap().contains("read as UTF-16"));
        }
        assert!(csv_rows(Path::new("s.csv"), &[0xFF, 0xFE, 0x41]).is_err());
    }

    /// Before: only `#N/D` of French LibreOffice's texts was known: `#DIV/0 !` and
    /// `Err :509` became group names.
    #[test]
    fn formula_errors_are_known_in_every_language_and_spacing() {
        for t in [
            "#DIV/0 !",
            "#VALEUR !",
            "#NOM ?",
            "#NUM !",
            "#RÉF !",
            "#réf!",
            "Err :502",
            "Err:509",
            "#N/D",
            "#NV",
            "#BEZUG!",
            "#WERT!",
            "#N/B",
            "#¡VALOR!",
            "#DIV/0\u{202f}!",
        ] {
            assert!(is_error_text(t), "{t}");
        }
        for t in ["#TD1", "TD 1", "Err", "Erreur", "#", "Groupe #2!", "N/A"] {
            assert!(!is_error_text(t), "{t}");
        }
    }

    fn texts(rows: &[Row]) -> Vec<Vec<&str>> {
        rows.iter()
            .map(|r| r.cells.iter().map(|c| c.text.as_str()).collect())
            .collect()
    }

    #[test]
    fn csv_shapes_of_spreadsheet_exports() {
        let p = Path::new("s.csv");
        let bom_crlf_semicolon = b"\xEF\xBB\xBFusername;course1\r\njdupont;\"A;B\"\r\n\r\nx;y\r\n";
        let mut rows = csv_rows(p, bom_crlf_semicolon).unwrap().0;
        assert_eq!(rows.iter().map(|r| r.number).collect::<Vec<_>>(), [1, 2, 4]);
        rows.truncate(2);
        assert_eq!(
            texts(&rows),
            vec![vec!["username", "course1"], vec!["jdupont", "A;B"]]
        );
        let blank_and_multiline = b"\nusername;course1\n\"a\nb\";X\n\nc;Y\n";
        let rows = csv_rows(p, blank_and_multiline).unwrap().0;
        let numbers: Vec<usize> = rows.iter().map(|r| r.number).collect();
        assert_eq!(numbers, [2, 3, 5]);
        let tab = b"username\tcourse1\njdupont\tX\t\t\n";
        assert_eq!(
            texts(&csv_rows(p, tab).unwrap().0)[1],
            vec!["jdupont", "X", "", ""]
        );
        let comma = b"\"username\",\"course1\"\nj,\"a \"\"b\"\"\"\n";
        assert_eq!(
            texts(&csv_rows(p, comma).unwrap().0)[1],
            vec!["j", "a \"b\""]
        );
    }

    #[test]
    fn csv_not_utf8_names_the_line() {
        let (rows, note) =
            csv_rows(Path::new("s.csv"), b"username\nr\xe9mi;#N/A;Err:502\n").unwrap();
        assert_eq!(rows[1].cells[0].text, "rémi");
        assert!(note.unwrap().contains("read as Windows-1252"));
        let kinds: Vec<Kind> = rows[1].cells.iter().map(|c| c.kind).collect();
        assert_eq!(kinds, [Kind::Text, Kind::Error, Kind::Error]);
        let err = csv_rows(Path::new("s.csv"), b"username\nr\x81mi\n").unwrap_err();
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
