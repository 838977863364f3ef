//! SUPANN's account-state values, read (domain knowledge, used by both directory
//! sources and by the core's tests): `supannRessourceEtat`
//! (`{COMPTE}A`) and `supannRessourceEtatDate` (`{COMPTE}A:SupannActif::20271231`,
//! state:sub-state:start:end with AAAAMMJJ dates, either date empty). Only the
//! `{COMPTE}` resource says whether an account may be used; other resources are
//! dropped here. A value that cannot be read is kept with the reason, so that the
//! core refuses the account rather than taking it as active.

use chrono::NaiveDate;

use crate::model::{AccountStatus, StateReading, StateValue};

/// The `{COMPTE}` value `raw` of `attribute`, read; `None` for another resource.
pub fn parse(attribute: &str, raw: &str) -> Option<StateValue> {
    let v = raw.trim();
    let reading = match v.strip_prefix('{').and_then(|r| r.split_once('}')) {
        Some((resource, rest)) if resource.eq_ignore_ascii_case("COMPTE") => read(rest),
        Some(_) => return None,
        None => {
            Err("no {RESOURCE} prefix (expected {COMPTE}A, {COMPTE}I or {COMPTE}S)".to_string())
        }
    };
    Some(StateValue {
        attribute: attribute.to_string(),
        raw: v.to_string(),
        reading,
    })
}

fn read(rest: &str) -> Result<StateReading, String> {
    let parts: Vec<&str> = rest.split(':').collect();
    let state = match parts[0] {
        "A" | "a" => AccountStatus::Active,
        "I" | "i" => AccountStatus::Inactive,
        "S" | "s" => AccountStatus::Suspended,
        "" => return Err("no state after {COMPTE}".to_string()),
        other => return Err(format!("unknown state '{other}' (A, I or S)")),
    };
    let (sub_state, start, end) = match parts.as_slice() {
        [_] => (None, None, None),
        [_, sub, start, end] => (
            Some(sub.trim().to_string()).filter(|s| !s.is_empty()),
            date(start, "start")?,
            date(end, "end")?,
        ),
        _ => {
            return Err(format!(
                "{} field(s) where STATE or STATE:SUBSTATE:START:END is expected",
                parts.len()
            ))
        }
    };
    if let (Some(s), Some(e)) = (start, end) {
        if e < s {
            return Err(format!("ends ({e}) before it starts ({s})"));
        }
    }
    Ok(StateReading {
        state,
        sub_state,
        start,
        end,
    })
}

fn date(s: &str, which: &str) -> Result<Option<NaiveDate>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{which} date '{s}' is not AAAAMMJJ"));
    }
    NaiveDate::parse_from_str(s, "%Y%m%d")
        .map(Some)
        .map_err(|_| format!("{which} date '{s}' is not a calendar date"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> StateReading {
        parse("supannRessourceEtatDate", raw)
            .unwrap()
            .reading
            .unwrap()
    }

    fn err(raw: &str) -> String {
        parse("supannRessourceEtatDate", raw)
            .unwrap()
            .reading
            .unwrap_err()
    }

    fn d(s: &str) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
    }

    #[test]
    fn reads_both_forms() {
        assert_eq!(
            ok("{COMPTE}A"),
            StateReading {
                state: AccountStatus::Active,
                sub_state: None,
                start: None,
                end: None
            }
        );
        assert_eq!(
            ok("{COMPTE}A:SupannActif::20271231"),
            StateReading {
                state: AccountStatus::Active,
                sub_state: Some("SupannActif".into()),
                start: None,
                end: d("2027-12-31"),
            }
        );
        assert_eq!(
            ok(" {compte}I:SupannInactif:20250901: "),
            StateReading {
                state: AccountStatus::Inactive,
                sub_state: Some("SupannInactif".into()),
                start: d("2025-09-01"),
                end: None,
            }
        );
        assert_eq!(ok("{COMPTE}S:::").state, AccountStatus::Suspended);
    }

    #[test]
    fn other_resources_are_dropped() {
        assert!(parse("supannRessourceEtat", "{MAIL}I").is_none());
        assert!(parse("supannRessourceEtatDate", "{WIFI}A:SupannActif::").is_none());
    }

    #[test]
    fn unreadable_values_say_why() {
        assert_eq!(err("{COMPTE}X"), "unknown state 'X' (A, I or S)");
        assert_eq!(err("{COMPTE}Actif"), "unknown state 'Actif' (A, I or S)");
        assert_eq!(err("{COMPTE}"), "no state after {COMPTE}");
        assert_eq!(
            err("{COMPTE}A:SupannActif"),
            "2 field(s) where STATE or STATE:SUBSTATE:START:END is expected"
        );
        assert_eq!(
            err("{COMPTE}A:x:2025-09-01:"),
            "start date '2025-09-01' is not AAAAMMJJ"
        );
        assert_eq!(
            err("{COMPTE}A:x::20270231"),
            "end date '20270231' is not a calendar date"
        );
        assert_eq!(
            err("{COMPTE}A:x:20270101:20260101"),
            "ends (2026-01-01) before it starts (2027-01-01)"
        );
        assert!(err("A").starts_with("no {RESOURCE} prefix"));
        assert!(err("{COMPTE").starts_with("no {RESOURCE} prefix"));
    }
}
