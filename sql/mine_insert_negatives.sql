-- Land the negatives picked by `etl mine`; grain: one row per (anchor, negative).
-- Reads the registered frame `mined_negatives`; $run_id is the mine run.
INSERT INTO negatives (anchor_id, negative_id, similarity, band, run_id, filled, source)
SELECT
    anchor_id,
    negative_id,
    similarity,
    band,
    $run_id,
    filled,
    source
FROM mined_negatives
