-- The synthesis categories of Korean terms, as landed (texts not yet normalised).
-- Grain: one row per (text, category): a term listed under a category by `etl synth expand`, or
-- translated under it by `etl synth translate`. A term listed in two categories has both.
SELECT term AS raw, category FROM category_terms
UNION
SELECT ko AS raw, category FROM translations
