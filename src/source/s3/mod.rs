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
//! (`EvidenceStore::known_objects_among`), so one listed again with the same key and ETag is not even
//! read; one whose ETag changed is read, and stored again only if its bytes did change.
//!
//! Credentials come from `object_store`'s AWS chain (environment variables, web identity,
//! ECS/EKS container credentials, instance metadata); endpoint, region and path-style addressing
//! from [`S3Settings`] or the standard `AWS_*` variables. No credential is ever logged, put in
//! an error or stored: errors are built from the bucket, the key and the service's error text.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::{GetOptions, ObjectMeta, ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

mod errors;
mod listing;

pub use errors::write_error;
use errors::{describe, read_error};
pub use listing::ExportDays;
use listing::list_objects;

use super::batch::{KnownObject, ObjectListing};
use super::import::{
    ExportFile, FileRead, Hashed, ImportOutcome, ImportSettings, Importer, KNOWN_LOOKUP, Rejected,
    Rejection, export_conversation_in, export_media, export_name_kind, parse_export_json,
};
use super::sink::EvidenceStore;
use crate::error::{Error, Result};
use crate::pct::pct_encode;
use crate::time::Timestamp;

/// The longest `source` a ledger record holds uncut (a `pct` value, docs/ledger-format.md).
const MAX_RECORD_SOURCE: usize = 256;

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
    // Throttling and server errors retried with backoff, a bucket in another region named.
    builder = errors::handle_faults(builder)?;
    builder.build().map_err(|e| Error::S3 {
        url: url.to_string(),
        message: format!("cannot set up the S3 client: {}", describe(&e)),
    })
}

/// The SHA-256 (hex) recorded for a media object that was not downloaded: of the text
/// `recaudit-s3-object v1\nsource {url}\nbytes {size}\netag {etag or none}\nversion {version or
/// none}\n`. It identifies what the listing said of the object (so an unchanged object is
/// skipped, a rewritten one stored again) and is never the hash of the media's bytes.
pub(crate) fn object_identity(
    source: &str,
    bytes: u64,
    etag: &str,
    version: Option<&str>,
) -> String {
    let text = format!(
        "recaudit-s3-object v1\nsource {source}\nbytes {bytes}\netag {etag}\nversion {}\n",
        version.unwrap_or("none")
    );
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// How a bucket is imported.
#[derive(Debug, Clone, Default)]
pub struct BucketImport {
    /// Only the date folders of these days; all keys under the prefix when `None`.
    pub days: Option<ExportDays>,
    /// Download every media object (streamed, never held whole) and record the SHA-256 of its
    /// bytes, as for a local file, instead of only what the listing says of it.
    pub hash_media: bool,
    /// Media objects downloaded and hashed at once with `hash_media` (at least 1).
    pub hash_concurrency: usize,
}

/// Media objects hashed at once by default: each is a stream of a few megabytes, so two or
/// four keep a link busy without many open downloads.
pub const HASH_CONCURRENCY: usize = 4;

/// What an import has done so far, for a progress display: counters the import raises and a
/// terminal reads while it runs.
#[derive(Debug, Default)]
pub struct BucketProgress {
    pub listed: AtomicU64,
    /// Objects the listing found that are to be looked at (known once the listing is done).
    pub to_read: AtomicU64,
    pub sidecars_read: AtomicU64,
    pub media_hashed: AtomicU64,
    pub bytes_hashed: AtomicU64,
    /// Objects done: read, hashed, skipped as unchanged, ignored or rejected.
    pub done: AtomicU64,
}

/// Imports the export tree under `url`. Fails when the bucket cannot be listed (missing,
/// access denied, unreachable) or the store fails, with nothing stored changed but the batches
/// already committed (a rerun continues from them); an object that cannot be used is in
/// [`ImportOutcome::rejected`], one that is not evidence in [`ImportOutcome::ignored`].
pub async fn import_bucket(
    store: &impl EvidenceStore,
    bucket: Arc<dyn ObjectStore>,
    url: &S3Url,
    how: &BucketImport,
    settings: &ImportSettings,
    progress: &BucketProgress,
) -> Result<ImportOutcome> {
    let mut objects = list_objects(&*bucket, url, how.days, &progress.listed).await?;
    objects.sort_by(|a, b| a.location.cmp(&b.location));
    progress
        .to_read
        .store(objects.len() as u64, Ordering::Relaxed);
    tracing::info!("{url}: {} objects listed", objects.len());

    let mut import = Importer::begin(store).await?;
    let reader = ObjectReader {
        bucket: &*bucket,
        settings,
        progress,
        hashing: Semaphore::new(how.hash_concurrency.max(1)),
        received: Timestamp::now(),
    };
    let mut objects_read = 0;
    let mut objects = objects.into_iter().peekable();
    while objects.peek().is_some() {
        // What is stored is asked KNOWN_LOOKUP objects at a time, after writing what is
        // batched, as an import of files does: nothing held grows with the stored history.
        let chunk: Vec<ObjectMeta> = objects.by_ref().take(KNOWN_LOOKUP).collect();
        import.flush(store).await?;
        let sources: Vec<String> = chunk
            .iter()
            .map(|meta| url.object(meta.location.as_ref()))
            .collect();
        import.known = store.known_inputs_among(&sources).await?;
        // What was stored before this import: an object that is stored already is skipped.
        let known = import.known.clone();
        let known_objects = store.known_objects_among(&sources).await?;
        // Objects are read CONCURRENT_READS at a time (hashed ones fewer, `hashing`) and taken
        // in key order, one at a time, so that no more than that many are held at once.
        let mut reads = futures_util::stream::iter(chunk)
            .map(|meta| {
                let step = classify(url, &meta, how.hash_media, &known, &known_objects);
                reader.read(url, meta, step)
            })
            .buffered(CONCURRENT_READS);
        while let Some((source, read, fetched)) = reads.next().await {
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
            progress.done.fetch_add(1, Ordering::Relaxed);
        }
    }
    let mut outcome = import.finish(store).await?;
    outcome.objects_read = objects_read;
    Ok(outcome)
}

/// Reads the objects an import must read, sharing one bucket client, a bound on the objects
/// hashed at once, and the progress counters.
struct ObjectReader<'a> {
    bucket: &'a dyn ObjectStore,
    settings: &'a ImportSettings,
    progress: &'a BucketProgress,
    hashing: Semaphore,
    /// When the listing was taken, for an object whose store gives no Last-Modified.
    received: Timestamp,
}

impl ObjectReader<'_> {
    /// Does `step` for `meta`: (the object's source, what it gave, whether it was read).
    async fn read(
        &self,
        url: &S3Url,
        meta: ObjectMeta,
        step: Step,
    ) -> (String, std::result::Result<FileRead, Rejected>, bool) {
        let source = url.object(meta.location.as_ref());
        let read = match step {
            Step::Done(read) => return (source, read, false),
            Step::Sidecar {
                name,
                conversation_id,
            } => {
                let read = read_sidecar(
                    self.bucket,
                    &meta,
                    &source,
                    &name,
                    &conversation_id,
                    self.settings,
                )
                .await;
                self.progress.sidecars_read.fetch_add(1, Ordering::Relaxed);
                read.map(|read| match read {
                    FileRead::Parsed(mut parsed) => {
                        if let Some(listing) = listing(&meta, true, self.received) {
                            parsed.listed_with(listing);
                        }
                        FileRead::Parsed(parsed)
                    }
                    read => read,
                })
            }
            Step::Hash {
                name,
                conversation_id,
            } => {
                let permit = self.hashing.acquire().await;
                let hashed = hash_object(self.bucket, &meta, self.progress).await;
                drop(permit);
                self.progress.media_hashed.fetch_add(1, Ordering::Relaxed);
                hashed.map(|(sha256, bytes)| {
                    export_media(
                        &source,
                        &name,
                        &conversation_id,
                        sha256,
                        bytes,
                        listing(&meta, true, self.received),
                    )
                })
            }
        };
        (source, read, true)
    }
}

/// What the listing says of `meta`, to store with its input; `None` when it gave no ETag.
fn listing(meta: &ObjectMeta, content_hashed: bool, received: Timestamp) -> Option<ObjectListing> {
    let etag = meta.e_tag.as_deref()?;
    let modified = meta.last_modified.timestamp_millis();
    Some(ObjectListing {
        etag: unquoted(etag).to_string(),
        version: meta.version.clone(),
        // A store that gives no time (0) would make a record that lies about it: the listing's
        // own time is the closest honest one.
        modified: if modified > 0 {
            Timestamp::from_millis(modified)
        } else {
            received
        },
        content_hashed,
    })
}

/// An ETag without the double quotes S3 puts around it.
fn unquoted(etag: &str) -> &str {
    etag.strip_prefix('"')
        .and_then(|e| e.strip_suffix('"'))
        .unwrap_or(etag)
}

/// What to do with an object, from its key and the listing alone.
enum Step {
    Done(std::result::Result<FileRead, Rejected>),
    /// A JSON object in a `conversation_id=` folder: to be read.
    Sidecar {
        name: String,
        conversation_id: String,
    },
    /// A media object to download and hash.
    Hash {
        name: String,
        conversation_id: String,
    },
}

/// What to do with an object. `known` holds the (source, SHA-256) of stored inputs,
/// `known_objects` the stored inputs by (source, ETag): an object listed with a stored ETag is
/// unchanged without being read, unless it is a media object to hash that was only listed.
fn classify(
    url: &S3Url,
    meta: &ObjectMeta,
    hash_media: bool,
    known: &HashSet<(String, String)>,
    known_objects: &HashMap<(String, String), KnownObject>,
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
    let source = url.object(key);
    let stored = meta
        .e_tag
        .as_deref()
        .and_then(|etag| known_objects.get(&(source.clone(), unquoted(etag).to_string())));
    match export_name_kind(&name) {
        ExportFile::Json => match stored {
            Some(stored) => Step::Done(Ok(FileRead::Unchanged(stored.sha256.clone()))),
            None => Step::Sidecar {
                name,
                conversation_id,
            },
        },
        ExportFile::Other(reason) => Step::Done(Ok(FileRead::Ignored(reason))),
        ExportFile::Media => {
            match stored {
                Some(stored) if stored.content_hashed || !hash_media => {
                    return Step::Done(Ok(FileRead::Unchanged(stored.sha256.clone())));
                }
                _ => {}
            }
            let Ok(bytes) = i64::try_from(meta.size) else {
                return Step::Done(Err(Rejected::Huge));
            };
            // Without an ETag the listing identifies nothing a record could commit to, and a
            // source the ledger must cut (docs/LEDGER.md, "Long sources") would no longer
            // locate the object: then its bytes are hashed whatever was asked.
            let locatable = pct_encode(&source).len() <= MAX_RECORD_SOURCE;
            let Some(listed) =
                listing(meta, false, Timestamp::now()).filter(|_| !hash_media && locatable)
            else {
                return Step::Hash {
                    name,
                    conversation_id,
                };
            };
            let sha256 =
                object_identity(&source, meta.size, &listed.etag, listed.version.as_deref());
            if known.contains(&(source.clone(), sha256.clone())) {
                return Step::Done(Ok(FileRead::Unchanged(sha256)));
            }
            Step::Done(Ok(export_media(
                &source,
                &name,
                &conversation_id,
                sha256,
                bytes,
                Some(listed),
            )))
        }
    }
}

/// Downloads `meta`'s object as a stream (never held whole) and hashes it: (SHA-256, bytes).
/// The read asks for the listed version and ETag, so that the bytes hashed are those of the
/// object listed: one rewritten or deleted since is rejected, to be imported again.
async fn hash_object(
    bucket: &dyn ObjectStore,
    meta: &ObjectMeta,
    progress: &BucketProgress,
) -> std::result::Result<(String, i64), Rejected> {
    let options = GetOptions {
        if_match: meta.e_tag.clone(),
        version: meta.version.clone(),
        ..GetOptions::default()
    };
    let found = bucket
        .get_opts(&meta.location, options)
        .await
        .map_err(|e| Rejected::Object(read_error(&e)))?;
    let mut body = found.into_stream();
    let mut hasher = Sha256::new();
    let mut bytes: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| Rejected::Object(read_error(&e)))?;
        hasher.update(&chunk);
        bytes += chunk.len() as u64;
        progress
            .bytes_hashed
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
    }
    if bytes != meta.size {
        return Err(Rejected::Object(format!(
            "the object was listed with {} bytes but {bytes} were read; import again",
            meta.size
        )));
    }
    let bytes = i64::try_from(bytes).map_err(|_| Rejected::Huge)?;
    Ok((hex::encode(hasher.finalize()), bytes))
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
    fn object_identity_changes_with_every_listed_fact() {
        let base = object_identity("s3://b/k", 10, "e", None);
        assert_eq!(base.len(), 64);
        assert_ne!(base, object_identity("s3://b/k2", 10, "e", None));
        assert_ne!(base, object_identity("s3://b/k", 11, "e", None));
        assert_ne!(base, object_identity("s3://b/k", 10, "f", None));
        assert_ne!(base, object_identity("s3://b/k", 10, "e", Some("v1")));
    }
}
