//! Verdicts on payloads shaped as the real platform sends them, one test per place where the
//! model differed from Genesys Cloud. Every field name and enum value below was checked against
//! the official SDK models (`purecloudplatformclientv2` 269.0.0, `models/*.py`: `attribute_map`
//! and `allowed_values`) or the help article cited beside the test; docs/RULES.md cites the same.

use recaudit::audit::Status;
use recaudit::audit::policy::{Policy, RetentionRule};
use serde_json::{Value, json};

use crate::support::*;

const CONV: &str = "9a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const REC: &str = "0f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f";
const JOB: &str = "e1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8";

/// A user (no ACD) on an internal call: `AnalyticsParticipant.purpose` `user`.
fn user(id: &str, segments: Vec<Value>) -> Value {
    let mut value = agent(id, segments);
    value["purpose"] = json!("user");
    value
}

/// A `Recording` object as `GET /api/v2/conversations/{id}/recordings` returns it.
fn recording(state: &str) -> Value {
    json!({
        "id": REC,
        "conversationId": CONV,
        "media": "audio",
        "mediaSubtype": "Trunk",
        "fileState": state,
        "annotations": [],
        "deleteDate": "2033-07-14T10:05:00.000Z",
        "creationTime": at(10, 4, 31),
        "recordingFileRole": "CUSTOMER_EXPERIENCE",
        "selfUri": format!("/api/v2/conversations/{CONV}/recordings/{REC}")
    })
}

fn failed_listing(recording: &str) -> Value {
    json!({
        "entities": [{
            "conversation": {"id": CONV, "selfUri": format!("/api/v2/conversations/{CONV}")},
            "recording": {"id": recording, "selfUri": format!("/api/v2/conversations/{CONV}/recordings/{recording}")}
        }],
        "pageSize": 25, "pageNumber": 1, "total": 1, "pageCount": 1,
        "selfUri": format!("/api/v2/recording/jobs/{JOB}/failedrecordings?pageSize=25&pageNumber=1")
    })
}

fn five_years() -> Policy {
    Policy {
        retention: vec![RetentionRule {
            name: "mifid-ii".into(),
            days: 1826,
            divisions: vec![],
            queues: vec![],
        }],
        ..Policy::default()
    }
}

/// Item 1. "Recording in Genesys Cloud": interactions between two internal users are not
/// recorded unless a participant makes a user recording.
#[tokio::test]
async fn a_call_between_two_users_is_excluded_as_internal_unless_configured() {
    let env = TestEnv::new().await;
    let call = conversation(
        CONV,
        &at(10, 0, 0),
        Some(&at(10, 5, 0)),
        vec![
            user(
                "user-dana",
                vec![with(
                    segment("interact", &at(10, 0, 5), &at(10, 5, 0)),
                    "disconnectType",
                    json!("peer"),
                )],
            ),
            user(
                "user-eli",
                vec![
                    segment("alert", &at(10, 0, 0), &at(10, 0, 5)),
                    segment("interact", &at(10, 0, 5), &at(10, 5, 0)),
                ],
            ),
        ],
    );
    env.write_json("p.json", &page(vec![call]));
    env.write_json("rm.json", &json!([]));
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Excluded, "{finding:?}");
    assert_eq!(codes(&finding), vec!["internal-call"]);

    let mut audits_internal = Policy::default();
    audits_internal.scope.include_internal_calls = true;
    let findings = env
        .findings_at(&audits_internal, "2026-07-17T12:00:00Z")
        .await;
    assert_eq!(findings[0].status, Status::Exception);
    assert_eq!(codes(&findings[0]), vec!["recording-missing"]);
}

/// Item 1, the other side: a customer, an external number, or a participant whose purpose the
/// details do not give keeps the call in scope.
#[tokio::test]
async fn a_call_with_any_outside_or_unknown_party_is_judged() {
    let env = TestEnv::new().await;
    let mut unknown = customer(&at(10, 0, 0), &at(10, 4, 30));
    unknown.as_object_mut().unwrap().remove("purpose");
    let mut external = customer(&at(10, 0, 0), &at(10, 4, 30));
    external["purpose"] = json!("external");
    let mut calls = Vec::new();
    for (id, far_end) in [("with-unknown", unknown), ("with-external", external)] {
        let mut call = answered_call(id);
        call["participants"][0] = far_end;
        calls.push(call);
    }
    env.write_json("p.json", &page(calls));
    env.import().await;
    for finding in env.audit().await {
        assert_eq!(finding.status, Status::Exception, "{finding:?}");
        assert_eq!(codes(&finding), vec!["recording-missing"]);
    }
}

/// Item 2. `outputSizeInBytes` "0 if there is no transcoded media", `mediaUris` "Null when there
/// is no playable media" (models/recording.py): both describe a transcode. `fileState` says
/// whether the audio is held.
#[tokio::test]
async fn archived_or_untranscoded_recordings_hold_their_media() {
    for (state, extra) in [
        ("ARCHIVED", json!({})),
        (
            "AVAILABLE",
            json!({"mediaUris": {}, "outputSizeInBytes": 0, "outputDurationMs": 0}),
        ),
    ] {
        let env = TestEnv::new().await;
        env.write_json("c.json", &answered_call(CONV));
        let mut rec = recording(state);
        for (key, value) in extra.as_object().unwrap() {
            rec[key] = value.clone();
        }
        env.write_json("recordings.json", &json!([rec]));
        env.import().await;
        let finding = env.finding(CONV).await;
        assert_eq!(finding.status, Status::Complete, "{state}: {finding:?}");
        assert!(finding.reasons.is_empty());
    }
}

/// Item 2, the limit: a fileState the SDK does not list is never read as media held.
#[tokio::test]
async fn an_unknown_file_state_is_not_media_held() {
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    env.write_json("rm.json", &json!([metadata(REC, CONV, "PURGED")]));
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Exception);
    assert_eq!(codes(&finding), vec!["media-file-missing"]);
    assert!(finding.detail.contains("PURGED"), "{}", finding.detail);
}

/// Item 3. `Annotation.reason`: "Valid values: Hold,SecurePause,FlowOrQueue,Pause"
/// (models/annotation.py). Every pause is time the recording holds no audio on purpose.
#[tokio::test]
async fn flow_or_queue_and_plain_pauses_count_as_recorded_time() {
    for reason in ["FlowOrQueue", "Pause"] {
        let env = TestEnv::new().await;
        env.write_json("c.json", &answered_call(CONV));
        let mut short = sidecar(CONV, REC);
        short["durationMs"] = json!(174_000); // 174 s of 250 s interact
        env.export_recording(CONV, 10, REC, short, Some(AUDIO));
        let mut meta = metadata(REC, CONV, "AVAILABLE");
        meta["annotations"] = json!([{
            "id": "a1", "name": "pause", "type": "pause", "location": 0,
            "durationMs": 76_000, "absoluteLocation": 0, "absoluteDurationMs": 76_000,
            "reason": reason
        }]);
        env.write_json("rm.json", &json!([meta]));
        env.import().await;
        let finding = env.finding(CONV).await;
        assert_eq!(finding.status, Status::Complete, "{reason}: {finding:?}");
    }
}

/// Item 4. `Recording.media` is "audio, chat, messaging, email, or screen"; analytics says
/// `message`; export sidecars say `Call`, `Chat`, `Email`, `Message`, `Callback`, `Screen`.
#[tokio::test]
async fn every_spelling_of_a_medium_maps_onto_the_analytics_names() {
    // A messaging recording is evidence for a `message` scope ...
    let env = TestEnv::new().await;
    let mut chat = answered_call(CONV);
    for participant in chat["participants"].as_array_mut().unwrap() {
        participant["sessions"][0]["mediaType"] = json!("message");
    }
    env.write_json("c.json", &chat);
    let mut rec = recording("AVAILABLE");
    rec["media"] = json!("messaging");
    rec["outputSizeInBytes"] = json!(2048);
    rec["mediaUris"] = json!({"S": {"mediaUri": "https://example.invalid/m"}});
    rec["startTime"] = json!(at(10, 0, 20));
    rec["endTime"] = json!(at(10, 4, 30));
    env.write_json("recordings.json", &json!([rec]));
    env.import().await;
    let mut messages = Policy::default();
    messages.scope.media_types = vec!["message".into()];
    let findings = env.findings_at(&messages, "2026-07-17T12:00:00Z").await;
    assert_eq!(findings[0].status, Status::Complete, "{:?}", findings[0]);

    // ... and a `Callback` sidecar is the audio of the callback's call: voice.
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    let mut callback = sidecar(CONV, REC);
    callback["mediaType"] = json!("Callback");
    env.export_recording(CONV, 10, REC, callback, Some(AUDIO));
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Complete, "{finding:?}");
    assert_eq!(finding.recordings, vec![REC]);
}

/// Item 6. `deleteDate`: "The date the recording will be deleted"
/// (models/recording_metadata.py). Deleted once that date came: the policy did it.
#[tokio::test]
async fn a_recording_deleted_on_its_delete_date_was_deleted_by_policy() {
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    let mut meta = metadata(REC, CONV, "DELETED");
    meta["deleteDate"] = json!("2026-07-15T10:05:00.000Z");
    env.write_json("rm.json", &json!([meta]));
    env.import().await;

    // No retention requirement: nothing is wrong, and the finding says what happened.
    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Complete, "{finding:?}");
    assert!(
        finding.detail.contains("deleted by its retention policy"),
        "{}",
        finding.detail
    );

    // Five years required: the policy deleted it too early.
    let findings = env.findings_at(&five_years(), "2026-07-17T12:00:00Z").await;
    assert_eq!(findings[0].status, Status::Exception);
    assert_eq!(codes(&findings[0]), vec!["retention-shortfall"]);
    assert!(
        findings[0].detail.contains("deleted by policy"),
        "{}",
        findings[0].detail
    );
}

/// Item 7. A recording an older job failed and a later export delivered is not missing.
#[tokio::test]
async fn a_failed_export_that_a_later_export_delivered_is_not_an_exception() {
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    env.write_json("failed.json", &failed_listing(REC));
    env.export_recording(CONV, 10, REC, sidecar(CONV, REC), Some(AUDIO));
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Complete, "{finding:?}");
    assert!(finding.detail.contains(JOB), "{}", finding.detail);
    assert!(
        finding.detail.contains("a later export delivered"),
        "{}",
        finding.detail
    );
}

/// Item 8. `mediaSubtype` `Snippet` (models/recording_metadata.py) and
/// `recordingFileRole` `ADHOC` (models/recording.py) are not the customer-experience
/// recording.
#[tokio::test]
async fn a_snippet_or_an_ad_hoc_capture_alone_is_recording_missing() {
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    let mut snippet = metadata(REC, CONV, "AVAILABLE");
    snippet["mediaSubtype"] = json!("Snippet");
    env.write_json("rm.json", &json!([snippet]));
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Exception, "{finding:?}");
    assert_eq!(codes(&finding), vec!["recording-missing"]);
    assert!(finding.detail.contains("snippets"), "{}", finding.detail);
    assert_eq!(finding.recordings, vec![REC], "the snippet is named");

    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    let mut adhoc = recording("AVAILABLE");
    adhoc["recordingFileRole"] = json!("ADHOC");
    env.write_json("recordings.json", &json!([adhoc]));
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(codes(&finding), vec!["recording-missing"], "{finding:?}");

    // Beside a customer-experience recording, a snippet changes nothing.
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    let mut snippet = metadata("snippet-1", CONV, "AVAILABLE");
    snippet["mediaSubtype"] = json!("Snippet");
    env.write_json("rm.json", &json!([snippet]));
    env.export_recording(CONV, 10, REC, sidecar(CONV, REC), Some(AUDIO));
    env.import().await;
    assert_eq!(env.finding(CONV).await.status, Status::Complete);
}

/// Item 14. A failed agent leg as real payloads show it: `disconnectType: client` on the alert,
/// the `errorCode` on a later wrap-up segment, `q850ResponseCodes: [16]` on healthy segments.
#[tokio::test]
async fn a_leg_whose_error_code_is_on_its_wrapup_is_media_not_established() {
    let env = TestEnv::new().await;
    let mut alert = segment("alert", &at(11, 0, 10), &at(11, 0, 40));
    alert["disconnectType"] = json!("client");
    let mut wrapup = segment("wrapup", &at(11, 0, 40), &at(11, 0, 41));
    wrapup["errorCode"] = json!("error.ininedgecontrol.session.inactive");
    let mut leg = agent("user-dana", vec![alert, wrapup]);
    leg["sessions"][0]["metrics"] =
        json!([{"name": "nError", "value": 1, "emitDate": at(11, 0, 41)}]);
    let mut far_end = customer(&at(11, 0, 0), &at(11, 0, 41));
    far_end["sessions"][0]["segments"][0]["q850ResponseCodes"] = json!([16]);
    let call = conversation(
        CONV,
        &at(11, 0, 0),
        Some(&at(11, 0, 41)),
        vec![far_end, leg],
    );
    env.write_json("p.json", &page(vec![call]));
    env.write_json("rm.json", &json!([]));
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Exception, "{finding:?}");
    assert_eq!(codes(&finding), vec!["media-not-established"]);
    assert!(
        finding
            .detail
            .contains("errorCode error.ininedgecontrol.session.inactive"),
        "{}",
        finding.detail
    );
}

/// Item 14. `AnalyticsMediaEndpointStat.receivedPackets`: "The total number of packets received
/// for all audio streams belonging to this endpoint". None received while interacting: silence.
#[tokio::test]
async fn an_agent_who_received_no_packets_has_a_recording_of_silence() {
    let env = TestEnv::new().await;
    let mut call = answered_call(CONV);
    call["participants"][1]["sessions"][0]["mediaEndpointStats"] = json!([
        {"codecs": ["opus"], "receivedPackets": 0, "eventTime": at(10, 4, 30)}
    ]);
    env.write_json("c.json", &call);
    env.export_recording(CONV, 10, REC, sidecar(CONV, REC), Some(AUDIO));
    env.import().await;
    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Exception, "{finding:?}");
    assert_eq!(codes(&finding), vec!["no-media-received"]);
    assert!(finding.detail.contains("user-dana"), "{}", finding.detail);

    // Packets received: the same call is complete.
    let env = TestEnv::new().await;
    call["participants"][1]["sessions"][0]["mediaEndpointStats"][0]["receivedPackets"] =
        json!(12_480);
    env.write_json("c.json", &call);
    env.export_recording(CONV, 10, REC, sidecar(CONV, REC), Some(AUDIO));
    env.import().await;
    assert_eq!(env.finding(CONV).await.status, Status::Complete);
}

/// Item 5. "The file name is the recording id" with a `_metadata.json` sidecar (help article
/// "Working with exported recordings in AWS S3 bucket"): media and sidecar pair by recording id,
/// whichever of the sidecar names is used.
#[tokio::test]
async fn media_and_sidecar_pair_by_recording_id() {
    for (sidecar_name, media_name) in [
        (format!("{REC}_metadata.json"), format!("{REC}.opus")),
        (format!("{REC}.opus_metadata.json"), format!("{REC}.opus")),
        (format!("{REC}_metadata.json"), REC.to_string()),
    ] {
        let env = TestEnv::new().await;
        env.write_json("c.json", &answered_call(CONV));
        let dir = env.export_dir(CONV, 10);
        env.write_json(&format!("{dir}/{sidecar_name}"), &sidecar(CONV, REC));
        env.write_raw(&format!("{dir}/{media_name}"), AUDIO);
        let outcome = env.import().await;
        assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
        let finding = env.finding(CONV).await;
        assert_eq!(
            finding.status,
            Status::Complete,
            "{sidecar_name} + {media_name}: {finding:?}"
        );
    }
}

/// Item 5. Only recordings are evidence: a stray file, a link or an unknown extension in a
/// `conversation_id=` folder never stands in for a missing recording, and each is listed.
#[tokio::test]
async fn stray_files_in_an_export_folder_are_ignored_and_listed() {
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(CONV));
    env.write_json("rm.json", &json!([]));
    let dir = env.export_dir(CONV, 10);
    env.write_raw(&format!("{dir}/notes.txt"), b"call notes");
    env.write_raw(&format!("{dir}/foo.JSON"), b"{}");
    env.write_raw(&format!("{dir}/{REC}.txt"), b"not audio");
    std::os::unix::fs::symlink("/etc/passwd", env.input().join(format!("{dir}/{REC}.opus")))
        .unwrap();
    // A link inside the tree is followed, but a link is not a file the export wrote.
    let linked = "0a0b0c0d-0e0f-4011-8213-141516171819.wav";
    std::os::unix::fs::symlink(
        env.input().join(format!("{dir}/notes.txt")),
        env.input().join(format!("{dir}/{linked}")),
    )
    .unwrap();
    let outcome = env.import().await;
    let mut ignored: Vec<String> = outcome
        .ignored
        .iter()
        .map(|i| i.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    ignored.sort();
    let mut expected = vec![
        "foo.JSON".to_string(),
        "notes.txt".to_string(),
        format!("{REC}.opus"),
        format!("{REC}.txt"),
        linked.to_string(),
    ];
    expected.sort();
    assert_eq!(ignored, expected, "{:?}", outcome.ignored);
    for ignored in &outcome.ignored {
        // The link leads out of the imported folder, so it is not even followed.
        let expected = if ignored.path.ends_with(format!("{REC}.opus")) {
            "outside the imported folder"
        } else {
            "not evidence"
        };
        assert!(ignored.message.contains(expected), "{ignored:?}");
    }
    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Exception, "{finding:?}");
    assert_eq!(codes(&finding), vec!["recording-missing"]);
    assert!(finding.recordings.is_empty());
}

/// Item 11. The SDK requires none of `conversationStart`, `segmentStart`, `Recording.id`, job
/// `id` or `state`: a record without one is rejected alone, with its field path, and the rest of
/// the page is kept; importing the unchanged file again names it again.
#[tokio::test]
async fn a_record_with_a_missing_value_is_rejected_alone_and_named_again() {
    let env = TestEnv::new().await;
    let mut no_start = answered_call("c-no-start");
    no_start
        .as_object_mut()
        .unwrap()
        .remove("conversationStart");
    let mut no_segment_start = answered_call("c-no-segment-start");
    no_segment_start["participants"][1]["sessions"][0]["segments"][0]
        .as_object_mut()
        .unwrap()
        .remove("segmentStart");
    env.write_json(
        "details/page-1.json",
        &page(vec![answered_call(CONV), no_start, no_segment_start]),
    );
    let mut no_id = metadata(REC, CONV, "AVAILABLE");
    no_id.as_object_mut().unwrap().remove("id");
    env.write_json(
        "rm.json",
        &json!([
            no_id,
            metadata("0a0b0c0d-0e0f-4011-8213-141516171819", CONV, "AVAILABLE")
        ]),
    );
    env.write_json(
        "jobs.json",
        &json!({
            "entities": [
                {"id": JOB, "recordingJobsQuery": {"action": "EXPORT"}, "totalRecordings": 3},
                {"id": "e1a2b3c4-0000-4f70-8192-a3b4c5d6e7f8", "state": "FULFILLED", "recordingJobsQuery": {"action": "EXPORT"}, "totalRecordings": 3}
            ],
            "pageSize": 25, "pageNumber": 1, "total": 2,
            "selfUri": "/api/v2/recording/jobs?pageSize=25&pageNumber=1"
        }),
    );
    let outcome = env.import().await;
    let mut messages: Vec<String> = outcome.rejected.iter().map(|r| r.message.clone()).collect();
    messages.sort();
    assert_eq!(messages.len(), 4, "{messages:#?}");
    let expect = [
        "`conversations[1]`",
        "conversationStart",
        "`conversations[2].participants[1].sessions[0].segments[0]`",
        "segmentStart",
        "`[0]`",
        "`entities[0]`",
        "state",
    ];
    for needle in expect {
        assert!(
            messages.iter().any(|m| m.contains(needle)),
            "{needle} in {messages:#?}"
        );
    }
    assert!(
        messages
            .iter()
            .all(|m| m.contains("other records were imported"))
    );
    // The good records are in.
    let finding = env.finding(CONV).await;
    assert_eq!(finding.status, Status::Complete, "{finding:?}");
    assert_eq!(
        env.audit().await.len(),
        1,
        "the two unreadable conversations are not invented"
    );

    // Unchanged files: the same records are named again.
    let again = env.import().await;
    assert_eq!(again.imported, 0);
    assert_eq!(again.rejected.len(), 4, "{:#?}", again.rejected);
    assert!(
        again
            .rejected
            .iter()
            .all(|r| r.message.contains("stored unchanged"))
    );
}

/// Item 9. `AnalyticsConversationAsyncQueryResponse.dataAvailabilityDate`: "Data available up to
/// at least this datetime". A window ending after it may miss its latest conversations, so no
/// verdict is sealed over it: `audit` exits 3; with `--allow-partial` it seals only
/// `[from, horizon)` and says what is not covered.
#[test]
fn a_window_past_the_details_horizon_is_refused_or_cut_at_the_horizon() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    let mut late = answered_call("late-call");
    late["conversationStart"] = json!(at(20, 0, 0));
    late["conversationEnd"] = json!(at(20, 5, 0));
    let mut details = page(vec![answered_call(CONV), late]);
    details["dataAvailabilityDate"] = json!(at(12, 0, 0));
    std::fs::write(input.join("page.json"), details.to_string()).unwrap();
    let run = |args: &[&str]| {
        binary(dir.path())
            .args(["--db", "sqlite://h.db"])
            .args(args)
            .output()
            .unwrap()
    };
    assert_eq!(run(&["import", "input"]).status.code(), Some(0));
    let window = [
        "audit",
        "--from",
        "2026-07-14",
        "--to",
        "2026-07-15",
        "--as-of",
        "2026-07-17T12:00:00Z",
    ];
    let refused = run(&window);
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused.stderr));
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("2026-07-14T12:00:00.000Z"), "{stderr}");
    assert!(stderr.contains("--allow-partial"), "{stderr}");
    let show = run(&["ledger", "show"]);
    assert!(
        text(&show.stdout).contains("head: empty ledger"),
        "nothing sealed"
    );

    let mut partial = window.to_vec();
    partial.push("--allow-partial");
    let cut = run(&partial);
    assert_eq!(cut.status.code(), Some(1), "{}", text(&cut.stderr));
    assert!(
        text(&cut.stderr).contains("not yet covered"),
        "{}",
        text(&cut.stderr)
    );
    let stdout = text(&cut.stdout);
    let dir_line = stdout.lines().find(|l| l.starts_with("Reports: ")).unwrap();
    let report = std::path::Path::new(dir_line.trim_start_matches("Reports: "));
    let findings: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join(report).join("findings.json")).unwrap(),
    )
    .unwrap();
    let text_of_findings = findings.to_string();
    assert!(text_of_findings.contains(CONV));
    assert!(
        !text_of_findings.contains("late-call"),
        "{text_of_findings}"
    );
    let show = run(&["ledger", "show"]);
    assert!(
        text(&show.stdout).contains("window 2026-07-14T00:00:00.000Z to 2026-07-14T12:00:00.000Z"),
        "{}",
        text(&show.stdout)
    );
}
