//! Legal holds and matter reports: documents sealed by their own ledger entries.
//!
//! A hold's version and a matter report's snapshot are JSON documents recaudit writes itself.
//! Each is kept verbatim as a raw input (so its SHA-256 is what `sha256sum` gives on the bytes
//! an audit package carries) and sealed on a [`RunTransaction`] like a run: the entry's run
//! row, the document as its one input, then the ledger's records, in one transaction. The
//! tables here only say which entry sealed which version or report. Inserts only.

use sqlx::Row;

use super::read::get;
use super::{RunTransaction, Store, db};
use crate::error::Result;
use crate::store::rows::{DocumentKind, HoldRow, MatterReportRow};
use crate::time::Timestamp;

impl RunTransaction {
    /// Stores a document recaudit wrote as a raw input; returns its id.
    pub(crate) async fn insert_document(
        &mut self,
        kind: DocumentKind,
        source: &str,
        received: Timestamp,
        body: &[u8],
    ) -> Result<i64> {
        use sha2::Digest;
        let id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM raw_inputs")
            .fetch_one(&mut *self.tx)
            .await
            .map_err(db("allocating a raw input id"))?;
        sqlx::query("INSERT INTO raw_inputs (id, kind, source, received, bytes, sha256, body) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(id)
            .bind(kind.as_str())
            .bind(source)
            .bind(received.to_string())
            .bind(body.len() as i64)
            .bind(hex::encode(sha2::Sha256::digest(body)))
            .bind(body)
            .execute(&mut *self.tx)
            .await
            .map_err(db("storing a document"))?;
        Ok(id)
    }

    /// The newest version of `matter`'s hold, read under the run's write lock.
    pub(crate) async fn newest_hold(&mut self, matter: &str) -> Result<Option<HoldRow>> {
        newest_hold_in(&mut *self.tx, matter).await
    }

    pub(crate) async fn insert_hold(&mut self, hold: &HoldRow) -> Result<()> {
        sqlx::query("INSERT INTO legal_holds (matter_id, version, run_id, raw_input_id, released) VALUES ($1, $2, $3, $4, $5)")
            .bind(&hold.matter)
            .bind(hold.version)
            .bind(&hold.run_id)
            .bind(hold.raw_input_id)
            .bind(i64::from(hold.released))
            .execute(&mut *self.tx)
            .await
            .map_err(db("storing the legal hold"))?;
        Ok(())
    }

    pub(crate) async fn insert_matter_report(&mut self, report: &MatterReportRow) -> Result<()> {
        sqlx::query("INSERT INTO matter_reports (run_id, matter_id, version, audit_run_id, raw_input_id) VALUES ($1, $2, $3, $4, $5)")
            .bind(&report.run_id)
            .bind(&report.matter)
            .bind(report.version)
            .bind(&report.audit_run)
            .bind(report.raw_input_id)
            .execute(&mut *self.tx)
            .await
            .map_err(db("storing the matter report"))?;
        Ok(())
    }
}

/// The columns `hold_row` reads, from the hold, its document and its entry.
macro_rules! hold_select {
    ($tail:literal) => {
        concat!(
            "SELECT h.matter_id, h.version, h.run_id, h.raw_input_id, h.released, r.body, r.sha256, u.completed FROM legal_holds h JOIN raw_inputs r ON r.id = h.raw_input_id JOIN runs u ON u.run_id = h.run_id ",
            $tail
        )
    };
}
const HOLD_SELECT_NEWEST: &str =
    hold_select!("WHERE h.matter_id = $1 ORDER BY h.version DESC LIMIT 1");

macro_rules! matter_select {
    ($tail:literal) => {
        concat!(
            "SELECT m.run_id, m.matter_id, m.version, m.audit_run_id, m.raw_input_id, r.body FROM matter_reports m JOIN raw_inputs r ON r.id = m.raw_input_id ",
            $tail
        )
    };
}

/// The newest version of `matter`'s hold, on the pool or inside a transaction.
async fn newest_hold_in<'e, E>(executor: E, matter: &str) -> Result<Option<HoldRow>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query(HOLD_SELECT_NEWEST)
        .bind(matter)
        .fetch_optional(executor)
        .await
        .map_err(db("reading the legal hold"))?;
    row.as_ref().map(hold_row).transpose()
}

fn hold_row(row: &sqlx::any::AnyRow) -> Result<HoldRow> {
    Ok(HoldRow {
        matter: get(row, 0)?,
        version: get(row, 1)?,
        run_id: get(row, 2)?,
        raw_input_id: get(row, 3)?,
        released: get::<i64>(row, 4)? != 0,
        document: row
            .try_get::<Option<Vec<u8>>, _>(5)
            .map_err(db("reading a hold document"))?
            .unwrap_or_default(),
        sha256: get(row, 6)?,
        sealed: get(row, 7)?,
    })
}

impl Store {
    /// Every version of every hold, by matter then version.
    pub async fn holds(&self) -> Result<Vec<HoldRow>> {
        let rows = sqlx::query(hold_select!("ORDER BY h.matter_id, h.version"))
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing legal holds"))?;
        rows.iter().map(hold_row).collect()
    }

    /// The newest version of `matter`'s hold.
    pub async fn newest_hold(&self, matter: &str) -> Result<Option<HoldRow>> {
        newest_hold_in(&self.pool, matter).await
    }

    /// The hold version sealed by the ledger entry `run_id`, if it is one.
    pub(crate) async fn hold_sealed_by(&self, run_id: &str) -> Result<Option<HoldRow>> {
        let row = sqlx::query(hold_select!("WHERE h.run_id = $1"))
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading the legal hold"))?;
        row.as_ref().map(hold_row).transpose()
    }

    /// The matter report sealed by the ledger entry `run_id`, or the one made of `matter`'s
    /// `version` and `audit_run`, with its snapshot document.
    pub(crate) async fn matter_report(
        &self,
        by: MatterReportKey<'_>,
    ) -> Result<Option<(MatterReportRow, Vec<u8>)>> {
        let query = match by {
            MatterReportKey::Entry(run_id) => {
                sqlx::query_as::<_, MatterReportTuple>(matter_select!("WHERE m.run_id = $1"))
                    .bind(run_id.to_string())
            }
            MatterReportKey::Of {
                matter,
                version,
                audit_run,
            } => sqlx::query_as::<_, MatterReportTuple>(matter_select!(
                "WHERE m.matter_id = $1 AND m.version = $2 AND m.audit_run_id = $3"
            ))
            .bind(matter.to_string())
            .bind(version)
            .bind(audit_run.to_string()),
        };
        let row = query
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading the matter report"))?;
        Ok(
            row.map(|(run_id, matter, version, audit_run, raw_input_id, body)| {
                (
                    MatterReportRow {
                        run_id,
                        matter,
                        version,
                        audit_run,
                        raw_input_id,
                    },
                    body.unwrap_or_default(),
                )
            }),
        )
    }

    /// The signed checkpoint that seals the run `run_id`: the one of size index + 1.
    pub(crate) async fn checkpoint_sealing(&self, run_id: &str) -> Result<Option<Vec<u8>>> {
        sqlx::query_scalar(
            "SELECT c.note FROM ledger_checkpoints c JOIN ledger_runs l ON c.size = l.idx + 1 WHERE l.run_id = $1",
        )
        .bind(run_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading the run's checkpoint"))
    }

    /// The newest sealed audit run (not a hold or matter entry), by ledger position.
    pub async fn newest_audit_run(&self) -> Result<Option<String>> {
        sqlx::query_scalar(
            "SELECT r.run_id FROM runs r JOIN ledger_runs l ON l.run_id = r.run_id WHERE r.rule_set LIKE 'recaudit-rules-%' ORDER BY l.idx DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db("finding the newest audit run"))
    }
}

type MatterReportTuple = (String, String, i64, String, i64, Option<Vec<u8>>);

/// How a matter report is looked up.
#[derive(Debug, Clone, Copy)]
pub(crate) enum MatterReportKey<'a> {
    /// By the ledger entry that sealed it.
    Entry(&'a str),
    /// By what it was made of.
    Of {
        matter: &'a str,
        version: i64,
        audit_run: &'a str,
    },
}
