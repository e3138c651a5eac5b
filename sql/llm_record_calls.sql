-- Record finished LLM calls (answers verbatim, before any parsing); grain: one row per call.
-- $api, $model, $run_id: shared by every call; every other parameter is a list, one item per call.
INSERT INTO llm_calls (
    call_hash, task, api, model, url, request, response, thinking, done_reason,
    prompt_tokens, completion_tokens, duration_s, attempts, status, error, run_id
)
SELECT
    unnest($call_hash::VARCHAR[]),
    unnest($task::VARCHAR[]),
    $api,
    $model,
    unnest($url::VARCHAR[]),
    unnest($request::VARCHAR[]),
    unnest($response::VARCHAR[]),
    unnest($thinking::VARCHAR[]),
    unnest($done_reason::VARCHAR[]),
    unnest($prompt_tokens::INTEGER[]),
    unnest($completion_tokens::INTEGER[]),
    unnest($duration_s::DOUBLE[]),
    unnest($attempts::INTEGER[]),
    unnest($status::VARCHAR[]),
    unnest($error::VARCHAR[]),
    $run_id
