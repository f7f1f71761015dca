-- Report sets are versioned with the run (issue 13): a run's reports are always re-rendered
-- with the set it was sealed with, so reports of older runs regenerate byte for byte.
-- Runs sealed before this migration have report set 1 (findings.csv, findings.json,
-- summary.md, manifest.json as they were then).
ALTER TABLE runs ADD COLUMN report_set INTEGER NOT NULL DEFAULT 1;
-- What report set 2 renders beyond the run and its findings (display zone, ledger position,
-- trend of earlier runs, link to Genesys Cloud), JSON, frozen when the run is sealed.
ALTER TABLE runs ADD COLUMN report_context TEXT NOT NULL DEFAULT '';
-- Per finding, the particulars the reports show (agents, numbers, recordings' states and
-- deletion dates, when a pending verdict becomes final), JSON; not part of the ledger record.
ALTER TABLE findings ADD COLUMN particulars TEXT NOT NULL DEFAULT '';
