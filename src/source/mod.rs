//! Where recaudit's evidence comes from.
//!
//! - [`model`]: serde mirrors of the Genesys Cloud payloads (the SDK models are the schema
//!   authority);
//! - [`import`]: files and directories (API payloads saved to disk, and S3 bulk-export trees),
//!   recognised by shape, hashed, parsed and written to the store;
//! - `s3` (cargo feature `s3`): the same export tree read from an S3 bucket, sidecars read,
//!   media known from the listing;
//! - [`batch`]: what they produce for the store (raw inputs, typed rows, pull progress);
//! - [`sink`]: [`sink::EvidenceStore`], the store operations they need, implemented by the
//!   store (the source layer never names the store module: the store depends on it, not the
//!   reverse);
//! - [`genesys`]: the Genesys Cloud API client (OAuth, pacing, retries) and `recaudit pull`,
//!   which stores every response as a raw input and imports it exactly as files are;
//! - [`protection`]: which conversations have recordings protected from deletion (legal
//!   hold), asked through the same client, each answer kept as received.

pub mod batch;
pub mod genesys;
pub mod import;
pub mod model;
pub mod protection;
#[cfg(feature = "s3")]
pub mod s3;
pub mod sink;
