-- The terms of every synonym group of two or more terms, as the synonym file lists them.
-- Grain: one row per term of a group with 2+ terms. Within a group, Korean terms come first, then
-- mixed-script ones, then English, each by text, so a line reads 머신러닝, machine learning, ML.
WITH sizes AS (
    SELECT group_id, count(*) AS size
    FROM synonym_groups
    GROUP BY group_id
)
SELECT
    g.group_id,
    t.term_id,
    t.text,
    t.lang
FROM synonym_groups g
JOIN sizes s USING (group_id)
JOIN terms t USING (term_id)
WHERE s.size > 1
ORDER BY g.group_id, CASE t.lang WHEN 'ko' THEN 0 WHEN 'mixed' THEN 1 ELSE 2 END, t.text
