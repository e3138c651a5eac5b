-- `etl show synonym-pairs`: the clean synonym pairs as texts; grain: one row per undirected pair.
-- $random orders by a seeded hash of the pair ($seed), else by term ids.
SELECT
    a.text AS term_a,
    b.text AS term_b,
    p.similarity,
    p.kind,
    p.origins,
    count(*) OVER () AS total_rows
FROM synonym_pairs p
JOIN terms a ON a.term_id = p.term_a
JOIN terms b ON b.term_id = p.term_b
ORDER BY CASE WHEN $random THEN hash(p.term_a, p.term_b, $seed) END, p.term_a, p.term_b
LIMIT $n
