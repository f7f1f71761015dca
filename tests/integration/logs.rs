//! Log output: `--log-format json` writes one JSON object per stderr line (errors included),
//! and no output that is not a terminal carries colour codes.

use serde_json::Value;

use crate::schedule::{EVERY_TWO_SECONDS, exit_within, read, send, start, wait_for_log};
use crate::support::*;

/// Every line of `stderr` parsed as a JSON log event (a level, a timestamp and fields).
fn json_events(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .map(|line| {
            let event: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}\nin:\n{stderr}"));
            assert!(event["level"].is_string(), "{line}");
            assert!(event["timestamp"].is_string(), "{line}");
            assert!(event["fields"]["message"].is_string(), "{line}");
            event
        })
        .collect()
}

fn messages(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            e["fields"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// The scheduler with `--log-format json -v`: every line of its stderr is a JSON event, the
/// run's result and the final summary included, with the exit status as a field.
#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    // `--log-format` and `-v` are global: given before the command, as operators write them.
    let state = dir.path().join("state.json");
    let (mut child, log) = start(
        dir.path(),
        &[
            "--log-format",
            "json",
            "-v",
            "schedule",
            "--cron",
            EVERY_TWO_SECONDS,
            "--state",
            state.to_str().unwrap(),
            "--exec",
            "sh",
            "--",
            "-c",
            "exit 1",
        ],
    );
    wait_for_log(&log, "run ended", 20);
    send(&child, libc::SIGTERM);
    let status = exit_within(&mut child, 10, &log);
    assert_eq!(status.code(), Some(143));
    let stderr = read(&log);
    assert!(!stderr.contains("\x1b["), "{stderr}");
    let events = json_events(&stderr);
    let ended = events
        .iter()
        .find(|e| {
            e["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("run ended"))
        })
        .expect("a run's result");
    assert_eq!(ended["level"], "WARN", "exit 1 is a finding: {ended}");
    assert_eq!(ended["fields"]["exit_code"], 1, "{ended}");
    let last = messages(&events).pop().unwrap_or_default();
    assert!(last.starts_with("schedule stopped by SIGTERM"), "{last}");
}

/// A command that fails in JSON mode: its error is a JSON error event too, not a plain line.
#[test]
fn json_errors_are_log_events() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("sqlite://{}", dir.path().join("missing.db").display());
    let output = binary(dir.path())
        .env_remove("NO_COLOR")
        .args(["--log-format", "json", "-v", "--db", &missing, "runs"])
        .output()
        .expect("run");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let events = json_events(&stderr);
    let error = events.last().expect("an error event");
    assert_eq!(error["level"], "ERROR", "{stderr}");
    assert!(
        messages(&events)
            .iter()
            .any(|m| m.contains("no database at")),
        "{stderr}"
    );
    // The environment variable chooses the format too.
    let output = binary(dir.path())
        .env("RECAUDIT_LOG_FORMAT", "json")
        .args(["--db", &missing, "runs"])
        .output()
        .expect("run");
    json_events(&text(&output.stderr));
}

/// Text logs to a file or pipe (not a terminal) carry no colour codes, even at -vv.
#[test]
fn text_logs_off_a_terminal_have_no_colour() {
    let env = tempfile::tempdir().unwrap();
    let input = env.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(
        input.join("page.json"),
        serde_json::to_vec(&page(vec![answered_call("c-1")])).unwrap(),
    )
    .unwrap();
    let db = TestEnv::url_in(env.path());
    let output = binary(env.path())
        .env_remove("NO_COLOR")
        .env_remove("RECAUDIT_LOG_FORMAT")
        .args(["-vv", "--db", &db, "import"])
        .arg(&input)
        .output()
        .expect("run");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("DEBUG") || stderr.contains("INFO"),
        "{stderr}"
    );
    assert!(!stderr.contains("\x1b["), "{stderr}");
    assert!(!text(&output.stdout).contains("\x1b["));
}
