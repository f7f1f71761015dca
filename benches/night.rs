//! Night benchmark: what a night of N conversations costs through the real binary, on embedded
//! SQLite, beside baselines measured in the same run.
//!
//! Run: `cargo bench --bench night` (N = 10,000 and 100,000, then a 31st night of 10,000 on
//! top of 30), `cargo bench --bench night -- --full` (also N = 1,000,000; about an hour and
//! 30 GB of scratch space), `-- --sizes 5000,20000 --history 10 --history-size 2000` for
//! other shapes. Scratch files go under `$RECAUDIT_BENCH_DIR` (default the system temp folder)
//! and are removed.
//!
//! For each N it runs, each as a child process of the release binary: `sim export` (the
//! generator: the export tree and the details NDJSON), `import` of both, `audit` (which seals
//! the run into the ledger and writes its reports), `report` (regenerated from the database)
//! and `ledger verify`, and prints wall time, conversations per second and the child's peak
//! resident memory (`wait4`'s `ru_maxrss`), and the database's bytes per conversation.
//! Baselines, in the same run: `sqlite3 .import` of a CSV of as many rows as the night stored
//! (every table counted) and as many bytes as its JSON inputs, into a table without keys and
//! into one whose first column (a random UUID, as conversation ids are) is the primary key;
//! and `openssl dgst -sha256` over every file the import hashed. Our times are printed as
//! ratios to them: those are what to compare between machines, whose wall clocks differ.
//! The history part runs `--history` nights one after the other into one database and prints
//! the last night's import and audit as ratios to the first's (flat cost: near 1), then
//! `ledger verify` over every night, in full and `--since` the checkpoint of the night before
//! the last, as ratios to the verify after the first night.
//! The pull part pulls a night from the simulator over loopback and prints requests per
//! conversation and the hours a 1,000,000-conversation night needs at 300 requests a minute.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use recaudit::simulator::{Faults, Mix, Org, SimClient, SimServer};
use recaudit::source::genesys::{self, Credentials, PullConfig};
use recaudit::store::Store;
use recaudit::time::Timestamp;

const BIN: &str = env!("CARGO_BIN_EXE_recaudit");

struct Options {
    sizes: Vec<usize>,
    history: usize,
    history_size: usize,
    pull_size: usize,
}

fn options() -> Options {
    let mut options = Options {
        sizes: vec![10_000, 100_000],
        history: 31,
        history_size: 10_000,
        pull_size: 10_000,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        let number = || value.replace('_', "").parse::<usize>().ok();
        match args[i].as_str() {
            "--full" => {
                options.sizes.push(1_000_000);
                i += 1;
                continue;
            }
            "--sizes" => {
                options.sizes = value
                    .split(',')
                    .filter_map(|n| n.replace('_', "").parse().ok())
                    .filter(|n: &usize| *n > 0)
                    .collect()
            }
            "--history" => options.history = number().unwrap_or(options.history),
            "--history-size" => options.history_size = number().unwrap_or(options.history_size),
            "--pull-size" => options.pull_size = number().unwrap_or(options.pull_size),
            // `cargo bench` passes `--bench`; anything else unknown is ignored the same way.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    options
}

/// One child process's wall time and peak resident memory.
#[derive(Clone, Copy)]
struct Measured {
    seconds: f64,
    peak_kib: u64,
}

/// Runs `command` to its end; its wall time and peak RSS (from `wait4`, the child's own).
/// Exit codes 0 and 1 (exceptions found) are success for our commands.
fn measure(command: &mut Command, what: &str) -> Measured {
    let started = Instant::now();
    // The child is reaped by the wait4 loop below, which alone also yields its rusage;
    // `Child::wait` would reap it without one.
    #[expect(clippy::zombie_processes, reason = "reaped by libc::wait4 below")]
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let pid = child.id() as libc::pid_t;
    let stderr = child.stderr;
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut stderr) = stderr {
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        }
        text
    });
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for the child we spawned and have not
    // waited for (the `Child` is not waited on, so the pid is still ours).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // The peak is the child's own VmHWM, polled while it runs: its ru_maxrss alone would not
    // do, as Linux folds the parent's peak into it at exec. ru_maxrss counts when it is above
    // this process's own peak, as then it can only be the child's (its last moments included).
    let proc_status = format!("/proc/{pid}/status");
    let mut polled = 0;
    loop {
        if let Some(peak) = std::fs::read_to_string(&proc_status)
            .ok()
            .as_deref()
            .and_then(vm_hwm_kib)
        {
            polled = polled.max(peak);
        }
        let waited = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if waited == pid {
            break;
        }
        assert_eq!(waited, 0, "{what}: wait4 failed");
        std::thread::sleep(Duration::from_millis(5));
    }
    let seconds = started.elapsed().as_secs_f64();
    let stderr = reader.join().unwrap_or_default();
    let own = std::fs::read_to_string("/proc/self/status")
        .ok()
        .as_deref()
        .and_then(vm_hwm_kib)
        .unwrap_or(u64::MAX);
    let maxrss = usage.ru_maxrss as u64;
    let peak_kib = if maxrss > own {
        polled.max(maxrss)
    } else {
        polled
    };
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    assert!(
        code == 0 || code == 1,
        "{what}: exit {code}\n{}",
        stderr.lines().rev().take(20).collect::<Vec<_>>().join("\n")
    );
    Measured { seconds, peak_kib }
}

/// `VmHWM` (peak resident memory, KiB) of a `/proc/<pid>/status`.
fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn recaudit(db: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .arg("--db")
        .arg(format!("sqlite://{}", db.display()))
        .env("RUST_LOG", "warn");
    command
}

fn date(night: usize) -> String {
    let day = Timestamp::parse("2026-01-01T00:00:00Z")
        .expect("day")
        .plus_millis(night as i64 * 86_400_000);
    day.to_string()[..10].to_string()
}

fn next_date(night: usize) -> String {
    date(night + 1)
}

/// Generates night `night` of `n` conversations into `dir` (tree and details).
fn generate(dir: &Path, night: usize, n: usize) -> Measured {
    measure(
        Command::new(BIN)
            .arg("sim")
            .arg("export")
            .arg("--out")
            .arg(dir.join("tree"))
            .arg("--details")
            .arg(dir.join("details.ndjson"))
            .arg("--conversations")
            .arg(n.to_string())
            .arg("--seed")
            .arg((night + 1).to_string())
            .arg("--date")
            .arg(date(night)),
        "sim export",
    )
}

struct NightCost {
    import: Measured,
    audit: Measured,
}

fn import_and_audit(dir: &Path, db: &Path, night: usize) -> NightCost {
    let import = measure(
        recaudit(db)
            .arg("import")
            .arg(dir.join("tree"))
            .arg(dir.join("details.ndjson")),
        "import",
    );
    let audit = measure(
        recaudit(db)
            .arg("--reports-dir")
            .arg(dir.join("reports"))
            .arg("audit")
            .arg("--from")
            .arg(date(night))
            .arg("--to")
            .arg(next_date(night))
            .arg("--as-of")
            .arg("2027-01-01T00:00:00Z"),
        "audit",
    );
    NightCost { import, audit }
}

fn database_bytes(db: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", db.display())).ok())
        .map(|m| m.len())
        .sum()
}

fn sqlite3(db: &Path, script: &str) -> String {
    let output = Command::new("sqlite3")
        .arg(db)
        .arg(script)
        .output()
        .expect("sqlite3 (package sqlite3) is needed for the baselines");
    assert!(
        output.status.success(),
        "sqlite3: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Rows in every table of the database.
fn stored_rows(db: &Path) -> u64 {
    let tables = sqlite3(
        db,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
    );
    let counts: Vec<String> = tables
        .lines()
        .map(|t| format!("(SELECT COUNT(*) FROM \"{t}\")"))
        .collect();
    sqlite3(db, &format!("SELECT {}", counts.join(" + ")))
        .trim()
        .parse()
        .expect("row count")
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Bytes of the JSON inputs (details and sidecars) and of every file.
fn input_bytes(files: &[PathBuf]) -> (u64, u64) {
    let mut json = 0;
    let mut all = 0;
    for file in files {
        let len = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        all += len;
        if file
            .extension()
            .is_some_and(|e| e == "json" || e == "ndjson")
        {
            json += len;
        }
    }
    (json, all)
}

/// A CSV of `rows` rows and about `bytes` bytes: a random UUID key, a conversation UUID and
/// filler, written by a cheap generator (not timed).
fn write_csv(path: &Path, rows: u64, bytes: u64) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("csv"));
    let filler = (bytes / rows.max(1)).saturating_sub(76).clamp(1, 4096) as usize;
    let pad = "x".repeat(filler);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..rows {
        let (a, b, c) = (next(), next(), next());
        writeln!(
            out,
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x},{:08x}-0000-4000-8000-{:012x},{pad}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            b & 0xfff,
            b >> 16,
            c >> 32,
            c & 0xffff_ffff_ffff
        )
        .expect("csv write");
    }
    out.flush().expect("csv flush");
}

fn baseline_import(dir: &Path, csv: &Path, keyed: bool) -> Measured {
    let db = dir.join(if keyed { "keyed.db" } else { "plain.db" });
    let _ = std::fs::remove_file(&db);
    let key = if keyed { " PRIMARY KEY" } else { "" };
    let measured = measure(
        Command::new("sqlite3")
            .arg(&db)
            .arg(format!(
                "CREATE TABLE t (id TEXT{key}, conversation TEXT, body TEXT)"
            ))
            .arg(format!(".import --csv {} t", csv.display())),
        "sqlite3 .import",
    );
    let imported = sqlite3(&db, "SELECT COUNT(*) FROM t");
    assert!(
        imported.trim().parse::<u64>().is_ok_and(|n| n > 0),
        "sqlite3 .import imported no rows"
    );
    let _ = std::fs::remove_file(&db);
    measured
}

fn baseline_hash(files: &[PathBuf]) -> Measured {
    let started = Instant::now();
    let mut peak = 0;
    for batch in files.chunks(2_000) {
        let m = measure(
            Command::new("openssl")
                .arg("dgst")
                .arg("-sha256")
                .args(batch),
            "openssl dgst",
        );
        peak = peak.max(m.peak_kib);
    }
    Measured {
        seconds: started.elapsed().as_secs_f64(),
        peak_kib: peak,
    }
}

fn row(what: &str, n: usize, m: Measured, extra: &str) {
    println!(
        "| {what:<26} | {n:>9} | {:>8.2} | {:>9.0} | {:>8.1} | {extra}",
        m.seconds,
        n as f64 / m.seconds.max(1e-9),
        m.peak_kib as f64 / 1024.0,
    );
}

fn one_size(scratch: &Path, n: usize) {
    let dir = scratch.join(format!("n{n}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch");
    let db = dir.join("night.db");
    let generated = generate(&dir, 0, n);
    let mut files = Vec::new();
    files_under(&dir.join("tree"), &mut files);
    files.push(dir.join("details.ndjson"));
    let (json_bytes, all_bytes) = input_bytes(&files);

    let cost = import_and_audit(&dir, &db, 0);
    let report = measure(
        recaudit(&db)
            .arg("--reports-dir")
            .arg(dir.join("regenerated"))
            .arg("report"),
        "report",
    );
    let verify = measure(recaudit(&db).arg("ledger").arg("verify"), "ledger verify");
    let db_bytes = database_bytes(&db);
    let rows = stored_rows(&db);

    let csv = dir.join("rows.csv");
    write_csv(&csv, rows, json_bytes);
    let plain = baseline_import(&dir, &csv, false);
    let keyed = baseline_import(&dir, &csv, true);
    let _ = std::fs::remove_file(&csv);
    let hashed = baseline_hash(&files);

    let both = Measured {
        seconds: cost.import.seconds + cost.audit.seconds,
        peak_kib: cost.import.peak_kib.max(cost.audit.peak_kib),
    };
    println!();
    println!(
        "N = {n}: {} files, {:.1} MB in ({:.1} MB JSON), {rows} rows stored, database {:.1} MB = {:.0} bytes per conversation",
        files.len(),
        all_bytes as f64 / 1e6,
        json_bytes as f64 / 1e6,
        db_bytes as f64 / 1e6,
        db_bytes as f64 / n as f64
    );
    println!(
        "| {:<26} | {:>9} | {:>8} | {:>9} | {:>8} | ratio",
        "step", "N", "wall s", "conv/s", "peak MiB"
    );
    row("sim export (generator)", n, generated, "");
    row(
        "import",
        n,
        cost.import,
        &format!("{:.2}x openssl dgst", cost.import.seconds / hashed.seconds),
    );
    row("audit + seal", n, cost.audit, "");
    row(
        "import + audit + seal",
        n,
        both,
        &format!(
            "{:.2}x sqlite3 .import, {:.2}x keyed .import",
            both.seconds / plain.seconds,
            both.seconds / keyed.seconds
        ),
    );
    row("report", n, report, "");
    row("ledger verify", n, verify, "");
    row("baseline sqlite3 .import", n, plain, "");
    row("baseline keyed .import", n, keyed, "");
    row("baseline openssl dgst", n, hashed, "");
    let _ = std::fs::remove_dir_all(&dir);
}

fn history(scratch: &Path, nights: usize, n: usize) {
    if nights < 2 {
        return;
    }
    let dir = scratch.join("history");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch");
    let db = dir.join("history.db");
    let mut first: Option<NightCost> = None;
    let mut first_verify: Option<Measured> = None;
    println!();
    println!("{nights} nights of {n} conversations into one database:");
    for night in 0..nights {
        generate(&dir, night, n);
        let cost = import_and_audit(&dir, &db, night);
        let _ = std::fs::remove_dir_all(dir.join("tree"));
        let _ = std::fs::remove_dir_all(dir.join("reports"));
        if night == 0 || night + 1 == nights {
            println!(
                "night {:>2}: import {:.2} s ({:.0} MiB), audit + seal {:.2} s ({:.0} MiB), database {:.0} MB",
                night + 1,
                cost.import.seconds,
                cost.import.peak_kib as f64 / 1024.0,
                cost.audit.seconds,
                cost.audit.peak_kib as f64 / 1024.0,
                database_bytes(&db) as f64 / 1e6
            );
        }
        if night == 0 {
            first_verify = Some(measure(
                recaudit(&db).arg("ledger").arg("verify"),
                "ledger verify",
            ));
        }
        match &first {
            None => first = Some(cost),
            Some(first) if night + 1 == nights => println!(
                "night {nights} / night 1: import {:.2}x, audit + seal {:.2}x (goal: within 1.20x)",
                cost.import.seconds / first.import.seconds,
                cost.audit.seconds / first.audit.seconds
            ),
            Some(_) => {}
        }
    }
    let verify = measure(recaudit(&db).arg("ledger").arg("verify"), "ledger verify");
    // The checkpoint of the night before, as the anchor directory kept it.
    let kept = dir.join(format!("history.checkpoints/{}.note", nights - 1));
    let since = measure(
        recaudit(&db)
            .arg("ledger")
            .arg("verify")
            .arg("--since")
            .arg(&kept),
        "ledger verify --since",
    );
    let after_one = first_verify.map_or(f64::NAN, |m| m.seconds);
    println!(
        "ledger verify over {nights} nights: {:.2} s ({:.0} MiB), {:.2}x the verify after night 1",
        verify.seconds,
        verify.peak_kib as f64 / 1024.0,
        verify.seconds / after_one
    );
    println!(
        "ledger verify --since night {}: {:.2} s ({:.0} MiB), {:.2}x the verify after night 1",
        nights - 1,
        since.seconds,
        since.peak_kib as f64 / 1024.0,
        since.seconds / after_one
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn pull(scratch: &Path, n: usize) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = scratch.join("pull");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch");
    let day = Timestamp::parse("2026-07-14T00:00:00Z").expect("day");
    runtime.block_on(async {
        let org = Org::generate(1, n, day, &Mix::default());
        let limit = 600_000;
        let faults = Faults {
            rate_limit_per_minute: limit,
            job_polls: 0,
            ..Faults::default()
        };
        let client = SimClient::default();
        let server = SimServer::start(
            org,
            faults,
            client.clone(),
            "127.0.0.1:0".parse().expect("addr"),
        )
        .await
        .expect("simulator");
        let store = Store::open(&format!("sqlite://{}", dir.join("pull.db").display()))
            .await
            .expect("store");
        let mut config = PullConfig::new(
            server.base_url(),
            server.base_url(),
            Credentials::new(client.id, client.secret),
        );
        config.poll_interval = Duration::from_millis(20);
        config.concurrency = 16;
        let (_, stats) = genesys::pull(&store, config, day, day.plus_millis(86_400_000))
            .await
            .expect("pull");
        let served = server.stats.requests.load(Ordering::Relaxed);
        let per = served as f64 / n as f64;
        println!();
        println!(
            "pull of {n} conversations from the simulator: {served} requests ({:.3} per conversation, goal 0.05); a night of 1,000,000 at 300 requests/minute needs {:.1} hours ({:.1} s here)",
            per,
            per * 1_000_000.0 / 300.0 / 60.0,
            stats.elapsed.as_secs_f64()
        );
        store.close().await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let options = options();
    let scratch = std::env::var_os("RECAUDIT_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("recaudit-night-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    println!("night benchmark: {BIN}");
    for &n in &options.sizes {
        one_size(&scratch, n);
    }
    history(&scratch, options.history, options.history_size);
    if options.pull_size > 0 {
        pull(&scratch, options.pull_size);
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
