-- Synthesis per category: seed and expanded terms, terms translated, parallel sentences; grain: one row
-- per category, in listing order. A term listed in two categories counts in both.
WITH listed AS (
    SELECT category, term, min(position) AS position, bool_or(origin = 'seed') AS seed
    FROM category_terms
    GROUP BY category, term
),
sentences AS (
    SELECT term_ko, count(*) AS n
    FROM parallel_sentences
    GROUP BY term_ko
)
SELECT
    l.category,
    count(*) FILTER (WHERE l.seed) AS seeds,
    count(*) FILTER (WHERE NOT l.seed) AS expanded,
    count(t.ko) AS translated,
    coalesce(sum(s.n), 0)::BIGINT AS sentences
FROM listed l
LEFT JOIN translations t ON t.ko = l.term
LEFT JOIN sentences s ON s.term_ko = l.term
GROUP BY l.category
ORDER BY min(l.position), l.category
