//! Writing a set of files so that a failure never leaves a half-written one: each is
//! written to a temporary file in the same directory, then renamed over the old one.
//! Also the lock that keeps two runs off the same output directory.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::output::{OutputError, RenderedFile};

fn io(path: &Path) -> impl Fn(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Files written to temporary names, waiting to be renamed over their targets.
/// Dropped without `commit`, the temporary files are removed and nothing changed.
#[derive(Debug, Default)]
pub struct Prepared {
    files: Vec<(tempfile::NamedTempFile, PathBuf)>,
}

impl Prepared {
    /// Writes and syncs every file under `dir` to a temporary name. Errors of the
    /// disk (full, permissions) happen here, before any target is touched.
    pub fn add(&mut self, dir: &Path, files: &[RenderedFile]) -> Result<(), OutputError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        for f in files {
            let target = dir.join(&f.name);
            let mut tmp = tempfile::Builder::new()
                .prefix(".enrolgen-")
                .suffix(".tmp")
                .tempfile_in(dir)
                .map_err(io(dir))?;
            tmp.write_all(&f.bytes).map_err(io(&target))?;
            tmp.as_file().sync_all().map_err(io(&target))?;
            self.files.push((tmp, target));
        }
        Ok(())
    }

    /// Renames every file over its target, in the order they were added.
    pub fn commit(self) -> Result<(), OutputError> {
        for (tmp, target) in self.files {
            tmp.persist(&target).map_err(|e| OutputError::Io {
                path: target.clone(),
                source: e.error,
            })?;
        }
        Ok(())
    }
}

/// Writes every file under `dir`: all temporary files first, then all renames, so an
/// error while writing leaves every previous file as it was.
pub fn write_all(dir: &Path, files: &[RenderedFile]) -> Result<(), OutputError> {
    let mut p = Prepared::default();
    p.add(dir, files)?;
    p.commit()
}

/// Removes the upload files (`<platform>.csv`, `<platform>-NNN.csv`) a previous run
/// wrote and this one did not, so nobody imports a stale file.
pub fn remove_stale_parts(
    dir: &Path,
    platform: &str,
    keep: &[RenderedFile],
) -> Result<(), OutputError> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in read.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_part = name == format!("{platform}.csv")
            || name
                .strip_prefix(&format!("{platform}-"))
                .and_then(|r| r.strip_suffix(".csv"))
                .is_some_and(|n| n.len() == 3 && n.bytes().all(|b| b.is_ascii_digit()));
        if is_part && !keep.iter().any(|k| k.name == Path::new(&name)) {
            std::fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
        }
    }
    Ok(())
}

/// An exclusive lock on an output directory, released when dropped.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    pub fn acquire(dir: &Path) -> Result<DirLock, OutputError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join(".enrolgen.lock");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let pid = std::fs::read_to_string(&path)
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                return Err(OutputError::Locked {
                    path,
                    pid: if pid.is_empty() { "?".into() } else { pid },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&path)(e)),
        }
        file.set_len(0).map_err(io(&path))?;
        write!(file, "{}", std::process::id()).map_err(io(&path))?;
        Ok(DirLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_on_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _a = DirLock::acquire(dir.path()).unwrap();
        let e = DirLock::acquire(dir.path()).unwrap_err();
        assert!(
            e.to_string()
                .contains("another enrolgen run holds the lock"),
            "{e}"
        );
    }

    #[test]
    fn stale_parts_are_removed_but_not_other_files() {
        let dir = tempfile::tempdir().unwrap();
        for n in [
            "p.csv",
            "p-002.csv",
            "p-003.csv",
            "p-notes.csv",
            "left-out.csv",
        ] {
            std::fs::write(dir.path().join(n), "x").unwrap();
        }
        let keep = [
            RenderedFile {
                name: "p.csv".into(),
                bytes: vec![],
            },
            RenderedFile {
                name: "p-002.csv".into(),
                bytes: vec![],
            },
        ];
        remove_stale_parts(dir.path(), "p", &keep).unwrap();
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["left-out.csv", "p-002.csv", "p-notes.csv", "p.csv"]);
    }
}
