//! UTC instants as recaudit stores and prints them.
//!
//! Genesys Cloud writes timestamps in several shapes: the API uses
//! `2026-07-14T15:08:01.906Z`, the S3 export metadata uses `2026-07-14T15:08:04.021+0000`, and
//! some payloads drop the milliseconds or write `+00:00`. recaudit parses all of them into a
//! [`Timestamp`] (milliseconds since the Unix epoch, UTC) and writes exactly one form back out:
//! `YYYY-MM-DDTHH:MM:SS.mmmZ`. That canonical form is fixed-width, so the database can compare
//! and range-scan it as text, and it is the form the ledger hashes (docs/ledger-format.md), which
//! is why nothing in recaudit ever formats a time through `to_rfc3339()` or sqlx's chrono codec.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer};

/// 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z: see [`Timestamp::is_plausible_event`].
const PLAUSIBLE_FROM_MS: i64 = 946_684_800_000;
const PLAUSIBLE_UNTIL_MS: i64 = 4_102_444_800_000;

/// A UTC instant with millisecond precision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// 2000-01-01T00:00:00Z: no contact center event recaudit audits is older.
    pub const EARLIEST_EVENT: Timestamp = Timestamp(PLAUSIBLE_FROM_MS);

    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_millis())
    }

    /// Parses the ISO-8601 shapes Genesys Cloud emits. Offsets other than UTC are accepted and
    /// converted; a value without any offset is rejected, because guessing a zone would move
    /// conversations across audit windows.
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let trimmed = text.trim();
        let parsed = DateTime::parse_from_rfc3339(trimmed)
            .or_else(|_| DateTime::parse_from_str(trimmed, "%Y-%m-%dT%H:%M:%S%.f%z"))
            .map_err(|_| TimestampError(text.to_string()))?;
        Ok(Timestamp(parsed.with_timezone(&Utc).timestamp_millis()))
    }

    /// Parses a command-line instant: any form [`Timestamp::parse`] takes, or a bare date
    /// `YYYY-MM-DD` meaning midnight UTC, or `YYYY-MM-DDTHH:MM[:SS]` read as UTC.
    pub fn parse_cli(text: &str) -> Result<Self, TimestampError> {
        if let Ok(ts) = Timestamp::parse(text) {
            return Ok(ts);
        }
        let trimmed = text.trim();
        if let Ok(date) = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d") {
            let midnight = date
                .and_hms_opt(0, 0, 0)
                .ok_or_else(|| TimestampError(text.into()))?;
            return Ok(Timestamp(
                Utc.from_utc_datetime(&midnight).timestamp_millis(),
            ));
        }
        for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
            if let Ok(naive) = NaiveDateTime::parse_from_str(trimmed, format) {
                return Ok(Timestamp(Utc.from_utc_datetime(&naive).timestamp_millis()));
            }
        }
        Err(TimestampError(text.to_string()))
    }

    /// The range an event of a contact center can have happened in: from 2000-01-01 (before
    /// any Genesys Cloud org existed) to 2100-01-01. A time outside it (`0000-01-01T00:00:00Z`
    /// is a real case) is a broken value, not an event; deadlines such as `deleteDate` are not
    /// events and are not held to it.
    pub fn is_plausible_event(self) -> bool {
        (PLAUSIBLE_FROM_MS..PLAUSIBLE_UNTIL_MS).contains(&self.0)
    }

    /// Adds a number of milliseconds (negative to go back).
    pub fn plus_millis(self, ms: i64) -> Self {
        Timestamp(self.0.saturating_add(ms))
    }
}

impl fmt::Display for Timestamp {
    /// The canonical form `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Utc.timestamp_millis_opt(self.0).single() {
            Some(dt) => write!(f, "{}", dt.format("%Y-%m-%dT%H:%M:%S%.3fZ")),
            None => write!(f, "invalid-time({})", self.0),
        }
    }
}

/// A timestamp that could not be parsed; the message says which forms are accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid timestamp `{0}`: expected ISO-8601 UTC such as 2026-07-14T15:08:01.906Z or 2026-07-14T15:08:01.906+0000"
)]
pub struct TimestampError(pub String);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Milliseconds in an hour, for settings expressed in hours.
pub(crate) const HOUR_MS: i64 = 3_600_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_genesys_shape_to_the_same_instant() {
        let forms = [
            "2026-07-14T15:08:04.021Z",
            "2026-07-14T15:08:04.021+0000",
            "2026-07-14T15:08:04.021+00:00",
            "2026-07-14T17:08:04.021+0200",
            "2026-07-14T15:08:04.021000Z",
        ];
        let expected = Timestamp::parse(forms[0]).unwrap();
        for form in forms {
            assert_eq!(Timestamp::parse(form).unwrap(), expected, "{form}");
        }
        assert_eq!(expected.to_string(), "2026-07-14T15:08:04.021Z");
    }

    #[test]
    fn canonical_form_always_has_milliseconds() {
        let ts = Timestamp::parse("2026-07-14T15:08:04Z").unwrap();
        assert_eq!(ts.to_string(), "2026-07-14T15:08:04.000Z");
    }

    #[test]
    fn rejects_values_without_zone_in_data() {
        assert!(Timestamp::parse("2026-07-14T15:08:04").is_err());
        assert!(Timestamp::parse("yesterday").is_err());
    }

    #[test]
    fn cli_accepts_bare_dates_as_utc_midnight() {
        let ts = Timestamp::parse_cli("2026-07-14").unwrap();
        assert_eq!(ts.to_string(), "2026-07-14T00:00:00.000Z");
        let ts = Timestamp::parse_cli("2026-07-14T06:30").unwrap();
        assert_eq!(ts.to_string(), "2026-07-14T06:30:00.000Z");
    }
}
