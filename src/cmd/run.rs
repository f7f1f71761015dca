//! `recaudit run`, the nightly job, as the binary runs it: the lock, the windows, the sources
//! (starting the built-in simulator for `--source sim`), `pipeline::night`, and what the
//! operator sees: one line per window, one final summary line, and the exit status.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use recaudit::audit::Status;
use recaudit::cli::{RunArgs, SIM_SOURCE};
use recaudit::ledger::note::Checkpoint;
use recaudit::notify::{self, Outcome, RunSummary};
use recaudit::pipeline::night::{self, NightContext, NightOutcome, NightSource, NightStatus};
use recaudit::pipeline::window::{self, Window};
use recaudit::source::genesys::Stop;
use recaudit::store::Store;
use recaudit::time::Timestamp;

use super::{Workspace, cli_time, describe, pull_config, say};

/// Takes the run lock of the database `db`; `Err` is the exit status of a refused run (the
/// holder named on stderr).
pub(crate) fn run_lock(db: &str) -> Result<Result<night::RunLock, u8>> {
    let database = Store::file_of(db)?;
    Ok(match night::RunLock::try_acquire(database.as_deref())? {
        Ok(lock) => Ok(lock),
        Err(holder) => {
            say(&format!(
                "another run holds {} ({}); this one did nothing. It ends by itself; a crashed holder releases the lock when its process ends.",
                database.map_or_else(|| db.to_string(), |p| p.display().to_string()),
                holder.0
            ));
            final_line(NightStatus::Locked, "another run holds the lock");
            Err(NightStatus::Locked.code())
        }
    })
}

/// The exit status of a run ended by an error (before it started, or a failure no window could
/// absorb: the database, the disk), with the error and the final line printed.
pub(crate) fn failed(error: &anyhow::Error) -> u8 {
    // The library's errors say what they are; an operating-system error is the machine's (7);
    // the binary's own messages are about its arguments (2).
    let status = match (
        error.downcast_ref::<recaudit::Error>(),
        error.downcast_ref::<std::io::Error>(),
    ) {
        (Some(e), _) => NightStatus::of_error(e),
        (None, Some(_)) => NightStatus::Failed,
        (None, None) => NightStatus::Usage,
    };
    let message = describe(error);
    say(&message);
    final_line(status, &message);
    status.code()
}

/// `recaudit run`: returns the exit status; errors are printed here, so that each maps to its
/// documented status. The dead-man's switch hears of the start and the end, and the webhooks,
/// e-mail and metrics file of the outcome, whatever it is; none of them can fail the run.
pub(crate) async fn run_command(workspace: &Workspace, args: &RunArgs) -> u8 {
    let settings = &workspace.settings.notify;
    let started = Timestamp::now();
    if let Some(receipt) = notify::ping_start(settings).await
        && receipt.error.is_some()
    {
        tracing::warn!("dead-man's switch: {receipt}");
    }
    let (code, summary) = match night_run(workspace, args, started).await {
        Ok((code, summary)) => (code, summary),
        Err(e) => {
            let code = failed(&e);
            (code, failure_summary(started, code, &describe(&e)))
        }
    };
    let delivery = notify::notify(settings, &summary).await;
    for receipt in delivery.failed() {
        say(&format!("notification not delivered: {receipt}"));
    }
    recaudit::failpoint::hit("mid-notification");
    if let Some(receipt) = notify::ping_finish(settings, &summary).await
        && receipt.error.is_some()
    {
        say(&format!("dead-man's switch not reached: {receipt}"));
    }
    if let Some(path) = &settings.metrics_file
        && let Err(e) = notify::write_metrics(path, &notify::Metrics::from(&summary))
    {
        say(&format!("metrics file not written: {e}"));
    }
    code
}

/// What the notifications say of a run that ended in an error.
fn failure_summary(started: Timestamp, code: u8, message: &str) -> RunSummary {
    let finished = Timestamp::now();
    RunSummary {
        version: env!("CARGO_PKG_VERSION").to_string(),
        host: night::host_name(),
        outcome: Outcome::Failure,
        exit_status: code,
        message: message.to_string(),
        window_from: started,
        window_to: started,
        time_zone: String::new(),
        runs: Vec::new(),
        supersedes: Vec::new(),
        started,
        finished,
        duration_seconds: seconds_between(started, finished),
        conversations: 0,
        statuses: BTreeMap::new(),
        reasons: BTreeMap::new(),
        completeness_percent: None,
        checkpoint: None,
        report_dir: None,
    }
}

fn seconds_between(from: Timestamp, to: Timestamp) -> f64 {
    (to.millis() - from.millis()) as f64 / 1000.0
}

/// What the notifications say of a night: the counts of the windows whose verdicts are news
/// (`WindowOutcome::is_news`), every run sealed, the
/// newest checkpoint.
fn night_summary(
    outcome: &NightOutcome,
    tonight: &[Window],
    zone: &str,
    started: Timestamp,
    reports_dir: &std::path::Path,
    min_completeness: Option<f64>,
) -> RunSummary {
    let mut tally = recaudit::report::Tally::default();
    for window in outcome.windows.iter().filter(|w| w.is_news()) {
        if let Some(t) = &window.tally {
            tally.absorb(t);
        }
    }
    let count = |n: usize| n as u64;
    let statuses: BTreeMap<String, u64> = tally
        .by_status()
        .map(|(s, n)| (s.to_string(), count(n)))
        .collect();
    let reasons: BTreeMap<String, u64> = tally
        .by_reason()
        .map(|(r, n)| (r.to_string(), count(n)))
        .collect();
    let exceptions = tally.count(Status::Exception);
    let completeness = tally.completeness_percent();
    let below = matches!((min_completeness, completeness), (Some(min), Some(c)) if c < min);
    let outcome_word = match outcome.status {
        NightStatus::Clean => Outcome::Ok,
        NightStatus::Exceptions if below => Outcome::BelowThreshold,
        NightStatus::Exceptions => Outcome::Exceptions,
        NightStatus::EvidenceIncomplete => Outcome::NotCovered,
        _ => Outcome::Failure,
    };
    let mut problems: Vec<String> = outcome
        .windows
        .iter()
        .flat_map(|w| w.problems.iter().map(move |p| format!("{}: {p}", w.window)))
        .collect();
    problems.extend(outcome.problems.iter().cloned());
    let finished = Timestamp::now();
    RunSummary {
        version: env!("CARGO_PKG_VERSION").to_string(),
        host: night::host_name(),
        outcome: outcome_word,
        exit_status: outcome.status.code(),
        message: if problems.is_empty() {
            format!("{}: {} exceptions", outcome.status.word(), exceptions)
        } else {
            format!("{}: {}", outcome.status.word(), problems.join("; "))
        },
        window_from: tonight.iter().map(|w| w.from).min().unwrap_or(started),
        window_to: tonight.iter().map(|w| w.to).max().unwrap_or(started),
        time_zone: zone.to_string(),
        runs: outcome
            .windows
            .iter()
            .filter_map(|w| w.sealed.clone())
            .collect(),
        supersedes: outcome
            .windows
            .iter()
            .filter_map(|w| w.superseded.clone())
            .collect(),
        started,
        finished,
        duration_seconds: seconds_between(started, finished),
        conversations: statuses.values().sum(),
        statuses,
        reasons,
        completeness_percent: completeness,
        checkpoint: outcome.checkpoint.as_deref().and_then(checkpoint_of),
        report_dir: Some(reports_dir.display().to_string()),
    }
}

/// The size and root of a signed checkpoint note, with the note itself.
fn checkpoint_of(note: &str) -> Option<notify::Checkpoint> {
    use base64::Engine as _;
    let (body, _) = note.split_once("\n\n")?;
    let parsed = Checkpoint::parse_body(&format!("{body}\n")).ok()?;
    Some(notify::Checkpoint {
        note: note.to_string(),
        size: parsed.size,
        root: base64::engine::general_purpose::STANDARD.encode(parsed.root),
    })
}

/// The sources of the run: `--source`, else `[run] sources`; the simulator only alone and only
/// from the command line, so that a synthetic night never lands beside real ones.
fn source_names(args: &RunArgs, settings: &night::RunSettings) -> Result<Vec<String>> {
    let names = if args.sources.is_empty() {
        if settings.sources.iter().any(|s| s == SIM_SOURCE) {
            return Err(recaudit::Error::Usage(
                "[run] sources = [\"sim\"]: the simulator is a --source of the command line only, so that a simulated night never lands in the production database".to_string(),
            )
            .into());
        }
        settings.sources.clone()
    } else {
        args.sources.clone()
    };
    if names.len() > 1 && names.iter().any(|s| s == SIM_SOURCE) {
        return Err(recaudit::Error::Usage(
            "--source sim cannot be combined with other sources: its night is synthetic"
                .to_string(),
        )
        .into());
    }
    if names.is_empty() {
        return Err(recaudit::Error::Usage(
            "no source: pass --source api, sim, a folder or s3://BUCKET/PREFIX (repeatable), or set [run] sources".to_string(),
        )
        .into());
    }
    Ok(names)
}

async fn night_run(
    workspace: &Workspace,
    args: &RunArgs,
    started: Timestamp,
) -> Result<(u8, RunSummary)> {
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
    if as_of > Timestamp::now() {
        return Err(recaudit::Error::Usage(format!(
            "--as-of {as_of} is in the future: a night is judged once it has happened"
        ))
        .into());
    }
    let tonight = window::parse_windows(&args.window, zone, as_of)?;
    if let Some(open) = tonight.iter().find(|w| w.to > as_of) {
        return Err(recaudit::Error::Usage(format!(
            "--window {}: the window {open} has not ended at {as_of}; run it once it has",
            args.window
        ))
        .into());
    }
    let names = source_names(args, settings)?;
    let min_completeness = args.min_completeness.or(settings.min_completeness);
    let plan = night::plan(
        &workspace.store,
        tonight.clone(),
        settings.lookback_days,
        as_of,
    )
    .await?;
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
        report_options: {
            // `--tz` is the night's zone, and the reports' unless [report] names another.
            let mut options = workspace.settings.report_options();
            if workspace.settings.report.time_zone.is_none() {
                options.time_zone.clone_from(&zone_name);
            }
            options
        },
    };
    let signal = super::stop_on_signals(&sources.stop)?;
    let result = tokio::select! {
        outcome = night::run_night(&ctx, &plan) => outcome,
        code = stopped(&signal) => return Ok(abandoned(started, code)),
    };
    let outcome = match result {
        Ok(outcome) => outcome,
        // The pull saw the stop request before the select did.
        Err(recaudit::Error::Interrupted) => {
            let code = signal.load(std::sync::atomic::Ordering::SeqCst);
            return Ok(abandoned(started, if code == 0 { 143 } else { code }));
        }
        Err(e) => return Err(e.into()),
    };
    drop(sources);
    print_outcome(&outcome, &zone_name, started);
    let summary = night_summary(
        &outcome,
        &tonight,
        &zone_name,
        started,
        &workspace.locations.reports_dir,
        min_completeness,
    );
    Ok((outcome.status.code(), summary))
}

/// A run stopped by SIGTERM or SIGINT: the step in progress is abandoned (its transaction rolls
/// back, the pull keeps what it committed) and the next run redoes it.
fn abandoned(started: Timestamp, code: u8) -> (u8, RunSummary) {
    let what = "stopped by a signal; the step in progress was abandoned and the next run finishes the night";
    say(what);
    let line = format!("recaudit run: stopped (exit {code}): {what}");
    tracing::info!(exit = code, "{line}");
    println!("{line}");
    (code, failure_summary(started, code, what))
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
                SIM_SOURCE => sources.simulator(args, windows, as_of).await?,
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
            rate_limit_per_minute: args.sim_rate_limit,
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
    Ok(NightSource::Bucket {
        url: s3::S3Url::parse(url)?,
        settings: config.under(args.s3.settings()),
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
            say(&format!("{}: {problem}", w.window));
        }
    }
    for problem in &outcome.problems {
        say(problem);
    }
    let sealed = outcome
        .windows
        .iter()
        .filter(|w| w.sealed.is_some())
        .count();
    let exceptions: usize = outcome
        .windows
        .iter()
        .filter(|w| w.is_news())
        .filter_map(|w| w.tally.as_ref())
        .map(|t| t.count(Status::Exception))
        .sum();
    let pending: usize = outcome
        .windows
        .iter()
        .filter_map(|w| w.tally.as_ref())
        .map(|t| t.count(Status::Pending))
        .sum();
    let seconds = (Timestamp::now().millis() - started.millis()) as f64 / 1000.0;
    final_line(
        outcome.status,
        &format!(
            "{} windows, {sealed} runs sealed, {exceptions} new exceptions, {pending} pending, {seconds:.1} s",
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
