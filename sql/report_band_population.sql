-- Band sizes over the anchors of the last mine run, for `etl report`; grain: one row per band.
-- population: eligible vocabulary terms whose cosine lies in the band, per anchor (anchor_bands,
-- summed over the language pools of an anchor that mine_language mix mines from two).
WITH per_anchor AS (
    SELECT
        anchor_id,
        band,
        sum(population) AS population,
        bool_or(estimated) AS estimated,
        sum(quota) AS quota,
        sum(picked) AS picked
    FROM anchor_bands
    GROUP BY anchor_id, band
)

SELECT
    band,
    count(*) AS anchors,
    quantile_cont(population, 0.05) AS p5,
    quantile_cont(population, 0.25) AS p25,
    quantile_cont(population, 0.5) AS p50,
    quantile_cont(population, 0.75) AS p75,
    quantile_cont(population, 0.95) AS p95,
    avg(population) AS mean,
    count(*) FILTER (WHERE population = 0) AS empty,
    count(*) FILTER (WHERE population < quota) AS short,
    count(*) FILTER (WHERE estimated) AS estimated,
    sum(quota) AS quota,
    sum(picked) AS picked
FROM per_anchor
GROUP BY band
ORDER BY CASE band WHEN 'easy' THEN 1 WHEN 'medium' THEN 2 WHEN 'hard' THEN 3 ELSE 4 END
