//! What one night's job reports: the [`RunSummary`] every receiver is sent, and its
//! [`Outcome`].

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use crate::time::Timestamp;

/// How a nightly run ended. The job decides it (and the exit status beside it); notify only
/// reads it to choose the receivers (`on`) and the dead-man's ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Sealed, every conversation recorded as it should be.
    Ok,
    /// Sealed, with exceptions (conversations missing a recording or its media).
    Exceptions,
    /// Sealed, and completeness is under the configured threshold.
    BelowThreshold,
    /// Nothing sealed: the evidence does not cover the window (exit 3).
    NotCovered,
    /// Nothing sealed: the run failed (exit 2, or a signal).
    Failure,
}

impl Outcome {
    /// The triggers this outcome fires: a run below the threshold also has exceptions, so a
    /// receiver `on = ["exceptions"]` hears of it too; a run that covers nothing is a failure.
    pub(crate) fn triggers(self) -> &'static [super::Trigger] {
        use super::Trigger;
        match self {
            Outcome::Ok => &[Trigger::Success],
            Outcome::Exceptions => &[Trigger::Exceptions],
            Outcome::BelowThreshold => &[Trigger::BelowThreshold, Trigger::Exceptions],
            Outcome::NotCovered | Outcome::Failure => &[Trigger::Failure],
        }
    }

    /// True when the job did not seal a run: the dead-man's switch is told it failed and the
    /// metrics keep the previous last-success time.
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::NotCovered | Outcome::Failure)
    }

    /// The word used in message titles.
    pub fn title(self) -> &'static str {
        match self {
            Outcome::Ok => "OK",
            Outcome::Exceptions => "EXCEPTIONS",
            Outcome::BelowThreshold => "BELOW THRESHOLD",
            Outcome::NotCovered => "NOT COVERED",
            Outcome::Failure => "FAILED",
        }
    }
}

/// The run's signed checkpoint (docs/LEDGER.md), carried verbatim by every notification so a
/// copy of it lives outside the database (a truncated log is then caught by whoever kept it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checkpoint {
    /// The signed note, exactly as stored (C2SP signed-note text, signature lines included).
    pub note: String,
    /// The log size the checkpoint commits to.
    pub size: u64,
    /// The Merkle root, as the note writes it (base64).
    pub root: String,
}

/// One nightly run, as the receivers get it. The `json` webhook format is this struct
/// serialized (with `"schema": "recaudit.run-summary/1"` first); Slack, Teams and e-mail are
/// renderings of it. Times are UTC, written `YYYY-MM-DDTHH:MM:SS.mmmZ` (RFC 3339).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// recaudit's version (`env!("CARGO_PKG_VERSION")`).
    pub version: String,
    /// The host the job ran on.
    pub host: String,
    pub outcome: Outcome,
    /// The process exit status the job ends with (0-255).
    pub exit_status: u8,
    /// One line for people: what happened, or the error.
    pub message: String,
    #[serde(serialize_with = "canonical")]
    pub window_from: Timestamp,
    #[serde(serialize_with = "canonical")]
    pub window_to: Timestamp,
    /// The time zone the window was chosen in (IANA name, e.g. `Europe/Berlin`).
    pub time_zone: String,
    /// The runs sealed by this job.
    pub runs: Vec<String>,
    /// The earlier runs they supersede.
    pub supersedes: Vec<String>,
    #[serde(serialize_with = "canonical")]
    pub started: Timestamp,
    #[serde(serialize_with = "canonical")]
    pub finished: Timestamp,
    pub duration_seconds: f64,
    /// Conversations audited.
    pub conversations: u64,
    /// Conversations per status code (`complete`, `exception`, `pending`, ...).
    pub statuses: BTreeMap<String, u64>,
    /// Exceptions per reason code.
    pub reasons: BTreeMap<String, u64>,
    /// Complete conversations over those that needed a recording, in percent; `None` when
    /// nothing was sealed or nothing needed one.
    pub completeness_percent: Option<f64>,
    pub checkpoint: Option<Checkpoint>,
    /// Where the reports were written.
    pub report_dir: Option<String>,
}

fn canonical<S: Serializer>(time: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(time)
}

impl RunSummary {
    /// A short title: `recaudit OK: 2026-07-14T00:00:00.000Z .. 2026-07-15T00:00:00.000Z`.
    pub(crate) fn title(&self) -> String {
        format!(
            "recaudit {} on {}: {} .. {} ({})",
            self.outcome.title(),
            self.host,
            self.window_from,
            self.window_to,
            self.time_zone
        )
    }

    /// The facts every rendering lists, as (name, value) lines, in this order.
    pub(crate) fn facts(&self) -> Vec<(&'static str, String)> {
        let list = |items: &[String]| {
            if items.is_empty() {
                "none".to_string()
            } else {
                items.join(", ")
            }
        };
        let counts = |map: &BTreeMap<String, u64>| {
            if map.is_empty() {
                "none".to_string()
            } else {
                map.iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let mut facts = vec![
            (
                "Outcome",
                format!("{} (exit {})", self.outcome.title(), self.exit_status),
            ),
            ("Message", self.message.clone()),
            ("Conversations", self.conversations.to_string()),
            (
                "Completeness",
                self.completeness_percent
                    .map_or_else(|| "n/a".to_string(), |p| format!("{p:.2} %")),
            ),
            ("Statuses", counts(&self.statuses)),
            ("Exception reasons", counts(&self.reasons)),
            ("Runs sealed", list(&self.runs)),
            ("Supersedes", list(&self.supersedes)),
            (
                "Started / finished",
                format!(
                    "{} / {} ({:.0} s)",
                    self.started, self.finished, self.duration_seconds
                ),
            ),
            ("Version", self.version.clone()),
        ];
        if let Some(dir) = &self.report_dir {
            facts.push(("Reports", dir.clone()));
        }
        if let Some(checkpoint) = &self.checkpoint {
            facts.push((
                "Checkpoint",
                format!("size {} root {}", checkpoint.size, checkpoint.root),
            ));
        }
        facts
    }

    /// The plain-text rendering (e-mail body, dead-man's ping body): title, facts, then the
    /// checkpoint note verbatim.
    pub(crate) fn text(&self) -> String {
        let mut text = format!("{}\n\n", self.title());
        for (name, value) in self.facts() {
            text.push_str(&format!("{name}: {value}\n"));
        }
        if let Some(checkpoint) = &self.checkpoint {
            text.push_str(
                "\nSigned checkpoint (keep a copy; `recaudit ledger verify` compares it):\n\n",
            );
            text.push_str(&checkpoint.note);
            if !checkpoint.note.ends_with('\n') {
                text.push('\n');
            }
        }
        text
    }
}
