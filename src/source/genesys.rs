//! The Genesys Cloud API client and `recaudit pull`.
//!
//! - **OAuth client credentials**: `POST {login}/oauth/token` with HTTP Basic auth; a new token
//!   before the old one expires and after any 401. The secret is held in [`Credentials`], whose
//!   `Debug` redacts it, and is never logged, stored or put in an error.
//! - **Pacing**: requests are spaced so a token stays under its per-minute limit
//!   (`inin-ratelimit-allowed`, 300 by default); when the answers say the window is nearly used
//!   up, the client waits for `inin-ratelimit-reset`. 429s stay rare, not impossible.
//! - **Retries** (the SDKs' policy, spec/genesys-api.md 7.4): 429 waits `Retry-After` and gives
//!   up on the step when asked to wait more than 180 s; 502, 503, 504 and connection errors are
//!   retried with exponential backoff and jitter; other 4xx and 501 are not retried; every
//!   request has a timeout.
//! - **The pull**: conversation details through an async details job (create, poll, page by
//!   cursor), recording metadata per conversation (bounded concurrency), the window's bulk
//!   export job and its failedrecordings, and the orphan recordings. Every response body that
//!   carries evidence is stored as a raw input (request path, received time, size, SHA-256,
//!   `ININ-Correlation-Id`) and imported exactly as `recaudit import` would.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::import::{ImportOutcome, PayloadSink};
use crate::error::{Error, Result};
use crate::store::{PullState, Store};
use crate::time::Timestamp;

/// Genesys Cloud regions: AWS region code to API domain (spec/genesys-api.md 6.2).
pub const REGIONS: &[(&str, &str)] = &[
    ("us-east-1", "mypurecloud.com"),
    ("us-east-2", "use2.us-gov-pure.cloud"),
    ("us-west-2", "usw2.pure.cloud"),
    ("ca-central-1", "cac1.pure.cloud"),
    ("sa-east-1", "sae1.pure.cloud"),
    ("mx-central-1", "mxc1.pure.cloud"),
    ("eu-west-1", "mypurecloud.ie"),
    ("eu-west-2", "euw2.pure.cloud"),
    ("eu-central-1", "mypurecloud.de"),
    ("eu-central-2", "euc2.pure.cloud"),
    ("me-central-1", "mec1.pure.cloud"),
    ("ap-south-1", "aps1.pure.cloud"),
    ("ap-northeast-1", "mypurecloud.jp"),
    ("ap-northeast-2", "apne2.pure.cloud"),
    ("ap-northeast-3", "apne3.pure.cloud"),
    ("ap-southeast-1", "apse1.pure.cloud"),
    ("ap-southeast-2", "mypurecloud.com.au"),
    ("eusc-de-east-1", "edee1.eusc-pure.cloud"),
];

/// API and login base URLs for a region name (`eu-west-1`, `eu_west_1`) or a domain
/// (`mypurecloud.ie`).
pub fn region_bases(region: &str) -> Result<(String, String)> {
    let normalized = region.trim().to_ascii_lowercase().replace('_', "-");
    let domain = REGIONS
        .iter()
        .find(|(code, domain)| *code == normalized || *domain == normalized)
        .map(|(_, domain)| domain.to_string())
        .or_else(|| normalized.contains('.').then(|| normalized.clone()))
        .ok_or_else(|| {
            let known: Vec<&str> = REGIONS.iter().map(|(c, _)| *c).collect();
            Error::Usage(format!(
                "unknown region `{region}`: use one of {} or a domain such as mypurecloud.ie",
                known.join(", ")
            ))
        })?;
    Ok((
        format!("https://api.{domain}"),
        format!("https://login.{domain}"),
    ))
}

/// OAuth client credentials. `Debug` never shows the secret.
#[derive(Clone)]
pub struct Credentials {
    pub client_id: String,
    secret: String,
}

impl Credentials {
    pub fn new(client_id: String, secret: String) -> Credentials {
        Credentials { client_id, secret }
    }

    /// From `GENESYS_CLIENT_ID` / `GENESYS_CLIENT_SECRET`, or a secrets file of `key = value`
    /// lines with `client_id` and `client_secret` that only its owner may read.
    pub fn load(secrets_file: Option<&std::path::Path>) -> Result<Credentials> {
        if let Some(path) = secrets_file {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path)
                    .map_err(Error::io("cannot read secrets file", path))?
                    .permissions()
                    .mode();
                if mode & 0o077 != 0 {
                    return Err(Error::Usage(format!(
                        "secrets file {} is readable by others; chmod 600 it",
                        path.display()
                    )));
                }
            }
            let text = std::fs::read_to_string(path)
                .map_err(Error::io("cannot read secrets file", path))?;
            let value = |key: &str| {
                text.lines()
                    .filter_map(|l| l.split_once('='))
                    .find(|(k, _)| k.trim() == key)
                    .map(|(_, v)| v.trim().trim_matches('"').to_string())
            };
            return match (value("client_id"), value("client_secret")) {
                (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
                    Ok(Credentials::new(id, secret))
                }
                _ => Err(Error::Usage(format!(
                    "secrets file {} needs client_id and client_secret",
                    path.display()
                ))),
            };
        }
        match (std::env::var("GENESYS_CLIENT_ID"), std::env::var("GENESYS_CLIENT_SECRET")) {
            (Ok(id), Ok(secret)) if !id.is_empty() && !secret.is_empty() => Ok(Credentials::new(id, secret)),
            _ => Err(Error::Usage(
                "no Genesys Cloud credentials: set GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET, or pass --secrets FILE".to_string(),
            )),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Where and how to pull.
#[derive(Debug, Clone)]
pub struct PullConfig {
    pub api_base: String,
    pub login_base: String,
    pub credentials: Credentials,
    /// Parallel recording-metadata requests.
    pub concurrency: usize,
    /// Details job results page size.
    pub page_size: usize,
    /// Give up a step when 429's `Retry-After` asks for more than this.
    pub max_retry_after: Duration,
    /// Attempts for retryable failures (502/503/504, connection errors).
    pub max_attempts: u32,
    pub request_timeout: Duration,
    /// Pause between job status polls.
    pub poll_interval: Duration,
    /// Base of the exponential backoff.
    pub backoff_base: Duration,
    /// Which conversations get a per-conversation recordingmetadata call (the costly part of
    /// the request budget).
    pub metadata: MetadataScope,
    /// Media types whose agent interactions need a recording (with [`MetadataScope::Needed`]).
    pub media_types: Vec<String>,
    /// Read this bulk export job instead of the org's jobs that cover the window.
    pub recording_job: Option<String>,
    /// Create an EXPORT job for the window through this "AWS S3 recording bulk actions"
    /// integration (`RecordingJobsQuery.integrationId`: "required and used only for EXPORT
    /// action"). `None`, the default, keeps the pull read-only: it schedules nothing in the org.
    pub integration_id: Option<String>,
    /// Stop (resumably) after this many API requests.
    pub max_requests: Option<u64>,
    /// How conversation details are fetched.
    pub details: DetailsMode,
}

/// How conversation details are fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetailsMode {
    /// The sync query for windows of an hour or less, async jobs otherwise.
    Auto,
    /// Async details jobs (Genesys recommends them for historical pulls).
    Jobs,
    /// The sync query (`POST .../details/query`, paged by page number; at most 10,000
    /// conversations, and the interval matches whole days, so the store keeps only the window).
    Sync,
}

impl std::str::FromStr for DetailsMode {
    type Err = String;
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text {
            "auto" => Ok(DetailsMode::Auto),
            "jobs" => Ok(DetailsMode::Jobs),
            "sync" => Ok(DetailsMode::Sync),
            other => Err(format!("`{other}` is not auto, jobs or sync")),
        }
    }
}

/// Which conversations get a `recordingmetadata` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataScope {
    /// Every conversation of the window.
    All,
    /// Conversations where an agent interacted on an in-scope medium: the ones that must have a
    /// recording. Abandoned, IVR-only and out-of-scope interactions cost nothing.
    Needed,
    /// None: rely on the export tree and the bulk job.
    None,
}

impl std::str::FromStr for MetadataScope {
    type Err = String;
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text {
            "all" => Ok(MetadataScope::All),
            "needed" => Ok(MetadataScope::Needed),
            "none" => Ok(MetadataScope::None),
            other => Err(format!("`{other}` is not all, needed or none")),
        }
    }
}

impl PullConfig {
    pub fn new(api_base: String, login_base: String, credentials: Credentials) -> PullConfig {
        PullConfig {
            api_base: api_base.trim_end_matches('/').to_string(),
            login_base: login_base.trim_end_matches('/').to_string(),
            credentials,
            concurrency: 8,
            page_size: 1000,
            max_retry_after: Duration::from_secs(180),
            max_attempts: 8,
            request_timeout: Duration::from_secs(60),
            poll_interval: Duration::from_secs(2),
            backoff_base: Duration::from_millis(500),
            metadata: MetadataScope::Needed,
            media_types: vec!["voice".to_string()],
            recording_job: None,
            integration_id: None,
            max_requests: None,
            details: DetailsMode::Auto,
        }
    }
}

/// What a pull did, for the operator and the benchmark.
#[derive(Debug, Clone, Default)]
pub struct PullStats {
    pub requests: u64,
    pub rate_limited: u64,
    pub retried: u64,
    pub tokens: u64,
    pub conversations: usize,
    pub elapsed: Duration,
    /// The per-minute limit the server reported.
    pub allowed_per_minute: Option<u64>,
    /// Bulk export jobs whose failed recordings were read.
    pub export_jobs: Vec<String>,
    /// Export jobs covering the window that had not finished, so were not read.
    pub unfinished_export_jobs: Vec<String>,
    /// The details' availability horizon, when it falls before the window's end.
    pub details_horizon: Option<Timestamp>,
}

/// A response body with what the ledger records about it.
pub struct Received {
    pub source: String,
    pub body: Vec<u8>,
    pub correlation_id: Option<String>,
}

struct Pacer {
    next_slot: Instant,
    interval: Duration,
    allowed: Option<u64>,
}

/// The API client: token, pacing, retries.
pub struct Client {
    http: reqwest::Client,
    config: PullConfig,
    token: tokio::sync::Mutex<Option<(String, Instant)>>,
    pacer: Mutex<Pacer>,
    stats: Mutex<PullStats>,
}

fn failed(context: &str, why: impl fmt::Display) -> Error {
    Error::Usage(format!("{context}: {why}"))
}

impl Client {
    pub fn new(config: PullConfig) -> Result<Client> {
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .build()
            .map_err(|e| failed("cannot build the HTTP client", e))?;
        Ok(Client {
            http,
            config,
            token: tokio::sync::Mutex::new(None),
            pacer: Mutex::new(Pacer {
                next_slot: Instant::now(),
                interval: Duration::from_millis(200),
                allowed: None,
            }),
            stats: Mutex::new(PullStats::default()),
        })
    }

    pub fn stats(&self) -> PullStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn count(&self, update: impl FnOnce(&mut PullStats)) {
        if let Ok(mut stats) = self.stats.lock() {
            update(&mut stats);
        }
    }

    /// A valid token: the cached one unless it expires within a minute (or `renew`).
    async fn token(&self, renew: bool) -> Result<String> {
        let mut slot = self.token.lock().await;
        if !renew
            && let Some((token, expiry)) = slot.as_ref()
            && Instant::now() + Duration::from_secs(60) < *expiry
        {
            return Ok(token.clone());
        }
        let url = format!("{}/oauth/token", self.config.login_base);
        let response = self
            .http
            .post(&url)
            .basic_auth(
                &self.config.credentials.client_id,
                Some(&self.config.credentials.secret),
            )
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .map_err(|e| {
                failed(
                    &format!("cannot reach the login server {}", self.config.login_base),
                    e.without_url(),
                )
            })?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let why = body["error_description"]
                .as_str()
                .or(body["error"].as_str())
                .unwrap_or("no reason given");
            return Err(Error::Usage(format!(
                "the login server refused the client credentials of client {} (HTTP {status}: {why}); check GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET",
                self.config.credentials.client_id
            )));
        }
        let token = body["access_token"]
            .as_str()
            .ok_or_else(|| failed("token response", "no access_token"))?
            .to_string();
        let lifetime = Duration::from_secs(body["expires_in"].as_u64().unwrap_or(86_400));
        *slot = Some((token.clone(), Instant::now() + lifetime));
        self.count(|s| s.tokens += 1);
        Ok(token)
    }

    /// Waits for the next request slot.
    async fn pace(&self) {
        let wait = {
            let Ok(mut pacer) = self.pacer.lock() else {
                return;
            };
            let now = Instant::now();
            let slot = pacer.next_slot.max(now);
            pacer.next_slot = slot + pacer.interval;
            slot.saturating_duration_since(now)
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Learns the limit from `inin-ratelimit-*` (allowed, used, seconds to reset): spaces the
    /// remaining requests evenly over the rest of the window, and waits for the reset when the
    /// window is used up.
    fn learn(&self, headers: &reqwest::header::HeaderMap) {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let (Some(allowed), Some(count), Some(reset)) = (
            number("inin-ratelimit-allowed"),
            number("inin-ratelimit-count"),
            number("inin-ratelimit-reset"),
        ) else {
            return;
        };
        if allowed == 0 {
            return;
        }
        if let Ok(mut pacer) = self.pacer.lock() {
            // Spread what is left of the window's budget over the time left in it, keeping a
            // small reserve: close to the limit, rarely over it.
            let remaining = allowed.saturating_sub(count);
            let reserve = (allowed / 50).max(1);
            if remaining <= reserve {
                pacer.next_slot = pacer
                    .next_slot
                    .max(Instant::now() + Duration::from_secs(reset));
            } else {
                pacer.interval = Duration::from_millis(reset * 1000 / (remaining - reserve));
            }
            pacer.allowed = Some(allowed);
        }
        self.count(|s| s.allowed_per_minute = Some(allowed));
    }

    /// One API call with the retry policy. `path` includes the query.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Received> {
        let url = format!("{}{path}", self.config.api_base);
        let mut attempt = 0u32;
        let mut renewed = false;
        loop {
            attempt += 1;
            if let Some(budget) = self.config.max_requests
                && self.stats().requests >= budget
            {
                return Err(Error::Usage(format!(
                    "the request budget of {budget} is used up; run the same pull again to continue where it stopped"
                )));
            }
            self.pace().await;
            let token = self.token(false).await?;
            let mut request = self.http.request(method.clone(), &url).bearer_auth(&token);
            if let Some(body) = body {
                request = request.json(body);
            }
            self.count(|s| s.requests += 1);
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) if attempt < self.config.max_attempts => {
                    tracing::warn!(path, error = %e.without_url(), attempt, "request failed; retrying");
                    self.count(|s| s.retried += 1);
                    self.backoff(attempt).await;
                    continue;
                }
                Err(e) => {
                    return Err(failed(
                        &format!("{method} {path} failed after {attempt} attempts"),
                        e.without_url(),
                    ));
                }
            };
            let status = response.status();
            let headers = response.headers().clone();
            self.learn(&headers);
            let correlation_id = headers
                .get("ININ-Correlation-Id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let bytes = match response.bytes().await {
                Ok(bytes) => bytes.to_vec(),
                Err(e) if attempt < self.config.max_attempts => {
                    tracing::warn!(path, error = %e.without_url(), attempt, "reading the answer failed; retrying");
                    self.count(|s| s.retried += 1);
                    self.backoff(attempt).await;
                    continue;
                }
                Err(e) => {
                    return Err(failed(
                        &format!("{method} {path}: reading the answer failed"),
                        e.without_url(),
                    ));
                }
            };
            match status {
                s if s.is_success() => {
                    return Ok(Received {
                        source: path.to_string(),
                        body: bytes,
                        correlation_id,
                    });
                }
                StatusCode::UNAUTHORIZED if !renewed => {
                    renewed = true;
                    self.token(true).await?;
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    self.count(|s| s.rate_limited += 1);
                    let wait = headers
                        .get("Retry-After")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map_or(Duration::from_secs(3), Duration::from_secs);
                    if wait > self.config.max_retry_after {
                        return Err(Error::Usage(format!(
                            "{method} {path}: the API asks to wait {} s (over {} s): a quota is exhausted; try again later",
                            wait.as_secs(),
                            self.config.max_retry_after.as_secs()
                        )));
                    }
                    if let Ok(mut pacer) = self.pacer.lock() {
                        pacer.next_slot = pacer.next_slot.max(Instant::now() + wait);
                    }
                }
                StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT
                    if attempt < self.config.max_attempts =>
                {
                    self.count(|s| s.retried += 1);
                    self.backoff(attempt).await;
                }
                _ => {
                    let text = String::from_utf8_lossy(&bytes);
                    let message = serde_json::from_slice::<Value>(&bytes)
                        .ok()
                        .and_then(|v| v["message"].as_str().map(str::to_string))
                        .unwrap_or_else(|| text.chars().take(200).collect());
                    return Err(Error::Usage(format!(
                        "{method} {path}: HTTP {status}: {message} (correlation id {})",
                        correlation_id.as_deref().unwrap_or("none")
                    )));
                }
            }
        }
    }

    /// Exponential backoff with full jitter, capped at 30 s.
    async fn backoff(&self, attempt: u32) {
        let cap = self
            .config
            .backoff_base
            .saturating_mul(1 << attempt.min(6))
            .min(Duration::from_secs(30));
        let mut random = [0u8; 4];
        let _ = getrandom::fill(&mut random);
        let fraction = f64::from(u32::from_be_bytes(random)) / f64::from(u32::MAX);
        tokio::time::sleep(cap.mul_f64(0.5 + fraction / 2.0)).await;
    }
}

/// Pulls the window `[from, to)` into the store. Returns what was stored and the client's
/// counters; rejected (malformed) responses are in the outcome.
///
/// Progress is saved as it goes (table `pulls`): run again after an interruption and the pull
/// continues with the same details job from the last stored page, fetches recording metadata
/// only for conversations that have none stored, and attaches to the same bulk export job.
pub async fn pull(
    store: &Store,
    config: PullConfig,
    from: Timestamp,
    to: Timestamp,
) -> Result<(ImportOutcome, PullStats)> {
    let started = Instant::now();
    let client = Client::new(config)?;
    let api = client.config.api_base.clone();
    let mut sink = PayloadSink::new(store).await?;
    let mut state = store.begin_pull(from, to, &api).await?;
    let result = pull_steps(store, &client, &mut sink, &mut state, from, to).await;
    // Whatever happened, what was received is stored and the progress that describes it too.
    sink.flush(store).await?;
    store.save_pull(from, to, &api, &state).await?;
    result?;
    store.complete_pull(from, to, &api).await?;
    let mut stats = client.stats();
    stats.elapsed = started.elapsed();
    stats.conversations = store.window_ids(from, to).await?.len();
    Ok((sink.outcome, stats))
}

async fn pull_steps(
    store: &Store,
    client: &Client,
    sink: &mut PayloadSink,
    state: &mut PullState,
    from: Timestamp,
    to: Timestamp,
) -> Result<()> {
    let interval = format!("{from}/{to}");

    let sync = match client.config.details {
        DetailsMode::Sync => true,
        DetailsMode::Jobs => false,
        DetailsMode::Auto => to.millis() - from.millis() <= 3_600_000,
    };
    // Short windows: the sync query, paged by number; the page to fetch next is the progress.
    if sync && !state.details_done {
        let mut number: u64 = state
            .details_cursor
            .as_deref()
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        loop {
            let body = json!({"interval": interval, "order": "asc", "orderBy": "conversationStart", "paging": {"pageSize": 100, "pageNumber": number}});
            let mut page = client
                .call(
                    Method::POST,
                    "/api/v2/analytics/conversations/details/query",
                    Some(&body),
                )
                .await?;
            // One source per page: the request path and the page asked for.
            page.source = format!(
                "/api/v2/analytics/conversations/details/query?interval={interval}&pageSize=100&pageNumber={number}"
            );
            let more = serde_json::from_slice::<Value>(&page.body)
                .ok()
                .and_then(|v| v["conversations"].as_array().map(|c| !c.is_empty()))
                .unwrap_or(false);
            if more {
                store_received(store, sink, page).await?;
                sink.flush(store).await?;
                number += 1;
                state.details_cursor = Some(number.to_string());
            } else {
                state.details_done = true;
                break;
            }
        }
    }
    // Conversation details: an async job, paged by cursor; resumed from the last stored page.
    // The data lake's horizon first: a job returns nothing after it, and the audit must know.
    if !state.details_done {
        let availability = client
            .call(
                Method::GET,
                "/api/v2/analytics/conversations/details/jobs/availability",
                None,
            )
            .await?;
        let horizon = serde_json::from_slice::<Value>(&availability.body)
            .ok()
            .and_then(|v| v["dataAvailabilityDate"].as_str().map(str::to_string))
            .and_then(|t| Timestamp::parse(&t).ok());
        store_received(store, sink, availability).await?;
        if let Some(horizon) = horizon.filter(|h| *h < to) {
            client.count(|s| s.details_horizon = Some(horizon));
        }
    }
    if !state.details_done {
        let job = match &state.details_job {
            Some(job) => job.clone(),
            None => {
                let created = client
                    .call(Method::POST, "/api/v2/analytics/conversations/details/jobs", Some(&json!({"interval": interval, "order": "asc", "orderBy": "conversationStart"})))
                    .await?;
                let job = json_field(&created, "jobId")?;
                state.details_job = Some(job.clone());
                state.details_cursor = None;
                job
            }
        };
        loop {
            let status = client
                .call(
                    Method::GET,
                    &format!("/api/v2/analytics/conversations/details/jobs/{job}"),
                    None,
                )
                .await?;
            match json_field(&status, "state")?.as_str() {
                "FULFILLED" => break,
                "FAILED" | "CANCELLED" | "EXPIRED" => {
                    state.details_job = None;
                    return Err(Error::Usage(format!(
                        "the details job {job} ended {}; run the pull again for a new job",
                        String::from_utf8_lossy(&status.body)
                    )));
                }
                _ => tokio::time::sleep(client.config.poll_interval).await,
            }
        }
        loop {
            let mut path = format!(
                "/api/v2/analytics/conversations/details/jobs/{job}/results?pageSize={}",
                client.config.page_size
            );
            if let Some(cursor) = &state.details_cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let page = client.call(Method::GET, &path, None).await?;
            let next = serde_json::from_slice::<Value>(&page.body)
                .ok()
                .and_then(|v| v["cursor"].as_str().map(str::to_string));
            store_received(store, sink, page).await?;
            // The page is stored before the cursor moves past it.
            sink.flush(store).await?;
            match next {
                Some(cursor) => state.details_cursor = Some(cursor),
                None => {
                    state.details_done = true;
                    break;
                }
            }
        }
    }

    // Recording metadata per conversation, a few at a time, for those that have none stored.
    let wanted = match client.config.metadata {
        MetadataScope::All => store.conversations_needing_metadata(from, to, None).await?,
        MetadataScope::Needed => {
            store
                .conversations_needing_metadata(from, to, Some(&client.config.media_types))
                .await?
        }
        MetadataScope::None => Vec::new(),
    };
    let mut responses = futures_util::stream::iter(wanted.iter().map(|id| async move {
        client
            .call(
                Method::GET,
                &format!("/api/v2/conversations/{id}/recordingmetadata"),
                None,
            )
            .await
    }))
    .buffer_unordered(client.config.concurrency.max(1));
    let mut failure = None;
    while let Some(response) = responses.next().await {
        match response {
            Ok(received) => store_received(store, sink, received).await?,
            // Keep what the other requests in flight bring; the next run fetches the rest.
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    drop(responses);
    if let Some(e) = failure {
        return Err(e);
    }

    // Bulk export jobs and the recordings they failed on. Read-only by default: the org's own
    // EXPORT jobs whose conversation interval overlaps the window. A job is created only when
    // asked (`--integration-id`), or one is named (`--recording-job`).
    let jobs = match state
        .recording_job
        .clone()
        .or_else(|| client.config.recording_job.clone())
    {
        Some(job) => {
            state.recording_job = Some(job.clone());
            vec![job]
        }
        None => match &client.config.integration_id {
            Some(integration) => {
                let job = client
                    .call(Method::POST, "/api/v2/recording/jobs", Some(&json!({"action": "EXPORT", "actionDate": to.to_string(), "integrationId": integration, "conversationQuery": {"interval": interval}})))
                    .await?;
                let id = json_field(&job, "id")?;
                state.recording_job = Some(id.clone());
                vec![id]
            }
            None => {
                let (finished, unfinished) =
                    existing_export_jobs(client, store, sink, from, to).await?;
                client.count(|s| s.unfinished_export_jobs = unfinished);
                finished
            }
        },
    };
    for job_id in &jobs {
        if state.recording_job.as_deref() == Some(job_id.as_str()) {
            run_job_to_completion(client, store, sink, job_id).await?;
        }
        page_listing(
            client,
            store,
            sink,
            &format!("/api/v2/recording/jobs/{job_id}/failedrecordings?"),
            &mut |_| {},
        )
        .await?;
    }
    client.count(|s| s.export_jobs = jobs.clone());
    // Orphans whose conversation is known: the unfiltered listing is "capped at 500 results"
    // (`hasConversation`, SDK apis/recording_api.py), so it would silently miss some.
    page_listing(
        client,
        store,
        sink,
        "/api/v2/orphanrecordings?hasConversation=true&",
        &mut |_| {},
    )
    .await?;
    Ok(())
}

/// Waits for a job this pull created (or was told to attach to) to finish, executing it when it
/// is ready; stores its final state.
async fn run_job_to_completion(
    client: &Client,
    store: &Store,
    sink: &mut PayloadSink,
    job_id: &str,
) -> Result<()> {
    loop {
        let status = client
            .call(
                Method::GET,
                &format!("/api/v2/recording/jobs/{job_id}"),
                None,
            )
            .await?;
        match json_field(&status, "state")?.as_str() {
            "READY" => {
                client
                    .call(
                        Method::PUT,
                        &format!("/api/v2/recording/jobs/{job_id}"),
                        Some(&json!({"state": "PROCESSING"})),
                    )
                    .await?;
            }
            "FULFILLED" | "FAILED" | "CANCELLED" => {
                store_received(store, sink, status).await?;
                return Ok(());
            }
            _ => tokio::time::sleep(client.config.poll_interval).await,
        }
    }
}

/// The org's EXPORT jobs whose `conversationQuery.interval` overlaps `[from, to)`, from
/// `GET /api/v2/recording/jobs` (every page is stored as evidence): (finished, unfinished).
/// `RecordingJob.state` is one of FULFILLED, PENDING, READY, PROCESSING, CANCELLED, FAILED
/// (models/recording_job.py); the last three of those that are terminal have their failed
/// recordings read.
async fn existing_export_jobs(
    client: &Client,
    store: &Store,
    sink: &mut PayloadSink,
    from: Timestamp,
    to: Timestamp,
) -> Result<(Vec<String>, Vec<String>)> {
    let (mut finished, mut unfinished) = (Vec::new(), Vec::new());
    let mut sort = |listing: &Value| {
        for job in listing["entities"].as_array().into_iter().flatten() {
            let query = &job["recordingJobsQuery"];
            if query["action"].as_str() != Some("EXPORT") {
                continue;
            }
            let covers = query["conversationQuery"]["interval"]
                .as_str()
                .and_then(|i| i.split_once('/'))
                .and_then(|(a, b)| Some((Timestamp::parse(a).ok()?, Timestamp::parse(b).ok()?)))
                .is_some_and(|(start, end)| start < to && from < end);
            let Some(id) = job["id"].as_str().filter(|_| covers) else {
                continue;
            };
            match job["state"].as_str() {
                Some("FULFILLED" | "FAILED" | "CANCELLED") => finished.push(id.to_string()),
                _ => unfinished.push(id.to_string()),
            }
        }
    };
    page_listing(
        client,
        store,
        sink,
        "/api/v2/recording/jobs?jobType=EXPORT&",
        &mut sort,
    )
    .await?;
    Ok((finished, unfinished))
}

/// Pages a standard listing by page number until `nextUri` is absent, storing every page and
/// showing each (parsed) to `inspect`. `base` ends in `?` or `&`, ready for the paging
/// parameters.
async fn page_listing(
    client: &Client,
    store: &Store,
    sink: &mut PayloadSink,
    base: &str,
    inspect: &mut dyn FnMut(&Value),
) -> Result<()> {
    let mut number = 1;
    loop {
        let page = client
            .call(
                Method::GET,
                &format!("{base}pageSize=100&pageNumber={number}"),
                None,
            )
            .await?;
        let listing: Value = serde_json::from_slice(&page.body).unwrap_or(Value::Null);
        inspect(&listing);
        let more = listing["nextUri"].is_string();
        store_received(store, sink, page).await?;
        if !more {
            return Ok(());
        }
        number += 1;
    }
}

async fn store_received(store: &Store, sink: &mut PayloadSink, received: Received) -> Result<()> {
    if let Err(why) = sink
        .add(
            store,
            &received.source,
            received.body,
            received.correlation_id,
        )
        .await?
    {
        tracing::warn!(
            source = received.source,
            why,
            "the API returned a payload recaudit cannot read"
        );
    }
    Ok(())
}

fn json_field(received: &Received, field: &str) -> Result<String> {
    serde_json::from_slice::<Value>(&received.body)
        .ok()
        .and_then(|v| v[field].as_str().map(str::to_string))
        .ok_or_else(|| Error::Usage(format!("{}: the answer has no `{field}`", received.source)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_by_code_underscore_or_domain() {
        assert_eq!(
            region_bases("eu-west-1").unwrap().0,
            "https://api.mypurecloud.ie"
        );
        assert_eq!(
            region_bases("ap_southeast_2").unwrap().1,
            "https://login.mypurecloud.com.au"
        );
        assert_eq!(
            region_bases("mypurecloud.de").unwrap().0,
            "https://api.mypurecloud.de"
        );
        assert!(region_bases("mars-1").is_err());
    }

    #[test]
    fn credentials_never_show_their_secret() {
        let credentials = Credentials::new("client".into(), "s3cr3t-value".into());
        assert!(!format!("{credentials:?}").contains("s3cr3t"));
    }
}
