//! `recaudit sim export --out s3://BUCKET/PREFIX` against a real S3 API server on loopback
//! (moto's server, URL in `RECAUDIT_TEST_S3_ENDPOINT`, as for `s3.rs`).
//!
//! A simulated night is exported twice by the binary, into a bucket and into a folder, from the
//! same seed and date: the bucket must hold the folder's tree, object for file, byte for byte.
//! Each is then imported into a fresh database, with the same night's API evidence pulled from
//! the simulator, and audited: the findings must be the same, but for the media hashes (bucket
//! media is known from the listing, not hashed: one identity per media object, as one hash per
//! media file from disk).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use recaudit::simulator::{Faults, Mix, Org, SimClient, SimServer};
use serde_json::Value;

use crate::s3_support::{count, endpoint, files_under};
use crate::support::*;

/// Credentials moto accepts; distinctive, so that a test can look for them where they must not be.
const ACCESS_KEY: &str = "AKIARECAUDITSIMKEY01";
const SECRET_KEY: &str = "recaudit-sim-test-secret-never-shown-4b1d";

/// The night: a few hundred conversations, every scenario among them.
const SEED: u64 = 11;
const CONVERSATIONS: usize = 300;
const NIGHT: &str = "2026-07-14";
const AUDIT: [&str; 7] = [
    "audit",
    "--from",
    "2026-07-14",
    "--to",
    "2026-07-15",
    "--as-of",
    "2026-07-16T12:00:00Z",
];

/// A bucket of its own (the server is shared by tests running in parallel).
async fn create_bucket(test: &str) -> (String, AmazonS3) {
    let bucket = format!("recaudit-sim-{test}-{}", std::process::id());
    let client = crate::s3_support::create_bucket(&bucket, ACCESS_KEY, SECRET_KEY).await;
    (bucket, client)
}

/// The binary in `dir` with the test credentials and the server's endpoint, nothing from the
/// machine's own AWS configuration.
fn recaudit(dir: &Path, args: &[&str]) -> std::process::Command {
    let mut command = binary(dir);
    command
        .arg("--db")
        .arg(TestEnv::url_in(dir))
        .arg("--reports-dir")
        .arg(dir.join("reports"))
        .args(args)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("RECAUDIT_S3_ENDPOINT", endpoint())
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL");
    command
}

/// Runs the binary off the runtime's threads (the simulator keeps serving) and checks its exit
/// status, and that no credential was printed.
async fn run(dir: &Path, args: &[&str], expected: i32) -> Output {
    let mut command = recaudit(dir, args);
    let output = tokio::task::spawn_blocking(move || command.output().expect("run recaudit"))
        .await
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(expected),
        "recaudit {args:?}: stdout {} stderr {}",
        text(&output.stdout),
        text(&output.stderr)
    );
    for stream in [&output.stdout, &output.stderr] {
        assert!(
            !text(stream).contains(SECRET_KEY),
            "a credential was printed"
        );
    }
    output
}

/// `recaudit sim export` of the night to `out` (a folder or an `s3://` URL).
async fn export(dir: &Path, out: &str) -> String {
    let conversations = CONVERSATIONS.to_string();
    let seed = SEED.to_string();
    let args = [
        "sim",
        "export",
        "--out",
        out,
        "--seed",
        &seed,
        "--conversations",
        &conversations,
        "--date",
        NIGHT,
    ];
    text(&run(dir, &args, 0).await.stdout)
}

/// Pulls the night's API evidence from `server`, imports the export tree `export`, audits the
/// night; returns the import's summary and the report's findings.json.
async fn pull_import_audit(dir: &Path, server: &SimServer, export: &str) -> (String, Value) {
    let client = SimClient::default();
    let mut pull = recaudit(dir, &[]);
    pull.args(["pull", "--api-base", &server.base_url()])
        .args(["--from", "2026-07-14", "--to", "2026-07-15"])
        .env("GENESYS_CLIENT_ID", client.id)
        .env("GENESYS_CLIENT_SECRET", client.secret);
    let pulled = tokio::task::spawn_blocking(move || pull.output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        pulled.status.code(),
        Some(0),
        "pull: {}",
        text(&pulled.stderr)
    );
    let import = text(&run(dir, &["import", export], 0).await.stdout);
    let audited = run(dir, &AUDIT, 1).await;
    let stdout = text(&audited.stdout);
    let reports = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Reports: "))
        .expect("reports line");
    let findings =
        serde_json::from_slice(&std::fs::read(Path::new(reports).join("findings.json")).unwrap())
            .unwrap();
    (import, findings)
}

/// Every object under `prefix/`, by its key relative to the prefix, with its bytes.
async fn objects_under(bucket: &AmazonS3, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    let listed: Vec<_> = bucket
        .list(Some(&ObjectPath::from(prefix)))
        .try_collect()
        .await
        .unwrap();
    futures_util::stream::iter(listed)
        .map(|meta| async move {
            let key = meta.location.to_string();
            let bytes = bucket.get(&meta.location).await.unwrap().bytes().await;
            let relative = key.strip_prefix(&format!("{prefix}/")).unwrap().to_string();
            (relative, bytes.unwrap().to_vec())
        })
        .buffer_unordered(16)
        .collect()
        .await
}

/// The findings without their media hashes, and how many media hashes each has.
fn without_media_hashes(document: &Value) -> (Vec<Value>, Vec<usize>) {
    let mut hashes = Vec::new();
    let findings = document["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| {
            let mut finding = finding.clone();
            let sha = finding
                .as_object_mut()
                .unwrap()
                .remove("media_sha256")
                .unwrap();
            hashes.push(sha.as_array().unwrap().len());
            finding
        })
        .collect();
    (findings, hashes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_night_exported_to_a_bucket_gives_the_findings_of_the_same_night_on_disk() {
    let (name, bucket) = create_bucket("night").await;
    let org = Org::generate(
        SEED,
        CONVERSATIONS,
        ts(&format!("{NIGHT}T00:00:00Z")),
        &Mix::default(),
    );
    let faults = Faults {
        rate_limit_per_minute: 1_000_000,
        job_polls: 0,
        // Independent of the machine's clock: the details are available past the window.
        data_availability: Some(ts("2026-07-16T00:00:00Z")),
        ..Faults::default()
    };
    let server = SimServer::start(
        org.clone(),
        faults,
        SimClient::default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();

    // The same tree into a folder and into a bucket.
    let local = tempfile::tempdir().unwrap();
    let folder = local.path().join("export");
    let wrote_folder = export(local.path(), folder.to_str().unwrap()).await;
    let remote = tempfile::tempdir().unwrap();
    let url = format!("s3://{name}/exports/night");
    let wrote_bucket = export(remote.path(), &url).await;
    let files: BTreeMap<String, Vec<u8>> = files_under(&folder)
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(&folder).unwrap().to_str().unwrap();
            (relative.to_string(), std::fs::read(&path).unwrap())
        })
        .collect();
    assert!(files.len() > 2 * CONVERSATIONS / 2, "{wrote_folder}");
    assert!(
        wrote_folder.starts_with(&format!("Wrote {} files ", files.len())),
        "{wrote_folder}"
    );
    assert!(
        wrote_bucket.starts_with(&format!("Wrote {} files ", files.len())),
        "{wrote_bucket}"
    );
    let objects = objects_under(&bucket, "exports/night").await;
    assert_eq!(
        objects.keys().collect::<Vec<_>>(),
        files.keys().collect::<Vec<_>>(),
        "the bucket holds the folder's tree"
    );
    assert!(objects == files, "an object differs from its file");

    // Each imported into its own database with the night's API evidence, and audited.
    let (local_import, local_findings) =
        pull_import_audit(local.path(), &server, folder.to_str().unwrap()).await;
    let (remote_import, remote_findings) = pull_import_audit(remote.path(), &server, &url).await;
    let media = count(&local_import, "export-media");
    assert!(media > CONVERSATIONS / 2, "{local_import}");
    assert_eq!(
        count(&remote_import, "export-media-object"),
        media,
        "{remote_import}"
    );
    for label in [
        "export-metadata",
        "new",
        "rejected",
        "ignored",
        "conversations",
    ] {
        assert_eq!(
            count(&remote_import, label),
            count(&local_import, label),
            "{label}: {remote_import} / {local_import}"
        );
    }
    assert_eq!(count(&remote_import, "new"), files.len(), "{remote_import}");

    // The same findings (statuses, reasons, recording ids, details), but for the media hashes
    // (none for media only listed) and the detail's note saying the media was only listed.
    let (local_rows, local_media) = without_media_hashes(&local_findings);
    let (mut remote_rows, remote_media) = without_media_hashes(&remote_findings);
    assert_eq!(local_rows.len(), CONVERSATIONS);
    let mut noted = 0;
    for (remote, local) in remote_rows.iter_mut().zip(&local_rows) {
        let detail = remote["detail"].as_str().unwrap().to_string();
        if let Some((kept, note)) = detail.split_once("; the media of ") {
            assert!(
                note.ends_with(
                    "is known from the export bucket's listing (size, ETag), not hashed."
                ),
                "{note}"
            );
            remote["detail"] = serde_json::Value::from(format!("{kept}."));
            noted += 1;
        }
        assert_eq!(remote, local);
    }
    assert!(noted > 0);
    assert!(local_media.iter().any(|m| *m > 0), "{local_media:?}");
    assert!(remote_media.iter().all(|m| *m == 0), "{remote_media:?}");
    assert_eq!(remote_findings["coverage"], local_findings["coverage"]);

    // And they are the verdicts the night was built with.
    let as_of = ts(AUDIT[6]);
    for conversation in &org.conversations {
        let finding = remote_rows
            .iter()
            .find(|f| f["interaction"] == conversation.id.as_str())
            .expect("a finding");
        let (status, reasons) = conversation
            .scenario
            .expected_with_export(conversation.end, as_of);
        let reasons: Vec<&str> = reasons.iter().map(|r| r.code()).collect();
        assert_eq!(
            (
                finding["status"].as_str().unwrap(),
                finding["reasons"].clone()
            ),
            (status.code(), serde_json::json!(reasons)),
            "{} ({})",
            conversation.id,
            conversation.scenario.name()
        );
    }
}

#[tokio::test]
async fn exporting_into_a_missing_bucket_is_a_clear_error() {
    // The server answers, but has no such bucket.
    let _ = create_bucket("present").await;
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("recaudit-sim-missing-{}", std::process::id());
    let conversations = CONVERSATIONS.to_string();
    let out = format!("s3://{missing}/night");
    let output = run(
        dir.path(),
        &[
            "sim",
            "export",
            "--out",
            &out,
            "--conversations",
            &conversations,
        ],
        2,
    )
    .await;
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!("bucket `{missing}` does not exist")),
        "{stderr}"
    );
}
