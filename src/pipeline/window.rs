//! The nightly job's windows: the contact center's day in its own time zone, stored in UTC.
//!
//! A contact center in London closes its day at local midnight, which is 00:00 UTC in winter
//! and 23:00 UTC the day before in summer; the night the clocks go forward has 23 hours and the
//! night they go back 25. Auditing UTC days would split that center's day in two and put the
//! last hour of its summer evenings into the next day's report. So a window is the span from
//! one local midnight to the next, resolved through the IANA database (chrono-tz), and stored
//! and sealed as the two UTC instants; every later step (pull, audit, ledger) sees only those.
//!
//! A local midnight that does not exist (a zone that skips 00:00 when its clocks go forward,
//! as some do) starts the day at the first instant after the gap; one that happens twice
//! (clocks going back across midnight) starts it at the first of the two.

use chrono::{Datelike, Days, LocalResult, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;

use crate::error::{Error, Result};
use crate::time::Timestamp;

/// One contact-center day, as UTC instants: conversations starting in `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    pub from: Timestamp,
    pub to: Timestamp,
}

impl Window {
    /// The window's length in hours (23, 24 or 25 for a day).
    pub fn hours(&self) -> f64 {
        (self.to.millis() - self.from.millis()) as f64 / 3_600_000.0
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}, {})", self.from, self.to)
    }
}

/// The IANA zone named `name` (`Europe/London`, `America/New_York`, `UTC`).
pub fn zone(name: &str) -> Result<Tz> {
    name.parse::<Tz>().map_err(|_| {
        Error::Usage(format!(
            "unknown time zone \"{name}\": give an IANA name such as Europe/London, America/New_York or UTC"
        ))
    })
}

/// The first instant of `date` in `tz`.
fn local_midnight(tz: Tz, date: NaiveDate) -> Result<Timestamp> {
    let midnight = date.and_time(NaiveTime::MIN);
    let instant = match tz.from_local_datetime(&midnight) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t,
        // Midnight falls in a gap: the day begins when the clocks have jumped.
        LocalResult::None => (1..=180)
            .find_map(|minutes| {
                let later = midnight + chrono::Duration::minutes(minutes);
                tz.from_local_datetime(&later).earliest()
            })
            .ok_or_else(|| {
                Error::Usage(format!("{date} has no start in {tz}: the zone skips it"))
            })?,
    };
    Ok(Timestamp::from_millis(instant.timestamp_millis()))
}

/// The contact-center day `date` in `tz`.
pub fn day(tz: Tz, date: NaiveDate) -> Result<Window> {
    let next = date
        .checked_add_days(Days::new(1))
        .ok_or_else(|| Error::Usage(format!("{date} is out of range")))?;
    Ok(Window {
        from: local_midnight(tz, date)?,
        to: local_midnight(tz, next)?,
    })
}

/// The local date of an instant in `tz`.
fn local_date(tz: Tz, at: Timestamp) -> Result<NaiveDate> {
    tz.timestamp_millis_opt(at.millis())
        .single()
        .map(|t| t.date_naive())
        .ok_or_else(|| Error::Usage(format!("{at} cannot be placed in {tz}")))
}

/// `last-night`: the most recent contact-center day that has ended by `as_of`.
pub fn last_night(tz: Tz, as_of: Timestamp) -> Result<Window> {
    let today = local_date(tz, as_of)?;
    let yesterday = today
        .pred_opt()
        .ok_or_else(|| Error::Usage(format!("{as_of} has no day before it")))?;
    day(tz, yesterday)
}

/// What `--window` names: `last-night`, a local date `YYYY-MM-DD` (that day), a range of dates
/// `FROM/TO` (every day from FROM up to, not including, TO, oldest first, each its own
/// window), or two UTC instants `FROM/TO` with a time of day (exactly that one window).
pub fn parse_windows(spec: &str, tz: Tz, as_of: Timestamp) -> Result<Vec<Window>> {
    let spec = spec.trim();
    if spec == "last-night" {
        return Ok(vec![last_night(tz, as_of)?]);
    }
    let date = |text: &str| NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok();
    if let Some(d) = date(spec) {
        return Ok(vec![day(tz, d)?]);
    }
    let bad = || {
        Error::Usage(format!(
            "--window \"{spec}\": give last-night, a date (2026-11-01), a range of dates (2026-11-01/2026-11-08, the end excluded), or two UTC instants (2026-11-01T00:00:00Z/2026-11-02T00:00:00Z)"
        ))
    };
    let (first, second) = spec.split_once('/').ok_or_else(bad)?;
    let windows = match (date(first), date(second)) {
        (Some(start), Some(end)) => {
            if start >= end {
                return Err(Error::Usage(format!(
                    "--window {spec}: the first date must be before the second (the second is excluded)"
                )));
            }
            let days = end.num_days_from_ce() - start.num_days_from_ce();
            if days > 366 {
                return Err(Error::Usage(format!(
                    "--window {spec}: {days} days; backfill at most a year per run"
                )));
            }
            start
                .iter_days()
                .take_while(|d| *d < end)
                .map(|d| day(tz, d))
                .collect::<Result<Vec<_>>>()?
        }
        _ => {
            let from = Timestamp::parse(first).map_err(|_| bad())?;
            let to = Timestamp::parse(second).map_err(|_| bad())?;
            if from >= to {
                return Err(Error::Usage(format!(
                    "--window {spec}: the start must be before the end"
                )));
            }
            vec![Window { from, to }]
        }
    };
    Ok(windows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    #[test]
    fn a_london_summer_day_starts_at_23_utc_the_day_before() {
        let tz = zone("Europe/London").unwrap();
        let w = day(tz, NaiveDate::from_ymd_opt(2026, 7, 14).unwrap()).unwrap();
        assert_eq!(w.from, at("2026-07-13T23:00:00Z"));
        assert_eq!(w.to, at("2026-07-14T23:00:00Z"));
        assert!((w.hours() - 24.0).abs() < f64::EPSILON);
    }

    #[test]
    fn the_night_the_clocks_go_forward_has_23_hours() {
        // Europe/London: 2026-03-29 01:00 GMT becomes 02:00 BST.
        let tz = zone("Europe/London").unwrap();
        let w = day(tz, NaiveDate::from_ymd_opt(2026, 3, 29).unwrap()).unwrap();
        assert_eq!(w.from, at("2026-03-29T00:00:00Z"));
        assert_eq!(w.to, at("2026-03-29T23:00:00Z"));
        assert!((w.hours() - 23.0).abs() < f64::EPSILON);
    }

    #[test]
    fn the_night_the_clocks_go_back_has_25_hours() {
        // America/New_York: 2026-11-01 02:00 EDT becomes 01:00 EST.
        let tz = zone("America/New_York").unwrap();
        let w = day(tz, NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()).unwrap();
        assert_eq!(w.from, at("2026-11-01T04:00:00Z"));
        assert_eq!(w.to, at("2026-11-02T05:00:00Z"));
        assert!((w.hours() - 25.0).abs() < f64::EPSILON);
    }

    #[test]
    fn a_skipped_midnight_starts_the_day_after_the_gap() {
        // America/Santiago moved its clocks from 00:00 to 01:00 on 2026-09-06.
        let tz = zone("America/Santiago").unwrap();
        let w = day(tz, NaiveDate::from_ymd_opt(2026, 9, 6).unwrap()).unwrap();
        assert_eq!(w.from, at("2026-09-06T04:00:00Z"));
        assert!((w.hours() - 23.0).abs() < f64::EPSILON);
    }

    #[test]
    fn consecutive_days_tile_time_without_gaps_or_overlaps() {
        let tz = zone("Europe/London").unwrap();
        let days = parse_windows("2026-03-27/2026-04-01", tz, at("2026-12-01T00:00:00Z")).unwrap();
        assert_eq!(days.len(), 5);
        for pair in days.windows(2) {
            assert_eq!(pair[0].to, pair[1].from);
        }
    }

    #[test]
    fn last_night_is_the_local_day_before_as_of() {
        let tz = zone("Europe/London").unwrap();
        // 00:30 BST on 15 July is still 14 July in UTC: last night is 14 July local.
        let w = last_night(tz, at("2026-07-14T23:30:00Z")).unwrap();
        assert_eq!(w.from, at("2026-07-13T23:00:00Z"));
        let utc = last_night(zone("UTC").unwrap(), at("2026-07-15T02:00:00Z")).unwrap();
        assert_eq!(utc.from, at("2026-07-14T00:00:00Z"));
    }

    #[test]
    fn window_specs_are_checked() {
        let tz = zone("UTC").unwrap();
        let now = at("2026-12-01T00:00:00Z");
        let one = parse_windows("2026-11-01T06:00:00Z/2026-11-01T07:00:00Z", tz, now).unwrap();
        assert_eq!(one.len(), 1);
        assert!((one[0].hours() - 1.0).abs() < f64::EPSILON);
        for bad in [
            "yesterday",
            "2026-11-02/2026-11-01",
            "2026-11-01/x",
            "2026-13-01",
        ] {
            let err = parse_windows(bad, tz, now).unwrap_err().to_string();
            assert!(err.contains("--window"), "{bad}: {err}");
        }
        let err = zone("Mars/Olympus").unwrap_err().to_string();
        assert!(err.contains("IANA"), "{err}");
    }
}
