//! The `recaudit` binary: parses arguments, sets up logging, runs one command and maps the
//! outcome to an exit status (0 fine, 1 problems found, 2 the command failed).

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use recaudit::cli::{Cli, Command};
use recaudit::config::Settings;
use recaudit::pipeline::{self, AuditWindow};
use recaudit::source::import;
use recaudit::store::Store;
use recaudit::time::Timestamp;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
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
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("recaudit: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn run(cli: Cli) -> Result<u8> {
    let settings = Settings::load(cli.config.as_deref())?;
    let store = Store::open(&cli.db).await?;
    let code = match cli.command {
        Command::Import { paths } => {
            let outcome = import::import_paths(&store, &paths).await?;
            for rejection in &outcome.rejected {
                eprintln!("recaudit: rejected {rejection}");
            }
            let kinds: Vec<String> = outcome
                .by_kind
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            println!(
                "imported {} new inputs ({}), {} unchanged, {} rejected, {} conversations written",
                outcome.imported,
                if kinds.is_empty() {
                    "none".to_string()
                } else {
                    kinds.join(", ")
                },
                outcome.unchanged,
                outcome.rejected.len(),
                outcome.conversations
            );
            if outcome.rejected.is_empty() {
                0
            } else {
                eprintln!(
                    "recaudit: {} file(s) were rejected and not imported; everything else was. Fix or remove them and import again.",
                    outcome.rejected.len()
                );
                1
            }
        }
        Command::Audit { from, to, as_of } => {
            let window = AuditWindow {
                from: cli_time("--from", &from)?,
                to: cli_time("--to", &to)?,
                as_of: match as_of {
                    Some(text) => cli_time("--as-of", &text)?,
                    None => Timestamp::now(),
                },
            };
            let outcome =
                pipeline::run_audit(&store, &settings.policy(), window, &cli.reports_dir).await?;
            print!("{}", outcome.summary);
            println!("\nReports: {}", outcome.report_dir.display());
            if outcome.tally.count(recaudit::audit::Status::Exception) > 0 {
                1
            } else {
                0
            }
        }
        Command::Report { run } => {
            let dir = pipeline::regenerate_reports(&store, &run, &cli.reports_dir).await?;
            println!("Reports: {}", dir.display());
            0
        }
        Command::Runs { limit } => {
            for run_id in store.recent_runs(limit).await? {
                let run = store.load_run(&run_id).await?;
                println!(
                    "{}  window {} to {}  as of {}  completed {}",
                    run.run_id, run.window_start, run.window_end, run.as_of, run.completed
                );
            }
            0
        }
    };
    store.close().await;
    Ok(code)
}

fn cli_time(flag: &str, text: &str) -> Result<Timestamp> {
    Timestamp::parse_cli(text).with_context(|| {
        format!("{flag} is not a UTC instant (try 2026-07-14 or 2026-07-14T00:00:00Z)")
    })
}
