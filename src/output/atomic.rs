//! Writing a set of files so that a failure never leaves a half-written one: each is
//! written to a temporary file in the same directory, then renamed over the old one.
//! Also the lock that keeps two runs off the same output directory.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::output::{OutputError, RenderedFile};

/// Mode of every file enrolgen writes, whatever the umask: the files hold personal
/// data (names, student numbers), readable by the owner and the group only.
pub use crate::config::DEFAULT_FILE_MODE;
/// Mode of the folders enrolgen creates.
const DIR_MODE: u32 = 0o750;
/// Prefix and suffix of temporary files; a run killed before its renames leaves
/// some, which the next run removes (`remove_stale_temporaries`).
const TMP_PREFIX: &str = ".enrolgen-";
const TMP_SUFFIX: &str = ".tmp";

fn io(path: &Path) -> impl Fn(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn refuse(path: &Path, message: &str) -> OutputError {
    OutputError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, message.to_string()),
    }
}

/// Creates `dir` below `root` one folder at a time, refusing a symbolic link planted
/// anywhere below `root` (it could send the files elsewhere) and any path that is not
/// plain names below it. `root` itself (`--out`) is the user's choice.
pub fn safe_dir(root: &Path, dir: &Path) -> Result<(), OutputError> {
    let rel = dir
        .strip_prefix(root)
        .map_err(|_| refuse(dir, "outside the output directory"))?;
    create_dir(root)?;
    let mut cur = root.to_path_buf();
    for c in rel.components() {
        let std::path::Component::Normal(name) = c else {
            return Err(refuse(dir, "not a plain folder name"));
        };
        cur.push(name);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => return Err(refuse(
                &cur,
                "a symbolic link: enrolgen does not write through links below the output directory",
            )),
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(refuse(&cur, "not a folder")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_dir(&cur)?,
            Err(e) => return Err(io(&cur)(e)),
        }
    }
    Ok(())
}

/// Creates a file that must not exist yet (a journal: appended to, never replaced),
/// with `mode`, never through a link; its folder is made as `safe_dir` makes one.
pub fn create_new(root: &Path, path: &Path, mode: u32) -> Result<File, OutputError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent() {
        safe_dir(root, dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create_new(true)
        .append(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(io(path))?;
    // The umask may have taken bits away: the mode is the one configured.
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(io(path))?;
    Ok(file)
}

fn create_dir(dir: &Path) -> Result<(), OutputError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(io(dir))
}

/// Files written to temporary names, waiting to be renamed over their targets.
/// Dropped without `commit`, the temporary files are removed and nothing changed.
#[derive(Debug)]
pub struct Prepared {
    root: PathBuf,
    mode: u32,
    files: Vec<(tempfile::NamedTempFile, PathBuf)>,
}

impl Prepared {
    /// Files under `root` (the output directory), with file mode `mode`.
    pub fn new(root: &Path, mode: u32) -> Prepared {
        Prepared {
            root: root.to_path_buf(),
            mode,
            files: Vec::new(),
        }
    }

    /// Writes and syncs every file under `dir` to a temporary name. Errors of the
    /// disk (full, permissions, size limit) happen here, before any target is touched.
    pub fn add(&mut self, dir: &Path, files: &[RenderedFile]) -> Result<(), OutputError> {
        use std::os::unix::fs::PermissionsExt;
        safe_dir(&self.root, dir)?;
        for f in files {
            let target = dir.join(&f.name);
            let mut parts = f.name.components();
            if !matches!(
                (parts.next(), parts.next()),
                (Some(std::path::Component::Normal(_)), None)
            ) {
                return Err(refuse(&target, "not a plain file name"));
            }
            let mut tmp = tempfile::Builder::new()
                .prefix(TMP_PREFIX)
                .suffix(TMP_SUFFIX)
                .tempfile_in(dir)
                .map_err(io(dir))?;
            // fchmod, unlike the mode given at creation, is not narrowed by the umask.
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(self.mode))
                .map_err(io(&target))?;
            tmp.write_all(&f.bytes).map_err(io(&target))?;
            tmp.as_file().sync_all().map_err(io(&target))?;
            self.files.push((tmp, target));
        }
        Ok(())
    }

    /// Renames every file over its target, in the order they were added. A rename
    /// replaces a symbolic link at the target; it never writes through it.
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

/// Writes every file under `dir` (below `root`): all temporary files first, then all
/// renames, so an error while writing leaves every previous file as it was.
pub fn write_all(
    root: &Path,
    dir: &Path,
    files: &[RenderedFile],
    mode: u32,
) -> Result<(), OutputError> {
    let mut p = Prepared::new(root, mode);
    p.add(dir, files)?;
    p.commit()
}

/// Removes the temporary files a killed run left in `root`, its platform folders and
/// their outboxes. Called with the lock held, so no running write is disturbed.
pub fn remove_stale_temporaries(root: &Path) -> Result<usize, OutputError> {
    fn sweep(dir: &Path, depth: usize, removed: &mut usize) -> Result<(), OutputError> {
        let Ok(read) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        for entry in read.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_file() && name.starts_with(TMP_PREFIX) && name.ends_with(TMP_SUFFIX) {
                std::fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
                *removed += 1;
            } else if kind.is_dir() && depth < 2 {
                sweep(&entry.path(), depth + 1, removed)?;
            }
        }
        Ok(())
    }
    let mut removed = 0;
    sweep(root, 0, &mut removed)?;
    Ok(removed)
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
        use std::os::unix::fs::OpenOptionsExt;
        create_dir(dir)?;
        let path = dir.join(".enrolgen.lock");
        // O_NOFOLLOW: a link planted as the lock file is refused, not written through.
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o640)
            .custom_flags(libc::O_NOFOLLOW)
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
    fn temporary_files_have_the_mode_before_any_byte_is_written() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mut p = Prepared::new(dir.path(), 0o640);
        let f = RenderedFile {
            name: "a.csv".into(),
            bytes: b"x".to_vec(),
        };
        p.add(&dir.path().join("sub"), &[f]).unwrap();
        let (tmp, _) = &p.files[0];
        let mode = tmp.as_file().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let sub = std::fs::metadata(dir.path().join("sub"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(sub & 0o007, 0, "folders closed to others");
    }

    #[test]
    fn names_that_are_not_plain_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["../x.csv", "a/b.csv", "/etc/x", ""] {
            let mut p = Prepared::new(dir.path(), 0o640);
            let f = RenderedFile {
                name: bad.into(),
                bytes: vec![],
            };
            assert!(p.add(dir.path(), &[f]).is_err(), "{bad}");
        }
        let mut p = Prepared::new(dir.path(), 0o640);
        assert!(p.add(&dir.path().join("../elsewhere"), &[]).is_err());
    }

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
