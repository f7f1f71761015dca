//! `recaudit db copy`: moves a deployment from one database to another (SQLite to
//! PostgreSQL, or back), row for row.
//!
//! Every table is copied with its values as stored: the same ids, the same canonical times,
//! the same raw bytes. The ledger's records, leaf hashes and signed checkpoints are rows like
//! any other, so the copy's log is the original's, and `ledger verify` on the copy reproduces
//! the same checkpoints. The source is read in one snapshot; the target is written in one
//! transaction, so a copy that fails (or is interrupted) leaves the target as empty as it was.
//! The target must be empty: a copy never merges two histories.

use futures_util::TryStreamExt;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::statement::Statement;
use super::{Backend, Store, db};
use crate::error::{Error, Result};

/// Every table, parents before children (foreign keys point up the list). A table the schema
/// has and this list lacks stops the copy: a new migration must place its tables here.
const TABLES: &[&str] = &[
    "raw_inputs",
    "raw_input_chunks",
    "record_rejections",
    "object_listings",
    "details_horizons",
    "evidence_conflicts",
    "conversations",
    "participants",
    "sessions",
    "segments",
    "recordings",
    "export_media",
    "recording_jobs",
    "failed_recordings",
    "orphan_recordings",
    "pulls",
    "pull_metadata",
    "night_windows",
    "runs",
    "run_inputs",
    "findings",
    "ledger_entries",
    "ledger_runs",
    "ledger_checkpoints",
    "ledger_anchors",
    "legal_holds",
    "matter_reports",
];

/// Rows per insert statement while copying.
const ROWS_PER_INSERT: usize = 200;

/// What a copy moved: each table with its row count, in copy order.
#[derive(Debug, Default)]
pub struct CopySummary {
    pub tables: Vec<(&'static str, u64)>,
}

impl CopySummary {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

/// How a column's values are read and bound.
#[derive(Clone, Copy, Debug)]
enum Class {
    Integer,
    Text,
    Bytes,
    Real,
}

impl Class {
    fn of(declared: &str) -> Option<Class> {
        let declared = declared.to_ascii_uppercase();
        if declared.contains("INT") {
            Some(Class::Integer)
        } else if declared.contains("TEXT") || declared.contains("CHAR") {
            Some(Class::Text)
        } else if declared.contains("BLOB") || declared.contains("BYTEA") {
            Some(Class::Bytes)
        } else if declared.contains("REAL")
            || declared.contains("DOUBLE")
            || declared.contains("FLOAT")
        {
            Some(Class::Real)
        } else {
            None
        }
    }
}

/// Copies every row of `from` into the empty database `to` (both open, so both migrated to
/// this version's schema).
pub async fn copy_database(from: &Store, to: &Store) -> Result<CopySummary> {
    let tables = copyable_tables(from, to).await?;
    let mut source = from.begin_read("starting the copy's read").await?;
    let mut target = to.begin_write("starting the copy's transaction").await?;
    let mut summary = CopySummary::default();
    for table in TABLES
        .iter()
        .copied()
        .filter(|t| tables.contains(&t.to_string()))
    {
        let columns = columns_of(to, table).await?;
        let copied = copy_table(&mut source, &mut target, table, &columns).await?;
        summary.tables.push((table, copied));
    }
    target.commit().await.map_err(db("committing the copy"))?;
    Ok(summary)
}

/// The target's tables, once both schemas are known to match [`TABLES`] and the target is
/// known to be empty.
async fn copyable_tables(from: &Store, to: &Store) -> Result<Vec<String>> {
    let tables = tables_of(to).await?;
    let mut unknown: Vec<&String> = tables
        .iter()
        .filter(|t| !TABLES.contains(&t.as_str()))
        .collect();
    unknown.sort();
    if let Some(table) = unknown.first() {
        return Err(Error::Corrupt(format!(
            "db copy does not know table `{table}` of the schema; this build cannot copy it"
        )));
    }
    let source_tables = tables_of(from).await?;
    if let Some(missing) = TABLES
        .iter()
        .find(|t| tables.contains(&t.to_string()) != source_tables.contains(&t.to_string()))
    {
        return Err(Error::Corrupt(format!(
            "table `{missing}` is in one database and not the other: both must be at this version's schema"
        )));
    }
    for table in ["raw_inputs", "runs", "ledger_runs"] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(to.pool())
            .await
            .map_err(db("reading the target database"))?;
        if rows > 0 {
            return Err(Error::Usage(format!(
                "the target database already holds data ({rows} rows in {table}): db copy writes only into an empty database, so that two histories are never merged; create a new one"
            )));
        }
    }
    Ok(tables)
}

/// Streams one table from the source snapshot into the target transaction, in batches of
/// [`ROWS_PER_INSERT`]; returns the rows copied. Rows are read in a total order (every
/// non-byte column) so that a copy's insertion order does not depend on the backend.
async fn copy_table(
    source: &mut sqlx::Transaction<'static, sqlx::Any>,
    target: &mut sqlx::Transaction<'static, sqlx::Any>,
    table: &str,
    columns: &[(String, Class)],
) -> Result<u64> {
    let names: Vec<&str> = columns.iter().map(|(name, _)| name.as_str()).collect();
    let ordered: Vec<&str> = columns
        .iter()
        .filter(|(_, class)| !matches!(class, Class::Bytes))
        .map(|(name, _)| name.as_str())
        .collect();
    let select = format!(
        "SELECT {} FROM {table} ORDER BY {}",
        names.join(", "),
        ordered.join(", ")
    );
    let head = format!("INSERT INTO {table} ({}) ", names.join(", "));
    let mut rows = sqlx::query(sqlx::AssertSqlSafe(select)).fetch(&mut **source);
    let mut batch: Vec<AnyRow> = Vec::with_capacity(ROWS_PER_INSERT);
    let mut copied = 0u64;
    loop {
        let row = rows
            .try_next()
            .await
            .map_err(db("reading the source database"))?;
        let done = row.is_none();
        if let Some(row) = row {
            batch.push(row);
        }
        if batch.len() == ROWS_PER_INSERT || (done && !batch.is_empty()) {
            let mut insert = Statement::new(&head, target);
            insert.push("VALUES ");
            for (n, row) in batch.iter().enumerate() {
                if n > 0 {
                    insert.push(", ");
                }
                insert.push("(");
                for (i, (name, class)) in columns.iter().enumerate() {
                    if i > 0 {
                        insert.push(", ");
                    }
                    bind_cell(&mut insert, row, i, *class).map_err(|e| {
                        Error::Corrupt(format!(
                            "{table}.{name} of row {} cannot be read: {e}",
                            copied + n as u64 + 1
                        ))
                    })?;
                }
                insert.push(")");
            }
            insert
                .build()?
                .execute(&mut **target)
                .await
                .map_err(|source| Error::Database {
                    context: format!("writing {table} into the target database"),
                    source,
                })?;
            copied += batch.len() as u64;
            batch.clear();
        }
        if done {
            return Ok(copied);
        }
    }
}

fn bind_cell(
    insert: &mut Statement,
    row: &AnyRow,
    index: usize,
    class: Class,
) -> std::result::Result<(), sqlx::Error> {
    match class {
        Class::Integer => insert.push_bind(row.try_get::<Option<i64>, _>(index)?),
        Class::Text => insert.push_bind(row.try_get::<Option<String>, _>(index)?),
        Class::Bytes => insert.push_bind(row.try_get::<Option<Vec<u8>>, _>(index)?),
        Class::Real => insert.push_bind(row.try_get::<Option<f64>, _>(index)?),
    };
    Ok(())
}

/// The tables of a store's schema (not the migrator's own).
async fn tables_of(store: &Store) -> Result<Vec<String>> {
    let sql = match store.backend() {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations' ORDER BY table_name"
        }
    };
    sqlx::query_scalar(sql)
        .fetch_all(store.pool())
        .await
        .map_err(db("listing the tables"))
}

/// A table's columns in their order, with how each is read.
async fn columns_of(store: &Store, table: &str) -> Result<Vec<(String, Class)>> {
    let sql = match store.backend() {
        Backend::Sqlite => "SELECT name, type FROM pragma_table_info($1) ORDER BY cid",
        Backend::Postgres => {
            "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
        }
    };
    let rows: Vec<(String, String)> = sqlx::query_as(sql)
        .bind(table)
        .fetch_all(store.pool())
        .await
        .map_err(db("reading a table's columns"))?;
    rows.into_iter()
        .map(|(name, declared)| match Class::of(&declared) {
            Some(class) => Ok((name, class)),
            None => Err(Error::Corrupt(format!(
                "column {table}.{name} has type `{declared}`, which db copy does not know"
            ))),
        })
        .collect()
}
