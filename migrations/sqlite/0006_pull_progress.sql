-- Pull progress saved with each page (docs/ARCHITECTURE.md, "Pulls resume from any kill").
--
-- `export_requested`: when the pull asked the platform to create its bulk EXPORT job, saved
-- before the request goes out. A rerun that finds it set but no `recording_job` (the run was
-- killed between the answer and the commit, or the answer was lost) looks for that job in the
-- org's listing instead of creating a second one.
ALTER TABLE pulls ADD COLUMN export_requested TEXT;
-- Conversations whose recording metadata an unfinished pull has received, written in the
-- transaction that stores the answer: a rerun asks only the others. The raw inputs cannot say
-- it: an answer identical to a stored one stores no new input, and a pending conversation is
-- asked again by every pull. Emptied when the pull completes or starts over.
CREATE TABLE pull_metadata (
    window_start    TEXT NOT NULL,
    window_end      TEXT NOT NULL,
    api_base        TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    PRIMARY KEY (window_start, window_end, api_base, conversation_id),
    FOREIGN KEY (window_start, window_end, api_base)
        REFERENCES pulls (window_start, window_end, api_base) ON DELETE CASCADE
);
