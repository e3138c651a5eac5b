-- Undirected pairs stored more than once (order is canonical, so A-B and B-A collide here).
SELECT least(term_a, term_b) AS lo, greatest(term_a, term_b) AS hi, count(*) AS copies
FROM synonym_pairs
GROUP BY ALL
HAVING count(*) > 1
