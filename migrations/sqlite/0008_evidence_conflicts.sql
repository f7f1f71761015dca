-- Where inputs disagree about a conversation, found by import (docs/RULES.md, "Conflicting
-- inputs"):
-- `details-copies`: differing copies of its details arrived; `subject` and `other` are the ids of
--   the raw inputs of the copy kept and of the copy not used;
-- `recording-claimed`: one of its recordings is also claimed by another conversation; `subject`
--   is the recording id, `other` that conversation.
-- `raw_input_id` is the input whose arrival revealed the conflict. Rows are written once and
-- never removed: a conflict, once seen, stays part of the conversation's evidence.
CREATE TABLE evidence_conflicts (
    conversation_id TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('details-copies', 'recording-claimed')),
    subject         TEXT    NOT NULL,
    other           TEXT    NOT NULL,
    raw_input_id    INTEGER NOT NULL REFERENCES raw_inputs (id),
    PRIMARY KEY (conversation_id, kind, subject, other)
);
-- A digest of the parsed details a conversation row was written from, to tell a differing copy
-- from a repeated one; NULL for rows written before this migration.
ALTER TABLE conversations ADD COLUMN content_sha256 TEXT;
