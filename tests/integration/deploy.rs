//! The deployment examples of `examples/deploy/` (docs/OPERATIONS.md): the systemd units pass
//! `systemd-analyze verify` where it is installed, and every example names the exit statuses
//! it acts on.

use std::process::Command;

use crate::support::repo;

/// `systemd-analyze verify` on the service and timer, with ExecStart= pointing at the binary
/// under test (verify insists the command exists). Skipped without systemd-analyze.
#[test]
fn systemd_units_verify() {
    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed: skipping the units' check");
        return;
    };
    assert!(version.status.success());
    let dir = tempfile::tempdir().unwrap();
    for name in ["recaudit.service", "recaudit.timer"] {
        let text = std::fs::read_to_string(repo("examples/deploy").join(name)).unwrap();
        let text = text.replace("/usr/local/bin/recaudit", env!("CARGO_BIN_EXE_recaudit"));
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.path().join("recaudit.service"))
        .arg(dir.path().join("recaudit.timer"))
        .output()
        .expect("systemd-analyze verify");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    assert!(
        !said.contains(".service:") && !said.contains(".timer:"),
        "{said}"
    );
}

/// The statuses each example's configuration acts on, as docs/OPERATIONS.md's table says.
#[test]
fn examples_act_on_the_documented_exit_statuses() {
    let read = |name: &str| std::fs::read_to_string(repo("examples/deploy").join(name)).unwrap();
    let service = read("recaudit.service");
    assert!(service.contains("\nSuccessExitStatus=1 130 143\n"));
    assert!(service.contains("\nRestartPreventExitStatus=2 4 5 6\n"));
    let cronjob = read("cronjob.yaml");
    assert!(cronjob.contains("values: [1, 2, 4, 5, 6]"));
    assert!(cronjob.contains("concurrencyPolicy: Forbid"));
    assert!(cronjob.contains("restartPolicy: Never"));
    assert!(read("crontab").contains("[ \"$s\" -le 1 ]"));
    let operations = std::fs::read_to_string(repo("docs/OPERATIONS.md")).unwrap();
    for status in [
        "| 0 |",
        "| 1 |",
        "| 2 |",
        "| 3 |",
        "| 4 |",
        "| 5 |",
        "| 6 |",
        "| 7 |",
        "| 130, 143 |",
    ] {
        assert!(
            operations.contains(status),
            "docs/OPERATIONS.md lacks {status}"
        );
    }
}
