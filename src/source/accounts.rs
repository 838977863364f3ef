//! A platform's own account list (Prélude): an export of the Moodle users with at
//! least a `username` column and optionally `suspended` (1 = suspended).

use std::collections::BTreeMap;
use std::path::Path;

use crate::model::AccountState;
use crate::source::SourceError;

pub use crate::model::AccountList;

/// Reading a platform's account export.
pub trait ReadAccountList: Sized {
    fn open(path: &Path) -> Result<Self, SourceError>;
    fn parse(path: &Path, bytes: &[u8]) -> Result<Self, SourceError>;
}

impl ReadAccountList for AccountList {
    fn open(path: &Path) -> Result<AccountList, SourceError> {
        let bytes = std::fs::read(path).map_err(|e| SourceError::read(path, e))?;
        Self::parse(path, &bytes)
    }

    fn parse(path: &Path, bytes: &[u8]) -> Result<AccountList, SourceError> {
        let bad = |line: usize, message: String| SourceError::BadData {
            path: path.to_path_buf(),
            line,
            message,
        };
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
        let delimiter = if first.contains(&b';') { b';' } else { b',' };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .trim(csv::Trim::All)
            .from_reader(bytes);
        let headers = reader
            .byte_headers()
            .map_err(|e| bad(1, e.to_string()))?
            .clone();
        let col = |n: &str| {
            headers
                .iter()
                .position(|h| h.eq_ignore_ascii_case(n.as_bytes()))
        };
        let Some(user_col) = col("username") else {
            return Err(bad(1, "no username column".into()));
        };
        let suspended_col = col("suspended");
        let mut accounts = BTreeMap::new();
        for rec in reader.byte_records() {
            let rec =
                rec.map_err(|e| bad(e.position().map_or(0, |p| p.line() as usize), e.to_string()))?;
            let line = rec.position().map_or(0, |p| p.line() as usize);
            let text = |i: usize| {
                std::str::from_utf8(rec.get(i).unwrap_or_default())
                    .map_err(|_| bad(line, "not valid UTF-8".into()))
            };
            let username = text(user_col)?.to_lowercase();
            if username.is_empty() {
                continue;
            }
            let state = match suspended_col.map(text).transpose()? {
                Some("1") => AccountState::Suspended,
                _ => AccountState::Active,
            };
            accounts.insert(username, state);
        }
        Ok(AccountList { accounts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_usernames_and_suspension() {
        let l = AccountList::parse(
            Path::new("a.csv"),
            b"username;firstname;suspended\n21000001;Ana;0\nMARTINP;Paul;1\n",
        )
        .unwrap();
        assert_eq!(l.accounts.get("21000001"), Some(&AccountState::Active));
        assert_eq!(l.accounts.get("martinp"), Some(&AccountState::Suspended));
        assert!(AccountList::parse(Path::new("a.csv"), b"login\nx\n").is_err());
    }
}
