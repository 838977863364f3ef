//! Loads the YAML configuration and checks it into `Settings`, the only view of the
//! configuration the rest of the program sees. Every error names the file, the line
//! and the key.

mod file;
mod locate;
pub mod pegase;
pub mod secret;
pub mod years;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};

use crate::filter::Filter;
use crate::model::{
    AccessRule, AccountSource, Accounts, ApogeeCohort, Cohort, CohortSource, CsvFormat, EnrolRule,
    Layout, Platform, UsernameSource,
};
use crate::moodle::{self, Field};
use crate::template::{Template, Var};
use file::{RawConfig, RawDirectory, YearValue};
use locate::Lines;
pub use pegase::{PegaseDb, PegaseSettings, PostgresSettings};
pub use secret::{Secret, SecretSource};

pub const CONFIG_VERSION: u32 = 1;

/// Seconds a Moodle request may take (`moodle.timeout_s`): a batch of fifty course
/// reads of a 50,000-student university takes tens of seconds; a server that does
/// not answer in two minutes is gone.
pub const DEFAULT_MOODLE_TIMEOUT_S: u64 = 120;

/// Mode of the files written when `file_mode` is not set: they hold personal data.
pub const DEFAULT_FILE_MODE: u32 = 0o640;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}:{line}: {key}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
}

/// The academic year (COD_ANU) the run uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum YearSetting {
    /// Derived from the as-of date: a new year starts on (month, day).
    Auto {
        month: u32,
        day: u32,
    },
    Fixed(String),
}

impl YearSetting {
    /// COD_ANU at `as_of`: the year the academic year started.
    pub fn resolve(&self, as_of: NaiveDate) -> String {
        match self {
            YearSetting::Fixed(y) => y.clone(),
            YearSetting::Auto { month, day } => {
                let y = as_of.year();
                if (as_of.month(), as_of.day()) >= (*month, *day) {
                    y.to_string()
                } else {
                    (y - 1).to_string()
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OracleSettings {
    pub connect: String,
    pub user: String,
    pub password: SecretSource,
    pub fetch_array_size: u32,
}

/// Where Apogée's data comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum SisSettings {
    /// A `.sql` script loaded into an in-memory database, or a `.db` file.
    Sqlite(PathBuf),
    Oracle(OracleSettings),
    /// A file of student numbers (optionally cohort and group columns).
    Csv(PathBuf),
}

#[derive(Debug, Clone, PartialEq)]
pub struct LdapSettings {
    pub url: String,
    pub base: String,
    pub starttls: bool,
    pub bind: Option<(String, SecretSource)>,
    pub page_size: u32,
    pub timeout_s: u64,
    pub ca_file: Option<PathBuf>,
    pub tls_insecure_skip_verify: bool,
    pub batch_threshold: usize,
    pub batch_size: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DirectorySource {
    /// An LDIF export; with `base`, only the entries under it are accounts (as an
    /// LDAP search from that base would find).
    Ldif {
        path: PathBuf,
        base: Option<String>,
    },
    Ldap(LdapSettings),
}

/// Which attribute holds what, shared by LDAP and LDIF. Names are lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeMap {
    pub student_id: String,
    pub username: String,
    pub staff_id: String,
    pub affiliation: String,
    /// Account-state attributes: (lower-cased name, name as configured).
    pub state: Vec<(String, String)>,
    pub created: String,
}

impl AttributeMap {
    /// The attributes a search must ask for (createTimestamp is operational).
    pub fn requested(&self) -> Vec<String> {
        let mut v = vec![
            self.student_id.clone(),
            self.username.clone(),
            self.staff_id.clone(),
            self.affiliation.clone(),
            self.created.clone(),
        ];
        v.extend(self.state.iter().map(|(lower, _)| lower.clone()));
        v.sort();
        v.dedup();
        v
    }
}

/// Where SUPANN keeps account state: both are read unless `state:` says otherwise.
pub const DEFAULT_STATE_ATTRIBUTES: [&str; 2] = ["supannRessourceEtat", "supannRessourceEtatDate"];

#[derive(Debug, Clone, PartialEq)]
pub struct DirectorySettings {
    pub name: String,
    pub source: DirectorySource,
    pub filter: Option<Filter>,
    pub attrs: AttributeMap,
    /// This directory's `max_shrink`, when it has its own.
    pub max_shrink: Option<f64>,
}

/// A platform's Moodle REST web services (read by `verify`).
#[derive(Debug, Clone, PartialEq)]
pub struct MoodleSettings {
    /// The site's address, without a trailing `/` (`https://ecampus.example.fr`).
    pub url: String,
    /// The web-service token: a secret, read when a connection is made.
    pub token: SecretSource,
    pub timeout_s: u64,
    /// Requests in flight at once.
    pub parallel: usize,
    pub ca_file: Option<PathBuf>,
    /// The site's time zone: a new enrolment starts at the as-of day's start there.
    pub timezone: chrono_tz::Tz,
    /// Form fields per write call (a batch of enrolments is cut to fit).
    pub max_fields: usize,
    /// Role ids by shortname: Moodle's standard ones unless the config says.
    pub role_ids: BTreeMap<String, u64>,
    /// Take back platform roles given by hand that the plan does not give.
    pub remove_extra_roles: bool,
    /// A custom report of the "Course participants" source the courses' users are
    /// read from, in one request, instead of two reads per course.
    pub participants_report: Option<u64>,
}

/// How a platform's plan reaches its Moodle (`deliver:`), with the connection that
/// needs: a web-service platform cannot be without one.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// Upload files an administrator imports (only adds); a `moodle:` connection,
    /// when given, lets `verify` read the site.
    Files { moodle: Option<MoodleSettings> },
    /// Applied through the REST web services (adds, suspends, keeps groups exact).
    Webservice(MoodleSettings),
}

impl Delivery {
    /// The platform's Moodle connection, whichever the channel.
    pub fn moodle(&self) -> Option<&MoodleSettings> {
        match self {
            Delivery::Files { moodle } => moodle.as_ref(),
            Delivery::Webservice(m) => Some(m),
        }
    }

    pub fn is_webservice(&self) -> bool {
        matches!(self, Delivery::Webservice(_))
    }
}

/// One platform, as one block: what its plan needs (`Platform`: accounts, roles,
/// access rules, file) and how its plan reaches its Moodle. Reads as the
/// `Platform` it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformSettings {
    pub platform: Platform,
    pub delivery: Delivery,
}

impl std::ops::Deref for PlatformSettings {
    type Target = Platform;

    fn deref(&self) -> &Platform {
        &self.platform
    }
}

impl crate::plan::Platforms for BTreeMap<String, PlatformSettings> {
    fn platform(&self, name: &str) -> Option<&Platform> {
        self.get(name).map(|p| &p.platform)
    }
}

/// The ids a fresh Moodle gives its standard roles.
pub const STANDARD_ROLE_IDS: [(&str, u64); 8] = [
    ("manager", 1),
    ("coursecreator", 2),
    ("editingteacher", 3),
    ("teacher", 4),
    ("student", 5),
    ("guest", 6),
    ("user", 7),
    ("frontpage", 8),
];

/// How far a source's count may fall against the previous run before the run stops.
#[derive(Debug, Clone, PartialEq)]
pub struct ShrinkLimits {
    /// Every source without its own (default 0.3).
    pub default: f64,
    pub apogee: Option<f64>,
    pub pegase: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub file: PathBuf,
    pub year: YearSetting,
    pub sis: Option<SisSettings>,
    /// Pégase's DRE, when cohorts come from it (`pegase:`).
    pub pegase: Option<PegaseSettings>,
    /// Accepted ETA_PMT_IAE values.
    pub payment: BTreeSet<String>,
    pub directories: BTreeMap<String, DirectorySettings>,
    /// Every platform as one block (its accounts, roles, rules, file, and how its
    /// plan reaches its Moodle), by name.
    pub platforms: BTreeMap<String, PlatformSettings>,
    pub cohorts: BTreeMap<String, Cohort>,
    pub rules: Vec<EnrolRule>,
    pub max_left_out_ratio: Option<f64>,
    /// What a delta run may suspend before holding suspensions back.
    pub suspend_limits: crate::model::SuspendLimits,
    /// report.html shows names and student numbers (default: counts only).
    pub report_personal_data: bool,
    /// Mode of every file written (default 0640, whatever the umask).
    pub file_mode: u32,
    pub max_shrink: ShrinkLimits,
    /// The Prometheus text file, when not OUT/enrolgen.prom.
    pub prometheus_file: Option<PathBuf>,
    /// The courses rules name with their year (`ANAT-{year}`), by platform.
    pub year_courses: Vec<(String, years::CourseName)>,
    /// The day the re-registration window closes, as (month, day): until then
    /// a reused course keeps the previous year's enrolments (`years::Turnover`).
    pub keep_previous_year_until: Option<(u32, u32)>,
}

impl Settings {
    /// A platform's Moodle connection, whichever its channel.
    pub fn moodle(&self, platform: &str) -> Option<&MoodleSettings> {
        self.platforms
            .get(platform)
            .and_then(|p| p.delivery.moodle())
    }

    /// Every platform with a Moodle connection, by name.
    pub fn connections(&self) -> impl Iterator<Item = (&str, &MoodleSettings)> {
        self.platforms
            .iter()
            .filter_map(|(n, p)| p.delivery.moodle().map(|m| (n.as_str(), m)))
    }

    /// The settings of academic year `year`: each rule's courses named for it.
    pub fn for_year(mut self, year: &str) -> Settings {
        for r in &mut self.rules {
            for c in &mut r.courses {
                if let Ok(name) = years::CourseName::parse(c) {
                    *c = name.of_year(year);
                }
            }
        }
        self
    }

    /// The courses of a platform's earlier years (`ANAT-{year}` of past years) that
    /// `year`'s runs no longer manage.
    pub fn earlier_courses(&self, platform: &str, year: &str) -> BTreeSet<String> {
        let names = self
            .year_courses
            .iter()
            .filter(|(p, _)| p == platform)
            .map(|(_, n)| n);
        years::earlier_courses(names, year)
    }

    /// The re-registration window of the academic year `as_of` falls in, when
    /// `keep_previous_year_until` sets one.
    pub fn turnover(&self, as_of: NaiveDate) -> Option<years::Turnover> {
        let (YearSetting::Auto { month, day }, Some(until)) =
            (&self.year, self.keep_previous_year_until)
        else {
            return None;
        };
        years::Turnover::at(as_of, (*month, *day), until)
    }

    pub fn by_webservice(&self, platform: &str) -> bool {
        self.platforms
            .get(platform)
            .is_some_and(|p| p.delivery.is_webservice())
    }
}

/// A URL as it may be shown (messages, reports, summaries, metrics, states): without
/// the `user:password@` a URL may carry.
pub fn shown_url(url: &str) -> String {
    let Some(at) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let end = url[at..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| at + i);
    match url[at..end].rfind('@') {
        Some(i) => format!("{}{}", &url[..at], &url[at + i + 1..]),
        None => url.to_string(),
    }
}

/// Reads and checks a configuration file.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Checks configuration text; `path` names it in errors and anchors relative paths.
pub fn parse(text: &str, path: &Path) -> Result<Settings, ConfigError> {
    let indexed = Lines::index(text);
    if let Some((key, first, again)) = indexed.as_ref().ok().and_then(|l| l.duplicates.first()) {
        return Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            line: *again,
            key: key.clone(),
            message: format!(
                "given twice, at line {first} and at line {again}: a mapping holds each key once (keep one)"
            ),
        });
    }
    let raw: RawConfig = serde_norway::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        // The position leads the message already; other positions (where a mapping
        // started) stay.
        let message = e
            .to_string()
            .replacen(&format!(" at line {line} column {column}"), "", 1);
        ConfigError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message,
        }
    })?;
    // serde_norway read the file, the key index could not: keys given twice would
    // go unseen (serde keeps the last silently), so the file is refused.
    let lines = indexed.map_err(|(line, column, why)| ConfigError::Syntax {
        path: path.to_path_buf(),
        line,
        column,
        message: format!(
            "{why}: enrolgen cannot check this file for keys given twice; indent with spaces, put a \
             space (not a tab) after each colon, and remove unusual line-break characters"
        ),
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Checker { path, lines, base }.check(raw)
}

struct Checker<'a> {
    path: &'a Path,
    lines: Lines,
    base: PathBuf,
}

impl Checker<'_> {
    fn err(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line: self.lines.line_of(key).unwrap_or(1),
            key: key.to_string(),
            message: message.into(),
        }
    }

    fn rel(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    /// Where a password (or token) is read: an environment variable, a file, or a
    /// systemd credential; `what` names the keys (`password`, `token`).
    fn secret(
        &self,
        key: &str,
        what: &str,
        env: Option<String>,
        file: Option<String>,
        credential: Option<String>,
    ) -> Result<Option<SecretSource>, ConfigError> {
        match (env, file, credential) {
            (Some(e), None, None) => Ok(Some(SecretSource::Env(e))),
            (None, Some(f), None) => Ok(Some(SecretSource::File(self.rel(&f)))),
            (None, None, Some(c)) => {
                if c.is_empty() || c.contains('/') || c == "." || c == ".." {
                    return Err(self.err(
                        &format!("{key}.{what}_credential"),
                        "is not a credential name (the NAME of LoadCredential=NAME:PATH; the value is not repeated here, in case a secret was written in its place)".to_string(),
                    ));
                }
                Ok(Some(SecretSource::Credential(c)))
            }
            (None, None, None) => Ok(None),
            _ => Err(self.err(
                key,
                format!("give one of {what}_env, {what}_file or {what}_credential, not several"),
            )),
        }
    }

    fn check(&self, raw: RawConfig) -> Result<Settings, ConfigError> {
        if raw.version != CONFIG_VERSION {
            return Err(self.err(
                "version",
                format!(
                    "unsupported version {}; this enrolgen reads version {CONFIG_VERSION}",
                    raw.version
                ),
            ));
        }
        let suspend_limits = self.suspend_limits(&raw)?;
        let year = self.year(raw.year, raw.year_start)?;
        let keep_previous_year_until =
            self.keep_until(raw.keep_previous_year_until.as_deref(), &year)?;
        let apogee_shrink = raw.apogee.as_ref().and_then(|a| a.max_shrink);
        let (sis, payment) = self.apogee(raw.apogee)?;
        let (pegase, pegase_shrink) = self.pegase(raw.pegase)?;
        let mut directories = BTreeMap::new();
        for (name, d) in raw.directories {
            let checked = self.directory(&name, d)?;
            directories.insert(name, checked);
        }
        let mut platforms = BTreeMap::new();
        for (name, p) in raw.platforms {
            let block = self.platform(&name, p, &directories)?;
            platforms.insert(name, block);
        }
        let mut cohorts = BTreeMap::new();
        for (name, c) in raw.cohorts {
            let sis_here = (sis.is_some(), pegase.is_some());
            let cohort = self.cohort(&name, c, sis_here, &directories)?;
            cohorts.insert(name, cohort);
        }
        let mut rules = Vec::new();
        for (i, e) in raw.enrol.into_iter().enumerate() {
            rules.push(self.rule(i, e, &cohorts, &platforms)?);
        }
        let year_courses = rules
            .iter()
            .flat_map(|r: &EnrolRule| r.courses.iter().map(move |c| (&r.platform, c)))
            .filter_map(|(p, c)| years::CourseName::parse(c).ok().map(|n| (p.clone(), n)))
            .filter(|(_, n)| !n.is_literal())
            .collect();
        self.ratio("max_left_out_ratio", raw.max_left_out_ratio)?;
        let file_mode = self.file_mode(raw.file_mode.as_deref())?;
        let max_shrink = ShrinkLimits {
            default: self.ratio("max_shrink", raw.max_shrink)?.unwrap_or(0.3),
            apogee: self.ratio("apogee.max_shrink", apogee_shrink)?,
            pegase: pegase_shrink,
        };
        Ok(Settings {
            file: self.path.to_path_buf(),
            year,
            sis,
            pegase,
            payment,
            directories,
            platforms,
            cohorts,
            rules,
            max_left_out_ratio: raw.max_left_out_ratio,
            suspend_limits,
            report_personal_data: raw.report.and_then(|r| r.personal_data).unwrap_or(false),
            file_mode,
            max_shrink,
            prometheus_file: self.prometheus_file(raw.prometheus_file)?,
            year_courses,
            keep_previous_year_until,
        })
    }

    /// `keep_previous_year_until: MM-DD`, which only a year that turns by itself has.
    fn keep_until(
        &self,
        written: Option<&str>,
        year: &YearSetting,
    ) -> Result<Option<(u32, u32)>, ConfigError> {
        let Some(w) = written else { return Ok(None) };
        let key = "keep_previous_year_until";
        let d = NaiveDate::parse_from_str(&format!("2000-{w}"), "%Y-%m-%d")
            .map_err(|_| self.err(key, format!("'{w}' is not a month-day written MM-DD")))?;
        match year {
            YearSetting::Auto { month, day } if (d.month(), d.day()) == (*month, *day) => {
                Err(self.err(key, "the window cannot end on year_start, the day it opens"))
            }
            YearSetting::Auto { .. } => Ok(Some((d.month(), d.day()))),
            YearSetting::Fixed(_) => Err(self.err(
                key,
                "a re-registration window needs year: auto (a fixed year never turns over)",
            )),
        }
    }

    fn year(
        &self,
        year: Option<YearValue>,
        start: Option<String>,
    ) -> Result<YearSetting, ConfigError> {
        let start = start.unwrap_or_else(|| "09-01".to_string());
        let parsed =
            NaiveDate::parse_from_str(&format!("2000-{start}"), "%Y-%m-%d").map_err(|_| {
                self.err(
                    "year_start",
                    format!("'{start}' is not a month-day written MM-DD"),
                )
            })?;
        match year {
            None => Ok(YearSetting::Auto {
                month: parsed.month(),
                day: parsed.day(),
            }),
            Some(YearValue::Text(t)) if t == "auto" => Ok(YearSetting::Auto {
                month: parsed.month(),
                day: parsed.day(),
            }),
            Some(YearValue::Number(n)) if (1990..=2200).contains(&n) => {
                Ok(YearSetting::Fixed(n.to_string()))
            }
            Some(YearValue::Text(t)) if t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(YearSetting::Fixed(t))
            }
            Some(_) => Err(self.err(
                "year",
                "write auto or the year the academic year starts (e.g. 2026 for 2026–2027)",
            )),
        }
    }

    /// One platform and how its plan reaches Moodle.
    fn platform(
        &self,
        name: &str,
        p: file::RawPlatform,
        directories: &BTreeMap<String, DirectorySettings>,
    ) -> Result<PlatformSettings, ConfigError> {
        let key = format!("platforms.{name}");
        let plain = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !plain || name.is_empty() || name.starts_with('.') {
            return Err(self.err(
                &key,
                "a platform name is also a folder and file name: use letters, digits, '-', '_' and '.' (not first)",
            ));
        }
        let delimiter = self.platform_delimiter(&key, &p.csv)?;
        let roles = self.platform_roles(&key, p.roles, delimiter)?;
        let role_labels = self.role_labels(&key, p.role_labels, roles.as_ref(), delimiter)?;
        let rules = self.access_rules(&key, p.rules)?;
        let connection = match p.moodle {
            Some(m) => Some(self.moodle(&format!("{key}.moodle"), m)?),
            None => None,
        };
        let in_moodle = self.moodle_accounts(
            &key,
            AccountsInMoodle {
                accounts_in: p.accounts_in,
                auth: p.moodle_auth,
                field: p.moodle_match,
                created_report: p.moodle_created_report,
                min_age: p.min_account_age_days,
                connected: connection.is_some(),
            },
        )?;
        let where_ = AccountsWritten {
            directories: p.accounts,
            list: p.account_list,
            username: p.username,
            in_moodle,
        };
        let source = self.platform_accounts(&key, where_, directories)?;
        let delivery = match (p.deliver.unwrap_or_default(), connection) {
            (file::RawDeliver::Files, moodle) => Delivery::Files { moodle },
            (file::RawDeliver::Webservice, Some(m)) => Delivery::Webservice(m),
            (file::RawDeliver::Webservice, None) => {
                return Err(self.err(
                    &format!("{key}.deliver"),
                    "webservice needs the platform's moodle: connection (url and token)",
                ))
            }
        };
        let platform = Platform {
            name: name.to_string(),
            accounts: Accounts {
                source,
                min_age_days: p.min_account_age_days,
            },
            roles,
            rules,
            csv: CsvFormat {
                delimiter,
                layout: p.csv.layout.unwrap_or(Layout::Long),
                max_rows: p.csv.max_rows,
            },
            role_labels,
        };
        Ok(PlatformSettings { platform, delivery })
    }

    /// A platform's CSV delimiter (default ';'), and a `max_rows` of at least 1.
    fn platform_delimiter(&self, key: &str, csv: &file::RawCsv) -> Result<u8, ConfigError> {
        let written = csv.delimiter.as_deref().unwrap_or(";");
        let Some(delimiter) = moodle::parse_delimiter(written) else {
            return Err(self.err(
                &format!("{key}.csv.delimiter"),
                format!("'{written}' is not a delimiter Moodle offers: use ';', ',', ':' or tab"),
            ));
        };
        if csv.max_rows == Some(0) {
            return Err(self.err(&format!("{key}.csv.max_rows"), "must be at least 1"));
        }
        Ok(delimiter)
    }

    /// `roles:`: none means any role; an empty list is refused (every enrolment
    /// would be left out); each a value Moodle reads as written.
    fn platform_roles(
        &self,
        key: &str,
        roles: Option<Vec<String>>,
        delimiter: u8,
    ) -> Result<Option<BTreeSet<String>>, ConfigError> {
        match roles {
            Some(rs) if rs.is_empty() => Err(self.err(
                &format!("{key}.roles"),
                "is empty: no enrolment could be written, every one would be left out; list the platform's roles, or leave the key out to accept any role",
            )),
            Some(rs) => {
                for (i, r) in rs.iter().enumerate() {
                    moodle::check_value(Field::Role, r, delimiter)
                        .map_err(|m| self.err(&format!("{key}.roles[{i}]"), m))?;
                }
                Ok(Some(rs.into_iter().collect()))
            }
            None => Ok(None),
        }
    }

    /// `role_labels:`: each a role of the platform, no two labels alike once folded
    /// (case, accents).
    fn role_labels(
        &self,
        key: &str,
        labels: BTreeMap<String, String>,
        roles: Option<&BTreeSet<String>>,
        delimiter: u8,
    ) -> Result<Vec<(String, String)>, ConfigError> {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut out = Vec::new();
        for (label, role) in labels {
            let k = format!("{key}.role_labels.{label}");
            moodle::check_value(Field::Role, &role, delimiter).map_err(|m| self.err(&k, m))?;
            if roles.is_some_and(|r| !r.contains(&role)) {
                return Err(self.err(&k, format!("'{role}' is not among the platform's roles")));
            }
            let folded = crate::suggest::fold(&label);
            if folded.is_empty() {
                return Err(self.err(&k, "a label needs letters or digits"));
            }
            if let Some(other) = seen.insert(folded, label.clone()) {
                return Err(self.err(
                    &k,
                    format!("the same label as '{other}' once case and accents are set aside"),
                ));
            }
            out.push((label, role));
        }
        Ok(out)
    }

    /// How a platform asks its own Moodle about its accounts (`accounts_in: moodle`
    /// and the keys that go with it), each key checked against the others.
    fn moodle_accounts(
        &self,
        key: &str,
        m: AccountsInMoodle,
    ) -> Result<Option<crate::model::MoodleAccounts>, ConfigError> {
        let alone = |k: &str, why: &str| Err(self.err(&format!("{key}.{k}"), why));
        if m.accounts_in.is_none() {
            if m.field.is_some() {
                return alone(
                    "moodle_match",
                    "goes with accounts_in: moodle (how the platform's Moodle knows a person)",
                );
            }
            if m.auth.is_some() {
                return alone(
                    "moodle_auth",
                    "goes with accounts_in: moodle (the authentication methods a platform account must have)",
                );
            }
            if m.created_report.is_some() {
                return alone(
                    "moodle_created_report",
                    "goes with accounts_in: moodle (the report lists the platform's new accounts)",
                );
            }
            return Ok(None);
        }
        if !m.connected {
            return alone(
                "accounts_in",
                "moodle needs the platform's moodle: connection (url and token)",
            );
        }
        match m.created_report {
            Some(_) if m.min_age == 0 => {
                return alone(
                    "moodle_created_report",
                    "goes with min_account_age_days (the age the report measures)",
                )
            }
            Some(0) => {
                return alone(
                    "moodle_created_report",
                    "is the report's id, as its address shows it (reportbuilder/edit.php?id=N)",
                )
            }
            _ => {}
        }
        Ok(Some(crate::model::MoodleAccounts {
            auth: m.auth.map(|a| a.into_iter().collect()),
            field: m.field.unwrap_or_default(),
            created_report: m.created_report,
        }))
    }

    /// Where a platform's accounts exist (directories, its own account list, or
    /// its Moodle alone) with the options each way has.
    fn platform_accounts(
        &self,
        key: &str,
        w: AccountsWritten,
        directories: &BTreeMap<String, DirectorySettings>,
    ) -> Result<AccountSource, ConfigError> {
        let no_directory_login = || {
            Err(self.err(
                &format!("{key}.username"),
                "a platform without directories (account_list, or accounts_in: moodle alone) has no directory login: use username: student_id",
            ))
        };
        if w.username == Some(UsernameSource::Directory) && w.directories.is_none() {
            return no_directory_login();
        }
        Ok(match (w.directories, w.list, w.in_moodle) {
            (Some(dirs), None, in_moodle) => {
                if dirs.is_empty() {
                    return Err(self.err(&format!("{key}.accounts"), "list at least one directory"));
                }
                for (i, d) in dirs.iter().enumerate() {
                    if !directories.contains_key(d) {
                        return Err(self.err(
                            &format!("{key}.accounts[{i}]"),
                            format!(
                                "directory '{d}' is not defined under directories ({})",
                                names(directories)
                            ),
                        ));
                    }
                }
                let username = w.username.unwrap_or(UsernameSource::Directory);
                AccountSource::Directories {
                    names: dirs,
                    username,
                    in_moodle,
                }
            }
            (None, Some(list), in_moodle) => AccountSource::List {
                path: self.rel(&list),
                in_moodle,
            },
            (None, None, Some(m)) => AccountSource::Moodle(m),
            (None, None, None) => {
                return Err(self.err(
                    key,
                    "say where accounts exist: accounts: [directory, …], account_list: FILE.csv, or accounts_in: moodle",
                ))
            }
            (Some(_), Some(_), _) => {
                return Err(self.err(key, "give accounts or account_list, not both"))
            }
        })
    }

    /// A platform's rules: who may be enrolled with which roles.
    fn access_rules(
        &self,
        key: &str,
        raw: Vec<file::RawRule>,
    ) -> Result<Vec<AccessRule>, ConfigError> {
        let mut rules = Vec::new();
        for (i, r) in raw.into_iter().enumerate() {
            if r.roles.is_empty() {
                return Err(self.err(&format!("{key}.rules[{i}].roles"), "list at least one role"));
            }
            rules.push(AccessRule {
                roles: r.roles.into_iter().collect(),
                cohort_tags: r.cohort_tags.map(|v| v.into_iter().collect()),
                affiliation: r
                    .affiliation
                    .map(|v| v.into_iter().map(|a| a.to_lowercase()).collect()),
            });
        }
        Ok(rules)
    }

    /// One cohort: exactly one source of people, and its tags.
    fn cohort(
        &self,
        name: &str,
        c: file::RawCohort,
        (has_apogee, has_pegase): (bool, bool),
        directories: &BTreeMap<String, DirectorySettings>,
    ) -> Result<Cohort, ConfigError> {
        let key = format!("cohorts.{name}");
        let source = match (c.apogee, c.usernames, c.ldap, c.students, c.pegase) {
            (None, None, None, None, Some(p)) => {
                CohortSource::Pegase(self.pegase_cohort(&key, p, has_pegase)?)
            }
            (None, None, None, Some(f), None) => CohortSource::StudentFile(self.rel(&f)),
            (Some(a), None, None, None, None) => {
                if !has_apogee {
                    return Err(self.err(
                        &format!("{key}.apogee"),
                        "an apogee cohort needs an apogee: source at the top of the file",
                    ));
                }
                if a.etape.trim().is_empty() {
                    return Err(self.err(&format!("{key}.apogee.etape"), "is empty"));
                }
                if a.group_type.is_some() && !a.groups {
                    return Err(self.err(&format!("{key}.apogee.group_type"), "needs groups: true"));
                }
                CohortSource::Apogee(ApogeeCohort {
                    etape: a.etape.trim().to_string(),
                    version: a.version,
                    element: a.element.map(|e| e.trim().to_string()),
                    groups: a.groups,
                    group_type: a.group_type,
                })
            }
            (None, Some(us), None, None, None) => {
                let mut out = Vec::with_capacity(us.len());
                for (i, u) in us.into_iter().enumerate() {
                    let u = u.trim().to_string();
                    if u.is_empty() {
                        return Err(self.err(&format!("{key}.usernames[{i}]"), "is empty"));
                    }
                    out.push(u);
                }
                CohortSource::Usernames(out)
            }
            (None, None, Some(l), None, None) => {
                if !directories.contains_key(&l.directory) {
                    return Err(self.err(
                        &format!("{key}.ldap.directory"),
                        format!(
                            "directory '{}' is not defined under directories ({})",
                            l.directory,
                            names(directories)
                        ),
                    ));
                }
                let filter = Filter::parse(&l.filter)
                    .map_err(|e| self.err(&format!("{key}.ldap.filter"), e.to_string()))?;
                CohortSource::Ldap {
                    directory: l.directory,
                    filter,
                }
            }
            _ => {
                return Err(self.err(
                    &key,
                    "a cohort has exactly one of apogee:, pegase:, usernames:, ldap: or students:",
                ))
            }
        };
        Ok(Cohort {
            name: name.to_string(),
            source,
            tags: c.tags.into_iter().collect(),
        })
    }

    /// One line of the enrol: mapping.
    fn rule(
        &self,
        i: usize,
        e: file::RawEnrol,
        cohorts: &BTreeMap<String, Cohort>,
        platforms: &BTreeMap<String, PlatformSettings>,
    ) -> Result<EnrolRule, ConfigError> {
        let key = format!("enrol[{i}]");
        let Some(cohort) = cohorts.get(&e.cohort) else {
            return Err(self.err(
                &format!("{key}.cohort"),
                format!(
                    "cohort '{}' is not defined under cohorts ({})",
                    e.cohort,
                    names(cohorts)
                ),
            ));
        };
        let Some(platform) = platforms.get(&e.platform) else {
            return Err(self.err(
                &format!("{key}.platform"),
                format!(
                    "platform '{}' is not defined under platforms ({})",
                    e.platform,
                    names(platforms)
                ),
            ));
        };
        let d = platform.csv.delimiter;
        let courses = self.courses(&format!("{key}.course"), e.course.into_vec(), d)?;
        let role = e.role.trim().to_string();
        moodle::check_value(Field::Role, &role, d)
            .map_err(|m| self.err(&format!("{key}.role"), m))?;
        let group = match e.group {
            None => None,
            Some(g) => {
                Some(self.group_template(&format!("{key}.group"), &g, &e.cohort, cohort, d)?)
            }
        };
        if let Some(p) = e.enrolperiod {
            moodle::check_enrolperiod(p).map_err(|m| self.err(&format!("{key}.enrolperiod"), m))?;
        }
        if let Some(s) = e.enrolstatus {
            moodle::check_enrolstatus(s).map_err(|m| self.err(&format!("{key}.enrolstatus"), m))?;
        }
        let enroltimestart = match e.enroltimestart {
            None => None,
            Some(s) => Some(self.date(&format!("{key}.enroltimestart"), &s)?),
        };
        if let CohortSource::Ldap { directory, .. } = &cohort.source {
            let ok = platform.accounts.directories().contains(directory);
            if !ok {
                return Err(self.err(
                    &format!("{key}.cohort"),
                    format!("cohort '{}' comes from directory '{directory}', which is not among platform '{}''s accounts", e.cohort, e.platform),
                ));
            }
        }
        Ok(EnrolRule {
            number: i + 1,
            cohort: e.cohort,
            platform: e.platform,
            courses,
            role,
            group,
            enrolperiod: e.enrolperiod,
            enrolstatus: e.enrolstatus,
            enroltimestart,
        })
    }

    /// A rule's course shortnames: at least one, each a value Moodle reads as written.
    fn courses(&self, key: &str, written: Vec<String>, d: u8) -> Result<Vec<String>, ConfigError> {
        let courses: Vec<String> = written.into_iter().map(|c| c.trim().to_string()).collect();
        if courses.is_empty() {
            return Err(self.err(key, "list at least one course"));
        }
        for c in &courses {
            // A course naming its year is checked as it is named for one.
            let name = years::CourseName::parse(c)
                .map_err(|m| self.err(key, format!("course '{c}': {m}")))?;
            moodle::check_value(Field::Course, &name.of_year("2026"), d)
                .map_err(|m| self.err(key, m))?;
        }
        Ok(courses)
    }

    /// A date written YYYY-MM-DD (Moodle's strtotime would read other forms otherwise).
    fn date(&self, key: &str, s: &str) -> Result<NaiveDate, ConfigError> {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map_err(|_| self.err(key, format!("'{s}' is not a date written YYYY-MM-DD")))
    }

    /// A group template, checked against what its cohort can fill in.
    fn group_template(
        &self,
        gkey: &str,
        g: &str,
        cohort_name: &str,
        cohort: &Cohort,
        d: u8,
    ) -> Result<Template, ConfigError> {
        let t = Template::parse(g.trim()).map_err(|m| self.err(gkey, m.to_string()))?;
        let apogee = match &cohort.source {
            CohortSource::Apogee(a) => Some(a),
            _ => None,
        };
        if (t.uses(Var::Group) || t.uses(Var::GroupLabel)) && !cohort.source.has_groups() {
            return Err(self.err(gkey, format!("{{group}} needs an apogee or pegase cohort with groups: true (or a students: file), and '{}' is not one", cohort_name)));
        }
        if (t.uses(Var::Etape) || t.uses(Var::Version)) && apogee.is_none() {
            return Err(self.err(
                gkey,
                format!(
                    "{{etape}} and {{version}} need an apogee cohort, and '{}' is not one",
                    cohort_name
                ),
            ));
        }
        if t.uses(Var::Element) && cohort.source.element().is_none() {
            return Err(self.err(
                gkey,
                format!(
                    "{{element}} needs an apogee or pegase cohort with an element, and '{}' has none",
                    cohort_name
                ),
            ));
        }
        if t.is_literal() {
            moodle::check_value(Field::Group, &t.to_string(), d).map_err(|m| self.err(gkey, m))?;
        }
        Ok(t)
    }

    /// `prometheus_file`: a `.prom` file (the collector reads only those).
    fn prometheus_file(&self, p: Option<String>) -> Result<Option<PathBuf>, ConfigError> {
        match p {
            None => Ok(None),
            Some(p) if p.ends_with(".prom") => Ok(Some(self.rel(&p))),
            Some(p) => Err(self.err(
                "prometheus_file",
                format!("'{p}' does not end in .prom: node_exporter's textfile collector reads only those"),
            )),
        }
    }

    /// `file_mode`: octal, the owner can read and write, others nothing.
    fn file_mode(&self, written: Option<&str>) -> Result<u32, ConfigError> {
        Ok(match written {
        None => DEFAULT_FILE_MODE,
        Some(m) => match u32::from_str_radix(m.trim(), 8) {
            // The files hold personal data: never readable or writable by others.
            Ok(mode) if mode <= 0o777 && mode & 0o600 == 0o600 && mode & 0o007 == 0 => mode,
            _ => {
                return Err(self.err(
                    "file_mode",
                    format!("'{m}' is not an octal file mode the owner can read and write and others cannot use (the files hold personal data; e.g. \"0640\" or \"0600\")"),
                ))
            }
        },
        })
    }

    /// The caps of nightly suspensions (defaults: 10% and 3 per course, 5% per platform).
    fn suspend_limits(&self, raw: &RawConfig) -> Result<crate::model::SuspendLimits, ConfigError> {
        Ok(crate::model::SuspendLimits {
            ratio: self
                .ratio("max_suspend_ratio", raw.max_suspend_ratio)?
                .unwrap_or(0.1),
            count: raw.max_suspend_count.unwrap_or(3),
            platform_ratio: self
                .ratio("max_suspend_platform_ratio", raw.max_suspend_platform_ratio)?
                .unwrap_or(0.05),
        })
    }

    fn moodle(&self, key: &str, m: file::RawMoodle) -> Result<MoodleSettings, ConfigError> {
        let url = m.url.trim().trim_end_matches('/').to_string();
        let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
        if !scheme_ok || url.contains(['?', '#', ' ']) || url.len() <= "https://".len() {
            return Err(self.err(
                &format!("{key}.url"),
                format!("'{}' is not a site address: write https://moodle.example.fr (the site's root, no path to a script)", shown_url(&m.url)),
            ));
        }
        let token = self
            .secret(key, "token", m.token_env, m.token_file, m.token_credential)?
            .ok_or_else(|| {
                self.err(
                    key,
                    "give token_env, token_file or token_credential (one of them): the web-service token is never written in the file",
                )
            })?;
        if m.parallel == Some(0) {
            return Err(self.err(&format!("{key}.parallel"), "must be at least 1"));
        }
        let zone = m.timezone.as_deref().unwrap_or("Europe/Paris");
        let timezone = zone.parse::<chrono_tz::Tz>().map_err(|_| {
            self.err(
                &format!("{key}.timezone"),
                format!("'{zone}' is not a time zone name (Europe/Paris, UTC …)"),
            )
        })?;
        if m.participants_report == Some(0) {
            return Err(self.err(
                &format!("{key}.participants_report"),
                "must be the id of a custom report (its address ends with id=N)",
            ));
        }
        let max_fields = m.max_fields.unwrap_or(4000);
        if max_fields < 10 {
            return Err(self.err(&format!("{key}.max_fields"), "must be at least 10"));
        }
        let mut role_ids: BTreeMap<String, u64> = STANDARD_ROLE_IDS
            .iter()
            .map(|(r, i)| (r.to_string(), *i))
            .collect();
        role_ids.extend(m.role_ids.unwrap_or_default());
        Ok(MoodleSettings {
            url,
            token,
            timeout_s: m.timeout_s.unwrap_or(DEFAULT_MOODLE_TIMEOUT_S).max(1),
            parallel: m.parallel.unwrap_or(4),
            ca_file: m.ca_file.map(|f| self.rel(&f)),
            timezone,
            max_fields,
            role_ids,
            remove_extra_roles: m.remove_extra_roles,
            participants_report: m.participants_report,
        })
    }

    /// A share, when given: between 0 and 1.
    fn ratio(&self, key: &str, v: Option<f64>) -> Result<Option<f64>, ConfigError> {
        match v {
            Some(r) if !(0.0..=1.0).contains(&r) => Err(self.err(key, "must be between 0 and 1")),
            v => Ok(v),
        }
    }

    fn apogee(
        &self,
        raw: Option<file::RawApogee>,
    ) -> Result<(Option<SisSettings>, BTreeSet<String>), ConfigError> {
        let default_payment: BTreeSet<String> = ["P".to_string()].into();
        let Some(a) = raw else {
            return Ok((None, default_payment));
        };
        let sis = match (a.sqlite, a.oracle, a.csv) {
            (Some(p), None, None) => SisSettings::Sqlite(self.rel(&p)),
            (None, Some(o), None) => {
                let password = self
                    .secret(
                        "apogee.oracle",
                        "password",
                        o.password_env,
                        o.password_file,
                        o.password_credential,
                    )?
                    .ok_or_else(|| {
                        self.err(
                            "apogee.oracle",
                            "give password_env, password_file or password_credential",
                        )
                    })?;
                SisSettings::Oracle(OracleSettings {
                    connect: o.connect,
                    user: o.user,
                    password,
                    fetch_array_size: o.fetch_array_size.unwrap_or(1000).max(1),
                })
            }
            (None, None, Some(p)) => SisSettings::Csv(self.rel(&p)),
            _ => return Err(self.err("apogee", "give exactly one of sqlite:, oracle: or csv:")),
        };
        let payment = match a.payment {
            None => default_payment,
            Some(v) if v.is_empty() => {
                return Err(self.err(
                    "apogee.payment",
                    "list at least one ETA_PMT_IAE value (default [P])",
                ))
            }
            Some(v) => v.into_iter().map(|s| s.trim().to_string()).collect(),
        };
        Ok((Some(sis), payment))
    }

    /// An LDAP directory's connection: URL, TLS, bind, paging, batching.
    fn ldap(&self, key: &str, l: file::RawLdap) -> Result<LdapSettings, ConfigError> {
        let lkey = format!("{key}.ldap");
        if !(l.url.starts_with("ldap://") || l.url.starts_with("ldaps://")) {
            return Err(self.err(
                &format!("{lkey}.url"),
                format!("'{}' is not an ldap:// or ldaps:// URL", shown_url(&l.url)),
            ));
        }
        if l.starttls && l.url.starts_with("ldaps://") {
            return Err(self.err(
                &format!("{lkey}.starttls"),
                "StartTLS is for ldap:// URLs; ldaps:// is already TLS",
            ));
        }
        let password = self.secret(
            &lkey,
            "password",
            l.password_env,
            l.password_file,
            l.password_credential,
        )?;
        let bind = match (l.bind_dn, password) {
            (Some(dn), Some(pw)) => Some((dn, pw)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(self.err(
                    &format!("{lkey}.bind_dn"),
                    "needs password_env, password_file or password_credential",
                ))
            }
            (None, Some(_)) => return Err(self.err(&lkey, "a password without bind_dn")),
        };
        if l.page_size == Some(0) {
            return Err(self.err(&format!("{lkey}.page_size"), "must be at least 1"));
        }
        Ok(LdapSettings {
            url: l.url,
            base: l.base,
            starttls: l.starttls,
            bind,
            page_size: l.page_size.unwrap_or(1000),
            timeout_s: l.timeout_s.unwrap_or(30),
            ca_file: l.ca_file.map(|p| self.rel(&p)),
            tls_insecure_skip_verify: l.tls_insecure_skip_verify,
            batch_threshold: l.batch_threshold.unwrap_or(2000),
            batch_size: l.batch_size.unwrap_or(200).max(1),
        })
    }

    fn directory(&self, name: &str, d: RawDirectory) -> Result<DirectorySettings, ConfigError> {
        let key = format!("directories.{name}");
        let source = match (d.ldif, d.ldap) {
            (Some(p), None) => DirectorySource::Ldif {
                path: self.rel(&p),
                base: d.base,
            },
            (None, Some(_)) if d.base.is_some() => {
                return Err(self.err(
                    &format!("{key}.base"),
                    "base is for ldif:; an LDAP directory's base goes inside ldap:",
                ))
            }
            (None, Some(l)) => DirectorySource::Ldap(self.ldap(&key, l)?),
            _ => return Err(self.err(&key, "give exactly one of ldif: or ldap:")),
        };
        let filter = match d.filter {
            Some(f) => Some(
                Filter::parse(&f).map_err(|e| self.err(&format!("{key}.filter"), e.to_string()))?,
            ),
            None => None,
        };
        let state = match d.state {
            None => DEFAULT_STATE_ATTRIBUTES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            Some(file::OneOrMany::One(s)) => vec![s],
            Some(file::OneOrMany::Many(v)) => v,
        };
        if state.iter().all(|s| s.trim().is_empty()) {
            return Err(self.err(
                &format!("{key}.state"),
                "give the attribute(s) that hold the account state (default: supannRessourceEtat and supannRessourceEtatDate)",
            ));
        }
        let attr = |v: Option<String>, default: &str| {
            v.unwrap_or_else(|| default.to_string()).to_lowercase()
        };
        let max_shrink = self.ratio(&format!("{key}.max_shrink"), d.max_shrink)?;
        Ok(DirectorySettings {
            name: name.to_string(),
            source,
            filter,
            max_shrink,
            attrs: AttributeMap {
                student_id: attr(d.match_attr, "supannEtuId"),
                username: attr(d.username, "supannAliasLogin"),
                staff_id: attr(d.staff_id, "supannEmpId"),
                affiliation: attr(d.affiliation, "eduPersonAffiliation"),
                state: state.into_iter().map(|s| (s.to_lowercase(), s)).collect(),
                created: "createtimestamp".to_string(),
            },
        })
    }
}

fn names<V>(m: &BTreeMap<String, V>) -> String {
    if m.is_empty() {
        return "none defined".to_string();
    }
    m.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
}

/// A platform's keys about asking its own Moodle for its accounts.
/// A platform's keys that say where its accounts exist, as written.
struct AccountsWritten {
    directories: Option<Vec<String>>,
    list: Option<String>,
    username: Option<UsernameSource>,
    in_moodle: Option<crate::model::MoodleAccounts>,
}

struct AccountsInMoodle {
    accounts_in: Option<file::RawAccountsIn>,
    auth: Option<Vec<String>>,
    field: Option<crate::model::MatchField>,
    created_report: Option<u64>,
    min_age: u32,
    connected: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_without_its_credentials() {
        assert_eq!(
            shown_url("https://u:p%40ss@m.example.fr/x?y=1@2"),
            "https://m.example.fr/x?y=1@2"
        );
        assert_eq!(
            shown_url("ldaps://cn=x:pw@ldap.example.fr"),
            "ldaps://ldap.example.fr"
        );
        assert_eq!(shown_url("https://m.example.fr"), "https://m.example.fr");
        assert_eq!(shown_url("not a url"), "not a url");
    }

    const MINIMAL: &str = "version: 1\ndirectories:\n  u:\n    ldif: u.ldif\nplatforms:\n  p:\n    accounts: [u]\ncohorts:\n  c: { usernames: [Bob] }\nenrol:\n  - { cohort: c, platform: p, course: C1, role: student }\n";

    fn err(text: &str) -> String {
        parse(text, Path::new("conf/enrolgen.yaml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn the_web_service_channel_needs_a_connection_and_a_real_zone() {
        let ws = MINIMAL.replace(
            "    accounts: [u]\n",
            "    accounts: [u]\n    deliver: webservice\n",
        );
        assert_eq!(
            err(&ws),
            "conf/enrolgen.yaml:8: platforms.p.deliver: webservice needs the platform's moodle: connection (url and token)"
        );
        let zone = ws.replace(
            "    deliver: webservice\n",
            "    deliver: webservice\n    moodle: { url: \"https://m.example.fr\", token_env: T, timezone: Europe/Pariss }\n",
        );
        assert!(
            err(&zone)
                .contains("platforms.p.moodle.timezone: 'Europe/Pariss' is not a time zone name"),
            "{}",
            err(&zone)
        );
        let ok = zone.replace("Europe/Pariss", "Europe/Paris");
        let s = parse(&ok, Path::new("conf/enrolgen.yaml")).unwrap();
        let Delivery::Webservice(m) = &s.platforms["p"].delivery else {
            panic!(
                "not delivered through web services: {:?}",
                s.platforms["p"].delivery
            );
        };
        assert_eq!(m.max_fields, 4000);
        assert_eq!(m.role_ids["student"], 5);
        assert_eq!(m.participants_report, None);
        let report = |id: &str| {
            ok.replace(
                "timezone: Europe/Paris",
                &format!("participants_report: {id}"),
            )
        };
        let s = parse(&report("7"), Path::new("conf/enrolgen.yaml")).unwrap();
        assert_eq!(
            s.platforms["p"]
                .delivery
                .moodle()
                .unwrap()
                .participants_report,
            Some(7)
        );
        assert_eq!(
            err(&report("0")),
            "conf/enrolgen.yaml:9: platforms.p.moodle.participants_report: must be the id of a custom report (its address ends with id=N)"
        );
        assert!(
            err(&report("Participants")).contains("participants_report"),
            "{}",
            err(&report("Participants"))
        );
        let typo = ws.replace("deliver: webservice", "deliver: webservices");
        assert!(err(&typo).contains("webservices"), "{}", err(&typo));
    }

    #[test]
    fn the_report_of_new_accounts_goes_with_accounts_in_moodle_and_an_age() {
        let with = |extra: &str| {
            MINIMAL.replace(
                "    accounts: [u]\n",
                &format!("    accounts: [u]\n    moodle: {{ url: \"https://m.example.fr\", token_env: T }}\n{extra}"),
            )
        };
        assert!(
            err(&with("    moodle_created_report: 4\n"))
                .contains("platforms.p.moodle_created_report: goes with accounts_in: moodle"),
            "{}",
            err(&with("    moodle_created_report: 4\n"))
        );
        let no_age = with("    accounts_in: moodle\n    moodle_created_report: 4\n");
        assert!(
            err(&no_age)
                .contains("platforms.p.moodle_created_report: goes with min_account_age_days"),
            "{}",
            err(&no_age)
        );
        let ok = with(
            "    accounts_in: moodle\n    min_account_age_days: 1\n    moodle_created_report: 4\n",
        );
        let s = parse(&ok, Path::new("conf/enrolgen.yaml")).unwrap();
        let rules = s.platforms["p"].accounts.in_moodle().unwrap();
        assert_eq!(rules.created_report, Some(4));
    }

    #[test]
    fn minimal_config_loads_with_defaults() {
        let s = parse(MINIMAL, Path::new("conf/enrolgen.yaml")).unwrap();
        assert_eq!(s.year, YearSetting::Auto { month: 9, day: 1 });
        assert_eq!(
            s.directories["u"].source,
            DirectorySource::Ldif {
                path: PathBuf::from("conf/u.ldif"),
                base: None
            }
        );
        assert_eq!(s.directories["u"].attrs.student_id, "supannetuid");
        assert_eq!(s.platforms["p"].csv.delimiter, b';');
        assert_eq!(
            s.cohorts["c"].source,
            CohortSource::Usernames(vec!["Bob".into()])
        );
        assert_eq!(s.rules[0].number, 1);
    }

    #[test]
    fn account_state_attributes_default_to_both_and_take_one_or_a_list() {
        let state = |text: &str| -> Vec<String> {
            parse(text, Path::new("conf/enrolgen.yaml"))
                .unwrap()
                .directories["u"]
                .attrs
                .state
                .iter()
                .map(|(lower, shown)| format!("{lower}/{shown}"))
                .collect()
        };
        assert_eq!(
            state(MINIMAL),
            [
                "supannressourceetat/supannRessourceEtat",
                "supannressourceetatdate/supannRessourceEtatDate"
            ]
        );
        let one = MINIMAL.replace("ldif: u.ldif\n", "ldif: u.ldif\n    state: etatCompte\n");
        assert_eq!(state(&one), ["etatcompte/etatCompte"]);
        let none = MINIMAL.replace("ldif: u.ldif\n", "ldif: u.ldif\n    state: []\n");
        assert_eq!(
            err(&none),
            "conf/enrolgen.yaml:5: directories.u.state: give the attribute(s) that hold the account state (default: supannRessourceEtat and supannRessourceEtatDate)"
        );
    }

    #[test]
    fn an_alias_bomb_is_refused_quickly() {
        // "Billion laughs": nine levels of nine aliases would expand to 9^9 strings,
        // once at the top level, once where a list of strings is expected.
        let mut top =
            String::from("version: 1\nx0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        let mut typed = String::from("version: 1\nplatforms:\n  p0:\n    accounts: [u]\n    roles: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..9 {
            let refs = vec![format!("*x{}", i - 1); 9].join(", ");
            top.push_str(&format!("x{i}: &x{i} [{refs}]\n"));
            typed.push_str(&format!(
                "  p{i}:\n    accounts: [u]\n    roles: &x{i} [{refs}]\n"
            ));
        }
        let start = std::time::Instant::now();
        assert!(err(&top).contains("unknown field `x0`"));
        assert_eq!(
            err(&typed),
            "conf/enrolgen.yaml:5:12: platforms.p1.roles[0]: invalid type: sequence, expected a string"
        );
        assert!(
            start.elapsed() < std::time::Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn platform_names_cannot_leave_the_output_directory() {
        for bad in ["\"../etc\"", "\"a/b\"", "\".hidden\"", "\"a\\0b\"", "\"\""] {
            let text = MINIMAL
                .replace("  p:\n", &format!("  {bad}:\n"))
                .replace("platform: p,", &format!("platform: {bad},"));
            assert!(
                err(&text).contains("a platform name is also a folder and file name"),
                "{bad}: {}",
                err(&text)
            );
        }
    }

    #[test]
    fn file_mode_is_octal_and_owner_readable() {
        let with = |m: &str| MINIMAL.to_string() + &format!("file_mode: \"{m}\"\n");
        assert_eq!(
            parse(&with("0600"), Path::new("c.yaml")).unwrap().file_mode,
            0o600
        );
        assert_eq!(
            parse(MINIMAL, Path::new("c.yaml")).unwrap().file_mode,
            0o640
        );
        for bad in ["0400", "888", "01777", "rw-r-----", "0666", "0644", "0601"] {
            assert!(err(&with(bad)).contains("file_mode: "), "{bad}");
        }
    }

    #[test]
    fn base_is_for_ldif_directories() {
        let ldif = MINIMAL.replace("ldif: u.ldif\n", "ldif: u.ldif\n    base: ou=people,dc=x\n");
        assert_eq!(
            parse(&ldif, Path::new("conf/enrolgen.yaml"))
                .unwrap()
                .directories["u"]
                .source,
            DirectorySource::Ldif {
                path: PathBuf::from("conf/u.ldif"),
                base: Some("ou=people,dc=x".into())
            }
        );
        let ldap = MINIMAL.replace(
            "ldif: u.ldif\n",
            "ldap: { url: \"ldap://h\", base: \"dc=x\" }\n    base: ou=people,dc=x\n",
        );
        assert_eq!(
            err(&ldap),
            "conf/enrolgen.yaml:5: directories.u.base: base is for ldif:; an LDAP directory's base goes inside ldap:"
        );
    }

    #[test]
    fn year_auto_switches_on_year_start() {
        let y = YearSetting::Auto { month: 9, day: 1 };
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(y.resolve(d("2026-08-31")), "2025");
        assert_eq!(y.resolve(d("2026-09-01")), "2026");
    }

    #[test]
    fn undefined_cohort_names_line_and_key() {
        let e = err(&MINIMAL.replace("cohort: c,", "cohort: nope,"));
        assert_eq!(e, "conf/enrolgen.yaml:11: enrol[0].cohort: cohort 'nope' is not defined under cohorts (c)");
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let e = err(&MINIMAL.replace("accounts: [u]", "accounts: [u]\n    delimter: x"));
        assert!(
            e.starts_with("conf/enrolgen.yaml:8:5: platforms.p: unknown field `delimter`"),
            "{e}"
        );
    }

    #[test]
    fn a_re_registration_window_needs_a_year_that_turns() {
        let with = |extra: &str| MINIMAL.replace("version: 1\n", &format!("version: 1\n{extra}"));
        let e = err(&with("year: 2026\nkeep_previous_year_until: \"10-31\"\n"));
        assert!(e.starts_with("conf/enrolgen.yaml:3: keep_previous_year_until: a re-registration window needs year: auto"), "{e}");
        let e = err(&with("keep_previous_year_until: \"31-10\"\n"));
        assert!(
            e.contains("'31-10' is not a month-day written MM-DD"),
            "{e}"
        );
        let s = parse(
            &with("keep_previous_year_until: \"10-31\"\n"),
            Path::new("c.yaml"),
        )
        .unwrap();
        let d = |t: &str| NaiveDate::parse_from_str(t, "%Y-%m-%d").unwrap();
        let t = s.turnover(d("2026-09-15")).unwrap();
        assert!(t.open && t.ends == d("2026-10-31"));
    }

    #[test]
    fn a_course_names_only_its_year() {
        let e = err(&MINIMAL.replace("course: C1", "course: \"C1-{group}\""));
        assert!(
            e.starts_with("conf/enrolgen.yaml:11: enrol[0].course: course 'C1-{group}': {group} depends on the person"),
            "{e}"
        );
        let s = parse(
            &MINIMAL.replace("course: C1", "course: \"C1-{year}\""),
            Path::new("c.yaml"),
        )
        .unwrap();
        assert_eq!(s.year_courses.len(), 1);
        let s = s.for_year("2026");
        assert_eq!(s.rules[0].courses, ["C1-2026"]);
        assert!(s.earlier_courses("p", "2026").contains("C1-2025"));
    }

    #[test]
    fn course_with_delimiter_is_refused_at_load() {
        let e = err(&MINIMAL.replace("course: C1", "course: \"C;1\""));
        assert!(
            e.starts_with(
                "conf/enrolgen.yaml:11: enrol[0].course: course 'C;1' contains the delimiter"
            ),
            "{e}"
        );
    }

    #[test]
    fn role_labels_name_roles_of_the_platform_once_each() {
        let base = "version: 1\ndirectories:\n  d: { ldif: x.ldif }\nplatforms:\n  p:\n    accounts: [d]\n    roles: [student, teacher]\n";
        let ok = format!("{base}    role_labels: {{ \"Tuteur\": teacher, \"Élève\": student }}\n");
        let s = parse(&ok, Path::new("conf/enrolgen.yaml")).unwrap();
        assert_eq!(
            s.platforms["p"].role_labels,
            [
                ("Tuteur".to_string(), "teacher".to_string()),
                ("Élève".to_string(), "student".to_string())
            ]
        );
        let unknown = format!("{base}    role_labels: {{ \"Chef\": manager }}\n");
        let e = parse(&unknown, Path::new("conf/enrolgen.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("platforms.p.role_labels.Chef: 'manager' is not among the platform's roles"),
            "{e}"
        );
        let twice =
            format!("{base}    role_labels: {{ \"Élève\": student, \"eleve\": student }}\n");
        let e = parse(&twice, Path::new("conf/enrolgen.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("the same label as"), "{e}");
    }
}
