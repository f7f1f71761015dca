//! The nightly job's Prometheus metrics, as a file for node_exporter's textfile collector.
//!
//! Format: Prometheus' text exposition format
//! (<https://prometheus.io/docs/instrumenting/exposition_formats/>): `# HELP name text`
//! (backslash and line feed escaped), `# TYPE name gauge`, then `name{label="value"} number`
//! lines, label values escaped (`\\`, `\"`, `\n`), the file ending in a line feed. Every
//! metric is a gauge (each file is one run's values, not a running count); families and labels
//! come in a fixed, sorted order, so the same run writes the same bytes.
//!
//! The file is written to a temporary name in the same directory and renamed over the old one,
//! as node_exporter's README asks ("Textfile Collector": write to `*.prom.$$`, then `mv`, so
//! the collector never reads half a file; <https://github.com/prometheus/node_exporter#textfile-collector>).
//! The temporary name does not end in `.prom`, so the collector never reads it either.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::summary::RunSummary;
use crate::error::{Error, Result};
use crate::time::Timestamp;

const LAST_SUCCESS: &str = "recaudit_last_success_timestamp_seconds";

/// One run's values.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Completeness in 0..=1; `None` leaves the metric out (nothing sealed or nothing needed).
    pub completeness_ratio: Option<f64>,
    /// Conversations per status.
    pub conversations: BTreeMap<String, u64>,
    /// Exceptions per reason.
    pub exceptions: BTreeMap<String, u64>,
    pub run_duration_seconds: f64,
    /// When the run finished.
    pub finished: Timestamp,
    /// Whether it sealed; if not, the last-success time is carried over from the old file.
    pub succeeded: bool,
    pub exit_status: u8,
}

impl From<&RunSummary> for Metrics {
    fn from(summary: &RunSummary) -> Metrics {
        Metrics {
            completeness_ratio: summary.completeness_percent.map(|p| p / 100.0),
            conversations: summary.statuses.clone(),
            exceptions: summary.reasons.clone(),
            run_duration_seconds: summary.duration_seconds,
            finished: summary.finished,
            succeeded: !summary.outcome.is_failure(),
            exit_status: summary.exit_status,
        }
    }
}

/// A sample value as Prometheus parses it (Go's `ParseFloat`, with `NaN`, `+Inf`, `-Inf`).
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{value}")
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, help: &str) {
    // HELP text: only backslash and line feed are escaped (the help texts here have neither).
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

fn labelled(out: &mut String, name: &str, help: &str, label: &str, values: &BTreeMap<String, u64>) {
    family(out, name, help);
    for (key, value) in values {
        let _ = writeln!(out, "{name}{{{label}=\"{}\"}} {value}", escape_label(key));
    }
}

/// The file's text; `last_success` is the seconds value to write for the last success.
pub(crate) fn render(metrics: &Metrics, last_success: i64) -> String {
    let mut out = String::new();
    if let Some(ratio) = metrics.completeness_ratio {
        family(
            &mut out,
            "recaudit_completeness_ratio",
            "Complete conversations over those that needed a recording, in the last sealed run (0 to 1).",
        );
        let _ = writeln!(out, "recaudit_completeness_ratio {}", number(ratio));
    }
    labelled(
        &mut out,
        "recaudit_conversations",
        "Conversations of the last run, by status.",
        "status",
        &metrics.conversations,
    );
    labelled(
        &mut out,
        "recaudit_exceptions",
        "Exceptions of the last run, by reason.",
        "reason",
        &metrics.exceptions,
    );
    family(
        &mut out,
        "recaudit_run_duration_seconds",
        "Duration of the last run of the nightly job.",
    );
    let _ = writeln!(
        out,
        "recaudit_run_duration_seconds {}",
        number(metrics.run_duration_seconds)
    );
    family(
        &mut out,
        "recaudit_last_run_timestamp_seconds",
        "When the last run of the nightly job finished (Unix time).",
    );
    let _ = writeln!(
        out,
        "recaudit_last_run_timestamp_seconds {}",
        metrics.finished.millis().div_euclid(1000)
    );
    family(
        &mut out,
        LAST_SUCCESS,
        "When the nightly job last sealed a run (Unix time; 0: never).",
    );
    let _ = writeln!(out, "{LAST_SUCCESS} {last_success}");
    family(
        &mut out,
        "recaudit_last_exit_status",
        "Exit status of the last run (0 clean, 1 exceptions, 2 failed, 3 not covered).",
    );
    let _ = writeln!(out, "recaudit_last_exit_status {}", metrics.exit_status);
    out
}

/// The last-success value of an earlier file's text, if it has one.
pub(crate) fn previous_last_success(text: &str) -> Option<i64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(LAST_SUCCESS)?.strip_prefix(' ')?;
        value.trim().parse::<f64>().ok().map(|v| v as i64)
    })
}

/// Writes `metrics` to `path` atomically (temporary file in the same directory, then rename).
/// When the run did not succeed, the last-success time is read back from the file being
/// replaced (0 if there is none), so an alert on `time() - recaudit_last_success_timestamp_seconds`
/// keeps counting from the last good night.
pub fn write_metrics(path: &Path, metrics: &Metrics) -> Result<()> {
    let last_success = if metrics.succeeded {
        metrics.finished.millis().div_euclid(1000)
    } else {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| previous_last_success(&text))
            .unwrap_or(0)
    };
    let text = render(metrics, last_success);
    let name = path.file_name().ok_or_else(|| {
        Error::Usage(format!(
            "[notify] metrics_file {} names no file",
            path.display()
        ))
    })?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut temporary = std::ffi::OsString::from(".");
    temporary.push(name);
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = dir.join(temporary);
    let written = std::fs::File::create(&temporary)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })
        .map_err(Error::io("cannot write the metrics file", &temporary));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(e);
    }
    std::fs::rename(&temporary, path).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        Error::Io {
            context: "cannot replace the metrics file",
            path: path.to_path_buf(),
            source: e,
        }
    })
}
