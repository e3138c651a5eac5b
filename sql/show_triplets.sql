-- `etl show triplets`: (anchor, positive, negative) triplets with the negative's similarity and band;
-- grain: one row per triplet. $band filters on difficulty (NULL: all); $random orders by a seeded hash
-- of the triplet ($seed), else as landed.
SELECT
    t.anchor,
    t.positive,
    t.negative,
    t.negative_similarity,
    t.difficulty,
    t.split,
    count(*) OVER () AS total_rows
FROM triplets t
WHERE $band IS NULL OR t.difficulty = $band
ORDER BY CASE WHEN $random THEN hash(t.anchor_id, t.positive_id, t.negative_id, $seed) END, t.rowid
LIMIT $n
