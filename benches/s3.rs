//! S3 import benchmark: a simulated night of about 100,000 recordings written by `recaudit sim
//! export --out s3://...` into a bucket of a loopback S3 server (moto's), then imported by the
//! release binary into fresh SQLite files.
//!
//! Run: `cargo bench --bench s3`. Settings, all optional, from the environment:
//! `RECAUDIT_BENCH_S3_RECORDINGS` (the night's size in exported recordings, default 100000),
//! `RECAUDIT_BENCH_S3_ENDPOINT` (an S3 API server to use; otherwise the bench starts its own
//! moto server on a free loopback port and stops it at the end), `RECAUDIT_BENCH_MOTO` (the
//! `moto_server` to start; default `target/ci-moto-venv/bin/moto_server`, as .ci/run installs
//! it, else `moto_server` on the PATH).
//!
//! The conversation count is chosen for the recordings: a sample night of 10,000 conversations
//! of the same seed gives the mix's recordings per conversation (a recording is one sidecar in
//! the export tree: failed exports and recordings in error have none, a transfer has two; about
//! 0.74 with the default mix), the night gets `recordings / ratio` conversations, corrected once
//! by the recordings that count really gives (the draws are random); the recordings it really
//! has are printed.
//!
//! The upload is setup and not measured (its time is printed). Each figure is a ratio against
//! a baseline measured in the same run, in this process, with the same client library, against
//! the same server (machines and the S3 server are noisy; the ratio is what carries over):
//!
//! - objects listed per second: recaudit's import, from its start to its `objects listed` log
//!   line (so including its start and the database's creation), against a raw `object_store`
//!   listing of the same prefix (the mean of one before and one after recaudit's);
//! - sidecars read per second: the rest of that import (sidecars read 16 at a time, parsed,
//!   every input stored) against raw GETs of the same keys, 16 at a time;
//! - media bytes hashed per second: the extra time of `recaudit import --hash-media` over the
//!   plain import, against raw GETs with SHA-256 of the same media objects, 16 at a time. When
//!   the binary has no `--hash-media` yet, that row says so.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use recaudit::simulator::{Mix, export};
use recaudit::time::Timestamp;
use sha2::{Digest, Sha256};

const SEED: u64 = 1;
const NIGHT: &str = "2026-07-14";
const PREFIX: &str = "bench";
const ACCESS_KEY: &str = "AKIARECAUDITBENCH001";
const SECRET_KEY: &str = "recaudit-bench-secret";
/// Requests in flight in the baselines: as many as recaudit's sidecar reads.
const CONCURRENCY: usize = 16;
const SAMPLE: usize = 10_000;

/// A server process the bench started, stopped when dropped (also on a panic).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let recordings: usize = std::env::var("RECAUDIT_BENCH_S3_RECORDINGS")
        .ok()
        .map(|n| n.parse().expect("RECAUDIT_BENCH_S3_RECORDINGS: a number"))
        .unwrap_or(100_000);
    let day = Timestamp::parse(&format!("{NIGHT}T00:00:00Z")).expect("day");
    let night = Night::sized(recordings, day);
    println!(
        "s3 benchmark: {} conversations ({:.3} exported recordings per conversation in a sample of {SAMPLE}): {} recordings, {} objects ({} sidecars, {} media objects of {} bytes)",
        night.conversations,
        night.ratio,
        night.sidecars,
        night.sidecars + night.media,
        night.sidecars,
        night.media,
        night.media_bytes
    );

    let (endpoint, _server) = match std::env::var("RECAUDIT_BENCH_S3_ENDPOINT") {
        Ok(endpoint) => (endpoint, None),
        Err(_) => {
            let (endpoint, server) = start_moto();
            (endpoint, Some(server))
        }
    };
    let bucket_name = format!("recaudit-bench-{}", std::process::id());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let bucket = runtime.block_on(create_bucket(&endpoint, &bucket_name));
    let scratch = std::env::temp_dir().join(format!("recaudit-s3-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let url = format!("s3://{bucket_name}/{PREFIX}");

    let started = Instant::now();
    let upload = recaudit(&scratch, &endpoint)
        .args(["sim", "export", "--out", &url, "--seed", &SEED.to_string()])
        .args(["--conversations", &night.conversations.to_string()])
        .args(["--date", NIGHT])
        .output()
        .expect("run recaudit sim export");
    assert!(
        upload.status.success(),
        "sim export: {}",
        String::from_utf8_lossy(&upload.stderr)
    );
    let uploaded = started.elapsed();
    let objects = night.sidecars + night.media;
    println!(
        "setup: sim export wrote {objects} objects in {:.1} s ({:.0} puts/s, 16 at a time)",
        uploaded.as_secs_f64(),
        objects as f64 / uploaded.as_secs_f64()
    );

    // The raw listing is timed before and after recaudit's (the server and the machine drift
    // over a long run); recaudit's is compared with their mean.
    let (first_listing, listed) = runtime.block_on(raw_listing(&bucket));
    assert_eq!(listed.len(), objects, "the bucket holds another tree");
    let mut baseline = runtime.block_on(baselines(Arc::clone(&bucket), listed));
    // The command's fixed cost up to its listing (start, database creation, one empty listing).
    let empty = import(
        &scratch.join("empty.db"),
        &endpoint,
        &format!("s3://{bucket_name}/empty"),
        false,
    );
    let plain = import(&scratch.join("plain.db"), &endpoint, &url, false);
    assert_eq!(
        plain.listed, objects,
        "recaudit listed another number of objects"
    );
    let (second_listing, _) = runtime.block_on(raw_listing(&bucket));
    baseline.listing = (first_listing + second_listing) / 2;
    let hashed =
        hash_media_supported().then(|| import(&scratch.join("hashed.db"), &endpoint, &url, true));

    let listing = Row::new(
        "objects listed/s",
        objects as f64,
        plain.until_listed,
        baseline.listing,
    );
    let sidecars = Row::new(
        "sidecars read/s",
        night.sidecars as f64,
        plain.total - plain.until_listed,
        baseline.sidecars,
    );
    println!();
    println!(
        "| {:<26} | {:>12} | {:>12} | {:>6} |",
        "", "recaudit", "baseline", "ratio"
    );
    println!("|{:-<28}|{:->14}|{:->14}|{:->8}|", "", "", "", "");
    listing.print();
    sidecars.print();
    match &hashed {
        Some(hashed) => Row::new(
            "media bytes hashed/s",
            night.media_bytes as f64,
            hashed.total.saturating_sub(plain.total),
            baseline.hashing,
        )
        .print(),
        None => println!(
            "| {:<26} | {:>12} | {:>12} | {:>6} |",
            "media bytes hashed/s",
            "no flag",
            rate(night.media_bytes as f64, baseline.hashing),
            "-"
        ),
    }
    println!();
    println!(
        "recaudit import: {:.2} s to the listing, {:.2} s in all{}; baselines: list {:.2} s and {:.2} s, {} sidecar GETs {:.2} s, {} media GET+SHA-256 {:.2} s ({} bytes)",
        plain.until_listed.as_secs_f64(),
        plain.total.as_secs_f64(),
        hashed.as_ref().map_or(
            "; `import --hash-media` is not in this binary: hashing not measured".to_string(),
            |h| format!("; with --hash-media {:.2} s in all", h.total.as_secs_f64())
        ),
        first_listing.as_secs_f64(),
        second_listing.as_secs_f64(),
        night.sidecars,
        baseline.sidecars.as_secs_f64(),
        night.media,
        baseline.hashing.as_secs_f64(),
        baseline.media_bytes
    );
    println!(
        "recaudit's listing time includes its start, the database's creation and migrations: {:.2} s for an empty prefix",
        empty.until_listed.as_secs_f64()
    );
    println!(
        "ratio: recaudit's rate over the baseline's (1.00 = as fast as the raw client; the import also parses and stores)"
    );
    let _ = std::fs::remove_dir_all(&scratch);
}

/// The night's size: its conversation count and what its export tree holds.
struct Night {
    conversations: usize,
    ratio: f64,
    sidecars: usize,
    media: usize,
    media_bytes: u64,
}

impl Night {
    /// The night of about `recordings` exported recordings: the sample's ratio gives a first
    /// count, corrected once by the recordings that count really gives.
    fn sized(recordings: usize, day: Timestamp) -> Night {
        let ratio = count(SAMPLE, day).0 as f64 / SAMPLE as f64;
        let mut conversations = ((recordings as f64 / ratio).round() as usize).max(1);
        let mut counted = count(conversations, day);
        if counted.0 != recordings && counted.0 > 0 {
            conversations = ((conversations as f64 * recordings as f64 / counted.0 as f64).round()
                as usize)
                .max(1);
            counted = count(conversations, day);
        }
        let (sidecars, media, media_bytes) = counted;
        Night {
            conversations,
            ratio,
            sidecars,
            media,
            media_bytes,
        }
    }
}

/// Sidecars, media objects and media bytes of the export tree of a night of `conversations`
/// (built as it is counted, as `sim export` builds it as it writes).
fn count(conversations: usize, day: Timestamp) -> (usize, usize, u64) {
    let (mut sidecars, mut media, mut bytes) = (0, 0, 0);
    for (path, body) in export::night_files(SEED, conversations, day, &Mix::default()) {
        if path.ends_with("_metadata.json") {
            sidecars += 1;
        } else {
            media += 1;
            bytes += body.len() as u64;
        }
    }
    (sidecars, media, bytes)
}

/// A moto server on a free loopback port, once it answers.
fn start_moto() -> (String, Server) {
    let moto = std::env::var_os("RECAUDIT_BENCH_MOTO")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let venv =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ci-moto-venv/bin/moto_server");
            if venv.exists() {
                venv
            } else {
                PathBuf::from("moto_server")
            }
        });
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(&moto)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {} ({e}): install moto as .ci/run does (`python3 -m venv target/ci-moto-venv && target/ci-moto-venv/bin/pip install 'moto[server]==5.2.5'`), or set RECAUDIT_BENCH_MOTO or RECAUDIT_BENCH_S3_ENDPOINT",
                moto.display()
            )
        });
    let server = Server(child);
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto did not start on {endpoint}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (endpoint, server)
}

async fn create_bucket(endpoint: &str, bucket: &str) -> Arc<AmazonS3> {
    // object_store has no call to create a bucket; moto creates one on an unsigned PUT.
    let created = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("the S3 server at {endpoint} does not answer: {e}"));
    assert!(created.status().is_success(), "creating bucket {bucket}");
    Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .with_bucket_name(bucket)
            .build()
            .expect("S3 client"),
    )
}

/// The release binary (built by `cargo bench` with this bench), with the bench's credentials
/// and endpoint and nothing from the machine's AWS configuration.
fn recaudit(dir: &Path, endpoint: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_recaudit"));
    command
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("RECAUDIT_DB")
        .env("NO_COLOR", "1")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("RECAUDIT_S3_ENDPOINT", endpoint)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL");
    command
}

fn hash_media_supported() -> bool {
    Command::new(env!("CARGO_BIN_EXE_recaudit"))
        .args(["import", "--help"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--hash-media"))
}

/// One timed `recaudit import` of the bucket.
struct Import {
    listed: usize,
    until_listed: Duration,
    total: Duration,
}

/// Imports `url` into the fresh database `db`, timing the listing by the arrival of its log
/// line on stderr.
fn import(db: &Path, endpoint: &str, url: &str, hash_media: bool) -> Import {
    let dir = db.parent().expect("scratch dir");
    let mut command = recaudit(dir, endpoint);
    command
        .arg("-v")
        .arg("--db")
        .arg(format!("sqlite://{}", db.display()))
        .args(["import", url]);
    if hash_media {
        command.arg("--hash-media");
    }
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run recaudit import");
    let stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut listed = None;
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap_or_default();
            if listed.is_none()
                && let Some(n) = line
                    .rsplit_once(" objects listed")
                    .and_then(|(head, _)| head.rsplit(' ').next())
                    .and_then(|n| n.parse::<usize>().ok())
            {
                listed = Some((n, started.elapsed()));
            }
            lines.push(line);
        }
        (listed, lines)
    });
    let output = child.wait_with_output().expect("recaudit import");
    let total = started.elapsed();
    let (listed, lines) = reader.join().expect("stderr reader");
    assert!(
        output.status.success(),
        "recaudit import: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        lines.join("\n")
    );
    let (listed, until_listed) = listed.unwrap_or_else(|| {
        panic!(
            "no `objects listed` line from recaudit import:\n{}",
            lines.join("\n")
        )
    });
    Import {
        listed,
        until_listed,
        total,
    }
}

/// The raw client's times over the same objects.
struct Baseline {
    listing: Duration,
    sidecars: Duration,
    hashing: Duration,
    media_bytes: u64,
}

/// A raw listing of the night's prefix, timed.
async fn raw_listing(bucket: &AmazonS3) -> (Duration, Vec<ObjectMeta>) {
    let started = Instant::now();
    let listed: Vec<ObjectMeta> = bucket
        .list(Some(&ObjectPath::from(PREFIX)))
        .try_collect()
        .await
        .expect("list");
    (started.elapsed(), listed)
}

/// Raw GETs of the sidecars `listed` names, and GETs with SHA-256 of its media objects.
async fn baselines(bucket: Arc<AmazonS3>, listed: Vec<ObjectMeta>) -> Baseline {
    let (sidecars, media): (Vec<ObjectMeta>, Vec<ObjectMeta>) = listed
        .into_iter()
        .partition(|meta| meta.location.as_ref().ends_with("_metadata.json"));

    let started = Instant::now();
    let read: usize = futures_util::stream::iter(sidecars)
        .map(|meta| {
            let bucket = Arc::clone(&bucket);
            async move {
                let body = bucket.get(&meta.location).await?.bytes().await?;
                Ok::<_, object_store::Error>(body.len())
            }
        })
        .buffered(CONCURRENCY)
        .try_fold(0, |n, len| async move { Ok(n + usize::from(len > 0)) })
        .await
        .expect("GET a sidecar");
    let sidecars_time = started.elapsed();
    assert!(read > 0);

    let started = Instant::now();
    let media_bytes: u64 = futures_util::stream::iter(media)
        .map(|meta| {
            let bucket = Arc::clone(&bucket);
            async move {
                let mut stream = bucket.get(&meta.location).await?.into_stream();
                let mut hasher = Sha256::new();
                let mut bytes = 0;
                while let Some(chunk) = stream.try_next().await? {
                    bytes += chunk.len() as u64;
                    hasher.update(&chunk);
                }
                std::hint::black_box(hasher.finalize());
                Ok::<_, object_store::Error>(bytes)
            }
        })
        .buffered(CONCURRENCY)
        .try_fold(0, |n, bytes| async move { Ok(n + bytes) })
        .await
        .expect("GET a media object");
    Baseline {
        listing: Duration::ZERO,
        sidecars: sidecars_time,
        hashing: started.elapsed(),
        media_bytes,
    }
}

/// One line of the table: recaudit's rate and the baseline's for the same work.
struct Row {
    name: &'static str,
    recaudit: f64,
    baseline: f64,
}

impl Row {
    fn new(name: &'static str, work: f64, recaudit: Duration, baseline: Duration) -> Row {
        Row {
            name,
            recaudit: work / recaudit.as_secs_f64().max(1e-9),
            baseline: work / baseline.as_secs_f64().max(1e-9),
        }
    }

    fn print(&self) {
        println!(
            "| {:<26} | {:>12.0} | {:>12.0} | {:>6.2} |",
            self.name,
            self.recaudit,
            self.baseline,
            self.recaudit / self.baseline
        );
    }
}

fn rate(work: f64, time: Duration) -> String {
    format!("{:.0}", work / time.as_secs_f64().max(1e-9))
}
