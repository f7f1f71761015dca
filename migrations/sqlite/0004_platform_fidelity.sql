-- Fields the rules read since rule set 2 (docs/RULES.md):
-- `Recording.recordingFileRole` (CUSTOMER_EXPERIENCE or ADHOC): an ad-hoc capture does not
-- satisfy the customer-experience recording a conversation needs;
-- `AnalyticsSession.mediaEndpointStats[].receivedPackets`, summed per session: an agent who
-- interacted while no packet was received has a recording of silence.
ALTER TABLE recordings ADD COLUMN recording_file_role TEXT;
ALTER TABLE sessions ADD COLUMN received_packets INTEGER;
-- The newest finding of a conversation, which decides whether a pull asks for its recording
-- metadata again (a pending conversation is re-asked until its grace window closes).
CREATE INDEX findings_by_conversation ON findings (conversation_id, run_id);
-- Records of a stored input that could not be read (a conversation without conversationStart in
-- an otherwise good page): rejected alone, kept here so that re-importing the unchanged file
-- names them again instead of passing silently.
CREATE TABLE record_rejections (
    raw_input_id INTEGER NOT NULL REFERENCES raw_inputs (id),
    record       INTEGER NOT NULL,
    message      TEXT    NOT NULL,
    PRIMARY KEY (raw_input_id, record)
);
-- The details' availability horizon: `dataAvailabilityDate` ("Data available up to at least this
-- datetime") of async details pages and of GET .../details/jobs/availability. An audit refuses to
-- judge a window that ends after the newest horizon known, since the conversations after it may
-- simply not have been delivered yet.
CREATE TABLE details_horizons (
    raw_input_id INTEGER PRIMARY KEY REFERENCES raw_inputs (id),
    horizon      TEXT    NOT NULL
);
