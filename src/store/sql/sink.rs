//! The store as the sources' [`EvidenceStore`]: each operation is the store's own method of the
//! same name (writes in `write.rs`, pull progress in `pulls.rs`), and the backend's error codes
//! (SQLite's result codes, PostgreSQL's SQLSTATE) decide which write errors are about the
//! input.

use std::collections::{HashMap, HashSet};

use super::{Backend, Store, StreamedInput};
use crate::error::{Error, Result};
use crate::source::batch::{ImportBatch, KnownObject, PullState, RawInput, WriteSummary};
use crate::source::sink::{EvidenceStore, StreamedWrite};
use crate::time::Timestamp;

impl EvidenceStore for Store {
    type Streamed = StreamedInput;

    async fn known_inputs_among(&self, sources: &[String]) -> Result<HashSet<(String, String)>> {
        Store::known_inputs_among(self, sources).await
    }

    async fn known_objects_among(
        &self,
        sources: &[String],
    ) -> Result<HashMap<(String, String), KnownObject>> {
        Store::known_objects_among(self, sources).await
    }

    async fn stored_record_rejections(&self) -> Result<HashMap<(String, String), Vec<String>>> {
        Store::stored_record_rejections(self).await
    }

    async fn newest_input_id(&self) -> Result<i64> {
        Store::newest_input_id(self).await
    }

    async fn conflicts_since(&self, input: i64) -> Result<Vec<String>> {
        Store::conflicts_since(self, input).await
    }

    async fn write_batch(&self, batch: &ImportBatch) -> Result<WriteSummary> {
        Store::write_batch(self, batch).await
    }

    async fn begin_streamed_input(&self, input: &RawInput) -> Result<StreamedInput> {
        Store::begin_streamed_input(self, input).await
    }

    fn is_about_the_input(&self, error: &Error) -> bool {
        let Error::Database {
            source: sqlx::Error::Database(database),
            ..
        } = error
        else {
            return false;
        };
        let code = database.code().unwrap_or_default();
        match self.backend() {
            Backend::Sqlite => {
                let code = code.parse::<i32>().unwrap_or(1);
                // Primary result codes (the low byte of the extended code): SQLITE_PERM, BUSY,
                // LOCKED, NOMEM, READONLY, IOERR, CORRUPT, CANTOPEN, PROTOCOL, NOTADB.
                !matches!(code & 0xff, 3 | 5 | 6 | 7 | 8 | 10 | 11 | 14 | 15 | 26)
            }
            // SQLSTATE classes of the server and the session, not of the data: connection (08),
            // transaction rollback (40: serialization, deadlock), insufficient privilege
            // (42501), insufficient resources (53), program limits (54), object state (55),
            // operator intervention (57), system (58), configuration (F0), internal (XX).
            Backend::Postgres => {
                !(code == "42501"
                    || ["08", "25", "40", "53", "54", "55", "57", "58", "F0", "XX"]
                        .iter()
                        .any(|class| code.starts_with(class)))
            }
        }
    }

    async fn begin_pull(&self, from: Timestamp, to: Timestamp, api: &str) -> Result<PullState> {
        Store::begin_pull(self, from, to, api).await
    }

    async fn complete_pull(&self, from: Timestamp, to: Timestamp, api: &str) -> Result<()> {
        Store::complete_pull(self, from, to, api).await
    }

    async fn window_ids(&self, from: Timestamp, to: Timestamp) -> Result<Vec<String>> {
        Store::window_ids(self, from, to).await
    }

    async fn conversations_needing_metadata(
        &self,
        from: Timestamp,
        to: Timestamp,
        api: &str,
        media_types: Option<&[String]>,
    ) -> Result<Vec<String>> {
        Store::conversations_needing_metadata(self, from, to, api, media_types).await
    }
}

impl StreamedWrite for StreamedInput {
    async fn write_part(&mut self, chunk: Vec<u8>, rows: &ImportBatch) -> Result<()> {
        StreamedInput::write_part(self, chunk, rows).await
    }

    async fn commit(self) -> Result<WriteSummary> {
        StreamedInput::commit(self).await
    }

    async fn rollback(self) -> Result<()> {
        StreamedInput::rollback(self).await
    }
}
