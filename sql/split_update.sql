-- Rewrite the split of every triplet; grain: one triplets row per (anchor, positive, negative).
-- Reads the registered frame `new_split` (anchor_id, positive_id, negative_id, split).
UPDATE triplets
SET split = s.split
FROM new_split s
WHERE triplets.anchor_id = s.anchor_id
  AND triplets.positive_id = s.positive_id
  AND triplets.negative_id = s.negative_id
