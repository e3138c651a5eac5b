-- `etl show training-pairs`: the translations the training pairs are made of (one Korean term, all its
-- English forms); grain: one row per Korean term. Same filter and order as show_translations.sql.
WITH listed AS (
    SELECT term, min(position) AS position
    FROM category_terms
    GROUP BY term
)
SELECT
    t.ko AS ko_term,
    [t.en_primary] || t.en_alternatives || [t.abbreviation] AS en_terms,
    t.category,
    count(*) OVER () AS total_rows
FROM translations t
LEFT JOIN listed l ON l.term = t.ko
WHERE $category IS NULL OR t.category = $category
ORDER BY CASE WHEN $random THEN hash(t.ko, $seed) END, l.position NULLS LAST, t.ko
LIMIT $n
