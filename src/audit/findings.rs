//! A night's findings, spooled to disk: memory holds a few bytes per finding, never the
//! findings themselves.
//!
//! A night of a million conversations makes a million [`Finding`]s of about 2 KB each with
//! their particulars. The run stores them, seals them in the ledger and renders every report
//! from them, several passes in two orders (conversation id for the ledger, the store and
//! findings.json; reading order for the CSV, the DAT file and the certificate). Holding them
//! all would make the audit's memory grow with the night, so [`FindingsWriter`] writes each
//! one as a line of JSON into an anonymous temporary file (in `TMPDIR`, deleted when the
//! [`Findings`] is dropped, even by a crash) and keeps only:
//! - its byte offset (8 bytes), for positional reads;
//! - its reading-order key (8 bytes): status rank and start instant packed into one integer;
//! - the counts per status and per (reason, status), so that tallies need no pass at all.
//!
//! [`Findings::iter`] reads them back in the order they were written, [`Findings::in_order`]
//! in any order of positions, such as [`Findings::reading_order`]. The reading order is exact:
//! by status rank, then `started`, then interaction id. The packed key orders `started` as the
//! text does whenever it is canonical UTC (`YYYY-MM-DDTHH:MM:SS.mmmZ`, what the audit writes),
//! and the position orders ids whenever findings were written in id order (what the audit and
//! the store do); for anything else the order is computed from the findings' own fields.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::OnceLock;

use super::{Finding, Reason, Status};
use crate::error::{Error, Result};
use crate::store::StoredFinding;
use crate::time::Timestamp;

/// The verdicts of a population, on disk, with their counts in memory.
#[derive(Debug)]
pub struct Findings {
    file: Option<File>,
    /// Start of each finding's line, and one past the last line's end.
    offsets: Vec<u64>,
    /// Reading-order key of each finding (see [`order_key`]); none once one cannot be packed.
    keys: Option<Vec<u64>>,
    /// Whether the findings were written in strictly increasing interaction id.
    id_ordered: bool,
    counts: Counts,
    order: OnceLock<Vec<u32>>,
}

/// Interactions per status and per (reason, status), counted as findings are written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub(crate) statuses: [usize; Status::ALL.len()],
    /// `[reason][status]`, both in declaration order.
    pub(crate) reasons: [[usize; Status::ALL.len()]; Reason::ALL.len()],
}

impl Counts {
    pub(crate) fn status(&self, status: Status) -> usize {
        self.statuses[status as usize]
    }

    /// Interactions of `status` that give `reason`.
    pub(crate) fn reason(&self, reason: Reason, status: Status) -> usize {
        self.reasons[reason as usize][status as usize]
    }

    /// Interactions that give `reason`, whatever their status.
    pub(crate) fn reason_total(&self, reason: Reason) -> usize {
        self.reasons[reason as usize].iter().sum()
    }
}

/// Writes findings into a new [`Findings`].
pub struct FindingsWriter {
    out: BufWriter<File>,
    written: u64,
    findings: Findings,
    last_id: Option<String>,
    line: Vec<u8>,
}

fn spool_error(source: std::io::Error) -> Error {
    Error::Io {
        context: "cannot use the findings spool in the temporary folder (set TMPDIR to a folder with room)",
        path: std::env::temp_dir(),
        source,
    }
}

impl FindingsWriter {
    pub fn new() -> Result<FindingsWriter> {
        let file = tempfile::tempfile().map_err(spool_error)?;
        let reader = file.try_clone().map_err(spool_error)?;
        Ok(FindingsWriter {
            out: BufWriter::with_capacity(256 * 1024, file),
            written: 0,
            findings: Findings {
                file: Some(reader),
                ..Findings::empty()
            },
            last_id: None,
            line: Vec::with_capacity(4096),
        })
    }

    pub fn push(&mut self, finding: &Finding) -> Result<()> {
        self.line.clear();
        // The store's form of a finding (status and reasons by their codes): one codec for
        // the table and the spool, `Finding::to_stored` and `Finding::from_stored`.
        serde_json::to_writer(&mut self.line, &finding.to_stored()).map_err(|e| Error::Render {
            what: format!("the finding of interaction {}", finding.interaction),
            source: Some(Box::new(e)),
        })?;
        self.line.push(b'\n');
        self.out.write_all(&self.line).map_err(spool_error)?;
        self.written += self.line.len() as u64;

        let findings = &mut self.findings;
        findings.offsets.push(self.written);
        let counts = &mut findings.counts;
        counts.statuses[finding.status as usize] += 1;
        for reason in &finding.reasons {
            counts.reasons[*reason as usize][finding.status as usize] += 1;
        }
        if let Some(keys) = &mut findings.keys {
            match order_key(finding) {
                Some(key) => keys.push(key),
                None => findings.keys = None,
            }
        }
        if findings.id_ordered {
            match &mut self.last_id {
                Some(last) if *last >= finding.interaction => findings.id_ordered = false,
                Some(last) => finding.interaction.clone_into(last),
                None => self.last_id = Some(finding.interaction.clone()),
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<Findings> {
        self.out.flush().map_err(spool_error)?;
        Ok(self.findings)
    }
}

/// Status rank in the top byte, then the start instant (milliseconds since 1000-01-01): the
/// reading order of statuses and `started` text, for canonical `started` of years 1000-9999.
fn order_key(finding: &Finding) -> Option<u64> {
    const YEAR_1000_MS: i64 = -30_610_224_000_000;
    let started = &finding.started;
    if started.len() != 24 {
        return None;
    }
    let instant = Timestamp::parse(started).ok()?;
    if instant.to_string() != *started {
        return None;
    }
    let millis = u64::try_from(instant.millis().checked_sub(YEAR_1000_MS)?).ok()?;
    (millis < 1 << 56).then(|| (u64::from(finding.status.reading_rank()) << 56) | millis)
}

impl Findings {
    /// No findings (a window without conversations).
    pub fn empty() -> Findings {
        Findings {
            file: None,
            offsets: vec![0],
            keys: Some(Vec::new()),
            id_ordered: true,
            counts: Counts::default(),
            order: OnceLock::new(),
        }
    }

    /// `findings` spooled, in the order given.
    pub fn of<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Result<Findings> {
        let mut writer = FindingsWriter::new()?;
        for finding in findings {
            writer.push(finding)?;
        }
        writer.finish()
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The findings in pages of `size`, in the order written.
    pub(crate) fn pages(&self, size: usize) -> impl Iterator<Item = Result<Vec<Finding>>> + '_ {
        let mut findings = self.iter();
        std::iter::from_fn(move || {
            let mut page = Vec::with_capacity(size.min(self.len()));
            for finding in findings.by_ref().take(size) {
                match finding {
                    Ok(finding) => page.push(finding),
                    Err(e) => return Some(Err(e)),
                }
            }
            (!page.is_empty()).then_some(Ok(page))
        })
    }

    /// Every finding in memory, in the order written: for tools and tests over small
    /// populations (a night's findings are read with [`Findings::iter`]).
    pub fn to_vec(&self) -> Result<Vec<Finding>> {
        self.iter().collect()
    }

    /// Whether the findings were written in strictly increasing interaction id.
    pub(crate) fn is_id_ordered(&self) -> bool {
        self.id_ordered
    }

    pub(crate) fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Every finding, in the order written.
    pub fn iter(&self) -> FindingsIter<'_> {
        self.in_order(OrderedPositions::All(0..self.len()))
    }

    /// The findings at `positions`, in that order.
    pub(crate) fn in_order<'a>(
        &'a self,
        positions: impl Into<OrderedPositions<'a>>,
    ) -> FindingsIter<'a> {
        FindingsIter {
            findings: self,
            positions: positions.into(),
            buffer: Vec::new(),
            buffer_start: 0,
        }
    }

    /// The positions of every finding in the order reviewers read them: by status (exceptions
    /// first, then pending, complete, excluded, not required), then start time, then id.
    pub(crate) fn reading_order(&self) -> Result<&[u32]> {
        if let Some(order) = self.order.get() {
            return Ok(order);
        }
        let order = self.compute_reading_order()?;
        Ok(self.order.get_or_init(|| order))
    }

    /// The positions of the findings of `status`, in reading order.
    pub(crate) fn reading_order_of(&self, status: Status) -> Result<&[u32]> {
        let order = self.reading_order()?;
        let rank = status.reading_rank();
        let before: usize = Status::ALL
            .into_iter()
            .filter(|s| s.reading_rank() < rank)
            .map(|s| self.counts.status(s))
            .sum();
        Ok(&order[before..before + self.counts.status(status)])
    }

    fn compute_reading_order(&self) -> Result<Vec<u32>> {
        let n = u32::try_from(self.len()).map_err(|_| {
            Error::Usage(format!(
                "{} findings are more than one run can report; audit a shorter window",
                self.len()
            ))
        })?;
        let mut order: Vec<u32> = (0..n).collect();
        if let Some(keys) = self.keys.as_ref().filter(|_| self.id_ordered) {
            // Stable: equal keys keep position order, which is id order.
            order.sort_by_key(|p| keys[*p as usize]);
            return Ok(order);
        }
        let mut rows = Vec::with_capacity(self.len());
        for (position, finding) in (0..n).zip(self.iter()) {
            let finding = finding?;
            rows.push((
                finding.status.reading_rank(),
                finding.started,
                finding.interaction,
                position,
            ));
        }
        rows.sort();
        Ok(rows.into_iter().map(|(_, _, _, p)| p).collect())
    }

    /// The finding at `position` (its line, `position` counted from 0).
    fn line(&self, position: usize) -> (u64, u64) {
        (self.offsets[position], self.offsets[position + 1])
    }
}

/// Positions to read, in order.
pub(crate) enum OrderedPositions<'a> {
    All(std::ops::Range<usize>),
    Listed(std::slice::Iter<'a, u32>),
}

impl<'a> From<&'a [u32]> for OrderedPositions<'a> {
    fn from(positions: &'a [u32]) -> Self {
        OrderedPositions::Listed(positions.iter())
    }
}

impl Iterator for OrderedPositions<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        match self {
            OrderedPositions::All(range) => range.next(),
            OrderedPositions::Listed(iter) => iter.next().map(|p| *p as usize),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            OrderedPositions::All(range) => range.size_hint(),
            OrderedPositions::Listed(iter) => iter.size_hint(),
        }
    }
}

/// Reads findings back, through a buffer of consecutive lines.
pub struct FindingsIter<'a> {
    findings: &'a Findings,
    positions: OrderedPositions<'a>,
    buffer: Vec<u8>,
    buffer_start: u64,
}

/// Lines read at a time when reading in order.
const READ_AHEAD: u64 = 256 * 1024;

impl FindingsIter<'_> {
    fn read(&mut self, position: usize) -> Result<Finding> {
        let (start, end) = self.findings.line(position);
        let buffered_end = self.buffer_start + self.buffer.len() as u64;
        if start < self.buffer_start || end > buffered_end {
            let file_end = *self.findings.offsets.last().unwrap_or(&0);
            let until = end.max(start + READ_AHEAD).min(file_end);
            self.buffer.resize((until - start) as usize, 0);
            self.buffer_start = start;
            let file = self
                .findings
                .file
                .as_ref()
                .ok_or_else(|| spool_error(std::io::Error::other("the spool has no file")))?;
            read_at(file, &mut self.buffer, start).map_err(spool_error)?;
        }
        let from = (start - self.buffer_start) as usize;
        let to = (end - self.buffer_start) as usize;
        let unreadable = |why: String| {
            Error::Corrupt(format!(
                "finding {position} of the findings spool cannot be read back ({why}); is the temporary folder (TMPDIR) damaged or full?"
            ))
        };
        let stored: StoredFinding = serde_json::from_slice(&self.buffer[from..to])
            .map_err(|e| unreadable(e.to_string()))?;
        Finding::from_stored(stored).map_err(unreadable)
    }
}

impl Iterator for FindingsIter<'_> {
    type Item = Result<Finding>;

    fn next(&mut self) -> Option<Result<Finding>> {
        let position = self.positions.next()?;
        Some(self.read(position))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.positions.size_hint()
    }
}

#[cfg(unix)]
fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buffer, offset)
}

#[cfg(windows)]
fn read_at(file: &File, mut buffer: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buffer.is_empty() {
        match file.seek_read(buffer, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buffer = &mut buffer[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::particulars::Particulars;

    fn finding(id: &str, status: Status, started: &str) -> Finding {
        Finding {
            interaction: id.into(),
            status,
            reasons: if status == Status::Exception {
                vec![Reason::RecordingMissing]
            } else {
                vec![]
            },
            recordings: vec![format!("rec-{id}")],
            media_sha256: vec![],
            started: started.into(),
            ended: None,
            direction: "inbound".into(),
            media: "voice".into(),
            queues: vec!["Sales".into()],
            users: vec![],
            detail: format!("detail of {id}, with \"quotes\"\nand a line break"),
            particulars: Particulars {
                ani: vec!["tel:+1555".into()],
                ..Particulars::default()
            },
        }
    }

    fn population() -> Vec<Finding> {
        vec![
            finding("a", Status::Complete, "2026-01-01T10:00:00.000Z"),
            finding("b", Status::Exception, "2026-01-01T11:00:00.000Z"),
            finding("c", Status::Exception, "2026-01-01T09:00:00.000Z"),
            finding("d", Status::Pending, "2026-01-01T08:00:00.000Z"),
            finding("e", Status::Exception, "2026-01-01T09:00:00.000Z"),
            finding("f", Status::NotRequired, "2026-01-01T07:00:00.000Z"),
        ]
    }

    /// The order the reports used to compute from the findings in memory.
    fn expected_order(findings: &[Finding]) -> Vec<String> {
        let mut rows: Vec<&Finding> = findings.iter().collect();
        rows.sort_by(|a, b| {
            (a.status.reading_rank(), &a.started, &a.interaction).cmp(&(
                b.status.reading_rank(),
                &b.started,
                &b.interaction,
            ))
        });
        rows.iter().map(|f| f.interaction.clone()).collect()
    }

    fn read_order(spool: &Findings) -> Vec<String> {
        let order = spool.reading_order().unwrap();
        spool
            .in_order(order)
            .map(|f| f.unwrap().interaction)
            .collect()
    }

    #[test]
    fn findings_read_back_exactly_as_written_with_their_counts() {
        let findings = population();
        let spool = Findings::of(&findings).unwrap();
        assert_eq!(spool.len(), findings.len());
        let back: Vec<Finding> = spool.iter().map(Result::unwrap).collect();
        assert_eq!(back, findings);
        assert_eq!(spool.counts().status(Status::Exception), 3);
        assert_eq!(
            spool
                .counts()
                .reason(Reason::RecordingMissing, Status::Exception),
            3
        );
        assert_eq!(spool.counts().reason_total(Reason::RecordingMissing), 3);
        assert_eq!(spool.counts().status(Status::Excluded), 0);
    }

    #[test]
    fn the_reading_order_is_status_then_start_then_id_on_both_paths() {
        let findings = population();
        let fast = Findings::of(&findings).unwrap();
        assert!(
            fast.id_ordered
                && fast
                    .keys
                    .as_ref()
                    .is_some_and(|k| k.len() == findings.len())
        );
        assert_eq!(read_order(&fast), expected_order(&findings));
        assert_eq!(read_order(&fast), ["c", "e", "b", "d", "a", "f"]);

        // Not in id order, and a start that is not canonical: the slow path, same order.
        let mut shuffled = findings.clone();
        shuffled.reverse();
        shuffled.push(finding("g", Status::Exception, "2026-01-01T09:00:00Z"));
        let slow = Findings::of(&shuffled).unwrap();
        assert!(!slow.id_ordered && slow.keys.is_none());
        assert_eq!(read_order(&slow), expected_order(&shuffled));

        let exceptions: Vec<String> = slow
            .in_order(slow.reading_order_of(Status::Exception).unwrap())
            .map(|f| f.unwrap().interaction)
            .collect();
        assert_eq!(exceptions, ["c", "e", "g", "b"]);
        assert!(slow.reading_order_of(Status::Excluded).unwrap().is_empty());
    }

    #[test]
    fn many_findings_cross_the_read_buffer_intact() {
        let findings: Vec<Finding> = (0..3_000)
            .map(|n| {
                let mut f = finding(
                    &format!("c-{n:05}"),
                    Status::Complete,
                    "2026-01-01T10:00:00.000Z",
                );
                f.detail = "x".repeat(n % 700);
                f
            })
            .collect();
        let spool = Findings::of(&findings).unwrap();
        assert!(
            spool
                .iter()
                .map(Result::unwrap)
                .eq(findings.iter().cloned())
        );
        let backwards: Vec<u32> = (0..3_000).rev().collect();
        assert!(
            spool
                .in_order(backwards.as_slice())
                .map(Result::unwrap)
                .eq(findings.iter().rev().cloned())
        );
        assert!(Findings::empty().iter().next().is_none());
        assert!(Findings::empty().reading_order().unwrap().is_empty());
    }
}
