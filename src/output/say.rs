//! What enrolgen says on stderr, in one format: `enrolgen: warning: …`. When stderr
//! is the journal (a systemd unit: `JOURNAL_STREAM` names stderr's device and
//! inode), each line starts with its syslog priority (`<4>` a warning, `<3>` an
//! error), which journald reads as the line's priority and drops from the text, so
//! that `journalctl -p warning` shows the warnings.

use std::io::Write as _;

/// A line's weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
}

impl Level {
    fn word(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
        }
    }

    /// Its syslog priority (sd-daemon(3)).
    fn priority(self) -> u8 {
        match self {
            Level::Error => 3,
            Level::Warning => 4,
        }
    }
}

/// Whether stderr is the journal's stream: `JOURNAL_STREAM` is `DEVICE:INODE` of
/// the stream systemd connected, and stderr is that stream (a command run from a
/// unit's shell with stderr redirected is not).
fn stderr_is_journal() -> bool {
    let Some(v) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = v.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let mut st: libc::stat = unsafe_zeroed_stat();
    // SAFETY: fstat on file descriptor 2 writes into a stat we own.
    if unsafe { libc::fstat(2, &mut st) } != 0 {
        return false;
    }
    // dev_t and ino_t are u64 here, other widths on other targets.
    #[allow(clippy::unnecessary_cast)]
    let (st_dev, st_ino) = (st.st_dev as u64, st.st_ino as u64);
    dev.parse::<u64>().ok() == Some(st_dev) && ino.parse::<u64>().ok() == Some(st_ino)
}

fn unsafe_zeroed_stat() -> libc::stat {
    // SAFETY: `stat` is plain data; all zeroes is a valid value.
    unsafe { std::mem::zeroed() }
}

/// The text of one message as it goes to stderr: each line with its priority when
/// stderr is the journal.
pub fn format(level: Level, text: &str, journal: bool) -> String {
    let prefix = if journal {
        format!("<{}>", level.priority())
    } else {
        String::new()
    };
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        if i == 0 {
            out.push_str(&format!("{prefix}enrolgen: {}: {line}\n", level.word()));
        } else {
            out.push_str(&format!("{prefix}  {line}\n"));
        }
    }
    out
}

/// Says a message on stderr. A closed stderr is not the command's failure.
pub fn say(level: Level, text: &str) {
    let _ = std::io::stderr()
        .lock()
        .write_all(format(level, text, stderr_is_journal()).as_bytes());
}

pub fn warning(text: &str) {
    say(Level::Warning, text);
}

pub fn error(text: &str) {
    say(Level::Error, text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_line_carries_its_priority_and_the_format_is_one() {
        assert_eq!(
            format(Level::Warning, "cohort x returned nobody", false),
            "enrolgen: warning: cohort x returned nobody\n"
        );
        assert_eq!(
            format(Level::Warning, "cohort x returned nobody", true),
            "<4>enrolgen: warning: cohort x returned nobody\n"
        );
        assert_eq!(
            format(Level::Error, "a\nb", true),
            "<3>enrolgen: error: a\n<3>  b\n"
        );
    }
}
