//! Failed S3 calls: which are retried and for how long ([`handle_faults`]), how S3's answer
//! that a bucket is in another region is kept ([`RegionAnswers`]), and what each failure means
//! for the user: which permission, which bucket, which region, what to do next.
//!
//! Messages are built from the bucket, the key and the service's answer (HTTP status, S3 error
//! code and message), never from a request's headers, so no credential or signature reaches a
//! message; a URL quoted from the service's text loses any user info and signature parameters
//! ([`describe`]).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse, HttpService,
    ReqwestConnector,
};
use object_store::{BackoffConfig, ClientOptions, RetryConfig};

use super::S3Url;
use crate::error::{Error, Result};

/// The AWS SDKs' and CLI's setting of how many times a request is tried (the first attempt
/// included); recaudit reads it the same way.
const MAX_ATTEMPTS_VARIABLE: &str = "AWS_MAX_ATTEMPTS";

/// Attempts per request unless `AWS_MAX_ATTEMPTS` says otherwise.
const DEFAULT_ATTEMPTS: usize = 11;

/// Time from a request's first attempt after which it is not tried again, however many
/// attempts are left: a throttled night must end, and object_store resends a request as it was
/// first signed, so it advises keeping this under 5 minutes.
const RETRY_BUDGET: Duration = Duration::from_secs(180);

/// Sets how `builder`'s requests fail. A request S3 answers with `503 SlowDown` or `429`
/// (throttling), another 5xx, or that fails to connect, is cut off or times out (object_store's
/// defaults: 5 s to connect, 30 s per request; listings and reads are safe to repeat) is tried
/// again with exponential backoff and jitter (0.2 s, then up to twice the previous wait, at most
/// 20 s), up to `AWS_MAX_ATTEMPTS` attempts (default 11) within 3 minutes; then it fails with
/// S3's last answer, which [`listing_error`] and [`read_error`] explain. A redirect without a
/// `Location`, S3's answer to a request sent to the wrong region, is kept with the region S3
/// names ([`RegionAnswers`]).
pub(super) fn handle_faults(builder: AmazonS3Builder) -> Result<AmazonS3Builder> {
    let attempts = std::env::var(MAX_ATTEMPTS_VARIABLE).ok();
    let retry = retry_config(attempts.as_deref())?;
    // object_store's own default, when neither the settings nor AWS_REGION name one.
    let asked = builder
        .get_config_value(&AmazonS3ConfigKey::Region)
        .unwrap_or_else(|| "us-east-1".to_string());
    Ok(builder
        .with_retry(retry)
        .with_http_connector(RegionAnswers { asked }))
}

/// The retries of a request; `attempts` is `AWS_MAX_ATTEMPTS`, if set.
fn retry_config(attempts: Option<&str>) -> Result<RetryConfig> {
    let attempts = match attempts.map(str::trim) {
        None | Some("") => DEFAULT_ATTEMPTS,
        Some(text) => text.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
            Error::Usage(format!(
                "{MAX_ATTEMPTS_VARIABLE} is `{text}`: it must be a whole number of attempts, at least 1"
            ))
        })?,
    };
    Ok(RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(20),
            base: 2.0,
        },
        max_retries: attempts - 1,
        retry_timeout: RETRY_BUDGET,
    })
}

/// The HTTP client of a bucket: object_store's own (reqwest, with the builder's client options),
/// except that a redirect without a `Location` header fails as [`WrongRegion`]. S3 answers a
/// request sent to another region than its bucket's `301 PermanentRedirect`, without a
/// `Location` but with the bucket's region in `x-amz-bucket-region` (and its endpoint in the
/// body); object_store reports such an answer without either, so the region is read here.
#[derive(Debug)]
pub(super) struct RegionAnswers {
    /// The region the requests are signed for and sent to.
    asked: String,
}

impl HttpConnector for RegionAnswers {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        Ok(HttpClient::new(RegionAnswered {
            inner: ReqwestConnector::default().connect(options)?,
            asked: self.asked.clone(),
        }))
    }
}

#[derive(Debug)]
struct RegionAnswered {
    inner: HttpClient,
    asked: String,
}

type ResponseFuture<'a> =
    Pin<Box<dyn Future<Output = std::result::Result<HttpResponse, HttpError>> + Send + 'a>>;

impl HttpService for RegionAnswered {
    // The signature `#[async_trait]` gives the trait's `async fn call`.
    fn call<'life0, 'async_trait>(
        &'life0 self,
        request: HttpRequest,
    ) -> ResponseFuture<'async_trait>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            let response = self.inner.execute(request).await?;
            let status = response.status().as_u16();
            if !matches!(status, 301 | 302 | 303 | 307 | 308)
                || response.headers().contains_key("location")
            {
                return Ok(response);
            }
            let named = response
                .headers()
                .get("x-amz-bucket-region")
                .and_then(|value| value.to_str().ok())
                .map(str::to_string);
            let body = match response.into_body().bytes().await {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(_) => String::new(),
            };
            let region = named.or_else(|| {
                xml_element(&body, "Endpoint").and_then(|endpoint| region_of_endpoint(&endpoint))
            });
            // Not retried: another attempt would be redirected the same way.
            Err(HttpError::new(
                HttpErrorKind::Unknown,
                WrongRegion {
                    status,
                    code: xml_element(&body, "Code"),
                    region,
                    asked: self.asked.clone(),
                },
            ))
        })
    }
}

/// S3 redirected a request without saying where to: the bucket is in another region.
#[derive(Debug)]
struct WrongRegion {
    status: u16,
    code: Option<String>,
    /// The bucket's region, when S3 named it.
    region: Option<String>,
    asked: String,
}

impl std::fmt::Display for WrongRegion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3 answered {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        write!(f, ": the bucket is not in region {}", self.asked)?;
        match &self.region {
            Some(region) => write!(f, " but in {region}"),
            None => write!(f, " (S3 did not say which region it is in)"),
        }
    }
}

impl std::error::Error for WrongRegion {}

/// What S3 answered a failed request, as far as object_store's error says.
#[derive(Debug)]
struct Answered {
    status: Option<u16>,
    /// S3's error code (`NoSuchBucket`, `AccessDenied`, `SlowDown`, ...).
    code: Option<String>,
    message: Option<String>,
    /// The bucket's region, when the answer says the request went to another one.
    region: Option<String>,
    /// The region the request was signed for, when the answer says it.
    asked: Option<String>,
    /// The request was redirected without a `Location`: another region.
    redirected: bool,
    /// Retries made before giving up.
    retries: Option<usize>,
    /// `scheme://host:port` the request went to.
    origin: Option<String>,
    /// The whole text, credentials redacted.
    text: String,
}

impl Answered {
    fn of(e: &object_store::Error) -> Answered {
        let text = describe(e);
        let wrong = find::<WrongRegion>(e);
        let code = wrong
            .and_then(|w| w.code.clone())
            .or_else(|| xml_element(&text, "Code"));
        let region = wrong
            .and_then(|w| w.region.clone())
            .or_else(|| xml_element(&text, "Region"))
            .or_else(|| between(&text, "expecting '", "'"))
            .or_else(|| between(&text, "The ", " location constraint is incompatible"));
        let asked = wrong
            .map(|w| w.asked.clone())
            .or_else(|| between(&text, "the region '", "' is wrong"));
        let status = wrong.map(|w| w.status).or_else(|| {
            let at = text.find("status code: ")? + "status code: ".len();
            text.get(at..at + 3)?.parse().ok()
        });
        let retries = between(&text, "after ", " retries").and_then(|n| n.parse().ok());
        let origin = between(&text, "Error performing ", " in ").and_then(|request| {
            let uri = request.split_once(' ')?.1;
            let (scheme, rest) = uri.split_once("://")?;
            let authority = rest.split(['/', '?']).next()?;
            Some(format!("{scheme}://{authority}"))
        });
        Answered {
            status,
            message: xml_element(&text, "Message"),
            redirected: wrong.is_some() || text.contains("Received redirect without LOCATION"),
            code,
            region,
            asked,
            retries,
            origin,
            text,
        }
    }

    fn code_is(&self, codes: &[&str]) -> bool {
        self.code
            .as_deref()
            .is_some_and(|code| codes.contains(&code))
    }

    /// The bucket is in another region than the one asked (S3 redirected, or named it).
    fn wrong_region(&self) -> bool {
        self.redirected
            || self.code_is(&["PermanentRedirect", "IllegalLocationConstraintException"])
            || (self.code_is(&["AuthorizationHeaderMalformed"]) && self.region.is_some())
    }

    fn missing_bucket(&self) -> bool {
        self.code_is(&["NoSuchBucket"])
    }

    /// The credentials themselves were refused (unknown key, bad secret, expired token).
    fn credentials_refused(&self) -> bool {
        self.code_is(&[
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "ExpiredToken",
            "InvalidToken",
            "TokenRefreshRequired",
        ]) || (self.status == Some(401) && self.code.is_none())
    }

    fn access_denied(&self) -> bool {
        self.code_is(&["AccessDenied", "AllAccessDisabled"])
            || (self.status == Some(403) && !self.credentials_refused())
    }

    fn throttled(&self) -> bool {
        self.code_is(&[
            "SlowDown",
            "Throttling",
            "ThrottlingException",
            "RequestLimitExceeded",
            "TooManyRequests",
            "ServiceUnavailable",
        ]) || matches!(self.status, Some(429 | 503))
    }

    fn server_failed(&self) -> bool {
        self.status.is_some_and(|status| status >= 500)
    }

    /// `S3 answered 403 AccessDenied: Access Denied`, or as much of it as is known, else the
    /// whole text.
    fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(status) = self.status {
            parts.push(status.to_string());
        }
        if let Some(code) = &self.code {
            parts.push(code.clone());
        }
        if parts.is_empty() {
            return self.text.clone();
        }
        let mut summary = format!("S3 answered {}", parts.join(" "));
        if let Some(message) = &self.message {
            summary.push_str(": ");
            summary.push_str(message);
        }
        summary
    }

    /// `after 10 retries with backoff`, when retried.
    fn after_retries(&self) -> String {
        match self.retries {
            Some(1) => " after 1 retry with backoff".to_string(),
            Some(n) => format!(" after {n} retries with backoff"),
            None => String::new(),
        }
    }

    /// What to do about a bucket in another region (`bucket`: its name, if known).
    fn region_advice(&self, bucket: Option<&str>) -> String {
        let subject = bucket.map_or_else(|| "the bucket".to_string(), |b| format!("bucket `{b}`"));
        let lookup = bucket.unwrap_or("BUCKET");
        let not = self
            .asked
            .as_deref()
            .map(|asked| format!(", not `{asked}`"))
            .unwrap_or_default();
        match &self.region {
            Some(region) => format!(
                "{subject} is in region `{region}`{not}: pass `--s3-region {region}` (or set AWS_REGION={region}) and import again"
            ),
            None => format!(
                "{subject} is in another region{not}, which S3 did not name: pass `--s3-region` with the bucket's region (`aws s3api get-bucket-location --bucket {lookup}` tells it) and import again"
            ),
        }
    }
}

/// The error of a listing that failed, saying what to check. Nothing of the bucket was
/// imported: the listing comes before any object is read.
pub(super) fn listing_error(url: &S3Url, e: &object_store::Error) -> Error {
    let answer = Answered::of(e);
    let bucket = &url.bucket;
    tracing::debug!("listing {url} failed: {}", answer.text);
    let nothing = "nothing was imported from it";
    let message = if answer.wrong_region() {
        format!(
            "{}; {nothing} ({})",
            answer.region_advice(Some(bucket)),
            answer.summary()
        )
    } else if answer.missing_bucket() || matches!(e, object_store::Error::NotFound { .. }) {
        let at = answer
            .origin
            .as_deref()
            .map(|origin| format!(" (asked at {origin})"))
            .unwrap_or_default();
        format!(
            "bucket `{bucket}` does not exist (or not in this region or at this endpoint){at}: check the bucket name in the s3:// URL, and that the endpoint (`--s3-endpoint`, RECAUDIT_S3_ENDPOINT, AWS_ENDPOINT_URL) and region (`--s3-region`, AWS_REGION) are the bucket's; {nothing}"
        )
    } else if answer.credentials_refused()
        || matches!(e, object_store::Error::Unauthenticated { .. })
    {
        format!(
            "S3 refused the credentials listing bucket `{bucket}` ({}): check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, or the role the credential chain uses; {nothing}",
            answer.summary()
        )
    } else if answer.access_denied() || matches!(e, object_store::Error::PermissionDenied { .. }) {
        format!(
            "access denied listing bucket `{bucket}`: the credentials need `s3:ListBucket` on `arn:aws:s3:::{bucket}` ({}); {nothing}",
            answer.summary()
        )
    } else if answer.throttled() {
        format!(
            "S3 throttled the listing of bucket `{bucket}` ({}){}; {nothing}: import again later (AWS_MAX_ATTEMPTS allows more attempts)",
            answer.summary(),
            answer.after_retries()
        )
    } else if answer.server_failed() {
        format!(
            "S3 failed to list bucket `{bucket}` ({}){}; {nothing}: import again later",
            answer.summary(),
            answer.after_retries()
        )
    } else {
        format!("cannot list bucket `{bucket}`: {}; {nothing}", answer.text)
    };
    Error::S3 {
        url: url.to_string(),
        message,
    }
}

/// Why writing the object `key` failed (`sim export` into a bucket), saying what to check.
pub fn write_error(url: &S3Url, key: &str, e: &object_store::Error) -> Error {
    let answer = Answered::of(e);
    let message = if answer.wrong_region() {
        answer.region_advice(Some(&url.bucket))
    } else if answer.code_is(&["NoSuchBucket"]) || matches!(e, object_store::Error::NotFound { .. })
    {
        format!(
            "bucket `{}` does not exist (or not in this region or at this endpoint): create it first",
            url.bucket
        )
    } else if answer.access_denied()
        || answer.credentials_refused()
        || matches!(
            e,
            object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
        )
    {
        format!(
            "access denied writing `{key}`: the credentials need `s3:PutObject` ({})",
            answer.summary()
        )
    } else {
        format!("cannot write `{key}`: {}", answer.text)
    };
    Error::S3 {
        url: url.to_string(),
        message,
    }
}

/// Why one object could not be read; it is rejected alone (nothing of it stored) and the rest
/// of the bucket is imported.
pub(super) fn read_error(e: &object_store::Error) -> String {
    let answer = Answered::of(e);
    tracing::debug!("reading an object failed: {}", answer.text);
    if matches!(e, object_store::Error::NotFound { .. }) || answer.code_is(&["NoSuchKey"]) {
        return format!(
            "vanished: the object was listed but was gone when read (deleted between the listing and the read; {}); nothing of it was stored: import again to read it if it is back",
            answer.summary()
        );
    }
    // A media object is read with If-Match on its listed ETag, so that the bytes hashed are
    // those of the object listed.
    if matches!(e, object_store::Error::Precondition { .. }) {
        return format!(
            "changed: the object was rewritten between the listing and the read (its ETag is no longer the listed one; {}); nothing of it was stored: import again to read it as it is now",
            answer.summary()
        );
    }
    if answer.wrong_region() {
        return answer.region_advice(None);
    }
    if answer.credentials_refused() || matches!(e, object_store::Error::Unauthenticated { .. }) {
        return format!(
            "S3 refused the credentials reading the object ({}): check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, or the role the credential chain uses",
            answer.summary()
        );
    }
    if answer.access_denied() || matches!(e, object_store::Error::PermissionDenied { .. }) {
        let kms = if answer.text.contains("KMS") {
            "; an object encrypted with a KMS key also needs `kms:Decrypt` on the key"
        } else {
            ""
        };
        return format!(
            "access denied reading the object: the credentials need `s3:GetObject` on it ({}){kms}; nothing of it was stored",
            answer.summary()
        );
    }
    if answer.throttled() {
        return format!(
            "S3 throttled the read ({}){}; nothing of it was stored: import again later (AWS_MAX_ATTEMPTS allows more attempts)",
            answer.summary(),
            answer.after_retries()
        );
    }
    if answer.server_failed() {
        return format!(
            "S3 failed to read the object ({}){}; nothing of it was stored: import again later",
            answer.summary(),
            answer.after_retries()
        );
    }
    format!("cannot read the object: {}", answer.text)
}

/// An object_store error's text with its causes, each said once. object_store's errors name
/// the store, the request's URL and the service's answer; the request's signature and
/// credentials are in headers, never in these texts, and any user info or signature parameter
/// of a URL is redacted all the same.
pub(super) fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    redact(&text)
}

/// Elements of S3's error documents that quote the request's credentials: the access key id
/// and, in a `SignatureDoesNotMatch` answer, the signature and the canonical request, whose
/// signed headers can hold the session token.
const QUOTING_ELEMENTS: [&str; 6] = [
    "AWSAccessKeyId",
    "SignatureProvided",
    "StringToSign",
    "StringToSignBytes",
    "CanonicalRequest",
    "CanonicalRequestBytes",
];

/// `text` without the user info of URLs (`https://user:secret@host`), the values of SigV4
/// query parameters (a presigned URL's signature, credential scope and session token), and the
/// [`QUOTING_ELEMENTS`] of an S3 error document.
fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(user) => out.push_str(&authority[user + 1..]),
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    for parameter in [
        "X-Amz-Signature=",
        "X-Amz-Credential=",
        "X-Amz-Security-Token=",
    ] {
        let mut redacted = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(at) = find_ignore_case(rest, parameter) {
            let (head, tail) = rest.split_at(at + parameter.len());
            redacted.push_str(head);
            redacted.push_str("REDACTED");
            let end = tail
                .find(|c: char| c == '&' || c == '#' || c.is_whitespace())
                .unwrap_or(tail.len());
            rest = &tail[end..];
        }
        redacted.push_str(rest);
        out = redacted;
    }
    for element in QUOTING_ELEMENTS {
        let (open, close) = (format!("<{element}>"), format!("</{element}>"));
        let mut redacted = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(at) = rest.find(&open) {
            let (head, tail) = rest.split_at(at + open.len());
            redacted.push_str(head);
            redacted.push_str("REDACTED");
            rest = tail.find(&close).map_or("", |end| &tail[end..]);
        }
        redacted.push_str(rest);
        out = redacted;
    }
    out
}

fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .to_ascii_lowercase()
        .find(&needle.to_ascii_lowercase())
}

/// The first error of type `T` in `e`'s chain of causes.
fn find<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current = Some(e);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<T>() {
            return Some(found);
        }
        current = error.source();
    }
    None
}

/// The text of the first `<name>...</name>` element of an S3 error document.
fn xml_element(text: &str, name: &str) -> Option<String> {
    between(text, &format!("<{name}>"), &format!("</{name}>"))
}

/// The non-empty text between the first `open` and the next `close`.
fn between(text: &str, open: &str, close: &str) -> Option<String> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    let found = text[start..end].trim();
    (!found.is_empty() && found.len() <= 200).then(|| found.to_string())
}

/// The region of an S3 endpoint (`bucket.s3.eu-west-1.amazonaws.com`,
/// `bucket.s3-ap-northeast-1.amazonaws.com`; `s3.amazonaws.com` is us-east-1).
fn region_of_endpoint(endpoint: &str) -> Option<String> {
    let host = endpoint.strip_suffix(".amazonaws.com")?;
    let labels: Vec<&str> = host.split('.').collect();
    let at = labels
        .iter()
        .rposition(|label| *label == "s3" || label.starts_with("s3-"))?;
    let region = match labels[at].strip_prefix("s3-") {
        Some(region) => region,
        None => labels[at + 1..]
            .iter()
            .copied()
            .find(|label| *label != "dualstack")
            .unwrap_or("us-east-1"),
    };
    // `s3-external-1` is an old name of us-east-1's endpoint.
    let region = if region == "external-1" {
        "us-east-1"
    } else {
        region
    };
    (!region.is_empty()).then(|| region.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An object_store error whose text is `text`, as a failed listing's is.
    fn listing_failure(text: &str) -> object_store::Error {
        #[derive(Debug)]
        struct Text(String);
        impl std::fmt::Display for Text {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl std::error::Error for Text {}
        object_store::Error::Generic {
            store: "S3",
            source: Box::new(Text(text.to_string())),
        }
    }

    fn listing_message(text: &str) -> String {
        let url = S3Url::parse("s3://genesys-exports/org").unwrap();
        listing_error(&url, &listing_failure(text)).to_string()
    }

    #[test]
    fn a_region_named_by_a_malformed_authorization_answer_is_passed_on() {
        // What S3 answers a request signed for us-east-1 that reached the bucket's region.
        let message = listing_message(
            "Error performing GET https://genesys-exports.s3.amazonaws.com/?list-type=2 in 80ms - \
             Server returned non-2xx status code: 400 Bad Request: <?xml version=\"1.0\" \
             encoding=\"UTF-8\"?><Error><Code>AuthorizationHeaderMalformed</Code><Message>The \
             authorization header is malformed; the region 'us-east-1' is wrong; expecting \
             'eu-west-1'</Message><Region>eu-west-1</Region><RequestId>R</RequestId></Error>",
        );
        assert!(
            message.contains(
                "bucket `genesys-exports` is in region `eu-west-1`, not `us-east-1`: pass `--s3-region eu-west-1` (or set AWS_REGION=eu-west-1)"
            ),
            "{message}"
        );
        // Regions opened since 2019 answer 400 IllegalLocationConstraintException.
        let message = listing_message(
            "Server returned non-2xx status code: 400 Bad Request: <Error><Code>IllegalLocationConstraintException</Code>\
             <Message>The af-south-1 location constraint is incompatible for the region specific endpoint this request was sent to.</Message></Error>",
        );
        assert!(message.contains("`--s3-region af-south-1`"), "{message}");
    }

    #[test]
    fn a_bare_redirect_without_a_region_says_how_to_find_it() {
        let message = listing_message(
            "Error performing GET https://s3.us-east-1.amazonaws.com/genesys-exports?list-type=2 in 30ms - \
             Received redirect without LOCATION, this normally indicates an incorrectly configured region",
        );
        assert!(
            message.contains("`aws s3api get-bucket-location --bucket genesys-exports`"),
            "{message}"
        );
    }

    #[test]
    fn a_missing_bucket_says_what_to_check() {
        let message = listing_message(
            "Error performing GET http://127.0.0.1:9000/genesys-exports?list-type=2 in 3ms - Server returned \
             non-2xx status code: 404 Not Found: <Error><Code>NoSuchBucket</Code><Message>The specified bucket \
             does not exist</Message></Error>",
        );
        assert!(
            message.contains("bucket `genesys-exports` does not exist")
                && message.contains("(asked at http://127.0.0.1:9000)")
                && message.contains("--s3-endpoint")
                && message.contains("--s3-region")
                && message.contains("nothing was imported from it"),
            "{message}"
        );
    }

    #[test]
    fn throttling_past_the_retries_says_to_import_again_later() {
        let message = listing_message(
            "Error performing GET http://127.0.0.1:9000/genesys-exports?list-type=2 in 2.1s, after 2 retries, \
             max_retries: 2, retry_timeout: 180s  - Server returned non-2xx status code: 503 Service Unavailable: \
             <Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
        );
        assert!(
            message.contains(
                "S3 throttled the listing of bucket `genesys-exports` (S3 answered 503 SlowDown: Please reduce your request rate.) after 2 retries with backoff"
            ) && message.contains("import again later"),
            "{message}"
        );
    }

    #[test]
    fn refused_credentials_are_not_called_a_missing_permission() {
        let message = listing_message(
            "Server returned non-2xx status code: 403 Forbidden: <Error><Code>InvalidAccessKeyId</Code>\
             <Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>",
        );
        assert!(message.contains("S3 refused the credentials"), "{message}");
        assert!(!message.contains("s3:ListBucket"), "{message}");
        let message = listing_message(
            "Server returned non-2xx status code: 403 Forbidden: <Error><Code>AccessDenied</Code>\
             <Message>Access Denied</Message></Error>",
        );
        assert!(
            message
                .contains("the credentials need `s3:ListBucket` on `arn:aws:s3:::genesys-exports`"),
            "{message}"
        );
    }

    #[test]
    fn urls_lose_user_info_and_signatures() {
        let text = redact(
            "GET https://AKIAEXAMPLE:secret@s3.example.com/b?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=abc123 in 3ms",
        );
        assert_eq!(
            text,
            "GET https://s3.example.com/b?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED in 3ms"
        );
    }

    #[test]
    fn error_documents_lose_what_quotes_the_credentials() {
        let text = redact(
            "403 Forbidden: <Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we \
             calculated does not match</Message><AWSAccessKeyId>ASIAEXAMPLE</AWSAccessKeyId>\
             <StringToSign>AWS4-HMAC-SHA256</StringToSign><SignatureProvided>abc</SignatureProvided>\
             <CanonicalRequest>GET\n/b\nx-amz-security-token:SESSION-TOKEN\n</CanonicalRequest></Error>",
        );
        for quoted in ["ASIAEXAMPLE", "abc<", "SESSION-TOKEN", "AWS4-HMAC"] {
            assert!(!text.contains(quoted), "{text}");
        }
        assert!(
            text.contains("<Code>SignatureDoesNotMatch</Code>"),
            "{text}"
        );
        assert!(
            text.contains("<CanonicalRequest>REDACTED</CanonicalRequest>"),
            "{text}"
        );
    }

    #[test]
    fn endpoints_name_their_region() {
        let region = |e: &str| region_of_endpoint(e);
        assert_eq!(
            region("b.s3.eu-west-1.amazonaws.com").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region("b.s3-ap-northeast-1.amazonaws.com").as_deref(),
            Some("ap-northeast-1")
        );
        assert_eq!(region("b.s3.amazonaws.com").as_deref(), Some("us-east-1"));
        assert_eq!(
            region("b.s3.dualstack.eu-west-2.amazonaws.com").as_deref(),
            Some("eu-west-2")
        );
        assert_eq!(region("s3.example.com"), None);
    }

    #[test]
    fn attempts_come_from_aws_max_attempts() {
        assert_eq!(retry_config(None).unwrap().max_retries, 10);
        assert_eq!(retry_config(Some("3")).unwrap().max_retries, 2);
        assert_eq!(retry_config(Some("1")).unwrap().max_retries, 0);
        assert!(retry_config(Some("0")).is_err());
        assert!(retry_config(Some("many")).is_err());
    }
}
