//! Command-line arguments (clap derive). Only parsing lives here; `main.rs` runs the commands.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// recaudit: recording-completeness auditor for Genesys Cloud.
///
/// Imports conversation details and recording evidence, decides for every interaction whether
/// the recordings it should have exist with media, and writes reports.
#[derive(Debug, Parser)]
#[command(name = "recaudit", version, about, long_about = None)]
pub struct Cli {
    /// Database URL (SQLite), created if missing.
    #[arg(
        long,
        global = true,
        env = "RECAUDIT_DB",
        default_value = "sqlite://recaudit.db"
    )]
    pub db: String,

    /// Configuration file (TOML): scope, rule thresholds and retention. Optional.
    #[arg(long, global = true, env = "RECAUDIT_CONFIG")]
    pub config: Option<PathBuf>,

    /// Directory the reports are written to, one folder per run.
    #[arg(
        long,
        global = true,
        env = "RECAUDIT_REPORTS_DIR",
        default_value = "reports"
    )]
    pub reports_dir: PathBuf,

    /// Ledger signing key file (default: [ledger] key, else recaudit-ledger.key beside the
    /// database). Created with mode 0600 by the first audit when missing.
    #[arg(long, global = true, env = "RECAUDIT_LEDGER_KEY")]
    pub ledger_key: Option<PathBuf>,

    /// More log output (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import Genesys Cloud payloads and S3 bulk-export trees (files or directories).
    ///
    /// Exit status: 0 all files imported or already stored, 1 some files rejected (each is
    /// named with the reason), 2 error.
    Import {
        /// Files or directories to import.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Audit the conversations that started in [--from, --to) and write a report.
    ///
    /// Exit status: 0 no exceptions, 1 exceptions found, 2 error.
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
    },
    /// Regenerate a run's reports byte for byte from the database.
    Report {
        /// The run id printed by `audit` (see `recaudit runs`).
        #[arg(long)]
        run: String,
    },
    /// The chain-of-custody ledger: keys, verification, proofs, audit packages.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// List the most recent runs.
    Runs {
        /// How many runs to list.
        #[arg(long, default_value_t = 20)]
        limit: i64,
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
