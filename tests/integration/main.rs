//! The single integration-test binary (one link step). Each module is a feature area.

mod architecture;
mod bounds;
mod cli;
mod config;
mod db_copy;
mod deploy;
mod faults;
mod fuzz;
mod holds;
mod import;
mod ledger;
mod ledger_cli;
mod logs;
mod memory;
mod platform;
mod postgres;
mod protection;
mod pull;
mod pull_faults;
mod report_files;
mod report_html;
mod report_sets;
mod rules;
mod run;
#[cfg(feature = "s3")]
mod s3;
#[cfg(feature = "s3")]
mod s3_faults;
#[cfg(feature = "s3")]
mod s3_sim;
#[cfg(feature = "s3")]
mod s3_support;
mod schedule;
mod support;
mod trust;
mod tsa;
