//! A fault probe: a loopback HTTP proxy in front of the S3 API server (moto) that passes every
//! request on, except those its [`Fault`] answers itself the way AWS S3 does: `503 SlowDown`
//! (throttling), `301 PermanentRedirect` without a `Location` or `400
//! AuthorizationHeaderMalformed` (a request for a bucket of another region), or an object
//! deleted from the server between the listing and the read. moto reproduces none of these on
//! its own. The answers are AWS's documented ones (error codes and headers of the S3 API
//! reference and of the SDKs' issue trackers); only the region check differs: AWS knows the
//! region a request went to by its endpoint, the probe by the region the request is signed for
//! (the credential scope of its `Authorization` header), since every request reaches it at one
//! loopback endpoint.
//!
//! It runs on a thread and a runtime of its own, so a test may wait for the recaudit binary
//! without starving it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, Response, StatusCode, header};
use object_store::ObjectStoreExt;
use object_store::aws::AmazonS3;
use object_store::path::Path as ObjectPath;

/// What the proxy does instead of passing a request on.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Each distinct request (method and URL) is answered `503 SlowDown` its first `times`
    /// times, then passed on: throttling that retries get through.
    SlowDown { times: usize },
    /// Every listing, or (`reads_only`) every read of an object, is answered `503 SlowDown`:
    /// throttling that never ends.
    SlowDownAlways { reads_only: bool },
    /// The bucket is in `region`: a request signed for another region gets `answer`.
    OtherRegion {
        region: String,
        answer: RegionAnswer,
    },
    /// The object `key` of `bucket` is deleted from the server (through `store`, a client of
    /// that bucket) when it is first read, just before the read is passed on: it vanishes
    /// between the listing and the read.
    Vanish {
        store: AmazonS3,
        bucket: String,
        key: String,
    },
}

/// AWS's answers to a request for a bucket of another region.
#[derive(Debug, Clone, Copy)]
pub enum RegionAnswer {
    /// `301 PermanentRedirect`, no `Location`, the region in `x-amz-bucket-region`: what a
    /// regional endpoint answers for a bucket of another region.
    PermanentRedirect,
    /// `400 AuthorizationHeaderMalformed` naming the expected region: what the bucket's region
    /// answers a request signed for another one.
    AuthorizationHeaderMalformed,
}

/// What the proxy saw and did.
#[derive(Debug, Default)]
pub struct Seen {
    pub throttled_listings: AtomicUsize,
    pub throttled_reads: AtomicUsize,
    pub wrong_region: AtomicUsize,
    pub vanished: AtomicUsize,
    pub passed: AtomicUsize,
}

impl Seen {
    pub fn count(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }
}

struct Probe {
    upstream: String,
    fault: Fault,
    client: reqwest::Client,
    /// Times each request (method and URL) was answered by [`Fault::SlowDown`].
    throttled: Mutex<HashMap<String, usize>>,
    seen: Arc<Seen>,
}

pub struct FaultProxy {
    pub url: String,
    pub seen: Arc<Seen>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FaultProxy {
    /// Serves on 127.0.0.1 in front of the S3 API at `upstream`.
    pub fn start(upstream: &str, fault: Fault) -> FaultProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Seen::default());
        let probe = Arc::new(Probe {
            upstream: upstream.trim_end_matches('/').to_string(),
            fault,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            throttled: Mutex::new(HashMap::new()),
            seen: Arc::clone(&seen),
        });
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = Router::new().fallback(handle).with_state(probe);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        FaultProxy {
            url,
            seen,
            shutdown: Some(shutdown),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

async fn handle(State(probe): State<Arc<Probe>>, request: Request) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let listing = parts.method == Method::GET
        && parts
            .uri
            .query()
            .is_some_and(|query| query.contains("list-type="));
    let path = percent_decode(parts.uri.path());
    // `/bucket/key`: a read of an object (path-style addressing).
    let read = parts.method == Method::GET
        && !listing
        && path
            .trim_start_matches('/')
            .split_once('/')
            .is_some_and(|(_, key)| !key.is_empty());
    match &probe.fault {
        Fault::SlowDown { times } if listing || read => {
            let key = format!("{} {target}", parts.method);
            let mut throttled = probe.throttled.lock().unwrap();
            let count = throttled.entry(key).or_default();
            if *count < *times {
                *count += 1;
                drop(throttled);
                return slow_down(&probe.seen, listing);
            }
        }
        Fault::SlowDownAlways { reads_only } if read || (listing && !reads_only) => {
            return slow_down(&probe.seen, listing);
        }
        Fault::OtherRegion { region, answer } => {
            let signed_for = signed_region(&parts.headers).unwrap_or_default();
            if signed_for != *region {
                probe.seen.wrong_region.fetch_add(1, Ordering::SeqCst);
                let bucket = path.trim_start_matches('/').split('/').next().unwrap_or("");
                return other_region(*answer, bucket, region, &signed_for);
            }
        }
        // Only the first read: once written again, the object is read.
        Fault::Vanish { store, bucket, key }
            if read
                && path == format!("/{bucket}/{key}")
                && probe.seen.vanished.load(Ordering::SeqCst) == 0 =>
        {
            store
                .delete(&ObjectPath::from(key.as_str()))
                .await
                .expect("delete the object from the server");
            probe.seen.vanished.fetch_add(1, Ordering::SeqCst);
        }
        _ => {}
    }
    probe.seen.passed.fetch_add(1, Ordering::SeqCst);
    pass_on(&probe, parts.method, &target, &parts.headers, body).await
}

/// The request as it came, sent to the server; its answer as the server gave it.
async fn pass_on(
    probe: &Probe,
    method: Method,
    target: &str,
    headers: &HeaderMap,
    body: axum::body::Bytes,
) -> Response<Body> {
    let mut request = probe
        .client
        .request(method.clone(), format!("{}{target}", probe.upstream));
    for (name, value) in headers {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            request = request.header(name, value);
        }
    }
    let answer = request
        .body(body.to_vec())
        .send()
        .await
        .expect("the S3 server answers the proxy");
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        let framing = name == header::TRANSFER_ENCODING
            || name == header::CONNECTION
            || (name == header::CONTENT_LENGTH && method != Method::HEAD);
        if !framing {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    response.body(Body::from(bytes)).unwrap()
}

fn slow_down(seen: &Seen, listing: bool) -> Response<Body> {
    let counter = if listing {
        &seen.throttled_listings
    } else {
        &seen.throttled_reads
    };
    counter.fetch_add(1, Ordering::SeqCst);
    error_answer(
        StatusCode::SERVICE_UNAVAILABLE,
        &[],
        "<Code>SlowDown</Code><Message>Please reduce your request rate.</Message>",
    )
}

fn other_region(
    answer: RegionAnswer,
    bucket: &str,
    region: &str,
    signed_for: &str,
) -> Response<Body> {
    match answer {
        RegionAnswer::PermanentRedirect => error_answer(
            StatusCode::MOVED_PERMANENTLY,
            &[("x-amz-bucket-region", region)],
            &format!(
                "<Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be \
                 addressed using the specified endpoint. Please send all future requests to this \
                 endpoint.</Message><Endpoint>{bucket}.s3.{region}.amazonaws.com</Endpoint>\
                 <Bucket>{bucket}</Bucket>"
            ),
        ),
        RegionAnswer::AuthorizationHeaderMalformed => error_answer(
            StatusCode::BAD_REQUEST,
            &[],
            &format!(
                "<Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is \
                 malformed; the region '{signed_for}' is wrong; expecting '{region}'</Message>\
                 <Region>{region}</Region>"
            ),
        ),
    }
}

/// An S3 error document, as AWS writes it.
fn error_answer(status: StatusCode, headers: &[(&str, &str)], inner: &str) -> Response<Body> {
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/xml")
        .header("x-amz-request-id", "0FA11FAB1E000001")
        .header(header::SERVER, "AmazonS3");
    for (name, value) in headers {
        response = response.header(*name, *value);
    }
    response
        .body(Body::from(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>{inner}<RequestId>0FA11FAB1E000001</RequestId>\
             <HostId>recaudit-fault-probe</HostId></Error>"
        )))
        .unwrap()
}

/// The region of a SigV4 `Authorization` header's credential scope
/// (`Credential=KEY/DATE/REGION/s3/aws4_request`).
fn signed_region(headers: &HeaderMap) -> Option<String> {
    let authorization = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let scope = authorization
        .split("Credential=")
        .nth(1)?
        .split(',')
        .next()?;
    scope.split('/').nth(2).map(str::to_string)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied(),
            bytes.get(i + 2).copied(),
        ) {
            (b'%', Some(high), Some(low)) if hex(high).is_some() && hex(low).is_some() => {
                out.push((hex(high).unwrap() * 16 + hex(low).unwrap()) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
