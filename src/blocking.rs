//! Running file work on tokio's blocking threads.
//!
//! Listing a tree, reading and hashing a file, or reading a slow network mount blocks the thread
//! doing it; on an async worker that would hold up every task queued there (the store's among
//! them). [`on_blocking_thread`] moves such work to tokio's blocking pool and turns a panic there
//! into an error naming the file, like any other failure to read it.

use std::path::Path;

use crate::error::{Error, Result};

/// Runs `work` on tokio's blocking threads; `context` and `path` name it if the thread fails.
pub(crate) async fn on_blocking_thread<T: Send + 'static>(
    context: &'static str,
    path: &Path,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::io(context, path)(std::io::Error::other(e)))
}
