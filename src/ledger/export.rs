//! What leaves the database for auditors: the audit package and single-interaction proofs.
//!
//! The package (`recaudit ledger export --out DIR`) is verifiable with no recaudit software:
//!
//! ```text
//! ledger.vkey                 the verifier key string
//! checkpoints/<size>.note     every signed checkpoint
//! checkpoints/<size>.tsr      RFC 3161 time stamps, where present (tsa-ca.pem: the TSA's CA)
//! runs/<index>.run            run record bytes
//! runs/<index>.inputs         the run's input records, each followed by one empty line
//! runs/<index>.findings       the run's finding records, each followed by one empty line
//! verify.py                   standard-library-only reference verifier
//! VERIFY.md                   how to verify by hand with sha256sum, base64, xxd and openssl
//! ```

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::anchor::AnchorKind;
use super::merkle::{self, Hash};
use super::record::{self, FINDING};
use crate::error::{Error, Result};
use crate::store::{Store, Tree};

/// The reference verifier shipped in every package.
pub(crate) const VERIFY_PY: &str = include_str!("verify.py");
/// The hand-verification recipe shipped in every package.
pub(crate) const VERIFY_MD: &str = include_str!("VERIFY.md");

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub runs: usize,
    pub checkpoints: usize,
    pub timestamps: usize,
    pub findings: u64,
}

/// Writes the audit package into `out` (created; must be empty if it exists).
pub async fn export(
    store: &Store,
    vkey: &str,
    out: &Path,
    tsa_ca: Option<&Path>,
) -> Result<ExportSummary> {
    if out.exists()
        && std::fs::read_dir(out)
            .map_err(Error::io("cannot read", out))?
            .next()
            .is_some()
    {
        return Err(Error::Usage(format!(
            "{} is not empty; export into a new directory",
            out.display()
        )));
    }
    let checkpoints_dir = out.join("checkpoints");
    let runs_dir = out.join("runs");
    for dir in [out, &checkpoints_dir, &runs_dir] {
        std::fs::create_dir_all(dir).map_err(Error::io("cannot create", dir))?;
    }
    let mut summary = ExportSummary::default();
    write(&out.join("ledger.vkey"), format!("{vkey}\n").as_bytes())?;
    write(&out.join("verify.py"), VERIFY_PY.as_bytes())?;
    write(&out.join("VERIFY.md"), VERIFY_MD.as_bytes())?;

    for (size, note) in store.ledger_checkpoints().await? {
        write(&checkpoints_dir.join(format!("{size}.note")), &note)?;
        summary.checkpoints += 1;
    }
    for anchor in store.ledger_anchors().await? {
        if anchor.kind == AnchorKind::Rfc3161.as_str() {
            write(
                &checkpoints_dir.join(format!("{}.tsr", anchor.size)),
                &anchor.data,
            )?;
            summary.timestamps += 1;
        }
    }
    if let Some(ca) = tsa_ca {
        let pem = std::fs::read(ca).map_err(Error::io("cannot read the TSA CA certificate", ca))?;
        write(&checkpoints_dir.join("tsa-ca.pem"), &pem)?;
    }

    for run in store.ledger_runs().await? {
        write(&runs_dir.join(format!("{}.run", run.idx)), &run.record)?;
        for tree in Tree::ALL {
            let path = runs_dir.join(format!("{}.{tree}", run.idx));
            let file = std::fs::File::create(&path).map_err(Error::io("cannot write", &path))?;
            let mut writer = std::io::BufWriter::new(file);
            let mut failed: Option<std::io::Error> = None;
            let mut count = 0u64;
            store
                .for_each_ledger_entry(&run.run_id, tree, |_, bytes, _| {
                    if failed.is_none()
                        && let Err(e) = writer
                            .write_all(bytes)
                            .and_then(|()| writer.write_all(b"\n"))
                    {
                        failed = Some(e);
                    }
                    count += 1;
                    Ok(())
                })
                .await?;
            if let Some(e) = failed {
                return Err(Error::Io {
                    context: "cannot write",
                    path,
                    source: e,
                });
            }
            writer.flush().map_err(Error::io("cannot write", &path))?;
            if tree == Tree::Findings {
                summary.findings += count;
            }
        }
        summary.runs += 1;
    }
    Ok(summary)
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(Error::io("cannot write", path))
}

/// A self-contained proof that one interaction's finding is in the ledger.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Proof {
    pub(crate) format: String,
    pub finding: String,
    pub finding_index: u64,
    pub findings_size: u64,
    pub finding_path: Vec<String>,
    pub run: String,
    pub run_index: u64,
    pub tree_size: u64,
    pub run_path: Vec<String>,
    pub checkpoint: String,
}

/// Builds the proof of `interaction`'s finding in `run` (default: the newest run that has it).
pub async fn prove(store: &Store, interaction: &str, run: Option<&str>) -> Result<Proof> {
    let run_id = match run {
        Some(run) => run.to_string(),
        None => {
            let newest = store.newest_run_with(interaction).await?;
            newest.ok_or_else(|| {
                Error::NotInLedger(format!(
                    "no run in the ledger has interaction `{interaction}`"
                ))
            })?
        }
    };
    let wanted = record::pct_encode(interaction);
    let mut leaves: Vec<Hash> = Vec::new();
    let mut found: Option<(usize, Vec<u8>)> = None;
    store
        .for_each_ledger_entry(&run_id, Tree::Findings, |_, bytes, _| {
            if found.is_none()
                && let Ok(parsed) = record::parse(&FINDING, bytes)
                && parsed.get(&FINDING, "interaction") == wanted
            {
                found = Some((leaves.len(), bytes.to_vec()));
            }
            leaves.push(merkle::leaf_hash(bytes));
            Ok(())
        })
        .await?;
    let (finding_index, finding) = found.ok_or_else(|| {
        Error::NotInLedger(format!(
            "run `{run_id}` has no finding for interaction `{interaction}`"
        ))
    })?;

    let runs = store.ledger_runs().await?;
    let run_leaves: Vec<Hash> = runs.iter().map(|r| merkle::leaf_hash(&r.record)).collect();
    let run_index = runs
        .iter()
        .position(|r| r.run_id == run_id)
        .ok_or_else(|| Error::NotInLedger(format!("run `{run_id}` is not in the ledger")))?;
    let (size, note) = store
        .ledger_checkpoints()
        .await?
        .pop()
        .ok_or_else(|| Error::NotInLedger("the ledger has no checkpoint yet".into()))?;
    let covered = &run_leaves[..(size as usize).min(run_leaves.len())];
    let to_hex = |path: Vec<Hash>| path.iter().map(hex::encode).collect::<Vec<_>>();
    Ok(Proof {
        format: "recaudit-proof v1".to_string(),
        finding: String::from_utf8_lossy(&finding).into_owned(),
        finding_index: finding_index as u64,
        findings_size: leaves.len() as u64,
        finding_path: to_hex(merkle::inclusion_proof(&leaves, finding_index)),
        run: String::from_utf8_lossy(&runs[run_index].record).into_owned(),
        run_index: run_index as u64,
        tree_size: covered.len() as u64,
        run_path: to_hex(merkle::inclusion_proof(covered, run_index)),
        checkpoint: String::from_utf8_lossy(&note).into_owned(),
    })
}
