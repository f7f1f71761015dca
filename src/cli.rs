//! Command-line arguments (clap derive). Only parsing lives here; `main.rs` runs the commands.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// recaudit: recording-completeness auditor for Genesys Cloud.
///
/// Imports conversation details and recording evidence, decides for every interaction whether
/// the recordings it should have exist with media, and writes reports.
#[derive(Debug, Parser)]
#[command(name = "recaudit", version, about, long_about = None)]
pub struct Cli {
    /// Database URL: sqlite://path (created if missing) or postgres://user@host/db [env: RECAUDIT_DB] [default:
    /// sqlite://recaudit.db; for `demo`: sqlite://recaudit-demo.db].
    #[arg(long, global = true)]
    pub(crate) db: Option<String>,

    /// Configuration file (TOML): scope, rule thresholds, retention and ledger. Optional.
    #[arg(long, global = true, env = "RECAUDIT_CONFIG")]
    pub config: Option<PathBuf>,

    /// Directory the reports are written to, one folder per run [env: RECAUDIT_REPORTS_DIR]
    /// [default: reports; for `demo`: reports-demo].
    #[arg(long, global = true)]
    pub(crate) reports_dir: Option<PathBuf>,

    /// Ledger signing key file [env: RECAUDIT_LEDGER_KEY] (default: [ledger] key, else
    /// `<database stem>.ledger.key` beside the database). Created with mode 0600 by the first
    /// audit when missing.
    #[arg(long, global = true)]
    pub(crate) ledger_key: Option<PathBuf>,

    /// More log output (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Log lines as human-readable text, or as JSON objects (one a line, for log shippers).
    /// Colour only on a terminal, and never with NO_COLOR set.
    #[arg(long, global = true, env = "RECAUDIT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// The database, reports folder and key file a command works on.
///
/// The production defaults (`recaudit.db`, `reports/`, the `RECAUDIT_*` environment) are never
/// used by `demo`: a simulated night must not become a run of the real ledger, so `demo` takes
/// only what is given on its command line and otherwise its own `recaudit-demo.db` and
/// `reports-demo/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locations {
    pub db: String,
    pub reports_dir: PathBuf,
    pub ledger_key: Option<PathBuf>,
}

impl Cli {
    /// Resolves the locations from the command line, then (except for `demo`) the
    /// environment, then the defaults.
    pub fn locations(&self) -> Locations {
        self.locations_with_origins().0
    }

    /// The locations and where each came from (`flag --db`, `env RECAUDIT_DB`, `default`;
    /// the ledger key's is `None` when neither gave one), for `config check`.
    pub fn locations_with_origins(&self) -> (Locations, LocationOrigins) {
        let demo = self.is_demo();
        let env = |name: &str| {
            if demo {
                None
            } else {
                std::env::var_os(name).filter(|v| !v.is_empty())
            }
        };
        let pick = |flag: Option<std::ffi::OsString>, option: &str, variable: &str| match (
            flag,
            env(variable),
        ) {
            (Some(value), _) => Some((value, format!("flag --{option}"))),
            (None, Some(value)) => Some((value, format!("env {variable}"))),
            (None, None) => None,
        };
        let default = || "default".to_string();
        let (db, db_from) = pick(self.db.clone().map(Into::into), "db", "RECAUDIT_DB")
            .map(|(v, from)| (v.to_string_lossy().into_owned(), from))
            .unwrap_or_else(|| {
                (
                    if demo { DEMO_DB } else { DEFAULT_DB }.to_string(),
                    default(),
                )
            });
        let (reports_dir, reports_dir_from) = pick(
            self.reports_dir.clone().map(Into::into),
            "reports-dir",
            "RECAUDIT_REPORTS_DIR",
        )
        .map(|(v, from)| (PathBuf::from(v), from))
        .unwrap_or_else(|| {
            let dir = if demo {
                DEMO_REPORTS_DIR
            } else {
                DEFAULT_REPORTS_DIR
            };
            (PathBuf::from(dir), default())
        });
        let key = pick(
            self.ledger_key.clone().map(Into::into),
            "ledger-key",
            "RECAUDIT_LEDGER_KEY",
        );
        let ledger_key_from = key.as_ref().map(|(_, from)| from.clone());
        let locations = Locations {
            db,
            reports_dir,
            ledger_key: key.map(|(v, _)| PathBuf::from(v)),
        };
        let origins = LocationOrigins {
            db: db_from,
            reports_dir: reports_dir_from,
            ledger_key: ledger_key_from,
        };
        (locations, origins)
    }
}

/// Where each of the [`Locations`] came from: `flag --db`, `env RECAUDIT_DB` or `default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationOrigins {
    pub db: String,
    pub reports_dir: String,
    /// `None`: no key file given (the settings or the default name it).
    pub ledger_key: Option<String>,
}

impl Cli {
    /// Whether the command works on a simulated org (`demo`, `run --source sim`), whose
    /// database, reports and ledger are its own: a synthetic night must never become a run of
    /// the production ledger.
    #[cfg(feature = "simulator")]
    pub fn is_demo(&self) -> bool {
        match &self.command {
            Command::Demo { .. } => true,
            Command::Run(args) => args.sources.iter().any(|s| s == SIM_SOURCE),
            _ => false,
        }
    }

    /// Whether the command is `demo` (built without the simulator, there is none).
    #[cfg(not(feature = "simulator"))]
    pub fn is_demo(&self) -> bool {
        false
    }
}

/// The `--source` of `run` that starts the built-in simulator.
pub const SIM_SOURCE: &str = "sim";

pub(crate) const DEFAULT_DB: &str = "sqlite://recaudit.db";
pub(crate) const DEFAULT_REPORTS_DIR: &str = "reports";
pub(crate) const DEMO_DB: &str = "sqlite://recaudit-demo.db";
pub(crate) const DEMO_REPORTS_DIR: &str = "reports-demo";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import Genesys Cloud payloads and S3 bulk-export trees (files or directories).
    ///
    /// NDJSON files are read as a stream, whatever their size; a JSON file larger than
    /// `[import] max_json_bytes` (default 256 MiB) is rejected unread. Waits while another
    /// import into the same database runs.
    ///
    /// Exit status: 0 all files imported or already stored, 1 some files rejected (each is
    /// named with the reason), 2 error.
    ///
    /// An `s3://BUCKET/PREFIX` path reads the export tree in a bucket: every sidecar is read;
    /// media objects are known from the listing (size, ETag, version), or downloaded and
    /// hashed with --hash-media. An object already stored with the same key and ETag is not
    /// read again, so an interrupted import continues where it stopped.
    /// Credentials come from the standard AWS chain (`AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY`, web identity, container or instance credentials); `AWS_REGION`,
    /// `AWS_ENDPOINT_URL` and the options below say where the bucket is.
    Import {
        /// Files or directories to import, or `s3://BUCKET/PREFIX`.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        s3: S3Args,
    },
    /// Audit the conversations that started in [--from, --to) and write a report.
    ///
    /// Exit status: 0 no exceptions, 1 exceptions found (or a partial run sealed on request),
    /// 2 error, 3 the evidence does not cover the window: no details, an unfinished pull, or
    /// details available only up to an earlier horizon (nothing sealed, no key created).
    Audit {
        /// Window start, UTC (e.g. 2026-07-14 or 2026-07-14T00:00:00Z), inclusive.
        #[arg(long)]
        from: String,
        /// Window end, UTC, exclusive.
        #[arg(long)]
        to: String,
        /// Judge as of this instant, UTC (default: now). Grace windows are measured to it.
        #[arg(long)]
        as_of: Option<String>,
        /// Instead of refusing (exit 3): when the details are available only up to a horizon
        /// before --to (dataAvailabilityDate), audit [--from, horizon); when the window has no
        /// details or an unfinished pull, seal a run marked PARTIAL in every report.
        #[arg(long)]
        allow_partial: bool,
    },
    /// Write a run's reports, regenerated byte for byte from the database, or a matter's.
    ///
    /// Every file is checked against the manifest the run sealed in the ledger before anything
    /// is written. With --matter, the report of that legal hold over the run (default: the
    /// newest audit run) is sealed in the ledger the first time and regenerated after that.
    /// PDF needs headless Chromium (Debian/Ubuntu package `chromium`).
    Report {
        /// The run id (see `recaudit runs`); default: the newest audit run.
        #[arg(long)]
        run: Option<String>,
        /// A legal hold's matter id (see `recaudit hold list`): only its interactions.
        #[arg(long)]
        matter: Option<String>,
        /// Files to write (default: all but pdf); manifest.json is always written.
        #[arg(long, value_enum, value_delimiter = ',')]
        format: Vec<ReportFormat>,
        /// With --matter, when the report is sealed: ask Genesys Cloud which held conversations
        /// are protected from deletion (POST /api/v2/recordings/deletionprotection, read-only),
        /// with the API options below; the answers are sealed with the report.
        #[arg(long, requires = "matter")]
        check_protection: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Legal holds: the matters whose interactions must be preserved, each change sealed in
    /// the ledger.
    Hold {
        #[command(subcommand)]
        command: HoldCommand,
    },
    /// Pull a window from the Genesys Cloud API into the database (then `audit` it).
    ///
    /// Credentials come from GENESYS_CLIENT_ID / GENESYS_CLIENT_SECRET or a 0600 secrets file.
    /// Progress is saved with every page: after any interruption (a kill, a crash, a lost
    /// connection, --max-requests) the same command continues where it stopped, fetching no
    /// stored page again and creating no second job. SIGTERM or SIGINT stops it after the
    /// current step (a second one at once).
    ///
    /// Exit status: 0 pulled, 1 some responses could not be read (named), 2 error, 143 or 130
    /// stopped by SIGTERM or SIGINT (progress saved: run it again to continue).
    Pull(PullArgs),
    /// The nightly job: fetch the night's evidence, re-check earlier windows still pending,
    /// audit, seal, report, anchor and notify, as one run (docs/OPERATIONS.md).
    ///
    /// Windows are the contact center's days in --tz (DST-correct), stored in UTC. Earlier
    /// windows whose newest run has pending interactions, or whose run never finished, are
    /// fetched and audited again; a window whose verdicts changed gets a new ledger run that
    /// supersedes the earlier one, one whose verdicts stand gets none. Rerunning is safe: a
    /// run killed at any point is completed by the next. One run at a time per database.
    ///
    /// Exit status: 0 ran, no exceptions; 1 ran, with exceptions (tonight's, or an earlier
    /// window's whose verdicts changed); 2 usage or configuration error; 3 a source unreachable or refused
    /// (credentials, permissions, rate limit exhausted); 4 evidence incomplete (a window the
    /// evidence does not cover, rejected inputs); 5 ledger verification failed (nothing
    /// appended); 6 another run holds the database's lock; 7 any other failure (database,
    /// disk); 130 or 143 stopped by SIGINT or SIGTERM.
    Run(RunArgs),
    /// The Genesys Cloud simulator.
    #[cfg(feature = "simulator")]
    Sim {
        #[command(subcommand)]
        command: SimCommand,
    },
    /// The nightly job end to end on a built-in simulator: start it, pull a night, audit it.
    ///
    /// Writes to its own database, key and reports (recaudit-demo.db, recaudit-demo.ledger.key,
    /// reports-demo/) unless --db, --ledger-key or --reports-dir are given; never to the
    /// production defaults, the RECAUDIT_* environment or the [ledger] settings.
    #[cfg(feature = "simulator")]
    Demo {
        /// Conversations in the simulated night (pulled at the real rate limit, 300 requests
        /// a minute, so about 15 s per 100).
        #[arg(long, default_value_t = 200)]
        conversations: usize,
        /// Seed of the synthetic org.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The night (UTC date); default yesterday.
        #[arg(long)]
        date: Option<String>,
        /// Requests per minute the simulated token may make (default: the platform's 300).
        #[arg(long, default_value_t = 300, value_name = "N",
              value_parser = clap::value_parser!(u64).range(1..))]
        rate_limit: u64,
    },
    /// The database itself: moving a deployment between SQLite and PostgreSQL.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// The chain-of-custody ledger: keys, verification, proofs, audit packages.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// The configuration: `check` it and show what is in effect.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Run the nightly job on a cron schedule (for hosts without cron, and containers).
    ///
    /// At each fire, starts `recaudit run` with the global options given here (--db,
    /// --config, ...) and the arguments after `--`, as a child process, and logs its exit
    /// status with its meaning and the next fire time. One run at a time: a fire that comes
    /// while the previous run still runs is skipped (and logged). The expression is read on
    /// the wall clock of --tz, daylight saving included: a fire time in the hour skipped in
    /// spring runs once, just after the gap; one in the hour repeated in autumn runs once, at
    /// its first occurrence.
    ///
    /// Missed fires are not replayed: a fire that passed while the scheduler was not running,
    /// or the machine slept, starts one run at once with --catch-up (the state file records the
    /// last fire served), and is otherwise skipped; `run` re-audits earlier windows left
    /// pending, so one run catches up.
    ///
    /// SIGTERM or SIGINT: with no run in progress, exits at once; otherwise forwards the
    /// signal to the run, waits until it finishes or abandons its current step, then exits
    /// 143 or 130. A second signal kills the run and exits.
    ///
    /// Example: recaudit --db sqlite:///var/lib/recaudit/recaudit.db schedule --cron "0 2 * * *"
    /// --tz Europe/London --catch-up -- --window last-night --tz Europe/London --source api
    Schedule(ScheduleArgs),
    /// List the most recent runs.
    Runs {
        /// How many runs to list.
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

// The arguments of `pull` (its help is the doc comment of `Command::Pull`).
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Window start, UTC, inclusive.
    #[arg(long)]
    pub from: String,
    /// Window end, UTC, exclusive.
    #[arg(long)]
    pub to: String,
    /// Read this recording bulk export job (waiting for it to finish) instead of the org's
    /// export jobs that cover the window.
    #[arg(long)]
    pub recording_job: Option<String>,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// How the Genesys Cloud API is reached and paced (`pull`, and `run --source api`).
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Region code (eu-west-1) or domain (mypurecloud.ie).
    #[arg(long, env = "GENESYS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// API base URL (overrides --region; private and government deployments, the simulator).
    #[arg(long, env = "GENESYS_API_BASE")]
    pub api_base: Option<String>,
    /// Login base URL (default: the API base with `api.` replaced by `login.`).
    #[arg(long, env = "GENESYS_LOGIN_BASE")]
    pub login_base: Option<String>,
    /// A file with `client_id = ...` and `client_secret = ...` lines, mode 0600.
    #[arg(long)]
    pub secrets: Option<PathBuf>,
    /// Parallel recording-metadata requests.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Which conversations get a recordingmetadata call: `needed` (an agent interacted on
    /// an in-scope medium), `all`, or `none` (rely on the export tree and the bulk job).
    #[arg(long, default_value = "needed")]
    pub metadata: String,
    /// Create a bulk EXPORT job for the window through this "AWS S3 recording bulk
    /// actions" integration. Without it the pull is read-only: it only reads the org's
    /// existing export jobs. Needs recording:job:add, recording:job:edit and the
    /// editRetention permissions (docs/RULES.md).
    #[arg(long)]
    pub integration_id: Option<String>,
    /// Stop after this many API requests; the next run continues where this one stopped.
    #[arg(long)]
    pub max_requests: Option<u64>,
    /// Conversation details through `jobs` (async), `sync` (the query), or `auto` (sync for
    /// windows of an hour or less).
    #[arg(long, default_value = "auto")]
    pub details: String,
}

// The arguments of `run` (its help is the doc comment of `Command::Run`).
#[derive(Debug, Args)]
pub struct RunArgs {
    /// `last-night` (the contact center's previous day in --tz), a date `2026-11-01`, a range
    /// of dates `2026-11-01/2026-11-08` (each day its own window, the end excluded), or two UTC
    /// instants `FROM/TO`.
    #[arg(long, default_value = "last-night")]
    pub window: String,
    /// Where the evidence comes from, repeatable: `api` (Genesys Cloud, credentials as for
    /// `pull`), `sim` (a built-in simulator: a synthetic org, nothing leaves the machine), a
    /// folder (an export tree or API payloads), or `s3://BUCKET/PREFIX` (default: `[run]
    /// sources`).
    #[arg(long = "source", value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// The contact center's IANA time zone, e.g. Europe/London (default: `[run] time_zone`,
    /// else UTC).
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Judge as of this instant, UTC (default: now); `last-night` is the day before it.
    #[arg(long, value_name = "UTC")]
    pub as_of: Option<String>,
    /// Completeness in percent below which the notifications say `below-threshold` (default:
    /// `[run] min_completeness`); any exception already makes the exit status 1.
    #[arg(long, value_name = "PERCENT")]
    pub min_completeness: Option<f64>,
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(flatten)]
    pub s3: S3Location,
    /// With an s3:// source: download and hash every media object (see `import`).
    #[arg(long)]
    pub hash_media: bool,
    /// With `--source sim`: conversations per night in the synthetic org.
    #[arg(long, default_value_t = 200)]
    pub sim_conversations: usize,
    /// With `--source sim`: the synthetic org's seed.
    #[arg(long, default_value_t = 1)]
    pub sim_seed: u64,
    /// With `--source sim`: requests per minute the simulated token may make before 429s. The
    /// default is what a client-credentials token gets from Genesys Cloud; some orgs have a
    /// raised limit, and the pull paces itself by the `inin-ratelimit-*` headers either way.
    #[arg(long, default_value_t = 300, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub sim_rate_limit: u64,
}

// The arguments of `schedule` (its help is the doc comment of `Command::Schedule`).
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// Cron expression: five fields (minute hour day-of-month month day-of-week), or six with
    /// seconds first. E.g. "0 2 * * *": 02:00 every day.
    #[arg(long, value_name = "EXPR")]
    pub cron: String,
    /// IANA time zone the expression is read in (Europe/London, America/New_York).
    #[arg(long, value_name = "ZONE", default_value = "UTC")]
    pub tz: String,
    /// On start, when the last fire before now was missed (the state file says so), run
    /// once at once instead of waiting for the next fire.
    #[arg(long)]
    pub catch_up: bool,
    /// The state file: the last fire served [default: `<database stem>.schedule.json` beside
    /// the database].
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Start PROGRAM with the arguments after `--` at each fire, instead of `recaudit run`
    /// (for tests).
    #[arg(long, value_name = "PROGRAM", hide = true)]
    pub exec: Option<PathBuf>,
    /// Arguments of `recaudit run` (after `--`).
    #[arg(last = true, value_name = "RUN ARGS")]
    pub run_args: Vec<OsString>,
}

/// The format of log lines on stderr (`--log-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object a line.
    Json,
}

impl Cli {
    /// The global options given on this command line, as arguments for a child `recaudit`
    /// (what `schedule` starts); the environment reaches the child by itself.
    pub fn global_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        let mut pair = |flag: &str, value: OsString| {
            args.push(flag.into());
            args.push(value);
        };
        if let Some(db) = &self.db {
            pair("--db", db.into());
        }
        if let Some(config) = &self.config {
            pair("--config", config.into());
        }
        if let Some(dir) = &self.reports_dir {
            pair("--reports-dir", dir.into());
        }
        if let Some(key) = &self.ledger_key {
            pair("--ledger-key", key.into());
        }
        if self.log_format == LogFormat::Json {
            pair("--log-format", "json".into());
        }
        args.extend((0..self.verbose).map(|_| OsString::from("-v")));
        args
    }
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration (--config, then the `RECAUDIT_<SECTION>__<KEY>` variables
    /// over it) and print every setting in effect with where it came from (default, file,
    /// variable), and the locations (database, reports, ledger key); secrets masked. Opens no
    /// database.
    ///
    /// Exit status: 0 valid, 2 invalid (the file, key or variable named).
    Check,
}

/// A report file `recaudit report --format` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// report.html: self-contained, offline, printable.
    Html,
    /// report.pdf: report.html printed by headless Chromium (not byte-reproducible).
    Pdf,
    /// findings.csv: for Excel (UTF-8 with BOM).
    Csv,
    /// findings.json.
    Json,
    /// findings.dat: a Concordance DAT load file.
    Dat,
    /// certificate.txt: the completeness certificate.
    Certificate,
    /// summary.md.
    Summary,
}

impl ReportFormat {
    /// The report file of this format (pdf: the HTML it prints).
    pub fn file_name(self) -> &'static str {
        match self {
            ReportFormat::Html | ReportFormat::Pdf => "report.html",
            ReportFormat::Csv => "findings.csv",
            ReportFormat::Json => "findings.json",
            ReportFormat::Dat => "findings.dat",
            ReportFormat::Certificate => "certificate.txt",
            ReportFormat::Summary => "summary.md",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum HoldCommand {
    /// Create a hold, or add criteria to one. An interaction is held when it started in
    /// [--from, --to) and matches any --conversation, --user, --queue or --number given.
    Add {
        /// The matter id, e.g. SEC-2026-014 (letters, digits, `.`, `_`, `-`).
        matter: String,
        /// The matter's caption (required when the hold is created).
        #[arg(long)]
        name: Option<String>,
        /// A conversation id to hold (repeatable).
        #[arg(long = "conversation")]
        conversations: Vec<String>,
        /// A custodian: a Genesys Cloud user id (repeatable).
        #[arg(long = "user")]
        users: Vec<String>,
        /// A queue id (repeatable).
        #[arg(long = "queue")]
        queues: Vec<String>,
        /// A number in E.164, e.g. +13175550100, matched against ANI and DNIS (repeatable).
        #[arg(long = "number")]
        numbers: Vec<String>,
        /// Interactions that started at or after this time (ISO-8601 UTC or a date).
        #[arg(long)]
        from: Option<String>,
        /// Interactions that started before this time.
        #[arg(long)]
        to: Option<String>,
    },
    /// The holds and their state.
    List,
    /// A hold's criteria and every version of it, with the ledger entries that sealed them.
    Show { matter: String },
    /// Release a hold (sealed as its last version).
    Release { matter: String },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create the schema of the --db database, or bring it to this version's (what any
    /// command that opens it does first). On PostgreSQL, run it as the owner role after each
    /// upgrade, before the workers, whose role may not create tables (docs/POSTGRES.md).
    ///
    /// Exit status: 0 the schema is current, 2 error.
    Migrate,
    /// Copy every row of one database into a new, empty one: `--from sqlite://a.db --to
    /// postgres://host/recaudit` moves a deployment to PostgreSQL, and back the other way.
    ///
    /// Ids, times, raw inputs and the ledger's records and signed checkpoints are copied as
    /// stored, so `ledger verify` on the copy (with the same ledger key and origin) reproduces
    /// the same checkpoints. The source is read in one snapshot and the target written in one
    /// transaction: a failed copy leaves the target empty. A target that holds data is refused.
    /// The global --db is not used.
    ///
    /// Exit status: 0 copied, 2 error.
    Copy {
        /// The database to copy (sqlite://path or postgres://...); it must exist.
        #[arg(long)]
        from: String,
        /// The new database (created if a SQLite file; a PostgreSQL database must exist and
        /// be empty).
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Create the ledger's signing key (Ed25519, mode 0600) and print its verifier key.
    Keygen,
    /// Check the ledger in the database (checks V1 to V10 of docs/LEDGER.md).
    ///
    /// Exit status: 0 every check passed, 1 a check failed (each failure names the check,
    /// run and seq), 2 error.
    Verify {
        /// An older signed checkpoint you kept; checked for consistency with the current log.
        /// Repeatable.
        #[arg(long = "checkpoint", value_name = "FILE")]
        checkpoints: Vec<PathBuf>,
        /// A signed checkpoint you verified before (kept from an earlier `ledger verify` or
        /// export): its runs' findings and inputs are not re-read, so the check costs what
        /// came after it, not the whole history. Every run record is still chained, and the
        /// checkpoint must match the log's first runs. Without it, everything is checked.
        #[arg(long, value_name = "CHECKPOINT")]
        since: Option<PathBuf>,
        /// The verifier key to check signatures with (default: derived from the key file).
        #[arg(long)]
        vkey: Option<String>,
    },
    /// Verify one signed checkpoint on its own, as an auditor does with one received by mail.
    VerifyCheckpoint {
        /// The ledger's verifier key (`<name>+<key id>+<key>`), or a file holding it.
        #[arg(long)]
        vkey: String,
        /// The signed checkpoint note.
        file: PathBuf,
    },
    /// Write a self-contained proof that an interaction's finding is in the ledger.
    Prove {
        /// The conversationId.
        #[arg(long)]
        interaction: String,
        /// The run (default: the newest run with that interaction).
        #[arg(long)]
        run: Option<String>,
        /// Write the proof here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write the audit package (records, checkpoints, verify.py, VERIFY.md) into a new directory.
    Export {
        #[arg(long)]
        out: PathBuf,
    },
    /// Show the ledger's head and recent runs.
    Show {
        /// How many runs to list.
        #[arg(long, default_value_t = 10)]
        runs: usize,
    },
    /// Anchor checkpoints that lack a configured anchor (time stamp, directory copy).
    Anchor,
}

#[cfg(feature = "simulator")]
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Write the synthetic org's S3 bulk-export tree (sidecars and media) into a directory, or
    /// into a bucket: `--out s3://BUCKET/PREFIX` (the bucket must exist) writes the same tree as
    /// objects `PREFIX/{org}/year=/...`, 16 at a time, with credentials from the AWS chain as
    /// `import` reads them.
    Export {
        /// A directory, or `s3://BUCKET/PREFIX`.
        #[arg(long)]
        out: PathBuf,
        /// Also write the night's conversation details into this file, one per line (NDJSON,
        /// which `import` streams), in the same pass.
        #[arg(long)]
        details: Option<PathBuf>,
        #[command(flatten)]
        s3: S3Location,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 500)]
        conversations: usize,
        /// The night (UTC date); default yesterday.
        #[arg(long)]
        date: Option<String>,
    },
    /// Serve the Genesys Cloud API over a synthetic org (client id `recaudit-sim`, secret
    /// `sim-secret`) until interrupted.
    Serve(ServeArgs),
}

// The arguments of `sim serve` (its help is the doc comment of `SimCommand::Serve`).
#[cfg(feature = "simulator")]
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[arg(long, default_value_t = 8787)]
    pub port: u16,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 500)]
    pub conversations: usize,
    /// The night (UTC date); default yesterday.
    #[arg(long)]
    pub date: Option<String>,
    /// Requests per minute per token before 429s.
    #[arg(long, default_value_t = 300)]
    pub rate_limit: u64,
    /// Share of requests answered 503, in thousandths.
    #[arg(long, default_value_t = 0)]
    pub error_permille: u64,
    /// Added latency per request, milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Lifetime of issued tokens, seconds.
    #[arg(long, default_value_t = 86_400)]
    pub token_lifetime: u64,
    /// Share of requests that hang for two minutes (a dropped connection), in thousandths.
    #[arg(long, default_value_t = 0)]
    pub hang_permille: u64,
}

/// Where an `s3://` URL's bucket is (`import`, `sim export`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct S3Location {
    /// S3 API endpoint of an S3-compatible store, e.g. http://127.0.0.1:9000 (default: AWS, or
    /// `AWS_ENDPOINT_URL`).
    #[arg(long, env = "RECAUDIT_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// The bucket's region (default: `AWS_REGION`, else us-east-1).
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,
    /// Address the bucket as https://BUCKET.endpoint/ rather than https://endpoint/BUCKET/.
    #[arg(long)]
    pub s3_virtual_hosted: bool,
}

#[cfg(feature = "s3")]
impl S3Location {
    /// The client settings these options give (what they leave unset comes from `AWS_*`).
    pub fn settings(&self) -> crate::source::s3::S3Settings {
        crate::source::s3::S3Settings {
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            virtual_hosted: self.s3_virtual_hosted,
        }
    }
}

/// Where an `s3://` path's bucket is, and which of its date folders to list (`import`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct S3Args {
    #[command(flatten)]
    pub location: S3Location,
    /// With --to: list only the `year=/month=/day=` folders of the window's days (UTC), padded
    /// or not, widened by --margin-days (default: every key under the prefix).
    #[arg(long, requires = "to", value_name = "UTC")]
    pub from: Option<String>,
    /// Window end, UTC, exclusive (with --from).
    #[arg(long, requires = "from", value_name = "UTC")]
    pub to: Option<String>,
    /// Days of date folders listed before and after the window's, for late exports (default:
    /// `[s3] margin_days`, else 2).
    #[arg(long, value_name = "DAYS")]
    pub margin_days: Option<u32>,
    /// Download every media object (streamed, never held whole) and record the SHA-256 of its
    /// bytes, as for a local file. Without it a media object is known from the listing only
    /// (size, ETag, version, last-modified), and its ledger input record says so.
    #[arg(long)]
    pub hash_media: bool,
    /// Media objects downloaded and hashed at once with --hash-media (default: `[s3]
    /// hash_concurrency`, else 4).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub hash_concurrency: Option<u16>,
}
