-- Record one finished LLM call (its answer verbatim, before any parsing); grain: one row per call.
INSERT INTO llm_calls (
    call_hash, task, api, model, url, request, response, thinking, done_reason,
    prompt_tokens, completion_tokens, duration_s, attempts, status, error, run_id
)
VALUES (
    $call_hash, $task, $api, $model, $url, $request, $response, $thinking, $done_reason,
    $prompt_tokens, $completion_tokens, $duration_s, $attempts, $status, $error, $run_id
)
