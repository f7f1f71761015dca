//! The Genesys Cloud API client and `recaudit pull`.
//!
//! - **OAuth client credentials**: `POST {login}/oauth/token` with HTTP Basic auth; a new token
//!   before the old one expires and after any 401. The secret is held in [`Credentials`], whose
//!   `Debug` redacts it, and is never logged, stored or put in an error.
//! - **Pacing**: requests are spaced so a token stays under its per-minute limit
//!   (`inin-ratelimit-allowed`, 300 by default); when the answers say the window is nearly used
//!   up, the client waits for `inin-ratelimit-reset`. 429s stay rare, not impossible.
//! - **Retries** (Genesys developer forum, "Normalized Platform API 429 responses": every 429
//!   carries `Retry-After`): 429 waits `Retry-After` and gives
//!   up on the step when asked to wait more than 180 s; 502, 503, 504 and connection errors are
//!   retried with exponential backoff and jitter; other 4xx and 501 are not retried; every
//!   request has a timeout.
//! - **The pull**: conversation details through an async details job (create, poll, page by
//!   cursor), recording metadata per conversation (bounded concurrency), the window's bulk
//!   export job and its failedrecordings, and the orphan recordings. Every response body that
//!   carries evidence is stored as a raw input (request path, received time, size, SHA-256,
//!   `ININ-Correlation-Id`) and imported exactly as `recaudit import` would.
//! - **Resuming from any kill**: each details page is committed with the cursor past it, each
//!   set of recording-metadata answers with the list of conversations they settle, and a job id
//!   the moment the platform returns it (an export job's request is noted before it is sent,
//!   so a rerun can find a job whose answer never arrived). A rerun continues from there; a
//!   details job whose results expired on the platform is replaced by a new one, loudly.
//! - **Stopping**: a [`Stop`] request (the binary's SIGTERM and SIGINT) ends the pull at the
//!   next step: the request in flight is dropped (the rerun asks it again), writes finish.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::batch::{PullProgress, PullState};
use super::import::{ImportOutcome, PayloadSink};
use super::model::RECORDING_METADATA_PATH;
use super::sink::EvidenceStore;
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// Genesys Cloud regions: AWS region code to API domain (the SDK's `purecloud_region_hosts.py`).
pub(crate) const REGIONS: &[(&str, &str)] = &[
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
    pub(crate) client_id: String,
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
            let text = crate::secret::read_private_file(path, "secrets file")?;
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

/// A request to stop a pull, shared between whoever asks (the binary's signal handler) and the
/// pull, which checks it before every request and wait and drops the one in flight. Progress is
/// committed page by page, so stopping loses nothing but that request.
#[derive(Debug, Clone)]
pub struct Stop(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for Stop {
    fn default() -> Self {
        Stop(Arc::new(tokio::sync::watch::Sender::new(false)))
    }
}

impl Stop {
    pub(crate) fn new() -> Stop {
        Stop::default()
    }

    /// Asks the pull to stop at its next step.
    pub fn request(&self) {
        self.0.send_replace(true);
    }

    pub(crate) fn requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once a stop is requested.
    async fn wait(&self) {
        let mut receiver = self.0.subscribe();
        // The sender lives in `self`, so the channel cannot close while this waits.
        let _ = receiver.wait_for(|stop| *stop).await;
    }
}

/// Where and how to pull.
#[derive(Debug, Clone)]
pub struct PullConfig {
    pub(crate) api_base: String,
    pub(crate) login_base: String,
    pub credentials: Credentials,
    /// Parallel recording-metadata requests.
    pub concurrency: usize,
    /// Details job results page size.
    pub page_size: usize,
    /// Give up a step when 429's `Retry-After` asks for more than this.
    pub(crate) max_retry_after: Duration,
    /// Attempts for retryable failures (502/503/504, connection errors).
    pub(crate) max_attempts: u32,
    pub request_timeout: Duration,
    /// Pause between job status polls.
    pub poll_interval: Duration,
    /// How long a job (details or bulk export) may stay unfinished before the pull stops,
    /// unfinished and resumable, instead of polling forever.
    pub job_deadline: Duration,
    /// 429 answers in a row to one request before the step gives up.
    pub max_rate_limited: u32,
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
    /// Stops the pull when requested (see [`Stop`]).
    pub stop: Stop,
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
            // Bulk export jobs of a busy night take hours; a job still unfinished after this is
            // stuck, or the org's queue is, and the operator should know.
            job_deadline: Duration::from_secs(6 * 3600),
            max_rate_limited: 20,
            backoff_base: Duration::from_millis(500),
            metadata: MetadataScope::Needed,
            media_types: vec!["voice".to_string()],
            recording_job: None,
            integration_id: None,
            max_requests: None,
            details: DetailsMode::Auto,
            stop: Stop::new(),
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
    /// Bulk export jobs whose failed recordings were read.
    pub export_jobs: Vec<String>,
    /// Export jobs covering the window that had not finished, so were not read.
    pub unfinished_export_jobs: Vec<String>,
    /// The details' availability horizon, when it falls before the window's end.
    pub details_horizon: Option<Timestamp>,
    /// The export job an interrupted run had asked for but not saved, found in the org's
    /// listing and read instead of creating another.
    pub adopted_export_job: Option<String>,
}

/// A response body with what the ledger records about it.
pub(crate) struct Received {
    pub(crate) source: String,
    pub(crate) body: Vec<u8>,
    pub(crate) correlation_id: Option<String>,
}

struct Pacer {
    next_slot: Instant,
    interval: Duration,
    allowed: Option<u64>,
}

/// The API client: token, pacing, retries.
pub(crate) struct Client {
    http: reqwest::Client,
    config: PullConfig,
    token: tokio::sync::Mutex<Option<(String, Instant)>>,
    pacer: Mutex<Pacer>,
    stats: Mutex<PullStats>,
}

/// An HTTP exchange that failed; reqwest's URL is left out (the request says which it was).
fn http(request: String, source: reqwest::Error) -> Error {
    Error::Http {
        request,
        source: source.without_url(),
    }
}

/// A creating request whose answer did not arrive: the thing may exist.
fn unanswered(method: &Method, path: &str, why: impl fmt::Display) -> Error {
    Error::Unanswered {
        request: format!("{method} {path}"),
        why: why.to_string(),
    }
}

impl Client {
    pub(crate) fn new(config: PullConfig) -> Result<Client> {
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .build()
            .map_err(|e| http("cannot build the HTTP client".to_string(), e))?;
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

    pub(crate) fn stats(&self) -> PullStats {
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
                http(
                    format!("cannot reach the login server {}", self.config.login_base),
                    e,
                )
            })?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let why = body["error_description"]
                .as_str()
                .or(body["error"].as_str())
                .unwrap_or("no reason given");
            return Err(Error::OAuthRefused {
                client: self.config.credentials.client_id.clone(),
                status,
                why: why.to_string(),
            });
        }
        let token = body["access_token"]
            .as_str()
            .ok_or(Error::OAuthNoToken)?
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
    }

    /// One API call with the retry policy. `path` includes the query. Ends early with
    /// [`Error::Interrupted`] when a stop is requested.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Received> {
        self.unless_stopped(self.attempt(method, path, body, true))
            .await
    }

    /// A call that creates something: a request that may have reached the server but whose
    /// answer did not come back (timeout, dropped connection, 502, 503, 504) is not sent again
    /// ([`Error::Unanswered`]), since a second request could create a second thing. 429 (the
    /// rate limit refused it), 401 and connection failures (nothing sent) are still retried.
    async fn create(&self, path: &str, body: &Value) -> Result<Received> {
        self.unless_stopped(self.attempt(Method::POST, path, Some(body), false))
            .await
    }

    /// Waits `pause` unless a stop is requested first.
    async fn pause(&self, pause: Duration) -> Result<()> {
        self.unless_stopped(async {
            tokio::time::sleep(pause).await;
            Ok(())
        })
        .await
    }

    /// Runs `work` unless a stop is requested before it ends; then `work` is dropped. Only
    /// network requests and waits go through here, never a database write, so what is dropped
    /// is a request whose answer was not stored yet: the rerun asks it again.
    async fn unless_stopped<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        let stop = &self.config.stop;
        if stop.requested() {
            return Err(Error::Interrupted);
        }
        tokio::select! {
            biased;
            () = stop.wait() => Err(Error::Interrupted),
            result = work => result,
        }
    }

    /// [`Client::call`] without the stop; `replay` says whether a request that may have been
    /// acted on can be sent again.
    async fn attempt(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        replay: bool,
    ) -> Result<Received> {
        let url = format!("{}{path}", self.config.api_base);
        let mut attempt = 0u32;
        let mut renewed = false;
        let mut rate_limited = 0u32;
        loop {
            attempt += 1;
            self.within_budget()?;
            self.pace().await;
            let token = self.token(false).await?;
            let mut request = self.http.request(method.clone(), &url).bearer_auth(&token);
            if let Some(body) = body {
                request = request.json(body);
            }
            self.count(|s| s.requests += 1);
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) if attempt < self.config.max_attempts && (replay || e.is_connect()) => {
                    tracing::warn!(path, error = %e.without_url(), attempt, "request failed; retrying");
                    self.count(|s| s.retried += 1);
                    self.backoff(attempt).await;
                    continue;
                }
                Err(e) if !replay => {
                    return Err(unanswered(&method, path, e.without_url()));
                }
                Err(e) => {
                    return Err(http(
                        format!("{method} {path} failed after {attempt} attempts"),
                        e,
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
                Err(e) if !replay => {
                    return Err(unanswered(&method, path, e.without_url()));
                }
                Err(e) if attempt < self.config.max_attempts => {
                    tracing::warn!(path, error = %e.without_url(), attempt, "reading the answer failed; retrying");
                    self.count(|s| s.retried += 1);
                    self.backoff(attempt).await;
                    continue;
                }
                Err(e) => {
                    return Err(http(
                        format!("{method} {path}: reading the answer failed"),
                        e,
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
                    rate_limited += 1;
                    self.rate_limited(&method, path, &headers, rate_limited)?;
                }
                StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT
                    if !replay =>
                {
                    return Err(unanswered(&method, path, status));
                }
                StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT
                    if attempt < self.config.max_attempts =>
                {
                    self.count(|s| s.retried += 1);
                    self.backoff(attempt).await;
                }
                _ => return Err(api_error(&method, path, status, &bytes, correlation_id)),
            }
        }
    }

    /// Refuses another request once `max_requests` have been sent.
    fn within_budget(&self) -> Result<()> {
        match self.config.max_requests {
            Some(budget) if self.stats().requests >= budget => Err(Error::RequestBudget { budget }),
            _ => Ok(()),
        }
    }

    /// A 429, the `times`-th in a row for this request: waits as `Retry-After` asks (3 s when
    /// it does not say) before the next slot, unless that is too long or too often.
    fn rate_limited(
        &self,
        method: &Method,
        path: &str,
        headers: &reqwest::header::HeaderMap,
        times: u32,
    ) -> Result<()> {
        self.count(|s| s.rate_limited += 1);
        if times > self.config.max_rate_limited {
            return Err(Error::RateLimited {
                request: format!("{method} {path}"),
                times,
            });
        }
        let wait = headers
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(Duration::from_secs(3), Duration::from_secs);
        if wait > self.config.max_retry_after {
            return Err(Error::QuotaExhausted {
                request: format!("{method} {path}"),
                wait,
                max: self.config.max_retry_after,
            });
        }
        if let Ok(mut pacer) = self.pacer.lock() {
            pacer.next_slot = pacer.next_slot.max(Instant::now() + wait);
        }
        Ok(())
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

/// An error status retrying does not cure, with the API's own message (or the start of the
/// body when it is not the usual JSON).
fn api_error(
    method: &Method,
    path: &str,
    status: StatusCode,
    body: &[u8],
    correlation_id: Option<String>,
) -> Error {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect());
    Error::Api {
        method: method.to_string(),
        path: path.to_string(),
        status: status.as_u16(),
        message,
        correlation_id: correlation_id.unwrap_or_else(|| "none".to_string()),
    }
}

/// Pulls the window `[from, to)` into the store. Returns what was stored and the client's
/// counters; rejected (malformed) responses are in the outcome.
///
/// Progress is committed with what it describes (`PullProgress`, tables `pulls` and
/// `pull_metadata`): after an interruption of any kind, SIGKILL included, the same pull run
/// again continues with the same details job from the page after the last stored one, asks for
/// recording metadata only where this pull has no answer yet, and reads the same bulk export
/// job. A [`Stop`] request ends it early with [`Error::Interrupted`], its progress saved.
pub async fn pull(
    store: &impl EvidenceStore,
    config: PullConfig,
    from: Timestamp,
    to: Timestamp,
) -> Result<(ImportOutcome, PullStats)> {
    let started = Instant::now();
    let client = Client::new(config)?;
    let api = client.config.api_base.clone();
    let sink = PayloadSink::new(store).await?;
    let state = store.begin_pull(from, to, &api).await?;
    let mut run = Pull {
        store,
        client: &client,
        sink,
        committed: state.clone(),
        state,
        from,
        to,
        api,
    };
    let result = run.steps().await;
    // Whatever happened, what was received is stored with the progress that describes it.
    run.commit(Vec::new()).await?;
    result?;
    store.complete_pull(from, to, &run.api).await?;
    let mut stats = client.stats();
    stats.elapsed = started.elapsed();
    stats.conversations = store.window_ids(from, to).await?.len();
    Ok((run.sink.outcome, stats))
}

/// Recording-metadata answers committed together at most: those that arrived while the
/// previous ones were being written (one at a time when the pull is paced, more when not).
const METADATA_CHUNK: usize = 64;

/// How much earlier than our request an export job found in the listing may say it was
/// created and still be ours: the platform's clock and this host's differ a little.
const CLOCK_MARGIN_MS: i64 = 5 * 60 * 1000;

/// One pull under way: the window, where it stands, and where what it receives goes.
struct Pull<'a, S> {
    store: &'a S,
    client: &'a Client,
    sink: PayloadSink,
    state: PullState,
    /// The progress last committed: what `state` returns to when a commit fails, since the
    /// batch that commit carried is gone and the progress past it must not be saved alone.
    committed: PullState,
    from: Timestamp,
    to: Timestamp,
    api: String,
}

impl<S: EvidenceStore> Pull<'_, S> {
    fn interval(&self) -> String {
        format!("{}/{}", self.from, self.to)
    }

    /// Writes what is received so far and the current progress in one transaction, with the
    /// conversations whose recording metadata it settles.
    async fn commit(&mut self, metadata_received: Vec<String>) -> Result<()> {
        let progress = PullProgress {
            from: self.from,
            to: self.to,
            api: self.api.clone(),
            state: self.state.clone(),
            metadata_received,
        };
        match self.sink.commit(self.store, progress).await {
            Ok(()) => {
                self.committed = self.state.clone();
                Ok(())
            }
            Err(e) => {
                self.state = self.committed.clone();
                Err(e)
            }
        }
    }

    async fn keep(&mut self, received: Received) -> Result<()> {
        store_received(self.store, &mut self.sink, received).await
    }

    /// Keeps a page of conversation details, which must be readable: paging past a page that
    /// could not be read (a truncated answer, a proxy's error page, a page import refuses)
    /// would finish the pull without its conversations, and the audit would seal a clean run.
    /// The pull stops there, unfinished, and a rerun asks for the page again.
    async fn keep_details(&mut self, page: Received) -> Result<()> {
        let source = page.source.clone();
        if let Err(why) = self
            .sink
            .add(self.store, &page.source, page.body, page.correlation_id)
            .await?
        {
            return Err(Error::UnreadablePage {
                page: source,
                why: why.to_string(),
            });
        }
        Ok(())
    }

    async fn steps(&mut self) -> Result<()> {
        let sync = match self.client.config.details {
            DetailsMode::Sync => true,
            DetailsMode::Jobs => false,
            DetailsMode::Auto => self.to.millis() - self.from.millis() <= 3_600_000,
        };
        if sync && !self.state.details_done {
            self.sync_details().await?;
        }
        if !self.state.details_done {
            self.availability().await?;
            self.details_job().await?;
        }
        self.metadata().await?;

        let jobs = self.export_jobs().await?;
        for job_id in &jobs {
            if self.state.recording_job.as_deref() == Some(job_id.as_str()) {
                run_job_to_completion(self.client, self.store, &mut self.sink, job_id).await?;
            }
            // Listings are read again from their first page by a rerun: they are short, and
            // their page numbers shift as they change.
            page_listing(
                self.client,
                self.store,
                &mut self.sink,
                &format!("/api/v2/recording/jobs/{job_id}/failedrecordings?"),
                &mut |_| {},
            )
            .await?;
        }
        self.client.count(|s| s.export_jobs = jobs.clone());
        // Orphans whose conversation is known: the unfiltered listing is "capped at 500 results"
        // (`hasConversation`, SDK apis/recording_api.py), so it would silently miss some.
        page_listing(
            self.client,
            self.store,
            &mut self.sink,
            "/api/v2/orphanrecordings?hasConversation=true&",
            &mut |_| {},
        )
        .await
    }

    /// Short windows: the sync query, paged by number; the number of the next page is the
    /// progress, committed with each page.
    async fn sync_details(&mut self) -> Result<()> {
        let interval = self.interval();
        let mut number: u64 = self
            .state
            .details_cursor
            .as_deref()
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        loop {
            let body = json!({"interval": interval, "order": "asc", "orderBy": "conversationStart", "paging": {"pageSize": 100, "pageNumber": number}});
            let mut page = self
                .client
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
            let Ok(answer) = serde_json::from_slice::<Value>(&page.body) else {
                return Err(Error::UnreadablePage {
                    page: page.source,
                    why: "the answer is not JSON".to_string(),
                });
            };
            let more = answer["conversations"]
                .as_array()
                .is_some_and(|c| !c.is_empty());
            if more {
                self.keep_details(page).await?;
                number += 1;
                self.state.details_cursor = Some(number.to_string());
            } else {
                self.state.details_done = true;
            }
            // The page, its rows and the number of the next one: one transaction.
            self.commit(Vec::new()).await?;
            if !more {
                return Ok(());
            }
        }
    }

    /// The data lake's horizon, before a job: a job returns nothing after it, and the audit
    /// must know.
    async fn availability(&mut self) -> Result<()> {
        let availability = self
            .client
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
        self.keep(availability).await?;
        if let Some(horizon) = horizon.filter(|h| *h < self.to) {
            self.client.count(|s| s.details_horizon = Some(horizon));
        }
        Ok(())
    }

    /// Conversation details through an async job, paged by cursor: the stored job from the
    /// stored cursor, or a new job. A stored job whose results expired on the platform
    /// (`AsyncQueryStatus.expirationDate`, "The time at which results for this query will
    /// expire", state `EXPIRED`; SDK async_query_status.py) or that the platform no longer
    /// knows (404) cannot be resumed: a cursor belongs to its job. It is replaced, once per
    /// run, by a new job paged from the start, and the operator is told.
    async fn details_job(&mut self) -> Result<()> {
        let mut replaced = false;
        loop {
            let job = match self.state.details_job.clone() {
                Some(job) => job,
                None => {
                    let body = json!({"interval": self.interval(), "order": "asc", "orderBy": "conversationStart"});
                    let created = self
                        .client
                        .call(
                            Method::POST,
                            "/api/v2/analytics/conversations/details/jobs",
                            Some(&body),
                        )
                        .await?;
                    let job = json_field(&created, "jobId")?;
                    self.state.details_job = Some(job.clone());
                    self.state.details_cursor = None;
                    // Saved before the first page: a rerun pages this job, it creates none.
                    self.commit(Vec::new()).await?;
                    job
                }
            };
            let Some(why) = self.page_details_job(&job).await? else {
                return Ok(());
            };
            if replaced {
                return Err(Error::DetailsJob {
                    job,
                    what: format!("{why} as soon as it was created; run the pull again later"),
                });
            }
            tracing::warn!(
                job,
                "the details job of an interrupted pull {why}: its cursor cannot be resumed, so a new job is created and the window paged again from its first page (the pages already stored stay stored)"
            );
            self.state.details_job = None;
            self.state.details_cursor = None;
            replaced = true;
        }
    }

    /// Waits for `job` and pages its results from the stored cursor, committing each page with
    /// the cursor past it. `Some(why)` when the job is expired or gone.
    async fn page_details_job(&mut self, job: &str) -> Result<Option<String>> {
        let waiting = Instant::now();
        loop {
            let status = match self
                .client
                .call(
                    Method::GET,
                    &format!("/api/v2/analytics/conversations/details/jobs/{job}"),
                    None,
                )
                .await
            {
                Ok(status) => status,
                Err(Error::Api { status: 404, .. }) => {
                    return Ok(Some("is no longer known to the platform (HTTP 404)".into()));
                }
                Err(e) => return Err(e),
            };
            match json_field(&status, "state")?.as_str() {
                "FULFILLED" => break,
                "EXPIRED" => {
                    let at = serde_json::from_slice::<Value>(&status.body)
                        .ok()
                        .and_then(|v| v["expirationDate"].as_str().map(str::to_string))
                        .unwrap_or_else(|| "an unstated time".to_string());
                    return Ok(Some(format!("has expired (its results expired at {at})")));
                }
                "FAILED" | "CANCELLED" => {
                    self.state.details_job = None;
                    self.state.details_cursor = None;
                    return Err(Error::DetailsJob {
                        job: job.to_string(),
                        what: format!(
                            "ended {}; run the pull again for a new job",
                            String::from_utf8_lossy(&status.body)
                        ),
                    });
                }
                state => {
                    check_deadline(&self.client.config, job, state, waiting)?;
                    self.client.pause(self.client.config.poll_interval).await?
                }
            }
        }
        loop {
            let mut path = format!(
                "/api/v2/analytics/conversations/details/jobs/{job}/results?pageSize={}",
                self.client.config.page_size
            );
            if let Some(cursor) = &self.state.details_cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let page = match self.client.call(Method::GET, &path, None).await {
                Ok(page) => page,
                Err(Error::Api { status: 404, .. }) => {
                    return Ok(Some(
                        "is no longer known to the platform (HTTP 404 on its results)".into(),
                    ));
                }
                Err(e) => return Err(e),
            };
            let next = serde_json::from_slice::<Value>(&page.body)
                .ok()
                .and_then(|v| v["cursor"].as_str().map(str::to_string));
            self.keep_details(page).await?;
            match next {
                Some(cursor) => self.state.details_cursor = Some(cursor),
                None => self.state.details_done = true,
            }
            // The page, its rows and the cursor past it: one transaction.
            self.commit(Vec::new()).await?;
            if self.state.details_done {
                return Ok(None);
            }
        }
    }

    /// Recording metadata per conversation, a few at a time, for those that need it and have
    /// no answer from this pull yet. The answers that have arrived are committed together with
    /// the list of the conversations they settle.
    async fn metadata(&mut self) -> Result<()> {
        let client = self.client;
        let media = match client.config.metadata {
            MetadataScope::All => None,
            MetadataScope::Needed => Some(client.config.media_types.as_slice()),
            MetadataScope::None => return Ok(()),
        };
        let wanted = self
            .store
            .conversations_needing_metadata(self.from, self.to, &self.api, media)
            .await?;
        let mut answers = futures_util::stream::iter(wanted.into_iter().map(|id| async move {
            let answer = client
                .call(
                    Method::GET,
                    &format!(
                        "{}{id}{}",
                        RECORDING_METADATA_PATH.0, RECORDING_METADATA_PATH.1
                    ),
                    None,
                )
                .await;
            (id, answer)
        }))
        .buffer_unordered(client.config.concurrency.max(1))
        .ready_chunks(METADATA_CHUNK);
        let mut failure = None;
        while let Some(chunk) = answers.next().await {
            let mut settled = Vec::with_capacity(chunk.len());
            for (id, answer) in chunk {
                match answer {
                    Ok(answer) => {
                        self.keep(answer).await?;
                        settled.push(id);
                    }
                    // Keep what the other requests in flight bring; the rerun asks the rest.
                    Err(e) => {
                        failure.get_or_insert(e);
                    }
                }
            }
            if !settled.is_empty() {
                self.commit(settled).await?;
                crate::failpoint::hit("mid-pull");
            }
        }
        drop(answers);
        match failure {
            None => Ok(()),
            Some(_) if client.config.stop.requested() => Err(Error::Interrupted),
            Some(e) => Err(e),
        }
    }

    /// The bulk export jobs to read. Read-only by default: the org's own EXPORT jobs whose
    /// conversation interval overlaps the window. A job is created only when asked
    /// (`--integration-id`), or one is named (`--recording-job`); either is saved as soon as it
    /// is known, and a rerun reads that one.
    async fn export_jobs(&mut self) -> Result<Vec<String>> {
        let named = self
            .state
            .recording_job
            .clone()
            .or_else(|| self.client.config.recording_job.clone());
        if let Some(job) = named {
            if self.state.recording_job.is_none() {
                self.state.recording_job = Some(job.clone());
                self.commit(Vec::new()).await?;
            }
            return Ok(vec![job]);
        }
        match self.client.config.integration_id.clone() {
            Some(integration) => Ok(vec![self.create_export_job(&integration).await?]),
            None => {
                let (finished, unfinished) = existing_export_jobs(
                    self.client,
                    self.store,
                    &mut self.sink,
                    self.from,
                    self.to,
                )
                .await?;
                self.client.count(|s| s.unfinished_export_jobs = unfinished);
                Ok(finished)
            }
        }
    }

    /// Creates the window's EXPORT job through `integration`, at most once across runs: the
    /// request is noted (committed) before it is sent, and the id as soon as it comes back.
    /// With the note but no id (a kill in between, or an answer that never came) the org's
    /// listing is searched for the job before anything is asked again.
    async fn create_export_job(&mut self, integration: &str) -> Result<String> {
        let body = json!({"action": "EXPORT", "actionDate": self.to.to_string(), "integrationId": integration, "conversationQuery": {"interval": self.interval()}});
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Some(asked) = self.state.export_requested
                && let Some(job) = self.requested_export_job(integration, asked).await?
            {
                tracing::info!(
                    job,
                    "this export job was asked for earlier without its id being saved; reading it instead of creating another"
                );
                self.client
                    .count(|s| s.adopted_export_job = Some(job.clone()));
                self.state.recording_job = Some(job.clone());
                self.commit(Vec::new()).await?;
                return Ok(job);
            }
            self.state.export_requested = Some(Timestamp::now());
            self.commit(Vec::new()).await?;
            match self.client.create("/api/v2/recording/jobs", &body).await {
                Ok(created) => {
                    let job = json_field(&created, "id")?;
                    // Saved before anything else: this run's later steps and any rerun read it.
                    self.state.recording_job = Some(job.clone());
                    self.commit(Vec::new()).await?;
                    return Ok(job);
                }
                Err(lost @ Error::Unanswered { .. })
                    if attempt < self.client.config.max_attempts =>
                {
                    tracing::warn!(error = %lost, attempt, "looking for the export job before asking again");
                    let client = self.client;
                    client
                        .unless_stopped(async {
                            client.backoff(attempt).await;
                            Ok(())
                        })
                        .await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The EXPORT job this pull asked for at `asked` through `integration`, if the org lists
    /// it (`GET /api/v2/recording/jobs`, pages stored as evidence): the same action, integration
    /// and conversation interval (`RecordingJob.recordingJobsQuery`), created
    /// (`RecordingJob.dateCreated`) no earlier than the request less [`CLOCK_MARGIN_MS`]. The
    /// earliest, should there be several.
    async fn requested_export_job(
        &mut self,
        integration: &str,
        asked: Timestamp,
    ) -> Result<Option<String>> {
        let (from, to) = (self.from, self.to);
        let since = asked.plus_millis(-CLOCK_MARGIN_MS);
        let mut found: Option<(Timestamp, String)> = None;
        let mut pick = |listing: &Value| {
            for job in listing["entities"].as_array().into_iter().flatten() {
                let query = &job["recordingJobsQuery"];
                let same = query["action"].as_str() == Some("EXPORT")
                    && query["integrationId"].as_str() == Some(integration)
                    && query["conversationQuery"]["interval"]
                        .as_str()
                        .and_then(|i| i.split_once('/'))
                        .and_then(|(a, b)| {
                            Some((Timestamp::parse(a).ok()?, Timestamp::parse(b).ok()?))
                        })
                        == Some((from, to));
                let created = job["dateCreated"]
                    .as_str()
                    .and_then(|t| Timestamp::parse(t).ok());
                if let (true, Some(created), Some(id)) = (same, created, job["id"].as_str())
                    && created >= since
                    && found
                        .as_ref()
                        .is_none_or(|(earliest, _)| created < *earliest)
                {
                    found = Some((created, id.to_string()));
                }
            }
        };
        page_listing(
            self.client,
            self.store,
            &mut self.sink,
            "/api/v2/recording/jobs?jobType=EXPORT&",
            &mut pick,
        )
        .await?;
        Ok(found.map(|(_, id)| id))
    }
}

/// Waits for a job this pull created (or was told to attach to) to finish, executing it when it
/// is ready; stores its final state.
async fn run_job_to_completion(
    client: &Client,
    store: &impl EvidenceStore,
    sink: &mut PayloadSink,
    job_id: &str,
) -> Result<()> {
    let waiting = Instant::now();
    loop {
        let status = client
            .call(
                Method::GET,
                &format!("/api/v2/recording/jobs/{job_id}"),
                None,
            )
            .await?;
        let state = json_field(&status, "state")?;
        match state.as_str() {
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
            _ => {}
        }
        check_deadline(&client.config, job_id, &state, waiting)?;
        client.pause(client.config.poll_interval).await?;
    }
}

/// A job polled for longer than [`PullConfig::job_deadline`] stops the pull (unfinished, so a
/// rerun polls the same job again) instead of waiting forever.
fn check_deadline(config: &PullConfig, job: &str, state: &str, waiting: Instant) -> Result<()> {
    if waiting.elapsed() <= config.job_deadline {
        return Ok(());
    }
    Err(Error::JobTimedOut {
        job: job.to_string(),
        state: state.to_string(),
        waited: waiting.elapsed(),
    })
}

/// The org's EXPORT jobs whose `conversationQuery.interval` overlaps `[from, to)`, from
/// `GET /api/v2/recording/jobs` (every page is stored as evidence): (finished, unfinished).
/// `RecordingJob.state` is one of FULFILLED, PENDING, READY, PROCESSING, CANCELLED, FAILED
/// (models/recording_job.py); the last three of those that are terminal have their failed
/// recordings read.
async fn existing_export_jobs(
    client: &Client,
    store: &impl EvidenceStore,
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
    store: &impl EvidenceStore,
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

async fn store_received(
    store: &impl EvidenceStore,
    sink: &mut PayloadSink,
    received: Received,
) -> Result<()> {
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
            why = %why,
            "the API returned a payload recaudit cannot read"
        );
    }
    Ok(())
}

fn json_field(received: &Received, field: &str) -> Result<String> {
    serde_json::from_slice::<Value>(&received.body)
        .ok()
        .and_then(|v| v[field].as_str().map(str::to_string))
        .ok_or_else(|| Error::AnswerIncomplete {
            request: received.source.clone(),
            field: field.to_string(),
        })
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
