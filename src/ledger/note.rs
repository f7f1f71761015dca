//! Signed checkpoints: a C2SP tlog-checkpoint inside a C2SP signed note, signed with Ed25519.
//!
//! ```text
//! <origin> LF
//! <tree size> LF
//! <base64 of the 32-byte root> LF
//! LF
//! — <key name> <base64(4-byte key id || 64-byte signature)> LF
//! ```
//!
//! The signature covers the first three lines including the third LF; the key name is the
//! origin; the key id is the first four bytes of SHA-256(name || 0x0A || 0x01 || public key).
//! Verifier keys travel as vkey strings `<name>+<key id hex>+<base64(0x01 || public key)>`,
//! private keys as `PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>` (the format of
//! Go's golang.org/x/mod/sumdb/note, so standard tools can use the same key files).
//! Parsing is strict: no CR, a final LF, no checkpoint extension lines, canonical decimal and
//! base64; a note is accepted only with a valid signature by the expected key, and signatures
//! by other keys (even with the same name) are ignored, as the C2SP spec requires.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

use super::merkle::Hash;

/// The em dash (U+2014) and space that start a signature line.
const SIGNATURE_PREFIX: &str = "\u{2014} ";
/// Ed25519's algorithm byte in key ids and key strings.
const ED25519: u8 = 0x01;
/// Signature lines a verifier reads at most (the spec asks for at least 16).
const MAX_SIGNATURES: usize = 100;

/// Which verifier check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// V1: the checkpoint does not parse strictly, or names another origin.
    #[error("V1 {0}")]
    Malformed(String),
    /// V2: no valid signature by the ledger key.
    #[error("V2 {0}")]
    Signature(String),
}

impl NoteError {
    pub(crate) fn check(&self) -> &'static str {
        match self {
            NoteError::Malformed(_) => "V1",
            NoteError::Signature(_) => "V2",
        }
    }
}

/// The three lines of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The signed text: three lines, each ending in LF.
    pub(crate) fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        )
    }

    /// Parses the three checkpoint lines strictly.
    pub fn parse_body(body: &str) -> Result<Checkpoint, NoteError> {
        let bad = |why: &str| NoteError::Malformed(format!("checkpoint {why}"));
        let lines: Vec<&str> = body
            .strip_suffix('\n')
            .ok_or_else(|| bad("does not end with LF"))?
            .split('\n')
            .collect();
        let [origin, size, root] = lines.as_slice() else {
            return Err(bad(&format!(
                "has {} lines, expected exactly 3 (no extension lines)",
                lines.len()
            )));
        };
        if !super::record::is_origin(origin) {
            return Err(bad(
                "origin is not 1-255 printable ASCII characters without space or `+`",
            ));
        }
        if !super::record::is_uint(size) {
            return Err(bad(&format!(
                "size `{size}` is not a decimal without leading zeros"
            )));
        }
        let size: u64 = size.parse().map_err(|_| bad("size out of range"))?;
        let decoded = STANDARD
            .decode(root)
            .map_err(|_| bad("root is not standard padded base64"))?;
        let root: Hash = decoded
            .try_into()
            .map_err(|_| bad("root is not 32 bytes"))?;
        let checkpoint = Checkpoint {
            origin: origin.to_string(),
            size,
            root,
        };
        if checkpoint.body() != body {
            return Err(bad("is not in canonical form"));
        }
        Ok(checkpoint)
    }
}

/// The ledger's signing key and its name (the origin).
pub struct NoteSigner {
    name: String,
    key: SigningKey,
}

/// A public key that notes are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    pub name: String,
    pub(crate) key_id: [u8; 4],
    key: VerifyingKey,
}

/// The key id: first four bytes of SHA-256(name || LF || 0x01 || public key).
pub(crate) fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', ED25519]);
    hasher.update(public);
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

fn valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('+') && !name.chars().any(char::is_whitespace)
}

impl NoteSigner {
    /// A new key from 32 bytes of OS randomness.
    pub fn generate(name: &str) -> Result<NoteSigner, String> {
        if !valid_key_name(name) {
            return Err(format!("`{name}` cannot name a key (no spaces or `+`)"));
        }
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| format!("no OS randomness: {e}"))?;
        Ok(NoteSigner {
            name: name.to_string(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<key id>+<base64(0x01 || seed)>`.
    pub(crate) fn parse(text: &str) -> Result<NoteSigner, String> {
        let text = text.trim_end_matches('\n');
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or("not a private key (expected PRIVATE+KEY+...)")?;
        // Names never contain `+`; base64 keys may.
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err("malformed private key".into());
        };
        let bytes = STANDARD
            .decode(key)
            .map_err(|_| "private key is not base64")?;
        let [alg, seed @ ..] = bytes.as_slice() else {
            return Err("empty private key".into());
        };
        if *alg != ED25519 || seed.len() != 32 {
            return Err("not an Ed25519 private key".into());
        }
        let seed: [u8; 32] = seed.try_into().map_err(|_| "bad key length")?;
        let signer = NoteSigner {
            name: name.to_string(),
            key: SigningKey::from_bytes(&seed),
        };
        if hex::encode(signer.key_id()) != id {
            return Err("private key's key id does not match its key".into());
        }
        if !valid_key_name(name) {
            return Err("private key has an invalid name".into());
        }
        Ok(signer)
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    fn public(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    pub(crate) fn key_id(&self) -> [u8; 4] {
        key_id(&self.name, &self.public())
    }

    /// The private key string (keep it secret, mode 0600).
    pub fn skey(&self) -> String {
        let mut bytes = vec![ED25519];
        bytes.extend_from_slice(&self.key.to_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex::encode(self.key_id()),
            STANDARD.encode(bytes)
        )
    }

    /// The verifier key string auditors are given.
    pub fn vkey(&self) -> String {
        let mut bytes = vec![ED25519];
        bytes.extend_from_slice(&self.public());
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id()),
            STANDARD.encode(bytes)
        )
    }

    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: self.key_id(),
            key: self.key.verifying_key(),
        }
    }

    /// Signs a checkpoint: its body, an empty line, one signature line.
    pub fn sign(&self, checkpoint: &Checkpoint) -> String {
        let body = checkpoint.body();
        self.sign_text(&body)
    }

    /// Signs any note text (must end with LF).
    pub(crate) fn sign_text(&self, body: &str) -> String {
        let signature = self.key.sign(body.as_bytes());
        let mut blob = self.key_id().to_vec();
        blob.extend_from_slice(&signature.to_bytes());
        format!(
            "{body}\n{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            STANDARD.encode(blob)
        )
    }
}

impl NoteVerifier {
    /// Parses a vkey string `<name>+<key id hex>+<base64(0x01 || public key)>`.
    pub fn parse(text: &str) -> Result<NoteVerifier, String> {
        let text = text.trim();
        // Names never contain `+`; base64 keys may.
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "`{text}` is not a verifier key (<name>+<key id>+<key>)"
            ));
        };
        if !valid_key_name(name) {
            return Err(format!("verifier key name `{name}` is invalid"));
        }
        let bytes = STANDARD
            .decode(key)
            .map_err(|_| "verifier key is not base64".to_string())?;
        let [alg, public @ ..] = bytes.as_slice() else {
            return Err("empty verifier key".into());
        };
        if *alg != ED25519 {
            return Err("verifier key is not Ed25519".into());
        }
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| "verifier key is not 32 bytes".to_string())?;
        let expected = key_id(name, &public);
        if id.len() != 8 || hex::encode(expected) != id {
            return Err(format!(
                "verifier key id {id} does not match its key (expected {})",
                hex::encode(expected)
            ));
        }
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| "verifier key is not a valid Ed25519 point".to_string())?;
        Ok(NoteVerifier {
            name: name.to_string(),
            key_id: expected,
            key,
        })
    }

    /// Verifies a signed note and returns its text (the signed part). Signatures by other keys
    /// are ignored; a known key with a bad signature, or no known key at all, fails (V2).
    pub(crate) fn open<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        let bad = |why: String| NoteError::Malformed(format!("signed note {why}"));
        if note.contains('\r') {
            return Err(bad("contains CR".into()));
        }
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| bad("has no empty line before its signatures".into()))?;
        let (text, signatures) = (&note[..split + 1], &note[split + 2..]);
        let signatures = signatures
            .strip_suffix('\n')
            .ok_or_else(|| bad("does not end with LF".into()))?;
        let mut verified = false;
        for (count, line) in signatures.split('\n').enumerate() {
            if count >= MAX_SIGNATURES {
                return Err(bad("has too many signatures".into()));
            }
            let rest = line.strip_prefix(SIGNATURE_PREFIX).ok_or_else(|| {
                bad(format!(
                    "signature line `{line}` does not start with U+2014 and a space"
                ))
            })?;
            let (name, blob) = rest
                .split_once(' ')
                .ok_or_else(|| bad(format!("signature line `{line}` is malformed")))?;
            let blob = STANDARD
                .decode(blob)
                .map_err(|_| bad(format!("signature of `{name}` is not base64")))?;
            if blob.len() < 4 {
                return Err(bad(format!("signature of `{name}` is too short")));
            }
            if name != self.name || blob[..4] != self.key_id {
                continue; // Another key: ignored, as the signed-note spec requires.
            }
            let signature = Signature::from_slice(&blob[4..]).map_err(|_| {
                NoteError::Signature("the ledger key's signature has the wrong length".into())
            })?;
            self.key.verify(text.as_bytes(), &signature).map_err(|_| {
                NoteError::Signature("the ledger key's signature does not verify".into())
            })?;
            verified = true;
        }
        if !verified {
            return Err(NoteError::Signature(format!(
                "no signature by the ledger key {}+{}",
                self.name,
                hex::encode(self.key_id)
            )));
        }
        Ok(text)
    }

    /// Verifies a signed checkpoint of `origin` (V1 and V2).
    pub fn verify_checkpoint(&self, note: &str, origin: &str) -> Result<Checkpoint, NoteError> {
        // Parse before checking signatures, so a malformed note is reported as such (V1).
        let split = note.rfind("\n\n").ok_or_else(|| {
            NoteError::Malformed("signed note has no empty line before its signatures".into())
        })?;
        let checkpoint = Checkpoint::parse_body(&note[..split + 1])?;
        if checkpoint.origin != origin {
            return Err(NoteError::Malformed(format!(
                "checkpoint origin `{}` is not the ledger's origin `{origin}`",
                checkpoint.origin
            )));
        }
        self.open(note)?;
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE_VKEY: &str =
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    const EXAMPLE_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

    #[test]
    fn the_c2sp_example_note_verifies_and_mangled_copies_do_not() {
        let verifier = NoteVerifier::parse(EXAMPLE_VKEY).unwrap();
        assert_eq!(
            verifier.open(EXAMPLE_NOTE).unwrap(),
            "This is an example message.\n"
        );
        let mangled = [
            EXAMPLE_NOTE.replace("example message", "example massage"),
            EXAMPLE_NOTE.replace("Uw2Q", "Uw2R"),
            EXAMPLE_NOTE.replace('\u{2014}', "-"),
            EXAMPLE_NOTE.replace('\n', "\r\n"),
            EXAMPLE_NOTE.trim_end().to_string(),
            EXAMPLE_NOTE.replace("example.com/foo U", "example.com/bar U"),
        ];
        for note in mangled {
            assert!(verifier.open(&note).is_err(), "{note:?}");
        }
    }

    #[test]
    fn vkeys_with_a_wrong_key_id_are_rejected() {
        assert!(
            NoteVerifier::parse(
                "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
            )
            .is_err()
        );
    }

    #[test]
    fn signed_checkpoints_round_trip_and_bind_the_key() {
        let signer = NoteSigner::generate("audit.example.com/recaudit").unwrap();
        let checkpoint = Checkpoint {
            origin: signer.name().to_string(),
            size: 7,
            root: [9u8; 32],
        };
        let note = signer.sign(&checkpoint);
        let verifier = NoteVerifier::parse(&signer.vkey()).unwrap();
        assert_eq!(
            verifier.verify_checkpoint(&note, signer.name()).unwrap(),
            checkpoint
        );

        let again = NoteSigner::parse(&signer.skey()).unwrap();
        assert_eq!(again.vkey(), signer.vkey());

        // Same name, another key: ignored, so nothing the ledger key signed.
        let impostor = NoteSigner::generate(signer.name()).unwrap();
        let forged = impostor.sign(&checkpoint);
        assert_eq!(
            verifier
                .verify_checkpoint(&forged, signer.name())
                .unwrap_err()
                .check(),
            "V2"
        );
        // Wrong origin, extension line, leading zero, ASCII hyphen: V1.
        assert_eq!(
            verifier
                .verify_checkpoint(&note, "other")
                .unwrap_err()
                .check(),
            "V1"
        );
        let extended = signer.sign_text(&format!("{}extension\n", checkpoint.body()));
        assert_eq!(
            verifier
                .verify_checkpoint(&extended, signer.name())
                .unwrap_err()
                .check(),
            "V1"
        );
        let zero = note.replacen("\n7\n", "\n07\n", 1);
        assert_eq!(
            verifier
                .verify_checkpoint(&zero, signer.name())
                .unwrap_err()
                .check(),
            "V1"
        );
        let hyphen = note.replace('\u{2014}', "-");
        assert_eq!(
            verifier
                .verify_checkpoint(&hyphen, signer.name())
                .unwrap_err()
                .check(),
            "V1"
        );
        let size = note.replacen("\n7\n", "\n8\n", 1);
        assert_eq!(
            verifier
                .verify_checkpoint(&size, signer.name())
                .unwrap_err()
                .check(),
            "V2"
        );
    }
}
