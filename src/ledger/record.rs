//! The ledger's records: strict line-oriented ASCII (docs/ledger-format.md, "Records").
//!
//! A record is `key SP value LF` lines, keys in a fixed order, every key present, no other keys,
//! no trailing spaces, no CR; the first line is the record type and version. The leaf bytes are
//! the record bytes exactly. Parsing is strict: parse, re-serialize, byte-compare, reject on any
//! difference, so there is exactly one byte sequence per record and an auditor's independent
//! implementation hashes the same bytes.
//!
//! Where the format is silent recaudit takes the strictest rule (docs/LEDGER.md lists them):
//! `pct` never encodes an unreserved byte and uses uppercase hex; lists are strictly ascending
//! (no duplicates); an origin is 1 to 255 printable ASCII characters without space or `+`.

// `pct` values are shared with the importer, which checks ids before they reach a record.
pub(crate) use crate::pct::{is_pct, pct_encode};

/// What a value of a record field must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Token,
    Pct,
    Utc,
    Hex64,
    Uint,
    Origin,
    UtcOrNone,
    Hex64OrNone,
    TokenOrNone,
    PctOrNone,
    TokenList,
    PctList,
    Hex64List,
    /// One of a fixed set of tokens.
    OneOf(&'static [&'static str]),
}

pub(crate) const DIRECTIONS: &[&str] = &["inbound", "outbound", "unknown"];
pub(crate) const STATUSES: &[&str] = &[
    "complete",
    "exception",
    "pending",
    "excluded",
    "not-required",
];

/// The layout of one record type.
pub struct Layout {
    pub header: &'static str,
    pub fields: &'static [(&'static str, Kind)],
}

pub const INPUT: Layout = Layout {
    header: "recaudit-input v1",
    fields: &[
        ("run", Kind::Token),
        ("seq", Kind::Uint),
        ("kind", Kind::Token),
        ("source", Kind::Pct),
        ("received", Kind::Utc),
        ("bytes", Kind::Uint),
        ("sha256", Kind::Hex64),
    ],
};

/// The kind of every listed input, and of no hashed one: an object known from its listing
/// cannot pass as one whose bytes were hashed.
pub const LISTED_KIND: &str = "export-media-object";

/// An object of an object store that was listed, not read (a media object of an S3 export
/// bucket imported without `--hash-media`): it commits to what the bucket said of the object,
/// not to its bytes. It shares the inputs tree, and its seq, with [`INPUT`] records.
pub const LISTED_INPUT: Layout = Layout {
    header: "recaudit-input-listed v1",
    fields: &[
        ("run", Kind::Token),
        ("seq", Kind::Uint),
        ("kind", Kind::OneOf(&[LISTED_KIND])),
        ("source", Kind::Pct),
        ("received", Kind::Utc),
        ("bytes", Kind::Uint),
        ("etag", Kind::Pct),
        ("version", Kind::PctOrNone),
        ("modified", Kind::Utc),
    ],
};

/// The layout of a record of the inputs tree, from its first line.
pub(crate) fn input_layout(bytes: &[u8]) -> &'static Layout {
    let listed = LISTED_INPUT.header.as_bytes();
    if bytes.starts_with(listed) && bytes.get(listed.len()) == Some(&b'\n') {
        &LISTED_INPUT
    } else {
        &INPUT
    }
}

pub const FINDING: Layout = Layout {
    header: "recaudit-finding v1",
    fields: &[
        ("run", Kind::Token),
        ("seq", Kind::Uint),
        ("interaction", Kind::Pct),
        ("media", Kind::Token),
        ("direction", Kind::OneOf(DIRECTIONS)),
        ("started", Kind::Utc),
        ("ended", Kind::UtcOrNone),
        ("status", Kind::OneOf(STATUSES)),
        ("reasons", Kind::TokenList),
        ("recordings", Kind::PctList),
        ("media-sha256", Kind::Hex64List),
        ("rule-set", Kind::Token),
    ],
};

pub const RUN: Layout = Layout {
    header: "recaudit-run v1",
    fields: &[
        ("origin", Kind::Origin),
        ("index", Kind::Uint),
        ("run", Kind::Token),
        ("window-start", Kind::Utc),
        ("window-end", Kind::Utc),
        ("completed", Kind::Utc),
        ("inputs", Kind::Uint),
        ("inputs-root", Kind::Hex64),
        ("findings", Kind::Uint),
        ("findings-root", Kind::Hex64),
        ("reports-sha256", Kind::Hex64OrNone),
        ("prev-root", Kind::Hex64),
        ("supersedes", Kind::TokenOrNone),
        ("rule-set", Kind::Token),
        ("software", Kind::Token),
    ],
};

/// A record that does not follow its layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RecordError(pub String);

/// A parsed record: its values in layout order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub(crate) values: Vec<String>,
}

impl Record {
    /// The value of `key` (layouts are tiny; a scan is fine).
    pub fn get<'a>(&'a self, layout: &Layout, key: &str) -> &'a str {
        layout
            .fields
            .iter()
            .position(|(k, _)| *k == key)
            .and_then(|i| self.values.get(i))
            .map_or("", String::as_str)
    }
}

/// Serializes values (already in their record form) in layout order, checking each.
pub(crate) fn encode(layout: &Layout, values: &[String]) -> Result<Vec<u8>, RecordError> {
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    encode_str(layout, &values)
}

/// [`encode`] for borrowed values: no copies on the append path.
pub(crate) fn encode_str(layout: &Layout, values: &[&str]) -> Result<Vec<u8>, RecordError> {
    if values.len() != layout.fields.len() {
        return Err(RecordError(format!(
            "{}: {} values for {} fields",
            layout.header,
            values.len(),
            layout.fields.len()
        )));
    }
    for ((key, kind), value) in layout.fields.iter().zip(values) {
        check(*kind, value)
            .map_err(|why| RecordError(format!("{}: field `{key}` {why}", layout.header)))?;
    }
    Ok(serialize(layout, values))
}

/// The record bytes of values already checked against their layout.
fn serialize<S: AsRef<str>>(layout: &Layout, values: &[S]) -> Vec<u8> {
    let size = layout.header.len()
        + 1
        + layout
            .fields
            .iter()
            .zip(values)
            .map(|((k, _), v)| k.len() + v.as_ref().len() + 2)
            .sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(layout.header.as_bytes());
    out.push(b'\n');
    for ((key, _), value) in layout.fields.iter().zip(values) {
        out.extend_from_slice(key.as_bytes());
        out.push(b' ');
        out.extend_from_slice(value.as_ref().as_bytes());
        out.push(b'\n');
    }
    out
}

/// Parses a record strictly: every byte must be where the layout puts it.
pub fn parse(layout: &Layout, bytes: &[u8]) -> Result<Record, RecordError> {
    let values: Vec<String> = fields(layout, bytes)?
        .into_iter()
        .map(str::to_string)
        .collect();
    let record = Record { values };
    if serialize(layout, &record.values) != bytes {
        return Err(RecordError(
            "does not re-serialize to the same bytes".into(),
        ));
    }
    Ok(record)
}

/// Checks a record strictly without copying it: the values, borrowed, in layout order. Every
/// line must be exactly `key SP value LF` for the layout's next key, so the bytes are the one
/// serialization of these values (checked again by comparing lengths).
pub(crate) fn fields<'a>(layout: &Layout, bytes: &'a [u8]) -> Result<Vec<&'a str>, RecordError> {
    let text = std::str::from_utf8(bytes).map_err(|_| RecordError("not ASCII".into()))?;
    if !text.is_ascii() {
        return Err(RecordError("not ASCII".into()));
    }
    let Some(body) = text.strip_suffix('\n') else {
        return Err(RecordError("does not end with LF".into()));
    };
    let mut lines = body.split('\n');
    if lines.next() != Some(layout.header) {
        return Err(RecordError(format!(
            "first line is not `{}`",
            layout.header
        )));
    }
    let mut values = Vec::with_capacity(layout.fields.len());
    let mut length = layout.header.len() + 1;
    for (key, kind) in layout.fields {
        let line = lines
            .next()
            .ok_or_else(|| RecordError(format!("missing field `{key}`")))?;
        let value = line
            .strip_prefix(key)
            .and_then(|rest| rest.strip_prefix(' '))
            .ok_or_else(|| RecordError(format!("expected field `{key}`, found `{line}`")))?;
        check(*kind, value).map_err(|why| RecordError(format!("field `{key}` {why}")))?;
        length += key.len() + value.len() + 2;
        values.push(value);
    }
    if let Some(extra) = lines.next() {
        return Err(RecordError(format!("unexpected line `{extra}`")));
    }
    if length != bytes.len() {
        return Err(RecordError(
            "does not re-serialize to the same bytes".into(),
        ));
    }
    Ok(values)
}

fn check(kind: Kind, value: &str) -> Result<(), String> {
    let ok = match kind {
        Kind::Token => is_token(value),
        Kind::Pct => is_pct(value),
        Kind::Utc => is_utc(value),
        Kind::Hex64 => is_hex64(value),
        Kind::Uint => is_uint(value),
        Kind::Origin => is_origin(value),
        Kind::UtcOrNone => value == "none" || is_utc(value),
        Kind::Hex64OrNone => value == "none" || is_hex64(value),
        Kind::TokenOrNone => value == "none" || is_token(value),
        Kind::PctOrNone => value == "none" || is_pct(value),
        Kind::TokenList => is_list(value, is_token),
        Kind::PctList => is_list(value, is_pct),
        Kind::Hex64List => is_list(value, is_hex64),
        Kind::OneOf(allowed) => allowed.contains(&value),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "has an invalid value `{value}` (expected {kind:?})"
        ))
    }
}

pub(crate) fn is_token(v: &str) -> bool {
    (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b))
}

pub(crate) fn is_utc(v: &str) -> bool {
    let b = v.as_bytes();
    let shape = b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape {
        return false;
    }
    // A real calendar time: year 0001 to 9999, no leap second. Checked by hand: this runs
    // twice per record and must cost nanoseconds, not a date parser's microseconds.
    let number = |from: usize, to: usize| {
        b[from..to]
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let (year, month, day) = (number(0, 4), number(5, 7), number(8, 10));
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    year >= 1
        && (1..=days).contains(&day)
        && number(11, 13) < 24
        && number(14, 16) < 60
        && number(17, 19) < 60
}

pub(crate) fn is_hex64(v: &str) -> bool {
    v.len() == 64
        && v.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A decimal without leading zeros that fits in 64 bits.
pub(crate) fn is_uint(v: &str) -> bool {
    !v.is_empty()
        && v.bytes().all(|b| b.is_ascii_digit())
        && (v == "0" || !v.starts_with('0'))
        && v.parse::<u64>().is_ok()
}

pub(crate) fn is_origin(v: &str) -> bool {
    (1..=255).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic() && b != b'+')
}

fn is_list(v: &str, item: fn(&str) -> bool) -> bool {
    if v == "none" {
        return true;
    }
    let items: Vec<&str> = v.split(',').collect();
    items.iter().all(|i| item(i)) && items.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes())
}

/// `none`, or the items sorted by bytes, deduplicated and joined with `,`.
pub(crate) fn list<S: AsRef<str>>(items: &[S]) -> String {
    let mut items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    items.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    items.dedup();
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(",")
    }
}

/// Any text as a token: lower case, other characters replaced by `-`, at most 64 characters;
/// `unknown` when nothing is left. Used for values recaudit copies from payloads (media types,
/// input kinds) so that an unexpected value can never make a record unwritable.
pub(crate) fn tokenize(raw: &str) -> String {
    let token: String = raw
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || "-._".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if token.is_empty() {
        "unknown".to_string()
    } else {
        token
    }
}

/// A source path or request as a `pct` value: encoded, and cut to 256 characters (never
/// inside an escape) when longer. The payload itself is identified by its SHA-256.
pub(crate) fn source_pct(raw: &str) -> String {
    let encoded = pct_encode(if raw.is_empty() { "-" } else { raw });
    if encoded.len() <= 256 {
        return encoded;
    }
    // Back off so the cut never splits `%XX`.
    let bytes = encoded.as_bytes();
    let mut end = 256;
    if bytes[end - 1] == b'%' {
        end -= 1;
    } else if bytes[end - 2] == b'%' {
        end -= 2;
    }
    encoded[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding_values() -> Vec<String> {
        [
            "20260715-020304-1",
            "0",
            "5b7e2c10-3f4a-4d8b-a1c2-7e9f00a1b2c3",
            "voice",
            "inbound",
            "2026-07-14T15:08:01.906Z",
            "none",
            "exception",
            "media-not-established,recording-missing",
            "none",
            "none",
            "recaudit-rules-1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn round_trips_and_rejects_any_deviation() {
        let bytes = encode(&FINDING, &finding_values()).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("recaudit-finding v1\nrun 20260715-020304-1\nseq 0\n"));
        assert!(text.ends_with("rule-set recaudit-rules-1\n"));
        assert_eq!(parse(&FINDING, &bytes).unwrap().values, finding_values());

        let mangled = [
            text.replace("seq 0", "seq 00"),
            text.replace("\n", "\r\n"),
            text.trim_end().to_string(),
            format!("{text}extra x\n"),
            text.replace("status exception", "status exception "),
            text.replace(
                "reasons media-not-established,recording-missing",
                "reasons recording-missing,media-not-established",
            ),
            text.replace("direction inbound", "direction Inbound"),
            text.replace(
                "started 2026-07-14T15:08:01.906Z",
                "started 2026-07-14T15:08:01Z",
            ),
            text.replace(
                "started 2026-07-14T15:08:01.906Z",
                "started 2026-02-30T15:08:01.906Z",
            ),
            text.replace("rule-set", "ruleset"),
            text.replace(
                "started 2026-07-14T15:08:01.906Z",
                "started 2026-07-14T15:08:60.906Z",
            ),
            text.replace(
                "started 2026-07-14T15:08:01.906Z",
                "started 0000-07-14T15:08:01.906Z",
            ),
            text.replace("seq 0", "seq 18446744073709551616"),
            text.replace(
                "started 2026-07-14T15:08:01.906Z",
                "started 2025-02-29T15:08:01.906Z",
            ),
            text.replace(
                "started 2026-07-14T15:08:01.906Z",
                "started 2026-13-01T15:08:01.906Z",
            ),
            text.replace(
                "started 2026-07-14T15:08:01.906Z",
                "started 2026-07-14T24:08:01.906Z",
            ),
        ];
        for bad in mangled {
            assert!(parse(&FINDING, bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    fn listed_values() -> Vec<String> {
        [
            "20260715-020304-1",
            "3",
            "export-media-object",
            "s3%3A%2F%2Fexports%2Forg%2Fconversation_id%3Dc1%2Fr1.opus",
            "2026-07-15T02:03:04.005Z",
            "16384",
            "9b2cf535f27731c974343645a3985328",
            "none",
            "2026-07-14T23:59:58.000Z",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn listed_inputs_round_trip_and_are_told_apart_by_their_first_line() {
        let bytes = encode(&LISTED_INPUT, &listed_values()).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("recaudit-input-listed v1\nrun "), "{text}");
        assert!(text.contains("\netag 9b2cf535f27731c974343645a3985328\nversion none\nmodified "));
        assert_eq!(
            parse(&LISTED_INPUT, &bytes).unwrap().values,
            listed_values()
        );
        let header = |bytes: &[u8]| input_layout(bytes).header;
        assert_eq!(header(&bytes), LISTED_INPUT.header);
        assert_eq!(header(b"recaudit-input v1\nrun x\n"), INPUT.header);
        assert_eq!(header(b"recaudit-input-listed v10\n"), INPUT.header);

        let mut versioned = listed_values();
        versioned[7] = "3HL4kqtJlcpXroDTDmJ%2BrmSpXd3dIbrHY".to_string();
        assert!(encode(&LISTED_INPUT, &versioned).is_ok());
        let mangled = [
            text.replace("kind export-media-object", "kind export-media"),
            text.replace("version none", "version "),
            text.replace("etag 9b2c", "etag \"9b2c"),
            text.replace("\nmodified 2026-07-14T23:59:58.000Z", ""),
            text.replace("recaudit-input-listed v1", "recaudit-input v1"),
        ];
        for bad in mangled {
            assert!(parse(&LISTED_INPUT, bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn utc_is_a_calendar_time() {
        assert!(is_utc("2024-02-29T23:59:59.999Z"));
        assert!(is_utc("0001-01-01T00:00:00.000Z"));
        assert!(!is_utc("2023-02-29T00:00:00.000Z"));
        assert!(!is_utc("2100-02-29T00:00:00.000Z"));
        assert!(is_utc("2000-02-29T00:00:00.000Z"));
        assert!(!is_utc("2026-04-31T00:00:00.000Z"));
        assert!(!is_utc("2026-07-14T15:08:01.906+00:00"));
    }

    #[test]
    fn pct_is_strict() {
        assert_eq!(pct_encode("a/b c=é"), "a%2Fb%20c%3D%C3%A9");
        assert!(is_pct("a%2Fb"));
        assert!(!is_pct("a%2fb"), "lowercase hex");
        assert!(!is_pct("a%41"), "encodes an unreserved byte");
        assert!(!is_pct("a/b"));
        assert!(!is_pct("a%2"));
        assert!(!is_pct(""));
        assert!(!is_pct(&"a".repeat(257)));
    }

    #[test]
    fn long_sources_are_cut_outside_escapes() {
        for len in 80..90 {
            let raw = format!("{}/", "x".repeat(len)).repeat(3);
            let pct = source_pct(&raw);
            assert!(is_pct(&pct), "{pct}");
            assert!(pct.len() <= 256);
        }
    }

    #[test]
    fn lists_sort_by_bytes_and_tokens_normalise() {
        assert_eq!(list(&["b", "a", "B", "a"]), "B,a,b");
        assert_eq!(list::<&str>(&[]), "none");
        assert_eq!(tokenize("Voice Call"), "voice-call");
        assert_eq!(tokenize(""), "unknown");
    }
}
