-- `etl show terms`: the synthesis plan with each term's translation; grain: one row per (category, term).
-- $category filters (NULL: all); $random orders by a seeded hash of the row ($seed), else listing order.
SELECT
    c.category,
    c.term,
    c.origin,
    t.en_primary,
    t.en_alternatives,
    t.abbreviation,
    count(*) OVER () AS total_rows
FROM category_terms c
LEFT JOIN translations t ON t.ko = c.term
WHERE $category IS NULL OR c.category = $category
ORDER BY CASE WHEN $random THEN hash(c.position, c.term, $seed) END, c.position, c.rowid
LIMIT $n
