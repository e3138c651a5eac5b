-- The warehouse state a mining shard depends on: one model's vectors, the terms, pairs and groups,
-- and the negatives the judge ruled out.
-- Grain: one row; each column an order-insensitive count and an order-sensitive hash of one input.
-- $model: the embedding model name.
WITH vecs AS (
    SELECT e.term_id, e.vec
    FROM term_embeddings e
    SEMI JOIN terms t USING (term_id)
    WHERE e.model = $model
)
SELECT
    (SELECT count(*) FROM vecs) AS vectors,
    (SELECT hash(list(hash(term_id, vec) ORDER BY term_id)) FROM vecs) AS vectors_digest,
    (SELECT count(*) FROM terms) AS terms,
    (SELECT hash(list(hash(term_id, norm) ORDER BY term_id)) FROM terms) AS terms_digest,
    (SELECT count(*) FROM synonym_pairs) AS pairs,
    (SELECT hash(list(hash(term_a, term_b) ORDER BY term_a, term_b)) FROM synonym_pairs) AS pairs_digest,
    (SELECT count(*) FROM synonym_groups) AS groups,
    (SELECT hash(list(hash(term_id, group_id) ORDER BY term_id)) FROM synonym_groups) AS groups_digest,
    (SELECT count(*) FROM negative_judgements WHERE trial = 0 AND verdict = 'same') AS judged_out,
    (
        SELECT hash(list(hash(anchor_id, negative_id) ORDER BY anchor_id, negative_id))
        FROM negative_judgements
        WHERE trial = 0 AND verdict = 'same'
    ) AS judged_out_digest
