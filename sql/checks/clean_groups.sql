-- Group problems; one row per offending term or pair:
-- a term without exactly one group, a group row for an unknown term, a group_id that is not the
-- smallest term_id of its members, or a pair whose two terms sit in different groups.
WITH per_term AS (
    SELECT t.term_id, count(g.term_id) AS groups
    FROM terms t LEFT JOIN synonym_groups g USING (term_id)
    GROUP BY t.term_id
),
smallest AS (
    SELECT group_id, min(term_id) AS low FROM synonym_groups GROUP BY group_id
)
SELECT 'not_one_group' AS problem, term_id, NULL AS other FROM per_term WHERE groups <> 1
UNION ALL
SELECT 'unknown_term', g.term_id, g.group_id FROM synonym_groups g ANTI JOIN terms t USING (term_id)
UNION ALL
SELECT 'group_id_not_smallest', group_id, low FROM smallest WHERE group_id <> low
UNION ALL
SELECT 'pair_split', p.term_a, p.term_b
FROM synonym_pairs p
JOIN synonym_groups ga ON ga.term_id = p.term_a
JOIN synonym_groups gb ON gb.term_id = p.term_b
WHERE ga.group_id <> gb.group_id
