//! Pull benchmark: a night of N conversations (default 100,000) from the simulator over
//! loopback into a fresh SQLite file, at the simulator's rate limit (default 60,000 requests a
//! minute so the run takes minutes, not the hours a 300/minute token would need).
//!
//! Run: `cargo bench --bench pull` or `cargo bench --bench pull -- 20000 30000` for another
//! night size and limit. It prints conversations per second, requests made, 429s received, and
//! the share of the allowed request rate the pull used (goal: at least 90%, under 1% 429s).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use recaudit::simulator::{Faults, Mix, Org, SimClient, SimServer};
use recaudit::source::genesys::{self, Credentials, PullConfig};
use recaudit::store::Store;
use recaudit::time::Timestamp;

fn main() {
    let numbers: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let conversations = numbers.first().copied().unwrap_or(100_000) as usize;
    let limit = numbers.get(1).copied().unwrap_or(60_000);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = std::env::temp_dir().join(format!("recaudit-pull-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let day = Timestamp::parse("2026-07-14T00:00:00Z").expect("day");

    runtime.block_on(async {
        let started = Instant::now();
        let org = Org::generate(1, conversations, day, &Mix::default());
        println!("pull benchmark: {conversations} conversations, limit {limit} requests/minute (org built in {:.1} s)", started.elapsed().as_secs_f64());
        let faults = Faults { rate_limit_per_minute: limit, job_polls: 0, ..Faults::default() };
        let client = SimClient::default();
        let server = SimServer::start(org, faults, client.clone(), "127.0.0.1:0".parse().expect("addr")).await.expect("simulator");
        let store = Store::open(&format!("sqlite://{}", dir.join("pull.db").display())).await.expect("store");
        let mut config = PullConfig::new(server.base_url(), server.base_url(), Credentials::new(client.id, client.secret));
        config.poll_interval = Duration::from_millis(50);
        config.concurrency = 16;

        let (outcome, stats) = genesys::pull(&store, config, day, day.plus_millis(86_400_000)).await.expect("pull");
        let seconds = stats.elapsed.as_secs_f64();
        let served = server.stats.requests.load(Ordering::Relaxed);
        let limited = server.stats.rate_limited.load(Ordering::Relaxed);
        let allowed = limit as f64 / 60.0 * seconds;
        println!("pulled {} conversations in {seconds:.1} s: {:.0} conversations/s", stats.conversations, stats.conversations as f64 / seconds);
        println!("requests: {} made by the client, {served} answered by the simulator", stats.requests);
        println!("429 answers: {limited} ({:.2}% of requests)", limited as f64 * 100.0 / served.max(1) as f64);
        println!("allowed rate used: {:.1}% ({:.0} requests/minute of {limit})", served as f64 * 100.0 / allowed, served as f64 * 60.0 / seconds);
        println!("stored {} responses, {} rejected", outcome.imported, outcome.rejected.len());
        store.close().await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}
