//! The SQLite backend: the one place that speaks SQLite's dialect (`BEGIN IMMEDIATE`,
//! `INSERT OR IGNORE`, `?` placeholders, result codes).
//!
//! Opening a store creates the database file if needed, turns on WAL (readers never block the
//! nightly writer) and foreign keys, and applies the embedded migrations in `migrations/sqlite`.
//! Writes go through `Store::write_batch` and a [`RunTransaction`], each one transaction, so a
//! crash leaves either all of a batch or none of it. Rows are inserted with multi-row statements
//! because sqlx pays a worker-thread round trip per statement (measured during development: about
//! 35k rows/s one by one against 270k rows/s batched).
//!
//! Times are bound as canonical text (see [`crate::time`]), never through sqlx's chrono codec,
//! so what is read back is byte-identical to what was written and reports can be regenerated
//! byte for byte.

mod coverage;
mod holds;
mod ledger;
mod nights;
mod pulls;
mod read;
mod runs;
mod sink;
mod write;

pub(crate) use holds::MatterReportKey;
pub use read::Snapshot;
pub use runs::RunTransaction;
pub use write::StreamedInput;

use std::collections::HashSet;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use crate::error::{Error, Result};
use crate::lock::FileLock;
use crate::source::batch::KnownObject;
use crate::time::Timestamp;

/// Handle on the recaudit database.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    path: Option<PathBuf>,
}

impl Store {
    /// Opens (creating if missing) the database named by `url` and migrates it.
    ///
    /// Accepts `sqlite://path`, `sqlite:path` or a bare file path.
    pub async fn open(url: &str) -> Result<Store> {
        Store::connect(url, true).await
    }

    /// Opens the database named by `url` only if it exists: what the commands that only read
    /// use, so that a mistyped `--db` is an error instead of a new, empty database.
    pub async fn open_existing(url: &str) -> Result<Store> {
        Store::connect(url, false).await
    }

    /// The file the database named by `url` lives in (`None` for an in-memory database),
    /// without opening it: what `import` locks before it opens the store.
    pub fn file_of(url: &str) -> Result<Option<PathBuf>> {
        let options = Store::options(url)?;
        Ok(Some(options.get_filename().to_path_buf()).filter(|p| p.as_os_str() != ":memory:"))
    }

    fn options(url: &str) -> Result<SqliteConnectOptions> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Err(Error::Usage(
                "PostgreSQL is not supported by this build yet; use a sqlite:// database"
                    .to_string(),
            ));
        }
        let normalized = if url.starts_with("sqlite:") {
            url.to_string()
        } else {
            format!("sqlite://{url}")
        };
        SqliteConnectOptions::from_str(&normalized).map_err(|source| Error::Database {
            context: format!("invalid database URL `{url}`"),
            source,
        })
    }

    async fn connect(url: &str, create: bool) -> Result<Store> {
        let options = Store::options(url)?
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let path =
            Some(options.get_filename().to_path_buf()).filter(|p| p.as_os_str() != ":memory:");
        if !create && let Some(file) = path.as_ref().filter(|p| !p.exists()) {
            return Err(Error::NoDatabase(file.clone()));
        }
        if let Some(parent) = path
            .as_ref()
            .and_then(|p| p.parent())
            .filter(|p| !p.as_os_str().is_empty())
            && !parent.exists()
        {
            return Err(Error::Usage(format!(
                "cannot create database {}: directory {} does not exist",
                options.get_filename().display(),
                parent.display()
            )));
        }
        // Two processes opening a new database at once would both apply the migrations ("table
        // raw_inputs already exists"): whoever opens a file-backed store migrates it under the
        // exclusive lock of `<database>-lock` (beside SQLite's `-wal` and `-shm`).
        let migration_lock = match &path {
            Some(file) => FileLock::acquire(FileLock::beside(file, "-lock"), || ()).await?,
            None => FileLock::none(),
        };
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| Error::Database {
                context: format!("cannot open database `{url}`"),
                source,
            })?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|source| Error::Migration { source })?;
        drop(migration_lock);
        Ok(Store { pool, path })
    }

    /// The database file, when the store is file-backed.
    pub fn path(&self) -> Option<&PathBuf> {
        self.path.as_ref()
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Every (source, sha256) pair already stored: the importer skips those files, which is
    /// what makes re-importing a tree a no-op.
    pub(crate) async fn known_inputs(&self) -> Result<HashSet<(String, String)>> {
        let rows = sqlx::query("SELECT source, sha256 FROM raw_inputs")
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading known raw inputs"))?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get(0).map_err(db("reading raw input"))?,
                    row.try_get(1).map_err(db("reading raw input"))?,
                ))
            })
            .collect()
    }

    /// The inputs read from an object store, by (source, ETag). An object listed first and
    /// hashed later has both rows: they are read hashed last, so the map keeps the hashed one.
    pub(crate) async fn known_objects(
        &self,
    ) -> Result<std::collections::HashMap<(String, String), KnownObject>> {
        let rows = sqlx::query(
            "SELECT r.source, o.etag, r.sha256, o.content_hashed FROM object_listings o JOIN raw_inputs r ON r.id = o.raw_input_id ORDER BY o.content_hashed, r.id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading known objects"))?;
        rows.iter()
            .map(|row| {
                let get =
                    |i| -> Result<String> { row.try_get(i).map_err(db("reading a known object")) };
                let content_hashed: bool = row.try_get(3).map_err(db("reading a known object"))?;
                Ok((
                    (get(0)?, get(1)?),
                    KnownObject {
                        sha256: get(2)?,
                        content_hashed,
                    },
                ))
            })
            .collect()
    }

    /// The record rejections of stored inputs, by (source, sha256), so that re-importing an
    /// unchanged file names its rejected records again.
    pub(crate) async fn stored_record_rejections(
        &self,
    ) -> Result<std::collections::HashMap<(String, String), Vec<String>>> {
        let rows = sqlx::query(
            "SELECT r.source, r.sha256, j.message FROM record_rejections j JOIN raw_inputs r ON r.id = j.raw_input_id ORDER BY r.id, j.record",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading record rejections"))?;
        let mut by_input: std::collections::HashMap<(String, String), Vec<String>> =
            std::collections::HashMap::new();
        for row in rows {
            let key = (
                row.try_get(0).map_err(db("reading record rejections"))?,
                row.try_get(1).map_err(db("reading record rejections"))?,
            );
            by_input
                .entry(key)
                .or_default()
                .push(row.try_get(2).map_err(db("reading record rejections"))?);
        }
        Ok(by_input)
    }

    /// The id of the newest raw input (0 when there is none).
    pub(crate) async fn newest_input_id(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM raw_inputs")
            .fetch_one(&self.pool)
            .await
            .map_err(db("reading the newest raw input"))
    }

    /// The conflicts revealed by raw inputs newer than `input`, one sentence each (a recording
    /// claimed by two conversations is said once, not once per conversation).
    pub(crate) async fn conflicts_since(&self, input: i64) -> Result<Vec<String>> {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM evidence_conflicts e WHERE e.raw_input_id > ? ORDER BY e.kind, e.conversation_id, e.subject, e.other",
            read::CONFLICT_COLUMNS
        )))
        .bind(input)
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading conflicts"))?;
        Ok(rows
            .into_iter()
            .filter_map(|(conversation, kind, subject, other)| match kind.as_str() {
                "details-copies" => Some(format!(
                    "conversation {conversation}: its details in {other} differ from those in {subject}; the copy in {subject} is used (an ended copy wins, then the one imported last)"
                )),
                // Both conversations have a row; say it from the smaller id's side.
                _ if conversation < other => Some(format!(
                    "recording {subject} is claimed by conversations {conversation} and {other}; a recording belongs to one conversation, so neither can rely on it (conflicting-evidence)"
                )),
                _ => None,
            })
            .collect())
    }

    /// The newest details availability horizon any stored input states, if any does.
    pub async fn details_horizon(&self) -> Result<Option<Timestamp>> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db("acquiring a connection"))?;
        coverage::newest_horizon(&mut conn).await
    }

    /// Row counts of the main tables, for status output and tests.
    pub async fn counts(&self) -> Result<Vec<(&'static str, i64)>> {
        let mut counts = Vec::new();
        for table in [
            "raw_inputs",
            "conversations",
            "participants",
            "sessions",
            "segments",
            "recordings",
            "export_media",
            "recording_jobs",
            "failed_recordings",
            "orphan_recordings",
            "runs",
            "findings",
        ] {
            let sql = format!("SELECT COUNT(*) FROM {table}");
            let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&self.pool)
                .await
                .map_err(db("counting rows"))?;
            counts.push((table, count));
        }
        Ok(counts)
    }

    pub async fn close(self) {
        self.pool.close().await;
    }
}

/// Wraps a sqlx error with what recaudit was doing.
pub(crate) fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |source| Error::Database {
        context: context.to_string(),
        source,
    }
}
