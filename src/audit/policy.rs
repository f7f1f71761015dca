//! The audit policy: which interactions must be recorded and how strictly they are judged.
//!
//! It is read from the `[scope]`, `[rules]` and `[[retention]]` tables of the configuration file
//! (see `examples/recaudit.toml` and [`crate::config`]); every setting has the default a regulated voice contact
//! centre would start from. Unknown keys are rejected so that a misspelt setting cannot silently
//! fall back to a default and change verdicts.

use serde::{Deserialize, Serialize};

use crate::time::HOUR_MS;

/// Everything the rules need besides the evidence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    pub scope: Scope,
    pub rules: Thresholds,
    /// Retention requirements; when several match an interaction the longest wins (overlapping
    /// Genesys quality-management policies behave the same way).
    pub retention: Vec<RetentionRule>,
}

/// Which interactions are in scope; out-of-scope ones get status `excluded`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Scope {
    /// Analytics media types that must be recorded (`voice`, `chat`, `message`, `email`, ...).
    pub media_types: Vec<String>,
    /// Originating directions in scope (`inbound`, `outbound`); empty means both.
    pub directions: Vec<String>,
    /// When non-empty, only conversations in one of these divisions are in scope.
    pub include_divisions: Vec<String>,
    /// Conversations in any of these divisions are out of scope.
    pub(crate) exclude_divisions: Vec<String>,
    /// When non-empty, only conversations routed through one of these queues are in scope.
    pub(crate) include_queues: Vec<String>,
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Genesys can take up to 48 hours to make a recording selectable; a conversation whose
    /// only problems are a missing recording or missing media stays `pending` this long.
    pub(crate) grace_hours: u64,
    /// A recording still `UPLOADING` this long after the conversation ended is an error.
    pub(crate) uploading_threshold_hours: u64,
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
    pub(crate) fn validate(&self) -> Result<(), String> {
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

    pub(crate) fn grace_ms(&self) -> i64 {
        hours_to_ms(self.rules.grace_hours)
    }

    pub(crate) fn uploading_threshold_ms(&self) -> i64 {
        hours_to_ms(self.rules.uploading_threshold_hours)
    }

    /// The coverage threshold in thousandths, so the comparison is exact integer arithmetic.
    pub(crate) fn coverage_permille(&self) -> i64 {
        (self.rules.duration_coverage * 1000.0).round() as i64
    }

    pub(crate) fn media_in_scope(&self, media: &str) -> bool {
        self.scope
            .media_types
            .iter()
            .any(|m| m.eq_ignore_ascii_case(media))
    }

    /// Every setting that can change a verdict, canonically: the whole policy as compact JSON,
    /// with the lists whose order does not matter sorted. Stored with every run and shown in
    /// its summary, so two runs judged by different settings never look alike.
    pub(crate) fn describe(&self) -> String {
        let mut canonical = self.clone();
        let scope = &mut canonical.scope;
        for list in [
            &mut scope.media_types,
            &mut scope.directions,
            &mut scope.include_divisions,
            &mut scope.exclude_divisions,
            &mut scope.include_queues,
            &mut scope.exclude_queues,
        ] {
            list.sort();
        }
        for rule in &mut canonical.retention {
            rule.divisions.sort();
            rule.queues.sort();
        }
        canonical.retention.sort_by(|a, b| {
            (&a.name, a.days, &a.divisions, &a.queues).cmp(&(
                &b.name,
                b.days,
                &b.divisions,
                &b.queues,
            ))
        });
        // Plain data: serde_json cannot fail on it (a non-finite float is written as null).
        serde_json::to_string(&canonical).unwrap_or_default()
    }
}

fn hours_to_ms(hours: u64) -> i64 {
    i64::try_from(hours)
        .unwrap_or(i64::MAX / HOUR_MS)
        .saturating_mul(HOUR_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Every leaf of the policy's JSON, as a JSON pointer.
    fn leaves(value: &Value, at: String, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    leaves(child, format!("{at}/{key}"), out);
                }
            }
            Value::Array(items) => {
                out.push(at.clone());
                for (i, child) in items.iter().enumerate() {
                    leaves(child, format!("{at}/{i}"), out);
                }
            }
            _ => out.push(at),
        }
    }

    #[test]
    fn changing_any_setting_changes_the_description_and_order_does_not() {
        let mut base = Policy::default();
        base.retention.push(RetentionRule {
            name: "mifid-ii".into(),
            days: 1826,
            divisions: vec!["d1".into()],
            queues: vec!["q1".into()],
        });
        let original = serde_json::to_value(&base).unwrap();
        let mut paths = Vec::new();
        leaves(&original, String::new(), &mut paths);
        assert!(paths.len() > 15, "{paths:?}");
        for path in &paths {
            let mut changed = original.clone();
            let leaf = changed.pointer_mut(path).unwrap();
            *leaf = match leaf.take() {
                Value::Bool(b) => Value::Bool(!b),
                Value::Number(n) if n.is_u64() => Value::from(n.as_u64().unwrap() + 1),
                Value::Number(n) => Value::from(n.as_f64().unwrap() / 2.0),
                Value::String(s) => Value::String(format!("{s}-changed")),
                Value::Array(mut items) => {
                    items.push(
                        if path.contains("retention") && !path.contains("retention/") {
                            serde_json::json!({"name": "other", "days": 1})
                        } else {
                            Value::String("zz-added".into())
                        },
                    );
                    Value::Array(items)
                }
                other => panic!("{path}: unexpected {other}"),
            };
            let policy: Policy = serde_json::from_value(changed).unwrap();
            assert_ne!(
                policy.describe(),
                base.describe(),
                "changing {path} is not described"
            );
        }
        let mut reordered = base.clone();
        reordered.scope.media_types = vec!["voice".into(), "chat".into()];
        let mut sorted = base.clone();
        sorted.scope.media_types = vec!["chat".into(), "voice".into()];
        assert_eq!(reordered.describe(), sorted.describe());
    }
}
