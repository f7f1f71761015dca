//! `recaudit import s3://...` when S3 fails: access denied (against a server that enforces IAM
//! policies, see [`iam`]), a bucket in another region, throttling, and an object deleted
//! between the listing and the read (through the fault probe [`proxy`] in front of the S3 API
//! server of `RECAUDIT_TEST_S3_ENDPOINT`). Each failure must say what failed and what to do,
//! exit with the status of its kind (2: the bucket could not be listed, nothing of it imported;
//! 1: objects rejected, each named, everything else imported), keep everything stored before,
//! and never show a credential: not in the output, even at `-vv`, nor in any file the import
//! writes. (A missing bucket is `s3::a_missing_bucket_is_a_clear_error`.)

mod iam;
mod proxy;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use object_store::aws::AmazonS3;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};

use crate::s3_support::{count, endpoint, files_under};
use crate::support::*;
use iam::Keys;
use proxy::{Fault, FaultProxy, RegionAnswer, Seen};

/// Keys for the server that checks none (distinctive, to be looked for where they must not be).
const ACCESS_KEY: &str = "AKIARECAUDITFAULTS01";
const SECRET_KEY: &str = "recaudit-faults-secret-never-shown-4c1d";
/// No run may take longer: a fault must end in an answer, never in a hang.
const TIME_LIMIT: Duration = Duration::from_secs(120);

/// A bucket name of its own for each test (servers are shared by tests running in parallel).
fn bucket_name(test: &str) -> String {
    format!("recaudit-faults-{test}-{}", std::process::id())
}

fn plain_keys() -> Keys {
    Keys {
        id: ACCESS_KEY.to_string(),
        secret: SECRET_KEY.to_string(),
    }
}

/// Creates `bucket` on the shared server (moto creates one on an unsigned PUT).
async fn create_bucket(bucket: &str) -> AmazonS3 {
    crate::s3_support::create_bucket(bucket, ACCESS_KEY, SECRET_KEY).await
}

/// The export folder of `conversation` under `prefix`.
fn folder(prefix: &str, conversation: &str) -> String {
    format!("{prefix}/{ORG}/year=2026/month=7/day=14/hour=10/conversation_id={conversation}")
}

/// The key of the sidecar of `recording`.
fn sidecar_key(prefix: &str, conversation: &str, recording: &str) -> String {
    format!(
        "{}/{recording}.opus_metadata.json",
        folder(prefix, conversation)
    )
}

/// Writes an exported recording (sidecar and media) of conversation `n`; returns the sidecar's
/// key.
async fn put_recording(bucket: &AmazonS3, prefix: &str, n: u32) -> String {
    let conversation = format!("c0ffee00-0000-4000-8000-0000000000{n:02}");
    let recording = format!("5ec0f1e0-0000-4000-8000-0000000000{n:02}");
    let key = sidecar_key(prefix, &conversation, &recording);
    let sidecar = serde_json::to_vec(&sidecar(&conversation, &recording)).unwrap();
    let media = format!("{}/{recording}.opus", folder(prefix, &conversation));
    for (key, bytes) in [(key.clone(), sidecar), (media, AUDIO.to_vec())] {
        bucket
            .put(&ObjectPath::from(key), PutPayload::from(bytes))
            .await
            .unwrap();
    }
    key
}

/// How the binary reaches a bucket: the endpoint, the keys, more environment; and every
/// secret that must never appear in what it prints or writes.
struct Client {
    endpoint: String,
    keys: Keys,
    env: Vec<(&'static str, String)>,
    secrets: Vec<String>,
}

impl Client {
    fn new(endpoint: &str, keys: &Keys) -> Client {
        Client {
            endpoint: endpoint.to_string(),
            keys: keys.clone(),
            env: Vec::new(),
            secrets: vec![keys.secret.clone(), SECRET_KEY.to_string()],
        }
    }

    fn with_env(mut self, name: &'static str, value: &str) -> Client {
        self.env.push((name, value.to_string()));
        self
    }

    /// Also checks that `keys`' secret is never shown.
    fn never_showing(mut self, keys: &Keys) -> Client {
        self.secrets.push(keys.secret.clone());
        self
    }

    /// Runs `recaudit ARGS` on the database in `dir`, with nothing from the machine's own AWS
    /// configuration (so that it never asks an instance-metadata service), and checks its exit
    /// status and that no secret is in its output or in any file of `dir`.
    fn run(&self, dir: &Path, args: &[&str], expected: i32) -> Output {
        let mut command = binary(dir);
        command
            .arg("--db")
            .arg(TestEnv::url_in(dir))
            .arg("--reports-dir")
            .arg(dir.join("reports"))
            .args(args)
            .env("AWS_ACCESS_KEY_ID", &self.keys.id)
            .env("AWS_SECRET_ACCESS_KEY", &self.keys.secret)
            .env("AWS_REGION", "us-east-1")
            .env("RECAUDIT_S3_ENDPOINT", &self.endpoint)
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_DEFAULT_REGION")
            .env_remove("AWS_MAX_ATTEMPTS");
        for (name, value) in &self.env {
            command.env(name, value);
        }
        let output = output_within(command, TIME_LIMIT);
        assert_eq!(
            output.status.code(),
            Some(expected),
            "recaudit {args:?}: stdout {} stderr {}",
            text(&output.stdout),
            text(&output.stderr)
        );
        for secret in &self.secrets {
            for stream in [&output.stdout, &output.stderr] {
                assert!(
                    !contains(stream, secret),
                    "a secret key was printed: {}",
                    text(stream)
                );
            }
            for file in files_under(dir) {
                assert!(
                    !contains(&std::fs::read(&file).unwrap(), secret),
                    "a secret key is in {}",
                    file.display()
                );
            }
        }
        output
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// Runs `command`, killing it (and failing) if it runs longer than `limit`.
fn output_within(mut command: std::process::Command, limit: Duration) -> Output {
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run recaudit");
    let drain = |mut stream: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            stream.read_to_end(&mut bytes).unwrap();
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("recaudit ran longer than {limit:?}: a fault must end in an answer");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Every row of every table of the database in `dir`, each as the SQL literals of its
/// columns, sorted.
async fn rows(dir: &Path) -> BTreeMap<String, Vec<String>> {
    use sqlx::Connection;
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.join("recaudit.db"))
        .read_only(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut content = BTreeMap::new();
    for table in tables {
        let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
        )))
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let literals: Vec<String> = columns.iter().map(|c| format!("quote(\"{c}\")")).collect();
        let mut found: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM \"{table}\"",
            literals.join(" || ',' || ")
        )))
        .fetch_all(&mut conn)
        .await
        .unwrap();
        found.sort();
        content.insert(table, found);
    }
    conn.close().await.unwrap();
    content
}

/// The stored inputs of the database in `dir`: kind, source, size and SHA-256, sorted.
async fn inputs(dir: &Path) -> Vec<String> {
    use sqlx::Connection;
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.join("recaudit.db"))
        .read_only(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap();
    let inputs = sqlx::query_scalar(
        "SELECT kind || ' ' || source || ' ' || bytes || ' ' || sha256 FROM raw_inputs ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    inputs
}

/// Every row of `before` is still in `after`.
fn kept(before: &BTreeMap<String, Vec<String>>, after: &BTreeMap<String, Vec<String>>) {
    for (table, rows) in before {
        for row in rows {
            assert!(after[table].contains(row), "{table}: lost {row}");
        }
    }
}

/// The lines of `stderr` that reject an object.
fn rejections(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("recaudit: rejected "))
        .collect()
}

#[tokio::test]
async fn access_denied_to_listing_names_s3_list_bucket_and_changes_nothing_stored() {
    let admin = iam::admin().await;
    let name = bucket_name("nolist");
    iam::create_bucket(&admin, &name).await;
    let bucket = iam::bucket(&admin, &name);
    for n in 1..=2 {
        put_recording(&bucket, "exports", n).await;
    }
    let reader = iam::user(&admin, &name, &["s3:GetObject"]).await;
    let endpoint = iam::auth_endpoint();
    let url = format!("s3://{name}/exports");
    let dir = tempfile::tempdir().unwrap();

    let first = Client::new(&endpoint, &admin).never_showing(&reader);
    let imported = first.run(dir.path(), &["import", &url], 0);
    assert_eq!(count(&text(&imported.stdout), "new"), 4);
    let before = rows(dir.path()).await;

    // Keys that may read objects but not list the bucket: the listing fails, nothing changes.
    let denied = Client::new(&endpoint, &reader).never_showing(&admin);
    let output = denied.run(dir.path(), &["-vv", "import", &url], 2);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "recaudit: s3://{name}/exports: access denied listing bucket `{name}`: the credentials need `s3:ListBucket` on `arn:aws:s3:::{name}` (S3 answered 403 AccessDenied: Access Denied); nothing was imported from it"
        )),
        "{stderr}"
    );
    assert_eq!(rows(dir.path()).await, before);

    // Keys S3 does not accept (a wrong secret, an unknown key id) are not a missing permission.
    let unknown = Keys {
        id: "AKIARECAUDITUNKNOWN01".to_string(),
        secret: reader.secret.clone(),
    };
    let wrong = Keys {
        id: reader.id.clone(),
        secret: "recaudit-wrong-secret-never-shown-77aa".to_string(),
    };
    for (keys, code) in [
        (wrong, "SignatureDoesNotMatch"),
        (unknown, "InvalidAccessKeyId"),
    ] {
        let refused = Client::new(&endpoint, &keys).never_showing(&admin);
        let output = refused.run(dir.path(), &["import", &url], 2);
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains(&format!(
                "recaudit: s3://{name}/exports: S3 refused the credentials listing bucket `{name}` (S3 answered 403 {code}: "
            )) && stderr.contains("check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN"),
            "{stderr}"
        );
        assert_eq!(rows(dir.path()).await, before);
    }
}

#[tokio::test]
async fn access_denied_to_reading_names_s3_get_object_and_rejects_only_those_objects() {
    let admin = iam::admin().await;
    let name = bucket_name("noget");
    iam::create_bucket(&admin, &name).await;
    let bucket = iam::bucket(&admin, &name);
    put_recording(&bucket, "exports", 1).await;
    let lister = iam::user(&admin, &name, &["s3:ListBucket"]).await;
    let endpoint = iam::auth_endpoint();
    let url = format!("s3://{name}/exports");
    let dir = tempfile::tempdir().unwrap();
    let first = Client::new(&endpoint, &admin).never_showing(&lister);
    first.run(dir.path(), &["import", &url], 0);
    let before = rows(dir.path()).await;

    // A new recording exported since; keys that may list but not read: its sidecar is
    // rejected (media objects are only listed, so its media is stored), the rest is unchanged.
    let added = put_recording(&bucket, "exports", 2).await;
    let denied = Client::new(&endpoint, &lister).never_showing(&admin);
    let output = denied.run(dir.path(), &["-vv", "import", &url], 1);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(
        rejections(&stderr),
        [format!(
            "recaudit: rejected s3://{name}/{added}: access denied reading the object: the credentials need `s3:GetObject` on it (S3 answered 403 AccessDenied: Access Denied); nothing of it was stored"
        )],
        "{stderr}"
    );
    assert!(
        stderr.contains("1 file(s) were rejected and not imported; everything else was."),
        "{stderr}"
    );
    assert_eq!(count(&stdout, "rejected"), 1, "{stdout}");
    assert_eq!(count(&stdout, "new"), 1, "{stdout}");
    assert_eq!(count(&stdout, "export-media-object"), 1, "{stdout}");
    assert_eq!(count(&stdout, "unchanged"), 2, "{stdout}");
    kept(&before, &rows(dir.path()).await);

    // Keys that may read it: it is read and stored.
    let output = first.run(dir.path(), &["import", &url], 0);
    let stdout = text(&output.stdout);
    assert_eq!(count(&stdout, "new"), 1, "{stdout}");
    assert_eq!(count(&stdout, "export-metadata"), 1, "{stdout}");
}

#[tokio::test]
async fn a_bucket_in_another_region_is_named_with_the_option_that_reaches_it() {
    let name = bucket_name("region");
    let bucket = create_bucket(&name).await;
    for n in 1..=2 {
        put_recording(&bucket, "exports", n).await;
    }
    let url = format!("s3://{name}/exports");
    for answer in [
        RegionAnswer::PermanentRedirect,
        RegionAnswer::AuthorizationHeaderMalformed,
    ] {
        let probe = FaultProxy::start(
            &endpoint(),
            Fault::OtherRegion {
                region: "eu-west-1".to_string(),
                answer,
            },
        );
        let client = Client::new(&probe.url, &plain_keys());
        let dir = tempfile::tempdir().unwrap();
        let region = ["--s3-region", "eu-west-1"];
        let reached = client.run(dir.path(), &["import", &url, region[0], region[1]], 0);
        assert_eq!(count(&text(&reached.stdout), "new"), 4);
        let before = rows(dir.path()).await;

        // AWS_REGION is us-east-1.
        let output = client.run(dir.path(), &["import", &url], 2);
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains(&format!(
                "recaudit: s3://{name}/exports: bucket `{name}` is in region `eu-west-1`, not `us-east-1`: pass `--s3-region eu-west-1` (or set AWS_REGION=eu-west-1) and import again; nothing was imported from it"
            )),
            "{answer:?}: {stderr}"
        );
        assert!(Seen::count(&probe.seen.wrong_region) >= 1);
        assert_eq!(rows(dir.path()).await, before, "{answer:?}");

        let again = client.run(dir.path(), &["import", &url, region[0], region[1]], 0);
        assert_eq!(count(&text(&again.stdout), "unchanged"), 4);
    }
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_and_imports_the_same() {
    let name = bucket_name("slowdown");
    let bucket = create_bucket(&name).await;
    for n in 1..=3 {
        put_recording(&bucket, "exports", n).await;
    }
    let url = format!("s3://{name}/exports");
    let direct = tempfile::tempdir().unwrap();
    let expected = Client::new(&endpoint(), &plain_keys()).run(direct.path(), &["import", &url], 0);

    // Every listing and every read answered `503 SlowDown` twice before it is let through.
    let probe = FaultProxy::start(&endpoint(), Fault::SlowDown { times: 2 });
    let throttled = tempfile::tempdir().unwrap();
    let output = Client::new(&probe.url, &plain_keys()).run(throttled.path(), &["import", &url], 0);
    assert_eq!(text(&output.stdout), text(&expected.stdout));
    assert_eq!(Seen::count(&probe.seen.throttled_listings), 2);
    assert_eq!(Seen::count(&probe.seen.throttled_reads), 2 * 3);
    // The same inputs stored: kinds, sources, sizes and hashes.
    assert_eq!(inputs(throttled.path()).await, inputs(direct.path()).await);
}

#[tokio::test]
async fn throttling_that_never_ends_ends_in_a_clear_error() {
    let name = bucket_name("slowdown-always");
    let bucket = create_bucket(&name).await;
    for n in 1..=2 {
        put_recording(&bucket, "exports", n).await;
    }
    let url = format!("s3://{name}/exports");

    // The listing always throttled: after AWS_MAX_ATTEMPTS attempts, the bucket fails.
    let probe = FaultProxy::start(&endpoint(), Fault::SlowDownAlways { reads_only: false });
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(&probe.url, &plain_keys()).with_env("AWS_MAX_ATTEMPTS", "3");
    let started = Instant::now();
    let output = client.run(dir.path(), &["import", &url], 2);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "recaudit: s3://{name}/exports: S3 throttled the listing of bucket `{name}` (S3 answered 503 SlowDown: Please reduce your request rate.) after 2 retries with backoff; nothing was imported from it: import again later (AWS_MAX_ATTEMPTS allows more attempts)"
        )),
        "{stderr}"
    );
    assert_eq!(Seen::count(&probe.seen.throttled_listings), 3);
    drop(probe);

    // Every read always throttled: each sidecar is rejected, the media objects are stored.
    let probe = FaultProxy::start(&endpoint(), Fault::SlowDownAlways { reads_only: true });
    let client = Client::new(&probe.url, &plain_keys()).with_env("AWS_MAX_ATTEMPTS", "2");
    let output = client.run(dir.path(), &["import", &url], 1);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    let rejected = rejections(&stderr);
    assert_eq!(rejected.len(), 2, "{stderr}");
    for line in rejected {
        assert!(
            line.ends_with(
                "_metadata.json: S3 throttled the read (S3 answered 503 SlowDown: Please reduce your request rate.) after 1 retry with backoff; nothing of it was stored: import again later (AWS_MAX_ATTEMPTS allows more attempts)"
            ),
            "{line}"
        );
    }
    assert_eq!(count(&stdout, "export-media-object"), 2, "{stdout}");
    assert_eq!(Seen::count(&probe.seen.throttled_reads), 2 * 2);
}

#[tokio::test]
async fn an_object_that_vanishes_between_listing_and_reading_is_rejected_then_read_when_back() {
    let name = bucket_name("vanish");
    let bucket = create_bucket(&name).await;
    let gone = put_recording(&bucket, "exports", 1).await;
    put_recording(&bucket, "exports", 2).await;
    let url = format!("s3://{name}/exports");
    let probe = FaultProxy::start(
        &endpoint(),
        Fault::Vanish {
            store: bucket.clone(),
            bucket: name.clone(),
            key: gone.clone(),
        },
    );
    let client = Client::new(&probe.url, &plain_keys());
    let dir = tempfile::tempdir().unwrap();
    let output = client.run(dir.path(), &["import", &url], 1);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(Seen::count(&probe.seen.vanished), 1);
    assert_eq!(
        rejections(&stderr),
        [format!(
            "recaudit: rejected s3://{name}/{gone}: vanished: the object was listed but was gone when read (deleted between the listing and the read; S3 answered 404 NoSuchKey: The specified key does not exist.); nothing of it was stored: import again to read it if it is back"
        )],
        "{stderr}"
    );
    // The other sidecar and both media objects are imported.
    assert_eq!(count(&stdout, "new"), 3, "{stdout}");
    assert_eq!(count(&stdout, "export-metadata"), 1, "{stdout}");
    assert_eq!(count(&stdout, "export-media-object"), 2, "{stdout}");

    // Written again, it is read by the next import; nothing else is read again.
    put_recording(&bucket, "exports", 1).await;
    let output = client.run(dir.path(), &["import", &url], 0);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(count(&stdout, "new"), 1, "{stdout}");
    assert_eq!(count(&stdout, "export-metadata"), 1, "{stdout}");
    assert!(
        stderr.contains(&format!("{url}: 4 objects listed, 1 read")),
        "{stderr}"
    );
}
