//! Locks between processes working on one database, whatever its backend.
//!
//! On SQLite they are files beside the database (`crate::lock`), which only the processes of
//! one machine can see. On PostgreSQL they are session-level advisory locks, each held by a
//! connection of its own: every worker on every host sees them, and the server releases one
//! when its connection ends, also when the worker is killed. The holder of a PostgreSQL lock is
//! named by its connection's `application_name` ("recaudit host H, pid P, since T").
//!
//! - The import lock keeps imports of export trees (which commit file by file) one at a time,
//!   and an audit waits for a running one, so that it sees a tree wholly or not at all.
//! - The window lock keeps two workers off one audit window (PostgreSQL; on SQLite, the run
//!   lock of the whole database, `pipeline::night::RunLock`, already does).

use std::path::Path;
use std::str::FromStr;

use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, ConnectOptions, Row};

use super::{Backend, Store, db, redacted};
use crate::error::{Error, Result};
use crate::lock::Holder;
use crate::source::import::ImportLock;
use crate::time::Timestamp;

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct DatabaseLock {
    _held: Held,
}

#[derive(Debug)]
enum Held {
    File(#[allow(dead_code)] ImportLock),
    Session(#[allow(dead_code)] SessionLock),
    Nothing,
}

impl DatabaseLock {
    /// No lock, where the backend's own lock already covers the case.
    pub(crate) fn none() -> DatabaseLock {
        DatabaseLock {
            _held: Held::Nothing,
        }
    }
}

/// The advisory lock keys: the first 8 bytes of SHA-256 of a name, so that they do not
/// collide with each other, with the write lock, or with another application's small keys.
fn key(name: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

const IMPORT_LOCK: &str = "recaudit import";

/// Takes the import lock of the database `url`. When another import holds it, calls `waiting`
/// once, then waits.
pub async fn import_lock(url: &str, waiting: impl FnOnce()) -> Result<DatabaseLock> {
    match Backend::of(url) {
        Backend::Sqlite => {
            let file = Store::file_of(url)?;
            let lock = ImportLock::acquire(file.as_deref().map(Path::new), waiting).await?;
            Ok(DatabaseLock {
                _held: Held::File(lock),
            })
        }
        Backend::Postgres => {
            let key = key(IMPORT_LOCK);
            let mut lock = SessionLock::connect(url).await?;
            if !lock.try_take(key).await? {
                waiting();
                lock.take(key).await?;
            }
            Ok(DatabaseLock {
                _held: Held::Session(lock),
            })
        }
    }
}

impl Store {
    /// The import lock of this store (see [`import_lock`]).
    pub async fn import_lock(&self, waiting: impl FnOnce()) -> Result<DatabaseLock> {
        import_lock(&self.url, waiting).await
    }

    /// Takes the lock of the audit window `[from, to)` at once, or says who holds it. On
    /// SQLite it is no lock: one run at a time holds the whole database.
    pub async fn try_window_lock(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<std::result::Result<DatabaseLock, Holder>> {
        if self.backend == Backend::Sqlite {
            return Ok(Ok(DatabaseLock::none()));
        }
        let key = key(&format!("recaudit window {from} {to}"));
        let mut lock = SessionLock::connect(&self.url).await?;
        if lock.try_take(key).await? {
            return Ok(Ok(DatabaseLock {
                _held: Held::Session(lock),
            }));
        }
        Ok(Err(lock.holder(key).await?))
    }
}

/// A connection of its own holding session-level advisory locks.
struct SessionLock {
    connection: AnyConnection,
}

impl std::fmt::Debug for SessionLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionLock")
    }
}

impl SessionLock {
    async fn connect(url: &str) -> Result<SessionLock> {
        sqlx::any::install_default_drivers();
        let holder = format!(
            "recaudit host {}, pid {}, since {}",
            crate::lock::host_name(),
            std::process::id(),
            Timestamp::now()
        );
        // PostgreSQL keeps at most 63 bytes of an application name.
        let holder: String = holder.chars().take(63).collect();
        let named = match reqwest::Url::parse(url) {
            Ok(mut parsed) => {
                parsed
                    .query_pairs_mut()
                    .append_pair("application_name", &holder);
                parsed.to_string()
            }
            Err(_) => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&named).map_err(|source| Error::Database {
            context: format!("invalid database URL `{}`", redacted(url)),
            source,
        })?;
        let connection = options.connect().await.map_err(|source| Error::Database {
            context: format!("cannot open database `{}` for a lock", redacted(url)),
            source,
        })?;
        Ok(SessionLock { connection })
    }

    async fn try_take(&mut self, key: i64) -> Result<bool> {
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut self.connection)
            .await
            .map_err(db("taking a lock"))
    }

    async fn take(&mut self, key: i64) -> Result<()> {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(key)
            .execute(&mut self.connection)
            .await
            .map_err(db("taking a lock"))?;
        Ok(())
    }

    /// Who holds the lock `key`, by its connection's application name.
    async fn holder(&mut self, key: i64) -> Result<Holder> {
        // A bigint key is stored as (classid, objid) = (high, low) 32 bits, objsubid 1; advisory
        // locks are per database, and pg_locks shows those of every database of the server.
        let (high, low) = ((key >> 32) as u32 as i64, key as u32 as i64);
        let row = sqlx::query(
            "SELECT a.application_name, COALESCE(CAST(a.client_addr AS TEXT), 'local') FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND CAST(l.classid AS BIGINT) = $1 AND CAST(l.objid AS BIGINT) = $2 AND l.objsubid = 1",
        )
        .bind(high)
        .bind(low)
        .fetch_optional(&mut self.connection)
        .await
        .map_err(db("reading a lock's holder"))?;
        Ok(Holder(match row {
            Some(row) => {
                let name: String = row.try_get(0).map_err(db("reading a lock's holder"))?;
                let address: String = row.try_get(1).map_err(db("reading a lock's holder"))?;
                format!("{} (from {address})", name.trim_start_matches("recaudit "))
            }
            None => "another session, which has just released it".to_string(),
        }))
    }
}
