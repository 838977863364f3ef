//! Courses made anew each academic year: a rule's course may name the year
//! (`ANAT-{year}`, `ANAT {year_label}`). Each run enrols in the courses of its own
//! year; the courses earlier years' runs enrolled in are no longer managed — left as
//! they are, never suspended.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};

use crate::template::{Context, Template, Var};

/// How many earlier years a course of a past year is recognised in.
const YEARS_BACK: i32 = 10;

/// A course as a rule writes it: literal, or naming the year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseName(Template);

impl CourseName {
    /// A course as written; `Err` names what is wrong. Only `{year}` and
    /// `{year_label}` may appear: the rest depends on the person, a course does not.
    pub fn parse(written: &str) -> Result<CourseName, String> {
        let t = Template::parse(written).map_err(|e| e.to_string())?;
        if let Some(v) = Var::all().find(|v| t.uses(*v) && !matches!(v, Var::Year | Var::YearLabel))
        {
            return Err(format!(
                "{{{}}} depends on the person; a course may name only {{year}} or {{year_label}}",
                v.name()
            ));
        }
        Ok(CourseName(t))
    }

    pub fn is_literal(&self) -> bool {
        self.0.is_literal()
    }

    /// The course of academic year `year` (COD_ANU, e.g. 2026).
    pub fn of_year(&self, year: &str) -> String {
        let ctx = Context {
            year: Some(year),
            ..Context::default()
        };
        // Only year placeholders (`parse`), which a year fills.
        self.0.render(&ctx).unwrap_or_else(|_| self.0.to_string())
    }
}

/// The courses of the `YEARS_BACK` years before `year` that these names make,
/// except those `year` makes too (a name without a year is the same every year).
pub fn earlier_courses<'a>(
    names: impl IntoIterator<Item = &'a CourseName>,
    year: &str,
) -> BTreeSet<String> {
    let Ok(y) = year.parse::<i32>() else {
        return BTreeSet::new();
    };
    let names: Vec<&CourseName> = names.into_iter().filter(|n| !n.is_literal()).collect();
    let current: BTreeSet<String> = names.iter().map(|n| n.of_year(year)).collect();
    (1..=YEARS_BACK)
        .flat_map(|back| {
            let earlier = (y - back).to_string();
            names
                .iter()
                .map(move |n| n.of_year(&earlier))
                .collect::<Vec<_>>()
        })
        .filter(|c| !current.contains(c))
        .collect()
}

/// Courses reused every year: from `year_start` until the window's end, an
/// enrolment of the previous year whose person has not re-registered yet is kept as
/// it is; from the end on, those still kept are suspended, as planned changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turnover {
    /// The academic year's first day.
    pub opens: NaiveDate,
    /// The first day nothing is kept any more.
    pub ends: NaiveDate,
    /// Whether `as_of` is inside the window.
    pub open: bool,
}

impl Turnover {
    /// The window of the academic year `as_of` falls in, for a year starting on
    /// `start` (month, day) and a window ending on `until`.
    pub fn at(as_of: NaiveDate, start: (u32, u32), until: (u32, u32)) -> Option<Turnover> {
        let md = (as_of.month(), as_of.day());
        let y = if md >= start {
            as_of.year()
        } else {
            as_of.year() - 1
        };
        let opens = NaiveDate::from_ymd_opt(y, start.0, start.1)?;
        let same = NaiveDate::from_ymd_opt(y, until.0, until.1)?;
        let ends = if same > opens {
            same
        } else {
            NaiveDate::from_ymd_opt(y + 1, until.0, until.1)?
        };
        Some(Turnover {
            opens,
            ends,
            open: as_of < ends,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_course_names_its_year_or_label() {
        let c = CourseName::parse("ANAT-{year}").unwrap();
        assert_eq!(c.of_year("2026"), "ANAT-2026");
        let c = CourseName::parse("ANAT {year_label}").unwrap();
        assert_eq!(c.of_year("2026"), "ANAT 2026-2027");
        assert!(CourseName::parse("ANAT").unwrap().is_literal());
    }

    #[test]
    fn the_window_opens_on_year_start_and_ends_on_its_day() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let w = |s: &str| Turnover::at(d(s), (9, 1), (10, 31)).unwrap();
        assert!(
            !w("2026-08-31").open,
            "the old year's last day: its window closed"
        );
        assert_eq!(w("2026-08-31").ends, d("2025-10-31"));
        assert!(w("2026-09-01").open);
        assert!(w("2026-10-30").open);
        assert!(
            !w("2026-10-31").open,
            "the window's day: nothing kept any more"
        );
        assert_eq!(w("2026-10-31").opens, d("2026-09-01"));
        // A window that crosses the new calendar year.
        let t = Turnover::at(d("2027-01-10"), (9, 1), (1, 15)).unwrap();
        assert!(t.open && t.ends == d("2027-01-15"));
    }

    #[test]
    fn a_course_naming_the_person_is_refused() {
        let e = CourseName::parse("TD-{group}").unwrap_err();
        assert!(e.contains("{group} depends on the person"), "{e}");
        assert!(CourseName::parse("ANAT-{yeer}")
            .unwrap_err()
            .contains("unknown placeholder {yeer}"));
    }

    #[test]
    fn earlier_courses_are_those_of_past_years_only() {
        let names = [
            CourseName::parse("ANAT-{year}").unwrap(),
            CourseName::parse("PHYS").unwrap(),
        ];
        let e = earlier_courses(&names, "2026");
        assert!(e.contains("ANAT-2025"));
        assert!(e.contains("ANAT-2016"));
        assert!(!e.contains("ANAT-2015"), "ten years back at most");
        assert!(!e.contains("ANAT-2026"), "this year's");
        assert!(!e.contains("ANAT-2027"), "a later year's is not retired");
        assert!(
            !e.contains("PHYS"),
            "a course without a year is every year's"
        );
        assert_eq!(e.len(), 10);
    }
}
