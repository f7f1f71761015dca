//! When the schedule fires: a cron expression read on the wall clock of an IANA time zone.
//!
//! A cron expression names wall-clock times ("30 1 * * *" is 01:30 every day), and a wall
//! clock with daylight saving time skips an hour in spring and repeats one in autumn. The
//! `croner` crate resolves both the way Vixie cron does, and [`Schedule`] keeps its rule:
//!
//! - a time in the skipped hour (01:30 in Europe/London on 2026-03-29, when 01:00 GMT becomes
//!   02:00 BST) fires once, at the first valid time after the gap (02:00 BST, 01:00 UTC);
//! - a time in the repeated hour (01:30 on 2026-10-25, when 02:00 BST becomes 01:00 GMT)
//!   fires once, at its first occurrence (01:30 BST, 00:30 UTC), not twice;
//! - expressions with a wildcard or step in the second, minute or hour field (`*/15 * * * *`)
//!   fire at every matching wall-clock time that exists: none in the gap, both passes of the
//!   repeated hour.
//!
//! Every instant in and out is a UTC [`Timestamp`]; searches move along real time, so the next
//! fire after one the schedule returned is always later.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

use crate::error::{Error, Result};
use crate::time::Timestamp;

/// A parsed cron expression and the zone its wall clock is read in.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    expression: String,
    zone: Tz,
}

impl Schedule {
    /// Parses `expression` (five fields, `minute hour day-of-month month day-of-week`, or six
    /// with a seconds field first) and the IANA zone name `zone` (`UTC`, `Europe/London`).
    /// Either one unusable is a usage error that names it.
    pub fn parse(expression: &str, zone: &str) -> Result<Schedule> {
        let parser = CronParser::builder().seconds(Seconds::Optional).build();
        let cron = parser.parse(expression).map_err(|e| {
            Error::Usage(format!(
                "--cron \"{expression}\" is not a cron expression: {e}. Give five fields (minute hour day-of-month month day-of-week), or six with seconds first; e.g. \"0 2 * * *\" for 02:00 every day"
            ))
        })?;
        let zone = Tz::from_str(zone.trim()).map_err(|_| {
            Error::Usage(format!(
                "--tz \"{zone}\" is not an IANA time zone name (e.g. UTC, Europe/London, America/New_York)"
            ))
        })?;
        let schedule = Schedule {
            cron,
            expression: expression.trim().to_string(),
            zone,
        };
        // An expression that can be parsed but never fires ("0 0 31 2 *") is refused now,
        // not discovered at the first search.
        schedule.next_after(Timestamp::now())?;
        Ok(schedule)
    }

    /// The expression as given (trimmed).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The zone's IANA name.
    pub fn zone(&self) -> &'static str {
        self.zone.name()
    }

    /// The first fire strictly after `after`.
    pub fn next_after(&self, after: Timestamp) -> Result<Timestamp> {
        let start = self.local(after)?;
        let next = self
            .cron
            .find_next_occurrence(&start, false)
            .map_err(|e| self.never(&e))?;
        Ok(Timestamp::from_millis(next.timestamp_millis()))
    }

    /// The last fire at or before `at`, if the schedule fired at all in the year before it.
    pub fn last_at_or_before(&self, at: Timestamp) -> Option<Timestamp> {
        let start = self.local(at).ok()?;
        let previous = self.cron.find_previous_occurrence(&start, true).ok()?;
        Some(Timestamp::from_millis(previous.timestamp_millis()))
    }

    /// `at` on the zone's wall clock, as `YYYY-MM-DD HH:MM:SS ABBR` (`2026-03-29 02:00:00 BST`).
    pub fn wall_clock(&self, at: Timestamp) -> String {
        match self.local(at) {
            Ok(local) => local.format("%Y-%m-%d %H:%M:%S %Z").to_string(),
            Err(_) => at.to_string(),
        }
    }

    /// `at` in the zone, truncated to the second (cron has no finer field).
    fn local(&self, at: Timestamp) -> Result<DateTime<Tz>> {
        let seconds = at.millis().div_euclid(1000);
        let utc = Utc
            .timestamp_opt(seconds, 0)
            .single()
            .ok_or_else(|| Error::Usage(format!("{at} is outside the calendar cron can use")))?;
        Ok(utc.with_timezone(&self.zone))
    }

    fn never(&self, why: &croner::errors::CronError) -> Error {
        Error::Usage(format!(
            "--cron \"{}\" never fires in {} ({why}); check its day-of-month and month fields",
            self.expression,
            self.zone.name()
        ))
    }
}
