-- Vocabulary candidates: every landed vocabulary line, before cleaning; grain: one row per line.
SELECT text AS raw, 'import:' || file AS origin, run_id, file AS source, line
FROM imported_terms
