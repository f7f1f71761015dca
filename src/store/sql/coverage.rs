//! What evidence the store holds for a window, read in the audit's snapshot: the facts an
//! audit states about its own coverage (which details, export jobs, export days and orphan
//! listings its verdicts rest on) and from which it decides whether it may seal a clean run.

use std::collections::BTreeSet;

use futures_util::TryStreamExt;
use sqlx::{AnyConnection, Row};

use super::db;
use crate::error::Result;
use crate::store::{CoverageFacts, PulledWindow};
use crate::time::Timestamp;

/// Reads the coverage facts of `[from, to)` on `conn` (the audit's snapshot).
pub(super) async fn facts(
    conn: &mut AnyConnection,
    from: Timestamp,
    to: Timestamp,
) -> Result<CoverageFacts> {
    let (from_text, to_text) = (from.to_string(), to.to_string());
    let counts = sqlx::query("SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN r.source LIKE '/api/%' THEN 1 ELSE 0 END), 0) AS BIGINT) FROM conversations c JOIN raw_inputs r ON r.id = c.raw_input_id WHERE c.conversation_start >= $1 AND c.conversation_start < $2")
        .bind(&from_text)
        .bind(&to_text)
        .fetch_one(&mut *conn)
        .await
        .map_err(db("counting the window's conversations"))?;
    let count = |i: usize| -> Result<u64> {
        let n: i64 = counts.try_get(i).map_err(db("counting conversations"))?;
        Ok(n.max(0) as u64)
    };
    let (conversations, pulled_conversations) = (count(0)?, count(1)?);

    let mut pulls = Vec::new();
    for row in sqlx::query("SELECT window_start, window_end, api_base, CASE WHEN completed IS NULL THEN 0 ELSE 1 END FROM pulls WHERE window_start < $2 AND window_end > $1 ORDER BY window_start, window_end, api_base")
        .bind(&from_text)
        .bind(&to_text)
        .fetch_all(&mut *conn)
        .await
        .map_err(db("reading pulls"))?
    {
        let time = |i: usize| -> Result<Timestamp> {
            let text: String = row.try_get(i).map_err(db("reading pulls"))?;
            Timestamp::parse(&text)
                .map_err(|_| crate::error::Error::Corrupt(format!("pull window `{text}`")))
        };
        pulls.push(PulledWindow {
            from: time(0)?,
            to: time(1)?,
            api_base: row.try_get(2).map_err(db("reading pulls"))?,
            finished: row.try_get::<i64, _>(3).map_err(db("reading pulls"))? != 0,
        });
    }

    let horizon = newest_horizon(&mut *conn).await?;

    let export_jobs: Vec<(String, String)> = sqlx::query_as("SELECT job_id, state FROM recording_jobs WHERE action IS NULL OR action = 'EXPORT' ORDER BY job_id")
        .fetch_all(&mut *conn)
        .await
        .map_err(db("reading recording jobs"))?;

    let mut days = BTreeSet::new();
    let mut export_media_files = 0u64;
    {
        let mut rows = sqlx::query("SELECT e.path FROM export_media e JOIN conversations c ON c.conversation_id = e.conversation_id WHERE c.conversation_start >= $1 AND c.conversation_start < $2")
            .bind(&from_text)
            .bind(&to_text)
            .fetch(&mut *conn);
        while let Some(row) = rows.try_next().await.map_err(db("reading export media"))? {
            export_media_files += 1;
            let path: &str = row.try_get(0).map_err(db("reading export media"))?;
            if let Some(day) = export_day(path) {
                days.insert(day);
            }
        }
    }

    let orphan_listings: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM raw_inputs WHERE kind IN ('orphan-recordings-page', 'orphan-recording')")
        .fetch_one(&mut *conn)
        .await
        .map_err(db("counting orphan listings"))?;

    Ok(CoverageFacts {
        conversations,
        pulled_conversations,
        pulls,
        horizon,
        export_jobs,
        export_days: days.into_iter().collect(),
        export_media_files,
        orphan_listings: orphan_listings.max(0) as u64,
    })
}

/// The newest details availability horizon any stored input states, if any does.
pub(super) async fn newest_horizon(conn: &mut AnyConnection) -> Result<Option<Timestamp>> {
    let newest: Option<String> = sqlx::query_scalar("SELECT MAX(horizon) FROM details_horizons")
        .fetch_one(conn)
        .await
        .map_err(db("reading the details availability horizon"))?;
    newest
        .map(|text| {
            Timestamp::parse(&text)
                .map_err(|_| crate::error::Error::Corrupt(format!("details horizon `{text}`")))
        })
        .transpose()
}

/// The day of an export tree path `.../year=2026/month=7/day=14/...`, as `2026-07-14`.
fn export_day(path: &str) -> Option<String> {
    let part = |key: &str| -> Option<u32> {
        path.split('/')
            .find_map(|segment| segment.strip_prefix(key))
            .and_then(|value| value.parse().ok())
    };
    let (year, month, day) = (part("year=")?, part("month=")?, part("day=")?);
    Some(format!("{year:04}-{month:02}-{day:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_days_come_from_the_partition_folders() {
        assert_eq!(
            export_day("export/org/year=2026/month=7/day=4/hour=13/c/r.opus").as_deref(),
            Some("2026-07-04")
        );
        assert_eq!(export_day("export/org/2026/07/04/r.opus"), None);
    }
}
