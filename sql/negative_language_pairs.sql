-- Negatives per band and language pair (anchor's pool → negative's pool), for the export's stats and card
-- and for `etl report`; grain: one row per (band, pair). A term is in the ko pool when its text holds
-- Hangul ($hangul, etl/vocab.py's class), else in the en pool: the pools `etl mine` reports (etl/steps/mine/pools.py).
WITH pooled AS (
    SELECT
        term_id,
        CASE WHEN regexp_matches(text, $hangul) THEN 'ko' ELSE 'en' END AS pool
    FROM terms
)

SELECT
    n.band,
    a.pool || '→' || b.pool AS pair,
    count(*) AS negatives
FROM negatives AS n
INNER JOIN pooled AS a ON n.anchor_id = a.term_id
INNER JOIN pooled AS b ON n.negative_id = b.term_id
GROUP BY ALL
ORDER BY ALL
