//! `recaudit report` and `recaudit hold` as the binary runs them: arguments to the pipeline's
//! calls, and what the operator reads (which files were written, which ledger entry sealed a
//! hold or a matter report, what to do next).

use anyhow::{Context, Result};
use recaudit::cli::{HoldCommand, ReportFormat};
use recaudit::ledger::Ledger;
use recaudit::pipeline::{self, hold};
use recaudit::source::genesys::PullConfig;

use super::{Workspace, cli_time};

/// What `recaudit report` was asked for.
pub(crate) struct Report<'a> {
    pub(crate) run: Option<&'a str>,
    pub(crate) matter: Option<&'a str>,
    pub(crate) formats: &'a [ReportFormat],
    /// `--check-protection`: the API to ask deletion protection of.
    pub(crate) protection: Option<&'a PullConfig>,
}

/// `recaudit report [--run ID] [--matter M] [--format ...] [--check-protection]`.
pub(crate) async fn report_command(workspace: &Workspace, report: Report<'_>) -> Result<u8> {
    let Report {
        run,
        matter,
        formats,
        protection,
    } = report;
    let mut only: Vec<&str> = formats.iter().map(|f| f.file_name()).collect();
    only.sort_unstable();
    only.dedup();
    let store = &workspace.store;
    let reports_dir = &workspace.locations.reports_dir;
    let dir = match matter {
        Some(matter) => {
            let ledger = open_ledger(workspace).await?;
            let request = hold::MatterRequest {
                matter,
                audit_run: run,
                warn_days: workspace.settings.report.hold_warn_days,
                reports_dir,
                only: &only,
                protection,
            };
            let outcome = hold::matter_report(store, &ledger, request).await?;
            if outcome.sealed_now {
                println!(
                    "Sealed the report of matter {matter} over run {} as ledger entry {}: {} interactions, {} held recordings flagged.",
                    outcome.audit_run, outcome.entry, outcome.interactions, outcome.flags
                );
            } else {
                println!(
                    "Regenerated the report of matter {matter} over run {} (ledger entry {}), byte for byte; its held recordings were judged at {}.",
                    outcome.audit_run, outcome.entry, outcome.judged
                );
                println!(
                    "A report judged anew needs a new hold version (`recaudit hold add {matter} ...`) or a newer audit run (`--run`){}.",
                    if protection.is_some() {
                        "; --check-protection was not asked again"
                    } else {
                        ""
                    }
                );
            }
            for failed in outcome.anchors.iter().flat_map(|a| &a.failed) {
                eprintln!(
                    "recaudit: anchoring failed: {failed} (retry with `recaudit ledger anchor`)"
                );
            }
            outcome.dir
        }
        None => {
            let run = match run {
                Some(run) => run.to_string(),
                None => store.newest_audit_run().await?.context(
                    "there is no audit run yet: `recaudit run` or `recaudit audit` makes one",
                )?,
            };
            pipeline::regenerate_only(store, &run, reports_dir, &only).await?
        }
    };
    // A file asked for that the run's report set does not have (report set 1 has no HTML, a
    // hold entry only hold.json) is named, not silently skipped.
    let manifest = std::fs::read(dir.join("manifest.json")).context("reading manifest.json")?;
    let manifest: serde_json::Value =
        serde_json::from_slice(&manifest).context("reading manifest.json")?;
    let listed: Vec<&str> = manifest["files"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["name"].as_str())
        .collect();
    if let Some(missing) = only.iter().find(|name| !listed.contains(name)) {
        anyhow::bail!(
            "the reports in {} have no {missing}: that run's report set does not include it (runs sealed before report set 2 have findings.csv, findings.json and summary.md)",
            dir.display()
        );
    }
    if formats.contains(&ReportFormat::Pdf) {
        let html = dir.join("report.html");
        let pdf = dir.join("report.pdf");
        // Chromium runs for seconds (up to its time bound): on a blocking thread.
        let printed = pdf.clone();
        tokio::task::spawn_blocking(move || recaudit::report::render_pdf(&html, &printed, None))
            .await
            .context("printing the PDF")??;
        println!("PDF: {} (printed from report.html)", pdf.display());
    }
    println!("Reports: {}", dir.display());
    Ok(0)
}

/// `recaudit hold ...`.
pub(crate) async fn hold_command(workspace: &Workspace, command: HoldCommand) -> Result<u8> {
    let store = &workspace.store;
    match command {
        HoldCommand::Add {
            matter,
            name,
            conversations,
            users,
            queues,
            numbers,
            from,
            to,
        } => {
            let time = |flag: &str, text: Option<String>| -> Result<Option<String>> {
                text.map(|t| cli_time(flag, &t).map(|t| t.to_string()))
                    .transpose()
            };
            let add = hold::HoldCriteria {
                conversations: conversations.into_iter().collect(),
                users: users.into_iter().collect(),
                queues: queues.into_iter().collect(),
                numbers: numbers.into_iter().collect(),
                from: time("--from", from)?,
                to: time("--to", to)?,
            };
            let ledger = open_ledger(workspace).await?;
            let change = hold::HoldChange { matter, name, add };
            let outcome =
                hold::add_hold(store, &ledger, change, &workspace.locations.reports_dir).await?;
            print_sealed(&outcome);
        }
        HoldCommand::Release { matter } => {
            let ledger = open_ledger(workspace).await?;
            let outcome =
                hold::release_hold(store, &ledger, &matter, &workspace.locations.reports_dir)
                    .await?;
            print_sealed(&outcome);
        }
        HoldCommand::List => {
            let holds = newest_versions(store.holds().await?);
            if holds.is_empty() {
                println!(
                    "No legal holds: `recaudit hold add MATTER --name ... --user ...` makes one."
                );
            }
            for row in holds {
                let document = hold::parse_hold(&row)?;
                println!(
                    "{}  {}  version {}  {}  since {}",
                    document.matter,
                    if document.released {
                        "released"
                    } else {
                        "held"
                    },
                    document.version,
                    document.name,
                    row.sealed
                );
            }
        }
        HoldCommand::Show { matter } => {
            hold::check_matter_id(&matter)?;
            let versions: Vec<_> = store
                .holds()
                .await?
                .into_iter()
                .filter(|row| row.matter == matter)
                .collect();
            if versions.is_empty() {
                anyhow::bail!("there is no legal hold {matter} (`recaudit hold list`)");
            }
            for row in &versions {
                let document = hold::parse_hold(row)?;
                println!(
                    "version {}  {:?}  {}  ledger entry {}  sha256 {}",
                    document.version, document.action, document.changed, row.run_id, row.sha256
                );
            }
            if let Some(newest) = versions.last() {
                let document = hold::parse_hold(newest)?;
                println!("\n{}: {}", document.matter, document.name);
                println!(
                    "State: {}",
                    if document.released {
                        "released"
                    } else {
                        "held"
                    }
                );
                for line in document.lines() {
                    println!("  {line}");
                }
            }
        }
    }
    Ok(0)
}

fn print_sealed(outcome: &hold::HoldOutcome) {
    let document = &outcome.document;
    println!(
        "Hold {} version {} ({}) sealed as ledger entry {} at index {}, checkpoint size {}; document sha256 {}",
        document.matter,
        document.version,
        if document.released {
            "released"
        } else {
            "held"
        },
        outcome.entry,
        outcome.ledger.index,
        outcome.ledger.checkpoint.size,
        outcome.sha256
    );
    println!("Reports: {}", outcome.dir.display());
    for failed in &outcome.anchors.failed {
        eprintln!("recaudit: anchoring failed: {failed} (retry with `recaudit ledger anchor`)");
    }
}

/// The newest version of each matter (rows come by matter, then version).
fn newest_versions(rows: Vec<recaudit::store::HoldRow>) -> Vec<recaudit::store::HoldRow> {
    let mut newest: Vec<recaudit::store::HoldRow> = Vec::new();
    for row in rows {
        match newest.last_mut() {
            Some(last) if last.matter == row.matter => *last = row,
            _ => newest.push(row),
        }
    }
    newest
}

/// The ledger to seal an audit run, a hold or a matter report in (its key is created on first
/// use, and its verifier key printed for the auditors).
pub(crate) async fn open_ledger(workspace: &Workspace) -> Result<Ledger> {
    let existing = workspace.store.ledger_size().await?;
    let (ledger, created) = Ledger::open_or_create(
        workspace.settings.ledger.clone(),
        workspace.origin.clone(),
        workspace.key_path.clone(),
        existing,
    )?;
    if let Some(vkey) = created {
        println!(
            "Created the ledger signing key {} (keep it secret).",
            workspace.key_path.display()
        );
        println!("Give auditors its verifier key: {vkey}\n");
    }
    Ok(ledger)
}
