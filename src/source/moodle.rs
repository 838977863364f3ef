//! Moodle as a source: what a platform holds, read through its REST web services
//! with a token (`verify`). Answers are converted here into `CourseNow`; nothing
//! past this module sees Moodle's JSON.
//!
//! Cost grows with courses, never with students: the courses' ids, then two reads
//! per course for its enrolled users (active, then the others), sent a few at a
//! time. When
//! the token's service offers `tool_mobile_call_external_functions` (what Moodle's
//! own app uses to send several calls in one request; it works with the app's
//! service disabled), the reads go up to fifty per request: a Moodle request
//! costs its bootstrap (≈ 0.1 s) whatever it does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use crate::config::{MoodleSettings, Secret};
use crate::model::{CourseNow, EnrolledUser, MatchField, MoodleNow, PlatformUser};
pub use crate::source::moodle_api::Refused;
use crate::source::moodle_api::{MoodleApi, Write, Written};
use crate::source::SourceError;

/// The functions `verify` calls (and `check` looks for in the token's service).
pub const VERIFY_FUNCTIONS: [&str; 3] = [
    "core_webservice_get_site_info",
    "core_course_get_courses_by_field",
    "core_enrol_get_enrolled_users",
];

/// The function that runs several of the service's functions in one request; each
/// still checks its own capabilities, so offering it grants nothing more.
pub const BATCH_FUNCTION: &str = "tool_mobile_call_external_functions";

/// The functions that read a course's groups and their members in a few queries.
/// When the service offers both (the web-service channel's token may: they need
/// `moodle/course:managegroups`), a course's users are read without their groups,
/// which costs Moodle a query and a formatted description per participant (a third
/// of a quiet night's CPU on the harness; docs/performance.md).
pub const GROUP_READS: [&str; 2] = [
    "core_group_get_course_groups",
    "core_group_get_group_members",
];

/// Groups per `core_group_get_group_members` call.
const GROUPS_PER_CALL: usize = 100;

/// The function `accounts_in: moodle` reads accounts with.
pub const USERS_FUNCTION: &str = "core_user_get_users_by_field";

/// Usernames per `core_user_get_users_by_field` call: a hundred form fields, well
/// within `max_fields`, and an answer of a few hundred kilobytes.
pub const USERS_PER_LOOKUP: usize = 100;

/// Calls per batched request at most: the answer stays a few megabytes, and the
/// request well within its timeout (a hundred reads of a 50,000-student university
/// took longer than 30 s on the harness).
const MAX_PER_BATCH: usize = 50;

/// Calls per batched request at least, before they are spread over parallel
/// requests: a request's bootstrap costs as much as twenty small reads.
const MIN_PER_BATCH: usize = 20;

/// A read to make: a function and its arguments, named as in Moodle's API.
#[derive(Debug, Clone)]
struct Request {
    function: &'static str,
    args: Value,
}

/// A course's groups as the group functions give them.
#[derive(Debug, Default)]
struct CourseGroups {
    /// Name → id, every group of the course.
    names: BTreeMap<String, u64>,
    /// User id → the names of the groups they are in.
    members: BTreeMap<u64, BTreeSet<String>>,
}

/// What one read of a course's enrolled users gives.
#[derive(Debug, Default)]
struct Enrolled {
    /// By username.
    users: BTreeMap<String, EnrolledUser>,
    /// The ids of the roles they hold, by shortname.
    role_ids: BTreeMap<String, u64>,
    /// The groups they are in, name → id.
    groups: BTreeMap<String, u64>,
}

/// Users asked per `core_user_get_users_by_field` call at most.
const MAX_USERS_PER_CALL: usize = 500;

/// Where the REST server answers, below the site's address.
const ENDPOINT: &str = "/webservice/rest/server.php";

/// What `core_webservice_get_site_info` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteInfo {
    pub sitename: String,
    pub release: String,
    pub username: String,
    pub functions: BTreeSet<String>,
}

pub struct Moodle {
    platform: String,
    url: String,
    token: Secret,
    agent: ureq::Agent,
    parallel: usize,
    max_fields: usize,
    requests: AtomicUsize,
    /// The custom report the courses' users are read from, if any.
    participants: Option<u64>,
    /// The functions the service offers: asked once, when first needed.
    functions: Mutex<Option<std::sync::Arc<BTreeSet<String>>>>,
}

impl Moodle {
    /// Prepares the connection (reads the token; nothing is sent yet).
    pub fn new(platform: &str, s: &MoodleSettings) -> Result<Moodle, SourceError> {
        let what = format!(
            "Moodle of {platform} ({})",
            crate::config::shown_url(&s.url)
        );
        let token = s
            .token
            .read()
            .map_err(|e| SourceError::failed(&what, "cannot read the web-service token", e))?;
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(ca) = &s.ca_file {
            let pem = std::fs::read(ca).map_err(|e| SourceError::read(ca, e))?;
            let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(SourceError::BadData {
                    path: ca.clone(),
                    line: 1,
                    message: "no PEM certificate in the CA file".into(),
                });
            }
            tls = tls.root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(certs)));
        }
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(s.timeout_s)))
            .http_status_as_error(false)
            // Moodle redirects a request whose host is not the site's: say so
            // rather than follow it to an HTML page.
            .max_redirects(0)
            .tls_config(tls.build())
            .build();
        Ok(Moodle {
            platform: platform.to_string(),
            url: s.url.clone(),
            token,
            agent: ureq::Agent::new_with_config(config),
            parallel: s.parallel.max(1),
            max_fields: s.max_fields,
            requests: AtomicUsize::new(0),
            participants: s.participants_report,
            functions: Mutex::new(None),
        })
    }

    /// Names the platform's Moodle and its address, for messages.
    pub fn describe(&self) -> String {
        format!(
            "Moodle of {} ({})",
            self.platform,
            crate::config::shown_url(&self.url)
        )
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// Calls one function; Moodle's errors (HTTP 200 with an `exception`) become
    /// errors naming the function, the error code and what to do.
    pub fn call(&self, function: &str, params: &[(String, String)]) -> Result<Value, SourceError> {
        match self.send(function, params)? {
            Ok(v) => Ok(v),
            Err(r) => Err(SourceError::Refused {
                what: self.describe(),
                action: format!(
                    "{function}: refused: {}: {}{}",
                    r.code,
                    r.message,
                    advice(&r.code, function)
                ),
            }),
        }
    }

    /// Calls one function: the answer, or Moodle's refusal (its error code and
    /// message) as a value; a transport failure or an answer that is not Moodle's
    /// is an error.
    pub fn send(
        &self,
        function: &str,
        params: &[(String, String)],
    ) -> Result<Result<Value, Refused>, SourceError> {
        let fail = |action: String| SourceError::Failed {
            what: self.describe(),
            action,
            cause: None,
        };
        let mut form: Vec<(&str, &str)> = vec![
            ("wstoken", self.token.expose()),
            ("wsfunction", function),
            ("moodlewsrestformat", "json"),
        ];
        form.extend(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let started = Instant::now();
        self.requests.fetch_add(1, Ordering::Relaxed);
        let sent = self
            .agent
            .post(format!("{}{ENDPOINT}", self.url))
            .send_form(form);
        let mut response = sent.map_err(|e| fail(format!("{function}: {}", transport(&e))))?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        let body = response
            .body_mut()
            .with_config()
            .limit(1 << 28)
            .read_to_string()
            .map_err(|e| {
                fail(format!(
                    "{function}: cannot read the answer: {}",
                    transport(&e)
                ))
            })?;
        tracing::debug!(
            function,
            seconds = started.elapsed().as_secs_f64(),
            "web service answered"
        );
        if let Some(to) = location.filter(|_| (300..400).contains(&status)) {
            return Err(fail(format!(
                "{function}: redirected to {to}: the url must be the site's own address (its wwwroot)"
            )));
        }
        if status != 200 {
            return Err(fail(format!(
                "{function}: HTTP status {status} (is the url the site's root?)"
            )));
        }
        let value: Value = serde_json::from_str(&body).map_err(|_| {
            fail(format!(
                "{function}: the answer is not JSON (is the url the site's root, and the REST protocol enabled?)"
            ))
        })?;
        if let Some(code) = value.get("errorcode").and_then(Value::as_str) {
            let message = value
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default();
            return Ok(Err(Refused {
                code: code.to_string(),
                message: message.to_string(),
            }));
        }
        Ok(Ok(value))
    }

    pub fn site_info(&self) -> Result<SiteInfo, SourceError> {
        #[derive(Deserialize)]
        struct Raw {
            sitename: String,
            #[serde(default)]
            release: String,
            #[serde(default)]
            username: String,
            #[serde(default)]
            functions: Vec<Function>,
        }
        #[derive(Deserialize)]
        struct Function {
            name: String,
        }
        let v = self.call("core_webservice_get_site_info", &[])?;
        let raw: Raw = serde_json::from_value(v)
            .map_err(|e| self.unexpected("core_webservice_get_site_info", &e))?;
        Ok(SiteInfo {
            sitename: raw.sitename,
            release: raw.release,
            username: raw.username,
            functions: raw.functions.into_iter().map(|f| f.name).collect(),
        })
    }

    pub(crate) fn unexpected(&self, function: &str, e: &dyn std::fmt::Display) -> SourceError {
        SourceError::Failed {
            what: self.describe(),
            action: format!("{function}: unexpected answer ({e})"),
            cause: None,
        }
    }

    /// `core_course_get_courses_by_field`'s courses, shortname → id.
    fn courses(&self, params: &[(String, String)]) -> Result<BTreeMap<String, u64>, SourceError> {
        let v = self.call("core_course_get_courses_by_field", params)?;
        self.parse_courses(v)
    }

    /// `core_course_get_courses_by_field`'s answer, shortname → id.
    fn parse_courses(&self, v: Value) -> Result<BTreeMap<String, u64>, SourceError> {
        #[derive(Deserialize)]
        struct Raw {
            courses: Vec<Course>,
        }
        #[derive(Deserialize)]
        struct Course {
            id: u64,
            shortname: String,
        }
        let f = "core_course_get_courses_by_field";
        let raw: Raw = serde_json::from_value(v).map_err(|e| self.unexpected(f, &e))?;
        Ok(raw
            .courses
            .into_iter()
            .map(|c| (unescape(&c.shortname), c.id))
            .collect())
    }

    /// One read of a course's users: by username, with the ids of their roles and
    /// of their groups.
    fn parse_enrolled(&self, v: Value) -> Result<Enrolled, SourceError> {
        #[derive(Deserialize)]
        struct User {
            id: u64,
            username: String,
            #[serde(default)]
            roles: Vec<Role>,
            // Absent (not empty) for a user in no group.
            #[serde(default)]
            groups: Vec<Group>,
        }
        #[derive(Deserialize)]
        struct Role {
            roleid: u64,
            shortname: String,
        }
        #[derive(Deserialize)]
        struct Group {
            id: u64,
            name: String,
        }
        let users: Vec<User> = serde_json::from_value(v)
            .map_err(|e| self.unexpected("core_enrol_get_enrolled_users", &e))?;
        let mut out = Enrolled::default();
        for u in users {
            for r in &u.roles {
                out.role_ids.insert(r.shortname.clone(), r.roleid);
            }
            for g in &u.groups {
                out.groups.insert(unescape(&g.name), g.id);
            }
            let user = EnrolledUser {
                id: Some(u.id),
                roles: u.roles.into_iter().map(|r| r.shortname).collect(),
                groups: u.groups.iter().map(|g| unescape(&g.name)).collect(),
            };
            out.users.insert(u.username, user);
        }
        Ok(out)
    }

    /// Reads these courses: their ids, then each one's users, active and not, with
    /// their roles and groups (the groups seen on them are the course's known
    /// groups); batched when the service allows it, `parallel` requests at a time;
    /// the first error stops it. A course Moodle lacks is `None`.
    /// What Moodle holds of these courses, and the read timed for the summary
    /// under the stable identifier `id`: what `verify` and a first night read.
    pub fn read_courses_timed(
        &self,
        id: String,
        shortnames: &[String],
    ) -> Result<(MoodleNow, crate::model::SourceTiming), SourceError> {
        let (started, before) = (Instant::now(), self.requests());
        let now = self.read_courses(shortnames)?;
        let records = now
            .values()
            .flatten()
            .map(|c| c.active.len() + c.inactive.len())
            .sum();
        let timing = crate::model::SourceTiming::of_moodle(
            id,
            self.describe(),
            started,
            records,
            self.requests() - before,
        );
        Ok((now, timing))
    }

    pub fn read_courses(&self, shortnames: &[String]) -> Result<MoodleNow, SourceError> {
        if let Some(report) = self.participants {
            return self.read_by_report(report, shortnames);
        }
        let ids = self.ids_of(shortnames)?;
        self.users_of(shortnames, &ids)
    }

    /// Each course's active and other users; a course without an id is `None`.
    fn users_of(
        &self,
        shortnames: &[String],
        ids: &BTreeMap<String, u64>,
    ) -> Result<MoodleNow, SourceError> {
        let found: Vec<(&String, u64)> = shortnames
            .iter()
            .filter_map(|n| ids.get(n).map(|id| (n, *id)))
            .collect();
        let by_groups = self.offers(GROUP_READS[0])? && self.offers(GROUP_READS[1])?;
        let mut requests: Vec<Request> = found
            .iter()
            .flat_map(|(_, id)| {
                [
                    enrolled_request(*id, true, by_groups),
                    enrolled_request(*id, false, by_groups),
                ]
            })
            .collect();
        let ids: Vec<u64> = found.iter().map(|(_, id)| *id).collect();
        if by_groups {
            // The courses' groups travel in the same requests as their users.
            requests.extend(ids.iter().map(|id| groups_request(*id)));
        }
        let mut answers = self.many(&requests)?;
        let mut grouped = if by_groups {
            let groups = answers.split_off(2 * found.len());
            let names = self.parse_groups(&ids, groups)?;
            self.with_members(names)?
        } else {
            BTreeMap::new()
        };
        let mut answers = answers.into_iter();
        let mut now: MoodleNow = shortnames.iter().map(|n| (n.clone(), None)).collect();
        for (name, id) in found {
            let (Some(a), Some(i)) = (answers.next(), answers.next()) else {
                return Err(self.unexpected("core_enrol_get_enrolled_users", &"answers missing"));
            };
            let mut active = self.parse_enrolled(a)?;
            let mut others = self.parse_enrolled(i)?;
            active.role_ids.extend(others.role_ids);
            active.groups.extend(others.groups);
            if let Some(g) = grouped.remove(&id) {
                for u in active.users.values_mut().chain(others.users.values_mut()) {
                    let member = u.id.and_then(|id| g.members.get(&id));
                    u.groups = member.cloned().unwrap_or_default();
                }
                active.groups = g.names;
            }
            now.insert(
                name.clone(),
                Some(CourseNow {
                    id,
                    active: active.users,
                    inactive: others.users,
                    groups: active.groups,
                    role_ids: active.role_ids,
                }),
            );
        }
        Ok(now)
    }

    /// These courses' groups (course → name → id) with who is in them: a
    /// `core_group_get_group_members` call per `GROUPS_PER_CALL` groups, batched.
    fn with_members(
        &self,
        groups: BTreeMap<u64, BTreeMap<String, u64>>,
    ) -> Result<BTreeMap<u64, CourseGroups>, SourceError> {
        #[derive(Deserialize)]
        struct Members {
            groupid: u64,
            userids: Vec<u64>,
        }
        let mut out = BTreeMap::new();
        let mut group_of: BTreeMap<u64, (u64, String)> = BTreeMap::new();
        for (course, names) in groups {
            for (name, id) in &names {
                group_of.insert(*id, (course, name.clone()));
            }
            let members = BTreeMap::new();
            out.insert(course, CourseGroups { names, members });
        }
        let f = GROUP_READS[1];
        let ids: Vec<u64> = group_of.keys().copied().collect();
        let requests: Vec<Request> = ids
            .chunks(GROUPS_PER_CALL)
            .map(|chunk| Request {
                function: f,
                args: serde_json::json!({ "groupids": chunk }),
            })
            .collect();
        let mut answered = BTreeSet::new();
        for v in self.many(&requests)? {
            let members: Vec<Members> =
                serde_json::from_value(v).map_err(|e| self.unexpected(f, &e))?;
            for m in members {
                let Some((course, name)) = group_of.get(&m.groupid) else {
                    let what = format!("members of group {}, which was not asked", m.groupid);
                    return Err(self.unexpected(f, &what));
                };
                answered.insert(m.groupid);
                if let Some(c) = out.get_mut(course) {
                    for u in m.userids {
                        c.members.entry(u).or_default().insert(name.clone());
                    }
                }
            }
        }
        if let Some(missing) = ids.iter().find(|g| !answered.contains(*g)) {
            return Err(self.unexpected(f, &format!("no answer for group {missing}")));
        }
        Ok(out)
    }

    /// The ids of these courses (a shortname Moodle lacks is absent): one lookup per
    /// course, batched, when the service allows it; otherwise one call for all the
    /// site's courses.
    pub fn ids_of(&self, shortnames: &[String]) -> Result<BTreeMap<String, u64>, SourceError> {
        if !self.batching()? {
            // Every course of the site, in one call.
            return self.courses(&[]);
        }
        let requests: Vec<Request> = shortnames
            .iter()
            .map(|n| Request {
                function: "core_course_get_courses_by_field",
                args: serde_json::json!({"field": "shortname", "value": n}),
            })
            .collect();
        let mut ids = BTreeMap::new();
        for (name, v) in shortnames.iter().zip(self.many(&requests)?) {
            // Shortnames are compared exactly, as the upload tool does.
            if let Some(id) = self.parse_courses(v)?.get(name) {
                ids.insert(name.clone(), *id);
            }
        }
        Ok(ids)
    }

    /// The accounts whose `field` holds these values, as the site knows them, by
    /// that value (a value no account holds, or a deleted account, is absent):
    /// `USERS_PER_LOOKUP` per call, batched when the service allows it, `parallel`
    /// requests at a time. By idnumber, the answer must show each account's
    /// idnumber, or it could not be told which account is whose.
    pub fn users(
        &self,
        field: MatchField,
        values: &[String],
    ) -> Result<BTreeMap<String, PlatformUser>, SourceError> {
        #[derive(Deserialize)]
        struct User {
            username: String,
            #[serde(default)]
            idnumber: Option<String>,
            #[serde(default)]
            auth: Option<String>,
            #[serde(default)]
            suspended: Option<bool>,
        }
        let requests: Vec<Request> = values
            .chunks(USERS_PER_LOOKUP)
            .map(|chunk| Request {
                function: USERS_FUNCTION,
                args: serde_json::json!({"field": field.name(), "values": chunk}),
            })
            .collect();
        // A field a decision rests on, left out of the answer, is never a default:
        // Moodle leaves out the fields a site hides from a token that may not see
        // them.
        let hidden = |what: &str, fix: &str| SourceError::Failed {
            what: self.describe(),
            action: format!("{USERS_FUNCTION} answers without the accounts' {what}: {fix}"),
            cause: None,
        };
        let mut out: BTreeMap<String, PlatformUser> = BTreeMap::new();
        for v in self.many(&requests)? {
            let users: Vec<User> =
                serde_json::from_value(v).map_err(|e| self.unexpected(USERS_FUNCTION, &e))?;
            for u in users {
                let key = match field {
                    MatchField::Username => u.username.clone(),
                    MatchField::Idnumber => u.idnumber.clone().ok_or_else(|| {
                        hidden("idnumber", "add idnumber to the site's showuseridentity, or give the token's role moodle/user:viewalldetails")
                    })?,
                };
                let suspended = u.suspended.ok_or_else(|| {
                    hidden("suspended field (the site's hiddenuserfields hides it)", "give the token's role moodle/user:viewhiddendetails, or take suspended out of hiddenuserfields")
                })?;
                let auth = u.auth.ok_or_else(|| {
                    hidden(
                        "authentication method",
                        "give the token's role moodle/user:viewalldetails",
                    )
                })?;
                let user = PlatformUser {
                    username: u.username,
                    idnumber: u.idnumber,
                    auth,
                    suspended,
                    created_from: None,
                    also: Vec::new(),
                };
                // Moodle allows one idnumber on several accounts: none of them is
                // the person's for sure.
                match out.entry(key) {
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(user);
                    }
                    std::collections::btree_map::Entry::Occupied(mut e) => {
                        e.get_mut().also.push(user.username);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Whether the token's service offers `BATCH_FUNCTION` (asked once).
    fn batching(&self) -> Result<bool, SourceError> {
        self.offers(BATCH_FUNCTION)
    }

    /// Whether the token's service offers `function` (site info, asked once).
    pub(crate) fn offers(&self, function: &str) -> Result<bool, SourceError> {
        let mut known = self
            .functions
            .lock()
            .map_err(|_| self.unexpected("core_webservice_get_site_info", &"lock poisoned"))?;
        if let Some(f) = known.as_ref() {
            return Ok(f.contains(function));
        }
        let functions = std::sync::Arc::new(self.site_info()?.functions);
        let offered = functions.contains(function);
        *known = Some(functions);
        Ok(offered)
    }

    /// The answers to these reads, in their order: fifty per request through
    /// `BATCH_FUNCTION` when the service offers it, one per request otherwise;
    /// `parallel` requests at a time. The first refusal is an error.
    fn many(&self, requests: &[Request]) -> Result<Vec<Value>, SourceError> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        if !self.batching()? {
            return self.each(requests, |r| self.call(r.function, &form(&r.args)));
        }
        // Three fields for the request itself, two per call.
        let fit = (self.max_fields.saturating_sub(3) / 2).max(1);
        let per = requests
            .len()
            .div_ceil(self.parallel)
            .clamp(MIN_PER_BATCH, MAX_PER_BATCH)
            .min(fit);
        let chunks: Vec<&[Request]> = requests.chunks(per).collect();
        let answers = self.each(&chunks, |chunk| self.batch(chunk))?;
        Ok(answers.into_iter().flatten().collect())
    }

    /// One request running these calls.
    fn batch(&self, chunk: &[Request]) -> Result<Vec<Value>, SourceError> {
        #[derive(Deserialize)]
        struct Raw {
            responses: Vec<Response>,
        }
        #[derive(Deserialize)]
        struct Response {
            error: bool,
            #[serde(default)]
            data: Option<String>,
            #[serde(default)]
            exception: Option<String>,
        }
        #[derive(Deserialize, Default)]
        struct Exception {
            #[serde(default)]
            errorcode: String,
            #[serde(default)]
            message: String,
        }
        let params: Vec<(String, String)> = chunk
            .iter()
            .enumerate()
            .flat_map(|(i, r)| {
                [
                    (format!("requests[{i}][function]"), r.function.to_string()),
                    (format!("requests[{i}][arguments]"), r.args.to_string()),
                ]
            })
            .collect();
        let v = self.call(BATCH_FUNCTION, &params)?;
        let raw: Raw =
            serde_json::from_value(v).map_err(|e| self.unexpected(BATCH_FUNCTION, &e))?;
        let mut out = Vec::with_capacity(chunk.len());
        for (r, answer) in chunk.iter().zip(raw.responses) {
            if answer.error {
                // Moodle stops at the first call that fails.
                let e: Exception = answer
                    .exception
                    .as_deref()
                    .and_then(|x| serde_json::from_str(x).ok())
                    .unwrap_or_default();
                let message = if e.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", e.message)
                };
                return Err(SourceError::Refused {
                    what: self.describe(),
                    action: format!(
                        "{} (in {BATCH_FUNCTION}): refused: {}{message}{}",
                        r.function,
                        e.errorcode,
                        advice(&e.errorcode, r.function)
                    ),
                });
            }
            let data = match answer.data.as_deref() {
                Some(d) => serde_json::from_str(d).map_err(|e| self.unexpected(r.function, &e))?,
                None => Value::Null,
            };
            out.push(data);
        }
        if out.len() != chunk.len() {
            return Err(self.unexpected(BATCH_FUNCTION, &"fewer answers than calls"));
        }
        Ok(out)
    }

    /// `f` on every item, `parallel` at a time, results in the items' order; the
    /// first error stops it.
    fn each<I: Sync, T: Send>(
        &self,
        items: &[I],
        f: impl Fn(&I) -> Result<T, SourceError> + Sync,
    ) -> Result<Vec<T>, SourceError> {
        let next = Mutex::new(items.iter().enumerate());
        let found: Mutex<Vec<(usize, T)>> = Mutex::new(Vec::new());
        let error: Mutex<Option<SourceError>> = Mutex::new(None);
        std::thread::scope(|scope| {
            for _ in 0..self.parallel.min(items.len().max(1)) {
                scope.spawn(|| loop {
                    if error.lock().map_or(true, |e| e.is_some()) {
                        return;
                    }
                    let Some((i, item)) = next.lock().ok().and_then(|mut it| it.next()) else {
                        return;
                    };
                    match f(item) {
                        Ok(t) => {
                            if let Ok(mut v) = found.lock() {
                                v.push((i, t));
                            }
                        }
                        Err(e) => {
                            if let Ok(mut slot) = error.lock() {
                                slot.get_or_insert(e);
                            }
                            return;
                        }
                    }
                });
            }
        });
        if let Some(e) = error.into_inner().ok().flatten() {
            return Err(e);
        }
        let mut found = found.into_inner().unwrap_or_default();
        found.sort_by_key(|(i, _)| *i);
        Ok(found.into_iter().map(|(_, t)| t).collect())
    }

    /// The ids of these users, by username (an unknown username is absent), asked
    /// at most `per_call` at a time, spread over the parallel requests.
    fn user_ids_by(
        &self,
        usernames: &[&str],
        per_call: usize,
    ) -> Result<BTreeMap<String, u64>, SourceError> {
        #[derive(Deserialize)]
        struct User {
            id: u64,
            username: String,
        }
        let f = "core_user_get_users_by_field";
        // At most MAX_USERS_PER_CALL: a call must answer within the timeout (4,000
        // users in one call ran past 30 s on the harness with 50,000 students).
        let per = per_call
            .min(MAX_USERS_PER_CALL)
            .min(usernames.len().div_ceil(self.parallel))
            .max(1);
        let chunks: Vec<&[&str]> = usernames.chunks(per).collect();
        let found = self.each(&chunks, |chunk| {
            let mut params = vec![p("field", "username")];
            params.extend(
                chunk
                    .iter()
                    .enumerate()
                    .map(|(i, u)| (format!("values[{i}]"), u.to_string())),
            );
            let v = self.call(f, &params)?;
            let users: Vec<User> = serde_json::from_value(v).map_err(|e| self.unexpected(f, &e))?;
            Ok(users)
        })?;
        Ok(found
            .into_iter()
            .flatten()
            .map(|u| (u.username, u.id))
            .collect())
    }

    /// Every group of these courses, name → id: one read per course, batched when
    /// the service allows it.
    pub(crate) fn groups_of(
        &self,
        course_ids: &[u64],
    ) -> Result<BTreeMap<u64, BTreeMap<String, u64>>, SourceError> {
        let requests: Vec<Request> = course_ids.iter().map(|id| groups_request(*id)).collect();
        let answers = self.many(&requests)?;
        self.parse_groups(course_ids, answers)
    }

    /// `core_group_get_course_groups`'s answers for these courses, in their order.
    fn parse_groups(
        &self,
        course_ids: &[u64],
        answers: Vec<Value>,
    ) -> Result<BTreeMap<u64, BTreeMap<String, u64>>, SourceError> {
        #[derive(Deserialize)]
        struct Group {
            id: u64,
            name: String,
        }
        let f = GROUP_READS[0];
        if answers.len() != course_ids.len() {
            return Err(self.unexpected(f, &"answers missing"));
        }
        let mut out = BTreeMap::new();
        for (id, v) in course_ids.iter().zip(answers) {
            let groups: Vec<Group> =
                serde_json::from_value(v).map_err(|e| self.unexpected(f, &e))?;
            let names = groups.into_iter().map(|g| (unescape(&g.name), g.id));
            out.insert(*id, names.collect());
        }
        Ok(out)
    }
}

impl MoodleApi for Moodle {
    fn describe(&self) -> String {
        Moodle::describe(self)
    }

    fn requests(&self) -> usize {
        Moodle::requests(self)
    }

    fn max_fields(&self) -> usize {
        self.max_fields
    }

    fn parallel(&self) -> usize {
        self.parallel
    }

    fn read_courses(&self, shortnames: &[String]) -> Result<MoodleNow, SourceError> {
        Moodle::read_courses(self, shortnames)
    }

    fn user_ids(&self, usernames: &[&str]) -> Result<BTreeMap<String, u64>, SourceError> {
        // Two fields for the call itself (and two to spare).
        self.user_ids_by(usernames, self.max_fields.saturating_sub(4))
    }

    fn course_groups(
        &self,
        course_ids: &[u64],
    ) -> Result<BTreeMap<u64, BTreeMap<String, u64>>, SourceError> {
        self.groups_of(course_ids)
    }

    fn write(&self, call: &Write) -> Result<Result<Written, Refused>, SourceError> {
        let function = call.function();
        let answer = match self.send(function, &write_fields(call))? {
            Ok(v) => v,
            Err(refused) => return Ok(Err(refused)),
        };
        let Write::CreateGroups(rows) = call else {
            return Ok(Ok(Written::Done));
        };
        // The created groups, in the order of the rows.
        #[derive(Deserialize)]
        struct Created {
            id: u64,
        }
        let created: Vec<Created> =
            serde_json::from_value(answer).map_err(|e| self.unexpected(function, &e))?;
        if created.len() != rows.len() {
            return Err(self.unexpected(function, &"not one group per row"));
        }
        Ok(Ok(Written::Groups(
            created.into_iter().map(|g| g.id).collect(),
        )))
    }
}

/// A write call's form fields, `array[n][field]`, as Moodle's REST server reads them.
fn write_fields(call: &Write) -> Vec<(String, String)> {
    fn rows<T>(
        array: &str,
        rows: &[T],
        fields: impl Fn(&T) -> Vec<(&'static str, String)>,
    ) -> Vec<(String, String)> {
        rows.iter()
            .enumerate()
            .flat_map(|(n, r)| {
                fields(r)
                    .into_iter()
                    .map(move |(k, v)| (format!("{array}[{n}][{k}]"), v))
            })
            .collect()
    }
    let role = |r: &crate::source::moodle_api::RoleRow| {
        vec![
            ("roleid", r.roleid.to_string()),
            ("userid", r.userid.to_string()),
            ("contextlevel", "course".to_string()),
            ("instanceid", r.courseid.to_string()),
        ]
    };
    let member = |m: &crate::source::moodle_api::MemberRow| {
        vec![
            ("groupid", m.groupid.to_string()),
            ("userid", m.userid.to_string()),
        ]
    };
    match call {
        Write::Enrol(r) => rows("enrolments", r, |e| {
            vec![
                ("roleid", e.roleid.to_string()),
                ("userid", e.userid.to_string()),
                ("courseid", e.courseid.to_string()),
                ("timestart", e.timestart.to_string()),
                ("timeend", e.timeend.to_string()),
                ("suspend", u8::from(e.suspend).to_string()),
            ]
        }),
        Write::AssignRoles(r) => rows("assignments", r, role),
        Write::UnassignRoles(r) => rows("unassignments", r, role),
        Write::CreateGroups(r) => rows("groups", r, |g| {
            vec![
                ("courseid", g.courseid.to_string()),
                ("name", g.name.clone()),
                ("description", String::new()),
            ]
        }),
        Write::AddMembers(r) | Write::RemoveMembers(r) => rows("members", r, member),
    }
}

/// A name as Moodle's answers give it: through `format_string`, which writes `&`
/// as `&amp;` (web services and reports alike), or a report's cell, written as HTML.
pub(crate) fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#039;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The read of a course's groups.
fn groups_request(course_id: u64) -> Request {
    Request {
        function: GROUP_READS[0],
        args: serde_json::json!({ "courseid": course_id }),
    }
}

/// The read of a course's users, active now (`onlyactive`) or not (`onlysuspended`),
/// with their groups unless they are read through `GROUP_READS`.
fn enrolled_request(course_id: u64, active: bool, groups_apart: bool) -> Request {
    let which = if active {
        "onlyactive"
    } else {
        "onlysuspended"
    };
    let fields = if groups_apart {
        "id,username,roles"
    } else {
        "id,username,groups,roles"
    };
    Request {
        function: "core_enrol_get_enrolled_users",
        args: serde_json::json!({
            "courseid": course_id,
            "options": [
                {"name": "userfields", "value": fields},
                {"name": which, "value": "1"},
            ],
        }),
    }
}

/// Arguments as REST form fields: `options[0][name]=…`, booleans as 1 and 0.
fn form(args: &Value) -> Vec<(String, String)> {
    fn walk(key: String, v: &Value, out: &mut Vec<(String, String)>) {
        let inner = |k: &str| {
            if key.is_empty() {
                k.to_string()
            } else {
                format!("{key}[{k}]")
            }
        };
        match v {
            Value::Object(m) => m.iter().for_each(|(k, v)| walk(inner(k), v, out)),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, v)| walk(inner(&i.to_string()), v, out)),
            Value::String(s) => out.push((key, s.clone())),
            Value::Bool(b) => out.push((key, u8::from(*b).to_string())),
            Value::Number(n) => out.push((key, n.to_string())),
            Value::Null => {}
        }
    }
    let mut out = Vec::new();
    walk(String::new(), args, &mut out);
    out
}

fn p(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

/// A transport error in plain words (never the request, which holds the token).
fn transport(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "no answer within timeout_s".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::ConnectionFailed => "cannot connect".into(),
        ureq::Error::Io(io) => format!("network error: {io}"),
        ureq::Error::Tls(m) => format!("TLS failure: {m}"),
        ureq::Error::Rustls(r) => format!("TLS failure: {r}"),
        other => other.to_string(),
    }
}

/// The capability a web-service function needs beyond the service's own
/// (`webservice/rest:use`, `moodle/course:view`), as Moodle 4.5's code checks it.
pub fn capability(function: &str) -> Option<&'static str> {
    Some(match function {
        f if f.starts_with("core_group_") => "moodle/course:managegroups",
        "enrol_manual_enrol_users" => "enrol/manual:enrol (and moodle/role:assign)",
        "enrol_manual_unenrol_users" => "enrol/manual:unenrol",
        "core_role_assign_roles" | "core_role_unassign_roles" => "moodle/role:assign",
        "core_enrol_get_enrolled_users" => {
            "moodle/course:viewparticipants and moodle/course:enrolreview"
        }
        "core_user_get_users_by_field" => "moodle/user:viewdetails",
        "core_reportbuilder_retrieve_report" | "core_reportbuilder_set_filters" => {
            "moodle/reportbuilder:viewall"
        }
        _ => return None,
    })
}

/// What to do about a Moodle error code from a function, for the message.
fn advice(code: &str, function: &str) -> String {
    match code {
        "nopermissions" | "required_capability_exception" => match capability(function) {
            Some(c) => format!(" (the token's role lacks {c}, which {function} needs)"),
            None => {
                " (the token's user lacks a capability: see the README's list for the token)".into()
            }
        },
        other => advice_for(other).into(),
    }
}

fn advice_for(code: &str) -> &'static str {
    match code {
        "invalidtoken" => " (the token is wrong, expired or deleted: check token_env or token_file, or make a new token for the service)",
        "accessexception" => " (the token's external service lacks this function: add it to the service; `enrolgen check` lists what is missing)",
        "errorcoursecontextnotvalid" => " (the course is hidden or unreachable for the token's user: it needs moodle/course:view and moodle/course:viewhiddencourses)",
        "servicenotavailable" | "webservicesnotenabled" => " (web services or the REST protocol are not enabled on the site)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_become_form_fields() {
        let r = enrolled_request(7, false, false);
        let mut f = form(&r.args);
        f.sort();
        let f: Vec<String> = f.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            f,
            [
                "courseid=7",
                "options[0][name]=userfields",
                "options[0][value]=id,username,groups,roles",
                "options[1][name]=onlysuspended",
                "options[1][value]=1",
            ]
        );
        assert_eq!(
            form(&serde_json::json!({"a": true, "b": [false], "c": null})),
            [
                ("a".to_string(), "1".to_string()),
                ("b[0]".into(), "0".into())
            ]
        );
    }

    #[test]
    fn advice_names_what_to_fix() {
        assert!(advice("invalidtoken", "f").contains("token_env"));
        assert!(advice("accessexception", "f").contains("enrolgen check"));
        assert_eq!(advice("whatever", "f"), "");
        assert_eq!(
            advice("nopermissions", "core_group_get_course_groups"),
            " (the token's role lacks moodle/course:managegroups, which core_group_get_course_groups needs)"
        );
    }
}
