//! `recaudit import s3://BUCKET/PREFIX` against a real S3 API server on loopback (moto's
//! server, started by .ci/run), whose URL is in `RECAUDIT_TEST_S3_ENDPOINT`.
//!
//! The example night's export tree is uploaded to a bucket; importing it from there must give
//! exactly the findings of importing it from disk, except that media objects are not hashed
//! (no `media_sha256`, and listed input records in the ledger); with `--hash-media` the hashes
//! are those of the local import too.

use std::path::{Path, PathBuf};
use std::process::Output;

use object_store::aws::AmazonS3;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};
use serde_json::Value;

use crate::s3_support::{count, endpoint, files_under};
use crate::support::*;

/// Credentials moto accepts; distinctive, so that a test can look for them where they must not be.
const ACCESS_KEY: &str = "AKIARECAUDITTESTKEY01";
const SECRET_KEY: &str = "recaudit-test-secret-never-shown-9f7e";

/// A bucket of its own for each test (the server is shared by tests running in parallel).
fn bucket_name(test: &str) -> String {
    format!("recaudit-{test}-{}", std::process::id())
}

async fn create_bucket(bucket: &str) -> AmazonS3 {
    crate::s3_support::create_bucket(bucket, ACCESS_KEY, SECRET_KEY).await
}

/// Uploads every file under `dir` to `prefix/` + its relative path, 16 at a time; returns how
/// many.
async fn upload(bucket: &AmazonS3, dir: &Path, prefix: &str) -> usize {
    use futures_util::StreamExt;
    let files = files_under(dir);
    futures_util::stream::iter(&files)
        .map(|file| async move {
            let relative = file.strip_prefix(dir).unwrap().to_str().unwrap();
            let key = ObjectPath::from(format!("{prefix}/{relative}"));
            let bytes = std::fs::read(file).unwrap();
            bucket.put(&key, PutPayload::from(bytes)).await.unwrap();
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    files.len()
}

/// The binary with the test credentials and the server's endpoint, nothing from the machine's
/// own AWS configuration (so that it never asks an instance-metadata service).
fn recaudit(dir: &Path, args: &[&str]) -> Output {
    recaudit_command(dir, args).output().expect("run recaudit")
}

/// [`recaudit`], not started.
fn recaudit_command(dir: &Path, args: &[&str]) -> std::process::Command {
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

fn run(dir: &Path, args: &[&str], expected: i32) -> Output {
    let output = recaudit(dir, args);
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

/// Imports the example night's API payloads from disk, then its export tree from `export`
/// (a local folder or an `s3://` URL), audits it as the README does, and returns the import of
/// the export and the report's findings.json.
fn import_and_audit(dir: &Path, export: &str) -> (String, Value) {
    let night = repo("examples/night");
    for part in ["details", "jobs", "recordings"] {
        run(dir, &["import", night.join(part).to_str().unwrap()], 0);
    }
    let import = text(&run(dir, &["import", export], 0).stdout);
    let config = repo("examples/recaudit.toml");
    let mut audit = vec!["--config", config.to_str().unwrap()];
    audit.extend(EXAMPLE_AUDIT);
    let audited = run(dir, &audit, 1);
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

/// The findings of a findings.json without their `media_sha256`, and those apart.
fn without_media_hashes(document: &Value) -> (Vec<Value>, Vec<Vec<Value>>) {
    document["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| {
            let mut finding = finding.clone();
            let hashes = finding
                .as_object_mut()
                .unwrap()
                .remove("media_sha256")
                .unwrap();
            (finding, hashes.as_array().unwrap().clone())
        })
        .unzip()
}

#[tokio::test]
async fn an_export_tree_in_a_bucket_gives_the_findings_of_the_same_tree_on_disk() {
    let name = bucket_name("night");
    let bucket = create_bucket(&name).await;
    let export = repo("examples/night/export");
    let uploaded = upload(&bucket, &export, "exports").await;

    let local = tempfile::tempdir().unwrap();
    let (local_import, local_findings) = import_and_audit(local.path(), export.to_str().unwrap());
    let remote = tempfile::tempdir().unwrap();
    let url = format!("s3://{name}/exports");
    let (remote_import, remote_findings) = import_and_audit(remote.path(), &url);

    // The same objects used, rejected and ignored; media known from the listing, not hashed.
    let media = count(&local_import, "export-media");
    assert!(media > 0, "{local_import}");
    assert_eq!(
        count(&remote_import, "export-media-object"),
        media,
        "{remote_import}"
    );
    assert_eq!(
        count(&remote_import, "export-metadata"),
        count(&local_import, "export-metadata"),
        "{remote_import} / {local_import}"
    );
    for label in ["rejected", "ignored", "conversations"] {
        assert_eq!(
            count(&remote_import, label),
            count(&local_import, label),
            "{label}: {remote_import} / {local_import}"
        );
    }
    assert_eq!(
        count(&remote_import, "new") + count(&remote_import, "ignored"),
        uploaded,
        "{remote_import}"
    );

    // The same findings, but for the media hashes: none from a listing, which hashes nothing.
    let (local_rows, local_media) = without_media_hashes(&local_findings);
    let (mut remote_rows, remote_media) = without_media_hashes(&remote_findings);
    assert!(!local_rows.is_empty());
    // ... and a note in the detail of each finding with media, saying so.
    let mut noted = 0;
    for (remote, local) in remote_rows.iter_mut().zip(&local_rows) {
        let (detail, wanted) = (
            remote["detail"].as_str().unwrap(),
            local["detail"].as_str().unwrap(),
        );
        if detail != wanted {
            let (kept, note) = detail
                .split_once("; the media of ")
                .unwrap_or_else(|| panic!("{detail}"));
            assert!(
                note.ends_with(
                    "is known from the export bucket's listing (size, ETag), not hashed."
                ),
                "{note}"
            );
            assert_eq!(format!("{kept}."), wanted);
            remote["detail"] = Value::from(wanted);
            noted += 1;
        }
    }
    assert!(noted > 0);
    assert_eq!(remote_rows, local_rows);
    assert_eq!(remote_findings["coverage"], local_findings["coverage"]);
    assert!(local_media.iter().any(|hashes| !hashes.is_empty()));
    assert!(
        remote_media.iter().all(Vec::is_empty),
        "a listed object has no hash: {remote_media:?}"
    );

    // The ledger says which inputs were listed, not hashed, and verifies with the shipped
    // verifier as well as our own.
    let verified = run(remote.path(), &["ledger", "verify"], 0);
    assert!(
        text(&verified.stdout).contains("OK"),
        "{}",
        text(&verified.stdout)
    );
    let package = remote.path().join("package");
    run(
        remote.path(),
        &["ledger", "export", "--out", package.to_str().unwrap()],
        0,
    );
    let inputs = std::fs::read_to_string(package.join("runs/0.inputs")).unwrap();
    assert_eq!(
        inputs.matches("recaudit-input-listed v1\nrun ").count(),
        media,
        "{inputs}"
    );
    assert!(!inputs.contains("kind export-media\n"), "{inputs}");
    assert!(inputs.contains("\netag "), "{inputs}");
    let python = std::process::Command::new("python3")
        .arg(package.join("verify.py"))
        .arg(&package)
        .output()
        .unwrap();
    assert!(
        python.status.success(),
        "verify.py: {}{}",
        text(&python.stdout),
        text(&python.stderr)
    );
    let by_hand = std::process::Command::new("bash")
        .arg(repo(".ci/verify-md.sh"))
        .arg(&package)
        .output()
        .unwrap();
    assert!(
        by_hand.status.success(),
        "VERIFY.md steps: {}{}",
        text(&by_hand.stdout),
        text(&by_hand.stderr)
    );

    // A second import of the bucket stores nothing new, and reads no object again: every
    // sidecar is known by its key and ETag.
    let again = run(remote.path(), &["import", &url], 0);
    let listed = format!("{url}: {uploaded} objects listed, 0 read");
    assert!(
        text(&again.stderr).contains(&listed),
        "{}",
        text(&again.stderr)
    );
    let again = text(&again.stdout);
    assert_eq!(count(&again, "new"), 0, "{again}");
    assert_eq!(
        count(&again, "unchanged"),
        count(&remote_import, "new"),
        "{again}"
    );

    // No credential in the database.
    for entry in std::fs::read_dir(remote.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes
                    .windows(SECRET_KEY.len())
                    .any(|w| w == SECRET_KEY.as_bytes()),
                "the secret key is in {}",
                path.display()
            );
        }
    }
}

#[tokio::test]
async fn a_missing_bucket_is_a_clear_error() {
    // The server answers, but has no such bucket.
    let _ = create_bucket(&bucket_name("present")).await;
    let dir = tempfile::tempdir().unwrap();
    let missing = bucket_name("missing");
    let output = run(
        dir.path(),
        &["import", &format!("s3://{missing}/exports")],
        2,
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!("bucket `{missing}` does not exist")),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_object_that_is_not_evidence_is_ignored_with_the_reason() {
    let name = bucket_name("stray");
    let bucket = create_bucket(&name).await;
    let folder = format!(
        "org/year=2026/month=7/day=14/hour=7/conversation_id={}",
        "c0ffee00-0000-4000-8000-000000000001"
    );
    for (key, bytes) in [
        (format!("{folder}/notes.txt"), b"not a recording".to_vec()),
        ("org/README.json".to_string(), b"{}".to_vec()),
    ] {
        bucket
            .put(&ObjectPath::from(key), PutPayload::from(bytes))
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let output = run(dir.path(), &["import", &format!("s3://{name}/org")], 0);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "ignored s3://{name}/{folder}/notes.txt: extension `.txt`"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "ignored s3://{name}/org/README.json: not in an export"
        )),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_window_lists_only_its_days_date_folders_padded_or_not() {
    let name = bucket_name("window");
    let bucket = create_bucket(&name).await;
    let folders = [
        ("year=2026/month=7/day=14", true),
        // Padded, the day after the window: inside the margin of one day.
        ("year=2026/month=07/day=15", true),
        ("year=2026/month=7/day=20", false),
        ("year=2025/month=7/day=14", false),
        ("year=2026/month=08/day=01", false),
    ];
    for (index, (folder, _)) in folders.iter().enumerate() {
        let conversation = format!("c0ffee00-0000-4000-8000-00000000000{index}");
        let recording = format!("5ec0f1e0-0000-4000-8000-00000000000{index}");
        let dir = format!("exports/{ORG}/{folder}/hour=10/conversation_id={conversation}");
        let sidecar = serde_json::to_vec(&sidecar(&conversation, &recording)).unwrap();
        for (key, bytes) in [
            (format!("{dir}/{recording}.opus_metadata.json"), sidecar),
            (format!("{dir}/{recording}.opus"), AUDIO.to_vec()),
        ] {
            bucket
                .put(&ObjectPath::from(key), PutPayload::from(bytes))
                .await
                .unwrap();
        }
    }
    let in_window = folders.iter().filter(|(_, listed)| *listed).count();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("s3://{name}/exports");
    let window = [
        "--from",
        "2026-07-14",
        "--to",
        "2026-07-15",
        "--margin-days",
        "1",
    ];
    let mut args = vec!["import", url.as_str()];
    args.extend(window);
    let windowed = text(&run(dir.path(), &args, 0).stdout);
    assert_eq!(count(&windowed, "new"), 2 * in_window, "{windowed}");
    assert_eq!(
        count(&windowed, "export-media-object"),
        in_window,
        "{windowed}"
    );

    // Without a window, every key under the prefix is listed; the window's are stored already.
    let whole = text(&run(dir.path(), &["import", &url], 0).stdout);
    assert_eq!(count(&whole, "unchanged"), 2 * in_window, "{whole}");
    assert_eq!(
        count(&whole, "new"),
        2 * (folders.len() - in_window),
        "{whole}"
    );
}

#[tokio::test]
async fn a_rewritten_object_is_read_and_stored_again_an_unchanged_one_is_not() {
    let name = bucket_name("rewrite");
    let bucket = create_bucket(&name).await;
    let conversation = "c0ffee00-0000-4000-8000-0000000000aa";
    let recording = "5ec0f1e0-0000-4000-8000-0000000000aa";
    let dir = format!("org/year=2026/month=7/day=14/hour=10/conversation_id={conversation}");
    let sidecar_key = ObjectPath::from(format!("{dir}/{recording}.opus_metadata.json"));
    let media_key = ObjectPath::from(format!("{dir}/{recording}.opus"));
    let put = |key: &ObjectPath, bytes: Vec<u8>| {
        let (bucket, key) = (&bucket, key.clone());
        async move { bucket.put(&key, PutPayload::from(bytes)).await.unwrap() }
    };
    let first = sidecar(conversation, recording);
    put(&sidecar_key, serde_json::to_vec(&first).unwrap()).await;
    put(&media_key, AUDIO.to_vec()).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("s3://{name}/org");
    let imported = run(dir.path(), &["import", &url], 0);
    assert!(
        text(&imported.stderr).contains(&format!("{url}: 2 objects listed, 1 read")),
        "{}",
        text(&imported.stderr)
    );

    // The sidecar written again with other bytes (so another ETag): read and stored again; the
    // media object, untouched, is unchanged by its listing.
    let second = with(first, "durationMs", serde_json::json!(240_000));
    put(&sidecar_key, serde_json::to_vec(&second).unwrap()).await;
    let again = run(dir.path(), &["import", &url], 0);
    let stdout = text(&again.stdout);
    assert!(
        text(&again.stderr).contains(&format!("{url}: 2 objects listed, 1 read")),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(count(&stdout, "new"), 1, "{stdout}");
    assert_eq!(count(&stdout, "export-metadata"), 1, "{stdout}");
    assert_eq!(count(&stdout, "unchanged"), 1, "{stdout}");
}

#[tokio::test]
async fn hashing_the_media_of_a_bucket_gives_the_hashes_of_the_same_files_on_disk() {
    let name = bucket_name("hashed");
    let bucket = create_bucket(&name).await;
    let export = repo("examples/night/export");
    let uploaded = upload(&bucket, &export, "exports").await;
    let url = format!("s3://{name}/exports");

    let local = tempfile::tempdir().unwrap();
    let (_, local_findings) = import_and_audit(local.path(), export.to_str().unwrap());

    // Listed first, then hashed: the second import reads only the media objects, which it had
    // only listed, and stores them as local media files are (kind export-media).
    let remote = tempfile::tempdir().unwrap();
    let (listed, _) = import_and_audit(remote.path(), &url);
    let media = count(&listed, "export-media-object");
    let hashed = run(
        remote.path(),
        &["import", "--hash-media", "--hash-concurrency", "3", &url],
        0,
    );
    let stderr = text(&hashed.stderr);
    assert!(
        stderr.contains(&format!(
            "{uploaded} objects listed, {media} read; {media} media objects hashed"
        )),
        "{stderr}"
    );
    let summary = text(&hashed.stdout);
    assert_eq!(count(&summary, "new"), media, "{summary}");
    assert_eq!(count(&summary, "export-media"), media, "{summary}");

    let config = repo("examples/recaudit.toml");
    let mut audit = vec!["--config", config.to_str().unwrap()];
    audit.extend(EXAMPLE_AUDIT);
    let audited = run(remote.path(), &audit, 1);
    let reports = text(&audited.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Reports: ").map(PathBuf::from))
        .expect("reports line");
    let remote_findings: Value =
        serde_json::from_slice(&std::fs::read(reports.join("findings.json")).unwrap()).unwrap();
    // Exactly the local findings, media hashes included.
    assert_eq!(remote_findings["findings"], local_findings["findings"]);

    // Hashed now, the objects are not read again, with or without --hash-media.
    for args in [vec!["import", "--hash-media", &url], vec!["import", &url]] {
        let again = run(remote.path(), &args, 0);
        assert!(
            text(&again.stderr).contains(&format!("{uploaded} objects listed, 0 read")),
            "{}",
            text(&again.stderr)
        );
        assert_eq!(count(&text(&again.stdout), "new"), 0);
    }
}

/// kill -9 of an S3 import at several points: the rerun leaves exactly what an uninterrupted
/// import leaves, and reads only what the killed ones had not stored. The points are fractions
/// of how long the uninterrupted import took, so they fall before, during and after its writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_at_any_point_continues_to_what_an_uninterrupted_one_leaves() {
    let name = bucket_name("killed");
    let bucket = create_bucket(&name).await;
    let source = tempfile::tempdir().unwrap();
    let night = crate::faults::big_night(source.path(), 2_000);
    let uploaded = upload(&bucket, &night.join("export"), "exports").await;
    let url = format!("s3://{name}/exports");
    let import = ["import", url.as_str()];

    let reference = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    run(reference.path(), &import, 0);
    let import_time = started.elapsed();
    let tables = [
        "raw_inputs",
        "recordings",
        "export_media",
        "object_listings",
    ];
    let varying = ["id", "raw_input_id", "received", "body"];
    let expected = table_content(&reference.path().join("recaudit.db"), &tables, &varying).await;

    let killed = tempfile::tempdir().unwrap();
    // Each import continues the last one's work, so the points add up: these fall inside it.
    for fraction in [0.2, 0.45] {
        let mut child = recaudit_command(killed.path(), &import)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(import_time.mul_f64(fraction));
        // SIGKILL, or nothing if the import already finished: both are points to survive.
        let _ = child.kill();
        child.wait().unwrap();
    }
    let last = run(killed.path(), &import, 0);
    let got = table_content(&killed.path().join("recaudit.db"), &tables, &varying).await;
    assert_same_tables(&got, &expected);
    // The last import read only sidecars not stored yet (it lists media objects, reads none).
    let stderr = text(&last.stderr);
    let read: usize = stderr
        .split(" objects listed, ")
        .nth(1)
        .and_then(|rest| rest.split(" read").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(read <= uploaded / 2, "{stderr}");
}

/// A key so long that a ledger record would have to cut its source cannot be located by a
/// listed record: such media objects are hashed even without --hash-media.
#[tokio::test]
async fn media_under_a_key_too_long_to_record_uncut_is_hashed() {
    let name = bucket_name("long-keys");
    let bucket = create_bucket(&name).await;
    let prefix = format!("exports/{}", "p".repeat(120));
    upload(&bucket, &repo("examples/night/export"), &prefix).await;
    let dir = tempfile::tempdir().unwrap();
    let imported = run(dir.path(), &["import", &format!("s3://{name}/{prefix}")], 0);
    let summary = text(&imported.stdout);
    assert!(count(&summary, "export-media") > 0, "{summary}");
    assert!(!summary.contains("export-media-object"), "{summary}");
    let stderr = text(&imported.stderr);
    assert!(
        stderr.contains("media objects hashed") && !stderr.contains(" 0 media objects hashed"),
        "{stderr}"
    );
}

/// `recaudit run` reads the bucket per window (the window's date folders), beside folders of
/// API payloads read once, and seals the findings `import` + `audit` give for the same night.
#[tokio::test]
async fn run_reads_the_bucket_of_its_window_and_agrees_with_import_and_audit() {
    let name = bucket_name("run");
    let bucket = create_bucket(&name).await;
    upload(&bucket, &repo("examples/night/export"), "exports").await;
    let url = format!("s3://{name}/exports");

    let by_hand = tempfile::tempdir().unwrap();
    let (_, expected) = import_and_audit(by_hand.path(), &url);

    let nightly = tempfile::tempdir().unwrap();
    let night = repo("examples/night");
    let config = repo("examples/recaudit.toml");
    let mut args = vec!["--config", config.to_str().unwrap(), "run"];
    let folders: Vec<String> = ["details", "jobs", "recordings"]
        .iter()
        .map(|part| night.join(part).to_str().unwrap().to_string())
        .collect();
    for folder in &folders {
        args.extend(["--source", folder.as_str()]);
    }
    args.extend([
        "--source",
        &url,
        "--window",
        "2026-07-14",
        "--as-of",
        "2026-07-16T12:00:00Z",
    ]);
    let output = recaudit(nightly.path(), &args);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let run = stdout
        .split("sealed run ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .expect("a sealed run");
    let findings: Value = serde_json::from_slice(
        &std::fs::read(
            nightly
                .path()
                .join("reports")
                .join(run)
                .join("findings.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(findings["findings"], expected["findings"], "{stdout}");
}
