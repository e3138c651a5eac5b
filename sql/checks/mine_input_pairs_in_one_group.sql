-- Synonym pairs whose two terms are not in one synonym group (or have no group at all);
-- grain: one row per such pair. Mining excludes whole groups and the split keeps groups whole,
-- so a pair across groups would let a synonym become a negative or leak across the split.
WITH pair_groups AS (
    SELECT
        p.term_a,
        p.term_b,
        ga.group_id AS group_a,
        gb.group_id AS group_b
    FROM synonym_pairs p
    LEFT JOIN synonym_groups ga ON ga.term_id = p.term_a
    LEFT JOIN synonym_groups gb ON gb.term_id = p.term_b
)
SELECT term_a, term_b, group_a, group_b
FROM pair_groups
WHERE group_a IS NULL OR group_b IS NULL OR group_a <> group_b
