//! Ledger tables: appending a run (inside the run's transaction) and reading the log back.
//!
//! Only INSERT statements touch the ledger tables; nothing here updates or deletes a row.

use futures_util::TryStreamExt;
use sqlx::{Row, SqliteConnection};

use super::read::RunRecord;
use super::{Store, db};
use crate::audit::{Finding, Reason, Status};
use crate::error::{Error, Result};
use crate::ledger::append::{self, InputFacts, LogState, RunAppend};
use crate::ledger::merkle::Frontier;
use crate::ledger::note::{Checkpoint, NoteSigner};

/// Appends a run to the ledger on the run's own transaction.
pub(super) async fn append_run(
    tx: &mut SqliteConnection,
    origin: &str,
    signer: &NoteSigner,
    known: &[(String, Checkpoint)],
    run: &RunRecord,
    findings: &[Finding],
) -> Result<RunAppend> {
    // Append only to a ledger whose head is intact: the run records (re-hashed from their
    // bytes, never from stored hashes) must match the newest signed checkpoint. Otherwise a
    // truncation or a damaged row would be sealed under a fresh, valid signature.
    let mut frontier = Frontier::default();
    let mut leaves = Vec::new();
    let records: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT idx, record FROM ledger_runs ORDER BY idx")
            .fetch_all(&mut *tx)
            .await
            .map_err(db("reading the ledger log"))?;
    for (position, (idx, record)) in records.iter().enumerate() {
        if *idx != position as i64 {
            return Err(refuse(format!(
                "run record at position {position} has index {idx}"
            )));
        }
        let leaf = crate::ledger::merkle::leaf_hash(record);
        frontier.push(leaf);
        leaves.push(leaf);
    }
    // Checkpoints kept outside the database must be extended, never contradicted: a database
    // whose newest runs were deleted together with their checkpoints looks intact from inside.
    for (name, checkpoint) in known {
        if checkpoint.size > frontier.size() {
            return Err(refuse(format!(
                "{name} is a signed checkpoint of size {}, but the database's log has only {} runs: runs were deleted from the database (or it was restored from an older backup)",
                checkpoint.size,
                frontier.size()
            )));
        }
        if crate::ledger::merkle::root(&leaves[..checkpoint.size as usize]) != checkpoint.root {
            return Err(refuse(format!(
                "{name} (size {}) is not a prefix of the database's log: its history was rewritten",
                checkpoint.size
            )));
        }
    }
    let head: Option<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT size, note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("reading the newest checkpoint"))?;
    match head {
        None if frontier.size() == 0 => {}
        None => {
            return Err(refuse(format!(
                "{} run records but no checkpoint",
                frontier.size()
            )));
        }
        Some((size, note)) => {
            let note = String::from_utf8(note)
                .map_err(|_| refuse("the newest checkpoint is not text".into()))?;
            let checkpoint = signer
                .verifier()
                .verify_checkpoint(&note, origin)
                .map_err(|e| {
                    refuse(format!(
                        "the newest checkpoint does not verify with this key ({e})"
                    ))
                })?;
            if size as u64 != frontier.size()
                || checkpoint.size != frontier.size()
                || checkpoint.root != frontier.root()
            {
                return Err(refuse(format!(
                    "the newest checkpoint (size {}) does not match the {} run records",
                    checkpoint.size,
                    frontier.size()
                )));
            }
        }
    }

    let rows = sqlx::query(
        "SELECT r.kind, r.source, r.received, r.bytes, r.sha256 FROM run_inputs i JOIN raw_inputs r ON r.id = i.raw_input_id WHERE i.run_id = ? ORDER BY r.id",
    )
    .bind(&run.run_id)
    .fetch_all(&mut *tx)
    .await
    .map_err(db("reading the run's inputs"))?;
    let inputs = rows
        .iter()
        .map(|row| {
            Ok(InputFacts {
                kind: row.try_get(0).map_err(db("decoding an input"))?,
                source: row.try_get(1).map_err(db("decoding an input"))?,
                received: row.try_get(2).map_err(db("decoding an input"))?,
                bytes: row.try_get(3).map_err(db("decoding an input"))?,
                sha256: row.try_get(4).map_err(db("decoding an input"))?,
            })
        })
        .collect::<Result<Vec<_>>>()?;

    // A run over the same window as an earlier one is that run's correction.
    let supersedes: Option<String> = sqlx::query_scalar(
        "SELECT r.run_id FROM runs r JOIN ledger_runs l ON l.run_id = r.run_id WHERE r.window_start = ? AND r.window_end = ? AND r.run_id <> ? ORDER BY l.idx DESC LIMIT 1",
    )
    .bind(&run.window_start)
    .bind(&run.window_end)
    .bind(&run.run_id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db("looking for the run this one supersedes"))?;

    let state = LogState {
        origin,
        frontier,
        supersedes,
    };
    let appended = append::build(state, signer, run, &inputs, findings)
        .map_err(|e| Error::Usage(format!("cannot ledger run {}: {e}", run.run_id)))?;

    for (tree, entries) in [
        ("inputs", &appended.inputs),
        ("findings", &appended.findings),
    ] {
        super::write::insert_rows(
            tx,
            "INSERT INTO ledger_entries (run_id, tree, seq, record, leaf_hash) ",
            "",
            5,
            entries.iter(),
            |b, e| {
                b.push_bind(run.run_id.clone())
                    .push_bind(tree)
                    .push_bind(e.seq as i64)
                    .push_bind(e.record.clone())
                    .push_bind(e.leaf.to_vec());
            },
        )
        .await?;
    }
    sqlx::query("INSERT INTO ledger_runs (idx, run_id, record, leaf_hash) VALUES (?, ?, ?, ?)")
        .bind(appended.index as i64)
        .bind(&run.run_id)
        .bind(&appended.run_record)
        .bind(appended.run_leaf.to_vec())
        .execute(&mut *tx)
        .await
        .map_err(db("storing the run record"))?;
    sqlx::query("INSERT INTO ledger_checkpoints (size, note) VALUES (?, ?)")
        .bind(appended.checkpoint.size as i64)
        .bind(appended.note.as_bytes())
        .execute(&mut *tx)
        .await
        .map_err(db("storing the checkpoint"))?;
    Ok(appended)
}

fn refuse(why: String) -> Error {
    Error::Corrupt(format!(
        "the ledger cannot be appended to: {why}. Nothing was written; run `recaudit ledger verify` to see what changed."
    ))
}

/// A stored run record.
#[derive(Debug, Clone)]
pub struct LedgerRun {
    pub idx: i64,
    pub run_id: String,
    pub record: Vec<u8>,
    pub leaf_hash: Vec<u8>,
}

/// A stored anchor.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub size: u64,
    pub kind: String,
    pub data: Vec<u8>,
}

impl Store {
    /// The number of run records in the ledger.
    pub async fn ledger_size(&self) -> Result<u64> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ledger_runs")
            .fetch_one(&self.pool)
            .await
            .map_err(db("counting run records"))?;
        Ok(count.max(0) as u64)
    }

    /// Every signed checkpoint, by size.
    pub async fn ledger_checkpoints(&self) -> Result<Vec<(u64, Vec<u8>)>> {
        let rows = sqlx::query("SELECT size, note FROM ledger_checkpoints ORDER BY size")
            .fetch_all(&self.pool)
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
                .fetch_all(&self.pool)
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
        tree: &str,
        mut visit: F,
    ) -> Result<()>
    where
        F: FnMut(i64, &[u8], &[u8]) -> Result<()>,
    {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db("acquiring a connection"))?;
        let mut rows = sqlx::query("SELECT seq, record, leaf_hash FROM ledger_entries WHERE run_id = ? AND tree = ? ORDER BY seq")
            .bind(run_id)
            .bind(tree)
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
    /// two. Queues, users and detail are not in the records and come back empty.
    pub async fn for_each_finding<F>(&self, run_id: &str, mut visit: F) -> Result<()>
    where
        F: FnMut(std::result::Result<Finding, String>) -> Result<()>,
    {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db("acquiring a connection"))?;
        let mut rows = sqlx::query("SELECT conversation_id, status, reasons, recordings, media_sha256, started, ended, direction, media FROM findings WHERE run_id = ? ORDER BY conversation_id")
            .bind(run_id)
            .fetch(&mut *conn);
        while let Some(row) = rows.try_next().await.map_err(db("reading findings"))? {
            visit(typed_finding(&row))?;
        }
        Ok(())
    }

    pub async fn ledger_anchors(&self) -> Result<Vec<Anchor>> {
        let rows = sqlx::query("SELECT size, kind, data FROM ledger_anchors ORDER BY size, kind")
            .fetch_all(&self.pool)
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
    pub async fn add_anchor(
        &self,
        size: u64,
        kind: &str,
        data: &[u8],
        received: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT OR IGNORE INTO ledger_anchors (size, kind, data, received) VALUES (?, ?, ?, ?)",
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

/// A typed findings row as a finding; a row that cannot be read back (an edited status or list)
/// is described instead, so the lint can report it.
fn typed_finding(row: &sqlx::sqlite::SqliteRow) -> std::result::Result<Finding, String> {
    let text = |i: usize| -> std::result::Result<&str, String> {
        row.try_get(i).map_err(|e| e.to_string())
    };
    let list = |i: usize| -> std::result::Result<Vec<String>, String> {
        let raw = text(i)?;
        serde_json::from_str(raw).map_err(|e| format!("bad list `{raw}`: {e}"))
    };
    let status = text(1)?;
    let reasons = list(2)?
        .iter()
        .map(|code| Reason::parse(code).ok_or_else(|| format!("unknown reason `{code}`")))
        .collect::<std::result::Result<Vec<_>, String>>()?;
    Ok(Finding {
        interaction: text(0)?.to_string(),
        status: Status::parse(status).ok_or_else(|| format!("unknown status `{status}`"))?,
        reasons,
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
    })
}
