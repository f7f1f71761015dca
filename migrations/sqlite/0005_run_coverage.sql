-- What evidence covered a run's window (JSON, docs/ARCHITECTURE.md "Evidence coverage"), and
-- whether the run was sealed partial on request. Rendered into the run's reports, so the
-- manifest hash in the run record commits to it. Runs before this migration have ''.
ALTER TABLE runs ADD COLUMN coverage TEXT NOT NULL DEFAULT '';
