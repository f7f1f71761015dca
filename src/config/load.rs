//! Loading: the defaults, the file's table, then each setting's environment variable laid over
//! it; deserialized into [`Settings`] once merged, with where every value came from.
//!
//! Nothing here knows the sections: the variables address paths of the merged table, the
//! provenance is kept by path, and `Settings`' own `deny_unknown_fields` rejects a path that is
//! no setting. An error names what caused it: the file (with its line, from toml), or the first
//! variable after which the settings stay invalid.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use super::Settings;
use super::env::{self, BadVariable, Override};
use crate::error::{Error, Result};

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    /// The configuration file, and the line of the key when known.
    File {
        path: PathBuf,
        line: Option<usize>,
    },
    /// An environment variable (`RECAUDIT_RULES__GRACE_HOURS`).
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File { path, line: None } => write!(f, "file {}", path.display()),
            Origin::File {
                path,
                line: Some(line),
            } => write!(f, "file {}:{line}", path.display()),
            Origin::Env(variable) => write!(f, "env {variable}"),
        }
    }
}

/// The settings in effect and where each of their values came from.
#[derive(Debug, Clone)]
pub struct Effective {
    pub settings: Settings,
    /// The configuration file, if one was given.
    pub file: Option<PathBuf>,
    file_keys: FileKeys,
    /// The paths the environment set, and the variable that set each.
    env_keys: BTreeMap<Vec<String>, String>,
}

impl Effective {
    /// Loads the file (if any) and the process's `RECAUDIT_*` environment.
    pub fn load(path: Option<&Path>) -> Result<Effective> {
        Effective::load_from(path, std::env::vars_os())
    }

    /// Loads the file (if any) with the given environment instead of the process's.
    pub fn load_from(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> Result<Effective> {
        let text = match path {
            Some(path) => Some(
                // A configuration that cannot be read is a configuration error (exit 2 of
                // `run`), not a failure of the machine.
                std::fs::read_to_string(path).map_err(|e| Error::Config {
                    path: path.to_path_buf(),
                    message: format!("cannot read the configuration file: {e}"),
                })?,
            ),
            None => None,
        };
        let file = path.zip(text.as_deref());
        Effective::resolve(file, env).map_err(|failure| match failure {
            Failure::File(message) => Error::Config {
                path: path.map(Path::to_path_buf).unwrap_or_default(),
                message,
            },
            Failure::Variable(BadVariable { variable, message }) => {
                Error::ConfigVariable { variable, message }
            }
        })
    }

    /// The merge itself, on the file's text.
    pub(crate) fn resolve(
        file: Option<(&Path, &str)>,
        env: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> Result<Effective, Failure> {
        let (table, file_keys) = match file {
            Some((_, text)) => file_table(text).map_err(Failure::File)?,
            None => (toml::Table::new(), BTreeMap::new()),
        };
        let overrides = env::overrides(env, &top_level_keys()).map_err(Failure::Variable)?;
        let (settings, applied) = merge(table, &overrides, file.map(|(_, text)| text))?;
        Ok(Effective {
            settings,
            file: file.map(|(path, _)| path.to_path_buf()),
            file_keys,
            env_keys: applied,
        })
    }

    /// Where the value at `path` (`["rules", "grace_hours"]`) came from: the deepest variable
    /// that set it or a table holding it, else the file's key, else the default.
    pub fn origin(&self, path: &[String]) -> Origin {
        for depth in (1..=path.len()).rev() {
            if let Some(variable) = self.env_keys.get(&path[..depth]) {
                return Origin::Env(variable.clone());
            }
        }
        for depth in (1..=path.len()).rev() {
            if let Some(line) = self.file_keys.get(&path[..depth]) {
                return Origin::File {
                    path: self.file.clone().unwrap_or_default(),
                    line: *line,
                };
            }
        }
        Origin::Default
    }
}

/// The file's keys (leaves; an array whole) and the line of each.
type FileKeys = BTreeMap<Vec<String>, Option<usize>>;

/// What made the configuration invalid.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Failure {
    File(String),
    Variable(BadVariable),
}

/// The names of `Settings`' top-level keys (its sections), from its defaults.
fn top_level_keys() -> Vec<String> {
    match serde_json::to_value(Settings::default()) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Deserializes and validates a merged table.
fn check(table: &toml::Table) -> Result<Settings, String> {
    let settings: Settings = toml::Value::Table(table.clone())
        .try_into()
        .map_err(|e: toml::de::Error| e.message().trim_end().to_string())?;
    settings.validate()?;
    Ok(settings)
}

/// Lays each variable over the file's table in turn. A value read as TOML that the setting
/// does not take is tried as text (`RECAUDIT_LEDGER__ORIGIN=2026` is a string). Returns the
/// settings and the paths set, or the cause of the first invalidity that lasts to the end.
fn merge(
    mut table: toml::Table,
    overrides: &[Override],
    text: Option<&str>,
) -> Result<(Settings, BTreeMap<Vec<String>, String>), Failure> {
    let mut result = check(&table);
    // The stage since which the settings have been invalid: 0 the file, i the i-th variable.
    let mut invalid_since = result.as_ref().err().map(|e| (0, e.clone()));
    let mut applied = BTreeMap::new();
    let defaults = serde_json::to_value(Settings::default()).unwrap_or_default();
    for (i, o) in overrides.iter().enumerate() {
        let bad = |message: String| {
            Failure::Variable(BadVariable {
                variable: o.variable.clone(),
                message,
            })
        };
        if let Some(whole) = array_above(&defaults, &o.path) {
            return Err(bad(format!(
                "`{whole}` is an array of tables, set only whole, e.g. {}='[{{ ... }}]'",
                env::variable_for(&[whole.as_str()])
            )));
        }
        let parsed = env::parse_value(&o.raw);
        let is_text = parsed.is_str();
        let mut next = table.clone();
        env::overlay(&mut next, &o.path, parsed).map_err(bad)?;
        result = check(&next);
        if result.is_err() && !is_text {
            let mut as_text = table.clone();
            env::overlay(&mut as_text, &o.path, toml::Value::String(o.raw.clone())).map_err(bad)?;
            if let Ok(settings) = check(&as_text) {
                next = as_text;
                result = Ok(settings);
            }
        }
        table = next;
        applied.insert(o.path.clone(), o.variable.clone());
        match &result {
            Ok(_) => invalid_since = None,
            Err(e) if invalid_since.is_none() => invalid_since = Some((i + 1, e.clone())),
            Err(_) => {}
        }
    }
    match (result, invalid_since) {
        (Ok(settings), _) => Ok((settings, applied)),
        (Err(_), Some((0, message))) => Err(Failure::File(file_error(text, message))),
        (Err(_), Some((stage, message))) => {
            let o = &overrides[stage - 1];
            Err(Failure::Variable(BadVariable {
                variable: o.variable.clone(),
                message: format!("sets `{}`: {message}", o.path.join(".")),
            }))
        }
        (Err(message), None) => Err(Failure::File(message)),
    }
}

/// The top-level array of tables (in the defaults) a path goes inside, if any: its keys have
/// no variables of their own.
fn array_above(defaults: &serde_json::Value, path: &[String]) -> Option<String> {
    let first = path.first()?;
    (path.len() > 1 && defaults.get(first).is_some_and(serde_json::Value::is_array))
        .then(|| first.clone())
}

/// The file's own error, with toml's line and column when deserialization is what failed.
fn file_error(text: Option<&str>, fallback: String) -> String {
    match text.map(toml::from_str::<Settings>) {
        Some(Err(e)) => e.to_string().trim_end().to_string(),
        _ => fallback,
    }
}

/// The file as a table, each leaf's line, and no key that holds a secret.
fn file_table(text: &str) -> Result<(toml::Table, FileKeys), String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.to_string().trim_end().to_string())?;
    refuse_secrets(&table, &mut Vec::new())?;
    let mut keys = BTreeMap::new();
    if let Ok(spanned) = toml::de::DeTable::parse(text) {
        leaf_lines(spanned.get_ref(), text, &mut Vec::new(), &mut keys);
    }
    Ok((table, keys))
}

fn leaf_lines(
    table: &toml::de::DeTable<'_>,
    text: &str,
    path: &mut Vec<String>,
    out: &mut FileKeys,
) {
    for (key, value) in table {
        path.push(key.get_ref().to_string());
        match value.get_ref() {
            toml::de::DeValue::Table(inner) => leaf_lines(inner, text, path, out),
            _ => {
                let start = key.span().start.min(text.len());
                let line = text.get(..start).map(|t| t.matches('\n').count() + 1);
                out.insert(path.clone(), line);
            }
        }
        path.pop();
    }
}

/// Words that make a key's name a secret's (unless it ends in `_env` or `_file`, which name
/// where the secret is).
pub(crate) const SECRET_WORDS: &[&str] = &[
    "secret",
    "password",
    "passwd",
    "token",
    "key_material",
    "private_key",
    "api_key",
    "credential",
];

/// Whether a key's name says it holds a secret value.
pub(crate) fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    !(key.ends_with("_env") || key.ends_with("_file"))
        && SECRET_WORDS.iter().any(|word| key.contains(word))
}

/// Refuses a key that holds a secret in the file, saying where secrets go instead.
fn refuse_secrets(table: &toml::Table, path: &mut Vec<String>) -> Result<(), String> {
    for (key, value) in table {
        path.push(key.clone());
        if is_secret_key(key) {
            let at = path.join(".");
            return Err(format!(
                "`{at}` looks like a secret, and secrets never go in the configuration file (it is meant to be shown and kept in version control): put the value in an environment variable or a file only its owner can read (chmod 600) and name that instead, `{key}_env = \"VARIABLE\"` or `{key}_file = \"/path\"` where the section has them; S3 credentials come from the AWS chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, profiles)"
            ));
        }
        match value {
            toml::Value::Table(inner) => refuse_secrets(inner, path)?,
            toml::Value::Array(items) => {
                for item in items {
                    if let toml::Value::Table(inner) = item {
                        refuse_secrets(inner, path)?;
                    }
                }
            }
            _ => {}
        }
        path.pop();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    fn resolve(text: &str, pairs: &[(&str, &str)]) -> Result<Effective, Failure> {
        Effective::resolve(Some((Path::new("recaudit.toml"), text)), env(pairs))
    }

    fn path(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn variables_override_the_file_and_say_so() {
        let effective = resolve(
            "[rules]\ngrace_hours = 24\n\n[scope]\nmin_duration_seconds = 5\n",
            &[
                ("RECAUDIT_RULES__GRACE_HOURS", "12"),
                ("RECAUDIT_SCOPE__MEDIA_TYPES", "[\"voice\", \"chat\"]"),
                ("RECAUDIT_S3__ENDPOINT", "http://127.0.0.1:9000"),
                ("RECAUDIT_LEDGER__ORIGIN", "2026"),
                ("RECAUDIT_DB", "sqlite://elsewhere.db"),
            ],
        )
        .unwrap();
        let s = &effective.settings;
        assert_eq!(s.rules.grace_hours, 12);
        assert_eq!(s.scope.media_types, ["voice", "chat"]);
        assert_eq!(s.scope.min_duration_seconds, 5);
        assert_eq!(s.s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        // Read as TOML 2026 is an integer; the origin is text, so it is taken as text.
        assert_eq!(s.ledger.origin.as_deref(), Some("2026"));
        assert_eq!(
            effective.origin(&path(&["rules", "grace_hours"])),
            Origin::Env("RECAUDIT_RULES__GRACE_HOURS".into())
        );
        assert_eq!(
            effective
                .origin(&path(&["scope", "min_duration_seconds"]))
                .to_string(),
            "file recaudit.toml:5"
        );
        assert_eq!(
            effective.origin(&path(&["rules", "duration_coverage"])),
            Origin::Default
        );
    }

    #[test]
    fn arrays_of_tables_are_replaced_whole() {
        let effective = resolve(
            "[[retention]]\nname = \"a\"\ndays = 1\n\n[[retention]]\nname = \"b\"\ndays = 2\n",
            &[("RECAUDIT_RETENTION", "[{ name = \"x\", days = 10 }]")],
        )
        .unwrap();
        assert_eq!(effective.settings.retention.len(), 1);
        assert_eq!(effective.settings.retention[0].days, 10);
        assert_eq!(
            effective.origin(&path(&["retention"])),
            Origin::Env("RECAUDIT_RETENTION".into())
        );
        let from_file = resolve("[[retention]]\nname = \"a\"\ndays = 1\n", &[]).unwrap();
        assert_eq!(
            from_file.origin(&path(&["retention"])).to_string(),
            "file recaudit.toml:1"
        );
        // Wrong names are built, so that the sources' grep (`config::env`) does not find them.
        let inside = format!("{}RETENTION__DAYS", env::PREFIX);
        let Err(Failure::Variable(bad)) = resolve("", &[(&inside, "3")]) else {
            panic!("a key inside an array of tables is refused");
        };
        assert!(bad.message.contains("set only whole"), "{}", bad.message);
    }

    #[test]
    fn a_misspelt_variable_is_named() {
        let misspelt = format!("{}RULES__GRACE_HOUR", env::PREFIX);
        let Err(Failure::Variable(bad)) = resolve("", &[(&misspelt, "4")]) else {
            panic!("refused");
        };
        assert_eq!(bad.variable, misspelt);
        assert!(
            bad.message.contains("rules.grace_hour") && bad.message.contains("grace_hours"),
            "{}",
            bad.message
        );
        let Err(Failure::Variable(bad)) = resolve("", &[("RECAUDIT_RULES__GRACE_HOURS", "x")])
        else {
            panic!("refused");
        };
        assert!(bad.message.contains("rules.grace_hours"), "{}", bad.message);
        let Err(Failure::Variable(bad)) = resolve("", &[("RECAUDIT_S3__HASH_CONCURRENCY", "0")])
        else {
            panic!("refused");
        };
        assert!(bad.message.contains("between 1 and 64"), "{}", bad.message);
    }

    #[test]
    fn the_file_is_blamed_for_its_own_errors_and_a_variable_may_fix_them() {
        let Err(Failure::File(message)) = resolve("[rules]\ngrace_hour = 4\n", &[]) else {
            panic!("refused");
        };
        assert!(
            message.contains("grace_hour") && message.contains("line 2"),
            "{message}"
        );
        let fixed = resolve(
            "[s3]\nhash_concurrency = 0\n",
            &[("RECAUDIT_S3__HASH_CONCURRENCY", "4")],
        )
        .unwrap();
        assert_eq!(fixed.settings.s3.hash_concurrency, Some(4));
        // Fixed by one variable, broken by the next: the next is named.
        let Err(Failure::Variable(bad)) = resolve(
            "[s3]\nhash_concurrency = 0\n",
            &[
                ("RECAUDIT_S3__HASH_CONCURRENCY", "4"),
                ("RECAUDIT_S3__MARGIN_DAYS", "99"),
            ],
        ) else {
            panic!("refused");
        };
        assert_eq!(bad.variable, "RECAUDIT_S3__MARGIN_DAYS");
    }

    #[test]
    fn a_secret_in_the_file_is_refused_with_what_to_do() {
        for text in [
            "[s3]\nsecret_access_key = \"x\"\n",
            "[notify]\nsmtp_password = \"x\"\n",
            "[notify]\ntoken = \"x\"\n",
        ] {
            let Err(Failure::File(message)) = resolve(text, &[]) else {
                panic!("{text} refused");
            };
            assert!(
                message.contains("secrets never go in the configuration file")
                    && message.contains("_env = ")
                    && message.contains("_file = "),
                "{message}"
            );
        }
        assert!(!is_secret_key("password_env") && !is_secret_key("token_file"));
        assert!(!is_secret_key("key") && is_secret_key("key_material"));
    }
}
