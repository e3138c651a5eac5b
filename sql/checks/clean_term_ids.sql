-- Terms whose id disagrees with the append-only registry, or ids/texts used twice; one row per problem.
WITH registry AS (
    SELECT t.term_id, t.text
    FROM terms t
    ANTI JOIN term_ids i ON i.term_id = t.term_id AND i.text = t.text
),
dup_ids AS (
    SELECT term_id, any_value(text) AS text FROM terms GROUP BY term_id HAVING count(*) > 1
),
dup_texts AS (
    SELECT min(term_id) AS term_id, text FROM terms GROUP BY text HAVING count(*) > 1
)
SELECT 'not_registered' AS problem, * FROM registry
UNION ALL
SELECT 'duplicate_id', * FROM dup_ids
UNION ALL
SELECT 'duplicate_text', * FROM dup_texts
