//! Settings: defaults, then an optional TOML file (`--config`), then `RECAUDIT_*` environment
//! variables, one per setting.
//!
//! The file holds the audit [`Policy`] (`[scope]`, `[rules]`, `[[retention]]`), the ledger
//! settings (`[ledger]`: origin, key file, time-stamping authority, anchor directory) and the
//! import's limits (`[import]`: the largest JSON file read whole) and how export buckets are
//! reached (`[s3]`: endpoint, region, addressing, media hashing). A missing `--config` means
//! every default; a file that names an unknown key is an error, so a typo cannot silently
//! change verdicts.
//!
//! Every setting is overridden by `RECAUDIT_<SECTION>__<KEY>` (see [`env`] for the rule and
//! the reserved single-underscore variables); [`Effective`] keeps where each value came from,
//! and [`effective::render`] prints it all, secrets masked (`recaudit config check`).
//!
//! Secrets never go in the file: a key whose name says it holds one (`password`, `secret`,
//! `token`...) is refused with what to do instead; a section that needs a secret takes the name
//! of the variable (`*_env`) or of a 0600 file (`*_file`) holding it, read with
//! [`crate::secret`].
//!
//! Adding a section is one field of [`Settings`] (its type `Default`, `Serialize`,
//! `Deserialize` with `deny_unknown_fields`, and a line in [`Settings::validate`] if it has
//! rules of its own): its variables, provenance, masking and `config check` follow.

pub mod effective;
pub mod env;
mod load;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::audit::Policy;
use crate::audit::policy::{RetentionRule, Scope, Thresholds};
use crate::error::Result;
use crate::ledger::LedgerSettings;
use crate::source::import::ImportSettings;

pub use load::{Effective, Origin};

/// Everything the configuration file can set, one field per section.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub scope: Scope,
    pub(crate) rules: Thresholds,
    pub(crate) retention: Vec<RetentionRule>,
    pub ledger: LedgerSettings,
    pub import: ImportSettings,
    pub s3: S3Config,
    /// `[notify]`: webhooks, dead-man's switch, e-mail and the metrics file of `recaudit run`.
    pub notify: crate::notify::NotifySettings,
    /// `[run]`: the nightly job (`recaudit run`).
    pub run: crate::pipeline::night::RunSettings,
    /// `[report]`: how reports show what the data leaves open.
    pub report: ReportSettings,
}

/// `[report]`: local times, links to Genesys Cloud and hold warnings in reports. Frozen into
/// each run when it is sealed, so changing them never changes an older run's reports.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReportSettings {
    /// IANA zone of local times in reports (default: `[run] time_zone`, else UTC).
    pub time_zone: Option<String>,
    /// The link to an interaction in the Genesys Cloud web app, `{id}` standing for the
    /// conversation id, e.g. `https://apps.mypurecloud.ie/directory/#/analytics/interactions/{id}/admin`.
    pub interaction_link: Option<String>,
    /// A held recording whose deleteDate is within this many days is flagged as near.
    pub hold_warn_days: u64,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            time_zone: None,
            interaction_link: None,
            hold_warn_days: crate::pipeline::hold::DEFAULT_WARN_DAYS,
        }
    }
}

impl ReportSettings {
    fn validate(&self) -> Result<(), String> {
        if let Some(zone) = &self.time_zone {
            crate::pipeline::window::zone(zone).map_err(|e| format!("[report] time_zone: {e}"))?;
        }
        if let Some(link) = &self.interaction_link
            && (!link.starts_with("https://") || !link.contains("{id}"))
        {
            return Err(format!(
                "[report] interaction_link `{link}`: give an https:// URL with {{id}} where the conversation id goes"
            ));
        }
        Ok(())
    }
}

/// `[s3]`: how export buckets are reached and read. Command-line options override each key.
/// No credential: those come from the AWS chain (environment, profile, web identity, instance
/// metadata), so that this file can be shown to anyone.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
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
    /// The client settings of the command line's options (`given`), with what they leave
    /// unset taken from this section (and what both leave unset from `AWS_*`).
    #[cfg(feature = "s3")]
    pub fn under(&self, given: crate::source::s3::S3Settings) -> crate::source::s3::S3Settings {
        crate::source::s3::S3Settings {
            endpoint: given.endpoint.or_else(|| self.endpoint.clone()),
            region: given.region.or_else(|| self.region.clone()),
            virtual_hosted: given.virtual_hosted || self.virtual_hosted,
        }
    }

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
    /// Reads and validates a configuration file (`None`: the defaults) with the process's
    /// `RECAUDIT_*` variables over it.
    pub fn load(path: Option<&Path>) -> Result<Settings> {
        Ok(Effective::load(path)?.settings)
    }

    /// Parses configuration text alone (no environment); the error names the key and line.
    #[cfg(test)]
    pub(crate) fn parse(text: &str) -> Result<Settings, String> {
        match Effective::resolve(Some((Path::new("test.toml"), text)), Vec::new()) {
            Ok(effective) => Ok(effective.settings),
            Err(load::Failure::File(message)) => Err(message),
            Err(load::Failure::Variable(bad)) => Err(bad.message),
        }
    }

    /// The rules of each section beyond their types.
    pub(crate) fn validate(&self) -> Result<(), String> {
        self.policy().validate()?;
        self.import.validate()?;
        self.s3.validate()?;
        self.run.validate()?;
        self.notify.validate()?;
        self.report.validate()?;
        Ok(())
    }

    /// The report options new runs are sealed with.
    pub fn report_options(&self) -> crate::report::ReportOptions {
        crate::report::ReportOptions {
            time_zone: self
                .report
                .time_zone
                .clone()
                .unwrap_or_else(|| self.run.time_zone.clone()),
            interaction_link: self.report.interaction_link.clone(),
        }
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
    fn report_settings_are_checked_and_frozen_into_the_options() {
        let settings = Settings::parse(
            "[run]\ntime_zone = \"Europe/Paris\"\n[report]\ninteraction_link = \"https://apps.mypurecloud.ie/directory/#/analytics/interactions/{id}/admin/details\"\n",
        )
        .unwrap();
        let options = settings.report_options();
        assert_eq!(options.time_zone, "Europe/Paris", "[run]'s zone by default");
        assert!(options.interaction_link.unwrap().contains("{id}"));
        for bad in [
            "[report]\ninteraction_link = \"javascript:alert(1)//{id}\"\n",
            "[report]\ninteraction_link = \"https://apps.mypurecloud.ie/\"\n",
            "[report]\ntime_zone = \"Mars/Olympus\"\n",
        ] {
            assert!(Settings::parse(bad).is_err(), "{bad}");
        }
    }

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

    #[test]
    fn the_example_file_parses_and_shows_every_key() {
        let text = include_str!("../../examples/recaudit.toml");
        let settings = Settings::parse(text).unwrap();
        assert_eq!(settings.scope.min_duration_seconds, 5);
        assert_eq!(settings.retention[0].name, "mifid-ii");
        let Ok(serde_json::Value::Object(sections)) = serde_json::to_value(Settings::default())
        else {
            panic!("settings serialize to a table");
        };
        for (section, value) in &sections {
            let mut keys: Vec<String> = match value {
                serde_json::Value::Object(keys) => keys.keys().cloned().collect(),
                _ => Vec::new(),
            };
            if section == "retention" {
                keys = vec![
                    "name".into(),
                    "days".into(),
                    "divisions".into(),
                    "queues".into(),
                ];
            }
            assert!(
                text.contains(&format!("[{section}]")),
                "examples/recaudit.toml has no [{section}]"
            );
            for key in keys {
                assert!(
                    text.lines().any(|l| l
                        .trim_start_matches(['#', ' '])
                        .starts_with(&format!("{key} = "))),
                    "examples/recaudit.toml does not show [{section}] {key}"
                );
            }
        }
    }
}
