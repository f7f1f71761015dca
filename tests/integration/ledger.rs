//! The ledger: appended with every run, verified on the database, and the tamper suite of
//! docs/ledger-format.md. Each tampering must be detected with the right check named.

use recaudit::audit::Policy;
use recaudit::ledger::merkle;
use recaudit::ledger::note::{Checkpoint, NoteSigner};
use recaudit::ledger::record::{self, FINDING, RUN};
use recaudit::ledger::verify::{self, VerifyOptions, VerifyReport};
use recaudit::ledger::{Ledger, LedgerSettings};
use serde_json::json;

use crate::support::*;

/// An environment with `runs` audits of a small night (3 conversations, one exported media).
async fn ledgered(runs: usize) -> TestEnv {
    let env = TestEnv::new().await;
    env.write_json(
        "p.json",
        &page(vec![
            answered_call("a"),
            ice_failure_call("b"),
            answered_call("c"),
        ]),
    );
    env.export_recording("a", 10, "rec-a", sidecar("a", "rec-a"), Some(AUDIO));
    env.import().await;
    for i in 0..runs {
        env.audit_with(&Policy::default(), &format!("2026-07-1{}T12:00:00Z", 5 + i))
            .await;
    }
    env
}

async fn check(env: &TestEnv) -> VerifyReport {
    check_with(env, vec![]).await
}

async fn check_with(env: &TestEnv, presented: Vec<(String, String)>) -> VerifyReport {
    let options = VerifyOptions {
        origin: ORIGIN.to_string(),
        verifier: env.ledger.signer.verifier(),
        presented,
        tsa_ca: None,
        anchor_dir: None,
        since: None,
    };
    verify::verify(&env.store, &options)
        .await
        .expect("verify runs")
}

async fn check_since(env: &TestEnv, name: &str, note: &str) -> VerifyReport {
    let options = VerifyOptions {
        origin: ORIGIN.to_string(),
        verifier: env.ledger.signer.verifier(),
        presented: vec![],
        tsa_ca: None,
        anchor_dir: None,
        since: Some((name.to_string(), note.to_string())),
    };
    verify::verify(&env.store, &options)
        .await
        .expect("verify runs")
}

/// The stored checkpoint of `size` runs, as an auditor keeps it.
async fn note_of_size(env: &TestEnv, size: u64) -> String {
    let (_, note) = env
        .store
        .ledger_checkpoints()
        .await
        .unwrap()
        .into_iter()
        .find(|(s, _)| *s == size)
        .unwrap();
    String::from_utf8(note).unwrap()
}

async fn sql(env: &TestEnv, statement: &str) {
    tamper(&env.store, statement).await;
}

async fn run_ids(env: &TestEnv) -> Vec<String> {
    env.store
        .ledger_runs()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.run_id)
        .collect()
}

async fn latest_note(env: &TestEnv) -> String {
    let (_, note) = env.store.ledger_checkpoints().await.unwrap().pop().unwrap();
    String::from_utf8(note).unwrap()
}

fn assert_detected(report: &VerifyReport, check: &str, what: &str) {
    assert!(
        report.has(check),
        "{what}: expected {check}, got {:?}",
        report.failures
    );
}

#[tokio::test]
async fn every_run_appends_records_a_run_record_and_a_signed_checkpoint() {
    let env = ledgered(3).await;
    let report = check(&env).await;
    assert!(report.ok(), "{:?}", report.failures);
    assert!(report.lints.is_empty(), "{:?}", report.lints);
    assert_eq!(report.size, 3);
    assert_eq!(report.findings, 9);
    // The page, the sidecar and the media file, per run.
    assert_eq!(report.inputs, 9);

    let runs = env.store.ledger_runs().await.unwrap();
    let first = record::parse(&RUN, &runs[0].record).unwrap();
    assert_eq!(first.get(&RUN, "origin"), ORIGIN);
    assert_eq!(first.get(&RUN, "index"), "0");
    assert_eq!(
        first.get(&RUN, "prev-root"),
        hex::encode(merkle::empty_root())
    );
    assert_eq!(first.get(&RUN, "supersedes"), "none");
    assert_eq!(first.get(&RUN, "software"), recaudit::pipeline::SOFTWARE);
    // The report manifest is bound into the run record.
    let stored = env.store.load_run(&runs[0].run_id).await.unwrap();
    assert_eq!(first.get(&RUN, "reports-sha256"), stored.manifest_sha256);
    let manifest =
        std::fs::read(env.reports().join(&runs[0].run_id).join("manifest.json")).unwrap();
    assert_eq!(
        stored.manifest_sha256,
        hex::encode(sha2::Digest::finalize(sha2::Digest::chain_update(
            sha2::Sha256::default(),
            &manifest
        )))
    );
    // A second audit of the same window supersedes the first.
    let second = record::parse(&RUN, &runs[1].record).unwrap();
    assert_eq!(second.get(&RUN, "supersedes"), runs[0].run_id);
    assert_eq!(
        second.get(&RUN, "prev-root"),
        hex::encode(merkle::leaf_hash(&runs[0].record))
    );

    // The finding records carry the verdicts, one per interaction.
    let mut statuses = Vec::new();
    env.store
        .for_each_ledger_entry(
            &runs[0].run_id,
            recaudit::store::Tree::Findings,
            |_, bytes, _| {
                let parsed = record::parse(&FINDING, bytes).unwrap();
                statuses.push((
                    parsed.get(&FINDING, "interaction").to_string(),
                    parsed.get(&FINDING, "status").to_string(),
                    parsed.get(&FINDING, "reasons").to_string(),
                ));
                Ok(())
            },
        )
        .await
        .unwrap();
    assert_eq!(
        statuses,
        vec![
            ("a".into(), "complete".into(), "none".into()),
            (
                "b".into(),
                "exception".into(),
                "media-not-established".into()
            ),
            // Audited 2026-07-15T12:00: still inside the grace window.
            ("c".into(), "pending".into(), "recording-missing".into()),
        ]
    );

    // The checkpoint verifies on its own with the vkey.
    let note = latest_note(&env).await;
    let verifier = recaudit::ledger::note::NoteVerifier::parse(&env.ledger.signer.vkey()).unwrap();
    let checkpoint = verifier.verify_checkpoint(&note, ORIGIN).unwrap();
    assert_eq!(checkpoint.size, 3);
}

#[tokio::test]
async fn a_changed_finding_record_is_v6() {
    let env = ledgered(2).await;
    let run = &run_ids(&env).await[0];
    sql(&env, &format!("UPDATE ledger_entries SET record = CAST(replace(CAST(record AS TEXT), 'status complete', 'status excluded') AS BLOB) WHERE run_id = '{run}' AND tree = 'findings' AND seq = 0")).await;
    let report = check(&env).await;
    assert_detected(&report, "V6", "modified finding");
    assert!(!report.integrity_ok());
}

#[tokio::test]
async fn an_edit_of_the_typed_findings_table_only_is_flagged_not_failed() {
    let env = ledgered(1).await;
    sql(
        &env,
        "UPDATE findings SET status = 'complete', reasons = '[]' WHERE conversation_id = 'b'",
    )
    .await;
    let report = check(&env).await;
    assert!(report.ok(), "{:?}", report.failures);
    assert!(
        report
            .lints
            .iter()
            .any(|l| l.contains("typed findings table differs")),
        "{:?}",
        report.lints
    );
}

#[tokio::test]
async fn deleted_inserted_duplicated_and_reordered_findings_are_v6() {
    let cases = [
        (
            "delete",
            "DELETE FROM ledger_entries WHERE run_id = '{run}' AND tree = 'findings' AND seq = 1",
        ),
        (
            "insert",
            "INSERT INTO ledger_entries SELECT run_id, tree, 3, CAST(replace(replace(CAST(record AS TEXT), 'seq 2', 'seq 3'), 'interaction c', 'interaction d') AS BLOB), leaf_hash FROM ledger_entries WHERE run_id = '{run}' AND tree = 'findings' AND seq = 2",
        ),
        (
            "duplicate",
            "INSERT INTO ledger_entries SELECT run_id, tree, 3, record, leaf_hash FROM ledger_entries WHERE run_id = '{run}' AND tree = 'findings' AND seq = 0",
        ),
        (
            "reorder",
            "UPDATE ledger_entries SET seq = CASE seq WHEN 0 THEN 1 ELSE 0 END WHERE run_id = '{run}' AND tree = 'findings' AND seq IN (0, 1)",
        ),
        (
            "drop an input",
            "DELETE FROM ledger_entries WHERE run_id = '{run}' AND tree = 'inputs' AND seq = 0",
        ),
    ];
    for (what, statement) in cases {
        let env = ledgered(1).await;
        let run = &run_ids(&env).await[0];
        if what == "reorder" {
            // Through a free seq, since (run, tree, seq) is unique.
            sql(&env, &format!("UPDATE ledger_entries SET seq = 99 WHERE run_id = '{run}' AND tree = 'findings' AND seq = 0")).await;
            sql(&env, &format!("UPDATE ledger_entries SET seq = 0 WHERE run_id = '{run}' AND tree = 'findings' AND seq = 1")).await;
            sql(&env, &format!("UPDATE ledger_entries SET seq = 1 WHERE run_id = '{run}' AND tree = 'findings' AND seq = 99")).await;
        } else {
            sql(&env, &statement.replace("{run}", run)).await;
        }
        let report = check(&env).await;
        assert_detected(&report, "V6", what);
        assert!(
            report
                .failures
                .iter()
                .any(|f| f.run.as_deref() == Some(run.as_str())),
            "{what}: the run is named"
        );
    }
}

#[tokio::test]
async fn a_finding_moved_to_another_run_is_v6_in_both() {
    let env = ledgered(2).await;
    let runs = run_ids(&env).await;
    sql(&env, &format!("UPDATE ledger_entries SET run_id = '{}', seq = 3 WHERE run_id = '{}' AND tree = 'findings' AND seq = 2", runs[1], runs[0])).await;
    let report = check(&env).await;
    for run in &runs {
        assert!(
            report
                .failures
                .iter()
                .any(|f| f.check == "V6" && f.run.as_deref() == Some(run.as_str())),
            "{run}: {:?}",
            report.failures
        );
    }
}

#[tokio::test]
async fn dropping_the_newest_run_is_v4_and_with_its_checkpoint_v8_for_the_auditor() {
    let env = ledgered(3).await;
    let kept = latest_note(&env).await;
    sql(&env, "DELETE FROM ledger_runs WHERE idx = 2").await;
    let report = check(&env).await;
    assert_detected(&report, "V4", "newest run dropped, checkpoint kept");
    assert!(!report.completeness_ok());

    // Drop the checkpoint too: the run left in the typed tables is no sealed run.
    sql(&env, "DELETE FROM ledger_checkpoints WHERE size = 3").await;
    let report = check(&env).await;
    assert_detected(&report, "V5", "a typed run without its run record");

    // Drop every trace of the run: the database is consistent with itself, and only the
    // checkpoint the auditor kept shows the truncation.
    let newest = run_ids(&env).await.len();
    assert_eq!(newest, 2);
    for table in ["ledger_entries", "findings", "run_inputs"] {
        sql(
            &env,
            &format!("DELETE FROM {table} WHERE run_id IN (SELECT run_id FROM runs WHERE seq = 3)"),
        )
        .await;
    }
    sql(&env, "DELETE FROM runs WHERE seq = 3").await;
    assert!(check(&env).await.ok(), "{:?}", check(&env).await.failures);
    assert!(
        check(&env).await.compared.is_empty(),
        "nothing from outside was compared"
    );
    let report = check_with(&env, vec![("kept.note".into(), kept.clone())]).await;
    assert_detected(&report, "V8", "truncated log");
    let message = &report
        .failures
        .iter()
        .find(|f| f.check == "V8")
        .unwrap()
        .message;
    assert!(
        message.contains(&kept),
        "both signed checkpoints are printed as evidence"
    );
}

#[tokio::test]
async fn a_rewritten_history_or_a_split_view_is_v8() {
    let original = ledgered(2).await;
    let held_1 = String::from_utf8(
        original.store.ledger_checkpoints().await.unwrap()[0]
            .1
            .clone(),
    )
    .unwrap();
    let held_2 = latest_note(&original).await;

    // The insider rebuilds a whole ledger with the real key and different data.
    let rewritten = TestEnv::new().await;
    let key = original.ledger.key_path.clone();
    let (ledger, created) = Ledger::open_or_create(
        ledger_settings(rewritten.dir.path()),
        ORIGIN.to_string(),
        key,
        0,
    )
    .unwrap();
    assert!(created.is_none());
    let rewritten = TestEnv {
        ledger,
        ..rewritten
    };
    rewritten.write_json("p.json", &page(vec![answered_call("a")]));
    rewritten.import().await;
    rewritten
        .audit_with(&Policy::default(), "2026-07-15T12:00:00Z")
        .await;
    rewritten
        .audit_with(&Policy::default(), "2026-07-16T12:00:00Z")
        .await;
    assert!(
        check(&rewritten).await.ok(),
        "self-consistent and validly signed"
    );

    let report = check_with(&rewritten, vec![("held-1.note".into(), held_1)]).await;
    assert_detected(&report, "V8", "rewritten history");
    // Two different checkpoints of the same size: a split view.
    let report = check_with(&rewritten, vec![("held-2.note".into(), held_2.clone())]).await;
    assert_detected(&report, "V8", "split view");
    // The genuine ledger accepts the checkpoint it issued.
    assert!(
        check_with(&original, vec![("held-2.note".into(), held_2)])
            .await
            .ok()
    );
}

#[tokio::test]
async fn a_deleted_or_reordered_middle_run_is_v5() {
    let env = ledgered(3).await;
    sql(&env, "DELETE FROM ledger_runs WHERE idx = 1").await;
    let report = check(&env).await;
    assert_detected(&report, "V5", "deleted middle run");

    let env = ledgered(3).await;
    sql(&env, "UPDATE ledger_runs SET idx = 99 WHERE idx = 0").await;
    sql(&env, "UPDATE ledger_runs SET idx = 0 WHERE idx = 1").await;
    sql(&env, "UPDATE ledger_runs SET idx = 1 WHERE idx = 99").await;
    let report = check(&env).await;
    assert_detected(&report, "V5", "reordered runs");
}

#[tokio::test]
async fn a_wrong_count_or_root_in_a_run_record_is_v6() {
    let env = ledgered(2).await;
    sql(&env, "UPDATE ledger_runs SET record = CAST(replace(CAST(record AS TEXT), 'findings 3', 'findings 2') AS BLOB) WHERE idx = 0").await;
    let report = check(&env).await;
    assert_detected(&report, "V6", "wrong count");
    // The run record's own hash changed, so the log no longer matches its checkpoints either.
    assert_detected(&report, "V4", "wrong count");

    let env = ledgered(1).await;
    let runs = env.store.ledger_runs().await.unwrap();
    let parsed = record::parse(&RUN, &runs[0].record).unwrap();
    let root = parsed.get(&RUN, "findings-root");
    sql(&env, &format!("UPDATE ledger_runs SET record = CAST(replace(CAST(record AS TEXT), '{root}', '{}') AS BLOB) WHERE idx = 0", "0".repeat(64))).await;
    assert_detected(&check(&env).await, "V6", "wrong root");
}

#[tokio::test]
async fn mangled_checkpoints_are_v1_or_v2() {
    let env = ledgered(2).await;
    let note = latest_note(&env).await;
    let (body, _) = note.split_once("\n\n").unwrap();
    let root_b64 = body.lines().nth(2).unwrap();
    let mut flipped = root_b64.as_bytes().to_vec();
    flipped[5] = if flipped[5] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let impostor = NoteSigner::generate(ORIGIN).unwrap();
    let checkpoint = Checkpoint::parse_body(&format!("{body}\n")).unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        ("size digit", note.replacen("\n2\n", "\n3\n", 1), "V2"),
        (
            "one base64 character",
            note.replacen(root_b64, &flipped, 1),
            "V2",
        ),
        ("CRLF", note.replace('\n', "\r\n"), "V1"),
        (
            "missing final LF",
            note.trim_end_matches('\n').to_string(),
            "V1",
        ),
        ("extra line", note.replacen("\n\n", "\nextra\n\n", 1), "V1"),
        ("ASCII hyphen", note.replace('\u{2014}', "-"), "V1"),
        ("another key, same name", impostor.sign(&checkpoint), "V2"),
        (
            "key id mismatch",
            {
                let line = note.lines().last().unwrap();
                let sig = line.rsplit(' ').next().unwrap();
                let mut blob = base64_decode(sig);
                blob[0] ^= 1;
                note.replace(sig, &base64_encode(&blob))
            },
            "V2",
        ),
    ];
    for (what, mangled, expected) in cases {
        tamper_bound(
            &env.store,
            "UPDATE ledger_checkpoints SET note = $1 WHERE size = 2",
            Some(mangled.as_bytes()),
        )
        .await;
        let report = check(&env).await;
        assert!(
            report.has(expected),
            "{what}: expected {expected}, got {:?}",
            report.failures
        );
    }
    tamper_bound(
        &env.store,
        "UPDATE ledger_checkpoints SET note = $1 WHERE size = 2",
        Some(note.as_bytes()),
    )
    .await;
    assert!(check(&env).await.ok(), "the original note verifies again");
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn a_failure_before_the_checkpoint_is_signed_leaves_nothing() {
    let env = ledgered(1).await;
    let counts_before = env.store.counts().await.unwrap();
    // Occupy the next checkpoint's slot: the run's last insert fails, after its findings,
    // ledger records and run record were written in the same transaction.
    sql(
        &env,
        "INSERT INTO ledger_checkpoints (size, note) VALUES (2, CAST('blocker' AS BLOB))",
    )
    .await;
    let window = window(
        "2026-07-14T00:00:00Z",
        "2026-07-15T00:00:00Z",
        "2026-07-17T00:00:00Z",
    );
    let failed = recaudit::pipeline::run_audit(
        &env.store,
        &Policy::default(),
        &env.ledger,
        window,
        &env.reports(),
    )
    .await;
    assert!(failed.is_err());
    assert_eq!(
        env.store.counts().await.unwrap(),
        counts_before,
        "nothing of the run was kept"
    );
    let entries: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ledger_entries")
        .fetch_one(env.store.pool())
        .await
        .unwrap();
    assert_eq!(entries, 6);
    sql(&env, "DELETE FROM ledger_checkpoints WHERE size = 2").await;
    assert!(check(&env).await.ok());
    env.audit_with(&Policy::default(), "2026-07-17T00:00:00Z")
        .await;
    assert!(check(&env).await.ok());
}

#[tokio::test]
async fn bit_flips_inside_ledger_records_in_the_database_file_are_detected() {
    if on_postgres() {
        // A database file's bytes are SQLite's; the server's pages are not ours to flip.
        return;
    }
    for seed in 0..8u64 {
        let env = ledgered(2).await;
        let path = env.store.path().unwrap().clone();
        env.store.pool().close().await;
        let wal = path.with_extension("db-wal");
        assert!(
            !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
            "closing the pool checkpoints the WAL"
        );
        let mut bytes = std::fs::read(&path).unwrap();
        let marker = if seed % 2 == 0 {
            b"recaudit-finding v1\n".as_slice()
        } else {
            b"recaudit-run v1\n".as_slice()
        };
        let starts: Vec<usize> = bytes
            .windows(marker.len())
            .enumerate()
            .filter(|(_, w)| *w == marker)
            .map(|(i, _)| i)
            .collect();
        assert!(!starts.is_empty());
        // SQLite can leave stale copies of a record in unallocated page space; flip the same bit
        // in every copy of the chosen record, so the live one is certainly hit.
        let start = starts[(seed as usize) % starts.len()];
        let pattern = bytes[start..start + 60].to_vec();
        let copies: Vec<usize> = bytes
            .windows(pattern.len())
            .enumerate()
            .filter(|(_, w)| *w == pattern.as_slice())
            .map(|(i, _)| i)
            .collect();
        let offset = marker.len() + (seed as usize * 7) % 40;
        for copy in copies {
            bytes[copy + offset] ^= 1 << (seed % 7);
        }
        std::fs::write(&path, &bytes).unwrap();

        let store = recaudit::store::Store::open(&TestEnv::url_in(env.dir.path()))
            .await
            .unwrap();
        let options = VerifyOptions {
            origin: ORIGIN.to_string(),
            verifier: env.ledger.signer.verifier(),
            presented: vec![],
            tsa_ca: None,
            anchor_dir: None,
            since: None,
        };
        match verify::verify(&store, &options).await {
            Ok(report) => assert!(!report.ok(), "seed {seed}: a flipped bit went unnoticed"),
            Err(e) => eprintln!("seed {seed}: the database itself reports the damage: {e}"),
        }
    }
}

#[tokio::test]
async fn empty_runs_and_trees_of_every_shape_verify_and_prove() {
    let env = TestEnv::new().await;
    // One day per tree size: 1, 2, 2^k-1, 2^k, 2^k+1.
    let sizes = [1usize, 2, 3, 4, 5, 7, 8, 9, 16, 17];
    let mut lines = String::new();
    for (day, size) in sizes.iter().enumerate() {
        for i in 0..*size {
            let call = json!({"conversationId": format!("d{day:02}-{i:02}"), "conversationStart": format!("2026-08-{:02}T10:00:00.000Z", day + 1), "conversationEnd": format!("2026-08-{:02}T10:05:00.000Z", day + 1)});
            lines.push_str(&serde_json::to_string(&call).unwrap());
            lines.push('\n');
        }
    }
    env.write_raw("many.ndjson", lines.as_bytes());
    env.import().await;
    // An empty window first.
    let empty = window(
        "2026-09-01T00:00:00Z",
        "2026-09-02T00:00:00Z",
        "2026-09-05T00:00:00Z",
    );
    // No pull attests the empty day, so only a run sealed partial on request can be empty.
    let prepared = recaudit::pipeline::prepare_audit(&env.store, &Policy::default(), empty, true)
        .await
        .unwrap();
    assert!(prepared.coverage.partial);
    let outcome = recaudit::pipeline::seal_audit(
        &env.store,
        &Policy::default(),
        &env.ledger,
        prepared,
        &env.reports(),
    )
    .await
    .unwrap();
    let run = record::parse(&RUN, &outcome.ledger.run_record).unwrap();
    assert_eq!(run.get(&RUN, "findings"), "0");
    assert_eq!(
        run.get(&RUN, "findings-root"),
        hex::encode(merkle::empty_root())
    );
    for (day, size) in sizes.iter().enumerate() {
        let window = recaudit::pipeline::AuditWindow {
            from: ts(&format!("2026-08-{:02}T00:00:00Z", day + 1)),
            to: ts(&format!("2026-08-{:02}T00:00:00Z", day + 2)),
            as_of: ts("2026-09-05T00:00:00Z"),
        };
        let outcome = recaudit::pipeline::run_audit(
            &env.store,
            &Policy::default(),
            &env.ledger,
            window,
            &env.reports(),
        )
        .await
        .unwrap();
        assert_eq!(outcome.ledger.findings, *size as u64);
    }
    let report = check(&env).await;
    assert!(report.ok(), "{:?}", report.failures);
    assert_eq!(report.size, sizes.len() as u64 + 1);

    // A proof for every interaction of every run verifies from its own bytes.
    for (day, size) in sizes.iter().enumerate() {
        for i in 0..*size {
            let id = format!("d{day:02}-{i:02}");
            let proof = recaudit::ledger::export::prove(&env.store, &id, None)
                .await
                .unwrap();
            let finding_leaf = merkle::leaf_hash(proof.finding.as_bytes());
            let path: Vec<merkle::Hash> = proof
                .finding_path
                .iter()
                .map(|h| hex::decode(h).unwrap().try_into().unwrap())
                .collect();
            let run = record::parse(&RUN, proof.run.as_bytes()).unwrap();
            let findings_root: merkle::Hash = hex::decode(run.get(&RUN, "findings-root"))
                .unwrap()
                .try_into()
                .unwrap();
            assert!(
                merkle::verify_inclusion(
                    proof.finding_index,
                    proof.findings_size,
                    &finding_leaf,
                    &path,
                    &findings_root
                ),
                "{id}"
            );
            let run_path: Vec<merkle::Hash> = proof
                .run_path
                .iter()
                .map(|h| hex::decode(h).unwrap().try_into().unwrap())
                .collect();
            let checkpoint = env
                .ledger
                .signer
                .verifier()
                .verify_checkpoint(&proof.checkpoint, ORIGIN)
                .unwrap();
            assert!(
                merkle::verify_inclusion(
                    proof.run_index,
                    proof.tree_size,
                    &merkle::leaf_hash(proof.run.as_bytes()),
                    &run_path,
                    &checkpoint.root
                ),
                "{id}"
            );
        }
    }
}

#[test]
fn no_statement_updates_or_deletes_ledger_runs_or_findings() {
    let mut sources = Vec::new();
    let mut stack = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    stack.push(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations"));
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs" || e == "sql") {
                sources.push((
                    path.clone(),
                    std::fs::read_to_string(&path).unwrap().to_uppercase(),
                ));
            }
        }
    }
    assert!(sources.len() > 10);
    let protected = [
        "LEDGER_ENTRIES",
        "LEDGER_RUNS",
        "LEDGER_CHECKPOINTS",
        "LEDGER_ANCHORS",
        "FINDINGS",
        "RUNS",
        "RUN_INPUTS",
    ];
    for (path, text) in &sources {
        for table in protected {
            for verb in [
                "UPDATE ",
                "DELETE FROM ",
                "REPLACE INTO ",
                "INSERT OR REPLACE INTO ",
            ] {
                let needle = format!("{verb}{table}");
                let hit = text.match_indices(&needle).any(|(at, _)| {
                    // The table name must end there (FINDINGS is a prefix of nothing else we use).
                    text[at + needle.len()..]
                        .chars()
                        .next()
                        .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '_')
                });
                assert!(!hit, "{} contains `{needle}`", path.display());
            }
        }
    }
}

#[tokio::test]
async fn a_missing_intermediate_checkpoint_is_v10() {
    let env = ledgered(3).await;
    sql(&env, "DELETE FROM ledger_checkpoints WHERE size = 2").await;
    let report = check(&env).await;
    assert_detected(&report, "V10", "missing checkpoint");
}

#[tokio::test]
async fn an_audit_refuses_to_extend_a_damaged_ledger() {
    let env = ledgered(2).await;
    sql(&env, "UPDATE ledger_runs SET record = CAST(replace(CAST(record AS TEXT), 'findings 3', 'findings 4') AS BLOB) WHERE idx = 1").await;
    let window = window(
        "2026-07-14T00:00:00Z",
        "2026-07-15T00:00:00Z",
        "2026-07-18T00:00:00Z",
    );
    let refused = recaudit::pipeline::run_audit(
        &env.store,
        &Policy::default(),
        &env.ledger,
        window,
        &env.reports(),
    )
    .await;
    let message = refused.unwrap_err().to_string();
    assert!(
        message.contains("cannot be appended") && message.contains("ledger verify"),
        "{message}"
    );
    assert_eq!(
        env.store.ledger_size().await.unwrap(),
        2,
        "nothing was appended"
    );
}

#[tokio::test]
async fn an_unreadable_typed_row_is_a_lint_not_an_abort() {
    let env = ledgered(1).await;
    sql(
        &env,
        "UPDATE findings SET reasons = 'oops' WHERE conversation_id = 'b'",
    )
    .await;
    let report = check(&env).await;
    assert!(report.ok(), "{:?}", report.failures);
    assert!(!report.lints.is_empty());
}

#[tokio::test]
async fn a_missing_key_for_an_existing_ledger_is_not_replaced() {
    let env = ledgered(1).await;
    let missing = env.dir.path().join("elsewhere.key");
    let refused = Ledger::open_or_create(
        LedgerSettings::default(),
        ORIGIN.to_string(),
        missing.clone(),
        env.store.ledger_size().await.unwrap(),
    );
    let message = refused.err().expect("refused").to_string();
    assert!(
        message.contains("not found") && message.contains("--ledger-key"),
        "{message}"
    );
    assert!(!missing.exists());
}

#[tokio::test]
async fn since_a_verified_checkpoint_only_the_runs_after_it_are_re_read() {
    let env = ledgered(3).await;
    let full = check(&env).await;
    assert!(full.ok(), "{:?}", full.failures);
    assert_eq!(full.trusted, None);
    let held = note_of_size(&env, 2).await;
    let report = check_since(&env, "held-2.note", &held).await;
    assert!(report.ok(), "{:?}", report.failures);
    assert_eq!(report.trusted, Some(("held-2.note".to_string(), 2)));
    assert_eq!(report.size, 3, "every run record is still chained");
    // Each run sealed the same night of 3 conversations: only the third run's were read.
    assert_eq!(full.findings, 9);
    assert_eq!(report.findings, 3);
    assert_eq!(report.inputs * 3, full.inputs);
    assert!(
        report.compared.contains(&("held-2.note".to_string(), 2)),
        "the held checkpoint proves completeness up to it: {:?}",
        report.compared
    );

    // A finding changed after the checkpoint is found; one changed before it is not looked
    // for (that is what trusting the checkpoint means), and the full check finds it.
    let runs = run_ids(&env).await;
    let change = |run: &str| {
        format!(
            "UPDATE ledger_entries SET record = CAST(replace(CAST(record AS TEXT), 'status complete', 'status excluded') AS BLOB) WHERE run_id = '{run}' AND tree = 'findings' AND seq = 0"
        )
    };
    sql(&env, &change(&runs[0])).await;
    assert!(check_since(&env, "held-2.note", &held).await.ok());
    assert_detected(
        &check(&env).await,
        "V6",
        "a changed trusted finding, fully checked",
    );
    sql(&env, &change(&runs[2])).await;
    let report = check_since(&env, "held-2.note", &held).await;
    assert_detected(&report, "V6", "a changed finding after the checkpoint");
    assert!(
        report
            .failures
            .iter()
            .all(|f| f.run.as_deref() == Some(runs[2].as_str()))
    );
}

#[tokio::test]
async fn a_since_checkpoint_that_does_not_match_the_log_trusts_nothing() {
    let env = ledgered(3).await;
    let held = note_of_size(&env, 2).await;
    let body = held.split_once("\n\n").unwrap().0;
    let genuine = Checkpoint::parse_body(&format!("{body}\n")).unwrap();
    let runs = run_ids(&env).await;
    sql(&env, &format!("UPDATE ledger_entries SET record = CAST(replace(CAST(record AS TEXT), 'status complete', 'status excluded') AS BLOB) WHERE run_id = '{}' AND tree = 'findings' AND seq = 0", runs[0])).await;

    // Signed by the ledger's key over another root (history rewritten before it was kept):
    // nothing is trusted, V8 names the mismatch and the full check finds the change.
    let other_root = env.ledger.signer.sign(&Checkpoint {
        root: [7u8; 32],
        ..genuine.clone()
    });
    let report = check_since(&env, "other.note", &other_root).await;
    assert_eq!(report.trusted, None);
    assert_detected(&report, "V8", "a --since checkpoint of another history");
    assert_detected(&report, "V6", "every run re-read");
    assert_eq!(report.findings, 9);

    // Signed by another key: V2, and again nothing trusted.
    let impostor = NoteSigner::generate(ORIGIN).unwrap().sign(&genuine);
    let report = check_since(&env, "impostor.note", &impostor).await;
    assert_eq!(report.trusted, None);
    assert_detected(&report, "V2", "a --since checkpoint by another key");
    assert_detected(&report, "V6", "every run re-read");

    // Larger than the log: V8 (truncated), nothing trusted.
    let beyond = env.ledger.signer.sign(&Checkpoint { size: 4, ..genuine });
    let report = check_since(&env, "beyond.note", &beyond).await;
    assert_eq!(report.trusted, None);
    assert_detected(&report, "V8", "a --since checkpoint beyond the log");
}

#[tokio::test]
async fn typed_findings_of_runs_that_do_not_exist_are_v6_wherever_they_sort() {
    let env = ledgered(2).await;
    let real = run_ids(&env).await;
    // Run ids sorting before the real ones, right after the first, and after all, so that the walk over the
    // findings' run ids meets each.
    let mut ghosts = vec![
        "0-ghost".to_string(),
        format!("{}~", real[0]),
        "~ghost".to_string(),
    ];
    ghosts.sort();
    let statements: Vec<String> = ghosts
        .iter()
        .map(|ghost| format!("INSERT INTO findings (run_id, conversation_id, status, reasons, recordings, media_sha256, started, ended, direction, media, queues, users, detail) SELECT '{ghost}', conversation_id, status, reasons, recordings, media_sha256, started, ended, direction, media, queues, users, detail FROM findings WHERE run_id = '{}'", real[0]))
        .collect();
    if on_postgres() {
        // The foreign key to runs is a system trigger there: the cluster's superuser, in
        // replica mode, lets the rows in.
        use sqlx::Connection;
        let url = TestEnv::url_in(env.dir.path());
        let (scheme, rest) = url.split_once("//").unwrap();
        let (_, host_and_database) = rest.split_once('@').unwrap();
        let mut admin =
            sqlx::PgConnection::connect(&format!("{scheme}//postgres@{host_and_database}"))
                .await
                .unwrap();
        sqlx::query("SET session_replication_role = replica")
            .execute(&mut admin)
            .await
            .unwrap();
        for statement in &statements {
            sqlx::query(sqlx::AssertSqlSafe(statement.clone()))
                .execute(&mut admin)
                .await
                .unwrap();
        }
    } else {
        // SQLite enforces the foreign key per connection: one without it writes the rows.
        use sqlx::ConnectOptions;
        let url = TestEnv::url_in(env.dir.path());
        let mut conn = url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .unwrap()
            .foreign_keys(false)
            .connect()
            .await
            .unwrap();
        for statement in &statements {
            sqlx::query(sqlx::AssertSqlSafe(statement.clone()))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
    let report = check(&env).await;
    let orphaned: Vec<String> = report
        .failures
        .iter()
        .filter(|f| f.check == "V6" && f.message.contains("a run that does not exist"))
        .filter_map(|f| f.run.clone())
        .collect();
    assert_eq!(orphaned, ghosts, "{:?}", report.failures);
}
