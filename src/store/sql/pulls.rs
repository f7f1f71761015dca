//! Progress of API pulls (tables `pulls` and `pull_metadata`), so a pull resumes from any kill.
//!
//! Progress is never written on its own after the fact: a [`PullProgress`] rides in the
//! [`ImportBatch`](crate::source::batch::ImportBatch) that stores the pages it describes and is written in the
//! same transaction ([`Store::write_batch`]). A kill (SIGKILL included) therefore leaves either a
//! page, its typed rows and the cursor past it, or none of them: a rerun never skips a page and
//! never fetches a stored one again.

use sqlx::{AnyConnection, Row};

use super::write::insert_rows;
use super::{Store, db};
use crate::error::Result;
use crate::source::batch::{PullProgress, PullState};
use crate::source::model::{AGENT_PURPOSES, INTERACT_SEGMENT, RECORDING_METADATA_PATH};
use crate::store::rows::PENDING_STATUS;
use crate::time::Timestamp;

/// Writes `progress` inside the caller's transaction.
pub(super) async fn write_progress(tx: &mut AnyConnection, progress: &PullProgress) -> Result<()> {
    let (from, to) = (progress.from.to_string(), progress.to.to_string());
    let state = &progress.state;
    sqlx::query("UPDATE pulls SET details_job = $1, details_cursor = $2, details_done = $3, recording_job = $4, export_requested = $5 WHERE window_start = $6 AND window_end = $7 AND api_base = $8")
        .bind(&state.details_job)
        .bind(&state.details_cursor)
        .bind(i64::from(state.details_done))
        .bind(&state.recording_job)
        .bind(state.export_requested.map(|t| t.to_string()))
        .bind(&from)
        .bind(&to)
        .bind(&progress.api)
        .execute(&mut *tx)
        .await
        .map_err(db("recording pull progress"))?;
    insert_rows(
        tx,
        "INSERT INTO pull_metadata (window_start, window_end, api_base, conversation_id) ",
        " ON CONFLICT DO NOTHING",
        4,
        progress.metadata_received.iter(),
        |b, conversation| {
            b.push_bind(from.clone())
                .push_bind(to.clone())
                .push_bind(progress.api.clone())
                .push_bind(conversation.clone());
        },
    )
    .await
}

impl Store {
    /// Starts or resumes the pull of `[from, to)` from `api`: an unfinished pull's progress is
    /// returned as it was left; a finished one starts over (a new night's data may have come).
    pub(crate) async fn begin_pull(
        &self,
        from: Timestamp,
        to: Timestamp,
        api: &str,
    ) -> Result<PullState> {
        let (from, to) = (from.to_string(), to.to_string());
        let row = sqlx::query("SELECT details_job, details_cursor, details_done, recording_job, export_requested, completed FROM pulls WHERE window_start = $1 AND window_end = $2 AND api_base = $3")
            .bind(&from)
            .bind(&to)
            .bind(api)
            .fetch_optional(self.pool())
            .await
            .map_err(db("reading pull progress"))?;
        if let Some(row) = row {
            let completed: Option<String> = row.try_get(5).map_err(db("reading pull progress"))?;
            if completed.is_none() {
                let requested: Option<String> =
                    row.try_get(4).map_err(db("reading pull progress"))?;
                return Ok(PullState {
                    details_job: row.try_get(0).map_err(db("reading pull progress"))?,
                    details_cursor: row.try_get(1).map_err(db("reading pull progress"))?,
                    details_done: row
                        .try_get::<i64, _>(2)
                        .map_err(db("reading pull progress"))?
                        != 0,
                    recording_job: row.try_get(3).map_err(db("reading pull progress"))?,
                    export_requested: requested.and_then(|t| Timestamp::parse(&t).ok()),
                });
            }
        }
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(db("recording pull progress"))?;
        sqlx::query("INSERT INTO pulls (window_start, window_end, api_base, started) VALUES ($1, $2, $3, $4) ON CONFLICT (window_start, window_end, api_base) DO UPDATE SET details_job = NULL, details_cursor = NULL, details_done = 0, recording_job = NULL, export_requested = NULL, started = excluded.started, completed = NULL")
            .bind(&from)
            .bind(&to)
            .bind(api)
            .bind(Timestamp::now().to_string())
            .execute(&mut *tx)
            .await
            .map_err(db("recording pull progress"))?;
        forget_metadata(&mut tx, &from, &to, api).await?;
        tx.commit().await.map_err(db("recording pull progress"))?;
        Ok(PullState::default())
    }

    /// Marks the pull finished: the next pull of the window starts over.
    pub(crate) async fn complete_pull(
        &self,
        from: Timestamp,
        to: Timestamp,
        api: &str,
    ) -> Result<()> {
        let (from, to) = (from.to_string(), to.to_string());
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(db("recording pull progress"))?;
        sqlx::query("UPDATE pulls SET completed = $1 WHERE window_start = $2 AND window_end = $3 AND api_base = $4")
            .bind(Timestamp::now().to_string())
            .bind(&from)
            .bind(&to)
            .bind(api)
            .execute(&mut *tx)
            .await
            .map_err(db("recording pull progress"))?;
        forget_metadata(&mut tx, &from, &to, api).await?;
        tx.commit().await.map_err(db("recording pull progress"))?;
        Ok(())
    }

    /// Conversations of `[from, to)` whose recording metadata has not been fetched yet, or whose
    /// newest finding is `pending` (a late recording may have arrived since: asking again is
    /// what lets a pending conversation become complete instead of a false exception), less
    /// those the unfinished pull of the window from `api` has already received; with
    /// `media_types`, only those where an agent or user session of one of those media reached
    /// `interact` (the ones that must have a recording).
    pub(crate) async fn conversations_needing_metadata(
        &self,
        from: Timestamp,
        to: Timestamp,
        api: &str,
        media_types: Option<&[String]>,
    ) -> Result<Vec<String>> {
        // What "asked before" and "must be recorded" mean is the source's vocabulary
        // (`source::model`): the path a metadata answer is stored under, the agent purposes and
        // the interact segment; the SQL only binds them.
        let mut sql = String::from(
            "SELECT c.conversation_id FROM conversations c \
             WHERE c.conversation_start >= $1 AND c.conversation_start < $2 \
             AND (NOT EXISTS (SELECT 1 FROM raw_inputs r WHERE r.source = $3 || c.conversation_id || $4) \
                  OR (SELECT f.status FROM findings f JOIN runs u ON u.run_id = f.run_id \
                      WHERE f.conversation_id = c.conversation_id ORDER BY u.seq DESC LIMIT 1) = $5) \
             AND NOT EXISTS (SELECT 1 FROM pull_metadata m WHERE m.window_start = $6 AND m.window_end = $7 \
                  AND m.api_base = $8 AND m.conversation_id = c.conversation_id)",
        );
        if let Some(media) = media_types {
            // Numbered after the eight parameters above: the purposes, the segment type, the
            // media types.
            let numbered = |from: usize, count: usize| {
                (from..from + count)
                    .map(|n| format!("${n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let purposes = numbered(9, AGENT_PURPOSES.len());
            let segment = 9 + AGENT_PURPOSES.len();
            let placeholders = numbered(segment + 1, media.len().max(1));
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM participants p \
                   JOIN sessions s ON s.conversation_id = p.conversation_id AND s.participant_ordinal = p.ordinal \
                   JOIN segments g ON g.conversation_id = s.conversation_id AND g.participant_ordinal = s.participant_ordinal AND g.session_ordinal = s.ordinal \
                   WHERE p.conversation_id = c.conversation_id AND p.purpose IN ({purposes}) \
                   AND g.segment_type = ${segment} AND s.media_type IN ({placeholders}))"
            ));
        }
        sql.push_str(" ORDER BY c.conversation_id");
        let (path_prefix, path_suffix) = RECORDING_METADATA_PATH;
        let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(from.to_string())
            .bind(to.to_string())
            .bind(path_prefix)
            .bind(path_suffix)
            .bind(PENDING_STATUS)
            .bind(from.to_string())
            .bind(to.to_string())
            .bind(api.to_string());
        if let Some(media) = media_types {
            for purpose in AGENT_PURPOSES {
                query = query.bind(*purpose);
            }
            query = query.bind(INTERACT_SEGMENT);
            if media.is_empty() {
                query = query.bind("");
            }
            for m in media {
                query = query.bind(m.clone());
            }
        }
        query
            .fetch_all(self.pool())
            .await
            .map_err(db("listing conversations to fetch recordings for"))
    }
}

/// Empties the received-metadata list of a pull that completed or starts over.
async fn forget_metadata(tx: &mut AnyConnection, from: &str, to: &str, api: &str) -> Result<()> {
    sqlx::query(
        "DELETE FROM pull_metadata WHERE window_start = $1 AND window_end = $2 AND api_base = $3",
    )
    .bind(from)
    .bind(to)
    .bind(api)
    .execute(&mut *tx)
    .await
    .map_err(db("recording pull progress"))?;
    Ok(())
}
