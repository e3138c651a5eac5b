-- Land the refused parts of one LLM answer; grain: one row per refused answer or item.
-- $step, $call_hash, $source, $run_id; $rules, $reasons, $payloads: parallel lists.
INSERT INTO rejects (run_id, step, rule, reason, source, call_hash, payload)
SELECT
    $run_id,
    $step,
    unnest($rules),
    unnest($reasons),
    $source,
    $call_hash,
    unnest($payloads)
