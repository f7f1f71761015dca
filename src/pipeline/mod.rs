//! One audit run: evidence from the store, a finding per conversation, the run, its findings
//! and its ledger records stored in one transaction, then the report files and the anchors.
//!
//! The reports are rendered before the run is committed, because the run (and its ledger run
//! record) stores the SHA-256 of `manifest.json`: into a staging folder beside the report
//! folder, hashed as they are written, and renamed into the report folder after the commit. A
//! crash in between leaves a stored run without files in its folder, which
//! `recaudit report --run ID` regenerates byte for byte.

pub mod hold;
pub mod night;
pub mod window;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::audit::coverage::{self, Coverage};
use crate::audit::{self, Finding, Findings, FindingsWriter, Policy, RULE_SET};
use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::ledger::anchor::{self, AnchorOutcome};
use crate::ledger::append::RunAppend;
use crate::ledger::note::Checkpoint;
use crate::ledger::seal;
use crate::report::{self, ReportContext, ReportOptions, Tally};
use crate::store::DatabaseLock;
use crate::store::{EVIDENCE_PAGE, RunRecord, RunTransaction, Store};
use crate::time::Timestamp;

/// The software token recorded with every run.
pub const SOFTWARE: &str = concat!("recaudit-", env!("CARGO_PKG_VERSION"));

/// What to audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditWindow {
    /// Conversations whose conversationStart is at or after this instant...
    pub from: Timestamp,
    /// ...and before this one.
    pub to: Timestamp,
    /// The instant the verdicts are made at (grace windows and ages are measured to it).
    pub as_of: Timestamp,
}

impl AuditWindow {
    /// A window can be audited once it has ended (the ledger requires window-end <=
    /// completed) and only if it is not empty.
    pub fn check(&self) -> Result<()> {
        if self.from >= self.to {
            return Err(Error::Usage(format!(
                "--from ({}) must be before --to ({})",
                self.from, self.to
            )));
        }
        if self.to > Timestamp::now() {
            return Err(Error::Usage(format!(
                "--to ({}) is in the future; audit a window once it has ended",
                self.to
            )));
        }
        Ok(())
    }
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct AuditOutcome {
    pub run: RunRecord,
    pub tally: Tally,
    pub summary: String,
    pub report_dir: PathBuf,
    /// What the run appended to the ledger (records, run record, signed checkpoint).
    pub ledger: RunAppend,
    /// Anchoring of the new checkpoint (time stamp, directory copy), when configured.
    pub anchors: AnchorOutcome,
    /// Sealed although the evidence does not cover the window (`--allow-partial`).
    pub partial: bool,
}

/// A window read and judged, not yet sealed: what [`prepare_audit`] hands to [`seal_audit`].
/// Reading comes first so that a window the evidence does not cover is refused before
/// anything is created (not even the ledger key of a first run).
#[derive(Debug)]
pub struct PreparedAudit {
    window: AuditWindow,
    findings: Findings,
    raw_inputs: std::collections::BTreeSet<i64>,
    pub coverage: Coverage,
    /// Held until the run is committed (see [`prepare_audit`]).
    _import_lock: DatabaseLock,
}

impl PreparedAudit {
    /// The verdicts, in the order the evidence was read (conversation id).
    pub fn findings(&self) -> &Findings {
        &self.findings
    }
}

/// Reads the window's evidence in one snapshot, states its coverage and evaluates every
/// conversation. A window the evidence does not cover (see `crate::audit::coverage`) is
/// refused with [`Error::EvidenceGap`] unless `allow_partial`, which marks the run partial.
pub async fn prepare_audit(
    store: &Store,
    policy: &Policy,
    window: AuditWindow,
    allow_partial: bool,
) -> Result<PreparedAudit> {
    window.check()?;
    policy.validate().map_err(Error::Usage)?;

    // One snapshot for the coverage and every page of evidence. An import commits file by
    // file, so the audit first waits for a running import to finish and then keeps imports
    // out until its run is committed: every import lands wholly before or wholly after it.
    let import_lock = store
        .import_lock(|| {
            tracing::warn!(
                "an import into this database is running; the audit waits for it to finish, so that it sees all of it or none"
            )
        })
        .await?;
    let mut snapshot = store.snapshot().await?;
    let facts = snapshot.coverage_facts(window.from, window.to).await?;
    // Never a verdict over conversations that may not have been delivered yet.
    if let Some(horizon) = facts.horizon
        && horizon < window.to
    {
        return Err(Error::NotCovered {
            horizon,
            window_end: window.to,
        });
    }
    let (mut coverage, gaps) = coverage::assess(window.from, window.to, &facts);
    if !gaps.is_empty() {
        if !allow_partial {
            return Err(Error::EvidenceGap {
                from: window.from,
                to: window.to,
                gaps: coverage.gaps.join("; "),
            });
        }
        coverage.partial = true;
    }

    // Page through the window so memory holds findings, not the whole night's evidence; keep
    // the raw inputs the evidence came from, the run's chain of custody.
    let ids = snapshot.window_ids(window.from, window.to).await?;
    let mut findings = FindingsWriter::new()?;
    let mut raw_inputs = std::collections::BTreeSet::new();
    for chunk in ids.chunks(EVIDENCE_PAGE) {
        let page = snapshot.load_evidence_for(chunk).await?;
        for evidence in &page.evidence {
            let mut finding = audit::evaluate(evidence, policy, window.as_of);
            if finding.started.is_empty() {
                // Only a damaged row lacks a readable start (its text sorts into the window);
                // the ledger needs an instant, and the detail says which one stands in.
                finding.started = window.from.to_string();
                finding.detail.push_str(
                    " Its conversationStart cannot be read; the window start stands in for it.",
                );
            }
            findings.push(&finding)?;
        }
        raw_inputs.extend(page.raw_inputs);
    }
    drop(snapshot);
    let findings = findings.finish()?;
    tracing::info!(
        conversations = findings.len(),
        inputs = raw_inputs.len(),
        partial = coverage.partial,
        "evaluated"
    );
    Ok(PreparedAudit {
        window,
        findings,
        raw_inputs,
        coverage,
        _import_lock: import_lock,
    })
}

/// Stores a prepared audit as a run, appends it to the ledger and writes its reports under
/// `reports_dir/<run-id>/`, with the default report options (UTC, no links).
pub async fn seal_audit(
    store: &Store,
    policy: &Policy,
    ledger: &Ledger,
    prepared: PreparedAudit,
    reports_dir: &Path,
) -> Result<AuditOutcome> {
    seal_audit_with(
        store,
        policy,
        ledger,
        prepared,
        reports_dir,
        &ReportOptions::default(),
    )
    .await
}

/// [`seal_audit`] with the operator's report options.
pub async fn seal_audit_with(
    store: &Store,
    policy: &Policy,
    ledger: &Ledger,
    prepared: PreparedAudit,
    reports_dir: &Path,
    options: &ReportOptions,
) -> Result<AuditOutcome> {
    let PreparedAudit {
        window,
        findings,
        raw_inputs,
        coverage,
        _import_lock,
    } = prepared;
    let coverage_json = serde_json::to_string(&coverage).map_err(|e| Error::Render {
        what: "the run's coverage".into(),
        source: Some(Box::new(e)),
    })?;
    let anchor_dir = ledger
        .settings
        .anchor_dir_for(store.ledger_home().as_deref());
    let known =
        anchor::known_checkpoints(anchor_dir, ledger.signer.verifier(), ledger.origin.clone())
            .await?;

    // The run number and completed time are taken under the write lock the transaction holds,
    // and the completed time is never before the previous run's.
    let mut tx = store.begin_run().await?;
    let (seq, last_completed) = tx.next_run().await?;
    let completed = last_completed.map_or_else(Timestamp::now, |last| last.max(Timestamp::now()));
    let mut run = RunRecord {
        run_id: run_id(completed, seq),
        seq,
        window_start: window.from.to_string(),
        window_end: window.to.to_string(),
        as_of: window.as_of.to_string(),
        completed: completed.to_string(),
        rule_set: RULE_SET.to_string(),
        policy: policy.describe(),
        software: SOFTWARE.to_string(),
        manifest_sha256: String::new(),
        coverage: coverage_json,
        report_set: report::REPORT_SET_CURRENT,
        report_context: String::new(),
    };
    let context = report_context(&mut tx, ledger, &run, &findings, options).await?;
    run.report_context = serde_json::to_string(&context).map_err(|e| Error::Render {
        what: "the run's report context".into(),
        source: Some(Box::new(e)),
    })?;
    let report_dir = reports_dir.join(&run.run_id);
    let reports = report::render(&run, &findings, None, &report_dir)?;
    run.manifest_sha256 = reports.manifest_sha256();
    // What the terminal shows is the summary.md the run seals.
    let summary = String::from_utf8_lossy(&reports.read("summary.md")?).into_owned();
    let appended = store_run(&mut tx, ledger, &known, &run, &raw_inputs, &findings).await?;
    crate::failpoint::hit("before-commit");
    tx.commit().await?;
    drop(_import_lock);
    let anchors = publish(store, ledger, &reports, &[], &appended).await?;
    Ok(AuditOutcome {
        summary,
        tally: Tally::of(&findings),
        partial: coverage.partial,
        run,
        report_dir,
        ledger: appended,
        anchors,
    })
}

/// After a sealed entry (a run, a hold version, a matter report) is committed: writes its
/// reports (those in `only`, all when empty) and the checkpoint that seals them into their
/// folder, then anchors the checkpoint.
pub(crate) async fn publish(
    store: &Store,
    ledger: &Ledger,
    reports: &report::ReportSet,
    only: &[&str],
    appended: &RunAppend,
) -> Result<AnchorOutcome> {
    reports.write_only(only)?;
    report::write_checkpoint_note(reports.target(), appended.note.as_bytes())?;
    Ok(anchor::anchor_checkpoint(
        store,
        &ledger.settings,
        &appended.checkpoint,
        &appended.note,
    )
    .await)
}

/// What the run's reports need beyond its findings, read on its transaction: the ledger
/// position it takes, the run it supersedes, the trend of earlier runs.
async fn report_context(
    tx: &mut RunTransaction,
    ledger: &Ledger,
    run: &RunRecord,
    findings: &Findings,
    options: &ReportOptions,
) -> Result<ReportContext> {
    let (index, previous_root) = seal::log_position(tx).await?;
    let previous_checkpoint = match tx.newest_checkpoint().await? {
        Some((size, note)) if size as u64 == index => {
            Some(String::from_utf8_lossy(&note).into_owned())
        }
        _ => None,
    };
    let supersedes = tx.newest_run_over(run).await?;
    let mut trend = Vec::new();
    for stored in tx
        .recent_report_contexts(report::TREND_RUNS as i64)
        .await?
        .into_iter()
        .rev()
    {
        let earlier: ReportContext = serde_json::from_str(&stored)
            .map_err(|e| Error::Corrupt(format!("an earlier run's report context: {e}")))?;
        trend.extend(earlier.trend.last().cloned());
    }
    trend.push(report::TrendPoint::of(run, findings));
    Ok(ReportContext {
        time_zone: options.time_zone.clone(),
        origin: ledger.origin.clone(),
        index,
        previous_root,
        previous_checkpoint,
        supersedes,
        interaction_link: options.interaction_link.clone(),
        trend,
    })
}

/// Stores `run`, its findings and the raw inputs they used, and appends it to the ledger, all
/// on the run's transaction (committed by the caller): the whole run or nothing.
pub async fn store_run(
    tx: &mut RunTransaction,
    ledger: &Ledger,
    known: &[(String, Checkpoint)],
    run: &RunRecord,
    raw_inputs: &BTreeSet<i64>,
    findings: &Findings,
) -> Result<RunAppend> {
    tx.insert_run(run).await?;
    for page in findings.pages(STORE_PAGE) {
        tx.insert_findings(&run.run_id, page?.iter().map(Finding::to_stored))
            .await?;
    }
    tx.insert_run_inputs(&run.run_id, raw_inputs).await?;
    seal::append_run(tx, ledger, known, run, findings).await
}

/// Findings written to the store (and read from it) at a time.
const STORE_PAGE: usize = 5_000;

/// A stored run's findings, in conversation-id order.
pub async fn load_findings(store: &Store, run_id: &str) -> Result<Findings> {
    load_findings_where(store, run_id, |_| true).await
}

/// The stored run's findings that `keep` selects, in conversation-id order.
pub(crate) async fn load_findings_where(
    store: &Store,
    run_id: &str,
    keep: impl Fn(&Finding) -> bool,
) -> Result<Findings> {
    let mut findings = FindingsWriter::new()?;
    let mut after = String::new();
    loop {
        let page = store
            .load_findings_page(run_id, &after, STORE_PAGE as i64)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.conversation_id.clone();
        for stored in page {
            let finding = Finding::from_stored(stored)
                .map_err(|e| Error::Corrupt(format!("{e} in run {run_id}")))?;
            if keep(&finding) {
                findings.push(&finding)?;
            }
        }
    }
    findings.finish()
}

/// Audits a window whose evidence covers it, appends it to the ledger and writes its reports
/// under `reports_dir/<run-id>/`: [`prepare_audit`] then [`seal_audit`].
pub async fn run_audit(
    store: &Store,
    policy: &Policy,
    ledger: &Ledger,
    window: AuditWindow,
    reports_dir: &Path,
) -> Result<AuditOutcome> {
    let prepared = prepare_audit(store, policy, window, false).await?;
    seal_audit(store, policy, ledger, prepared, reports_dir).await
}

/// Regenerates a stored run's reports, checking that they hash to what the run recorded.
pub async fn regenerate_reports(
    store: &Store,
    run_id: &str,
    reports_dir: &Path,
) -> Result<PathBuf> {
    regenerate_only(store, run_id, reports_dir, &[]).await
}

/// [`regenerate_reports`], writing only the files named in `only` and the manifest (all when
/// it is empty); every file is still rendered and checked against the manifest.
pub async fn regenerate_only(
    store: &Store,
    run_id: &str,
    reports_dir: &Path,
    only: &[&str],
) -> Result<PathBuf> {
    let run = crate::ledger::sealed::sealed_run(store, run_id).await?;
    match run.rule_set.as_str() {
        hold::MATTER_RULE_SET => {
            return Ok(hold::regenerate_matter(store, run_id, reports_dir, only)
                .await?
                .dir);
        }
        hold::HOLD_RULE_SET => return hold::regenerate_hold(store, run_id, reports_dir).await,
        _ => {}
    }
    let findings = load_findings(store, run_id).await?;
    let dir = reports_dir.join(&run.run_id);
    let reports = report::render(&run, &findings, None, &dir)?;
    let sha = reports.manifest_sha256();
    if sha != run.manifest_sha256 {
        return Err(Error::ReportMismatch(format!(
            "the regenerated reports of run {run_id} do not match the manifest it recorded (stored {}, now {sha}): the stored findings changed or this recaudit renders differently than {}; nothing was written",
            run.manifest_sha256, run.software
        )));
    }
    reports.write_only(only)?;
    write_sealing_checkpoint(store, &run, &dir).await?;
    Ok(dir)
}

/// Writes `checkpoint.note` beside the reports of a run of report set 2 or later.
pub(crate) async fn write_sealing_checkpoint(
    store: &Store,
    run: &RunRecord,
    dir: &Path,
) -> Result<()> {
    if run.report_set < 2 {
        return Ok(());
    }
    match store.checkpoint_sealing(&run.run_id).await? {
        Some(note) => report::write_checkpoint_note(dir, &note),
        None => Ok(()),
    }
}

/// `YYYYMMDD-HHMMSS-<seq>`: sortable, unique per database, and a ledger token.
fn run_id(completed: Timestamp, seq: i64) -> String {
    let text = completed.to_string();
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    format!(
        "{}-{}-{seq}",
        &digits[..8.min(digits.len())],
        &digits[8.min(digits.len())..14.min(digits.len())]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_date_time_and_sequence() {
        let at = Timestamp::parse("2026-07-15T02:03:04.567Z").unwrap();
        assert_eq!(run_id(at, 12), "20260715-020304-12");
    }
}
