//! [`EvidenceStore`]: the store operations the importer and the API client need, so that the
//! source layer never names the store (docs/ARCHITECTURE.md, "Dependency rule": the store
//! depends on the sources' types, not the reverse).
//!
//! `recaudit import` and `recaudit pull` are generic over this trait; `store::Store` implements
//! it for SQLite, and a test (or another database) can implement it without either knowing. What
//! makes the importer correct is not the SQL but the guarantees listed on each method: a
//! backend that keeps them keeps every promise `import` and `pull` make (re-imports add
//! nothing, a kill loses nothing and skips nothing, a refused file is rejected alone).

use std::collections::{HashMap, HashSet};
use std::future::Future;

use super::batch::{ImportBatch, KnownObject, PullState, RawInput, WriteSummary};
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// Where imported and pulled evidence is kept.
///
/// A backend must guarantee:
///
/// - **Each batch is one transaction.** [`EvidenceStore::write_batch`] stores all of a batch
///   (its raw inputs, their typed rows, its pull progress) or none of it, even when the process
///   is killed mid-write.
/// - **Progress rides with its pages.** The `PullProgress` of a
///   batch is written in that batch's transaction, never on its own: after any kill a pull
///   finds either a page, its rows and the cursor past it, or none of them.
/// - **A streamed input is whole or nothing.** Everything written through one
///   [`EvidenceStore::Streamed`] is visible only after [`StreamedWrite::commit`]; dropped or
///   rolled back, nothing of it stays.
/// - **Raw inputs are kept verbatim** and are what [`EvidenceStore::known_inputs_among`] reports, so
///   an unchanged file (same source, same SHA-256) is recognised and skipped.
/// - **Input errors are told apart from store errors** ([`EvidenceStore::is_about_the_input`]):
///   the first reject one input alone, the second stop the import.
pub trait EvidenceStore: Sync {
    /// A raw input being stored part by part (see [`EvidenceStore::begin_streamed_input`]).
    type Streamed: StreamedWrite + Send;

    /// The stored (source, SHA-256) pairs of these sources: an input stored with the same
    /// source and SHA-256 is skipped, which is what makes importing the same tree again a
    /// no-op. Imports ask a list of inputs at a time, so that neither their memory nor their
    /// start grows with the inputs stored before.
    fn known_inputs_among(
        &self,
        sources: &[String],
    ) -> impl Future<Output = Result<HashSet<(String, String)>>> + Send;

    /// The inputs of these sources read from an object store, by (source, ETag): an S3 import
    /// skips an object listed with a stored source and ETag without reading it (unless it
    /// must now hash a media object that was only listed before).
    fn known_objects_among(
        &self,
        sources: &[String],
    ) -> impl Future<Output = Result<HashMap<(String, String), KnownObject>>> + Send;

    /// The record rejections stored with each input, by (source, SHA-256), in record order, so
    /// that importing an unchanged file names its rejected records again.
    fn stored_record_rejections(
        &self,
    ) -> impl Future<Output = Result<HashMap<(String, String), Vec<String>>>> + Send;

    /// The id of the newest raw input (0 when there is none); inputs stored later have larger
    /// ids. An import notes it first, to ask [`EvidenceStore::conflicts_since`] at its end.
    fn newest_input_id(&self) -> impl Future<Output = Result<i64>> + Send;

    /// The conflicts revealed by the inputs stored after `input` (differing copies of a
    /// conversation's details, a recording claimed by two conversations), one sentence each,
    /// in a stable order.
    fn conflicts_since(&self, input: i64) -> impl Future<Output = Result<Vec<String>>> + Send;

    /// Writes `batch` in one transaction, with the pull progress it carries: all of it or none.
    /// A conversation stored again replaces the stored copy unless that one has ended and the
    /// new one has not (details only grow).
    fn write_batch(&self, batch: &ImportBatch)
    -> impl Future<Output = Result<WriteSummary>> + Send;

    /// Starts storing `input` (its `body` ignored) whose bytes and rows arrive in parts; nothing
    /// of it is visible to anyone until [`StreamedWrite::commit`].
    fn begin_streamed_input(
        &self,
        input: &RawInput,
    ) -> impl Future<Output = Result<Self::Streamed>> + Send;

    /// Whether `error`, returned by this backend while writing, is about what was being written
    /// (a value too large, a constraint the input breaks, a full disk) rather than about the
    /// backend itself (read-only, locked, damaged, unreachable). The first rejects that input
    /// alone and the import goes on; the second stops the import.
    fn is_about_the_input(&self, error: &Error) -> bool;

    /// Starts or resumes the pull of `[from, to)` from `api`: an unfinished pull's progress is
    /// returned as it was last committed; a finished one starts over from the default state.
    fn begin_pull(
        &self,
        from: Timestamp,
        to: Timestamp,
        api: &str,
    ) -> impl Future<Output = Result<PullState>> + Send;

    /// Marks the pull finished: the next pull of the window starts over.
    fn complete_pull(
        &self,
        from: Timestamp,
        to: Timestamp,
        api: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The ids of the stored conversations that started in `[from, to)`, sorted.
    fn window_ids(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<Vec<String>>> + Send;

    /// Conversations of `[from, to)` that still need a recording-metadata request: never
    /// answered (or whose newest finding is `pending`), less those the unfinished pull of the
    /// window from `api` already received; with `media_types`, only those where an agent or
    /// user interacted on one of those media. Sorted.
    fn conversations_needing_metadata(
        &self,
        from: Timestamp,
        to: Timestamp,
        api: &str,
        media_types: Option<&[String]>,
    ) -> impl Future<Output = Result<Vec<String>>> + Send;
}

/// One raw input being stored part by part (an NDJSON file read as a stream), inside a
/// transaction of its own: memory holds one part, the store holds the file whole or not at all.
pub trait StreamedWrite: Sized {
    /// Stores the next piece of the input's bytes and the rows parsed from it. `rows.inputs`
    /// is empty; every row's input index is 0, this input.
    fn write_part(
        &mut self,
        chunk: Vec<u8>,
        rows: &ImportBatch,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Makes the input and everything written with it visible, at once.
    fn commit(self) -> impl Future<Output = Result<WriteSummary>> + Send;

    /// Undoes everything written for this input.
    fn rollback(self) -> impl Future<Output = Result<()>> + Send;
}
