//! What a report set of version 2 renders: the run, its findings with their particulars, the
//! context frozen when the run was sealed, and, for a matter's report, the legal hold it is
//! scoped to.
//!
//! Everything here is stored data. The context (display time zone, the ledger position the run
//! extends, the trend of earlier runs, the link to Genesys Cloud) is computed once, when the run
//! is sealed, and kept with the run (`runs.report_context`), so that `recaudit report --run ID`
//! renders the same bytes years later, whatever the configuration says by then.

use std::collections::BTreeMap;

use chrono::TimeZone;
use serde::{Deserialize, Serialize};

use crate::audit::findings::FindingsIter;
use crate::audit::{Findings, Status};
use crate::error::Result;
use crate::store::RunRecord;
use crate::time::Timestamp;

/// The report set of runs sealed before report sets were versioned: findings.csv,
/// findings.json, summary.md, manifest.json, exactly as they were rendered then.
pub(crate) const REPORT_SET_V1: i64 = 1;
/// The reviewer's report set: v1's files reworked plus report.html, certificate.txt and
/// findings.dat (see `report::render`).
pub(crate) const REPORT_SET_V2: i64 = 2;
/// The set new runs are sealed with.
pub(crate) const REPORT_SET_CURRENT: i64 = REPORT_SET_V2;

/// How new runs' reports show what the data leaves open: chosen by the operator
/// (`[report]`), frozen into each run's [`ReportContext`] when it is sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOptions {
    /// IANA zone of local times (default UTC).
    pub time_zone: String,
    /// Link to an interaction in Genesys Cloud, `{id}` standing for the conversation id.
    pub interaction_link: Option<String>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            time_zone: "UTC".to_string(),
            interaction_link: None,
        }
    }
}

impl TrendPoint {
    /// The counts of `findings`, a run over `[window_start, window_end)`.
    pub(crate) fn of(run: &RunRecord, findings: &Findings) -> TrendPoint {
        let statuses = Status::ALL
            .into_iter()
            .map(|s| (s.as_str().to_string(), findings.counts().status(s) as u64))
            .filter(|(_, n)| *n > 0)
            .collect();
        TrendPoint {
            run: run.run_id.clone(),
            window_start: run.window_start.clone(),
            window_end: run.window_end.clone(),
            statuses,
        }
    }
}

/// One report set's input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReportData<'a> {
    pub(crate) run: &'a RunRecord,
    pub(crate) context: &'a ReportContext,
    /// The population, in conversation-id order (a matter's: only its interactions).
    pub(crate) findings: &'a Findings,
    /// Set for a matter's report.
    pub(crate) matter: Option<&'a MatterScope>,
}

/// Facts the reports need that are not in the run record, frozen when the run is sealed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportContext {
    /// IANA zone the reviewer reads local times in (`[run] time_zone`); UTC is always shown too.
    pub time_zone: String,
    /// The ledger's origin (the checkpoint's first line).
    pub origin: String,
    /// Position of this run's record in the ledger log: the checkpoint that seals the run has
    /// tree size `index + 1`.
    pub index: u64,
    /// Root (lowercase hex) of the log this run extends, i.e. of the checkpoint of size
    /// `index`; the run record's `prev-root`.
    pub previous_root: String,
    /// The signed checkpoint (C2SP note text) of the log this run extends, size `index`; none
    /// for the first run. The checkpoint that seals the run itself cannot be inside its
    /// reports (it signs their hash): it is written beside them as `checkpoint.note`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_checkpoint: Option<String>,
    /// The run this one supersedes (the newest earlier run over the same window), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<String>,
    /// Link to an interaction in the Genesys Cloud web app, `{id}` standing for the
    /// conversation id; none when the org's region is not known (imported files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interaction_link: Option<String>,
    /// Earlier sealed audit runs, oldest first (at most [`TREND_RUNS`]), then this run.
    #[serde(default)]
    pub trend: Vec<TrendPoint>,
}

/// How many earlier runs the trend shows.
pub(crate) const TREND_RUNS: usize = 30;

/// One run's counts, for the trend across runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrendPoint {
    pub run: String,
    pub window_start: String,
    pub window_end: String,
    /// Interactions per status code.
    pub statuses: BTreeMap<String, u64>,
}

/// A legal hold as a matter's report is scoped to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatterScope {
    /// The matter's id (`recaudit hold add <MATTER>`).
    pub matter: String,
    pub name: String,
    /// The hold's version the report used (1 for the hold as added, +1 per change).
    pub version: u64,
    /// SHA-256 of that version's hold document, as sealed in the ledger.
    pub hold_sha256: String,
    /// The run id of the ledger entry that sealed that version.
    pub hold_entry: String,
    /// The criteria, one line each, as the hold document states them (for the header).
    pub criteria: Vec<String>,
    /// The ledger entry that seals this matter report (its run id) and its position in the
    /// log: the matter's manifest hash is in that entry's run record, not the audit run's.
    pub entry: String,
    pub entry_index: u64,
    /// When the matter report was made (its ledger entry's completed time): the instant held
    /// recordings' deletion dates are judged against.
    pub generated: String,
    /// Days ahead within which a deletion date counts as near.
    pub warn_days: u64,
    /// Whether the hold was released (a released matter's report says so in its header).
    pub released: bool,
    /// When Genesys Cloud's deletion protection of the held conversations was read (the last
    /// answer's time); none when it was not asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protection_checked: Option<String>,
    /// The held conversations Genesys Cloud said are protected from deletion.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protected: Vec<String>,
    /// Held recordings at risk, in interaction then recording order.
    pub flags: Vec<HoldFlag>,
}

/// A held recording the reviewer must act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldFlag {
    pub interaction: String,
    pub recording: String,
    pub kind: HoldFlagKind,
    /// One sentence: what the evidence says and what to do.
    pub detail: String,
}

/// Why a held recording is flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HoldFlagKind {
    /// Its fileState says the media is deleted.
    Deleted,
    /// Its deleteDate is at or before the report's time.
    DeletionDue,
    /// Its deleteDate is within `warn_days` of the report's time.
    DeletionNear,
    /// recaudit has no evidence that Genesys Cloud protects it from deletion.
    NotProtected,
}

impl HoldFlagKind {
    pub(crate) fn code(self) -> &'static str {
        match self {
            HoldFlagKind::Deleted => "deleted",
            HoldFlagKind::DeletionDue => "deletion-due",
            HoldFlagKind::DeletionNear => "deletion-near",
            HoldFlagKind::NotProtected => "not-protected",
        }
    }
}

impl<'a> ReportData<'a> {
    /// A run's report data (no matter).
    pub(crate) fn of(
        run: &'a RunRecord,
        context: &'a ReportContext,
        findings: &'a Findings,
    ) -> Self {
        ReportData {
            run,
            context,
            findings,
            matter: None,
        }
    }
}

impl<'a> ReportData<'a> {
    /// The population in the order reviewers read it: by status (exceptions first, then
    /// pending, complete, excluded, not required), then start time, then id.
    pub(crate) fn reading_order(&self) -> Result<FindingsIter<'a>> {
        let findings: &'a Findings = self.findings;
        Ok(findings.in_order(findings.reading_order()?))
    }

    /// The findings of `status`, in reading order.
    pub(crate) fn of_status(&self, status: Status) -> Result<FindingsIter<'a>> {
        let findings: &'a Findings = self.findings;
        Ok(findings.in_order(findings.reading_order_of(status)?))
    }

    /// How many findings have `status`.
    pub(crate) fn count(&self, status: Status) -> usize {
        self.findings.counts().status(status)
    }

    /// The ledger entry whose run record holds this report set's manifest hash, and its index
    /// in the log: the run's, or for a matter's report the matter entry's.
    pub(crate) fn sealed_by(&self) -> (&str, u64) {
        match self.matter {
            Some(m) => (&m.entry, m.entry_index),
            None => (&self.run.run_id, self.context.index),
        }
    }

    /// The link to `interaction` in Genesys Cloud, if the context has one.
    pub(crate) fn link(&self, interaction: &str) -> Option<String> {
        self.context
            .interaction_link
            .as_ref()
            .map(|template| template.replace("{id}", &crate::pct::pct_encode(interaction)))
    }

    /// `utc` (canonical text) in the context's time zone, `YYYY-MM-DD HH:MM:SS ±HH:MM`; the
    /// text unchanged when it is not a time or the zone is unknown.
    pub(crate) fn local_time(&self, utc: &str) -> String {
        local_time(utc, &self.context.time_zone)
    }
}

/// `utc` in `zone` as `YYYY-MM-DD HH:MM:SS ±HH:MM`.
pub(crate) fn local_time(utc: &str, zone: &str) -> String {
    let (Ok(instant), Ok(zone)) = (Timestamp::parse(utc), zone.parse::<chrono_tz::Tz>()) else {
        return utc.to_string();
    };
    match zone.timestamp_millis_opt(instant.millis()).single() {
        Some(local) => local.format("%Y-%m-%d %H:%M:%S %:z").to_string(),
        None => utc.to_string(),
    }
}

/// The local calendar day (`YYYY-MM-DD`) of `utc` in `zone`, for per-day counts.
pub(crate) fn local_day(utc: &str, zone: &str) -> String {
    local_time(utc, zone).chars().take(10).collect()
}
