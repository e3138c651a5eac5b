-- Parallel sentences grouped by term in listing order, each term's pairs as landed (the notebook's
-- ko_en_parallel.jsonl); grain: one row per sentence pair.
WITH listed AS (
    SELECT term, min(position) AS position
    FROM category_terms
    GROUP BY term
)
SELECT s.ko, s.en, s.term_ko, s.term_en, s.category
FROM parallel_sentences s
LEFT JOIN listed l ON l.term = s.term_ko
ORDER BY l.position NULLS LAST, s.term_ko, s.rowid
