-- Progress of API pulls, so an interrupted pull resumes where it stopped: the details job and
-- the last stored cursor, the bulk export job, and whether the pull finished. Per-conversation
-- progress needs no table: a conversation whose recordingmetadata answer is stored is done.
CREATE TABLE pulls (
    window_start   TEXT NOT NULL,
    window_end     TEXT NOT NULL,
    api_base       TEXT NOT NULL,
    details_job    TEXT,
    details_cursor TEXT,
    details_done   INTEGER NOT NULL DEFAULT 0,
    recording_job  TEXT,
    started        TEXT NOT NULL,
    completed      TEXT,
    PRIMARY KEY (window_start, window_end, api_base)
);
