//! What monitoring reads after each `run`, written even when the run failed:
//! `last-run.json` (when, how long, the exit code and the error, and when a run last
//! wrote its files) and a Prometheus text file for node_exporter's textfile
//! collector (`enrolgen.prom`, or `prometheus_file` in the configuration). Both are
//! written atomically: a collector never reads half a file.
//!
//! The counts come from the last `summary.json`, that of this run when it wrote
//! one, else the last good run's: a failed run changes no count.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::output::{atomic, OutputError, RenderedFile};

pub const LAST_RUN: &str = "last-run.json";
pub const METRICS: &str = "enrolgen.prom";

/// How a run ended, as monitoring sees it (`outcome` in last-run.json).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Files written or the plan applied, nothing to look at (exit 0).
    Ok,
    /// Files written or the plan applied, but a person is needed: too many left
    /// out (exit 1), suspensions held back (exit 5), operations Moodle refused
    /// (exit 7). A run that wrote counts as a success (`last_success`).
    Attention,
    /// Not done: configuration, a source or a platform's Moodle, the output
    /// (exit 2, 3, 4).
    Failed,
}

/// `last-run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastRun {
    pub finished: DateTime<Utc>,
    pub seconds: f64,
    pub exit_code: u8,
    pub outcome: Outcome,
    /// The error a failed run ended with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When a run last wrote its files (this one, or an earlier one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<DateTime<Utc>>,
    /// Why the Prometheus file could not be written (the collector then reads an
    /// old one): `status` says it as a WARNING.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus_error: Option<String>,
}

/// Reads `dir/last-run.json`; `None` when there is none.
pub fn last_run(dir: &Path) -> Result<Option<LastRun>, String> {
    read_json(&dir.join(LAST_RUN))
}

/// Reads `dir/summary.json` as JSON (it is only read here, never trusted to have
/// every field); `None` when there is none.
pub fn summary(dir: &Path) -> Result<Option<Value>, String> {
    read_json(&dir.join("summary.json"))
}

/// A JSON file, or `None` when there is none; an error says which file and why.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, String> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| format!("{} is unreadable: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// How a run ended, before it is recorded.
pub struct Ended {
    pub finished: DateTime<Utc>,
    pub seconds: f64,
    pub exit_code: u8,
    pub outcome: Outcome,
    pub error: Option<String>,
}

/// Records a run's end in `out`: last-run.json first, always, then the Prometheus
/// file there (or at `prometheus_file`). A Prometheus file that cannot be written
/// is recorded in last-run.json (`status` warns) and returned as the error.
pub fn record(
    out: &Path,
    prometheus_file: Option<&Path>,
    ended: Ended,
    file_mode: u32,
) -> Result<(), OutputError> {
    let previous = last_run(out).ok().flatten();
    let last_success = if ended.outcome == Outcome::Failed {
        previous.and_then(|p| p.last_success)
    } else {
        Some(ended.finished)
    };
    let mut last = LastRun {
        finished: ended.finished,
        seconds: ended.seconds,
        exit_code: ended.exit_code,
        outcome: ended.outcome,
        error: ended.error,
        last_success,
        prometheus_error: None,
    };
    write_last_run(out, &last, file_mode)?;
    let summary = summary(out).ok().flatten();
    let metrics = RenderedFile {
        name: PathBuf::from(METRICS),
        bytes: prometheus(&last, summary.as_ref()).into_bytes(),
    };
    let written = match prometheus_file {
        None => atomic::write_all(out, out, &[metrics], file_mode),
        Some(p) => {
            let dir = p.parent().unwrap_or(Path::new("."));
            let name = p.file_name().map(PathBuf::from).unwrap_or_default();
            // The collector's folder is not ours: mode 0644, as node_exporter
            // (another user) must read it; it holds counts, no personal data. It
            // must exist: a mistyped path makes no folders.
            if !dir.as_os_str().is_empty() && !dir.is_dir() {
                Err(OutputError::Io {
                    path: dir.to_path_buf(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "the prometheus_file's folder does not exist",
                    ),
                })
            } else {
                atomic::write_all(dir, dir, &[RenderedFile { name, ..metrics }], 0o644)
            }
        }
    };
    if let Err(e) = written {
        last.prometheus_error = Some(crate::error_chain(&e));
        write_last_run(out, &last, file_mode)?;
        return Err(e);
    }
    Ok(())
}

fn write_last_run(out: &Path, last: &LastRun, file_mode: u32) -> Result<(), OutputError> {
    let json = serde_json::to_vec_pretty(last).map_err(|e| OutputError::Encode {
        what: LAST_RUN.into(),
        message: e.to_string(),
    })?;
    let file = RenderedFile {
        name: PathBuf::from(LAST_RUN),
        bytes: json,
    };
    atomic::write_all(out, out, &[file], file_mode)
}

/// The Prometheus text exposition of a run and of the counts of the last summary.
pub fn prometheus(last: &LastRun, summary: Option<&Value>) -> String {
    let mut m = Metrics::default();
    run_metrics(&mut m, last);
    if let Some(s) = summary {
        let empty = serde_json::Map::new();
        let platforms = s
            .get("platforms")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for (name, p) in platforms {
            platform_metrics(&mut m, name, p);
        }
        for src in s
            .get("sources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            source_metrics(&mut m, src);
        }
        m.gauge(
            "enrolgen_left_out_ratio",
            "Left-out enrolments that need a person, over all considered.",
            &[],
            s.get("left_out_ratio")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
        );
        m.gauge(
            "enrolgen_warnings",
            "Warnings of the last run that wrote its files.",
            &[],
            s.get("warnings")
                .and_then(Value::as_array)
                .map_or(0, Vec::len) as f64,
        );
    }
    m.text()
}

/// When the last run ended, how, how long it took, when a run last wrote files.
fn run_metrics(m: &mut Metrics, last: &LastRun) {
    let run: [(&'static str, &'static str, f64); 4] = [
        (
            "enrolgen_last_run_timestamp_seconds",
            "When the last run ended (Unix time).",
            last.finished.timestamp() as f64,
        ),
        (
            "enrolgen_last_run_exit_code",
            "Exit code of the last run (see enrolgen --help).",
            f64::from(last.exit_code),
        ),
        (
            "enrolgen_last_run_success",
            "1 when the last run wrote its files or applied its plan (exit 0, 1, 5 or 7), else 0.",
            if last.outcome == Outcome::Failed {
                0.0
            } else {
                1.0
            },
        ),
        (
            "enrolgen_last_run_duration_seconds",
            "How long the last run took.",
            last.seconds,
        ),
    ];
    for (name, help, v) in run {
        m.gauge(name, help, &[], v);
    }
    if let Some(t) = last.last_success {
        m.gauge(
            "enrolgen_last_success_timestamp_seconds",
            "When a run last wrote its files (Unix time).",
            &[],
            t.timestamp() as f64,
        );
    }
}

/// One platform's counts: planned, written, applied and refused, left out by reason.
fn platform_metrics(m: &mut Metrics, name: &str, p: &Value) {
    let labels = [("platform", name)];
    let n = |k: &str| p.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let applied: f64 = p
        .pointer("/webservice/applied")
        .and_then(Value::as_object)
        .map_or(0.0, |a| a.values().filter_map(Value::as_f64).sum());
    let refused = p
        .pointer("/webservice/refused")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    let counts: [(&'static str, &'static str, f64); 4] = [
        (
            "enrolgen_enrolments",
            "Enrolments planned, per platform.",
            n("enrolments"),
        ),
        (
            "enrolgen_upload_rows",
            "Rows written to upload files, per platform.",
            n("rows"),
        ),
        (
            "enrolgen_webservice_applied_operations",
            "Operations Moodle confirmed through the web services, per platform.",
            applied,
        ),
        (
            "enrolgen_webservice_refused_operations",
            "Operations Moodle refused through the web services, per platform.",
            refused,
        ),
    ];
    for (metric, help, v) in counts {
        m.gauge(metric, help, &labels, v);
    }
    let empty = serde_json::Map::new();
    let reasons = p
        .get("left_out")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (reason, count) in reasons {
        m.gauge(
            "enrolgen_left_out",
            "Enrolments left out, per platform and reason.",
            &[("platform", name), ("reason", reason.as_str())],
            count.as_f64().unwrap_or(0.0),
        );
    }
}

/// One source's time, records and round trips.
fn source_metrics(m: &mut Metrics, src: &Value) {
    // The stable identifier (a summary of an older run has only the description).
    let name = src
        .get("id")
        .or_else(|| src.get("source"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let n = |k: &str| src.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let metrics: [(&'static str, &'static str, &str); 3] = [
        (
            "enrolgen_source_duration_seconds",
            "Time spent reading each source.",
            "seconds",
        ),
        (
            "enrolgen_source_records",
            "Records each source returned.",
            "records",
        ),
        (
            "enrolgen_source_requests",
            "Round trips made to each source.",
            "requests",
        ),
    ];
    for (metric, help, key) in metrics {
        m.gauge(metric, help, &[("source", name)], n(key));
    }
}

/// Samples grouped by metric, each metric with its HELP and TYPE once.
#[derive(Default)]
struct Metrics {
    /// name → (help, samples)
    families: BTreeMap<&'static str, (&'static str, Vec<String>)>,
}

impl Metrics {
    fn gauge(&mut self, name: &'static str, help: &'static str, labels: &[(&str, &str)], v: f64) {
        let mut sample = name.to_string();
        if !labels.is_empty() {
            let inner: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                .collect();
            let _ = write!(sample, "{{{}}}", inner.join(","));
        }
        let _ = write!(sample, " {v}");
        self.families
            .entry(name)
            .or_insert_with(|| (help, Vec::new()))
            .1
            .push(sample);
    }

    fn text(&self) -> String {
        let mut out = String::new();
        for (name, (help, samples)) in &self.families {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            for s in samples {
                let _ = writeln!(out, "{s}");
            }
        }
        out
    }
}

/// A label value as the text format wants it: `\`, `"` and line feeds escaped.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn the_text_format_has_one_help_and_type_per_metric_and_escaped_labels() {
        let last = LastRun {
            finished: at("2026-12-04T02:30:00Z"),
            seconds: 3.5,
            exit_code: 0,
            outcome: Outcome::Ok,
            error: None,
            last_success: Some(at("2026-12-04T02:30:00Z")),
            prometheus_error: None,
        };
        let s = serde_json::json!({
            "platforms": {
                "a": {"enrolments": 3, "rows": 3, "left_out": {"no_account": 2, "duplicate": 1}},
                "b": {"enrolments": 1, "rows": 0, "left_out": {}, "webservice": {"applied": {"enrol": 4, "add_member": 2}, "refused": 1}}
            },
            "sources": [{"source": "directory u (LDIF \"u.ldif\")", "seconds": 0.5, "records": 10, "requests": 0}],
            "left_out_ratio": 0.25,
            "warnings": ["w"]
        });
        let t = prometheus(&last, Some(&s));
        assert_eq!(t.matches("# TYPE enrolgen_left_out gauge").count(), 1);
        assert!(
            t.contains("enrolgen_left_out{platform=\"a\",reason=\"no_account\"} 2\n"),
            "{t}"
        );
        assert!(
            t.contains("enrolgen_webservice_applied_operations{platform=\"b\"} 6\n"),
            "{t}"
        );
        assert!(
            t.contains(
                "enrolgen_source_records{source=\"directory u (LDIF \\\"u.ldif\\\")\"} 10\n"
            ),
            "{t}"
        );
        assert!(
            t.contains("enrolgen_last_run_timestamp_seconds 1796351400\n"),
            "{t}"
        );
        assert!(t.contains("enrolgen_last_run_success 1\n"), "{t}");
    }
}
