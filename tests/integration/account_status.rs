//! SUPANN account state as directories hold it (supannRessourceEtat and
//! supannRessourceEtatDate, with dates), read with the default configuration, from
//! LDIF and from slapd alike; closed accounts moved out of the base are not found.

use std::path::{Path, PathBuf};

use super::slapd::{Options, Slapd};
use super::util::*;

/// Student number → the state lines its entry gets instead of the demo's.
const STATES: [(&str, &[&str]); 8] = [
    (
        "21000001",
        &["supannRessourceEtatDate: {COMPTE}I:SupannInactif::"],
    ),
    (
        "21000004",
        &["supannRessourceEtatDate: {COMPTE}A:SupannActif::20271231"],
    ),
    ("21000007", &["supannRessourceEtat: {COMPTE}I"]),
    (
        "21000009",
        &[
            "supannRessourceEtat: {COMPTE}A",
            "supannRessourceEtatDate: {COMPTE}A:SupannActif::",
        ],
    ),
    (
        "21000010",
        &[
            "supannRessourceEtat: {COMPTE}A",
            "supannRessourceEtatDate: {COMPTE}I:SupannInactif::",
        ],
    ),
    (
        "21000011",
        &["supannRessourceEtatDate: {COMPTE}A:SupannActif:20250901:20261031"],
    ),
    (
        "21000012",
        &["supannRessourceEtatDate: {COMPTE}A:SupannActif:20261201:"],
    ),
    (
        "21000013",
        &["supannRessourceEtatDate: {COMPTE}A:SupannActif::2027"],
    ),
];

/// The demo's Caen directory with the states above, written beside the copied demo.
fn directory_with_states(demo: &Path) -> PathBuf {
    let ldif = std::fs::read_to_string(demo.join("unicaen.ldif")).unwrap();
    let entries: Vec<String> = ldif
        .split("\n\n")
        .map(|entry| {
            let Some((_, lines)) = STATES
                .iter()
                .find(|(id, _)| entry.contains(&format!("\nsupannEtuId: {id}\n")))
            else {
                return entry.to_string();
            };
            let mut out: Vec<&str> = entry
                .lines()
                .filter(|l| !l.starts_with("supannRessourceEtat"))
                .collect();
            out.extend(lines.iter());
            out.join("\n")
        })
        .collect();
    let p = demo.join("unicaen.ldif");
    std::fs::write(&p, entries.join("\n\n")).unwrap();
    p
}

fn ecampus_rows(out: &Path) -> String {
    let mut all = String::new();
    for e in std::fs::read_dir(out.join("ecampus")).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("ecampus")
        {
            all.push_str(&std::fs::read_to_string(p).unwrap());
        }
    }
    all
}

/// The reason and detail of the PSY-L1-METHODO left-out row of a student.
fn left_out(out: &Path, id: &str) -> Option<(String, String)> {
    let text = std::fs::read_to_string(out.join("ecampus/left-out.csv")).unwrap();
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(';').collect();
        (f[1] == "PSY-L1-METHODO" && f[4] == id).then(|| (f[0].to_string(), f[8].to_string()))
    })
}

fn assert_states(out: &Path, stderr: &str) {
    let rows = ecampus_rows(out);
    for id in ["21000004", "21000009"] {
        assert!(
            rows.contains(&format!("{id};PSY-L1-METHODO;student")),
            "{id} enrolled"
        );
        assert_eq!(left_out(out, id), None);
    }
    for id in [
        "21000001", "21000007", "21000010", "21000011", "21000012", "21000013",
    ] {
        assert!(!rows.contains(&format!("{id};")), "{id} not enrolled");
    }
    let dn = |id: &str| format!("uid=e{id},ou=people,dc=unicaen,dc=fr");
    let expect = [
        ("21000001", "account_inactive", format!("account {} is inactive (SupannInactif) in unicaen (supannRessourceEtatDate: {{COMPTE}}I:SupannInactif::)", dn("21000001"))),
        ("21000007", "account_inactive", format!("account {} is inactive in unicaen", dn("21000007"))),
        ("21000010", "account_inactive", format!("account {} is inactive (SupannInactif) in unicaen (supannRessourceEtatDate: {{COMPTE}}I:SupannInactif::) — supannRessourceEtat says active, supannRessourceEtatDate says inactive: the stricter wins", dn("21000010"))),
        ("21000011", "account_inactive", format!("account {} is inactive in unicaen: its state A (SupannActif) ended on 2026-10-31 (supannRessourceEtatDate)", dn("21000011"))),
        ("21000012", "account_too_recent", format!("account {} is not active yet in unicaen: state A (SupannActif) from 2026-12-01 (supannRessourceEtatDate): retried next run", dn("21000012"))),
        ("21000013", "invalid_value", format!("account {} in unicaen: supannRessourceEtatDate value '{{COMPTE}}A:SupannActif::2027' cannot be read: end date '2027' is not AAAAMMJJ", dn("21000013"))),
    ];
    for (id, reason, detail) in expect {
        assert_eq!(
            left_out(out, id),
            Some((reason.to_string(), detail)),
            "{id}"
        );
    }
    assert!(
        stderr.contains(&format!("warning: account {} in unicaen: supannRessourceEtatDate value '{{COMPTE}}A:SupannActif::2027' cannot be read", dn("21000013"))),
        "{stderr}"
    );
}

#[test]
fn account_states_with_dates_are_read_by_default_from_ldif() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    directory_with_states(&t.path().join("demo"));
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_states(&t.path().join("out"), &r.stderr);
}

#[test]
fn account_states_from_slapd_give_the_same_files_as_ldif() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let ldif = directory_with_states(&t.path().join("demo"));
    let r = run_config(t.path(), &cfg, "ldif-out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let Some(s) = Slapd::start(Options {
        unicaen_ldif: Some(ldif),
        ..Options::default()
    }) else {
        return;
    };
    use_ldap(&cfg, &s.url(), "");
    let r = run_config(t.path(), &cfg, "ldap-out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_states(&t.path().join("ldap-out"), &r.stderr);
    assert_same_files(
        &outputs(&t.path().join("ldif-out")),
        &outputs(&t.path().join("ldap-out")),
    );
}

#[test]
fn an_account_moved_out_of_the_base_is_not_found() {
    // Caen closes accounts by moving them to ou=deactivated: the base serves.
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let demo = t.path().join("demo");
    let ldif = std::fs::read_to_string(demo.join("unicaen.ldif")).unwrap();
    let moved = "uid=e21000014,ou=people,dc=unicaen,dc=fr";
    assert!(ldif.contains(&format!("dn: {moved}\n")));
    let ldif = ldif.replace(
        &format!("dn: {moved}\n"),
        "dn: uid=e21000014,ou=deactivated,dc=unicaen,dc=fr\n",
    ) + "\ndn: ou=deactivated,dc=unicaen,dc=fr\nobjectClass: organizationalUnit\nou: deactivated\n";
    // slapadd wants a parent before its children: put the new branch first.
    let (head, rest) = ldif.split_once("\n\ndn: uid=").unwrap();
    let (body, branch) = rest.rsplit_once("\ndn: ou=deactivated").unwrap();
    let ldif = format!("{head}\n\ndn: ou=deactivated{branch}\ndn: uid={body}");
    std::fs::write(demo.join("unicaen.ldif"), &ldif).unwrap();
    // A whole-directory LDIF export holds the closed branch: without a base the
    // account is found there.
    let r = run_config(t.path(), &cfg, "ldif-all");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(ecampus_rows(&t.path().join("ldif-all")).contains("21000014;PSY-L1-METHODO"));
    edit(
        &cfg,
        "    ldif: unicaen.ldif\n",
        "    ldif: unicaen.ldif\n    base: \"ou=People, dc=unicaen,dc=fr\"\n",
    );
    let r = run_config(t.path(), &cfg, "ldif-out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let Some(s) = Slapd::start(Options {
        unicaen_ldif: Some(demo.join("unicaen.ldif")),
        ..Options::default()
    }) else {
        return;
    };
    edit(&cfg, "    base: \"ou=People, dc=unicaen,dc=fr\"\n", "");
    use_ldap(&cfg, &s.url(), "");
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    for out in ["out", "ldif-out"] {
        let out = t.path().join(out);
        assert!(!ecampus_rows(&out).contains("21000014;"));
        assert_eq!(
            left_out(&out, "21000014"),
            Some((
                "no_account".to_string(),
                "no account with student number 21000014 in unicaen".to_string()
            ))
        );
    }
    assert_same_files(
        &outputs(&t.path().join("ldif-out")),
        &outputs(&t.path().join("out")),
    );
}

#[test]
fn explain_shows_the_state_its_dates_and_its_attribute() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    directory_with_states(&t.path().join("demo"));
    let r = cmd(t.path(), "explain", cfg.to_str().unwrap())
        .args(&["21000011"])
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(
            "Account uid=e21000011,ou=people,dc=unicaen,dc=fr (unicaen, username 21000011):\n  \
             supannRessourceEtatDate: {COMPTE}A:SupannActif:20250901:20261031 — active (SupannActif), from 2025-09-01 until 2026-10-31\n  \
             on 2026-11-24: not usable: account uid=e21000011,ou=people,dc=unicaen,dc=fr is inactive in unicaen: its state A (SupannActif) ended on 2026-10-31 (supannRessourceEtatDate)\n"
        ),
        "{}",
        r.stdout
    );
}
