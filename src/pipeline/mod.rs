//! The pipeline every command shares: which rules, what the sources return for them
//! (`gather`), whether a source shrank (`shrink`), and the plan (pure, `plan::plan`).
//! `run`, `adhoc`, `explain` and `verify` differ only in what they do with the plan.

pub mod gather;
pub mod shrink;

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::{Delivery, Settings};
use crate::error::{Error, UsageError};
use crate::model::{EnrolRule, Platform, SourceTiming};
use crate::plan::platform_accounts::Written;
use crate::plan::{self, Inputs, Plan};

pub use gather::{gather, Gathered};

/// What every command that plans starts from, opened once: the checked settings,
/// the day the plan is for and the academic year that day falls in.
pub struct Context {
    pub settings: Settings,
    pub as_of: chrono::NaiveDate,
    pub year: String,
}

impl Context {
    pub fn new(settings: Settings, as_of: chrono::NaiveDate) -> Context {
        let year = settings.year.resolve(as_of);
        Context {
            settings,
            as_of,
            year,
        }
    }

    /// Loads the configuration for a day.
    pub fn open(config: &std::path::Path, as_of: chrono::NaiveDate) -> Result<Context, Error> {
        Ok(Context::new(crate::config::load(config)?, as_of))
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
        before: &Before<'_>,
    ) -> Result<(Plan, Vec<SourceTiming>), Error> {
        let mut plan = self.plan(rules, g);
        let timings = self.ask_platforms(&mut plan, before)?;
        Ok((plan, timings))
    }

    /// Asks each platform that decides its accounts about those of `plan`
    /// (`platform_accounts`); the accounts `before` says were written are not asked.
    pub fn ask_platforms(
        &self,
        plan: &mut Plan,
        before: &Before<'_>,
    ) -> Result<Vec<SourceTiming>, Error> {
        let written = before.written(&self.settings);
        let mut timings = Vec::new();
        platform_accounts(&self.settings, self.as_of, plan, &written, &mut timings)?;
        Ok(timings)
    }
}

/// What earlier runs wrote, for the accounts a platform's Moodle is not asked about
/// again: nothing (every account is asked), or the channels' states in an output
/// folder (the web-service state; the nightly `--delta` state when `delta`).
#[derive(Debug, Clone, Copy)]
pub enum Before<'a> {
    Nothing,
    States { out: &'a Path, delta: bool },
}

impl Before<'_> {
    /// By platform asking its Moodle about accounts, the accounts its channel's
    /// state says rows were written for. A state that cannot be read counts for
    /// nothing here (its channel refuses it later, with the way out).
    fn written(&self, settings: &Settings) -> BTreeMap<String, Written> {
        use crate::output::state;
        let Before::States { out, delta } = *self else {
            return BTreeMap::new();
        };
        let asking = settings
            .platforms
            .iter()
            .filter(|(_, p)| p.moodle_accounts.is_some())
            .map(|(n, _)| n);
        let mut written = BTreeMap::new();
        for name in asking {
            let dir = out.join(name);
            let found = match settings.delivery.get(name) {
                Some(Delivery::Webservice(_)) => {
                    state::load::<crate::plan::sync::SyncState>(&dir, state::WEBSERVICE)
                        .ok()
                        .flatten()
                        .map(|s| Written {
                            usernames: s.enrolments.into_iter().map(|m| m.username).collect(),
                            by_idnumber: s.header.by_idnumber,
                        })
                }
                _ if delta => state::load::<crate::output::outbox::DeltaState>(&dir, state::DELTA)
                    .ok()
                    .flatten()
                    .map(|s| Written {
                        usernames: s.enrolments.into_iter().map(|r| r.username).collect(),
                        by_idnumber: s.header.by_idnumber,
                    }),
                _ => None,
            };
            written.insert(name.clone(), found.unwrap_or_default());
        }
        written
    }
}

/// `accounts_in: moodle`: each platform that asks its own Moodle about its accounts
/// reads, in batches, the accounts of the usernames its plan writes, and leaves out
/// the enrolments of those it does not have, holds suspended, or holds under an
/// authentication method it does not accept (`plan::platform_accounts`). Runs
/// before anything is written: a Moodle that cannot be asked stops the command.
/// `before`: by platform, what earlier runs wrote (the nightly states): those
/// accounts are not asked again, a night with nothing new asks nothing (by
/// idnumber, the usernames Moodle gave then write their rows again).
fn platform_accounts(
    settings: &Settings,
    as_of: chrono::NaiveDate,
    plan: &mut Plan,
    before: &BTreeMap<String, Written>,
    timings: &mut Vec<SourceTiming>,
) -> Result<(), Error> {
    let none = Written::default();
    for (name, pp) in &mut plan.platforms {
        let (Some(rules), Some(ms)) = (
            settings
                .platforms
                .get(name)
                .and_then(|p| p.moodle_accounts.as_ref()),
            settings.moodle(name),
        ) else {
            continue;
        };
        let written = before.get(name).unwrap_or(&none);
        let already = written.already(rules.field);
        let usernames = crate::plan::platform_accounts::to_ask(pp, &already);
        let client = crate::source::moodle::Moodle::new(name, ms)?;
        let started = std::time::Instant::now();
        let mut users = if usernames.is_empty() {
            BTreeMap::new()
        } else {
            client.users(rules.field, &usernames)?
        };
        // Moodle answers a search by idnumber with only the accounts whose idnumber
        // the token may see, and sees all or none: nothing found at all (and none
        // found on an earlier night) is a token that cannot see them, not a platform
        // without accounts.
        if rules.field == crate::model::MatchField::Idnumber
            && !usernames.is_empty()
            && users.is_empty()
            && already.is_empty()
        {
            return Err(crate::source::SourceError::Failed {
                what: client.describe(),
                action: format!(
                    "no account found by idnumber among {}: Moodle hides accounts whose idnumber the token may not see; add idnumber to the site's showuseridentity, or give the token's role moodle/user:viewalldetails",
                    usernames.len()
                ),
                cause: None,
            }
            .into());
        }
        let min_days = settings
            .platforms
            .get(name)
            .map_or(0, |p| p.min_account_age_days);
        if let (Some(report), false) = (rules.created_report, users.is_empty() || min_days == 0) {
            mark_recent(&client, report, rules.field, as_of, min_days, &mut users)?;
        }
        let found = users.len();
        users.extend(written.known(&already));
        crate::plan::platform_accounts::apply(pp, rules, &users, &already, &ms.url);
        timings.push(SourceTiming::of_moodle(
            format!("{} (accounts)", client.describe()),
            started,
            found,
            client.requests(),
        ));
    }
    Ok(())
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
    let recent = client.created_since(report, since)?;
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
pub fn platform<'a>(s: &'a Settings, name: &str) -> Result<&'a Platform, Error> {
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
