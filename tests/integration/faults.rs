//! Faults of the machine around a run: permissions and links in the output tree, a
//! file-size limit, a read-only folder, a run killed at any moment. Each checks the
//! exit code, the message, and that the previous outputs are byte-identical.
//!
//! How these tests were checked to fail without the protection they guard: the mode
//! test with the fchmod in `atomic::Prepared::add` removed (files came out 0600/0666
//! by umask); the link test with `atomic::safe_dir` reduced to `create_dir_all`
//! (the run wrote into the link's target); the size-limit test without the SIGXFSZ
//! line in main.rs (killed by the signal, no exit 4, temporary files left); the kill
//! test without `remove_stale_temporaries` (temporary files stayed); the full-disk
//! test with each file renamed as soon as written (some platforms' files changed).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use super::util::*;

/// Temporary files in the output tree, by path; reads names only (cheap enough to poll).
fn temporaries(out: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs = vec![(out.to_path_buf(), 0)];
    while let Some((d, depth)) = dirs.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".enrolgen-") && name.ends_with(".tmp") {
                found.push(e.path().display().to_string());
            } else if depth < 2 && e.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push((e.path(), depth + 1));
            }
        }
    }
    found
}

fn read_tree_names(dir: &Path) -> Vec<String> {
    read_tree(dir).into_keys().collect()
}

/// Runs `enrolgen ARGS` through `sh -c` with `prelude` (umask, ulimit) first.
fn sh_run(cwd: &Path, prelude: &str, args: &[&str]) -> Out {
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{prelude}; exec '{}' {}",
            env!("CARGO_BIN_EXE_enrolgen"),
            quoted.join(" ")
        ))
        .current_dir(cwd)
        .env_remove("ENROLGEN_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn modes(out: &Path) -> BTreeMap<String, u32> {
    read_tree_names(out)
        .into_iter()
        .map(|n| {
            let m = std::fs::metadata(out.join(&n))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            (n, m)
        })
        .collect()
}

#[test]
fn files_are_0640_whatever_the_umask() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let c = cfg.to_str().unwrap();
    for (umask, out) in [("000", "open"), ("077", "closed")] {
        let r = sh_run(t.path(), &format!("umask {umask}"), &run_argv(c, out, &[]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let r = sh_run(
            t.path(),
            &format!("umask {umask}"),
            &run_argv(c, out, &["--delta", "--platform", "prelude"]),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let m = modes(&t.path().join(out));
        for f in [
            "ecampus/ecampus.csv",
            "ecampus/left-out.csv",
            "ecampus/IMPORT.txt",
            "summary.json",
            "report.html",
            "prelude/state.json",
            "prelude/outbox/prelude-0001.csv",
        ] {
            assert_eq!(m.get(f), Some(&0o640), "{f} with umask {umask}: {m:?}");
        }
        assert!(m.values().all(|v| *v == 0o640), "{m:?}");
    }
    // As configured.
    let text = std::fs::read_to_string(&cfg).unwrap() + "file_mode: \"0600\"\n";
    std::fs::write(&cfg, text).unwrap();
    let r = sh_run(t.path(), "umask 000", &run_argv(c, "private", &[]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m = modes(&t.path().join("private"));
    assert_eq!(m.get("ecampus/ecampus.csv"), Some(&0o600), "{m:?}");
}

#[test]
fn a_link_planted_in_the_output_tree_is_not_followed() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = t.path().join("out");
    let elsewhere = t.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    // A file link: the rename replaces the link; its target is untouched.
    let victim = t.path().join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    std::fs::remove_file(out.join("prelude/left-out.csv")).unwrap();
    std::os::unix::fs::symlink(&victim, out.join("prelude/left-out.csv")).unwrap();
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert!(!std::fs::symlink_metadata(out.join("prelude/left-out.csv"))
        .unwrap()
        .file_type()
        .is_symlink());
    // A folder link: refused, nothing written anywhere.
    let before = read_tree(&out);
    std::fs::rename(out.join("ecampus"), t.path().join("ecampus-moved")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out.join("ecampus")).unwrap();
    let before_links = read_tree(&out);
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "a symbolic link: enrolgen does not write through links below the output directory"
        ),
        "{}",
        r.stderr
    );
    assert!(
        std::fs::read_dir(&elsewhere).unwrap().next().is_none(),
        "nothing written through the link"
    );
    assert_eq!(read_tree(&out), before_links);
    // A link as the lock file: refused.
    std::fs::remove_file(out.join("ecampus")).unwrap();
    std::fs::rename(t.path().join("ecampus-moved"), out.join("ecampus")).unwrap();
    std::fs::remove_file(out.join(".enrolgen.lock")).unwrap();
    std::os::unix::fs::symlink(&victim, out.join(".enrolgen.lock")).unwrap();
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains(".enrolgen.lock"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert_eq!(read_tree(&out), before);
}

#[test]
fn a_file_size_limit_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let r = run_config(t.path(), &cfg, "out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = t.path().join("out");
    let before = read_tree(&out);
    // A later date changes the files; the limit (a few KiB) stops the run mid-write.
    let r = sh_run(
        t.path(),
        "ulimit -f 4",
        &[
            "run",
            "-c",
            cfg.to_str().unwrap(),
            "--out",
            "out",
            "--as-of",
            "2026-12-24",
        ],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot write") && r.stderr.contains("File too large"),
        "{}",
        r.stderr
    );
    assert_eq!(read_tree(&out), before, "previous files unchanged");
    assert_eq!(temporaries(&out), Vec::<String>::new());
}

/// Root ignores folder permissions: the read-only test then runs as nobody.
fn as_nobody() -> Option<Vec<String>> {
    if unsafe_geteuid() != 0 {
        return Some(Vec::new());
    }
    Some(vec![
        "setpriv".into(),
        "--reuid=65534".into(),
        "--regid=65534".into(),
        "--clear-groups".into(),
    ])
}

fn unsafe_geteuid() -> u32 {
    // `id -u` rather than libc: tests stay free of unsafe code.
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

#[test]
fn a_read_only_output_folder_changes_nothing() {
    let Some(prefix) = as_nobody() else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    // A copy of the binary beside the data: the build folder may be closed to nobody.
    let bin = t.path().join("enrolgen");
    std::fs::copy(env!("CARGO_BIN_EXE_enrolgen"), &bin).unwrap();
    let run = |as_of: &str| {
        let mut cmd: Vec<String> = prefix.clone();
        cmd.extend([
            bin.display().to_string(),
            "run".into(),
            "-c".into(),
            cfg.display().to_string(),
            "--out".into(),
            "out".into(),
            "--as-of".into(),
            as_of.into(),
        ]);
        let o = Command::new(&cmd[0])
            .args(&cmd[1..])
            .current_dir(t.path())
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    if !prefix.is_empty() {
        let ok = Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(t.path())
            .status()
            .unwrap();
        assert!(ok.success());
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let (code, err) = run(AS_OF);
    assert_eq!(code, 0, "{err}");
    let out = t.path().join("out");
    let before = read_tree(&out);
    std::fs::set_permissions(
        out.join("collegium"),
        std::fs::Permissions::from_mode(0o555),
    )
    .unwrap();
    let (code, err) = run("2026-12-24");
    std::fs::set_permissions(
        out.join("collegium"),
        std::fs::Permissions::from_mode(0o750),
    )
    .unwrap();
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("cannot write")
            && err.contains("collegium")
            && err.contains("Permission denied"),
        "{err}"
    );
    assert_eq!(read_tree(&out), before, "no platform changed");
    assert_eq!(temporaries(&out), Vec::<String>::new());
}

/// A university large enough for a run to take a while: 20,000 students in 100
/// cohorts, their accounts in LDIF.
fn large(dir: &Path) -> std::path::PathBuf {
    use std::fmt::Write as _;
    let mut sql = String::from(
        "CREATE TABLE INDIVIDU (COD_IND NUMBER(8) PRIMARY KEY, COD_ETU NUMBER, LIB_NOM_PAT_IND VARCHAR2(30), LIB_NOM_USU_IND VARCHAR2(30), LIB_PR1_IND VARCHAR2(20));\n\
         CREATE TABLE INS_ADM_ETP (COD_ANU VARCHAR2(4), COD_IND NUMBER(8), COD_ETP VARCHAR2(6), COD_VRS_VET NUMBER(3), NUM_OCC_IAE NUMBER(2), ETA_IAE VARCHAR2(1), ETA_PMT_IAE VARCHAR2(1), PRIMARY KEY (COD_ANU, COD_IND, COD_ETP, COD_VRS_VET, NUM_OCC_IAE));\n",
    );
    let mut ldif = String::new();
    for i in 0..20_000 {
        let (ind, etu) = (1_000_000 + i, 30_000_000 + i);
        let _ = writeln!(
            sql,
            "INSERT INTO INDIVIDU VALUES ({ind}, {etu}, 'NOM{i}', NULL, 'Prénom');"
        );
        let _ = writeln!(
            sql,
            "INSERT INTO INS_ADM_ETP VALUES ('2026', {ind}, 'E{:05}', 1, 1, 'E', 'P');",
            i % 100
        );
        let _ = write!(ldif, "dn: uid=e{etu},ou=people,dc=example,dc=fr\nuid: e{etu}\nsupannAliasLogin: e{etu}\nsupannEtuId: {etu}\nsupannRessourceEtat: {{COMPTE}}A\ncreateTimestamp: 20250901080000Z\n\n");
    }
    std::fs::write(dir.join("apogee.sql"), sql).unwrap();
    std::fs::write(dir.join("people.ldif"), ldif).unwrap();
    let mut cfg = String::from("version: 1\nyear: 2026\napogee: { sqlite: apogee.sql }\ndirectories:\n  u: { ldif: people.ldif }\nplatforms:\n  p: { accounts: [u], csv: { delimiter: \";\", max_rows: 2000 } }\n  q: { accounts: [u], csv: { delimiter: \",\", layout: wide } }\ncohorts:\n");
    for c in 0..100 {
        let _ = writeln!(
            cfg,
            "  c{c}: {{ apogee: {{ etape: E{c:05}, version: 1 }} }}"
        );
    }
    cfg.push_str("enrol:\n");
    for c in 0..100 {
        let _ = writeln!(cfg, "  - {{ cohort: c{c}, platform: p, course: [C{c}-A, C{c}-B], role: student, enrolperiod: 300 }}");
        let _ = writeln!(
            cfg,
            "  - {{ cohort: c{c}, platform: q, course: Q{c}, role: student }}"
        );
    }
    let p = dir.join("enrolgen.yaml");
    std::fs::write(&p, cfg).unwrap();
    p
}

#[test]
#[ignore = "slow (10 s): scripts/test.sh runs the slow_ tests"]
fn slow_a_run_killed_at_any_moment_leaves_whole_files_and_the_next_run_recovers() {
    let t = tempfile::tempdir().unwrap();
    let cfg = large(t.path());
    let c = cfg.to_str().unwrap();
    let started = Instant::now();
    let r = enrolgen(t.path(), &run_argv(c, "ref", &[]));
    let full = started.elapsed();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let reference = outputs(&t.path().join("ref"));
    let out = t.path().join("out");
    // SIGKILL while the sources are read (a quarter, half of a run), and while the
    // files are written: as soon as 1, 5, 12 and 20 temporary files are seen.
    let mut killed_while_writing = 0;
    let points: [(Option<f64>, usize); 6] = [
        (Some(0.25), 0),
        (Some(0.5), 0),
        (None, 1),
        (None, 5),
        (None, 12),
        (None, 20),
    ];
    // On a fast disk the writes take little time: a few more tries at the first
    // temporary file, only if no kill landed while writing.
    let retries = std::iter::repeat_n(((None, 1), true), 5);
    for ((fraction, temps), retry) in points.into_iter().map(|p| (p, false)).chain(retries) {
        if retry && killed_while_writing > 0 {
            break;
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_enrolgen"))
            .args(run_argv(c, "out", &["-q"]))
            .current_dir(t.path())
            .spawn()
            .unwrap();
        match fraction {
            Some(f) => std::thread::sleep(full.mul_f64(f)),
            None => {
                let deadline = Instant::now() + full * 4;
                while temporaries(&out).len() < temps && Instant::now() < deadline {
                    if child.try_wait().unwrap().is_some() {
                        break;
                    }
                }
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        if !temporaries(&out).is_empty() {
            killed_while_writing += 1;
        }
        // Every file in place is whole: the reference's, byte for byte.
        for (name, bytes) in outputs(&out) {
            if name
                .rsplit('/')
                .next()
                .is_some_and(|f| f.starts_with(".enrolgen-"))
            {
                continue; // the killed run's temporary files, removed by the next run
            }
            assert_eq!(Some(&bytes), reference.get(&name), "{name} after a kill");
        }
    }
    assert!(
        killed_while_writing > 0,
        "no kill landed while files were written"
    );
    // The next run is not blocked by the dead run's lock, and cleans up after it.
    let r = enrolgen(t.path(), &run_argv(c, "out", &[]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(temporaries(&out), Vec::<String>::new());
    assert_eq!(outputs(&out), reference);
}

/// The test of each row of docs/troubleshooting.md's fault table, by its first cell
/// (the user docs name no tests).
const FAULT_TESTS: &[(&str, &str)] = &[
    (
        "the directory server is down before the run",
        "ldap::server_stopped_before_the_run_changes_nothing",
    ),
    (
        "the connection is lost in the middle of a paged search",
        "ldap::connection_lost_during_a_search_changes_nothing",
    ),
    (
        "slapd is killed during a search",
        "ldap::slapd_killed_during_a_search_changes_nothing",
    ),
    (
        r#"the server answers "size limit exceeded" (code 4)"#,
        "ldap::size_limit_is_an_error_not_the_end_of_the_data",
    ),
    (
        "the bind is refused",
        "ldap::wrong_password_names_the_server_and_hides_the_password",
    ),
    (
        "TLS with a certificate the CA file (or the system) does not trust",
        "ldap::ldaps_with_the_test_ca_works_and_a_wrong_ca_fails",
    ),
    (
        "an input file is missing",
        "run::failed_run_leaves_previous_output_intact",
    ),
    (
        "the Oracle client cannot be loaded",
        "sql::missing_oracle_client_is_explained",
    ),
    (
        "a `--delta` run would suspend too much of a course (or of the platform)",
        "delta::delta_holds_back_the_suspensions_of_an_emptied_course",
    ),
    (
        "one platform's folder cannot be written",
        "run::output_error_changes_no_platform",
    ),
    (
        "the disk fills up during the write",
        "faults::a_full_filesystem_changes_nothing",
    ),
    (
        "a file-size limit (RLIMIT_FSIZE) is reached",
        "faults::a_file_size_limit_changes_nothing",
    ),
    (
        "an output folder is read-only",
        "faults::a_read_only_output_folder_changes_nothing",
    ),
    (
        "a symbolic link is planted below `--out`",
        "faults::a_link_planted_in_the_output_tree_is_not_followed",
    ),
    (
        "the run is killed (SIGKILL) at any moment",
        "faults::slow_a_run_killed_at_any_moment_leaves_whole_files_and_the_next_run_recovers",
    ),
    (
        "another run holds the lock",
        "lock::a_held_lock_refuses_a_second_run_and_changes_nothing",
    ),
    (
        "`state.json` is corrupt, truncated or empty",
        "delta::a_corrupt_or_truncated_state_is_refused_and_changes_nothing",
    ),
    (
        "`state.json` comes from another platform",
        "delta::a_state_from_another_platform_is_refused",
    ),
    (
        "an outbox file was deleted or edited by hand",
        "delta::an_outbox_file_deleted_or_edited_by_hand_is_refused_until_recovered",
    ),
    (
        "the configuration is malformed",
        "config_errors::unknown_key_names_line_and_key",
    ),
    (
        "a key is given twice in a mapping (at any depth)",
        "never_silent::a_key_given_twice_in_a_mapping_is_refused_with_both_lines",
    ),
    (
        "`file_mode` grants others any access",
        "never_silent::a_file_mode_open_to_others_is_refused",
    ),
    (
        "two accounts claim one student number (or one account has two, or two logins; or two directories of a platform know the student)",
        "never_silent::two_accounts_claiming_one_student_number_enrol_nobody",
    ),
    (
        "a directory (or an account list, a student file) returns nothing",
        "never_silent::an_empty_directory_stops_the_run_and_changes_nothing",
    ),
    (
        "an LDIF export is cut short",
        "never_silent::an_ldif_cut_short_stops_the_run_and_changes_nothing",
    ),
    (
        "a source returns far fewer records than in the previous run (`max_shrink`, default 30%)",
        "never_silent::a_source_that_falls_far_below_the_previous_run_stops_it",
    ),
    (
        "the SQL dump does more than create tables and insert rows (`ATTACH`, `PRAGMA`, triggers …)",
        "never_silent::a_dump_that_attaches_a_file_is_refused_and_writes_nothing",
    ),
    (
        "`state.json` is missing or empty beside files already written",
        "never_silent::a_delta_run_refuses_a_missing_or_empty_state_beside_written_files",
    ),
    (
        "a file in `outbox/` that the state does not know",
        "never_silent::a_stray_file_in_the_outbox_is_refused",
    ),
    (
        "`--delta --as-of` earlier than the last delta run",
        "never_silent::an_as_of_before_the_last_delta_run_is_refused_unless_meant",
    ),
    (
        "a group name PHP reads as a number (`+7`, `1e3`, `.5` …)",
        "never_silent::group_names_php_reads_as_numbers_are_left_out",
    ),
    (
        "an account state cannot be read",
        "account_status::account_states_with_dates_are_read_by_default_from_ldif",
    ),
    (
        "one login carried by two accounts (in one directory, or in two directories of a platform), whoever else they are",
        "never_silent::one_login_for_two_people_enrols_neither",
    ),
    (
        "one DN twice in an LDIF export with other values (two exports put together)",
        "never_silent::one_dn_twice_in_an_ldif_with_other_values_is_refused",
    ),
    (
        "one username twice in an account list (or a `suspended` value other than 0 or 1)",
        "never_silent::one_username_twice_in_an_account_list_is_refused",
    ),
    (
        "the configuration has what one YAML reader reads and the other cannot (a tab after a colon, U+0085, U+2028, U+2029), so keys given twice could hide",
        "never_silent::a_config_whose_keys_cannot_all_be_checked_is_refused",
    ),
    (
        "`state.json` is older than a file in `outbox/` or `imported/` (put back from a backup)",
        "never_silent::a_state_older_than_its_files_is_refused",
    ),
    (
        "`--accept-suspensions` names a course that neither the mapping nor this run's suspensions (held back or sent) know (names are case-sensitive)",
        "never_silent::accepting_a_course_no_run_knows_says_so_with_the_name_meant",
    ),
    (
        "Moodle refuses an operation (`deliver: webservice`)",
        "webservice::a_refused_row_is_found_and_reported_the_rest_goes_through",
    ),
    (
        "Moodle goes away in the middle of a run (`deliver: webservice`)",
        "webservice::a_server_that_goes_away_stops_the_run_with_what_was_left_journaled",
    ),
    (
        "the answer to a write never comes (a run killed while waiting)",
        "webservice::a_run_killed_while_waiting_is_finished_by_the_next_one",
    ),
    (
        "the server goes away before a write reaches Moodle (new dates, suspensions)",
        "webservice::writes_moodle_never_applied_are_sent_again_not_adopted",
    ),
    (
        "the token's role lacks a capability a read needs (`deliver: webservice`, for example `moodle/course:managegroups`)",
        "webservice::a_missing_capability_is_named_and_the_other_platforms_are_done",
    ),
    (
        "a `--delta` night killed while its files are put in place",
        "delta::a_night_killed_at_any_step_of_its_writes_is_completed_or_undone",
    ),
    (
        "an account of `accounts_in: moodle` suspended or deleted in Moodle after an earlier night",
        "platform_accounts::verify_expects_what_run_did_and_lists_other_enrolments_apart",
    ),
];

/// The fault table of docs/troubleshooting.md cannot drift from the tests: every row
/// has a test (`FAULT_TESTS`) that exists and asserts the exit code the row gives, and
/// every test listed has its row.
#[test]
fn readme_fault_table_names_real_tests() {
    let readme = std::fs::read_to_string(repo().join("docs/troubleshooting.md")).unwrap();
    let start = readme.find("<!-- faults:start -->").expect("table start");
    let end = readme.find("<!-- faults:end -->").expect("table end");
    let rows: Vec<&str> = readme[start..end]
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| when"))
        .collect();
    assert!(rows.len() >= 15, "{rows:?}");
    let whens: Vec<&str> = rows
        .iter()
        .map(|r| r.trim_matches('|').split(" | ").next().unwrap().trim())
        .collect();
    for (when, _) in FAULT_TESTS {
        assert!(whens.contains(when), "no row for {when}");
    }
    for row in rows {
        let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
        assert_eq!(cells.len(), 4, "{row}");
        let exit: i32 = cells[2]
            .parse()
            .unwrap_or_else(|_| panic!("exit code in {row}"));
        let test = FAULT_TESTS
            .iter()
            .find(|(when, _)| *when == cells[0])
            .unwrap_or_else(|| panic!("no test for the row {row}"))
            .1;
        let (file, name) = test.split_once("::").expect("file::test");
        let source = std::fs::read_to_string(repo().join(format!("tests/integration/{file}.rs")))
            .unwrap_or_else(|_| panic!("no tests/integration/{file}.rs for {row}"));
        let at = source
            .find(&format!("fn {name}()"))
            .unwrap_or_else(|| panic!("no test {file}::{name}"));
        assert!(
            source[..at].trim_end().ends_with("]"),
            "{name} is not a #[test]"
        );
        let body_end = source[at..].find("\n}\n").map_or(source.len(), |e| at + e);
        let body = &source[at..body_end];
        let asserts = [
            format!("code, {exit}"),
            format!("Some({exit})"),
            format!(",\n        {exit},\n"),
            format!(", {exit}, &["),
        ];
        assert!(
            asserts.iter().any(|a| body.contains(a.as_str())),
            "{file}::{name} does not assert exit {exit}"
        );
    }
}

#[test]
fn no_name_in_the_configuration_or_the_command_writes_outside_out() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    // A course shortname with '..' and '/' (valid in Moodle) in an adhoc file name.
    let r = adhoc_psy(t.path(), &cfg, "../../x/evil", "o/adhoc", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let names = read_tree_names(&t.path().join("o"));
    assert_eq!(
        names,
        [
            "adhoc/ecampus-_._.._x_evil-IMPORT.txt",
            "adhoc/ecampus-_._.._x_evil-left-out.csv",
            "adhoc/ecampus-_._.._x_evil-report.html",
            "adhoc/ecampus-_._.._x_evil.csv"
        ]
    );
    assert!(!t.path().join("x").exists() && !t.path().join("evil").exists());
    // A platform named to climb out: a configuration error, nothing written.
    for bad in ["../escape", "a/b", "\"a\\u0000b\""] {
        let text = std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("  prelude:\n", &format!("  {bad}:\n"))
            .replace("platform: prelude,", &format!("platform: {bad},"));
        let p = t.path().join("demo/bad.yaml");
        std::fs::write(&p, text).unwrap();
        let r = enrolgen(t.path(), &run_argv(p.to_str().unwrap(), "o2", &[]));
        assert_eq!(r.code, 2, "{bad}: {}", r.stderr);
        assert!(
            r.stderr
                .contains("a platform name is also a folder and file name"),
            "{}",
            r.stderr
        );
        assert!(!t.path().join("o2").exists() && !t.path().join("escape").exists());
    }
}

/// A small tmpfs mounted for a test, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// `None` where mounting is not allowed (not root, or a sandbox that forbids it).
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(at)
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Fills the filesystem of `dir`, leaving `free` bytes: room for the lock and a few
/// files of a run, not for all of them.
fn fill(dir: &Path, free: u64) {
    use std::io::Write;
    let mut f = std::fs::File::create(dir.join("filler")).unwrap();
    let block = vec![0u8; 4096];
    while f.write_all(&block).is_ok() {}
    let len = f.metadata().unwrap().len();
    f.set_len(len.saturating_sub(free)).unwrap();
}

#[test]
fn a_full_filesystem_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let Some(fs) = Tmpfs::mount(&t.path().join("fs"), "1m") else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root); the file-size-limit test covers the same path");
        return;
    };
    let c = cfg.to_str().unwrap();
    let out = fs.0.join("out");
    let o = out.to_str().unwrap();
    for extra in [&[][..], &["--delta"][..]] {
        let mut args = run_argv(c, o, &[]);
        args.extend_from_slice(extra);
        let r = enrolgen(t.path(), &args);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let before = read_tree(&out);
    fill(&fs.0, 24 * 1024);
    // A later date changes every platform's files; a delta run would add to the outbox.
    for extra in [&[][..], &["--delta"][..]] {
        let mut args = vec!["run", "-c", c, "--out", o, "--as-of", "2026-12-24"];
        args.extend_from_slice(extra);
        let r = enrolgen(t.path(), &args);
        assert_eq!(r.code, 4, "{extra:?}: {}", r.stderr);
        assert!(r.stderr.contains("No space left on device"), "{}", r.stderr);
        assert_eq!(
            read_tree(&out),
            before,
            "{extra:?}: previous files unchanged"
        );
        assert_eq!(temporaries(&out), Vec::<String>::new());
    }
    // Space again: the next run goes through.
    std::fs::remove_file(fs.0.join("filler")).unwrap();
    let r = enrolgen(
        t.path(),
        &["run", "-c", c, "--out", o, "--as-of", "2026-12-24"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}
