//! The probes of issue 9 ("Trust under faults and bad input") against the real binary: a run
//! forged in the typed tables, the newest run deleted with and without a checkpoint outside the
//! database, concurrent commands on one database, kills at several points.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::*;
use serde_json::json;

/// A folder with the example night imported and audited `audits` times, as the README does.
struct Night {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Night {
    /// `ledger_settings`: lines added to the examples' `[ledger]` table.
    fn new(audits: usize, ledger_settings: &str) -> Night {
        let dir = tempfile::tempdir().unwrap();
        let policy = std::fs::read_to_string(repo("examples/recaudit.toml")).unwrap();
        let config = dir.path().join("recaudit.toml");
        std::fs::write(
            &config,
            policy.replace("[ledger]\n", &format!("[ledger]\n{ledger_settings}")),
        )
        .unwrap();
        let night = Night { dir, config };
        let import = night.run(&["import", repo("examples/night").to_str().unwrap()]);
        assert_eq!(import.status.code(), Some(0), "{}", text(&import.stderr));
        for _ in 0..audits {
            let audit = night.audit();
            assert_eq!(audit.status.code(), Some(1), "{}", text(&audit.stderr));
        }
        night
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn db(&self) -> PathBuf {
        self.path().join("night.db")
    }

    fn run(&self, args: &[&str]) -> Output {
        binary(self.path())
            .arg("--db")
            .arg(self.db())
            .arg("--config")
            .arg(&self.config)
            .arg("--reports-dir")
            .arg(self.path().join("reports"))
            .args(args)
            .output()
            .expect("run recaudit")
    }

    fn audit(&self) -> Output {
        self.run(&EXAMPLE_AUDIT)
    }

    async fn sql(&self, statement: &str) {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", self.db().display()))
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
        pool.close().await;
    }

    async fn scalar(&self, query: &str) -> i64 {
        scalar(&self.db(), query).await
    }

    /// Deletes every trace of the newest run: typed rows, ledger records and its checkpoint,
    /// so that the database is consistent with itself.
    async fn delete_newest_run(&self) {
        let newest = "(SELECT run_id FROM runs ORDER BY seq DESC LIMIT 1)";
        for table in ["ledger_entries", "findings", "run_inputs", "ledger_runs"] {
            self.sql(&format!("DELETE FROM {table} WHERE run_id = {newest}"))
                .await;
        }
        self.sql("DELETE FROM ledger_checkpoints WHERE size = (SELECT MAX(size) FROM ledger_checkpoints)").await;
        self.sql(
            "DELETE FROM ledger_anchors WHERE size NOT IN (SELECT size FROM ledger_checkpoints)",
        )
        .await;
        self.sql(&format!("DELETE FROM runs WHERE run_id = {newest}"))
            .await;
    }
}

#[tokio::test]
async fn a_run_forged_in_the_typed_tables_is_not_a_run() {
    let night = Night::new(1, "");
    // The forger copies the real run under a new id, with the manifest hash `report` prints.
    night.sql("INSERT INTO runs SELECT 'forged-run', seq + 1, window_start, window_end, as_of, completed, rule_set, policy, software, manifest_sha256, coverage, report_set, report_context FROM runs").await;
    night.sql("INSERT INTO findings (run_id, conversation_id, status, reasons, recordings, media_sha256, started, ended, direction, media, queues, users, detail) SELECT 'forged-run', conversation_id, 'complete', '[]', recordings, media_sha256, started, ended, direction, media, queues, users, detail FROM findings").await;

    let report = night.run(&["report", "--run", "forged-run"]);
    assert_eq!(report.status.code(), Some(2));
    assert!(
        text(&report.stderr).contains("run forged-run is not sealed in the ledger"),
        "{}",
        text(&report.stderr)
    );
    assert!(!night.path().join("reports/forged-run").exists());

    let runs = night.run(&["runs"]);
    assert_eq!(runs.status.code(), Some(1));
    assert!(!text(&runs.stdout).contains("forged-run"), "not listed");
    assert_eq!(text(&runs.stdout).lines().count(), 1, "the real run is");
    assert!(text(&runs.stderr).contains("run forged-run is in the runs table but not sealed"));

    let verify = night.run(&["ledger", "verify"]);
    assert_eq!(verify.status.code(), Some(1));
    let out = text(&verify.stdout);
    assert!(out.contains("FAIL V5 run forged-run:"), "{out}");
    assert!(out.contains("integrity: FAILED"), "{out}");
}

#[tokio::test]
async fn an_edited_run_row_is_not_shown_either() {
    let night = Night::new(1, "");
    night
        .sql("UPDATE runs SET window_end = '2026-07-14T12:00:00.000Z'")
        .await;
    let run = text(&night.run(&["ledger", "show"]).stdout)
        .lines()
        .find_map(|l| {
            l.split_whitespace()
                .nth(1)
                .filter(|t| t.contains('-'))
                .map(str::to_string)
        })
        .expect("a run in ledger show");
    let report = night.run(&["report", "--run", &run]);
    assert_eq!(report.status.code(), Some(2));
    assert!(
        text(&report.stderr).contains("window-end is `2026-07-14T12:00:00.000Z` in the runs table"),
        "{}",
        text(&report.stderr)
    );
    let verify = night.run(&["ledger", "verify"]);
    assert!(text(&verify.stdout).contains(&format!("FAIL V5 run {run}: the runs table disagrees")));
}

#[tokio::test]
async fn the_deleted_newest_run_is_caught_by_the_default_anchor_directory() {
    let night = Night::new(2, "");
    let anchors = night.path().join("night.checkpoints");
    assert!(anchors.join("1.note").is_file() && anchors.join("2.note").is_file());
    let before = text(&night.run(&["ledger", "verify"]).stdout);
    assert!(
        before
            .contains("completeness: OK (the head matches a checkpoint kept outside the database"),
        "{before}"
    );

    night.delete_newest_run().await;
    let verify = night.run(&["ledger", "verify"]);
    assert_eq!(verify.status.code(), Some(1));
    let out = text(&verify.stdout);
    assert!(out.contains("FAIL V8"), "{out}");
    assert!(
        out.contains("has size 2 but the log has only 1 runs: the log was truncated"),
        "{out}"
    );
    assert!(out.contains("completeness: FAILED"), "{out}");

    // The next audit does not paper over the gap with a fresh checkpoint of the same size.
    let audit = night.audit();
    assert_eq!(audit.status.code(), Some(2));
    assert!(
        text(&audit.stderr).contains("but the database's log has only 1 runs: runs were deleted"),
        "{}",
        text(&audit.stderr)
    );
    assert_eq!(night.scalar("SELECT COUNT(*) FROM ledger_runs").await, 1);
    assert_eq!(night.scalar("SELECT COUNT(*) FROM runs").await, 1);
}

#[tokio::test]
async fn verify_since_a_kept_checkpoint_rereads_only_the_runs_after_it() {
    let night = Night::new(3, "");
    let kept = night.path().join("night.checkpoints/2.note");
    let verify = night.run(&["ledger", "verify", "--since", kept.to_str().unwrap()]);
    let out = text(&verify.stdout);
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{out}{}",
        text(&verify.stderr)
    );
    assert!(out.contains("checked after run 2, root"), "{out}");
    assert!(
        out.contains("trusted: runs 1 to 2, by the checkpoint"),
        "{out}"
    );
    assert!(out.contains("integrity: OK"), "{out}");

    let missing = night.path().join("night.checkpoints/9.note");
    let verify = night.run(&["ledger", "verify", "--since", missing.to_str().unwrap()]);
    assert_eq!(verify.status.code(), Some(2));
    assert!(
        text(&verify.stderr).contains("cannot read checkpoint"),
        "{}",
        text(&verify.stderr)
    );
}

#[tokio::test]
async fn without_an_outside_checkpoint_verify_does_not_claim_completeness() {
    let night = Night::new(2, "anchor_dir = false\n");
    assert!(!night.path().join("night.checkpoints").exists());
    night.delete_newest_run().await;
    let verify = night.run(&["ledger", "verify"]);
    assert_eq!(
        verify.status.code(),
        Some(0),
        "nothing inside the database is wrong"
    );
    let out = text(&verify.stdout);
    assert!(out.contains("integrity: OK"), "{out}");
    assert!(
        out.contains(
            "completeness: NOT PROVEN: no checkpoint from outside the database was compared"
        ),
        "{out}"
    );
    // A checkpoint the auditor kept still catches it.
    assert!(!out.contains("completeness: OK"), "{out}");
}

#[test]
fn an_audit_without_evidence_seals_nothing_and_creates_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let missing = binary(dir.path())
        .args(["--db", "nothing.db"])
        .args(EXAMPLE_AUDIT)
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("no database at nothing.db"));
    assert!(!dir.path().join("nothing.db").exists());

    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let import = binary(dir.path())
        .args(["--db", "night.db", "import", "empty"])
        .output()
        .unwrap();
    assert_eq!(import.status.code(), Some(0), "{}", text(&import.stderr));
    let audit = binary(dir.path())
        .args(["--db", "night.db"])
        .args(EXAMPLE_AUDIT)
        .output()
        .unwrap();
    assert_eq!(audit.status.code(), Some(3), "{}", text(&audit.stderr));
    assert!(
        text(&audit.stderr).contains("no conversation details cover the window"),
        "{}",
        text(&audit.stderr)
    );
    assert!(
        !dir.path().join("night.ledger.key").exists(),
        "no key for a run never sealed"
    );
    assert!(!dir.path().join("night.checkpoints").exists());
    let runs = binary(dir.path())
        .args(["--db", "night.db", "runs"])
        .output()
        .unwrap();
    assert!(text(&runs.stdout).starts_with("No runs yet"));
}

/// A simulated org of `conversations` on [`DAY`] (no rate limit to wait for, then `faults`),
/// and a pull configuration for it.
async fn simulated(
    seed: u64,
    conversations: usize,
    faults: recaudit::simulator::Faults,
) -> (
    recaudit::simulator::SimServer,
    recaudit::source::genesys::PullConfig,
) {
    use recaudit::simulator::{Mix, Org, SimClient, SimServer};
    use recaudit::source::genesys::{Credentials, PullConfig};
    let client = SimClient::default();
    let server = SimServer::start(
        Org::generate(
            seed,
            conversations,
            ts(&format!("{DAY}T00:00:00Z")),
            &Mix::default(),
        ),
        recaudit::simulator::Faults {
            rate_limit_per_minute: 100_000,
            ..faults
        },
        client.clone(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let config = PullConfig::new(
        server.base_url(),
        server.base_url(),
        Credentials::new(client.id, client.secret),
    );
    (server, config)
}

/// Prepares the audit of [`DAY`], as of four days later, with the default policy.
async fn prepare_day(
    env: &TestEnv,
    allow_partial: bool,
) -> recaudit::error::Result<recaudit::pipeline::PreparedAudit> {
    let day = window(
        &format!("{DAY}T00:00:00Z"),
        "2026-07-15T00:00:00Z",
        "2026-07-20T00:00:00Z",
    );
    recaudit::pipeline::prepare_audit(
        &env.store,
        &recaudit::audit::Policy::default(),
        day,
        allow_partial,
    )
    .await
}

/// The probe: after `pull --max-requests 4` stopped early, the audit sealed recording-missing
/// exceptions for recordings whose metadata was never fetched.
#[tokio::test]
async fn a_stopped_pull_is_refused_and_sealed_only_as_a_partial_run() {
    use recaudit::audit::Policy;
    use recaudit::pipeline;
    use recaudit::simulator::Faults;
    use recaudit::source::genesys;

    let env = TestEnv::new().await;
    let (_server, mut config) = simulated(5, 60, Faults::default()).await;
    config.max_requests = Some(12);
    let stopped = genesys::pull(
        &env.store,
        config,
        ts(&format!("{DAY}T00:00:00Z")),
        ts("2026-07-15T00:00:00Z"),
    )
    .await;
    assert!(stopped.is_err(), "the budget stops the pull");
    let conversations = env
        .store
        .window_ids(ts(&format!("{DAY}T00:00:00Z")), ts("2026-07-15T00:00:00Z"))
        .await
        .unwrap();
    assert!(
        !conversations.is_empty(),
        "some details were stored before it stopped"
    );

    let refused = prepare_day(&env, false).await.unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("has not finished, so conversations or recordings may be missing"),
        "{refused}"
    );
    assert!(env.store.ledger_runs().await.unwrap().is_empty());

    let prepared = prepare_day(&env, true).await.unwrap();
    let outcome = pipeline::seal_audit(
        &env.store,
        &Policy::default(),
        &env.ledger,
        prepared,
        &env.reports(),
    )
    .await
    .unwrap();
    assert!(outcome.partial);
    let summary = std::fs::read_to_string(outcome.report_dir.join("summary.md")).unwrap();
    assert!(
        summary.contains("**PARTIAL RUN: the evidence does not cover the window"),
        "{summary}"
    );
    assert!(summary.contains("## Evidence coverage"), "{summary}");
    let findings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(outcome.report_dir.join("findings.json")).unwrap())
            .unwrap();
    assert_eq!(findings["coverage"]["partial"], true);
    assert_eq!(
        findings["coverage"]["conversations"].as_u64(),
        Some(conversations.len() as u64)
    );
    // The partial statement is part of what the run record commits to: regenerating the
    // reports reproduces it byte for byte.
    let again = tempfile::tempdir().unwrap();
    let dir = pipeline::regenerate_reports(&env.store, &outcome.run.run_id, again.path())
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(dir.join("summary.md")).unwrap(),
        summary.as_bytes()
    );
}

/// An audit reads one snapshot: what an import commits while it reads is not seen by it.
#[tokio::test]
async fn evidence_committed_during_an_audit_is_not_mixed_into_it() {
    const CALL: &str = "5b0c7a9e-8d6f-4e3a-b2c1-0f9e8d7c6b5a";
    const RECORDING: &str = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b";
    let env = TestEnv::new().await;
    env.write_json("details.json", &page(vec![answered_call(CALL)]));
    env.import().await;
    let (from, to) = (ts(&format!("{DAY}T00:00:00Z")), ts("2026-07-15T00:00:00Z"));

    let mut snapshot = env.store.snapshot().await.unwrap();
    let ids = snapshot.window_ids(from, to).await.unwrap();
    // The recording arrives while the audit is between its reads.
    env.export_recording(CALL, 10, RECORDING, sidecar(CALL, RECORDING), Some(AUDIO));
    let imported = env.import().await;
    assert!(imported.imported > 0);
    let seen = snapshot.load_evidence_for(&ids).await.unwrap();
    assert!(
        seen.evidence[0].recordings.is_empty(),
        "the snapshot predates the import"
    );
    drop(snapshot);

    let mut later = env.store.snapshot().await.unwrap();
    let ids = later.window_ids(from, to).await.unwrap();
    let seen = later.load_evidence_for(&ids).await.unwrap();
    assert_eq!(
        seen.evidence[0].recordings.len(),
        1,
        "a later audit sees it"
    );
}

/// Two commands on a fresh database at once: before, one failed with "table raw_inputs already
/// exists" (migrations) or "File exists" (the ledger key).
#[test]
fn first_uses_at_once_share_one_migration_and_one_key() {
    for attempt in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..4 {
            std::fs::create_dir(dir.path().join(format!("empty-{i}"))).unwrap();
        }
        let imports: Vec<_> = (0..4)
            .map(|i| {
                binary(dir.path())
                    .args(["--db", "night.db", "import", &format!("empty-{i}")])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for import in imports {
            let output = import.wait_with_output().unwrap();
            assert_eq!(
                output.status.code(),
                Some(0),
                "attempt {attempt}: {}",
                text(&output.stderr)
            );
        }
        let night = binary(dir.path())
            .args([
                "--db",
                "night.db",
                "import",
                repo("examples/night").to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_eq!(night.status.code(), Some(0), "{}", text(&night.stderr));

        let audits: Vec<_> = (0..2)
            .map(|_| {
                example_audit(dir.path())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outputs: Vec<Output> = audits
            .into_iter()
            .map(|a| a.wait_with_output().unwrap())
            .collect();
        for output in &outputs {
            assert_eq!(
                output.status.code(),
                Some(1),
                "attempt {attempt}: {}",
                text(&output.stderr)
            );
        }
        let created = outputs
            .iter()
            .filter(|o| text(&o.stdout).contains("Created the ledger signing key"))
            .count();
        assert_eq!(created, 1, "one process created the key, the other used it");
        let keys: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.contains(".ledger.key"))
            .collect();
        assert_eq!(keys, ["night.ledger.key"], "no temporary key file is left");
        let verify = binary(dir.path())
            .args(["--db", "night.db", "ledger", "verify"])
            .output()
            .unwrap();
        assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stdout));
        assert!(text(&verify.stdout).contains("ledger recaudit.local/night: 2 runs"));
    }
}

/// A damaged row makes its own conversation unjudgeable, never the whole night.
#[tokio::test]
async fn a_conversation_whose_stored_evidence_is_damaged_gets_its_own_exception() {
    const GOOD: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
    const START: &str = "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e";
    const SOURCE: &str = "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f";
    const RECORDING: &str = "3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f6a";
    let env = TestEnv::new().await;
    env.write_json(
        "details.json",
        &page(vec![
            answered_call(GOOD),
            answered_call(START),
            answered_call(SOURCE),
        ]),
    );
    env.export_recording(
        SOURCE,
        10,
        RECORDING,
        sidecar(SOURCE, RECORDING),
        Some(AUDIO),
    );
    env.import().await;
    for statement in [
        format!(
            "UPDATE conversations SET conversation_start = '2026-07-14T99:99' WHERE conversation_id = '{START}'"
        ),
        format!("UPDATE recordings SET end_time = 'yesterday' WHERE conversation_id = '{SOURCE}'"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(env.store.pool())
            .await
            .unwrap();
    }
    let findings = env.audit().await;
    assert_eq!(findings.len(), 3, "every conversation has its finding");
    let by_id = |id: &str| findings.iter().find(|f| f.interaction == id).unwrap();
    assert_eq!(codes(by_id(GOOD)), ["recording-missing"]);
    for damaged in [START, SOURCE] {
        let finding = by_id(damaged);
        assert_eq!(finding.status, recaudit::audit::Status::Exception);
        assert_eq!(
            codes(finding),
            ["evidence-unreadable"],
            "{}",
            finding.detail
        );
    }
    assert!(
        by_id(START)
            .detail
            .contains("the window start stands in for it")
    );
    assert!(
        by_id(SOURCE)
            .detail
            .contains("recording: the database holds data recaudit cannot read"),
        "{}",
        by_id(SOURCE).detail
    );
}

/// A number the database file `db` holds now.
async fn scalar(db: &Path, query: &str) -> i64 {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let value: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(query.to_string()))
        .fetch_one(&pool)
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    pool.close().await;
    value
}

/// `audit` of the example night on `night.db` with the examples' policy.
fn example_audit(dir: &Path) -> std::process::Command {
    let mut command = binary(dir);
    command
        .args(["--db", "night.db", "--config"])
        .arg(repo("examples/recaudit.toml"))
        .args(EXAMPLE_AUDIT);
    command
}

/// A night big enough that import and audit take a while: `n` answered calls in one NDJSON
/// file, every other one with its recording in the export tree.
pub(crate) fn big_night(dir: &Path, n: usize) -> PathBuf {
    let input = dir.join("input");
    std::fs::create_dir_all(&input).unwrap();
    let mut lines = String::new();
    for i in 0..n {
        let id = format!("{i:08x}-0000-4000-8000-000000000000");
        lines.push_str(&serde_json::to_string(&answered_call(&id)).unwrap());
        lines.push('\n');
        if i % 2 == 0 {
            let recording = format!("{i:08x}-1111-4000-8000-000000000000");
            let folder = input.join(format!(
                "export/{ORG}/year=2026/month=7/day=14/hour=10/conversation_id={id}"
            ));
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(
                folder.join(format!("{recording}.opus_metadata.json")),
                serde_json::to_vec(&sidecar(&id, &recording)).unwrap(),
            )
            .unwrap();
            std::fs::write(folder.join(format!("{recording}.opus")), AUDIO).unwrap();
        }
    }
    std::fs::write(input.join("details.ndjson"), lines).unwrap();
    input
}

const TYPED: [&str; 7] = [
    "raw_inputs",
    "conversations",
    "participants",
    "sessions",
    "segments",
    "recordings",
    "export_media",
];

/// Kills `args` after each of `delays`, then runs it to the end; returns the last output.
fn kill_at_then_finish(dir: &Path, args: &[&str], delays: &[std::time::Duration]) -> Output {
    for delay in delays {
        let child = binary(dir)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(*delay);
        // SIGKILL, or nothing if the command already finished: both are points to survive.
        let mut child = child;
        let _ = child.kill();
        child.wait().unwrap();
    }
    binary(dir).args(args).output().unwrap()
}

/// kill -9 of import and audit at several points: whatever the point, the rerun's database,
/// ledger and reports equal an uninterrupted run's. The points are fractions of how long the
/// uninterrupted commands took on this machine, so they fall before, during and after the
/// writes; the assertions hold wherever a kill lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_and_audit_killed_at_any_point_leave_what_an_uninterrupted_run_leaves() {
    let source = tempfile::tempdir().unwrap();
    let input = big_night(source.path(), 3_000);
    let input = input.to_str().unwrap();
    let config = repo("examples/recaudit.toml");
    let audit: Vec<&str> = ["--db", "night.db", "--config", config.to_str().unwrap()]
        .into_iter()
        .chain(EXAMPLE_AUDIT)
        .collect();

    // The uninterrupted reference, timed to place the kills.
    let reference = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let import = binary(reference.path())
        .args(["--db", "night.db", "import", input])
        .output()
        .unwrap();
    assert_eq!(import.status.code(), Some(0), "{}", text(&import.stderr));
    let import_time = started.elapsed();
    let started = std::time::Instant::now();
    let audited = binary(reference.path()).args(&audit).output().unwrap();
    assert_eq!(audited.status.code(), Some(1), "{}", text(&audited.stderr));
    let audit_time = started.elapsed();
    let expected = table_content(
        &reference.path().join("night.db"),
        &TYPED,
        &["id", "raw_input_id", "received", "body"],
    )
    .await;
    let expected_findings = newest_findings(reference.path());

    let killed = tempfile::tempdir().unwrap();
    let fractions = [0.05, 0.3, 0.6, 0.9];
    let delays: Vec<_> = fractions.iter().map(|f| import_time.mul_f64(*f)).collect();
    let import = kill_at_then_finish(
        killed.path(),
        &["--db", "night.db", "import", input],
        &delays,
    );
    assert_eq!(import.status.code(), Some(0), "{}", text(&import.stderr));
    let got = table_content(
        &killed.path().join("night.db"),
        &TYPED,
        &["id", "raw_input_id", "received", "body"],
    )
    .await;
    assert_same_tables(&got, &expected);

    // The run is committed near the end: more points there, some past it.
    let delays: Vec<_> = [0.05, 0.5, 0.9, 0.95, 0.99, 1.03]
        .iter()
        .map(|f| audit_time.mul_f64(*f))
        .collect();
    let audited = kill_at_then_finish(killed.path(), &audit, &delays);
    assert_eq!(audited.status.code(), Some(1), "{}", text(&audited.stderr));
    assert_eq!(newest_findings(killed.path()), expected_findings);
    // Every run a kill left behind is whole: sealed, verifiable, its reports regenerable.
    let verify = binary(killed.path())
        .args(["--db", "night.db", "ledger", "verify"])
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stdout));
    let runs = binary(killed.path())
        .args(["--db", "night.db", "runs"])
        .output()
        .unwrap();
    assert_eq!(runs.status.code(), Some(0));
    for run in text(&runs.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
    {
        let regenerated = binary(killed.path())
            .args([
                "--db",
                "night.db",
                "--reports-dir",
                "again",
                "report",
                "--run",
                run,
            ])
            .output()
            .unwrap();
        assert_eq!(
            regenerated.status.code(),
            Some(0),
            "{run}: {}",
            text(&regenerated.stderr)
        );
    }
}

/// The findings of the newest run's findings.json under `dir/reports`.
fn newest_findings(dir: &Path) -> serde_json::Value {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(dir.join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    runs.sort_by_key(|p| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        name.rsplit('-').next().unwrap().parse::<u64>().unwrap()
    });
    let newest = runs.last().expect("a run's reports");
    let document: serde_json::Value =
        serde_json::from_slice(&std::fs::read(newest.join("findings.json")).unwrap()).unwrap();
    document["findings"].clone()
}

#[test]
fn an_os_error_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let output = binary(dir.path())
        .args(["--config", "missing.toml", "runs"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("missing.toml"), "{stderr}");
}

/// The probe: an audit during an import sealed 200 conversations as they were before it and 171
/// as they were after. Now the audit waits for the running import and keeps later ones out
/// until its run is committed, so the run sees all of an import or none of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_lands_wholly_before_or_wholly_after_a_concurrent_audit() {
    let dir = tempfile::tempdir().unwrap();
    let input = big_night(dir.path(), 3_000);
    let details = binary(dir.path())
        .args(["--db", "night.db", "import"])
        .arg(input.join("details.ndjson"))
        .output()
        .unwrap();
    assert_eq!(details.status.code(), Some(0), "{}", text(&details.stderr));
    let db = dir.path().join("night.db");
    let before = scalar(&db, "SELECT COUNT(*) FROM raw_inputs").await;

    let import = binary(dir.path())
        .args(["--db", "night.db", "import"])
        .arg(input.join("export"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Start the audit once the import has committed part of its files.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let n = scalar(&db, "SELECT COUNT(*) FROM raw_inputs").await;
        if n > before {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the import never committed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let audit = example_audit(dir.path()).output().unwrap();
    let import = import.wait_with_output().unwrap();
    assert_eq!(import.status.code(), Some(0), "{}", text(&import.stderr));
    assert_eq!(audit.status.code(), Some(1), "{}", text(&audit.stderr));

    let findings = newest_findings(dir.path());
    let findings = findings.as_array().unwrap();
    assert_eq!(findings.len(), 3_000);
    let recorded = findings
        .iter()
        .filter(|f| !f["recordings"].as_array().unwrap().is_empty())
        .count();
    // The import was running when the audit started, so the audit waited for all of it.
    assert!(
        text(&audit.stderr).contains("the audit waits for it to finish") || recorded == 1_500,
        "{}",
        text(&audit.stderr)
    );
    assert_eq!(recorded, 1_500, "all of the import, not part of it");
}

/// Issue 9, "Conflicts are visible": differing copies of one conversation, and a recording id
/// claimed by two conversations, are reported by import and named in the findings.
#[tokio::test]
async fn conflicting_inputs_are_reported_by_import_and_named_in_the_findings() {
    const CALL: &str = "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8";
    const OTHER: &str = "5f6a7b8c-9d0e-4f1a-b2c3-d4e5f6a7b8c9";
    const RECORDING: &str = "6a7b8c9d-0e1f-4a2b-c3d4-e5f6a7b8c9d0";
    let env = TestEnv::new().await;
    env.write_json(
        "first.json",
        &page(vec![answered_call(CALL), answered_call(OTHER)]),
    );
    // The same copy again, under another name: not a conflict.
    env.write_json("repeat.json", &page(vec![answered_call(CALL)]));
    let first = env.import().await;
    assert!(first.conflicts.is_empty(), "{:?}", first.conflicts);

    let mut differing = answered_call(CALL);
    differing["participants"][1]["participantName"] = json!("Someone Else");
    env.write_json("second.json", &page(vec![differing]));
    env.export_recording(CALL, 10, RECORDING, sidecar(CALL, RECORDING), Some(AUDIO));
    env.write_json(
        "recordingmetadata/other.json",
        &json!([metadata(RECORDING, OTHER, "AVAILABLE")]),
    );
    let second = env.import().await;
    assert_eq!(second.conflicts.len(), 2, "{:#?}", second.conflicts);
    assert!(
        second.conflicts.iter().any(|c| c
            .contains(&format!("conversation {CALL}: its details in"))
            && c.contains("second.json")
            && c.contains("the copy in second.json is used")),
        "{:#?}",
        second.conflicts
    );
    assert!(
        second.conflicts.iter().any(|c| c.contains(&format!(
            "recording {RECORDING} is claimed by conversations"
        )) && c.contains(CALL)
            && c.contains(OTHER)),
        "{:#?}",
        second.conflicts
    );
    // Re-importing the same files reveals nothing new.
    assert!(env.import().await.conflicts.is_empty());

    let findings = env.audit().await;
    for id in [CALL, OTHER] {
        let finding = findings.iter().find(|f| f.interaction == id).unwrap();
        assert!(
            codes(finding).contains(&"conflicting-evidence"),
            "{id}: {:?} {}",
            codes(finding),
            finding.detail
        );
        assert!(
            finding
                .detail
                .contains(&format!("{RECORDING} is also claimed by conversation")),
            "{}",
            finding.detail
        );
    }
    let call = findings.iter().find(|f| f.interaction == CALL).unwrap();
    assert!(
        call.detail
            .contains("its details came in differing copies; the copy in second.json was used"),
        "{}",
        call.detail
    );
}

/// An anchor directory that exists but cannot be listed is not taken for an empty one: the
/// audit would otherwise extend a log whose copies it cannot see.
#[tokio::test]
async fn an_anchor_directory_that_cannot_be_listed_stops_the_audit() {
    let night = Night::new(1, "anchor_dir = \"blocked\"\n");
    assert!(night.path().join("blocked/1.note").is_file());
    std::fs::remove_dir_all(night.path().join("blocked")).unwrap();
    std::fs::write(night.path().join("blocked"), "not a directory").unwrap();
    let audit = night.audit();
    assert_eq!(audit.status.code(), Some(2), "{}", text(&audit.stdout));
    assert!(
        text(&audit.stderr).contains("cannot list the anchor directory"),
        "{}",
        text(&audit.stderr)
    );
    assert_eq!(night.scalar("SELECT COUNT(*) FROM ledger_runs").await, 1);
}

/// A details page answered 200 with a proxy's HTML page is not paged past: the pull stops
/// unfinished (the audit refuses its window), and a rerun asks for the page again and finishes.
#[tokio::test]
async fn an_unreadable_details_page_stops_the_pull_unfinished() {
    use recaudit::simulator::{Faults, Stall};
    use recaudit::source::genesys;

    let env = TestEnv::new().await;
    let (from, to) = (ts(&format!("{DAY}T00:00:00Z")), ts("2026-07-15T00:00:00Z"));
    let faults = Faults {
        max_page_size: 10,
        garble: Some(Stall::new("GET", "/results", 2)),
        ..Faults::default()
    };
    let (_server, mut jobs) = simulated(11, 40, faults).await;
    jobs.details = "jobs".parse().unwrap();
    let config = || jobs.clone();
    let stopped = genesys::pull(&env.store, config(), from, to)
        .await
        .unwrap_err();
    assert!(
        matches!(stopped, recaudit::error::Error::UnreadablePage { .. }),
        "{stopped}"
    );
    let refused = prepare_day(&env, false).await.unwrap_err();
    assert!(
        matches!(refused, recaudit::error::Error::EvidenceGap { .. }),
        "{refused}"
    );

    genesys::pull(&env.store, config(), from, to).await.unwrap();
    assert_eq!(
        env.store.window_ids(from, to).await.unwrap().len(),
        40,
        "no page was skipped"
    );
    prepare_day(&env, false).await.unwrap();
}

/// A job that never finishes stops the pull, unfinished and resumable, instead of being polled
/// forever.
#[tokio::test]
async fn a_job_that_never_finishes_stops_the_pull_at_its_deadline() {
    use recaudit::simulator::Faults;
    use recaudit::source::genesys;

    let env = TestEnv::new().await;
    let (from, to) = (ts(&format!("{DAY}T00:00:00Z")), ts("2026-07-15T00:00:00Z"));
    let faults = Faults {
        job_polls: u64::MAX,
        ..Faults::default()
    };
    let (_server, mut config) = simulated(12, 20, faults).await;
    config.details = "jobs".parse().unwrap();
    config.poll_interval = std::time::Duration::from_millis(10);
    config.job_deadline = std::time::Duration::from_millis(200);
    let stopped = genesys::pull(&env.store, config, from, to)
        .await
        .unwrap_err();
    assert!(
        matches!(stopped, recaudit::error::Error::JobTimedOut { .. }),
        "{stopped}"
    );
    assert!(
        stopped
            .to_string()
            .contains("Run the same pull again later"),
        "{stopped}"
    );
    // The job is kept for the rerun, and the window is not sealed meanwhile.
    let pulls: Vec<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT details_job, completed FROM pulls")
            .fetch_all(env.store.pool())
            .await
            .unwrap();
    assert!(matches!(pulls.as_slice(), [(Some(_), None)]), "{pulls:?}");
}

#[test]
fn a_mistyped_anchor_directory_setting_says_what_it_takes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), "[ledger]\nanchor_dir = 5\n").unwrap();
    let output = binary(dir.path())
        .args(["--config", "bad.toml", "runs"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("bad.toml") && stderr.contains("line 2"),
        "{stderr}"
    );
    assert!(stderr.contains("a directory path, or false"), "{stderr}");
}
