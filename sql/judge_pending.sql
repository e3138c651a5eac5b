-- The mined negatives the judge still has to ask about: in the judged bands, with no verdict of
-- record (trial 0) and, unless $retry_rejects, no refused answer. Grain: one row per (anchor_id, negative_id).
-- $bands: the judged bands; $retry_rejects: ask again about pairs whose answer was refused.
WITH refused AS (
    SELECT DISTINCT source
    FROM rejects
    WHERE step = 'judge'
)
SELECT n.anchor_id, n.negative_id, n.band, n.similarity
FROM negatives n
JOIN terms a ON a.term_id = n.anchor_id
JOIN terms t ON t.term_id = n.negative_id
WHERE n.band IN (SELECT unnest($bands::VARCHAR[]))
  AND NOT EXISTS (
      SELECT 1
      FROM negative_judgements j
      WHERE j.anchor_id = n.anchor_id AND j.negative_id = n.negative_id AND j.trial = 0
  )
  AND ($retry_rejects OR (a.text || ' → ' || t.text) NOT IN (SELECT source FROM refused))
ORDER BY n.anchor_id, n.negative_id
