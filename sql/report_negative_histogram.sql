-- Cosine similarity of the mined negatives, binned per band, for `etl report`.
-- Grain: one row per (band, bin); bin b holds similarities in [b * $width, (b + 1) * $width).
SELECT
    band,
    CAST(floor(similarity / $width) AS BIGINT) AS bin,
    count(*) AS n
FROM negatives
GROUP BY ALL
ORDER BY bin, band
