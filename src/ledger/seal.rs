//! Sealing a run: extend the ledger only from an intact head, on the run's own transaction.
//!
//! [`append_run`] reads the log through the run's [`RunTransaction`], re-hashes every run
//! record from its bytes (never from stored hashes), checks the newest checkpoint against them
//! with the ledger key and checks every checkpoint kept outside the database, then builds the
//! run's records a page at a time (`super::append`, pure) and hands each page to the store. If
//! any check fails nothing is written and the caller's transaction rolls back: a truncated or
//! damaged ledger is never sealed under a fresh, valid signature.

use super::Ledger;
use super::append::{self, Entry, LogState, RunAppend, TreeHead};
use super::merkle::{self, Frontier};
use super::note::Checkpoint;
use crate::audit::Findings;
use crate::error::{Error, Result};
use crate::store::{EntryRow, RunRecord, RunTransaction, Tree};

/// Appends `run` and its `findings` to the ledger on the run's transaction; `known` are the
/// checkpoints kept outside the database, by the name to report them under.
pub(crate) async fn append_run(
    tx: &mut RunTransaction,
    ledger: &Ledger,
    known: &[(String, Checkpoint)],
    run: &RunRecord,
    findings: &Findings,
) -> Result<RunAppend> {
    let (frontier, leaves) = intact_log(tx).await?;
    check_outside_checkpoints(known, &frontier, &leaves)?;
    check_newest_checkpoint(tx, ledger, &frontier).await?;

    // A run over the same window as an earlier one is that run's correction.
    let supersedes = tx.newest_run_over(run).await?;
    let state = LogState {
        origin: &ledger.origin,
        frontier,
        supersedes,
    };
    let unledgerable = |e| Error::Unledgerable {
        run: run.run_id.clone(),
        source: Box::new(e),
    };
    // Records are built, stored and dropped a page at a time: the trees keep only their
    // frontiers, so a night of a million findings does not hold a million records.
    let mut inputs_head = TreeHead::default();
    let mut after = 0;
    loop {
        let page = tx
            .run_inputs_page(&run.run_id, after, LEDGER_PAGE as i64)
            .await?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        let facts: Vec<_> = page.into_iter().map(|(_, input)| input).collect();
        let entries =
            append::input_entries(run, inputs_head.next_seq(), &facts).map_err(unledgerable)?;
        store_entries(tx, run, Tree::Inputs, &entries, &mut inputs_head).await?;
    }
    let mut findings_head = TreeHead::default();
    for page in findings.pages(LEDGER_PAGE) {
        let entries =
            append::finding_entries(run, findings_head.next_seq(), &page?).map_err(unledgerable)?;
        store_entries(tx, run, Tree::Findings, &entries, &mut findings_head).await?;
    }
    let appended = append::close_run(state, &ledger.signer, run, &inputs_head, &findings_head)
        .map_err(unledgerable)?;
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

/// Records built and stored at a time.
const LEDGER_PAGE: usize = 2_000;

async fn store_entries(
    tx: &mut RunTransaction,
    run: &RunRecord,
    tree: Tree,
    entries: &[Entry],
    head: &mut TreeHead,
) -> Result<()> {
    let rows = entries.iter().map(|e| EntryRow {
        seq: e.seq,
        record: &e.record,
        leaf: &e.leaf,
    });
    tx.insert_ledger_entries(&run.run_id, tree, rows).await?;
    entries.iter().for_each(|e| head.push(e));
    Ok(())
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
