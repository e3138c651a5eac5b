-- Texts in `wanted_terms` that have an id but no row in `terms`; grain: one row per text.
SELECT i.term_id, i.text
FROM wanted_terms w
JOIN term_ids i USING (text)
ANTI JOIN terms t USING (text)
ORDER BY i.term_id
