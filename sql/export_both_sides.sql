-- How many anchors and how many synonym groups have triplets in both splits; grain: one row.
WITH anchors_both AS (
    SELECT anchor_id
    FROM triplets
    GROUP BY anchor_id
    HAVING count(DISTINCT split) > 1
),
groups_both AS (
    SELECT group_id
    FROM triplets
    GROUP BY group_id
    HAVING count(DISTINCT split) > 1
)
SELECT
    (SELECT count(*) FROM anchors_both) AS anchors_on_both_sides,
    (SELECT count(*) FROM groups_both) AS groups_on_both_sides
