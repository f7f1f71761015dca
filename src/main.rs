//! The `recaudit` binary: parses arguments, sets up logging, runs one command and maps the
//! outcome to an exit status (0 fine, 1 problems found, 2 the command failed; `pull` stopped by
//! SIGINT or SIGTERM: 130 or 143, 128 plus the signal's number, as a shell reports a process
//! the signal ended).
//!
//! [`run`] opens what a command needs and dispatches it to one function per command (and
//! [`ledger_command`] to one per ledger subcommand); each prints its results and returns its
//! exit status.

// Functions of one purpose (issue 10): clippy's default limit of 100 lines is enforced by
// CI's `clippy -D warnings`; an exception needs an `#[allow]` with its reason beside it.
#![warn(clippy::too_many_lines)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use anyhow::{Context, Result, bail};
use clap::Parser;
use recaudit::audit::Status;
use recaudit::cli::{
    ApiArgs, Cli, Command, ConfigCommand, DbCommand, LedgerCommand, Locations, LogFormat, PullArgs,
    S3Args, ScheduleArgs,
};
#[cfg(feature = "simulator")]
use recaudit::cli::{ServeArgs, SimCommand};
use recaudit::config::effective::{self, Given, Places};
use recaudit::config::{Effective, Settings};
use recaudit::ledger::note::{Checkpoint, NoteVerifier};
use recaudit::ledger::record::{self, RUN};
use recaudit::ledger::verify::{self, VerifyOptions};
use recaudit::ledger::{self, LedgerSettings, anchor, export};
use recaudit::pipeline::{self, AuditWindow};
use recaudit::scheduler;
#[cfg(feature = "simulator")]
use recaudit::simulator::{Faults, Mix, Org, SimClient, SimServer};
use recaudit::source::genesys::{self, Credentials, PullConfig, PullStats, Stop};
use recaudit::source::import;
use recaudit::store::{self, Store};
use recaudit::time::Timestamp;

#[path = "cmd/run.rs"]
mod nightly;
#[path = "cmd/report.rs"]
mod reporting;

fn main() -> ExitCode {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is always valid.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    // A scheduler is a long-running process whose fires and results are its output.
    // The scheduled commands log what they do at info by default: their log is the record.
    let daemon = matches!(cli.command, Command::Schedule(_) | Command::Run(_));
    init_logging(cli.verbose, cli.log_format, daemon);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("recaudit: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let cli_format = cli.log_format;
    let nightly_job = matches!(cli.command, Command::Run(_));
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        // `run` ends with its summary line and its own status, whatever stopped it.
        Err(e) if nightly_job => ExitCode::from(nightly::failed(&e)),
        Err(e) => {
            // In JSON, the error is a log event like every other line, so a shipper sees it.
            match cli_format {
                LogFormat::Json => tracing::error!("recaudit: {}", describe(&e)),
                LogFormat::Text => eprintln!("recaudit: {}", describe(&e)),
            }
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, each said once: the library's messages already include their
/// OS or database cause, which anyhow's chain would print a second time.
fn describe(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Whether logs are JSON lines (`--log-format json`): then messages to the operator are log
/// events too, so that a log shipper sees every line as JSON.
static JSON_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A message to the operator on stderr (`recaudit: ...`), or a warning event in JSON mode.
fn say(text: &str) {
    if JSON_LOGS.load(Ordering::Relaxed) {
        tracing::warn!("{text}");
    } else {
        eprintln!("recaudit: {text}");
    }
}

/// Log lines on stderr: text (coloured only on a terminal without NO_COLOR) or JSON objects;
/// `-v` raises the level from warn (info for `schedule` and `run`, the `daemon`s), RUST_LOG
/// overrides.
fn init_logging(verbose: u8, format: LogFormat, daemon: bool) {
    use std::io::IsTerminal;
    JSON_LOGS.store(matches!(format, LogFormat::Json), Ordering::Relaxed);
    let default = match (verbose, daemon) {
        (0, false) => "warn",
        (0, true) | (1, _) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // https://no-color.org: NO_COLOR set to anything but the empty string turns colour off.
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().with_ansi(false).init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal() && !no_color)
            .init(),
    }
}

/// Runs one command: those that need no database at once, the others on the database
/// [`Workspace::open`] opens for them.
async fn run(cli: Cli) -> Result<u8> {
    // Checking the configuration needs no database, and reports its own errors.
    if let Command::Config {
        command: ConfigCommand::Check,
    } = &cli.command
    {
        return config_check(&cli);
    }
    let mut settings = if cli.is_demo() {
        // The simulated night takes no setting from the RECAUDIT_* environment either.
        Effective::load_from(cli.config.as_deref(), std::iter::empty())?.settings
    } else {
        Settings::load(cli.config.as_deref())?
    };
    let locations = cli.locations();
    if cli.is_demo() {
        // The simulated night keeps the policy of --config but never the production ledger's
        // key, origin or anchors: its checkpoints must not land beside the real ones.
        settings.ledger = LedgerSettings::default();
    }
    match &cli.command {
        // Serving the simulator needs no database.
        #[cfg(feature = "simulator")]
        Command::Sim { command } => return sim_command(command).await,
        // The scheduler opens no database: each run it starts does.
        Command::Schedule(args) => return schedule_command(&cli, args).await,
        // Verifying one checkpoint needs no database.
        Command::Ledger {
            command: LedgerCommand::VerifyCheckpoint { vkey, file },
        } => return ledger_verify_checkpoint(vkey, file),
        // A copy names both of its databases; a migration opens only the schema.
        Command::Db { command } => return db_command(command, &locations.db).await,
        _ => {}
    }
    // An audit's window is checked before its database is opened: a typo is a usage error.
    let audit_window = match &cli.command {
        Command::Audit {
            from, to, as_of, ..
        } => Some(audit_window(from, to, as_of.as_deref())?),
        _ => None,
    };
    // One run at a time per database: the lock is taken before the store is opened, and a
    // second run exits at once naming the holder.
    let _run_lock = match &cli.command {
        Command::Run(_) => match nightly::run_lock(&locations.db)? {
            Ok(lock) => Some(lock),
            Err(code) => return Ok(code),
        },
        _ => None,
    };
    let workspace = match Workspace::open(&cli.command, settings, locations).await {
        Ok(workspace) => workspace,
        // The nightly job's statuses tell a usage error (2) from any other failure (7).
        Err(e) if matches!(cli.command, Command::Run(_)) => {
            return Ok(nightly::failed(&e));
        }
        Err(e) => return Err(e),
    };
    let code = match cli.command {
        Command::Import { paths, s3 } => import_command(&workspace, &paths, &s3).await?,
        Command::Audit { allow_partial, .. } => {
            audit_command(&workspace, audit_window, allow_partial).await?
        }
        Command::Report {
            run,
            matter,
            format,
            check_protection,
            api,
        } => {
            let protection = if check_protection {
                Some(pull_config(&workspace.settings, &api)?)
            } else {
                None
            };
            let report = reporting::Report {
                run: run.as_deref(),
                matter: matter.as_deref(),
                formats: &format,
                protection: protection.as_ref(),
            };
            reporting::report_command(&workspace, report).await?
        }
        Command::Hold { command } => reporting::hold_command(&workspace, command).await?,
        Command::Runs { limit } => runs_command(&workspace, limit).await?,
        Command::Pull(args) => pull_command(&workspace, args).await?,
        Command::Run(args) => nightly::run_command(&workspace, &args).await,
        #[cfg(feature = "simulator")]
        Command::Demo {
            conversations,
            seed,
            date,
            rate_limit,
        } => demo_command(&workspace, conversations, seed, date.as_deref(), rate_limit).await?,
        #[cfg(feature = "simulator")]
        Command::Sim { .. } => unreachable!("handled before the database is opened"),
        Command::Config { .. } => unreachable!("handled before the settings are loaded"),
        Command::Schedule(_) => unreachable!("handled before the database is opened"),
        Command::Db { .. } => unreachable!("handled before the database is opened"),
        Command::Ledger { command } => ledger_command(&workspace, command).await?,
    };
    workspace.store.close().await;
    Ok(code)
}

/// `config check`: the settings in effect, with where each came from, secrets masked; an
/// invalid configuration is an error (exit 2) naming the file, key or variable.
fn config_check(cli: &Cli) -> Result<u8> {
    let effective = Effective::load(cli.config.as_deref())?;
    let (locations, origins) = cli.locations_with_origins();
    let places = Places {
        db: Given {
            value: locations.db,
            from: origins.db,
        },
        reports_dir: Given {
            value: locations.reports_dir,
            from: origins.reports_dir,
        },
        ledger_key: locations
            .ledger_key
            .zip(origins.ledger_key)
            .map(|(value, from)| Given { value, from }),
    };
    print!("{}", effective::render(&effective, &places)?);
    Ok(0)
}

/// What a command that works on the database gets: the open store, the settings, where the
/// reports go, the ledger's origin and key file, and (for `import`) the import lock, held
/// until the command is done.
struct Workspace {
    store: Store,
    settings: Settings,
    locations: Locations,
    origin: String,
    key_path: PathBuf,
    _import_lock: Option<recaudit::store::DatabaseLock>,
}

impl Workspace {
    async fn open(
        command: &Command,
        settings: Settings,
        locations: Locations,
    ) -> Result<Workspace> {
        // Imports into one database run one at a time: the lock is taken before the store is
        // opened, so that two first imports do not race to create its tables either.
        let import_lock = match command {
            Command::Import { .. } => Some(import_lock(&locations.db).await?),
            _ => None,
        };
        let store = if reads_only(command) {
            Store::open_existing(&locations.db).await?
        } else {
            Store::open(&locations.db).await?
        };
        let database = Store::ledger_home_of(&locations.db)?;
        let origin = settings.ledger.origin_for(database.as_deref())?;
        let key_path = settings.ledger.key_path(
            locations.ledger_key.as_deref(),
            database.as_deref(),
            &origin,
        );
        Ok(Workspace {
            store,
            settings,
            locations,
            origin,
            key_path,
            _import_lock: import_lock,
        })
    }
}

/// Commands that only read never create a database; nor does `audit`, which needs evidence
/// an empty database cannot hold.
fn reads_only(command: &Command) -> bool {
    matches!(
        command,
        Command::Runs { .. }
            | Command::Audit { .. }
            | Command::Report { .. }
            | Command::Ledger {
                command: LedgerCommand::Verify { .. }
                    | LedgerCommand::Show { .. }
                    | LedgerCommand::Prove { .. }
                    | LedgerCommand::Export { .. }
            }
    )
}

/// Takes the import lock of the database `db`, saying so when another import holds it.
async fn import_lock(db: &str) -> Result<recaudit::store::DatabaseLock> {
    let database = Store::file_of(db)?;
    let shown = match database.as_deref() {
        Some(file) => import::path_text(file),
        None => recaudit::store::redacted(db),
    };
    Ok(recaudit::store::import_lock(db, || {
        eprintln!("recaudit: another import into {shown} is running; waiting for it");
    })
    .await?)
}

/// `recaudit db migrate` and `recaudit db copy`.
async fn db_command(command: &DbCommand, db: &str) -> Result<u8> {
    match command {
        DbCommand::Copy { from, to } => db_copy_command(from, to).await,
        DbCommand::Migrate => {
            let store = Store::open(db).await?;
            println!("{}: the schema is this version's", store::redacted(db));
            store.close().await;
            Ok(0)
        }
    }
}

/// `recaudit db copy`: every row of `from` into the empty database `to`.
async fn db_copy_command(from: &str, to: &str) -> Result<u8> {
    let (shown_from, shown_to) = (store::redacted(from), store::redacted(to));
    if from == to {
        bail!("--from and --to name the same database ({shown_from})");
    }
    let source = Store::open_existing(from)
        .await
        .with_context(|| format!("cannot open the database to copy, {shown_from}"))?;
    let target = Store::open(to)
        .await
        .with_context(|| format!("cannot open the target database, {shown_to}"))?;
    let summary = store::copy_database(&source, &target).await?;
    for (table, rows) in &summary.tables {
        tracing::info!(table, rows, "copied");
    }
    println!(
        "copied {} rows in {} tables from {shown_from} to {shown_to}; check the copy with `recaudit --db {shown_to} ledger verify` (with the same --ledger-key and [ledger] origin as the original)",
        summary.rows(),
        summary.tables.len()
    );
    source.close().await;
    target.close().await;
    Ok(0)
}

/// `recaudit schedule`: `recaudit run` (or the hidden `--exec` program) at each fire, until
/// SIGTERM or SIGINT; the loop is [`scheduler::run`].
async fn schedule_command(cli: &Cli, args: &ScheduleArgs) -> Result<u8> {
    let schedule = scheduler::Schedule::parse(&args.cron, &args.tz)?;
    let job = match &args.exec {
        Some(program) => scheduler::Job {
            program: program.clone(),
            args: args.run_args.clone(),
        },
        None => scheduler::Job {
            program: std::env::current_exe().context("cannot find the recaudit binary")?,
            args: [cli.global_args(), vec!["run".into()], args.run_args.clone()].concat(),
        },
    };
    let state = match &args.state {
        Some(path) => Some(path.clone()),
        None => Store::file_of(&cli.locations().db)?.map(|db| scheduler::state_beside(&db)),
    };
    let plan = scheduler::Plan {
        schedule,
        job,
        state,
        catch_up: args.catch_up,
    };
    Ok(scheduler::run(plan).await?.signal.exit_code())
}

/// The window of `audit`, checked.
fn audit_window(from: &str, to: &str, as_of: Option<&str>) -> Result<AuditWindow> {
    let window = AuditWindow {
        from: cli_time("--from", from)?,
        to: cli_time("--to", to)?,
        as_of: match as_of {
            Some(text) => cli_time("--as-of", text)?,
            None => Timestamp::now(),
        },
    };
    window.check()?;
    Ok(window)
}

/// `recaudit import`.
async fn import_command(workspace: &Workspace, paths: &[PathBuf], s3: &S3Args) -> Result<u8> {
    let (buckets, files): (Vec<&PathBuf>, Vec<&PathBuf>) = paths
        .iter()
        .partition(|path| path.to_str().is_some_and(|p| p.starts_with("s3://")));
    if buckets.is_empty() && s3.from.is_some() {
        bail!(
            "--from and --to choose the date folders of an s3:// path; a local folder is read whole"
        );
    }
    let files: Vec<PathBuf> = files.into_iter().cloned().collect();
    let mut outcome = if files.is_empty() {
        import::ImportOutcome::default()
    } else {
        import::import_paths_with(&workspace.store, &files, &workspace.settings.import).await?
    };
    for bucket in buckets {
        let url = bucket.to_str().unwrap_or_default();
        outcome.absorb(import_bucket(workspace, url, s3).await?);
    }
    for rejection in &outcome.rejected {
        eprintln!("recaudit: rejected {rejection}");
    }
    for ignored in &outcome.ignored {
        eprintln!("recaudit: ignored {ignored}");
    }
    for conflict in &outcome.conflicts {
        eprintln!("recaudit: conflict: {conflict}");
    }
    let kinds: Vec<String> = outcome
        .by_kind
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    println!(
        "imported {} new inputs ({}), {} unchanged, {} rejected, {} ignored, {} conversations written",
        outcome.imported,
        if kinds.is_empty() {
            "none".to_string()
        } else {
            kinds.join(", ")
        },
        outcome.unchanged,
        outcome.rejected.len(),
        outcome.ignored.len(),
        outcome.conversations
    );
    if outcome.rejected.is_empty() {
        Ok(0)
    } else {
        eprintln!(
            "recaudit: {} file(s) were rejected and not imported; everything else was. Fix or remove them (for an object of a bucket, do what its line says) and import again.",
            outcome.rejected.len()
        );
        Ok(1)
    }
}

/// Imports the export tree under the `s3://` URL `url`, showing progress on a terminal.
#[cfg(feature = "s3")]
async fn import_bucket(
    workspace: &Workspace,
    url: &str,
    args: &S3Args,
) -> Result<import::ImportOutcome> {
    use recaudit::source::s3;
    let url = s3::S3Url::parse(url)?;
    let config = &workspace.settings.s3;
    let settings = config.under(args.location.settings());
    let margin_days = args.margin_days.or(config.margin_days).unwrap_or(2);
    let days = match (&args.from, &args.to) {
        (Some(from), Some(to)) => Some(s3::ExportDays::of_window(
            cli_time("--from", from)?,
            cli_time("--to", to)?,
            margin_days,
        )),
        _ => None,
    };
    let how = s3::BucketImport {
        days,
        hash_media: args.hash_media || config.hash_media,
        hash_concurrency: args
            .hash_concurrency
            .or(config.hash_concurrency)
            .map_or(s3::HASH_CONCURRENCY, usize::from),
    };
    let bucket = std::sync::Arc::new(s3::open_bucket(&url, &settings)?);
    let progress = s3::BucketProgress::default();
    let shown = show_bucket_progress(&url, &progress);
    let outcome = tokio::select! {
        outcome = s3::import_bucket(
            &workspace.store,
            bucket,
            &url,
            &how,
            &workspace.settings.import,
            &progress,
        ) => outcome,
        () = shown.run() => unreachable!("the progress display runs until the import ends"),
    };
    shown.finish();
    let outcome = outcome?;
    let (media_hashed, bytes_hashed) = (
        progress.media_hashed.load(Ordering::Relaxed),
        progress.bytes_hashed.load(Ordering::Relaxed),
    );
    let hashed = match (how.hash_media, media_hashed) {
        (true, _) => format!("{media_hashed} media objects hashed ({bytes_hashed} bytes)"),
        (false, 0) => "media objects listed, not downloaded (--hash-media hashes them)".to_string(),
        (false, _) => format!(
            "{media_hashed} media objects hashed ({bytes_hashed} bytes) because their listing could not be recorded (no ETag, or a key too long), the others listed, not downloaded"
        ),
    };
    eprintln!(
        "recaudit: {url}: {} objects listed, {} read; {hashed}",
        outcome.files, outcome.objects_read
    );
    Ok(outcome)
}

/// A progress line on stderr while a bucket is imported (nothing when stderr is not a
/// terminal): objects listed, then sidecars read and bytes hashed.
#[cfg(feature = "s3")]
struct BucketProgressLine<'a> {
    bar: indicatif::ProgressBar,
    progress: &'a recaudit::source::s3::BucketProgress,
}

#[cfg(feature = "s3")]
fn show_bucket_progress<'a>(
    url: &recaudit::source::s3::S3Url,
    progress: &'a recaudit::source::s3::BucketProgress,
) -> BucketProgressLine<'a> {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_prefix(url.to_string());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed}]")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    BucketProgressLine { bar, progress }
}

#[cfg(feature = "s3")]
impl BucketProgressLine<'_> {
    /// Redraws the line until dropped by the caller's `select!`.
    async fn run(&self) {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
        loop {
            tick.tick().await;
            let get = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
            let p = self.progress;
            let to_read = get(&p.to_read);
            let message = if to_read == 0 {
                format!("{} objects listed", get(&p.listed))
            } else {
                format!(
                    "{}/{to_read} objects done, {} sidecars read, {} media objects hashed ({})",
                    get(&p.done),
                    get(&p.sidecars_read),
                    get(&p.media_hashed),
                    indicatif::HumanBytes(get(&p.bytes_hashed))
                )
            };
            self.bar.set_message(message);
            self.bar.tick();
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(not(feature = "s3"))]
async fn import_bucket(
    _workspace: &Workspace,
    url: &str,
    _args: &S3Args,
) -> Result<import::ImportOutcome> {
    bail!("{url}: this recaudit was built without S3 support (cargo feature `s3`)")
}

/// `recaudit audit`: the window [`run`] checked, cut at the details horizon when
/// `--allow-partial` allows it.
async fn audit_command(
    workspace: &Workspace,
    window: Option<AuditWindow>,
    allow_partial: bool,
) -> Result<u8> {
    let mut window = window.ok_or_else(|| anyhow::anyhow!("the audit window was not parsed"))?;
    if let Some(horizon) = workspace.store.details_horizon().await?
        && horizon < window.to
        && allow_partial
        && horizon > window.from
    {
        eprintln!(
            "recaudit: conversation details are available only up to {horizon}: auditing [{}, {horizon}); [{horizon}, {}) is not yet covered and needs a later audit",
            window.from, window.to
        );
        window.to = horizon;
    }
    audit_and_report(workspace, window, allow_partial).await
}

/// `recaudit runs`.
async fn runs_command(workspace: &Workspace, limit: i64) -> Result<u8> {
    let (runs, unsealed) = ledger::sealed::sealed_runs(&workspace.store, limit).await?;
    if runs.is_empty() && unsealed.is_empty() {
        println!("No runs yet: `recaudit audit` (or `recaudit demo`) makes the first.");
    }
    for run in &runs {
        match run.rule_set.as_str() {
            pipeline::hold::HOLD_RULE_SET => println!(
                "{}  legal hold change, sealed {}  (`recaudit hold list`)",
                run.run_id, run.completed
            ),
            pipeline::hold::MATTER_RULE_SET => println!(
                "{}  matter report, sealed {}  (`recaudit report --run {}`)",
                run.run_id, run.completed, run.run_id
            ),
            _ => println!(
                "{}  window {} to {}  as of {}  completed {}",
                run.run_id, run.window_start, run.window_end, run.as_of, run.completed
            ),
        }
    }
    for run_id in &unsealed {
        eprintln!(
            "recaudit: run {run_id} is in the runs table but not sealed in the ledger; not listed (run `recaudit ledger verify`)"
        );
    }
    Ok(if unsealed.is_empty() { 0 } else { 1 })
}

/// `recaudit pull`.
async fn pull_command(workspace: &Workspace, args: PullArgs) -> Result<u8> {
    let mut config = pull_config(&workspace.settings, &args.api)?;
    config.recording_job = args.recording_job.clone();
    let (from, to) = (cli_time("--from", &args.from)?, cli_time("--to", &args.to)?);
    let signal = stop_on_signals(&config.stop)?;
    match genesys::pull(&workspace.store, config, from, to).await {
        Ok((outcome, stats)) => Ok(report_pull(&outcome, &stats)),
        Err(stopped @ recaudit::Error::Interrupted) => {
            // Only a signal stops the binary's pull; 2 should anything else ever do.
            let code = match signal.load(Ordering::SeqCst) {
                0 => 2,
                code => code,
            };
            eprintln!("recaudit: stopped by {}: {stopped}", signal_name(code));
            Ok(code)
        }
        Err(e) => Err(e.into()),
    }
}

/// The pull's configuration from its arguments and the settings' scope.
fn pull_config(settings: &Settings, args: &ApiArgs) -> Result<PullConfig> {
    let (default_api, default_login) = genesys::region_bases(&args.region)?;
    let api_given = args.api_base.is_some();
    let api = args.api_base.clone().unwrap_or(default_api);
    // As the SDKs do: the login host is the API host with `api.` replaced by `login.`,
    // or the API base itself (gateways, the simulator).
    let login = args.login_base.clone().unwrap_or_else(|| {
        if api.contains("://api.") {
            api.replacen("://api.", "://login.", 1)
        } else if api_given {
            api.clone()
        } else {
            default_login
        }
    });
    let mut config = PullConfig::new(api, login, Credentials::load(args.secrets.as_deref())?);
    config.concurrency = args.concurrency.max(1);
    config.metadata = args
        .metadata
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--metadata: {e}"))?;
    config.media_types = settings.scope.media_types.clone();
    config.integration_id = args.integration_id.clone();
    config.max_requests = args.max_requests;
    config.details = args
        .details
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--details: {e}"))?;
    Ok(config)
}

#[cfg(feature = "simulator")]
/// `recaudit demo`: starts the simulator, pulls a night from it and audits the night.
async fn demo_command(
    workspace: &Workspace,
    conversations: usize,
    seed: u64,
    date: Option<&str>,
    rate_limit: u64,
) -> Result<u8> {
    let day = night(date)?;
    println!(
        "Demo database: {} (ledger key {}, reports in {}); the production defaults are not touched.",
        workspace.store.path().map_or_else(
            || workspace.locations.db.clone(),
            |p| p.display().to_string()
        ),
        workspace.key_path.display(),
        workspace.locations.reports_dir.display()
    );
    let org = Org::generate(seed, conversations, day, &Mix::default());
    let client = SimClient::default();
    let faults = Faults {
        rate_limit_per_minute: rate_limit,
        ..Faults::default()
    };
    let server = SimServer::start(org, faults, client.clone(), "127.0.0.1:0".parse()?).await?;
    println!(
        "Simulator: {} ({conversations} conversations on {})",
        server.base_url(),
        &day.to_string()[..10]
    );
    let config = PullConfig::new(
        server.base_url(),
        server.base_url(),
        Credentials::new(client.id, client.secret),
    );
    let next = day.plus_millis(24 * 3_600_000);
    let (outcome, stats) = genesys::pull(&workspace.store, config, day, next).await?;
    let pulled = report_pull(&outcome, &stats);
    println!();
    let window = AuditWindow {
        from: day,
        to: next,
        as_of: Timestamp::now(),
    };
    let audited = audit_and_report(workspace, window, false).await?;
    // Unreadable responses are a problem found, even when the audit found none.
    Ok(audited.max(pulled))
}

/// `recaudit ledger ...` on the database (`verify-checkpoint`, which needs none, is
/// [`ledger_verify_checkpoint`]).
async fn ledger_command(workspace: &Workspace, command: LedgerCommand) -> Result<u8> {
    match command {
        LedgerCommand::Keygen => ledger_keygen(workspace),
        LedgerCommand::Verify {
            checkpoints,
            since,
            vkey,
        } => ledger_verify(workspace, &checkpoints, since.as_deref(), vkey.as_deref()).await,
        LedgerCommand::VerifyCheckpoint { .. } => {
            unreachable!("handled before the database is opened")
        }
        LedgerCommand::Prove {
            interaction,
            run,
            out,
        } => ledger_prove(workspace, &interaction, run.as_deref(), out.as_deref()).await,
        LedgerCommand::Export { out } => ledger_export(workspace, &out).await,
        LedgerCommand::Show { runs } => ledger_show(workspace, runs).await,
        LedgerCommand::Anchor => ledger_anchor(workspace).await,
    }
}

/// `recaudit ledger keygen`.
fn ledger_keygen(workspace: &Workspace) -> Result<u8> {
    let key_path = &workspace.key_path;
    let signer = ledger::create_key(key_path, &workspace.origin)?;
    println!(
        "Created {} (mode 0600, keep it secret).",
        key_path.display()
    );
    println!("{}", signer.vkey());
    Ok(0)
}

/// The verifier key of `ledger verify`: `--vkey`, else the one the ledger's key file derives.
fn verifier(workspace: &Workspace, explicit: Option<&str>) -> Result<NoteVerifier> {
    match explicit {
        Some(vkey) => parse_vkey(vkey),
        None => {
            let signer =
                ledger::load_key(&workspace.key_path, &workspace.origin).with_context(|| {
                    "no verifier key: pass --vkey, or --ledger-key with the ledger's key file"
                        .to_string()
                })?;
            Ok(signer.verifier())
        }
    }
}

/// `recaudit ledger verify`.
async fn ledger_verify(
    workspace: &Workspace,
    checkpoints: &[PathBuf],
    since: Option<&Path>,
    vkey: Option<&str>,
) -> Result<u8> {
    let settings = &workspace.settings;
    let store = &workspace.store;
    let presented = verify::read_presented(checkpoints)?;
    let verifier = verifier(workspace, vkey)?;
    // Verifying a copy of the database with the real vkey: the key names the origin.
    let origin = if vkey.is_some() && settings.ledger.origin.is_none() {
        verifier.name.clone()
    } else {
        workspace.origin.clone()
    };
    let options = VerifyOptions {
        origin: origin.clone(),
        verifier,
        presented,
        tsa_ca: settings.ledger.tsa_ca.clone(),
        anchor_dir: settings
            .ledger
            .anchor_dir_for(store.ledger_home().as_deref()),
        since: since.map(verify::read_checkpoint).transpose()?,
    };
    let report = verify::verify(store, &options).await?;
    for failure in &report.failures {
        println!("{failure}");
    }
    for skipped in &report.skipped {
        println!("SKIP {skipped}");
    }
    for lint in &report.lints {
        println!("LINT {lint}");
    }
    let checked = match &report.trusted {
        Some((_, size)) => format!(" checked after run {size}"),
        None => String::new(),
    };
    println!(
        "ledger {origin}: {} runs, {} findings and {} inputs{checked}, root {}",
        report.size,
        report.findings,
        report.inputs,
        report
            .root
            .map(hex::encode)
            .unwrap_or_else(|| "(empty)".to_string())
    );
    match (&report.trusted, since) {
        (Some((name, size)), _) => println!(
            "trusted: runs 1 to {size}, by the checkpoint {name} (it verifies and is the root of the first {size} run records); their findings and inputs were not re-read: run `recaudit ledger verify` without --since to check them too"
        ),
        (None, Some(path)) => println!(
            "trusted: nothing: the checkpoint {} does not match this ledger (see the failures), so every run was checked",
            path.display()
        ),
        (None, None) => {}
    }
    println!(
        "integrity: {}",
        if report.integrity_ok() {
            "OK"
        } else {
            "FAILED"
        }
    );
    let newest_outside = report.compared.iter().map(|(_, size)| *size).max();
    match newest_outside {
        _ if !report.completeness_ok() => println!("completeness: FAILED"),
        None => println!(
            "completeness: NOT PROVEN: no checkpoint from outside the database was compared, so a deletion of the newest runs together with their checkpoints cannot be ruled out; pass --checkpoint FILE with a checkpoint you kept, or keep [ledger] anchor_dir on"
        ),
        Some(size) if size == report.size => println!(
            "completeness: OK (the head matches a checkpoint kept outside the database; {} compared)",
            report.compared.len()
        ),
        Some(size) => println!(
            "completeness: OK up to size {size} (the newest of {} checkpoint(s) kept outside the database); runs {} to {} are covered only by the database's own checkpoints",
            report.compared.len(),
            size + 1,
            report.size
        ),
    }
    Ok(if report.ok() { 0 } else { 1 })
}

/// `recaudit ledger prove`.
async fn ledger_prove(
    workspace: &Workspace,
    interaction: &str,
    run: Option<&str>,
    out: Option<&Path>,
) -> Result<u8> {
    let proof = export::prove(&workspace.store, interaction, run).await?;
    let json = serde_json::to_string_pretty(&proof)? + "\n";
    match out {
        Some(path) => {
            std::fs::write(path, json)
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!("Proof: {}", path.display());
        }
        None => print!("{json}"),
    }
    Ok(0)
}

/// `recaudit ledger export`.
async fn ledger_export(workspace: &Workspace, out: &Path) -> Result<u8> {
    let signer = ledger::load_key(&workspace.key_path, &workspace.origin)?;
    let summary = export::export(
        &workspace.store,
        &signer.vkey(),
        out,
        workspace.settings.ledger.tsa_ca.as_deref(),
    )
    .await?;
    println!(
        "Exported {} runs ({} findings), {} checkpoints, {} time stamps to {}",
        summary.runs,
        summary.findings,
        summary.checkpoints,
        summary.timestamps,
        out.display()
    );
    println!("Verify with: python3 {}/verify.py", out.display());
    Ok(0)
}

/// `recaudit ledger show`.
async fn ledger_show(workspace: &Workspace, runs: usize) -> Result<u8> {
    let (origin, key_path, store) = (&workspace.origin, &workspace.key_path, &workspace.store);
    println!("origin: {origin}");
    match ledger::load_key(key_path, origin) {
        Ok(signer) => println!("vkey: {}", signer.vkey()),
        Err(_) if !key_path.exists() => {
            println!("vkey: (no key file at {})", key_path.display())
        }
        Err(e) => println!("vkey: (unusable: {e})"),
    }
    let checkpoints = store.ledger_checkpoints().await?;
    match checkpoints.last() {
        Some((_, note)) => {
            let text = String::from_utf8_lossy(note);
            let body = text.split("\n\n").next().unwrap_or("").to_string() + "\n";
            match Checkpoint::parse_body(&body) {
                Ok(c) => println!("head: size {} root {}", c.size, hex::encode(c.root)),
                Err(e) => println!("head: unreadable checkpoint ({e})"),
            }
        }
        None => println!("head: empty ledger"),
    }
    let all = store.ledger_runs().await?;
    for run in all.iter().rev().take(runs) {
        match record::parse(&RUN, &run.record) {
            Ok(r) => println!(
                "{:>6}  {}  {} findings  {} inputs  window {} to {}  completed {}",
                run.idx,
                r.get(&RUN, "run"),
                r.get(&RUN, "findings"),
                r.get(&RUN, "inputs"),
                r.get(&RUN, "window-start"),
                r.get(&RUN, "window-end"),
                r.get(&RUN, "completed")
            ),
            Err(e) => println!(
                "{:>6}  {}  unreadable run record ({e})",
                run.idx, run.run_id
            ),
        }
    }
    Ok(0)
}

/// `recaudit ledger anchor`.
async fn ledger_anchor(workspace: &Workspace) -> Result<u8> {
    let (settings, store) = (&workspace.settings, &workspace.store);
    if settings.ledger.tsa_url.is_none()
        && settings
            .ledger
            .anchor_dir_for(store.ledger_home().as_deref())
            .is_none()
    {
        bail!("no anchors configured: set [ledger] tsa_url, or turn anchor_dir back on");
    }
    let outcome = anchor::anchor_missing(store, &settings.ledger).await?;
    for done in &outcome.done {
        println!("Anchor: {done}");
    }
    for failed in &outcome.failed {
        eprintln!("recaudit: anchoring failed: {failed}");
    }
    Ok(if outcome.failed.is_empty() { 0 } else { 2 })
}

/// Audits a window, seals it into the ledger (creating the key on first use), prints the
/// summary, and returns the exit status: 0 no exceptions, 1 exceptions or a partial run, 2
/// anchoring failed, 3 the evidence does not cover the window (nothing sealed or created).
async fn audit_and_report(
    workspace: &Workspace,
    window: AuditWindow,
    allow_partial: bool,
) -> Result<u8> {
    let (store, settings) = (&workspace.store, &workspace.settings);
    let policy = settings.policy();
    let prepared = match pipeline::prepare_audit(store, &policy, window, allow_partial).await {
        Ok(prepared) => prepared,
        Err(
            refusal @ (recaudit::error::Error::NotCovered { .. }
            | recaudit::error::Error::EvidenceGap { .. }),
        ) => {
            eprintln!("recaudit: {refusal}");
            return Ok(3);
        }
        Err(e) => return Err(e.into()),
    };
    if prepared.coverage.partial {
        eprintln!(
            "recaudit: sealing a PARTIAL run as asked (--allow-partial): {}",
            prepared.coverage.gaps.join("; ")
        );
    }
    let ledger = reporting::open_ledger(workspace).await?;
    let outcome = pipeline::seal_audit_with(
        store,
        &policy,
        &ledger,
        prepared,
        &workspace.locations.reports_dir,
        &workspace.settings.report_options(),
    )
    .await?;
    print!("{}", outcome.summary);
    println!("\nReports: {}", outcome.report_dir.display());
    let checkpoint = &outcome.ledger.checkpoint;
    println!(
        "Ledger: run {} at index {}, checkpoint size {} root {}",
        outcome.run.run_id,
        outcome.ledger.index,
        checkpoint.size,
        hex::encode(checkpoint.root)
    );
    for done in &outcome.anchors.done {
        println!("Anchor: {done}");
    }
    if !outcome.anchors.failed.is_empty() {
        for failed in &outcome.anchors.failed {
            eprintln!("recaudit: anchoring failed: {failed}");
        }
        eprintln!(
            "recaudit: the run is stored and signed; retry anchoring with `recaudit ledger anchor`."
        );
        return Ok(2);
    }
    Ok(
        if outcome.tally.count(Status::Exception) > 0 || outcome.partial {
            1
        } else {
            0
        },
    )
}

fn report_pull(outcome: &import::ImportOutcome, stats: &PullStats) -> u8 {
    let seconds = stats.elapsed.as_secs_f64().max(0.001);
    println!(
        "pulled {} conversations in {:.1} s: {} requests ({:.1}/min), {} answered 429, {} retried, {} tokens; stored {} new responses, {} unchanged",
        stats.conversations,
        seconds,
        stats.requests,
        stats.requests as f64 * 60.0 / seconds,
        stats.rate_limited,
        stats.retried,
        stats.tokens,
        outcome.imported,
        outcome.unchanged
    );
    match stats.export_jobs.as_slice() {
        [] => eprintln!(
            "recaudit: no finished bulk export job covers the window, so failed exports are not known; pass --recording-job ID, or --integration-id ID to create one"
        ),
        jobs => println!(
            "read the failed recordings of export job(s) {}",
            jobs.join(", ")
        ),
    }
    if let Some(job) = &stats.adopted_export_job {
        println!(
            "export job {job} was asked for by an interrupted run of this pull and found in the org's listing: it was read, no second job was created"
        );
    }
    if let Some(horizon) = stats.details_horizon {
        eprintln!(
            "recaudit: conversation details are available only up to {horizon} (dataAvailabilityDate); later conversations come with a later pull, and `audit` refuses the window until then"
        );
    }
    for job in &stats.unfinished_export_jobs {
        eprintln!(
            "recaudit: export job {job} covers the window but has not finished; pull again later to read it"
        );
    }
    for rejection in &outcome.rejected {
        eprintln!("recaudit: unreadable response {rejection}");
    }
    if outcome.rejected.is_empty() { 0 } else { 1 }
}

/// Turns SIGTERM and SIGINT into a stop request for the pull: it ends after the current step,
/// with everything it received stored and its progress saved, and the binary exits with 128
/// plus the signal's number (143, 130), which the returned cell holds once a signal came. A
/// second signal ends the process at once: progress is committed page by page, so even that
/// loses only the requests in flight.
fn stop_on_signals(stop: &Stop) -> Result<Arc<AtomicU8>> {
    let received = Arc::new(AtomicU8::new(0));
    let seen = received.clone();
    let stop = stop.clone();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
        tokio::spawn(async move {
            loop {
                let code = tokio::select! {
                    _ = terminate.recv() => 143,
                    _ = interrupt.recv() => 130,
                };
                stopping(&seen, &stop, code);
            }
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            stopping(&seen, &stop, 130);
        }
    });
    Ok(received)
}

/// The first signal asks the pull to stop; a second one exits at once.
fn stopping(seen: &AtomicU8, stop: &Stop, code: u8) {
    if seen.swap(code, Ordering::SeqCst) != 0 {
        eprintln!(
            "recaudit: {} again: exiting now; the stored pages keep their progress",
            signal_name(code)
        );
        std::process::exit(code.into());
    }
    eprintln!(
        "recaudit: {}: stopping after the current step (send it again to exit at once)",
        signal_name(code)
    );
    stop.request();
}

fn signal_name(code: u8) -> &'static str {
    match code {
        143 => "SIGTERM",
        130 => "SIGINT",
        _ => "a stop request",
    }
}

#[cfg(feature = "simulator")]
/// The UTC day to simulate: `--date`, or yesterday.
fn night(date: Option<&str>) -> Result<Timestamp> {
    let start = match date {
        Some(text) => cli_time("--date", text)?,
        None => Timestamp::now().plus_millis(-24 * 3_600_000),
    };
    let day = start.millis().div_euclid(86_400_000) * 86_400_000;
    Ok(Timestamp::from_millis(day))
}

#[cfg(feature = "simulator")]
/// `recaudit sim ...`: needs no database.
async fn sim_command(command: &SimCommand) -> Result<u8> {
    match command {
        SimCommand::Export {
            out,
            details,
            s3,
            seed,
            conversations,
            date,
        } => {
            sim_export(
                out,
                details.as_deref(),
                s3,
                *seed,
                *conversations,
                date.as_deref(),
            )
            .await
        }
        SimCommand::Serve(args) => sim_serve(args).await,
    }
}

#[cfg(feature = "simulator")]
/// `recaudit sim export`: into a folder, or a bucket for an `s3://` `--out`.
async fn sim_export(
    out: &Path,
    details: Option<&Path>,
    s3: &recaudit::cli::S3Location,
    seed: u64,
    conversations: usize,
    date: Option<&str>,
) -> Result<u8> {
    use recaudit::simulator::export;
    let day = night(date)?;
    // Built as it is written: a night of any size is never held whole.
    let details_file = match details {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create the details file {}", path.display()))?,
        )) as Box<dyn std::io::Write + Send>,
        None => Box::new(std::io::sink()),
    };
    let mut night =
        export::NightExport::new(seed, conversations, day, &Mix::default(), details_file);
    let files = match out.to_str().filter(|out| out.starts_with("s3://")) {
        Some(url) => sim_upload(&mut night, url, s3).await?,
        None => export::write_folder(out, &mut night)
            .with_context(|| format!("cannot write the export tree into {}", out.display()))?,
    };
    if let Some(path) = details {
        night
            .finish()
            .with_context(|| format!("cannot write the details file {}", path.display()))?;
        println!(
            "Wrote the details of {conversations} conversations into {}",
            path.display()
        );
    }
    println!(
        "Wrote {files} files of the S3 export of {conversations} conversations on {} into {}",
        &day.to_string()[..10],
        out.display()
    );
    Ok(0)
}

/// Writes the export tree `files` into the bucket of the `s3://` URL `url`.
#[cfg(all(feature = "simulator", feature = "s3"))]
async fn sim_upload(
    files: impl Iterator<Item = recaudit::simulator::export::ExportFile>,
    url: &str,
    location: &recaudit::cli::S3Location,
) -> Result<usize> {
    use recaudit::source::s3;
    let url = s3::S3Url::parse(url)?;
    let bucket = Arc::new(s3::open_bucket(&url, &location.settings())?);
    Ok(recaudit::simulator::export::upload(files, bucket, &url).await?)
}

#[cfg(all(feature = "simulator", not(feature = "s3")))]
async fn sim_upload(
    _files: impl Iterator<Item = recaudit::simulator::export::ExportFile>,
    url: &str,
    _location: &recaudit::cli::S3Location,
) -> Result<usize> {
    bail!("{url}: this recaudit was built without S3 support (cargo feature `s3`)")
}

#[cfg(feature = "simulator")]
/// `recaudit sim serve`: serves until interrupted.
async fn sim_serve(args: &ServeArgs) -> Result<u8> {
    let ServeArgs {
        port,
        seed,
        conversations,
        date,
        rate_limit,
        error_permille,
        latency_ms,
        token_lifetime,
        hang_permille,
    } = args;
    let day = night(date.as_deref())?;
    let org = Org::generate(*seed, *conversations, day, &Mix::default());
    let faults = Faults {
        rate_limit_per_minute: *rate_limit,
        error_permille: *error_permille,
        latency: std::time::Duration::from_millis(*latency_ms),
        token_lifetime: std::time::Duration::from_secs(*token_lifetime),
        hang_permille: *hang_permille,
        ..Faults::default()
    };
    let client = SimClient::default();
    let server = SimServer::start(
        org,
        faults,
        client.clone(),
        format!("127.0.0.1:{port}").parse()?,
    )
    .await?;
    println!(
        "Genesys Cloud simulator on {} ({conversations} conversations on {}, seed {seed})",
        server.base_url(),
        &day.to_string()[..10]
    );
    println!(
        "Pull it with: GENESYS_CLIENT_ID={} GENESYS_CLIENT_SECRET={} recaudit pull --api-base {} --from {} --to {}",
        client.id,
        client.secret,
        server.base_url(),
        &day.to_string()[..10],
        &day.plus_millis(86_400_000).to_string()[..10]
    );
    server.wait().await;
    Ok(0)
}

/// A vkey given inline or as a file.
fn parse_vkey(text: &str) -> Result<NoteVerifier> {
    let inline = NoteVerifier::parse(text);
    if let Ok(verifier) = inline {
        return Ok(verifier);
    }
    let path = Path::new(text);
    if path.is_file() {
        let content = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return NoteVerifier::parse(&content)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("{} holds no verifier key", path.display()));
    }
    inline.map_err(anyhow::Error::msg)
}

/// `recaudit ledger verify-checkpoint`: needs no database.
fn ledger_verify_checkpoint(vkey: &str, file: &Path) -> Result<u8> {
    let verifier = parse_vkey(vkey)?;
    let note = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let Ok(note) = String::from_utf8(note) else {
        println!("FAIL V1: {} is not UTF-8 text", file.display());
        return Ok(1);
    };
    match verifier.verify_checkpoint(&note, &verifier.name) {
        Ok(checkpoint) => {
            println!(
                "OK: {} size {} root {}",
                checkpoint.origin,
                checkpoint.size,
                hex::encode(checkpoint.root)
            );
            Ok(0)
        }
        Err(e) => {
            println!("FAIL {e}");
            Ok(1)
        }
    }
}

fn cli_time(flag: &str, text: &str) -> Result<Timestamp> {
    let time = Timestamp::parse_cli(text).with_context(|| {
        format!("{flag} is not a UTC instant (try 2026-07-14 or 2026-07-14T00:00:00Z)")
    })?;
    // A window end in the future gets its own message from the audit; an instant before any
    // contact center event (0000-01-01) is a typo, and an `--as-of` past 2100 one too.
    let too_late = flag == "--as-of" && !time.is_plausible_event();
    if time < Timestamp::EARLIEST_EVENT || too_late {
        bail!("{flag} {time} is outside the years 2000 to 2100 (try 2026-07-14)");
    }
    Ok(time)
}
