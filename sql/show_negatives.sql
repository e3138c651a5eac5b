-- `etl show negatives`: mined negatives with their band; grain: one row per (anchor, negative).
-- $band filters (NULL: all); $random orders by a seeded hash of the pair ($seed), else by anchor, then
-- most similar first.
SELECT
    a.text AS anchor,
    n.text AS negative,
    g.similarity,
    g.band,
    g.filled,
    g.source,
    count(*) OVER () AS total_rows
FROM negatives g
JOIN terms a ON a.term_id = g.anchor_id
JOIN terms n ON n.term_id = g.negative_id
WHERE $band IS NULL OR g.band = $band
ORDER BY CASE WHEN $random THEN hash(g.anchor_id, g.negative_id, $seed) END, g.anchor_id, g.similarity DESC
LIMIT $n
