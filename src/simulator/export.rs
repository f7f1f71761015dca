//! The synthetic org's S3 bulk export tree, as Genesys Cloud writes it:
//! `{org}/year=/month=/day=/hour=/conversation_id={id}/{recordingId}.opus` and its
//! `{recordingId}.opus_metadata.json` sidecar.
//!
//! [`conversation_files`] is the one function that makes the tree's files; a tree is an
//! iterator of them, of a built [`Org`] ([`Org::export_files`]) or of a [`Night`] built as it
//! is written ([`night_files`], what `recaudit sim export` writes, so that a night of any size
//! is never held whole). The same iterator is written into a folder ([`write_folder`]) or, with
//! the cargo feature `s3`, into a bucket (`upload`, `recaudit sim export --out
//! s3://BUCKET/PREFIX`), each file the object `PREFIX/` + its relative path.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::org::{Night, SimConversation};
use super::{Mix, Org, Scenario};
use crate::time::Timestamp;

/// One file of the tree: its path relative to the tree's root, `/` between folders (so also
/// its key under a bucket's prefix), and its bytes.
pub type ExportFile = (String, Vec<u8>);

impl Org {
    /// The org's export tree, a conversation's files at a time (in start order).
    pub fn export_files(&self) -> impl Iterator<Item = ExportFile> + '_ {
        self.conversations
            .iter()
            .flat_map(|conversation| conversation_files(&self.id, conversation))
    }

    /// Writes the org's export tree ([`Org::export_files`]) under `dir`; returns the number of
    /// files written.
    pub fn write_export(&self, dir: &Path) -> std::io::Result<usize> {
        write_folder(dir, self.export_files())
    }
}

/// The export tree of [`Org::generate`]'s org of the same arguments (the same files, in the
/// order the conversations are built rather than by start), built as it is consumed: only the
/// conversation being written is held.
pub fn night_files(
    seed: u64,
    count: usize,
    day: Timestamp,
    mix: &Mix,
) -> impl Iterator<Item = ExportFile> + use<> {
    let night = Night::new(seed, count, day, mix);
    let org = night.org_id().to_string();
    night.flat_map(move |conversation| conversation_files(&org, &conversation))
}

/// A night written as it is built, as [`night_files`] is, that also writes each conversation's
/// details, as `POST /api/v2/analytics/conversations/details/query` would return it, one JSON
/// object per line into `details` (the NDJSON `recaudit import` streams). Only the conversation
/// being written is held, so the generator's memory does not grow with the night.
pub struct NightExport<W: std::io::Write> {
    night: Night,
    org: String,
    pending: std::vec::IntoIter<ExportFile>,
    details: W,
    error: Option<std::io::Error>,
}

impl<W: std::io::Write> NightExport<W> {
    pub fn new(seed: u64, count: usize, day: Timestamp, mix: &Mix, details: W) -> NightExport<W> {
        let night = Night::new(seed, count, day, mix);
        NightExport {
            org: night.org_id().to_string(),
            night,
            pending: Vec::new().into_iter(),
            details,
            error: None,
        }
    }

    /// Flushes the details; the first write that failed, if one did (the iterator stops there).
    pub fn finish(mut self) -> std::io::Result<()> {
        match self.error.take() {
            Some(error) => Err(error),
            None => self.details.flush(),
        }
    }
}

impl<W: std::io::Write> Iterator for NightExport<W> {
    type Item = ExportFile;

    fn next(&mut self) -> Option<ExportFile> {
        loop {
            if let Some(file) = self.pending.next() {
                return Some(file);
            }
            if self.error.is_some() {
                return None;
            }
            let conversation = self.night.next()?;
            let line = serde_json::to_writer(&mut self.details, &conversation.details)
                .map_err(std::io::Error::from)
                .and_then(|()| self.details.write_all(b"\n"));
            if let Err(error) = line {
                self.error = Some(error);
                return None;
            }
            self.pending = conversation_files(&self.org, &conversation).into_iter();
        }
    }
}

/// The export files of one conversation of the org `org`, sidecar then audio for each
/// available recording (timestamps in the `+0000` form, date parts unpadded): failed exports
/// and recordings in error have no files, and the `export-media-missing` scenario has the
/// sidecar without the audio.
pub(crate) fn conversation_files(org: &str, conversation: &SimConversation) -> Vec<ExportFile> {
    use chrono::{Datelike, TimeZone, Timelike};
    if matches!(
        conversation.scenario,
        Scenario::ExportFailed | Scenario::RecordingError
    ) {
        return Vec::new();
    }
    let Some(start) = chrono::Utc
        .timestamp_millis_opt(conversation.start.millis())
        .single()
    else {
        return Vec::new();
    };
    let folder = format!(
        "{org}/year={}/month={}/day={}/hour={}/conversation_id={}",
        start.year(),
        start.month(),
        start.day(),
        start.hour(),
        conversation.id
    );
    let export_form = |t: Timestamp| t.to_string().replace('Z', "+0000");
    let medium = if conversation.scenario == Scenario::Callback {
        "Callback"
    } else {
        "Call"
    };
    let mut files = Vec::with_capacity(2 * conversation.audio_spans.len());
    for span in &conversation.audio_spans {
        let (id, begin, end) = (&span.recording_id, span.start, span.end);
        let subtype = conversation
            .recording_metadata
            .iter()
            .find(|m| m["id"].as_str() == Some(id.as_str()))
            .and_then(|m| m["mediaSubtype"].as_str())
            .unwrap_or("Trunk");
        let sidecar = json!({
            "mediaType": medium,
            "mediaSubtype": subtype,
            "provider": "edge",
            "userIds": [],
            "conversationId": conversation.id,
            "recordingId": id,
            "startTime": export_form(begin),
            "endTime": export_form(end),
            "durationMs": end.millis() - begin.millis(),
            "initialDirection": "inbound"
        });
        // A `Value` with string keys always serialises.
        let bytes = serde_json::to_vec_pretty(&sidecar).unwrap_or_default();
        files.push((format!("{folder}/{id}.opus_metadata.json"), bytes));
        if conversation.scenario != Scenario::ExportMediaMissing {
            let mut audio = b"OggS\x00\x02".to_vec();
            audio.extend_from_slice(id.as_bytes());
            files.push((format!("{folder}/{id}.opus"), audio));
        }
    }
    files
}

/// Writes the tree `files` under `dir`, one file at a time; returns the number written.
pub fn write_folder(
    dir: &Path,
    files: impl IntoIterator<Item = ExportFile>,
) -> std::io::Result<usize> {
    let mut written = 0;
    let mut made: Option<PathBuf> = None;
    for (path, bytes) in files {
        let file = dir.join(&path);
        // A conversation's files are consecutive: its folder is made once.
        if let Some(folder) = file.parent()
            && made.as_deref() != Some(folder)
        {
            std::fs::create_dir_all(folder)?;
            made = Some(folder.to_path_buf());
        }
        std::fs::write(&file, bytes)?;
        written += 1;
    }
    Ok(written)
}

#[cfg(feature = "s3")]
pub use bucket::{CONCURRENT_PUTS, upload};

#[cfg(feature = "s3")]
mod bucket {
    use std::sync::Arc;

    use futures_util::{StreamExt, TryStreamExt};
    use object_store::path::Path as ObjectPath;
    use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

    use super::ExportFile;
    use crate::error::Result;
    use crate::source::s3::{S3Url, write_error};

    /// Objects written at once. Each is small (a sidecar or the simulator's token audio), so
    /// the time is the round trips; the files in flight are all that is held in memory.
    pub const CONCURRENT_PUTS: usize = 16;

    /// Writes the tree `files` under `url`'s prefix in `bucket`, [`CONCURRENT_PUTS`] objects
    /// at a time, taking the next file from `files` as a put finishes (so a lazy tree, such as
    /// [`super::night_files`], is held only as the objects in flight). Returns the number of
    /// objects written. The bucket must exist; the first put that fails stops the upload with
    /// its key and the service's reason.
    pub async fn upload(
        files: impl IntoIterator<Item = ExportFile>,
        bucket: Arc<dyn ObjectStore>,
        url: &S3Url,
    ) -> Result<usize> {
        futures_util::stream::iter(files)
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
                        .map_err(|e| write_error(url, &key, &e))
                }
            })
            .buffer_unordered(CONCURRENT_PUTS)
            .try_fold(0, |written, one| async move { Ok(written + one) })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_night_built_as_it_is_written_has_the_files_of_the_generated_org() {
        let day = Timestamp::parse("2026-07-14T00:00:00Z").unwrap();
        let org = Org::generate(5, 400, day, &Mix::default());
        let mut built: Vec<ExportFile> = org.export_files().collect();
        let mut streamed: Vec<ExportFile> = night_files(5, 400, day, &Mix::default()).collect();
        assert!(built.len() > 400, "{}", built.len());
        built.sort();
        streamed.sort();
        assert!(built == streamed, "the streamed night differs");
        assert!(
            built
                .windows(2)
                .all(|pair| pair[0].0 != pair[1].0 && pair[0].0.starts_with(&org.id))
        );

        let mut details = Vec::new();
        let mut export = NightExport::new(5, 400, day, &Mix::default(), &mut details);
        let mut with_details: Vec<ExportFile> = export.by_ref().collect();
        export.finish().unwrap();
        with_details.sort();
        assert!(
            built == with_details,
            "the night written with its details differs"
        );
        let lines: Vec<serde_json::Value> = details
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| serde_json::from_slice(line).unwrap())
            .collect();
        let expected: Vec<&serde_json::Value> =
            org.conversations.iter().map(|c| &c.details).collect();
        let mut got: Vec<&serde_json::Value> = lines.iter().collect();
        let key = |v: &&serde_json::Value| v["conversationId"].as_str().unwrap_or("").to_string();
        got.sort_by_key(key);
        let mut expected = expected;
        expected.sort_by_key(key);
        assert!(got == expected, "the details lines differ from the org's");

        let dir = tempfile::tempdir().unwrap();
        assert_eq!(org.write_export(dir.path()).unwrap(), built.len());
        for (path, bytes) in &built {
            assert_eq!(
                &std::fs::read(dir.path().join(path)).unwrap(),
                bytes,
                "{path}"
            );
        }
    }
}
