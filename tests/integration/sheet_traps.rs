//! `adhoc --sheet` on sheets as schooling offices make them (issue 27): nothing is
//! dropped silently. The LibreOffice fixtures (tests/fixtures/sheets/make.sh) carry
//! a formula error in the student-number column, a title row, French headers, a
//! hidden worksheet, an instructions worksheet, merged cells and a hidden row; the
//! others are made here with rust_xlsxwriter or by hand.

use std::io::Write as _;
use std::path::Path;

use rust_xlsxwriter::{Formula, Workbook};

use super::util::*;

fn adhoc(dir: &Path, sheet: &str, extra: &[&str]) -> Out {
    let cfg = copy_demo(dir);
    cmd(dir, "adhoc", cfg.to_str().unwrap())
        .args(&["--platform", "ecampus", "--sheet", sheet, "--out", "out"])
        .args(extra)
        .run()
}

fn fixture(dir: &Path, name: &str) {
    std::fs::copy(
        repo().join("tests/fixtures/sheets").join(name),
        dir.join(name),
    )
    .unwrap();
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join("out").join(name)).unwrap_or_default()
}

/// The left-out lines without their header.
fn left_out(dir: &Path, stem: &str) -> Vec<String> {
    read(dir, &format!("{stem}-left-out.csv"))
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect()
}

const N_A: &str = "invalid_value;PSY-L1-SOUTIEN;student;;#N/A;;row 3;#3;row 3, N° étudiant: holds a formula error #N/A";
const DIV_0: &str = "invalid_value;PSY-L1-SOUTIEN;Étudiant;;21000009;;row 7;#7;row 7, Groupe 1: holds a formula error #DIV/0!";
const HIDDEN: &str = "invalid_value;PSY-L1-SOUTIEN;Étudiant;;21000010;;row 8;#8;row 8, Cours 1: the row is hidden (or filtered out) in the sheet: show it if it is part of the request";
/// Rows 4-6: the group and the duration merged over the three.
const MERGED: &str = "username;course1;role1;group1;enrolperiod1
21000001;PSY-L1-SOUTIEN;student;Soutien A;30
21000002;PSY-L1-SOUTIEN;student;Soutien A;30
21000003;PSY-L1-SOUTIEN;student;Soutien A;30
";

#[test]
fn an_office_sheet_s_traps_are_read_left_out_or_said_in_every_format() {
    for (sheet, hidden_rows_seen) in [
        ("pieges.xlsx", true),
        ("pieges.ods", true),
        ("pieges.xls", false),
    ] {
        let t = tempfile::tempdir().unwrap();
        fixture(t.path(), sheet);
        let r = adhoc(t.path(), sheet, &[]);
        assert_eq!(r.code, 0, "{sheet}: {}", r.stderr);
        for said in [
            "warning: worksheet 'Demande' read",
            "warning: hidden worksheet '2025' also holds enrolments: not read (--worksheet '2025' reads it instead)",
            "warning: worksheet 'Consignes' not read: it has no enrolment header",
            "warning: row(s) 1 above the header (row 2) not read as enrolments",
            "warning: columns ignored (not enrolment columns): Nom",
            "warning: course(s) PSY-L1-SOUTIEN named by no rule of the configuration on ecampus: not checked to exist",
        ] {
            assert!(r.stderr.contains(said), "{sheet}: {said}\n{}", r.stderr);
        }
        // The report speaks of the sheet, and gives its rows without personal data.
        let report = read(t.path(), "ecampus-pieges-Demande-report.html");
        assert!(
            report.contains("Rows of the sheet: 3, 7"),
            "{sheet}: {report}"
        );
        assert!(report.contains("fix it in the sheet"), "{sheet}");
        let upload = read(t.path(), "ecampus-pieges-Demande.csv");
        if hidden_rows_seen {
            assert_eq!(upload, MERGED, "{sheet}");
            assert_eq!(
                left_out(t.path(), "ecampus-pieges-Demande"),
                [N_A, DIV_0, HIDDEN],
                "{sheet}"
            );
        } else {
            // An .xls does not say which rows are hidden: the run says so.
            assert_eq!(
                upload,
                format!("{MERGED}21000010;PSY-L1-SOUTIEN;student;;\n"),
                "{sheet}"
            );
            assert_eq!(
                left_out(t.path(), "ecampus-pieges-Demande"),
                [N_A, DIV_0],
                "{sheet}"
            );
            assert!(
                r.stderr.contains(
                    "an .xls (Excel 97-2003) does not tell enrolgen which rows are hidden"
                ),
                "{}",
                r.stderr
            );
        }
        // Last year's hidden request, when asked for by name: files of its own,
        // beside the other worksheet's (before: written over them).
        let demande = read(t.path(), "ecampus-pieges-Demande.csv");
        let r = adhoc(t.path(), sheet, &["--worksheet", "2025"]);
        assert_eq!(r.code, 0, "{sheet}: {}", r.stderr);
        assert_eq!(
            read(t.path(), "ecampus-pieges-2025.csv"),
            "username;course1;role1\n21000004;PSY-L1-SOUTIEN;editingteacher\n",
            "{sheet}"
        );
        assert_eq!(
            read(t.path(), "ecampus-pieges-Demande.csv"),
            demande,
            "{sheet}"
        );
    }
}

#[test]
fn a_windows_1252_csv_as_french_excel_saves_it_is_read_and_said() {
    let t = tempfile::tempdir().unwrap();
    fixture(t.path(), "pieges-1252.csv");
    let bytes = std::fs::read(t.path().join("pieges-1252.csv")).unwrap();
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the fixture is Windows-1252"
    );
    let r = adhoc(t.path(), "pieges-1252.csv", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("pieges-1252.csv: not UTF-8, read as Windows-1252"),
        "{}",
        r.stderr
    );
    // A CSV keeps a merged value in its first cell only: rows 5-6 have no group,
    // as the file says. Its error texts are errors; the row LibreOffice hid is
    // a row like the others in a CSV.
    assert_eq!(
        read(t.path(), "ecampus-pieges-1252.csv"),
        "username;course1;role1;group1;enrolperiod1
21000001;PSY-L1-SOUTIEN;student;Soutien A;30
21000002;PSY-L1-SOUTIEN;student;;
21000003;PSY-L1-SOUTIEN;student;;
21000010;PSY-L1-SOUTIEN;student;;
"
    );
    assert_eq!(left_out(t.path(), "ecampus-pieges-1252"), [N_A, DIV_0]);
}

/// A workbook of two worksheets, the first hidden, each a request.
fn two_requests(path: &Path, first_hidden: bool) {
    let mut book = Workbook::new();
    for (name, id, role) in [
        ("2025", 21000004.0, "editingteacher"),
        ("Demande", 21000001.0, "student"),
    ] {
        let s = book.add_worksheet().set_name(name).unwrap();
        for (c, h) in (0u16..).zip(["cod_etu", "course1", "role1"]) {
            s.write_string(0, c, h).unwrap();
        }
        s.write_number(1, 0, id).unwrap();
        s.write_string(1, 1, "PSY-L1-SOUTIEN").unwrap();
        s.write_string(1, 2, role).unwrap();
    }
    if first_hidden {
        book.worksheet_from_index(1).unwrap().set_active(true);
        book.worksheet_from_index(0).unwrap().set_hidden(true);
    }
    book.save(path).unwrap();
}

#[test]
fn a_hidden_first_worksheet_is_not_the_request_and_two_requests_are_refused() {
    let t = tempfile::tempdir().unwrap();
    two_requests(&t.path().join("hidden.xlsx"), true);
    let r = adhoc(t.path(), "hidden.xlsx", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Two worksheets hold a request: the files are named by the one read.
    assert_eq!(
        read(t.path(), "ecampus-hidden-Demande.csv"),
        "username;course1;role1\n21000001;PSY-L1-SOUTIEN;student\n"
    );
    assert!(
        r.stderr
            .contains("hidden worksheet '2025' also holds enrolments"),
        "{}",
        r.stderr
    );
    two_requests(&t.path().join("both.xlsx"), false);
    let r = adhoc(t.path(), "both.xlsx", &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("both.xlsx: worksheets '2025', 'Demande' all hold enrolments: choose one with --worksheet NAME"),
        "{}",
        r.stderr
    );
    let r = adhoc(t.path(), "both.xlsx", &["--worksheet", "demande"]);
    assert_eq!(
        r.code, 0,
        "a worksheet's name in another case: {}",
        r.stderr
    );
    let r = adhoc(t.path(), "both.xlsx", &["--worksheet", "Feuil1"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("no worksheet 'Feuil1' (the workbook has: '2025', 'Demande')"),
        "{}",
        r.stderr
    );
}

/// Rewrites one entry of a zip archive (an .xlsx) through `edit`.
fn rewrite_entry(path: &Path, entry: &str, edit: impl Fn(String) -> String) {
    let bytes = std::fs::read(path).unwrap();
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zin.len() {
        let mut f = zin.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut text).unwrap();
        if name == entry {
            text = edit(String::from_utf8(text).unwrap()).into_bytes();
        }
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&text).unwrap();
    }
    std::fs::write(path, out.finish().unwrap().into_inner()).unwrap();
}

#[test]
fn a_formula_a_program_wrote_without_its_value_is_refused_on_its_row() {
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("script.xlsx");
    let mut book = Workbook::new();
    let s = book.add_worksheet();
    for (c, h) in (0u16..).zip(["cod_etu", "course1", "role1", "group1"]) {
        s.write_string(0, c, h).unwrap();
    }
    s.write_number(1, 0, 21000001.0).unwrap();
    s.write_string(1, 1, "PSY-L1-SOUTIEN").unwrap();
    s.write_string(1, 2, "student").unwrap();
    s.write_formula(1, 3, Formula::new("=B2&C2")).unwrap();
    book.save(&path).unwrap();
    // As openpyxl writes a formula: no cached value at all.
    rewrite_entry(&path, "xl/worksheets/sheet1.xml", |x| {
        let cut = x.replace("</f><v>0</v>", "</f>");
        assert_ne!(cut, x, "the writer's cached value is gone");
        cut
    });
    let r = adhoc(t.path(), "script.xlsx", &[]);
    assert_eq!(r.code, 1, "nothing to enrol: {}", r.stderr);
    assert_eq!(
        left_out(t.path(), "ecampus-script"),
        ["invalid_value;PSY-L1-SOUTIEN;student;;21000001;;row 2;#2;row 2, group1: holds a formula without a computed value (=B2&C2): open the file in a spreadsheet and save it"]
    );
}

#[test]
fn a_sheet_has_limits_and_a_stray_cell_costs_one_cell() {
    let t = tempfile::tempdir().unwrap();
    // A stray value at XFD1048576: once a 512 GiB allocation (exit 134).
    let mut book = Workbook::new();
    let s = book.add_worksheet();
    for (c, h) in (0u16..).zip(["cod_etu", "course1", "role1"]) {
        s.write_string(0, c, h).unwrap();
    }
    s.write_number(1, 0, 21000001.0).unwrap();
    s.write_string(1, 1, "PSY-L1-SOUTIEN").unwrap();
    s.write_string(1, 2, "student").unwrap();
    s.write_string(1_048_575, 16_383, "x").unwrap();
    book.save(t.path().join("stray.xlsx")).unwrap();
    let r = adhoc(t.path(), "stray.xlsx", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        read(t.path(), "ecampus-stray.csv"),
        "username;course1;role1\n21000001;PSY-L1-SOUTIEN;student\n"
    );

    // A zip bomb: an entry that unpacks to 300 MB of zeros.
    let bomb = t.path().join("bomb.xlsx");
    std::fs::copy(t.path().join("stray.xlsx"), &bomb).unwrap();
    let bytes = std::fs::read(&bomb).unwrap();
    let mut z = zip::ZipWriter::new_append(std::io::Cursor::new(bytes)).unwrap();
    let deflate = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(false);
    z.start_file("xl/media/zeros.bin", deflate).unwrap();
    let mb = vec![0u8; 1 << 20];
    for _ in 0..300 {
        z.write_all(&mb).unwrap();
    }
    std::fs::write(&bomb, z.finish().unwrap().into_inner()).unwrap();
    assert!(std::fs::metadata(&bomb).unwrap().len() < 2_000_000);
    let r = adhoc(t.path(), "bomb.xlsx", &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("bomb.xlsx: refused: it unpacks to 314 MB, more than a request sheet needs (268 MB at most)"), "{}", r.stderr);

    // An .ods of a kilobyte that repeats a filled row a million times.
    let ods = t.path().join("repeat.ods");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&ods).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    z.start_file("mimetype", stored).unwrap();
    z.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    z.start_file("content.xml", zip::write::SimpleFileOptions::default())
        .unwrap();
    let cell = |v: &str| {
        format!("<table:table-cell office:value-type=\"string\"><text:p>{v}</text:p></table:table-cell>")
    };
    write!(
        z,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><office:document-content xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\" xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\"><office:body><office:spreadsheet><table:table table:name=\"Demande\"><table:table-row>{}{}{}</table:table-row><table:table-row table:number-rows-repeated=\"1000000\">{}{}{}{}{}</table:table-row></table:table></office:spreadsheet></office:body></office:document-content>",
        cell("cod_etu"), cell("course1"), cell("role1"),
        cell("21000001"), cell("PSY-L1-SOUTIEN"), cell("student"), cell("a"), cell("b"),
    )
    .unwrap();
    z.finish().unwrap();
    assert!(std::fs::metadata(&ods).unwrap().len() < 2_000);
    let r = adhoc(t.path(), "repeat.ods", &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("worksheet 'Demande' repeats its rows to 5000003 filled cells"),
        "{}",
        r.stderr
    );
}

#[test]
fn init_writes_a_template_only_under_an_xlsx_name() {
    let t = tempfile::tempdir().unwrap();
    let r = enrolgen(t.path(), &["init", "--sheet", "demande.ods"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "--sheet demande.ods: the template is an .xlsx workbook: name it demande.xlsx"
        ),
        "{}",
        r.stderr
    );
    assert!(!t.path().join("demande.ods").exists());
}

#[test]
fn adhoc_dry_run_writes_nothing_and_json_says_the_counts() {
    let t = tempfile::tempdir().unwrap();
    fixture(t.path(), "pieges.ods");
    let r = adhoc(t.path(), "pieges.ods", &["--dry-run", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!t.path().join("out").exists(), "nothing written");
    // Before: the files followed the JSON on stdout, which was then not JSON.
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect(&r.stdout);
    assert_eq!(v["platforms"]["ecampus"]["enrolments"], 3, "{v}");
    // Before: "see out/…-left-out.csv, or open …-report.html", files never written.
    assert!(!r.stderr.contains("left-out.csv"), "{}", r.stderr);
    let r = adhoc(t.path(), "pieges.ods", &["--dry-run"]);
    let files = r.stdout.split_once("==> ").unwrap().1;
    assert_eq!(files, format!("ecampus-pieges-Demande.csv <==\n{MERGED}"));
}

/// Before: a course Moodle does not have was written to the upload file without a
/// word (Moodle then skips its rows at import).
#[test]
fn with_a_moodle_connection_adhoc_checks_that_each_course_exists() {
    use crate::moodle_server::{live_site, replay, with_recording, TOKEN};
    let t = tempfile::tempdir().unwrap();
    let world = serde_json::json!({"courses": [{"shortname": "PSY-L1-SOUTIEN"}]});
    let (url, token) = live_site(t.path(), &world, &[])
        .unwrap_or_else(|| (replay("adhoc-courses"), TOKEN.to_string()));
    let cfg = copy_demo(t.path());
    std::fs::write(t.path().join("token"), format!("{token}\n")).unwrap();
    let with_moodle = |url: &str| {
        let text = std::fs::read_to_string(&cfg).unwrap();
        let from = "    csv: { delimiter: \";\", layout: long, max_rows: 150 }\n";
        assert!(text.contains(from));
        let to = format!(
            "{from}    moodle: {{ url: \"{url}\", token_file: {} }}\n",
            t.path().join("token").display()
        );
        std::fs::write(
            cfg.with_file_name("moodle.yaml"),
            text.replacen(from, &to, 1),
        )
        .unwrap();
    };
    with_moodle(&url);
    std::fs::write(
        t.path().join("demande.csv"),
        "cod_etu;course1;role1;course2;role2\n21000001;PSY-L1-SOUTIEN;student;PSY-L1-STATZ;student\n",
    )
    .unwrap();
    let cfg_moodle = cfg.with_file_name("moodle.yaml");
    let args = [
        "adhoc",
        "-c",
        cfg_moodle.to_str().unwrap(),
        "--platform",
        "ecampus",
        "--sheet",
        "demande.csv",
        "--out",
        "out",
        "--as-of",
        "2026-11-24",
    ];
    let r = with_recording(t.path(), &args, Some("adhoc-courses"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        read(t.path(), "ecampus-demande.csv"),
        "username;course1;role1\n21000001;PSY-L1-SOUTIEN;student\n"
    );
    assert_eq!(
        left_out(t.path(), "ecampus-demande"),
        ["course_not_found;PSY-L1-STATZ;student;21000001;;;row 2;#2;row 2, course2: the platform's Moodle has no course 'PSY-L1-STATZ'"]
    );
    assert!(!r.stderr.contains("not checked to exist"), "{}", r.stderr);
    // A Moodle that cannot be asked stops the command before anything is written.
    std::fs::remove_dir_all(t.path().join("out")).unwrap();
    with_moodle("http://127.0.0.1:9");
    let r = enrolgen(t.path(), &args);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("127.0.0.1:9"), "{}", r.stderr);
    assert!(!t.path().join("out").exists());
}

/// A sheet as a French office makes it, saved by LibreOffice with its French
/// interface (tests/fixtures/sheets/make.sh). Before: `#DIV/0 !` became a group
/// name and a row starting with it vanished as a comment, `01/09/26` became
/// 0026-09-01 and `1 septembre 2026` 1899-12-31, `Durée (jours)` was ignored, the
/// hidden `Cours 2` was enrolled and a course typed beyond the header dropped; the
/// UTF-16 CSV stopped with exit 2. Every data row ends as an enrolment or as a
/// left-out line naming its row.
#[test]
fn a_french_office_s_sheet_is_read_as_it_means_in_every_format() {
    let formats = [
        ("francais.ods", true),
        ("francais.xlsx", true),
        ("francais.csv", false),
        ("francais-utf16.csv", false),
    ];
    for (sheet, knows_hidden_columns) in formats {
        let t = tempfile::tempdir().unwrap();
        fixture(t.path(), sheet);
        let r = adhoc(t.path(), sheet, &[]);
        assert_eq!(r.code, 0, "{sheet}: {}", r.stderr);
        let stem = sheet
            .trim_end_matches(".csv")
            .trim_end_matches(".ods")
            .trim_end_matches(".xlsx");
        let file = read(t.path(), &format!("ecampus-{stem}.csv"));
        let mut expected = String::from(
            "username;course1;role1;group1;enrolperiod1;enroltimestart1\n\
             21000001;PSY-L1-SOUTIEN;student;Soutien A;60;2026-09-01\n\
             21000004;PSY-L1-SOUTIEN;student;Soutien B;60;2026-09-01\n",
        );
        if !knows_hidden_columns {
            // A CSV does not say which columns were hidden.
            expected.push_str("21000004;PSY-L1-STATS;student;;;\n");
        }
        assert_eq!(file, expected, "{sheet}");
        let left = left_out(t.path(), &format!("ecampus-{stem}"));
        let says = |row: usize, what: &str| {
            left.iter()
                .any(|l| l.contains(&format!(";row {row};")) && l.contains(what))
        };
        assert!(
            says(3, "row 3, N° étudiant: holds a formula error #DIV/0"),
            "{sheet}: {left:?}"
        );
        assert!(
            says(4, "row 4, Groupe 1: holds a formula error #DIV/0"),
            "{sheet}: {left:?}"
        );
        assert!(
            says(5, "row 5, Cours 1: holds a formula error #VAL"),
            "{sheet}: {left:?}"
        );
        assert!(
            says(
                7,
                "row 7, I: column I holds 'PSY-L1-METHODO' but no header names it"
            ),
            "{sheet}: {left:?}"
        );
        assert_eq!(
            says(
                6,
                "row 6, Cours 2: column(s) Cours 2, Rôle 2 hidden in the sheet"
            ),
            knows_hidden_columns,
            "{sheet}: {left:?}"
        );
        // Rows 2 to 7, each an enrolment (2, 6) or a left-out line naming it.
        for row in [3, 4, 5, 7] {
            assert!(
                left.iter().any(|l| l.contains(&format!(";row {row};"))),
                "{sheet}: row {row}"
            );
        }
        assert!(!file.contains('#'), "no error in a file: {file}");
        // Before: the report sent the requester to `ecampus/IMPORT.txt`.
        let report = read(t.path(), &format!("ecampus-{stem}-report.html"));
        assert!(
            report.contains(&format!(
                "settings in <code>ecampus-{stem}-IMPORT.txt</code>"
            )),
            "{sheet}"
        );
    }
}

/// Before: a title merged over A1:D1 stopped the run ("column 'Demande
/// d'inscription' appears twice"), a legend row with `Groupes` was refused as a
/// near miss, and a header below ten rows of instructions was refused naming row 1.
#[test]
fn a_header_below_a_title_a_legend_and_instructions_is_found() {
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("titre.xlsx");
    let mut book = Workbook::new();
    let s = book.add_worksheet().set_name("Demande").unwrap();
    let title = rust_xlsxwriter::Format::new();
    s.merge_range(0, 0, 0, 3, "Demande d'inscription", &title)
        .unwrap();
    s.write_string(1, 0, "Groupes").unwrap();
    s.write_string(1, 1, "TD 1 = lundi, TD 2 = mardi").unwrap();
    for r in 2..14 {
        s.write_string(r, 0, format!("Consigne {r} : une ligne par étudiant."))
            .unwrap();
    }
    for (c, h) in (0u16..).zip(["N° étudiant", "Cours 1", "Rôle 1", "Groupe 1"]) {
        s.write_string(14, c, h).unwrap();
    }
    s.write_number(15, 0, 21000001).unwrap();
    s.write_string(15, 1, "PSY-L1-SOUTIEN").unwrap();
    s.write_string(15, 2, "Étudiant").unwrap();
    s.write_string(15, 3, "TD 1").unwrap();
    book.save(&path).unwrap();
    let r = adhoc(t.path(), "titre.xlsx", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        read(t.path(), "ecampus-titre.csv"),
        "username;course1;role1;group1\n21000001;PSY-L1-SOUTIEN;student;TD 1\n"
    );
    assert!(
        r.stderr
            .contains("above the header (row 15) not read as enrolments"),
        "{}",
        r.stderr
    );
}

/// Before: a second visible worksheet whose header had a typo (`Grupe 1`) was "not
/// read: it has no enrolment header", exit 0, its rows lost; an instructions
/// worksheet with one example header and no data was taken for a second request.
#[test]
fn a_worksheet_that_looks_like_a_request_is_never_skipped_in_silence() {
    let t = tempfile::tempdir().unwrap();
    let request = |s: &mut rust_xlsxwriter::Worksheet, group: &str| {
        for (c, h) in (0u16..).zip(["N° étudiant", "Cours 1", "Rôle 1", group]) {
            s.write_string(0, c, h).unwrap();
        }
        s.write_number(1, 0, 21000001).unwrap();
        s.write_string(1, 1, "PSY-L1-SOUTIEN").unwrap();
        s.write_string(1, 2, "Étudiant").unwrap();
        s.write_string(1, 3, "TD 1").unwrap();
    };
    let mut book = Workbook::new();
    request(
        book.add_worksheet().set_name("Demande").unwrap(),
        "Groupe 1",
    );
    request(
        book.add_worksheet().set_name("Demande 2").unwrap(),
        "Grupe 1",
    );
    book.save(t.path().join("deux.xlsx")).unwrap();
    let r = adhoc(t.path(), "deux.xlsx", &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("worksheet 'Demande 2' looks like a request but cannot be read (row 1: column 'Grupe 1' looks like an enrolment column"),
        "{}",
        r.stderr
    );
    let mut book = Workbook::new();
    request(
        book.add_worksheet().set_name("Demande").unwrap(),
        "Groupe 1",
    );
    let example = book.add_worksheet().set_name("Exemple").unwrap();
    for (c, h) in (0u16..).zip(["N° étudiant", "Cours 1", "Rôle 1"]) {
        example.write_string(0, c, h).unwrap();
    }
    book.save(t.path().join("exemple.xlsx")).unwrap();
    let r = adhoc(t.path(), "exemple.xlsx", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(read(t.path(), "ecampus-exemple.csv").contains("21000001;PSY-L1-SOUTIEN"));
}

/// Before: a one-row request left the previous 300-row request's
/// `ecampus-demande-002.csv` beside its own, looking like its part 2.
#[test]
fn a_request_run_again_leaves_no_part_of_the_earlier_run() {
    let t = tempfile::tempdir().unwrap();
    let write = |n: u32| {
        let mut text = String::from("N° étudiant;Cours;Rôle\n");
        for i in 1..=n {
            text.push_str(&format!("{};PSY-L1-SOUTIEN;Étudiant\n", 21000000 + i));
        }
        std::fs::write(t.path().join("demande.csv"), text).unwrap();
    };
    write(200);
    assert_eq!(adhoc(t.path(), "demande.csv", &[]).code, 0);
    assert!(t.path().join("out/ecampus-demande-002.csv").exists());
    write(1);
    let r = adhoc(t.path(), "demande.csv", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!t.path().join("out/ecampus-demande-002.csv").exists());
    assert_eq!(read(t.path(), "ecampus-demande.csv").lines().count(), 2);
}

/// Before: rows hidden other ways than `hidden="1"` with their `r` were read as
/// visible (.xlsx: a hidden row without `r=`, a row of zero height, rows hidden by
/// default with `zeroHeight`; .ods: a row whose style has zero height).
#[test]
fn rows_hidden_in_every_way_a_workbook_says_are_left_out() {
    let t = tempfile::tempdir().unwrap();
    let make = |name: &str| {
        let path = t.path().join(name);
        let mut book = Workbook::new();
        let s = book.add_worksheet();
        for (c, h) in (0u16..).zip(["cod_etu", "course1", "role1"]) {
            s.write_string(0, c, h).unwrap();
        }
        for r in 1..=3u32 {
            s.write_number(r, 0, f64::from(21000000 + r)).unwrap();
            s.write_string(r, 1, "PSY-L1-SOUTIEN").unwrap();
            s.write_string(r, 2, "student").unwrap();
        }
        book.save(&path).unwrap();
        path
    };
    let rows = |path: &Path| {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let r = adhoc(t.path(), &name, &[]);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        let stem = name.trim_end_matches(".xlsx");
        read(t.path(), &format!("ecampus-{stem}.csv"))
    };
    // Row 3 of zero height, row 4 hidden without its `r`.
    let p = make("plate.xlsx");
    rewrite_entry(&p, "xl/worksheets/sheet1.xml", |x| {
        x.replacen(
            "<row r=\"3\"",
            "<row r=\"3\" ht=\"0\" customHeight=\"1\"",
            1,
        )
        .replacen("<row r=\"4\"", "<row hidden=\"1\"", 1)
    });
    assert_eq!(
        rows(&p),
        "username;course1;role1\n21000001;PSY-L1-SOUTIEN;student\n"
    );
    // Every row hidden by default but the header and row 2, which have a height.
    let p = make("zero.xlsx");
    rewrite_entry(&p, "xl/worksheets/sheet1.xml", |x| {
        let x = match x.find("<sheetData") {
            Some(at) => format!(
                "{}<sheetFormatPr defaultRowHeight=\"15\" zeroHeight=\"1\"/>{}",
                &x[..at],
                &x[at..]
            ),
            None => x,
        };
        x.replacen(
            "<row r=\"1\"",
            "<row r=\"1\" ht=\"15\" customHeight=\"1\"",
            1,
        )
        .replacen(
            "<row r=\"2\"",
            "<row r=\"2\" ht=\"15\" customHeight=\"1\"",
            1,
        )
    });
    assert_eq!(
        rows(&p),
        "username;course1;role1\n21000001;PSY-L1-SOUTIEN;student\n"
    );
    // .ods: the French sheet's row 2 given a style of zero height.
    fixture(t.path(), "francais.ods");
    let p = t.path().join("francais.ods");
    rewrite_entry(&p, "content.xml", |x| {
        let x = x.replacen(
            "<office:automatic-styles>",
            "<office:automatic-styles><style:style style:name=\"ro9\" style:family=\"table-row\"><style:table-row-properties style:row-height=\"0cm\"/></style:style>",
            1,
        );
        // The second row element is the sheet's row 2.
        let first = x
            .find("<table:table-row table:style-name=\"ro1\">")
            .unwrap()
            + 1;
        let second = first
            + x[first..]
                .find("<table:table-row table:style-name=\"ro1\">")
                .unwrap();
        format!(
            "{}<table:table-row table:style-name=\"ro9\">{}",
            &x[..second],
            &x[second + "<table:table-row table:style-name=\"ro1\">".len()..]
        )
    });
    let r = adhoc(t.path(), "francais.ods", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let left = left_out(t.path(), "ecampus-francais");
    assert!(
        left.iter()
            .any(|l| l.contains(";row 2;") && l.contains("the row is hidden")),
        "{left:?}"
    );
    assert!(!read(t.path(), "ecampus-francais.csv").contains("21000001;"));
}

/// Before: each filled row was built as wide as its last cell: a 275 KiB .xlsx of
/// 20,000 rows with a stray value at XFD aborted at 6 GiB. The rows are built as
/// far as the cells a request uses, the stray values kept apart, and each such row
/// is left out naming column XFD.
#[test]
fn a_stray_column_at_xfd_costs_its_cells_and_leaves_its_rows_out() {
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("large.xlsx");
    let mut book = Workbook::new();
    let s = book.add_worksheet();
    for (c, h) in (0u16..).zip(["cod_etu", "course1", "role1"]) {
        s.write_string(0, c, h).unwrap();
    }
    for r in 1..=20_000u32 {
        s.write_number(r, 0, f64::from(21000000 + r % 250 + 1))
            .unwrap();
        s.write_string(r, 1, "PSY-L1-SOUTIEN").unwrap();
        s.write_string(r, 2, "student").unwrap();
        s.write_string(r, 16_383, "x").unwrap();
    }
    book.save(&path).unwrap();
    let r = cmd(t.path(), "adhoc", copy_demo(t.path()).to_str().unwrap())
        .args(&[
            "--platform",
            "ecampus",
            "--sheet",
            "large.xlsx",
            "--out",
            "out",
        ])
        .run();
    assert_eq!(r.code, 1, "nobody enrolled: {}", r.stderr);
    let left = left_out(t.path(), "ecampus-large");
    assert_eq!(left.len(), 20_000);
    assert!(
        left[0].contains("column XFD holds 'x' but no header names it"),
        "{}",
        left[0]
    );
}

/// An `.ods` made by hand: `rows` is the table's XML rows.
fn ods(path: &Path, rows: &str) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("mimetype", stored).unwrap();
    zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    zip.start_file(
        "META-INF/manifest.xml",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    zip.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#).unwrap();
    zip.start_file("content.xml", zip::write::SimpleFileOptions::default())
        .unwrap();
    write!(
        zip,
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.3"><office:body><office:spreadsheet><table:table table:name="Demande">{rows}</table:table></office:spreadsheet></office:body></office:document-content>"#
    )
    .unwrap();
    zip.finish().unwrap();
}

fn ods_row(cells: &[&str]) -> String {
    let cells: String = cells
        .iter()
        .map(|c| format!(r#"<table:table-cell office:value-type="string"><text:p>{c}</text:p></table:table-cell>"#))
        .collect();
    format!("<table:table-row>{cells}</table:table-row>")
}

/// Before: a stray cell at C1048576 cost 273 MB for a 9 KB .ods (calamine reads an
/// .ods whole into a grid as large as its extent); it is now read as a stream and
/// costs one cell, its row left out naming it.
#[test]
fn an_ods_costs_the_cells_it_fills_not_its_extent() {
    let t = tempfile::tempdir().unwrap();
    let rows = format!(
        "{}{}<table:table-row table:number-rows-repeated=\"1048573\"><table:table-cell/></table:table-row>{}",
        ods_row(&["N° étudiant", "Cours 1", "Rôle 1"]),
        ods_row(&["21000001", "PSY-L1-SOUTIEN", "Étudiant &amp; co"]),
        r#"<table:table-row><table:table-cell table:number-columns-repeated="2"/><table:table-cell office:value-type="string"><text:p>x</text:p></table:table-cell></table:table-row>"#
    );
    ods(&t.path().join("loin.ods"), &rows);
    let r = adhoc(t.path(), "loin.ods", &[]);
    let left = left_out(t.path(), "ecampus-loin");
    assert!(
        left.iter()
            .any(|l| l.contains(";row 2;") && l.contains("Étudiant & co")),
        "the entity read: {left:?}"
    );
    assert!(
        left.iter().any(|l| l.contains(";row 1048576;")),
        "the far row is read and left out: {left:?}\n{}",
        r.stderr
    );
}

/// Before: two offices both sending `demande.csv` wrote over each other's files.
#[test]
fn two_offices_sending_a_sheet_of_the_same_name_keep_their_own_files() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let request = |office: &str, student: u32| {
        let dir = t.path().join(office);
        std::fs::create_dir_all(&dir).unwrap();
        let sheet = dir.join("demande.csv");
        std::fs::write(
            &sheet,
            format!(
                "N° étudiant;Cours;Rôle\n{};PSY-L1-SOUTIEN;Étudiant\n",
                21000000 + student
            ),
        )
        .unwrap();
        let r = cmd(t.path(), "adhoc", cfg.to_str().unwrap())
            .args(&[
                "--platform",
                "ecampus",
                "--sheet",
                sheet.to_str().unwrap(),
                "--out",
                "out",
            ])
            .run();
        assert_eq!(r.code, 0, "{}", r.stderr);
    };
    request("psychologie", 1);
    request("droit", 2);
    let first = read(t.path(), "ecampus-demande.csv");
    let second = read(t.path(), "ecampus-demande-droit.csv");
    assert!(first.contains("21000001;"), "{first}");
    assert!(second.contains("21000002;"), "{second}");
    // The same office again: its own files, replaced.
    request("psychologie", 3);
    assert!(read(t.path(), "ecampus-demande.csv").contains("21000003;"));
    assert!(!t
        .path()
        .join("out/ecampus-demande-psychologie.csv")
        .exists());
}

/// Workbooks made by LibreOffice with its French interface (make.sh): a title merged
/// over the header, a legend, twelve rows of instructions, an example worksheet and
/// last year's request hidden; then a second visible worksheet with a typo in its
/// header. Before: the title was refused ("appears twice"), the header below the
/// instructions not found, the example taken for a second request, and the second
/// worksheet dropped with exit 0.
#[test]
fn a_french_office_s_workbook_is_read_below_its_title_and_never_loses_a_worksheet() {
    for fmt in ["ods", "xlsx"] {
        let t = tempfile::tempdir().unwrap();
        let sheet = format!("classeur.{fmt}");
        fixture(t.path(), &sheet);
        let r = adhoc(t.path(), &sheet, &[]);
        assert_eq!(r.code, 0, "{sheet}: {}", r.stderr);
        assert_eq!(
            read(t.path(), "ecampus-classeur-Demande.csv"),
            "username;course1;role1;group1\n21000001;PSY-L1-SOUTIEN;student;TD 1\n21000002;PSY-L1-SOUTIEN;student;TD 2\n",
            "{sheet}"
        );
        assert!(
            r.stderr
                .contains("above the header (row 15) not read as enrolments")
                && r.stderr
                    .contains("hidden worksheet '2025' also holds enrolments"),
            "{sheet}: {}",
            r.stderr
        );
        let sheet = format!("deux-demandes.{fmt}");
        fixture(t.path(), &sheet);
        let r = adhoc(t.path(), &sheet, &[]);
        assert_eq!(r.code, 2, "{sheet}: {}", r.stderr);
        assert!(
            r.stderr
                .contains("worksheet 'Demande 2' looks like a request but cannot be read"),
            "{sheet}: {}",
            r.stderr
        );
    }
}
