-- Land the refused parts of LLM answers; grain: one row per refused answer or item.
-- $run_id, $step: shared; $call_hashes, $sources, $rules, $reasons, $payloads: one item per row.
INSERT INTO rejects (run_id, step, rule, reason, source, call_hash, payload)
SELECT
    $run_id,
    $step,
    unnest($rules::VARCHAR[]),
    unnest($reasons::VARCHAR[]),
    unnest($sources::VARCHAR[]),
    unnest($call_hashes::VARCHAR[]),
    unnest($payloads::VARCHAR[])
