-- Rule: a term is listed once per category.
-- Grain: one row per (category, term) listed more than once.
SELECT category, term, count(*) AS copies
FROM category_terms
GROUP BY category, term
HAVING count(*) > 1
