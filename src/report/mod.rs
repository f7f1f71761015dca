//! Report files of a run, by report set. Set 1 (runs sealed before sets were versioned):
//! `findings.json`, `findings.csv`, `summary.md`. Set 2: those reworked for reviewers plus
//! `report.html` (`html`), `certificate.txt` (`certificate`) and `findings.dat` (`dat`). Each
//! set has a `manifest.json` listing every file with its size and SHA-256; `report.pdf`
//! (`pdf`) and `checkpoint.note` are written beside a set, outside it.
//!
//! Files are rendered into a staging folder beside the run's report folder as they are
//! produced (`stage`), hashed on the way, and renamed into the report folder only when the
//! entry they belong to is committed: memory holds a file's hash, never its bytes.
//!
//! Reports are a pure function of the stored run, its findings and the context frozen with it
//! (`view::ReportContext`): no wall-clock time other than the run's stored times, a stable row
//! order, integers instead of floats. A run is always rendered with the set it was sealed with
//! (`runs.report_set`), so `recaudit report --run ID` regenerates its files byte for byte, and
//! the SHA-256 of `manifest.json` (stored with the run and in its ledger run record) binds
//! every file to the run.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::{Serialize, Serializer};

use crate::audit::coverage::Coverage;
use crate::audit::{Finding, Findings, Reason, Status};
use crate::error::{Error, Result};
use crate::store::RunRecord;

mod certificate;
mod dat;
mod html;
pub(crate) mod pdf;
mod stage;
mod summary;
mod tables;
pub(crate) mod view;

pub use pdf::{PDF_TIMEOUT, PdfError, render_pdf};

pub(crate) use view::{REPORT_SET_CURRENT, TREND_RUNS};

use view::ReportData;
pub use view::{HoldFlag, HoldFlagKind, MatterScope, ReportContext, ReportOptions, TrendPoint};

/// Exceptions listed in summary.md; the full list is always in the CSV and JSON files.
const SUMMARY_EXCEPTION_ROWS: usize = 200;

/// The rendered files of one run, staged on disk until they are published (see `stage`).
#[derive(Debug)]
pub(crate) struct ReportSet {
    /// Every file, `manifest.json` included, sorted by name.
    stage: stage::Stage,
}

/// A sequence serialized as it is produced, so that a document of a million rows is written
/// row by row instead of being built first. A row that cannot be read fails the document.
struct Rows<F>(F);

impl<F, I, T> Serialize for Rows<F>
where
    F: Fn() -> I,
    I: Iterator<Item = Result<T>>,
    T: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeSeq};
        let rows = (self.0)();
        let mut seq = serializer.serialize_seq(None)?;
        for row in rows {
            seq.serialize_element(&row.map_err(S::Error::custom)?)?;
        }
        seq.end()
    }
}

/// Counts per status and reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub(crate) statuses: BTreeMap<Status, usize>,
    pub(crate) reasons: BTreeMap<&'static str, usize>,
    pub(crate) total: usize,
}

impl Tally {
    /// The counts of `findings` (kept as they were written: no pass over them).
    pub(crate) fn of(findings: &Findings) -> Tally {
        let counts = findings.counts();
        Tally {
            total: findings.len(),
            statuses: Status::ALL
                .into_iter()
                .map(|s| (s, counts.status(s)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            reasons: Reason::ALL
                .into_iter()
                .map(|r| (r.code(), counts.reason_total(r)))
                .filter(|(_, n)| *n > 0)
                .collect(),
        }
    }

    /// Adds another tally's counts to this one (several windows' into one night's).
    pub fn absorb(&mut self, other: &Tally) {
        for (status, n) in &other.statuses {
            *self.statuses.entry(*status).or_default() += n;
        }
        for (reason, n) in &other.reasons {
            *self.reasons.entry(reason).or_default() += n;
        }
        self.total += other.total;
    }

    pub fn count(&self, status: Status) -> usize {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    /// complete / (complete + exception) in percent, `None` when nothing was judged.
    pub fn completeness_percent(&self) -> Option<f64> {
        let complete = self.count(Status::Complete);
        let judged = complete + self.count(Status::Exception);
        (judged > 0).then(|| complete as f64 * 100.0 / judged as f64)
    }

    /// Interactions per status, by status code.
    pub fn by_status(&self) -> impl Iterator<Item = (&'static str, usize)> + '_ {
        self.statuses.iter().map(|(s, n)| (s.as_str(), *n))
    }

    /// Reasons given, by reason code.
    pub fn by_reason(&self) -> impl Iterator<Item = (&'static str, usize)> + '_ {
        self.reasons.iter().map(|(r, n)| (*r, *n))
    }

    pub fn total(&self) -> usize {
        self.total
    }

    /// complete / (complete + exception), as a percentage with two decimals, or `n/a`.
    pub(crate) fn completeness(&self) -> String {
        let complete = self.count(Status::Complete);
        let judged = complete + self.count(Status::Exception);
        if judged == 0 {
            return "n/a".to_string();
        }
        let basis_points = complete * 10_000 / judged;
        format!("{}.{:02}%", basis_points / 100, basis_points % 100)
    }
}

#[derive(Serialize)]
#[serde(bound(serialize = "Rows<F>: Serialize"))]
struct FindingsDocument<'a, F> {
    run: &'a str,
    window: Window<'a>,
    as_of: &'a str,
    completed: &'a str,
    rule_set: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    coverage: Option<Coverage>,
    findings: Rows<F>,
}

#[derive(Serialize)]
struct Window<'a> {
    from: &'a str,
    to: &'a str,
}

#[derive(Serialize)]
struct FindingRow {
    interaction: String,
    status: &'static str,
    reasons: Vec<&'static str>,
    recordings: Vec<String>,
    media_sha256: Vec<String>,
    started: String,
    ended: Option<String>,
    direction: String,
    media: String,
    queues: Vec<String>,
    users: Vec<String>,
    detail: String,
}

impl From<Finding> for FindingRow {
    fn from(f: Finding) -> Self {
        FindingRow {
            interaction: f.interaction,
            status: f.status.as_str(),
            reasons: f.reasons.iter().map(|r| r.code()).collect(),
            recordings: f.recordings,
            media_sha256: f.media_sha256,
            started: f.started,
            ended: f.ended,
            direction: f.direction,
            media: f.media,
            queues: f.queues,
            users: f.users,
            detail: f.detail,
        }
    }
}

#[derive(Serialize)]
struct ManifestEntry<'a> {
    name: &'a str,
    bytes: u64,
    sha256: &'a str,
}

/// Renders every report file of a run with the report set it was sealed with (a matter's report
/// with `matter`), staged for the report folder `target`. The run's `manifest_sha256` is
/// ignored (it is what this computes).
pub(crate) fn render(
    run: &RunRecord,
    findings: &Findings,
    matter: Option<&MatterScope>,
    target: &Path,
) -> Result<ReportSet> {
    match run.report_set {
        view::REPORT_SET_V1 if matter.is_none() => render_v1(run, findings, target),
        view::REPORT_SET_V2 => {
            let context: ReportContext =
                serde_json::from_str(&run.report_context).map_err(|e| {
                    Error::Corrupt(format!("the report context of run {}: {e}", run.run_id))
                })?;
            render_v2(
                ReportData {
                    matter,
                    ..ReportData::of(run, &context, findings)
                },
                target,
            )
        }
        view::REPORT_SET_V1 => Err(Error::Usage(format!(
            "run {} was sealed with report set 1, before matters existed, and its reports are kept exactly as they were; a matter report needs a run of report set 2: audit the window again (`recaudit audit` or `recaudit run`) and report the matter over the new run",
            run.run_id
        ))),
        other => Err(Error::Corrupt(format!(
            "run {} names report set {other}, which this recaudit does not render: use the recaudit release that sealed it ({})",
            run.run_id, run.software
        ))),
    }
}

/// Report set 2: the reviewer's files (see the module documentation).
fn render_v2(data: ReportData<'_>, target: &Path) -> Result<ReportSet> {
    let mut stage = stage::Stage::new(target)?;
    stage.file("certificate.txt", |out| certificate::write(&data, out))?;
    stage.file("findings.csv", |out| tables::write_csv(&data, out))?;
    stage.file("findings.dat", |out| dat::write(&data, out))?;
    stage.file("findings.json", |out| tables::write_json(&data, out))?;
    stage.file("report.html", |out| html::write(&data, out))?;
    stage.bytes("summary.md", summary::markdown(&data)?.as_bytes())?;
    with_manifest(
        stage,
        Some(view::REPORT_SET_V2),
        &data.run.run_id,
        data.matter.map(|m| m.matter.as_str()),
    )
}

/// The report set of a ledger entry that seals documents (a legal hold's version): the
/// documents verbatim and a manifest naming the entry and the matter.
pub(crate) fn render_documents(
    entry: &str,
    matter: &str,
    documents: &[(&str, &[u8])],
    target: &Path,
) -> Result<ReportSet> {
    let mut stage = stage::Stage::new(target)?;
    for (name, bytes) in documents {
        stage.bytes(name, bytes)?;
    }
    with_manifest(stage, Some(view::REPORT_SET_V2), entry, Some(matter))
}

/// Adds `manifest.json` (the report set, unless it is set 1, whose manifest never named it;
/// the run; the matter; then every staged file's name, size and SHA-256, by name).
fn with_manifest(
    mut stage: stage::Stage,
    report_set: Option<i64>,
    run: &str,
    matter: Option<&str>,
) -> Result<ReportSet> {
    let manifest = Manifest {
        report_set,
        run,
        matter,
        files: stage
            .files()
            .iter()
            .map(|f| ManifestEntry {
                name: &f.name,
                bytes: f.bytes,
                sha256: &f.sha256,
            })
            .collect(),
    };
    let mut manifest_bytes =
        serde_json::to_vec_pretty(&manifest).map_err(render_error("manifest.json"))?;
    manifest_bytes.push(b'\n');
    stage.bytes("manifest.json", &manifest_bytes)?;
    Ok(ReportSet { stage })
}

#[derive(Serialize)]
struct Manifest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    report_set: Option<i64>,
    run: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    matter: Option<&'a str>,
    files: Vec<ManifestEntry<'a>>,
}

/// Report set 1, byte for byte as runs sealed before report sets were versioned have it.
fn render_v1(run: &RunRecord, findings: &Findings, target: &Path) -> Result<ReportSet> {
    let mut stage = stage::Stage::new(target)?;
    stage.file("findings.csv", |out| write_findings_csv(findings, out))?;
    stage.file("findings.json", |out| {
        write_findings_json(run, findings, out)
    })?;
    stage.bytes("summary.md", summary_markdown(run, findings)?.as_bytes())?;
    with_manifest(stage, None, &run.run_id, None)
}

impl ReportSet {
    /// The bytes of a rendered file, read back from where it is staged (before publishing).
    pub(crate) fn read(&self, name: &str) -> Result<Vec<u8>> {
        self.stage.read(name)
    }

    /// SHA-256 of `manifest.json`, stored with the run.
    pub(crate) fn manifest_sha256(&self) -> String {
        self.stage
            .files()
            .iter()
            .find(|f| f.name == "manifest.json")
            .map(|f| f.sha256.clone())
            .unwrap_or_default()
    }

    /// The report folder the files are published into.
    pub(crate) fn target(&self) -> &Path {
        self.stage.target()
    }

    /// Publishes every file into the report folder (created if needed), each by a rename
    /// from the staging folder, so a reader never sees a half-written report.
    pub(crate) fn write_to(&self) -> Result<()> {
        self.write_only(&[])
    }

    /// [`ReportSet::write_to`] for the files named in `only` and `manifest.json` (all when
    /// `only` is empty).
    pub(crate) fn write_only(&self, only: &[&str]) -> Result<()> {
        self.stage.publish(only)
    }
}

/// The file beside a run's reports that holds the signed checkpoint sealing them. It is not
/// in the manifest: the checkpoint signs the log whose run record holds the manifest's hash.
pub(crate) const CHECKPOINT_NOTE: &str = "checkpoint.note";

/// Writes the signed checkpoint that seals a report set beside it (temporary file, rename).
pub(crate) fn write_checkpoint_note(dir: &Path, note: &[u8]) -> Result<()> {
    let target = dir.join(CHECKPOINT_NOTE);
    let temporary = dir.join(format!(".{CHECKPOINT_NOTE}.tmp"));
    std::fs::write(&temporary, note).map_err(Error::io("cannot write report file", &temporary))?;
    std::fs::rename(&temporary, &target).map_err(Error::io("cannot write report file", &target))
}

/// A report file that cannot be rendered (it is made from values recaudit holds in memory,
/// so this is recaudit's fault, not the database's).
fn render_error<E>(file: &'static str) -> impl FnOnce(E) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |source| Error::Render {
        what: format!("report {file}"),
        source: Some(Box::new(source)),
    }
}

fn write_findings_json(run: &RunRecord, findings: &Findings, out: &mut dyn Write) -> Result<()> {
    let document = FindingsDocument {
        run: &run.run_id,
        window: Window {
            from: &run.window_start,
            to: &run.window_end,
        },
        as_of: &run.as_of,
        completed: &run.completed,
        rule_set: &run.rule_set,
        coverage: coverage_of(run)?,
        findings: Rows(|| findings.iter().map(|f| f.map(FindingRow::from))),
    };
    serde_json::to_writer_pretty(&mut *out, &document).map_err(render_error("findings.json"))?;
    out.write_all(b"\n").map_err(render_error("findings.json"))
}

/// A cell a spreadsheet will not run as a formula: values copied from payloads that begin with
/// `=`, `+`, `-`, `@`, TAB or CR get a leading `'` (the OWASP CSV-injection defence).
fn cell(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{value}"))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

/// Lists inside a CSV cell are joined with `;` (ids and hashes never contain one).
fn write_findings_csv(findings: &Findings, out: &mut dyn Write) -> Result<()> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    writer
        .write_record([
            "interaction",
            "status",
            "reasons",
            "recordings",
            "media_sha256",
            "started",
            "ended",
            "direction",
            "media",
            "queues",
            "users",
            "detail",
        ])
        .map_err(render_error("findings.csv"))?;
    for f in findings.iter() {
        let f = f?;
        let reasons: Vec<&str> = f.reasons.iter().map(|r| r.code()).collect();
        writer
            .write_record([
                cell(&f.interaction).as_ref(),
                f.status.as_str(),
                &reasons.join(";"),
                &cell(&f.recordings.join(";")),
                &f.media_sha256.join(";"),
                &f.started,
                f.ended.as_deref().unwrap_or(""),
                &f.direction,
                &cell(&f.media),
                &cell(&f.queues.join(";")),
                &cell(&f.users.join(";")),
                &cell(&f.detail),
            ])
            .map_err(render_error("findings.csv"))?;
    }
    writer
        .flush()
        .map_err(|e| render_error("findings.csv")(csv::Error::from(e)))
}

/// Text from the data (ids, names, evidence) as inert Markdown: a `|` cannot add a table column,
/// a line break cannot forge a row, and HTML, links, images and emphasis do not render.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '|' | '`' | '*' | '_' | '[' | ']' | '!' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A run's stated evidence coverage (none for runs sealed before coverage was recorded).
fn coverage_of(run: &RunRecord) -> Result<Option<Coverage>> {
    if run.coverage.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(&run.coverage)
        .map(Some)
        .map_err(|e| Error::Corrupt(format!("the coverage of run {}: {e}", run.run_id)))
}

/// The human summary; `audit` also prints it.
pub(crate) fn summary_markdown(run: &RunRecord, findings: &Findings) -> Result<String> {
    let tally = Tally::of(findings);
    let coverage = coverage_of(run)?;
    let mut out = String::new();
    out.push_str(&format!("# recaudit run {}\n\n", run.run_id));
    if let Some(coverage) = coverage.as_ref().filter(|c| c.partial) {
        out.push_str(&format!(
            "**PARTIAL RUN: the evidence does not cover the window; it was sealed on request (--allow-partial). Verdicts of conversations the evidence missed are absent or wrong: {}.**\n\n",
            md(&coverage.gaps.join("; "))
        ));
    }
    out.push_str(&format!(
        "- Window: {} to {} (conversations started in [from, to))\n",
        run.window_start, run.window_end
    ));
    out.push_str(&format!("- As of: {}\n", run.as_of));
    out.push_str(&format!("- Completed: {}\n", run.completed));
    if run.policy.starts_with('{') {
        // The policy as JSON in a code span; a backtick in it is written as its JSON escape,
        // so nothing from the configuration can close the span.
        out.push_str(&format!(
            "- Rules: {}, policy `{}`\n",
            run.rule_set,
            run.policy.replace('`', "\\u0060")
        ));
    } else {
        // Runs sealed before the policy was stored whole keep their summary byte for byte.
        out.push_str(&format!(
            "- Rules: {} ({})\n",
            run.rule_set,
            md(&run.policy)
        ));
    }
    out.push_str(&format!("- Software: {}\n\n", run.software));
    if let Some(coverage) = &coverage {
        out.push_str(&coverage_markdown(coverage));
    }

    out.push_str("| Status | Interactions |\n|---|---:|\n");
    for status in Status::ALL {
        out.push_str(&format!("| {} | {} |\n", status, tally.count(status)));
    }
    out.push_str(&format!("| **total** | **{}** |\n\n", tally.total));
    out.push_str(&format!(
        "Completeness: **{}** (complete / (complete + exception) = {} / {})\n\n",
        tally.completeness(),
        tally.count(Status::Complete),
        tally.count(Status::Complete) + tally.count(Status::Exception)
    ));

    out.push_str("| Reason | Interactions |\n|---|---:|\n");
    for reason in Reason::ALL {
        let count = tally.reasons.get(reason.code()).copied().unwrap_or(0);
        out.push_str(&format!("| {} | {} |\n", reason.code(), count));
    }

    let exceptions = tally.count(Status::Exception);
    out.push_str(&format!("\n## Exceptions ({exceptions})\n\n"));
    if exceptions == 0 {
        out.push_str("None.\n");
    } else {
        out.push_str("| Interaction | Reasons | Evidence |\n|---|---|---|\n");
        let listed = findings
            .iter()
            .filter(|f| f.as_ref().map_or(true, |f| f.status == Status::Exception))
            .take(SUMMARY_EXCEPTION_ROWS);
        for f in listed {
            let f = f?;
            let reasons: Vec<&str> = f.reasons.iter().map(|r| r.code()).collect();
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                md(&f.interaction),
                reasons.join(", "),
                md(&f.detail)
            ));
        }
        if exceptions > SUMMARY_EXCEPTION_ROWS {
            out.push_str(&format!(
                "\n{} more exceptions are listed in findings.csv and findings.json.\n",
                exceptions - SUMMARY_EXCEPTION_ROWS
            ));
        }
    }
    Ok(out)
}

/// The "Evidence coverage" section: what the verdicts rest on.
fn coverage_markdown(coverage: &Coverage) -> String {
    let list = |items: &[String]| {
        if items.is_empty() {
            "none".to_string()
        } else {
            md(&items.join(", "))
        }
    };
    let mut out = String::from("## Evidence coverage\n\n");
    out.push_str(&format!(
        "- Conversation details: {} conversations ({} from API pulls, {} from imported files, whose interval the files do not attest)\n",
        coverage.conversations,
        coverage.pulled_conversations,
        coverage.conversations - coverage.pulled_conversations.min(coverage.conversations)
    ));
    out.push_str(&format!(
        "- Pulls overlapping the window: {}\n",
        list(&coverage.pulls)
    ));
    out.push_str(&format!(
        "- Details available up to: {}\n",
        coverage
            .details_horizon
            .as_deref()
            .map_or_else(|| "not stated by any input".to_string(), md)
    ));
    out.push_str(&format!(
        "- Bulk export jobs whose failed recordings were read: {}\n",
        list(&coverage.export_jobs)
    ));
    out.push_str(&format!(
        "- Export tree: {} media files, on days {}\n",
        coverage.export_media_files,
        list(&coverage.export_days)
    ));
    out.push_str(&format!(
        "- Orphan-recording listings read: {}\n",
        coverage.orphan_listings
    ));
    out.push_str(&format!("- Gaps: {}\n\n", list(&coverage.gaps)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreadsheet_formulas_in_data_are_neutralised() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("-1"), "'-1");
        assert_eq!(cell("5b7e2c10-3f4a"), "5b7e2c10-3f4a");
    }

    #[test]
    fn markdown_from_the_data_is_inert() {
        let forged = "ok |\n| forged-row | <img src=x onerror=alert(1)> ![p](http://x) **b** `c`";
        let inert = md(forged);
        assert!(!inert.contains('\n'));
        assert!(!inert.contains("<img"));
        assert_eq!(inert.matches('|').count(), inert.matches("\\|").count());
        assert!(inert.contains("\\!\\[p\\]"));
        assert!(inert.contains("\\*\\*b\\*\\*"));
        assert_eq!(md("5b7e2c10-3f4a (SIP 408)."), "5b7e2c10-3f4a (SIP 408).");
    }

    #[test]
    fn a_policy_cannot_close_its_code_span() {
        let mut policy = crate::audit::Policy::default();
        policy.scope.include_queues = vec!["q` **forged** `".into()];
        let run = RunRecord {
            run_id: "r".into(),
            seq: 1,
            window_start: "2026-07-14T00:00:00.000Z".into(),
            window_end: "2026-07-15T00:00:00.000Z".into(),
            as_of: "2026-07-16T00:00:00.000Z".into(),
            completed: "2026-07-16T00:00:00.000Z".into(),
            rule_set: "recaudit-rules-2".into(),
            policy: policy.describe(),
            software: "recaudit-test".into(),
            manifest_sha256: String::new(),
            coverage: String::new(),
            report_set: 1,
            report_context: String::new(),
        };
        let summary = summary_markdown(&run, &Findings::empty()).unwrap();
        let line = summary.lines().find(|l| l.starts_with("- Rules:")).unwrap();
        assert_eq!(line.matches('`').count(), 2, "{line}");
        let json = line.split('`').nth(1).unwrap();
        let parsed: crate::audit::Policy = serde_json::from_str(json).unwrap();
        assert_eq!(parsed.scope.include_queues, policy.scope.include_queues);
    }

    #[test]
    fn a_rendering_failure_is_not_reported_as_a_corrupt_database() {
        let Err(failure) = serde_json::from_str::<u8>("x") else {
            panic!("`x` is not JSON");
        };
        let error = render_error("findings.json")(failure);
        assert!(matches!(error, Error::Render { .. }), "{error:?}");
        let text = error.to_string();
        assert!(
            text.starts_with("cannot render report findings.json: "),
            "{text}"
        );
        let source = std::error::Error::source(&error).map(ToString::to_string);
        assert!(source.is_some_and(|s| text.ends_with(&s)), "{text}");
    }

    #[test]
    fn completeness_is_exact_and_never_divides_by_zero() {
        let mut tally = Tally::default();
        assert_eq!(tally.completeness(), "n/a");
        tally.statuses.insert(Status::Complete, 2);
        tally.statuses.insert(Status::Exception, 1);
        assert_eq!(tally.completeness(), "66.66%");
    }
}
