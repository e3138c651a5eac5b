-- Synonym pairs that pair a term with itself or break the canonical order term_a < term_b.
SELECT term_a, term_b
FROM synonym_pairs
WHERE term_a >= term_b
