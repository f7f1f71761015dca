//! Import: shapes, idempotence, malformed files, the S3 export tree.

use recaudit::audit::Status;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::*;
use recaudit::audit::Policy;

async fn count(env: &TestEnv, table: &str) -> i64 {
    env.store
        .counts()
        .await
        .unwrap()
        .into_iter()
        .find(|(t, _)| *t == table)
        .unwrap()
        .1
}

#[tokio::test]
async fn importing_the_same_tree_twice_changes_nothing() {
    let env = TestEnv::new().await;
    env.write_json(
        "details/page-1.json",
        &page(vec![answered_call("a"), ice_failure_call("b")]),
    );
    env.write_json("rm/a.json", &json!([metadata("rec-a", "a", "AVAILABLE")]));
    env.export_recording("a", 10, "rec-a", sidecar("a", "rec-a"), Some(AUDIO));

    let first = env.import().await;
    assert_eq!(first.imported, 4);
    assert!(first.rejected.is_empty(), "{:?}", first.rejected);
    let findings_before = env.audit().await;
    let counts_before = env.store.counts().await.unwrap();

    let second = env.import().await;
    assert_eq!(second.imported, 0);
    assert_eq!(second.unchanged, 4);
    let counts_after = env.store.counts().await.unwrap();
    for ((table, before), (_, after)) in counts_before.iter().zip(&counts_after) {
        assert_eq!(before, after, "{table}");
    }
    assert_eq!(env.audit().await, findings_before);
}

#[tokio::test]
async fn malformed_files_are_named_and_skipped_while_the_rest_is_audited() {
    let env = TestEnv::new().await;
    env.write_json("good.json", &page(vec![answered_call("good")]));
    // A syntax error on line 3.
    env.write_raw(
        "broken.json",
        b"{\n  \"conversations\": [\n    {\"conversationId\": \"x\",, }\n  ]\n}\n",
    );
    // Well-formed JSON with a bad value.
    let mut bad = answered_call("bad-date");
    bad["conversationStart"] = json!("yesterday");
    let bad_path = env.write_json("bad-date.json", &bad);
    let bad_text = std::fs::read_to_string(&bad_path).unwrap();
    let bad_line = bad_text
        .lines()
        .position(|l| l.contains("yesterday"))
        .unwrap()
        + 1;
    // A sidecar that contradicts its folder.
    let mut lying = sidecar("a", "rec-a");
    lying["conversationId"] = json!("someone-else");
    env.export_recording("a", 10, "rec-a", lying, Some(AUDIO));

    let outcome = env.import().await;
    assert_eq!(outcome.rejected.len(), 3, "{:?}", outcome.rejected);
    let broken = outcome
        .rejected
        .iter()
        .find(|r| r.path.ends_with("broken.json"))
        .unwrap();
    assert!(
        broken.message.starts_with("line 3, column "),
        "{}",
        broken.message
    );
    let bad_date = outcome
        .rejected
        .iter()
        .find(|r| r.path.ends_with("bad-date.json"))
        .unwrap();
    assert!(
        bad_date.message.contains("yesterday"),
        "{}",
        bad_date.message
    );
    assert!(
        bad_date
            .message
            .starts_with(&format!("line {bad_line}, column ")),
        "{}",
        bad_date.message
    );
    assert!(
        bad_date.message.contains("at `conversationStart`"),
        "{}",
        bad_date.message
    );
    let sidecar = outcome
        .rejected
        .iter()
        .find(|r| r.path.ends_with("rec-a.opus_metadata.json"))
        .unwrap();
    assert!(
        sidecar.message.contains("`conversationId`"),
        "{}",
        sidecar.message
    );

    let findings = env.audit().await;
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].interaction, "good");
    assert_eq!(findings[0].status, Status::Exception); // answered, no recording
}

#[tokio::test]
async fn a_rejected_file_is_retried_once_fixed() {
    let env = TestEnv::new().await;
    env.write_raw("page.json", b"{\"conversations\": [");
    assert_eq!(env.import().await.rejected.len(), 1);
    env.write_json("page.json", &page(vec![answered_call("fixed")]));
    let outcome = env.import().await;
    assert!(outcome.rejected.is_empty());
    assert_eq!(outcome.imported, 1);
    assert_eq!(env.audit().await.len(), 1);
}

#[tokio::test]
async fn a_conversation_on_two_pages_is_stored_once_and_never_regresses() {
    let env = TestEnv::new().await;
    let ended = answered_call("shifted");
    let mut ongoing = answered_call("shifted");
    ongoing.as_object_mut().unwrap().remove("conversationEnd");
    env.write_json(
        "page-1.json",
        &page(vec![ended.clone(), answered_call("other")]),
    );
    env.write_json("page-2.json", &page(vec![ongoing.clone()]));
    env.import().await;
    assert_eq!(count(&env, "conversations").await, 2);
    assert_eq!(count(&env, "participants").await, 4);
    let findings = env.audit().await;
    let shifted = findings
        .iter()
        .find(|f| f.interaction == "shifted")
        .unwrap();
    assert_eq!(shifted.ended.as_deref(), Some("2026-07-14T10:05:00.000Z"));

    // A later import of the in-progress copy alone still does not replace the ended one.
    env.write_json("later/page-3.json", &page(vec![ongoing]));
    env.import().await;
    assert_eq!(count(&env, "conversations").await, 2);
    assert_eq!(count(&env, "segments").await, 8);
    let shifted = env.finding("shifted").await;
    assert_eq!(shifted.ended.as_deref(), Some("2026-07-14T10:05:00.000Z"));
}

#[tokio::test]
async fn ndjson_single_objects_and_unknown_fields_are_read() {
    let env = TestEnv::new().await;
    let mut first = answered_call("n1");
    first["someFieldGenesysAddsTomorrow"] = json!({"nested": [1, 2, 3]});
    first["participants"][1]["sessions"][0]["newSessionField"] = json!(true);
    let second = ice_failure_call("n2");
    let ndjson = format!(
        "{}\n\n{}\n",
        serde_json::to_string(&first).unwrap(),
        serde_json::to_string(&second).unwrap()
    );
    env.write_raw("details.ndjson", ndjson.as_bytes());
    // A single conversation object with only the required fields.
    env.write_json(
        "minimal.json",
        &json!({"conversationId": "n3", "conversationStart": at(8, 0, 0)}),
    );
    let outcome = env.import().await;
    assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
    assert_eq!(
        outcome.by_kind.get("analytics-conversations-ndjson"),
        Some(&1)
    );
    assert_eq!(outcome.by_kind.get("analytics-conversation"), Some(&1));
    let findings = env.audit().await;
    let ids: Vec<&str> = findings.iter().map(|f| f.interaction.as_str()).collect();
    assert_eq!(ids, vec!["n1", "n2", "n3"]);
    assert_eq!(findings[2].status, Status::Pending); // no conversationEnd
    assert_eq!(findings[2].direction, "unknown");
}

/// A line with a bad value is rejected alone, named by line and field; the file's other lines
/// are imported (issue 8 item 11: one record never costs the whole page).
#[tokio::test]
async fn ndjson_errors_name_the_line_and_reject_only_that_line() {
    let env = TestEnv::new().await;
    let good = serde_json::to_string(&answered_call("n1")).unwrap();
    let other = serde_json::to_string(&answered_call("n2")).unwrap();
    env.write_raw(
        "details.jsonl",
        format!("{good}\n{other}\n{{\"conversationId\": 5}}\n").as_bytes(),
    );
    let outcome = env.import().await;
    assert_eq!(outcome.rejected.len(), 1);
    let message = &outcome.rejected[0].message;
    assert!(message.contains("(line 3, column"), "{message}");
    assert!(message.contains("`conversationId`"), "{message}");
    assert_eq!(count(&env, "conversations").await, 2);

    // A line that is not JSON at all means the file is not NDJSON: rejected whole.
    let env = TestEnv::new().await;
    env.write_raw("broken.jsonl", format!("{good}\nnot json\n").as_bytes());
    let outcome = env.import().await;
    assert_eq!(outcome.rejected.len(), 1);
    assert!(
        outcome.rejected[0].message.starts_with("line 2, column"),
        "{}",
        outcome.rejected[0].message
    );
    assert_eq!(count(&env, "conversations").await, 0);
}

#[tokio::test]
async fn recordings_without_a_conversation_are_rejected_with_the_record_and_field() {
    let env = TestEnv::new().await;
    env.write_json(
        "rm.json",
        &json!([metadata("r1", "c1", "AVAILABLE"), {"id": "r2", "fileState": "AVAILABLE"}]),
    );
    let outcome = env.import().await;
    assert_eq!(outcome.rejected.len(), 1);
    let message = &outcome.rejected[0].message;
    assert!(
        message.contains("record 1") && message.contains("`conversationId`"),
        "{message}"
    );
}

#[tokio::test]
async fn unknown_json_is_rejected_and_other_files_are_named() {
    let env = TestEnv::new().await;
    env.write_json("settings.json", &json!({"theme": "dark"}));
    env.write_raw("notes.txt", b"hello");
    let outcome = env.import().await;
    assert_eq!(outcome.rejected.len(), 2);
    assert!(
        outcome
            .rejected
            .iter()
            .any(|r| r.message.contains("not a Genesys Cloud payload"))
    );
    assert!(
        outcome
            .rejected
            .iter()
            .any(|r| r.message.contains("not a recognised input"))
    );
}

#[tokio::test]
async fn export_tree_padding_timestamps_and_orphaned_files() {
    let env = TestEnv::new().await;
    env.write_json(
        "p.json",
        &page(vec![
            answered_call("pad"),
            answered_call("nopad"),
            answered_call("bare"),
        ]),
    );
    // Zero-padded date parts, +0000 timestamps.
    let padded = format!("export/{ORG}/year=2026/month=07/day=14/hour=09/conversation_id=pad");
    env.write_json(
        &format!("{padded}/rec-pad.opus_metadata.json"),
        &sidecar("pad", "rec-pad"),
    );
    env.write_raw(&format!("{padded}/rec-pad.opus"), AUDIO);
    // Unpadded, Z timestamps.
    let mut z = sidecar("nopad", "rec-nopad");
    z["startTime"] = json!(at(10, 0, 20));
    z["endTime"] = json!(at(10, 4, 30));
    env.export_recording("nopad", 10, "rec-nopad", z, Some(AUDIO));
    // Media with no sidecar: still a recording with audio.
    env.write_raw(
        &format!("{}/rec-bare.wav", env.export_dir("bare", 10)),
        AUDIO,
    );
    // Call-level metadata is kept as evidence.
    env.write_json(
        &format!(
            "{}/bare.opus_call_metadata.json",
            env.export_dir("bare", 10)
        ),
        &json!({"conversationId": "bare"}),
    );

    let outcome = env.import().await;
    assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
    assert_eq!(outcome.by_kind.get("export-media"), Some(&3));
    assert_eq!(outcome.by_kind.get("export-metadata"), Some(&2));
    assert_eq!(outcome.by_kind.get("export-call-metadata"), Some(&1));
    let findings = env.audit().await;
    for finding in &findings {
        assert_eq!(finding.status, Status::Complete, "{finding:?}");
    }
    let bare = findings.iter().find(|f| f.interaction == "bare").unwrap();
    assert_eq!(bare.recordings, vec!["rec-bare"]);
}

#[tokio::test]
async fn media_is_hashed_while_streaming() {
    let env = TestEnv::new().await;
    // Larger than the 64 KiB read buffer, not a multiple of it.
    let audio: Vec<u8> = (0..1_000_003u32).map(|i| (i * 7 % 251) as u8).collect();
    env.write_json("c.json", &answered_call("big"));
    env.export_recording(
        "big",
        10,
        "rec-big",
        sidecar("big", "rec-big"),
        Some(&audio),
    );
    env.import().await;
    let finding = env.finding("big").await;
    assert_eq!(
        finding.media_sha256,
        vec![hex::encode(Sha256::digest(&audio))]
    );
    let bytes: i64 = sqlx::query_scalar("SELECT bytes FROM export_media")
        .fetch_one(env.store.pool())
        .await
        .unwrap();
    assert_eq!(bytes, 1_000_003);
}

#[tokio::test]
async fn raw_inputs_keep_the_exact_bytes_and_hash() {
    let env = TestEnv::new().await;
    let path = env.write_json("details/p.json", &page(vec![answered_call("a")]));
    env.import().await;
    let on_disk = std::fs::read(&path).unwrap();
    let (id, kind, source, bytes, sha, body, encoding): (
        i64,
        String,
        String,
        i64,
        String,
        Vec<u8>,
        Option<String>,
    ) = sqlx::query_as(
        "SELECT id, kind, source, bytes, sha256, body, body_encoding FROM raw_inputs",
    )
    .fetch_one(env.store.pool())
    .await
    .unwrap();
    assert_eq!(kind, "analytics-details-page");
    assert_eq!(source, "details/p.json");
    assert_eq!(bytes as usize, on_disk.len());
    assert_eq!(sha, hex::encode(Sha256::digest(&on_disk)));
    // Stored compressed, smaller than received, and given back exactly.
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert!(
        body.len() < on_disk.len(),
        "{} of {}",
        body.len(),
        on_disk.len()
    );
    assert_eq!(raw_input_bytes(&env.store, id).await, on_disk);
    // An auditor's standard tools read it back: gzip -dc, then sha256sum.
    let packed = env.dir.path().join("body.gz");
    std::fs::write(&packed, &body).unwrap();
    let unpacked = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(&packed)
        .output()
        .unwrap();
    assert!(unpacked.status.success());
    assert_eq!(unpacked.stdout, on_disk);
}

#[tokio::test]
async fn each_run_records_the_inputs_its_findings_used() {
    let env = TestEnv::new().await;
    env.write_json("p.json", &page(vec![answered_call("a")]));
    env.write_json(
        "other-day.json",
        &with(
            answered_call("z"),
            "conversationStart",
            json!("2026-07-20T10:00:00.000Z"),
        ),
    );
    env.export_recording("a", 10, "rec-a", sidecar("a", "rec-a"), Some(AUDIO));
    env.import().await;
    let outcome = env
        .audit_with(&recaudit::audit::Policy::default(), "2026-07-17T00:00:00Z")
        .await;
    let ids = env.store.run_input_ids(&outcome.run.run_id).await.unwrap();
    // The page, the sidecar and the media file; not the other day's conversation.
    assert_eq!(ids.len(), 3, "{ids:?}");
}

#[tokio::test]
async fn audits_page_through_large_windows() {
    let env = TestEnv::new().await;
    let mut lines = String::new();
    // 2,500 conversations in the window and, interleaved by id, 500 outside it.
    for i in 0..3000 {
        let inside = i % 6 != 0;
        let day = if inside { "2026-07-14" } else { "2026-07-20" };
        let call = json!({
            "conversationId": format!("c{i:05}"),
            "conversationStart": format!("{day}T08:00:00.000Z"),
            "conversationEnd": format!("{day}T08:05:00.000Z"),
            "participants": [
                {"purpose": "customer", "sessions": [{"mediaType": "voice", "segments": [segment("interact", &at(8, 0, 0), &at(8, 5, 0))]}]},
                {"purpose": "agent", "userId": format!("u{i}"), "sessions": [{"mediaType": "voice", "segments": [segment("interact", &at(8, 0, 5), &at(8, 5, 0))]}]}
            ]
        });
        lines.push_str(&serde_json::to_string(&call).unwrap());
        lines.push('\n');
    }
    env.write_raw("many.ndjson", lines.as_bytes());
    env.import().await;
    let findings = env.audit().await;
    assert_eq!(findings.len(), 2500);
    for finding in &findings {
        let i: usize = finding.interaction[1..].parse().unwrap();
        assert_ne!(i % 6, 0, "{} is outside the window", finding.interaction);
        assert_eq!(finding.users, vec![format!("u{i}")]);
        assert_eq!(finding.status, Status::Exception);
    }
}

#[tokio::test]
async fn empty_or_oversized_ids_are_rejected_with_the_record() {
    let env = TestEnv::new().await;
    let mut empty = answered_call("x");
    empty["conversationId"] = json!("");
    env.write_json("empty.json", &page(vec![answered_call("fine"), empty]));
    env.write_json(
        "failed.json",
        &json!({"entities": [{"conversation": {"id": "c"}, "recording": {"id": ""}}]}),
    );
    env.write_json(
        "long.json",
        &json!([metadata(&"r".repeat(300), "c", "AVAILABLE")]),
    );
    let outcome = env.import().await;
    assert_eq!(outcome.rejected.len(), 3, "{:?}", outcome.rejected);
    let message = |name: &str| {
        outcome
            .rejected
            .iter()
            .find(|r| r.path.ends_with(name))
            .unwrap()
            .message
            .clone()
    };
    assert!(
        message("empty.json").contains("conversation 1: field `conversationId` is empty"),
        "{}",
        message("empty.json")
    );
    assert!(
        message("failed.json").contains("`recording.id` is empty"),
        "{}",
        message("failed.json")
    );
    assert!(
        message("long.json").contains("too long"),
        "{}",
        message("long.json")
    );
    // Nothing of a rejected file is stored: the window holds no details at all.
    let refused = recaudit::pipeline::prepare_audit(
        &env.store,
        &Policy::default(),
        window(
            &format!("{DAY}T00:00:00Z"),
            "2026-07-15T00:00:00Z",
            "2026-07-17T00:00:00Z",
        ),
        false,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(refused, recaudit::error::Error::EvidenceGap { .. }),
        "{refused}"
    );
}

/// Issue 13: the calling and called numbers of a session (`AnalyticsSession.ani`, `dnis`) are
/// kept as evidence, session by session; details without them import as before.
#[tokio::test]
async fn session_numbers_land_in_the_evidence_and_their_absence_is_no_error() {
    let mut with_numbers = answered_call("numbers");
    with_numbers["participants"][0]["sessions"][0]["dnis"] = json!("tel:+18005550100");
    let mut without = answered_call("no-numbers");
    let customer = &mut without["participants"][0]["sessions"][0];
    customer.as_object_mut().unwrap().remove("ani");
    assert!(customer.get("dnis").is_none());
    let env = TestEnv::new().await;
    env.write_json("details.json", &page(vec![with_numbers, without]));
    let imported = env.import().await;
    assert!(imported.rejected.is_empty(), "{:?}", imported.rejected);
    assert_eq!(imported.imported, 1);

    let mut snapshot = env.store.snapshot().await.unwrap();
    let (from, to) = (ts(&format!("{DAY}T00:00:00Z")), ts("2026-07-15T00:00:00Z"));
    let ids = snapshot.window_ids(from, to).await.unwrap();
    assert_eq!(ids, ["no-numbers", "numbers"]);
    let page = snapshot.load_evidence_for(&ids).await.unwrap();
    let numbers = |i: usize| -> Vec<(Option<String>, Option<String>)> {
        page.evidence[i]
            .conversation
            .participants
            .iter()
            .flat_map(|p| &p.sessions)
            .map(|s| (s.ani.clone(), s.dnis.clone()))
            .collect()
    };
    assert_eq!(numbers(0), [(None, None), (None, None)]);
    assert_eq!(
        numbers(1),
        [
            (
                Some("tel:+15551230002".to_string()),
                Some("tel:+18005550100".to_string())
            ),
            (None, None)
        ]
    );
    drop(snapshot);
    // The numbers are evidence, not verdicts: both calls are judged alike.
    let findings = env.audit().await;
    assert_eq!(findings.len(), 2);
    assert_eq!(findings[0].status, findings[1].status);
}
