-- Legal holds (issue 13). Every version of a hold is a JSON document kept verbatim as a raw
-- input (kind `legal-hold`) and sealed in the ledger by its own entry: a run record whose
-- rule set is `recaudit-hold-1`, with the document as its one input and no findings. Rows are
-- only ever inserted: a change or a release is a new version.
CREATE TABLE legal_holds (
    matter_id    TEXT    NOT NULL,
    version      INTEGER NOT NULL CHECK (version >= 1),
    -- the ledger entry (runs.run_id) that sealed this version
    run_id       TEXT    NOT NULL UNIQUE REFERENCES runs (run_id),
    raw_input_id INTEGER NOT NULL REFERENCES raw_inputs (id),
    released     INTEGER NOT NULL CHECK (released IN (0, 1)),
    PRIMARY KEY (matter_id, version)
);

-- A matter's report: the hold version and the audit run it was made from, the snapshot it
-- rendered (a raw input of kind `matter-report`: population, deletion dates judged, time),
-- sealed by its own ledger entry (rule set `recaudit-matter-1`) whose reports hash is the
-- matter report's manifest. One per (matter, version, audit run): asked again, it is
-- regenerated, not sealed twice.
CREATE TABLE matter_reports (
    run_id       TEXT    NOT NULL PRIMARY KEY REFERENCES runs (run_id),
    matter_id    TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    audit_run_id TEXT    NOT NULL REFERENCES runs (run_id),
    raw_input_id INTEGER NOT NULL REFERENCES raw_inputs (id),
    UNIQUE (matter_id, version, audit_run_id)
);
