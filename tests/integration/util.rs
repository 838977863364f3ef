//! Test support: run the real binary in a scratch directory and read what it wrote.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs enrolgen with `args` in `cwd`.
pub fn enrolgen(cwd: &Path, args: &[&str]) -> Out {
    enrolgen_env(cwd, args, &[])
}

/// `enrolgen` with these environment variables.
pub fn enrolgen_env(cwd: &Path, args: &[&str], env: &[(&str, &Path)]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_enrolgen"))
        .args(args)
        .current_dir(cwd)
        .env_remove("ENROLGEN_CONFIG")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .output()
        .expect("run enrolgen");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Copies the demo (config and data) into `dir/demo`; returns the config path.
pub fn copy_demo(dir: &Path) -> PathBuf {
    let dst = dir.join("demo");
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(repo().join("examples/demo")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
    dst.join("enrolgen.yaml")
}

/// Every file under `dir`, by relative path, but the lock and what every run
/// records for monitoring, failed ones included (last-run.json, enrolgen.prom:
/// tests/integration/status.rs checks those).
pub fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            let monitoring = p.parent() == Some(root)
                && p.file_name()
                    .is_some_and(|n| n == "last-run.json" || n == "enrolgen.prom");
            if p.extension().is_some_and(|e| e == "lock") || monitoring {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// The upload files and reports a run wrote (not the summary and the HTML report,
/// whose timings vary, nor the lock file).
pub fn outputs(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    read_tree(dir)
        .into_iter()
        .filter(|(k, _)| {
            k != "summary.json" && !k.ends_with("report.html") && !k.ends_with(".lock")
        })
        .collect()
}

/// Compares `actual` with committed expected files; `ENROLGEN_BLESS=1` rewrites them.
pub fn assert_matches_expected(actual: &BTreeMap<String, Vec<u8>>, expected_dir: &Path) {
    if std::env::var_os("ENROLGEN_BLESS").is_some() {
        let _ = std::fs::remove_dir_all(expected_dir);
        for (k, v) in actual {
            let p = expected_dir.join(k);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, v).unwrap();
        }
    }
    let expected = read_tree(expected_dir);
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "file sets differ"
    );
    for (k, v) in actual {
        let a = String::from_utf8_lossy(v);
        let e = String::from_utf8_lossy(&expected[k]);
        pretty_assertions::assert_eq!(a, e, "{k} differs from {}", expected_dir.join(k).display());
    }
}

/// Edits a copied config in place.
pub fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "'{from}' not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// Asserts two file sets are byte-identical, naming the files that differ.
pub fn assert_same_files(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "file sets differ"
    );
    let differ: Vec<&String> = a.keys().filter(|k| a[*k] != b[*k]).collect();
    assert!(differ.is_empty(), "files differ: {differ:?}");
}

/// The as-of date of the demo's expected files.
pub const AS_OF: &str = "2026-11-24";

/// `run -c CFG --out OUT --as-of AS_OF`.
pub fn run_args<'a>(cfg: &'a Path, out: &'a str) -> [&'a str; 7] {
    [
        "run",
        "-c",
        cfg.to_str().unwrap(),
        "--out",
        out,
        "--as-of",
        AS_OF,
    ]
}

/// A test's command line: `enrolgen SUB -c CFG --as-of AS_OF`, then more arguments.
pub struct Cmd<'a> {
    dir: &'a Path,
    args: Vec<String>,
}

/// `enrolgen SUB -c CFG --as-of AS_OF` in `dir`; add arguments with `args`, then `run`.
pub fn cmd<'a>(dir: &'a Path, sub: &str, cfg: &str) -> Cmd<'a> {
    let args = [sub, "-c", cfg, "--as-of", AS_OF]
        .map(String::from)
        .to_vec();
    Cmd { dir, args }
}

impl Cmd<'_> {
    pub fn args(mut self, more: &[&str]) -> Self {
        self.args.extend(more.iter().map(|a| a.to_string()));
        self
    }

    pub fn run(self) -> Out {
        let refs: Vec<&str> = self.args.iter().map(String::as_str).collect();
        enrolgen(self.dir, &refs)
    }
}

/// `run -c CFG --out OUT --as-of AS_OF` and more, for tests that run the binary their
/// own way (in a shell with a limit, or spawned to be killed).
pub fn run_argv<'a>(cfg: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["run", "-c", cfg, "--out", out, "--as-of", AS_OF];
    v.extend_from_slice(extra);
    v
}

/// Runs `run_args(cfg, out)` in `dir`.
pub fn run_config(dir: &Path, cfg: &Path, out: &str) -> Out {
    run_with(dir, cfg, out, &[])
}

/// Runs `run_args(cfg, out)` and more flags in `dir`.
pub fn run_with(dir: &Path, cfg: &Path, out: &str, extra: &[&str]) -> Out {
    cmd(dir, "run", cfg.to_str().unwrap())
        .args(&["--out", out])
        .args(extra)
        .run()
}

/// A good run, then a `--delta` run, into `dir/out`: the tree then holds upload files,
/// left-out reports, an outbox and a state, for fault tests to compare with.
pub fn prime(dir: &Path, cfg: &Path) {
    let r = run_config(dir, cfg, "out");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run_with(dir, cfg, "out", &["--delta"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(dir.join("out/ecampus/state.json").exists());
    assert!(dir.join("out/ecampus/outbox/ecampus-0001.csv").exists());
}

/// Runs `cfg` as a snapshot and as a `--delta` run: both must exit with `code`, say
/// every one of `needles` on stderr, and leave `dir/out` byte-identical.
pub fn assert_fails_unchanged(dir: &Path, cfg: &Path, code: i32, needles: &[&str]) -> String {
    let before = read_tree(&dir.join("out"));
    let mut stderr = String::new();
    for extra in [&[][..], &["--delta"][..]] {
        let r = run_with(dir, cfg, "out", extra);
        assert_eq!(r.code, code, "{extra:?}: {}", r.stderr);
        for n in needles {
            assert!(
                r.stderr.contains(n),
                "{extra:?}: wanted {n:?} in {}",
                r.stderr
            );
        }
        assert_same_files(&read_tree(&dir.join("out")), &before);
        stderr = r.stderr;
    }
    stderr
}

/// The demo copied into `dir` with both directories on `slapd` (extra `ldap:` keys
/// in `extra`): the start of every LDAP test.
pub fn ldap_demo(dir: &Path, slapd: &crate::slapd::Slapd, extra: &str) -> PathBuf {
    let cfg = copy_demo(dir);
    use_ldap(&cfg, &slapd.url(), extra);
    cfg
}

/// Points the copied demo's directories at slapd with extra `ldap:` keys.
pub fn use_ldap(cfg: &Path, url: &str, extra: &str) {
    edit(
        cfg,
        "    ldif: unicaen.ldif\n",
        &format!("    ldap: {{ url: \"{url}\", base: \"ou=people,dc=unicaen,dc=fr\"{extra} }}\n"),
    );
    edit(
        cfg,
        "    ldif: universitice.ldif\n",
        &format!(
            "    ldap: {{ url: \"{url}\", base: \"ou=people,dc=universitice,dc=fr\"{extra} }}\n"
        ),
    );
}

/// `adhoc -c CFG --as-of AS_OF --platform ecampus --course COURSE --role student
/// --cohort psy-l1 --out OUT`, with `extra` arguments.
pub fn adhoc_psy(dir: &Path, cfg: &Path, course: &str, out: &str, extra: &[&str]) -> Out {
    cmd(dir, "adhoc", cfg.to_str().unwrap())
        .args(&[
            "--platform",
            "ecampus",
            "--course",
            course,
            "--role",
            "student",
        ])
        .args(&["--cohort", "psy-l1", "--out", out])
        .args(extra)
        .run()
}

/// Everything under `out` (files and their bytes) but the lock.
pub fn snapshot(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    read_tree(&dir.join("out"))
}

/// The student lists of the nightly worlds (nightly.rs, webservice.rs): OPTION's
/// students (number, group) in `dir/option.csv`, SOUTIEN's in `dir/soutien.csv`.
pub fn option_and_soutien(dir: &Path, option: &[(u32, &str)], soutien: &[u32]) {
    let mut o = String::from("student_id;name;group\n");
    for (i, g) in option {
        o.push_str(&format!("{};S{i};{g}\n", 21000000 + i));
    }
    std::fs::write(dir.join("option.csv"), o).unwrap();
    let mut s = String::from("student_id\n");
    for i in soutien {
        s.push_str(&format!("{}\n", 21000000 + i));
    }
    std::fs::write(dir.join("soutien.csv"), s).unwrap();
}

/// `enrolgen SUB -c CFG --out OUT --as-of 2026-11-DAY` and more, in `dir`: a night of
/// the nightly worlds.
pub fn on_day(dir: &Path, cfg: &Path, sub: &str, out: &str, day: u32, extra: &[&str]) -> Out {
    let as_of = format!("2026-11-{day:02}");
    let mut args = vec![
        sub,
        "-c",
        cfg.to_str().unwrap(),
        "--out",
        out,
        "--as-of",
        &as_of,
    ];
    args.extend_from_slice(extra);
    enrolgen(dir, &args)
}
