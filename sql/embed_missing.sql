-- Terms without a vector for one model; grain: one row per term.
-- $model: the embedding model name.
WITH embedded AS (
    SELECT term_id
    FROM term_embeddings
    WHERE model = $model
)
SELECT t.term_id, t.text
FROM terms t
ANTI JOIN embedded e USING (term_id)
ORDER BY t.term_id
