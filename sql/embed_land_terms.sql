-- Land the imported terms that `terms` does not know yet, so `etl clean` keeps them; grain: one
-- row per term list entry. `import_terms` holds (text: normalised, raw: as written, line).
-- $file, $run_id: the term list path and the landing run.
INSERT INTO imported_terms (text, file, line, run_id)
SELECT i.raw, $file, i.line, $run_id
FROM import_terms i
ANTI JOIN terms t USING (text)
ORDER BY i.line
