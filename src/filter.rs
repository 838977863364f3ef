//! LDAP search filters (RFC 4515): parsed at load time so that a broken filter is a
//! configuration error, evaluated against LDIF entries so that the offline directory
//! answers the same cohorts as the live one, and escaped when we build filters from data.

use std::fmt;

/// A parsed filter. Attribute names are kept lower-cased; values unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Present(String),
    Equal(String, String),
    Substring {
        attr: String,
        initial: Option<String>,
        any: Vec<String>,
        last: Option<String>,
    },
    GreaterOrEqual(String, String),
    LessOrEqual(String, String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid LDAP filter at character {position}: {message}")]
pub struct FilterError {
    pub position: usize,
    pub message: String,
}

/// Escapes a value for use inside a filter: `*`, `(`, `)`, `\` and NUL (RFC 4515).
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

/// Attributes whose equality rule is `caseExactMatch` in the SUPANN schema (lower-cased
/// names); the others a run reads (uid, mail, eduPerson*, supannEtuEtape,
/// supannEtuInscription, supannRessourceEtat …) compare without case, as slapd does.
const CASE_EXACT: &[&str] = &["supannaliaslogin", "supannetuid", "supannempid"];

/// Whether values of this (lower-cased) attribute compare with case.
pub fn case_exact(attr: &str) -> bool {
    CASE_EXACT.contains(&attr)
}

/// A login as Moodle compares it: usernames are lower-cased when written, so two
/// values that differ only in case are one Moodle account.
pub fn login_key(value: &str) -> String {
    value
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A value as an LDAP server compares it for this attribute: surrounding spaces
/// dropped, inner runs of spaces counted as one, case folded unless the attribute's
/// rule is case-exact. The offline directory compares with it so that it answers
/// exactly what slapd answers.
pub fn match_key(attr: &str, value: &str) -> String {
    let spaced = value.split_whitespace().collect::<Vec<_>>().join(" ");
    if case_exact(attr) {
        spaced
    } else {
        spaced.to_lowercase()
    }
}

impl Filter {
    /// The (lower-cased) attributes the filter tests.
    pub fn attributes(&self) -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::new();
        let mut stack = vec![self];
        while let Some(f) = stack.pop() {
            match f {
                Filter::And(fs) | Filter::Or(fs) => stack.extend(fs),
                Filter::Not(x) => stack.push(x),
                Filter::Present(a)
                | Filter::Equal(a, _)
                | Filter::GreaterOrEqual(a, _)
                | Filter::LessOrEqual(a, _)
                | Filter::Substring { attr: a, .. } => {
                    out.insert(a.clone());
                }
            }
        }
        out
    }

    pub fn parse(s: &str) -> Result<Filter, FilterError> {
        let mut p = Parser {
            bytes: s.trim().as_bytes(),
            pos: 0,
        };
        let f = p.filter()?;
        if p.pos != p.bytes.len() {
            return Err(p.error("unexpected text after the filter"));
        }
        Ok(f)
    }

    /// Evaluates the filter on an entry. `values(attr)` returns the values of a
    /// (lower-cased) attribute. Matching is case-insensitive, as for the caseIgnore
    /// attributes that cohort filters use (affiliation, structure, inscription).
    pub fn matches<'a, F, I>(&self, values: &F) -> bool
    where
        F: Fn(&str) -> I,
        I: Iterator<Item = &'a str>,
    {
        match self {
            Filter::And(fs) => fs.iter().all(|f| f.matches(values)),
            Filter::Or(fs) => fs.iter().any(|f| f.matches(values)),
            Filter::Not(f) => !f.matches(values),
            Filter::Present(a) => a == "objectclass" || values(a).next().is_some(),
            Filter::Equal(a, v) => {
                let v = match_key(a, v);
                values(a).any(|x| match_key(a, x) == v)
            }
            Filter::GreaterOrEqual(a, v) => {
                let v = match_key(a, v);
                values(a).any(|x| match_key(a, x) >= v)
            }
            Filter::LessOrEqual(a, v) => {
                let v = match_key(a, v);
                values(a).any(|x| match_key(a, x) <= v)
            }
            Filter::Substring {
                attr,
                initial,
                any,
                last,
            } => {
                let fold = |s: &str| {
                    if case_exact(attr) {
                        s.to_string()
                    } else {
                        s.to_lowercase()
                    }
                };
                let initial = initial.as_deref().map(fold);
                let any: Vec<String> = any.iter().map(|a| fold(a)).collect();
                let last = last.as_deref().map(fold);
                values(attr).any(|x| substring_match(&fold(x), &initial, &any, &last))
            }
        }
    }
}

fn substring_match(
    value: &str,
    initial: &Option<String>,
    any: &[String],
    last: &Option<String>,
) -> bool {
    let mut rest = value;
    if let Some(i) = initial {
        match rest.strip_prefix(i.as_str()) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    for a in any {
        match rest.find(a.as_str()) {
            Some(p) => rest = &rest[p + a.len()..],
            None => return false,
        }
    }
    match last {
        Some(l) => rest.ends_with(l.as_str()),
        None => true,
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> FilterError {
        FilterError {
            position: self.pos + 1,
            message: message.to_string(),
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), FilterError> {
        if self.bytes.get(self.pos) == Some(&b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected '{}'", b as char)))
        }
    }

    fn filter(&mut self) -> Result<Filter, FilterError> {
        self.expect(b'(')?;
        let f = match self.bytes.get(self.pos) {
            Some(b'&') => {
                self.pos += 1;
                Filter::And(self.list()?)
            }
            Some(b'|') => {
                self.pos += 1;
                Filter::Or(self.list()?)
            }
            Some(b'!') => {
                self.pos += 1;
                Filter::Not(Box::new(self.filter()?))
            }
            _ => self.item()?,
        };
        self.expect(b')')?;
        Ok(f)
    }

    fn list(&mut self) -> Result<Vec<Filter>, FilterError> {
        let mut fs = Vec::new();
        while self.bytes.get(self.pos) == Some(&b'(') {
            fs.push(self.filter()?);
        }
        if fs.is_empty() {
            return Err(self.error("expected at least one '(' filter"));
        }
        Ok(fs)
    }

    /// An item's value, up to the closing parenthesis, unescaped and split at each
    /// '*' (one piece: no substring).
    fn value_pieces(&mut self) -> Result<Vec<String>, FilterError> {
        let mut pieces: Vec<Vec<u8>> = vec![Vec::new()];
        loop {
            match self.bytes.get(self.pos) {
                None => return Err(self.error("unclosed filter")),
                Some(b')') => break,
                Some(b'(') => return Err(self.error("'(' must be escaped as \\28 in a value")),
                Some(b'*') => {
                    pieces.push(Vec::new());
                    self.pos += 1;
                }
                Some(b'\\') => {
                    let hex = self
                        .bytes
                        .get(self.pos + 1..self.pos + 3)
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                        .ok_or_else(|| self.error("'\\' must be followed by two hex digits"))?;
                    if let Some(last) = pieces.last_mut() {
                        last.push(hex);
                    }
                    self.pos += 3;
                }
                Some(&b) => {
                    if let Some(last) = pieces.last_mut() {
                        last.push(b);
                    }
                    self.pos += 1;
                }
            }
        }
        pieces
            .into_iter()
            .map(|p| String::from_utf8(p).map_err(|_| self.error("the value is not valid UTF-8")))
            .collect()
    }

    fn item(&mut self) -> Result<Filter, FilterError> {
        let start = self.pos;
        while let Some(&b) = self.bytes.get(self.pos) {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b';' {
                self.pos += 1;
            } else {
                break;
            }
        }
        if self.pos == start {
            return Err(self.error("expected an attribute name"));
        }
        let attr = String::from_utf8_lossy(&self.bytes[start..self.pos]).to_lowercase();
        let op = match (self.bytes.get(self.pos), self.bytes.get(self.pos + 1)) {
            (Some(b'>'), Some(b'=')) => ">=",
            (Some(b'<'), Some(b'=')) => "<=",
            (Some(b'~'), Some(b'=')) => "~=",
            (Some(b'='), _) => "=",
            _ => return Err(self.error("expected '=', '>=', '<=' or '~='")),
        };
        self.pos += op.len();
        let mut texts = self.value_pieces()?;
        if texts.len() == 1 {
            let v = texts.pop().unwrap_or_default();
            return Ok(match op {
                ">=" => Filter::GreaterOrEqual(attr, v),
                "<=" => Filter::LessOrEqual(attr, v),
                _ => Filter::Equal(attr, v),
            });
        }
        if op != "=" {
            return Err(self.error("'*' is only allowed with '='"));
        }
        if texts.len() == 2 && texts.iter().all(String::is_empty) {
            return Ok(Filter::Present(attr));
        }
        let last = texts.pop().filter(|s| !s.is_empty());
        let mut it = texts.into_iter();
        let initial = it.next().filter(|s| !s.is_empty());
        let any: Vec<String> = it.filter(|s| !s.is_empty()).collect();
        Ok(Filter::Substring {
            attr,
            initial,
            any,
            last,
        })
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::And(fs) | Filter::Or(fs) => {
                f.write_str(if matches!(self, Filter::And(_)) {
                    "(&"
                } else {
                    "(|"
                })?;
                for x in fs {
                    write!(f, "{x}")?;
                }
                f.write_str(")")
            }
            Filter::Not(x) => write!(f, "(!{x})"),
            Filter::Present(a) => write!(f, "({a}=*)"),
            Filter::Equal(a, v) => write!(f, "({a}={})", escape(v)),
            Filter::GreaterOrEqual(a, v) => write!(f, "({a}>={})", escape(v)),
            Filter::LessOrEqual(a, v) => write!(f, "({a}<={})", escape(v)),
            Filter::Substring {
                attr,
                initial,
                any,
                last,
            } => {
                write!(f, "({attr}=")?;
                if let Some(i) = initial {
                    f.write_str(&escape(i))?;
                }
                f.write_str("*")?;
                for a in any {
                    write!(f, "{}*", escape(a))?;
                }
                if let Some(l) = last {
                    f.write_str(&escape(l))?;
                }
                f.write_str(")")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn attributes_of_a_filter() {
        let f = Filter::parse("(&(objectClass=x)(|(A=1)(!(b=*)))(c=*d*))").unwrap();
        assert_eq!(
            f.attributes().into_iter().collect::<Vec<_>>(),
            ["a", "b", "c", "objectclass"]
        );
    }

    fn entry(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            m.entry(k.to_lowercase()).or_default().push(v.to_string());
        }
        m
    }

    fn eval(f: &str, e: &BTreeMap<String, Vec<String>>) -> bool {
        let f = Filter::parse(f).unwrap();
        f.matches(&|a: &str| e.get(a).into_iter().flatten().map(String::as_str))
    }

    #[test]
    fn escape_covers_rfc4515_specials() {
        assert_eq!(escape("a*b(c)d\\e\0f"), "a\\2ab\\28c\\29d\\5ce\\00f");
        assert_eq!(escape("Zoé"), "Zoé");
    }

    #[test]
    fn escaped_values_round_trip_through_the_parser() {
        let v = "x*(y)\\z\0";
        let f = Filter::parse(&format!("(cn={})", escape(v))).unwrap();
        assert_eq!(f, Filter::Equal("cn".into(), v.into()));
        assert_eq!(f.to_string(), format!("(cn={})", escape(v)));
    }

    #[test]
    fn evaluates_teacher_filter() {
        let e = entry(&[
            ("eduPersonAffiliation", "Teacher"),
            ("supannEntiteAffectation", "SANTE"),
        ]);
        assert!(eval(
            "(&(eduPersonAffiliation=teacher)(supannEntiteAffectation=SANTE))",
            &e
        ));
        assert!(!eval(
            "(&(eduPersonAffiliation=teacher)(!(supannEntiteAffectation=SANTE)))",
            &e
        ));
        assert!(eval("(|(uid=x)(eduPersonAffiliation=*))", &e));
    }

    #[test]
    fn evaluates_inscription_substring() {
        let e = entry(&[(
            "supannEtuInscription",
            "[etab={UAI}0141408E][anneeinsc=2026][etape={UAI:0141408E}PSY1L1]",
        )]);
        assert!(eval(
            "(supannEtuInscription=*[anneeinsc=2026]*[etape={UAI:0141408E}PSY1L1]*)",
            &e
        ));
        assert!(!eval("(supannEtuInscription=*[anneeinsc=2025]*)", &e));
    }

    #[test]
    fn rejects_broken_filters_with_a_position() {
        for bad in ["(uid=a", "uid=a", "(&)", "(uid=a(b)", "(uid=\\zz)", "(=a)"] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
        let e = Filter::parse("(uid=a)x").unwrap_err();
        assert_eq!(e.position, 8);
    }
}
