//! recaudit: a recording-completeness auditor for Genesys Cloud contact centers.
//!
//! Regulated contact centers must record every in-scope interaction and prove it later. On
//! Genesys Cloud a recording can go missing silently: an agent's WebRTC leg fails ICE while
//! alerting and media never comes up, an export lands metadata without audio, a recording stays
//! on an Edge. recaudit imports the evidence, decides per interaction whether the recordings it
//! should have exist with media, and reports every exception with a reason.
//!
//! # Layout
//!
//! The modules follow the data flow:
//!
//! - [`source`]: Genesys Cloud payloads in, recognised by shape ([`source::import`]) and
//!   parsed through serde mirrors of the API models ([`source::model`]);
//! - [`store`]: persistence (SQLite today, in `store::sqlite`): raw inputs verbatim plus the
//!   typed tables the audit reads, runs, findings and the ledger's rows;
//! - [`audit`]: the pure decision, one [`audit::Finding`] per conversation;
//! - [`ledger`]: the chain-of-custody ledger: RFC 6962 Merkle log of runs, signed C2SP
//!   checkpoints, offline verification, audit packages and proofs;
//! - [`report`]: `findings.json`, `findings.csv`, `summary.md` and `manifest.json`;
//! - [`notify`]: the nightly job's webhooks (JSON, Slack, Teams), e-mail, dead-man's switch
//!   and Prometheus textfile;
//! - [`pipeline`]: one audit run end to end (store -> audit -> store + ledger -> report);
//! - [`scheduler`]: `recaudit schedule`, the nightly job as a child process at each fire of a
//!   cron expression in a time zone;
//! - at the edges: [`cli`] (arguments), [`config`] (the TOML settings), [`time`] (the one
//!   timestamp format), [`error`], and `simulator` (a Genesys Cloud API over a synthetic org;
//!   the cargo feature `simulator`, on by default).
//!
//! Each layer uses only those below it (docs/ARCHITECTURE.md, "Dependency rule"; a test
//! enforces it): the sources write through the [`source::sink::EvidenceStore`] trait the store
//! implements, and only `store::sqlite` speaks SQL.
//!
//! docs/ARCHITECTURE.md draws the flow and lists the invariants; docs/RULES.md explains every
//! status and reason to reviewers.

// Functions of one purpose (issue 10): clippy's default limit of 100 lines is enforced by
// CI's `clippy -D warnings`; an exception needs an `#[allow]` with its reason beside it.
#![warn(clippy::too_many_lines)]

pub mod audit;
mod blocking;
pub mod cli;
pub mod config;
pub mod error;
pub mod failpoint;
pub mod ledger;
pub mod lock;
pub mod notify;
pub mod pct;
pub mod pipeline;
pub mod report;
pub mod scheduler;
pub mod secret;
#[cfg(feature = "simulator")]
pub mod simulator;
pub mod source;
pub mod store;
pub mod time;

pub use error::{Error, Result};
