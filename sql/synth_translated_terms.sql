-- Planned terms that have a translation, in listing order; grain: one row per Korean term.
WITH planned AS (
    SELECT term, min(position) AS position
    FROM category_terms
    GROUP BY term
)
SELECT t.ko, t.en_primary, t.category
FROM translations t
JOIN planned p ON p.term = t.ko
ORDER BY p.position
