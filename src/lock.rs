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

/// Who holds a run lock, as its holder wrote it into the lock file: "host H, pid P, since T".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder(pub String);

impl FileLock {
    /// Takes the exclusive lock of `path` at once or not at all. Taken, the lock file is
    /// rewritten to say who holds it (`holder`), so that a process refused
    /// ([`Err`] of the inner result) can name the holder. The operating system drops the lock
    /// when its holder ends, however it ends, so a crashed holder never blocks a later one;
    /// the words it left in the file are then overwritten by the next holder.
    pub(crate) fn try_acquire_as(
        path: &Path,
        holder: &str,
    ) -> Result<std::result::Result<FileLock, Holder>> {
        use std::io::{Read, Seek, Write};
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(Error::io("cannot open the lock file", path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                // The holder writes its words right after taking the lock: a refusal in that
                // instant waits a moment for them rather than naming nobody.
                let mut text = String::new();
                for _ in 0..40 {
                    text.clear();
                    let _ = file.rewind().and_then(|()| file.read_to_string(&mut text));
                    if !text.trim().is_empty() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                let text = text.trim();
                return Ok(Err(Holder(if text.is_empty() {
                    "a process that has not said who it is".to_string()
                } else {
                    text.to_string()
                })));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::io("cannot take the lock", path)(e));
            }
        }
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(format!("{holder}\n").as_bytes()))
            .and_then(|()| file.flush())
            .map_err(Error::io("cannot write the lock file", path))?;
        Ok(Ok(FileLock { _file: Some(file) }))
    }
}

/// This host's name, for the lock file and the notifications.
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "unknown host".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_is_refused_with_the_holders_words_until_the_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.run-lock");
        let first = FileLock::try_acquire_as(&path, "host a, pid 1")
            .unwrap()
            .unwrap();
        let refused = FileLock::try_acquire_as(&path, "host b, pid 2")
            .unwrap()
            .unwrap_err();
        assert_eq!(refused, Holder("host a, pid 1".to_string()));
        drop(first);
        let second = FileLock::try_acquire_as(&path, "host b, pid 2").unwrap();
        assert!(second.is_ok());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "host b, pid 2\n");
    }
}
