//! Test environment and Genesys-shaped JSON builders.
//!
//! `TestEnv` gives each test its own directory with a real SQLite file and a reports folder.
//! The builders write payloads the way Genesys Cloud sends them (camelCase, ISO-8601 with `Z`,
//! export sidecars with `+0000`), so tests exercise the real import path, not hand-made rows.

use std::path::{Path, PathBuf};

use recaudit::audit::{Finding, Policy};
use recaudit::ledger::{Ledger, LedgerSettings};
use recaudit::pipeline::{self, AuditOutcome, AuditWindow};
use recaudit::source::import::{self, ImportOutcome};
use recaudit::store::Store;
use recaudit::time::Timestamp;
use serde_json::{Value, json};

pub const DAY: &str = "2026-07-14";
/// The simulated token's requests per minute (`run --sim-rate-limit`, `demo --rate-limit`) in
/// tests of what comes after the pull: pacing at the platform's 300 a minute is the pull tests'
/// subject (tests/integration/pull.rs); elsewhere it only makes each night last about 15 s.
pub const SIM_FAST_RATE: &str = "6000";
pub const QUEUE: &str = "7d6c5b4a-3e2f-4a1b-9c8d-7e6f5a4b3c2d";
pub const DIVISION: &str = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
pub const ORIGIN: &str = "audit.example.com/recaudit/test";
pub const ORG: &str = "8f3c1d2e-1111-4a5b-9c7d-0e1f2a3b4c5d";

pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub ledger: Ledger,
}

impl TestEnv {
    pub async fn new() -> TestEnv {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("input")).expect("input dir");
        let store = Store::open(&TestEnv::url_in(dir.path()))
            .await
            .expect("open store");
        let key = dir.path().join("ledger.key");
        let (ledger, _) =
            Ledger::open_or_create(ledger_settings(dir.path()), ORIGIN.to_string(), key, 0)
                .expect("ledger key");
        TestEnv { dir, store, ledger }
    }

    /// The database of the test folder `dir`: the file `recaudit.db` in it, or, when the
    /// suite runs on PostgreSQL (`RECAUDIT_TEST_BACKEND=postgres`), a database of its own on
    /// the test server (the same one for every call with the same folder).
    pub fn url_in(dir: &Path) -> String {
        if !on_postgres() {
            return format!("sqlite://{}", dir.join("recaudit.db").display());
        }
        static DATABASES: std::sync::Mutex<Vec<(PathBuf, String)>> =
            std::sync::Mutex::new(Vec::new());
        let mut databases = DATABASES.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, url)) = databases.iter().find(|(d, _)| d == dir) {
            return url.clone();
        }
        let url = fresh_postgres_database("env");
        databases.push((dir.to_path_buf(), url.clone()));
        url
    }

    pub fn input(&self) -> PathBuf {
        self.dir.path().join("input")
    }

    pub fn reports(&self) -> PathBuf {
        self.dir.path().join("reports")
    }

    /// Writes a JSON payload under the input folder.
    pub fn write_json(&self, name: &str, value: &Value) -> PathBuf {
        let path = self.input().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("dirs");
        }
        std::fs::write(&path, serde_json::to_vec_pretty(value).expect("json")).expect("write");
        path
    }

    pub fn write_raw(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.input().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("dirs");
        }
        std::fs::write(&path, bytes).expect("write");
        path
    }

    /// The export folder of a conversation that started at `hour` on [`DAY`].
    pub fn export_dir(&self, conversation: &str, hour: u32) -> String {
        format!("export/{ORG}/year=2026/month=7/day=14/hour={hour}/conversation_id={conversation}")
    }

    /// Writes an exported recording: the sidecar and, when `media` is given, the media file.
    pub fn export_recording(
        &self,
        conversation: &str,
        hour: u32,
        recording: &str,
        sidecar: Value,
        media: Option<&[u8]>,
    ) {
        let dir = self.export_dir(conversation, hour);
        self.write_json(&format!("{dir}/{recording}.opus_metadata.json"), &sidecar);
        if let Some(bytes) = media {
            self.write_raw(&format!("{dir}/{recording}.opus"), bytes);
        }
    }

    pub async fn import(&self) -> ImportOutcome {
        import::import_paths(&self.store, &[self.input()])
            .await
            .expect("import")
    }

    pub async fn audit_with(&self, policy: &Policy, as_of: &str) -> AuditOutcome {
        let window = AuditWindow {
            from: ts(&format!("{DAY}T00:00:00Z")),
            to: ts("2026-07-15T00:00:00Z"),
            as_of: ts(as_of),
        };
        pipeline::run_audit(&self.store, policy, &self.ledger, window, &self.reports())
            .await
            .expect("audit")
    }

    /// Audits [`DAY`] as of `as_of` and returns the run's stored findings.
    pub async fn findings_at(&self, policy: &Policy, as_of: &str) -> Vec<Finding> {
        let outcome = self.audit_with(policy, as_of).await;
        pipeline::load_findings(&self.store, &outcome.run.run_id)
            .await
            .and_then(|f| f.to_vec())
            .expect("findings")
    }

    /// Audits [`DAY`] with the default policy, three days later (grace windows closed).
    pub async fn audit(&self) -> Vec<Finding> {
        let outcome = self
            .audit_with(&Policy::default(), "2026-07-17T12:00:00Z")
            .await;
        pipeline::load_findings(&self.store, &outcome.run.run_id)
            .await
            .and_then(|f| f.to_vec())
            .expect("findings")
    }

    pub async fn finding(&self, conversation: &str) -> Finding {
        self.audit()
            .await
            .into_iter()
            .find(|f| f.interaction == conversation)
            .unwrap_or_else(|| panic!("no finding for {conversation}"))
    }
}

pub fn window(from: &str, to: &str, as_of: &str) -> AuditWindow {
    AuditWindow {
        from: ts(from),
        to: ts(to),
        as_of: ts(as_of),
    }
}

/// Text of a process's output.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A path in the repository.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

pub fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("timestamp")
}

/// `2026-07-14T{hh}:{mm}:{ss}.000Z`
pub fn at(hh: u32, mm: u32, ss: u32) -> String {
    format!("{DAY}T{hh:02}:{mm:02}:{ss:02}.000Z")
}

/// Same instant in the export sidecar form `+0000`.
pub fn at_export(hh: u32, mm: u32, ss: u32) -> String {
    format!("{DAY}T{hh:02}:{mm:02}:{ss:02}.000+0000")
}

pub fn codes(finding: &Finding) -> Vec<&'static str> {
    finding.reasons.iter().map(|r| r.code()).collect()
}

pub fn segment(kind: &str, start: &str, end: &str) -> Value {
    json!({ "segmentType": kind, "segmentStart": start, "segmentEnd": end, "queueId": QUEUE })
}

/// Adds or replaces a field of a JSON object.
pub fn with(mut value: Value, key: &str, field: Value) -> Value {
    value[key] = field;
    value
}

pub fn customer(start: &str, end: &str) -> Value {
    json!({
        "participantId": "p-customer",
        "participantName": "Mobile Number, United States",
        "purpose": "customer",
        "sessions": [{
            "sessionId": "s-customer",
            "mediaType": "voice",
            "direction": "inbound",
            "ani": "tel:+15551230002",
            "segments": [ with(segment("interact", start, end), "disconnectType", json!("endpoint")) ]
        }]
    })
}

pub fn agent(user: &str, segments: Vec<Value>) -> Value {
    agent_media(user, "voice", segments)
}

pub fn agent_media(user: &str, media: &str, segments: Vec<Value>) -> Value {
    json!({
        "participantId": format!("p-{user}"),
        "participantName": "Dana Agent",
        "purpose": "agent",
        "userId": user,
        "sessions": [{
            "sessionId": format!("s-{user}"),
            "mediaType": media,
            "direction": "inbound",
            "provider": "Edge",
            "segments": segments
        }]
    })
}

pub fn ivr(start: &str, end: &str) -> Value {
    json!({
        "participantId": "p-ivr",
        "purpose": "ivr",
        "sessions": [{ "mediaType": "voice", "segments": [segment("ivr", start, end)] }]
    })
}

pub fn conversation(id: &str, start: &str, end: Option<&str>, participants: Vec<Value>) -> Value {
    let mut value = json!({
        "conversationId": id,
        "conversationStart": start,
        "originatingDirection": "inbound",
        "divisionIds": [DIVISION],
        "participants": participants
    });
    if let Some(end) = end {
        value["conversationEnd"] = json!(end);
    }
    value
}

/// An answered inbound call 10:00:00-10:05:00: alert 10:00:10-10:00:20, interact to 10:04:30,
/// wrap-up to 10:05:00.
pub fn answered_call(id: &str) -> Value {
    conversation(
        id,
        &at(10, 0, 0),
        Some(&at(10, 5, 0)),
        vec![
            customer(&at(10, 0, 0), &at(10, 4, 30)),
            agent(
                "user-dana",
                vec![
                    segment("alert", &at(10, 0, 10), &at(10, 0, 20)),
                    with(
                        segment("interact", &at(10, 0, 20), &at(10, 4, 30)),
                        "disconnectType",
                        json!("peer"),
                    ),
                    segment("wrapup", &at(10, 4, 30), &at(10, 5, 0)),
                ],
            ),
        ],
    )
}

/// The seed case: the agent's WebRTC leg alerts until ICE fails (transportFailure, SIP 408).
pub fn ice_failure_call(id: &str) -> Value {
    let mut alert = segment("alert", &at(11, 0, 30), &at(11, 1, 12));
    alert["disconnectType"] = json!("transportFailure");
    alert["errorCode"] = json!("error.ininedgecontrol.connection.webrtc.endpoint.disconnect");
    alert["sipResponseCodes"] = json!([408]);
    conversation(
        id,
        &at(11, 0, 0),
        Some(&at(11, 1, 12)),
        vec![
            customer(&at(11, 0, 0), &at(11, 1, 12)),
            agent("user-dana", vec![alert]),
        ],
    )
}

/// A page of conversation details as the async jobs return it.
pub fn page(conversations: Vec<Value>) -> Value {
    json!({ "conversations": conversations, "dataAvailabilityDate": "2026-07-16T00:00:00.000Z" })
}

/// Recording metadata for the answered call, as `GET .../recordingmetadata` returns it.
pub fn metadata(id: &str, conversation: &str, state: &str) -> Value {
    json!({
        "id": id,
        "conversationId": conversation,
        "endTime": at(10, 4, 30),
        "media": "audio",
        "mediaSubtype": "Trunk",
        "annotations": [],
        "fileState": state,
        "deleteDate": "2033-07-14T10:05:00.000Z",
        "region": "us-east-1",
        "selfUri": format!("/api/v2/conversations/{conversation}/recordingmetadata/{id}")
    })
}

/// An export sidecar covering 10:00:20-10:04:30 (250 s).
pub fn sidecar(conversation: &str, recording: &str) -> Value {
    json!({
        "mediaType": "Call",
        "mediaSubtype": "Trunk",
        "provider": "edge",
        "userIds": ["user-dana"],
        "conversationId": conversation,
        "recordingId": recording,
        "startTime": at_export(10, 0, 20),
        "endTime": at_export(10, 4, 30),
        "durationMs": 250_000,
        "initialDirection": "inbound"
    })
}

/// The real binary, run in `dir` with none of the `RECAUDIT_*` environment or `RUST_LOG`.
pub fn binary(dir: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_recaudit"));
    command
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("RECAUDIT_DB")
        .env_remove("RECAUDIT_LEDGER_KEY")
        .env_remove("RECAUDIT_REPORTS_DIR");
    command
}

/// `audit` of the example night as the README runs it (with `--config examples/recaudit.toml`).
pub const EXAMPLE_AUDIT: [&str; 7] = [
    "audit",
    "--from",
    "2026-07-14",
    "--to",
    "2026-07-15",
    "--as-of",
    "2026-07-16T12:00:00Z",
];

pub const AUDIO: &[u8] = b"OggS\x00\x02fake-opus-audio-for-tests";

/// SIGKILLs a child: nothing of the process runs after it.
#[cfg(unix)]
pub fn kill(mut child: std::process::Child) {
    use std::os::unix::process::ExitStatusExt;
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

/// Every row of `tables` in the database file `db`, without the `varying` columns (which raw
/// input a row came from, and other values that may differ between equivalent runs), sorted.
pub async fn table_content(
    db: &Path,
    tables: &[&'static str],
    varying: &[&str],
) -> std::collections::BTreeMap<&'static str, Vec<String>> {
    use sqlx::Connection;
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .read_only(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap();
    let mut content = std::collections::BTreeMap::new();
    for table in tables {
        let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
        )))
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let kept: Vec<String> = columns
            .into_iter()
            .filter(|c| !varying.contains(&c.as_str()))
            .collect();
        let mut rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT json_array({}) FROM {table}",
            kept.join(", ")
        )))
        .fetch_all(&mut conn)
        .await
        .unwrap();
        rows.sort();
        content.insert(*table, rows);
    }
    conn.close().await.unwrap();
    content
}

/// The tables hold the same rows; a failure names only the rows that differ.
pub fn assert_same_tables(
    actual: &std::collections::BTreeMap<&'static str, Vec<String>>,
    expected: &std::collections::BTreeMap<&'static str, Vec<String>>,
) {
    let mut differences = Vec::new();
    for (table, rows) in expected {
        let got = &actual[table];
        for row in rows.iter().filter(|r| !got.contains(r)) {
            differences.push(format!("{table}: missing {row}"));
        }
        for row in got.iter().filter(|r| !rows.contains(r)) {
            differences.push(format!("{table}: extra {row}"));
        }
        if differences.is_empty() && got.len() != rows.len() {
            differences.push(format!(
                "{table}: {} rows, expected {}",
                got.len(),
                rows.len()
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// Runs every `$ ` line of a completeness certificate with `sh` in `dir` (the report
/// directory), `<package>` standing for the audit package `package`; each must succeed.
/// Returns the steps as run.
pub fn certificate_steps_pass(certificate: &str, package: &Path, dir: &Path) -> Vec<String> {
    let steps: Vec<String> = certificate
        .lines()
        .filter_map(|l| l.strip_prefix("$ "))
        .map(|l| l.replace("<package>", package.to_str().unwrap()))
        .collect();
    assert!(steps.len() >= 5, "{steps:?}");
    for step in &steps {
        let run = std::process::Command::new("sh")
            .args(["-c", step])
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{step}\n{}{}",
            text(&run.stdout),
            text(&run.stderr)
        );
    }
    steps
}

/// The default ledger settings for a test folder's database. On PostgreSQL the anchor
/// directory is put where the SQLite default puts it, beside the database file in the test's
/// folder: the server's default (named after the database, in the working directory) would
/// be the crate's root.
pub fn ledger_settings(dir: &Path) -> LedgerSettings {
    let mut settings = LedgerSettings::default();
    if on_postgres() {
        settings.anchor_dir = Some(recaudit::ledger::AnchorDirSetting::Dir(
            dir.join("recaudit.checkpoints"),
        ));
    }
    settings
}

/// Whether the store suites run on PostgreSQL (`RECAUDIT_TEST_BACKEND=postgres`, which the
/// second pass of .ci/run sets) rather than on SQLite files.
pub fn on_postgres() -> bool {
    match std::env::var(concat!("RECAUDIT_", "TEST_BACKEND")).as_deref() {
        Ok("postgres") => true,
        Ok("sqlite") | Err(_) => false,
        Ok(other) => panic!("RECAUDIT_TEST_BACKEND is `{other}`: set it to sqlite or postgres"),
    }
}

/// The test PostgreSQL server (`RECAUDIT_TEST_POSTGRES`, which .ci/run sets), or a panic that
/// says how to start one.
pub fn postgres_server() -> String {
    std::env::var(concat!("RECAUDIT_", "TEST_POSTGRES")).unwrap_or_else(|_| {
        panic!(
            "this test needs a PostgreSQL server: run `eval \"$(.ci/postgres start)\"` (a throwaway cluster on loopback) and run the tests again in that shell"
        )
    })
}

/// A new, empty database on the test server, named after `label`, and its URL.
pub fn fresh_postgres_database(label: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let server = postgres_server();
    let label: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(30)
        .collect();
    let name = format!(
        "t_{label}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let create = format!("CREATE DATABASE {name}");
    let admin = server.clone();
    // On a thread of its own: the callers are inside a runtime already, or not in one.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL server {admin}: {e}"));
            sqlx::raw_sql(sqlx::AssertSqlSafe(create))
                .execute(&mut conn)
                .await
                .expect("create the test database");
        })
    })
    .join()
    .expect("creating the test database");
    let (base, _) = server
        .rsplit_once('/')
        .expect("a postgres:// URL with a database");
    format!("{base}/{name}")
}

/// Runs a statement that tampers with the database behind the product's back, as someone
/// with write access to the file or the server would. Written in SQLite's dialect; on
/// PostgreSQL it is translated (`CAST(.. AS BLOB)` is `convert_to`) and run with the
/// append-only triggers disabled for its transaction, as the tables' owner can do.
pub async fn tamper(store: &Store, statement: &str) {
    tamper_bound(store, statement, None).await;
}

/// [`tamper`] with the statement's `$1` bound to `bytes`.
pub async fn tamper_bound(store: &Store, statement: &str, bytes: Option<&[u8]>) {
    let protected = [
        "findings",
        "runs",
        "run_inputs",
        "ledger_entries",
        "ledger_runs",
        "ledger_checkpoints",
        "ledger_anchors",
        "legal_holds",
        "matter_reports",
        "raw_inputs",
        "raw_input_chunks",
        "evidence_conflicts",
    ];
    let statement = if on_postgres() {
        statement
            .replace("CAST(record AS TEXT)", "convert_from(record, 'UTF8')")
            .replace("CAST(replace(", "convert_to(replace(")
            .replace(" AS BLOB)", ", 'UTF8')")
            .replace("CAST('", "convert_to('")
    } else {
        statement.to_string()
    };
    let mut tx = store.pool().begin().await.unwrap();
    if on_postgres() {
        for table in protected {
            let sql = format!("ALTER TABLE {table} DISABLE TRIGGER USER");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await
                .unwrap();
        }
    }
    let mut query = sqlx::query(sqlx::AssertSqlSafe(statement.clone()));
    if let Some(bytes) = bytes {
        query = query.bind(bytes.to_vec());
    }
    query
        .execute(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
    if on_postgres() {
        for table in protected {
            let sql = format!("ALTER TABLE {table} ENABLE TRIGGER USER");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await
                .unwrap();
        }
    }
    tx.commit().await.unwrap();
}

/// Every file of `dir`, by relative path, with its bytes.
pub fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                files.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// The bytes of a stored body as received: `body_encoding` 'gzip' is decoded (every gzip
/// member, as `zcat` reads a file of several), NULL is the bytes as they are.
pub fn received_bytes(stored: &[u8], encoding: Option<&str>) -> Vec<u8> {
    match encoding {
        None => stored.to_vec(),
        Some("gzip") => {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(stored), &mut out)
                .expect("a gzip body");
            out
        }
        Some(other) => panic!("unknown body encoding {other}"),
    }
}

/// The received bytes of raw input `id`: its body, or its chunks in order, decoded.
pub async fn raw_input_bytes(store: &Store, id: i64) -> Vec<u8> {
    let (body, encoding): (Option<Vec<u8>>, Option<String>) =
        sqlx::query_as("SELECT body, body_encoding FROM raw_inputs WHERE id = $1")
            .bind(id)
            .fetch_one(store.pool())
            .await
            .unwrap();
    let stored = match body {
        Some(body) => body,
        None => {
            let chunks: Vec<Vec<u8>> = sqlx::query_scalar(
                "SELECT bytes FROM raw_input_chunks WHERE raw_input_id = $1 ORDER BY ordinal",
            )
            .bind(id)
            .fetch_all(store.pool())
            .await
            .unwrap();
            chunks.concat()
        }
    };
    received_bytes(&stored, encoding.as_deref())
}
