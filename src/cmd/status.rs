//! `enrolgen status`: how the last run went, in the convention of Nagios plugins
//! (Centreon, Icinga, Naemon read it as is): one line `ENROLGEN STATE - text | perfdata`
//! and the exit code 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. It reads what `run`
//! leaves in its output folder (last-run.json, summary.json) and nothing else.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::cli::StatusArgs;
use crate::error::Error;
use crate::output::monitor::{self, LastRun, Outcome};

/// A plugin's states, in the order of their severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    #[default]
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl State {
    fn word(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    pub warning_age_hours: f64,
    pub critical_age_hours: f64,
    pub warning_left_out: Option<f64>,
    pub critical_left_out: Option<f64>,
}

pub fn run(args: &StatusArgs, now: DateTime<Utc>) -> Result<u8, Error> {
    let t = Thresholds {
        warning_age_hours: args.warning_age,
        critical_age_hours: args.critical_age,
        warning_left_out: args.warning_left_out,
        critical_left_out: args.critical_left_out,
    };
    let (state, line) = match read(&args.out) {
        Ok((last, summary, written)) => evaluate(last.as_ref(), summary.as_ref(), written, now, &t),
        Err(why) => (State::Unknown, why),
    };
    println!("ENROLGEN {} - {line}", state.word());
    Ok(state as u8)
}

type Read = (Option<LastRun>, Option<Value>, Option<DateTime<Utc>>);

/// last-run.json, summary.json and when summary.json was written (for folders of
/// runs older than last-run.json).
fn read(out: &Path) -> Result<Read, String> {
    let last = monitor::last_run(out)?;
    let summary = monitor::summary(out)?;
    let written = std::fs::metadata(out.join("summary.json"))
        .and_then(|m| m.modified())
        .ok()
        .map(DateTime::<Utc>::from);
    Ok((last, summary, written))
}

/// The state and the line (text, then perfdata after `|`). Every condition that
/// holds is said; the worst sets the state.
pub fn evaluate(
    last: Option<&LastRun>,
    summary: Option<&Value>,
    summary_written: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    t: &Thresholds,
) -> (State, String) {
    if last.is_none() && summary.is_none() {
        return (
            State::Unknown,
            "no run recorded here (no last-run.json nor summary.json): is --out the run's output folder?".into(),
        );
    }
    let mut f = Findings::default();
    if let Some(l) = last {
        f.last_run(l);
        f.future(l, now);
    }
    // A folder of runs older than last-run.json: its summary's date.
    let success = match last {
        Some(l) => l.last_success,
        None => summary_written,
    };
    let age_hours = success.map(|s| (now - s).num_seconds().max(0) as f64 / 3600.0);
    f.age(age_hours, t);
    let counts = Counts::of(summary);
    f.left_out(counts.ratio, t);
    let text = if f.state == State::Ok {
        format!(
            "last run {}, {:.1} h ago",
            success.map_or(String::from("?"), |s| s
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()),
            age_hours.unwrap_or(0.0)
        )
    } else {
        short(&f.said.join("; "))
    };
    let mut line = format!(
        "{text}: {} enrolments planned, {} left out | {}",
        counts.planned,
        counts.left_out,
        perfdata(&counts, last, age_hours, t)
    );
    // The first line stays short; every finding in full on the lines after it
    // (the plugin's long output), none able to start perfdata.
    if f.said.iter().any(|w| plain(w) != short(w)) || f.said.len() > 1 {
        for w in &f.said {
            line.push('\n');
            line.push_str(&plain(w));
        }
    }
    (f.state, line)
}

/// A text on one line of a plugin's output: a `|` would start perfdata and a
/// line break a new line, so both become something else.
fn plain(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '|' => '/',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// `plain`, cut to the length a status line shows.
fn short(text: &str) -> String {
    const MAX: usize = 160;
    let p = plain(text);
    if p.chars().count() <= MAX {
        return p;
    }
    let cut: String = p.chars().take(MAX - 1).collect();
    format!("{cut}…")
}

/// The conditions found so far, and the worst state among them.
#[derive(Default)]
struct Findings {
    state: State,
    said: Vec<String>,
}

impl Findings {
    fn raise(&mut self, s: State, why: String) {
        self.state = self.state.max(s);
        self.said.push(why);
    }

    /// How the last run ended.
    fn last_run(&mut self, l: &LastRun) {
        match l.outcome {
            Outcome::Failed => self.raise(
                State::Critical,
                format!(
                    "last run failed (exit {}, {}): {}",
                    l.exit_code,
                    l.finished.format("%Y-%m-%d %H:%M UTC"),
                    l.error.as_deref().unwrap_or("no message")
                ),
            ),
            Outcome::Attention => {
                let why = match l.exit_code {
                    5 => "suspensions held back",
                    7 => "operations Moodle refused",
                    _ => "too many left out",
                };
                let text = format!("last run needs a person (exit {}: {why})", l.exit_code);
                self.raise(State::Warning, text);
            }
            Outcome::Ok => {}
        }
        if let Some(e) = &l.prometheus_error {
            self.raise(
                State::Warning,
                format!(
                    "the Prometheus file could not be written, its collector reads an old one: {e}"
                ),
            );
        }
    }

    /// A record dated after now (a wrong clock, a file edited or copied) says
    /// nothing that can be trusted about how recent the last run is.
    fn future(&mut self, l: &LastRun, now: DateTime<Utc>) {
        let slack = chrono::Duration::minutes(5);
        let latest = l.last_success.map_or(l.finished, |s| s.max(l.finished));
        if latest > now + slack {
            self.raise(
                State::Unknown,
                format!(
                    "last-run.json is dated {}, after now ({}): the clock or the file is wrong",
                    latest.format("%Y-%m-%d %H:%M UTC"),
                    now.format("%Y-%m-%d %H:%M UTC")
                ),
            );
        }
    }

    /// How long since a run wrote its files.
    fn age(&mut self, hours: Option<f64>, t: &Thresholds) {
        match hours {
            None => self.raise(State::Critical, "no run has written its files yet".into()),
            Some(h) if h > t.critical_age_hours => self.raise(
                State::Critical,
                format!(
                    "files last written {h:.1} h ago (critical above {} h)",
                    t.critical_age_hours
                ),
            ),
            Some(h) if h > t.warning_age_hours => self.raise(
                State::Warning,
                format!(
                    "files last written {h:.1} h ago (warning above {} h)",
                    t.warning_age_hours
                ),
            ),
            Some(_) => {}
        }
    }

    /// The share left out, against the thresholds given.
    fn left_out(&mut self, ratio: f64, t: &Thresholds) {
        let over = |limit: Option<f64>| limit.filter(|l| ratio > *l);
        let said = |word: &str, l: f64| {
            format!(
                "{:.1}% left out ({word} above {:.1}%)",
                ratio * 100.0,
                l * 100.0
            )
        };
        if let Some(l) = over(t.critical_left_out) {
            self.raise(State::Critical, said("critical", l));
        } else if let Some(l) = over(t.warning_left_out) {
            self.raise(State::Warning, said("warning", l));
        }
    }
}

/// What the last summary counts, over every platform.
#[derive(Debug, Default)]
struct Counts {
    planned: u64,
    rows: u64,
    applied: u64,
    left_out: u64,
    ratio: f64,
}

impl Counts {
    fn of(summary: Option<&Value>) -> Counts {
        let mut c = Counts::default();
        let Some(s) = summary else {
            return c;
        };
        c.ratio = s
            .get("left_out_ratio")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        let platforms = s.get("platforms").and_then(Value::as_object);
        for p in platforms.into_iter().flat_map(|m| m.values()) {
            let n = |k: &str| p.get(k).and_then(Value::as_u64).unwrap_or(0);
            c.planned += n("enrolments");
            c.rows += n("rows");
            c.applied += p
                .pointer("/webservice/applied")
                .and_then(Value::as_object)
                .map_or(0, |a| a.values().filter_map(Value::as_u64).sum());
            // Duplicates are written once: not left out of anything.
            c.left_out += p.get("left_out").and_then(Value::as_object).map_or(0, |m| {
                m.iter()
                    .filter(|(k, _)| k.as_str() != "duplicate")
                    .filter_map(|(_, v)| v.as_u64())
                    .sum()
            });
        }
        c
    }
}

/// `label=value[unit];warn;crit;min;max` each, as the plugin guidelines write them.
fn perfdata(c: &Counts, last: Option<&LastRun>, age_hours: Option<f64>, t: &Thresholds) -> String {
    let mut parts = vec![
        format!("planned={};;;0", c.planned),
        format!("rows={};;;0", c.rows),
        format!("applied={};;;0", c.applied),
        format!("left_out={};;;0", c.left_out),
        format!(
            "left_out_ratio={:.4};{};{};0;1",
            c.ratio,
            t.warning_left_out
                .map(|w| w.to_string())
                .unwrap_or_default(),
            t.critical_left_out
                .map(|w| w.to_string())
                .unwrap_or_default()
        ),
    ];
    if let Some(l) = last {
        parts.push(format!("seconds={:.2}s;;;0", l.seconds));
    }
    if let Some(h) = age_hours {
        parts.push(format!(
            "age={}s;{};{};0",
            (h * 3600.0).round() as u64,
            (t.warning_age_hours * 3600.0).round() as u64,
            (t.critical_age_hours * 3600.0).round() as u64
        ));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds {
        warning_age_hours: 26.0,
        critical_age_hours: 50.0,
        warning_left_out: Some(0.05),
        critical_left_out: Some(0.2),
    };

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn last(code: u8, outcome: Outcome, success: &str) -> LastRun {
        LastRun {
            finished: at("2026-12-04T02:30:00Z"),
            seconds: 4.0,
            exit_code: code,
            outcome,
            error: (outcome == Outcome::Failed).then(|| "directory u: refused".to_string()),
            last_success: Some(at(success)),
            prometheus_error: None,
        }
    }

    fn summary(ratio: f64) -> Value {
        serde_json::json!({"left_out_ratio": ratio, "platforms": {
            "a": {"enrolments": 10, "rows": 8, "left_out": {"no_account": 2, "duplicate": 3}}}})
    }

    #[test]
    fn a_good_recent_run_is_ok_with_its_counts() {
        let l = last(0, Outcome::Ok, "2026-12-04T02:30:00Z");
        let (s, line) = evaluate(
            Some(&l),
            Some(&summary(0.01)),
            None,
            at("2026-12-04T08:30:00Z"),
            &T,
        );
        assert_eq!(s, State::Ok);
        assert_eq!(
            line,
            "last run 2026-12-04 02:30 UTC, 6.0 h ago: 10 enrolments planned, 2 left out | planned=10;;;0 rows=8;;;0 applied=0;;;0 left_out=2;;;0 left_out_ratio=0.0100;0.05;0.2;0;1 seconds=4.00s;;;0 age=21600s;93600;180000;0"
        );
    }

    #[test]
    fn age_failure_and_left_out_each_raise_the_state() {
        let now = at("2026-12-05T08:30:00Z");
        let ok = last(0, Outcome::Ok, "2026-12-04T02:30:00Z");
        let (s, line) = evaluate(Some(&ok), Some(&summary(0.01)), None, now, &T);
        assert_eq!(s, State::Warning, "{line}");
        assert!(
            line.starts_with("files last written 30.0 h ago (warning above 26 h)"),
            "{line}"
        );
        let failed = last(3, Outcome::Failed, "2026-12-04T02:30:00Z");
        let (s, line) = evaluate(Some(&failed), Some(&summary(0.01)), None, now, &T);
        assert_eq!(s, State::Critical);
        assert!(line.starts_with("last run failed (exit 3, 2026-12-04 02:30 UTC): directory u: refused; files last written 30.0 h ago"), "{line}");
        let (s, _) = evaluate(
            Some(&ok),
            Some(&summary(0.3)),
            None,
            at("2026-12-04T03:00:00Z"),
            &T,
        );
        assert_eq!(s, State::Critical);
        let held = last(5, Outcome::Attention, "2026-12-04T02:30:00Z");
        let (s, line) = evaluate(
            Some(&held),
            Some(&summary(0.0)),
            None,
            at("2026-12-04T03:00:00Z"),
            &T,
        );
        assert_eq!(s, State::Warning);
        assert!(line.contains("suspensions held back"), "{line}");
    }

    #[test]
    fn nothing_recorded_is_unknown_and_an_old_folder_is_read_by_its_summary() {
        let (s, _) = evaluate(None, None, None, at("2026-12-04T03:00:00Z"), &T);
        assert_eq!(s, State::Unknown);
        let (s, line) = evaluate(
            None,
            Some(&summary(0.0)),
            Some(at("2026-12-04T02:00:00Z")),
            at("2026-12-04T03:00:00Z"),
            &T,
        );
        assert_eq!(s, State::Ok, "{line}");
    }

    #[test]
    fn a_record_from_the_future_is_unknown_not_ok() {
        let l = last(0, Outcome::Ok, "2026-12-09T02:30:00Z");
        let (s, line) = evaluate(
            Some(&l),
            Some(&summary(0.0)),
            None,
            at("2026-12-04T08:30:00Z"),
            &T,
        );
        assert_eq!(s, State::Unknown, "{line}");
        assert!(line.contains("the clock or the file is wrong"), "{line}");
    }

    #[test]
    fn an_error_with_a_bar_or_a_line_break_stays_out_of_perfdata_and_the_first_line_is_short() {
        let mut l = last(3, Outcome::Failed, "2026-12-04T02:30:00Z");
        l.error = Some(format!("bad | value\nsecond line {}", "x".repeat(600)));
        let (s, out) = evaluate(
            Some(&l),
            Some(&summary(0.0)),
            None,
            at("2026-12-04T03:30:00Z"),
            &T,
        );
        assert_eq!(s, State::Critical);
        let first = out.lines().next().unwrap();
        assert_eq!(first.matches('|').count(), 1, "only perfdata's: {first}");
        assert!(first.chars().count() < 400, "{first}");
        assert!(first.contains("bad / value second line"), "{first}");
        let rest: Vec<&str> = out.lines().skip(1).collect();
        assert_eq!(rest.len(), 1, "{out}");
        assert!(rest[0].ends_with(&"x".repeat(600)), "the details in full");
        assert!(!rest[0].contains('|'));
    }

    #[test]
    fn refusals_and_a_prometheus_file_not_written_are_warnings() {
        let mut l = last(7, Outcome::Attention, "2026-12-04T02:30:00Z");
        let now = at("2026-12-04T03:00:00Z");
        let (s, line) = evaluate(Some(&l), Some(&summary(0.0)), None, now, &T);
        assert_eq!(s, State::Warning);
        assert!(line.contains("operations Moodle refused"), "{line}");
        l = last(0, Outcome::Ok, "2026-12-04T02:30:00Z");
        l.prometheus_error = Some("permission denied".into());
        let (s, line) = evaluate(Some(&l), Some(&summary(0.0)), None, now, &T);
        assert_eq!(s, State::Warning);
        assert!(
            line.contains("Prometheus file could not be written"),
            "{line}"
        );
    }
}
