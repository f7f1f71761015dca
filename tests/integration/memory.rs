//! Memory of an import does not follow the size of what it reads (issue 15): a tree holding
//! a 200 MB recording and a details file of 50,000 conversations is imported by the real
//! binary in under 128 MiB of peak resident memory, and everything in it is stored.
//!
//! Not in the PostgreSQL pass of `.ci/run`: the bound is the importing process's, and the
//! code path that reads, hashes and batches is the same on both backends.

use std::path::Path;

use recaudit::simulator::Mix;
use recaudit::simulator::export::NightExport;
use recaudit::store::Store;
use recaudit::time::Timestamp;

use crate::bounds::run_measured;
use crate::support::*;

const MEDIA_BYTES: u64 = 200_000_000;
const CONVERSATIONS: usize = 50_000;
const LIMIT: u64 = 128 * 1024 * 1024;

/// `sha256sum` of a file: an implementation other than ours.
fn sha256sum(path: &Path) -> String {
    let output = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum (coreutils)");
    assert!(output.status.success());
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_200_mb_recording_and_50000_conversations_import_in_under_128_mib() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    // The export folder of one recording whose audio is 200 MB (sparse on disk: its bytes are
    // read and hashed all the same).
    let recording = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
    let folder = input.join(format!(
        "export/{ORG}/year=2026/month=7/day=14/hour=9/conversation_id=c0ffee00-1111-4222-8333-444455556666"
    ));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join(format!("{recording}.opus_metadata.json")),
        serde_json::to_vec(&sidecar("c0ffee00-1111-4222-8333-444455556666", recording)).unwrap(),
    )
    .unwrap();
    let media = folder.join(format!("{recording}.opus"));
    std::fs::File::create(&media)
        .unwrap()
        .set_len(MEDIA_BYTES)
        .unwrap();
    // The details of a simulated night of 50,000 conversations, one per line (the files of
    // its export tree are not written).
    let details = input.join("details/night.ndjson");
    std::fs::create_dir_all(details.parent().unwrap()).unwrap();
    let day = Timestamp::parse("2026-07-14T00:00:00Z").unwrap();
    let out = std::io::BufWriter::new(std::fs::File::create(&details).unwrap());
    let mut night = NightExport::new(7, CONVERSATIONS, day, &Mix::default(), out);
    night.by_ref().for_each(drop);
    night.finish().unwrap();
    let details_bytes = std::fs::metadata(&details).unwrap().len();

    let url = TestEnv::url_in(dir.path());
    let mut command = binary(dir.path());
    command.args(["--db", &url, "import", input.to_str().unwrap()]);
    let (code, peak, stdout, stderr) = run_measured(command, dir.path());
    println!(
        "peak RSS {:.1} MiB importing {:.0} MB of media and {:.0} MB of details ({CONVERSATIONS} conversations)",
        peak as f64 / 1048576.0,
        MEDIA_BYTES as f64 / 1e6,
        details_bytes as f64 / 1e6
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("imported 3 new inputs"), "{stdout}");
    assert!(
        peak < LIMIT,
        "peak RSS {peak} bytes, over {LIMIT}: {stdout}"
    );

    let store = Store::open_existing(&url).await.unwrap();
    let conversations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM conversations")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(conversations as usize, CONVERSATIONS);
    let (bytes, sha256): (i64, String) =
        sqlx::query_as("SELECT bytes, sha256 FROM export_media WHERE recording_id = $1")
            .bind(recording)
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(bytes as u64, MEDIA_BYTES);
    assert_eq!(sha256, sha256sum(&media));
    let (stored_bytes, stored_sha): (i64, String) = sqlx::query_as(
        "SELECT bytes, sha256 FROM raw_inputs WHERE source = 'details/night.ndjson'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(stored_bytes as u64, details_bytes);
    assert_eq!(stored_sha, sha256sum(&details));
    store.close().await;
}
