//! Moodle as a source: what a platform holds, read through its REST web services
//! with a token (`verify`). Answers are converted here into `CourseNow`; nothing
//! past this module sees Moodle's JSON.
//!
//! Cost grows with courses, never with students: per course, one call for its id and
//! two for its enrolled users (active, then suspended), sent a few at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use crate::config::{MoodleSettings, Secret};
use crate::model::{CourseNow, EnrolledUser, MoodleNow};
use crate::source::SourceError;

/// The functions `verify` calls (and `check` looks for in the token's service).
pub const VERIFY_FUNCTIONS: [&str; 3] = [
    "core_webservice_get_site_info",
    "core_course_get_courses_by_field",
    "core_enrol_get_enrolled_users",
];

/// What one read of a course's enrolled users gives.
#[derive(Debug, Default)]
pub struct Enrolled {
    /// By username.
    pub users: BTreeMap<String, EnrolledUser>,
    /// The ids of the roles they hold, by shortname.
    pub role_ids: BTreeMap<String, u64>,
    /// The groups they are in, name → id.
    pub groups: BTreeMap<String, u64>,
}

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

/// Moodle's refusal of a call: its error code and message. A write call is one
/// transaction: nothing of it was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

pub struct Moodle {
    platform: String,
    url: String,
    token: Secret,
    agent: ureq::Agent,
    parallel: usize,
    requests: AtomicUsize,
    /// `ENROLGEN_RECORD_MOODLE=DIR`: every answer is appended to DIR/answers.jsonl
    /// with its function and parameters (never the token), for the tests that
    /// replay a real Moodle (tests/fixtures/moodle/README.md).
    record: Option<Mutex<std::fs::File>>,
}

impl Moodle {
    /// Prepares the connection (reads the token; nothing is sent yet).
    pub fn new(platform: &str, s: &MoodleSettings) -> Result<Moodle, SourceError> {
        let what = format!("Moodle of {platform} ({})", s.url);
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
        let record = match std::env::var_os("ENROLGEN_RECORD_MOODLE") {
            Some(dir) => {
                let path = std::path::Path::new(&dir).join("answers.jsonl");
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|e| SourceError::read(&path, e))?;
                Some(Mutex::new(file))
            }
            None => None,
        };
        Ok(Moodle {
            platform: platform.to_string(),
            url: s.url.clone(),
            token,
            agent: ureq::Agent::new_with_config(config),
            parallel: s.parallel.max(1),
            requests: AtomicUsize::new(0),
            record,
        })
    }

    /// Names the platform's Moodle and its address, for messages.
    pub fn describe(&self) -> String {
        format!("Moodle of {} ({})", self.platform, self.url)
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// Calls one function; Moodle's errors (HTTP 200 with an `exception`) become
    /// errors naming the function, the error code and what to do.
    pub fn call(&self, function: &str, params: &[(String, String)]) -> Result<Value, SourceError> {
        match self.send(function, params)? {
            Ok(v) => Ok(v),
            Err(r) => Err(SourceError::Failed {
                what: self.describe(),
                action: format!("{function}: {}: {}{}", r.code, r.message, advice(&r.code)),
                cause: None,
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
        if let Some(r) = &self.record {
            let params: BTreeMap<&str, &str> = params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let line = serde_json::json!({"function": function, "params": params, "body": body});
            if let Ok(mut f) = r.lock() {
                use std::io::Write;
                let _ = writeln!(f, "{line}");
            }
        }
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

    fn unexpected(&self, function: &str, e: &dyn std::fmt::Display) -> SourceError {
        SourceError::Failed {
            what: self.describe(),
            action: format!("{function}: unexpected answer ({e})"),
            cause: None,
        }
    }

    /// The course's id, or `None` when Moodle has no course of that shortname.
    pub fn course_id(&self, shortname: &str) -> Result<Option<u64>, SourceError> {
        let found = self.courses(&[p("field", "shortname"), p("value", shortname)])?;
        // Shortnames are compared exactly, as the upload tool does.
        Ok(found.get(shortname).copied())
    }

    /// `core_course_get_courses_by_field`'s courses, shortname → id.
    fn courses(&self, params: &[(String, String)]) -> Result<BTreeMap<String, u64>, SourceError> {
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
        let v = self.call(f, params)?;
        let raw: Raw = serde_json::from_value(v).map_err(|e| self.unexpected(f, &e))?;
        Ok(raw
            .courses
            .into_iter()
            .map(|c| (c.shortname, c.id))
            .collect())
    }

    /// The users enrolled in a course: active now, or not; and the ids of the roles
    /// they hold.
    pub fn enrolled(&self, course_id: u64, active: bool) -> Result<Enrolled, SourceError> {
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
        let f = "core_enrol_get_enrolled_users";
        let which = if active {
            "onlyactive"
        } else {
            "onlysuspended"
        };
        let v = self.call(
            f,
            &[
                p("courseid", &course_id.to_string()),
                p("options[0][name]", "userfields"),
                p("options[0][value]", "id,username,groups,roles"),
                p("options[1][name]", which),
                p("options[1][value]", "1"),
            ],
        )?;
        let users: Vec<User> = serde_json::from_value(v).map_err(|e| self.unexpected(f, &e))?;
        let mut out = Enrolled::default();
        for u in users {
            for r in &u.roles {
                out.role_ids.insert(r.shortname.clone(), r.roleid);
            }
            for g in &u.groups {
                out.groups.insert(g.name.clone(), g.id);
            }
            let user = EnrolledUser {
                id: u.id,
                roles: u.roles.into_iter().map(|r| r.shortname).collect(),
                groups: u.groups.into_iter().map(|g| g.name).collect(),
            };
            out.users.insert(u.username, user);
        }
        Ok(out)
    }

    /// Reads every course (`verify`): its id, then its active and its other users;
    /// `parallel` requests at a time, the first error stops it.
    pub fn read_courses(&self, shortnames: &[String]) -> Result<MoodleNow, SourceError> {
        let found = self.each(shortnames, |name| {
            let Some(id) = self.course_id(name)? else {
                return Ok(None);
            };
            let mut active = self.enrolled(id, true)?;
            let inactive = self.enrolled(id, false)?;
            active.role_ids.extend(inactive.role_ids);
            Ok(Some(CourseNow {
                id,
                active: active.users,
                inactive: inactive.users,
                groups: BTreeMap::new(),
                role_ids: active.role_ids,
            }))
        })?;
        Ok(shortnames.iter().cloned().zip(found).collect())
    }

    /// Reads what applying a plan needs, in one call per course: every course's id
    /// (one call for the site), then each course's active users with their roles
    /// and groups; the groups seen on them are the course's known groups.
    pub fn read_for_sync(&self, shortnames: &[String]) -> Result<MoodleNow, SourceError> {
        let ids = self.course_ids()?;
        let found = self.each(shortnames, |name| {
            let Some(id) = ids.get(name).copied() else {
                return Ok(None);
            };
            let active = self.enrolled(id, true)?;
            Ok(Some(CourseNow {
                id,
                active: active.users,
                inactive: BTreeMap::new(),
                groups: active.groups,
                role_ids: active.role_ids,
            }))
        })?;
        Ok(shortnames.iter().cloned().zip(found).collect())
    }

    /// Every course of the site, shortname → id, in one call.
    pub fn course_ids(&self) -> Result<BTreeMap<String, u64>, SourceError> {
        self.courses(&[])
    }

    /// `f` on every item, `parallel` at a time, results in the items' order; the
    /// first error stops it.
    pub fn each<I: Sync, T: Send>(
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
    /// `per_call` at a time.
    pub fn user_ids(
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
        let mut out = BTreeMap::new();
        for chunk in usernames.chunks(per_call.max(1)) {
            let mut params = vec![p("field", "username")];
            params.extend(
                chunk
                    .iter()
                    .enumerate()
                    .map(|(i, u)| (format!("values[{i}]"), u.to_string())),
            );
            let v = self.call(f, &params)?;
            let users: Vec<User> = serde_json::from_value(v).map_err(|e| self.unexpected(f, &e))?;
            out.extend(users.into_iter().map(|u| (u.username, u.id)));
        }
        Ok(out)
    }

    /// A course's groups, name → id.
    pub fn course_groups(&self, course_id: u64) -> Result<BTreeMap<String, u64>, SourceError> {
        #[derive(Deserialize)]
        struct Group {
            id: u64,
            name: String,
        }
        let f = "core_group_get_course_groups";
        let v = self.call(f, &[p("courseid", &course_id.to_string())])?;
        let groups: Vec<Group> = serde_json::from_value(v).map_err(|e| self.unexpected(f, &e))?;
        Ok(groups.into_iter().map(|g| (g.name, g.id)).collect())
    }
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

/// What to do about a Moodle error code, for the message.
fn advice(code: &str) -> &'static str {
    match code {
        "invalidtoken" => " (the token is wrong, expired or deleted: check token_env or token_file, or make a new token for the service)",
        "accessexception" => " (the token's external service lacks this function: add it to the service; `enrolgen check` lists what is missing)",
        "nopermissions" | "required_capability_exception" => " (the token's user lacks a capability: see the README's list for the token)",
        "errorcoursecontextnotvalid" => " (the course is hidden or unreachable for the token's user: it needs moodle/course:view and moodle/course:viewhiddencourses)",
        "servicenotavailable" | "webservicesnotenabled" => " (web services or the REST protocol are not enabled on the site)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_names_what_to_fix() {
        assert!(advice("invalidtoken").contains("token_env"));
        assert!(advice("accessexception").contains("enrolgen check"));
        assert_eq!(advice("whatever"), "");
    }
}
