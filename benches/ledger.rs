//! Ledger benchmark: append and verify one run of N findings (default 1,000,000), beside
//! `openssl dgst -sha256` over the same record bytes as the baseline.
//!
//! Run: `cargo bench --bench ledger` (or `cargo bench --bench ledger -- 200000` for another N).
//! Every phase prints its wall time, its ratio to the openssl baseline measured in the same run,
//! and the process's peak resident memory so far. Times are wall clock on whatever else the
//! machine is doing; the ratios are what to compare between machines.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use recaudit::audit::{Finding, Reason, Status};
use recaudit::ledger::append::{self, LogState};
use recaudit::ledger::merkle::Frontier;
use recaudit::ledger::note::NoteSigner;
use recaudit::ledger::verify::{self, VerifyOptions};
use recaudit::ledger::{Ledger, LedgerSettings};
use recaudit::store::{RunRecord, Store};
use recaudit::time::Timestamp;

const ORIGIN: &str = "bench.example.com/recaudit";

fn findings(n: usize) -> Vec<Finding> {
    (0..n)
        .map(|i| {
            let status = [
                Status::Complete,
                Status::Complete,
                Status::Complete,
                Status::Exception,
                Status::Pending,
            ][i % 5];
            let reasons = match status {
                Status::Exception => vec![Reason::MediaNotEstablished],
                Status::Pending => vec![Reason::RecordingMissing],
                _ => vec![],
            };
            let recording = format!("{:08x}-0a1b-4c3d-8e5f-{:012x}", i, i * 7);
            Finding {
                interaction: format!("{:08x}-3f4a-4d8b-a1c2-{:012x}", i, i),
                status,
                reasons,
                media_sha256: if status == Status::Complete {
                    vec![format!("{:064x}", i * 31)]
                } else {
                    vec![]
                },
                recordings: if status == Status::Complete {
                    vec![recording]
                } else {
                    vec![]
                },
                started: Timestamp::from_millis(1_783_987_200_000 + i as i64 * 80).to_string(),
                ended: Some(Timestamp::from_millis(1_783_987_500_000 + i as i64 * 80).to_string()),
                direction: "inbound".to_string(),
                media: "voice".to_string(),
                queues: vec!["7d6c5b4a-3e2f-4a1b-9c8d-7e6f5a4b3c2d".to_string()],
                users: vec![format!("user-{}", i % 400)],
                detail: "Benchmark finding.".to_string(),
                particulars: Default::default(),
            }
        })
        .collect()
}

fn peak_memory_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn report(phase: &str, seconds: f64, baseline: f64) {
    println!(
        "{phase:<44} {seconds:>8.2} s  {:>6.1}x openssl  peak RSS so far {:>7.0} MiB",
        seconds / baseline,
        peak_memory_mib()
    );
}

fn openssl_seconds(path: &Path) -> f64 {
    // Best of three: the baseline should be the machine's hashing speed, not a cold cache.
    (0..3)
        .map(|_| {
            let start = Instant::now();
            let output = Command::new("openssl")
                .arg("dgst")
                .arg("-sha256")
                .arg(path)
                .output()
                .expect("openssl");
            assert!(output.status.success());
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = std::env::temp_dir().join(format!("recaudit-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    println!(
        "ledger benchmark: one run of {n} findings (scratch {})",
        dir.display()
    );

    let findings = findings(n);
    let signer = NoteSigner::generate(ORIGIN).expect("key");
    let run = RunRecord {
        run_id: "20260715-020000-1".to_string(),
        seq: 1,
        window_start: "2026-07-14T00:00:00.000Z".to_string(),
        window_end: "2026-07-15T00:00:00.000Z".to_string(),
        as_of: "2026-07-16T12:00:00.000Z".to_string(),
        completed: "2026-07-16T12:00:01.000Z".to_string(),
        rule_set: recaudit::audit::RULE_SET.to_string(),
        policy: "bench".to_string(),
        software: recaudit::pipeline::SOFTWARE.to_string(),
        // Stands for the SHA-256 of the run's report manifest.
        manifest_sha256: format!("{:064x}", 42),
        coverage: String::new(),
        report_set: 1,
        report_context: String::new(),
    };

    // Phase 1: records, leaf hashes, roots and the signed checkpoint, in memory.
    let start = Instant::now();
    let state = LogState {
        origin: ORIGIN,
        frontier: Frontier::default(),
        supersedes: None,
    };
    let built = append::build(state, &signer, &run, &[], &findings).expect("records");
    let compute = start.elapsed().as_secs_f64();

    // Baseline: openssl over exactly the record bytes the ledger hashes.
    let records = dir.join("records.bin");
    let mut bytes = Vec::with_capacity(built.findings.len() * 400);
    for entry in &built.findings {
        bytes.extend_from_slice(&entry.record);
    }
    std::fs::write(&records, &bytes).expect("write records");
    let megabytes = bytes.len() as f64 / 1_048_576.0;
    drop(bytes);
    let baseline = openssl_seconds(&records);
    println!(
        "{:<44} {baseline:>8.2} s  (baseline; {megabytes:.0} MiB of record bytes)",
        "openssl dgst -sha256 over the records"
    );
    report(
        "append: build records, hash, sign (memory)",
        compute,
        baseline,
    );

    // The verifier's work on the same records, without the database: strict parse of every
    // record, leaf hashes, the findings root, and the signed checkpoint.
    let start = Instant::now();
    let mut check = verify::TreeCheck::new(&run.run_id, recaudit::store::Tree::Findings);
    for entry in &built.findings {
        check.record(entry.seq as i64, &entry.record);
    }
    let root = hex::encode(recaudit::ledger::merkle::root(&check.leaves));
    check.finish(&n.to_string(), &root);
    assert!(check.failures.is_empty());
    assert!(
        signer
            .verifier()
            .verify_checkpoint(&built.append.note, ORIGIN)
            .is_ok()
    );
    report(
        "verify: parse, hash, roots, signature (memory)",
        start.elapsed().as_secs_f64(),
        baseline,
    );
    drop(check);
    drop(built);

    // Phase 2: the real append, in SQLite, in one transaction with the typed findings.
    let db = dir.join("bench.db");
    let store = runtime
        .block_on(Store::open(&format!("sqlite://{}", db.display())))
        .expect("store");
    let (ledger, _) = Ledger::open_or_create(
        LedgerSettings::default(),
        ORIGIN.to_string(),
        dir.join("bench.key"),
        0,
    )
    .expect("ledger");
    let findings = recaudit::audit::Findings::of(&findings).expect("spool");
    let start = Instant::now();
    runtime
        .block_on(async {
            let mut tx = store.begin_run().await?;
            let (seq, _) = tx.next_run().await?;
            let run = RunRecord { seq, ..run.clone() };
            let empty = std::collections::BTreeSet::new();
            recaudit::pipeline::store_run(&mut tx, &ledger, &[], &run, &empty, &findings).await?;
            tx.commit().await
        })
        .expect("save run");
    report(
        "append: findings + ledger into SQLite",
        start.elapsed().as_secs_f64(),
        baseline,
    );
    drop(findings);

    // Phase 3: verify the whole ledger from the database (V1-V10 and the typed-column lint).
    let options = VerifyOptions {
        origin: ORIGIN.to_string(),
        verifier: ledger.signer.verifier(),
        presented: vec![],
        tsa_ca: None,
        anchor_dir: None,
        since: None,
    };
    let start = Instant::now();
    let verified = runtime
        .block_on(verify::verify(&store, &options))
        .expect("verify");
    assert!(verified.ok(), "{:?}", verified.failures);
    assert_eq!(verified.findings, n as u64);
    report(
        "verify: recaudit ledger verify (database)",
        start.elapsed().as_secs_f64(),
        baseline,
    );

    // Phase 4: the auditor's side: export, then the shipped verify.py on the package.
    let package = dir.join("package");
    let start = Instant::now();
    runtime
        .block_on(recaudit::ledger::export::export(
            &store,
            &ledger.signer.vkey(),
            &package,
            None,
        ))
        .expect("export");
    report(
        "export: audit package",
        start.elapsed().as_secs_f64(),
        baseline,
    );
    let start = Instant::now();
    let python = Command::new("python3")
        .arg(package.join("verify.py"))
        .arg(&package)
        .output();
    match python {
        Ok(output) if output.status.success() => report(
            "verify: python3 verify.py (package)",
            start.elapsed().as_secs_f64(),
            baseline,
        ),
        Ok(output) => println!(
            "verify.py failed: {}",
            String::from_utf8_lossy(&output.stdout)
        ),
        Err(e) => println!("verify.py not run: {e}"),
    }
    runtime.block_on(store.close());
    let _ = std::fs::remove_dir_all(&dir);
}
