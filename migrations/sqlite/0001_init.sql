-- recaudit schema, SQLite dialect.
--
-- Two kinds of tables: raw_inputs keeps every payload exactly as received (for re-audit and
-- chain of custody); the typed tables hold what the audit decision reads, each row pointing at
-- the raw input it was parsed from. Times are TEXT in the canonical form
-- YYYY-MM-DDTHH:MM:SS.mmmZ (fixed width, so text comparison is time order). Lists are JSON
-- arrays of strings.

CREATE TABLE raw_inputs (
    id             INTEGER PRIMARY KEY,
    kind           TEXT    NOT NULL,
    -- request path + query, or the file path relative to the import root
    source         TEXT    NOT NULL,
    received       TEXT    NOT NULL,
    bytes          INTEGER NOT NULL CHECK (bytes >= 0),
    sha256         TEXT    NOT NULL CHECK (length(sha256) = 64),
    -- the payload; NULL for export media files, whose bytes stay in the export tree
    body           BLOB,
    -- ININ-Correlation-Id of an API response
    correlation_id TEXT,
    UNIQUE (source, sha256)
);

CREATE TABLE conversations (
    conversation_id       TEXT PRIMARY KEY,
    conversation_start    TEXT NOT NULL,
    conversation_end      TEXT,
    originating_direction TEXT,
    division_ids          TEXT NOT NULL,
    raw_input_id          INTEGER NOT NULL REFERENCES raw_inputs (id)
);
CREATE INDEX conversations_by_start ON conversations (conversation_start);

CREATE TABLE participants (
    conversation_id  TEXT    NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    ordinal          INTEGER NOT NULL,
    participant_id   TEXT,
    purpose          TEXT    NOT NULL,
    user_id          TEXT,
    participant_name TEXT,
    PRIMARY KEY (conversation_id, ordinal)
);

CREATE TABLE sessions (
    conversation_id     TEXT    NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    participant_ordinal INTEGER NOT NULL,
    ordinal             INTEGER NOT NULL,
    session_id          TEXT,
    media_type          TEXT    NOT NULL,
    direction           TEXT,
    recording_flag      INTEGER,
    provider            TEXT,
    edge_id             TEXT,
    PRIMARY KEY (conversation_id, participant_ordinal, ordinal)
);

CREATE TABLE segments (
    conversation_id     TEXT    NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    participant_ordinal INTEGER NOT NULL,
    session_ordinal     INTEGER NOT NULL,
    ordinal             INTEGER NOT NULL,
    segment_type        TEXT    NOT NULL,
    segment_start       TEXT    NOT NULL,
    segment_end         TEXT,
    disconnect_type     TEXT,
    error_code          TEXT,
    sip_response_codes  TEXT    NOT NULL,
    queue_id            TEXT,
    PRIMARY KEY (conversation_id, participant_ordinal, session_ordinal, ordinal)
);

-- One row per recording per source: recording metadata, Recording objects, export sidecars.
-- No foreign key to conversations: recordings may arrive before their conversation details.
CREATE TABLE recordings (
    recording_id      TEXT    NOT NULL,
    source            TEXT    NOT NULL CHECK (source IN ('recording-metadata', 'recording', 'export-metadata')),
    conversation_id   TEXT    NOT NULL,
    media             TEXT,
    media_subtype     TEXT,
    file_state        TEXT,
    start_time        TEXT,
    end_time          TEXT,
    duration_ms       INTEGER,
    output_size_bytes INTEGER,
    has_media_uris    INTEGER NOT NULL,
    delete_date       TEXT,
    archive_date      TEXT,
    exported_date     TEXT,
    creation_time     TEXT,
    paused_ms         INTEGER NOT NULL,
    session_id        TEXT,
    -- export sidecars: the media file name the sidecar describes ({recordingId}.{ext})
    export_media_name TEXT,
    raw_input_id      INTEGER NOT NULL REFERENCES raw_inputs (id),
    PRIMARY KEY (recording_id, source)
);
CREATE INDEX recordings_by_conversation ON recordings (conversation_id);

-- Media files of the S3 bulk export, keyed by their conversation folder and file name.
CREATE TABLE export_media (
    conversation_id TEXT    NOT NULL,
    file_name       TEXT    NOT NULL,
    recording_id    TEXT    NOT NULL,
    path            TEXT    NOT NULL,
    bytes           INTEGER NOT NULL CHECK (bytes >= 0),
    sha256          TEXT    NOT NULL CHECK (length(sha256) = 64),
    raw_input_id    INTEGER NOT NULL REFERENCES raw_inputs (id),
    PRIMARY KEY (conversation_id, file_name)
);

CREATE TABLE recording_jobs (
    job_id                     TEXT PRIMARY KEY,
    state                      TEXT NOT NULL,
    action                     TEXT,
    date_created               TEXT,
    total_conversations        INTEGER,
    total_recordings           INTEGER,
    total_skipped_recordings   INTEGER,
    total_failed_recordings    INTEGER,
    total_processed_recordings INTEGER,
    error_message              TEXT,
    raw_input_id               INTEGER NOT NULL REFERENCES raw_inputs (id)
);

-- failedrecordings entries; job_id is '' when the listing did not name its job.
CREATE TABLE failed_recordings (
    job_id          TEXT    NOT NULL,
    recording_id    TEXT    NOT NULL,
    conversation_id TEXT    NOT NULL,
    raw_input_id    INTEGER NOT NULL REFERENCES raw_inputs (id),
    PRIMARY KEY (job_id, recording_id)
);
CREATE INDEX failed_recordings_by_conversation ON failed_recordings (conversation_id);

CREATE TABLE orphan_recordings (
    orphan_id        TEXT PRIMARY KEY,
    conversation_id  TEXT,
    recording_id     TEXT,
    media_type       TEXT,
    file_state       TEXT,
    orphan_status    TEXT,
    created_time     TEXT,
    media_size_bytes INTEGER,
    raw_input_id     INTEGER NOT NULL REFERENCES raw_inputs (id)
);
CREATE INDEX orphan_recordings_by_conversation ON orphan_recordings (conversation_id);

-- One row per audit run. Rows are written once, in the transaction that writes the findings.
CREATE TABLE runs (
    run_id          TEXT PRIMARY KEY,
    seq             INTEGER NOT NULL UNIQUE,
    window_start    TEXT    NOT NULL,
    window_end      TEXT    NOT NULL,
    as_of           TEXT    NOT NULL,
    completed       TEXT    NOT NULL,
    rule_set        TEXT    NOT NULL,
    policy          TEXT    NOT NULL,
    software        TEXT    NOT NULL,
    manifest_sha256 TEXT    NOT NULL CHECK (length(manifest_sha256) = 64)
);

CREATE TABLE findings (
    run_id          TEXT NOT NULL REFERENCES runs (run_id),
    conversation_id TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('complete', 'exception', 'pending', 'excluded', 'not-required')),
    reasons         TEXT NOT NULL,
    recordings      TEXT NOT NULL,
    media_sha256    TEXT NOT NULL,
    started         TEXT NOT NULL,
    ended           TEXT,
    direction       TEXT NOT NULL,
    media           TEXT NOT NULL,
    queues          TEXT NOT NULL,
    users           TEXT NOT NULL,
    detail          TEXT NOT NULL,
    PRIMARY KEY (run_id, conversation_id)
);

-- The raw inputs each run's findings were based on (its chain of custody).
CREATE TABLE run_inputs (
    run_id       TEXT    NOT NULL REFERENCES runs (run_id),
    raw_input_id INTEGER NOT NULL REFERENCES raw_inputs (id),
    PRIMARY KEY (run_id, raw_input_id)
);
