//! The configuration file as written by people: serde structs that refuse unknown keys.
//! Nothing here is used past `config::load`, which turns it into checked `Settings`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::{Layout, UsernameSource};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub version: u32,
    #[serde(default)]
    pub year: Option<YearValue>,
    #[serde(default)]
    pub year_start: Option<String>,
    /// MM-DD: the end of the re-registration window of reused courses.
    #[serde(default)]
    pub keep_previous_year_until: Option<String>,
    pub apogee: Option<RawApogee>,
    /// Pégase, read from its DRE replica.
    pub pegase: Option<RawPegase>,
    #[serde(default)]
    pub directories: BTreeMap<String, RawDirectory>,
    pub platforms: BTreeMap<String, RawPlatform>,
    #[serde(default)]
    pub cohorts: BTreeMap<String, RawCohort>,
    #[serde(default)]
    pub enrol: Vec<RawEnrol>,
    pub max_left_out_ratio: Option<f64>,
    pub max_suspend_ratio: Option<f64>,
    pub max_suspend_count: Option<usize>,
    pub max_suspend_platform_ratio: Option<f64>,
    /// Largest fall of a source's count against the previous run (default 0.3).
    pub max_shrink: Option<f64>,
    pub report: Option<RawReport>,
    /// Octal mode of the files written (default "0640").
    pub file_mode: Option<String>,
    /// Where to write the Prometheus text file after each run (default
    /// OUT/enrolgen.prom), e.g. node_exporter's textfile collector folder.
    pub prometheus_file: Option<String>,
}

/// `report: { personal_data: true }`: names in report.html.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReport {
    pub personal_data: Option<bool>,
}

/// `year: auto` or `year: 2026`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum YearValue {
    Number(u32),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApogee {
    pub sqlite: Option<String>,
    pub oracle: Option<RawOracle>,
    pub csv: Option<String>,
    pub payment: Option<Vec<String>>,
    pub max_shrink: Option<f64>,
}

/// `pegase:`: the DRE database (PostgreSQL, or SQLite for the demo) and how its
/// registrations are read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPegase {
    pub postgres: Option<RawPostgres>,
    pub sqlite: Option<String>,
    /// The period code of the run's academic year: `PER-{year}` (default),
    /// `{year}`, `{year_label}` …
    pub period: Option<String>,
    /// `statut_inscription` values that count (default [VALIDEE]).
    pub statuses: Option<Vec<String>>,
    /// What the directories carry as the student number: `code_apprenant`
    /// (default) or `ine`.
    pub student_id: Option<crate::model::PegaseStudentId>,
    pub max_shrink: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPostgres {
    pub host: String,
    pub port: Option<u16>,
    pub dbname: String,
    pub user: String,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    pub password_credential: Option<String>,
    /// `prefer` (default: TLS when the server offers it), `require` or `disable`.
    pub sslmode: Option<crate::model::SslMode>,
    pub ca_file: Option<String>,
    pub timeout_s: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOracle {
    pub connect: String,
    pub user: String,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    /// A systemd credential (LoadCredential=NAME:…) holding the password.
    pub password_credential: Option<String>,
    pub fetch_array_size: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDirectory {
    pub ldif: Option<String>,
    pub ldap: Option<RawLdap>,
    /// With ldif: only entries under this DN are accounts.
    pub base: Option<String>,
    /// Only entries matching this filter are accounts (e.g. `(objectClass=supannPerson)`).
    pub filter: Option<String>,
    #[serde(rename = "match")]
    pub match_attr: Option<String>,
    pub username: Option<String>,
    pub staff_id: Option<String>,
    pub affiliation: Option<String>,
    /// One attribute or a list.
    pub state: Option<OneOrMany>,
    pub max_shrink: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLdap {
    pub url: String,
    pub base: String,
    #[serde(default)]
    pub starttls: bool,
    pub bind_dn: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    /// A systemd credential (LoadCredential=NAME:…) holding the password.
    pub password_credential: Option<String>,
    pub page_size: Option<u32>,
    pub timeout_s: Option<u64>,
    pub ca_file: Option<String>,
    /// Must be written out to turn certificate checks off.
    #[serde(default)]
    pub tls_insecure_skip_verify: bool,
    /// Up to this many wanted student numbers, search with OR-filters; above, read the branch.
    pub batch_threshold: Option<usize>,
    /// Student numbers per OR-filter.
    pub batch_size: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlatform {
    pub accounts: Option<Vec<String>>,
    pub account_list: Option<String>,
    pub username: Option<UsernameSource>,
    #[serde(default)]
    pub min_account_age_days: u32,
    pub roles: Option<Vec<String>>,
    /// `moodle`: the platform's Moodle says whether each account exists.
    pub accounts_in: Option<RawAccountsIn>,
    /// The authentication methods a platform account must have (with
    /// `accounts_in: moodle`).
    pub moodle_auth: Option<Vec<String>>,
    /// How the platform's Moodle knows a person: `username` (default) or
    /// `idnumber` (the student number).
    pub moodle_match: Option<crate::model::MatchField>,
    /// A custom report of the platform's Moodle (its id) listing accounts with a
    /// "Time created" filter: `min_account_age_days` by Moodle's own creation time.
    pub moodle_created_report: Option<u64>,
    /// What requesters write for a role, label → shortname.
    #[serde(default)]
    pub role_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub rules: Vec<RawRule>,
    #[serde(default)]
    pub csv: RawCsv,
    /// The platform's REST web services, for `verify` (and `deliver: webservice`).
    pub moodle: Option<RawMoodle>,
    /// How a run's plan reaches Moodle: `files` (default) or `webservice`.
    pub deliver: Option<RawDeliver>,
}

/// `accounts_in:` as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawAccountsIn {
    Moodle,
}

/// `deliver:` as written; `config` turns it and `moodle:` into a `Delivery`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawDeliver {
    #[default]
    Files,
    Webservice,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMoodle {
    pub url: String,
    pub token_env: Option<String>,
    pub token_file: Option<String>,
    /// A systemd credential (LoadCredential=NAME:…) holding the token.
    pub token_credential: Option<String>,
    pub timeout_s: Option<u64>,
    /// Requests in flight at once (default 4).
    pub parallel: Option<usize>,
    pub ca_file: Option<String>,
    /// The site's time zone, for enrolment dates (default Europe/Paris).
    pub timezone: Option<String>,
    /// Form fields per write call, under the site's max_input_vars (default 4000).
    pub max_fields: Option<usize>,
    /// Role ids by shortname, when the site's differ from Moodle's standard ones.
    pub role_ids: Option<std::collections::BTreeMap<String, u64>>,
    /// With deliver: webservice, take back a platform role that somebody gave by hand
    /// to a planned user and the plan does not give (default false: reported only).
    #[serde(default)]
    pub remove_extra_roles: bool,
    /// The id of a custom report of the "Course participants" source that lists
    /// the courses' users in one read (docs/webservices.md).
    pub participants_report: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub roles: Vec<String>,
    pub cohort_tags: Option<Vec<String>>,
    pub affiliation: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCsv {
    pub delimiter: Option<String>,
    pub layout: Option<Layout>,
    pub max_rows: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCohort {
    pub apogee: Option<RawApogeeCohort>,
    pub pegase: Option<RawPegaseCohort>,
    pub usernames: Option<Vec<String>>,
    pub ldap: Option<RawLdapCohort>,
    pub students: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApogeeCohort {
    pub etape: String,
    pub version: u32,
    pub element: Option<String>,
    #[serde(default)]
    pub groups: bool,
    pub group_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPegaseCohort {
    pub formation: String,
    pub element: Option<String>,
    #[serde(default)]
    pub groups: bool,
    pub group_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLdapCohort {
    pub directory: String,
    pub filter: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnrol {
    pub cohort: String,
    pub platform: String,
    pub course: OneOrMany,
    pub role: String,
    pub group: Option<String>,
    pub enrolperiod: Option<u32>,
    pub enrolstatus: Option<u8>,
    pub enroltimestart: Option<String>,
}

/// `course: X` or `course: [X, Y]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}
