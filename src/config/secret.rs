//! Passwords: named in the config by where they live (an environment variable, a
//! file, or a systemd credential), read only when a connection is made, and never
//! printed.

use std::fmt;
use std::path::PathBuf;

/// A password. `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The only way to read the value: call sites are easy to audit.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where a password is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
    /// A credential systemd passes to the service (`LoadCredential=NAME:PATH`): the
    /// file NAME in `$CREDENTIALS_DIRECTORY`, readable by the service alone.
    Credential(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable {0} is not set (it should hold the password)")]
    MissingEnv(String),
    #[error("credential {0} needs systemd's LoadCredential={0}:PATH in the unit (CREDENTIALS_DIRECTORY is not set); outside systemd, use password_file or password_env")]
    NoCredentials(String),
    #[error("cannot read the password file {path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SecretSource {
    pub fn read(&self) -> Result<Secret, SecretError> {
        match self {
            SecretSource::Env(name) => std::env::var(name)
                .map(Secret)
                .map_err(|_| SecretError::MissingEnv(name.clone())),
            SecretSource::Credential(name) => {
                let dir = std::env::var_os("CREDENTIALS_DIRECTORY")
                    .ok_or_else(|| SecretError::NoCredentials(name.clone()))?;
                SecretSource::File(PathBuf::from(dir).join(name)).read()
            }
            SecretSource::File(path) => std::fs::read_to_string(path)
                .map(|s| Secret(s.trim_end_matches(['\r', '\n']).to_string()))
                .map_err(|source| SecretError::File {
                    path: path.clone(),
                    source,
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact_the_password() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        let wrapped = Some(s.clone());
        assert!(!format!("{wrapped:?}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn a_credential_is_read_from_systemds_folder_and_named_when_absent() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("apogee"), "s3cret\n").unwrap();
        let c = SecretSource::Credential("apogee".into());
        // The variable is read by this test alone (no other test sets it).
        std::env::remove_var("CREDENTIALS_DIRECTORY");
        let e = c.read().unwrap_err().to_string();
        assert!(e.contains("LoadCredential=apogee:PATH"), "{e}");
        std::env::set_var("CREDENTIALS_DIRECTORY", dir.path());
        let read = c.read();
        std::env::remove_var("CREDENTIALS_DIRECTORY");
        assert_eq!(read.unwrap().expose(), "s3cret");
    }

    #[test]
    fn password_file_loses_its_final_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        std::fs::write(&p, "s3cret\n").unwrap();
        assert_eq!(SecretSource::File(p).read().unwrap().expose(), "s3cret");
    }
}
