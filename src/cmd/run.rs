//! `recaudit run`, the nightly job, as the binary runs it: the lock, the windows, the sources
//! (starting the built-in simulator for `--source sim`), `pipeline::night`, and what the
//! operator sees: one line per window, one final summary line, and the exit status.

use std::path::PathBuf;

use anyhow::Result;
use recaudit::cli::RunArgs;
use recaudit::pipeline::night::{self, NightContext, NightOutcome, NightSource, NightStatus};
use recaudit::pipeline::window::{self, Window};
use recaudit::source::genesys::Stop;
use recaudit::store::Store;
use recaudit::time::Timestamp;

use super::{Workspace, cli_time, describe, pull_config};

/// Takes the run lock of the database `db`; `Err` is the exit status of a refused run (the
/// holder named on stderr).
pub(crate) fn run_lock(db: &str) -> Result<Result<night::RunLock, u8>> {
    let database = Store::file_of(db)?;
    Ok(match night::RunLock::try_acquire(database.as_deref())? {
        Ok(lock) => Ok(lock),
        Err(holder) => {
            eprintln!(
                "recaudit: another run holds {} ({}); this one did nothing. It ends by itself; a crashed holder releases the lock when its process ends.",
                database.map_or_else(|| db.to_string(), |p| p.display().to_string()),
                holder.0
            );
            final_line(NightStatus::Locked, "another run holds the lock");
            Err(NightStatus::Locked.code())
        }
    })
}

/// The exit status of a run that failed before it could start, the error printed.
pub(crate) fn failed(error: &anyhow::Error) -> u8 {
    let status = error
        .downcast_ref::<recaudit::Error>()
        .map_or(NightStatus::Usage, NightStatus::of_error);
    eprintln!("recaudit: {}", describe(error));
    final_line(status, "the run did not start");
    status.code()
}

/// `recaudit run`: returns the exit status; errors are printed here, so that each maps to its
/// documented status.
pub(crate) async fn run_command(workspace: &Workspace, args: &RunArgs) -> u8 {
    match night_run(workspace, args).await {
        Ok(code) => code,
        Err(e) => failed(&e),
    }
}

async fn night_run(workspace: &Workspace, args: &RunArgs) -> Result<u8> {
    let settings = &workspace.settings.run;
    let zone_name = args
        .tz
        .clone()
        .unwrap_or_else(|| settings.time_zone.clone());
    let zone = window::zone(&zone_name)?;
    let as_of = match &args.as_of {
        Some(text) => cli_time("--as-of", text)?,
        None => Timestamp::now(),
    };
    let tonight = window::parse_windows(&args.window, zone, as_of)?;
    if let Some(open) = tonight.iter().find(|w| w.to > as_of) {
        return Err(recaudit::Error::Usage(format!(
            "--window {}: the window {open} has not ended at {as_of}; run it once it has",
            args.window
        ))
        .into());
    }
    let names = if args.sources.is_empty() {
        settings.sources.clone()
    } else {
        args.sources.clone()
    };
    if names.is_empty() {
        return Err(recaudit::Error::Usage(
            "no source: pass --source api, sim, a folder or s3://BUCKET/PREFIX (repeatable), or set [run] sources".to_string(),
        )
        .into());
    }
    let min_completeness = args.min_completeness.or(settings.min_completeness);
    let plan = night::plan(&workspace.store, tonight, settings.lookback_days, as_of).await?;
    for w in &plan.revisit {
        println!("revisiting {w}: its verdicts may still change");
    }
    let sources = Sources::open(workspace, args, &names, &plan.windows(), as_of).await?;
    let ctx = NightContext {
        store: &workspace.store,
        policy: workspace.settings.policy(),
        ledger_settings: workspace.settings.ledger.clone(),
        origin: workspace.origin.clone(),
        key_path: workspace.key_path.clone(),
        reports_dir: workspace.locations.reports_dir.clone(),
        import_settings: workspace.settings.import.clone(),
        sources: sources.list.clone(),
        time_zone: zone_name.clone(),
        as_of,
        min_completeness,
    };
    let started = Timestamp::now();
    let signal = super::stop_on_signals(&sources.stop)?;
    let outcome = tokio::select! {
        outcome = night::run_night(&ctx, &plan) => outcome?,
        code = stopped(&signal) => {
            // The current step is abandoned: its transaction rolls back, its progress is what
            // was committed, and the next run redoes it.
            eprintln!("recaudit: stopped by a signal; the step in progress was abandoned, run again to finish the night");
            final_line(NightStatus::Failed, "stopped by a signal");
            return Ok(code);
        }
    };
    drop(sources);
    print_outcome(&outcome, &zone_name, started);
    Ok(outcome.status.code())
}

/// Waits until a signal has arrived (the cell `stop_on_signals` fills).
async fn stopped(signal: &std::sync::atomic::AtomicU8) -> u8 {
    loop {
        let code = signal.load(std::sync::atomic::Ordering::SeqCst);
        if code != 0 {
            return code;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The sources of a run, and what keeps them alive (the built-in simulator's server).
struct Sources {
    list: Vec<NightSource>,
    stop: Stop,
    #[cfg(feature = "simulator")]
    _simulator: Option<recaudit::simulator::SimServer>,
}

impl Sources {
    async fn open(
        workspace: &Workspace,
        args: &RunArgs,
        names: &[String],
        windows: &[Window],
        as_of: Timestamp,
    ) -> Result<Sources> {
        let stop = Stop::default();
        let mut sources = Sources {
            list: Vec::new(),
            stop: stop.clone(),
            #[cfg(feature = "simulator")]
            _simulator: None,
        };
        for name in names {
            let source = match name.as_str() {
                "api" => {
                    let mut config = pull_config(&workspace.settings, &args.api)?;
                    config.stop = stop.clone();
                    NightSource::Api(Box::new(config))
                }
                "sim" => sources.simulator(args, windows, as_of).await?,
                url if url.starts_with("s3://") => bucket(workspace, args, url)?,
                folder => {
                    let path = PathBuf::from(folder);
                    if !path.exists() {
                        return Err(recaudit::Error::Usage(format!(
                            "--source {folder}: no such folder (give api, sim, a folder or s3://BUCKET/PREFIX)"
                        ))
                        .into());
                    }
                    NightSource::Folder(path)
                }
            };
            sources.list.push(source);
        }
        Ok(sources)
    }

    /// `--source sim`: a simulator on loopback serving a synthetic org over every window of
    /// the run, its clock at `as_of` (so that a late recording arrives when the nights say).
    #[cfg(feature = "simulator")]
    async fn simulator(
        &mut self,
        args: &RunArgs,
        windows: &[Window],
        as_of: Timestamp,
    ) -> Result<NightSource> {
        use recaudit::simulator::{Faults, Mix, Org, SimClient, SimServer};
        let nights: Vec<(Timestamp, Timestamp)> = windows.iter().map(|w| (w.from, w.to)).collect();
        let org = Org::nights(
            args.sim_seed,
            args.sim_conversations,
            &nights,
            &Mix::nightly(),
        );
        let client = SimClient::default();
        let faults = Faults {
            clock: Some(as_of),
            ..Faults::default()
        };
        let server = SimServer::start(org, faults, client.clone(), "127.0.0.1:0".parse()?).await?;
        let mut config = recaudit::source::genesys::PullConfig::new(
            server.base_url(),
            server.base_url(),
            recaudit::source::genesys::Credentials::new(client.id, client.secret),
        );
        // The simulator's org has its own export job covering the nights; it is read as the
        // org's would be.
        config.stop = self.stop.clone();
        println!(
            "simulator: {} ({} conversations a night, seed {})",
            server.base_url(),
            args.sim_conversations,
            args.sim_seed
        );
        self._simulator = Some(server);
        Ok(NightSource::Api(Box::new(config)))
    }

    #[cfg(not(feature = "simulator"))]
    async fn simulator(
        &mut self,
        _args: &RunArgs,
        _windows: &[Window],
        _as_of: Timestamp,
    ) -> Result<NightSource> {
        Err(recaudit::Error::Usage(
            "--source sim: this recaudit was built without the simulator (cargo feature `simulator`)".to_string(),
        )
        .into())
    }
}

#[cfg(feature = "s3")]
fn bucket(workspace: &Workspace, args: &RunArgs, url: &str) -> Result<NightSource> {
    use recaudit::source::s3;
    let config = &workspace.settings.s3;
    let mut settings = args.s3.settings();
    settings.endpoint = settings.endpoint.or_else(|| config.endpoint.clone());
    settings.region = settings.region.or_else(|| config.region.clone());
    settings.virtual_hosted |= config.virtual_hosted;
    Ok(NightSource::Bucket {
        url: s3::S3Url::parse(url)?,
        settings,
        hash_media: args.hash_media || config.hash_media,
        hash_concurrency: config
            .hash_concurrency
            .map_or(s3::HASH_CONCURRENCY, usize::from),
        margin_days: config.margin_days.unwrap_or(2),
    })
}

#[cfg(not(feature = "s3"))]
fn bucket(_workspace: &Workspace, _args: &RunArgs, url: &str) -> Result<NightSource> {
    Err(anyhow::anyhow!(
        "{url}: this recaudit was built without S3 support (cargo feature `s3`)"
    ))
}

/// One line per window, the problems, the ledger, then the final summary line.
fn print_outcome(outcome: &NightOutcome, zone: &str, started: Timestamp) {
    if let Some(vkey) = &outcome.created_key {
        println!(
            "Created the ledger signing key (keep it secret). Give auditors its verifier key: {vkey}"
        );
    }
    for w in &outcome.windows {
        let what = match (&w.sealed, &w.superseded, &w.standing) {
            (Some(run), Some(old), _) => format!("sealed run {run}, superseding {old}"),
            (Some(run), None, _) => format!("sealed run {run}"),
            (None, _, Some(run)) => format!("verdicts unchanged, run {run} stands"),
            (None, _, None) => "no verdict".to_string(),
        };
        let counts = w.tally.as_ref().map_or_else(String::new, |t| {
            let parts: Vec<String> = t.by_status().map(|(s, n)| format!("{n} {s}")).collect();
            format!(": {} conversations ({})", t.total(), parts.join(", "))
        });
        println!(
            "window {} ({zone}{}): {what}{counts}",
            w.window,
            if w.revisited { ", revisited" } else { "" }
        );
        for problem in &w.problems {
            eprintln!("recaudit: {}: {problem}", w.window);
        }
    }
    for problem in &outcome.problems {
        eprintln!("recaudit: {problem}");
    }
    let sealed = outcome
        .windows
        .iter()
        .filter(|w| w.sealed.is_some())
        .count();
    let exceptions: usize = outcome
        .windows
        .iter()
        .filter_map(|w| w.tally.as_ref())
        .map(|t| t.count(recaudit::audit::Status::Exception))
        .sum();
    let pending: usize = outcome
        .windows
        .iter()
        .filter_map(|w| w.tally.as_ref())
        .map(|t| t.count(recaudit::audit::Status::Pending))
        .sum();
    let seconds = (Timestamp::now().millis() - started.millis()) as f64 / 1000.0;
    final_line(
        outcome.status,
        &format!(
            "{} windows, {sealed} runs sealed, {exceptions} exceptions, {pending} pending, {seconds:.1} s",
            outcome.windows.len()
        ),
    );
}

/// The one line every run ends with, whatever happened.
fn final_line(status: NightStatus, what: &str) {
    let line = format!(
        "recaudit run: {} (exit {}): {what}",
        status.word(),
        status.code()
    );
    tracing::info!(status = status.word(), exit = status.code(), "{line}");
    println!("{line}");
}
