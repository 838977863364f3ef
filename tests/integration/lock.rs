//! The lock on an output folder: one run at a time, and never a damaged file.

use std::process::Command;

use super::util::*;

#[test]
fn a_held_lock_refuses_a_second_run_and_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    let args = run_args(&cfg, "out");
    assert_eq!(enrolgen(t.path(), &args).code, 0);
    let before = read_tree(&t.path().join("out"));
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(t.path().join("out/.enrolgen.lock"))
        .unwrap();
    lock.lock().unwrap();
    let r = enrolgen(t.path(), &args);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("another enrolgen run holds the lock"),
        "{}",
        r.stderr
    );
    assert_same_files(&read_tree(&t.path().join("out")), &before);
    drop(lock);
    assert_eq!(enrolgen(t.path(), &args).code, 0);
}

#[test]
fn concurrent_runs_never_corrupt_the_output() {
    let t = tempfile::tempdir().unwrap();
    let cfg = copy_demo(t.path());
    assert_eq!(run_config(t.path(), &cfg, "ref").code, 0);
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_enrolgen"))
            .args([
                "run",
                "-c",
                cfg.to_str().unwrap(),
                "--out",
                "out",
                "--as-of",
                AS_OF,
            ])
            .current_dir(t.path())
            .output()
            .unwrap()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = s.spawn(spawn);
        (a.join().unwrap(), b.join().unwrap())
    });
    let codes = [a.status.code().unwrap(), b.status.code().unwrap()];
    assert!(
        codes.contains(&0) && codes.iter().all(|c| *c == 0 || *c == 4),
        "{codes:?}"
    );
    assert_same_files(
        &outputs(&t.path().join("out")),
        &outputs(&t.path().join("ref")),
    );
}
