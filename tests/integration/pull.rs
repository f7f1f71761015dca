//! Simulator -> pull -> audit over loopback, checked against the simulator's scenario labels.

use std::net::SocketAddr;
use std::time::Duration;

use recaudit::audit::Policy;
use recaudit::simulator::{Faults, Mix, Org, SimClient, SimServer};
use recaudit::source::genesys::{self, Credentials, PullConfig};

use crate::support::*;

const NIGHT: &str = "2026-07-14T00:00:00Z";

async fn simulator(conversations: usize, faults: Faults) -> (SimServer, Org) {
    let org = Org::generate(42, conversations, ts(NIGHT), &Mix::default());
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = SimServer::start(org.clone(), faults, SimClient::default(), addr)
        .await
        .unwrap();
    (server, org)
}

fn config(server: &SimServer) -> PullConfig {
    let client = SimClient::default();
    let mut config = PullConfig::new(
        server.base_url(),
        server.base_url(),
        Credentials::new(client.id, client.secret),
    );
    config.poll_interval = Duration::from_millis(10);
    config.backoff_base = Duration::from_millis(20);
    config.page_size = 50;
    // Hung requests (a fault knob) time out and are retried.
    config.request_timeout = Duration::from_millis(1500);
    config
}

async fn pull_and_check(env: &TestEnv, server: &SimServer, org: &Org) {
    let (outcome, stats) = genesys::pull(
        &env.store,
        config(server),
        ts(NIGHT),
        ts("2026-07-15T00:00:00Z"),
    )
    .await
    .expect("pull");
    assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
    assert_eq!(stats.conversations, org.conversations.len());

    let as_of = "2026-07-15T20:00:00Z";
    let findings = env.findings_at(&Policy::default(), as_of).await;
    assert_eq!(
        findings.len(),
        org.conversations.len(),
        "every conversation stored once"
    );
    for conversation in &org.conversations {
        let finding = findings
            .iter()
            .find(|f| f.interaction == conversation.id)
            .expect("a finding");
        let (status, reasons) = conversation.scenario.expected(conversation.end, ts(as_of));
        assert_eq!(
            (finding.status, finding.reasons.clone()),
            (status, reasons),
            "{} ({}): {}",
            conversation.id,
            conversation.scenario.name(),
            finding.detail
        );
    }
}

#[tokio::test]
async fn a_pulled_night_gets_the_verdicts_it_was_built_with() {
    let env = TestEnv::new().await;
    let faults = Faults {
        rate_limit_per_minute: 100_000,
        ..Faults::default()
    };
    let (server, org) = simulator(120, faults).await;
    pull_and_check(&env, &server, &org).await;
    // Pulling again duplicates no conversation or recording: conversations whose recording
    // metadata is stored are not asked again, and the new details job's pages replace rows by
    // their keys. (Resuming an interrupted pull is tested in `pull_faults`.)
    let before = env.store.counts().await.unwrap();
    let again = genesys::pull(
        &env.store,
        config(&server),
        ts(NIGHT),
        ts("2026-07-15T00:00:00Z"),
    )
    .await
    .unwrap()
    .0;
    // No conversation's recording metadata is fetched again.
    assert!(
        !again.by_kind.contains_key("recording-metadata"),
        "{again:?}"
    );
    let after = env.store.counts().await.unwrap();
    for ((table, a), (_, b)) in before.iter().zip(&after) {
        if !matches!(
            *table,
            "raw_inputs" | "runs" | "findings" | "recording_jobs" | "failed_recordings"
        ) {
            assert_eq!(a, b, "{table}");
        }
    }
    // Every stored response names the request it answered and its correlation id.
    let without: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM raw_inputs WHERE correlation_id IS NULL OR source NOT LIKE '/api/v2/%'")
        .fetch_one(env.store.pool())
        .await
        .unwrap();
    assert_eq!(without, 0);
}

#[tokio::test]
async fn the_pull_survives_rate_limits_errors_and_expiring_tokens() {
    let env = TestEnv::new().await;
    let faults = Faults {
        rate_limit_per_minute: 40,
        window: Duration::from_secs(1),
        error_permille: 100,
        token_lifetime: Duration::from_secs(1),
        hang_permille: 30,
        hang: Duration::from_secs(5),
        ..Faults::default()
    };
    let (server, org) = simulator(60, faults).await;
    pull_and_check(&env, &server, &org).await;
    use std::sync::atomic::Ordering;
    assert!(
        server.stats.injected_errors.load(Ordering::Relaxed) > 0,
        "errors were injected and retried"
    );
    assert!(
        server.stats.tokens_issued.load(Ordering::Relaxed) > 1,
        "tokens were renewed"
    );
}

#[tokio::test]
async fn wrong_credentials_fail_without_showing_the_secret() {
    let env = TestEnv::new().await;
    let (server, _) = simulator(10, Faults::default()).await;
    let mut bad = config(&server);
    bad.credentials = Credentials::new("recaudit-sim".into(), "not-the-secret-xyz".into());
    let error = genesys::pull(&env.store, bad, ts(NIGHT), ts("2026-07-15T00:00:00Z"))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("refused the client credentials"), "{error}");
    assert!(!error.contains("not-the-secret-xyz"), "{error}");
}

#[tokio::test]
async fn an_interrupted_pull_resumes_without_fetching_anything_twice() {
    use std::sync::atomic::Ordering;
    let faults = Faults {
        rate_limit_per_minute: 100_000,
        ..Faults::default()
    };

    // The requests an uninterrupted pull needs.
    let reference = TestEnv::new().await;
    let (server, _) = simulator(120, faults.clone()).await;
    genesys::pull(
        &reference.store,
        config(&server),
        ts(NIGHT),
        ts("2026-07-15T00:00:00Z"),
    )
    .await
    .unwrap();
    let uninterrupted = server.stats.requests.load(Ordering::Relaxed);

    let env = TestEnv::new().await;
    let (server, org) = simulator(120, faults).await;
    for budget in [7, 40] {
        let mut limited = config(&server);
        limited.max_requests = Some(budget);
        let error = genesys::pull(&env.store, limited, ts(NIGHT), ts("2026-07-15T00:00:00Z"))
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("request budget"), "{error}");
    }
    pull_and_check(&env, &server, &org).await;
    let resumed = server.stats.requests.load(Ordering::Relaxed);
    // Only the job status checks are repeated on resumption.
    assert!(
        resumed <= uninterrupted + 4,
        "resumed pull made {resumed} requests, an uninterrupted one {uninterrupted}"
    );
}

// Multi-threaded: the simulator keeps serving while this thread waits for the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_reach_logs_the_database_or_reports() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "Zq9-very-distinctive-secret-7Wk";
    let client = SimClient {
        id: "audit-client-42".to_string(),
        secret: secret.to_string(),
    };
    let org = Org::generate(3, 40, ts(NIGHT), &Mix::default());
    let server = SimServer::start(
        org,
        Faults {
            rate_limit_per_minute: 100_000,
            ..Faults::default()
        },
        client.clone(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_recaudit"))
            .current_dir(dir.path())
            .args(["-vv", "--db", "sqlite://recaudit.db"])
            .args(args)
            .env("GENESYS_CLIENT_ID", &client.id)
            .env("GENESYS_CLIENT_SECRET", secret)
            .env("RUST_LOG", "trace")
            .output()
            .unwrap()
    };
    let base = server.base_url();
    let pulled = run(&[
        "pull",
        "--api-base",
        &base,
        "--from",
        "2026-07-14",
        "--to",
        "2026-07-15",
    ]);
    let tail = |bytes: &[u8]| {
        text(bytes)
            .chars()
            .rev()
            .take(1500)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<String>()
    };
    assert_eq!(pulled.status.code(), Some(0), "{}", tail(&pulled.stderr));
    let audited = run(&["audit", "--from", "2026-07-14", "--to", "2026-07-15"]);
    assert!(
        audited.status.code() == Some(0) || audited.status.code() == Some(1),
        "{}",
        tail(&audited.stderr)
    );
    // A wrong secret's error message does not echo it either.
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_recaudit"))
        .current_dir(dir.path())
        .args([
            "--db",
            "sqlite://recaudit.db",
            "pull",
            "--api-base",
            &base,
            "--from",
            "2026-07-14",
            "--to",
            "2026-07-15",
        ])
        .env("GENESYS_CLIENT_ID", &client.id)
        .env("GENESYS_CLIENT_SECRET", "wrong-Zq9-secret")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));

    let mut everything: Vec<u8> = Vec::new();
    for output in [&pulled, &audited, &refused] {
        everything.extend_from_slice(&output.stdout);
        everything.extend_from_slice(&output.stderr);
    }
    assert!(everything.len() > 1000, "trace logging was on");
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(path).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                everything.extend_from_slice(&std::fs::read(&path).unwrap());
            }
        }
    }
    for needle in [secret, "wrong-Zq9-secret"] {
        assert!(
            !everything
                .windows(needle.len())
                .any(|w| w == needle.as_bytes()),
            "`{needle}` leaked"
        );
    }
    // The Basic credentials header would carry them base64-encoded.
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{secret}", client.id));
    assert!(
        !everything
            .windows(basic.len())
            .any(|w| w == basic.as_bytes()),
        "the Basic header leaked"
    );
}

#[tokio::test]
async fn the_export_tree_and_the_api_together_get_the_verdicts_they_were_built_with() {
    let env = TestEnv::new().await;
    let faults = Faults {
        rate_limit_per_minute: 100_000,
        ..Faults::default()
    };
    let (server, org) = simulator(150, faults).await;
    let written = org.write_export(&env.input().join("export")).unwrap();
    assert!(written > 100);
    let imported = env.import().await;
    assert!(imported.rejected.is_empty(), "{:?}", imported.rejected);
    genesys::pull(
        &env.store,
        config(&server),
        ts(NIGHT),
        ts("2026-07-15T00:00:00Z"),
    )
    .await
    .unwrap();

    for as_of in ["2026-07-15T20:00:00Z", "2026-07-20T00:00:00Z"] {
        let findings = env.findings_at(&Policy::default(), as_of).await;
        assert_eq!(findings.len(), org.conversations.len());
        for conversation in &org.conversations {
            let finding = findings
                .iter()
                .find(|f| f.interaction == conversation.id)
                .unwrap();
            let expected = conversation
                .scenario
                .expected_with_export(conversation.end, ts(as_of));
            assert_eq!(
                (finding.status, finding.reasons.clone()),
                expected,
                "{} ({}) as of {as_of}: {}",
                conversation.id,
                conversation.scenario.name(),
                finding.detail
            );
        }
    }
    use recaudit::simulator::Scenario;
    for scenario in Scenario::ALL {
        assert!(
            org.conversations.iter().any(|c| c.scenario == scenario),
            "{scenario:?}"
        );
    }
}

#[tokio::test]
async fn a_short_window_is_pulled_with_the_sync_query() {
    let env = TestEnv::new().await;
    let (server, org) = simulator(
        400,
        Faults {
            rate_limit_per_minute: 100_000,
            ..Faults::default()
        },
    )
    .await;
    let (from, to) = (ts("2026-07-14T10:00:00Z"), ts("2026-07-14T11:00:00Z"));
    genesys::pull(&env.store, config(&server), from, to)
        .await
        .unwrap();
    let sync_pages: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM raw_inputs WHERE source LIKE '/api/v2/analytics/conversations/details/query?%'")
        .fetch_one(env.store.pool())
        .await
        .unwrap();
    let job_pages: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM raw_inputs WHERE source LIKE '%/details/jobs/%'")
            .fetch_one(env.store.pool())
            .await
            .unwrap();
    assert!(
        sync_pages >= 1 && job_pages == 0,
        "sync {sync_pages}, jobs {job_pages}"
    );

    let in_hour: Vec<_> = org
        .conversations
        .iter()
        .filter(|c| c.start >= from && c.start < to)
        .collect();
    assert!(in_hour.len() > 5);
    let window = recaudit::pipeline::AuditWindow {
        from,
        to,
        as_of: ts("2026-07-20T00:00:00Z"),
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
    let findings = recaudit::pipeline::load_findings(&env.store, &outcome.run.run_id)
        .await
        .and_then(|f| f.to_vec())
        .unwrap();
    assert_eq!(findings.len(), in_hour.len());
    for conversation in in_hour {
        let finding = findings
            .iter()
            .find(|f| f.interaction == conversation.id)
            .unwrap();
        assert_eq!(
            (finding.status, finding.reasons.clone()),
            conversation
                .scenario
                .expected(conversation.end, ts("2026-07-20T00:00:00Z"))
        );
    }
}

/// No rate limit to wait for: the tests below check what is read, not the pacing.
fn unthrottled() -> Faults {
    Faults {
        rate_limit_per_minute: 100_000,
        ..Faults::default()
    }
}

/// Pulls [`NIGHT`] with `config`; the pull must succeed.
async fn pull_night(env: &TestEnv, config: PullConfig) -> genesys::PullStats {
    genesys::pull(&env.store, config, ts(NIGHT), ts("2026-07-15T00:00:00Z"))
        .await
        .expect("pull")
        .1
}

/// Issue 8 item 13. `RecordingJobsQuery.integrationId` is "required and used only for EXPORT
/// action" (models/recording_jobs_query.py): by default the pull reads the org's existing export
/// jobs and creates nothing; a job is created only with an integration id.
#[tokio::test]
async fn the_pull_is_read_only_unless_given_an_integration() {
    use std::sync::atomic::Ordering;
    let env = TestEnv::new().await;
    let faults = unthrottled();
    let (server, org) = simulator(80, faults.clone()).await;
    let stats = pull_night(&env, config(&server)).await;
    assert_eq!(server.stats.jobs_created.load(Ordering::Relaxed), 0);
    assert_eq!(stats.export_jobs, vec![org.export_job.clone()]);
    // The org's job was read: its failed recordings are in the findings.
    let findings = env
        .findings_at(&Policy::default(), "2026-07-20T00:00:00Z")
        .await;
    let failed = org.failed_recordings.len();
    assert!(failed > 0);
    assert_eq!(
        findings
            .iter()
            .filter(|f| f.reasons.contains(&recaudit::audit::Reason::ExportFailed))
            .count(),
        failed
    );

    // With an integration id, one job is created for the window, and only once.
    let env = TestEnv::new().await;
    let (server, _) = simulator(80, faults).await;
    let mut creating = config(&server);
    creating.integration_id = Some("4b5c6d7e-8f90-4a1b-bc2d-3e4f5a6b7c8d".to_string());
    let (_, stats) = genesys::pull(&env.store, creating, ts(NIGHT), ts("2026-07-15T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(server.stats.jobs_created.load(Ordering::Relaxed), 1);
    assert_eq!(stats.export_jobs.len(), 1);
}

/// Issue 8 item 10. `GET /api/v2/orphanrecordings`: "False returns all orphans for the
/// organization, capped at 500 results" (SDK apis/recording_api.py, `hasConversation`). The pull
/// asks for `hasConversation=true` and pages it all.
#[tokio::test]
async fn every_orphan_is_read_past_the_unfiltered_cap() {
    let env = TestEnv::new().await;
    let only_orphans = Mix {
        recorded: 0,
        transfer_recorded: 0,
        webrtc_ice_failure: 0,
        answered_no_recording: 0,
        export_failed: 0,
        export_media_missing: 0,
        recording_error: 0,
        orphaned: 1,
        abandoned: 0,
        ivr_only: 0,
        chat: 0,
        message: 0,
        internal_call: 0,
        archived: 0,
        snippet_only: 0,
        flow_or_queue_pause: 0,
        no_packets: 0,
        deleted_by_policy: 0,
        export_retried: 0,
        callback: 0,
        late_recording: 0,
    };
    let org = Org::generate(5, 560, ts(NIGHT), &only_orphans);
    assert!(org.orphans.len() > recaudit::simulator::ORPHAN_CAP);
    let server = SimServer::start(
        org.clone(),
        unthrottled(),
        SimClient::default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    pull_night(&env, config(&server)).await;
    let findings = env
        .findings_at(&Policy::default(), "2026-07-20T00:00:00Z")
        .await;
    let with_orphan = findings
        .iter()
        .filter(|f| {
            f.reasons
                .contains(&recaudit::audit::Reason::OrphanRecording)
        })
        .count();
    assert_eq!(with_orphan, org.orphans.len());
}

/// Issue 8 item 12. A conversation audited `pending` because its recording had not arrived is
/// asked again by the next pull; the late recording then makes it complete.
#[tokio::test]
async fn a_pending_conversation_is_asked_again_and_its_late_recording_counts() {
    use recaudit::audit::Status;
    use recaudit::simulator::Scenario;
    let env = TestEnv::new().await;
    let faults = unthrottled();
    let before = Org::generate(42, 80, ts(NIGHT), &Mix::default());
    let late = before
        .conversations
        .iter()
        .position(|c| c.scenario == Scenario::AnsweredNoRecording)
        .expect("a conversation without its recording yet");
    let late_id = before.conversations[late].id.clone();
    let as_of = "2026-07-15T20:00:00Z"; // inside the 48 h grace window of every conversation

    let first = SimServer::start(
        before.clone(),
        faults.clone(),
        SimClient::default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let window = (ts(NIGHT), ts("2026-07-15T00:00:00Z"));
    genesys::pull(&env.store, config(&first), window.0, window.1)
        .await
        .unwrap();
    let findings = env.findings_at(&Policy::default(), as_of).await;
    let finding = findings.iter().find(|f| f.interaction == late_id).unwrap();
    assert_eq!(finding.status, Status::Pending, "{finding:?}");

    // The recording arrives: the platform now answers with its metadata.
    let mut after = before.clone();
    let conversation = &mut after.conversations[late];
    conversation.recording_metadata = vec![serde_json::json!({
        "id": "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
        "conversationId": late_id,
        "endTime": conversation.end.to_string(),
        "media": "audio",
        "mediaSubtype": "Trunk",
        "annotations": [],
        "fileState": "AVAILABLE",
        "deleteDate": "2033-07-14T00:00:00.000Z",
        "region": "us-east-1"
    })];
    let second = SimServer::start(
        after,
        faults,
        SimClient::default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    genesys::pull(&env.store, config(&second), window.0, window.1)
        .await
        .unwrap();
    let findings = env
        .findings_at(&Policy::default(), "2026-07-15T21:00:00Z")
        .await;
    let finding = findings.iter().find(|f| f.interaction == late_id).unwrap();
    assert_eq!(finding.status, Status::Complete, "{finding:?}");
    // Only the pending conversations were asked again, not the whole night.
    use std::sync::atomic::Ordering;
    let (asked_first, asked_second) = (
        first.stats.requests.load(Ordering::Relaxed),
        second.stats.requests.load(Ordering::Relaxed),
    );
    assert!(
        asked_second * 2 < asked_first,
        "first pull {asked_first} requests, second {asked_second}"
    );
}

/// Issue 8 item 9. The simulator's data lake holds conversations up to its horizon only; the pull
/// stores the horizon, and the audit refuses to seal a verdict over the window until it passes.
#[tokio::test]
async fn the_details_horizon_is_stored_and_the_audit_refuses_the_uncovered_window() {
    let env = TestEnv::new().await;
    let horizon = ts("2026-07-14T12:00:00Z");
    let (server, org) = simulator(
        80,
        Faults {
            rate_limit_per_minute: 100_000,
            data_availability: Some(horizon),
            ..Faults::default()
        },
    )
    .await;
    let stats = pull_night(&env, config(&server)).await;
    assert_eq!(stats.details_horizon, Some(horizon));
    assert_eq!(env.store.details_horizon().await.unwrap(), Some(horizon));
    let before = org
        .conversations
        .iter()
        .filter(|c| c.start < horizon)
        .count();
    assert!(before < org.conversations.len());
    assert_eq!(
        stats.conversations, before,
        "the lake has nothing after the horizon"
    );
    let refused = recaudit::pipeline::run_audit(
        &env.store,
        &Policy::default(),
        &env.ledger,
        window(NIGHT, "2026-07-15T00:00:00Z", "2026-07-16T00:00:00Z"),
        &env.reports(),
    )
    .await;
    assert!(
        matches!(refused, Err(recaudit::Error::NotCovered { horizon: h, .. }) if h == horizon),
        "{:?}",
        refused.err()
    );
}
