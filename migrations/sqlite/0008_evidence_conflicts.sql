-- Where inputs disagree about a conversation, found by import (docs/RULES.md, "Conflicting
-- inputs"): `details-copies` when differing copies of its details arrived (`subject` the source
-- of the copy kept, `other` the source of the copy not used); `recording-claimed` when one of its
-- recordings is also claimed by another conversation (`subject` the recording id, `other` that
-- conversation). Rows are written once per pair and never removed: a conflict, once seen, stays
-- part of the conversation's evidence.
CREATE TABLE evidence_conflicts (
    conversation_id TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('details-copies', 'recording-claimed')),
    subject         TEXT    NOT NULL,
    other           TEXT    NOT NULL,
    raw_input_id    INTEGER NOT NULL REFERENCES raw_inputs (id),
    PRIMARY KEY (conversation_id, kind, subject, other)
);
