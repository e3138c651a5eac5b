-- LLM calls by task and status, with latency and token percentiles (p50, p90, p99), for `etl report`.
-- Grain: one row per (task, status). A percentile over no values (no durations recorded) is NULL.
SELECT
    task,
    status,
    count(*) AS calls,
    sum(attempts) AS attempts,
    quantile_cont(duration_s, [0.5, 0.9, 0.99]) AS latency_s,
    quantile_cont(prompt_tokens, [0.5, 0.9, 0.99]) AS prompt_tokens,
    quantile_cont(completion_tokens, [0.5, 0.9, 0.99]) AS completion_tokens
FROM llm_calls
GROUP BY ALL
ORDER BY task, status
