-- Rule: every vector of a model has the model's one dimension; grain: one row per broken vector.
WITH dims AS (
    SELECT model, min(dim) AS dim, count(DISTINCT dim) AS dims
    FROM term_embeddings
    GROUP BY model
)
SELECT e.model, e.term_id, e.dim, len(e.vec) AS values
FROM term_embeddings e
JOIN dims d USING (model)
WHERE d.dims > 1 OR len(e.vec) <> e.dim
