//! The legend of report.html: one line per status and reason code, condensed from
//! docs/RULES.md (which is the full text, with its sources). Keyed by `Status::ALL` and
//! `Reason::ALL`, so a new code cannot be rendered without a meaning: `meaning` is an exhaustive
//! `match`, and a unit test checks that every code has a line.

use crate::audit::{Reason, Status};

/// One line: what a status means for the reviewer.
pub(super) fn status_meaning(status: Status) -> &'static str {
    match status {
        Status::Complete => "An agent interacted, a recording exists, and no check failed.",
        Status::Exception => "A gap a reviewer must act on; the reasons say which.",
        Status::Pending => {
            "Not decidable yet: the conversation is still in progress, or the only problems are \
             a missing recording or missing media and the grace window is still open."
        }
        Status::Excluded => "The policy leaves the interaction out (the reasons say why).",
        Status::NotRequired => {
            "No agent leg reached interact and nothing failed: abandoned in queue, IVR only, \
             unanswered outbound, declined or ring-no-answer legs."
        }
    }
}

/// One line: what a reason code means.
pub(super) fn reason_meaning(reason: Reason) -> &'static str {
    match reason {
        Reason::MediaNotEstablished => {
            "No agent leg interacted and an offered or placed agent leg failed (ICE failure, \
             error code, SIP 408 or 5xx): media never came up, so no audio can exist."
        }
        Reason::RecordingMissing => {
            "An agent interacted and no recording of the conversation exists in any source \
             (or only snippets or ad-hoc captures). Pending inside the grace window."
        }
        Reason::MediaFileMissing => {
            "Metadata but no audio: a sidecar without its media file (or 0 bytes), or a \
             recording with no playable media. Pending inside the grace window."
        }
        Reason::ExportFailed => {
            "A bulk export job lists a recording of the conversation among its failed recordings."
        }
        Reason::RecordingError => {
            "A recording's fileState is ERROR, DELETED outside its retention policy, or \
             UPLOADING for longer than the uploading threshold."
        }
        Reason::DurationMismatch => {
            "The recorded media covers less than the required share (default 90%) of the \
             agents' interact time."
        }
        Reason::OrphanRecording => {
            "An orphan recording (left on an Edge, not attached) references the conversation."
        }
        Reason::RetentionShortfall => {
            "A recording's deleteDate falls before the end of the retention the matching \
             [[retention]] rule requires."
        }
        Reason::NoMediaReceived => {
            "An agent's voice leg reached interact but received no packets: any recording of \
             it holds silence."
        }
        Reason::EvidenceUnreadable => {
            "A stored row of the conversation cannot be read back (a damaged or hand-edited \
             database): nothing about it can be decided."
        }
        Reason::ConflictingEvidence => {
            "A recording id is claimed by two conversations: neither may rely on it."
        }
        Reason::ConversationInProgress => "No conversationEnd yet: a later run decides.",
        Reason::ShortInteraction => "Shorter than the policy's minimum duration.",
        Reason::InternalCall => {
            "No party outside the org took part; out of scope unless the policy records \
             internal calls."
        }
        Reason::MediaOutOfScope => "The conversation's primary media is outside the scope.",
        Reason::DirectionOutOfScope => "Its originating direction is outside the scope.",
        Reason::DivisionOutOfScope => "Its divisions are outside the scope.",
        Reason::QueueOutOfScope => "Its queues are outside the scope.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_one_line_meaning() {
        for status in Status::ALL {
            assert!(!status_meaning(status).is_empty(), "{status}");
        }
        for reason in Reason::ALL {
            let line = reason_meaning(reason);
            assert!(
                line.ends_with('.') && !line.contains('\n'),
                "{reason}: {line}"
            );
        }
    }
}
