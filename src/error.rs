//! The library's error type.
//!
//! Every variant says what recaudit was doing and, where a user can act, what to do next. The
//! binary maps them to exit code 2 ("the run failed"; [`Error::Interrupted`] to the signal's
//! code, 130 or 143, and [`Error::NotCovered`] to 3); problems found in the data are not
//! errors: they are findings (exit 1) or rejected input files, reported one by one.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An S3 bucket that cannot be used (missing, access denied, unreachable). The message is
    /// built from the bucket, the key and the service's answer, never from a credential.
    #[error("{url}: {message}")]
    S3 { url: String, message: String },

    /// A command-line argument or setting is unusable.
    #[error("{0}")]
    Usage(String),

    /// The API answered a request with an error status that retrying does not cure.
    #[error("{method} {path}: HTTP {status}: {message} (correlation id {correlation_id})")]
    Api {
        method: String,
        path: String,
        status: u16,
        message: String,
        correlation_id: String,
    },

    /// An HTTP exchange failed before a complete answer arrived (no connection, a timeout, a
    /// body cut short), after the retries the request allowed. `request` says which.
    #[error("{request}: {source}")]
    Http {
        request: String,
        #[source]
        source: reqwest::Error,
    },

    /// The login server refused the OAuth client credentials.
    #[error(
        "the login server refused the client credentials of client {client} (HTTP {status}: {why}); check GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET"
    )]
    OAuthRefused {
        client: String,
        status: reqwest::StatusCode,
        why: String,
    },

    /// The login server accepted the credentials but its answer holds no token.
    #[error("token response: no access_token")]
    OAuthNoToken,

    /// The pull sent as many requests as `max_requests` allows; its progress is saved.
    #[error(
        "the request budget of {budget} is used up; run the same pull again to continue where it stopped"
    )]
    RequestBudget { budget: u64 },

    /// One request was answered 429 too many times in a row.
    #[error(
        "{request}: answered 429 {times} times in a row; another client may be using this OAuth client's quota. The pull stopped and can be run again to continue"
    )]
    RateLimited { request: String, times: u32 },

    /// A 429 asked to wait longer than the pull waits (`max_retry_after`): a quota is used up.
    #[error(
        "{request}: the API asks to wait {} s (over {} s): a quota is exhausted; try again later",
        .wait.as_secs(),
        .max.as_secs()
    )]
    QuotaExhausted {
        request: String,
        wait: std::time::Duration,
        max: std::time::Duration,
    },

    /// An answer lacks a field the pull needs to go on (a job's id or state).
    #[error("{request}: the answer has no `{field}`")]
    AnswerIncomplete { request: String, field: String },

    /// A details job failed, was cancelled, or could not be used even when new.
    #[error("the details job {job} {what}")]
    DetailsJob { job: String, what: String },

    /// A request that creates something got no answer (timeout, dropped connection, 502, 503,
    /// 504): it may have been acted on, so it is not simply sent again.
    #[error(
        "{request}: no answer ({why}); it may have been acted on all the same: run the same pull again, which looks for what it asked for before asking again"
    )]
    Unanswered { request: String, why: String },

    /// A pull was asked to stop (SIGTERM, SIGINT) and did, at a step boundary: everything it
    /// received is stored with the progress that describes it.
    #[error(
        "the pull stopped before it finished; what it received is stored with its progress: run the same pull again to continue where it stopped"
    )]
    Interrupted,

    #[error("configuration file {path}: {message}")]
    Config { path: PathBuf, message: String },

    /// A `RECAUDIT_*` environment variable that is no setting, or whose value the setting it
    /// names does not take.
    #[error("environment variable {variable}: {message}")]
    ConfigVariable { variable: String, message: String },

    #[error("{context}: {source}")]
    Database {
        context: String,
        #[source]
        source: sqlx::Error,
    },

    /// A command that only reads was pointed at a database that does not exist.
    #[error(
        "no database at {}: check --db (or RECAUDIT_DB); `recaudit import` or `recaudit pull` creates one",
        .0.display()
    )]
    NoDatabase(PathBuf),

    /// The embedded migrations cannot be applied (a database changed by hand, or by a newer
    /// recaudit whose migrations this build does not have).
    #[error("cannot migrate the database: {source}")]
    Migration {
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    #[error("{context} {path}: {source}")]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `schedule` could not start the program of a fire (the run's binary moved, no memory).
    #[error("cannot start {}: {source}", .program.display())]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `schedule` could not listen for the signals it must forward to its run.
    #[error("cannot listen for SIGTERM and SIGINT: {0}")]
    Signals(#[source] std::io::Error),

    /// Stored data that recaudit itself cannot have written: a damaged or foreign database.
    #[error("the database holds data recaudit cannot read: {0}")]
    Corrupt(String),

    /// A report, or what a run stores beside it, could not be rendered: a fault of recaudit,
    /// not of the data or the database.
    #[error(
        "cannot render {what}{}",
        .source.as_ref().map(|source| format!(": {source}")).unwrap_or_default()
    )]
    Render {
        what: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    #[error("no run `{0}` in this database (list runs with `recaudit runs`)")]
    RunNotFound(String),

    /// A run in the typed tables that the ledger does not commit to: forged or edited.
    #[error(
        "run {run} is not sealed in the ledger: {why}. It was not written by a recaudit audit, or was altered since; nothing is shown for it. Run `recaudit ledger verify` to see what changed"
    )]
    Unsealed { run: String, why: String },

    /// A regenerated report does not hash to what the run stored.
    #[error("{0}")]
    ReportMismatch(String),

    /// The ledger key file can be read by group or others: anyone who reads it can sign a
    /// forged history.
    #[error(
        "ledger key {} can be read by group or others (mode {mode:o}); anyone who can read it can sign checkpoints. Run `chmod 600 {}` and try again",
        path.display(),
        path.display()
    )]
    KeyExposed { path: PathBuf, mode: u32 },

    /// A new ledger key was to be created where a key file already exists.
    #[error(
        "{} already exists; a ledger keeps its key (move the file away to start a new ledger)",
        .0.display()
    )]
    KeyExists(PathBuf),

    /// The window ends after the conversation details' availability horizon: conversations
    /// that started after it may not have been delivered yet, so no verdict on them is sealed.
    #[error(
        "conversation details are available only up to {horizon} (dataAvailabilityDate), but the window ends {window_end}: conversations after {horizon} may be missing, so nothing was sealed. Pull again later, or pass --allow-partial to audit up to {horizon} only"
    )]
    NotCovered {
        horizon: crate::time::Timestamp,
        window_end: crate::time::Timestamp,
    },

    #[error(
        "the evidence does not cover the window [{from}, {to}): {gaps}. Nothing was sealed. Pull (or import) the window's conversation details and let the pull finish, or pass --allow-partial to seal a run marked partial"
    )]
    /// The evidence does not cover the window (no details, or an unfinished pull), so a clean
    /// verdict would hide what was never fetched.
    EvidenceGap {
        from: crate::time::Timestamp,
        to: crate::time::Timestamp,
        gaps: String,
    },

    /// A page of conversation details the pull received but cannot read: the pull stops there,
    /// unfinished, rather than page past conversations it never stored.
    #[error(
        "the details page {page} cannot be read ({why}); the pull stopped there and is unfinished, so `audit` refuses its window. Run the same pull again to ask for the page again"
    )]
    UnreadablePage { page: String, why: String },

    /// A platform job stayed unfinished past the pull's deadline.
    #[error(
        "the job {job} is still {state} after {} min of polling; the pull stopped there and is unfinished. Run the same pull again later to go on waiting for the same job",
        .waited.as_secs() / 60
    )]
    JobTimedOut {
        job: String,
        state: String,
        waited: std::time::Duration,
    },

    /// The ledger's head disagrees with its own records or with a checkpoint kept outside the
    /// database: extending it would sign over a truncation or a rewrite.
    #[error(
        "the ledger cannot be appended to: {why}. Nothing was written; run `recaudit ledger verify` to see what changed."
    )]
    LedgerRefused { why: String },

    /// A run holds a value the ledger's record format cannot encode.
    #[error("cannot ledger run {run}: {source}")]
    Unledgerable {
        run: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The ledger key is missing, unreadable, or the key of another ledger.
    #[error("{0}")]
    LedgerKey(String),

    /// A proof was asked for something the ledger does not hold.
    #[error("{0}")]
    NotInLedger(String),
}

impl Error {
    pub(crate) fn io(
        context: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            context,
            path,
            source,
        }
    }
}
