-- The models whose answers the exported translations and sentences came from; grain: one row per model.
WITH used AS (
    SELECT call_hash FROM translations
    UNION
    SELECT call_hash FROM parallel_sentences
)
SELECT DISTINCT c.model
FROM llm_calls c
SEMI JOIN used u USING (call_hash)
WHERE c.status = 'ok'
ORDER BY c.model
