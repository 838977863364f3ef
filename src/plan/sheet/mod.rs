//! A requester's sheet (`adhoc --sheet`), read as the procedure writes it: one
//! identity column (`username`, or a student number), then `courseN`, `roleN`,
//! `groupN`, `enrolperiodN`, `enrolstatusN`, `enroltimestartN`, in the wide layout
//! (several N on a row) or the long one (a row per enrolment). Pure: rows in, the
//! rules a run applies and the row-level mistakes out. Every mistake names the row
//! and the column as the requester sees them, with a suggestion when one is obvious.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Days, NaiveDate};

use crate::model::{CellKind, LeftOut, Platform, Reason, SheetCell, SheetRow, Worksheet};
use crate::moodle::{self, Field};

mod asked;
pub use asked::{locate, rules, Asked, People};

/// The headers taken as a student number, compared folded (lower case, no accents,
/// punctuation as spaces): `student_id`, `cod_etu`, `numéro étudiant`, `n° étudiant` …
pub const STUDENT_ID_HEADERS: [&str; 12] = [
    "student id",
    "student number",
    "n d etudiant",
    "numero de l etudiant",
    "no d etudiant",
    "cod etu",
    "code etudiant",
    "numero etudiant",
    "numero d etudiant",
    "num etudiant",
    "n etudiant",
    "no etudiant",
];

/// The headers taken as a username.
pub const USERNAME_HEADERS: [&str; 3] = ["username", "identifiant", "login"];

/// Moodle's standard role shortnames: what a role must be when the platform does not
/// list its roles.
pub const STANDARD_ROLES: [&str; 5] = ["student", "teacher", "editingteacher", "manager", "guest"];

/// What requesters write for a role (folded), and the shortname they mean.
const ROLE_LABELS: [(&str, &str); 19] = [
    // Moodle's own English names of the standard roles (`Teacher` is the editing
    // one; the role shortnames themselves are matched exactly before these).
    ("student", "student"),
    ("teacher", "editingteacher"),
    ("manager", "manager"),
    ("etudiant", "student"),
    ("etudiante", "student"),
    ("etudiants", "student"),
    ("eleve", "student"),
    ("apprenant", "student"),
    ("enseignant", "editingteacher"),
    ("enseignante", "editingteacher"),
    ("enseignant editeur", "editingteacher"),
    ("editing teacher", "editingteacher"),
    ("professeur", "editingteacher"),
    ("enseignant non editeur", "teacher"),
    ("non editing teacher", "teacher"),
    ("tuteur", "teacher"),
    ("tutrice", "teacher"),
    ("tutor", "teacher"),
    ("gestionnaire", "manager"),
];

/// The label a French requester knows a standard role by.
pub fn role_label(role: &str) -> Option<&'static str> {
    Some(match role {
        "student" => "Étudiant",
        "editingteacher" => "Enseignant",
        "teacher" => "Enseignant non éditeur",
        "manager" => "Gestionnaire",
        "guest" => "Invité",
        _ => return None,
    })
}

/// Each role of a platform and the label its template shows: the platform's own
/// (`role_labels:`), else the standard one, else the shortname itself.
pub fn labels(platform: &Platform) -> Vec<(String, String)> {
    let roles: Vec<String> = match &platform.roles {
        Some(r) => r.iter().cloned().collect(),
        None => STANDARD_ROLES.iter().map(|r| r.to_string()).collect(),
    };
    roles
        .into_iter()
        .map(|r| {
            let label = platform
                .role_labels
                .iter()
                .find(|(_, x)| *x == r)
                .map(|(l, _)| l.clone())
                .or_else(|| role_label(&r).map(str::to_string))
                .unwrap_or_else(|| r.clone());
            (r, label)
        })
        .collect()
}

/// A sheet that cannot be read as enrolments at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SheetError {
    #[error("the sheet is empty")]
    Empty,
    #[error("row {row}: no username or student number column (headers: {seen}); name one column username, or one of: student_id, cod_etu, numéro étudiant, n° étudiant")]
    NoIdentity { row: usize, seen: String },
    #[error("row {row}: no course column (course1, or course)")]
    NoCourse { row: usize },
    #[error("row {row}: column '{name}' appears twice")]
    Repeated { row: usize, name: String },
    #[error("row {row}: column '{name}' looks like an enrolment column but is not one enrolgen reads (did you mean {meant}?): rename it, so that nothing it holds is dropped")]
    Unrecognised {
        row: usize,
        name: String,
        meant: String,
    },
    #[error("no worksheet '{name}' (the workbook has: {known})")]
    NoSuchWorksheet { name: String, known: String },
    #[error("worksheets {names} all hold enrolments: choose one with --worksheet NAME")]
    SeveralWorksheets { names: String },
    #[error("only the hidden worksheet(s) {names} hold enrolments: choose one with --worksheet NAME if it is the request")]
    OnlyHidden { names: String },
    #[error("row {row}: column '{name}' is not supported by adhoc --sheet (only courseN, roleN, groupN, enrolperiodN, enrolstatusN, enroltimestartN)")]
    Unsupported { row: usize, name: String },
    #[error("worksheet '{name}' looks like a request but cannot be read ({why}): correct it, or choose the request with --worksheet NAME")]
    LooksLikeRequest { name: String, why: String },
    #[error("row {row}: column '{name}', which says who each row is, is hidden: show it (hidden columns are not read)")]
    HiddenIdentity { row: usize, name: String },
    #[error("row {row}: column '{name}' gives an end date, which an upload file cannot carry (Moodle counts an enrolment's end as a number of days from its start): give the number of days instead, in a column 'Durée (jours)' (enrolperiod)")]
    EndDate { row: usize, name: String },
}

/// Who a row is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Username(String),
    StudentId(String),
}

/// One enrolment a row asks for, its values checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// The column as the requester sees it: `course2`.
    pub column: String,
    pub course: String,
    pub role: String,
    pub group: Option<String>,
    pub enrolperiod: Option<u32>,
    pub enrolstatus: Option<u8>,
    pub enroltimestart: Option<NaiveDate>,
}

/// A row that names a person and at least one valid enrolment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub row: usize,
    pub identity: Identity,
    /// The header of the identity column used.
    pub identity_column: String,
    /// A username given beside the student number: the account found must have it.
    pub username_also: Option<String>,
    pub wanted: Vec<Wanted>,
}

/// The sheet read: the requests, and every row-level mistake as a left-out line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub requests: Vec<Request>,
    pub left_out: Vec<LeftOut>,
    pub warnings: Vec<String>,
}

/// What the platform accepts, for the checks and the suggestions.
pub struct Context<'a> {
    pub platform: &'a Platform,
    /// The course shortnames the configuration knows on this platform.
    pub known_courses: &'a KnownCourses,
}

/// Course shortnames, found exactly or in another case (built once: a sheet of a
/// hundred thousand rows asks for each of its courses on every row).
#[derive(Debug, Default)]
pub struct KnownCourses {
    exact: BTreeSet<String>,
    by_lower: BTreeMap<String, String>,
}

impl KnownCourses {
    pub fn new(courses: impl IntoIterator<Item = String>) -> KnownCourses {
        let exact: BTreeSet<String> = courses.into_iter().collect();
        let by_lower = exact
            .iter()
            .map(|c| (c.to_lowercase(), c.clone()))
            .collect();
        KnownCourses { exact, by_lower }
    }

    pub fn contains(&self, course: &str) -> bool {
        self.exact.contains(course)
    }

    /// The known course `course` is in another case of, if any.
    pub fn in_another_case(&self, course: &str) -> Option<&str> {
        self.by_lower
            .get(&course.to_lowercase())
            .map(String::as_str)
            .filter(|k| *k != course)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Course,
    Role,
    Group,
    Enrolperiod,
    Enrolstatus,
    Enroltimestart,
}

impl Part {
    const ALL: [(&'static str, Part); 6] = [
        ("course", Part::Course),
        ("role", Part::Role),
        ("group", Part::Group),
        ("enrolperiod", Part::Enrolperiod),
        ("enrolstatus", Part::Enrolstatus),
        ("enroltimestart", Part::Enroltimestart),
    ];

    /// The headers a French office writes for each part (folded, without spaces
    /// nor the number): `Cours 1`, `Rôle 1`, `Groupe 1`, `Période 1`, `Durée 1`,
    /// `Statut 1`, `Début 1`, `Date de début 1`.
    const FRENCH: [(&'static str, Part); 8] = [
        ("cours", Part::Course),
        ("groupe", Part::Group),
        ("periode", Part::Enrolperiod),
        ("duree", Part::Enrolperiod),
        ("statut", Part::Enrolstatus),
        ("debut", Part::Enroltimestart),
        ("datedebut", Part::Enroltimestart),
        ("datededebut", Part::Enroltimestart),
    ];

    fn of_stem(stem: &str) -> Option<Part> {
        Part::ALL
            .iter()
            .chain(&Part::FRENCH)
            .chain(&Part::NATURAL)
            .find(|(s, _)| *s == stem)
            .map(|(_, p)| *p)
    }

    /// Headers in plain words, French and English, compact and folded once their
    /// unit words are taken out (`Durée (jours)`, `Nb jours`, `Enrolment period`,
    /// `Début d'inscription`, `Start date`, `Suspendu`, `Groupes` …).
    const NATURAL: [(&'static str, Part); 22] = [
        ("courses", Part::Course),
        ("roles", Part::Role),
        ("groupes", Part::Group),
        ("groups", Part::Group),
        ("jours", Part::Enrolperiod),
        ("days", Part::Enrolperiod),
        ("duration", Part::Enrolperiod),
        ("period", Part::Enrolperiod),
        ("enrolmentperiod", Part::Enrolperiod),
        ("enrollmentperiod", Part::Enrolperiod),
        ("dureeinscription", Part::Enrolperiod),
        ("start", Part::Enroltimestart),
        ("startdate", Part::Enroltimestart),
        ("debutinscription", Part::Enroltimestart),
        ("datedebutinscription", Part::Enroltimestart),
        ("enrolmentstart", Part::Enroltimestart),
        ("status", Part::Enrolstatus),
        ("suspendu", Part::Enrolstatus),
        ("suspended", Part::Enrolstatus),
        ("suspension", Part::Enrolstatus),
        ("enrolmentstatus", Part::Enrolstatus),
        ("rolemoodle", Part::Role),
    ];

    fn name(self) -> &'static str {
        Part::ALL
            .iter()
            .find(|(_, q)| *q == self)
            .map_or("?", |x| x.0)
    }
}

/// One enrolment slot's columns: part → column and its header as written.
type SlotColumns = BTreeMap<Part, (usize, String)>;

/// Where each column is.
#[derive(Debug, Default)]
struct Columns {
    username: Option<(usize, String)>,
    student_id: Option<(usize, String)>,
    /// N → part → column and its header as written.
    slots: BTreeMap<u32, SlotColumns>,
    ignored: Vec<String>,
    /// The columns the header names (its non-empty cells): a value anywhere else
    /// is one nobody can say the meaning of.
    named: BTreeSet<usize>,
    /// The enrolment slots with a hidden column, and those columns' headers.
    hidden_slots: Vec<(SlotColumns, Vec<String>)>,
}

pub use crate::suggest::fold;

fn is_blank(row: &SheetRow) -> bool {
    row.cells.iter().all(|c| c.text.trim().is_empty()) && row.far.is_empty()
}

/// A row whose first non-empty cell is text starting with `#` is a comment (the
/// template's notes row is one). A formula error (`#N/A` from a failed lookup) is
/// not text: its row is read, and left out for the error.
fn is_comment(row: &SheetRow) -> bool {
    row.cells
        .iter()
        .find(|c| !c.text.trim().is_empty())
        .is_some_and(|c| c.kind != CellKind::Error && c.text.trim().starts_with('#'))
}

/// The enrolment column a header that is none seems meant for (a stem a letter or
/// two away from one, `Grupe 1`, `enrolperiode1`), so that it is refused rather
/// than its values dropped.
fn enrolment_like(stem: &str) -> Option<String> {
    if stem.len() < 4 {
        return None;
    }
    let stems = Part::ALL
        .iter()
        .chain(&Part::FRENCH)
        .chain(&Part::NATURAL)
        .map(|(s, _)| *s);
    let meant = crate::suggest::closest(stem, stems)?;
    Part::of_stem(meant).map(|p| format!("{}N", p.name()))
}

/// Headers that give an end date: refused, with the column that says it instead.
const END_DATES: [&str; 8] = [
    "fin",
    "datefin",
    "datedefin",
    "fininscription",
    "datefininscription",
    "end",
    "enddate",
    "enrolmentend",
];

/// Words of a header that say its unit or are filler, not which column it is:
/// `Durée (jours)`, `Durée en jours`, `Nb jours`, `Période (j)`, `Date de début`,
/// `Début d'inscription`, `Number of days`.
const FILLER: [&str; 10] = ["en", "nb", "j", "de", "d", "l", "du", "the", "of", "number"];

/// A folded header as its stem (its words without fillers, run together) and its
/// number: `Durée 1 (jours)` → (`dureejours`… → `duree`, 1). A header without a
/// number is number 1; `None` for a number that is not one (0, or letters in it).
fn stem_and_number(folded: &str) -> (String, Option<u32>) {
    let mut words: Vec<&str> = Vec::new();
    let mut number = None;
    let mut bad = false;
    for w in folded.split(' ').filter(|w| !w.is_empty()) {
        let letters = w.trim_end_matches(|c: char| c.is_ascii_digit());
        let digits = &w[letters.len()..];
        if !digits.is_empty() {
            match (number, digits.parse::<u32>().ok().filter(|n| *n > 0)) {
                (None, Some(n)) => number = Some(n),
                _ => bad = true,
            }
        }
        if !letters.is_empty() && letters.chars().all(|c| c.is_ascii_alphabetic()) {
            words.push(letters);
        } else if !letters.is_empty() {
            bad = true;
        }
    }
    // `Durée (jours)`: the unit says what the column is only when it is alone.
    let kept: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !FILLER.contains(w))
        .collect();
    let kept = match kept.as_slice() {
        [one, unit] if ["jours", "days"].contains(unit) && *one != "nb" => vec![*one],
        _ => kept,
    };
    let stem: String = kept.concat();
    (stem, if bad { None } else { Some(number.unwrap_or(1)) })
}

fn columns(header: &SheetRow) -> Result<Columns, SheetError> {
    let row = header.number;
    let mut cols = Columns::default();
    let mut seen = BTreeSet::new();
    for (i, cell) in header.cells.iter().enumerate() {
        let name = cell.text.trim();
        if name.is_empty() {
            continue;
        }
        cols.named.insert(i);
        let folded = fold(name);
        if !seen.insert(folded.clone()) {
            return Err(SheetError::Repeated {
                row,
                name: name.into(),
            });
        }
        if USERNAME_HEADERS.contains(&folded.as_str()) {
            cols.username.get_or_insert((i, name.to_string()));
            continue;
        }
        if STUDENT_ID_HEADERS.contains(&folded.as_str()) {
            cols.student_id.get_or_insert((i, name.to_string()));
            continue;
        }
        let (stem, n) = stem_and_number(&folded);
        if END_DATES.contains(&stem.as_str()) {
            return Err(SheetError::EndDate {
                row,
                name: name.into(),
            });
        }
        let stem = stem.as_str();
        match (Part::of_stem(stem), n) {
            (Some(part), Some(n)) => {
                let slot = cols.slots.entry(n).or_default();
                if slot.insert(part, (i, name.to_string())).is_some() {
                    return Err(SheetError::Repeated {
                        row,
                        name: name.into(),
                    });
                }
            }
            _ if ["type", "sysrole", "cohort"].contains(&stem) && n.is_some() => {
                return Err(SheetError::Unsupported {
                    row,
                    name: name.into(),
                })
            }
            _ => match enrolment_like(stem) {
                Some(meant) => {
                    return Err(SheetError::Unrecognised {
                        row,
                        name: name.into(),
                        meant,
                    })
                }
                None => cols.ignored.push(name.to_string()),
            },
        }
    }
    if cols.username.is_none() && cols.student_id.is_none() {
        let seen: Vec<&str> = header
            .cells
            .iter()
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
            .collect();
        return Err(SheetError::NoIdentity {
            row,
            seen: seen.join(", "),
        });
    }
    if !cols.slots.values().any(|s| s.contains_key(&Part::Course)) {
        return Err(SheetError::NoCourse { row });
    }
    Ok(cols)
}

/// How far down a header may be: below a title, a legend or a page of
/// instructions, not below the request.
const HEADER_SEARCH: usize = 50;

/// Whether a row names a column as a header does: an identity column, or a course
/// column (`Cours 1`, `course`). A title merged over several cells or a legend
/// (`Groupes : TD 1 = …`) does not.
fn names_a_column(row: &SheetRow) -> bool {
    row.cells.iter().any(|c| {
        let folded = fold(c.text.trim());
        USERNAME_HEADERS.contains(&folded.as_str())
            || STUDENT_ID_HEADERS.contains(&folded.as_str())
            || Part::of_stem(&stem_and_number(&folded).0) == Some(Part::Course)
    })
}

/// The header row: the first of the first rows (neither blank nor comments) that
/// names an identity and a course column; or the error of the first row that looks
/// like a header (a near miss is the header, and its error the answer), else of
/// the first row.
fn header(rows: &[SheetRow]) -> Result<(usize, Columns), SheetError> {
    let mut first_error = None;
    for (i, row) in rows
        .iter()
        .enumerate()
        .filter(|(_, r)| !is_blank(r) && !is_comment(r))
        .take(HEADER_SEARCH)
    {
        match columns(row) {
            Ok(cols) => return Ok((i, cols)),
            Err(
                e @ (SheetError::Unrecognised { .. }
                | SheetError::Repeated { .. }
                | SheetError::EndDate { .. }),
            ) if names_a_column(row) => return Err(e),
            Err(e) => {
                if names_a_column(row) {
                    return Err(e);
                }
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(SheetError::Empty))
}

/// Whether a worksheet holds a request: a header, and rows below it.
fn holds_a_request(w: &Worksheet) -> bool {
    header(&w.rows).is_ok_and(|(at, _)| {
        w.rows[at + 1..]
            .iter()
            .any(|r| !is_blank(r) && !is_comment(r))
    })
}

/// Whether a worksheet looks like a request its header keeps from being read (a
/// typo, an identity header not known): a row naming a column, with rows below.
fn looks_like_a_request(w: &Worksheet) -> Option<SheetError> {
    let at = w
        .rows
        .iter()
        .take(HEADER_SEARCH)
        .position(|r| !is_comment(r) && names_a_column(r))?;
    let below = w.rows[at + 1..]
        .iter()
        .any(|r| !is_blank(r) && !is_comment(r));
    below.then(|| header(&w.rows).err()).flatten()
}

/// Which worksheet holds the request: the one `--worksheet` names; else the one
/// visible worksheet with a header. Hidden worksheets and the other worksheets with
/// content are named in the warnings, so that nothing is dropped silently.
pub fn choose<'a>(
    sheets: &'a [Worksheet],
    asked: Option<&str>,
) -> Result<(&'a Worksheet, Vec<String>), SheetError> {
    let names = |list: &[&Worksheet]| {
        list.iter()
            .map(|w| format!("'{}'", w.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let chosen = match asked {
        Some(name) => sheets
            .iter()
            .find(|w| w.name == name)
            .or_else(|| sheets.iter().find(|w| fold(&w.name) == fold(name)))
            .ok_or_else(|| SheetError::NoSuchWorksheet {
                name: name.to_string(),
                known: names(&sheets.iter().collect::<Vec<_>>()),
            })?,
        None => {
            let with_header: Vec<&Worksheet> =
                sheets.iter().filter(|w| holds_a_request(w)).collect();
            let visible: Vec<&Worksheet> =
                with_header.iter().copied().filter(|w| !w.hidden).collect();
            match (visible.as_slice(), with_header.as_slice()) {
                ([one], _) => *one,
                ([], []) => match sheets.iter().find(|w| !w.hidden).or(sheets.first()) {
                    Some(w) => w,
                    None => return Err(SheetError::Empty),
                },
                ([], hidden) => {
                    return Err(SheetError::OnlyHidden {
                        names: names(hidden),
                    })
                }
                (several, _) => {
                    return Err(SheetError::SeveralWorksheets {
                        names: names(several),
                    })
                }
            }
        }
    };
    let mut warnings = Vec::new();
    if sheets.len() > 1 {
        warnings.push(format!("worksheet '{}' read", chosen.name));
    }
    for w in sheets.iter().filter(|w| w.name != chosen.name) {
        let holds = holds_a_request(w);
        // A visible worksheet that looks like a request is never skipped in
        // silence: its rows would be lost.
        if let (false, false, Some(e)) = (holds, w.hidden, looks_like_a_request(w)) {
            return Err(SheetError::LooksLikeRequest {
                name: w.name.clone(),
                why: e.to_string(),
            });
        }
        if w.hidden && holds {
            warnings.push(format!(
                "hidden worksheet '{}' also holds enrolments: not read (--worksheet '{}' reads it instead)",
                w.name, w.name
            ));
        } else if holds {
            warnings.push(format!(
                "worksheet '{}' also holds enrolments: not read (--worksheet '{}' reads it instead)",
                w.name, w.name
            ));
        } else if w.rows.iter().any(|r| !is_blank(r)) {
            warnings.push(format!(
                "worksheet '{}' not read: it has no enrolment header",
                w.name
            ));
        }
    }
    Ok((chosen, warnings))
}

/// Whether the request should be named by its worksheet in its files: a workbook
/// where more than one worksheet holds a request (a hidden one too), so that
/// reading one and then another never writes over the first one's files.
pub fn several_requests(sheets: &[Worksheet]) -> bool {
    sheets.iter().filter(|w| holds_a_request(w)).count() > 1
}

/// Reads the rows below the header (`header`); rows above it are said.
pub fn parse(
    rows: &[SheetRow],
    hidden_columns: &BTreeSet<usize>,
    ctx: &Context<'_>,
) -> Result<Parsed, SheetError> {
    let (at, mut cols) = header(rows)?;
    hide_columns(&mut cols, hidden_columns, rows[at].number)?;
    let header_row = rows[at].number;
    let mut rest = rows[at + 1..]
        .iter()
        .filter(|r| !is_blank(r) && !is_comment(r));
    let mut out = Parsed::default();
    let above: Vec<String> = rows[..at]
        .iter()
        .filter(|r| !is_blank(r) && !is_comment(r))
        .map(|r| r.number.to_string())
        .collect();
    if !above.is_empty() {
        out.warnings.push(format!(
            "row(s) {} above the header (row {header_row}) not read as enrolments",
            above.join(", ")
        ));
    }
    if !cols.ignored.is_empty() {
        out.warnings.push(format!(
            "columns ignored (not enrolment columns): {}",
            cols.ignored.join(", ")
        ));
    }
    for row in rest.by_ref() {
        if row.hidden {
            hidden_row(row, &cols, &mut out);
        } else {
            read_row(row, &cols, ctx, &mut out);
        }
    }
    Ok(out)
}

/// Hidden columns are not read, as hidden rows are not: an enrolment whose columns
/// a requester hid is left out, naming them; an identity column hidden is refused.
fn hide_columns(
    cols: &mut Columns,
    hidden: &BTreeSet<usize>,
    row: usize,
) -> Result<(), SheetError> {
    if hidden.is_empty() {
        return Ok(());
    }
    for (i, name) in cols.username.iter().chain(cols.student_id.iter()) {
        if hidden.contains(i) {
            return Err(SheetError::HiddenIdentity {
                row,
                name: name.clone(),
            });
        }
    }
    for parts in cols.slots.values_mut() {
        let names: Vec<String> = parts
            .values()
            .filter(|(i, _)| hidden.contains(i))
            .map(|(_, n)| n.clone())
            .collect();
        if !names.is_empty() {
            cols.hidden_slots.push((parts.clone(), names));
            parts.clear();
        }
    }
    cols.slots.retain(|_, p| !p.is_empty());
    // A hidden column's values are not strays: said above, through their slot.
    cols.named.extend(hidden.iter().copied());
    Ok(())
}

fn cell(row: &SheetRow, col: usize) -> Option<&SheetCell> {
    row.cells.get(col).filter(|c| !c.text.trim().is_empty())
}

/// A left-out line for a row's mistake.
struct Mistake<'a> {
    row: usize,
    username: &'a str,
    student_id: &'a str,
}

impl Mistake<'_> {
    fn line(
        &self,
        reason: Reason,
        column: &str,
        course: &str,
        role: &str,
        what: String,
    ) -> LeftOut {
        LeftOut {
            course: course.to_string(),
            reason,
            username: self.username.to_string(),
            student_id: self.student_id.to_string(),
            name: String::new(),
            cohort: row_cohort(self.row),
            rule: self.row,
            role: role.to_string(),
            detail: format!("row {}, {column}: {what}", self.row),
        }
    }
}

fn row_cohort(row: usize) -> String {
    format!("row {row}")
}

fn read_row(row: &SheetRow, cols: &Columns, ctx: &Context<'_>, out: &mut Parsed) {
    let text = |c: Option<&(usize, String)>| {
        c.and_then(|(i, _)| cell(row, *i))
            .map(|c| c.text.trim().to_string())
    };
    let username = text(cols.username.as_ref());
    let student_id = text(cols.student_id.as_ref()).map(|s| student_number(&s).unwrap_or(s));
    let m = Mistake {
        row: row.number,
        username: username.as_deref().unwrap_or_default(),
        student_id: student_id.as_deref().unwrap_or_default(),
    };
    let mut wanted = Vec::new();
    for parts in cols.slots.values() {
        if let Some(w) = read_slot(row, parts, ctx, &m, out) {
            wanted.push(w);
        }
    }
    hidden_slots(row, cols, &m, out);
    // A value in a column no header names (a third course typed right of the last
    // headed column, a CSV row longer than its header): what it asks cannot be
    // known, so nothing of the row is half done.
    if stray_value(row, cols, &m, &wanted, out) {
        return;
    }
    let (identity, identity_column) = match identity_of(row, cols, &student_id, &username) {
        Ok(x) => x,
        Err((column, what)) => {
            for w in &wanted {
                let column = column.as_deref().unwrap_or(&w.column);
                out.left_out.push(m.line(
                    Reason::InvalidValue,
                    column,
                    &w.course,
                    &w.role,
                    what.clone(),
                ));
            }
            return;
        }
    };
    if wanted.is_empty() {
        if !out.left_out.iter().any(|l| l.rule == row.number) {
            out.left_out.push(m.line(
                Reason::InvalidValue,
                &identity_column,
                "",
                "",
                "no course on this row".into(),
            ));
        }
        return;
    }
    let username_also = match identity {
        Identity::StudentId(_) => username.clone(),
        Identity::Username(_) => None,
    };
    out.requests.push(Request {
        row: row.number,
        identity,
        identity_column,
        username_also,
        wanted,
    });
}

/// A course in a hidden column: hidden columns are not read, and the requester
/// is told.
fn hidden_slots(row: &SheetRow, cols: &Columns, m: &Mistake<'_>, out: &mut Parsed) {
    for (parts, names) in &cols.hidden_slots {
        let text = |p: Part| {
            parts
                .get(&p)
                .and_then(|(i, _)| cell(row, *i))
                .map(|c| c.text.trim().to_string())
        };
        if let Some(course) = text(Part::Course) {
            let column = parts.get(&Part::Course).map_or("", |(_, n)| n.as_str());
            let what = format!(
                "column(s) {} hidden in the sheet: hidden columns are not read; show them if they are part of the request",
                names.join(", ")
            );
            let role = text(Part::Role).unwrap_or_default();
            out.left_out
                .push(m.line(Reason::InvalidValue, column, &course, &role, what));
        }
    }
}

/// Whether the row has a value in a column no header names: then each of its
/// enrolments (or the row) is left out, naming the column.
fn stray_value(
    row: &SheetRow,
    cols: &Columns,
    m: &Mistake<'_>,
    wanted: &[Wanted],
    out: &mut Parsed,
) -> bool {
    let stray = row
        .cells
        .iter()
        .enumerate()
        .chain(row.far.iter().map(|(i, c)| (*i, c)))
        .find(|(i, c)| !cols.named.contains(i) && !c.text.trim().is_empty());
    if let Some((i, c)) = stray {
        let what = format!(
            "column {} holds '{}' but no header names it: name the column (Cours 3, Rôle 3 …) or clear it; nothing of this row is written",
            column_letter(i),
            c.text.trim()
        );
        let column = column_letter(i);
        if wanted.is_empty() {
            out.left_out
                .push(m.line(Reason::InvalidValue, &column, "", "", what.clone()));
        }
        for w in wanted {
            out.left_out.push(m.line(
                Reason::InvalidValue,
                &column,
                &w.course,
                &w.role,
                what.clone(),
            ));
        }
        return true;
    }
    false
}

/// A column as a spreadsheet names it: A … Z, AA …
fn column_letter(i: usize) -> String {
    let mut n = i + 1;
    let mut out = Vec::new();
    while n > 0 {
        let r = (n - 1) % 26;
        out.push(b'A' + r as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

/// A hidden or filtered-out row is not read as a request (the person who hid it
/// meant it out of the request, or forgot it there): each of its enrolments is left
/// out, so that the requester sees it.
fn hidden_row(row: &SheetRow, cols: &Columns, out: &mut Parsed) {
    let text = |i: usize| cell(row, i).map(|c| c.text.trim().to_string());
    let who = |c: &Option<(usize, String)>| c.as_ref().and_then(|(i, _)| text(*i));
    let (username, student_id) = (who(&cols.username), who(&cols.student_id));
    let m = Mistake {
        row: row.number,
        username: username.as_deref().unwrap_or_default(),
        student_id: student_id.as_deref().unwrap_or_default(),
    };
    for parts in cols.slots.values() {
        let Some((i, column)) = parts.get(&Part::Course) else {
            continue;
        };
        let Some(course) = text(*i) else { continue };
        let role = parts
            .get(&Part::Role)
            .and_then(|(i, _)| text(*i))
            .unwrap_or_default();
        let what = "the row is hidden (or filtered out) in the sheet: show it if it is part of the request".to_string();
        out.left_out
            .push(m.line(Reason::InvalidValue, column, &course, &role, what));
    }
}

/// Who a row is about and the column that says it; or the column at fault (none:
/// the row's enrolment columns) and why.
fn identity_of(
    row: &SheetRow,
    cols: &Columns,
    student_id: &Option<String>,
    username: &Option<String>,
) -> Result<(Identity, String), (Option<String>, String)> {
    for (i, header) in [&cols.student_id, &cols.username].into_iter().flatten() {
        if let Some(c) = cell(row, *i).filter(|c| c.kind == CellKind::Error) {
            return Err((Some(header.clone()), error_cell_says(c)));
        }
    }
    let header = |c: &Option<(usize, String)>| c.as_ref().map(|c| c.1.clone()).unwrap_or_default();
    match (student_id, username) {
        (Some(id), _) if !id.bytes().all(|b| b.is_ascii_digit()) => {
            let hint = if cols.username.is_none() {
                "; a login goes in a username column"
            } else {
                ""
            };
            Err((
                Some(header(&cols.student_id)),
                format!("'{id}' is not a student number (digits only){hint}"),
            ))
        }
        (Some(id), _) => Ok((Identity::StudentId(id.clone()), header(&cols.student_id))),
        (None, Some(u)) => match username_mistake(u) {
            Some(what) => Err((Some(header(&cols.username)), what)),
            None => Ok((Identity::Username(u.clone()), header(&cols.username))),
        },
        (None, None) => Err((None, "no username or student number on this row".into())),
    }
}

/// A student number as a sheet may hold it: stored as a number (`21000004.0`),
/// or grouped by thousands the French way (`21 000 016`, with spaces or no-break
/// spaces).
fn student_number(t: &str) -> Option<String> {
    let ungrouped: String = t
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
        .collect();
    whole_number(&ungrouped)
}

/// A username the directory cannot hold as written, with the fix.
fn username_mistake(u: &str) -> Option<String> {
    if u.chars().any(char::is_whitespace) {
        let joined: String = u.chars().filter(|c| !c.is_whitespace()).collect();
        return Some(format!(
            "username '{u}' has spaces (did you mean '{}'?)",
            joined.to_lowercase()
        ));
    }
    None
}

/// What a cell of kind `Error` holds, as a mistake.
fn error_cell_says(c: &SheetCell) -> String {
    let t = c.text.trim();
    if t.starts_with('#') || t.to_lowercase().starts_with("err") {
        format!("holds a formula error {t}")
    } else {
        format!("holds {t}")
    }
}

/// One enrolment slot of a row: `courseN` and the columns of the same N.
struct Slot<'a> {
    row: &'a SheetRow,
    parts: &'a BTreeMap<Part, (usize, String)>,
}

/// A slot's mistake: why, and the column that holds it.
struct Wrong {
    reason: Reason,
    column: String,
    what: String,
}

impl Slot<'_> {
    fn get(&self, p: Part) -> Option<&SheetCell> {
        self.parts.get(&p).and_then(|(i, _)| cell(self.row, *i))
    }

    fn text(&self, p: Part) -> Option<String> {
        self.get(p).map(|c| c.text.trim().to_string())
    }

    /// The column's header as the requester wrote it.
    fn column(&self, p: Part) -> String {
        self.parts
            .get(&p)
            .map_or_else(|| p.name().to_string(), |(_, h)| h.clone())
    }

    fn wrong(&self, p: Part, what: String) -> Wrong {
        Wrong {
            reason: Reason::InvalidValue,
            column: self.column(p),
            what,
        }
    }
}

/// One enrolment (courseN and its columns), or `None` when the slot is empty or
/// wrong (a left-out line then says why, naming the column).
fn read_slot(
    row: &SheetRow,
    parts: &BTreeMap<Part, (usize, String)>,
    ctx: &Context<'_>,
    m: &Mistake<'_>,
    out: &mut Parsed,
) -> Option<Wanted> {
    let slot = Slot { row, parts };
    let role = slot.text(Part::Role).unwrap_or_default();
    let Some(course) = slot.text(Part::Course) else {
        // Values without a course: a mistake, never dropped.
        let stray = Part::ALL
            .iter()
            .filter(|(_, p)| *p != Part::Course)
            .find_map(|(_, p)| slot.get(*p).map(|c| (*p, c)));
        if let Some((p, c)) = stray {
            let course_col = slot.column(Part::Course);
            let what = format!(
                "{course_col} is empty but {} is '{}'",
                slot.column(p),
                c.text.trim()
            );
            out.left_out
                .push(m.line(Reason::InvalidValue, &course_col, "", &role, what));
        }
        return None;
    };
    match wanted(&slot, &course, &role, ctx) {
        Ok(w) => Some(w),
        Err(w) => {
            out.left_out
                .push(m.line(w.reason, &w.column, &course, &role, w.what));
            None
        }
    }
}

/// The slot's values checked: the enrolment, or the first mistake.
fn wanted(slot: &Slot<'_>, course: &str, role: &str, ctx: &Context<'_>) -> Result<Wanted, Wrong> {
    let error_cell = Part::ALL.iter().find_map(|(_, p)| {
        slot.get(*p)
            .filter(|c| c.kind == CellKind::Error)
            .map(|c| (*p, c))
    });
    if let Some((p, c)) = error_cell {
        return Err(slot.wrong(p, error_cell_says(c)));
    }
    let d = ctx.platform.csv.delimiter;
    if let Err(e) = moodle::check_value(Field::Course, course, d) {
        return Err(slot.wrong(Part::Course, e));
    }
    if !ctx.known_courses.contains(course) {
        if let Some(k) = ctx.known_courses.in_another_case(course) {
            let what = format!(
                "unknown course '{course}' (did you mean '{k}'? shortnames are case-sensitive)"
            );
            return Err(slot.wrong(Part::Course, what));
        }
    }
    let role = match role_of(role, ctx.platform) {
        Ok(r) => r,
        Err((reason, what)) => {
            return Err(Wrong {
                reason,
                column: slot.column(Part::Role),
                what,
            })
        }
    };
    let group = slot.text(Part::Group);
    if let Some(g) = &group {
        if let Err(e) = moodle::check_value(Field::Group, g, d) {
            // Moodle's rule names the value.
            return Err(slot.wrong(Part::Group, e));
        }
    }
    Ok(Wanted {
        column: slot.column(Part::Course),
        course: course.to_string(),
        role,
        group,
        enrolperiod: enrolperiod(slot)?,
        enrolstatus: enrolstatus(slot)?,
        enroltimestart: enroltimestart(slot)?,
    })
}

fn enrolperiod(slot: &Slot<'_>) -> Result<Option<u32>, Wrong> {
    let Some(c) = slot.get(Part::Enrolperiod) else {
        return Ok(None);
    };
    let t = c.text.trim();
    match whole_number(t).and_then(|s| s.parse::<u32>().ok()) {
        Some(p) if moodle::check_enrolperiod(p).is_ok() => Ok(Some(p)),
        _ => {
            let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
            let unit = fold(&t[digits.len()..]);
            let meant = match (digits.parse::<u32>(), unit.as_str()) {
                // Months or weeks are not days: no guess at a number.
                (Ok(p), "mois" | "month" | "months" | "m") if p > 0 => {
                    format!(
                        " (months: write the days, {} for {p} month(s) of 30 days?)",
                        p * 30
                    )
                }
                (Ok(p), "semaine" | "semaines" | "week" | "weeks" | "sem") if p > 0 => {
                    format!(" (weeks: write the days, {}?)", p * 7)
                }
                (Ok(p), _) if p > 0 && digits.len() < t.len() => format!(" (did you mean {p}?)"),
                _ => String::new(),
            };
            let what = format!("'{t}' is not a whole number of days (> 0){meant}");
            Err(slot.wrong(Part::Enrolperiod, what))
        }
    }
}

fn enrolstatus(slot: &Slot<'_>) -> Result<Option<u8>, Wrong> {
    let Some(c) = slot.get(Part::Enrolstatus) else {
        return Ok(None);
    };
    let t = c.text.trim();
    match whole_number(t).as_deref() {
        Some("0") => Ok(Some(0)),
        Some("1") => Ok(Some(1)),
        _ => Err(slot.wrong(
            Part::Enrolstatus,
            format!("'{t}' must be 0 (active) or 1 (suspended)"),
        )),
    }
}

fn enroltimestart(slot: &Slot<'_>) -> Result<Option<NaiveDate>, Wrong> {
    let Some(c) = slot.get(Part::Enroltimestart) else {
        return Ok(None);
    };
    match date(c) {
        Some(d) => Ok(Some(d)),
        None => Err(slot.wrong(
            Part::Enroltimestart,
            format!(
                "'{}' is not a date from 1970 on (write 2026-09-01 or 01/09/2026)",
                c.text.trim()
            ),
        )),
    }
}

/// The role shortname a cell means: one the platform has, or a label as the
/// template shows it or requesters write it (`Étudiant`, `Enseignant`) for a role
/// the platform has. Otherwise why not, with the shortname meant when it is
/// obvious (another case).
fn role_of(role: &str, platform: &Platform) -> Result<String, (Reason, String)> {
    if role.is_empty() {
        return Err((
            Reason::InvalidValue,
            "is empty: write a role (student, editingteacher …, or Étudiant, Enseignant …)".into(),
        ));
    }
    let allowed: Vec<&str> = match &platform.roles {
        Some(r) => r.iter().map(String::as_str).collect(),
        None => STANDARD_ROLES.to_vec(),
    };
    if allowed.contains(&role) {
        return Ok(role.to_string());
    }
    let folded = fold(role);
    let labelled = platform
        .role_labels
        .iter()
        .find(|(label, _)| fold(label) == folded)
        .map(|(_, r)| r.as_str())
        .or_else(|| {
            ROLE_LABELS
                .iter()
                .find(|(label, _)| *label == folded)
                .map(|(_, r)| *r)
        })
        .or_else(|| {
            STANDARD_ROLES
                .iter()
                .find(|r| role_label(r).is_some_and(|l| fold(l) == folded))
                .copied()
        });
    if let Some(r) = labelled.filter(|r| allowed.contains(r)) {
        return Ok(r.to_string());
    }
    if platform.roles.is_none() && !looks_like_a_label(role) {
        return Ok(role.to_string());
    }
    let meant = allowed
        .iter()
        .find(|a| a.to_lowercase() == role.to_lowercase())
        .copied();
    let reason = if platform.roles.is_some() {
        Reason::RoleNotAllowed
    } else {
        Reason::InvalidValue
    };
    Err(match meant {
        Some(r) => (
            reason,
            format!("unknown role '{role}' (did you mean '{r}'? shortnames are case-sensitive)"),
        ),
        None => (
            reason,
            format!(
                "role '{role}' is not among the platform's roles ({})",
                allowed.join(", ")
            ),
        ),
    })
}

/// A role written as a label or in another case than Moodle's shortnames.
fn looks_like_a_label(role: &str) -> bool {
    let folded = fold(role);
    ROLE_LABELS.iter().any(|(l, _)| *l == folded)
        || STANDARD_ROLES
            .iter()
            .any(|s| s.to_lowercase() == role.to_lowercase() && *s != role)
}

/// `21000004`, `21000004.0` or `21000004.00` as `21000004`: a number a spreadsheet
/// stored as a number. `None` when the text is not a whole number.
fn whole_number(t: &str) -> Option<String> {
    let int = match t.split_once(['.', ',']) {
        Some((i, f)) if !f.is_empty() && f.bytes().all(|b| b == b'0') => i,
        Some(_) => return None,
        None => t,
    };
    (!int.is_empty() && int.bytes().all(|b| b.is_ascii_digit())).then(|| int.to_string())
}

/// French and English month names and their usual abbreviations, folded.
const MONTHS: [(&str, u32); 40] = [
    ("janvier", 1),
    ("janv", 1),
    ("january", 1),
    ("jan", 1),
    ("fevrier", 2),
    ("fevr", 2),
    ("fev", 2),
    ("february", 2),
    ("feb", 2),
    ("mars", 3),
    ("march", 3),
    ("mar", 3),
    ("avril", 4),
    ("avr", 4),
    ("april", 4),
    ("apr", 4),
    ("mai", 5),
    ("may", 5),
    ("juin", 6),
    ("june", 6),
    ("jun", 6),
    ("juillet", 7),
    ("juil", 7),
    ("july", 7),
    ("jul", 7),
    ("aout", 8),
    ("august", 8),
    ("aug", 8),
    ("septembre", 9),
    ("sept", 9),
    ("september", 9),
    ("sep", 9),
    ("octobre", 10),
    ("october", 10),
    ("oct", 10),
    ("novembre", 11),
    ("november", 11),
    ("nov", 11),
    ("decembre", 12),
    ("december", 12),
];

/// A date as a requester writes it: ISO, French `dd/mm/yyyy` or `d/m/yy` (what a
/// short date cell exports to CSV: a two-digit year is 20yy), a long form
/// (`1 septembre 2026`, `15 sept. 2026`, `lundi 1 septembre 2026`), or a
/// spreadsheet's day number (days since 1899-12-30) when the cell lost its date
/// format. Nothing before 1970 is a date a run can send: `None`, and the row is
/// left out with its reason.
fn date(c: &SheetCell) -> Option<NaiveDate> {
    let t = c.text.trim();
    let d = written_date(t).or_else(|| {
        let serial: u64 = whole_number(t)?.parse().ok()?;
        NaiveDate::from_ymd_opt(1899, 12, 30)?.checked_add_days(Days::new(serial))
    })?;
    let first = NaiveDate::from_ymd_opt(1970, 1, 2)?;
    let last = NaiveDate::from_ymd_opt(2099, 12, 31)?;
    (first..=last).contains(&d).then_some(d)
}

fn written_date(t: &str) -> Option<NaiveDate> {
    // A date-time keeps its date (`2026-09-01 08:30`, `2026-09-01T08:30:00`).
    let day = t.split([' ', 'T']).next().unwrap_or(t);
    if let Ok(d) = NaiveDate::parse_from_str(day, "%Y-%m-%d") {
        return Some(d);
    }
    let parts: Vec<&str> = day.split(['/', '.', '-']).collect();
    if let [d, m, y] = parts.as_slice() {
        if [d, m, y]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        {
            let year: i32 = match y.len() {
                2 => 2000 + y.parse::<i32>().ok()?,
                4 => y.parse().ok()?,
                _ => return None,
            };
            return NaiveDate::from_ymd_opt(year, m.parse().ok()?, d.parse().ok()?);
        }
    }
    long_date(t)
}

/// `1 septembre 2026`, `1er sept. 2026`, `lundi 1 septembre 2026`, `September 1, 2026`.
fn long_date(t: &str) -> Option<NaiveDate> {
    let words: Vec<String> = fold(t)
        .split(|c: char| c.is_whitespace() || c == '.' || c == ',')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let month = |w: &str| MONTHS.iter().find(|(n, _)| *n == w).map(|(_, m)| *m);
    let number = |w: &str| w.trim_end_matches("er").parse::<u32>().ok();
    let (mut day, mut mon, mut year) = (None, None, None);
    for w in &words {
        if let Some(m) = month(w) {
            mon.get_or_insert(m);
        } else if let Some(n) = number(w) {
            if n > 31 {
                year.get_or_insert(i32::try_from(n).ok()?);
            } else if day.is_none() {
                day = Some(n);
            } else {
                return None;
            }
        } else if !is_weekday(w) {
            return None;
        }
    }
    NaiveDate::from_ymd_opt(year?, mon?, day?)
}

fn is_weekday(w: &str) -> bool {
    [
        "lundi",
        "mardi",
        "mercredi",
        "jeudi",
        "vendredi",
        "samedi",
        "dimanche",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    .contains(&w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SheetCell;

    fn rows(lines: &[&[&str]]) -> Vec<SheetRow> {
        lines
            .iter()
            .enumerate()
            .map(|(i, cells)| SheetRow {
                number: i + 1,
                cells: cells.iter().map(|c| SheetCell::text(*c)).collect(),
                far: Vec::new(),
                hidden: false,
            })
            .collect()
    }

    fn platform(roles: Option<&[&str]>) -> Platform {
        let mut p = crate::plan::tests::platform(0);
        p.roles = roles.map(|r| r.iter().map(|s| s.to_string()).collect());
        p
    }

    /// The sheet of these lines read on `p`, the configuration knowing PSY-L1.
    pub(super) fn parse_with(lines: &[&[&str]], p: &Platform) -> Result<Parsed, SheetError> {
        let known = KnownCourses::new(["PSY-L1".to_string()]);
        parse(
            &rows(lines),
            &BTreeSet::new(),
            &Context {
                platform: p,
                known_courses: &known,
            },
        )
    }

    #[test]
    fn headers_fold_accents_case_and_punctuation() {
        assert_eq!(fold(" N° Étudiant "), "n etudiant");
        assert_eq!(fold("Numéro d'étudiant"), "numero d etudiant");
        assert_eq!(fold("COD_ETU"), "cod etu");
    }

    #[test]
    fn wide_and_long_layouts_give_the_same_requests() {
        let p = platform(Some(&["student", "teacher"]));
        let wide = parse_with(
            &[
                &["username", "course1", "role1", "course2", "role2"],
                &["jdupont", "PSY-L1", "student", "PSY-L2", "teacher"],
            ],
            &p,
        )
        .unwrap();
        let long = parse_with(
            &[
                &["Username", "Course", "Role"],
                &["jdupont", "PSY-L1", "student"],
                &["jdupont", "PSY-L2", "teacher"],
            ],
            &p,
        )
        .unwrap();
        let pairs = |p: &Parsed| -> Vec<(String, String)> {
            p.requests
                .iter()
                .flat_map(|r| r.wanted.iter().map(|w| (w.course.clone(), w.role.clone())))
                .collect()
        };
        assert_eq!(pairs(&wide), pairs(&long));
        assert!(wide.left_out.is_empty() && long.left_out.is_empty());
    }

    #[test]
    fn role_labels_are_read_and_another_case_gets_a_suggestion() {
        let p = platform(Some(&["student", "editingteacher"]));
        let parsed = parse_with(
            &[
                &["numéro étudiant", "course1", "role1", "course2", "role2"],
                &["21000004.0", "PSY-L1", "Etudiant", "psy-l1", "student"],
                &["21000005", "X", "Student", "Y", "enseignant"],
            ],
            &p,
        )
        .unwrap();
        let details: Vec<&str> = parsed.left_out.iter().map(|l| l.detail.as_str()).collect();
        assert_eq!(
            details,
            [
                "row 2, course2: unknown course 'psy-l1' (did you mean 'PSY-L1'? shortnames are case-sensitive)",
            ]
        );
        let read: Vec<(usize, &str, &str)> = parsed
            .requests
            .iter()
            .flat_map(|r| {
                r.wanted
                    .iter()
                    .map(move |w| (r.row, w.course.as_str(), w.role.as_str()))
            })
            .collect();
        // `Student` is Moodle's own English name of the role (before: left out).
        assert_eq!(
            read,
            [
                (2, "PSY-L1", "student"),
                (3, "X", "student"),
                (3, "Y", "editingteacher")
            ]
        );
        let role = |r: &str| {
            role_of(
                r,
                &platform(Some(&["student", "editingteacher", "teacher", "manager"])),
            )
        };
        // Before: `Teacher` (Moodle's English name of editingteacher) suggested
        // `teacher`, and `Manager` was left out.
        assert_eq!(role("Teacher"), Ok("editingteacher".to_string()));
        assert_eq!(role("teacher"), Ok("teacher".to_string()));
        assert_eq!(role("Manager"), Ok("manager".to_string()));
    }

    #[test]
    fn values_are_read_as_a_spreadsheet_stores_them() {
        let p = platform(None);
        let parsed = parse_with(
            &[
                &[
                    "cod_etu",
                    "course1",
                    "role1",
                    "enrolperiod1",
                    "enrolstatus1",
                    "enroltimestart1",
                ],
                &["# notes row", "shortname", "role", "days", "0 or 1", "date"],
                &["21000004.0", "PSY-L1", "student", "60.0", "0", "46266"],
                &["21000005", "PSY-L1", "student", "", "", "01/09/2026"],
                &["21000006", "PSY-L1", "student", "60j", "", ""],
                &["21000007", "PSY-L1", "student", "", "2", ""],
                &[],
            ],
            &p,
        )
        .unwrap();
        let first = &parsed.requests[0];
        assert_eq!(first.identity, Identity::StudentId("21000004".into()));
        assert_eq!(first.wanted[0].enrolperiod, Some(60));
        assert_eq!(
            first.wanted[0].enroltimestart,
            NaiveDate::from_ymd_opt(2026, 9, 1)
        );
        assert_eq!(
            parsed.requests[1].wanted[0].enroltimestart,
            NaiveDate::from_ymd_opt(2026, 9, 1)
        );
        let details: Vec<&str> = parsed.left_out.iter().map(|l| l.detail.as_str()).collect();
        assert_eq!(
            details,
            [
                "row 5, enrolperiod1: '60j' is not a whole number of days (> 0) (did you mean 60?)",
                "row 6, enrolstatus1: '2' must be 0 (active) or 1 (suspended)",
            ]
        );
    }

    #[test]
    fn french_headers_are_read_and_a_near_miss_is_refused() {
        let p = platform(None);
        let parsed = parse_with(
            &[
                &[
                    "N° étudiant",
                    "Cours 1",
                    "Rôle 1",
                    "Groupe 1",
                    "Durée 1",
                    "Statut 1",
                    "Date de début 1",
                ],
                &[
                    "21000004",
                    "PSY-L1",
                    "Étudiant",
                    "TD 1",
                    "60",
                    "0",
                    "01/09/2026",
                ],
            ],
            &p,
        )
        .unwrap();
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        let w = &parsed.requests[0].wanted[0];
        assert_eq!(
            (
                w.course.as_str(),
                w.role.as_str(),
                w.group.as_deref(),
                w.enrolperiod,
                w.enrolstatus
            ),
            ("PSY-L1", "student", Some("TD 1"), Some(60), Some(0))
        );
        assert_eq!(w.enroltimestart, NaiveDate::from_ymd_opt(2026, 9, 1));
        let err = parse_with(
            &[
                &["username", "course1", "role1", "Grupe 1"],
                &["a", "PSY-L1", "student", "TD 1"],
            ],
            &p,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "row 1: column 'Grupe 1' looks like an enrolment column but is not one enrolgen reads (did you mean groupN?): rename it, so that nothing it holds is dropped"
        );
    }

    #[test]
    fn a_row_starting_with_a_formula_error_is_left_out_not_a_comment() {
        let p = platform(None);
        let mut r = rows(&[
            &["cod_etu", "course1", "role1"],
            &["#N/A", "PSY-L1", "student"],
        ]);
        r[1].cells[0].kind = CellKind::Error;
        let known = KnownCourses::default();
        let ctx = Context {
            platform: &p,
            known_courses: &known,
        };
        let parsed = parse(&r, &BTreeSet::new(), &ctx).unwrap();
        assert!(parsed.requests.is_empty());
        assert_eq!(parsed.left_out.len(), 1, "{:?}", parsed.left_out);
        assert_eq!(
            parsed.left_out[0].detail,
            "row 2, cod_etu: holds a formula error #N/A"
        );
    }

    #[test]
    fn a_formula_error_is_named_not_written() {
        let p = platform(None);
        let mut r = rows(&[
            &["username", "course1", "role1", "group1"],
            &["a", "PSY-L1", "student", ""],
        ]);
        r[1].cells[3] = SheetCell {
            text: "#REF!".into(),
            kind: CellKind::Error,
        };
        let known = KnownCourses::default();
        let parsed = parse(
            &r,
            &BTreeSet::new(),
            &Context {
                platform: &p,
                known_courses: &known,
            },
        )
        .unwrap();
        assert!(parsed.requests.is_empty());
        assert_eq!(
            parsed.left_out[0].detail,
            "row 2, group1: holds a formula error #REF!"
        );
    }

    #[test]
    fn a_custom_role_passes_when_the_platform_lists_none() {
        let p = platform(None);
        let parsed = parse_with(
            &[
                &["username", "course1", "role1"],
                &["a", "PSY-L1", "tutor_ext"],
            ],
            &p,
        )
        .unwrap();
        assert!(parsed.left_out.is_empty());
        let parsed = parse_with(
            &[
                &["username", "course1", "role1"],
                &["a", "PSY-L1", "Tuteur"],
            ],
            &p,
        )
        .unwrap();
        assert!(parsed.left_out.is_empty(), "{:?}", parsed.left_out);
        assert_eq!(
            parsed.requests[0].wanted[0].role, "teacher",
            "a label is read"
        );
    }

    #[test]
    fn rows_without_identity_course_or_with_spaces_are_named() {
        let p = platform(None);
        let parsed = parse_with(
            &[
                &["username", "course1", "role1", "nom"],
                &["", "PSY-L1", "student", "Dupont"],
                &["j dupont", "PSY-L1", "student"],
                &["jmartin", "", "student"],
                &["jpetit"],
            ],
            &p,
        )
        .unwrap();
        let details: Vec<&str> = parsed.left_out.iter().map(|l| l.detail.as_str()).collect();
        assert_eq!(
            details,
            [
                "row 2, course1: no username or student number on this row",
                "row 3, username: username 'j dupont' has spaces (did you mean 'jdupont'?)",
                "row 4, course1: course1 is empty but role1 is 'student'",
                "row 5, username: no course on this row",
            ]
        );
        assert_eq!(
            parsed.warnings,
            ["columns ignored (not enrolment columns): nom"]
        );
    }

    #[test]
    fn sheets_that_are_not_enrolments_are_refused() {
        let p = platform(None);
        let e = parse_with(&[&["nom", "course1"]], &p).unwrap_err();
        assert!(matches!(e, SheetError::NoIdentity { row: 1, .. }), "{e}");
        let e = parse_with(&[&["username", "role1"]], &p).unwrap_err();
        assert_eq!(e, SheetError::NoCourse { row: 1 });
        let e = parse_with(&[&["username", "course1", "Course 1"]], &p).unwrap_err();
        assert!(matches!(e, SheetError::Repeated { .. }));
        let e = parse_with(&[&["username", "course1", "cohort1"]], &p).unwrap_err();
        assert!(matches!(e, SheetError::Unsupported { .. }));
        assert_eq!(parse_with(&[], &p).unwrap_err(), SheetError::Empty);
    }

    #[test]
    fn student_numbers_grouped_by_thousands_are_read_and_a_login_there_is_named() {
        let p = platform(None);
        let parsed = parse_with(
            &[
                &["n° étudiant", "course1", "role1"],
                &["21\u{a0}000\u{202f}016", "PSY-L1", "student"],
                &["21 000 017", "PSY-L1", "student"],
                &["toto211", "PSY-L1", "student"],
            ],
            &p,
        )
        .unwrap();
        let ids: Vec<&Identity> = parsed.requests.iter().map(|r| &r.identity).collect();
        assert_eq!(
            ids,
            [
                &Identity::StudentId("21000016".into()),
                &Identity::StudentId("21000017".into())
            ]
        );
        assert_eq!(
            parsed.left_out[0].detail,
            "row 4, n° étudiant: 'toto211' is not a student number (digits only); a login goes in a username column"
        );
    }

    /// Before: `01/09/26` and `1/9/26` became 0026-09-01, `1 septembre 2026`
    /// 1899-12-31 and `15 sept. 2026` 1900-01-14, all with exit 0.
    #[test]
    fn dates_are_read_as_french_offices_write_them_and_never_before_1970() {
        let d = |t: &str| date(&SheetCell::text(t));
        let sept1 = NaiveDate::from_ymd_opt(2026, 9, 1);
        for t in [
            "2026-09-01",
            "01/09/2026",
            "01/09/26",
            "1/9/26",
            "1.9.2026",
            "1 septembre 2026",
            "1er septembre 2026",
            "mardi 1 septembre 2026",
            "1 sept. 2026",
            "September 1, 2026",
            "2026-09-01T08:30:00",
            "2026-09-01 08:30",
            "46266",
        ] {
            assert_eq!(d(t), sept1, "{t}");
        }
        assert_eq!(d("15 sept. 2026"), NaiveDate::from_ymd_opt(2026, 9, 15));
        for t in [
            "1",
            "31/12/1899",
            "0026-09-01",
            "1 septembre",
            "septembre 2026",
            "32/01/2026",
            "1 foo 2026",
        ] {
            assert_eq!(d(t), None, "{t}");
        }
    }

    /// Before: `Durée (jours)`, `Nb jours`, `Début d'inscription`, `Suspendu`,
    /// `Start date`, `Enrolment period`, `Duration` were "ignored (not enrolment
    /// columns)" and a 60-day request got no end date; an end date was dropped.
    #[test]
    fn headers_in_plain_words_are_read_and_an_end_date_is_refused() {
        let p = platform(Some(&["student"]));
        for (header, part) in [
            ("Durée (jours)", Part::Enrolperiod),
            ("Durée en jours", Part::Enrolperiod),
            ("Nb jours", Part::Enrolperiod),
            ("Période (j)", Part::Enrolperiod),
            ("Durée 1 (jours)", Part::Enrolperiod),
            ("Enrolment period", Part::Enrolperiod),
            ("Duration", Part::Enrolperiod),
            ("Début d'inscription", Part::Enroltimestart),
            ("Start date", Part::Enroltimestart),
            ("Date de début 1", Part::Enroltimestart),
            ("Suspendu", Part::Enrolstatus),
            ("Groupes", Part::Group),
        ] {
            let (stem, n) = stem_and_number(&fold(header));
            assert_eq!((Part::of_stem(&stem), n), (Some(part), Some(1)), "{header}");
        }
        let parsed = parse_with(
            &[
                &["username", "Cours", "Rôle", "Durée (jours)", "Suspendu"],
                &["jdupont", "PSY-L1", "student", "60", "1"],
            ],
            &p,
        )
        .unwrap();
        let w = &parsed.requests[0].wanted[0];
        assert_eq!((w.enrolperiod, w.enrolstatus), (Some(60), Some(1)));
        for end in ["Date de fin 1", "Date fin", "End date"] {
            let e = parse_with(
                &[
                    &["username", "Cours", "Rôle", end],
                    &["j", "C", "student", "x"],
                ],
                &p,
            )
            .unwrap_err();
            assert!(matches!(e, SheetError::EndDate { .. }), "{end}: {e}");
        }
    }

    /// Before: a third course typed right of `Rôle 2` without its headers was
    /// ignored, and a CSV row with more cells than its header truncated (status 0
    /// written where 1 was meant), exit 0.
    #[test]
    fn a_value_no_header_names_leaves_its_row_out_naming_the_column() {
        let p = platform(Some(&["student"]));
        let parsed = parse_with(
            &[
                &["username", "Cours 1", "Rôle 1", "", "Cours 2", "Rôle 2"],
                &["a", "C1", "student", "", "C2", "student", "C3", "student"],
                &["b", "C1", "student", "x"],
                &["c", "C1", "student"],
            ],
            &p,
        )
        .unwrap();
        let asked: Vec<&str> = parsed
            .requests
            .iter()
            .map(|r| match &r.identity {
                Identity::Username(u) | Identity::StudentId(u) => u.as_str(),
            })
            .collect();
        assert_eq!(asked, ["c"]);
        let details: Vec<&str> = parsed.left_out.iter().map(|l| l.detail.as_str()).collect();
        assert!(
            details
                .iter()
                .any(|d| d.starts_with("row 2, G: column G holds 'C3' but no header names it")),
            "{details:?}"
        );
        assert!(
            details
                .iter()
                .any(|d| d.starts_with("row 3, D: column D holds 'x'")),
            "{details:?}"
        );
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(26), "AA");
    }

    /// Before: `Cours 2`/`Rôle 2` in hidden columns were enrolled without a word.
    #[test]
    fn hidden_columns_are_not_read_and_say_so() {
        let p = platform(Some(&["student"]));
        let known = KnownCourses::new(["PSY-L1".to_string()]);
        let ctx = Context {
            platform: &p,
            known_courses: &known,
        };
        let lines: &[&[&str]] = &[
            &["username", "Cours 1", "Rôle 1", "Cours 2", "Rôle 2"],
            &["a", "PSY-L1", "student", "PSY-L2", "student"],
        ];
        let parsed = parse(&rows(lines), &[3, 4].into(), &ctx).unwrap();
        let courses: Vec<&str> = parsed.requests[0]
            .wanted
            .iter()
            .map(|w| w.course.as_str())
            .collect();
        assert_eq!(courses, ["PSY-L1"]);
        assert_eq!(parsed.left_out.len(), 1);
        assert!(
            parsed.left_out[0]
                .detail
                .contains("column(s) Cours 2, Rôle 2 hidden in the sheet"),
            "{}",
            parsed.left_out[0].detail
        );
        let e = parse(&rows(lines), &[0].into(), &ctx).unwrap_err();
        assert!(matches!(e, SheetError::HiddenIdentity { .. }), "{e}");
    }

    /// Before: `2 mois` suggested 2 (days); a header with decomposed accents (NFD)
    /// was refused under an identical-looking name; `N° d'étudiant` and `Student
    /// number` were not identity headers.
    #[test]
    fn months_are_not_days_and_headers_are_read_however_their_accents_are_encoded() {
        let p = platform(Some(&["student"]));
        let parsed = parse_with(
            &[
                &[
                    "Student number",
                    "Cours",
                    "Ro\u{302}le",
                    "Dure\u{301}e (jours)",
                ],
                &["21000004", "PSY-L1", "student", "2 mois"],
            ],
            &p,
        )
        .unwrap();
        assert!(
            parsed.left_out[0]
                .detail
                .contains("(months: write the days, 60 for 2 month(s) of 30 days?)"),
            "{}",
            parsed.left_out[0].detail
        );
        assert!(STUDENT_ID_HEADERS.contains(&fold("N° d'étudiant").as_str()));
    }
}
