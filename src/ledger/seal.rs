//! Sealing a run: extend the ledger only from an intact head, on the run's own transaction.
//!
//! [`append_run`] reads the log through the run's [`RunTransaction`], re-hashes every run
//! record from its bytes (never from stored hashes), checks the newest checkpoint against them
//! with the ledger key and checks every checkpoint kept outside the database, then builds the
//! run's records ([`super::append::build`], pure) and hands them to the store to insert. If
//! any check fails nothing is written and the caller's transaction rolls back: a truncated or
//! damaged ledger is never sealed under a fresh, valid signature.

use super::Ledger;
use super::append::{self, LogState, RunAppend};
use super::merkle::{self, Frontier};
use super::note::Checkpoint;
use crate::audit::Finding;
use crate::error::{Error, Result};
use crate::store::{EntryRow, RunRecord, RunTransaction, Tree};

/// Appends `run` and its `findings` to the ledger on the run's transaction; `known` are the
/// checkpoints kept outside the database, by the name to report them under.
pub(crate) async fn append_run(
    tx: &mut RunTransaction,
    ledger: &Ledger,
    known: &[(String, Checkpoint)],
    run: &RunRecord,
    findings: &[Finding],
) -> Result<RunAppend> {
    let (frontier, leaves) = intact_log(tx).await?;
    check_outside_checkpoints(known, &frontier, &leaves)?;
    check_newest_checkpoint(tx, ledger, &frontier).await?;

    let inputs = tx.run_inputs(&run.run_id).await?;
    // A run over the same window as an earlier one is that run's correction.
    let supersedes = tx.newest_run_over(run).await?;
    let state = LogState {
        origin: &ledger.origin,
        frontier,
        supersedes,
    };
    let appended = append::build(state, &ledger.signer, run, &inputs, findings).map_err(|e| {
        Error::Unledgerable {
            run: run.run_id.clone(),
            source: Box::new(e),
        }
    })?;

    for (tree, entries) in [
        (Tree::Inputs, &appended.inputs),
        (Tree::Findings, &appended.findings),
    ] {
        let rows = entries.iter().map(|e| EntryRow {
            seq: e.seq,
            record: &e.record,
            leaf: &e.leaf,
        });
        tx.insert_ledger_entries(&run.run_id, tree, rows).await?;
    }
    tx.insert_run_record(
        appended.index,
        &run.run_id,
        &appended.run_record,
        &appended.run_leaf,
    )
    .await?;
    tx.insert_checkpoint(appended.checkpoint.size, appended.note.as_bytes())
        .await?;
    Ok(appended)
}

/// The position the next run record takes in the log and the root (hex) of the log it
/// extends, read on the run's transaction (so they are what [`append_run`] will find).
pub(crate) async fn log_position(tx: &mut RunTransaction) -> Result<(u64, String)> {
    let (frontier, _) = intact_log(tx).await?;
    Ok((frontier.size(), hex::encode(frontier.root())))
}

/// The log's frontier and leaves, re-hashed from the stored run records, which must be
/// numbered 0, 1, 2, ... without a gap.
async fn intact_log(tx: &mut RunTransaction) -> Result<(Frontier, Vec<merkle::Hash>)> {
    let mut frontier = Frontier::default();
    let mut leaves = Vec::new();
    for (position, (idx, record)) in tx.ledger_log().await?.iter().enumerate() {
        if *idx != position as i64 {
            return Err(refuse(format!(
                "run record at position {position} has index {idx}"
            )));
        }
        let leaf = merkle::leaf_hash(record);
        frontier.push(leaf);
        leaves.push(leaf);
    }
    Ok((frontier, leaves))
}

/// Checkpoints kept outside the database must be extended, never contradicted: a database
/// whose newest runs were deleted together with their checkpoints looks intact from inside.
fn check_outside_checkpoints(
    known: &[(String, Checkpoint)],
    frontier: &Frontier,
    leaves: &[merkle::Hash],
) -> Result<()> {
    for (name, checkpoint) in known {
        if checkpoint.size > frontier.size() {
            return Err(refuse(format!(
                "{name} is a signed checkpoint of size {}, but the database's log has only {} runs: runs were deleted from the database (or it was restored from an older backup)",
                checkpoint.size,
                frontier.size()
            )));
        }
        if merkle::root(&leaves[..checkpoint.size as usize]) != checkpoint.root {
            return Err(refuse(format!(
                "{name} (size {}) is not a prefix of the database's log: its history was rewritten",
                checkpoint.size
            )));
        }
    }
    Ok(())
}

/// The newest stored checkpoint must verify with this ledger's key and match the log.
async fn check_newest_checkpoint(
    tx: &mut RunTransaction,
    ledger: &Ledger,
    frontier: &Frontier,
) -> Result<()> {
    match tx.newest_checkpoint().await? {
        None if frontier.size() == 0 => Ok(()),
        None => Err(refuse(format!(
            "{} run records but no checkpoint",
            frontier.size()
        ))),
        Some((size, note)) => {
            let note = String::from_utf8(note)
                .map_err(|_| refuse("the newest checkpoint is not text".into()))?;
            let checkpoint = ledger
                .signer
                .verifier()
                .verify_checkpoint(&note, &ledger.origin)
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
            Ok(())
        }
    }
}

fn refuse(why: String) -> Error {
    Error::LedgerRefused { why }
}
