//! `RECAUDIT_*` environment variables: which ones are settings, which are reserved for other
//! uses, and how a setting's variable is laid over the file's table.
//!
//! The rule: every setting `[section] key` is overridden by `RECAUDIT_<SECTION>__<KEY>`
//! (upper case, a double underscore between the parts of the path, so `RECAUDIT_RULES__GRACE_HOURS`
//! is `[rules] grace_hours`). A top-level key is `RECAUDIT_<KEY>` with an inline TOML value that
//! replaces it whole: `RECAUDIT_RETENTION='[{name = "mifid-ii", days = 1826}]'` replaces every
//! `[[retention]]` table of the file (arrays of tables are only ever replaced whole), and
//! `RECAUDIT_S3='{endpoint = "http://127.0.0.1:9000"}'` a whole section. A value is read as a TOML
//! value (`12`, `0.95`, `true`, `["voice", "chat"]`) and otherwise, or where the setting is text,
//! as the text itself (`RECAUDIT_S3__REGION=eu-west-1`).
//!
//! Variables with single underscores only are not settings: they are listed in [`RESERVED`]
//! (and [`RESERVED_PREFIXES`] for tests and benchmarks) with what reads them. Any other
//! `RECAUDIT_` variable is an error, so that a misspelt one cannot be silently ignored; a unit
//! test greps the sources for `RECAUDIT_` names and fails on one that is neither a setting nor
//! reserved. A new such variable is one line in [`RESERVED`].

use std::ffi::OsString;

/// Every `RECAUDIT_` variable name starts so.
pub const PREFIX: &str = "RECAUDIT_";

/// The separator of a setting's path in its variable's name.
pub const SEPARATOR: &str = "__";

/// `RECAUDIT_*` variables that are not settings, each with what reads it.
pub const RESERVED: &[(&str, &str)] = &[
    ("RECAUDIT_CONFIG", "--config: the configuration file"),
    ("RECAUDIT_DB", "--db: the database URL"),
    (
        "RECAUDIT_REPORTS_DIR",
        "--reports-dir: where reports are written",
    ),
    (
        "RECAUDIT_LEDGER_KEY",
        "--ledger-key: the ledger's signing key file",
    ),
    (
        "RECAUDIT_S3_ENDPOINT",
        "--s3-endpoint of `import` and `sim export` (the setting is RECAUDIT_S3__ENDPOINT)",
    ),
    (
        "RECAUDIT_LOG_FORMAT",
        "--log-format: text or json log lines",
    ),
    (
        "RECAUDIT_KILL_AT",
        "crash tests: the kill point at which the process SIGKILLs itself (src/failpoint.rs)",
    ),
    (
        "RECAUDIT_SLOW_TESTS",
        "tests/ledger_py: also run the slow verifier tests",
    ),
];

/// Prefixes of reserved variables: those of the test suites and benchmarks.
pub const RESERVED_PREFIXES: &[(&str, &str)] = &[
    (
        "RECAUDIT_TEST_",
        "the integration tests' services (S3 endpoints; headless Chromium and chromedriver: \
         RECAUDIT_TEST_CHROMIUM, RECAUDIT_TEST_CHROMEDRIVER)",
    ),
    ("RECAUDIT_BENCH_", "the benchmarks' settings"),
];

/// Whether `name` is one of the reserved (non-setting) variables.
pub fn is_reserved(name: &str) -> bool {
    RESERVED.iter().any(|(reserved, _)| *reserved == name)
        || RESERVED_PREFIXES
            .iter()
            .any(|(prefix, _)| name.starts_with(prefix))
}

/// The variable that overrides the setting at `path` (`["rules", "grace_hours"]` gives
/// `RECAUDIT_RULES__GRACE_HOURS`).
pub fn variable_for(path: &[&str]) -> String {
    format!("{PREFIX}{}", path.join(SEPARATOR).to_ascii_uppercase())
}

/// The setting path a variable's name addresses, if it is a setting's name: one with a double
/// underscore, or the name of a top-level key (`top_level`). Reserved names are not settings.
pub fn setting_path(name: &str, top_level: &[String]) -> Option<Vec<String>> {
    if is_reserved(name) {
        return None;
    }
    let rest = name.strip_prefix(PREFIX)?;
    if rest.is_empty()
        || !rest
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let path: Vec<String> = rest.split(SEPARATOR).map(str::to_ascii_lowercase).collect();
    if path.len() == 1 && !top_level.contains(&path[0]) {
        return None;
    }
    Some(path)
}

/// One setting's variable from the environment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Override {
    pub(crate) variable: String,
    pub(crate) path: Vec<String>,
    pub(crate) raw: String,
}

/// A variable the environment got wrong: its name and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BadVariable {
    pub(crate) variable: String,
    pub(crate) message: String,
}

/// The settings' variables of an environment, shallow paths first (a whole section before its
/// keys), then by name; refuses a `RECAUDIT_` variable that is neither a setting nor reserved.
pub(crate) fn overrides(
    env: impl IntoIterator<Item = (OsString, OsString)>,
    top_level: &[String],
) -> Result<Vec<Override>, BadVariable> {
    let mut found = Vec::new();
    for (name, value) in env {
        let Some(name) = name.to_str().map(str::to_string) else {
            if name.as_encoded_bytes().starts_with(PREFIX.as_bytes()) {
                return Err(BadVariable {
                    variable: name.to_string_lossy().into_owned(),
                    message: "the name is not UTF-8".to_string(),
                });
            }
            continue;
        };
        if !name.starts_with(PREFIX) || is_reserved(&name) {
            continue;
        }
        let Some(path) = setting_path(&name, top_level) else {
            return Err(BadVariable {
                message: unknown_variable_message(&name),
                variable: name,
            });
        };
        let Some(raw) = value.to_str().map(str::to_string) else {
            return Err(BadVariable {
                variable: name,
                message: "the value is not UTF-8".to_string(),
            });
        };
        found.push(Override {
            variable: name,
            path,
            raw,
        });
    }
    found.sort_by(|a, b| (a.path.len(), &a.variable).cmp(&(b.path.len(), &b.variable)));
    Ok(found)
}

fn unknown_variable_message(name: &str) -> String {
    let reserved: Vec<&str> = RESERVED.iter().map(|(name, _)| *name).collect();
    let mut message = format!(
        "not a recaudit variable: a setting is RECAUDIT_<SECTION>__<KEY> (a double underscore, e.g. RECAUDIT_RULES__GRACE_HOURS), the others are {}",
        reserved.join(", ")
    );
    // `..._RULES_GRACE_HOURS`: the separator of section and key written with one underscore.
    if let Some((section, key)) = name.strip_prefix(PREFIX).and_then(|r| r.split_once('_')) {
        message.push_str(&format!(
            "; did you mean {PREFIX}{section}{SEPARATOR}{key}?"
        ));
    }
    message
}

/// A variable's value as TOML: a TOML value if it is one (`12`, `true`, `["voice"]`,
/// `{ days = 10 }`), else the text itself.
pub(crate) fn parse_value(raw: &str) -> toml::Value {
    raw.parse::<toml::Value>()
        .unwrap_or_else(|_| toml::Value::String(raw.to_string()))
}

/// Sets `path` in `table` to `value`, creating the tables on the way; refuses to go through a
/// value that is not a table (`retention.days`: retention is an array).
pub(crate) fn overlay(
    table: &mut toml::Table,
    path: &[String],
    value: toml::Value,
) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err("an empty setting path".to_string());
    };
    let mut current = table;
    for (depth, part) in parents.iter().enumerate() {
        let entry = current
            .entry(part.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = match entry {
            toml::Value::Table(inner) => inner,
            other => {
                let at = path[..=depth].join(".");
                let whole = variable_for(
                    &path[..=depth]
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>(),
                );
                return Err(format!(
                    "`{at}` is {}, not a section: set it whole, e.g. {whole}='{}'",
                    describe(other),
                    example_of(other)
                ));
            }
        };
    }
    current.insert(last.clone(), value);
    Ok(())
}

fn describe(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date-time",
    }
}

fn example_of(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::Array(_) => "[{ name = \"...\", days = 10 }]",
        _ => "...",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top() -> Vec<String> {
        vec!["retention".to_string(), "rules".to_string()]
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    #[test]
    fn names_map_to_paths() {
        assert_eq!(
            setting_path("RECAUDIT_RULES__GRACE_HOURS", &top()),
            Some(vec!["rules".to_string(), "grace_hours".to_string()])
        );
        assert_eq!(
            setting_path("RECAUDIT_RETENTION", &top()),
            Some(vec!["retention".to_string()])
        );
        assert_eq!(setting_path("RECAUDIT_DB", &top()), None);
        assert_eq!(setting_path("RECAUDIT_TEST_S3_ENDPOINT", &top()), None);
        assert_eq!(setting_path(&format!("{PREFIX}rules__x"), &top()), None);
        assert_eq!(
            variable_for(&["rules", "grace_hours"]),
            "RECAUDIT_RULES__GRACE_HOURS"
        );
    }

    #[test]
    fn overrides_are_sorted_and_unknown_variables_refused() {
        let found = overrides(
            env(&[
                ("PATH", "/bin"),
                ("RECAUDIT_RULES__GRACE_HOURS", "12"),
                ("RECAUDIT_DB", "sqlite://x.db"),
                ("RECAUDIT_RETENTION", "[]"),
            ]),
            &top(),
        )
        .unwrap();
        let names: Vec<&str> = found.iter().map(|o| o.variable.as_str()).collect();
        assert_eq!(names, ["RECAUDIT_RETENTION", "RECAUDIT_RULES__GRACE_HOURS"]);
        // Misspelt names are built, so that the sources' grep below does not find them.
        let misspelt = format!("{PREFIX}RULES_GRACE_HOURS");
        let err = overrides(env(&[(&misspelt, "12")]), &top()).unwrap_err();
        assert_eq!(err.variable, misspelt);
        assert!(
            err.message
                .contains("did you mean RECAUDIT_RULES__GRACE_HOURS"),
            "{}",
            err.message
        );
    }

    #[test]
    fn values_are_toml_or_text() {
        assert_eq!(parse_value("12"), toml::Value::Integer(12));
        assert_eq!(parse_value("0.5"), toml::Value::Float(0.5));
        assert_eq!(parse_value("true"), toml::Value::Boolean(true));
        assert_eq!(
            parse_value("[\"voice\", \"chat\"]"),
            toml::Value::Array(vec!["voice".into(), "chat".into()])
        );
        assert_eq!(
            parse_value("eu-west-1"),
            toml::Value::String("eu-west-1".into())
        );
        assert_eq!(
            parse_value("http://127.0.0.1:9000"),
            toml::Value::String("http://127.0.0.1:9000".into())
        );
        assert_eq!(
            parse_value("\"quoted\""),
            toml::Value::String("quoted".into())
        );
    }

    #[test]
    fn overlay_creates_sections_and_refuses_to_enter_an_array() {
        let mut table = toml::Table::new();
        overlay(
            &mut table,
            &["rules".to_string(), "grace_hours".to_string()],
            toml::Value::Integer(3),
        )
        .unwrap();
        assert_eq!(table["rules"]["grace_hours"].as_integer(), Some(3));
        table.insert("retention".to_string(), toml::Value::Array(vec![]));
        let err = overlay(
            &mut table,
            &["retention".to_string(), "days".to_string()],
            toml::Value::Integer(3),
        )
        .unwrap_err();
        assert!(err.contains("RECAUDIT_RETENTION='"), "{err}");
    }

    /// The `RECAUDIT_` names written in the sources, tests, benchmarks, CI script and docs,
    /// each with the file that writes it.
    fn names_in_the_tree() -> Vec<(String, std::path::PathBuf)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![
            root.join(".ci/run"),
            root.join("README.md"),
            root.join("examples/recaudit.toml"),
        ];
        let mut dirs: Vec<std::path::PathBuf> = ["src", "tests", "benches", "docs"]
            .iter()
            .map(|d| root.join(d))
            .collect();
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        let mut found = Vec::new();
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            for (at, _) in text.match_indices(PREFIX) {
                if text[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    continue;
                }
                let rest = &text[at + PREFIX.len()..];
                let len = rest
                    .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                    .unwrap_or(rest.len());
                if len > 0 {
                    found.push((format!("{PREFIX}{}", &rest[..len]), file.clone()));
                }
            }
        }
        found
    }

    /// Whether `name` is a setting's variable: `Settings` takes the path it names (a value of
    /// the wrong type is still a setting).
    fn is_setting(name: &str) -> bool {
        if is_reserved(name) {
            return false;
        }
        let env = vec![(OsString::from(name), OsString::from("x"))];
        match crate::config::Effective::resolve(None, env) {
            Ok(_) => true,
            Err(crate::config::load::Failure::Variable(bad)) => {
                !bad.message.contains("unknown field")
                    && !bad.message.contains("not a recaudit variable")
                    && !bad.message.contains("set only whole")
            }
            Err(crate::config::load::Failure::File(_)) => false,
        }
    }

    #[test]
    fn every_recaudit_variable_in_the_code_is_a_setting_or_reserved() {
        let found = names_in_the_tree();
        assert!(
            found.iter().any(|(name, _)| name == "RECAUDIT_DB"),
            "the scan finds the variables"
        );
        let unknown: Vec<String> = found
            .iter()
            .filter(|(name, _)| !is_reserved(name) && !is_setting(name))
            .map(|(name, file)| format!("{name} ({})", file.display()))
            .collect();
        assert!(
            unknown.is_empty(),
            "RECAUDIT_ variables that are neither a setting (RECAUDIT_<SECTION>__<KEY>) nor in \
             config::env::RESERVED (add them there with what reads them): {unknown:?}"
        );
    }

    #[test]
    fn settings_and_reserved_names_are_told_apart() {
        assert!(is_setting("RECAUDIT_RULES__GRACE_HOURS"));
        assert!(is_setting("RECAUDIT_S3__ENDPOINT"));
        assert!(is_setting("RECAUDIT_RETENTION"));
        assert!(!is_setting(&format!("{PREFIX}RULES__GRACE_HOUR")));
        assert!(!is_setting(&format!("{PREFIX}NOTHING")));
        assert!(is_reserved("RECAUDIT_DB") && !is_setting("RECAUDIT_DB"));
    }
}
