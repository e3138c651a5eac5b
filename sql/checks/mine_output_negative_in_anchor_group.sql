-- Triplets whose negative is in the anchor's own synonym group (a known synonym used as a negative);
-- grain: one row per such triplet.
SELECT t.anchor_id, t.positive_id, t.negative_id, t.group_id
FROM triplets t
JOIN synonym_groups g ON g.term_id = t.negative_id
WHERE g.group_id = t.group_id
