-- Rule: vectors are L2-normalised on landing; grain: one row per vector whose norm is not 1.
SELECT model, term_id, sqrt(list_dot_product(vec, vec)) AS norm
FROM term_embeddings
WHERE abs(list_dot_product(vec, vec) - 1.0) > 1e-3
