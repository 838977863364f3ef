//! The sheet a requester fills in for `adhoc --sheet`: the procedure's columns, a
//! notes row (a comment: its first cell starts with `#`), identity columns stored as
//! text so that a student number keeps its digits, the role columns with a
//! drop-down of the roles' labels, and a second sheet listing the roles each
//! platform accepts with the label a requester may write instead.

use rust_xlsxwriter::{
    DataValidation, DataValidationErrorStyle, Format, Formula, Workbook, XlsxError,
};

use crate::output::OutputError;

/// Rows of the template that get the role drop-down.
const ROWS: u32 = 2000;

/// The columns, and the note under each (French: the template is for schooling
/// offices). Two enrolments per row; a requester may add course3, role3 …
const COLUMNS: [(&str, &str); 14] = [
    (
        "username",
        "# Identifiant (login), ou laisser vide et donner le numéro étudiant",
    ),
    (
        "student_id",
        "Numéro étudiant (ou laisser vide et donner l'identifiant)",
    ),
    (
        "course1",
        "Nom abrégé du cours, exact (majuscules comprises)",
    ),
    (
        "role1",
        "Rôle : choisir dans la liste (onglet rôles), ex. Étudiant",
    ),
    ("group1", "Groupe (facultatif) ; créé s'il n'existe pas"),
    ("enrolperiod1", "Durée en jours (facultatif)"),
    ("enrolstatus1", "0 actif, 1 suspendu (facultatif)"),
    ("enroltimestart1", "Début (facultatif), date ex. 01/09/2026"),
    (
        "course2",
        "Deuxième cours (facultatif) ; course3, role3 … peuvent suivre",
    ),
    ("role2", "Rôle dans le deuxième cours"),
    ("group2", "Groupe (facultatif)"),
    ("enrolperiod2", "Durée en jours (facultatif)"),
    ("enrolstatus2", "0 actif, 1 suspendu (facultatif)"),
    ("enroltimestart2", "Début (facultatif)"),
];

/// The template as `.xlsx` bytes. `platforms`: each platform's name and its roles,
/// shortname and label.
pub fn render(platforms: &[(String, Vec<(String, String)>)]) -> Result<Vec<u8>, OutputError> {
    build(platforms).map_err(|e| OutputError::Encode {
        what: "the sheet template".into(),
        message: e.to_string(),
    })
}

fn build(platforms: &[(String, Vec<(String, String)>)]) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let note = Format::new()
        .set_italic()
        .set_text_wrap()
        .set_font_color("#555555");
    let text = Format::new().set_num_format("@");
    let sheet = book.add_worksheet();
    sheet.set_name("inscriptions")?;
    for (col, (name, help)) in (0u16..).zip(COLUMNS) {
        sheet.write_string_with_format(0, col, name, &bold)?;
        sheet.write_string_with_format(1, col, help, &note)?;
        sheet.set_column_width(col, if col < 2 { 16 } else { 18 })?;
        // Identities, courses, roles and groups are text: a student number typed
        // there keeps its digits, a group "1" stays "1".
        if !name.starts_with("enrol") {
            sheet.set_column_format(col, &text)?;
        }
    }
    sheet.set_freeze_panes(2, 0)?;
    // The labels once each, in the order met: the drop-down's list.
    let mut choices: Vec<&str> = Vec::new();
    for (_, roles) in platforms {
        for (_, label) in roles {
            if !choices.contains(&label.as_str()) {
                choices.push(label);
            }
        }
    }
    let list = format!("='rôles'!$E$2:$E${}", choices.len() + 1);
    // A role outside the list (a shortname, a role the template does not list)
    // is still accepted after a warning: adhoc says whether the platform has it.
    let drop_down = DataValidation::new()
        .allow_list_formula(Formula::new(list))
        .set_error_style(DataValidationErrorStyle::Warning);
    for (col, (name, _)) in (0u16..).zip(COLUMNS) {
        if name.starts_with("role") {
            sheet.add_data_validation(2, col, ROWS, col, &drop_down)?;
        }
    }
    let roles = book.add_worksheet();
    roles.set_name("rôles")?;
    for (col, h) in (0u16..).zip(["platform", "role", "libellé", "", "liste"]) {
        roles.write_string_with_format(0, col, h, &bold)?;
        roles.set_column_width(col, 22)?;
    }
    let mut row = 1;
    for (platform, names) in platforms {
        for (r, label) in names {
            roles.write_string(row, 0, platform)?;
            roles.write_string(row, 1, r)?;
            roles.write_string(row, 2, label)?;
            row += 1;
        }
    }
    for (row, label) in (1u32..).zip(choices) {
        roles.write_string(row, 4, label)?;
    }
    book.save_to_buffer()
}
