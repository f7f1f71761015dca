//! Every status and every reason, from Genesys-shaped JSON through import, store and audit.

use recaudit::audit::Status;
use recaudit::audit::policy::{Policy, RetentionRule};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::*;

const CONV: &str = "5b7e2c10-3f4a-4d8b-a1c2-7e9f00a1b2c3";
const REC: &str = "c2d4e6f8-0a1b-4c3d-8e5f-6a7b8c9d0e1f";

#[tokio::test]
async fn answered_call_with_exported_audio_is_complete() {
    let env = TestEnv::new().await;
    env.write_json("details/page-1.json", &page(vec![answered_call(CONV)]));
    env.export_recording(CONV, 10, REC, sidecar(CONV, REC), Some(AUDIO));
    env.import().await;

    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Complete, "{finding:?}");
    assert!(finding.reasons.is_empty());
    assert_eq!(finding.recordings, vec![REC]);
    assert_eq!(
        finding.media_sha256,
        vec![hex::encode(Sha256::digest(AUDIO))]
    );
    assert_eq!(finding.started, "2026-07-14T10:00:00.000Z");
    assert_eq!(finding.ended.as_deref(), Some("2026-07-14T10:05:00.000Z"));
    assert_eq!(finding.direction, "inbound");
    assert_eq!(finding.media, "voice");
    assert_eq!(finding.queues, vec![QUEUE]);
    assert_eq!(finding.users, vec!["user-dana"]);
    assert!(
        finding.detail.contains("1 recording with media"),
        "{}",
        finding.detail
    );
}

/// The seed case: a WebRTC agent leg alerting until ICE fails with SIP 408, no recording.
#[tokio::test]
async fn ice_failure_while_alerting_is_media_not_established() {
    let env = TestEnv::new().await;
    env.write_json("details/page-1.json", &page(vec![ice_failure_call(CONV)]));
    env.write_json("recordingmetadata/empty.json", &json!([]));
    env.import().await;

    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Exception);
    assert_eq!(codes(&finding), vec!["media-not-established"]);
    assert!(finding.recordings.is_empty());
    assert!(
        finding.detail.contains("transportFailure"),
        "{}",
        finding.detail
    );
    assert!(finding.detail.contains("SIP 408"), "{}", finding.detail);
    assert!(finding.detail.contains("user-dana"), "{}", finding.detail);
}

#[tokio::test]
async fn every_failure_signal_of_an_unanswered_leg_counts() {
    let signals = [
        ("disconnectType", json!("error")),
        ("disconnectType", json!("system")),
        ("disconnectType", json!("timeout")),
        ("disconnectType", json!("sessionExpired")),
        ("errorCode", json!("error.ininedgecontrol.session.inactive")),
        ("sipResponseCodes", json!([503])),
        ("sipResponseCodes", json!([408])),
    ];
    for (field, value) in signals {
        let env = TestEnv::new().await;
        let alert = with(
            segment("alert", &at(11, 0, 30), &at(11, 1, 0)),
            field,
            value.clone(),
        );
        let call = conversation(
            CONV,
            &at(11, 0, 0),
            Some(&at(11, 1, 0)),
            vec![
                customer(&at(11, 0, 0), &at(11, 1, 0)),
                agent("user-dana", vec![alert]),
            ],
        );
        env.write_json("c.json", &call);
        env.import().await;
        let finding = env.finding(CONV).await;
        assert_eq!(
            codes(&finding),
            vec!["media-not-established"],
            "{field}={value}"
        );
    }
}

#[tokio::test]
async fn declined_or_unanswered_legs_are_not_failures() {
    // A ring-no-answer (noAnswerTransfer) and a SIP 486 are not media failures.
    let env = TestEnv::new().await;
    let alert = with(
        with(
            segment("alert", &at(11, 0, 30), &at(11, 1, 0)),
            "disconnectType",
            json!("noAnswerTransfer"),
        ),
        "sipResponseCodes",
        json!([486]),
    );
    let call = conversation(
        CONV,
        &at(11, 0, 0),
        Some(&at(11, 1, 0)),
        vec![
            customer(&at(11, 0, 0), &at(11, 1, 0)),
            agent("user-dana", vec![alert]),
        ],
    );
    env.write_json("c.json", &call);
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::NotRequired, "{finding:?}");
}

#[tokio::test]
async fn failed_leg_followed_by_a_recorded_agent_is_complete() {
    let env = TestEnv::new().await;
    let mut failed = segment("alert", &at(10, 0, 5), &at(10, 0, 15));
    failed["disconnectType"] = json!("transportFailure");
    failed["sipResponseCodes"] = json!([408]);
    let call = conversation(
        CONV,
        &at(10, 0, 0),
        Some(&at(10, 5, 0)),
        vec![
            customer(&at(10, 0, 0), &at(10, 4, 30)),
            agent("user-first", vec![failed]),
            agent(
                "user-dana",
                vec![
                    segment("alert", &at(10, 0, 15), &at(10, 0, 20)),
                    segment("interact", &at(10, 0, 20), &at(10, 4, 30)),
                ],
            ),
        ],
    );
    env.write_json("c.json", &call);
    env.export_recording(CONV, 10, REC, sidecar(CONV, REC), Some(AUDIO));
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Complete, "{finding:?}");
    assert_eq!(finding.users, vec!["user-dana", "user-first"]);
}

#[tokio::test]
async fn answered_call_without_any_recording_is_recording_missing_even_if_flagged() {
    let env = TestEnv::new().await;
    let mut call = answered_call(CONV);
    call["participants"][1]["sessions"][0]["recording"] = json!(true);
    env.write_json("c.json", &call);
    env.import().await;

    let findings = env
        .findings_at(&Policy::default(), "2026-07-17T00:00:00Z")
        .await;
    assert_eq!(findings[0].status, Status::Exception);
    assert_eq!(codes(&findings[0]), vec!["recording-missing"]);
    assert!(
        findings[0].detail.contains("4m10s"),
        "{}",
        findings[0].detail
    );

    // Within the 48 h grace window the same evidence is pending, with the same reason.
    let findings = env
        .findings_at(&Policy::default(), "2026-07-15T12:00:00Z")
        .await;
    assert_eq!(findings[0].status, Status::Pending);
    assert_eq!(codes(&findings[0]), vec!["recording-missing"]);
    assert!(
        findings[0].detail.contains("grace window"),
        "{}",
        findings[0].detail
    );

    // The grace window closes exactly 48 h after conversationEnd.
    let findings = env
        .findings_at(&Policy::default(), "2026-07-16T10:05:00Z")
        .await;
    assert_eq!(findings[0].status, Status::Exception);
}

#[tokio::test]
async fn export_metadata_without_audio_is_media_file_missing() {
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    env.export_recording(CONV, 10, REC, sidecar(CONV, REC), None);
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Exception);
    assert_eq!(codes(&finding), vec!["media-file-missing"]);
    assert_eq!(finding.recordings, vec![REC]);
    assert!(
        finding.detail.contains("no media file"),
        "{}",
        finding.detail
    );
}

#[tokio::test]
async fn zero_byte_exported_media_is_media_file_missing() {
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    env.export_recording(CONV, 10, REC, sidecar(CONV, REC), Some(b""));
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(codes(&finding), vec!["media-file-missing"]);
    // The empty file was still hashed: SHA-256 of nothing.
    assert_eq!(
        finding.media_sha256,
        vec!["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]
    );
}

/// `outputSizeInBytes` is "0 if there is no transcoded media" (models/recording.py): without a
/// fileState, nothing else says the audio exists, so the finding cannot be a clean one.
#[tokio::test]
async fn recording_without_file_state_or_playable_media_is_media_file_missing() {
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    env.write_json(
        "recordings.json",
        &json!([{
            "id": REC,
            "conversationId": CONV,
            "media": "audio",
            "outputSizeInBytes": 0,
            "outputDurationMs": 0,
            "creationTime": at(10, 5, 1)
        }]),
    );
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Exception);
    assert_eq!(codes(&finding), vec!["media-file-missing"]);
    assert!(
        finding.detail.contains("outputSizeInBytes 0"),
        "{}",
        finding.detail
    );
}

#[tokio::test]
async fn media_file_missing_within_grace_is_pending() {
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    env.export_recording(CONV, 10, REC, sidecar(CONV, REC), None);
    env.import().await;
    let findings = env
        .findings_at(&Policy::default(), "2026-07-14T18:00:00Z")
        .await;
    assert_eq!(findings[0].status, Status::Pending);
    assert_eq!(codes(&findings[0]), vec!["media-file-missing"]);
}

#[tokio::test]
async fn recording_in_failed_recordings_is_export_failed() {
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    env.write_json("rm.json", &json!([metadata(REC, CONV, "AVAILABLE")]));
    env.write_json(
        "failed.json",
        &json!({
            "entities": [{
                "conversation": {"id": CONV, "selfUri": format!("/api/v2/conversations/{CONV}")},
                "recording": {"id": REC, "selfUri": format!("/api/v2/conversations/{CONV}/recordings/{REC}")}
            }],
            "pageSize": 25, "pageNumber": 1, "total": 1, "pageCount": 1,
            "selfUri": "/api/v2/recording/jobs/e1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8/failedrecordings?pageSize=25&pageNumber=1"
        }),
    );
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Exception);
    assert_eq!(codes(&finding), vec!["export-failed"]);
    assert!(
        finding
            .detail
            .contains("e1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8"),
        "{}",
        finding.detail
    );
    // Export failures are not late arrivals: exception even inside the grace window.
    let findings = env
        .findings_at(&Policy::default(), "2026-07-14T12:00:00Z")
        .await;
    assert_eq!(findings[0].status, Status::Exception);
}

#[tokio::test]
async fn error_file_state_is_recording_error() {
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    env.write_json("rm.json", &json!([metadata(REC, CONV, "ERROR")]));
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Exception);
    assert_eq!(codes(&finding), vec!["recording-error"]);
}

#[tokio::test]
async fn deleted_recording_is_an_error_only_while_retention_applies() {
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    env.write_json("rm.json", &json!([metadata(REC, CONV, "DELETED")]));
    env.import().await;
    // No retention configured: nothing allowed the deletion.
    let finding = env.finding(CONV).await;
    assert_eq!(codes(&finding), vec!["recording-error"]);
    assert!(finding.detail.contains("DELETED"), "{}", finding.detail);

    let one_day = Policy {
        retention: vec![RetentionRule {
            name: "short".into(),
            days: 1,
            divisions: vec![],
            queues: vec![],
        }],
        ..Policy::default()
    };
    let findings = env.findings_at(&one_day, "2026-07-17T00:00:00Z").await;
    assert!(
        !codes(&findings[0]).contains(&"recording-error"),
        "{:?}",
        findings[0]
    );

    let findings = env.findings_at(&one_day, "2026-07-14T20:00:00Z").await;
    assert!(
        codes(&findings[0]).contains(&"recording-error"),
        "{:?}",
        findings[0]
    );
}

#[tokio::test]
async fn uploading_too_long_is_recording_error_and_briefly_is_pending() {
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    env.write_json("rm.json", &json!([metadata(REC, CONV, "UPLOADING")]));
    env.import().await;

    let findings = env
        .findings_at(&Policy::default(), "2026-07-15T10:05:00Z")
        .await;
    assert_eq!(findings[0].status, Status::Exception);
    assert_eq!(codes(&findings[0]), vec!["recording-error"]);
    assert!(
        findings[0].detail.contains("UPLOADING since"),
        "{}",
        findings[0].detail
    );

    let findings = env
        .findings_at(&Policy::default(), "2026-07-14T16:00:00Z")
        .await;
    assert_eq!(findings[0].status, Status::Pending);
    assert_eq!(codes(&findings[0]), vec!["media-file-missing"]);
}

#[tokio::test]
async fn short_recording_is_duration_mismatch_unless_paused() {
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    let mut short = sidecar(CONV, REC);
    short["durationMs"] = json!(100_000); // 100 s of 250 s interact
    env.export_recording(CONV, 10, REC, short, Some(AUDIO));
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Exception);
    assert_eq!(codes(&finding), vec!["duration-mismatch"]);
    assert!(finding.detail.contains("40%"), "{}", finding.detail);

    // A 150 s secure pause (PCI) on the same recording counts as covered.
    let mut meta = metadata(REC, CONV, "AVAILABLE");
    meta["annotations"] = json!([{
        "id": "a1", "name": "pci", "type": "pause", "location": 30_000,
        "durationMs": 150_000, "absoluteLocation": 30_000, "absoluteDurationMs": 150_000,
        "reason": "SecurePause"
    }]);
    env.write_json("rm.json", &json!([meta]));
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Complete, "{finding:?}");
}

#[tokio::test]
async fn duration_threshold_is_configurable() {
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    let mut short = sidecar(CONV, REC);
    short["durationMs"] = json!(200_000); // 80 %
    env.export_recording(CONV, 10, REC, short, Some(AUDIO));
    env.import().await;
    assert_eq!(codes(&env.finding(CONV).await), vec!["duration-mismatch"]);
    let mut lenient = Policy::default();
    lenient.rules.duration_coverage = 0.75;
    let findings = env.findings_at(&lenient, "2026-07-17T00:00:00Z").await;
    assert_eq!(findings[0].status, Status::Complete);
}

#[tokio::test]
async fn transfer_needs_both_agents_recorded() {
    let env = TestEnv::new().await;
    let call = conversation(
        CONV,
        &at(10, 0, 0),
        Some(&at(10, 10, 0)),
        vec![
            customer(&at(10, 0, 0), &at(10, 10, 0)),
            agent(
                "user-a",
                vec![segment("interact", &at(10, 0, 0), &at(10, 5, 0))],
            ),
            agent(
                "user-b",
                vec![segment("interact", &at(10, 5, 0), &at(10, 10, 0))],
            ),
        ],
    );
    env.write_json("c.json", &call);
    let first =
        json!({"mediaType": "Call", "startTime": at_export(10, 0, 0), "durationMs": 300_000});
    env.export_recording(CONV, 10, "rec-a", first, Some(AUDIO));
    env.import().await;
    assert_eq!(codes(&env.finding(CONV).await), vec!["duration-mismatch"]);

    let second =
        json!({"mediaType": "Call", "startTime": at_export(10, 5, 0), "durationMs": 300_000});
    env.export_recording(CONV, 10, "rec-b", second, Some(b"other audio"));
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Complete, "{finding:?}");
    assert_eq!(finding.recordings, vec!["rec-a", "rec-b"]);
    assert_eq!(finding.media_sha256.len(), 2);
}

#[tokio::test]
async fn orphan_referencing_the_conversation_is_reported() {
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    env.write_json(
        "orphans.json",
        &json!({
            "entities": [{
                "id": "orphan-1",
                "createdTime": at(10, 5, 0),
                "providerType": "EDGE",
                "mediaSizeBytes": 48213,
                "mediaType": "CALL",
                "fileState": "AVAILABLE",
                "orphanStatus": "CONVERSATION_NOT_COMPLETE",
                "recording": { "id": REC, "conversationId": CONV }
            }],
            "pageSize": 25, "pageNumber": 1, "total": 1,
            "selfUri": "/api/v2/orphanrecordings?pageSize=25&pageNumber=1"
        }),
    );
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Exception);
    assert_eq!(
        codes(&finding),
        vec!["orphan-recording", "recording-missing"]
    );
    assert!(finding.detail.contains("orphan-1"), "{}", finding.detail);
}

#[tokio::test]
async fn delete_date_before_required_retention_is_retention_shortfall() {
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    let mut meta = metadata(REC, CONV, "AVAILABLE");
    meta["deleteDate"] = json!("2027-07-14T10:05:00.000Z");
    env.write_json("rm.json", &json!([meta]));
    env.export_recording(CONV, 10, REC, sidecar(CONV, REC), Some(AUDIO));
    env.import().await;
    // Off unless configured.
    assert_eq!(env.finding(CONV).await.status, Status::Complete);

    let policy = Policy {
        retention: vec![
            RetentionRule {
                name: "finra-3170".into(),
                days: 1095,
                divisions: vec![],
                queues: vec![],
            },
            RetentionRule {
                name: "mifid-ii".into(),
                days: 1826,
                divisions: vec![DIVISION.into()],
                queues: vec![],
            },
            RetentionRule {
                name: "other-division".into(),
                days: 3650,
                divisions: vec!["elsewhere".into()],
                queues: vec![],
            },
        ],
        ..Policy::default()
    };
    let findings = env.findings_at(&policy, "2026-07-17T00:00:00Z").await;
    assert_eq!(findings[0].status, Status::Exception);
    assert_eq!(codes(&findings[0]), vec!["retention-shortfall"]);
    // The longest matching rule decides.
    assert!(
        findings[0].detail.contains("mifid-ii"),
        "{}",
        findings[0].detail
    );
}

#[tokio::test]
async fn abandoned_ivr_only_and_unanswered_outbound_are_not_required() {
    let env = TestEnv::new().await;
    let abandoned = conversation(
        "abandoned",
        &at(9, 0, 0),
        Some(&at(9, 2, 0)),
        vec![
            customer(&at(9, 0, 0), &at(9, 2, 0)),
            json!({"purpose": "acd", "sessions": [{"mediaType": "voice", "segments": [segment("delay", &at(9, 0, 30), &at(9, 2, 0))]}]}),
        ],
    );
    let ivr_only = conversation(
        "ivr-only",
        &at(9, 10, 0),
        Some(&at(9, 12, 0)),
        vec![
            customer(&at(9, 10, 0), &at(9, 12, 0)),
            ivr(&at(9, 10, 0), &at(9, 12, 0)),
        ],
    );
    let mut outbound = conversation(
        "outbound-no-answer",
        &at(9, 20, 0),
        Some(&at(9, 20, 40)),
        vec![agent(
            "user-dana",
            vec![with(
                segment("dialing", &at(9, 20, 0), &at(9, 20, 40)),
                "disconnectType",
                json!("client"),
            )],
        )],
    );
    outbound["originatingDirection"] = json!("outbound");
    env.write_json("p.json", &page(vec![abandoned, ivr_only, outbound]));
    env.import().await;
    let findings = env.audit().await;
    assert_eq!(findings.len(), 3);
    for finding in &findings {
        assert_eq!(finding.status, Status::NotRequired, "{finding:?}");
        assert!(finding.reasons.is_empty());
    }
}

#[tokio::test]
async fn scope_exclusions_name_their_reason() {
    let env = TestEnv::new().await;
    let chat = conversation(
        "chat",
        &at(12, 0, 0),
        Some(&at(12, 5, 0)),
        vec![
            json!({"purpose": "customer", "sessions": [{"mediaType": "chat", "segments": [segment("interact", &at(12, 0, 0), &at(12, 5, 0))]}]}),
            agent_media(
                "user-dana",
                "chat",
                vec![segment("interact", &at(12, 0, 10), &at(12, 5, 0))],
            ),
        ],
    );
    let mut brief = answered_call("brief");
    brief["conversationStart"] = json!(at(13, 0, 0));
    brief["conversationEnd"] = json!(at(13, 0, 3));
    env.write_json(
        "p.json",
        &page(vec![chat, brief, answered_call("another-call")]),
    );
    env.import().await;

    let findings = env.audit().await;
    let chat = findings.iter().find(|f| f.interaction == "chat").unwrap();
    assert_eq!(chat.status, Status::Excluded);
    assert_eq!(codes(chat), vec!["media-out-of-scope"]);
    assert_eq!(chat.media, "chat");

    let mut policy = Policy::default();
    policy.scope.min_duration_seconds = 5;
    policy.scope.directions = vec!["outbound".into()];
    let findings = env.findings_at(&policy, "2026-07-17T00:00:00Z").await;
    let brief = findings.iter().find(|f| f.interaction == "brief").unwrap();
    assert_eq!(codes(brief), vec!["direction-out-of-scope"]);

    policy.scope.directions = vec![];
    policy.scope.exclude_queues = vec![QUEUE.into()];
    let findings = env.findings_at(&policy, "2026-07-17T00:00:00Z").await;
    let brief = findings.iter().find(|f| f.interaction == "brief").unwrap();
    assert_eq!(codes(brief), vec!["queue-out-of-scope"]);

    policy.scope.exclude_queues = vec![];
    policy.scope.include_divisions = vec!["another-division".into()];
    let findings = env.findings_at(&policy, "2026-07-17T00:00:00Z").await;
    assert!(
        findings
            .iter()
            .all(|f| codes(f).contains(&"division-out-of-scope")),
        "{findings:?}"
    );

    policy.scope.include_divisions = vec![];
    let findings = env.findings_at(&policy, "2026-07-17T00:00:00Z").await;
    let brief = findings.iter().find(|f| f.interaction == "brief").unwrap();
    assert_eq!(brief.status, Status::Excluded);
    assert_eq!(codes(brief), vec!["short-interaction"]);
}

#[tokio::test]
async fn conversation_without_end_is_pending() {
    let env = TestEnv::new().await;
    let ongoing = conversation(
        CONV,
        &at(23, 50, 0),
        None,
        vec![customer(&at(23, 50, 0), &at(23, 55, 0))],
    );
    env.write_json("c.json", &ongoing);
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Pending);
    assert_eq!(codes(&finding), vec!["conversation-in-progress"]);
    assert_eq!(finding.ended, None);
}

#[tokio::test]
async fn screen_recordings_do_not_satisfy_a_voice_scope() {
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    let mut screen = metadata("screen-rec", CONV, "AVAILABLE");
    screen["media"] = json!("screen");
    screen["mediaSubtype"] = json!("Screen");
    env.write_json("rm.json", &json!([screen]));
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(codes(&finding), vec!["recording-missing"]);
    assert!(finding.recordings.is_empty());
}

#[tokio::test]
async fn reasons_accumulate_sorted() {
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    env.write_json("rm.json", &json!([metadata(REC, CONV, "ERROR")]));
    env.export_recording(CONV, 10, REC, sidecar(CONV, REC), None);
    env.write_json(
        "failed.json",
        &json!({"entities": [{"conversation": {"id": CONV}, "recording": {"id": REC}}]}),
    );
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Exception);
    assert_eq!(
        codes(&finding),
        vec!["export-failed", "media-file-missing", "recording-error"]
    );
}

#[tokio::test]
async fn out_of_scope_export_files_and_failures_are_not_evidence() {
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    // The export holds only the agent's screen recording (exports include screens by default).
    let screen = json!({"mediaType": "Screen", "mediaSubtype": "Screen", "startTime": at_export(10, 0, 0), "durationMs": 300_000});
    let dir = env.export_dir(CONV, 10);
    env.write_json(&format!("{dir}/screen-1.webm_metadata.json"), &screen);
    env.write_raw(&format!("{dir}/screen-1.webm"), b"screen video");
    env.write_json(
        "failed.json",
        &json!({"entities": [{"conversation": {"id": CONV}, "recording": {"id": "screen-1"}}]}),
    );
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(codes(&finding), vec!["recording-missing"], "{finding:?}");
    assert!(finding.recordings.is_empty());
}
