//! Building a run's ledger records: pure, so the bytes can be tested and reproduced.
//!
//! For run r the ledger gets one input record per raw input the run used, one finding record
//! per interaction (whatever its status), the run record that commits to both trees' roots and
//! to the previous ledger root, and a signed checkpoint of the ledger log after the run.

use super::merkle::{self, Frontier, Hash};
use super::note::{Checkpoint, NoteSigner};
use super::record::{self, FINDING, INPUT, LISTED_INPUT, RUN, RecordError};
use crate::audit::Finding;
use crate::store::RunRecord;
/// A raw input as the ledger records it: the store's columns of it.
pub(crate) use crate::store::StoredInput as InputFacts;

/// One leaf of a run's inputs or findings tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub record: Vec<u8>,
    pub(crate) leaf: Hash,
}

/// Everything a run appends to the ledger.
#[derive(Debug, Clone)]
pub struct RunAppend {
    pub index: u64,
    pub inputs: Vec<Entry>,
    pub findings: Vec<Entry>,
    pub run_record: Vec<u8>,
    pub(crate) run_leaf: Hash,
    pub checkpoint: Checkpoint,
    /// The signed checkpoint note.
    pub note: String,
}

/// Where the log stands before the run.
pub struct LogState<'a> {
    pub origin: &'a str,
    /// Leaf hashes of the run records so far.
    pub frontier: Frontier,
    pub supersedes: Option<String>,
}

/// Builds the run's records, the run record and the signed checkpoint.
pub fn build(
    state: LogState<'_>,
    signer: &NoteSigner,
    run: &RunRecord,
    inputs: &[InputFacts],
    findings: &[Finding],
) -> Result<RunAppend, RecordError> {
    let input_entries = inputs
        .iter()
        .enumerate()
        .map(|(seq, input)| entry(seq, input_record(&run.run_id, seq, input)))
        .collect::<Result<Vec<_>, _>>()?;
    let finding_entries = findings
        .iter()
        .enumerate()
        .map(|(seq, finding)| {
            entry(
                seq,
                finding_record(&run.run_id, &run.rule_set, seq, finding),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let inputs_root = merkle::root(&input_entries.iter().map(|e| e.leaf).collect::<Vec<_>>());
    let findings_root = merkle::root(&finding_entries.iter().map(|e| e.leaf).collect::<Vec<_>>());

    let index = state.frontier.size();
    let run_record = record::encode(
        &RUN,
        &[
            state.origin.to_string(),
            index.to_string(),
            run.run_id.clone(),
            run.window_start.clone(),
            run.window_end.clone(),
            run.completed.clone(),
            input_entries.len().to_string(),
            hex::encode(inputs_root),
            finding_entries.len().to_string(),
            hex::encode(findings_root),
            if run.manifest_sha256.is_empty() {
                "none".to_string()
            } else {
                run.manifest_sha256.clone()
            },
            hex::encode(state.frontier.root()),
            state
                .supersedes
                .clone()
                .unwrap_or_else(|| "none".to_string()),
            run.rule_set.clone(),
            run.software.clone(),
        ],
    )?;
    let run_leaf = merkle::leaf_hash(&run_record);
    let mut frontier = state.frontier;
    frontier.push(run_leaf);
    let checkpoint = Checkpoint {
        origin: state.origin.to_string(),
        size: frontier.size(),
        root: frontier.root(),
    };
    let note = signer.sign(&checkpoint);
    Ok(RunAppend {
        index,
        inputs: input_entries,
        findings: finding_entries,
        run_record,
        run_leaf,
        checkpoint,
        note,
    })
}

fn entry(seq: usize, record: Result<Vec<u8>, RecordError>) -> Result<Entry, RecordError> {
    let record = record?;
    Ok(Entry {
        seq: seq as u64,
        leaf: merkle::leaf_hash(&record),
        record,
    })
}

/// The input record of one raw input: a listed input record for an object that was listed,
/// not read, so that no record claims a hash of bytes nobody read.
pub(crate) fn input_record(
    run_id: &str,
    seq: usize,
    input: &InputFacts,
) -> Result<Vec<u8>, RecordError> {
    // Both layouts open with the same six fields.
    let mut values = vec![
        run_id.to_string(),
        seq.to_string(),
        record::tokenize(&input.kind),
        record::source_pct(&input.source),
        input.received.clone(),
        input.bytes.max(0).to_string(),
    ];
    match &input.listed {
        Some(listed) => {
            values.push(record::pct_encode(&listed.etag));
            values.push(
                listed
                    .version
                    .as_deref()
                    .map_or_else(|| "none".to_string(), record::pct_encode),
            );
            values.push(listed.modified.clone());
            record::encode(&LISTED_INPUT, &values)
        }
        None => {
            values.push(input.sha256.clone());
            record::encode(&INPUT, &values)
        }
    }
}

/// The finding record of one interaction.
pub(crate) fn finding_record(
    run_id: &str,
    rule_set: &str,
    seq: usize,
    finding: &Finding,
) -> Result<Vec<u8>, RecordError> {
    let interaction = record::pct_encode(&finding.interaction);
    if !record::is_pct(&interaction) {
        return Err(RecordError(format!(
            "interaction id `{}` cannot be ledgered (empty or over 256 encoded characters)",
            finding.interaction
        )));
    }
    let reasons: Vec<&str> = finding.reasons.iter().map(|r| r.code()).collect();
    let recordings: Vec<String> = finding
        .recordings
        .iter()
        .map(|r| record::pct_encode(r))
        .collect();
    let (seq, media) = (seq.to_string(), record::tokenize(&finding.media));
    let (reasons, recordings, hashes) = (
        record::list(&reasons),
        record::list(&recordings),
        record::list(&finding.media_sha256),
    );
    record::encode_str(
        &FINDING,
        &[
            run_id,
            &seq,
            &interaction,
            &media,
            &finding.direction,
            &finding.started,
            finding.ended.as_deref().unwrap_or("none"),
            finding.status.as_str(),
            &reasons,
            &recordings,
            &hashes,
            rule_set,
        ],
    )
}
