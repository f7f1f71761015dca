//! Bad values at the edge (issue 9, "Bad values are rejected at import, per record"): each is
//! rejected with its file, record and field, nothing stored is lost, and no single broken
//! conversation can stop the audit of a night.

use recaudit::audit::Status;
use serde_json::json;

use crate::support::*;

const GOOD: &str = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

#[tokio::test]
async fn an_implausible_time_or_an_end_before_the_start_rejects_only_its_record() {
    let env = TestEnv::new().await;
    let mut year_zero = answered_call("year-zero");
    year_zero["conversationEnd"] = json!("0000-01-01T00:00:00Z");
    let mut backwards = answered_call("backwards");
    backwards["conversationEnd"] = json!(at(9, 0, 0));
    let mut segment_backwards = answered_call("segment-backwards");
    segment_backwards["participants"][1]["sessions"][0]["segments"][1]["segmentEnd"] =
        json!(at(9, 0, 0));
    env.write_json(
        "details/page-1.json",
        &page(vec![
            answered_call(GOOD),
            year_zero,
            backwards,
            segment_backwards,
        ]),
    );
    let outcome = env.import().await;
    let messages: Vec<&str> = outcome
        .rejected
        .iter()
        .map(|r| r.message.as_str())
        .collect();
    assert_eq!(messages.len(), 3, "{messages:#?}");
    assert!(messages[0].contains("id year-zero: at `conversations[1].conversationEnd`"));
    assert!(
        messages[0].contains("not a plausible time"),
        "{}",
        messages[0]
    );
    assert!(messages[1].contains("id backwards: at `conversations[2].conversationEnd`"));
    assert!(
        messages[1].contains("is before `conversationStart`"),
        "{}",
        messages[1]
    );
    assert!(
        messages[2].contains("conversations[3].participants[1].sessions[0].segments[1].segmentEnd"),
        "{}",
        messages[2]
    );
    // The night is audited: the good conversation gets its finding, none is invented.
    let findings = env.audit().await;
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].interaction, GOOD);
    assert_eq!(findings[0].status, Status::Exception);
}

#[tokio::test]
async fn negative_durations_and_counts_are_rejected_with_the_field() {
    let env = TestEnv::new().await;
    env.write_json("c.json", &answered_call(GOOD));
    let mut short = sidecar(GOOD, "c2d4e6f8-0a1b-4c3d-8e5f-6a7b8c9d0e1f");
    short["durationMs"] = json!(-5);
    env.export_recording(
        GOOD,
        10,
        "c2d4e6f8-0a1b-4c3d-8e5f-6a7b8c9d0e1f",
        short,
        Some(AUDIO),
    );
    env.write_json(
        "job.json",
        &json!({"id": "e1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8", "state": "FULFILLED",
                "recordingJobsQuery": {"action": "EXPORT"}, "totalRecordings": -1}),
    );
    let outcome = env.import().await;
    let mut messages: Vec<String> = outcome.rejected.iter().map(|r| r.message.clone()).collect();
    messages.sort();
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`durationMs`: -5 is negative")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`totalRecordings`: -1 is negative")),
        "{messages:#?}"
    );
    // The rejected sidecar is not evidence: its media file stands alone.
    let finding = env.finding(GOOD).await;
    assert_eq!(finding.status, Status::Complete, "{finding:?}");
}

#[test]
fn command_line_times_outside_the_plausible_years_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let refused = binary(dir.path())
        .args([
            "--db",
            "sqlite://t.db",
            "audit",
            "--from",
            "2026-07-14",
            "--to",
            "2026-07-15",
            "--as-of",
            "0000-01-01",
        ])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("--as-of"), "{stderr}");
    assert!(stderr.contains("2000 to 2100"), "{stderr}");
}

/// Issue 9, "Everything a reader sees is escaped": a participant's name cannot add a column,
/// forge a row or carry HTML into summary.md.
#[tokio::test]
async fn names_from_the_data_cannot_forge_rows_in_the_summary() {
    let env = TestEnv::new().await;
    let mut call = ice_failure_call(GOOD);
    let leg = &mut call["participants"][1];
    leg.as_object_mut().unwrap().remove("userId");
    leg["participantName"] = json!("Eve | <img src=x>\n| forged | row |");
    env.write_json("c.json", &call);
    env.write_json("rm.json", &json!([]));
    env.import().await;
    let outcome = env
        .audit_with(&recaudit::audit::Policy::default(), "2026-07-17T12:00:00Z")
        .await;
    let summary = std::fs::read_to_string(outcome.report_dir.join("summary.md")).unwrap();
    let rows: Vec<&str> = summary
        .lines()
        .skip_while(|l| !l.starts_with("## Exceptions"))
        .filter(|l| l.starts_with("| "))
        .collect();
    assert_eq!(rows.len(), 2, "header and one exception: {summary}");
    assert!(!summary.contains("<img"), "{summary}");
    assert!(
        rows[1].contains("Eve \\| &lt;img src=x&gt; \\| forged \\| row \\|"),
        "{}",
        rows[1]
    );
}

/// Issue 9, "Key and first use": a ledger key that group or others can read is refused, with
/// the command that fixes it; nothing is signed with it.
#[test]
fn a_readable_ledger_key_is_refused_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        binary(dir.path())
            .args(["--db", "sqlite://k.db"])
            .args(args)
            .output()
            .unwrap()
    };
    assert_eq!(run(&["ledger", "keygen"]).status.code(), Some(0));
    let key = dir.path().join("k.ledger.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = run(&["ledger", "show"]);
    let stdout = text(&refused.stdout);
    assert!(stdout.contains("vkey: (unusable: ledger key"), "{stdout}");
    let verify = run(&["ledger", "verify"]);
    assert_eq!(verify.status.code(), Some(2));
    let stderr = text(&verify.stderr);
    assert!(stderr.contains("chmod 600"), "{stderr}");
    assert!(stderr.contains("mode 644"), "{stderr}");
}

/// Issue 9, "Read-only commands stay read-only": no database is created by a command that only
/// reads, and an empty result says so.
#[test]
fn read_only_commands_create_no_database_and_say_when_there_is_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["runs"],
        vec!["ledger", "verify"],
        vec!["ledger", "show"],
        vec!["report", "--run", "x"],
    ] {
        let out = binary(dir.path())
            .args(["--db", "sqlite://typo.db"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains("no database at typo.db"),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(!dir.path().join("typo.db").exists(), "{args:?} created it");
    }
    // An existing but empty database: `runs` says there is nothing.
    let keygen = binary(dir.path())
        .args(["--db", "sqlite://empty.db", "ledger", "keygen"])
        .output()
        .unwrap();
    assert_eq!(keygen.status.code(), Some(0));
    let runs = binary(dir.path())
        .args(["--db", "sqlite://empty.db", "runs"])
        .output()
        .unwrap();
    assert_eq!(runs.status.code(), Some(0));
    assert!(
        text(&runs.stdout).contains("No runs yet"),
        "{}",
        text(&runs.stdout)
    );
}

/// Issue 9, "Names and links": a link out of the imported folder is not followed, a special file
/// is not read, and both are listed with why; a link inside the folder is read.
#[tokio::test]
async fn links_out_of_the_tree_and_special_files_are_listed_not_read() {
    let env = TestEnv::new().await;
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("c.json"),
        serde_json::to_vec(&answered_call("outside")).unwrap(),
    )
    .unwrap();
    env.write_json("inside.json", &answered_call(GOOD));
    std::os::unix::fs::symlink(outside.path().join("c.json"), env.input().join("out.json"))
        .unwrap();
    std::os::unix::fs::symlink(
        env.input().join("inside.json"),
        env.input().join("again.json"),
    )
    .unwrap();
    let fifo = env.input().join("pipe.json");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let outcome = env.import().await;
    let ignored: Vec<(String, &str)> = outcome
        .ignored
        .iter()
        .map(|i| {
            (
                i.path.file_name().unwrap().to_string_lossy().into_owned(),
                i.message.as_str(),
            )
        })
        .collect();
    assert_eq!(ignored.len(), 2, "{ignored:?}");
    assert_eq!(ignored[0].0, "out.json");
    assert!(
        ignored[0].1.contains("outside the imported folder"),
        "{ignored:?}"
    );
    assert_eq!(ignored[1].0, "pipe.json");
    assert!(ignored[1].1.contains("not a regular file"), "{ignored:?}");
    let ids: Vec<String> = env
        .audit()
        .await
        .into_iter()
        .map(|f| f.interaction)
        .collect();
    assert_eq!(ids, vec![GOOD.to_string()]);
}

/// Found by the fuzz test: an `originatingDirection` outside the SDK's enumeration reached the
/// finding's ledger record, whose direction is one of a closed set, and the audit of the whole
/// night failed when it was sealed. It is rejected with its record and field instead.
#[tokio::test]
async fn an_unknown_direction_rejects_its_record_not_the_night() {
    let env = TestEnv::new().await;
    let sideways = with(
        answered_call("sideways"),
        "originatingDirection",
        json!("sideways"),
    );
    env.write_json("p.json", &page(vec![answered_call(GOOD), sideways]));
    let outcome = env.import().await;
    assert_eq!(outcome.rejected.len(), 1, "{:?}", outcome.rejected);
    let message = &outcome.rejected[0].message;
    assert!(
        message.contains("id sideways: at `conversations[1].originatingDirection`")
            && message.contains("`sideways` is not a direction Genesys Cloud sends"),
        "{message}"
    );
    let findings = env.audit().await;
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].interaction, GOOD);
}
