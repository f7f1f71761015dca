//! The particulars of an interaction a reviewer reads beside its verdict: who took part, the
//! numbers, each recording's state and deletion date, and when a pending verdict becomes final.
//!
//! They are facts copied from the evidence, not part of the decision: no rule reads them and
//! the ledger's finding record does not carry them. They are frozen with the run (the
//! `findings` table keeps them beside each finding), because the reports of a sealed run must
//! regenerate byte for byte even after the conversation's rows are replaced by a newer import.

use serde::{Deserialize, Serialize};

use super::evidence::{Evidence, RecordingSource};
use crate::time::Timestamp;

/// What the reports show of an interaction beyond its finding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Particulars {
    /// Agents who took part, in the order of the details' participants (a user once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<Agent>,
    /// Calling numbers (ANI) of the conversation's sessions, as the details give them, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ani: Vec<String>,
    /// Called numbers (DNIS), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dnis: Vec<String>,
    /// Each recording known for the interaction (every source merged), by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recordings: Vec<RecordingParticulars>,
    /// For a pending verdict: when the grace window for late recordings ends, after which the
    /// next run's verdict is final. None while the conversation has not ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_after: Option<String>,
}

/// An agent of the interaction: the user id and the name the details give, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One recording's state as the evidence states it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingParticulars {
    pub id: String,
    /// `fileState` (AVAILABLE, DELETED, ARCHIVED, ...), from the first source that gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_state: Option<String>,
    /// The earliest `deleteDate` any source gives: when Genesys Cloud will delete the media.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_date: Option<String>,
}

/// The particulars of `evidence`; `final_after` is the grace end of a pending finding.
pub(crate) fn of(evidence: &Evidence, final_after: Option<Timestamp>) -> Particulars {
    let mut agents: Vec<Agent> = Vec::new();
    let mut ani = std::collections::BTreeSet::new();
    let mut dnis = std::collections::BTreeSet::new();
    for participant in &evidence.conversation.participants {
        if let Some(user) = participant.user_id.as_ref().filter(|_| {
            crate::source::model::AGENT_PURPOSES.contains(&participant.purpose.as_str())
        }) {
            match agents.iter_mut().find(|a| &a.user == user) {
                Some(known) if known.name.is_none() => known.name.clone_from(&participant.name),
                Some(_) => {}
                None => agents.push(Agent {
                    user: user.clone(),
                    name: participant.name.clone(),
                }),
            }
        }
        for session in &participant.sessions {
            ani.extend(session.ani.iter().filter(|n| !n.is_empty()).cloned());
            dnis.extend(session.dnis.iter().filter(|n| !n.is_empty()).cloned());
        }
    }
    let mut recordings: Vec<RecordingParticulars> = Vec::new();
    // Sources in a fixed order, so the state shown does not depend on the order rows came in.
    let mut sources: Vec<_> = evidence.recordings.iter().collect();
    sources.sort_by_key(|r| (r.recording_id.clone(), source_rank(r.source)));
    for recording in sources {
        let delete_date = recording.delete_date.map(|t| t.to_string());
        match recordings
            .iter_mut()
            .find(|r| r.id == recording.recording_id)
        {
            Some(known) => {
                if known.file_state.is_none() {
                    known.file_state.clone_from(&recording.file_state);
                }
                if let Some(date) = delete_date {
                    let earlier = known.delete_date.as_ref().is_none_or(|d| date < *d);
                    if earlier {
                        known.delete_date = Some(date);
                    }
                }
            }
            None => recordings.push(RecordingParticulars {
                id: recording.recording_id.clone(),
                file_state: recording.file_state.clone(),
                delete_date,
            }),
        }
    }
    Particulars {
        agents,
        ani: ani.into_iter().collect(),
        dnis: dnis.into_iter().collect(),
        recordings,
        final_after: final_after.map(|t| t.to_string()),
    }
}

fn source_rank(source: RecordingSource) -> u8 {
    match source {
        RecordingSource::Metadata => 0,
        RecordingSource::Recording => 1,
        RecordingSource::Export => 2,
    }
}
