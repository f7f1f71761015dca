//! `[notify.email]`: one plain-text message per run over SMTP, through lettre (tokio, rustls;
//! the cargo feature `email`).
//!
//! The body is [`RunSummary`]'s text rendering, checkpoint note last. lettre chooses its
//! transfer encoding: the note's signature line starts with U+2014 and is longer than the 76
//! characters lettre keeps unencoded, so in practice it is quoted-printable, which every mail
//! client decodes back to the note's exact bytes.
//! Retried like the webhooks: a timeout or a transient (4xx) SMTP answer; a permanent (5xx)
//! one is final.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::summary::RunSummary;
use super::{Email, NotifySettings, Receipt, SmtpSecurity};

fn mailbox(text: &str, key: &str) -> Result<Mailbox, String> {
    text.parse::<Mailbox>()
        .map_err(|e| format!("[notify] email: {key} `{text}` is not an address: {e}"))
}

/// The addresses parse (validation, before any run).
pub(crate) fn check_addresses(email: &Email) -> Result<(), String> {
    mailbox(&email.from, "from")?;
    for (i, to) in email.to.iter().enumerate() {
        mailbox(to, &format!("to[{i}]"))?;
    }
    Ok(())
}

/// The message for `summary`.
pub(crate) fn message(email: &Email, summary: &RunSummary) -> Result<Message, String> {
    let mut builder = Message::builder()
        .from(mailbox(&email.from, "from")?)
        .subject(summary.title())
        .header(ContentType::TEXT_PLAIN);
    for (i, to) in email.to.iter().enumerate() {
        builder = builder.to(mailbox(to, &format!("to[{i}]"))?);
    }
    builder
        .body(Body::new(summary.text()))
        .map_err(|e| format!("cannot build the message: {e}"))
}

fn transport(
    email: &Email,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let builder = match email.security {
        SmtpSecurity::Starttls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&email.server)
        }
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&email.server),
        SmtpSecurity::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            email.server.as_str(),
        )),
    }
    .map_err(|e| format!("cannot set up SMTP to {}: {e}", email.server))?;
    let mut builder = builder.port(email.port()).timeout(Some(timeout));
    if let Some(username) = &email.username {
        let password = super::resolve(
            email.password_env.as_deref(),
            email.password_file.as_deref(),
            "SMTP password file",
        )?;
        builder = builder.credentials(Credentials::new(
            username.clone(),
            password.expose().to_string(),
        ));
    }
    Ok(builder.build())
}

/// Sends the run's message, with the webhooks' retries and backoff.
pub(crate) async fn send(
    settings: &NotifySettings,
    email: &Email,
    summary: &RunSummary,
) -> Receipt {
    let receiver = format!(
        "email {}:{} ({} recipients)",
        email.server,
        email.port(),
        email.to.len()
    );
    let timeout = Duration::from_secs(settings.timeout_seconds.max(1));
    let prepared = message(email, summary).and_then(|m| Ok((m, transport(email, timeout)?)));
    let (message, transport) = match prepared {
        Ok(prepared) => prepared,
        Err(why) => {
            return Receipt {
                receiver,
                attempts: 0,
                error: Some(why),
            };
        }
    };
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let sent = tokio::time::timeout(timeout * 3, transport.send(message.clone())).await;
        let (retry, why) = match sent {
            Ok(Ok(_)) => {
                return Receipt {
                    receiver,
                    attempts,
                    error: None,
                };
            }
            Ok(Err(e)) => (!e.is_permanent(), e.to_string()),
            Err(_) => (
                true,
                format!("no answer within {} s", timeout.as_secs() * 3),
            ),
        };
        if !retry || attempts > settings.retries {
            return Receipt {
                receiver,
                attempts,
                error: Some(why),
            };
        }
        let factor = 2u32.saturating_pow(attempts - 1);
        tokio::time::sleep(Duration::from_millis(settings.backoff_millis).saturating_mul(factor))
            .await;
    }
}
