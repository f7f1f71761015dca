//! Runs, their findings and their ledger records: written once, in one transaction.
//!
//! A run is sealed by the pipeline on a [`RunTransaction`] (`Store::begin_write`: SQLite's
//! `BEGIN IMMEDIATE`, PostgreSQL's advisory write lock, so two audits, on one host or two,
//! queue behind the write lock instead of both allocating run number 7): the run row,
//! its findings, the raw inputs it used, and then, through the same handle, the ledger's reads
//! of the log head and its inserts of the run's records and checkpoint. The store only keeps
//! rows; what the records say and whether the head may be extended is the ledger's business
//! (`ledger::seal`). Dropping the handle without [`RunTransaction::commit`] rolls everything
//! back, which is what makes a run all or nothing.
//!
//! Only INSERT statements touch these tables; nothing here updates or deletes a row.

use std::collections::BTreeSet;

use sqlx::Row;

use super::read::{get, list};
use super::write::json_list;
use super::{Store, db};
use crate::error::{Error, Result};
use crate::store::{EntryRow, ListedObject, RunRecord, StoredFinding, StoredInput, Tree};
use crate::time::Timestamp;

/// The write transaction of one run; see the module documentation.
pub struct RunTransaction {
    pub(super) tx: sqlx::Transaction<'static, sqlx::Any>,
}

impl Store {
    /// Starts the transaction a run is sealed in; it holds the database's write lock until it
    /// is committed or dropped.
    pub async fn begin_run(&self) -> Result<RunTransaction> {
        let tx = self.begin_write("starting the run transaction").await?;
        Ok(RunTransaction { tx })
    }
}

impl RunTransaction {
    /// The next run's sequence number and the newest completed time of a stored run: runs
    /// complete in log order, so the next completed time is never before that one.
    pub async fn next_run(&mut self) -> Result<(i64, Option<Timestamp>)> {
        let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM runs")
            .fetch_one(&mut *self.tx)
            .await
            .map_err(db("allocating a run number"))?;
        let last_completed: Option<String> = sqlx::query_scalar("SELECT MAX(completed) FROM runs")
            .fetch_one(&mut *self.tx)
            .await
            .map_err(db("reading the last run"))?;
        Ok((seq, last_completed.and_then(|t| Timestamp::parse(&t).ok())))
    }

    pub(crate) async fn insert_run(&mut self, run: &RunRecord) -> Result<()> {
        sqlx::query("INSERT INTO runs (run_id, seq, window_start, window_end, as_of, completed, rule_set, policy, software, manifest_sha256, coverage, report_set, report_context) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")
            .bind(&run.run_id)
            .bind(run.seq)
            .bind(&run.window_start)
            .bind(&run.window_end)
            .bind(&run.as_of)
            .bind(&run.completed)
            .bind(&run.rule_set)
            .bind(&run.policy)
            .bind(&run.software)
            .bind(&run.manifest_sha256)
            .bind(&run.coverage)
            .bind(run.report_set)
            .bind(&run.report_context)
            .execute(&mut *self.tx)
            .await
            .map_err(db("storing the run"))?;
        Ok(())
    }

    pub(crate) async fn insert_findings<I>(&mut self, run_id: &str, findings: I) -> Result<()>
    where
        I: IntoIterator<Item = StoredFinding>,
    {
        super::write::insert_rows(
            &mut self.tx,
            "INSERT INTO findings (run_id, conversation_id, status, reasons, recordings, media_sha256, started, ended, direction, media, queues, users, detail, particulars) ",
            "",
            14,
            findings,
            |b, f| {
                b.push_bind(run_id.to_string())
                    .push_bind(f.conversation_id)
                    .push_bind(f.status)
                    .push_bind(json_list(&f.reasons))
                    .push_bind(json_list(&f.recordings))
                    .push_bind(json_list(&f.media_sha256))
                    .push_bind(f.started)
                    .push_bind(f.ended)
                    .push_bind(f.direction)
                    .push_bind(f.media)
                    .push_bind(json_list(&f.queues))
                    .push_bind(json_list(&f.users))
                    .push_bind(f.detail)
                    .push_bind(f.particulars);
            },
        )
        .await
    }

    /// Records the raw inputs a run's findings were based on.
    pub(crate) async fn insert_run_inputs(
        &mut self,
        run_id: &str,
        inputs: &BTreeSet<i64>,
    ) -> Result<()> {
        super::write::insert_rows(
            &mut self.tx,
            "INSERT INTO run_inputs (run_id, raw_input_id) ",
            "",
            2,
            inputs.iter(),
            |b, id| {
                b.push_bind(run_id.to_string()).push_bind(*id);
            },
        )
        .await
    }

    /// The run inputs of `run_id` with the columns their input records repeat, by raw input id.
    /// Up to `limit` of the run's inputs whose raw input id is above `after`, by that id, each
    /// with its id (the `after` of the next page).
    pub(crate) async fn run_inputs_page(
        &mut self,
        run_id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, StoredInput)>> {
        let rows = sqlx::query(
            "SELECT r.kind, r.source, r.received, r.bytes, r.sha256, o.etag, o.version, o.modified, r.id FROM run_inputs i JOIN raw_inputs r ON r.id = i.raw_input_id LEFT JOIN object_listings o ON o.raw_input_id = r.id AND o.content_hashed = 0 WHERE i.run_id = $1 AND i.raw_input_id > $2 ORDER BY i.raw_input_id LIMIT $3",
        )
        .bind(run_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(db("reading the run's inputs"))?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get(8).map_err(db("decoding an input"))?;
                Ok((
                    id,
                    StoredInput {
                        kind: row.try_get(0).map_err(db("decoding an input"))?,
                        source: row.try_get(1).map_err(db("decoding an input"))?,
                        received: row.try_get(2).map_err(db("decoding an input"))?,
                        bytes: row.try_get(3).map_err(db("decoding an input"))?,
                        sha256: row.try_get(4).map_err(db("decoding an input"))?,
                        listed: match row.try_get::<Option<String>, _>(5) {
                            Ok(Some(etag)) => Some(ListedObject {
                                etag,
                                version: row.try_get(6).map_err(db("decoding an input"))?,
                                modified: row.try_get(7).map_err(db("decoding an input"))?,
                            }),
                            Ok(None) => None,
                            Err(e) => return Err(db("decoding an input")(e)),
                        },
                    },
                ))
            })
            .collect()
    }

    /// Every run record of the log as (index, record bytes), in index order.
    pub(crate) async fn ledger_log(&mut self) -> Result<Vec<(i64, Vec<u8>)>> {
        sqlx::query_as("SELECT idx, record FROM ledger_runs ORDER BY idx")
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db("reading the ledger log"))
    }

    /// The newest checkpoint as (size, note bytes).
    pub(crate) async fn newest_checkpoint(&mut self) -> Result<Option<(i64, Vec<u8>)>> {
        sqlx::query_as("SELECT size, note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1")
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db("reading the newest checkpoint"))
    }

    /// The report contexts of the newest `limit` sealed audit runs of report set 2 or later,
    /// newest first (for the trend across runs).
    pub(crate) async fn recent_report_contexts(&mut self, limit: i64) -> Result<Vec<String>> {
        sqlx::query_scalar(
            "SELECT r.report_context FROM runs r JOIN ledger_runs l ON l.run_id = r.run_id WHERE r.report_set >= 2 AND r.rule_set LIKE 'recaudit-rules-%' ORDER BY l.idx DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(db("reading earlier runs' report contexts"))
    }

    /// The newest sealed audit run over the same window as `run`, other than `run` itself;
    /// none for a ledger entry of a hold or matter report (entries correct nothing).
    pub(crate) async fn newest_run_over(&mut self, run: &RunRecord) -> Result<Option<String>> {
        sqlx::query_scalar(
            "SELECT r.run_id FROM runs r JOIN ledger_runs l ON l.run_id = r.run_id WHERE r.window_start = $1 AND r.window_end = $2 AND r.run_id <> $3 AND r.rule_set LIKE 'recaudit-rules-%' AND $4 LIKE 'recaudit-rules-%' ORDER BY l.idx DESC LIMIT 1",
        )
        .bind(&run.window_start)
        .bind(&run.window_end)
        .bind(&run.run_id)
        .bind(&run.rule_set)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(db("looking for the run this one supersedes"))
    }

    pub(crate) async fn insert_ledger_entries<'a, I>(
        &mut self,
        run_id: &str,
        tree: Tree,
        entries: I,
    ) -> Result<()>
    where
        I: IntoIterator<Item = EntryRow<'a>>,
    {
        super::write::insert_rows(
            &mut self.tx,
            "INSERT INTO ledger_entries (run_id, tree, seq, record, leaf_hash) ",
            "",
            5,
            entries,
            |b, e| {
                b.push_bind(run_id.to_string())
                    .push_bind(tree.as_str())
                    .push_bind(e.seq as i64)
                    .push_bind(e.record.to_vec())
                    .push_bind(e.leaf.to_vec());
            },
        )
        .await
    }

    pub(crate) async fn insert_run_record(
        &mut self,
        index: u64,
        run_id: &str,
        record: &[u8],
        leaf: &[u8],
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO ledger_runs (idx, run_id, record, leaf_hash) VALUES ($1, $2, $3, $4)",
        )
        .bind(index as i64)
        .bind(run_id)
        .bind(record)
        .bind(leaf)
        .execute(&mut *self.tx)
        .await
        .map_err(db("storing the run record"))?;
        Ok(())
    }

    pub(crate) async fn insert_checkpoint(&mut self, size: u64, note: &[u8]) -> Result<()> {
        sqlx::query("INSERT INTO ledger_checkpoints (size, note) VALUES ($1, $2)")
            .bind(size as i64)
            .bind(note)
            .execute(&mut *self.tx)
            .await
            .map_err(db("storing the checkpoint"))?;
        Ok(())
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await.map_err(db("committing the run"))
    }
}

impl Store {
    pub async fn load_run(&self, run_id: &str) -> Result<RunRecord> {
        let row = sqlx::query("SELECT run_id, seq, window_start, window_end, as_of, completed, rule_set, policy, software, manifest_sha256, coverage, report_set, report_context FROM runs WHERE run_id = $1")
            .bind(run_id)
            .fetch_optional(&mut *self.reader().await?)
            .await
            .map_err(db("reading the run"))?
            .ok_or_else(|| Error::RunNotFound(run_id.to_string()))?;
        Ok(RunRecord {
            run_id: get(&row, 0)?,
            seq: get(&row, 1)?,
            window_start: get(&row, 2)?,
            window_end: get(&row, 3)?,
            as_of: get(&row, 4)?,
            completed: get(&row, 5)?,
            rule_set: get(&row, 6)?,
            policy: get(&row, 7)?,
            software: get(&row, 8)?,
            manifest_sha256: get(&row, 9)?,
            coverage: get(&row, 10)?,
            report_set: get(&row, 11)?,
            report_context: get(&row, 12)?,
        })
    }

    /// Every run id of the typed `runs` table, oldest first (sealed or not: the ledger's
    /// `sealed` module decides which exist).
    pub(crate) async fn all_run_ids(&self) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT run_id FROM runs ORDER BY seq")
            .fetch_all(&mut *self.reader().await?)
            .await
            .map_err(db("listing runs"))
    }

    /// The run record stored in the ledger log for `run_id`, if there is one.
    pub(crate) async fn ledger_record_of(&self, run_id: &str) -> Result<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT record FROM ledger_runs WHERE run_id = $1 ORDER BY idx LIMIT 1")
            .bind(run_id)
            .fetch_optional(&mut *self.reader().await?)
            .await
            .map_err(db("reading the run record"))
    }

    /// Run ids that have typed findings but no row in `runs`. The findings' run ids are
    /// walked one index seek each (a skip scan), as a `DISTINCT` over the table would read
    /// every finding ever stored.
    pub(crate) async fn findings_without_run(&self) -> Result<Vec<String>> {
        let mut reader = self.reader().await?;
        let mut orphans = Vec::new();
        let mut after = String::new();
        while let Some(run_id) = sqlx::query_scalar::<_, String>(
            "SELECT run_id FROM findings WHERE run_id > $1 ORDER BY run_id LIMIT 1",
        )
        .bind(&after)
        .fetch_optional(&mut *reader)
        .await
        .map_err(db("listing findings without a run"))?
        {
            let known: Option<String> =
                sqlx::query_scalar("SELECT run_id FROM runs WHERE run_id = $1")
                    .bind(&run_id)
                    .fetch_optional(&mut *reader)
                    .await
                    .map_err(db("listing findings without a run"))?;
            if known.is_none() {
                orphans.push(run_id.clone());
            }
            after = run_id;
        }
        Ok(orphans)
    }

    /// The newest run in the ledger log with a finding for `conversation_id`.
    pub(crate) async fn newest_run_with(&self, conversation_id: &str) -> Result<Option<String>> {
        sqlx::query_scalar(
            "SELECT f.run_id FROM findings f JOIN ledger_runs l ON l.run_id = f.run_id WHERE f.conversation_id = $1 ORDER BY l.idx DESC LIMIT 1",
        )
        .bind(conversation_id)
        .fetch_optional(&mut *self.reader().await?)
        .await
        .map_err(db("looking up the interaction"))
    }

    /// Up to `limit` findings of a run whose conversation ids sort after `after`, in
    /// conversation-id order.
    pub(crate) async fn load_findings_page(
        &self,
        run_id: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<StoredFinding>> {
        let rows = sqlx::query("SELECT conversation_id, status, reasons, recordings, media_sha256, started, ended, direction, media, queues, users, detail, particulars FROM findings WHERE run_id = $1 AND conversation_id > $2 ORDER BY conversation_id LIMIT $3")
            .bind(run_id)
            .bind(after)
            .bind(limit)
            .fetch_all(&mut *self.reader().await?)
            .await
            .map_err(db("reading findings"))?;
        rows.iter()
            .map(|row| {
                Ok(StoredFinding {
                    conversation_id: get(row, 0)?,
                    status: get(row, 1)?,
                    reasons: list(row, 2)?,
                    recordings: list(row, 3)?,
                    media_sha256: list(row, 4)?,
                    started: get(row, 5)?,
                    ended: get(row, 6)?,
                    direction: get(row, 7)?,
                    media: get(row, 8)?,
                    queues: list(row, 9)?,
                    users: list(row, 10)?,
                    detail: get(row, 11)?,
                    particulars: get(row, 12)?,
                })
            })
            .collect()
    }

    /// Ids of the raw inputs a run's findings were based on, ascending.
    pub async fn run_input_ids(&self, run_id: &str) -> Result<Vec<i64>> {
        sqlx::query_scalar(
            "SELECT raw_input_id FROM run_inputs WHERE run_id = $1 ORDER BY raw_input_id",
        )
        .bind(run_id)
        .fetch_all(&mut *self.reader().await?)
        .await
        .map_err(db("reading run inputs"))
    }
}
