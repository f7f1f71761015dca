//! Where recaudit's evidence comes from.
//!
//! - [`model`]: serde mirrors of the Genesys Cloud payloads (the SDK models are the schema
//!   authority);
//! - [`import`]: files and directories (API payloads saved to disk, and S3 bulk-export trees),
//!   recognised by shape, hashed, parsed and written to the store.

pub mod import;
pub mod model;
