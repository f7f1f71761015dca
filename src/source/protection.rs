//! Deletion protection (legal hold) of conversations' recordings, asked of the platform.
//!
//! `POST /api/v2/recordings/deletionprotection` (SDK `post_recordings_deletionprotection`, "Get
//! a list of conversations with protected recordings"): the body is a
//! `ConversationDeletionProtectionQuery` `{conversationIds: [..]}` ("The list cannot exceed 100
//! conversationids"), the answer a `list[AddressableEntityRef]`, the protected ones among those
//! asked. No recording field says protection (docs/RULES.md, "Report particulars"), so this
//! is the only way to learn it. The request is read-only although its verb is POST, so it is
//! sent again after a timeout or a 502/503/504, as the pull's reads are.
//!
//! Requests go through the pull's client ([`super::genesys`]): OAuth client credentials,
//! pacing, retries on 429 and 5xx and timeouts, the [`super::genesys::Stop`] and the request
//! budget of the [`PullConfig`]. Every answer is kept as received (bytes and SHA-256), with
//! the ids it answers for, so a report can cite it.

use reqwest::Method;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::genesys::{Client, PullConfig};
use super::model::EntityRef;
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// The endpoint's path.
pub const DELETION_PROTECTION_PATH: &str = "/api/v2/recordings/deletionprotection";

/// Conversation ids per request at most (`ConversationDeletionProtectionQuery.conversationIds`:
/// "The list cannot exceed 100 conversationids").
pub const DELETION_PROTECTION_BATCH: usize = 100;

/// What a 403 from the endpoint means for the operator. The SDK's generated documentation
/// (269.0.0, `RecordingApi.md`) says the POST "Requires NO permissions" and names permissions
/// only for the PUT that applies or revokes protection (`recording:deletionProtection:apply`,
/// `recording:deletionProtection:revoke`); the permission a 403 wants is therefore not
/// documented, and is not guessed here.
pub(crate) const PERMISSION_HINT: &str = "the OAuth client lacks the permission to view recording deletion protection: give its role the permission the platform names in this message (the SDK documents none for this request; applying and revoking protection are recording:deletionProtection:apply and recording:deletionProtection:revoke) and access to the conversations' divisions";

/// One request's answer: the ids asked (sorted, at most [`DELETION_PROTECTION_BATCH`]), the
/// protected ones among them, and the answer's bytes exactly as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectionAnswer {
    /// The request's path ([`DELETION_PROTECTION_PATH`]); `asked` tells requests apart.
    pub request_path: String,
    /// The request's body as sent (`{"conversationIds":[..]}`, compact JSON).
    pub request_body: Vec<u8>,
    /// When the answer arrived (this host's clock).
    pub received: Timestamp,
    /// The answer's bytes exactly as received.
    pub body: Vec<u8>,
    /// SHA-256 of `body`, lower-case hex.
    pub sha256: String,
    /// The answer's `ININ-Correlation-Id`, when it had one.
    pub correlation_id: Option<String>,
    /// The conversation ids this request asked about, sorted.
    pub asked: Vec<String>,
    /// The asked conversations the platform says have protected recordings, sorted, each once.
    /// An id in the answer that was not asked is left out (and logged).
    pub protected: Vec<String>,
}

/// Asks which of `conversation_ids` have protected recordings: the ids sorted and deduplicated,
/// then one request per [`DELETION_PROTECTION_BATCH`] of them, in order, each answer returned
/// as received. An empty list sends nothing.
///
/// Errors are the pull's ([`Error::OAuthRefused`], [`Error::RateLimited`],
/// [`Error::RequestBudget`], [`Error::Interrupted`], [`Error::Http`], ...); a 403 is an
/// [`Error::Api`] whose message says which permission the OAuth client lacks; an answer that
/// is not a list of `AddressableEntityRef` is an [`Error::Api`] with its status (200).
pub async fn deletion_protection(
    config: &PullConfig,
    conversation_ids: &[String],
) -> Result<Vec<ProtectionAnswer>> {
    let mut ids = conversation_ids.to_vec();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let client = Client::new(config.clone())?;
    let mut answers = Vec::with_capacity(ids.len().div_ceil(DELETION_PROTECTION_BATCH));
    for chunk in ids.chunks(DELETION_PROTECTION_BATCH) {
        answers.push(ask(&client, chunk).await?);
    }
    Ok(answers)
}

async fn ask(client: &Client, asked: &[String]) -> Result<ProtectionAnswer> {
    let query = json!({ "conversationIds": asked });
    tracing::debug!(ids = ?asked, "asking for deletion protection");
    let received = client
        .call(Method::POST, DELETION_PROTECTION_PATH, Some(&query))
        .await
        .map_err(forbidden_names_permission)?;
    let at = Timestamp::now();
    let refs: Vec<EntityRef> = serde_json::from_slice(&received.body).map_err(|e| Error::Api {
        method: Method::POST.to_string(),
        path: DELETION_PROTECTION_PATH.to_string(),
        status: 200,
        message: format!("the answer is not a list of AddressableEntityRef ({e})"),
        correlation_id: received
            .correlation_id
            .clone()
            .unwrap_or_else(|| "none".to_string()),
    })?;
    let mut protected = Vec::with_capacity(refs.len());
    let mut unasked = 0usize;
    for entity in refs {
        if asked.binary_search(&entity.id).is_ok() {
            protected.push(entity.id);
        } else {
            tracing::debug!(id = %entity.id, "deletion protection answered for a conversation not asked");
            unasked += 1;
        }
    }
    if unasked > 0 {
        tracing::warn!(
            unasked,
            "the deletion protection answer names conversations that were not asked; they are ignored"
        );
    }
    protected.sort();
    protected.dedup();
    let sha256 = hex::encode(Sha256::digest(&received.body));
    Ok(ProtectionAnswer {
        request_path: received.source,
        request_body: serde_json::to_vec(&query).unwrap_or_default(),
        received: at,
        body: received.body,
        sha256,
        correlation_id: received.correlation_id,
        asked: asked.to_vec(),
        protected,
    })
}

/// A 403 says what the OAuth client needs; other errors pass unchanged.
fn forbidden_names_permission(error: Error) -> Error {
    match error {
        Error::Api {
            method,
            path,
            status: 403,
            message,
            correlation_id,
        } => Error::Api {
            method,
            path,
            status: 403,
            message: format!("{message}; {PERMISSION_HINT}"),
            correlation_id,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_403_names_the_permission_and_others_pass_unchanged() {
        let forbidden = forbidden_names_permission(Error::Api {
            method: "POST".to_string(),
            path: DELETION_PROTECTION_PATH.to_string(),
            status: 403,
            message: "You are not authorized to perform the requested action.".to_string(),
            correlation_id: "c".to_string(),
        })
        .to_string();
        assert!(forbidden.contains("HTTP 403"), "{forbidden}");
        assert!(
            forbidden.contains("the permission to view recording deletion protection"),
            "{forbidden}"
        );
        let other = forbidden_names_permission(Error::Api {
            method: "POST".to_string(),
            path: DELETION_PROTECTION_PATH.to_string(),
            status: 400,
            message: "bad".to_string(),
            correlation_id: "c".to_string(),
        })
        .to_string();
        assert!(!other.contains("permission"), "{other}");
    }
}
