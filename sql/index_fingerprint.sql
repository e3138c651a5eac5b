-- What an index over one model's vectors would hold: the vectors of terms currently in `terms`.
-- Grain: one row (count, dimension, and an order-sensitive hash of every (term_id, vec)).
-- $model: the embedding model name.
WITH indexed AS (
    SELECT e.term_id, e.dim, e.vec
    FROM term_embeddings e
    SEMI JOIN terms t USING (term_id)
    WHERE e.model = $model
),
row_hashes AS (
    SELECT term_id, dim, hash(term_id, vec) AS h
    FROM indexed
)
SELECT
    count(*) AS count,
    coalesce(max(dim), 0) AS dim,
    hash(list(h ORDER BY term_id)) AS digest
FROM row_hashes
