//! What calamine does not say about a worksheet, read from the archive's XML: its
//! hidden rows (`.xlsx`: `<row hidden>`; `.ods`: a row's `table:visibility`, hidden
//! or filtered out) and, in an `.ods`, its merged cells and how many filled cells
//! its repeated rows would spread to (a kilobyte can repeat a row a million times).
//! Rows and columns are 0-based, as calamine counts them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufReader, Read, Seek};

use calamine::Dimensions;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// A worksheet's layout: what the reader of values does not see.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Layout {
    pub hidden_rows: BTreeSet<u32>,
    /// Hidden columns (`.xlsx`: `<col hidden>`; `.ods`: a column's
    /// `table:visibility`), at most the 16,384 columns a worksheet has.
    pub hidden_columns: BTreeSet<u32>,
    /// `.ods` only (calamine reads the merged cells of `.xlsx` and `.xls`).
    pub merged: Vec<Dimensions>,
    /// `.ods` only: filled cells once repeated rows and columns are spread.
    pub filled: u64,
}

type Zip<R> = zip::ZipArchive<R>;

/// The columns a worksheet has (XFD).
const MAX_COLUMNS: u32 = 16_384;

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.try_get_attribute(name).ok().flatten().and_then(|a| {
        a.normalized_value(quick_xml::XmlVersion::default())
            .ok()
            .map(|v| v.into_owned())
    })
}

fn number(e: &BytesStart<'_>, name: &str) -> u32 {
    attr(e, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1)
}

fn entry<'a, R: Read + Seek>(
    zip: &'a mut Zip<R>,
    name: &str,
) -> Result<Reader<BufReader<impl Read + 'a>>, String> {
    let file = zip.by_name(name).map_err(|e| format!("{name}: {e}"))?;
    Ok(Reader::from_reader(BufReader::new(file)))
}

/// The layouts of an `.xlsx`'s worksheets, by name.
pub fn xlsx<R: Read + Seek>(archive: R) -> Result<BTreeMap<String, Layout>, String> {
    let mut zip = Zip::new(archive).map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    for (name, path) in xlsx_worksheets(&mut zip)? {
        let layout = xlsx_layout(entry(&mut zip, &path)?)?;
        out.insert(name, layout);
    }
    Ok(out)
}

/// Each worksheet's name and file: workbook.xml names the sheets and their
/// relation ids; its relations say which file each one is.
fn xlsx_worksheets<R: Read + Seek>(zip: &mut Zip<R>) -> Result<Vec<(String, String)>, String> {
    let mut ids = Vec::new();
    let mut buf = Vec::new();
    let mut r = entry(zip, "xl/workbook.xml")?;
    loop {
        match r.read_event_into(&mut buf).map_err(|e| e.to_string())? {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "sheet" => {
                if let (Some(n), Some(id)) = (attr(&e, "name"), attr(&e, "r:id")) {
                    ids.push((n, id));
                }
            }
            _ => {}
        }
        buf.clear();
    }
    drop(r);
    let mut targets = BTreeMap::new();
    let mut r = entry(zip, "xl/_rels/workbook.xml.rels")?;
    loop {
        match r.read_event_into(&mut buf).map_err(|e| e.to_string())? {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "Relationship" => {
                if let (Some(id), Some(t)) = (attr(&e, "Id"), attr(&e, "Target")) {
                    let path = match t.strip_prefix('/') {
                        Some(abs) => abs.to_string(),
                        None => format!("xl/{t}"),
                    };
                    targets.insert(id, path);
                }
            }
            _ => {}
        }
        buf.clear();
    }
    Ok(ids
        .into_iter()
        .filter_map(|(name, id)| targets.get(&id).map(|path| (name, path.clone())))
        .collect())
}

/// One worksheet's hidden rows and columns.
fn xlsx_layout(mut r: Reader<impl std::io::BufRead>) -> Result<Layout, String> {
    let mut layout = Layout::default();
    let mut buf = Vec::new();
    // A row's `r` is optional: without it, the row after the last one.
    let mut next_row = 1u32;
    // `zeroHeight`: rows are hidden unless given a height of their own.
    let mut hidden_by_default = false;
    loop {
        match r.read_event_into(&mut buf).map_err(|e| e.to_string())? {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "sheetFormatPr" => {
                hidden_by_default = attr(&e, "zeroHeight").is_some_and(|v| v == "1" || v == "true");
            }
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "row" => {
                let truthy = |v: String| v == "1" || v == "true";
                let height = attr(&e, "ht").and_then(|h| h.parse::<f64>().ok());
                let own_height =
                    attr(&e, "customHeight").is_some_and(truthy) && height.is_some_and(|h| h > 0.0);
                // Hidden, of zero height, or hidden by default without a height of
                // its own (all hidden to the eye).
                let hidden = attr(&e, "hidden").is_some_and(truthy)
                    || height == Some(0.0)
                    || (hidden_by_default && !own_height);
                let row = attr(&e, "r")
                    .and_then(|v| v.parse::<u32>().ok())
                    .unwrap_or(next_row);
                next_row = row.saturating_add(1);
                if hidden {
                    layout.hidden_rows.insert(row.saturating_sub(1));
                }
            }
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "col" => {
                let hidden = attr(&e, "hidden").is_some_and(|h| h == "1" || h == "true")
                    || attr(&e, "width").and_then(|w| w.parse::<f64>().ok()) == Some(0.0);
                let min = attr(&e, "min").and_then(|v| v.parse::<u32>().ok());
                let max = attr(&e, "max").and_then(|v| v.parse::<u32>().ok());
                if let (true, Some(min), Some(max)) = (hidden, min, max) {
                    for c in min.max(1)..=max.min(MAX_COLUMNS) {
                        layout.hidden_columns.insert(c - 1);
                    }
                }
            }
            _ => {}
        }
        buf.clear();
    }
    Ok(layout)
}

/// Where the reader stands in an `.ods` table.
#[derive(Default)]
struct OdsCursor {
    row: u32,
    col: u32,
    /// The current row's repeats, and whether a cell in it holds a value.
    repeat: u32,
    row_cells: u64,
}

/// The layouts of an `.ods`'s tables, by name.
pub fn ods<R: Read + Seek>(archive: R) -> Result<BTreeMap<String, Layout>, String> {
    let mut zip = Zip::new(archive).map_err(|e| e.to_string())?;
    let mut r = entry(&mut zip, "content.xml")?;
    let mut read = OdsLayouts::default();
    let mut buf = Vec::new();
    loop {
        match r.read_event_into(&mut buf).map_err(|e| e.to_string())? {
            Event::Eof => break,
            Event::Start(e) => read.start(&e, false),
            Event::Empty(e) => read.start(&e, true),
            Event::End(e) => match e.name().as_ref() {
                "table:table" => read.table = None,
                "table:table-row" => end_row(&mut read.at, &read.table, &mut read.out),
                _ => {}
            },
            _ => {}
        }
        buf.clear();
    }
    Ok(read.out)
}

/// What `ods` has read so far of the layouts.
#[derive(Default)]
struct OdsLayouts {
    out: BTreeMap<String, Layout>,
    table: Option<String>,
    at: OdsCursor,
    /// The next column a `table:table-column` describes.
    next_col: u32,
    /// Row styles of zero height (a row squeezed to nothing is hidden to the eye),
    /// and the style being read.
    zero_height: BTreeSet<String>,
    style: Option<String>,
}

impl OdsLayouts {
    /// An element opens (`empty`: and closes at once).
    fn start(&mut self, e: &BytesStart<'_>, empty: bool) {
        match e.name().as_ref() {
            "style:style" => self.style = attr(e, "style:name"),
            "style:table-row-properties" => {
                let zero = attr(e, "style:row-height").is_some_and(|h| {
                    h.trim_end_matches(char::is_alphabetic)
                        .parse::<f64>()
                        .is_ok_and(|v| v == 0.0)
                });
                if let (true, Some(s)) = (zero, &self.style) {
                    self.zero_height.insert(s.clone());
                }
            }
            "table:table" => {
                let name = attr(e, "table:name").unwrap_or_default();
                self.out.entry(name.clone()).or_default();
                self.table = Some(name);
                self.at = OdsCursor::default();
                self.next_col = 0;
            }
            "table:table-column" => self.column(e),
            "table:table-row" => {
                self.row(e);
                if empty {
                    end_row(&mut self.at, &self.table, &mut self.out);
                }
            }
            "table:table-cell" | "table:covered-table-cell" => self.cell(e, empty),
            _ => {}
        }
    }

    fn layout(&mut self) -> Option<&mut Layout> {
        let t = self.table.clone()?;
        Some(self.out.entry(t).or_default())
    }

    fn column(&mut self, e: &BytesStart<'_>) {
        let repeat = number(e, "table:number-columns-repeated");
        let hidden = matches!(
            attr(e, "table:visibility").as_deref(),
            Some("collapse" | "filter")
        );
        let from = self.next_col;
        if let Some(layout) = hidden.then(|| self.layout()).flatten() {
            for c in from..from.saturating_add(repeat).min(MAX_COLUMNS) {
                layout.hidden_columns.insert(c);
            }
        }
        self.next_col = from.saturating_add(repeat);
    }

    fn row(&mut self, e: &BytesStart<'_>) {
        self.at.col = 0;
        self.at.repeat = number(e, "table:number-rows-repeated");
        self.at.row_cells = 0;
        let visibility = attr(e, "table:visibility");
        let flat = attr(e, "table:style-name").is_some_and(|s| self.zero_height.contains(&s));
        let hidden = matches!(visibility.as_deref(), Some("collapse" | "filter")) || flat;
        let (row, repeat) = (self.at.row, self.at.repeat);
        if let Some(layout) = hidden.then(|| self.layout()).flatten() {
            // A hidden run of empty rows is only their number.
            for r in row..row.saturating_add(repeat.min(100_000)) {
                layout.hidden_rows.insert(r);
            }
        }
    }

    fn cell(&mut self, e: &BytesStart<'_>, empty: bool) {
        let repeat = number(e, "table:number-columns-repeated");
        let rows = number(e, "table:number-rows-spanned");
        let cols = number(e, "table:number-columns-spanned");
        let (row, col) = (self.at.row, self.at.col);
        let merged = rows > 1 || cols > 1;
        if let Some(layout) = merged.then(|| self.layout()).flatten() {
            layout.merged.push(Dimensions::new(
                (row, col),
                (row + rows - 1, col + cols - 1),
            ));
        }
        let filled = attr(e, "office:value-type").is_some() || !empty;
        if filled {
            self.at.row_cells += u64::from(repeat);
        }
        self.at.col = col.saturating_add(repeat);
    }
}

fn end_row(at: &mut OdsCursor, table: &Option<String>, out: &mut BTreeMap<String, Layout>) {
    if let Some(t) = table {
        let layout = out.entry(t.clone()).or_default();
        layout.filled = layout
            .filled
            .saturating_add(at.row_cells.saturating_mul(u64::from(at.repeat)));
    }
    at.row = at.row.saturating_add(at.repeat);
    at.repeat = 1;
    at.row_cells = 0;
}

/// A value of an `.ods` cell, as its XML types it.
#[derive(Debug, Clone, PartialEq)]
pub enum OdsValue {
    /// `float`, `percentage`, `currency`: the number.
    Number(f64),
    /// `date`: its ISO text (a date-time keeps its time part).
    Date(String),
    /// `boolean`.
    Bool(bool),
    /// `string` (and `time`, as written): the text.
    Text(String),
    /// `calcext:value-type="error"`: the error's text as the sheet shows it.
    Error(String),
    /// A formula with no value saved (a program wrote the file).
    Uncomputed(String),
}

/// One table of an `.ods`: its name, whether it is hidden, its filled cells
/// (0-based row, column), repeats spread.
#[derive(Debug, Default)]
pub struct OdsTable {
    pub name: String,
    pub hidden: bool,
    pub cells: Vec<((u32, u32), OdsValue)>,
}

/// The cell being read: its attributes, then its text.
#[derive(Default)]
struct OdsCell {
    value_type: Option<String>,
    value: Option<String>,
    date: Option<String>,
    boolean: Option<String>,
    string_value: Option<String>,
    error: bool,
    formula: Option<String>,
    repeat: u32,
    paragraphs: Vec<String>,
}

impl OdsCell {
    fn of(e: &BytesStart<'_>) -> OdsCell {
        OdsCell {
            value_type: attr(e, "office:value-type"),
            value: attr(e, "office:value"),
            date: attr(e, "office:date-value"),
            boolean: attr(e, "office:boolean-value"),
            string_value: attr(e, "office:string-value").filter(|s| !s.is_empty()),
            error: attr(e, "calcext:value-type").is_some_and(|t| t == "error"),
            formula: attr(e, "table:formula"),
            repeat: number(e, "table:number-columns-repeated"),
            paragraphs: Vec::new(),
        }
    }

    fn value(self) -> Option<OdsValue> {
        let text = || self.paragraphs.join("\n");
        if self.error {
            return Some(OdsValue::Error(text()));
        }
        let v = match self.value_type.as_deref() {
            Some("float" | "percentage" | "currency") => {
                OdsValue::Number(self.value.as_deref()?.parse().ok()?)
            }
            Some("date") => OdsValue::Date(self.date?),
            Some("boolean") => OdsValue::Bool(self.boolean.as_deref() == Some("true")),
            Some(_) => OdsValue::Text(self.string_value.clone().unwrap_or_else(text)),
            None => match &self.formula {
                Some(f) if !f.is_empty() => OdsValue::Uncomputed(f.clone()),
                _ => {
                    let t = text();
                    if t.is_empty() {
                        return None;
                    }
                    OdsValue::Text(t)
                }
            },
        };
        Some(v)
    }
}

/// Every table of an `.ods`, read as a stream: memory follows the cells filled, not
/// the size of the XML nor the sheet's extent (a stray cell at C1048576 is one
/// cell). More than `max_cells` filled cells, repeats spread, is an error.
pub fn ods_tables<R: Read + Seek>(archive: R, max_cells: usize) -> Result<Vec<OdsTable>, String> {
    let mut zip = Zip::new(archive).map_err(|e| e.to_string())?;
    let mut r = entry(&mut zip, "content.xml")?;
    let mut read = OdsReader {
        max_cells,
        ..OdsReader::default()
    };
    let mut buf = Vec::new();
    loop {
        match r.read_event_into(&mut buf).map_err(|e| e.to_string())? {
            Event::Eof => break,
            Event::Start(e) => read.start(&e, false),
            Event::Empty(e) => read.start(&e, true),
            // The text comes without its references (`&amp;`, `&#233;`), which
            // arrive as events of their own.
            Event::Text(t) if read.in_text() => {
                read.push_text(&t.xml_content(quick_xml::XmlVersion::default()));
            }
            Event::GeneralRef(g) if read.in_text() => {
                match g.resolve_char_ref().map_err(|e| e.to_string())? {
                    Some(c) => read.push_text(c.encode_utf8(&mut [0; 4])),
                    None => {
                        let name = g.xml_content(quick_xml::XmlVersion::default());
                        let text = quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| format!("unknown entity &{name};"))?;
                        read.push_text(text);
                    }
                }
            }
            Event::End(e) => read.end(e.name().as_ref())?,
            _ => {}
        }
        buf.clear();
    }
    Ok(read.tables)
}

/// What `ods_tables` has read so far, and where it stands.
#[derive(Default)]
struct OdsReader {
    max_cells: usize,
    /// Table styles that hide their table, and the style being read.
    hidden_styles: BTreeSet<String>,
    style: Option<String>,
    tables: Vec<OdsTable>,
    row: u32,
    col: u32,
    row_repeat: u32,
    /// The current row's filled cells, by column.
    row_cells: Vec<(u32, OdsValue)>,
    cell: Option<OdsCell>,
    paragraph: Option<String>,
    /// Inside a comment (its text is not the cell's).
    annotation: u32,
    /// Filled cells so far, repeats spread.
    count: usize,
}

impl OdsReader {
    /// Whether text now belongs to a cell's paragraph.
    fn in_text(&self) -> bool {
        self.annotation == 0 && self.paragraph.is_some()
    }

    fn push_text(&mut self, text: &str) {
        if let Some(p) = self.paragraph.as_mut() {
            p.push_str(text);
        }
    }

    /// An element opens (`empty`: and closes at once).
    fn start(&mut self, e: &BytesStart<'_>, empty: bool) {
        let in_text = self.annotation == 0;
        match e.name().as_ref() {
            "style:style" => self.style = attr(e, "style:name"),
            "style:table-properties" => {
                if let (Some(s), Some("false")) = (&self.style, attr(e, "table:display").as_deref())
                {
                    self.hidden_styles.insert(s.clone());
                }
            }
            "table:table" => {
                let name = attr(e, "table:name").unwrap_or_default();
                let hidden =
                    attr(e, "table:style-name").is_some_and(|s| self.hidden_styles.contains(&s));
                self.tables.push(OdsTable {
                    name,
                    hidden,
                    cells: Vec::new(),
                });
                self.row = 0;
            }
            "table:table-row" => {
                self.col = 0;
                self.row_repeat = number(e, "table:number-rows-repeated");
                self.row_cells.clear();
                if empty {
                    self.row = self.row.saturating_add(self.row_repeat);
                }
            }
            "table:table-cell" | "table:covered-table-cell" => {
                let c = OdsCell::of(e);
                if empty {
                    self.take_cell(c);
                } else {
                    self.cell = Some(c);
                }
            }
            "office:annotation" if !empty => self.annotation += 1,
            "text:p" if in_text && self.cell.is_some() => {
                if empty {
                    if let Some(c) = self.cell.as_mut() {
                        c.paragraphs.push(String::new());
                    }
                } else {
                    self.paragraph = Some(String::new());
                }
            }
            "text:s" if in_text => {
                let n = attr(e, "text:c")
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(1);
                self.push_text(&" ".repeat(n.min(1000)));
            }
            "text:tab" if in_text => self.push_text("\t"),
            "text:line-break" if in_text => self.push_text("\n"),
            _ => {}
        }
    }

    /// A cell read whole: its value in each column it repeats over.
    fn take_cell(&mut self, c: OdsCell) {
        let repeat = c.repeat;
        if let Some(v) = c.value() {
            for i in 0..repeat.min(MAX_COLUMNS) {
                self.row_cells.push((self.col.saturating_add(i), v.clone()));
            }
        }
        self.col = self.col.saturating_add(repeat);
    }

    /// An element closes; a row's cells go to its table, each repeat counted.
    fn end(&mut self, name: &str) -> Result<(), String> {
        match name {
            "text:p" if self.annotation == 0 => {
                if let (Some(p), Some(c)) = (self.paragraph.take(), self.cell.as_mut()) {
                    c.paragraphs.push(p);
                }
            }
            "office:annotation" => self.annotation = self.annotation.saturating_sub(1),
            "table:table-cell" | "table:covered-table-cell" => {
                if let Some(c) = self.cell.take() {
                    self.take_cell(c);
                }
            }
            "table:table-row" => {
                if let (Some(t), false) = (self.tables.last_mut(), self.row_cells.is_empty()) {
                    for i in 0..self.row_repeat {
                        self.count = self.count.saturating_add(self.row_cells.len());
                        if self.count > self.max_cells {
                            return Err(format!("more than {} filled cells: a request sheet is smaller (a stray value far down or right? delete the rows and columns after the request)", self.max_cells));
                        }
                        for (c, v) in &self.row_cells {
                            t.cells.push(((self.row.saturating_add(i), *c), v.clone()));
                        }
                    }
                }
                self.row = self.row.saturating_add(self.row_repeat);
                self.row_cells.clear();
            }
            _ => {}
        }
        Ok(())
    }
}
