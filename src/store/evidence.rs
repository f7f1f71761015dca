//! What the store knows about one conversation, in the shape the rules read.
//!
//! The store assembles an [`Evidence`] per conversation from its typed tables; the rules never
//! see SQL rows or JSON. Every list is in a stable order (the store sorts), so the same data
//! always yields the same finding, byte for byte.

use crate::time::Timestamp;

/// One conversation and every recording-related fact about it, from every source.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    pub conversation: Conversation,
    /// Recording evidence from recording metadata, `Recording` objects and export sidecars.
    pub recordings: Vec<RecordingEvidence>,
    /// Media files of the S3 bulk export found in the conversation's folder.
    pub media_files: Vec<MediaFile>,
    /// Entries of bulk export jobs' failedrecordings listings for this conversation.
    pub failed_exports: Vec<FailedExport>,
    /// Orphan recordings (left on an Edge) that reference this conversation.
    pub orphans: Vec<Orphan>,
    /// Stored evidence of this conversation that could not be read back (what and why): the
    /// conversation cannot be judged, and says so.
    pub unreadable: Vec<String>,
    /// Where the inputs disagree about this conversation (found by import).
    pub conflicts: Vec<Conflict>,
}

/// Inputs that disagree about a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// Differing copies of the conversation's details arrived; the copy from `kept` (the
    /// source of the input) is the one stored, `other` was replaced or not taken.
    DetailsCopies { kept: String, other: String },
    /// One of this conversation's recordings is also claimed by another conversation.
    RecordingClaimed {
        recording_id: String,
        other_conversation: String,
    },
}

/// Conversation details (analytics).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conversation {
    pub id: String,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub direction: Option<String>,
    pub division_ids: Vec<String>,
    pub participants: Vec<Participant>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Participant {
    pub purpose: String,
    pub user_id: Option<String>,
    pub name: Option<String>,
    pub sessions: Vec<Session>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Session {
    pub session_id: Option<String>,
    pub media_type: String,
    pub direction: Option<String>,
    /// The analytics `recording` flag; evidence only.
    pub recording_flag: Option<bool>,
    /// Packets received over the session's media endpoints (`mediaEndpointStats`), when the
    /// details carry them.
    pub received_packets: Option<i64>,
    /// The calling number (`AnalyticsSession.ani`, e.g. `tel:+13175550100`), when the details
    /// carry it. Personal data: never logged nor put in an error.
    pub ani: Option<String>,
    /// The called number (`AnalyticsSession.dnis`), when the details carry it. Personal data.
    pub dnis: Option<String>,
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Segment {
    pub segment_type: String,
    pub start: Timestamp,
    pub end: Option<Timestamp>,
    pub disconnect_type: Option<String>,
    pub error_code: Option<String>,
    pub sip_response_codes: Vec<i64>,
    pub queue_id: Option<String>,
}

/// Where a piece of recording evidence came from (a source's notion: see `source::model`).
pub use crate::source::model::RecordingSource;

#[derive(Debug, Clone, PartialEq)]
pub struct RecordingEvidence {
    pub recording_id: String,
    pub source: RecordingSource,
    /// Normalised media (`voice`, `screen`, `chat`, ...), when the payload says.
    pub media: Option<String>,
    pub file_state: Option<String>,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    /// Export `durationMs` or `Recording.outputDurationMs`.
    pub duration_ms: Option<i64>,
    /// `Recording.outputSizeInBytes`.
    pub output_size_bytes: Option<i64>,
    /// `Recording.mediaUris` was present and non-empty.
    pub has_media_uris: bool,
    pub delete_date: Option<Timestamp>,
    pub creation_time: Option<Timestamp>,
    /// Sum of the pause annotations' durations (`Hold`, `SecurePause`, `FlowOrQueue`, `Pause`).
    pub paused_ms: i64,
    /// Export sidecars: the media file the sidecar describes (`{recordingId}.{ext}`).
    pub export_media_name: Option<String>,
    /// `mediaSubtype`: `Trunk`, `Station`, `Consult`, `Screen` or `Snippet`.
    pub media_subtype: Option<String>,
    /// `Recording.recordingFileRole`: `CUSTOMER_EXPERIENCE` or `ADHOC`.
    pub file_role: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MediaFile {
    pub recording_id: String,
    pub file_name: String,
    pub bytes: i64,
    /// `None` for a media object of an export bucket that was listed, not hashed.
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FailedExport {
    pub job_id: Option<String>,
    pub recording_id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Orphan {
    pub orphan_id: String,
    pub recording_id: Option<String>,
    /// Normalised media (`voice`, `screen`, ...).
    pub media: Option<String>,
    pub orphan_status: Option<String>,
}
