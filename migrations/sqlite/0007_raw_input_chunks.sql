-- The bytes of a raw input read as a stream (an NDJSON file of conversation details), in order.
-- Such a file can be larger than one SQLite value may be (1,000,000,000 bytes) and larger than
-- the memory an import may hold, so it is stored piece by piece as it is parsed, in the same
-- transaction as the rows parsed from it: its `raw_inputs.body` is NULL, and the chunks
-- concatenated by `ordinal` are the file, byte for byte, hashing to `raw_inputs.sha256`.
CREATE TABLE raw_input_chunks (
    raw_input_id INTEGER NOT NULL REFERENCES raw_inputs (id),
    ordinal      INTEGER NOT NULL CHECK (ordinal >= 0),
    bytes        BLOB    NOT NULL,
    PRIMARY KEY (raw_input_id, ordinal)
);
