-- Land the mined triplets with the texts of their terms; grain: one row per (anchor, positive, negative).
-- Reads the registered frame `mined_triplets` (ids, similarity, difficulty, group, split); $run_id is the mine run.
INSERT INTO triplets (
    anchor, positive, negative, negative_similarity, difficulty, group_id, split,
    anchor_id, positive_id, negative_id, run_id
)
SELECT
    a.text,
    p.text,
    n.text,
    m.negative_similarity,
    m.difficulty,
    m.group_id,
    m.split,
    m.anchor_id,
    m.positive_id,
    m.negative_id,
    $run_id
FROM mined_triplets m
JOIN terms a ON a.term_id = m.anchor_id
JOIN terms p ON p.term_id = m.positive_id
JOIN terms n ON n.term_id = m.negative_id
