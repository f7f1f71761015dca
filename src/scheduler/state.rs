//! The scheduler's memory across restarts: the time of the last fire it served.
//!
//! One small JSON file (`{"last_fire": "2026-07-15T01:00:00.000Z"}`), by default beside the
//! database (`recaudit.db` -> `recaudit.schedule.json`), written when a fire starts its run. On
//! start with `--catch-up`, a last fire older than the schedule's latest fire time means that
//! fire was missed (the process was down or the machine asleep), and one run is started at
//! once. The file is replaced atomically (a temporary file renamed over it), so a crash leaves
//! the old time or the new one. It is a convenience, not evidence: an unreadable file is
//! reported and treated as absent, and a failed write is reported and scheduling goes on.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::time::Timestamp;

/// Where the state of a scheduler whose runs use the database file `database` is kept.
pub fn state_beside(database: &Path) -> PathBuf {
    let stem = database
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "recaudit".to_string());
    database.with_file_name(format!("{stem}.schedule.json"))
}

#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    last_fire: String,
}

/// The last fire recorded in `path`: `Ok(None)` when there is no file yet.
pub(crate) fn read(path: &Path) -> Result<Option<Timestamp>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("cannot read the schedule state", path)(e)),
    };
    let stored: Stored = serde_json::from_slice(&bytes).map_err(|e| {
        Error::Usage(format!(
            "the schedule state {} is not what recaudit writes ({e})",
            path.display()
        ))
    })?;
    Timestamp::parse(&stored.last_fire).map(Some).map_err(|e| {
        Error::Usage(format!(
            "the schedule state {} holds no time: {e}",
            path.display()
        ))
    })
}

/// Records `fire` as the last fire served, replacing the file atomically.
pub(crate) fn write(path: &Path, fire: Timestamp) -> Result<()> {
    let stored = Stored {
        last_fire: fire.to_string(),
    };
    let mut text = serde_json::to_string(&stored)
        .map_err(|e| Error::Usage(format!("cannot encode the schedule state: {e}")))?;
    text.push('\n');
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, text)
        .map_err(Error::io("cannot write the schedule state", &temporary))?;
    std::fs::rename(&temporary, path).map_err(Error::io("cannot replace the schedule state", path))
}
