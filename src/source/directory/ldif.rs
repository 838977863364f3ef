//! The offline directory: an LDIF export (RFC 2849) read into memory, answering the
//! same lookups and cohort filters as the live LDAP directory.

use std::collections::{BTreeSet, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;

use super::{to_account, Directory, Wanted};
use crate::config::DirectorySettings;
use crate::filter::{login_key, match_key, Filter};
use crate::model::Account;
use crate::source::SourceError;

/// One LDIF entry: attribute names lower-cased and stripped of options (`;lang-fr`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    pub dn: String,
    pub line: usize,
    /// (lower-cased attribute, value) pairs sorted by attribute, values of one
    /// attribute in file order: a flat list is lighter than a map for the ten or so
    /// attributes of a person.
    pub attrs: Vec<(Arc<str>, Box<str>)>,
}

impl Entry {
    pub fn values(&self, attr: &str) -> impl Iterator<Item = &str> {
        let start = self.attrs.partition_point(|(a, _)| &**a < attr);
        let len = self.attrs[start..].partition_point(|(a, _)| &**a == attr);
        self.attrs[start..start + len].iter().map(|(_, v)| &**v)
    }

    fn finish(mut self) -> Entry {
        self.attrs.sort_by(|a, b| a.0.cmp(&b.0));
        self
    }
}

/// Parses LDIF content records. Change records are refused.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Entry>, SourceError> {
    parse_reader(path, text.as_bytes(), None)
}

/// Parses LDIF from a reader, one line at a time: a large export is never held whole.
/// With `keep`, only those (lower-cased) attributes are kept, as an LDAP search asks
/// only for the attributes it needs: an export carries many a run never reads.
pub fn parse_reader(
    path: &Path,
    mut input: impl BufRead,
    keep: Option<&BTreeSet<String>>,
) -> Result<Vec<Entry>, SourceError> {
    let mut p = Parser {
        path,
        keep,
        names: HashMap::new(),
        entries: Vec::new(),
        current: None,
        current_lines: 0,
    };
    // The logical line being gathered (a line starting with one space continues it).
    let mut logical = String::new();
    let mut logical_line = 0;
    let mut buf = String::new();
    let mut line = 0;
    let mut last_complete = true;
    loop {
        buf.clear();
        match input.read_line(&mut buf) {
            Ok(0) => break,
            Ok(_) => line += 1,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(p.bad(line + 1, "not valid UTF-8".into()))
            }
            Err(e) => return Err(SourceError::read(path, e)),
        }
        last_complete = buf.ends_with('\n');
        // A byte-order mark, as Windows tools write it, is not part of the text.
        let text = if line == 1 {
            buf.strip_prefix('\u{feff}').unwrap_or(&buf)
        } else {
            &buf
        };
        let raw = text.strip_suffix('\n').unwrap_or(text);
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(cont) = raw.strip_prefix(' ') {
            if logical_line == 0 || logical.is_empty() {
                return Err(p.bad(line, "continuation line with nothing to continue".into()));
            }
            logical.push_str(cont);
        } else {
            if logical_line > 0 {
                p.logical(logical_line, &logical)?;
            }
            logical.clear();
            logical.push_str(raw);
            logical_line = line;
        }
    }
    // An export always ends its last line: one that does not was cut short (a full
    // disk, a copy interrupted), and its last entry may have lost attributes.
    if !last_complete && !logical.trim().is_empty() {
        return Err(p.bad(
            line,
            "the file ends in the middle of a line: it looks cut short (export it again)".into(),
        ));
    }
    if logical_line > 0 {
        p.logical(logical_line, &logical)?;
    }
    if let Some(e) = p.current.take() {
        if p.current_lines == 0 {
            return Err(p.bad(
                e.line,
                format!("the file ends with entry {} and none of its attributes: it looks cut short (export it again)", e.dn),
            ));
        }
        p.entries.push(e.finish());
    }
    let mut entries = p.entries;
    one_entry_per_dn(path, &mut entries)?;
    Ok(entries)
}

/// A DN names one entry. An export concatenated with another (or with itself) may
/// hold an entry twice: the same values are kept once, other values are refused with
/// both lines, since either could be the directory's (a login or a student number
/// the other does not carry would otherwise be read or dropped without a word).
fn one_entry_per_dn(path: &Path, entries: &mut Vec<Entry>) -> Result<(), SourceError> {
    let mut first: HashMap<String, usize> = HashMap::with_capacity(entries.len());
    let mut repeats = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        match first.entry(normalize_dn(&e.dn)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i);
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                let earlier = &entries[*o.get()];
                if sorted_values(earlier) != sorted_values(e) {
                    return Err(SourceError::BadData {
                        path: path.to_path_buf(),
                        line: e.line,
                        message: format!(
                            "entry {} is given twice, at line {} and at line {}, with different values: \
                             a DN names one entry (two exports put together?); export the directory again",
                            e.dn, earlier.line, e.line
                        ),
                    });
                }
                repeats.push(i);
            }
        }
    }
    if !repeats.is_empty() {
        let mut i = 0;
        let mut next = repeats.iter().peekable();
        entries.retain(|_| {
            let drop = next.next_if(|r| **r == i).is_some();
            i += 1;
            !drop
        });
    }
    Ok(())
}

/// An entry's (attribute, value) pairs in one order, to compare two entries.
fn sorted_values(e: &Entry) -> Vec<(&str, &str)> {
    let mut v: Vec<(&str, &str)> = e.attrs.iter().map(|(a, v)| (&**a, &**v)).collect();
    v.sort_unstable();
    v
}

struct Parser<'a> {
    path: &'a Path,
    keep: Option<&'a BTreeSet<String>>,
    /// Attribute names, shared by every entry.
    names: HashMap<String, Arc<str>>,
    entries: Vec<Entry>,
    current: Option<Entry>,
    /// Attribute lines of the current entry, kept or not.
    current_lines: usize,
}

impl Parser<'_> {
    fn bad(&self, line: usize, message: String) -> SourceError {
        SourceError::BadData {
            path: self.path.to_path_buf(),
            line,
            message,
        }
    }

    /// One unfolded line.
    fn logical(&mut self, line: usize, l: &str) -> Result<(), SourceError> {
        if l.starts_with('#') {
            return Ok(());
        }
        if l.is_empty() {
            if let Some(e) = self.current.take() {
                self.entries.push(e.finish());
            }
            return Ok(());
        }
        let Some(colon) = l.find(':') else {
            return Err(self.bad(line, format!("expected 'attribute: value', found '{l}'")));
        };
        let name = l[..colon].trim();
        let rest = &l[colon + 1..];
        let value = if let Some(b64) = rest.strip_prefix(':') {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| self.bad(line, format!("invalid base64 value of {name}: {e}")))?;
            String::from_utf8(bytes)
                .map_err(|_| self.bad(line, format!("the base64 value of {name} is not UTF-8")))?
        } else if rest.starts_with('<') {
            return Err(self.bad(line, format!("URL values ({name}:<) are not supported")));
        } else {
            rest.trim_start_matches(' ').to_string()
        };
        let name = name.split(';').next().unwrap_or(name).to_lowercase();
        match &mut self.current {
            None if name == "version" => {}
            None if name == "dn" => {
                self.current_lines = 0;
                self.current = Some(Entry {
                    dn: value,
                    line,
                    attrs: Vec::new(),
                });
            }
            None => {
                return Err(self.bad(
                    line,
                    format!("entry must start with 'dn:', found '{name}:'"),
                ))
            }
            Some(_) if name == "changetype" => {
                return Err(self.bad(
                    line,
                    "change records (changetype:) are not a directory export".into(),
                ))
            }
            Some(_) if self.keep.is_some_and(|k| !k.contains(&name)) => {
                self.current_lines += 1;
            }
            Some(e) => {
                self.current_lines += 1;
                let name = self
                    .names
                    .entry(name)
                    .or_insert_with_key(|n| Arc::from(n.as_str()))
                    .clone();
                e.attrs.push((name, value.into_boxed_str()));
            }
        }
        Ok(())
    }
}

/// A directory read from an LDIF file. Entries are kept (cohort filters may use any
/// attribute); accounts are mapped from them when asked for.
pub struct LdifDirectory {
    name: String,
    path: PathBuf,
    settings: DirectorySettings,
    /// The attributes read (the others were dropped while reading).
    keep: BTreeSet<String>,
    entries: Vec<Entry>,
    /// Keyed by `filter::match_key` of the attribute, as slapd would compare.
    by_student_id: HashMap<String, Vec<usize>>,
    by_username: HashMap<String, Vec<usize>>,
    /// By login as Moodle compares it (`login_key`): the claimants of a login.
    by_login: HashMap<String, Vec<usize>>,
}

impl LdifDirectory {
    /// Reads the export; `filters` are the cohort filters the run will search with,
    /// so that the attributes they test are kept with the mapped ones.
    pub fn open(
        settings: &DirectorySettings,
        path: &Path,
        base: Option<&str>,
        filters: &[&Filter],
    ) -> Result<LdifDirectory, SourceError> {
        let mut keep: BTreeSet<String> = settings.attrs.requested().into_iter().collect();
        for f in settings.filter.iter().chain(filters.iter().copied()) {
            keep.extend(f.attributes());
        }
        let file = crate::source::open_input(path)?;
        let input = std::io::BufReader::with_capacity(1 << 16, file);
        let mut entries = parse_reader(path, input, Some(&keep))?;
        if let Some(base) = base {
            let base = normalize_dn(base);
            entries.retain(|e| {
                let dn = normalize_dn(&e.dn);
                dn == base || dn.ends_with(&format!(",{base}"))
            });
        }
        if let Some(f) = &settings.filter {
            entries.retain(|e| f.matches(&|a: &str| e.values(a)));
        }
        let attrs = &settings.attrs;
        let mut by_student_id: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_username: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_login: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            if e.values(&attrs.username).all(|u| u.trim().is_empty()) {
                continue;
            }
            for id in e.values(&attrs.student_id) {
                by_student_id
                    .entry(match_key(&attrs.student_id, id))
                    .or_default()
                    .push(i);
            }
            for u in e.values(&attrs.username) {
                by_username
                    .entry(match_key(&attrs.username, u))
                    .or_default()
                    .push(i);
                by_login.entry(login_key(u)).or_default().push(i);
            }
        }
        Ok(LdifDirectory {
            name: settings.name.clone(),
            path: path.to_path_buf(),
            settings: settings.clone(),
            keep,
            entries,
            by_student_id,
            by_username,
            by_login,
        })
    }

    /// The accounts of these entries, each once, in file order.
    fn accounts_at(&self, mut idx: Vec<usize>) -> Vec<Account> {
        idx.sort_unstable();
        idx.dedup();
        idx.into_iter()
            .filter_map(|i| self.account(&self.entries[i]))
            .collect()
    }

    fn account(&self, e: &Entry) -> Option<Account> {
        to_account(&self.name, &self.settings.attrs, &e.dn, |a| {
            e.values(a).collect()
        })
    }
}

/// A DN compared as LDAP servers compare the usual ones: case and the spaces around
/// `,` and `=` do not count.
fn normalize_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| rdn.split('=').map(str::trim).collect::<Vec<_>>().join("="))
        .collect::<Vec<_>>()
        .join(",")
        .to_lowercase()
}

impl Directory for LdifDirectory {
    fn describe(&self) -> String {
        format!("directory {} (LDIF {})", self.name, self.path.display())
    }

    fn lookup(&mut self, wanted: &Wanted) -> Result<Vec<Account>, SourceError> {
        let attrs = &self.settings.attrs;
        let mut idx: Vec<usize> = Vec::new();
        for id in &wanted.student_ids {
            let key = match_key(&attrs.student_id, id);
            idx.extend(self.by_student_id.get(&key).into_iter().flatten());
        }
        for u in &wanted.usernames {
            let key = match_key(&attrs.username, u);
            idx.extend(self.by_username.get(&key).into_iter().flatten());
        }
        Ok(self.accounts_at(idx))
    }

    fn claimants(
        &mut self,
        logins: &BTreeSet<String>,
        known: &BTreeSet<&str>,
    ) -> Result<Vec<Account>, SourceError> {
        let idx: Vec<usize> = logins
            .iter()
            .flat_map(|l| self.by_login.get(&login_key(l)).into_iter().flatten())
            .copied()
            .filter(|i| !known.contains(self.entries[*i].dn.as_str()))
            .collect();
        Ok(self.accounts_at(idx))
    }

    fn search(&mut self, filter: &Filter) -> Result<Vec<Account>, SourceError> {
        // A filter on an attribute not read would silently match too little.
        if let Some(a) = filter
            .attributes()
            .into_iter()
            .find(|a| !self.keep.contains(a))
        {
            return Err(SourceError::Failed {
                what: self.describe(),
                action: format!(
                    "filter {filter} tests {a}, which was not read from the file (internal error)"
                ),
                cause: None,
            });
        }
        Ok(self
            .entries
            .iter()
            .filter(|e| filter.matches(&|a: &str| e.values(a)))
            .filter_map(|e| self.account(e))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_folded_base64_and_multivalued_attributes() {
        let text = "version: 1\n# a comment\ndn: uid=e1,ou=people,dc=unicaen,dc=fr\nobjectClass: inetOrgPerson\nsn:: w4lsb8Ovc2U=\ncn: a very long\n  name\nsupannEtuId: 1\nsupannEtuId: 2\ndescription;lang-fr: x\n\ndn: uid=e2,dc=x\nuid: e2\n";
        let es = parse(Path::new("t.ldif"), text).unwrap();
        assert_eq!(es.len(), 2);
        assert_eq!(es[0].values("sn").collect::<Vec<_>>(), ["Éloïse"]);
        assert_eq!(es[0].values("cn").collect::<Vec<_>>(), ["a very long name"]);
        assert_eq!(es[0].values("supannetuid").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(es[0].values("description").count(), 1);
        assert_eq!(es[1].dn, "uid=e2,dc=x");
    }

    #[test]
    fn only_the_attributes_a_run_uses_are_kept() {
        let text = "dn: uid=e1,dc=x\nuid: e1\ncn: Zoé\nmail: z@x\nsupannEtuId: 1\n";
        let keep: BTreeSet<String> = ["uid".to_string(), "supannetuid".to_string()].into();
        let es = parse_reader(Path::new("t.ldif"), text.as_bytes(), Some(&keep)).unwrap();
        let names: Vec<&str> = es[0].attrs.iter().map(|(a, _)| &**a).collect();
        assert_eq!(names, ["supannetuid", "uid"]);
    }

    #[test]
    fn a_search_on_an_attribute_not_read_is_an_error_not_an_empty_answer() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.ldif");
        std::fs::write(
            &p,
            "dn: uid=e1,dc=x\nuid: e1\nsupannAliasLogin: e1\nsupannEntiteAffectation: SANTE\n",
        )
        .unwrap();
        let cfg = format!(
            "version: 1\ndirectories:\n  d: {{ ldif: {} }}\nplatforms:\n  p: {{ accounts: [d] }}\n",
            p.display()
        );
        let settings = crate::config::parse(&cfg, Path::new("c.yaml")).unwrap();
        let ds = &settings.directories["d"];
        let sante = Filter::parse("(supannEntiteAffectation=SANTE)").unwrap();
        let mut with = LdifDirectory::open(ds, &p, None, &[&sante]).unwrap();
        assert_eq!(with.search(&sante).unwrap().len(), 1);
        let mut without = LdifDirectory::open(ds, &p, None, &[]).unwrap();
        let e = without.search(&sante).unwrap_err().to_string();
        assert!(e.contains("which was not read from the file"), "{e}");
    }

    #[test]
    fn one_dn_twice_is_kept_once_when_alike_and_refused_when_not() {
        let one = "dn: uid=e1,dc=x\nuid: e1\nsupannEtuId: 1\n\ndn: uid=e2,dc=x\nuid: e2\n\n";
        let twice = format!("{one}dn: UID=e1, dc=x\nsupannEtuId: 1\nuid: e1\n\n");
        let es = parse(Path::new("t.ldif"), &twice).unwrap();
        assert_eq!(
            es.iter().map(|e| e.dn.as_str()).collect::<Vec<_>>(),
            ["uid=e1,dc=x", "uid=e2,dc=x"]
        );
        let other = format!("{one}dn: uid=e1,dc=x\nuid: e1\nsupannEtuId: 7\n");
        let e = parse(Path::new("t.ldif"), &other).unwrap_err().to_string();
        assert!(
            e.starts_with("t.ldif:8: entry uid=e1,dc=x is given twice, at line 1 and at line 8, with different values"),
            "{e}"
        );
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_line() {
        let es = parse(Path::new("t.ldif"), "\u{feff}dn: uid=e1,dc=x\nuid: e1\n").unwrap();
        assert_eq!(es[0].dn, "uid=e1,dc=x");
    }

    #[test]
    fn a_file_cut_short_is_refused() {
        let e = parse(
            Path::new("t.ldif"),
            "dn: uid=e1,dc=x\nuid: e1\n\ndn: uid=e2,dc=x\nsupannAl",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("t.ldif:5: the file ends in the middle of a line"),
            "{e}"
        );
        let e = parse(
            Path::new("t.ldif"),
            "dn: uid=e1,dc=x\nuid: e1\n\ndn: uid=e2,dc=x\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("t.ldif:4: the file ends with entry uid=e2,dc=x"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse(Path::new("t.ldif"), "dn: a\nsn:: !!!\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.ldif:2: invalid base64 value of sn"), "{e}");
        let e = parse(Path::new("t.ldif"), "sn: a\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("t.ldif:1: entry must start with 'dn:'"),
            "{e}"
        );
        let e = parse(Path::new("t.ldif"), "dn: a\nchangetype: add\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("change records"), "{e}");
    }
}
