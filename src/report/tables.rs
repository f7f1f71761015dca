//! findings.csv and findings.json of report set 2: the whole population, one row per
//! interaction. The CSV is in reading order (exceptions first, then pending, complete,
//! excluded, not-required; by start time within a status, see `ReportData::reading_order`);
//! the JSON keeps v1's conversation-id order, so programs that read v1's document by position
//! read v2's the same way.
//!
//! **findings.csv is for Excel.** Excel opens a UTF-8 file without a byte-order mark as the
//! machine's ANSI code page (Windows-1252 in most of the world), so an agent called "Zoë"
//! becomes "ZoÃ«"; with the BOM `EF BB BF` it is read as UTF-8. Other CSV readers skip the BOM
//! or show it as one invisible character in the first header, so the file starts with one. Rows
//! end in CRLF (RFC 4180). Times are text Excel parses as a date-time, `YYYY-MM-DD HH:MM:SS`:
//! `started_utc`/`ended_utc` in UTC, `started_local`/`ended_local` on the wall clock of the
//! run's time zone (`time_zone`, with `local_offset` so an hour repeated at a daylight-saving
//! change is not ambiguous). Lists get a column each, joined with `; ` (names) or `;` (ids and
//! hashes, which never contain one). Every value copied from the data goes through
//! [`super::cell`], the OWASP defence against formula injection (`=cmd|...` becomes `'=cmd|...`).
//!
//! `recordings` is every recording id the data knows for the interaction: the finding's
//! in-scope ones, those of its particulars (any source) and the orphans; `recording_states`
//! gives each one's fileState and deleteDate.
//!
//! Orphan recordings: the finding keeps no list of them, only the sentence of the
//! `orphan-recording` rule in `detail` ("orphan recording ID (STATUS) on an Edge references this
//! conversation"). [`orphan_ids`] reads the ids back out of that sentence, so they get their own
//! column instead of hiding in the detail text.
//!
//! **findings.json** is v1's document plus `report_set: 2`, the frozen context (time zone,
//! ledger position, link template, trend), the tally, the matter with its flags, and each
//! finding's particulars. Its keys come from structs, so their order is fixed; it ends in LF.

use std::io::Write;

use serde::Serialize;

use super::view::{HoldFlag, MatterScope, ReportContext, ReportData};
use super::{Tally, Window, cell, coverage_of, render_error};
use crate::audit::coverage::Coverage;
use crate::audit::particulars::Particulars;
use crate::audit::{Finding, Findings, Status};
use crate::error::Result;
use crate::time::Timestamp;

/// The UTF-8 byte-order mark Excel needs to read the CSV (and the DAT's loaders) as UTF-8.
pub(super) const BOM: &str = "\u{FEFF}";

/// The sentence the orphan-recording rule writes per orphan (src/audit/rules.rs).
const ORPHAN_PREFIX: &str = "orphan recording ";

/// `utc` (canonical text) as `YYYY-MM-DD HH:MM:SS`, which spreadsheets parse as a date-time;
/// the text unchanged when it is not a time.
pub(super) fn utc_cell(utc: &str) -> String {
    Timestamp::parse(utc)
        .ok()
        .and_then(|t| chrono::DateTime::from_timestamp_millis(t.millis()))
        .map_or_else(
            || utc.to_string(),
            |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
        )
}

/// `utc` on the wall clock of the run's zone: (`YYYY-MM-DD HH:MM:SS`, `±HH:MM`).
pub(super) fn local_parts(data: &ReportData<'_>, utc: &str) -> (String, String) {
    let local = data.local_time(utc);
    match local.rsplit_once(' ') {
        Some((clock, offset)) if offset.starts_with(['+', '-']) => {
            (clock.to_string(), offset.to_string())
        }
        _ => (local, String::new()),
    }
}

/// The agents' names as the details give them (the user id where no name is given).
pub(super) fn agent_names(f: &Finding) -> Vec<String> {
    if f.particulars.agents.is_empty() {
        return f.users.clone();
    }
    f.particulars
        .agents
        .iter()
        .map(|a| a.name.clone().unwrap_or_else(|| a.user.clone()))
        .collect()
}

/// Ids of the orphan recordings the finding's detail names (see the module documentation).
pub(super) fn orphan_ids(f: &Finding) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = f.detail.as_str();
    while let Some(at) = rest.find(ORPHAN_PREFIX) {
        rest = &rest[at + ORPHAN_PREFIX.len()..];
        if let Some((id, _)) = rest
            .split_once(" (")
            .filter(|(id, _)| !id.is_empty() && !id.contains(' '))
        {
            ids.push(id.to_string());
        }
    }
    ids
}

/// Every recording id the evidence knows for the interaction: the finding's in-scope ones,
/// the particulars' (any source) and the orphans, sorted, once each.
pub(super) fn all_recording_ids(f: &Finding) -> Vec<String> {
    let mut ids: Vec<String> = f.recordings.clone();
    ids.extend(f.particulars.recordings.iter().map(|r| r.id.clone()));
    ids.extend(orphan_ids(f));
    ids.sort();
    ids.dedup();
    ids
}

/// The matter's flags on this interaction, `kind:recording` each.
pub(super) fn hold_flags(matter: &MatterScope, interaction: &str) -> Vec<String> {
    matter
        .flags
        .iter()
        .filter(|flag| flag.interaction == interaction)
        .map(|flag| format!("{}:{}", flag.kind.code(), flag.recording))
        .collect()
}

/// Each recording's state, `id=STATE` or `id=STATE deletes YYYY-MM-DD HH:MM:SS` (UTC).
fn recording_states(particulars: &Particulars) -> Vec<String> {
    particulars
        .recordings
        .iter()
        .map(|r| {
            let mut text = format!("{}={}", r.id, r.file_state.as_deref().unwrap_or("unknown"));
            if let Some(date) = &r.delete_date {
                text.push_str(&format!(" deletes {}", utc_cell(date)));
            }
            text
        })
        .collect()
}

/// The columns every CSV has; `link` follows when the run has a link template, `hold_flags`
/// in a matter's report.
///
/// No run id: the report directory and manifest.json name the run, and two runs with the same
/// verdicts (a night re-run after a kill) have the same CSV.
const CSV_HEADER: [&str; 23] = [
    "interaction",
    "status",
    "reasons",
    "started_utc",
    "ended_utc",
    "started_local",
    "ended_local",
    "local_offset",
    "time_zone",
    "direction",
    "media",
    "queues",
    "agents",
    "agent_ids",
    "ani",
    "dnis",
    "recordings",
    "orphan_recordings",
    "recording_states",
    "media_sha256",
    "final_after_utc",
    "final_after_local",
    "detail",
];

/// One CSV row of `f` (the columns of [`CSV_HEADER`], then `link` and `hold_flags` when the
/// header has them).
fn csv_row(data: &ReportData<'_>, f: &Finding) -> Vec<String> {
    let (started_local, offset) = local_parts(data, &f.started);
    let ended = f.ended.as_deref().unwrap_or("");
    let ended_local = f
        .ended
        .as_deref()
        .map(|e| local_parts(data, e).0)
        .unwrap_or_default();
    let final_after = f.particulars.final_after.as_deref();
    let reasons: Vec<&str> = f.reasons.iter().map(|r| r.code()).collect();
    let cells = |items: &[String], separator: &str| cell(&items.join(separator)).into_owned();
    let mut row = vec![
        cell(&f.interaction).into_owned(),
        f.status.as_str().to_string(),
        reasons.join(";"),
        utc_cell(&f.started),
        if ended.is_empty() {
            String::new()
        } else {
            utc_cell(ended)
        },
        started_local,
        ended_local,
        // `UTC+02:00`, not `+02:00`: a cell that begins with `+` is a formula to Excel.
        if offset.is_empty() {
            offset
        } else {
            format!("UTC{offset}")
        },
        cell(&data.context.time_zone).into_owned(),
        cell(&f.direction).into_owned(),
        cell(&f.media).into_owned(),
        cells(&f.queues, "; "),
        cells(&agent_names(f), "; "),
        cells(&f.users, ";"),
        cells(&f.particulars.ani, "; "),
        cells(&f.particulars.dnis, "; "),
        cells(&all_recording_ids(f), ";"),
        cells(&orphan_ids(f), ";"),
        cells(&recording_states(&f.particulars), "; "),
        f.media_sha256.join(";"),
        final_after.map(utc_cell).unwrap_or_default(),
        final_after
            .map(|t| local_parts(data, t).0)
            .unwrap_or_default(),
        cell(&f.detail).into_owned(),
    ];
    if let Some(link) = data.link(&f.interaction) {
        row.push(cell(&link).into_owned());
    }
    if let Some(matter) = data.matter {
        row.push(cells(&hold_flags(matter, &f.interaction), ";"));
    }
    row
}

/// findings.csv in memory.
#[cfg(test)]
pub(crate) fn csv(data: &ReportData<'_>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write_csv(data, &mut out)?;
    Ok(out)
}

/// Writes findings.csv (see the module documentation) into `out`.
pub(crate) fn write_csv(data: &ReportData<'_>, out: &mut dyn Write) -> Result<()> {
    out.write_all(BOM.as_bytes())
        .map_err(render_error("findings.csv"))?;
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    let mut header = CSV_HEADER.to_vec();
    if data.context.interaction_link.is_some() {
        header.push("link");
    }
    if data.matter.is_some() {
        header.push("hold_flags");
    }
    writer
        .write_record(header)
        .map_err(render_error("findings.csv"))?;
    for f in data.reading_order()? {
        writer
            .write_record(csv_row(data, &f?))
            .map_err(render_error("findings.csv"))?;
    }
    writer
        .flush()
        .map_err(|e| render_error("findings.csv")(csv::Error::from(e)))
}

#[derive(Serialize)]
#[serde(bound(serialize = "super::Rows<F>: Serialize"))]
struct DocumentV2<'a, F> {
    report_set: i64,
    run: &'a str,
    window: Window<'a>,
    as_of: &'a str,
    completed: &'a str,
    rule_set: &'a str,
    policy: &'a str,
    software: &'a str,
    time_zone: &'a str,
    context: &'a ReportContext,
    #[serde(skip_serializing_if = "Option::is_none")]
    coverage: Option<Coverage>,
    tally: TallyDocument,
    #[serde(skip_serializing_if = "Option::is_none")]
    matter: Option<&'a MatterScope>,
    findings: super::Rows<F>,
}

/// Counts as integers; completeness as exact text (`66.66%`), never a float.
#[derive(Serialize)]
struct TallyDocument {
    total: usize,
    /// Every status, in the order of `Status::ALL`, zero counts included.
    statuses: Vec<Count>,
    /// Reasons given at least once, by code.
    reasons: Vec<Count>,
    completeness: String,
}

#[derive(Serialize)]
struct Count {
    code: &'static str,
    interactions: usize,
}

impl TallyDocument {
    fn of(findings: &Findings) -> TallyDocument {
        let tally = Tally::of(findings);
        TallyDocument {
            total: tally.total(),
            statuses: Status::ALL
                .iter()
                .map(|s| Count {
                    code: s.code(),
                    interactions: tally.count(*s),
                })
                .collect(),
            reasons: tally
                .by_reason()
                .map(|(code, interactions)| Count { code, interactions })
                .collect(),
            completeness: tally.completeness(),
        }
    }
}

#[derive(Serialize)]
struct RowV2<'a> {
    #[serde(flatten)]
    v1: super::FindingRow,
    started_local: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ended_local: Option<String>,
    orphan_recordings: Vec<String>,
    particulars: Particulars,
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hold_flags: Option<Vec<&'a HoldFlag>>,
}

/// findings.json in memory.
#[cfg(test)]
pub(crate) fn json(data: &ReportData<'_>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write_json(data, &mut out)?;
    Ok(out)
}

/// Writes findings.json (see the module documentation) into `out`, row by row.
pub(crate) fn write_json(data: &ReportData<'_>, out: &mut dyn Write) -> Result<()> {
    let run = data.run;
    let document = DocumentV2 {
        report_set: run.report_set,
        run: &run.run_id,
        window: Window {
            from: &run.window_start,
            to: &run.window_end,
        },
        as_of: &run.as_of,
        completed: &run.completed,
        rule_set: &run.rule_set,
        policy: &run.policy,
        software: &run.software,
        time_zone: &data.context.time_zone,
        context: data.context,
        coverage: coverage_of(run)?,
        tally: TallyDocument::of(data.findings),
        matter: data.matter,
        findings: super::Rows(|| {
            data.findings.iter().map(|f| {
                let mut f = f?;
                let particulars = std::mem::take(&mut f.particulars);
                let orphan_recordings = orphan_ids(&f);
                Ok(RowV2 {
                    started_local: data.local_time(&f.started),
                    ended_local: f.ended.as_deref().map(|e| data.local_time(e)),
                    orphan_recordings,
                    link: data.link(&f.interaction),
                    hold_flags: data.matter.map(|m| {
                        m.flags
                            .iter()
                            .filter(|flag| flag.interaction == f.interaction)
                            .collect()
                    }),
                    particulars,
                    v1: super::FindingRow::from(f),
                })
            })
        }),
    };
    serde_json::to_writer_pretty(&mut *out, &document).map_err(render_error("findings.json"))?;
    out.write_all(b"\n").map_err(render_error("findings.json"))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::audit::Reason;
    use crate::audit::particulars::{Agent, RecordingParticulars};
    use crate::report::view::HoldFlagKind;
    use crate::store::RunRecord;

    pub(crate) fn run() -> RunRecord {
        RunRecord {
            run_id: "20260716-000000-1".into(),
            seq: 1,
            window_start: "2026-07-14T00:00:00.000Z".into(),
            window_end: "2026-07-15T00:00:00.000Z".into(),
            as_of: "2026-07-16T00:00:00.000Z".into(),
            completed: "2026-07-16T00:00:05.000Z".into(),
            rule_set: "recaudit-rules-2".into(),
            policy: "{}".into(),
            software: "recaudit-test".into(),
            manifest_sha256: String::new(),
            coverage: String::new(),
            report_set: 2,
            report_context: String::new(),
        }
    }

    pub(crate) fn context() -> ReportContext {
        ReportContext {
            time_zone: "America/New_York".into(),
            origin: "audit.example.com/recaudit/org".into(),
            index: 4,
            previous_root: "ab".repeat(32),
            previous_checkpoint: None,
            supersedes: None,
            interaction_link: Some("https://apps.example/#/interaction/{id}".into()),
            trend: Vec::new(),
        }
    }

    /// A finding whose every text field carries something hostile to one of the formats.
    pub(crate) fn hostile(id: &str, status: Status, started: &str) -> Finding {
        Finding {
            interaction: id.into(),
            status,
            reasons: vec![Reason::OrphanRecording, Reason::RecordingMissing],
            recordings: vec!["rec-1".into()],
            media_sha256: vec!["0".repeat(64)],
            started: started.into(),
            ended: Some("2026-07-14T10:05:00.000Z".into()),
            direction: "inbound".into(),
            media: "voice".into(),
            queues: vec!["=cmd|' /C calc'!A0".into(), "Sales | East".into()],
            users: vec!["u1".into()],
            detail: "no recording; orphan recording orph-9 (ARCHIVED) on an Edge references this \
                     conversation; þorn\u{14}dc4\nnew line\r\n$ rm -rf / ® | x"
                .into(),
            particulars: Particulars {
                agents: vec![Agent {
                    user: "u1".into(),
                    name: Some("Sigþór |\n# Forged".into()),
                }],
                ani: vec!["+15550100".into()],
                dnis: vec!["tel:+15550199".into()],
                recordings: vec![RecordingParticulars {
                    id: "rec-1".into(),
                    file_state: Some("AVAILABLE".into()),
                    delete_date: Some("2026-08-14T00:00:00.000Z".into()),
                }],
                final_after: (status == Status::Pending).then(|| "2026-07-16T10:05:00.000Z".into()),
            },
        }
    }

    pub(crate) fn findings() -> Vec<Finding> {
        vec![
            hostile("c-complete", Status::Complete, "2026-07-14T09:00:00.000Z"),
            hostile("c-late", Status::Exception, "2026-07-14T11:00:00.000Z"),
            hostile("c-pending", Status::Pending, "2026-07-14T08:00:00.000Z"),
            hostile("c-early", Status::Exception, "2026-07-14T10:00:00.000Z"),
        ]
    }

    pub(crate) fn matter() -> MatterScope {
        MatterScope {
            entry: "20260717-000000-9".into(),
            entry_index: 8,
            matter: "M-1".into(),
            name: "Doe v. Roe".into(),
            version: 1,
            hold_sha256: "cd".repeat(32),
            hold_entry: "20260701-000000-1".into(),
            criteria: vec!["queues: Sales | East".into()],
            generated: "2026-07-17T00:00:00.000Z".into(),
            warn_days: 30,
            released: false,
            protection_checked: None,
            protected: vec![],
            flags: vec![HoldFlag {
                interaction: "c-early".into(),
                recording: "rec-1".into(),
                kind: HoldFlagKind::DeletionNear,
                detail: "deletes soon".into(),
            }],
        }
    }

    #[test]
    fn the_csv_has_a_bom_crlf_reading_order_and_no_live_formula() {
        let (run, context, findings) = (run(), context(), findings());
        let findings = crate::audit::Findings::of(&findings).unwrap();
        let data = ReportData::of(&run, &context, &findings);
        let bytes = csv(&data).unwrap();
        assert!(bytes.starts_with(BOM.as_bytes()));
        assert_eq!(bytes, csv(&data).unwrap(), "deterministic");
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
        assert!(text.ends_with("\r\n"));
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers = reader.headers().unwrap().clone();
        let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        let ids: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
        assert_eq!(ids, ["c-early", "c-late", "c-pending", "c-complete"]);
        let early = &rows[0];
        assert_eq!(&early[column("started_utc")], "2026-07-14 10:00:00");
        assert_eq!(&early[column("started_local")], "2026-07-14 06:00:00");
        assert_eq!(&early[column("local_offset")], "UTC-04:00");
        assert_eq!(
            &early[column("queues")],
            "'=cmd|' /C calc'!A0; Sales | East"
        );
        assert_eq!(&early[column("orphan_recordings")], "orph-9");
        assert_eq!(&early[column("recordings")], "orph-9;rec-1");
        assert_eq!(&early[column("agents")], "Sigþór |\n# Forged");
        assert_eq!(
            &early[column("link")],
            "https://apps.example/#/interaction/c-early"
        );
        assert_eq!(&rows[2][column("final_after_utc")], "2026-07-16 10:05:00");
        assert!(
            !headers.iter().any(|h| h == "hold_flags"),
            "only in a matter's"
        );
    }

    #[test]
    fn orphan_ids_are_read_from_every_orphan_sentence_of_the_detail() {
        let mut f = hostile("c", Status::Exception, "2026-07-14T10:00:00.000Z");
        f.detail = "orphan recording o-1 (ARCHIVED) on an Edge references this conversation; \
                    orphan recording o-2 (status unknown) on an Edge references this conversation"
            .into();
        assert_eq!(orphan_ids(&f), ["o-1", "o-2"]);
        f.detail = "an orphan recording exists somewhere".into();
        assert!(orphan_ids(&f).is_empty());
    }

    #[test]
    fn a_matter_csv_and_json_carry_the_hold_flags() {
        let (run, context, findings, matter) = (run(), context(), findings(), matter());
        let findings = crate::audit::Findings::of(&findings).unwrap();
        let data = ReportData {
            run: &run,
            context: &context,
            findings: &findings,
            matter: Some(&matter),
        };
        let text = String::from_utf8(csv(&data).unwrap()).unwrap();
        assert!(text.contains("deletion-near:rec-1"), "{text}");
        let json: serde_json::Value = serde_json::from_slice(&json(&data).unwrap()).unwrap();
        assert_eq!(json["matter"]["matter"], "M-1");
        assert_eq!(
            json["findings"][3]["hold_flags"][0]["kind"],
            "deletion-near"
        );
        assert_eq!(json["findings"][1]["hold_flags"], serde_json::json!([]));
    }

    #[test]
    fn the_json_is_v1_plus_the_context_the_tally_and_the_particulars() {
        let (run, context, findings) = (run(), context(), findings());
        let findings = crate::audit::Findings::of(&findings).unwrap();
        let data = ReportData::of(&run, &context, &findings);
        let bytes = json(&data).unwrap();
        assert_eq!(bytes.last(), Some(&b'\n'));
        assert_eq!(bytes, json(&data).unwrap(), "deterministic");
        let text = String::from_utf8(bytes).unwrap();
        let keys = ["\"report_set\": 2", "\"run\"", "\"window\"", "\"context\""];
        let positions: Vec<usize> = keys.iter().map(|k| text.find(k).unwrap()).collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "stable key order"
        );
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["time_zone"], "America/New_York");
        assert_eq!(value["context"]["index"], 4);
        assert_eq!(value["tally"]["total"], 4);
        assert_eq!(value["tally"]["statuses"][1]["code"], "exception");
        assert_eq!(value["tally"]["statuses"][1]["interactions"], 2);
        assert_eq!(value["tally"]["completeness"], "33.33%");
        let ids: Vec<&str> = value["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["interaction"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            ["c-complete", "c-late", "c-pending", "c-early"],
            "as given"
        );
        let first = &value["findings"][3];
        assert_eq!(first["interaction"], "c-early");
        assert_eq!(first["reasons"][0], "orphan-recording");
        assert_eq!(first["orphan_recordings"][0], "orph-9");
        assert_eq!(first["particulars"]["agents"][0]["user"], "u1");
        assert_eq!(first["started_local"], "2026-07-14 06:00:00 -04:00");
        assert!(value.get("matter").is_none());
        assert!(first.get("hold_flags").is_none());
    }
}
