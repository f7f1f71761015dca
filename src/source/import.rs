//! `recaudit import`: files and directories of Genesys Cloud payloads, recognised by shape.
//!
//! Recognised inputs:
//! - analytics conversation details: sync query responses and async job result pages
//!   (`{"conversations": [...], "cursor": ...}`), a single conversation, an array of them, or
//!   NDJSON with one conversation per line (`.ndjson`, `.jsonl`);
//! - `RecordingMetadata` arrays and `Recording` objects (alone or in arrays);
//! - `RecordingJob` objects, job listings, and failedrecordings pages;
//! - orphan recording listings;
//! - an S3 bulk-export tree, recognised by its `conversation_id={id}` folders: every
//!   `{recordingId}.{ext}_metadata.json` (or `{recordingId}_metadata.json`) sidecar is parsed,
//!   and every file named as a recording (`{recordingId}` or `{recordingId}.{media extension}`,
//!   the id a UUID) is media, hashed while streaming (never loaded whole) and sized. Any other
//!   file there (notes, links, unknown extensions) is not evidence: it is listed as ignored,
//!   with the reason, so that no stray file can stand in for a missing recording.
//!
//! Every file is first hashed; a file whose relative path and SHA-256 are already stored is
//! skipped, which makes re-importing a tree a no-op. A file that does not parse is rejected
//! with its path, line and column and the rest of the import goes on; the command then exits
//! non-zero. Accepted files are written in batches, each batch one transaction; a batch the
//! store refuses is written again file by file, so that the one file that cannot be stored is
//! rejected alone, named with the store's reason.
//!
//! Memory does not grow with a file's size. A JSON document has to be read whole to be parsed,
//! so a JSON file larger than `[import] max_json_bytes` is rejected by name before it is read.
//! An NDJSON file is read as a stream, line by line: it is hashed first (to skip it when
//! unchanged), then read again, each part of its bytes and the conversations parsed from it
//! written as they come, all in one transaction of its own (see
//! [`EvidenceStore::begin_streamed_input`]), and committed only if the bytes read hash as the first
//! pass did.
//!
//! File names are stored losslessly ([`path_text`]): two different files never share a row.
//! The binary holds an [`ImportLock`] while it imports, so two imports into one database run
//! one after the other instead of racing for the same rows.

use std::collections::BTreeMap;
use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;

use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::batch::{
    FailedRow, ImportBatch, InputKind, MediaRow, ObjectListing, OrphanRow, PullProgress, RawInput,
    RecordingRow,
};
use super::model::{
    AnalyticsConversation, AnalyticsSegment, ConversationPage, DataAvailabilityWire,
    ExportMetadataWire, FailedRecordingWire, Listing, OrphanRecordingWire, PAUSE_REASONS,
    RECORDING_ONLY_KEYS, RecordingJobWire, RecordingSource, RecordingWire, normalize_media,
};
use super::sink::{EvidenceStore, StreamedWrite};
use crate::blocking::on_blocking_thread;
use crate::error::{Error, Result};
use crate::lock::FileLock;
use crate::time::Timestamp;

/// Flush a batch after this many files or this many payload bytes, whichever comes first.
const BATCH_FILES: usize = 500;
/// Files whose stored (source, SHA-256) pairs are asked of the store at once.
pub(super) const KNOWN_LOOKUP: usize = 2_000;
const BATCH_BYTES: usize = 32 * 1024 * 1024;

/// A streamed NDJSON file is written in parts of at most this many bytes of the file, or this
/// many conversations: what an import holds of it at a time. A part's bytes and rows are
/// copied about three times on their way into the database (sqlx's `Any` driver copies each
/// bound value into its own buffer, then into the backend's), so a part is kept small.
const PART_BYTES: usize = 1024 * 1024;
const PART_CONVERSATIONS: usize = 500;

/// Record rejections of one streamed file listed one by one in the outcome; the others are
/// counted (all are stored, and named again by a later import of the unchanged file).
const LISTED_RECORD_REJECTIONS: usize = 1_000;

/// The default of `[import] max_json_bytes`: 256 MiB, far above any Genesys page (a details
/// page of 1,000 conversations is a few MB), low enough that reading one whole stays affordable.
pub(crate) const DEFAULT_MAX_JSON_BYTES: u64 = 256 * 1024 * 1024;

/// The largest value SQLite stores (its default `SQLITE_MAX_LENGTH`): a JSON file's bytes are
/// kept as one value, so `max_json_bytes` cannot be larger.
pub(crate) const MAX_STORABLE_BYTES: u64 = 1_000_000_000;

/// The `[import]` section of the configuration file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ImportSettings {
    /// A JSON file larger than this (or an NDJSON line longer than this) is rejected by name
    /// before it is read whole. NDJSON files are streamed and have no size limit.
    pub max_json_bytes: u64,
}

impl Default for ImportSettings {
    fn default() -> Self {
        ImportSettings {
            max_json_bytes: DEFAULT_MAX_JSON_BYTES,
        }
    }
}

impl ImportSettings {
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_STORABLE_BYTES).contains(&self.max_json_bytes) {
            return Err(format!(
                "import.max_json_bytes must be between 1 and {MAX_STORABLE_BYTES} (the largest value SQLite stores), got {}",
                self.max_json_bytes
            ));
        }
        Ok(())
    }
}

/// What an import did, file by file.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ImportOutcome {
    /// Files looked at.
    pub files: usize,
    /// New raw inputs stored.
    pub imported: usize,
    /// Files already stored with the same path and content.
    pub unchanged: usize,
    /// New inputs per kind.
    pub by_kind: BTreeMap<String, usize>,
    /// Files that could not be used, with the reason.
    pub rejected: Vec<Rejection>,
    /// Files inside export folders that are not recordings or sidecars, with the reason.
    pub ignored: Vec<Rejection>,
    /// Conversations written (new or replaced).
    pub conversations: usize,
    /// Objects read from an object store (S3 sidecars; media objects are only listed): a
    /// re-import of an unchanged bucket reads none.
    pub objects_read: usize,
    /// Where this import's inputs disagree with each other or with what was stored: differing
    /// copies of a conversation's details, a recording id claimed by two conversations.
    pub conflicts: Vec<String>,
}

impl ImportOutcome {
    /// Adds what another import (of other paths, or a bucket) did.
    pub fn absorb(&mut self, other: ImportOutcome) {
        self.files += other.files;
        self.imported += other.imported;
        self.unchanged += other.unchanged;
        for (kind, count) in other.by_kind {
            *self.by_kind.entry(kind).or_default() += count;
        }
        self.rejected.extend(other.rejected);
        self.ignored.extend(other.ignored);
        self.conversations += other.conversations;
        self.objects_read += other.objects_read;
        for conflict in other.conflicts {
            if !self.conflicts.contains(&conflict) {
                self.conflicts.push(conflict);
            }
        }
    }
}

/// Why an input (a file, a response body) is not used, or, for the variants a record can
/// have, one of its records. The text is what the operator reads after the file's name, so each
/// says what is wrong and where; the variants keep the facts apart for code that reacts to them.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Rejected {
    /// An object of a bucket that could not be read (the reason says which permission, or
    /// that it vanished between the listing and the read).
    #[cfg_attr(not(feature = "s3"), allow(dead_code))]
    #[error("{0}")]
    Object(String),
    #[error("cannot read: {0}")]
    Unreadable(#[source] std::io::Error),
    #[error("cannot list {}: {source}", .dir.display())]
    Unlistable {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot stat {}: {source}", .path.display())]
    Unstattable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Larger than a raw input's size can say (more than `i64::MAX` bytes).
    #[error("file too large")]
    Huge,
    /// A JSON file larger than `[import] max_json_bytes`.
    #[error(
        "{size} bytes, more than the {max} bytes a JSON file may have (it is read whole to be parsed); not read. Raise `max_json_bytes` in the `[import]` section of the configuration file (--config) to import it, or write its conversations as NDJSON (.ndjson), which is read as a stream"
    )]
    TooBig { size: u64, max: u64 },
    #[error(
        "not a recognised input: expected .json, .ndjson or .jsonl, or a file inside an S3 export `conversation_id=` folder"
    )]
    NotRecognised,
    /// JSON that does not parse, or a document serde refuses as a whole.
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// A value serde refuses, with its position and its path in the document.
    #[error("line {line}, column {column}: at `{path}`: {message}")]
    Value {
        line: usize,
        column: usize,
        path: String,
        message: String,
    },
    /// A value that is unusable though it parses (implausible, or refused in an envelope).
    #[error("at `{path}`: {message}")]
    Field { path: String, message: String },
    #[error("not a Genesys Cloud payload recaudit knows: {0}")]
    Unknown(&'static str),
    #[error(
        "field `conversationId` is {claimed} but the file is in folder conversation_id={folder}"
    )]
    OtherFolder { claimed: String, folder: String },
    #[error("field `recordingId` is {claimed} but the file name says {named}")]
    OtherName { claimed: String, named: String },
    #[error("the sidecar's file name holds no recording id")]
    NoRecordingId,
    #[error("a JSON file in an export folder must be a `_metadata.json` sidecar")]
    NotASidecar,
    #[error(
        "recording {recording}: field `conversationId` is missing and `selfUri` names no conversation"
    )]
    NoConversation { recording: String },
    /// An id the store and the ledger cannot key on; `what` names it.
    #[error("{what} is empty")]
    EmptyId { what: String },
    #[error("{what} `{start}...` is too long to be an id")]
    LongId { what: String, start: String },
    /// A streamed file whose bytes hash differently from the first pass.
    #[error(
        "the file changed while it was imported ({bytes} bytes, SHA-256 {sha256}, then {now_bytes} bytes, SHA-256 {now_sha256}); nothing of it was stored. Import it again once it is complete"
    )]
    Changed {
        bytes: i64,
        sha256: String,
        now_bytes: i64,
        now_sha256: String,
    },
    /// The store refused the input for something in it.
    #[error("cannot be stored, so nothing of it was: {0}")]
    Unstorable(#[source] Error),
}

/// A file the import could not use.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", path_text(&self.path), self.message)
    }
}

/// Imports every path (file or directory, recursively) with the default settings.
pub async fn import_paths(store: &impl EvidenceStore, paths: &[PathBuf]) -> Result<ImportOutcome> {
    import_paths_with(store, paths, &ImportSettings::default()).await
}

/// Imports every path (file or directory, recursively). Fails only when the store fails;
/// problems with individual files, including a file the store refuses, are in
/// [`ImportOutcome::rejected`]. The caller holds the [`ImportLock`] when other processes may
/// import into the same database.
pub async fn import_paths_with(
    store: &impl EvidenceStore,
    paths: &[PathBuf],
    settings: &ImportSettings,
) -> Result<ImportOutcome> {
    let mut import = Importer::begin(store).await?;
    for arg in paths {
        let owned = arg.clone();
        let listed = on_blocking_thread("cannot read", arg, move || list_files(&owned)).await?;
        let FileListing {
            root,
            mut walk,
            skipped,
        } = match listed {
            Ok(found) => found,
            Err(message) => {
                import.outcome.rejected.push(Rejection {
                    path: arg.clone(),
                    message: message.to_string(),
                });
                continue;
            }
        };
        import.outcome.ignored.extend(skipped);
        loop {
            // What is stored is asked a list of files at a time, after writing what is batched
            // (so the store knows every file of this import before them too).
            let (next, walked) = on_blocking_thread("cannot read", arg, move || {
                let next = walk.next_files(KNOWN_LOOKUP);
                (next, walk)
            })
            .await?;
            walk = walked;
            let next = match next {
                Ok(next) if next.is_empty() => break,
                Ok(next) => next,
                // A folder that went away, or became unreadable, since the first walk.
                Err(message) => {
                    import.outcome.rejected.push(Rejection {
                        path: arg.clone(),
                        message: message.to_string(),
                    });
                    break;
                }
            };
            import.flush(store).await?;
            let sources: Vec<String> = next.iter().map(|f| relative_source(&root, f)).collect();
            import.known = store.known_inputs_among(&sources).await?;
            for (file, source) in next.iter().zip(sources) {
                import_file(store, &mut import, settings, file, source).await?;
            }
        }
    }
    import.finish(store).await
}

/// Reads one file of an import and batches it, or streams it when it is NDJSON not stored yet.
async fn import_file(
    store: &impl EvidenceStore,
    import: &mut Importer,
    settings: &ImportSettings,
    file: &Path,
    source: String,
) -> Result<()> {
    let known = std::mem::take(&mut import.known);
    let (read, known) = read_off_the_runtime(file, &source, known, settings).await?;
    import.known = known;
    let Some(input) = import.take(store, file, &source, read).await? else {
        return Ok(());
    };
    // An NDJSON file not stored yet: written in file order, what is batched first.
    import.flush(store).await?;
    let key = (input.source.clone(), input.sha256.clone());
    let outcome = &mut import.outcome;
    match stream_ndjson(store, file, &input, settings.max_json_bytes).await? {
        Ok(streamed) => {
            import.known.insert(key);
            *outcome.by_kind.entry(input.kind.to_string()).or_default() += 1;
            outcome.imported += 1;
            outcome.conversations += streamed.conversations;
            for message in streamed.rejected_records {
                outcome.rejected.push(Rejection {
                    path: file.to_path_buf(),
                    message: format!("{message} (the file's other records were imported)"),
                });
            }
            if streamed.unlisted_rejections > 0 {
                outcome.rejected.push(Rejection {
                    path: file.to_path_buf(),
                    message: format!(
                        "{} more records were rejected (each is stored with its reason and named again when the file is imported again)",
                        streamed.unlisted_rejections
                    ),
                });
            }
        }
        Err(message) => outcome.rejected.push(Rejection {
            path: file.to_path_buf(),
            message: message.to_string(),
        }),
    }
    Ok(())
}

/// One import of files or objects in progress: what is stored already, what is batched, and
/// what the import did so far. A local file and an S3 object go through the same
/// [`Importer::take`], so both are skipped, counted, rejected and batched alike.
pub(super) struct Importer {
    /// (source, SHA-256) of every stored input, and of every input of this import.
    pub(super) known: HashSet<(String, String)>,
    stored: HashMap<(String, String), Vec<String>>,
    newest_before: i64,
    pub(super) outcome: ImportOutcome,
    batch: Batcher,
}

impl Importer {
    /// An import whose caller fills [`Importer::known`] as it goes, asking the store about
    /// each list of inputs before it reads them.
    pub(super) async fn begin(store: &impl EvidenceStore) -> Result<Importer> {
        Ok(Importer {
            known: HashSet::new(),
            stored: store.stored_record_rejections().await?,
            newest_before: store.newest_input_id().await?,
            outcome: ImportOutcome::default(),
            batch: Batcher::default(),
        })
    }

    /// Takes what reading one input (`path`, stored as `source`) gave: counts it, batches it
    /// (writing the batch when it is full) or names why it is not used. An NDJSON file to
    /// stream is handed back to the caller, which streams it.
    pub(super) async fn take(
        &mut self,
        store: &impl EvidenceStore,
        path: &Path,
        source: &str,
        read: Result<FileRead, Rejected>,
    ) -> Result<Option<RawInput>> {
        let outcome = &mut self.outcome;
        outcome.files += 1;
        match read {
            Ok(FileRead::Ignored(reason)) => outcome.ignored.push(Rejection {
                path: path.to_path_buf(),
                message: reason,
            }),
            Ok(FileRead::Unchanged(sha256)) => {
                outcome.unchanged += 1;
                report_stored_rejections(outcome, &self.stored, path, source, sha256);
            }
            Ok(FileRead::Parsed(parsed)) => {
                let parsed = *parsed;
                report_record_rejections(outcome, path, &parsed);
                self.known
                    .insert((parsed.input.source.clone(), parsed.input.sha256.clone()));
                *outcome
                    .by_kind
                    .entry(parsed.input.kind.to_string())
                    .or_default() += 1;
                outcome.imported += 1;
                self.batch.add(parsed, path);
                if self.batch.is_full() {
                    self.flush(store).await?;
                }
            }
            Ok(FileRead::Stream(input)) => return Ok(Some(input)),
            Err(message) => outcome.rejected.push(Rejection {
                path: path.to_path_buf(),
                message: message.to_string(),
            }),
        }
        Ok(None)
    }

    /// Writes what is batched (see [`Batcher::flush_files`]).
    pub(super) async fn flush(&mut self, store: &impl EvidenceStore) -> Result<()> {
        self.batch
            .flush_files(store, &mut self.outcome, &mut self.known)
            .await
    }

    /// Writes what is left and names the conflicts this import's inputs brought.
    pub(super) async fn finish(mut self, store: &impl EvidenceStore) -> Result<ImportOutcome> {
        self.flush(store).await?;
        self.outcome.conflicts = store.conflicts_since(self.newest_before).await?;
        Ok(self.outcome)
    }
}

/// [`read_input`] on tokio's blocking threads (see [`crate::blocking`]). The set of known
/// inputs goes to the blocking thread and comes back with the answer: it is moved, never
/// copied, and the import adds to it between files.
async fn read_off_the_runtime(
    file: &Path,
    source: &str,
    known: HashSet<(String, String)>,
    settings: &ImportSettings,
) -> Result<(Result<FileRead, Rejected>, HashSet<(String, String)>)> {
    let (owned, source, settings) = (file.to_path_buf(), source.to_string(), settings.clone());
    on_blocking_thread("cannot read", file, move || {
        let read = read_input(&owned, &source, &known, &settings);
        (read, known)
    })
    .await
}

/// The advisory lock that makes imports into one database run one at a time: a `FileLock`
/// on `<database>.import-lock`.
///
/// Without it, two imports read the same stored inputs, parse the same new files and race to
/// insert the same rows, and the second fails on `UNIQUE constraint failed`. With it, the second
/// waits, then finds what the first stored and skips it, as any re-import does.
#[derive(Debug)]
pub struct ImportLock {
    _lock: FileLock,
}

impl ImportLock {
    /// The lock file of the database file `database`.
    pub(crate) fn path_for(database: &Path) -> PathBuf {
        FileLock::beside(database, ".import-lock")
    }

    /// Takes the import lock of `database` (`None`, an in-memory database, needs none). When
    /// another import holds it, calls `waiting` once, then waits until it is released. A
    /// database whose folder does not exist is not locked: opening it fails and says so.
    pub async fn acquire(database: Option<&Path>, waiting: impl FnOnce()) -> Result<ImportLock> {
        let Some(database) = database.filter(|database| {
            database
                .parent()
                .is_none_or(|dir| dir.as_os_str().is_empty() || dir.is_dir())
        }) else {
            return Ok(ImportLock {
                _lock: FileLock::none(),
            });
        };
        let lock = FileLock::acquire(ImportLock::path_for(database), waiting).await?;
        Ok(ImportLock { _lock: lock })
    }
}

/// Names each record of a newly parsed file that was rejected alone.
fn report_record_rejections(outcome: &mut ImportOutcome, path: &Path, parsed: &Parsed) {
    for (_, message) in &parsed.rows.rejected_records {
        outcome.rejected.push(Rejection {
            path: path.to_path_buf(),
            message: format!("{message} (the file's other records were imported)"),
        });
    }
}

/// Names again the rejected records of a file that is stored unchanged: importing it again must
/// not make them pass silently.
fn report_stored_rejections(
    outcome: &mut ImportOutcome,
    stored: &HashMap<(String, String), Vec<String>>,
    path: &Path,
    source: &str,
    sha256: String,
) {
    for message in stored
        .get(&(source.to_string(), sha256))
        .into_iter()
        .flatten()
    {
        outcome.rejected.push(Rejection {
            path: path.to_path_buf(),
            message: format!("{message} (stored unchanged; fix the record and import again)"),
        });
    }
}

/// API response bodies, parsed and batched exactly as `import` parses and batches files. The
/// source of each is its request path and query; a body already stored with the same source
/// and SHA-256 is skipped, so a repeated or resumed pull adds nothing twice.
pub(crate) struct PayloadSink {
    batch: Batcher,
    /// (source, SHA-256) of the bodies this pull added; the store is asked about the others
    /// one body at a time (an indexed lookup beside an HTTP request), so nothing of the
    /// history is held.
    known: HashSet<(String, String)>,
    stored: HashMap<(String, String), Vec<String>>,
    pub(crate) outcome: ImportOutcome,
}

impl PayloadSink {
    pub(crate) async fn new(store: &impl EvidenceStore) -> Result<PayloadSink> {
        Ok(PayloadSink {
            batch: Batcher::default(),
            known: HashSet::new(),
            stored: store.stored_record_rejections().await?,
            outcome: ImportOutcome::default(),
        })
    }

    /// Adds one response body. `Err` (inner) names what is wrong with it; nothing of it is stored.
    pub(crate) async fn add(
        &mut self,
        store: &impl EvidenceStore,
        source: &str,
        body: Vec<u8>,
        correlation_id: Option<String>,
    ) -> Result<std::result::Result<(), Rejected>> {
        self.outcome.files += 1;
        let mut input = Hashed::of(&body, source);
        input.correlation_id = correlation_id;
        let key = (input.source.clone(), input.sha256.clone());
        if self.known.contains(&key)
            || store
                .known_inputs_among(std::slice::from_ref(&input.source))
                .await?
                .contains(&key)
        {
            self.outcome.unchanged += 1;
            report_stored_rejections(
                &mut self.outcome,
                &self.stored,
                Path::new(source),
                source,
                input.sha256,
            );
            return Ok(Ok(()));
        }
        let hint = source.to_ascii_lowercase();
        match parse_json(input, body, &hint) {
            Ok(parsed) => {
                report_record_rejections(&mut self.outcome, Path::new(source), &parsed);
                self.known
                    .insert((parsed.input.source.clone(), parsed.input.sha256.clone()));
                *self
                    .outcome
                    .by_kind
                    .entry(parsed.input.kind.to_string())
                    .or_default() += 1;
                self.outcome.imported += 1;
                self.batch.add(parsed, Path::new(source));
                if self.batch.is_full() {
                    self.outcome.conversations += self.batch.flush(store).await?;
                }
                Ok(Ok(()))
            }
            Err(message) => {
                self.outcome.rejected.push(Rejection {
                    path: PathBuf::from(source),
                    message: message.to_string(),
                });
                Ok(Err(message))
            }
        }
    }

    /// Writes what is batched (one transaction).
    pub(crate) async fn flush(&mut self, store: &impl EvidenceStore) -> Result<()> {
        self.outcome.conversations += self.batch.flush(store).await?;
        Ok(())
    }

    /// Writes what is batched together with the pull progress that describes it, in one
    /// transaction: the progress is never ahead of what is stored, nor behind it.
    pub(crate) async fn commit(
        &mut self,
        store: &impl EvidenceStore,
        progress: PullProgress,
    ) -> Result<()> {
        self.batch.batch.progress = Some(progress);
        self.flush(store).await
    }
}

/// One file, parsed and ready to store.
pub(super) struct Parsed {
    input: RawInput,
    rows: Rows,
}

impl Parsed {
    /// (source, SHA-256): what the store knows the input by.
    #[cfg_attr(not(feature = "s3"), allow(dead_code))]
    pub(super) fn stored_as(&self) -> (String, String) {
        (self.input.source.clone(), self.input.sha256.clone())
    }

    /// Notes what the listing said of the object the input was read from, stored with it.
    #[cfg_attr(not(feature = "s3"), allow(dead_code))]
    pub(super) fn listed_with(&mut self, listing: ObjectListing) {
        self.rows.listing = Some(listing);
    }
}

#[derive(Default)]
struct Rows {
    conversations: Vec<AnalyticsConversation>,
    recordings: Vec<RecordingRow>,
    media: Vec<MediaRow>,
    jobs: Vec<RecordingJobWire>,
    failed: Vec<FailedRow>,
    orphans: Vec<OrphanRow>,
    /// Records of the file that could not be read (index, what is wrong): each is rejected
    /// alone, and the file's other records are imported.
    rejected_records: Vec<(i64, String)>,
    /// The details' availability horizon the file states.
    horizon: Option<Timestamp>,
    /// What the listing said of the object it was read from (an S3 import).
    listing: Option<ObjectListing>,
}

/// Reads each element of a page or array on its own, so that one record with a missing or bad
/// value (the SDK requires none of `conversationStart`, `segmentStart`, `Recording.id`, job
/// `id` or `state`) is rejected alone, named by its index, id and field path, and the others
/// are kept.
fn records<T: DeserializeOwned + Plausible>(
    items: &[Value],
    field: &str,
    rows: &mut Rows,
) -> Vec<T> {
    items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| record(item, index, field, rows))
        .collect()
}

/// Element `index` of the array at `field`, or `None` with the rejection noted in `rows`.
fn record<T: DeserializeOwned + Plausible>(
    item: &Value,
    index: usize,
    field: &str,
    rows: &mut Rows,
) -> Option<T> {
    let (path, message) = match serde_path_to_error::deserialize::<_, T>(item) {
        Ok(value) => match value.implausible() {
            None => return Some(value),
            Some(problem) => problem,
        },
        Err(e) => (e.path().to_string(), e.inner().to_string()),
    };
    let id = item
        .get("conversationId")
        .or_else(|| item.get("id"))
        .and_then(Value::as_str)
        .map(|id| format!(", id {}", clip(id)))
        .unwrap_or_default();
    let at = if path.is_empty() || path == "." {
        format!("{field}[{index}]")
    } else {
        format!("{field}[{index}].{path}")
    };
    rows.rejected_records.push((
        index as i64,
        format!("record {index}{id}: at `{at}`: {message}"),
    ));
    None
}

/// Values serde accepts but no real payload holds: an event before 2000 or from 2100 on
/// ([`Timestamp::is_plausible_event`]), an end before its start, a negative duration, size,
/// packet count or total. Such a record is rejected with the field, instead of reaching the
/// audit (where `conversationEnd: 0000-01-01` once stopped a whole night, and an end before the
/// start made an answered call a "short interaction").
trait Plausible {
    /// The first implausible field (path within the record) and what is wrong with it.
    fn implausible(&self) -> Option<(String, String)>;
}

fn event(path: &str, time: Timestamp) -> Option<(String, String)> {
    (!time.is_plausible_event()).then(|| {
        (
            path.to_string(),
            format!("{time} is not a plausible time (2000 to 2100)"),
        )
    })
}

fn span(
    path: &str,
    start_path: &str,
    start: Option<Timestamp>,
    end: Option<Timestamp>,
) -> Option<(String, String)> {
    match (start, end) {
        (Some(start), Some(end)) if end < start => Some((
            path.to_string(),
            format!("{end} is before `{start_path}` {start}"),
        )),
        _ => None,
    }
}

fn not_negative(path: &str, value: Option<i64>) -> Option<(String, String)> {
    value
        .filter(|v| *v < 0)
        .map(|v| (path.to_string(), format!("{v} is negative")))
}

/// The first implausible value among a segment's times.
fn segment_problem(at: &str, segment: &AnalyticsSegment) -> Option<(String, String)> {
    event(&format!("{at}.segmentStart"), segment.segment_start)
        .or_else(|| {
            segment
                .segment_end
                .and_then(|end| event(&format!("{at}.segmentEnd"), end))
        })
        .or_else(|| {
            span(
                &format!("{at}.segmentEnd"),
                "segmentStart",
                Some(segment.segment_start),
                segment.segment_end,
            )
        })
}

/// `AnalyticsConversation.originatingDirection`, as the SDK enumerates it. A finding records the
/// direction from a closed set, so another value (a new enum value, a broken one) is rejected
/// here, with its record, instead of stopping the audit of a whole night when it is sealed.
const ORIGINATING_DIRECTIONS: &[&str] = &["inbound", "outbound"];

/// The start of a value quoted in a message (an id or value can be megabytes long).
fn clip(text: &str) -> String {
    const SHOWN: usize = 64;
    if text.chars().count() <= SHOWN {
        text.to_string()
    } else {
        format!("{}...", text.chars().take(SHOWN).collect::<String>())
    }
}

impl Plausible for AnalyticsConversation {
    fn implausible(&self) -> Option<(String, String)> {
        if let Some(direction) = self
            .originating_direction
            .as_deref()
            .filter(|d| !ORIGINATING_DIRECTIONS.contains(d))
        {
            return Some((
                "originatingDirection".to_string(),
                format!(
                    "`{}` is not a direction Genesys Cloud sends ({})",
                    clip(direction),
                    ORIGINATING_DIRECTIONS.join(", ")
                ),
            ));
        }
        let times = event("conversationStart", self.conversation_start)
            .or_else(|| {
                self.conversation_end
                    .and_then(|end| event("conversationEnd", end))
            })
            .or_else(|| {
                span(
                    "conversationEnd",
                    "conversationStart",
                    Some(self.conversation_start),
                    self.conversation_end,
                )
            });
        if times.is_some() {
            return times;
        }
        for (p, participant) in self.participants.iter().enumerate() {
            for (s, session) in participant.sessions.iter().enumerate() {
                let at = format!("participants[{p}].sessions[{s}]");
                for (g, segment) in session.segments.iter().enumerate() {
                    if let Some(problem) = segment_problem(&format!("{at}.segments[{g}]"), segment)
                    {
                        return Some(problem);
                    }
                }
                for (n, stat) in session.media_endpoint_stats.iter().enumerate() {
                    let path = format!("{at}.mediaEndpointStats[{n}].receivedPackets");
                    if let Some(problem) = not_negative(&path, stat.received_packets) {
                        return Some(problem);
                    }
                }
            }
        }
        None
    }
}

impl Plausible for RecordingWire {
    fn implausible(&self) -> Option<(String, String)> {
        let fields = self
            .start_time
            .and_then(|t| event("startTime", t))
            .or_else(|| self.end_time.and_then(|t| event("endTime", t)))
            .or_else(|| span("endTime", "startTime", self.start_time, self.end_time))
            .or_else(|| self.creation_time.and_then(|t| event("creationTime", t)))
            .or_else(|| not_negative("outputDurationMs", self.output_duration_ms))
            .or_else(|| not_negative("outputSizeInBytes", self.output_size_in_bytes));
        if fields.is_some() {
            return fields;
        }
        self.annotations.iter().enumerate().find_map(|(n, a)| {
            not_negative(&format!("annotations[{n}].durationMs"), a.duration_ms).or_else(|| {
                not_negative(
                    &format!("annotations[{n}].absoluteDurationMs"),
                    a.absolute_duration_ms,
                )
            })
        })
    }
}

impl Plausible for RecordingJobWire {
    fn implausible(&self) -> Option<(String, String)> {
        [
            ("totalConversations", self.total_conversations),
            ("totalRecordings", self.total_recordings),
            ("totalSkippedRecordings", self.total_skipped_recordings),
            ("totalFailedRecordings", self.total_failed_recordings),
            ("totalProcessedRecordings", self.total_processed_recordings),
        ]
        .into_iter()
        .find_map(|(path, value)| not_negative(path, value))
    }
}

impl Plausible for ExportMetadataWire {
    fn implausible(&self) -> Option<(String, String)> {
        self.start_time
            .and_then(|t| event("startTime", t))
            .or_else(|| self.end_time.and_then(|t| event("endTime", t)))
            .or_else(|| span("endTime", "startTime", self.start_time, self.end_time))
            .or_else(|| not_negative("durationMs", self.duration_ms))
    }
}

impl Plausible for OrphanRecordingWire {
    fn implausible(&self) -> Option<(String, String)> {
        self.created_time
            .and_then(|t| event("createdTime", t))
            .or_else(|| not_negative("mediaSizeBytes", self.media_size_bytes))
    }
}

impl Plausible for FailedRecordingWire {
    fn implausible(&self) -> Option<(String, String)> {
        None
    }
}

/// A file holding one record: an implausible value rejects the file, named with the field.
fn plausible<T: Plausible>(value: T) -> Result<T, Rejected> {
    match value.implausible() {
        None => Ok(value),
        Some((path, message)) => Err(Rejected::Field { path, message }),
    }
}

/// The array under `key` of an object (an absent or null one is empty).
fn array_at<'v>(value: &'v Value, key: &str) -> &'v [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

#[derive(Default)]
struct Batcher {
    batch: ImportBatch,
    /// The path each input of `batch` was read from, in order: to name a file the store refuses.
    paths: Vec<PathBuf>,
    bytes: usize,
}

impl Batcher {
    fn add(&mut self, parsed: Parsed, path: &Path) {
        let index = self.batch.inputs.len();
        self.bytes += parsed.input.body.as_ref().map_or(0, Vec::len);
        self.batch.inputs.push(parsed.input);
        self.paths.push(path.to_path_buf());
        let rows = parsed.rows;
        self.batch
            .conversations
            .extend(rows.conversations.into_iter().map(|c| (index, c)));
        self.batch
            .recordings
            .extend(rows.recordings.into_iter().map(|r| (index, r)));
        self.batch
            .media
            .extend(rows.media.into_iter().map(|m| (index, m)));
        self.batch
            .jobs
            .extend(rows.jobs.into_iter().map(|j| (index, j)));
        self.batch
            .failed
            .extend(rows.failed.into_iter().map(|f| (index, f)));
        self.batch
            .orphans
            .extend(rows.orphans.into_iter().map(|o| (index, o)));
        self.batch
            .horizons
            .extend(rows.horizon.map(|horizon| (index, horizon)));
        self.batch
            .listings
            .extend(rows.listing.map(|listing| (index, listing)));
        self.batch.record_rejections.extend(
            rows.rejected_records
                .into_iter()
                .map(|(record, message)| (index, record, message)),
        );
    }

    fn is_full(&self) -> bool {
        self.batch.inputs.len() >= BATCH_FILES || self.bytes >= BATCH_BYTES
    }

    fn take(&mut self) -> (ImportBatch, Vec<PathBuf>) {
        self.bytes = 0;
        (
            std::mem::take(&mut self.batch),
            std::mem::take(&mut self.paths),
        )
    }

    /// Writes the batch; returns the number of conversations written. Any store error fails.
    async fn flush(&mut self, store: &impl EvidenceStore) -> Result<usize> {
        let (batch, _) = self.take();
        Ok(store.write_batch(&batch).await?.conversations)
    }

    /// Writes the batch of an import of files. When the store refuses it for something in it,
    /// the files are written again one by one, each in its own transaction: a file the store
    /// refuses alone is taken back out of `outcome` and rejected with the store's reason, and
    /// the others are stored. An error of the store itself still fails the import.
    async fn flush_files(
        &mut self,
        store: &impl EvidenceStore,
        outcome: &mut ImportOutcome,
        known: &mut HashSet<(String, String)>,
    ) -> Result<()> {
        let (batch, paths) = self.take();
        match store.write_batch(&batch).await {
            Ok(summary) => {
                outcome.conversations += summary.conversations;
                return Ok(());
            }
            Err(e) if !store.is_about_the_input(&e) => return Err(e),
            Err(e) => tracing::info!(
                "a batch of {} files was refused ({e}); storing them one by one",
                paths.len()
            ),
        }
        for (single, path) in batch.into_single_inputs().into_iter().zip(paths) {
            match store.write_batch(&single).await {
                Ok(summary) => outcome.conversations += summary.conversations,
                Err(e) if store.is_about_the_input(&e) => {
                    let Some(input) = single.inputs.first() else {
                        continue;
                    };
                    // Its record rejections were listed when it was parsed; the file is
                    // rejected whole instead.
                    outcome.rejected.retain(|r| r.path != path);
                    outcome.imported = outcome.imported.saturating_sub(1);
                    if let Some(count) = outcome.by_kind.get_mut(input.kind.as_str()) {
                        *count = count.saturating_sub(1);
                        if *count == 0 {
                            outcome.by_kind.remove(input.kind.as_str());
                        }
                    }
                    known.remove(&(input.source.clone(), input.sha256.clone()));
                    outcome.rejected.push(Rejection {
                        path,
                        message: Rejected::Unstorable(e).to_string(),
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// The files under a command-line path.
struct FileListing {
    root: PathBuf,
    /// The files in a stable (sorted) order, read a folder at a time.
    walk: FileWalk,
    /// Entries not read, with why: links leading out of the tree, special files.
    skipped: Vec<Rejection>,
}

/// What one entry of a folder is to an import.
enum TreeEntry {
    Folder(PathBuf),
    File(PathBuf),
    /// Not read, with why.
    Skipped(PathBuf, &'static str),
}

/// The entries of `dir` in name order, hidden ones (`.name`) left out. A link whose target is
/// outside the tree `tree` is not followed (an import of a folder reads that folder), and
/// sockets, pipes and devices are not read: both are [`TreeEntry::Skipped`] with why.
fn folder_entries(dir: &Path, tree: &Path) -> Result<Vec<TreeEntry>, Rejected> {
    let unlistable = |source| Rejected::Unlistable {
        dir: dir.to_path_buf(),
        source,
    };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unlistable)? {
        let entry = entry.map_err(unlistable)?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type().map_err(|source| Rejected::Unstattable {
            path: path.clone(),
            source,
        })?;
        entries.push(if kind.is_dir() {
            TreeEntry::Folder(path)
        } else if kind.is_file() {
            TreeEntry::File(path)
        } else if kind.is_symlink() {
            match std::fs::canonicalize(&path) {
                Ok(target) if !target.starts_with(tree) => TreeEntry::Skipped(
                    path,
                    "a link to a file outside the imported folder; not followed",
                ),
                Ok(target) if target.is_file() => TreeEntry::File(path),
                Ok(_) => TreeEntry::Skipped(path, "a link to a folder; not followed"),
                Err(_) => TreeEntry::Skipped(path, "a link whose target does not exist"),
            }
        } else {
            TreeEntry::Skipped(
                path,
                "not a regular file (a socket, pipe or device); not read",
            )
        });
    }
    // Name order within each folder, visited depth first, is the sorted order of the paths
    // (`Path`'s order compares component by component).
    entries.sort_by(|a, b| a.path().file_name().cmp(&b.path().file_name()));
    Ok(entries)
}

impl TreeEntry {
    fn path(&self) -> &Path {
        match self {
            TreeEntry::Folder(path) | TreeEntry::File(path) | TreeEntry::Skipped(path, _) => path,
        }
    }
}

/// The files of a tree in sorted path order, read one folder at a time: memory holds the
/// entries of the folders on the way down to the current one, not the tree's list of files
/// (an export tree of a night of a million conversations has two or three million).
struct FileWalk {
    tree: PathBuf,
    /// The entries still to visit of each folder from the root to the current one.
    open: Vec<std::vec::IntoIter<TreeEntry>>,
}

impl FileWalk {
    fn single(file: PathBuf) -> FileWalk {
        FileWalk {
            tree: PathBuf::new(),
            open: vec![vec![TreeEntry::File(file)].into_iter()],
        }
    }

    fn tree(root: &Path, tree: PathBuf) -> Result<FileWalk, Rejected> {
        let top = folder_entries(root, &tree)?;
        Ok(FileWalk {
            tree,
            open: vec![top.into_iter()],
        })
    }

    /// The next `count` files (fewer at the end of the tree).
    fn next_files(&mut self, count: usize) -> Result<Vec<PathBuf>, Rejected> {
        let mut files = Vec::with_capacity(count);
        while files.len() < count {
            let Some(folder) = self.open.last_mut() else {
                break;
            };
            match folder.next() {
                None => {
                    self.open.pop();
                }
                Some(TreeEntry::File(path)) => files.push(path),
                Some(TreeEntry::Folder(path)) => {
                    let entries = folder_entries(&path, &self.tree)?;
                    self.open.push(entries.into_iter());
                }
                // Named by the listing's first pass (see `list_files`).
                Some(TreeEntry::Skipped(..)) => {}
            }
        }
        Ok(files)
    }
}

/// Lists a command-line path: a file, or a folder's files (see [`folder_entries`] for what is
/// skipped). A folder is walked once here to find what cannot be listed, and what is skipped,
/// before anything is imported from it (a folder that cannot be listed rejects the whole path,
/// as it did when the listing was kept whole); the files are then read in a second walk.
fn list_files(arg: &Path) -> Result<FileListing, Rejected> {
    let meta = std::fs::metadata(arg).map_err(Rejected::Unreadable)?;
    if meta.is_file() {
        let root = arg.parent().map(Path::to_path_buf).unwrap_or_default();
        return Ok(FileListing {
            root,
            walk: FileWalk::single(arg.to_path_buf()),
            skipped: Vec::new(),
        });
    }
    let tree = std::fs::canonicalize(arg).map_err(Rejected::Unreadable)?;
    let mut skipped = Vec::new();
    let mut pending = vec![arg.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in folder_entries(&dir, &tree)? {
            match entry {
                TreeEntry::Folder(path) => pending.push(path),
                TreeEntry::File(_) => {}
                TreeEntry::Skipped(path, message) => skipped.push(Rejection {
                    path,
                    message: message.to_string(),
                }),
            }
        }
    }
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(FileListing {
        root: arg.to_path_buf(),
        walk: FileWalk::tree(arg, tree)?,
        skipped,
    })
}

/// The path recorded as the input's source: relative to the import root, `/`-separated, in
/// the lossless form of [`path_text`].
fn relative_source(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).unwrap_or(file);
    let components: Vec<&OsStr> = relative.components().map(|c| c.as_os_str()).collect();
    os_text(&components.join(OsStr::new("/")))
}

/// A path as recaudit stores and names it, lossless so that two different files never share a
/// row: a path that is valid UTF-8 and holds no backslash is itself; any other has each
/// backslash written `\\` and each byte that is not UTF-8 written `\xNN` (on Windows, each
/// unpaired surrogate `\uNNNN`). Text without a backslash is never an escaped form, and an
/// escaped form reads back to exactly one path, so no two paths give the same text.
pub fn path_text(path: &Path) -> String {
    os_text(path.as_os_str())
}

fn os_text(text: &OsStr) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        escape_bytes(text.as_bytes())
    }
    #[cfg(windows)]
    {
        use std::fmt::Write;
        use std::os::windows::ffi::OsStrExt;
        match text.to_str() {
            Some(valid) => escape_bytes(valid.as_bytes()),
            None => {
                let mut out = String::new();
                for unit in char::decode_utf16(text.encode_wide()) {
                    match unit {
                        Ok('\\') => out.push_str("\\\\"),
                        Ok(c) => out.push(c),
                        Err(e) => {
                            let _ = write!(out, "\\u{:04X}", e.unpaired_surrogate());
                        }
                    }
                }
                out
            }
        }
    }
    #[cfg(not(any(unix, windows)))]
    {
        escape_bytes(text.to_string_lossy().as_bytes())
    }
}

/// See [`path_text`].
fn escape_bytes(bytes: &[u8]) -> String {
    use std::fmt::Write;
    if let Ok(text) = std::str::from_utf8(bytes)
        && !text.contains('\\')
    {
        return text.to_string();
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02X}");
        }
    }
    out
}

/// What reading one file gave.
pub(super) enum FileRead {
    Parsed(Box<Parsed>),
    /// An NDJSON file not stored yet, hashed and sized (the input to store): it is read again
    /// as a stream and stored while it is parsed.
    Stream(RawInput),
    /// Already stored with the same source and this SHA-256.
    Unchanged(String),
    /// Not an input (a stray file in an export folder), with the reason.
    Ignored(String),
}

/// Reads, hashes and parses one file.
fn read_input(
    path: &Path,
    source: &str,
    known: &HashSet<(String, String)>,
    settings: &ImportSettings,
) -> Result<FileRead, Rejected> {
    let name = path.file_name().map(os_text).unwrap_or_default();
    if let Some(conversation_id) = export_conversation(path) {
        match export_file_kind(path, &name) {
            ExportFile::Media => {
                return read_export_media(path, source, &name, &conversation_id, known);
            }
            ExportFile::Json => {}
            ExportFile::Other(reason) => return Ok(FileRead::Ignored(reason)),
        }
        let body = read_whole(path, settings.max_json_bytes)?;
        let input = Hashed::of(&body, source);
        if known.contains(&(input.source.clone(), input.sha256.clone())) {
            return Ok(FileRead::Unchanged(input.sha256));
        }
        return parse_export_json(input, body, &name, &conversation_id)
            .map(|p| FileRead::Parsed(Box::new(p)));
    }

    let lower = name.to_ascii_lowercase();
    let ndjson = lower.ends_with(".ndjson") || lower.ends_with(".jsonl");
    if !ndjson && !lower.ends_with(".json") {
        return Err(Rejected::NotRecognised);
    }
    if ndjson {
        let (sha256, bytes) = hash_file(path)?;
        if known.contains(&(source.to_string(), sha256.clone())) {
            return Ok(FileRead::Unchanged(sha256));
        }
        return Ok(FileRead::Stream(RawInput {
            kind: InputKind::ConversationsNdjson,
            source: source.to_string(),
            received: Timestamp::now(),
            bytes,
            sha256,
            body: None,
            correlation_id: None,
        }));
    }
    let body = read_whole(path, settings.max_json_bytes)?;
    let input = Hashed::of(&body, source);
    if known.contains(&(input.source.clone(), input.sha256.clone())) {
        return Ok(FileRead::Unchanged(input.sha256));
    }
    parse_json(input, body, &lower).map(|p| FileRead::Parsed(Box::new(p)))
}

/// A JSON file's bytes, if it is no larger than `max` (checked before it is read, and again
/// while reading in case it grows).
fn read_whole(path: &Path, max: u64) -> Result<Vec<u8>, Rejected> {
    let file = File::open(path).map_err(Rejected::Unreadable)?;
    let size = file.metadata().map_err(Rejected::Unreadable)?.len();
    if size > max {
        return Err(Rejected::TooBig { size, max });
    }
    let mut body = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(max.saturating_add(1))
        .read_to_end(&mut body)
        .map_err(Rejected::Unreadable)?;
    if body.len() as u64 > max {
        return Err(Rejected::TooBig {
            size: body.len() as u64,
            max,
        });
    }
    Ok(body)
}

/// The SHA-256 (hex) and size of a file, read in 1 MiB pieces.
fn hash_file(path: &Path) -> Result<(String, i64), Rejected> {
    let mut file = File::open(path).map_err(Rejected::Unreadable)?;
    let mut hasher = Sha256::new();
    // Most files of an export tree are small: a buffer of their size (one more byte, to see
    // the end in one read) spares zeroing a mebibyte per file, 5% of an import's time.
    let size = file.metadata().map_or(0, |m| m.len());
    let mut buffer = vec![
        0u8;
        usize::try_from(size.saturating_add(1))
            .unwrap_or(1 << 20)
            .clamp(4096, 1 << 20)
    ];
    let mut bytes: u64 = 0;
    loop {
        let read = match file.read(&mut buffer) {
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Rejected::Unreadable(e)),
        };
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        bytes += read as u64;
    }
    let bytes = i64::try_from(bytes).map_err(|_| Rejected::Huge)?;
    Ok((hex::encode(hasher.finalize()), bytes))
}

/// A payload hashed and sized, before its shape says what kind of input it is.
pub(super) struct Hashed {
    source: String,
    received: Timestamp,
    bytes: i64,
    sha256: String,
    correlation_id: Option<String>,
}

impl Hashed {
    pub(super) fn of(body: &[u8], source: &str) -> Hashed {
        Hashed {
            source: source.to_string(),
            received: Timestamp::now(),
            bytes: body.len() as i64,
            sha256: hex::encode(Sha256::digest(body)),
            correlation_id: None,
        }
    }

    /// The raw input to store, once its kind is known.
    fn into_input(self, kind: InputKind, body: Vec<u8>) -> RawInput {
        RawInput {
            kind,
            source: self.source,
            received: self.received,
            bytes: self.bytes,
            sha256: self.sha256,
            body: Some(body),
            correlation_id: self.correlation_id,
        }
    }
}

/// The `conversation_id=` folder an export file sits in, if any.
fn export_conversation(path: &Path) -> Option<String> {
    export_conversation_in(
        path.parent()?
            .components()
            .filter_map(|c| c.as_os_str().to_str()),
    )
}

/// The innermost `conversation_id=` folder among `folders` (outermost first): of a local path's
/// parent, or of an object key's `/`-separated prefix.
pub(super) fn export_conversation_in<'a>(
    folders: impl DoubleEndedIterator<Item = &'a str>,
) -> Option<String> {
    folders.rev().find_map(|folder| {
        folder
            .strip_prefix("conversation_id=")
            .filter(|id| !id.is_empty())
            .map(str::to_string)
    })
}

/// Extensions of the media a recording export writes: the audio formats of the recording API
/// (`WAV`, `WEBM`, `WAV_ULAW`, `OGG_VORBIS`, `OGG_OPUS`, `MP3`), Opus as seen in real exports,
/// `EML` for email, `ZIP` for chat and messaging, MP4 for screen recordings.
const MEDIA_EXTENSIONS: &[&str] = &[
    "opus", "ogg", "oga", "wav", "mp3", "webm", "mp4", "eml", "zip",
];

/// What a file inside a `conversation_id=` folder is.
pub(super) enum ExportFile {
    /// A recording: `{recordingId}` or `{recordingId}.{media extension}`.
    Media,
    /// A JSON document: a sidecar, call metadata or a transcript (parsed, rejected if neither).
    Json,
    /// Not part of the export, with the reason it is ignored.
    Other(String),
}

/// The help article names each media file by its recording id ("The file name is the recording
/// id") and its sidecar `..._metadata.json`. A recording is `{id}.{media extension}` (the id made
/// of letters, digits, `-` and `_`), or a bare `{id}` when that id is a UUID, the form of every
/// Genesys Cloud id: a bare `README` or `notes` is not a recording.
fn export_file_kind(path: &Path, name: &str) -> ExportFile {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return ExportFile::Other(
            "a symbolic link, not a file the export wrote; not evidence".to_string(),
        );
    }
    export_name_kind(name)
}

/// What a file (or object) named `name` inside a `conversation_id=` folder is, by its name
/// alone (see [`export_file_kind`]).
pub(super) fn export_name_kind(name: &str) -> ExportFile {
    if name.ends_with(".json") {
        return ExportFile::Json;
    }
    let (stem, extension) = match name.split_once('.') {
        Some((stem, extension)) => (stem, Some(extension)),
        None => (name, None),
    };
    let id_like = !stem.is_empty()
        && stem.len() <= 128
        && stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    match extension {
        _ if !id_like => ExportFile::Other(
            "not named by a recording id (`{recordingId}.{ext}`); not evidence".to_string(),
        ),
        None if is_uuid(stem) => ExportFile::Media,
        None => ExportFile::Other(
            "no extension and not a recording id (a UUID); not evidence".to_string(),
        ),
        Some(ext) if MEDIA_EXTENSIONS.iter().any(|m| ext.eq_ignore_ascii_case(m)) => {
            ExportFile::Media
        }
        Some(ext) => ExportFile::Other(format!(
            "extension `.{ext}` is not a recording format ({}); not evidence",
            MEDIA_EXTENSIONS.join(", ")
        )),
    }
}

/// `8-4-4-4-12` hexadecimal digits, the form of every Genesys Cloud id.
fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn read_export_media(
    path: &Path,
    source: &str,
    name: &str,
    conversation_id: &str,
    known: &HashSet<(String, String)>,
) -> Result<FileRead, Rejected> {
    let (sha256, bytes) = hash_file(path)?;
    if known.contains(&(source.to_string(), sha256.clone())) {
        return Ok(FileRead::Unchanged(sha256));
    }
    Ok(export_media(
        source,
        name,
        conversation_id,
        sha256,
        bytes,
        None,
    ))
}

/// The input and row of an export media file (or object) named `name` in the folder of
/// `conversation_id`: stored as `source`, of `bytes` bytes, identified by `sha256`. That is the
/// SHA-256 of its bytes, except for an object `listing` says was not hashed: then the input is
/// an [`InputKind::ExportMediaObject`], `sha256` the listing's identity of the object, and the
/// media row has no hash.
pub(super) fn export_media(
    source: &str,
    name: &str,
    conversation_id: &str,
    sha256: String,
    bytes: i64,
    listing: Option<ObjectListing>,
) -> FileRead {
    let recording_id = name
        .split_once('.')
        .map_or(name, |(stem, _)| stem)
        .to_string();
    let hashed = listing.as_ref().is_none_or(|l| l.content_hashed);
    let kind = if hashed {
        InputKind::ExportMedia
    } else {
        InputKind::ExportMediaObject
    };
    FileRead::Parsed(Box::new(Parsed {
        input: RawInput {
            kind,
            source: source.to_string(),
            received: Timestamp::now(),
            bytes,
            sha256: sha256.clone(),
            body: None,
            correlation_id: None,
        },
        rows: Rows {
            media: vec![MediaRow {
                conversation_id: conversation_id.to_string(),
                file_name: name.to_string(),
                recording_id,
                path: source.to_string(),
                bytes,
                sha256: hashed.then_some(sha256),
            }],
            listing,
            ..Rows::default()
        },
    }))
}

pub(super) fn parse_export_json(
    input: Hashed,
    body: Vec<u8>,
    name: &str,
    conversation_id: &str,
) -> Result<Parsed, Rejected> {
    let mut rows = Rows::default();
    let kind = if name.ends_with("_call_metadata.json") || name.ends_with(".transcript.json") {
        // Call-level metadata and transcripts are kept as evidence; the audit reads neither.
        serde_json::from_slice::<Value>(&body).map_err(|e| located(&e))?;
        if name.ends_with(".transcript.json") {
            InputKind::ExportTranscript
        } else {
            InputKind::ExportCallMetadata
        }
    } else if let Some(media_name) = name.strip_suffix("_metadata.json") {
        let meta: ExportMetadataWire = plausible(typed(&body)?)?;
        let recording_id = media_name
            .split_once('.')
            .map_or(media_name, |(stem, _)| stem);
        if let Some(claimed) = meta
            .conversation_id
            .as_deref()
            .filter(|c| *c != conversation_id)
        {
            return Err(Rejected::OtherFolder {
                claimed: claimed.to_string(),
                folder: conversation_id.to_string(),
            });
        }
        if let Some(claimed) = meta.recording_id.as_deref().filter(|r| *r != recording_id) {
            return Err(Rejected::OtherName {
                claimed: claimed.to_string(),
                named: recording_id.to_string(),
            });
        }
        if recording_id.is_empty() {
            return Err(Rejected::NoRecordingId);
        }
        rows.recordings.push(RecordingRow {
            recording_id: recording_id.to_string(),
            source: RecordingSource::Export,
            conversation_id: conversation_id.to_string(),
            media: meta.media_type.as_deref().map(normalize_media),
            media_subtype: meta.media_subtype,
            file_state: None,
            start_time: meta.start_time,
            end_time: meta.end_time,
            duration_ms: meta.duration_ms,
            output_size_bytes: None,
            has_media_uris: false,
            delete_date: None,
            archive_date: None,
            exported_date: None,
            creation_time: None,
            paused_ms: 0,
            session_id: None,
            export_media_name: Some(media_name.to_string()),
            recording_file_role: None,
        });
        InputKind::ExportMetadata
    } else {
        return Err(Rejected::NotASidecar);
    };
    validate_ids(&rows)?;
    Ok(Parsed {
        input: input.into_input(kind, body),
        rows,
    })
}

/// NDJSON already in memory (a `.json` file or a response body holding several documents).
fn parse_ndjson(input: Hashed, body: Vec<u8>) -> Result<Parsed, Rejected> {
    let mut rows = Rows::default();
    for (index, line) in body.split(|b| *b == b'\n').enumerate() {
        ndjson_line(index, line, &mut rows)?;
    }
    Ok(Parsed {
        input: input.into_input(InputKind::ConversationsNdjson, body),
        rows,
    })
}

/// Parses line `index` (0-based) of an NDJSON file: a conversation goes to `rows.conversations`,
/// a conversation with a missing, bad or implausible value is rejected alone (in
/// `rows.rejected_records`). `Err` when the line is not JSON at all, or holds an unusable id:
/// the file is then not NDJSON of conversations and is rejected whole.
fn ndjson_line(index: usize, line: &[u8], rows: &mut Rows) -> Result<(), Rejected> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let number = index + 1;
    let mut deserializer = serde_json::Deserializer::from_slice(line);
    match serde_path_to_error::deserialize::<_, AnalyticsConversation>(&mut deserializer) {
        Ok(conversation) => {
            // Anything after the conversation on its line (a second document, garbage).
            if let Err(e) = deserializer.end() {
                return Err(Rejected::Syntax {
                    line: number,
                    column: e.column(),
                    message: strip_position(&e),
                });
            }
            match conversation.implausible() {
                None => {
                    check_id(
                        &conversation.conversation_id,
                        &format!("line {number}: field `conversationId`"),
                    )?;
                    rows.conversations.push(conversation);
                }
                Some((path, message)) => rows.rejected_records.push((
                    index as i64,
                    format!("record {index} (line {number}): at `{path}`: {message}"),
                )),
            }
        }
        // A line that is not JSON at all: the file is not NDJSON of conversations.
        Err(e) if e.inner().is_syntax() || e.inner().is_eof() => {
            let inner = e.inner();
            return Err(Rejected::Syntax {
                line: number,
                column: inner.column(),
                message: strip_position(inner),
            });
        }
        // One conversation with a missing or bad value: that line alone is rejected.
        Err(e) => {
            let inner = e.inner();
            rows.rejected_records.push((
                index as i64,
                format!(
                    "record {index} (line {number}, column {}): at `{}`: {}",
                    inner.column(),
                    e.path(),
                    strip_position(inner)
                ),
            ));
        }
    }
    Ok(())
}

/// What storing a streamed NDJSON file gave.
#[derive(Default)]
struct Streamed {
    conversations: usize,
    /// The first [`LISTED_RECORD_REJECTIONS`] record rejections.
    rejected_records: Vec<String>,
    /// How many more records were rejected.
    unlisted_rejections: usize,
}

/// Stores an NDJSON file while reading it line by line: each part of its bytes, with the
/// conversations and record rejections parsed from it, is written as soon as it is read, in
/// one transaction for the whole file, so an import holds one part of it at a time and stores
/// the file whole or not at all. `input` is the file as hashed before; the file is committed
/// only if the bytes read hash the same (else it changed while being read, and is rejected).
/// The inner `Err` rejects the file (nothing of it stored); the outer one is a store failure.
async fn stream_ndjson(
    store: &impl EvidenceStore,
    path: &Path,
    input: &RawInput,
    max_line: u64,
) -> Result<Result<Streamed, Rejected>> {
    let mut reader = match LineReader::open(path).await {
        Ok(reader) => reader,
        Err(e) => return Ok(Err(Rejected::Unreadable(e))),
    };
    let mut stream = match store.begin_streamed_input(input).await {
        Ok(stream) => stream,
        Err(e) if store.is_about_the_input(&e) => return Ok(Err(Rejected::Unstorable(e))),
        Err(e) => return Err(e),
    };
    // The file's bytes are read through tokio's file (its reads run on the blocking pool);
    // hashing and parsing a line is short work done here, part by part, so memory holds one
    // part and the buffers stay on this task.
    let result = match stream_parts(&mut stream, &mut reader, max_line).await {
        Ok(Ok(streamed)) => {
            let (sha256, bytes) = reader.finish();
            if sha256 != input.sha256 || bytes != input.bytes {
                Ok(Err(Rejected::Changed {
                    bytes: input.bytes,
                    sha256: input.sha256.clone(),
                    now_bytes: bytes,
                    now_sha256: sha256,
                }))
            } else {
                return match stream.commit().await {
                    Ok(summary) => Ok(Ok(Streamed {
                        conversations: summary.conversations,
                        ..streamed
                    })),
                    Err(e) if store.is_about_the_input(&e) => Ok(Err(Rejected::Unstorable(e))),
                    Err(e) => Err(e),
                };
            }
        }
        Ok(Err(message)) => Ok(Err(message)),
        Err(e) if store.is_about_the_input(&e) => Ok(Err(Rejected::Unstorable(e))),
        Err(e) => Err(e),
    };
    // Nothing of a rejected file stays; a failed rollback leaves the transaction to be rolled
    // back when its connection is reused, which is just as complete.
    if let Err(e) = stream.rollback().await {
        tracing::warn!("rolling back {}: {e}", path_text(path));
    }
    result
}

/// Reads the file to its end, parsing it line by line and writing part after part (see
/// [`stream_ndjson`]). `Ok(Ok)` with what was written; `Ok(Err)` rejects the file.
async fn stream_parts(
    stream: &mut impl StreamedWrite,
    reader: &mut LineReader,
    max_line: u64,
) -> Result<Result<Streamed, Rejected>> {
    let mut streamed = Streamed::default();
    let mut rows = Rows::default();
    let mut index = 0usize;
    loop {
        let step = match reader.step(max_line).await {
            Ok(step) => step,
            Err(e) => return Ok(Err(Rejected::Unreadable(e))),
        };
        match step {
            Step::End => break,
            Step::ChunkFull => {
                let part = std::mem::take(&mut rows);
                write_part(stream, reader.take_chunk(), part, &mut streamed).await?;
                continue;
            }
            Step::Line => {
                if let Err(rejected) = ndjson_line(index, reader.line(), &mut rows) {
                    return Ok(Err(rejected));
                }
            }
            Step::TooLong(length) => rows.rejected_records.push((
                index as i64,
                format!(
                    "record {index} (line {}): {length} bytes, more than the {max_line} bytes a record may have; not read (raise `max_json_bytes` in the `[import]` section of the configuration file to read it)",
                    index + 1
                ),
            )),
        }
        index += 1;
        if rows.conversations.len() >= PART_CONVERSATIONS {
            let part = std::mem::take(&mut rows);
            write_part(stream, reader.take_chunk(), part, &mut streamed).await?;
        }
    }
    write_part(stream, reader.take_chunk(), rows, &mut streamed).await?;
    Ok(Ok(streamed))
}

/// Writes a part of a streamed file: its bytes and the rows parsed from them.
async fn write_part(
    stream: &mut impl StreamedWrite,
    chunk: Vec<u8>,
    rows: Rows,
    streamed: &mut Streamed,
) -> Result<()> {
    let mut part = ImportBatch {
        conversations: rows.conversations.into_iter().map(|c| (0, c)).collect(),
        ..ImportBatch::default()
    };
    for (record, message) in rows.rejected_records {
        if streamed.rejected_records.len() < LISTED_RECORD_REJECTIONS {
            streamed.rejected_records.push(message.clone());
        } else {
            streamed.unlisted_rejections += 1;
        }
        part.record_rejections.push((0, record, message));
    }
    stream.write_part(chunk, &part).await
}

/// What [`LineReader::step`] read.
enum Step {
    /// A whole line, in [`LineReader::line`].
    Line,
    /// A whole line longer than the limit (its length): not kept.
    TooLong(u64),
    /// The bytes read since the last [`LineReader::take_chunk`] fill a part: store them before
    /// reading on (the line being read continues with the next step).
    ChunkFull,
    End,
}

/// Reads a file line by line while hashing it and keeping every byte read, in order, for the
/// store ([`LineReader::take_chunk`]). Holds at most one part of the file and one line (a line
/// longer than the limit is skipped, not kept).
struct LineReader {
    inner: tokio::io::BufReader<tokio::fs::File>,
    hasher: Sha256,
    bytes: u64,
    chunk: Vec<u8>,
    line: Vec<u8>,
    /// Bytes of the current line read so far, its newline included.
    line_length: u64,
    /// The current line was returned: the next step starts a new one.
    line_done: bool,
}

impl LineReader {
    async fn open(path: &Path) -> std::io::Result<LineReader> {
        Ok(LineReader {
            inner: tokio::io::BufReader::with_capacity(
                1024 * 1024,
                tokio::fs::File::open(path).await?,
            ),
            hasher: Sha256::new(),
            bytes: 0,
            chunk: Vec::new(),
            line: Vec::new(),
            line_length: 0,
            line_done: false,
        })
    }

    async fn step(&mut self, max_line: u64) -> std::io::Result<Step> {
        if self.line_done {
            self.line.clear();
            self.line_length = 0;
            self.line_done = false;
        }
        loop {
            if self.chunk.len() >= PART_BYTES {
                return Ok(Step::ChunkFull);
            }
            let available = match self.inner.fill_buf().await {
                Ok(available) => available,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                if self.line_length == 0 {
                    return Ok(Step::End);
                }
                self.line_done = true;
                return Ok(self.finished(max_line, false));
            }
            let room = PART_BYTES - self.chunk.len();
            let window = &available[..available.len().min(room)];
            let (used, ended) = match window.iter().position(|b| *b == b'\n') {
                Some(newline) => (newline + 1, true),
                None => (window.len(), false),
            };
            let piece = &window[..used];
            self.hasher.update(piece);
            self.chunk.extend_from_slice(piece);
            // A line is kept only while it is within the limit (and its newline).
            if self.line_length + used as u64 <= max_line.saturating_add(1) {
                self.line.extend_from_slice(piece);
            } else {
                self.line = Vec::new();
            }
            self.line_length += used as u64;
            self.bytes += used as u64;
            std::pin::Pin::new(&mut self.inner).consume(used);
            if ended {
                self.line_done = true;
                return Ok(self.finished(max_line, true));
            }
        }
    }

    fn finished(&self, max_line: u64, newline: bool) -> Step {
        let length = self.line_length - u64::from(newline);
        if length > max_line {
            Step::TooLong(length)
        } else {
            Step::Line
        }
    }

    fn line(&self) -> &[u8] {
        &self.line
    }

    fn take_chunk(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.chunk)
    }

    /// The SHA-256 (hex) and size of everything read.
    fn finish(self) -> (String, i64) {
        (
            hex::encode(self.hasher.finalize()),
            i64::try_from(self.bytes).unwrap_or(i64::MAX),
        )
    }
}

fn parse_json(input: Hashed, body: Vec<u8>, lower_name: &str) -> Result<Parsed, Rejected> {
    let mut deserializer = serde_json::Deserializer::from_slice(&body);
    let value = Value::deserialize(&mut deserializer).map_err(|e| located(&e))?;
    // More than whitespace after the first value: several JSON values in a .json file, which
    // is conversations written as NDJSON (each line is then read, and reported, on its own).
    if deserializer.end().is_err() {
        return parse_ndjson(input, body);
    }
    let mut rows = Rows::default();
    let kind = match classify(&value, lower_name) {
        Shape::ConversationPage => {
            // The envelope is checked whole; its conversations one by one.
            let mut envelope = value.clone();
            envelope["conversations"] = Value::Array(Vec::new());
            let envelope = serde_path_to_error::deserialize::<_, ConversationPage>(&envelope)
                .map_err(|e| Rejected::Field {
                    path: e.path().to_string(),
                    message: e.inner().to_string(),
                })?;
            rows.horizon = envelope.data_availability_date;
            rows.conversations = records(
                array_at(&value, "conversations"),
                "conversations",
                &mut rows,
            );
            InputKind::DetailsPage
        }
        Shape::Conversation => {
            rows.conversations
                .push(plausible(typed::<AnalyticsConversation>(&body)?)?);
            InputKind::Conversation
        }
        Shape::Conversations => {
            let items = value.as_array().map_or(&[][..], Vec::as_slice);
            rows.conversations = records(items, "", &mut rows);
            InputKind::Conversations
        }
        Shape::Recordings(source) => {
            recordings(&value, &body, source, &mut rows)?;
            if source == RecordingSource::Recording {
                InputKind::Recording
            } else {
                InputKind::RecordingMetadata
            }
        }
        Shape::Job => {
            rows.jobs
                .push(plausible(typed::<RecordingJobWire>(&body)?)?);
            InputKind::RecordingJob
        }
        Shape::JobsPage => {
            rows.jobs = records(array_at(&value, "entities"), "entities", &mut rows);
            InputKind::RecordingJobsPage
        }
        Shape::FailedPage => {
            rows.failed = failed_recordings(&value, &mut rows)?;
            InputKind::FailedRecordingsPage
        }
        Shape::OrphanPage => {
            let entries: Vec<OrphanRecordingWire> =
                records(array_at(&value, "entities"), "entities", &mut rows);
            rows.orphans = entries.into_iter().map(orphan_row).collect();
            InputKind::OrphanRecordingsPage
        }
        Shape::Orphan => {
            rows.orphans
                .push(orphan_row(plausible(typed::<OrphanRecordingWire>(&body)?)?));
            InputKind::OrphanRecording
        }
        Shape::Availability => {
            rows.horizon = Some(typed::<DataAvailabilityWire>(&body)?.data_availability_date);
            InputKind::DetailsAvailability
        }
        Shape::Unknown(why) => {
            return Err(Rejected::Unknown(why));
        }
    };
    validate_ids(&rows)?;
    Ok(Parsed {
        input: input.into_input(kind, body),
        rows,
    })
}

/// The recordings of a `Recording` or `RecordingMetadata` document: an array (each element
/// rejected alone when unusable) or a single object (rejected with the file).
fn recordings(
    value: &Value,
    body: &[u8],
    source: RecordingSource,
    rows: &mut Rows,
) -> Result<(), Rejected> {
    let Some(items) = value.as_array() else {
        let wire: RecordingWire = plausible(typed(body)?)?;
        rows.recordings.push(recording_row(wire, source)?);
        return Ok(());
    };
    for (index, item) in items.iter().enumerate() {
        let Some(wire) = record::<RecordingWire>(item, index, "", rows) else {
            continue;
        };
        match recording_row(wire, source) {
            Ok(row) => rows.recordings.push(row),
            Err(m) => rows
                .rejected_records
                .push((index as i64, format!("record {index}: {m}"))),
        }
    }
    Ok(())
}

/// The entries of a failedrecordings page, each with the job its URIs name. The envelope is
/// checked whole; its entries one by one.
fn failed_recordings(value: &Value, rows: &mut Rows) -> Result<Vec<FailedRow>, Rejected> {
    let mut envelope = value.clone();
    envelope["entities"] = Value::Array(Vec::new());
    let listing: Listing =
        serde_path_to_error::deserialize(&envelope).map_err(|e| Rejected::Field {
            path: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    let job_id = listing
        .self_uri
        .as_deref()
        .or(listing.first_uri.as_deref())
        .and_then(job_id_from_uri);
    let entries: Vec<FailedRecordingWire> = records(array_at(value, "entities"), "entities", rows);
    Ok(entries
        .into_iter()
        .map(|entry| FailedRow {
            job_id: job_id.clone(),
            recording_id: entry.recording.id,
            conversation_id: entry.conversation.id,
        })
        .collect())
}

#[derive(Debug, PartialEq)]
enum Shape {
    ConversationPage,
    Conversation,
    Conversations,
    Recordings(RecordingSource),
    Job,
    JobsPage,
    FailedPage,
    OrphanPage,
    Orphan,
    Availability,
    Unknown(&'static str),
}

/// Decides what a JSON document is from its keys. The file name is a hint only where the
/// shape cannot tell: an empty array, and `Recording` objects whose media fields were all null
/// (Genesys omits nulls, and then a `Recording` looks like `RecordingMetadata`).
fn classify(value: &Value, lower_name: &str) -> Shape {
    let name_says_recordings = lower_name.contains("recording") && !lower_name.contains("metadata");
    let recording_source = |objects: &[&serde_json::Map<String, Value>]| {
        let has_media_fields = objects
            .iter()
            .any(|o| RECORDING_ONLY_KEYS.iter().any(|k| o.contains_key(*k)));
        if has_media_fields || name_says_recordings {
            RecordingSource::Recording
        } else {
            RecordingSource::Metadata
        }
    };
    match value {
        Value::Object(object) => {
            let has = |key: &str| object.contains_key(key);
            if has("conversations") {
                Shape::ConversationPage
            } else if has("conversationId") && has("conversationStart") {
                Shape::Conversation
            } else if let Some(entities) = object.get("entities").and_then(Value::as_array) {
                let first = entities.first().and_then(Value::as_object);
                let uri = ["selfUri", "firstUri", "nextUri", "lastUri"]
                    .iter()
                    .find_map(|k| object.get(*k).and_then(Value::as_str))
                    .unwrap_or("");
                match first {
                    Some(e) if e.contains_key("conversation") && e.contains_key("recording") => {
                        Shape::FailedPage
                    }
                    Some(e) if e.contains_key("orphanStatus") || e.contains_key("providerType") => {
                        Shape::OrphanPage
                    }
                    Some(e)
                        if e.contains_key("recordingJobsQuery")
                            || e.contains_key("totalRecordings") =>
                    {
                        Shape::JobsPage
                    }
                    Some(_) => Shape::Unknown(
                        "a listing whose entities are neither failed recordings, orphans nor jobs",
                    ),
                    None if uri.contains("/failedrecordings") => Shape::FailedPage,
                    None if uri.contains("/orphanrecordings") => Shape::OrphanPage,
                    None if uri.contains("/recording/jobs") => Shape::JobsPage,
                    None => Shape::Unknown("an empty listing whose URIs do not say what it lists"),
                }
            } else if has("dataAvailabilityDate") && object.len() == 1 {
                Shape::Availability
            } else if has("orphanStatus") {
                Shape::Orphan
            } else if has("state")
                && (has("recordingJobsQuery") || has("totalRecordings") || has("percentProgress"))
            {
                Shape::Job
            } else if has("id") && (has("fileState") || has("conversationId") || has("media")) {
                Shape::Recordings(recording_source(&[object]))
            } else {
                Shape::Unknown("an object without conversations, recordings, jobs or orphans")
            }
        }
        Value::Array(items) => {
            let objects: Vec<&serde_json::Map<String, Value>> =
                items.iter().filter_map(Value::as_object).collect();
            if objects.len() != items.len() {
                return Shape::Unknown("an array of something other than objects");
            }
            if objects
                .iter()
                .all(|o| o.contains_key("conversationId") && o.contains_key("conversationStart"))
                && !objects.is_empty()
            {
                Shape::Conversations
            } else if objects.iter().all(|o| {
                ["id", "fileState", "media", "mediaSubtype", "annotations"]
                    .iter()
                    .any(|k| o.contains_key(*k))
            }) {
                // An empty array is what recordingmetadata returns for a conversation without
                // recordings; an element without `id` is a recording rejected alone.
                Shape::Recordings(recording_source(&objects))
            } else {
                Shape::Unknown("an array of objects that are neither conversations nor recordings")
            }
        }
        _ => Shape::Unknown("not a JSON object or array"),
    }
}

/// Parses the whole file as `T`, so serde reports the line and column of a bad value.
fn typed<T: DeserializeOwned>(body: &[u8]) -> Result<T, Rejected> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| with_path(&e))?;
    deserializer.end().map_err(|e| located(&e))?;
    Ok(value)
}

/// `line L, column C: at conversations[0].conversationStart: <what is wrong>`.
fn with_path(e: &serde_path_to_error::Error<serde_json::Error>) -> Rejected {
    let path = e.path().to_string();
    let inner = e.inner();
    if path.is_empty() || path == "." {
        located(inner)
    } else {
        Rejected::Value {
            line: inner.line(),
            column: inner.column(),
            path,
            message: strip_position(inner),
        }
    }
}

fn located(e: &serde_json::Error) -> Rejected {
    Rejected::Syntax {
        line: e.line(),
        column: e.column(),
        message: strip_position(e),
    }
}

/// serde_json appends " at line L column C"; recaudit puts the position first.
fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn recording_row(wire: RecordingWire, source: RecordingSource) -> Result<RecordingRow, Rejected> {
    let conversation_id = wire
        .conversation_id
        .clone()
        .filter(|c| !c.is_empty())
        .or_else(|| wire.self_uri.as_deref().and_then(conversation_from_uri))
        .ok_or_else(|| Rejected::NoConversation {
            recording: wire.id.clone(),
        })?;
    let paused_ms = wire
        .annotations
        .iter()
        .filter(|a| {
            a.reason
                .as_deref()
                .is_some_and(|r| PAUSE_REASONS.iter().any(|p| r.eq_ignore_ascii_case(p)))
        })
        .map(|a| a.duration_ms.or(a.absolute_duration_ms).unwrap_or(0).max(0))
        .fold(0i64, i64::saturating_add);
    Ok(RecordingRow {
        recording_id: wire.id,
        source,
        conversation_id,
        media: wire.media.as_deref().map(normalize_media),
        media_subtype: wire.media_subtype,
        file_state: wire.file_state.map(|s| s.to_ascii_uppercase()),
        start_time: wire.start_time,
        end_time: wire.end_time,
        duration_ms: wire.output_duration_ms,
        output_size_bytes: wire.output_size_in_bytes,
        has_media_uris: wire.media_uris.as_ref().is_some_and(|m| !m.is_empty()),
        delete_date: wire.delete_date,
        archive_date: wire.archive_date,
        exported_date: wire.exported_date,
        creation_time: wire.creation_time,
        paused_ms,
        session_id: wire.session_id,
        export_media_name: None,
        recording_file_role: wire.recording_file_role.map(|r| r.to_ascii_uppercase()),
    })
}

fn orphan_row(wire: OrphanRecordingWire) -> OrphanRow {
    let recording = wire.recording.as_ref();
    OrphanRow {
        orphan_id: wire.id.clone(),
        conversation_id: recording.and_then(|r| {
            r.conversation_id
                .clone()
                .or_else(|| r.self_uri.as_deref().and_then(conversation_from_uri))
        }),
        recording_id: recording.map(|r| r.id.clone()),
        media_type: wire.media_type.as_deref().map(normalize_media),
        file_state: wire.file_state,
        orphan_status: wire.orphan_status,
        created_time: wire.created_time,
        media_size_bytes: wire.media_size_bytes,
    }
}

/// Ids become keys in the store and values in ledger records: each must be non-empty and
/// encodable in a 256-character ledger field. Checked per file, so one bad id rejects its file
/// (named, with the record) instead of failing a whole audit later.
fn validate_ids(rows: &Rows) -> Result<(), Rejected> {
    let check = check_id;
    for (i, c) in rows.conversations.iter().enumerate() {
        check(
            &c.conversation_id,
            &format!("conversation {i}: field `conversationId`"),
        )?;
    }
    for (i, r) in rows.recordings.iter().enumerate() {
        check(&r.recording_id, &format!("record {i}: field `id`"))?;
        check(
            &r.conversation_id,
            &format!("record {i}: field `conversationId`"),
        )?;
    }
    for (i, f) in rows.failed.iter().enumerate() {
        check(
            &f.recording_id,
            &format!("entities[{i}]: field `recording.id`"),
        )?;
        check(
            &f.conversation_id,
            &format!("entities[{i}]: field `conversation.id`"),
        )?;
    }
    for (i, o) in rows.orphans.iter().enumerate() {
        check(&o.orphan_id, &format!("entities[{i}]: field `id`"))?;
        if let Some(conversation) = &o.conversation_id {
            check(
                conversation,
                &format!("entities[{i}]: field `recording.conversationId`"),
            )?;
        }
    }
    for (i, j) in rows.jobs.iter().enumerate() {
        check(&j.id, &format!("job {i}: field `id`"))?;
    }
    Ok(())
}

/// One id: non-empty, and encodable in a ledger field; `what` names it in the error.
fn check_id(id: &str, what: &str) -> Result<(), Rejected> {
    if id.trim().is_empty() {
        return Err(Rejected::EmptyId {
            what: what.to_string(),
        });
    }
    if !crate::pct::is_pct(&crate::pct::pct_encode(id)) {
        return Err(Rejected::LongId {
            what: what.to_string(),
            start: id.chars().take(40).collect(),
        });
    }
    Ok(())
}

/// `/api/v2/conversations/{id}/...` → `{id}`.
fn conversation_from_uri(uri: &str) -> Option<String> {
    let rest = uri.split("/conversations/").nth(1)?;
    let id = rest.split(['/', '?']).next()?;
    (!id.is_empty()).then(|| id.to_string())
}

/// `/api/v2/recording/jobs/{id}/failedrecordings...` → `{id}`.
fn job_id_from_uri(uri: &str) -> Option<String> {
    let rest = uri.split("/recording/jobs/").nth(1)?;
    let id = rest.split(['/', '?']).next()?;
    (!id.is_empty()).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The walk gives the files in the order of sorting the whole list of paths (what the
    /// import did when it kept the list), in pages of any size, and leaves out hidden ones.
    #[test]
    fn the_walk_gives_every_file_in_sorted_path_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        let names = [
            "a/b/2.json",
            "a/b/10.json",
            "a.b/x.json",
            "a/b.json",
            "a-c/z.json",
            "hour=9/conversation_id=ff/m.json",
            "hour=10/conversation_id=00/m.json",
            "hour=10/conversation_id=00/m.opus",
            "top.json",
            "B/upper.json",
            ".hidden/x.json",
            "a/.dot.json",
        ];
        for name in names {
            let path = root.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b"{}").unwrap();
        }
        std::fs::create_dir_all(root.join("empty/inner")).unwrap();
        let mut expected: Vec<PathBuf> = names
            .iter()
            .filter(|n| !n.starts_with('.') && !n.contains("/."))
            .map(|n| root.join(n))
            .collect();
        expected.sort();
        for page in [1, 3, 100] {
            let listing = list_files(&root).unwrap();
            assert!(listing.skipped.is_empty());
            let mut walk = listing.walk;
            let mut walked = Vec::new();
            loop {
                let next = walk.next_files(page).unwrap();
                if next.is_empty() {
                    break;
                }
                assert!(next.len() <= page);
                walked.extend(next);
            }
            assert_eq!(walked, expected, "pages of {page}");
        }
        let single = list_files(&root.join("top.json")).unwrap();
        assert_eq!(single.root, root);
        let mut walk = single.walk;
        assert_eq!(walk.next_files(5).unwrap(), [root.join("top.json")]);
        assert!(walk.next_files(5).unwrap().is_empty());
    }

    /// A link to a file outside the tree is skipped and named; one inside the tree is read.
    #[cfg(unix)]
    #[test]
    fn a_link_out_of_the_tree_is_skipped_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        std::fs::create_dir_all(root.join("x")).unwrap();
        std::fs::write(dir.path().join("outside.json"), b"{}").unwrap();
        std::fs::write(root.join("x/in.json"), b"{}").unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.json"), root.join("x/out.json"))
            .unwrap();
        std::os::unix::fs::symlink(root.join("x/in.json"), root.join("x/again.json")).unwrap();
        let listing = list_files(&root).unwrap();
        let skipped: Vec<&Path> = listing.skipped.iter().map(|r| r.path.as_path()).collect();
        assert_eq!(skipped, [root.join("x/out.json")]);
        let mut walk = listing.walk;
        assert_eq!(
            walk.next_files(10).unwrap(),
            [root.join("x/again.json"), root.join("x/in.json")]
        );
    }

    #[test]
    fn classifies_genesys_shapes() {
        assert_eq!(
            classify(&json!({"conversations": [], "cursor": "x"}), "p.json"),
            Shape::ConversationPage
        );
        assert_eq!(
            classify(&json!({"totalHits": 0, "conversations": null}), "p.json"),
            Shape::ConversationPage
        );
        assert_eq!(
            classify(
                &json!({"conversationId": "c", "conversationStart": "2026-07-14T00:00:00Z"}),
                "c.json"
            ),
            Shape::Conversation
        );
        assert_eq!(
            classify(&json!([]), "rm.json"),
            Shape::Recordings(RecordingSource::Metadata)
        );
        assert_eq!(
            classify(
                &json!([{"id": "r", "conversationId": "c", "fileState": "AVAILABLE"}]),
                "rm.json"
            ),
            Shape::Recordings(RecordingSource::Metadata)
        );
        assert_eq!(
            classify(
                &json!([{"id": "r", "conversationId": "c", "outputSizeInBytes": 0}]),
                "x.json"
            ),
            Shape::Recordings(RecordingSource::Recording)
        );
        assert_eq!(
            classify(
                &json!([{"id": "r", "conversationId": "c"}]),
                "c-recordings.json"
            ),
            Shape::Recordings(RecordingSource::Recording)
        );
        assert_eq!(
            classify(
                &json!({"id": "j", "state": "FULFILLED", "totalRecordings": 3}),
                "j.json"
            ),
            Shape::Job
        );
        assert_eq!(
            classify(
                &json!({"entities": [{"conversation": {"id": "c"}, "recording": {"id": "r"}}]}),
                "f.json"
            ),
            Shape::FailedPage
        );
        assert_eq!(
            classify(
                &json!({"entities": [], "selfUri": "/api/v2/recording/jobs/j/failedrecordings?pageNumber=1"}),
                "f.json"
            ),
            Shape::FailedPage
        );
        assert_eq!(
            classify(
                &json!({"entities": [{"id": "o", "orphanStatus": "NO_CONVERSATION"}]}),
                "o.json"
            ),
            Shape::OrphanPage
        );
        assert!(matches!(
            classify(&json!({"hello": 1}), "x.json"),
            Shape::Unknown(_)
        ));
    }

    #[test]
    fn ids_from_uris() {
        assert_eq!(
            conversation_from_uri("/api/v2/conversations/abc/recordingmetadata/r1").as_deref(),
            Some("abc")
        );
        assert_eq!(
            job_id_from_uri("/api/v2/recording/jobs/j1/failedrecordings?pageSize=25").as_deref(),
            Some("j1")
        );
        assert_eq!(job_id_from_uri("/api/v2/orphanrecordings"), None);
    }

    #[test]
    fn export_folder_is_found_in_the_path() {
        let path = Path::new("/x/org/year=2026/month=7/day=14/hour=15/conversation_id=abc/r.opus");
        assert_eq!(export_conversation(path).as_deref(), Some("abc"));
        assert_eq!(export_conversation(Path::new("/x/page.json")), None);
    }
}
