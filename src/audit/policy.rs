//! The audit policy: which interactions must be recorded and how strictly they are judged.
//!
//! It is read from the `[scope]`, `[rules]` and `[[retention]]` tables of the configuration file
//! (see `examples/recaudit.toml` and [`crate::config`]); every setting has the default a regulated voice contact
//! centre would start from. Unknown keys are rejected so that a misspelt setting cannot silently
//! fall back to a default and change verdicts.

use serde::Deserialize;

use crate::time::HOUR_MS;

/// Everything the rules need besides the evidence.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    pub scope: Scope,
    pub rules: Thresholds,
    /// Retention requirements; when several match an interaction the longest wins (overlapping
    /// Genesys quality-management policies behave the same way).
    pub retention: Vec<RetentionRule>,
}

/// Which interactions are in scope; out-of-scope ones get status `excluded`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Scope {
    /// Analytics media types that must be recorded (`voice`, `chat`, `message`, `email`, ...).
    pub media_types: Vec<String>,
    /// Originating directions in scope (`inbound`, `outbound`); empty means both.
    pub directions: Vec<String>,
    /// When non-empty, only conversations in one of these divisions are in scope.
    pub include_divisions: Vec<String>,
    /// Conversations in any of these divisions are out of scope.
    pub exclude_divisions: Vec<String>,
    /// When non-empty, only conversations routed through one of these queues are in scope.
    pub include_queues: Vec<String>,
    /// Conversations routed through any of these queues are out of scope.
    pub exclude_queues: Vec<String>,
    /// Conversations shorter than this (conversationStart to conversationEnd) are excluded with
    /// reason `short-interaction`; 0 turns the rule off.
    pub min_duration_seconds: u64,
    /// Judge calls between internal parties only (no customer or external participant) as well.
    /// Genesys records them only when a user recording is made ("Recording in Genesys Cloud"),
    /// so by default they are `excluded` with reason `internal-call`.
    pub include_internal_calls: bool,
}

impl Default for Scope {
    fn default() -> Self {
        Scope {
            media_types: vec!["voice".to_string()],
            directions: Vec::new(),
            include_divisions: Vec::new(),
            exclude_divisions: Vec::new(),
            include_queues: Vec::new(),
            exclude_queues: Vec::new(),
            min_duration_seconds: 0,
            include_internal_calls: false,
        }
    }
}

/// Time and ratio thresholds of the rules.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Genesys can take up to 48 hours to make a recording selectable; a conversation whose
    /// only problems are a missing recording or missing media stays `pending` this long.
    pub grace_hours: u64,
    /// A recording still `UPLOADING` this long after the conversation ended is an error.
    pub uploading_threshold_hours: u64,
    /// Share of the agents' interact time the recorded media must cover (0.0 to 1.0).
    pub duration_coverage: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            grace_hours: 48,
            uploading_threshold_hours: 24,
            duration_coverage: 0.9,
        }
    }
}

/// One retention requirement, e.g. MiFID II's five years for a division of brokers.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RetentionRule {
    /// Shown in findings, e.g. `mifid-ii`.
    pub name: String,
    /// Minimum days a recording must be kept after the conversation ended.
    pub days: u64,
    /// Restrict the rule to these divisions (empty: all).
    #[serde(default)]
    pub divisions: Vec<String>,
    /// Restrict the rule to these queues (empty: all).
    #[serde(default)]
    pub queues: Vec<String>,
}

impl Policy {
    /// Checks ranges serde cannot express; the message names the setting.
    pub fn validate(&self) -> Result<(), String> {
        let coverage = self.rules.duration_coverage;
        if !(0.0..=1.0).contains(&coverage) || coverage.is_nan() {
            return Err(format!(
                "rules.duration_coverage must be between 0.0 and 1.0, got {coverage}"
            ));
        }
        if self.scope.media_types.is_empty() {
            return Err("scope.media_types must name at least one media type".to_string());
        }
        for rule in &self.retention {
            if rule.days == 0 {
                return Err(format!("retention rule `{}` must have days > 0", rule.name));
            }
        }
        Ok(())
    }

    pub fn grace_ms(&self) -> i64 {
        hours_to_ms(self.rules.grace_hours)
    }

    pub fn uploading_threshold_ms(&self) -> i64 {
        hours_to_ms(self.rules.uploading_threshold_hours)
    }

    /// The coverage threshold in thousandths, so the comparison is exact integer arithmetic.
    pub fn coverage_permille(&self) -> i64 {
        (self.rules.duration_coverage * 1000.0).round() as i64
    }

    pub fn media_in_scope(&self, media: &str) -> bool {
        self.scope
            .media_types
            .iter()
            .any(|m| m.eq_ignore_ascii_case(media))
    }

    /// A short, stable description of the settings that change verdicts, for reports.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "media {}; grace {} h; uploading threshold {} h; duration coverage {}%",
            self.scope.media_types.join(","),
            self.rules.grace_hours,
            self.rules.uploading_threshold_hours,
            self.coverage_permille() as f64 / 10.0
        );
        if !self.scope.directions.is_empty() {
            text.push_str(&format!("; directions {}", self.scope.directions.join(",")));
        }
        if self.scope.min_duration_seconds > 0 {
            text.push_str(&format!(
                "; minimum duration {} s",
                self.scope.min_duration_seconds
            ));
        }
        if self.scope.include_internal_calls {
            text.push_str("; internal calls included");
        }
        for rule in &self.retention {
            text.push_str(&format!("; retention {} {} days", rule.name, rule.days));
        }
        text
    }
}

fn hours_to_ms(hours: u64) -> i64 {
    i64::try_from(hours)
        .unwrap_or(i64::MAX / HOUR_MS)
        .saturating_mul(HOUR_MS)
}
