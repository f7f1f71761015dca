//! `recaudit schedule`: fires, one run at a time, signals, missed fires, daylight saving.
//!
//! The binary is run with the hidden `--exec PROGRAM` (here `sh -c SCRIPT`) in place of
//! `recaudit run`, every two seconds (`*/2 * * * * *`). Its log goes to a file the tests poll;
//! every wait polls a condition under a generous deadline, and no test asserts a duration.

use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use recaudit::pipeline::night::NightStatus;
use recaudit::scheduler::{RunExit, Schedule};
use recaudit::time::Timestamp;

use crate::support::*;

pub const EVERY_TWO_SECONDS: &str = "*/2 * * * * *";

/// `recaudit ARGS` started in `dir`, its stderr written to `dir/schedule.log`.
pub fn start(dir: &Path, args: &[&str]) -> (Child, PathBuf) {
    let log = dir.join("schedule.log");
    let file = std::fs::File::create(&log).expect("log file");
    let child = binary(dir)
        .env_remove("RECAUDIT_LOG_FORMAT")
        .env_remove("NO_COLOR")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("start recaudit schedule");
    (child, log)
}

/// `schedule --cron EXPR --exec sh -- -c SCRIPT`, with the state file in `dir`.
pub fn schedule_sh(dir: &Path, cron: &str, script: &str, extra: &[&str]) -> (Child, PathBuf) {
    let state = dir.join("state.json");
    let mut args = vec!["schedule", "--cron", cron, "--state"];
    args.push(state.to_str().expect("utf-8 temp dir"));
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--exec", "sh", "--", "-c", script]);
    start(dir, &args)
}

/// Polls `condition` every 50 ms until it holds or `seconds` pass.
pub fn wait_until(seconds: u64, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    condition()
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Waits until `log` holds `needle`, or fails the test with the log.
pub fn wait_for_log(log: &Path, needle: &str, seconds: u64) {
    assert!(
        wait_until(seconds, || read(log).contains(needle)),
        "no `{needle}` within {seconds} s; log:\n{}",
        read(log)
    );
}

/// Sends `signal` to the process.
pub fn send(child: &Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: kill(2) takes plain integers; `pid` is our unreaped child.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

/// Waits (polling, under a deadline) for the process to exit; kills it and fails otherwise.
pub fn exit_within(child: &mut Child, seconds: u64, log: &Path) -> ExitStatus {
    let mut status = None;
    wait_until(seconds, || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    match status {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "still running {seconds} s after the signal; log:\n{}",
                read(log)
            )
        }
    }
}

#[test]
fn fires_on_schedule_and_logs_each_run_and_the_next_fire() {
    let dir = tempfile::tempdir().unwrap();
    let fired = dir.path().join("fired");
    let script = format!("echo fired >> '{}'; sleep 1", fired.display());
    let (mut child, log) = schedule_sh(dir.path(), EVERY_TWO_SECONDS, &script, &[]);
    let twice = wait_until(20, || read(&fired).lines().count() >= 2);
    send(&child, libc::SIGTERM);
    let status = exit_within(&mut child, 15, &log);
    let said = read(&log);
    assert!(twice, "fewer than two fires within 20 s; log:\n{said}");
    assert_eq!(status.code(), Some(143), "{said}");
    assert!(said.contains("fire: run started"), "{said}");
    assert!(said.contains("run ended: exit 0: no exceptions"), "{said}");
    assert!(said.contains("next fire"), "{said}");
    assert!(said.contains("schedule stopped by SIGTERM"), "{said}");
    // The state file records the last fire served.
    let state = read(&dir.path().join("state.json"));
    assert!(state.contains("last_fire"), "{state}");
}

/// A run that outlives the next fire: the fire is skipped and logged; SIGTERM is forwarded to
/// the run, whose trap finishes its step; the scheduler exits 143 only after the run ended.
#[test]
fn skips_a_fire_while_a_run_runs_and_forwards_sigterm_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let (started, marker) = (dir.path().join("started"), dir.path().join("marker"));
    let script = format!(
        "trap 'echo term >> \"{m}\"; sleep 1; echo done >> \"{m}\"; kill $s 2>/dev/null; exit 0' TERM; echo started >> '{s}'; sleep 8 & s=$!; wait $s",
        m = marker.display(),
        s = started.display()
    );
    let (mut child, log) = schedule_sh(dir.path(), EVERY_TWO_SECONDS, &script, &[]);
    wait_for_log(&log, "fire skipped: the previous run is still running", 20);
    send(&child, libc::SIGTERM);
    let status = exit_within(&mut child, 15, &log);
    let said = read(&log);
    assert_eq!(status.code(), Some(143), "{said}");
    // The run got the signal, and had finished its step before the scheduler exited.
    assert_eq!(read(&marker), "term\ndone\n", "{said}");
    assert_eq!(
        read(&started).lines().count(),
        1,
        "one run at a time: {said}"
    );
    assert!(said.contains("SIGTERM: forwarded to the run"), "{said}");
    assert!(said.contains("run ended: exit 0"), "{said}");
}

#[test]
fn sigterm_when_idle_exits_at_once_and_sigint_says_130() {
    for (signal, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let dir = tempfile::tempdir().unwrap();
        // Midnight on the first of January: no fire during the test.
        let (mut child, log) = schedule_sh(dir.path(), "0 0 1 1 *", "true", &[]);
        wait_for_log(&log, "next fire", 20);
        send(&child, signal);
        let status = exit_within(&mut child, 10, &log);
        let said = read(&log);
        assert_eq!(status.code(), Some(code), "{said}");
        assert!(said.contains("0 runs started"), "{said}");
    }
}

/// Invalid expressions and zones are usage errors (exit 2) that name what was given.
#[test]
fn refuses_an_invalid_cron_expression_or_zone() {
    let dir = tempfile::tempdir().unwrap();
    for (args, named) in [
        (vec!["--cron", "61 * * * *"], "\"61 * * * *\""),
        (vec!["--cron", "every night"], "\"every night\""),
        (vec!["--cron", "0 0 31 2 *"], "never fires"),
        (
            vec!["--cron", "0 2 * * *", "--tz", "Europe/Lundon"],
            "Europe/Lundon",
        ),
    ] {
        let output = binary(dir.path())
            .arg("schedule")
            .args(&args)
            .args(["--exec", "true"])
            .output()
            .expect("run");
        let said = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {said}");
        assert!(said.contains(named), "{args:?}: {said}");
    }
}

/// A fire that passed while the scheduler was down: one run at once with --catch-up, none
/// without (logged as missed), none when the state shows the fire was served.
#[test]
fn catch_up_runs_once_for_a_missed_fire() {
    for (last_fire, catch_up, runs) in [
        ("2020-01-01T00:00:00.000Z", true, 1),
        ("2020-01-01T00:00:00.000Z", false, 0),
        ("2099-01-01T00:00:00.000Z", true, 0),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        std::fs::write(&state, format!("{{\"last_fire\":\"{last_fire}\"}}\n")).unwrap();
        let fired = dir.path().join("fired");
        let script = format!("echo fired >> '{}'", fired.display());
        let extra: &[&str] = if catch_up { &["--catch-up"] } else { &[] };
        let (mut child, log) = schedule_sh(dir.path(), "0 0 * * *", &script, extra);
        let expected = if runs == 1 {
            "run ended: exit 0"
        } else {
            "next fire"
        };
        wait_for_log(&log, expected, 20);
        send(&child, libc::SIGTERM);
        let status = exit_within(&mut child, 10, &log);
        let said = read(&log);
        assert_eq!(status.code(), Some(143), "{said}");
        assert_eq!(
            read(&fired).lines().count(),
            runs,
            "{last_fire} {catch_up}: {said}"
        );
        if runs == 1 {
            // The missed fire is recorded as served: a restart does not catch up again.
            assert!(!read(&state).contains(last_fire), "{said}");
        }
        if last_fire.starts_with("2020") && !catch_up {
            assert!(said.contains("--catch-up would run it now"), "{said}");
        }
    }
}

/// Every fire of `schedule` in [from, to).
fn fires(schedule: &Schedule, from: &str, to: &str) -> Vec<String> {
    let (mut at, to) = (ts(from), ts(to));
    let mut all = Vec::new();
    loop {
        at = schedule.next_after(at).expect("next fire");
        if at >= to {
            return all;
        }
        all.push(at.to_string());
    }
}

/// 01:30 in Europe/London on the day clocks go forward (01:00 GMT -> 02:00 BST, so 01:30 does
/// not exist) fires once, at 02:00 BST; on the day they go back (02:00 BST -> 01:00 GMT, so
/// 01:30 happens twice) it fires once, at the first 01:30 (BST). Never zero, never twice.
#[test]
fn daylight_saving_days_fire_once() {
    let schedule = Schedule::parse("30 1 * * *", "Europe/London").unwrap();
    assert_eq!(
        fires(&schedule, "2026-03-28T00:00:00Z", "2026-03-31T00:00:00Z"),
        [
            "2026-03-28T01:30:00.000Z", // 01:30 GMT
            "2026-03-29T01:00:00.000Z", // 02:00 BST, just after the gap
            "2026-03-30T00:30:00.000Z", // 01:30 BST
        ]
    );
    assert_eq!(
        fires(&schedule, "2026-10-24T00:00:00Z", "2026-10-27T00:00:00Z"),
        [
            "2026-10-24T00:30:00.000Z", // 01:30 BST
            "2026-10-25T00:30:00.000Z", // the first 01:30 (BST), not the second (GMT)
            "2026-10-26T01:30:00.000Z", // 01:30 GMT
        ]
    );
    assert_eq!(
        schedule.wall_clock(ts("2026-03-29T01:00:00Z")),
        "2026-03-29 02:00:00 BST"
    );
    // In UTC the same expression is plain 01:30 UTC.
    let utc = Schedule::parse("30 1 * * *", "UTC").unwrap();
    assert_eq!(
        fires(&utc, "2026-03-29T00:00:00Z", "2026-03-30T00:00:00Z"),
        ["2026-03-29T01:30:00.000Z"]
    );
    // The last fire at or before an instant, which --catch-up compares with the state.
    assert_eq!(
        schedule.last_at_or_before(ts("2026-10-25T12:00:00Z")),
        Some(ts("2026-10-25T00:30:00Z"))
    );
    assert!(schedule.next_after(Timestamp::now()).is_ok());
}

#[test]
fn exit_statuses_of_run_are_named() {
    assert_eq!(RunExit::of_code(0), RunExit::Run(NightStatus::Clean));
    assert_eq!(RunExit::of_code(6), RunExit::Run(NightStatus::Locked));
    assert_eq!(RunExit::of_code(143), RunExit::Terminated);
    assert_eq!(RunExit::of_code(9), RunExit::Undocumented(9));
    for code in [0, 1, 2, 3, 4, 5, 6, 7, 130, 143, 9] {
        let exit = RunExit::of_code(code);
        assert_eq!(exit.code(), Some(code));
        assert!(exit.meaning().starts_with(&format!("exit {code}:")));
    }
}

/// Without `--exec`, a fire runs this binary's `run` with the global options given to
/// `schedule` (before `run`) and the arguments after `--`.
#[test]
fn a_fire_runs_recaudit_run_with_the_global_options() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestEnv::url_in(dir.path());
    let state = dir.path().join("state.json");
    let (mut child, log) = start(
        dir.path(),
        &[
            "--db",
            &db,
            "-v",
            "schedule",
            "--cron",
            EVERY_TWO_SECONDS,
            "--state",
            state.to_str().unwrap(),
            "--",
            "--help",
        ],
    );
    wait_for_log(&log, "run ended: exit", 20);
    send(&child, libc::SIGTERM);
    let status = exit_within(&mut child, 15, &log);
    let said = read(&log);
    assert_eq!(status.code(), Some(143), "{said}");
    let expected = format!(
        "command={} --db {db} -v run --help",
        env!("CARGO_BIN_EXE_recaudit")
    );
    assert!(said.contains(&expected), "{expected}\n{said}");
}
