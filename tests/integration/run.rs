//! `recaudit run`, the nightly job, through the real binary: its exit statuses, the run lock,
//! kills at fixed points followed by a rerun, and a late recording over three nights.
//!
//! The nights come from the built-in simulator (`--source sim`), whose clock is `--as-of`:
//! a `recording-arrives-late` conversation has no recording until 20 hours after its call.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::*;
use recaudit::simulator::{Mix, Org, Scenario};
use serde_json::json;

/// A folder with its own database, reports and key.
struct Night {
    dir: tempfile::TempDir,
}

/// Small nights run quickly; 90 conversations get every scenario (late recordings included).
const SMALL: &str = "40";
const FULL: &str = "90";

// Tests that need a pull still under way when they act (a signal, a second run) keep the
// platform's rate through [`Night::paced_sim_command`]; the others use `SIM_FAST_RATE`.

impl Night {
    fn new() -> Night {
        Night {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn db(&self) -> PathBuf {
        self.path().join("night.db")
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = binary(self.path());
        command
            .env_remove("RECAUDIT_KILL_AT")
            .arg("--db")
            .arg(self.db())
            .arg("--reports-dir")
            .arg(self.path().join("reports"))
            .args(args);
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run recaudit")
    }

    /// `run --source sim` over one UTC day, judged at 03:00 the next morning, after the
    /// global options `globals`.
    fn sim_command(
        &self,
        globals: &[&str],
        date: &str,
        conversations: &str,
    ) -> std::process::Command {
        let mut command = self.paced_sim_command(globals, date, conversations);
        command.args(["--sim-rate-limit", SIM_FAST_RATE]);
        command
    }

    /// [`Night::sim_command`] at the platform's rate limit (300 requests a minute): a night
    /// of 40 conversations lasts several seconds, most of them in its pull.
    fn paced_sim_command(
        &self,
        globals: &[&str],
        date: &str,
        conversations: &str,
    ) -> std::process::Command {
        let as_of = format!("{}T03:00:00Z", next_day(date));
        let mut args = globals.to_vec();
        args.extend([
            "run",
            "--source",
            "sim",
            "--sim-conversations",
            conversations,
            "--window",
            date,
            "--as-of",
            &as_of,
        ]);
        self.command(&args)
    }

    /// [`Night::sim_command`] run to its end, killed at `kill_at` if given.
    fn sim_night(&self, date: &str, conversations: &str, kill_at: Option<&str>) -> Output {
        let mut command = self.sim_command(&[], date, conversations);
        if let Some(point) = kill_at {
            command.env("RECAUDIT_KILL_AT", point);
        }
        command.output().expect("run recaudit")
    }

    async fn rows(&self, sql: &str) -> Vec<String> {
        use sqlx::Connection;
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(self.db())
            .read_only(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        let rows = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        rows
    }

    /// The runs' ids, oldest first.
    async fn runs(&self) -> Vec<String> {
        self.rows("SELECT run_id FROM runs ORDER BY seq").await
    }

    /// `findings.csv` of every run, oldest first.
    async fn findings_csv(&self) -> Vec<Vec<u8>> {
        self.runs()
            .await
            .iter()
            .map(|run| {
                std::fs::read(self.path().join("reports").join(run).join("findings.csv"))
                    .unwrap_or_else(|e| panic!("findings.csv of {run}: {e}"))
            })
            .collect()
    }

    fn verify(&self) {
        let verify = self.run(&["ledger", "verify"]);
        assert_eq!(
            verify.status.code(),
            Some(0),
            "{}{}",
            text(&verify.stdout),
            text(&verify.stderr)
        );
    }
}

fn next_day(date: &str) -> String {
    let day = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    day.succ_opt().unwrap().to_string()
}

fn last_line(output: &Output) -> String {
    text(&output.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

fn assert_exit(output: &Output, code: i32, word: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let line = last_line(output);
    assert!(
        line.starts_with(&format!("recaudit run: {word} (exit {code})")),
        "final line: {line}"
    );
}

#[test]
fn usage_errors_exit_2_before_anything_is_done() {
    let night = Night::new();
    for (args, expected) in [
        (vec!["run", "--window", "2026-11-01"], "no source"),
        (
            vec!["run", "--source", "sim", "--window", "yesterday"],
            "--window",
        ),
        (
            vec!["run", "--source", "sim", "--tz", "Mars/Olympus"],
            "IANA",
        ),
        (
            vec!["run", "--source", "sim", "--window", "2099-01-01"],
            "has not ended",
        ),
        (
            vec![
                "run",
                "--source",
                "no-such-folder",
                "--window",
                "2026-11-01",
            ],
            "no such folder",
        ),
    ] {
        let output = night.run(&args);
        assert_exit(&output, 2, "usage-error");
        assert!(
            text(&output.stderr).contains(expected),
            "{args:?}: {}",
            text(&output.stderr)
        );
    }
    assert!(night.runs_empty());

    // A configuration that cannot be used is a usage error too, not a failure to retry. (A
    // simulated night reads no RECAUDIT_* variable, so this one is a real source's.)
    let misspelled = night
        .command(&["run", "--source", "api", "--window", "2026-11-01"])
        .env(concat!("RECAUDIT_", "RULES__GRACE_HOUR"), "12")
        .output()
        .unwrap();
    assert_exit(&misspelled, 2, "usage-error");
    let missing = night.run(&["--config", "no-such.toml", "run", "--source", "sim"]);
    assert_exit(&missing, 2, "usage-error");
    assert!(
        text(&missing.stderr).contains("no-such.toml"),
        "{}",
        text(&missing.stderr)
    );
    let future = night.run(&["run", "--source", "sim", "--as-of", "2099-01-01T00:00:00Z"]);
    assert_exit(&future, 2, "usage-error");
}

/// The night the clocks go back in New York has 25 hours, and `run` audits exactly them.
#[test]
fn a_25_hour_night_is_one_window_of_25_hours() {
    let night = Night::new();
    let output = night.run(&[
        "run",
        "--source",
        "sim",
        "--sim-conversations",
        SMALL,
        "--tz",
        "America/New_York",
        "--window",
        "2026-11-01",
        "--as-of",
        "2026-11-02T12:00:00Z",
    ]);
    assert_exit(&output, 1, "exceptions");
    assert!(
        text(&output.stdout).contains(
            "window [2026-11-01T04:00:00.000Z, 2026-11-02T05:00:00.000Z) (America/New_York)"
        ),
        "{}",
        text(&output.stdout)
    );
}

impl Night {
    fn runs_empty(&self) -> bool {
        !self.path().join("reports").exists()
    }
}

#[test]
fn an_unreachable_api_exits_3_and_leaves_the_window_for_the_next_run() {
    let night = Night::new();
    let output = night
        .command(&[
            "run",
            "--source",
            "api",
            "--api-base",
            "http://127.0.0.1:9",
            "--window",
            "2026-11-01",
        ])
        .env("GENESYS_CLIENT_ID", "id")
        .env("GENESYS_CLIENT_SECRET", "secret")
        .output()
        .unwrap();
    assert_exit(&output, 3, "source-failed");
    assert!(
        text(&output.stderr).contains("127.0.0.1:9"),
        "{}",
        text(&output.stderr)
    );
    // The next night's run revisits the window that got no verdict.
    let next = night.sim_night("2026-11-02", SMALL, None);
    assert!(
        text(&next.stdout).contains("revisiting [2026-11-01T00:00:00.000Z"),
        "{}",
        text(&next.stdout)
    );
}

#[tokio::test]
async fn evidence_that_does_not_cover_the_window_exits_4_and_seals_nothing() {
    let night = Night::new();
    let empty = night.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let output = night.run(&[
        "run",
        "--source",
        empty.to_str().unwrap(),
        "--window",
        "2026-07-14",
    ]);
    assert_exit(&output, 4, "evidence-incomplete");
    assert!(night.runs().await.is_empty());
}

#[tokio::test]
async fn a_clean_night_exits_0_and_a_rerun_seals_nothing_new() {
    let night = Night::new();
    let input = night.path().join("input");
    let conversation = "5b7e2c10-3f4a-4d8b-a1c2-7e9f00a1b2c3";
    let recording = "c2d4e6f8-0a1b-4c3d-8e5f-6a7b8c9d0e1f";
    std::fs::create_dir_all(input.join("details")).unwrap();
    std::fs::write(
        input.join("details/page-1.json"),
        serde_json::to_vec(&page(vec![answered_call(conversation)])).unwrap(),
    )
    .unwrap();
    std::fs::write(
        input.join("metadata.json"),
        serde_json::to_vec(&json!([metadata(recording, conversation, "AVAILABLE")])).unwrap(),
    )
    .unwrap();
    let args = [
        "run",
        "--source",
        input.to_str().unwrap(),
        "--window",
        "2026-07-14",
        "--as-of",
        "2026-07-20T00:00:00Z",
    ];
    let first = night.run(&args);
    assert_exit(&first, 0, "ok");
    let again = night.run(&args);
    assert_exit(&again, 0, "ok");
    assert!(
        text(&again.stdout).contains("verdicts unchanged"),
        "{}",
        text(&again.stdout)
    );
    assert_eq!(night.runs().await.len(), 1);
    night.verify();
}

#[tokio::test]
async fn a_tampered_ledger_exits_5_and_nothing_is_appended() {
    let night = Night::new();
    assert_exit(&night.sim_night("2026-11-01", SMALL, None), 1, "exceptions");
    let runs = night.runs().await;
    // A finding rewritten in the ledger's own rows: verification must catch it.
    tamper(&night.db(), "UPDATE ledger_entries SET record = CAST('status forged' AS BLOB) WHERE rowid = (SELECT MIN(rowid) FROM ledger_entries WHERE tree = 'findings')").await;
    let output = night.sim_night("2026-11-02", SMALL, None);
    assert_exit(&output, 5, "ledger-failed");
    assert!(
        text(&output.stderr).contains("ledger verification"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(night.runs().await, runs);
}

async fn tamper(db: &Path, sql: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let done = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .unwrap();
    assert!(done.rows_affected() > 0, "{sql} changed nothing");
    conn.close().await.unwrap();
}

#[test]
fn a_report_folder_that_cannot_be_written_exits_7() {
    let night = Night::new();
    std::fs::write(night.path().join("reports"), "a file, not a folder").unwrap();
    let output = night.sim_night("2026-11-01", SMALL, None);
    assert_exit(&output, 7, "failed");
}

#[test]
fn of_two_runs_started_at_once_one_runs_and_the_other_exits_6_at_once() {
    let night = Night::new();
    let spawn = || {
        night
            .paced_sim_command(&[], "2026-11-01", SMALL)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let mut codes = [a.status.code(), b.status.code()];
    codes.sort();
    assert_eq!(
        codes,
        [Some(1), Some(6)],
        "{}\n{}",
        text(&a.stderr),
        text(&b.stderr)
    );
    let refused = if a.status.code() == Some(6) { &a } else { &b };
    let message = text(&refused.stderr);
    assert!(
        message.contains("another run holds")
            && message.contains("pid")
            && message.contains("since"),
        "{message}"
    );
    assert_exit(refused, 6, "locked");
    // The refused one did nothing of a night.
    assert!(
        !text(&refused.stdout).contains("window ["),
        "{}",
        text(&refused.stdout)
    );

    // And while a run holds the lock, a second exits at once: before the holder ends.
    let mut holder = spawn();
    let lock = PathBuf::from(format!("{}.run-lock", night.db().display()));
    while !std::fs::read_to_string(&lock).is_ok_and(|t| t.contains(&format!("pid {}", holder.id())))
    {
        assert!(
            holder.try_wait().unwrap().is_none(),
            "the holder ended before taking the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let second = spawn().wait_with_output().unwrap();
    assert_exit(&second, 6, "locked");
    assert!(
        holder.try_wait().unwrap().is_none(),
        "the refused run waited for the holder to end"
    );
    assert!(
        text(&second.stderr).contains(&format!("pid {}", holder.id())),
        "{}",
        text(&second.stderr)
    );
    assert_eq!(holder.wait().unwrap().code(), Some(1));
}

/// Kills `run` at `point`, reruns it, and compares with one uninterrupted run.
async fn killed_then_rerun_equals_uninterrupted(point: &str) {
    let killed = Night::new();
    let output = killed.sim_night("2026-11-01", SMALL, Some(point));
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            output.status.signal(),
            Some(libc::SIGKILL),
            "{point}: not killed: {}",
            text(&output.stderr)
        );
    }
    assert_exit(
        &killed.sim_night("2026-11-01", SMALL, None),
        1,
        "exceptions",
    );

    let whole = Night::new();
    assert_exit(&whole.sim_night("2026-11-01", SMALL, None), 1, "exceptions");

    assert_eq!(killed.runs().await.len(), 1, "{point}");
    // The ledger holds one run's records and one checkpoint, as after one uninterrupted run.
    for table in [
        "ledger_runs",
        "ledger_entries",
        "ledger_checkpoints",
        "run_inputs",
    ] {
        let count = format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}");
        assert_eq!(
            killed.rows(&count).await,
            whole.rows(&count).await,
            "{point}: {table}"
        );
    }
    // Run ids, raw input ids and clock times differ between any two runs; the rest is equal.
    let tables = ["findings", "conversations", "night_windows", "recordings"];
    let varying = [
        "run_id",
        "raw_input_id",
        "first_started",
        "last_started",
        "done",
    ];
    assert_same_tables(
        &table_content(&killed.db(), &tables, &varying).await,
        &table_content(&whole.db(), &tables, &varying).await,
    );
    assert_eq!(
        killed.findings_csv().await,
        whole.findings_csv().await,
        "{point}"
    );
    killed.verify();
    // A third run changes nothing.
    let third = killed.sim_night("2026-11-01", SMALL, None);
    assert!(
        text(&third.stdout).contains("verdicts unchanged"),
        "{}",
        text(&third.stdout)
    );
    assert_eq!(killed.runs().await.len(), 1);
}

#[tokio::test]
async fn killed_mid_pull_then_rerun() {
    killed_then_rerun_equals_uninterrupted("mid-pull").await;
}

#[tokio::test]
async fn killed_after_the_pull_then_rerun() {
    killed_then_rerun_equals_uninterrupted("after-pull").await;
}

#[tokio::test]
async fn killed_mid_audit_then_rerun() {
    killed_then_rerun_equals_uninterrupted("mid-audit").await;
}

#[tokio::test]
async fn killed_before_the_checkpoint_is_committed_then_rerun() {
    killed_then_rerun_equals_uninterrupted("before-commit").await;
}

#[tokio::test]
async fn killed_mid_report_then_rerun() {
    killed_then_rerun_equals_uninterrupted("mid-report").await;
}

/// The story of issue 12: a conversation pending on night 1 because its recording has not
/// arrived becomes complete on night 2, through `run` alone, and the ledger shows the run
/// that supersedes night 1's.
#[tokio::test]
async fn a_late_recording_turns_pending_into_complete_on_the_next_night() {
    let night = Night::new();
    let day = ts("2026-11-01T00:00:00Z");
    let org = Org::nights(
        1,
        90,
        &[(day, day.plus_millis(86_400_000))],
        &Mix::nightly(),
    );
    let late: Vec<String> = org
        .conversations
        .iter()
        .filter(|c| c.scenario == Scenario::LateRecording)
        // Those whose recording arrives after night 1's run (03:00) and before night 2's.
        .filter(|c| c.recording_arrives > Some(ts("2026-11-02T03:00:00Z")))
        .map(|c| c.id.clone())
        .collect();
    assert!(
        !late.is_empty(),
        "night 1 has a recording that arrives late"
    );
    let status_of = |run: &str, id: &str| {
        format!("SELECT status FROM findings WHERE run_id = '{run}' AND conversation_id = '{id}'")
    };

    assert_exit(&night.sim_night("2026-11-01", FULL, None), 1, "exceptions");
    let first = night.runs().await;
    assert_eq!(first.len(), 1);
    for id in &late {
        assert_eq!(
            night.rows(&status_of(&first[0], id)).await,
            ["pending"],
            "{id}"
        );
    }

    let second = night.sim_night("2026-11-02", FULL, None);
    assert_exit(&second, 1, "exceptions");
    assert!(
        text(&second.stdout).contains("revisiting [2026-11-01T00:00:00.000Z"),
        "{}",
        text(&second.stdout)
    );
    let runs = night.runs().await;
    let newest_over_night_1: Vec<String> = night
        .rows("SELECT run_id FROM runs WHERE window_start = '2026-11-01T00:00:00.000Z' ORDER BY seq DESC LIMIT 1")
        .await;
    let superseding = &newest_over_night_1[0];
    assert_ne!(superseding, &first[0]);
    assert_eq!(runs.len(), 3, "night 1 again, and night 2");
    for id in &late {
        assert_eq!(
            night.rows(&status_of(superseding, id)).await,
            ["complete"],
            "{id}"
        );
    }
    // The ledger's run record says which run it supersedes.
    let record: Vec<Vec<u8>> = {
        use sqlx::Connection;
        let mut conn =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", night.db().display()))
                .await
                .unwrap();
        sqlx::query_scalar("SELECT record FROM ledger_runs WHERE run_id = ?")
            .bind(superseding)
            .fetch_all(&mut conn)
            .await
            .unwrap()
    };
    let record = String::from_utf8_lossy(&record[0]).into_owned();
    assert!(
        record.contains(&format!("supersedes {}", first[0])),
        "{record}"
    );

    // Night 3: night 1's last pending verdicts are final by now (its grace period is over),
    // so it is sealed once more and then never revisited.
    assert_exit(&night.sim_night("2026-11-03", FULL, None), 1, "exceptions");
    let pending_left = night
        .rows("SELECT f.conversation_id FROM findings f WHERE f.status = 'pending' AND f.run_id = (SELECT run_id FROM runs WHERE window_start = '2026-11-01T00:00:00.000Z' ORDER BY seq DESC LIMIT 1)")
        .await;
    assert!(pending_left.is_empty(), "{pending_left:?}");
    let fourth = night.sim_night("2026-11-04", SMALL, None);
    assert!(
        !text(&fourth.stdout).contains("revisiting [2026-11-01T00:00:00.000Z"),
        "{}",
        text(&fourth.stdout)
    );
    night.verify();
}

#[tokio::test]
async fn killed_mid_notification_then_rerun() {
    killed_then_rerun_equals_uninterrupted("mid-notification").await;
}

/// A loopback HTTP receiver that keeps every request's path and body, answering `status`.
struct Receiver {
    url: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

impl Receiver {
    fn start(status: u16) -> Receiver {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let keep = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                let mut length = 0;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                        break;
                    }
                    if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                keep.lock()
                    .unwrap()
                    .push((path, String::from_utf8_lossy(&body).into_owned()));
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        Receiver { url, seen }
    }

    fn seen(&self) -> Vec<(String, String)> {
        self.seen.lock().unwrap().clone()
    }
}

/// The night's outcome reaches a webhook (with the signed checkpoint), a failing webhook does
/// not change the exit status, the dead-man's switch hears the start and the end, and the
/// metrics file has the run.
#[tokio::test]
async fn the_outcome_reaches_webhooks_the_dead_mans_switch_and_the_metrics_file() {
    let night = Night::new();
    let (hook, broken, deadman) = (
        Receiver::start(200),
        Receiver::start(500),
        Receiver::start(200),
    );
    let metrics = night.path().join("recaudit.prom");
    let config = night.path().join("recaudit.toml");
    std::fs::write(
        &config,
        format!(
            "[notify]\nmetrics_file = \"{}\"\ntimeout_seconds = 5\nretries = 1\nbackoff_millis = 10\n\
             [[notify.webhooks]]\nformat = \"json\"\nurl_env = \"HOOK_URL\"\n\
             [[notify.webhooks]]\nformat = \"slack\"\nurl_env = \"BROKEN_URL\"\n\
             [notify.deadman]\nurl_env = \"DEADMAN_URL\"\n",
            metrics.display()
        ),
    )
    .unwrap();
    let output = night
        .sim_command(&["--config", config.to_str().unwrap()], "2026-11-01", SMALL)
        .env("HOOK_URL", format!("{}/hook", hook.url))
        .env("BROKEN_URL", format!("{}/broken", broken.url))
        .env("DEADMAN_URL", format!("{}/ping/abc", deadman.url))
        .output()
        .unwrap();
    assert_exit(&output, 1, "exceptions");
    assert!(
        text(&output.stderr).contains("notification not delivered"),
        "{}",
        text(&output.stderr)
    );
    // A webhook URL's path is its token: only scheme and host are ever printed.
    assert!(
        !text(&output.stderr).contains("/broken"),
        "{}",
        text(&output.stderr)
    );

    let posted = hook.seen();
    assert_eq!(posted.len(), 1, "{posted:?}");
    let summary: serde_json::Value = serde_json::from_str(&posted[0].1).unwrap();
    assert_eq!(summary["exit_status"], 1);
    let run = &night.runs().await[0];
    assert_eq!(summary["runs"], json!([run]));
    let note = summary["checkpoint"]["note"].as_str().unwrap();
    let stored = night
        .rows("SELECT CAST(note AS TEXT) FROM ledger_checkpoints ORDER BY size DESC LIMIT 1")
        .await;
    assert_eq!(
        note, stored[0],
        "the notification carries the signed checkpoint"
    );
    assert_eq!(broken.seen().len(), 2, "tried, then retried once");

    let pings: Vec<String> = deadman.seen().into_iter().map(|(path, _)| path).collect();
    assert_eq!(pings, ["/ping/abc/start", "/ping/abc"], "{pings:?}");

    let metrics = std::fs::read_to_string(&metrics).unwrap();
    assert!(metrics.contains("recaudit_last_exit_status 1"), "{metrics}");
    assert!(
        metrics.contains("recaudit_conversations{status=\"complete\"}"),
        "{metrics}"
    );
}

/// SIGTERM abandons the step in progress cleanly: the run exits 143 with its final line, and
/// the next run finishes the night.
#[cfg(unix)]
#[tokio::test]
async fn sigterm_abandons_the_step_and_the_next_run_finishes_the_night() {
    let night = Night::new();
    let mut child = night
        .paced_sim_command(&[], "2026-11-01", FULL)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Mid-pull: the run logs each window before fetching it, and the pull of 90 conversations
    // at the rate limit takes many seconds.
    let stderr = child.stderr.take().unwrap();
    let (seen, lines) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("window") && line.contains("revisited=false") {
                let _ = seen.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    lines
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the run logged its window");
    // SAFETY: kill(2) with the pid of our own child and a valid signal.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let output = child.wait_with_output().unwrap();
    let stderr = reader.join().unwrap();
    assert_eq!(output.status.code(), Some(143), "{stderr}");
    assert!(
        last_line(&output).starts_with("recaudit run: stopped (exit 143)"),
        "{}",
        text(&output.stdout)
    );
    assert!(night.runs().await.is_empty(), "nothing was sealed");
    assert_exit(&night.sim_night("2026-11-01", FULL, None), 1, "exceptions");
    assert_eq!(night.runs().await.len(), 1);
    night.verify();
}

/// Killed after the webhooks were posted but before the dead-man's switch heard the end: the
/// rerun seals nothing new and sends the night's notification again, and the switch hears it
/// finish, so the receivers are told, never left with a start that has no end.
#[tokio::test]
async fn a_run_killed_mid_notification_is_notified_again_by_the_rerun() {
    let night = Night::new();
    let (hook, deadman) = (Receiver::start(200), Receiver::start(200));
    let config = night.path().join("recaudit.toml");
    std::fs::write(
        &config,
        "[notify]\n[[notify.webhooks]]\nformat = \"json\"\nurl_env = \"HOOK_URL\"\n\
         [notify.deadman]\nurl_env = \"DEADMAN_URL\"\n",
    )
    .unwrap();
    let run = |kill: Option<&str>| {
        let mut command =
            night.sim_command(&["--config", config.to_str().unwrap()], "2026-11-01", SMALL);
        command
            .env("HOOK_URL", format!("{}/hook", hook.url))
            .env("DEADMAN_URL", format!("{}/ping", deadman.url));
        if let Some(point) = kill {
            command.env("RECAUDIT_KILL_AT", point);
        }
        command.output().unwrap()
    };
    let killed = run(Some("mid-notification"));
    assert_eq!(
        killed.status.code(),
        None,
        "killed: {}",
        text(&killed.stderr)
    );
    assert_eq!(hook.seen().len(), 1);
    let pings = || -> Vec<String> { deadman.seen().into_iter().map(|(p, _)| p).collect() };
    assert_eq!(pings(), ["/ping/start"]);

    assert_exit(&run(None), 1, "exceptions");
    let posted = hook.seen();
    assert_eq!(posted.len(), 2);
    let first: serde_json::Value = serde_json::from_str(&posted[0].1).unwrap();
    let second: serde_json::Value = serde_json::from_str(&posted[1].1).unwrap();
    // The rerun's summary names no new run (the verdicts stood) and the same checkpoint.
    assert_eq!(first["runs"].as_array().unwrap().len(), 1);
    assert_eq!(second["runs"], json!([]));
    assert_eq!(first["checkpoint"], second["checkpoint"]);
    assert_eq!(pings(), ["/ping/start", "/ping/start", "/ping"]);
    assert_eq!(night.runs().await.len(), 1);
    night.verify();
}

/// A window that fails does not take the others down: here the platform no longer knows an
/// earlier night's pending conversation (404; the simulated org of night 2 is smaller), so that
/// window gets no verdict and stays open, while tonight's is audited and sealed.
#[tokio::test]
async fn an_earlier_window_that_fails_leaves_tonight_audited() {
    let night = Night::new();
    assert_exit(&night.sim_night("2026-11-01", FULL, None), 1, "exceptions");
    let output = night.sim_night("2026-11-02", SMALL, None);
    assert_exit(&output, 3, "source-failed");
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("window [2026-11-01T00:00:00.000Z, 2026-11-02T00:00:00.000Z) (UTC, revisited): no verdict"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "window [2026-11-02T00:00:00.000Z, 2026-11-03T00:00:00.000Z) (UTC): sealed run"
        ),
        "{stdout}"
    );
    assert!(
        text(&output.stderr).contains("HTTP 404"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(night.runs().await.len(), 2);
    night.verify();
}
