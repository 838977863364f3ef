//! Directories of accounts (SUPANN LDAP, or an LDIF export of one), behind one trait.
//! Both adapters map entries to `Account` with the same attribute settings.

pub mod ldap;
pub mod ldif;

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::AttributeMap;
use crate::filter::Filter;
use crate::model::Account;
use crate::source::SourceError;

/// What a run wants from a directory: the accounts of these student numbers and
/// usernames (absent ones are simply not returned).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub student_ids: BTreeSet<String>,
    pub usernames: BTreeSet<String>,
}

pub trait Directory {
    /// Names the directory and its server or file, for messages.
    fn describe(&self) -> String;
    /// Accounts matching the wanted student numbers or usernames.
    fn lookup(&mut self, wanted: &Wanted) -> Result<Vec<Account>, SourceError>;
    /// Accounts matching a cohort filter.
    fn search(&mut self, filter: &Filter) -> Result<Vec<Account>, SourceError>;
    /// The accounts that carry one of these (lower-cased) logins and whose DN is not
    /// in `known`: the other claimants of logins the run is about to write. By
    /// default the logins are looked up as usernames; a directory that has already
    /// read its whole branch answers from what it saw.
    fn claimants(
        &mut self,
        logins: &BTreeSet<String>,
        known: &BTreeSet<&str>,
    ) -> Result<Vec<Account>, SourceError> {
        let wanted = Wanted {
            student_ids: BTreeSet::new(),
            usernames: logins.clone(),
        };
        let found = self.lookup(&wanted)?;
        Ok(found
            .into_iter()
            .filter(|a| !known.contains(a.dn.as_str()))
            .collect())
    }
    /// Round trips made so far (searches, pages), for the summary.
    fn requests(&self) -> usize {
        0
    }
}

/// Maps one entry to an account. `get(attr)` returns the values of a lower-cased
/// attribute name. An entry without the username attribute is not an account.
pub fn to_account<'a, F>(directory: &str, attrs: &AttributeMap, dn: &str, get: F) -> Option<Account>
where
    F: Fn(&str) -> Vec<&'a str>,
{
    let mut usernames = Vec::new();
    for u in get(&attrs.username) {
        let u = u.trim().to_lowercase();
        if !u.is_empty() && !usernames.contains(&u) {
            usernames.push(u);
        }
    }
    if usernames.is_empty() {
        return None;
    }
    let username = usernames.remove(0);
    let mut student_ids: Vec<String> = get(&attrs.student_id)
        .iter()
        .map(|s| s.trim().to_string())
        .collect();
    student_ids.sort();
    student_ids.dedup();
    let mut affiliations: Vec<String> = get(&attrs.affiliation)
        .iter()
        .map(|s| s.trim().to_lowercase())
        .collect();
    affiliations.sort();
    affiliations.dedup();
    Some(Account {
        directory: directory.to_string(),
        dn: dn.to_string(),
        username,
        other_usernames: usernames,
        student_ids,
        staff_id: get(&attrs.staff_id).first().map(|s| s.trim().to_string()),
        created: get(&attrs.created)
            .first()
            .and_then(|s| parse_generalized_time(s)),
        affiliations,
        states: attrs
            .state
            .iter()
            .flat_map(|(attr, shown)| {
                get(attr)
                    .into_iter()
                    .filter_map(|v| crate::supann::parse(shown, v))
            })
            .collect(),
    })
}

/// GeneralizedTime as LDAP servers write createTimestamp: `YYYYMMDDHHMMSS[.f]Z`
/// (minutes and seconds optional, `Z` or a ±hhmm offset).
pub fn parse_generalized_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    if digits.len() < 10 {
        return None;
    }
    let num = |a: usize, b: usize| digits.get(a..b).and_then(|x| x.parse::<u32>().ok());
    let date = NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(4, 6)?, num(6, 8)?)?;
    let time = date.and_hms_opt(
        num(8, 10)?,
        num(10, 12).unwrap_or(0),
        num(12, 14).unwrap_or(0),
    )?;
    let rest = &s[digits.len()..];
    let rest = rest.trim_start_matches(|c: char| c == '.' || c == ',' || c.is_ascii_digit());
    let offset_minutes: i64 = match rest {
        "" | "Z" => 0,
        o if o.len() == 5 && (o.starts_with('+') || o.starts_with('-')) => {
            let h: i64 = o[1..3].parse().ok()?;
            let m: i64 = o[3..5].parse().ok()?;
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (h * 60 + m)
        }
        _ => return None,
    };
    Some(time.and_utc() - chrono::Duration::minutes(offset_minutes))
}

/// Opens a configured directory (LDIF files are read now; LDAP connects on first use).
/// `filters` are the cohort filters the run will search it with.
pub fn open(
    settings: &crate::config::DirectorySettings,
    filters: &[&Filter],
) -> Result<Box<dyn Directory>, SourceError> {
    use crate::config::DirectorySource;
    Ok(match &settings.source {
        DirectorySource::Ldif { path, base } => Box::new(ldif::LdifDirectory::open(
            settings,
            path,
            base.as_deref(),
            filters,
        )?),
        DirectorySource::Ldap(l) => Box::new(ldap::LdapDirectory::new(settings, l)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generalized_time_forms() {
        let t = parse_generalized_time("20261123080000Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-23T08:00:00+00:00");
        assert_eq!(parse_generalized_time("20261123080000.123Z").unwrap(), t);
        assert_eq!(parse_generalized_time("20261123100000+0200").unwrap(), t);
        assert!(parse_generalized_time("2026").is_none());
        assert!(parse_generalized_time("20261340000000Z").is_none());
    }
}
