-- Fields the rules read since rule set 2 (docs/RULES.md):
-- `Recording.recordingFileRole` (CUSTOMER_EXPERIENCE or ADHOC): an ad-hoc capture does not
-- satisfy the customer-experience recording a conversation needs;
-- `AnalyticsSession.mediaEndpointStats[].receivedPackets`, summed per session: an agent who
-- interacted while no packet was received has a recording of silence.
ALTER TABLE recordings ADD COLUMN recording_file_role TEXT;
ALTER TABLE sessions ADD COLUMN received_packets INTEGER;
