//! Whether an account may be used on the as-of date, from its SUPANN state values
//! (read by `supann`). Each attribute gives a
//! verdict; when attributes disagree, the stricter verdict wins and says so.

use chrono::NaiveDate;

use crate::model::{Account, AccountStatus, StateReading, StateValue};

/// What the core does with an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Active,
    /// Not active yet (a state that starts later): deferred, retried next run.
    NotYet(String),
    /// Inactive or suspended now, or its active state has ended.
    Inactive(String),
    /// A value that cannot be read: never taken as active.
    Unreadable(String),
}

/// From the most lenient to the strictest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Active,
    NotYet,
    Suspended,
    Inactive,
}

struct Verdict<'a> {
    rank: Rank,
    value: &'a StateValue,
    reading: &'a StateReading,
    /// The value was in force and has ended.
    ended: bool,
}

impl Verdict<'_> {
    fn word(&self) -> String {
        match (self.rank, self.ended) {
            (_, true) => format!("ended on {}", fmt(self.reading.end)),
            (Rank::Active, _) => "active".into(),
            (Rank::NotYet, _) => format!("active from {}", fmt(self.reading.start)),
            (Rank::Suspended, _) => "suspended".into(),
            (Rank::Inactive, _) => "inactive".into(),
        }
    }
}

fn fmt(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

fn rank(s: AccountStatus) -> Rank {
    match s {
        AccountStatus::Active => Rank::Active,
        AccountStatus::Suspended => Rank::Suspended,
        AccountStatus::Inactive => Rank::Inactive,
    }
}

/// The verdict of one attribute's values.
fn verdict<'a>(
    values: &[(&'a StateValue, &'a StateReading)],
    as_of: NaiveDate,
) -> Option<Verdict<'a>> {
    let started = |r: &StateReading| r.start.is_none_or(|s| s <= as_of);
    let not_ended = |r: &StateReading| r.end.is_none_or(|e| e >= as_of);
    let now = values
        .iter()
        .filter(|(_, r)| started(r) && not_ended(r))
        .max_by_key(|(_, r)| rank(r.state));
    if let Some((value, reading)) = now {
        return Some(Verdict {
            rank: rank(reading.state),
            value,
            reading,
            ended: false,
        });
    }
    // Nothing in force: a state to come, else one that has ended.
    let future = values
        .iter()
        .filter(|(_, r)| !started(r))
        .min_by_key(|(_, r)| (r.state != AccountStatus::Active, r.start));
    if let Some((value, reading)) = future {
        return Some(Verdict {
            rank: Rank::NotYet,
            value,
            reading,
            ended: false,
        });
    }
    values
        .iter()
        .max_by_key(|(_, r)| r.end)
        .map(|(value, reading)| Verdict {
            rank: Rank::Inactive,
            value,
            reading,
            ended: true,
        })
}

/// The account's status on `as_of`. No state value at all means active.
pub fn status(acc: &Account, as_of: NaiveDate) -> Status {
    let mut read = Vec::new();
    for v in &acc.states {
        match &v.reading {
            Ok(r) => read.push((v, r)),
            Err(why) => {
                return Status::Unreadable(format!(
                    "account {} in {}: {} value '{}' cannot be read: {why}",
                    acc.dn, acc.directory, v.attribute, v.raw
                ))
            }
        }
    }
    let mut attributes: Vec<&str> = Vec::new();
    for (v, _) in &read {
        if !attributes.contains(&v.attribute.as_str()) {
            attributes.push(&v.attribute);
        }
    }
    let verdicts: Vec<Verdict> = attributes
        .iter()
        .filter_map(|a| {
            let mine: Vec<_> = read
                .iter()
                .copied()
                .filter(|(v, _)| v.attribute == *a)
                .collect();
            verdict(&mine, as_of)
        })
        .collect();
    // The strictest verdict, the first attribute's on a tie.
    let Some(worst) = verdicts
        .iter()
        .reduce(|w, v| if v.rank > w.rank { v } else { w })
    else {
        return Status::Active;
    };
    if worst.rank == Rank::Active {
        return Status::Active;
    }
    let mut detail = describe(acc, worst);
    if verdicts
        .iter()
        .any(|v| v.rank != worst.rank || v.ended != worst.ended)
    {
        let said: Vec<String> = verdicts
            .iter()
            .map(|v| format!("{} says {}", v.value.attribute, v.word()))
            .collect();
        detail.push_str(&format!(" — {}: the stricter wins", said.join(", ")));
    }
    if worst.rank == Rank::NotYet {
        Status::NotYet(detail)
    } else {
        Status::Inactive(detail)
    }
}

/// Why the account cannot be used now, in words, from its strictest verdict.
fn describe(acc: &Account, worst: &Verdict) -> String {
    let r = worst.reading;
    let sub = r
        .sub_state
        .as_deref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    match (worst.rank, worst.ended) {
        (_, true) => format!(
            "account {} is inactive in {}: its state {}{sub} ended on {} ({})",
            acc.dn,
            acc.directory,
            letter(r.state),
            fmt(r.end),
            worst.value.attribute
        ),
        (Rank::NotYet, _) => format!(
            "account {} is not active yet in {}: state {}{sub} from {} ({}): retried next run",
            acc.dn,
            acc.directory,
            letter(r.state),
            fmt(r.start),
            worst.value.attribute
        ),
        (rank, _) => {
            let word = if rank == Rank::Suspended {
                "suspended"
            } else {
                "inactive"
            };
            let mut d = format!("account {} is {word}{sub} in {}", acc.dn, acc.directory);
            if worst.value.raw.contains(':') {
                d.push_str(&format!(
                    " ({}: {})",
                    worst.value.attribute, worst.value.raw
                ));
            }
            d
        }
    }
}

fn letter(s: AccountStatus) -> &'static str {
    match s {
        AccountStatus::Active => "A",
        AccountStatus::Inactive => "I",
        AccountStatus::Suspended => "S",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supann::parse;

    const DN: &str = "uid=e1,ou=people,dc=unicaen,dc=fr";

    fn acc(values: &[(&str, &str)]) -> Account {
        Account {
            directory: "unicaen".into(),
            dn: DN.into(),
            username: "e1".into(),
            other_usernames: Vec::new(),
            student_ids: vec![],
            staff_id: None,
            created: None,
            affiliations: Default::default(),
            states: values.iter().filter_map(|(a, v)| parse(a, v)).collect(),
        }
    }

    fn at(values: &[(&str, &str)]) -> Status {
        status(
            &acc(values),
            NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default(),
        )
    }

    const E: &str = "supannRessourceEtat";
    const D: &str = "supannRessourceEtatDate";

    #[test]
    fn no_value_or_an_active_one_is_active() {
        assert_eq!(at(&[]), Status::Active);
        assert_eq!(
            at(&[(E, "{MAIL}I")]),
            Status::Active,
            "other resources do not count"
        );
        assert_eq!(at(&[(E, "{COMPTE}A")]), Status::Active);
        assert_eq!(
            at(&[(D, "{COMPTE}A:SupannActif::20271231")]),
            Status::Active
        );
        assert_eq!(
            at(&[(D, "{COMPTE}A:SupannActif:20260901:20261124")]),
            Status::Active,
            "the end day is in force"
        );
        assert_eq!(
            at(&[(E, "{COMPTE}A"), (D, "{COMPTE}A:SupannActif:20250901:")]),
            Status::Active
        );
    }

    #[test]
    fn inactive_and_suspended_keep_the_plain_wording() {
        assert_eq!(
            at(&[(E, "{COMPTE}I")]),
            Status::Inactive(format!("account {DN} is inactive in unicaen"))
        );
        assert_eq!(
            at(&[(D, "{COMPTE}S:SupannSuspendu::")]),
            Status::Inactive(format!(
                "account {DN} is suspended (SupannSuspendu) in unicaen (supannRessourceEtatDate: {{COMPTE}}S:SupannSuspendu::)"
            ))
        );
    }

    #[test]
    fn an_ended_state_is_inactive() {
        assert_eq!(
            at(&[(D, "{COMPTE}A:SupannActif:20250901:20261031")]),
            Status::Inactive(format!(
                "account {DN} is inactive in unicaen: its state A (SupannActif) ended on 2026-10-31 (supannRessourceEtatDate)"
            ))
        );
    }

    #[test]
    fn a_state_to_come_is_not_yet_active() {
        assert_eq!(
            at(&[(D, "{COMPTE}A:SupannActif:20261201:")]),
            Status::NotYet(format!(
                "account {DN} is not active yet in unicaen: state A (SupannActif) from 2026-12-01 (supannRessourceEtatDate): retried next run"
            ))
        );
        // A state in force wins over one to come.
        assert!(matches!(
            at(&[
                (D, "{COMPTE}A:SupannActif::20261231"),
                (D, "{COMPTE}I:SupannInactif:20270101:")
            ]),
            Status::Active
        ));
        // Between two periods: the next one is awaited.
        assert!(matches!(
            at(&[
                (D, "{COMPTE}A:x:20250901:20260831"),
                (D, "{COMPTE}A:x:20261201:")
            ]),
            Status::NotYet(_)
        ));
    }

    #[test]
    fn disagreeing_attributes_take_the_stricter_and_say_so() {
        assert_eq!(
            at(&[(E, "{COMPTE}A"), (D, "{COMPTE}I:SupannInactif::")]),
            Status::Inactive(format!(
                "account {DN} is inactive (SupannInactif) in unicaen (supannRessourceEtatDate: {{COMPTE}}I:SupannInactif::) — supannRessourceEtat says active, supannRessourceEtatDate says inactive: the stricter wins"
            ))
        );
        assert_eq!(
            at(&[(E, "{COMPTE}I"), (D, "{COMPTE}A:SupannActif::")]),
            Status::Inactive(format!(
                "account {DN} is inactive in unicaen — supannRessourceEtat says inactive, supannRessourceEtatDate says active: the stricter wins"
            ))
        );
        assert_eq!(
            at(&[(E, "{COMPTE}A"), (D, "{COMPTE}A:SupannActif::20261031")]),
            Status::Inactive(format!(
                "account {DN} is inactive in unicaen: its state A (SupannActif) ended on 2026-10-31 (supannRessourceEtatDate) — supannRessourceEtat says active, supannRessourceEtatDate says ended on 2026-10-31: the stricter wins"
            ))
        );
    }

    #[test]
    fn an_unreadable_value_is_never_active() {
        assert_eq!(
            at(&[(E, "{COMPTE}A"), (D, "{COMPTE}A:SupannActif::2027")]),
            Status::Unreadable(format!(
                "account {DN} in unicaen: supannRessourceEtatDate value '{{COMPTE}}A:SupannActif::2027' cannot be read: end date '2027' is not AAAAMMJJ"
            ))
        );
    }
}
