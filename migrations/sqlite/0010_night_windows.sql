-- The nightly job's journal (`recaudit run`): every window a run set out to audit, and whether
-- it got there. A window whose run failed (the API was down, the evidence incomplete, the
-- process killed) stays open, so the next run audits it too instead of leaving a night
-- unaudited because the job moved on to the next one. Windows are UTC instants; the time zone
-- they were cut in is kept for the operator's eyes only.
CREATE TABLE night_windows (
    window_start  TEXT NOT NULL,
    window_end    TEXT NOT NULL,
    time_zone     TEXT NOT NULL,
    first_started TEXT NOT NULL,
    last_started  TEXT NOT NULL,
    -- When a run last sealed this window or confirmed its verdicts; NULL while open.
    done          TEXT,
    PRIMARY KEY (window_start, window_end)
);

-- The newest run over a window: what `run` compares a new evaluation with; the windows of
-- the lookback, and the runs among them with a pending finding: what `run` revisits. Without
-- them each run would read every run and finding ever sealed.
CREATE INDEX runs_by_window ON runs (window_start, window_end, seq);
CREATE INDEX runs_by_window_end ON runs (window_end);
CREATE INDEX findings_pending ON findings (run_id) WHERE status = 'pending';
