//! Writing an import batch: raw inputs and the typed rows parsed from them, in one transaction.
//!
//! Most inputs are small and are written many to a batch, with multi-row statements. An input
//! read as a stream (an NDJSON file, which may be larger than memory or than one SQLite value)
//! is written on its own through [`StreamedInput`]: its bytes go to `raw_input_chunks` and its
//! rows to the typed tables part by part, all in one transaction, so memory is bounded by a
//! part while the file is still stored whole or not at all.

use std::collections::HashMap;

use sqlx::{Any, AnyConnection};

use super::pulls::write_progress;
use super::statement::{RowValues, Statement};
use super::{Store, db};
use crate::error::{Error, Result};
use crate::source::batch::{
    ImportBatch, MediaRow, OrphanRow, RawInput, RecordingRow, WriteSummary,
};
use crate::source::model::AnalyticsConversation;

/// SQLite accepts at most 32,766 bound parameters per statement (PostgreSQL 65,535); stay
/// well below both.
const MAX_BINDS: usize = 30_000;
/// Rows per multi-row INSERT (500 to 1,000 is where sqlx reaches rusqlite's speed).
const ROWS_PER_STATEMENT: usize = 1_000;

impl Store {
    /// Writes a batch in one write transaction (`Store::begin_write`): all of it or none of it, with the
    /// pull progress it carries.
    ///
    /// A conversation that arrives again replaces the stored copy (with its participants,
    /// sessions and segments), except that a copy without `conversationEnd` never replaces one
    /// that has it: Genesys details only grow, and a page fetched while a call was still up must
    /// not undo a later, complete one. Other rows are upserted by their natural keys.
    pub(crate) async fn write_batch(&self, batch: &ImportBatch) -> Result<WriteSummary> {
        let mut summary = WriteSummary::default();
        if batch.is_empty() {
            return Ok(summary);
        }
        let mut tx = self.begin_write("starting the import transaction").await?;
        let ids = insert_inputs(&mut tx, &batch.inputs).await?;
        let (replaced, kept) = write_rows(&mut tx, batch, &ids).await?;
        summary.conversations = replaced;
        summary.conversations_kept = kept;

        if let Some(progress) = &batch.progress {
            write_progress(&mut tx, progress).await?;
        }

        tx.commit().await.map_err(db("committing the import"))?;
        Ok(summary)
    }

    /// Starts storing one raw input whose bytes and rows arrive in parts (a file parsed as a
    /// stream): one write transaction, held until [`StreamedInput::commit`], so the
    /// file is stored whole or not at all. `input.body` is ignored: the bytes come with the parts.
    pub(crate) async fn begin_streamed_input(&self, input: &RawInput) -> Result<StreamedInput> {
        let mut tx = self.begin_write("starting the import transaction").await?;
        let header = RawInput {
            body: None,
            ..input.clone()
        };
        let ids = insert_inputs_encoded(&mut tx, std::slice::from_ref(&header), true).await?;
        Ok(StreamedInput {
            tx,
            id: ids[0],
            next_chunk: 0,
            summary: WriteSummary::default(),
        })
    }
}

/// A raw input being stored part by part (see `Store::begin_streamed_input`). Dropped
/// without `StreamedInput::commit`, nothing of it is stored.
pub struct StreamedInput {
    tx: sqlx::Transaction<'static, Any>,
    id: i64,
    next_chunk: i64,
    summary: WriteSummary,
}

impl StreamedInput {
    /// Stores the next piece of the input's bytes (`raw_input_chunks`) and the rows parsed
    /// from it. `rows.inputs` must be empty; every row's input index is 0, this input.
    pub(crate) async fn write_part(&mut self, chunk: Vec<u8>, rows: &ImportBatch) -> Result<()> {
        if !chunk.is_empty() {
            sqlx::query(
                "INSERT INTO raw_input_chunks (raw_input_id, ordinal, bytes) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(self.id)
            .bind(self.next_chunk)
            .bind(gzip(&chunk))
            .execute(&mut *self.tx)
            .await
            .map_err(db("writing to raw_input_chunks"))?;
            self.next_chunk += 1;
        }
        let (replaced, kept) = write_rows(&mut self.tx, rows, &[self.id]).await?;
        self.summary.conversations += replaced;
        self.summary.conversations_kept += kept;
        Ok(())
    }

    /// Commits the input and everything written with it.
    pub(crate) async fn commit(self) -> Result<WriteSummary> {
        self.tx
            .commit()
            .await
            .map_err(db("committing the import"))?;
        Ok(self.summary)
    }

    /// Undoes everything written for this input.
    pub(crate) async fn rollback(self) -> Result<()> {
        self.tx
            .rollback()
            .await
            .map_err(db("rolling back the import"))
    }
}

/// Stores raw inputs and returns their ids in order: a fresh id for a new input, the stored
/// one for an input already there (same source, same bytes). The import skips inputs it has
/// stored before it opens the transaction; another worker may have stored the same one (a
/// listing or a page both windows see) between that check and this transaction's write lock,
/// and the rows parsed from it are then simply written again under its existing id.
async fn insert_inputs(tx: &mut AnyConnection, inputs: &[RawInput]) -> Result<Vec<i64>> {
    insert_inputs_encoded(tx, inputs, false).await
}

/// A body as stored: gzip (`body_encoding` 'gzip') when that is smaller, as JSON nearly always
/// is (by 3 to 10 times), else the bytes as received (NULL).
fn encoded_body(body: &[u8]) -> (Vec<u8>, Option<&'static str>) {
    let packed = gzip(body);
    if packed.len() < body.len() {
        (packed, Some(BodyEncoding::GZIP))
    } else {
        (body.to_vec(), None)
    }
}

/// One gzip member (RFC 1952) of `bytes`, at the fastest level: the import's time matters
/// more than the last tenth of the space.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// The encodings of `raw_inputs.body_encoding`.
pub(crate) struct BodyEncoding;

impl BodyEncoding {
    pub(crate) const GZIP: &'static str = "gzip";
}

/// [`insert_inputs`]; `streamed`: the inputs' bytes come as `raw_input_chunks`, each chunk
/// one gzip member.
async fn insert_inputs_encoded(
    tx: &mut AnyConnection,
    inputs: &[RawInput],
    streamed: bool,
) -> Result<Vec<i64>> {
    let mut stored: HashMap<(&str, &str), i64> = HashMap::new();
    for part in inputs.chunks(ROWS_PER_STATEMENT) {
        // By source, the first column of the (source, sha256) unique index: a lookup by
        // sha256 alone scanned the whole table, and made every import slower than the one
        // before (4x by the 31st night).
        let mut lookup = Statement::new(
            "SELECT sha256, source, id FROM raw_inputs WHERE source IN ",
            tx,
        );
        lookup.push_list(part.iter().map(|input| input.source.clone()));
        let rows: Vec<(String, String, i64)> = lookup
            .build_query_as()?
            .fetch_all(&mut *tx)
            .await
            .map_err(db("looking up stored raw inputs"))?;
        let mut by_hash: HashMap<String, Vec<(String, i64)>> = HashMap::new();
        for (sha256, source, id) in rows {
            by_hash.entry(sha256).or_default().push((source, id));
        }
        for input in part {
            let found = by_hash
                .get(input.sha256.as_str())
                .and_then(|same| same.iter().find(|(source, _)| *source == input.source));
            if let Some((_, id)) = found {
                stored.insert((input.source.as_str(), input.sha256.as_str()), *id);
            }
        }
    }
    let mut next_id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM raw_inputs")
        .fetch_one(&mut *tx)
        .await
        .map_err(db("allocating raw input ids"))?;
    let mut ids = Vec::with_capacity(inputs.len());
    let mut new = Vec::new();
    for input in inputs {
        let key = (input.source.as_str(), input.sha256.as_str());
        let id = match stored.get(&key) {
            Some(id) => *id,
            None => {
                let id = next_id;
                next_id += 1;
                stored.insert(key, id);
                new.push((input, id));
                id
            }
        };
        ids.push(id);
    }
    insert_rows(
        tx,
        "INSERT INTO raw_inputs (id, kind, source, received, bytes, sha256, body, correlation_id, body_encoding) ",
        "",
        9,
        new,
        |b, (input, id)| {
            let (body, encoding) = match &input.body {
                Some(body) => {
                    let (body, encoding) = encoded_body(body);
                    (Some(body), encoding)
                }
                None => (None, streamed.then_some(BodyEncoding::GZIP)),
            };
            b.push_bind(id)
                .push_bind(input.kind.as_str())
                .push_bind(input.source.clone())
                .push_bind(input.received.to_string())
                .push_bind(input.bytes)
                .push_bind(input.sha256.clone())
                .push_bind(body)
                .push_bind(input.correlation_id.clone())
                .push_bind(encoding.map(str::to_string));
        },
    )
    .await?;
    Ok(ids)
}

/// Writes the typed rows of a batch whose inputs have the ids `ids` (a row's input index picks
/// its id). Returns the conversations written and kept, as [`write_conversations`] does.
async fn write_rows(
    tx: &mut AnyConnection,
    batch: &ImportBatch,
    ids: &[i64],
) -> Result<(usize, usize)> {
    write_input_notes(&mut *tx, batch, ids).await?;
    let written = write_conversations(&mut *tx, &batch.conversations, ids).await?;
    // Before the recordings are written: the claims are compared with the stored ones.
    record_claim_conflicts(&mut *tx, &batch.recordings, ids).await?;
    write_recordings(&mut *tx, &batch.recordings, ids).await?;
    write_export_media(&mut *tx, &batch.media, ids).await?;
    write_jobs(&mut *tx, batch, ids).await?;
    write_orphans(&mut *tx, &batch.orphans, ids).await?;
    Ok(written)
}

/// What the batch says about its inputs themselves: records rejected alone, and the details
/// availability horizons the inputs state.
async fn write_input_notes(tx: &mut AnyConnection, batch: &ImportBatch, ids: &[i64]) -> Result<()> {
    insert_rows(
        &mut *tx,
        "INSERT INTO record_rejections (raw_input_id, record, message) ",
        " ON CONFLICT DO NOTHING",
        3,
        batch.record_rejections.iter(),
        |b, (input, record, message)| {
            b.push_bind(ids[*input])
                .push_bind(*record)
                .push_bind(message.clone());
        },
    )
    .await?;

    insert_rows(
        &mut *tx,
        "INSERT INTO object_listings (raw_input_id, etag, version, modified, content_hashed) ",
        " ON CONFLICT DO NOTHING",
        5,
        batch.listings.iter(),
        |b, (input, listing)| {
            b.push_bind(ids[*input])
                .push_bind(listing.etag.clone())
                .push_bind(listing.version.clone())
                .push_bind(listing.modified.to_string())
                .push_bind(listing.content_hashed);
        },
    )
    .await?;

    insert_rows(
        &mut *tx,
        "INSERT INTO details_horizons (raw_input_id, horizon) ",
        " ON CONFLICT DO NOTHING",
        2,
        batch.horizons.iter(),
        |b, (input, horizon)| {
            b.push_bind(ids[*input]).push_bind(horizon.to_string());
        },
    )
    .await
}

/// Recording evidence, upserted by (recording id, source).
async fn write_recordings(
    tx: &mut AnyConnection,
    recordings: &[(usize, RecordingRow)],
    ids: &[i64],
) -> Result<()> {
    insert_rows(
        &mut *tx,
        "INSERT INTO recordings (recording_id, source, conversation_id, media, media_subtype, file_state, start_time, end_time, duration_ms, output_size_bytes, has_media_uris, delete_date, archive_date, exported_date, creation_time, paused_ms, session_id, export_media_name, recording_file_role, raw_input_id) ",
        " ON CONFLICT (recording_id, source) DO UPDATE SET conversation_id = excluded.conversation_id, media = excluded.media, media_subtype = excluded.media_subtype, file_state = excluded.file_state, start_time = excluded.start_time, end_time = excluded.end_time, duration_ms = excluded.duration_ms, output_size_bytes = excluded.output_size_bytes, has_media_uris = excluded.has_media_uris, delete_date = excluded.delete_date, archive_date = excluded.archive_date, exported_date = excluded.exported_date, creation_time = excluded.creation_time, paused_ms = excluded.paused_ms, session_id = excluded.session_id, export_media_name = excluded.export_media_name, recording_file_role = excluded.recording_file_role, raw_input_id = excluded.raw_input_id",
        20,
        recordings.iter(),
        |b, (input, r)| {
            b.push_bind(r.recording_id.clone())
                .push_bind(r.source.as_str())
                .push_bind(r.conversation_id.clone())
                .push_bind(r.media.clone())
                .push_bind(r.media_subtype.clone())
                .push_bind(r.file_state.clone())
                .push_bind(r.start_time.map(|t| t.to_string()))
                .push_bind(r.end_time.map(|t| t.to_string()))
                .push_bind(r.duration_ms)
                .push_bind(r.output_size_bytes)
                .push_bind(r.has_media_uris)
                .push_bind(r.delete_date.map(|t| t.to_string()))
                .push_bind(r.archive_date.map(|t| t.to_string()))
                .push_bind(r.exported_date.map(|t| t.to_string()))
                .push_bind(r.creation_time.map(|t| t.to_string()))
                .push_bind(r.paused_ms)
                .push_bind(r.session_id.clone())
                .push_bind(r.export_media_name.clone())
                .push_bind(r.recording_file_role.clone())
                .push_bind(ids[*input]);
        },
    )
    .await
}

/// Media files of an export tree, upserted by (conversation, file name).
async fn write_export_media(
    tx: &mut AnyConnection,
    media: &[(usize, MediaRow)],
    ids: &[i64],
) -> Result<()> {
    insert_rows(
        &mut *tx,
        "INSERT INTO export_media (conversation_id, file_name, recording_id, path, bytes, sha256, raw_input_id) ",
        " ON CONFLICT (conversation_id, file_name) DO UPDATE SET recording_id = excluded.recording_id, path = excluded.path, bytes = excluded.bytes, sha256 = excluded.sha256, raw_input_id = excluded.raw_input_id",
        7,
        media.iter(),
        |b, (input, m)| {
            b.push_bind(m.conversation_id.clone())
                .push_bind(m.file_name.clone())
                .push_bind(m.recording_id.clone())
                .push_bind(m.path.clone())
                .push_bind(m.bytes)
                .push_bind(m.sha256.clone())
                .push_bind(ids[*input]);
        },
    )
    .await
}

/// Bulk export jobs and their failed recordings, upserted by job (and recording).
async fn write_jobs(tx: &mut AnyConnection, batch: &ImportBatch, ids: &[i64]) -> Result<()> {
    insert_rows(
        &mut *tx,
        "INSERT INTO recording_jobs (job_id, state, action, date_created, total_conversations, total_recordings, total_skipped_recordings, total_failed_recordings, total_processed_recordings, error_message, raw_input_id) ",
        " ON CONFLICT (job_id) DO UPDATE SET state = excluded.state, action = excluded.action, date_created = excluded.date_created, total_conversations = excluded.total_conversations, total_recordings = excluded.total_recordings, total_skipped_recordings = excluded.total_skipped_recordings, total_failed_recordings = excluded.total_failed_recordings, total_processed_recordings = excluded.total_processed_recordings, error_message = excluded.error_message, raw_input_id = excluded.raw_input_id",
        11,
        batch.jobs.iter(),
        |b, (input, j)| {
            b.push_bind(j.id.clone())
                .push_bind(j.state.clone())
                .push_bind(j.recording_jobs_query.as_ref().and_then(|q| q.action.clone()))
                .push_bind(j.date_created.map(|t| t.to_string()))
                .push_bind(j.total_conversations)
                .push_bind(j.total_recordings)
                .push_bind(j.total_skipped_recordings)
                .push_bind(j.total_failed_recordings)
                .push_bind(j.total_processed_recordings)
                .push_bind(j.error_message.clone())
                .push_bind(ids[*input]);
        },
    )
    .await?;

    insert_rows(
        &mut *tx,
        "INSERT INTO failed_recordings (job_id, recording_id, conversation_id, raw_input_id) ",
        " ON CONFLICT (job_id, recording_id) DO UPDATE SET conversation_id = excluded.conversation_id, raw_input_id = excluded.raw_input_id",
        4,
        batch.failed.iter(),
        |b, (input, f)| {
            b.push_bind(f.job_id.clone().unwrap_or_default())
                .push_bind(f.recording_id.clone())
                .push_bind(f.conversation_id.clone())
                .push_bind(ids[*input]);
        },
    )
    .await
}

/// Orphan recordings, upserted by orphan id.
async fn write_orphans(
    tx: &mut AnyConnection,
    orphans: &[(usize, OrphanRow)],
    ids: &[i64],
) -> Result<()> {
    insert_rows(
        &mut *tx,
        "INSERT INTO orphan_recordings (orphan_id, conversation_id, recording_id, media_type, file_state, orphan_status, created_time, media_size_bytes, raw_input_id) ",
        " ON CONFLICT (orphan_id) DO UPDATE SET conversation_id = excluded.conversation_id, recording_id = excluded.recording_id, media_type = excluded.media_type, file_state = excluded.file_state, orphan_status = excluded.orphan_status, created_time = excluded.created_time, media_size_bytes = excluded.media_size_bytes, raw_input_id = excluded.raw_input_id",
        9,
        orphans.iter(),
        |b, (input, o)| {
            b.push_bind(o.orphan_id.clone())
                .push_bind(o.conversation_id.clone())
                .push_bind(o.recording_id.clone())
                .push_bind(o.media_type.clone())
                .push_bind(o.file_state.clone())
                .push_bind(o.orphan_status.clone())
                .push_bind(o.created_time.map(|t| t.to_string()))
                .push_bind(o.media_size_bytes)
                .push_bind(ids[*input]);
        },
    )
    .await
}

/// A digest of a copy of a conversation's details as parsed: every field recaudit reads, so
/// two copies that differ only in fields it ignores are the same copy.
fn details_digest(conversation: &AnalyticsConversation) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(format!("{conversation:?}").as_bytes()))
}

/// Records recording ids claimed by two conversations (`recording-claimed`, both ways): by the
/// batch and a stored row, or by two rows of the batch. A recording belongs to one conversation
/// (`Recording.conversationId` is a single id, SDK `recording.py`), so the inputs disagree.
async fn record_claim_conflicts(
    tx: &mut AnyConnection,
    recordings: &[(usize, RecordingRow)],
    ids: &[i64],
) -> Result<()> {
    if recordings.is_empty() {
        return Ok(());
    }
    let mut claims: HashMap<&str, Vec<(String, i64)>> = HashMap::new();
    for (input, row) in recordings {
        claims
            .entry(row.recording_id.as_str())
            .or_default()
            .push((row.conversation_id.clone(), ids[*input]));
    }
    let wanted: Vec<&str> = claims.keys().copied().collect();
    let mut on_file: Vec<(String, String)> = Vec::new();
    for chunk in wanted.chunks(MAX_BINDS / 2) {
        let mut query = Statement::new(
            "SELECT DISTINCT recording_id, conversation_id FROM recordings WHERE recording_id IN ",
            tx,
        );
        query.push_list(chunk.iter().map(|id| id.to_string()));
        on_file.extend(
            query
                .build_query_as::<(String, String)>()?
                .fetch_all(&mut *tx)
                .await
                .map_err(db("reading stored recordings"))?,
        );
    }
    let mut stored_claims: HashMap<&str, Vec<&str>> = HashMap::new();
    for (recording, conversation) in &on_file {
        stored_claims
            .entry(recording.as_str())
            .or_default()
            .push(conversation.as_str());
    }
    let mut conflicts: Vec<(String, String, String, i64)> = Vec::new();
    for (recording, claimants) in &claims {
        let mut all: Vec<(String, i64)> = claimants.clone();
        all.extend(
            stored_claims
                .get(recording)
                .into_iter()
                .flatten()
                .map(|conversation| (conversation.to_string(), claimants[0].1)),
        );
        for (a, input) in claimants {
            for (b, _) in all.iter().filter(|(b, _)| b != a) {
                conflicts.push((a.clone(), recording.to_string(), b.clone(), *input));
                conflicts.push((b.clone(), recording.to_string(), a.clone(), *input));
            }
        }
    }
    insert_rows(
        tx,
        "INSERT INTO evidence_conflicts (conversation_id, kind, subject, other, raw_input_id) ",
        " ON CONFLICT DO NOTHING",
        5,
        conflicts.iter(),
        |b, (conversation, recording, other, input)| {
            b.push_bind(conversation.clone())
                .push_bind("recording-claimed")
                .push_bind(recording.clone())
                .push_bind(other.clone())
                .push_bind(*input);
        },
    )
    .await
}

/// Replaces conversations (and their children) by the batch's copies. Returns how many were
/// written and how many stored copies were kept because they were more complete.
async fn write_conversations(
    tx: &mut AnyConnection,
    conversations: &[(usize, AnalyticsConversation)],
    ids: &[i64],
) -> Result<(usize, usize)> {
    if conversations.is_empty() {
        return Ok((0, 0));
    }
    let copies = Copies::of(conversations);
    let stored = stored_copies(&mut *tx, &copies.order).await?;
    let digests: Vec<String> = conversations
        .iter()
        .map(|(_, c)| details_digest(c))
        .collect();
    let settled = settle(conversations, ids, &copies, &stored, &digests);
    insert_details_conflicts(&mut *tx, &settled.conflicts).await?;
    let selected: Vec<&(usize, AnalyticsConversation)> = settled
        .selected_at
        .iter()
        .map(|&at| &conversations[at])
        .collect();
    replace_conversations(&mut *tx, conversations, &settled.selected_at, ids, &digests).await?;
    insert_participants(&mut *tx, &selected).await?;
    insert_sessions(&mut *tx, &selected).await?;
    insert_segments(&mut *tx, &selected).await?;
    Ok((selected.len(), settled.kept))
}

/// The copies of each conversation in a batch, by position in the batch.
struct Copies<'a> {
    /// The copy the batch offers: the same conversation on two pages of one batch prefers an
    /// ended copy, then the later one.
    chosen: HashMap<&'a str, usize>,
    /// Every copy.
    all: HashMap<&'a str, Vec<usize>>,
    /// Conversation ids in the order they first appear.
    order: Vec<&'a str>,
}

impl<'a> Copies<'a> {
    fn of(conversations: &'a [(usize, AnalyticsConversation)]) -> Copies<'a> {
        let mut copies = Copies {
            chosen: HashMap::new(),
            all: HashMap::new(),
            order: Vec::new(),
        };
        for (at, entry) in conversations.iter().enumerate() {
            let id = entry.1.conversation_id.as_str();
            copies.all.entry(id).or_default().push(at);
            match copies.chosen.get(id) {
                None => {
                    copies.order.push(id);
                    copies.chosen.insert(id, at);
                }
                Some(&previous) => {
                    if entry.1.conversation_end.is_some()
                        || conversations[previous].1.conversation_end.is_none()
                    {
                        copies.chosen.insert(id, at);
                    }
                }
            }
        }
        copies
    }
}

/// A stored copy of a conversation: whether it has ended, its digest (`None` for rows stored
/// before digests were kept) and its raw input.
type StoredCopy = (bool, Option<String>, i64);

/// The stored copies of the conversations `order`.
async fn stored_copies(
    tx: &mut AnyConnection,
    order: &[&str],
) -> Result<HashMap<String, StoredCopy>> {
    let mut stored: HashMap<String, StoredCopy> = HashMap::new();
    for chunk in order.chunks(MAX_BINDS / 2) {
        let mut query = Statement::new(
            "SELECT conversation_id, CASE WHEN conversation_end IS NULL THEN 0 ELSE 1 END, content_sha256, raw_input_id FROM conversations WHERE conversation_id IN ",
            tx,
        );
        query.push_list(chunk.iter().map(|id| id.to_string()));
        let rows: Vec<(String, i64, Option<String>, i64)> = query
            .build_query_as()?
            .fetch_all(&mut *tx)
            .await
            .map_err(db("reading stored conversations"))?;
        stored.extend(
            rows.into_iter()
                .map(|(id, ended, digest, input)| (id, (ended != 0, digest, input))),
        );
    }
    Ok(stored)
}

/// Which copy of each conversation stays, and where copies differ.
struct Settled {
    /// Stored copies kept because they had ended and the batch's had not.
    kept: usize,
    /// Positions in the batch of the copies to write.
    selected_at: Vec<usize>,
    /// (conversation, kept copy's input, differing copy's input, the batch's input).
    conflicts: Vec<(String, i64, i64, i64)>,
}

/// Applies the rule of docs/RULES.md to every conversation of the batch: an ended copy beats
/// one that has not ended; otherwise the copy that arrived last. Pure: decides, writes nothing.
fn settle(
    conversations: &[(usize, AnalyticsConversation)],
    ids: &[i64],
    copies: &Copies<'_>,
    stored: &HashMap<String, StoredCopy>,
    digests: &[String],
) -> Settled {
    let mut kept = 0;
    let mut conflicts: Vec<(String, i64, i64, i64)> = Vec::new();
    let mut selected_at: Vec<usize> = Vec::with_capacity(copies.order.len());
    for id in &copies.order {
        let at = copies.chosen[id];
        let entry = &conversations[at];
        let new_input = ids[entry.0];
        let on_file = stored.get(*id);
        // The copy that stays, by the rule of docs/RULES.md: an ended copy beats one that has
        // not ended; otherwise the copy that arrived last.
        let (kept_input, kept_digest) = match on_file {
            Some((true, digest, input)) if entry.1.conversation_end.is_none() => {
                kept += 1;
                (*input, digest.clone())
            }
            _ => {
                selected_at.push(at);
                (new_input, Some(digests[at].clone()))
            }
        };
        let mut others: Vec<(i64, Option<String>)> = copies.all[id]
            .iter()
            .filter(|&&other| other != at)
            .map(|&other| (ids[conversations[other].0], Some(digests[other].clone())))
            .collect();
        if kept_input != new_input {
            others.push((new_input, Some(digests[at].clone())));
        } else if let Some((_, digest, input)) = on_file {
            others.push((*input, digest.clone()));
        }
        for (other_input, other_digest) in others {
            // Rows stored before digests were kept cannot be compared, and are not guessed at.
            if let (Some(a), Some(b)) = (&kept_digest, &other_digest)
                && a != b
                && other_input != kept_input
            {
                conflicts.push((id.to_string(), kept_input, other_input, new_input));
            }
        }
    }
    Settled {
        kept,
        selected_at,
        conflicts,
    }
}

/// Records differing copies of a conversation's details (`details-copies`).
async fn insert_details_conflicts(
    tx: &mut AnyConnection,
    conflicts: &[(String, i64, i64, i64)],
) -> Result<()> {
    insert_rows(
        tx,
        "INSERT INTO evidence_conflicts (conversation_id, kind, subject, other, raw_input_id) ",
        " ON CONFLICT DO NOTHING",
        5,
        conflicts.iter(),
        |b, (id, kept_input, other_input, input)| {
            b.push_bind(id.clone())
                .push_bind("details-copies")
                .push_bind(kept_input.to_string())
                .push_bind(other_input.to_string())
                .push_bind(*input);
        },
    )
    .await
}

/// Deletes the stored copies of the conversations at `selected_at` (their children go with
/// them) and inserts the batch's copies.
async fn replace_conversations(
    tx: &mut AnyConnection,
    conversations: &[(usize, AnalyticsConversation)],
    selected_at: &[usize],
    ids: &[i64],
    digests: &[String],
) -> Result<()> {
    for chunk in selected_at.chunks(MAX_BINDS / 2) {
        let mut query = Statement::new("DELETE FROM conversations WHERE conversation_id IN ", tx);
        query.push_list(
            chunk
                .iter()
                .map(|&at| conversations[at].1.conversation_id.clone()),
        );
        query
            .build()?
            .execute(&mut *tx)
            .await
            .map_err(db("replacing conversations"))?;
    }

    insert_rows(
        tx,
        "INSERT INTO conversations (conversation_id, conversation_start, conversation_end, originating_direction, division_ids, raw_input_id, content_sha256) ",
        "",
        7,
        selected_at.iter(),
        |b, &at| {
            let (input, c) = &conversations[at];
            b.push_bind(c.conversation_id.clone())
                .push_bind(c.conversation_start.to_string())
                .push_bind(c.conversation_end.map(|t| t.to_string()))
                .push_bind(c.originating_direction.clone())
                .push_bind(json_list(&c.division_ids))
                .push_bind(ids[*input])
                .push_bind(digests[at].clone());
        },
    )
    .await
}

async fn insert_participants(
    tx: &mut AnyConnection,
    selected: &[&(usize, AnalyticsConversation)],
) -> Result<()> {
    // Collected, not left lazy: a future holding an iterator of closures across `.await` is
    // not provably `Send` (a known limit of the compiler), and the sources' `EvidenceStore` asks for one.
    let participants: Vec<_> = selected
        .iter()
        .flat_map(|(_, c)| {
            c.participants
                .iter()
                .enumerate()
                .map(move |(p, participant)| (c, p, participant))
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO participants (conversation_id, ordinal, participant_id, purpose, user_id, participant_name) ",
        "",
        6,
        participants,
        |b, (c, p, participant)| {
            b.push_bind(c.conversation_id.clone())
                .push_bind(p as i64)
                .push_bind(participant.participant_id.clone())
                .push_bind(participant.purpose.clone().unwrap_or_default())
                .push_bind(participant.user_id.clone())
                .push_bind(participant.participant_name.clone());
        },
    )
    .await
}

async fn insert_sessions(
    tx: &mut AnyConnection,
    selected: &[&(usize, AnalyticsConversation)],
) -> Result<()> {
    let sessions: Vec<_> = selected
        .iter()
        .flat_map(|(_, c)| {
            c.participants
                .iter()
                .enumerate()
                .flat_map(move |(p, participant)| {
                    participant
                        .sessions
                        .iter()
                        .enumerate()
                        .map(move |(s, session)| (c, p, s, session))
                })
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO sessions (conversation_id, participant_ordinal, ordinal, session_id, media_type, direction, recording_flag, provider, edge_id, received_packets, ani, dnis) ",
        "",
        12,
        sessions,
        |b, (c, p, s, session)| {
            b.push_bind(c.conversation_id.clone())
                .push_bind(p as i64)
                .push_bind(s as i64)
                .push_bind(session.session_id.clone())
                .push_bind(session.media_type.clone().unwrap_or_default())
                .push_bind(session.direction.clone())
                .push_bind(session.recording)
                .push_bind(session.provider.clone())
                .push_bind(session.edge_id.clone())
                .push_bind(session.received_packets())
                .push_bind(session.ani.clone())
                .push_bind(session.dnis.clone());
        },
    )
    .await
}

async fn insert_segments(
    tx: &mut AnyConnection,
    selected: &[&(usize, AnalyticsConversation)],
) -> Result<()> {
    let segments: Vec<_> = selected
        .iter()
        .flat_map(|(_, c)| {
            c.participants
                .iter()
                .enumerate()
                .flat_map(move |(p, participant)| {
                    participant
                        .sessions
                        .iter()
                        .enumerate()
                        .flat_map(move |(s, session)| {
                            session
                                .segments
                                .iter()
                                .enumerate()
                                .map(move |(g, segment)| (c, p, s, g, segment))
                        })
                })
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO segments (conversation_id, participant_ordinal, session_ordinal, ordinal, segment_type, segment_start, segment_end, disconnect_type, error_code, sip_response_codes, queue_id) ",
        "",
        11,
        segments,
        |b, (c, p, s, g, segment)| {
            let sip: Vec<String> = segment.sip_response_codes.iter().map(|c| c.to_string()).collect();
            b.push_bind(c.conversation_id.clone())
                .push_bind(p as i64)
                .push_bind(s as i64)
                .push_bind(g as i64)
                .push_bind(segment.segment_type.clone().unwrap_or_default())
                .push_bind(segment.segment_start.to_string())
                .push_bind(segment.segment_end.map(|t| t.to_string()))
                .push_bind(segment.disconnect_type.clone())
                .push_bind(segment.error_code.clone())
                .push_bind(json_list(&sip))
                .push_bind(segment.queue_id.clone());
        },
    )
    .await
}

/// Inserts rows with multi-row statements of at most [`ROWS_PER_STATEMENT`] rows and
/// [`MAX_BINDS`] parameters. `head` ends before `VALUES`; `tail` follows the values list.
pub(super) async fn insert_rows<I, F>(
    tx: &mut AnyConnection,
    head: &str,
    tail: &str,
    columns: usize,
    rows: I,
    mut bind: F,
) -> Result<()>
where
    I: IntoIterator,
    F: FnMut(&mut RowValues<'_>, I::Item),
{
    let per_statement = ROWS_PER_STATEMENT.min(MAX_BINDS / columns.max(1));
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<I::Item> = rows.by_ref().take(per_statement).collect();
        let mut query = Statement::new(head, tx);
        query.push_values(chunk, &mut bind);
        query.push(tail);
        query
            .build()?
            .execute(&mut *tx)
            .await
            .map_err(|source| Error::Database {
                context: format!(
                    "writing to {}",
                    head.split_whitespace().nth(2).unwrap_or("the database")
                ),
                source,
            })?;
    }
    Ok(())
}

/// A list stored as a JSON array of strings.
pub(crate) fn json_list<S: AsRef<str>>(items: &[S]) -> String {
    let items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    serde_json::to_string(&items).unwrap_or_else(|_| "[]".to_string())
}
