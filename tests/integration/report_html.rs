//! report.html in a real browser, and report.pdf: a simulated night is audited by the real
//! binary (`run --source sim`, with an `--as-of` inside the grace window so that the run has
//! exceptions, pending and complete interactions), then its report.html is opened in headless
//! Chromium through chromedriver (the W3C WebDriver protocol over HTTP, spoken with reqwest) and
//! checked from the DOM against the findings the database holds; and printed to PDF with
//! `recaudit::report::render_pdf`, read back with poppler's `pdfinfo` and `pdftotext`.
//!
//! Chromium and chromedriver are found in `RECAUDIT_TEST_CHROMIUM` and
//! `RECAUDIT_TEST_CHROMEDRIVER` (set by .ci/run). Without them these tests FAIL, saying how to
//! enable them: they never pass without having run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use recaudit::audit::Finding;
use recaudit::store::Store;
use serde_json::{Value, json};

use crate::support::*;

pub const CHROMIUM_VARIABLE: &str = "RECAUDIT_TEST_CHROMIUM";
pub const CHROMEDRIVER_VARIABLE: &str = "RECAUDIT_TEST_CHROMEDRIVER";

/// The DOM probe the browser test runs (tests/report_browser/probe.js).
const PROBE: &str = include_str!("../report_browser/probe.js");

/// Collects script errors and console errors from the first line of the page on (installed
/// through the DevTools protocol before the report loads).
const ERROR_HOOK: &str = "window.__recauditErrors = [];\
    window.addEventListener('error', function (e) { window.__recauditErrors.push(String(e.message)); });\
    var original = console.error; console.error = function () {\
      window.__recauditErrors.push(Array.prototype.join.call(arguments, ' '));\
      return original.apply(console, arguments); };";

fn tool(variable: &str, package: &str) -> PathBuf {
    let path = std::env::var_os(variable).unwrap_or_else(|| {
        panic!(
            "{variable} is not set: the report browser and PDF tests need headless Chromium and \
             chromedriver. Install them as .ci/run does (`apt-get install chromium \
             chromium-driver poppler-utils`), then `export {CHROMIUM_VARIABLE}=/usr/bin/chromium \
             {CHROMEDRIVER_VARIABLE}=/usr/bin/chromedriver`"
        )
    });
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "{variable}={} is not a file (package {package})",
        path.display()
    );
    path
}

/// A sealed run of a simulated night with exceptions, pending and complete interactions: its
/// report folder, run id and findings (read from the database, the source of every report file).
struct SealedRun {
    dir: tempfile::TempDir,
    reports: PathBuf,
    run_id: String,
    findings: Vec<Finding>,
}

async fn sealed_run() -> SealedRun {
    let dir = tempfile::tempdir().unwrap();
    let run = binary(dir.path())
        .args([
            "--db",
            "sqlite://r.db",
            "run",
            "--source",
            "sim",
            "--window",
            "2026-07-14",
        ])
        .args([
            "--as-of",
            "2026-07-15T06:00:00Z",
            "--sim-conversations",
            "60",
            "--sim-rate-limit",
            SIM_FAST_RATE,
        ])
        .args(["--reports-dir", "reports"])
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    let runs: Vec<PathBuf> = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let reports = runs[0].clone();
    let run_id = reports.file_name().unwrap().to_string_lossy().into_owned();
    let store = Store::open_existing(&format!("sqlite://{}", dir.path().join("r.db").display()))
        .await
        .unwrap();
    let findings = recaudit::pipeline::load_findings(&store, &run_id)
        .await
        .and_then(|f| f.to_vec())
        .unwrap();
    for status in ["exception", "pending", "complete"] {
        assert!(
            findings.iter().any(|f| f.status.code() == status),
            "the simulated night has no {status} interaction"
        );
    }
    cross_check_findings_json(&reports, &findings);
    SealedRun {
        dir,
        reports,
        run_id,
        findings,
    }
}

/// findings.json against the database's findings: the two oracles the DOM is checked against
/// must agree.
fn cross_check_findings_json(reports: &Path, findings: &[Finding]) {
    let json: Value =
        serde_json::from_slice(&std::fs::read(reports.join("findings.json")).unwrap()).unwrap();
    let rows = json["findings"]
        .as_array()
        .expect("findings.json lists the findings");
    let listed: BTreeMap<&str, &str> = rows
        .iter()
        .map(|r| {
            (
                r["interaction"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    let stored: BTreeMap<&str, &str> = findings
        .iter()
        .map(|f| (f.interaction.as_str(), f.status.code()))
        .collect();
    assert_eq!(listed, stored, "findings.json and the database disagree");
}

fn completeness(findings: &[Finding]) -> String {
    let complete = findings
        .iter()
        .filter(|f| f.status.code() == "complete")
        .count();
    let judged = complete
        + findings
            .iter()
            .filter(|f| f.status.code() == "exception")
            .count();
    let basis_points = complete * 10_000 / judged;
    format!("{}.{:02}%", basis_points / 100, basis_points % 100)
}

/// chromedriver on a free loopback port, killed when dropped.
struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(tool(CHROMEDRIVER_VARIABLE, "chromium-driver"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = driver
                .http
                .get(format!("{}/status", driver.base))
                .send()
                .await;
            if let Ok(answer) = status {
                let body: Value = answer.json().await.unwrap_or(Value::Null);
                if body["value"]["ready"] == json!(true) {
                    return driver;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// One WebDriver command; its `value`, or a panic naming the command and the error.
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = answer.status();
        let body: Value = answer.json().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body["value"].clone()
    }
}

struct Session<'a> {
    driver: &'a Driver,
    id: String,
    /// Chromium's profile, removed with the session.
    _profile: tempfile::TempDir,
}

impl Session<'_> {
    async fn new(driver: &Driver) -> Session<'_> {
        let chromium = tool(CHROMIUM_VARIABLE, "chromium");
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,1600",
                    format!("--user-data-dir={}", profile.path().display())],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let value = driver
            .call(reqwest::Method::POST, "/session", Some(capabilities))
            .await;
        let id = value["sessionId"].as_str().unwrap().to_string();
        Session {
            driver,
            id,
            _profile: profile,
        }
    }

    async fn post(&self, command: &str, body: Value) -> Value {
        self.driver
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/{command}", self.id),
                Some(body),
            )
            .await
    }

    async fn run(&self, script: &str) -> Value {
        self.post("execute/sync", json!({"script": script, "args": []}))
            .await
    }

    async fn probe(&self) -> Value {
        self.run(PROBE).await
    }

    async fn close(self) {
        let path = format!("/session/{}", self.id);
        self.driver.call(reqwest::Method::DELETE, &path, None).await;
    }
}

fn ids(probe: &Value, visible_only: bool) -> Vec<String> {
    probe["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !visible_only || r["visible"] == json!(true))
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// The browser shows what the database holds: counts, completeness, one row per exception and
/// pending interaction, the charts' bars; sorting and filtering work; no script error; and a
/// screenshot of a real rendering.
#[tokio::test]
async fn report_html_in_headless_chromium_shows_the_findings_and_its_controls_work() {
    // Fail at once, before the 12 s night, when the browser is not configured.
    tool(CHROMIUM_VARIABLE, "chromium");
    tool(CHROMEDRIVER_VARIABLE, "chromium-driver");
    let sealed = sealed_run().await;
    let html = sealed.reports.join("report.html");
    let findings = &sealed.findings;
    let driver = Driver::start().await;
    let session = Session::new(&driver).await;
    session
        .post("goog/cdp/execute", json!({"cmd": "Page.addScriptToEvaluateOnNewDocument", "params": {"source": ERROR_HOOK}}))
        .await;
    let url = format!("file://{}", html.canonicalize().unwrap().display());
    session.post("url", json!({"url": url})).await;
    let probe = session.probe().await;

    // The summary numbers are the database's.
    let mut statuses: BTreeMap<&str, u64> = BTreeMap::new();
    for f in findings {
        *statuses.entry(f.status.code()).or_default() += 1;
    }
    assert_eq!(probe["counts"]["total"], json!(findings.len()), "{probe}");
    for status in [
        "complete",
        "exception",
        "pending",
        "excluded",
        "not-required",
    ] {
        let expected = statuses.get(status).copied().unwrap_or(0);
        assert_eq!(
            probe["counts"][status],
            json!(expected),
            "{status}: {probe}"
        );
    }
    assert_eq!(probe["completeness"], json!(completeness(findings)));

    // One row per exception and per pending interaction, ids as stored.
    let by_status = |status: &str| -> BTreeSet<String> {
        findings
            .iter()
            .filter(|f| f.status.code() == status)
            .map(|f| f.interaction.clone())
            .collect()
    };
    let rows = probe["rows"].as_array().unwrap();
    for status in ["exception", "pending"] {
        let listed: BTreeSet<String> = rows
            .iter()
            .filter(|r| r["status"] == json!(status))
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(listed, by_status(status), "{status} rows");
    }
    assert_eq!(
        rows.len(),
        by_status("exception").len() + by_status("pending").len()
    );
    assert_eq!(probe["shown"], json!(rows.len()));

    // The charts: one bar per local day (UTC here), queue, exception reason and run.
    let days: BTreeSet<&str> = findings.iter().map(|f| &f.started[..10]).collect();
    let mut queues: BTreeSet<&str> = findings
        .iter()
        .flat_map(|f| f.queues.iter().map(String::as_str))
        .collect();
    if findings.iter().any(|f| f.queues.is_empty()) {
        queues.insert("(no queue)");
    }
    let reasons: BTreeSet<&str> = findings
        .iter()
        .filter(|f| f.status.code() == "exception")
        .flat_map(|f| f.reasons.iter().map(|r| r.code()))
        .collect();
    for (chart, bars) in [
        ("chart-days", days.len()),
        ("chart-queues", queues.len()),
        ("chart-reasons", reasons.len()),
        ("chart-trend", 1),
    ] {
        assert_eq!(
            probe["charts"][chart]["bars"],
            json!(bars),
            "{chart}: {probe}"
        );
        assert!(
            !probe["charts"][chart]["title"].as_str().unwrap().is_empty(),
            "{chart} has no title"
        );
    }
    assert_eq!(probe["certificate"], json!(true));
    assert_eq!(
        probe["legend"],
        json!(5 + 18),
        "every status and reason in the legend"
    );

    check_sorting(&session).await;
    check_filters(&session, findings).await;

    let errors = session.probe().await["errors"].clone();
    assert_eq!(errors, json!([]), "script or console errors");
    let log = session.post("se/log", json!({"type": "browser"})).await;
    let severe: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["level"] == json!("SEVERE"))
        .collect();
    assert!(severe.is_empty(), "browser log errors: {severe:?}");

    let png = base64::engine::general_purpose::STANDARD
        .decode(
            session
                .driver
                .call(
                    reqwest::Method::GET,
                    &format!("/session/{}/screenshot", session.id),
                    None,
                )
                .await
                .as_str()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "the screenshot is a PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert!(width >= 800 && height >= 600, "{width}x{height}");
    assert!(
        png.len() > 30_000,
        "a {} byte screenshot is a blank page",
        png.len()
    );
    std::fs::write(sealed.dir.path().join("report.png"), &png).unwrap();
    session.close().await;
}

/// Clicking the Interaction header sorts the rows by id, again reverses them.
async fn check_sorting(session: &Session<'_>) {
    let before = ids(&session.probe().await, false);
    let mut sorted = before.clone();
    sorted.sort();
    let click = "document.querySelectorAll('#exceptions thead th button')[10].click();";
    session.run(click).await;
    assert_eq!(
        ids(&session.probe().await, false),
        sorted,
        "ascending by interaction"
    );
    session.run(click).await;
    sorted.reverse();
    assert_eq!(
        ids(&session.probe().await, false),
        sorted,
        "descending by interaction"
    );
    // By local time: the UTC start in data-key orders rows chronologically.
    session
        .run("document.querySelectorAll('#exceptions thead th button')[0].click();")
        .await;
    let keys = session
        .run("return Array.prototype.map.call(document.querySelectorAll('#exceptions tbody tr td:first-child'), function (c) { return c.getAttribute('data-key'); });")
        .await;
    let keys: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{keys:?}");
}

/// Typing an id leaves its row alone; choosing a reason leaves the rows that have it.
async fn check_filters(session: &Session<'_>, findings: &[Finding]) {
    let all = ids(&session.probe().await, false);
    let target = all[all.len() / 2].clone();
    let typed = format!(
        "var box = document.getElementById('filter'); box.value = {}; box.dispatchEvent(new Event('input'));",
        json!(target)
    );
    session.run(&typed).await;
    let probe = session.probe().await;
    assert_eq!(ids(&probe, true), vec![target.clone()]);
    assert_eq!(probe["shown"], json!(1));
    session
        .run("var box = document.getElementById('filter'); box.value = ''; box.dispatchEvent(new Event('input'));")
        .await;
    assert_eq!(ids(&session.probe().await, true).len(), all.len());

    let exception = findings
        .iter()
        .find(|f| f.status.code() == "exception")
        .unwrap();
    let reason = exception.reasons[0].code();
    let chosen = format!(
        "var s = document.getElementById('reason-filter'); s.value = {}; s.dispatchEvent(new Event('change'));",
        json!(reason)
    );
    session.run(&chosen).await;
    let probe = session.probe().await;
    let expected: BTreeSet<String> = findings
        .iter()
        .filter(|f| matches!(f.status.code(), "exception" | "pending"))
        .filter(|f| f.reasons.iter().any(|r| r.code() == reason))
        .map(|f| f.interaction.clone())
        .collect();
    let visible: BTreeSet<String> = ids(&probe, true).into_iter().collect();
    assert_eq!(visible, expected, "rows with {reason}");
    assert!(visible.len() < all.len(), "the reason filter hid nothing");
    assert_eq!(probe["shown"], json!(expected.len()));
}

/// report.pdf: Chromium prints report.html; the PDF's text holds the run id, the completeness
/// and an exception's interaction id.
#[tokio::test]
async fn report_pdf_prints_the_html_report() {
    let chromium = tool(CHROMIUM_VARIABLE, "chromium");
    let sealed = sealed_run().await;
    // Through the binary, as an operator asks for it: `report --format pdf` finds Chromium on
    // PATH, regenerates report.html (checked against the manifest) and prints it.
    let path = std::env::join_paths(chromium.parent().map(Path::to_path_buf).into_iter().chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let report = binary(sealed.dir.path())
        .args(["--db", "sqlite://r.db", "--reports-dir", "reports"])
        .args(["report", "--run", &sealed.run_id, "--format", "pdf"])
        .env("PATH", path)
        .output()
        .unwrap();
    assert_eq!(
        report.status.code(),
        Some(0),
        "{}{}",
        text(&report.stdout),
        text(&report.stderr)
    );
    let pdf = sealed.reports.join("report.pdf");
    assert!(
        text(&report.stdout).contains("PDF: "),
        "{}",
        text(&report.stdout)
    );
    let info = Command::new("pdfinfo")
        .arg(&pdf)
        .output()
        .expect("pdfinfo (package poppler-utils)");
    let info = text(&info.stdout);
    let pages: u32 = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{info}"));
    assert!(pages >= 1, "{info}");
    let words = Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext (package poppler-utils)");
    // Long ids wrap inside table cells: compare without whitespace.
    let flat: String = text(&words.stdout).split_whitespace().collect();
    assert!(flat.contains(&sealed.run_id), "run id missing from the PDF");
    assert!(
        flat.contains(&completeness(&sealed.findings)),
        "completeness missing from the PDF"
    );
    let exception = sealed
        .findings
        .iter()
        .find(|f| f.status.code() == "exception")
        .unwrap();
    assert!(
        flat.contains(&exception.interaction),
        "{} missing from the PDF",
        exception.interaction
    );
}

/// A Chromium that cannot be run is named in the error.
#[test]
fn report_pdf_names_a_chromium_that_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    std::fs::write(&html, "<!doctype html><title>t</title>").unwrap();
    let missing = dir.path().join("no-chromium-here");
    let error =
        recaudit::report::render_pdf(&html, &dir.path().join("r.pdf"), Some(&missing)).unwrap_err();
    assert!(error.to_string().contains("cannot run"), "{error}");
}
