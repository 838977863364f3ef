//! A live SUPANN directory over LDAP (ldap3): paged searches asking only for the
//! attributes we map (createTimestamp by name, as it is operational), and student
//! numbers looked up either with batched OR-filters or by reading the branch once.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{LdapConn, LdapConnSettings, LdapError, Scope, SearchEntry, SearchOptions};

use super::{to_account, Directory, Wanted};
use crate::config::{DirectorySettings, LdapSettings};
use crate::filter::{case_exact, escape, login_key, match_key, Filter};
use crate::model::Account;
use crate::source::SourceError;

pub struct LdapDirectory {
    settings: DirectorySettings,
    ldap: LdapSettings,
    conn: Option<LdapConn>,
    searches: usize,
    /// After a read of the whole branch: the DNs of the entries carrying each login
    /// (compared as the server compares), so that the other claimants of a login
    /// are known without another read. `None` until such a read.
    branch_logins: Option<std::collections::HashMap<String, Vec<Box<str>>>>,
}

/// How the accounts of `n` wanted student numbers are fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// OR-filters of `batch_size` values: few students (an on-demand file, a small run).
    Batched,
    /// One paged search of the whole branch, filtered here: the nightly run.
    WholeBranch,
}

pub fn strategy(wanted: usize, threshold: usize) -> Strategy {
    if wanted <= threshold {
        Strategy::Batched
    } else {
        Strategy::WholeBranch
    }
}

impl LdapDirectory {
    pub fn new(settings: &DirectorySettings, ldap: &LdapSettings) -> LdapDirectory {
        LdapDirectory {
            settings: settings.clone(),
            ldap: ldap.clone(),
            conn: None,
            searches: 0,
            branch_logins: None,
        }
    }

    fn what(&self) -> String {
        format!(
            "directory {} ({})",
            self.settings.name,
            crate::config::shown_url(&self.ldap.url)
        )
    }

    fn fail(&self, action: impl Into<String>, e: LdapError) -> SourceError {
        SourceError::failed(
            self.what(),
            format!("{}: {}", action.into(), explain(&e)),
            e,
        )
    }

    fn tls_config(&self) -> Result<Option<Arc<rustls::ClientConfig>>, SourceError> {
        let Some(ca) = &self.ldap.ca_file else {
            return Ok(None);
        };
        let bad = |m: String| SourceError::Failed {
            what: self.what(),
            action: m,
            cause: None,
        };
        let roots = crate::source::tls::roots_from(ca).map_err(bad)?;
        let config = crate::source::tls::client(roots).map_err(bad)?;
        Ok(Some(Arc::new(config)))
    }

    fn connect(&mut self) -> Result<&mut LdapConn, SourceError> {
        if self.conn.is_none() {
            let timeout = Duration::from_secs(self.ldap.timeout_s.max(1));
            let mut s = LdapConnSettings::new()
                .set_conn_timeout(timeout)
                .set_starttls(self.ldap.starttls)
                .set_no_tls_verify(self.ldap.tls_insecure_skip_verify);
            if let Some(cfg) = self.tls_config()? {
                s = s.set_config(cfg);
            }
            let mut conn = LdapConn::with_settings(s, &self.ldap.url)
                .map_err(|e| self.fail("cannot connect", e))?;
            if let Some((dn, pw)) = &self.ldap.bind {
                let secret = pw.read().map_err(|e| {
                    SourceError::failed(self.what(), format!("cannot bind as {dn}"), e)
                })?;
                let res = conn
                    .with_timeout(timeout)
                    .simple_bind(dn, secret.expose())
                    .and_then(|r| r.success());
                if let Err(e) = res {
                    return Err(self.fail(format!("bind as {dn} refused"), e));
                }
            }
            self.conn = Some(conn);
        }
        self.conn.as_mut().ok_or_else(|| SourceError::Failed {
            what: String::new(),
            action: "no connection".into(),
            cause: None,
        })
    }

    /// One paged search; returns the accounts of the entries found that `keep` accepts,
    /// given the account and the username values as the server holds them (reading a
    /// whole branch keeps only the wanted accounts in memory).
    fn paged_search(
        &mut self,
        filter: &str,
        keep: &dyn Fn(&Account, &[&str]) -> bool,
    ) -> Result<Vec<Account>, SourceError> {
        self.paged_search_seeing(filter, keep, &mut |_, _| {})
    }

    /// `paged_search`, showing `seen` the DN and the username values of every entry
    /// that is an account, kept or not.
    fn paged_search_seeing(
        &mut self,
        filter: &str,
        keep: &dyn Fn(&Account, &[&str]) -> bool,
        seen: &mut dyn FnMut(&str, &[&str]),
    ) -> Result<Vec<Account>, SourceError> {
        let page = i32::try_from(self.ldap.page_size).unwrap_or(i32::MAX);
        let timeout = Duration::from_secs(self.ldap.timeout_s.max(1));
        let base = self.ldap.base.clone();
        let attrs = self.settings.attrs.requested();
        let name = self.settings.name.clone();
        let map = self.settings.attrs.clone();
        self.searches += 1;
        let action = format!("search under {base} with {filter}");
        let conn = self.connect()?;
        let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(page)),
        ];
        let started = conn
            .with_timeout(timeout)
            .with_search_options(
                SearchOptions::new()
                    .timelimit(i32::try_from(timeout.as_secs()).unwrap_or(i32::MAX)),
            )
            .streaming_search_with(adapters, &base, Scope::Subtree, filter, attrs);
        let mut stream = match started {
            Ok(s) => s,
            Err(e) => return Err(self.fail(action, e)),
        };
        let mut out = Vec::new();
        let mut failure = None;
        loop {
            match stream.next() {
                Ok(Some(entry)) => {
                    let e = SearchEntry::construct(entry);
                    let lower: std::collections::HashMap<String, &Vec<String>> =
                        e.attrs.iter().map(|(k, v)| (k.to_lowercase(), v)).collect();
                    let get = |a: &str| -> Vec<&str> {
                        lower
                            .get(a)
                            .map(|v| v.iter().map(String::as_str).collect())
                            .unwrap_or_default()
                    };
                    let acc = to_account(&name, &map, &e.dn, get);
                    let usernames = get(&map.username);
                    if acc.is_some() {
                        seen(&e.dn, &usernames);
                    }
                    out.extend(acc.filter(|a| keep(a, &usernames)));
                }
                Ok(None) => break,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let result = stream.result();
        tracing::debug!(directory = %name, %filter, accounts = out.len(), "paged search done");
        if let Some(e) = failure {
            self.conn = None;
            return Err(self.fail(
                format!("{action} (connection lost after {} entries)", out.len()),
                e,
            ));
        }
        // A truncated answer (size or time limit) must never pass for the whole data.
        if let Err(e) = result.success() {
            return Err(self.fail(action, e));
        }
        Ok(out)
    }

    fn base_filter(&self) -> String {
        match &self.settings.filter {
            Some(f) => f.to_string(),
            None => format!("({}=*)", self.settings.attrs.username),
        }
    }

    /// The accounts whose `attr` holds one of `values`, asked in OR-filters.
    fn paged_batches(
        &mut self,
        attr: &str,
        values: &BTreeSet<String>,
    ) -> Result<Vec<Account>, SourceError> {
        let mut out = Vec::new();
        for f in self.batched_filters(attr, values) {
            out.extend(self.paged_search(&f, &|_, _| true)?);
        }
        Ok(out)
    }

    /// `(&(base)(|(attr=v1)(attr=v2)…))` for each batch of values.
    fn batched_filters(&self, attr: &str, values: &BTreeSet<String>) -> Vec<String> {
        self.batched_filters_with(attr, values, "")
    }

    /// `batched_filters`, compared by the matching rule `rule` when one is given
    /// (`(attr:rule:=v)`).
    fn batched_filters_with(
        &self,
        attr: &str,
        values: &BTreeSet<String>,
        rule: &str,
    ) -> Vec<String> {
        let attr = if rule.is_empty() {
            attr.to_string()
        } else {
            format!("{attr}:{rule}:")
        };
        let base = self.base_filter();
        let values: Vec<&String> = values.iter().collect();
        values
            .chunks(self.ldap.batch_size.max(1))
            .map(|chunk| {
                let ors: String = chunk
                    .iter()
                    .map(|v| format!("({attr}={})", escape(v)))
                    .collect();
                format!("(&{base}(|{ors}))")
            })
            .collect()
    }
}

/// A short reason for the common failures, in front of the library's message.
fn explain(e: &LdapError) -> String {
    match e {
        LdapError::LdapResult { result } => match result.rc {
            4 => "size limit exceeded: the server truncated the answer (raise its size limit for paged searches)".into(),
            3 => "time limit exceeded".into(),
            32 => format!("base not found (noSuchObject){}", if result.matched.is_empty() { String::new() } else { format!("; the server knows {}", result.matched) }),
            49 => "invalid credentials".into(),
            50 => "insufficient access rights".into(),
            rc => format!("server answered code {rc} {}", result.text),
        },
        // rustls reports certificate failures through the I/O error of the handshake.
        LdapError::Io { source } => match source.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
            Some(tls) => format!("TLS failure: {tls}"),
            None => format!("network error: {source}"),
        },
        LdapError::Rustls { source } => format!("TLS failure: {source}"),
        LdapError::Timeout { .. } => "no answer within the timeout".into(),
        LdapError::EndOfStream | LdapError::ResultRecv { .. } | LdapError::OpSend { .. } => "connection closed by the server".into(),
        other => other.to_string(),
    }
}

impl Directory for LdapDirectory {
    fn describe(&self) -> String {
        self.what()
    }

    fn lookup(&mut self, wanted: &Wanted) -> Result<Vec<Account>, SourceError> {
        let n = wanted.student_ids.len() + wanted.usernames.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        match strategy(n, self.ldap.batch_threshold) {
            Strategy::Batched => {
                let mut out = self
                    .paged_batches(&self.settings.attrs.student_id.clone(), &wanted.student_ids)?;
                out.extend(
                    self.paged_batches(&self.settings.attrs.username.clone(), &wanted.usernames)?,
                );
                Ok(out)
            }
            Strategy::WholeBranch => {
                // Compared as the server compares (the batched filters let it).
                let attr = self.settings.attrs.username.clone();
                let usernames: BTreeSet<String> = wanted
                    .usernames
                    .iter()
                    .map(|u| match_key(&attr, u))
                    .collect();
                let keep = |a: &Account, raw: &[&str]| {
                    a.student_ids
                        .iter()
                        .any(|id| wanted.student_ids.contains(id))
                        || raw.iter().any(|u| usernames.contains(&match_key(&attr, u)))
                };
                let base = self.base_filter();
                let mut logins: std::collections::HashMap<String, Vec<Box<str>>> =
                    std::collections::HashMap::new();
                let found = self.paged_search_seeing(&base, &keep, &mut |dn, raw| {
                    for u in raw {
                        logins.entry(login_key(u)).or_default().push(dn.into());
                    }
                })?;
                self.branch_logins = Some(logins);
                Ok(found)
            }
        }
    }

    fn claimants(
        &mut self,
        logins: &BTreeSet<String>,
        known: &BTreeSet<&str>,
    ) -> Result<Vec<Account>, SourceError> {
        let attr = self.settings.attrs.username.clone();
        // After a read of the branch, only the logins another entry carries are
        // searched (usually none: no request at all).
        let logins: BTreeSet<String> = match &self.branch_logins {
            Some(seen) => logins
                .iter()
                .filter(|l| {
                    seen.get(&login_key(l))
                        .is_some_and(|dns| dns.iter().any(|d| !known.contains(&**d)))
                })
                .cloned()
                .collect(),
            None => logins.clone(),
        };
        if logins.is_empty() {
            return Ok(Vec::new());
        }
        // A login is one Moodle account whatever its case: where the directory
        // compares with case, the search folds it (`caseIgnoreMatch`).
        let found = if case_exact(&attr.to_lowercase()) {
            let mut out = Vec::new();
            for f in self.batched_filters_with(&attr, &logins, "caseIgnoreMatch") {
                out.extend(self.paged_search(&f, &|_, _| true)?);
            }
            out
        } else {
            self.paged_batches(&attr, &logins)?
        };
        Ok(found
            .into_iter()
            .filter(|a| !known.contains(a.dn.as_str()))
            .collect())
    }

    fn search(&mut self, filter: &Filter) -> Result<Vec<Account>, SourceError> {
        let f = match &self.settings.filter {
            Some(base) => format!("(&{base}{filter})"),
            None => filter.to_string(),
        };
        self.paged_search(&f, &|_, _| true)
    }

    fn requests(&self) -> usize {
        self.searches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_students_are_batched_many_read_the_branch() {
        assert_eq!(strategy(10, 2000), Strategy::Batched);
        assert_eq!(strategy(2000, 2000), Strategy::Batched);
        assert_eq!(strategy(2001, 2000), Strategy::WholeBranch);
    }
}
