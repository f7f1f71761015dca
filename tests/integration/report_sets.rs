//! Report sets are versioned with the run: a run sealed before report sets existed (report
//! set 1, a database written by an older recaudit, committed under tests/fixtures) still
//! regenerates its reports byte for byte after the database is migrated, and a run of the
//! current set lists every file, with its SHA-256, in its manifest.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::support::{SIM_FAST_RATE, binary, repo, text};

const OLD_RUN: &str = "20261202-164100-1";

fn recaudit(dir: &Path, db: &Path, args: &[&str]) -> std::process::Output {
    binary(dir)
        .arg("--db")
        .arg(format!("sqlite://{}", db.display()))
        .arg("--reports-dir")
        .arg(dir.join("reports"))
        .args(args)
        .output()
        .expect("run recaudit")
}

#[test]
fn a_run_of_report_set_1_regenerates_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = repo("tests/fixtures/report-set-1");
    let db = dir.path().join("old.db");
    std::fs::copy(fixture.join("recaudit.db"), &db).unwrap();

    let report = recaudit(dir.path(), &db, &["report", "--run", OLD_RUN]);
    assert_eq!(report.status.code(), Some(0), "{}", text(&report.stderr));
    let written = dir.path().join("reports").join(OLD_RUN);
    let mut names: Vec<String> = std::fs::read_dir(&written)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "findings.csv",
            "findings.json",
            "manifest.json",
            "summary.md"
        ],
        "report set 1 has exactly its four files"
    );
    for name in &names {
        assert_eq!(
            std::fs::read(written.join(name)).unwrap(),
            std::fs::read(fixture.join(OLD_RUN).join(name)).unwrap(),
            "{name} differs from what the older recaudit wrote"
        );
    }
    // A file report set 1 never had is named, not silently skipped.
    let html = recaudit(
        dir.path(),
        &db,
        &["report", "--run", OLD_RUN, "--format", "html"],
    );
    assert_eq!(html.status.code(), Some(2));
    assert!(
        text(&html.stderr).contains("have no report.html"),
        "{}",
        text(&html.stderr)
    );
    // Asking for the newest run picks the same one.
    let newest = recaudit(dir.path(), &db, &["report"]);
    assert_eq!(newest.status.code(), Some(0), "{}", text(&newest.stderr));
    assert!(text(&newest.stdout).contains(OLD_RUN));
}

/// The three ledger entries of the report-set-2 fixture: an audit run, a hold version, a
/// matter report.
const SET_2_ENTRIES: [&str; 3] = [
    "20261202-171902-1",
    "20261202-171902-2",
    "20261202-171902-3",
];

#[test]
fn runs_of_report_set_2_regenerate_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = repo("tests/fixtures/report-set-2");
    let db = dir.path().join("set2.db");
    std::fs::copy(fixture.join("recaudit.db"), &db).unwrap();
    for entry in SET_2_ENTRIES {
        let report = recaudit(dir.path(), &db, &["report", "--run", entry]);
        assert_eq!(
            report.status.code(),
            Some(0),
            "{entry}: {}",
            text(&report.stderr)
        );
        let sealed = fixture.join(entry);
        let mut names: Vec<String> = std::fs::read_dir(&sealed)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let mut written: Vec<String> = std::fs::read_dir(dir.path().join("reports").join(entry))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        written.sort();
        assert_eq!(written, names, "{entry}");
        for name in &names {
            assert_eq!(
                std::fs::read(dir.path().join("reports").join(entry).join(name)).unwrap(),
                std::fs::read(sealed.join(name)).unwrap(),
                "{entry}/{name} differs from what was sealed"
            );
        }
    }
}

#[test]
fn a_run_of_the_current_set_lists_every_file_in_its_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let demo = binary(dir.path())
        .args([
            "demo",
            "--conversations",
            "30",
            "--date",
            "2026-07-14",
            "--rate-limit",
            SIM_FAST_RATE,
        ])
        .output()
        .unwrap();
    assert_eq!(demo.status.code(), Some(1), "{}", text(&demo.stderr));
    let reports = dir.path().join("reports-demo");
    let run_dir = std::fs::read_dir(&reports)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["report_set"], 2);
    let mut listed: Vec<String> = Vec::new();
    for entry in manifest["files"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        let bytes = std::fs::read(run_dir.join(name)).unwrap();
        assert_eq!(
            entry["sha256"],
            hex::encode(Sha256::digest(&bytes)),
            "{name}"
        );
        assert_eq!(entry["bytes"], bytes.len(), "{name}");
        listed.push(name.to_string());
    }
    for name in [
        "certificate.txt",
        "findings.csv",
        "findings.dat",
        "findings.json",
        "report.html",
        "summary.md",
    ] {
        assert!(
            listed.iter().any(|l| l == name),
            "{name} is not in the manifest: {listed:?}"
        );
    }
    // Beside them, outside the manifest: the signed checkpoint that seals the run.
    let note = std::fs::read_to_string(run_dir.join("checkpoint.note")).unwrap();
    assert!(
        note.starts_with("recaudit.local/recaudit-demo\n1\n"),
        "{note}"
    );
}
