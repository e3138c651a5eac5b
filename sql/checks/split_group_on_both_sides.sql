-- Synonym groups, and terms used as anchor or positive, with triplets in both train and validation;
-- grain: one row per leaking (kind, id). Applies to the default split by group.
WITH sides AS (
    SELECT 'group' AS kind, group_id AS id, split FROM triplets
    UNION ALL
    SELECT 'term', anchor_id, split FROM triplets
    UNION ALL
    SELECT 'term', positive_id, split FROM triplets
)
SELECT kind, id
FROM sides
GROUP BY kind, id
HAVING count(DISTINCT split) > 1
