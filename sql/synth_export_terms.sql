-- Translations in the order their terms were listed (the notebook's ko_en_terms.jsonl); grain: one row per Korean term.
WITH listed AS (
    SELECT term, min(position) AS position
    FROM category_terms
    GROUP BY term
)
SELECT t.ko, t.en_primary, t.en_alternatives, t.abbreviation, t.category
FROM translations t
LEFT JOIN listed l ON l.term = t.ko
ORDER BY l.position NULLS LAST, t.ko
