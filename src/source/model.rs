//! Serde mirrors of the Genesys Cloud JSON that recaudit reads.
//!
//! These are edge types: they follow the wire schema of the official SDK models
//! (`purecloudplatformclientv2/models/*.py`: `attribute_map` gives the camelCase names) and hold
//! only the fields the audit uses. Unknown fields are ignored, because Genesys adds fields
//! without notice, and every field the SDK does not mark required is optional here. Enumerations
//! stay strings: a value Genesys introduces tomorrow must not make a whole page unreadable.
//! Timestamps are parsed at this edge, so a malformed date is reported by serde with the line
//! and column of the offending value.

use serde::{Deserialize, Deserializer};

use crate::time::Timestamp;

/// Genesys sometimes sends `null` where an array is expected; treat it as empty.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// An optional string of personal data (a phone number): read as `Option<String>`, except that a
/// value of another type is refused without being quoted. serde's own message would quote it
/// ("invalid type: integer `13175550100`, expected a string"), and rejection messages are
/// printed and stored.
fn personal_text<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    struct PersonalText;

    const REFUSED: &str = "expected a string (the value is personal data and is not quoted)";

    impl<'de> serde::de::Visitor<'de> for PersonalText {
        type Value = Option<String>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string or null")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(PersonalText)
        }
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(E::custom(REFUSED))
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(E::custom(REFUSED))
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(E::custom(REFUSED))
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(E::custom(REFUSED))
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(serde::de::Error::custom(REFUSED))
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(serde::de::Error::custom(REFUSED))
        }
    }

    deserializer.deserialize_option(PersonalText)
}

/// `AnalyticsConversation` / `AnalyticsConversationWithoutAttributes`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AnalyticsConversation {
    pub(crate) conversation_id: String,
    pub(crate) conversation_start: Timestamp,
    #[serde(default)]
    pub(crate) conversation_end: Option<Timestamp>,
    #[serde(default)]
    pub(crate) originating_direction: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub(crate) division_ids: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub(crate) participants: Vec<AnalyticsParticipant>,
}

/// `AnalyticsParticipant` (the async jobs add `attributes`, which the audit does not need).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AnalyticsParticipant {
    #[serde(default)]
    pub(crate) participant_id: Option<String>,
    #[serde(default)]
    pub(crate) participant_name: Option<String>,
    #[serde(default)]
    pub(crate) purpose: Option<String>,
    #[serde(default)]
    pub(crate) user_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub(crate) sessions: Vec<AnalyticsSession>,
}

/// `AnalyticsSession`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AnalyticsSession {
    #[serde(default)]
    pub(crate) session_id: Option<String>,
    #[serde(default)]
    pub(crate) media_type: Option<String>,
    #[serde(default)]
    pub(crate) direction: Option<String>,
    /// "Flag determining if an audio recording was started or not". Kept as evidence; the
    /// audit never trusts it on its own (a recording can be started and still be lost).
    #[serde(default)]
    pub(crate) recording: Option<bool>,
    #[serde(default)]
    pub(crate) provider: Option<String>,
    #[serde(default)]
    pub(crate) edge_id: Option<String>,
    /// "Automatic Number Identification (caller's number)", as the details carry it (`tel:+1...`
    /// on PSTN calls). Personal data: evidence only, never logged nor quoted in an error.
    #[serde(default, deserialize_with = "personal_text")]
    pub(crate) ani: Option<String>,
    /// "Dialed number identification service (number dialed by the calling party)". Personal
    /// data, like `ani`.
    #[serde(default, deserialize_with = "personal_text")]
    pub(crate) dnis: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub(crate) segments: Vec<AnalyticsSegment>,
    /// "MediaEndpointStats associated with this session" (`AnalyticsMediaEndpointStat`).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub(crate) media_endpoint_stats: Vec<MediaEndpointStatWire>,
}

/// `AnalyticsMediaEndpointStat`: only the packet count is read.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MediaEndpointStatWire {
    /// "The total number of packets received for all audio streams belonging to this endpoint
    /// (includes invalid, duplicate, and discarded packets)".
    #[serde(default)]
    pub(crate) received_packets: Option<i64>,
}

impl AnalyticsSession {
    /// Packets received over all of the session's media endpoints; `None` when no stat says.
    pub(crate) fn received_packets(&self) -> Option<i64> {
        self.media_endpoint_stats
            .iter()
            .filter_map(|stat| stat.received_packets)
            .map(|n| n.max(0))
            .reduce(i64::saturating_add)
    }
}

/// `AnalyticsConversationSegment`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AnalyticsSegment {
    #[serde(default)]
    pub(crate) segment_type: Option<String>,
    pub(crate) segment_start: Timestamp,
    #[serde(default)]
    pub(crate) segment_end: Option<Timestamp>,
    #[serde(default)]
    pub(crate) disconnect_type: Option<String>,
    #[serde(default)]
    pub(crate) error_code: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub(crate) sip_response_codes: Vec<i64>,
    #[serde(default)]
    pub(crate) queue_id: Option<String>,
}

/// A page of conversation details: the sync query response
/// (`AnalyticsConversationQueryResponse`) or an async job results page
/// (`AnalyticsConversationAsyncQueryResponse`), as its envelope: the conversations are read one
/// by one (a bad one is rejected alone), so only the envelope's own fields are here.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConversationPage {
    /// Async job pages: "Data available up to at least this datetime".
    #[serde(default)]
    pub(crate) data_availability_date: Option<Timestamp>,
}

/// `DataAvailabilityResponse` (`GET /api/v2/analytics/conversations/details/jobs/availability`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DataAvailabilityWire {
    pub(crate) data_availability_date: Timestamp,
}

/// `RecordingMetadata` and `Recording` share their fields; `Recording` adds the media fields
/// (`mediaUris`, `outputSizeInBytes`, ...). Which one a payload is decides how absent media is
/// read, so the importer records the kind next to the parsed value.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RecordingWire {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) conversation_id: Option<String>,
    #[serde(default)]
    pub(crate) start_time: Option<Timestamp>,
    #[serde(default)]
    pub(crate) end_time: Option<Timestamp>,
    #[serde(default)]
    pub(crate) media: Option<String>,
    #[serde(default)]
    pub(crate) media_subtype: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub(crate) annotations: Vec<AnnotationWire>,
    #[serde(default)]
    pub(crate) file_state: Option<String>,
    #[serde(default)]
    pub(crate) delete_date: Option<Timestamp>,
    #[serde(default)]
    pub(crate) archive_date: Option<Timestamp>,
    #[serde(default)]
    pub(crate) exported_date: Option<Timestamp>,
    #[serde(default)]
    pub(crate) session_id: Option<String>,
    #[serde(default)]
    pub(crate) media_uris: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub(crate) output_duration_ms: Option<i64>,
    #[serde(default)]
    pub(crate) output_size_in_bytes: Option<i64>,
    #[serde(default)]
    pub(crate) creation_time: Option<Timestamp>,
    /// `Recording` only: `CUSTOMER_EXPERIENCE` or `ADHOC`.
    #[serde(default)]
    pub(crate) recording_file_role: Option<String>,
    #[serde(default)]
    pub(crate) self_uri: Option<String>,
}

/// Keys that only a `Recording` has; their presence tells it apart from `RecordingMetadata`.
pub(crate) const RECORDING_ONLY_KEYS: &[&str] = &[
    "mediaUris",
    "outputSizeInBytes",
    "outputDurationMs",
    "creationTime",
    "originalRecordingStartTime",
    "recordingFileRole",
    "recordingErrorStatus",
    "estimatedTranscodeTimeMs",
    "actualTranscodeTimeMs",
    "users",
    "transcript",
    "emailTranscript",
    "messagingTranscript",
];

/// `Annotation`: a pause annotation (`Hold`, `SecurePause`, `FlowOrQueue`, `Pause`) is time the
/// recording deliberately holds no audio, so it counts as recorded time.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AnnotationWire {
    #[serde(default)]
    pub(crate) reason: Option<String>,
    #[serde(default)]
    pub(crate) duration_ms: Option<i64>,
    #[serde(default)]
    pub(crate) absolute_duration_ms: Option<i64>,
}

/// `RecordingJob`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RecordingJobWire {
    pub(crate) id: String,
    pub(crate) state: String,
    #[serde(default)]
    pub(crate) recording_jobs_query: Option<RecordingJobsQueryWire>,
    #[serde(default)]
    pub(crate) date_created: Option<Timestamp>,
    #[serde(default)]
    pub(crate) total_conversations: Option<i64>,
    #[serde(default)]
    pub(crate) total_recordings: Option<i64>,
    #[serde(default)]
    pub(crate) total_skipped_recordings: Option<i64>,
    #[serde(default)]
    pub(crate) total_failed_recordings: Option<i64>,
    #[serde(default)]
    pub(crate) total_processed_recordings: Option<i64>,
    #[serde(default)]
    pub(crate) error_message: Option<String>,
}

/// The part of `RecordingJobsQuery` worth keeping.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RecordingJobsQueryWire {
    #[serde(default)]
    pub(crate) action: Option<String>,
}

/// `AddressableEntityRef` (`id`, `selfUri`; only `id` is read): e.g. the failed recordings'
/// conversation and recording, or a conversation with protected recordings in the answer of
/// `POST /api/v2/recordings/deletionprotection` (`list[AddressableEntityRef]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EntityRef {
    pub(crate) id: String,
}

/// `RecordingJobFailedRecording`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FailedRecordingWire {
    pub(crate) conversation: EntityRef,
    pub(crate) recording: EntityRef,
}

/// The standard paging envelope (`FailedRecordingEntityListing`, `OrphanRecordingListing`,
/// `RecordingJobEntityListing`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Listing {
    #[serde(default)]
    pub(crate) self_uri: Option<String>,
    #[serde(default)]
    pub(crate) first_uri: Option<String>,
}

/// `OrphanRecording`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrphanRecordingWire {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) created_time: Option<Timestamp>,
    #[serde(default)]
    pub(crate) media_type: Option<String>,
    #[serde(default)]
    pub(crate) file_state: Option<String>,
    #[serde(default)]
    pub(crate) orphan_status: Option<String>,
    #[serde(default)]
    pub(crate) media_size_bytes: Option<i64>,
    #[serde(default)]
    pub(crate) recording: Option<RecordingWire>,
}

/// The `{recordingId}.{ext}_metadata.json` sidecar of the S3 bulk export. Only four properties
/// are documented (help article "Working with exported recordings in AWS S3 bucket"); the others
/// were seen in real exports, and every one is optional here.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExportMetadataWire {
    #[serde(default)]
    pub(crate) media_type: Option<String>,
    #[serde(default)]
    pub(crate) media_subtype: Option<String>,
    #[serde(default)]
    pub(crate) conversation_id: Option<String>,
    #[serde(default)]
    pub(crate) recording_id: Option<String>,
    #[serde(default)]
    pub(crate) start_time: Option<Timestamp>,
    #[serde(default)]
    pub(crate) end_time: Option<Timestamp>,
    #[serde(default)]
    pub(crate) duration_ms: Option<i64>,
}

/// Maps the media names of the different payloads onto the analytics `mediaType` vocabulary
/// (`voice`, `chat`, `message`, `email`, `screen`, ...), so scope rules name one set:
/// - `Recording.media`: "audio, chat, messaging, email, or screen" (models/recording.py);
/// - analytics `AnalyticsSession.mediaType`: `voice`, `chat`, `message`, `email`, `callback`,
///   `screenmonitoring`, ... (models/analytics_session.py);
/// - export sidecars: `Call`, `Chat`, `Email`, `Message`, `Callback`, `Screen` (help article
///   "Working with exported recordings in AWS S3 bucket").
///
/// A `Callback` recording is the audio of the call placed for the callback, so it is `voice`:
/// under a voice scope it is judged, never dropped as another medium (docs/RULES.md).
pub(crate) fn normalize_media(raw: &str) -> String {
    match raw.to_ascii_lowercase().as_str() {
        "audio" | "call" | "voice" | "callback" => "voice".to_string(),
        "messaging" | "message" => "message".to_string(),
        "screen" | "screen_recording" | "screenrecording" => "screen".to_string(),
        other => other.to_string(),
    }
}

/// The `Annotation.reason` values that mark a pause in the recording ("Valid values: Hold,
/// SecurePause, FlowOrQueue, Pause", models/annotation.py).
pub(crate) const PAUSE_REASONS: &[&str] = &["Hold", "SecurePause", "FlowOrQueue", "Pause"];

/// Where a piece of recording evidence came from; the same recording id can appear in several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordingSource {
    /// `GET /api/v2/conversations/{id}/recordingmetadata` (`RecordingMetadata`).
    Metadata,
    /// `GET /api/v2/conversations/{id}/recordings` (`Recording`, with the media fields).
    Recording,
    /// An S3 bulk-export `_metadata.json` sidecar.
    Export,
}

impl RecordingSource {
    /// The text stored in `recordings.source` (and read back by [`RecordingSource::parse`]).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingSource::Metadata => "recording-metadata",
            RecordingSource::Recording => "recording",
            RecordingSource::Export => "export-metadata",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "recording-metadata" => Some(RecordingSource::Metadata),
            "recording" => Some(RecordingSource::Recording),
            "export-metadata" => Some(RecordingSource::Export),
            _ => None,
        }
    }
}

/// Participant purposes of an org's agents (`AnalyticsParticipant.purpose`, SDK
/// models/analytics_participant.py): their sessions are the ones that must be recorded. The
/// audit's rules and the pull's choice of which conversations to ask recording metadata for
/// both read this list, so they cannot drift apart.
pub(crate) const AGENT_PURPOSES: &[&str] = &["agent", "user"];

/// The segment type of a session whose media was up between the parties
/// (`AnalyticsConversationSegment.segmentType`, SDK models/analytics_conversation_segment.py).
pub(crate) const INTERACT_SEGMENT: &str = "interact";

/// The API path of a conversation's recording metadata, `GET` with `prefix + id + suffix`: also
/// the `source` its answer is stored under, which is how a later pull knows it was asked.
pub(crate) const RECORDING_METADATA_PATH: (&str, &str) =
    ("/api/v2/conversations/", "/recordingmetadata");

#[cfg(test)]
mod tests {
    use super::*;

    /// The deletion protection answer: a JSON array of `AddressableEntityRef`; `selfUri` and
    /// unknown fields are ignored; a reference without a string `id` is refused.
    #[test]
    fn entity_refs_are_read_with_or_without_self_uri() {
        let refs: Vec<EntityRef> = serde_json::from_str(
            r#"[{"id": "c1", "selfUri": "/api/v2/conversations/c1", "name": "x", "extra": {"a": 1}},
                {"id": "c2"}, {"id": "c3", "selfUri": null}]"#,
        )
        .unwrap();
        let read: Vec<&str> = refs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(read, ["c1", "c2", "c3"]);
        assert!(
            serde_json::from_str::<Vec<EntityRef>>("[]")
                .unwrap()
                .is_empty()
        );
        assert!(serde_json::from_str::<Vec<EntityRef>>(r#"[{"selfUri": "/x"}]"#).is_err());
        assert!(serde_json::from_str::<Vec<EntityRef>>(r#"[{"id": 7}]"#).is_err());
        assert!(serde_json::from_str::<Vec<EntityRef>>(r#"{"entities": []}"#).is_err());
    }

    fn session(json: &str) -> serde_json::Result<AnalyticsSession> {
        serde_json::from_str(json)
    }

    #[test]
    fn session_numbers_are_read_when_present_and_none_otherwise() {
        let read = session(
            r#"{"mediaType": "voice", "ani": "tel:+13175550100", "dnis": "tel:+18005550100"}"#,
        )
        .unwrap();
        assert_eq!(read.ani.as_deref(), Some("tel:+13175550100"));
        assert_eq!(read.dnis.as_deref(), Some("tel:+18005550100"));
        let read = session(r#"{"mediaType": "voice", "ani": null}"#).unwrap();
        assert_eq!((read.ani, read.dnis), (None, None));
    }

    /// A number of the wrong type is refused without its value in the message, which is printed
    /// and stored with the rejection.
    #[test]
    fn a_malformed_number_is_refused_unquoted() {
        for json in [
            r#"{"ani": 13175550100}"#,
            r#"{"dnis": -18005550100}"#,
            r#"{"ani": 1317555.0100}"#,
            r#"{"ani": ["tel:+13175550100"]}"#,
            r#"{"dnis": {"number": "tel:+18005550100"}}"#,
        ] {
            let message = session(json).unwrap_err().to_string();
            assert!(message.contains("personal data"), "{message}");
            assert!(!message.contains("555"), "{message}");
        }
    }
}
