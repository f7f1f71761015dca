//! Anchors: evidence of a checkpoint kept outside the database owner's control.
//!
//! - **RFC 3161 time stamps.** With `[ledger] tsa_url` set, every new checkpoint's text (its
//!   three lines) is time-stamped by the TSA; the `TimeStampResp` is stored beside the
//!   checkpoint and exported as `checkpoints/<size>.tsr`, so `openssl ts -verify -data` accepts
//!   it. An insider who later rewrites history with the real key cannot back-date the tokens.
//! - **Directory copies.** Unless `[ledger] anchor_dir = false`, every signed checkpoint is written
//!   to `<dir>/<size>.note` (never overwritten, linked into place whole); the default directory is
//!   `<database stem>.checkpoints/` beside the database, and an append-only mount, a mailbox
//!   drop or an object-lock bucket is better. `ledger verify` treats those copies as
//!   checkpoints the auditor holds, and an audit refuses to append to a database whose log is
//!   shorter than, or inconsistent with, any of them (`known_checkpoints`).
//!
//! Anchoring happens after the run is committed (it needs the network or another file
//! system); a failure is reported and can be retried with `recaudit ledger anchor`.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::process::Command;

use super::LedgerSettings;
use super::note::Checkpoint;
use crate::blocking::on_blocking_thread;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::time::Timestamp;

/// The kinds of anchor, as `ledger_anchors.kind` stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AnchorKind {
    /// An RFC 3161 `TimeStampResp` from the TSA.
    Rfc3161,
    /// A copy in the anchor directory (the data is its path).
    Directory,
}

impl AnchorKind {
    /// The stored name; existing databases hold exactly these.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AnchorKind::Rfc3161 => "rfc3161",
            AnchorKind::Directory => "directory",
        }
    }

    /// The kind a stored name names; `None` for a name this version does not know, which the
    /// checks of either kind then ignore.
    pub(crate) fn parse(stored: &str) -> Option<AnchorKind> {
        [AnchorKind::Rfc3161, AnchorKind::Directory]
            .into_iter()
            .find(|kind| kind.as_str() == stored)
    }
}

/// What anchoring one checkpoint did.
#[derive(Debug, Clone, Default)]
pub struct AnchorOutcome {
    pub done: Vec<String>,
    pub failed: Vec<String>,
}

/// Anchors a checkpoint as configured. Never fails: problems are listed in the outcome.
pub(crate) async fn anchor_checkpoint(
    store: &Store,
    settings: &LedgerSettings,
    checkpoint: &Checkpoint,
    note: &str,
) -> AnchorOutcome {
    let mut outcome = AnchorOutcome::default();
    if let Some(dir) = &settings.anchor_dir_for(store.ledger_home().as_deref()) {
        let (copy_dir, size, copy_note) = (dir.clone(), checkpoint.size, note.to_string());
        let copied = on_blocking_thread(DIRECTORY_FAILED, dir, move || {
            copy_to_dir(&copy_dir, size, &copy_note)
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|copied| copied);
        match copied {
            Ok(path) => {
                outcome.done.push(format!(
                    "copied checkpoint {} to {}",
                    checkpoint.size,
                    path.display()
                ));
                if let Err(e) = store
                    .add_anchor(
                        checkpoint.size,
                        AnchorKind::Directory.as_str(),
                        path.display().to_string().as_bytes(),
                        &Timestamp::now().to_string(),
                    )
                    .await
                {
                    outcome
                        .failed
                        .push(format!("cannot record the directory anchor: {e}"));
                }
            }
            Err(e) => outcome.failed.push(format!(
                "cannot copy checkpoint {} to {}: {e}",
                checkpoint.size,
                dir.display()
            )),
        }
    }
    if let Some(url) = &settings.tsa_url {
        match request_timestamp(url, checkpoint.body().as_bytes()).await {
            Ok(token) => match store
                .add_anchor(
                    checkpoint.size,
                    AnchorKind::Rfc3161.as_str(),
                    &token,
                    &Timestamp::now().to_string(),
                )
                .await
            {
                Ok(()) => outcome.done.push(format!(
                    "time-stamped checkpoint {} at {url}",
                    checkpoint.size
                )),
                Err(e) => outcome
                    .failed
                    .push(format!("cannot store the time stamp: {e}")),
            },
            Err(e) => outcome.failed.push(format!(
                "time stamp of checkpoint {} from {url} failed: {e}",
                checkpoint.size
            )),
        }
    }
    outcome
}

/// The checkpoints kept outside the database (the anchor directory's copies), each verified
/// with the ledger's key: what an append must extend. A copy that does not verify is an error:
/// it is another ledger's directory or a forgery, and either way the head cannot be checked.
/// The directory (perhaps a slow mount) is read on tokio's blocking threads.
pub(crate) async fn known_checkpoints(
    dir: Option<PathBuf>,
    verifier: super::note::NoteVerifier,
    origin: String,
) -> Result<Vec<(String, Checkpoint)>> {
    let Some(dir) = dir else {
        return Ok(Vec::new());
    };
    let listed = dir.clone();
    let notes =
        on_blocking_thread(DIRECTORY_FAILED, &listed, move || read_dir_notes(&dir)).await??;
    notes
        .into_iter()
        .map(|(name, note)| {
            verifier
                .verify_checkpoint(&note, &origin)
                .map(|checkpoint| (name.clone(), checkpoint))
                .map_err(|e| {
                    Error::Usage(format!(
                        "the anchor directory holds {name}, which is not a checkpoint of this ledger ({e}); an audit cannot check the database's head against it. Point [ledger] anchor_dir at this ledger's own directory"
                    ))
                })
        })
        .collect()
}

/// What a failed blocking thread working in the anchor directory is reported as.
pub(crate) const DIRECTORY_FAILED: &str = "cannot use the anchor directory";

/// Creates `path` (never overwriting) holding `note`, synced.
fn write_new(path: &Path, note: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(note.as_bytes())?;
    file.sync_all()
}

/// Writes `<dir>/<size>.note` unless it already holds exactly this note. A different note of
/// the same size there is a split view and is refused.
pub(crate) fn copy_to_dir(
    dir: &Path,
    size: u64,
    note: &str,
) -> std::result::Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let path = dir.join(format!("{size}.note"));
    if let Ok(existing) = std::fs::read(&path) {
        if existing == note.as_bytes() {
            return Ok(path);
        }
        return Err(format!(
            "{} already holds a different checkpoint of size {size}",
            path.display()
        ));
    }
    // Written beside it and linked into place: a crash or a full disk never leaves a partial
    // note that later audits would take for a foreign checkpoint.
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| e.to_string())?;
    let temporary = dir.join(format!(".{size}.note.{}.tmp", hex::encode(random)));
    let written = write_new(&temporary, note);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(e.to_string());
    }
    let linked = std::fs::hard_link(&temporary, &path);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(path),
        // Another audit copied the same checkpoint a moment ago.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if std::fs::read(&path).is_ok_and(|existing| existing == note.as_bytes()) {
                Ok(path)
            } else {
                Err(format!(
                    "{} already holds a different checkpoint of size {size}",
                    path.display()
                ))
            }
        }
        // Storage without hard links (some network and object-store mounts), where the whole
        // note was just written once: write it in place.
        Err(_) => write_new(&path, note)
            .map(|()| path)
            .map_err(|e| e.to_string()),
    }
}

/// Reads every `<size>.note` of an anchor directory, as checkpoints the auditor holds.
pub fn read_dir_notes(dir: &Path) -> Result<Vec<(String, String)>> {
    let mut notes = Vec::new();
    // No directory yet is no copy yet (the first run makes it); a directory that exists but
    // cannot be listed (a missing mount, no permission) must not pass for an empty one, or an
    // audit would extend a truncated log.
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(notes),
        Err(e) => {
            return Err(crate::error::Error::io(
                "cannot list the anchor directory",
                dir,
            )(e));
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "note") {
            let text = std::fs::read_to_string(&path).map_err(crate::error::Error::io(
                "cannot read anchored checkpoint",
                &path,
            ))?;
            notes.push((path.display().to_string(), text));
        }
    }
    notes.sort();
    Ok(notes)
}

/// DER of an RFC 3161 `TimeStampReq` for SHA-256 of `data`, asking for the TSA certificate:
/// `SEQUENCE { version 1, messageImprint { sha256, digest }, nonce, certReq TRUE }`.
pub(crate) fn timestamp_request(data: &[u8], nonce: u64) -> Vec<u8> {
    let digest = Sha256::digest(data);
    // AlgorithmIdentifier { id-sha256 (2.16.840.1.101.3.4.2.1), NULL }
    let algorithm: &[u8] = &[
        0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    ];
    let mut imprint = algorithm.to_vec();
    imprint.extend_from_slice(&[0x04, 0x20]);
    imprint.extend_from_slice(&digest);
    let mut body = vec![0x02, 0x01, 0x01];
    body.push(0x30);
    body.push(imprint.len() as u8);
    body.extend_from_slice(&imprint);
    // A positive INTEGER nonce in minimal DER: no leading zero bytes, except one that keeps
    // the sign bit clear.
    let bytes = nonce.to_be_bytes();
    let mut digits: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    if digits.first().is_none_or(|b| b & 0x80 != 0) {
        digits.insert(0, 0);
    }
    body.extend_from_slice(&[0x02, digits.len() as u8]);
    body.extend_from_slice(&digits);
    body.extend_from_slice(&[0x01, 0x01, 0xff]);
    let mut request = vec![0x30, body.len() as u8];
    request.extend_from_slice(&body);
    request
}

/// The `PKIStatus` of a DER `TimeStampResp`: 0 granted, 1 granted with modifications.
pub(crate) fn response_status(response: &[u8]) -> Option<u64> {
    // SEQUENCE { PKIStatusInfo SEQUENCE { status INTEGER, ... }, token }
    let (outer, _) = der_content(response, 0x30)?;
    let (info, _) = der_content(outer, 0x30)?;
    let (status, _) = der_content(info, 0x02)?;
    Some(
        status
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
    )
}

/// The content of the DER element at the start of `bytes` if its tag is `tag`, and the rest.
fn der_content(bytes: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = bytes.split_first()?;
    if first != tag {
        return None;
    }
    let (&len, rest) = rest.split_first()?;
    let (len, rest) = if len < 0x80 {
        (len as usize, rest)
    } else {
        let count = (len & 0x7f) as usize;
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let value = rest[..count]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (value, &rest[count..])
    };
    (rest.len() >= len).then(|| (&rest[..len], &rest[len..]))
}

async fn request_timestamp(url: &str, data: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| e.to_string())?;
    let request = timestamp_request(data, u64::from_be_bytes(nonce));
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .post(url)
        .header("Content-Type", "application/timestamp-query")
        .body(request)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?.to_vec();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    match response_status(&body) {
        Some(0 | 1) => Ok(body),
        Some(other) => Err(format!("the TSA refused the request (PKIStatus {other})")),
        None => Err("the TSA's answer is not a TimeStampResp".to_string()),
    }
}

/// Why a token could not be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// No openssl to check with: the check is skipped, not failed.
    Unavailable(String),
    /// The token does not verify.
    Invalid(String),
}

/// The time in a token, and how many fractional second digits the TSA gave (often none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) time: Timestamp,
    pub(crate) fraction_digits: u32,
}

impl Stamp {
    /// Is the stamp not before `instant`, compared at the precision the TSA gave? A TSA that
    /// stamps whole seconds cannot say more than "the same second".
    pub(crate) fn not_before(&self, instant: Timestamp) -> bool {
        let step = 10i64.pow(3u32.saturating_sub(self.fraction_digits.min(3)));
        let truncated = instant.millis().div_euclid(step) * step;
        self.time.millis() >= truncated
    }
}

/// Verifies a `TimeStampResp` over `data` with `openssl ts -verify` against the TSA's CA and
/// returns the stamped time.
pub(crate) async fn verify_token(
    token: &[u8],
    data: &[u8],
    ca: &Path,
) -> std::result::Result<Stamp, TokenError> {
    let dir = scratch_dir()
        .await
        .map_err(|e| TokenError::Unavailable(format!("no scratch directory: {e}")))?;
    let result = verify_token_in(&dir, token, data, ca).await;
    // Best effort: a scratch directory left behind in the temporary directory harms nothing.
    let _ = tokio::fs::remove_dir_all(&dir).await;
    result
}

/// [`verify_token`] with its files written to `dir`.
async fn verify_token_in(
    dir: &Path,
    token: &[u8],
    data: &[u8],
    ca: &Path,
) -> std::result::Result<Stamp, TokenError> {
    let (tsr, body) = (dir.join("token.tsr"), dir.join("checkpoint.txt"));
    tokio::fs::write(&tsr, token)
        .await
        .map_err(|e| TokenError::Unavailable(e.to_string()))?;
    tokio::fs::write(&body, data)
        .await
        .map_err(|e| TokenError::Unavailable(e.to_string()))?;
    let verify = openssl(
        Command::new("openssl")
            .args(["ts", "-verify", "-data"])
            .arg(&body)
            .arg("-in")
            .arg(&tsr)
            .arg("-CAfile")
            .arg(ca),
    )
    .await?;
    if !verify.status.success() {
        let why = String::from_utf8_lossy(&verify.stderr);
        let first = why
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("verification failed");
        return Err(TokenError::Invalid(format!(
            "openssl ts -verify rejects it: {first}"
        )));
    }
    let text = openssl(
        Command::new("openssl")
            .args(["ts", "-reply", "-in"])
            .arg(&tsr)
            .arg("-text"),
    )
    .await?;
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    let stamp = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Time stamp:"))
        .ok_or_else(|| TokenError::Invalid("the token has no time".into()))?;
    parse_openssl_time(stamp.trim())
        .ok_or_else(|| TokenError::Invalid(format!("unreadable time `{stamp}`")))
}

/// Runs an openssl command to its end. openssl that cannot be started makes the check
/// unavailable, not failed.
async fn openssl(command: &mut Command) -> std::result::Result<std::process::Output, TokenError> {
    command
        // As std's `output()` does: openssl must not wait on the terminal for input.
        .stdin(std::process::Stdio::null())
        // A verification given up on (the command cancelled) leaves no openssl behind.
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| TokenError::Unavailable(format!("cannot run openssl: {e}")))
}

/// `Nov 27 13:30:00 2026 GMT`, possibly with fractional seconds.
fn parse_openssl_time(text: &str) -> Option<Stamp> {
    let text = text.strip_suffix(" GMT")?;
    let normalized = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let parsed = chrono::NaiveDateTime::parse_from_str(&normalized, "%b %d %H:%M:%S%.f %Y").ok()?;
    let clock = normalized.split(' ').nth(2)?;
    let fraction_digits = clock.split_once('.').map_or(0, |(_, f)| f.len() as u32);
    Some(Stamp {
        time: Timestamp::from_millis(parsed.and_utc().timestamp_millis()),
        fraction_digits,
    })
}

async fn scratch_dir() -> std::io::Result<PathBuf> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(std::io::Error::other)?;
    let dir = std::env::temp_dir().join(format!("recaudit-tsa-{}", hex::encode(random)));
    tokio::fs::create_dir(&dir).await?;
    Ok(dir)
}

/// Anchors every checkpoint that lacks a configured anchor (after a failure or a config change).
pub async fn anchor_missing(store: &Store, settings: &LedgerSettings) -> Result<AnchorOutcome> {
    let anchors = store.ledger_anchors().await?;
    let mut outcome = AnchorOutcome::default();
    for (size, note) in store.ledger_checkpoints().await? {
        let has = |kind: AnchorKind| {
            anchors
                .iter()
                .any(|a| a.size == size && AnchorKind::parse(&a.kind) == Some(kind))
        };
        let wants_dir = settings
            .anchor_dir_for(store.ledger_home().as_deref())
            .is_some()
            && !has(AnchorKind::Directory);
        let wants_tsa = settings.tsa_url.is_some() && !has(AnchorKind::Rfc3161);
        if !(wants_dir || wants_tsa) {
            continue;
        }
        let Ok(note) = String::from_utf8(note) else {
            continue;
        };
        let Some(split) = note.rfind("\n\n") else {
            continue;
        };
        let Ok(checkpoint) = Checkpoint::parse_body(&note[..split + 1]) else {
            continue;
        };
        let partial = LedgerSettings {
            tsa_url: settings.tsa_url.clone().filter(|_| wants_tsa),
            anchor_dir: if wants_dir {
                settings.anchor_dir.clone()
            } else {
                Some(super::AnchorDirSetting::Switch(false))
            },
            ..settings.clone()
        };
        let one = anchor_checkpoint(store, &partial, &checkpoint, &note).await;
        outcome.done.extend(one.done);
        outcome.failed.extend(one.failed);
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_der_and_responses_are_read() {
        let request = timestamp_request(b"checkpoint", 0x0102030405060708);
        // Minimal INTEGER encodings of the nonce.
        assert!(
            request
                .windows(10)
                .any(|w| w == [0x02, 0x08, 1, 2, 3, 4, 5, 6, 7, 8])
        );
        assert!(
            timestamp_request(b"x", 0x80)
                .windows(4)
                .any(|w| w == [0x02, 0x02, 0x00, 0x80])
        );
        assert!(
            timestamp_request(b"x", 0)
                .windows(3)
                .any(|w| w == [0x02, 0x01, 0x00])
        );
        assert_eq!(request[0], 0x30);
        assert_eq!(request[1] as usize, request.len() - 2);
        // version 1, then the SHA-256 of the data inside the imprint.
        assert_eq!(&request[2..5], &[0x02, 0x01, 0x01]);
        let digest = Sha256::digest(b"checkpoint");
        assert!(request.windows(32).any(|w| w == digest.as_slice()));
        // SEQUENCE { SEQUENCE { INTEGER 0 } }
        assert_eq!(
            response_status(&[0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x00]),
            Some(0)
        );
        assert_eq!(
            response_status(&[0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02]),
            Some(2)
        );
        assert_eq!(response_status(b"<html>"), None);
    }

    #[test]
    fn openssl_times_are_compared_at_the_tsa_precision() {
        let whole = parse_openssl_time("Nov 27 13:30:00 2026 GMT").unwrap();
        assert_eq!(whole.time.to_string(), "2026-11-27T13:30:00.000Z");
        assert_eq!(whole.fraction_digits, 0);
        let tenths = parse_openssl_time("Jul  4 01:02:03.5 2026 GMT").unwrap();
        assert_eq!(tenths.time.to_string(), "2026-07-04T01:02:03.500Z");
        // A whole-second stamp in the same second as the run's completion is not "before" it.
        assert!(whole.not_before(Timestamp::parse("2026-11-27T13:30:00.996Z").unwrap()));
        assert!(!whole.not_before(Timestamp::parse("2026-11-27T13:30:01.000Z").unwrap()));
        assert!(!tenths.not_before(Timestamp::parse("2026-07-04T01:02:03.600Z").unwrap()));
    }
}
