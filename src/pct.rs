//! Percent-encoding as the ledger writes it (`pct` values, docs/ledger-format.md).
//!
//! Every byte outside `A-Z a-z 0-9 - . _ ~` is written `%XX` with uppercase hex, an unreserved
//! byte is never encoded, and a value is 1 to 256 characters: so each text has exactly one
//! encoding, and the ledger one byte sequence per record. A layer-0 helper: the ledger encodes
//! record fields with it, and the importer checks with it that an id will fit in one before
//! the id is stored (a bad id rejects its file instead of failing an audit later).

use std::fmt::Write as _;

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

/// Whether `v` is a `pct` value: 1 to 256 characters, unreserved bytes as themselves and
/// every other byte `%XX` in uppercase hex (the one encoding [`pct_encode`] writes).
pub(crate) fn is_pct(v: &str) -> bool {
    if !(1..=256).contains(&v.len()) {
        return false;
    }
    let bytes = v.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |b: u8| b.is_ascii_digit() || (b'A'..=b'F').contains(&b);
            if i + 2 >= bytes.len() || !hex(bytes[i + 1]) || !hex(bytes[i + 2]) {
                return false;
            }
            let decoded = u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap_or(0);
            if is_unreserved(decoded) {
                return false;
            }
            i += 3;
        } else if is_unreserved(bytes[i]) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// Percent-encodes every byte outside `A-Z a-z 0-9 - . _ ~` with uppercase hex.
pub(crate) fn pct_encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if is_unreserved(b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
