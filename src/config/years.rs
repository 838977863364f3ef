//! Courses made anew each academic year: a rule's course may name the year
//! (`ANAT-{year}`, `ANAT {year_label}`). Each run enrols in the courses of its own
//! year; the courses earlier years' runs enrolled in are no longer managed — left as
//! they are, never suspended.

use std::collections::BTreeSet;

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
        if let Some(v) = Var::ALL
            .into_iter()
            .find(|v| t.uses(*v) && !matches!(v, Var::Year | Var::YearLabel))
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
