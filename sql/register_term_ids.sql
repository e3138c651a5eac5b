-- Append ids for texts in `wanted_terms` that have none yet; grain: one row per new text.
-- New ids continue after the largest ever given, in text order, so they are deterministic.
INSERT INTO term_ids (term_id, text)
WITH fresh AS (
    SELECT w.text
    FROM wanted_terms w
    ANTI JOIN term_ids t USING (text)
)
SELECT
    (SELECT coalesce(max(term_id), 0) FROM term_ids) + row_number() OVER (ORDER BY text) AS term_id,
    text
FROM fresh
