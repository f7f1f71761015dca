//! What the S3 tests share: the loopback S3 server (moto, started by .ci/run), buckets of their
//! own on it, and reading the binary's import summaries.

use std::path::{Path, PathBuf};

use object_store::aws::{AmazonS3, AmazonS3Builder};

pub const ENDPOINT_VARIABLE: &str = "RECAUDIT_TEST_S3_ENDPOINT";

/// The loopback S3 server's URL. Missing, the tests fail and say how to start one: they never
/// pass without having run.
pub fn endpoint() -> String {
    std::env::var(ENDPOINT_VARIABLE).unwrap_or_else(|_| {
        panic!(
            "{ENDPOINT_VARIABLE} is not set: the S3 tests need an S3 API server on loopback. Start \
             one as .ci/run does: `python3 -m venv target/ci-moto-venv && \
             target/ci-moto-venv/bin/pip install 'moto[server]==5.2.5' && \
             target/ci-moto-venv/bin/moto_server -H 127.0.0.1 -p 5055 &`, then \
             `export {ENDPOINT_VARIABLE}=http://127.0.0.1:5055`"
        )
    })
}

/// Creates `bucket` on the shared server (object_store has no call for it; moto creates one on
/// an unsigned PUT) and returns a client of it signing with `access_key` and `secret_key`.
pub async fn create_bucket(bucket: &str, access_key: &str, secret_key: &str) -> AmazonS3 {
    let endpoint = endpoint();
    let created = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("the S3 server at {endpoint} does not answer: {e}"));
    assert!(
        created.status().is_success(),
        "creating bucket {bucket}: {}",
        created.status()
    );
    AmazonS3Builder::new()
        .with_endpoint(&endpoint)
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_access_key_id(access_key)
        .with_secret_access_key(secret_key)
        .with_bucket_name(bucket)
        .build()
        .unwrap()
}

/// Every file under `dir`, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The number after `label` in an import's summary line ("... 3 unchanged, 0 rejected, ...").
pub fn count(summary: &str, label: &str) -> usize {
    let words: Vec<&str> = summary.split([' ', ',', '(', ')']).collect();
    let at = words
        .iter()
        .position(|w| *w == label)
        .unwrap_or_else(|| panic!("no `{label}` in {summary}"));
    words[at - 1].parse().unwrap()
}
