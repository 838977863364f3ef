//! `report.html`: the page people read after a run. One self-contained file (inline
//! CSS and SVG, no script, no font, nothing fetched), readable offline and printable.
//! Names and student numbers appear only when the configuration allows it, since the
//! page may be mailed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::model::{LeftOut, Reason};
use crate::output::report::{PlatformSummary, Summary};
use crate::output::RenderedFile;
use crate::plan::Plan;

/// Everything the page shows.
pub struct Page<'a> {
    /// "Nightly run", "On-demand file" …
    pub title: &'a str,
    pub summary: &'a Summary,
    pub plan: &'a Plan,
    /// Enrolments per course of the previous run, per platform (its summary.json).
    pub previous: Option<&'a BTreeMap<String, BTreeMap<String, usize>>>,
    pub personal_data: bool,
    /// The rows come from a requester's sheet: remedies speak of the sheet, and
    /// row numbers (not personal data) are shown in any case.
    pub sheet: bool,
}

/// `verify`: planned, active in Moodle and differences per course.
fn moodle_now(h: &mut String, name: &str, m: &crate::output::report::MoodleCheck) {
    let _ = writeln!(
        h,
        "<h2>Moodle now: {}</h2>\n<p>{} difference(s){}.</p>",
        esc(name),
        m.differences,
        if m.differences == 0 {
            String::new()
        } else {
            format!(", listed in <code>{}</code>", esc(&m.file))
        }
    );
    if !m.problems.is_empty() {
        let list: Vec<String> = m
            .problems
            .iter()
            .map(|(p, n)| format!("<code>{}</code> {n}", esc(p)))
            .collect();
        let _ = writeln!(h, "<p>{}</p>", list.join(" · "));
    }
    h.push_str("<table>\n<tr><th>course</th><th class=\"n\">planned</th><th class=\"n\">active in Moodle</th><th class=\"n\">differences</th></tr>\n");
    for (course, c) in &m.courses {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(course),
            c.planned,
            c.active_in_moodle,
            c.differences
        );
    }
    h.push_str("</table>\n");
}

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1c2430;margin:2rem auto;max-width:70rem;padding:0 1rem}\
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.3rem;border-bottom:2px solid #d5dbe3;padding-bottom:.2rem;margin-top:2.2rem}\
h3{font-size:1.05rem;margin:1.4rem 0 .4rem}.meta{color:#5a6575;margin-top:0}\
.warnings{background:#fff4e0;border:1px solid #f0c36d;border-radius:6px;padding:.6rem 1rem}.warnings li{margin:.2rem 0}\
table{border-collapse:collapse;margin:.5rem 0 1rem;width:100%}th,td{border-bottom:1px solid #e3e7ed;padding:.3rem .6rem;text-align:left;vertical-align:top}\
th{background:#f3f5f8;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
.totals{display:flex;flex-wrap:wrap;gap:.6rem;margin:.6rem 0}.totals div{background:#f3f5f8;border-radius:6px;padding:.4rem .8rem}\
.totals b{display:block;font-size:1.3rem}.action{background:#eef5ff;border-left:4px solid #4a7bd0;padding:.3rem .7rem;margin:.3rem 0}\
.up{color:#1d7a35}.down{color:#b3261e}.muted{color:#5a6575}code{font-size:.92em}\
@media print{body{margin:0;max-width:none;font-size:11pt}h2{break-before:auto}table,svg{break-inside:avoid}.warnings{border-color:#999}}";

/// How a command names its report.
#[derive(Debug, Clone, Copy)]
pub enum ReportName<'a> {
    /// `run` and `verify`: report.html and summary.json at the top of the output
    /// folder (the next run reads the summary back).
    Top,
    /// `adhoc`: `{stem}-report.html` beside its file, no summary (nothing compares
    /// with an on-demand file).
    Stem(&'a str),
}

/// The report files of `run`, `adhoc` and `verify`, made one way.
pub fn report_files(
    page: &Page<'_>,
    name: ReportName<'_>,
) -> Result<Vec<RenderedFile>, crate::output::OutputError> {
    let mut html = render(page);
    match name {
        ReportName::Top => Ok(vec![
            RenderedFile {
                name: "summary.json".into(),
                bytes: page.summary.to_json()?.into_bytes(),
            },
            html,
        ]),
        ReportName::Stem(stem) => {
            html.name = format!("{stem}-report.html").into();
            Ok(vec![html])
        }
    }
}

pub fn render(page: &Page<'_>) -> RenderedFile {
    let s = page.summary;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>{} — enrolgen, year {}, as of {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(page.title),
        esc(&s.year),
        esc(&s.as_of)
    );
    let _ = writeln!(
        h,
        "<h1>{}</h1>\n<p class=\"meta\">Academic year {} · as of {}{} · enrolgen {}</p>",
        esc(page.title),
        esc(&s.year),
        esc(&s.as_of),
        if s.dry_run {
            " · dry run: nothing written"
        } else {
            ""
        },
        env!("CARGO_PKG_VERSION")
    );
    let mut warnings: Vec<String> = page.plan.warnings.iter().map(|w| esc(w)).collect();
    let unreadable = page
        .plan
        .entry_warnings
        .iter()
        .filter(|w| w.kind == crate::plan::EntryProblem::UnreadableState)
        .count();
    // Without personal data: ambiguous identities are counted in their platform's
    // warning; unreadable states get theirs here.
    match (page.personal_data, unreadable) {
        (true, _) => warnings.extend(page.plan.entry_warnings.iter().map(|w| esc(&w.text))),
        (false, 0) => {}
        (false, n) => warnings.push(format!(
            "{n} account(s) have a state value that cannot be read: they are left out (<code>invalid_value</code>) \
             until the directory is fixed. The run's warnings (stderr, summary.json) name the entries."
        )),
    }
    if !warnings.is_empty() {
        h.push_str("<div class=\"warnings\"><strong>Warnings</strong>\n<ul>\n");
        for w in &warnings {
            let _ = writeln!(h, "<li>{w}</li>");
        }
        h.push_str("</ul></div>\n");
    }
    for (name, ps) in &s.platforms {
        let left: &[LeftOut] = page
            .plan
            .platforms
            .get(name)
            .map(|p| p.left_out.as_slice())
            .unwrap_or_default();
        let previous = page.previous.and_then(|p| p.get(name));
        platform(&mut h, name, ps, left, previous, page);
    }
    for (name, m) in &s.moodle {
        moodle_now(&mut h, name, m);
    }
    h.push_str("<h2>Sources</h2>\n<table>\n<tr><th>source</th><th class=\"n\">records</th><th class=\"n\">requests</th><th class=\"n\">seconds</th></tr>\n");
    for t in &s.sources {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:.2}</td></tr>",
            esc(&t.source),
            t.records,
            t.requests,
            t.seconds
        );
    }
    h.push_str("</table>\n</body>\n</html>\n");
    RenderedFile {
        name: "report.html".into(),
        bytes: h.into_bytes(),
    }
}

fn platform(
    h: &mut String,
    name: &str,
    ps: &PlatformSummary,
    left: &[LeftOut],
    previous: Option<&BTreeMap<String, usize>>,
    page: &Page<'_>,
) {
    let _ = writeln!(h, "<h2>Platform {}</h2>", esc(name));
    totals(h, ps, left.len());
    notices(h, name, ps);
    if let Some(w) = &ps.webservice {
        webservice(h, w);
    }
    courses_table(h, ps, left, previous);
    left_out(h, name, left, page);
}

/// The boxes of totals at the top of a platform.
fn totals(h: &mut String, ps: &PlatformSummary, left: usize) {
    h.push_str("<div class=\"totals\">");
    let _ = write!(h, "<div><b>{}</b>enrolments planned</div>", ps.enrolments);
    match &ps.delta {
        Some(d) => {
            let file = d
                .file
                .map_or("nothing new".to_string(), |n| format!("outbox file {n:04}"));
            let _ = write!(
                h,
                "<div><b>{}</b>new ({})</div><div><b>{}</b>suspended</div><div><b>{}</b>reactivated</div><div><b>{}</b>manual change(s)</div>",
                d.new,
                esc(&file),
                d.suspended,
                d.reactivated,
                d.manual_changes
            );
        }
        None => {
            let _ = write!(
                h,
                "<div><b>{}</b>row(s) in {} file(s)</div>",
                ps.rows,
                ps.files.len()
            );
        }
    }
    let _ = writeln!(h, "<div><b>{}</b>left out</div></div>", left);
}

/// What the web-service channel did: operations per kind, the refused rows with
/// Moodle's message, held-back suspensions, and the journal.
fn webservice(h: &mut String, w: &crate::output::report::WsSummary) {
    h.push_str("<div class=\"totals\">");
    if w.applied.is_empty() {
        h.push_str("<div><b>0</b>changes made in Moodle</div>");
    }
    for (op, n) in &w.applied {
        let _ = write!(h, "<div><b>{n}</b>{}</div>", esc(&op.replace('_', " ")));
    }
    let _ = writeln!(
        h,
        "<div><b>{}</b>web-service calls ({} writing, {:.1} s)</div></div>",
        w.calls, w.write_calls, w.seconds
    );
    for r in &w.refused_rows {
        let _ = writeln!(h, "<p class=\"warnings\">Refused by Moodle: {}</p>", esc(r));
    }
    for held in &w.held {
        held_back(h, held);
    }
    for c in &w.missing_courses {
        let _ = writeln!(h, "<p class=\"warnings\">Course <code>{}</code> is not in Moodle: its enrolments wait.</p>", esc(c));
    }
    if let Some(j) = &w.journal {
        let _ = writeln!(h, "<p>What was done: <code>{}</code>.</p>", esc(j));
    }
}

/// A course whose suspensions wait for a person's review.
fn held_back(h: &mut String, held: &crate::plan::delta::Held) {
    let _ = writeln!(
        h,
        "<p class=\"warnings\">Course <code>{}</code>: {} suspension(s) held back ({}): not made, retried next run; after review, <code>--accept-suspensions {}</code>.</p>",
        esc(&held.course),
        held.suspensions,
        esc(&held.why),
        esc(&held.course)
    );
}

/// What waits for a person (pending manual changes, held-back suspensions), and the
/// files to import.
fn notices(h: &mut String, name: &str, ps: &PlatformSummary) {
    if let Some(d) = &ps.delta {
        if let (Some(f), true) = (&d.manual_file, d.manual_changes > 0) {
            let _ = writeln!(
                h,
                "<p class=\"warnings\">{} change(s) to existing enrolments are pending, which a file cannot make: open <code>{}</code>, make them in Moodle, then move the file into <code>{}/imported/</code>.</p>",
                d.manual_changes,
                esc(f),
                esc(name)
            );
        }
        for held in &d.held {
            held_back(h, held);
        }
    }
    if !ps.files.is_empty() {
        let files: Vec<String> = ps
            .files
            .iter()
            .map(|f| format!("<code>{}</code>", esc(f)))
            .collect();
        let import = ps
            .import_file
            .clone()
            .unwrap_or_else(|| format!("{name}/IMPORT.txt"));
        let _ = writeln!(
            h,
            "<p>Files to import: {} (settings in <code>{}</code>).</p>",
            files.join(", "),
            esc(&import)
        );
    }
}

/// Every course with enrolments, left-outs or a previous count, sorted.
fn courses_table(
    h: &mut String,
    ps: &PlatformSummary,
    left: &[LeftOut],
    previous: Option<&BTreeMap<String, usize>>,
) {
    // Courses: every course with enrolments, left-outs or a previous count, sorted.
    let mut left_by_course: BTreeMap<&str, usize> = BTreeMap::new();
    for l in left {
        *left_by_course.entry(l.course.as_str()).or_default() += 1;
    }
    let mut courses: Vec<&str> = ps.courses.keys().map(String::as_str).collect();
    courses.extend(left_by_course.keys());
    if let Some(p) = previous {
        courses.extend(p.keys().map(String::as_str));
    }
    courses.sort_unstable();
    courses.dedup();
    let delta = ps.delta.as_ref();
    h.push_str("<h3>Courses</h3>\n<table>\n<tr><th>course</th><th class=\"n\">enrolments</th>");
    if previous.is_some() {
        h.push_str("<th class=\"n\">previous run</th><th class=\"n\">change</th>");
    }
    if delta.is_some() {
        h.push_str("<th class=\"n\">new</th><th class=\"n\">suspended</th>");
    }
    h.push_str("<th class=\"n\">left out</th></tr>\n");
    for c in courses {
        let now = ps.courses.get(c).copied().unwrap_or(0);
        let _ = write!(h, "<tr><td>{}</td><td class=\"n\">{now}</td>", esc(c));
        if let Some(p) = previous {
            let before = p.get(c).copied().unwrap_or(0);
            let diff = now as i64 - before as i64;
            let (class, sign) = match diff {
                d if d > 0 => ("up", "+"),
                d if d < 0 => ("down", ""),
                _ => ("muted", "±"),
            };
            let _ = write!(
                h,
                "<td class=\"n\">{before}</td><td class=\"n {class}\">{sign}{diff}</td>"
            );
        }
        if let Some(d) = delta {
            let ch = d.courses.get(c).copied().unwrap_or_default();
            let _ = write!(
                h,
                "<td class=\"n\">{}</td><td class=\"n\">{}</td>",
                ch.new, ch.suspended
            );
        }
        let _ = writeln!(
            h,
            "<td class=\"n\">{}</td></tr>",
            left_by_course.get(c).copied().unwrap_or(0)
        );
    }
    h.push_str("</table>\n");
}

/// The people left out, by reason: a chart, what to do, and who (with personal data)
/// or how many per course.
fn left_out(h: &mut String, name: &str, left: &[LeftOut], page: &Page<'_>) {
    let personal_data = page.personal_data;
    if left.is_empty() {
        h.push_str("<p>Nobody was left out.</p>\n");
        return;
    }
    let mut by_reason: BTreeMap<Reason, Vec<&LeftOut>> = BTreeMap::new();
    for l in left {
        by_reason.entry(l.reason).or_default().push(l);
    }
    h.push_str("<h3>Left out, by reason</h3>\n");
    h.push_str(&bar_chart(&by_reason));
    if !personal_data {
        h.push_str("<p class=\"muted\">Names and student numbers are not shown (the page may be mailed): see <code>left-out.csv</code>, or set <code>report: { personal_data: true }</code>.</p>\n");
    }
    for (reason, rows) in &by_reason {
        let _ = writeln!(
            h,
            "<h3 id=\"{}-{}\"><code>{}</code>: {}</h3>\n<p class=\"action\">{}</p>",
            esc(name),
            reason.code(),
            reason.code(),
            rows.len(),
            esc(if page.sheet {
                reason.sheet_action()
            } else {
                reason.action()
            })
        );
        if personal_data {
            h.push_str("<table>\n<tr><th>name</th><th>student number</th><th>username</th><th>course</th><th>role</th><th>cohort</th><th>detail</th></tr>\n");
            for l in rows {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} (rule #{})</td><td>{}</td></tr>",
                    esc(&l.name),
                    esc(&l.student_id),
                    esc(&l.username),
                    esc(&l.course),
                    esc(&l.role),
                    esc(&l.cohort),
                    l.rule,
                    esc(&l.detail)
                );
            }
            h.push_str("</table>\n");
        } else {
            let mut per_course: BTreeMap<&str, usize> = BTreeMap::new();
            for l in rows {
                *per_course.entry(l.course.as_str()).or_default() += 1;
            }
            let parts: Vec<String> = per_course
                .iter()
                .map(|(c, n)| format!("{} {n}", esc(c)))
                .collect();
            let _ = writeln!(h, "<p>By course: {}.</p>", parts.join(", "));
            if page.sheet {
                let mut rows_of: Vec<usize> = rows.iter().map(|l| l.rule).collect();
                rows_of.sort_unstable();
                rows_of.dedup();
                let list: Vec<String> = rows_of.iter().map(usize::to_string).collect();
                let _ = writeln!(h, "<p>Rows of the sheet: {}.</p>", list.join(", "));
            }
        }
    }
}

/// Horizontal bars, one per reason, drawn as inline SVG.
fn bar_chart(by_reason: &BTreeMap<Reason, Vec<&LeftOut>>) -> String {
    const ROW: usize = 26;
    const LABEL: usize = 170;
    const BAR: usize = 360;
    let max = by_reason.values().map(Vec::len).max().unwrap_or(1).max(1);
    let height = ROW * by_reason.len() + 6;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"Left-out enrolments by reason\" width=\"{}\" height=\"{height}\" viewBox=\"0 0 {} {height}\" font-family=\"system-ui, sans-serif\" font-size=\"13\">\n",
        LABEL + BAR + 60,
        LABEL + BAR + 60
    );
    for (i, (reason, rows)) in by_reason.iter().enumerate() {
        let y = i * ROW + 4;
        let w = (rows.len() * BAR).div_ceil(max).max(2);
        let colour = if reason.is_benign() {
            "#9db4d6"
        } else {
            "#d9822b"
        };
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect x=\"{LABEL}\" y=\"{y}\" width=\"{w}\" height=\"18\" rx=\"3\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            LABEL - 8,
            y + 14,
            reason.code(),
            LABEL + w + 6,
            y + 14,
            rows.len()
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::report::{DeltaSummary, SourceTiming};
    use crate::plan::PlatformPlan;

    fn left(course: &str, reason: Reason, name: &str, detail: &str) -> LeftOut {
        LeftOut {
            course: course.into(),
            reason,
            username: "e1".into(),
            student_id: "21000001".into(),
            name: name.into(),
            cohort: "psy".into(),
            rule: 1,
            role: "student".into(),
            detail: detail.into(),
        }
    }

    fn page_html(personal_data: bool, previous: bool) -> String {
        let mut plan = Plan::default();
        plan.warnings.push("cohort <x> returned nobody".into());
        plan.entry_warnings.push(crate::plan::EntryWarning {
            kind: crate::plan::EntryProblem::UnreadableState,
            text: "account uid=e21000001,ou=people in unicaen: value cannot be read".into(),
        });
        plan.entry_warnings.push(crate::plan::EntryWarning {
            kind: crate::plan::EntryProblem::Ambiguous,
            text: "platform ecampus: student number 21000006 is claimed by two accounts".into(),
        });
        plan.platforms.insert(
            "ecampus".into(),
            PlatformPlan {
                enrolments: Default::default(),
                by_idnumber: Default::default(),
                left_out: vec![
                    left(
                        "PSY<1>",
                        Reason::NoAccount,
                        "O'Brien & <Co> \"Zoé\"",
                        "no account <x>",
                    ),
                    left("PSY<1>", Reason::AccountTooRecent, "Léa", "created today"),
                    left("DRT", Reason::NoAccount, "Hugo", "no account"),
                ],
            },
        );
        let mut ps = PlatformSummary {
            enrolments: 12,
            rows: 12,
            files: vec!["ecampus.csv".into()],
            ..Default::default()
        };
        ps.courses.insert("PSY<1>".into(), 12);
        let summary = Summary {
            as_of: "2026-11-24".into(),
            year: "2026".into(),
            dry_run: false,
            platforms: [("ecampus".to_string(), ps)].into(),
            sources: vec![SourceTiming {
                id: "apogee".into(),
                source: "Apogée (SQLite a&b.sql)".into(),
                seconds: 0.5,
                records: 10,
                requests: 4,
                scope: String::new(),
                max_shrink: 0.3,
                asked: true,
            }],
            warnings: vec!["cohort <x> returned nobody".into()],
            left_out_ratio: 0.0,
            moodle: BTreeMap::new(),
        };
        let prev: BTreeMap<String, BTreeMap<String, usize>> = [(
            "ecampus".to_string(),
            [("PSY<1>".to_string(), 10), ("OLD".to_string(), 3)].into(),
        )]
        .into();
        let page = Page {
            title: "Nightly run",
            summary: &summary,
            plan: &plan,
            previous: previous.then_some(&prev),
            personal_data,
            sheet: false,
        };
        String::from_utf8(render(&page).bytes).unwrap()
    }

    #[test]
    fn everything_from_the_data_is_escaped() {
        let h = page_html(true, false);
        assert!(
            h.contains("<td>O&#39;Brien &amp; &lt;Co&gt; &quot;Zoé&quot;</td>"),
            "{h}"
        );
        assert!(h.contains("<td>PSY&lt;1&gt;</td>"));
        assert!(h.contains("<li>cohort &lt;x&gt; returned nobody</li>"));
        assert!(h.contains("no account &lt;x&gt;"));
        assert!(h.contains("Apogée (SQLite a&amp;b.sql)"));
        assert!(!h.contains("<x>") && !h.contains("<Co>") && !h.contains("<1>"));
    }

    #[test]
    fn names_only_with_personal_data() {
        let hidden = page_html(false, false);
        assert!(
            !hidden.contains("Brien") && !hidden.contains("21000001") && !hidden.contains("Hugo")
        );
        assert!(
            !hidden.contains("no account &lt;x&gt;"),
            "details may name people"
        );
        assert!(
            hidden.contains("<p>By course: DRT 1, PSY&lt;1&gt; 1.</p>"),
            "{hidden}"
        );
        assert!(
            hidden.contains("1 account(s) have a state value that cannot be read"),
            "one unreadable state, the ambiguous identity not counted as one: {hidden}"
        );
        assert!(!hidden.contains("21000006"));
        let shown = page_html(true, false);
        assert!(shown.contains("21000001") && shown.contains("Hugo"));
        assert!(shown
            .contains("<li>account uid=e21000001,ou=people in unicaen: value cannot be read</li>"));
    }

    #[test]
    fn courses_compare_with_the_previous_run_and_reasons_say_what_to_do() {
        let h = page_html(false, true);
        assert!(h.contains("<tr><td>PSY&lt;1&gt;</td><td class=\"n\">12</td><td class=\"n\">10</td><td class=\"n up\">+2</td><td class=\"n\">2</td></tr>"), "{h}");
        assert!(h.contains("<tr><td>OLD</td><td class=\"n\">0</td><td class=\"n\">3</td><td class=\"n down\">-3</td><td class=\"n\">0</td></tr>"), "{h}");
        assert!(h.contains("<code>no_account</code>: 2</h3>\n<p class=\"action\">No account with this student number"));
        assert!(h.contains(
            "<code>account_too_recent</code>: 1</h3>\n<p class=\"action\">Nothing to do"
        ));
        assert!(h.contains("<svg") && h.contains(">no_account</text>"));
    }

    #[test]
    fn the_page_fetches_nothing() {
        let h = page_html(true, true);
        for needle in [
            "<script", "<link", "<img", "src=", "href=", "url(", "@import", "http://", "https://",
        ] {
            let allowed = needle == "http://"
                && h.matches(needle).count()
                    == h.matches("xmlns=\"http://www.w3.org/2000/svg\"").count();
            assert!(!h.contains(needle) || allowed, "{needle}");
        }
    }

    #[test]
    fn delta_columns_per_course() {
        let mut plan = Plan::default();
        plan.platforms.insert("p".into(), PlatformPlan::default());
        let mut d = DeltaSummary {
            file: Some(3),
            new: 2,
            suspended: 1,
            ..Default::default()
        };
        d.courses.insert(
            "C1".into(),
            crate::output::report::CourseChange {
                new: 2,
                suspended: 1,
            },
        );
        let mut ps = PlatformSummary {
            enrolments: 5,
            delta: Some(d),
            ..Default::default()
        };
        ps.courses.insert("C1".into(), 5);
        let summary = Summary {
            as_of: "2026-11-24".into(),
            year: "2026".into(),
            dry_run: false,
            platforms: [("p".to_string(), ps)].into(),
            sources: vec![],
            warnings: vec![],
            left_out_ratio: 0.0,
            moodle: BTreeMap::new(),
        };
        let page = Page {
            title: "t",
            summary: &summary,
            plan: &plan,
            previous: None,
            personal_data: false,
            sheet: false,
        };
        let h = String::from_utf8(render(&page).bytes).unwrap();
        assert!(h.contains("<tr><td>C1</td><td class=\"n\">5</td><td class=\"n\">2</td><td class=\"n\">1</td><td class=\"n\">0</td></tr>"), "{h}");
        assert!(h.contains("<div><b>2</b>new (outbox file 0003)</div>"));
        assert!(h.contains("<p>Nobody was left out.</p>"));
    }
}
