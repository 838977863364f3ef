//! Reading the text cells a `SqlBackend` hands over, the same way for Apogée's and
//! Pégase's rows.

use std::collections::BTreeSet;

use super::Bind;
use crate::model::ApogeeGroup;

/// Cell `i`, trimmed; `None` when NULL, empty or absent.
pub(super) fn cell<'a>(row: &[Option<&'a str>], i: usize) -> Option<&'a str> {
    row.get(i)
        .copied()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// "Name First name" from the two cells from `at` (either may be missing).
pub(super) fn full_name(row: &[Option<&str>], at: usize) -> String {
    [cell(row, at), cell(row, at + 1)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The group of a row whose columns from `at` are its code, label and type (Apogée:
/// COD_EXT_GPE, LIB_GPE, COD_TGR; Pégase: code, libelle_court, code_type).
pub(super) fn group(row: &[Option<&str>], at: usize) -> Option<ApogeeGroup> {
    let code = cell(row, at)?;
    Some(ApogeeGroup {
        code: code.to_string(),
        label: cell(row, at + 1).unwrap_or(code).to_string(),
        kind: cell(row, at + 2).unwrap_or_default().to_string(),
    })
}

/// Values as a bind list: each once, sorted.
pub(super) fn texts<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Bind> {
    let set: BTreeSet<&str> = values.into_iter().collect();
    set.into_iter().map(|v| Bind::Text(v.to_string())).collect()
}
