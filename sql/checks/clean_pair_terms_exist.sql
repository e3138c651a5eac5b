-- Pair ends with no row in `terms`; grain: one row per missing (pair, side).
SELECT p.term_a, p.term_b, 'term_a' AS side
FROM synonym_pairs p ANTI JOIN terms t ON t.term_id = p.term_a
UNION ALL
SELECT p.term_a, p.term_b, 'term_b' AS side
FROM synonym_pairs p ANTI JOIN terms t ON t.term_id = p.term_b
