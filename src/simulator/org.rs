//! A synthetic Genesys Cloud org: one night of conversations built from a seed, each labelled
//! with the scenario it was built as, so tests can check the audit's verdicts against the
//! construction rather than against the audit's own code.
//!
//! The payloads follow the SDK models (camelCase, `Z` timestamps): analytics conversations,
//! recording metadata, a bulk export job's failed recordings, and orphan recordings.

use serde_json::{Value, json};

use crate::audit::{Reason, Status};
use crate::time::{HOUR_MS, Timestamp};

/// How often each scenario occurs, as weights (they need not add up to anything).
#[derive(Debug, Clone, PartialEq)]
pub struct Mix {
    pub recorded: u32,
    pub transfer_recorded: u32,
    pub webrtc_ice_failure: u32,
    pub answered_no_recording: u32,
    pub export_failed: u32,
    /// The export has the sidecar but not the audio ("metadata but no audio").
    pub export_media_missing: u32,
    pub recording_error: u32,
    pub orphaned: u32,
    pub abandoned: u32,
    pub ivr_only: u32,
    pub chat: u32,
    pub message: u32,
    /// Two users call each other: no customer, not recorded by default.
    pub internal_call: u32,
    /// The recording is `ARCHIVED` (held in cold storage).
    pub archived: u32,
    /// The only recording is a `Snippet`.
    pub snippet_only: u32,
    /// The recording was suppressed in a flow or queue for part of the call (a `FlowOrQueue`
    /// pause annotation); the exported audio is that much shorter.
    pub flow_or_queue_pause: u32,
    /// The agent's media endpoint received no packets (`receivedPackets` 0): the recording
    /// holds silence.
    pub no_packets: u32,
    /// The recording was deleted by its retention policy a day after the call (`DELETED`,
    /// `deleteDate` passed).
    pub deleted_by_policy: u32,
    /// The night's export job failed the recording, and a later export delivered it: the
    /// export tree holds its media.
    pub export_retried: u32,
    /// A callback: the export sidecar says `mediaType: Callback`.
    pub callback: u32,
    /// The recording reaches the platform [`LATE_ARRIVAL_HOURS`] after the call ends (an Edge
    /// that uploads late, a recording held back by a network outage): its metadata answers
    /// `[]` until then. Not in the default mix, so that the nights tests know are unchanged;
    /// the nightly job's built-in simulator ([`Mix::nightly`]) has it.
    pub late_recording: u32,
}

/// How long after its call a `late_recording` conversation's recording appears: inside the
/// default 48-hour grace period, so the first night's audit says pending and a later one
/// complete.
pub const LATE_ARRIVAL_HOURS: i64 = 20;

impl Default for Mix {
    fn default() -> Self {
        Mix {
            recorded: 60,
            transfer_recorded: 6,
            webrtc_ice_failure: 5,
            answered_no_recording: 4,
            export_failed: 2,
            export_media_missing: 2,
            recording_error: 2,
            orphaned: 1,
            abandoned: 8,
            ivr_only: 5,
            chat: 4,
            message: 3,
            internal_call: 2,
            archived: 2,
            snippet_only: 1,
            flow_or_queue_pause: 2,
            no_packets: 1,
            deleted_by_policy: 1,
            export_retried: 1,
            callback: 2,
            late_recording: 0,
        }
    }
}

impl Mix {
    /// The default mix and two late recordings per hundred conversations: what
    /// `recaudit run --source sim` serves, so that the nightly job's re-check of pending
    /// interactions has something to find.
    pub fn nightly() -> Mix {
        Mix {
            late_recording: 2,
            ..Mix::default()
        }
    }
}

impl Mix {
    /// The weight of one scenario.
    pub(crate) fn weight(&self, scenario: Scenario) -> u32 {
        match scenario {
            Scenario::Recorded => self.recorded,
            Scenario::TransferRecorded => self.transfer_recorded,
            Scenario::WebrtcIceFailure => self.webrtc_ice_failure,
            Scenario::AnsweredNoRecording => self.answered_no_recording,
            Scenario::ExportFailed => self.export_failed,
            Scenario::ExportMediaMissing => self.export_media_missing,
            Scenario::RecordingError => self.recording_error,
            Scenario::Orphaned => self.orphaned,
            Scenario::Abandoned => self.abandoned,
            Scenario::IvrOnly => self.ivr_only,
            Scenario::Chat => self.chat,
            Scenario::Message => self.message,
            Scenario::InternalCall => self.internal_call,
            Scenario::Archived => self.archived,
            Scenario::SnippetOnly => self.snippet_only,
            Scenario::FlowOrQueuePause => self.flow_or_queue_pause,
            Scenario::NoPackets => self.no_packets,
            Scenario::DeletedByPolicy => self.deleted_by_policy,
            Scenario::ExportRetried => self.export_retried,
            Scenario::Callback => self.callback,
            Scenario::LateRecording => self.late_recording,
        }
    }
}

/// What a conversation was built as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    Recorded,
    TransferRecorded,
    WebrtcIceFailure,
    AnsweredNoRecording,
    ExportFailed,
    ExportMediaMissing,
    RecordingError,
    Orphaned,
    Abandoned,
    IvrOnly,
    Chat,
    Message,
    InternalCall,
    Archived,
    SnippetOnly,
    FlowOrQueuePause,
    NoPackets,
    DeletedByPolicy,
    ExportRetried,
    Callback,
    /// See [`Mix::late_recording`]; not in [`Scenario::ALL`] (its weight is 0 by default).
    LateRecording,
}

impl Scenario {
    /// Every scenario, in the order a night is built from them (the order is part of what a
    /// seed produces).
    pub const ALL: [Scenario; 20] = [
        Scenario::Recorded,
        Scenario::TransferRecorded,
        Scenario::WebrtcIceFailure,
        Scenario::AnsweredNoRecording,
        Scenario::ExportFailed,
        Scenario::ExportMediaMissing,
        Scenario::RecordingError,
        Scenario::Orphaned,
        Scenario::Abandoned,
        Scenario::IvrOnly,
        Scenario::Chat,
        Scenario::Message,
        Scenario::InternalCall,
        Scenario::Archived,
        Scenario::SnippetOnly,
        Scenario::FlowOrQueuePause,
        Scenario::NoPackets,
        Scenario::DeletedByPolicy,
        Scenario::ExportRetried,
        Scenario::Callback,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Recorded => "recorded",
            Scenario::TransferRecorded => "transfer-recorded",
            Scenario::WebrtcIceFailure => "webrtc-ice-failure",
            Scenario::AnsweredNoRecording => "answered-no-recording",
            Scenario::ExportFailed => "export-failed",
            Scenario::ExportMediaMissing => "export-media-missing",
            Scenario::RecordingError => "recording-error",
            Scenario::Orphaned => "orphaned-on-edge",
            Scenario::Abandoned => "abandoned-in-queue",
            Scenario::IvrOnly => "ivr-only",
            Scenario::Chat => "web-chat",
            Scenario::Message => "web-message",
            Scenario::InternalCall => "internal-call",
            Scenario::Archived => "recording-archived",
            Scenario::SnippetOnly => "snippet-only",
            Scenario::FlowOrQueuePause => "flow-or-queue-pause",
            Scenario::NoPackets => "agent-received-no-packets",
            Scenario::DeletedByPolicy => "deleted-by-policy",
            Scenario::ExportRetried => "export-failed-then-delivered",
            Scenario::Callback => "callback-recorded",
            Scenario::LateRecording => "recording-arrives-late",
        }
    }

    /// The verdict when the org's S3 export tree ([`Org::write_export`]) was imported too.
    pub fn expected_with_export(self, end: Timestamp, as_of: Timestamp) -> (Status, Vec<Reason>) {
        let late = as_of < end.plus_millis(48 * HOUR_MS);
        match self {
            Scenario::ExportMediaMissing if late => {
                (Status::Pending, vec![Reason::MediaFileMissing])
            }
            Scenario::ExportMediaMissing => (Status::Exception, vec![Reason::MediaFileMissing]),
            // The later export's media is in the tree: the failure was retried.
            Scenario::ExportRetried => (Status::Complete, vec![]),
            other => other.expected(end, as_of),
        }
    }

    /// The verdict the scenario must get with the default policy, audited at `as_of`, for a
    /// conversation that ended at `end`, from the API alone.
    pub fn expected(self, end: Timestamp, as_of: Timestamp) -> (Status, Vec<Reason>) {
        let late = as_of < end.plus_millis(48 * HOUR_MS);
        match self {
            Scenario::Recorded
            | Scenario::TransferRecorded
            | Scenario::ExportMediaMissing
            | Scenario::Archived
            | Scenario::FlowOrQueuePause
            | Scenario::Callback => (Status::Complete, vec![]),
            Scenario::NoPackets => (Status::Exception, vec![Reason::NoMediaReceived]),
            Scenario::LateRecording if as_of < end.plus_millis(LATE_ARRIVAL_HOURS * HOUR_MS) => {
                (Status::Pending, vec![Reason::RecordingMissing])
            }
            Scenario::LateRecording => (Status::Complete, vec![]),
            // Deleted on its deleteDate (a day after the call): by policy, once that day came.
            Scenario::DeletedByPolicy if as_of >= end.plus_millis(24 * HOUR_MS) => {
                (Status::Complete, vec![])
            }
            Scenario::DeletedByPolicy => (Status::Exception, vec![Reason::RecordingError]),
            // From the API alone, only the failure is known.
            Scenario::ExportRetried => (Status::Exception, vec![Reason::ExportFailed]),
            Scenario::SnippetOnly if late => (Status::Pending, vec![Reason::RecordingMissing]),
            Scenario::SnippetOnly => (Status::Exception, vec![Reason::RecordingMissing]),
            Scenario::InternalCall => (Status::Excluded, vec![Reason::InternalCall]),
            Scenario::WebrtcIceFailure => (Status::Exception, vec![Reason::MediaNotEstablished]),
            Scenario::AnsweredNoRecording if late => {
                (Status::Pending, vec![Reason::RecordingMissing])
            }
            Scenario::AnsweredNoRecording => (Status::Exception, vec![Reason::RecordingMissing]),
            Scenario::ExportFailed => (Status::Exception, vec![Reason::ExportFailed]),
            Scenario::RecordingError => (Status::Exception, vec![Reason::RecordingError]),
            Scenario::Orphaned => (
                Status::Exception,
                vec![Reason::OrphanRecording, Reason::RecordingMissing],
            ),
            Scenario::Abandoned | Scenario::IvrOnly => (Status::NotRequired, vec![]),
            Scenario::Chat | Scenario::Message => (Status::Excluded, vec![Reason::MediaOutOfScope]),
        }
    }
}

/// One synthetic conversation and everything the org knows about it.
#[derive(Debug, Clone)]
pub struct SimConversation {
    pub id: String,
    pub scenario: Scenario,
    pub start: Timestamp,
    pub end: Timestamp,
    /// `AnalyticsConversation`.
    pub(crate) details: Value,
    /// `RecordingMetadata[]` as `GET .../recordingmetadata` returns it.
    pub recording_metadata: Vec<Value>,
    /// The span of audio each recording holds, for the export sidecars: `RecordingMetadata`
    /// carries no times for audio ("The start time of the recording for screen recordings. Null
    /// for other types.", models/recording_metadata.py).
    pub(crate) audio_spans: Vec<AudioSpan>,
    /// Before this instant the platform has no recording for it yet (`late_recording`).
    pub recording_arrives: Option<Timestamp>,
}

/// What one recording's audio covers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AudioSpan {
    pub(crate) recording_id: String,
    pub(crate) start: Timestamp,
    pub(crate) end: Timestamp,
}

/// The org: conversations sorted by start, failed recordings of the night's export job, orphans.
#[derive(Debug, Clone)]
pub struct Org {
    pub id: String,
    pub conversations: Vec<SimConversation>,
    /// (conversation id, recording id) the bulk export job failed on.
    pub failed_recordings: Vec<(String, String)>,
    /// `OrphanRecording` objects.
    pub orphans: Vec<Value>,
    /// The org's own nightly EXPORT job (made by an admin or a policy), covering the night:
    /// what a read-only pull finds and reads.
    pub export_job: String,
    /// The UTC day the conversations start in.
    pub(crate) night: (Timestamp, Timestamp),
    /// Conversations whose recordings are protected from deletion (legal hold, applied in the
    /// platform by `PUT /api/v2/recordings/deletionprotection?protect=true`): what
    /// `POST /api/v2/recordings/deletionprotection` answers. Empty unless [`Org::protect`]
    /// adds some, so a seed's nights are what they were.
    pub protected: std::collections::BTreeSet<String>,
}

/// splitmix64: a tiny, stable PRNG, so a seed gives the same org on every machine and version.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// A UUID-shaped id (version 4 layout).
    pub(crate) fn uuid(&mut self) -> String {
        let (a, b) = (self.next_u64(), self.next_u64());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            8 + (b >> 62),
            (b >> 48) & 0xfff,
            b & 0xffff_ffff_ffff
        )
    }
}

/// The conversations of [`Org::generate`]'s night, built one at a time in the order their
/// random draws come (not sorted by start), so that a night of any size can be written out
/// without being held: the conversations are those of the org of the same arguments.
pub struct Night {
    rng: Rng,
    weighted: Vec<(Scenario, u32)>,
    total: u64,
    agents: Vec<String>,
    day: Timestamp,
    count: usize,
    built: usize,
    /// The org's identity, failed recordings and orphans so far; no conversations.
    org: Org,
}

impl Night {
    pub fn new(seed: u64, count: usize, day: Timestamp, mix: &Mix) -> Night {
        let mut rng = Rng::new(seed);
        let mut weighted: Vec<(Scenario, u32)> =
            Scenario::ALL.iter().map(|s| (*s, mix.weight(*s))).collect();
        // Only when asked for, so that the nights of the default mix stay what they were.
        if mix.late_recording > 0 {
            weighted.push((Scenario::LateRecording, mix.late_recording));
        }
        let total: u64 = weighted
            .iter()
            .map(|(_, w)| u64::from(*w))
            .sum::<u64>()
            .max(1);
        let mut org = Org {
            id: rng.uuid(),
            conversations: Vec::new(),
            failed_recordings: Vec::new(),
            orphans: Vec::new(),
            export_job: String::new(),
            night: (day, day.plus_millis(24 * HOUR_MS)),
            protected: std::collections::BTreeSet::new(),
        };
        org.export_job = rng.uuid();
        let agents: Vec<String> = (0..40).map(|_| rng.uuid()).collect();
        Night {
            rng,
            weighted,
            total,
            agents,
            day,
            count,
            built: 0,
            org,
        }
    }

    /// The org's id (the export tree's top folder).
    pub fn org_id(&self) -> &str {
        &self.org.id
    }
}

impl Iterator for Night {
    type Item = SimConversation;

    fn next(&mut self) -> Option<SimConversation> {
        if self.built >= self.count {
            return None;
        }
        let (i, rng) = (self.built, &mut self.rng);
        self.built += 1;
        // Scenarios cycle through the weights deterministically, then the start is random.
        let mut pick = rng.below(self.total);
        let scenario = self
            .weighted
            .iter()
            .find(|(_, w)| {
                let hit = pick < u64::from(*w);
                pick = pick.saturating_sub(u64::from(*w));
                hit
            })
            .map_or(Scenario::Recorded, |(s, _)| *s);
        // Every scenario appears at least once in a night big enough to hold them all.
        let scenario = if i < self.weighted.len() && self.count >= self.weighted.len() * 4 {
            self.weighted[i].0
        } else {
            scenario
        };
        let start = self.day.plus_millis(rng.below(23 * HOUR_MS as u64) as i64);
        let agent = &self.agents[rng.below(self.agents.len() as u64) as usize];
        let second = &self.agents[rng.below(self.agents.len() as u64) as usize];
        let queue = QUEUES[rng.below(2) as usize];
        self.org.build(rng, scenario, start, agent, second, queue);
        self.org.conversations.pop()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.count - self.built;
        (left, Some(left))
    }
}

const QUEUES: [&str; 2] = [
    "7d6c5b4a-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
    "2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b",
];
const DIVISION: &str = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";

impl Org {
    /// Protects the recordings of these conversations from deletion, as a manager does for a
    /// legal hold. Protection is per conversation id; an id the org does not have is kept too
    /// (the platform's answer for such an id is not documented; the simulator answers it as
    /// protected when asked). Nothing else about the org changes.
    pub fn protect<I, S>(&mut self, ids: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.protected.extend(ids.into_iter().map(Into::into));
    }

    /// Builds `count` conversations starting during the UTC day that begins at `day`.
    pub fn generate(seed: u64, count: usize, day: Timestamp, mix: &Mix) -> Org {
        let mut night = Night::new(seed, count, day, mix);
        let mut conversations = Vec::with_capacity(count);
        conversations.extend(&mut night);
        let mut org = night.org;
        org.conversations = conversations;
        org.conversations
            .sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        org
    }

    /// One org over several nights, each built as [`Org::generate`] builds a day (its own
    /// seed, derived from `seed` and the night's start, `count` conversations starting in its
    /// first 23 hours), with one export job covering them all: the built-in simulator of
    /// `recaudit run`, which may pull tonight and re-pull earlier nights in one process.
    pub fn nights(seed: u64, count: usize, nights: &[(Timestamp, Timestamp)], mix: &Mix) -> Org {
        let mut parts = nights.iter().map(|(from, _)| {
            let night_seed = seed ^ (from.millis() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            Org::generate(night_seed, count, *from, mix)
        });
        let Some(mut org) = parts.next() else {
            return Org::generate(seed, 0, Timestamp::now(), mix);
        };
        for part in parts {
            org.conversations.extend(part.conversations);
            org.failed_recordings.extend(part.failed_recordings);
            org.orphans.extend(part.orphans);
            org.protected.extend(part.protected);
        }
        let from = nights.iter().map(|n| n.0).min().unwrap_or(org.night.0);
        let to = nights.iter().map(|n| n.1).max().unwrap_or(org.night.1);
        org.night = (from, to);
        org.conversations
            .sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        org
    }

    /// Builds one conversation of `scenario` and adds it (and, for some scenarios, a failed
    /// export or an orphan recording) to the org. The random draws happen in a fixed order
    /// (the conversation id, the talk time, the first recording's id, then the scenario's
    /// own), which is part of what a seed produces.
    fn build(
        &mut self,
        rng: &mut Rng,
        scenario: Scenario,
        start: Timestamp,
        agent: &str,
        second: &str,
        queue: &str,
    ) {
        let id = rng.uuid();
        let talk = 60 + rng.below(540);
        let alert = start.plus_millis(secs(20));
        let answer = alert.plus_millis(secs(5));
        let hang = answer.plus_millis(secs(talk));
        let call = Call {
            id,
            scenario,
            start,
            talk,
            alert,
            answer,
            hang,
            wrap: hang.plus_millis(secs(30)),
            recording: rng.uuid(),
            agent,
            second,
            queue,
        };
        let mut built = match scenario {
            Scenario::Recorded
            | Scenario::ExportFailed
            | Scenario::ExportMediaMissing
            | Scenario::RecordingError
            | Scenario::AnsweredNoRecording
            | Scenario::Orphaned
            | Scenario::Archived
            | Scenario::SnippetOnly
            | Scenario::FlowOrQueuePause
            | Scenario::NoPackets
            | Scenario::DeletedByPolicy
            | Scenario::ExportRetried
            | Scenario::Callback
            | Scenario::LateRecording => self.answered_call(rng, &call),
            Scenario::TransferRecorded => transferred_call(rng, &call),
            Scenario::WebrtcIceFailure => webrtc_ice_failure(rng, &call),
            Scenario::Abandoned => abandoned_call(rng, &call),
            Scenario::IvrOnly => ivr_only_call(rng, &call),
            Scenario::InternalCall => internal_call(&call),
            Scenario::Chat | Scenario::Message => digital_conversation(&call),
        };
        if scenario != Scenario::InternalCall {
            dial_numbers(&mut built.participants, &call);
        }
        let Call { id, .. } = call;
        let details = json!({
            "conversationId": id,
            "conversationStart": start.to_string(),
            "conversationEnd": built.end.to_string(),
            "originatingDirection": built.direction,
            "divisionIds": [DIVISION],
            "participants": built.participants
        });
        self.conversations.push(SimConversation {
            id,
            scenario,
            start,
            end: built.end,
            details,
            recording_metadata: built.metadata,
            audio_spans: built.spans,
            recording_arrives: (scenario == Scenario::LateRecording)
                .then(|| built.end.plus_millis(LATE_ARRIVAL_HOURS * HOUR_MS)),
        });
    }

    /// The voice call an agent answers and talks to its end: every scenario about whether
    /// and how its one recording exists (`recorded`, the export failures, the recording's
    /// states, `callback`, ...). Records the night's failed exports and the orphans it makes.
    fn answered_call(&mut self, rng: &mut Rng, call: &Call) -> Built {
        let Call {
            scenario,
            start,
            alert,
            answer,
            hang,
            wrap,
            queue,
            ..
        } = *call;
        let id = call.id.as_str();
        let mut parts = vec![
            customer(id, "voice", start, hang),
            acd(id, start, alert, queue),
            agent_leg(
                id,
                call.agent,
                "voice",
                vec![
                    segment("alert", alert, answer, Some(queue), json!({})),
                    segment(
                        "interact",
                        answer,
                        hang,
                        Some(queue),
                        json!({"disconnectType": "peer"}),
                    ),
                    segment("wrapup", hang, wrap, Some(queue), json!({})),
                ],
            ),
        ];
        if scenario == Scenario::NoPackets {
            parts[2]["sessions"][0]["mediaEndpointStats"] = json!([
                {"codecs": ["audio/opus"], "receivedPackets": 0, "eventTime": hang.to_string()}
            ]);
        }
        let (metadata, spans) = match answered_recording(rng, call) {
            Some((entry, span)) => (vec![entry], vec![span]),
            None => (Vec::new(), Vec::new()),
        };
        if matches!(scenario, Scenario::ExportFailed | Scenario::ExportRetried) {
            self.failed_recordings
                .push((id.to_string(), call.recording.clone()));
        }
        if scenario == Scenario::Orphaned {
            self.orphans.push(orphan_recording(rng, call));
        }
        Built::inbound(parts, wrap, metadata, spans)
    }
}

/// What [`Org::build`] draws for every conversation, whatever its scenario.
struct Call<'a> {
    id: String,
    scenario: Scenario,
    start: Timestamp,
    /// Seconds of talk, when the scenario has any.
    talk: u64,
    alert: Timestamp,
    answer: Timestamp,
    hang: Timestamp,
    wrap: Timestamp,
    /// The id of the conversation's (first) recording.
    recording: String,
    agent: &'a str,
    /// The agent a transfer hands over to, or the callee of an internal call.
    second: &'a str,
    queue: &'a str,
}

/// What a scenario builds for one conversation.
struct Built {
    participants: Vec<Value>,
    end: Timestamp,
    /// `originatingDirection`.
    direction: &'static str,
    metadata: Vec<Value>,
    spans: Vec<AudioSpan>,
}

impl Built {
    fn inbound(
        participants: Vec<Value>,
        end: Timestamp,
        metadata: Vec<Value>,
        spans: Vec<AudioSpan>,
    ) -> Built {
        Built {
            participants,
            end,
            direction: "inbound",
            metadata,
            spans,
        }
    }

    /// An inbound conversation without recordings.
    fn unrecorded(participants: Vec<Value>, end: Timestamp) -> Built {
        Built::inbound(participants, end, Vec::new(), Vec::new())
    }
}

/// Milliseconds of `s` seconds.
fn secs(s: u64) -> i64 {
    s as i64 * 1000
}

/// The one recording of an answered call, as its scenario has it (`None` when it has none):
/// its metadata (state, subtype, pause annotation, delete date) and the audio it holds.
fn answered_recording(rng: &mut Rng, call: &Call) -> Option<(Value, AudioSpan)> {
    let state = match call.scenario {
        Scenario::RecordingError => Some("ERROR"),
        Scenario::Archived => Some("ARCHIVED"),
        Scenario::DeletedByPolicy => Some("DELETED"),
        Scenario::AnsweredNoRecording | Scenario::Orphaned => None,
        _ => Some("AVAILABLE"),
    }?;
    let mut entry = recording_metadata(&call.id, &call.recording, state, call.hang);
    let mut audio_end = call.hang;
    match call.scenario {
        Scenario::SnippetOnly => entry["mediaSubtype"] = json!("Snippet"),
        Scenario::DeletedByPolicy => {
            entry["deleteDate"] = json!(call.wrap.plus_millis(24 * HOUR_MS).to_string());
        }
        Scenario::FlowOrQueuePause => {
            // Recording suppressed for the first 40% of the talk.
            let paused = secs(call.talk) * 4 / 10;
            audio_end = call.hang.plus_millis(-paused);
            entry["annotations"] = json!([{
                "id": rng.uuid(),
                "name": "Flow or queue",
                "type": "pause",
                "location": 0,
                "durationMs": paused,
                "absoluteLocation": 0,
                "absoluteDurationMs": paused,
                "reason": "FlowOrQueue"
            }]);
        }
        _ => {}
    }
    let span = AudioSpan {
        recording_id: call.recording.clone(),
        start: call.answer,
        end: audio_end,
    };
    Some((entry, span))
}

/// The `OrphanRecording` the `orphaned` scenario leaves: the call's recording, never attached
/// to its conversation.
fn orphan_recording(rng: &mut Rng, call: &Call) -> Value {
    json!({
        "id": rng.uuid(),
        "name": "Orphaned recording",
        "createdTime": call.wrap.to_string(),
        "providerType": "EDGE",
        "mediaSizeBytes": 48_213,
        "mediaType": "CALL",
        "mediaSubtype": "Trunk",
        "fileState": "AVAILABLE",
        "orphanStatus": "CONVERSATION_NOT_COMPLETE",
        "recording": {"id": call.recording, "conversationId": call.id, "media": "audio"},
        "region": "us-east-1"
    })
}

/// `transfer-recorded`: the first agent transfers to a second halfway through the talk; each
/// leg has its recording.
fn transferred_call(rng: &mut Rng, call: &Call) -> Built {
    let Call {
        start,
        talk,
        alert,
        answer,
        hang,
        wrap,
        queue,
        ..
    } = *call;
    let id = call.id.as_str();
    let handoff = answer.plus_millis(secs(talk / 2));
    let parts = vec![
        customer(id, "voice", start, hang),
        agent_leg(
            id,
            call.agent,
            "voice",
            vec![
                segment("alert", alert, answer, Some(queue), json!({})),
                segment(
                    "interact",
                    answer,
                    handoff,
                    Some(queue),
                    json!({"disconnectType": "transfer"}),
                ),
            ],
        ),
        agent_leg(
            id,
            call.second,
            "voice",
            vec![
                segment(
                    "interact",
                    handoff,
                    hang,
                    Some(queue),
                    json!({"disconnectType": "peer"}),
                ),
                segment("wrapup", hang, wrap, Some(queue), json!({})),
            ],
        ),
    ];
    let second_recording = rng.uuid();
    let metadata = vec![
        recording_metadata(id, &call.recording, "AVAILABLE", handoff),
        recording_metadata(id, &second_recording, "AVAILABLE", hang),
    ];
    let spans = vec![
        AudioSpan {
            recording_id: call.recording.clone(),
            start: answer,
            end: handoff,
        },
        AudioSpan {
            recording_id: second_recording,
            start: handoff,
            end: hang,
        },
    ];
    Built::inbound(parts, wrap, metadata, spans)
}

/// `webrtc-ice-failure`: the agent's WebRTC leg fails while alerting; media never comes up.
fn webrtc_ice_failure(rng: &mut Rng, call: &Call) -> Built {
    let Call {
        start,
        alert,
        queue,
        ..
    } = *call;
    let id = call.id.as_str();
    let failed = alert.plus_millis(secs(25 + rng.below(20)));
    let parts = vec![
        customer(id, "voice", start, failed),
        acd(id, start, alert, queue),
        agent_leg(
            id,
            call.agent,
            "voice",
            vec![segment(
                "alert",
                alert,
                failed,
                Some(queue),
                json!({
                    "disconnectType": "transportFailure",
                    "errorCode": "error.ininedgecontrol.connection.webrtc.endpoint.disconnect",
                    "sipResponseCodes": [408]
                }),
            )],
        ),
    ];
    Built::unrecorded(parts, failed)
}

/// `abandoned`: the customer hangs up while queued.
fn abandoned_call(rng: &mut Rng, call: &Call) -> Built {
    let (id, start) = (call.id.as_str(), call.start);
    let gone = start.plus_millis(secs(30 + rng.below(240)));
    Built::unrecorded(
        vec![
            customer(id, "voice", start, gone),
            acd(id, start, gone, call.queue),
        ],
        gone,
    )
}

/// `ivr-only`: the customer stays in the IVR and never reaches a queue.
fn ivr_only_call(rng: &mut Rng, call: &Call) -> Built {
    let (id, start) = (call.id.as_str(), call.start);
    let gone = start.plus_millis(secs(30 + rng.below(180)));
    let ivr = json!({
        "participantId": format!("{id}-ivr"),
        "participantName": "Main IVR",
        "purpose": "ivr",
        "sessions": [{"mediaType": "voice", "segments": [segment("ivr", start, gone, None, json!({}))]}]
    });
    Built::unrecorded(vec![customer(id, "voice", start, gone), ivr], gone)
}

/// `internal-call`: two users, no ACD and no customer ("Recording in Genesys Cloud": not
/// recorded unless a user recording is made), so no recording metadata.
fn internal_call(call: &Call) -> Built {
    let Call {
        start, alert, hang, ..
    } = *call;
    let id = call.id.as_str();
    let mut caller = agent_leg(
        id,
        call.agent,
        "voice",
        vec![segment(
            "interact",
            start,
            hang,
            None,
            json!({"disconnectType": "peer"}),
        )],
    );
    let mut callee = agent_leg(
        id,
        call.second,
        "voice",
        vec![
            segment("alert", start, alert, None, json!({})),
            segment(
                "interact",
                alert,
                hang,
                None,
                json!({"disconnectType": "peer"}),
            ),
        ],
    );
    caller["purpose"] = json!("user");
    callee["purpose"] = json!("user");
    Built {
        direction: "outbound",
        ..Built::unrecorded(vec![caller, callee], hang)
    }
}

/// `chat` and `message`: an agent answers a digital conversation (out of the recording scope).
fn digital_conversation(call: &Call) -> Built {
    let media = if call.scenario == Scenario::Chat {
        "chat"
    } else {
        "message"
    };
    let (id, start) = (call.id.as_str(), call.start);
    let done = start.plus_millis(secs(call.talk));
    let parts = vec![
        customer(id, media, start, done),
        agent_leg(
            id,
            call.agent,
            media,
            vec![segment(
                "interact",
                start.plus_millis(secs(10)),
                done,
                Some(call.queue),
                json!({}),
            )],
        ),
    ];
    Built::unrecorded(parts, done)
}

/// The calling and called numbers of a PSTN call (`AnalyticsSession.ani`, "Automatic Number
/// Identification (caller's number)", and `dnis`, "Dialed number identification service (number
/// dialed by the calling party)"), put on every voice session of its participants: `tel:` URIs
/// in E.164, the form Genesys payloads show (docs/RULES.md, "Report particulars"). The customer's number comes from the conversation id
/// (so drawing it takes nothing from the seed's stream and every other value of a night stays
/// what it was), the dialed number is the queue's; both in the NANP's fictional 555-01XX range.
/// Internal calls (user to user) and digital media carry none here.
fn dial_numbers(participants: &mut [Value], call: &Call) {
    const AREAS: [u32; 6] = [212, 312, 415, 617, 713, 917];
    let digest = call.id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let area = AREAS[(digest % AREAS.len() as u64) as usize];
    let line = (digest >> 8) % 100;
    let ani = format!("tel:+1{area}55501{line:02}");
    let dnis = if call.queue == QUEUES[0] {
        "tel:+18005550100"
    } else {
        "tel:+18005550101"
    };
    for participant in participants.iter_mut() {
        let Some(sessions) = participant
            .get_mut("sessions")
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for session in sessions {
            if session["mediaType"] == "voice" {
                session["ani"] = json!(ani);
                session["dnis"] = json!(dnis);
            }
        }
    }
}

fn segment(
    kind: &str,
    start: Timestamp,
    end: Timestamp,
    queue: Option<&str>,
    extra: Value,
) -> Value {
    let mut value = json!({"segmentType": kind, "segmentStart": start.to_string(), "segmentEnd": end.to_string()});
    if let Some(queue) = queue {
        value["queueId"] = json!(queue);
    }
    if let (Some(target), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            target.insert(k.clone(), v.clone());
        }
    }
    value
}

fn customer(id: &str, media: &str, start: Timestamp, end: Timestamp) -> Value {
    json!({
        "participantId": format!("{id}-customer"),
        "participantName": "Customer",
        "purpose": "customer",
        "sessions": [{
            "sessionId": format!("{id}-s-customer"),
            "mediaType": media,
            "direction": "inbound",
            "segments": [segment("interact", start, end, None, json!({"disconnectType": "endpoint"}))]
        }]
    })
}

fn acd(id: &str, start: Timestamp, end: Timestamp, queue: &str) -> Value {
    json!({
        "participantId": format!("{id}-acd"),
        "participantName": "Claims",
        "purpose": "acd",
        "sessions": [{"mediaType": "voice", "segments": [segment("delay", start, end, Some(queue), json!({"disconnectType": "transfer"}))]}]
    })
}

fn agent_leg(id: &str, user: &str, media: &str, segments: Vec<Value>) -> Value {
    json!({
        "participantId": format!("{id}-{user}"),
        "participantName": "Agent",
        "purpose": "agent",
        "userId": user,
        "sessions": [{
            "sessionId": format!("{id}-s-{user}"),
            "mediaType": media,
            "direction": "inbound",
            "provider": "Edge",
            "segments": segments
        }]
    })
}

/// `RecordingMetadata` of an audio recording: no `startTime` ("for screen recordings. Null for
/// other types."), the `endTime` the export writes for a call.
fn recording_metadata(conversation: &str, recording: &str, state: &str, end: Timestamp) -> Value {
    json!({
        "id": recording,
        "conversationId": conversation,
        "endTime": end.to_string(),
        "media": "audio",
        "mediaSubtype": "Trunk",
        "annotations": [],
        "fileState": state,
        "deleteDate": "2033-07-14T00:00:00.000Z",
        "region": "us-east-1",
        "selfUri": format!("/api/v2/conversations/{conversation}/recordingmetadata/{recording}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_org() {
        let day = Timestamp::parse("2026-07-14T00:00:00Z").unwrap();
        let a = Org::generate(7, 200, day, &Mix::default());
        let b = Org::generate(7, 200, day, &Mix::default());
        assert_eq!(a.conversations.len(), 200);
        assert_eq!(
            a.conversations
                .iter()
                .map(|c| &c.details)
                .collect::<Vec<_>>(),
            b.conversations
                .iter()
                .map(|c| &c.details)
                .collect::<Vec<_>>()
        );
        let c = Org::generate(8, 200, day, &Mix::default());
        assert_ne!(a.conversations[0].id, c.conversations[0].id);
        // Every scenario is present.
        for scenario in Scenario::ALL {
            assert!(
                a.conversations.iter().any(|c| c.scenario == scenario),
                "{scenario:?}"
            );
        }
        assert!(
            a.conversations
                .iter()
                .all(|c| c.start >= day && c.end > c.start)
        );
        // Audio recording metadata carries no startTime: "for screen recordings. Null for
        // other types." (models/recording_metadata.py).
        assert!(
            a.conversations
                .iter()
                .flat_map(|c| &c.recording_metadata)
                .all(|m| m.get("startTime").is_none())
        );
    }

    /// PSTN voice sessions carry the calling and called numbers as `tel:` URIs (the SDK's
    /// `AnalyticsSession.ani` and `dnis`), the same for every session of a call and the same for
    /// a seed; internal calls and digital media carry none.
    #[test]
    fn voice_sessions_of_outside_calls_carry_ani_and_dnis() {
        let day = Timestamp::parse("2026-07-14T00:00:00Z").unwrap();
        let org = Org::generate(7, 200, day, &Mix::default());
        let again = Org::generate(7, 200, day, &Mix::default());
        let numbers = |c: &SimConversation| -> Vec<(Option<String>, Option<String>)> {
            c.details["participants"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|p| p["sessions"].as_array().unwrap())
                .map(|s| {
                    let text = |key: &str| s.get(key).and_then(Value::as_str).map(str::to_string);
                    (text("ani"), text("dnis"))
                })
                .collect()
        };
        let mut distinct = std::collections::BTreeSet::new();
        for (c, same) in org.conversations.iter().zip(&again.conversations) {
            let found = numbers(c);
            assert_eq!(found, numbers(same), "{}", c.id);
            let pstn = !matches!(
                c.scenario,
                Scenario::InternalCall | Scenario::Chat | Scenario::Message
            );
            for (ani, dnis) in &found {
                if !pstn {
                    assert!(ani.is_none() && dnis.is_none(), "{:?}", c.scenario);
                    continue;
                }
                let (ani, dnis) = (ani.as_deref().unwrap(), dnis.as_deref().unwrap());
                for number in [ani, dnis] {
                    let digits = number.strip_prefix("tel:+1").unwrap();
                    assert!(digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit()));
                    assert_eq!(&digits[3..8], "55501", "a fictional number: {number}");
                }
                distinct.insert(ani.to_string());
            }
            if pstn {
                assert!(found.windows(2).all(|w| w[0] == w[1]), "one call, one pair");
            }
        }
        assert!(distinct.len() > 10, "customers call from many numbers");
    }
}
