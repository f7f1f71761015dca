//! Advisory locks held on files of their own beside the database (`flock` on Unix).
//!
//! A layer-0 helper (docs/ARCHITECTURE.md, "Dependency rule"): the store takes one to migrate a
//! new database, and `source::import` takes one so that two imports into one database run one
//! after the other; neither layer may reach into the other for it.
//!
//! A lock is never taken on the database file itself: closing any other descriptor of that
//! file would drop SQLite's own POSIX locks on it. The lock files are created when missing and
//! never removed (removing one races with the next process opening it); the operating system
//! releases a lock when its process ends, however it ends.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A held lock (or, where the lock file cannot be created, none: see [`FileLock::acquire`]).
#[derive(Debug)]
pub(crate) struct FileLock {
    _file: Option<File>,
}

impl FileLock {
    /// `<database><suffix>`, the lock file of `database`.
    pub(crate) fn beside(database: &Path, suffix: &str) -> PathBuf {
        let mut name = database.as_os_str().to_os_string();
        name.push(suffix);
        PathBuf::from(name)
    }

    /// No lock, for a database that needs none (in memory).
    pub(crate) fn none() -> FileLock {
        FileLock { _file: None }
    }

    /// Takes the exclusive lock of `path`. When another process holds it, calls `waiting`
    /// once, then waits without blocking the async runtime. A folder where the lock file cannot
    /// be created (read-only media holding a copy to verify) is not locked: nothing else can
    /// be writing there.
    pub(crate) async fn acquire(path: PathBuf, waiting: impl FnOnce()) -> Result<FileLock> {
        let file = match std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
        {
            Ok(file) => file,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
                ) =>
            {
                return Ok(FileLock::none());
            }
            Err(e) => return Err(Error::io("cannot open the lock file", path)(e)),
        };
        match file.try_lock() {
            Ok(()) => return Ok(FileLock { _file: Some(file) }),
            Err(std::fs::TryLockError::WouldBlock) => waiting(),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::io("cannot take the lock", path)(e));
            }
        }
        let locked = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
            .await
            .map_err(|e| Error::io("cannot take the lock", &path)(std::io::Error::other(e)))?
            .map_err(Error::io("cannot take the lock", &path))?;
        Ok(FileLock {
            _file: Some(locked),
        })
    }
}
