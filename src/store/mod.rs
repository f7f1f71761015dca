//! The store: everything recaudit knows, kept verbatim and in typed tables.
//!
//! The store is persistence only. It keeps raw inputs byte for byte with the typed rows parsed
//! from them, hands the audit one consistent [`Snapshot`] of a window's evidence, and seals a
//! run on one [`RunTransaction`]; what the rows mean is decided above it (the audit judges, the
//! ledger checks and builds what it seals, the pipeline orchestrates).
//!
//! # The interface a backend implements
//!
//! - [`Store`]: opening, the import and pull operations of [`crate::source::sink::EvidenceStore`]
//!   (whose documentation lists what a backend must guarantee), the ledger's and the runs'
//!   reads, anchors, counts;
//! - [`Snapshot`]: one read transaction for a whole audit (window ids, evidence pages,
//!   coverage facts);
//! - [`RunTransaction`]: one write transaction for a run (the run, its findings and inputs,
//!   and the ledger's reads of the head and inserts of the new records), all or nothing;
//! - [`StreamedInput`]: one raw input written part by part, whole or not at all.
//!
//! They take and return only the backend-neutral types of `rows`, [`evidence`] and
//! `source::batch`. Two backends share them: SQLite (embedded, the default) and PostgreSQL
//! (`postgres://`, for several workers on one database). Their SQL is one code path in
//! [`sql`], in the dialect both accept; what differs (opening and migrating, the write lock,
//! snapshot isolation, locks between processes, error codes) is confined to [`Backend`]'s
//! branches there, and each has its own `migrations/<backend>` (docs/ARCHITECTURE.md,
//! "Recipes").
//!
//! Invariants every backend keeps: findings and ledger rows are only ever inserted (a test
//! greps the SQL for UPDATE and DELETE); times are stored as canonical text, so bytes read
//! back equal bytes written; a stored row that cannot be read back makes only its
//! conversation unreadable, never the whole audit.

pub mod evidence;
pub(crate) mod rows;
pub mod sql;

pub use rows::{
    Anchor, CoverageFacts, DocumentKind, EVIDENCE_PAGE, EntryRow, EvidencePage, HoldRow, LedgerRun,
    ListedObject, MatterReportRow, PulledWindow, RunRecord, StoredFinding, StoredInput, Tree,
};
pub(crate) use sql::MatterReportKey;
pub use sql::lock::{DatabaseLock, import_lock};
pub use sql::{
    Backend, CopySummary, RunTransaction, Snapshot, Store, StreamedInput, copy_database, redacted,
};
