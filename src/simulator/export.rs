//! The synthetic org's S3 bulk export tree written into a bucket (`recaudit sim export --out
//! s3://BUCKET/PREFIX`; cargo feature `s3`): the same files as [`Org::write_export`] writes into
//! a folder ([`Org::export_files`]), each the object `PREFIX/` + its relative path.

use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::Org;
use crate::error::{Error, Result};
use crate::source::s3::S3Url;

/// Objects written at once. Each is small (a sidecar or the simulator's token audio), so the
/// time is the round trips; the files in flight are all that is held in memory.
pub const CONCURRENT_PUTS: usize = 16;

/// Writes `org`'s export tree under `url`'s prefix in `bucket`, [`CONCURRENT_PUTS`] objects at
/// a time, taking the files from [`Org::export_files`] as puts finish (so a night of any size
/// holds only the objects in flight). Returns the number of objects written. The bucket must
/// exist; the first put that fails stops the upload with its key and the service's reason.
pub async fn upload_export(org: &Org, bucket: Arc<dyn ObjectStore>, url: &S3Url) -> Result<usize> {
    futures_util::stream::iter(org.export_files())
        .map(|(path, bytes)| {
            let bucket = Arc::clone(&bucket);
            let key = if url.prefix.is_empty() {
                path
            } else {
                format!("{}/{path}", url.prefix)
            };
            async move {
                let location = ObjectPath::from(key.as_str());
                bucket
                    .put(&location, PutPayload::from(bytes))
                    .await
                    .map(|_| 1)
                    .map_err(|e| put_error(url, &key, &e))
            }
        })
        .buffer_unordered(CONCURRENT_PUTS)
        .try_fold(0, |written, one| async move { Ok(written + one) })
        .await
}

/// Why writing the object `key` failed, saying what to check.
fn put_error(url: &S3Url, key: &str, e: &object_store::Error) -> Error {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    let message = if text.contains("NoSuchBucket")
        || matches!(e, object_store::Error::NotFound { .. })
    {
        format!(
            "bucket `{}` does not exist (or not in this region or at this endpoint): create it first",
            url.bucket
        )
    } else if text.contains("AccessDenied")
        || matches!(
            e,
            object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
        )
    {
        format!("access denied writing `{key}`: the credentials need `s3:PutObject` ({text})")
    } else {
        format!("cannot write `{key}`: {text}")
    };
    Error::S3 {
        url: url.to_string(),
        message,
    }
}
