//! The pure core: from cohort members, accounts and the mapping to the enrolments of
//! each platform and the report of everyone left out. No I/O, no clock: the as-of
//! date and everything the sources returned are parameters.

pub mod account_status;
pub mod delta;
mod index;
pub mod managed;
pub mod platform_accounts;
pub mod sheet;
pub mod sync;
pub mod verify;

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

pub use index::AccountIndex;

use crate::model::{
    Account, AccountList, AccountSource, AccountStatus, Cohort, CohortSource, EnrolRule, Enrolment,
    GroupSet, LeftOut, Member, Platform, Reason, Refusal, UserCourse, UsernameSource,
};
use crate::moodle::{self, Field};
use crate::template::{Context, Var};

/// Everything the sources returned, plus the date the run is for.
pub struct Inputs<'a> {
    pub as_of: NaiveDate,
    pub year: &'a str,
    pub platforms: &'a dyn Platforms,
    pub cohorts: &'a BTreeMap<String, Cohort>,
    /// The rules to apply, in config order.
    pub rules: Vec<&'a EnrolRule>,
    pub members: &'a BTreeMap<String, Vec<Member>>,
    pub directories: &'a BTreeMap<String, AccountIndex>,
    /// Account lists, by platform name.
    pub account_lists: &'a BTreeMap<String, AccountList>,
}

/// The enrolments and the left-out report of one platform.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PlatformPlan {
    /// Keyed by (username, course): one enrolment per user and course.
    pub enrolments: BTreeMap<UserCourse, Enrolment>,
    /// Sorted.
    pub left_out: Vec<LeftOut>,
    /// On a platform whose Moodle knows people by idnumber: each student number
    /// of the plan found there → the account's username (kept in the state, so
    /// that a later night need not ask again).
    pub by_idnumber: BTreeMap<String, String>,
}

impl PlatformPlan {
    /// Takes these planned enrolments back, each left out with its reason and
    /// detail; `left_out` stays sorted.
    pub fn leave_out(&mut self, which: impl IntoIterator<Item = (UserCourse, Reason, String)>) {
        for (k, reason, detail) in which {
            if let Some(e) = self.enrolments.remove(&k) {
                self.left_out.push(LeftOut::of(&e, reason, detail));
            }
        }
        self.left_out.sort();
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    pub platforms: BTreeMap<String, PlatformPlan>,
    pub warnings: Vec<String>,
    /// Warnings that name a directory entry, and so a person: kept apart so that the
    /// HTML report can leave them out unless it may show personal data.
    pub entry_warnings: Vec<EntryWarning>,
}

/// A warning that names a directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryWarning {
    pub kind: EntryProblem,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryProblem {
    /// A SUPANN state value that cannot be read.
    UnreadableState,
    /// An identity several accounts claim (counted in a platform's warning).
    Ambiguous,
}

impl Plan {
    /// Every warning, for stderr and summary.json.
    pub fn all_warnings(&self) -> Vec<String> {
        self.warnings
            .iter()
            .cloned()
            .chain(self.entry_warnings.iter().map(|w| w.text.clone()))
            .collect()
    }
}

/// Who a member is, once matched (or not) on a platform.
struct Who<'a> {
    student_id: String,
    name: String,
    account: Option<&'a Account>,
}

/// The platforms the rules name, by name: the settings' platform blocks in a
/// command, a plain map in tests.
pub trait Platforms {
    fn platform(&self, name: &str) -> Option<&Platform>;
}

impl Platforms for BTreeMap<String, Platform> {
    fn platform(&self, name: &str) -> Option<&Platform> {
        self.get(name)
    }
}

pub fn plan(inp: &Inputs<'_>) -> Plan {
    let mut out = Plan::default();
    let mut warned_empty = BTreeSet::new();
    for rule in &inp.rules {
        let (Some(platform), Some(cohort)) = (
            inp.platforms.platform(&rule.platform),
            inp.cohorts.get(&rule.cohort),
        ) else {
            continue;
        };
        let members = inp
            .members
            .get(&rule.cohort)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if members.is_empty() && warned_empty.insert(rule.cohort.clone()) {
            let usual = match cohort.source {
                CohortSource::Pegase(_) => "a typo in a formation or element code, or a period code that is not Pégase's (pegase.period)",
                _ => "a typo in an étape code or version",
            };
            out.warnings.push(format!(
                "cohort {} returned nobody for year {} ({usual} is the usual cause)",
                rule.cohort, inp.year
            ));
        }
        let pp = out.platforms.entry(rule.platform.clone()).or_default();
        for m in members {
            enrol_member(inp, rule, platform, cohort, m, pp);
        }
    }
    warn_unreadable(inp, &mut out);
    warn_per_platform(&mut out);
    out
}

/// Accounts the run looked up whose state cannot be read: each is left out
/// (invalid_value) wherever it is needed; said once per entry.
fn warn_unreadable(inp: &Inputs<'_>, out: &mut Plan) {
    let looked_up = inp.directories.values().flat_map(|d| d.accounts());
    let from_filters = inp.members.values().flatten().filter_map(|m| match m {
        Member::Account(a) => Some(&**a),
        _ => None,
    });
    let unreadable: BTreeSet<String> = looked_up
        .chain(from_filters)
        .filter_map(|a| match account_status::status(a, inp.as_of) {
            account_status::Status::Unreadable(d) => Some(d),
            _ => None,
        })
        .collect();
    for d in unreadable {
        out.entry_warnings.push(EntryWarning {
            kind: EntryProblem::UnreadableState,
            text: format!(
                "{d}: the account is left out (invalid_value) until the directory is fixed"
            ),
        });
    }
}

/// Each platform's left-out lines sorted, and the warnings they call for: the
/// ambiguous identities, the roles the platform refuses.
fn warn_per_platform(out: &mut Plan) {
    for (name, pp) in &mut out.platforms {
        pp.left_out.sort();
        let ambiguous: BTreeSet<&str> = pp
            .left_out
            .iter()
            .filter(|l| l.reason == Reason::AmbiguousAccount)
            .map(|l| l.detail.as_str())
            .collect();
        if !ambiguous.is_empty() {
            out.warnings.push(format!(
                "platform {name}: {} ambiguous identit{} (a student number or username that several accounts claim, or an account with several): nobody is enrolled for {}; see ambiguous_account in left-out.csv",
                ambiguous.len(),
                if ambiguous.len() == 1 { "y" } else { "ies" },
                if ambiguous.len() == 1 { "it" } else { "them" }
            ));
            for d in ambiguous {
                out.entry_warnings.push(EntryWarning {
                    kind: EntryProblem::Ambiguous,
                    text: format!("platform {name}: {d}"),
                });
            }
        }
        let role_refused: BTreeSet<&str> = pp
            .left_out
            .iter()
            .filter(|l| l.reason == Reason::RoleNotAllowed)
            .map(|l| l.role.as_str())
            .collect();
        for r in role_refused {
            out.warnings.push(format!("platform {name}: role '{r}' is not in the platform's roles; its enrolments are left out"));
        }
    }
}

fn enrol_member(
    inp: &Inputs<'_>,
    rule: &EnrolRule,
    platform: &Platform,
    cohort: &Cohort,
    member: &Member,
    pp: &mut PlatformPlan,
) {
    let who = describe(member);
    let left = |reason: Reason, course: &str, username: &str, detail: String| LeftOut {
        course: course.to_string(),
        reason,
        username: username.to_string(),
        student_id: who.student_id.clone(),
        name: who.name.clone(),
        cohort: rule.cohort.clone(),
        rule: rule.number,
        role: rule.role.clone(),
        detail,
    };
    let all_courses = |pp: &mut PlatformPlan, reason: Reason, username: &str, detail: String| {
        for c in &rule.courses {
            pp.left_out.push(left(reason, c, username, detail.clone()));
        }
    };
    let (username, account) = match resolve(inp, platform, member, &who) {
        Ok(x) => x,
        Err((reason, username, detail)) => return all_courses(pp, reason, &username, detail),
    };
    if let Some((reason, detail)) = refused_by(platform, rule, cohort, account, &username) {
        return all_courses(pp, reason, &username, detail);
    }
    let groups = match render_groups(inp, rule, cohort, member, platform.csv.delimiter) {
        Ok(g) => g,
        Err(m) => return all_courses(pp, Reason::InvalidValue, &username, m),
    };
    for course in &rule.courses {
        let e = Enrolment {
            username: username.clone(),
            course: course.clone(),
            role: rule.role.clone(),
            groups: groups.clone(),
            enrolperiod: rule.enrolperiod,
            enrolstatus: rule.enrolstatus,
            enroltimestart: rule.enroltimestart,
            rules: vec![rule.number],
            cohorts: vec![rule.cohort.clone()],
        };
        match merge(&mut pp.enrolments, e) {
            Merge::New | Merge::Merged => {}
            Merge::Duplicate(first) => pp.left_out.push(left(
                Reason::Duplicate,
                course,
                &username,
                format!("already planned by rule #{first}"),
            )),
            Merge::Conflict(detail) => {
                pp.left_out
                    .push(left(Reason::Conflict, course, &username, detail))
            }
        }
    }
}

/// Why the platform takes no enrolment of this rule for this account: a role it
/// does not have, its access rules, or a username its file cannot hold.
fn refused_by(
    platform: &Platform,
    rule: &EnrolRule,
    cohort: &Cohort,
    account: Option<&Account>,
    username: &str,
) -> Option<(Reason, String)> {
    match platform.admits(&rule.role, cohort, account) {
        Err(Refusal::Role(detail)) => return Some((Reason::RoleNotAllowed, detail)),
        Err(Refusal::Rules(detail)) => return Some((Reason::RuleNotMet, detail)),
        Ok(()) => {}
    }
    moodle::check_value(Field::Username, username, platform.csv.delimiter)
        .err()
        .map(|m| (Reason::InvalidValue, m))
}

fn describe(member: &Member) -> Who<'_> {
    match member {
        Member::Student(s) => Who {
            student_id: s.cod_etu.clone().unwrap_or_default(),
            name: if s.cod_etu.is_none() {
                format!("{} ({})", s.name, s.known_as())
            } else {
                s.name.clone()
            },
            account: None,
        },
        Member::Username(_) => Who {
            student_id: String::new(),
            name: String::new(),
            account: None,
        },
        Member::Account(a) => Who {
            student_id: a.student_ids.first().cloned().unwrap_or_default(),
            name: String::new(),
            account: Some(a),
        },
    }
}

type Resolved<'a> = Result<(String, Option<&'a Account>), (Reason, String, String)>;

/// Finds the member's account on the platform and the username to write.
fn resolve<'a>(
    inp: &'a Inputs<'_>,
    platform: &Platform,
    member: &'a Member,
    who: &Who<'a>,
) -> Resolved<'a> {
    match &platform.accounts.source {
        AccountSource::Directories {
            names: dirs,
            username,
            ..
        } => {
            let acc = one_account(inp, dirs, member, who)?;
            if *username == UsernameSource::Directory || !matches!(member, Member::Student(_)) {
                login_of_one(inp, dirs, acc)?;
            }
            usable(inp, platform, member, acc)
        }
        AccountSource::List { .. } => in_account_list(inp, platform, member),
        // The platform's Moodle decides later (`platform_accounts`).
        AccountSource::Moodle(_) => login_of(member).map(|u| (u, None)),
    }
}

/// Every account carrying the student number in these directories, in their order.
pub fn with_student_id<'a>(
    directories: &'a BTreeMap<String, AccountIndex>,
    dirs: &[String],
    id: &str,
) -> Vec<&'a Account> {
    dirs.iter()
        .filter_map(|d| directories.get(d))
        .flat_map(|d| d.with_student_id(id))
        .collect()
}

/// The one account the member names in the platform's directories: none is
/// `no_account`, several (or an account that names several people or logins) is
/// `ambiguous_account`, never a guess.
fn one_account<'a>(
    inp: &'a Inputs<'_>,
    dirs: &[String],
    member: &'a Member,
    who: &Who<'a>,
) -> Result<&'a Account, (Reason, String, String)> {
    let found: Vec<&Account> = match member {
        Member::Student(s) => {
            let Some(id) = &s.cod_etu else {
                return Err((Reason::NoStudentNumber, String::new(), s.without_number()));
            };
            with_student_id(inp.directories, dirs, id)
        }
        Member::Username(u) => dirs
            .iter()
            .filter_map(|d| inp.directories.get(d))
            .flat_map(|d| d.with_username(u))
            .collect(),
        Member::Account(_) => who.account.into_iter().collect(),
    };
    let acc = match found.as_slice() {
        [] => {
            let searched = dirs.join(", ");
            let (username, detail) = match member {
                Member::Username(u) => (u.clone(), format!("no account '{u}' in {searched}")),
                _ => (
                    String::new(),
                    format!(
                        "no account with student number {} in {searched}",
                        who.student_id
                    ),
                ),
            };
            return Err((Reason::NoAccount, username, detail));
        }
        [one] => *one,
        many => {
            let (username, key) = match member {
                Member::Username(u) => (u.clone(), format!("username '{u}'")),
                _ => (String::new(), format!("student number {}", who.student_id)),
            };
            return Err((Reason::AmbiguousAccount, username, ambiguous(&key, many)));
        }
    };
    if !acc.other_usernames.is_empty() {
        let names: Vec<&str> = acc.all_usernames().collect();
        let detail = format!(
            "account {} ({}) has several usernames: {}",
            acc.dn,
            acc.directory,
            names.join(", ")
        );
        return Err((Reason::AmbiguousAccount, String::new(), detail));
    }
    if matches!(member, Member::Student(_)) && acc.student_ids.len() > 1 {
        let detail = format!(
            "account {} ({}) carries several student numbers: {}",
            acc.dn,
            acc.directory,
            acc.student_ids.join(", ")
        );
        return Err((Reason::AmbiguousAccount, String::new(), detail));
    }
    Ok(acc)
}

/// The account's login must be its alone in the platform's directories: a login
/// is one Moodle account, and when another entry (another person, or the same DN
/// exported twice with other values) carries it too, which of them logs in is
/// what enrolgen cannot know.
fn login_of_one(
    inp: &Inputs<'_>,
    dirs: &[String],
    acc: &Account,
) -> Result<(), (Reason, String, String)> {
    let claims: Vec<&Account> = dirs
        .iter()
        .filter_map(|d| inp.directories.get(d))
        .flat_map(|d| d.with_username(&acc.username))
        .collect();
    if claims.iter().any(|c| *c != acc) {
        let key = format!("username '{}'", acc.username);
        return Err((
            Reason::AmbiguousAccount,
            String::new(),
            ambiguous(&key, &claims),
        ));
    }
    Ok(())
}

/// The username to write for the account, if its status and age allow it now.
fn usable<'a>(
    inp: &Inputs<'_>,
    platform: &Platform,
    member: &Member,
    acc: &'a Account,
) -> Resolved<'a> {
    let username = match (platform.accounts.username(), member) {
        (UsernameSource::StudentId, Member::Student(s)) => s.cod_etu.clone().unwrap_or_default(),
        _ => acc.username.clone(),
    };
    match account_status::status(acc, inp.as_of) {
        account_status::Status::Active => {}
        account_status::Status::NotYet(d) => return Err((Reason::AccountTooRecent, username, d)),
        account_status::Status::Inactive(d) => return Err((Reason::AccountInactive, username, d)),
        account_status::Status::Unreadable(d) => return Err((Reason::InvalidValue, username, d)),
    }
    if platform.accounts.min_age_days > 0 {
        if let Some(created) = acc.created {
            let age = (inp.as_of - created.date_naive()).num_days();
            if age < i64::from(platform.accounts.min_age_days) {
                return Err((
                    Reason::AccountTooRecent,
                    username,
                    format!(
                        "account created {} ({age} day(s) before {}), needs {}: retried next run",
                        created.format("%Y-%m-%d"),
                        inp.as_of,
                        platform.accounts.min_age_days
                    ),
                ));
            }
        }
    }
    Ok((username, Some(acc)))
}

/// A platform with its own account list: the username must be in it, and active.
/// The login of a member on a platform without directories: the student number,
/// or the username given.
fn login_of(member: &Member) -> Result<String, (Reason, String, String)> {
    Ok(match member {
        Member::Student(s) => match &s.cod_etu {
            Some(id) => id.clone(),
            None => return Err((Reason::NoStudentNumber, String::new(), s.without_number())),
        },
        Member::Username(u) => u.to_lowercase(),
        Member::Account(a) => a.username.clone(),
    })
}

fn in_account_list<'a>(inp: &Inputs<'_>, platform: &Platform, member: &Member) -> Resolved<'a> {
    let username = login_of(member)?;
    let list = inp.account_lists.get(&platform.name);
    match list.and_then(|l| l.accounts.get(&username)) {
        None => Err((
            Reason::NoAccount,
            username.clone(),
            format!(
                "no account '{username}' in {}'s account list",
                platform.name
            ),
        )),
        Some(AccountStatus::Active) => Ok((username, None)),
        Some(_) => Err((
            Reason::AccountInactive,
            username.clone(),
            format!("account '{username}' is suspended on {}", platform.name),
        )),
    }
}

/// The detail of an identity several accounts claim: every DN, with its directory.
fn ambiguous(key: &str, accounts: &[&Account]) -> String {
    let dns: Vec<String> = accounts
        .iter()
        .map(|a| format!("{} ({})", a.dn, a.directory))
        .collect();
    format!(
        "{key} matches {} accounts: {}",
        accounts.len(),
        dns.join("; ")
    )
}

fn render_groups(
    inp: &Inputs<'_>,
    rule: &EnrolRule,
    cohort: &Cohort,
    member: &Member,
    delimiter: u8,
) -> Result<GroupSet, String> {
    let Some(t) = &rule.group else {
        return Ok(GroupSet::default());
    };
    let apogee = match &cohort.source {
        CohortSource::Apogee(a) => Some(a),
        _ => None,
    };
    let base = Context {
        group: None,
        etape: apogee.map(|a| a.etape.as_str()),
        version: apogee.map(|a| a.version),
        year: Some(inp.year),
        element: cohort.source.element(),
    };
    let mut out = GroupSet::default();
    let mut contexts = Vec::new();
    if t.uses(Var::Group) || t.uses(Var::GroupLabel) {
        if let Member::Student(s) = member {
            for g in &s.groups {
                contexts.push(Context {
                    group: Some((g.code.as_str(), g.label.as_str())),
                    ..base
                });
            }
        }
    } else {
        contexts.push(base);
    }
    for ctx in contexts {
        let name = t
            .render(&ctx)
            .map_err(|v| format!("group template '{t}' has no value for {v:?}"))?;
        let name = name.trim().to_string();
        moodle::check_value(Field::Group, &name, delimiter)?;
        out.insert(name);
    }
    Ok(out)
}

enum Merge {
    New,
    Merged,
    /// The same enrolment again; the number of the rule that planned it first.
    Duplicate(usize),
    Conflict(String),
}

/// Adds an enrolment, merging with one planned earlier for the same user and course.
/// Values set by one rule fill values the other left empty; two different values for
/// the same field are a conflict, and the first rule's enrolment is kept.
fn merge(map: &mut BTreeMap<UserCourse, Enrolment>, e: Enrolment) -> Merge {
    let key = e.key();
    let Some(old) = map.get_mut(&key) else {
        map.insert(key, e);
        return Merge::New;
    };
    let first = old.rules.first().copied().unwrap_or_default();
    let mut conflicts = Vec::new();
    if old.role != e.role {
        conflicts.push(format!(
            "role '{}' (rule #{first}) vs '{}'",
            old.role, e.role
        ));
    }
    if !old.groups.is_empty() && !e.groups.is_empty() && old.groups != e.groups {
        conflicts.push(format!(
            "group [{}] (rule #{first}) vs [{}]",
            join(&old.groups),
            join(&e.groups)
        ));
    }
    fn differs<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
        a.is_some() && b.is_some() && a != b
    }
    if differs(&old.enrolperiod, &e.enrolperiod) {
        conflicts.push(format!(
            "enrolperiod {:?} (rule #{first}) vs {:?}",
            old.enrolperiod.unwrap_or_default(),
            e.enrolperiod.unwrap_or_default()
        ));
    }
    if differs(&old.enrolstatus, &e.enrolstatus) {
        conflicts.push(format!(
            "enrolstatus {} (rule #{first}) vs {}",
            old.enrolstatus.unwrap_or_default(),
            e.enrolstatus.unwrap_or_default()
        ));
    }
    if differs(&old.enroltimestart, &e.enroltimestart) {
        conflicts.push(format!("enroltimestart (rule #{first}) differs"));
    }
    if !conflicts.is_empty() {
        return Merge::Conflict(format!(
            "conflicts with an enrolment already planned: {}",
            conflicts.join(", ")
        ));
    }
    // What the new one fills that the first left empty (no clone: an enrolment
    // asked for by thousands of rows merges thousands of times).
    let fills = (old.groups.is_empty() && !e.groups.is_empty())
        || (old.enrolperiod.is_none() && e.enrolperiod.is_some())
        || (old.enrolstatus.is_none() && e.enrolstatus.is_some())
        || (old.enroltimestart.is_none() && e.enroltimestart.is_some());
    if old.groups.is_empty() {
        old.groups = e.groups;
    }
    old.enrolperiod = old.enrolperiod.or(e.enrolperiod);
    old.enrolstatus = old.enrolstatus.or(e.enrolstatus);
    old.enroltimestart = old.enroltimestart.or(e.enroltimestart);
    for r in e.rules {
        if let Err(i) = old.rules.binary_search(&r) {
            old.rules.insert(i, r);
        }
    }
    for c in e.cohorts {
        if let Err(i) = old.cohorts.binary_search(&c) {
            old.cohorts.insert(i, c);
        }
    }
    if !fills {
        Merge::Duplicate(first)
    } else {
        Merge::Merged
    }
}

fn join<'a>(s: impl IntoIterator<Item = &'a String>) -> String {
    s.into_iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The share of enrolments left out for a reason a person must look at: the one
/// definition `run`, `adhoc` and `status` use. Over the enrolments considered:
/// those written and those left out, but for duplicates (an enrolment another rule
/// already plans is not another one); deferred accounts count as considered, not
/// as left out (the next run writes them).
pub fn left_out_ratio<'a>(platforms: impl IntoIterator<Item = &'a PlatformPlan>) -> f64 {
    let (mut bad, mut total) = (0usize, 0usize);
    for pp in platforms {
        bad += pp.left_out.iter().filter(|l| !l.reason.is_benign()).count();
        total += pp.enrolments.len()
            + pp.left_out
                .iter()
                .filter(|l| !l.reason.is_benign() || l.reason.is_deferred())
                .count();
    }
    if total == 0 {
        0.0
    } else {
        bad as f64 / total as f64
    }
}

#[cfg(test)]
mod tests;
