//! Nightly runs write only what changed. Re-importing an existing enrolment is not
//! neutral in Moodle (its start is reset, an empty period erases its end date, a
//! different role is added), so against the state of the last written run this
//! computes: new enrolments, suspensions of vanished ones, reactivations, and the
//! changes a person must make by hand. Pure: no I/O.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::model::Enrolment;

/// One enrolment as written by an earlier run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub username: String,
    pub course: String,
    pub role: String,
    #[serde(default)]
    pub groups: Vec<String>,
    pub enrolperiod: Option<u32>,
    pub enrolstatus: Option<u8>,
    pub enroltimestart: Option<NaiveDate>,
    /// Suspended by a delta run because it vanished from the sources.
    #[serde(default)]
    pub suspended: bool,
}

impl Recorded {
    fn of(e: &Enrolment) -> Recorded {
        Recorded {
            username: e.username.clone(),
            course: e.course.clone(),
            role: e.role.clone(),
            groups: e.groups.iter().cloned().collect(),
            enrolperiod: e.enrolperiod,
            enrolstatus: e.enrolstatus,
            enroltimestart: e.enroltimestart,
            suspended: false,
        }
    }

    fn describe(&self) -> String {
        let mut s = format!("role {}", self.role);
        if !self.groups.is_empty() {
            s.push_str(&format!(", group {}", self.groups.join(" + ")));
        }
        if let Some(p) = self.enrolperiod {
            s.push_str(&format!(", period {p}"));
        }
        if let Some(st) = self.enrolstatus {
            s.push_str(&format!(", status {st}"));
        }
        if let Some(d) = self.enroltimestart {
            s.push_str(&format!(", start {d}"));
        }
        s
    }
}

/// A change to an existing enrolment that the upload file cannot make safely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualChange {
    pub username: String,
    pub course: String,
    pub was: String,
    pub now: String,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delta {
    /// Rows to write: new enrolments, reactivations and suspensions.
    pub rows: Vec<Enrolment>,
    pub new: usize,
    pub reactivated: usize,
    pub suspended: usize,
    pub manual: Vec<ManualChange>,
    /// Per course: (new, suspended).
    pub by_course: BTreeMap<String, (usize, usize)>,
    /// Courses where too many enrolments would be suspended: the run must stop.
    pub refused: Vec<String>,
    /// The state to record once the rows are written, sorted.
    pub state: Vec<Recorded>,
}

type Key = (String, String);

/// Compares the current plan with what earlier runs wrote.
pub fn delta(
    previous: &[Recorded],
    current: &BTreeMap<Key, Enrolment>,
    max_suspend_ratio: f64,
) -> Delta {
    let prev: BTreeMap<Key, &Recorded> = previous
        .iter()
        .map(|r| ((r.username.clone(), r.course.clone()), r))
        .collect();
    let mut d = Delta::default();
    let mut state: BTreeMap<Key, Recorded> = BTreeMap::new();
    for (key, e) in current {
        let now = Recorded::of(e);
        match prev.get(key) {
            None => {
                d.rows.push(e.clone());
                d.new += 1;
                d.by_course.entry(e.course.clone()).or_default().0 += 1;
            }
            Some(p) if p.suspended => {
                d.rows.push(Enrolment {
                    enrolstatus: Some(0),
                    ..e.clone()
                });
                d.reactivated += 1;
            }
            Some(p) => {
                let was = Recorded {
                    suspended: false,
                    ..(*p).clone()
                };
                if was != now {
                    d.manual.push(ManualChange {
                        username: e.username.clone(),
                        course: e.course.clone(),
                        was: was.describe(),
                        now: now.describe(),
                    });
                }
            }
        }
        state.insert(key.clone(), now);
    }
    let mut before: BTreeMap<&str, usize> = BTreeMap::new();
    let mut gone: BTreeMap<&str, usize> = BTreeMap::new();
    for (key, p) in &prev {
        if !p.suspended {
            *before.entry(p.course.as_str()).or_default() += 1;
        }
        if current.contains_key(key) {
            continue;
        }
        if !p.suspended {
            *gone.entry(p.course.as_str()).or_default() += 1;
            // The same role and period as before: the row only changes the status.
            d.rows.push(Enrolment {
                username: p.username.clone(),
                course: p.course.clone(),
                role: p.role.clone(),
                groups: Default::default(),
                enrolperiod: p.enrolperiod,
                enrolstatus: Some(1),
                enroltimestart: p.enroltimestart,
                rules: Default::default(),
                cohorts: Default::default(),
            });
            d.suspended += 1;
            d.by_course.entry(p.course.clone()).or_default().1 += 1;
        }
        state.insert(
            key.clone(),
            Recorded {
                suspended: true,
                ..(*p).clone()
            },
        );
    }
    for (course, n) in gone {
        let total = before.get(course).copied().unwrap_or(n);
        let ratio = n as f64 / total as f64;
        if ratio > max_suspend_ratio {
            d.refused.push(format!(
                "course {course}: {n} of {total} enrolments would be suspended ({:.0}%), above max_suspend_ratio {:.0}%",
                ratio * 100.0,
                max_suspend_ratio * 100.0
            ));
        }
    }
    d.rows
        .sort_by(|a, b| (&a.username, &a.course).cmp(&(&b.username, &b.course)));
    d.state = state.into_values().collect();
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(user: &str, course: &str, role: &str) -> Enrolment {
        Enrolment {
            username: user.into(),
            course: course.into(),
            role: role.into(),
            groups: Default::default(),
            enrolperiod: Some(60),
            enrolstatus: None,
            enroltimestart: None,
            rules: Default::default(),
            cohorts: Default::default(),
        }
    }

    fn plan(es: &[Enrolment]) -> BTreeMap<Key, Enrolment> {
        es.iter()
            .map(|e| ((e.username.clone(), e.course.clone()), e.clone()))
            .collect()
    }

    #[test]
    fn first_run_writes_everything() {
        let cur = plan(&[e("a", "C", "student"), e("b", "C", "student")]);
        let d = delta(&[], &cur, 0.1);
        assert_eq!((d.new, d.suspended, d.rows.len()), (2, 0, 2));
        assert_eq!(d.state.len(), 2);
    }

    #[test]
    fn second_run_writes_only_the_new_and_suspends_the_vanished() {
        let first: Vec<_> = (0..20)
            .map(|i| e(&format!("u{i:02}"), "C", "student"))
            .collect();
        let state = delta(&[], &plan(&first), 0.1).state;
        let mut second = first.clone();
        second.remove(3);
        second.push(e("new", "C", "student"));
        let d = delta(&state, &plan(&second), 0.1);
        assert_eq!((d.new, d.suspended), (1, 1));
        let rows: Vec<_> = d
            .rows
            .iter()
            .map(|r| (r.username.as_str(), r.enrolstatus, r.enrolperiod))
            .collect();
        assert_eq!(rows, [("new", None, Some(60)), ("u03", Some(1), Some(60))]);
        assert!(d.state.iter().any(|r| r.username == "u03" && r.suspended));
        // Third run, nothing changed: nothing to write, u03 not suspended again.
        let d3 = delta(&d.state, &plan(&second), 0.1);
        assert!(d3.rows.is_empty() && d3.manual.is_empty());
        // u03 comes back: reactivated.
        let d4 = delta(&d3.state, &plan(&first), 0.1);
        assert_eq!(d4.reactivated, 1);
        assert_eq!(
            d4.rows
                .iter()
                .find(|r| r.username == "u03")
                .unwrap()
                .enrolstatus,
            Some(0)
        );
    }

    #[test]
    fn an_emptied_course_is_refused() {
        let first: Vec<_> = (0..20)
            .map(|i| e(&format!("u{i:02}"), "C", "student"))
            .collect();
        let state = delta(&[], &plan(&first), 0.1).state;
        let d = delta(&state, &plan(&[]), 0.1);
        assert_eq!(d.refused, ["course C: 20 of 20 enrolments would be suspended (100%), above max_suspend_ratio 10%"]);
        // Two of twenty (10%) is not above 10%.
        let d = delta(&state, &plan(&first[2..]), 0.1);
        assert!(d.refused.is_empty());
    }

    #[test]
    fn role_change_is_manual_not_written() {
        let state = delta(&[], &plan(&[e("a", "C", "student")]), 0.1).state;
        let d = delta(&state, &plan(&[e("a", "C", "editingteacher")]), 0.1);
        assert!(d.rows.is_empty());
        assert_eq!(
            d.manual,
            [ManualChange {
                username: "a".into(),
                course: "C".into(),
                was: "role student, period 60".into(),
                now: "role editingteacher, period 60".into()
            }]
        );
    }
}
