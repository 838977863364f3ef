//! The rules Moodle's "Upload users" applies to an enrolment file (docs/moodle-upload.md),
//! in one place: the planner checks each value with them before anything is written,
//! and `enrolgen lint` checks whole files with them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::NaiveDate;

/// Longest values Moodle stores without a database error (characters).
pub const MAX_COURSE: usize = 255;
pub const MAX_ROLE: usize = 100;
pub const MAX_GROUP: usize = 254;
/// `user.username` is a 100-character column.
pub const MAX_USERNAME: usize = 100;

/// PHP 8's `is_numeric()` on a string, which Moodle's upload tool applies to group
/// names: a numeric name is taken as a group id and never found again by name, so
/// every import creates another group. Grammar (PHP's "numeric strings"): optional
/// leading and trailing whitespace (space, \t, \n, \r, \v, \f), an optional sign,
/// digits with an optional decimal point (or a point followed by digits), an
/// optional exponent. No hexadecimal, no underscores, no `inf`/`nan`.
pub fn php_is_numeric(s: &str) -> bool {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let b = s.as_bytes();
    let start = b.iter().position(|c| !ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !ws(c)).map_or(start, |p| p + 1);
    let mut t = &b[start..end];
    if let [b'+' | b'-', rest @ ..] = t {
        t = rest;
    }
    let digits = |t: &[u8]| t.iter().take_while(|c| c.is_ascii_digit()).count();
    let int = digits(t);
    t = &t[int..];
    let mut frac = 0;
    if let [b'.', rest @ ..] = t {
        frac = digits(rest);
        t = &rest[frac..];
    }
    if int + frac == 0 {
        return false;
    }
    if let [b'e' | b'E', rest @ ..] = t {
        let rest = match rest {
            [b'+' | b'-', r @ ..] => r,
            r => r,
        };
        let exp = digits(rest);
        if exp == 0 {
            return false;
        }
        t = &rest[exp..];
    }
    t.is_empty()
}

/// A character a person cannot see or that is not text: control characters (tab
/// included), Unicode format characters (zero-width space and joiners, bidirectional
/// marks, soft hyphen, BOM …) and whitespace other than the plain space (no-break
/// space, line separators …). Two group names differing only by one look the same
/// in Moodle and are two groups.
pub fn invisible_char(value: &str) -> Option<char> {
    value.chars().find(|&c| {
        c.is_control()
            || (c.is_whitespace() && c != ' ')
            || matches!(c,
                '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
                | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}'
                | '\u{0600}'..='\u{0605}' | '\u{06DD}' | '\u{070F}' | '\u{E0000}'..='\u{E007F}')
    })
}

/// A value of an enrolment row, for messages and limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Username,
    Course,
    Role,
    Group,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Username => "username",
            Field::Course => "course",
            Field::Role => "role",
            Field::Group => "group",
        })
    }
}

/// The delimiters Moodle's upload tool offers, by the name its form and its command
/// line give them.
pub const DELIMITERS: [(&str, u8); 4] = [
    ("comma", b','),
    ("semicolon", b';'),
    ("colon", b':'),
    ("tab", b'\t'),
];

/// A delimiter written as itself (`;`) or by Moodle's name for it (`semicolon`);
/// `\t` for tab too.
pub fn parse_delimiter(s: &str) -> Option<u8> {
    DELIMITERS
        .iter()
        .find(|(name, d)| *name == s || s.as_bytes() == [*d] || (*d == b'\t' && s == "\\t"))
        .map(|(_, d)| *d)
}

/// Moodle's name of a delimiter (`--delimiter_name` of its command line).
pub fn moodle_delimiter_name(d: u8) -> &'static str {
    DELIMITERS
        .iter()
        .find(|(_, x)| *x == d)
        .map_or("semicolon", |(name, _)| name)
}

/// Describes a delimiter the way a person reads it in a message.
pub fn delimiter_name(d: u8) -> String {
    match d {
        b'\t' => "tab".to_string(),
        b',' => "',' (comma)".to_string(),
        b';' => "';' (semicolon)".to_string(),
        b':' => "':' (colon)".to_string(),
        other => format!("'{}'", other as char),
    }
}

/// What any cell of a file written without quotes must be: no surrounding spaces
/// (Moodle trims them), no delimiter, no quote, no line break. `what` names the cell
/// in the message. The writer applies it to every cell as a last guard.
pub fn check_cell(what: &str, value: &str, delimiter: u8) -> Result<(), String> {
    if value.trim() != value {
        return Err(format!("{what} '{value}' has surrounding spaces"));
    }
    if value.as_bytes().contains(&delimiter) {
        return Err(format!(
            "{what} '{value}' contains the delimiter {}; the file is written without quotes",
            delimiter_name(delimiter)
        ));
    }
    if value.contains('"') {
        return Err(format!(
            "{what} '{value}' contains a quote character, which the import procedure forbids"
        ));
    }
    if value.contains(['\r', '\n']) {
        return Err(format!("{what} contains a line break"));
    }
    Ok(())
}

/// Checks one value that is about to be written (already trimmed).
/// The error says, in plain words, why Moodle would refuse or misread it.
pub fn check_value(field: Field, value: &str, delimiter: u8) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{field} is empty"));
    }
    check_cell(&field.to_string(), value, delimiter)?;
    if let Some(c) = invisible_char(value) {
        return Err(format!(
            "{field} '{}' contains the invisible or control character U+{:04X}",
            value.escape_debug(),
            c as u32
        ));
    }
    let max = match field {
        Field::Course => MAX_COURSE,
        Field::Role => MAX_ROLE,
        Field::Group => MAX_GROUP,
        Field::Username => MAX_USERNAME,
    };
    let n = value.chars().count();
    if n > max {
        return Err(format!(
            "{field} is {n} characters long; Moodle accepts at most {max}"
        ));
    }
    match field {
        Field::Username => check_username(value),
        Field::Group if php_is_numeric(value) => Err(numeric_group(value)),
        _ => Ok(()),
    }
}

fn numeric_group(value: &str) -> String {
    format!("group '{value}' is purely numeric as PHP reads it (is_numeric): Moodle would take it as a group id and create another group on every import; give the group a name with letters")
}

/// `enrolperiodN` as enrolgen writes it: whole days above 0 (Moodle reads 0 as the
/// course's default duration).
pub fn check_enrolperiod(days: u32) -> Result<(), String> {
    if days == 0 {
        return Err("0 means the course's default duration: leave it out instead".into());
    }
    Ok(())
}

/// `enrolstatusN`: 0 (active) or 1 (suspended); Moodle silently ignores anything else.
pub fn check_enrolstatus(status: u8) -> Result<(), String> {
    if status > 1 {
        return Err("must be 0 (active) or 1 (suspended)".into());
    }
    Ok(())
}

/// A username as Moodle's PARAM_USERNAME keeps it, with extended characters off:
/// lower case letters, digits and `_ - . @`; `guest` is refused.
pub fn check_username(u: &str) -> Result<(), String> {
    if u.is_empty() {
        return Err("username is empty".to_string());
    }
    if u == "guest" {
        return Err("username 'guest' is refused by Moodle".to_string());
    }
    let n = u.chars().count();
    if n > MAX_USERNAME {
        return Err(format!(
            "username is {n} characters long; Moodle accepts at most {MAX_USERNAME}"
        ));
    }
    if u.chars().any(|c| c.is_uppercase()) {
        return Err(format!(
            "username '{u}' has upper-case letters; with username standardisation off Moodle refuses it"
        ));
    }
    if let Some(c) = u
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.@".contains(*c)))
    {
        return Err(format!(
            "username '{u}' contains '{c}': Moodle allows only a-z, 0-9 and _ - . @"
        ));
    }
    Ok(())
}

/// How serious a problem found in a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The file imports, but perhaps not as intended.
    Warning,
    /// Moodle refuses the file or the row, or imports something else.
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line of the file; 0 for the file as a whole.
    pub line: usize,
    pub severity: Severity,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        if self.line == 0 {
            write!(f, "{sev}: {}", self.message)
        } else {
            write!(f, "line {}: {sev}: {}", self.line, self.message)
        }
    }
}

/// What was found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    pub delimiter: Option<u8>,
    pub rows: usize,
    /// Enrolments (non-empty courseN cells).
    pub enrolments: usize,
    pub problems: Vec<Problem>,
}

impl FileReport {
    pub fn is_clean(&self) -> bool {
        !self.problems.iter().any(|p| p.severity == Severity::Error)
    }
}

/// The standard (non-enrolment) columns Moodle's upload accepts.
const STANDARD_COLUMNS: &[&str] = &[
    "username",
    "password",
    "auth",
    "firstname",
    "lastname",
    "email",
    "emailstop",
    "city",
    "country",
    "lang",
    "timezone",
    "mailformat",
    "maildisplay",
    "maildigest",
    "htmleditor",
    "autosubscribe",
    "institution",
    "department",
    "idnumber",
    "phone1",
    "phone2",
    "address",
    "description",
    "suspended",
    "deleted",
    "oldusername",
    "theme",
    "firstnamephonetic",
    "lastnamephonetic",
    "middlename",
    "alternatename",
    "interests",
    "url",
    "icq",
    "skype",
    "aim",
    "yahoo",
    "msn",
];

pub const ENROL_PREFIXES: &[&str] = &[
    "course",
    "role",
    "group",
    "enrolperiod",
    "enrolstatus",
    "enroltimestart",
    "type",
    "sysrole",
    "cohort",
];

/// Splits `course12` into (`course`, 12).
fn enrol_column(name: &str) -> Option<(&'static str, usize)> {
    ENROL_PREFIXES.iter().find_map(|p| {
        let n = name.strip_prefix(p)?;
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) || n.starts_with('0') {
            return None;
        }
        n.parse().ok().map(|n| (*p, n))
    })
}

/// Options of a whole-file check.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    /// The delimiter the import will use; guessed from the header when absent.
    pub delimiter: Option<u8>,
    /// Role shortnames that exist on the platform; unchecked when absent.
    pub roles: Option<BTreeSet<String>>,
}

/// Problems found so far.
#[derive(Default)]
struct Found(Vec<Problem>);

/// What the header says: the delimiter, the column names, the course numbers.
struct Header {
    delimiter: u8,
    names: Vec<String>,
    courses: BTreeSet<usize>,
}

impl Found {
    fn push(&mut self, line: usize, severity: Severity, message: String) {
        self.0.push(Problem {
            line,
            severity,
            message,
        });
    }
}

/// Checks a whole upload file against every rule of docs/moodle-upload.md.
pub fn lint(bytes: &[u8], opts: &LintOptions) -> FileReport {
    let mut found = Found::default();
    let mut report = FileReport {
        delimiter: None,
        rows: 0,
        enrolments: 0,
        problems: Vec::new(),
    };
    let texts = read_lines(bytes, &mut found);
    if texts.is_empty() {
        report.problems = found.0;
        return report;
    }
    for (i, t) in texts.iter().enumerate() {
        if t.contains('"') {
            found.push(
                i + 1,
                Severity::Error,
                "contains a quote character (\"); the procedure requires a file without quotes"
                    .into(),
            );
        }
    }
    let header = texts.first().map(String::as_str).unwrap_or_default();
    let Some(delimiter) = delimiter_of(header, opts, &mut found) else {
        report.problems = found.0;
        return report;
    };
    report.delimiter = Some(delimiter);
    let (names, courses) = check_header(header, delimiter, &mut found);
    let header = Header {
        delimiter,
        names,
        courses,
    };
    for (i, text) in texts.iter().enumerate().skip(1) {
        check_row(i + 1, text, &header, opts, &mut found, &mut report);
    }
    found.0.sort_by_key(|p| p.line);
    report.problems = found.0;
    report
}

/// The file's lines as Moodle reads them: without a byte-order mark (a warning), the
/// blanks at its end trimmed, bytes that are not UTF-8 reported line by line.
fn read_lines(bytes: &[u8], found: &mut Found) -> Vec<String> {
    let mut body = bytes;
    if let Some(rest) = body.strip_prefix(b"\xEF\xBB\xBF") {
        found.push(
            1,
            Severity::Warning,
            "the file starts with a UTF-8 byte-order mark; Moodle strips it, but save without BOM"
                .into(),
        );
        body = rest;
    }
    // Moodle trims trailing blank lines and spaces at the end of the file.
    let end = body
        .iter()
        .rposition(|b| !b" \t\r\n".contains(b))
        .map_or(0, |p| p + 1);
    let body = &body[..end];
    let lines: Vec<&[u8]> = split_lines(body);
    if lines.is_empty() {
        found.push(0, Severity::Error, "the file is empty".into());
    }
    let mut texts: Vec<String> = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        match std::str::from_utf8(l) {
            Ok(s) => texts.push(s.to_string()),
            Err(e) => {
                found.push(
                    i + 1,
                    Severity::Error,
                    format!(
                        "not valid UTF-8 at byte {} of the line; Moodle silently drops such bytes: save the file as UTF-8",
                        e.valid_up_to() + 1
                    ),
                );
                texts.push(String::from_utf8_lossy(l).into_owned());
            }
        }
    }
    texts
}

/// The delimiter the import uses: given, or told from the header.
fn delimiter_of(header: &str, opts: &LintOptions, found: &mut Found) -> Option<u8> {
    match opts.delimiter {
        Some(d) => Some(d),
        None => match guess_delimiter(header) {
            Some(d) => Some(d),
            None => {
                let message = if [';', ',', ':', '\t'].iter().any(|d| header.contains(*d)) {
                    "cannot tell the delimiter from the header: expected ';', ',', ':' or tab between column names".to_string()
                } else {
                    format!("the header is a single column '{header}': Moodle needs at least 2, separated by ';', ',', ':' or tab")
                };
                found.push(1, Severity::Error, message);
                None
            }
        },
    }
}

/// The header: known, unique, non-empty column names; course columns numbered
/// without a gap. Returns the names and the course numbers.
fn check_header(header: &str, delimiter: u8, found: &mut Found) -> (Vec<String>, BTreeSet<usize>) {
    let names: Vec<String> = header
        .split(delimiter as char)
        .map(|n| n.trim().to_lowercase())
        .collect();
    if names.len() < 2 {
        found.push(
            1,
            Severity::Error,
            format!(
                "the header has {} column; Moodle needs at least 2 (is the delimiter {}?)",
                names.len(),
                delimiter_name(delimiter)
            ),
        );
    }
    let mut seen = BTreeSet::new();
    let mut enrol_cols: BTreeMap<&'static str, BTreeSet<usize>> = BTreeMap::new();
    for name in &names {
        if name.is_empty() {
            found.push(
                1,
                Severity::Error,
                "an empty column name (\"\" is not a valid field name): remove the trailing delimiter".into(),
            );
            continue;
        }
        if !seen.insert(name.clone()) {
            found.push(1, Severity::Error, format!("column '{name}' appears twice"));
            continue;
        }
        if let Some((prefix, n)) = enrol_column(name) {
            enrol_cols.entry(prefix).or_default().insert(n);
        } else if !STANDARD_COLUMNS.contains(&name.as_str()) && !name.starts_with("profile_field_")
        {
            found.push(
                1,
                Severity::Error,
                format!("unknown column '{name}': Moodle refuses the whole file"),
            );
        }
    }
    if !names.iter().any(|n| n == "username") {
        found.push(1, Severity::Error, "no 'username' column".into());
    }
    let courses = enrol_cols.get("course").cloned().unwrap_or_default();
    for (expected, n) in (1..).zip(courses.iter()) {
        if *n != expected {
            found.push(
                1,
                Severity::Error,
                format!("course{expected} is missing: Moodle stops reading enrolments at the first gap, so course{n} and later are ignored"),
            );
            break;
        }
    }
    for (prefix, ns) in &enrol_cols {
        if *prefix == "course" {
            continue;
        }
        for n in ns {
            if !courses.contains(n) {
                found.push(
                    1,
                    Severity::Warning,
                    format!("column {prefix}{n} has no course{n}: Moodle ignores it"),
                );
            }
        }
    }

    (names, courses)
}

/// One data row: its cells, its username, and each of its enrolments.
fn check_row(
    line: usize,
    text: &str,
    header: &Header,
    opts: &LintOptions,
    found: &mut Found,
    report: &mut FileReport,
) {
    let (delimiter, names, courses) = (header.delimiter, &header.names, &header.courses);
    let col = |name: &str| names.iter().position(|n| n == name);
    let username_col = col("username");
    if text.trim().is_empty() {
        found.push(line, Severity::Error, "blank line inside the file".into());
        return;
    }
    report.rows += 1;
    if text.contains('"') {
        // Already reported: with quotes, Moodle would split the line differently.
        return;
    }
    let cells: Vec<&str> = text.split(delimiter as char).map(str::trim).collect();
    if cells.len() != names.len() {
        let hint = if cells.len() > names.len() && text.ends_with(delimiter as char) {
            " (a trailing delimiter?)"
        } else if cells.len() > names.len() {
            " (a value containing the delimiter?)"
        } else {
            " (pad short rows with empty cells)"
        };
        found.push(
            line,
            Severity::Error,
            format!(
                "{} columns but the header has {}{hint}: Moodle refuses the whole file",
                cells.len(),
                names.len()
            ),
        );
        return;
    }
    if let Some(c) = username_col {
        if let Err(m) = check_username(cells[c]) {
            found.push(line, Severity::Error, m);
        }
    }
    for n in courses {
        let get = |p: &str| col(&format!("{p}{n}")).map(|c| cells[c]).unwrap_or("");
        if check_enrolment(line, *n, &get, opts, found) {
            report.enrolments += 1;
        }
    }
}

/// `roleN`: a role the platform has (when its roles are known), written in lower case.
fn check_role(line: usize, n: usize, role: &str, opts: &LintOptions, found: &mut Found) {
    if !role.is_empty() {
        match &opts.roles {
            Some(roles) if !roles.contains(role) && !role.bytes().all(|b| b.is_ascii_digit()) => {
                let hint = roles
                    .iter()
                    .find(|r| r.eq_ignore_ascii_case(role))
                    .map(|r| format!(" (role names are case-sensitive: did you mean '{r}'?)"))
                    .unwrap_or_default();
                found.push(line, Severity::Error, format!("role{n} '{role}' does not exist on the platform{hint}"));
            }
            None if role.chars().any(char::is_uppercase) => found.push(
                line,
                Severity::Warning,
                format!("role{n} '{role}' has upper-case letters: role shortnames are case-sensitive ('student', not 'Student')"),
            ),
            _ => {}
        }
    }
}

/// The cells of enrolment `n` on a row; false when course`n` is empty (nothing to
/// enrol).
fn check_enrolment<'a>(
    line: usize,
    n: usize,
    get: &dyn Fn(&str) -> &'a str,
    opts: &LintOptions,
    found: &mut Found,
) -> bool {
    let course = get("course");
    if course.is_empty() {
        for p in [
            "role",
            "group",
            "enrolperiod",
            "enrolstatus",
            "enroltimestart",
        ] {
            if !get(p).is_empty() {
                found.push(
                    line,
                    Severity::Warning,
                    format!("{p}{n} is set but course{n} is empty: ignored"),
                );
            }
        }
        return false;
    }
    let role = get("role");
    check_role(line, n, role, opts, found);
    for (p, v) in [("course", course), ("role", role), ("group", get("group"))] {
        if let Some(c) = invisible_char(v) {
            found.push(
                line,
                Severity::Error,
                format!(
                    "{p}{n} '{}' contains the invisible or control character U+{:04X}",
                    v.escape_debug(),
                    c as u32
                ),
            );
        }
    }
    let group = get("group");
    if !group.is_empty() {
        if php_is_numeric(group) {
            found.push(line, Severity::Error, format!("group{n} '{group}' is purely numeric: Moodle reads it as a group id; give the group a name with letters"));
        } else if group.chars().count() > MAX_GROUP {
            found.push(line, Severity::Error, format!("group{n} is longer than {MAX_GROUP} characters: Moodle aborts the whole import"));
        }
    }
    if course.chars().count() > MAX_COURSE {
        found.push(
            line,
            Severity::Error,
            format!("course{n} is longer than {MAX_COURSE} characters"),
        );
    }
    let period = get("enrolperiod");
    if !period.is_empty() {
        if !period.bytes().all(|b| b.is_ascii_digit()) {
            found.push(line, Severity::Error, format!("enrolperiod{n} '{period}' is not a whole number of days: Moodle would read it as something else; write e.g. 60"));
        } else if period.bytes().all(|b| b == b'0') {
            found.push(
                line,
                Severity::Warning,
                format!("enrolperiod{n} is 0: the course's default duration applies"),
            );
        }
    }
    let status = get("enrolstatus");
    if !status.is_empty() && status != "0" && status != "1" {
        found.push(line, Severity::Error, format!("enrolstatus{n} '{status}' must be 0 (active) or 1 (suspended); Moodle silently ignores other values"));
    }
    let start = get("enroltimestart");
    if !start.is_empty() && NaiveDate::parse_from_str(start, "%Y-%m-%d").is_err() {
        found.push(line, Severity::Error, format!("enroltimestart{n} '{start}' is not an ISO date (YYYY-MM-DD); Moodle's strtotime may read another day"));
    }
    true
}

/// One enrolment of an upload file: (username, course, role, group), as Moodle reads
/// them (trimmed; an empty role or group stays empty).
pub type UploadEnrolment = (String, String, String, String);

/// The enrolments of an upload file that `lint` found clean (`delimiter` from its
/// report), long or wide layout alike.
pub fn upload_enrolments(bytes: &[u8], delimiter: u8) -> Vec<UploadEnrolment> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = String::from_utf8_lossy(body);
    let mut lines = split_lines(text.as_bytes()).into_iter();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let names: Vec<String> = String::from_utf8_lossy(header)
        .split(delimiter as char)
        .map(|n| n.trim().to_lowercase())
        .collect();
    let col = |n: &str| names.iter().position(|x| x == n);
    let mut out = Vec::new();
    for line in lines {
        let line = String::from_utf8_lossy(line);
        let cells: Vec<&str> = line.split(delimiter as char).map(str::trim).collect();
        let get = |n: &str| col(n).and_then(|c| cells.get(c)).copied().unwrap_or("");
        let user = get("username");
        for i in 1.. {
            let Some(c) = col(&format!("course{i}")) else {
                break;
            };
            let course = cells.get(c).copied().unwrap_or("");
            if course.is_empty() || user.is_empty() {
                continue;
            }
            out.push((
                user.to_string(),
                course.to_string(),
                get(&format!("role{i}")).to_string(),
                get(&format!("group{i}")).to_string(),
            ));
        }
    }
    out
}

/// Splits on `\r\n`, `\r` or `\n`, as Moodle reads lines.
fn split_lines(body: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\n' => {
                out.push(&body[start..i]);
                start = i + 1;
            }
            b'\r' => {
                out.push(&body[start..i]);
                if body.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < body.len() {
        out.push(&body[start..]);
    }
    out
}

/// The delimiter that splits the header into known column names.
fn guess_delimiter(header: &str) -> Option<u8> {
    [b';', b',', b'\t', b':']
        .into_iter()
        .filter(|d| header.as_bytes().contains(d))
        .max_by_key(|d| {
            header
                .split(*d as char)
                .filter(|n| {
                    let n = n.trim().to_lowercase();
                    n == "username" || enrol_column(&n).is_some()
                })
                .count()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        lint(text.as_bytes(), &LintOptions::default())
            .problems
            .into_iter()
            .filter(|p| p.severity == Severity::Error)
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn upload_enrolments_read_long_and_wide_files() {
        let long = "username;course1;role1;group1\nabc;C;student;G1\nabd;D;;\n";
        assert_eq!(
            upload_enrolments(long.as_bytes(), b';'),
            [
                ("abc".into(), "C".into(), "student".into(), "G1".into()),
                ("abd".into(), "D".into(), String::new(), String::new())
            ]
        );
        let wide =
            "username,course1,role1,course2,role2\nabc,C,student,,\nabd,C,teacher,D,student\n";
        assert_eq!(upload_enrolments(wide.as_bytes(), b',').len(), 3);
    }

    #[test]
    fn procedure_example_is_clean() {
        let f = "username;course1;role1;group1;enrolperiod1;enrolstatus1\n\
                 55000901;cours_test;student;groupe_1;60;0\n\
                 55000903;cours_test;editingteacher;groupe_1;60;0\n";
        let r = lint(f.as_bytes(), &LintOptions::default());
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.delimiter, Some(b';'));
        assert_eq!(r.rows, 2);
        assert_eq!(r.enrolments, 2);
    }

    #[test]
    fn value_with_delimiter_is_refused() {
        let e = check_value(Field::Group, "TD;1", b';').unwrap_err();
        assert!(e.contains("delimiter ';'"), "{e}");
        assert!(check_value(Field::Group, "TD,1", b';').is_ok());
    }

    #[test]
    fn numeric_group_is_refused() {
        assert!(check_value(Field::Group, "12", b';')
            .unwrap_err()
            .contains("numeric"));
    }

    /// PHP's answers, written from its documented numeric-string grammar and checked
    /// with Debian's PHP 8.2.36 CLI (`foreach ($cases as $c) echo json_encode($c), ' ',
    /// var_export(is_numeric($c), true), "\n";`): every row agreed.
    const PHP_IS_NUMERIC: &[(&str, bool)] = &[
        ("12", true),
        (" 12", true),
        ("12 ", true),
        ("\t\n12\r\x0b\x0c", true),
        ("+7", true),
        ("-5", true),
        ("1e3", true),
        ("1E3", true),
        ("1e+3", true),
        ("1e-3", true),
        ("1.5", true),
        (".5", true),
        ("5.", true),
        ("-.5e-3", true),
        ("007", true),
        ("0", true),
        ("", false),
        (" ", false),
        (".", false),
        ("+", false),
        ("-", false),
        ("+.", false),
        ("e3", false),
        ("1e", false),
        ("1e+", false),
        ("1e3.5", false),
        ("1.2.3", false),
        ("0x1A", false),
        ("1_000", false),
        ("1 000", false),
        ("12a", false),
        ("TD1", false),
        ("inf", false),
        ("NAN", false),
        ("+-1", false),
        ("1 e3", false),
        ("\u{a0}12", false),
        ("12\0", false),
        ("１２", false),
    ];

    #[test]
    fn is_numeric_mirrors_php() {
        for (v, php) in PHP_IS_NUMERIC {
            assert_eq!(php_is_numeric(v), *php, "is_numeric({v:?})");
        }
    }

    #[test]
    fn groups_php_reads_as_numbers_are_refused_by_writer_and_lint() {
        for g in ["+7", "-5", "1e3", "1.5", ".5", "12"] {
            assert!(check_value(Field::Group, g, b';').is_err(), "{g}");
            let e = errors(&format!("username;course1;group1\na;C;{g}\n"));
            assert!(e.iter().any(|e| e.contains("numeric")), "{g}: {e:?}");
        }
        assert!(check_value(Field::Group, "TD 12", b';').is_ok());
    }

    #[test]
    fn invisible_characters_and_long_usernames_are_refused() {
        for g in [
            "TD\u{1}1",
            "TD\t1",
            "TD\u{200B}1",
            "TD\u{a0}1",
            "\u{feff}TD1",
        ] {
            let e = check_value(Field::Group, g, b';').unwrap_err();
            assert!(e.contains("invisible or control character"), "{e}");
            let e = errors(&format!("username;course1;group1\na;C;{g}\n"));
            assert!(e.iter().any(|e| e.contains("invisible")), "{g:?}: {e:?}");
        }
        let long = "a".repeat(101);
        assert!(check_value(Field::Username, &long, b';')
            .unwrap_err()
            .contains("at most 100"));
        assert!(check_value(Field::Username, &long[..100], b';').is_ok());
        assert!(errors(&format!("username;course1\n{long};C\n"))[0].contains("at most 100"));
    }

    #[test]
    fn usernames_follow_param_username() {
        assert!(check_username("e20231234").is_ok());
        assert!(check_username("jean.dupont@unicaen.fr").is_ok());
        assert!(check_username("Martin").is_err());
        assert!(check_username("zoé").is_err());
        assert!(check_username("guest").is_err());
        assert!(check_username("a b").is_err());
    }

    #[test]
    fn long_group_is_refused() {
        let g = "g".repeat(255);
        assert!(check_value(Field::Group, &g, b';').is_err());
        assert!(check_value(Field::Group, &g[..254], b';').is_ok());
    }

    #[test]
    fn column_count_mismatch_is_an_error() {
        let e = errors("username;course1;role1\nabc;C1;student;\n");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("line 2:") && e[0].contains("trailing delimiter"),
            "{e:?}"
        );
    }

    #[test]
    fn header_errors() {
        assert!(errors("username;course1;rôle1\na;b;c\n")[0].contains("unknown column 'rôle1'"));
        assert!(errors("username;course1;course1\na;b;c\n")[0].contains("twice"));
        assert!(errors("username;course2;role2\na;b;c\n")[0].contains("course1 is missing"));
        assert!(errors("username;course1;\na;b;\n")[0].contains("empty column name"));
    }

    #[test]
    fn trailing_blank_lines_are_fine_but_inner_ones_are_not() {
        assert!(errors("username;course1\na;b\n\n\n").is_empty());
        assert!(errors("username;course1\r\na;b\r\n").is_empty());
        assert!(errors("username;course1\n\na;b\n")[0].contains("blank line"));
    }

    #[test]
    fn row_value_errors() {
        let e = errors(
            "username,course1,role1,group1,enrolperiod1,enrolstatus1,enroltimestart1\n\
             Abc,C,student,12,60j,2,01/09/2026\n",
        );
        assert_eq!(e.len(), 5, "{e:?}");
    }
}
