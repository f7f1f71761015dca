//! The single integration-test binary (one link step). Each module is a feature area.

mod cli;
mod import;
mod ledger;
mod rules;
mod support;
