//! Group name templates such as `TD {group}`: parsed once at load time so that a
//! misspelt placeholder is a configuration error, not an empty group at run time.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    /// The student's Apogée group code (COD_EXT_GPE).
    Group,
    /// The student's Apogée group label (LIB_GPE).
    GroupLabel,
    Etape,
    Version,
    Year,
    /// The academic year's label: 2026-2027 for 2026.
    YearLabel,
    Element,
}

impl Var {
    const NAMES: [(&'static str, Var); 7] = [
        ("group", Var::Group),
        ("group_label", Var::GroupLabel),
        ("etape", Var::Etape),
        ("version", Var::Version),
        ("year", Var::Year),
        ("year_label", Var::YearLabel),
        ("element", Var::Element),
    ];

    /// Every placeholder.
    pub fn all() -> impl Iterator<Item = Var> {
        Self::NAMES.iter().map(|(_, v)| *v)
    }

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("?", |(n, _)| n)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(Var),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown placeholder {{{0}}}; known: {{group}}, {{group_label}}, {{etape}}, {{version}}, {{year}}, {{year_label}}, {{element}}")]
    UnknownVar(String),
    #[error("unclosed '{{'")]
    Unclosed,
    #[error("'}}' without a matching '{{'")]
    UnmatchedClose,
}

/// Values a template may refer to; `None` renders as a missing value.
#[derive(Debug, Default, Clone, Copy)]
pub struct Context<'a> {
    pub group: Option<(&'a str, &'a str)>,
    pub etape: Option<&'a str>,
    pub version: Option<u32>,
    pub year: Option<&'a str>,
    pub element: Option<&'a str>,
}

impl Template {
    pub fn parse(s: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = s;
        while !rest.is_empty() {
            match (rest.find('{'), rest.find('}')) {
                (Some(open), close) if close.is_none_or(|c| c > open) => {
                    if open > 0 {
                        parts.push(Part::Text(rest[..open].to_string()));
                    }
                    let after = &rest[open + 1..];
                    let end = after.find('}').ok_or(TemplateError::Unclosed)?;
                    let name = &after[..end];
                    let var = Var::NAMES
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, v)| *v)
                        .ok_or_else(|| TemplateError::UnknownVar(name.to_string()))?;
                    parts.push(Part::Var(var));
                    rest = &after[end + 1..];
                }
                (None, None) => {
                    parts.push(Part::Text(rest.to_string()));
                    rest = "";
                }
                _ => return Err(TemplateError::UnmatchedClose),
            }
        }
        Ok(Template { parts })
    }

    /// A name taken as written, braces included (a requester's sheet has no
    /// placeholders).
    pub fn literal(s: &str) -> Template {
        Template {
            parts: vec![Part::Text(s.to_string())],
        }
    }

    /// Whether `name` is one this template can produce: its text parts as written, each
    /// placeholder standing for at least one character.
    pub fn matches(&self, name: &str) -> bool {
        fn rest(parts: &[Part], name: &str) -> bool {
            match parts.split_first() {
                None => name.is_empty(),
                Some((Part::Text(t), more)) => {
                    name.strip_prefix(t.as_str()).is_some_and(|n| rest(more, n))
                }
                Some((Part::Var(_), more)) => name
                    .char_indices()
                    .skip(1)
                    .map(|(i, _)| i)
                    .chain([name.len()])
                    .filter(|i| *i > 0)
                    .any(|i| rest(more, &name[i..])),
            }
        }
        rest(&self.parts, name)
    }

    pub fn uses(&self, var: Var) -> bool {
        self.parts.contains(&Part::Var(var))
    }

    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// The rendered text, or the first placeholder that has no value.
    pub fn render(&self, ctx: &Context<'_>) -> Result<String, Var> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(v) => {
                    let value = match v {
                        Var::Group => ctx.group.map(|g| g.0.to_string()),
                        Var::GroupLabel => ctx.group.map(|g| g.1.to_string()),
                        Var::Etape => ctx.etape.map(str::to_string),
                        Var::Version => ctx.version.map(|v| v.to_string()),
                        Var::Year => ctx.year.map(str::to_string),
                        Var::YearLabel => ctx.year.and_then(year_label),
                        Var::Element => ctx.element.map(str::to_string),
                    };
                    out.push_str(&value.ok_or(*v)?);
                }
            }
        }
        Ok(out)
    }
}

/// The label of academic year `year` (COD_ANU): 2026-2027 for 2026.
pub fn year_label(year: &str) -> Option<String> {
    let y: u32 = year.parse().ok()?;
    Some(format!("{y}-{}", y + 1))
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Text(t) => f.write_str(t)?,
                Part::Var(v) => write!(f, "{{{}}}", v.name())?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_template_matches_the_names_it_produces() {
        let t = Template::parse("TD {group} {year}").unwrap();
        assert!(t.matches("TD 1 2026"));
        assert!(t.matches("TD A B 2026"));
        assert!(!t.matches("TD  2026"));
        assert!(!t.matches("TP 1 2026"));
        assert!(Template::parse("{group}").unwrap().matches("x"));
        assert!(!Template::parse("{group}").unwrap().matches(""));
        assert!(Template::literal("Soutien").matches("Soutien"));
        assert!(!Template::literal("Soutien").matches("Soutien A"));
    }

    use super::*;

    #[test]
    fn renders_group_and_etape() {
        let t = Template::parse("TD {group} {etape}-{version}").unwrap();
        let ctx = Context {
            group: Some(("1", "Groupe 1")),
            etape: Some("PSY1L1"),
            version: Some(101),
            ..Context::default()
        };
        assert_eq!(t.render(&ctx).unwrap(), "TD 1 PSY1L1-101");
        assert!(t.uses(Var::Group));
        assert_eq!(t.to_string(), "TD {group} {etape}-{version}");
    }

    #[test]
    fn unknown_placeholder_is_an_error() {
        assert_eq!(
            Template::parse("TD {grp}"),
            Err(TemplateError::UnknownVar("grp".into()))
        );
        assert_eq!(Template::parse("TD {group"), Err(TemplateError::Unclosed));
        assert_eq!(Template::parse("TD }"), Err(TemplateError::UnmatchedClose));
    }

    #[test]
    fn missing_value_names_the_placeholder() {
        let t = Template::parse("{group}").unwrap();
        assert_eq!(t.render(&Context::default()), Err(Var::Group));
    }
}
