//! Telling people and machines how the nightly job went: webhooks (plain JSON, Slack,
//! Microsoft Teams), e-mail, a dead-man's switch, and a Prometheus textfile.
//!
//! A layer-7 module (docs/ARCHITECTURE.md, "Dependency rule"): it knows nothing of the store,
//! the audit or the ledger. The nightly job (`recaudit run`) fills a [`RunSummary`] from what
//! it sealed and calls, in this order:
//!
//! 1. [`ping_start`] when it begins (the dead-man's switch learns a run started);
//! 2. [`notify`] when it ends: every webhook (and the e-mail) whose `on` list holds one of the
//!    outcome's triggers gets the summary, all at once;
//! 3. [`ping_finish`]: success, or failure with the exit status;
//! 4. [`write_metrics`] with [`Metrics::from`] the summary, for node_exporter's textfile
//!    collector.
//!
//! **Notifying never fails the job.** A receiver that refuses, errs or hangs is retried
//! (`retries`, exponential backoff from `backoff_millis`), each attempt bounded by
//! `timeout_seconds`; then it is logged (tracing `warn`) and listed as failed in the returned
//! [`Delivery`]. None of these functions returns an error or panics; [`write_metrics`] returns
//! a `Result` because a file the monitoring relies on is the job's to report.
//!
//! **Webhook URLs are secrets.** Slack, Teams and healthchecks.io put the credential in the
//! URL, so a URL comes only from an environment variable (`url_env`) or a 0600 file
//! (`url_file`, read with [`crate::secret::read_private_file`]), never from the settings file,
//! which is meant to be shown and versioned; there is no `url` key. A resolved URL is a
//! [`Secret`]; logs and [`Delivery`] name a receiver by its scheme and host only
//! (`webhooks[0] slack https://hooks.slack.com`). The SMTP password follows the same rule.
//!
//! **Every notification carries the signed checkpoint verbatim** (JSON field
//! `checkpoint.note`, a preformatted block in Slack and Teams, the end of the e-mail, the
//! body of the dead-man's finish ping), so copies of the ledger's head live outside the
//! database and a truncated log is caught by whoever kept one (docs/LEDGER.md).
//!
//! docs/NOTIFY.md shows the `[notify]` section, the three body shapes and the metric names,
//! with the documents they follow.

mod body;
#[cfg(feature = "email")]
mod email;
mod metrics;
mod send;
mod summary;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use body::SUMMARY_SCHEMA;
pub use metrics::{Metrics, write_metrics};
pub use summary::{Checkpoint, Outcome, RunSummary};

use crate::secret::Secret;
use send::{Body, Http};

/// The `[notify]` section of the settings file. The default notifies nobody.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySettings {
    /// `[[notify.webhooks]]`: HTTP receivers of the summary.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<Webhook>,
    /// `[notify.deadman]`: a healthchecks.io-style dead-man's switch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadman: Option<Deadman>,
    /// `[notify.email]`: SMTP (the cargo feature `email`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// A `.prom` file in node_exporter's `--collector.textfile.directory`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_file: Option<PathBuf>,
    /// Bound of each attempt (connect to the end of the answer), seconds; default 10.
    pub timeout_seconds: u64,
    /// Attempts after the first, on what retrying can cure; default 3.
    pub retries: u32,
    /// The first wait between attempts, doubled each time; default 1000 (1 s, 2 s, 4 s).
    pub backoff_millis: u64,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            webhooks: Vec::new(),
            deadman: None,
            email: None,
            metrics_file: None,
            timeout_seconds: 10,
            retries: 3,
            backoff_millis: 1000,
        }
    }
}

/// The body a webhook is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// The [`RunSummary`] as JSON, with `"schema": "recaudit.run-summary/1"`.
    Json,
    /// A Slack incoming webhook: `{"text": ..., "blocks": [...]}`.
    Slack,
    /// A Microsoft Teams incoming webhook or Workflows trigger: a message with an Adaptive Card.
    Teams,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Slack => "slack",
            Format::Teams => "teams",
        }
    }
}

/// What makes a receiver hear of a run (an outcome fires one or more; see [`Outcome`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// A sealed run with exceptions (also fired below the threshold).
    Exceptions,
    /// Nothing sealed: the run failed or the evidence does not cover the window.
    Failure,
    /// Completeness under the threshold.
    BelowThreshold,
    /// A clean run.
    Success,
}

fn default_on() -> Vec<Trigger> {
    vec![
        Trigger::Exceptions,
        Trigger::Failure,
        Trigger::BelowThreshold,
    ]
}

/// `[[notify.webhooks]]`: one HTTP receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub format: Format,
    /// The environment variable holding the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_env: Option<String>,
    /// A file (mode 0600) holding the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
    /// Default: `["exceptions", "failure", "below-threshold"]`.
    #[serde(default = "default_on")]
    pub on: Vec<Trigger>,
}

/// `[notify.deadman]`: a ping URL (healthchecks.io, or anything following its convention).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadman {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which is required (default port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, default port 465).
    Tls,
    /// No encryption (default port 25): only for a relay on the same host; no password.
    None,
}

/// `[notify.email]`: one message per run to `to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Email {
    pub server: String,
    /// Default: 587, 465 or 25 by `security`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: SmtpSecurity,
    pub from: String,
    pub to: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    #[serde(default = "default_on")]
    pub on: Vec<Trigger>,
}

impl Email {
    fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        })
    }
}

/// What became of one receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// The receiver, without its secret: `webhooks[0] slack https://hooks.slack.com`.
    pub receiver: String,
    /// Requests sent (0 when its URL or password could not be read).
    pub attempts: u32,
    /// Why it was not delivered; `None` when it was.
    pub error: Option<String>,
}

impl std::fmt::Display for Receipt {
    /// `webhooks[1] teams https://x.example failed after 4 attempts: HTTP 500 ...`, or
    /// `... delivered`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.error {
            Some(error) => write!(
                f,
                "{} failed after {} attempts: {error}",
                self.receiver, self.attempts
            ),
            None => write!(f, "{} delivered", self.receiver),
        }
    }
}

/// What [`notify`] did: one [`Receipt`] per receiver whose `on` matched, in settings order
/// (webhooks, then e-mail).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub receipts: Vec<Receipt>,
}

impl Delivery {
    pub fn delivered(&self) -> impl Iterator<Item = &Receipt> {
        self.receipts.iter().filter(|r| r.error.is_none())
    }

    pub fn failed(&self) -> impl Iterator<Item = &Receipt> {
        self.receipts.iter().filter(|r| r.error.is_some())
    }
}

impl std::fmt::Display for Delivery {
    /// `delivered to 1 of 2 receivers; webhooks[1] teams https://x.example failed after 4
    /// attempts: HTTP 500 Internal Server Error`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "delivered to {} of {} receivers",
            self.delivered().count(),
            self.receipts.len()
        )?;
        for failed in self.failed() {
            write!(f, "; {failed}")?;
        }
        Ok(())
    }
}

fn matches(on: &[Trigger], outcome: Outcome) -> bool {
    outcome.triggers().iter().any(|t| on.contains(t))
}

/// A secret from exactly one of an environment variable and a 0600 file.
fn resolve(
    env: Option<&str>,
    file: Option<&std::path::Path>,
    what: &str,
) -> Result<Secret, String> {
    let value = match (env, file) {
        (Some(name), None) => crate::secret::from_env(name)
            .ok_or_else(|| format!("the environment variable {name} is not set"))?,
        (None, Some(path)) => Secret::new(
            crate::secret::read_private_file(path, what)
                .map_err(|e| e.to_string())?
                .trim()
                .to_string(),
        ),
        _ => return Err("set exactly one of url_env and url_file".into()),
    };
    if value.expose().is_empty() {
        return Err(format!("the {what} is empty"));
    }
    Ok(value)
}

impl NotifySettings {
    /// Checks the section without reading any secret; messages name the key
    /// (`[notify] webhooks[1]: ...`).
    pub fn validate(&self) -> Result<(), String> {
        let exactly_one = |env: &Option<String>, file: &Option<PathBuf>, key: &str, noun: &str| {
            match (env, file) {
                (Some(_), Some(_)) | (None, None) => Err(format!(
                    "[notify] {key}: set exactly one of {noun}_env (an environment variable) and {noun}_file (a 0600 file); it is a secret, so it is never written in the settings file"
                )),
                (Some(name), None) if name.trim().is_empty() => {
                    Err(format!("[notify] {key}: {noun}_env is empty"))
                }
                _ => Ok(()),
            }
        };
        if self.timeout_seconds == 0 {
            return Err("[notify] timeout_seconds must be at least 1".into());
        }
        if self.retries > 10 {
            return Err("[notify] retries: at most 10".into());
        }
        for (i, hook) in self.webhooks.iter().enumerate() {
            let key = format!("webhooks[{i}]");
            exactly_one(&hook.url_env, &hook.url_file, &key, "url")?;
            if hook.on.is_empty() {
                return Err(format!(
                    "[notify] {key}: `on` is empty, so it would never be sent; remove the webhook instead"
                ));
            }
        }
        if let Some(deadman) = &self.deadman {
            exactly_one(&deadman.url_env, &deadman.url_file, "deadman", "url")?;
        }
        if let Some(email) = &self.email {
            validate_email(email)?;
        }
        if let Some(path) = &self.metrics_file
            && path.extension().is_none_or(|e| e != "prom")
        {
            return Err(format!(
                "[notify] metrics_file: {} must end in .prom (node_exporter's textfile collector reads only *.prom)",
                path.display()
            ));
        }
        Ok(())
    }
}

fn validate_email(email: &Email) -> Result<(), String> {
    if !cfg!(feature = "email") {
        return Err("[notify] email: this build of recaudit has no e-mail support (build it with `--features email`), or remove [notify.email]".into());
    }
    if email.server.trim().is_empty() {
        return Err("[notify] email: server is empty".into());
    }
    if email.to.is_empty() {
        return Err("[notify] email: `to` is empty; list at least one address".into());
    }
    if email.on.is_empty() {
        return Err("[notify] email: `on` is empty, so it would never be sent".into());
    }
    let password = email.password_env.is_some() || email.password_file.is_some();
    if email.password_env.is_some() && email.password_file.is_some() {
        return Err("[notify] email: set at most one of password_env and password_file".into());
    }
    if password != email.username.is_some() {
        return Err(
            "[notify] email: username and a password (password_env or password_file) go together"
                .into(),
        );
    }
    if password && email.security == SmtpSecurity::None {
        return Err("[notify] email: security = \"none\" would send the password unencrypted; use \"starttls\" or \"tls\"".into());
    }
    #[cfg(feature = "email")]
    email::check_addresses(email)?;
    Ok(())
}

/// Sends `summary` to every receiver whose `on` matches its outcome, concurrently; logs and
/// lists the ones that failed. Never an error: the job's outcome is the summary's, not this.
pub async fn notify(settings: &NotifySettings, summary: &RunSummary) -> Delivery {
    let http = Http::new(settings);
    let mut sends: Vec<std::pin::Pin<Box<dyn Future<Output = Receipt> + Send + '_>>> = Vec::new();
    for (i, hook) in settings.webhooks.iter().enumerate() {
        if matches(&hook.on, summary.outcome) {
            let http = http.as_ref();
            sends.push(Box::pin(async move {
                let label = format!("webhooks[{i}] {}", hook.format.name());
                let url = resolve(
                    hook.url_env.as_deref(),
                    hook.url_file.as_deref(),
                    "webhook URL file",
                );
                let body = Body::Json(body::body(hook.format, summary));
                deliver(http, label, url, body).await
            }));
        }
    }
    if let Some(email) = &settings.email
        && matches(&email.on, summary.outcome)
    {
        sends.push(Box::pin(send_email(settings, email, summary)));
    }
    let receipts = futures_util::future::join_all(sends).await;
    let delivery = Delivery { receipts };
    for receipt in delivery.failed() {
        tracing::warn!(
            receiver = %receipt.receiver,
            attempts = receipt.attempts,
            "notification not delivered: {}",
            receipt.error.as_deref().unwrap_or_default()
        );
    }
    for receipt in delivery.delivered() {
        tracing::info!(receiver = %receipt.receiver, attempts = receipt.attempts, "notification delivered");
    }
    delivery
}

async fn deliver(
    http: Result<&Http, &String>,
    label: String,
    url: Result<Secret, String>,
    body: Body,
) -> Receipt {
    let url = match url {
        Ok(url) => url,
        Err(why) => {
            return Receipt {
                receiver: label,
                attempts: 0,
                error: Some(why),
            };
        }
    };
    let receiver = format!("{label} {}", send::redact(&url));
    let (attempts, result) = match http {
        Ok(http) => http.post(&url, &body).await,
        Err(why) => (0, Err(why.clone())),
    };
    Receipt {
        receiver,
        attempts,
        error: result.err(),
    }
}

#[cfg(feature = "email")]
async fn send_email(settings: &NotifySettings, email: &Email, summary: &RunSummary) -> Receipt {
    email::send(settings, email, summary).await
}

#[cfg(not(feature = "email"))]
async fn send_email(_: &NotifySettings, email: &Email, _: &RunSummary) -> Receipt {
    Receipt {
        receiver: format!("email {}:{}", email.server, email.port()),
        attempts: 0,
        error: Some("this build of recaudit has no e-mail support (cargo feature `email`)".into()),
    }
}

/// Which ping of the dead-man's switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ping {
    Start,
    Success,
    Failed(u8),
}

/// Tells the dead-man's switch a run started (`<url>/start`); `None` without `[notify.deadman]`.
pub async fn ping_start(settings: &NotifySettings) -> Option<Receipt> {
    ping(settings, Ping::Start, String::new()).await
}

/// Tells the dead-man's switch how the run ended: `<url>` when it sealed (exceptions included:
/// the switch watches the job, the webhooks the data), `<url>/<exit status>` when it failed
/// (`<url>/fail` if the status is 0). The body is the summary as text, checkpoint included
/// (healthchecks.io logs the first 100 kB of a POST's body,
/// <https://healthchecks.io/docs/attaching_logs/>; failure suffixes:
/// <https://healthchecks.io/docs/signaling_failures/>). `None` without a dead-man.
pub async fn ping_finish(settings: &NotifySettings, summary: &RunSummary) -> Option<Receipt> {
    let which = if summary.outcome.is_failure() {
        Ping::Failed(summary.exit_status)
    } else {
        Ping::Success
    };
    ping(settings, which, summary.text()).await
}

async fn ping(settings: &NotifySettings, which: Ping, text: String) -> Option<Receipt> {
    let deadman = settings.deadman.as_ref()?;
    let http = Http::new(settings);
    let url = resolve(
        deadman.url_env.as_deref(),
        deadman.url_file.as_deref(),
        "dead-man URL file",
    )
    .map(|base| {
        let base = base.expose().trim_end_matches('/');
        Secret::new(match which {
            Ping::Start => format!("{base}/start"),
            Ping::Success => base.to_string(),
            Ping::Failed(0) => format!("{base}/fail"),
            Ping::Failed(status) => format!("{base}/{status}"),
        })
    });
    let label = match which {
        Ping::Start => "deadman start".to_string(),
        Ping::Success => "deadman success".to_string(),
        Ping::Failed(status) => format!("deadman fail (exit {status})"),
    };
    let receipt = deliver(http.as_ref(), label, url, Body::Text(text)).await;
    match &receipt.error {
        Some(why) => {
            tracing::warn!(receiver = %receipt.receiver, attempts = receipt.attempts, "dead-man's ping not delivered: {why}")
        }
        None => tracing::info!(receiver = %receipt.receiver, "dead-man's ping delivered"),
    }
    Some(receipt)
}
