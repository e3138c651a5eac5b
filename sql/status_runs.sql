-- The most recent runs, newest first; one row per run.
-- $1: how many runs to show.
SELECT
    run_id,
    step,
    status,
    strftime(started_at, '%Y-%m-%d %H:%M:%S') AS started,
    round(epoch(coalesce(finished_at, utc_now()) - started_at), 1) AS seconds,
    coalesce(error, CAST(counts AS VARCHAR)) AS counts
FROM runs
ORDER BY run_id DESC
LIMIT $1
