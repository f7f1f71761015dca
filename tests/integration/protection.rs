//! Deletion protection asked of the simulator over loopback: batches of 100, the answers kept
//! as received, faults retried as the pull retries them, a refused request named clearly.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use recaudit::simulator::{Faults, Mix, Org, SimClient, SimServer};
use recaudit::source::genesys::{Credentials, PullConfig};
use recaudit::source::protection::{
    DELETION_PROTECTION_BATCH, DELETION_PROTECTION_PATH, deletion_protection,
};
use sha2::{Digest, Sha256};

use crate::support::*;

const NIGHT: &str = "2026-07-14T00:00:00Z";

/// An org of `count` conversations with every 7th (by sorted id) protected; returns the sorted
/// ids and the protected ones.
async fn simulator(count: usize, faults: Faults) -> (SimServer, Vec<String>, Vec<String>) {
    let mut org = Org::generate(42, count, ts(NIGHT), &Mix::default());
    let mut ids: Vec<String> = org.conversations.iter().map(|c| c.id.clone()).collect();
    ids.sort();
    let protected: Vec<String> = ids.iter().step_by(7).cloned().collect();
    org.protect(protected.iter().cloned());
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = SimServer::start(org, faults, SimClient::default(), addr)
        .await
        .unwrap();
    (server, ids, protected)
}

fn config(server: &SimServer) -> PullConfig {
    let client = SimClient::default();
    let mut config = PullConfig::new(
        server.base_url(),
        server.base_url(),
        Credentials::new(client.id, client.secret),
    );
    config.backoff_base = Duration::from_millis(20);
    config.request_timeout = Duration::from_millis(1500);
    config
}

#[tokio::test]
async fn protection_of_250_conversations_is_asked_in_three_requests_and_kept_as_received() {
    let (server, ids, protected) = simulator(250, Faults::default()).await;
    // Asked in reverse, with duplicates and an id the org does not have: sorted, deduplicated.
    let mut asked: Vec<String> = ids.iter().rev().cloned().collect();
    asked.extend(ids.iter().take(10).cloned());
    asked.push("00000000-0000-4000-8000-000000000000".to_string());
    let answers = deletion_protection(&config(&server), &asked).await.unwrap();

    let sizes: Vec<usize> = answers.iter().map(|a| a.asked.len()).collect();
    assert_eq!(sizes, [100, 100, 51]);
    let mut expected_asked = ids.clone();
    expected_asked.push("00000000-0000-4000-8000-000000000000".to_string());
    expected_asked.sort();
    let all_asked: Vec<String> = answers.iter().flat_map(|a| a.asked.clone()).collect();
    assert_eq!(all_asked, expected_asked, "sorted, deduplicated, in order");
    assert!(
        answers
            .iter()
            .all(|a| a.asked.len() <= DELETION_PROTECTION_BATCH)
    );

    let found: Vec<String> = answers.iter().flat_map(|a| a.protected.clone()).collect();
    assert_eq!(found, protected, "exactly the protected ones");
    assert!(!protected.is_empty() && protected.len() < ids.len());

    for answer in &answers {
        assert_eq!(answer.request_path, DELETION_PROTECTION_PATH);
        assert_eq!(answer.sha256, hex::encode(Sha256::digest(&answer.body)));
        assert!(answer.correlation_id.is_some());
        // The body is the platform's list, byte for byte what the request's protected are.
        let listed: Vec<serde_json::Value> = serde_json::from_slice(&answer.body).unwrap();
        let listed: Vec<&str> = listed.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(listed, answer.protected);
        let request: serde_json::Value = serde_json::from_slice(&answer.request_body).unwrap();
        assert_eq!(
            request["conversationIds"],
            serde_json::json!(answer.asked),
            "the request body is kept"
        );
        assert!(answer.protected.iter().all(|p| answer.asked.contains(p)));
    }
    assert_eq!(server.stats.protection_queries.load(Ordering::Relaxed), 3);
    assert_eq!(
        server
            .stats
            .handled(DELETION_PROTECTION_PATH)
            .values()
            .sum::<u64>(),
        3
    );

    // Nothing asked, nothing sent.
    assert!(
        deletion_protection(&config(&server), &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(server.stats.protection_queries.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn protection_queries_answered_503_are_retried() {
    let faults = Faults {
        error_permille: 400,
        ..Faults::default()
    };
    let (server, ids, protected) = simulator(250, faults).await;
    let answers = deletion_protection(&config(&server), &ids).await.unwrap();
    let found: Vec<String> = answers.iter().flat_map(|a| a.protected.clone()).collect();
    assert_eq!(found, protected);
    assert!(
        server.stats.injected_errors.load(Ordering::Relaxed) > 0,
        "503s were injected and retried"
    );
    assert_eq!(server.stats.protection_queries.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn protection_refused_names_the_permission_and_bad_credentials_the_client() {
    let faults = Faults {
        forbidden: vec![DELETION_PROTECTION_PATH.to_string()],
        ..Faults::default()
    };
    let (server, ids, _) = simulator(20, faults).await;
    let error = deletion_protection(&config(&server), &ids)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("HTTP 403"), "{error}");
    assert!(
        error.contains("the permission to view recording deletion protection"),
        "{error}"
    );
    assert_eq!(server.stats.protection_queries.load(Ordering::Relaxed), 0);

    let mut bad = config(&server);
    bad.credentials = Credentials::new("recaudit-sim".into(), "not-the-secret-xyz".into());
    let error = deletion_protection(&bad, &ids)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("refused the client credentials"), "{error}");
    assert!(!error.contains("not-the-secret-xyz"), "{error}");
}

#[tokio::test]
async fn protection_request_budget_and_stop_are_the_pulls() {
    let (server, ids, _) = simulator(250, Faults::default()).await;
    let mut limited = config(&server);
    limited.max_requests = Some(2);
    let error = deletion_protection(&limited, &ids).await.unwrap_err();
    assert!(
        matches!(error, recaudit::Error::RequestBudget { budget: 2 }),
        "{error}"
    );
    let stopped = config(&server);
    stopped.stop.request();
    let error = deletion_protection(&stopped, &ids).await.unwrap_err();
    assert!(matches!(error, recaudit::Error::Interrupted), "{error}");
}

/// The simulator refuses more than 100 ids as the platform does, with a Genesys error body.
#[tokio::test]
async fn the_simulator_refuses_a_protection_query_of_101_ids() {
    let (server, ids, _) = simulator(120, Faults::default()).await;
    let http = reqwest::Client::new();
    let client = SimClient::default();
    let token: serde_json::Value = http
        .post(format!("{}/oauth/token", server.base_url()))
        .basic_auth(&client.id, Some(&client.secret))
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap();
    let ask = |n: usize| {
        http.post(format!("{}{DELETION_PROTECTION_PATH}", server.base_url()))
            .bearer_auth(token)
            .json(&serde_json::json!({"conversationIds": ids[..n]}))
            .send()
    };
    let refused = ask(101).await.unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["status"], 400);
    assert!(body["message"].as_str().unwrap().contains("100"), "{body}");
    assert!(body["code"].is_string());
    let fine = ask(100).await.unwrap();
    assert_eq!(fine.status().as_u16(), 200);
    let unasked = http
        .post(format!("{}{DELETION_PROTECTION_PATH}", server.base_url()))
        .bearer_auth(token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unasked.status().as_u16(), 400);
}
