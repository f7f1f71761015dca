//! One HTTP client for a night's notifications: a per-attempt timeout, retries with
//! exponential backoff on what retrying can cure, and error texts that never hold a URL.
//!
//! Retried: no connection, a timeout, a dropped answer, HTTP 408, 429 and 5xx. Not retried: a
//! 3xx (redirects are not followed: a webhook URL is final, and following one would move the
//! token-bearing request elsewhere), other 4xx (a revoked or mistyped URL stays so), a URL
//! that does not parse. `Retry-After` is not honoured, so a hanging or throttling receiver
//! costs at most `(retries + 1) × timeout` plus the backoff (`backoff, 2 × backoff, ...`).

use std::time::Duration;

use super::NotifySettings;
use crate::secret::Secret;

/// What one attempt's failure means for the next one.
struct Failed {
    retry: bool,
    why: String,
}

/// A request body: JSON (webhooks) or plain text (dead-man's pings).
pub(crate) enum Body {
    Json(serde_json::Value),
    Text(String),
}

pub(crate) struct Http {
    client: reqwest::Client,
    timeout: Duration,
    retries: u32,
    backoff: Duration,
}

impl Http {
    pub(crate) fn new(settings: &NotifySettings) -> Result<Http, String> {
        let timeout = Duration::from_secs(settings.timeout_seconds.max(1));
        let client = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("recaudit/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", chain(&e.without_url())))?;
        Ok(Http {
            client,
            timeout,
            retries: settings.retries,
            backoff: Duration::from_millis(settings.backoff_millis),
        })
    }

    /// POSTs `body` to `url` until it is accepted (any 2xx), a failure is final, or the
    /// retries are spent; returns the attempts made and the last failure.
    pub(crate) async fn post(&self, url: &Secret, body: &Body) -> (u32, Result<(), String>) {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.once(url, body).await {
                Ok(()) => return (attempt, Ok(())),
                Err(failed) if !failed.retry || attempt > self.retries => {
                    return (attempt, Err(scrub(&failed.why, url)));
                }
                Err(failed) => {
                    tracing::debug!(
                        receiver = %redact(url),
                        attempt,
                        "notification attempt failed, retrying: {}",
                        scrub(&failed.why, url)
                    );
                    let factor = 2u32.saturating_pow(attempt - 1);
                    tokio::time::sleep(self.backoff.saturating_mul(factor)).await;
                }
            }
        }
    }

    async fn once(&self, url: &Secret, body: &Body) -> Result<(), Failed> {
        let parsed = reqwest::Url::parse(url.expose()).map_err(|_| Failed {
            retry: false,
            why: "the configured value is not a URL".into(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Failed {
                retry: false,
                why: format!("unsupported URL scheme `{}`", parsed.scheme()),
            });
        }
        let request = match body {
            Body::Json(value) => self.client.post(parsed).json(value),
            Body::Text(text) => self
                .client
                .post(parsed)
                .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(text.clone()),
        };
        // reqwest's timeout covers connect to the end of the body; this one also bounds
        // anything it does not (name resolution on a stuck resolver).
        let answer = tokio::time::timeout(self.timeout + Duration::from_secs(1), async {
            let response = request.send().await?;
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            Ok::<_, reqwest::Error>((status, text))
        })
        .await;
        let (status, text) = match answer {
            Err(_) => return Err(self.timed_out()),
            Ok(Err(e)) if e.is_timeout() => return Err(self.timed_out()),
            Ok(Err(e)) => {
                return Err(Failed {
                    retry: !e.is_builder(),
                    why: chain(&e.without_url()),
                });
            }
            Ok(Ok(answer)) => answer,
        };
        if status.is_success() {
            return Ok(());
        }
        let snippet: String = text.trim().chars().take(200).collect();
        Err(Failed {
            retry: status.is_server_error()
                || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                || status == reqwest::StatusCode::REQUEST_TIMEOUT,
            why: if snippet.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {snippet}")
            },
        })
    }

    fn timed_out(&self) -> Failed {
        Failed {
            retry: true,
            why: format!("no answer within {} s", self.timeout.as_secs()),
        }
    }
}

/// An error and its sources, `a: b: c`.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let more = inner.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = inner.source();
    }
    text
}

/// A URL as logs may show it: scheme, host and port only (`https://hooks.slack.com`); the
/// path and query, where Slack, Teams and healthchecks.io keep the token, never.
pub(crate) fn redact(url: &Secret) -> String {
    match reqwest::Url::parse(url.expose()) {
        Ok(parsed) => match (parsed.host_str(), parsed.port()) {
            (Some(host), Some(port)) => format!("{}://{host}:{port}", parsed.scheme()),
            (Some(host), None) => format!("{}://{host}", parsed.scheme()),
            (None, _) => format!("{}:", parsed.scheme()),
        },
        Err(_) => "<not a URL>".into(),
    }
}

/// `text` with the URL, should anything have quoted it, replaced by its redacted form.
pub(crate) fn scrub(text: &str, url: &Secret) -> String {
    let secret = url.expose().trim_end_matches('/');
    if secret.is_empty() {
        text.to_string()
    } else {
        text.replace(secret, &redact(url))
    }
}
