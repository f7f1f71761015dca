//! The audit's input: the evidence of one conversation, in the shape the store assembles it
//! from its typed tables (`store::evidence`, where the types live because the store sits below
//! the audit and builds them). Re-exported here so the rules, and readers of the rules, find
//! what they judge beside them.

pub use crate::store::evidence::{
    Conflict, Conversation, Evidence, FailedExport, MediaFile, Orphan, Participant,
    RecordingEvidence, RecordingSource, Segment, Session,
};
