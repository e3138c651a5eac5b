-- Each distinct planned Korean term with the first category that lists it; grain: one row per term.
WITH listed AS (
    SELECT term, category, position
    FROM category_terms
),
first_listing AS (
    SELECT term, category, position
    FROM listed
    QUALIFY row_number() OVER (PARTITION BY term ORDER BY position) = 1
)
SELECT term, category
FROM first_listing
ORDER BY position
