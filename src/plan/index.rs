//! Accounts of one directory indexed by student number and by username.

use std::collections::HashMap;

use crate::model::Account;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AccountIndex {
    accounts: Vec<Account>,
    by_student_id: HashMap<String, usize>,
    by_username: HashMap<String, usize>,
}

impl AccountIndex {
    /// Indexes accounts; when two accounts claim the same student number or
    /// username, the one with the smallest DN wins, so the result never depends on
    /// the order a server returned them in.
    pub fn new(mut accounts: Vec<Account>) -> AccountIndex {
        accounts.sort_by(|a, b| a.dn.cmp(&b.dn));
        accounts.dedup_by(|a, b| a.dn == b.dn);
        let mut by_student_id = HashMap::new();
        let mut by_username = HashMap::new();
        for (i, a) in accounts.iter().enumerate() {
            for id in &a.student_ids {
                by_student_id.entry(id.clone()).or_insert(i);
            }
            by_username.entry(a.username.clone()).or_insert(i);
        }
        AccountIndex {
            accounts,
            by_student_id,
            by_username,
        }
    }

    /// Every account, sorted by DN.
    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    pub fn by_student_id(&self, id: &str) -> Option<&Account> {
        self.by_student_id.get(id).map(|i| &self.accounts[*i])
    }

    pub fn by_username(&self, u: &str) -> Option<&Account> {
        self.by_username
            .get(&u.to_lowercase())
            .map(|i| &self.accounts[*i])
    }
}
