//! notify over real HTTP on loopback: a hand-rolled HTTP/1.1 receiver (tokio `TcpListener`)
//! that records every request and answers from a script (a status, or never).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::time::Timestamp;

/// A checkpoint as the ledger writes one: C2SP signed-note text, the signature line after a
/// blank line, starting with U+2014 (the bytes every notification must carry unchanged).
const NOTE: &str = "recaudit.example/ledger\n42\nq3Vd8x/Gf0yY5n2c+f9JkLw1mZ3s8Hq0Xk7pT1aBcDe=\n\n\u{2014} recaudit.example/ledger Az3kq1u0Zk9yNf0c2Vw4rJm8Xb5sT6hP+Gd1eLo7aQ2iRt9uYw==\n";

/// The token part of every test URL: it must never reach a log, a receipt or a Debug.
const TOKEN: &str = "T000SECRET/B111SECRET/XXXXtokenXXXX";

#[derive(Clone, Copy)]
enum Answer {
    Status(u16),
    Hang,
}

#[derive(Debug, Clone)]
struct Request {
    path: String,
    body: String,
}

struct Receiver {
    base: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    /// Answers request n with `script[n]`, and `then` after the script.
    async fn start(script: Vec<Answer>, then: Answer) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let seen = Arc::clone(&requests);
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    break;
                };
                let Some(request) = read_request(&mut socket).await else {
                    continue;
                };
                let n = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(request);
                    seen.len() - 1
                };
                match script.get(n).copied().unwrap_or(then) {
                    Answer::Status(status) => {
                        let body = if status == 200 { "ok" } else { "no" };
                        let head = format!(
                            "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = socket.write_all(head.as_bytes()).await;
                        let _ = socket.shutdown().await;
                    }
                    Answer::Hang => {
                        tokio::spawn(async move {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            drop(socket);
                        });
                    }
                }
            }
        });
        Receiver { base, requests }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// The receiver's URL with the secret token path.
    fn url(&self) -> String {
        format!("{}/services/{TOKEN}", self.base)
    }
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Request> {
    let mut data = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        let read = socket.read(&mut buffer).await.ok()?;
        if read == 0 {
            return None;
        }
        data.extend_from_slice(&buffer[..read]);
        let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&data[..end]).to_string();
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().to_string())
            })
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if data.len() >= end + 4 + length {
            let path = head
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]).to_string();
            return Some(Request { path, body });
        }
    }
}

/// A 0600 file holding `url`, as `url_file` wants it.
fn secret_file(dir: &Path, name: &str, url: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{url}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}

fn hook(format: Format, url_file: PathBuf) -> Webhook {
    Webhook {
        format,
        url_env: None,
        url_file: Some(url_file),
        on: default_on(),
    }
}

fn fast() -> NotifySettings {
    NotifySettings {
        timeout_seconds: 2,
        retries: 3,
        backoff_millis: 10,
        ..NotifySettings::default()
    }
}

fn summary(outcome: Outcome, exit_status: u8) -> RunSummary {
    let t = |s: &str| Timestamp::parse(s).unwrap();
    RunSummary {
        version: "0.1.0".into(),
        host: "audit-01".into(),
        outcome,
        exit_status,
        message: "3 exceptions in 120 conversations".into(),
        window_from: t("2026-07-14T00:00:00Z"),
        window_to: t("2026-07-15T00:00:00Z"),
        time_zone: "Europe/Berlin".into(),
        runs: vec!["run-7".into()],
        supersedes: vec!["run-5".into()],
        started: t("2026-07-15T02:00:00Z"),
        finished: t("2026-07-15T02:03:20.500Z"),
        duration_seconds: 200.5,
        conversations: 120,
        statuses: BTreeMap::from([("complete".into(), 117), ("exception".into(), 3)]),
        reasons: BTreeMap::from([("no-recording".into(), 2), ("no-media".into(), 1)]),
        completeness_percent: Some(97.5),
        checkpoint: Some(Checkpoint {
            note: NOTE.into(),
            size: 42,
            root: "q3Vd8x/Gf0yY5n2c+f9JkLw1mZ3s8Hq0Xk7pT1aBcDe=".into(),
        }),
        report_dir: Some("reports/run-7".into()),
    }
}

fn json(request: &Request) -> Value {
    serde_json::from_str(&request.body).unwrap()
}

#[tokio::test]
async fn each_format_has_its_shape_and_carries_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(vec![], Answer::Status(200)).await;
    let mut settings = fast();
    for (i, format) in [Format::Json, Format::Slack, Format::Teams]
        .into_iter()
        .enumerate()
    {
        let url = format!("{}/{i}/{TOKEN}", receiver.base);
        settings.webhooks.push(hook(
            format,
            secret_file(dir.path(), &format!("u{i}"), &url),
        ));
    }
    let delivery = notify(&settings, &summary(Outcome::Exceptions, 1)).await;
    assert_eq!(delivery.failed().count(), 0, "{delivery}");
    assert_eq!(delivery.delivered().count(), 3);
    let mut requests = receiver.requests();
    requests.sort_by(|a, b| a.path.cmp(&b.path));
    assert!(
        requests
            .iter()
            .all(|r| r.body.contains("\\u2014") || r.body.contains('\u{2014}'))
    );

    let plain = json(&requests[0]);
    assert_eq!(plain["schema"], SUMMARY_SCHEMA);
    assert_eq!(plain["outcome"], "exceptions");
    assert_eq!(plain["exit_status"], 1);
    assert_eq!(plain["window_from"], "2026-07-14T00:00:00.000Z");
    assert_eq!(plain["statuses"]["exception"], 3);
    assert_eq!(plain["completeness_percent"], 97.5);
    assert_eq!(plain["checkpoint"]["note"], NOTE);
    assert_eq!(plain["checkpoint"]["size"], 42);

    let slack = json(&requests[1]);
    assert!(slack["text"].as_str().unwrap().contains("EXCEPTIONS"));
    let blocks = slack["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    let rich = blocks.iter().find(|b| b["type"] == "rich_text").unwrap();
    assert_eq!(rich["elements"][1]["type"], "rich_text_preformatted");
    assert_eq!(rich["elements"][1]["elements"][0]["text"], NOTE);

    let teams = json(&requests[2]);
    assert_eq!(teams["type"], "message");
    let attachment = &teams["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(attachment["content"]["type"], "AdaptiveCard");
    let card = attachment["content"]["body"].as_array().unwrap();
    let rich = card.iter().find(|b| b["type"] == "RichTextBlock").unwrap();
    assert_eq!(rich["inlines"][0]["text"], NOTE);
    assert_eq!(card[1]["type"], "FactSet");
}

#[tokio::test]
async fn a_receiver_failing_twice_is_retried_and_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(
        vec![Answer::Status(500), Answer::Status(503)],
        Answer::Status(200),
    )
    .await;
    let mut settings = fast();
    settings.webhooks.push(hook(
        Format::Json,
        secret_file(dir.path(), "u", &receiver.url()),
    ));
    let delivery = notify(&settings, &summary(Outcome::Failure, 2)).await;
    assert_eq!(delivery.receipts.len(), 1);
    assert_eq!(delivery.receipts[0].error, None, "{delivery}");
    assert_eq!(delivery.receipts[0].attempts, 3);
    assert_eq!(receiver.requests().len(), 3);
}

#[tokio::test]
async fn a_receiver_always_failing_is_reported_after_the_retries() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(vec![Answer::Status(429)], Answer::Status(500)).await;
    let mut settings = fast();
    settings.webhooks.push(hook(
        Format::Slack,
        secret_file(dir.path(), "u", &receiver.url()),
    ));
    let delivery = notify(&settings, &summary(Outcome::Failure, 2)).await;
    let receipt = &delivery.receipts[0];
    assert_eq!(receipt.attempts, 4);
    let error = receipt.error.as_deref().unwrap();
    assert!(error.contains("HTTP 500"), "{error}");
    assert_eq!(receiver.requests().len(), 4);
    assert!(
        receipt
            .receiver
            .starts_with("webhooks[0] slack http://127.0.0.1:"),
        "{}",
        receipt.receiver
    );
    assert!(
        delivery.to_string().contains("failed after 4 attempts"),
        "{delivery}"
    );
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(vec![], Answer::Status(404)).await;
    let mut settings = fast();
    settings.webhooks.push(hook(
        Format::Teams,
        secret_file(dir.path(), "u", &receiver.url()),
    ));
    let delivery = notify(&settings, &summary(Outcome::BelowThreshold, 1)).await;
    assert_eq!(delivery.receipts[0].attempts, 1);
    assert!(
        delivery.receipts[0]
            .error
            .as_deref()
            .unwrap()
            .contains("404")
    );
}

#[tokio::test]
async fn a_hanging_receiver_is_bounded_by_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let hanging = Receiver::start(vec![], Answer::Hang).await;
    let good = Receiver::start(vec![], Answer::Status(200)).await;
    let settings = NotifySettings {
        timeout_seconds: 1,
        retries: 1,
        backoff_millis: 100,
        webhooks: vec![
            hook(
                Format::Json,
                secret_file(dir.path(), "hang", &hanging.url()),
            ),
            hook(Format::Json, secret_file(dir.path(), "good", &good.url())),
        ],
        ..NotifySettings::default()
    };
    let started = Instant::now();
    let delivery = notify(&settings, &summary(Outcome::Exceptions, 1)).await;
    let elapsed = started.elapsed();
    // timeout × (retries + 1) + backoff, and some slack for a loaded machine.
    assert!(
        elapsed < Duration::from_millis(2 * 1000 + 100 + 1500),
        "{elapsed:?}"
    );
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    assert_eq!(delivery.receipts[0].attempts, 2);
    assert!(
        delivery.receipts[0]
            .error
            .as_deref()
            .unwrap()
            .contains("no answer within 1 s"),
        "{delivery}"
    );
    assert_eq!(
        delivery.receipts[1].error, None,
        "the other receiver is served meanwhile"
    );
    assert_eq!(hanging.requests().len(), 2);
}

#[tokio::test]
async fn on_chooses_the_receivers_of_an_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(vec![], Answer::Status(200)).await;
    let url = secret_file(dir.path(), "u", &receiver.url());
    let mut settings = fast();
    settings.webhooks.push(hook(Format::Json, url.clone()));
    settings.webhooks.push(Webhook {
        on: vec![Trigger::Success],
        ..hook(Format::Slack, url.clone())
    });
    settings.webhooks.push(Webhook {
        on: vec![Trigger::Exceptions],
        ..hook(Format::Teams, url)
    });
    // A clean run: only the `success` receiver (the default `on` leaves it out).
    let clean = notify(&settings, &summary(Outcome::Ok, 0)).await;
    assert_eq!(clean.receipts.len(), 1);
    assert!(clean.receipts[0].receiver.starts_with("webhooks[1] slack"));
    // Below the threshold is also a run with exceptions.
    let below = notify(&settings, &summary(Outcome::BelowThreshold, 1)).await;
    let names: Vec<&str> = below.receipts.iter().map(|r| &r.receiver[..11]).collect();
    assert_eq!(names, ["webhooks[0]", "webhooks[2]"]);
    // A failure: not the `exceptions`-only receiver.
    let failed = notify(&settings, &summary(Outcome::NotCovered, 3)).await;
    assert_eq!(failed.receipts.len(), 1);
    assert_eq!(receiver.requests().len(), 4);
    assert!(
        notify(&NotifySettings::default(), &summary(Outcome::Failure, 2))
            .await
            .receipts
            .is_empty()
    );
}

#[tokio::test]
async fn an_unreadable_url_is_a_failed_receiver_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = fast();
    settings.webhooks.push(Webhook {
        format: Format::Json,
        url_env: Some("RECAUDIT_TEST_NOTIFY_SURELY_UNSET_VARIABLE".into()),
        url_file: None,
        on: default_on(),
    });
    settings
        .webhooks
        .push(hook(Format::Json, dir.path().join("missing")));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let open = secret_file(dir.path(), "open", "http://127.0.0.1:9/x");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        settings.webhooks.push(hook(Format::Json, open));
    }
    settings.webhooks.push(hook(
        Format::Json,
        secret_file(dir.path(), "ftp", "ftp://example.com/x"),
    ));
    let delivery = notify(&settings, &summary(Outcome::Failure, 2)).await;
    let errors: Vec<&str> = delivery
        .failed()
        .map(|r| r.error.as_deref().unwrap())
        .collect();
    assert!(
        errors[0].contains("RECAUDIT_TEST_NOTIFY_SURELY_UNSET_VARIABLE is not set"),
        "{errors:?}"
    );
    assert!(
        errors[1].contains("cannot read the secret file"),
        "{errors:?}"
    );
    #[cfg(unix)]
    assert!(errors[2].contains("chmod 600"), "{errors:?}");
    assert!(
        errors
            .last()
            .unwrap()
            .contains("unsupported URL scheme `ftp`"),
        "{errors:?}"
    );
    assert!(delivery.receipts.iter().all(|r| r.attempts <= 1));
}

#[tokio::test]
async fn the_deadman_is_pinged_at_start_success_and_failure() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(vec![], Answer::Status(200)).await;
    let mut settings = fast();
    assert_eq!(
        ping_start(&settings).await,
        None,
        "no [notify.deadman], no ping"
    );
    settings.deadman = Some(Deadman {
        url_env: None,
        url_file: Some(secret_file(
            dir.path(),
            "d",
            &format!("{}/ping/{TOKEN}/", receiver.base),
        )),
    });
    let start = ping_start(&settings).await.unwrap();
    assert_eq!(start.error, None);
    assert_eq!(
        ping_finish(&settings, &summary(Outcome::Exceptions, 1))
            .await
            .unwrap()
            .error,
        None
    );
    ping_finish(&settings, &summary(Outcome::Failure, 2))
        .await
        .unwrap();
    ping_finish(&settings, &summary(Outcome::Failure, 0))
        .await
        .unwrap();
    let requests = receiver.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    let base = format!("/ping/{TOKEN}");
    assert_eq!(
        paths,
        [
            format!("{base}/start"),
            base.clone(),
            format!("{base}/2"),
            format!("{base}/fail")
        ]
    );
    assert!(requests[1].body.contains(NOTE), "{}", requests[1].body);
    assert!(requests[1].body.contains("EXCEPTIONS"));
    assert!(
        start
            .receiver
            .starts_with("deadman start http://127.0.0.1:")
    );
}

#[tokio::test]
async fn a_failing_deadman_is_reported_within_its_bound() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(vec![], Answer::Status(502)).await;
    let settings = NotifySettings {
        deadman: Some(Deadman {
            url_env: None,
            url_file: Some(secret_file(dir.path(), "d", &receiver.url())),
        }),
        retries: 2,
        ..fast()
    };
    let receipt = ping_finish(&settings, &summary(Outcome::Ok, 0))
        .await
        .unwrap();
    assert_eq!(receipt.attempts, 3);
    assert!(receipt.error.unwrap().contains("502"));
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_stay_out_of_logs_receipts_and_debug() {
    let dir = tempfile::tempdir().unwrap();
    let failing = Receiver::start(vec![], Answer::Status(500)).await;
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // A refused connection too: reqwest's own error text names the URL unless told not to.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://{}/hooks/{TOKEN}", closed.local_addr().unwrap());
    drop(closed);
    let mut settings = NotifySettings {
        retries: 1,
        ..fast()
    };
    settings.webhooks.push(hook(
        Format::Json,
        secret_file(dir.path(), "a", &failing.url()),
    ));
    settings.webhooks.push(hook(
        Format::Slack,
        secret_file(dir.path(), "b", &closed_url),
    ));
    settings.deadman = Some(Deadman {
        url_env: None,
        url_file: Some(secret_file(dir.path(), "d", &closed_url)),
    });
    let delivery = notify(&settings, &summary(Outcome::Failure, 2)).await;
    let ping = ping_finish(&settings, &summary(Outcome::Failure, 2))
        .await
        .unwrap();
    assert_eq!(delivery.failed().count(), 2, "{delivery}");
    assert!(ping.error.is_some());
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("notification not delivered"), "{logs}");
    assert!(logs.contains("http://127.0.0.1:"), "{logs}");
    for text in [
        logs,
        delivery.to_string(),
        format!("{delivery:?}"),
        format!("{ping:?}"),
        format!("{settings:?}"),
        serde_json::to_string(&delivery).unwrap(),
    ] {
        assert!(!text.contains("SECRET"), "a secret leaked: {text}");
    }
    let secret = Secret::new(format!("https://hooks.slack.com/services/{TOKEN}"));
    assert_eq!(send::redact(&secret), "https://hooks.slack.com");
    assert_eq!(
        send::scrub(&format!("error for url ({})", secret.expose()), &secret),
        "error for url (https://hooks.slack.com)"
    );
}

fn parse_metrics(text: &str) -> BTreeMap<String, String> {
    assert!(text.ends_with('\n'));
    let mut samples = BTreeMap::new();
    let mut typed = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!(kind, "gauge");
            typed.push(name.to_string());
        } else if line.starts_with("# HELP ") {
            continue;
        } else {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let family = series.split('{').next().unwrap();
            assert_eq!(
                typed.last().map(String::as_str),
                Some(family),
                "{line}: no TYPE before it"
            );
            value.parse::<f64>().unwrap();
            samples.insert(series.to_string(), value.to_string());
        }
    }
    samples
}

#[test]
fn the_metrics_file_parses_back_and_keeps_the_last_success() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recaudit.prom");
    let good = summary(Outcome::Exceptions, 1);
    write_metrics(&path, &Metrics::from(&good)).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let samples = parse_metrics(&text);
    let finished = "1784081000"; // 2026-07-15T02:03:20.500Z
    let expected = [
        ("recaudit_completeness_ratio", "0.975"),
        ("recaudit_conversations{status=\"complete\"}", "117"),
        ("recaudit_conversations{status=\"exception\"}", "3"),
        ("recaudit_exceptions{reason=\"no-media\"}", "1"),
        ("recaudit_exceptions{reason=\"no-recording\"}", "2"),
        ("recaudit_last_exit_status", "1"),
        ("recaudit_last_run_timestamp_seconds", finished),
        ("recaudit_last_success_timestamp_seconds", finished),
        ("recaudit_run_duration_seconds", "200.5"),
    ];
    let expected: BTreeMap<String, String> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(samples, expected, "{text}");
    // Sorted labels: `complete` before `exception`, in the file too.
    assert!(text.find("status=\"complete\"").unwrap() < text.find("status=\"exception\"").unwrap());

    // A failed night later: new run time and status, the last success carried over.
    let mut failed = summary(Outcome::Failure, 2);
    failed.finished = Timestamp::parse("2026-07-16T02:00:00Z").unwrap();
    failed.completeness_percent = None;
    failed.statuses.clear();
    failed.reasons.clear();
    write_metrics(&path, &Metrics::from(&failed)).unwrap();
    let samples = parse_metrics(&std::fs::read_to_string(&path).unwrap());
    assert_eq!(samples["recaudit_last_success_timestamp_seconds"], finished);
    assert_eq!(samples["recaudit_last_run_timestamp_seconds"], "1784167200");
    assert_eq!(samples["recaudit_last_exit_status"], "2");
    assert!(!samples.contains_key("recaudit_completeness_ratio"));
    // No temporary file is left beside it.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["recaudit.prom"]);

    // A first run that fails: 0, "never".
    let fresh = dir.path().join("fresh.prom");
    write_metrics(&fresh, &Metrics::from(&failed)).unwrap();
    let samples = parse_metrics(&std::fs::read_to_string(&fresh).unwrap());
    assert_eq!(samples["recaudit_last_success_timestamp_seconds"], "0");
}

#[test]
fn label_values_are_escaped() {
    let mut metrics = Metrics::from(&summary(Outcome::Exceptions, 1));
    metrics.exceptions = BTreeMap::from([("a\"b\\c\nd".to_string(), 1)]);
    let text = metrics::render(&metrics, 0);
    assert!(
        text.contains("recaudit_exceptions{reason=\"a\\\"b\\\\c\\nd\"} 1\n"),
        "{text}"
    );
    assert_eq!(metrics::previous_last_success(&text), Some(0));
    let error = write_metrics(Path::new("/nonexistent-dir/x.prom"), &metrics).unwrap_err();
    assert!(
        error.to_string().contains("cannot write the metrics file"),
        "{error}"
    );
}

const EXAMPLE: &str = r#"
metrics_file = "/var/lib/node_exporter/textfile/recaudit.prom"
timeout_seconds = 10
retries = 3

[[webhooks]]
format = "slack"
url_env = "SLACK_WEBHOOK_URL"

[[webhooks]]
format = "teams"
url_file = "/etc/recaudit/teams-webhook.url"
on = ["failure", "below-threshold"]

[[webhooks]]
format = "json"
url_file = "/etc/recaudit/siem-webhook.url"
on = ["exceptions", "failure", "below-threshold", "success"]

[deadman]
url_file = "/etc/recaudit/healthchecks.url"

[email]
server = "smtp.example.com"
security = "starttls"
from = "recaudit <recaudit@example.com>"
to = ["compliance@example.com"]
username = "recaudit"
password_file = "/etc/recaudit/smtp-password"
"#;

#[test]
fn the_documented_section_parses_and_validates() {
    let settings: NotifySettings = toml::from_str(EXAMPLE).unwrap();
    assert_eq!(settings.webhooks.len(), 3);
    assert_eq!(settings.webhooks[0].on, default_on());
    assert_eq!(
        settings.webhooks[1].on,
        [Trigger::Failure, Trigger::BelowThreshold]
    );
    assert_eq!(settings.backoff_millis, 1000);
    let email = settings.email.as_ref().unwrap();
    assert_eq!(email.port(), 587);
    if cfg!(feature = "email") {
        settings.validate().unwrap();
    } else {
        assert!(
            settings
                .validate()
                .unwrap_err()
                .contains("--features email")
        );
    }
    let empty: NotifySettings = toml::from_str("").unwrap();
    assert_eq!(empty, NotifySettings::default());
    empty.validate().unwrap();
    // Round trip: what config writes back, it reads.
    let again: NotifySettings = toml::from_str(&toml::to_string(&settings).unwrap()).unwrap();
    assert_eq!(again, settings);
}

#[test]
fn validation_names_the_key() {
    let parse = |text: &str| toml::from_str::<NotifySettings>(text);
    // A URL in the file itself is not a key at all.
    let inline =
        parse("[[webhooks]]\nformat = \"slack\"\nurl = \"https://hooks.slack.com/services/x\"\n");
    assert!(
        inline
            .unwrap_err()
            .to_string()
            .contains("unknown field `url`")
    );
    assert!(parse("[[webhooks]]\nformat = \"discord\"\nurl_env = \"X\"\n").is_err());
    assert!(parse("colour = 1\n").is_err());

    let error = |text: &str| parse(text).unwrap().validate().unwrap_err();
    let both = "[[webhooks]]\nformat = \"json\"\nurl_env = \"A\"\n[[webhooks]]\nformat = \"json\"\nurl_env = \"A\"\nurl_file = \"/x\"\n";
    let text = error(both);
    assert!(
        text.starts_with("[notify] webhooks[1]: set exactly one of url_env"),
        "{text}"
    );
    assert!(error("[[webhooks]]\nformat = \"json\"\n").starts_with("[notify] webhooks[0]"));
    assert!(
        error("[[webhooks]]\nformat = \"json\"\nurl_env = \"A\"\non = []\n")
            .contains("`on` is empty")
    );
    assert!(error("timeout_seconds = 0\n").contains("timeout_seconds"));
    assert!(error("[deadman]\n").starts_with("[notify] deadman:"));
    assert!(error("metrics_file = \"/tmp/recaudit.txt\"\n").contains("*.prom"));
    let email = "[email]\nserver = \"smtp.example.com\"\nfrom = \"a@example.com\"\n";
    if cfg!(feature = "email") {
        assert!(error(&format!("{email}to = []\n")).contains("`to` is empty"));
        assert!(
            error(&format!(
                "{email}to = [\"b@example.com\"]\nusername = \"u\"\n"
            ))
            .contains("go together")
        );
        assert!(
            error(&format!("{email}to = [\"b@example.com\"]\nsecurity = \"none\"\nusername = \"u\"\npassword_env = \"P\"\n"))
                .contains("unencrypted")
        );
        assert!(error(&format!("{email}to = [\"not an address\"]\n")).contains("to[0]"));
    } else {
        assert!(error(&format!("{email}to = [\"b@example.com\"]\n")).contains("--features email"));
    }
}

#[test]
fn the_text_rendering_ends_with_the_checkpoint() {
    let text = summary(Outcome::BelowThreshold, 1).text();
    assert!(text.starts_with("recaudit BELOW THRESHOLD on audit-01: 2026-07-14T00:00:00.000Z"));
    assert!(text.ends_with(NOTE), "{text}");
    assert!(text.contains("Completeness: 97.50 %"));
    let mut bare = summary(Outcome::Failure, 2);
    bare.checkpoint = None;
    assert!(!bare.text().contains("Signed checkpoint"));
}

#[cfg(feature = "email")]
#[test]
fn the_email_message_carries_the_summary_and_the_checkpoint() {
    let settings: NotifySettings = toml::from_str(EXAMPLE).unwrap();
    let email = settings.email.unwrap();
    let message = email::message(&email, &summary(Outcome::Exceptions, 1)).unwrap();
    let raw = String::from_utf8(message.formatted()).unwrap();
    assert!(raw.contains("To: compliance@example.com"), "{raw}");
    assert!(
        raw.contains("Subject: recaudit EXCEPTIONS on audit-01"),
        "{raw}"
    );
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(
        head.contains("Content-Transfer-Encoding: quoted-printable"),
        "{head}"
    );
    let decoded = String::from_utf8(quoted_printable(body)).unwrap();
    assert!(decoded.replace("\r\n", "\n").ends_with(NOTE), "{decoded}");
}

/// RFC 2045 section 6.7: soft line breaks (`=` at a line's end) dropped, `=XX` to its byte.
#[cfg(feature = "email")]
fn quoted_printable(text: &str) -> Vec<u8> {
    let joined = text.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}
