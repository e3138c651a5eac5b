-- `etl show translations`: synthesised terms with their alternatives; grain: one row per Korean term.
-- $category filters (NULL: all); $random orders by a seeded hash of the term ($seed), else listing order.
WITH listed AS (
    SELECT term, min(position) AS position
    FROM category_terms
    GROUP BY term
)
SELECT
    t.ko,
    t.en_primary,
    t.en_alternatives,
    t.abbreviation,
    t.category,
    count(*) OVER () AS total_rows
FROM translations t
LEFT JOIN listed l ON l.term = t.ko
WHERE $category IS NULL OR t.category = $category
ORDER BY CASE WHEN $random THEN hash(t.ko, $seed) END, l.position NULLS LAST, t.ko
LIMIT $n
