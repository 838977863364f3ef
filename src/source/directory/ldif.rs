//! The offline directory: an LDIF export (RFC 2849) read into memory, answering the
//! same lookups and cohort filters as the live LDAP directory.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::Engine;

use super::{to_account, Directory, Wanted};
use crate::config::DirectorySettings;
use crate::filter::Filter;
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
    pub attrs: Vec<(Box<str>, Box<str>)>,
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
    let bad = |line: usize, message: String| SourceError::BadData {
        path: path.to_path_buf(),
        line,
        message,
    };
    // Unfold: a line starting with one space continues the previous one. Borrowed
    // unless folded, so a large export is not copied line by line.
    let physical: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut logical: Vec<(usize, Cow<'_, str>)> = Vec::new();
    for (i, raw) in physical.into_iter().enumerate() {
        if let Some(cont) = raw.strip_prefix(' ') {
            match logical.last_mut() {
                Some((_, l)) if !l.is_empty() => l.to_mut().push_str(cont),
                _ => {
                    return Err(bad(
                        i + 1,
                        "continuation line with nothing to continue".into(),
                    ))
                }
            }
        } else {
            logical.push((i + 1, Cow::Borrowed(raw)));
        }
    }
    let mut entries = Vec::new();
    let mut current: Option<Entry> = None;
    for (line, l) in logical {
        if l.starts_with('#') {
            continue;
        }
        if l.is_empty() {
            if let Some(e) = current.take() {
                entries.push(e.finish());
            }
            continue;
        }
        let Some(colon) = l.find(':') else {
            return Err(bad(
                line,
                format!("expected 'attribute: value', found '{l}'"),
            ));
        };
        let name = l[..colon].trim();
        let rest = &l[colon + 1..];
        let value = if let Some(b64) = rest.strip_prefix(':') {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| bad(line, format!("invalid base64 value of {name}: {e}")))?;
            String::from_utf8(bytes)
                .map_err(|_| bad(line, format!("the base64 value of {name} is not UTF-8")))?
        } else if rest.starts_with('<') {
            return Err(bad(
                line,
                format!("URL values ({name}:<) are not supported"),
            ));
        } else {
            rest.trim_start_matches(' ').to_string()
        };
        let name = name.split(';').next().unwrap_or(name).to_lowercase();
        match &mut current {
            None if name == "version" => continue,
            None if name == "dn" => {
                current = Some(Entry {
                    dn: value,
                    line,
                    attrs: Vec::new(),
                });
            }
            None => {
                return Err(bad(
                    line,
                    format!("entry must start with 'dn:', found '{name}:'"),
                ))
            }
            Some(_) if name == "changetype" => {
                return Err(bad(
                    line,
                    "change records (changetype:) are not a directory export".into(),
                ))
            }
            Some(e) => e
                .attrs
                .push((name.into_boxed_str(), value.into_boxed_str())),
        }
    }
    if let Some(e) = current.take() {
        entries.push(e.finish());
    }
    Ok(entries)
}

/// A directory read from an LDIF file. Entries are kept (cohort filters may use any
/// attribute); accounts are mapped from them when asked for.
pub struct LdifDirectory {
    name: String,
    path: PathBuf,
    settings: DirectorySettings,
    entries: Vec<Entry>,
    by_student_id: HashMap<String, Vec<usize>>,
    by_username: HashMap<String, usize>,
}

impl LdifDirectory {
    pub fn open(
        settings: &DirectorySettings,
        path: &Path,
        base: Option<&str>,
    ) -> Result<LdifDirectory, SourceError> {
        let text = std::fs::read_to_string(path).map_err(|e| SourceError::read(path, e))?;
        let mut entries = parse(path, &text)?;
        drop(text);
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
        let mut by_username = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            let Some(username) = e
                .values(&attrs.username)
                .next()
                .map(|u| u.trim().to_lowercase())
            else {
                continue;
            };
            if username.is_empty() {
                continue;
            }
            for id in e.values(&attrs.student_id) {
                by_student_id
                    .entry(id.trim().to_string())
                    .or_default()
                    .push(i);
            }
            by_username.entry(username).or_insert(i);
        }
        Ok(LdifDirectory {
            name: settings.name.clone(),
            path: path.to_path_buf(),
            settings: settings.clone(),
            entries,
            by_student_id,
            by_username,
        })
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
        let mut idx: Vec<usize> = Vec::new();
        for id in &wanted.student_ids {
            idx.extend(self.by_student_id.get(id).into_iter().flatten());
        }
        idx.extend(
            wanted
                .usernames
                .iter()
                .filter_map(|u| self.by_username.get(&u.to_lowercase())),
        );
        idx.sort_unstable();
        idx.dedup();
        Ok(idx
            .into_iter()
            .filter_map(|i| self.account(&self.entries[i]))
            .collect())
    }

    fn search(&mut self, filter: &Filter) -> Result<Vec<Account>, SourceError> {
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
        let text = "version: 1\n# a comment\ndn: uid=e1,ou=people,dc=unicaen,dc=fr\nobjectClass: inetOrgPerson\nsn:: w4lsb8Ovc2U=\ncn: a very long\n  name\nsupannEtuId: 1\nsupannEtuId: 2\ndescription;lang-fr: x\n\ndn: uid=e2,dc=x\n";
        let es = parse(Path::new("t.ldif"), text).unwrap();
        assert_eq!(es.len(), 2);
        assert_eq!(es[0].values("sn").collect::<Vec<_>>(), ["Éloïse"]);
        assert_eq!(es[0].values("cn").collect::<Vec<_>>(), ["a very long name"]);
        assert_eq!(es[0].values("supannetuid").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(es[0].values("description").count(), 1);
        assert_eq!(es[1].dn, "uid=e2,dc=x");
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
