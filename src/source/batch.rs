//! What the sources hand to the store: raw inputs, the typed rows parsed from them, batches of
//! both, and the progress of a pull.
//!
//! These types belong to the source layer (docs/ARCHITECTURE.md, "Dependency rule"): the
//! importer and the API client build them, and a backend of [`EvidenceStore`](super::sink::EvidenceStore) writes them. The
//! rows are already checked (ids non-empty and fit for a ledger field, times plausible), so a
//! backend stores them as they are. Every typed row of an [`ImportBatch`] names the index of its
//! raw input in [`ImportBatch::inputs`]; the backend gives each input its id.

use super::model::{AnalyticsConversation, RecordingJobWire, RecordingSource};
use crate::time::Timestamp;

/// What a raw input is, as recognised by its shape. The text of each ([`InputKind::as_str`]) is
/// what `raw_inputs.kind` stores and the ledger records: it never changes for a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InputKind {
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
    /// A recording's `_metadata.json` sidecar in an export tree.
    ExportMetadata,
    /// A conversation's `_call_metadata.json` in an export tree (kept, not read).
    ExportCallMetadata,
    /// A `.transcript.json` in an export tree (kept, not read).
    ExportTranscript,
}

impl InputKind {
    pub const ALL: [InputKind; 16] = [
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
        InputKind::ExportMetadata,
        InputKind::ExportCallMetadata,
        InputKind::ExportTranscript,
    ];

    /// The stored text of the kind.
    pub fn as_str(self) -> &'static str {
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
            InputKind::ExportMetadata => "export-metadata",
            InputKind::ExportCallMetadata => "export-call-metadata",
            InputKind::ExportTranscript => "export-transcript",
        }
    }

    /// The kind whose stored text is `text`.
    pub fn parse(text: &str) -> Option<InputKind> {
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
    pub kind: InputKind,
    pub source: String,
    pub received: Timestamp,
    pub bytes: i64,
    pub sha256: String,
    /// The payload, or `None` for media files (only their hash is kept).
    pub body: Option<Vec<u8>>,
    pub correlation_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecordingRow {
    pub recording_id: String,
    pub source: RecordingSource,
    pub conversation_id: String,
    pub media: Option<String>,
    pub media_subtype: Option<String>,
    pub file_state: Option<String>,
    pub start_time: Option<Timestamp>,
    pub end_time: Option<Timestamp>,
    pub duration_ms: Option<i64>,
    pub output_size_bytes: Option<i64>,
    pub has_media_uris: bool,
    pub delete_date: Option<Timestamp>,
    pub archive_date: Option<Timestamp>,
    pub exported_date: Option<Timestamp>,
    pub creation_time: Option<Timestamp>,
    pub paused_ms: i64,
    pub session_id: Option<String>,
    pub export_media_name: Option<String>,
    /// `Recording.recordingFileRole`, upper case.
    pub recording_file_role: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MediaRow {
    pub conversation_id: String,
    pub file_name: String,
    pub recording_id: String,
    pub path: String,
    pub bytes: i64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FailedRow {
    pub job_id: Option<String>,
    pub recording_id: String,
    pub conversation_id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrphanRow {
    pub orphan_id: String,
    pub conversation_id: Option<String>,
    pub recording_id: Option<String>,
    pub media_type: Option<String>,
    pub file_state: Option<String>,
    pub orphan_status: Option<String>,
    pub created_time: Option<Timestamp>,
    pub media_size_bytes: Option<i64>,
}

/// Parsed inputs waiting to be written. Every typed row names the index of its raw input in
/// `inputs`.
#[derive(Debug, Default)]
pub struct ImportBatch {
    pub inputs: Vec<RawInput>,
    pub conversations: Vec<(usize, AnalyticsConversation)>,
    pub recordings: Vec<(usize, RecordingRow)>,
    pub media: Vec<(usize, MediaRow)>,
    pub jobs: Vec<(usize, RecordingJobWire)>,
    pub failed: Vec<(usize, FailedRow)>,
    pub orphans: Vec<(usize, OrphanRow)>,
    /// Records of an input rejected alone: (input, record index, message).
    pub record_rejections: Vec<(usize, i64, String)>,
    /// Details availability horizons stated by inputs.
    pub horizons: Vec<(usize, Timestamp)>,
    /// The progress of the pull these inputs came from, committed with them: a kill cannot
    /// separate a page from the cursor past it.
    pub progress: Option<PullProgress>,
}

impl ImportBatch {
    /// Nothing to write: no input and no progress.
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty() && self.progress.is_none()
    }

    /// One batch per input, each with that input's rows: to store the inputs of a batch that
    /// could not be stored together one by one, and find the one that cannot be stored.
    pub fn into_single_inputs(self) -> Vec<ImportBatch> {
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
    pub inputs: usize,
    pub conversations: usize,
    /// Conversations not replaced because the stored copy has ended and the new one has not.
    pub conversations_kept: usize,
}

/// Where a pull of one window from one API stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullState {
    pub details_job: Option<String>,
    /// The cursor of the next details page to fetch (`None` before the first page); for the
    /// sync query, the number of the next page.
    pub details_cursor: Option<String>,
    pub details_done: bool,
    pub recording_job: Option<String>,
    /// When this pull asked the platform to create its export job (saved before the request),
    /// while the job's id is not known yet.
    pub export_requested: Option<Timestamp>,
}

/// A pull's progress, written by [`EvidenceStore::write_batch`](super::sink::EvidenceStore::write_batch) in the transaction of its batch.
#[derive(Debug, Clone)]
pub struct PullProgress {
    pub from: Timestamp,
    pub to: Timestamp,
    pub api: String,
    pub state: PullState,
    /// Conversations whose recording metadata answer the batch holds (or that were answered
    /// with content already stored): a rerun of the pull does not ask them again.
    pub metadata_received: Vec<String>,
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
