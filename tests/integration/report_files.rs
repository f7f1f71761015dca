//! Report set 2 as the real binary writes it (`recaudit demo`), read the way its readers read
//! it: the DAT by a loader's rules, the CSV by a CSV parser, the certificate by an auditor who
//! runs its verification steps against the audit package with standard tools.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::*;

/// The demo in `dir`; returns the directory of its run's reports.
fn demo(dir: &Path) -> PathBuf {
    let demo = binary(dir)
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
        .expect("run recaudit demo");
    assert_eq!(demo.status.code(), Some(1), "{}", text(&demo.stderr));
    let runs: Vec<PathBuf> = std::fs::read_dir(dir.join("reports-demo"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs.into_iter().next().unwrap()
}

fn findings_json(reports: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(reports.join("findings.json")).unwrap()).unwrap()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// A DAT reader written from the convention alone (not recaudit's own): BOM, CRLF rows,
/// fields split on ASCII 20, each between þ qualifiers, ® for a newline.
fn read_dat(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(bytes).unwrap();
    let text = text.strip_prefix('\u{FEFF}').expect("a BOM");
    let body = text.strip_suffix("\r\n").expect("a final CRLF");
    body.split("\r\n")
        .map(|row| {
            row.split('\u{14}')
                .map(|field| {
                    let inner = field
                        .strip_prefix('þ')
                        .and_then(|f| f.strip_suffix('þ'))
                        .unwrap_or_else(|| panic!("unqualified field {field:?}"));
                    assert!(!inner.contains('þ') && !inner.contains('\n'), "{inner:?}");
                    inner.replace('®', "\n")
                })
                .collect()
        })
        .collect()
}

fn split_list(text: &str) -> Vec<String> {
    if text.is_empty() {
        Vec::new()
    } else {
        text.split("; ").map(str::to_string).collect()
    }
}

#[test]
fn the_dat_and_the_csv_hold_the_rows_of_findings_json() {
    let dir = tempfile::tempdir().unwrap();
    let reports = demo(dir.path());

    // Set 2 regenerates byte for byte from the sealed run (no clock, fixed order).
    let run = reports.file_name().unwrap().to_str().unwrap().to_string();
    let again = binary(dir.path())
        .args(["--db", "sqlite://recaudit-demo.db", "report", "--run", &run])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    let regenerated = dir.path().join("reports").join(&run);
    for entry in std::fs::read_dir(&reports).unwrap() {
        let name = entry.unwrap().file_name();
        assert_eq!(
            std::fs::read(reports.join(&name)).unwrap(),
            std::fs::read(regenerated.join(&name)).unwrap(),
            "{name:?}"
        );
    }
    let json = findings_json(&reports);
    assert_eq!(json["report_set"], 2);
    let findings = json["findings"].as_array().unwrap();
    assert!(!findings.is_empty());

    let dat = read_dat(&std::fs::read(reports.join("findings.dat")).unwrap());
    let header = &dat[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(dat.len(), findings.len() + 1);
    let by_id = |id: &str| {
        findings
            .iter()
            .find(|f| f["interaction"] == id)
            .unwrap_or_else(|| panic!("{id} is not in findings.json"))
    };
    for row in &dat[1..] {
        let f = by_id(&row[col("CONVERSATIONID")]);
        assert_eq!(row.len(), header.len());
        assert_eq!(row[col("BEGDOC")], row[col("ENDDOC")]);
        assert_eq!(
            row[col("CONVERSATIONID")],
            f["interaction"].as_str().unwrap()
        );
        assert_eq!(row[col("STATUS")], f["status"].as_str().unwrap());
        assert_eq!(split_list(&row[col("REASONS")]), strings(&f["reasons"]));
        assert_eq!(split_list(&row[col("SHA256")]), strings(&f["media_sha256"]));
        let ids = split_list(&row[col("RECORDINGIDS")]);
        for id in strings(&f["recordings"]) {
            assert!(ids.contains(&id), "{id} not in {ids:?}");
        }
        assert_eq!(row[col("DETAIL")], f["detail"].as_str().unwrap());
    }

    let bytes = std::fs::read(reports.join("findings.csv")).unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "the CSV starts with a BOM"
    );
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), findings.len(), "one row per finding");
    let rank = |status: &str| {
        [
            "exception",
            "pending",
            "complete",
            "excluded",
            "not-required",
        ]
        .iter()
        .position(|s| *s == status)
        .unwrap()
    };
    let keys: Vec<(usize, String)> = rows
        .iter()
        .map(|r| {
            (
                rank(&r[column("status")]),
                r[column("started_utc")].to_string(),
            )
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "status then time");
    for row in &rows {
        let f = by_id(&row[column("interaction")]);
        assert_eq!(&row[column("status")], f["status"].as_str().unwrap());
        assert_eq!(
            row[column("started_utc")].len(),
            "2026-07-14 10:00:00".len()
        );
    }
    let mut ids: Vec<&str> = rows.iter().map(|r| &r[column("interaction")]).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), findings.len(), "each finding once");
}

#[test]
fn the_manifest_lists_every_file_and_the_certificate_s_steps_verify() {
    let dir = tempfile::tempdir().unwrap();
    let reports = demo(dir.path());

    let manifest: Value =
        serde_json::from_slice(&std::fs::read(reports.join("manifest.json")).unwrap()).unwrap();
    let mut listed: Vec<String> = Vec::new();
    for entry in manifest["files"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        let bytes = std::fs::read(reports.join(name)).unwrap();
        assert_eq!(
            entry["sha256"],
            hex::encode(Sha256::digest(&bytes)),
            "{name}"
        );
        assert_eq!(entry["bytes"], bytes.len(), "{name}");
        listed.push(name.to_string());
    }
    let mut present: Vec<String> = std::fs::read_dir(&reports)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        // The manifest does not list itself, nor the checkpoint that signs its hash.
        .filter(|n| n != "manifest.json" && n != "checkpoint.note")
        .collect();
    present.sort();
    assert_eq!(
        listed, present,
        "every file but the manifest and checkpoint is listed"
    );

    let certificate = std::fs::read_to_string(reports.join("certificate.txt")).unwrap();
    let json = findings_json(&reports);
    for f in json["findings"].as_array().unwrap() {
        if f["status"] == "exception" {
            let id = f["interaction"].as_str().unwrap();
            assert!(
                certificate.contains(&format!(
                    "No complete recording exists for interaction {id} because: "
                )),
                "{id} is not itemized"
            );
        }
    }

    let package = dir.path().join("package");
    let export = binary(dir.path())
        .args([
            "--db",
            "sqlite://recaudit-demo.db",
            "ledger",
            "export",
            "--out",
        ])
        .arg(&package)
        .output()
        .unwrap();
    assert_eq!(export.status.code(), Some(0), "{}", text(&export.stderr));
    let steps = certificate_steps_pass(&certificate, &package, &reports);

    // The steps must fail on a certificate that is not the sealed one.
    std::fs::write(reports.join("certificate.txt"), format!("{certificate} ")).unwrap();
    let first = std::process::Command::new("sh")
        .args(["-c", &steps[0]])
        .current_dir(&reports)
        .status()
        .unwrap();
    assert!(
        !first.success(),
        "a changed certificate passes {}",
        steps[0]
    );
}
