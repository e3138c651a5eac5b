-- The most recent runs of every step, newest first, for `etl report`.
-- Grain: one row per run; seconds is NULL for a run that never finished.
SELECT
    run_id,
    step,
    status,
    strftime(started_at, '%Y-%m-%d %H:%M:%S') AS started,
    date_diff('millisecond', started_at, finished_at) / 1000.0 AS seconds,
    error
FROM runs
ORDER BY run_id DESC
LIMIT $limit
