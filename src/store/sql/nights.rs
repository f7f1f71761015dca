//! The nightly job's journal (`night_windows`) and the questions `recaudit run` asks of the
//! runs: which earlier windows may still change, and which run is the newest over a window.

use super::{Store, db};
use crate::error::{Error, Result};
use crate::store::rows::PENDING_STATUS;
use crate::time::Timestamp;

impl Store {
    /// Notes that a run set out to audit `[from, to)` (cut in `time_zone`), leaving it open
    /// until [`Store::night_done`].
    pub async fn night_started(
        &self,
        from: Timestamp,
        to: Timestamp,
        time_zone: &str,
        at: Timestamp,
    ) -> Result<()> {
        sqlx::query("INSERT INTO night_windows (window_start, window_end, time_zone, first_started, last_started) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (window_start, window_end) DO UPDATE SET last_started = excluded.last_started, done = NULL")
            .bind(from.to_string())
            .bind(to.to_string())
            .bind(time_zone)
            .bind(at.to_string())
            .bind(at.to_string())
            .execute(self.pool())
            .await
            .map_err(db("recording the night's window"))?;
        Ok(())
    }

    /// Notes that `[from, to)` was sealed, or its sealed verdicts confirmed, at `at`.
    pub async fn night_done(&self, from: Timestamp, to: Timestamp, at: Timestamp) -> Result<()> {
        sqlx::query(
            "UPDATE night_windows SET done = $1 WHERE window_start = $2 AND window_end = $3",
        )
        .bind(at.to_string())
        .bind(from.to_string())
        .bind(to.to_string())
        .execute(self.pool())
        .await
        .map_err(db("recording the night's window"))?;
        Ok(())
    }

    /// Windows ending at or after `since` that a run should visit again, oldest first: those a
    /// run set out to audit and never finished, and those whose newest sealed run still has a
    /// pending finding (its verdict can change: a late recording may arrive, or the grace
    /// period end).
    pub async fn open_windows(&self, since: Timestamp) -> Result<Vec<(Timestamp, Timestamp)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT window_start, window_end FROM night_windows WHERE done IS NULL AND window_end >= $1 \
             UNION \
             SELECT r.window_start, r.window_end FROM runs r JOIN ledger_runs l ON l.run_id = r.run_id \
             WHERE r.window_end >= $1 \
               AND l.idx = (SELECT MAX(l2.idx) FROM runs r2 JOIN ledger_runs l2 ON l2.run_id = r2.run_id \
                            WHERE r2.window_start = r.window_start AND r2.window_end = r.window_end) \
               AND EXISTS (SELECT 1 FROM findings f WHERE f.run_id = r.run_id AND f.status = $2) \
             ORDER BY 1, 2",
        )
        .bind(since.to_string())
        .bind(PENDING_STATUS)
        .fetch_all(self.pool())
        .await
        .map_err(db("listing the windows to visit again"))?;
        let instant = |text: &str| {
            Timestamp::parse(text).map_err(|_| {
                Error::Corrupt(format!(
                    "a run or night window has the unreadable bound {text:?}"
                ))
            })
        };
        rows.iter()
            .map(|(from, to)| Ok((instant(from)?, instant(to)?)))
            .collect()
    }

    /// The newest sealed run over exactly `[from, to)`, by ledger order.
    pub async fn newest_run_over_window(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Option<String>> {
        sqlx::query_scalar(
            "SELECT r.run_id FROM runs r JOIN ledger_runs l ON l.run_id = r.run_id WHERE r.window_start = $1 AND r.window_end = $2 ORDER BY l.idx DESC LIMIT 1",
        )
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_optional(self.pool())
        .await
        .map_err(db("looking for the newest run over the window"))
    }
}
