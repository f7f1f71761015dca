//! summary.md of report set 2: what a reviewer reads first, fixing what v1's summary
//! (`report::summary_markdown`, kept byte for byte for old runs) got wrong:
//!
//! - v1's single reason table counted reasons across statuses, so a `recording-missing` that
//!   was still pending looked like an exception. Here reasons are counted per status: one row
//!   per reason given, one column per status.
//! - Pending interactions are listed with the date their verdict becomes final
//!   (`particulars.final_after`) and when they are looked at again (the next nightly run).
//! - A legend says what every status and reason means, one line each (docs/RULES.md is the
//!   long form).
//! - Interactions are shown with their local start time, agents, queues and numbers, not only
//!   by conversation id.
//! - The ledger (origin, position, previous root, superseded run, how to verify) and the inputs
//!   (v1's "Evidence coverage" section) each get a section; a matter's summary shows the hold and its flags.
//!
//! Everything from the data goes through [`super::md`], so no value can add a table column,
//! forge a row or render HTML; lists are bounded by [`super::SUMMARY_EXCEPTION_ROWS`] (the CSV,
//! JSON and DAT files always hold everything).

use super::tables::agent_names;
use super::view::{MatterScope, ReportData};
use super::{SUMMARY_EXCEPTION_ROWS, Tally, coverage_markdown, coverage_of, md};
use crate::audit::{Finding, Reason, Status};
use crate::error::Result;

/// One line on what a status means (docs/RULES.md "Statuses").
pub(crate) fn status_meaning(status: Status) -> &'static str {
    match status {
        Status::Complete => "an agent interacted, a recording exists and no check failed",
        Status::Exception => "a gap a reviewer must act on; the reasons say which",
        Status::Pending => {
            "not decidable yet: still in progress, or only a missing recording or media inside the grace window"
        }
        Status::Excluded => "the policy leaves the interaction out; the reasons say why",
        Status::NotRequired => {
            "no agent leg reached interact and nothing failed (abandoned, IVR only, unanswered)"
        }
    }
}

/// One line on what a reason means (docs/RULES.md "Reasons").
pub(crate) fn reason_meaning(reason: Reason) -> &'static str {
    match reason {
        Reason::MediaNotEstablished => {
            "an agent leg was offered or placed and failed before media came up; no audio can exist"
        }
        Reason::RecordingMissing => {
            "an agent interacted and no recording of the conversation exists anywhere"
        }
        Reason::MediaFileMissing => {
            "a recording is known but its audio file is absent, empty or not playable"
        }
        Reason::ExportFailed => "a bulk export job lists a recording of the conversation as failed",
        Reason::RecordingError => {
            "a recording is in ERROR, deleted outside its policy, or stuck uploading"
        }
        Reason::DurationMismatch => {
            "the recorded media covers less of the agents' interact time than the policy requires"
        }
        Reason::OrphanRecording => {
            "an orphan recording left on an Edge references the conversation"
        }
        Reason::RetentionShortfall => {
            "a recording will be deleted before the required retention ends"
        }
        Reason::NoMediaReceived => "the platform says no media was received for a recording",
        Reason::EvidenceUnreadable => "the stored evidence of the conversation cannot be read back",
        Reason::ConflictingEvidence => {
            "the inputs disagree about the conversation in a way the rules cannot settle"
        }
        Reason::ConversationInProgress => "the conversation has not ended",
        Reason::ShortInteraction => "shorter than the policy's minimum duration",
        Reason::InternalCall => "no party outside the organisation took part",
        Reason::MediaOutOfScope => "a media type the policy does not audit",
        Reason::DirectionOutOfScope => "a direction the policy does not audit",
        Reason::DivisionOutOfScope => "a division the policy does not audit",
        Reason::QueueOutOfScope => "a queue the policy does not audit",
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_string()
    } else {
        md(&items.join(", "))
    }
}

fn codes(f: &Finding) -> String {
    let codes: Vec<&str> = f.reasons.iter().map(|r| r.code()).collect();
    codes.join(", ")
}

/// The header: what was audited, when, under which rules.
fn header(data: &ReportData<'_>, out: &mut String) -> Result<()> {
    let run = data.run;
    match data.matter {
        Some(m) => out.push_str(&format!(
            "# recaudit matter {} ({}), run {}\n\n",
            md(&m.matter),
            md(&m.name),
            run.run_id
        )),
        None => out.push_str(&format!("# recaudit run {}\n\n", run.run_id)),
    }
    if let Some(coverage) = coverage_of(run)?.filter(|c| c.partial) {
        out.push_str(&format!(
            "**PARTIAL RUN: the evidence does not cover the window; it was sealed on request (--allow-partial). Verdicts of conversations the evidence missed are absent or wrong: {}.**\n\n",
            md(&coverage.gaps.join("; "))
        ));
    }
    out.push_str(&format!(
        "- Window: {} to {} UTC ({} to {} {}; conversations started in [from, to))\n",
        run.window_start,
        run.window_end,
        data.local_time(&run.window_start),
        data.local_time(&run.window_end),
        md(&data.context.time_zone)
    ));
    out.push_str(&format!("- As of: {}\n", run.as_of));
    out.push_str(&format!("- Completed: {}\n", run.completed));
    // The policy as JSON in a code span; a backtick is written as its JSON escape, so nothing
    // from the configuration can close the span.
    out.push_str(&format!(
        "- Rules: {}, policy `{}`\n",
        md(&run.rule_set),
        run.policy
            .replace('`', "\\u0060")
            .replace(['\n', '\r'], " ")
    ));
    out.push_str(&format!("- Software: {}\n\n", md(&run.software)));
    Ok(())
}

/// Counts per status, then reasons per status (never one count across statuses).
fn tallies(data: &ReportData<'_>, out: &mut String) {
    let tally = Tally::of(data.findings);
    out.push_str("## Verdicts\n\n| Status | Interactions |\n|---|---:|\n");
    for status in Status::ALL {
        out.push_str(&format!("| {status} | {} |\n", tally.count(status)));
    }
    out.push_str(&format!("| **total** | **{}** |\n\n", tally.total()));
    out.push_str(&format!(
        "Completeness: **{}** (complete / (complete + exception) = {} / {})\n\n",
        tally.completeness(),
        tally.count(Status::Complete),
        tally.count(Status::Complete) + tally.count(Status::Exception)
    ));
    out.push_str("### Reasons by status\n\n");
    let counts = data.findings.counts();
    let given: Vec<Reason> = Reason::ALL
        .into_iter()
        .filter(|r| counts.reason_total(*r) > 0)
        .collect();
    if given.is_empty() {
        out.push_str("No reasons given.\n\n");
        return;
    }
    out.push_str("| Reason |");
    for status in Status::ALL {
        out.push_str(&format!(" {status} |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|".repeat(Status::ALL.len()));
    out.push('\n');
    for reason in given {
        out.push_str(&format!("| {reason} |"));
        for status in Status::ALL {
            let n = counts.reason(reason, status);
            out.push_str(&format!(" {n} |"));
        }
        out.push('\n');
    }
    out.push_str("\nAn interaction with several reasons is counted once per reason.\n\n");
}

/// The interactions of `status`, with who, where and when.
fn interactions(
    data: &ReportData<'_>,
    status: Status,
    title: &str,
    out: &mut String,
) -> Result<()> {
    let count = data.count(status);
    out.push_str(&format!("## {title} ({count})\n\n"));
    if count == 0 {
        out.push_str("None.\n\n");
        return Ok(());
    }
    let pending = status == Status::Pending;
    out.push_str("| Started (local) | Interaction | Agents | Queues | ANI / DNIS | Reasons |");
    out.push_str(if pending {
        " Final after | Re-checked |\n|---|---|---|---|---|---|---|---|\n"
    } else {
        " Evidence |\n|---|---|---|---|---|---|---|\n"
    });
    for f in data.of_status(status)?.take(SUMMARY_EXCEPTION_ROWS) {
        let f = &f?;
        let numbers = format!(
            "{} / {}",
            list(&f.particulars.ani),
            list(&f.particulars.dnis)
        );
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |",
            md(&data.local_time(&f.started)),
            md(&f.interaction),
            list(&agent_names(f)),
            list(&f.queues),
            numbers,
            codes(f)
        ));
        if pending {
            let final_after = f.particulars.final_after.as_deref().map_or_else(
                || "when the conversation ends".to_string(),
                |t| md(&data.local_time(t)),
            );
            out.push_str(&format!(
                " {final_after} | the next nightly run (`recaudit run`) |\n"
            ));
        } else {
            out.push_str(&format!(" {} |\n", md(&f.detail)));
        }
    }
    if count > SUMMARY_EXCEPTION_ROWS {
        out.push_str(&format!(
            "\n{} more are listed in findings.csv, findings.json and findings.dat.\n",
            count - SUMMARY_EXCEPTION_ROWS
        ));
    }
    out.push('\n');
    Ok(())
}

fn matter_section(matter: &MatterScope, out: &mut String) {
    out.push_str(&format!(
        "## Legal hold {}{}\n\n",
        md(&matter.matter),
        if matter.released { " (RELEASED)" } else { "" }
    ));
    out.push_str(&format!(
        "- Name: {}\n- Hold version {}, SHA-256 {}, sealed by ledger entry {}\n- Report made: {} (deletion dates judged against it; near = within {} days)\n",
        md(&matter.name),
        matter.version,
        md(&matter.hold_sha256),
        md(&matter.hold_entry),
        md(&matter.generated),
        matter.warn_days
    ));
    for criterion in &matter.criteria {
        out.push_str(&format!("- Criterion: {}\n", md(criterion)));
    }
    out.push_str(&format!(
        "\n### Held recordings flagged ({})\n\n",
        matter.flags.len()
    ));
    if matter.flags.is_empty() {
        out.push_str("None.\n\n");
        return;
    }
    out.push_str("| Interaction | Recording | Flag | Detail |\n|---|---|---|---|\n");
    for flag in matter.flags.iter().take(SUMMARY_EXCEPTION_ROWS) {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            md(&flag.interaction),
            md(&flag.recording),
            flag.kind.code(),
            md(&flag.detail)
        ));
    }
    if matter.flags.len() > SUMMARY_EXCEPTION_ROWS {
        out.push_str(&format!(
            "\n{} more flags are listed in findings.json.\n",
            matter.flags.len() - SUMMARY_EXCEPTION_ROWS
        ));
    }
    out.push('\n');
}

fn ledger_section(data: &ReportData<'_>, out: &mut String) {
    let context = data.context;
    out.push_str("## Ledger\n\n");
    out.push_str(&format!("- Origin: {}\n", md(&context.origin)));
    out.push_str(&format!(
        "- This run is record {} of the log; the checkpoint that seals it has tree size {}\n",
        context.index,
        context.index + 1
    ));
    let (sealer, sealed_index) = data.sealed_by();
    if data.matter.is_some() {
        out.push_str(&format!(
            "- This matter report is sealed as ledger entry {} (record {sealed_index}; checkpoint of tree size {}, `checkpoint.note` beside this file)\n",
            md(sealer),
            sealed_index + 1
        ));
    }
    out.push_str(&format!(
        "- Previous root (checkpoint of size {}): {}\n",
        context.index,
        md(&context.previous_root)
    ));
    out.push_str(&format!(
        "- Supersedes: {}\n",
        context
            .supersedes
            .as_deref()
            .map_or_else(|| "none".to_string(), md)
    ));
    out.push_str(
        "- To verify: `recaudit ledger export --out PACKAGE`, then `python3 PACKAGE/verify.py PACKAGE` \
         (or the by-hand steps of PACKAGE/VERIFY.md); the SHA-256 of this directory's manifest.json \
         is the `reports-sha256` line of `PACKAGE/runs/",
    );
    out.push_str(&format!(
        "{sealed_index}.run`; certificate.txt lists the exact commands.\n\n"
    ));
}

fn legend(out: &mut String) {
    out.push_str("## Legend\n\n");
    for status in Status::ALL {
        out.push_str(&format!("- `{status}`: {}\n", status_meaning(status)));
    }
    out.push('\n');
    for reason in Reason::ALL {
        out.push_str(&format!("- `{reason}`: {}\n", reason_meaning(reason)));
    }
    out.push_str("\ndocs/RULES.md states each rule in full.\n");
}

/// summary.md (see the module documentation).
pub(crate) fn markdown(data: &ReportData<'_>) -> Result<String> {
    let mut out = String::new();
    header(data, &mut out)?;
    tallies(data, &mut out);
    interactions(data, Status::Exception, "Exceptions", &mut out)?;
    interactions(data, Status::Pending, "Pending", &mut out)?;
    if let Some(matter) = data.matter {
        matter_section(matter, &mut out);
    }
    ledger_section(data, &mut out);
    match coverage_of(data.run)? {
        // The inputs section is v1's "Evidence coverage", heading included.
        Some(coverage) => out.push_str(&coverage_markdown(&coverage)),
        None => out.push_str("## Evidence coverage\n\nThe run states no evidence coverage.\n\n"),
    }
    legend(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tables::tests::{context, findings, matter, run};

    #[test]
    fn reasons_are_counted_per_status_and_pending_shows_its_final_date() {
        let (run, context, findings) = (run(), context(), findings());
        let findings = crate::audit::Findings::of(&findings).unwrap();
        let data = ReportData::of(&run, &context, &findings);
        let text = markdown(&data).unwrap();
        assert_eq!(text, markdown(&data).unwrap(), "deterministic");
        let row = text
            .lines()
            .find(|l| l.starts_with("| recording-missing |"))
            .unwrap();
        // exception 2, pending 1, complete 1 (the test data is hostile, not consistent).
        assert_eq!(row, "| recording-missing | 1 | 2 | 1 | 0 | 0 |");
        assert!(
            text.contains("2026-07-16 06:05:00 -04:00 | the next nightly run"),
            "{text}"
        );
        assert!(text.contains("- `orphan-recording`: "));
        assert!(text.contains("tree size 5"));
        assert!(text.contains("Sigþór \\| \\# Forged"), "{text}");
    }

    #[test]
    fn the_summary_is_inert_and_bounded() {
        let (run, context) = (run(), context());
        let many: Vec<Finding> = (0..SUMMARY_EXCEPTION_ROWS + 3)
            .map(|n| {
                crate::report::tables::tests::hostile(
                    &format!("c-{n:04}"),
                    Status::Exception,
                    "2026-07-14T10:00:00.000Z",
                )
            })
            .collect();
        let matter = matter();
        let many = crate::audit::Findings::of(&many).unwrap();
        let data = ReportData {
            run: &run,
            context: &context,
            findings: &many,
            matter: Some(&matter),
        };
        let text = markdown(&data).unwrap();
        assert!(text.contains("\n3 more are listed in findings.csv"));
        assert!(!text.lines().any(|l| l.starts_with("# Forged")));
        assert!(!text.lines().any(|l| l.starts_with("$ rm")));
        for line in text.lines().filter(|l| l.starts_with("| c-")) {
            assert_eq!(line.matches(" | ").count(), 3, "{line}");
        }
        for line in text.lines().filter(|l| l.starts_with("| 2026-")) {
            assert_eq!(
                line.matches('|').count() - line.matches("\\|").count(),
                8,
                "{line}"
            );
        }
        assert!(text.contains("## Legal hold M-1"));
        assert!(text.contains("Criterion: queues: Sales \\| East"));
    }
}
