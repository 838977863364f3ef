//! The shipped SQL and how it is bound: named binds, and bind lists that carry a
//! run's whole set of étapes or elements in a few statements.

use std::borrow::Cow;

/// A query shipped with the binary, with the binds it uses. `lists` are binds that
/// take a list of values: `IN (:etapes)` in the file is expanded to
/// `IN (:etapes_1, …, :etapes_n)` when the statement is built.
#[derive(Debug, Clone, Copy)]
pub struct Query {
    pub name: &'static str,
    pub sql: &'static str,
    pub binds: &'static [&'static str],
    pub lists: &'static [&'static str],
}

/// Values per bind list in one statement. Oracle refuses more than 1000 expressions in
/// a list (ORA-01795); 500 keeps well below it and below SQLite's bind limits.
pub const LIST_CHUNK: usize = 500;

/// A bind value. COD_ANU is a VARCHAR2(4): always bound as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    Text(String),
    Int(i64),
}

/// A query with its lists expanded and every bind named, ready for a back end.
#[derive(Debug, Clone)]
pub struct Statement {
    pub name: &'static str,
    pub sql: Cow<'static, str>,
    pub binds: Vec<(String, Bind)>,
}

impl Query {
    /// Binds scalars and lists. A list must not be empty (`IN ()` is not SQL): the
    /// callers ask nothing when they have nothing to ask.
    pub fn statement(&self, scalars: &[(&str, Bind)], lists: &[(&str, &[Bind])]) -> Statement {
        let mut binds: Vec<(String, Bind)> = scalars
            .iter()
            .filter(|(n, _)| self.binds.contains(n))
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect();
        if self.lists.is_empty() {
            return Statement {
                name: self.name,
                sql: Cow::Borrowed(self.sql),
                binds,
            };
        }
        debug_assert!(
            self.lists
                .iter()
                .all(|l| lists.iter().any(|(n, v)| n == l && !v.is_empty())),
            "{}: every list bound, none empty",
            self.name
        );
        let mut sql = self.sql.to_string();
        for (name, values) in lists.iter().filter(|(n, _)| self.lists.contains(n)) {
            let names: Vec<String> = (1..=values.len()).map(|i| format!(":{name}_{i}")).collect();
            sql = replace_bind(&sql, name, &names.join(", "));
            binds.extend(
                values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (format!("{name}_{}", i + 1), v.clone())),
            );
        }
        Statement {
            name: self.name,
            sql: Cow::Owned(sql),
            binds,
        }
    }
}

/// Replaces every `:name` (not `:name_x`, not inside a comment) by `with`.
fn replace_bind(sql: &str, name: &str, with: &str) -> String {
    let pattern = format!(":{name}");
    let mut out = String::with_capacity(sql.len() + with.len());
    for line in sql.split_inclusive('\n') {
        let (code, comment) = match line.find("--") {
            Some(i) => line.split_at(i),
            None => (line, ""),
        };
        let mut rest = code;
        while let Some(i) = rest.find(&pattern) {
            let after = &rest[i + pattern.len()..];
            let whole = !after.starts_with(|c: char| c.is_alphanumeric() || c == '_');
            out.push_str(&rest[..i]);
            out.push_str(if whole { with } else { &pattern });
            rest = after;
        }
        out.push_str(rest);
        out.push_str(comment);
    }
    out
}

pub const STUDENTS: Query = Query {
    name: "students.sql",
    sql: include_str!("../../../queries/students.sql"),
    binds: &["annee"],
    lists: &["etapes", "versions"],
};
pub const ELEMENT_STUDENTS: Query = Query {
    name: "element_students.sql",
    sql: include_str!("../../../queries/element_students.sql"),
    binds: &["annee"],
    lists: &["elements"],
};
pub const GROUPS_VET: Query = Query {
    name: "groups_vet.sql",
    sql: include_str!("../../../queries/groups_vet.sql"),
    binds: &["annee"],
    lists: &["etapes"],
};
pub const GROUPS_ELP: Query = Query {
    name: "groups_elp.sql",
    sql: include_str!("../../../queries/groups_elp.sql"),
    binds: &["annee"],
    lists: &["elements"],
};
pub const OPEN_YEAR: Query = Query {
    name: "open_year.sql",
    sql: include_str!("../../../queries/open_year.sql"),
    binds: &[],
    lists: &[],
};

pub const PEGASE_STUDENTS: Query = Query {
    name: "pegase/students.sql",
    sql: include_str!("../../../queries/pegase/students.sql"),
    binds: &["periode"],
    lists: &["formations", "statuts"],
};
pub const PEGASE_ELEMENT_STUDENTS: Query = Query {
    name: "pegase/element_students.sql",
    sql: include_str!("../../../queries/pegase/element_students.sql"),
    binds: &["periode"],
    lists: &["elements", "statuts"],
};
pub const PEGASE_GROUPS: Query = Query {
    name: "pegase/groups.sql",
    sql: include_str!("../../../queries/pegase/groups.sql"),
    binds: &["periode"],
    lists: &["objets"],
};
pub const PEGASE_PERIODS: Query = Query {
    name: "pegase/periods.sql",
    sql: include_str!("../../../queries/pegase/periods.sql"),
    binds: &[],
    lists: &[],
};

/// Every Pégase query, for `check` and the portability tests.
pub const PEGASE_QUERIES: [Query; 4] = [
    PEGASE_STUDENTS,
    PEGASE_ELEMENT_STUDENTS,
    PEGASE_GROUPS,
    PEGASE_PERIODS,
];

/// Every query, for `check` and the portability tests.
pub const ALL_QUERIES: [Query; 5] = [
    STUDENTS,
    ELEMENT_STUDENTS,
    GROUPS_VET,
    GROUPS_ELP,
    OPEN_YEAR,
];

/// An index the queries rely on: on Oracle, Apogée has them (the README lists them);
/// on SQLite, a dump loaded into memory gets those it lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    pub name: &'static str,
    pub table: &'static str,
    pub columns: &'static [&'static str],
}

impl Index {
    pub fn create_sql(&self) -> String {
        format!(
            "CREATE INDEX IF NOT EXISTS {} ON {} ({})",
            self.name,
            self.table,
            self.columns.join(", ")
        )
    }
}

/// What the queries look rows up by. The first three are usually primary keys; an
/// index whose leading columns are these serves.
pub const INDEXES: [Index; 8] = [
    Index {
        name: "enrolgen_individu",
        table: "INDIVIDU",
        columns: &["COD_IND"],
    },
    Index {
        name: "enrolgen_groupe",
        table: "GROUPE",
        columns: &["COD_GPE"],
    },
    Index {
        name: "enrolgen_iae_ind",
        table: "INS_ADM_ETP",
        columns: &["COD_ANU", "COD_IND", "COD_ETP", "COD_VRS_VET"],
    },
    Index {
        name: "enrolgen_iae_etape",
        table: "INS_ADM_ETP",
        columns: &["COD_ANU", "COD_ETP", "COD_VRS_VET"],
    },
    Index {
        name: "enrolgen_ice_element",
        table: "IND_CONTRAT_ELP",
        columns: &["COD_ANU", "COD_ELP"],
    },
    Index {
        name: "enrolgen_gpo_vet",
        table: "GPE_OBJ",
        columns: &["COD_ETP", "COD_VRS_VET"],
    },
    Index {
        name: "enrolgen_gpo_elp",
        table: "GPE_OBJ",
        columns: &["COD_ELP"],
    },
    Index {
        name: "enrolgen_iag_groupe",
        table: "IND_AFFECTE_GPE",
        columns: &["COD_GPE", "COD_ANU"],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_expand_to_numbered_binds() {
        let s = STUDENTS.statement(
            &[("annee", Bind::Text("2026".into()))],
            &[
                (
                    "etapes",
                    &[Bind::Text("PSY1L1".into()), Bind::Text("LEA1".into())],
                ),
                ("versions", &[Bind::Int(101)]),
            ],
        );
        assert!(
            s.sql.contains("iae.COD_ETP IN (:etapes_1, :etapes_2)"),
            "{}",
            s.sql
        );
        assert!(
            s.sql.contains("iae.COD_VRS_VET IN (:versions_1)"),
            "{}",
            s.sql
        );
        assert!(s
            .sql
            .contains("-- binds: :annee (string); lists: :etapes (strings)"));
        let names: Vec<&str> = s.binds.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["annee", "etapes_1", "etapes_2", "versions_1"]);
    }

    #[test]
    fn a_longer_bind_name_is_not_replaced() {
        assert_eq!(
            replace_bind("a IN (:e) OR b = :e_x OR c IN (:e)\n", "e", ":e_1"),
            "a IN (:e_1) OR b = :e_x OR c IN (:e_1)\n"
        );
    }

    #[test]
    fn queries_without_lists_are_borrowed() {
        let s = OPEN_YEAR.statement(&[("annee", Bind::Text("2026".into()))], &[]);
        assert!(matches!(s.sql, Cow::Borrowed(_)));
        assert!(
            s.binds.is_empty(),
            "binds the query does not use are left out"
        );
    }
}
