-- Verdicts of record per band: judged, same, related, different, promoted; for one run ($run_id) or,
-- with $run_id NULL, all of them. Grain: one row per band that has a verdict.
SELECT
    band,
    count(*) AS judged,
    count(*) FILTER (WHERE verdict = 'same') AS same,
    count(*) FILTER (WHERE verdict = 'related') AS related,
    count(*) FILTER (WHERE verdict = 'different') AS different,
    count(*) FILTER (WHERE promoted) AS promoted
FROM negative_judgements
WHERE trial = 0 AND ($run_id IS NULL OR run_id = $run_id)
GROUP BY band
ORDER BY band
