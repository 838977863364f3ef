//! Domain types shared by the sources, the planning core and the writers.
//!
//! Sources convert rows and entries into these types at the boundary; the core and
//! the writers never see a database row or an LDAP entry.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::filter::Filter;
use crate::template::Template;

/// A student of a cohort, as Apogée knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Student {
    /// COD_IND: always present, identifies the person inside Apogée.
    pub cod_ind: String,
    /// COD_ETU: the student number shared with the directory; may be missing.
    pub cod_etu: Option<String>,
    /// "Nom Prénom", for the report only.
    pub name: String,
    /// Groups of the cohort the student belongs to (when asked for).
    pub groups: Vec<ApogeeGroup>,
    /// The information system that knows the student: what `cod_ind` is.
    pub sis: Sis,
}

/// A student information system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sis {
    /// Apogée (and its extracts): `cod_ind` is COD_IND, the number COD_ETU.
    #[default]
    Apogee,
    /// Pégase's DRE: `cod_ind` is the learner's id, the number `code_apprenant`
    /// (or the INE, as configured).
    Pegase,
}

impl Student {
    /// A student known only by their number (a requester's sheet), not from Apogée.
    pub fn numbered(cod_etu: &str) -> Student {
        Student {
            cod_ind: String::new(),
            cod_etu: Some(cod_etu.to_string()),
            name: String::new(),
            groups: Vec::new(),
            sis: Sis::Apogee,
        }
    }

    /// How the report names a student who has no student number.
    pub fn known_as(&self) -> String {
        match self.sis {
            Sis::Apogee => format!("COD_IND {}", self.cod_ind),
            Sis::Pegase => format!("Pégase learner {}", self.cod_ind),
        }
    }

    /// Why the student has no number the directories know.
    pub fn without_number(&self) -> String {
        match self.sis {
            Sis::Apogee => format!("COD_IND {} has no COD_ETU in Apogée", self.cod_ind),
            Sis::Pegase => format!(
                "Pégase learner {} has no student number (code_apprenant or INE, as pegase.student_id says)",
                self.cod_ind
            ),
        }
    }
}

/// What a spreadsheet cell held, when its text alone would hide it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    Text,
    /// A number stored as a number: its text has no useless `.0`.
    Number,
    /// A date stored as a date: its text is `YYYY-MM-DD`.
    Date,
    /// A formula that failed (`#REF!`, `#N/A` …): the text is the error.
    Error,
}

/// One cell of a requester's sheet, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetCell {
    pub text: String,
    pub kind: CellKind,
}

impl SheetCell {
    pub fn text(s: impl Into<String>) -> SheetCell {
        SheetCell {
            text: s.into(),
            kind: CellKind::Text,
        }
    }
}

/// One row of a requester's sheet: its number as the spreadsheet shows it (1-based)
/// and its cells from column A.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetRow {
    pub number: usize,
    /// Its cells from column A, as far as `SheetRow::DENSE` columns.
    pub cells: Vec<SheetCell>,
    /// Its filled cells beyond those (a stray value at XFD), by column: memory
    /// follows the cells filled, not the sheet's width.
    pub far: Vec<(usize, SheetCell)>,
    /// Hidden in the sheet, or filtered out of its view.
    pub hidden: bool,
}

impl SheetRow {
    /// The columns a row keeps side by side; a request's headers stand far before.
    pub const DENSE: usize = 1024;
}

/// One worksheet of a requester's workbook (a CSV file is one, named after it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worksheet {
    pub name: String,
    /// Hidden in the workbook (last year's request kept out of sight, say).
    pub hidden: bool,
    pub rows: Vec<SheetRow>,
    /// Its hidden columns (0-based): what they hold is not read as a request.
    pub hidden_columns: std::collections::BTreeSet<usize>,
}

/// An Apogée group (GROUPE) a student is assigned to for the year.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApogeeGroup {
    /// COD_EXT_GPE, the short code (`TD1`), used by `{group}`.
    pub code: String,
    /// LIB_GPE, used by `{group_label}`.
    pub label: String,
    /// COD_TGR: CM, TD, TP …
    pub kind: String,
}

/// The state of an account in its directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Active,
    Inactive,
    Suspended,
}

impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AccountStatus::Active => "active",
            AccountStatus::Inactive => "inactive",
            AccountStatus::Suspended => "suspended",
        })
    }
}

/// One `{COMPTE}` value of an account-state attribute, as the directory holds it:
/// `supannRessourceEtat: {COMPTE}A` or `supannRessourceEtatDate:
/// {COMPTE}A:SupannActif:20250901:20271231` (state, sub-state, start, end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateValue {
    /// The attribute it came from, as configured (`supannRessourceEtatDate`).
    pub attribute: String,
    /// The value as written.
    pub raw: String,
    /// What it says, or why it cannot be read.
    pub reading: Result<StateReading, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateReading {
    pub state: AccountStatus,
    /// `SupannActif`, `SupannInactif`, `SupannSuspendu` … (may be empty).
    pub sub_state: Option<String>,
    /// First day in force, if given.
    pub start: Option<NaiveDate>,
    /// Last day in force, if given.
    pub end: Option<NaiveDate>,
}

/// An account of a directory (LDAP or LDIF), already mapped through the directory's
/// attribute settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub directory: String,
    pub dn: String,
    /// The login, lower-cased; may still be invalid for Moodle (checked in the core).
    pub username: String,
    /// Further values of the username attribute, lower-cased, when the entry has
    /// several (the planner then refuses to choose). Normally empty.
    pub other_usernames: Vec<String>,
    /// Sorted, without repeats.
    pub student_ids: Vec<String>,
    pub staff_id: Option<String>,
    pub created: Option<DateTime<Utc>>,
    /// Lower-cased eduPersonAffiliation values, sorted, without repeats (a Vec: an
    /// account has one or two, and a directory read whole has a hundred thousand
    /// accounts).
    pub affiliations: Vec<String>,
    /// The `{COMPTE}` values of the state attributes; none means active.
    pub states: Vec<StateValue>,
}

impl Account {
    /// The username and any further value of the username attribute.
    pub fn all_usernames(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.username.as_str())
            .chain(self.other_usernames.iter().map(String::as_str))
    }
}

/// One member of a cohort, before it is matched to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member {
    Student(Student),
    /// A username from a static list.
    Username(String),
    /// An account found by an LDAP cohort filter (boxed: a member is most often a
    /// student, and a cohort of a sheet has one per row).
    Account(Box<Account>),
}

/// A platform's own account export (Prélude): usernames (lower-cased) → state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AccountList {
    pub accounts: BTreeMap<String, AccountStatus>,
}

/// A named group of people the mapping enrols.
#[derive(Debug, Clone, PartialEq)]
pub struct Cohort {
    pub name: String,
    pub source: CohortSource,
    pub tags: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CohortSource {
    Apogee(ApogeeCohort),
    Pegase(PegaseCohort),
    Usernames(Vec<String>),
    Ldap {
        directory: String,
        filter: Filter,
    },
    /// Students listed in a CSV extract (student_id[, name, group]).
    StudentFile(PathBuf),
    /// Student numbers given on the command line's sheet (`adhoc --sheet`).
    StudentNumbers(Vec<String>),
}

impl CohortSource {
    /// Whether the cohort's students come with their groups (an SIS cohort with
    /// `groups: true`, or a student file's group column).
    pub fn has_groups(&self) -> bool {
        match self {
            CohortSource::Apogee(a) => a.groups,
            CohortSource::Pegase(p) => p.groups,
            CohortSource::StudentFile(_) => true,
            _ => false,
        }
    }

    /// The pedagogical element of an SIS cohort that names one.
    pub fn element(&self) -> Option<&str> {
        match self {
            CohortSource::Apogee(a) => a.element.as_deref(),
            CohortSource::Pegase(p) => p.element.as_deref(),
            _ => None,
        }
    }
}

/// A cohort key in Apogée: étape + version (the year is the run's), optionally an
/// element, optionally with the students' groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApogeeCohort {
    pub etape: String,
    pub version: u32,
    pub element: Option<String>,
    pub groups: bool,
    /// Keep only groups of this COD_TGR (TD, TP …).
    pub group_type: Option<String>,
}

/// A cohort in Pégase (read from its DRE replica): the students administratively
/// registered, for the run's period, on the formation object `formation` (the last
/// step of the registration's chemin), optionally those of them whose pedagogical
/// choices take `element`, optionally with their groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PegaseCohort {
    pub formation: String,
    pub element: Option<String>,
    pub groups: bool,
    /// Keep only groups of this type (`code_type`: TD, TP …).
    pub group_type: Option<String>,
}

/// Which Pégase value the directories carry as the student number (`supannEtuId`
/// in SUPANN): the learner's code (`code_apprenant`, default) or the national
/// student number (`ine`, `ine_maitre` in the DRE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PegaseStudentId {
    #[default]
    CodeApprenant,
    Ine,
}

/// TLS to a PostgreSQL server, as libpq's `sslmode` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SslMode {
    /// Plain connection.
    Disable,
    /// TLS when the server offers it (its certificate then checked).
    #[default]
    Prefer,
    /// TLS or no connection.
    Require,
}

/// Where a platform's accounts are known to exist, each way with its own options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountSource {
    /// Accounts come from these directories, searched in this order; the
    /// platform's Moodle is asked too when `in_moodle` says how.
    Directories {
        names: Vec<String>,
        username: UsernameSource,
        in_moodle: Option<MoodleAccounts>,
    },
    /// The platform's own export of its accounts (the login is the student number).
    List {
        path: PathBuf,
        in_moodle: Option<MoodleAccounts>,
    },
    /// The platform's own Moodle alone (`accounts_in: moodle`, no directory nor
    /// list): the login is the student number (or the username given), and the
    /// platform's Moodle says whether the account exists.
    Moodle(MoodleAccounts),
}

/// A platform's accounts: where they exist, and how old they must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accounts {
    pub source: AccountSource,
    /// Days an account must have existed (0: any age).
    pub min_age_days: u32,
}

impl Accounts {
    /// Which value becomes the CSV username: a directory's login, or the student
    /// number where no directory is read.
    pub fn username(&self) -> UsernameSource {
        match &self.source {
            AccountSource::Directories { username, .. } => *username,
            AccountSource::List { .. } | AccountSource::Moodle(_) => UsernameSource::StudentId,
        }
    }

    /// How the platform's own Moodle is asked about the plan's accounts
    /// (`accounts_in: moodle`), when it is.
    pub fn in_moodle(&self) -> Option<&MoodleAccounts> {
        match &self.source {
            AccountSource::Directories { in_moodle, .. }
            | AccountSource::List { in_moodle, .. } => in_moodle.as_ref(),
            AccountSource::Moodle(m) => Some(m),
        }
    }

    /// The directories accounts are searched in, in order (none for a list or
    /// Moodle alone).
    pub fn directories(&self) -> &[String] {
        match &self.source {
            AccountSource::Directories { names, .. } => names,
            _ => &[],
        }
    }
}

/// Which value becomes the CSV username on a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsernameSource {
    /// The directory's username attribute.
    Directory,
    /// The Apogée student number.
    StudentId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// One row per enrolment: `username;course1;role1;…`.
    Long,
    /// One row per user: `username;course1;role1;…;course2;role2;…`.
    Wide,
}

/// How a platform's upload file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvFormat {
    pub delimiter: u8,
    pub layout: Layout,
    /// Data rows per file; more are split into `-002`, `-003` … files.
    pub max_rows: Option<usize>,
}

/// Who may be enrolled with which role on a platform (Collégium-style rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    pub roles: BTreeSet<String>,
    pub cohort_tags: Option<BTreeSet<String>>,
    pub affiliation: Option<BTreeSet<String>>,
}

impl AccessRule {
    /// The conditions of this rule a member of `cohort` with `account` does not
    /// meet, each said in words; empty when the rule holds. The check and its
    /// explanation are one code: they cannot disagree.
    pub fn unmet(&self, cohort: &Cohort, account: Option<&Account>) -> Vec<String> {
        let mut why = Vec::new();
        if let Some(tags) = &self.cohort_tags {
            if tags.is_disjoint(&cohort.tags) {
                why.push(format!(
                    "cohort {} has none of the tags {}",
                    cohort.name,
                    listed(tags)
                ));
            }
        }
        if let Some(wanted) = &self.affiliation {
            let has = account.map_or(&[][..], |a| a.affiliations.as_slice());
            if !has.iter().any(|x| wanted.contains(x)) {
                why.push(format!(
                    "affiliation [{}] has none of {}",
                    listed(has),
                    listed(wanted)
                ));
            }
        }
        why
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Platform {
    pub name: String,
    pub accounts: Accounts,
    /// Role shortnames that exist on the platform; `None` accepts any.
    pub roles: Option<BTreeSet<String>>,
    /// Empty: everybody with an account may be enrolled.
    pub rules: Vec<AccessRule>,
    pub csv: CsvFormat,
    /// What requesters write for a role (`role_labels:`, label → shortname), read
    /// before the standard labels (`Étudiant` …) in a requester's sheet and shown
    /// by its template.
    pub role_labels: Vec<(String, String)>,
}

/// Why a platform takes no enrolment with a role for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The role is not among the platform's roles.
    Role(String),
    /// No access rule of the platform lets this person have the role.
    Rules(String),
}

impl Platform {
    /// Whether the platform takes role `role` for a member of `cohort` holding
    /// `account`: a role it has, and (when it has access rules) one rule that
    /// gives the role and whose conditions all hold. A refusal says why, naming
    /// every unmet condition of every rule that gives the role.
    pub fn admits(
        &self,
        role: &str,
        cohort: &Cohort,
        account: Option<&Account>,
    ) -> Result<(), Refusal> {
        if let Some(roles) = &self.roles {
            if !roles.contains(role) {
                return Err(Refusal::Role(format!(
                    "role '{role}' is not among the platform's roles ({})",
                    listed(roles)
                )));
            }
        }
        if self.rules.is_empty() {
            return Ok(());
        }
        let mut why = Vec::new();
        for rule in self.rules.iter().filter(|r| r.roles.contains(role)) {
            let unmet = rule.unmet(cohort, account);
            if unmet.is_empty() {
                return Ok(());
            }
            why.extend(unmet);
        }
        if why.is_empty() {
            return Err(Refusal::Rules(format!(
                "no rule of {} allows role '{role}'",
                self.name
            )));
        }
        Err(Refusal::Rules(why.join("; ")))
    }
}

fn listed<'a>(values: impl IntoIterator<Item = &'a String>) -> String {
    values
        .into_iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// How a platform's own Moodle is asked about the accounts of its plan.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MoodleAccounts {
    /// The authentication methods an account must have (`moodle_auth:`); `None`:
    /// any.
    pub auth: Option<BTreeSet<String>>,
    /// How the platform's Moodle knows a person (`moodle_match:`).
    pub field: MatchField,
    /// The custom report that lists the site's accounts by creation time
    /// (`moodle_created_report:`): `min_account_age_days` by Moodle's `timecreated`.
    pub created_report: Option<u64>,
}

/// The field of a Moodle account the plan's login is looked up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchField {
    /// The login is the account's username.
    #[default]
    Username,
    /// The login (the student number) is the account's idnumber, as imported
    /// accounts may hold it; the file is written with the account's username.
    Idnumber,
}

impl MatchField {
    pub fn name(self) -> &'static str {
        match self {
            MatchField::Username => "username",
            MatchField::Idnumber => "idnumber",
        }
    }
}

/// An account as the platform's Moodle knows it (`core_user_get_users_by_field`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformUser {
    pub username: String,
    /// Given when the site shows it (`showuseridentity`) or the token may see it.
    pub idnumber: Option<String>,
    pub auth: String,
    pub suspended: bool,
    /// The day from which the platform's accounts are too recent, when its
    /// `moodle_created_report` lists this one (created on or after it).
    pub created_from: Option<chrono::NaiveDate>,
    /// Other accounts found for the same key (one idnumber on several accounts,
    /// which Moodle allows): then none is the person's for sure.
    pub also: Vec<String>,
}

/// One line of the `enrol:` mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct EnrolRule {
    /// 1-based position in the `enrol:` list, shown in reports.
    pub number: usize,
    pub cohort: String,
    pub platform: String,
    pub courses: Vec<String>,
    pub role: String,
    pub group: Option<Template>,
    pub enrolperiod: Option<u32>,
    pub enrolstatus: Option<u8>,
    pub enroltimestart: Option<NaiveDate>,
}

/// One enrolment to write: a user in a course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    pub username: String,
    pub course: String,
    pub role: String,
    pub groups: GroupSet,
    pub enrolperiod: Option<u32>,
    pub enrolstatus: Option<u8>,
    pub enroltimestart: Option<NaiveDate>,
    /// Rules that produced it (numbers), for the report and `explain`.
    /// Sorted, without repeats (a small Vec: most enrolments come from one rule).
    pub rules: Vec<usize>,
    /// Sorted, without repeats.
    pub cohorts: Vec<String>,
}

/// An enrolment's groups: sorted, without repeats. A small vector, not a tree: an
/// enrolment has one group or two, and a plan holds hundreds of thousands of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupSet(Vec<String>);

impl GroupSet {
    /// Adds a group; false when it was already there.
    pub fn insert(&mut self, group: String) -> bool {
        match self.0.binary_search(&group) {
            Ok(_) => false,
            Err(i) => {
                self.0.insert(i, group);
                true
            }
        }
    }

    pub fn contains(&self, group: &str) -> bool {
        self.0.binary_search_by(|g| g.as_str().cmp(group)).is_ok()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, String> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn first(&self) -> Option<&String> {
        self.0.first()
    }
}

impl FromIterator<String> for GroupSet {
    fn from_iter<I: IntoIterator<Item = String>>(it: I) -> GroupSet {
        let mut v: Vec<String> = it.into_iter().collect();
        v.sort();
        v.dedup();
        GroupSet(v)
    }
}

impl Extend<String> for GroupSet {
    fn extend<I: IntoIterator<Item = String>>(&mut self, it: I) {
        for g in it {
            self.insert(g);
        }
    }
}

impl<'a> IntoIterator for &'a GroupSet {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for GroupSet {
    type Item = String;
    type IntoIter = std::vec::IntoIter<String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// A person in a course: the key every map of enrolments is searched by (ordered by
/// username, then course).
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct UserCourse {
    pub username: String,
    pub course: String,
}

impl UserCourse {
    pub fn new(username: &str, course: &str) -> UserCourse {
        UserCourse {
            username: username.to_string(),
            course: course.to_string(),
        }
    }
}

/// Moodle's rule for an enrolment's dates, the one definition of "active on a day"
/// (days for a planned enrolment, timestamps for one Moodle holds): active from
/// its start, until its end, excluded; no end: for good.
pub fn within_dates<T: PartialOrd>(start: T, end: Option<T>, at: T) -> bool {
    start <= at && end.is_none_or(|e| e > at)
}

impl Enrolment {
    pub fn key(&self) -> UserCourse {
        UserCourse::new(&self.username, &self.course)
    }

    /// Whether Moodle holds this planned enrolment active on `day`: not planned
    /// suspended (enrolstatus 1), and `day` within its dates (without a start day
    /// it starts the day it is made, `day`; an enrolperiod ends it that many days
    /// later).
    pub fn active_on(&self, day: NaiveDate) -> bool {
        let start = self.enroltimestart.unwrap_or(day);
        let end = self
            .enrolperiod
            .and_then(|p| start.checked_add_days(chrono::Days::new(u64::from(p))));
        self.enrolstatus != Some(1) && within_dates(start, end, day)
    }
}

/// Which column of a requester's sheet a left-out reason blames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blames {
    /// The column that says who the row is (its account is at fault).
    Identity,
    /// The enrolment's own column (its course, role, group …).
    Enrolment,
}

/// Everything a left-out reason means, in one place: adding a reason is adding a
/// row to `reasons!` below, and nothing else can forget it.
#[derive(Debug)]
pub struct ReasonInfo {
    /// Its name in left-out.csv, summary.json and the report.
    pub code: &'static str,
    /// Not a problem to chase: the enrolment exists (duplicate) or the next run
    /// retries it (deferred). Not counted as left out in the ratio.
    pub benign: bool,
    /// Retried by the next run: a person Moodle already holds is not unplanned.
    pub deferred: bool,
    pub blames: Blames,
    /// What a person does about it, in plain words (the HTML report).
    pub action: &'static str,
    /// What the requester does about it when the rows come from their sheet.
    pub sheet_action: &'static str,
}

/// The reasons, each with its meaning (`ReasonInfo`): the enum, `Reason::ALL` and
/// `Reason::info` are made from this one table.
macro_rules! reasons {
    ($( $(#[$doc:meta])* $variant:ident {
        code: $code:literal,
        benign: $benign:literal,
        deferred: $deferred:literal,
        blames: $blames:ident,
        action: $action:literal,
        sheet_action: $sheet:literal $(,)?
    }, )*) => {
        /// Why a person × enrolment was not written.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Reason {
            $( $(#[$doc])* $variant, )*
        }

        impl Reason {
            /// Every reason, in the order of the table.
            pub const ALL: &'static [Reason] = &[$( Reason::$variant, )*];

            pub fn info(self) -> &'static ReasonInfo {
                match self {
                    $( Reason::$variant => &ReasonInfo {
                        code: $code,
                        benign: $benign,
                        deferred: $deferred,
                        blames: Blames::$blames,
                        action: $action,
                        sheet_action: $sheet,
                    }, )*
                }
            }
        }
    };
}

reasons! {
    NoStudentNumber {
        code: "no_student_number",
        benign: false,
        deferred: false,
        blames: Identity,
        action: "Apogée has no student number (COD_ETU) for this person: ask the schooling office to complete the record.",
        sheet_action: "No account with this student number or username: check it on the row (a student number in the student-number column, a login in the username column), or ask the directory team whether the account exists.",
    },
    NoAccount {
        code: "no_account",
        benign: false,
        deferred: false,
        blames: Identity,
        action: "No account with this student number or username: ask the directory team whether the account exists, or check the number.",
        sheet_action: "No account with this student number or username: check it on the row (a student number in the student-number column, a login in the username column), or ask the directory team whether the account exists.",
    },
    AmbiguousAccount {
        code: "ambiguous_account",
        benign: false,
        deferred: false,
        blames: Identity,
        action: "Several accounts claim this person (or one account claims several people or logins): nobody is enrolled until the directory team fixes the entries named in the detail.",
        sheet_action: "The row's student number and username are not the same person, or several accounts claim them: check the row (the detail names both).",
    },
    AccountTooRecent {
        code: "account_too_recent",
        benign: true,
        deferred: true,
        blames: Identity,
        action: "Nothing to do: the account is new or not active yet; the next run tries again.",
        sheet_action: "The account is new: make the file again tomorrow (Moodle creates accounts overnight).",
    },
    AccountInactive {
        code: "account_inactive",
        benign: false,
        deferred: false,
        blames: Identity,
        action: "The account is closed, suspended or expired: nothing to do, unless it should be active (ask the directory team).",
        sheet_action: "The account is closed, suspended or expired: check the row, or ask the directory team.",
    },
    RuleNotMet {
        code: "rule_not_met",
        benign: false,
        deferred: false,
        blames: Enrolment,
        action: "The platform's rules do not allow this cohort or affiliation: change the mapping only if the person should be enrolled.",
        sheet_action: "The platform does not take this person as the row asks (see the detail): check the platform chosen, or the tag the sheet's people have (--tag).",
    },
    RoleNotAllowed {
        code: "role_not_allowed",
        benign: false,
        deferred: false,
        blames: Enrolment,
        action: "The role is not among the platform's roles: fix the rule or the platform's roles in the configuration.",
        sheet_action: "The role is not among the platform's roles: write one of them on the row.",
    },
    InvalidValue {
        code: "invalid_value",
        benign: false,
        deferred: false,
        blames: Enrolment,
        action: "A value Moodle would refuse or misread (see the detail): fix it where it comes from (Apogée, the directory) or in the mapping.",
        sheet_action: "A cell Moodle would refuse or misread (the detail names the row and the column): fix it in the sheet.",
    },
    Duplicate {
        code: "duplicate",
        benign: true,
        deferred: false,
        blames: Enrolment,
        action: "Nothing to do: an earlier rule plans the same enrolment, which is written once.",
        sheet_action: "Nothing to do: another row asks for the same enrolment, which is written once.",
    },
    Conflict {
        code: "conflict",
        benign: false,
        deferred: false,
        blames: Enrolment,
        action: "Two rules plan the same user and course differently: the first rule wins; align the rules.",
        sheet_action: "Two rows ask for the same user and course differently: the first row wins; align the rows.",
    },
    /// The platform's Moodle has no course of this shortname (adhoc, with a
    /// `moodle:` connection).
    CourseNotFound {
        code: "course_not_found",
        benign: false,
        deferred: false,
        blames: Enrolment,
        action: "The platform's Moodle has no course of this shortname (shortnames are case-sensitive): fix the name, or create the course first.",
        sheet_action: "The platform's Moodle has no course of this shortname: check the name on the row (shortnames are case-sensitive), or ask for the course to be created first.",
    },
    /// `accounts_in: moodle`: the platform's Moodle has no account of this
    /// username (never made, or deleted).
    NoPlatformAccount {
        code: "no_platform_account",
        benign: false,
        deferred: false,
        blames: Identity,
        action: "The platform's Moodle has no account of this username: nothing to do if the account is made overnight (the next run tries again); otherwise ask the platform's administrators.",
        sheet_action: "The platform's Moodle has no account of this username: check the row, or make the file again once the account exists.",
    },
    /// `accounts_in: moodle`: the account is suspended in the platform's Moodle.
    PlatformAccountSuspended {
        code: "platform_account_suspended",
        benign: false,
        deferred: false,
        blames: Identity,
        action: "The account is suspended in the platform's Moodle: nothing to do, unless it should be active (ask the platform's administrators).",
        sheet_action: "The account is suspended in the platform's Moodle: check the row, or ask the platform's administrators.",
    },
    /// `accounts_in: moodle`: the account's authentication method is not among the
    /// platform's `moodle_auth`.
    PlatformAuthRefused {
        code: "platform_auth_refused",
        benign: false,
        deferred: false,
        blames: Identity,
        action: "The account's authentication method in the platform's Moodle is not one the platform accepts (moodle_auth): ask the platform's administrators.",
        sheet_action: "The account's authentication method is not one the platform accepts: ask the platform's administrators.",
    },
}

impl Reason {
    pub fn code(self) -> &'static str {
        self.info().code
    }

    /// What a person does about it, in plain words (the HTML report).
    pub fn action(self) -> &'static str {
        self.info().action
    }

    /// What the requester does about it, when the rows come from their sheet
    /// (`adhoc --sheet`): the sheet is what they can fix.
    pub fn sheet_action(self) -> &'static str {
        self.info().sheet_action
    }

    /// Left-out rows that are not a problem to chase: the enrolment exists (duplicate)
    /// or will be retried by the next run (deferred).
    pub fn is_benign(self) -> bool {
        self.info().benign
    }

    /// Retried by the next run (an account too recent).
    pub fn is_deferred(self) -> bool {
        self.info().deferred
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A person × enrolment that was not written, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LeftOut {
    pub course: String,
    pub reason: Reason,
    pub username: String,
    pub student_id: String,
    pub name: String,
    pub cohort: String,
    pub rule: usize,
    pub role: String,
    pub detail: String,
}

impl LeftOut {
    /// A planned enrolment taken back, with why: its first rule and cohort say
    /// where it came from.
    pub fn of(e: &Enrolment, reason: Reason, detail: String) -> LeftOut {
        LeftOut {
            course: e.course.clone(),
            reason,
            username: e.username.clone(),
            student_id: String::new(),
            name: String::new(),
            cohort: e.cohorts.first().cloned().unwrap_or_default(),
            rule: e.rules.first().copied().unwrap_or_default(),
            role: e.role.clone(),
            detail,
        }
    }
}

/// One user enrolled in a course, as Moodle lists them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnrolledUser {
    /// Moodle's user id; `None` when the read does not give it (the participants
    /// report names users only: a write looks the id up).
    pub id: Option<u64>,
    pub roles: BTreeSet<String>,
    pub groups: BTreeSet<String>,
}

/// A course as Moodle holds it now: users by username.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CourseNow {
    pub id: u64,
    /// Users with an enrolment active now.
    pub active: BTreeMap<String, EnrolledUser>,
    /// Users enrolled but not active now (suspended, or dates not in force).
    pub inactive: BTreeMap<String, EnrolledUser>,
    /// The course's groups, name → id (read only to apply a plan).
    pub groups: BTreeMap<String, u64>,
    /// The role ids seen on its users, shortname → id.
    pub role_ids: BTreeMap<String, u64>,
}

impl CourseNow {
    /// A user enrolled in the course, and whether the enrolment is active now.
    pub fn user(&self, username: &str) -> Option<(&EnrolledUser, bool)> {
        self.active
            .get(username)
            .map(|u| (u, true))
            .or_else(|| self.inactive.get(username).map(|u| (u, false)))
    }
}

/// The courses asked for, by shortname; `None` when Moodle has no such course.
pub type MoodleNow = BTreeMap<String, Option<CourseNow>>;

/// What one source returned in a run: for summary.json, the logs and the shrink guard.
#[derive(Debug, Clone, Serialize)]
pub struct SourceTiming {
    /// A stable name for monitoring (`apogee`, `directory:unicaen`,
    /// `moodle:ecampus:accounts` …): no path, no address, no free text.
    pub id: String,
    pub source: String,
    pub seconds: f64,
    pub records: usize,
    pub requests: usize,
    /// What the source was asked (year and rules), as a short hash: two runs' counts
    /// are compared only when they asked the same.
    pub scope: String,
    /// How far `records` may fall against the previous run (settings).
    #[serde(skip)]
    pub max_shrink: f64,
    /// Whether the source was asked for anything: one that was, and returned
    /// nothing, is broken (an empty export, a wrong branch).
    #[serde(skip)]
    pub asked: bool,
}

impl SourceTiming {
    /// A read of Moodle, timed from `started`: what a run reports, and what the
    /// shrink guard does not watch (Moodle is not one of the run's sources).
    pub fn of_moodle(
        id: String,
        source: String,
        started: std::time::Instant,
        records: usize,
        requests: usize,
    ) -> SourceTiming {
        SourceTiming {
            id,
            source,
            seconds: started.elapsed().as_secs_f64(),
            records,
            requests,
            scope: String::new(),
            max_shrink: 1.0,
            asked: false,
        }
    }
}

/// A source as the previous run's summary.json recorded it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct PreviousSource {
    pub source: String,
    pub records: usize,
    #[serde(default)]
    pub scope: String,
}

/// Suspensions a run may write before it holds them back for review.
#[derive(Debug, Clone, PartialEq)]
pub struct SuspendLimits {
    /// Largest share of a course's enrolments suspended in one run…
    pub ratio: f64,
    /// …once more than this many are (a small course may always lose a few).
    pub count: usize,
    /// Largest share of the platform's enrolments suspended in one run (above
    /// `count` too).
    pub platform_ratio: f64,
}

/// What every state file of a channel says of itself, before its payload: the
/// format, the platform and the Moodle site it belongs to, the as-of day of the run
/// that wrote it, and the last file that run wrote (an outbox file or a journal).
/// Absent fields are those of older enrolgen versions.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StateHeader {
    #[serde(default)]
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// The Moodle site's address (web services only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<NaiveDate>,
    /// The last journal the run wrote (web services only; the delta state counts its
    /// files with `next_file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<String>,
    /// On a platform whose Moodle knows people by idnumber: student number → the
    /// account's username there, for the accounts of the plan it found.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_idnumber: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reason is in `ALL` once, under the name serde writes for it.
    #[test]
    fn every_reason_has_one_code_and_serde_agrees() {
        let mut codes = std::collections::BTreeSet::new();
        for r in Reason::ALL {
            assert!(codes.insert(r.code()), "{} twice", r.code());
            assert_eq!(
                serde_json::to_string(r).unwrap(),
                format!("\"{}\"", r.code())
            );
        }
        assert_eq!(codes.len(), Reason::ALL.len());
    }

    fn collegium(rules: Vec<AccessRule>) -> Platform {
        Platform {
            name: "collegium".into(),
            accounts: Accounts {
                source: AccountSource::Moodle(MoodleAccounts::default()),
                min_age_days: 0,
            },
            roles: Some(["student", "editingteacher"].map(String::from).into()),
            rules,
            csv: CsvFormat {
                delimiter: b';',
                layout: Layout::Long,
                max_rows: None,
            },
            role_labels: Vec::new(),
        }
    }

    fn set(values: &[&str]) -> BTreeSet<String> {
        values.iter().map(|v| (*v).to_string()).collect()
    }

    fn holder(affiliations: &[&str]) -> Account {
        Account {
            directory: "unicaen".into(),
            dn: "uid=a".into(),
            username: "a".into(),
            other_usernames: Vec::new(),
            student_ids: Vec::new(),
            staff_id: None,
            created: None,
            affiliations: affiliations.iter().map(|a| (*a).to_string()).collect(),
            states: Vec::new(),
        }
    }

    /// One method checks a platform's rules and says why they refuse: what it
    /// admits and what it explains cannot part.
    #[test]
    fn a_platform_admits_or_says_every_unmet_condition() {
        let health = Cohort {
            name: "pass".into(),
            source: CohortSource::Usernames(Vec::new()),
            tags: set(&["sante"]),
        };
        let other = Cohort {
            tags: set(&["droit"]),
            name: "l1droit".into(),
            ..health.clone()
        };
        let p = collegium(vec![
            AccessRule {
                roles: set(&["student"]),
                cohort_tags: Some(set(&["sante"])),
                affiliation: None,
            },
            AccessRule {
                roles: set(&["student", "editingteacher"]),
                cohort_tags: None,
                affiliation: Some(set(&["faculty"])),
            },
        ]);
        let student = holder(&["student"]);
        assert_eq!(p.admits("student", &health, Some(&student)), Ok(()));
        assert_eq!(
            p.admits("student", &other, Some(&student)),
            Err(Refusal::Rules(
                "cohort l1droit has none of the tags sante; affiliation [student] has none of faculty"
                    .into()
            ))
        );
        assert_eq!(
            p.admits("editingteacher", &other, Some(&holder(&["faculty"]))),
            Ok(())
        );
        assert_eq!(
            p.admits("editingteacher", &other, None),
            Err(Refusal::Rules("affiliation [] has none of faculty".into()))
        );
        assert_eq!(
            p.admits("manager", &health, Some(&student)),
            Err(Refusal::Role(
                "role 'manager' is not among the platform's roles (editingteacher, student)".into()
            ))
        );
        let no_teacher = collegium(vec![AccessRule {
            roles: set(&["student"]),
            cohort_tags: None,
            affiliation: None,
        }]);
        assert_eq!(
            no_teacher.admits("editingteacher", &health, None),
            Err(Refusal::Rules(
                "no rule of collegium allows role 'editingteacher'".into()
            ))
        );
        assert_eq!(
            collegium(Vec::new()).admits("student", &other, None),
            Ok(())
        );
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn an_enrolment_is_active_within_its_dates_as_moodle_counts_them() {
        let e = Enrolment {
            username: "u".into(),
            course: "C".into(),
            role: "student".into(),
            groups: GroupSet::default(),
            enrolperiod: Some(10),
            enrolstatus: None,
            enroltimestart: Some(day("2026-11-01")),
            rules: vec![1],
            cohorts: vec![],
        };
        assert!(!e.active_on(day("2026-10-31")), "before its start");
        assert!(e.active_on(day("2026-11-01")));
        assert!(e.active_on(day("2026-11-10")));
        assert!(!e.active_on(day("2026-11-11")), "its end is excluded");
        let undated = Enrolment {
            enroltimestart: None,
            ..e.clone()
        };
        assert!(
            undated.active_on(day("2027-06-30")),
            "starts the day it is made"
        );
        let suspended = Enrolment {
            enrolstatus: Some(1),
            ..e
        };
        assert!(!suspended.active_on(day("2026-11-02")));
        assert!(within_dates(5, None, 1_000) && !within_dates(5, Some(6), 6));
    }
}
