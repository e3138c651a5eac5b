-- Land the vectors in `new_vectors` (term_id, vec) for one model, skipping terms that already have
-- one; grain: one row per (model, term_id). Returns the number of rows inserted.
-- $model, $dim, $run_id: the model name, its dimension, the landing run.
INSERT INTO term_embeddings (term_id, model, dim, vec, run_id)
WITH embedded AS (
    SELECT term_id
    FROM term_embeddings
    WHERE model = $model
)
SELECT n.term_id, $model, $dim, n.vec, $run_id
FROM new_vectors n
ANTI JOIN embedded e USING (term_id)
