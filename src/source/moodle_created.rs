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

use crate::model::MatchField;
use crate::source::moodle::{unescape, Moodle};
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

/// A page of a custom report, as `RETRIEVE` gives it (this report and
/// `moodle_participants`'s).
#[derive(Deserialize)]
pub(crate) struct Page {
    pub(crate) details: Details,
    pub(crate) data: Data,
}

#[derive(Deserialize)]
pub(crate) struct Details {
    /// The report builder's source, as a PHP class name.
    pub(crate) source: String,
}

#[derive(Deserialize)]
pub(crate) struct Data {
    pub(crate) headers: Vec<String>,
    pub(crate) rows: Vec<Row>,
    pub(crate) totalrowcount: usize,
}

#[derive(Deserialize)]
pub(crate) struct Row {
    /// Each column's cell: text (HTML) or null.
    pub(crate) columns: Vec<Value>,
}

/// The report builder's Users source.
const USERS_SOURCE: &str = "core_user\\reportbuilder\\datasource\\users";
/// The most accounts a report may list: more is not a list of recent accounts.
const MAX_ROWS: usize = 1_000_000;
/// How often a read is tried again when the filter changed under it.
const TRIES: usize = 3;

/// The titles the report builder gives the column accounts are matched by, in the
/// languages of the platforms (a site in French shows them in French).
fn titles(field: MatchField) -> &'static [&'static str] {
    match field {
        MatchField::Username => &["username", "nom d'utilisateur"],
        MatchField::Idnumber => &["id number", "numéro d'identification", "idnumber"],
    }
}

impl Moodle {
    /// The first column of the report's rows for the accounts created at `since`
    /// (a Unix time) or later, once the report is seen to filter them. The filter
    /// value is the token user's, which anything using the token may change (a
    /// `check` run meanwhile): after reading, the filter is set again and the count
    /// read again; a count that differs is a read made under another value, tried
    /// again, and an error if it keeps changing.
    pub fn created_since(
        &self,
        report: u64,
        field: MatchField,
        since: i64,
    ) -> Result<BTreeSet<String>, SourceError> {
        self.created_report_filters(report, field)?;
        for _ in 0..TRIES {
            self.created_filter(report, since)?;
            let (listed, total) = self.created_rows(report, field)?;
            self.created_filter(report, since)?;
            if self.report_page(report, field, 0, 1)?.totalrowcount == total {
                return Ok(listed);
            }
        }
        Err(SourceError::Failed {
            what: self.describe(),
            action: format!(
                "custom report {report} (moodle_created_report): its filter kept changing while it was read (another program using the same token, such as enrolgen check, sets it too): no account's age can be vouched for; run again"
            ),
            cause: None,
        })
    }

    /// Every row of the report as its filter stands, and the count it gave.
    fn created_rows(
        &self,
        report: u64,
        field: MatchField,
    ) -> Result<(BTreeSet<String>, usize), SourceError> {
        let mut out = BTreeSet::new();
        let first = self.report_page(report, field, 0, PER_PAGE)?;
        let total = first.totalrowcount;
        if total > MAX_ROWS {
            return Err(self.report_error(report, &format!("it lists {total} accounts, more than {MAX_ROWS}: not a list of recent accounts")));
        }
        let pages = total.div_ceil(PER_PAGE).max(1);
        let mut page = Some(first);
        for n in 0..pages {
            let p = match page.take() {
                Some(p) => p,
                None => self.report_page(report, field, n, PER_PAGE)?,
            };
            if p.totalrowcount != total {
                return Err(self.report_error(report, "its count changed while it was read"));
            }
            for (i, row) in p.rows.iter().enumerate() {
                out.insert(self.first_cell(report, row, n * PER_PAGE + i + 1)?);
            }
        }
        if out.len() > total {
            return Err(self.report_error(report, "it gave more rows than it counts"));
        }
        Ok((out, total))
    }

    /// A row's first cell: the plain text of the field accounts are matched by.
    fn first_cell(&self, report: u64, row: &Row, n: usize) -> Result<String, SourceError> {
        let cell = match row.columns.first() {
            Some(Value::String(s)) => unescape(s.trim()),
            Some(other) => {
                return Err(self.report_error(
                    report,
                    &format!("row {n}: its first cell is {other}, not text"),
                ))
            }
            None => return Err(self.report_error(report, &format!("row {n} has no column"))),
        };
        if cell.is_empty() || cell.contains('<') {
            return Err(self.report_error(
                report,
                &format!(
                    "row {n}: its first cell '{}' is not a plain value (a linked or formatted column?)",
                    cell.escape_debug()
                ),
            ));
        }
        Ok(cell)
    }

    fn report_error(&self, report: u64, what: &str) -> SourceError {
        SourceError::Failed {
            what: self.describe(),
            action: format!(
                "custom report {report} (moodle_created_report) cannot be read as a list of accounts: {what}; no account's age can be vouched for"
            ),
            cause: None,
        }
    }

    /// Whether the report filters its accounts by creation time: with a time no
    /// account has, it must list none (a report without the filter would list
    /// every account as new); and whether it is one of accounts, matched by its
    /// first column.
    pub fn created_report_filters(
        &self,
        report: u64,
        field: MatchField,
    ) -> Result<(), SourceError> {
        self.created_filter(report, NEVER)?;
        if self.report_page(report, field, 0, 1)?.totalrowcount > 0 {
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

    /// One page of the report, checked to be of accounts (the Users source, the
    /// matched field first) and no longer than asked.
    fn report_page(
        &self,
        report: u64,
        field: MatchField,
        page: usize,
        per_page: usize,
    ) -> Result<Data, SourceError> {
        let v = self.call(
            RETRIEVE,
            &[
                ("reportid".to_string(), report.to_string()),
                ("page".to_string(), page.to_string()),
                ("perpage".to_string(), per_page.to_string()),
            ],
        )?;
        let p: Page = serde_json::from_value(v).map_err(|e| self.unexpected(RETRIEVE, &e))?;
        if p.details.source != USERS_SOURCE {
            return Err(self.report_error(
                report,
                &format!("its source is {}, not Users", p.details.source),
            ));
        }
        let first = p.data.headers.first().map(|h| h.trim().to_lowercase());
        if !first.as_deref().is_some_and(|h| titles(field).contains(&h)) {
            return Err(self.report_error(
                report,
                &format!(
                    "its first column is '{}', not the accounts' {} ({} expected first)",
                    p.data.headers.first().map_or("nothing", String::as_str),
                    field.name(),
                    titles(field).join(" or ")
                ),
            ));
        }
        if p.data.rows.len() > per_page {
            return Err(self.report_error(
                report,
                &format!("a page of {per_page} gave {} rows", p.data.rows.len()),
            ));
        }
        Ok(p.data)
    }
}
