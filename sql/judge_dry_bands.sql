-- Bands that ran short of their quota for an anchor that lost members to the judge (the pick then
-- filled from the anchor's other bands). Grain: one row per band with such anchors.
WITH judged AS (
    SELECT DISTINCT anchor_id, band
    FROM negative_judgements
    WHERE trial = 0 AND verdict = 'same'
),
short AS (
    SELECT anchor_id, band
    FROM anchor_bands
    GROUP BY anchor_id, band
    HAVING sum(picked) < sum(quota)
)
SELECT band, count(*) AS anchors
FROM judged
SEMI JOIN short USING (anchor_id, band)
GROUP BY band
ORDER BY band
