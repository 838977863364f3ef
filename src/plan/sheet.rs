//! A requester's sheet (`adhoc --sheet`), read as the procedure writes it: one
//! identity column (`username`, or a student number), then `courseN`, `roleN`,
//! `groupN`, `enrolperiodN`, `enrolstatusN`, `enroltimestartN`, in the wide layout
//! (several N on a row) or the long one (a row per enrolment). Pure: rows in, the
//! rules a run applies and the row-level mistakes out. Every mistake names the row
//! and the column as the requester sees them, with a suggestion when one is obvious.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Days, NaiveDate};

use crate::model::{
    CellKind, Cohort, CohortSource, EnrolRule, LeftOut, Platform, Reason, SheetCell, SheetRow,
    UserCourse,
};
use crate::moodle::{self, Field};
use crate::plan::PlatformPlan;
use crate::template::Template;

/// The headers taken as a student number, compared folded (lower case, no accents,
/// punctuation as spaces): `student_id`, `cod_etu`, `numéro étudiant`, `n° étudiant` …
pub const STUDENT_ID_HEADERS: [&str; 8] = [
    "student id",
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
const ROLE_LABELS: [(&str, &str); 16] = [
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
    #[error("row {row}: column '{name}' is not supported by adhoc --sheet (only courseN, roleN, groupN, enrolperiodN, enrolstatusN, enroltimestartN)")]
    Unsupported { row: usize, name: String },
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
    pub known_courses: &'a BTreeSet<String>,
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
}

/// Where each column is.
#[derive(Debug, Default)]
struct Columns {
    username: Option<(usize, String)>,
    student_id: Option<(usize, String)>,
    /// N → part → column.
    slots: BTreeMap<u32, BTreeMap<Part, usize>>,
    ignored: Vec<String>,
}

/// `s` folded for comparing headers and labels: lower case, accents dropped, every
/// run of other characters one space.
pub fn fold(s: &str) -> String {
    let mut out = String::new();
    for c in s.trim().chars().flat_map(char::to_lowercase) {
        let c = match c {
            'à' | 'â' | 'ä' | 'á' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' | 'í' => 'i',
            'ô' | 'ö' | 'ó' => 'o',
            'ù' | 'û' | 'ü' | 'ú' => 'u',
            'ç' => 'c',
            c => c,
        };
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
    }
    out.trim_end().to_string()
}

fn is_blank(row: &SheetRow) -> bool {
    row.cells.iter().all(|c| c.text.trim().is_empty())
}

/// A row whose first non-empty cell starts with `#` is a comment (the template's
/// notes row is one).
fn is_comment(row: &SheetRow) -> bool {
    row.cells
        .iter()
        .map(|c| c.text.trim())
        .find(|t| !t.is_empty())
        .is_some_and(|t| t.starts_with('#'))
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
        let compact: String = folded.chars().filter(|c| *c != ' ').collect();
        let digits = compact.trim_start_matches(|c: char| c.is_ascii_alphabetic());
        let stem = &compact[..compact.len() - digits.len()];
        let n = if digits.is_empty() {
            Some(1)
        } else {
            digits.parse::<u32>().ok().filter(|n| *n > 0)
        };
        match (Part::ALL.iter().find(|(s, _)| *s == stem), n) {
            (Some((_, part)), Some(n)) => {
                let slot = cols.slots.entry(n).or_default();
                if slot.insert(*part, i).is_some() {
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
            _ => cols.ignored.push(name.to_string()),
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

/// Reads the rows: the first row that is neither blank nor a comment is the header.
pub fn parse(rows: &[SheetRow], ctx: &Context<'_>) -> Result<Parsed, SheetError> {
    let mut rest = rows.iter().filter(|r| !is_blank(r) && !is_comment(r));
    let header = rest.next().ok_or(SheetError::Empty)?;
    let cols = columns(header)?;
    let mut out = Parsed::default();
    if !cols.ignored.is_empty() {
        out.warnings.push(format!(
            "columns ignored (not enrolment columns): {}",
            cols.ignored.join(", ")
        ));
    }
    for row in rest {
        read_row(row, &cols, ctx, &mut out);
    }
    Ok(out)
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
    let student_id = text(cols.student_id.as_ref()).map(|s| whole_number(&s).unwrap_or(s));
    let m = Mistake {
        row: row.number,
        username: username.as_deref().unwrap_or_default(),
        student_id: student_id.as_deref().unwrap_or_default(),
    };
    let id_col = |c: &Option<(usize, String)>| c.as_ref().map(|c| c.1.clone()).unwrap_or_default();
    let identity = match (&student_id, &username) {
        (Some(id), _) => Ok((Identity::StudentId(id.clone()), id_col(&cols.student_id))),
        (None, Some(u)) => Ok((Identity::Username(u.clone()), id_col(&cols.username))),
        (None, None) => Err(()),
    };
    let mut wanted = Vec::new();
    for (n, parts) in &cols.slots {
        if let Some(w) = read_slot(row, *n, parts, ctx, &m, out) {
            wanted.push(w);
        }
    }
    let (identity, identity_column) = match identity {
        Ok(x) => x,
        Err(()) => {
            let what = "no username or student number on this row".to_string();
            for w in &wanted {
                out.left_out.push(m.line(
                    Reason::InvalidValue,
                    &w.column,
                    &w.course,
                    &w.role,
                    what.clone(),
                ));
            }
            return;
        }
    };
    if let (Identity::Username(u), Some(c)) = (&identity, &cols.username) {
        if let Some(what) = username_mistake(u) {
            for w in &wanted {
                out.left_out.push(m.line(
                    Reason::InvalidValue,
                    &c.1,
                    &w.course,
                    &w.role,
                    what.clone(),
                ));
            }
            return;
        }
    }
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

/// One enrolment (courseN and its columns), or `None` when the slot is empty or
/// wrong (a left-out line then says why).
fn read_slot(
    row: &SheetRow,
    n: u32,
    parts: &BTreeMap<Part, usize>,
    ctx: &Context<'_>,
    m: &Mistake<'_>,
    out: &mut Parsed,
) -> Option<Wanted> {
    let get = |p: Part| parts.get(&p).and_then(|i| cell(row, *i));
    let column = |p: Part| {
        let name = Part::ALL.iter().find(|(_, q)| *q == p).map_or("?", |x| x.0);
        format!("{name}{n}")
    };
    let course = get(Part::Course).map(|c| c.text.trim().to_string());
    let role = get(Part::Role)
        .map(|c| c.text.trim().to_string())
        .unwrap_or_default();
    let Some(course) = course else {
        if let Some((p, c)) = Part::ALL
            .iter()
            .filter(|(_, p)| *p != Part::Course)
            .find_map(|(_, p)| get(*p).map(|c| (*p, c)))
        {
            let what = format!(
                "{} is empty but {} is '{}'",
                column(Part::Course),
                column(p),
                c.text.trim()
            );
            out.left_out
                .push(m.line(Reason::InvalidValue, &column(Part::Course), "", &role, what));
        }
        return None;
    };
    let course_col = column(Part::Course);
    let fail = |out: &mut Parsed, reason: Reason, what: String| {
        out.left_out
            .push(m.line(reason, &course_col, &course, &role, what));
        None
    };
    let d = ctx.platform.csv.delimiter;
    if let Some((p, c)) = Part::ALL.iter().find_map(|(_, p)| {
        get(*p)
            .filter(|c| c.kind == CellKind::Error)
            .map(|c| (*p, c))
    }) {
        let what = format!("{} holds a formula error {}", column(p), c.text.trim());
        return fail(out, Reason::InvalidValue, what);
    }
    if let Err(e) = moodle::check_value(Field::Course, &course, d) {
        return fail(out, Reason::InvalidValue, format!("course '{course}': {e}"));
    }
    if !ctx.known_courses.contains(&course) {
        if let Some(k) = ctx
            .known_courses
            .iter()
            .find(|k| k.to_lowercase() == course.to_lowercase())
        {
            let what = format!(
                "unknown course '{course}' (did you mean '{k}'? shortnames are case-sensitive)"
            );
            return fail(out, Reason::InvalidValue, what);
        }
    }
    if let Some((reason, what)) = role_mistake(&role, &column(Part::Role), ctx.platform) {
        return fail(out, reason, what);
    }
    let group = get(Part::Group).map(|c| c.text.trim().to_string());
    if let Some(g) = &group {
        if let Err(e) = moodle::check_value(Field::Group, g, d) {
            return fail(
                out,
                Reason::InvalidValue,
                format!("{} '{g}': {e}", column(Part::Group)),
            );
        }
    }
    let enrolperiod = match get(Part::Enrolperiod) {
        None => None,
        Some(c) => {
            let t = c.text.trim();
            match whole_number(t).and_then(|s| s.parse::<u32>().ok()) {
                Some(p) if moodle::check_enrolperiod(p).is_ok() => Some(p),
                _ => {
                    let what = format!(
                        "{} '{t}' is not a whole number of days (> 0)",
                        column(Part::Enrolperiod)
                    );
                    return fail(out, Reason::InvalidValue, what);
                }
            }
        }
    };
    let enrolstatus = match get(Part::Enrolstatus) {
        None => None,
        Some(c) => {
            let t = c.text.trim();
            match whole_number(t).as_deref() {
                Some("0") => Some(0),
                Some("1") => Some(1),
                _ => {
                    let what = format!(
                        "{} '{t}' must be 0 (active) or 1 (suspended)",
                        column(Part::Enrolstatus)
                    );
                    return fail(out, Reason::InvalidValue, what);
                }
            }
        }
    };
    let enroltimestart = match get(Part::Enroltimestart) {
        None => None,
        Some(c) => match date(c) {
            Some(d) => Some(d),
            None => {
                let what = format!(
                    "{} '{}' is not a date (write 2026-09-01 or 01/09/2026)",
                    column(Part::Enroltimestart),
                    c.text.trim()
                );
                return fail(out, Reason::InvalidValue, what);
            }
        },
    };
    Some(Wanted {
        column: course_col.clone(),
        course: course.clone(),
        role,
        group,
        enrolperiod,
        enrolstatus,
        enroltimestart,
    })
}

/// Why a role cannot be written as it is, with the shortname meant when it is
/// obvious (another case, a French or English label).
fn role_mistake(role: &str, column: &str, platform: &Platform) -> Option<(Reason, String)> {
    if role.is_empty() {
        return Some((
            Reason::InvalidValue,
            format!("{column} is empty: write a role shortname (student, editingteacher …)"),
        ));
    }
    let allowed: Vec<&str> = match &platform.roles {
        Some(r) => r.iter().map(String::as_str).collect(),
        None => STANDARD_ROLES.to_vec(),
    };
    if allowed.contains(&role) || (platform.roles.is_none() && !looks_like_a_label(role)) {
        return None;
    }
    let folded = fold(role);
    let meant = allowed
        .iter()
        .find(|a| a.to_lowercase() == role.to_lowercase())
        .copied()
        .or_else(|| {
            ROLE_LABELS
                .iter()
                .find(|(label, _)| *label == folded)
                .map(|(_, r)| *r)
                .filter(|r| allowed.contains(r))
        });
    let reason = if platform.roles.is_some() {
        Reason::RoleNotAllowed
    } else {
        Reason::InvalidValue
    };
    Some(match meant {
        Some(r) => (
            reason,
            format!("unknown role '{role}' (did you mean '{r}'?)"),
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

/// A date as a requester writes it: ISO, French `dd/mm/yyyy`, or a spreadsheet's
/// day number (days since 1899-12-30) when the cell lost its date format.
fn date(c: &SheetCell) -> Option<NaiveDate> {
    let t = c.text.trim();
    let t = t.split_once(' ').map_or(t, |(d, _)| d);
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Some(d);
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%d/%m/%Y") {
        return Some(d);
    }
    let serial: u64 = whole_number(t)?.parse().ok()?;
    if !(1..=2_958_465).contains(&serial) {
        return None;
    }
    NaiveDate::from_ymd_opt(1899, 12, 30)?.checked_add_days(Days::new(serial))
}

/// The cohorts and rules a run applies for the requests: a cohort per row (its one
/// person), a rule per enrolment numbered by its row, with `tags` on every cohort
/// (the platform rules that ask for cohort tags).
pub fn rules(
    parsed: &Parsed,
    platform: &str,
    tags: &BTreeSet<String>,
) -> (Vec<Cohort>, Vec<EnrolRule>) {
    let mut cohorts = Vec::new();
    let mut rules = Vec::new();
    for r in &parsed.requests {
        let name = row_cohort(r.row);
        let source = match &r.identity {
            Identity::Username(u) => CohortSource::Usernames(vec![u.clone()]),
            Identity::StudentId(id) => CohortSource::StudentNumbers(vec![id.clone()]),
        };
        cohorts.push(Cohort {
            name: name.clone(),
            source,
            tags: tags.clone(),
        });
        for w in &r.wanted {
            rules.push(EnrolRule {
                number: r.row,
                cohort: name.clone(),
                platform: platform.to_string(),
                courses: vec![w.course.clone()],
                role: w.role.clone(),
                group: w.group.as_deref().map(Template::literal),
                enrolperiod: w.enrolperiod,
                enrolstatus: w.enrolstatus,
                enroltimestart: w.enroltimestart,
            });
        }
    }
    (cohorts, rules)
}

/// The run's plan for the sheet, told in the sheet's terms: each left-out line names
/// its row and column, and the sheet's own mistakes join the list. A row that gives
/// both a student number and a username is enrolled only if the account found by the
/// number answers to that username: `usernames_of` gives the names of the one account
/// a student number finds (`None` when the plan already left it out).
pub fn locate(
    parsed: &Parsed,
    pp: &mut PlatformPlan,
    usernames_of: impl Fn(&str) -> Option<Vec<String>>,
) {
    let by_row: BTreeMap<usize, &Request> = parsed.requests.iter().map(|r| (r.row, r)).collect();
    for l in &mut pp.left_out {
        let Some(r) = by_row.get(&l.rule) else {
            continue;
        };
        let column = match l.reason {
            Reason::NoStudentNumber
            | Reason::NoAccount
            | Reason::AmbiguousAccount
            | Reason::AccountTooRecent
            | Reason::AccountInactive => r.identity_column.clone(),
            _ => r
                .wanted
                .iter()
                .find(|w| w.course == l.course)
                .map_or_else(|| "course".to_string(), |w| w.column.clone()),
        };
        let detail = l.detail.replace("rule #", "row ");
        l.detail = format!("row {}, {column}: {detail}", r.row);
    }
    let mut wrong = Vec::new();
    pp.enrolments.retain(|UserCourse { username, course }, e| {
        for r in e.rules.iter().filter_map(|n| by_row.get(n)) {
            let (Identity::StudentId(id), Some(given)) = (&r.identity, &r.username_also) else {
                continue;
            };
            let Some(names) = usernames_of(id) else {
                continue;
            };
            let given_lc = given.to_lowercase();
            if given_lc == *id || names.iter().any(|n| n.to_lowercase() == given_lc) {
                continue;
            }
            wrong.push(LeftOut {
                course: course.clone(),
                reason: Reason::AmbiguousAccount,
                username: username.clone(),
                student_id: id.clone(),
                name: String::new(),
                cohort: row_cohort(r.row),
                rule: r.row,
                role: e.role.clone(),
                detail: format!(
                    "row {}, {}: student number {id} is the account '{}', but the row says '{given}'",
                    r.row,
                    r.identity_column,
                    names.join("', '")
                ),
            });
            return false;
        }
        true
    });
    pp.left_out.extend(wrong);
    pp.left_out.extend(parsed.left_out.iter().cloned());
    pp.left_out.sort();
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
            })
            .collect()
    }

    fn platform(roles: Option<&[&str]>) -> Platform {
        let mut p = crate::plan::tests::platform(0);
        p.roles = roles.map(|r| r.iter().map(|s| s.to_string()).collect());
        p
    }

    fn parse_with(lines: &[&[&str]], p: &Platform) -> Result<Parsed, SheetError> {
        let known: BTreeSet<String> = ["PSY-L1".to_string()].into();
        parse(
            &rows(lines),
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
    fn role_labels_and_case_get_a_suggestion() {
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
                "row 2, course1: unknown role 'Etudiant' (did you mean 'student'?)",
                "row 2, course2: unknown course 'psy-l1' (did you mean 'PSY-L1'? shortnames are case-sensitive)",
                "row 3, course1: unknown role 'Student' (did you mean 'student'?)",
                "row 3, course2: unknown role 'enseignant' (did you mean 'editingteacher'?)",
            ]
        );
        assert!(parsed.requests.is_empty());
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
                "row 5, course1: enrolperiod1 '60j' is not a whole number of days (> 0)",
                "row 6, course1: enrolstatus1 '2' must be 0 (active) or 1 (suspended)",
            ]
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
        let known = BTreeSet::new();
        let parsed = parse(
            &r,
            &Context {
                platform: &p,
                known_courses: &known,
            },
        )
        .unwrap();
        assert!(parsed.requests.is_empty());
        assert_eq!(
            parsed.left_out[0].detail,
            "row 2, course1: group1 holds a formula error #REF!"
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
        assert_eq!(
            parsed.left_out[0].detail,
            "row 2, course1: unknown role 'Tuteur' (did you mean 'teacher'?)"
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
}
