//! `recaudit config check`'s text: the locations a command works on and every setting in
//! effect, as TOML, each value followed by where it came from, secrets masked.
//!
//! Rendered from `Settings`' own serialization (sections and keys in name order, unset options
//! shown as such), so a new section appears with no code here. Masking is by name and by shape:
//! a key whose name says it holds a secret prints `<redacted>` (a `*_env` or `*_file` key names
//! where a secret is and is shown); a URL prints its scheme and host only
//! (`https://hooks.slack.com/…`), since tokens ride in paths, queries and user info.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::load::is_secret_key;
use super::{Effective, Origin};
use crate::error::{Error, Result};
use crate::store::Store;

/// A value given on the command line, by a variable, or by default, and which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Given<T> {
    pub value: T,
    /// `flag --db`, `env RECAUDIT_DB`, `default`.
    pub from: String,
}

/// The locations a command works on, as the command line resolved them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Places {
    pub db: Given<String>,
    pub reports_dir: Given<PathBuf>,
    /// `--ledger-key` or `RECAUDIT_LEDGER_KEY`, if given.
    pub ledger_key: Option<Given<PathBuf>>,
}

/// The text `config check` prints for valid settings.
pub fn render(effective: &Effective, places: &Places) -> Result<String> {
    let mut out = String::new();
    out.push_str("# recaudit: the configuration is valid.\n");
    match &effective.file {
        Some(path) => {
            let _ = writeln!(out, "# Configuration file: {}", path.display());
        }
        None => out.push_str("# Configuration file: none (--config, RECAUDIT_CONFIG)\n"),
    }
    out.push_str(
        "# Every value is followed by where it came from: default, the file, or the variable\n\
         # RECAUDIT_<SECTION>__<KEY> that overrides it. Secrets are masked.\n\n",
    );
    render_places(&mut out, effective, places)?;
    let tree = serde_json::to_value(&effective.settings)
        .map_err(|e| Error::Usage(format!("the settings cannot be shown: {e}")))?;
    if let Value::Object(sections) = &tree {
        render_table(&mut out, effective, &mut Vec::new(), sections);
    }
    Ok(out)
}

/// The locations, as comments (they are command-line options, not settings of the file).
fn render_places(out: &mut String, effective: &Effective, places: &Places) -> Result<()> {
    let settings = &effective.settings;
    let database = Store::ledger_home_of(&places.db.value)?;
    let origin = settings.ledger.origin_for(database.as_deref())?;
    let origin_from = effective.origin(&["ledger".to_string(), "origin".to_string()]);
    let key = settings.ledger.key_path(
        places.ledger_key.as_ref().map(|k| k.value.as_path()),
        database.as_deref(),
        &origin,
    );
    let key_from = match &places.ledger_key {
        Some(given) => given.from.clone(),
        None if settings.ledger.key.is_some() => effective
            .origin(&["ledger".to_string(), "key".to_string()])
            .to_string(),
        None => "default: beside the database".to_string(),
    };
    out.push_str("# Locations (--db, --reports-dir, --ledger-key or their variables):\n");
    let rows = [
        (
            "db",
            crate::store::redacted(&places.db.value),
            places.db.from.clone(),
        ),
        (
            "reports_dir",
            path_text(&places.reports_dir.value),
            places.reports_dir.from.clone(),
        ),
        ("ledger_key", path_text(&key), key_from),
        (
            "ledger_origin",
            origin,
            match origin_from {
                Origin::Default => "default: from the database's name".to_string(),
                other => other.to_string(),
            },
        ),
    ];
    for (name, value, from) in rows {
        let line = format!("# {name} = {}", toml::Value::String(value));
        push_with_origin(out, &line, &from);
    }
    out.push('\n');
    Ok(())
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// `line`, padded, then `# from`.
fn push_with_origin(out: &mut String, line: &str, from: &str) {
    let _ = writeln!(out, "{line:<48} # {from}");
}

/// A table's values, then its tables (`[a.b]`), then its arrays of tables (`[[a]]`).
fn render_table(
    out: &mut String,
    effective: &Effective,
    path: &mut Vec<String>,
    table: &serde_json::Map<String, Value>,
) {
    for (key, value) in table {
        if matches!(value, Value::Object(_)) || is_array_of_tables(value) {
            continue;
        }
        path.push(key.clone());
        let from = effective.origin(path).to_string();
        let line = match value {
            Value::Null => format!("# {key} (not set)"),
            _ => format!("{key} = {}", shown(key, value)),
        };
        push_with_origin(out, &line, &from);
        path.pop();
    }
    for (key, value) in table {
        if let Value::Object(inner) = value {
            path.push(key.clone());
            if !out.is_empty() && !out.ends_with("\n\n") {
                out.push('\n');
            }
            let _ = writeln!(out, "[{}]", path.join("."));
            render_table(out, effective, path, inner);
            path.pop();
        }
    }
    for (key, value) in table {
        let Value::Array(items) = value else { continue };
        if !is_array_of_tables(value) {
            continue;
        }
        path.push(key.clone());
        let from = effective.origin(path).to_string();
        if !out.ends_with("\n\n") {
            out.push('\n');
        }
        for item in items {
            if let Value::Object(inner) = item {
                push_with_origin(out, &format!("[[{}]]", path.join(".")), &from);
                // The array is one value: its tables' keys share its origin.
                for (k, v) in inner {
                    let line = match v {
                        Value::Null => format!("# {k} (not set)"),
                        _ => format!("{k} = {}", shown(k, v)),
                    };
                    let _ = writeln!(out, "{line}");
                }
            }
        }
        path.pop();
    }
}

/// A non-empty array of tables (an empty one is shown as `key = []`).
fn is_array_of_tables(value: &Value) -> bool {
    match value {
        Value::Array(items) if !items.is_empty() => items.iter().all(Value::is_object),
        _ => false,
    }
}

/// A value as TOML, masked.
fn shown(key: &str, value: &Value) -> String {
    if is_secret_key(key) {
        return "\"<redacted>\"".to_string();
    }
    match value {
        Value::String(text) => toml::Value::String(mask_url(text)).to_string(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(|item| shown(key, item)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k} = {}", shown(k, v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "\"\"".to_string(),
    }
}

/// A URL with only its scheme and host (`https://hooks.slack.com/…`): user info, path, query
/// and fragment are where tokens are. Text that is not a URL is returned as it is.
pub(crate) fn mask_url(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_string();
    };
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return text.to_string();
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((_, host)) => ("…@", host),
        None => ("", authority),
    };
    let tail = if tail.is_empty() || tail == "/" {
        tail
    } else {
        "/…"
    };
    format!("{scheme}://{userinfo}{host}{tail}")
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;

    fn places(db: &str) -> Places {
        Places {
            db: Given {
                value: db.to_string(),
                from: "default".to_string(),
            },
            reports_dir: Given {
                value: PathBuf::from("reports"),
                from: "env RECAUDIT_REPORTS_DIR".to_string(),
            },
            ledger_key: None,
        }
    }

    fn effective(text: &str, env: &[(&str, &str)]) -> Effective {
        let env: Vec<(OsString, OsString)> = env
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect();
        Effective::resolve(Some((Path::new("recaudit.toml"), text)), env).unwrap()
    }

    #[test]
    fn urls_show_their_host_only() {
        assert_eq!(
            mask_url("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            mask_url("https://u:p@tsa.example.com/tsr?k=v"),
            "https://…@tsa.example.com/…"
        );
        assert_eq!(mask_url("http://127.0.0.1:9000"), "http://127.0.0.1:9000");
        assert_eq!(mask_url("http://127.0.0.1:9000/"), "http://127.0.0.1:9000/");
        assert_eq!(
            mask_url("/etc/recaudit/ledger.key"),
            "/etc/recaudit/ledger.key"
        );
        assert_eq!(
            crate::store::redacted(
                "postgres://audit:hunter2@db.internal/recaudit?sslmode=require&password=x"
            ),
            "postgres://audit:…@db.internal/recaudit?sslmode=require&password=…"
        );
        assert_eq!(
            crate::store::redacted("sqlite://recaudit.db"),
            "sqlite://recaudit.db"
        );
    }

    #[test]
    fn every_value_is_shown_with_its_origin_and_secrets_are_masked() {
        let effective = effective(
            "[scope]\nmin_duration_seconds = 5\n\n[ledger]\ntsa_url = \"https://user:pw@tsa.example.com/tsr\"\n\n[[retention]]\nname = \"mifid-ii\"\ndays = 1826\n",
            &[("RECAUDIT_RULES__GRACE_HOURS", "12")],
        );
        let text = render(&effective, &places("sqlite://night.db")).unwrap();
        let line = |prefix: &str| {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
                .to_string()
        };
        assert!(line("grace_hours = 12").ends_with("# env RECAUDIT_RULES__GRACE_HOURS"));
        assert!(line("min_duration_seconds = 5").ends_with("# file recaudit.toml:2"));
        assert!(line("duration_coverage = 0.9").ends_with("# default"));
        assert!(
            line("tsa_url = \"https://…@tsa.example.com/…\"").ends_with("file recaudit.toml:5")
        );
        assert!(line("[[retention]]").ends_with("# file recaudit.toml:7"));
        assert!(line("# endpoint (not set)").ends_with("# default"));
        assert!(line("# db = \"sqlite://night.db\"").ends_with("# default"));
        assert!(line("# ledger_key = \"night.ledger.key\"").ends_with("beside the database"));
        assert!(line("# ledger_origin = \"recaudit.local/night\"").contains("default"));
        assert!(line("# reports_dir = \"reports\"").ends_with("# env RECAUDIT_REPORTS_DIR"));
        assert!(!text.contains("pw"), "{text}");
        // Deterministic: the same settings give the same text.
        assert_eq!(
            text,
            render(&effective, &places("sqlite://night.db")).unwrap()
        );
    }

    #[test]
    fn a_secret_named_key_is_redacted() {
        let value = serde_json::json!("hunter2");
        assert_eq!(shown("smtp_password", &value), "\"<redacted>\"");
        assert_eq!(shown("api_token", &value), "\"<redacted>\"");
        assert_eq!(shown("smtp_password_file", &value), "\"hunter2\"");
        assert_eq!(shown("webhook_url_env", &value), "\"hunter2\"");
    }
}
