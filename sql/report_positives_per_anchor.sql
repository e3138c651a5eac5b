-- How many distinct positives each anchor with triplets has, for `etl report`.
-- Grain: one row per number of positives, with the count of anchors that have that many.
WITH per_anchor AS (
    SELECT anchor_id, count(DISTINCT positive_id) AS positives
    FROM triplets
    GROUP BY anchor_id
)
SELECT positives, count(*) AS anchors
FROM per_anchor
GROUP BY positives
ORDER BY positives
