//! `accounts_in: moodle`: the platform's Moodle is the judge of its accounts. Each
//! enrolment of the plan whose account the platform's Moodle does not have, holds
//! suspended, or holds under an authentication method the platform does not accept
//! is left out, with its reason: Moodle would skip its row ("update existing users
//! only"), or enrol an account nobody can log in with; an account the platform
//! made too recently (its `moodle_created_report` lists it) waits for a later run.
//! Pure: the accounts are read
//! by `source::moodle` and given here.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{LeftOut, MatchField, MoodleAccounts, PlatformUser, Reason};
use crate::plan::PlatformPlan;

/// The usernames whose accounts the platform must be asked about: every one of the
/// plan, each night (an account written on an earlier night may have been
/// suspended or deleted in Moodle since, and must be left out with its reason the
/// night after, not enrolled on trust).
pub fn to_ask(pp: &PlatformPlan) -> Vec<String> {
    let asked: BTreeSet<&str> = pp.enrolments.keys().map(|k| k.username.as_str()).collect();
    asked.into_iter().map(str::to_string).collect()
}

/// Moves the enrolments of accounts the platform refuses to `left_out` (sorted).
pub fn apply(
    pp: &mut PlatformPlan,
    rules: &MoodleAccounts,
    users: &BTreeMap<String, PlatformUser>,
    site: &str,
) {
    let refused: Vec<(crate::model::UserCourse, Reason, String)> = pp
        .enrolments
        .keys()
        .filter_map(|k| {
            let why = match users.get(&k.username) {
                None => (
                    Reason::NoPlatformAccount,
                    format!("no account '{}' on {site}", k.username),
                ),
                Some(u) if !u.also.is_empty() => (
                    Reason::AmbiguousAccount,
                    format!(
                        "'{}' is the {} of several accounts on {site}: {}, {}; none is enrolled",
                        k.username,
                        rules.field.name(),
                        u.username,
                        u.also.join(", ")
                    ),
                ),
                Some(u) if u.suspended => (
                    Reason::PlatformAccountSuspended,
                    format!("account '{}' is suspended on {site}", k.username),
                ),
                Some(u) if rules.auth.as_ref().is_some_and(|a| !a.contains(&u.auth)) => (
                    Reason::PlatformAuthRefused,
                    format!(
                        "account '{}' authenticates by '{}' on {site}; the platform accepts {}",
                        k.username,
                        u.auth,
                        rules
                            .auth
                            .iter()
                            .flatten()
                            .map(String::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                Some(u) => match u.created_from {
                    Some(from) => (
                        Reason::AccountTooRecent,
                        format!(
                            "account '{}' was created on {site} on {from} or later: too recent, retried next run",
                            k.username
                        ),
                    ),
                    None => return None,
                },
            };
            Some((k.clone(), why.0, why.1))
        })
        .collect();
    pp.leave_out(refused);
    if rules.field == MatchField::Idnumber {
        pp.by_idnumber = pp
            .enrolments
            .keys()
            .filter_map(|k| Some((k.username.clone(), users.get(&k.username)?.username.clone())))
            .collect();
        written_as_moodle_knows(pp, users);
    }
    pp.left_out.sort();
}

/// By idnumber, the plan's login is the student number; the file is written with
/// the account's username in Moodle (an account found for two student numbers
/// enrols neither twice: the second is a duplicate).
fn written_as_moodle_knows(pp: &mut PlatformPlan, users: &BTreeMap<String, PlatformUser>) {
    let renamed: Vec<(crate::model::UserCourse, String)> = pp
        .enrolments
        .keys()
        .filter_map(|k| {
            let u = users.get(&k.username)?;
            (u.username != k.username).then(|| (k.clone(), u.username.clone()))
        })
        .collect();
    for (k, username) in renamed {
        let Some(mut e) = pp.enrolments.remove(&k) else {
            continue;
        };
        // A username Moodle allows (extendedusernamechars) that an upload file
        // cannot carry: that account is left out, the others are written.
        if let Err(why) = crate::moodle::check_username(&username) {
            let detail = format!(
                "the account of this student number on the platform is '{}', which an upload file cannot carry: {why}",
                username.escape_debug()
            );
            pp.left_out.push(LeftOut {
                student_id: k.username.clone(),
                ..LeftOut::of(&e, Reason::InvalidValue, detail)
            });
            continue;
        }
        e.username = username;
        match pp.enrolments.entry(e.key()) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(e);
            }
            std::collections::btree_map::Entry::Occupied(_) => {
                let detail = format!(
                    "the account '{}' is already planned in this course",
                    e.username
                );
                pp.left_out.push(LeftOut {
                    student_id: k.username.clone(),
                    ..LeftOut::of(&e, Reason::Duplicate, detail)
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Enrolment, UserCourse};

    fn enrolment(u: &str) -> (UserCourse, Enrolment) {
        let e = Enrolment {
            username: u.into(),
            course: "C".into(),
            role: "student".into(),
            groups: Default::default(),
            enrolperiod: None,
            enrolstatus: None,
            enroltimestart: None,
            rules: vec![3],
            cohorts: vec!["psy".into()],
        };
        (e.key(), e)
    }

    fn user(u: &str, auth: &str, suspended: bool) -> (String, PlatformUser) {
        (
            u.into(),
            PlatformUser {
                username: u.into(),
                idnumber: None,
                auth: auth.into(),
                suspended,
                created_from: None,
                also: Vec::new(),
            },
        )
    }

    /// An account found by idnumber `n`, named `u` in Moodle (and `also` others
    /// holding the same idnumber).
    fn by_number(n: &str, u: &str, also: &[&str]) -> (String, PlatformUser) {
        (
            n.into(),
            PlatformUser {
                username: u.into(),
                idnumber: Some(n.into()),
                auth: "manual".into(),
                suspended: false,
                created_from: None,
                also: also.iter().map(|a| a.to_string()).collect(),
            },
        )
    }

    const BY_IDNUMBER: MoodleAccounts = MoodleAccounts {
        auth: None,
        field: MatchField::Idnumber,
        created_report: None,
    };

    #[test]
    fn the_platform_s_moodle_decides_each_account() {
        let mut pp = PlatformPlan {
            enrolments: ["ok", "missing", "held", "ldap", "new"]
                .map(enrolment)
                .into(),
            left_out: vec![],
            by_idnumber: Default::default(),
        };
        let mut new = user("new", "cas", false);
        new.1.created_from = chrono::NaiveDate::from_ymd_opt(2026, 11, 24);
        let users = [
            user("ok", "cas", false),
            user("held", "cas", true),
            user("ldap", "ldap", false),
            new,
        ]
        .into();
        let rules = MoodleAccounts {
            auth: Some(["cas".to_string()].into()),
            field: MatchField::Username,
            created_report: Some(7),
        };
        apply(&mut pp, &rules, &users, "https://m");
        assert_eq!(pp.enrolments.len(), 1);
        assert!(pp.enrolments.contains_key(&UserCourse::new("ok", "C")));
        let lines: Vec<(Reason, &str, &str)> = pp
            .left_out
            .iter()
            .map(|l| (l.reason, l.username.as_str(), l.detail.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                (
                    Reason::AccountTooRecent,
                    "new",
                    "account 'new' was created on https://m on 2026-11-24 or later: too recent, retried next run"
                ),
                (
                    Reason::NoPlatformAccount,
                    "missing",
                    "no account 'missing' on https://m"
                ),
                (
                    Reason::PlatformAccountSuspended,
                    "held",
                    "account 'held' is suspended on https://m"
                ),
                (
                    Reason::PlatformAuthRefused,
                    "ldap",
                    "account 'ldap' authenticates by 'ldap' on https://m; the platform accepts cas"
                ),
            ]
        );
        assert_eq!(pp.left_out[1].rule, 3, "the enrolment's rule");
    }

    /// Before: an account written on an earlier night was never asked again, so one
    /// suspended or deleted in Moodle since stayed enrolled with exit 0.
    #[test]
    fn every_account_of_the_plan_is_asked_every_night() {
        let pp = PlatformPlan {
            enrolments: ["written-last-night", "new"].map(enrolment).into(),
            left_out: vec![],
            by_idnumber: Default::default(),
        };
        assert_eq!(to_ask(&pp), ["new", "written-last-night"]);
    }

    #[test]
    fn by_idnumber_the_file_has_the_account_s_username() {
        let mut pp = PlatformPlan {
            enrolments: ["21000101", "21000104"].map(enrolment).into(),
            left_out: vec![],
            by_idnumber: Default::default(),
        };
        let users = [by_number("21000101", "zoe.michel", &[])].into();
        apply(&mut pp, &BY_IDNUMBER, &users, "https://m");
        let written: Vec<&str> = pp.enrolments.keys().map(|k| k.username.as_str()).collect();
        assert_eq!(written, ["zoe.michel"]);
        assert_eq!(pp.left_out[0].reason, Reason::NoPlatformAccount);
        assert_eq!(pp.left_out[0].username, "21000104");
    }

    /// Before: the last account Moodle listed won, and student 21000101 was written
    /// as `impostor.account`.
    #[test]
    fn one_idnumber_on_two_accounts_enrols_neither() {
        let mut pp = PlatformPlan {
            enrolments: ["21000101"].map(enrolment).into(),
            left_out: vec![],
            by_idnumber: Default::default(),
        };
        let users = [by_number("21000101", "zoe.michel", &["impostor.account"])].into();
        apply(&mut pp, &BY_IDNUMBER, &users, "https://m");
        assert!(pp.enrolments.is_empty());
        assert_eq!(pp.left_out[0].reason, Reason::AmbiguousAccount);
        assert_eq!(
            pp.left_out[0].detail,
            "'21000101' is the idnumber of several accounts on https://m: zoe.michel, impostor.account; none is enrolled"
        );
    }

    /// Before: one such username stopped the whole run ("internal error: refusing to
    /// write row N", exit 4), every platform unwritten.
    #[test]
    fn a_username_no_upload_file_can_carry_leaves_that_account_out() {
        let mut pp = PlatformPlan {
            enrolments: ["21000101", "21000102"].map(enrolment).into(),
            left_out: vec![],
            by_idnumber: Default::default(),
        };
        let users = [
            by_number("21000101", "o'brien", &[]),
            by_number("21000102", "zoe.michel", &[]),
        ]
        .into();
        apply(&mut pp, &BY_IDNUMBER, &users, "https://m");
        let written: Vec<&str> = pp.enrolments.keys().map(|k| k.username.as_str()).collect();
        assert_eq!(written, ["zoe.michel"]);
        assert_eq!(pp.left_out[0].reason, Reason::InvalidValue);
        assert_eq!(pp.left_out[0].student_id, "21000101");
        assert!(
            pp.left_out[0].detail.contains("'o\\'brien'"),
            "{}",
            pp.left_out[0].detail
        );
    }
}
