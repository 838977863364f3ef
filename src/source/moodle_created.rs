//! The accounts a platform's Moodle created recently. Moodle's web services describe
//! an account without its creation time; the report builder can filter on it. The
//! platform's administrator makes a custom report once (source "Users", the field
//! accounts are matched by as its first column, a "Time created" filter) and names
//! it in `moodle_created_report:`; a run sets the filter's value (the token's own
//! filter values, as a person using the report sets theirs) and reads the rows.
//! A few calls a run, whatever the number of accounts asked about: the report lists
//! only the accounts made since the day asked.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::Value;

use crate::source::moodle::Moodle;
use crate::source::SourceError;

pub const SET_FILTERS: &str = "core_reportbuilder_set_filters";
pub const RETRIEVE: &str = "core_reportbuilder_retrieve_report";

/// The "Time created" filter of the Users source, as the report builder names it.
const FILTER: &str = "user:timecreated";
/// `core_reportbuilder\local\filters\date::DATE_RANGE`.
const DATE_RANGE: u8 = 3;
const PER_PAGE: usize = 1000;
/// 3000-01-01: no account is created after it.
const NEVER: i64 = 32_503_680_000;

#[derive(Deserialize)]
struct Page {
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    rows: Vec<Row>,
    totalrowcount: usize,
}

#[derive(Deserialize)]
struct Row {
    columns: Vec<Value>,
}

impl Moodle {
    /// The first column of the report's rows for the accounts created at `since`
    /// (a Unix time) or later, once the report is seen to filter them.
    pub fn created_since(&self, report: u64, since: i64) -> Result<BTreeSet<String>, SourceError> {
        self.created_report_filters(report)?;
        self.created_filter(report, since)?;
        let mut out = BTreeSet::new();
        for page in 0.. {
            let p = self.report_page(report, page, PER_PAGE)?;
            let n = p.rows.len();
            for row in p.rows {
                if let Some(v) = row.columns.first().and_then(Value::as_str) {
                    let v = unescape(v.trim());
                    if !v.is_empty() {
                        out.insert(v);
                    }
                }
            }
            if n == 0 || (page + 1) * PER_PAGE >= p.totalrowcount {
                break;
            }
        }
        Ok(out)
    }

    /// Whether the report filters its accounts by creation time: with a time no
    /// account has, it must list none (a report without the filter would list
    /// every account as new).
    pub fn created_report_filters(&self, report: u64) -> Result<(), SourceError> {
        self.created_filter(report, NEVER)?;
        if self.report_page(report, 0, 1)?.totalrowcount > 0 {
            return Err(SourceError::Failed {
                what: self.describe(),
                action: format!(
                    "custom report {report} (moodle_created_report) does not filter its accounts by creation time: add the filter \"Time created\" of its Users source"
                ),
                cause: None,
            });
        }
        Ok(())
    }

    fn created_filter(&self, report: u64, since: i64) -> Result<(), SourceError> {
        let values = serde_json::json!({
            format!("{FILTER}_operator"): DATE_RANGE,
            format!("{FILTER}_from"): since,
            format!("{FILTER}_to"): 0,
        });
        self.call(
            SET_FILTERS,
            &[
                ("reportid".to_string(), report.to_string()),
                ("values".to_string(), values.to_string()),
            ],
        )?;
        Ok(())
    }

    fn report_page(&self, report: u64, page: usize, per_page: usize) -> Result<Data, SourceError> {
        let v = self.call(
            RETRIEVE,
            &[
                ("reportid".to_string(), report.to_string()),
                ("page".to_string(), page.to_string()),
                ("perpage".to_string(), per_page.to_string()),
            ],
        )?;
        let p: Page = serde_json::from_value(v).map_err(|e| self.unexpected(RETRIEVE, &e))?;
        Ok(p.data)
    }
}

/// A report's cell as text: the report builder writes it as HTML.
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#039;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_is_read_as_text() {
        assert_eq!(unescape("o&#039;brien &amp; co"), "o'brien & co");
    }
}
