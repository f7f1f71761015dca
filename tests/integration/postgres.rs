//! recaudit on PostgreSQL, through the real binary against the test server
//! (`RECAUDIT_TEST_POSTGRES`, which .ci/run sets): the same input gives the same bytes as on
//! SQLite; several workers share one database; a worker killed in the middle of its ledger
//! append leaves no gap; and the worker role of docs/POSTGRES.md cannot rewrite history.

use std::path::Path;
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use recaudit::store::Store;

use crate::support::*;

/// `recaudit --db <db>` in `dir`, with the reports in `dir/reports`.
fn recaudit(dir: &Path, db: &str, args: &[&str]) -> std::process::Command {
    let mut command = binary(dir);
    command
        .env_remove("RECAUDIT_KILL_AT")
        .args(["--db", db, "--reports-dir"])
        .arg(dir.join("reports"))
        .args(args);
    command
}

fn succeeds(dir: &Path, db: &str, args: &[&str]) -> String {
    let output = recaudit(dir, db, args).output().unwrap();
    assert_exit(&output, &[0], args);
    text(&output.stdout)
}

fn assert_exit(output: &Output, codes: &[i32], what: &[&str]) {
    assert!(
        output.status.code().is_some_and(|c| codes.contains(&c)),
        "recaudit {what:?} exited {:?}, expected one of {codes:?}\n{}{}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// The nightly job over the simulated org's day `date`, judged the next day.
fn night_args(date: &str) -> Vec<String> {
    let next = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .unwrap()
        .succ_opt()
        .unwrap();
    [
        "run",
        "--source",
        "sim",
        "--sim-conversations",
        "30",
        "--sim-rate-limit",
        SIM_FAST_RATE,
        "--window",
        date,
        "--as-of",
        &format!("{next}T06:00:00Z"),
    ]
    .map(String::from)
    .to_vec()
}

fn night(dir: &Path, db: &str, date: &str) -> std::process::Command {
    let args = night_args(date);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    recaudit(dir, db, &args)
}

/// `ledger verify` passes; returns its first line (origin, runs, findings, inputs, root).
fn verifies(dir: &Path, db: &str) -> String {
    let out = succeeds(dir, db, &["ledger", "verify"]);
    assert!(out.contains("integrity: OK"), "{out}");
    out.lines().next().unwrap().to_string()
}

/// Rows of a query on the store `url`, each as the text of its columns.
async fn rows(url: &str, sql: &str) -> Vec<Vec<String>> {
    use sqlx::Row;
    let store = Store::open_existing(url).await.unwrap();
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(store.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let out = rows
        .iter()
        .map(|row| {
            (0..row.len())
                .map(|i| {
                    if let Ok(Some(v)) = row.try_get::<Option<String>, _>(i) {
                        v
                    } else if let Ok(Some(v)) = row.try_get::<Option<i64>, _>(i) {
                        v.to_string()
                    } else if let Ok(Some(v)) = row.try_get::<Option<Vec<u8>>, _>(i) {
                        String::from_utf8(v).unwrap_or_else(|e| format!("{:?}", e.as_bytes()))
                    } else {
                        "NULL".to_string()
                    }
                })
                .collect()
        })
        .collect();
    store.close().await;
    out
}

/// The example night imported and audited on the database `db`, in `dir`, with the ledger
/// key `key` and one origin whatever the backend; returns the run id.
fn audit_example_night(dir: &Path, db: &str, key: &Path) -> String {
    let config = dir.join("recaudit.toml");
    let text = std::fs::read_to_string(repo("examples/recaudit.toml")).unwrap();
    let text = text.replacen(
        "\n[ledger]\n",
        "\n[ledger]\norigin = \"audit.example.com/recaudit/backends\"\n",
        1,
    );
    assert!(
        text.contains("recaudit/backends"),
        "examples/recaudit.toml has a [ledger] section"
    );
    std::fs::write(&config, text).unwrap();
    let key = key.to_str().unwrap();
    let config = config.to_str().unwrap();
    let night = repo("examples/night");
    succeeds(
        dir,
        db,
        &["--config", config, "import", night.to_str().unwrap()],
    );
    let mut args = vec!["--config", config, "--ledger-key", key];
    args.extend(EXAMPLE_AUDIT);
    let output = recaudit(dir, db, &args).output().unwrap();
    assert_exit(&output, &[0, 1], &args);
    let runs = succeeds(dir, db, &["runs"]);
    runs.split_whitespace().next().unwrap().to_string()
}

/// The same input audited on SQLite and on PostgreSQL gives byte-identical findings, ledger
/// records and reports. The only values that differ between two runs are those of the clock:
/// the run id (the seal's date and time) and its `completed` instant, in every record and
/// report that names the run. They are replaced by placeholders before the bytes are compared,
/// and nothing else is; the hashes and signatures over them differ with them, and that the
/// backends store those bytes alike is `db_copy`'s test.
#[tokio::test(flavor = "multi_thread")]
async fn the_same_input_gives_the_same_bytes_on_both_backends() {
    let root = tempfile::tempdir().unwrap();
    let key = root.path().join("shared.ledger.key");
    let mut seen = Vec::new();
    for (name, db) in [
        (
            "sqlite",
            format!(
                "sqlite://{}",
                root.path().join("sqlite/recaudit.db").display()
            ),
        ),
        ("postgres", fresh_postgres_database("same_bytes")),
    ] {
        let dir = root.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let run = audit_example_night(&dir, &db, &key);
        let completed = rows(&db, "SELECT completed FROM runs").await;
        let completed = completed[0][0].clone();
        let normal = |bytes: &[u8]| -> String {
            let text = String::from_utf8_lossy(bytes)
                .replace(&run, "<run>")
                .replace(&completed, "<completed>");
            // An input record's `received` is when the import read the input; a run record's
            // roots and reports hash are over the records and reports compared here, which
            // name the run.
            text.split_inclusive('\n')
                .map(|line| {
                    match [
                        "received ",
                        "inputs-root ",
                        "findings-root ",
                        "reports-sha256 ",
                    ]
                    .iter()
                    .find(|key| line.starts_with(*key))
                    {
                        Some(key) => format!("{key}<of the clock>\n"),
                        None => line.to_string(),
                    }
                })
                .collect()
        };
        let records: Vec<String> = rows(
            &db,
            "SELECT tree, seq, record FROM ledger_entries ORDER BY tree, seq",
        )
        .await
        .into_iter()
        .map(|r| normal(r.join(" | ").as_bytes()))
        .chain(
            rows(&db, "SELECT idx, record FROM ledger_runs ORDER BY idx")
                .await
                .into_iter()
                .map(|r| normal(r.join(" | ").as_bytes())),
        )
        .collect();
        let findings: Vec<String> = rows(
            &db,
            "SELECT conversation_id, status, reasons, recordings, media_sha256, started, ended, direction, media, queues, users, detail, particulars FROM findings ORDER BY conversation_id",
        )
        .await
        .into_iter()
        .map(|r| r.join(" | "))
        .collect();
        // Every report but the two that are hashes of the others (the manifest, the
        // checkpoint note).
        let reports: std::collections::BTreeMap<String, String> = tree(&dir.join("reports"))
            .into_iter()
            .filter(|(path, _)| {
                !path.ends_with("manifest.json") && !path.ends_with("checkpoint.note")
            })
            .map(|(path, bytes)| (normal(path.as_bytes()), normal(&bytes)))
            .collect();
        assert!(records.len() > 10, "{records:?}");
        assert!(findings.len() > 5, "{findings:?}");
        assert!(
            reports.keys().any(|k| k.ends_with("findings.csv")),
            "{:?}",
            reports.keys()
        );
        seen.push((name, records, findings, reports));
    }
    let (_, sqlite_records, sqlite_findings, sqlite_reports) = &seen[0];
    let (_, pg_records, pg_findings, pg_reports) = &seen[1];
    same("findings", pg_findings, sqlite_findings);
    same("ledger records", pg_records, sqlite_records);
    assert_eq!(
        pg_reports.keys().collect::<Vec<_>>(),
        sqlite_reports.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in sqlite_reports {
        same(
            path,
            &pg_reports[path].lines().collect::<Vec<_>>(),
            &bytes.lines().collect::<Vec<_>>(),
        );
        assert!(
            pg_reports[path] == *bytes,
            "{path} differs between backends"
        );
    }
}

/// `actual` is `expected`; a failure shows the first item that differs.
fn same<T: PartialEq + std::fmt::Debug>(what: &str, actual: &[T], expected: &[T]) {
    if let Some(at) =
        (0..actual.len().max(expected.len())).find(|&i| actual.get(i) != expected.get(i))
    {
        panic!(
            "{what} differ at {at} (of {} and {}):\n  postgres: {:?}\n  sqlite:   {:?}",
            actual.len(),
            expected.len(),
            actual.get(at),
            expected.get(at)
        );
    }
}

/// The sessions of the connection's database other than `except` that wait for a lock.
async fn waiting_sessions(watch: &mut sqlx::PgConnection, except: i32) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> $1 AND wait_event_type = 'Lock'",
    )
    .bind(except)
    .fetch_one(watch)
    .await
    .unwrap()
}

fn finish(child: Child, what: &str) -> Output {
    let output = child.wait_with_output().unwrap();
    assert_exit(&output, &[0, 1], &[what]);
    output
}

/// Two workers on different windows, started together against one PostgreSQL database and
/// held at one gate until both are inside their runs: both runs land, the ledger verifies as
/// one linear history, and the database holds what the same two nights run one after the other
/// on SQLite hold, row for row count, so nothing was duplicated or lost.
#[tokio::test(flavor = "multi_thread")]
async fn two_workers_on_different_windows_share_one_database() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = fresh_postgres_database("two_workers");
    // Created once, before the workers, as a deployment does (two first runs would each make one).
    succeeds(dir, &db, &["ledger", "keygen"]);

    // The gate: the nightly journal locked, so each worker stops at its first use of it.
    let mut gate = sqlx::PgConnection::connect(&db).await.unwrap();
    let own: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut gate)
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE night_windows IN ACCESS EXCLUSIVE MODE")
        .execute(&mut gate)
        .await
        .unwrap();
    let first = night(dir, &db, "2026-11-01")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let second = night(dir, &db, "2026-11-02")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Watched from a connection of its own: inside the gate's transaction, pg_stat_activity
    // would show the moment of its first read over and over.
    let mut watch = sqlx::PgConnection::connect(&db).await.unwrap();
    let started = Instant::now();
    while waiting_sessions(&mut watch, own).await < 2 {
        if started.elapsed() > Duration::from_secs(120) {
            type Session = (
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
            );
            let sessions: Vec<Session> = sqlx::query_as(
                    "SELECT application_name, state, wait_event_type, query FROM pg_stat_activity WHERE datname = current_database()",
                )
                .fetch_all(&mut watch)
                .await
                .unwrap();
            let outputs: Vec<String> = [first, second]
                .into_iter()
                .map(|mut child| {
                    let _ = child.kill();
                    let output = child.wait_with_output().unwrap();
                    format!("{:?}: {}", output.status, text(&output.stderr))
                })
                .collect();
            panic!("the two workers never both reached the gate: {sessions:#?}\n{outputs:#?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sqlx::raw_sql("COMMIT").execute(&mut gate).await.unwrap();
    gate.close().await.unwrap();
    watch.close().await.unwrap();
    let first = finish(first, "run 2026-11-01");
    let second = finish(second, "run 2026-11-02");
    for output in [&first, &second] {
        assert!(
            !text(&output.stderr).contains("another worker"),
            "{}",
            text(&output.stderr)
        );
    }

    let line = verifies(dir, &db);
    assert!(line.contains(": 2 runs,"), "{line}");
    let windows = rows(&db, "SELECT window_start FROM runs ORDER BY window_start").await;
    assert_eq!(
        windows,
        vec![
            vec!["2026-11-01T00:00:00.000Z".to_string()],
            vec!["2026-11-02T00:00:00.000Z".to_string()]
        ]
    );
    let indexes = rows(&db, "SELECT idx FROM ledger_runs ORDER BY idx").await;
    assert_eq!(indexes, vec![vec!["0".to_string()], vec!["1".to_string()]]);

    // The same two nights, one after the other, on SQLite.
    let reference = tempfile::tempdir().unwrap();
    let sqlite = "sqlite://reference.db";
    for date in ["2026-11-01", "2026-11-02"] {
        let output = night(reference.path(), sqlite, date).output().unwrap();
        assert_exit(&output, &[0, 1], &[date]);
    }
    let sqlite = format!(
        "sqlite://{}",
        reference.path().join("reference.db").display()
    );
    // The evidence: every conversation, leg and recording once. (The raw inputs, pulls and
    // runs are not compared: the sequential second night may revisit the first window, which
    // the parallel one finds locked by its worker.)
    let evidence = |counts: Vec<(&'static str, i64)>| -> Vec<(&'static str, i64)> {
        counts
            .into_iter()
            .filter(|(table, _)| {
                [
                    "conversations",
                    "participants",
                    "sessions",
                    "segments",
                    "recordings",
                    "export_media",
                    "recording_jobs",
                    "failed_recordings",
                    "orphan_recordings",
                ]
                .contains(table)
            })
            .collect()
    };
    let parallel = Store::open_existing(&db).await.unwrap();
    let sequential = Store::open_existing(&sqlite).await.unwrap();
    let parallel_counts = evidence(parallel.counts().await.unwrap());
    assert!(parallel_counts.len() >= 5, "{parallel_counts:?}");
    assert_eq!(
        parallel_counts,
        evidence(sequential.counts().await.unwrap())
    );
    // Each window's first run holds the verdicts the sequential one does.
    let verdicts = "SELECT r.window_start, f.status, COUNT(*) FROM findings f JOIN runs r ON r.run_id = f.run_id WHERE r.seq = (SELECT MIN(r2.seq) FROM runs r2 WHERE r2.window_start = r.window_start) GROUP BY r.window_start, f.status ORDER BY r.window_start, f.status";
    let parallel_verdicts = rows(&db, verdicts).await;
    assert!(parallel_verdicts.len() >= 4, "{parallel_verdicts:?}");
    assert_eq!(parallel_verdicts, rows(&sqlite, verdicts).await);
}

/// A worker killed after writing its run's rows and ledger records, before committing them,
/// holding the write lock: the server rolls the transaction back and frees the lock, so the
/// log has no gap and no half-run, and the next worker seals the killed window and its own.
#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_append_leaves_no_gap() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = fresh_postgres_database("killed_worker");
    succeeds(dir, &db, &["ledger", "keygen"]);
    let output = night(dir, &db, "2026-11-01").output().unwrap();
    assert_exit(&output, &[0, 1], &["run 2026-11-01"]);

    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        let killed = night(dir, &db, "2026-11-02")
            .env(concat!("RECAUDIT_", "KILL_AT"), "before-commit")
            .output()
            .unwrap();
        assert_eq!(
            killed.status.signal(),
            Some(libc::SIGKILL),
            "{}",
            text(&killed.stderr)
        );
    }
    let line = verifies(dir, &db);
    assert!(line.contains(": 1 runs,"), "{line}");

    // The next worker's night revisits the killed window (open in the journal) before its
    // own: index 1, then its own at 2. A rerun of the killed window then finds its verdicts
    // sealed and adds nothing.
    for date in ["2026-11-03", "2026-11-02"] {
        let output = night(dir, &db, date).output().unwrap();
        assert_exit(&output, &[0, 1], &[date]);
    }
    let line = verifies(dir, &db);
    assert!(line.contains(": 3 runs,"), "{line}");
    let log = rows(
        &db,
        "SELECT l.idx, r.window_start FROM ledger_runs l JOIN runs r ON r.run_id = l.run_id ORDER BY l.idx",
    )
    .await;
    let expected: Vec<Vec<String>> = [
        ("0", "2026-11-01"),
        ("1", "2026-11-02"),
        ("2", "2026-11-03"),
    ]
    .iter()
    .map(|(idx, day)| vec![idx.to_string(), format!("{day}T00:00:00.000Z")])
    .collect();
    assert_eq!(log, expected);
}

/// The `sql` block of docs/POSTGRES.md that grants the roles their rights, as the docs give it.
fn documented_grants() -> String {
    let docs = std::fs::read_to_string(repo("docs/POSTGRES.md")).unwrap();
    let start = docs
        .find("REVOKE CREATE ON SCHEMA public FROM PUBLIC;")
        .expect("docs/POSTGRES.md gives the grants");
    let end = start + docs[start..].find("```").unwrap();
    docs[start..end].to_string()
}

/// The worker role, granted what docs/POSTGRES.md grants it, runs the job but cannot update,
/// delete or truncate a ledger row; the owner, who may, is stopped by the append-only triggers.
#[tokio::test(flavor = "multi_thread")]
async fn the_worker_role_cannot_rewrite_the_ledger() {
    use sqlx::Connection;
    let server = postgres_server();
    let (base, _) = server.rsplit_once('/').unwrap();
    let (scheme_user, host) = base.rsplit_once('@').unwrap();
    let (scheme, _) = scheme_user.split_once("//").unwrap();
    let suffix = format!("{}_{}", std::process::id(), rand_suffix());
    let (owner, worker, database) = (
        format!("t_owner_{suffix}"),
        format!("t_worker_{suffix}"),
        format!("t_roles_{suffix}"),
    );
    let url_as = |role: &str| format!("{scheme}//{role}@{host}/{database}");

    // As the cluster's superuser, what docs/POSTGRES.md has a DBA do once.
    let mut admin = sqlx::PgConnection::connect(&format!("{scheme}//postgres@{host}/postgres"))
        .await
        .unwrap();
    for statement in [
        format!("CREATE ROLE {owner} LOGIN"),
        format!("CREATE ROLE {worker} LOGIN"),
        format!("CREATE DATABASE {database} OWNER {owner} ENCODING 'UTF8' TEMPLATE template0"),
        format!("REVOKE ALL ON DATABASE {database} FROM PUBLIC"),
        format!("GRANT CONNECT ON DATABASE {database} TO {worker}"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    admin.close().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    succeeds(dir, &url_as(&owner), &["db", "migrate"]);
    let grants = documented_grants()
        .replace("recaudit_owner", &owner)
        .replace("recaudit_worker", &worker)
        .replace("recaudit_reader", &worker);
    let mut as_owner = sqlx::PgConnection::connect(&url_as(&owner)).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(grants))
        .execute(&mut as_owner)
        .await
        .unwrap();

    // The worker runs a night: it can do everything the job does.
    let worker_url = url_as(&worker);
    succeeds(dir, &worker_url, &["ledger", "keygen"]);
    let output = night(dir, &worker_url, "2026-11-01").output().unwrap();
    assert_exit(&output, &[0, 1], &["run as the worker"]);
    verifies(dir, &worker_url);

    let mut as_worker = sqlx::PgConnection::connect(&worker_url).await.unwrap();
    for statement in [
        "UPDATE ledger_runs SET record = record WHERE idx = 0",
        "DELETE FROM ledger_entries",
        "UPDATE findings SET status = 'complete'",
        "DELETE FROM runs",
        "TRUNCATE ledger_checkpoints",
        "UPDATE raw_inputs SET source = source",
    ] {
        let refused = sqlx::raw_sql(statement).execute(&mut as_worker).await;
        let message = refused.expect_err(statement).to_string();
        assert!(
            message.contains("permission denied"),
            "{statement}: {message}"
        );
    }
    for statement in [
        "UPDATE ledger_runs SET record = record WHERE idx = 0",
        "DELETE FROM ledger_entries",
        "TRUNCATE ledger_checkpoints",
    ] {
        let refused = sqlx::raw_sql(statement).execute(&mut as_owner).await;
        let message = refused.expect_err(statement).to_string();
        assert!(message.contains("append-only"), "{statement}: {message}");
    }
    as_worker.close().await.unwrap();
    as_owner.close().await.unwrap();
    verifies(dir, &worker_url);
}

fn rand_suffix() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The role .ci/postgres makes for this test, which must give its password (SCRAM over TCP).
const PASSWORD_ROLE: &str = "recaudit_password";
const PASSWORD: &str = "recaudit-test-password";

/// Credentials come from the URL, from `PGPASSWORD`, or from a password file only its owner can
/// read; a file others can read is ignored. No message, on success or failure, shows a password.
#[test]
fn credentials_come_from_the_url_the_environment_or_a_private_file_and_are_never_shown() {
    use std::os::unix::fs::PermissionsExt;
    let server = postgres_server();
    let (base, _) = server.rsplit_once('/').unwrap();
    let (_, host) = base.rsplit_once('@').unwrap();
    let (host_name, port) = host.rsplit_once(':').unwrap();
    let url = format!("postgres://{PASSWORD_ROLE}@{host}/{PASSWORD_ROLE}");
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let migrate = |db: &str, env: &[(&str, &str)]| -> Output {
        let mut command = binary(dir);
        command
            .env_remove("PGPASSWORD")
            .env_remove("PGPASSFILE")
            .env("HOME", dir)
            .args(["--db", db, "db", "migrate"]);
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().unwrap()
    };
    let shown = |output: &Output| format!("{}{}", text(&output.stdout), text(&output.stderr));

    // None given: refused, and the message says why.
    let refused = migrate(&url, &[]);
    assert_ne!(refused.status.code(), Some(0), "{}", shown(&refused));
    assert!(shown(&refused).contains("password"), "{}", shown(&refused));

    // A wrong password in the URL: refused, and not repeated.
    let wrong = "not-the-password-4711";
    let refused = migrate(
        &format!("postgres://{PASSWORD_ROLE}:{wrong}@{host}/{PASSWORD_ROLE}"),
        &[],
    );
    assert_ne!(refused.status.code(), Some(0), "{}", shown(&refused));
    assert!(!shown(&refused).contains(wrong), "{}", shown(&refused));

    // The right one in the URL: in, and the URL is printed without it.
    let accepted = migrate(
        &format!("postgres://{PASSWORD_ROLE}:{PASSWORD}@{host}/{PASSWORD_ROLE}"),
        &[],
    );
    assert_eq!(accepted.status.code(), Some(0), "{}", shown(&accepted));
    assert!(!shown(&accepted).contains(PASSWORD), "{}", shown(&accepted));

    // From the environment.
    let accepted = migrate(&url, &[("PGPASSWORD", PASSWORD)]);
    assert_eq!(accepted.status.code(), Some(0), "{}", shown(&accepted));

    // From a password file: used when only its owner can read it, ignored otherwise.
    let file = dir.join("pgpass");
    std::fs::write(
        &file,
        format!("{host_name}:{port}:{PASSWORD_ROLE}:{PASSWORD_ROLE}:{PASSWORD}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = migrate(&url, &[("PGPASSFILE", file.to_str().unwrap())]);
    assert_ne!(refused.status.code(), Some(0), "{}", shown(&refused));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let accepted = migrate(&url, &[("PGPASSFILE", file.to_str().unwrap())]);
    assert_eq!(accepted.status.code(), Some(0), "{}", shown(&accepted));
    assert!(!shown(&accepted).contains(PASSWORD), "{}", shown(&accepted));
}
