//! Time as stored and shown: milliseconds since the Unix epoch, always UTC.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A point in time, in milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Timestamp((OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64)
    }

    /// Milliseconds since the epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// This time moved by a number of seconds (negative moves back).
    pub fn plus_seconds(self, seconds: i64) -> Self {
        Timestamp(self.0 + seconds * 1000)
    }

    /// A human-readable UTC form such as `2026-11-27 16:40 UTC`.
    pub fn display(self) -> String {
        self.formatted(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC"))
    }

    /// The UTC day this time falls on, `YYYY-MM-DD`.
    pub fn day(self) -> String {
        self.formatted(time::macros::format_description!("[year]-[month]-[day]"))
    }

    /// This time in UTC as `format` writes it, or the milliseconds if it is out of range.
    fn formatted(self, format: &[time::format_description::BorrowedFormatItem<'_>]) -> String {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .ok()
            .and_then(|t| t.format(format).ok())
            .unwrap_or_else(|| self.0.to_string())
    }

    /// RFC 3339 form, for machine-readable output.
    pub fn rfc3339(self) -> String {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_else(|| self.0.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_days() {
        assert_eq!(Timestamp(86_400_000 + 3_600_000).day(), "1970-01-02");
        assert_eq!(Timestamp(86_400_000 - 1).day(), "1970-01-01");
    }

    #[test]
    fn displays_utc_minutes() {
        assert_eq!(Timestamp(0).display(), "1970-01-01 00:00 UTC");
        assert_eq!(Timestamp(86_400_000 + 61_000).display(), "1970-01-02 00:01 UTC");
    }

    #[test]
    fn moves_by_seconds() {
        assert_eq!(Timestamp(1000).plus_seconds(-1), Timestamp(0));
    }
}
