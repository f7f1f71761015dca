//! The ledger as operators and auditors use it: keys, anchors, export packages checked with the
//! shipped verify.py and the VERIFY.md shell steps, proofs, and single checkpoints.

use std::path::Path;
use std::process::{Command, Output};

use recaudit::audit::Policy;
use recaudit::ledger::verify::{self, VerifyOptions};
use recaudit::ledger::{Ledger, LedgerSettings, anchor};

use crate::support::*;
use crate::tsa::TestTsa;

fn recaudit(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_recaudit"))
        .current_dir(dir)
        .args(["--db", "sqlite://recaudit.db"])
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("RECAUDIT_LEDGER_KEY")
        .output()
        .expect("run recaudit")
}

fn python_verify(package: &Path, extra: &[&str]) -> Output {
    Command::new("python3")
        .arg(package.join("verify.py"))
        .arg(package)
        .args(extra)
        .output()
        .expect("python3")
}

fn verify_md(package: &Path) -> Output {
    Command::new("bash")
        .arg(repo(".ci/verify-md.sh"))
        .arg(package)
        .output()
        .expect("bash")
}

/// Imports the example night and audits it twice from the command line.
fn audited_examples(dir: &Path) {
    let night = repo("examples/night");
    assert_eq!(
        recaudit(dir, &["import", night.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let config = repo("examples/recaudit.toml");
    for as_of in ["2026-07-15T06:00:00Z", "2026-07-16T12:00:00Z"] {
        let audit = recaudit(
            dir,
            &[
                "--config",
                config.to_str().unwrap(),
                "audit",
                "--from",
                "2026-07-14",
                "--to",
                "2026-07-15",
                "--as-of",
                as_of,
            ],
        );
        assert_eq!(audit.status.code(), Some(1), "{}", text(&audit.stderr));
    }
}

#[test]
fn the_first_audit_creates_a_private_key_and_prints_its_vkey() {
    let dir = tempfile::tempdir().unwrap();
    audited_examples(dir.path());
    let key = dir.path().join("recaudit.ledger.key");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let show = recaudit(dir.path(), &["ledger", "show"]);
    let stdout = text(&show.stdout);
    assert!(
        stdout.contains("origin: recaudit.local/recaudit"),
        "{stdout}"
    );
    assert!(stdout.contains("head: size 2 root "), "{stdout}");

    // keygen refuses to replace the key of an existing ledger.
    let again = recaudit(dir.path(), &["ledger", "keygen"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );

    let verify = recaudit(dir.path(), &["ledger", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stdout));
    assert!(text(&verify.stdout).contains("integrity: OK"));
    assert!(text(&verify.stdout).contains("completeness: OK"));
}

#[test]
fn keygen_before_the_first_audit_and_a_tampered_database_fails_verify() {
    let dir = tempfile::tempdir().unwrap();
    let keygen = recaudit(dir.path(), &["ledger", "keygen"]);
    assert_eq!(keygen.status.code(), Some(0), "{}", text(&keygen.stderr));
    let vkey = text(&keygen.stdout).lines().last().unwrap().to_string();
    assert!(vkey.starts_with("recaudit.local/recaudit+"), "{vkey}");
    audited_examples(dir.path());

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = recaudit::store::Store::open(&format!("sqlite://{}", dir.path().join("recaudit.db").display())).await.unwrap();
        sqlx::query("UPDATE ledger_entries SET record = CAST(replace(CAST(record AS TEXT), 'status pending', 'status complete') AS BLOB) WHERE tree = 'findings'")
            .execute(store.pool())
            .await
            .unwrap();
        store.close().await;
    });
    let verify = recaudit(dir.path(), &["ledger", "verify", "--vkey", &vkey]);
    assert_eq!(verify.status.code(), Some(1));
    let stdout = text(&verify.stdout);
    assert!(stdout.contains("FAIL V6 run "), "{stdout}");
    assert!(stdout.contains("integrity: FAILED"), "{stdout}");
}

#[test]
fn an_exported_package_verifies_by_script_and_by_hand_and_fails_after_one_byte() {
    let dir = tempfile::tempdir().unwrap();
    audited_examples(dir.path());
    let package = dir.path().join("package");
    let export = recaudit(
        dir.path(),
        &["ledger", "export", "--out", package.to_str().unwrap()],
    );
    assert_eq!(export.status.code(), Some(0), "{}", text(&export.stderr));
    for file in [
        "ledger.vkey",
        "verify.py",
        "VERIFY.md",
        "checkpoints/1.note",
        "checkpoints/2.note",
        "runs/0.run",
        "runs/1.findings",
        "runs/1.inputs",
    ] {
        assert!(package.join(file).is_file(), "{file}");
    }
    let script = python_verify(&package, &[]);
    assert_eq!(
        script.status.code(),
        Some(0),
        "{}{}",
        text(&script.stdout),
        text(&script.stderr)
    );
    let by_hand = verify_md(&package);
    assert_eq!(
        by_hand.status.code(),
        Some(0),
        "{}{}",
        text(&by_hand.stdout),
        text(&by_hand.stderr)
    );
    let by_hand_run_1 = Command::new("bash")
        .arg(repo(".ci/verify-md.sh"))
        .arg(&package)
        .env("RUN", "1")
        .output()
        .unwrap();
    assert_eq!(
        by_hand_run_1.status.code(),
        Some(0),
        "{}{}",
        text(&by_hand_run_1.stdout),
        text(&by_hand_run_1.stderr)
    );

    // A proof of one interaction verifies with the package's key; a changed one does not.
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo("examples/expected.json")).unwrap()).unwrap();
    let interaction = expected["conversations"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    let proof = dir.path().join("proof.json");
    let prove = recaudit(
        dir.path(),
        &[
            "ledger",
            "prove",
            "--interaction",
            &interaction,
            "--out",
            proof.to_str().unwrap(),
        ],
    );
    assert_eq!(prove.status.code(), Some(0), "{}", text(&prove.stderr));
    let checked = python_verify(&package, &["--proof", proof.to_str().unwrap()]);
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked.stdout));
    let forged = std::fs::read_to_string(&proof)
        .unwrap()
        .replacen("status ", "status x", 1);
    let forged_path = dir.path().join("forged.json");
    std::fs::write(&forged_path, forged).unwrap();
    let refused = python_verify(&package, &["--proof", forged_path.to_str().unwrap()]);
    assert_ne!(refused.status.code(), Some(0));
    assert!(
        text(&refused.stdout).contains("V9"),
        "{}",
        text(&refused.stdout)
    );

    // The single checkpoint, as an auditor receives it by mail.
    let vkey = std::fs::read_to_string(package.join("ledger.vkey")).unwrap();
    let note = package.join("checkpoints/2.note");
    let ok = recaudit(
        dir.path(),
        &[
            "ledger",
            "verify-checkpoint",
            "--vkey",
            vkey.trim(),
            note.to_str().unwrap(),
        ],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stdout));
    assert!(text(&ok.stdout).starts_with("OK: recaudit.local/recaudit size 2 root "));
    let mangled = dir.path().join("mangled.note");
    std::fs::write(
        &mangled,
        std::fs::read_to_string(&note)
            .unwrap()
            .replace('\u{2014}', "-"),
    )
    .unwrap();
    let bad = recaudit(
        dir.path(),
        &[
            "ledger",
            "verify-checkpoint",
            "--vkey",
            vkey.trim(),
            mangled.to_str().unwrap(),
        ],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stdout).starts_with("FAIL V1"),
        "{}",
        text(&bad.stdout)
    );

    // Any one byte changed in a finding file: both verifications fail.
    let findings = package.join("runs/0.findings");
    let original = std::fs::read(&findings).unwrap();
    for position in [original.len() / 3, original.len() / 2, original.len() - 3] {
        let mut changed = original.clone();
        changed[position] = if changed[position] == b'a' {
            b'b'
        } else {
            b'a'
        };
        std::fs::write(&findings, &changed).unwrap();
        assert_ne!(
            python_verify(&package, &[]).status.code(),
            Some(0),
            "verify.py, byte {position}"
        );
        assert_ne!(
            verify_md(&package).status.code(),
            Some(0),
            "VERIFY.md, byte {position}"
        );
    }
    std::fs::write(&findings, &original).unwrap();
    assert_eq!(python_verify(&package, &[]).status.code(), Some(0));
}

#[tokio::test]
async fn checkpoints_are_time_stamped_and_copied_and_a_foreign_token_is_v3() {
    let env = TestEnv::new().await;
    let tsa = TestTsa::start(&env.dir.path().join("tsa")).await;
    let anchors = env.dir.path().join("anchors");
    let settings = LedgerSettings {
        tsa_url: Some(tsa.url.clone()),
        tsa_ca: Some(tsa.ca.clone()),
        anchor_dir: Some(recaudit::ledger::AnchorDirSetting::Dir(anchors.clone())),
        ..LedgerSettings::default()
    };
    let (ledger, _) = Ledger::open_or_create(
        settings.clone(),
        ORIGIN.to_string(),
        env.ledger.key_path.clone(),
        0,
    )
    .unwrap();
    let env = TestEnv { ledger, ..env };
    env.write_json(
        "p.json",
        &page(vec![answered_call("a"), ice_failure_call("b")]),
    );
    env.import().await;
    for as_of in ["2026-07-15T12:00:00Z", "2026-07-16T12:00:00Z"] {
        let outcome = env.audit_with(&Policy::default(), as_of).await;
        assert!(
            outcome.anchors.failed.is_empty(),
            "{:?}",
            outcome.anchors.failed
        );
        assert_eq!(outcome.anchors.done.len(), 2, "{:?}", outcome.anchors.done);
    }
    assert!(anchors.join("1.note").is_file() && anchors.join("2.note").is_file());

    let options = |presented: Vec<(String, String)>| VerifyOptions {
        origin: ORIGIN.to_string(),
        verifier: env.ledger.signer.verifier(),
        presented,
        tsa_ca: Some(tsa.ca.clone()),
        anchor_dir: None,
        since: None,
    };
    let report = verify::verify(
        &env.store,
        &options(anchor::read_dir_notes(&anchors).unwrap()),
    )
    .await
    .unwrap();
    assert!(report.ok(), "{:?}", report.failures);
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);

    // The exported package carries the tokens and the TSA's CA; verify.py checks them.
    let package = env.dir.path().join("package");
    recaudit::ledger::export::export(
        &env.store,
        &env.ledger.signer.vkey(),
        &package,
        Some(&tsa.ca),
    )
    .await
    .unwrap();
    assert!(package.join("checkpoints/2.tsr").is_file());
    let script = python_verify(&package, &[]);
    assert_eq!(script.status.code(), Some(0), "{}", text(&script.stdout));
    assert!(
        text(&script.stdout).contains("OK V3"),
        "{}",
        text(&script.stdout)
    );

    // A genuine token, but over other bytes.
    let foreign = tsa.stamp(b"not the checkpoint\n");
    tamper_bound(
        &env.store,
        "UPDATE ledger_anchors SET data = $1 WHERE size = 2 AND kind = 'rfc3161'",
        Some(&foreign),
    )
    .await;
    let report = verify::verify(&env.store, &options(vec![])).await.unwrap();
    assert!(report.has("V3"), "{:?}", report.failures);

    // The anchor directory still holds checkpoint 2 after the log is cut back to 1.
    tamper(&env.store, "DELETE FROM ledger_runs WHERE idx = 1").await;
    tamper(&env.store, "DELETE FROM ledger_checkpoints WHERE size = 2").await;
    tamper(&env.store, "DELETE FROM ledger_anchors WHERE size = 2").await;
    let report = verify::verify(
        &env.store,
        &options(anchor::read_dir_notes(&anchors).unwrap()),
    )
    .await
    .unwrap();
    assert!(report.has("V8"), "{:?}", report.failures);
}

#[tokio::test]
async fn an_unreachable_tsa_leaves_the_run_stored_and_anchoring_can_be_retried() {
    let env = TestEnv::new().await;
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/tsa", closed.local_addr().unwrap());
    drop(closed);
    let settings = LedgerSettings {
        tsa_url: Some(url),
        ..ledger_settings(env.dir.path())
    };
    let (ledger, _) =
        Ledger::open_or_create(settings, ORIGIN.to_string(), env.ledger.key_path.clone(), 0)
            .unwrap();
    let env = TestEnv { ledger, ..env };
    env.write_json("p.json", &page(vec![answered_call("a")]));
    env.import().await;
    let outcome = env
        .audit_with(&Policy::default(), "2026-07-16T12:00:00Z")
        .await;
    assert_eq!(outcome.anchors.failed.len(), 1);
    assert_eq!(
        env.store.ledger_runs().await.unwrap().len(),
        1,
        "the run is kept"
    );

    let tsa = TestTsa::start(&env.dir.path().join("tsa")).await;
    let working = LedgerSettings {
        tsa_url: Some(tsa.url.clone()),
        ..ledger_settings(env.dir.path())
    };
    let retried = anchor::anchor_missing(&env.store, &working).await.unwrap();
    assert!(retried.failed.is_empty(), "{:?}", retried.failed);
    assert_eq!(retried.done.len(), 1);
    let kinds: Vec<String> = env
        .store
        .ledger_anchors()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.kind)
        .collect();
    assert_eq!(
        kinds,
        ["directory", "rfc3161"],
        "the default directory copy was made by the audit, the time stamp by the retry"
    );
    // Nothing left to do the second time.
    assert!(
        anchor::anchor_missing(&env.store, &working)
            .await
            .unwrap()
            .done
            .is_empty()
    );
}

/// `recaudit` in `dir` on the database `sqlite://<db>`, with nothing from the environment.
fn recaudit_on(dir: &Path, db: &str, args: &[&str]) -> Output {
    binary(dir)
        .arg("--db")
        .arg(format!("sqlite://{db}"))
        .arg("--reports-dir")
        .arg(format!("reports-{db}"))
        .args(args)
        .output()
        .expect("run recaudit")
}

/// Imports the example night into `db` and audits it once; returns the audit's stdout.
fn audit_examples_on(dir: &Path, db: &str) -> String {
    let night = repo("examples/night");
    let import = recaudit_on(dir, db, &["import", night.to_str().unwrap()]);
    assert_eq!(import.status.code(), Some(0), "{}", text(&import.stderr));
    let config = repo("examples/recaudit.toml");
    let mut args = vec!["--config", config.to_str().unwrap()];
    args.extend(EXAMPLE_AUDIT);
    let audit = recaudit_on(dir, db, &args);
    assert_eq!(audit.status.code(), Some(1), "{}", text(&audit.stderr));
    text(&audit.stdout)
}

fn assert_ledger_verifies(dir: &Path, db: &str, origin: &str) {
    let verify = recaudit_on(dir, db, &["ledger", "verify"]);
    let stdout = text(&verify.stdout);
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{db}: {stdout}{}",
        text(&verify.stderr)
    );
    assert!(
        stdout.contains(&format!("ledger {origin}: 1 runs")),
        "{stdout}"
    );
    assert!(stdout.contains("integrity: OK"), "{stdout}");
    assert!(stdout.contains("completeness: OK"), "{stdout}");
}

#[test]
fn two_databases_in_one_folder_each_get_their_own_key_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let first = audit_examples_on(dir.path(), "alpha.db");
    let second = audit_examples_on(dir.path(), "beta.db");
    assert!(
        first.contains("Created the ledger signing key alpha.ledger.key"),
        "{first}"
    );
    assert!(
        second.contains("Created the ledger signing key beta.ledger.key"),
        "{second}"
    );
    let alpha = std::fs::read_to_string(dir.path().join("alpha.ledger.key")).unwrap();
    let beta = std::fs::read_to_string(dir.path().join("beta.ledger.key")).unwrap();
    assert!(alpha.starts_with("PRIVATE+KEY+recaudit.local/alpha+"));
    assert!(beta.starts_with("PRIVATE+KEY+recaudit.local/beta+"));
    assert!(!dir.path().join("recaudit-ledger.key").exists());
    assert_ledger_verifies(dir.path(), "alpha.db", "recaudit.local/alpha");
    assert_ledger_verifies(dir.path(), "beta.db", "recaudit.local/beta");

    // Pointing one database at the other's key is refused, and the message says how to fix it.
    let crossed = recaudit_on(
        dir.path(),
        "beta.db",
        &["--ledger-key", "alpha.ledger.key", "ledger", "verify"],
    );
    assert_eq!(crossed.status.code(), Some(2));
    let stderr = text(&crossed.stderr);
    assert!(stderr.contains("--ledger-key"), "{stderr}");
    assert!(stderr.contains("[ledger] origin"), "{stderr}");
}

#[test]
fn a_key_made_under_the_old_shared_name_keeps_signing_its_ledger() {
    let dir = tempfile::tempdir().unwrap();
    // Releases before 0.2 created `recaudit-ledger.key` beside every database.
    let keygen = recaudit_on(
        dir.path(),
        "recaudit.db",
        &["--ledger-key", "recaudit-ledger.key", "ledger", "keygen"],
    );
    assert_eq!(keygen.status.code(), Some(0), "{}", text(&keygen.stderr));
    let vkey = text(&keygen.stdout).lines().last().unwrap().to_string();

    let stdout = audit_examples_on(dir.path(), "recaudit.db");
    assert!(
        !stdout.contains("Created the ledger signing key"),
        "{stdout}"
    );
    assert!(!dir.path().join("recaudit.ledger.key").exists());
    assert_ledger_verifies(dir.path(), "recaudit.db", "recaudit.local/recaudit");
    let show = recaudit_on(dir.path(), "recaudit.db", &["ledger", "show"]);
    assert!(
        text(&show.stdout).contains(&format!("vkey: {vkey}")),
        "{}",
        text(&show.stdout)
    );

    // Another database in the same folder does not take the old key: it is another ledger.
    let other = audit_examples_on(dir.path(), "other.db");
    assert!(
        other.contains("Created the ledger signing key other.ledger.key"),
        "{other}"
    );
    assert_ledger_verifies(dir.path(), "other.db", "recaudit.local/other");
}
