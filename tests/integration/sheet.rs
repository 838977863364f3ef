//! `enrolgen adhoc --sheet`: the requester's own sheet, in every shape a spreadsheet
//! saves it, gives the same upload file; mistakes name the row and the column; the
//! template `init --sheet` writes reads back.

use std::path::Path;

use calamine::Reader;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

use super::util::*;

/// What the demo's directory makes of the sheet below, on Ecampus (long layout).
const EXPECTED: &str = "username;course1;role1;group1;enrolperiod1;enroltimestart1
21000004;PSY-L1-SOUTIEN;student;Soutien A;60;2026-09-01
21000004;PSY-L1-TUTORAT;student;;;
toto211;PSY-L1-SOUTIEN;editingteacher;;;
";

const MISTAKES: [&str; 2] = [
    // The role's label is read (Enseignant: editingteacher); the login is not the
    // directory's (supannAliasLogin is case-exact: MartinP).
    "no_account;PSY-L1-SOUTIEN;editingteacher;martinp;;;row 4;#4;row 4, username: no account 'martinp' in unicaen",
    "invalid_value;psy-l1-stats;student;;21000005;;row 5;#5;row 5, course1: unknown course 'psy-l1-stats' (did you mean 'PSY-L1-STATS'? shortnames are case-sensitive)",
];

/// The sheet of tests/fixtures/sheets/demande.fods as an .xlsx: numbers stored as
/// numbers, the date as a date, a notes row, three empty formatted rows at the end.
fn xlsx(path: &Path) {
    let mut book = Workbook::new();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    let s = book.add_worksheet();
    let header = [
        "N° étudiant",
        "username",
        "Nom",
        "course1",
        "role1",
        "group1",
        "enrolperiod1",
        "enroltimestart1",
        "course2",
        "role2",
    ];
    for (c, h) in (0u16..).zip(header) {
        s.write_string(0, c, h).unwrap();
    }
    s.write_string(1, 0, "# numéro ou identifiant").unwrap();
    s.write_number(2, 0, 21000004.0).unwrap();
    s.write_string(2, 2, "Dupont").unwrap();
    s.write_string(2, 3, "PSY-L1-SOUTIEN").unwrap();
    s.write_string(2, 4, "student").unwrap();
    s.write_string(2, 5, "Soutien A").unwrap();
    s.write_number(2, 6, 60.0).unwrap();
    let d = ExcelDateTime::from_ymd(2026, 9, 1).unwrap();
    s.write_datetime_with_format(2, 7, &d, &date).unwrap();
    s.write_string(2, 8, "PSY-L1-TUTORAT").unwrap();
    s.write_string(2, 9, "student").unwrap();
    for (c, v) in [
        (1, "martinp"),
        (2, "Martin"),
        (3, "PSY-L1-SOUTIEN"),
        (4, "Enseignant"),
    ] {
        s.write_string(3, c, v).unwrap();
    }
    s.write_number(4, 0, 21000005.0).unwrap();
    s.write_string(4, 3, "psy-l1-stats").unwrap();
    s.write_string(4, 4, "student").unwrap();
    for (c, v) in [(1, "toto211"), (3, "PSY-L1-SOUTIEN"), (4, "editingteacher")] {
        s.write_string(5, c, v).unwrap();
    }
    for r in 6..9 {
        s.write_blank(r, 11, &date).unwrap();
    }
    book.save(path).unwrap();
}

/// The same sheet as CSV, the way spreadsheets export it: BOM, CRLF, `;`, the number
/// kept as `21000004.0`, the date as a day number, trailing empty columns and rows.
const CSV_SEMICOLON: &str = "\u{feff}N° étudiant;username;Nom;course1;role1;group1;enrolperiod1;enroltimestart1;course2;role2;;\r\n# numéro ou identifiant;;;;;;;;;;;\r\n21000004.0;;Dupont;PSY-L1-SOUTIEN;student;Soutien A;60;46266;PSY-L1-TUTORAT;student;;\r\n;martinp;Martin;PSY-L1-SOUTIEN;Enseignant;;;;;;;\r\n21000005;;;psy-l1-stats;student;;;;;;;\r\n;toto211;;PSY-L1-SOUTIEN;editingteacher;;;;;;;\r\n;;;;;;;;;;;\r\n;;;;;;;;;;;\r\n";

/// The same with `,`, every cell quoted, a French date.
const CSV_COMMA: &str = "\"N° étudiant\",\"username\",\"Nom\",\"course1\",\"role1\",\"group1\",\"enrolperiod1\",\"enroltimestart1\",\"course2\",\"role2\"\n\"# numéro, ou identifiant\"\n\"21000004\",\"\",\"Dupont, Jean\",\"PSY-L1-SOUTIEN\",\"student\",\"Soutien A\",\"60\",\"01/09/2026\",\"PSY-L1-TUTORAT\",\"student\"\n\"\",\"martinp\",\"Martin\",\"PSY-L1-SOUTIEN\",\"Enseignant\"\n\"21000005\",\"\",\"\",\"psy-l1-stats\",\"student\"\n\"\",\"toto211\",\"\",\"PSY-L1-SOUTIEN\",\"editingteacher\"\n";

/// The same with tabs, in the long layout (a row per enrolment, unnumbered headers).
const TSV_LONG: &str = "student_id\tusername\tcourse\trole\tgroup\tenrolperiod\tenroltimestart\n#\n21000004\t\tPSY-L1-SOUTIEN\tstudent\tSoutien A\t60\t2026-09-01\n\tmartinp\tPSY-L1-SOUTIEN\tEnseignant\n21000005\t\tpsy-l1-stats\tstudent\n\ttoto211\tPSY-L1-SOUTIEN\teditingteacher\n21000004\t\tPSY-L1-TUTORAT\tstudent\n";

fn adhoc_sheet(dir: &Path, cfg: &str, sheet: &str, extra: &[&str]) -> Out {
    cmd(dir, "adhoc", cfg)
        .args(&["--platform", "ecampus", "--sheet", sheet, "--out", "out"])
        .args(extra)
        .run()
}

#[test]
fn every_shape_of_the_sheet_gives_the_same_file_and_it_passes_lint() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let c = cfg.to_str().unwrap();
    let fixtures = repo().join("tests/fixtures/sheets");
    xlsx(&t.path().join("demande.xlsx"));
    std::fs::copy(fixtures.join("demande.ods"), t.path().join("demande.ods")).unwrap();
    std::fs::copy(fixtures.join("demande.xls"), t.path().join("demande.xls")).unwrap();
    std::fs::write(t.path().join("demande.csv"), CSV_SEMICOLON).unwrap();
    std::fs::write(t.path().join("demande-comma.csv"), CSV_COMMA).unwrap();
    std::fs::write(t.path().join("demande.txt"), TSV_LONG).unwrap();
    for (sheet, stem) in [
        ("demande.xlsx", "demande"),
        ("demande.ods", "demande"),
        ("demande.xls", "demande"),
        ("demande.csv", "demande"),
        ("demande-comma.csv", "demande-comma"),
        ("demande.txt", "demande"),
    ] {
        let _ = std::fs::remove_dir_all(t.path().join("out"));
        let r = adhoc_sheet(t.path(), c, sheet, &[]);
        assert_eq!(r.code, 0, "{sheet}: {}", r.stderr);
        let upload = format!("out/ecampus-{stem}.csv");
        let file = std::fs::read_to_string(t.path().join(&upload)).unwrap();
        assert_eq!(file, EXPECTED, "{sheet}");
        let left =
            std::fs::read_to_string(t.path().join(format!("out/ecampus-{stem}-left-out.csv")))
                .unwrap();
        let lines: Vec<&str> = left.lines().skip(1).collect();
        // A mistake names the column as the sheet heads it (`course` in the long
        // layout).
        let expected: Vec<String> = MISTAKES
            .iter()
            .map(|m| match sheet {
                "demande.txt" => m.replace(", course1:", ", course:"),
                _ => m.to_string(),
            })
            .collect();
        assert_eq!(lines, expected, "{sheet}");
        let import =
            std::fs::read_to_string(t.path().join(format!("out/ecampus-{stem}-IMPORT.txt")))
                .unwrap();
        assert!(import.contains(&format!("ecampus-{stem}.csv")), "{import}");
        assert!(t
            .path()
            .join(format!("out/ecampus-{stem}-report.html"))
            .exists());
        let lint = enrolgen(
            t.path(),
            &["lint", &upload, "-c", c, "--platform", "ecampus"],
        );
        assert_eq!(lint.code, 0, "{sheet}: {}", lint.stdout);
    }
}

#[test]
fn identities_resolve_as_in_a_run_and_mistakes_name_row_and_column() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let c = cfg.to_str().unwrap();
    let sheet = "username;numéro étudiant;course1;role1;course2;role2;enrolstatus2\n\
        MartinP;;PSY-L1-SOUTIEN;editingteacher;;;\n\
        j dupont;;PSY-L1-SOUTIEN;student;;;\n\
        ;99999999;PSY-L1-SOUTIEN;student;;;\n\
        ;21000042;PSY-L1-SOUTIEN;student;;;\n\
        e21000007;21000006;PSY-L1-SOUTIEN;student;;;\n\
        ;21000159;PSY-L1-SOUTIEN;Studnt;PSY-L1-TUTORAT;student;2\n\
        ;21000001;;student;PSY-L1-TUTORAT;student;1\n";
    std::fs::write(t.path().join("s.csv"), sheet).unwrap();
    let r = adhoc_sheet(t.path(), c, "s.csv", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file = std::fs::read_to_string(t.path().join("out/ecampus-s.csv")).unwrap();
    assert_eq!(
        file,
        "username;course1;role1;enrolstatus1\n21000001;PSY-L1-TUTORAT;student;1\nmartinp;PSY-L1-SOUTIEN;editingteacher;\n"
    );
    let left = std::fs::read_to_string(t.path().join("out/ecampus-s-left-out.csv")).unwrap();
    for needle in [
        "row 3, username: username 'j dupont' has spaces (did you mean 'jdupont'?)",
        "no_account;PSY-L1-SOUTIEN;student;;99999999;;row 4;#4;row 4, numéro étudiant: no account with student number 99999999 in unicaen",
        "account_too_recent;PSY-L1-SOUTIEN;student;21000042;21000042;;row 5;#5;row 5, numéro étudiant: account created",
        "ambiguous_account;PSY-L1-SOUTIEN;student;21000006;21000006;;row 6;#6;row 6, numéro étudiant: student number 21000006 is the account",
        "but the row says 'e21000007'",
        "row 7, role1: role 'Studnt' is not among the platform's roles",
        "row 7, enrolstatus2: '2' must be 0 (active) or 1 (suspended)",
        "row 8, course1: course1 is empty but role1 is 'student'",
    ] {
        assert!(left.contains(needle), "{needle}\n{left}");
    }
}

/// Rows asking for the same enrolment share one rule; a person asked again for a
/// course is met after the first ask, as the sheet orders them: the same values again
/// are a duplicate of the first row, other values fill what the first left empty,
/// a different role is a conflict, each named by its row and column.
#[test]
fn a_course_asked_again_is_a_duplicate_or_a_conflict_of_the_first_row() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let c = cfg.to_str().unwrap();
    let sheet = "n° étudiant;course1;role1;group1;course2;role2;enrolperiod2\n\
        21000004;PSY-L1-SOUTIEN;student;Soutien A;;;\n\
        21000001;PSY-L1-SOUTIEN;student;Soutien A;PSY-L1-TUTORAT;student;\n\
        21000004;PSY-L1-SOUTIEN;student;Soutien A;PSY-L1-SOUTIEN;student;30\n\
        21000001;PSY-L1-TUTORAT;editingteacher;;;;\n";
    std::fs::write(t.path().join("s.csv"), sheet).unwrap();
    let r = adhoc_sheet(t.path(), c, "s.csv", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file = std::fs::read_to_string(t.path().join("out/ecampus-s.csv")).unwrap();
    assert_eq!(
        file,
        "username;course1;role1;group1;enrolperiod1\n\
         21000001;PSY-L1-SOUTIEN;student;Soutien A;\n\
         21000001;PSY-L1-TUTORAT;student;;\n\
         21000004;PSY-L1-SOUTIEN;student;Soutien A;30\n"
    );
    let left = std::fs::read_to_string(t.path().join("out/ecampus-s-left-out.csv")).unwrap();
    let lines: Vec<&str> = left
        .lines()
        .skip(1)
        .map(|l| l.rsplit(';').next().unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            "row 4, course1: already planned by row 2",
            "row 5, course1: conflicts with an enrolment already planned: role 'student' (row 3) vs 'editingteacher'",
        ],
        "{left}"
    );
}

#[test]
fn a_sheet_on_collegium_needs_the_cohort_tag_its_rules_ask_for() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let c = cfg.to_str().unwrap();
    std::fs::write(
        t.path().join("pass.csv"),
        "student_id,course1,role1\n21000151,PASS-ATELIER,student\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        cmd(t.path(), "adhoc", c)
            .args(&[
                "--platform",
                "collegium",
                "--sheet",
                "pass.csv",
                "--out",
                "out",
            ])
            .args(extra)
            .run()
    };
    let r = run(&[]);
    assert_eq!(r.code, 1, "nobody enrolled: {}", r.stderr);
    let left = std::fs::read_to_string(t.path().join("out/collegium-pass-left-out.csv")).unwrap();
    assert!(left.contains("rule_not_met,PASS-ATELIER,student"), "{left}");
    assert!(
        left.contains("(a sheet's people have the tags given to adhoc: --tag T)"),
        "{left}"
    );
    assert!(!t.path().join("out/collegium-pass.csv").exists());
    let r = run(&["--tag", "sante"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file = std::fs::read_to_string(t.path().join("out/collegium-pass.csv")).unwrap();
    assert!(file.starts_with("username,course1,role1\n"), "{file}");
    assert!(file.contains(",PASS-ATELIER,student"), "{file}");
}

#[test]
fn a_sheet_that_is_not_enrolments_is_refused_with_file_and_row() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let c = cfg.to_str().unwrap();
    std::fs::write(
        t.path().join("bad.csv"),
        "\n# title\nNom;Prénom;course1\nDupont;Jean;X\n",
    )
    .unwrap();
    let r = adhoc_sheet(t.path(), c, "bad.csv", &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "bad.csv: row 3: no username or student number column (headers: Nom, Prénom, course1)"
        ),
        "{}",
        r.stderr
    );
    std::fs::write(t.path().join("bad.xlsx"), "not a workbook").unwrap();
    let r = adhoc_sheet(t.path(), c, "bad.xlsx", &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("bad.xlsx: cannot open the workbook"),
        "{}",
        r.stderr
    );
    assert!(!t.path().join("out").exists());
}

#[test]
fn adhoc_course_is_repeatable_into_one_file() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let c = cfg.to_str().unwrap();
    let r = cmd(t.path(), "adhoc", c)
        .args(&[
            "--platform",
            "ecampus",
            "--course",
            "PSY-L1-SOUTIEN",
            "--course",
            "PSY-L1-TUTORAT",
            "--role",
            "student",
            "--cohort",
            "psy-l1",
        ])
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file =
        std::fs::read_to_string(t.path().join("adhoc/ecampus-PSY-L1-SOUTIEN-and-1-more.csv"))
            .unwrap();
    assert!(
        file.starts_with("username;course1;role1\n21000001;PSY-L1-SOUTIEN;student\n21000001;PSY-L1-TUTORAT;student\n"),
        "{file}"
    );
}

#[test]
fn the_template_lists_each_platforms_roles_and_reads_back_empty() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let c = cfg.to_str().unwrap();
    // A platform's own label for a role, beside the standard ones.
    edit(
        &cfg,
        "    roles: [student, editingteacher, teacher, manager]\n",
        "    roles: [student, editingteacher, teacher, manager]\n    role_labels: { \"Tuteur (non éditeur)\": teacher }\n",
    );
    let r = enrolgen(t.path(), &["init", "-c", c, "--sheet", "demande.xlsx"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The role columns offer the labels in a drop-down.
    let xml = {
        let f = std::fs::File::open(t.path().join("demande.xlsx")).unwrap();
        let mut z = zip::ZipArchive::new(f).unwrap();
        let mut x = String::new();
        std::io::Read::read_to_string(&mut z.by_name("xl/worksheets/sheet1.xml").unwrap(), &mut x)
            .unwrap();
        x
    };
    assert!(
        xml.contains("<dataValidation type=\"list\" errorStyle=\"warning\""),
        "{xml}"
    );
    assert!(xml.contains("sqref=\"D3:D2001\""), "role1: {xml}");
    assert!(xml.contains("<formula1>'rôles'!$E$2:$E$"), "{xml}");
    let mut book = calamine::open_workbook_auto(t.path().join("demande.xlsx")).unwrap();
    let first = book.worksheet_range_at(0).unwrap().unwrap();
    let header: Vec<String> = first
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(&header[..4], ["username", "student_id", "course1", "role1"]);
    let roles = book.worksheet_range("rôles").unwrap();
    let lines: Vec<String> = roles
        .rows()
        .map(|r| {
            r.iter()
                .take(3)
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(";")
        })
        .collect();
    assert!(
        lines.contains(&"ecampus;teacher;Tuteur (non éditeur)".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"ecampus;editingteacher;Enseignant".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"collegium;student;Étudiant".to_string()),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("collegium;manager")),
        "{lines:?}"
    );
    // Untouched, it is a valid sheet with nobody in it.
    let r = adhoc_sheet(t.path(), c, "demande.xlsx", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("0 enrolment(s), no upload file"),
        "{}",
        r.stderr
    );
    let left = std::fs::read_to_string(t.path().join("out/ecampus-demande-left-out.csv")).unwrap();
    assert_eq!(left.lines().count(), 1, "{left}");
    // The platform's label, as a requester types it, is its role.
    std::fs::write(
        t.path().join("tuteur.csv"),
        "cod_etu;Cours 1;Rôle 1\n21000001;PSY-L1-SOUTIEN;tuteur (non editeur)\n",
    )
    .unwrap();
    let r = adhoc_sheet(t.path(), c, "tuteur.csv", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(t.path().join("out/ecampus-tuteur.csv")).unwrap(),
        "username;course1;role1\n21000001;PSY-L1-SOUTIEN;teacher\n"
    );
    // Never over an existing file.
    let r = enrolgen(t.path(), &["init", "-c", c, "--sheet", "demande.xlsx"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn a_long_sheet_is_split_by_max_rows_as_in_a_run() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let c = cfg.to_str().unwrap();
    // Ecampus writes at most 150 rows per file (long layout: a row per enrolment).
    let mut sheet = String::from("student_id;course;role\n");
    for i in 1..=151 {
        sheet.push_str(&format!("21000001;ATELIER-{i:03};student\n"));
    }
    std::fs::write(t.path().join("long.csv"), sheet).unwrap();
    let r = adhoc_sheet(t.path(), c, "long.csv", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first = std::fs::read_to_string(t.path().join("out/ecampus-long.csv")).unwrap();
    let second = std::fs::read_to_string(t.path().join("out/ecampus-long-002.csv")).unwrap();
    assert_eq!(first.lines().count(), 151);
    assert_eq!(
        second,
        "username;course1;role1\n21000001;ATELIER-151;student\n"
    );
    let import = std::fs::read_to_string(t.path().join("out/ecampus-long-IMPORT.txt")).unwrap();
    assert!(
        import.contains("ecampus-long.csv") && import.contains("ecampus-long-002.csv"),
        "{import}"
    );
}
