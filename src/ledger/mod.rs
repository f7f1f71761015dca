//! The chain-of-custody ledger: an RFC 6962 Merkle log of audit runs with signed C2SP
//! checkpoints, verifiable offline (docs/ledger-format.md; docs/LEDGER.md for auditors).
//!
//! Two levels: each run has a tree of input records (what was received, when, from where, its
//! SHA-256) and a tree of finding records (one per interaction, whatever its status); a run
//! record commits to both roots, to the run's report manifest and to the previous ledger root,
//! and is the next leaf of the ledger log. After every run the log's checkpoint is signed with
//! the ledger's Ed25519 key. Everything is appended in the transaction that stores the run's
//! findings, so a crash leaves the whole run or nothing.
//!
//! - [`merkle`]: tree hashing and proofs (pure);
//! - [`record`]: the strict record format (pure);
//! - [`note`]: checkpoints, signed notes, keys;
//! - [`append`]: building a run's records (pure);
//! - [`sealed`]: a run exists only if the ledger commits to it;
//! - [`verify`]: checks V1 to V10 on the database;
//! - [`export`]: the audit package and single-interaction proofs;
//! - [`anchor`]: RFC 3161 time stamps and copies outside the database.

pub mod anchor;
pub mod append;
pub mod export;
pub mod merkle;
pub mod note;
pub mod record;
pub(crate) mod seal;
pub mod sealed;
pub mod verify;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use note::NoteSigner;

/// The suffix of the default key file: `<database stem>.ledger.key` beside the database, so
/// every database in a folder has a key of its own.
pub(crate) const KEY_FILE_SUFFIX: &str = ".ledger.key";

/// The key file name of releases before 0.2, shared by every database in a folder. A key under
/// this name is still used when its origin is the ledger's (see [`LedgerSettings::key_path`]).
pub(crate) const LEGACY_KEY_FILE: &str = "recaudit-ledger.key";

/// `[ledger]` settings of the configuration file.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LedgerSettings {
    /// The ledger's origin (checkpoint first line, key name). Default
    /// `recaudit.local/<database file stem>`.
    pub origin: Option<String>,
    /// The signing key file (also `--ledger-key` and `RECAUDIT_LEDGER_KEY`).
    pub key: Option<PathBuf>,
    /// An RFC 3161 time-stamping authority to time-stamp every checkpoint.
    pub tsa_url: Option<String>,
    /// The TSA's CA certificate (PEM), to verify its tokens (check V3).
    pub tsa_ca: Option<PathBuf>,
    /// Where a copy of every signed checkpoint goes: a directory outside the database owner's
    /// control (an append-only mount, a mailbox drop, an object-lock bucket), `true` or unset
    /// for the default `<database stem>.checkpoints/` beside the database, `false` for none.
    pub anchor_dir: Option<AnchorDirSetting>,
}

/// The suffix of the default anchor directory: `<database stem>.checkpoints/`.
pub(crate) const ANCHOR_DIR_SUFFIX: &str = ".checkpoints";

/// `[ledger] anchor_dir`: a directory, or a switch for the default one.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(
    untagged,
    expecting = "a directory path, or false to turn the copies off (true: the default directory)"
)]
pub enum AnchorDirSetting {
    Switch(bool),
    Dir(PathBuf),
}

/// The ledger as one audit run uses it.
pub struct Ledger {
    pub(crate) origin: String,
    pub key_path: PathBuf,
    pub signer: NoteSigner,
    pub(crate) settings: LedgerSettings,
}

impl LedgerSettings {
    /// The origin: configured, or `recaudit.local/<database file stem>`.
    pub fn origin_for(&self, database: Option<&Path>) -> Result<String> {
        let origin = match &self.origin {
            Some(origin) => origin.clone(),
            None => {
                let stem = database
                    .and_then(|p| p.file_stem())
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "memory".to_string());
                let stem: String = stem
                    .chars()
                    .map(|c| {
                        if c.is_ascii_graphic() && c != '+' {
                            c
                        } else {
                            '-'
                        }
                    })
                    .collect();
                format!("recaudit.local/{stem}")
            }
        };
        if !record::is_origin(&origin) {
            return Err(Error::Usage(format!(
                "ledger origin `{origin}` must be 1 to 255 printable ASCII characters without spaces or `+`"
            )));
        }
        Ok(origin)
    }

    /// The key file: explicit (`--ledger-key`, `RECAUDIT_LEDGER_KEY`), configured
    /// (`[ledger] key`), or the default beside the database: `<stem>.ledger.key`, except that a
    /// key created under the old shared name `recaudit-ledger.key` is kept when the new name
    /// does not exist and the old key's name is this ledger's `origin`. That keeps existing
    /// deployments signing with the key their auditors already hold, while a second database in
    /// the same folder (another origin) gets its own key instead of a mismatch.
    pub fn key_path(
        &self,
        explicit: Option<&Path>,
        database: Option<&Path>,
        origin: &str,
    ) -> PathBuf {
        if let Some(path) = explicit.or(self.key.as_deref()) {
            return path.to_path_buf();
        }
        let dir = database
            .and_then(Path::parent)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(""));
        let stem = database
            .and_then(Path::file_stem)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "memory".to_string());
        let default = dir.join(format!("{stem}{KEY_FILE_SUFFIX}"));
        if default.exists() {
            return default;
        }
        let legacy = dir.join(LEGACY_KEY_FILE);
        let legacy_is_ours = std::fs::read_to_string(&legacy)
            .ok()
            .and_then(|text| NoteSigner::parse(&text).ok())
            .is_some_and(|signer| signer.name() == origin);
        if legacy_is_ours { legacy } else { default }
    }
}

impl LedgerSettings {
    /// The anchor directory: configured, none when turned off, or by default
    /// `<database stem>.checkpoints/` beside the database. On by default because a checkpoint
    /// kept only inside the database cannot reveal that the newest runs were deleted together
    /// with their checkpoints; a copy beside it catches an accident or a careless edit, a copy
    /// on storage the database owner cannot rewrite also catches the owner.
    pub fn anchor_dir_for(&self, database: Option<&Path>) -> Option<PathBuf> {
        match &self.anchor_dir {
            Some(AnchorDirSetting::Dir(dir)) => Some(dir.clone()),
            Some(AnchorDirSetting::Switch(false)) => None,
            None | Some(AnchorDirSetting::Switch(true)) => {
                let database = database?;
                let stem = database.file_stem()?.to_string_lossy().into_owned();
                let dir = database
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new(""));
                Some(dir.join(format!("{stem}{ANCHOR_DIR_SUFFIX}")))
            }
        }
    }
}

impl Ledger {
    /// Loads the signing key, creating it (mode 0600) when the file does not exist and the
    /// ledger has no runs yet. Returns the ledger and, when a key was created, its vkey for the
    /// operator to hand to auditors. A ledger that already has runs never gets a new key
    /// silently: a missing key file there is an unmounted volume or a wrong path.
    pub fn open_or_create(
        settings: LedgerSettings,
        origin: String,
        key_path: PathBuf,
        existing_runs: u64,
    ) -> Result<(Ledger, Option<String>)> {
        if !key_path.exists() && existing_runs > 0 {
            return Err(Error::LedgerKey(format!(
                "ledger key {} not found, but this database's ledger already has {existing_runs} runs signed with a key; point --ledger-key (or RECAUDIT_LEDGER_KEY, or [ledger] key) at that key file",
                key_path.display()
            )));
        }
        let (signer, created) = if key_path.exists() {
            (load_key(&key_path, &origin)?, None)
        } else {
            match create_key(&key_path, &origin) {
                Ok(signer) => {
                    let vkey = signer.vkey();
                    (signer, Some(vkey))
                }
                // Another process's first audit created it a moment ago: use that key.
                Err(Error::KeyExists(_)) => (load_key(&key_path, &origin)?, None),
                Err(e) => return Err(e),
            }
        };
        Ok((
            Ledger {
                origin,
                key_path,
                signer,
                settings,
            },
            created,
        ))
    }
}

/// Reads a key file and checks it belongs to `origin`.
pub fn load_key(path: &Path, origin: &str) -> Result<NoteSigner> {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o044 != 0 {
            return Err(Error::KeyExposed {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    let text = std::fs::read_to_string(path).map_err(Error::io("cannot read ledger key", path))?;
    let signer = NoteSigner::parse(&text)
        .map_err(|e| Error::LedgerKey(format!("ledger key {}: {e}", path.display())))?;
    if signer.name() != origin {
        return Err(Error::LedgerKey(format!(
            "ledger key {} is for origin `{}` but this ledger's origin is `{origin}`; point --ledger-key (or RECAUDIT_LEDGER_KEY, or [ledger] key) at this ledger's own key file, or set [ledger] origin to the key's origin if this database really is that ledger",
            path.display(),
            signer.name()
        )));
    }
    Ok(signer)
}

/// Creates a new key file (mode 0600); refuses to overwrite one ([`Error::KeyExists`]).
///
/// The key is written to a temporary file beside it and linked into place, so the key file
/// appears whole or not at all: a second process starting at the same moment either creates
/// it or finds the complete key, never a half-written one.
pub fn create_key(path: &Path, origin: &str) -> Result<NoteSigner> {
    let signer = NoteSigner::generate(origin).map_err(Error::LedgerKey)?;
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| Error::LedgerKey(format!("no randomness: {e}")))?;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", hex::encode(random)));
    let temporary = PathBuf::from(temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&temporary).and_then(|mut file| {
        use std::io::Write;
        file.write_all(format!("{}\n", signer.skey()).as_bytes())?;
        file.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(Error::io("cannot create ledger key", path)(e));
    }
    let linked = std::fs::hard_link(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(signer),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(Error::KeyExists(path.to_path_buf()))
        }
        Err(e) => Err(Error::io("cannot create ledger key", path)(e)),
    }
}
