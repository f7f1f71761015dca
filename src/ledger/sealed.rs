//! Only sealed runs exist: a run is what its run record in the ledger says it is.
//!
//! The typed `runs` table is a convenience copy that anybody with write access to the database
//! can extend. A row there that has no run record in the ledger log, or whose columns disagree
//! with its run record, was not written by an audit (a forged run, or an edited one), so every
//! command that reads a run goes through `sealed_run`: reports are rendered, and runs listed,
//! only for runs the signed log commits to. `ledger verify` reports the others (check V5).

use super::record::{self, RUN};
use crate::error::{Error, Result};
use crate::store::{RunRecord, Store};

/// The run `run_id`, if its run record is in the ledger and agrees with the typed row.
pub(crate) async fn sealed_run(store: &Store, run_id: &str) -> Result<RunRecord> {
    let run = store.load_run(run_id).await?;
    let Some(bytes) = store.ledger_record_of(run_id).await? else {
        return Err(Error::Unsealed {
            run: run_id.to_string(),
            why: "it has no run record in the ledger".to_string(),
        });
    };
    disagreement(&run, &bytes).map_or(Ok(run), |why| {
        Err(Error::Unsealed {
            run: run_id.to_string(),
            why,
        })
    })
}

/// The newest sealed runs (newest first), and the ids of the typed runs that are not sealed.
pub async fn sealed_runs(store: &Store, limit: i64) -> Result<(Vec<RunRecord>, Vec<String>)> {
    let mut sealed = Vec::new();
    let mut unsealed = Vec::new();
    for run_id in store.all_run_ids().await?.into_iter().rev() {
        match sealed_run(store, &run_id).await {
            Ok(run) if (sealed.len() as i64) < limit => sealed.push(run),
            Ok(_) => {}
            Err(Error::Unsealed { .. }) => unsealed.push(run_id),
            Err(e) => return Err(e),
        }
    }
    Ok((sealed, unsealed))
}

/// Why the typed run disagrees with its run record's bytes, if it does.
pub(crate) fn disagreement(run: &RunRecord, bytes: &[u8]) -> Option<String> {
    let parsed = match record::parse(&RUN, bytes) {
        Ok(parsed) => parsed,
        Err(e) => return Some(format!("its run record does not parse ({e})")),
    };
    let manifest = if run.manifest_sha256.is_empty() {
        "none"
    } else {
        run.manifest_sha256.as_str()
    };
    let pairs = [
        ("run", run.run_id.as_str()),
        ("window-start", run.window_start.as_str()),
        ("window-end", run.window_end.as_str()),
        ("completed", run.completed.as_str()),
        ("reports-sha256", manifest),
        ("rule-set", run.rule_set.as_str()),
        ("software", run.software.as_str()),
    ];
    let differing: Vec<String> = pairs
        .iter()
        .filter(|(field, typed)| parsed.get(&RUN, field) != *typed)
        .map(|(field, typed)| {
            format!(
                "{field} is `{typed}` in the runs table but `{}` in the run record",
                parsed.get(&RUN, field)
            )
        })
        .collect();
    (!differing.is_empty()).then(|| differing.join("; "))
}
