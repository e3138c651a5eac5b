-- Rule: no negative was judged to mean the same as its anchor (etl judge); mining leaves those out.
-- Grain: one row per offending (anchor_id, negative_id).
SELECT n.anchor_id, n.negative_id
FROM negatives n
SEMI JOIN negative_judgements j
    ON j.anchor_id = n.anchor_id AND j.negative_id = n.negative_id AND j.trial = 0 AND j.verdict = 'same'
