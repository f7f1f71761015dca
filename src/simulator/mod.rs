//! A Genesys Cloud simulator: the API endpoints recaudit pulls from, over a synthetic org built
//! from a seed, with fault knobs. Nobody can run the nightly job against a real org here, so
//! the client is proven against this server over loopback, and its scenario labels let tests
//! check the audit's verdicts against the construction. The org's S3 bulk export tree
//! ([`export`]) is written into a folder or, with the cargo feature `s3`, into a bucket.

pub mod export;
pub(crate) mod org;
pub(crate) mod server;

pub use org::{Mix, Org, Scenario};
pub use server::{Faults, ORPHAN_CAP, SimClient, SimServer, Stall, Stats};
