//! Legal holds and matter reports through the real binary: scoping to the hold's
//! interactions, flags on held recordings near or past their deleteDate, every hold change
//! and every matter report sealed in the ledger (checked with sha256 over the exported bytes),
//! and byte-for-byte regeneration.

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::support::{
    TestEnv, answered_call, binary, certificate_steps_pass, ice_failure_call, metadata, page, text,
};

fn recaudit(dir: &Path, args: &[&str]) -> Output {
    binary(dir)
        .arg("--db")
        .arg(TestEnv::url_in(dir))
        .arg("--reports-dir")
        .arg(dir.join("reports"))
        .args(args)
        .output()
        .expect("run recaudit")
}

fn ok(output: &Output) -> String {
    let stdout = text(&output.stdout);
    assert!(
        matches!(output.status.code(), Some(0) | Some(1)),
        "exit {:?}\n{stdout}\n{}",
        output.status.code(),
        text(&output.stderr)
    );
    stdout
}

/// The `Reports: DIR` line of a command's output.
fn reports_dir(dir: &Path, stdout: &str) -> std::path::PathBuf {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Reports: "))
        .unwrap_or_else(|| panic!("no Reports line in {stdout}"));
    dir.join(line)
}

fn with_agent(mut call: Value, user: &str) -> Value {
    for participant in call["participants"].as_array_mut().unwrap() {
        if participant["purpose"] == "agent" {
            participant["userId"] = json!(user);
        }
    }
    call
}

fn recording(id: &str, conversation: &str, delete_date: &str) -> Value {
    let mut meta = metadata(id, conversation, "AVAILABLE");
    meta["deleteDate"] = json!(delete_date);
    meta
}

/// A night of four calls: three by the custodian user-dana (one deleted soon, one long
/// after, one whose agent leg never got media), one by user-eve.
fn night(dir: &Path) -> (String, String) {
    let env_dir = dir.join("input");
    std::fs::create_dir_all(env_dir.join("rm")).unwrap();
    let soon = (chrono::Utc::now() + chrono::Duration::days(10))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let write = |name: &str, value: &Value| {
        std::fs::write(env_dir.join(name), serde_json::to_vec(value).unwrap()).unwrap();
    };
    write(
        "details.json",
        &page(vec![
            answered_call("held-soon"),
            answered_call("held-later"),
            with_agent(answered_call("not-held"), "user-eve"),
            with_agent(ice_failure_call("held-ice"), "user-dana"),
        ]),
    );
    write(
        "rm/soon.json",
        &json!([recording("rec-soon", "held-soon", &soon)]),
    );
    write(
        "rm/later.json",
        &json!([recording(
            "rec-later",
            "held-later",
            "2033-07-14T10:05:00.000Z"
        )]),
    );
    write(
        "rm/other.json",
        &json!([recording("rec-other", "not-held", &soon)]),
    );
    ok(&recaudit(dir, &["import", env_dir.to_str().unwrap()]));
    let audit = ok(&recaudit(
        dir,
        &[
            "audit",
            "--from",
            "2026-07-14",
            "--to",
            "2026-07-15",
            "--as-of",
            "2026-07-20",
        ],
    ));
    let run = audit
        .lines()
        .find_map(|l| l.strip_prefix("Ledger: run "))
        .and_then(|l| l.split_whitespace().next())
        .expect("the run id")
        .to_string();
    (run, soon)
}

fn json_file(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn interactions(findings: &Value) -> Vec<String> {
    let mut ids: Vec<String> = findings["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["interaction"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_matter_report_holds_only_the_holds_interactions_and_flags_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (run, soon) = night(dir);

    let added = ok(&recaudit(
        dir,
        &[
            "hold",
            "add",
            "SEC-2026-014",
            "--name",
            "SEC v. Example",
            "--user",
            "user-dana",
        ],
    ));
    assert!(
        added.contains("Hold SEC-2026-014 version 1 (held) sealed"),
        "{added}"
    );
    let report = ok(&recaudit(dir, &["report", "--matter", "SEC-2026-014"]));
    assert!(report.contains(&format!("over run {run}")), "{report}");
    let matter_dir = reports_dir(dir, &report);
    let findings = json_file(&matter_dir.join("findings.json"));
    assert_eq!(
        interactions(&findings),
        ["held-ice", "held-later", "held-soon"],
        "only the custodian's interactions"
    );
    let whole = json_file(&dir.join("reports").join(&run).join("findings.json"));
    assert_eq!(interactions(&whole).len(), 4, "the run itself has all four");

    let flags = findings["matter"]["flags"]
        .as_array()
        .expect("the matter's flags");
    let flagged = |recording: &str, kind: &str| {
        flags
            .iter()
            .any(|f| f["recording"] == recording && f["kind"] == kind)
    };
    assert!(flagged("rec-soon", "deletion-near"), "{soon}: {flags:?}");
    assert!(!flagged("rec-later", "deletion-near"), "{flags:?}");
    assert!(
        flagged("rec-later", "not-protected"),
        "nothing says Genesys protects it: {flags:?}"
    );
    assert!(
        !flags.iter().any(|f| f["recording"] == "rec-other"),
        "not held: {flags:?}"
    );

    // The matter's certificate itemizes the held exception and verifies by its own steps
    // against the audit package: its manifest is the matter entry's, not the audit run's.
    let certificate = std::fs::read_to_string(matter_dir.join("certificate.txt")).unwrap();
    assert!(
        certificate.contains("No complete recording exists for interaction held-ice because: "),
        "{certificate}"
    );
    assert!(
        !certificate.contains("interaction not-held"),
        "{certificate}"
    );
    let package = dir.join("matter-package");
    let exported = recaudit(
        dir,
        &["ledger", "export", "--out", package.to_str().unwrap()],
    );
    assert_eq!(
        exported.status.code(),
        Some(0),
        "{}",
        text(&exported.stderr)
    );
    certificate_steps_pass(&certificate, &package, &matter_dir);

    // Asked again: the same entry, regenerated byte for byte, nothing new sealed.
    let before = std::fs::read(matter_dir.join("manifest.json")).unwrap();
    let again = ok(&recaudit(dir, &["report", "--matter", "SEC-2026-014"]));
    assert!(again.contains("Regenerated"), "{again}");
    assert_eq!(
        std::fs::read(matter_dir.join("manifest.json")).unwrap(),
        before
    );

    // A change is a new version; the report over it is a new entry with the added interaction.
    ok(&recaudit(
        dir,
        &["hold", "add", "SEC-2026-014", "--conversation", "not-held"],
    ));
    let changed = ok(&recaudit(
        dir,
        &["report", "--matter", "SEC-2026-014", "--run", &run],
    ));
    assert!(changed.contains("Sealed"), "{changed}");
    let changed_findings = json_file(&reports_dir(dir, &changed).join("findings.json"));
    assert_eq!(interactions(&changed_findings).len(), 4);

    let verify = recaudit(dir, &["ledger", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stdout));
}

#[test]
fn every_hold_change_is_sealed_and_checkable_with_sha256sum() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    night(dir);
    let first = ok(&recaudit(
        dir,
        &[
            "hold",
            "add",
            "M-1",
            "--name",
            "Doe v. Bank",
            "--number",
            "+13175550100",
        ],
    ));
    let released = ok(&recaudit(dir, &["hold", "release", "M-1"]));
    assert!(released.contains("version 2 (released)"), "{released}");
    let refused = recaudit(dir, &["hold", "release", "M-1"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("already released"));

    // Each version's hold.json hashes to the input record its ledger entry sealed.
    let export = dir.join("package");
    let exported = recaudit(
        dir,
        &["ledger", "export", "--out", export.to_str().unwrap()],
    );
    assert_eq!(
        exported.status.code(),
        Some(0),
        "{}",
        text(&exported.stderr)
    );
    for stdout in [&first, &released] {
        let hold_dir = reports_dir(dir, stdout);
        let document = std::fs::read(hold_dir.join("hold.json")).unwrap();
        let sha = hex::encode(Sha256::digest(&document));
        assert!(stdout.contains(&sha), "{stdout}");
        let entry = hold_dir.file_name().unwrap().to_str().unwrap().to_string();
        let inputs = find_run_file(&export, &entry, "inputs");
        assert!(inputs.contains("kind legal-hold\n"), "{inputs}");
        assert!(inputs.contains(&format!("sha256 {sha}\n")), "{inputs}");
        let manifest = std::fs::read(hold_dir.join("manifest.json")).unwrap();
        let record = find_run_file(&export, &entry, "run");
        assert!(
            record.contains(&format!(
                "reports-sha256 {}\n",
                hex::encode(Sha256::digest(&manifest))
            )),
            "{record}"
        );
    }
    // The auditor's own verifier accepts a package whose log holds hold entries.
    let python = std::process::Command::new("python3")
        .arg(export.join("verify.py"))
        .arg(&export)
        .output()
        .expect("python3");
    assert!(
        python.status.success(),
        "{}{}",
        text(&python.stdout),
        text(&python.stderr)
    );
    let show = ok(&recaudit(dir, &["hold", "show", "M-1"]));
    assert!(
        show.contains("version 1") && show.contains("version 2"),
        "{show}"
    );
    assert!(show.contains("State: released"), "{show}");
    let verify = recaudit(dir, &["ledger", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stdout));
}

#[test]
fn holds_refuse_what_they_cannot_seal_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    night(dir);
    for (args, says) in [
        (
            vec!["hold", "add", "../x", "--name", "n", "--user", "u"],
            "matter id",
        ),
        (vec!["hold", "add", "M-2", "--user", "u"], "--name"),
        (
            vec!["hold", "add", "M-2", "--name", "n"],
            "name what it preserves",
        ),
        (
            vec![
                "hold",
                "add",
                "M-2",
                "--name",
                "n",
                "--number",
                "317-555-0100",
            ],
            "E.164",
        ),
        (vec!["report", "--matter", "M-404"], "no legal hold M-404"),
    ] {
        let refused = recaudit(dir, &args);
        assert_eq!(refused.status.code(), Some(2), "{args:?}");
        assert!(
            text(&refused.stderr).contains(says),
            "{args:?}: {}",
            text(&refused.stderr)
        );
    }
    let list = ok(&recaudit(dir, &["hold", "list"]));
    assert!(
        list.contains("No legal holds"),
        "nothing was sealed: {list}"
    );
}

/// The text of `runs/<index>.<ext>` of the exported package whose run record names `entry`.
fn find_run_file(package: &Path, entry: &str, ext: &str) -> String {
    let runs = package.join("runs");
    for item in std::fs::read_dir(&runs).unwrap() {
        let path = item.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("run") {
            continue;
        }
        let record = std::fs::read_to_string(&path).unwrap();
        if record.contains(&format!("\nrun {entry}\n")) {
            return std::fs::read_to_string(path.with_extension(ext)).unwrap();
        }
    }
    panic!("no run record for {entry} in {}", runs.display());
}

/// `--check-protection`, through the library against the simulator over loopback: a
/// conversation Genesys Cloud protects is not flagged (nor its deletion date, which protection
/// overrides); an unprotected one is, naming when Genesys was asked; the answers are sealed as
/// the matter entry's inputs.
#[tokio::test]
async fn protection_asked_of_genesys_clears_the_protected_and_names_the_rest() {
    use recaudit::pipeline::hold::{self, HoldChange, HoldCriteria};
    use recaudit::simulator::{Faults, Mix, Org, SimClient, SimServer};
    use recaudit::source::genesys::{Credentials, PullConfig};

    let env = TestEnv::new().await;
    let soon = (chrono::Utc::now() + chrono::Duration::days(5))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    env.write_json(
        "details.json",
        &page(vec![answered_call("guarded"), answered_call("exposed")]),
    );
    env.write_json("rm/g.json", &json!([recording("rec-g", "guarded", &soon)]));
    env.write_json("rm/e.json", &json!([recording("rec-e", "exposed", &soon)]));
    env.import().await;
    let run = env
        .audit_with(&Default::default(), "2026-07-20T00:00:00Z")
        .await;
    let criteria = HoldCriteria {
        users: ["user-dana".to_string()].into(),
        ..Default::default()
    };
    let change = HoldChange {
        matter: "M-P".into(),
        name: Some("Protected v. Exposed".into()),
        add: criteria,
    };
    hold::add_hold(&env.store, &env.ledger, change, &env.reports())
        .await
        .unwrap();

    let mut org = Org::generate(
        1,
        3,
        recaudit::time::Timestamp::parse("2026-07-14T00:00:00Z").unwrap(),
        &Mix::default(),
    );
    org.protect(["guarded".to_string()]);
    let server = SimServer::start(
        org,
        Faults::default(),
        SimClient::default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let client = SimClient::default();
    let config = PullConfig::new(
        server.base_url(),
        server.base_url(),
        Credentials::new(client.id, client.secret),
    );
    let request = hold::MatterRequest {
        matter: "M-P",
        audit_run: Some(&run.run.run_id),
        warn_days: 30,
        reports_dir: &env.reports(),
        only: &[],
        protection: Some(&config),
    };
    let outcome = hold::matter_report(&env.store, &env.ledger, request)
        .await
        .unwrap();
    assert!(outcome.sealed_now);
    let findings = json_file(&outcome.dir.join("findings.json"));
    let flags = findings["matter"]["flags"].as_array().unwrap();
    let of = |recording: &str| -> Vec<&str> {
        flags
            .iter()
            .filter(|f| f["recording"] == recording)
            .map(|f| f["kind"].as_str().unwrap())
            .collect()
    };
    assert_eq!(of("rec-g"), Vec::<&str>::new(), "protected: {flags:?}");
    assert_eq!(of("rec-e"), ["deletion-near", "not-protected"], "{flags:?}");
    let exposed = flags.iter().find(|f| f["kind"] == "not-protected").unwrap();
    assert!(
        exposed["detail"]
            .as_str()
            .unwrap()
            .contains("deletion protection, asked at"),
        "{exposed}"
    );
    assert_eq!(findings["matter"]["protected"], json!(["guarded"]));
    let inputs = env.store.run_input_ids(&outcome.entry).await.unwrap();
    assert_eq!(
        inputs.len(),
        2,
        "the snapshot and the one protection answer"
    );
    drop(server);
}
