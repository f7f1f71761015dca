//! The binary as users run it: exit codes, messages, the example night, report regeneration.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::*;

fn recaudit(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_recaudit"))
        .arg("--db")
        .arg(TestEnv::url_in(dir))
        .arg("--reports-dir")
        .arg(dir.join("reports"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run recaudit")
}

/// The run id from `audit` output ("Reports: <dir>/<run-id>").
fn run_id(output: &Output) -> String {
    let stdout = text(&output.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Reports: "))
        .expect("reports line");
    Path::new(line.trim_start_matches("Reports: "))
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn read_findings(dir: &Path, run: &str) -> Value {
    let bytes =
        std::fs::read(dir.join("reports").join(run).join("findings.json")).expect("findings.json");
    serde_json::from_slice(&bytes).expect("json")
}

fn audit_examples(dir: &Path) -> (Output, Value) {
    let expected: Value =
        serde_json::from_slice(&std::fs::read(repo("examples/expected.json")).unwrap()).unwrap();
    let config = repo("examples/recaudit.toml");
    let output = recaudit(
        dir,
        &[
            "--config",
            config.to_str().unwrap(),
            "audit",
            "--from",
            expected["window"]["from"].as_str().unwrap(),
            "--to",
            expected["window"]["to"].as_str().unwrap(),
            "--as-of",
            expected["as_of"].as_str().unwrap(),
        ],
    );
    (output, expected)
}

#[test]
fn the_example_night_gets_the_verdicts_it_was_built_with() {
    let dir = tempfile::tempdir().unwrap();
    let import = recaudit(
        dir.path(),
        &["import", repo("examples/night").to_str().unwrap()],
    );
    assert_eq!(import.status.code(), Some(0), "{}", text(&import.stderr));

    let (audit, expected) = audit_examples(dir.path());
    assert_eq!(
        audit.status.code(),
        Some(1),
        "exceptions exist: {}",
        text(&audit.stderr)
    );
    let report = read_findings(dir.path(), &run_id(&audit));
    let findings = report["findings"].as_array().unwrap();
    let labels = expected["conversations"].as_object().unwrap();
    assert_eq!(findings.len(), labels.len());
    for finding in findings {
        let id = finding["interaction"].as_str().unwrap();
        let label = &labels[id];
        assert_eq!(
            finding["status"], label["status"],
            "{id} ({}): {finding}",
            label["scenario"]
        );
        assert_eq!(
            finding["reasons"], label["reasons"],
            "{id} ({}): {finding}",
            label["scenario"]
        );
    }

    // The example covers every status and every reason of the taxonomy.
    let statuses: Vec<&str> = labels
        .values()
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    for status in [
        "complete",
        "exception",
        "pending",
        "excluded",
        "not-required",
    ] {
        assert!(statuses.contains(&status), "{status}");
    }
    let reasons: Vec<&str> = labels
        .values()
        .flat_map(|l| l["reasons"].as_array().unwrap())
        .map(|r| r.as_str().unwrap())
        .collect();
    for reason in [
        "media-not-established",
        "recording-missing",
        "media-file-missing",
        "export-failed",
        "recording-error",
        "duration-mismatch",
        "orphan-recording",
        "retention-shortfall",
        "short-interaction",
    ] {
        assert!(reasons.contains(&reason), "{reason}");
    }
}

#[test]
fn importing_the_examples_twice_gives_identical_findings() {
    let dir = tempfile::tempdir().unwrap();
    let night = repo("examples/night");
    recaudit(dir.path(), &["import", night.to_str().unwrap()]);
    let (first, _) = audit_examples(dir.path());
    let again = recaudit(dir.path(), &["import", night.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0));
    assert!(
        text(&again.stdout).contains("imported 0 new inputs"),
        "{}",
        text(&again.stdout)
    );
    let (second, _) = audit_examples(dir.path());
    let a = read_findings(dir.path(), &run_id(&first));
    let b = read_findings(dir.path(), &run_id(&second));
    assert_ne!(a["run"], b["run"]);
    assert_eq!(a["findings"], b["findings"]);
}

#[test]
fn report_regenerates_byte_for_byte_and_refuses_altered_findings() {
    let dir = tempfile::tempdir().unwrap();
    recaudit(
        dir.path(),
        &["import", repo("examples/night").to_str().unwrap()],
    );
    let (audit, _) = audit_examples(dir.path());
    let run = run_id(&audit);
    let folder = dir.path().join("reports").join(&run);
    let mut originals = BTreeMap::new();
    for name in [
        "certificate.txt",
        "checkpoint.note",
        "findings.csv",
        "findings.dat",
        "findings.json",
        "manifest.json",
        "report.html",
        "summary.md",
    ] {
        originals.insert(name, std::fs::read(folder.join(name)).expect(name));
    }
    std::fs::remove_dir_all(&folder).unwrap();

    let report = recaudit(dir.path(), &["report", "--run", &run]);
    assert_eq!(report.status.code(), Some(0), "{}", text(&report.stderr));
    for (name, bytes) in &originals {
        assert_eq!(&std::fs::read(folder.join(name)).unwrap(), bytes, "{name}");
    }

    // The manifest lists every other file with its size and hash, but not the checkpoint that
    // signs the manifest's hash (which is beside it, the same again).
    let manifest: Value = serde_json::from_slice(&originals["manifest.json"]).unwrap();
    assert_eq!(manifest["files"].as_array().unwrap().len(), 6);

    // Alter one stored finding: regeneration must refuse and write nothing.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = recaudit::store::Store::open(&TestEnv::url_in(dir.path())).await.unwrap();
        let changed = sqlx::query("UPDATE findings SET detail = 'edited' WHERE run_id = ? AND rowid = (SELECT MIN(rowid) FROM findings)")
            .bind(&run)
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(changed.rows_affected(), 1);
        store.close().await;
    });
    std::fs::remove_dir_all(&folder).unwrap();
    let refused = recaudit(dir.path(), &["report", "--run", &run]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("do not match the manifest"),
        "{}",
        text(&refused.stderr)
    );
    assert!(!folder.exists());
}

#[test]
fn import_names_rejected_files_and_exits_1() {
    let env = tempfile::tempdir().unwrap();
    let input = env.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(
        input.join("good.json"),
        serde_json::to_vec(&page(vec![answered_call("a")])).unwrap(),
    )
    .unwrap();
    std::fs::write(input.join("bad.json"), b"{\"conversations\": [}").unwrap();
    let output = recaudit(env.path(), &["import", input.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("bad.json: line 1, column"), "{stderr}");
    assert!(
        text(&output.stdout).contains("1 rejected"),
        "{}",
        text(&output.stdout)
    );

    let audit = recaudit(
        env.path(),
        &[
            "audit",
            "--from",
            "2026-07-14",
            "--to",
            "2026-07-15",
            "--as-of",
            "2026-07-20",
        ],
    );
    assert_eq!(
        audit.status.code(),
        Some(1),
        "the good file was imported and audited"
    );
    assert!(
        text(&audit.stdout).contains("| exception | 1 |"),
        "{}",
        text(&audit.stdout)
    );
}

#[test]
fn audit_exits_0_without_exceptions() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let abandoned = conversation(
        "quiet",
        &at(9, 0, 0),
        Some(&at(9, 1, 0)),
        vec![customer(&at(9, 0, 0), &at(9, 1, 0))],
    );
    std::fs::write(
        input.join("p.json"),
        serde_json::to_vec(&page(vec![abandoned])).unwrap(),
    )
    .unwrap();
    assert_eq!(
        recaudit(dir.path(), &["import", input.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let audit = recaudit(
        dir.path(),
        &[
            "audit",
            "--from",
            "2026-07-14T00:00:00Z",
            "--to",
            "2026-07-15T00:00:00Z",
        ],
    );
    assert_eq!(audit.status.code(), Some(0), "{}", text(&audit.stderr));
    assert!(text(&audit.stdout).contains("| not-required | 1 |"));
}

#[test]
fn usage_errors_exit_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let backwards = recaudit(
        dir.path(),
        &["audit", "--from", "2026-07-15", "--to", "2026-07-14"],
    );
    assert_eq!(backwards.status.code(), Some(2));
    assert!(
        text(&backwards.stderr).contains("must be before --to"),
        "{}",
        text(&backwards.stderr)
    );

    let garbage = recaudit(
        dir.path(),
        &["audit", "--from", "last tuesday", "--to", "2026-07-14"],
    );
    assert_eq!(garbage.status.code(), Some(2));
    assert!(
        text(&garbage.stderr).contains("--from"),
        "{}",
        text(&garbage.stderr)
    );

    // `audit` creates no database; an import (of nothing) does.
    std::fs::create_dir(dir.path().join("nothing")).unwrap();
    let created = recaudit(
        dir.path(),
        &["import", dir.path().join("nothing").to_str().unwrap()],
    );
    assert_eq!(created.status.code(), Some(0));
    let missing = recaudit(dir.path(), &["report", "--run", "nope"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("no run `nope`"),
        "{}",
        text(&missing.stderr)
    );

    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[rules]\ngrace_hour = 3\n").unwrap();
    let bad_config = recaudit(dir.path(), &["--config", config.to_str().unwrap(), "runs"]);
    assert_eq!(bad_config.status.code(), Some(2));
    assert!(
        text(&bad_config.stderr).contains("grace_hour"),
        "{}",
        text(&bad_config.stderr)
    );

    // A command that creates the database names the missing directory (the read-only ones
    // refuse a missing database: see trust.rs).
    let no_dir = Command::new(env!("CARGO_BIN_EXE_recaudit"))
        .args(["--db", "sqlite:///nonexistent-dir/x.db", "ledger", "keygen"])
        .output()
        .unwrap();
    assert_eq!(no_dir.status.code(), Some(2));
    assert!(
        text(&no_dir.stderr).contains("does not exist"),
        "{}",
        text(&no_dir.stderr)
    );
}

#[test]
fn a_window_that_has_not_ended_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let future = recaudit(
        dir.path(),
        &["audit", "--from", "2026-07-14", "--to", "2999-01-01"],
    );
    assert_eq!(future.status.code(), Some(2));
    assert!(
        text(&future.stderr).contains("in the future"),
        "{}",
        text(&future.stderr)
    );
}

/// The README's newcomer commands, as a newcomer runs them from one folder with no options.
fn newcomer(dir: &Path, args: &[&str]) -> Output {
    binary(dir).args(args).output().expect("run recaudit")
}

const PRODUCTION_DEFAULTS: [&str; 7] = [
    "production.db",
    "production-reports",
    "production.key",
    "recaudit.db",
    "reports",
    "recaudit.ledger.key",
    "recaudit-ledger.key",
];

fn newcomer_demo(dir: &Path) {
    let absent: Vec<&str> = PRODUCTION_DEFAULTS
        .into_iter()
        .filter(|name| !dir.join(name).exists())
        .collect();
    // A production environment is set; the demo must not use it.
    let demo = Command::new(env!("CARGO_BIN_EXE_recaudit"))
        .current_dir(dir)
        .args([
            "demo",
            "--conversations",
            "40",
            "--date",
            "2026-07-14",
            "--rate-limit",
            SIM_FAST_RATE,
        ])
        .env_remove("RUST_LOG")
        .env("RECAUDIT_DB", "sqlite://production.db")
        .env("RECAUDIT_REPORTS_DIR", "production-reports")
        .env("RECAUDIT_LEDGER_KEY", "production.key")
        .output()
        .expect("run recaudit demo");
    let stdout = text(&demo.stdout);
    assert_eq!(
        demo.status.code(),
        Some(1),
        "{stdout}{}",
        text(&demo.stderr)
    );
    assert!(stdout.contains("| exception |"), "{stdout}");
    assert!(
        stdout.contains("Demo database: recaudit-demo.db"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Created the ledger signing key recaudit-demo.ledger.key"),
        "{stdout}"
    );
    assert!(stdout.contains("Reports: reports-demo/"), "{stdout}");
    for production in absent {
        assert!(
            !dir.join(production).exists(),
            "demo wrote the production default {production}"
        );
    }
    let verify = newcomer(
        dir,
        &["--db", "sqlite://recaudit-demo.db", "ledger", "verify"],
    );
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stdout));
}

fn newcomer_examples(dir: &Path) {
    let night = repo("examples/night");
    let import = newcomer(
        dir,
        &[
            "--db",
            "sqlite://examples.db",
            "import",
            night.to_str().unwrap(),
        ],
    );
    assert_eq!(import.status.code(), Some(0), "{}", text(&import.stderr));
    let config = repo("examples/recaudit.toml");
    let mut args = vec![
        "--db",
        "sqlite://examples.db",
        "--config",
        config.to_str().unwrap(),
    ];
    args.extend(EXAMPLE_AUDIT);
    let audit = newcomer(dir, &args);
    assert_eq!(audit.status.code(), Some(1), "{}", text(&audit.stderr));
    let verify = newcomer(dir, &["--db", "sqlite://examples.db", "ledger", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stdout));
}

#[test]
fn the_readme_commands_work_in_either_order_from_one_folder() {
    let demo_first = tempfile::tempdir().unwrap();
    newcomer_demo(demo_first.path());
    newcomer_examples(demo_first.path());

    let examples_first = tempfile::tempdir().unwrap();
    newcomer_examples(examples_first.path());
    newcomer_demo(examples_first.path());
    // The examples' reports went to the production default; the demo's did not join them.
    assert!(examples_first.path().join("reports").is_dir());
    assert!(examples_first.path().join("reports-demo").is_dir());
}

/// The demo keeps the policy of --config but never the production ledger's key, origin or
/// anchors: its checkpoints must not land beside the real ones.
#[test]
fn the_demo_never_uses_the_production_ledger_settings() {
    let dir = tempfile::tempdir().unwrap();
    let anchors = dir.path().join("production-anchors");
    std::fs::create_dir(&anchors).unwrap();
    let config = dir.path().join("production.toml");
    std::fs::write(
        &config,
        format!(
            "[ledger]\norigin = \"bank.example/recaudit\"\nkey = \"{}\"\nanchor_dir = \"{}\"\n",
            dir.path().join("production.key").display(),
            anchors.display()
        ),
    )
    .unwrap();
    let demo = binary(dir.path())
        .args(["--config", config.to_str().unwrap()])
        .args([
            "demo",
            "--conversations",
            "40",
            "--date",
            "2026-07-14",
            "--rate-limit",
            SIM_FAST_RATE,
        ])
        .output()
        .unwrap();
    assert_eq!(demo.status.code(), Some(1), "{}", text(&demo.stderr));
    assert!(!dir.path().join("production.key").exists());
    assert_eq!(std::fs::read_dir(&anchors).unwrap().count(), 0);
    let key = std::fs::read_to_string(dir.path().join("recaudit-demo.ledger.key")).unwrap();
    assert!(
        key.starts_with("PRIVATE+KEY+recaudit.local/recaudit-demo+"),
        "{key}"
    );
}
