//! What the sources hand to the store: raw inputs, the typed rows parsed from them, batches of
//! both, and the progress of a pull.
//!
//! These types belong to the source layer (docs/ARCHITECTURE.md, "Dependency rule"): the
//! importer and the API client build them, and a backend of [`EvidenceStore`](super::sink::EvidenceStore) writes them. The
//! rows are already checked (ids non-empty and fit for a ledger field, times plausible), so a
//! backend stores them as they are. Every typed row of an [`ImportBatch`] names the index of its
//! raw input in `ImportBatch::inputs`; the backend gives each input its id.

use super::model::{AnalyticsConversation, RecordingJobWire, RecordingSource};
use crate::time::Timestamp;

/// What a raw input is, as recognised by its shape. The text of each ([`InputKind::as_str`]) is
/// what `raw_inputs.kind` stores and the ledger records: it never changes for a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum InputKind {
    /// A page of conversation details: a sync query answer or an async job's results page.
    DetailsPage,
    /// One conversation's details.
    Conversation,
    /// A JSON array of conversations' details.
    Conversations,
    /// Conversations' details as NDJSON, one per line.
    ConversationsNdjson,
    /// `Recording` objects (with the media fields).
    Recording,
    /// `RecordingMetadata` objects.
    RecordingMetadata,
    RecordingJob,
    RecordingJobsPage,
    FailedRecordingsPage,
    OrphanRecordingsPage,
    OrphanRecording,
    /// The details' availability horizon (`dataAvailabilityDate`).
    DetailsAvailability,
    /// A recording's media file in an export tree (only its hash and size are kept).
    ExportMedia,
    /// A recording's media object in an export bucket, known from the listing only (key,
    /// size, ETag, version, last-modified), never downloaded: its `sha256` is not the media's
    /// hash but that of the listing's identity of the object (`source::s3::object_identity`),
    /// and its ledger record is `recaudit-input-listed v1`. A media object read with
    /// `--hash-media` is an `ExportMedia` input, as a local file is.
    #[cfg_attr(not(feature = "s3"), allow(dead_code))]
    ExportMediaObject,
    /// A recording's `_metadata.json` sidecar in an export tree.
    ExportMetadata,
    /// A conversation's `_call_metadata.json` in an export tree (kept, not read).
    ExportCallMetadata,
    /// A `.transcript.json` in an export tree (kept, not read).
    ExportTranscript,
}

impl InputKind {
    /// Every kind, for the test that each stored text reads back to its kind.
    #[cfg(test)]
    pub(crate) const ALL: [InputKind; 17] = [
        InputKind::DetailsPage,
        InputKind::Conversation,
        InputKind::Conversations,
        InputKind::ConversationsNdjson,
        InputKind::Recording,
        InputKind::RecordingMetadata,
        InputKind::RecordingJob,
        InputKind::RecordingJobsPage,
        InputKind::FailedRecordingsPage,
        InputKind::OrphanRecordingsPage,
        InputKind::OrphanRecording,
        InputKind::DetailsAvailability,
        InputKind::ExportMedia,
        InputKind::ExportMediaObject,
        InputKind::ExportMetadata,
        InputKind::ExportCallMetadata,
        InputKind::ExportTranscript,
    ];

    /// The stored text of the kind.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            InputKind::DetailsPage => "analytics-details-page",
            InputKind::Conversation => "analytics-conversation",
            InputKind::Conversations => "analytics-conversations",
            InputKind::ConversationsNdjson => "analytics-conversations-ndjson",
            InputKind::Recording => "recording",
            InputKind::RecordingMetadata => "recording-metadata",
            InputKind::RecordingJob => "recording-job",
            InputKind::RecordingJobsPage => "recording-jobs-page",
            InputKind::FailedRecordingsPage => "failed-recordings-page",
            InputKind::OrphanRecordingsPage => "orphan-recordings-page",
            InputKind::OrphanRecording => "orphan-recording",
            InputKind::DetailsAvailability => "details-availability",
            InputKind::ExportMedia => "export-media",
            InputKind::ExportMediaObject => "export-media-object",
            InputKind::ExportMetadata => "export-metadata",
            InputKind::ExportCallMetadata => "export-call-metadata",
            InputKind::ExportTranscript => "export-transcript",
        }
    }

    /// The kind whose stored text is `text` (stored kinds are only written, never parsed back,
    /// outside the test that checks they could be).
    #[cfg(test)]
    pub(crate) fn parse(text: &str) -> Option<InputKind> {
        InputKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

impl std::fmt::Display for InputKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One payload as received.
#[derive(Debug, Clone)]
pub struct RawInput {
    pub(crate) kind: InputKind,
    pub(crate) source: String,
    pub(crate) received: Timestamp,
    pub(crate) bytes: i64,
    pub(crate) sha256: String,
    /// The payload, or `None` for media files (only their hash is kept).
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) correlation_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RecordingRow {
    pub(crate) recording_id: String,
    pub(crate) source: RecordingSource,
    pub(crate) conversation_id: String,
    pub(crate) media: Option<String>,
    pub(crate) media_subtype: Option<String>,
    pub(crate) file_state: Option<String>,
    pub(crate) start_time: Option<Timestamp>,
    pub(crate) end_time: Option<Timestamp>,
    pub(crate) duration_ms: Option<i64>,
    pub(crate) output_size_bytes: Option<i64>,
    pub(crate) has_media_uris: bool,
    pub(crate) delete_date: Option<Timestamp>,
    pub(crate) archive_date: Option<Timestamp>,
    pub(crate) exported_date: Option<Timestamp>,
    pub(crate) creation_time: Option<Timestamp>,
    pub(crate) paused_ms: i64,
    pub(crate) session_id: Option<String>,
    pub(crate) export_media_name: Option<String>,
    /// `Recording.recordingFileRole`, upper case.
    pub(crate) recording_file_role: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MediaRow {
    pub(crate) conversation_id: String,
    pub(crate) file_name: String,
    pub(crate) recording_id: String,
    pub(crate) path: String,
    pub(crate) bytes: i64,
    /// `None` for a media object that was listed, not downloaded: no hash of its bytes exists.
    pub(crate) sha256: Option<String>,
}

/// What an object store's listing said of the object an input was read from. It is what a
/// later import compares (source and ETag) to skip an unchanged object unread, and, for a
/// media object that was not downloaded, everything its ledger input record commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectListing {
    /// Without the surrounding double quotes.
    pub(crate) etag: String,
    pub(crate) version: Option<String>,
    pub(crate) modified: Timestamp,
    /// Whether the input's `sha256` is of the object's bytes (a sidecar, a media object read
    /// with `--hash-media`); if not, it is the SHA-256 of the listing's identity of the object.
    pub(crate) content_hashed: bool,
}

/// An input read from an object store, as stored: what a later listing of the same key and
/// ETag is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownObject {
    pub(crate) sha256: String,
    pub(crate) content_hashed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FailedRow {
    pub(crate) job_id: Option<String>,
    pub(crate) recording_id: String,
    pub(crate) conversation_id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrphanRow {
    pub(crate) orphan_id: String,
    pub(crate) conversation_id: Option<String>,
    pub(crate) recording_id: Option<String>,
    pub(crate) media_type: Option<String>,
    pub(crate) file_state: Option<String>,
    pub(crate) orphan_status: Option<String>,
    pub(crate) created_time: Option<Timestamp>,
    pub(crate) media_size_bytes: Option<i64>,
}

/// Parsed inputs waiting to be written. Every typed row names the index of its raw input in
/// `inputs`.
#[derive(Debug, Default)]
pub struct ImportBatch {
    pub(crate) inputs: Vec<RawInput>,
    pub(crate) conversations: Vec<(usize, AnalyticsConversation)>,
    pub(crate) recordings: Vec<(usize, RecordingRow)>,
    pub(crate) media: Vec<(usize, MediaRow)>,
    /// What the listing said of the object an input was read from (an S3 import's inputs).
    pub(crate) listings: Vec<(usize, ObjectListing)>,
    pub(crate) jobs: Vec<(usize, RecordingJobWire)>,
    pub(crate) failed: Vec<(usize, FailedRow)>,
    pub(crate) orphans: Vec<(usize, OrphanRow)>,
    /// Records of an input rejected alone: (input, record index, message).
    pub(crate) record_rejections: Vec<(usize, i64, String)>,
    /// Details availability horizons stated by inputs.
    pub(crate) horizons: Vec<(usize, Timestamp)>,
    /// The progress of the pull these inputs came from, committed with them: a kill cannot
    /// separate a page from the cursor past it.
    pub(crate) progress: Option<PullProgress>,
}

impl ImportBatch {
    /// Nothing to write: no input and no progress.
    pub(crate) fn is_empty(&self) -> bool {
        self.inputs.is_empty() && self.progress.is_none()
    }

    /// One batch per input, each with that input's rows: to store the inputs of a batch that
    /// could not be stored together one by one, and find the one that cannot be stored.
    pub(crate) fn into_single_inputs(self) -> Vec<ImportBatch> {
        let mut singles: Vec<ImportBatch> = self
            .inputs
            .into_iter()
            .map(|input| ImportBatch {
                inputs: vec![input],
                ..ImportBatch::default()
            })
            .collect();
        fn give<T>(
            singles: &mut [ImportBatch],
            rows: Vec<(usize, T)>,
            field: fn(&mut ImportBatch) -> &mut Vec<(usize, T)>,
        ) {
            for (input, row) in rows {
                if let Some(single) = singles.get_mut(input) {
                    field(single).push((0, row));
                }
            }
        }
        give(&mut singles, self.conversations, |b| &mut b.conversations);
        give(&mut singles, self.recordings, |b| &mut b.recordings);
        give(&mut singles, self.media, |b| &mut b.media);
        give(&mut singles, self.listings, |b| &mut b.listings);
        give(&mut singles, self.jobs, |b| &mut b.jobs);
        give(&mut singles, self.failed, |b| &mut b.failed);
        give(&mut singles, self.orphans, |b| &mut b.orphans);
        give(&mut singles, self.horizons, |b| &mut b.horizons);
        for (input, record, message) in self.record_rejections {
            if let Some(single) = singles.get_mut(input) {
                single.record_rejections.push((0, record, message));
            }
        }
        // A pull's progress goes with the last input: if that one is refused, the progress is
        // not saved and the rerun asks again, which repeats work but never skips any.
        if let Some(last) = singles.last_mut() {
            last.progress = self.progress;
        }
        singles
    }
}

/// What a batch changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteSummary {
    pub(crate) conversations: usize,
    /// Conversations not replaced because the stored copy has ended and the new one has not.
    pub(crate) conversations_kept: usize,
}

/// Where a pull of one window from one API stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullState {
    pub(crate) details_job: Option<String>,
    /// The cursor of the next details page to fetch (`None` before the first page); for the
    /// sync query, the number of the next page.
    pub(crate) details_cursor: Option<String>,
    pub(crate) details_done: bool,
    pub(crate) recording_job: Option<String>,
    /// When this pull asked the platform to create its export job (saved before the request),
    /// while the job's id is not known yet.
    pub(crate) export_requested: Option<Timestamp>,
}

/// A pull's progress, written by [`EvidenceStore::write_batch`](super::sink::EvidenceStore::write_batch) in the transaction of its batch.
#[derive(Debug, Clone)]
pub(crate) struct PullProgress {
    pub(crate) from: Timestamp,
    pub(crate) to: Timestamp,
    pub(crate) api: String,
    pub(crate) state: PullState,
    /// Conversations whose recording metadata answer the batch holds (or that were answered
    /// with content already stored): a rerun of the pull does not ask them again.
    pub(crate) metadata_received: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::InputKind;

    #[test]
    fn every_kind_reads_back_from_its_stored_text() {
        for kind in InputKind::ALL {
            assert_eq!(InputKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(
            InputKind::parse("analytics-conversations-ndjson"),
            Some(InputKind::ConversationsNdjson)
        );
        assert_eq!(InputKind::parse("nonsense"), None);
    }
}
