//! A platform's own account list (Prélude): an export of the Moodle users with at
//! least a `username` column and optionally `suspended` (1 = suspended).

use std::collections::BTreeMap;
use std::path::Path;

use crate::model::AccountStatus;
use crate::source::SourceError;

pub use crate::model::AccountList;

/// Reading a platform's account export.
pub trait ReadAccountList: Sized {
    fn open(path: &Path) -> Result<Self, SourceError>;
    fn parse(path: &Path, bytes: &[u8]) -> Result<Self, SourceError>;
}

impl ReadAccountList for AccountList {
    fn open(path: &Path) -> Result<AccountList, SourceError> {
        let bytes = crate::source::read_input(path)?;
        Self::parse(path, &bytes)
    }

    fn parse(path: &Path, bytes: &[u8]) -> Result<AccountList, SourceError> {
        let table = crate::csvio::read_table(path, bytes)?;
        let Some(user_col) = table.col("username") else {
            return Err(SourceError::BadData {
                path: path.to_path_buf(),
                line: 1,
                message: "no username column".into(),
            });
        };
        let suspended_col = table.col("suspended");
        let bad = |line: usize, message: String| SourceError::BadData {
            path: path.to_path_buf(),
            line,
            message,
        };
        // username → (state, line): Moodle holds a username once, so a list that
        // gives one twice is not an export of it.
        let mut seen: BTreeMap<String, (AccountStatus, usize)> = BTreeMap::new();
        for (line, row) in &table.rows {
            let username = row
                .get(user_col)
                .map(|u| u.to_lowercase())
                .unwrap_or_default();
            if username.is_empty() {
                continue;
            }
            // With a `suspended` column, every row says 0 or 1: an empty cell or a
            // row cut short is an export gone wrong, never "active".
            let state = match (suspended_col, suspended_col.and_then(|c| row.get(c))) {
                (None, _) => AccountStatus::Active,
                (Some(_), Some(v)) if v.trim() == "0" => AccountStatus::Active,
                (Some(_), Some(v)) if v.trim() == "1" => AccountStatus::Suspended,
                (Some(_), Some(v)) => {
                    return Err(bad(
                        *line,
                        format!(
                            "suspended is '{}' for {username}: Moodle exports 0 or 1",
                            v.trim()
                        ),
                    ))
                }
                (Some(_), None) => {
                    return Err(bad(
                        *line,
                        format!(
                            "the row of {username} stops before its suspended column: Moodle exports 0 or 1 (export the list again)"
                        ),
                    ))
                }
            };
            if let Some((_, first)) = seen.get(&username) {
                return Err(bad(
                    *line,
                    format!(
                        "username {username} is given twice, at line {first} and at line {line}: Moodle holds a \
                         username once, so the list is not one export (export it again)"
                    ),
                ));
            }
            seen.insert(username, (state, *line));
        }
        let accounts = seen.into_iter().map(|(u, (s, _))| (u, s)).collect();
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
        assert_eq!(l.accounts.get("21000001"), Some(&AccountStatus::Active));
        assert_eq!(l.accounts.get("martinp"), Some(&AccountStatus::Suspended));
        assert!(AccountList::parse(Path::new("a.csv"), b"login\nx\n").is_err());
    }

    #[test]
    fn a_username_twice_or_an_unknown_suspended_value_is_refused_with_its_line() {
        let e = AccountList::parse(Path::new("a.csv"), b"username;suspended\nx;1\ny;0\nX;0\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("a.csv:4: username x is given twice, at line 2 and at line 4"),
            "{e}"
        );
        let e = AccountList::parse(Path::new("a.csv"), b"username;suspended\nx;oui\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("a.csv:2: suspended is 'oui' for x"), "{e}");
        // Before: an empty or cut-off suspended read as active.
        let e = AccountList::parse(Path::new("a.csv"), b"username;suspended\nx;\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("a.csv:2: suspended is '' for x"), "{e}");
        let e = AccountList::parse(Path::new("a.csv"), b"username;name;suspended\nx;Ana\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("a.csv:2: the row of x stops before its suspended column"),
            "{e}"
        );
    }
}
