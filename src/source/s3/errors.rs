//! What a failed S3 call means for the user: which permission, which bucket, what to do next.
//! Built from the bucket, the key and the service's error text, never from a request's
//! headers, so no credential or signature reaches a message.

use super::S3Url;
use crate::error::Error;

/// The error of a listing that failed, saying what to check.
pub(super) fn listing_error(url: &S3Url, e: &object_store::Error) -> Error {
    let text = describe(e);
    let message = if text.contains("NoSuchBucket")
        || matches!(e, object_store::Error::NotFound { .. })
    {
        format!(
            "bucket `{}` does not exist (or not in this region or at this endpoint)",
            url.bucket
        )
    } else if matches!(
        e,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    ) || text.contains("AccessDenied")
    {
        format!(
            "access denied listing bucket `{}`: the credentials need `s3:ListBucket` on it ({text})",
            url.bucket
        )
    } else {
        format!("cannot list the objects: {text}")
    };
    Error::S3 {
        url: url.to_string(),
        message,
    }
}

/// Why one object could not be read.
pub(super) fn read_error(e: &object_store::Error) -> String {
    match e {
        object_store::Error::NotFound { .. } => {
            "the object was listed but is gone (deleted between the listing and the read); import again".to_string()
        }
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => {
            format!("access denied reading the object: the credentials need `s3:GetObject` ({})", describe(e))
        }
        _ => format!("cannot read the object: {}", describe(e)),
    }
}

/// An object_store error's text with its causes. object_store's errors name the store, the
/// path and the service's answer; the request's signature and credentials are in headers,
/// never in these texts.
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
    text
}
