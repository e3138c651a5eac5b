-- Rule: a run records each LLM request at most once (a resumed run repeats no finished call).
-- Grain: one row per (call_hash, run_id) recorded more than once.
SELECT call_hash, run_id, count(*) AS copies
FROM llm_calls
GROUP BY call_hash, run_id
HAVING count(*) > 1
