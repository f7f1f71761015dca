//! Pulls killed (SIGKILL) or stopped (SIGTERM, SIGINT) at fixed points and run again: the real
//! binary against the simulator over loopback, its database compared with an uninterrupted
//! pull's, and the simulator's own count of what was asked.
//!
//! The fixed points come from the simulator's [`Stall`]: the nth matching request is acted on
//! but never answered. Once the simulator reports the stall and the database shows what came
//! before it, everything before that request is committed and nothing after it has started; the
//! test then kills or signals the process. Waits poll with a deadline; no sleep decides an
//! outcome.

#![cfg(unix)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use recaudit::simulator::{Faults, Mix, Org, SimClient, SimServer, Stall};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};

use crate::support::*;

const NIGHT: &str = "2026-07-14T00:00:00Z";
/// 100 conversations served 5 to a page: 20 details pages.
const CONVERSATIONS: usize = 100;
const PAGE: usize = 5;
const PAGES: usize = CONVERSATIONS / PAGE;
/// The S3 integration a creating pull names.
const INTEGRATION: &str = "6e5d4c3b-2a19-4f08-97e6-d5c4b3a29180";
/// Details job result pages, as requested or stored.
const RESULTS: &str = "/results";
const METADATA: &str = "/recordingmetadata";
/// Tables whose content must not depend on how often the pull was interrupted, and the columns
/// that may (which raw input a row came from; when the platform made a job).
const TABLES: [&str; 9] = [
    "conversations",
    "participants",
    "sessions",
    "segments",
    "recordings",
    "recording_jobs",
    "failed_recordings",
    "orphan_recordings",
    "export_media",
];
const VARYING: [&str; 2] = ["raw_input_id", "date_created"];

async fn simulator(stall: Option<Stall>) -> SimServer {
    let org = Org::generate(42, CONVERSATIONS, ts(NIGHT), &Mix::default());
    let faults = Faults {
        rate_limit_per_minute: 1_000_000,
        job_polls: 0,
        max_page_size: PAGE,
        stall,
        hang: Duration::from_secs(60),
        ..Faults::default()
    };
    SimServer::start(
        org,
        faults,
        SimClient::default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

/// `recaudit pull` of [`NIGHT`] from `server` into `dir/recaudit.db`.
fn pull(dir: &Path, server: &SimServer, extra: &[&str]) -> std::process::Command {
    let client = SimClient::default();
    let mut command = binary(dir);
    command
        .args(["--db", "sqlite://recaudit.db", "pull", "--api-base"])
        .arg(server.base_url())
        .args(["--from", "2026-07-14", "--to", "2026-07-15"])
        .args(extra)
        .env("GENESYS_CLIENT_ID", client.id)
        .env("GENESYS_CLIENT_SECRET", client.secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs a pull to its end (off the runtime's threads: the simulator keeps serving).
async fn pull_to_end(dir: &Path, server: &SimServer, extra: &[&str]) -> Output {
    let mut command = pull(dir, server, extra);
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn assert_pulled(output: &Output) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

async fn connect(dir: &Path) -> SqliteConnection {
    let options = SqliteConnectOptions::new()
        .filename(dir.join("recaudit.db"))
        .read_only(true);
    SqliteConnection::connect_with(&options).await.unwrap()
}

/// A number the database holds now (0 while it does not exist yet).
async fn number(dir: &Path, sql: &str) -> i64 {
    if !dir.join("recaudit.db").exists() {
        return 0;
    }
    let mut db = connect(dir).await;
    let value = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&mut db)
        .await
        .unwrap_or(0);
    db.close().await.unwrap();
    value
}

fn stored(kind: &str) -> String {
    format!("SELECT COUNT(*) FROM raw_inputs WHERE source LIKE '%{kind}%'")
}

/// Starts a pull and waits until the simulator holds the stalled request and the database
/// shows `committed` (a count) at `expected`.
async fn pull_until_stalled(
    dir: &Path,
    server: &SimServer,
    extra: &[&str],
    committed: &str,
    expected: i64,
) -> Child {
    let mut child = pull(dir, server, extra).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if server.stats.stalled.load(Ordering::SeqCst) == 1
            && number(dir, committed).await == expected
        {
            return child;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let output = child.wait_with_output().unwrap();
            panic!(
                "the pull ended ({status}) before the stall: {}",
                text(&output.stderr)
            );
        }
        assert!(
            Instant::now() < deadline,
            "no stall with `{committed}` = {expected} (now {})",
            number(dir, committed).await
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sends `signal` and waits (with a deadline) for the process to exit by itself.
async fn signal(child: Child, signal: libc::c_int) -> Output {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) takes plain integers and touches no memory of this process; the pid is
    // our child's, which has not been waited for, so it cannot have been reused.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let started = Instant::now();
    let mut child = child;
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the pull did not stop within 10 s of the signal"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.wait_with_output().unwrap()
}

/// Every row of [`TABLES`] without the [`VARYING`] columns, sorted.
async fn content(dir: &Path) -> BTreeMap<&'static str, Vec<String>> {
    table_content(&dir.join("recaudit.db"), &TABLES, &VARYING).await
}

/// What an uninterrupted pull stores, and the metadata requests it makes.
struct Reference {
    content: BTreeMap<&'static str, Vec<String>>,
    metadata_requests: Vec<String>,
}

async fn reference(extra: &[&str]) -> Reference {
    let dir = tempfile::tempdir().unwrap();
    let server = simulator(None).await;
    assert_pulled(&pull_to_end(dir.path(), &server, extra).await);
    let content = content(dir.path()).await;
    assert!(
        content["conversations"].len() == CONVERSATIONS && !content["recordings"].is_empty(),
        "the reference pull stored the night"
    );
    assert!(!content["failed_recordings"].is_empty());
    let mut metadata_requests: Vec<String> = server.stats.handled(METADATA).into_keys().collect();
    metadata_requests.sort();
    Reference {
        content,
        metadata_requests,
    }
}

/// The stored details pages: each stored once, `PAGES` of them per job, and the jobs.
async fn stored_pages(dir: &Path) -> BTreeMap<String, usize> {
    let mut db = connect(dir).await;
    let sources: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT source FROM raw_inputs WHERE source LIKE '%{RESULTS}%'"
    )))
    .fetch_all(&mut db)
    .await
    .unwrap();
    db.close().await.unwrap();
    let mut unique = sources.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), sources.len(), "a details page stored twice");
    let mut per_job = BTreeMap::new();
    for source in &sources {
        let job = source
            .split("/details/jobs/")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap()
            .to_string();
        *per_job.entry(job).or_default() += 1;
    }
    per_job
}

/// Requests the simulator handled more than once (the one in flight at the kill, at most).
fn asked_twice(server: &SimServer, part: &str) -> Vec<String> {
    let handled = server.stats.handled(part);
    assert!(
        handled.values().all(|n| *n <= 2),
        "asked three times: {handled:?}"
    );
    handled
        .into_iter()
        .filter(|(_, n)| *n == 2)
        .map(|(request, _)| request)
        .collect()
}

async fn assert_completed(dir: &Path) {
    assert_eq!(
        number(
            dir,
            "SELECT COUNT(*) FROM pulls WHERE completed IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(number(dir, "SELECT COUNT(*) FROM pull_metadata").await, 0);
}

/// SIGKILL during details paging: the 8th page is in flight, 7 are stored. The rerun pages the
/// same job from the 8th: 20 pages stored once, only the 8th asked twice, one details job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_killed_while_paging_details_continues_with_the_same_job() {
    let reference = reference(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let server = simulator(Some(Stall::new("GET", RESULTS, 8))).await;
    let child = pull_until_stalled(dir.path(), &server, &[], &stored(RESULTS), 7).await;
    kill(child);
    assert_eq!(number(dir.path(), &stored(RESULTS)).await, 7);

    assert_pulled(&pull_to_end(dir.path(), &server, &[]).await);
    assert_same_tables(&content(dir.path()).await, &reference.content);
    let pages = stored_pages(dir.path()).await;
    assert_eq!(pages.values().copied().collect::<Vec<_>>(), vec![PAGES]);
    assert_eq!(server.stats.handled(RESULTS).len(), PAGES);
    assert_eq!(
        asked_twice(&server, RESULTS).len(),
        1,
        "only the page in flight"
    );
    assert_eq!(server.stats.details_jobs_created.load(Ordering::SeqCst), 1);
    assert_eq!(server.stats.jobs_created.load(Ordering::SeqCst), 0);
    assert_completed(dir.path()).await;
}

/// SIGKILL while recording metadata is fetched one at a time: 9 answers stored, the 10th in
/// flight. The rerun asks only the others; no details page is asked again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_killed_while_fetching_recording_metadata_asks_only_the_rest() {
    let reference = reference(&["--concurrency", "1"]).await;
    let dir = tempfile::tempdir().unwrap();
    let server = simulator(Some(Stall::new("GET", METADATA, 10))).await;
    let child = pull_until_stalled(
        dir.path(),
        &server,
        &["--concurrency", "1"],
        &stored(METADATA),
        9,
    )
    .await;
    kill(child);

    assert_pulled(&pull_to_end(dir.path(), &server, &["--concurrency", "1"]).await);
    assert_same_tables(&content(dir.path()).await, &reference.content);
    let mut asked: Vec<String> = server.stats.handled(METADATA).into_keys().collect();
    asked.sort();
    assert_eq!(asked, reference.metadata_requests);
    assert_eq!(
        asked_twice(&server, METADATA).len(),
        1,
        "only the one in flight"
    );
    assert!(asked_twice(&server, RESULTS).is_empty());
    assert_eq!(server.stats.details_jobs_created.load(Ordering::SeqCst), 1);
    assert_eq!(stored_pages(dir.path()).await.len(), 1);
    assert_completed(dir.path()).await;
}

/// SIGKILL after the export job was created (its first status check in flight): the rerun
/// reads that job; the org has one job from this pull and the failed recordings cite it alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_killed_after_creating_its_export_job_reads_that_job() {
    let creating = ["--integration-id", INTEGRATION];
    let reference = reference(&creating).await;
    let dir = tempfile::tempdir().unwrap();
    let server = simulator(Some(Stall::new("GET", "/api/v2/recording/jobs/", 1))).await;
    let saved = "SELECT COUNT(*) FROM pulls WHERE recording_job IS NOT NULL";
    let child = pull_until_stalled(dir.path(), &server, &creating, saved, 1).await;
    kill(child);
    assert_eq!(server.stats.jobs_created.load(Ordering::SeqCst), 1);

    assert_pulled(&pull_to_end(dir.path(), &server, &creating).await);
    assert_eq!(server.stats.jobs_created.load(Ordering::SeqCst), 1);
    assert_same_tables(&content(dir.path()).await, &reference.content);
    assert_eq!(
        number(
            dir.path(),
            "SELECT COUNT(DISTINCT job_id) FROM failed_recordings"
        )
        .await,
        1
    );
    assert_eq!(server.stats.details_jobs_created.load(Ordering::SeqCst), 1);
    assert_completed(dir.path()).await;
}

/// The platform created the export job but its answer never came (the kill landed between the
/// request and the commit of the id). The request was noted first, so the rerun finds the job
/// in the org's listing instead of creating a second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_killed_before_its_export_job_id_arrived_finds_the_job() {
    let creating = ["--integration-id", INTEGRATION];
    let reference = reference(&creating).await;
    let dir = tempfile::tempdir().unwrap();
    let server = simulator(Some(Stall::new("POST", "/api/v2/recording/jobs", 1))).await;
    let noted =
        "SELECT COUNT(*) FROM pulls WHERE export_requested IS NOT NULL AND recording_job IS NULL";
    let child = pull_until_stalled(dir.path(), &server, &creating, noted, 1).await;
    kill(child);
    assert_eq!(server.stats.jobs_created.load(Ordering::SeqCst), 1);

    let rerun = pull_to_end(dir.path(), &server, &creating).await;
    assert_pulled(&rerun);
    assert_eq!(
        server.stats.jobs_created.load(Ordering::SeqCst),
        1,
        "no second export job: {}",
        text(&rerun.stderr)
    );
    // The job listing read to find the job is stored as evidence, so the org's own export job
    // (listed beside ours) is stored too; nothing else differs.
    let org_job = Org::generate(42, CONVERSATIONS, ts(NIGHT), &Mix::default()).export_job;
    let mut stored = content(dir.path()).await;
    let jobs = stored.get_mut("recording_jobs").unwrap();
    let listed = jobs.len();
    jobs.retain(|row| !row.starts_with(&format!("[\"{org_job}\"")));
    assert_eq!(
        listed,
        jobs.len() + 1,
        "the org's job was listed and stored"
    );
    assert_same_tables(&stored, &reference.content);
    assert_completed(dir.path()).await;
}

/// SIGTERM while a details page is in flight: the pull drops that request and exits 143 soon,
/// saying it stopped and that a rerun continues; the rerun repeats no stored page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_pull_with_its_progress_saved() {
    let reference = reference(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let server = simulator(Some(Stall::new("GET", RESULTS, 8))).await;
    let child = pull_until_stalled(dir.path(), &server, &[], &stored(RESULTS), 7).await;
    let stopped = signal(child, libc::SIGTERM).await;
    let said = text(&stopped.stderr);
    assert_eq!(stopped.status.code(), Some(143), "{said}");
    assert!(said.contains("stopped by SIGTERM"), "{said}");
    assert!(
        said.contains("run the same pull again to continue"),
        "{said}"
    );
    assert_eq!(number(dir.path(), &stored(RESULTS)).await, 7);
    assert_eq!(
        number(
            dir.path(),
            "SELECT COUNT(*) FROM pulls WHERE completed IS NULL AND details_cursor IS NOT NULL"
        )
        .await,
        1
    );

    assert_pulled(&pull_to_end(dir.path(), &server, &[]).await);
    assert_same_tables(&content(dir.path()).await, &reference.content);
    assert_eq!(
        stored_pages(dir.path())
            .await
            .values()
            .copied()
            .collect::<Vec<_>>(),
        vec![PAGES]
    );
    assert_eq!(
        asked_twice(&server, RESULTS).len(),
        1,
        "only the page in flight"
    );
    assert_eq!(server.stats.details_jobs_created.load(Ordering::SeqCst), 1);
    assert_completed(dir.path()).await;
}

/// SIGINT (Ctrl-C) while recording metadata is in flight: exit 130, and the rerun asks only
/// the conversations without an answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_the_pull_during_recording_metadata() {
    let reference = reference(&["--concurrency", "1"]).await;
    let dir = tempfile::tempdir().unwrap();
    let server = simulator(Some(Stall::new("GET", METADATA, 5))).await;
    let child = pull_until_stalled(
        dir.path(),
        &server,
        &["--concurrency", "1"],
        &stored(METADATA),
        4,
    )
    .await;
    let stopped = signal(child, libc::SIGINT).await;
    let said = text(&stopped.stderr);
    assert_eq!(stopped.status.code(), Some(130), "{said}");
    assert!(said.contains("stopped by SIGINT"), "{said}");

    assert_pulled(&pull_to_end(dir.path(), &server, &["--concurrency", "1"]).await);
    assert_same_tables(&content(dir.path()).await, &reference.content);
    assert_eq!(
        asked_twice(&server, METADATA).len(),
        1,
        "only the one in flight"
    );
    assert!(asked_twice(&server, RESULTS).is_empty());
    assert_completed(dir.path()).await;
}

/// The interrupted pull's details job expired on the platform before the rerun: its cursor is
/// dead, so the rerun creates a new job, says so, and pages it from the start. The old job's
/// pages stay stored beside the new job's; the conversations are stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_whose_details_job_expired_says_so_and_uses_a_new_job() {
    let reference = reference(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let server = simulator(Some(Stall::new("GET", RESULTS, 8))).await;
    let child = pull_until_stalled(dir.path(), &server, &[], &stored(RESULTS), 7).await;
    kill(child);
    server.expire_details_jobs();

    let rerun = pull_to_end(dir.path(), &server, &[]).await;
    assert_pulled(&rerun);
    let said = text(&rerun.stderr);
    assert!(
        said.contains("has expired") && said.contains("a new job is created"),
        "{said}"
    );
    assert_eq!(server.stats.details_jobs_created.load(Ordering::SeqCst), 2);
    assert_same_tables(&content(dir.path()).await, &reference.content);
    let mut pages: Vec<usize> = stored_pages(dir.path()).await.into_values().collect();
    pages.sort();
    assert_eq!(pages, vec![7, PAGES]);
    assert_completed(dir.path()).await;
}

/// In one run: the export job's creation times out (the platform made the job, the answer is
/// late). The request is not sent again blind: the org's listing shows the job, which is read.
#[tokio::test]
async fn an_export_job_whose_answer_timed_out_is_found_not_created_again() {
    use recaudit::source::genesys::{self, Credentials, PullConfig};
    let env = TestEnv::new().await;
    let org = Org::generate(42, CONVERSATIONS, ts(NIGHT), &Mix::default());
    let faults = Faults {
        rate_limit_per_minute: 1_000_000,
        job_polls: 0,
        stall: Some(Stall::new("POST", "/api/v2/recording/jobs", 1)),
        hang: Duration::from_secs(30),
        ..Faults::default()
    };
    let server = SimServer::start(
        org,
        faults,
        SimClient::default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let client = SimClient::default();
    let mut config = PullConfig::new(
        server.base_url(),
        server.base_url(),
        Credentials::new(client.id, client.secret),
    );
    config.poll_interval = Duration::from_millis(10);
    config.backoff_base = Duration::from_millis(10);
    config.request_timeout = Duration::from_millis(500);
    config.integration_id = Some(INTEGRATION.to_string());
    let (_, stats) = genesys::pull(&env.store, config, ts(NIGHT), ts("2026-07-15T00:00:00Z"))
        .await
        .expect("pull");
    assert_eq!(server.stats.stalled.load(Ordering::SeqCst), 1);
    assert_eq!(server.stats.jobs_created.load(Ordering::SeqCst), 1);
    assert_eq!(server.stats.handled("POST /api/v2/recording/jobs").len(), 1);
    let job = stats
        .adopted_export_job
        .expect("the job was found in the listing");
    assert_eq!(stats.export_jobs, vec![job.clone()]);
    let cited: Vec<String> = sqlx::query_scalar("SELECT DISTINCT job_id FROM failed_recordings")
        .fetch_all(env.store.pool())
        .await
        .unwrap();
    assert_eq!(cited, vec![job]);
}
