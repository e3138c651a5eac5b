-- The rebuilt synonym pairs with their lineage; grain: one row per undirected pair (term_a < term_b).
-- A pair identical to the stored one keeps its run_id, so rerunning clean on the same input
-- changes nothing; a new or changed pair carries this clean run's id ($run_id).
SELECT
    n.term_a,
    n.term_b,
    n.similarity,
    n.origins,
    n.run_ids,
    n.kind,
    coalesce(o.run_id, $run_id) AS run_id
FROM clean_new_pairs n
LEFT JOIN synonym_pairs o
    ON  o.term_a = n.term_a
    AND o.term_b = n.term_b
    AND o.kind = n.kind
    AND o.similarity IS NOT DISTINCT FROM n.similarity
    AND o.origins = n.origins
    AND o.run_ids = n.run_ids
