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
    let out = Command::new(env!("CARGO_BIN_EXE_enrolgen"))
        .args(args)
        .current_dir(cwd)
        .env_remove("ENROLGEN_CONFIG")
        .env_remove("RUST_LOG")
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

/// Every file under `dir`, by relative path.
pub fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|e| e == "lock") {
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

/// Runs `run_args(cfg, out)` in `dir`.
pub fn run_config(dir: &Path, cfg: &Path, out: &str) -> Out {
    run_with(dir, cfg, out, &[])
}

/// Runs `run_args(cfg, out)` and more flags in `dir`.
pub fn run_with(dir: &Path, cfg: &Path, out: &str, extra: &[&str]) -> Out {
    let mut args = run_args(cfg, out).to_vec();
    args.extend_from_slice(extra);
    enrolgen(dir, &args)
}
