//! Settings: defaults, then an optional TOML file (`--config`).
//!
//! The file holds the audit [`Policy`] (`[scope]`, `[rules]`, `[[retention]]`), the ledger
//! settings (`[ledger]`: origin, key file, time-stamping authority, anchor directory) and the
//! import's limits (`[import]`: the largest JSON file read whole) and how export buckets are
//! reached (`[s3]`: endpoint, region, addressing, media hashing). Secrets never go here (the
//! ledger key lives in its own 0600 file). A missing `--config` means every default; a file that
//! names an unknown key is an error, so a typo cannot silently change verdicts.

use std::path::Path;

use serde::Deserialize;

use crate::audit::Policy;
use crate::audit::policy::{RetentionRule, Scope, Thresholds};
use crate::error::{Error, Result};
use crate::ledger::LedgerSettings;
use crate::source::import::ImportSettings;

/// Everything the configuration file can set.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub scope: Scope,
    #[serde(default)]
    pub(crate) rules: Thresholds,
    #[serde(default)]
    pub(crate) retention: Vec<RetentionRule>,
    #[serde(default)]
    pub ledger: LedgerSettings,
    #[serde(default)]
    pub import: ImportSettings,
    #[serde(default)]
    pub s3: S3Config,
    /// `[run]`: the nightly job (`recaudit run`).
    #[serde(default)]
    pub run: crate::pipeline::night::RunSettings,
}

/// `[s3]`: how export buckets are reached and read. Command-line options override each key.
/// No credential: those come from the AWS chain (environment, profile, web identity, instance
/// metadata), so that this file can be shown to anyone.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// The S3 API's URL, for an S3-compatible store.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    #[serde(default)]
    pub virtual_hosted: bool,
    /// Days of date folders listed on either side of the window's.
    pub margin_days: Option<u32>,
    /// Hash every media object's bytes (`--hash-media`).
    #[serde(default)]
    pub hash_media: bool,
    pub hash_concurrency: Option<u16>,
}

impl S3Config {
    fn validate(&self) -> Result<(), String> {
        if let Some(endpoint) = &self.endpoint
            && !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
        {
            return Err(format!(
                "[s3] endpoint = \"{endpoint}\": must be an http:// or https:// URL"
            ));
        }
        if self
            .hash_concurrency
            .is_some_and(|n| !(1..=64).contains(&n))
        {
            return Err("[s3] hash_concurrency must be between 1 and 64".to_string());
        }
        if self.margin_days.is_some_and(|d| d > 31) {
            return Err("[s3] margin_days must be at most 31".to_string());
        }
        Ok(())
    }
}

impl Settings {
    /// Reads and validates a configuration file; `None` gives the defaults.
    pub fn load(path: Option<&Path>) -> Result<Settings> {
        let Some(path) = path else {
            return Ok(Settings::default());
        };
        let text = std::fs::read_to_string(path)
            .map_err(Error::io("cannot read configuration file", path))?;
        Settings::parse(&text).map_err(|message| Error::Config {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses configuration text; the error names the key and line.
    pub(crate) fn parse(text: &str) -> Result<Settings, String> {
        let settings: Settings =
            toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        settings.policy().validate()?;
        settings.import.validate()?;
        settings.s3.validate()?;
        settings.run.validate()?;
        Ok(settings)
    }

    /// The audit policy these settings describe.
    pub fn policy(&self) -> Policy {
        Policy {
            scope: self.scope.clone(),
            rules: self.rules.clone(),
            retention: self.retention.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let settings = Settings::parse("").unwrap();
        assert_eq!(settings.policy().scope.media_types, vec!["voice"]);
        assert_eq!(settings.policy().rules.grace_hours, 48);
        assert_eq!(settings.policy().rules.uploading_threshold_hours, 24);
        assert_eq!(settings.policy().coverage_permille(), 900);
        assert!(settings.policy().retention.is_empty());
    }

    #[test]
    fn reads_scope_rules_and_retention() {
        let settings = Settings::parse(
            r#"
            [scope]
            media_types = ["voice", "chat"]
            min_duration_seconds = 5
            [rules]
            grace_hours = 12
            [[retention]]
            name = "mifid-ii"
            days = 1826
            "#,
        )
        .unwrap();
        assert_eq!(settings.policy().scope.media_types, vec!["voice", "chat"]);
        assert_eq!(settings.policy().scope.min_duration_seconds, 5);
        assert_eq!(settings.policy().rules.grace_hours, 12);
        assert_eq!(settings.policy().retention[0].days, 1826);
    }

    #[test]
    fn reads_the_import_limit() {
        assert_eq!(
            Settings::parse("").unwrap().import.max_json_bytes,
            crate::source::import::DEFAULT_MAX_JSON_BYTES
        );
        let settings = Settings::parse("[import]\nmax_json_bytes = 4096\n").unwrap();
        assert_eq!(settings.import.max_json_bytes, 4096);
        let err = Settings::parse("[import]\nmax_json_bytes = 0\n").unwrap_err();
        assert!(err.contains("max_json_bytes"), "{err}");
        let err = Settings::parse("[import]\nmax_json_bytes = 2000000000\n").unwrap_err();
        assert!(err.contains("1000000000"), "{err}");
        let err = Settings::parse("[import]\nmax_bytes = 1\n").unwrap_err();
        assert!(err.contains("max_bytes"), "{err}");
    }

    #[test]
    fn reads_the_s3_section() {
        let settings = Settings::parse(
            "[s3]\nendpoint = \"http://127.0.0.1:9000\"\nregion = \"eu-west-1\"\nhash_media = true\nhash_concurrency = 8\n",
        )
        .unwrap();
        assert_eq!(
            settings.s3.endpoint.as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(settings.s3.region.as_deref(), Some("eu-west-1"));
        assert!(settings.s3.hash_media && !settings.s3.virtual_hosted);
        assert_eq!(settings.s3.hash_concurrency, Some(8));
        let err = Settings::parse("[s3]\nhash_concurrency = 0\n").unwrap_err();
        assert!(err.contains("hash_concurrency"), "{err}");
        let err = Settings::parse("[s3]\nendpoint = \"127.0.0.1:9000\"\n").unwrap_err();
        assert!(err.contains("endpoint"), "{err}");
        let err = Settings::parse("[s3]\nsecret_access_key = \"x\"\n").unwrap_err();
        assert!(err.contains("secret_access_key"), "{err}");
    }

    #[test]
    fn rejects_unknown_keys_and_bad_ranges() {
        let err = Settings::parse("[rules]\ngrace_hour = 4\n").unwrap_err();
        assert!(err.contains("grace_hour"), "{err}");
        let err = Settings::parse("[rules]\nduration_coverage = 1.5\n").unwrap_err();
        assert!(err.contains("duration_coverage"), "{err}");
    }
}
