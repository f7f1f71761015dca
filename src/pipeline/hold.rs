//! Legal holds and the reports of a matter.
//!
//! A **hold** names a matter and the interactions it preserves: conversation ids, custodians
//! (user ids), queues, numbers, and a start-time range. Each version of a hold is a JSON
//! document ([`HoldDocument`]) sealed in the ledger by an entry of its own: a run record with
//! rule set [`HOLD_RULE_SET`], its window the instant of the change, the document as its one
//! input (kind `legal-hold`) and no findings. Adding to a hold or releasing it makes a new
//! version that names the previous one's SHA-256, so the hold's whole history is in the log.
//!
//! A **matter report** is an audit run's report set restricted to the hold's interactions,
//! with the hold's header, the held recordings at risk (deleted, deletion due or near, not
//! known to be protected) and the matter's completeness certificate. What it rendered (the
//! hold version, the audit run, the population, the instant deletion dates were judged at) is
//! a snapshot document sealed by its own entry (rule set [`MATTER_RULE_SET`]) whose reports
//! hash is the matter report's manifest: the matter's certificate is covered by the ledger as
//! a run's is, and `recaudit report --run <entry>` regenerates it byte for byte.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{SOFTWARE, load_findings_where, run_id};
use crate::audit::{Finding, Findings};
use crate::error::{Error, Result};
use crate::ledger::anchor::{self, AnchorOutcome};
use crate::ledger::append::RunAppend;
use crate::ledger::{Ledger, seal};
use crate::report::{self, HoldFlag, HoldFlagKind, MatterScope};
use crate::source::genesys::PullConfig;
use crate::source::protection::deletion_protection;
use crate::store::{
    DocumentKind, HoldRow, MatterReportKey, MatterReportRow, RunRecord, RunTransaction, Store,
};
use crate::time::Timestamp;

/// Rule set of the ledger entries that seal a hold's versions.
pub const HOLD_RULE_SET: &str = "recaudit-hold-1";
/// Rule set of the ledger entries that seal a matter's report.
pub const MATTER_RULE_SET: &str = "recaudit-matter-1";
/// First line of every hold document.
const HOLD_FORMAT: &str = "recaudit-hold v1";
/// First field of every matter report snapshot.
const MATTER_FORMAT: &str = "recaudit-matter-report v1";
/// Deletion dates within this many days of a matter report are flagged as near.
pub const DEFAULT_WARN_DAYS: u64 = 30;

/// One clause of a hold: an interaction is covered when it started in `[from, to)` (either
/// end may be open) and, if any list is given, matches at least one entry of any list. A hold
/// is a list of clauses, one per `hold add`, and covers what any of them covers, so adding to
/// a hold never makes it cover less.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldCriteria {
    pub conversations: BTreeSet<String>,
    pub users: BTreeSet<String>,
    pub queues: BTreeSet<String>,
    /// E.164 numbers (`+` and digits), matched against the ANI and DNIS of the sessions.
    pub numbers: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// One version of a hold, as sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldDocument {
    pub format: String,
    pub matter: String,
    pub version: i64,
    pub name: String,
    pub action: HoldAction,
    /// When the change was sealed (its entry's completed time).
    pub changed: String,
    pub released: bool,
    /// What it preserves: what any clause covers.
    pub clauses: Vec<HoldCriteria>,
    /// SHA-256 of the previous version's document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_sha256: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HoldAction {
    /// The hold was created or criteria were added to it.
    Add,
    /// The hold was released: its interactions are no longer preserved for the matter.
    Release,
}

/// A change asked of a hold: criteria to add (and, when creating it, its name).
#[derive(Debug, Clone, Default)]
pub struct HoldChange {
    pub matter: String,
    pub name: Option<String>,
    pub add: HoldCriteria,
}

/// A sealed hold version.
#[derive(Debug)]
pub struct HoldOutcome {
    /// Where `hold.json` and its `manifest.json` were written.
    pub dir: PathBuf,
    pub document: HoldDocument,
    pub sha256: String,
    pub entry: String,
    pub ledger: RunAppend,
    pub anchors: AnchorOutcome,
}

impl HoldCriteria {
    fn is_empty(&self) -> bool {
        self.conversations.is_empty()
            && self.users.is_empty()
            && self.queues.is_empty()
            && self.numbers.is_empty()
            && self.from.is_none()
            && self.to.is_none()
    }

    fn has_selectors(&self) -> bool {
        !(self.conversations.is_empty()
            && self.users.is_empty()
            && self.queues.is_empty()
            && self.numbers.is_empty())
    }

    /// Whether the hold preserves the interaction of `finding`.
    pub fn covers(&self, finding: &Finding) -> bool {
        let started = &finding.started;
        if self.from.as_ref().is_some_and(|from| started < from)
            || self.to.as_ref().is_some_and(|to| started >= to)
        {
            return false;
        }
        if !self.has_selectors() {
            return true;
        }
        let p = &finding.particulars;
        self.conversations.contains(&finding.interaction)
            || finding.users.iter().any(|u| self.users.contains(u))
            || finding.queues.iter().any(|q| self.queues.contains(q))
            || p.ani
                .iter()
                .chain(&p.dnis)
                .filter_map(|n| e164(n))
                .any(|n| self.numbers.contains(&n))
    }

    /// One line per criterion, for report headers.
    fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let list = |label: &str, items: &BTreeSet<String>, lines: &mut Vec<String>| {
            if !items.is_empty() {
                let joined: Vec<&str> = items.iter().map(String::as_str).collect();
                lines.push(format!("{label}: {}", joined.join(", ")));
            }
        };
        list("conversations", &self.conversations, &mut lines);
        list("custodians (user ids)", &self.users, &mut lines);
        list("queues", &self.queues, &mut lines);
        list("numbers", &self.numbers, &mut lines);
        match (&self.from, &self.to) {
            (None, None) => {}
            (from, to) => lines.push(format!(
                "started in [{}, {})",
                from.as_deref().unwrap_or("the beginning"),
                to.as_deref().unwrap_or("no end")
            )),
        }
        lines
    }
}

impl HoldDocument {
    /// Whether the hold preserves the interaction of `finding`: any clause covers it.
    pub fn covers(&self, finding: &Finding) -> bool {
        self.clauses.iter().any(|clause| clause.covers(finding))
    }

    /// The clauses as lines for report headers: `clause N: a; b` (or the clause alone).
    pub fn lines(&self) -> Vec<String> {
        let numbered = self.clauses.len() > 1;
        self.clauses
            .iter()
            .enumerate()
            .map(|(n, clause)| {
                let text = clause.lines().join("; ");
                if numbered {
                    format!("clause {}: {text}", n + 1)
                } else {
                    text
                }
            })
            .collect()
    }
}

/// A number as E.164 (`+` then digits): `tel:+1 (317) 555-0100` gives `+13175550100`; a SIP
/// URI's user part is read the same way; text without digits gives none.
pub fn e164(number: &str) -> Option<String> {
    let text = number.trim();
    let text = text
        .strip_prefix("tel:")
        .or_else(|| text.strip_prefix("sip:"))
        .unwrap_or(text);
    let user = text.split('@').next().unwrap_or(text);
    let digits: String = user.chars().filter(char::is_ascii_digit).collect();
    (!digits.is_empty()).then(|| format!("+{digits}"))
}

/// A matter id: 1 to 64 of `A-Z a-z 0-9 . _ -`, so it is a file name and a ledger token part.
pub fn check_matter_id(matter: &str) -> Result<()> {
    let valid = !matter.is_empty()
        && matter.len() <= 64
        && !matter.starts_with('.')
        && matter
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "matter id `{matter}`: use 1 to 64 letters, digits, `.`, `_` or `-` (not starting with `.`), e.g. SEC-2026-014"
        )))
    }
}

/// Creates the hold of `change.matter` or adds criteria to it; seals the new version.
pub async fn add_hold(
    store: &Store,
    ledger: &Ledger,
    change: HoldChange,
    reports_dir: &Path,
) -> Result<HoldOutcome> {
    check_matter_id(&change.matter)?;
    if change.add.is_empty() {
        return Err(Error::Usage(format!(
            "hold {}: name what it preserves: --conversation, --user, --queue, --number, --from/--to",
            change.matter
        )));
    }
    if let (Some(from), Some(to)) = (&change.add.from, &change.add.to)
        && from >= to
    {
        return Err(Error::Usage(format!(
            "hold {}: --from {from} is not before --to {to}",
            change.matter
        )));
    }
    for number in &change.add.numbers {
        if e164(number).as_deref() != Some(number.as_str()) {
            return Err(Error::Usage(format!(
                "hold {}: --number `{number}` is not E.164 (`+` and digits, e.g. +13175550100)",
                change.matter
            )));
        }
    }
    seal_hold_version(store, ledger, &change.matter, reports_dir, |previous| {
        match previous {
            Some(previous) if !previous.released => {
                let mut clauses = previous.clauses.clone();
                if !clauses.contains(&change.add) {
                    clauses.push(change.add.clone());
                }
                Ok((
                    change.name.clone().unwrap_or_else(|| previous.name.clone()),
                    HoldAction::Add,
                    false,
                    clauses,
                ))
            }
            Some(_) => Err(Error::Usage(format!(
                "hold {} was released; a released matter is not held again under the same id: choose a new matter id",
                change.matter
            ))),
            None => Ok((
                change.name.clone().ok_or_else(|| {
                    Error::Usage(format!(
                        "hold {} is new: give it a --name (the matter's caption)",
                        change.matter
                    ))
                })?,
                HoldAction::Add,
                false,
                vec![change.add.clone()],
            )),
        }
    })
    .await
}

/// Releases the hold of `matter`; seals the release.
pub async fn release_hold(
    store: &Store,
    ledger: &Ledger,
    matter: &str,
    reports_dir: &Path,
) -> Result<HoldOutcome> {
    check_matter_id(matter)?;
    seal_hold_version(
        store,
        ledger,
        matter,
        reports_dir,
        |previous| match previous {
            Some(previous) if !previous.released => Ok((
                previous.name.clone(),
                HoldAction::Release,
                true,
                previous.clauses.clone(),
            )),
            Some(_) => Err(Error::Usage(format!("hold {matter} is already released"))),
            None => Err(no_such_hold(matter)),
        },
    )
    .await
}

fn no_such_hold(matter: &str) -> Error {
    Error::Usage(format!(
        "there is no legal hold {matter}: `recaudit hold list` shows them, `recaudit hold add {matter} --name ...` creates it"
    ))
}

type NextVersion = (String, HoldAction, bool, Vec<HoldCriteria>);

/// Seals the next version of `matter`'s hold, made by `next` from the newest one.
async fn seal_hold_version<F>(
    store: &Store,
    ledger: &Ledger,
    matter: &str,
    reports_dir: &Path,
    next: F,
) -> Result<HoldOutcome>
where
    F: FnOnce(Option<&HoldDocument>) -> Result<NextVersion>,
{
    let known = outside_checkpoints(store, ledger).await?;
    let (mut tx, mut entry) = begin_entry(store, HOLD_RULE_SET).await?;
    let previous = match tx.newest_hold(matter).await? {
        Some(row) => Some((parse_hold(&row)?, row.sha256)),
        None => None,
    };
    let (name, action, released, clauses) = next(previous.as_ref().map(|(doc, _)| doc))?;
    let document = HoldDocument {
        format: HOLD_FORMAT.to_string(),
        matter: matter.to_string(),
        version: previous.as_ref().map_or(1, |(doc, _)| doc.version + 1),
        name,
        action,
        changed: entry.completed.clone(),
        released,
        clauses,
        previous_sha256: previous.map(|(_, sha)| sha),
    };
    let body = document_bytes(&document, "the hold document")?;
    let source = format!("hold/{matter}/v{}", document.version);
    let raw_input_id = tx
        .insert_document(
            DocumentKind::LegalHold,
            &source,
            completed_of(&entry)?,
            &body,
        )
        .await?;
    let dir = reports_dir.join(&entry.run_id);
    let reports = hold_reports(&entry.run_id, matter, &body, &dir)?;
    entry.manifest_sha256 = reports.manifest_sha256();
    let inputs = BTreeSet::from([raw_input_id]);
    let appended = seal_entry(&mut tx, ledger, &known, &entry, &inputs).await?;
    tx.insert_hold(&HoldRow {
        matter: matter.to_string(),
        version: document.version,
        run_id: entry.run_id.clone(),
        raw_input_id,
        released,
        document: Vec::new(),
        sha256: String::new(),
        sealed: entry.completed.clone(),
    })
    .await?;
    tx.commit().await?;
    let anchors = super::publish(store, ledger, &reports, &[], &appended).await?;
    Ok(HoldOutcome {
        dir,
        sha256: sha256_hex(&body),
        document,
        entry: entry.run_id,
        ledger: appended,
        anchors,
    })
}

/// A hold entry's reports: the document as `hold.json` and the manifest.
fn hold_reports(
    entry: &str,
    matter: &str,
    document: &[u8],
    target: &Path,
) -> Result<report::ReportSet> {
    report::render_documents(entry, matter, &[("hold.json", document)], target)
}

/// Regenerates the reports of the hold entry `entry_id` (`hold.json`), checking its manifest.
pub(crate) async fn regenerate_hold(
    store: &Store,
    entry_id: &str,
    reports_dir: &Path,
) -> Result<PathBuf> {
    let entry = crate::ledger::sealed::sealed_run(store, entry_id).await?;
    let row = store.hold_sealed_by(entry_id).await?.ok_or_else(|| {
        Error::Corrupt(format!(
            "ledger entry {entry_id} has the hold rule set but no legal hold row"
        ))
    })?;
    let dir = reports_dir.join(entry_id);
    let reports = hold_reports(entry_id, &row.matter, &row.document, &dir)?;
    let sha = reports.manifest_sha256();
    if sha != entry.manifest_sha256 {
        return Err(Error::ReportMismatch(format!(
            "the document of hold {} version {} (entry {entry_id}) does not match the manifest it recorded (stored {}, now {sha}); nothing was written",
            row.matter, row.version, entry.manifest_sha256
        )));
    }
    reports.write_to()?;
    super::write_sealing_checkpoint(store, &entry, &dir).await?;
    Ok(dir)
}

/// A hold version's document read back.
pub fn parse_hold(row: &HoldRow) -> Result<HoldDocument> {
    serde_json::from_slice(&row.document).map_err(|e| {
        Error::Corrupt(format!(
            "the document of hold {} version {}: {e}",
            row.matter, row.version
        ))
    })
}

/// The snapshot a matter report renders, sealed as its entry's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct MatterSnapshot {
    format: String,
    matter: String,
    audit_run: String,
    /// The population: the audit run's interactions the hold covers, by id.
    interactions: Vec<String>,
    scope: MatterScope,
}

/// A matter report written to disk.
#[derive(Debug)]
pub struct MatterOutcome {
    /// The ledger entry that seals it (its reports are under `reports/<entry>/`).
    pub entry: String,
    pub audit_run: String,
    pub dir: PathBuf,
    /// Whether this call sealed it (false: it existed and was regenerated byte for byte).
    pub sealed_now: bool,
    pub interactions: usize,
    pub flags: usize,
    /// When its held recordings were judged (deletion dates, protection): when it was sealed.
    pub judged: String,
    pub anchors: Option<AnchorOutcome>,
}

/// What a matter report is asked for.
#[derive(Debug, Clone, Copy)]
pub struct MatterRequest<'a> {
    pub matter: &'a str,
    /// The audit run to report on; default: the newest.
    pub audit_run: Option<&'a str>,
    /// `[report] hold_warn_days`.
    pub warn_days: u64,
    pub reports_dir: &'a Path,
    /// The files to write (all when empty), as `ReportSet::write_only` takes them.
    pub only: &'a [&'a str],
    /// Ask Genesys Cloud's deletion protection through this API (`--check-protection`).
    pub protection: Option<&'a PullConfig>,
}

/// The report of a matter over an audit run, sealed the first time it is asked for and
/// regenerated after that.
pub async fn matter_report(
    store: &Store,
    ledger: &Ledger,
    request: MatterRequest<'_>,
) -> Result<MatterOutcome> {
    let matter = request.matter;
    check_matter_id(matter)?;
    let audit_run = match request.audit_run {
        Some(run) => run.to_string(),
        None => store.newest_audit_run().await?.ok_or_else(|| {
            Error::Usage(
                "there is no audit run yet: `recaudit run` or `recaudit audit` makes one".into(),
            )
        })?,
    };
    let run = crate::ledger::sealed::sealed_run(store, &audit_run).await?;
    if !run.rule_set.starts_with("recaudit-rules-") {
        return Err(Error::Usage(format!(
            "run {audit_run} is a ledger entry of a legal hold or matter report, not an audit run: give an audit run (`recaudit runs`)"
        )));
    }
    let hold_row = store
        .newest_hold(matter)
        .await?
        .ok_or_else(|| no_such_hold(matter))?;
    if let Some((row, _)) = store
        .matter_report(MatterReportKey::Of {
            matter,
            version: hold_row.version,
            audit_run: &audit_run,
        })
        .await?
    {
        return regenerate_matter(store, &row.run_id, request.reports_dir, request.only).await;
    }
    let hold = parse_hold(&hold_row)?;
    let findings = load_findings_where(store, &audit_run, |f| hold.covers(f)).await?;
    // Asked before the entry's transaction: no network call while the write lock is held.
    let protection = match request.protection {
        Some(config) => {
            let held: Vec<String> = findings
                .iter()
                .map(|f| f.map(|f| f.interaction))
                .collect::<Result<_>>()?;
            Some(Protection::of(deletion_protection(config, &held).await?))
        }
        None => None,
    };
    let made = MatterMaking {
        run: &run,
        hold: &hold,
        hold_row: &hold_row,
        findings: &findings,
        protection: protection.as_ref(),
    };
    seal_matter_report(store, ledger, &request, made).await
}

/// Genesys Cloud's answers about the held conversations' deletion protection.
struct Protection {
    answers: Vec<crate::source::protection::ProtectionAnswer>,
    protected: BTreeSet<String>,
    /// When the last answer came.
    asked: String,
}

impl Protection {
    fn of(answers: Vec<crate::source::protection::ProtectionAnswer>) -> Protection {
        let protected = answers
            .iter()
            .flat_map(|a| a.protected.iter().cloned())
            .collect();
        let asked = answers
            .iter()
            .map(|a| a.received)
            .max()
            .unwrap_or_else(Timestamp::now)
            .to_string();
        Protection {
            answers,
            protected,
            asked,
        }
    }
}

/// What a new matter report is made of.
struct MatterMaking<'a> {
    run: &'a RunRecord,
    hold: &'a HoldDocument,
    hold_row: &'a HoldRow,
    /// The audit run's findings the hold covers.
    findings: &'a Findings,
    protection: Option<&'a Protection>,
}

/// Renders a new matter report and seals it as a ledger entry with its snapshot and the
/// protection answers as inputs; then writes it and anchors the checkpoint.
async fn seal_matter_report(
    store: &Store,
    ledger: &Ledger,
    request: &MatterRequest<'_>,
    made: MatterMaking<'_>,
) -> Result<MatterOutcome> {
    let MatterMaking {
        run,
        hold,
        hold_row,
        findings,
        protection,
    } = made;
    let known = outside_checkpoints(store, ledger).await?;
    let (mut tx, mut entry) = begin_entry(store, MATTER_RULE_SET).await?;
    let generated = completed_of(&entry)?;
    let (entry_index, _) = seal::log_position(&mut tx).await?;
    let scope = MatterScope {
        entry: entry.run_id.clone(),
        entry_index,
        matter: hold.matter.clone(),
        name: hold.name.clone(),
        version: hold.version as u64,
        hold_sha256: hold_row.sha256.clone(),
        hold_entry: hold_row.run_id.clone(),
        criteria: hold.lines(),
        generated: entry.completed.clone(),
        warn_days: request.warn_days,
        released: hold.released,
        flags: flags(
            findings,
            generated,
            request.warn_days,
            protection.map(|p| (p.asked.as_str(), &p.protected)),
        )?,
        protection_checked: protection.map(|p| p.asked.clone()),
        protected: protection
            .map(|p| p.protected.iter().cloned().collect())
            .unwrap_or_default(),
    };
    let snapshot = MatterSnapshot {
        format: MATTER_FORMAT.to_string(),
        matter: hold.matter.clone(),
        audit_run: run.run_id.clone(),
        interactions: findings
            .iter()
            .map(|f| f.map(|f| f.interaction))
            .collect::<Result<_>>()?,
        scope,
    };
    let dir = request.reports_dir.join(&entry.run_id);
    let reports = report::render(run, findings, Some(&snapshot.scope), &dir)?;
    entry.manifest_sha256 = reports.manifest_sha256();
    let body = document_bytes(&snapshot, "the matter report snapshot")?;
    let source = format!("matter/{}/v{}/{}", hold.matter, hold.version, run.run_id);
    let raw_input_id = tx
        .insert_document(DocumentKind::MatterReport, &source, generated, &body)
        .await?;
    let mut inputs = BTreeSet::from([raw_input_id]);
    for (n, answer) in protection.iter().flat_map(|p| &p.answers).enumerate() {
        // The ids asked are in the snapshot (an answer lists only the protected ones).
        // Named by the entry, so the same answer sealed by another report is its own input.
        let source = format!("{}#{}/{}", answer.request_path, entry.run_id, n + 1);
        let kind = DocumentKind::DeletionProtection;
        let id = tx
            .insert_document(kind, &source, answer.received, &answer.body)
            .await?;
        inputs.insert(id);
    }
    let appended = seal_entry(&mut tx, ledger, &known, &entry, &inputs).await?;
    tx.insert_matter_report(&MatterReportRow {
        run_id: entry.run_id.clone(),
        matter: hold.matter.clone(),
        version: hold.version,
        audit_run: run.run_id.clone(),
        raw_input_id,
    })
    .await?;
    tx.commit().await?;
    let anchors = super::publish(store, ledger, &reports, request.only, &appended).await?;
    Ok(MatterOutcome {
        entry: entry.run_id,
        audit_run: run.run_id.clone(),
        dir,
        sealed_now: true,
        interactions: findings.len(),
        flags: snapshot.scope.flags.len(),
        judged: snapshot.scope.generated.clone(),
        anchors: Some(anchors),
    })
}

/// Regenerates the matter report sealed by the entry `entry_id`, checking its manifest.
pub(crate) async fn regenerate_matter(
    store: &Store,
    entry_id: &str,
    reports_dir: &Path,
    only: &[&str],
) -> Result<MatterOutcome> {
    let entry = crate::ledger::sealed::sealed_run(store, entry_id).await?;
    let Some((_, body)) = store
        .matter_report(MatterReportKey::Entry(entry_id))
        .await?
    else {
        return Err(Error::Corrupt(format!(
            "ledger entry {entry_id} has the matter rule set but no matter report row"
        )));
    };
    let snapshot: MatterSnapshot = serde_json::from_slice(&body)
        .map_err(|e| Error::Corrupt(format!("the snapshot of matter report {entry_id}: {e}")))?;
    let run = crate::ledger::sealed::sealed_run(store, &snapshot.audit_run).await?;
    let wanted: BTreeSet<&str> = snapshot.interactions.iter().map(String::as_str).collect();
    let findings = load_findings_where(store, &snapshot.audit_run, |f| {
        wanted.contains(f.interaction.as_str())
    })
    .await?;
    let dir = reports_dir.join(entry_id);
    let reports = report::render(&run, &findings, Some(&snapshot.scope), &dir)?;
    let sha = reports.manifest_sha256();
    if sha != entry.manifest_sha256 {
        return Err(Error::ReportMismatch(format!(
            "the regenerated report of matter {} (entry {entry_id}) does not match the manifest it recorded (stored {}, now {sha}); nothing was written",
            snapshot.matter, entry.manifest_sha256
        )));
    }
    reports.write_only(only)?;
    super::write_sealing_checkpoint(store, &entry, &dir).await?;
    Ok(MatterOutcome {
        entry: entry_id.to_string(),
        audit_run: snapshot.audit_run,
        dir,
        sealed_now: false,
        interactions: findings.len(),
        flags: snapshot.scope.flags.len(),
        judged: snapshot.scope.generated.clone(),
        anchors: None,
    })
}

/// The held recordings at risk at `generated`: deleted, deletion due, deletion near, and
/// every held recording recaudit has no evidence Genesys Cloud protects. `protection`: when
/// Genesys Cloud was asked, and the conversations it said are protected (whose deletion dates
/// protection overrides).
fn flags(
    findings: &Findings,
    generated: Timestamp,
    warn_days: u64,
    protection: Option<(&str, &BTreeSet<String>)>,
) -> Result<Vec<HoldFlag>> {
    let near = generated.plus_millis((warn_days as i64).saturating_mul(24 * crate::time::HOUR_MS));
    let mut flags = Vec::new();
    for finding in findings.iter() {
        let finding = &finding?;
        for recording in &finding.particulars.recordings {
            let flag = |kind, detail: String| HoldFlag {
                interaction: finding.interaction.clone(),
                recording: recording.id.clone(),
                kind,
                detail,
            };
            let deleted = recording
                .file_state
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("DELETED"));
            let protected = protection.is_some_and(|(_, ids)| ids.contains(&finding.interaction));
            // Protection "overrides existing policy deletion dates" while it lasts.
            let due = recording
                .delete_date
                .as_deref()
                .and_then(|d| Timestamp::parse(d).ok())
                .filter(|_| !protected);
            if deleted {
                flags.push(flag(
                    HoldFlagKind::Deleted,
                    "its fileState is DELETED: the media is gone from Genesys Cloud; look for an exported copy and record the loss for the matter".into(),
                ));
            } else if let Some(due) = due.filter(|d| *d <= generated) {
                flags.push(flag(
                    HoldFlagKind::DeletionDue,
                    format!("its deleteDate {due} has passed: Genesys Cloud deletes it, if it has not yet; export it and protect it now"),
                ));
            } else if let Some(due) = due.filter(|d| *d <= near) {
                flags.push(flag(
                    HoldFlagKind::DeletionNear,
                    format!("its deleteDate {due} is within {warn_days} days: protect it in Genesys Cloud or export it before then"),
                ));
            }
            match protection {
                _ if protected => {}
                Some((asked, _)) => flags.push(flag(
                    HoldFlagKind::NotProtected,
                    format!("Genesys Cloud's deletion protection, asked at {asked}, does not list conversation {}: protect it there (Recording > Protect recordings from deletion) and keep an export", finding.interaction),
                )),
                None => flags.push(flag(
                    HoldFlagKind::NotProtected,
                    "nothing in its metadata says Genesys Cloud protects it from deletion, and its deletion protection was not asked (`recaudit report --matter ... --check-protection`): protect it there and keep an export".into(),
                )),
            }
        }
    }
    flags.sort_by(|a, b| {
        (&a.interaction, &a.recording, a.kind).cmp(&(&b.interaction, &b.recording, b.kind))
    });
    Ok(flags)
}

/// Starts a ledger entry's transaction and its run row, completed now (never before the
/// previous run).
async fn begin_entry(store: &Store, rule_set: &str) -> Result<(RunTransaction, RunRecord)> {
    let mut tx = store.begin_run().await?;
    let (seq, last_completed) = tx.next_run().await?;
    let completed = last_completed.map_or_else(Timestamp::now, |last| last.max(Timestamp::now()));
    let at = completed.to_string();
    let entry = RunRecord {
        run_id: run_id(completed, seq),
        seq,
        window_start: at.clone(),
        window_end: at.clone(),
        as_of: at.clone(),
        completed: at,
        rule_set: rule_set.to_string(),
        policy: String::new(),
        software: SOFTWARE.to_string(),
        manifest_sha256: String::new(),
        coverage: String::new(),
        report_set: report::REPORT_SET_CURRENT,
        report_context: String::new(),
    };
    Ok((tx, entry))
}

/// Stores the entry's run row with its inputs and appends it to the ledger.
async fn seal_entry(
    tx: &mut RunTransaction,
    ledger: &Ledger,
    known: &[(String, crate::ledger::note::Checkpoint)],
    entry: &RunRecord,
    inputs: &BTreeSet<i64>,
) -> Result<RunAppend> {
    tx.insert_run(entry).await?;
    tx.insert_run_inputs(&entry.run_id, inputs).await?;
    seal::append_run(tx, ledger, known, entry, &Findings::empty()).await
}

async fn outside_checkpoints(
    store: &Store,
    ledger: &Ledger,
) -> Result<Vec<(String, crate::ledger::note::Checkpoint)>> {
    let dir = ledger
        .settings
        .anchor_dir_for(store.ledger_home().as_deref());
    anchor::known_checkpoints(dir, ledger.signer.verifier(), ledger.origin.clone()).await
}

fn completed_of(entry: &RunRecord) -> Result<Timestamp> {
    Timestamp::parse(&entry.completed)
        .map_err(|e| Error::Corrupt(format!("entry {}: {e}", entry.run_id)))
}

/// A document's bytes: pretty JSON with a final newline (what `sha256sum` is run on).
fn document_bytes<T: Serialize>(document: &T, what: &str) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(document).map_err(|e| Error::Render {
        what: what.to_string(),
        source: Some(Box::new(e)),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_compared_as_e164() {
        assert_eq!(
            e164("tel:+1 (317) 555-0100").as_deref(),
            Some("+13175550100")
        );
        assert_eq!(
            e164("sip:+13175550100@10.0.0.1").as_deref(),
            Some("+13175550100")
        );
        assert_eq!(e164("anonymous"), None);
    }

    /// A complete call of 2026-07-14 10:00 UTC by `user` in `queues`.
    fn call(user: &str, queues: &[&str]) -> Finding {
        Finding {
            interaction: "c1".into(),
            status: crate::audit::Status::Complete,
            reasons: vec![],
            recordings: vec![],
            media_sha256: vec![],
            started: "2026-07-14T10:00:00.000Z".into(),
            ended: None,
            direction: "inbound".into(),
            media: "voice".into(),
            queues: queues.iter().map(|q| q.to_string()).collect(),
            users: vec![user.into()],
            detail: String::new(),
            particulars: Default::default(),
        }
    }

    #[test]
    fn a_hold_covers_by_any_selector_within_its_range() {
        let mut finding = call("u1", &["q1"]);
        finding.particulars.ani = vec!["tel:+13175550100".into()];
        let mut hold = HoldCriteria::default();
        hold.numbers.insert("+13175550100".into());
        assert!(hold.covers(&finding));
        hold.from = Some("2026-07-15T00:00:00.000Z".into());
        assert!(!hold.covers(&finding), "outside the range");
        let mut by_queue = HoldCriteria::default();
        by_queue.queues.insert("q2".into());
        assert!(!by_queue.covers(&finding));
        by_queue.users.insert("u1".into());
        assert!(by_queue.covers(&finding));
        let only_range = HoldCriteria {
            to: Some("2026-07-15T00:00:00.000Z".into()),
            ..Default::default()
        };
        assert!(only_range.covers(&finding));
    }

    #[test]
    fn adding_a_clause_never_narrows_a_hold() {
        let finding = call("u9", &[]);
        let range = HoldCriteria {
            from: Some("2026-07-14T00:00:00.000Z".into()),
            ..Default::default()
        };
        let mut by_user = HoldCriteria::default();
        by_user.users.insert("u1".into());
        let mut hold = HoldDocument {
            format: HOLD_FORMAT.into(),
            matter: "M".into(),
            version: 1,
            name: "n".into(),
            action: HoldAction::Add,
            changed: String::new(),
            released: false,
            clauses: vec![range],
            previous_sha256: None,
        };
        assert!(hold.covers(&finding));
        hold.clauses.push(by_user);
        assert!(hold.covers(&finding), "the range clause still holds it");
        assert_eq!(hold.lines().len(), 2);
        assert!(hold.lines()[1].starts_with("clause 2: custodians"));
    }

    #[test]
    fn matter_ids_are_file_names_and_tokens() {
        assert!(check_matter_id("SEC-2026.014_a").is_ok());
        for bad in ["", "../x", ".hidden", "a b", "ü"] {
            assert!(check_matter_id(bad).is_err(), "{bad}");
        }
    }
}
