//! Evidence coverage: what a run's verdicts rest on, and whether that is enough to seal them.
//!
//! A verdict of `recording-missing` is only as good as the evidence it was looked for in: a
//! window whose conversation details were never pulled, or whose pull stopped half-way, holds
//! fewer conversations and fewer recordings than the platform does, and an audit of it would
//! seal a clean-looking run (or exceptions that blame recordings never asked for). So every run
//! states its coverage, and [`assess`] names the gaps that forbid a clean run: no details at
//! all for the window, or a pull overlapping it that has not finished. The caller refuses such
//! a window unless told to seal it partial, and a partial run says so in every report.

use serde::{Deserialize, Serialize};

use crate::store::CoverageFacts;
use crate::time::Timestamp;

/// A run's evidence coverage, as its reports state it (field order is the JSON's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Conversations that started in the window.
    pub(crate) conversations: u64,
    /// Of those, from API pulls; the rest came from imported files, whose interval is not
    /// attested by the files themselves.
    pub(crate) pulled_conversations: u64,
    /// Pulls overlapping the window: `[from, to) api: finished|unfinished`.
    pub(crate) pulls: Vec<String>,
    /// The details availability horizon (`dataAvailabilityDate`) known, if any.
    pub(crate) details_horizon: Option<String>,
    /// Bulk export jobs whose failed recordings were read: `id (STATE)`.
    pub(crate) export_jobs: Vec<String>,
    /// Days of the export tree holding the window's media files, and how many files.
    pub(crate) export_days: Vec<String>,
    pub(crate) export_media_files: u64,
    /// Orphan-recording listings read.
    pub(crate) orphan_listings: u64,
    /// Why the evidence does not cover the window; empty for a complete run.
    pub gaps: Vec<String>,
    /// Sealed although `gaps` is not empty, because the operator asked for it.
    pub partial: bool,
}

/// A reason the evidence does not cover a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Gap {
    /// No conversation details at all: nothing was pulled or imported for the window.
    NoDetails,
    /// A pull overlapping the window has not finished (stopped, killed, or still running).
    UnfinishedPull {
        from: Timestamp,
        to: Timestamp,
        api: String,
    },
    /// Finished pulls cover only part of the window: `[from, to)` was never pulled.
    NotPulled { from: Timestamp, to: Timestamp },
}

impl std::fmt::Display for Gap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Gap::NoDetails => write!(
                f,
                "no conversation details cover the window (nothing was pulled or imported for it)"
            ),
            Gap::UnfinishedPull { from, to, api } => write!(
                f,
                "the pull of [{from}, {to}) from {api} has not finished, so conversations or recordings may be missing"
            ),
            Gap::NotPulled { from, to } => write!(
                f,
                "[{from}, {to}) of the window was never pulled (the finished pulls cover only the rest of it)"
            ),
        }
    }
}

/// The coverage of `[from, to)` and the gaps that forbid sealing it as a complete run.
pub(crate) fn assess(
    from: Timestamp,
    to: Timestamp,
    facts: &CoverageFacts,
) -> (Coverage, Vec<Gap>) {
    let finished: Vec<(Timestamp, Timestamp)> = facts
        .pulls
        .iter()
        .filter(|p| p.finished)
        .map(|p| (p.from, p.to))
        .collect();
    let mut gaps = Vec::new();
    if !covers(&finished, from, to) {
        gaps.extend(
            facts
                .pulls
                .iter()
                .filter(|p| !p.finished)
                .map(|p| Gap::UnfinishedPull {
                    from: p.from,
                    to: p.to,
                    api: p.api_base.clone(),
                }),
        );
        // Pulls that finished but cover only part of the window leave the rest unseen: the
        // conversations there were never asked for.
        if gaps.is_empty() && !finished.is_empty() {
            gaps.extend(
                uncovered(&finished, from, to)
                    .into_iter()
                    .map(|(from, to)| Gap::NotPulled { from, to }),
            );
        }
        if facts.conversations == 0 && gaps.is_empty() {
            gaps.push(Gap::NoDetails);
        }
    }
    let coverage = Coverage {
        conversations: facts.conversations,
        pulled_conversations: facts.pulled_conversations,
        pulls: facts
            .pulls
            .iter()
            .map(|p| {
                format!(
                    "[{}, {}) {}: {}",
                    p.from,
                    p.to,
                    p.api_base,
                    if p.finished { "finished" } else { "unfinished" }
                )
            })
            .collect(),
        details_horizon: facts.horizon.map(|h| h.to_string()),
        export_jobs: facts
            .export_jobs
            .iter()
            .map(|(id, state)| format!("{id} ({state})"))
            .collect(),
        export_days: facts.export_days.clone(),
        export_media_files: facts.export_media_files,
        orphan_listings: facts.orphan_listings,
        gaps: gaps.iter().map(Gap::to_string).collect(),
        partial: false,
    };
    (coverage, gaps)
}

/// Whether the union of `intervals` contains `[from, to)`.
fn covers(intervals: &[(Timestamp, Timestamp)], from: Timestamp, to: Timestamp) -> bool {
    uncovered(intervals, from, to).is_empty()
}

/// The parts of `[from, to)` outside the union of `intervals`, in order.
fn uncovered(
    intervals: &[(Timestamp, Timestamp)],
    from: Timestamp,
    to: Timestamp,
) -> Vec<(Timestamp, Timestamp)> {
    let mut sorted = intervals.to_vec();
    sorted.sort();
    let mut holes = Vec::new();
    let mut reached = from;
    for (start, end) in sorted {
        if reached >= to {
            break;
        }
        if start > reached {
            holes.push((reached, start.min(to)));
        }
        reached = reached.max(end);
    }
    if reached < to {
        holes.push((reached, to));
    }
    holes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::PulledWindow;

    fn t(hour: i64) -> Timestamp {
        Timestamp::from_millis(1_784_000_000_000 + hour * 3_600_000)
    }

    fn pull(from: i64, to: i64, finished: bool) -> PulledWindow {
        PulledWindow {
            from: t(from),
            to: t(to),
            api_base: "https://api.example".into(),
            finished,
        }
    }

    #[test]
    fn an_empty_window_without_a_finished_pull_has_no_details() {
        let (_, gaps) = assess(t(0), t(24), &CoverageFacts::default());
        assert_eq!(gaps, [Gap::NoDetails]);
        // A finished pull that found nothing is a real, empty night.
        let facts = CoverageFacts {
            pulls: vec![pull(0, 24, true)],
            ..CoverageFacts::default()
        };
        assert!(assess(t(0), t(24), &facts).1.is_empty());
    }

    #[test]
    fn an_unfinished_pull_is_a_gap_unless_finished_pulls_cover_the_window() {
        let facts = CoverageFacts {
            conversations: 17,
            pulled_conversations: 17,
            pulls: vec![pull(0, 24, false)],
            ..CoverageFacts::default()
        };
        let (coverage, gaps) = assess(t(0), t(24), &facts);
        assert!(matches!(gaps.as_slice(), [Gap::UnfinishedPull { .. }]));
        assert_eq!(coverage.gaps.len(), 1);
        let covered = CoverageFacts {
            pulls: vec![pull(0, 12, false), pull(0, 10, true), pull(10, 24, true)],
            ..facts
        };
        assert!(assess(t(0), t(24), &covered).1.is_empty());
        // A hole between finished pulls is not covered.
        let holed = CoverageFacts {
            pulls: vec![pull(0, 10, true), pull(11, 24, true), pull(9, 12, false)],
            ..covered
        };
        assert_eq!(assess(t(0), t(24), &holed).1.len(), 1);
    }

    #[test]
    fn a_window_only_partly_pulled_names_the_part_never_pulled() {
        let facts = CoverageFacts {
            conversations: 40,
            pulled_conversations: 40,
            pulls: vec![pull(0, 24, true)],
            ..CoverageFacts::default()
        };
        let (_, gaps) = assess(t(0), t(48), &facts);
        assert_eq!(
            gaps,
            [Gap::NotPulled {
                from: t(24),
                to: t(48)
            }]
        );
        let holed = CoverageFacts {
            pulls: vec![pull(0, 10, true), pull(12, 24, true)],
            ..facts
        };
        assert_eq!(
            assess(t(0), t(24), &holed).1,
            [Gap::NotPulled {
                from: t(10),
                to: t(12)
            }]
        );
    }

    #[test]
    fn imported_files_cover_what_they_hold() {
        let facts = CoverageFacts {
            conversations: 3,
            ..CoverageFacts::default()
        };
        let (coverage, gaps) = assess(t(0), t(24), &facts);
        assert!(gaps.is_empty());
        assert_eq!(coverage.pulled_conversations, 0);
    }
}
