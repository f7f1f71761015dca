//! Reading the ledger tables back: the log, checkpoints, per-run records, anchors.
//!
//! A run's records are written on its [`super::RunTransaction`]; anchors arrive later and are
//! added here. Only INSERT statements touch the ledger tables; nothing updates or deletes a row.

use futures_util::TryStreamExt;
use sqlx::Row;

use super::{Store, db};
use crate::error::Result;
use crate::store::{Anchor, LedgerRun, StoredFinding, Tree};

impl Store {
    /// The number of run records in the ledger.
    pub async fn ledger_size(&self) -> Result<u64> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ledger_runs")
            .fetch_one(&mut *self.reader().await?)
            .await
            .map_err(db("counting run records"))?;
        Ok(count.max(0) as u64)
    }

    /// The newest signed checkpoint note, if the ledger has one.
    pub async fn newest_checkpoint_note(&self) -> Result<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1")
            .fetch_optional(&mut *self.reader().await?)
            .await
            .map_err(db("reading the newest checkpoint"))
    }

    /// Every signed checkpoint, by size.
    pub async fn ledger_checkpoints(&self) -> Result<Vec<(u64, Vec<u8>)>> {
        let rows = sqlx::query("SELECT size, note FROM ledger_checkpoints ORDER BY size")
            .fetch_all(&mut *self.reader().await?)
            .await
            .map_err(db("reading checkpoints"))?;
        rows.iter()
            .map(|row| {
                let size: i64 = row.try_get(0).map_err(db("decoding a checkpoint"))?;
                Ok((
                    size.max(0) as u64,
                    row.try_get(1).map_err(db("decoding a checkpoint"))?,
                ))
            })
            .collect()
    }

    /// The run records in log order.
    pub async fn ledger_runs(&self) -> Result<Vec<LedgerRun>> {
        let rows =
            sqlx::query("SELECT idx, run_id, record, leaf_hash FROM ledger_runs ORDER BY idx")
                .fetch_all(&mut *self.reader().await?)
                .await
                .map_err(db("reading run records"))?;
        rows.iter()
            .map(|row| {
                Ok(LedgerRun {
                    idx: row.try_get(0).map_err(db("decoding a run record"))?,
                    run_id: row.try_get(1).map_err(db("decoding a run record"))?,
                    record: row.try_get(2).map_err(db("decoding a run record"))?,
                    leaf_hash: row.try_get(3).map_err(db("decoding a run record"))?,
                })
            })
            .collect()
    }

    /// Streams a run's input or finding records in seq order: `visit(seq, record, leaf_hash)`.
    pub async fn for_each_ledger_entry<F>(
        &self,
        run_id: &str,
        tree: Tree,
        mut visit: F,
    ) -> Result<()>
    where
        F: FnMut(i64, &[u8], &[u8]) -> Result<()>,
    {
        let mut conn = self.reader().await?;
        let mut rows = sqlx::query("SELECT seq, record, leaf_hash FROM ledger_entries WHERE run_id = $1 AND tree = $2 ORDER BY seq")
            .bind(run_id)
            .bind(tree.as_str())
            .fetch(&mut *conn);
        while let Some(row) = rows
            .try_next()
            .await
            .map_err(db("reading ledger records"))?
        {
            let seq: i64 = row.try_get(0).map_err(db("decoding a ledger record"))?;
            let record: &[u8] = row.try_get(1).map_err(db("decoding a ledger record"))?;
            let leaf: &[u8] = row.try_get(2).map_err(db("decoding a ledger record"))?;
            visit(seq, record, leaf)?;
        }
        Ok(())
    }

    /// Streams the columns of a run's typed findings that its finding records repeat, in
    /// conversation-id order (the order of its finding records), for the lint that compares the
    /// two. Queues, users and detail are not in the records and come back empty; a row whose
    /// values cannot be read (an edited list) is described instead, so the lint can report it.
    pub(crate) async fn for_each_finding<F>(&self, run_id: &str, mut visit: F) -> Result<()>
    where
        F: FnMut(std::result::Result<StoredFinding, String>) -> Result<()>,
    {
        let mut conn = self.reader().await?;
        let mut rows = sqlx::query("SELECT conversation_id, status, reasons, recordings, media_sha256, started, ended, direction, media FROM findings WHERE run_id = $1 ORDER BY conversation_id")
            .bind(run_id)
            .fetch(&mut *conn);
        while let Some(row) = rows.try_next().await.map_err(db("reading findings"))? {
            visit(typed_finding(&row))?;
        }
        Ok(())
    }

    pub async fn ledger_anchors(&self) -> Result<Vec<Anchor>> {
        let rows = sqlx::query("SELECT size, kind, data FROM ledger_anchors ORDER BY size, kind")
            .fetch_all(&mut *self.reader().await?)
            .await
            .map_err(db("reading anchors"))?;
        rows.iter()
            .map(|row| {
                let size: i64 = row.try_get(0).map_err(db("decoding an anchor"))?;
                Ok(Anchor {
                    size: size.max(0) as u64,
                    kind: row.try_get(1).map_err(db("decoding an anchor"))?,
                    data: row.try_get(2).map_err(db("decoding an anchor"))?,
                })
            })
            .collect()
    }

    /// Stores an anchor received for a checkpoint (once per kind).
    pub(crate) async fn add_anchor(
        &self,
        size: u64,
        kind: &str,
        data: &[u8],
        received: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO ledger_anchors (size, kind, data, received) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(size as i64)
        .bind(kind)
        .bind(data)
        .bind(received)
        .execute(&self.pool)
        .await
        .map_err(db("storing an anchor"))?;
        Ok(())
    }
}

/// A typed findings row as stored; a row whose values cannot be read back (an edited list) is
/// described instead.
fn typed_finding(row: &sqlx::any::AnyRow) -> std::result::Result<StoredFinding, String> {
    let text = |i: usize| -> std::result::Result<&str, String> {
        row.try_get(i).map_err(|e| e.to_string())
    };
    let list = |i: usize| -> std::result::Result<Vec<String>, String> {
        let raw = text(i)?;
        serde_json::from_str(raw).map_err(|e| format!("bad list `{raw}`: {e}"))
    };
    Ok(StoredFinding {
        conversation_id: text(0)?.to_string(),
        status: text(1)?.to_string(),
        reasons: list(2)?,
        recordings: list(3)?,
        media_sha256: list(4)?,
        started: text(5)?.to_string(),
        ended: row
            .try_get::<Option<&str>, _>(6)
            .map_err(|e| e.to_string())?
            .map(str::to_string),
        direction: text(7)?.to_string(),
        media: text(8)?.to_string(),
        queues: Vec::new(),
        users: Vec::new(),
        detail: String::new(),
        particulars: String::new(),
    })
}
