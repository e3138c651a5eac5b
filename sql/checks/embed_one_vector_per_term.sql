-- Rule: a term has at most one vector per model; grain: one row per duplicated (model, term_id).
SELECT model, term_id, count(*) AS copies
FROM term_embeddings
GROUP BY model, term_id
HAVING count(*) > 1
