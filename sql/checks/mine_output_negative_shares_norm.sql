-- Triplets whose negative has the same normalised text as the anchor or the positive;
-- grain: one row per such triplet.
WITH norms AS (
    SELECT
        t.anchor_id,
        t.positive_id,
        t.negative_id,
        a.norm AS anchor_norm,
        p.norm AS positive_norm,
        n.norm AS negative_norm
    FROM triplets t
    JOIN terms a ON a.term_id = t.anchor_id
    JOIN terms p ON p.term_id = t.positive_id
    JOIN terms n ON n.term_id = t.negative_id
)
SELECT anchor_id, positive_id, negative_id, negative_norm
FROM norms
WHERE negative_norm = anchor_norm OR negative_norm = positive_norm
