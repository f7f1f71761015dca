//! The rules themselves. Each check adds a [`Reason`] and one clause of evidence; [`evaluate`]
//! turns the collected reasons into a status.

use std::collections::{BTreeMap, BTreeSet};

use super::evidence::{
    Conflict, Evidence, FailedExport, RecordingEvidence, RecordingSource, Session,
};
use super::{Finding, Policy, Reason, Status};
use crate::source::model::{AGENT_PURPOSES, INTERACT_SEGMENT};
use crate::time::Timestamp;

/// Disconnect types that mean the leg failed rather than was declined or hung up
/// (help.mypurecloud.com "disconnect reasons": `transportFailure` is an ICE failure).
const FAILURE_DISCONNECTS: &[&str] = &[
    "transportFailure",
    "error",
    "system",
    "timeout",
    "sessionExpired",
];

/// Segment types of a leg that was offered to an agent or placed by one.
const OFFER_SEGMENTS: &[&str] = &["alert", "dialing", "contacting"];

/// Participant purposes that are parties inside the org (`AnalyticsParticipant.purpose`
/// allowed values, models/analytics_participant.py). A conversation whose every participant has
/// one of these has no customer, external number or dialer leg: an internal call. Any other
/// purpose, or none, means the conversation is judged.
const INTERNAL_PURPOSES: &[&str] = &[
    "agent",
    "user",
    "station",
    "acd",
    "ivr",
    "workflow",
    "botflow",
    "voicemail",
    "voicesurveyflow",
    "group",
];

/// File states in which Genesys holds the media (possibly archived): `fileState` allowed values
/// of models/recording.py and models/recording_metadata.py less `DELETED`, `UPLOADING`, `ERROR`.
const MEDIA_HELD_STATES: &[&str] = &["AVAILABLE", "ARCHIVED", "RESTORED", "RESTORING"];

/// Collects reasons and their evidence clauses in the order the checks run, and notes: facts a
/// reviewer should read that are not a reason (a failed export that was retried).
#[derive(Default)]
struct Verdict {
    reasons: BTreeSet<&'static str>,
    clauses: Vec<String>,
    notes: Vec<String>,
}

impl Verdict {
    fn add(&mut self, reason: Reason, clause: String) {
        self.reasons.insert(reason.code());
        self.clauses.push(clause);
    }

    fn note(&mut self, clause: String) {
        self.notes.push(clause);
    }

    fn has_reasons(&self) -> bool {
        !self.reasons.is_empty()
    }

    fn reasons(&self) -> Vec<Reason> {
        // BTreeSet of codes keeps them sorted by code, which is the documented order.
        self.reasons
            .iter()
            .filter_map(|code| Reason::parse(code))
            .collect()
    }
}

/// Decides one conversation. Pure: the same evidence, policy and `as_of` give the same finding.
pub fn evaluate(evidence: &Evidence, policy: &Policy, as_of: Timestamp) -> Finding {
    let conversation = &evidence.conversation;
    let facts = Facts::gather(evidence, policy);
    let mut verdict = Verdict::default();

    let status = decide(evidence, policy, as_of, &facts, &mut verdict);
    // A pending verdict becomes final once the grace window after the conversation's end has
    // passed (a conversation still in progress has no such date yet).
    let final_after = (status == Status::Pending)
        .then_some(conversation.end)
        .flatten()
        .map(|end| end.plus_millis(policy.grace_ms()));
    if !facts.media_unhashed.is_empty() {
        // The reviewer must know which media is proven by its bytes and which by a listing.
        verdict.note(format!(
            "the media of {} is known from the export bucket's listing (size, ETag), not hashed",
            facts
                .media_unhashed
                .iter()
                .map(|id| format!("recording {id}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }

    let mut detail = verdict.clauses.join("; ");
    if detail.is_empty() {
        detail = facts.complete_clause(status);
    }
    for note in &verdict.notes {
        detail.push_str("; ");
        detail.push_str(note);
    }
    let mut chars = detail.chars();
    if let Some(first) = chars.next() {
        detail = format!("{}{}.", first.to_uppercase(), chars.as_str());
    }

    Finding {
        interaction: conversation.id.clone(),
        status,
        reasons: verdict.reasons(),
        recordings: facts.recording_ids.iter().cloned().collect(),
        media_sha256: facts.media_sha256.iter().cloned().collect(),
        started: conversation
            .start
            .map(|t| t.to_string())
            .unwrap_or_default(),
        ended: conversation.end.map(|t| t.to_string()),
        direction: conversation
            .direction
            .clone()
            .unwrap_or_else(|| "unknown".to_string()),
        media: facts.primary_media.clone(),
        queues: facts.queues.iter().cloned().collect(),
        users: facts.users.iter().cloned().collect(),
        detail,
        particulars: super::particulars::of(evidence, final_after),
    }
}

/// Inputs that disagree. A recording id claimed by two conversations belongs to one of them at
/// most, and which one the inputs do not say, so it cannot be taken as this conversation's
/// recording: an exception for a conversation that needed one. Differing copies of the details
/// are noted, with the copy that was used (docs/RULES.md, "Conflicting inputs").
fn check_conflicts(evidence: &Evidence, interacted: bool, verdict: &mut Verdict) {
    for conflict in &evidence.conflicts {
        match conflict {
            Conflict::RecordingClaimed {
                recording_id,
                other_conversation,
            } if interacted => verdict.add(
                Reason::ConflictingEvidence,
                format!(
                    "recording {recording_id} is also claimed by conversation {other_conversation}, so it cannot be counted as this conversation's"
                ),
            ),
            Conflict::RecordingClaimed { .. } => {}
            Conflict::DetailsCopies { kept, other } => verdict.notes.push(format!(
                "its details came in differing copies; the copy in {kept} was used, not the one in {other}"
            )),
        }
    }
}

/// Runs the checks in their documented order and gives the status their reasons make. The
/// checks that settle a conversation on their own (unreadable evidence, out of scope, not
/// ended, too short) stop it there.
fn decide(
    evidence: &Evidence,
    policy: &Policy,
    as_of: Timestamp,
    facts: &Facts,
    verdict: &mut Verdict,
) -> Status {
    if !evidence.unreadable.is_empty() {
        add_unreadable(evidence, verdict);
        return Status::Exception;
    }

    check_scope(evidence, policy, facts, verdict);
    if verdict.has_reasons() {
        return Status::Excluded;
    }

    let Some(end) = evidence.conversation.end else {
        verdict.add(
            Reason::ConversationInProgress,
            "the conversation has no conversationEnd yet, so it is evaluated again by a later run"
                .to_string(),
        );
        return Status::Pending;
    };

    if check_short_interaction(evidence, policy, end, verdict) {
        return Status::Excluded;
    }

    let agent_sessions = agent_sessions(evidence, policy);
    let interacted = agent_sessions
        .iter()
        .any(|(_, s)| has_segment(s, &[INTERACT_SEGMENT]));

    if !interacted {
        check_media_established(&agent_sessions, facts, verdict);
    }

    check_recordings(evidence, policy, as_of, end, facts, verdict);
    check_conflicts(evidence, interacted, verdict);

    if interacted {
        check_recording_exists(facts, verdict);
        check_media_received(&agent_sessions, verdict);
        check_duration(policy, facts, verdict);
    } else if !verdict.has_reasons() {
        return Status::NotRequired;
    }

    settle(policy, as_of, end, verdict)
}

/// Evidence stored for the conversation that cannot be read back: nothing about its
/// recordings can be decided, which is an exception, not a clean verdict.
fn add_unreadable(evidence: &Evidence, verdict: &mut Verdict) {
    verdict.add(
        Reason::EvidenceUnreadable,
        format!(
            "its stored evidence cannot be read back ({}), so nothing about its recordings can be decided; re-import its inputs or restore the database",
            evidence.unreadable.join("; ")
        ),
    );
}

/// A conversation shorter than the configured minimum (`[scope] min_duration_seconds`) is
/// excluded. Returns whether it was.
fn check_short_interaction(
    evidence: &Evidence,
    policy: &Policy,
    end: Timestamp,
    verdict: &mut Verdict,
) -> bool {
    let min_ms = i64::try_from(policy.scope.min_duration_seconds)
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000);
    let Some(start) = evidence.conversation.start else {
        return false;
    };
    if min_ms <= 0 || end.millis() - start.millis() >= min_ms {
        return false;
    }
    verdict.add(
        Reason::ShortInteraction,
        format!(
            "the conversation lasted {} s, under the configured minimum of {} s",
            (end.millis() - start.millis()) / 1000,
            policy.scope.min_duration_seconds
        ),
    );
    true
}

/// The sessions of agents and users whose media is in scope, each with who held it (user id,
/// else name).
fn agent_sessions<'e>(evidence: &'e Evidence, policy: &Policy) -> Vec<(&'e str, &'e Session)> {
    evidence
        .conversation
        .participants
        .iter()
        .filter(|p| AGENT_PURPOSES.contains(&p.purpose.as_str()))
        .flat_map(|p| {
            let who = p
                .user_id
                .as_deref()
                .or(p.name.as_deref())
                .unwrap_or("unknown user");
            p.sessions
                .iter()
                .filter(|s| policy.media_in_scope(&s.media_type))
                .map(move |s| (who, s))
        })
        .collect()
}

/// No agent reached interact, and a leg offered to one failed (a failure disconnect, an error
/// code, a SIP 408 or 5xx): the media was never established, which is not an unanswered call.
fn check_media_established(
    agent_sessions: &[(&str, &Session)],
    facts: &Facts,
    verdict: &mut Verdict,
) {
    let failed: Vec<String> = agent_sessions
        .iter()
        .filter(|(_, s)| has_segment(s, OFFER_SEGMENTS))
        .filter_map(|(who, s)| leg_failure(s).map(|why| format!("the leg of {who} {why}")))
        .collect();
    if !failed.is_empty() {
        verdict.add(
            Reason::MediaNotEstablished,
            format!(
                "no agent {} session reached interact and {}",
                facts.primary_media,
                failed.join(", and ")
            ),
        );
    }
}

/// Agents interacted, so a customer-experience recording must exist in some source; snippets
/// and ad-hoc captures (models/recording.py `mediaSubtype`, `recordingFileRole`) do not count.
fn check_recording_exists(facts: &Facts, verdict: &mut Verdict) {
    if facts.required_kind_ids().next().is_some() {
        return;
    }
    let clause = if facts.supplementary.is_empty() {
        format!(
            "agents interacted for {} but no recording exists in the export, the recording metadata or any failed-recordings listing",
            format_ms(facts.interact_ms)
        )
    } else {
        format!(
            "agents interacted for {} but the only recordings are snippets or ad-hoc captures ({}), which do not satisfy the customer-experience recording",
            format_ms(facts.interact_ms),
            list_or_none(facts.supplementary.iter())
        )
    };
    verdict.add(Reason::RecordingMissing, clause);
}

/// A voice session that reached interact while its media endpoints received no packets
/// (`mediaEndpointStats` `receivedPackets` 0): any recording of it holds silence.
fn check_media_received(agent_sessions: &[(&str, &Session)], verdict: &mut Verdict) {
    for (who, _) in agent_sessions.iter().filter(|(_, s)| {
        s.media_type.eq_ignore_ascii_case("voice")
            && s.received_packets == Some(0)
            && has_segment(s, &[INTERACT_SEGMENT])
    }) {
        verdict.add(
            Reason::NoMediaReceived,
            format!(
                "the voice session of {who} reached interact but its media endpoints received no packets (mediaEndpointStats receivedPackets 0), so any recording of it holds silence"
            ),
        );
    }
}

/// The status the collected reasons give: none is complete; only late-arrival reasons within
/// the grace window after the conversation's end are pending; anything else is an exception.
fn settle(policy: &Policy, as_of: Timestamp, end: Timestamp, verdict: &mut Verdict) -> Status {
    if !verdict.has_reasons() {
        return Status::Complete;
    }
    let only_late = verdict
        .reasons()
        .iter()
        .all(|reason| reason.is_late_arrival());
    let grace_ends = end.plus_millis(policy.grace_ms());
    if only_late && as_of < grace_ends {
        verdict.clauses.push(format!(
            "still within the {} h grace window for late recordings, which ends {}",
            policy.rules.grace_hours, grace_ends
        ));
        return Status::Pending;
    }
    Status::Exception
}

fn check_scope(evidence: &Evidence, policy: &Policy, facts: &Facts, verdict: &mut Verdict) {
    let conversation = &evidence.conversation;
    let scope = &policy.scope;
    // A conversation whose media cannot be told (no sessions yet) is judged, not excluded.
    if facts.primary_media != "unknown" && !policy.media_in_scope(&facts.primary_media) {
        verdict.add(
            Reason::MediaOutOfScope,
            format!(
                "media type {} is not in scope ({})",
                facts.primary_media,
                scope.media_types.join(", ")
            ),
        );
    }
    if !scope.include_internal_calls && is_internal_call(evidence) {
        let purposes: BTreeSet<&str> = conversation
            .participants
            .iter()
            .map(|p| p.purpose.as_str())
            .collect();
        verdict.add(
            Reason::InternalCall,
            format!(
                "no customer or external party took part (participants: {}); Genesys records internal calls only when a user recording is made",
                purposes.into_iter().collect::<Vec<_>>().join(", ")
            ),
        );
    }
    let direction = conversation.direction.as_deref().unwrap_or("unknown");
    if !scope.directions.is_empty() && !scope.directions.iter().any(|d| d == direction) {
        verdict.add(
            Reason::DirectionOutOfScope,
            format!(
                "direction {direction} is not in scope ({})",
                scope.directions.join(", ")
            ),
        );
    }
    let divisions = &conversation.division_ids;
    let division_excluded = (!scope.include_divisions.is_empty()
        && !divisions
            .iter()
            .any(|d| scope.include_divisions.contains(d)))
        || divisions
            .iter()
            .any(|d| scope.exclude_divisions.contains(d));
    if division_excluded {
        verdict.add(
            Reason::DivisionOutOfScope,
            format!(
                "division {} is not in scope",
                list_or_none(divisions.iter())
            ),
        );
    }
    let queue_excluded = (!scope.include_queues.is_empty()
        && !facts
            .queues
            .iter()
            .any(|q| scope.include_queues.contains(q)))
        || facts
            .queues
            .iter()
            .any(|q| scope.exclude_queues.contains(q));
    if queue_excluded {
        verdict.add(
            Reason::QueueOutOfScope,
            format!(
                "queue {} is not in scope",
                list_or_none(facts.queues.iter())
            ),
        );
    }
}

/// Checks every piece of recording evidence: media present, file state, exports, orphans and
/// retention. Runs whether or not an agent interacted: a recording that exists and failed is a
/// failure either way.
fn check_recordings(
    evidence: &Evidence,
    policy: &Policy,
    as_of: Timestamp,
    end: Timestamp,
    facts: &Facts,
    verdict: &mut Verdict,
) {
    for rec in facts.in_scope(&evidence.recordings) {
        check_media_present(evidence, rec, verdict);
        check_file_state(rec, policy, as_of, end, facts, verdict);
        check_delete_date(rec, facts, verdict);
    }
    check_failed_exports(evidence, facts, verdict);
    check_orphans(evidence, facts, verdict);
}

/// The media a recording's source says exists is there: an exported recording has a non-empty
/// media file beside its metadata, and a `Recording` without a fileState has playable media.
fn check_media_present(evidence: &Evidence, rec: &RecordingEvidence, verdict: &mut Verdict) {
    match rec.source {
        RecordingSource::Export => {
            // Paired by recording id: `{rid}.{ext}` beside `{rid}.{ext}_metadata.json`,
            // `{rid}_metadata.json`, or a bare `{rid}` (the help article names the media
            // file by the recording id). A sidecar naming an extension prefers that file.
            let named = rec.export_media_name.as_deref();
            let media = evidence
                .media_files
                .iter()
                .find(|m| Some(m.file_name.as_str()) == named)
                .or_else(|| {
                    evidence
                        .media_files
                        .iter()
                        .find(|m| m.recording_id == rec.recording_id)
                });
            match media {
                None => verdict.add(
                    Reason::MediaFileMissing,
                    format!(
                        "export metadata for recording {} has no media file beside it",
                        rec.recording_id
                    ),
                ),
                Some(file) if file.bytes == 0 => verdict.add(
                    Reason::MediaFileMissing,
                    format!("exported media file {} is 0 bytes", file.file_name),
                ),
                Some(_) => {}
            }
        }
        RecordingSource::Recording if rec.file_state.is_none() => {
            // Without a fileState the transcode fields are all there is; read them in the
            // direction that cannot hide a missing recording.
            if let Some(why) = no_playable_media(rec) {
                verdict.add(
                    Reason::MediaFileMissing,
                    format!(
                        "recording {} has no fileState and no playable media ({why})",
                        rec.recording_id
                    ),
                );
            }
        }
        RecordingSource::Recording | RecordingSource::Metadata => {}
    }
}

/// A recording's `fileState` (models/recording.py, models/recording_metadata.py): `ERROR` is an
/// error, `DELETED` is judged against retention, `UPLOADING` is an error once past the
/// configured threshold and missing media before it, and a state in which Genesys is not
/// known to hold media is missing media unless another source delivered it.
fn check_file_state(
    rec: &RecordingEvidence,
    policy: &Policy,
    as_of: Timestamp,
    end: Timestamp,
    facts: &Facts,
    verdict: &mut Verdict,
) {
    match rec.file_state.as_deref() {
        Some("ERROR") => verdict.add(
            Reason::RecordingError,
            format!("recording {} has fileState ERROR", rec.recording_id),
        ),
        Some("DELETED") => check_deleted(rec, as_of, facts, verdict),
        Some("UPLOADING") => {
            let since = rec.creation_time.unwrap_or(end);
            let stuck_after = since.plus_millis(policy.uploading_threshold_ms());
            if as_of >= stuck_after {
                verdict.add(
                    Reason::RecordingError,
                    format!(
                        "recording {} has been UPLOADING since {} (over {} h)",
                        rec.recording_id, since, policy.rules.uploading_threshold_hours
                    ),
                );
            } else if !facts.has_media(&rec.recording_id) {
                verdict.add(
                    Reason::MediaFileMissing,
                    format!("recording {} is still UPLOADING", rec.recording_id),
                );
            }
        }
        // A state the SDK does not list: never read as media held.
        Some(state)
            if !MEDIA_HELD_STATES.contains(&state) && !facts.has_media(&rec.recording_id) =>
        {
            verdict.add(
                Reason::MediaFileMissing,
                format!(
                    "recording {} has fileState {state}, in which Genesys is not known to hold media",
                    rec.recording_id
                ),
            );
        }
        _ => {}
    }
}

/// A recording not yet deleted whose `deleteDate` comes before the longest matching retention
/// period ends falls short of retention ([`check_deleted`] judges the deleted ones).
fn check_delete_date(rec: &RecordingEvidence, facts: &Facts, verdict: &mut Verdict) {
    if rec.file_state.as_deref() != Some("DELETED")
        && let (Some(delete), Some((until, rule))) = (rec.delete_date, facts.retention_until())
        && delete < until
    {
        verdict.add(
            Reason::RetentionShortfall,
            format!(
                "recording {} is set to be deleted {delete}, before retention {rule} ends {until}",
                rec.recording_id
            ),
        );
    }
}

/// A recording a bulk export job listed as failed is an exception, unless a later export
/// delivered it with media: that is only noted.
fn check_failed_exports(evidence: &Evidence, facts: &Facts, verdict: &mut Verdict) {
    for failed in facts.failed_in_scope(evidence) {
        let job = failed.job_id.as_deref().unwrap_or("of unknown id");
        if facts.exported_with_media(evidence, &failed.recording_id) {
            verdict.note(format!(
                "bulk export job {job} failed recording {}, which a later export delivered with media",
                failed.recording_id
            ));
            continue;
        }
        verdict.add(
            Reason::ExportFailed,
            format!(
                "bulk export job {job} failed recording {}",
                failed.recording_id
            ),
        );
    }
}

/// An orphan recording on an Edge that references the conversation, of media in scope, is an
/// exception whatever else holds the conversation's media.
fn check_orphans(evidence: &Evidence, facts: &Facts, verdict: &mut Verdict) {
    for orphan in evidence
        .orphans
        .iter()
        .filter(|o| facts.media_in_scope(o.media.as_deref()))
    {
        verdict.add(
            Reason::OrphanRecording,
            format!(
                "orphan recording {} ({}) on an Edge references this conversation",
                orphan.orphan_id,
                orphan.orphan_status.as_deref().unwrap_or("status unknown")
            ),
        );
    }
}

/// A `DELETED` recording. `deleteDate` is "the date the recording will be deleted"
/// (models/recording_metadata.py): one deleted once that date has come was deleted by its
/// retention policy, and is judged by the retention rules, not as an error. One deleted with no
/// deleteDate, or before it, was deleted outside its policy.
fn check_deleted(rec: &RecordingEvidence, as_of: Timestamp, facts: &Facts, verdict: &mut Verdict) {
    let id = &rec.recording_id;
    let by_policy = rec.delete_date.filter(|date| *date <= as_of);
    match (by_policy, facts.retention_until()) {
        (Some(date), Some((until, rule))) if date < until => verdict.add(
            Reason::RetentionShortfall,
            format!("recording {id} was deleted by policy on {date}, before retention {rule} ends {until}"),
        ),
        (Some(date), _) => verdict.note(format!(
            "recording {id} was deleted by its retention policy on {date}"
        )),
        (None, Some((until, rule))) if as_of < until => verdict.add(
            Reason::RecordingError,
            format!("recording {id} is DELETED while retention {rule} runs until {until}"),
        ),
        (None, Some(_)) => {}
        (None, None) => verdict.add(
            Reason::RecordingError,
            format!(
                "recording {id} is DELETED before its deleteDate (or with none) and no retention rule allows deleting it"
            ),
        ),
    }
}

fn check_duration(policy: &Policy, facts: &Facts, verdict: &mut Verdict) {
    let Some(covered) = facts.covered_ms else {
        return;
    };
    if facts.interact_ms <= 0 {
        return;
    }
    let permille = policy.coverage_permille();
    if covered.saturating_mul(1000) < permille.saturating_mul(facts.interact_ms) {
        verdict.add(
            Reason::DurationMismatch,
            format!(
                "recorded media covers {} of {} agent interact time ({}%), under the {}% threshold",
                format_ms(covered),
                format_ms(facts.interact_ms),
                covered * 100 / facts.interact_ms,
                permille as f64 / 10.0
            ),
        );
    }
}

/// Why a `Recording` object has no playable media, if it has none. Each of these fields is
/// documented as null (or 0) exactly when there is no playable media.
fn no_playable_media(rec: &RecordingEvidence) -> Option<&'static str> {
    if rec.output_size_bytes == Some(0) {
        Some("outputSizeInBytes 0")
    } else if !rec.has_media_uris {
        Some("mediaUris null")
    } else if rec.start.is_none() || rec.end.is_none() {
        Some("startTime/endTime null")
    } else {
        None
    }
}

/// A conversation with no party outside the org: two or more participants, every one with an
/// internal purpose, at least one an agent or user. A participant without a purpose, or details
/// with a single participant (the far end not reported), keep the conversation in scope.
fn is_internal_call(evidence: &Evidence) -> bool {
    let participants = &evidence.conversation.participants;
    participants.len() >= 2
        && participants
            .iter()
            .any(|p| AGENT_PURPOSES.contains(&p.purpose.as_str()))
        && participants
            .iter()
            .all(|p| INTERNAL_PURPOSES.contains(&p.purpose.as_str()))
}

/// A snippet (`mediaSubtype` `Snippet`) or an ad-hoc capture (`recordingFileRole` `ADHOC`),
/// as models/recording.py and models/recording_metadata.py name them.
fn is_supplementary(rec: &RecordingEvidence) -> bool {
    rec.media_subtype
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("Snippet"))
        || rec
            .file_role
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case("ADHOC"))
}

fn has_segment(session: &Session, types: &[&str]) -> bool {
    session
        .segments
        .iter()
        .any(|s| types.contains(&s.segment_type.as_str()))
}

/// How a leg that never reached interact failed, if it failed: a failure disconnect, an error
/// code, or a SIP 408 or 5xx on any of its segments.
fn leg_failure(session: &Session) -> Option<String> {
    // In the order the segments report them, each once.
    let mut signals: Vec<String> = Vec::new();
    let mut note = |signal: String| {
        if !signals.contains(&signal) {
            signals.push(signal);
        }
    };
    let mut window: Option<(Timestamp, Option<Timestamp>)> = None;
    for segment in &session.segments {
        if OFFER_SEGMENTS.contains(&segment.segment_type.as_str()) && window.is_none() {
            window = Some((segment.start, segment.end));
        }
        if let Some(disconnect) = segment.disconnect_type.as_deref()
            && FAILURE_DISCONNECTS.contains(&disconnect)
        {
            note(format!("disconnectType {disconnect}"));
        }
        if let Some(code) = segment
            .error_code
            .as_deref()
            .filter(|c| !c.trim().is_empty())
        {
            note(format!("errorCode {code}"));
        }
        for sip in &segment.sip_response_codes {
            if *sip == 408 || (500..600).contains(sip) {
                note(format!("SIP {sip}"));
            }
        }
    }
    if signals.is_empty() {
        return None;
    }
    let when = match window {
        Some((start, Some(end))) => format!(" from {start} to {end}"),
        Some((start, None)) => format!(" from {start}"),
        None => String::new(),
    };
    Some(format!(
        "was offered{when} and ended with {}",
        signals.join(", ")
    ))
}

/// Facts derived once per conversation and shared by the checks.
struct Facts<'a> {
    policy: &'a Policy,
    primary_media: String,
    queues: BTreeSet<String>,
    users: BTreeSet<String>,
    recording_ids: BTreeSet<String>,
    media_sha256: BTreeSet<String>,
    /// Recordings whose media object was listed in an export bucket, not downloaded and hashed.
    media_unhashed: BTreeSet<String>,
    /// Recording ids with media: a non-empty export file, a playable `Recording`, or metadata
    /// in a state where Genesys holds the media.
    with_media: BTreeSet<String>,
    interact_ms: i64,
    /// Interact time covered by recorded media; `None` when no recording says how long it is.
    covered_ms: Option<i64>,
    retention: Option<(Timestamp, String)>,
    /// Recording ids some source places outside the media scope.
    out_of_scope: BTreeSet<String>,
    /// Recording ids some source calls a snippet or an ad-hoc capture: evidence, but not the
    /// customer-experience recording the conversation needs.
    supplementary: BTreeSet<String>,
}

impl<'a> Facts<'a> {
    fn gather(evidence: &Evidence, policy: &'a Policy) -> Facts<'a> {
        let conversation = &evidence.conversation;
        let mut facts = Facts {
            policy,
            primary_media: primary_media(evidence),
            queues: BTreeSet::new(),
            users: BTreeSet::new(),
            recording_ids: BTreeSet::new(),
            media_sha256: BTreeSet::new(),
            media_unhashed: BTreeSet::new(),
            with_media: BTreeSet::new(),
            interact_ms: 0,
            covered_ms: None,
            retention: None,
            out_of_scope: BTreeSet::new(),
            supplementary: BTreeSet::new(),
        };
        for participant in &conversation.participants {
            let is_agent = AGENT_PURPOSES.contains(&participant.purpose.as_str());
            if is_agent && let Some(user) = &participant.user_id {
                facts.users.insert(user.clone());
            }
            for session in &participant.sessions {
                for segment in &session.segments {
                    if let Some(queue) = &segment.queue_id {
                        facts.queues.insert(queue.clone());
                    }
                }
            }
        }

        for rec in facts.in_scope(&evidence.recordings) {
            facts.recording_ids.insert(rec.recording_id.clone());
            // fileState is the authority on whether Genesys holds the media; the transcode
            // fields (`outputSizeInBytes` "0 if there is no transcoded media", `mediaUris`
            // "Null when there is no playable media") describe a transcode, not the audio.
            let held = match (rec.source, rec.file_state.as_deref()) {
                (RecordingSource::Export, _) => false,
                (_, Some(state)) => MEDIA_HELD_STATES.contains(&state),
                (RecordingSource::Recording, None) => no_playable_media(rec).is_none(),
                (RecordingSource::Metadata, None) => false,
            };
            if is_supplementary(rec) {
                facts.supplementary.insert(rec.recording_id.clone());
            }
            if held {
                facts.with_media.insert(rec.recording_id.clone());
            }
        }
        // A recording id any source places outside the scope (a screen recording under a voice
        // scope) is not evidence for this conversation, whatever file or listing names it.
        facts.out_of_scope = evidence
            .recordings
            .iter()
            .filter(|r| !facts.media_in_scope(r.media.as_deref()))
            .map(|r| r.recording_id.clone())
            .collect();
        for file in evidence
            .media_files
            .iter()
            .filter(|f| !facts.out_of_scope.contains(&f.recording_id))
        {
            facts.recording_ids.insert(file.recording_id.clone());
            // Only bytes that were hashed: a listed object's hash is unknown, not empty.
            match &file.sha256 {
                Some(sha256) => facts.media_sha256.insert(sha256.clone()),
                None => facts.media_unhashed.insert(file.recording_id.clone()),
            };
            if file.bytes > 0 {
                facts.with_media.insert(file.recording_id.clone());
            }
        }
        let failed: Vec<String> = facts
            .failed_in_scope(evidence)
            .map(|f| f.recording_id.clone())
            .collect();
        facts.recording_ids.extend(failed);

        let interact = interact_intervals(evidence, policy);
        facts.interact_ms = total(&interact);
        facts.covered_ms = facts.coverage(evidence, &interact);
        facts.retention = match (
            retention_rule(evidence, policy, &facts.queues),
            conversation.end,
        ) {
            (Some((days, name)), Some(end)) => {
                let days = i64::try_from(days).unwrap_or(i64::MAX / 86_400_000);
                Some((end.plus_millis(days.saturating_mul(86_400_000)), name))
            }
            _ => None,
        };
        facts
    }

    /// Failed-export entries of recordings not known to be out of scope.
    fn failed_in_scope<'e>(
        &self,
        evidence: &'e Evidence,
    ) -> impl Iterator<Item = &'e FailedExport> + use<'e, '_, 'a> {
        evidence
            .failed_exports
            .iter()
            .filter(|f| !self.out_of_scope.contains(&f.recording_id))
    }

    /// Recording evidence whose media is in scope; evidence of unknown media counts as in scope.
    fn in_scope<'r>(&self, recordings: &'r [RecordingEvidence]) -> Vec<&'r RecordingEvidence> {
        recordings
            .iter()
            .filter(|r| self.media_in_scope(r.media.as_deref()))
            .collect()
    }

    fn media_in_scope(&self, media: Option<&str>) -> bool {
        media.is_none_or(|m| self.policy.media_in_scope(m))
    }

    fn has_media(&self, recording_id: &str) -> bool {
        self.with_media.contains(recording_id)
    }

    /// The bulk export delivered this recording's media: a non-empty file in its folder.
    fn exported_with_media(&self, evidence: &Evidence, recording_id: &str) -> bool {
        evidence
            .media_files
            .iter()
            .any(|m| m.recording_id == recording_id && m.bytes > 0)
    }

    /// Recording ids that can satisfy the conversation's recording requirement.
    fn required_kind_ids(&self) -> impl Iterator<Item = &String> {
        self.recording_ids
            .iter()
            .filter(|id| !self.supplementary.contains(*id))
    }

    /// The end of the longest matching retention period, with the rule's name.
    fn retention_until(&self) -> Option<(Timestamp, &str)> {
        self.retention
            .as_ref()
            .map(|(until, name)| (*until, name.as_str()))
    }

    /// Interact time covered by recordings with media. A recording covers
    /// `[start, start + media length + paused time]` (every pause annotation counts as
    /// covered); snippets and ad-hoc captures cover nothing; overlapping recordings (trunk and
    /// station legs of one call) count once. Recordings with a length but no start add their
    /// length, capped at the interact time.
    fn coverage(&self, evidence: &Evidence, interact: &[(i64, i64)]) -> Option<i64> {
        let mut per_recording: BTreeMap<&str, (Option<i64>, Option<i64>, i64)> = BTreeMap::new();
        for rec in self.in_scope(&evidence.recordings) {
            if !self.has_media(&rec.recording_id) || self.supplementary.contains(&rec.recording_id)
            {
                continue;
            }
            let entry = per_recording
                .entry(rec.recording_id.as_str())
                .or_insert((None, None, 0));
            // `outputDurationMs` is the transcode's length: with no transcoded media
            // (`outputSizeInBytes` 0) it says nothing about the audio.
            let transcoded =
                !(rec.source == RecordingSource::Recording && rec.output_size_bytes == Some(0));
            let duration = rec.duration_ms.filter(|_| transcoded);
            let length = duration.or(match (rec.start, rec.end) {
                (Some(s), Some(e)) if e >= s => Some(e.millis() - s.millis()),
                _ => None,
            });
            if entry.0.is_none() {
                entry.0 = rec.start.map(|t| t.millis());
            }
            if entry.1.is_none() {
                entry.1 = length;
            }
            entry.2 = entry.2.max(rec.paused_ms);
        }
        let mut located = Vec::new();
        let mut unlocated = 0i64;
        let mut measured = false;
        for (start, length, paused) in per_recording.values() {
            let Some(length) = length else { continue };
            measured = true;
            let span = length.saturating_add(*paused).max(0);
            match start {
                Some(start) => located.push((*start, start.saturating_add(span))),
                None => unlocated = unlocated.saturating_add(span),
            }
        }
        if !measured {
            return None;
        }
        let located = union(located);
        let overlap = intersect_total(&located, interact);
        let interact_ms = total(interact);
        Some(overlap.saturating_add(unlocated).min(interact_ms))
    }

    fn complete_clause(&self, status: Status) -> String {
        match status {
            Status::NotRequired => format!(
                "no agent or user {} session reached interact and nothing failed (abandoned in queue, IVR only or unanswered)",
                self.primary_media
            ),
            _ => {
                let with_media = self.with_media.len();
                let coverage = match self.covered_ms {
                    Some(covered) if self.interact_ms > 0 => format!(
                        ", covering {}% of {} agent interact time",
                        covered * 100 / self.interact_ms,
                        format_ms(self.interact_ms)
                    ),
                    _ => String::new(),
                };
                format!(
                    "{with_media} recording{} with media found{coverage}",
                    if with_media == 1 { "" } else { "s" }
                )
            }
        }
    }
}

/// The conversation's primary media: that of the customer-facing session, else of the first
/// session.
fn primary_media(evidence: &Evidence) -> String {
    let participants = &evidence.conversation.participants;
    let customer = participants
        .iter()
        .filter(|p| matches!(p.purpose.as_str(), "customer" | "external"))
        .flat_map(|p| p.sessions.iter())
        .next();
    customer
        .or_else(|| participants.iter().flat_map(|p| p.sessions.iter()).next())
        .map(|s| s.media_type.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

fn retention_rule(
    evidence: &Evidence,
    policy: &Policy,
    queues: &BTreeSet<String>,
) -> Option<(u64, String)> {
    let divisions = &evidence.conversation.division_ids;
    policy
        .retention
        .iter()
        .filter(|rule| {
            (rule.divisions.is_empty() || divisions.iter().any(|d| rule.divisions.contains(d)))
                && (rule.queues.is_empty() || queues.iter().any(|q| rule.queues.contains(q)))
        })
        .max_by(|a, b| a.days.cmp(&b.days).then_with(|| b.name.cmp(&a.name)))
        .map(|rule| (rule.days, rule.name.clone()))
}

/// Interact segments of agent/user sessions in scope, as a union of `[start, end)` intervals.
fn interact_intervals(evidence: &Evidence, policy: &Policy) -> Vec<(i64, i64)> {
    let conversation_end = evidence.conversation.end;
    let intervals = evidence
        .conversation
        .participants
        .iter()
        .filter(|p| AGENT_PURPOSES.contains(&p.purpose.as_str()))
        .flat_map(|p| p.sessions.iter())
        .filter(|s| policy.media_in_scope(&s.media_type))
        .flat_map(|s| s.segments.iter())
        .filter(|seg| seg.segment_type == INTERACT_SEGMENT)
        .filter_map(|seg| {
            let end = seg.end.or(conversation_end)?;
            (end > seg.start).then_some((seg.start.millis(), end.millis()))
        })
        .collect();
    union(intervals)
}

fn union(mut intervals: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    intervals.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::with_capacity(intervals.len());
    for (start, end) in intervals {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

fn total(intervals: &[(i64, i64)]) -> i64 {
    intervals.iter().map(|(s, e)| e - s).sum()
}

/// Total length of the overlap of two sorted, disjoint interval lists.
fn intersect_total(a: &[(i64, i64)], b: &[(i64, i64)]) -> i64 {
    let (mut i, mut j, mut sum) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        let start = a[i].0.max(b[j].0);
        let end = a[i].1.min(b[j].1);
        if end > start {
            sum += end - start;
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    sum
}

fn format_ms(ms: i64) -> String {
    let seconds = ms / 1000;
    if seconds >= 60 {
        format!("{}m{:02}s", seconds / 60, seconds % 60)
    } else {
        format!("{seconds}s")
    }
}

fn list_or_none<'s>(items: impl Iterator<Item = &'s String>) -> String {
    let items: Vec<&str> = items.map(String::as_str).collect();
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_union_and_intersection() {
        let merged = union(vec![(5, 10), (0, 3), (2, 6), (20, 25)]);
        assert_eq!(merged, vec![(0, 10), (20, 25)]);
        assert_eq!(total(&merged), 15);
        assert_eq!(intersect_total(&merged, &[(8, 22)]), 4);
        assert_eq!(intersect_total(&merged, &[(30, 40)]), 0);
    }

    #[test]
    fn durations_read_as_minutes_and_seconds() {
        assert_eq!(format_ms(277_199), "4m37s");
        assert_eq!(format_ms(42_000), "42s");
    }
}
