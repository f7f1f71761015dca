//! `recaudit ledger verify`: checks V1 to V10 of docs/ledger-format.md on the database.
//!
//! Every record is re-read as stored bytes, parsed strictly and re-hashed; nothing is trusted
//! from typed columns or stored leaf hashes (those are compared and only linted). Failures name
//! the check, the run and the seq. Two verdicts are kept apart: integrity (nothing altered:
//! V1, V2, V3, V5, V6, V7, V9) and completeness (nothing missing since the checkpoints held:
//! V4, V8, V10).
//!
//! `--since CHECKPOINT` makes the check proportional to what came after a checkpoint the
//! auditor verified before, not to history: the run records are all still read and chained
//! (one per night), the checkpoint must verify and be the root of the first run records, and
//! only the runs after it have their findings and inputs re-read. What the trusted runs hold
//! in the database is not looked at again; the full check (no `--since`) does that.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use super::anchor::{self, AnchorKind};
use super::append;
use super::merkle::{self, Frontier, Hash};
use super::note::{Checkpoint, NoteVerifier};
use super::record::{self, FINDING, INPUT, RUN};
use crate::audit::Finding;
use crate::blocking::on_blocking_thread;
use crate::error::Result;
use crate::store::{Store, Tree};

/// What to check the database against.
pub struct VerifyOptions {
    pub origin: String,
    pub verifier: NoteVerifier,
    /// Older signed checkpoints the auditor kept (file name, note text).
    pub presented: Vec<(String, String)>,
    /// The TSA's CA certificate, to verify RFC 3161 tokens.
    pub tsa_ca: Option<PathBuf>,
    /// The anchor directory: its copies count as checkpoints the auditor holds.
    pub anchor_dir: Option<PathBuf>,
    /// A checkpoint (file name, note text) verified before, whose runs are not re-read.
    pub since: Option<(String, String)>,
}

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub check: &'static str,
    pub run: Option<String>,
    pub(crate) seq: Option<i64>,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FAIL {}", self.check)?;
        if let Some(run) = &self.run {
            write!(f, " run {run}")?;
        }
        if let Some(seq) = self.seq {
            write!(f, " seq {seq}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    pub failures: Vec<Failure>,
    /// Differences in convenience columns (typed findings, stored leaf hashes): the ledger
    /// still verifies, but someone or something changed data beside it.
    pub lints: Vec<String>,
    /// Checks that could not run (and why).
    pub skipped: Vec<String>,
    pub size: u64,
    pub root: Option<Hash>,
    pub findings: u64,
    pub inputs: u64,
    /// The checkpoints from outside the database the head was compared with (name, size):
    /// only these can reveal that the newest runs were deleted with their checkpoints.
    pub compared: Vec<(String, u64)>,
    /// The checkpoint of `--since` (name, size) when it was trusted: the first `size` runs'
    /// findings and inputs were not re-read, and `findings` and `inputs` count only the rest.
    pub trusted: Option<(String, u64)>,
}

const COMPLETENESS: &[&str] = &["V4", "V8", "V10"];

impl VerifyReport {
    pub fn integrity_ok(&self) -> bool {
        !self
            .failures
            .iter()
            .any(|f| !COMPLETENESS.contains(&f.check))
    }

    pub fn completeness_ok(&self) -> bool {
        !self
            .failures
            .iter()
            .any(|f| COMPLETENESS.contains(&f.check))
    }

    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }

    pub fn has(&self, check: &str) -> bool {
        self.failures.iter().any(|f| f.check == check)
    }

    fn fail(
        &mut self,
        check: &'static str,
        run: Option<&str>,
        seq: Option<i64>,
        message: impl Into<String>,
    ) {
        self.failures.push(Failure {
            check,
            run: run.map(str::to_string),
            seq,
            message: message.into(),
        });
    }
}

/// A run record's fields the checks need.
struct RunFacts {
    run: String,
    index: String,
    origin: String,
    prev_root: String,
    window_start: String,
    window_end: String,
    completed: String,
    supersedes: String,
    inputs: String,
    inputs_root: String,
    findings: String,
    findings_root: String,
    rule_set: String,
}

impl RunFacts {
    fn of(parsed: &record::Record) -> RunFacts {
        let field = |k: &str| parsed.get(&RUN, k).to_string();
        RunFacts {
            run: field("run"),
            index: field("index"),
            origin: field("origin"),
            prev_root: field("prev-root"),
            window_start: field("window-start"),
            window_end: field("window-end"),
            completed: field("completed"),
            supersedes: field("supersedes"),
            inputs: field("inputs"),
            inputs_root: field("inputs-root"),
            findings: field("findings"),
            findings_root: field("findings-root"),
            rule_set: field("rule-set"),
        }
    }
}

/// The stored checkpoints that verify, by the size they are stored under, with their notes.
type Checkpoints = BTreeMap<u64, (Checkpoint, String)>;

/// The run records as read in order: the log they make and each one's completed time.
#[derive(Default)]
struct RunLog {
    frontier: Frontier,
    leaves: Vec<Hash>,
    /// By run index; empty for a run record that does not parse, so later runs keep their
    /// own index (V3 reads them by checkpoint size).
    completed_by_index: Vec<String>,
}

/// What V7 remembers of the runs before the current one.
#[derive(Default)]
struct RunOrder {
    seen: HashSet<String>,
    previous_completed: Option<String>,
}

/// Verifies the whole ledger in the database.
pub async fn verify(store: &Store, options: &VerifyOptions) -> Result<VerifyReport> {
    // Every table is read as of one moment: on PostgreSQL another worker may seal a run while
    // this one reads, and a log read half before and half after that commit is no log at all.
    let frozen = store.frozen().await?;
    let store = &frozen;
    let mut report = VerifyReport::default();
    let checkpoints = check_stored_checkpoints(store, options, &mut report).await?;
    let runs = store.ledger_runs().await?;
    let trusted = trusted_prefix(options, &runs, &mut report);
    let log = check_run_log(store, options, &runs, &checkpoints, trusted, &mut report).await?;
    check_typed_runs(store, &runs, &mut report).await?;

    let latest = checkpoints.values().next_back().cloned();
    report.size = log.leaves.len() as u64;
    check_newest_checkpoint(&latest, &log, &mut report);
    check_run_inclusion(&latest, &log.leaves, &runs, &mut report);
    check_checkpoint_sequence(&checkpoints, &log.leaves, &mut report);

    let mut presented = presented_checkpoints(store, options, &mut report).await?;
    presented.extend(options.since.clone());
    for (name, note) in &presented {
        check_presented(
            name,
            note,
            options,
            &latest,
            &log.leaves,
            &log.frontier,
            &mut report,
        );
    }

    check_anchors(
        store,
        options,
        &checkpoints,
        &log.completed_by_index,
        trusted,
        &mut report,
    )
    .await?;
    Ok(report)
}

/// How many runs `--since` lets the check trust: the size of its checkpoint when that
/// verifies (V1, V2) and is the root of the first run records as stored, else 0 (a failure
/// then, and every run is re-read). Its consistency with the head is V8's, as for any
/// checkpoint the auditor presents.
fn trusted_prefix(
    options: &VerifyOptions,
    runs: &[crate::store::LedgerRun],
    report: &mut VerifyReport,
) -> u64 {
    let Some((name, note)) = &options.since else {
        return 0;
    };
    let checkpoint = match options.verifier.verify_checkpoint(note, &options.origin) {
        Ok(checkpoint) => checkpoint,
        Err(e) => {
            report.fail(
                e.check(),
                None,
                None,
                format!(
                    "the --since checkpoint {name} does not verify, so nothing is trusted: {}",
                    strip_check(&e.to_string())
                ),
            );
            return 0;
        }
    };
    let Some(prefix) = runs.get(..checkpoint.size as usize) else {
        // V8 reports the truncated log.
        return 0;
    };
    let leaves: Vec<Hash> = prefix
        .iter()
        .map(|run| merkle::leaf_hash(&run.record))
        .collect();
    if merkle::root(&leaves) != checkpoint.root {
        // V8 reports the rewritten history; the runs are all re-read to show where.
        return 0;
    }
    report.trusted = Some((name.clone(), checkpoint.size));
    checkpoint.size
}

/// V1, V2: every stored checkpoint is UTF-8, signed by the ledger's key for its origin, and
/// says the size it is stored under. A failure means a checkpoint was forged or altered; only
/// the ones that verify are returned, for the checks that compare the log with them.
async fn check_stored_checkpoints(
    store: &Store,
    options: &VerifyOptions,
    report: &mut VerifyReport,
) -> Result<Checkpoints> {
    let mut checkpoints = Checkpoints::new();
    for (size, bytes) in store.ledger_checkpoints().await? {
        let Ok(note) = String::from_utf8(bytes) else {
            report.fail("V1", None, None, format!("checkpoint {size} is not UTF-8"));
            continue;
        };
        match options.verifier.verify_checkpoint(&note, &options.origin) {
            Ok(checkpoint) if checkpoint.size == size => {
                checkpoints.insert(size, (checkpoint, note));
            }
            Ok(checkpoint) => report.fail(
                "V1",
                None,
                None,
                format!(
                    "checkpoint stored as size {size} says size {}",
                    checkpoint.size
                ),
            ),
            Err(e) => report.fail(
                e.check(),
                None,
                None,
                format!("checkpoint {size}: {}", strip_check(&e.to_string())),
            ),
        }
    }
    Ok(checkpoints)
}

/// Reads the run records in order, checking each (V5, V7, and the trees of those after the
/// `trusted` ones: V6, V9) and each prefix of the log that has a checkpoint (V10), and returns
/// the log they make.
async fn check_run_log(
    store: &Store,
    options: &VerifyOptions,
    runs: &[crate::store::LedgerRun],
    checkpoints: &Checkpoints,
    trusted: u64,
    report: &mut VerifyReport,
) -> Result<RunLog> {
    let mut log = RunLog::default();
    let mut order = RunOrder::default();
    for (position, stored) in runs.iter().enumerate() {
        let leaf = merkle::leaf_hash(&stored.record);
        if stored.leaf_hash != leaf {
            report.lints.push(format!(
                "run record {} has a stored leaf hash that does not match its bytes",
                stored.idx
            ));
        }
        check_run_position(stored, position, report);
        match record::parse(&RUN, &stored.record) {
            Err(e) => {
                log.completed_by_index.push(String::new());
                report.fail(
                    "V5",
                    Some(&stored.run_id),
                    None,
                    format!("run record {position} does not parse: {e}"),
                );
            }
            Ok(parsed) => {
                let facts = RunFacts::of(&parsed);
                check_run_chain(&facts, stored, position, options, &log.frontier, report);
                check_run_order(&facts, &order, report);
                order.previous_completed = Some(facts.completed.clone());
                order.seen.insert(facts.run.clone());
                log.completed_by_index.push(facts.completed.clone());
                if position as u64 >= trusted {
                    check_run_trees(store, &facts, report).await?;
                }
            }
        }
        log.frontier.push(leaf);
        log.leaves.push(leaf);
        check_checkpoint_prefix(checkpoints, &log.frontier, report);
    }
    Ok(log)
}

/// V5: a run record is stored at the position its index column says. A failure means run
/// records were deleted, inserted or reordered in the table.
fn check_run_position(
    stored: &crate::store::LedgerRun,
    position: usize,
    report: &mut VerifyReport,
) {
    if stored.idx != position as i64 {
        report.fail(
            "V5",
            Some(&stored.run_id),
            None,
            format!(
                "run record stored at position {} has index {}",
                position, stored.idx
            ),
        );
    }
}

/// V5: a run record chains onto the log before it: its index is its position, its origin the
/// ledger's, its prev-root the root of the records before it. A failure means a run was
/// deleted, inserted or reordered, or comes from another ledger. A record stored under another
/// run's id is only linted.
fn check_run_chain(
    facts: &RunFacts,
    stored: &crate::store::LedgerRun,
    position: usize,
    options: &VerifyOptions,
    frontier: &Frontier,
    report: &mut VerifyReport,
) {
    let run = &facts.run;
    if facts.index != position.to_string() {
        report.fail(
            "V5",
            Some(run),
            None,
            format!("index is {} at position {position}", facts.index),
        );
    }
    if facts.origin != options.origin {
        report.fail(
            "V5",
            Some(run),
            None,
            format!("origin is `{}`, not `{}`", facts.origin, options.origin),
        );
    }
    if facts.prev_root != hex::encode(frontier.root()) {
        report.fail(
            "V5",
            Some(run),
            None,
            "prev-root is not the root of the log before it (a run was deleted, inserted or reordered)",
        );
    }
    if *run != stored.run_id {
        report.lints.push(format!(
            "run record {position} names run {run} but is stored under {}",
            stored.run_id
        ));
    }
}

/// V7: a run's times are in order (window-start <= window-end <= completed, and completed not
/// before the previous run's), its id is new and it supersedes only an earlier run. A failure
/// means a run record was altered or forged with times or a history that cannot have happened.
fn check_run_order(facts: &RunFacts, order: &RunOrder, report: &mut VerifyReport) {
    let run = &facts.run;
    if !(facts.window_start <= facts.window_end && facts.window_end <= facts.completed) {
        report.fail(
            "V7",
            Some(run),
            None,
            "window-start <= window-end <= completed does not hold",
        );
    }
    if let Some(previous) = &order.previous_completed
        && facts.completed < *previous
    {
        report.fail(
            "V7",
            Some(run),
            None,
            format!(
                "completed {} is before the previous run's {previous}",
                facts.completed
            ),
        );
    }
    if order.seen.contains(run) {
        report.fail("V7", Some(run), None, "the run id appears twice in the log");
    }
    let supersedes = &facts.supersedes;
    if supersedes != "none" && !order.seen.contains(supersedes) {
        report.fail(
            "V7",
            Some(run),
            None,
            format!("supersedes {supersedes}, which is not an earlier run"),
        );
    }
}

/// V10: a stored checkpoint of the log's current size has the root of the run records so far.
/// A failure means the run records before it were altered since it was signed.
fn check_checkpoint_prefix(
    checkpoints: &Checkpoints,
    frontier: &Frontier,
    report: &mut VerifyReport,
) {
    if let Some((checkpoint, _)) = checkpoints.get(&frontier.size())
        && checkpoint.root != frontier.root()
    {
        report.fail(
            "V10",
            None,
            None,
            format!(
                "checkpoint {} does not match the first {} run records",
                checkpoint.size, checkpoint.size
            ),
        );
    }
}

/// V4: the newest checkpoint covers exactly the log, with its root. A failure means runs were
/// appended without a checkpoint, or deleted or altered after it; the report's root is the
/// newest checkpoint's either way.
fn check_newest_checkpoint(
    latest: &Option<(Checkpoint, String)>,
    log: &RunLog,
    report: &mut VerifyReport,
) {
    let runs = log.leaves.len();
    match latest {
        None if runs == 0 => {}
        None => report.fail(
            "V4",
            None,
            None,
            format!("the log has {runs} runs but no valid checkpoint"),
        ),
        Some((checkpoint, _)) => {
            if checkpoint.size != runs as u64 {
                report.fail(
                    "V4",
                    None,
                    None,
                    format!(
                        "the newest checkpoint has size {} but the log has {runs} run records",
                        checkpoint.size
                    ),
                );
            } else if checkpoint.root != log.frontier.root() {
                report.fail(
                    "V4",
                    None,
                    None,
                    "the newest checkpoint's root is not the root of the run records",
                );
            }
            report.root = Some(checkpoint.root);
        }
    }
}

/// V9: every run record is provably in the newest checkpoint (when it covers the log; V4
/// reports it otherwise). A failure means the run record is not the one the checkpoint signed.
fn check_run_inclusion(
    latest: &Option<(Checkpoint, String)>,
    run_leaves: &[Hash],
    runs: &[crate::store::LedgerRun],
    report: &mut VerifyReport,
) {
    let Some((checkpoint, _)) = latest else {
        return;
    };
    if checkpoint.size != run_leaves.len() as u64 {
        return;
    }
    for (index, leaf) in run_leaves.iter().enumerate() {
        let proof = merkle::inclusion_proof(run_leaves, index);
        if !merkle::verify_inclusion(
            index as u64,
            checkpoint.size,
            leaf,
            &proof,
            &checkpoint.root,
        ) {
            let run = runs.get(index).map(|r| r.run_id.as_str());
            report.fail(
                "V9",
                run,
                None,
                "the run record's inclusion proof does not verify against the checkpoint",
            );
        }
    }
}

/// V10: a checkpoint of every size up to the newest, and each consistent with the one before.
/// A failure means a checkpoint was deleted, or history was rewritten between two of them.
fn check_checkpoint_sequence(
    checkpoints: &Checkpoints,
    run_leaves: &[Hash],
    report: &mut VerifyReport,
) {
    let newest = checkpoints.keys().next_back().copied().unwrap_or(0);
    let missing: Vec<String> = (1..=newest)
        .filter(|s| !checkpoints.contains_key(s))
        .map(|s| s.to_string())
        .collect();
    if !missing.is_empty() {
        report.fail(
            "V10",
            None,
            None,
            format!("no valid checkpoint of size {}", missing.join(", ")),
        );
    }
    let sizes: Vec<u64> = checkpoints.keys().copied().collect();
    for pair in sizes.windows(2) {
        let (old, new) = (pair[0], pair[1]);
        if new as usize > run_leaves.len() {
            continue; // V4 already reports the missing runs.
        }
        let proof = merkle::consistency_proof(&run_leaves[..new as usize], old as usize);
        if !merkle::verify_consistency(
            old,
            new,
            &checkpoints[&old].0.root,
            &checkpoints[&new].0.root,
            &proof,
        ) {
            report.fail(
                "V10",
                None,
                None,
                format!("checkpoints {old} and {new} are not consistent"),
            );
        }
    }
}

/// V8, its input: the checkpoints the auditor kept and the copies in the anchor directory. An
/// anchor directory that cannot be read fails V8 when copies were made there (they can no
/// longer be compared), and skips it otherwise.
async fn presented_checkpoints(
    store: &Store,
    options: &VerifyOptions,
    report: &mut VerifyReport,
) -> Result<Vec<(String, String)>> {
    let mut presented = options.presented.clone();
    let Some(dir) = &options.anchor_dir else {
        return Ok(presented);
    };
    let listed = dir.clone();
    let notes = on_blocking_thread(anchor::DIRECTORY_FAILED, dir, move || {
        anchor::read_dir_notes(&listed)
    });
    match notes.await? {
        Ok(notes) => presented.extend(notes),
        Err(e) => {
            let anchored = store
                .ledger_anchors()
                .await?
                .iter()
                .any(|a| AnchorKind::parse(&a.kind) == Some(AnchorKind::Directory));
            if anchored {
                report.fail("V8", None, None, format!("the anchor directory {} cannot be read ({e}), so the copies made there cannot be compared", dir.display()));
            } else {
                report.skipped.push(format!(
                    "V8: the anchor directory {} cannot be read ({e})",
                    dir.display()
                ));
            }
        }
    }
    Ok(presented)
}

/// Checks one tree of a run, record by record (V6), and computes its leaves. Pure: the
/// database verifier feeds it stored records, the benchmark records in memory.
pub struct TreeCheck<'a> {
    run: &'a str,
    tree: Tree,
    pub leaves: Vec<Hash>,
    interactions: HashSet<String>,
    pub failures: Vec<Failure>,
}

impl<'a> TreeCheck<'a> {
    pub fn new(run: &'a str, tree: Tree) -> TreeCheck<'a> {
        TreeCheck {
            run,
            tree,
            leaves: Vec::new(),
            interactions: HashSet::new(),
            failures: Vec::new(),
        }
    }

    /// One stored record: its seq column and bytes. Returns its leaf hash.
    pub fn record(&mut self, seq: i64, bytes: &[u8]) -> Hash {
        let position = self.leaves.len() as i64;
        let leaf = merkle::leaf_hash(bytes);
        self.leaves.push(leaf);
        let (run, tree) = (self.run, self.tree);
        let mut fail = |message: String| {
            self.failures.push(Failure {
                check: "V6",
                run: Some(run.to_string()),
                seq: Some(seq),
                message,
            })
        };
        if seq != position {
            fail(format!(
                "{tree} record stored at position {position} has seq {seq}"
            ));
        }
        // The inputs tree holds two layouts; the first line says which (docs/ledger-format.md).
        let layout = match tree {
            Tree::Inputs => record::input_layout(bytes),
            Tree::Findings => &FINDING,
        };
        match record::fields(layout, bytes) {
            Err(e) => fail(format!("{tree} record does not parse: {e}")),
            Ok(values) => {
                if layout.header == INPUT.header && values[2] == record::LISTED_KIND {
                    fail(format!(
                        "an `{}` record has kind {}, which only `{}` records may have: an object that was listed, not hashed, is recorded as hashed",
                        INPUT.header,
                        record::LISTED_KIND,
                        record::LISTED_INPUT.header
                    ));
                }
                if values[1].parse::<i64>().ok() != Some(position) {
                    fail(format!(
                        "{tree} record says seq {} at position {position}",
                        values[1]
                    ));
                }
                if values[0] != run {
                    fail(format!("{tree} record belongs to run {}", values[0]));
                }
                if tree == Tree::Findings && !self.interactions.insert(values[2].to_string()) {
                    fail(format!("interaction {} appears twice", values[2]));
                }
            }
        }
        leaf
    }

    /// Compares the tree with the run record's count and root.
    pub fn finish(&mut self, count: &str, root: &str) {
        if self.leaves.len().to_string() != count {
            self.failures.push(Failure {
                check: "V6",
                run: Some(self.run.to_string()),
                seq: None,
                message: format!(
                    "{} {} records, but the run record says {count}",
                    self.leaves.len(),
                    self.tree
                ),
            });
        }
        if hex::encode(merkle::root(&self.leaves)) != root {
            self.failures.push(Failure {
                check: "V6",
                run: Some(self.run.to_string()),
                seq: None,
                message: format!("the {} root does not match the run record", self.tree),
            });
        }
    }
}

/// V6, V9 for one run: each tree's records are in place and give the count and root the run
/// record states, and its first and last findings are provably in the findings tree. A failure
/// means a record of the run was altered, deleted, inserted or moved. Stale stored leaf hashes
/// and typed findings that differ from the records are only linted.
async fn check_run_trees(store: &Store, facts: &RunFacts, report: &mut VerifyReport) -> Result<()> {
    let typed = typed_finding_leaves(store, facts).await?;
    for (tree, count, root) in [
        (Tree::Inputs, &facts.inputs, &facts.inputs_root),
        (Tree::Findings, &facts.findings, &facts.findings_root),
    ] {
        let mut check = TreeCheck::new(&facts.run, tree);
        let mut stale_leaves = 0usize;
        let mut differing: Vec<i64> = Vec::new();
        store
            .for_each_ledger_entry(&facts.run, tree, |seq, bytes, stored_leaf| {
                let position = check.leaves.len();
                let leaf = check.record(seq, bytes);
                if stored_leaf != leaf {
                    stale_leaves += 1;
                }
                if tree == Tree::Findings && typed.get(position) != Some(&leaf) {
                    differing.push(seq);
                }
                Ok(())
            })
            .await?;
        check.finish(count, root);
        if stale_leaves > 0 {
            report.lints.push(format!(
                "run {} {tree}: {stale_leaves} stored leaf hashes do not match their records",
                facts.run
            ));
        }
        if tree == Tree::Findings && (!differing.is_empty() || typed.len() != check.leaves.len()) {
            let shown: Vec<String> = differing.iter().take(10).map(i64::to_string).collect();
            report.lints.push(format!(
                "run {}: the typed findings table differs from the ledger ({} typed rows, {} ledger records, differing seq {}); the ledger records are authoritative",
                facts.run,
                typed.len(),
                check.leaves.len(),
                if shown.is_empty() { "none".to_string() } else { shown.join(",") }
            ));
        }
        let leaves = std::mem::take(&mut check.leaves);
        report.failures.append(&mut check.failures);
        if tree == Tree::Findings {
            report.findings += leaves.len() as u64;
            check_finding_inclusion(&facts.run, &leaves, root, report);
        } else {
            report.inputs += leaves.len() as u64;
        }
    }
    Ok(())
}

/// The leaves the run's typed findings would give as ledger records. The typed findings are a
/// convenience copy: comparing them flags (not fails) an edit made there without touching the
/// ledger.
async fn typed_finding_leaves(store: &Store, facts: &RunFacts) -> Result<Vec<Hash>> {
    let mut typed: Vec<Hash> = Vec::new();
    store
        .for_each_finding(&facts.run, |finding| {
            // An unreadable typed row simply differs from its record.
            let leaf = finding
                .and_then(Finding::from_stored)
                .ok()
                .and_then(|f| {
                    append::finding_record(&facts.run, &facts.rule_set, typed.len(), &f).ok()
                })
                .map_or([0u8; 32], |bytes| merkle::leaf_hash(&bytes));
            typed.push(leaf);
            Ok(())
        })
        .await?;
    Ok(typed)
}

/// V9: a single-interaction proof for the run's first and last finding verifies against the
/// findings root of its run record. A failure means one interaction's finding cannot be shown
/// to be the one the run sealed.
fn check_finding_inclusion(run: &str, leaves: &[Hash], root: &str, report: &mut VerifyReport) {
    let root_hash = hex::decode(root)
        .ok()
        .and_then(|r| <Hash>::try_from(r).ok());
    for index in [0, leaves.len().saturating_sub(1)] {
        if let Some(leaf) = leaves.get(index) {
            let proof = merkle::inclusion_proof(leaves, index);
            let ok = root_hash.is_some_and(|r| {
                merkle::verify_inclusion(index as u64, leaves.len() as u64, leaf, &proof, &r)
            });
            if !ok {
                report.fail(
                    "V9",
                    Some(run),
                    Some(index as i64),
                    "the finding's inclusion proof does not verify",
                );
            }
        }
    }
}

/// V5 (recaudit's rule) and V6 for the typed tables: every run there is a sealed run that
/// agrees with its run record, and every finding there belongs to a run. A failure means a run
/// was forged or edited in the typed tables, which would otherwise be shown as a run.
async fn check_typed_runs(
    store: &Store,
    runs: &[crate::store::LedgerRun],
    report: &mut VerifyReport,
) -> Result<()> {
    let records: BTreeMap<&str, &[u8]> = runs
        .iter()
        .map(|r| (r.run_id.as_str(), r.record.as_slice()))
        .collect();
    for run_id in store.all_run_ids().await? {
        let Some(bytes) = records.get(run_id.as_str()) else {
            report.fail(
                "V5",
                Some(&run_id),
                None,
                "the runs table has this run but the ledger has no run record for it: it was not written by an audit (a forged run), or its run record was deleted",
            );
            continue;
        };
        let typed = store.load_run(&run_id).await?;
        if let Some(why) = super::sealed::disagreement(&typed, bytes) {
            report.fail(
                "V5",
                Some(&run_id),
                None,
                format!("the runs table disagrees with the run record: {why}"),
            );
        }
    }
    for run_id in store.findings_without_run().await? {
        report.fail(
            "V6",
            Some(&run_id),
            None,
            "the findings table has findings of a run that does not exist",
        );
    }
    Ok(())
}

/// V8: a checkpoint the auditor holds (kept, or copied to the anchor directory) verifies and
/// the current log extends it. A failure means the log was truncated, history was rewritten,
/// or the auditor was shown a different view; the message shows both checkpoints.
fn check_presented(
    name: &str,
    note: &str,
    options: &VerifyOptions,
    latest: &Option<(Checkpoint, String)>,
    run_leaves: &[Hash],
    frontier: &Frontier,
    report: &mut VerifyReport,
) {
    let presented = match options.verifier.verify_checkpoint(note, &options.origin) {
        Ok(checkpoint) => checkpoint,
        Err(e) => {
            report.fail(
                "V8",
                None,
                None,
                format!("presented checkpoint {name} does not verify: {e}"),
            );
            return;
        }
    };
    report.compared.push((name.to_string(), presented.size));
    let current_note = latest
        .as_ref()
        .map_or("(no checkpoint)", |(_, n)| n.as_str());
    if presented.size > run_leaves.len() as u64 {
        report.fail(
            "V8",
            None,
            None,
            format!(
                "presented checkpoint {name} has size {} but the log has only {} runs: the log was truncated\n--- presented ---\n{note}--- current ---\n{current_note}",
                presented.size,
                run_leaves.len()
            ),
        );
        return;
    }
    let proof = merkle::consistency_proof(run_leaves, presented.size as usize);
    let old_root = merkle::root(&run_leaves[..presented.size as usize]);
    let consistent = old_root == presented.root
        && merkle::verify_consistency(
            presented.size,
            run_leaves.len() as u64,
            &presented.root,
            &frontier.root(),
            &proof,
        );
    if !consistent {
        report.fail(
            "V8",
            None,
            None,
            format!(
                "presented checkpoint {name} (size {}) is not consistent with the current log: history was rewritten or a different view was shown\n--- presented ---\n{note}--- current ---\n{current_note}",
                presented.size
            ),
        );
    }
}

/// V3: every RFC 3161 time stamp (of a checkpoint after the trusted ones) verifies against the TSA's CA over its checkpoint, and is not
/// before the run that checkpoint ends completed. A failure means the token is forged or the
/// checkpoint back-dated; without a CA or openssl the check is skipped, not failed.
async fn check_anchors(
    store: &Store,
    options: &VerifyOptions,
    checkpoints: &BTreeMap<u64, (Checkpoint, String)>,
    completed_by_index: &[String],
    trusted: u64,
    report: &mut VerifyReport,
) -> Result<()> {
    for anchor in store.ledger_anchors().await? {
        if AnchorKind::parse(&anchor.kind) != Some(AnchorKind::Rfc3161) || anchor.size <= trusted {
            continue;
        }
        let Some((checkpoint, _)) = checkpoints.get(&anchor.size) else {
            report.fail(
                "V3",
                None,
                None,
                format!(
                    "time stamp for checkpoint {} whose checkpoint is missing",
                    anchor.size
                ),
            );
            continue;
        };
        let Some(ca) = &options.tsa_ca else {
            report.skipped.push(format!(
                "V3: time stamp of checkpoint {} not verified: no [ledger] tsa_ca configured",
                anchor.size
            ));
            continue;
        };
        let completed = completed_by_index
            .get(anchor.size.saturating_sub(1) as usize)
            .cloned();
        match super::anchor::verify_token(&anchor.data, checkpoint.body().as_bytes(), ca).await {
            Ok(stamp) => {
                let completed = completed.and_then(|c| crate::time::Timestamp::parse(&c).ok());
                if let Some(completed) = completed
                    && !stamp.not_before(completed)
                {
                    report.fail(
                        "V3",
                        None,
                        None,
                        format!("checkpoint {} was time-stamped {}, before its run completed {completed}", anchor.size, stamp.time),
                    );
                }
            }
            Err(super::anchor::TokenError::Unavailable(why)) => {
                report.skipped.push(format!("V3: {why}"))
            }
            Err(super::anchor::TokenError::Invalid(why)) => {
                report.fail(
                    "V3",
                    None,
                    None,
                    format!("time stamp of checkpoint {}: {why}", anchor.size),
                );
            }
        }
    }
    Ok(())
}

fn strip_check(message: &str) -> &str {
    message.split_once(' ').map_or(message, |(_, rest)| rest)
}

/// Reads older checkpoints an auditor presents (`--checkpoint FILE`).
pub fn read_presented(paths: &[PathBuf]) -> Result<Vec<(String, String)>> {
    paths.iter().map(|path| read_checkpoint(path)).collect()
}

/// Reads one checkpoint file: (its name, its text).
pub fn read_checkpoint(path: &Path) -> Result<(String, String)> {
    let text = std::fs::read_to_string(path)
        .map_err(crate::error::Error::io("cannot read checkpoint", path))?;
    Ok((display(path), text))
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(header: &str, kind: &str, tail: &str) -> Vec<u8> {
        format!(
            "{header}\nrun r1\nseq 0\nkind {kind}\nsource s3%3A%2F%2Fb%2Fk.opus\nreceived 2026-07-15T02:03:04.005Z\nbytes 10\n{tail}"
        )
        .into_bytes()
    }

    #[test]
    fn an_inputs_tree_takes_both_layouts_but_no_unhashed_object_recorded_as_hashed() {
        let listed = input(
            "recaudit-input-listed v1",
            "export-media-object",
            "etag 0123\nversion none\nmodified 2026-07-14T23:59:58.000Z\n",
        );
        let hashed = input(
            "recaudit-input v1",
            "export-media",
            &format!("sha256 {}\n", "a".repeat(64)),
        );
        for record in [&listed, &hashed] {
            let mut check = TreeCheck::new("r1", Tree::Inputs);
            check.record(0, record);
            assert!(check.failures.is_empty(), "{:?}", check.failures);
        }
        let disguised = input(
            "recaudit-input v1",
            "export-media-object",
            &format!("sha256 {}\n", "a".repeat(64)),
        );
        let mut check = TreeCheck::new("r1", Tree::Inputs);
        check.record(0, &disguised);
        assert_eq!(check.failures.len(), 1, "{:?}", check.failures);
        assert!(check.failures[0].message.contains("listed, not hashed"));
        // A findings tree has one layout only.
        let mut check = TreeCheck::new("r1", Tree::Findings);
        check.record(0, &listed);
        assert!(!check.failures.is_empty());
    }
}
