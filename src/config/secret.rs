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

/// Why a secret could not be read. No message repeats the value given for a name
/// (a variable, a file, a credential): a secret pasted there by mistake must not
/// reach stderr, `last-run.json` or monitoring.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the environment variable named by its *_env key is not set (it should hold the secret; the name is not repeated here, in case a secret was written in its place)")]
    MissingEnv,
    #[error("the credential named by its *_credential key needs systemd's LoadCredential=NAME:PATH in the unit (CREDENTIALS_DIRECTORY is not set); outside systemd, use *_file or *_env")]
    NoCredentials,
    #[error("cannot read the file named by its *_file (or *_credential) key: {source}")]
    File {
        #[source]
        source: std::io::Error,
    },
    #[error("the file named by its *_file (or *_credential) key holds nothing but spaces")]
    Empty,
}

impl SecretSource {
    pub fn read(&self) -> Result<Secret, SecretError> {
        match self {
            SecretSource::Env(name) => std::env::var(name)
                .map(Secret)
                .map_err(|_| SecretError::MissingEnv),
            SecretSource::Credential(name) => {
                let dir =
                    std::env::var_os("CREDENTIALS_DIRECTORY").ok_or(SecretError::NoCredentials)?;
                SecretSource::File(PathBuf::from(dir).join(name)).read()
            }
            SecretSource::File(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| SecretError::File { source })?;
                // An editor's byte-order mark, a final newline or spaces around the
                // value are not part of a token or a password someone pasted.
                let value = text.trim_start_matches('\u{feff}').trim();
                if value.is_empty() {
                    return Err(SecretError::Empty);
                }
                Ok(Secret(value.to_string()))
            }
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
        assert!(
            e.contains("LoadCredential=NAME:PATH") && !e.contains("apogee"),
            "{e}"
        );
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
        assert_eq!(
            SecretSource::File(p.clone()).read().unwrap().expose(),
            "s3cret"
        );
        // Before: a BOM or a trailing space went to Moodle, which said only
        // "invalidtoken".
        std::fs::write(&p, "\u{feff}0123abcd \r\n").unwrap();
        assert_eq!(SecretSource::File(p).read().unwrap().expose(), "0123abcd");
    }

    /// Before: "environment variable <SECRET> is not set", and the secret pasted
    /// in place of a name went to stderr, last-run.json and monitoring.
    #[test]
    fn a_value_given_for_a_name_is_never_repeated() {
        let pasted = "5e1f0c2a9b8d7e6f5e1f0c2a9b8d7e6f";
        let errors = [
            SecretSource::Env(pasted.into()).read().unwrap_err(),
            SecretSource::File(PathBuf::from(format!("/nonexistent/{pasted}")))
                .read()
                .unwrap_err(),
        ];
        for e in errors {
            let text = crate::error_chain(&e);
            assert!(!text.contains(pasted), "{text}");
        }
    }
}
