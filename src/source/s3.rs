//! `recaudit import s3://BUCKET/PREFIX`: the bulk recording export read where Genesys Cloud
//! writes it, an S3 bucket (cargo feature `s3`, through the Apache Arrow project's
//! `object_store` crate).
//!
//! The keys under the prefix are listed; each is taken as the file of the same relative path
//! in a local export tree is by [`super::import`], with the same functions: an object inside a
//! `conversation_id=` folder is a sidecar (read and parsed exactly as a local sidecar), a media
//! object, or ignored with the same reason a local file of that name would be. A media object is
//! never downloaded: its size, ETag and version come from the listing, and its input is of kind
//! `export-media-object`, whose `sha256` is [`object_identity`], the SHA-256 of what the listing
//! says of the object, not of its bytes. A key outside every `conversation_id=` folder is listed
//! as ignored: only the export tree is read from a bucket.
//!
//! Every input's source is the object's URL, `s3://BUCKET/KEY`, so that an object is never
//! mistaken for a local file of the same relative path. An object already stored with the same
//! source and SHA-256 is skipped, as a local file is: a media object whose key, size, ETag and
//! version are unchanged is not stored again. A sidecar's ETag is stored with it
//! (`EvidenceStore::known_objects`), so one listed again with the same key and ETag is not even
//! read; one whose ETag changed is read, and stored again only if its bytes did change.
//!
//! Credentials come from `object_store`'s AWS chain (environment variables, web identity,
//! ECS/EKS container credentials, instance metadata); endpoint, region and path-style addressing
//! from [`S3Settings`] or the standard `AWS_*` variables. No credential is ever logged, put in
//! an error or stored: errors are built from the bucket, the key and the service's error text.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Days, NaiveDate};
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};

use super::batch::InputKind;
use super::import::{
    ExportFile, FileRead, Hashed, ImportOutcome, ImportSettings, Importer, Rejected, Rejection,
    export_conversation_in, export_media, export_name_kind, parse_export_json,
};
use super::sink::EvidenceStore;
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// Sidecars read at once: each is a few kilobytes, so the time is the round trips.
const CONCURRENT_READS: usize = 16;

/// Where a bucket is and how to address it; what is not set comes from the standard `AWS_*`
/// environment variables (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_VIRTUAL_HOSTED_STYLE_REQUEST`,
/// ...). Holds no credential.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct S3Settings {
    /// The S3 API's URL, for an S3-compatible store (`http://127.0.0.1:9000`); an `http://`
    /// endpoint is allowed (AWS itself is always reached over HTTPS).
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// `https://BUCKET.endpoint/KEY` instead of the path style `https://endpoint/BUCKET/KEY`
    /// (object_store's default, which every S3-compatible server accepts).
    pub virtual_hosted: bool,
}

/// `s3://BUCKET/PREFIX`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    /// Without leading or trailing `/`; empty for the whole bucket.
    pub prefix: String,
}

impl S3Url {
    /// Whether a command-line argument names a bucket rather than a local path.
    pub fn is_s3(arg: &str) -> bool {
        arg.starts_with("s3://")
    }

    pub fn parse(url: &str) -> Result<S3Url> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            Error::Usage(format!("`{url}` is not an S3 URL (s3://BUCKET/PREFIX)"))
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // The rules of S3 bucket names: 3 to 63 lowercase letters, digits, `.` and `-`.
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !valid {
            return Err(Error::Usage(format!(
                "`{url}`: `{bucket}` is not an S3 bucket name (3 to 63 lowercase letters, digits, `.` and `-`)"
            )));
        }
        Ok(S3Url {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
        })
    }

    /// The URL of the object `key`: the source its input is stored under.
    fn object(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// The client of `url`'s bucket: credentials from the AWS chain, settings over the
/// environment's.
pub fn open_bucket(url: &S3Url, settings: &S3Settings) -> Result<AmazonS3> {
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(&url.bucket);
    if let Some(endpoint) = &settings.endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    if let Some(region) = &settings.region {
        builder = builder.with_region(region);
    }
    if settings.virtual_hosted {
        builder = builder.with_virtual_hosted_style_request(true);
    }
    builder.build().map_err(|e| Error::S3 {
        url: url.to_string(),
        message: format!("cannot set up the S3 client: {}", describe(&e)),
    })
}

/// The SHA-256 (hex) recorded for a media object that was not downloaded: of the text
/// `recaudit-s3-object v1\nsource {url}\nbytes {size}\netag {etag or none}\nversion {version or
/// none}\n`. It identifies what the listing said of the object (so an unchanged object is
/// skipped, a rewritten one stored again) and is never the hash of the media's bytes.
pub fn object_identity(
    source: &str,
    bytes: u64,
    e_tag: Option<&str>,
    version: Option<&str>,
) -> String {
    let text = format!(
        "recaudit-s3-object v1\nsource {source}\nbytes {bytes}\netag {}\nversion {}\n",
        e_tag.unwrap_or("none"),
        version.unwrap_or("none")
    );
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The export days an import lists: the days of a window, widened by a margin on both sides
/// for exports written into a neighbouring day's folder. Inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportDays {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl ExportDays {
    /// The days of [`from`, `to`) (UTC), `margin_days` more on either side.
    pub fn of_window(from: Timestamp, to: Timestamp, margin_days: u32) -> ExportDays {
        let day = |ts: Timestamp| {
            DateTime::from_timestamp_millis(ts.millis())
                .map_or(NaiveDate::MIN, |time| time.date_naive())
        };
        let margin = Days::new(u64::from(margin_days));
        let first = day(from);
        // `to` is excluded: a window ending at midnight does not reach into that day.
        let last = day(to.plus_millis(-1)).max(first);
        ExportDays {
            first: first.checked_sub_days(margin).unwrap_or(NaiveDate::MIN),
            last: last.checked_add_days(margin).unwrap_or(NaiveDate::MAX),
        }
    }

    /// Whether the folder `segment` (`year=2026`, `month=07`, `day=4`, ...), inside the date
    /// folders `above` (`(year, month)` so far), can hold a day of the range. `None`: not a
    /// date folder.
    fn admits(&self, segment: &str, above: (Option<i32>, Option<u32>)) -> Option<bool> {
        let number = |key: &str| segment.strip_prefix(key).map(|n| n.parse::<u32>().ok());
        if let Some(year) = number("year=") {
            let year = year.and_then(|y| i32::try_from(y).ok());
            return Some(year.is_some_and(|y| (self.first.year()..=self.last.year()).contains(&y)));
        }
        if let Some(month) = number("month=") {
            let Some(year) = above.0 else {
                return Some(false);
            };
            return Some(month.is_some_and(|m| {
                (self.first.year(), self.first.month()) <= (year, m)
                    && (year, m) <= (self.last.year(), self.last.month())
            }));
        }
        if let Some(day) = number("day=") {
            let (Some(year), Some(month)) = above else {
                return Some(false);
            };
            return Some(
                day.and_then(|d| NaiveDate::from_ymd_opt(year, month, d))
                    .is_some_and(|date| self.first <= date && date <= self.last),
            );
        }
        None
    }
}

/// Folders above the date folders (`{org}/`, or a prefix of the user's) descended into to find
/// `year=`: a bucket laid out otherwise is not walked folder by folder for ever.
const FOLDERS_ABOVE_YEARS: usize = 4;

/// Lists the objects under `url`: all of them, or (`days`) only those in the date folders of
/// those days, found with delimiter listings so that no other day's keys are listed. Both the
/// padded and unpadded spellings (`month=07`, `month=7`) are read, as found.
async fn list_objects(
    bucket: &dyn ObjectStore,
    url: &S3Url,
    days: Option<ExportDays>,
) -> Result<Vec<ObjectMeta>> {
    let prefix = (!url.prefix.is_empty()).then(|| ObjectPath::from(url.prefix.as_str()));
    let Some(days) = days else {
        return bucket
            .list(prefix.as_ref())
            .try_collect()
            .await
            .map_err(|e| listing_error(url, &e));
    };
    // (folder, date folders above it, folders above the years).
    let mut pending = vec![(prefix, (None, None), 0usize)];
    let mut selected = Vec::new();
    while let Some((folder, above, depth)) = pending.pop() {
        let listing = bucket
            .list_with_delimiter(folder.as_ref())
            .await
            .map_err(|e| listing_error(url, &e))?;
        for child in listing.common_prefixes {
            let segment = child.filename().unwrap_or_default().to_string();
            let number = |key: &str| -> Option<u32> {
                segment.strip_prefix(key).and_then(|n| n.parse().ok())
            };
            match days.admits(&segment, above) {
                Some(false) => {}
                Some(true) if segment.starts_with("day=") => selected.push(child),
                Some(true) if segment.starts_with("year=") => {
                    let year = number("year=").and_then(|y| i32::try_from(y).ok());
                    pending.push((Some(child), (year, None), depth));
                }
                Some(true) => {
                    let month = number("month=");
                    pending.push((Some(child), (above.0, month), depth));
                }
                // A conversation folder outside any date folder is read whole.
                None if segment.starts_with("conversation_id=") => selected.push(child),
                None if above == (None, None) && depth < FOLDERS_ABOVE_YEARS => {
                    pending.push((Some(child), above, depth + 1));
                }
                None => {}
            }
        }
    }
    let mut objects = Vec::new();
    for folder in selected {
        let mut found: Vec<ObjectMeta> = bucket
            .list(Some(&folder))
            .try_collect()
            .await
            .map_err(|e| listing_error(url, &e))?;
        objects.append(&mut found);
    }
    Ok(objects)
}

/// Imports the export tree under `url` (only the date folders of `days`, when given). Fails
/// when the bucket cannot be listed (missing, access denied, unreachable) or the store fails;
/// an object that cannot be used is in [`ImportOutcome::rejected`], one that is not evidence in
/// [`ImportOutcome::ignored`].
pub async fn import_bucket(
    store: &impl EvidenceStore,
    bucket: Arc<dyn ObjectStore>,
    url: &S3Url,
    days: Option<ExportDays>,
    settings: &ImportSettings,
) -> Result<ImportOutcome> {
    let mut objects = list_objects(&*bucket, url, days).await?;
    objects.sort_by(|a, b| a.location.cmp(&b.location));
    tracing::info!("{url}: {} objects listed", objects.len());

    let mut import = Importer::begin(store).await?;
    let known_objects = store.known_objects().await?;
    // Sidecars are read CONCURRENT_READS at a time, and taken in key order.
    let reads = futures_util::stream::iter(objects)
        .map(|meta| {
            let bucket = Arc::clone(&bucket);
            let known = &import.known;
            let read = classify(url, &meta, known, &known_objects);
            async move {
                let key = meta.location.to_string();
                let source = url.object(&key);
                let fetched = matches!(read, Step::Sidecar { .. });
                let read = match read {
                    Step::Done(read) => read,
                    Step::Sidecar {
                        name,
                        conversation_id,
                    } => {
                        let read = read_sidecar(
                            &*bucket,
                            &meta,
                            &source,
                            &name,
                            &conversation_id,
                            settings,
                        )
                        .await;
                        match (read, &meta.e_tag) {
                            (Ok(FileRead::Parsed(mut parsed)), Some(etag)) => {
                                parsed.listed_with(etag.clone());
                                Ok(FileRead::Parsed(parsed))
                            }
                            (read, _) => read,
                        }
                    }
                };
                (source, read, fetched)
            }
        })
        .buffered(CONCURRENT_READS)
        .collect::<Vec<_>>()
        .await;
    let mut objects_read = 0;
    for (source, read, fetched) in reads {
        objects_read += usize::from(fetched);
        let read = match read {
            // A sidecar is known by its bytes' hash, so it is read before it can be skipped.
            Ok(FileRead::Parsed(parsed)) if import.known.contains(&parsed.stored_as()) => {
                Ok(FileRead::Unchanged(parsed.stored_as().1))
            }
            read => read,
        };
        let path = PathBuf::from(&source);
        // Only NDJSON files are streamed, and no object of a bucket is read as one.
        if let Some(input) = import.take(store, &path, &source, read).await? {
            import.outcome.rejected.push(Rejection {
                path,
                message: format!("not read: a stream of kind {}", input.kind),
            });
        }
    }
    let mut outcome = import.finish(store).await?;
    outcome.objects_read = objects_read;
    Ok(outcome)
}

/// What an object is, from its key and the listing alone.
enum Step {
    Done(std::result::Result<FileRead, Rejected>),
    /// A JSON object in a `conversation_id=` folder: to be read.
    Sidecar {
        name: String,
        conversation_id: String,
    },
}

/// What an object is. `known` holds the (source, SHA-256) of stored inputs, `known_objects`
/// the SHA-256 of stored inputs by (source, ETag): a sidecar listed with a stored ETag is
/// unchanged without being read.
fn classify(
    url: &S3Url,
    meta: &ObjectMeta,
    known: &HashSet<(String, String)>,
    known_objects: &HashMap<(String, String), String>,
) -> Step {
    let key = meta.location.as_ref();
    let relative = key
        .strip_prefix(url.prefix.as_str())
        .unwrap_or(key)
        .trim_start_matches('/');
    let mut parts: Vec<&str> = relative.split('/').collect();
    let name = parts.pop().unwrap_or_default().to_string();
    if parts
        .iter()
        .chain([&name.as_str()])
        .any(|p| p.starts_with('.'))
    {
        return Step::Done(Ok(FileRead::Ignored(
            "a hidden object (`.name`), skipped as a hidden local file is; not evidence"
                .to_string(),
        )));
    }
    let Some(conversation_id) = export_conversation_in(parts.iter().copied()) else {
        return Step::Done(Ok(FileRead::Ignored(
            "not in an export `conversation_id=` folder: only the export tree is read from a bucket"
                .to_string(),
        )));
    };
    match export_name_kind(&name) {
        ExportFile::Json => {
            let stored = meta
                .e_tag
                .as_ref()
                .and_then(|etag| known_objects.get(&(url.object(key), etag.clone())));
            match stored {
                Some(sha256) => Step::Done(Ok(FileRead::Unchanged(sha256.clone()))),
                None => Step::Sidecar {
                    name,
                    conversation_id,
                },
            }
        }
        ExportFile::Other(reason) => Step::Done(Ok(FileRead::Ignored(reason))),
        ExportFile::Media => {
            let source = url.object(key);
            let Ok(bytes) = i64::try_from(meta.size) else {
                return Step::Done(Err(Rejected::Huge));
            };
            let sha256 = object_identity(
                &source,
                meta.size,
                meta.e_tag.as_deref(),
                meta.version.as_deref(),
            );
            if known.contains(&(source.clone(), sha256.clone())) {
                return Step::Done(Ok(FileRead::Unchanged(sha256)));
            }
            Step::Done(Ok(export_media(
                InputKind::ExportMediaObject,
                &source,
                &name,
                &conversation_id,
                sha256,
                bytes,
            )))
        }
    }
}

/// Reads and parses one sidecar (or other JSON object of an export folder), refused unread
/// above `max_json_bytes` as a local file is.
async fn read_sidecar(
    bucket: &dyn ObjectStore,
    meta: &ObjectMeta,
    source: &str,
    name: &str,
    conversation_id: &str,
    settings: &ImportSettings,
) -> std::result::Result<FileRead, Rejected> {
    let max = settings.max_json_bytes;
    if meta.size > max {
        return Err(Rejected::TooBig {
            size: meta.size,
            max,
        });
    }
    let body = match bucket.get(&meta.location).await {
        Ok(found) => found.bytes().await,
        Err(e) => Err(e),
    }
    .map_err(|e| Rejected::Object(read_error(&e)))?;
    if body.len() as u64 > max {
        return Err(Rejected::TooBig {
            size: body.len() as u64,
            max,
        });
    }
    let body = body.to_vec();
    let input = Hashed::of(&body, source);
    parse_export_json(input, body, name, conversation_id).map(|p| FileRead::Parsed(Box::new(p)))
}

/// The error of a listing that failed, saying what to check.
fn listing_error(url: &S3Url, e: &object_store::Error) -> Error {
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
fn read_error(e: &object_store::Error) -> String {
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
fn describe(e: &dyn std::error::Error) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let url = S3Url::parse("s3://my-bucket/org/year=2026/").unwrap();
        assert_eq!(url.bucket, "my-bucket");
        assert_eq!(url.prefix, "org/year=2026");
        assert_eq!(S3Url::parse("s3://my-bucket").unwrap().prefix, "");
        assert!(S3Url::parse("s3://My_Bucket/x").is_err());
        assert!(S3Url::parse("/tmp/x").is_err());
        assert!(S3Url::is_s3("s3://b/x") && !S3Url::is_s3("./s3:/x"));
    }

    #[test]
    fn export_days_admit_padded_and_unpadded_folders_of_the_window_and_margin() {
        let ts = |text| Timestamp::parse_cli(text).unwrap();
        let days = ExportDays::of_window(ts("2026-07-14"), ts("2026-07-15"), 1);
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(
            (days.first, days.last),
            (date(2026, 7, 13), date(2026, 7, 15))
        );
        let none = (None, None);
        assert_eq!(days.admits("year=2026", none), Some(true));
        assert_eq!(days.admits("year=2025", none), Some(false));
        assert_eq!(days.admits("month=07", (Some(2026), None)), Some(true));
        assert_eq!(days.admits("month=7", (Some(2026), None)), Some(true));
        assert_eq!(days.admits("month=8", (Some(2026), None)), Some(false));
        assert_eq!(days.admits("day=15", (Some(2026), Some(7))), Some(true));
        assert_eq!(days.admits("day=09", (Some(2026), Some(7))), Some(false));
        assert_eq!(days.admits("day=x", (Some(2026), Some(7))), Some(false));
        assert_eq!(days.admits("8f3c1d2e", none), None);
        // Across a year's end.
        let days = ExportDays::of_window(ts("2026-12-31"), ts("2027-01-01"), 2);
        assert_eq!(
            (days.first, days.last),
            (date(2026, 12, 29), date(2027, 1, 2))
        );
        assert_eq!(days.admits("month=1", (Some(2027), None)), Some(true));
        assert_eq!(days.admits("month=2", (Some(2027), None)), Some(false));
    }

    #[test]
    fn object_identity_changes_with_every_listed_fact() {
        let base = object_identity("s3://b/k", 10, Some("\"e\""), None);
        assert_eq!(base.len(), 64);
        assert_ne!(base, object_identity("s3://b/k2", 10, Some("\"e\""), None));
        assert_ne!(base, object_identity("s3://b/k", 11, Some("\"e\""), None));
        assert_ne!(base, object_identity("s3://b/k", 10, Some("\"f\""), None));
        assert_ne!(
            base,
            object_identity("s3://b/k", 10, Some("\"e\""), Some("v1"))
        );
    }
}
