//! Which objects of a bucket an import lists: with a window, only the `year=/month=/day=` folders
//! of its days (and a margin), found by delimiter listings.

use chrono::{DateTime, Datelike, Days, NaiveDate};
use futures_util::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore};

use super::S3Url;
use super::errors::listing_error;
use crate::error::Result;
use crate::time::Timestamp;

/// The export days an import lists: the days of a window, widened by a margin on both sides
/// for exports written into a neighbouring day's folder. Inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportDays {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl ExportDays {
    /// The days of [`from`, `to`) (UTC), `margin_days` more on either side.
    pub fn of_window(from: Timestamp, to: Timestamp, margin_days: u32) -> ExportDays {
        let day = |ts: Timestamp| {
            DateTime::from_timestamp_millis(ts.millis())
                .map_or(NaiveDate::MIN, |time| time.date_naive())
        };
        let margin = Days::new(u64::from(margin_days));
        let first = day(from);
        // `to` is excluded: a window ending at midnight does not reach into that day.
        let last = day(to.plus_millis(-1)).max(first);
        ExportDays {
            first: first.checked_sub_days(margin).unwrap_or(NaiveDate::MIN),
            last: last.checked_add_days(margin).unwrap_or(NaiveDate::MAX),
        }
    }

    /// Whether the folder `segment` (`year=2026`, `month=07`, `day=4`, ...), inside the date
    /// folders `above` (`(year, month)` so far), can hold a day of the range. `None`: not a
    /// date folder.
    fn admits(&self, segment: &str, above: (Option<i32>, Option<u32>)) -> Option<bool> {
        let number = |key: &str| segment.strip_prefix(key).map(|n| n.parse::<u32>().ok());
        if let Some(year) = number("year=") {
            let year = year.and_then(|y| i32::try_from(y).ok());
            return Some(year.is_some_and(|y| (self.first.year()..=self.last.year()).contains(&y)));
        }
        if let Some(month) = number("month=") {
            let Some(year) = above.0 else {
                return Some(false);
            };
            return Some(month.is_some_and(|m| {
                (self.first.year(), self.first.month()) <= (year, m)
                    && (year, m) <= (self.last.year(), self.last.month())
            }));
        }
        if let Some(day) = number("day=") {
            let (Some(year), Some(month)) = above else {
                return Some(false);
            };
            return Some(
                day.and_then(|d| NaiveDate::from_ymd_opt(year, month, d))
                    .is_some_and(|date| self.first <= date && date <= self.last),
            );
        }
        None
    }
}

/// Folders above the date folders (`{org}/`, or a prefix of the user's) descended into to find
/// `year=`: a bucket laid out otherwise is not walked folder by folder for ever.
const FOLDERS_ABOVE_YEARS: usize = 4;

/// Lists the objects under `url`: all of them, or (`days`) only those in the date folders of
/// those days, found with delimiter listings so that no other day's keys are listed. Both the
/// padded and unpadded spellings (`month=07`, `month=7`) are read, as found.
pub(super) async fn list_objects(
    bucket: &dyn ObjectStore,
    url: &S3Url,
    days: Option<ExportDays>,
) -> Result<Vec<ObjectMeta>> {
    let prefix = (!url.prefix.is_empty()).then(|| ObjectPath::from(url.prefix.as_str()));
    let Some(days) = days else {
        return bucket
            .list(prefix.as_ref())
            .try_collect()
            .await
            .map_err(|e| listing_error(url, &e));
    };
    // (folder, date folders above it, folders above the years).
    let mut pending = vec![(prefix, (None, None), 0usize)];
    let mut selected = Vec::new();
    while let Some((folder, above, depth)) = pending.pop() {
        let listing = bucket
            .list_with_delimiter(folder.as_ref())
            .await
            .map_err(|e| listing_error(url, &e))?;
        for child in listing.common_prefixes {
            let segment = child.filename().unwrap_or_default().to_string();
            let number = |key: &str| -> Option<u32> {
                segment.strip_prefix(key).and_then(|n| n.parse().ok())
            };
            match days.admits(&segment, above) {
                Some(false) => {}
                Some(true) if segment.starts_with("day=") => selected.push(child),
                Some(true) if segment.starts_with("year=") => {
                    let year = number("year=").and_then(|y| i32::try_from(y).ok());
                    pending.push((Some(child), (year, None), depth));
                }
                Some(true) => {
                    let month = number("month=");
                    pending.push((Some(child), (above.0, month), depth));
                }
                // A conversation folder outside any date folder is read whole.
                None if segment.starts_with("conversation_id=") => selected.push(child),
                None if above == (None, None) && depth < FOLDERS_ABOVE_YEARS => {
                    pending.push((Some(child), above, depth + 1));
                }
                None => {}
            }
        }
    }
    let mut objects = Vec::new();
    for folder in selected {
        let mut found: Vec<ObjectMeta> = bucket
            .list(Some(&folder))
            .try_collect()
            .await
            .map_err(|e| listing_error(url, &e))?;
        objects.append(&mut found);
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_days_admit_padded_and_unpadded_folders_of_the_window_and_margin() {
        let ts = |text| Timestamp::parse_cli(text).unwrap();
        let days = ExportDays::of_window(ts("2026-07-14"), ts("2026-07-15"), 1);
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(
            (days.first, days.last),
            (date(2026, 7, 13), date(2026, 7, 15))
        );
        let none = (None, None);
        assert_eq!(days.admits("year=2026", none), Some(true));
        assert_eq!(days.admits("year=2025", none), Some(false));
        assert_eq!(days.admits("month=07", (Some(2026), None)), Some(true));
        assert_eq!(days.admits("month=7", (Some(2026), None)), Some(true));
        assert_eq!(days.admits("month=8", (Some(2026), None)), Some(false));
        assert_eq!(days.admits("day=15", (Some(2026), Some(7))), Some(true));
        assert_eq!(days.admits("day=09", (Some(2026), Some(7))), Some(false));
        assert_eq!(days.admits("day=x", (Some(2026), Some(7))), Some(false));
        assert_eq!(days.admits("8f3c1d2e", none), None);
        // Across a year's end.
        let days = ExportDays::of_window(ts("2026-12-31"), ts("2027-01-01"), 2);
        assert_eq!(
            (days.first, days.last),
            (date(2026, 12, 29), date(2027, 1, 2))
        );
        assert_eq!(days.admits("month=1", (Some(2027), None)), Some(true));
        assert_eq!(days.admits("month=2", (Some(2027), None)), Some(false));
    }
}
