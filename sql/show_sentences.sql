-- `etl show sentences`: parallel sentences with their term; grain: one row per sentence pair.
-- $category filters (NULL: all); $random orders by a seeded hash of the pair ($seed), else as landed.
SELECT
    s.ko,
    s.en,
    s.term_ko,
    s.term_en,
    s.category,
    count(*) OVER () AS total_rows
FROM parallel_sentences s
WHERE $category IS NULL OR s.category = $category
ORDER BY CASE WHEN $random THEN hash(s.ko, s.en, $seed) END, s.rowid
LIMIT $n
