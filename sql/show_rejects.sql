-- `etl show rejects`: refused input with the rule it broke; grain: one row per refusal.
-- $random orders by a seeded hash of the row ($seed), else in the order they were refused.
SELECT
    r.step,
    r.rule,
    r.reason,
    r.source,
    r.line,
    r.payload,
    count(*) OVER () AS total_rows
FROM rejects r
ORDER BY CASE WHEN $random THEN hash(r.reject_id, $seed) END, r.reject_id
LIMIT $n
