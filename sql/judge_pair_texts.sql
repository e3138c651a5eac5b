-- The texts the judge prompt shows for the pairs staged as `judge_keys` (anchor_id, negative_id,
-- band, similarity): both terms, and the anchor's synonyms (its synonym-pair partners, by term_id).
-- Grain: one row per staged pair, in anchor_id, negative_id order; pairs whose terms left `terms` drop out.
WITH partners AS (
    SELECT term_a AS term_id, term_b AS partner FROM synonym_pairs
    UNION ALL
    SELECT term_b, term_a FROM synonym_pairs
),
synonyms AS (
    SELECT p.term_id, list(s.text ORDER BY s.term_id) AS synonyms
    FROM partners p
    JOIN terms s ON s.term_id = p.partner
    WHERE p.term_id IN (SELECT anchor_id FROM judge_keys)
    GROUP BY p.term_id
)
SELECT
    k.anchor_id,
    k.negative_id,
    a.text AS anchor,
    t.text AS negative,
    coalesce(s.synonyms, []::VARCHAR[]) AS synonyms,
    k.band,
    k.similarity
FROM judge_keys k
JOIN terms a ON a.term_id = k.anchor_id
JOIN terms t ON t.term_id = k.negative_id
LEFT JOIN synonyms s ON s.term_id = k.anchor_id
ORDER BY k.anchor_id, k.negative_id
