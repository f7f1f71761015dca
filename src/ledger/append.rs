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

/// Everything a run appends to the ledger, but its input and finding records, which are
/// stored page by page as they are built (see `super::seal::append_run`) and not kept.
#[derive(Debug, Clone)]
pub struct RunAppend {
    pub index: u64,
    /// How many input records the run has.
    pub inputs: u64,
    /// How many finding records the run has.
    pub findings: u64,
    pub run_record: Vec<u8>,
    pub(crate) run_leaf: Hash,
    pub checkpoint: Checkpoint,
    /// The signed checkpoint note.
    pub note: String,
}

/// A run's records built in memory: [`build`]'s answer, for tests and benchmarks.
#[derive(Debug, Clone)]
pub struct BuiltRun {
    pub inputs: Vec<Entry>,
    pub findings: Vec<Entry>,
    pub append: RunAppend,
}

/// Where the log stands before the run.
pub struct LogState<'a> {
    pub origin: &'a str,
    /// Leaf hashes of the run records so far.
    pub frontier: Frontier,
    pub supersedes: Option<String>,
}

/// A tree of a run's records as the run record commits to it: its size and root. Built leaf
/// by leaf, so that no page of records has to stay in memory once it is stored.
#[derive(Debug, Default)]
pub(crate) struct TreeHead {
    frontier: Frontier,
}

impl TreeHead {
    pub(crate) fn push(&mut self, entry: &Entry) {
        self.frontier.push(entry.leaf);
    }

    /// The seq the next record of the tree takes.
    pub(crate) fn next_seq(&self) -> usize {
        self.frontier.size() as usize
    }
}

/// The input records of `inputs`, the first taking `first_seq`.
pub(crate) fn input_entries(
    run: &RunRecord,
    first_seq: usize,
    inputs: &[InputFacts],
) -> Result<Vec<Entry>, RecordError> {
    (first_seq..)
        .zip(inputs)
        .map(|(seq, input)| entry(seq, input_record(&run.run_id, seq, input)))
        .collect()
}

/// The finding records of `findings`, the first taking `first_seq`.
pub(crate) fn finding_entries(
    run: &RunRecord,
    first_seq: usize,
    findings: &[Finding],
) -> Result<Vec<Entry>, RecordError> {
    (first_seq..)
        .zip(findings)
        .map(|(seq, finding)| {
            entry(
                seq,
                finding_record(&run.run_id, &run.rule_set, seq, finding),
            )
        })
        .collect()
}

/// Builds the run's records, the run record and the signed checkpoint, in memory.
pub fn build(
    state: LogState<'_>,
    signer: &NoteSigner,
    run: &RunRecord,
    inputs: &[InputFacts],
    findings: &[Finding],
) -> Result<BuiltRun, RecordError> {
    let input_entries = input_entries(run, 0, inputs)?;
    let finding_entries = finding_entries(run, 0, findings)?;
    let (mut inputs_head, mut findings_head) = (TreeHead::default(), TreeHead::default());
    input_entries.iter().for_each(|e| inputs_head.push(e));
    finding_entries.iter().for_each(|e| findings_head.push(e));
    let append = close_run(state, signer, run, &inputs_head, &findings_head)?;
    Ok(BuiltRun {
        inputs: input_entries,
        findings: finding_entries,
        append,
    })
}

/// The run record over both trees, and the signed checkpoint of the log it extends.
pub(crate) fn close_run(
    state: LogState<'_>,
    signer: &NoteSigner,
    run: &RunRecord,
    inputs: &TreeHead,
    findings: &TreeHead,
) -> Result<RunAppend, RecordError> {
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
            inputs.frontier.size().to_string(),
            hex::encode(inputs.frontier.root()),
            findings.frontier.size().to_string(),
            hex::encode(findings.frontier.root()),
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
        inputs: inputs.frontier.size(),
        findings: findings.frontier.size(),
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
