-- The newest probe's figures for the triplets as they stand; grain: one row per (arm, pool, metric).
-- A probe counts only when it ran on the triplets' mine run ($mine_run_id) and their latest split:
-- the newest successful `etl split` after that mine run, or none (the mine run's own split).
WITH current_split AS (
    SELECT max(run_id) AS split_run_id
    FROM runs
    WHERE step = 'split' AND status = 'ok' AND run_id > $mine_run_id
),
latest AS (
    SELECT max(p.run_id) AS run_id
    FROM probe_results AS p, current_split AS s
    WHERE p.mine_run_id = $mine_run_id
      AND p.split_run_id IS NOT DISTINCT FROM s.split_run_id
)
SELECT p.run_id, r.params, r.counts, p.arm, p.pool, p.metric, p.value
FROM probe_results AS p
JOIN latest USING (run_id)
JOIN runs AS r USING (run_id)
ORDER BY p.arm, p.pool, p.metric
