-- The chain-of-custody ledger (docs/LEDGER.md, spec/ledger-format.md).
--
-- Record bytes are stored verbatim with their leaf hashes and are what gets hashed and
-- verified; nothing is ever re-derived from typed columns. Rows are only ever inserted: no
-- statement in recaudit updates or deletes a ledger row (a test greps the SQL to prove it).

-- Input and finding records of each run; seq is the position in the run's tree.
CREATE TABLE ledger_entries (
    run_id    TEXT    NOT NULL,
    tree      TEXT    NOT NULL CHECK (tree IN ('inputs', 'findings')),
    seq       INTEGER NOT NULL,
    record    BLOB    NOT NULL,
    leaf_hash BLOB    NOT NULL,
    PRIMARY KEY (run_id, tree, seq)
);

-- Run records: the leaves of the ledger log; idx is the position in the log.
CREATE TABLE ledger_runs (
    idx       INTEGER PRIMARY KEY,
    run_id    TEXT    NOT NULL UNIQUE,
    record    BLOB    NOT NULL,
    leaf_hash BLOB    NOT NULL
);

-- A signed checkpoint (C2SP signed note) after every run, by tree size.
CREATE TABLE ledger_checkpoints (
    size INTEGER PRIMARY KEY,
    note BLOB    NOT NULL
);

-- Anchors of checkpoints outside the database owner's control: RFC 3161 tokens, copies.
CREATE TABLE ledger_anchors (
    size     INTEGER NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind IN ('rfc3161', 'directory')),
    data     BLOB    NOT NULL,
    received TEXT    NOT NULL,
    PRIMARY KEY (size, kind)
);
