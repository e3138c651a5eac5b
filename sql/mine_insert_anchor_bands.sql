-- Land each anchor's band sizes from `etl mine`; grain: one row per (anchor, band, language pool).
-- Reads the registered frame `mined_anchor_bands`; $run_id is the mine run.
INSERT INTO anchor_bands (anchor_id, band, pool, population, estimated, quota, picked, run_id)
SELECT
    anchor_id,
    band,
    pool,
    population,
    estimated,
    quota,
    picked,
    $run_id
FROM mined_anchor_bands
