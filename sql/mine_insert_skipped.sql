-- Record anchors that got no negative at all; grain: one rejects row per such anchor.
-- Reads the registered frame `mined_skipped` (anchor_id, positives, eligible); $run_id is the mine run.
INSERT INTO rejects (run_id, step, rule, reason, source, payload)
SELECT
    $run_id,
    'mine',
    'no_negative',
    'no eligible term has a cosine inside any band (after excluding the anchor''s group, equal spellings and the cap)',
    t.text,
    json_object('anchor_id', s.anchor_id, 'positives', s.positives, 'eligible', s.eligible)::VARCHAR
FROM mined_skipped s
JOIN terms t ON t.term_id = s.anchor_id
ORDER BY s.anchor_id
