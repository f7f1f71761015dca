//! The simulator's HTTP server (axum): the Genesys Cloud endpoints recaudit pulls from, with
//! the real paths, paging, headers and JSON shapes, over a synthetic [`Org`].
//!
//! Faults are knobs: a per-token rate limit with real `inin-ratelimit-*` headers and 429 +
//! `Retry-After`, a share of 503 answers, added latency, a token lifetime after which calls
//! answer 401, a cap on the details page size, details jobs whose results expire, and one
//! request whose answer is held back (a fixed point at which a test kills the client). Every
//! answer carries an `ININ-Correlation-Id`; [`Stats`] counts what was asked, per request.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use super::org::{Org, Rng};
use crate::time::Timestamp;

/// Fault and limit knobs.
#[derive(Debug, Clone)]
pub struct Faults {
    /// Requests per minute per token before 429s (Genesys: 300 per client-credentials token).
    pub rate_limit_per_minute: u64,
    /// Share of API requests answered 503, in thousandths.
    pub error_permille: u64,
    /// Latency added to every API answer.
    pub latency: Duration,
    /// Lifetime of issued tokens.
    pub token_lifetime: Duration,
    /// Details job polls answered `PENDING` before `FULFILLED`.
    pub job_polls: u64,
    /// Length of a rate-limit window (Genesys: one minute; tests shorten it).
    pub window: Duration,
    /// Share of API requests that hang (answer only after `hang`), in thousandths: a dropped
    /// or stuck connection, as the client sees it.
    pub hang_permille: u64,
    pub hang: Duration,
    /// The details' availability horizon (`dataAvailabilityDate`): async details jobs return
    /// only conversations that started before it. `None`: the moment of the request, as when
    /// the data lake has caught up.
    pub data_availability: Option<Timestamp>,
    /// The largest details job results page served, whatever `pageSize` asks (the platform's
    /// maximum is not documented; a smaller cap gives a small night many pages).
    pub max_page_size: usize,
    /// How long a details job's results stay available: afterwards its status says `EXPIRED`
    /// and its results answer 404 (`AsyncQueryStatus.expirationDate`, "The time at which results
    /// for this query will expire"; the platform does not document the span).
    pub details_job_lifetime: Duration,
    /// One request acted on but left unanswered, see [`Stall`].
    pub stall: Option<Stall>,
    /// One request (matched as for [`Stall`]) answered 200 with an HTML error page instead of
    /// its JSON, as a proxy or a load balancer in front of the API sometimes does.
    pub garble: Option<Stall>,
    /// The platform's "now" for what arrives late (a `late_recording`'s metadata): `None`
    /// is this host's clock. The nightly job's tests run nights in the past with `--as-of`
    /// and set it to that instant.
    pub clock: Option<Timestamp>,
    /// Paths (matched as a substring of the request's path) answered 403 for every token, as
    /// for an OAuth client whose role lacks a permission. Checked after authentication and the
    /// rate limit, as the platform checks authorization after them.
    pub forbidden: Vec<String>,
}

/// The `nth` (from 1) request with `method` whose path contains `path` is acted on (a job it
/// creates exists), but its answer is held back for [`Faults::hang`]: to the client, a request
/// that never ends. Later matching requests are answered normally. It gives kill tests a fixed
/// point: everything before that request is done, nothing after it has started.
#[derive(Debug, Clone)]
pub struct Stall {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) nth: u64,
}

impl Stall {
    pub fn new(method: &str, path: &str, nth: u64) -> Stall {
        Stall {
            method: method.to_string(),
            path: path.to_string(),
            nth,
        }
    }
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            rate_limit_per_minute: 300,
            error_permille: 0,
            latency: Duration::ZERO,
            token_lifetime: Duration::from_secs(86_400),
            job_polls: 1,
            window: Duration::from_secs(60),
            hang_permille: 0,
            hang: Duration::from_secs(120),
            data_availability: None,
            max_page_size: 1000,
            details_job_lifetime: Duration::from_secs(86_400),
            stall: None,
            garble: None,
            clock: None,
            forbidden: Vec::new(),
        }
    }
}

/// OAuth client the simulator accepts.
#[derive(Debug, Clone)]
pub struct SimClient {
    pub id: String,
    pub secret: String,
}

impl Default for SimClient {
    fn default() -> Self {
        SimClient {
            id: "recaudit-sim".to_string(),
            secret: "sim-secret".to_string(),
        }
    }
}

/// Counters a test or benchmark reads after a pull.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub rate_limited: AtomicU64,
    pub injected_errors: AtomicU64,
    pub tokens_issued: AtomicU64,
    /// Bulk recording jobs created (`POST /api/v2/recording/jobs` accepted): a read-only pull
    /// creates none.
    pub jobs_created: AtomicU64,
    /// Async details jobs created.
    pub details_jobs_created: AtomicU64,
    /// Deletion protection queries answered (`POST /api/v2/recordings/deletionprotection`).
    pub protection_queries: AtomicU64,
    /// Requests held back by [`Faults::stall`] (0 or 1).
    pub stalled: AtomicU64,
    /// Requests that reached their endpoint (past authentication, rate limit and injected
    /// errors), by `METHOD path?query`.
    handled: Mutex<HashMap<String, u64>>,
}

impl Stats {
    /// How many times each request (`METHOD path?query`) whose text contains `part` reached its
    /// endpoint.
    pub fn handled(&self, part: &str) -> HashMap<String, u64> {
        self.handled
            .lock()
            .map(|handled| {
                handled
                    .iter()
                    .filter(|(request, _)| request.contains(part))
                    .map(|(request, n)| (request.clone(), *n))
                    .collect()
            })
            .unwrap_or_default()
    }
}

struct Window {
    started: Instant,
    count: u64,
}

/// A conversation interval `[start, end)`; a recording job's is the one it exports.
type Interval = (Timestamp, Timestamp);

struct DetailsJob {
    interval: Interval,
    polls: u64,
    submitted: Timestamp,
    /// Expired ahead of its lifetime by [`SimServer::expire_details_jobs`].
    expired: bool,
}

impl DetailsJob {
    fn expiration(&self, lifetime: Duration) -> Timestamp {
        self.submitted
            .plus_millis(i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX / 2))
    }

    fn has_expired(&self, lifetime: Duration) -> bool {
        self.expired || self.expiration(lifetime) <= Timestamp::now()
    }
}

#[derive(Clone)]
struct RecordingJob {
    state: String,
    interval: Interval,
    integration: String,
    created: Timestamp,
}

struct Shared {
    org: Org,
    /// Conversation position by id: a night has hundreds of thousands.
    by_id: HashMap<String, usize>,
    faults: Faults,
    client: SimClient,
    stats: Arc<Stats>,
    tokens: Mutex<HashMap<String, Instant>>,
    windows: Mutex<HashMap<String, Window>>,
    details_jobs: Mutex<HashMap<String, DetailsJob>>,
    recording_jobs: Mutex<HashMap<String, RecordingJob>>,
    rng: Mutex<Rng>,
    sequence: AtomicU64,
    /// Requests seen that match [`Faults::stall`].
    stall_seen: AtomicU64,
    /// Requests seen that match [`Faults::garble`].
    garble_seen: AtomicU64,
}

/// A running simulator.
pub struct SimServer {
    pub(crate) addr: SocketAddr,
    pub stats: Arc<Stats>,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl SimServer {
    /// Serves `org` on `addr` (port 0 picks a free port) until the returned handle is dropped
    /// or `shutdown` completes.
    pub async fn start(
        org: Org,
        faults: Faults,
        client: SimClient,
        addr: SocketAddr,
    ) -> std::io::Result<SimServer> {
        let stats = Arc::new(Stats::default());
        let by_id = org
            .conversations
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        // The org's own export job of the night exists before anyone pulls: an admin's, made
        // through the org's S3 integration an hour after the night.
        let recording_jobs = HashMap::from([(
            org.export_job.clone(),
            RecordingJob {
                state: "FULFILLED".to_string(),
                interval: org.night,
                integration: ORG_INTEGRATION.to_string(),
                created: org.night.1.plus_millis(3_912_418),
            },
        )]);
        let shared = Arc::new(Shared {
            org,
            by_id,
            faults,
            client,
            stats: stats.clone(),
            tokens: Mutex::new(HashMap::new()),
            windows: Mutex::new(HashMap::new()),
            details_jobs: Mutex::new(HashMap::new()),
            recording_jobs: Mutex::new(recording_jobs),
            rng: Mutex::new(Rng::new(0x5eed)),
            sequence: AtomicU64::new(0),
            stall_seen: AtomicU64::new(0),
            garble_seen: AtomicU64::new(0),
        });
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = router(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(SimServer {
            addr,
            stats,
            shared,
            task,
        })
    }

    /// Expires every details job now, as the platform does at its `expirationDate`.
    pub fn expire_details_jobs(&self) {
        if let Ok(mut jobs) = self.shared.details_jobs.lock() {
            for job in jobs.values_mut() {
                job.expired = true;
            }
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Runs until the task ends (for `recaudit sim serve`).
    pub async fn wait(mut self) {
        let task = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        let _ = task.await;
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn router(shared: Arc<Shared>) -> Router {
    // Every API route passes the gate: authentication, rate limit, injected faults.
    let api = Router::new()
        .route(
            "/api/v2/analytics/conversations/details/jobs",
            post(create_details_job),
        )
        .route(
            "/api/v2/analytics/conversations/details/jobs/availability",
            get(details_availability),
        )
        .route(
            "/api/v2/analytics/conversations/details/jobs/{job}",
            get(details_job_status),
        )
        .route(
            "/api/v2/analytics/conversations/details/jobs/{job}/results",
            get(details_job_results),
        )
        .route(
            "/api/v2/analytics/conversations/details/query",
            post(details_query),
        )
        .route(
            "/api/v2/conversations/{id}/recordingmetadata",
            get(recording_metadata),
        )
        .route(
            "/api/v2/recording/jobs",
            post(create_recording_job).get(list_recording_jobs),
        )
        .route(
            "/api/v2/recording/jobs/{job}",
            get(recording_job).put(execute_recording_job),
        )
        .route(
            "/api/v2/recording/jobs/{job}/failedrecordings",
            get(failed_recordings),
        )
        .route("/api/v2/orphanrecordings", get(orphans))
        .route(
            "/api/v2/recordings/deletionprotection",
            post(deletion_protection),
        )
        .route(
            "/api/v2/organizations/limits/namespaces/{namespace}",
            get(limits),
        )
        .layer(axum::middleware::from_fn_with_state(shared.clone(), guard));
    Router::new()
        .route("/oauth/token", post(token))
        .merge(api)
        .with_state(shared)
}

/// Runs [`gate`] before an API handler and adds the rate-limit headers to its answer.
async fn guard(
    State(shared): State<Arc<Shared>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let limits = match gate(&shared, request.headers()).await {
        Ok(limits) => limits,
        Err(refused) => return refused,
    };
    let method = request.method().to_string();
    let uri = request.uri();
    let path = uri.path().to_string();
    if shared
        .faults
        .forbidden
        .iter()
        .any(|part| path.contains(part))
    {
        return error(
            &shared,
            StatusCode::FORBIDDEN,
            "missing.permissions",
            "You are not authorized to perform the requested action.",
        );
    }
    let asked = match uri.query() {
        Some(query) => format!("{method} {path}?{query}"),
        None => format!("{method} {path}"),
    };
    if let Ok(mut handled) = shared.stats.handled.lock() {
        *handled.entry(asked).or_default() += 1;
    }
    let stalled = shared.faults.stall.as_ref().is_some_and(|stall| {
        stall.method == method
            && path.contains(&stall.path)
            && shared.stall_seen.fetch_add(1, Ordering::Relaxed) + 1 == stall.nth
    });
    let garbled = shared.faults.garble.as_ref().is_some_and(|garble| {
        garble.method == method
            && path.contains(&garble.path)
            && shared.garble_seen.fetch_add(1, Ordering::Relaxed) + 1 == garble.nth
    });
    let mut response = next.run(request).await;
    if garbled {
        response = (
            StatusCode::OK,
            [("content-type", "text/html")],
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        )
            .into_response();
    }
    if stalled {
        // Acted on, never answered (within the hang): the client is stuck in this request.
        shared.stats.stalled.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(shared.faults.hang).await;
    }
    for (name, value) in limits {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Answers with JSON and the correlation header.
fn answer(
    shared: &Shared,
    status: StatusCode,
    body: Value,
    extra: &[(&'static str, String)],
) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    let id = shared.sequence.fetch_add(1, Ordering::Relaxed);
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&format!("sim-{id:012}")) {
        headers.insert("ININ-Correlation-Id", value);
    }
    for (name, value) in extra {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(*name, value);
        }
    }
    response
}

fn error(shared: &Shared, status: StatusCode, code: &str, message: &str) -> Response {
    answer(
        shared,
        status,
        json!({"message": message, "code": code, "status": status.as_u16()}),
        &[],
    )
}

/// Authentication, rate limit, injected faults and latency, in that order. `Ok` carries the
/// rate-limit headers for the answer.
async fn gate(
    shared: &Shared,
    headers: &HeaderMap,
) -> Result<Vec<(&'static str, String)>, Response> {
    shared.stats.requests.fetch_add(1, Ordering::Relaxed);
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::to_string);
    let Some(token) = token else {
        return Err(error(
            shared,
            StatusCode::UNAUTHORIZED,
            "bad.credentials",
            "Invalid login credentials.",
        ));
    };
    let valid = shared
        .tokens
        .lock()
        .map(|t| t.get(&token).is_some_and(|expiry| Instant::now() < *expiry))
        .unwrap_or(false);
    if !valid {
        return Err(error(
            shared,
            StatusCode::UNAUTHORIZED,
            "bad.credentials",
            "Invalid login credentials.",
        ));
    }
    let limit = shared.faults.rate_limit_per_minute;
    let (count, reset) = {
        let mut windows = shared.windows.lock().map_err(|_| {
            error(
                shared,
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "poisoned",
            )
        })?;
        let window = windows.entry(token).or_insert(Window {
            started: Instant::now(),
            count: 0,
        });
        let length = shared.faults.window;
        if window.started.elapsed() >= length {
            *window = Window {
                started: Instant::now(),
                count: 0,
            };
        }
        window.count += 1;
        let reset = length
            .saturating_sub(window.started.elapsed())
            .as_secs()
            .max(1);
        (window.count, reset)
    };
    let headers_out = vec![
        ("inin-ratelimit-allowed", limit.to_string()),
        ("inin-ratelimit-count", count.min(limit).to_string()),
        ("inin-ratelimit-reset", reset.to_string()),
    ];
    if count > limit {
        shared.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
        let mut extra = headers_out.clone();
        extra.push(("Retry-After", reset.to_string()));
        return Err(answer(
            shared,
            StatusCode::TOO_MANY_REQUESTS,
            json!({"message": "Rate limit exceeded the maximum. Retry the request in 60 seconds", "code": "too.many.requests.retry.after", "status": 429}),
            &extra,
        ));
    }
    if shared.faults.error_permille > 0 {
        let roll = shared.rng.lock().map(|mut r| r.below(1000)).unwrap_or(1000);
        if roll < shared.faults.error_permille {
            shared.stats.injected_errors.fetch_add(1, Ordering::Relaxed);
            return Err(error(
                shared,
                StatusCode::SERVICE_UNAVAILABLE,
                "service.unavailable",
                "Service unavailable (injected).",
            ));
        }
    }
    if shared.faults.hang_permille > 0 {
        let roll = shared.rng.lock().map(|mut r| r.below(1000)).unwrap_or(1000);
        if roll < shared.faults.hang_permille {
            shared.stats.injected_errors.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(shared.faults.hang).await;
        }
    }
    if !shared.faults.latency.is_zero() {
        tokio::time::sleep(shared.faults.latency).await;
    }
    Ok(headers_out)
}

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let expected = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", shared.client.id, shared.client.secret));
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Basic {expected}"));
    let grant = String::from_utf8_lossy(&body).contains("grant_type=client_credentials");
    if !authorized || !grant {
        return answer(
            &shared,
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_client", "description": "client not found", "error_description": "client not found"}),
            &[],
        );
    }
    let mut random = [0u8; 16];
    let _ = getrandom::fill(&mut random);
    let token = hex::encode(random);
    let lifetime = shared.faults.token_lifetime;
    if let Ok(mut tokens) = shared.tokens.lock() {
        tokens.insert(token.clone(), Instant::now() + lifetime);
    }
    shared.stats.tokens_issued.fetch_add(1, Ordering::Relaxed);
    answer(
        &shared,
        StatusCode::OK,
        json!({"access_token": token, "token_type": "bearer", "expires_in": lifetime.as_secs()}),
        &[],
    )
}

/// `start/end` ISO-8601 interval.
fn interval(body: &Value) -> Option<(Timestamp, Timestamp)> {
    let text = body.get("interval")?.as_str()?;
    let (start, end) = text.split_once('/')?;
    Some((Timestamp::parse(start).ok()?, Timestamp::parse(end).ok()?))
}

fn in_window(shared: &Shared, from: Timestamp, to: Timestamp) -> Vec<&Value> {
    shared
        .org
        .conversations
        .iter()
        .filter(|c| c.start >= from && c.start < to)
        .map(|c| &c.details)
        .collect()
}

async fn create_details_job(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some((from, to)) = serde_json::from_slice::<Value>(&body)
        .ok()
        .as_ref()
        .and_then(interval)
    else {
        return error(
            &shared,
            StatusCode::BAD_REQUEST,
            "bad.request",
            "interval is required",
        );
    };
    let job = shared.rng.lock().map(|mut r| r.uuid()).unwrap_or_default();
    if let Ok(mut jobs) = shared.details_jobs.lock() {
        jobs.insert(
            job.clone(),
            DetailsJob {
                interval: (from, to),
                polls: 0,
                submitted: Timestamp::now(),
                expired: false,
            },
        );
    }
    shared
        .stats
        .details_jobs_created
        .fetch_add(1, Ordering::Relaxed);
    answer(&shared, StatusCode::ACCEPTED, json!({"jobId": job}), &[])
}

async fn details_job_status(
    State(shared): State<Arc<Shared>>,
    Path(job): Path<String>,
) -> Response {
    let lifetime = shared.faults.details_job_lifetime;
    let status = shared.details_jobs.lock().ok().and_then(|mut jobs| {
        jobs.get_mut(&job).map(|entry| {
            entry.polls += 1;
            let state = if entry.has_expired(lifetime) {
                "EXPIRED"
            } else if entry.polls > shared.faults.job_polls {
                "FULFILLED"
            } else {
                "PENDING"
            };
            (state, entry.submitted, entry.expiration(lifetime))
        })
    });
    match status {
        Some((state, submitted, expires)) => answer(
            &shared,
            StatusCode::OK,
            json!({"state": state, "submissionDate": submitted.to_string(), "expirationDate": expires.to_string()}),
            &[],
        ),
        None => error(&shared, StatusCode::NOT_FOUND, "not.found", "job not found"),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageQuery {
    cursor: Option<String>,
    page_size: Option<usize>,
    page_number: Option<usize>,
}

async fn details_job_results(
    State(shared): State<Arc<Shared>>,
    Path(job): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    let lifetime = shared.faults.details_job_lifetime;
    // Expired results are gone: answered like an unknown job (the platform does not document
    // its answer; the client treats the 404 and the EXPIRED state alike).
    let Some(((from, to), polls)) = shared.details_jobs.lock().ok().and_then(|jobs| {
        jobs.get(&job)
            .filter(|j| !j.has_expired(lifetime))
            .map(|j| (j.interval, j.polls))
    }) else {
        return error(&shared, StatusCode::NOT_FOUND, "not.found", "job not found");
    };
    if polls <= shared.faults.job_polls {
        return error(
            &shared,
            StatusCode::BAD_REQUEST,
            "job.not.fulfilled",
            "the job is not fulfilled yet",
        );
    }
    // The data lake holds conversations up to its horizon only.
    let horizon = horizon(&shared);
    let all = in_window(&shared, from, to.min(horizon));
    let size = query
        .page_size
        .unwrap_or(1000)
        .clamp(1, shared.faults.max_page_size.max(1));
    let offset = match query.cursor.as_deref() {
        None => 0,
        Some(cursor) => match cursor
            .strip_prefix("c")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => n,
            None => {
                return error(
                    &shared,
                    StatusCode::BAD_REQUEST,
                    "bad.request",
                    "invalid cursor",
                );
            }
        },
    };
    let page: Vec<&Value> = all.iter().skip(offset).take(size).copied().collect();
    let mut body = json!({"conversations": page, "dataAvailabilityDate": horizon.to_string()});
    if offset + size < all.len() {
        body["cursor"] = json!(format!("c{}", offset + size));
    }
    answer(&shared, StatusCode::OK, body, &[])
}

fn horizon(shared: &Shared) -> Timestamp {
    shared
        .faults
        .data_availability
        .unwrap_or_else(Timestamp::now)
}

/// `GET .../details/jobs/availability` (`DataAvailabilityResponse`).
async fn details_availability(State(shared): State<Arc<Shared>>) -> Response {
    answer(
        &shared,
        StatusCode::OK,
        json!({"dataAvailabilityDate": horizon(&shared).to_string()}),
        &[],
    )
}

async fn details_query(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some((from, to)) = interval(&parsed) else {
        return error(
            &shared,
            StatusCode::BAD_REQUEST,
            "bad.request",
            "interval is required",
        );
    };
    let size = parsed["paging"]["pageSize"]
        .as_u64()
        .unwrap_or(25)
        .clamp(1, 100) as usize;
    let number = parsed["paging"]["pageNumber"].as_u64().unwrap_or(1).max(1) as usize;
    let all = in_window(&shared, from, to);
    let page: Vec<&Value> = all
        .iter()
        .skip((number - 1) * size)
        .take(size)
        .copied()
        .collect();
    let mut body = json!({"totalHits": all.len()});
    if !page.is_empty() {
        body["conversations"] = json!(page);
    }
    answer(&shared, StatusCode::OK, body, &[])
}

async fn recording_metadata(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match shared
        .by_id
        .get(&id)
        .and_then(|i| shared.org.conversations.get(*i))
    {
        Some(conversation)
            if conversation
                .recording_arrives
                .is_some_and(|at| at > shared.faults.clock.unwrap_or_else(Timestamp::now)) =>
        {
            // Not uploaded yet: the platform knows the conversation, not its recording.
            answer(&shared, StatusCode::OK, json!([]), &[])
        }
        Some(conversation) => answer(
            &shared,
            StatusCode::OK,
            json!(conversation.recording_metadata),
            &[],
        ),
        None => error(
            &shared,
            StatusCode::NOT_FOUND,
            "not.found",
            "conversation not found",
        ),
    }
}

/// The integration of the org's own export job.
const ORG_INTEGRATION: &str = "4b5c6d7e-8f90-4a1b-bc2d-3e4f5a6b7c8d";

fn recording_job_body(shared: &Shared, id: &str, job: &RecordingJob, state: &str) -> Value {
    let (from, to) = job.interval;
    let failed = shared.org.failed_recordings.len();
    let recordings: usize = shared
        .org
        .conversations
        .iter()
        .map(|c| c.recording_metadata.len())
        .sum();
    json!({
        "id": id,
        "state": state,
        "recordingJobsQuery": {
            "action": "EXPORT",
            "actionDate": to.to_string(),
            "integrationId": job.integration,
            "conversationQuery": {"interval": format!("{from}/{to}")}
        },
        "dateCreated": job.created.to_string(),
        "totalConversations": shared.org.conversations.len(),
        "totalRecordings": recordings,
        "totalSkippedRecordings": 0,
        "totalFailedRecordings": failed,
        "totalProcessedRecordings": recordings.saturating_sub(failed),
        "percentProgress": if state == "FULFILLED" { 100 } else { 0 },
        "failedRecordings": format!("/api/v2/recording/jobs/{id}/failedrecordings"),
        "selfUri": format!("/api/v2/recording/jobs/{id}")
    })
}

/// `POST /api/v2/recording/jobs`. `RecordingJobsQuery.integrationId` is "required and used only
/// for EXPORT action" (models/recording_jobs_query.py): an EXPORT without it is refused.
async fn create_recording_job(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let query: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let export = query["action"].as_str() == Some("EXPORT");
    let integration = query["integrationId"]
        .as_str()
        .filter(|i| !i.is_empty())
        .map(str::to_string);
    if export && integration.is_none() {
        return error(
            &shared,
            StatusCode::BAD_REQUEST,
            "bad.request",
            "integrationId is required for the EXPORT action",
        );
    }
    let Some(window) = query.get("conversationQuery").and_then(interval) else {
        return error(
            &shared,
            StatusCode::BAD_REQUEST,
            "bad.request",
            "conversationQuery.interval is required",
        );
    };
    let id = shared.rng.lock().map(|mut r| r.uuid()).unwrap_or_default();
    let job = RecordingJob {
        state: "READY".to_string(),
        interval: window,
        integration: integration.unwrap_or_default(),
        created: Timestamp::now(),
    };
    if let Ok(mut jobs) = shared.recording_jobs.lock() {
        jobs.insert(id.clone(), job.clone());
    }
    shared.stats.jobs_created.fetch_add(1, Ordering::Relaxed);
    answer(
        &shared,
        StatusCode::OK,
        recording_job_body(&shared, &id, &job, "PENDING"),
        &[],
    )
}

/// `GET /api/v2/recording/jobs`: the org's jobs, page-number paged (`RecordingJobEntityListing`).
async fn list_recording_jobs(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<PageQuery>,
) -> Response {
    let mut jobs: Vec<(String, RecordingJob)> = shared
        .recording_jobs
        .lock()
        .map(|jobs| {
            jobs.iter()
                .map(|(id, job)| (id.clone(), job.clone()))
                .collect()
        })
        .unwrap_or_default();
    jobs.sort_by(|a, b| a.0.cmp(&b.0));
    let items: Vec<Value> = jobs
        .iter()
        .map(|(id, job)| recording_job_body(&shared, id, job, &job.state))
        .collect();
    answer(
        &shared,
        StatusCode::OK,
        listing(&items, "/api/v2/recording/jobs", &query),
        &[],
    )
}

async fn recording_job(State(shared): State<Arc<Shared>>, Path(job): Path<String>) -> Response {
    match shared
        .recording_jobs
        .lock()
        .ok()
        .and_then(|jobs| jobs.get(&job).cloned())
    {
        Some(found) => answer(
            &shared,
            StatusCode::OK,
            recording_job_body(&shared, &job, &found, &found.state),
            &[],
        ),
        None => error(&shared, StatusCode::NOT_FOUND, "not.found", "job not found"),
    }
}

async fn execute_recording_job(
    State(shared): State<Arc<Shared>>,
    Path(job): Path<String>,
) -> Response {
    let executed = shared.recording_jobs.lock().ok().and_then(|mut jobs| {
        jobs.get_mut(&job).map(|found| {
            found.state = "FULFILLED".to_string();
            found.clone()
        })
    });
    if let Some(found) = executed {
        answer(
            &shared,
            StatusCode::OK,
            recording_job_body(&shared, &job, &found, "PROCESSING"),
            &[],
        )
    } else {
        error(&shared, StatusCode::NOT_FOUND, "not.found", "job not found")
    }
}

/// The standard paging envelope over `items`, with page-number paging.
fn listing(items: &[Value], base: &str, query: &PageQuery) -> Value {
    let size = query.page_size.unwrap_or(25).clamp(1, 100);
    let number = query.page_number.unwrap_or(1).max(1);
    let pages = items.len().div_ceil(size).max(1);
    let page: Vec<&Value> = items.iter().skip((number - 1) * size).take(size).collect();
    let uri = |n: usize| format!("{base}?pageSize={size}&pageNumber={n}");
    let mut body = json!({
        "entities": page,
        "pageSize": size,
        "pageNumber": number,
        "total": items.len(),
        "pageCount": pages,
        "firstUri": uri(1),
        "lastUri": uri(pages),
        "selfUri": uri(number)
    });
    if number < pages {
        body["nextUri"] = json!(uri(number + 1));
    }
    body
}

async fn failed_recordings(
    State(shared): State<Arc<Shared>>,
    Path(job): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    if !shared
        .recording_jobs
        .lock()
        .ok()
        .is_some_and(|jobs| jobs.contains_key(&job))
    {
        return error(&shared, StatusCode::NOT_FOUND, "not.found", "job not found");
    }
    let items: Vec<Value> = shared
        .org
        .failed_recordings
        .iter()
        .map(|(c, r)| json!({
            "conversation": {"id": c, "selfUri": format!("/api/v2/conversations/{c}")},
            "recording": {"id": r, "selfUri": format!("/api/v2/conversations/{c}/recordings/{r}")}
        }))
        .collect();
    answer(
        &shared,
        StatusCode::OK,
        listing(
            &items,
            &format!("/api/v2/recording/jobs/{job}/failedrecordings"),
            &query,
        ),
        &[],
    )
}

/// `GET /api/v2/orphanrecordings`: "False returns all orphans for the organization, capped at
/// 500 results" (`hasConversation`, SDK apis/recording_api.py; false is the default).
async fn orphans(State(shared): State<Arc<Shared>>, Query(query): Query<OrphanQuery>) -> Response {
    let orphans: Vec<Value> = if query.has_conversation == Some(true) {
        shared
            .org
            .orphans
            .iter()
            .filter(|o| o["recording"]["conversationId"].is_string())
            .cloned()
            .collect()
    } else {
        shared
            .org
            .orphans
            .iter()
            .take(ORPHAN_CAP)
            .cloned()
            .collect()
    };
    let base = match query.has_conversation {
        Some(flag) => format!("/api/v2/orphanrecordings?hasConversation={flag}&"),
        None => "/api/v2/orphanrecordings?".to_string(),
    };
    let page = PageQuery {
        cursor: None,
        page_size: query.page_size,
        page_number: query.page_number,
    };
    let mut body = listing(&orphans, "/api/v2/orphanrecordings", &page);
    // The listing's URIs keep the filter, as the platform's do.
    for key in ["firstUri", "lastUri", "selfUri", "nextUri"] {
        if let Some(uri) = body[key].as_str() {
            body[key] = json!(uri.replacen("/api/v2/orphanrecordings?", &base, 1));
        }
    }
    answer(&shared, StatusCode::OK, body, &[])
}

/// The cap on an orphan listing not filtered by `hasConversation=true`.
pub const ORPHAN_CAP: usize = 500;

/// Not `#[serde(flatten)]` over [`PageQuery`]: flattened numbers do not parse from a query string.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrphanQuery {
    has_conversation: Option<bool>,
    page_size: Option<usize>,
    page_number: Option<usize>,
}

/// `ConversationDeletionProtectionQuery`: `conversationIds`, at most 100.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProtectionQuery {
    #[serde(default)]
    conversation_ids: Option<Vec<String>>,
}

/// The most conversation ids one deletion protection query may ask about.
const PROTECTION_QUERY_MAX: usize = 100;

/// `POST /api/v2/recordings/deletionprotection`: the asked conversations whose recordings are
/// protected ([`Org::protected`]), as `list[AddressableEntityRef]`, in the order asked, each
/// once. A body that is not the query, or more than 100 ids, is a 400.
async fn deletion_protection(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Ok(query) = serde_json::from_slice::<ProtectionQuery>(&body) else {
        return error(
            &shared,
            StatusCode::BAD_REQUEST,
            "bad.request",
            "The request could not be understood by the server due to malformed syntax.",
        );
    };
    let Some(ids) = query.conversation_ids else {
        return error(
            &shared,
            StatusCode::BAD_REQUEST,
            "invalid.value",
            "conversationIds is required.",
        );
    };
    if ids.len() > PROTECTION_QUERY_MAX {
        return error(
            &shared,
            StatusCode::BAD_REQUEST,
            "invalid.value",
            &format!(
                "The list of conversationIds cannot exceed {PROTECTION_QUERY_MAX} conversationIds (got {}).",
                ids.len()
            ),
        );
    }
    shared
        .stats
        .protection_queries
        .fetch_add(1, Ordering::Relaxed);
    let mut seen = std::collections::HashSet::new();
    let protected: Vec<Value> = ids
        .iter()
        .filter(|id| shared.org.protected.contains(*id) && seen.insert(id.as_str()))
        .map(|id| json!({"id": id, "selfUri": format!("/api/v2/conversations/{id}")}))
        .collect();
    answer(&shared, StatusCode::OK, Value::Array(protected), &[])
}

async fn limits(State(shared): State<Arc<Shared>>, Path(namespace): Path<String>) -> Response {
    let entities = json!([
        {"key": "client.credentials.token.rate.per.minute", "namespace": namespace, "value": shared.faults.rate_limit_per_minute},
        {"key": "token.rate.per.minute", "namespace": namespace, "value": shared.faults.rate_limit_per_minute}
    ]);
    answer(&shared, StatusCode::OK, json!({"entities": entities}), &[])
}
