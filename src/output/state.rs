//! The state files of both channels, one design: `state.json` (`run --delta`) and
//! `webservice-state.json` (`deliver: webservice`), each a `StateHeader` (format,
//! platform, Moodle site, as-of day, last file written) and the channel's payload.
//! One load, one render, one error; the guards every channel applies before it
//! builds on a state: the right platform and site, not an earlier day, not older
//! than the files written after it. Each error says the way out that works for its
//! channel.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::model::StateHeader;
use crate::output::{OutputError, RenderedFile};

/// The state files' format.
pub const FORMAT: u32 = 1;

/// Why a state cannot be built on. Every message ends with what to do.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the {channel} state {} is unreadable: {message}; {way_out}", path.display())]
    Unreadable {
        channel: &'static str,
        path: PathBuf,
        message: String,
        way_out: &'static str,
    },
    #[error("the {channel} state {} does not fit: it belongs to platform {found}, not {expected} (copied from another output folder or configuration?): put the right state back, or {way_out}", path.display())]
    OtherPlatform {
        channel: &'static str,
        path: PathBuf,
        found: String,
        expected: String,
        way_out: &'static str,
    },
    #[error("the web-service state {} was written for the Moodle at {found}, not {expected} (the platform was pointed at another site?): what it records is that site's; put the url back, or move the state away to start on this site", path.display())]
    OtherSite {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("--as-of {as_of} is before the last {channel} run of {platform} ({last}): a run for an earlier day would suspend every enrolment that came since. Add --allow-earlier-as-of if that is meant")]
    EarlierAsOf {
        channel: &'static str,
        platform: String,
        as_of: NaiveDate,
        last: NaiveDate,
    },
    #[error("the {channel} state {} names no {missing} (edited by hand?): the guards that read it cannot run; put back the state as enrolgen wrote it, or {way_out}", path.display())]
    Incomplete {
        channel: &'static str,
        path: PathBuf,
        missing: &'static str,
        way_out: &'static str,
    },
    #[error("the {channel} state {} is older than {newer} (was it put back from a backup?): a run built on it would not know what that file changed in Moodle. Put back the state written with it, or {way_out}", path.display())]
    Older {
        channel: &'static str,
        path: PathBuf,
        newer: String,
        way_out: &'static str,
    },
}

/// A channel's state file: its name, and what to do when it cannot be used.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// `delta`, `web-service`.
    pub channel: &'static str,
    pub file: &'static str,
    pub way_out: &'static str,
}

pub const DELTA: Kind = Kind {
    channel: "delta",
    file: "state.json",
    way_out: "move it away and run with --full to start again",
};

pub const WEBSERVICE: Kind = Kind {
    channel: "web-service",
    file: "webservice-state.json",
    way_out: "move it away: the next run starts again from what Moodle holds (enrolgen then suspends only what it enrols from that run on)",
};

/// What a state must fit, and what to say when it does not.
pub struct Expect<'a> {
    pub kind: Kind,
    pub platform: &'a str,
    /// The Moodle site's address, for a channel that has one.
    pub site: Option<&'a str>,
    pub as_of: NaiveDate,
    pub allow_earlier_as_of: bool,
}

/// Reads the channel's state in `dir`; `None` before the first run that writes one.
pub fn load<T: DeserializeOwned>(dir: &Path, kind: Kind) -> Result<Option<T>, StateError> {
    let path = dir.join(kind.file);
    let unreadable = |message: String| StateError::Unreadable {
        channel: kind.channel,
        path: path.clone(),
        message,
        way_out: kind.way_out,
    };
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| unreadable(e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(unreadable(e.to_string())),
    }
}

/// Checks a state's header against the run about to build on it. Every state
/// enrolgen writes names its platform and its as-of day (and, for web services, its
/// site): one without them was edited, and is refused rather than let a guard pass.
pub fn check(path: &Path, header: &StateHeader, expect: &Expect<'_>) -> Result<(), StateError> {
    let incomplete = |missing| StateError::Incomplete {
        channel: expect.kind.channel,
        path: path.to_path_buf(),
        missing,
        way_out: expect.kind.way_out,
    };
    if header.platform.is_none() {
        return Err(incomplete("platform"));
    }
    if header.as_of.is_none() {
        return Err(incomplete("as-of day"));
    }
    if expect.site.is_some() && header.site.is_none() {
        return Err(incomplete("Moodle site"));
    }
    if let Some(p) = header.platform.as_deref().filter(|p| *p != expect.platform) {
        return Err(StateError::OtherPlatform {
            channel: expect.kind.channel,
            path: path.to_path_buf(),
            found: p.to_string(),
            expected: expect.platform.to_string(),
            way_out: expect.kind.way_out,
        });
    }
    if let (Some(found), Some(expected)) = (header.site.as_deref(), expect.site) {
        if found.trim_end_matches('/') != expected.trim_end_matches('/') {
            return Err(StateError::OtherSite {
                path: path.to_path_buf(),
                found: found.to_string(),
                expected: expected.to_string(),
            });
        }
    }
    if let Some(last) = header.as_of {
        if expect.as_of < last && !expect.allow_earlier_as_of {
            return Err(StateError::EarlierAsOf {
                channel: expect.kind.channel,
                platform: expect.platform.to_string(),
                as_of: expect.as_of,
                last,
            });
        }
    }
    Ok(())
}

/// The error of a state older than a file written after it.
pub fn older(path: &Path, kind: Kind, newer: String) -> StateError {
    StateError::Older {
        channel: kind.channel,
        path: path.to_path_buf(),
        newer,
        way_out: kind.way_out,
    }
}

/// A state file's bytes: pretty JSON, ended by a line feed.
pub fn render<T: Serialize>(kind: Kind, state: &T) -> Result<RenderedFile, OutputError> {
    let mut bytes = serde_json::to_vec_pretty(state).map_err(|e| OutputError::Encode {
        what: kind.file.into(),
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok(RenderedFile {
        name: PathBuf::from(kind.file),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn header() -> StateHeader {
        StateHeader {
            version: FORMAT,
            platform: Some("ecampus".into()),
            site: Some("https://m.example.fr".into()),
            as_of: Some(day(24)),
            journal: None,
            by_idnumber: Default::default(),
        }
    }

    fn expect(platform: &'static str, site: &'static str, d: u32) -> Expect<'static> {
        Expect {
            kind: WEBSERVICE,
            platform,
            site: Some(site),
            as_of: day(d),
            allow_earlier_as_of: false,
        }
    }

    #[test]
    fn a_state_must_fit_its_platform_site_and_day() {
        let p = Path::new("out/ecampus/webservice-state.json");
        let h = header();
        assert!(check(p, &h, &expect("ecampus", "https://m.example.fr/", 25)).is_ok());
        let e = check(p, &h, &expect("prelude", "https://m.example.fr", 25)).unwrap_err();
        assert!(
            e.to_string()
                .contains("belongs to platform ecampus, not prelude"),
            "{e}"
        );
        let e = check(p, &h, &expect("ecampus", "https://other.example.fr", 25)).unwrap_err();
        assert!(
            e.to_string().contains(
                "was written for the Moodle at https://m.example.fr, not https://other.example.fr"
            ),
            "{e}"
        );
        let e = check(p, &h, &expect("ecampus", "https://m.example.fr", 23)).unwrap_err();
        assert!(matches!(e, StateError::EarlierAsOf { .. }), "{e}");
        let allowed = Expect {
            allow_earlier_as_of: true,
            ..expect("ecampus", "https://m.example.fr", 23)
        };
        assert!(check(p, &h, &allowed).is_ok());
        // Before: a state without platform or as-of day skipped the guards that
        // read them.
        for (missing, h) in [
            (
                "platform",
                StateHeader {
                    platform: None,
                    ..header()
                },
            ),
            (
                "as-of day",
                StateHeader {
                    as_of: None,
                    ..header()
                },
            ),
            (
                "Moodle site",
                StateHeader {
                    site: None,
                    ..header()
                },
            ),
        ] {
            let e = check(p, &h, &expect("ecampus", "https://m.example.fr", 25)).unwrap_err();
            assert!(
                e.to_string()
                    .contains(&format!("names no {missing} (edited by hand?)")),
                "{e}"
            );
        }
    }

    #[test]
    fn an_unreadable_state_says_the_way_out_of_its_channel() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("state.json"), "{").unwrap();
        let e = load::<StateHeader>(d.path(), DELTA).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("; move it away and run with --full to start again"),
            "{e}"
        );
        assert!(load::<StateHeader>(d.path(), WEBSERVICE).unwrap().is_none());
    }
}
