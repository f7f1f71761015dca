//! The decision: did an interaction get the recordings it should have, with media?
//!
//! [`evaluate`] takes one conversation's [`Evidence`] (conversation details plus every recording
//! fact from every source), the [`Policy`] and the audit's `as_of` instant, and returns exactly
//! one [`Finding`]: a [`Status`], the sorted [`Reason`] codes and one sentence of evidence.
//! It is pure (no IO, no clock, cannot fail), so every verdict can be reproduced from stored
//! data and unit-tested from Genesys-shaped JSON. docs/RULES.md is the reviewer-facing
//! description of the same rules; keep the two in step.
//!
//! The order of the decision:
//! 0. a conversation whose stored evidence cannot be read back is an `exception`
//!    (`evidence-unreadable`): nothing about it can be decided, least of all that it is fine;
//! 1. scope: media type, direction, division and queue filters, and internal calls (no party
//!    outside the org) give `excluded`;
//! 2. a conversation without `conversationEnd` is `pending` (`conversation-in-progress`);
//! 3. the minimum duration gives `excluded` (`short-interaction`);
//! 4. did an agent/user session reach `interact`? If none did, a failed alerting/dialing leg
//!    gives `media-not-established`, otherwise the interaction is `not-required`;
//! 5. recording checks (missing, media missing, export failed, file state, duration, orphans,
//!    retention);
//! 6. `pending` when the only reasons are late-arrival ones and the grace window is still open,
//!    otherwise `exception`; no reason at all is `complete`.

pub mod coverage;
pub mod evidence;
pub mod policy;
mod rules;

pub use evidence::Evidence;
pub use policy::Policy;
pub use rules::evaluate;

use std::fmt;

/// Version of the rules that produced a finding; recorded with every run (and later in the
/// ledger), and bumped whenever a rule changes meaning.
pub const RULE_SET: &str = "recaudit-rules-2";

/// The verdict for one interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Complete,
    Exception,
    Pending,
    Excluded,
    NotRequired,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Complete,
        Status::Exception,
        Status::Pending,
        Status::Excluded,
        Status::NotRequired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Complete => "complete",
            Status::Exception => "exception",
            Status::Pending => "pending",
            Status::Excluded => "excluded",
            Status::NotRequired => "not-required",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an interaction is not simply complete. The codes are stable: reports, the ledger and
/// downstream tooling depend on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    MediaNotEstablished,
    RecordingMissing,
    MediaFileMissing,
    ExportFailed,
    RecordingError,
    DurationMismatch,
    OrphanRecording,
    RetentionShortfall,
    NoMediaReceived,
    EvidenceUnreadable,
    ConflictingEvidence,
    ConversationInProgress,
    ShortInteraction,
    InternalCall,
    MediaOutOfScope,
    DirectionOutOfScope,
    DivisionOutOfScope,
    QueueOutOfScope,
}

impl Reason {
    pub const ALL: [Reason; 18] = [
        Reason::MediaNotEstablished,
        Reason::RecordingMissing,
        Reason::MediaFileMissing,
        Reason::ExportFailed,
        Reason::RecordingError,
        Reason::DurationMismatch,
        Reason::OrphanRecording,
        Reason::RetentionShortfall,
        Reason::NoMediaReceived,
        Reason::EvidenceUnreadable,
        Reason::ConflictingEvidence,
        Reason::ConversationInProgress,
        Reason::ShortInteraction,
        Reason::InternalCall,
        Reason::MediaOutOfScope,
        Reason::DirectionOutOfScope,
        Reason::DivisionOutOfScope,
        Reason::QueueOutOfScope,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Reason::MediaNotEstablished => "media-not-established",
            Reason::RecordingMissing => "recording-missing",
            Reason::MediaFileMissing => "media-file-missing",
            Reason::ExportFailed => "export-failed",
            Reason::RecordingError => "recording-error",
            Reason::DurationMismatch => "duration-mismatch",
            Reason::OrphanRecording => "orphan-recording",
            Reason::RetentionShortfall => "retention-shortfall",
            Reason::NoMediaReceived => "no-media-received",
            Reason::EvidenceUnreadable => "evidence-unreadable",
            Reason::ConflictingEvidence => "conflicting-evidence",
            Reason::ConversationInProgress => "conversation-in-progress",
            Reason::ShortInteraction => "short-interaction",
            Reason::InternalCall => "internal-call",
            Reason::MediaOutOfScope => "media-out-of-scope",
            Reason::DirectionOutOfScope => "direction-out-of-scope",
            Reason::DivisionOutOfScope => "division-out-of-scope",
            Reason::QueueOutOfScope => "queue-out-of-scope",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Reason::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Reasons that may still resolve by themselves: Genesys can take up to 48 hours to make a
    /// recording and its media available.
    pub fn is_late_arrival(self) -> bool {
        matches!(self, Reason::RecordingMissing | Reason::MediaFileMissing)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The verdict on one interaction, with the facts a reviewer needs beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub interaction: String,
    pub status: Status,
    /// Sorted by code, no duplicates.
    pub reasons: Vec<Reason>,
    /// Ids of the in-scope recordings found for the interaction, sorted.
    pub recordings: Vec<String>,
    /// SHA-256 of every export media file hashed for the interaction, sorted.
    pub media_sha256: Vec<String>,
    /// conversationStart, canonical UTC.
    pub started: String,
    /// conversationEnd, canonical UTC, when the conversation has ended.
    pub ended: Option<String>,
    /// `inbound`, `outbound` or `unknown`.
    pub direction: String,
    /// Primary media type of the conversation.
    pub media: String,
    pub queues: Vec<String>,
    /// Users (agents) who took part: the custodians of the interaction.
    pub users: Vec<String>,
    /// One sentence of evidence.
    pub detail: String,
}
