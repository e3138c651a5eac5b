-- Triplets per difficulty band, overall and per split, for `etl report`.
-- Grain: one row per (split, difficulty); split 'all' holds the totals over both splits.
SELECT
    coalesce(split, 'all') AS split,
    difficulty,
    count(*) AS n
FROM triplets
GROUP BY GROUPING SETS ((split, difficulty), (difficulty))
ORDER BY split, difficulty
