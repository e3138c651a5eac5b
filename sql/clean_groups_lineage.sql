-- The rebuilt synonym groups with their lineage; grain: one row per term.
-- A term whose group is unchanged keeps its run_id; a new or moved term carries $run_id.
SELECT
    n.term_id,
    n.group_id,
    coalesce(o.run_id, $run_id) AS run_id
FROM clean_new_groups n
LEFT JOIN synonym_groups o
    ON  o.term_id = n.term_id
    AND o.group_id = n.group_id
