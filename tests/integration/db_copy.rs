//! `recaudit db copy` moves a deployment between SQLite and PostgreSQL and back: every row
//! as stored, so the copy's ledger verifies with the same root and checkpoints, its audit
//! package is byte-identical, and a run's reports regenerate byte for byte from the copy.

use std::path::Path;
use std::process::Output;

use crate::support::{SIM_FAST_RATE, binary, fresh_postgres_database, tree};

fn recaudit(dir: &Path, args: &[&str]) -> Output {
    binary(dir).args(args).output().unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let output = recaudit(dir, args);
    assert!(
        output.status.success(),
        "recaudit {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The ledger line of `ledger verify` (origin, runs, findings, inputs and root).
fn verified(dir: &Path, db: &str, checkpoint: &Path) -> String {
    let out = ok(
        dir,
        &[
            "--db",
            db,
            "--config",
            "origin.toml",
            "--ledger-key",
            "recaudit-demo.ledger.key",
            "ledger",
            "verify",
            "--checkpoint",
            checkpoint.to_str().unwrap(),
        ],
    );
    assert!(out.contains("integrity: OK"), "{out}");
    assert!(out.contains("completeness: OK"), "{out}");
    out.lines().next().unwrap().to_string()
}

fn package(dir: &Path, db: &str, out: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
    ok(
        dir,
        &[
            "--db",
            db,
            "--config",
            "origin.toml",
            "--ledger-key",
            "recaudit-demo.ledger.key",
            "ledger",
            "export",
            "--out",
            out,
        ],
    );
    tree(&dir.join(out))
}

fn newest_run(dir: &Path, db: &str) -> String {
    let runs = ok(dir, &["--db", db, "runs"]);
    runs.split_whitespace().next().unwrap().to_string()
}

#[test]
fn a_deployment_moves_to_postgres_and_back_with_the_same_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // Three nights, three runs, in the demo's SQLite database.
    for date in ["2026-11-01", "2026-11-02", "2026-11-03"] {
        // 1: the simulated nights have exceptions.
        let demo = recaudit(
            dir,
            &[
                "demo",
                "--conversations",
                "25",
                "--date",
                date,
                "--rate-limit",
                SIM_FAST_RATE,
            ],
        );
        assert!(
            matches!(demo.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&demo.stderr)
        );
    }
    std::fs::write(
        dir.join("origin.toml"),
        "[ledger]\norigin = \"recaudit.local/recaudit-demo\"\n",
    )
    .unwrap();
    let sqlite = "sqlite://recaudit-demo.db";
    let checkpoint = dir.join("recaudit-demo.checkpoints").join("3.note");
    let original = verified(dir, sqlite, &checkpoint);
    assert!(original.contains(": 3 runs,"), "{original}");
    let original_package = package(dir, sqlite, "package-sqlite");
    assert!(original_package.len() > 3, "{:?}", original_package.keys());

    let postgres = fresh_postgres_database("db_copy");
    let copied = ok(dir, &["db", "copy", "--from", sqlite, "--to", &postgres]);
    assert!(copied.contains("in 27 tables"), "{copied}");
    assert_eq!(verified(dir, &postgres, &checkpoint), original);
    assert_eq!(
        package(dir, &postgres, "package-postgres"),
        original_package
    );

    // A sealed run's reports regenerate from the copy byte for byte.
    let run = newest_run(dir, &postgres);
    assert_eq!(run, newest_run(dir, sqlite));
    let reports = dir.join("reports-demo").join(&run);
    let before = tree(&reports);
    assert!(before.contains_key("manifest.json"), "{:?}", before.keys());
    std::fs::remove_dir_all(&reports).unwrap();
    ok(
        dir,
        &[
            "--db",
            &postgres,
            "--config",
            "origin.toml",
            "--ledger-key",
            "recaudit-demo.ledger.key",
            "--reports-dir",
            "reports-demo",
            "report",
            "--run",
            &run,
        ],
    );
    assert_eq!(tree(&reports), before);

    // A target that holds data is refused, and keeps what it holds.
    let refused = recaudit(dir, &["db", "copy", "--from", sqlite, "--to", &postgres]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("already holds data"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(verified(dir, &postgres, &checkpoint), original);

    // And back: PostgreSQL to a new SQLite file.
    let back = "sqlite://back.db";
    ok(dir, &["db", "copy", "--from", &postgres, "--to", back]);
    assert_eq!(verified(dir, back, &checkpoint), original);
    assert_eq!(package(dir, back, "package-back"), original_package);
}
