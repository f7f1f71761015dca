//! findings.dat: the population as a Concordance DAT load file, so a litigation-support team
//! can load the interactions into a review platform (Concordance, Relativity, and the other
//! tools that read the same format) as one record per interaction.
//!
//! The format is a convention, not a standard; what recaudit writes:
//!
//! - field delimiter ASCII 20 (DC4, shown as `¶` by review tools; "ALT+20" in
//!   <https://www.litigationsupporttipofthenight.com/single-post/2016/07/02/notepad>),
//! - text qualifier ASCII 254 `þ` around every value, header included,
//! - a newline inside a value written as ASCII 174 `®` (loaders turn it back into a newline),
//! - the first row names the fields, rows end in CRLF,
//! - UTF-8 with a byte-order mark. `þ` and `®` are then two bytes each (`C3 BE`, `C2 AE`), not
//!   the single Windows-1252 bytes `FE` and `AE`; the BOM is what tells a loader which one it is
//!   looking at (the "þ delimiter encoding trap",
//!   <https://dev.to/frisk55frisk/why-your-concordance-dat-file-wont-parse-the-th-delimiter-encoding-trap-20mj>).
//!   Choose UTF-8 as the file's encoding when loading it.
//!
//! Values are made safe for those characters, so data cannot move a field or forge a record:
//! `þ` (the qualifier) becomes `th`, its usual transliteration; ASCII 20 becomes a space; a
//! `®` already in the data becomes `(R)` (it would read back as a newline); CR LF, CR and LF
//! become `®`; any other control character becomes a space.
//!
//! Fields: BEGDOC and ENDDOC are one control number per interaction (`<prefix>-000001`, the
//! prefix being the matter id for a matter's report, else the run id, with anything but
//! letters, digits and `-` replaced by `-`), numbered in reading order; a record is one
//! interaction, so BEGDOC = ENDDOC. Dates are `YYYY-MM-DD` and times `HH:MM:SS`, in UTC
//! (TIMEZONE says so; DATESTARTLOCAL and TIMESTARTLOCAL are the run's zone). NATIVEPATH: the
//! findings do not carry the media files' paths in the export tree (the store's inputs do, not
//! the run's findings), so it holds the recording ids, which name the media in the export
//! tree (`<recordingId>.<ext>`); SHA256 holds their hashes. HOLDFLAGS is present only in a
//! matter's report.

use std::io::Write;

use super::render_error;
use super::tables::{BOM, agent_names, all_recording_ids, hold_flags, local_parts, utc_cell};
use super::view::{ReportData, local_day};
use crate::audit::Finding;
use crate::error::Result;

/// Field delimiter, ASCII 20 (DC4).
pub(crate) const DELIMITER: char = '\u{14}';
/// Text qualifier, ASCII 254 (þ).
pub(crate) const QUALIFIER: char = '\u{FE}';
/// Newline inside a field, ASCII 174 (®).
pub(crate) const NEWLINE: char = '\u{AE}';

const FIELDS: [&str; 23] = [
    "BEGDOC",
    "ENDDOC",
    "CONVERSATIONID",
    "STATUS",
    "REASONS",
    "DATESTART",
    "TIMESTART",
    "DATEEND",
    "TIMEEND",
    "TIMEZONE",
    "DATESTARTLOCAL",
    "TIMESTARTLOCAL",
    "DIRECTION",
    "MEDIA",
    "CUSTODIAN",
    "QUEUES",
    "ANI",
    "DNIS",
    "RECORDINGIDS",
    "SHA256",
    "NATIVEPATH",
    "DETAIL",
    "RUNID",
];

/// A value as it may stand between two qualifiers (see the module documentation).
fn field(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push(QUALIFIER);
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            QUALIFIER => out.push_str("th"),
            NEWLINE => out.push_str("(R)"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push(NEWLINE);
            }
            '\n' => out.push(NEWLINE),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push(QUALIFIER);
    out
}

fn line(values: &[String], out: &mut dyn Write) -> Result<()> {
    let fields: Vec<String> = values.iter().map(|v| field(v)).collect();
    let mut text = fields.join(&DELIMITER.to_string());
    text.push_str("\r\n");
    out.write_all(text.as_bytes())
        .map_err(render_error("findings.dat"))
}

/// The control-number prefix: the matter's id, else the run's, as letters, digits and `-`.
fn prefix(data: &ReportData<'_>) -> String {
    let base = data.matter.map_or(data.run.run_id.as_str(), |m| &m.matter);
    base.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// `YYYY-MM-DD HH:MM:SS` split into date and time.
fn date_time(text: &str) -> (String, String) {
    match text.split_once(' ') {
        Some((date, time)) => (date.to_string(), time.to_string()),
        None => (text.to_string(), String::new()),
    }
}

fn record(data: &ReportData<'_>, control: &str, f: &Finding) -> Vec<String> {
    let (date_start, time_start) = date_time(&utc_cell(&f.started));
    let (date_end, time_end) = f
        .ended
        .as_deref()
        .map(|e| date_time(&utc_cell(e)))
        .unwrap_or_default();
    let local_date = local_day(&f.started, &data.context.time_zone);
    let local_time = date_time(&local_parts(data, &f.started).0).1;
    let reasons: Vec<&str> = f.reasons.iter().map(|r| r.code()).collect();
    let recordings = all_recording_ids(f).join("; ");
    let mut values = vec![
        control.to_string(),
        control.to_string(),
        f.interaction.clone(),
        f.status.as_str().to_string(),
        reasons.join("; "),
        date_start,
        time_start,
        date_end,
        time_end,
        "UTC".to_string(),
        local_date,
        local_time,
        f.direction.clone(),
        f.media.clone(),
        agent_names(f).join("; "),
        f.queues.join("; "),
        f.particulars.ani.join("; "),
        f.particulars.dnis.join("; "),
        recordings.clone(),
        f.media_sha256.join("; "),
        recordings,
        f.detail.clone(),
        data.run.run_id.clone(),
    ];
    if let Some(matter) = data.matter {
        values.push(hold_flags(matter, &f.interaction).join("; "));
    }
    values
}

/// findings.dat in memory.
#[cfg(test)]
pub(crate) fn render(data: &ReportData<'_>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write(data, &mut out)?;
    Ok(out)
}

/// Writes findings.dat (see the module documentation) into `out`.
pub(crate) fn write(data: &ReportData<'_>, out: &mut dyn Write) -> Result<()> {
    out.write_all(BOM.as_bytes())
        .map_err(render_error("findings.dat"))?;
    let mut header: Vec<String> = FIELDS.iter().map(ToString::to_string).collect();
    if data.matter.is_some() {
        header.push("HOLDFLAGS".to_string());
    }
    line(&header, out)?;
    let prefix = prefix(data);
    for (n, f) in data.reading_order()?.enumerate() {
        let control = format!("{prefix}-{:06}", n + 1);
        line(&record(data, &control, &f?), out)?;
    }
    Ok(())
}

/// Reads a DAT file as this module writes it back into rows of values (newlines restored);
/// the tests' check that nothing in the data moved a field.
#[cfg(test)]
pub(crate) fn parse(bytes: &[u8]) -> Result<Vec<Vec<String>>> {
    use crate::error::Error;
    let text = std::str::from_utf8(bytes).map_err(|e| Error::Corrupt(format!("DAT: {e}")))?;
    let text = text
        .strip_prefix(BOM)
        .ok_or_else(|| Error::Corrupt("DAT: no byte-order mark".into()))?;
    let body = text
        .strip_suffix("\r\n")
        .ok_or_else(|| Error::Corrupt("DAT: no final CRLF".into()))?;
    body.split("\r\n")
        .map(|row| {
            row.split(DELIMITER)
                .map(|value| {
                    value
                        .strip_prefix(QUALIFIER)
                        .and_then(|v| v.strip_suffix(QUALIFIER))
                        .filter(|v| !v.contains(QUALIFIER) && !v.contains(['\r', '\n']))
                        .map(|v| v.replace(NEWLINE, "\n"))
                        .ok_or_else(|| Error::Corrupt(format!("DAT: bad field {value:?}")))
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tables::tests::{context, findings, matter, run};

    #[test]
    fn hostile_values_cannot_move_a_field_or_forge_a_record() {
        let (run, context, findings) = (run(), context(), findings());
        let findings = crate::audit::Findings::of(&findings).unwrap();
        let data = ReportData::of(&run, &context, &findings);
        let bytes = render(&data).unwrap();
        assert_eq!(bytes, render(&data).unwrap(), "deterministic");
        let rows = parse(&bytes).unwrap();
        assert_eq!(rows.len(), 1 + findings.len());
        assert!(rows.iter().all(|r| r.len() == FIELDS.len()));
        assert_eq!(rows[0][0], "BEGDOC");
        let ids: Vec<&str> = rows[1..].iter().map(|r| r[2].as_str()).collect();
        assert_eq!(ids, ["c-early", "c-late", "c-pending", "c-complete"]);
        assert_eq!(rows[1][0], "20260716-000000-1-000001");
        assert_eq!(rows[4][1], "20260716-000000-1-000004");
        let detail = &rows[1][21];
        assert!(
            detail.contains("thorn dc4\nnew line\n$ rm -rf / (R) | x"),
            "{detail}"
        );
        assert_eq!(rows[1][14], "Sigthór |\n# Forged");
        assert_eq!(rows[1][5], "2026-07-14");
        assert_eq!(rows[1][6], "10:00:00");
        assert_eq!(rows[1][11], "06:00:00");
        assert_eq!(rows[1][18], "orph-9; rec-1");
    }

    #[test]
    fn a_matter_dat_numbers_by_the_matter_and_adds_the_hold_flags() {
        let (run, context, findings, matter) = (run(), context(), findings(), matter());
        let findings = crate::audit::Findings::of(&findings).unwrap();
        let data = ReportData {
            run: &run,
            context: &context,
            findings: &findings,
            matter: Some(&matter),
        };
        let rows = parse(&render(&data).unwrap()).unwrap();
        assert_eq!(rows[0].last().map(String::as_str), Some("HOLDFLAGS"));
        assert_eq!(rows[1][0], "M-1-000001");
        assert_eq!(
            rows[1].last().map(String::as_str),
            Some("deletion-near:rec-1")
        );
        assert_eq!(rows[2].last().map(String::as_str), Some(""));
    }
}
