//! "Did you mean …?": the known name closest to one that was mistyped.

/// The candidate that `name` most likely meant: the same but for case first, then
/// the nearest within two edits (insert, delete, substitute), the first in the
/// candidates' order on a tie. `None` when nothing is that close.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = if c.to_lowercase() == lower {
            0
        } else {
            edits(&lower, &c.to_lowercase())
        };
        if d <= 2 && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Levenshtein distance over characters, in one row of memory.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = (diag + usize::from(ca != *cb)).min(up + 1).min(row[j] + 1);
            diag = up;
        }
    }
    row[b.len()]
}

/// `s` folded for comparing headers and labels: lower case, accents dropped, every
/// run of other characters one space.
pub fn fold(s: &str) -> String {
    let mut out = String::new();
    // A decomposed accent (NFD: `e` then U+0301, what some systems write) is
    // dropped as `é` is folded to `e`.
    for c in s
        .trim()
        .chars()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .flat_map(char::to_lowercase)
    {
        let c = match c {
            'à' | 'â' | 'ä' | 'á' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' | 'í' => 'i',
            'ô' | 'ö' | 'ó' => 'o',
            'ù' | 'û' | 'ü' | 'ú' => 'u',
            'ç' => 'c',
            c => c,
        };
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_first_then_a_few_edits_then_nothing() {
        let known = ["PSY-L1-STATS", "PSY-L1-METHODO", "DRT-L1"];
        assert_eq!(closest("psy-l1-stats", known), Some("PSY-L1-STATS"));
        assert_eq!(closest("PSY-L1-STATZ", known), Some("PSY-L1-STATS"));
        assert_eq!(closest("PSY-L1-METODO", known), Some("PSY-L1-METHODO"));
        assert_eq!(closest("HIST", known), None);
        assert_eq!(edits("kitten", "sitting"), 3);
    }
}
