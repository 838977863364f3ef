//! Accounts of one directory indexed by student number and by username.
//!
//! A student number or a username normally names one account; when a directory
//! holds several, the index keeps them all so that the planner can refuse to guess.

use std::collections::HashMap;

use crate::model::Account;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AccountIndex {
    accounts: Vec<Account>,
    by_student_id: HashMap<String, usize>,
    by_username: HashMap<String, usize>,
    /// Further accounts for a key already taken: rare, so kept apart rather than
    /// making every entry a list.
    more_student_id: HashMap<String, Vec<usize>>,
    more_username: HashMap<String, Vec<usize>>,
}

impl AccountIndex {
    /// Indexes accounts, sorted by DN so that the result never depends on the order
    /// a server returned them in. Every username value of an account is indexed. An
    /// account found twice (by its student number and by its login) is kept once;
    /// two different entries under one DN are both kept, so that both claims count.
    pub fn new(mut accounts: Vec<Account>) -> AccountIndex {
        accounts.sort_by(|a, b| a.dn.cmp(&b.dn));
        let mut kept: Vec<Account> = Vec::with_capacity(accounts.len());
        for a in accounts {
            let same_dn = kept.iter().rev().take_while(|k| k.dn == a.dn);
            if !same_dn.into_iter().any(|k| *k == a) {
                kept.push(a);
            }
        }
        let accounts = kept;
        let mut idx = AccountIndex::default();
        for (i, a) in accounts.iter().enumerate() {
            for id in &a.student_ids {
                add(&mut idx.by_student_id, &mut idx.more_student_id, id, i);
            }
            for u in a.all_usernames() {
                add(&mut idx.by_username, &mut idx.more_username, u, i);
            }
        }
        idx.accounts = accounts;
        idx
    }

    /// Adds accounts found later (the claimants of a login), keeping the order and
    /// the rule of `new`.
    pub fn add(&mut self, more: Vec<Account>) {
        if more.is_empty() {
            return;
        }
        let mut all = std::mem::take(&mut self.accounts);
        all.extend(more);
        *self = AccountIndex::new(all);
    }

    /// Every account, sorted by DN.
    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    /// Every account carrying this student number, sorted by DN.
    pub fn with_student_id(&self, id: &str) -> Vec<&Account> {
        self.find(&self.by_student_id, &self.more_student_id, id)
    }

    /// Every account with this username (compared in lower case), sorted by DN.
    pub fn with_username(&self, u: &str) -> Vec<&Account> {
        self.find(&self.by_username, &self.more_username, &u.to_lowercase())
    }

    fn find(
        &self,
        first: &HashMap<String, usize>,
        more: &HashMap<String, Vec<usize>>,
        key: &str,
    ) -> Vec<&Account> {
        first
            .get(key)
            .into_iter()
            .chain(more.get(key).into_iter().flatten())
            .map(|i| &self.accounts[*i])
            .collect()
    }
}

fn add(
    first: &mut HashMap<String, usize>,
    more: &mut HashMap<String, Vec<usize>>,
    key: &str,
    i: usize,
) {
    match first.get(key) {
        None => {
            first.insert(key.to_string(), i);
        }
        Some(j) if *j == i => {}
        Some(_) => {
            let list = more.entry(key.to_string()).or_default();
            if !list.contains(&i) {
                list.push(i);
            }
        }
    }
}
