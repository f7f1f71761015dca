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

pub(crate) mod coverage;
pub mod evidence;
pub mod findings;
pub mod particulars;
pub mod policy;
mod rules;

pub use evidence::Evidence;
pub use findings::{Findings, FindingsWriter};
pub use policy::Policy;
pub use rules::evaluate;

use std::fmt;

use crate::store::StoredFinding;

/// Version of the rules that produced a finding; recorded with every run (and later in the
/// ledger), and bumped whenever a rule changes meaning.
pub const RULE_SET: &str = "recaudit-rules-2";

/// Defines a kind with stable kebab-case codes once: the enum, `ALL` (every variant, in
/// declaration order), `code` and `parse`. A variant cannot be left out of `ALL` or of the codes,
/// so nothing round-tripped through a code can be dropped silently.
macro_rules! coded {
    (
        $(#[$meta:meta])*
        pub(crate) enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident => $code:literal,)+
        }
    ) => {
        $(#[$meta])*
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub(crate) const ALL: [$name; [$($code),+].len()] = [$($name::$variant),+];

            /// The stable code: reports, the ledger and downstream tooling depend on it.
            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)+
                }
            }

            pub(crate) fn parse(code: &str) -> Option<Self> {
                match code {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

coded! {
    /// The verdict for one interaction.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub(crate) enum Status {
        Complete => "complete",
        Exception => "exception",
        Pending => "pending",
        Excluded => "excluded",
        NotRequired => "not-required",
    }
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        self.code()
    }

    /// Where the status comes in the reviewers' reading order: what needs action first.
    pub(crate) fn reading_rank(self) -> u8 {
        match self {
            Status::Exception => 0,
            Status::Pending => 1,
            Status::Complete => 2,
            Status::Excluded => 3,
            Status::NotRequired => 4,
        }
    }
}

coded! {
    /// Why an interaction is not simply complete.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub(crate) enum Reason {
        MediaNotEstablished => "media-not-established",
        RecordingMissing => "recording-missing",
        MediaFileMissing => "media-file-missing",
        ExportFailed => "export-failed",
        RecordingError => "recording-error",
        DurationMismatch => "duration-mismatch",
        OrphanRecording => "orphan-recording",
        RetentionShortfall => "retention-shortfall",
        NoMediaReceived => "no-media-received",
        EvidenceUnreadable => "evidence-unreadable",
        ConflictingEvidence => "conflicting-evidence",
        ConversationInProgress => "conversation-in-progress",
        ShortInteraction => "short-interaction",
        InternalCall => "internal-call",
        MediaOutOfScope => "media-out-of-scope",
        DirectionOutOfScope => "direction-out-of-scope",
        DivisionOutOfScope => "division-out-of-scope",
        QueueOutOfScope => "queue-out-of-scope",
    }
}

impl Reason {
    /// Reasons that may still resolve by themselves: Genesys can take up to 48 hours to make a
    /// recording and its media available.
    pub(crate) fn is_late_arrival(self) -> bool {
        matches!(self, Reason::RecordingMissing | Reason::MediaFileMissing)
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
    /// What the reports show beside the verdict (not part of it, not in the ledger record).
    pub particulars: particulars::Particulars,
}

impl Finding {
    /// The finding as the store keeps it: the status and reasons by their codes.
    pub(crate) fn to_stored(&self) -> StoredFinding {
        StoredFinding {
            conversation_id: self.interaction.clone(),
            status: self.status.as_str().to_string(),
            reasons: self.reasons.iter().map(|r| r.code().to_string()).collect(),
            recordings: self.recordings.clone(),
            media_sha256: self.media_sha256.clone(),
            started: self.started.clone(),
            ended: self.ended.clone(),
            direction: self.direction.clone(),
            media: self.media.clone(),
            queues: self.queues.clone(),
            users: self.users.clone(),
            detail: self.detail.clone(),
            particulars: serde_json::to_string(&self.particulars).unwrap_or_default(),
        }
    }

    /// Whether `other` is the same verdict on the same interaction: everything but the
    /// particulars, which are shown beside a verdict and do not make it.
    pub(crate) fn same_verdict(&self, other: &Finding) -> bool {
        let Finding {
            interaction,
            status,
            reasons,
            recordings,
            media_sha256,
            started,
            ended,
            direction,
            media,
            queues,
            users,
            detail,
            particulars: _,
        } = self;
        *interaction == other.interaction
            && *status == other.status
            && *reasons == other.reasons
            && *recordings == other.recordings
            && *media_sha256 == other.media_sha256
            && *started == other.started
            && *ended == other.ended
            && *direction == other.direction
            && *media == other.media
            && *queues == other.queues
            && *users == other.users
            && *detail == other.detail
    }

    /// A stored finding read back; an unknown status or reason code (a row edited by hand, or
    /// written by a newer rule set) is named, never skipped.
    pub(crate) fn from_stored(stored: StoredFinding) -> std::result::Result<Finding, String> {
        let reasons = stored
            .reasons
            .iter()
            .map(|code| Reason::parse(code).ok_or_else(|| format!("unknown reason `{code}`")))
            .collect::<std::result::Result<Vec<_>, String>>()?;
        let status = Status::parse(&stored.status)
            .ok_or_else(|| format!("unknown status `{}`", stored.status))?;
        // Findings sealed before particulars were kept have none.
        let particulars = if stored.particulars.is_empty() {
            particulars::Particulars::default()
        } else {
            serde_json::from_str(&stored.particulars)
                .map_err(|e| format!("unreadable particulars ({e})"))?
        };
        Ok(Finding {
            interaction: stored.conversation_id,
            status,
            reasons,
            recordings: stored.recordings,
            media_sha256: stored.media_sha256,
            started: stored.started,
            ended: stored.ended,
            direction: stored.direction,
            media: stored.media,
            queues: stored.queues,
            users: stored.users,
            detail: stored.detail,
            particulars,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_looks_for_the_pending_code_the_audit_writes() {
        assert_eq!(Status::Pending.as_str(), crate::store::rows::PENDING_STATUS);
    }

    /// Statuses and reasons are defined once (the `coded!` macro): every variant is in `ALL`,
    /// its code is unique and parses back to it, and docs/RULES.md explains every reason.
    #[test]
    fn every_status_and_reason_round_trips_through_one_code_and_is_documented() {
        let statuses: Vec<&str> = Status::ALL.iter().map(|s| s.code()).collect();
        let reasons: Vec<&str> = Reason::ALL.iter().map(|r| r.code()).collect();
        for status in Status::ALL {
            assert_eq!(Status::parse(status.code()), Some(status));
        }
        for reason in Reason::ALL {
            assert_eq!(Reason::parse(reason.code()), Some(reason));
        }
        let mut unique = statuses.clone();
        unique.extend(&reasons);
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(
            unique.len(),
            statuses.len() + reasons.len(),
            "codes are unique"
        );
        assert_eq!(Reason::parse("no-such-reason"), None);

        let rules = include_str!("../../docs/RULES.md");
        for code in reasons {
            assert!(
                rules.contains(&format!("`{code}`")),
                "docs/RULES.md does not explain `{code}`"
            );
        }
    }
}
