//! The rows the store hands out, whatever the backend: runs, findings, ledger records,
//! coverage facts and evidence pages. Plain data with no SQL in it; each backend reads its
//! tables into these types and writes them from them.

use std::collections::BTreeSet;

use super::evidence::Evidence;
use crate::time::Timestamp;

/// A stored audit run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub run_id: String,
    pub seq: i64,
    pub window_start: String,
    pub window_end: String,
    pub as_of: String,
    pub completed: String,
    pub rule_set: String,
    pub policy: String,
    pub software: String,
    /// SHA-256 of the run's `manifest.json`: binds the report files to the run.
    pub manifest_sha256: String,
    /// The evidence coverage, JSON (the audit's `Coverage`); empty for runs sealed before
    /// coverage was recorded.
    pub coverage: String,
    /// Version of the report set the run's reports were rendered with (1 for runs sealed
    /// before report sets were versioned); its reports are always re-rendered with it.
    pub report_set: i64,
    /// What the reports need beyond the run and its findings, JSON (`report::ReportContext`),
    /// frozen when the run was sealed; empty for report set 1.
    pub report_context: String,
}

/// The stored code of the audit's `pending` status, which the store's own queries look for
/// (a pending conversation's recording metadata is asked again); a unit test of the audit
/// checks that it is `Status::Pending`'s code.
pub(crate) const PENDING_STATUS: &str = "pending";

/// A finding as the `findings` table holds it: the status and reasons as their codes (the
/// audit's `Finding::to_stored` and `Finding::from_stored` translate), lists as values.
/// Also the line format of the audit's findings spool (`audit::findings`).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct StoredFinding {
    pub(crate) conversation_id: String,
    pub(crate) status: String,
    pub(crate) reasons: Vec<String>,
    pub(crate) recordings: Vec<String>,
    pub(crate) media_sha256: Vec<String>,
    pub(crate) started: String,
    pub(crate) ended: Option<String>,
    pub(crate) direction: String,
    pub(crate) media: String,
    pub(crate) queues: Vec<String>,
    pub(crate) users: Vec<String>,
    pub(crate) detail: String,
    /// The audit's particulars of the interaction, JSON; empty for findings sealed before
    /// particulars were kept.
    pub(crate) particulars: String,
}

/// A raw input a run used, with the columns its input record repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInput {
    pub(crate) kind: String,
    pub(crate) source: String,
    /// Canonical UTC text, as stored.
    pub(crate) received: String,
    pub(crate) bytes: i64,
    pub(crate) sha256: String,
    /// For an object that was listed, not read: what the listing said of it, all its ledger
    /// record commits to (its `sha256` is then only the listing's identity, never recorded).
    pub(crate) listed: Option<ListedObject>,
}

/// What a listing said of an object that was not read (`object_listings`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub(crate) etag: String,
    pub(crate) version: Option<String>,
    /// Canonical UTC text, as stored.
    pub(crate) modified: String,
}

/// The two per-run Merkle trees of the ledger (`ledger_entries.tree`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    Inputs,
    Findings,
}

impl Tree {
    pub(crate) const ALL: [Tree; 2] = [Tree::Inputs, Tree::Findings];

    /// The name stored in `ledger_entries.tree` (and used in audit packages' file names).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Tree::Inputs => "inputs",
            Tree::Findings => "findings",
        }
    }
}

impl std::fmt::Display for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One leaf of a run's tree, as stored.
pub struct EntryRow<'a> {
    pub(crate) seq: u64,
    pub(crate) record: &'a [u8],
    pub(crate) leaf: &'a [u8],
}

/// A stored run record.
#[derive(Debug, Clone)]
pub struct LedgerRun {
    pub idx: i64,
    pub run_id: String,
    pub record: Vec<u8>,
    pub(crate) leaf_hash: Vec<u8>,
}

/// A stored anchor.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub(crate) size: u64,
    pub kind: String,
    pub(crate) data: Vec<u8>,
}

/// A pull of conversation details that overlaps the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledWindow {
    pub(crate) from: Timestamp,
    pub(crate) to: Timestamp,
    pub(crate) api_base: String,
    /// Every step of the pull (details, recording metadata, export job, orphans) finished.
    pub(crate) finished: bool,
}

/// The evidence the store holds for a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoverageFacts {
    /// Conversations that started in the window...
    pub(crate) conversations: u64,
    /// ...of which came from API responses (the rest from imported files).
    pub(crate) pulled_conversations: u64,
    /// Pulls overlapping the window.
    pub(crate) pulls: Vec<PulledWindow>,
    /// The newest details availability horizon known.
    pub(crate) horizon: Option<Timestamp>,
    /// Bulk export jobs known (id and state), whose failed recordings were read.
    pub(crate) export_jobs: Vec<(String, String)>,
    /// UTC days (`YYYY-MM-DD`) of the export tree's folders holding the window's media files.
    pub(crate) export_days: Vec<String>,
    /// Media files of the export tree for the window's conversations.
    pub(crate) export_media_files: u64,
    /// Orphan-recording listings stored.
    pub orphan_listings: u64,
}

/// Conversations loaded (and evaluated) at a time: bounds an audit's memory.
pub const EVIDENCE_PAGE: usize = 2_000;

/// Evidence of a page of conversations, with the raw inputs it was parsed from: exactly the
/// inputs a run's findings are based on, recorded with the run (its chain of custody).
#[derive(Debug, Default)]
pub struct EvidencePage {
    pub evidence: Vec<Evidence>,
    pub(crate) raw_inputs: BTreeSet<i64>,
}

/// Documents recaudit writes itself and seals, kept as raw inputs of these kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// A version of a legal hold.
    LegalHold,
    /// The snapshot a matter's report was rendered from.
    MatterReport,
    /// An answer of `POST /api/v2/recordings/deletionprotection`, as received.
    DeletionProtection,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::LegalHold => "legal-hold",
            DocumentKind::MatterReport => "matter-report",
            DocumentKind::DeletionProtection => "deletion-protection",
        }
    }
}

/// One version of a legal hold, with its document and the ledger entry that sealed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRow {
    pub matter: String,
    pub version: i64,
    /// The ledger entry (a run id) that sealed this version.
    pub run_id: String,
    pub raw_input_id: i64,
    pub released: bool,
    /// The hold document, verbatim.
    pub document: Vec<u8>,
    /// SHA-256 of the document.
    pub sha256: String,
    /// When the entry was sealed (its completed time).
    pub sealed: String,
}

/// A matter report: which hold version and audit run it was made of, and its ledger entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatterReportRow {
    pub run_id: String,
    pub matter: String,
    pub version: i64,
    pub audit_run: String,
    pub raw_input_id: i64,
}
