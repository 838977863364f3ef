//! The pipeline every command shares: which rules, what the sources return for them
//! (`gather`), whether a source shrank (`shrink`), and the plan (pure, `plan::plan`).
//! `run`, `adhoc`, `explain` and `verify` differ only in what they do with the plan.

pub mod gather;
pub mod shrink;

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{PlatformSettings, Settings};
use crate::error::{Error, UsageError};
use crate::model::{EnrolRule, SourceTiming, UserCourse};
use crate::plan::{self, Inputs, Plan};
use crate::source::moodle::Moodle;

pub use gather::{gather, Gathered};

/// What every command that plans starts from, opened once: the checked settings,
/// the day the plan is for and the academic year that day falls in.
pub struct Context {
    pub settings: Settings,
    pub as_of: chrono::NaiveDate,
    pub year: String,
    /// Each platform's Moodle client, made once and shared by every step that asks
    /// it (accounts, first night, delivery, verify, adhoc): one token read, one
    /// connection pool, one probe of the service's batch function a run.
    clients: std::sync::Mutex<BTreeMap<String, std::sync::Arc<Moodle>>>,
}

impl Context {
    pub fn new(settings: Settings, as_of: chrono::NaiveDate) -> Context {
        let year = settings.year.resolve(as_of);
        Context {
            settings: settings.for_year(&year),
            as_of,
            year,
            clients: Default::default(),
        }
    }

    /// Loads the configuration for a day.
    pub fn open(config: &std::path::Path, as_of: chrono::NaiveDate) -> Result<Context, Error> {
        Ok(Context::new(crate::config::load(config)?, as_of))
    }

    /// `platform`'s Moodle client (its `moodle:` connection), made on first use.
    pub fn moodle(
        &self,
        platform: &str,
        ms: &crate::config::MoodleSettings,
    ) -> Result<std::sync::Arc<Moodle>, Error> {
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = clients.get(platform) {
            return Ok(c.clone());
        }
        let c = std::sync::Arc::new(Moodle::new(platform, ms)?);
        clients.insert(platform.to_string(), c.clone());
        Ok(c)
    }

    /// What the sources return for these rules.
    pub fn gather(&self, rules: &[&EnrolRule]) -> Result<Gathered, Error> {
        Ok(gather(&self.settings, rules, &self.year)?)
    }

    /// The plan of these rules on what the sources returned, before any platform's
    /// Moodle is asked about its accounts: a part of the road, for tests and for
    /// `explain`, which asks about one person's accounts alone (`ask_platforms`).
    pub fn plan(&self, rules: Vec<&EnrolRule>, g: &Gathered) -> Plan {
        plan_rules(&self.settings, rules, g, &self.year, self.as_of)
    }

    /// The plan every command acts on: planned on what the sources returned, then
    /// each platform that decides its accounts asked (`accounts_in: moodle`). `run`,
    /// `adhoc` and `verify` take it, so that what `verify` expects is what `run`
    /// wrote. Also returns what the platforms' Moodle answered, timed.
    pub fn road(
        &self,
        rules: Vec<&EnrolRule>,
        g: &Gathered,
    ) -> Result<(Plan, Vec<SourceTiming>), Error> {
        let mut plan = self.plan(rules, g);
        let timings = self.ask_platforms(&mut plan)?;
        Ok((plan, timings))
    }

    /// While a re-registration window is open (`keep_previous_year_until`): the
    /// enrolments the previous academic year's plan gives in the courses reused
    /// every year, by platform, which the night keeps until the window closes.
    /// Read with the same rules, set-based like tonight's (one more pass over the
    /// sources, during the window only).
    pub fn previous_year(
        &self,
        rules: Vec<&EnrolRule>,
    ) -> Result<BTreeMap<String, BTreeSet<UserCourse>>, Error> {
        let Some(year) = self.year.parse::<i32>().ok().map(|y| (y - 1).to_string()) else {
            return Ok(BTreeMap::new());
        };
        let g = gather(&self.settings, &rules, &year)?;
        let plan = plan_rules(&self.settings, rules, &g, &year, self.as_of);
        // The courses named with their year are this year's: last year's are others.
        let this_years: BTreeSet<String> = self
            .settings
            .year_courses
            .iter()
            .map(|(_, n)| n.of_year(&self.year))
            .collect();
        Ok(plan
            .platforms
            .into_iter()
            .map(|(name, pp)| {
                let keys = pp
                    .enrolments
                    .into_keys()
                    .filter(|k| !this_years.contains(&k.course))
                    .collect();
                (name, keys)
            })
            .collect())
    }

    /// Asks each platform that decides its accounts about every account of `plan`
    /// (`platform_accounts`).
    pub fn ask_platforms(&self, plan: &mut Plan) -> Result<Vec<SourceTiming>, Error> {
        let mut timings = Vec::new();
        platform_accounts(self, plan, &mut timings)?;
        Ok(timings)
    }
}

/// `accounts_in: moodle`: each platform that asks its own Moodle about its accounts
/// reads, in batches, the accounts of the usernames its plan writes, and leaves out
/// the enrolments of those it does not have, holds suspended, or holds under an
/// authentication method it does not accept (`plan::platform_accounts`). Runs
/// before anything is written: a Moodle that cannot be asked stops the command.
/// Every account of the plan is asked, every night: one suspended or deleted in
/// Moodle since an earlier night is left out the night after.
fn platform_accounts(
    ctx: &Context,
    plan: &mut Plan,
    timings: &mut Vec<SourceTiming>,
) -> Result<(), Error> {
    let (settings, as_of) = (&ctx.settings, ctx.as_of);
    for (name, pp) in &mut plan.platforms {
        let Some(platform) = settings.platforms.get(name) else {
            continue;
        };
        let (Some(rules), Some(ms)) = (platform.accounts.in_moodle(), platform.delivery.moodle())
        else {
            continue;
        };
        let usernames = crate::plan::platform_accounts::to_ask(pp);
        let client = ctx.moodle(name, ms)?;
        let (started, before) = (std::time::Instant::now(), client.requests());
        let mut users = if usernames.is_empty() {
            BTreeMap::new()
        } else {
            client.users(rules.field, &usernames)?
        };
        if let Some(e) = nobody_seen(&client, rules.field, usernames.len(), users.len()) {
            return Err(e.into());
        }
        if let Some(w) = few_seen(name, rules.field, usernames.len(), users.len()) {
            plan.warnings.push(w);
        }
        let min_days = platform.accounts.min_age_days;
        if let (Some(report), false) = (rules.created_report, users.is_empty() || min_days == 0) {
            mark_recent(&client, report, rules.field, as_of, min_days, &mut users)?;
        }
        let found = users.len();
        let site = crate::config::shown_url(&ms.url);
        crate::plan::platform_accounts::apply(pp, rules, &users, &site);
        if let Some(w) = refused_accounts(name, &pp.left_out) {
            plan.warnings.push(w);
        }
        timings.push(SourceTiming::of_moodle(
            format!("moodle:{name}:accounts"),
            format!("{} (accounts)", client.describe()),
            started,
            found,
            client.requests() - before,
        ));
    }
    Ok(())
}

/// Moodle answers a search for accounts with only those the token may see, and
/// sees all or none: nothing found among accounts asked is a token that cannot see
/// them (by idnumber, the field hidden; by username, no `moodle/user:viewdetails`),
/// not a platform without accounts. The run stops rather than leave everyone out.
fn nobody_seen(
    client: &crate::source::moodle::Moodle,
    field: crate::model::MatchField,
    asked: usize,
    found: usize,
) -> Option<crate::source::SourceError> {
    if asked == 0 || found > 0 {
        return None;
    }
    let why = match field {
        crate::model::MatchField::Idnumber => "Moodle hides accounts whose idnumber the token may not see; add idnumber to the site's showuseridentity, or give the token's role moodle/user:viewalldetails",
        crate::model::MatchField::Username => "Moodle leaves out the accounts the token may not see; give the token's role moodle/user:viewdetails (and moodle/user:viewalldetails)",
    };
    Some(crate::source::SourceError::Failed {
        what: client.describe(),
        action: format!("no account found by {} among {asked}: {why}", field.name()),
        cause: None,
    })
}

/// More than half the accounts asked not found: a platform partly out of sight, or
/// accounts not made yet; said every night, so that somebody looks.
fn few_seen(
    platform: &str,
    field: crate::model::MatchField,
    asked: usize,
    found: usize,
) -> Option<String> {
    (asked >= 10 && found * 2 < asked).then(|| {
        format!(
            "platform {platform}: its Moodle has only {found} of the {asked} accounts asked (by {}): check that the accounts are made and that the token may see them",
            field.name()
        )
    })
}

/// The accounts of the plan the platform's Moodle refuses, counted by reason: said
/// every night while it lasts, so that an account suspended or deleted in Moodle
/// since an earlier night is seen the night after. Deferred accounts (too recent)
/// wait quietly.
fn refused_accounts(platform: &str, left_out: &[crate::model::LeftOut]) -> Option<String> {
    use crate::model::Reason;
    let mut by_reason: BTreeMap<Reason, std::collections::BTreeSet<&str>> = BTreeMap::new();
    for l in left_out {
        if matches!(
            l.reason,
            Reason::NoPlatformAccount
                | Reason::PlatformAccountSuspended
                | Reason::PlatformAuthRefused
        ) {
            by_reason
                .entry(l.reason)
                .or_default()
                .insert(l.username.as_str());
        }
    }
    if by_reason.is_empty() {
        return None;
    }
    let counts: Vec<String> = by_reason
        .iter()
        .map(|(r, who)| format!("{r} {}", who.len()))
        .collect();
    Some(format!(
        "platform {platform}: its Moodle refuses accounts of the plan ({}); their enrolments are left out, see {platform}/left-out.csv",
        counts.join(", ")
    ))
}

/// Marks the accounts the platform made less than `min_days` before `as_of` (by
/// Moodle's `timecreated`, the days counted in UTC as for a directory's accounts):
/// those its `moodle_created_report` lists from that day on.
fn mark_recent(
    client: &crate::source::moodle::Moodle,
    report: u64,
    field: crate::model::MatchField,
    as_of: chrono::NaiveDate,
    min_days: u32,
    users: &mut BTreeMap<String, crate::model::PlatformUser>,
) -> Result<(), Error> {
    let from = as_of - chrono::Days::new(u64::from(min_days.saturating_sub(1)));
    let since = from.and_time(chrono::NaiveTime::MIN).and_utc().timestamp();
    let recent = client.created_since(report, field, since)?;
    for (key, u) in users.iter_mut() {
        let listed = match field {
            crate::model::MatchField::Username => recent.contains(&u.username.to_lowercase()),
            crate::model::MatchField::Idnumber => recent.contains(key),
        };
        if listed {
            u.created_from = Some(from);
        }
    }
    Ok(())
}

/// The platform named by `--platform`, or the error every command gives for a name
/// the configuration does not have.
pub fn platform<'a>(s: &'a Settings, name: &str) -> Result<&'a PlatformSettings, Error> {
    s.platforms.get(name).ok_or_else(|| {
        Error::from(UsageError::NoSuchPlatform {
            name: name.to_string(),
            file: s.file.clone(),
            known: keys(&s.platforms),
        })
    })
}

/// The rules selected by `--platform` and `--cohort`.
pub fn select_rules<'a>(
    s: &'a Settings,
    platforms: &[String],
    cohorts: &[String],
) -> Result<Vec<&'a EnrolRule>, Error> {
    for p in platforms {
        platform(s, p)?;
    }
    for c in cohorts {
        if !s.cohorts.contains_key(c) {
            return Err(UsageError::NoSuchCohort {
                name: c.clone(),
                file: s.file.clone(),
                known: keys(&s.cohorts),
            }
            .into());
        }
    }
    Ok(s.rules
        .iter()
        .filter(|r| platforms.is_empty() || platforms.contains(&r.platform))
        .filter(|r| cohorts.is_empty() || cohorts.contains(&r.cohort))
        .collect())
}

fn keys<V>(m: &BTreeMap<String, V>) -> String {
    m.keys().cloned().collect::<Vec<_>>().join(", ")
}

/// Plans the given rules on what the sources returned.
pub fn plan_rules(
    settings: &Settings,
    rules: Vec<&EnrolRule>,
    g: &Gathered,
    year: &str,
    as_of: chrono::NaiveDate,
) -> Plan {
    plan::plan(&Inputs {
        as_of,
        year,
        platforms: &settings.platforms,
        cohorts: &settings.cohorts,
        rules,
        members: &g.members,
        directories: &g.directories,
        account_lists: &g.account_lists,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_platform_has_one_moodle_client_a_run() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "t\n").unwrap();
        let text = format!(
            "version: 1\ndirectories:\n  u:\n    ldif: u.ldif\nplatforms:\n  p:\n    accounts: [u]\n    moodle: {{ url: \"http://127.0.0.1:9\", token_file: {} }}\ncohorts:\n  c: {{ usernames: [Bob] }}\nenrol:\n  - {{ cohort: c, platform: p, course: C1, role: student }}\n",
            token.display()
        );
        let settings = crate::config::parse(&text, &dir.path().join("c.yaml")).unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let ctx = Context::new(settings, day);
        let ms = ctx.settings.moodle("p").unwrap().clone();
        let first = ctx.moodle("p", &ms).unwrap();
        // The token changes on disk: the run goes on with the client it made.
        std::fs::write(&token, "other\n").unwrap();
        let again = ctx.moodle("p", &ms).unwrap();
        assert!(std::sync::Arc::ptr_eq(&first, &again));
    }
}
