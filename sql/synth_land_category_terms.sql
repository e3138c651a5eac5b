-- Land the planned terms (seeds, then expansions) of every category; grain: one row per (category, term).
-- $run_id; $categories, $terms, $origins, $call_hashes, $positions: parallel lists.
INSERT INTO category_terms (category, term, origin, call_hash, run_id, position)
SELECT
    unnest($categories),
    unnest($terms),
    unnest($origins),
    unnest($call_hashes),
    $run_id,
    unnest($positions)
