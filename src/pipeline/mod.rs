//! The pipeline every command shares: which rules, what the sources return for them
//! (`gather`), whether a source shrank (`shrink`), and the plan (pure, `plan::plan`).
//! `run`, `adhoc`, `explain` and `verify` differ only in what they do with the plan.

pub mod gather;
pub mod shrink;

use std::collections::BTreeMap;

use crate::config::Settings;
use crate::error::Error;
use crate::model::{EnrolRule, Platform};
use crate::plan::{self, Inputs, Plan};

pub use gather::{gather, Gathered};

/// The platform named by `--platform`, or the error every command gives for a name
/// the configuration does not have.
pub fn platform<'a>(s: &'a Settings, name: &str) -> Result<&'a Platform, Error> {
    s.platforms.get(name).ok_or_else(|| {
        Error::Usage(format!(
            "--platform {name}: no such platform in {} ({})",
            s.file.display(),
            keys(&s.platforms)
        ))
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
            return Err(Error::Usage(format!(
                "--cohort {c}: no such cohort in {} ({})",
                s.file.display(),
                keys(&s.cohorts)
            )));
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
