//! Which groups of a course enrolgen manages, one definition for `sync` (which takes
//! back a membership the plan does not give) and `verify` (which reports it).

use std::collections::BTreeSet;

use crate::template::Template;

/// A course's managed groups: a name the plan gives, or a name one of the course's
/// group templates produces in which enrolgen put people before. Every other group
/// (made by hand, or by another tool) is left alone.
#[derive(Debug, Default)]
pub struct ManagedGroups<'a> {
    planned: BTreeSet<&'a str>,
    filled: Option<&'a BTreeSet<String>>,
    templates: &'a [Template],
}

impl<'a> ManagedGroups<'a> {
    /// The groups the plan gives in the course.
    pub fn planned(groups: impl IntoIterator<Item = &'a str>) -> ManagedGroups<'a> {
        ManagedGroups {
            planned: groups.into_iter().collect(),
            ..ManagedGroups::default()
        }
    }

    /// Also the groups enrolgen filled before (the web-service state) whose name a
    /// template of the course still produces.
    pub fn and_filled(
        mut self,
        filled: Option<&'a BTreeSet<String>>,
        templates: &'a [Template],
    ) -> ManagedGroups<'a> {
        self.filled = filled;
        self.templates = templates;
        self
    }

    pub fn contains(&self, group: &str) -> bool {
        self.planned.contains(group)
            || (self.filled.is_some_and(|f| f.contains(group))
                && self.templates.iter().any(|t| t.matches(group)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_is_managed_when_planned_or_filled_and_still_templated() {
        let templates = [Template::parse("TD {group}").unwrap()];
        let filled: BTreeSet<String> = ["TD 2".to_string(), "Tutorat".to_string()].into();
        let m = ManagedGroups::planned(["TD 1"]).and_filled(Some(&filled), &templates);
        assert!(m.contains("TD 1"));
        assert!(m.contains("TD 2"), "filled before, and a template makes it");
        assert!(
            !m.contains("Tutorat"),
            "filled before, but no template makes it now"
        );
        assert!(!m.contains("TD 3"), "never planned nor filled");
        let plan_only = ManagedGroups::planned(["TD 1"]);
        assert!(plan_only.contains("TD 1") && !plan_only.contains("TD 2"));
    }
}
