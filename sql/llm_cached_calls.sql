-- The newest successful answer for each wanted request hash; grain: one row per call_hash.
-- $hashes: the request hashes a step is about to send.
WITH wanted AS (
    SELECT DISTINCT unnest($hashes) AS call_hash
),
answered AS (
    SELECT c.call_hash, c.response, c.run_id, c.created_at
    FROM llm_calls c
    SEMI JOIN wanted w USING (call_hash)
    WHERE c.status = 'ok'
)
SELECT call_hash, response
FROM answered
QUALIFY row_number() OVER (PARTITION BY call_hash ORDER BY run_id DESC, created_at DESC) = 1
