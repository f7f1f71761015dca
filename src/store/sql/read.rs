//! Reading the evidence of an audit window: one read [`Snapshot`], page by page.

use std::collections::{BTreeSet, HashMap};

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::statement::Statement;
use super::{Store, db};
use crate::error::{Error, Result};
use crate::store::EvidencePage;
use crate::store::evidence::{
    Conflict, Conversation, Evidence, FailedExport, MediaFile, Orphan, Participant,
    RecordingEvidence, RecordingSource, Segment, Session,
};
use crate::time::Timestamp;

/// The columns of an `evidence_conflicts e` row as evidence names them: conversation, kind,
/// and subject and other, where a `details-copies` row's raw input ids become their sources.
pub(super) const CONFLICT_COLUMNS: &str = "e.conversation_id, e.kind, CASE e.kind WHEN 'details-copies' THEN (SELECT source FROM raw_inputs WHERE id = CAST(e.subject AS BIGINT)) ELSE e.subject END, CASE e.kind WHEN 'details-copies' THEN (SELECT source FROM raw_inputs WHERE id = CAST(e.other AS BIGINT)) ELSE e.other END";

/// One consistent view of the database for a whole audit: a read transaction, so that an
/// import committed while the audit reads lands wholly after it (SQLite's WAL keeps the
/// snapshot of the transaction's first read until it ends; PostgreSQL's REPEATABLE READ
/// keeps the snapshot of its first statement; writers are not blocked). Dropping
/// it ends the transaction.
pub struct Snapshot {
    tx: sqlx::Transaction<'static, sqlx::Any>,
}

impl Snapshot {
    /// Ids of the conversations whose conversationStart lies in `[from, to)`, sorted.
    pub async fn window_ids(&mut self, from: Timestamp, to: Timestamp) -> Result<Vec<String>> {
        window_ids(&mut self.tx, from, to).await
    }

    /// The evidence of the given conversations (sorted ids, as [`Snapshot::window_ids`]
    /// returns them), ordered by conversation id.
    pub async fn load_evidence_for(&mut self, ids: &[String]) -> Result<EvidencePage> {
        evidence_for(&mut self.tx, ids).await
    }

    /// What evidence the snapshot holds for `[from, to)`.
    pub(crate) async fn coverage_facts(
        &mut self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<crate::store::CoverageFacts> {
        super::coverage::facts(&mut self.tx, from, to).await
    }
}

async fn window_ids(
    conn: &mut AnyConnection,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<String>> {
    sqlx::query_scalar("SELECT conversation_id FROM conversations WHERE conversation_start >= $1 AND conversation_start < $2 ORDER BY conversation_id")
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(conn)
        .await
        .map_err(db("listing the window's conversations"))
}

impl Store {
    /// Opens a [`Snapshot`]: everything an audit reads comes from one.
    pub async fn snapshot(&self) -> Result<Snapshot> {
        let tx = self
            .begin_read("starting the audit's read transaction")
            .await?;
        Ok(Snapshot { tx })
    }

    /// Ids of the conversations whose conversationStart lies in `[from, to)`, sorted.
    pub async fn window_ids(&self, from: Timestamp, to: Timestamp) -> Result<Vec<String>> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db("acquiring a connection"))?;
        window_ids(&mut conn, from, to).await
    }
}

/// Reads the evidence of `ids`. A stored value that cannot be read (a damaged or hand-edited
/// row) makes its conversation unjudgeable, not the whole audit: it is listed in
/// [`Evidence::unreadable`] and the audit gives that conversation an exception saying why.
async fn evidence_for(conn: &mut AnyConnection, ids: &[String]) -> Result<EvidencePage> {
    if ids.is_empty() {
        return Ok(EvidencePage::default());
    }
    // Every table is read by the page's ids, each an index lookup, so an audit reads its
    // window's rows and no others: not the other nights' conversations whose ids fall between
    // the page's first and last (a range read did, and cost grew with history).
    let rows: Vec<AnyRow> = fetch(conn, "SELECT conversation_id, conversation_start, conversation_end, originating_direction, division_ids, raw_input_id FROM conversations WHERE conversation_id IN {ids} ORDER BY conversation_id", ids)
        .await?;
    let mut page = PageBuilder::with_conversations(&rows)?;

    let tables: [(&str, &str, RowReader); 7] = [
        (
            "participant",
            "SELECT conversation_id, purpose, user_id, participant_name FROM participants WHERE conversation_id IN {ids} ORDER BY conversation_id, ordinal",
            read_participant,
        ),
        (
            "session",
            "SELECT conversation_id, participant_ordinal, session_id, media_type, direction, recording_flag, received_packets, ani, dnis FROM sessions WHERE conversation_id IN {ids} ORDER BY conversation_id, participant_ordinal, ordinal",
            read_session,
        ),
        (
            "segment",
            "SELECT conversation_id, participant_ordinal, session_ordinal, segment_type, segment_start, segment_end, disconnect_type, error_code, sip_response_codes, queue_id FROM segments WHERE conversation_id IN {ids} ORDER BY conversation_id, participant_ordinal, session_ordinal, ordinal",
            read_segment,
        ),
        (
            "recording",
            "SELECT conversation_id, recording_id, source, media, file_state, start_time, end_time, duration_ms, output_size_bytes, has_media_uris, delete_date, creation_time, paused_ms, export_media_name, raw_input_id, media_subtype, recording_file_role FROM recordings WHERE conversation_id IN {ids} ORDER BY conversation_id, recording_id, source",
            read_recording,
        ),
        (
            "export media file",
            "SELECT conversation_id, recording_id, file_name, bytes, sha256, raw_input_id FROM export_media WHERE conversation_id IN {ids} ORDER BY conversation_id, file_name",
            read_media_file,
        ),
        (
            "failed export",
            "SELECT conversation_id, job_id, recording_id, raw_input_id FROM failed_recordings WHERE conversation_id IN {ids} ORDER BY conversation_id, recording_id, job_id",
            read_failed_export,
        ),
        (
            "orphan recording",
            "SELECT conversation_id, orphan_id, recording_id, media_type, orphan_status, raw_input_id FROM orphan_recordings WHERE conversation_id IN {ids} ORDER BY conversation_id, orphan_id",
            read_orphan,
        ),
    ];
    for (what, sql, read) in tables {
        page.attach(fetch(conn, sql, ids).await?, what, read);
    }
    let conflicts = format!(
        "SELECT {}, e.raw_input_id FROM evidence_conflicts e WHERE e.conversation_id IN {{ids}} ORDER BY e.conversation_id, e.kind, e.subject, e.other",
        CONFLICT_COLUMNS
    );
    page.attach(
        fetch(conn, &conflicts, ids).await?,
        "conflict",
        read_conflict,
    );
    Ok(EvidencePage {
        evidence: page.evidence,
        raw_inputs: page.used,
    })
}

/// Reads one row into its conversation's evidence; returns the raw input the row came from,
/// when the table records it. It reads every value before it adds anything, so a row that
/// cannot be read adds nothing.
type RowReader = fn(&AnyRow, &mut Evidence) -> Result<Option<i64>>;

/// The evidence of a page being assembled, table by table.
struct PageBuilder {
    evidence: Vec<Evidence>,
    index: HashMap<String, usize>,
    used: BTreeSet<i64>,
}

impl PageBuilder {
    fn with_conversations(rows: &[AnyRow]) -> Result<PageBuilder> {
        let mut page = PageBuilder {
            evidence: Vec::with_capacity(rows.len()),
            index: HashMap::with_capacity(rows.len()),
            used: BTreeSet::new(),
        };
        for row in rows {
            let id: String = get(row, 0)?;
            page.index.insert(id.clone(), page.evidence.len());
            let mut conversation = Evidence {
                conversation: Conversation {
                    id,
                    ..Conversation::default()
                },
                ..Evidence::default()
            };
            let used = &mut page.used;
            let read = (|| -> Result<()> {
                // The input first: a row whose input is known counts as used even if a later
                // value cannot be read, as the run's chain of custody must show.
                used.insert(get(row, 5)?);
                let c = &mut conversation.conversation;
                c.start = time(row, 1)?;
                c.end = time(row, 2)?;
                c.direction = get(row, 3)?;
                c.division_ids = list(row, 4)?;
                Ok(())
            })();
            if let Err(e) = read {
                conversation
                    .unreadable
                    .push(format!("conversation row: {e}"));
            }
            page.evidence.push(conversation);
        }
        Ok(page)
    }

    /// Adds each row to the evidence of its conversation (rows of conversations not on the
    /// page are skipped); a row that cannot be read is named in that conversation's
    /// [`Evidence::unreadable`] as `what: why`.
    fn attach(&mut self, rows: Vec<AnyRow>, what: &str, read: RowReader) {
        for row in rows {
            let Some(at) = row
                .try_get::<&str, _>(0)
                .ok()
                .and_then(|id| self.index.get(id).copied())
            else {
                continue;
            };
            let target = &mut self.evidence[at];
            match read(&row, target) {
                Ok(Some(input)) => {
                    self.used.insert(input);
                }
                Ok(None) => {}
                Err(e) => target.unreadable.push(format!("{what}: {e}")),
            }
        }
    }
}

fn read_participant(row: &AnyRow, target: &mut Evidence) -> Result<Option<i64>> {
    let participant = Participant {
        purpose: get(row, 1)?,
        user_id: get(row, 2)?,
        name: get(row, 3)?,
        sessions: Vec::new(),
    };
    target.conversation.participants.push(participant);
    Ok(None)
}

fn read_session(row: &AnyRow, target: &mut Evidence) -> Result<Option<i64>> {
    let participant = ordinal(row, 1)?;
    let session = Session {
        session_id: get(row, 2)?,
        media_type: get(row, 3)?,
        direction: get(row, 4)?,
        recording_flag: get::<Option<i64>>(row, 5)?.map(|flag| flag != 0),
        received_packets: get(row, 6)?,
        ani: get(row, 7)?,
        dnis: get(row, 8)?,
        segments: Vec::new(),
    };
    target
        .conversation
        .participants
        .get_mut(participant)
        .ok_or_else(|| {
            Error::Corrupt(format!(
                "a session of participant {participant}, which is not stored"
            ))
        })?
        .sessions
        .push(session);
    Ok(None)
}

fn read_segment(row: &AnyRow, target: &mut Evidence) -> Result<Option<i64>> {
    let (p, s) = (ordinal(row, 1)?, ordinal(row, 2)?);
    let sip: Vec<String> = list(row, 8)?;
    let segment = Segment {
        segment_type: get(row, 3)?,
        start: time(row, 4)?
            .ok_or_else(|| Error::Corrupt("a segment without segmentStart".into()))?,
        end: time(row, 5)?,
        disconnect_type: get(row, 6)?,
        error_code: get(row, 7)?,
        sip_response_codes: sip.iter().filter_map(|c| c.parse().ok()).collect(),
        queue_id: get(row, 9)?,
    };
    target
        .conversation
        .participants
        .get_mut(p)
        .and_then(|participant| participant.sessions.get_mut(s))
        .ok_or_else(|| {
            Error::Corrupt(format!("a segment of session {p}/{s}, which is not stored"))
        })?
        .segments
        .push(segment);
    Ok(None)
}

fn read_recording(row: &AnyRow, target: &mut Evidence) -> Result<Option<i64>> {
    let source: String = get(row, 2)?;
    let source = RecordingSource::parse(&source)
        .ok_or_else(|| Error::Corrupt(format!("unknown recording source `{source}`")))?;
    let input = get(row, 14)?;
    let recording = RecordingEvidence {
        recording_id: get(row, 1)?,
        source,
        media: get(row, 3)?,
        file_state: get(row, 4)?,
        start: time(row, 5)?,
        end: time(row, 6)?,
        duration_ms: get(row, 7)?,
        output_size_bytes: get(row, 8)?,
        has_media_uris: get::<i64>(row, 9)? != 0,
        delete_date: time(row, 10)?,
        creation_time: time(row, 11)?,
        paused_ms: get(row, 12)?,
        export_media_name: get(row, 13)?,
        media_subtype: get(row, 15)?,
        file_role: get(row, 16)?,
    };
    target.recordings.push(recording);
    Ok(Some(input))
}

fn read_media_file(row: &AnyRow, target: &mut Evidence) -> Result<Option<i64>> {
    let input = get(row, 5)?;
    let file = MediaFile {
        recording_id: get(row, 1)?,
        file_name: get(row, 2)?,
        bytes: get(row, 3)?,
        sha256: get(row, 4)?,
    };
    target.media_files.push(file);
    Ok(Some(input))
}

fn read_failed_export(row: &AnyRow, target: &mut Evidence) -> Result<Option<i64>> {
    let job: String = get(row, 1)?;
    let input = get(row, 3)?;
    let failed = FailedExport {
        job_id: Some(job).filter(|j| !j.is_empty()),
        recording_id: get(row, 2)?,
    };
    target.failed_exports.push(failed);
    Ok(Some(input))
}

fn read_orphan(row: &AnyRow, target: &mut Evidence) -> Result<Option<i64>> {
    let input = get(row, 5)?;
    let orphan = Orphan {
        orphan_id: get(row, 1)?,
        recording_id: get(row, 2)?,
        media: get(row, 3)?,
        orphan_status: get(row, 4)?,
    };
    target.orphans.push(orphan);
    Ok(Some(input))
}

fn read_conflict(row: &AnyRow, target: &mut Evidence) -> Result<Option<i64>> {
    let kind: String = get(row, 1)?;
    let (subject, other): (String, String) = (get(row, 2)?, get(row, 3)?);
    let conflict = match kind.as_str() {
        "details-copies" => Conflict::DetailsCopies {
            kept: subject,
            other,
        },
        "recording-claimed" => Conflict::RecordingClaimed {
            recording_id: subject,
            other_conversation: other,
        },
        _ => return Err(Error::Corrupt(format!("unknown conflict kind `{kind}`"))),
    };
    let input = get(row, 4)?;
    target.conflicts.push(conflict);
    Ok(Some(input))
}

/// Runs `sql` with its `{ids}` replaced by the list of `ids`, each bound.
async fn fetch(conn: &mut AnyConnection, sql: &str, ids: &[String]) -> Result<Vec<AnyRow>> {
    let (head, tail) = sql.split_once("{ids}").unwrap_or((sql, ""));
    let mut query = Statement::new(head, conn);
    query.push_list(ids.iter().cloned()).push(tail);
    query
        .build()?
        .fetch_all(conn)
        .await
        .map_err(db("loading evidence"))
}

/// Column `index` of `row`. Flags are stored as integers on both backends: read them as
/// `i64` (`Any` decodes a `bool` only from a boolean column).
pub(super) fn get<'r, T>(row: &'r AnyRow, index: usize) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(index).map_err(db("decoding a row"))
}

fn ordinal(row: &AnyRow, index: usize) -> Result<usize> {
    let value: i64 = get(row, index)?;
    usize::try_from(value).map_err(|_| Error::Corrupt(format!("negative ordinal {value}")))
}

fn time(row: &AnyRow, index: usize) -> Result<Option<Timestamp>> {
    let text: Option<String> = get(row, index)?;
    text.map(|t| Timestamp::parse(&t).map_err(|e| Error::Corrupt(e.to_string())))
        .transpose()
}

pub(super) fn list(row: &AnyRow, index: usize) -> Result<Vec<String>> {
    let text: String = get(row, index)?;
    serde_json::from_str(&text).map_err(|e| Error::Corrupt(format!("bad list `{text}`: {e}")))
}
